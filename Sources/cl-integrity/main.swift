import ArgumentParser
import ClusterCLI
import ClusterKit
import Foundation

@main
struct CLIntegrity: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "cl-integrity",
        abstract: "Integrity snapshots, comparison and file containers, as the Wazuh 4.9.2 cluster makes them.",
        discussion: """
        scan writes the snapshot the reference puts in files_metadata.json; compare classifies \
        a worker's snapshot against the master's; pack builds the master-to-worker container; \
        unpack and apply read one; check compares a tree with a saved snapshot (for cron).

        Rules come from --rules FILE: our cluster.json or the reference's (its "files" section), \
        or a bare "files" object; without --rules, the reference's stock rules apply.

        Exit status: 0 ok, 1 check found a difference, 64 usage, 65 bad data (bad JSON, \
        corrupt or truncated container, unsafe path, refused deletion), 66 input missing, \
        74 I/O error, 78 bad configuration.
        """,
        version: ToolVersion.versionLine,
        subcommands: [Scan.self, Compare.self, Pack.self, Unpack.self, Apply.self, Check.self])
}

/// Reads a JSON document from a file, or from stdin for "-".
func readDocument(_ path: String, limit: Int = 1 << 30) throws -> [UInt8] {
    if path == "-" {
        if StandardStreams.stdinIsTerminal {
            throw ClusterError.usage("'-' reads standard input, which is a terminal; pipe a document in")
        }
        return try StandardStreams.readAll(limit: limit)
    }
    return try FileIO.readAll(path: path, limit: limit)
}

/// Writes bytes that are a JSON document as is (exactly the reference's bytes), with a newline
/// only for a terminal.
func writeExactJSON(_ bytes: [UInt8]) {
    StandardStreams.write(bytes)
    if isatty(STDOUT_FILENO) == 1 { StandardStreams.write("\n") }
    StandardStreams.flushOutput()
}

/// A container arrives on stdin: refuse a terminal.
func containerInput() throws -> ByteSource {
    if StandardStreams.stdinIsTerminal {
        throw ClusterError.usage("expects a container on standard input (pipe or redirect one)")
    }
    return FileDescriptorSource(fd: STDIN_FILENO)
}

/// Parses a byte count: digits with an optional K, M or G (powers of 1024).
func parseSize(_ text: String, option: String) throws -> Int {
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
    var digits = Substring(text.uppercased())
    var mult = 1
    if let u = digits.last, let m = units[u] { mult = m; digits = digits.dropLast() }
    if digits.hasSuffix("I") { digits = digits.dropLast() }
    guard let n = Int(digits), n > 0, n <= Int.max / mult else {
        throw ValidationError("\(option) takes a positive byte count such as 1073741824 or 1G, got '\(text)'")
    }
    return n * mult
}

struct GuardOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Refuse a classification that deletes more than this fraction of a rule's files.", valueName: "fraction"))
    var maxDeleteFraction: Double = 0.5

    @Flag(help: "Apply even what the deletion guard refuses (mass deletion, empty master snapshot).")
    var force = false

    func validate() throws {
        guard maxDeleteFraction >= 0 && maxDeleteFraction <= 1 else {
            throw ValidationError("--max-delete-fraction must be between 0 and 1, got \(maxDeleteFraction)")
        }
    }

    var deletionGuard: DeletionGuard { DeletionGuard(maxDeleteFraction: maxDeleteFraction, force: force) }
}

struct LimitOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Refuse a container that decompresses to more than this (bytes, or with K, M, G).", valueName: "size"))
    var maxTotalBytes: String = "4G"

    @Option(help: ArgumentHelp("Refuse a files_metadata.json larger than this once decompressed.", valueName: "size"))
    var maxMetadataBytes: String = "256M"

    func limits() throws -> ContainerLimits {
        var l = ContainerLimits()
        l.maxTotalBytes = try parseSize(maxTotalBytes, option: "--max-total-bytes")
        l.maxMetadataBytes = try parseSize(maxMetadataBytes, option: "--max-metadata-bytes")
        return l
    }
}

/// Options shared by the commands that apply file rules.
struct RulesOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Read the file rules from this cluster.json (its \"files\" section) or bare rules object. Default: the reference's stock rules.", valueName: "file"))
    var rules: String?

    func load() throws -> FileRules {
        guard let rules else { return .reference }
        return try FileRules.load(path: rules)
    }
}

