import Foundation
import Testing
@testable import ClusterKit

@Suite struct CodecTests {
    @Test func base64BothAlphabets() throws {
        var gen = TestBytes(seed: 3)
        for n in 0..<70 {
            let b = gen.bytes(n)
            let s = Base64.encodeString(b)
            #expect(s == Data(b).base64EncodedString())
            #expect(Base64.decode(s) == b)
            let u = Base64.encodeString(b, alphabet: .urlSafe)
            #expect(Base64.decode(u, alphabet: .urlSafe) == b)
        }
        #expect(Base64.decode("YQ") == nil)
        #expect(Base64.decode("Y===") == nil)
        #expect(Base64.decode("YR==") == nil, "non-zero trailing bits")
        #expect(Base64.decode("a+b/", alphabet: .urlSafe) == nil)
        #expect(Base64.decode("a-b_") == nil)
    }

    @Test func jsonRoundTripsAndKeepsOrderAndIntegers() throws {
        let text = #"{"z": 1, "a": [true, false, null, 9223372036854775807, -1.5, "x\u00e9\ud83d\ude00"], "m": {}}"#
        let v = try JSON.parse(text)
        #expect(v.objectValue!.keys == ["z", "a", "m"])
        #expect(v["a"]![3] == .int(Int64.max))
        #expect(JSONWriter.python.string(v) == text)
        #expect(JSONWriter.compact.string(v) == #"{"z":1,"a":[true,false,null,9223372036854775807,-1.5,"xé😀"],"m":{}}"#)
    }

    @Test func jsonErrorsNameLineAndColumn() {
        do {
            _ = try JSON.parse("{\n  \"a\": 1,\n  \"b\": }", source: "cluster.json")
            Issue.record("expected a parse error")
        } catch let e as ClusterError {
            #expect(e.message.contains("cluster.json") && e.message.contains("line 3"))
            #expect(e.exit == .dataError)
        } catch { Issue.record("unexpected \(error)") }
        #expect(throws: ClusterError.self) { try JSON.parse(#"{"a": 1, "a": 2}"#) }
    }

    /// The reference writes files_metadata.json with Python's json.dumps: check against Python.
    /// Found by the json fuzz target: jansson read "0\0" as 0, ignoring everything after a raw NUL,
    /// where JSONScanner (and JSON) refuse a raw NUL anywhere.
    @Test func aRawNulByteIsRefusedByBothReaders() throws {
        for doc in ["0\u{0}", "0\u{0}garbage", "{\"a\":\"b\u{0}\"}", "\u{0}"] {
            #expect(throws: ClusterError.self) { try JSON.parse(doc) }
            #expect(throws: ClusterError.self) { try Array(doc.utf8).withUnsafeBytes { try JSONScanner.parse($0) } }
        }
        #expect(try JSON.parse("\"\\u0000\"") == .string("\u{0}"))
        #expect(try Array("\"\\u0000\"".utf8).withUnsafeBytes { try JSONScanner.parse($0) } == .string("\u{0}"))
    }

    /// Found by the `json` fuzz target: jansson refuses U+0000 in an object key (escaped), the
    /// scanner took it. Both refuse it now; in a string value both keep it.
    @Test func anEscapedNulInAKeyIsRefusedByBothReaders() throws {
        for doc in [#"{"a\u0000b": 1}"#, #"{"\u0000": "x"}"#, #"{"ok": {"k\u0000": 1}}"#] {
            #expect(throws: ClusterError.self, "\(doc)") { try JSON.parse(doc) }
            #expect(throws: ClusterError.self, "\(doc)") { try Array(doc.utf8).withUnsafeBytes { try JSONScanner.parse($0) } }
        }
        #expect(try Array(#"{"k": "a\u0000b"}"#.utf8).withUnsafeBytes { try JSONScanner.parse($0) } == ["k": .string("a\u{0}b")])
    }

