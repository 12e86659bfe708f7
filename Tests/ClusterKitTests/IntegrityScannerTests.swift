import Foundation
import Testing
@testable import ClusterKit

@Suite struct IntegrityScannerTests {
    /// A tree with every case the walk must decide: nested directories, excluded names and
    /// suffixes, an empty file, a multi-MiB file, a space and non-ASCII UTF-8 in names, a
    /// symlink to a directory (not walked) and one to a file (followed), rule-limited names.
    func buildTree() throws -> ScratchTree {
        let t = try ScratchTree()
        try t.write("etc/client.keys", "001 agent any key\n")
        try t.write("etc/ossec.conf", "<ossec_config/>")          // etc/ takes only client.keys
        try t.write("etc/internal_options.conf", "x=1")
        try t.write("etc/shared/default/agent.conf", "<agent_config/>\n")
        try t.write("etc/shared/default/merged.mg", "#default\n")
        try t.write("etc/shared/ar.conf", "restart-ossec0")        // excluded by name
        try t.write("etc/shared/group1/ossec.conf", "x")            // excluded by name, at depth
        try t.write("etc/shared/group1/.agent.conf.swp", "swap")    // excluded suffixes
        try t.write("etc/shared/group1/backup.conf~", "old")
        try t.write("etc/shared/group1/upload.tmp", "tmp")
        try t.write("etc/shared/group1/state.lock", "lock")
        try t.write("etc/shared/group1/empty.txt", [])
        try t.write("etc/shared/group1/my file.txt", "with a space\n")
        try t.write("etc/shared/group1/naïve-日本語.txt", "utf-8 name\n")
        try t.write("etc/shared/group1/sub/deeper/deepest/x.conf", "deep")
        var big = [UInt8](repeating: 0, count: 3 * 1024 * 1024 + 17)
        for i in big.indices { big[i] = UInt8(truncatingIfNeeded: (i &* 2654435761) >> 13) }
        try t.write("etc/shared/group2/big.bin", big)
        try t.write("outside/real.conf", "linked file")
        try t.write("outside/dir/inner.conf", "must not be walked")
        try t.symlink("etc/shared/group2/linked.conf", to: "../../../outside/real.conf")
        try t.symlink("etc/shared/group2/linkdir", to: "../../../outside/dir")
        try t.symlink("etc/shared/group2/dangling.conf", to: "../nowhere")
        try t.write("var/multigroups/abc/merged.mg", "#multi")
        try t.write("var/multigroups/abc/other.txt", "not merged.mg")
        try t.write("etc/rules/local_rules.xml", "<group/>")
        try t.write("etc/decoders/local_decoder.xml", "<decoder/>")
        try t.write("etc/lists/audit-keys", "a:b")
        try t.write("etc/shared/group3/legacy.merged", "merged format")
        return t
    }

    static let expectedKeys: [String: String] = [
        "etc/client.keys": "etc/",
        "etc/shared/default/agent.conf": "etc/shared/",
        "etc/shared/default/merged.mg": "etc/shared/",
        "etc/shared/group1/empty.txt": "etc/shared/",
        "etc/shared/group1/my file.txt": "etc/shared/",
        "etc/shared/group1/naïve-日本語.txt": "etc/shared/",
        "etc/shared/group1/sub/deeper/deepest/x.conf": "etc/shared/",
        "etc/shared/group2/big.bin": "etc/shared/",
        "etc/shared/group2/linked.conf": "etc/shared/",
        "etc/shared/group3/legacy.merged": "etc/shared/",
        "var/multigroups/abc/merged.mg": "var/multigroups/",
        "etc/rules/local_rules.xml": "etc/rules/",
        "etc/decoders/local_decoder.xml": "etc/decoders/",
        "etc/lists/audit-keys": "etc/lists/",
    ]

