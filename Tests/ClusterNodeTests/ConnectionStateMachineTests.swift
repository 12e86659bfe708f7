import ClusterKit
import NIOCore
import NIOEmbedded
import Testing
@testable import ClusterNode

/// The connection's state machine alone: no channel, no socket, no clock but the one passed in.
@Suite struct ConnectionStateMachineTests {
    let loop = EmbeddedEventLoop()

    func machine(requireHello: Bool = false, budget: Int = 1 << 20, maxTransfers: Int = 4, maxFileBytes: Int = 1000,
                 ttl: TimeAmount = .seconds(60)) -> ConnectionStateMachine {
        var m = ConnectionStateMachine(
            configuration: .init(requireHello: requireHello, maxTransfers: maxTransfers, maxStringBytes: 10_000,
                                 maxFileBytes: maxFileBytes, transferTTL: ttl, payloadLimits: CommandPayloadLimits(), root: "/r"),
            budget: MemoryBudget(limit: budget), initialCounter: 100)
        m.fileInbox = "queue/cluster/w1"
        return m
    }

    func receive(_ m: inout ConnectionStateMachine, _ command: String, _ text: String, counter: UInt32 = 1,
                 now: NIODeadline = .uptimeNanoseconds(0)) -> ConnectionStateMachine.InboundAction {
        m.receive(counter: counter, command: command, payload: Array(text.utf8), now: now)
    }

    func replyText(_ a: ConnectionStateMachine.InboundAction) -> (String, String)? {
        guard case .reply(let r) = a else { return nil }
        return (r.command, String(decoding: r.payload, as: UTF8.self))
    }

    func isClose(_ a: ConnectionStateMachine.InboundAction) -> Bool {
        if case .close = a { return true }
        return false
    }

    @Test func beforeHelloOnlyOneHelloIsTaken() {
        var m = machine(requireHello: true)
        #expect(isClose(receive(&m, "echo", "x")))
        m = machine(requireHello: true)
        #expect(isClose(receive(&m, "ok", "x")), "a response before hello closes too")
        m = machine(requireHello: true)
        guard case .handToRole(let r) = receive(&m, "hello", "w1 wazuh worker 4.9.2") else { Issue.record("hello not handed on"); return }
        #expect(r.command == "hello" && m.phase == .helloInProgress)
        #expect(isClose(receive(&m, "echo", "x")), "nothing else while the hello is checked")
        m = machine(requireHello: true)
        _ = receive(&m, "hello", "w1 wazuh worker 4.9.2")
        m.helloAnswered(accepted: true)
        #expect(m.phase == .open)
        #expect(replyText(receive(&m, "echo", "x"))! == ("ok", "x"))
        m = machine(requireHello: true)
        _ = receive(&m, "hello", "w1")
        m.helloAnswered(accepted: false)
        #expect(m.phase == .closed)
        // A hello over its cap is refused before the role sees it.
        m = machine(requireHello: true)
        #expect(isClose(receive(&m, "hello", String(repeating: "a", count: 70_000))))
    }

    @Test func responsesCompleteOnlyTheirRequest() throws {
        var m = machine()
        let p = loop.makePromise(of: Response.self)
        let started = m.startRequest("greet", promise: p)
        let counter = try #require(started)
        #expect(counter == 101)
        guard case .drop = receive(&m, "ok", "stray", counter: 7) else { Issue.record("stray response not dropped"); return }
        guard case .complete(let pending, let response) = receive(&m, "ok", "hi", counter: counter) else {
            Issue.record("response not matched"); return
        }
        #expect(pending.command == "greet" && response.text == "hi")
        pending.promise.succeed(response)
        guard case .drop = receive(&m, "ok", "again", counter: counter) else { Issue.record("second answer not dropped"); return }
        // A request that timed out is no longer waited for.
        let p2 = loop.makePromise(of: Response.self)
        let started2 = m.startRequest("greet", promise: p2)
        let c2 = try #require(started2)
        let abandoned = m.abandonRequest(c2)
        #expect(abandoned != nil)
        p2.fail(CancellationError())
        guard case .drop = receive(&m, "ok", "late", counter: c2) else { Issue.record("late answer not dropped"); return }
        #expect(m.pendingCount == 0)
    }

    @Test func stringsAreBoundedAndCountedAgainstTheBudget() throws {
        var m = machine(budget: 100)
        let (ok, id) = try #require(replyText(receive(&m, "new_str", "60")))
        #expect(ok == "ok")
        #expect(replyText(receive(&m, "str_upd", "\(id) " + String(repeating: "a", count: 50)))!.0 == "ok")
        #expect(m.budget.inUse == 50)
        #expect(throws: ClusterError.self) { _ = try m.takeString(id) }
        #expect(m.budget.inUse == 0, "an incomplete string is dropped and its bytes released")
        // Past the announced length, bytes are dropped, as the reference does.
        let (_, id2) = try #require(replyText(receive(&m, "new_str", "3")))
        _ = receive(&m, "str_upd", "\(id2) abcdef")
        #expect(try m.takeString(id2) == Array("abc".utf8))
        // Over the length cap, or not a number: refused.
        #expect(replyText(receive(&m, "new_str", "10001"))!.0 == "err")
        #expect(replyText(receive(&m, "new_str", "-1"))!.0 == "err")
        // Over the node budget: the connection is closed and what it held released.
        let (_, id3) = try #require(replyText(receive(&m, "new_str", "200")))
        _ = receive(&m, "str_upd", "\(id3) " + String(repeating: "b", count: 90))
        #expect(m.budget.inUse == 90)
        #expect(isClose(receive(&m, "str_upd", "\(id3) " + String(repeating: "b", count: 20))))
        #expect(m.budget.inUse == 0)
    }

