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
                // Each slice is read straight into its payload, after the path, and the payload
                // is let go as soon as it is encoded: while it waits for the answer, a send
                // holds only the frames being written (two workers' sends of 5 MiB slices held
                // three copies each before).
                let prefix = prefix
                var payload = try await settings.threadPool.runIfActive { () throws -> [UInt8] in
                    let head = prefix.count
                    var p = [UInt8](repeating: 0, count: head + chunkSize)
                    p.replaceSubrange(0..<head, with: prefix)
                    var got = 0
                    while got < chunkSize {
                        let n = p.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + head + got, chunkSize - got) }
                        if n < 0 {
                            if errno == EINTR { continue }
                            throw ClusterError.io("cannot read \(localPath): \(errnoDescription(errno))")
                        }
                        if n == 0 { break }
                        got += n
                    }
                    p.removeSubrange((head + got)...)
                    return p
                }
                let count = payload.count - prefix.count
                if count == 0 { break }
                payload.withUnsafeBytes { sha.update(UnsafeRawBufferPointer(rebasing: $0[prefix.count...])) }
                let answer = requestFuture(ClusterCommand.fileUpdate, payload)
                payload = []
                let r = try await answer.get()
                if r.command == ClusterCommand.err { throw WireError.decode(r.payload) }
                sent += count
                if let task, await isInterrupted(task) {
                    throw ClusterError.wazuh(3039, "the peer cancelled task \(task) while receiving \(wirePath)")
                }
                if count < chunkSize { break }
            }
            let r = try await request(ClusterCommand.fileEnd, prefix + sha.finalize())
            if r.command == ClusterCommand.err {
                throw ClusterError.wazuh(3040, "the peer rejected \(wirePath): \(r.text)")
            }
        } catch { throw failed(error) }
    }
}
