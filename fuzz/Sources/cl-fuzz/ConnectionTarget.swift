@testable import ClusterKit
@testable import ClusterNode
import Glibc
import NIOCore
import NIOEmbedded

/// A connection's protocol state fed whole frame sequences: the messages a peer sends (hello,
/// strings, files, cancellations, responses to our requests), with time passing between them.
/// Whatever arrives, the budget it holds is released when the connection closes, and no bound
/// (strings and files in flight, bytes per string and file) is passed.
enum ConnectionTarget {
    static let loop = EmbeddedEventLoop()

    static let target = FuzzTarget(name: "connection", summary: "ConnectionStateMachine fed frame sequences") { input in
        var input = FuzzInput(input)
        let options = input.byte()
        let configuration = ConnectionStateMachine.Configuration(
            requireHello: options & 1 == 0, maxTransfers: 4, maxStringBytes: 4096, maxFileBytes: 4096,
            transferTTL: .seconds(5), payloadLimits: CommandPayloadLimits(), root: "/nonexistent-fuzz-root")
        let budget = MemoryBudget(limit: 16 << 10)
        var machine = ConnectionStateMachine(configuration: configuration, budget: budget, initialCounter: UInt32(options))
        for command in ["dapi", "sendsync"] {
            _ = machine.startRequest(command, promise: loop.makePromise(of: Response.self))
        }
        var decoder = FrameDecoder(limits: FrameLimits(maxFrameBytes: 1 << 14, maxMessageBytes: 1 << 15))
        var messages: [ReceivedMessage] = []
        try? decoder.feed(input.bytes) { messages.append($0) }

        var now = NIODeadline.uptimeNanoseconds(0)
        var openFiles: [ObjectIdentifier: InboundFile] = [:]
        func closeFile(_ f: InboundFile) {
            if openFiles.removeValue(forKey: ObjectIdentifier(f)) != nil { Glibc.close(f.fd) }
        }
        func release(_ leftovers: ConnectionStateMachine.Leftovers) {
            for f in leftovers.files { closeFile(f) }
            for p in leftovers.pending { p.promise.fail(ClusterError.wazuh(1000, "closed")) }
        }
        for (i, m) in messages.enumerated() {
            now = now + .milliseconds(Int64(m.counter % 4096))
            let action = machine.receive(counter: m.counter, command: m.command, payload: m.payload, now: now)
            switch action {
            case .complete(let pending, let response):
                pending.promise.succeed(response)
            case .drop, .reply:
                break
            case .handToRole(let request):
                if request.command == ClusterCommand.hello {
                    let accepted = request.payload.first.map { $0 & 1 == 1 } ?? false
                    machine.helloAnswered(accepted: accepted)
                    if accepted { machine.fileInbox = "queue/cluster/fuzz" }
                }
            case .openFile(let relative, let absolute, let replacing):
                if let replacing { closeFile(replacing) }
                let f = InboundFile(relativePath: relative, absolutePath: absolute,
                                    fd: open("/dev/null", O_WRONLY | O_CLOEXEC), created: now)
                openFiles[ObjectIdentifier(f)] = f
                machine.fileOpened(f)
                if machine.phase == .closed { closeFile(f) }
            case .writeFile(let f, let chunk):
                require(f.size <= configuration.maxFileBytes, "a file grew to \(f.size) bytes, past the limit")
                _ = chunk
            case .finishFile(let f, _):
                closeFile(f)
                _ = machine.fileReceived(f, now: now)
            case .abandonFile(let f, _):
                closeFile(f)
            case .close:
                release(machine.close())
            }
            require(machine.stringCount + machine.fileCount <= configuration.maxTransfers,
                    "\(machine.stringCount) strings and \(machine.fileCount) files in flight")
            require(budget.inUse == machine.stringBytes, "budget \(budget.inUse) but strings hold \(machine.stringBytes)")
            if i % 7 == 6 {
                if let id = m.payload.split(separator: 0x20).first { _ = try? machine.takeString(String(decoding: id, as: UTF8.self)) }
                _ = machine.claimReceivedFile(String(decoding: m.payload.prefix(64), as: UTF8.self))
            }
            if i % 5 == 4 {
                for f in machine.expire(now: now + .seconds(Int64(m.counter % 8))).files { closeFile(f) }
            }
        }
        release(machine.close())
        require(budget.inUse == 0, "\(budget.inUse) budget bytes still held after close")
        require(openFiles.isEmpty, "\(openFiles.count) files left open after close")
    }
}
