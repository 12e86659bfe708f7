import Foundation

/// libfaketime (Debian's `faketime`, which bin/setup installs) preloaded into a node: it moves
/// what the system's wall clock tells the process, `Date()` included, which the node's own
/// offset (`FakeClock`) does not. Its offset is read from a file at most once a second.
///
/// Only for a jump forward: libfaketime 0.9.10 also shifts timers armed on the monotonic clock
/// (`timerfd_settime` with `TFD_TIMER_ABSTIME`, even with `FAKETIME_DONT_FAKE_MONOTONIC=1`), so
/// at +1 h the node's sleeps end at once (its loops run fast, but run) and at −1 h they last an
/// hour. And the node must be started through a shell (`ClusterHarness.start(throughShell:)`):
/// preloaded straight into a Swift binary, libfaketime sets `FAKETIME_SHARED` as it loads and
/// the binary then sees no command-line arguments.
struct Libfaketime {
    let file: URL

    static let library: String? = {
        let fm = FileManager.default
        var candidates = ["/usr/lib/faketime/libfaketimeMT.so.1"]
        if let dirs = try? fm.contentsOfDirectory(atPath: "/usr/lib") {
            candidates += dirs.filter { $0.hasSuffix("-linux-gnu") }.map { "/usr/lib/\($0)/faketime/libfaketimeMT.so.1" }
        }
        return candidates.first { fm.fileExists(atPath: $0) }
    }()

    init(_ dir: URL) throws {
        file = dir.appendingPathComponent("faketime-offset")
        try set("+0")
    }

    /// `+1h`, `+0`: seen by the process within a second.
    func set(_ offset: String) throws { try Data((offset + "\n").utf8).write(to: file, options: .atomic) }

    var environment: [String: String] {
        ["LD_PRELOAD": Libfaketime.library ?? "", "FAKETIME_TIMESTAMP_FILE": file.path, "FAKETIME_CACHE_DURATION": "1",
         "FAKETIME_DONT_FAKE_MONOTONIC": "1"]
    }
}
