import CJansson
import Dispatch
import Foundation

/// The reference's integrity snapshot (`files_metadata.json`): `{relpath: record}` in scan order
/// (rule order, then directory-walk order).
///
/// Equality ignores order, like the reference's dict comparison: two snapshots are equal when
/// they hold the same paths with equal records.
public struct Snapshot: Sendable, Equatable, Sequence {
    /// Paths and records, packed (`PackedRecords`): a master holds one for every file it serves.
    private var store = PackedRecords()
    /// path → position, built on first lookup: a scan that is only serialized never pays for it.
    private var box = IndexBox()

    public init() {}

    public init(minimumCapacity n: Int) {
        store = PackedRecords(minimumCapacity: n)
    }

    /// Takes paths and records in order; the paths must be unique.
    init(uniquePaths: [String], records: [FileRecord]) {
        precondition(uniquePaths.count == records.count)
        store = PackedRecords(minimumCapacity: uniquePaths.count)
        for (p, r) in zip(uniquePaths, records) { store.append(p, r) }
    }

    init(packed: PackedRecords) { store = packed }

    public var count: Int { store.count }
    public var isEmpty: Bool { store.count == 0 }

    /// The paths in order (made on each call: use `path(at:)` in loops).
    public var paths: [String] { (0..<store.count).map { store.path(at: $0) } }

    /// The path at a position.
    func path(at i: Int) -> String { store.path(at: i) }

    private var table: PathTable { box.table(store) }

    private mutating func mutableIndex() -> IndexBox {
        if !isKnownUniquelyReferenced(&box) { box = box.copy(store) }
        return box
    }

    public func contains(_ path: String) -> Bool { position(of: path) != nil }

    /// The position of a path.
    func position(of path: String) -> Int? { table.position(of: path, in: store) }

    /// A lookup for many paths in a row (one lock, not one per lookup).
    var lookup: Lookup { Lookup(table: table, store: store) }

    struct Lookup: Sendable {
        fileprivate let table: PathTable
        fileprivate let store: PackedRecords
        func position(of path: String) -> Int? { table.position(of: path, in: store) }
        /// The position here of the path at position j of `other`.
        func position(ofPathAt j: Int, in other: Snapshot) -> Int? {
            other.store.withPathBytes(at: j) { table.position(of: $0, in: store) }
        }
    }

    /// The record at a position (`path(at: i)`'s).
    func record(at i: Int) -> FileRecord { store.record(at: i) }

    /// Whether the record at a position has the hash `raw` (UTF-8), as the `String`s compare.
    func hashEquals(at i: Int, _ raw: UnsafeRawBufferPointer) -> Bool { store.hashEquals(at: i, raw) }

    /// Whether record i here and record j of `other` have equal hashes.
    func hashEquals(at i: Int, _ other: Snapshot, at j: Int) -> Bool { store.hashEquals(at: i, other.store, at: j) }

    /// The hash of the record at a position.
    func hash(at i: Int) -> String { store.hash(at: i) }

    func clusterItemKey(at i: Int) -> String { store.clusterItemKey(at: i) }

    /// The record of a path. Setting a path that exists replaces its record in place (its
    /// position stays, as Python's `dict.update` keeps it); a new path goes at the end; nil
    /// removes it.
    public subscript(path: String) -> FileRecord? {
        get { position(of: path).map { store.record(at: $0) } }
        set {
            if let newValue {
                set(path, newValue)
            } else if position(of: path) != nil {
                remove([path])
            }
        }
    }

    /// Sets a path's record; with `digest`, the record's hash is ignored and these 64 bytes are
    /// its digest.
    mutating func set(_ path: String, _ record: FileRecord, digest: UnsafeRawPointer? = nil) {
        if let i = position(of: path) {
            store.replace(at: i, record, digest: digest)
        } else {
            append(path, record, digest: digest)
        }
    }

