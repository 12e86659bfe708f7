/// A complete message off the wire: fragments joined, still encrypted on a TCP link.
public struct ReceivedMessage: Sendable, Equatable {
    public var counter: UInt32
    /// The command name as the reference reads it (bytes 1–11 up to the first space).
    public var name: [UInt8]
    /// The payload: the joined Fernet token on TCP, the plain bytes on the unix socket.
    public var payload: [UInt8]
    public var frames: Int
    public var divided: Bool { frames > 1 }
    public var command: String { String(decoding: name, as: UTF8.self) }
}

/// An incremental frame decoder: feed it any slices of the byte stream and it hands back whole
/// messages, with divided messages reassembled per counter.
///
/// It is an explicit two-state machine (waiting for a header, or waiting for `length` payload
/// bytes of a parsed header), so a read that ends exactly on a header boundary cannot be mistaken
/// for a new header, the reference parser's bug. Every size a peer claims is checked against
/// `FrameLimits` when its header is parsed, before a byte of payload is buffered, and buffers grow
/// with the data that actually arrives rather than with what a header promises.
public struct FrameDecoder: Sendable {
    public let limits: FrameLimits

    private enum State: Sendable {
        case waitingForHeader
        case waitingForPayload(counter: UInt32, name: [UInt8], divided: Bool, remaining: Int)
    }

    private struct Partial: Sendable {
        var name: [UInt8]
        var bytes: [UInt8]
        var fragments: Int
    }

    private var state: State = .waitingForHeader
    private var header: [UInt8] = []
    /// Where the payload of the frame in progress goes: a message of its own, or the divided
    /// message it continues (taken out of `partials` while it grows, so appends stay in place).
    private var current: [UInt8] = []
    private var currentPartial: Partial? = nil
    private var partials: [UInt32: Partial] = [:]
    private var partialBytes = 0

    public init(limits: FrameLimits = .default) {
        self.limits = limits
        header.reserveCapacity(FrameHeader.size)
    }

    /// Divided messages not yet complete.
    public var partialMessages: Int { partials.count }
    /// Whether the decoder sits exactly between frames (no header or payload half read).
    public var isIdle: Bool {
        if case .waitingForHeader = state { return header.isEmpty }
        return false
    }

    public mutating func feed<C: Collection<UInt8>>(_ bytes: C) throws -> [ReceivedMessage] {
        let a = Array(bytes)
        return try a.withUnsafeBytes { try feed($0) }
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws -> [ReceivedMessage] {
        var out = [ReceivedMessage]()
        try feed(bytes) { out.append($0) }
        return out
    }

    /// Feeds bytes and calls `deliver` for each message completed, in order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, deliver: (ReceivedMessage) throws -> Void) throws {
        var i = 0
        let n = bytes.count
        while i < n {
            switch state {
            case .waitingForHeader:
                let take = min(FrameHeader.size - header.count, n - i)
                header.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]))
                i += take
                guard header.count == FrameHeader.size else { continue }
                let h = header.withUnsafeBytes { FrameHeader(parsing: $0) }
                header.removeAll(keepingCapacity: true)
                let name = h.name
                try admit(h, name: name)
                state = .waitingForPayload(counter: h.counter, name: name, divided: h.divided, remaining: Int(h.length))
                if h.length == 0 { try finishFrame(deliver) }
            case .waitingForPayload(_, _, _, let remaining):
                let take = min(remaining, n - i)
                let chunk = UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)])
                if currentPartial != nil {
                    currentPartial!.bytes.append(contentsOf: chunk)
                    partialBytes += take
                } else {
                    current.append(contentsOf: chunk)
                }
                i += take
                if case .waitingForPayload(let c, let nm, let d, let r) = state {
                    state = .waitingForPayload(counter: c, name: nm, divided: d, remaining: r - take)
                    if r - take == 0 { try finishFrame(deliver) }
                }
            }
        }
    }

    /// Checks a parsed header against the limits and prepares the buffer its payload goes to.
    private mutating func admit(_ h: FrameHeader, name: [UInt8]) throws {
        let length = Int(h.length)
        let existing = partials[h.counter]
        try limits.admit(counter: h.counter, length: length, command: String(decoding: name, as: UTF8.self), divided: h.divided,
                         held: .init(continued: existing.map { ($0.bytes.count, $0.fragments) },
                                     partialMessages: partials.count, partialBytes: partialBytes))
        if existing != nil {
            var taken = partials.removeValue(forKey: h.counter)!
            taken.fragments += 1
            taken.bytes.reserveCapacity(taken.bytes.count + min(length, 1 << 20))
            currentPartial = taken
        } else if h.divided {
            var bytes = [UInt8]()
            bytes.reserveCapacity(min(length, 1 << 20))
            currentPartial = Partial(name: name, bytes: bytes, fragments: 1)
        } else {
            current = []
            current.reserveCapacity(min(length, 1 << 20))
        }
    }

    private mutating func finishFrame(_ deliver: (ReceivedMessage) throws -> Void) throws {
        guard case .waitingForPayload(let counter, let name, let divided, _) = state else { return }
        state = .waitingForHeader
        if let p = currentPartial {
            currentPartial = nil
            if divided {
                partials[counter] = p
                return
            }
            partialBytes -= p.bytes.count
            // The final fragment's command names the message, as in the reference.
            try deliver(ReceivedMessage(counter: counter, name: name, payload: p.bytes, frames: p.fragments))
        } else {
            let payload = current
            current = []
            try deliver(ReceivedMessage(counter: counter, name: name, payload: payload, frames: 1))
        }
    }

    /// Called at end of stream: an error if a frame or a divided message was left unfinished.
    public func checkComplete() throws {
        switch state {
        case .waitingForHeader:
            if !header.isEmpty {
                throw ClusterError.badData("stream ended inside a frame header (\(header.count) of 20 bytes)")
            }
        case .waitingForPayload(let counter, let name, _, let remaining):
            throw ClusterError.badData("stream ended inside the payload of counter \(counter) ('\(String(decoding: name, as: UTF8.self))'): \(remaining) bytes missing")
        }
        if let (counter, p) = partials.first {
            throw ClusterError.badData("stream ended with divided message for counter \(counter) ('\(String(decoding: p.name, as: UTF8.self))') unfinished after \(p.fragments) fragments")
        }
    }
}
