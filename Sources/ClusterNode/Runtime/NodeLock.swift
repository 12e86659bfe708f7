import ClusterKit
import Glibc

/// One daemon per root: an exclusive `flock` on `<root>/var/run/clustertools.pid`, whatever the
/// role, taken before the node creates or binds anything (socket, store, log). The file holds
/// the holder's pid and tool name; the lock, not the file, is what counts, so a file left by a
/// crash does not block. The descriptor is close-on-exec and held for the life of the process.
public final class NodeLock: Sendable {
    public static let relativePath = "var/run/clustertools.pid"
    public let path: String
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Takes the lock for `tool` (cl-master, cl-worker), or fails with exit 75 naming the
    /// daemon that holds it.
    public static func acquire(root: String, tool: String) throws -> NodeLock {
        let dir = FileIO.parentDirectory(of: SafePath.join(root, relativePath))
        do { try FileIO.makeDirectories(dir, mode: 0o750) } catch let e as ClusterError {
            throw ClusterError.refused("cannot create \(dir): \(e.message)")
        }
        let path = SafePath.join(root, relativePath)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let err = errno
            let why = "cannot open the pid file \(path): \(errnoDescription(err))"
            throw [EACCES, EPERM, EROFS].contains(err) ? ClusterError.refused(why) : ClusterError.io(why)
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            let holder = (try? FileIO.read(fd, upTo: 256, name: path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            close(fd)
            guard err == EWOULDBLOCK else {
                throw ClusterError.io("cannot lock the pid file \(path): \(errnoDescription(err))")
            }
            let fields = holder.split(separator: "\n")
            let pid = fields.first.flatMap { Int32($0) }
            let name = fields.dropFirst().first.map(String.init).flatMap { $0.hasPrefix("cl-") ? $0 : nil } ?? "a clustertools daemon"
            throw ClusterError.timeout("\(name) is already running for \(root) (pid \(pid.map(String.init) ?? "unknown"))", code: 0)
        }
        let content = Array("\(getpid())\n\(tool)\n".utf8)
        if ftruncate(fd, 0) != 0 || pwrite(fd, content, content.count, 0) != content.count {
            let err = errno
            close(fd)
            throw ClusterError.io("cannot write the pid file \(path): \(errnoDescription(err))")
        }
        return NodeLock(path: path, fd: fd)
    }

    /// Empties the pid file and lets go of the lock (at a clean stop; a crash lets go too).
    public func release() {
        _ = ftruncate(fd, 0)
        close(fd)
    }
}
