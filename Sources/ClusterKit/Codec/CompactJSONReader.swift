/// Reads JSON that `JSONWriter.compact` wrote, in place, as spans of bytes: a value is skipped,
/// not built, and accepted only when it is valid JSON as strict as `JSONScanner` (no duplicate
/// keys, UTF-8 checked, integers within 64 bits, nesting at most `JSONScanner.maxDepth` deep)
/// *and* exactly the bytes `JSONWriter.compact` writes for the value read there: no spaces,
/// only the writer's escapes (`\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, `\u00xx` for the other
/// control characters), integers without `-0`, no fractions or exponents. A span it accepts can
/// therefore be copied into another document in place of writing its value again.
///
/// Anything else makes it answer false (it does not say why): the caller then reads the
/// document the general way. Object keys must be ASCII, so that comparing their bytes is
/// comparing them as Swift compares strings.
struct CompactJSONReader {
    let bytes: UnsafeRawBufferPointer
    var i = 0
    /// Objects and arrays entered, counted as `JSONScanner` counts them.
    var depth = 0
    /// The keys of the objects being read, innermost last (hash and span), and where each
    /// object's keys begin.
    private var keys: [(hash: UInt64, start: Int, end: Int)] = []
    /// Where each open object's keys begin, and which of 128 bits their hashes set (a new key
    /// whose bit is clear repeats none of them).
    private var scopes: [(base: Int, low: UInt64, high: UInt64)] = []

    init(_ bytes: UnsafeRawBufferPointer, depth: Int = 0) {
        self.bytes = bytes
        self.depth = depth
        keys.reserveCapacity(64)
        scopes.reserveCapacity(8)
    }

    var atEnd: Bool { i == bytes.count }

    /// Consumes `b` if it is next.
    @inline(__always)
    mutating func take(_ b: UInt8) -> Bool {
        guard i < bytes.count, bytes[i] == b else { return false }
        i += 1
        return true
    }

    /// Consumes `literal` if the bytes continue with it.
    mutating func take(_ literal: [UInt8]) -> Bool {
        guard bytes.count - i >= literal.count else { return false }
        for k in 0..<literal.count where bytes[i + k] != literal[k] { return false }
        i += literal.count
        return true
    }

    // MARK: objects, member by member

    /// Consumes `{` and begins a new scope of keys.
    mutating func enterObject() -> Bool {
        guard take(UInt8(ascii: "{")), enter() else { return false }
        scopes.append((keys.count, 0, 0))
        return true
    }

    /// Ends the scope `enterObject` began (the caller consumed `}`).
    mutating func leaveObject() {
        keys.removeSubrange(scopes.removeLast().base...)
        depth -= 1
    }

    /// A member's key and its `:`: the key's bytes as written (between the quotes), nil when it
    /// is not an ASCII string in the writer's form, or repeats a key of the same object.
    mutating func key() -> Range<Int>? {
        guard let (span, hash) = keyString() else { return nil }
        let scope = scopes.count - 1
        let top = hash >> 57
        let bit = UInt64(1) << (top & 63)
        let seen = top & 64 == 0 ? scopes[scope].low & bit : scopes[scope].high & bit
        if seen != 0 {
            for k in keys[scopes[scope].base...] where k.hash == hash && k.end - k.start == span.count {
                if memcmpEqual(k.start, span.lowerBound, span.count) { return nil }
            }
        }
        if top & 64 == 0 { scopes[scope].low |= bit } else { scopes[scope].high |= bit }
        keys.append((hash, span.lowerBound, span.upperBound))
        guard take(UInt8(ascii: ":")) else { return nil }
        return span
    }

    @inline(__always)
    func memcmpEqual(_ a: Int, _ b: Int, _ n: Int) -> Bool {
        for k in 0..<n where bytes[a + k] != bytes[b + k] { return false }
        return true
    }

    /// Whether the bytes of `span` are `expected`.
    func bytes(_ span: Range<Int>, equal expected: [UInt8]) -> Bool {
        guard span.count == expected.count else { return false }
        for k in 0..<expected.count where bytes[span.lowerBound + k] != expected[k] { return false }
        return true
    }

    private mutating func enter() -> Bool {
        depth += 1
        return depth <= JSONScanner.maxDepth
    }

    // MARK: values

