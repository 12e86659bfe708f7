import Foundation
import Testing

/// The tools on hostile standard input: what a line, a token or a message may make them hold is
/// bounded by a documented cap, a larger one exits 65 with a message that names the option, and
/// the peak RSS stays under 256 MiB with the defaults.
@Suite(.serialized) struct HostileStdinTests {
    static let ceilingKiB = 256 * 1024

    /// Runs `command` (a shell line, products on PATH) from `dir` and returns its exit status,
    /// stderr and the peak RSS of the processes it started, in KiB (getrusage of the children of
    /// a fresh python, which is nothing but them).
    static func peak(_ command: String, in dir: URL) throws -> (status: Int32, stderr: String, peakKiB: Int) {
        let r = try ToolRunner.shell("""
            python3 - <<'PY'
            import resource, subprocess, sys
            p = subprocess.run(['bash', '-o', 'pipefail', '-c', \(pythonString(command))],
                               stdout=subprocess.DEVNULL, stderr=open('stderr.txt', 'wb'))
            print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
            PY
            """, in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let fields = r.stdoutText.split(separator: " ").map { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1 }
        let stderr = (try? String(contentsOf: dir.appendingPathComponent("stderr.txt"), encoding: .utf8)) ?? ""
        return (Int32(fields.first ?? -1), stderr, fields.count > 1 ? fields[1] : -1)
    }

    static func pythonString(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    @Test func joinRefusesAHugeOneLineArrayWithinTheCeiling() throws {
        let dir = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try ToolRunner.shell("""
            python3 - <<'PY'
            with open('array.jsonl', 'w') as f:
                f.write('[' + ','.join(['0'] * 30000000) + ']\\n')
            with open('nested.jsonl', 'w') as f:
                f.write('{"id":[' + ','.join(['0'] * 2000000) + ']}\\n')
            PY
            """, in: dir).status == 0)
        let r = try Self.peak("cl-chunk join < array.jsonl", in: dir)
        #expect(r.status == 65, "\(r.stderr)")
        #expect(r.stderr.contains("--max-bytes"))
        #expect(r.peakKiB > 0 && r.peakKiB < Self.ceilingKiB, "peak \(r.peakKiB) KiB")
        // Under the cap, a line that is not a chunk is refused at its first wrong byte.
        let nested = try Self.peak("cl-chunk join < nested.jsonl", in: dir)
        #expect(nested.status == 65)
        #expect(nested.stderr.contains("'id' must be a string"), "\(nested.stderr)")
        #expect(nested.peakKiB < 64 * 1024, "peak \(nested.peakKiB) KiB")
    }

    @Test func splitAndJoinAgreeOnTheLargestChunk() throws {
        let dir = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try ToolRunner.shell("""
            head -c 40000000 /dev/urandom > plain
            cl-chunk split --size 16777216 < plain | cl-chunk join > back && cmp plain back && echo same
            """, in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdoutText == "same\n")
        let big = try ToolRunner.shell("cl-chunk split --size 16777217 < /dev/null", in: dir)
        #expect(big.status == 64, "\(big.stderr)")
        // A smaller cap is honoured, and named.
        // (join stops reading at the cap, so split may fail on a broken pipe: its error line
        // would be the last on the shared stderr, so it goes elsewhere.)
        let capped = try ToolRunner.shell("head -c 100000 plain | cl-chunk split --size 100000 2>/dev/null | cl-chunk join --max-bytes 1000", in: dir)
        #expect(capped.status == 65)
        // Both ends of the pipe write to this stderr: split's broken pipe can come after join's refusal.
        let messages = capped.stderr.split(separator: "\n").compactMap { line in
            ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["error"] as? [String: Any]
        }.compactMap { $0["message"] as? String }
        #expect(messages.contains("line 1 of standard input is longer than 1000 bytes (raise --max-bytes to accept it)"), "\(capped.stderr)")
    }

    @Test func decryptRefusesAHugeTokenAndDecryptsALargeOneWithinTheCeiling() throws {
        let dir = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try ToolRunner.shell("cl-crypt keygen -o k.key && head -c 48000000 /dev/urandom > plain && cl-crypt encrypt --key-file k.key < plain > token",
                                     in: dir).status == 0)
        // 600 MB of token text through a pipe: refused once 64 MiB have arrived.
        let huge = try Self.peak("head -c 600000000 /dev/zero | tr '\\0' A | cl-crypt decrypt --key-file k.key", in: dir)
        #expect(huge.status == 65, "\(huge.stderr)")
        #expect(huge.stderr.contains("longer than 67108864 bytes (raise --max-bytes"), "\(huge.stderr)")
        #expect(huge.peakKiB > 0 && huge.peakKiB < Self.ceilingKiB, "peak \(huge.peakKiB) KiB")
        // A 64 MB token (48 MB of plaintext) through a pipe decrypts, byte for byte.
        let ok = try Self.peak("cat token | cl-crypt decrypt --key-file k.key > back && cmp plain back", in: dir)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.peakKiB < Self.ceilingKiB, "peak \(ok.peakKiB) KiB")
        #expect(try Self.peak("cl-crypt decrypt --key-file k.key --max-bytes 1000000 < token", in: dir).status == 65)
    }

    @Test func unframeRefusesAHugeDividedMessageAndReadsALargeOneWithinTheCeiling() throws {
        let dir = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try ToolRunner.shell("""
            cl-crypt keygen -o k.key
            head -c 70000000 /dev/urandom | cl-chunk frame --command dapi --key-file k.key > huge.frames
            head -c 40000000 /dev/urandom > plain
            cl-chunk frame --command dapi --key-file k.key < plain > large.frames
            """, in: dir).status == 0)
        let huge = try Self.peak("cl-chunk unframe --key-file k.key < huge.frames", in: dir)
        #expect(huge.status == 65, "\(huge.stderr)")
        #expect(huge.stderr.contains("67108864-byte message limit"), "\(huge.stderr)")
        #expect(huge.peakKiB > 0 && huge.peakKiB < Self.ceilingKiB, "peak \(huge.peakKiB) KiB")
        let large = try Self.peak("cat large.frames | cl-chunk unframe --key-file k.key > line.json", in: dir)
        #expect(large.status == 0, "\(large.stderr)")
        #expect(large.peakKiB < Self.ceilingKiB, "peak \(large.peakKiB) KiB")
        let check = try ToolRunner.shell("""
            python3 - <<'PY'
            import base64, json
            d = json.load(open('line.json'))
            assert d['divided'] and d['size'] == 40000000, d['size']
            assert base64.b64decode(d['payload']) == open('plain', 'rb').read()
            PY
            """, in: dir)
        #expect(check.status == 0, "\(check.stderr)")
        // Raised on purpose, the huge one goes through.
        #expect(try ToolRunner.shell("cl-chunk unframe --key-file k.key --max-message-bytes 134217728 < huge.frames | wc -l", in: dir).stdoutText
                .trimmingCharacters(in: .whitespacesAndNewlines) == "1")
    }
}
