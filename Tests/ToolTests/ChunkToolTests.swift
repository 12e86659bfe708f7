import Foundation
import Testing

@Suite(.serialized) struct ChunkToolTests {
    /// split | join through real pipes on 0 B, 1 B, 5 MiB and 100 MiB.
    @Test(arguments: [0, 1, 5 << 20, 100 << 20])
    func splitJoinRoundTrip(size: Int) throws {
        let dir = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try ToolRunner.shell("""
            head -c \(size) /dev/urandom > plain
            cl-chunk split --size 1048576 < plain | cl-chunk join > back
            cmp plain back && echo same
            """, in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdoutText == "same\n")
    }

    @Test func droppedSwappedOrCorruptChunksFailWith65AndNoOutput() throws {
        let dir = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try ToolRunner.shell("head -c 10000 /dev/urandom | cl-chunk split --size 1000 > chunks", in: dir).status == 0)
        let cases = [
            "dropped": "sed 3d chunks",
            "swapped": "awk 'NR==3{x=$0;next} NR==4{print;print x;next}{print}' chunks",
            "duplicated": "awk 'NR==3{print} {print}' chunks",
            "last missing": "sed '$d' chunks",
            "corrupt data": "python3 -c \"import json,sys\nfor i,l in enumerate(open('chunks')):\n d=json.loads(l)\n if i==4: d['data']=('B' if d['data'][0]=='A' else 'A')+d['data'][1:]\n print(json.dumps(d))\"",
            "trailing garbage": "{ cat chunks; echo '{}'; }",
        ]
        for (name, producer) in cases {
            let r = try ToolRunner.shell("\(producer) | cl-chunk join", in: dir)
            #expect(r.status == 65, "\(name): \(r.stderr)")
            #expect(r.stdout.count == 0, "\(name) wrote partial output")
            #expect(errorLine(r.stderr)?["exit"] as? Int == 65, "\(name)")
        }
    }

    @Test func frameAndUnframeRoundTrip() throws {
        let dir = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try ToolRunner.shell("""
            cl-crypt keygen -o key
            head -c 6000000 /dev/urandom > big
            { printf 'worker-1 wazuh worker 4.9.2' | cl-chunk frame --command hello --counter 0x10 --key-file key
              cl-chunk frame --command dapi_res --counter 17 --key-file key < big; } > wire
            cl-chunk unframe --key-file key < wire > lines
            """, in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try String(contentsOf: dir.appendingPathComponent("lines"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        #expect(first["counter"] as? Int == 16 && first["command"] as? String == "hello")
        #expect(first["divided"] as? Bool == false && first["frames"] as? Int == 1 && first["size"] as? Int == 27)
        #expect(Data(base64Encoded: first["payload"] as! String) == Data("worker-1 wazuh worker 4.9.2".utf8))
        let second = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
        #expect(second["divided"] as? Bool == true && second["frames"] as? Int == 2 && second["size"] as? Int == 6_000_000)
        #expect(Data(base64Encoded: second["payload"] as! String) == (try Data(contentsOf: dir.appendingPathComponent("big"))))
        // Clear framing (no key) as on the unix socket.
        let plain = try ToolRunner.shell("printf null | cl-chunk frame --command get_health --counter 7 | od -An -tx1 | tr -d ' \\n'")
        #expect(plain.stdoutText == "00000007000000046765745f6865616c7468202d6e756c6c")
    }

    @Test func unframeRefusesHugeHeadersAndTruncation() throws {
        let huge = try ToolRunner.shell("printf '\\x00\\x00\\x00\\x01\\xff\\xff\\xff\\xffhello ------' | cl-chunk unframe")
        #expect(huge.status == 65 && huge.stdout.isEmpty)
        #expect((errorLine(huge.stderr)?["message"] as? String)?.contains("limit") == true)
        let truncated = try ToolRunner.shell("printf 'abc' | cl-chunk frame --command echo --counter 1 | head -c 22 | cl-chunk unframe")
        #expect(truncated.status == 65)
        let wrongKey = try ToolRunner.shell("""
            d=$(mktemp -d); cl-crypt keygen -o $d/a; cl-crypt keygen -o $d/b
            printf x | cl-chunk frame --command echo --key-file $d/a | cl-chunk unframe --key-file $d/b; rc=$?; rm -r $d; exit $rc
            """)
        #expect(wrongKey.status == 65)
        #expect(errorLine(wrongKey.stderr)?["code"] as? Int == 3025)
        let longCommand = try ToolRunner.shell("printf x | cl-chunk frame --command sendsync_err")
        #expect(longCommand.status == 64)
    }
}
