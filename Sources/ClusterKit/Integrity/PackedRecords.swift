import Foundation

/// A snapshot's paths and records in a few flat arrays instead of a `String` per path and a
/// `FileRecord` (with a 128-character hash `String`) per file: what a master holds for every
/// file between scans.
///
/// Per file: the path's UTF-8 in one buffer with its end offset (4 bytes), the mtime (8), the
/// rule key as an index into a small table of keys (4), a flag byte, and the BLAKE2b-512 digest as
/// its 64 raw bytes when the hash is 128 lowercase hex digits (every hash a scan makes). A hash of
/// any other form (a peer's), and `merge_type`/`merge_name` (legacy merged files), are kept as
/// given in a side table by position, so every record reads back exactly as it was stored.
struct PackedRecords: Sendable {
    private(set) var pathBytes: [UInt8] = []
    private(set) var pathEnds: [UInt32] = []
    private var modTimes: [Double] = []
    private var keyIDs: [UInt32] = []
    /// Bit 0: merged; bit 1: has an entry in `odd`.
    private var flags: [UInt8] = []
    private var digests: [UInt8] = []
    private var keys: [String] = []
    private var keyLookup: [String: UInt32] = [:]
    /// Records with a hash that is not 128 lowercase hex digits or with merge fields.
    private var odd: [Int: Odd] = [:]

    struct Odd: Sendable {
        var hash: String?
        var mergeType: String?
        var mergeName: String?
    }

    static let digestBytes = 64

    init() {}

    init(minimumCapacity n: Int) {
        pathBytes.reserveCapacity(n * 40)
        pathEnds.reserveCapacity(n)
        modTimes.reserveCapacity(n)
        keyIDs.reserveCapacity(n)
        flags.reserveCapacity(n)
        digests.reserveCapacity(n * Self.digestBytes)
    }

    var count: Int { pathEnds.count }

    func pathRange(_ i: Int) -> Range<Int> { (i == 0 ? 0 : Int(pathEnds[i - 1]))..<Int(pathEnds[i]) }

    func path(at i: Int) -> String { String(decoding: pathBytes[pathRange(i)], as: UTF8.self) }