    @Test func pythonDumpsCompatibility() throws {
        let value: JSON = [
            "etc/shared/group1/naïve-日本語.txt": ["mod_time": 1730110189.0, "cluster_item_key": "etc/shared/", "merged": false, "hash": "ab"],
            "ctl\u{1}\u{7F}\"\\/": [1730110000.1234567, 1e16, 1e-05, 0.1, -0.0, 100, "\t\n"],
        ]
        let ours = JSONWriter.python.bytes(value)
        let python = try runProgram("/usr/bin/env", ["python3", "-c", "import sys, json; sys.stdout.write(json.dumps(json.loads(sys.stdin.read())))"],
                                    stdin: JSONWriter.compact.bytes(value))
        #expect(String(decoding: ours, as: UTF8.self) == String(decoding: python, as: UTF8.self))
        let compactPython = try runProgram("/usr/bin/env", ["python3", "-c", "import sys, json; sys.stdout.write(json.dumps(json.loads(sys.stdin.read()), separators=(',', ':')))"],
                                           stdin: ours)
        #expect(JSONWriter.pythonCompact.bytes(value) == compactPython)
    }

    /// Python's zlib.compress(data, 1) with the same zlib is the reference's container entry.
    /// The checked escaping writes what the writer writes for valid strings without NUL, and
    /// nothing for other bytes; integers are written as `String` writes them.
    @Test func checkedEscapingAndDecimals() {
        var rng = TestBytes(seed: 21)
        let pieces: [[UInt8]] = [Array("plain text ".utf8), Array("é中😀".utf8), [0x22], [0x5C], [0x0A], [0x01], [0x1F], [0x7F], [0x00], [0xC3], [0xFF, 0xFE], [0xED, 0xA0, 0x80]]
        for _ in 0..<3000 {
            var bytes = [UInt8]()
            for _ in 0..<rng.below(12) { bytes += pieces[rng.below(pieces.count)] }
            var out: [UInt8] = [1, 2]
            let ok = bytes.withUnsafeBytes { JSONEscaping.appendCompactChecked($0, into: &out) }
            let valid = !bytes.contains(0) && String(validating: bytes, as: UTF8.self) != nil
            #expect(ok == valid)
            #expect(out == [1, 2] + (valid ? JSONWriter.compact.bytes(.string(String(decoding: bytes, as: UTF8.self))) : []))
        }
        for v: Int64 in [0, 7, 9, 10, 99, 100, -1, -10, 1_700_000_000, .max, .min, .min + 1] {
            var out = [UInt8]()
            JSONEscaping.appendDecimal(v, into: &out)
            #expect(out == Array(String(v).utf8))
        }
    }

    @Test func zlibMatchesPythonLevelOne() throws {
        var gen = TestBytes(seed: 11)
        let data = gen.bytes(300_000) + [UInt8](repeating: 0x61, count: 500_000) + Array("hello hello hello".utf8)
        let ours = try Zlib.compress(data)
        let python = try runProgram("/usr/bin/env", ["python3", "-c", "import sys, zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read(), 1))"], stdin: data)
        #expect(ours == python)
        #expect(Array(ours.prefix(2)) == [0x78, 0x01])
        #expect(try Zlib.compress([UInt8]()) == [0x78, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])
        // Streaming in odd slices gives the same stream.
        let d = try Deflater(level: 1)
        var streamed = [UInt8]()
        var i = 0
        while i < data.count {
            let n = min(data.count - i, 1 + gen.below(70_000))
            try data.withUnsafeBytes { try d.update(UnsafeRawBufferPointer(rebasing: $0[i..<(i + n)])) { streamed.append(contentsOf: $0) } }
            i += n
        }
        try d.finish { streamed.append(contentsOf: $0) }
        #expect(streamed == ours)
        #expect(try Zlib.decompress(ours, maxOutput: data.count) == data)
    }

    /// A reused stream (deflateReset) gives the bytes of a fresh one, after a finished stream,
    /// after one abandoned half-way, and for an empty input.
    @Test func resetDeflaterGivesFreshStreams() throws {
        var gen = TestBytes(seed: 12)
        let inputs: [[UInt8]] = [gen.bytes(1_500), [], Array(String(repeating: "key = value\n", count: 400).utf8),
                                 gen.bytes(200_000) + [UInt8](repeating: 7, count: 100_000), [0x41]]
        let d = try Deflater(level: 1)
        for (k, input) in inputs.enumerated() {
            try d.reset()
            if k == 2 {
                // Abandon a stream half-way: the reset must not leak its state into the next.
                try gen.bytes(5_000).withUnsafeBytes { try d.update($0) { _ in } }
                try d.reset()
            }
            var out = [UInt8]()
            try input.withUnsafeBytes { try d.update($0) { out.append(contentsOf: $0) } }
            try d.finish { out.append(contentsOf: $0) }
            #expect(out == (try Zlib.compress(input)), "input \(k)")
        }
    }

