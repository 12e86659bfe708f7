#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation

/// A file the scan left out, and why (the reference logs these and leaves the file out too).
public struct ScanIssue: Sendable, Equatable {
    public var path: String
    public var message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
}

/// What a scan did.
public struct ScanStats: Sendable, Equatable {
    /// Files in the snapshot.
    public var files = 0
    /// Files read and hashed in this scan.
    public var hashed = 0
    /// Files whose digest came from the cache (not read).
    public var fromCache = 0
    /// Bytes read for hashing.
    public var bytesHashed = 0
    /// Candidates left out (vanished, unreadable, not a regular file).
    public var skipped = 0
    /// Files `stat`ed. With change tracking, files in directories that did not change are not.
    public var statted = 0
    /// Directories read (`readdir`).
    public var directoriesRead = 0

    public func toJSON() -> JSON {
        ["files": JSON(files), "hashed": JSON(hashed), "from_cache": JSON(fromCache),
         "bytes_hashed": JSON(bytesHashed), "skipped": JSON(skipped)]
    }
}

/// How a scan found its files.
public enum ScanWalk: Sendable, Equatable {
    /// Every directory was read: no change tracking, or its first scan, or a fallback (the reason).
    case full(String?)
    /// Only the directories that changed were read again.
    case changes
    /// Nothing changed: the previous result, with no directory read and no file stat'ed.
    case unchanged
}

public struct ScanResult: Sendable {
    public var snapshot: Snapshot
    public var stats: ScanStats
    public var issues: [ScanIssue]
    public var walk: ScanWalk = .full(nil)
    /// What change tracking has to report: fallbacks to full walks, directories read at every scan.
    public var notes: [String] = []
}

/// Computes the reference's integrity snapshot of a root under the file rules (sync spec §3):
/// the same files, keys, records and BLAKE2b-512 digests as `get_files_status()`.
///
/// The directory walk is single-threaded; stat and hashing run on `Options.threads` threads
/// (both cores by default), each reading files with `read(2)` into its own buffer. With a
/// `ScanCache`, a file whose stamp (size, inode, device, mtime, ctime) is unchanged is not read.
public struct Scanner: Sendable {
    public struct Options: Sendable {
        /// Threads that stat and hash files.
        public var threads: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
        /// Files changed (mtime or ctime) less than this long before the scan started are hashed
        /// but not cached: a second write within the same timestamp tick would leave every
        /// stamp field as it was. 2 s covers every file system's timestamp granularity.
        public var racyWindowNanoseconds: Int64 = 2_000_000_000
        /// Called from worker threads with (files done, files total).
        public var progress: (@Sendable (Int, Int) -> Void)?

        public init() {}
    }

    public let root: String
    public let rules: FileRules
    public var options: Options

    public init(root: String, rules: FileRules = .reference, options: Options = Options()) {
        self.root = root
        self.rules = rules
        self.options = options
    }

    /// Scans the root. With `cache`, unchanged files are taken from it and the cache is updated
    /// in memory to this scan's files; `cache.changed` then says whether it needs saving
    /// (`ScanCache.save(to:)`). With `changes` (and the same cache at every scan), only the
    /// directories that changed since the previous scan are read and their files stat'ed; the
    /// result is the one a full walk would give.
    public func scan(cache: ScanCache? = nil, changes: ChangeTracker? = nil) throws -> ScanResult {
        let rootFD = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else {
            let err = errno
            if err == ENOENT { throw ClusterError.noInput("root \(root) does not exist") }
            throw ClusterError.io("cannot open root \(root): \(errnoDescription(err))")
        }
        defer { close(rootFD) }

        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let scanStart = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)

        var walker = DirectoryWalker(rootFD: rootFD, rules: rules)
        let candidates: [DirectoryWalker.Candidate]
        var issues: [ScanIssue]
        var directoriesRead: Int
        var tracked: ChangeTracker.Walk?
        switch changes?.begin(root: root, rules: rules, cache: cache) {
        case .reuse(let previous)?:
            return previous
        case .walk?:
            let w = changes!.walk(rootFD: rootFD, walker: walker)
            candidates = w.candidates
            issues = w.issues
            directoriesRead = w.directoriesRead
            tracked = w
        case .plainWalk?, nil:
            candidates = walker.walk()
            issues = walker.issues
            directoriesRead = walker.directoriesRead
        }
        let unchanged = tracked?.unchanged
        let paths = candidates.map(\.path)
        let cacheIndex = cache?.match(paths) ?? []

