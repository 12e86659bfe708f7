/// What the frame decoder may accept right now, and what it holds; shared between a
/// connection's decoder and its handler, on the connection's event loop only.
///
/// Before a valid hello, a cluster link admits exactly one undivided `hello` frame of at most
/// `helloBytes`: a stranger without the key can make us hold 64 KiB at most, never a divided
/// message. The handler lifts the restriction once the hello is accepted.
final class FrameAdmission {
    enum Mode {
        /// One undivided hello frame, then nothing until the handler decides.
        case helloOnly(maxBytes: Int)
        case open
    }

    var mode: Mode
    /// Frames the decoder has passed on while in `helloOnly`.
    var helloFramesSeen = 0
    /// Bytes the decoder holds: the frame in progress and unfinished divided messages.
    var heldBytes = 0

    init(mode: Mode) {
        self.mode = mode
    }

    static let defaultHelloBytes = 64 * 1024
}
