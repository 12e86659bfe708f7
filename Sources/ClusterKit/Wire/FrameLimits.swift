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
}
