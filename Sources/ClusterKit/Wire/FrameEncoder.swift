/// One message as it goes on the wire: every frame is header and payload back to back, and the
/// frames of one message are contiguous. A sender writes `bytes` in one go, which also keeps a
/// header from ever reaching a reference peer without its payload (wire §1.5).
public struct EncodedMessage: Sendable {
    public var bytes: [UInt8]
    /// Byte range of each frame (header included) within `bytes`.
    public var frames: [Range<Int>]
    public var divided: Bool { frames.count > 1 }
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
            var out = [UInt8]()
            out.reserveCapacity(FrameHeader.size + token.count)
            FrameHeader(counter: counter, length: UInt32(token.count), commandField: CommandField.encode(command)).write(into: &out)
            out.append(contentsOf: token)
            return EncodedMessage(bytes: out, frames: [0..<out.count])
        }
        let slice = requestChunk - FrameHeader.size
        let count = (token.count + slice - 1) / slice
        var out = [UInt8]()
        out.reserveCapacity(token.count + count * FrameHeader.size)
        var frames = [Range<Int>]()
        frames.reserveCapacity(count)
        var offset = 0
        for i in 0..<count {
            let end = min(offset + slice, token.count)
            let start = out.count
            let final = i == count - 1
            FrameHeader(counter: counter, length: UInt32(end - offset),
                        commandField: CommandField.encode(command, finalFragment: final)).write(into: &out)
            out.append(contentsOf: token[offset..<end])
            frames.append(start..<out.count)
            offset = end
        }
        return EncodedMessage(bytes: out, frames: frames)
    }

    public func encode(command: String, counter: UInt32, payload: some Collection<UInt8>,
                       timestamp: UInt64? = nil, iv: [UInt8]? = nil) throws -> EncodedMessage {
        let p = Array(payload)
        return try p.withUnsafeBytes { try encode(command: Array(command.utf8), counter: counter, payload: $0, timestamp: timestamp, iv: iv) }
    }
}
