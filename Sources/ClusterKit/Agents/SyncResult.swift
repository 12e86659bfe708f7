import Foundation

/// The result a receiver sends back after applying agent-info (`syn_m_a_e`) or agent-groups
/// (`syn_w_g_e`, `syn_wgc_e`): `{"updated_chunks": n, "error_messages": [...], "time_spent": s}`,
/// exactly the reference's keys, written as Python's `json.dumps`.
public struct SyncResult: Sendable, Equatable {
    public var updatedChunks: Int
    public var errorMessages: [String]
    public var timeSpent: Double

    public init(updatedChunks: Int, errorMessages: [String] = [], timeSpent: Double) {
        self.updatedChunks = updatedChunks
        self.errorMessages = errorMessages
        self.timeSpent = timeSpent
    }

    public var json: JSON {
        ["updated_chunks": .int(Int64(updatedChunks)), "error_messages": .array(errorMessages.map { .string($0) }),
         "time_spent": .double(timeSpent)]
    }

    public func bytes() -> [UInt8] { JSONWriter.python.bytes(json) }

    public init(bytes: [UInt8]) throws {
        let v = try JSON.parse(bytes, source: "sync result")
        guard case .object(let o) = v, let n = o["updated_chunks"]?.intValue else {
            throw ClusterError.wazuh(3036, "a sync result needs updated_chunks")
        }
        updatedChunks = Int(n)
        errorMessages = (o["error_messages"]?.arrayValue ?? []).map { $0.stringValue ?? JSONWriter.compact.string($0) }
        timeSpent = o["time_spent"]?.doubleValue ?? 0
    }
}
