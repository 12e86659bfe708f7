import ClusterKit
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// One cluster connection, either end, TCP or unix socket: the reference's `Handler`, as the
/// rest of the node sees it.
///
/// A thin Sendable front over the channel: the state lives in the `ConnectionHandler` on the
/// channel's event loop. `request` encodes (and encrypts) on the caller's thread and hands the
/// frames to the loop in one hop, where the counter is chosen and the response awaited.
/// The receiving side (strings, files, responses) is the handler's; roles reach it from their
/// `handle`, which runs on the loop.
public final class ClusterConnection: Sendable {
    public let id: UInt64
    public let peerAddress: String
    public let settings: ConnectionSettings
    let channel: Channel
    let encoder: FrameEncoder
    let handler: NIOLoopBound<ConnectionHandler>
    /// Triggered when the channel closes; work bound to the connection waits on it.
    let closedSignal = ShutdownSignal()

    private static let nextID = NIOLockedValueBox<UInt64>(0)

    init(channel: Channel, handler: ConnectionHandler, settings: ConnectionSettings, peerAddress: String) {
        id = ClusterConnection.nextID.withLockedValue { $0 += 1; return $0 }
        self.channel = channel
        self.settings = settings
        self.peerAddress = peerAddress
        encoder = FrameEncoder(fernet: settings.fernet, requestChunk: settings.requestChunk)
        self.handler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
    }

    public var eventLoop: EventLoop { channel.eventLoop }

    /// Sets the log the connection's handler writes to (it lives on the loop, with the handler).
    public func setLogger(_ l: Logger) {
        onLoop { $0.logger = l }
    }

    /// The only directory (relative to the node root) a peer may send files into.
    public func setFileInbox(_ relativeDirectory: String?) {
        onLoop { $0.machine.fileInbox = relativeDirectory }
    }

    public var isClosed: Bool { closedSignal.isTriggered }

    /// Closes the connection; pending requests fail.
    public func close() {
        channel.close(promise: nil)
    }

    /// Waits until the connection is closed (or the waiting task is cancelled).
    public func closed() async { await closedSignal.wait() }

    private func onLoop(_ body: @escaping @Sendable (ConnectionHandler) -> Void) {
        if channel.eventLoop.inEventLoop {
            body(handler.value)
        } else {
            let handler = self.handler
            channel.eventLoop.execute { body(handler.value) }
        }
    }

    // MARK: requests

    /// Sends a request and returns its response's future at once (at most `timeout`, default
    /// the configured `timeout_cluster_request`; a late response is dropped). The peer handles a
    /// connection's requests in order, so a sender may write several before awaiting the last.
    public func requestFuture(_ command: String, _ payload: [UInt8] = [], timeout: Double? = nil) -> EventLoopFuture<Response> {
        let promise = channel.eventLoop.makePromise(of: Response.self)
        // The token goes straight into the channel's buffer (with the headers between its
        // slices when the message is divided).
        var buffer: ByteBuffer
        let starts: [Int]
        do {
            if let size = encoder.singleFrameSize(payloadCount: payload.count) {
                buffer = channel.allocator.buffer(capacity: size)
                try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                    try payload.withUnsafeBytes {
                        try encoder.encodeSingleFrame(command: Array(command.utf8), counter: 0, payload: $0,
                                                      into: UnsafeMutableRawBufferPointer(rebasing: out[0..<size]))
                    }
                    return size
                }
                starts = [0]
            } else {
                let encoded = try payload.withUnsafeBytes { try encoder.encodeParts(command: Array(command.utf8), counter: 0, payload: $0) }
                buffer = channel.allocator.buffer(capacity: encoded.byteCount)
                encoded.write { buffer.writeBytes($0) }
                starts = encoded.frames.map(\.lowerBound)
            }
        } catch {
            promise.fail(error)
            return promise.futureResult
        }
        let wait = TimeAmount.nanoseconds(Int64((timeout ?? settings.requestTimeout) * 1e9))
        let sendable = buffer
        onLoop { $0.sendRequest(command, encoded: sendable, frameStarts: starts, timeout: wait, promise: promise) }
        return promise.futureResult
    }

    public func request(_ command: String, _ payload: [UInt8] = [], timeout: Double? = nil) async throws -> Response {
        try await requestFuture(command, payload, timeout: timeout).get()
    }

    public func request(_ command: String, _ text: String, timeout: Double? = nil) async throws -> Response {
        try await request(command, Array(text.utf8), timeout: timeout)
    }

    /// A request whose `err` answer is thrown as the error the peer sent.
    public func requestOK(_ command: String, _ payload: [UInt8] = [], timeout: Double? = nil) async throws -> Response {
        let r = try await request(command, payload, timeout: timeout)
        if r.command == ClusterCommand.err { throw WireError.decode(r.payload) }
        return r
    }

    public func requestOK(_ command: String, _ text: String, timeout: Double? = nil) async throws -> Response {
        try await requestOK(command, Array(text.utf8), timeout: timeout)
    }

    // MARK: what a role takes from the handler (on the loop)

    /// Takes a received string by id; an error when it is unknown or incomplete. Called from a
    /// role's `handle`, on the connection's loop.
    public func takeString(_ id: String) throws -> [UInt8] {
        try handler.value.machine.takeString(id)
    }

    /// Takes a completely received file by its path relative to the root (as named in `*_e`).
    /// Called from a role's `handle`, on the connection's loop.
    public func claimReceivedFile(_ relativePath: String) -> String? {
        handler.value.machine.claimReceivedFile(relativePath)
    }

    /// Whether the peer cancelled `task` with `cancel_task`.
    public func isInterrupted(_ task: String) async -> Bool {
        let handler = self.handler
        return (try? await channel.eventLoop.submit { handler.value.machine.isInterrupted(task) }.get()) ?? false
    }


    static let checksumMismatch = "File wasn't correctly received. Checksums aren't equal."
}
