import Foundation

/// The node's wall clock: what it stamps, logs and compares keepalives with. It is the system
/// clock, moved by an offset when `CLUSTERTOOLS_CLOCK_OFFSET_FILE` names a file holding a number
/// of seconds (read again at most once a second): the clock-jump tests move one node's clock an
/// hour either way while it runs, as an NTP step or `date -s` would. Durations and deadlines
/// never use this clock: they use the monotonic one (`ContinuousClock`), which a jump leaves
/// alone. Nor do comparisons with file times (the scanner's racy window, the age of staging
/// directories): those compare with the kernel's clock, which stamped the files, and which the
/// offset does not move.
public enum WallClock {
    /// The offset's file, from the environment at start; nil in normal use.
    static let offsetFile: String? = ProcessInfo.processInfo.environment["CLUSTERTOOLS_CLOCK_OFFSET_FILE"]

    private static let lock = NSLock()
    nonisolated(unsafe) private static var cached: (offset: Double, readAt: ContinuousClock.Instant)?

    /// Seconds added to the system clock (0 unless a test set an offset).
    public static var offset: Double {
        guard let file = offsetFile else { return 0 }
        return lock.withLock {
            let now = ContinuousClock.now
            if let c = cached, now - c.readAt < .seconds(1) { return c.offset }
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            let value = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            cached = (value, now)
            return value
        }
    }

    public static var now: Date { Date(timeIntervalSinceNow: offset) }

    /// Seconds since the epoch.
    public static var seconds: Double { Date().timeIntervalSince1970 + offset }
}
