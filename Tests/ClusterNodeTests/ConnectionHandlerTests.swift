import ClusterKit
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
@testable import ClusterNode

/// The connection's pipeline (`ClusterFrameDecoder` + `ConnectionHandler`) on an
/// `EmbeddedChannel`: bytes in, frames out, time advanced by hand. No sockets, no sleeps.
@Suite struct ConnectionHandlerTests {
    final class HelloRole: ConnectionRole {
        func handle(_ r: IncomingRequest, on connection: ClusterConnection) throws -> HandlerResult {
            switch r.command {
            case "hello":
                guard r.text == "good" else { throw ClusterError.wazuh(3030, "bad hello") }
                return .reply(.ok("Client added"))
            case "greet": return .reply(.ok("hello \(r.text)"))
            case "use_str": return .reply(.ok(String(try connection.takeString(r.text).count)))
            default: return .unknown
            }
        }
        func connectionClosed(_ connection: ClusterConnection, error: Error?) {}
    }

    struct Pipe {
        let channel: EmbeddedChannel
        let connection: ClusterConnection
        let budget: MemoryBudget

        var loop: EmbeddedEventLoop { channel.embeddedEventLoop }

        /// Writes `bytes` in pieces of `step` bytes.
        func feed(_ bytes: [UInt8], step: Int = Int.max) throws {
            var i = 0
            while i < bytes.count {
                let end = min(bytes.count, i + step)
                try channel.writeInbound(channel.allocator.buffer(bytes: bytes[i..<end]))
                i = end
            }
        }

        /// Every message written out so far (after the loop ran what it had queued), decoded.
        func written() throws -> [ReceivedMessage] {
            loop.run()
            var decoder = FrameDecoder()
            var out: [ReceivedMessage] = []
            while let b = try channel.readOutbound(as: ByteBuffer.self) {
                out += try decoder.feed(Array(b.readableBytesView))
            }
            return out
        }

        var isOpen: Bool { channel.isActive }
    }

