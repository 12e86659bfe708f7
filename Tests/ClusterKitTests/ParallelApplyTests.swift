import Foundation
import Testing
@testable import ClusterKit

/// The apply that creates and writes the staged files on several threads leaves the tree, and
/// reports, what the single-threaded apply does, and keeps every guarantee: nothing in the root
/// changes until everything is staged and verified, and the deletion guard still refuses.
@Suite struct ParallelApplyTests {
    /// A master tree of many files in many directories (text, random bytes, empty, a few larger
    /// than the writers take), and a worker holding some of them stale, some the same, and a few
    /// files the master does not have.
    func pair() throws -> (master: ScratchTree, worker: ScratchTree, Classification) {
        let m = try ScratchTree("papply-master"), w = try ScratchTree("papply-worker")
        var gen = TestBytes(seed: 91)
        for i in 0..<900 {
            let rel = i % 60 == 0 ? "etc/lists/sub\(i % 7)/list\(i)" : "etc/shared/group\(i % 17)/file\(i).conf"
            let content: [UInt8]
            switch i % 5 {
            case 0: content = []
            case 1: content = gen.bytes(100 + gen.below(2_000))
            default:
                content = Array((0..<(1 + gen.below(40))).map { "<localfile><location>/var/log/app\($0 + i).log</location></localfile>\n" }.joined().utf8)
            }
            try m.write(rel, content)
            if i % 4 == 0 { try w.write(rel, "stale \(i)") }
            if i % 9 == 0 { try w.write(rel, content) }
        }
        try m.write("etc/shared/group3/big.bin", gen.bytes(300_000))
        try m.write("etc/shared/deep/a/b/c/big.txt", String(repeating: "agent_config line\n", count: 20_000))
        try m.write("etc/client.keys", "001 a any k\n")
        for k in 0..<6 { try w.write("etc/shared/old\(k)/gone.conf", "worker only \(k)") }
        let c = try Classification.compare(master: try scan(m.root).snapshot, worker: try scan(w.root).snapshot, rules: stockRules)
        #expect(c.missing.count > 500 && c.shared.count > 100 && c.extra.count == 6)
        return (m, w, c)
    }

    /// Bounds small enough that the reader waits for the writers, batches are cut often and the
    /// larger entries are written by the reader itself.
    static func tight() -> StagingArea.Options {
        var o = StagingArea.Options()
        o.inlineAbove = 1_500
        o.batchEntries = 3
        o.batchBytes = 4_096
        o.writers = StagingWriters.Limits(maxBatches: 2, maxBufferedBytes: 8_192)
        return o
    }

    func options(threads: Int, tight: Bool = false, dryRun: Bool = false) -> ApplyOptions {
        var o = ApplyOptions()
        o.durability = .none
        o.threads = threads
        o.dryRun = dryRun
        if tight { o.staging = Self.tight() }
        return o
    }

    func apply(_ bytes: [UInt8], to root: String, _ o: ApplyOptions) throws -> ApplyReport {
        try IntegrityApplier(root: root, rules: stockRules, options: o).apply(from: MemorySource(bytes, chunk: 7_000))
    }

    /// Every path below the root with its kind, mode and content: what a user would compare.
    func contents(_ t: ScratchTree) throws -> [String] {
        try t.listing().map { rel in
            let st = t.stat(rel)
            let kind = (st.st_mode & S_IFMT) == S_IFDIR ? "dir" : "file"
            let data = kind == "file" ? Digest.sha256Hex(try t.read(rel)) : ""
            return "\(rel) \(kind) \(String(st.st_mode & 0o7777, radix: 8)) \(data)"
        }
    }

    /// A copy of the worker's tree, to apply the same container to it again.
    func copy(_ w: ScratchTree) throws -> ScratchTree {
        let t = try ScratchTree("papply-copy")
        for rel in w.listing() where (w.stat(rel).st_mode & S_IFMT) == S_IFREG {
            try t.write(rel, try w.read(rel), mode: Int(w.stat(rel).st_mode & 0o7777))
        }
        return t
    }

    @Test func manyThreadsMakeTheSingleThreadTree() throws {
        let (m, w, c) = try pair()
        let (bytes, _) = try packed(c, from: m.root)
        let single = try copy(w)
        let expected = try apply(bytes, to: single.root, options(threads: 1))
        #expect(expected.errors.isEmpty)
        #expect(expected.created.count == c.missing.count && expected.updated.count == c.shared.count)
        #expect(expected.deleted.count == 6 && expected.removedDirectories.count == 6)
        #expect(SnapshotDiff(expected: try scan(m.root).snapshot, actual: try scan(single.root).snapshot).isEmpty)
        let tree = try contents(single)
        for threads in [2, 3, 8] {
            for tight in [false, true] {
                let t = try copy(w)
                let report = try apply(bytes, to: t.root, options(threads: threads, tight: tight))
                let label = "\(threads) threads, tight: \(tight)"
                #expect(report.created == expected.created, "\(label)")
                #expect(report.updated == expected.updated, "\(label)")
                #expect(report.deleted == expected.deleted, "\(label)")
                #expect(report.removedDirectories == expected.removedDirectories, "\(label)")
                #expect(report.errors == expected.errors && report.ignored == expected.ignored, "\(label)")
                #expect(try contents(t) == tree, "\(threads) threads, tight: \(tight)")
                #expect(!t.listing().contains { $0.contains("cl-integrity-staging") })
            }
        }
        // A dry run reads and stages nothing, and plans the same.
        let plan = try apply(bytes, to: w.root, options(threads: 2, dryRun: true))
        #expect(plan.created == expected.created && plan.updated == expected.updated && plan.deleted == expected.deleted)
    }

