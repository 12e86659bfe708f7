/// A `sendsync` request (dapi §4.5): `{"daemon_name": <name>, "message": <object or string>}`,
/// which a C daemon on a worker sends on the local socket and the worker relays to its master as
/// `sendsync '<client id> <json>'`. The master hands `message` to the named daemon's socket.
///
/// Parsing refuses what the reference's master fails on, with the text the reference's
/// `sendsyn_err` carries for it (its `str(e)`): an unknown daemon is
/// `Error 1014 - Error communicating with socket: '<name>'`, a message that is neither an object
/// nor a string `... : '<type>' object has no attribute 'encode'`, an extra key
/// `wazuh_sendsync() got an unexpected keyword argument '<key>'`.
public struct SendSyncRequest: Sendable, Equatable {
    public let daemon: SendSyncDaemon
    /// What the daemon receives: a string as it is, an object as Python's `json.dumps` writes it.
    public let message: [UInt8]

    /// The most bytes a request may carry: the C clients' own limit on what they send
    /// (`w_send_clustered_message`).
    public static let maxRequestBytes = 1_000_000
    /// The most bytes a daemon's answer may carry back (the C clients read at most 64 KiB of it).
    public static let maxReplyBytes = 1 << 20
    /// The longest client id a relayed request may start with.
    public static let maxClientIDBytes = 64
    /// The payload cap of `sendsync` on either socket: a request behind a client id.
    public static let maxPayloadBytes = maxRequestBytes + maxClientIDBytes + 1

    public init(daemon: SendSyncDaemon, message: [UInt8]) {
        self.daemon = daemon
        self.message = message
    }

    public init(payload: [UInt8]) throws {
        guard payload.count <= SendSyncRequest.maxRequestBytes else {
            throw SendSyncRequest.socketError("the request of \(payload.count) bytes exceeds the \(SendSyncRequest.maxRequestBytes)-byte limit")
        }
        let json: JSON
        do { json = try JSON.parse(payload) } catch let e as ClusterError {
            throw SendSyncRequest.socketError("the request is not JSON: \(LogText.truncated(e.message, max: 200))")
        }
        guard case .object(let o) = json else {
            throw SendSyncRequest.socketError("the request is a JSON \(json.typeName), not an object")
        }
        for key in o.keys where key != "daemon_name" && key != "message" {
            throw ClusterError(code: 0, "wazuh_sendsync() got an unexpected keyword argument '\(LogText.truncated(key, max: 64))'",
                               exit: .dataError)
        }
        guard let name = o["daemon_name"] else { throw SendSyncRequest.socketError("'daemon_name'") }
        guard let text = name.stringValue, let daemon = SendSyncDaemon(rawValue: text) else {
            let shown = name.stringValue.map { "'\(LogText.truncated($0, max: 64))'" } ?? LogText.truncated(JSONWriter.compact.string(name), max: 64)
            throw SendSyncRequest.socketError(shown)
        }
        self.daemon = daemon
        switch o["message"] ?? .null {
        case .string(let s): message = Array(s.utf8)
        case .object(let m): message = JSONWriter.python.bytes(.object(m))
        case let other: throw SendSyncRequest.socketError("'\(SendSyncRequest.pythonTypeName(other))' object has no attribute 'encode'")
        }
    }

    /// The reference's wrapper for what goes wrong with a daemon exchange.
    public static func socketError(_ extra: String) -> ClusterError { ClusterError.wazuh(1014, extra) }

    /// The request as a worker sends it: `{"daemon_name": ..., "message": ...}`.
    public static func payload(daemon: String, message: JSON) -> [UInt8] {
        JSONWriter.python.bytes(["daemon_name": .string(daemon), "message": message])
    }

    static func pythonTypeName(_ v: JSON) -> String {
        switch v {
        case .null: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .object: return "dict"
        }
    }
}