    /// Appends a path that is not in the snapshot.
    mutating func append(_ path: String, _ record: FileRecord, digest: UnsafeRawPointer? = nil) {
        let b = mutableIndex()
        store.append(path, record, digest: digest)
        b.insert(store.count - 1, store)
    }

    /// Appends a path the caller knows is not in the snapshot, without the index (which is then
    /// built on the next lookup).
    mutating func appendUnique(_ path: String, _ record: FileRecord, digest: UnsafeRawPointer? = nil) {
        store.append(path, record, digest: digest)
        if box.isBuilt { box = IndexBox() }
    }

    /// Appends the record at position i of `other`, as it is stored.
    mutating func appendCopy(of i: Int, from other: Snapshot) {
        store.appendCopy(of: i, from: other.store)
        if box.isBuilt { box = IndexBox() }
    }

    /// Removes several paths in one pass.
    public mutating func remove(_ remove: Set<String>) {
        let t = table
        let drop = Set(remove.compactMap { t.position(of: $0, in: store) })
        guard !drop.isEmpty else { return }
        store = store.filter { !drop.contains($0) }
        box = IndexBox()
    }

    public struct Iterator: IteratorProtocol {
        fileprivate let store: PackedRecords
        fileprivate var i = 0
        public mutating func next() -> (String, FileRecord)? {
            guard i < store.count else { return nil }
            defer { i += 1 }
            return (store.path(at: i), store.record(at: i))
        }
    }

    public func makeIterator() -> Iterator { Iterator(store: store) }

    public static func == (a: Snapshot, b: Snapshot) -> Bool {
        guard a.count == b.count else { return false }
        // Copies of one snapshot (a scan that found nothing changed returns the previous one).
        if a.sharesStorage(with: b) { return true }
        let t = b.lookup
        for i in 0..<a.count {
            guard let j = a.store.withPathBytes(at: i, { t.table.position(of: $0, in: b.store) }),
                  a.store.record(at: i) == b.store.record(at: j) else { return false }
        }
        return true
    }

    private func sharesStorage(with other: Snapshot) -> Bool { store.sharesStorage(with: other.store) }

    /// How many records each rule key has.
    public func countsByRule() -> [String: Int] {
        var out = [String: Int]()
        for i in 0..<count { out[store.clusterItemKey(at: i), default: 0] += 1 }
        return out
    }

    // MARK: JSON

    /// The bytes Python's `json.dumps(snapshot)` writes (what the reference puts in
    /// `files_metadata.json`): `", "`/`": "` separators, non-ASCII as `\uXXXX`, no newline.
    public func jsonBytes() -> [UInt8] {
        let sink = MemorySink()
        try? writeJSON(to: sink)
        return sink.bytes
    }