struct Scan: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the integrity snapshot of a root (files_metadata.json, byte for byte).",
        discussion: """
        The output is exactly what Python's json.dumps writes for the reference's \
        get_files_status(): {"relpath": {"mod_time", "cluster_item_key", "merged", "hash"}} \
        with BLAKE2b-512 digests, in rule order then directory order, without a trailing \
        newline (one is added on a terminal).

        With --cache FILE, a file whose size, inode, mtime and ctime are unchanged since the \
        last scan is not read again; the cache is rewritten (atomically) only when it changed. \
        Files changed within 2 seconds before the scan are hashed every time until they settle.
        """)

    @Option(help: ArgumentHelp("The installation root (WAZUH_PATH) the rule keys are relative to.", valueName: "dir"))
    var root: String

    @OptionGroup var rules: RulesOptions

    @Option(help: ArgumentHelp("Keep file digests in this cache file between scans.", valueName: "file"))
    var cache: String?

    @Option(help: ArgumentHelp("Threads that hash files (default: the number of cores).", valueName: "n"))
    var threads: Int?

    @Flag(help: "Print the scan's counters as one JSON line on stderr when done.")
    var stats = false

    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let fileRules = try rules.load()
        var options = Scanner.Options()
        if let threads { options.threads = threads }
        let progress = ProgressReporter(label: "scan", enabled: progressOptions.showProgress)
        if progressOptions.showProgress {
            options.progress = { done, total in progress.update(done: done, total: total, unit: "files") }
        }
        let scanner = Scanner(root: root, rules: fileRules, options: options)
        let cacheStore = cache.map { ScanCache.load(path: $0, root: root) }
        if let note = cacheStore?.loadNote, !progressOptions.quiet { StandardStreams.writeError("cl-integrity: \(note)\n") }
        let result = try scanner.scan(cache: cacheStore)
        progress.finish()
        if let cache, let cacheStore, cacheStore.changed { try cacheStore.save(to: cache) }
        for issue in result.issues where !progressOptions.quiet {
            StandardStreams.writeError("cl-integrity: \(issue.path): \(issue.message)\n")
        }
        StandardStreams.flushOutput()
        let sink = FileDescriptorSink(fd: STDOUT_FILENO, bufferSize: 1 << 20)
        try result.snapshot.writeJSON(to: sink)
        try sink.flush()
        if isatty(STDOUT_FILENO) == 1 { StandardStreams.write("\n") }
        StandardStreams.flushOutput()
        if stats { StandardStreams.writeError(JSONWriter.compact.string(result.stats.toJSON()) + "\n") }
    }
}

struct Compare: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify a worker's snapshot against the master's: {\"missing\", \"extra\", \"shared\"}.",
        discussion: """
        As the reference's compare_files: missing = on the master only (master's records); \
        extra = on the worker only, under a rule whose extra_valid is false (worker's records); \
        shared = on both with different hashes (master's records). Only hashes are compared. \
        The output is json.dumps bytes, like the files_metadata.json of the master-to-worker \
        container. Either argument may be '-' for standard input:

        cl-integrity scan --root /var/ossec |
          cl-integrity compare master.json -

        The deletion guard refuses (exit 65) a classification that would delete more than \
        --max-delete-fraction of the worker's files under a rule, or any file when the master \
        snapshot is empty, unless --force is given.
        """)

    @Argument(help: ArgumentHelp("The master's snapshot (a file, or - for stdin).", valueName: "master"))
    var master: String

    @Argument(help: ArgumentHelp("The worker's snapshot (a file, or - for stdin).", valueName: "worker"))
    var worker: String

    @OptionGroup var rules: RulesOptions
    @OptionGroup var guardOptions: GuardOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if master == "-" && worker == "-" { throw ValidationError("only one of the snapshots can come from standard input") }
    }

    func run() throws {
        let fileRules = try rules.load()
        let m = try Snapshot.parse(try readDocument(master), source: master == "-" ? "stdin" : master)
        let w = try Snapshot.parse(try readDocument(worker), source: worker == "-" ? "stdin" : worker)
        let c = try Classification.compare(master: m, worker: w, rules: fileRules)
        try guardOptions.deletionGuard.check(c, master: m, worker: w)
        writeExactJSON(c.jsonBytes())
    }
}

