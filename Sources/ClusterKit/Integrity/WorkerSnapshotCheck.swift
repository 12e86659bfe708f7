/// The master's check of a worker's snapshot straight from its JSON (`files_metadata.json` of
/// the worker's container): the classification against the master's snapshot, made as the
/// worker's records are read, without a worker `Snapshot`.
///
/// What it gives is exactly `Classification.compare(master:worker:rules:)` of the parsed worker
/// snapshot (`Snapshot.parse`), with the same refusals in the same words: the document is read
/// by the same strict reader (`SnapshotReader`), a duplicate path is refused where it stands, the
/// first record that is not a valid one is reported once the whole document has read, and only
/// then a worker path whose `cluster_item_key` names no rule. A worker record of a path the
/// master has is read for its key and compared on its hash bytes; only the worker's records that
/// the master lacks are kept (they are what `extra` holds). A master holds one of these per
/// worker being checked, where a parsed worker snapshot held every path, record and hash.
public struct WorkerSnapshotCheck: Sendable {
    /// missing and shared in the master's order, extra in the worker's.
    public var classification: Classification
    /// How many records the worker sent.
    public var workerCount: Int
    /// How many records the worker sent under each rule key (`Snapshot.countsByRule` of its
    /// snapshot): the deletion guard's denominator.
    public var workerCountsByRule: [String: Int]

    public static func run(master: Snapshot, workerJSON bytes: [UInt8], rules: FileRules,
                           source: String = "snapshot") throws -> WorkerSnapshotCheck {
        let (check, noRule) = try bytes.withUnsafeBytes { raw in
            try read(raw, master: master, rules: rules, source: source)
        }
        if let noRule { throw noRule }
        return check
    }

    typealias SemanticError = SnapshotReader.SemanticError

    /// The check, and the first worker path under no rule (thrown only when the document is
    /// otherwise a valid snapshot, as the comparison after a parse would).
    private static func read(_ bytes: UnsafeRawBufferPointer, master: Snapshot, rules: FileRules,
                             source: String) throws -> (WorkerSnapshotCheck, ClusterError?) {
        var s = JSONScanner(bytes)
        do {
            guard try s.peek() == UInt8(ascii: "{") else {
                let v = try s.value()
                throw SemanticError(message: "\(source): expected an object of file records, got \(v.typeName)")
            }
            let (check, noRule, firstProblem) = try object(&s, master: master, rules: rules, source: source)
            try s.finish()
            if let firstProblem { throw firstProblem }
            return (check, noRule)
        } catch let e as SemanticError {
            throw ClusterError.badData(e.message)
        } catch let e as ClusterError {
            throw ClusterError.badData("\(source): \(e.message)", code: 3036)
        }
    }

    private static func object(_ s: inout JSONScanner, master: Snapshot, rules: FileRules, source: String)
        throws -> (WorkerSnapshotCheck, ClusterError?, SemanticError?) {
        try s.enter()
        defer { s.depth -= 1 }
        try s.expect(UInt8(ascii: "{"))
        var classifier = Classifier(master: master, rules: rules, source: source)
        if !(try s.take(UInt8(ascii: "}"))) {
            repeat {
                try classifier.read(&s)
            } while try s.take(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "}"))
        }
        return classifier.result()
    }

    /// The classification as it is made: one worker record at a time.
    struct Classifier {
        let master: Snapshot
        let source: String
        private var extraValid = [String: Bool]()
        private let masterIndex: Snapshot.Lookup
        /// Per master record: 0 the worker has not sent it, 1 same hash, 2 different hash.
        private var seen: [UInt8]
        /// The worker's paths the master lacks (for duplicates), and those to delete.
        private var others = Set<String>()
        private var extraPaths = [String](), extraRecords = [FileRecord]()
        private var count = 0
        private var counts = [String: Int]()
        private(set) var firstProblem: SemanticError? = nil
        private var noRule: ClusterError? = nil

        init(master: Snapshot, rules: FileRules, source: String) {
            self.master = master
            self.source = source
            for r in rules.rules { extraValid[r.key] = r.extraValid }
            masterIndex = master.lookup
            seen = [UInt8](repeating: 0, count: master.count)
        }

        /// Reads `"path": record` at the scanner's position.
        mutating func read(_ s: inout JSONScanner) throws {
            guard try s.peek() == UInt8(ascii: "\"") else { throw s.fail("expected a key") }
            let path = try s.string()
            try s.expect(UInt8(ascii: ":"))
            let m = masterIndex.position(of: path)
            let fresh = m.map { seen[$0] == 0 } ?? others.insert(path).inserted
            guard fresh else { throw s.fail("duplicate key \"\(path.prefix(40))\"") }
            count += 1
            let use: SnapshotReader.HashUse = m.map { .compare(master, $0) } ?? .keep
            switch try SnapshotReader.record(&s, path: path, source: source, hash: use) {
            case .success(let (record, sameHash)):
                counts[record.clusterItemKey, default: 0] += 1
                if let m {
                    seen[m] = sameHash ? 1 : 2
                } else if let valid = extraValid[record.clusterItemKey] {
                    if !valid {
                        extraPaths.append(path)
                        extraRecords.append(record)
                    }
                } else if noRule == nil {
                    noRule = ClusterError.badData("worker file \(SafePath.quoted(path)) has cluster_item_key \(SafePath.quoted(record.clusterItemKey)), which no rule has")
                }
            case .failure(let problem):
                if firstProblem == nil { firstProblem = problem }
                if let m { seen[m] = 1 }
            }
        }

        func result() -> (WorkerSnapshotCheck, ClusterError?, SemanticError?) {
            var missing = Snapshot(), shared = Snapshot()
            for (i, state) in seen.enumerated() where state != 1 {
                if state == 0 {
                    missing.appendCopy(of: i, from: master)
                } else {
                    shared.appendCopy(of: i, from: master)
                }
            }
            let c = Classification(missing: missing, extra: Snapshot(uniquePaths: extraPaths, records: extraRecords),
                                   shared: shared)
            return (WorkerSnapshotCheck(classification: c, workerCount: count, workerCountsByRule: counts), noRule, firstProblem)
        }
    }
}
