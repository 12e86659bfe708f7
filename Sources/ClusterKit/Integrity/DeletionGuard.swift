/// Refuses classifications that would delete too much (DESIGN §3): more than
/// `maxDeleteFraction` of a rule's files, or anything at all while the master's snapshot is
/// empty (the reference's start-up race, sync spec §9.9, deletes every worker file for a cycle).
///
/// The master checks with both snapshots at hand (`check(_:master:worker:)`); a worker checks a
/// received classification against the files it has now (`check(_:localCounts:)`, with counts
/// from `Scanner.countFiles()`). A refusal is `ClusterError.badData` (exit 65) naming the rule
/// and the numbers; `force` turns the guard off.
public struct DeletionGuard: Sendable, Equatable {
    public var maxDeleteFraction: Double
    public var force: Bool

    public init(maxDeleteFraction: Double = 0.5, force: Bool = false) {
        self.maxDeleteFraction = maxDeleteFraction
        self.force = force
    }

    /// Master side: `worker` is the snapshot the classification was computed from.
    public func check(_ c: Classification, master: Snapshot, worker: Snapshot) throws {
        try check(c, master: master, workerCounts: worker.countsByRule())
    }

    /// The same with the worker's records counted by rule key (`WorkerSnapshotCheck`).
    public func check(_ c: Classification, master: Snapshot, workerCounts: @autoclosure () -> [String: Int]) throws {
        guard !force, !c.extra.isEmpty else { return }
        if master.isEmpty {
            throw ClusterError.badData("refused: the master's snapshot is empty, so all \(c.extra.count) files of the worker would be deleted; give force to apply it anyway")
        }
        try checkFractions(c, counts: workerCounts())
    }

    /// Worker side: `localCounts` is how many files each rule key selects on this node now;
    /// it is only counted when the classification deletes something and the guard is on.
    public func check(_ c: Classification, localCounts countFiles: @autoclosure () throws -> [String: Int]) throws {
        guard !force, !c.extra.isEmpty else { return }
        let localCounts = try countFiles()
        let total = localCounts.values.reduce(0, +)
        if c.missing.isEmpty && c.shared.isEmpty && c.extra.count >= total {
            throw ClusterError.badData("refused: the classification would delete every one of the \(total) files here and send none (the master's snapshot looks empty); give force to apply it anyway")
        }
        try checkFractions(c, counts: localCounts)
    }

    private func checkFractions(_ c: Classification, counts: [String: Int]) throws {
        var deletions = [String: Int]()
        var order = [String]()
        for (_, r) in c.extra {
            if deletions[r.clusterItemKey] == nil { order.append(r.clusterItemKey) }
            deletions[r.clusterItemKey, default: 0] += 1
        }
        for key in order {
            let n = deletions[key]!
            let total = max(counts[key] ?? 0, n)
            if Double(n) > maxDeleteFraction * Double(total) {
                let pct = (maxDeleteFraction * 100).rounded() == maxDeleteFraction * 100
                    ? String(Int(maxDeleteFraction * 100)) : String(maxDeleteFraction * 100)
                throw ClusterError.badData("refused: the classification would delete \(n) of the \(total) files under rule \(SafePath.quoted(key)), more than the \(pct)% allowed; give force to apply it anyway")
            }
        }
    }
}
