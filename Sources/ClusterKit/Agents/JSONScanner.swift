/// A strict JSON reader over bytes (RFC 8259), for the two documents the master reads most: the
/// agent-info envelope (a few keys around megabytes of escaped strings) and the chunks' rows
/// (tens of thousands of flat objects). jansson builds a hash table and allocates every key and
/// value of every row; reading the rows straight into records is several times faster.
///
/// Strict as jansson with `JSON_REJECT_DUPLICATES`: one value per document, no trailing commas or
/// leading zeros, escapes and control characters checked, strings valid UTF-8 (surrogates paired),
/// integers within 64 bits, nesting at most `maxDepth` deep.
struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    var i = 0
    var depth = 0
    static let maxDepth = 512

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func fail(_ why: String) -> ClusterError {
        ClusterError.badData("invalid JSON at byte \(i): \(why)")
    }

    var atEnd: Bool { i >= bytes.count }

    @inline(__always)
    mutating func skipSpace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    @inline(__always)
    mutating func peek() throws -> UInt8 {
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end") }
        return bytes[i]
    }

    mutating func expect(_ b: UInt8) throws {
        guard try peek() == b else { throw fail("expected '\(Character(UnicodeScalar(b)))'") }
        i += 1
    }

    /// Consumes `b` if it is next.
    mutating func take(_ b: UInt8) throws -> Bool {
        if try peek() == b { i += 1; return true }
        return false
    }

    mutating func finish() throws {
        skipSpace()
        guard i == bytes.count else { throw fail("unexpected data after the value") }
    }

    // MARK: values

    mutating func value() throws -> JSON {
        switch try peek() {
        case UInt8(ascii: "{"): return .object(try object())
        case UInt8(ascii: "["): return .array(try array())
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return try number()
        }
    }

    mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw fail("unexpected end") }
        for k in 0..<n where bytes[i + k] != word.utf8Start[k] { throw fail("invalid literal") }
        i += n
    }

    mutating func enter() throws {
        depth += 1
        guard depth <= JSONScanner.maxDepth else { throw fail("nested deeper than \(JSONScanner.maxDepth)") }
    }

    mutating func object() throws -> JSONObject {
        try enter()
        defer { depth -= 1 }
        try expect(UInt8(ascii: "{"))
        var o = JSONObject()
        if try take(UInt8(ascii: "}")) { return o }
        repeat {
            guard try peek() == UInt8(ascii: "\"") else { throw fail("expected a key") }
            let k = try string()
            // As jansson (JSON.parse): a key cannot hold U+0000, escaped or not (fuzzing found
            // the two readers disagreeing on "\u0000" in a key).
            guard !k.utf8.contains(0) else { throw fail("NUL byte in object key not supported") }
            try expect(UInt8(ascii: ":"))
            let v = try value()
            guard o[k] == nil else { throw fail("duplicate key \"\(k.prefix(40))\"") }
            o[k] = v
        } while try take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
        return o
    }

    mutating func array() throws -> [JSON] {
        try enter()
        defer { depth -= 1 }
        try expect(UInt8(ascii: "["))
        var a = [JSON]()
        if try take(UInt8(ascii: "]")) { return a }
        repeat { a.append(try value()) } while try take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"))
        return a
    }

    /// A number: `.int` when it is an integer that fits in 64 bits, `.double` otherwise
    /// (an integer too large for 64 bits is refused, as jansson refuses it).
    mutating func number() throws -> JSON {
        skipSpace()
        let start = i
        if i < bytes.count && bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, (0x30...0x39).contains(bytes[i]) else { throw fail("invalid value") }
        if bytes[i] == 0x30 {
            i += 1
            if i < bytes.count && (0x30...0x39).contains(bytes[i]) { throw fail("leading zero") }
        } else {
            while i < bytes.count && (0x30...0x39).contains(bytes[i]) { i += 1 }
        }
        var isInteger = true
        if i < bytes.count && bytes[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            guard i < bytes.count, (0x30...0x39).contains(bytes[i]) else { throw fail("digits expected after '.'") }
            while i < bytes.count && (0x30...0x39).contains(bytes[i]) { i += 1 }
        }
        if i < bytes.count && (bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
            isInteger = false
            i += 1
            if i < bytes.count && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < bytes.count, (0x30...0x39).contains(bytes[i]) else { throw fail("digits expected in the exponent") }
            while i < bytes.count && (0x30...0x39).contains(bytes[i]) { i += 1 }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        if isInteger {
            guard let n = Int64(text) else { throw fail("integer \(text.prefix(30)) does not fit in 64 bits") }
            return .int(n)
        }
        guard let d = Double(text), d.isFinite else { throw fail("number \(text.prefix(30)) is out of range") }
        return .double(d)
    }

    /// The bytes of a string literal that has no escapes (validated, not copied), for matching
    /// keys without making Strings; nil, with nothing consumed, when it has escapes.
    mutating func plainStringBytes() throws -> UnsafeRawBufferPointer? {
        let before = i
        try expect(UInt8(ascii: "\""))
        let start = i
        var high: UInt64 = 0
        // Eight bytes at a time up to the first quote, backslash or control character.
        i = ByteWords.plainRun(bytes, from: i, high: &high)
        guard i < bytes.count else { throw fail("unterminated string") }
        switch bytes[i] {
        case UInt8(ascii: "\""):
            let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<i])
            i += 1
            guard !ByteWords.hasHighBit(high) || JSONScanner.isValidUTF8(raw) else { throw fail("invalid UTF-8 in a string") }
            return raw
        case UInt8(ascii: "\\"):
            i = before
            return nil
        default:
            throw fail("control character in a string")
        }
    }

    /// A string literal. The common case (no escapes) is one validated copy.
    mutating func string() throws -> String {
        if let raw = try plainStringBytes() { return String(decoding: raw, as: UTF8.self) }
        if let s = try escapedString() { return s }
        return try escapedStringByteByByte()
    }

    /// A string with escapes, decoded straight into the string's storage: one pass finds the
    /// closing quote, a second copies the runs between escapes eight bytes at a time (an
    /// agent-info envelope is megabytes of chunks whose every quote is escaped). Nil, with
    /// nothing consumed, when the literal has a control character or no end: the byte-by-byte
    /// reader then reports it exactly where it always has.
    mutating func escapedString() throws -> String? {
        let before = i
        try expect(UInt8(ascii: "\""))
        let start = i, n = bytes.count
        var end = start
        var high: UInt64 = 0
        while true {
            end = ByteWords.plainRun(bytes, from: end, high: &high)
            guard end < n else { i = before; return nil }
            let b = bytes[end]
            if b == UInt8(ascii: "\"") { break }
            guard b == UInt8(ascii: "\\") else { i = before; return nil }
            // The backslash and the byte it escapes (checked below).
            end += 2
        }
        var ignored: UInt64 = 0
        let s = try String(unsafeUninitializedCapacity: end - start) { out -> Int in
            let base = out.baseAddress!
            var o = 0
            var j = start
            while true {
                let run = ByteWords.plainRun(bytes, from: j, high: &ignored)
                if run > j {
                    UnsafeMutableRawPointer(base + o).copyMemory(from: bytes.baseAddress! + j, byteCount: run - j)
                    o += run - j
                }
                j = run
                if j >= end { break }
                // A backslash.
                i = j + 1
                let e = bytes[i]
                i += 1
                let decoded: UInt8
                switch e {
                case UInt8(ascii: "\""): decoded = 0x22
                case UInt8(ascii: "\\"): decoded = 0x5C
                case UInt8(ascii: "/"): decoded = 0x2F
                case UInt8(ascii: "b"): decoded = 0x08
                case UInt8(ascii: "f"): decoded = 0x0C
                case UInt8(ascii: "n"): decoded = 0x0A
                case UInt8(ascii: "r"): decoded = 0x0D
                case UInt8(ascii: "t"): decoded = 0x09
                case UInt8(ascii: "u"):
                    let scalar = try unicodeEscape()
                    for b in String(Character(UnicodeScalar(scalar)!)).utf8 {
                        base[o] = b
                        o += 1
                    }
                    j = i
                    continue
                default:
                    throw fail("invalid escape")
                }
                base[o] = decoded
                o += 1
                j = i
            }
            guard !ByteWords.hasHighBit(high) || JSONScanner.isValidUTF8(UnsafeRawBufferPointer(start: base, count: o)) else {
                i = end + 1
                throw fail("invalid UTF-8 in a string")
            }
            return o
        }
        i = end + 1
        return s
    }

    /// The scalar of a `\u` escape whose four hex digits start at `i` (a surrogate pair as one).
    mutating func unicodeEscape() throws -> UInt32 {
        var scalar = UInt32(try hex4())
        if (0xD800...0xDBFF).contains(scalar) {
            guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                throw fail("unpaired surrogate")
            }
            i += 2
            let low = UInt32(try hex4())
            guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate") }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(scalar) {
            throw fail("unpaired surrogate")
        }
        return scalar
    }

    /// The same, byte by byte: for literals `escapedString` leaves (they are errors).
    mutating func escapedStringByteByByte() throws -> String {
        try expect(UInt8(ascii: "\""))
        let start = i
        // Up to the first escape, which `plainStringBytes` found with nothing wrong before it.
        while bytes[i] != UInt8(ascii: "\\") { i += 1 }
        // Escapes: build the bytes.
        var out = [UInt8]()
        out.reserveCapacity(i - start + 16)
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                return try out.withUnsafeBytes { raw in
                    guard JSONScanner.isValidUTF8(raw) else { throw fail("invalid UTF-8 in a string") }
                    return String(decoding: raw, as: UTF8.self)
                }
            }
            if b < 0x20 { throw fail("control character in a string") }
            guard b == UInt8(ascii: "\\") else {
                out.append(b)
                i += 1
                continue
            }
            i += 1
            guard i < bytes.count else { break }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"): out.append(contentsOf: String(Character(UnicodeScalar(try unicodeEscape())!)).utf8)
            default:
                throw fail("invalid escape")
            }
        }
        throw fail("unterminated string")
    }

    mutating func hex4() throws -> UInt16 {
        guard i + 4 <= bytes.count else { throw fail("short \\u escape") }
        var v: UInt16 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x61...0x66: d = c - 0x61 + 10
            case 0x41...0x46: d = c - 0x41 + 10
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | UInt16(d)
            i += 1
        }
        return v
    }

    /// Whether `b` is well-formed UTF-8 (no overlong forms, no surrogates, nothing above
    /// U+10FFFF), with a fast path for ASCII. (`String(decoding:)` would repair it silently.)
    static func isValidUTF8(_ b: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = b.count
        while i < n {
            i = ByteWords.skip(b, from: i) { !ByteWords.hasHighBit($0) }
            guard i < n else { break }
            let c = b[i]
            if c < 0x80 { i += 1; continue }
            let need: Int
            var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
            switch c {
            case 0xC2...0xDF: need = 1
            case 0xE0: need = 2; lo = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: need = 2
            case 0xED: need = 2; hi = 0x9F
            case 0xF0: need = 3; lo = 0x90
            case 0xF1...0xF3: need = 3
            case 0xF4: need = 3; hi = 0x8F
            default: return false
            }
            guard i + need < n else { return false }
            let first = b[i + 1]
            guard first >= lo && first <= hi else { return false }
            var k = 2
            while k <= need {
                guard b[i + k] & 0xC0 == 0x80 else { return false }
                k += 1
            }
            i += need + 1
        }
        return true
    }

    /// Parses a whole document.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSON {
        var s = JSONScanner(bytes)
        let v = try s.value()
        try s.finish()
        return v
    }
}
