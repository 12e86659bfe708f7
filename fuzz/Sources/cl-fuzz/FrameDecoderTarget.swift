@testable import ClusterKit
@testable import ClusterNode
import NIOCore
import NIOEmbedded

/// The wire framing with reassembly of divided messages: the library's `FrameDecoder` and the
/// runtime's `ClusterFrameDecoder` fed the same bytes in the same slices must deliver the same
/// messages and refuse at the same point, and neither may hold more than the limits allow.
enum FrameDecoderTarget {
    static let limits = FrameLimits(maxFrameBytes: 1 << 16, maxMessageBytes: 1 << 18, maxFragments: 64,
                                    maxPartialMessages: 4)

    struct Message: Equatable {
        var counter: UInt32
        var command: String
        var payload: [UInt8]
        var frames: Int
    }

    static let target = FuzzTarget(name: "frame-decoder", summary: "FrameDecoder and ClusterFrameDecoder, reassembly, differential") { input in
        var input = FuzzInput(input)
        let seed = input.byte()
        let slices = FuzzInput.slices(input.bytes, seed: seed)

        var library = FrameDecoder(limits: limits)
        var fromLibrary: [Message] = []
        var libraryFailed = false
        for s in slices where !libraryFailed {
            do {
                try library.feed(s) { m in
                    fromLibrary.append(Message(counter: m.counter, command: m.command, payload: m.payload, frames: m.frames))
                }
            } catch {
                libraryFailed = true
            }
        }

        let budget = MemoryBudget(limit: 1 << 30)
        let decoder = ClusterFrameDecoder(limits: limits, admission: FrameAdmission(mode: .open), budget: budget)
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(decoder))
        var fromRuntime: [Message] = []
        var runtimeFailed = false
        for s in slices where !runtimeFailed {
            do {
                try channel.writeInbound(channel.allocator.buffer(bytes: s))
            } catch {
                runtimeFailed = true
            }
            while let m = try? channel.readInbound(as: WireMessage.self) {
                fromRuntime.append(Message(counter: m.counter, command: m.command,
                                           payload: Array(m.payload.readableBytesView), frames: m.frames))
            }
        }
        _ = try? channel.finish()
        require(budget.inUse == 0, "the runtime decoder still holds \(budget.inUse) budget bytes after the channel closed")
        require(fromLibrary == fromRuntime,
                "library delivered \(fromLibrary.count) messages, runtime \(fromRuntime.count)")
        require(libraryFailed == runtimeFailed, "library refused: \(libraryFailed), runtime refused: \(runtimeFailed)")
        for m in fromLibrary {
            require(m.payload.count <= limits.maxMessageBytes, "a message of \(m.payload.count) bytes passed the limit")
            require(m.frames <= limits.maxFragments, "a message of \(m.frames) fragments passed the limit")
        }
    }
}
