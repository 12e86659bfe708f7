/// One agent's group list as agent-groups sync carries it: `{"id": N, "groups": ["g1", ...]}`
/// (an empty list: the agent has no groups).
public struct AgentGroupsEntry: Sendable, Equatable {
    public var id: Int
    public var groups: [String]

    public init(id: Int, groups: [String]) {
        self.id = id
        self.groups = groups
    }

    public var json: JSON { ["id": .int(Int64(id)), "groups": .array(groups.map { .string($0) })] }

    public init(json: JSON) throws {
        guard case .object(let o) = json else { throw ClusterError.badData("expected {\"id\", \"groups\"}, got \(json.typeName)") }
        id = try AgentRecord.parseID(o["id"])
        do { groups = try AgentGroups.parse(o["groups"] ?? .null) } catch let e as ClusterError {
            throw ClusterError.badData("agent \(AgentRecord.formatID(id)): \(e.message)")
        }
    }
}

/// What the master sends in an agent-groups sync (sync §6.2–6.3): chunks shaped as wazuh-db's
/// `sync-agent-groups-get` answers them, `[{"data":[{"id":1,"groups":["default"]},...]}]`, each
/// under 65,024 bytes, the last one of a periodic delta carrying the master's global group hash
/// (`,"hash":"<sha1>"` or `null`); inside the envelope
/// `{"set_data_command": "global set-agent-groups", "payload": {"mode": "override",
/// "sync_status": "synced"}, "chunks": [...]}` written as Python's `json.dumps`.
public struct AgentGroupsPayload: Sendable, Equatable {
    public static let setCommand = "global set-agent-groups"
    static let prefix = Array("[{\"data\":[".utf8)
    static let suffix = Array("]}]".utf8)
    /// Room for `,"hash":"<40 hex>"` on the last chunk.
    static let hashReserve = Array(",\"hash\":\"\"".utf8).count + 40

    public var chunks: [String]

    public init(chunks: [String]) { self.chunks = chunks }

    /// Packs `entries`. `hash` is the outer optional: nil leaves the key out (full sync), `.some(nil)`
    /// writes `"hash":null` (a master without grouped agents). There is always at least one chunk,
    /// so an empty delta still carries the hash the worker checks against.
    public init(entries: [AgentGroupsEntry], hash: String??) throws {
        let packer = JSONChunkPacker(prefix: AgentGroupsPayload.prefix, suffix: AgentGroupsPayload.suffix,
                                     reserve: hash == nil ? 0 : AgentGroupsPayload.hashReserve)
        var packed = try packer.pack(entries.map { JSONWriter.compact.bytes($0.json) })
        if packed.isEmpty { packed = [AgentGroupsPayload.prefix + AgentGroupsPayload.suffix] }
        if let hash {
            var last = packed.removeLast()
            last.removeLast(2) // "}]"
            last.append(contentsOf: ",\"hash\":".utf8)
            last.append(contentsOf: JSONWriter.compact.bytes(JSON(hash)))
            last.append(contentsOf: "}]".utf8)
            packed.append(last)
        }
        self.init(chunks: packed.map { String(decoding: $0, as: UTF8.self) })
    }

    public func envelope() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(chunks.reduce(160) { $0 + $1.utf8.count + $1.utf8.count / 8 + 4 })
        out.append(contentsOf: "{\"set_data_command\": \"\(AgentGroupsPayload.setCommand)\", \"payload\": {\"mode\": \"override\", \"sync_status\": \"synced\"}, \"chunks\": ".utf8)
        JSONEscaping.appendPythonList(chunks, into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    public init(envelope bytes: [UInt8]) throws {
        let v: JSON
        do { v = try bytes.withUnsafeBytes { try JSONScanner.parse($0) } } catch let e as ClusterError {
            throw ClusterError.wazuh(3036, "agent-groups: \(e.message)")
        }
        guard case .object(let o) = v else { throw ClusterError.wazuh(3036, "agent-groups must be a JSON object") }
        guard o["set_data_command"]?.stringValue == AgentGroupsPayload.setCommand else {
            throw ClusterError.wazuh(3036, "unexpected set_data_command \(o["set_data_command"].map { JSONWriter.compact.string($0) } ?? "(missing)")")
        }
        if let mode = o["payload"]?["mode"]?.stringValue, mode != "override" {
            throw ClusterError.wazuh(3036, "unsupported agent-groups mode \"\(mode)\"")
        }
        guard case .array(let items)? = o["chunks"] else { throw ClusterError.wazuh(3036, "agent-groups has no chunks array") }
        var chunks = [String]()
        for item in items {
            guard case .string(let s) = item else { throw ClusterError.wazuh(3036, "every chunk must be a string") }
            chunks.append(s)
        }
        self.init(chunks: chunks)
    }

    /// One chunk's first object (`json.loads(chunk)[0]`).
    static func head(_ chunk: String, index: Int) throws -> JSONObject {
        let v: JSON
        do { v = try JSON.parse(chunk, source: "agent-groups chunk \(index)") } catch let e as ClusterError {
            throw ClusterError.wazuh(3036, e.message)
        }
        guard case .object(let o)? = v[0] else { throw ClusterError.wazuh(3036, "agent-groups chunk \(index) is not [{...}]") }
        return o
    }

    /// The entries of every chunk, with the errors of entries that do not check (they are left
    /// out, the rest still applies).
    public func entries() throws -> (entries: [AgentGroupsEntry], errors: [String]) {
        var out = [AgentGroupsEntry]()
        var errors = [String]()
        for (i, chunk) in chunks.enumerated() {
            let head = try AgentGroupsPayload.head(chunk, index: i)
            guard case .array(let data)? = head["data"] else { throw ClusterError.wazuh(3036, "agent-groups chunk \(i) has no data array") }
            for item in data {
                do { out.append(try AgentGroupsEntry(json: item)) } catch let e as ClusterError {
                    errors.append("chunk \(i): \(e.message)")
                }
            }
        }
        return (out, errors)
    }

    /// The master's global hash from the last chunk: nil when the key is absent (no check, as the
    /// reference), `.some(nil)` for `null`.
    public func masterHash() throws -> String?? {
        guard let last = chunks.last else { return nil }
        let head = try AgentGroupsPayload.head(last, index: chunks.count - 1)
        guard let h = head["hash"] else { return nil }
        switch h {
        case .null: return .some(nil)
        case .string(let s): return .some(s)
        default: throw ClusterError.wazuh(3036, "hash must be a string or null")
        }
    }
}