struct Pack: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the master-to-worker container from a classification on stdin.",
        discussion: """
        Reads a classification (compare's output) on standard input and writes the reference's \
        container on standard output: one entry per missing or shared file, \
        "path|//@@//|zlib(content)|@@//@@|" with zlib level 1, then \
        "files_metadata.json|//@@//|zlib(classification)". Files are streamed; memory stays flat.

        --max-size is the reference's zip limit (communication.max_zip_size, 1 GiB): a file \
        larger than it, or one that would take the entries past it (and every file after it), \
        is dropped from the metadata exactly as the reference drops it; a shared file that \
        vanished moves to extra. Dropped files are listed on stderr unless --quiet.

        Every path must be relative, without '..', and selected by the rule its record names \
        (exit 65 otherwise, before anything is written).
        """)

    @Option(help: ArgumentHelp("The root the files are read from.", valueName: "dir"))
    var root: String

    @OptionGroup var rules: RulesOptions

    @Option(help: ArgumentHelp("The container size limit (bytes, or with K, M, G).", valueName: "size"))
    var maxSize: String = "1G"

    @Option(help: ArgumentHelp("Write the container to this file (atomically) instead of stdout.", valueName: "file"))
    var output: String?

    @Flag(help: "Print a JSON summary (entries, dropped files, bytes) on stderr.")
    var summary = false

    @Option(help: ArgumentHelp("Threads that read and deflate files (default: the number of cores); the container is the same for any number.", valueName: "n"))
    var threads: Int?

    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let fileRules = try rules.load()
        let limit = try parseSize(maxSize, option: "--max-size")
        if StandardStreams.stdinIsTerminal { throw ClusterError.usage("expects a classification on standard input") }
        let c = try Classification.parse(try StandardStreams.readAll(limit: 1 << 30), source: "stdin")
        if output == nil && isatty(STDOUT_FILENO) == 1 {
            throw ClusterError.usage("refusing to write a binary container to a terminal; redirect stdout or give --output")
        }
        let progress = ProgressReporter(label: "pack", enabled: progressOptions.showProgress)
        var fd = STDOUT_FILENO
        var tmp: String?
        if let output {
            let t = SafePath.join(FileIO.parentDirectory(of: output), ".\(FileIO.baseName(of: output)).\(getpid()).tmp")
            fd = open(t, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
            guard fd >= 0 else { throw ClusterError.io("cannot create \(t): \(errnoDescription(errno))") }
            tmp = t
        }
        let sink = FileDescriptorSink(fd: fd, bufferSize: 1 << 20)
        let report: PackReport
        do {
            report = try ContainerWriter.pack(c, root: root, rules: fileRules, into: sink, maxSize: limit,
                                              threads: threads ?? ProcessInfo.processInfo.activeProcessorCount) { done, total in
                progress.update(done: done, total: total, unit: "files")
            }
            if let tmp, let output {
                guard fsync(fd) == 0 else { throw ClusterError.io("cannot sync \(tmp): \(errnoDescription(errno))") }
                close(fd)
                guard rename(tmp, output) == 0 else { throw ClusterError.io("cannot rename \(tmp): \(errnoDescription(errno))") }
            }
        } catch {
            if let tmp { close(fd); unlink(tmp) }
            throw error
        }
        progress.finish()
        if !progressOptions.quiet {
            for d in report.dropped { StandardStreams.writeError("cl-integrity: dropped \(d.path): \(d.reason)\n") }
        }
        if summary { StandardStreams.writeError(JSONWriter.compact.string(report.toJSON()) + "\n") }
    }
}

struct Unpack: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Extract a container from stdin into a directory.",
        discussion: """
        Every entry is written under DIR at its path (mode 0640) and the metadata as \
        DIR/files_metadata.json; a JSON summary goes to stdout. The whole container is \
        verified (each zlib stream to its end, separators, files_metadata.json present, paths \
        relative without '..' and staying inside DIR) before any file is moved into place: a \
        corrupt or truncated container leaves DIR as it was (exit 65).
        """)

    @Option(help: ArgumentHelp("The directory to extract into (created if needed).", valueName: "dir"))
    var into: String

    @OptionGroup var limitOptions: LimitOptions
    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var common: CommonOptions

    func run() throws {
        let source = try containerInput()
        let progress = ProgressReporter(label: "unpack", enabled: progressOptions.showProgress)
        let report = try ContainerUnpacker.unpack(from: source, into: into, limits: try limitOptions.limits()) { n in
            progress.update(done: n, unit: "B")
        }
        progress.finish()
        StandardStreams.writeJSONDocument(report.toJSON())
    }
}

