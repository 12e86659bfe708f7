import Foundation
import Testing
@testable import ClusterKit

@Suite struct ApplyTests {
    func applier(_ root: String, dryRun: Bool = false, force: Bool = false) -> IntegrityApplier {
        var o = ApplyOptions()
        o.dryRun = dryRun
        o.durability = .none
        o.deletionGuard = DeletionGuard(maxDeleteFraction: 0.5, force: force)
        return IntegrityApplier(root: root, rules: stockRules, options: o)
    }

    func apply(_ bytes: [UInt8], to root: String, dryRun: Bool = false, force: Bool = false) throws -> ApplyReport {
        try applier(root, dryRun: dryRun, force: force).apply(from: MemorySource(bytes, chunk: 3000))
    }

    /// Master A and worker B that differ in every way a classification can name.
    func pair() throws -> (a: ScratchTree, b: ScratchTree) {
        let a = try ScratchTree("master"), b = try ScratchTree("worker")
        for t in [a, b] {
            try t.write("etc/client.keys", "001 a any k\n")
            try t.write("etc/shared/default/agent.conf", "<agent_config/>")
            try t.write("etc/shared/default/one.conf", "same")
            try t.write("etc/shared/default/two.conf", "same")
            try t.write("etc/rules/local_rules.xml", "<group/>")
            try t.write("etc/rules/more.xml", "<group/>")
        }
        try a.write("etc/client.keys", "001 a any k\n002 b any k\n")       // shared (changed)
        try a.write("etc/shared/group1/new.conf", "new on the master")      // missing, new directory
        try a.write("etc/shared/group1/naïve 日本.txt", "utf-8")
        try a.write("etc/shared/default/empty", [])
        try b.write("etc/shared/stale/only.conf", "worker only")             // extra, in its own directory
        try b.write("etc/shared/stale/ar.conf", "excluded name")            // left behind by the scan
        try b.write("etc/rules/worker_only.xml", "<group/>")                 // extra at the rule's top
        return (a, b)
    }

    func classify(_ a: ScratchTree, _ b: ScratchTree) throws -> Classification {
        try Classification.compare(master: try scan(a.root).snapshot, worker: try scan(b.root).snapshot, rules: stockRules)
    }

    @Test func roundTripMakesTheWorkerEqualTheMaster() throws {
        let (a, b) = try pair()
        let c = try classify(a, b)
        #expect(c.missing.count == 3)
        #expect(c.shared.count == 1)
        #expect(c.extra.count == 2)
        let (bytes, _) = try packed(c, from: a.root)
        let report = try apply(bytes, to: b.root)
        #expect(report.errors.isEmpty)
        #expect(Set(report.created) == Set(c.missing.paths))
        #expect(report.updated == ["etc/client.keys"])
        #expect(Set(report.deleted) == ["etc/shared/stale/only.conf", "etc/rules/worker_only.xml"])
        #expect(report.removedDirectories == ["etc/shared/stale"])
        let after = try scan(b.root).snapshot
        #expect(SnapshotDiff(expected: try scan(a.root).snapshot, actual: after).isEmpty)
        // Modes follow the rules; the rule's own directory is never removed; no staging left.
        #expect(b.stat("etc/client.keys").st_mode & 0o7777 == 0o640)
        #expect(b.stat("etc/shared/group1/new.conf").st_mode & 0o7777 == 0o660)
        #expect(b.stat("etc/shared/group1").st_mode & 0o7777 == 0o770)
        #expect(b.exists("etc/rules"))
        #expect(!b.listing().contains { $0.contains("cl-integrity-staging") })
        // Applying the same container again changes nothing but rewrites the same content.
        let again = try apply(bytes, to: b.root)
        #expect(again.deleted.isEmpty && again.created.isEmpty)
    }

    @Test func dryRunTouchesNothing() throws {
        let (a, b) = try pair()
        let (bytes, _) = try packed(try classify(a, b), from: a.root)
        let before = b.listing()
        let snapBefore = try scan(b.root).snapshot
        let report = try apply(bytes, to: b.root, dryRun: true)
        #expect(report.dryRun)
        #expect(report.created.count == 3 && report.updated.count == 1 && report.deleted.count == 2)
        #expect(b.listing() == before)
        #expect(try scan(b.root).snapshot == snapBefore)
    }