    func writePython(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        writeRecords(0..<count, into: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// `writePython`, handed to `sink` in pieces of about `piece` bytes as `out` fills (what is
    /// left in `out` at the end is the caller's to write).
    func writePython(to sink: ByteSink, buffer out: inout [UInt8], piece: Int) throws {
        out.append(UInt8(ascii: "{"))
        for i in 0..<count {
            writeRecords(i..<(i + 1), into: &out)
            if out.count >= piece {
                try sink.write(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    private func writeRecords(_ range: Range<Int>, into out: inout [UInt8]) {
        for i in range {
            if i > 0 { out.append(UInt8(ascii: ",")); out.append(0x20) }
            store.writePython(i, into: &out)
        }
    }

    /// Streams the `json.dumps` bytes to a sink. Large snapshots are serialized on two threads,
    /// half each, and written in order.
    public func writeJSON(to sink: ByteSink) throws {
        let n = count
        let parts = n >= 4096 ? 8 : 1
        let per = (n + parts - 1) / Swift.max(parts, 1)
        let ranges = (0..<parts).map { p in Swift.min(n, p * per)..<Swift.min(n, (p + 1) * per) }
        let buffers = UnsafeMutableBufferPointer<[UInt8]>.allocate(capacity: parts)
        buffers.initialize(repeating: [])
        defer { _ = buffers.deinitialize(); buffers.deallocate() }
        let out = SendableBuffers(buffers)
        let body: @Sendable (Int) -> Void = { p in
            var b = [UInt8]()
            b.reserveCapacity(ranges[p].count * 290 + 2)
            writeRecords(ranges[p], into: &b)
            out.buffers[p] = b
        }
        if parts == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: body) }
        try sink.write([UInt8(ascii: "{")])
        for p in 0..<parts { try sink.write(buffers[p]) }
        try sink.write([UInt8(ascii: "}")])
    }

    public func toJSON() -> JSON {
        var o = JSONObject(minimumCapacity: count)
        for (p, r) in self { o[p] = r.toJSON() }
        return .object(o)
    }

    /// Reads a snapshot object `{path: record}`. Paths are not validated here; the places that
    /// act on them (apply, pack) do.
    public init(json: JSON, source: String = "snapshot") throws {
        guard case .object(let o) = json else {
            throw ClusterError.badData("\(source): expected an object of file records, got \(json.typeName)")
        }
        self.init(minimumCapacity: o.count)
        for (p, v) in o {
            do {
                appendUnique(p, try FileRecord(json: v, path: p))
            } catch let e as ClusterError {
                throw ClusterError.badData("\(source): \(e.message)")
            }
        }
    }

    /// Parses snapshot JSON bytes straight into records (`SnapshotReader`: no JSON tree; a
    /// master parses one of these per worker per cycle).
    public static func parse(_ bytes: [UInt8], source: String = "snapshot") throws -> Snapshot {
        try bytes.withUnsafeBytes { try SnapshotReader.parse($0, source: source) }
    }

    /// The same through jansson: the reference reader `SnapshotReader` is checked against.
    public static func parseWithJansson(_ bytes: [UInt8], source: String = "snapshot") throws -> Snapshot {
        try JanssonRecords.withObject(bytes, source: source) { root in
            try JanssonRecords.snapshot(root, source: source)
        }
    }
}

/// The lazily built path index of a snapshot, shared between copies until one of them mutates.
final class IndexBox: @unchecked Sendable {
    private let lock = NSLock()
    private var map: PathTable?

    init(_ map: PathTable? = nil) { self.map = map }

    var isBuilt: Bool {
        lock.lock(); defer { lock.unlock() }
        return map != nil
    }

    func table(_ store: PackedRecords) -> PathTable {
        lock.lock(); defer { lock.unlock() }
        if let map { return map }
        let m = PathTable(store)
        map = m
        return m
    }

    func copy(_ store: PackedRecords) -> IndexBox { IndexBox(table(store)) }

    /// Adds position i (just appended to `store`); only called on a box no other snapshot shares.
    func insert(_ i: Int, _ store: PackedRecords) {
        lock.lock(); defer { lock.unlock() }
        if map == nil {
            map = PathTable(store)
        } else {
            map!.insert(i, store)
        }
    }
}

final class SendableBuffers: @unchecked Sendable {
    let buffers: UnsafeMutableBufferPointer<[UInt8]>
    init(_ b: UnsafeMutableBufferPointer<[UInt8]>) { buffers = b }
}

/// Python `json.dumps` string output with a fast path for the common printable-ASCII case.
enum PythonJSON {
    /// The same for a string given as UTF-8 bytes.
    @inline(__always)
    static func appendString(bytes buf: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        for b in buf where b < 0x20 || b > 0x7E || b == 0x22 || b == 0x5C {
            JSONWriter.python.writeString(String(decoding: buf, as: UTF8.self), into: &out)
            return
        }
        out.append(0x22)
        out.append(contentsOf: buf)
        out.append(0x22)
    }

    @inline(__always)
    static func appendString(_ s: String, into out: inout [UInt8]) {
        let done: Bool? = s.utf8.withContiguousStorageIfAvailable { buf in
            for b in buf where b < 0x20 || b > 0x7E || b == 0x22 || b == 0x5C { return false }
            out.append(0x22)
            out.append(contentsOf: buf)
            out.append(0x22)
            return true
        }
        if done != true { JSONWriter.python.writeString(s, into: &out) }
    }
}

/// Direct jansson readers for snapshots and classifications.
enum JanssonRecords {
    static func withObject<T>(_ bytes: [UInt8], source: String,
                              _ body: (UnsafeMutablePointer<json_t>) throws -> T) throws -> T {
        var error = json_error_t()
        let flags = JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL
        let rootPtr: UnsafeMutablePointer<json_t>? = bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress?.assumingMemoryBound(to: CChar.self) ?? UnsafePointer<CChar>(bitPattern: 1)!
            return json_loadb(base, raw.count, size_t(flags), &error)
        }
        guard let root = rootPtr else {
            let text = withUnsafeBytes(of: &error.text) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            throw ClusterError.badData("\(source): invalid JSON at line \(error.line), column \(error.column): \(text)", code: 3036)
        }
        defer { json_decref(root) }
        return try body(root)
    }

    static func string(_ v: UnsafeMutablePointer<json_t>) -> String? {
        guard v.pointee.type == JSON_STRING, let p = json_string_value(v) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: json_string_length(v)), as: UTF8.self)
    }

    static func typeName(_ v: UnsafeMutablePointer<json_t>) -> String {
        switch v.pointee.type {
        case JSON_OBJECT: return "object"
        case JSON_ARRAY: return "array"
        case JSON_STRING: return "string"
        case JSON_INTEGER: return "integer"
        case JSON_REAL: return "number"
        case JSON_TRUE, JSON_FALSE: return "boolean"
        default: return "null"
        }
    }

    static func snapshot(_ obj: UnsafeMutablePointer<json_t>, source: String) throws -> Snapshot {
        guard obj.pointee.type == JSON_OBJECT else {
            throw ClusterError.badData("\(source): expected an object of file records, got \(typeName(obj))")
        }
        var s = Snapshot(minimumCapacity: json_object_size(obj))
        var it = json_object_iter(obj)
        while let i = it {
            let path = String(decoding: UnsafeRawBufferPointer(start: json_object_iter_key(i), count: json_object_iter_key_len(i)), as: UTF8.self)
            let r = try record(json_object_iter_value(i), path: path, source: source)
            s[path] = r
            it = json_object_iter_next(obj, i)
        }
        return s
    }

    static func record(_ v: UnsafeMutablePointer<json_t>, path: String, source: String) throws -> FileRecord {
        func fail(_ why: String) -> ClusterError {
            ClusterError.badData("\(source): record of \(SafePath.quoted(path)): \(why)")
        }
        guard v.pointee.type == JSON_OBJECT else { throw fail("expected an object, got \(typeName(v))") }
        guard let t = json_object_get(v, "mod_time"), t.pointee.type == JSON_REAL || t.pointee.type == JSON_INTEGER else {
            throw fail("mod_time must be a number")
        }
        let modTime = t.pointee.type == JSON_REAL ? json_real_value(t) : Double(json_integer_value(t))
        guard let k = json_object_get(v, "cluster_item_key"), let key = string(k) else {
            throw fail("cluster_item_key must be a string")
        }
        guard let h = json_object_get(v, "hash"), let hash = string(h) else { throw fail("hash must be a string") }
        var merged = false
        if let m = json_object_get(v, "merged") {
            switch m.pointee.type {
            case JSON_TRUE: merged = true
            case JSON_FALSE: merged = false
            default: throw fail("merged must be true or false")
            }
        }
        let mergeType = json_object_get(v, "merge_type").flatMap { string($0) }
        let mergeName = json_object_get(v, "merge_name").flatMap { string($0) }
        return FileRecord(modTime: modTime, clusterItemKey: key, merged: merged,
                          mergeType: mergeType, mergeName: mergeName, hash: hash)
    }
}
