import Foundation
import Testing
@testable import ClusterKit

/// `CompactJSONReader` accepts a value only when it is valid JSON and exactly the bytes
/// `JSONWriter.compact` writes for it: what it accepts can be copied instead of written again.
@Suite struct CompactJSONReaderTests {
    static func accepts(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var r = CompactJSONReader(raw)
            return r.skipValue() && r.atEnd
        }
    }

    static func randomValue(_ rng: inout TestBytes, depth: Int = 0) -> JSON {
        let texts = ["", "a", "quote\"", "back\\slash", "ctl\u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f}", "/", "\u{7f}", "é", "e\u{301}", "中文 😀", "agent-a-00001"]
        switch rng.below(depth > 3 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(rng.below(2) == 0)
        case 2: return .int([0, 1, -1, 42, Int64.max, Int64.min, -9_000_000_000][rng.below(7)])
        case 3, 4: return .string(texts[rng.below(texts.count)])
        case 5: return .array((0..<rng.below(4)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            var o = JSONObject()
            for _ in 0..<rng.below(5) { o[["id", "name", "k\"ey", "ctl\u{1}", "", "node_name"][rng.below(6)]] = randomValue(&rng, depth: depth + 1) }
            return .object(o)
        }
    }

    /// Whatever the writer writes (ASCII keys, integers) is accepted whole.
    @Test func acceptsWhatTheWriterWrites() {
        var rng = TestBytes(seed: 5)
        for _ in 0..<2000 {
            let v = Self.randomValue(&rng)
            #expect(Self.accepts(JSONWriter.compact.bytes(v)), "\(JSONWriter.compact.string(v))")
        }
    }

    /// Anything it accepts, mutated documents included, parses strictly and is written back to
    /// the same bytes.
    @Test func acceptsOnlyTheWritersForm() {
        var rng = TestBytes(seed: 11)
        let insertions: [[UInt8]] = [[0x20], [0x5C], [0x22], [0x2C], [0x30], [0x2D], [0x2E], [0xC3], [0xFF], [0x0A], Array("\\/".utf8),
                                      Array("\\u0041".utf8), Array("\\u001F".utf8), Array("\\u000a".utf8), Array("\\u001f".utf8), [0x7B], [0x5D]]
        var accepted = 0
        for _ in 0..<4000 {
            var bytes = JSONWriter.compact.bytes(Self.randomValue(&rng))
            let at = rng.below(bytes.count + 1)
            switch rng.below(3) {
            case 0: bytes.insert(contentsOf: insertions[rng.below(insertions.count)], at: at)
            case 1: if at < bytes.count { bytes.remove(at: at) }
            default: if at < bytes.count { bytes[at] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            guard Self.accepts(bytes) else { continue }
            accepted += 1
            let parsed = try? bytes.withUnsafeBytes { try JSONScanner.parse($0) }
            #expect(parsed.map { JSONWriter.compact.bytes($0) } == bytes, "\(String(decoding: bytes, as: UTF8.self))")
        }
        #expect(accepted > 500)
    }

    @Test func refusesOtherForms() {
        for text in [#"{"a": 1}"#, #"[1 ]"#, #""\/""#, #""\u0041""#, #""\u00e9""#, #""\u000a""#, #""\u001F""#, "1.5", "1e2", "-0", "01",
                     "18446744073709551616", "9223372036854775808", #"{"a":1,"a":2}"#, #"{"é":1}"#, "tru", "[1,]", #"{"a":1,}"#, "\"\u{1}\"",
                     String(repeating: "[", count: 513) + String(repeating: "]", count: 513)] {
            #expect(!Self.accepts(Array(text.utf8)), "\(text.prefix(40))")
        }
        for text in ["-9223372036854775808", "9223372036854775807", #""\u001f\n\"\\""#, #"{"a":{"a":1}}"#, #"[{"a":1},{"a":1}]"#,
                     String(repeating: "[", count: 512) + String(repeating: "]", count: 512)] {
            #expect(Self.accepts(Array(text.utf8)), "\(text.prefix(40))")
        }
    }
}