struct Apply: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply a master-to-worker container from stdin to a root.",
        discussion: """
        The container is read whole into a private staging directory under the root and \
        verified, and every path in it and in its metadata is checked (relative, no '..' or \
        NUL, selected by its rule, no symlink leading out of the root), before anything \
        changes. Then each missing or shared file is renamed over its target with the rule's \
        permissions (and --owner), extra files are deleted, and subdirectories emptied by a \
        deletion are removed where the rule says remove_subdirs_if_empty. A corrupt or \
        truncated container, or a bad path, changes nothing (exit 65).

        Prints a JSON report: created, updated, deleted, removed_directories, ignored, errors. \
        Exit 0 when every file was applied, 74 when some failed (listed in errors). With \
        --dry-run, the container is still read and verified, the report lists what would \
        change, and nothing is touched.

        The deletion guard refuses (exit 65) to delete more than --max-delete-fraction of the \
        files a rule selects here, or every file while sending none (an empty master \
        snapshot), unless --force is given.
        """)

    @Option(help: ArgumentHelp("The root to update.", valueName: "dir"))
    var root: String

    @OptionGroup var rules: RulesOptions

    @Flag(help: "Verify and print the plan; change nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("Give written files to this owner (USER[:GROUP], names or ids).", valueName: "owner"))
    var owner: String?

    @Option(help: ArgumentHelp("How staged data is flushed before the renames: syncfs (one flush of the file system), fsync (each file), none.", valueName: "mode"))
    var durability: String = "syncfs"

    @Option(help: ArgumentHelp("Threads that create and write the staged files (default: the number of cores); the tree and the report are the same for any number.", valueName: "n"))
    var threads: Int?

    @OptionGroup var guardOptions: GuardOptions
    @OptionGroup var limitOptions: LimitOptions
    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard Durability(rawValue: durability) != nil else {
            throw ValidationError("--durability takes syncfs, fsync or none, got '\(durability)'")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let fileRules = try rules.load()
        var options = ApplyOptions()
        options.dryRun = dryRun
        options.owner = try owner.map(FileOwner.parse)
        options.deletionGuard = guardOptions.deletionGuard
        options.limits = try limitOptions.limits()
        options.durability = Durability(rawValue: durability)!
        if let threads { options.threads = threads }
        let source = try containerInput()
        let progress = ProgressReporter(label: "apply", enabled: progressOptions.showProgress)
        let report = try IntegrityApplier(root: root, rules: fileRules, options: options).apply(from: source) { n in
            progress.update(done: n, unit: "B")
        }
        progress.finish()
        StandardStreams.writeJSONDocument(report.toJSON())
        if !report.errors.isEmpty { throw ExitCode(ExitStatus.ioError.rawValue) }
    }
}

struct Check: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare a root with a saved snapshot: exit 0 when identical, 1 with a JSON diff when not.",
        discussion: """
        Scans the root (as scan does) and compares the files and their hashes with SNAPSHOT; \
        mod_time is ignored, as the reference ignores it. On a difference, prints \
        {"identical": false, "missing": [...], "extra": [...], "changed": [...]} and exits 1 \
        (missing: in the snapshot, not on disk; extra: on disk only; changed: other content).

        A crontab that checks every hour, with a cache so that unchanged files are not read \
        again; cron mails the JSON diff whenever there is one:

        R=/var/ossec
        B=/etc/clustertools/baseline.json
        C=/var/cache/cl-integrity/check.cache
        @hourly cl-integrity check --root $R --against $B --cache $C --quiet

        Make the baseline with:

        cl-integrity scan --root /var/ossec > /etc/clustertools/baseline.json
        """)

    @Option(help: ArgumentHelp("The root to scan.", valueName: "dir"))
    var root: String

    @Option(help: ArgumentHelp("The snapshot to compare with (a file, or - for stdin).", valueName: "snapshot"))
    var against: String

    @OptionGroup var rules: RulesOptions

    @Option(help: ArgumentHelp("Keep file digests in this cache file between runs.", valueName: "file"))
    var cache: String?

    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var common: CommonOptions

    func run() throws {
        let fileRules = try rules.load()
        let expected = try Snapshot.parse(try readDocument(against), source: against == "-" ? "stdin" : against)
        var options = Scanner.Options()
        let progress = ProgressReporter(label: "scan", enabled: progressOptions.showProgress)
        if progressOptions.showProgress {
            options.progress = { done, total in progress.update(done: done, total: total, unit: "files") }
        }
        let cacheStore = cache.map { ScanCache.load(path: $0, root: root) }
        let result = try Scanner(root: root, rules: fileRules, options: options).scan(cache: cacheStore)
        progress.finish()
        if let cache, let cacheStore, cacheStore.changed { try cacheStore.save(to: cache) }
        let diff = SnapshotDiff(expected: expected, actual: result.snapshot)
        if diff.isEmpty { return }
        StandardStreams.writeJSONDocument(diff.toJSON())
        throw ExitCode(ExitStatus.difference.rawValue)
    }
}