    /// Applies `bytes` expecting a bad-data refusal, and checks that the worker's tree did not change.
    func expectRefusal(_ bytes: [UInt8], to w: ScratchTree, threads: Int, tight: Bool, _ note: String) throws {
        let before = try contents(w)
        do {
            _ = try apply(bytes, to: w.root, options(threads: threads, tight: tight))
            Issue.record("applied: \(note)")
        } catch let e as ClusterError {
            #expect(e.exit == .dataError, "\(note): \(e)")
        }
        #expect(try contents(w) == before, "\(note)")
    }

    @Test func aCorruptEntryInTheMiddleLeavesTheTreeUntouched() throws {
        let (m, w, c) = try pair()
        let (bytes, report) = try packed(c, from: m.root)
        // A text file about half-way through the container: a byte of its zlib stream flipped.
        let victim = report.entries[report.entries.count / 2 ..< report.entries.count].first {
            (try? m.read($0).count) ?? 0 > 500 && !$0.hasSuffix(".bin")
        }!
        let marker = Array(victim.utf8) + ContainerFormat.pathSeparator
        let start = (0...(bytes.count - marker.count)).first { bytes[$0..<$0 + marker.count].elementsEqual(marker) }! + marker.count
        var corrupt = bytes
        corrupt[start + 40] ^= 0x5A
        for threads in [2, 8] {
            for tight in [false, true] {
                try expectRefusal(corrupt, to: w, threads: threads, tight: tight, "corrupt entry, \(threads) threads, tight: \(tight)")
                try expectRefusal(Array(bytes[0..<start + 20]), to: w, threads: threads, tight: tight, "cut in an entry")
                try expectRefusal(Array(bytes[0..<bytes.count - 30]), to: w, threads: threads, tight: tight, "cut in the metadata")
            }
        }
    }

    @Test func theDeletionGuardStillRefuses() throws {
        let (m, w, _) = try pair()
        for k in 6..<40 { try w.write("etc/lists/worker\(k)", "worker list \(k)") }
        let c = try Classification.compare(master: try scan(m.root).snapshot, worker: try scan(w.root).snapshot, rules: stockRules)
        let (bytes, _) = try packed(c, from: m.root)
        // Everything is staged by then; the guard refuses and the staging goes.
        try expectRefusal(bytes, to: w, threads: 2, tight: false, "mass deletion of lists")
        try expectRefusal(bytes, to: w, threads: 3, tight: true, "mass deletion of lists, tight")
        let forced = try IntegrityApplier(root: w.root, rules: stockRules, options: {
            var o = options(threads: 2)
            o.deletionGuard = DeletionGuard(force: true)
            return o
        }()).apply(from: MemorySource(bytes))
        #expect(forced.errors.isEmpty && forced.deleted.count == c.extra.count)
    }

    /// Files and directories in each other's way: the outcome is decided in the
    /// classification's order, as with one file at a time.
    @Test func pathsInEachOthersWayFailOneByOne() throws {
        let w = try ScratchTree("papply-conflict")
        try w.write("etc/shared/default/keep.conf", "kept")
        var c = Classification()
        // A file, then a file below it; a file below a name, then that name as a file.
        for p in ["etc/shared/x/f", "etc/shared/x/f/g", "etc/shared/y/d/e", "etc/shared/y/d", "etc/shared/y/z"] {
            c.missing[p] = FileRecord(modTime: 1, clusterItemKey: "etc/shared/", hash: Digest.blake2b512Hex(Array("data of \(p)".utf8)))
        }
        let bytes = try handmadeContainer(c.missing.paths.map { ($0, Array("data of \($0)".utf8)) }, metadata: c.jsonBytes())
        for threads in [1, 2] {
            let t = try copy(w)
            let report = try apply(bytes, to: t.root, options(threads: threads))
            #expect(report.created == ["etc/shared/x/f", "etc/shared/y/d/e", "etc/shared/y/z"])
            #expect(report.errors.map(\.path) == ["etc/shared/x/f/g", "etc/shared/y/d"])
            #expect(report.errors.map(\.action) == ["create", "update"])
            #expect(try t.read("etc/shared/y/d/e") == Array("data of etc/shared/y/d/e".utf8))
            #expect(t.stat("etc/shared/y/d").st_mode & S_IFMT == S_IFDIR)
        }
    }

    @Test func aWriterThatFailsStopsTheReader() throws {
        let t = try ScratchTree("papply-writers")
        let writers = StagingWriters(threads: 2, syncEachFile: false, limits: StagingWriters.Limits(maxBatches: 1, maxBufferedBytes: 64))
        defer { writers.stop() }
        var good = StagingWriters.Batch(directory: t.root)
        good.append(path: "a", name: "a", [1, 2, 3])
        try writers.submit(good)
        try writers.finish()
        #expect(try t.read("a") == [1, 2, 3])
        var bad = StagingWriters.Batch(directory: t.path("no/such/dir"))
        bad.append(path: "etc/shared/b", name: "b", [4])
        try writers.submit(bad)
        #expect(throws: ClusterError.self) { try writers.finish() }
        // Once one failed, nothing more is taken.
        var later = StagingWriters.Batch(directory: t.root)
        later.append(path: "c", name: "c", [5])
        #expect(throws: ClusterError.self) { try writers.submit(later) }
        #expect(!t.exists("c"))
    }
}