        let n = candidates.count
        let work = ScanWork(count: n)
        defer { work.deallocate() }
        let algorithm = Blake2bAlgorithm()
        let chunk = 256
        let chunks = (n + chunk - 1) / chunk
        let racy = scanStart - options.racyWindowNanoseconds
        let progress = options.progress
        let counter = ProgressCounter()
        let cacheRef = cache
        let rulesRef = rules
        let rootPrefix = root.hasSuffix("/") ? root : root + "/"
        let body: @Sendable (Int) -> Void = { c in
            let hasher = FileHasher(algorithm: algorithm)
            let lo = c * chunk, hi = min(n, lo + chunk)
            for i in lo..<hi {
                let candidate = candidates[i]
                work.process(i, path: candidate.path, rootFD: rootFD, cache: cacheRef,
                             cacheIndex: cacheIndex.isEmpty ? -1 : cacheIndex[i], unchanged: unchanged?[i] ?? false,
                             racyBefore: racy, hasher: hasher)
                work.makeRecord(i, candidate: candidate, ruleKey: rulesRef.rules[candidate.rule].key, rootPrefix: rootPrefix)
            }
            if let progress { progress(counter.add(hi - lo), n) }
        }
        if options.threads <= 1 || chunks <= 1 {
            for c in 0..<chunks { body(c) }
        } else {
            DispatchQueue.concurrentPerform(iterations: chunks, execute: body)
        }

        // Assemble in walk order: the records with their digests as bytes (no hex strings).
        var snapshot = Snapshot(minimumCapacity: n)
        let overlap = walker.rulesOverlap
        var stats = ScanStats()
        stats.directoriesRead = directoriesRead
        // The cache changes when the entries kept (cacheable files, in order) differ from it.
        var cacheChanged = false
        var kept = 0
        for i in 0..<n {
            let slot = work.slots[i]
            if slot.statted { stats.statted += 1 }
            switch slot.state {
            case .hashed, .cached:
                if overlap {
                    snapshot.set(paths[i], work.records[i]!, digest: work.digest(i).baseAddress!)
                } else {
                    snapshot.appendUnique(paths[i], work.records[i]!, digest: work.digest(i).baseAddress!)
                }
                if slot.state == .hashed {
                    stats.hashed += 1
                    stats.bytesHashed += slot.bytesRead
                } else {
                    stats.fromCache += 1
                }
                if slot.cacheable {
                    if slot.state == .hashed || cacheIndex[i] != kept { cacheChanged = true }
                    kept += 1
                }
            case .vanished, .pending:
                stats.skipped += 1
            case .failed:
                stats.skipped += 1
                issues.append(ScanIssue(path: paths[i], message: work.messages[i] ?? "failed"))
            }
        }
        if let cache, kept != cache.count { cacheChanged = true }
        stats.files = snapshot.count
        if let cache, cacheChanged {
            var keepPaths = [String](), keepStamps = [FileStamp](), keepDigests = [UInt8]()
            keepPaths.reserveCapacity(n)
            keepStamps.reserveCapacity(n)
            keepDigests.reserveCapacity(n * 64)
            for i in 0..<n where work.slots[i].cacheable && (work.slots[i].state == .hashed || work.slots[i].state == .cached) {
                keepPaths.append(paths[i])
                keepStamps.append(work.slots[i].stamp)
                keepDigests.append(contentsOf: work.digest(i))
            }
            cache.replace(paths: keepPaths, stamps: keepStamps, digests: keepDigests)
        }
        var result = ScanResult(snapshot: snapshot, stats: stats, issues: issues)
        if let changes {
            if let tracked {
                // Reusable next time when every candidate's digest is in the cache now.
                let reusable = stats.skipped == 0 && kept == n
                changes.finish(&result, root: root, rules: rules, cache: cache, walk: tracked, reusable: reusable)
            } else {
                changes.finishPlain(&result)
            }
        }
        return result
    }

    /// The number of files each rule selects now, by rule key (a walk and a stat per file, no
    /// reading): the deletion guard's denominator on a worker.
    public func countFiles() throws -> [String: Int] {
        let rootFD = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else {
            let err = errno
            if err == ENOENT { throw ClusterError.noInput("root \(root) does not exist") }
            throw ClusterError.io("cannot open root \(root): \(errnoDescription(err))")
        }
        defer { close(rootFD) }
        var walker = DirectoryWalker(rootFD: rootFD, rules: rules)
        var counts = [String: Int]()
        var seen = [String: String]()
        for c in walker.walk() {
            var st = stat()
            guard fstatat(rootFD, c.path, &st, 0) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            // A path two rules select belongs to the later one, as in the snapshot.
            if let earlier = seen[c.path] { counts[earlier, default: 0] -= 1 }
            let key = rules.rules[c.rule].key
            seen[c.path] = key
            counts[key, default: 0] += 1
        }
        return counts
    }
}

