import Glibc
import ClusterKit
import Foundation
import NIOCore

/// A file a peer is sending us with `new_file` / `file_upd` / `file_end`.
final class InboundFile: @unchecked Sendable {
    let relativePath: String
    let absolutePath: String
    let fd: Int32
    var sha: Digest? = Digest(.sha256)
    var size = 0
    let created: NIODeadline

    init(relativePath: String, absolutePath: String, fd: Int32) {
        self.relativePath = relativePath
        self.absolutePath = absolutePath
        self.fd = fd
        created = .now()
    }

    /// Closes and removes a file that will not be completed.
    func abandon() {
        close(fd)
        unlink(absolutePath)
    }
}

/// The file sub-protocol (wire §7.1). Paths arrive with a leading `/`, relative to the node root;
/// we accept only `/<inbox>/<one name>`, where the inbox is `queue/cluster/<worker name>` of this
/// connection, so a peer can never write anywhere else. The SHA-256 sent with `file_end` is
/// checked, and a file that does not match is deleted.
extension ClusterConnection {
    static let checksumMismatch = "File wasn't correctly received. Checksums aren't equal."

    private func inboxPath(_ wire: String) throws -> (relative: String, absolute: String) {
        guard let inbox = state.withLockedValue({ $0.fileInbox }) else {
            throw ClusterError.wazuh(1000, "this connection does not accept files")
        }
        guard wire.hasPrefix("/") else { throw ClusterError.wazuh(1000, "file path must start with '/': \(wire.prefix(80))") }
        let rel = String(wire.dropFirst())
        let prefix = inbox + "/"
        guard rel.hasPrefix(prefix) else {
            throw ClusterError.wazuh(1000, "file path \(wire.prefix(200)) is outside this connection's directory /\(inbox)")
        }
        let name = String(rel.dropFirst(prefix.count))
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.utf8.contains(0),
              name.utf8.count <= 255 else {
            throw ClusterError.wazuh(1000, "bad file name in \(wire.prefix(200))")
        }
        return (rel, (settings.root as NSString).appendingPathComponent(rel))
    }

    func receiveNewFile(_ r: IncomingRequest) async throws -> Reply {
        let (rel, abs) = try inboxPath(r.text)
        let dir = (abs as NSString).deletingLastPathComponent
        try FileSystem.makeDirectory(dir, mode: 0o770)
        let fd = open(abs, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw ClusterError.wazuh(1000, "cannot create \(rel): \(errnoDescription(errno))") }
        let file = InboundFile(relativePath: rel, absolutePath: abs, fd: fd)
        let old: InboundFile? = try state.withLockedValue { s in
            guard s.strings.count + s.files.count < settings.maxTransfers || s.files[rel] != nil else {
                throw ClusterError.wazuh(1000, "too many strings and files in flight on this connection")
            }
            let old = s.files[rel]
            s.files[rel] = file
            return old
        }
        if let old { Glibc.close(old.fd) }
        return Reply("ok ", Array("Ready to receive new file".utf8))
    }

    private func splitPath(_ r: IncomingRequest) throws -> (InboundFile, [UInt8]) {
        guard let (wire, rest) = r.splitFirstSpace() else { throw ClusterError.wazuh(1000, "\(r.command) needs '<path> <data>'") }
        let rel = wire.hasPrefix("/") ? String(wire.dropFirst()) : wire
        guard let f = state.withLockedValue({ $0.files[rel] }) else {
            throw ClusterError.wazuh(1000, "no file transfer in progress for \(wire.prefix(200))")
        }
        return (f, rest)
    }

    func receiveFileUpdate(_ r: IncomingRequest) async throws -> Reply {
        let (file, chunk) = try splitPath(r)
        guard file.size + chunk.count <= settings.maxFileBytes else {
            state.withLockedValue { _ = $0.files.removeValue(forKey: file.relativePath) }
            file.abandon()
            throw ClusterError.wazuh(1000, "file \(file.relativePath) exceeds the \(settings.maxFileBytes)-byte limit")
        }
        try FileSystem.writeAll(file.fd, chunk, path: file.relativePath)
        file.sha!.update(chunk)
        file.size += chunk.count
        return .ok("File updated")
    }

    func receiveFileEnd(_ r: IncomingRequest) async throws -> Reply {
        let (file, digest) = try splitPath(r)
        state.withLockedValue { _ = $0.files.removeValue(forKey: file.relativePath) }
        let ok = fsync(file.fd) == 0
        Glibc.close(file.fd)
        let actual = file.sha.take()!.finalize()
        guard ok, actual == digest else {
            unlink(file.absolutePath)
            return Reply(ClusterCommand.err, Array(ClusterConnection.checksumMismatch.utf8))
        }
        state.withLockedValue { $0.receivedFiles[file.relativePath] = file.absolutePath }
        return .ok("File received correctly")
    }

    /// Takes a completely received file by its path relative to the root (as named in `*_e`).
    public func claimReceivedFile(_ relativePath: String) -> String? {
        let rel = relativePath.hasPrefix("/") ? String(relativePath.dropFirst()) : relativePath
        return state.withLockedValue { $0.receivedFiles.removeValue(forKey: rel) }
    }

    /// Sends a local file as `wirePath` (which starts with `/`). Every step's answer is checked,
    /// the checksum result included, and sending stops if the peer cancels `task`.
    public func sendFile(_ localPath: String, as wirePath: String, task: String? = nil) async throws {
        _ = try await requestOK(ClusterCommand.newFile, wirePath)
        let fd = open(localPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ClusterError.wazuh(3034, "\(localPath): \(errnoDescription(errno))") }
        defer { Glibc.close(fd) }
        let chunkSize = settings.requestChunk - wirePath.utf8.count - 1
        var sha = Digest(.sha256)
        var prefix = Array(wirePath.utf8)
        prefix.append(0x20)
        while true {
            let chunk = try await settings.threadPool.runIfActive { try FileIO.read(fd, upTo: chunkSize, name: localPath) }
            if chunk.isEmpty { break }
            sha.update(chunk)
            _ = try await requestOK(ClusterCommand.fileUpdate, prefix + chunk)
            if let task, isInterrupted(task) {
                throw ClusterError.wazuh(3039, "the peer cancelled task \(task) while receiving \(wirePath)")
            }
            if chunk.count < chunkSize { break }
        }
        let r = try await request(ClusterCommand.fileEnd, prefix + sha.finalize())
        if r.command == ClusterCommand.err {
            throw ClusterError.wazuh(3040, "the peer rejected \(wirePath): \(r.text)")
        }
    }
}
