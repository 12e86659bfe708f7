import ClusterKit
import Foundation
import NIOCore
import NIOPosix

/// One exchange with a manager daemon's unix socket (authd, wazuh-db, remoted, the task
/// manager): connect, send one `DaemonSocketFraming` frame, read one back, close.
///
/// Everything is bounded, where the reference's blocking socket waits forever: the whole exchange
/// has a deadline, and the answer a size. Failures carry the reference's errors, as its master
/// puts them in `sendsyn_err`: no socket file is 1013 (`Unable to connect with socket: auth`), a
/// socket nobody accepts on is 1121 (`Socket 'auth' cannot receive connections`), anything after
/// the connection is 1014 (`Error communicating with socket: ...`).
enum DaemonSocketClient {
    static func exchange(_ request: SendSyncRequest, root: String, loop: EventLoop, timeout: Double,
                         maxReply: Int = SendSyncRequest.maxReplyBytes) -> EventLoopFuture<[UInt8]> {
        let daemon = request.daemon
        let path = (root as NSString).appendingPathComponent(daemon.socketPath)
        let promise = loop.makePromise(of: Result<[UInt8], ClusterError>.self)
        let once = FirstCompletion(promise)
        let seconds = Int(timeout.rounded(.up))
        let deadline = loop.scheduleTask(in: .nanoseconds(Int64(timeout * 1e9))) {
            once.complete(.failure(SendSyncRequest.socketError("no answer from \(daemon.rawValue) within \(seconds) s")))
        }
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.nanoseconds(Int64(timeout * 1e9)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DaemonReplyHandler(once: once, daemon: daemon, maxReply: maxReply))
                }
            }
        bootstrap.connect(unixDomainSocketPath: path).whenComplete { r in
            switch r {
            case .failure(let error):
                once.complete(.failure(connectError(error, daemon: daemon)))
            case .success(let channel):
                var buffer = channel.allocator.buffer(capacity: 4 + request.message.count)
                buffer.writeBytes(DaemonSocketFraming.frame(request.message))
                channel.writeAndFlush(buffer).whenFailure { e in
                    once.complete(.failure(SendSyncRequest.socketError("\(e)")))
                }
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            }
        }
        return promise.futureResult.flatMapThrowing { r in
            deadline.cancel()
            return try r.get()
        }
    }

    /// The reference's errors for a connection that did not happen.
    static func connectError(_ error: Error, daemon: SendSyncDaemon) -> ClusterError {
        var underlying = error
        if let e = error as? NIOConnectionError, let first = e.connectionErrors.first { underlying = first.error }
        switch (underlying as? IOError)?.errnoCode {
        case ENOENT?:
            return ClusterError.wazuh(1013, daemon.socketName)
        case ECONNREFUSED?:
            return ClusterError.wazuh(1121, "Socket '\(daemon.socketName)' cannot receive connections")
        default:
            return ClusterError.wazuh(1013, "\(daemon.socketName): \(underlying)")
        }
    }
}

/// Reads the daemon's one answer on the exchange's channel.
private final class DaemonReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let once: FirstCompletion<Result<[UInt8], ClusterError>>
    let daemon: SendSyncDaemon
    var reader: DaemonSocketFraming.ReplyReader

    init(once: FirstCompletion<Result<[UInt8], ClusterError>>, daemon: SendSyncDaemon, maxReply: Int) {
        self.once = once
        self.daemon = daemon
        reader = DaemonSocketFraming.ReplyReader(maxReply: maxReply)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do {
            guard let reply = try buffer.withUnsafeReadableBytes({ try reader.feed($0) }) else { return }
            // The reference decodes the answer as UTF-8 before it sends it on.
            guard String(validating: reply, as: UTF8.self) != nil else {
                throw SendSyncRequest.socketError("the answer of \(daemon.rawValue) is not UTF-8")
            }
            once.complete(.success(reply))
        } catch {
            once.complete(.failure(error as? ClusterError ?? SendSyncRequest.socketError("\(error)")))
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let why = reader.hasPartial ? "closed the connection in the middle of its answer" : "closed the connection without answering"
        once.complete(.failure(SendSyncRequest.socketError("\(daemon.rawValue) \(why)")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        once.complete(.failure(SendSyncRequest.socketError("\(error)")))
        context.close(promise: nil)
    }
}
