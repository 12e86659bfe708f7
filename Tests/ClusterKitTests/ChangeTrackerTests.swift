import Foundation
import Testing
@testable import ClusterKit

/// Scans with change tracking (inotify) against full walks of the same tree, on real files.
@Suite struct ChangeTrackerTests {
    /// A tree without symbolic links, so that every directory can go unread when nothing changed.
    func plainTree() throws -> ScratchTree {
        let t = try ScratchTree("tracker")
        try t.write("etc/client.keys", "001 agent any key\n")
        try t.write("etc/ossec.conf", "<ossec_config/>")
        for g in 0..<4 {
            for f in 0..<5 { try t.write("etc/shared/group\(g)/file\(f).conf", "group \(g) file \(f)\n") }
        }
        try t.write("etc/shared/group1/sub/deeper/x.conf", "deep")
        try t.write("etc/rules/local_rules.xml", "<group/>")
        try t.write("etc/decoders/local_decoder.xml", "<decoder/>")
        try t.write("etc/lists/audit-keys", "a:b")
        return t
    }

    /// A tracked scan and a full walk of the same tree, each with its own cache.
    final class Pair {
        let t: ScratchTree
        let rules: FileRules
        let changes: ChangeTracker
        let cache: ScanCache
        let fullCache: ScanCache
        /// Lets go of the tracked scan's cache between scans, as the master does (saved first).
        let release: Bool
        let cacheFile = FileManager.default.temporaryDirectory.appendingPathComponent("tracker-\(UUID().uuidString).cache").path

        deinit { unlink(cacheFile) }

        init(_ t: ScratchTree, rules: FileRules = stockRules, changes: ChangeTracker = ChangeTracker(), release: Bool = false) {
            self.t = t
            self.release = release
            self.rules = rules
            self.changes = changes
            cache = ScanCache(root: t.root)
            fullCache = ScanCache(root: t.root)
        }

        /// Scans both ways and checks that the tracked scan found what the full walk found: the
        /// same snapshot bytes (order included), the same issues, the same cache.
        @discardableResult
        func step(_ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> ScanResult {
            let tracked = try scan(t.root, rules: rules, cache: cache, changes: changes)
            let full = try scan(t.root, rules: rules, cache: fullCache)
            #expect(String(decoding: tracked.snapshot.jsonBytes(), as: UTF8.self)
                    == String(decoding: full.snapshot.jsonBytes(), as: UTF8.self), "\(what)", sourceLocation: sourceLocation)
            #expect(tracked.issues == full.issues, "\(what)", sourceLocation: sourceLocation)
            #expect(cache.encode() == fullCache.encode(), "\(what): cache", sourceLocation: sourceLocation)
            if release {
                let file = cacheFile
                if cache.changed { try cache.save(to: file) }
                cache.release(backedBy: file)
                #expect(!cache.isLoaded, sourceLocation: sourceLocation)
            }
            return tracked
        }
    }

    func rename(_ t: ScratchTree, _ from: String, _ to: String) throws {
        try FileManager.default.createDirectory(atPath: FileIO.parentDirectory(of: t.path(to)), withIntermediateDirectories: true)
        #expect(Glibc.rename(t.path(from), t.path(to)) == 0)
    }

    func remove(_ t: ScratchTree, _ rel: String) throws { try FileManager.default.removeItem(atPath: t.path(rel)) }

    static let ruleSets: [FileRules] = [
        stockRules,
        // Two rules over the same directories: the later one's records, the first one's positions.
        FileRules(rules: [FileRule(key: "etc/", recursive: true), FileRule(key: "etc/shared/group0/", recursive: true),
                          FileRule(key: "var/multigroups/", files: ["merged.mg"])]),
    ]

