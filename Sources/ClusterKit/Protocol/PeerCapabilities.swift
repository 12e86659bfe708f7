/// Who is on the other end of a cluster connection: a node of ours, or a reference (Wazuh
/// 4.9.2) node.
///
/// Found out after `hello` with a command the reference does not have: each side sends
/// `node_caps` with its own capabilities. A node of ours answers `ok` and its capabilities; a
/// reference node answers `err unknown command 'b'node_caps''` (its base handler's answer to any
/// command it does not know, wire §1.5), and nothing else happens there. A node of an earlier
/// version of ours answers the same way, and is then treated as a reference node.
public struct PeerCapabilities: Sendable, Equatable {
    /// The command (9 bytes, within the 11 the command field holds).
    public static let command = "node_caps"
    /// The most bytes a capabilities payload may have.
    public static let maxPayload = 64 << 10

    public static let productName = "clustertools"

    /// What a node of ours can do with distributed API requests: `named_operations` (requests
    /// whose `f` is an operation's name) and `reference_calls` (the code references of
    /// `ReferenceCallTable`).
    public static let standardFeatures = ["named_operations", "reference_calls"]

    public var product: String
    public var version: String
    public var features: [String]
    public var operations: [String]
    /// The node's name, and on a master under failover its election term (the revision it was
    /// elected at): a worker that finds either changed pushes its agents again.
    public var node: String?
    public var term: Int64?
    /// `standby` on a follower master's link to the leader (failover); nil otherwise.
    public var role: String?
    public static let standbyRole = "standby"

    public init(product: String = PeerCapabilities.productName, version: String = ToolVersion.current,
                features: [String] = PeerCapabilities.standardFeatures, operations: [String], node: String? = nil,
                term: Int64? = nil) {
        self.product = product
        self.version = version
        self.features = features
        self.operations = operations
        self.node = node
        self.term = term
    }

    /// This build's capabilities.
    public static var ours: PeerCapabilities { PeerCapabilities(operations: OperationRegistry.standard.names) }

    public var json: JSON {
        var o: JSON = ["product": .string(product), "version": .string(version), "features": .array(features.map(JSON.string)),
                       "operations": .array(operations.map(JSON.string))]
        if let node { o["node"] = .string(node) }
        if let term { o["term"] = .int(term) }
        if let role { o["role"] = .string(role) }
        return o
    }

    public var payload: [UInt8] { JSONWriter.python.bytes(json) }

    /// Reads a peer's capabilities; bounded before parsing.
    public init(payload: [UInt8]) throws {
        guard payload.count <= PeerCapabilities.maxPayload else {
            throw ClusterError.wazuh(1000, "capabilities of \(payload.count) bytes; at most \(PeerCapabilities.maxPayload)")
        }
        let v = try JSON.parse(payload, source: "the peer's capabilities")
        func strings(_ k: String) -> [String] { v[k]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        guard let product = v["product"]?.stringValue, let version = v["version"]?.stringValue else {
            throw ClusterError.wazuh(1000, "capabilities without product or version")
        }
        self.init(product: product, version: version, features: strings("features"), operations: strings("operations"),
                  node: v["node"]?.stringValue, term: v["term"]?.intValue)
        role = v["role"]?.stringValue
    }
}

/// What a node knows of a peer.
public enum PeerKind: Sendable, Equatable {
    /// Not found out yet (or the question went unanswered): treated as one of ours, as before
    /// discovery existed.
    case unknown
    /// A node of ours, with what it said it can do.
    case ours(PeerCapabilities)
    /// A reference node: it runs code references only (`ReferenceCallTable`), never a named
    /// operation, which would trip its handler.
    case reference

    /// Classifies the answer to `node_caps`: `ok` with capabilities is ours; `err` saying
    /// "unknown command" is the reference; anything else leaves the peer unknown.
    public static func classify(command: String, payload: [UInt8]) -> PeerKind {
        if command == ClusterCommand.ok, let caps = try? PeerCapabilities(payload: payload) { return .ours(caps) }
        if command == ClusterCommand.err, payload.starts(with: Array("unknown command".utf8)) { return .reference }
        return .unknown
    }

    public var isReference: Bool { self == .reference }
}
