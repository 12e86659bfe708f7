#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where streamed bytes go: a file descriptor (a pipe, a container file), or memory in tests.
public protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Pushes buffered bytes to the destination (not a durability barrier).
    func flush() throws
}

extension ByteSink {
    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }
}

/// Where streamed bytes come from. `read` returns 0 at the end.
public protocol ByteSource: AnyObject {
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// A buffered writer on a file descriptor it does not own (the caller closes it).
public final class FileDescriptorSink: ByteSink {
    public let fd: Int32
    private var buffer: [UInt8]
    private let capacity: Int
    public private(set) var bytesWritten = 0

    public init(fd: Int32, bufferSize: Int = 256 * 1024) {
        self.fd = fd
        capacity = bufferSize
        buffer = []
        buffer.reserveCapacity(bufferSize)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        bytesWritten += bytes.count
        if buffer.count + bytes.count > capacity {
            try flush()
            if bytes.count >= capacity {
                try FileIO.writeFully(fd, bytes)
                return
            }
        }
        buffer.append(contentsOf: bytes)
    }

    public func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try FileIO.writeFully(fd, $0) }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Collects everything in memory (tests, small metadata containers).
public final class MemorySink: ByteSink {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public func write(_ b: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: b) }
    public func flush() throws {}
}

/// Counts bytes and drops them (the size of an entry before deciding to write it).
final class CountingSink: ByteSink {
    private(set) var count = 0
    func write(_ b: UnsafeRawBufferPointer) throws { count += b.count }
    func flush() throws {}
}

/// Reads a file descriptor it does not own.
public final class FileDescriptorSource: ByteSource {
    public let fd: Int32
    public init(fd: Int32) { self.fd = fd }
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw ClusterError.io("read failed: \(errnoDescription(errno))")
        }
    }
}

/// Reads bytes held in memory (tests).
public final class MemorySource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0
    private let chunk: Int
    /// `chunk` bounds each read, so tests can feed a container in awkward pieces.
    public init(_ bytes: [UInt8], chunk: Int = Int.max) {
        self.bytes = bytes
        self.chunk = max(1, chunk)
    }
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - offset, chunk)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + offset, byteCount: n)
        }
        offset += n
        return n
    }
}

/// Small POSIX helpers with `ClusterError` failures.
public enum FileIO {
    public static func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        var off = 0
        while off < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                throw ClusterError.io("write failed: \(errnoDescription(errno))")
            }
            off += n
        }
    }

    /// Opens a file for reading; a missing file is `noInput` (exit 66).
    public static func openForReading(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT { throw ClusterError.noInput("\(path) does not exist") }
            throw ClusterError.io("cannot open \(path): \(errnoDescription(err))")
        }
        return fd
    }

    /// Reads up to `count` bytes from `fd` (fewer only at the end of input).
    public static func read(_ fd: Int32, upTo count: Int, name: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, count - got) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ClusterError.io("cannot read \(name): \(errnoDescription(errno))")
            }
            if n == 0 { break }
            got += n
        }
        out.removeSubrange(got...)
        return out
    }

    /// Reads a whole (small) file, refusing more than `limit` bytes.
    public static func readAll(path: String, limit: Int) throws -> [UInt8] {
        let fd = try openForReading(path)
        defer { close(fd) }
        return try readAll(fd: fd, limit: limit, name: path)
    }

    public static func readAll(fd: Int32, limit: Int, name: String) throws -> [UInt8] {
        var out = [UInt8]()
        // A regular file says how much is coming: one allocation instead of doubling growth,
        // which can hold twice the input at the end.
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0 {
            out.reserveCapacity(min(Int(st.st_size), limit) + 1)
        }
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ClusterError.io("cannot read \(name): \(errnoDescription(errno))")
            }
            if n == 0 { return out }
            guard out.count + n <= limit else {
                throw ClusterError.badData("\(name) is larger than the \(limit)-byte limit")
            }
            out.append(contentsOf: buf[0..<n])
        }
    }

    /// Writes a file atomically: a temporary name in the same directory, fsync, rename, fsync of
    /// the directory. A crash leaves the old file or the new one, never a torn one.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws {
        let dir = parentDirectory(of: path)
        let tmp = SafePath.join(dir, ".\(baseName(of: path)).\(getpid()).tmp")
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ClusterError.io("cannot create \(tmp): \(errnoDescription(errno))") }
        do {
            try bytes.withUnsafeBytes { try writeFully(fd, $0) }
            guard fsync(fd) == 0 else { throw ClusterError.io("cannot sync \(tmp): \(errnoDescription(errno))") }
            close(fd)
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        guard rename(tmp, path) == 0 else {
            let err = errno
            unlink(tmp)
            throw ClusterError.io("cannot rename \(tmp) to \(path): \(errnoDescription(err))")
        }
        syncDirectory(dir)
    }

    /// fsync of a directory, so a rename in it is durable. Failures are ignored: some file
    /// systems do not support it, and the data itself is already synced.
    public static func syncDirectory(_ dir: String) {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// `syncfs(2)`: flushes the file system holding `fd`. Glibc declares it only under
    /// _GNU_SOURCE, which Swift's Glibc module does not set, so it is looked up at run time;
    /// where it is missing, `sync(2)` does the same for every file system.
    public static func syncFileSystem(_ fd: Int32) -> Bool {
        typealias SyncFS = @convention(c) (Int32) -> Int32
        if let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syncfs") {
            return unsafeBitCast(sym, to: SyncFS.self)(fd) == 0
        }
        sync()
        return true
    }

    /// `mkdir -p` with `mode` for every directory it creates (chmod'ed, so the umask does not
    /// narrow it, as the reference's mkdir_with_mode does).
    public static func makeDirectories(_ path: String, mode: mode_t) throws {
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw ClusterError.io("\(path) exists and is not a directory")
            }
            return
        }
        let parent = parentDirectory(of: path)
        if parent != path && !parent.isEmpty { try makeDirectories(parent, mode: mode) }
        if mkdir(path, mode) != 0 {
            let err = errno
            if err == EEXIST { return }
            let why = "cannot create directory \(path): \(errnoDescription(err))"
            // No permission (a mode, an owner, a read-only mount) is the operator's to fix: 77.
            throw [EACCES, EPERM, EROFS].contains(err) ? ClusterError.refused(why) : ClusterError.io(why)
        }
        _ = chmod(path, mode)
    }

    /// The directory part of a path (`a/b` for `a/b/c`, `/` for `/c`, `.` for `c`).
    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Removes a directory tree that we created (staging). Does not follow symlinks.
    public static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            if let dir = opendir(path) {
                var names = [String]()
                while let ent = readdir(dir) {
                    let name = withUnsafePointer(to: &ent.pointee.d_name) {
                        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                    }
                    if name != "." && name != ".." { names.append(name) }
                }
                closedir(dir)
                for n in names { removeTree(SafePath.join(path, n)) }
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
