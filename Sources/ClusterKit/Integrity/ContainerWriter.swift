#if canImport(Glibc)
import Glibc
#endif
import CZlib

/// Writes the reference's container (`compress_files`, sync spec §4.3), streamed: each file is
/// read and deflated in 256 KiB pieces straight into the sink, so memory stays flat whatever the
/// sizes.
///
/// The size budget is the reference's: a file whose raw size exceeds `maxSize` is left out; an
/// entry that would take the entries' total past `maxSize` is left out and every later file is
/// dropped too ("exceeded"). To decide before writing, an entry whose worst-case size
/// (`compressBound`) might not fit is compressed once into a counter first; entries that
/// certainly fit are written in one pass.
public final class ContainerWriter {
    public enum Outcome: Sendable, Equatable {
        /// Written; the entry's size in the container.
        case added(Int)
        /// Raw size over `maxSize` ("File too large to be synced").
        case tooLarge
        /// The entry did not fit, or an earlier one did not ("Maximum zip size exceeded").
        case sizeExceeded
        /// The file vanished before it could be read.
        case vanished
        /// It could not be read for another reason (the message says why).
        case unreadable(String)
    }

    private let sink: ByteSink
    public let maxSize: Int
    public let level: Int32
    /// Total size of the entries written so far (the metadata is not counted, as in the reference).
    public private(set) var entriesSize = 0
    public private(set) var exceeded = false
    private var finished = false
    private let buffer: UnsafeMutableRawBufferPointer

    public init(sink: ByteSink, maxSize: Int = ContainerFormat.defaultMaxSize, level: Int32 = Zlib.defaultLevel) {
        self.sink = sink
        self.maxSize = maxSize
        self.level = level
        buffer = .allocate(byteCount: 256 * 1024, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Adds the file at `absolutePath` as the entry `path`.
    public func addFile(path: String, absolutePath: String) throws -> Outcome {
        precondition(!finished)
        if exceeded { return .sizeExceeded }
        let fd = open(absolutePath, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else {
            let err = errno
            return err == ENOENT || err == ENOTDIR ? .vanished : .unreadable("cannot open: \(errnoDescription(err))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .unreadable("cannot stat: \(errnoDescription(errno))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .unreadable("not a regular file") }
        let size = Int(st.st_size)
        if size > maxSize { return .tooLarge }
        let pathBytes = Array(path.utf8)
        let overhead = pathBytes.count + ContainerFormat.pathSeparator.count + ContainerFormat.fileSeparator.count
        let bound = overhead + Int(compressBound(uLong(size)))
        if entriesSize + bound > maxSize {
            // It might not fit: measure it exactly first.
            let counter = CountingSink()
            if let failure = try deflate(fd: fd, into: counter) { return failure }
            guard entriesSize + overhead + counter.count <= maxSize else {
                exceeded = true
                return .sizeExceeded
            }
            guard lseek(fd, 0, SEEK_SET) == 0 else { return .unreadable("cannot rewind: \(errnoDescription(errno))") }
        }
        let counter = CountingSink()
        let tee = TeeSink(sink, counter)
        try tee.write(pathBytes)
        try tee.write(ContainerFormat.pathSeparator)
        if let failure = try deflate(fd: fd, into: tee) {
            // A read error after the entry began: the container cannot be repaired.
            throw ClusterError.io("\(path): \(failure)")
        }
        try tee.write(ContainerFormat.fileSeparator)
        entriesSize += counter.count
        return .added(counter.count)
    }

    /// Deflates the rest of `fd` into `out`; returns a failure outcome on a read error.
    private func deflate(fd: Int32, into out: ByteSink) throws -> Outcome? {
        let d = try Deflater(level: level)
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                return .unreadable("cannot read: \(errnoDescription(errno))")
            }
            if n == 0 { break }
            try d.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) { try out.write($0) }
        }
        try d.finish { try out.write($0) }
        return nil
    }

    /// Writes the metadata entry (no separator after it) and flushes the sink.
    public func finish(metadata: [UInt8]) throws {
        precondition(!finished)
        finished = true
        try sink.write(Array(ContainerFormat.metadataName.utf8))
        try sink.write(ContainerFormat.pathSeparator)
        try metadata.withUnsafeBytes { raw in
            let d = try Deflater(level: level)
            try d.update(raw) { try sink.write($0) }
            try d.finish { try sink.write($0) }
        }
        try sink.flush()
    }
}

/// What `pack` did.
public struct PackReport: Sendable {
    /// Entries written, in container order.
    public var entries: [String] = []
    /// Files left out, with the reason.
    public var dropped: [(path: String, reason: String)] = []
    /// Bytes of the whole container.
    public var bytes = 0
    /// The metadata written (the classification after the drops).
    public var metadata = Classification()

