/// The row size limit (docs/AGENTS.md): an agent's row, as it is stored after an update, must fit
/// in one agent-info chunk, its compact JSON at most `AgentRecord.maxWireBytes` (64,960) bytes.
/// An update gives only some fields, so the limit holds for the row it would leave (the given
/// fields over the stored ones), not for the update alone.
extension AgentRecord {
    /// The row an update leaves: the given fields over `stored` (nil: a new row). `nodeName` is
    /// what the update writes to `node_name` when it does not give one (the master always writes
    /// the sending worker's name: pass `forceNode`).
    public func merged(over stored: AgentRecord?, nodeName: String, forceNode: Bool) -> AgentRecord {
        var out = self
        if let stored {
            for i in 0..<values.count where out.values[i] == nil { out.values[i] = stored.values[i] }
            if out.labels == nil { out.labels = stored.labels }
        } else {
            // A new row gets wazuh-db's column defaults (`AgentStore.insertDefaults`).
            for (name, value) in AgentRecord.insertDefaults where out[name] == nil { out[name] = value }
        }
        if forceNode || out.values[AgentRecord.nodeNameIndex] == nil {
            out.values[AgentRecord.nodeNameIndex] = .text(nodeName)
        }
        return out
    }

    /// An upper bound of `wireBytes().count`, without writing it: every key and integer, plus
    /// every text byte escaped at worst (`\u00XX`, six bytes).
    var wireBytesBound: Int {
        var total = 32 + AgentRecord.fields.count * 44
        for v in values {
            if case .text(let s)? = v { total += 6 * s.utf8.count }
        }
        if let labels {
            for l in labels { total += 64 + 6 * (l.key.utf8.count + l.value.utf8.count) }
        }
        return total
    }

    /// Whether the row fits in one chunk; nil when it does, else its size in bytes.
    public func oversize() -> Int? {
        if wireBytesBound <= AgentRecord.maxWireBytes { return nil }
        let size = wireBytes().count
        return size <= AgentRecord.maxWireBytes ? nil : size
    }

    static let insertDefaults: [String: Value] = ["connection_status": .text("never_connected"),
                                                  "group_config_status": .text("not synced"),
                                                  "disconnection_time": .integer(0), "status_code": .integer(0)]

    /// The message for a row past the limit.
    public static func oversizeMessage(_ id: Int, size: Int) -> String {
        "agent \(formatID(id)) would be \(size) bytes of JSON; a row must fit in one \(AgentInfoChunks.maxChunkBytes)-byte chunk (at most \(maxWireBytes) bytes)"
    }
}
