import Foundation
@testable import ClusterKit

/// A temporary directory tree for one test, removed when the value goes away.
final class ScratchTree {
    let root: String

    init(_ label: String = "integrity") throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        // Canonical path: SafePath compares resolved paths.
        root = try SafePath.realPath(base.path)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func path(_ rel: String) -> String { SafePath.join(root, rel) }

    @discardableResult
    func write(_ rel: String, _ bytes: [UInt8], mode: Int = 0o640) throws -> String {
        let p = path(rel)
        try FileManager.default.createDirectory(atPath: FileIO.parentDirectory(of: p), withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        chmod(p, mode_t(mode))
        return p
    }

    @discardableResult
    func write(_ rel: String, _ text: String, mode: Int = 0o640) throws -> String {
        try write(rel, Array(text.utf8), mode: mode)
    }

    func mkdir(_ rel: String) throws {
        try FileManager.default.createDirectory(atPath: path(rel), withIntermediateDirectories: true)
    }

    func symlink(_ rel: String, to target: String) throws {
        try FileManager.default.createDirectory(atPath: FileIO.parentDirectory(of: path(rel)), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: path(rel), withDestinationPath: target)
    }

    func read(_ rel: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(rel)))) }

    func exists(_ rel: String) -> Bool {
        var st = Glibc.stat()
        return lstat(path(rel), &st) == 0
    }

    /// Sets the mtime exactly (seconds and nanoseconds).
    func setMTime(_ rel: String, seconds: Int, nanoseconds: Int) {
        var times = [timespec(tv_sec: seconds, tv_nsec: nanoseconds), timespec(tv_sec: seconds, tv_nsec: nanoseconds)]
        _ = times.withUnsafeMutableBufferPointer { utimensat(AT_FDCWD, path(rel), $0.baseAddress, 0) }
    }

    func stat(_ rel: String) -> Glibc.stat {
        var st = Glibc.stat()
        _ = lstat(path(rel), &st)
        if (st.st_mode & S_IFMT) == S_IFLNK { _ = fstatat(AT_FDCWD, path(rel), &st, 0) }
        return st
    }

    /// Every path below the root (files, links and directories), sorted: the tree's shape.
    func listing() -> [String] {
        var out = [String]()
        let e = FileManager.default.enumerator(atPath: root)
        while let p = e?.nextObject() as? String { out.append(p) }
        return out.sorted()
    }
}

enum IntegrityFixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The small vectors the project carries.
    static let carried = packageRoot.appendingPathComponent("Tests/ClusterKitTests/Fixtures/wazuh-4.9.2")

    /// `../shared/vectors/wazuh-4.9.2/integrity` beside the repository, when present.
    static var shared: URL? {
        let url = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors/wazuh-4.9.2/integrity")
        return FileManager.default.fileExists(atPath: url.appendingPathComponent("tree.tar").path) ? url : nil
    }

    static func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }
    static func carried(_ name: String) throws -> [UInt8] { try bytes(carried.appendingPathComponent(name)) }
}

/// Runs a program to completion and returns its stdout (the oracle tools: b2sum, tar).
func runOracle(_ path: String, _ args: [String], in directory: String? = nil) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw ClusterError.io("\(path) exited \(p.terminationStatus)") }
    return String(decoding: data, as: UTF8.self)
}

/// BLAKE2b-512 of files by coreutils' b2sum (the oracle), by relative path.
func b2sum(_ rels: [String], in root: String) throws -> [String: String] {
    guard !rels.isEmpty else { return [:] }
    let text = try runOracle("/usr/bin/b2sum", ["-z", "--"] + rels, in: root)
    var out = [String: String]()
    for line in text.split(separator: "\0") {
        // "<hash>  <name>" (with -z, names are not escaped)
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { continue }
        out[String(parts[2])] = String(parts[0])
    }
    return out
}

/// Rules for small test trees: the stock rules.
let stockRules = FileRules.reference

/// Scans with no racy window, so that files written by the test are cacheable at once.
func scan(_ root: String, rules: FileRules = stockRules, cache: ScanCache? = nil, changes: ChangeTracker? = nil,
          racyWindow: Int64 = 0) throws -> ScanResult {
    var options = Scanner.Options()
    options.racyWindowNanoseconds = racyWindow
    return try Scanner(root: root, rules: rules, options: options).scan(cache: cache, changes: changes)
}

/// Packs a classification of `from` into memory.
func packed(_ c: Classification, from root: String, rules: FileRules = stockRules,
            maxSize: Int = ContainerFormat.defaultMaxSize) throws -> (bytes: [UInt8], report: PackReport) {
    let sink = MemorySink()
    let report = try ContainerWriter.pack(c, root: root, rules: rules, into: sink, maxSize: maxSize)
    return (sink.bytes, report)
}

/// Builds a container by hand (entries and raw metadata), for malformed-input tests.
func handmadeContainer(_ entries: [(String, [UInt8])], metadata: [UInt8], trailingSeparator: Bool = false) throws -> [UInt8] {
    var out = [UInt8]()
    for (path, content) in entries {
        out += Array(path.utf8) + ContainerFormat.pathSeparator + (try Zlib.compress(content)) + ContainerFormat.fileSeparator
    }
    out += Array(ContainerFormat.metadataName.utf8) + ContainerFormat.pathSeparator + (try Zlib.compress(metadata))
    if trailingSeparator { out += ContainerFormat.fileSeparator }
    return out
}

/// Waits (up to a deadline) until the coarse real-time clock, which stamps file times, has
/// moved past `ctime`, so a new write gets a different ctime.
func waitForTimestampTick(after st: stat) {
    let target = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
    var now = timespec()
    let deadline = Date().addingTimeInterval(5)
    repeat {
        clock_gettime(CLOCK_REALTIME_COARSE, &now)
        if Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) > target { return }
        sched_yield()
    } while Date() < deadline
}
