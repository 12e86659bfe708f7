import Foundation
import Testing
@testable import ClusterKit

/// Collects entries in memory.
final class CollectingConsumer: ContainerEntryConsumer {
    var files: [String: [UInt8]] = [:]
    var order: [String] = []
    private var current = ""
    func beginEntry(path: String) throws { current = path; order.append(path); files[path] = [] }
    func entryData(_ bytes: UnsafeRawBufferPointer) throws { files[current]! += bytes }
    func endEntry() throws {}
}

@Suite struct ContainerTests {
    @Test func metadataStreamedInPiecesIsTheOneShotBytes() throws {
        var c = Classification()
        for i in 0..<4000 {
            let r = FileRecord(modTime: 1_700_000_000.5 + Double(i), clusterItemKey: "etc/shared/",
                               hash: String(repeating: String(format: "%02x", i % 256), count: 64))
            if i % 3 == 0 { c.shared["etc/shared/g/é \(i)"] = r } else { c.missing["etc/shared/g/f\(i)"] = r }
            if i % 50 == 0 { c.extra["etc/shared/x\(i)"] = r }
        }
        let streamed = MemorySink()
        try c.writeJSON(to: streamed)
        #expect(streamed.bytes == c.jsonBytes() && streamed.bytes.count > 3 * 256 * 1024)
        let oneShot = MemorySink(), inPieces = MemorySink()
        try ContainerWriter(sink: oneShot).finish(metadata: c.jsonBytes())
        try ContainerWriter(sink: inPieces).finish { try c.writeJSON(to: $0) }
        #expect(inPieces.bytes == oneShot.bytes)
        #expect(try read(inPieces.bytes).0.metadata == c.jsonBytes())
    }

    func read(_ bytes: [UInt8], chunk: Int = Int.max, limits: ContainerLimits = ContainerLimits())
        throws -> (ContainerContents, CollectingConsumer) {
        let c = CollectingConsumer()
        let contents = try ContainerReader.read(from: MemorySource(bytes, chunk: chunk), limits: limits, consumer: c)
        return (contents, c)
    }

    func tree() throws -> (ScratchTree, Classification) {
        let t = try ScratchTree()
        var rnd = [UInt8](repeating: 0, count: 200_000)
        var x: UInt64 = 0x9E3779B97F4A7C15
        for i in rnd.indices { x ^= x << 13; x ^= x >> 7; x ^= x << 17; rnd[i] = UInt8(truncatingIfNeeded: x) }
        try t.write("etc/shared/g/random.bin", rnd)
        try t.write("etc/shared/g/empty", [])
        try t.write("etc/shared/g/text.conf", String(repeating: "line\n", count: 1000))
        try t.write("etc/client.keys", "001 a any k\n")
        let snap = try scan(t.root).snapshot
        return (t, Classification(missing: snap))
    }

