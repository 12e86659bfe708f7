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
        expectStreamedAlike(master: master, bytes, a, comment)
    }

    /// The stream, fed in pieces of several sizes, gives what the whole document gives, or asks
    /// for it; a valid snapshot never needs it. Through a container file, the same outcome.
    func expectStreamedAlike(master: Snapshot, _ bytes: [UInt8], _ whole: Result<Outcome, ClusterError>, _ comment: Comment?) {
        for piece in [1, 2, 3, 7, 64, 4096, Int.max] {
            let stream = WorkerSnapshotStream(master: master, rules: stockRules, source: "w")
            do {
                var i = 0
                while i < bytes.count {
                    let j = min(bytes.count, i + min(piece, bytes.count))
                    try bytes[i..<j].withUnsafeBytes { try stream.feed($0) }
                    i = j
                }
                let (k, noRule) = try stream.finish()
                switch whole {
                case .success(let x):
                    #expect(noRule == nil && k.classification == x.c && k.classification.jsonBytes() == x.c.jsonBytes()
                            && k.workerCount == x.count && k.workerCountsByRule == x.counts, "piece \(piece) \(comment.map { "\($0)" } ?? "")")
                case .failure(let e):
                    #expect(noRule?.message == e.message, "piece \(piece) \(comment.map { "\($0)" } ?? "")")
                }
            } catch is WorkerSnapshotStream.NeedsWholeDocument {
                if case .success = whole { Issue.record("a valid snapshot needed the whole document (piece \(piece)) \(comment.map { "\($0)" } ?? "")") }
            } catch {
                Issue.record("the stream threw \(error)")
            }
        }
        do {
            let t = try ScratchTree("worker-check")
            let sink = MemorySink()
            try ContainerWriter(sink: sink).finish(metadata: bytes)
            let path = try t.write("container", sink.bytes)
            let viaFile = Result { try WorkerSnapshotCheck.run(master: master, containerPath: path, rules: stockRules, source: "w") }
            switch (viaFile, whole) {
            case (.success(let k), .success(let x)):
                #expect(k.classification == x.c && k.classification.jsonBytes() == x.c.jsonBytes() && k.workerCount == x.count, comment)
            case (.failure(let e as ClusterError), .failure(let x)):
                #expect(e.message == x.message && e.code == x.code, comment)
            default:
                Issue.record("through the container: \(viaFile) / \(whole)")
            }
        } catch {
            Issue.record("\(error)")
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

    @Test func validShapesStreamWithoutTheWholeDocument() throws {
        var master = Snapshot()
        master["etc/shared/a"] = FileRecord(modTime: 1, clusterItemKey: "etc/shared/", hash: "ab")
        let texts = [
            " {} ", "{\n}",
            #"  { "etc/shared/a" : {"mod_time": 1, "cluster_item_key": "etc/shared/", "hash": "a\"}\\b"} , "etc/shared/}{,\"" : {"mod_time": 2.5e3, "cluster_item_key": "etc/shared/", "hash": "x", "other": [1, {"y": "]}"}, []], "merged": false}}  "#,
            #"{"etc/shared/b": {"hash": "h", "cluster_item_key": "etc/shared/", "mod_time": -1}}"#,
        ]
        for text in texts { expectSame(master: master, Array(text.utf8), "\(text)") }
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
