/// One agent-info push read for applying: its removals and each chunk's rows as records (or why
/// the chunk or the row was refused), in the push's order.
///
/// The master reads a push into this before it takes the store's one writer, so that reading
/// the next push (from another worker, on another core) overlaps with writing this one, and the
/// envelope and its chunk strings are released before the write starts.
public struct AgentInfoRows: Sendable {
    /// Each chunk's rows, or the error that made the whole chunk unreadable.
    public var chunks: [Result<[Result<AgentRecord, ClusterError>], ClusterError>]
    public var removed: [Int]

    public init(_ push: AgentInfoChunks) {
        chunks = push.chunks.map { chunk in Result { try AgentChunkReader.rows(chunk) }.mapError { $0 as? ClusterError ?? .badData("\($0)") } }
        removed = push.removed
    }

    /// Reads a worker's envelope (ours or a reference worker's).
    public init(envelope bytes: [UInt8]) throws {
        self.init(try AgentInfoChunks(envelope: bytes))
    }

    public var rowCount: Int { chunks.reduce(0) { $0 + ((try? $1.get().count) ?? 0) } }
}
