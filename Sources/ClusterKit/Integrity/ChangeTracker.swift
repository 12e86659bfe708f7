#if canImport(Glibc)
import Glibc
#endif

/// Change detection for repeated scans of one root: which directories changed since the last
/// scan, so that the next one reads only those (`Scanner.scan(cache:changes:)`).
///
/// The first scan walks everything and watches (inotify, `DirectoryWatcher`) every directory it
/// reads, plus the directories on the way to each rule's directory. Events then only say where to
/// look: a directory an event names is read again and its files are stat'ed and looked up in the
/// `ScanCache` as in a full walk; every other directory's entries are taken as last read, in the
/// same order, and its files' stamps and digests from the cache, without a `stat`. A scan in which
/// nothing changed returns the previous result and touches nothing. The result is always the one a
/// full walk would give: the cache and its (device, inode, size, mtime, ctime) key stay the truth.
///
/// Some directories are read at every scan: those holding symbolic links (what a link points to
/// can change with no event here), those that could not be watched, and those on network or FUSE
/// file systems, whose events miss changes made elsewhere. A full walk happens instead when the
/// event queue overflows, when the cache or the rules are not those of the last scan, and every
/// `fullWalkInterval` seconds as a safety net. When no more directories can be watched
/// (`fs.inotify.max_user_watches`) watching stops and every scan is a full walk. Each of these
/// is reported once in `ScanResult.notes`.
///
/// Not thread-safe: one scan at a time uses it (the scans of one daemon are sequential).
public final class ChangeTracker: @unchecked Sendable {
    struct NodeKey: Hashable {
        var rule: Int
        var path: String
    }

    /// One directory as a rule last read it. Its files are kept as names in one buffer (a
    /// tracker holds one of these for every directory of the tree, so a `Candidate` with its
    /// path `String` per file would be several MB for 50,000 files); their paths are made again
    /// when the directory is reused.
    struct Node {
        private var names: [UInt8] = []
        private var nameEnds: [UInt32] = []
        private var merged: [Bool] = []
        private(set) var subdirectories: [String]
        private(set) var issues: [ScanIssue]
        private(set) var hasLinks: Bool
        /// Read again at every scan (see the type's description).
        var volatile: Bool

        /// `path`: the directory's path relative to the root, the prefix of every candidate's.
        init(listing: DirectoryWalker.Listing, path: String, volatile: Bool) {
            let skip = path.isEmpty ? 0 : path.utf8.count + 1
            names.reserveCapacity(listing.candidates.count * 16)
            nameEnds.reserveCapacity(listing.candidates.count)
            merged.reserveCapacity(listing.candidates.count)
            for c in listing.candidates {
                names.append(contentsOf: c.path.utf8.dropFirst(skip))
                nameEnds.append(UInt32(names.count))
                merged.append(c.merged)
            }
            subdirectories = listing.subdirectories
            issues = listing.issues
            hasLinks = listing.hasLinks
            self.volatile = volatile
        }

        var fileCount: Int { nameEnds.count }

        /// The files as the walker lists them (`path` and `rule` as given to `init` and `visit`).
        func candidates(path: String, rule: Int) -> [DirectoryWalker.Candidate] {
            var bytes = [UInt8](path.isEmpty ? "".utf8 : (path + "/").utf8)
            let prefixCount = bytes.count
            var out = [DirectoryWalker.Candidate]()
            out.reserveCapacity(nameEnds.count)
            var start = 0
            for (k, end) in nameEnds.enumerated() {
                let e = Int(end)
                bytes.removeSubrange(prefixCount...)
                bytes.append(contentsOf: names[start..<e])
                out.append(DirectoryWalker.Candidate(path: String(decoding: bytes, as: UTF8.self), rule: rule, merged: merged[k]))
                start = e
            }
            return out
        }
    }

    struct Previous {
        var root: String
        var rules: FileRules
        var cache: ObjectIdentifier?
        var cacheGeneration: Int
        var result: ScanResult
        /// Every candidate's digest is in the cache (none failed, vanished or too recent to cache).
        var reusable: Bool
    }

    /// Seconds between safety full walks.
    public var fullWalkInterval: Double

    private var watcher: DirectoryWatcher?
    private var nodes: [NodeKey: Node] = [:]
    /// The paths of `nodes`' directories, as of the last walk.
    private var nodePaths = Set<String>()
    private var hasVolatile = false
    /// Directories (paths relative to the root, "" for the root) to read again.
    private var dirty = Set<String>()
    /// Directories whose remembered listings (theirs and those below) must be forgotten: they
    /// were replaced, moved or removed, or a directory on the way to a rule's directory changed.
    private var forget = Set<String>()
    private var watchPaths: [Int32: Set<String>] = [:]
    private var pathWatch: [String: Int32] = [:]
    private var fullWalkReason: String?
    private var lastFullWalk: Double = 0
    private var previous: Previous?
    private var stopReason: String?
    private var pendingNotes: [String] = []
    /// No event since the last scan, whose result could have been reused.
    private var quiet = false
    private var reportedVolatile = Set<String>()

