import Foundation

/// A wall clock a test moves under a running node: the offset file that
/// `CLUSTERTOOLS_CLOCK_OFFSET_FILE` names (see `WallClock`), seen by the node within a second.
/// The monotonic clock is left alone, as with a real clock step.
///
/// Not libfaketime: preloaded into these daemons it also moves the deadlines of timers armed on
/// the monotonic clock (`timerfd_settime` with `TFD_TIMER_ABSTIME`, even with
/// `FAKETIME_DONT_FAKE_MONOTONIC=1`; measured with libfaketime 0.9.10), so that at -1 h every
/// `Task.sleep` lasts an hour and at +1 h none waits at all, which no real clock jump does.
struct FakeClock {
    let file: URL

    init(_ dir: URL) throws {
        file = dir.appendingPathComponent("clock-offset")
        try set(seconds: 0)
    }

    func set(seconds: Int) throws { try Data("\(seconds)\n".utf8).write(to: file, options: .atomic) }

    var environment: [String: String] { ["CLUSTERTOOLS_CLOCK_OFFSET_FILE": file.path] }
}
