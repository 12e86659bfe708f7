#if canImport(Glibc)
import Glibc
#endif

/// Where a container's entries wait until the whole container has verified: one private
/// directory (mode 0700, made with `mkdtemp`) with a numbered subdirectory for each destination
/// directory, in which each entry is a file under its own name (`<staging>/<n>/<name>`). Nothing
/// in the target tree is touched while entries arrive, so a corrupt or truncated container
/// leaves no trace once the directory is removed. Nothing is held per entry: the staged file of
/// a path is found from its directory's number.
///
/// With more than one thread, whole entries of up to `inlineAbove` bytes are gathered by
/// destination directory into batches that `StagingWriters` create and write on `threads`
/// threads; larger entries are written by the caller as they are inflated. With one thread the
/// caller writes every entry itself. Either way an entry is only handed over once its zlib
/// stream has ended and verified.
///
/// In discard mode (dry runs) nothing is written at all.
///
/// A staging directory left by an apply that died (kill -9, power loss) is removed by the next
/// apply in the same parent and by the worker daemon at start (`removeStale`). The live apply
/// holds an exclusive `flock(2)` on its staging directory from the moment it has its final name
/// until it is removed; the lock dies with the process, so a directory whose lock can be taken
/// is provably abandoned. The directory is made under a transient name (`newPrefix`), locked,
/// then renamed, so no live staging directory is ever seen unlocked under its final name.
final class StagingArea: ContainerEntryConsumer {
    /// The names of staging directories in their parent: `<prefix><six random characters>`.
    static let prefix = ".cl-integrity-staging-"
    /// The name a staging directory has between `mkdtemp` and its lock.
    static let newPrefix = ".cl-integrity-new-"
    /// A transient directory older than this is an abandoned one (a live one is renamed within
    /// microseconds).
    static let newGrace: Double = 60

    struct Options: Sendable {
        var threads = 1
        /// `fsync(2)` each staged file before it is closed.
        var syncEachFile = false
        /// Entries larger than this are written by the caller, not buffered for the writers.
        var inlineAbove = 1 << 20
        /// A batch is handed over when it holds this many entries or bytes (or the next entry
        /// goes to another directory).
        var batchEntries = 256
        var batchBytes = 1 << 20
        var writers = StagingWriters.Limits()
    }

    let directory: String?
    private let options: Options
    private let writers: StagingWriters?
    /// Destination directory (relative; "" for the root) → its staging subdirectory's number.
    private var directories: [String: Int] = [:]
    private var batch: StagingWriters.Batch?
    private var batchNumber = -1
    // The entry being received:
    private var currentPath = ""
    private var currentName = ""
    private var currentNumber = -1
    private var currentDirectory = ""
    private var buffer: [UInt8] = []
    private var fd: Int32 = -1
    // The staging directory `openStaged` left open:
    private var openNumber = -1
    private var openFD: Int32 = -1
    /// The staging directory, open and locked (`flock`) while it exists.
    private var lockFD: Int32 = -1

