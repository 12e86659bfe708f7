import ClusterKit
import NIOCore

/// Bytes in, whole messages out: the cluster's 20-byte framing as a `ByteToMessageDecoder`.
///
/// An explicit two-state machine (waiting for a header, or for the payload of a parsed header),
/// after swift-nio-extras' `LengthFieldBasedFrameDecoder`. Every length a peer claims is checked
/// against `FrameLimits` (and, before hello, against `FrameAdmission`) when its header is
/// parsed, before a byte of its payload is kept. An undivided message is handed on as a slice
/// of the read buffer; only divided messages are copied, into one buffer per counter. What the
/// decoder holds counts against the listener's `MemoryBudget` as it arrives, not as it is
/// claimed, so a peer that announces much and sends little holds little.
final class ClusterFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = WireMessage

    private struct Header {
        var counter: UInt32
        var length: Int
        var command: String
        var divided: Bool
    }

    private struct Partial {
        var buffer: ByteBuffer
        var fragments: Int
    }

    let limits: FrameLimits
    let admission: FrameAdmission
    let budget: MemoryBudget
    private var header: Header?
    private var partials: [UInt32: Partial] = [:]
    private var partialBytes = 0
    /// Budget taken for the payload of the frame in progress.
    private var frameReserved = 0

    init(limits: FrameLimits, admission: FrameAdmission, budget: MemoryBudget) {
        self.limits = limits
        self.admission = admission
        self.budget = budget
    }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if header == nil {
            guard buffer.readableBytes >= FrameHeader.size else { return .needMoreData }
            header = try readHeader(&buffer)
        }
        let h = header!
        guard buffer.readableBytes >= h.length else {
            try hold(buffer.readableBytes)
            return .needMoreData
        }
        var payload = buffer.readSlice(length: h.length)!
        header = nil
        if var p = partials.removeValue(forKey: h.counter) {
            try hold(h.length)
            frameReserved = 0
            p.buffer.writeBuffer(&payload)
            p.fragments += 1
            partialBytes += h.length
            if h.divided {
                partials[h.counter] = p
            } else {
                partialBytes -= p.buffer.readableBytes
                release(p.buffer.readableBytes)
                // The final fragment's command names the message, as in the reference.
                deliver(context, WireMessage(counter: h.counter, command: h.command, payload: p.buffer, frames: p.fragments))
            }
        } else if h.divided {
            try hold(h.length)
            frameReserved = 0
            var b = context.channel.allocator.buffer(capacity: min(limits.maxMessageBytes, max(h.length * 2, 1024)))
            b.writeBuffer(&payload)
            partials[h.counter] = Partial(buffer: b, fragments: 1)
            partialBytes += h.length
        } else {
            release(frameReserved)
            frameReserved = 0
            deliver(context, WireMessage(counter: h.counter, command: h.command, payload: payload, frames: 1))
        }
        return .continue
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // What is left at the end of the stream is an unfinished frame: dropped, never handed on.
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    func decoderRemoved(context: ChannelHandlerContext) {
        release(frameReserved + partialBytes)
        frameReserved = 0
        partialBytes = 0
        partials.removeAll()
    }

    private func deliver(_ context: ChannelHandlerContext, _ m: WireMessage) {
        if case .helloOnly = admission.mode { admission.helloFramesSeen += 1 }
        context.fireChannelRead(wrapInboundOut(m))
    }

    /// Takes budget for the frame in progress up to `bytes` of it.
    private func hold(_ bytes: Int) throws {
        let more = bytes - frameReserved
        guard more > 0 else { return }
        guard budget.reserve(more) else {
            throw ClusterError.badData("the node's buffer budget (\(budget.limit) bytes, limits.max_buffered_bytes) is exhausted")
        }
        frameReserved += more
        admission.heldBytes += more
    }

    private func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        budget.release(bytes)
        admission.heldBytes -= bytes
    }

    private func readHeader(_ buffer: inout ByteBuffer) throws -> Header {
        let counter = buffer.readInteger(as: UInt32.self)!
        let length = Int(buffer.readInteger(as: UInt32.self)!)
        let (name, divided) = buffer.readWithUnsafeReadableBytes { raw -> (Int, ([UInt8], Bool)) in
            (CommandField.size, CommandField.decode(UnsafeRawBufferPointer(rebasing: raw[0..<CommandField.size])))
        }
        let command = String(decoding: name, as: UTF8.self)
        let what = "frame for counter \(counter) (command '\(command.prefix(16))')"
        if case .helloOnly(let maxBytes) = admission.mode {
            guard admission.helloFramesSeen == 0 else {
                throw ClusterError.badData("\(what) before the hello was accepted")
            }
            guard command == ClusterCommand.hello, !divided else {
                throw ClusterError.badData("\(what) before hello: only one undivided hello frame may come first")
            }
            guard length <= maxBytes else {
                throw ClusterError.badData("hello frame of \(length) bytes, over the \(maxBytes)-byte limit")
            }
        }
        let p = partials[counter]
        try limits.admit(counter: counter, length: length, command: command, divided: divided,
                         held: .init(continued: p.map { ($0.buffer.readableBytes, $0.fragments) },
                                     partialMessages: partials.count, partialBytes: partialBytes))
        return Header(counter: counter, length: length, command: command, divided: divided)
    }
}
