/// One agent's row as the reference's agent-info sync carries it (sync §5): the columns wazuh-db's
/// `sync-agent-info-get` selects, in its order, and the agent's labels.
///
/// Ids are integers on the wire and in the store (wazuh-db's `id` column); people and scripts see
/// the reference API's zero-padded strings ("001"), and both forms are accepted on input. A field
/// that is absent (nil) is "not given": an update leaves the stored value alone, exactly as
/// wazuh-db binds only the fields present in a chunk.
public struct AgentRecord: Sendable, Equatable {
    public enum Kind: Sendable { case text, integer }

    public struct Field: Sendable {
        public let name: String
        public let kind: Kind
    }

    public enum Value: Sendable, Equatable {
        case text(String)
        case integer(Int64)

        public var json: JSON {
            switch self {
            case .text(let s): return .string(s)
            case .integer(let i): return .int(i)
            }
        }
    }

    /// The synced columns after `id`, in wazuh-db's select order (labels come last, apart).
    public static let fields: [Field] = [
        Field(name: "name", kind: .text), Field(name: "ip", kind: .text),
        Field(name: "os_name", kind: .text), Field(name: "os_version", kind: .text),
        Field(name: "os_major", kind: .text), Field(name: "os_minor", kind: .text),
        Field(name: "os_codename", kind: .text), Field(name: "os_build", kind: .text),
        Field(name: "os_platform", kind: .text), Field(name: "os_uname", kind: .text),
        Field(name: "os_arch", kind: .text), Field(name: "version", kind: .text),
        Field(name: "config_sum", kind: .text), Field(name: "merged_sum", kind: .text),
        Field(name: "manager_host", kind: .text), Field(name: "node_name", kind: .text),
        Field(name: "last_keepalive", kind: .integer), Field(name: "connection_status", kind: .text),
        Field(name: "disconnection_time", kind: .integer), Field(name: "group_config_status", kind: .text),
        Field(name: "status_code", kind: .integer),
    ]

    public static let fieldIndex: [String: Int] = {
        var m = [String: Int]()
        for (i, f) in fields.enumerated() { m[f.name] = i }
        return m
    }()

    public static let connectionStatuses: Set<String> = ["never_connected", "pending", "active", "disconnected"]
    public static let groupConfigStatuses: Set<String> = ["synced", "not synced"]
    /// Largest agent id accepted (the reference's ids are small; this keeps "%03d" sane).
    public static let maxID = 999_999_999
    /// A row must fit in one agent-info chunk with room to spare.
    public static let maxWireBytes = AgentInfoChunks.maxChunkBytes - 64

    public var id: Int
    public var values: [Value?]
    /// nil: not given (keep what is stored); empty: the agent has no labels.
    public var labels: [AgentLabel]?

    public init(id: Int) {
        self.id = id
        values = Array(repeating: nil, count: AgentRecord.fields.count)
    }

    public subscript(_ name: String) -> Value? {
        get { AgentRecord.fieldIndex[name].flatMap { values[$0] } }
        set {
            guard let i = AgentRecord.fieldIndex[name] else { preconditionFailure("no agent field \(name)") }
            values[i] = newValue
        }
    }

    public var name: String? { if case .text(let s)? = self["name"] { return s } else { return nil } }
    public var nodeName: String? { if case .text(let s)? = self["node_name"] { return s } else { return nil } }
    public var lastKeepalive: Int64? { if case .integer(let i)? = self["last_keepalive"] { return i } else { return nil } }

    // MARK: ids

    /// The reference API's form of an id: at least three digits, zero-padded.
    public static func formatID(_ id: Int) -> String {
        let s = String(id)
        return s.count >= 3 ? s : String(repeating: "0", count: 3 - s.count) + s
    }

    /// An id from JSON: an integer, or a string of decimal digits ("001").
    public static func parseID(_ v: JSON?) throws -> Int {
        let id: Int
        switch v {
        case .int(let i)?:
            id = Int(i)
        case .string(let s)?:
            guard !s.isEmpty, s.count <= 10, s.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let i = Int(s) else {
                throw ClusterError.badData("id must be an agent id such as \"001\", got \"\(s.prefix(40))\"")
            }
            id = i
        case nil, .null?:
            throw ClusterError.badData("id is required")
        case let other?:
            throw ClusterError.badData("id must be a number or a string of digits, got \(other.typeName)")
        }
        guard id != 0 else { throw ClusterError.badData("agent 000 is the manager itself and is not synchronised") }
        guard (1...maxID).contains(id) else { throw ClusterError.badData("id \(id) is out of range 1...\(maxID)") }
        return id
    }