    /// Watching starts with the first scan. When inotify cannot be used at all, the tracker
    /// still works and every scan is a full walk (said in the first scan's notes).
    public init(fullWalkInterval: Double = 600) {
        self.fullWalkInterval = fullWalkInterval
        do {
            watcher = try DirectoryWatcher()
        } catch {
            pendingNotes.append("cannot watch for changes (\(error)): every scan walks the whole tree")
        }
    }

    /// Whether directories are being watched (false once watching had to stop).
    public var isWatching: Bool { watcher != nil }

    /// Makes the next scan a full walk.
    public func requestFullWalk(reason: String) {
        if fullWalkReason == nil { fullWalkReason = reason }
    }

    /// Test hook: at most this many watches (past it, the watcher behaves as at the kernel's limit).
    var watchLimit: Int {
        get { watcher?.watchLimit ?? 0 }
        set { watcher?.watchLimit = newValue }
    }

    // MARK: before a scan

    enum Plan {
        /// Nothing changed: this is the result.
        case reuse(ScanResult)
        /// Walk with `walk(rootFD:walker:)`.
        case walk
        /// No watching: a plain full walk.
        case plainWalk
    }

    /// Reads the queued events and decides what the scan must do.
    func begin(root: String, rules: FileRules, cache: ScanCache?) -> Plan {
        guard let watcher else {
            previous = nil
            return .plainWalk
        }
        let now = ChangeTracker.monotonicSeconds()
        if fullWalkReason == nil, let p = previous {
            if p.root != root || p.rules != rules || p.cache != cache.map(ObjectIdentifier.init) {
                fullWalkReason = "the root, the rules or the cache changed"
            } else if p.cacheGeneration != cache?.generation {
                fullWalkReason = "the cache was changed by another scan"
            } else if now - lastFullWalk >= fullWalkInterval {
                fullWalkReason = ChangeTracker.periodic
            }
        } else if previous == nil, fullWalkReason == nil {
            fullWalkReason = "first scan"
        }
        apply(watcher.drain(), rules: rules)
        quiet = previous?.reusable == true && !hasVolatile && dirty.isEmpty && forget.isEmpty
        if fullWalkReason == nil, quiet, let p = previous {
            var r = p.result
            r.stats.hashed = 0
            r.stats.bytesHashed = 0
            r.stats.fromCache = r.stats.files
            r.stats.statted = 0
            r.stats.directoriesRead = 0
            r.walk = .unchanged
            r.notes = takeNotes()
            return .reuse(r)
        }
        return .walk
    }

    private func apply(_ events: [DirectoryWatcher.Event], rules: FileRules) {
        typealias W = DirectoryWatcher
        let entryChange = W.inCreate | W.inDelete | W.inMovedFrom | W.inMovedTo
        let tops = rules.rules.map(\.directory)
        // Only what a walk reads matters: an event in a directory watched only because it leads
        // to a rule's directory (the root, `var`) dirties nothing, unless it is about that way.
        func markDirty(_ path: String) {
            if nodePaths.contains(path) { dirty.insert(path) }
        }
        func markForget(_ path: String, directory: Bool = true) {
            if tops.contains(where: { $0 == path || $0.hasPrefix(path + "/") })
                || directory && nodePaths.contains(where: { $0 == path || $0.hasPrefix(path + "/") }) {
                forget.insert(path)
            }
        }
        for e in events {
            if e.has(W.inOverflow) {
                fullWalkReason = "the event queue overflowed (fs.inotify.max_queued_events): full walk"
                pendingNotes.append(fullWalkReason!)
                continue
            }
            guard let paths = watchPaths[e.watch] else { continue }
            if e.has(W.inIgnored | W.inDeleteSelf | W.inMoveSelf | W.inUnmount) {
                // The directory went away (or its watch did): forget it and what was below it;
                // its parent shows what is there now.
                for p in paths {
                    markForget(p)
                    if let parent = ChangeTracker.parent(p) { markDirty(parent) }
                }
                if e.has(W.inIgnored) {
                    watchPaths.removeValue(forKey: e.watch)
                    for p in paths where pathWatch[p] == e.watch { pathWatch.removeValue(forKey: p) }
                }
                continue
            }
            for p in paths {
                markDirty(p)
                guard !e.name.isEmpty else { continue }
                let child = ChangeTracker.join(p, String(decoding: e.name, as: UTF8.self))
                if e.has(W.inIsDir) {
                    markDirty(child)
                }
                // A directory came, went or was replaced; or a rule's directory, or one on the way
                // to it (a symbolic link among them carries no IN_ISDIR).
                if e.has(entryChange) { markForget(child, directory: e.has(W.inIsDir)) }
            }
        }
        if !forget.isEmpty {
            nodes = nodes.filter { key, _ in !ChangeTracker.isAtOrBelow(key.path, any: forget) }
        }
    }

