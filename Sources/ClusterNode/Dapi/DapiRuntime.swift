import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A node's distributed API machinery: the bounded execution pool, the execution deadline, and
/// the table of requests waiting for another node's answer.
///
/// Requests run concurrently (the reference runs them one at a time per queue, W8): operations
/// that only read memory run at once on the request's task; blocking ones (files, the agent
/// database) take one of `limits.dapi_concurrency` permits and run on the node's DAPI thread
/// pool of that size, and at most 64 per permit wait for one (error 3102 past that).
final class DapiRuntime: Sendable {
    let registry = OperationRegistry.standard
    let limiter: AsyncLimiter
    let stats: NodeStats
    let pool: NIOThreadPool
    let logger: Logger
    /// The execution timeout of a request without `api_timeout` (the reference's API default).
    static let defaultExecutionTimeout = 10.0
    private let context: NodeContext
    /// `intervals.communication.timeout_dapi_request` and `timeout_cluster_request`, read at each
    /// use so that a reload (SIGHUP) applies to the next request.
    var transportTimeout: Double { context.config.intervals.timeoutDapiRequest }
    var requestTimeout: Double { context.config.intervals.timeoutClusterRequest }

    struct Pending {
        let peer: String
        let promise: EventLoopPromise<[UInt8]>
        let timer: Scheduled<Void>
    }
    private let pending = NIOLockedValueBox<[String: Pending]>([:])
    private let counter = NIOLockedValueBox<UInt64>(0)

    init(context: NodeContext, logger: Logger) {
        let n = context.config.limits.dapiConcurrency
        limiter = AsyncLimiter(permits: n, maxWaiting: 64 * n)
        stats = context.stats
        pool = context.dapiPool
        self.logger = logger
        self.context = context
    }

    /// How long the operation may run: `api_timeout`, the default, or unbounded with
    /// `wait_for_complete`.
    func executionLimit(_ r: DapiRequest) -> Double? {
        r.waitForComplete ? nil : (r.apiTimeout ?? DapiRuntime.defaultExecutionTimeout)
    }

    /// How long to wait for another node's answer: never past the transport timeout
    /// (`timeout_dapi_request`), and, unless the caller waits for completion, not much past the
    /// execution deadline the other node applies: the request's deadline travels with it, plus
    /// one request timeout for each hop the answer may take.
    func answerDeadline(_ r: DapiRequest, hops: Int = 1) -> Double {
        guard let exec = executionLimit(r) else { return transportTimeout }
        return min(transportTimeout, exec + Double(hops) * requestTimeout)
    }

    static func clusterError(_ error: Error) -> ClusterError {
        error as? ClusterError ?? ClusterError.wazuh(1000, "\(error)")
    }

    /// Parses and checks a request; a refusal is counted and logged (never the request itself).
    func prepare(_ bytes: [UInt8], from origin: String) throws -> PreparedRequest {
        do {
            return try registry.prepare(bytes)
        } catch {
            let e = DapiRuntime.clusterError(error)
            stats.count(.refused)
            NodeMetrics.shared.dapi(nil, .refused, seconds: nil)
            logger.warning("Refused a distributed API request from \(origin): \(e)")
            throw e
        }
    }

    /// Requests larger than this are parsed on the DAPI pool rather than on the event loop.
    static let inlineParseBytes = 64 * 1024

    /// `prepare` where it is cheap: on the loop when the request is small, on the DAPI pool when not.
    func prepare(_ bytes: [UInt8], from origin: String, loop: EventLoop) -> EventLoopFuture<PreparedRequest> {
        if bytes.count <= DapiRuntime.inlineParseBytes {
            return loop.makeCompletedFuture { try self.prepare(bytes, from: origin) }
        }
        return pool.runIfActive(eventLoop: loop) { try self.prepare(bytes, from: origin) }
    }

    /// Sends an answer once it is ready, as `dapi_res '[<prefix> ]<string id>'`; a peer that
    /// left is only worth a debug line.
    ///
    /// A request that came as a reference code reference (`reference`) is answered in the
    /// reference's encoding (`ReferenceCallTable`), for the arguments it was sent with.
    func deliver(_ answer: EventLoopFuture<DapiAnswer>, to peer: ClusterConnection, prefix: String?,
                 reference: ReferenceOrigin? = nil) {
        let logger = self.logger
        answer.flatMap { a in
            peer.sendDapiAnswer(reference.map { ReferenceCallTable.encode(a, origin: $0) } ?? a.bytes, prefix: prefix)
        }.whenFailure { error in
            logger.debug("Could not deliver a distributed API answer to \(peer.peerAddress): \(error)")
        }
    }

    /// Runs a request's operation on this node; the answer completes on `loop`.
    ///
    /// An operation that only reads memory runs right here (on the event loop that received
    /// the request: no task, no thread hand-off). A blocking one takes a permit and runs on the
    /// DAPI pool, within its execution deadline.
    func execute(_ p: PreparedRequest, on node: DapiNodeContext, loop: EventLoop) -> EventLoopFuture<DapiAnswer> {
        let start = NIODeadline.now()
        let answer: EventLoopFuture<DapiAnswer>
        if !p.operation.blocking {
            let a: DapiAnswer
            do { a = try p.answer(on: node) } catch { a = .failure(DapiRuntime.clusterError(error)) }
            answer = loop.makeSucceededFuture(a)
        } else {
            answer = executeBlocking(p, on: node, loop: loop)
        }
        return answer.map { a in
            self.record(p, a, since: start)
            return a
        }
    }


