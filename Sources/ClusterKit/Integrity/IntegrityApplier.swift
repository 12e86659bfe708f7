#if canImport(Glibc)
import Glibc
#endif
import Foundation

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
    /// Threads that create and write the staged files (the container is read and inflated on
    /// the calling thread); the tree and the report are the same for any number.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// The staging's bounds (tests make them tiny to exercise them); `threads` and
    /// `durability` set the rest.
    var staging = StagingArea.Options()

    public init() {}
}

/// Applies the master's container to a worker's tree (the reference's
/// `update_master_files_in_worker`, sync spec §4.6), safely:
///
/// 1. The whole container is read and every entry is inflated into a private staging directory
///    (`StagingArea`; the files are created and written on `threads` threads while the calling
///    thread reads and inflates); the metadata must be a classification.
/// 2. Every path the container or its metadata names is checked before anything changes:
///    a plain relative path (`SafePath`), selected by the rule its record names, resolving
///    inside the root without crossing a symlink that leads out. The deletion guard runs on the
///    classification against the files here now. Every entry to be written must match the
///    BLAKE2b-512 hash its metadata record names (`EntryDigests`; the reference never checks
///    it): one that does not refuses the whole container. Every staged file is written and verified.
/// 3. Staged data is made durable, then each missing or shared file, in the classification's
///    order, is renamed over its target (created with parents 0770 if needed) after its mode is
///    set to the rule's permissions and its owner to `owner`; extra files are unlinked; emptied
///    subdirectories are removed where the rule says so (never the rule's own directory).
///
/// A failure in 1 or 2 throws, removes the staging directory and leaves the root exactly as it
/// was. A failure in 3 is per file: it is reported in `ApplyReport.errors` and the rest goes on,
/// as in the reference.
///
/// Nothing is held per file but the metadata (the classification) and the container's entry
/// names: staged files are found by their directory, and paths are resolved a directory at a time.
public struct IntegrityApplier: Sendable {
    public let root: String
    public let rules: FileRules
    public var options: ApplyOptions

    public init(root: String, rules: FileRules = .reference, options: ApplyOptions = ApplyOptions()) {
        self.root = root
        self.rules = rules
        self.options = options
    }