    @Test func roundTripInAnyChunking() throws {
        let (t, c) = try tree()
        let (bytes, report) = try packed(c, from: t.root)
        #expect(report.dropped.isEmpty)
        #expect(report.bytes == bytes.count)
        for chunk in [1, 7, 4096, Int.max] {
            let (contents, got) = try read(bytes, chunk: chunk)
            #expect(contents.entries == report.entries)
            #expect(contents.metadata == c.jsonBytes())
            for p in contents.entries { #expect(got.files[p] == (try t.read(p)), "\(p) chunk \(chunk)") }
        }
    }

    @Test func emptyFileIsTheEightByteStream() throws {
        let (t, _) = try tree()
        let sink = MemorySink()
        let w = ContainerWriter(sink: sink)
        _ = try w.addFile(path: "e", absolutePath: t.path("etc/shared/g/empty"))
        #expect(sink.bytes == Array("e".utf8) + ContainerFormat.pathSeparator + [0x78, 0x01, 0x03, 0, 0, 0, 0, 0x01] + ContainerFormat.fileSeparator)
    }

    @Test func separatorInsideCompressedDataDoesNotCutTheEntry() throws {
        // Incompressible bytes are stored as they are, so the separator ends up in the zlib stream.
        let t = try ScratchTree()
        var content = [UInt8]()
        var x: UInt64 = 12345
        for _ in 0..<70_000 { x ^= x << 13; x ^= x >> 7; x ^= x << 17; content.append(UInt8(truncatingIfNeeded: x)) }
        content.insert(contentsOf: ContainerFormat.fileSeparator + ContainerFormat.pathSeparator, at: 30_000)
        try t.write("etc/shared/g/collide.bin", content)
        let c = Classification(missing: try scan(t.root).snapshot)
        let (bytes, _) = try packed(c, from: t.root)
        let compressed = try Zlib.compress(content)
        #expect(compressed.firstRange(of: ContainerFormat.fileSeparator) != nil)
        let (_, got) = try read(bytes, chunk: 1000)
        #expect(got.files["etc/shared/g/collide.bin"] == content)
    }

    @Test func everyTruncationIsRefused() throws {
        let (t, c) = try tree()
        let (bytes, _) = try packed(c, from: t.root)
        // Every cut in the small entries and metadata, and a stride through the big one.
        var cuts = Set(stride(from: 0, to: bytes.count, by: 997))
        for i in max(0, bytes.count - 3000)..<bytes.count { cuts.insert(i) }
        for i in 0..<300 { cuts.insert(i) }
        for cut in cuts.sorted() {
            do {
                _ = try read(Array(bytes[0..<cut]))
                Issue.record("accepted a container cut at \(cut) of \(bytes.count)")
            } catch let e as ClusterError {
                #expect(e.exit == .dataError)
            }
        }
        // A trailing separator with nothing after it is a cut, too.
        #expect(throws: ClusterError.self) { try read(bytes + ContainerFormat.fileSeparator) }
        #expect(throws: ClusterError.self) { try read(bytes + [0x41]) }
    }

    @Test func corruptDataIsRefused() throws {
        let (t, c) = try tree()
        var (bytes, _) = try packed(c, from: t.root)
        bytes[bytes.count / 3] ^= 0x5A
        #expect(throws: ClusterError.self) { try read(bytes) }
    }

    @Test func unsafeEntryPathsAreRefused() throws {
        for path in ["../escape", "/etc/passwd", "a/../../b", "a\u{0}b", "", "a//b"] {
            let bytes = try handmadeContainer([(path, Array("x".utf8))], metadata: Array("{}".utf8))
            do {
                _ = try read(bytes)
                Issue.record("accepted \(path.debugDescription)")
            } catch let e as ClusterError {
                #expect(e.exit == .dataError)
            }
        }
        let twice = try handmadeContainer([("a", [1]), ("a", [2])], metadata: Array("{}".utf8))
        #expect(throws: ClusterError.self) { try read(twice) }
    }

    @Test func limitsAreEnforced() throws {
        let big = try handmadeContainer([("a", [UInt8](repeating: 0, count: 100_000))], metadata: Array("{}".utf8))
        var l = ContainerLimits()
        l.maxTotalBytes = 50_000
        #expect(throws: ClusterError.self) { try read(big, limits: l) }
        l = ContainerLimits()
        l.maxPathBytes = 10
        #expect(throws: ClusterError.self) { try read(try handmadeContainer([("a/very/long/path", [1])], metadata: Array("{}".utf8)), limits: l) }
        l = ContainerLimits()
        l.maxEntries = 2
        #expect(throws: ClusterError.self) { try read(try handmadeContainer([("a", [1]), ("b", [2])], metadata: Array("{}".utf8)), limits: l) }
        l = ContainerLimits()
        l.maxMetadataBytes = 10
        #expect(throws: ClusterError.self) { try read(try handmadeContainer([], metadata: Array(repeating: 0x20, count: 11)), limits: l) }
        #expect(throws: ClusterError.self) { try read([]) }
    }

    @Test func sizeLimitDropsFilesAsTheReferenceDoes() throws {
        let (t, c0) = try tree()
        // random.bin (200 kB, incompressible) fits neither raw nor compressed under 100 kB.
        var c = c0
        let (_, r1) = try packed(c, from: t.root, maxSize: 100_000)
        #expect(r1.dropped.map(\.path) == ["etc/shared/g/random.bin"])
        #expect(r1.dropped[0].reason.contains("too large"))
        #expect(!r1.metadata.missing.contains("etc/shared/g/random.bin"))
        #expect(r1.entries.count == c.missing.count - 1)

        // A budget that fits the first two entries only: the rest are dropped ("exceeded").
        let order = ["etc/client.keys", "etc/shared/g/empty", "etc/shared/g/text.conf", "etc/shared/g/random.bin"]
        let sink = MemorySink()
        let report = try ContainerWriter.pack(c, root: t.root, rules: stockRules, into: sink, maxSize: 100, order: order)
        #expect(report.entries == ["etc/client.keys", "etc/shared/g/empty"])
        #expect(Set(report.dropped.map(\.path)) == ["etc/shared/g/text.conf", "etc/shared/g/random.bin"])
        #expect(Set(report.metadata.missing.paths) == ["etc/client.keys", "etc/shared/g/empty"])
        let (contents, _) = try read(sink.bytes)
        #expect(contents.metadata == report.metadata.jsonBytes())

        // A shared file that vanished moves to extra, so that the worker deletes it.
        c = Classification(shared: c0.missing)
        try FileManager.default.removeItem(atPath: t.path("etc/shared/g/text.conf"))
        let (_, r3) = try packed(c, from: t.root)
        #expect(r3.metadata.extra.contains("etc/shared/g/text.conf"))
        #expect(!r3.metadata.shared.contains("etc/shared/g/text.conf"))
    }

    @Test func packRefusesPathsNoRuleSelects() throws {
        let (t, c0) = try tree()
        var c = c0
        var r = c.missing["etc/client.keys"]!
        c.missing["etc/ossec.conf"] = r
        #expect(throws: ClusterError.self) { try packed(c, from: t.root) }
        c = c0
        r.clusterItemKey = "etc/shared/"
        c.missing["../../etc/passwd"] = r
        #expect(throws: ClusterError.self) { try packed(c, from: t.root) }
    }

    @Test func workerMetadataContainerIsByteIdentical() throws {
        let snap = try Snapshot.parse(try IntegrityFixtures.carried("worker_snapshot.json"))
        let sink = MemorySink()
        try ContainerWriter.writeSnapshot(snap, into: sink)
        #expect(sink.bytes == (try IntegrityFixtures.carried("worker_metadata_container.bin")))
        let (contents, _) = try read(sink.bytes)
        #expect(contents.entries.isEmpty)
        #expect(contents.metadata == (try IntegrityFixtures.carried("worker_snapshot.json")))
    }
}