    @Test func zlibRefusesBombsTruncationAndTrailingBytes() throws {
        let bomb = try Zlib.compress([UInt8](repeating: 0, count: 10_000_000))
        #expect(bomb.count < 100_000)
        #expect(throws: ClusterError.self) { try Zlib.decompress(bomb, maxOutput: 1_000_000) }
        #expect(throws: ClusterError.self) { try Zlib.decompress(Array(bomb.dropLast(3)), maxOutput: 20_000_000) }
        #expect(throws: ClusterError.self) { try Zlib.decompress(bomb + [1, 2, 3], maxOutput: 20_000_000) }
        #expect(throws: ClusterError.self) { try Zlib.decompress([0x78, 0x01, 0xFF, 0xFF], maxOutput: 100) }
    }

    @Test func digestsMatchKnownValues() {
        #expect(Digest.sha256Hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digest.blake2b512Hex(Array("abc".utf8)) == "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
        #expect(Digest.sha1Hex(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        var d = Digest(.blake2b512)
        d.update(Array("a".utf8)); d.update(Array("bc".utf8))
        #expect(Hex.encode(d.finalize()) == Digest.blake2b512Hex(Array("abc".utf8)))
    }

    @Test func chunkRecordsVerify() throws {
        func parse(_ text: String) throws -> ChunkRecord {
            try Array(text.utf8).withUnsafeBytes { try ChunkRecord(bytes: $0, line: 1) }
        }
        let r = ChunkRecord(id: "s", seq: 0, last: true, data: Array("hi?>".utf8))
        #expect(try parse(String(decoding: JSONWriter.compact.bytes(r.toJSON()), as: UTF8.self)) == r)
        // Any valid JSON spelling of the same record: spaces, another key order, an escaped '/'.
        let sha = Digest.sha256Hex(Array("hi?>".utf8))
        #expect(try parse(" { \"data\" : \"aGk\\/Pg==\", \"sha256\":\"\(sha)\", \"size\":4,\"last\":true,\"seq\":0,\"id\":\"s\" } ") == r)
        var j = r.toJSON()
        j["data"] = "aGo/Pg=="
        #expect(throws: ClusterError.self) { try parse(String(decoding: JSONWriter.compact.bytes(j), as: UTF8.self)) }
        let good = String(decoding: JSONWriter.compact.bytes(r.toJSON()), as: UTF8.self)
        for (bad, why) in [
            ("[1,2,3]", "expected a JSON object"),
            (good.replacingOccurrences(of: "{", with: "{\"x\":1,"), "unknown key 'x'"),
            (good.replacingOccurrences(of: "{", with: "{\"seq\":0,"), "duplicate key 'seq'"),
            (good.replacingOccurrences(of: "\"id\":\"s\"", with: "\"id\":[\"s\"]"), "'id' must be a string"),
            (good.replacingOccurrences(of: "\"last\":true", with: "\"last\":1"), "'last' must be true or false"),
            (good.replacingOccurrences(of: "\"seq\":0", with: "\"seq\":0.5"), "'seq' must be a non-negative integer"),
            (good.replacingOccurrences(of: ",\"seq\":0", with: ""), "'seq' must be a non-negative integer"),
            (good + " x", "unexpected data after the value"),
        ] {
            #expect { try parse(bad) } throws: { ($0 as? ClusterError)?.message.contains(why) == true && ($0 as? ClusterError)?.message.hasPrefix("chunk on line 1: ") == true }
        }
        var joiner = ChunkJoiner()
        try joiner.accept(ChunkRecord(id: "s", seq: 0, last: false, data: [1]), line: 1)
        #expect(throws: ClusterError.self) { try joiner.accept(ChunkRecord(id: "s", seq: 2, last: true, data: [1]), line: 2) }
        #expect(throws: ClusterError.self) { try joiner.finish() }
    }
}
