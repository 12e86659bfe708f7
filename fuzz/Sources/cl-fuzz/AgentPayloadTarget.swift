import ClusterKit

/// What workers and the master send about agents: the agent-info envelope and its chunks of rows,
/// one row at a time as the local store takes them, and the agent-groups payload.
enum AgentPayloadTarget {
    static let target = FuzzTarget(name: "agent-payload", summary: "AgentChunkReader, agent-info and agent-groups payloads") { input in
        var input = FuzzInput(input)
        let which = input.byte() % 4
        let data = [UInt8](input.bytes)
        switch which {
        case 0:
            guard let envelope = try? AgentInfoChunks(envelope: data) else { return }
            for chunk in envelope.chunks { _ = try? AgentChunkReader.rows(chunk) }
        case 1:
            _ = try? AgentChunkReader.rows(String(decoding: data, as: UTF8.self))
        case 2:
            for strict in [true, false] {
                _ = try? data.withUnsafeBytes { try AgentChunkReader.record($0, strict: strict) }
            }
        default:
            guard let payload = try? AgentGroupsPayload(envelope: data) else { return }
            _ = try? payload.entries()
            _ = try? payload.masterHash()
        }
    }
}