    @Test(arguments: [0, 1], [false, true]) func changesAreFoundAsAFullWalkFindsThem(ruleSet: Int, releaseCache: Bool) throws {
        let t = try plainTree()
        let p = Pair(t, rules: Self.ruleSets[ruleSet], release: releaseCache)
        let first = try p.step("first scan")
        #expect(first.walk == .full("first scan"))
        #expect(first.stats.directoriesRead > 5)

        let idle = try p.step("nothing changed")
        #expect(idle.walk == .unchanged)
        #expect(idle.stats.statted == 0)
        #expect(idle.stats.directoriesRead == 0)
        #expect(idle.stats.files == first.stats.files)

        // The root is watched only for the way to the rules' directories: its own files do not
        // make anything be read.
        try t.write("unrelated.log", "a log line\n")
        try t.write("logs/cluster.log", "in a directory nobody watches\n")
        #expect(try p.step("files outside the rules").walk == .unchanged)

        try t.write("etc/shared/group2/file3.conf", "new content, longer than before\n")
        let modified = try p.step("a file rewritten")
        #expect(modified.walk == .changes)
        #expect(modified.stats.directoriesRead == 1)
        #expect(modified.stats.statted == 5)
        #expect(modified.stats.hashed == 1)

        t.setMTime("etc/shared/group2/file1.conf", seconds: 1_700_000_000, nanoseconds: 5)
        let touched = try p.step("an mtime changed")
        #expect(touched.snapshot["etc/shared/group2/file1.conf"]?.modTime == FileRecord.pythonModTime(seconds: 1_700_000_000, nanoseconds: 5))

        try t.write("etc/shared/group0/added.conf", "added")
        try remove(t, "etc/shared/group3/file4.conf")
        try rename(t, "etc/shared/group0/file2.conf", "etc/shared/group1/moved.conf")
        try p.step("files created, deleted and moved between directories")

        try t.write("etc/shared/group9/a/b/c.conf", "new nested")
        try t.write("etc/shared/group9/d.conf", "new")
        let created = try p.step("a new subdirectory with files")
        #expect(created.snapshot.contains("etc/shared/group9/a/b/c.conf"))

        try t.write("etc/shared/group9/a/b/later.conf", "in a directory that was new last time")
        try p.step("a file in a directory first seen by the last scan")

        try remove(t, "etc/shared/group1")
        let removed = try p.step("a directory tree removed")
        #expect(!removed.snapshot.paths.contains { $0.hasPrefix("etc/shared/group1/") })

        try rename(t, "etc/shared/group2", "etc/shared/group7")
        try p.step("a directory renamed")
        try t.write("etc/shared/group7/file0.conf", "changed after the rename")
        let afterRename = try p.step("a file changed in the renamed directory")
        #expect(afterRename.stats.directoriesRead == 1)

        // Replaced by a tree whose subdirectories have the same names: nothing of the old one's
        // listings may be taken for the new one's.
        try rename(t, "etc/shared/group9", "etc/shared/group9.old")
        try t.write("etc/shared/group9/a/b/c.conf", "a new tree under the old name")
        try t.write("etc/shared/group9/a/b/extra.conf", "only in the new tree")
        let replaced = try p.step("a directory tree replaced by another with the same names")
        #expect(replaced.snapshot.contains("etc/shared/group9/a/b/extra.conf"))

        try t.write("var/multigroups/abc/merged.mg", "#multi")
        let appeared = try p.step("a rule's directory created, and its parent")
        #expect(appeared.snapshot.contains("var/multigroups/abc/merged.mg"))

        try rename(t, "etc/rules", "etc/rules.old")
        try t.write("etc/rules/replacement.xml", "<group name=\"new\"/>")
        try p.step("a rule's directory replaced")

        try t.write("etc/shared/group0/edit.swp", "excluded")
        let excluded = try p.step("an excluded name")
        #expect(!excluded.snapshot.contains("etc/shared/group0/edit.swp"))

        #expect(mkfifo(t.path("etc/shared/group3/pipe"), 0o600) == 0)
        let fifo = try p.step("a FIFO")
        #expect(fifo.issues.contains { $0.path == "etc/shared/group3/pipe" })
        // What was left out is looked at again (as a full walk would), and only that.
        let again = try p.step("nothing changed but a FIFO")
        #expect(again.walk == .changes)
        #expect(again.stats.statted == 1)
        #expect(again.stats.directoriesRead == 0)
        try remove(t, "etc/shared/group3/pipe")
        try p.step("the FIFO removed")
        #expect(try p.step("nothing changed").walk == .unchanged)
    }

