import ClusterKit
import Foundation
import Glibc

/// The runtime's own file chores on top of ClusterKit's `FileIO`.
enum FileSystem {
    /// mkdir -p with `mode` on what it creates.
    static func makeDirectory(_ path: String, mode: mode_t = 0o750) throws {
        try FileIO.makeDirectories(path, mode: mode)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        do { try bytes.withUnsafeBytes { try FileIO.writeFully(fd, $0) } } catch let e as ClusterError {
            throw ClusterError.io("cannot write \(path): \(e.message)")
        }
    }

    static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o640) throws {
        try FileIO.writeAtomically(bytes, to: path, mode: mode)
    }

    /// Removes everything inside `dir` except names in `keep` (the reference clears
    /// `queue/cluster/` at start-up, keeping the socket).
    static func clearDirectory(_ dir: String, keeping keep: Set<String> = []) {
        guard let items = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for item in items where !keep.contains(item) {
            FileIO.removeTree((dir as NSString).appendingPathComponent(item))
        }
    }
}