/// Per-candidate results, written by the worker threads (each index by exactly one thread) and
/// read after they have all finished.
final class ScanWork: @unchecked Sendable {
    enum State: UInt8 { case pending, hashed, cached, vanished, failed }
    struct Slot {
        var state: State = .pending
        var cacheable = false
        var bytesRead = 0
        var statted = false
        var stamp = FileStamp(device: 0, inode: 0, size: 0, mtimeSeconds: 0, mtimeNanoseconds: 0, ctimeSeconds: 0, ctimeNanoseconds: 0)
    }

    let slots: UnsafeMutableBufferPointer<Slot>
    let digests: UnsafeMutableRawBufferPointer
    let messages: UnsafeMutableBufferPointer<String?>
    let records: UnsafeMutableBufferPointer<FileRecord?>

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: Slot())
        digests = .allocate(byteCount: max(1, count * 64), alignment: 8)
        messages = .allocate(capacity: count)
        messages.initialize(repeating: nil)
        records = .allocate(capacity: count)
        records.initialize(repeating: nil)
    }

    func deallocate() {
        slots.deallocate()
        digests.deallocate()
        _ = messages.deinitialize()
        messages.deallocate()
        _ = records.deinitialize()
        records.deallocate()
    }

    /// Builds the record of a file that was hashed or found in the cache (its hash is left empty:
    /// the snapshot takes the digest's bytes).
    func makeRecord(_ i: Int, candidate: DirectoryWalker.Candidate, ruleKey: String, rootPrefix: String) {
        let slot = slots[i]
        guard slot.state == .hashed || slot.state == .cached else { return }
        let merged = candidate.merged
        records[i] = FileRecord(
            modTime: FileRecord.pythonModTime(seconds: slot.stamp.mtimeSeconds, nanoseconds: slot.stamp.mtimeNanoseconds),
            clusterItemKey: ruleKey, merged: merged,
            mergeType: merged ? "TYPE" : nil, mergeName: merged ? rootPrefix + candidate.path : nil,
            hash: "")
    }

    func digest(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: digests[(i * 64)..<(i * 64 + 64)])
    }

    /// `unchanged`: change tracking says the file's directory did not change since the scan that
    /// made the cache, so its cache entry, if it has one, is its stamp now (no `stat`).
    func process(_ i: Int, path: String, rootFD: Int32, cache: ScanCache?, cacheIndex: Int, unchanged: Bool,
                 racyBefore: Int64, hasher: FileHasher) {
        if unchanged, let cache, cacheIndex >= 0 {
            let stamp = cache.stamp(at: cacheIndex)
            slots[i].stamp = stamp
            slots[i].cacheable = stamp.lastChangeNanoseconds < racyBefore
            cache.copyDigest(at: cacheIndex, to: digests.baseAddress! + i * 64)
            slots[i].state = .cached
            return
        }
        slots[i].statted = true
        var st = stat()
        if fstatat(rootFD, path, &st, 0) != 0 {
            let err = errno
            if err == ENOENT || err == ENOTDIR {
                slots[i].state = .vanished
            } else {
                fail(i, "cannot stat: \(errnoDescription(err))")
            }
            return
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            fail(i, "not a regular file; skipped")
            return
        }
        let stamp = FileStamp(st)
        slots[i].stamp = stamp
        slots[i].cacheable = stamp.lastChangeNanoseconds < racyBefore
        if let cache, cacheIndex >= 0, cache.stamp(at: cacheIndex) == stamp {
            cache.copyDigest(at: cacheIndex, to: digests.baseAddress! + i * 64)
            slots[i].state = .cached
            return
        }
        let fd = openat(rootFD, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT { slots[i].state = .vanished } else { fail(i, "cannot open: \(errnoDescription(err))") }
            return
        }
        defer { close(fd) }
        switch hasher.hash(fd: fd, into: digests.baseAddress! + i * 64) {
        case .success(let n):
            slots[i].state = .hashed
            slots[i].bytesRead = n
        case .failure(let e):
            fail(i, "cannot read: \(e.description)")
        }
    }

    private func fail(_ i: Int, _ message: String) {
        slots[i].state = .failed
        messages[i] = message
    }
}

/// A counter shared by the scan threads for progress reports.
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add(_ n: Int) -> Int {
        lock.lock(); defer { lock.unlock() }
        value += n
        return value
    }
}