    /// Skips one value in the writer's form; false when it is not.
    mutating func skipValue() -> Bool {
        guard i < bytes.count else { return false }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            guard enterObject() else { return false }
            if !take(UInt8(ascii: "}")) {
                repeat {
                    guard key() != nil, skipValue() else { return false }
                } while take(UInt8(ascii: ","))
                guard take(UInt8(ascii: "}")) else { return false }
            }
            leaveObject()
            return true
        case UInt8(ascii: "["):
            i += 1
            guard enter() else { return false }
            if !take(UInt8(ascii: "]")) {
                repeat {
                    guard skipValue() else { return false }
                } while take(UInt8(ascii: ","))
                guard take(UInt8(ascii: "]")) else { return false }
            }
            depth -= 1
            return true
        case UInt8(ascii: "\""): return string() != nil
        case UInt8(ascii: "t"): return take(CompactJSONReader.trueBytes)
        case UInt8(ascii: "f"): return take(CompactJSONReader.falseBytes)
        case UInt8(ascii: "n"): return take(CompactJSONReader.nullBytes)
        default: return integer() != nil
        }
    }

    static let trueBytes = Array("true".utf8), falseBytes = Array("false".utf8), nullBytes = Array("null".utf8)

    /// An integer as the writer writes an `Int64`; nil for anything else (fractions and
    /// exponents included: their form is not checked here).
    mutating func integer() -> Int64? {
        let negative = take(UInt8(ascii: "-"))
        guard i < bytes.count, (0x30...0x39).contains(bytes[i]) else { return nil }
        var magnitude: UInt64 = 0
        if bytes[i] == 0x30 {
            i += 1
            if negative { return nil }
        } else {
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) {
                let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(UInt64(bytes[i] - 0x30))
                guard !o1, !o2 else { return nil }
                magnitude = s
                i += 1
            }
        }
        if i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), 0x30...0x39: return nil
            default: break
            }
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// A string in the writer's form: the span between its quotes, and whether all its bytes
    /// are ASCII.
    /// In a key (`key`), `\u0000` is refused, as `JSONScanner` and jansson refuse U+0000 in a key.
    mutating func string(key: Bool = false) -> (span: Range<Int>, ascii: Bool)? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = i, n = bytes.count
        var high: UInt64 = 0
        while true {
            // Up to the first quote, backslash or control character, noting whether any byte
            // before it is not ASCII.
            i = ByteWords.plainRun(bytes, from: i, high: &high)
            guard i < n else { return nil }
            switch bytes[i] {
            case UInt8(ascii: "\""):
                let span = start..<i
                i += 1
                let ascii = !ByteWords.hasHighBit(high)
                guard ascii || JSONScanner.isValidUTF8(UnsafeRawBufferPointer(rebasing: bytes[span])) else { return nil }
                return (span, ascii)
            case UInt8(ascii: "\\"):
                guard escape(refusingNul: key) else { return nil }
            default:
                return nil
            }
        }
    }

    /// A key in the writer's form, ASCII only: the span between its quotes and a hash of it
    /// (of its length and its first and last eight bytes: enough to tell keys apart cheaply).
    mutating func keyString() -> (Range<Int>, UInt64)? {
        guard let (span, ascii) = string(key: true), ascii else { return nil }
        let n = span.count
        var a: UInt64 = 0, b: UInt64 = 0
        if n >= 8 {
            a = bytes.loadUnaligned(fromByteOffset: span.lowerBound, as: UInt64.self)
            b = bytes.loadUnaligned(fromByteOffset: span.upperBound - 8, as: UInt64.self)
        } else {
            for k in span { a = a << 8 | UInt64(bytes[k]) }
        }
        let hash = (a ^ (b &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(n)) &* 0xFF51_AFD7_ED55_8CCD
        return (span, hash)
    }

    /// One escape at `i` (a backslash), if it is one the writer writes: `\"`, `\\`, `\n`, `\r`,
    /// `\t`, `\b`, `\f`, or `\u00xx` for a control character without a short escape.
    mutating func escape(refusingNul: Bool = false) -> Bool {
        guard i + 1 < bytes.count else { return false }
        switch bytes[i + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"),
             UInt8(ascii: "b"), UInt8(ascii: "f"):
            i += 2
            return true
        case UInt8(ascii: "u"):
            guard i + 6 <= bytes.count, bytes[i + 2] == 0x30, bytes[i + 3] == 0x30,
                  let hi = CompactJSONReader.lowerHex(bytes[i + 4]), hi <= 1,
                  let lo = CompactJSONReader.lowerHex(bytes[i + 5]),
                  JSONEscaping.shortEscape(hi << 4 | lo) == nil, !(refusingNul && hi == 0 && lo == 0) else { return false }
            i += 6
            return true
        default:
            return false
        }
    }

    static func lowerHex(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}
