import NIOCore

/// One whole message off the wire, fragments joined, still encrypted on a TCP link. The payload
/// is a slice of what was read when the message came in one frame.
struct WireMessage {
    var counter: UInt32
    var command: String
    var payload: ByteBuffer
    var frames: Int

    /// What the message cost on the wire, headers included.
    var wireBytes: Int { payload.readableBytes + 20 * frames }
}
