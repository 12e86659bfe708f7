import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// What the metrics listener asks its node at each request.
protocol MetricsSource: Sendable {
    /// The node serves its role: a master bound and accepting workers, a worker connected to
    /// its master. `/healthz` answers 200 when true, 503 when not.
    var isServing: Bool { get }
    /// Sets the gauges that are read rather than recorded (connections, budgets, queues).
    func sampleMetrics(_ metrics: NodeMetrics)
}

/// The optional HTTP listener of `metrics.listen`: `GET /metrics` (the Prometheus text format,
/// written by swift-prometheus) and `GET /healthz`. HTTP/1.1 from NIOHTTP1, bounded: at most
/// `maxConnections` at once (more are closed as accepted), `maxRequestBytes` per connection, no
/// request body, one request per connection, `idleTimeout` to send it; other paths are 404, other
/// methods 405.
final class MetricsServer: Sendable {
    static let maxConnections = 16
    static let maxRequestBytes = 16 * 1024
    static let idleTimeout = TimeAmount.seconds(10)

    let channel: Channel

    private init(channel: Channel) { self.channel = channel }

    var port: Int? { channel.localAddress?.port }

    /// Binds `host:port` and serves until `close()`.
    static func start(host: String, port: Int, group: EventLoopGroup, startedAt: Date, source: MetricsSource,
                      logger: Logger) async throws -> MetricsServer {
        let open = NIOLockedValueBox(0)
        let responder = MetricsResponder(source: source, startedAt: startedAt)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let admitted = open.withLockedValue { n -> Bool in
                        guard n < maxConnections else { return false }
                        n += 1
                        return true
                    }
                    guard admitted else {
                        channel.close(promise: nil)
                        return
                    }
                    channel.closeFuture.whenComplete { _ in open.withLockedValue { $0 -= 1 } }
                    let ops = channel.pipeline.syncOperations
                    try ops.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try ops.addHandler(RequestSizeLimit(maxBytes: maxRequestBytes))
                    try ops.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: true)
                    try ops.addHandler(MetricsHTTPHandler(responder: responder))
                }
            }
        let server: Channel
        do {
            server = try await bootstrap.bind(host: host, port: port).get()
        } catch {
            throw ClusterError.unavailable("cannot listen for metrics on \(host):\(port) (metrics.listen): \(error)")
        }
        let s = MetricsServer(channel: server)
        logger.info("Serving metrics on http://\(Endpoint.Address.tcp(host: host, port: s.port ?? port))/metrics")
        return s
    }

    func close() async { try? await channel.close() }
}

/// What a request gets: the scrape or the health answer, made on the connection's loop.
struct MetricsResponder: Sendable {
    let source: MetricsSource
    let startedAt: Date

    func respond(method: HTTPMethod, uri: String) -> (HTTPResponseStatus, [(String, String)], [UInt8]) {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        guard path == "/metrics" || path == "/healthz" else { return (.notFound, [], Array("not found\n".utf8)) }
        guard method == .GET || method == .HEAD else { return (.methodNotAllowed, [("Allow", "GET, HEAD")], Array("only GET\n".utf8)) }
        if path == "/healthz" {
            return source.isServing ? (.ok, [], Array("ok\n".utf8)) : (.serviceUnavailable, [], Array("not serving\n".utf8))
        }
        let metrics = NodeMetrics.shared
        metrics.sampleProcess(startedAt: startedAt)
        source.sampleMetrics(metrics)
        let body = NodeMetrics.registry?.emitToBuffer() ?? []
        return (.ok, [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body)
    }
}

/// Closes a connection that sends more than `maxBytes` (its one request, headers and all), or
/// nothing for the idle timeout.
final class RequestSizeLimit: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let maxBytes: Int
    private var seen = 0

    init(maxBytes: Int) { self.maxBytes = maxBytes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        seen += unwrapInboundIn(data).readableBytes
        guard seen <= maxBytes else {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// One request per connection: answered, then closed. A request with a body is refused (413).
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let responder: MetricsResponder
    private var head: HTTPRequestHead?
    private var answered = false

    init(responder: MetricsResponder) { self.responder = responder }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body(let b):
            if b.readableBytes > 0 {
                reply(context, .payloadTooLarge, [], Array("no request body expected\n".utf8), head: false)
            }
        case .end:
            guard let h = head else { return }
            let (status, headers, body) = responder.respond(method: h.method, uri: h.uri)
            reply(context, status, headers, body, head: h.method == .HEAD)
        }
    }

    private func reply(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ extra: [(String, String)],
                       _ body: [UInt8], head: Bool) {
        answered = true
        var headers = HTTPHeaders(extra)
        if !headers.contains(name: "Content-Type") { headers.add(name: "Content-Type", value: "text/plain; charset=utf-8") }
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !head {
            var buffer = context.channel.allocator.buffer(capacity: body.count)
            buffer.writeBytes(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
