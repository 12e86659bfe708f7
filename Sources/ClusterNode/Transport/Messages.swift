import ClusterKit

/// A request a peer sent us, decrypted.
public struct IncomingRequest: Sendable {
    public var counter: UInt32
    public var command: String
    public var payload: [UInt8]

    public var text: String { String(decoding: payload, as: UTF8.self) }

    /// Splits `"<first> <rest>"` at the first space, as the reference splits its payloads.
    public func splitFirstSpace() -> (String, [UInt8])? {
        guard let i = payload.firstIndex(of: 0x20) else { return nil }
        return (String(decoding: payload[..<i], as: UTF8.self), Array(payload[(i + 1)...]))
    }
}

/// What we answer a request with. `nil` from a handler means no reply at all.
public struct Reply: Sendable {
    public var command: String
    public var payload: [UInt8]

    public init(_ command: String, _ payload: [UInt8]) {
        self.command = command
        self.payload = payload
    }

    public static func ok(_ text: String) -> Reply { Reply(ClusterCommand.ok, Array(text.utf8)) }
    public static func ok(_ bytes: [UInt8]) -> Reply { Reply(ClusterCommand.ok, bytes) }
    public static func ok(json: JSON) -> Reply { Reply(ClusterCommand.ok, JSONWriter.python.bytes(json)) }
    public static func error(_ e: ClusterError) -> Reply { Reply(ClusterCommand.err, WireError.payload(e)) }
}

/// A peer's answer to one of our requests.
public struct Response: Sendable {
    public var command: String
    public var payload: [UInt8]
    public var text: String { String(decoding: payload, as: UTF8.self) }
}