    private func executeBlocking(_ p: PreparedRequest, on node: DapiNodeContext, loop: EventLoop) -> EventLoopFuture<DapiAnswer> {
        let promise = loop.makePromise(of: DapiAnswer.self)
        let once = FirstCompletion(promise)
        let limiter = self.limiter, pool = self.pool
        limiter.acquire { granted in
            guard granted else {
                once.complete(.failure(DapiError.busy("\(limiter.maxWaiting) requests are already waiting for one of \(limiter.permits) slots")))
                return
            }
            pool.runIfActive(eventLoop: loop) { try p.answer(on: node) }.whenComplete { r in
                // The permit is held until the work really ends, even past its deadline: the
                // bound is on work running, not on work waited for.
                limiter.release()
                switch r {
                case .success(let answer): once.complete(answer)
                case .failure(let e): once.complete(.failure(DapiRuntime.clusterError(e)))
                }
            }
        }
        if let limit = executionLimit(p.request) {
            let name = p.operation.name
            let timer = loop.scheduleTask(in: .nanoseconds(Int64(limit * 1e9))) {
                once.complete(.failure(ClusterError.wazuh(3021, "\(name) ran for more than \(limit) s")))
            }
            promise.futureResult.whenComplete { _ in timer.cancel() }
        }
        return promise.futureResult
    }

    private func record(_ p: PreparedRequest, _ answer: DapiAnswer, since start: NIODeadline) {
        switch answer {
        case .result, .encoded: stats.count(.executed)
        case .failure(let e): stats.count(e.code == 3021 ? .timedOut : .failed)
        }
        NodeMetrics.shared.dapi(p.operation.name, answer.metricsOutcome, seconds: Double((NIODeadline.now() - start).nanoseconds) / 1e9)
        if logger.logLevel <= .debug {
            let ms = Double((NIODeadline.now() - start).nanoseconds) / 1e6
            switch answer {
            case .result(let r):
                logger.debug("Executed \(p.operation.name) (\(p.request.requestType.rawValue)) in \(String(format: "%.3f", ms)) ms: \(r.totalAffectedItems) affected, \(r.totalFailedItems) failed.")
            case .encoded(let b):
                logger.debug("Executed \(p.operation.name) (\(p.request.requestType.rawValue)) in \(String(format: "%.3f", ms)) ms: \(b.count) bytes of result.")
            case .failure(let e):
                logger.debug("Executed \(p.operation.name) (\(p.request.requestType.rawValue)) in \(String(format: "%.3f", ms)) ms: \(e)")
            }
        }
    }

    // MARK: answers awaited from another node

    /// A new id for a request sent to `peer` (a process-wide counter: never reused while the
    /// process lives, unlike the reference's 20-bit random names, W6), and the future of its
    /// answer, failed after `deadline` seconds unless it arrives first.
    func register(peer: String, loop: EventLoop, deadline: Double) -> (id: String, answer: EventLoopFuture<[UInt8]>) {
        let n = counter.withLockedValue { $0 += 1; return $0 }
        let id = String(n)
        let promise = loop.makePromise(of: [UInt8].self)
        let timer = loop.scheduleTask(in: .nanoseconds(Int64(deadline * 1e9))) { [self] in
            _ = resolve(id: id, peer: peer, .failure(ClusterError.wazuh(3021, "no answer from \(peer) within \(Int(deadline.rounded(.up))) s")))
        }
        pending.withLockedValue { $0[id] = Pending(peer: peer, promise: promise, timer: timer) }
        return (id, promise.futureResult)
    }

    /// Delivers the answer to request `id`, only if `peer` is the node it was sent to.
    func resolve(id: String, peer: String, _ r: Result<[UInt8], Error>) -> Bool {
        let p = pending.withLockedValue { s -> Pending? in
            guard let p = s[id], p.peer == peer else { return nil }
            s.removeValue(forKey: id)
            return p
        }
        guard let p else { return false }
        p.timer.cancel()
        p.promise.completeWith(r)
        return true
    }


    /// Fails every request waiting on `peer` (it disconnected), or on every peer (the node is
    /// stopping: nothing may be left waiting when the loops close).
    func failAll(peer: String?, _ error: ClusterError) {
        let gone = pending.withLockedValue { s -> [Pending] in
            let mine = s.filter { peer == nil || $0.value.peer == peer }
            for k in mine.keys { s.removeValue(forKey: k) }
            return Array(mine.values)
        }
        for p in gone {
            p.timer.cancel()
            p.promise.fail(error)
        }
    }

