import Glibc
import ClusterKit
import Foundation

/// Small POSIX helpers for the runtime's own files (not peer-controlled content layout).
enum FileSystem {
    /// mkdir -p; refuses to go through a symlink at the last component.
    static func makeDirectory(_ path: String, mode: mode_t = 0o750) throws {
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw ClusterError.io("\(path) exists and is not a directory")
            }
            return
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: Int(mode)])
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ClusterError.io("cannot write \(path): \(errnoDescription(errno))")
                }
                off += n
            }
        }
    }

    static func read(_ fd: Int32, upTo count: Int, path: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, count - got) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ClusterError.io("cannot read \(path): \(errnoDescription(errno))")
            }
            if n == 0 { break }
            got += n
        }
        out.removeSubrange(got...)
        return out
    }

    /// Writes a small file atomically (temp + fsync + rename).
    static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o640) throws {
        let tmp = path + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ClusterError.io("cannot create \(tmp): \(errnoDescription(errno))") }
        do {
            try writeAll(fd, bytes, path: tmp)
            guard fsync(fd) == 0 else { throw ClusterError.io("cannot sync \(tmp): \(errnoDescription(errno))") }
        } catch {
            close(fd); unlink(tmp); throw error
        }
        close(fd)
        guard rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw ClusterError.io("cannot rename \(tmp) to \(path): \(errnoDescription(e))")
        }
    }

    /// Removes everything inside `dir` except names in `keep` (the reference clears
    /// `queue/cluster/` at start-up, keeping the socket).
    static func clearDirectory(_ dir: String, keeping keep: Set<String> = []) {
        guard let items = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for item in items where !keep.contains(item) {
            try? FileManager.default.removeItem(atPath: (dir as NSString).appendingPathComponent(item))
        }
    }
}
