import ClusterKit
import Foundation
import NIOConcurrencyHelpers

/// What a node counts about itself for `node.stats`: each kind of sync (how many, how many
/// failed, how long they took) and the distributed API's requests.
public final class NodeStats: Sendable {
    struct Sync {
        var count = 0
        var failed = 0
        var totalSeconds = 0.0
        var lastSeconds = 0.0
        var maxSeconds = 0.0
        var lastEnd: Date?
    }

    struct Dapi {
        var executed = 0
        var failed = 0
        var timedOut = 0
        var refused = 0
        var forwarded = 0
        var forwardsFailed = 0
    }

    private let syncs = NIOLockedValueBox<[String: Sync]>([:])
    private let dapi = NIOLockedValueBox(Dapi())

    public init() {}

    /// One sync step of `kind` (`integrity_check`, `integrity_sync`, `agent_info`...) that
    /// started at `start` and ended now.
    public func recordSync(_ kind: String, since start: Date, ok: Bool) {
        let now = Date()
        let seconds = max(0, now.timeIntervalSince(start))
        NodeMetrics.shared.sync(kind, seconds: seconds, ok: ok)
        syncs.withLockedValue { all in
            var s = all[kind] ?? Sync()
            s.count += 1
            if !ok { s.failed += 1 }
            s.totalSeconds += seconds
            s.lastSeconds = seconds
            s.maxSeconds = max(s.maxSeconds, seconds)
            s.lastEnd = now
            all[kind] = s
        }
    }

    enum DapiEvent { case executed, failed, timedOut, refused, forwarded, forwardFailed }

    func count(_ e: DapiEvent) {
        dapi.withLockedValue { d in
            switch e {
            case .executed: d.executed += 1
            case .failed: d.failed += 1
            case .timedOut: d.timedOut += 1
            case .refused: d.refused += 1
            case .forwarded: d.forwarded += 1
            case .forwardFailed: d.forwardsFailed += 1
            }
        }
    }

    var syncsJSON: JSON {
        let all = syncs.withLockedValue { $0 }
        var o = JSONObject(minimumCapacity: all.count)
        func r(_ d: Double) -> JSON { .double((d * 1000).rounded() / 1000) }
        for k in all.keys.sorted() {
            let s = all[k]!
            o[k] = ["count": .int(Int64(s.count)), "failed": .int(Int64(s.failed)),
                    "total_seconds": r(s.totalSeconds), "last_seconds": r(s.lastSeconds), "max_seconds": r(s.maxSeconds),
                    "last_end": .string(ClusterDate.format(s.lastEnd))]
        }
        return .object(o)
    }

    var dapiCounters: JSONObject {
        let d = dapi.withLockedValue { $0 }
        var o = JSONObject(minimumCapacity: 6)
        o["executed"] = .int(Int64(d.executed))
        o["failed"] = .int(Int64(d.failed))
        o["timed_out"] = .int(Int64(d.timedOut))
        o["refused"] = .int(Int64(d.refused))
        o["forwarded"] = .int(Int64(d.forwarded))
        o["forwards_failed"] = .int(Int64(d.forwardsFailed))
        return o
    }
}

/// Bytes through every connection of one kind, since the process started: the cluster's TCP
/// links, and the local socket.
public final class TrafficCounter: Sendable {
    private let box = NIOLockedValueBox<(received: Int, sent: Int)>((0, 0))

    public static let cluster = TrafficCounter()
    public static let local = TrafficCounter()

    func add(received: Int = 0, sent: Int = 0) {
        box.withLockedValue { $0.received += received; $0.sent += sent }
    }

    public var totals: (received: Int, sent: Int) { box.withLockedValue { $0 } }

    var json: JSON {
        let t = totals
        return ["bytes_received": .int(Int64(t.received)), "bytes_sent": .int(Int64(t.sent))]
    }
}

/// The process's resident memory now and at its peak (`/proc/self/status`), in bytes.
enum ProcessMemory {
    static func current() -> (rss: Int, peak: Int) {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (-1, -1) }
        func kib(_ key: String) -> Int {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }),
                  let n = Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") else { return -1 }
            return n * 1024
        }
        return (kib("VmRSS:"), kib("VmHWM:"))
    }
}
