/// The reference's adaptive container size (sync §4.5): the most bytes of files one integrity
/// container may carry to one peer.
///
/// A receiver cancels a transfer that takes longer than `timeout_receiving_file`; the limit then
/// falls to what got through before the cancellation, less the tolerance, so the next cycle's
/// container arrives in time. Quick sends let it grow back toward `max_zip_size`. Files left out
/// stay different and go in later cycles.
public struct ZipSizeLimit: Sendable, Equatable {
    public let maxZipSize: Int
    public let minZipSize: Int
    /// The fraction the limit shrinks by on an interruption and the margin a send must beat the
    /// timeout by to grow it (`zip_limit_tolerance`, 0.2).
    public let tolerance: Double
    /// The limit the next container is built with.
    public private(set) var current: Int

    public init(maxZipSize: Int, minZipSize: Int, tolerance: Double) {
        // ClusterConfig already refuses these; a caller building one by hand gets the same rules.
        precondition(minZipSize >= 1 && minZipSize <= maxZipSize, "min_zip_size must be in 1...max_zip_size")
        precondition(tolerance >= 0 && tolerance < 1, "zip_limit_tolerance must be in [0, 1)")
        self.maxZipSize = maxZipSize
        self.minZipSize = minZipSize
        self.tolerance = tolerance
        current = maxZipSize
    }

    public init(intervals: ClusterConfig.Intervals) {
        self.init(maxZipSize: intervals.maxZipSize, minZipSize: intervals.minZipSize,
                  tolerance: intervals.zipLimitTolerance)
    }

    /// The receiver cancelled the transfer after `bytesSentBeforeInterruption` bytes: what got
    /// through is what fits in the timeout, so aim a tolerance below it, never below the floor.
    public mutating func recordInterrupted(bytesSentBeforeInterruption: Int) {
        let sent = Double(max(0, bytesSentBeforeInterruption))
        let target = sent * (1 - tolerance)
        // The Double → Int conversion traps past Int.max; a limit above max_zip_size is pointless.
        current = target >= Double(maxZipSize) ? maxZipSize : max(minZipSize, Int(target))
    }

    /// A send finished in `seconds`: when it beat the receiver's timeout by the tolerance, the
    /// limit grows by 1/(1 − tolerance), up to `max_zip_size`. A slow send leaves it alone, since
    /// a larger container would risk the cancellation that shrinks it again.
    public mutating func recordCompleted(seconds: Double, timeoutReceivingFile: Double) {
        guard current < maxZipSize, seconds < timeoutReceivingFile * (1 - tolerance) else { return }
        let grown = Double(current) / (1 - tolerance)
        current = grown >= Double(maxZipSize) ? maxZipSize : Int(grown)
    }
}
