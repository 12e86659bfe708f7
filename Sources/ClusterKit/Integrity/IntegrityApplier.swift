#if canImport(Glibc)
import Glibc
#endif

/// Who should own the files a worker writes (the reference chowns to wazuh:wazuh).
public struct FileOwner: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32

    public init(uid: UInt32, gid: UInt32) {
        self.uid = uid
        self.gid = gid
    }

    /// Parses `USER[:GROUP]` (names or numbers); the group defaults to the user's primary group.
    public static func parse(_ text: String) throws -> FileOwner {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let userText = parts.first, !userText.isEmpty else { throw ClusterError.usage("--owner takes USER[:GROUP], got '\(text)'") }
        var uid: UInt32, gid: UInt32
        if let n = UInt32(userText) {
            uid = n
            gid = getpwuid(n).map { $0.pointee.pw_gid } ?? n
        } else {
            guard let pw = getpwnam(userText) else { throw ClusterError.usage("--owner: no user named '\(userText)'") }
            uid = pw.pointee.pw_uid
            gid = pw.pointee.pw_gid
        }
        if parts.count == 2 {
            let g = parts[1]
            if let n = UInt32(g) {
                gid = n
            } else {
                guard let gr = getgrnam(g) else { throw ClusterError.usage("--owner: no group named '\(g)'") }
                gid = gr.pointee.gr_gid
            }
        }
        return FileOwner(uid: uid, gid: gid)
    }
}

/// How staged data is made durable before the first rename.
public enum Durability: String, Sendable, Equatable {
    /// One `syncfs(2)` of the staging file system (and one after the renames): the same
    /// guarantee as an fsync per file, at the cost of one flush instead of thousands.
    case syncfs
    /// `fsync(2)` of every staged file and of every directory a file was renamed into.
    case fsyncEachFile = "fsync"
    /// No flushing (tests, scratch trees).
    case none
}

public struct ApplyOptions: Sendable {
    /// Read and verify everything, report the plan, change nothing.
    public var dryRun = false
    public var owner: FileOwner?
    public var deletionGuard = DeletionGuard()
    public var limits = ContainerLimits()
    /// Where the staging directory is made; the root by default (the same file system, so
    /// staged files are renamed into place without copying).
    public var stagingParent: String?
    public var durability = Durability.syncfs

    public init() {}
}

/// Applies the master's container to a worker's tree (the reference's
/// `update_master_files_in_worker`, sync spec §4.6), safely:
///
/// 1. The whole container is read and every entry is inflated into a private staging directory
///    (`StagingArea`); the metadata must be a classification.
/// 2. Every path the container or its metadata names is checked before anything changes:
///    a plain relative path (`SafePath`), selected by the rule its record names, resolving
///    inside the root without crossing a symlink that leads out. The deletion guard runs on the
///    classification against the files here now.
/// 3. Staged data is made durable, then each missing or shared file is renamed over its target
///    (created with parents 0770 if needed) after its mode is set to the rule's permissions and
///    its owner to `owner`; extra files are unlinked; emptied subdirectories are removed where the
///    rule says so (never the rule's own directory).
///
/// A failure in 1 or 2 throws, removes the staging directory and leaves the root exactly as it
/// was. A failure in 3 is per file: it is reported in `ApplyReport.errors` and the rest goes on,
/// as in the reference.
public struct IntegrityApplier: Sendable {
    public let root: String
    public let rules: FileRules
    public var options: ApplyOptions

    public init(root: String, rules: FileRules = .reference, options: ApplyOptions = ApplyOptions()) {
        self.root = root
        self.rules = rules
        self.options = options
    }

    /// Applies a container file (what the worker daemon received).
    public func apply(containerAt path: String) throws -> ApplyReport {
        let fd = try FileIO.openForReading(path)
        defer { close(fd) }
        return try apply(from: FileDescriptorSource(fd: fd))
    }

