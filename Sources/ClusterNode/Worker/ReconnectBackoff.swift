import ClusterKit

/// Exponential backoff with full jitter: the n-th retry waits a uniformly random time in
/// `[0, min(cap, base · 2ⁿ)]`, so a fleet of workers that lost the same master does not come back
/// in lock step. (The reference waits a fixed `connection_retry`.)
public struct ReconnectBackoff: Sendable {
    public let base: Double
    public let cap: Double
    public private(set) var attempt = 0

    public init(base: Double, cap: Double) {
        self.base = base
        self.cap = max(base, cap)
    }

    /// The ceiling of the next delay.
    public var ceiling: Double { min(cap, base * Double(1 << min(attempt, 30))) }

    /// The next delay, in seconds; each call widens the window until it reaches the cap.
    public mutating func next() -> Double {
        let c = ceiling
        attempt += 1
        return Double(SecureRandom.below(1 << 53)) / Double(1 << 53) * c
    }

    public mutating func reset() { attempt = 0 }
}
