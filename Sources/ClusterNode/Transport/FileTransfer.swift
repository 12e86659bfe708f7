import ClusterKit
import Glibc

/// A file send that stopped: how far it got, for the adaptive container size.
public struct FileSendError: Error, CustomStringConvertible {
    public var underlying: ClusterError
    /// Bytes of the file the peer had acknowledged when it stopped.
    public var bytesSent: Int
    public var description: String { underlying.description }
}

/// Sending with the file sub-protocol (wire §7.1): `new_file`, `file_upd` slices, `file_end`
/// with the SHA-256. The receiving half is the connection's state machine.
extension ClusterConnection {
    /// Sends a local file as `wirePath` (which starts with `/`). Every step's answer is checked,
    /// the checksum result included, and sending stops if the peer cancels `task`; a failure
    /// is a `FileSendError` that says how many bytes got through.
    public func sendFile(_ localPath: String, as wirePath: String, task: String? = nil) async throws {
        var sent = 0
        func failed(_ e: Error) -> FileSendError {
            FileSendError(underlying: e as? ClusterError ?? .wazuh(1000, "\(e)"), bytesSent: sent)
        }
        do {
            _ = try await requestOK(ClusterCommand.newFile, wirePath)
        } catch { throw failed(error) }
        let fd = open(localPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failed(ClusterError.wazuh(3034, "\(localPath): \(errnoDescription(errno))")) }
        defer { Glibc.close(fd) }
        let chunkSize = settings.requestChunk - wirePath.utf8.count - 1
        var sha = Digest(.sha256)
        var prefix = Array(wirePath.utf8)
        prefix.append(0x20)
        do {
            while true {
                let chunk = try await settings.threadPool.runIfActive { try FileIO.read(fd, upTo: chunkSize, name: localPath) }
                if chunk.isEmpty { break }
                sha.update(chunk)
                _ = try await requestOK(ClusterCommand.fileUpdate, prefix + chunk)
                sent += chunk.count
                if let task, await isInterrupted(task) {
                    throw ClusterError.wazuh(3039, "the peer cancelled task \(task) while receiving \(wirePath)")
                }
                if chunk.count < chunkSize { break }
            }
            let r = try await request(ClusterCommand.fileEnd, prefix + sha.finalize())
            if r.command == ClusterCommand.err {
                throw ClusterError.wazuh(3040, "the peer rejected \(wirePath): \(r.text)")
            }
        } catch { throw failed(error) }
    }
}
