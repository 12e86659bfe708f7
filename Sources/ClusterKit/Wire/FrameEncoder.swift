/// One message as it goes on the wire: every frame is header and payload back to back, and the
/// frames of one message are contiguous. A sender writes `bytes` in one go, which also keeps a
/// header from ever reaching a reference peer without its payload (wire §1.5).
public struct EncodedMessage: Sendable {
    public var bytes: [UInt8]
    /// Byte range of each frame (header included) within `bytes`.
    public var frames: [Range<Int>]
    public var divided: Bool { frames.count > 1 }
}

/// A message's frames as its token and one header per frame: frame i is `headers[i]` followed by
/// `token[slices[i]]`.
public struct EncodedParts: Sendable {
    public var token: [UInt8]
    public var headers: [[UInt8]]
    public var slices: [Range<Int>]

    /// The size of the frames back to back.
    public var byteCount: Int { token.count + headers.reduce(0) { $0 + $1.count } }

    /// Byte range of each frame (header included) in the frames back to back.
    public var frames: [Range<Int>] {
        var out = [Range<Int>](), at = 0
        for (h, r) in zip(headers, slices) {
            out.append(at..<(at + h.count + r.count))
            at += h.count + r.count
        }
        return out
    }

    /// Hands the frames' bytes to `emit` in order.
    public func write(_ emit: (UnsafeRawBufferPointer) -> Void) {
        token.withUnsafeBytes { t in
            for (h, r) in zip(headers, slices) {
                h.withUnsafeBytes { emit($0) }
                emit(UnsafeRawBufferPointer(rebasing: t[r]))
            }
        }
    }
}

/// Builds frames exactly as the reference's `msg_build` does.
///
/// The whole plaintext is encrypted once (on TCP) into a token T. Whether to divide is decided on
/// the plaintext length: up to `requestChunk` bytes go out as one frame carrying all of T (so a
/// single frame can be ~1.33 × requestChunk); longer plaintexts have T cut into slices of
/// `requestChunk − 20` bytes, all under the same counter, flagged `d` but the last.
public struct FrameEncoder: Sendable {
    public static let defaultRequestChunk = 5_242_880

    public var requestChunk: Int
    public var fernet: Fernet?

    public init(fernet: Fernet?, requestChunk: Int = FrameEncoder.defaultRequestChunk) {
        precondition(requestChunk > FrameHeader.size, "request_chunk must exceed the header size")
        self.fernet = fernet
        self.requestChunk = requestChunk
    }

    public func encode(command: [UInt8], counter: UInt32, payload: UnsafeRawBufferPointer,
                       timestamp: UInt64? = nil, iv: [UInt8]? = nil) throws -> EncodedMessage {
        let parts = try encodeParts(command: command, counter: counter, payload: payload, timestamp: timestamp, iv: iv)
        var out = [UInt8]()
        out.reserveCapacity(parts.byteCount)
        parts.write { out.append(contentsOf: $0) }
        return EncodedMessage(bytes: out, frames: parts.frames)
    }

    /// The size of the one frame an encrypted message of `payloadCount` bytes goes out in; nil
    /// when it is divided or not encrypted (then use `encodeParts`).
    public func singleFrameSize(payloadCount: Int) -> Int? {
        guard fernet != nil, payloadCount <= requestChunk else { return nil }
        return FrameHeader.size + Fernet.tokenLength(plaintextCount: payloadCount)
    }

    /// Writes such a message's frame (header, then the token) straight into `out`, which holds
    /// exactly `singleFrameSize` bytes: the same bytes as `encode`, with no token array between
    /// (a 5 MiB file slice is a 6.7 MB token).
    public func encodeSingleFrame(command: [UInt8], counter: UInt32, payload: UnsafeRawBufferPointer,
                                  into out: UnsafeMutableRawBufferPointer, timestamp: UInt64? = nil, iv: [UInt8]? = nil) throws {
        try CommandField.validate(command)
        guard let fernet, let size = singleFrameSize(payloadCount: payload.count), out.count == size else {
            preconditionFailure("encodeSingleFrame: not a single encrypted frame of \(out.count) bytes")
        }
        let header = FrameHeader(counter: counter, length: UInt32(size - FrameHeader.size), commandField: CommandField.encode(command)).bytes
        header.withUnsafeBytes { out.copyMemory(from: $0) }
        fernet.encrypt(payload, into: UnsafeMutableRawBufferPointer(rebasing: out[FrameHeader.size...]), timestamp: timestamp, iv: iv)
    }

    /// The same message as its token and frame headers, not yet gathered: a sender that has its
    /// own buffer writes them there (`EncodedParts.write`) without an intermediate copy of the
    /// token (6.7 MB for a 5 MiB payload).
    public func encodeParts(command: [UInt8], counter: UInt32, payload: UnsafeRawBufferPointer,
                            timestamp: UInt64? = nil, iv: [UInt8]? = nil) throws -> EncodedParts {
        try CommandField.validate(command)
        let token: [UInt8]
        if let fernet {
            token = fernet.encrypt(payload, timestamp: timestamp, iv: iv)
        } else {
            token = Array(payload)
        }
        guard token.count <= Int(UInt32.max) || payload.count > requestChunk else {
            throw ClusterError.usage("a single frame cannot carry more than 4 GiB")
        }
        if payload.count <= requestChunk {
            let header = FrameHeader(counter: counter, length: UInt32(token.count), commandField: CommandField.encode(command)).bytes
            return EncodedParts(token: token, headers: [header], slices: [0..<token.count])
        }
        let slice = requestChunk - FrameHeader.size
        let count = (token.count + slice - 1) / slice
        var headers = [[UInt8]](), slices = [Range<Int>]()
        headers.reserveCapacity(count)
        slices.reserveCapacity(count)
        var offset = 0
        for i in 0..<count {
            let end = min(offset + slice, token.count)
            headers.append(FrameHeader(counter: counter, length: UInt32(end - offset),
                                       commandField: CommandField.encode(command, finalFragment: i == count - 1)).bytes)
            slices.append(offset..<end)
            offset = end
        }
        return EncodedParts(token: token, headers: headers, slices: slices)
    }

    public func encode(command: String, counter: UInt32, payload: some Collection<UInt8>,
                       timestamp: UInt64? = nil, iv: [UInt8]? = nil) throws -> EncodedMessage {
        let p = Array(payload)
        return try p.withUnsafeBytes { try encode(command: Array(command.utf8), counter: counter, payload: $0, timestamp: timestamp, iv: iv) }
    }
}