    /// Applies a container read from `source`. `progress` gets the container bytes read so far.
    public func apply(from source: ByteSource, progress: ((Int) -> Void)? = nil) throws -> ApplyReport {
        let realRoot = try SafePath.realPath(root)
        let staging = try StagingArea(parent: options.stagingParent ?? realRoot, discard: options.dryRun)
        defer { staging.remove() }

        let contents = try ContainerReader.read(from: source, limits: options.limits, consumer: staging, progress: progress)
        let classification: Classification
        do {
            classification = try Classification.parse(contents.metadata, source: "files_metadata.json")
        } catch let e as ClusterError {
            throw ClusterError.badData("container: its metadata is not a classification: \(e.message)")
        }
        let plan = try validate(classification, realRoot: realRoot)
        try options.deletionGuard.check(classification,
                                         localCounts: try Scanner(root: root, rules: rules).countFiles())

        var report = ApplyReport()
        report.dryRun = options.dryRun
        let listed = Set(plan.writes.map(\.path))
        report.ignored = contents.entries.filter { !listed.contains($0) }
        if options.dryRun {
            for w in plan.writes {
                if staging.staged[w.path] == nil {
                    report.errors.append(ApplyIssue(path: w.path, action: "missing_entry", message: "the container has no data for it"))
                } else if exists(w.target) {
                    report.updated.append(w.path)
                } else {
                    report.created.append(w.path)
                }
            }
            for d in plan.deletes where exists(d.target) { report.deleted.append(d.path) }
            return report
        }

        if options.durability != .none { try staging.makeDurable(perFile: options.durability == .fsyncEachFile) }
        var touchedDirectories = Set<String>()
        for w in plan.writes {
            guard let staged = staging.staged[w.path] else {
                report.errors.append(ApplyIssue(path: w.path, action: "missing_entry", message: "the container has no data for it"))
                continue
            }
            let existed = exists(w.target)
            do {
                try install(staged.file, path: w.path, mode: w.rule.permissions, realRoot: realRoot)
                if existed { report.updated.append(w.path) } else { report.created.append(w.path) }
                touchedDirectories.insert(FileIO.parentDirectory(of: w.target))
            } catch let e as ClusterError {
                report.errors.append(ApplyIssue(path: w.path, action: existed ? "update" : "create", message: e.message))
            }
        }
        var emptiedCandidates = Set<String>()
        for d in plan.deletes {
            do {
                // Resolved again: the writes above may have changed the tree.
                let target = try SafePath.resolve(d.path, under: realRoot)
                var st = stat()
                guard lstat(target, &st) == 0 else {
                    let err = errno
                    if err != ENOENT && err != ENOTDIR {
                        report.errors.append(ApplyIssue(path: d.path, action: "delete", message: errnoDescription(err)))
                    }
                    continue
                }
                guard (st.st_mode & S_IFMT) != S_IFDIR else {
                    report.errors.append(ApplyIssue(path: d.path, action: "delete", message: "is a directory; not removed"))
                    continue
                }
                guard unlink(target) == 0 else {
                    report.errors.append(ApplyIssue(path: d.path, action: "delete", message: errnoDescription(errno)))
                    continue
                }
                report.deleted.append(d.path)
                touchedDirectories.insert(FileIO.parentDirectory(of: target))
                if d.rule.removeSubdirsIfEmpty {
                    let parent = FileIO.parentDirectory(of: d.path)
                    if parent != d.rule.directory && parent != "." { emptiedCandidates.insert(parent) }
                }
            } catch let e as ClusterError {
                report.errors.append(ApplyIssue(path: d.path, action: "delete", message: e.message))
            }
        }
        // Deepest first, as the reference sorts them (then by name, so that the report's order
        // does not vary from run to run); a parent is not revisited.
        let deepestFirst = emptiedCandidates.sorted {
            $0.utf8.count != $1.utf8.count ? $0.utf8.count > $1.utf8.count : $0 < $1
        }
        for dir in deepestFirst {
            removeIfEmpty(dir, realRoot: realRoot, report: &report)
        }
        switch options.durability {
        case .none: break
        case .syncfs:
            let f = open(realRoot, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if f >= 0 { _ = FileIO.syncFileSystem(f); close(f) }
        case .fsyncEachFile:
            for dir in touchedDirectories { FileIO.syncDirectory(dir) }
        }
        return report
    }

    struct Planned {
        var path: String
        var target: String
        var rule: FileRule
    }

    struct Plan {
        var writes: [Planned] = []
        var deletes: [Planned] = []
    }

    /// Checks every path of the classification; throws on the first bad one.
    func validate(_ c: Classification, realRoot: String) throws -> Plan {
        var plan = Plan()
        for item in try c.allPaths() {
            try SafePath.validateRelative(item.path)
            guard let rule = rules.rule(forKey: item.record.clusterItemKey) else {
                throw ClusterError.badData("refused path \(SafePath.quoted(item.path)): its cluster_item_key \(SafePath.quoted(item.record.clusterItemKey)) names no rule")
            }
            guard rules.selects(path: item.path, rule: rule) else {
                throw ClusterError.badData("refused path \(SafePath.quoted(item.path)): rule \(SafePath.quoted(rule.key)) does not select it")
            }
            let target = try SafePath.resolve(item.path, under: realRoot)
            let planned = Planned(path: item.path, target: target, rule: rule)
            if item.group == "extra" { plan.deletes.append(planned) } else { plan.writes.append(planned) }
        }
        return plan
    }

    private func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Moves a staged file over its target: parents created (0770), mode and owner set on the
    /// staged file, then one atomic rename. Across file systems the file is first copied to a
    /// temporary name next to the target.
    private func install(_ staged: String, path: String, mode: UInt16, realRoot: String) throws {
        let target = try SafePath.resolve(path, under: realRoot)
        let parent = FileIO.parentDirectory(of: target)
        try FileIO.makeDirectories(parent, mode: 0o770)
        // The parents may have just been created: check again that nothing leads out.
        let checked = try SafePath.resolve(path, under: realRoot)
        guard checked == target else {
            throw ClusterError.badData("refused path \(SafePath.quoted(path)): it changed while being written")
        }
        guard chmod(staged, mode_t(mode)) == 0 else { throw ClusterError.io("cannot set the mode of \(staged): \(errnoDescription(errno))") }
        if let owner = options.owner {
            guard chown(staged, owner.uid, owner.gid) == 0 else {
                throw ClusterError.io("cannot give \(path) to \(owner.uid):\(owner.gid): \(errnoDescription(errno))")
            }
        }
        var st = stat()
        if lstat(target, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            throw ClusterError.io("\(path) is a directory here; not replaced")
        }
        if rename(staged, target) == 0 { return }
        let err = errno
        guard err == EXDEV else { throw ClusterError.io("cannot rename into \(path): \(errnoDescription(err))") }
        let tmp = SafePath.join(parent, ".\(FileIO.baseName(of: target)).cl-tmp-\(getpid())")
        try copyFile(staged, to: tmp, mode: mode)
        if let owner = options.owner { _ = chown(tmp, owner.uid, owner.gid) }
        guard rename(tmp, target) == 0 else {
            let e = errno
            unlink(tmp)
            throw ClusterError.io("cannot rename into \(path): \(errnoDescription(e))")
        }
    }

    private func copyFile(_ from: String, to: String, mode: UInt16) throws {
        let src = try FileIO.openForReading(from)
        defer { close(src) }
        let dst = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard dst >= 0 else { throw ClusterError.io("cannot create \(to): \(errnoDescription(errno))") }
        var ok = false
        defer {
            close(dst)
            if !ok { unlink(to) }
        }
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buf.deallocate() }
        while true {
            let n = read(src, buf.baseAddress, buf.count)
            if n < 0 { if errno == EINTR { continue }; throw ClusterError.io("cannot read \(from): \(errnoDescription(errno))") }
            if n == 0 { break }
            try FileIO.writeFully(dst, UnsafeRawBufferPointer(rebasing: buf[0..<n]))
        }
        guard fchmod(dst, mode_t(mode)) == 0, fsync(dst) == 0 else {
            throw ClusterError.io("cannot finish \(to): \(errnoDescription(errno))")
        }
        ok = true
    }

