import ClusterKit
import Foundation

/// Writes a secret to a file that only its owner can read, atomically and never over an existing
/// file unless asked.
public enum KeyFileWriter {
    public static func write(_ text: String, to path: String, overwrite: Bool) throws {
        if !overwrite && FileManager.default.fileExists(atPath: path) {
            throw ClusterError(code: 0, "\(path) already exists; give --force to replace it", exit: .config)
        }
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = (dir.isEmpty ? "." : dir) + "/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw ClusterError.io("cannot create \(tmp): \(errnoDescription(errno))") }
        let bytes = Array(text.utf8)
        let ok = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) == $0.count } && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw ClusterError.io("cannot write \(path): \(errnoDescription(e))")
        }
    }
}