    // MARK: JSON in

    /// Reads a record. `strict` (what people type) refuses unknown keys and rows too large for a
    /// chunk; a peer's rows are read leniently, ignoring keys a newer peer may add, but never
    /// values of the wrong type.
    public init(json: JSON, strict: Bool) throws {
        guard case .object(let o) = json else { throw ClusterError.badData("expected a JSON object, got \(json.typeName)") }
        self.init(id: try AgentRecord.parseID(o["id"]))
        for (key, value) in o {
            if key == "id" { continue }
            if key == "labels" {
                if case .null = value { continue }
                labels = try AgentLabel.parseList(value)
                continue
            }
            let scalar: Scalar
            switch value {
            case .null: scalar = .null
            case .string(let s): scalar = .text(s)
            case .int(let n): scalar = .integer(n)
            default: scalar = .other(value.typeName)
            }
            try set(key, scalar, strict: strict)
        }
        try check(strict: strict)
    }

    /// A field's value as read, before it is checked against the field's kind.
    enum Scalar {
        case null
        case text(String)
        case integer(Int64)
        case other(String)
    }

    /// Sets one field (not id, not labels) from what a reader found, checking its kind.
    mutating func set(_ key: String, _ value: Scalar, strict: Bool) throws {
        try set(key, index: AgentRecord.fieldIndex[key], value, strict: strict)
    }

    /// The same, when the reader already looked the field up.
    mutating func set(_ key: String, index: Int?, _ value: Scalar, strict: Bool) throws {
        guard let i = index else {
            if strict {
                if key == "group" || key == "groups" {
                    throw ClusterError.badData("\(key): groups are assigned on the master (cl-master agents set-groups)")
                }
                throw ClusterError.badData("unknown field \"\(key)\"")
            }
            return
        }
        func typeName(_ v: Scalar) -> String {
            switch v {
            case .null: return "null"
            case .text: return "string"
            case .integer: return "integer"
            case .other(let t): return t
            }
        }
        if case .null = value { return }
        switch AgentRecord.fields[i].kind {
        case .text:
            guard case .text(let s) = value else { throw ClusterError.badData("\(key) must be a string, got \(typeName(value))") }
            guard !AgentRecord.containsNUL(s) else { throw ClusterError.badData("\(key) must not contain NUL") }
            values[i] = .text(s)
        case .integer:
            guard case .integer(let n) = value else { throw ClusterError.badData("\(key) must be an integer, got \(typeName(value))") }
            if i != AgentRecord.statusCodeIndex && n < 0 { throw ClusterError.badData("\(key) must not be negative") }
            values[i] = .integer(n)
        }
    }

    static func containsNUL(_ s: String) -> Bool {
        s.utf8.withContiguousStorageIfAvailable { $0.contains(0) } ?? s.utf8.contains(0)
    }

    static let statusCodeIndex = fieldIndex["status_code"]!
    static let connectionStatusIndex = fieldIndex["connection_status"]!
    static let groupConfigStatusIndex = fieldIndex["group_config_status"]!
    static let nameIndex = fieldIndex["name"]!
    static let nodeNameIndex = fieldIndex["node_name"]!

    /// The checks across fields, once every field is set.
    func check(strict: Bool) throws {
        if case .text(let s)? = values[AgentRecord.connectionStatusIndex], !AgentRecord.connectionStatuses.contains(s) {
            throw ClusterError.badData("connection_status must be one of \(AgentRecord.connectionStatuses.sorted().joined(separator: ", ")), got \"\(s.prefix(40))\"")
        }
        if case .text(let s)? = values[AgentRecord.groupConfigStatusIndex], !AgentRecord.groupConfigStatuses.contains(s) {
            throw ClusterError.badData("group_config_status must be \"synced\" or \"not synced\", got \"\(s.prefix(40))\"")
        }
        if case .text(let s)? = values[AgentRecord.nameIndex], s.isEmpty { throw ClusterError.badData("name must not be empty") }
        if case .text(let s)? = values[AgentRecord.nodeNameIndex], s.isEmpty { throw ClusterError.badData("node_name must not be empty") }
        guard strict else { return }
        let size = wireBytes().count
        guard size <= AgentRecord.maxWireBytes else {
            throw ClusterError.badData("agent \(AgentRecord.formatID(id)) is \(size) bytes of JSON; a row must fit in one \(AgentInfoChunks.maxChunkBytes)-byte chunk")
        }
    }

