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
        subcommands: [Scan.self])
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

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let fileRules = try rules.load()
        var options = Scanner.Options()
        if let threads { options.threads = threads }
        let progress = ProgressReporter(label: "scan", enabled: common.showProgress)
        if common.showProgress {
            options.progress = { done, total in progress.update(done: done, total: total, unit: "files") }
        }
        let scanner = Scanner(root: root, rules: fileRules, options: options)
        let cacheStore = cache.map { ScanCache.load(path: $0, root: root) }
        if let note = cacheStore?.loadNote, !common.quiet { StandardStreams.writeError("cl-integrity: \(note)\n") }
        let result = try scanner.scan(cache: cacheStore)
        progress.finish()
        if let cache, let cacheStore, cacheStore.changed { try cacheStore.save(to: cache) }
        for issue in result.issues where !common.quiet {
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