    /// Calls `body` with path i's UTF-8 bytes.
    func withPathBytes<T>(at i: Int, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let r = pathRange(i)
        return try pathBytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[r])) }
    }

    /// Whether both hold the very same arrays (copies of one snapshot).
    func sharesStorage(with other: PackedRecords) -> Bool {
        func same<T>(_ a: [T], _ b: [T]) -> Bool {
            a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { $0.baseAddress == x.baseAddress } }
        }
        return count > 0 && count == other.count && odd.isEmpty && other.odd.isEmpty
            && same(pathBytes, other.pathBytes) && same(pathEnds, other.pathEnds) && same(modTimes, other.modTimes)
            && same(keyIDs, other.keyIDs) && same(flags, other.flags) && same(digests, other.digests) && keys == other.keys
    }

    // MARK: records

    func record(at i: Int) -> FileRecord {
        let o = flags[i] & 2 != 0 ? odd[i] : nil
        return FileRecord(modTime: modTimes[i], clusterItemKey: keys[Int(keyIDs[i])], merged: flags[i] & 1 != 0,
                          mergeType: o?.mergeType, mergeName: o?.mergeName, hash: o?.hash ?? hexHash(at: i))
    }

    func clusterItemKey(at i: Int) -> String { keys[Int(keyIDs[i])] }

    /// The hash as the record's `String` (lowercase hex of the digest, or as given).
    func hash(at i: Int) -> String {
        if flags[i] & 2 != 0, let h = odd[i]?.hash { return h }
        return hexHash(at: i)
    }

    private func hexHash(at i: Int) -> String {
        digests.withUnsafeBytes { Hex.encode(UnsafeRawBufferPointer(rebasing: $0[(i * 64)..<(i * 64 + 64)])) }
    }

    /// Whether record i's hash equals the UTF-8 text `raw`, as the two `String`s compare.
    func hashEquals(at i: Int, _ raw: UnsafeRawBufferPointer) -> Bool {
        if flags[i] & 2 != 0, let h = odd[i]?.hash { return SnapshotReader.sameText(raw, h) }
        // The stored hash is ASCII: an ASCII text equals it exactly when its bytes do.
        guard raw.count == 128 else { return raw.contains { $0 >= 0x80 } && SnapshotReader.sameText(raw, hexHash(at: i)) }
        return digests.withUnsafeBytes { d in
            let base = i * 64
            for k in 0..<64 {
                guard let hi = Self.lowerHexValue(raw[2 * k]), let lo = Self.lowerHexValue(raw[2 * k + 1]),
                      hi << 4 | lo == d[base + k] else {
                    return raw.contains { $0 >= 0x80 } && SnapshotReader.sameText(raw, hexHash(at: i))
                }
            }
            return true
        }
    }

    /// Whether records i of `self` and j of `other` have equal hashes (as their `String`s compare).
    func hashEquals(at i: Int, _ other: PackedRecords, at j: Int) -> Bool {
        let a = flags[i] & 2 != 0 ? odd[i]?.hash : nil
        let b = other.flags[j] & 2 != 0 ? other.odd[j]?.hash : nil
        if a == nil && b == nil {
            return digests.withUnsafeBytes { x in
                other.digests.withUnsafeBytes { y in memcmp(x.baseAddress! + i * 64, y.baseAddress! + j * 64, 64) == 0 }
            }
        }
        return (a ?? hexHash(at: i)) == (b ?? other.hexHash(at: j))
    }

    @inline(__always)
    private static func lowerHexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c &- UInt8(ascii: "a") &+ 10
        default: return nil
        }
    }

    /// The digest of a hash of exactly 128 lowercase hex digits, appended to `out`; false (and
    /// `out` as it was) for any other text.
    private static func appendDigest(ofHex hash: String, to out: inout [UInt8]) -> Bool {
        var h = hash
        return h.withUTF8 { u -> Bool in
            guard u.count == 128 else { return false }
            let start = out.count
            for k in 0..<64 {
                guard let hi = lowerHexValue(u[2 * k]), let lo = lowerHexValue(u[2 * k + 1]) else {
                    out.removeSubrange(start...)
                    return false
                }
                out.append(hi << 4 | lo)
            }
            return true
        }
    }

    private mutating func keyID(_ key: String) -> UInt32 {
        if let last = keyIDs.last, keys[Int(last)] == key, keyLookup[key] == last { return last }
        if let id = keyLookup[key] { return id }
        let id = UInt32(keys.count)
        keys.append(key)
        keyLookup[key] = id
        return id
    }

    /// Appends a path and its record. With `digest`, the record's `hash` is ignored and the 64
    /// bytes are its digest.
    mutating func append(_ path: String, _ r: FileRecord, digest: UnsafeRawPointer? = nil) {
        var p = path
        p.withUTF8 { pathBytes.append(contentsOf: $0) }
        precondition(pathBytes.count <= Int(UInt32.max), "snapshot paths over 4 GiB")
        pathEnds.append(UInt32(pathBytes.count))
        modTimes.append(r.modTime)
        keyIDs.append(keyID(r.clusterItemKey))
        let i = flags.count
        flags.append(r.merged ? 1 : 0)
        setHashAndMerge(i, r, digest: digest, appending: true)
    }

    /// Replaces record i (its path stays).
    mutating func replace(at i: Int, _ r: FileRecord, digest: UnsafeRawPointer? = nil) {
        modTimes[i] = r.modTime
        keyIDs[i] = keyID(r.clusterItemKey)
        flags[i] = r.merged ? 1 : 0
        odd[i] = nil
        setHashAndMerge(i, r, digest: digest, appending: false)
    }

    private mutating func setHashAndMerge(_ i: Int, _ r: FileRecord, digest: UnsafeRawPointer?, appending: Bool) {
        var oddHash: String? = nil
        if let digest {
            if appending {
                digests.append(contentsOf: UnsafeRawBufferPointer(start: digest, count: 64))
            } else {
                digests.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: i * 64).copyMemory(from: digest, byteCount: 64) }
            }
        } else {
            var d = [UInt8]()
            d.reserveCapacity(64)
            if !Self.appendDigest(ofHex: r.hash, to: &d) {
                d = [UInt8](repeating: 0, count: 64)
                oddHash = r.hash
            }
            if appending {
                digests.append(contentsOf: d)
            } else {
                digests.replaceSubrange((i * 64)..<(i * 64 + 64), with: d)
            }
        }
        if oddHash != nil || r.mergeType != nil || r.mergeName != nil {
            flags[i] |= 2
            odd[i] = Odd(hash: oddHash, mergeType: r.mergeType, mergeName: r.mergeName)
        }
    }

    /// The records whose positions `keep` accepts, in order.
    func filter(_ keep: (Int) -> Bool) -> PackedRecords {
        var out = PackedRecords(minimumCapacity: count)
        for i in 0..<count where keep(i) { out.appendCopy(of: i, from: self) }
        return out
    }

    /// Appends record i of `other` as it is stored (no hex).
    mutating func appendCopy(of i: Int, from other: PackedRecords) {
        other.withPathBytes(at: i) { pathBytes.append(contentsOf: $0) }
        pathEnds.append(UInt32(pathBytes.count))
        modTimes.append(other.modTimes[i])
        keyIDs.append(keyID(other.keys[Int(other.keyIDs[i])]))
        let j = flags.count
        flags.append(other.flags[i])
        other.digests.withUnsafeBytes { digests.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[(i * 64)..<(i * 64 + 64)])) }
        if other.flags[i] & 2 != 0 { odd[j] = other.odd[i] }
    }

    // MARK: JSON

    /// Appends `"path": {record}` as Python's `json.dumps` writes it (`FileRecord.writePython`).
    func writePython(_ i: Int, into out: inout [UInt8]) {
        withPathBytes(at: i) { PythonJSON.appendString(bytes: $0, into: &out) }
        out.append(UInt8(ascii: ":")); out.append(0x20)
        out.append(contentsOf: #"{"mod_time": "#.utf8)
        JSONWriter.writeDouble(modTimes[i], into: &out)
        out.append(contentsOf: #", "cluster_item_key": "#.utf8)
        PythonJSON.appendString(keys[Int(keyIDs[i])], into: &out)
        out.append(contentsOf: flags[i] & 1 != 0 ? #", "merged": true"#.utf8 : #", "merged": false"#.utf8)
        let o = flags[i] & 2 != 0 ? odd[i] : nil
        if let mergeType = o?.mergeType {
            out.append(contentsOf: #", "merge_type": "#.utf8)
            PythonJSON.appendString(mergeType, into: &out)
        }
        if let mergeName = o?.mergeName {
            out.append(contentsOf: #", "merge_name": "#.utf8)
            PythonJSON.appendString(mergeName, into: &out)
        }
        out.append(contentsOf: #", "hash": "#.utf8)
        if let h = o?.hash {
            PythonJSON.appendString(h, into: &out)
        } else {
            // Lowercase hex is printable ASCII: Python writes it quoted as it is.
            out.append(0x22)
            digests.withUnsafeBytes { d in
                for k in (i * 64)..<(i * 64 + 64) {
                    out.append(Hex.digits[Int(d[k] >> 4)])
                    out.append(Hex.digits[Int(d[k] & 0x0F)])
                }
            }
            out.append(0x22)
        }
        out.append(UInt8(ascii: "}"))
    }
}

/// A compact path → position index over `PackedRecords`: an open-addressed table of positions
/// (4 bytes a slot, at most half full) keyed by a hash of the path's bytes, where a
/// `[String: Int]` held a `String` per path. Paths are compared as bytes (as Python compares
/// dictionary keys by code points).
struct PathTable: Sendable {
    /// Position + 1; 0 is an empty slot.
    private var slots: [UInt32]
    private var mask: Int
    private(set) var count = 0

    init(capacity n: Int) {
        var size = 16
        while size < n * 2 { size <<= 1 }
        slots = [UInt32](repeating: 0, count: size)
        mask = size - 1
    }

    init(_ records: PackedRecords) {
        self.init(capacity: records.count)
        for i in 0..<records.count { insert(i, records) }
    }

    @inline(__always)
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        // FNV-1a, 64-bit.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    func position(of path: UnsafeRawBufferPointer, in records: PackedRecords) -> Int? {
        var s = Self.hash(path) & mask
        return records.pathBytes.withUnsafeBytes { blob -> Int? in
            while true {
                let v = Int(slots[s])
                if v == 0 { return nil }
                let r = records.pathRange(v - 1)
                if r.count == path.count && (r.isEmpty || memcmp(blob.baseAddress! + r.lowerBound, path.baseAddress!, r.count) == 0) {
                    return v - 1
                }
                s = (s + 1) & mask
            }
        }
    }

    func position(of path: String, in records: PackedRecords) -> Int? {
        var p = path
        return p.withUTF8 { position(of: UnsafeRawBufferPointer($0), in: records) }
    }

    /// Adds position i (its path must not be in the table yet).
    mutating func insert(_ i: Int, _ records: PackedRecords) {
        if (count + 1) * 2 > slots.count {
            var bigger = PathTable(capacity: slots.count)
            for k in 0..<i { bigger.insert(k, records) }
            self = bigger
        }
        var s = records.withPathBytes(at: i) { Self.hash($0) } & mask
        while slots[s] != 0 { s = (s + 1) & mask }
        slots[s] = UInt32(i + 1)
        count += 1
    }
}