    func pipe(requireHello: Bool = false, budget: Int = 64 << 20, stall: Double = 30,
              limits: FrameLimits = .default) throws -> Pipe {
        let channel = EmbeddedChannel()
        let budget = MemoryBudget(limit: budget)
        var settings = ConnectionSettings(fernet: nil, requestTimeout: 5, frameLimits: limits, maxTransfers: 8,
                                          maxFileBytes: 0, transferTTL: 60, budget: budget, stallTimeout: stall,
                                          root: "/nonexistent", threadPool: NIOThreadPool.singleton,
                                          logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        settings.requireHello = requireHello
        settings.helloTimeout = 10
        let connection = try Endpoint.install(on: channel, settings: settings, peer: "test") { _ in HelloRole() }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return Pipe(channel: channel, connection: connection, budget: budget)
    }

    func frame(_ command: String, _ text: String, counter: UInt32, chunk: Int = FrameEncoder.defaultRequestChunk) throws -> [UInt8] {
        try FrameEncoder(fernet: nil, requestChunk: chunk).encode(command: command, counter: counter, payload: Array(text.utf8)).bytes
    }

    @Test func framesSplitAtEveryByteBoundaryGiveTheSameAnswers() throws {
        var stream = try frame("greet", "one", counter: 1)
        stream += try frame("echo", String(repeating: "x", count: 300), counter: 2, chunk: 64)   // divided in 6 frames
        stream += try frame("ok", "nobody waits", counter: 3)                                   // stray: dropped
        stream += try frame("greet", "two", counter: 4)
        let whole = try pipe()
        try whole.feed(stream)
        let expected = try whole.written()
        #expect(expected.map(\.counter) == [1, 2, 4])
        #expect(expected.map { String(decoding: $0.payload, as: UTF8.self) } == ["hello one", String(repeating: "x", count: 300), "hello two"])
        for step in [1, 2, 3, 7, 19, 20, 21, 64] {
            let p = try pipe()
            try p.feed(stream, step: step)
            #expect(try p.written() == expected, "step \(step)")
            #expect(p.budget.inUse == 0)
        }
    }

    @Test func requestsMatchTheirResponsesAndTimeOut() throws {
        let p = try pipe()
        let answered = p.connection.requestFuture("greet", Array("a".utf8))
        let silent = p.connection.requestFuture("greet", Array("b".utf8), timeout: 2)
        let sent = try p.written()
        #expect(sent.map(\.command) == ["greet", "greet"] && sent[0].counter != sent[1].counter)
        try p.feed(try frame("ok", "fine", counter: sent[0].counter))
        #expect(try answered.wait().text == "fine")
        p.loop.advanceTime(by: .seconds(3))
        #expect(throws: ClusterError.self) { try silent.wait() }
        // The answer that comes too late is dropped, never answered.
        try p.feed(try frame("ok", "late", counter: sent[1].counter))
        #expect(try p.written().isEmpty)
        #expect(p.isOpen)
    }

    @Test func stringsArriveWholeThroughTheHandler() throws {
        let p = try pipe()
        try p.feed(try frame("new_str", "6", counter: 1))
        let id = try #require(try p.written().first).payload
        try p.feed(try frame("str_upd", String(decoding: id, as: UTF8.self) + " abc", counter: 2))
        try p.feed(try frame("str_upd", String(decoding: id, as: UTF8.self) + " def", counter: 3))
        try p.feed(try frame("use_str", String(decoding: id, as: UTF8.self), counter: 4))
        let answers = try p.written()
        #expect(answers.map { String(decoding: $0.payload, as: UTF8.self) } == ["String updated", "String updated", "6"])
    }

    @Test func beforeHelloAnythingElseCloses() throws {
        let p = try pipe(requireHello: true)
        try? p.feed(try frame("echo", "x", counter: 1))
        #expect(!p.isOpen)
        #expect(try p.written().isEmpty)
        // A divided hello, or one over 64 KiB, is refused from its header.
        let divided = try pipe(requireHello: true)
        try? divided.feed(Array(try frame("hello", String(repeating: "h", count: 200), counter: 1, chunk: 64).prefix(40)))
        #expect(!divided.isOpen)
        let huge = try pipe(requireHello: true)
        try? huge.feed(Array(try frame("hello", String(repeating: "h", count: 70_000), counter: 1).prefix(40)))
        huge.loop.run()
        #expect(!huge.isOpen && huge.budget.inUse == 0)
        // A refused hello is answered, then closed.
        let refused = try pipe(requireHello: true)
        try refused.feed(try frame("hello", "bad", counter: 1))
        #expect(try refused.written().first?.command == "err")
        #expect(!refused.isOpen)
        // An accepted hello opens the connection.
        let good = try pipe(requireHello: true)
        try good.feed(try frame("hello", "good", counter: 1) + frame("greet", "w", counter: 2))
        #expect(try good.written().map { String(decoding: $0.payload, as: UTF8.self) } == ["Client added", "hello w"])
        // No hello at all: closed at the deadline.
        let mute = try pipe(requireHello: true)
        mute.loop.advanceTime(by: .seconds(11))
        #expect(!mute.isOpen)
    }

    @Test func theNodeBudgetClosesOnlyTheConnectionThatWouldPassIt() throws {
        let shared = MemoryBudget(limit: 100_000)
        func onBudget() throws -> Pipe {
            let p = try pipe(budget: 1)
            // Rebuild with the shared budget: the same settings, one budget for both channels.
            let channel = EmbeddedChannel()
            var s = p.connection.settings
            s.budget = shared
            let c = try Endpoint.install(on: channel, settings: s, peer: "t") { _ in HelloRole() }
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            return Pipe(channel: channel, connection: c, budget: shared)
        }
        let first = try onBudget()
        let second = try onBudget()
        // The first holds 80 KB of a frame that claims 1 MB.
        let big = try frame("greet", String(repeating: "a", count: 1_000_000), counter: 1)
        try first.feed(Array(big.prefix(80_020)))
        #expect(shared.inUse == 80_000 && first.isOpen)
        // The second would take the total past 100 KB: it is closed, the first is untouched.
        try? second.feed(Array(big.prefix(40_020)))
        #expect(!second.isOpen && first.isOpen)
        #expect(shared.inUse == 80_000)
        _ = try? first.channel.finish()
        #expect(shared.inUse == 0)
    }

    @Test func aClientThatStallsWithUnfinishedDataIsClosed() throws {
        let p = try pipe(stall: 2)
        try p.feed(Array(try frame("greet", "abc", counter: 1).prefix(22)))
        p.loop.advanceTime(by: .seconds(1))
        #expect(p.isOpen)
        p.loop.advanceTime(by: .seconds(3))
        #expect(!p.isOpen)
        // One that holds nothing may stay idle.
        let idle = try pipe(stall: 2)
        idle.loop.advanceTime(by: .seconds(10))
        #expect(idle.isOpen)
    }

    @Test func perConnectionLimitsHold() throws {
        let limits = FrameLimits(maxFrameBytes: 1000, maxMessageBytes: 2000, maxFragments: 4, maxPartialMessages: 1, maxPartialBytes: 2000)
        let tooBig = try pipe(limits: limits)
        try? tooBig.feed(Array(try frame("greet", String(repeating: "a", count: 1001), counter: 1).prefix(20)))
        #expect(!tooBig.isOpen)
        let twoPartials = try pipe(limits: limits)
        let a = try frame("echo", String(repeating: "a", count: 300), counter: 1, chunk: 100)
        let b = try frame("echo", String(repeating: "b", count: 300), counter: 2, chunk: 100)
        try? twoPartials.feed(Array(a.prefix(100)) + Array(b.prefix(100)))
        #expect(!twoPartials.isOpen)
        twoPartials.loop.run()
        #expect(twoPartials.budget.inUse == 0)
    }
}