    @Test func snapshotHasTheReferenceKeysRulesAndHashes() throws {
        let t = try buildTree()
        let result = try scan(t.root)
        let snap = result.snapshot
        #expect(Set(snap.paths) == Set(Self.expectedKeys.keys))
        let oracle = try b2sum(snap.paths, in: t.root)
        for (path, record) in snap {
            #expect(record.clusterItemKey == Self.expectedKeys[path], "\(path)")
            #expect(record.hash == oracle[path], "\(path)")
            #expect(record.hash.count == 128)
            let st = t.stat(path)
            #expect(record.modTime == Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) * 1e-9)
            #expect(record.merged == path.hasSuffix(".merged"))
        }
        let legacy = try #require(snap["etc/shared/group3/legacy.merged"])
        #expect(legacy.mergeType == "TYPE")
        #expect(legacy.mergeName == t.path("etc/shared/group3/legacy.merged"))
        #expect(result.stats.files == Self.expectedKeys.count)
        #expect(result.stats.hashed == Self.expectedKeys.count)
    }

    @Test func walkOrderIsRuleOrderThenFilesBeforeSubdirectories() throws {
        let t = try buildTree()
        let snap = try scan(t.root).snapshot
        let ruleOrder = stockRules.rules.map(\.key)
        let positions = snap.paths.map { ruleOrder.firstIndex(of: snap[$0]!.clusterItemKey)! }
        #expect(positions == positions.sorted())
        // Within etc/shared/group1, its own files come before the sub/ tree.
        let g1 = snap.paths.filter { $0.hasPrefix("etc/shared/group1/") }
        let firstDeep = try #require(g1.firstIndex { $0.contains("/sub/") })
        #expect(g1[firstDeep...].allSatisfy { $0.contains("/sub/") })
    }

    @Test func jsonIsPythonJsonDumps() throws {
        let t = try ScratchTree()
        try t.write("etc/shared/g/résumé \"q\".txt", "x")
        t.setMTime("etc/shared/g/résumé \"q\".txt", seconds: 1730110049, nanoseconds: 999_999_999)
        let snap = try scan(t.root).snapshot
        let text = String(decoding: snap.jsonBytes(), as: UTF8.self)
        let hash = snap.paths.first.flatMap { snap[$0]?.hash } ?? ""
        #expect(text == #"{"etc/shared/g/r\u00e9sum\u00e9 \"q\".txt": {"mod_time": 1730110050.0, "cluster_item_key": "etc/shared/", "merged": false, "hash": ""# + hash + #""}}"#)
    }

    @Test func carriedSnapshotsRoundTripByteForByte() throws {
        for name in ["master_snapshot.json", "worker_snapshot.json"] {
            let bytes = try IntegrityFixtures.carried(name)
            let snap = try Snapshot.parse(bytes)
            #expect(snap.jsonBytes() == bytes, "\(name)")
            #expect(try Snapshot(json: try JSON.parse(bytes)) == snap)
        }
    }

    @Test func modTimeFollowsPythonFloatRepr() {
        #expect(FileRecord.pythonModTime(seconds: 1730110000, nanoseconds: 123456789).description == "1730110000.1234567")
        #expect(FileRecord.pythonModTime(seconds: 1730110189, nanoseconds: 1).description == "1730110189.0")
        #expect(FileRecord.pythonModTime(seconds: 1730110049, nanoseconds: 999999999).description == "1730110050.0")
    }

    @Test func cacheSkipsUnchangedFilesAndCatchesChangesWithTheSameMTime() throws {
        let t = try buildTree()
        let cacheFile = t.path("scan.cache")
        let first = try scan(t.root, cache: ScanCache(root: t.root))
        // Save and reload, as a cron job or a restarted daemon would.
        let c1 = ScanCache(root: t.root)
        _ = try scan(t.root, cache: c1)
        try c1.save(to: cacheFile)
        let c2 = ScanCache.load(path: cacheFile, root: t.root)
        #expect(c2.loadNote == nil)
        let warm = try scan(t.root, cache: c2)
        #expect(warm.stats.hashed == 0)
        #expect(warm.stats.fromCache == first.stats.files)
        #expect(warm.snapshot == first.snapshot)
        #expect(!c2.changed)

        // Same size, same mtime, new content (rewritten in place, mtime put back).
        let rel = "etc/shared/default/agent.conf"
        let before = t.stat(rel)
        waitForTimestampTick(after: before)
        try t.write(rel, "<agent_config*>\n")
        t.setMTime(rel, seconds: before.st_mtim.tv_sec, nanoseconds: before.st_mtim.tv_nsec)
        #expect(t.stat(rel).st_size == before.st_size)
        let after = try scan(t.root, cache: c2)
        #expect(after.stats.hashed == 1)
        #expect(after.snapshot[rel]?.hash == (try b2sum([rel], in: t.root))[rel])
        #expect(after.snapshot[rel]?.modTime == first.snapshot[rel]?.modTime)
        #expect(c2.changed)

        // Replaced by rename with the same size and mtime: a new inode.
        let rel2 = "etc/rules/local_rules.xml"
        let st2 = t.stat(rel2)
        try t.write("etc/rules/.new", "<grouq/>")
        t.setMTime("etc/rules/.new", seconds: st2.st_mtim.tv_sec, nanoseconds: st2.st_mtim.tv_nsec)
        rename(t.path("etc/rules/.new"), t.path(rel2))
        let after2 = try scan(t.root, cache: c2)
        #expect(after2.stats.hashed == 1)
        #expect(after2.snapshot[rel2]?.hash == (try b2sum([rel2], in: t.root))[rel2])
    }

