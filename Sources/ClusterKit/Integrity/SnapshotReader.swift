import Foundation

/// Reads a snapshot's JSON (`files_metadata.json`) straight from its bytes into records, with
/// the strict byte-level reader (`JSONScanner`): no JSON tree, no jansson hash tables.
///
/// A master reads one of these per worker per integrity cycle (20,000 records is 5 MB of JSON),
/// and building jansson's tree was three quarters of the check. Strict as the jansson reader it
/// replaces: the same documents are accepted (duplicate keys refused at both levels, strings
/// valid UTF-8, integers within 64 bits), the same records come out, and a record's problems are
/// reported in the same words, checked in the same order (`mod_time`, `cluster_item_key`, `hash`,
/// `merged`).
enum SnapshotReader {
    private static let knownKeys: [(name: StaticString, bit: UInt8)] = [
        ("mod_time", 1), ("cluster_item_key", 2), ("hash", 4), ("merged", 8), ("merge_type", 16), ("merge_name", 32),
    ]

    /// The bit of a record key the reader knows, 0 for any other.
    private static func knownKeyBit(_ raw: UnsafeRawBufferPointer) -> UInt8 {
        for (name, bit) in knownKeys where name.utf8CodeUnitCount == raw.count {
            if memcmp(name.utf8Start, raw.baseAddress!, raw.count) == 0 { return bit }
        }
        return 0
    }

    private static func knownKeyName(_ bit: UInt8) -> String {
        knownKeys.first { $0.bit == bit }.map { "\($0.name)" } ?? "?"
    }

    static func parse(_ bytes: UnsafeRawBufferPointer, source: String) throws -> Snapshot {
        var s = JSONScanner(bytes)
        do {
            guard try s.peek() == UInt8(ascii: "{") else {
                let v = try s.value()
                throw SemanticError(message: "\(source): expected an object of file records, got \(v.typeName)")
            }
            let (snapshot, firstProblem) = try object(&s, source: source)
            try s.finish()
            if let firstProblem { throw firstProblem }
            return snapshot
        } catch let e as SemanticError {
            throw ClusterError.badData(e.message)
        } catch let e as ClusterError {
            throw ClusterError.badData("\(source): \(e.message)", code: 3036)
        }
    }

