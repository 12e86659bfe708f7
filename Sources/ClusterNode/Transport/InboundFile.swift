import ClusterKit
import Foundation
import Glibc
import NIOCore

/// A file a peer is sending us with `new_file` / `file_upd` / `file_end`.
///
/// The connection's state machine owns it; its descriptor and digest are touched only by the
/// blocking work the handler runs for it on the thread pool, one step at a time, while the
/// connection reads nothing else.
final class InboundFile: @unchecked Sendable {
    let relativePath: String
    let absolutePath: String
    let fd: Int32
    var sha: Digest? = Digest(.sha256)
    /// Bytes admitted so far (counted when a chunk is admitted, before it is written).
    var size = 0
    let created: NIODeadline

    init(relativePath: String, absolutePath: String, fd: Int32, created: NIODeadline) {
        self.relativePath = relativePath
        self.absolutePath = absolutePath
        self.fd = fd
        self.created = created
    }

    /// Blocking: appends a chunk.
    func write(_ chunk: [UInt8]) throws {
        try FileSystem.writeAll(fd, chunk, path: relativePath)
        sha!.update(chunk)
    }

    /// Blocking: makes the file durable and checks it against the sender's digest; a file that
    /// does not match is removed.
    func finish(expecting digest: [UInt8]) -> Bool {
        let synced = fsync(fd) == 0
        Glibc.close(fd)
        let actual = sha.take()?.finalize()
        let ok = synced && actual == digest
        if !ok { unlink(absolutePath) }
        return ok
    }

    /// Blocking: closes and removes a file that will not be completed.
    func abandon() {
        Glibc.close(fd)
        unlink(absolutePath)
    }

    /// Blocking: creates the file (and its directory) for writing.
    static func create(relative: String, absolute: String, now: NIODeadline) throws -> InboundFile {
        try FileSystem.makeDirectory((absolute as NSString).deletingLastPathComponent, mode: 0o770)
        let fd = open(absolute, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw ClusterError.wazuh(1000, "cannot create \(relative): \(errnoDescription(errno))") }
        return InboundFile(relativePath: relative, absolutePath: absolute, fd: fd, created: now)
    }
}
