import Foundation
import Testing
@testable import ClusterKit

/// The pack that reads and deflates ahead on several threads writes the container a single
/// thread writes, byte for byte, and reports the same drops.
@Suite struct ParallelPackTests {
    /// Many small files (text and random, some empty), large files mixed in, a FIFO (not a
    /// regular file) and a symlink leading out of the root (refused before reading).
    func tree() throws -> (ScratchTree, Classification) {
        let t = try ScratchTree("parallel-pack")
        var gen = TestBytes(seed: 77)
        for i in 0..<1_200 {
            let rel = "etc/shared/group\(i % 13)/file\(i).conf"
            switch i % 7 {
            case 0: try t.write(rel, [])
            case 1, 2: try t.write(rel, gen.bytes(100 + gen.below(2_000)))
            default:
                let lines = (0..<(1 + gen.below(60))).map { "<localfile><location>/var/log/app\($0 + i).log</location></localfile>\n" }
                try t.write(rel, lines.joined())
            }
            if i == 300 { try t.write("etc/shared/group3/big.bin", gen.bytes(1_500_000) + [UInt8](repeating: 9, count: 1_000_000)) }
            if i == 900 { try t.write("etc/shared/group5/big2.txt", String(repeating: "agent_config line\n", count: 120_000)) }
        }
        let snap = try scan(t.root).snapshot
        // Added after the scan: the classification still names them.
        mkfifo(t.path("etc/shared/group1/fifo.conf"), 0o600)
        try t.symlink("etc/shared/group2/outside.conf", to: "/etc/hostname")
        var c = Classification(missing: snap)
        var record = snap[snap.paths[0]]!
        for extra in ["etc/shared/group1/fifo.conf", "etc/shared/group2/outside.conf", "etc/shared/group4/vanished.conf"] {
            record.clusterItemKey = "etc/shared/"
            c.missing[extra] = record
        }
        return (t, c)
    }

    func pack(_ c: Classification, _ root: String, maxSize: Int = ContainerFormat.defaultMaxSize, order: [String]? = nil,
              threads: Int, limits: EntryReadAhead.Limits = EntryReadAhead.Limits()) throws -> ([UInt8], PackReport) {
        let sink = MemorySink()
        let report = try ContainerWriter.pack(c, root: root, rules: stockRules, into: sink, maxSize: maxSize, order: order,
                                              threads: threads, readAhead: limits, progress: nil)
        return (sink.bytes, report)
    }

    func expectSame(_ a: ([UInt8], PackReport), _ b: ([UInt8], PackReport), _ label: String) {
        #expect(a.0 == b.0, "\(label): container bytes differ (\(a.0.count) vs \(b.0.count))")
        #expect(a.1.entries == b.1.entries, "\(label)")
        #expect(a.1.dropped.map(\.path) == b.1.dropped.map(\.path), "\(label)")
        #expect(a.1.dropped.map(\.reason) == b.1.dropped.map(\.reason), "\(label)")
        #expect(a.1.metadata == b.1.metadata, "\(label)")
        #expect(a.1.bytes == b.1.bytes, "\(label)")
    }

    /// Bounds small enough that workers wait for the writer, and a low threshold for streaming.
    static let tight = EntryReadAhead.Limits(maxAhead: 3, maxBufferedBytes: 4_096, inlineAbove: 1_500)

    @Test func manyThreadsWriteTheSingleThreadBytes() throws {
        let (t, c) = try tree()
        let sequential = try pack(c, t.root, threads: 1)
        #expect(sequential.1.entries.count == c.missing.count - 3)
        #expect(Set(sequential.1.dropped.map(\.path)) == ["etc/shared/group1/fifo.conf", "etc/shared/group2/outside.conf", "etc/shared/group4/vanished.conf"])
        for threads in [2, 3, 8] {
            expectSame(try pack(c, t.root, threads: threads), sequential, "\(threads) threads")
            expectSame(try pack(c, t.root, threads: threads, limits: Self.tight), sequential, "\(threads) threads, tight bounds")
        }
        let (contents, got) = try ContainerTests().read(sequential.0, chunk: 65_536)
        #expect(contents.entries == sequential.1.entries)
        #expect(got.files["etc/shared/group3/big.bin"] == (try t.read("etc/shared/group3/big.bin")))
    }

    @Test func sizeBudgetDropsTheSameEntries() throws {
        let (t, c) = try tree()
        let full = try pack(c, t.root, threads: 1)
        // big.bin alone is over 1.5 MB raw ("too large"); the budget runs out part-way through
        // the small files ("exceeded"), including exactly at a worst-case boundary.
        var reasons = Set<String>()
        for maxSize in [2_000_000, full.1.bytes / 3, full.1.bytes / 2 + 12_345, 100, 1] {
            let sequential = try pack(c, t.root, maxSize: maxSize, threads: 1)
            for (_, why) in sequential.1.dropped {
                if why.contains("too large") { reasons.insert("too large") }
                if why.contains("exceeded") { reasons.insert("exceeded") }
            }
            for threads in [2, 4] {
                expectSame(try pack(c, t.root, maxSize: maxSize, threads: threads), sequential, "max \(maxSize), \(threads) threads")
                expectSame(try pack(c, t.root, maxSize: maxSize, threads: threads, limits: Self.tight), sequential,
                           "max \(maxSize), \(threads) threads, tight bounds")
            }
        }
        #expect(reasons == ["too large", "exceeded"])
        // A budget that ends exactly at an entry: the entries before it fit to the byte.
        let order = c.missing.paths.sorted()
        let first = try pack(c, t.root, order: Array(order.prefix(50)), threads: 1)
        let exact = entriesSize(first.0)
        let sequential = try pack(c, t.root, maxSize: exact, order: order, threads: 1)
        #expect(sequential.1.entries == first.1.entries)
        expectSame(try pack(c, t.root, maxSize: exact, order: order, threads: 2, limits: Self.tight), sequential, "exact budget")
    }

    /// Paths are checked on several threads, but the pack refuses with the first bad path in
    /// entry order, as one thread checking them in turn does, before writing anything.
    @Test func firstBadPathInOrderRefusesThePack() throws {
        let (t, c0) = try tree()
        var c = c0
        var record = c.missing[c.missing.paths[0]]!
        record.clusterItemKey = "etc/shared/"
        c.missing["etc/ossec.conf"] = record
        c.missing["etc/shared/../../escape.conf"] = record
        var order = c0.missing.paths
        order.insert("etc/shared/../../escape.conf", at: 700)
        order.insert("etc/ossec.conf", at: 400)
        for threads in [1, 2, 4] {
            let sink = MemorySink()
            do {
                _ = try ContainerWriter.pack(c, root: t.root, rules: stockRules, into: sink, order: order, threads: threads)
                Issue.record("packed a refused path with \(threads) threads")
            } catch let e as ClusterError {
                #expect(e.exit == .dataError)
                #expect(e.message.contains("etc/ossec.conf"), "\(threads) threads: \(e.message)")
            }
            #expect(sink.bytes.isEmpty)
        }
    }

    /// The entries' total size: everything before the metadata entry.
    func entriesSize(_ bytes: [UInt8]) -> Int {
        bytes.firstRange(of: Array(ContainerFormat.metadataName.utf8) + ContainerFormat.pathSeparator)!.lowerBound
    }
}
