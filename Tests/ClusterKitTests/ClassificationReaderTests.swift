import Foundation
import Testing
@testable import ClusterKit

/// The byte-level classification reader against the jansson reader it replaced: the same
/// classifications from the same documents, the same refusals.
@Suite struct ClassificationReaderTests {
    func both(_ text: String) -> (Result<Classification, ClusterError>, Result<Classification, ClusterError>) {
        let bytes = Array(text.utf8)
        func run(_ f: () throws -> Classification) -> Result<Classification, ClusterError> {
            do { return .success(try f()) } catch { return .failure(error as! ClusterError) }
        }
        return (run { try Classification.parse(bytes) }, run { try Classification.parseWithJansson(bytes) })
    }

    @Test func theCarriedClassificationReadsAlike() throws {
        let bytes = try IntegrityFixtures.carried("classification.json")
        let ours = try Classification.parse(bytes)
        let theirs = try Classification.parseWithJansson(bytes)
        #expect(ours == theirs)
        #expect(ours.missing.paths == theirs.missing.paths && ours.extra.paths == theirs.extra.paths
                && ours.shared.paths == theirs.shared.paths, "order kept")
        #expect(ours.jsonBytes() == bytes, "round-trips byte for byte")
    }

    @Test func aLargeClassificationReadsAlike() throws {
        var c = Classification()
        for i in 0..<3000 {
            let path = i % 7 == 0 ? "etc/shared/naïve \"q\" \\ \(i)\u{1}.conf" : "etc/shared/g\(i % 30)/f\(i).conf"
            let r = FileRecord(modTime: 1_700_000_000.5 + Double(i), clusterItemKey: "etc/shared/", merged: i % 11 == 0,
                               mergeType: i % 11 == 0 ? "TYPE" : nil, mergeName: i % 11 == 0 ? "/var/ossec/\(path)" : nil,
                               hash: String(repeating: "cd", count: 64))
            switch i % 3 {
            case 0: c.missing[path] = r
            case 1: c.extra[path] = r
            default: c.shared[path] = r
            }
        }
        let bytes = c.jsonBytes()
        let ours = try Classification.parse(bytes)
        #expect(ours == c && ours.missing.paths == c.missing.paths)
        #expect(ours == (try Classification.parseWithJansson(bytes)))
        #expect(ours.extra.contains("etc/shared/g1/f1.conf"), "the index built while reading works")
        // What an apply reads: the same paths and records but for the hashes.
        let lean = try Classification.parseWithoutHashes(bytes, source: "classification")
        #expect(lean.missing.paths == c.missing.paths && lean.extra.paths == c.extra.paths && lean.shared.paths == c.shared.paths)
        let hashes = lean.missing.map { $0.1.hash }, keys = lean.missing.map { $0.1.clusterItemKey }
        #expect(hashes.allSatisfy { $0.isEmpty })
        #expect(keys == c.missing.map { $0.1.clusterItemKey })
    }

    @Test func groupsInAnyOrderAndAbsentGroupsReadAlike() throws {
        for text in [#"{}"#, #"{"shared": {}, "missing": {"etc/a": {"mod_time": 1, "cluster_item_key": "etc/", "hash": "h"}}}"#,
                     #"{"extra": {"etc/a": {"mod_time": 2.5, "cluster_item_key": "etc/", "hash": "h", "x": [1]}}}"#] {
            let (a, b) = both(text)
            #expect(try a.get() == b.get(), "\(text)")
        }
    }

    @Test func refusalsMatch() {
        let cases = [
            #"["not", "a", "classification"]"#,
            #"{"missing": [], "extra": {}}"#,
            #"{"missing": {}, "files": {}}"#,
            #"{"etc/a": {"mod_time": 1, "cluster_item_key": "etc/", "hash": "h"}}"#,
            #"{"missing": {"etc/a": 5}}"#,
            #"{"missing": {"etc/a": {"cluster_item_key": "etc/", "hash": "h"}}}"#,
            #"{"shared": {"etc/a": {"mod_time": 1, "cluster_item_key": "etc/"}}, "extra": 3}"#,
            #"{"extra": "x", "shared": {"etc/a": {"mod_time": 1, "cluster_item_key": "etc/"}}}"#,
            #"{"missing": {"etc/a": {"mod_time": 1, "cluster_item_key": "etc/", "hash": "h", "merged": 1}}, "other": 1}"#,
        ]
        for text in cases {
            let (a, b) = both(text)
            guard case .failure(let ours) = a, case .failure(let theirs) = b else {
                Issue.record("accepted: \(text)"); continue
            }
            #expect(ours.message == theirs.message, "\(text)")
            #expect(ours.code == theirs.code, "\(text)")
            #expect((try? Classification.parseWithoutHashes(Array(text.utf8), source: "classification")) == nil, "\(text)")
        }
        // Not JSON, or JSON jansson refuses (even after a bad record or key): both refuse with
        // 3036 (the wording of the position differs).
        for text in [#""#, #"5"#, #""x""#, #"{"missing": {},}"#, #"{"missing": {}, "missing": {}}"#,
                     #"{"missing": {"a": {}, "a": {}}}"#, #"{"other": 1} x"#, #"[1] x"#,
                     #"{"missing": {"etc/a": {"mod_time": 1e999999, "cluster_item_key": "e", "hash": "h"}}}"#] {
            let (a, b) = both(text)
            guard case .failure(let ours) = a, case .failure(let theirs) = b else {
                Issue.record("accepted: \(text)"); continue
            }
            #expect(ours.code == 3036 && theirs.code == 3036, "\(text): \(ours.message) / \(theirs.message)")
        }
    }
}