    /// Applies `bytes` expecting a bad-data refusal, and checks the worker tree did not change.
    func expectRefusal(_ bytes: [UInt8], to b: ScratchTree, force: Bool = false, _ note: String) throws {
        let before = b.listing()
        let snapBefore = try scan(b.root).snapshot
        do {
            _ = try apply(bytes, to: b.root, force: force)
            Issue.record("applied: \(note)")
        } catch let e as ClusterError {
            #expect(e.exit == .dataError, "\(note): \(e)")
        }
        #expect(b.listing() == before, "\(note)")
        #expect(try scan(b.root).snapshot == snapBefore, "\(note)")
    }

    @Test func traversalInEntriesOrMetadataIsRefused() throws {
        let (_, b) = try pair()
        let record = FileRecord(modTime: 1, clusterItemKey: "etc/shared/", hash: String(repeating: "0", count: 128))
        for evil in ["../../escape.conf", "/tmp/escape.conf", "etc/shared/../../escape.conf", "etc/shared/a\u{0}b"] {
            var c = Classification()
            c.missing[evil] = record
            let bytes = try handmadeContainer([(evil, Array("x".utf8))], metadata: c.jsonBytes())
            try expectRefusal(bytes, to: b, "entry \(evil.debugDescription)")
            let extra = Classification(extra: c.missing)
            try expectRefusal(try handmadeContainer([], metadata: extra.jsonBytes()), to: b, "extra \(evil.debugDescription)")
        }
        // A path its rule does not select (etc/ takes only client.keys).
        var c = Classification()
        c.missing["etc/ossec.conf"] = FileRecord(modTime: 1, clusterItemKey: "etc/", hash: "0")
        try expectRefusal(try handmadeContainer([("etc/ossec.conf", [1])], metadata: c.jsonBytes()), to: b, "unselected path")
        c = Classification()
        c.missing["etc/shared/x.conf"] = FileRecord(modTime: 1, clusterItemKey: "bin/", hash: "0")
        try expectRefusal(try handmadeContainer([("etc/shared/x.conf", [1])], metadata: c.jsonBytes()), to: b, "unknown rule key")
    }

    @Test func symlinkEscapeIsRefusedAndNothingIsWrittenOutside() throws {
        let (_, b) = try pair()
        let outside = try ScratchTree("outside")
        try outside.write("victim.conf", "untouched")
        try b.symlink("etc/shared/evil", to: outside.root)
        let record = FileRecord(modTime: 1, clusterItemKey: "etc/shared/", hash: "0")
        var c = Classification()
        c.missing["etc/shared/evil/planted.conf"] = record
        c.shared["etc/shared/evil/victim.conf"] = record
        let bytes = try handmadeContainer([("etc/shared/evil/planted.conf", [1]), ("etc/shared/evil/victim.conf", [2])],
                                          metadata: c.jsonBytes())
        try expectRefusal(bytes, to: b, "write through a link")
        var del = Classification()
        del.extra["etc/shared/evil/victim.conf"] = record
        try expectRefusal(try handmadeContainer([], metadata: del.jsonBytes()), to: b, "delete through a link")
        #expect(outside.listing() == ["victim.conf"])
        #expect(try outside.read("victim.conf") == Array("untouched".utf8))
    }

    @Test func truncatedOrCorruptContainerLeavesTheRootUntouched() throws {
        let (a, b) = try pair()
        let (bytes, _) = try packed(try classify(a, b), from: a.root)
        for cut in [10, bytes.count / 2, bytes.count - 5] {
            try expectRefusal(Array(bytes[0..<cut]), to: b, "cut at \(cut)")
        }
        var corrupt = bytes
        corrupt[bytes.count - 20] ^= 0xFF
        try expectRefusal(corrupt, to: b, "corrupt metadata stream")
        try expectRefusal(try handmadeContainer([], metadata: Array("{\"etc/x\": 1}".utf8)), to: b, "metadata not a classification")
    }

