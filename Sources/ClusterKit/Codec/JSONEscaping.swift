/// JSON string literals written span by span: runs of bytes that need no escape are copied in
/// one append. `appendCompact` is cJSON's style (UTF-8 as is); `appendPython` is Python's
/// `json.dumps` with `ensure_ascii`. `JSONWriter` writes every string through these, and the
/// agent-info push, which writes megabytes of them, calls them directly.
enum JSONEscaping {
    static let hex = Array("0123456789abcdef".utf8)

    @inline(__always)
    static func unicodeEscape(_ u: UInt32, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\"))
        out.append(UInt8(ascii: "u"))
        out.append(hex[Int((u >> 12) & 0xF)])
        out.append(hex[Int((u >> 8) & 0xF)])
        out.append(hex[Int((u >> 4) & 0xF)])
        out.append(hex[Int(u & 0xF)])
    }

    /// The escape for an ASCII byte that needs one, or nil.
    @inline(__always)
    static func shortEscape(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x22: return 0x22
        case 0x5C: return 0x5C
        case 0x0A: return UInt8(ascii: "n")
        case 0x0D: return UInt8(ascii: "r")
        case 0x09: return UInt8(ascii: "t")
        case 0x08: return UInt8(ascii: "b")
        case 0x0C: return UInt8(ascii: "f")
        default: return nil
        }
    }

    /// One byte a JSON string cannot hold as it is (a control character, a quote or a
    /// backslash), escaped as cJSON writes it.
    @inline(__always)
    static func appendEscape(_ b: UInt8, into out: inout [UInt8]) {
        if let e = shortEscape(b) {
            out.append(0x5C)
            out.append(e)
        } else {
            unicodeEscape(UInt32(b), into: &out)
        }
    }

    /// cJSON / `JSONWriter.compact`: quote, backslash and control characters escaped, the rest
    /// (DEL and non-ASCII included) copied. `bytes` must be valid UTF-8.
    static func appendCompact(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out.append(0x22)
        var start = 0
        var i = 0
        let n = bytes.count
        var high: UInt64 = 0
        while i < n {
            i = ByteWords.plainRun(bytes, from: i, high: &high)
            guard i < n else { break }
            if start < i { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<i])) }
            appendEscape(bytes[i], into: &out)
            i += 1
            start = i
        }
        if start < n { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<n])) }
        out.append(0x22)
    }

    /// `appendCompact` of bytes that may not be a valid string: appends and answers true when
    /// they are valid UTF-8 without NUL, else appends nothing and answers false. One pass over
    /// the bytes, eight at a time.
    static func appendCompactChecked(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Bool {
        let mark = out.count
        out.append(0x22)
        let n = bytes.count
        var start = 0, i = 0
        var high: UInt64 = 0
        while i < n {
            i = ByteWords.plainRun(bytes, from: i, high: &high)
            guard i < n else { break }
            let b = bytes[i]
            if b == 0 {
                out.removeSubrange(mark...)
                return false
            }
            if start < i { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<i])) }
            appendEscape(b, into: &out)
            i += 1
            start = i
        }
        if ByteWords.hasHighBit(high) && !JSONScanner.isValidUTF8(bytes) {
            out.removeSubrange(mark...)
            return false
        }
        if start < n { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<n])) }
        out.append(0x22)
        return true
    }

    /// A 64-bit integer in decimal, as `String(v)` writes it.
    static func appendDecimal(_ v: Int64, into out: inout [UInt8]) {
        if v >= 0 && v < 10 {
            out.append(0x30 + UInt8(v))
            return
        }
        var m = v.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
            var k = 20
            while m > 0 {
                k -= 1
                buf[k] = 0x30 + UInt8(m % 10)
                m /= 10
            }
            if v < 0 { out.append(UInt8(ascii: "-")) }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[k..<20]))
        }
    }

    static func appendCompact(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { appendCompact(UnsafeRawBufferPointer($0), into: &out) }
    }

    /// Python's `json.dumps` (ensure_ascii) / `JSONWriter.python`: as above, and DEL and every
    /// non-ASCII scalar as `\uXXXX` (surrogate pairs above the BMP). `s` is valid UTF-8 (a String).
    static func appendPython(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { bytes in
            out.append(0x22)
            var start = 0
            var i = 0
            let n = bytes.count
            while i < n {
                let b = bytes[i]
                if b >= 0x20 && b < 0x7F && b != 0x22 && b != 0x5C { i += 1; continue }
                if start < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i])) }
                if b < 0x80 {
                    appendEscape(b, into: &out)
                    i += 1
                } else {
                    // Decode one scalar (the String is valid UTF-8).
                    var v: UInt32
                    let len: Int
                    if b >= 0xF0 { v = UInt32(b & 0x07); len = 4 } else if b >= 0xE0 { v = UInt32(b & 0x0F); len = 3 } else { v = UInt32(b & 0x1F); len = 2 }
                    for k in 1..<len { v = v << 6 | UInt32(bytes[i + k] & 0x3F) }
                    if v >= 0x10000 {
                        let x = v - 0x10000
                        unicodeEscape(0xD800 + (x >> 10), into: &out)
                        unicodeEscape(0xDC00 + (x & 0x3FF), into: &out)
                    } else {
                        unicodeEscape(v, into: &out)
                    }
                    i += len
                }
                start = i
            }
            if start < n { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<n])) }
            out.append(0x22)
        }
    }

    /// `"chunks": ["...", "..."]` as Python writes the list: items separated by `, `.
    static func appendPythonList(_ items: [String], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (k, item) in items.enumerated() {
            if k > 0 { out.append(contentsOf: ", ".utf8) }
            appendPython(item, into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }
}
