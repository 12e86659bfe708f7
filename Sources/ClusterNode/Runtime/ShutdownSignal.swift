import Foundation
import NIOConcurrencyHelpers

/// A one-shot signal that the node should stop (SIGTERM, SIGINT, or a test). Any number of
/// tasks may wait for it.
public final class ShutdownSignal: Sendable {
    private struct State {
        var triggered = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }
    private let state = NIOLockedValueBox(State())

    public init() {}

    public var isTriggered: Bool { state.withLockedValue { $0.triggered } }

    public func trigger() {
        let waiters = state.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            guard !s.triggered else { return [] }
            s.triggered = true
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
    }

    /// Returns when the signal triggers, or when the waiting task is cancelled.
    public func wait() async {
        let id = state.withLockedValue { s -> Int in s.nextID += 1; return s.nextID }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLockedValue { s -> Bool in
                    if s.triggered || Task.isCancelled { return true }
                    s.waiters[id] = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            state.withLockedValue { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Waits at most `seconds`; true when the signal triggered (false on timeout or cancellation).
    @discardableResult
    public func wait(timeout seconds: Double) async -> Bool {
        if isTriggered { return true }
        await withTaskGroup(of: Void.self) { g in
            g.addTask { await self.wait() }
            g.addTask { try? await Task.sleep(for: .seconds(max(0, seconds))) }
            await g.next()
            g.cancelAll()
        }
        return isTriggered
    }

    /// Triggers on SIGTERM and SIGINT.
    public func installSignalHandlers() {
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in self.trigger() }
            source.resume()
            ShutdownSignal.sources.append(source)
        }
    }

    // Signal sources must stay alive for the life of the process.
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
}
