import NIOConcurrencyHelpers

/// A counting semaphore with a bounded queue: at most `permits` holders, at most `maxWaiting`
/// waiting; past that, `acquire` refuses at once (back-pressure instead of an unbounded queue,
/// which is what the reference has). Waiters are callbacks, so event-loop code can wait without
/// a task.
final class AsyncLimiter: Sendable {
    typealias Waiter = @Sendable (Bool) -> Void

    private struct State {
        var available: Int
        var waiters: [Waiter] = []
        var head = 0
        var waiting: Int { waiters.count - head }
    }
    private let state: NIOLockedValueBox<State>
    let permits: Int
    let maxWaiting: Int

    init(permits: Int, maxWaiting: Int) {
        self.permits = permits
        self.maxWaiting = maxWaiting
        state = NIOLockedValueBox(State(available: permits))
    }

    /// Calls `granted(true)` with a permit (at once, or when one is released), or
    /// `granted(false)` at once when the queue is full.
    func acquire(_ granted: @escaping Waiter) {
        let now: Bool? = state.withLockedValue { s in
            if s.available > 0 { s.available -= 1; return true }
            if s.waiting >= maxWaiting { return false }
            s.waiters.append(granted)
            return nil
        }
        if let now { granted(now) }
    }

    /// Gives the permit to the longest waiter, or back.
    func release() {
        let next = state.withLockedValue { s -> Waiter? in
            guard s.head < s.waiters.count else { s.available += 1; return nil }
            let w = s.waiters[s.head]
            s.head += 1
            if s.head >= 64 && s.head * 2 >= s.waiters.count {
                s.waiters.removeFirst(s.head)
                s.head = 0
            }
            return w
        }
        next?(true)
    }

    var load: (running: Int, waiting: Int) {
        state.withLockedValue { s in (permits - s.available, s.waiting) }
    }
}