    /// Reads the object of file records at the scanner's position. A syntax error is thrown; the
    /// first record that is not a valid one is returned as the problem, for the caller to throw
    /// once the whole document has read (as with jansson, a document that is not JSON is refused
    /// as such wherever the first bad record is). Without `keepHashes`, each `hash` is checked
    /// and left out (an empty string): a third of a record's memory, which an apply never reads.
    static func object(_ s: inout JSONScanner, source: String, keepHashes: Bool = true) throws -> (Snapshot, SemanticError?) {
        try s.enter()
        defer { s.depth -= 1 }
        try s.expect(UInt8(ascii: "{"))
        var snapshot = Snapshot()
        var index = Set<String>()
        var firstProblem: SemanticError? = nil
        if !(try s.take(UInt8(ascii: "}"))) {
            repeat {
                guard try s.peek() == UInt8(ascii: "\"") else { throw s.fail("expected a key") }
                let path = try s.string()
                try s.expect(UInt8(ascii: ":"))
                guard index.insert(path).inserted else {
                    throw s.fail("duplicate key \"\(path.prefix(40))\"")
                }
                switch try record(&s, path: path, source: source, hash: keepHashes ? .keep : .check) {
                case .success(let r):
                    snapshot.appendUnique(path, r.record)
                case .failure(let problem):
                    if firstProblem == nil { firstProblem = problem }
                    snapshot.appendUnique(path, FileRecord(modTime: 0, clusterItemKey: "", hash: ""))
                }
            } while try s.take(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "}"))
        }
        return (snapshot, firstProblem)
    }

    /// A well-formed document that is not a snapshot (as opposed to one that is not JSON).
    struct SemanticError: Error { var message: String }

    /// What the record reader does with a record's `hash`.
    enum HashUse {
        /// Kept in the record.
        case keep
        /// Checked and left out (an empty string).
        case check
        /// Compared with the hash of this record of a snapshot (as the `String`s compare) and left
        /// out: the master's check of a worker's record it also has, which needs only whether the
        /// two differ.
        case compare(Snapshot, Int)
    }

    /// Reads one record; a syntax error is thrown, a record that is not a valid one is returned
    /// as its problem. `sameHash` says, with `.compare`, whether the hash equals the one given.
    static func record(_ s: inout JSONScanner, path: String, source: String,
                       hash use: HashUse) throws -> Result<(record: FileRecord, sameHash: Bool), SemanticError> {
        func fail(_ why: String) -> SemanticError {
            SemanticError(message: "\(source): record of \(SafePath.quoted(path)): \(why)")
        }
        guard try s.peek() == UInt8(ascii: "{") else {
            return .failure(fail("expected an object, got \(try s.value().typeName)"))
        }
        try s.enter()
        defer { s.depth -= 1 }
        try s.expect(UInt8(ascii: "{"))
        var modTime: Double? = nil, modTimeBad = false
        var key: String? = nil, keyBad = false
        var hash: String? = nil, hashBad = false
        var merged: Bool? = nil, mergedBad = false
        var mergeType: String? = nil, mergeName: String? = nil
        // The six known keys as bits; other keys (none in practice) in a set.
        var sameHash = false
        var seenKnown: UInt8 = 0
        var seenOther = Set<String>()
        if !(try s.take(UInt8(ascii: "}"))) {
            repeat {
                guard try s.peek() == UInt8(ascii: "\"") else { throw s.fail("expected a key") }
                // Keys are matched on their bytes: no String for the four every record has.
                var k = ""
                var bit: UInt8 = 0
                if let raw = try s.plainStringBytes() {
                    bit = Self.knownKeyBit(raw)
                    if bit == 0 { k = String(decoding: raw, as: UTF8.self) }
                } else {
                    k = try s.string()
                    bit = k.utf8.withContiguousStorageIfAvailable { Self.knownKeyBit(UnsafeRawBufferPointer($0)) } ?? 0
                }
                try s.expect(UInt8(ascii: ":"))
                let fresh = bit != 0 ? seenKnown & bit == 0 : seenOther.insert(k).inserted
                guard fresh else { throw s.fail("duplicate key \"\(k.isEmpty ? Self.knownKeyName(bit) : String(k.prefix(40)))\"") }
                seenKnown |= bit
                switch bit {
                case 1:
                    switch try s.value() {
                    case .double(let d): modTime = d
                    case .int(let n): modTime = Double(n)
                    default: modTimeBad = true
                    }
                case 2:
                    if try s.peek() == UInt8(ascii: "\"") { key = try s.string() } else { _ = try s.value(); keyBad = true }
                case 4:
                    if try s.peek() != UInt8(ascii: "\"") {
                        _ = try s.value()
                        hashBad = true
                    } else {
                        switch use {
                        case .keep:
                            hash = try s.string()
                        case .check:
                            if try s.plainStringBytes() == nil { _ = try s.string() }
                            hash = ""
                        case .compare(let snapshot, let i):
                            if let raw = try s.plainStringBytes() {
                                sameHash = snapshot.hashEquals(at: i, raw)
                            } else {
                                sameHash = try s.string() == snapshot.hash(at: i)
                            }
                            hash = ""
                        }
                    }
                case 8:
                    switch try s.value() {
                    case .bool(let b): merged = b
                    default: mergedBad = true
                    }
                case 16:
                    if case .string(let t) = try s.value() { mergeType = t }
                case 32:
                    if case .string(let t) = try s.value() { mergeName = t }
                default:
                    // No reference version writes other keys; they are read (checked) and ignored.
                    _ = try s.value()
                }
            } while try s.take(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "}"))
        }
        guard let modTime, !modTimeBad else { return .failure(fail("mod_time must be a number")) }
        guard let key, !keyBad else { return .failure(fail("cluster_item_key must be a string")) }
        guard let hash, !hashBad else { return .failure(fail("hash must be a string")) }
        guard !mergedBad else { return .failure(fail("merged must be true or false")) }
        return .success((FileRecord(modTime: modTime, clusterItemKey: key, merged: merged ?? false,
                                    mergeType: mergeType, mergeName: mergeName, hash: hash), sameHash))
    }

    /// Whether the UTF-8 bytes `raw` and `text` are equal as Swift `String`s are (canonical
    /// equivalence), without making a `String` in the usual case: equal bytes are equal strings,
    /// and two different ASCII texts are different strings.
    static func sameText(_ raw: UnsafeRawBufferPointer, _ text: String) -> Bool {
        let bytesEqual = text.utf8.withContiguousStorageIfAvailable { $0.elementsEqual(raw) } ?? text.utf8.elementsEqual(raw)
        if bytesEqual { return true }
        if raw.allSatisfy({ $0 < 0x80 }) && text.utf8.allSatisfy({ $0 < 0x80 }) { return false }
        return String(decoding: raw, as: UTF8.self) == text
    }
}