    /// Removes `dir` (relative) when it holds nothing, or only names from `excluded_files`.
    private func removeIfEmpty(_ dir: String, realRoot: String, report: inout ApplyReport) {
        guard let target = try? SafePath.resolve(dir, under: realRoot) else { return }
        var st = stat()
        guard lstat(target, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return }
        guard let d = opendir(target) else { return }
        var names = [String]()
        while let ent = readdir(d) {
            let name = withUnsafePointer(to: &ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(d)
        guard names.allSatisfy({ rules.excludedFiles.contains($0) }) else { return }
        for n in names {
            let p = SafePath.join(target, n)
            var s = stat()
            guard lstat(p, &s) == 0, (s.st_mode & S_IFMT) != S_IFDIR, unlink(p) == 0 else {
                report.errors.append(ApplyIssue(path: SafePath.join(dir, n), action: "remove_dir", message: "cannot remove it to empty \(dir)"))
                return
            }
        }
        if rmdir(target) == 0 {
            report.removedDirectories.append(dir)
        } else {
            report.errors.append(ApplyIssue(path: dir, action: "remove_dir", message: errnoDescription(errno)))
        }
    }
}

/// Extracts a container into a directory (`cl-integrity unpack`): every entry under its path and
/// the metadata as `files_metadata.json`, with the same staging, verification and path checks as
/// the applier. Files get mode 0640, directories 0750.
public enum ContainerUnpacker {
    public static func unpack(from source: ByteSource, into directory: String,
                              limits: ContainerLimits = ContainerLimits(),
                              progress: ((Int) -> Void)? = nil) throws -> UnpackReport {
        try FileIO.makeDirectories(directory, mode: 0o750)
        let realDir = try SafePath.realPath(directory)
        let staging = try StagingArea(parent: realDir, discard: false)
        defer { staging.remove() }
        let contents = try ContainerReader.read(from: source, limits: limits, consumer: staging, progress: progress)
        try validateMetadataPaths(contents.metadata)
        var targets = [(String, String)]()
        for path in contents.entries {
            guard path != ContainerFormat.metadataName else { continue }
            targets.append((path, try SafePath.resolve(path, under: realDir)))
        }
        var report = UnpackReport()
        for (path, target) in targets {
            guard let staged = staging.staged[path] else { continue }
            try FileIO.makeDirectories(FileIO.parentDirectory(of: target), mode: 0o750)
            guard try SafePath.resolve(path, under: realDir) == target else {
                throw ClusterError.badData("refused path \(SafePath.quoted(path)): it changed while being written")
            }
            guard chmod(staged.file, 0o640) == 0, rename(staged.file, target) == 0 else {
                throw ClusterError.io("cannot write \(target): \(errnoDescription(errno))")
            }
            report.entries.append(path)
            report.bytes += staged.size
        }
        let metadataPath = SafePath.join(realDir, ContainerFormat.metadataName)
        try FileIO.writeAtomically(contents.metadata, to: metadataPath, mode: 0o640)
        report.metadataPath = metadataPath
        return report
    }

    /// The metadata must be JSON; when it is a classification or a snapshot, every path in it
    /// must be a plain relative path.
    static func validateMetadataPaths(_ metadata: [UInt8]) throws {
        if let c = try? Classification.parse(metadata) {
            for item in try c.allPaths() { try SafePath.validateRelative(item.path) }
        } else if let s = try? Snapshot.parse(metadata) {
            for p in s.paths { try SafePath.validateRelative(p) }
        } else {
            _ = try JSON.parse(metadata, source: "files_metadata.json")
        }
    }
}
