/// Packs already-serialised JSON values into JSON arrays that each stay strictly under a byte
/// limit, the way wazuh-db fills its 65,024-byte responses (`WDB_MAX_RESPONSE_SIZE`, 65536 − 512):
/// an item joins the current chunk while the chunk, with its closing bytes, stays under the limit.
public struct JSONChunkPacker: Sendable {
    public let limit: Int
    /// Bytes before the first item (`[`, or `[{"data":[` for agent-groups).
    public let prefix: [UInt8]
    /// Bytes after the last item (`]`, or `]}]`), plus any room to keep free for a trailer.
    public let suffix: [UInt8]
    public let reserve: Int

    public init(limit: Int = AgentInfoChunks.maxChunkBytes, prefix: [UInt8] = Array("[".utf8),
                suffix: [UInt8] = Array("]".utf8), reserve: Int = 0) {
        self.limit = limit
        self.prefix = prefix
        self.suffix = suffix
        self.reserve = reserve
    }

    /// The largest item that fits in a chunk on its own.
    public var maxItemBytes: Int { limit - 1 - prefix.count - suffix.count - reserve }

    /// The chunks, in item order. No items gives no chunks. An item too large for any chunk is
    /// an error (records are checked against this when they are accepted, so it means a bug or a
    /// hostile peer).
    public func pack(_ items: [[UInt8]]) throws -> [[UInt8]] {
        var chunks = [[UInt8]]()
        var current = prefix
        var count = 0
        let fixed = suffix.count + reserve
        for item in items {
            guard item.count <= maxItemBytes else {
                throw ClusterError.badData("a \(item.count)-byte item does not fit in a \(limit)-byte chunk")
            }
            let separator = count > 0 ? 1 : 0
            if current.count + separator + item.count + fixed >= limit {
                current.append(contentsOf: suffix)
                chunks.append(current)
                current = prefix
                count = 0
            }
            if count > 0 { current.append(UInt8(ascii: ",")) }
            current.append(contentsOf: item)
            count += 1
        }
        if count > 0 {
            current.append(contentsOf: suffix)
            chunks.append(current)
        }
        return chunks
    }
}