    @Test func transfersInFlightAreCapped() throws {
        var m = machine(maxTransfers: 2)
        _ = receive(&m, "new_str", "5")
        _ = receive(&m, "new_str", "5")
        #expect(replyText(receive(&m, "new_str", "5"))!.0 == "err")
        // The cap is checked before a file is created: no open action.
        #expect(replyText(receive(&m, "new_file", "/queue/cluster/w1/a.zip"))!.0 == "err")
    }

    @Test func filesStayInTheInboxAndUnderTheirCap() throws {
        var m = machine(maxFileBytes: 10)
        for bad in ["/etc/passwd", "/queue/cluster/w2/x", "/queue/cluster/w1/../x", "queue/cluster/w1/x", "/queue/cluster/w1/"] {
            #expect(replyText(receive(&m, "new_file", bad))?.0 == "err", "\(bad)")
        }
        guard case .openFile(let rel, let abs, nil) = receive(&m, "new_file", "/queue/cluster/w1/a.zip") else {
            Issue.record("no open"); return
        }
        #expect(rel == "queue/cluster/w1/a.zip" && abs == "/r/queue/cluster/w1/a.zip")
        let file = InboundFile(relativePath: rel, absolutePath: abs, fd: -1, created: .uptimeNanoseconds(0))
        m.fileOpened(file)
        guard case .writeFile(_, let chunk) = receive(&m, "file_upd", "/queue/cluster/w1/a.zip 12345678") else {
            Issue.record("no write"); return
        }
        #expect(chunk == Array("12345678".utf8))
        guard case .abandonFile(let f, let reply) = receive(&m, "file_upd", "/queue/cluster/w1/a.zip 345") else {
            Issue.record("cap not enforced"); return
        }
        #expect(f === file && reply.command == "err" && m.fileCount == 0)
        // A received file waits to be claimed, once.
        m.fileOpened(InboundFile(relativePath: "queue/cluster/w1/b.zip", absolutePath: "/r/queue/cluster/w1/b.zip", fd: -1, created: .uptimeNanoseconds(0)))
        guard case .finishFile(let done, let digest) = receive(&m, "file_end", "/queue/cluster/w1/b.zip DIGEST") else {
            Issue.record("no finish"); return
        }
        #expect(digest == Array("DIGEST".utf8))
        #expect(m.fileReceived(done, now: .uptimeNanoseconds(0)) == nil)
        #expect(m.claimReceivedFile("/queue/cluster/w1/b.zip") == "/r/queue/cluster/w1/b.zip")
        #expect(m.claimReceivedFile("queue/cluster/w1/b.zip") == nil)
    }

    @Test func oldTransfersExpire() throws {
        var m = machine(ttl: .seconds(10))
        let (_, id) = try #require(replyText(receive(&m, "new_str", "5")))
        _ = receive(&m, "str_upd", "\(id) abc")
        m.fileOpened(InboundFile(relativePath: "queue/cluster/w1/a", absolutePath: "/r/queue/cluster/w1/a", fd: -1, created: .uptimeNanoseconds(0)))
        let done = InboundFile(relativePath: "queue/cluster/w1/b", absolutePath: "/r/queue/cluster/w1/b", fd: -1, created: .uptimeNanoseconds(0))
        _ = m.fileReceived(done, now: .uptimeNanoseconds(0))
        #expect(m.expire(now: .uptimeNanoseconds(5_000_000_000)).strings == 0)
        let left = m.expire(now: .uptimeNanoseconds(11_000_000_000))
        #expect(left.strings == 1 && left.files.count == 1 && left.receivedFiles == ["/r/queue/cluster/w1/b"])
        #expect(m.budget.inUse == 0 && m.stringCount == 0 && m.fileCount == 0 && m.receivedFileCount == 0)
    }

    @Test func cancelledTasksAreBounded() {
        var m = machine()
        #expect(replyText(receive(&m, "cancel_task", String(repeating: "t", count: 300) + " why"))!.0 == "err")
        for i in 0..<300 { _ = receive(&m, "cancel_task", "task-\(i) reason") }
        #expect(m.isInterrupted("task-299") && !m.isInterrupted("task-0"))
    }

    @Test func smallCommandsHaveSmallPayloads() {
        var m = machine()
        #expect(replyText(receive(&m, "get_nodes", String(repeating: "{", count: 70_000)))!.0 == "err")
        guard case .handToRole = receive(&m, "get_nodes", "{}") else { Issue.record("small get_nodes refused"); return }
    }

    @Test func closingFailsPendingAndReleasesEverything() throws {
        var m = machine()
        let p = loop.makePromise(of: Response.self)
        _ = m.startRequest("x", promise: p)
        let (_, id) = try #require(replyText(receive(&m, "new_str", "5")))
        _ = receive(&m, "str_upd", "\(id) ab")
        let left = m.close()
        #expect(left.pending.count == 1 && left.strings == 1 && m.budget.inUse == 0)
        left.pending[0].promise.fail(CancellationError())
        let late = loop.makePromise(of: Response.self)
        let refused = m.startRequest("y", promise: late)
        #expect(refused == nil)
        late.fail(CancellationError())
    }
}
