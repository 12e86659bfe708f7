import CZlib

/// zlib (RFC 1950) streams with the parameters of Python's `zlib.compress(data, level)`:
/// window 15, memLevel 8, default strategy. With the same zlib build this gives the reference's
/// exact bytes (level 1 streams start `78 01`).
public enum Zlib {
    public static let defaultLevel: Int32 = 1

    /// Compresses `data` in one call.
    public static func compress(_ data: UnsafeRawBufferPointer, level: Int32 = defaultLevel) throws -> [UInt8] {
        let d = try Deflater(level: level)
        var out = [UInt8]()
        out.reserveCapacity(Int(compressBound(uLong(data.count))))
        try d.update(data) { out.append(contentsOf: $0) }
        try d.finish { out.append(contentsOf: $0) }
        return out
    }

    public static func compress(_ data: [UInt8], level: Int32 = defaultLevel) throws -> [UInt8] {
        try data.withUnsafeBytes { try compress($0, level: level) }
    }

    /// Decompresses a whole stream, refusing to produce more than `maxOutput` bytes (a zlib bomb
    /// stops at the cap instead of exhausting memory) and refusing trailing garbage or truncation.
    public static func decompress(_ data: UnsafeRawBufferPointer, maxOutput: Int) throws -> [UInt8] {
        let inf = try Inflater(maxOutput: maxOutput)
        var out = [UInt8]()
        try inf.update(data) { out.append(contentsOf: $0) }
        try inf.finish()
        return out
    }

    public static func decompress(_ data: [UInt8], maxOutput: Int) throws -> [UInt8] {
        try data.withUnsafeBytes { try decompress($0, maxOutput: maxOutput) }
    }
}

/// A streaming compressor: feed input in any slices; output is the same stream a one-shot call
/// makes (deflate's block decisions do not depend on how input is sliced with Z_NO_FLUSH).
public final class Deflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private var finished = false
    private var outBuf = [UInt8](repeating: 0, count: 64 * 1024)
    public private(set) var totalIn = 0
    public private(set) var totalOut = 0

    public init(level: Int32 = Zlib.defaultLevel) throws {
        guard (0...9).contains(level) else { throw ClusterError.usage("zlib level must be 0-9, got \(level)") }
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let rc = deflateInit2_(stream, level, Z_DEFLATED, MAX_WBITS, 8, Z_DEFAULT_STRATEGY,
                               zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            stream.deallocate()
            throw ClusterError.internalError("zlib deflateInit failed (\(rc))", code: 3001)
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Starts a new stream with the same parameters. The bytes are those of a fresh `Deflater`,
    /// without setting up zlib's state (window, hash tables) again: that costs more than
    /// deflating a small file.
    public func reset() throws {
        let rc = deflateReset(stream)
        guard rc == Z_OK else { throw ClusterError.internalError("zlib deflateReset failed (\(rc))", code: 3001) }
        finished = false
        totalIn = 0
        totalOut = 0
    }

    public func update(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(!finished)
        guard input.count > 0 else { return }
        try run(input, flush: Z_NO_FLUSH, sink: sink)
    }

    public func finish(sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(!finished)
        try run(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH, sink: sink)
        finished = true
    }

    private func run(_ input: UnsafeRawBufferPointer, flush: Int32, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var offset = 0
        repeat {
            // zlib's avail_in is 32-bit: large inputs go in slices.
            let take = min(input.count - offset, Int(UInt32.max >> 1))
            stream.pointee.next_in = take > 0 ? UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self) + offset) : nil
            stream.pointee.avail_in = uInt(take)
            let last = offset + take == input.count
            let f = last ? flush : Z_NO_FLUSH
            var rc: Int32 = Z_OK
            repeat {
                let produced: Int = outBuf.withUnsafeMutableBytes { ob in
                    stream.pointee.next_out = ob.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.pointee.avail_out = uInt(ob.count)
                    rc = deflate(stream, f)
                    return ob.count - Int(stream.pointee.avail_out)
                }
                guard rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR else {
                    throw ClusterError.internalError("zlib deflate failed (\(rc))", code: 3001)
                }
                if produced > 0 {
                    totalOut += produced
                    try outBuf.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
                }
            } while stream.pointee.avail_out == 0 || (f == Z_FINISH && rc != Z_STREAM_END)
            totalIn += take
            offset += take
        } while offset < input.count
    }
}

/// A streaming decompressor with a cap on what it will produce.
public final class Inflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private var outBuf = [UInt8](repeating: 0, count: 64 * 1024)
    public let maxOutput: Int
    public private(set) var totalOut = 0
    public private(set) var ended = false

    public init(maxOutput: Int) throws {
        self.maxOutput = maxOutput
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let rc = inflateInit2_(stream, MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            stream.deallocate()
            throw ClusterError.internalError("zlib inflateInit failed (\(rc))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Feeds compressed bytes; `sink` receives decompressed output. Bytes after the end of the
    /// stream are an error.
    public func update(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var offset = 0
        while offset < input.count {
            if ended { throw ClusterError.badData("data after the end of a zlib stream") }
            let take = min(input.count - offset, Int(UInt32.max >> 1))
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self) + offset)
            stream.pointee.avail_in = uInt(take)
            repeat {
                var rc: Int32 = Z_OK
                let produced: Int = outBuf.withUnsafeMutableBytes { ob in
                    stream.pointee.next_out = ob.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.pointee.avail_out = uInt(ob.count)
                    rc = inflate(stream, Z_NO_FLUSH)
                    return ob.count - Int(stream.pointee.avail_out)
                }
                switch rc {
                case Z_OK, Z_BUF_ERROR: break
                case Z_STREAM_END: ended = true
                case Z_DATA_ERROR: throw ClusterError.badData("corrupt zlib data")
                case Z_NEED_DICT: throw ClusterError.badData("zlib stream needs a preset dictionary")
                case Z_MEM_ERROR: throw ClusterError.internalError("zlib is out of memory")
                default: throw ClusterError.badData("zlib inflate failed (\(rc))")
                }
                if produced > 0 {
                    totalOut += produced
                    guard totalOut <= maxOutput else {
                        throw ClusterError.badData("zlib stream expands beyond the \(maxOutput)-byte limit")
                    }
                    try outBuf.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
                }
                if ended {
                    if stream.pointee.avail_in > 0 { throw ClusterError.badData("data after the end of a zlib stream") }
                    break
                }
                if rc == Z_BUF_ERROR && produced == 0 { break }
            } while stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0
            offset += take
        }
    }

    /// Call after the last input: an error if the stream was cut short.
    public func finish() throws {
        guard ended else { throw ClusterError.badData("truncated zlib stream") }
    }
}
