/// What a worker pushes in one agent-info sync (sync §5): its changed rows packed into chunks,
/// each a compact JSON array under 65,024 bytes, inside the reference's envelope
/// `{"set_data_command": "global sync-agent-info-set", "payload": {}, "chunks": ["[...]", ...]}`
/// (written as Python's `json.dumps` writes it).
///
/// Our one addition: agents removed on the worker travel as `"removed_agents": [ids]` after the
/// reference's keys, and only when there are some. A reference master reads `chunks`,
/// `set_data_command` and `payload` only, so the envelope stays compatible.
public struct AgentInfoChunks: Sendable, Equatable {
    public static let maxChunkBytes = 65_024
    public static let setCommand = "global sync-agent-info-set"
    public static let removedKey = "removed_agents"

    /// Each chunk is the text of a JSON array of rows.
    public var chunks: [String]
    public var removed: [Int]

    public init(chunks: [String], removed: [Int] = []) {
        self.chunks = chunks
        self.removed = removed
    }

    /// Packs rows (each `AgentRecord.wireBytes()`, or the same shape read from the store).
    public init(rows: [[UInt8]], removed: [Int] = []) throws {
        let packed = try JSONChunkPacker().pack(rows)
        self.init(chunks: packed.map { String(decoding: $0, as: UTF8.self) }, removed: removed)
    }

    public var isEmpty: Bool { chunks.isEmpty && removed.isEmpty }

    /// What Python's `json.dumps` writes for the reference's dict (written directly: it holds
    /// megabytes of escaped chunks).
    public func envelope() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(chunks.reduce(128) { $0 + $1.utf8.count + $1.utf8.count / 8 + 4 } + removed.count * 8)
        out.append(contentsOf: "{\"set_data_command\": \"\(AgentInfoChunks.setCommand)\", \"payload\": {}, \"chunks\": ".utf8)
        JSONEscaping.appendPythonList(chunks, into: &out)
        if !removed.isEmpty {
            out.append(contentsOf: ", \"\(AgentInfoChunks.removedKey)\": [".utf8)
            out.append(contentsOf: removed.map(String.init).joined(separator: ", ").utf8)
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Reads an envelope a worker sent (ours or a reference worker's).
    public init(envelope bytes: [UInt8]) throws {
        let v: JSON
        do { v = try bytes.withUnsafeBytes { try JSONScanner.parse($0) } } catch let e as ClusterError {
            throw ClusterError.wazuh(3036, "agent-info: \(e.message)")
        }
        guard case .object(let o) = v else { throw ClusterError.wazuh(3036, "agent-info must be a JSON object") }
        guard o["set_data_command"]?.stringValue == AgentInfoChunks.setCommand else {
            throw ClusterError.wazuh(3037, "unexpected set_data_command \(o["set_data_command"].map { JSONWriter.compact.string($0) } ?? "(missing)")")
        }
        guard case .array(let items)? = o["chunks"] else { throw ClusterError.wazuh(3036, "agent-info has no chunks array") }
        var chunks = [String]()
        chunks.reserveCapacity(items.count)
        for item in items {
            guard case .string(let s) = item else { throw ClusterError.wazuh(3036, "every chunk must be a string") }
            chunks.append(s)
        }
        var removed = [Int]()
        if let r = o[AgentInfoChunks.removedKey], !r.isNull {
            guard case .array(let ids) = r else { throw ClusterError.wazuh(3036, "\(AgentInfoChunks.removedKey) must be an array") }
            for id in ids {
                do { removed.append(try AgentRecord.parseID(id)) } catch let e as ClusterError {
                    throw ClusterError.wazuh(3036, "\(AgentInfoChunks.removedKey): \(e.message)")
                }
            }
        }
        self.init(chunks: chunks, removed: removed)
    }
}
