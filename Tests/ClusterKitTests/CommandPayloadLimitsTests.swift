import Testing
@testable import ClusterKit

@Suite struct CommandPayloadLimitsTests {
    static func refusal(_ body: () throws -> Void) -> ClusterError? {
        do { try body(); return nil } catch let e as ClusterError { return e } catch { return nil }
    }

    @Test func defaultCaps() {
        let l = CommandPayloadLimits.standard
        for c in ["hello", "echo", "echo-c", "echo-m", "get_nodes", "get_health", "cancel_task"] {
            #expect(l.maxPayload(for: c) == 65_536, "\(c)")
        }
        #expect(l.maxPayload(for: "dapi") == 4_194_304)
        #expect(l.maxPayload(for: "sendsync") == 1_000_065)
        #expect(l.maxPayload(for: "sendsyn_res") == 4096)
        #expect(l.maxPayload(for: "sendsyn_err") == 65_536)
        for c in ["new_str", "new_file", "file_end", "syn_i_w_m_p", "syn_a_w_m_p", "syn_i_w_m", "syn_i_w_m_e",
                  "syn_m_c", "syn_m_c_e", "syn_a_w_m", "syn_g_m_w", "syn_g_m_w_c", "syn_w_g_c"] {
            #expect(l.maxPayload(for: c) == 4096, "\(c)")
        }
        // Bulk carriers and results are bounded by the frame and message limits only.
        for c in ["file_upd", "str_upd", "syn_m_a_e", "syn_w_g_e", "syn_i_w_m_r", "dapi_res", "no_such"] {
            #expect(l.maxPayload(for: c) == nil, "\(c)")
        }
    }

    @Test func payloadAtTheCapPassesAndOneMoreByteIsRefused() throws {
        let l = CommandPayloadLimits.standard
        try l.check(command: "hello", payloadCount: 65_536)
        try l.check(command: "file_upd", payloadCount: 100 << 20)
        let e = try #require(Self.refusal { try l.check(command: "hello", payloadCount: 65_537) })
        #expect(e.code == 1000)
        #expect(e.message.contains("hello"))
        #expect(e.message.contains("65537"))
        #expect(e.message.contains("65536"))
        let p = try #require(Self.refusal { try l.check(command: "syn_i_w_m_p", payloadCount: 4097) })
        #expect(p.code == 1000 && p.message.contains("syn_i_w_m_p") && p.message.contains("4096"))
    }

    @Test func overridesReplaceAndAdd() throws {
        let l = CommandPayloadLimits(overrides: ["hello": 100, "sendsync": 1_000_000])
        #expect(l.maxPayload(for: "hello") == 100)
        #expect(l.maxPayload(for: "sendsync") == 1_000_000)
        #expect(l.maxPayload(for: "dapi") == 4_194_304)
        #expect(Self.refusal { try l.check(command: "hello", payloadCount: 101) } != nil)
        #expect(Self.refusal { try l.check(command: "sendsync", payloadCount: 1_000_001) } != nil)
    }

    /// On TCP the payload is a Fernet token: a token longer than the one a capped plaintext
    /// makes cannot decrypt to a payload within the cap.
    @Test func tokenBoundMatchesFernet() throws {
        let l = CommandPayloadLimits.standard
        let key = try ClusterKey(text: "Wazuh_Golden_Key_0123456789abcde")
        let token = Fernet(key: key).encrypt([UInt8](repeating: 0x41, count: 65_536))
        #expect(l.maxTokenBytes(for: "hello") == token.count)
        #expect(l.maxTokenBytes(for: "file_upd") == nil)
    }

    /// A `dapi` request naming 100,000 agents, as a local client sends it and as a worker relays
    /// it (`'<id> <json>'`), fits the cap.
    @Test func dapiRequestNamingAHundredThousandAgentsFits() throws {
        let ids: [JSON] = (1...100_000).map { (n: Int) -> JSON in
            let digits = String(n)
            return .string(digits.count < 3 ? String(repeating: "0", count: 3 - digits.count) + digits : digits)
        }
        let r = DapiRequest(operation: "agents.list", arguments: ["agent_list": .array(ids), "limit": 100_000],
                            requestType: .distributedMaster, nodes: ["master", "worker-1", "worker-2"])
        let relayed = Array("18446744073709551615 ".utf8) + r.bytes
        try CommandPayloadLimits.standard.check(command: "dapi", payloadCount: r.bytes.count)
        try CommandPayloadLimits.standard.check(command: "dapi", payloadCount: relayed.count)
        #expect(relayed.count < 2 << 20)
    }
}

@Suite struct LogTextTests {
    @Test func shortTextIsKept() {
        #expect(LogText.truncated("get_nodes") == "get_nodes")
        #expect(LogText.truncated("") == "")
        #expect(LogText.truncated("nœud-1") == "nœud-1")
    }

    @Test func longTextIsCutAndSaysHowLongItWas() {
        let s = String(repeating: "a", count: 10_000)
        let t = LogText.truncated(s)
        #expect(t == String(repeating: "a", count: 128) + "... (10000 bytes)")
        #expect(LogText.truncated("abcdef", max: 3) == "abc... (6 bytes)")
    }

    @Test func cutNeverSplitsACharacter() {
        // Each "é" is two bytes: 3 fit in 7.
        #expect(LogText.truncated("éééé", max: 7) == "ééé... (8 bytes)")
    }

    /// A peer's newline must not start a log line of its own.
    @Test func controlCharactersAreEscaped() {
        #expect(LogText.truncated("a\nb\r\tc\u{0}d\u{1b}[31m\\") == "a\\nb\\r\\tc\\u{0}d\\u{1b}[31m\\\\")
        #expect(!LogText.truncated("x\u{2028}y").contains("\u{2028}"))
        #expect(LogText.truncated("\n\n\n", max: 4) == "\\n\\n... (3 bytes)")
    }
}
