/// The owner of a node's background work: everything a handler starts that outlives its answer
/// (a check and its sync, an agent-info apply, a distributed API request) runs as a child of
/// one task group, inside the node's `run`. Work bound to a connection is cancelled when the
/// connection closes; all of it is cancelled, and waited for, when the node stops. Nothing is
/// left running behind a closed connection or a stopped node.
public final class TaskOwner: Sendable {
    public typealias Work = @Sendable () async -> Void

    private let stream: AsyncStream<Work>
    private let continuation: AsyncStream<Work>.Continuation

    public init() {
        (stream, continuation) = AsyncStream.makeStream(of: Work.self)
    }

    /// Work for the node's lifetime. Refused silently once the node is stopping.
    public func spawn(_ work: @escaping Work) {
        continuation.yield(work)
    }

    /// Work that ends with `connection`: cancelled when it closes.
    public func spawn(boundTo connection: ClusterConnection, _ work: @escaping Work) {
        continuation.yield {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await work() }
                group.addTask { await connection.closed() }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// Runs the spawned work until `stop()` or cancellation; on return every task has ended.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for await work in stream {
                group.addTask { await work() }
            }
            group.cancelAll()
        }
    }

    /// No more work is accepted; `run` cancels what runs and returns once it has ended.
    public func stop() {
        continuation.finish()
    }
}
