import ClusterKit
import NIOCore

/// Sending with the string sub-protocol (wire §6): `new_str <length>` → id, `str_upd <id>
/// <slice>` until the string is whole, then a command that names the id. The receiving half is
/// the connection's state machine.
extension ClusterConnection {
    /// Sends `bytes` and returns the id the peer gave them.
    ///
    /// By default every `str_upd` answer is awaited and checked (the reference ignores their
    /// errors). With `pipelined`, the slices are written back to back without waiting: the peer
    /// handles them in order, so the command that names the id (whose answer the caller awaits)
    /// fails there if any slice went missing — one round trip per string instead of one per slice.
    public func sendString(_ bytes: [UInt8], pipelined: Bool = false) async throws -> String {
        let idResponse = try await requestOK(ClusterCommand.newString, String(bytes.count))
        let id = idResponse.text
        guard !id.isEmpty, id.utf8.count <= 20, id.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw ClusterError.wazuh(3016, "the peer answered new_str with '\(LogText.truncated(id, max: 40))'")
        }
        let slice = settings.requestChunk - id.utf8.count - 1
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + slice, bytes.count)
            var payload = Array(id.utf8)
            payload.reserveCapacity(id.utf8.count + 1 + end - offset)
            payload.append(0x20)
            payload.append(contentsOf: bytes[offset..<end])
            if pipelined {
                _ = requestFuture(ClusterCommand.stringUpdate, payload)
            } else {
                _ = try await requestOK(ClusterCommand.stringUpdate, payload)
            }
            offset = end
        }
        return id
    }
}
