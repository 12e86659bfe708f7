import ClusterKit
import Foundation
import Logging
import NIOCore

/// The master's side of `sendsync` (dapi §4.5, wire §8.5): a worker relays a request from one of
/// its local C daemons as `sendsync '<client id> <json>'`; the master acknowledges it at once with
/// `ok 'Added request to SendSync requests queue'`, hands the message to the named daemon's socket
/// under its root, and answers with the daemon's reply as a string (`new_str`/`str_upd`) named by
/// `sendsyn_res '<client id> <string id>'`, or with `sendsyn_err '<client id> <error>'`.
///
/// Exchanges run concurrently, `maxConcurrentExchanges` at a time with a bounded queue behind
/// them (the reference runs them one at a time from an unbounded queue), each within
/// `limits.sendsync_timeout`. Every request gets one of the two answers.
extension MasterNode {
    static let maxConcurrentExchanges = 8
    static let maxWaitingExchanges = 256

    /// `sendsync '<client id> <json>'` from a worker.
    func sendSyncFromWorker(_ r: IncomingRequest, session: MasterWorkerSession) throws -> Reply {
        guard let (id, body) = r.splitFirstSpace(), !id.isEmpty, id.utf8.count <= SendSyncRequest.maxClientIDBytes else {
            throw ClusterError.wazuh(1000, "sendsync needs '<client id> <request>' with an id of at most \(SendSyncRequest.maxClientIDBytes) bytes")
        }
        let conn = session.connection
        let worker = session.name ?? conn.peerAddress
        let log = session.logger.subtagged("SendSync")
        let answer: EventLoopFuture<Result<[UInt8], ClusterError>>
        let daemon: String
        do {
            let request = try SendSyncRequest(payload: body)
            daemon = request.daemon.rawValue
            log.debug("Receiving SendSync request (\(daemon)) from \(worker) (\(LogText.truncated(id, max: 64))).")
            answer = exchange(request, loop: conn.eventLoop)
        } catch {
            daemon = "refused"
            answer = conn.eventLoop.makeSucceededFuture(.failure(DapiRuntime.clusterError(error)))
        }
        answer.whenSuccess { [self] result in
            if case .failure(let e) = result { log.error("Error in SendSync (\(daemon)) from \(worker): \(e)") }
            context.tasks.spawn(boundTo: conn) { await MasterNode.sendSyncAnswer(result, id: id, over: conn, log: log) }
        }
        return .ok(ClusterCommand.sendSyncQueued)
    }

    /// One daemon exchange, when a slot is free; never fails (a failure is the result's error).
    func exchange(_ request: SendSyncRequest, loop: EventLoop) -> EventLoopFuture<Result<[UInt8], ClusterError>> {
        let promise = loop.makePromise(of: Result<[UInt8], ClusterError>.self)
        let limiter = daemonLimiter, root = config.root, timeout = config.limits.sendSyncTimeout
        limiter.acquire { granted in
            guard granted else {
                promise.succeed(.failure(SendSyncRequest.socketError("\(limiter.maxWaiting) sendsync requests are already waiting for a daemon")))
                return
            }
            DaemonSocketClient.exchange(request, root: root, loop: loop, timeout: timeout).whenComplete { r in
                limiter.release()
                promise.succeed(r.mapError { DapiRuntime.clusterError($0) })
            }
        }
        return promise.futureResult
    }

    /// Sends the daemon's reply (or the error) back to the worker that asked.
    static func sendSyncAnswer(_ result: Result<[UInt8], ClusterError>, id: String, over conn: ClusterConnection, log: Logger) async {
        do {
            switch result {
            case .success(let reply):
                let sid = try await conn.sendString(reply, pipelined: true)
                _ = try await conn.requestOK(ClusterCommand.sendSyncResponse, "\(id) \(sid)")
            case .failure(let e):
                _ = try await conn.requestOK(ClusterCommand.sendSyncError, "\(id) \(e)")
            }
        } catch {
            log.error("Could not send a SendSync answer: \(error)")
        }
    }
}
