import Foundation
import Testing
@testable import ClusterKit

/// The byte-level snapshot reader against the jansson reader it replaced: the same records from
/// the same documents, the same refusals.
@Suite struct SnapshotReaderTests {
    func both(_ text: String) -> (Result<Snapshot, ClusterError>, Result<Snapshot, ClusterError>) {
        let bytes = Array(text.utf8)
        func run(_ f: () throws -> Snapshot) -> Result<Snapshot, ClusterError> {
            do { return .success(try f()) } catch { return .failure(error as! ClusterError) }
        }
        return (run { try Snapshot.parse(bytes) }, run { try Snapshot.parseWithJansson(bytes) })
    }

    @Test func theCarriedSnapshotsReadAlike() throws {
        for name in ["master_snapshot.json", "worker_snapshot.json"] {
            let bytes = try IntegrityFixtures.carried(name)
            let ours = try Snapshot.parse(bytes)
            #expect(ours == (try Snapshot.parseWithJansson(bytes)))
            #expect(ours.paths == (try Snapshot.parseWithJansson(bytes)).paths, "scan order kept")
            #expect(ours.jsonBytes() == bytes, "\(name) round-trips byte for byte")
        }
    }

    @Test func aLargeVariedSnapshotReadsAlike() throws {
        var s = Snapshot()
        for i in 0..<3000 {
            let path = i % 7 == 0 ? "etc/shared/naïve \"q\" \\ \(i)\u{1}.conf" : "etc/shared/g\(i % 30)/f\(i).conf"
            s[path] = FileRecord(modTime: 1_700_000_000.123456 + Double(i) * 0.001, clusterItemKey: "etc/shared/",
                                 merged: i % 11 == 0, mergeType: i % 11 == 0 ? "TYPE" : nil,
                                 mergeName: i % 11 == 0 ? "/var/ossec/\(path)" : nil, hash: String(repeating: "ab", count: 64))
        }
        let bytes = s.jsonBytes()
        let ours = try Snapshot.parse(bytes)
        #expect(ours == s && ours.paths == s.paths)
        #expect(ours == (try Snapshot.parseWithJansson(bytes)))
        #expect(ours["etc/shared/g1/f1.conf"] == s["etc/shared/g1/f1.conf"], "the index built while reading works")
    }

    @Test func integersUnknownKeysAndMissingMergedReadAlike() throws {
        let (a, b) = both(#"{"etc/a": {"mod_time": 12, "cluster_item_key": "etc/", "hash": "h", "extra": [1, {"x": null}]}}"#)
        #expect(try a.get() == b.get())
        #expect((try? a.get())?["etc/a"]?.modTime == 12 && (try? a.get())?["etc/a"]?.merged == false)
    }

    @Test func refusalsMatch() {
        let invalidUTF8 = Array(#"{"etc/"#.utf8) + [0xFF] + Array(#"": {}}"#.utf8)
        #expect((try? Snapshot.parse(invalidUTF8)) == nil && (try? Snapshot.parseWithJansson(invalidUTF8)) == nil)
        let cases = [
            #"["not", "an", "object"]"#,
            #"{"etc/a": 5}"#,
            #"{"etc/a": {"cluster_item_key": "etc/", "hash": "h"}}"#,
            #"{"etc/a": {"mod_time": "1", "cluster_item_key": "etc/", "hash": "h"}}"#,
            #"{"etc/a": {"mod_time": 1, "cluster_item_key": 3, "hash": "h"}}"#,
            #"{"etc/a": {"mod_time": 1, "cluster_item_key": "etc/"}}"#,
            #"{"etc/a": {"mod_time": 1, "cluster_item_key": "etc/", "hash": "h", "merged": 1}}"#,
            #"{"etc/a": {"mod_time": "x", "cluster_item_key": 3}}"#,
        ]
        for text in cases {
            let (a, b) = both(text)
            guard case .failure(let ours) = a, case .failure(let theirs) = b else {
                Issue.record("accepted: \(text)"); continue
            }
            #expect(ours.message == theirs.message, "\(text)")
            #expect(ours.code == theirs.code)
        }
        // Not JSON, or JSON jansson refuses (even after a bad record): both refuse with 3036 (the
        // wording of the position differs).
        for text in [#"{"etc/a": {"mod_time": 1,}}"#, #"{"a": {}, "a": {}}"#,
                     #"{"etc/a": {"mod_time": 1, "mod_time": 2, "cluster_item_key": "e", "hash": "h"}}"#,
                     #"{"etc/a": {"mod_time": 1, "cluster_item_key": "e", "hash": "h"}} x"#,
                     #"{"etc/a": {"mod_time": 99999999999999999999, "cluster_item_key": "e", "hash": "h"}}"#] {
            let (a, b) = both(text)
            guard case .failure(let ours) = a, case .failure(let theirs) = b else {
                Issue.record("accepted: \(text)"); continue
            }
            #expect(ours.code == 3036 && theirs.code == 3036, "\(text)")
        }
    }
}
