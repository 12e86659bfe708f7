import Foundation

/// Base64 in both alphabets the protocol uses: standard (RFC 4648 §4) for JSON payload fields
/// and URL-safe (§5) for Fernet tokens. Always padded on output; strict on input (a token with a
/// stray byte is an invalid token, not something to repair).
public enum Base64 {
    public enum Alphabet: Sendable { case standard, urlSafe }

    static let standardTable = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let urlSafeTable = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static let standardDecode: [UInt8] = makeDecodeTable(standardTable)
    static let urlSafeDecode: [UInt8] = makeDecodeTable(urlSafeTable)

    private static func makeDecodeTable(_ enc: [UInt8]) -> [UInt8] {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in enc.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }

    public static func encodedLength(_ n: Int) -> Int { ((n + 2) / 3) * 4 }

    /// Encodes `input` into `output`, which must hold `encodedLength(input.count)` bytes.
    public static func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                              alphabet: Alphabet = .standard) {
        let table = alphabet == .standard ? standardTable : urlSafeTable
        table.withUnsafeBufferPointer { t in
            guard let src = input.baseAddress?.assumingMemoryBound(to: UInt8.self),
                  let dst = output.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
            let n = input.count
            var i = 0, o = 0
            while i + 3 <= n {
                let v = (UInt32(src[i]) << 16) | (UInt32(src[i + 1]) << 8) | UInt32(src[i + 2])
                dst[o] = t[Int(v >> 18)]
                dst[o + 1] = t[Int((v >> 12) & 63)]
                dst[o + 2] = t[Int((v >> 6) & 63)]
                dst[o + 3] = t[Int(v & 63)]
                i += 3; o += 4
            }
            let rem = n - i
            if rem == 1 {
                let v = UInt32(src[i]) << 16
                dst[o] = t[Int(v >> 18)]
                dst[o + 1] = t[Int((v >> 12) & 63)]
                dst[o + 2] = UInt8(ascii: "=")
                dst[o + 3] = UInt8(ascii: "=")
            } else if rem == 2 {
                let v = (UInt32(src[i]) << 16) | (UInt32(src[i + 1]) << 8)
                dst[o] = t[Int(v >> 18)]
                dst[o + 1] = t[Int((v >> 12) & 63)]
                dst[o + 2] = t[Int((v >> 6) & 63)]
                dst[o + 3] = UInt8(ascii: "=")
            }
        }
    }

    public static func encode<C: ContiguousBytes>(_ input: C, alphabet: Alphabet = .standard) -> [UInt8] {
        input.withUnsafeBytes { raw in
            let len = encodedLength(raw.count)
            return [UInt8](unsafeUninitializedCapacity: len) { buf, count in
                encode(raw, into: UnsafeMutableRawBufferPointer(buf), alphabet: alphabet)
                count = len
            }
        }
    }

    public static func encodeString<C: ContiguousBytes>(_ input: C, alphabet: Alphabet = .standard) -> String {
        String(decoding: encode(input, alphabet: alphabet), as: UTF8.self)
    }

    /// The decoded length of a padded encoding of `count` bytes whose last two bytes are `last2`.
    static func decodedLength(count: Int, padding: Int) -> Int { count / 4 * 3 - padding }

    /// Decodes a padded base64 text. Returns nil on any character outside the alphabet, a length
    /// that is not a multiple of 4, misplaced padding or non-zero trailing bits.
    public static func decode(_ input: UnsafeRawBufferPointer, alphabet: Alphabet = .standard) -> [UInt8]? {
        let n = input.count
        if n == 0 { return [] }
        guard n % 4 == 0, let src = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        var pad = 0
        if src[n - 1] == UInt8(ascii: "=") { pad = 1; if src[n - 2] == UInt8(ascii: "=") { pad = 2 } }
        let outLen = decodedLength(count: n, padding: pad)
        let table = alphabet == .standard ? standardDecode : urlSafeDecode
        var ok = true
        let out = [UInt8](unsafeUninitializedCapacity: outLen) { dst, count in
            table.withUnsafeBufferPointer { t in
                let full = pad == 0 ? n : n - 4
                var i = 0, o = 0
                var bad: UInt8 = 0
                while i < full {
                    let a = t[Int(src[i])], b = t[Int(src[i + 1])], c = t[Int(src[i + 2])], d = t[Int(src[i + 3])]
                    bad |= a | b | c | d
                    let v = (UInt32(a) << 18) | (UInt32(b) << 12) | (UInt32(c) << 6) | UInt32(d)
                    dst[o] = UInt8(truncatingIfNeeded: v >> 16)
                    dst[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
                    dst[o + 2] = UInt8(truncatingIfNeeded: v)
                    i += 4; o += 3
                }
                if bad & 0xC0 != 0 { ok = false; count = 0; return }
                if pad > 0 {
                    let a = t[Int(src[i])], b = t[Int(src[i + 1])]
                    if (a | b) & 0xC0 != 0 { ok = false; count = 0; return }
                    if pad == 2 {
                        if b & 0x0F != 0 { ok = false; count = 0; return }
                        dst[o] = (a << 2) | (b >> 4)
                    } else {
                        let c = t[Int(src[i + 2])]
                        if c & 0xC0 != 0 || c & 0x03 != 0 { ok = false; count = 0; return }
                        dst[o] = (a << 2) | (b >> 4)
                        dst[o + 1] = (b << 4) | (c >> 2)
                    }
                }
                count = outLen
            }
        }
        return ok ? out : nil
    }

    public static func decode<C: ContiguousBytes>(_ input: C, alphabet: Alphabet = .standard) -> [UInt8]? {
        input.withUnsafeBytes { decode($0, alphabet: alphabet) }
    }

    public static func decode(_ text: String, alphabet: Alphabet = .standard) -> [UInt8]? {
        var t = text
        return t.withUTF8 { decode(UnsafeRawBufferPointer($0), alphabet: alphabet) }
    }
}

/// Lowercase hexadecimal, the form digests take in snapshots and JSON.
public enum Hex {
    static let digits = Array("0123456789abcdef".utf8)

    public static func encode<C: ContiguousBytes>(_ bytes: C) -> String {
        bytes.withUnsafeBytes { raw in
            String(unsafeUninitializedCapacity: raw.count * 2) { buf in
                var o = 0
                for b in raw {
                    buf[o] = digits[Int(b >> 4)]
                    buf[o + 1] = digits[Int(b & 0x0F)]
                    o += 2
                }
                return o
            }
        }
    }

    /// Decodes hex digits of either case; nil on odd length or a non-hex character.
    public static func decode(_ text: String) -> [UInt8]? {
        let u = Array(text.utf8)
        guard u.count % 2 == 0 else { return nil }
        func nib(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let h = nib(u[i]), let l = nib(u[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}
