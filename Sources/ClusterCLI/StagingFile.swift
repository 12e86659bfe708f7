import ClusterKit
import Foundation

/// An anonymous temporary file (unlinked as soon as it is created) for output that must not be
/// released until it has been verified in full.
public final class StagingFile {
    private let fd: Int32
    public private(set) var size = 0

    public init() throws {
        let dir = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(dir)/cl-staging.XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw ClusterError.io("cannot create a staging file in \(dir): \(errnoDescription(errno))") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        self.fd = fd
    }

    deinit { close(fd) }

    public func append(_ bytes: [UInt8]) throws {
        do { try bytes.withUnsafeBytes { try FileIO.writeFully(fd, $0) } } catch let e as ClusterError {
            throw ClusterError.io("cannot write the staging file: \(e.message)")
        }
        size += bytes.count
    }

    /// Copies everything staged to `target` (e.g. stdout).
    public func copy(to target: Int32) throws {
        StandardStreams.flushOutput()
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw ClusterError.io("cannot rewind the staging file: \(errnoDescription(errno))") }
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ClusterError.io("cannot read the staging file: \(errnoDescription(errno))")
            }
            if n == 0 { return }
            try buf.withUnsafeBytes { try FileIO.writeFully(target, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }
}
