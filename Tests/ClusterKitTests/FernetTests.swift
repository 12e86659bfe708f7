import Foundation
import Testing
@testable import ClusterKit

@Suite struct FernetTests {
    static func parseISO(_ s: String) -> UInt64 {
        let f = ISO8601DateFormatter()
        return UInt64(f.date(from: s)!.timeIntervalSince1970)
    }

    static func vectorFiles(_ name: String) -> [URL] {
        var urls = [TestPaths.fixtures.appendingPathComponent("fernet/\(name)")]
        if let shared = TestPaths.sharedVectors { urls.append(shared.appendingPathComponent("fernet/\(name)")) }
        return urls.filter { FileManager.default.fileExists(atPath: $0.path) }
    }

    @Test func specGenerateVectors() throws {
        let files = Self.vectorFiles("generate.json")
        #expect(!files.isEmpty)
        for url in files {
            let vectors = try JSON.parse(try TestPaths.read(url)).arrayValue!
            for v in vectors {
                let key = try ClusterKey(text: v["secret"]!.stringValue!)
                let iv = v["iv"]!.arrayValue!.map { UInt8($0.intValue!) }
                let token = Fernet(key: key).encrypt(Array(v["src"]!.stringValue!.utf8),
                                                     timestamp: Self.parseISO(v["now"]!.stringValue!), iv: iv)
                #expect(String(decoding: token, as: UTF8.self) == v["token"]!.stringValue!)
            }
        }
    }

    @Test func specVerifyVectors() throws {
        let files = Self.vectorFiles("verify.json")
        #expect(!files.isEmpty)
        for url in files {
            for v in try JSON.parse(try TestPaths.read(url)).arrayValue! {
                let key = try ClusterKey(text: v["secret"]!.stringValue!)
                let plain = try Fernet(key: key).decrypt(Array(v["token"]!.stringValue!.utf8),
                                                         ttl: UInt64(v["ttl_sec"]!.intValue!),
                                                         now: Self.parseISO(v["now"]!.stringValue!))
                #expect(String(decoding: plain, as: UTF8.self) == v["src"]!.stringValue!)
            }
        }
    }

    /// wire §2.4: the cluster key is used as 32 raw ASCII bytes, first half signs, second encrypts.
    @Test func referenceHelloToken() throws {
        let key = try ClusterKey(text: "c98b62a9b6169ac5f67dae55ae4a9088")
        #expect(key.fernetKeyText == "Yzk4YjYyYTliNjE2OWFjNWY2N2RhZTU1YWU0YTkwODg=")
        let iv = Array(0..<16).map(UInt8.init)
        let token = Fernet(key: key).encrypt(Array("worker-1 wazuh worker 4.9.2".utf8), timestamp: 1_700_000_000, iv: iv)
        #expect(String(decoding: token, as: UTF8.self) == "gAAAAABlU_EAAAECAwQFBgcICQoLDA0OD-98sQAkIkA3BMszb7hoefkgR3ZsHWLS-jUX0NWiaWibnj_lxO9YerqCEWoo_mmX9zvqAnggHcMBpfrKqhr7TkY=")
        // The same secret given as its 44-character Fernet key is the same key.
        #expect(try ClusterKey(text: "Yzk4YjYyYTliNjE2OWFjNWY2N2RhZTU1YWU0YTkwODg=\n") == key)
    }

    @Test func tokenLengthsFollowTheFormula() throws {
        let f = Fernet(key: try ClusterKey(text: ClusterKey.generateText()))
        for (n, expected) in [(0, 100), (9, 100), (16, 120), (27, 120), (100, 228)] {
            #expect(f.encrypt([UInt8](repeating: 7, count: n)).count == expected)
            #expect(Fernet.tokenLength(plaintextCount: n) == expected)
        }
        #expect(Fernet.tokenLength(plaintextCount: 5_242_880) == 6_990_604)
        #expect(Fernet.tokenLength(plaintextCount: 12_000_000) == 16_000_100)
    }

    @Test func roundTripAndTamperingEveryByte() throws {
        let f = Fernet(key: try ClusterKey(text: ClusterKey.generateText()))
        var gen = TestBytes(seed: 42)
        let plain = gen.bytes(37)
        let token = f.encrypt(plain)
        #expect(try f.decrypt(token) == plain)
        for i in 0..<token.count {
            for replacement in [UInt8(ascii: "A"), UInt8(ascii: "-"), UInt8(ascii: "=")] where token[i] != replacement {
                var t = token
                t[i] = replacement
                #expect(throws: ClusterError.self) { try f.decrypt(t) }
            }
        }
        #expect(throws: ClusterError.self) { try f.decrypt(Array(token.dropLast(4))) }
        #expect(throws: ClusterError.self) { try f.decrypt(token + Array("AAAA".utf8)) }
        let other = Fernet(key: try ClusterKey(text: ClusterKey.generateText()))
        #expect(throws: ClusterError.self) { try other.decrypt(token) }
    }

