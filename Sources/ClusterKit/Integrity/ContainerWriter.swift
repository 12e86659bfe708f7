#if canImport(Glibc)
import Glibc
#endif
import CZlib
import Dispatch
import Foundation

/// Writes the reference's container (`compress_files`, sync spec §4.3), streamed: a large file
/// is read and deflated in 256 KiB pieces straight into the sink, and small files are deflated
/// ahead on other cores only within a fixed bound (`EntryReadAhead`), so memory stays flat
/// whatever the sizes.
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
    private var compressorStorage: EntryCompressor?

    public init(sink: ByteSink, maxSize: Int = ContainerFormat.defaultMaxSize, level: Int32 = Zlib.defaultLevel) {
        self.sink = sink
        self.maxSize = maxSize
        self.level = level
    }

    private func compressor() throws -> EntryCompressor {
        if let c = compressorStorage { return c }
        let c = try EntryCompressor(level: level)
        compressorStorage = c
        return c
    }

    /// Adds the file at `absolutePath` as the entry `path`.
    public func addFile(path: String, absolutePath: String) throws -> Outcome {
        precondition(!finished)
        if exceeded { return .sizeExceeded }
        switch EntryCompressor.open(absolutePath, maxSize: maxSize) {
        case .failure(let refusal):
            return refusal.outcome
        case .success(let (fd, size)):
            defer { close(fd) }
            return try addOpened(path: path, fd: fd, size: size)
        }
    }

    /// Adds a file read ahead by `EntryReadAhead`, reaching the decision and writing the bytes
    /// that `addFile` would on the same file.
    func add(path: String, prepared: PreparedEntry) throws -> Outcome {
        precondition(!finished)
        if exceeded {
            prepared.discard()
            return .sizeExceeded
        }
        switch prepared {
        case .refused(let outcome):
            return outcome
        case .opened(let fd, let size):
            defer { close(fd) }
            return try addOpened(path: path, fd: fd, size: size)
        case .readFailed(let why, let size):
            // addFile meets the failure while measuring (the file is dropped) or while writing.
            if !certainlyFits(path: path, size: size) { return .unreadable(why) }
            throw ClusterError.io("\(path): \(why)")
        case .compressed(let stream, let size):
            let pathBytes = Array(path.utf8)
            let entrySize = Self.overhead(pathBytes) + stream.count
            if !certainlyFits(path: path, size: size) && entriesSize + entrySize > maxSize {
                exceeded = true
                return .sizeExceeded
            }
            try sink.write(pathBytes)
            try sink.write(ContainerFormat.pathSeparator)
            try sink.write(stream)
            try sink.write(ContainerFormat.fileSeparator)
            entriesSize += entrySize
            return .added(entrySize)
        }
    }

    private static func overhead(_ pathBytes: [UInt8]) -> Int {
        pathBytes.count + ContainerFormat.pathSeparator.count + ContainerFormat.fileSeparator.count
    }

    /// Whether an entry fits the budget even at its worst-case size (`compressBound` of the size
    /// seen at open); otherwise it is measured exactly before it is written.
    private func certainlyFits(path: String, size: Int) -> Bool {
        entriesSize + Self.overhead(Array(path.utf8)) + Int(compressBound(uLong(size))) <= maxSize
    }

    private func addOpened(path: String, fd: Int32, size: Int) throws -> Outcome {
        let compressor = try compressor()
        let pathBytes = Array(path.utf8)
        let overhead = Self.overhead(pathBytes)
        if !certainlyFits(path: path, size: size) {
            // It might not fit: measure it exactly first.
            let counter = CountingSink()
            if let failure = try compressor.deflate(fd: fd, into: counter) { return .unreadable(failure) }
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
        if let failure = try compressor.deflate(fd: fd, into: tee) {
            // A read error after the entry began: the container cannot be repaired.
            throw ClusterError.io("\(path): \(failure)")
        }
        try tee.write(ContainerFormat.fileSeparator)
        entriesSize += counter.count
        return .added(counter.count)
    }

    /// Writes the metadata entry (no separator after it) and flushes the sink.
    public func finish(metadata: [UInt8]) throws {
        try finish { try $0.write(metadata) }
    }

    /// The same, with the metadata written by `write` to the sink it is given, in pieces, as it
    /// is deflated.
    public func finish(writingMetadata write: (ByteSink) throws -> Void) throws {
        precondition(!finished)
        finished = true
        try sink.write(Array(ContainerFormat.metadataName.utf8))
        try sink.write(ContainerFormat.pathSeparator)
        try compressor().deflate(into: sink, write)
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
    ///
    /// With more than one thread, files are read and deflated ahead on `threads` threads
    /// (`EntryReadAhead`); the container is byte for byte the one a single thread writes.
    public static func pack(_ classification: Classification, root: String, rules: FileRules,
                            into sink: ByteSink, maxSize: Int = ContainerFormat.defaultMaxSize,
                            order: [String]? = nil,
                            threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                            progress: ((Int, Int) -> Void)? = nil) throws -> PackReport {
        try pack(classification, root: root, rules: rules, into: sink, maxSize: maxSize, order: order,
                 threads: threads, readAhead: EntryReadAhead.Limits(), progress: progress)
    }

    /// `pack` with the read-ahead's bounds chosen (tests make them tiny to exercise them).
    static func pack(_ classification: Classification, root: String, rules: FileRules,
                     into sink: ByteSink, maxSize: Int, order: [String]?, threads: Int,
                     readAhead limits: EntryReadAhead.Limits,
                     progress: ((Int, Int) -> Void)?) throws -> PackReport {
        let candidates = order ?? (classification.missing.paths + classification.shared.paths)
        let plan = try planEntries(candidates, inClassificationOrder: order == nil, classification: classification,
                                   root: root, rules: rules, threads: threads)
        for (path, record) in classification.extra {
            try checkSelected(path, record: record, rules: rules)
        }
        let counting = CountingSink()
        let tee = TeeSink(sink, counting)
        let writer = ContainerWriter(sink: tee, maxSize: maxSize)
        var report = PackReport()
        var metadata = classification
        var removed = Set<String>()
        let readAhead = threads > 1 && plan.count > 1
            ? EntryReadAhead(count: plan.count, path: { plan.absolute($0) }, maxSize: maxSize, level: writer.level,
                             threads: threads, limits: limits)
            : nil
        defer { readAhead?.stop() }
        for (i, item) in plan.entries.enumerated() {
            guard let absolute = plan.absolute(i) else {
                report.dropped.append((item.path, item.refusal ?? "refused"))
                removed.insert(item.path)
                continue
            }
            let outcome: Outcome
            if let readAhead, !writer.exceeded {
                outcome = try writer.add(path: item.path, prepared: try readAhead.take(i))
                // Every later file is dropped unread.
                if writer.exceeded { readAhead.stop() }
            } else {
                outcome = try writer.addFile(path: item.path, absolutePath: absolute)
            }
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
        try writer.finish { try metadata.writeJSON(to: $0) }
        report.metadata = metadata
        report.bytes = counting.count
        return report
    }

    /// The worker→master container: no entries, only the worker's snapshot as metadata
    /// (the reference's `compress_files(worker, [], snapshot)`).
    public static func writeSnapshot(_ snapshot: Snapshot, into sink: ByteSink) throws {
        try ContainerWriter(sink: sink).finish(metadata: snapshot.jsonBytes())
    }

    /// The entries to write, in order. `absolute` nil: refused (`refusal` says why); empty: the
    /// path under the root's real path, made when the file is read (most are, and 50,000 such
    /// strings were 5 MB held through a pack); otherwise where a symbolic link led.
    struct Plan: Sendable {
        var entries: [(path: String, absolute: String?, refusal: String?)]
        var realRoot: String
        var count: Int { entries.count }

        func absolute(_ i: Int) -> String? {
            guard let a = entries[i].absolute else { return nil }
            return a.isEmpty ? SafePath.join(realRoot, entries[i].path) : a
        }
    }

    private enum PlannedEntry {
        case notClassified
        case read(path: String, absolute: String)
        /// A symlink in the master's own tree that leads out of the root: not sent.
        case refused(path: String, why: String)
        case failed(Error)
    }

    /// Checks and resolves every candidate path (an lstat per component, so it runs on
    /// `threads` threads); the first failure in candidate order is thrown, as a check of one
    /// path after another would throw it.
    /// `inClassificationOrder`: the candidates are missing then shared, in classification order,
    /// so each one's record is found by its position, with no path index built.
    private static func planEntries(_ candidates: [String], inClassificationOrder: Bool, classification: Classification,
                                    root: String, rules: FileRules, threads: Int)
        throws -> Plan {
        // Resolved once, and met by each path where resolving it would meet it.
        let realRoot = Result { try SafePath.realPath(root) }
        let missingCount = classification.missing.count
        @Sendable func plan(_ i: Int) -> PlannedEntry {
            let path = candidates[i]
            let found = inClassificationOrder
                ? (i < missingCount ? classification.missing.record(at: i) : classification.shared.record(at: i - missingCount))
                : classification.missing[path] ?? classification.shared[path]
            guard let record = found else { return .notClassified }
            do { try checkSelected(path, record: record, rules: rules) } catch { return .failed(error) }
            do {
                return .read(path: path, absolute: try SafePath.resolve(path, underRealRoot: try realRoot.get()))
            } catch let e as ClusterError where e.exit == .dataError {
                return .refused(path: path, why: e.message)
            } catch {
                return .failed(error)
            }
        }
        var planned = [PlannedEntry](repeating: .notClassified, count: candidates.count)
        let chunks = threads > 1 && candidates.count >= 1_024 ? threads * 8 : 1
        planned.withUnsafeMutableBufferPointer { out in
            // Each chunk writes its own indices only.
            let slots = DisjointSlots(buffer: out)
            let body: @Sendable (Int) -> Void = { chunk in
                let lower = candidates.count * chunk / chunks, upper = candidates.count * (chunk + 1) / chunks
                for i in lower..<upper { slots.buffer[i] = plan(i) }
            }
            if chunks == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: chunks, execute: body) }
        }
        var result = [(path: String, absolute: String?, refusal: String?)]()
        result.reserveCapacity(planned.count)
        // With no real root, no path was planned to be read.
        let rootPath = (try? realRoot.get()) ?? ""
        for entry in planned {
            switch entry {
            case .notClassified: continue
            case .read(let path, let absolute):
                result.append((path, absolute == SafePath.join(rootPath, path) ? "" : absolute, nil))
            case .refused(let path, let why): result.append((path, nil, why))
            case .failed(let error): throw error
            }
        }
        return Plan(entries: result, realRoot: rootPath)
    }

    private struct DisjointSlots: @unchecked Sendable {
        let buffer: UnsafeMutableBufferPointer<PlannedEntry>
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
