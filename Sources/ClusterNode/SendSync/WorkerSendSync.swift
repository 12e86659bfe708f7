import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The worker's side of `sendsync` (dapi §4.5, wire §8.5, §11): a C daemon's
/// `sendsync {"daemon_name", "message"}` on the local socket gets no reply; the worker relays it
/// to the master as `sendsync '<client id> <json>'`, and delivers the master's answer to that
/// client as a new request: `ok <daemon reply>` for `sendsyn_res`, `err <text>` for `sendsyn_err`.
///
/// Where the reference's worker leaves its client waiting (a master that refuses the relay, a
/// lost master, no answer), this one answers `err` at once: a refusal by the master with its
/// text, a lost master with 3023, no answer within `limits.sendsync_timeout` plus
/// `timeout_cluster_request` with 3020. A request the master would refuse (an unknown daemon, a
/// malformed body) is refused here in the master's words, without asking it. When the worker is
/// not connected, the `sendsync` itself is answered `err` 3023, as the reference does.
extension WorkerNode {
    /// `sendsync <json>` from a local client.
    func sendSyncLocal(_ r: IncomingRequest, from client: ClusterConnection) throws -> HandlerResult {
        guard let master = masterConnection else { throw ClusterError.wazuh(3023) }
        do {
            _ = try SendSyncRequest(payload: r.payload)
        } catch {
            SendSyncRelay.answer(client, ClusterCommand.err, Array("\(DapiRuntime.clusterError(error))".utf8))
            return .noReply
        }
        guard let id = sendSync.register(client) else {
            throw SendSyncRequest.socketError("\(SendSyncRelay.maxWaiting) sendsync requests are already waiting for the master")
        }
        let relay = sendSync
        master.requestFuture(ClusterCommand.sendSync, Array("\(id) ".utf8) + r.payload).whenComplete { result in
            switch result {
            case .success(let response) where response.command == ClusterCommand.err:
                // A master that does not relay (an older version answers "unknown command").
                relay.deliver(id, ClusterCommand.err, Array("\(WireError.decode(response.payload))".utf8))
            case .success:
                break
            case .failure(let e):
                relay.deliver(id, ClusterCommand.err, Array("\(DapiRuntime.clusterError(e))".utf8))
            }
        }
        return .noReply
    }

    /// `sendsyn_res '<client id> <string id>'`: the daemon's reply, for one of our local clients.
    func sendSyncResponse(_ r: IncomingRequest, on conn: ClusterConnection) throws -> Reply {
        guard let (id, sid) = r.splitFirstSpace() else {
            throw ClusterError.wazuh(1000, "sendsyn_res needs '<client id> <string id>'")
        }
        let delivered: Bool
        do {
            let reply = try conn.takeString(String(decoding: sid, as: UTF8.self))
            delivered = sendSync.deliver(id, ClusterCommand.ok, reply)
        } catch {
            delivered = sendSync.deliver(id, ClusterCommand.err, Array("\(DapiRuntime.clusterError(error))".utf8))
        }
        if !delivered { sendSync.logger.debug("A SendSync answer arrived for a client no longer waiting (\(LogText.truncated(id, max: 64))): dropped.") }
        return .ok(ClusterCommand.sendSyncForwarded)
    }

    /// `sendsyn_err '<client id> <error>'`: the master could not reach the daemon.
    func sendSyncError(_ r: IncomingRequest) throws -> Reply {
        guard let (id, text) = r.splitFirstSpace() else { throw ClusterError.wazuh(1000, "sendsyn_err needs '<client id> <error>'") }
        if !sendSync.deliver(id, ClusterCommand.err, text) {
            sendSync.logger.debug("A SendSync error arrived for a client no longer waiting (\(LogText.truncated(id, max: 64))): dropped.")
        }
        return .ok(ClusterCommand.sendSyncErrorForwarded)
    }
}

/// The local clients waiting for an answer to a relayed `sendsync`, by the id the master echoes.
final class SendSyncRelay: Sendable {
    /// At most this many clients wait at once (the local socket's own client limit).
    static let maxWaiting = 512

    private struct Waiting: Sendable {
        let client: ClusterConnection
        let timer: Scheduled<Void>
    }
    private let waiting = NIOLockedValueBox<[String: Waiting]>([:])
    private let counter = NIOLockedValueBox<UInt64>(0)
    let deadline: Double
    let logger: Logger

    init(deadline: Double, logger: Logger) {
        self.deadline = deadline
        self.logger = logger.subtagged("SendSync")
    }

    /// A new id for `client`, answered `err` 3020 when nothing arrives within the deadline; nil
    /// when too many clients wait already.
    func register(_ client: ClusterConnection) -> String? {
        let id = String(counter.withLockedValue { $0 += 1; return $0 })
        let deadline = self.deadline
        let timer = client.eventLoop.scheduleTask(in: .nanoseconds(Int64(deadline * 1e9))) { [self] in
            _ = deliver(id, ClusterCommand.err, Array("\(ClusterError.wazuh(3020, ClusterCommand.sendSync))".utf8))
        }
        let added = waiting.withLockedValue { w -> Bool in
            guard w.count < SendSyncRelay.maxWaiting else { return false }
            w[id] = Waiting(client: client, timer: timer)
            return true
        }
        guard added else {
            timer.cancel()
            return nil
        }
        // A client that leaves stops waiting.
        client.channel.closeFuture.whenComplete { [self] _ in
            waiting.withLockedValue { $0.removeValue(forKey: id) }?.timer.cancel()
        }
        return id
    }

    /// Hands an answer to the client waiting under `id`; false when none is.
    @discardableResult
    func deliver(_ id: String, _ command: String, _ payload: [UInt8]) -> Bool {
        guard let w = waiting.withLockedValue({ $0.removeValue(forKey: id) }) else { return false }
        w.timer.cancel()
        SendSyncRelay.answer(w.client, command, payload)
        return true
    }

    /// Answers every waiting client with `err` (the master is gone, or the node stops).
    func failAll(_ error: ClusterError) {
        let all = waiting.withLockedValue { w -> [Waiting] in
            defer { w.removeAll() }
            return Array(w.values)
        }
        for w in all {
            w.timer.cancel()
            SendSyncRelay.answer(w.client, ClusterCommand.err, Array("\(error)".utf8))
        }
    }

    /// Sends the answer as the reference does: a new request `ok`/`err`, which the C clients read
    /// and never acknowledge; the wait for that acknowledgement ends with the client's close.
    static func answer(_ client: ClusterConnection, _ command: String, _ payload: [UInt8]) {
        guard !client.isClosed else { return }
        _ = client.requestFuture(command, payload)
    }
}
