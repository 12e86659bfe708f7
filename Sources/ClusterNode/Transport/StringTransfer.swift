import ClusterKit
import NIOCore

/// A string a peer is sending us with `new_str` / `str_upd`.
struct InboundString {
    let expected: Int
    var data: [UInt8]
    let created: NIODeadline
}

/// The string sub-protocol (wire §6): `new_str <length>` → id, `str_upd <id> <slice>` until the
/// string is whole, then a command that names the id. Unlike the reference we never zero-fill a
/// claimed length up front, we cap the length and the strings in flight, and a consumer gets an
/// error instead of NUL bytes when slices are missing.
extension ClusterConnection {
    func receiveNewString(_ r: IncomingRequest) throws -> Reply {
        guard let n = Int(r.text), n >= 0 else {
            throw ClusterError.wazuh(1000, "new_str needs a decimal length, got '\(r.text.prefix(32))'")
        }
        guard n <= settings.frameLimits.maxMessageBytes else {
            throw ClusterError.wazuh(1000, "string of \(n) bytes exceeds the \(settings.frameLimits.maxMessageBytes)-byte limit")
        }
        let now = NIODeadline.now()
        let ttl = TimeAmount.nanoseconds(Int64(settings.transferTTL * 1e9))
        return try state.withLockedValue { s in
            s.strings = s.strings.filter { now - $0.value.created < ttl }
            guard s.strings.count + s.files.count < settings.maxTransfers else {
                throw ClusterError.wazuh(1000, "too many strings and files in flight on this connection (\(settings.maxTransfers))")
            }
            var id: String
            repeat { id = String(SecureRandom.uint32()) } while s.strings[id] != nil
            var data = [UInt8]()
            data.reserveCapacity(min(n, 1 << 20))
            s.strings[id] = InboundString(expected: n, data: data, created: now)
            return .ok(id)
        }
    }

    func receiveStringUpdate(_ r: IncomingRequest) throws -> Reply {
        guard let (id, slice) = r.splitFirstSpace() else { throw ClusterError.wazuh(1000, "str_upd needs '<id> <data>'") }
        try state.withLockedValue { s in
            // Taken out and put back so the append happens in place, not on a copy.
            guard var str = s.strings.removeValue(forKey: id) else { throw ClusterError.wazuh(3035, "no string with id \(id)") }
            let room = str.expected - str.data.count
            // The reference silently drops bytes past the announced length; so do we.
            str.data.append(contentsOf: slice.prefix(room))
            s.strings[id] = str
        }
        return .ok("String updated")
    }

    func receiveErrorString(_ r: IncomingRequest) -> Reply {
        guard let n = Int(r.text) else { return .ok("None") }
        let removed: String? = state.withLockedValue { s in
            guard let (id, _) = s.strings.first(where: { $0.value.expected == n && $0.value.data.isEmpty }) else { return nil }
            s.strings.removeValue(forKey: id)
            return id
        }
        return .ok(removed ?? "None")
    }

    /// Takes a received string by id; an error when it is unknown or incomplete.
    public func takeString(_ id: String) throws -> [UInt8] {
        try state.withLockedValue { s in
            guard let str = s.strings.removeValue(forKey: id) else {
                throw ClusterError.wazuh(3035, "no string with id \(id)")
            }
            guard str.data.count == str.expected else {
                throw ClusterError.wazuh(3035, "string \(id) is incomplete: \(str.data.count) of \(str.expected) bytes arrived")
            }
            return str.data
        }
    }

    /// Sends `bytes` with the string sub-protocol and returns the id the peer gave it.
    ///
    /// By default every `str_upd` answer is awaited and checked (the reference ignores their
    /// errors). With `pipelined`, the slices are written back to back without waiting: the peer
    /// handles them in order, so the command that names the id (whose answer the caller awaits)
    /// fails there if any slice went missing — one round trip per string instead of one per slice.
    public func sendString(_ bytes: [UInt8], pipelined: Bool = false) async throws -> String {
        let idResponse = try await requestOK(ClusterCommand.newString, String(bytes.count))
        let id = idResponse.text
        guard !id.isEmpty, id.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw ClusterError.wazuh(3016, "the peer answered new_str with '\(id.prefix(40))'")
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
                _ = try await requestPipelined(ClusterCommand.stringUpdate, payload)
            } else {
                _ = try await requestOK(ClusterCommand.stringUpdate, payload)
            }
            offset = end
        }
        return id
    }
}