    /// The in-place decryption the tools use for one large token: the same plaintext as
    /// `decrypt` for every length around the block size, and the same refusals.
    @Test func decryptInPlaceMatchesDecrypt() throws {
        let f = Fernet(key: try ClusterKey(text: ClusterKey.generateText()))
        var gen = TestBytes(seed: 7)
        for n in [0, 1, 15, 16, 17, 31, 32, 33, 1000, 70_000] {
            let plain = gen.bytes(n)
            let token = f.encrypt(plain)
            var raw = try Fernet.decode(token)
            let range = try f.decryptInPlace(&raw)
            #expect(Array(raw[range]) == plain, "length \(n)")
            #expect(try f.decrypt(token) == plain, "length \(n)")
        }
        let token = f.encrypt(Array("secret".utf8))
        var forged = try Fernet.decode(token)
        forged[30] ^= 1
        #expect(throws: ClusterError.self) { try f.decryptInPlace(&forged) }
        var short = Array(try Fernet.decode(token).dropLast(16))
        #expect(throws: ClusterError.self) { try f.decryptInPlace(&short) }
        #expect(throws: ClusterError.self) { try Fernet.decode(Array("not*base64".utf8)) }
    }

    @Test func ttlAndClockSkew() throws {
        let f = Fernet(key: try ClusterKey(text: ClusterKey.generateText()))
        let token = f.encrypt(Array("x".utf8), timestamp: 1000)
        #expect(try f.decrypt(token, ttl: 10, now: 1010) == Array("x".utf8))
        #expect(throws: ClusterError.self) { try f.decrypt(token, ttl: 10, now: 1011) }
        #expect(try f.decrypt(token, ttl: 10, now: 940) == Array("x".utf8))
        #expect(throws: ClusterError.self) { try f.decrypt(token, ttl: 10, now: 939) }
        // No TTL: the cluster link never checks the timestamp.
        #expect(try f.decrypt(token) == Array("x".utf8))
    }

    @Test func keyParsingRefusesBadKeys() throws {
        #expect(throws: ClusterError.self) { try ClusterKey(text: "short") }
        #expect(throws: ClusterError.self) { try ClusterKey(text: "c98b62a9b6169ac5f67dae55ae4a908!") }
        #expect(throws: ClusterError.self) { try ClusterKey(text: String(repeating: "*", count: 44)) }
        #expect(try ClusterKey(text: "Wazuh_Golden_Key_0123456789abcde\n").signingKey == Array("Wazuh_Golden_Key".utf8))
        #expect("\(try ClusterKey(text: "Wazuh_Golden_Key_0123456789abcde"))".contains("redacted"))
        let k = ClusterKey.generateText()
        #expect(k.utf8.count == 32 && k.utf8.allSatisfy(ClusterKey.isKeyCharacter))
    }

    /// Python's cryptography Fernet is the reference implementation the cluster uses: tokens must
    /// cross both ways, on random sizes up to 1 MiB.
    @Test func interoperatesWithPythonCryptography() throws {
        let keyText = ClusterKey.generateText()
        let key = try ClusterKey(text: keyText)
        let f = Fernet(key: key)
        var gen = TestBytes(seed: 7)
        let sizes = [0, 1, 15, 16, 17, 4096, 65_537, 1 << 20] + (0..<6).map { _ in gen.below(1 << 20) }
        let script = """
        import sys, base64, json
        from cryptography.fernet import Fernet
        mode, key = sys.argv[1], sys.argv[2]
        f = Fernet(base64.urlsafe_b64encode(key.encode()))
        data = sys.stdin.buffer.read()
        sys.stdout.buffer.write(f.decrypt(data) if mode == 'decrypt' else f.encrypt(data))
        """
        for n in sizes {
            let plain = gen.bytes(n)
            let ours = f.encrypt(plain)
            #expect(try runProgram("/usr/bin/env", ["python3", "-c", script, "decrypt", keyText], stdin: ours) == plain, "size \(n): ours -> python")
            let theirs = try runProgram("/usr/bin/env", ["python3", "-c", script, "encrypt", keyText], stdin: plain)
            #expect(try f.decrypt(theirs) == plain, "size \(n): python -> ours")
        }
    }
}
