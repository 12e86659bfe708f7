/// Reads the rows of one agent-info chunk straight into records: the master reads every row of
/// every push, tens of thousands at a time, and building a JSON value per row first (jansson's
/// hash tables, then ours) cost more than the database writes. Rows are read leniently and checked
/// exactly as `AgentRecord(json:strict: false)` checks them, with the same messages. The CLI's
/// JSON Lines go through the same reader, strictly.
public enum AgentChunkReader {
    /// Each row's record, or why it was refused. A chunk that is not a JSON array, or not valid
    /// JSON, is an error as a whole.
    public static func rows(_ chunk: String) throws -> [Result<AgentRecord, ClusterError>] {
        var text = chunk
        return try text.withUTF8 { buffer in
            var s = JSONScanner(UnsafeRawBufferPointer(buffer))
            guard try s.peek() == UInt8(ascii: "[") else { throw ClusterError.badData("not a JSON array") }
            try s.enter()
            s.i += 1
            var out = [Result<AgentRecord, ClusterError>]()
            if try !s.take(UInt8(ascii: "]")) {
                repeat { out.append(try row(&s, strict: false)) } while try s.take(UInt8(ascii: ","))
                try s.expect(UInt8(ascii: "]"))
            }
            try s.finish()
            return out
        }
    }

    /// One record from one JSON document (a line of `agents upsert`), checked as
    /// `AgentRecord(json:strict:)`.
    public static func record(_ bytes: UnsafeRawBufferPointer, strict: Bool) throws -> AgentRecord {
        var s = JSONScanner(bytes)
        let r = try row(&s, strict: strict)
        try s.finish()
        return try r.get()
    }

    static let fieldNameBytes: [[UInt8]] = AgentRecord.fields.map { Array($0.name.utf8) }
    static let labelsBytes = Array("labels".utf8)

    /// A key that is a field, `id` or `labels`, without building a string (every row has a
    /// dozen or more): its name and field index, or nil for any other key.
    @inline(__always)
    static func knownKey(_ raw: UnsafeRawBufferPointer, guess: Int) -> (String, Int?)? {
        func equal(_ name: [UInt8]) -> Bool { name.count == raw.count && name.withUnsafeBytes { $0.elementsEqual(raw) } }
        if guess < fieldNameBytes.count, equal(fieldNameBytes[guess]) { return (AgentRecord.fields[guess].name, guess) }
        if raw.count == 2, raw[0] == UInt8(ascii: "i"), raw[1] == UInt8(ascii: "d") { return ("id", nil) }
        if equal(labelsBytes) { return ("labels", nil) }
        for (i, name) in fieldNameBytes.enumerated() where equal(name) { return (AgentRecord.fields[i].name, i) }
        return nil
    }

    static func row(_ s: inout JSONScanner, strict: Bool) throws -> Result<AgentRecord, ClusterError> {
        guard try s.peek() == UInt8(ascii: "{") else {
            let v = try s.value()
            return .failure(ClusterError.badData("expected a JSON object, got \(v.typeName)"))
        }
        try s.enter()
        defer { s.depth -= 1 }
        s.i += 1
        var r = AgentRecord(id: 0)
        var id: JSON? = nil
        var firstError: ClusterError? = nil
        var seen: UInt64 = 0
        var unknownSeen = Set<String>()
        // Rows list their fields in the reference's order: the field after the last one found
        // is tried first.
        var guess = 0
        if try !s.take(UInt8(ascii: "}")) {
            repeat {
                guard try s.peek() == UInt8(ascii: "\"") else { throw s.fail("expected a key") }
                let key: String
                let field: Int?
                if let raw = try s.plainStringBytes() {
                    if let known = knownKey(raw, guess: guess) {
                        (key, field) = known
                    } else {
                        key = String(decoding: raw, as: UTF8.self)
                        field = AgentRecord.fieldIndex[key]
                    }
                } else {
                    key = try s.string()
                    field = AgentRecord.fieldIndex[key]
                }
                if let field { guess = field + 1 }
                try s.expect(UInt8(ascii: ":"))
                // Duplicate keys make the whole chunk invalid, as jansson's JSON_REJECT_DUPLICATES.
                let bit: UInt64?
                if let field {
                    bit = 1 << UInt64(field)
                } else {
                    switch key {
                    case "id": bit = 1 << 62
                    case "labels": bit = 1 << 63
                    default: bit = nil
                    }
                }
                if let bit {
                    guard seen & bit == 0 else { throw s.fail("duplicate key \"\(key)\"") }
                    seen |= bit
                } else {
                    guard unknownSeen.insert(key).inserted else { throw s.fail("duplicate key \"\(key.prefix(40))\"") }
                }
                if field == nil, bit == 1 << 62 {
                    id = try s.value()
                    continue
                }
                if field == nil, bit == 1 << 63 {
                    let v = try s.value()
                    if firstError == nil, !v.isNull {
                        do { r.labels = try AgentLabel.parseList(v) } catch let e as ClusterError { firstError = e }
                    }
                    continue
                }
                let scalar: AgentRecord.Scalar
                switch try s.peek() {
                case UInt8(ascii: "\""): scalar = .text(try s.string())
                case UInt8(ascii: "n"):
                    try s.literal("null")
                    scalar = .null
                default:
                    switch try s.value() {
                    case .int(let n): scalar = .integer(n)
                    case .null: scalar = .null
                    case .string(let t): scalar = .text(t)
                    case let other: scalar = .other(other.typeName)
                    }
                }
                if firstError == nil {
                    do { try r.set(key, index: field, scalar, strict: strict) } catch let e as ClusterError { firstError = e }
                }
            } while try s.take(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "}"))
        }
        do {
            r.id = try AgentRecord.parseID(id)
            if let firstError { throw firstError }
            try r.check(strict: strict)
            return .success(r)
        } catch let e as ClusterError {
            return .failure(e)
        }
    }
}