    /// Removes the staging directories that applies which died (kill -9, power loss) left in
    /// `parent`; a running apply's is left alone (see `StagingArea`). Every apply does this in
    /// its own staging parent first; the worker daemon does it in its root at start. Returns the
    /// names removed.
    @discardableResult
    public static func removeAbandonedStaging(in parent: String) -> [String] {
        StagingArea.removeStale(in: parent)
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
        var stagingOptions = options.staging
        stagingOptions.threads = options.threads
        stagingOptions.syncEachFile = options.durability == .fsyncEachFile
        if !options.dryRun { IntegrityApplier.removeAbandonedStaging(in: options.stagingParent ?? realRoot) }
        let staging = try StagingArea(parent: options.stagingParent ?? realRoot, discard: options.dryRun,
                                      options: stagingOptions)
        defer { staging.remove() }

        let digests = EntryDigests(forwardingTo: staging)
        var contents = try ContainerReader.read(from: source, limits: options.limits, consumer: digests, progress: progress)
        let classification: Classification
        do {
            classification = try Classification.parse(contents.metadata, source: "files_metadata.json")
        } catch let e as ClusterError {
            throw ClusterError.badData("container: its metadata is not a classification: \(e.message)")
        }
        contents.metadata = []
        var directories = TargetDirectories(realRoot: realRoot)
        try validate(classification, directories: &directories)
        try digests.verify(classification)
        try options.deletionGuard.check(classification,
                                         localCounts: try Scanner(root: root, rules: rules).countFiles())
        try staging.finishWriting()

        var report = ApplyReport()
        report.dryRun = options.dryRun
        report.ignored = contents.entries.filter { !classification.missing.contains($0) && !classification.shared.contains($0) }
        let writes = [classification.missing, classification.shared]
        if options.dryRun {
            for group in writes {
                for (path, _) in group {
                    if !contents.contains(entry: path) {
                        report.errors.append(ApplyIssue(path: path, action: "missing_entry", message: "the container has no data for it"))
                    } else if exists(try directories.resolve(path)) {
                        report.updated.append(path)
                    } else {
                        report.created.append(path)
                    }
                }
            }
            for (path, _) in classification.extra {
                if exists(try directories.resolve(path)) { report.deleted.append(path) }
            }
            return report
        }

        if options.durability != .none { try staging.makeDurable() }
        var touchedDirectories = Set<String>()
        for group in writes {
            for (path, record) in group {
                guard contents.contains(entry: path), let staged = try staging.openStaged(for: path) else {
                    report.errors.append(ApplyIssue(path: path, action: "missing_entry", message: "the container has no data for it"))
                    continue
                }
                // Validated: the rule exists.
                let mode = rules.rule(forKey: record.clusterItemKey)?.permissions ?? 0o640
                var existed: Bool?
                do {
                    let directory = try install(staged, path: path, mode: mode, staging: staging,
                                                directories: &directories, existed: &existed)
                    if existed == true { report.updated.append(path) } else { report.created.append(path) }
                    touchedDirectories.insert(directory)
                } catch let e as ClusterError {
                    let present = existed ?? ((try? directories.resolve(path)).map(exists) ?? false)
                    report.errors.append(ApplyIssue(path: path, action: present ? "update" : "create", message: e.message))
                }
            }
        }
        directories.close()
        var emptiedCandidates = Set<String>()
        for (path, record) in classification.extra {
            do {
                // Resolved again: the writes above may have changed the tree.
                let target = try SafePath.resolve(path, underRealRoot: realRoot)
                var st = stat()
                guard lstat(target, &st) == 0 else {
                    let err = errno
                    if err != ENOENT && err != ENOTDIR {
                        report.errors.append(ApplyIssue(path: path, action: "delete", message: errnoDescription(err)))
                    }
                    continue
                }
                guard (st.st_mode & S_IFMT) != S_IFDIR else {
                    report.errors.append(ApplyIssue(path: path, action: "delete", message: "is a directory; not removed"))
                    continue
                }
                guard unlink(target) == 0 else {
                    report.errors.append(ApplyIssue(path: path, action: "delete", message: errnoDescription(errno)))
                    continue
                }
                report.deleted.append(path)
                touchedDirectories.insert(FileIO.parentDirectory(of: target))
                if let rule = rules.rule(forKey: record.clusterItemKey), rule.removeSubdirsIfEmpty {
                    let parent = FileIO.parentDirectory(of: path)
                    if parent != rule.directory && parent != "." { emptiedCandidates.insert(parent) }
                }
            } catch let e as ClusterError {
                report.errors.append(ApplyIssue(path: path, action: "delete", message: e.message))
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

    /// Checks every path of the classification; throws on the first bad one. A path in more
    /// than one group is malformed metadata, refused before any path is looked at.
    func validate(_ c: Classification, directories: inout TargetDirectories) throws {
        for (path, _) in c.extra where c.missing.contains(path) { throw Self.inTwoGroups(path) }
        for (path, _) in c.shared where c.missing.contains(path) || c.extra.contains(path) { throw Self.inTwoGroups(path) }
        for group in [c.missing, c.extra, c.shared] {
            for (path, record) in group {
                try SafePath.validateRelative(path)
                guard let rule = rules.rule(forKey: record.clusterItemKey) else {
                    throw ClusterError.badData("refused path \(SafePath.quoted(path)): its cluster_item_key \(SafePath.quoted(record.clusterItemKey)) names no rule")
                }
                guard rules.selects(path: path, rule: rule) else {
                    throw ClusterError.badData("refused path \(SafePath.quoted(path)): rule \(SafePath.quoted(rule.key)) does not select it")
                }
                _ = try directories.resolve(path)
            }
        }
    }

    private static func inTwoGroups(_ path: String) -> ClusterError {
        ClusterError.badData("classification names \(SafePath.quoted(path)) in more than one group")
    }

    private func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Moves a staged file (`staged`: its staging directory, open, and name) over its target:
    /// parents created (0770), mode and owner set on the staged file, then one atomic rename.
    /// Across file systems the file is first copied to a temporary name next to the target.
    /// Returns the directory it went into; `existed` is set once the target has been looked at.
    private func install(_ staged: (fd: Int32, name: String), path: String, mode: UInt16, staging: StagingArea,
                         directories: inout TargetDirectories, existed: inout Bool?) throws -> String {
        let (directory, dirFD, name) = try directories.prepare(path, mode: 0o770)
        var st = stat()
        // In a directory this apply made, only what it renamed there exists (and not this name).
        let present = !directory.fresh && fstatat(dirFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0
        existed = present
        let isLink = present && (st.st_mode & S_IFMT) == S_IFLNK
        if isLink {
            // Replaced, not followed; still, it must be a link the checks accept.
            _ = try SafePath.resolveEntry(name, in: directory.path, of: path, realRoot: directories.realRoot)
        }
        guard fchmodat(staged.fd, staged.name, mode_t(mode), 0) == 0 else {
            throw ClusterError.io("cannot set the mode of the staged \(SafePath.quoted(path)): \(errnoDescription(errno))")
        }
        if let owner = options.owner {
            guard fchownat(staged.fd, staged.name, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw ClusterError.io("cannot give \(path) to \(owner.uid):\(owner.gid): \(errnoDescription(errno))")
            }
        }
        if present && (st.st_mode & S_IFMT) == S_IFDIR {
            throw ClusterError.io("\(path) is a directory here; not replaced")
        }
        // A directory reached through the link may now be elsewhere.
        defer { if isLink { directories.forgetPrepared() } }
        if renameat(staged.fd, staged.name, dirFD, name) == 0 { return directory.path }
        let err = errno
        guard err == EXDEV, let stagedFile = staging.stagedFile(for: path) else {
            throw ClusterError.io("cannot rename into \(path): \(errnoDescription(err))")
        }
        let target = SafePath.join(directory.path, name)
        let tmp = SafePath.join(directory.path, ".\(name).cl-tmp-\(getpid())")
        try copyFile(stagedFile, to: tmp, mode: mode)
        if let owner = options.owner { _ = chown(tmp, owner.uid, owner.gid) }
        guard rename(tmp, target) == 0 else {
            let e = errno
            unlink(tmp)
            throw ClusterError.io("cannot rename into \(path): \(errnoDescription(e))")
        }
        return directory.path
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
        StagingArea.removeStale(in: realDir)
        var stagingOptions = StagingArea.Options()
        stagingOptions.threads = ProcessInfo.processInfo.activeProcessorCount
        let staging = try StagingArea(parent: realDir, discard: false, options: stagingOptions)
        defer { staging.remove() }
        let contents = try ContainerReader.read(from: source, limits: limits, consumer: staging, progress: progress)
        try validateMetadataPaths(contents.metadata)
        try staging.finishWriting()
        var targets = [(String, String)]()
        for path in contents.entries {
            guard path != ContainerFormat.metadataName else { continue }
            targets.append((path, try SafePath.resolve(path, under: realDir)))
        }
        var report = UnpackReport()
        for (path, target) in targets {
            guard let staged = staging.stagedFile(for: path) else { continue }
            try FileIO.makeDirectories(FileIO.parentDirectory(of: target), mode: 0o750)
            guard try SafePath.resolve(path, under: realDir) == target else {
                throw ClusterError.badData("refused path \(SafePath.quoted(path)): it changed while being written")
            }
            guard chmod(staged, 0o640) == 0, rename(staged, target) == 0 else {
                throw ClusterError.io("cannot write \(target): \(errnoDescription(errno))")
            }
            report.entries.append(path)
        }
        report.bytes = contents.entryBytes
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
