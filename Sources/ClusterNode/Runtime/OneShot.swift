import ClusterKit
import NIOConcurrencyHelpers

/// A value that arrives once, from another request (a file that a later `*_e` names, a result
/// the peer sends as a request of its own), awaited with a deadline.
final class OneShot<T: Sendable>: Sendable {
    private struct State {
        var result: Result<T, Error>?
        var waiter: CheckedContinuation<T, Error>?
    }
    private let state = NIOLockedValueBox(State())

    init() {}

    var isResolved: Bool { state.withLockedValue { $0.result != nil } }

    func succeed(_ value: T) { resolve(.success(value)) }
    func fail(_ error: Error) { resolve(.failure(error)) }

    private func resolve(_ r: Result<T, Error>) {
        let waiter = state.withLockedValue { s -> CheckedContinuation<T, Error>? in
            guard s.result == nil else { return nil }
            s.result = r
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(with: r)
    }

    /// Waits for the value; after `timeout` seconds fails with `timeoutError` (and resolves the
    /// one-shot with it, so a late value is ignored).
    func wait(timeout: Double, timeoutError: @autoclosure @escaping @Sendable () -> Error) async throws -> T {
        let timer = Task { [weak self] in
            try await Task.sleep(for: .seconds(timeout))
            self?.fail(timeoutError())
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
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
}
