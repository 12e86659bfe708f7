/// The JSON Lines chunk format of `cl-chunk split` / `join`:
/// `{"id","seq","last","size","sha256","data"}`, `data` in standard base64, `sha256` in hex.
///
/// `ChunkSplitter` emits records; `ChunkJoiner` verifies them (one id, consecutive `seq` from 0,
/// each digest and size, exactly one `last`, nothing after it) and yields the data only for
/// records that verify, so a caller can refuse to write anything until the whole stream is proven.
public struct ChunkRecord: Sendable, Equatable {
    public var id: String
    public var seq: Int
    public var last: Bool
    public var data: [UInt8]

    public init(id: String, seq: Int, last: Bool, data: [UInt8]) {
        self.id = id
        self.seq = seq
        self.last = last
        self.data = data
    }

    public func toJSON() -> JSON {
        [
            "id": .string(id), "seq": .int(Int64(seq)), "last": .bool(last), "size": .int(Int64(data.count)),
            "sha256": .string(Digest.sha256Hex(data)), "data": .string(Base64.encodeString(data)),
        ]
    }

    /// Parses and verifies one record (its own digest and size); sequence checks are the joiner's.
    public init(json: JSON, line: Int) throws {
        func fail(_ why: String) -> ClusterError { ClusterError.badData("chunk on line \(line): \(why)") }
        guard case .object(let o) = json else { throw fail("expected a JSON object, got \(json.typeName)") }
        for k in o.keys where !["id", "seq", "last", "size", "sha256", "data"].contains(k) {
            throw fail("unknown key '\(k)'")
        }
        guard let id = o["id"]?.stringValue else { throw fail("'id' must be a string") }
        guard let seq = o["seq"]?.intValue, seq >= 0, seq <= Int64(Int32.max) else { throw fail("'seq' must be a non-negative integer") }
        guard let last = o["last"]?.boolValue else { throw fail("'last' must be true or false") }
        guard let size = o["size"]?.intValue, size >= 0 else { throw fail("'size' must be a non-negative integer") }
        guard let sha = o["sha256"]?.stringValue, sha.utf8.count == 64 else { throw fail("'sha256' must be 64 hex digits") }
        guard let b64 = o["data"]?.stringValue, let data = Base64.decode(b64) else { throw fail("'data' must be standard base64") }
        guard data.count == Int(size) else { throw fail("'size' says \(size) bytes but 'data' holds \(data.count)") }
        guard Digest.sha256Hex(data) == sha.lowercased() else { throw fail("sha256 does not match the data (seq \(seq))") }
        self.init(id: id, seq: Int(seq), last: last, data: data)
    }
}

/// Checks the order of a chunk stream.
public struct ChunkJoiner: Sendable {
    public private(set) var id: String?
    public private(set) var nextSeq = 0
    public private(set) var finished = false
    public private(set) var totalBytes = 0

    public init() {}

    /// Accepts the next record or throws naming what is wrong (exit 65).
    public mutating func accept(_ r: ChunkRecord, line: Int) throws {
        guard !finished else {
            throw ClusterError.badData("chunk on line \(line) comes after the last chunk of stream '\(id ?? "")'")
        }
        if let id, id != r.id {
            throw ClusterError.badData("chunk on line \(line) belongs to stream '\(r.id)', expected '\(id)'")
        }
        guard r.seq == nextSeq else {
            if r.seq < nextSeq {
                throw ClusterError.badData("chunk on line \(line) repeats or reorders seq \(r.seq) (expected \(nextSeq))")
            }
            throw ClusterError.badData("chunk seq \(nextSeq) is missing (line \(line) has seq \(r.seq))")
        }
        id = r.id
        nextSeq += 1
        totalBytes += r.data.count
        if r.last { finished = true }
    }

    /// At end of input: the stream must have ended with its last chunk.
    public func finish() throws {
        guard finished else {
            if id == nil { throw ClusterError.badData("no chunks on input") }
            throw ClusterError.badData("stream '\(id!)' ended after seq \(nextSeq - 1) without its last chunk")
        }
    }
}
