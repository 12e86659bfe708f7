import ClusterKit
import Logging
import NIOCore
import NIOPosix

/// Drives one connection's `ConnectionStateMachine` on its event loop: whole messages in from
/// `ClusterFrameDecoder`, frames out. No locks: everything here runs on the channel's loop, and
/// every timeout is a task scheduled on it.
///
/// Messages are handled one at a time, in arrival order. What is cheap (echo, strings,
/// cancel_task, response matching, small Fernet tokens, most role answers) happens at once.
/// What is not (large tokens, file writes, a role's `.later` answer) leaves the loop; meanwhile
/// the handler holds back `read()`, so the socket is not read and the peer is slowed by TCP
/// rather than by our memory, and the next message waits its turn.
final class ConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WireMessage
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let settings: ConnectionSettings
    let admission: FrameAdmission
    let encoder: FrameEncoder
    let totals: TrafficCounter
    /// Held, not looked up per frame.
    let metrics = NodeMetrics.shared
    /// Why a cluster link closes before its hello was accepted, when we close it.
    var preAuthReason: NodeMetrics.PreAuthReason?
    var machine: ConnectionStateMachine
    /// The Sendable front; released when the handler leaves the pipeline.
    var connection: ClusterConnection?
    var role: ConnectionRole?
    var logger: Logger

    private var context: ChannelHandlerContext?
    private var queue = CircularBuffer<WireMessage>()
    /// A message's work is off the loop; nothing else is handled until it is back.
    private var busy = false
    private var readHeld = false
    private var needsFlush = false
    private var flushScheduled = false
    private var deferredLeftovers: [ConnectionStateMachine.Leftovers] = []
    private var closing = false
    private var closeError: Error?
    private var helloTimer: Scheduled<Void>?
    private var housekeeping: RepeatedTask?
    private var lastInbound = NIODeadline.now()

    init(settings: ConnectionSettings, admission: FrameAdmission, role: ConnectionRole?) {
        self.settings = settings
        self.admission = admission
        self.role = role
        logger = settings.logger
        encoder = FrameEncoder(fernet: settings.fernet, requestChunk: settings.requestChunk)
        totals = settings.fernet == nil ? TrafficCounter.local : TrafficCounter.cluster
        machine = ConnectionStateMachine(configuration: settings.stateMachineConfiguration, budget: settings.budget,
                                         initialCounter: SecureRandom.uint32())
    }

    /// The loop's clock (an embedded loop's in tests).
    private var clock: NIODeadline { context?.eventLoop.now ?? .now() }

    // MARK: life

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    /// Reads of up to 1 MiB for a peer that proved it holds the key (sync containers and agent
    /// pushes come in 5 MiB frames); strangers and local clients keep NIO's 64 KiB.
    private func widenReads(_ context: ChannelHandlerContext) {
        try? context.channel.syncOptions?.setOption(.recvAllocator,
                                                    value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 1 << 20))
    }

    private func start(_ context: ChannelHandlerContext) {
        guard housekeeping == nil else { return }
        if settings.fernet != nil && !settings.requireHello { widenReads(context) }
        lastInbound = context.eventLoop.now
        let loop = context.eventLoop.assumeIsolated()
        if settings.requireHello {
            let timeout = settings.helloTimeout
            helloTimer = loop.scheduleTask(in: .nanoseconds(Int64(timeout * 1e9))) { [self] () -> Void in
                guard machine.phase == .awaitingHello || machine.phase == .helloInProgress else { return }
                preAuthReason = preAuthReason ?? .helloTimeout
                fail(.wazuh(1000, "no hello within \(timeout) s"))
            }
        }
        let period = TimeAmount.nanoseconds(Int64(min(max(settings.stallTimeout / 4, 0.05), 5) * 1e9))
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        housekeeping = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in bound.value.tidy() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
        self.context = nil
        connection = nil
        role = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if closeError == nil { closeError = error }
        preAuthReason = preAuthReason ?? .frameRefused
        context.close(promise: nil)
    }

    /// Closes with `error` as the reason the role hears.
    func fail(_ error: ClusterError) {
        if closeError == nil { closeError = error }
        context?.close(promise: nil)
    }

    private func finish() {
        guard !closing else { return }
        closing = true
        helloTimer?.cancel()
        housekeeping?.cancel()
        if settings.requireHello, machine.phase == .awaitingHello || machine.phase == .helloInProgress {
            metrics.preAuthClose(preAuthReason ?? .peerClosed)
        }
        let left = machine.close()
        let closed = ClusterError.wazuh(3018, "connection closed")
        for p in left.pending {
            p.timer?.cancel()
            p.promise.fail(ClusterError.wazuh(3018, "connection closed while waiting for '\(p.command)'"))
        }
        discard(left)
        queue.removeAll()
        let error = closeError
        if let connection {
            connection.closedSignal.trigger()
            // A connect that never got through (nothing listening) is reported by the connect;
            // the role hears only of connections that were up.
            if housekeeping != nil {
                role?.connectionClosed(connection, error: error.map { $0 as? ClusterError ?? closed })
            }
        }
    }

    /// Removes what a peer left behind, off the loop. While a file step runs on the pool, after
    /// it, never under it: a descriptor closed mid-write could be reused by another open.
    private func discard(_ left: ConnectionStateMachine.Leftovers) {
        guard !left.files.isEmpty || !left.receivedFiles.isEmpty else { return }
        if busy {
            deferredLeftovers.append(left)
            return
        }
        settings.threadPool.submit { _ in
            for f in left.files { f.abandon() }
            for p in left.receivedFiles { unlink(p) }
        }
    }

    /// Expires old transfers, and closes a connection that holds unfinished data and has sent
    /// nothing for `stallTimeout`.
    private func tidy() {
        let now = clock
        let left = machine.expire(now: now)
        if left.strings + left.files.count + left.receivedFiles.count > 0 {
            logger.warning("Dropped \(left.strings) strings, \(left.files.count) unfinished files and \(left.receivedFiles.count) unclaimed files older than \(Int(settings.transferTTL)) s.")
        }
        discard(left)
        let holding = admission.heldBytes > 0 || machine.stringCount > 0 || machine.fileCount > 0
        if holding, !busy, now - lastInbound > .nanoseconds(Int64(settings.stallTimeout * 1e9)) {
            preAuthReason = preAuthReason ?? .stalled
            fail(.wazuh(1000, "holds unfinished data and sent nothing for \(settings.stallTimeout) s"))
        }
    }

    // MARK: reading

    func read(context: ChannelHandlerContext) {
        if busy { readHeld = true } else { context.read() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        lastInbound = clock
        totals.add(received: message.wireBytes)
        metrics.received(message.command, frames: message.frames, bytes: message.wireBytes)
        queue.append(message)
        if !busy { drain() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    private func drain() {
        while !busy, !closing, let m = queue.popFirst() {
            process(m)
        }
        flushIfNeeded()
        if !busy, readHeld, let context {
            readHeld = false
            context.read()
        }
    }

    /// Runs `work` on the thread pool and `then` back on the loop, holding everything else.
    private func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T,
                                      then: @escaping (Result<T, Error>) -> Void) {
        guard let context else { return }
        hold(until: settings.threadPool.runIfActive(eventLoop: context.eventLoop, work), then: then)
    }

    /// Handles nothing else (and reads nothing) until `future` completes, then runs `then` on
    /// the loop, even once closing: a file opened or finished meanwhile must still be removed
    /// (the state machine says so, and nothing is written any more).
    private func hold<T>(until future: EventLoopFuture<T>, then: @escaping (Result<T, Error>) -> Void) {
        guard let context else { return }
        busy = true
        future.hop(to: context.eventLoop).assumeIsolated().whenComplete { [self] r in
            busy = false
            then(r)
            let deferred = deferredLeftovers
            deferredLeftovers.removeAll()
            for left in deferred { discard(left) }
            drain()
        }
    }

    private func process(_ m: WireMessage) {
        guard let fernet = settings.fernet else {
            handle(m, payload: Array(m.payload.readableBytesView))
            return
        }
        // A small command whose token could not carry a payload within its cap is refused
        // before a byte of it is decrypted.
        if let maxToken = settings.payloadLimits.maxTokenBytes(for: m.command), m.payload.readableBytes > maxToken {
            let refusal = ClusterError.wazuh(1000, "\(LogText.truncated(m.command, max: 16)) token of \(m.payload.readableBytes) bytes exceeds what its \(settings.payloadLimits.maxPayload(for: m.command) ?? 0)-byte payload cap allows")
            if machine.phase == .open { write(.error(refusal), counter: m.counter) } else { preAuthReason = .payloadCap; fail(refusal) }
            return
        }
        if m.payload.readableBytes > settings.offloadBytes {
            let token = m.payload
            offload({ try token.withUnsafeReadableBytes { try fernet.decrypt($0) } }) { [self] r in
                switch r {
                case .success(let payload): handle(m, payload: payload)
                case .failure: undecryptable()
                }
            }
            return
        }
        do {
            let payload = try m.payload.withUnsafeReadableBytes { try fernet.decrypt($0) }
            handle(m, payload: payload)
        } catch {
            undecryptable()
        }
    }

    /// The reference closes the connection on a token it cannot decrypt; so do we.
    private func undecryptable() {
        let peer = connection?.peerAddress ?? "the peer"
        metrics.decryptFailures.increment()
        preAuthReason = preAuthReason ?? .undecryptable
        fail(.wazuh(3025, "from \(peer) (wrong cluster key?)"))
    }

    private func handle(_ m: WireMessage, payload: [UInt8]) {
        let action = machine.receive(counter: m.counter, command: m.command, payload: payload, now: clock)
        perform(action, counter: m.counter, command: m.command)
    }

    private func perform(_ action: ConnectionStateMachine.InboundAction, counter: UInt32, command: String) {
        switch action {
        case .complete(let p, let response):
            p.timer?.cancel()
            p.promise.succeed(response)
        case .drop(let why):
            logger.debug("Dropped a '\(LogText.truncated(command, max: 16))' frame with counter \(counter): \(why)")
        case .reply(let reply):
            write(reply, counter: counter)
        case .handToRole(let request):
            callRole(request)
        case .close(let error):
            logger.warning("Closing the connection from \(connection?.peerAddress ?? "?"): \(error.message)")
            fail(error)
        case .openFile(let rel, let abs, let old):
            let now = clock
            offload({ () throws -> InboundFile in
                old?.abandon()
                return try InboundFile.create(relative: rel, absolute: abs, now: now)
            }) { [self] r in
                switch r {
                case .success(let file):
                    machine.fileOpened(file)
                    if machine.phase == .closed { discard(.init(files: [file])) }
                    write(Reply("ok ", Array("Ready to receive new file".utf8)), counter: counter)
                case .failure(let e):
                    // Said here too: the peer is only told, and would report it as its own error.
                    logger.error("Cannot receive a file from \(connection?.peerAddress ?? "?"): \(e)")
                    write(.error(e as? ClusterError ?? .wazuh(1000, "\(e)")), counter: counter)
                }
            }
        case .writeFile(let file, let chunk):
            offload({ try file.write(chunk) }) { [self] r in
                switch r {
                case .success: write(.ok("File updated"), counter: counter)
                case .failure(let e):
                    logger.error("Cannot receive a file from \(connection?.peerAddress ?? "?"): \(e)")
                    write(.error(e as? ClusterError ?? .io("\(e)")), counter: counter)
                }
            }
        case .finishFile(let file, let digest):
            offload({ file.finish(expecting: digest) }) { [self] r in
                guard case .success(true) = r else {
                    write(Reply(ClusterCommand.err, Array(ClusterConnection.checksumMismatch.utf8)), counter: counter)
                    return
                }
                if let stale = machine.fileReceived(file, now: clock) { discard(.init(receivedFiles: [stale])) }
                write(.ok("File received correctly"), counter: counter)
            }
        case .abandonFile(let file, let reply):
            offload({ file.abandon() }) { [self] _ in write(reply, counter: counter) }
        }
    }

    private func callRole(_ request: IncomingRequest) {
        let isHello = machine.phase == .helloInProgress
        guard let role, let connection else {
            answerRole(Reply(ClusterCommand.err, WireError.unknownCommand(Array(request.command.utf8))), request, isHello)
            return
        }
        let result: HandlerResult
        do {
            result = try role.handle(request, on: connection)
        } catch {
            answerRole(.error(error as? ClusterError ?? .wazuh(1000, "\(error)")), request, isHello)
            return
        }
        switch result {
        case .reply(let reply):
            answerRole(reply, request, isHello)
        case .noReply:
            if isHello { answerRole(nil, request, isHello) }
        case .unknown:
            answerRole(Reply(ClusterCommand.err, WireError.unknownCommand(Array(request.command.utf8))), request, isHello)
        case .later(let future):
            hold(until: future) { [self] r in
                guard !closing else { return }
                switch r {
                case .success(let reply): answerRole(reply, request, isHello)
                case .failure(let e): answerRole(.error(e as? ClusterError ?? .wazuh(1000, "\(e)")), request, isHello)
                }
            }
        }
    }

    /// Writes a role's answer; a hello that was not accepted closes the connection once its
    /// answer is out.
    private func answerRole(_ reply: Reply?, _ request: IncomingRequest, _ isHello: Bool) {
        if reply?.command == ClusterCommand.err {
            logger.debug("Request '\(LogText.truncated(request.command, max: 16))' failed: \(String(decoding: reply!.payload.prefix(300), as: UTF8.self))")
        }
        guard isHello else {
            if let reply { write(reply, counter: request.counter) }
            return
        }
        let accepted = reply.map { $0.command.hasPrefix(ClusterCommand.ok) && $0.command != ClusterCommand.err } ?? false
        machine.helloAnswered(accepted: accepted)
        if accepted {
            helloTimer?.cancel()
            admission.mode = .open
            if let context { widenReads(context) }
            if let reply { write(reply, counter: request.counter) }
        } else {
            if let reply { write(reply, counter: request.counter) }
            flushIfNeeded()
            closeError = closeError ?? ClusterError.wazuh(1000, "hello refused")
            preAuthReason = preAuthReason ?? .helloRefused
            context?.close(promise: nil)
        }
    }

    // MARK: writing

    private func write(_ reply: Reply, counter: UInt32) {
        guard let context, !closing else { return }
        do {
            let encoded = try reply.payload.withUnsafeBytes {
                try encoder.encode(command: Array(reply.command.utf8), counter: counter, payload: $0)
            }
            var buffer = context.channel.allocator.buffer(capacity: encoded.bytes.count)
            buffer.writeBytes(encoded.bytes)
            metrics.sent(reply.command, frames: encoded.frames.count, bytes: encoded.bytes.count)
            send(buffer, context)
        } catch {
            logger.error("Cannot encode the answer to counter \(counter): \(error)")
        }
    }

    private func send(_ buffer: ByteBuffer, _ context: ChannelHandlerContext) {
        totals.add(sent: buffer.readableBytes)
        context.write(wrapOutboundOut(buffer), promise: nil)
        needsFlush = true
    }

    private func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    /// Sends a request of ours, already encoded with counter 0 at each frame start; the counter
    /// is chosen here, where the pending table lives.
    func sendRequest(_ command: String, encoded: ByteBuffer, frameStarts: [Int], timeout: TimeAmount,
                     promise: EventLoopPromise<Response>) {
        guard let context, !closing, let counter = machine.startRequest(command, promise: promise) else {
            promise.fail(ClusterError.wazuh(3018, "connection to \(connection?.peerAddress ?? "the peer") is closed"))
            return
        }
        var buffer = encoded
        for start in frameStarts { buffer.setInteger(counter, at: buffer.readerIndex + start) }
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] () -> Void in
            machine.abandonRequest(counter)?.promise.fail(ClusterError.wazuh(3020, command))
        }
        machine.setTimer(timer, for: counter)
        totals.add(sent: buffer.readableBytes)
        metrics.sent(command, frames: frameStarts.count, bytes: buffer.readableBytes)
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenFailure { [self] _ in
            if let p = machine.abandonRequest(counter) {
                p.timer?.cancel()
                p.promise.fail(ClusterError.wazuh(3018, "cannot write to \(connection?.peerAddress ?? "the peer"): connection closed"))
            }
        }
        context.write(wrapOutboundOut(buffer), promise: written)
        needsFlush = true
        flushSoon(context)
    }

    /// Requests handed to the loop one after another (a string's slices, say) go out in one
    /// write: the flush runs once the loop has taken the ones already queued.
    private func flushSoon(_ context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            flushScheduled = false
            flushIfNeeded()
        }
    }

    /// Sends a message that expects no answer (an answer of ours sent late, say).
    func sendMessage(_ encoded: ByteBuffer) {
        guard let context, !closing else { return }
        send(encoded, context)
        flushIfNeeded()
    }
}
