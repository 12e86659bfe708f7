import ClusterKit
import NIOCore

/// The first inbound handler of every cluster connection: bytes in, whole messages out, through
/// ClusterKit's `FrameDecoder` (so every peer-claimed size is checked before it is buffered).
/// A framing error closes the connection; the error travels on to the reader, which logs it.
final class FrameReader: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ReceivedMessage

    private var decoder: FrameDecoder
    private var failed = false

    init(limits: FrameLimits) {
        decoder = FrameDecoder(limits: limits)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let buffer = unwrapInboundIn(data)
        var messages: [ReceivedMessage] = []
        do {
            try buffer.withUnsafeReadableBytes { raw in
                try decoder.feed(raw) { messages.append($0) }
            }
        } catch {
            failed = true
            for m in messages { context.fireChannelRead(wrapInboundOut(m)) }
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        for m in messages { context.fireChannelRead(wrapInboundOut(m)) }
    }
}

/// Outbound: whole encoded messages (all frames of one message in one buffer) go out as they are.
enum WireBuffer {
    static func make(_ allocator: ByteBufferAllocator, _ message: EncodedMessage) -> ByteBuffer {
        var b = allocator.buffer(capacity: message.bytes.count)
        b.writeBytes(message.bytes)
        return b
    }
}
