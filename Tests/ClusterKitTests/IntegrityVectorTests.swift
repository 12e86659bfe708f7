import Foundation
import Testing
@testable import ClusterKit

/// The golden vectors made by the real Wazuh 4.9.2 code. The small ones travel with the project
/// (Fixtures/wazuh-4.9.2); the trees and the big container are read from ../shared/vectors when
/// that directory exists, and those tests are skipped when it does not.
@Suite struct IntegrityVectorTests {
    @Test func classificationOfTheCarriedSnapshots() throws {
        let master = try Snapshot.parse(try IntegrityFixtures.carried("master_snapshot.json"))
        let worker = try Snapshot.parse(try IntegrityFixtures.carried("worker_snapshot.json"))
        let expectedBytes = try IntegrityFixtures.carried("classification.json")
        let expected = try Classification.parse(expectedBytes)
        let c = try Classification.compare(master: master, worker: worker, rules: stockRules)
        #expect(c == expected)
        #expect(c.counts == (4, 6, 5))
        #expect(expected.jsonBytes() == expectedBytes)
        try DeletionGuard().check(c, master: master, worker: worker)
        // The master reads the worker's metadata-only container as the reference sent it.
        let worker2 = try ContainerReader.read(from: MemorySource(try IntegrityFixtures.carried("worker_metadata_container.bin")))
        #expect(try Snapshot.parse(worker2.metadata) == worker)
    }

    @Test func unknownClusterItemKeyFromTheWorkerFailsTheComparison() throws {
        var worker = Snapshot()
        worker["etc/x"] = FileRecord(modTime: 0, clusterItemKey: "nope/", hash: "h")
        #expect(throws: ClusterError.self) { try Classification.compare(master: Snapshot(), worker: worker, rules: stockRules) }
    }

    func extract(_ tar: URL, into t: ScratchTree) throws {
        _ = try runOracle("/usr/bin/tar", ["-xf", tar.path, "-C", t.root])
    }

    @Test(.enabled(if: IntegrityFixtures.shared != nil, "needs ../shared/vectors/wazuh-4.9.2/integrity"))
    func treesScanToTheReferenceSnapshots() throws {
        let v = try #require(IntegrityFixtures.shared)
        for (tar, snap) in [("tree.tar", "master_snapshot.json"), ("worker_tree.tar", "worker_snapshot.json")] {
            let t = try ScratchTree("vector")
            try extract(v.appendingPathComponent(tar), into: t)
            let ours = try scan(t.root).snapshot
            let theirs = try Snapshot.parse(try IntegrityFixtures.bytes(v.appendingPathComponent(snap)))
            #expect(ours == theirs, "\(tar)")
            #expect(Set(ours.paths) == Set(theirs.paths))
        }
    }

    @Test(.enabled(if: IntegrityFixtures.shared != nil, "needs ../shared/vectors/wazuh-4.9.2/integrity"))
    func containerIsTheReferenceContainer() throws {
        let v = try #require(IntegrityFixtures.shared)
        let t = try ScratchTree("vector")
        try extract(v.appendingPathComponent("tree.tar"), into: t)
        let classificationBytes = try IntegrityFixtures.carried("classification.json")
        let c = try Classification.parse(classificationBytes)
        let layout = try JSON.parse(try IntegrityFixtures.carried("container.json"))
        let order = try #require(layout["entry_order"]?.arrayValue).compactMap(\.stringValue)
        let sink = MemorySink()
        let report = try ContainerWriter.pack(c, root: t.root, rules: stockRules, into: sink, order: order)
        #expect(report.dropped.isEmpty)
        let reference = try IntegrityFixtures.bytes(v.appendingPathComponent("container.bin"))
        // The entry order is defined here (the reference's came from its set order), so the bytes
        // must be the same (zlib 1.2.x level 1 on both sides).
        #expect(sink.bytes.count == reference.count)
        #expect(Digest.sha256Hex(sink.bytes) == layout["sha256"]?.stringValue)
        #expect(sink.bytes == reference)
        // In the default order: same entries and decompressed bytes, same metadata bytes.
        let (defaultBytes, _) = try packed(c, from: t.root)
        let a = CollectingConsumer(), b = CollectingConsumer()
        let ours = try ContainerReader.read(from: MemorySource(defaultBytes), consumer: a)
        let theirs = try ContainerReader.read(from: MemorySource(reference), consumer: b)
        #expect(Set(ours.entries) == Set(theirs.entries))
        #expect(a.files == b.files)
        #expect(ours.metadata == classificationBytes)
        #expect(theirs.metadata == classificationBytes)
    }

    @Test(.enabled(if: IntegrityFixtures.shared != nil, "needs ../shared/vectors/wazuh-4.9.2/integrity"))
    func referenceContainerUnpacksAndAppliesToTheWorkerTree() throws {
        let v = try #require(IntegrityFixtures.shared)
        let manifest = try JSON.parse(try IntegrityFixtures.bytes(v.appendingPathComponent("master_manifest.json")))
        var sha = [String: String]()
        for item in manifest.arrayValue ?? [] { sha[item["path"]!.stringValue!] = item["sha256"]!.stringValue! }
        let out = try ScratchTree("unpack")
        let source = FileDescriptorSource(fd: try FileIO.openForReading(v.appendingPathComponent("container.bin").path))
        defer { close(source.fd) }
        let u = try ContainerUnpacker.unpack(from: source, into: out.root)
        #expect(u.entries.count == 9)
        for p in u.entries { #expect(Digest.sha256Hex(try out.read(p)) == sha[p], "\(p)") }

        // Apply it to the worker tree: the worker then scans like the master.
        let w = try ScratchTree("worker"), m = try ScratchTree("master")
        try extract(v.appendingPathComponent("worker_tree.tar"), into: w)
        try extract(v.appendingPathComponent("tree.tar"), into: m)
        var o = ApplyOptions()
        o.durability = .none
        let report = try IntegrityApplier(root: w.root, options: o).apply(containerAt: v.appendingPathComponent("container.bin").path)
        #expect(report.errors.isEmpty)
        #expect(report.created.count == 4 && report.updated.count == 5 && report.deleted.count == 6)
        #expect(SnapshotDiff(expected: try scan(m.root).snapshot, actual: try scan(w.root).snapshot).isEmpty)
    }
}
