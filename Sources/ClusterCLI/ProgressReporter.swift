import ClusterKit
import Foundation

/// A one-line progress display on stderr, redrawn at most a few times a second.
public final class ProgressReporter: @unchecked Sendable {
    private let enabled: Bool
    private let label: String
    private var lastDraw = Date.distantPast
    private var drewSomething = false
    private let lock = NSLock()

    public init(label: String, enabled: Bool) {
        self.label = label
        self.enabled = enabled
    }

    /// Reports `done` of `total` units (total may be unknown), with an optional unit name.
    public func update(done: Int, total: Int? = nil, unit: String = "", force: Bool = false) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= 0.2 else { return }
        lastDraw = now
        var line = "\r\u{1B}[K\(label): \(ProgressReporter.format(done, unit))"
        if let total, total > 0 {
            let pct = Double(done) * 100 / Double(total)
            line += " / \(ProgressReporter.format(total, unit)) (\(String(format: "%.0f", pct))%)"
        }
        StandardStreams.writeError(line)
        drewSomething = true
    }

    /// Clears the progress line.
    public func finish() {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        if drewSomething { StandardStreams.writeError("\r\u{1B}[K") }
    }

    static func format(_ n: Int, _ unit: String) -> String {
        if unit == "B" {
            let units = ["B", "KiB", "MiB", "GiB", "TiB"]
            var v = Double(n), i = 0
            while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
            return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
        }
        return unit.isEmpty ? "\(n)" : "\(n) \(unit)"
    }
}
