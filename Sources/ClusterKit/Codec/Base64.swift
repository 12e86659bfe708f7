import CBase64
import Foundation

/// Base64 in both alphabets the protocol uses: standard (RFC 4648 §4) for JSON payload fields
/// and URL-safe (§5) for Fernet tokens. Always padded on output; strict on input (a token with a
/// stray byte is an invalid token, not something to repair).
public enum Base64 {
    public enum Alphabet: Sendable { case standard, urlSafe }

    /// The codec itself is the C target CBase64 (SSSE3/AVX2 on x86_64, scalar elsewhere).
    static func cAlphabet(_ a: Alphabet) -> Int32 { a == .standard ? CB64_STANDARD : CB64_URLSAFE }

    public static func encodedLength(_ n: Int) -> Int { ((n + 2) / 3) * 4 }

    /// The most CBase64 may use; every path gives the same result, and the tests run each.
    enum Path: Int32, CaseIterable, Sendable {
        case scalar = 0, ssse3 = 1, avx2 = 2   // CB64_ISA_*; capped at what the CPU has
        static let best = Path.avx2
    }

    /// Encodes `input` into `output`, which must hold `encodedLength(input.count)` bytes.
    public static func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                              alphabet: Alphabet = .standard) {
        encode(input, into: output, alphabet: alphabet, path: .best)
    }

    static func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                       alphabet: Alphabet, path: Path) {
        guard let src = input.baseAddress?.assumingMemoryBound(to: UInt8.self),
              let dst = output.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        precondition(output.count >= encodedLength(input.count), "base64 output buffer too small")
        cb64_encode_isa(src, input.count, dst, cAlphabet(alphabet), path.rawValue)
    }

    public static func encode<C: ContiguousBytes>(_ input: C, alphabet: Alphabet = .standard) -> [UInt8] {
        encode(input, alphabet: alphabet, path: .best)
    }

    static func encode<C: ContiguousBytes>(_ input: C, alphabet: Alphabet, path: Path) -> [UInt8] {
        input.withUnsafeBytes { raw in
            let len = encodedLength(raw.count)
            return [UInt8](unsafeUninitializedCapacity: len) { buf, count in
                encode(raw, into: UnsafeMutableRawBufferPointer(buf), alphabet: alphabet, path: path)
                count = len
            }
        }
    }

    public static func encodeString<C: ContiguousBytes>(_ input: C, alphabet: Alphabet = .standard) -> String {
        String(decoding: encode(input, alphabet: alphabet), as: UTF8.self)
    }

    /// Decodes a padded base64 text. Returns nil on any character outside the alphabet, a length
    /// that is not a multiple of 4, misplaced padding or non-zero trailing bits.
    public static func decode(_ input: UnsafeRawBufferPointer, alphabet: Alphabet = .standard) -> [UInt8]? {
        decode(input, alphabet: alphabet, path: .best)
    }

    static func decode(_ input: UnsafeRawBufferPointer, alphabet: Alphabet, path: Path) -> [UInt8]? {
        let n = input.count
        if n == 0 { return [] }
        guard let src = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        let outLen = cb64_decoded_length(src, n)
        guard outLen >= 0 else { return nil }
        var ok = true
        let out = [UInt8](unsafeUninitializedCapacity: outLen) { dst, count in
            let written = cb64_decode_isa(src, n, dst.baseAddress!, cAlphabet(alphabet), path.rawValue)
            ok = written == outLen
            count = ok ? outLen : 0
        }
        return ok ? out : nil
    }

    public static func decode<C: ContiguousBytes>(_ input: C, alphabet: Alphabet = .standard) -> [UInt8]? {
        input.withUnsafeBytes { decode($0, alphabet: alphabet, path: .best) }
    }

    static func decode<C: ContiguousBytes>(_ input: C, alphabet: Alphabet, path: Path) -> [UInt8]? {
        input.withUnsafeBytes { decode($0, alphabet: alphabet, path: path) }
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
