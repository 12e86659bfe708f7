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
}

extension ChunkRecord {
    /// The longest line `toJSON` writes for a chunk of `dataSize` bytes: the base64 of the data,
    /// the 64 hex digits of its digest, and room for the keys, an id of up to 128 bytes and the
    /// numbers.
    public static func lineBytes(forDataSize dataSize: Int) -> Int {
        Base64.encodedLength(dataSize) + 64 + 256
    }

    /// Parses and verifies one record (its own digest and size; sequence checks are the
    /// joiner's) straight from the bytes of its line, without building a
    /// JSON tree: the line must be one object whose members are the six keys, each of its own
    /// type, so a hostile line (an array of millions of values, a deep nest, an unknown key)
    /// is refused at the first byte that is not a chunk, holding nothing but the line itself.
    public init(bytes: UnsafeRawBufferPointer, line: Int) throws {
        func fail(_ why: String) -> ClusterError { ClusterError.badData("chunk on line \(line): \(why)") }
        var s = JSONScanner(bytes)
        var id: String?, seq: Int64?, last: Bool?, size: Int64?, sha: String?, data: [UInt8]?
        do {
            guard try s.peek() == UInt8(ascii: "{") else { throw fail("expected a JSON object") }
            try s.enter()
            s.i += 1
            if !(try s.take(UInt8(ascii: "}"))) {
                repeat {
                    guard try s.peek() == UInt8(ascii: "\"") else { throw s.fail("expected a key") }
                    let key = try s.string()
                    try s.expect(UInt8(ascii: ":"))
                    func integer() throws -> Int64? {
                        guard case .int(let n) = try s.number() else { return nil }
                        return n
                    }
                    func string() throws -> String? {
                        guard try s.peek() == UInt8(ascii: "\"") else { return nil }
                        return try s.string()
                    }
                    func once<T>(_ v: T?) throws {
                        guard v == nil else { throw fail("duplicate key '\(key)'") }
                    }
                    switch key {
                    case "id":
                        try once(id)
                        guard let v = try string() else { throw fail("'id' must be a string") }
                        id = v
                    case "seq":
                        try once(seq)
                        guard try s.peek() != UInt8(ascii: "\""), let v = try integer(), v >= 0, v <= Int64(Int32.max) else {
                            throw fail("'seq' must be a non-negative integer")
                        }
                        seq = v
                    case "size":
                        try once(size)
                        guard try s.peek() != UInt8(ascii: "\""), let v = try integer(), v >= 0 else {
                            throw fail("'size' must be a non-negative integer")
                        }
                        size = v
                    case "last":
                        try once(last)
                        switch try s.peek() {
                        case UInt8(ascii: "t"): try s.literal("true"); last = true
                        case UInt8(ascii: "f"): try s.literal("false"); last = false
                        default: throw fail("'last' must be true or false")
                        }
                    case "sha256":
                        try once(sha)
                        guard let v = try string(), v.utf8.count == 64 else { throw fail("'sha256' must be 64 hex digits") }
                        sha = v
                    case "data":
                        try once(data)
                        guard try s.peek() == UInt8(ascii: "\"") else { throw fail("'data' must be standard base64") }
                        // Base64 needs no escapes; a writer that escapes '/' takes the slow way.
                        let decoded = try s.plainStringBytes().map { Base64.decode($0) } ?? Base64.decode(try s.string())
                        guard let decoded else { throw fail("'data' must be standard base64") }
                        data = decoded
                    default:
                        throw fail("unknown key '\(key.prefix(40))'")
                    }
                } while try s.take(UInt8(ascii: ","))
                try s.expect(UInt8(ascii: "}"))
            }
            try s.finish()
        } catch let e as ClusterError where !e.message.hasPrefix("chunk on line") {
            throw fail(e.message)
        }
        guard let id else { throw fail("'id' must be a string") }
        guard let seq else { throw fail("'seq' must be a non-negative integer") }
        guard let last else { throw fail("'last' must be true or false") }
        guard let size else { throw fail("'size' must be a non-negative integer") }
        guard let sha else { throw fail("'sha256' must be 64 hex digits") }
        guard let data else { throw fail("'data' must be standard base64") }
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