    @Test func directoriesWithSymbolicLinksAreReadAtEveryScan() throws {
        let t = try IntegrityScannerTests().buildTree()
        let p = Pair(t)
        try p.step("first scan")
        let second = try p.step("nothing changed")
        // etc/shared/group2 holds links: what they point to can change with no event there.
        #expect(second.walk == .changes)
        #expect(second.stats.directoriesRead == 1)
        try t.write("outside/real.conf", "the link's target, changed outside the synced directories")
        let changed = try p.step("a link's target changed")
        #expect(changed.snapshot["etc/shared/group2/linked.conf"]?.hash
                == (try b2sum(["etc/shared/group2/linked.conf"], in: t.root))["etc/shared/group2/linked.conf"])
        try t.write("etc/shared/nowhere", "the dangling link's target now exists")
        try p.step("a dangling link's target created")
    }

    @Test func anOverflowFallsBackToAFullWalkAndSaysSo() throws {
        let limitText = (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8)) ?? "16384"
        let limit = Int(limitText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 16384
        let t = try plainTree()
        let p = Pair(t)
        try p.step("first scan")
        // More events than the queue holds: attribute changes on two files in turn (the kernel
        // merges an event only with an identical one just before it).
        let a = t.path("etc/shared/group0/file0.conf"), b = t.path("etc/shared/group0/file1.conf")
        for i in 0...limit { chmod(i % 2 == 0 ? a : b, i % 4 < 2 ? 0o640 : 0o600) }
        try t.write("etc/shared/group3/during-overflow.conf", "lost in the overflow")
        let r = try p.step("after an overflow")
        guard case .full(let reason?) = r.walk else {
            Issue.record("expected a full walk, got \(r.walk)")
            return
        }
        #expect(reason.contains("overflowed"))
        #expect(r.notes.contains { $0.contains("overflowed") })
        #expect(r.snapshot.contains("etc/shared/group3/during-overflow.conf"))
        // Watching goes on.
        #expect(try p.step("nothing changed").walk == .unchanged)
        try t.write("etc/shared/group3/after.conf", "seen by its event")
        #expect(try p.step("a change after the overflow").walk == .changes)
    }

    @Test func withNoWatchesLeftEveryScanIsAFullWalk() throws {
        let t = try plainTree()
        let changes = ChangeTracker()
        changes.watchLimit = 3
        let p = Pair(t, changes: changes)
        let first = try p.step("first scan, out of watches")
        #expect(first.notes.contains { $0.contains("no inotify watches left") })
        #expect(!changes.isWatching)
        try t.write("etc/shared/group0/file0.conf", "changed")
        let next = try p.step("a change while not watching")
        #expect(next.walk == .full("not watching"))
        #expect(next.notes.isEmpty)
        #expect(next.stats.directoriesRead == first.stats.directoriesRead)
    }

    @Test func aPeriodicFullWalkCatchesWhatNoEventReported() throws {
        let t = try plainTree()
        try t.mkdir("elsewhere")
        #expect(link(t.path("etc/shared/group0/file0.conf"), t.path("elsewhere/hard-link")) == 0)
        let p = Pair(t)
        try p.step("first scan")
        #expect(try p.step("nothing changed").walk == .unchanged)
        // Written through a hard link in a directory nobody watches: no event in etc/shared/group0.
        let fd = open(t.path("elsewhere/hard-link"), O_WRONLY | O_TRUNC)
        #expect(fd >= 0)
        let text = Array("rewritten through another name\n".utf8)
        #expect(write(fd, text, text.count) == text.count)
        close(fd)
        let blind = try scan(t.root, cache: p.cache, changes: p.changes)
        #expect(blind.walk == .unchanged)
        p.changes.requestFullWalk(reason: ChangeTracker.periodic)
        let caught = try p.step("the periodic full walk")
        #expect(caught.walk == .full(ChangeTracker.periodic))
        #expect(caught.snapshot["etc/shared/group0/file0.conf"]?.hash
                == (try b2sum(["etc/shared/group0/file0.conf"], in: t.root))["etc/shared/group0/file0.conf"])
        #expect(caught.notes.contains { $0.contains("no event reported") })
    }

    @Test func aScanWithAnotherCacheIsAFullWalk() throws {
        let t = try plainTree()
        let p = Pair(t)
        try p.step("first scan")
        let other = try scan(t.root, cache: ScanCache(root: t.root), changes: p.changes)
        #expect(other.walk == .full("the root, the rules or the cache changed"))
    }
}
