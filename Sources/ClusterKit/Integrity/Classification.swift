import CJansson

/// The master's verdict on a worker's snapshot (the reference's `compare_files`, sync spec §4.2):
/// what the worker lacks, what it has that it should not, and what differs.
///
/// JSON: `{"missing": {...}, "extra": {...}, "shared": {...}}` in that key order, no
/// `extra_valid` key. `missing` and `shared` hold the master's records, `extra` the worker's.
public struct Classification: Sendable, Equatable {
    public var missing: Snapshot
    public var extra: Snapshot
    public var shared: Snapshot

    public init(missing: Snapshot = Snapshot(), extra: Snapshot = Snapshot(), shared: Snapshot = Snapshot()) {
        self.missing = missing
        self.extra = extra
        self.shared = shared
    }

    /// Nothing to do: the reference answers `syn_m_c_ok`.
    public var isEmpty: Bool { missing.isEmpty && extra.isEmpty && shared.isEmpty }

    /// The reference's classification.
    ///
    /// * missing: in `master`, not in `worker`;
    /// * extra: in `worker`, not in `master`, under a rule whose `extra_valid` is false (a worker
    ///   path whose `cluster_item_key` names no rule fails the whole comparison, as the
    ///   reference's KeyError does);
    /// * shared: in both with different `hash` strings (nothing else is compared).
    ///
    /// Key order: missing and shared follow the master's order, extra the worker's (the
    /// reference's order comes from Python sets and is not defined).
    public static func compare(master: Snapshot, worker: Snapshot, rules: FileRules) throws -> Classification {
        var c = Classification()
        var extraValid = [String: Bool]()
        for r in rules.rules { extraValid[r.key] = r.extraValid }
        // By position, on the stored bytes: no path or hash strings made.
        let inWorker = worker.lookup, inMaster = master.lookup
        for i in 0..<master.count {
            if let j = inWorker.position(ofPathAt: i, in: master) {
                if !master.hashEquals(at: i, worker, at: j) { c.shared.appendCopy(of: i, from: master) }
            } else {
                c.missing.appendCopy(of: i, from: master)
            }
        }
        for j in 0..<worker.count where inMaster.position(ofPathAt: j, in: worker) == nil {
            let key = worker.clusterItemKey(at: j)
            guard let valid = extraValid[key] else {
                throw ClusterError.badData("worker file \(SafePath.quoted(worker.path(at: j))) has cluster_item_key \(SafePath.quoted(key)), which no rule has")
            }
            if !valid { c.extra.appendCopy(of: j, from: worker) }
        }
        return c
    }

