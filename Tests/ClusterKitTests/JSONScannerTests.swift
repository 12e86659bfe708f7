import Foundation
import Testing
@testable import ClusterKit

/// The master's fast reader must accept and refuse what jansson (with JSON_REJECT_DUPLICATES)
/// accepts and refuses, and read the same values.
@Suite struct JSONScannerTests {
    static func scan(_ text: [UInt8]) -> JSON? { try? text.withUnsafeBytes { try JSONScanner.parse($0) } }
    static func jansson(_ text: [UInt8]) -> JSON? { try? JSON.parse(text) }

    @Test func corpus() {
        let valid = [#"{}"#, #"[]"#, #" [1, -2, 0, -0, 3.5, 1e3, 1E-2, -0.0e+1] "#, #""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00""#,
                     #"{"a":{"b":[true,false,null]},"c":"é"}"#, #"9223372036854775807"#, #"-9223372036854775808"#,
                     "\"\\u0000\"", #""""#, "[[[[[]]]]]", "{\"k\":1}\n"]
        for t in valid {
            let a = Self.scan(Array(t.utf8)), b = Self.jansson(Array(t.utf8))
            #expect(a != nil && a == b, "\(t)")
        }
        let invalid = [#""#, #"["#, #"[1,]"#, #"{"a":1,}"#, #"{"a" 1}"#, #"01"#, #"1."#, #".5"#, #"+1"#, #"1e"#, #"tru"#, #"nul"#,
                       #""\x""#, #""\u12""#, #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, "\"a\u{01}b\"", #"{"a":1,"a":2}"#,
                       #"9223372036854775808"#, #"1e400"#, #"[1] 2"#, #"{1:2}"#, #"'a'"#, #""unterminated"#]
        for t in invalid {
            #expect(Self.scan(Array(t.utf8)) == nil, "accepted \(t)")
            #expect(Self.jansson(Array(t.utf8)) == nil, "jansson accepted \(t)")
        }
        #expect(Self.scan([0x22, 0xC3, 0x28, 0x22]) == nil, "invalid UTF-8")
        // The UTF-8 check agrees with the standard library's on every 1- to 3-byte sequence
        // and on samples of 4-byte ones.
        var rng = TestBytes(seed: 5)
        func same(_ b: [UInt8]) -> Bool {
            b.withUnsafeBytes { JSONScanner.isValidUTF8($0) } == (String(validating: b, as: UTF8.self) != nil)
        }
        for a in 0...255 { #expect(same([UInt8(a)])) }
        for a in 0x80...0xFF { for c in 0...255 { #expect(same([UInt8(a), UInt8(c)])) } }
        for a in 0xE0...0xF4 { for c in 0x70...0xC5 { for d in [0x41, 0x80, 0xBF, 0xC0] { #expect(same([UInt8(a), UInt8(c), UInt8(d)])) } } }
        for _ in 0..<20_000 {
            let b = (0..<(1 + rng.below(6))).map { _ in UInt8(rng.below(256)) }
            #expect(same(b), "\(b)")
        }
        #expect(Self.scan(Array(repeating: UInt8(ascii: "["), count: 600) + Array(repeating: UInt8(ascii: "]"), count: 600)) == nil, "too deep")
    }

    /// Random documents, written both ways, then with random bytes changed: both readers agree.
    @Test func agreesWithJanssonOnRandomDocumentsAndMutations() {
        var rng = TestBytes(seed: 11)
        func random(_ depth: Int) -> JSON {
            switch rng.below(depth > 3 ? 5 : 7) {
            case 0: return .null
            case 1: return .bool(rng.below(2) == 0)
            case 2: return .int(Int64(rng.below(1 << 40)) - (1 << 39))
            case 3: return .double(Double(rng.below(1_000_000)) / 64)
            case 4:
                let pool = ["a", "é", "\"", "\\", "\n", "😀", "x y", "\u{7f}", "中"]
                return .string((0..<rng.below(6)).map { _ in pool[rng.below(pool.count)] }.joined())
            case 5: return .array((0..<rng.below(4)).map { _ in random(depth + 1) })
            default:
                var o = JSONObject()
                for k in 0..<rng.below(4) { o["k\(k)\(rng.below(3))"] = random(depth + 1) }
                return .object(o)
            }
        }
        var disagreements = [String]()
        for n in 0..<400 {
            let doc = random(0)
            let text = (n % 2 == 0 ? JSONWriter.python : JSONWriter.compact).bytes(doc)
            #expect(Self.scan(text) == doc)
            var mutated = text
            for _ in 0..<(1 + rng.below(3)) where !mutated.isEmpty {
                let pool: [UInt8] = [0x22, 0x5C, 0x2C, 0x3A, 0x7B, 0x7D, 0x5B, 0x5D, 0x30, 0x2D, 0x65, 0x2E, 0x20, 0x75, 0xC3, 0x80]
                mutated[rng.below(mutated.count)] = pool[rng.below(pool.count)]
            }
            let a = Self.scan(mutated), b = Self.jansson(mutated)
            if a != b { disagreements.append(String(decoding: mutated, as: UTF8.self)) }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
    }

    /// Long strings with escapes (read eight bytes at a time between them, as an envelope's
    /// chunks are), and their mutations: both readers agree.
    @Test func longEscapedStringsAgreeWithJansson() {
        var rng = TestBytes(seed: 12)
        let pool = ["0123456789abcdef", "\"", "\\", "\n", "\u{1}", "é中😀é中😀é", "x", "{\"id\":1,\"name\":\"agent-1\"}", "/"]
        var disagreements = [String]()
        for _ in 0..<300 {
            let doc: JSON = .array((0..<(1 + rng.below(3))).map { _ in .string((0..<rng.below(40)).map { _ in pool[rng.below(pool.count)] }.joined()) })
            let text = JSONWriter.python.bytes(doc)
            #expect(Self.scan(text) == doc)
            var mutated = text
            for _ in 0..<(1 + rng.below(2)) {
                let bytes: [UInt8] = [0x22, 0x5C, 0x01, 0x75, 0xC3, 0x80, 0xED, 0x41]
                mutated[rng.below(mutated.count)] = bytes[rng.below(bytes.count)]
            }
            let a = Self.scan(mutated), b = Self.jansson(mutated)
            if a != b { disagreements.append(String(decoding: mutated, as: UTF8.self)) }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
    }
}