    /// Makes the staging directory inside `parent` (which must exist), or nothing when `discard`.
    init(parent: String, discard: Bool, options: Options = Options()) throws {
        self.options = options
        if discard {
            directory = nil
            writers = nil
            return
        }
        var template = Array(SafePath.join(parent, StagingArea.newPrefix + "XXXXXX").utf8CString)
        let made: String? = template.withUnsafeMutableBufferPointer { buf in
            guard let p = mkdtemp(buf.baseAddress!) else { return nil }
            return String(cString: p)
        }
        guard let made else {
            throw ClusterError.io("cannot create a staging directory in \(parent): \(errnoDescription(errno))")
        }
        let final = SafePath.join(parent, StagingArea.prefix + String(made.utf8.suffix(6))!)
        let fd = open(made, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        // Blocking: a sweep may hold the lock for a moment (it leaves a fresh directory alone).
        guard fd >= 0, flock(fd, LOCK_EX) == 0, rename(made, final) == 0 else {
            let err = errno
            if fd >= 0 { close(fd) }
            rmdir(made)
            throw ClusterError.io("cannot create a staging directory in \(parent): \(errnoDescription(err))")
        }
        lockFD = fd
        directory = final
        writers = options.threads > 1
            ? StagingWriters(threads: options.threads, syncEachFile: options.syncEachFile, limits: options.writers) : nil
    }

    deinit { remove() }

    /// Where the entry `path` is staged (whether or not the container had it), nil in discard
    /// mode or when no entry went to its directory.
    func stagedFile(for path: String) -> String? {
        guard let directory else { return nil }
        let (dir, name) = SafePath.split(path)
        guard let n = directories[dir] else { return nil }
        return SafePath.join(directory, "\(n)/\(name)")
    }

    /// The staging directory of the entry `path`, open (until the next call or `remove`), and
    /// the entry's name in it; nil as for `stagedFile`.
    func openStaged(for path: String) throws -> (fd: Int32, name: String)? {
        guard let directory else { return nil }
        let (dir, name) = SafePath.split(path)
        guard let n = directories[dir] else { return nil }
        if n != openNumber {
            if openFD >= 0 { close(openFD) }
            openNumber = -1
            openFD = try Self.openDirectory(SafePath.join(directory, String(n)))
            openNumber = n
        }
        return (openFD, name)
    }

    func beginEntry(path: String) throws {
        currentPath = path
        guard let directory else { return }
        let (dir, name) = SafePath.split(path)
        currentName = name
        let n: Int
        if let known = directories[dir] {
            n = known
        } else {
            n = directories.count
            let made = SafePath.join(directory, String(n))
            guard mkdir(made, 0o700) == 0 else {
                throw ClusterError.io("cannot stage \(SafePath.quoted(path)): cannot create \(made): \(errnoDescription(errno))")
            }
            directories[dir] = n
        }
        if n != currentNumber {
            currentNumber = n
            currentDirectory = SafePath.join(directory, String(n))
        }
        if writers == nil {
            try openDirect()
        } else {
            buffer.removeAll(keepingCapacity: true)
        }
    }

    func entryData(_ bytes: UnsafeRawBufferPointer) throws {
        guard directory != nil else { return }
        if fd < 0 {
            if buffer.count + bytes.count <= options.inlineAbove {
                buffer.append(contentsOf: bytes)
                return
            }
            // Too large to hand over: written here, as it is inflated.
            try openDirect()
            try buffer.withUnsafeBytes { try writeDirect($0) }
            buffer = []
        }
        try writeDirect(bytes)
    }

    func endEntry() throws {
        guard directory != nil else { return }
        if fd >= 0 {
            let f = fd
            fd = -1
            if options.syncEachFile && fsync(f) != 0 {
                let err = errno
                close(f)
                throw ClusterError.io("cannot stage \(SafePath.quoted(currentPath)): \(errnoDescription(err))")
            }
            guard close(f) == 0 else { throw ClusterError.io("cannot stage \(SafePath.quoted(currentPath)): \(errnoDescription(errno))") }
            return
        }
        guard let writers else { return }
        if let b = batch, batchNumber != currentNumber || b.count >= options.batchEntries
            || b.bytes.count + buffer.count > options.batchBytes {
            batch = nil
            try writers.submit(b)
        }
        if batch == nil {
            batch = StagingWriters.Batch(directory: currentDirectory)
            batchNumber = currentNumber
        }
        batch!.append(path: currentPath, name: currentName, buffer)
    }

    /// Waits until every entry received is written; throws what went wrong writing any.
    func finishWriting() throws {
        guard let writers else { return }
        if let b = batch {
            batch = nil
            try writers.submit(b)
        }
        try writers.finish()
    }

    /// Makes every staged byte durable before anything is renamed into place: one `syncfs` of
    /// the staging file system (with `syncEachFile`, each file was synced when written).
    func makeDurable() throws {
        guard let directory, !options.syncEachFile else { return }
        let f = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard f >= 0 else { throw ClusterError.io("cannot open \(directory): \(errnoDescription(errno))") }
        defer { close(f) }
        guard FileIO.syncFileSystem(f) else { throw ClusterError.io("cannot sync \(directory): \(errnoDescription(errno))") }
    }

    /// Stops the writers, then removes the staging directory and whatever is left in it, and
    /// only then lets its lock go.
    func remove() {
        writers?.stop()
        if fd >= 0 { close(fd); fd = -1 }
        if openFD >= 0 { close(openFD); openFD = -1; openNumber = -1 }
        if let directory { FileIO.removeTree(directory) }
        if lockFD >= 0 { close(lockFD); lockFD = -1 }
    }

    /// Removes, from `parent`, the staging directories of applies that are no longer running:
    /// those whose lock can be taken (their process died), and transient ones older than
    /// `newGrace`. A live apply's directory is left alone. Returns the names removed; what
    /// cannot be read or removed is skipped (the next sweep tries again).
    @discardableResult
    static func removeStale(in parent: String, now: Double = Double(time(nil))) -> [String] {
        guard let dir = opendir(parent) else { return [] }
        var names = [String]()
        while let ent = readdir(dir) {
            let name = withUnsafePointer(to: &ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.hasPrefix(prefix) || name.hasPrefix(newPrefix) { names.append(name) }
        }
        closedir(dir)
        var removed = [String]()
        for name in names {
            let path = SafePath.join(parent, name)
            var st = stat()
            guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { continue }
            let f = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard f >= 0 else { continue }
            defer { close(f) }
            // Held by a live apply: not ours to touch.
            guard flock(f, LOCK_EX | LOCK_NB) == 0 else { continue }
            if name.hasPrefix(newPrefix), now - Double(st.st_mtim.tv_sec) < newGrace { continue }
            FileIO.removeTree(path)
            removed.append(name)
        }
        return removed
    }

    private func openDirect() throws {
        let file = SafePath.join(currentDirectory, currentName)
        fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ClusterError.io("cannot stage \(SafePath.quoted(currentPath)): cannot create \(file): \(errnoDescription(errno))") }
    }

    private func writeDirect(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        do {
            try FileIO.writeFully(fd, bytes)
        } catch let e as ClusterError {
            throw ClusterError.io("cannot stage \(SafePath.quoted(currentPath)): \(e.message)")
        }
    }


    static func openDirectory(_ path: String) throws -> Int32 {
        let f = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard f >= 0 else { throw ClusterError.io("cannot open \(path): \(errnoDescription(errno))") }
        return f
    }

    /// Creates `name` in the directory `dir` with `bytes` (a staged entry; `path` for messages).
    static func writeFile(_ name: String, in dir: Int32, _ bytes: UnsafeRawBufferPointer, sync: Bool, path: String) throws {
        let f = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard f >= 0 else { throw ClusterError.io("cannot stage \(SafePath.quoted(path)): \(errnoDescription(errno))") }
        do {
            if bytes.count > 0 { try FileIO.writeFully(f, bytes) }
            if sync && fsync(f) != 0 { throw ClusterError.io(errnoDescription(errno)) }
        } catch let e as ClusterError {
            close(f)
            throw ClusterError.io("cannot stage \(SafePath.quoted(path)): \(e.message)")
        }
        guard close(f) == 0 else { throw ClusterError.io("cannot stage \(SafePath.quoted(path)): \(errnoDescription(errno))") }
    }
}