    // MARK: JSON out

    /// The row as wazuh-db's `sync-agent-info-get` prints it: integer id, columns in select order,
    /// absent columns left out, `labels` as `[{"id","key","value"}]` when the agent has any.
    public var wireJSON: JSON {
        var o = JSONObject(minimumCapacity: AgentRecord.fields.count + 2)
        o["id"] = .int(Int64(id))
        for (i, f) in AgentRecord.fields.enumerated() {
            if let v = values[i] { o[f.name] = v.json }
        }
        // Present and empty means "cleared": wazuh-db then deletes the agent's labels.
        if let labels {
            o["labels"] = .array(labels.map { ["id": .int(Int64(id)), "key": .string($0.key), "value": .string($0.value)] })
        }
        return .object(o)
    }

    /// The compact bytes cJSON would print (UTF-8 as is, no spaces): `wireJSON` written directly,
    /// without building the object (a push writes tens of thousands of rows).
    public func wireBytes() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(512)
        writeWire(into: &out)
        return out
    }

    /// `,"<name>":` for every field, ready to append.
    static let wireKeys: [[UInt8]] = fields.map { Array(",\"\($0.name)\":".utf8) }

    public func writeWire(into out: inout [UInt8]) {
        out.append(contentsOf: "{\"id\":".utf8)
        out.append(contentsOf: String(id).utf8)
        for i in 0..<values.count {
            guard let v = values[i] else { continue }
            out.append(contentsOf: AgentRecord.wireKeys[i])
            switch v {
            case .text(let s): JSONEscaping.appendCompact(s, into: &out)
            case .integer(let n): out.append(contentsOf: String(n).utf8)
            }
        }
        if let labels { AgentRecord.writeWireLabels(labels, id: id, into: &out) }
        out.append(UInt8(ascii: "}"))
    }

    /// `,"labels":[{"id":N,"key":...,"value":...},...]`
    static func writeWireLabels(_ labels: [AgentLabel], id: Int, into out: inout [UInt8]) {
        out.append(contentsOf: ",\"labels\":[".utf8)
        for (i, l) in labels.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: "{\"id\":".utf8)
            out.append(contentsOf: String(id).utf8)
            out.append(contentsOf: ",\"key\":".utf8)
            JSONEscaping.appendCompact(l.key, into: &out)
            out.append(contentsOf: ",\"value\":".utf8)
            JSONEscaping.appendCompact(l.value, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
    }
}

/// An agent label (wazuh-db's `labels` table: agent id, key, value).
public struct AgentLabel: Sendable, Equatable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    /// `[{"key","value"}]` (an `id` member, as the wire carries it, is allowed and ignored) or
    /// `{"key": "value"}`.
    public static func parseList(_ v: JSON) throws -> [AgentLabel] {
        switch v {
        case .null: return []
        case .array(let items):
            return try items.map { item in
                guard case .object(let o) = item, case .string(let k)? = o["key"], case .string(let value)? = o["value"] else {
                    throw ClusterError.badData("labels must be [{\"key\": ..., \"value\": ...}] or {\"key\": \"value\"}")
                }
                return try AgentLabel(checkedKey: k, value: value)
            }
        case .object(let o):
            return try o.map { (k, value) in
                guard case .string(let s) = value else { throw ClusterError.badData("label \(k) must have a string value") }
                return try AgentLabel(checkedKey: k, value: s)
            }
        default:
            throw ClusterError.badData("labels must be an array or an object, got \(v.typeName)")
        }
    }

    init(checkedKey key: String, value: String) throws {
        guard !key.isEmpty else { throw ClusterError.badData("a label key must not be empty") }
        guard !key.utf8.contains(0), !value.utf8.contains(0) else { throw ClusterError.badData("labels must not contain NUL") }
        self.init(key: key, value: value)
    }

    /// The form the store keeps: `[{"key","value"}]`.
    public static func storedJSON(_ labels: [AgentLabel]) -> String {
        JSONWriter.compact.string(.array(labels.map { ["key": .string($0.key), "value": .string($0.value)] }))
    }

    public static func fromStored(_ text: String) -> [AgentLabel] {
        (try? parseList(JSON.parse(text))) ?? []
    }
}
