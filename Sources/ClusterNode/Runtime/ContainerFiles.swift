import ClusterKit
import Foundation

/// Names and writes sync containers the way the reference names them:
/// `queue/cluster/<worker>/<node>-<utc timestamp float>-<uuid4 hex>.zip` (it is not a ZIP file).
enum ContainerFiles {
    static func relativePath(worker: String, node: String) -> String {
        let ts = String(format: "%.6f", Date().timeIntervalSince1970)
        let hex = SecureRandom.uuid4().replacingOccurrences(of: "-", with: "")
        return "queue/cluster/\(worker)/\(node)-\(ts)-\(hex).zip"
    }

    /// Creates the file and runs `write` with a sink on it; the file is removed if writing fails.
    static func create<T>(_ absolute: String, _ write: (ByteSink) throws -> T) throws -> T {
        try FileSystem.makeDirectory((absolute as NSString).deletingLastPathComponent, mode: 0o770)
        let fd = open(absolute, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw ClusterError.io("cannot create \(absolute): \(errnoDescription(errno))") }
        do {
            let sink = FileDescriptorSink(fd: fd)
            let result = try write(sink)
            try sink.flush()
            close(fd)
            return result
        } catch {
            close(fd)
            unlink(absolute)
            throw error
        }
    }
}
