/// The caps a receiver enforces before it buffers anything a peer claims it will send.
///
/// The reference has none: it allocates whatever a header's length says (up to 4 GiB) and buffers
/// divided fragments without limit. These defaults accept everything a reference peer sends (its
/// largest single frame is a 5 MiB plaintext's 6,990,604-byte token) and nothing much larger.
public struct FrameLimits: Sendable, Equatable {
    /// Largest payload of one frame (`limits.max_frame_bytes`).
    public var maxFrameBytes: Int
    /// Largest reassembled message (`limits.max_message_bytes`).
    public var maxMessageBytes: Int
    /// Most fragments one divided message may have.
    public var maxFragments: Int
    /// Most divided messages in progress on one connection.
    public var maxPartialMessages: Int
    /// Most bytes held in unfinished divided messages on one connection.
    public var maxPartialBytes: Int

    public init(maxFrameBytes: Int = 8 << 20, maxMessageBytes: Int = 256 << 20, maxFragments: Int = 4096,
                maxPartialMessages: Int = 16, maxPartialBytes: Int? = nil) {
        self.maxFrameBytes = maxFrameBytes
        self.maxMessageBytes = maxMessageBytes
        self.maxFragments = maxFragments
        self.maxPartialMessages = maxPartialMessages
        self.maxPartialBytes = maxPartialBytes ?? maxMessageBytes
    }

    public static let `default` = FrameLimits()

    /// What a decoder holds when a header arrives: the divided message the frame continues (its
    /// bytes and fragments so far), and all unfinished divided messages of the connection.
    public struct Held: Sendable {
        public var continued: (bytes: Int, fragments: Int)?
        public var partialMessages: Int
        public var partialBytes: Int

        public init(continued: (bytes: Int, fragments: Int)?, partialMessages: Int, partialBytes: Int) {
            self.continued = continued
            self.partialMessages = partialMessages
            self.partialBytes = partialBytes
        }
    }

    /// Checks a parsed header against the limits, before a byte of its payload is kept. Every
    /// decoder of the product (the library's and the runtime's) refuses through this one check.
    public func admit(counter: UInt32, length: Int, command: String, divided: Bool, held: Held) throws {
        let what = "frame for counter \(counter) (command '\(command.prefix(16))')"
        guard length <= maxFrameBytes else {
            throw ClusterError.badData("\(what) claims \(length) payload bytes, over the \(maxFrameBytes)-byte frame limit")
        }
        if let p = held.continued {
            guard p.bytes + length <= maxMessageBytes else {
                throw ClusterError.badData("divided message for counter \(counter) would exceed the \(maxMessageBytes)-byte message limit")
            }
            guard p.fragments + 1 <= maxFragments else {
                throw ClusterError.badData("divided message for counter \(counter) has more than \(maxFragments) fragments")
            }
        } else if divided {
            guard held.partialMessages < maxPartialMessages else {
                throw ClusterError.badData("more than \(maxPartialMessages) divided messages in progress on this connection")
            }
        } else {
            return
        }
        guard held.partialBytes + length <= maxPartialBytes else {
            throw ClusterError.badData("unfinished divided messages on this connection would exceed \(maxPartialBytes) bytes")
        }
    }
}