    private func takeNotes() -> [String] {
        defer { pendingNotes.removeAll() }
        return pendingNotes
    }

    // MARK: the walk

    struct Walk {
        var candidates: [DirectoryWalker.Candidate] = []
        /// Per candidate: its directory did not change, so the cache's entry for it (if any) is
        /// still its stamp and digest.
        var unchanged: [Bool] = []
        var issues: [ScanIssue] = []
        var directoriesRead = 0
        var full = false
    }

    /// Lists the candidates in the walker's order, reading only the directories that changed.
    func walk(rootFD: Int32, walker: DirectoryWalker) -> Walk {
        var w = Walk()
        if fullWalkReason != nil {
            nodes.removeAll()
            w.full = true
        }
        var newNodes = [NodeKey: Node]()
        var seen = Set<String>()
        hasVolatile = false
        for (i, rule) in walker.rules.rules.enumerated() {
            let top = rule.directory
            // The directories leading to the rule's directory: watched so that its creation,
            // removal or replacement is seen.
            var ancestors = [""]
            var at = ""
            for component in top.split(separator: "/").dropLast() {
                at = ChangeTracker.join(at, String(component))
                ancestors.append(at)
            }
            if top.isEmpty { ancestors.removeAll() }
            let topKnown = nodes[NodeKey(rule: i, path: top)] != nil
            var ancestorsWatched = true
            for a in ancestors {
                seen.insert(a)
                if topKnown && pathWatch[a] != nil { continue }
                let fd = a.isEmpty ? dup(rootFD) : openat(rootFD, a, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                guard fd >= 0 else { break }
                if !watch(fd: fd, path: a) { ancestorsWatched = false }
                close(fd)
            }
            // Without them, the rule's directories are all read at every scan.
            if !ancestorsWatched { hasVolatile = true }
            visit(rule: i, path: top, top: top, parentFD: -1, name: top, rootFD: rootFD, walker: walker,
                  forceRead: !ancestorsWatched, into: &w, newNodes: &newNodes, seen: &seen)
        }
        nodes = newNodes
        nodePaths = Set(newNodes.keys.map(\.path))
        dirty.removeAll()
        forget.removeAll()
        // Watches of directories no longer walked.
        for (path, wd) in pathWatch where !seen.contains(path) {
            pathWatch.removeValue(forKey: path)
            watchPaths[wd]?.remove(path)
        }
        for (wd, paths) in watchPaths where paths.isEmpty {
            watcher?.unwatch(wd)
            watchPaths.removeValue(forKey: wd)
        }
        return w
    }

    private func visit(rule i: Int, path: String, top: String, parentFD: Int32, name: String, rootFD: Int32,
                       walker: DirectoryWalker, forceRead: Bool, into w: inout Walk, newNodes: inout [NodeKey: Node],
                       seen: inout Set<String>) {
        let key = NodeKey(rule: i, path: path)
        seen.insert(path)
        if !forceRead, let node = nodes[key], !node.volatile, !dirty.contains(path) {
            newNodes[key] = node
            w.candidates.append(contentsOf: node.candidates(path: path, rule: i))
            w.unchanged.append(contentsOf: repeatElement(true, count: node.fileCount))
            w.issues.append(contentsOf: node.issues)
            let prefix = path.isEmpty ? "" : path + "/"
            for sub in node.subdirectories {
                visit(rule: i, path: prefix + sub, top: top, parentFD: -1, name: sub, rootFD: rootFD, walker: walker,
                      forceRead: false, into: &w, newNodes: &newNodes, seen: &seen)
            }
            return
        }
        let fd: Int32
        if path == top {
            // As the walker: the rule's directory is opened even through a symbolic link.
            fd = top.isEmpty ? dup(rootFD) : openat(rootFD, top, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        } else if parentFD >= 0 {
            fd = openat(parentFD, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        } else {
            fd = ChangeTracker.open(path, below: top, rootFD: rootFD)
        }
        guard fd >= 0 else { return }
        defer { close(fd) }
        // Watched before it is read: a change after the read is an event for the next scan.
        var volatile = !watch(fd: fd, path: path)
        if let fs = DirectoryWatcher.remoteFileSystem(of: fd) {
            volatile = true
            if reportedVolatile.insert("fs:" + path).inserted, reportedVolatile.insert("fs-type:" + fs).inserted {
                pendingNotes.append("\(path.isEmpty ? "." : path) is on \(fs), whose events miss changes made elsewhere: its directories are read at every scan")
            }
        }
        guard let listing = walker.list(fd: fd, relative: path, ruleIndex: i) else { return }
        w.directoriesRead += 1
        volatile = volatile || listing.hasLinks || forceRead
        if volatile { hasVolatile = true }
        newNodes[key] = Node(listing: listing, path: path, volatile: volatile)
        w.candidates.append(contentsOf: listing.candidates)
        w.unchanged.append(contentsOf: repeatElement(false, count: listing.candidates.count))
        w.issues.append(contentsOf: listing.issues)
        let prefix = path.isEmpty ? "" : path + "/"
        for sub in listing.subdirectories {
            visit(rule: i, path: prefix + sub, top: top, parentFD: fd, name: sub, rootFD: rootFD, walker: walker,
                  forceRead: forceRead, into: &w, newNodes: &newNodes, seen: &seen)
        }
    }

    /// Watches the directory open as `fd`; false when it is not watched (then it is read at
    /// every scan). Running out of watches stops watching after this scan.
    private func watch(fd: Int32, path: String) -> Bool {
        guard let watcher, stopReason == nil else { return false }
        switch watcher.watch(directoryFD: fd) {
        case .success(let wd):
            if let old = pathWatch[path], old != wd { watchPaths[old]?.remove(path) }
            pathWatch[path] = wd
            watchPaths[wd, default: []].insert(path)
            return true
        case .failure(.noWatchesLeft):
            stopReason = "no inotify watches left (fs.inotify.max_user_watches): watching stopped, every scan walks the whole tree until the daemon restarts"
            return false
        case .failure(.failed(let err)):
            if reportedVolatile.insert("watch:" + path).inserted {
                pendingNotes.append("cannot watch \(path.isEmpty ? "." : path) (\(errnoDescription(err))): it is read at every scan")
            }
            return false
        }
    }

    // MARK: after a scan

    /// Remembers the scan's result; `reusable` when every candidate's digest is in the cache.
    func finish(_ result: inout ScanResult, root: String, rules: FileRules, cache: ScanCache?, walk: Walk,
                reusable: Bool) {
        if walk.full {
            // A periodic walk after a quiet interval finds what events should have said (events
            // that arrived during the walk make the difference expected).
            if fullWalkReason == ChangeTracker.periodic, quiet, let p = previous, let watcher {
                let late = watcher.drain()
                apply(late, rules: rules)
                if late.isEmpty && p.result.snapshot != result.snapshot {
                    pendingNotes.append("a periodic full walk found changes that no event reported: the file system may not report every change")
                }
            }
            result.walk = .full(fullWalkReason)
            fullWalkReason = nil
            lastFullWalk = ChangeTracker.monotonicSeconds()
        } else {
            result.walk = .changes
        }
        if let reason = stopReason {
            pendingNotes.append(reason)
            watcher = nil
            nodes.removeAll()
            nodePaths.removeAll()
            watchPaths.removeAll()
            pathWatch.removeAll()
            previous = nil
        } else {
            previous = Previous(root: root, rules: rules, cache: cache.map(ObjectIdentifier.init),
                                cacheGeneration: cache?.generation ?? 0, result: result, reusable: reusable && cache != nil)
        }
        result.notes = takeNotes()
    }

    static let periodic = "periodic full walk"

    /// After a scan without watching: its notes.
    func finishPlain(_ result: inout ScanResult) {
        result.walk = .full("not watching")
        result.notes = takeNotes()
    }

    // MARK: paths

    static func join(_ dir: String, _ name: String) -> String { dir.isEmpty ? name : dir + "/" + name }

    static func parent(_ path: String) -> String? {
        guard !path.isEmpty else { return nil }
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    /// Whether `path` is one of `dirs` or below one of them.
    static func isAtOrBelow(_ path: String, any dirs: Set<String>) -> Bool {
        if dirs.contains("") { return true }
        var p: String? = path
        while let q = p, !q.isEmpty {
            if dirs.contains(q) { return true }
            p = parent(q)
        }
        return false
    }

    /// Opens `path` (a directory below the rule's directory `top`) as the walker reaches it: the
    /// rule's directory through symbolic links, the rest without.
    static func open(_ path: String, below top: String, rootFD: Int32) -> Int32 {
        var fd = top.isEmpty ? dup(rootFD) : openat(rootFD, top, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        let rest = path.utf8.dropFirst(top.isEmpty ? 0 : top.utf8.count + 1)
        for component in rest.split(separator: UInt8(ascii: "/")) where fd >= 0 {
            let next = openat(fd, String(decoding: component, as: UTF8.self), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
            close(fd)
            fd = next
        }
        return fd
    }

    static func monotonicSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}
