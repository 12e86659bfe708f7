import Foundation
import Testing
@testable import ClusterKit

/// The master's check straight from the worker's JSON against the parse and compare it
/// replaced: the same classification (in the same order), the same counts, the same refusals.
@Suite struct WorkerSnapshotCheckTests {
    typealias Outcome = (c: Classification, count: Int, counts: [String: Int])

    func both(master: Snapshot, _ bytes: [UInt8]) -> (Result<Outcome, ClusterError>, Result<Outcome, ClusterError>) {
        func run(_ f: () throws -> Outcome) -> Result<Outcome, ClusterError> {
            do { return .success(try f()) } catch { return .failure(error as! ClusterError) }
        }
        let streamed = run {
            let k = try WorkerSnapshotCheck.run(master: master, workerJSON: bytes, rules: stockRules, source: "w")
            return (k.classification, k.workerCount, k.workerCountsByRule)
        }
        let parsed = run {
            let w = try Snapshot.parse(bytes, source: "w")
            return (try Classification.compare(master: master, worker: w, rules: stockRules), w.count, w.countsByRule())
        }
        return (streamed, parsed)
    }

    func expectSame(master: Snapshot, _ bytes: [UInt8], _ comment: Comment? = nil) {
        let (a, b) = both(master: master, bytes)
        switch (a, b) {
        case (.success(let x), .success(let y)):
            #expect(x.c == y.c, comment)
            #expect(x.c.missing.paths == y.c.missing.paths && x.c.shared.paths == y.c.shared.paths
                    && x.c.extra.paths == y.c.extra.paths, comment)
            #expect(x.c.jsonBytes() == y.c.jsonBytes(), comment)
            #expect(x.count == y.count && x.counts == y.counts, comment)
        case (.failure(let x), .failure(let y)):
            #expect(x.message == y.message && x.code == y.code, comment)
        default:
            Issue.record("one accepted, one refused: \(a) / \(b) \(comment.map { "\($0)" } ?? "")")
        }
    }

    @Test func theCarriedSnapshotsClassifyAlike() throws {
        let master = try Snapshot.parse(try IntegrityFixtures.carried("master_snapshot.json"))
        let workerBytes = try IntegrityFixtures.carried("worker_snapshot.json")
        let k = try WorkerSnapshotCheck.run(master: master, workerJSON: workerBytes, rules: stockRules)
        #expect(k.classification == (try Classification.parse(try IntegrityFixtures.carried("classification.json"))))
        expectSame(master: master, workerBytes)
        expectSame(master: Snapshot(), workerBytes, "empty master")
        expectSame(master: master, Array("{}".utf8), "empty worker")
    }

    @Test func aLargeVariedWorkerClassifiesAlike() throws {
        var master = Snapshot(), worker = Snapshot()
        let keys = ["etc/shared/", "etc/rules/", "etc/lists/"]
        for i in 0..<3000 {
            let path = i % 7 == 0 ? "etc/shared/naïve \"q\" \\ \(i)\u{1}.conf" : "\(keys[i % 3])g\(i % 30)/f\(i).conf"
            let r = FileRecord(modTime: 1_700_000_000.123456 + Double(i) * 0.001, clusterItemKey: keys[i % 3],
                               merged: i % 11 == 0, mergeType: i % 11 == 0 ? "TYPE" : nil,
                               mergeName: i % 11 == 0 ? "/var/ossec/\(path)" : nil, hash: String(repeating: "ab", count: 64))
            if i % 10 != 1 { master[path] = r }
            if i % 10 == 2 { continue }
            var w = r
            if i % 10 == 3 { w.hash = String(repeating: "cd", count: 64) }
            if i % 10 == 4 { w.modTime += 1 }   // not compared
            worker[i % 13 == 0 ? path + ".extra" : path] = w
        }
        expectSame(master: master, worker.jsonBytes())
        expectSame(master: worker, master.jsonBytes(), "the other way round")
    }

    @Test func hashesCompareAsStrings() throws {
        var master = Snapshot()
        master["etc/shared/a"] = FileRecord(modTime: 1, clusterItemKey: "etc/shared/", hash: "ab")
        master["etc/shared/b"] = FileRecord(modTime: 1, clusterItemKey: "etc/shared/", hash: "é")
        master["etc/shared/c"] = FileRecord(modTime: 1, clusterItemKey: "etc/shared/", hash: "ab")
        // An escaped hash equal to the master's, a decomposed é (canonically equal), a different one.
        let text = #"{"etc/shared/a": {"mod_time": 1, "cluster_item_key": "etc/shared/", "hash": "a\u0062"}, "#
            + #""etc/shared/b": {"mod_time": 1, "cluster_item_key": "etc/shared/", "hash": "e\#u{301}"}, "#
            + #""etc/shared/c": {"mod_time": 1, "cluster_item_key": "etc/shared/", "hash": "AB"}}"#
        expectSame(master: master, Array(text.utf8))
        let k = try WorkerSnapshotCheck.run(master: master, workerJSON: Array(text.utf8), rules: stockRules)
        #expect(k.classification.shared.paths == ["etc/shared/c"] && k.classification.missing.isEmpty)
    }

    @Test func refusalsMatch() throws {
        var master = Snapshot()
        master["etc/a"] = FileRecord(modTime: 1, clusterItemKey: "etc/", hash: "h")
        let cases = [
            #"["not", "an", "object"]"#,
            #"{"etc/a": 5}"#,
            #"{"etc/a": {"cluster_item_key": "etc/", "hash": "h"}}"#,
            #"{"etc/b": {"mod_time": "1", "cluster_item_key": "etc/", "hash": "h"}}"#,
            #"{"etc/a": {"mod_time": 1, "cluster_item_key": 3, "hash": "h"}}"#,
            #"{"etc/a": {"mod_time": 1, "cluster_item_key": "etc/"}}"#,
            #"{"etc/a": {"mod_time": 1, "cluster_item_key": "etc/", "hash": 4}}"#,
            #"{"etc/a": {"mod_time": 1, "cluster_item_key": "etc/", "hash": "h", "merged": 1}}"#,
            #"{"etc/a": {"mod_time": 1,}}"#,
            #"{"etc/a": {}, "etc/a": {}}"#,
            #"{"etc/a": {"mod_time": 1, "cluster_item_key": "etc/", "hash": "h"}, "etc/a": {}}"#,
            #"{"etc/b": {"mod_time": 1, "cluster_item_key": "etc/", "hash": "h"}, "etc/b": {}}"#,
            #"{"etc/a": {"mod_time": 1, "cluster_item_key": "e", "hash": "h"}} x"#,
            // Under no rule: refused, but after a bad record or bad JSON further on.
            #"{"etc/x": {"mod_time": 1, "cluster_item_key": "nope/", "hash": "h"}}"#,
            #"{"etc/x": {"mod_time": 1, "cluster_item_key": "nope/", "hash": "h"}, "etc/y": {"mod_time": 1, "cluster_item_key": "no/", "hash": "h"}}"#,
            #"{"etc/x": {"mod_time": 1, "cluster_item_key": "nope/", "hash": "h"}, "etc/b": {"hash": "h"}}"#,
            #"{"etc/x": {"mod_time": 1, "cluster_item_key": "nope/", "hash": "h"}, "etc/b": 1"#,
            // A worker file under no rule that the master has: compared, not refused.
            #"{"etc/a": {"mod_time": 1, "cluster_item_key": "nope/", "hash": "h"}}"#,
        ]
        for text in cases { expectSame(master: master, Array(text.utf8), "\(text)") }
        let invalidUTF8 = Array(#"{"etc/"#.utf8) + [0xFF] + Array(#"": {}}"#.utf8)
        expectSame(master: master, invalidUTF8)
    }
}
