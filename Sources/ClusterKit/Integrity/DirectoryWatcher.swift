#if os(Linux)
import CStatfs
import Glibc

/// Linux inotify, for directories: one non-blocking inotify descriptor, watches added on open
/// directory descriptors, and the queued events read without waiting.
///
/// It only reports; `ChangeTracker` decides what the events mean for the next scan.
final class DirectoryWatcher {
    static let inCreate = UInt32(IN_CREATE), inDelete = UInt32(IN_DELETE)
    static let inMovedFrom = UInt32(IN_MOVED_FROM), inMovedTo = UInt32(IN_MOVED_TO)
    static let inModify = UInt32(IN_MODIFY), inAttrib = UInt32(IN_ATTRIB), inCloseWrite = UInt32(IN_CLOSE_WRITE)
    static let inDeleteSelf = UInt32(IN_DELETE_SELF), inMoveSelf = UInt32(IN_MOVE_SELF)
    static let inUnmount = UInt32(IN_UNMOUNT), inIgnored = UInt32(IN_IGNORED)
    static let inOverflow = UInt32(IN_Q_OVERFLOW), inIsDir = UInt32(IN_ISDIR), inOnlyDir = UInt32(IN_ONLYDIR)

    /// Everything that can change what a scan of the directory finds: its entries, their
    /// content and their stamps (a `chmod` or `touch` changes the ctime or the mtime), and the
    /// directory itself going away.
    static let mask: UInt32 = inCreate | inDelete | inMovedFrom | inMovedTo | inModify | inAttrib | inCloseWrite
        | inDeleteSelf | inMoveSelf | inOnlyDir

    let fd: Int32
    /// Watches this watcher may add before it reports `noWatchesLeft` (tests; the kernel's own
    /// limit applies anyway).
    var watchLimit = Int.max
    /// The watches in place.
    private(set) var active = Set<Int32>()
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    init() throws {
        fd = inotify_init1(Int32(IN_NONBLOCK) | Int32(IN_CLOEXEC))
        guard fd >= 0 else {
            throw ClusterError.io("inotify_init1: \(errnoDescription(errno))")
        }
    }

    deinit { close(fd) }

    /// Watches the directory open as `directoryFD` (through `/proc/self/fd`, so the watch is on
    /// exactly the directory that is read, not on whatever its path names a moment later).
    /// Watching a directory already watched returns its existing watch.
    func watch(directoryFD: Int32) -> Result<Int32, WatchFailure> {
        let wd = inotify_add_watch(fd, "/proc/self/fd/\(directoryFD)", DirectoryWatcher.mask)
        guard wd >= 0 else {
            let err = errno
            return .failure(err == ENOSPC ? .noWatchesLeft : .failed(err))
        }
        if !active.contains(wd) {
            guard active.count < watchLimit else {
                inotify_rm_watch(fd, wd)
                return .failure(.noWatchesLeft)
            }
            active.insert(wd)
        }
        return .success(wd)
    }

    /// Stops watching (its `IN_IGNORED` event follows).
    func unwatch(_ wd: Int32) {
        active.remove(wd)
        inotify_rm_watch(fd, wd)
    }

    /// Every event queued now, without waiting.
    func drain() -> [Event] {
        var events = [Event]()
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                break   // EAGAIN: the queue is empty
            }
            if n == 0 { break }
            buffer.withUnsafeBytes { raw in
                var off = 0
                // struct inotify_event { int wd; uint32_t mask; uint32_t cookie; uint32_t len; char name[len]; }
                while off + 16 <= n {
                    let wd = raw.loadUnaligned(fromByteOffset: off, as: Int32.self)
                    let mask = raw.loadUnaligned(fromByteOffset: off + 4, as: UInt32.self)
                    let len = Int(raw.loadUnaligned(fromByteOffset: off + 12, as: UInt32.self))
                    let nameBytes = UnsafeRawBufferPointer(rebasing: raw[(off + 16)..<min(n, off + 16 + len)])
                    let name = Array(nameBytes.prefix { $0 != 0 })
                    events.append(Event(watch: wd, mask: mask, name: name))
                    if mask & DirectoryWatcher.inIgnored != 0 { active.remove(wd) }
                    off += 16 + len
                }
            }
        }
        return events
    }

    /// File systems whose inotify events miss changes made by other machines (network and FUSE
    /// file systems), by `statfs` magic number.
    static let remoteFileSystems: [UInt32: String] = [
        0x6969: "nfs", 0x517B: "smb", 0xFF53_4D42: "cifs", 0xFE53_4D42: "smb2", 0x6573_5546: "fuse",
        0x0102_1997: "9p", 0x00C3_6400: "ceph", 0x7375_7245: "coda", 0x5346_414F: "afs", 0x6B41_4653: "afs",
        0x0116_1970: "gfs2", 0x7461_636F: "ocfs2", 0x0BD0_0BD0: "lustre", 0x0B0B_0B0B: "lustre",
    ]

    /// The name of the remote file system the directory is on, or nil when it is local (its
    /// events can be trusted).
    static func remoteFileSystem(of directoryFD: Int32) -> String? {
        var s = statfs()
        guard fstatfs(directoryFD, &s) == 0 else { return nil }
        return remoteFileSystems[UInt32(truncatingIfNeeded: s.f_type)]
    }
}
#else
/// inotify is Linux's: elsewhere nothing is watched and every scan is a full walk.
final class DirectoryWatcher {
    static let inCreate: UInt32 = 0x100, inDelete: UInt32 = 0x200, inMovedFrom: UInt32 = 0x40, inMovedTo: UInt32 = 0x80
    static let inDeleteSelf: UInt32 = 0x400, inMoveSelf: UInt32 = 0x800, inUnmount: UInt32 = 0x2000
    static let inIgnored: UInt32 = 0x8000, inOverflow: UInt32 = 0x4000, inIsDir: UInt32 = 0x4000_0000
    var watchLimit = Int.max
    init() throws { throw ClusterError.io("inotify is not available on this system") }
    func watch(directoryFD: Int32) -> Result<Int32, WatchFailure> { .failure(.noWatchesLeft) }
    func unwatch(_ wd: Int32) {}
    func drain() -> [Event] { [] }
    static func remoteFileSystem(of directoryFD: Int32) -> String? { nil }
}
#endif

extension DirectoryWatcher {
    /// One inotify event: the watch it came from, what happened, and the entry's name when the
    /// event is about an entry of the watched directory (empty when about the directory itself).
    struct Event: Equatable {
        var watch: Int32
        var mask: UInt32
        var name: [UInt8]

        func has(_ bits: UInt32) -> Bool { mask & bits != 0 }
    }

    /// Why a directory could not be watched.
    enum WatchFailure: Error, Equatable {
        /// The user's inotify watches are used up (`fs.inotify.max_user_watches`): nothing more
        /// can be watched.
        case noWatchesLeft
        /// This directory only (gone meanwhile, or refused).
        case failed(Int32)
    }
}
