import Foundation
import Testing

@Suite(.serialized) struct CryptToolTests {
    @Test func keygenMakesAValidKeyAndProtectsTheFile() throws {
        let dir = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try ToolRunner.shell("cl-crypt keygen")
        #expect(r.status == 0)
        let key = r.stdoutText.trimmingCharacters(in: .newlines)
        #expect(key.count == 32 && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
        let f = dir.appendingPathComponent("cluster.key").path
        #expect(try ToolRunner.shell("cl-crypt keygen -o '\(f)'").status == 0)
        let mode = try FileManager.default.attributesOfItem(atPath: f)[.posixPermissions] as! Int
        #expect(mode == 0o600)
        let again = try ToolRunner.shell("cl-crypt keygen -o '\(f)'")
        #expect(again.status == 73 && errorLine(again.stderr)?["exit"] as? Int == 73)
        #expect(try ToolRunner.shell("cl-crypt keygen -o '\(f)' --force").status == 0)
    }

    /// encrypt | decrypt through real pipes on 0 B, 1 B, 5 MiB and 100 MiB (whose 140 MB token
    /// is over decrypt's default cap, raised for it).
    @Test(arguments: [0, 1, 5 << 20, 100 << 20])
    func encryptDecryptRoundTrip(size: Int) throws {
        let dir = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cap = size > 48 << 20 ? " --max-bytes \(Int(Double(size) * 1.4))" : ""
        let r = try ToolRunner.shell("""
            cl-crypt keygen -o key
            head -c \(size) /dev/urandom > plain
            cl-crypt encrypt --key-file key < plain | cl-crypt decrypt --key-file key\(cap) > back
            cmp plain back && echo same
            """, in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdoutText == "same\n")
    }

    @Test func fernetSpecVectorThroughTheTool() throws {
        let secret = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
        let token = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA=="
        let enc = try ToolRunner.shell("printf hello | cl-crypt encrypt --key-env K --iv 000102030405060708090a0b0c0d0e0f --timestamp 499162800",
                                       environment: ["K": secret])
        #expect(enc.stdoutText == token)
        let ok = try ToolRunner.shell("echo \(token) | cl-crypt decrypt --key-env K --ttl 60 --now 499162801", environment: ["K": secret])
        #expect(ok.status == 0 && ok.stdoutText == "hello")
        let expired = try ToolRunner.shell("echo \(token) | cl-crypt decrypt --key-env K --ttl 60 --now 499162900", environment: ["K": secret])
        #expect(expired.status == 65 && expired.stdout.isEmpty)
        #expect(errorLine(expired.stderr)?["code"] as? Int == 3025)
    }

    @Test func badInputGetsAClearErrorAndNoOutput() throws {
        let dir = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try ToolRunner.shell("""
            cl-crypt keygen -o key
            printf 'secret data' | cl-crypt encrypt --key-file key > token
            """, in: dir)
        #expect(r.status == 0)
        // A flipped byte: refused, exit 65, nothing on stdout.
        let tampered = try ToolRunner.shell("python3 -c \"import sys;t=bytearray(open('token','rb').read());t[60]^=1;sys.stdout.buffer.write(t)\" | cl-crypt decrypt --key-file key", in: dir)
        #expect(tampered.status == 65 && tampered.stdout.isEmpty)
        let wrongKey = try ToolRunner.shell("cl-crypt keygen -o other && cl-crypt decrypt --key-file other < token", in: dir)
        #expect(wrongKey.status == 65 && wrongKey.stdout.isEmpty)
        let noKey = try ToolRunner.shell("cl-crypt decrypt --key-file missing < token", in: dir)
        #expect(noKey.status == 66)
        let badKey = try ToolRunner.shell("echo 'not a key' > bad && cl-crypt encrypt --key-file bad < token", in: dir)
        #expect(badKey.status == 65)
        let usage = try ToolRunner.shell("cl-crypt encrypt --iv 00 --key-file key < token", in: dir)
        #expect(usage.status == 64)
        let noKeyOption = try ToolRunner.shell("cl-crypt encrypt < token", in: dir)
        #expect(noKeyOption.status == 64)
        let human = try ToolRunner.shell("cl-crypt decrypt --key-file other --json-errors < /dev/null", in: dir)
        #expect(errorLine(human.stderr) != nil)
    }
}