    @Test func filesChangedJustBeforeTheScanAreNotCached() throws {
        let t = try buildTree()
        let cache = ScanCache(root: t.root)
        var options = Scanner.Options()   // the default 2 s window
        let scanner = Scanner(root: t.root, rules: stockRules, options: options)
        _ = try scanner.scan(cache: cache)
        let again = try scanner.scan(cache: cache)
        #expect(again.stats.fromCache == 0)
        #expect(again.stats.hashed == Self.expectedKeys.count)
        options.racyWindowNanoseconds = 0
        _ = try Scanner(root: t.root, rules: stockRules, options: options).scan(cache: cache)
        #expect(try Scanner(root: t.root, rules: stockRules, options: options).scan(cache: cache).stats.hashed == 0)
    }

    @Test func unusableCacheFilesAreIgnored() throws {
        let t = try buildTree()
        let cache = ScanCache(root: t.root)
        _ = try scan(t.root, cache: cache)
        let file = t.path("c.cache")
        try cache.save(to: file)
        var bytes = try t.read("c.cache")
        bytes[bytes.count / 2] ^= 0x40
        try t.write("c.cache", bytes)
        let corrupt = ScanCache.load(path: file, root: t.root)
        #expect(corrupt.count == 0)
        #expect(corrupt.loadNote?.contains("checksum") == true)
        try cache.save(to: file)
        let other = ScanCache.load(path: file, root: "/elsewhere")
        #expect(other.count == 0)
        #expect(ScanCache.load(path: t.path("none"), root: t.root).loadNote == nil)
        // A scan with the corrupt cache still gives the right snapshot.
        #expect(try scan(t.root, cache: corrupt).snapshot == (try scan(t.root).snapshot))
    }

    @Test func singleThreadAndParallelScansAgree() throws {
        let t = try ScratchTree()
        for i in 0..<700 { try t.write("etc/shared/g\(i % 7)/f\(i).conf", "content \(i)") }
        var one = Scanner.Options()
        one.threads = 1
        let a = try Scanner(root: t.root, options: one).scan().snapshot
        let b = try Scanner(root: t.root).scan().snapshot
        #expect(a.paths == b.paths)
        #expect(a == b)
        #expect(a.count == 700)
    }

    @Test func overlappingRulesKeepTheFirstPositionAndTheLastRecord() throws {
        let t = try ScratchTree()
        try t.write("etc/shared/a.conf", "a")
        try t.write("etc/shared/sub/b.conf", "b")
        let rules = FileRules(rules: [FileRule(key: "etc/", recursive: true), FileRule(key: "etc/shared/sub/", recursive: true)])
        let snap = try scan(t.root, rules: rules).snapshot
        #expect(snap.count == 2)
        #expect(snap["etc/shared/sub/b.conf"]?.clusterItemKey == "etc/shared/sub/")
        #expect(snap["etc/shared/a.conf"]?.clusterItemKey == "etc/")
    }