    /// The bytes Python's `json.dumps(classification)` writes (the master→worker container's
    /// `files_metadata.json`).
    public func jsonBytes() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity((missing.count + extra.count + shared.count) * 280 + 48)
        out.append(contentsOf: #"{"missing": "#.utf8)
        missing.writePython(into: &out)
        out.append(contentsOf: #", "extra": "#.utf8)
        extra.writePython(into: &out)
        out.append(contentsOf: #", "shared": "#.utf8)
        shared.writePython(into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The same bytes as `jsonBytes`, streamed to a sink in pieces of about 256 KiB: a pack of
    /// 50,000 files no longer holds its 13 MB of metadata whole.
    public func writeJSON(to sink: ByteSink) throws {
        let piece = 256 * 1024
        var out = [UInt8]()
        out.reserveCapacity(piece + 4096)
        out.append(contentsOf: #"{"missing": "#.utf8)
        try missing.writePython(to: sink, buffer: &out, piece: piece)
        out.append(contentsOf: #", "extra": "#.utf8)
        try extra.writePython(to: sink, buffer: &out, piece: piece)
        out.append(contentsOf: #", "shared": "#.utf8)
        try shared.writePython(to: sink, buffer: &out, piece: piece)
        out.append(UInt8(ascii: "}"))
        try sink.write(out)
    }

    public func toJSON() -> JSON {
        ["missing": missing.toJSON(), "extra": extra.toJSON(), "shared": shared.toJSON()]
    }

    /// Counts, as the reference logs them and as `integrity_sync_status.total_files` holds them.
    public var counts: (missing: Int, extra: Int, shared: Int) { (missing.count, extra.count, shared.count) }

    /// Parses a classification. The three groups must be objects of records; a missing group is
    /// empty; any other key is refused (it is not a classification, e.g. a bare snapshot).
    /// Read straight into records (`ClassificationReader`).
    public static func parse(_ bytes: [UInt8], source: String = "classification") throws -> Classification {
        try bytes.withUnsafeBytes { try ClassificationReader.parse($0, source: source) }
    }

    /// `parse`, with every record's `hash` checked but left empty (they are a third of a parsed
    /// record), for a reader that never looks at them. An apply does: it checks every entry.
    static func parseWithoutHashes(_ bytes: [UInt8], source: String) throws -> Classification {
        try bytes.withUnsafeBytes { try ClassificationReader.parse($0, source: source, keepHashes: false) }
    }

    /// The same through jansson: the reference `ClassificationReader` is checked against.
    static func parseWithJansson(_ bytes: [UInt8], source: String = "classification") throws -> Classification {
        try JanssonRecords.withObject(bytes, source: source) { root in
            guard root.pointee.type == JSON_OBJECT else {
                throw ClusterError.badData("\(source): expected a classification object, got \(JanssonRecords.typeName(root))")
            }
            var c = Classification()
            var it = json_object_iter(root)
            while let i = it {
                let key = String(cString: json_object_iter_key(i))
                let value = json_object_iter_value(i)!
                switch key {
                case "missing": c.missing = try JanssonRecords.snapshot(value, source: "\(source): missing")
                case "extra": c.extra = try JanssonRecords.snapshot(value, source: "\(source): extra")
                case "shared": c.shared = try JanssonRecords.snapshot(value, source: "\(source): shared")
                default:
                    throw ClusterError.badData("\(source): unexpected key \(SafePath.quoted(key)) (a classification has missing, extra and shared)")
                }
                it = json_object_iter_next(root, i)
            }
            return c
        }
    }

    /// Every path the classification names, with the group it is in. A path in more than one
    /// group is malformed metadata.
    public func allPaths() throws -> [(path: String, group: String, record: FileRecord)] {
        var seen = Set<String>()
        var out = [(path: String, group: String, record: FileRecord)]()
        for (group, snap) in [("missing", missing), ("extra", extra), ("shared", shared)] {
            for (p, r) in snap {
                guard seen.insert(p).inserted else {
                    throw ClusterError.badData("classification names \(SafePath.quoted(p)) in more than one group")
                }
                out.append((p, group, r))
            }
        }
        return out
    }
}

/// The drift between a tree and a saved snapshot (`cl-integrity check`): paths only, by hash.
public struct SnapshotDiff: Sendable, Equatable {
    /// In the saved snapshot, not on disk.
    public var missing: [String] = []
    /// On disk, not in the saved snapshot.
    public var extra: [String] = []
    /// On both, with a different hash.
    public var changed: [String] = []

    public init(expected: Snapshot, actual: Snapshot) {
        for (p, r) in expected {
            if let a = actual[p] {
                if a.hash != r.hash { changed.append(p) }
            } else {
                missing.append(p)
            }
        }
        for p in actual.paths where !expected.contains(p) { extra.append(p) }
    }

    public var isEmpty: Bool { missing.isEmpty && extra.isEmpty && changed.isEmpty }

    public func toJSON() -> JSON {
        ["identical": .bool(isEmpty),
         "missing": .array(missing.map { .string($0) }),
         "extra": .array(extra.map { .string($0) }),
         "changed": .array(changed.map { .string($0) })]
    }
}
