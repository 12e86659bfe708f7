import Foundation
import Testing
@testable import ClusterKit

/// Base64 through CBase64: every code path (scalar, SSSE3, AVX2; capped at what the CPU has)
/// against Foundation as the oracle, and the strict decoding rules byte by byte.
@Suite struct Base64Tests {
    typealias Path = Base64.Path
    static let alphabets: [Base64.Alphabet] = [.standard, .urlSafe]
    static let standardChars = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let urlSafeChars = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func chars(_ a: Base64.Alphabet) -> [UInt8] { a == .standard ? standardChars : urlSafeChars }

    /// Foundation's encoding, in the URL-safe alphabet when asked.
    static func oracle(_ bytes: [UInt8], _ a: Base64.Alphabet) -> [UInt8] {
        var s = Array(Data(bytes).base64EncodedString().utf8)
        if a == .urlSafe {
            for i in s.indices where s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "/") {
                s[i] = s[i] == UInt8(ascii: "+") ? UInt8(ascii: "-") : UInt8(ascii: "_")
            }
        }
        return s
    }

    /// Foundation's decoding of our text (translated back to the standard alphabet).
    static func oracleDecode(_ text: [UInt8], _ a: Base64.Alphabet) -> [UInt8]? {
        var s = text
        if a == .urlSafe {
            for i in s.indices where s[i] == UInt8(ascii: "-") || s[i] == UInt8(ascii: "_") {
                s[i] = s[i] == UInt8(ascii: "-") ? UInt8(ascii: "+") : UInt8(ascii: "/")
            }
        }
        return Data(base64Encoded: Data(s)).map { [UInt8]($0) }
    }

    static func checkRoundTrip(_ bytes: [UInt8], _ a: Base64.Alphabet, _ path: Path) {
        let text = Base64.encode(bytes, alphabet: a, path: path)
        let expected = oracle(bytes, a)
        #expect(text == expected, "encode n=\(bytes.count) \(a) \(path)")
        #expect(oracleDecode(text, a) == bytes, "Foundation decodes ours, n=\(bytes.count) \(a) \(path)")
        #expect(Base64.decode(expected, alphabet: a, path: path) == bytes, "decode n=\(bytes.count) \(a) \(path)")
    }

    @Test(arguments: Path.allCases)
    func everyLengthUpTo300(path: Path) {
        var gen = TestBytes(seed: 300)
        for a in Self.alphabets {
            for n in 0...300 { Self.checkRoundTrip(gen.bytes(n), a, path) }
        }
    }

    @Test(arguments: Path.allCases)
    func randomLargeSizes(path: Path) {
        var gen = TestBytes(seed: 0xB64)
        let sizes = [1 << 20, 3 << 20 | 2] + (0..<3).map { _ in Int(gen.next() % UInt64(4 << 20)) + 1 }
        for (k, n) in sizes.enumerated() {
            Self.checkRoundTrip(gen.bytes(n), Self.alphabets[k % 2], path)
        }
    }

    /// The public entry points (the best path) agree with the internal ones and touch nothing
    /// past the output they were given.
    @Test func publicAPIAndExactOutput() {
        var gen = TestBytes(seed: 5)
        for n in [0, 1, 2, 3, 27, 28, 29, 47, 48, 49, 1000, 4099] {
            let b = gen.bytes(n)
            for a in Self.alphabets {
                let len = Base64.encodedLength(n)
                var out = [UInt8](repeating: 0xEE, count: len + 64)
                b.withUnsafeBytes { src in
                    out.withUnsafeMutableBytes { dst in
                        Base64.encode(src, into: UnsafeMutableRawBufferPointer(rebasing: dst[0..<len]), alphabet: a)
                    }
                }
                #expect(Array(out[..<len]) == Self.oracle(b, a))
                #expect(out[len...].allSatisfy { $0 == 0xEE }, "wrote past the output, n=\(n)")
                #expect(Base64.encodeString(b, alphabet: a) == String(decoding: Self.oracle(b, a), as: UTF8.self))
                #expect(Base64.decode(String(decoding: out[..<len], as: UTF8.self), alphabet: a) == b)
            }
        }
        #expect(Base64.decode([UInt8](), alphabet: .urlSafe) == [])
        #expect(Base64.decode("") == [])
    }

    /// Every byte outside the alphabet, at every position of a text long enough for both vector
    /// widths and the scalar tail, in unpadded and both padded forms.
    @Test(arguments: Path.allCases)
    func rejectsEveryInvalidByteEverywhere(path: Path) {
        var gen = TestBytes(seed: 77)
        for a in Self.alphabets {
            let valid = Set(Self.chars(a))
            for n in [96, 97, 98] {                       // 128 characters: "", "==", "=" padding
                let text = Base64.encode(gen.bytes(n), alphabet: a, path: path)
                #expect(Base64.decode(text, alphabet: a, path: path) != nil)
                for byte in UInt8.min...UInt8.max where !valid.contains(byte) {
                    // '=' in the last quantum may form valid padding; see the padding tests.
                    let positions = byte == UInt8(ascii: "=") ? Array(0..<(text.count - 4)) : Array(text.indices)
                    for p in positions {
                        var t = text
                        t[p] = byte
                        if Base64.decode(t, alphabet: a, path: path) != nil {
                            Issue.record("accepted 0x\(String(byte, radix: 16)) at \(p) of \(t.count), \(a) \(path)")
                        }
                    }
                }
            }
        }
    }

    /// The same at chosen positions of a long text: start, the middle of the vectorised region,
    /// block edges and the scalar tail.
    @Test(arguments: Path.allCases)
    func rejectsInvalidBytesInALongText(path: Path) {
        var gen = TestBytes(seed: 78)
        for a in Self.alphabets {
            let valid = Set(Self.chars(a))
            let text = Base64.encode(gen.bytes(3000), alphabet: a, path: path)   // 4000 characters
            let n = text.count
            let positions = [0, 1, 15, 16, 31, 32, 33, 1000, 2047, 2048, n - 40, n - 33, n - 32, n - 17,
                             n - 16, n - 13, n - 9, n - 5, n - 4, n - 3, n - 2, n - 1]
            for byte in UInt8.min...UInt8.max where !valid.contains(byte) {
                for p in positions where !(byte == UInt8(ascii: "=") && p >= n - 4) {
                    var t = text
                    t[p] = byte
                    if Base64.decode(t, alphabet: a, path: path) != nil {
                        Issue.record("accepted 0x\(String(byte, radix: 16)) at \(p), \(a) \(path)")
                    }
                }
            }
        }
    }

    @Test(arguments: Path.allCases)
    func otherAlphabetsCharactersAreRejected(path: Path) {
        // "+/" and "-_" encode 62 and 63; each decoder accepts only its own pair.
        let prefix = [UInt8](repeating: UInt8(ascii: "Q"), count: 64)
        for pair in ["+/+/", "-_-_", "A+AA", "AA/A", "A-AA", "AA_A"] {
            let bytes = Array(pair.utf8)
            let std = bytes.contains(UInt8(ascii: "+")) || bytes.contains(UInt8(ascii: "/"))
            for text in [bytes, prefix + bytes, bytes + prefix] {
                #expect((Base64.decode(text, alphabet: .standard, path: path) != nil) == std, "\(pair) standard")
                #expect((Base64.decode(text, alphabet: .urlSafe, path: path) != nil) == !std, "\(pair) urlSafe")
            }
        }
        #expect(Base64.decode(Array("+/+/".utf8), alphabet: .standard, path: path) == [0xFB, 0xFF, 0xBF])
        #expect(Base64.decode(Array("-_-_".utf8), alphabet: .urlSafe, path: path) == [0xFB, 0xFF, 0xBF])
    }

    @Test(arguments: Path.allCases)
    func rejectsMisplacedPaddingAndBadLengths(path: Path) {
        let long = String(repeating: "QUJD", count: 16)                   // 64 characters
        let bad = ["=", "==", "===", "====", "A", "AA", "AAA", "AAAAA", "AA=", "A==", "=AAA", "A=AA",
                   "AA=A", "=A==", "A=A=", "==AA", "A===", "AA==AAAA", "AAA=AAAA", "AAAA====", "AAAA=AAA",
                   "AAAAAAAA=", "AAAA==", long + "=", long + "A=", long + "AA==QUJD", long + "AAA=QUJD",
                   String(long.dropLast(1)) + "=" + long, long + "QU=D" + long, long + "QU==" + long]
        for a in Self.alphabets {
            for text in bad {
                #expect(Base64.decode(Array(text.utf8), alphabet: a, path: path) == nil as [UInt8]?,
                        "\(text) \(a) \(path)")
            }
            #expect(Base64.decode(Array((long + "QQ==").utf8), alphabet: a, path: path) != nil)
            #expect(Base64.decode(Array((long + "QUI=").utf8), alphabet: a, path: path) != nil)
        }
    }

    /// "xx==" carries 8 bits and "xxx=" 16: the bits the last character adds beyond them must be 0.
    @Test(arguments: Path.allCases)
    func rejectsNonZeroTrailingBits(path: Path) {
        for a in Self.alphabets {
            let chars = Self.chars(a)
            for prefix in ["", String(repeating: "QUJD", count: 20)] {
                for (value, c) in chars.enumerated() {
                    let one = Array(prefix.utf8) + [UInt8(ascii: "Q"), c, UInt8(ascii: "="), UInt8(ascii: "=")]
                    let two = Array(prefix.utf8) + [UInt8(ascii: "Q"), UInt8(ascii: "U"), c, UInt8(ascii: "=")]
                    let d1 = Base64.decode(one, alphabet: a, path: path)
                    let d2 = Base64.decode(two, alphabet: a, path: path)
                    #expect((d1 != nil) == (value & 0x0F == 0), "Q\(value)== \(a) \(path)")
                    #expect((d2 != nil) == (value & 0x03 == 0), "QU\(value)= \(a) \(path)")
                    if let d1 { #expect(d1.last == UInt8(0x40 | value >> 4)) }
                    if let d2 { #expect(Array(d2.suffix(2)) == [0x41, UInt8(0x40 | value >> 2)]) }
                }
            }
        }
    }
}