    public func toJSON() -> JSON {
        ["entries": .array(entries.map { .string($0) }),
         "dropped": .array(dropped.map { ["path": .string($0.path), "reason": .string($0.reason)] }),
         "bytes": JSON(bytes),
         "missing": JSON(metadata.missing.count), "extra": JSON(metadata.extra.count), "shared": JSON(metadata.shared.count)]
    }
}

extension ContainerWriter {
    /// Builds the master→worker container for a classification (the reference's
    /// `compress_files(worker, shared ∪ missing, classification, max)`): one entry per missing
    /// or shared file, read under `root`, then the classification as `files_metadata.json`.
    ///
    /// Paths are checked first (`SafePath.resolve` under the root, and the rule named by the
    /// record must select the path); any bad path refuses the whole pack (exit 65) before a byte
    /// is written. Drops follow the reference: a missing file that cannot be sent leaves
    /// `missing`; a shared file that cannot be sent leaves `shared`, and when it has vanished
    /// from the master it moves to `extra`, so the worker deletes it. Unlike the reference, a
    /// file that exists but cannot be read (permissions, I/O) is only dropped, not deleted on
    /// the worker.
    ///
    /// `order` fixes the entry order (paths not in the classification are ignored); by default,
    /// missing then shared, each in classification order.
    public static func pack(_ classification: Classification, root: String, rules: FileRules,
                            into sink: ByteSink, maxSize: Int = ContainerFormat.defaultMaxSize,
                            order: [String]? = nil,
                            progress: ((Int, Int) -> Void)? = nil) throws -> PackReport {
        var plan = [(path: String, absolute: String?, refusal: String?)]()
        let candidates = order ?? (classification.missing.paths + classification.shared.paths)
        for path in candidates {
            guard let record = classification.missing[path] ?? classification.shared[path] else { continue }
            try checkSelected(path, record: record, rules: rules)
            do {
                plan.append((path, try SafePath.resolve(path, under: root), nil))
            } catch let e as ClusterError where e.exit == .dataError {
                // A symlink in the master's own tree that leads out of the root: not sent.
                plan.append((path, nil, e.message))
            }
        }
        for (path, record) in classification.extra {
            try checkSelected(path, record: record, rules: rules)
        }
        let counting = CountingSink()
        let tee = TeeSink(sink, counting)
        let writer = ContainerWriter(sink: tee, maxSize: maxSize)
        var report = PackReport()
        var metadata = classification
        var removed = Set<String>()
        for (i, item) in plan.enumerated() {
            guard let absolute = item.absolute else {
                report.dropped.append((item.path, item.refusal ?? "refused"))
                removed.insert(item.path)
                continue
            }
            let outcome = try writer.addFile(path: item.path, absolutePath: absolute)
            switch outcome {
            case .added:
                report.entries.append(item.path)
            case .tooLarge:
                report.dropped.append((item.path, "file too large to be synced (over \(maxSize) bytes)"))
                removed.insert(item.path)
            case .sizeExceeded:
                report.dropped.append((item.path, "maximum container size exceeded (\(maxSize) bytes); left for a later sync"))
                removed.insert(item.path)
            case .vanished:
                report.dropped.append((item.path, "vanished from the master"))
                removed.insert(item.path)
                if let r = metadata.shared[item.path] { metadata.extra[item.path] = r }
            case .unreadable(let why):
                report.dropped.append((item.path, why))
                removed.insert(item.path)
            }
            progress?(i + 1, plan.count)
        }
        metadata.missing.remove(removed)
        metadata.shared.remove(removed)
        try writer.finish(metadata: metadata.jsonBytes())
        report.metadata = metadata
        report.bytes = counting.count
        return report
    }

    /// The worker→master container: no entries, only the worker's snapshot as metadata
    /// (the reference's `compress_files(worker, [], snapshot)`).
    public static func writeSnapshot(_ snapshot: Snapshot, into sink: ByteSink) throws {
        try ContainerWriter(sink: sink).finish(metadata: snapshot.jsonBytes())
    }

    /// Checks that a path named by a classification is a plain relative path that the rule its
    /// record names would select.
    static func checkSelected(_ path: String, record: FileRecord, rules: FileRules) throws {
        try SafePath.validateRelative(path)
        guard let rule = rules.rule(forKey: record.clusterItemKey) else {
            throw ClusterError.badData("\(SafePath.quoted(path)) has cluster_item_key \(SafePath.quoted(record.clusterItemKey)), which no rule has")
        }
        guard rules.selects(path: path, rule: rule) else {
            throw ClusterError.badData("refused path \(SafePath.quoted(path)): rule \(SafePath.quoted(rule.key)) does not select it")
        }
    }
}

/// Writes to two sinks (the output and a counter).
final class TeeSink: ByteSink {
    let a: ByteSink, b: ByteSink
    init(_ a: ByteSink, _ b: ByteSink) { self.a = a; self.b = b }
    func write(_ bytes: UnsafeRawBufferPointer) throws { try a.write(bytes); try b.write(bytes) }
    func flush() throws { try a.flush(); try b.flush() }
}
