import Foundation
import Testing
@testable import ClusterKit

/// The packed snapshot storage: every record reads back as it was stored, whatever its hash
/// looks like, and its JSON is what `FileRecord.writePython` writes.
@Suite struct PackedRecordsTests {
    static let digestHex = String(repeating: "0f", count: 64)
    static let hashes = [
        digestHex,                                         // what a scan makes: stored as 64 bytes
        digestHex.uppercased(),                            // a peer's: kept as given
        String(digestHex.dropLast()),                      // 127 digits
        "",
        "not a hash \u{e9}",
        String(digestHex.dropLast(2)) + "g0",
    ]

    func sample() -> [(String, FileRecord)] {
        var out = [(String, FileRecord)]()
        for (i, h) in Self.hashes.enumerated() {
            out.append(("etc/shared/g/f\(i)", FileRecord(modTime: 1.5 + Double(i), clusterItemKey: "etc/shared/", hash: h)))
        }
        out.append(("etc/shared/g/a.merged", FileRecord(modTime: 2, clusterItemKey: "etc/shared/", merged: true,
                                                        mergeType: "TYPE", mergeName: "/var/ossec/etc/shared/g/a.merged",
                                                        hash: Self.digestHex)))
        out.append(("etc/lists/caf\u{e9}\"q", FileRecord(modTime: 3, clusterItemKey: "etc/lists/", hash: Self.digestHex)))
        return out
    }

    @Test func recordsAndJSONReadBackAsStored() throws {
        let items = sample()
        let s = Snapshot(uniquePaths: items.map(\.0), records: items.map(\.1))
        #expect(s.paths == items.map(\.0))
        var expected = [UInt8(ascii: "{")]
        for (k, (p, r)) in items.enumerated() {
            #expect(s[p] == r)
            #expect(s.record(at: k) == r && s.hash(at: k) == r.hash)
            if k > 0 { expected.append(contentsOf: ", ".utf8) }
            PythonJSON.appendString(p, into: &expected)
            expected.append(contentsOf: ": ".utf8)
            r.writePython(into: &expected)
        }
        expected.append(UInt8(ascii: "}"))
        #expect(s.jsonBytes() == expected)
        #expect(try Snapshot.parse(expected) == s)
    }

    @Test func hashesCompareAsTheirStrings() {
        let items = sample()
        let s = Snapshot(uniquePaths: items.map(\.0), records: items.map(\.1))
        let texts = Self.hashes + ["\u{212A}", Self.digestHex + "0"]
        for k in 0..<items.count {
            for t in texts {
                let same = Array(t.utf8).withUnsafeBytes { s.hashEquals(at: k, $0) }
                #expect(same == (t == items[k].1.hash), "record \(k) against \(t.prefix(8))")
            }
            for j in 0..<items.count {
                #expect(s.hashEquals(at: k, s, at: j) == (items[k].1.hash == items[j].1.hash))
            }
        }
    }

    @Test func replacingAndRemovingKeepOrderAndIndex() {
        var s = Snapshot()
        for i in 0..<1000 { s["d/f\(i)"] = FileRecord(modTime: Double(i), clusterItemKey: "k\(i % 3)", hash: Self.digestHex) }
        s["d/f10"] = FileRecord(modTime: 0, clusterItemKey: "k9", hash: "X")
        s.remove(["d/f0", "d/f999", "absent"])
        #expect(s.count == 998 && s.paths.first == "d/f1" && s.paths.last == "d/f998")
        #expect(s["d/f10"]?.hash == "X" && s["d/f10"]?.clusterItemKey == "k9")
        #expect(s["d/f0"] == nil && s.contains("d/f500") && !s.contains("d/f5000"))
        #expect(s.countsByRule()["k9"] == 1)
    }
}
