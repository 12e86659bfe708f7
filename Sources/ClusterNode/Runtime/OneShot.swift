import ClusterKit
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A value that arrives once, from elsewhere (a file that a later `*_e` names, an answer the
/// peer sends as a request of its own, work finishing on a thread pool), awaited by one task.
/// The first completion wins; later ones are refused. The deadline is a timer on an event loop,
/// not a task per wait.
final class OneShot<T: Sendable>: Sendable {
    private struct State {
        var result: Result<T, Error>?
        var waiter: CheckedContinuation<T, Error>?
        var timer: Scheduled<Void>?
    }
    private let state = NIOLockedValueBox(State())

    init() {}

    var isResolved: Bool { state.withLockedValue { $0.result != nil } }

    /// Completes the one-shot; false when it was already complete.
    @discardableResult
    func complete(_ r: Result<T, Error>) -> Bool {
        let (first, waiter, timer) = state.withLockedValue { s -> (Bool, CheckedContinuation<T, Error>?, Scheduled<Void>?) in
            guard s.result == nil else { return (false, nil, nil) }
            s.result = r
            defer { s.waiter = nil; s.timer = nil }
            return (true, s.waiter, s.timer)
        }
        timer?.cancel()
        waiter?.resume(with: r)
        return first
    }

    @discardableResult func succeed(_ value: T) -> Bool { complete(.success(value)) }
    @discardableResult func fail(_ error: Error) -> Bool { complete(.failure(error)) }

    /// Fails with `error()` after `seconds` unless completed before.
    func setDeadline(_ seconds: Double, on loop: EventLoop, error: @escaping @Sendable () -> Error) {
        let t = loop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { [weak self] () -> Void in
            self?.complete(.failure(error()))
        }
        let resolved = state.withLockedValue { s -> Bool in
            if s.result != nil { return true }
            s.timer = t
            return false
        }
        if resolved { t.cancel() }
    }

    /// Waits for the value; cancelling the waiting task fails the one-shot.
    func value() async throws -> T {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
                let ready = state.withLockedValue { s -> Result<T, Error>? in
                    if let r = s.result { return r }
                    s.waiter = c
                    return nil
                }
                if let ready { c.resume(with: ready) }
            }
        } onCancel: {
            self.fail(CancellationError())
        }
    }

    /// `setDeadline` (a timer on `loop`) then `value`.
    func wait(timeout: Double, on loop: EventLoop, timeoutError: @autoclosure @escaping @Sendable () -> Error) async throws -> T {
        setDeadline(timeout, on: loop, error: timeoutError)
        return try await value()
    }
}

/// A rendezvous for an answer the peer sends as a request of its own: armed before the question
/// is asked, so an early answer is kept; answers that arrive unarmed are refused.
final class ReplySlot<T: Sendable>: Sendable {
    private let current = NIOLockedValueBox<OneShot<T>?>(nil)

    func arm() { current.withLockedValue { $0 = OneShot() } }

    func disarm() {
        current.withLockedValue { s -> OneShot<T>? in defer { s = nil }; return s }?.fail(CancellationError())
    }

    /// Hands over `value`; false when nobody is waiting for one.
    func deliver(_ value: T) -> Bool {
        current.withLockedValue { $0 }?.succeed(value) ?? false
    }

    func wait(timeout: Double, on loop: EventLoop, timeoutError: @autoclosure @escaping @Sendable () -> Error) async throws -> T {
        guard let slot = current.withLockedValue({ $0 }) else { throw CancellationError() }
        return try await slot.wait(timeout: timeout, on: loop, timeoutError: timeoutError())
    }
}