    /// Sends `request` to `peer` as `dapi '<id> <json>'`; the future has the answer's JSON (a
    /// result, or an exception), all of it (the acknowledgement included) within the request's
    /// deadline. It never fails: a failure is the exception JSON.
    func ask(_ request: DapiRequest, over conn: ClusterConnection, peer: String, hops: Int) -> EventLoopFuture<[UInt8]> {
        ask(request.bytes, deadline: answerDeadline(request, hops: hops), over: conn, peer: peer)
    }

    /// `ask` toward a node that may be a reference node (`kind`): a node of ours is sent the
    /// operation by name; a reference node the code reference of `ReferenceCallTable.reverse`,
    /// its answer read back from the reference's encoding; and when the operation has no code
    /// reference, nothing is sent, and the answer is a 3103 that says why.
    func ask(_ request: DapiRequest, over conn: ClusterConnection, peer: String, kind: PeerKind, hops: Int) -> EventLoopFuture<[UInt8]> {
        guard kind.isReference else { return ask(request, over: conn, peer: peer, hops: hops) }
        guard let payload = ReferenceCallTable.reverse(request, peer: peer) else {
            let e = ReferenceCallTable.notSent(request.operation, peer: peer)
            stats.count(.forwardFailed)
            logger.info("\(e)")
            return conn.eventLoop.makeSucceededFuture(WireError.payload(e))
        }
        let operation = request.operation
        return ask(payload, deadline: answerDeadline(request, hops: hops), over: conn, peer: peer).map { bytes in
            ReferenceCallTable.ourAnswer(bytes, operation: operation).bytes
        }
    }

    private func ask(_ payload: [UInt8], deadline: Double, over conn: ClusterConnection, peer: String) -> EventLoopFuture<[UInt8]> {
        let (id, answer) = register(peer: peer, loop: conn.eventLoop, deadline: deadline)
        stats.count(.forwarded)
        // The acknowledgement is not awaited on its own: only a refusal or a lost connection
        // ends the wait early.
        conn.requestFuture(ClusterCommand.dapi, Array("\(id) ".utf8) + payload).whenComplete { [self] r in
            switch r {
            case .success(let response) where response.command == ClusterCommand.err:
                _ = resolve(id: id, peer: peer, .failure(WireError.decode(response.payload)))
            case .success: break
            case .failure(let e): _ = resolve(id: id, peer: peer, .failure(e))
            }
        }
        let stats = self.stats
        return answer.flatMapErrorThrowing { error in
            stats.count(.forwardFailed)
            return WireError.payload(DapiRuntime.clusterError(error))
        }
    }

    var load: JSONObject {
        var o = stats.dapiCounters
        let l = limiter.load
        o["running"] = .int(Int64(l.running))
        o["waiting"] = .int(Int64(l.waiting))
        o["awaiting_answers"] = .int(Int64(pending.withLockedValue { $0.count }))
        o["concurrency"] = .int(Int64(limiter.permits))
        return o
    }
}

/// Completes a promise once: the first of the work and its deadline wins. Both complete on the
/// promise's event loop, so the flag needs no lock.
final class FirstCompletion<T: Sendable>: Sendable {
    private let promise: EventLoopPromise<T>
    private let done: NIOLoopBoundBox<Bool>

    init(_ promise: EventLoopPromise<T>) {
        self.promise = promise
        done = NIOLoopBoundBox(false, eventLoop: promise.futureResult.eventLoop)
    }

    func complete(_ value: T) {
        let loop = promise.futureResult.eventLoop
        guard loop.inEventLoop else {
            loop.execute { self.complete(value) }
            return
        }
        guard !done.value else { return }
        done.value = true
        promise.succeed(value)
    }
}

extension ClusterConnection {
    /// Sends a distributed API answer the reference's way: `new_str <length>` for a string id,
    /// the bytes in `str_upd '<id> <slice>'`, then `dapi_res '[<prefix> ]<id>'`. The slices and
    /// the `dapi_res` are written back to back once the id is known, all from the event loop,
    /// and only the last answer is awaited: the peer handles them in order, and its `dapi_res`
    /// handler fails if any slice went missing.
    func sendDapiAnswer(_ bytes: [UInt8], prefix: String?) -> EventLoopFuture<Void> {
        let slice = settings.requestChunk - 21
        let done = requestFuture(ClusterCommand.newString, Array(String(bytes.count).utf8)).flatMapThrowing { r -> String in
            if r.command == ClusterCommand.err { throw WireError.decode(r.payload) }
            let id = r.text
            guard !id.isEmpty, id.utf8.count <= 20, id.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw ClusterError.wazuh(3016, "the peer answered new_str with '\(LogText.truncated(id, max: 40))'")
            }
            return id
        }.flatMap { id -> EventLoopFuture<Response> in
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + slice, bytes.count)
                _ = self.requestFuture(ClusterCommand.stringUpdate, Array("\(id) ".utf8) + bytes[offset..<end])
                offset = end
            }
            return self.requestFuture(ClusterCommand.dapiResponse, Array((prefix.map { "\($0) \(id)" } ?? id).utf8))
        }
        return done.flatMapThrowing { r in
            if r.command == ClusterCommand.err { throw WireError.decode(r.payload) }
        }
    }
}