    @Test func missingRootIsInputMissing() {
        #expect(throws: ClusterError.self) { try scan("/nonexistent/root") }
        do { _ = try scan("/nonexistent/root") } catch let e as ClusterError { #expect(e.exit == .noInput) } catch {}
    }

    @Test func countFilesMatchesTheSnapshot() throws {
        let t = try buildTree()
        let counts = try Scanner(root: t.root).countFiles()
        #expect(counts == (try scan(t.root).snapshot.countsByRule()))
    }
}

@Suite struct FileRulesTests {
    @Test func referenceShapedConfigurationParses() throws {
        let text = """
        {"files": {
          "etc/": {"permissions": "0o640", "source": "master", "files": ["client.keys"], "recursive": false,
                   "restart": false, "remove_subdirs_if_empty": false, "extra_valid": false, "description": "keys"},
          "etc/shared/": {"permissions": "0o660", "files": ["all"], "recursive": true, "remove_subdirs_if_empty": true},
          "excluded_files": ["ar.conf"], "excluded_extensions": [".swp"]},
         "intervals": {}}
        """
        let rules = try FileRules(configuration: try JSON.parse(text), source: "cluster.json")
        #expect(rules.rules.map(\.key) == ["etc/", "etc/shared/"])
        #expect(rules.rules[0].permissions == 0o640)
        #expect(rules.rules[1].permissions == 0o660)
        #expect(rules.rules[1].removeSubdirsIfEmpty)
        #expect(rules.excludedFiles == ["ar.conf"])
        #expect(rules.excludedExtensions == [".swp"])
        // Round trip through the reference shape.
        #expect(try FileRules(filesSection: rules.toJSON()) == rules)
        #expect(try FileRules(configuration: ["cluster": [:]], source: "c") == FileRules.reference)
    }

    @Test func unknownKeysAndBadValuesAreConfigErrorsNamingTheKey() {
        let cases: [(String, String)] = [
            (#"{"etc/": {"permisions": "0o640"}}"#, "permisions"),
            (#"{"etc/": {"permissions": "0640"}}"#, "permissions"),
            (#"{"etc/": {"permissions": "0o17777"}}"#, "permissions"),
            (#"{"etc/": {"recursive": "yes"}}"#, "recursive"),
            (#"{"etc/": {"files": "all"}}"#, "files"),
            (#"{"../etc/": {}}"#, "../etc/"),
            (#"{"/etc/": {}}"#, "/etc/"),
            (#"{"excluded_files": [1]}"#, "excluded_files"),
            (#"{"excluded_extensions": [""]}"#, "excluded_extensions"),
        ]
        for (text, key) in cases {
            do {
                _ = try FileRules(filesSection: try JSON.parse(text))
                Issue.record("accepted \(text)")
            } catch let e as ClusterError {
                #expect(e.exit == .config, "\(text)")
                #expect(e.message.contains(key), "\(e.message)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test func permissionsAcceptPythonIntLiterals() throws {
        for (text, mode) in [(#""0o640""#, 0o640), (#""0x1a0""#, 0o640), (#""416""#, 0o640), ("416", 0o640), (#""0""#, 0)] {
            let r = try FileRules(filesSection: try JSON.parse(#"{"etc/": {"permissions": "# + text + "}}"))
            #expect(Int(r.rules[0].permissions) == mode, "\(text)")
        }
    }

    @Test func selectsMirrorsTheWalk() {
        let r = FileRules.reference
        let etc = r.rule(forKey: "etc/")!, shared = r.rule(forKey: "etc/shared/")!, multi = r.rule(forKey: "var/multigroups/")!
        #expect(r.selects(path: "etc/client.keys", rule: etc))
        #expect(!r.selects(path: "etc/ossec.conf", rule: etc))
        #expect(!r.selects(path: "etc/x/client.keys", rule: etc))
        #expect(r.selects(path: "etc/shared/a/b/c.conf", rule: shared))
        #expect(!r.selects(path: "etc/shared/a/ar.conf", rule: shared))
        #expect(!r.selects(path: "etc/shared/a/x.swp", rule: shared))
        #expect(!r.selects(path: "etc/sharedx/a.conf", rule: shared))
        #expect(r.selects(path: "var/multigroups/x/merged.mg", rule: multi))
        #expect(!r.selects(path: "var/multigroups/x/other.txt", rule: multi))
    }
}