    @Test func massDeletionIsRefusedUnlessForced() throws {
        let (a, b) = try pair()
        for i in 0..<6 { try b.write("etc/lists/list\(i)", "worker list \(i)") }
        try b.write("etc/lists/keep", "kept")
        try a.write("etc/lists/keep", "kept")
        let c = try classify(a, b)
        #expect(c.extra.paths.filter { $0.hasPrefix("etc/lists/") }.count == 6)
        let (bytes, _) = try packed(c, from: a.root)
        try expectRefusal(bytes, to: b, "6 of 7 lists deleted")
        let report = try apply(bytes, to: b.root, force: true)
        #expect(report.deleted.filter { $0.hasPrefix("etc/lists/") }.count == 6)
        // The master side refuses the same classification.
        #expect(throws: ClusterError.self) {
            try DeletionGuard().check(c, master: try scan(a.root).snapshot, worker: try scan(b.root).snapshot)
        }
    }

    @Test func emptyMasterSnapshotDeletesNothing() throws {
        let (_, b) = try pair()
        let worker = try scan(b.root).snapshot
        let c = try Classification.compare(master: Snapshot(), worker: worker, rules: stockRules)
        #expect(c.extra.count == worker.count)
        do {
            try DeletionGuard(maxDeleteFraction: 1.0).check(c, master: Snapshot(), worker: worker)
            Issue.record("master side accepted an empty master snapshot")
        } catch let e as ClusterError { #expect(e.message.contains("empty")) }
        try DeletionGuard(force: true).check(c, master: Snapshot(), worker: worker)
        // Worker side, even with a guard that would allow any fraction.
        var o = ApplyOptions()
        o.durability = .none
        o.deletionGuard = DeletionGuard(maxDeleteFraction: 1.0)
        let bytes = try handmadeContainer([], metadata: c.jsonBytes())
        let before = b.listing()
        #expect(throws: ClusterError.self) {
            try IntegrityApplier(root: b.root, options: o).apply(from: MemorySource(bytes))
        }
        #expect(b.listing() == before)
    }

    @Test func entriesTheMetadataDoesNotListAreIgnored() throws {
        let (_, b) = try pair()
        let bytes = try handmadeContainer([("etc/shared/default/sneaky.conf", [1, 2, 3])], metadata: Classification().jsonBytes())
        let report = try apply(bytes, to: b.root)
        #expect(report.ignored == ["etc/shared/default/sneaky.conf"])
        #expect(!b.exists("etc/shared/default/sneaky.conf"))
    }

    @Test func missingDataForAListedFileIsAnError() throws {
        let (_, b) = try pair()
        var c = Classification()
        c.missing["etc/shared/default/ghost.conf"] = FileRecord(modTime: 1, clusterItemKey: "etc/shared/", hash: "0")
        let report = try apply(try handmadeContainer([], metadata: c.jsonBytes()), to: b.root)
        #expect(report.errors.map(\.action) == ["missing_entry"])
        #expect(!b.exists("etc/shared/default/ghost.conf"))
    }

    @Test func unpackWritesEntriesAndMetadata() throws {
        let (a, b) = try pair()
        let c = try classify(a, b)
        let (bytes, report) = try packed(c, from: a.root)
        let out = try ScratchTree("unpack")
        let u = try ContainerUnpacker.unpack(from: MemorySource(bytes), into: out.path("x"))
        #expect(u.entries == report.entries)
        for p in u.entries { #expect(try out.read("x/" + p) == (try a.read(p))) }
        #expect(try out.read("x/files_metadata.json") == c.jsonBytes())
        let evil = try handmadeContainer([("../up.conf", [1])], metadata: Array("{}".utf8))
        #expect(throws: ClusterError.self) { try ContainerUnpacker.unpack(from: MemorySource(evil), into: out.path("y")) }
        #expect(!out.exists("up.conf"))
    }
}
