import NIOConcurrencyHelpers

/// A counting semaphore for async code, with a bounded queue: at most `permits` holders, at
/// most `maxWaiting` waiting; past that, `acquire` refuses at once (back-pressure instead of an
/// unbounded queue, which is what the reference has).
final class AsyncLimiter: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Bool, Never>] = []
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

    /// Waits for a permit; false at once when the queue is full.
    func acquire() async -> Bool {
        await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            let now: Bool? = state.withLockedValue { s in
                if s.available > 0 { s.available -= 1; return true }
                if s.waiting >= maxWaiting { return false }
                s.waiters.append(c)
                return nil
            }
            if let now { c.resume(returning: now) }
        }
    }

    /// Gives the permit to the longest waiter, or back.
    func release() {
        let next = state.withLockedValue { s -> CheckedContinuation<Bool, Never>? in
            guard s.head < s.waiters.count else { s.available += 1; return nil }
            let w = s.waiters[s.head]
            s.head += 1
            if s.head >= 64 && s.head * 2 >= s.waiters.count {
                s.waiters.removeFirst(s.head)
                s.head = 0
            }
            return w
        }
        next?.resume(returning: true)
    }

    var load: (running: Int, waiting: Int) {
        state.withLockedValue { s in (permits - s.available, s.waiting) }
    }
}
