import Testing
@testable import ClusterKit

/// The `sendsync` request, the daemon table and the daemon sockets' framing, against what the
/// reference's master does with them (wazuh_socket.py, dapi §4.5).
@Suite struct SendSyncRequestTests {
    @Test func theDaemonTableIsTheReferences() {
        #expect(SendSyncDaemon.allCases.map(\.rawValue).sorted() == ["authd", "remoted", "task-manager", "wazuh-db"])
        #expect(SendSyncDaemon.authd.socketPath == "queue/sockets/auth")
        #expect(SendSyncDaemon.taskManager.socketPath == "queue/tasks/task")
        #expect(SendSyncDaemon.wazuhDB.socketPath == "queue/db/wdb")
        #expect(SendSyncDaemon.remoted.socketPath == "queue/sockets/remote")
        #expect(SendSyncDaemon.taskManager.socketName == "task")
    }

    @Test func framingIsALittleEndianLengthThenTheBytes() throws {
        #expect(DaemonSocketFraming.frame(Array("abc".utf8)) == [3, 0, 0, 0, 0x61, 0x62, 0x63])
        #expect(DaemonSocketFraming.frame(Array(repeating: 0x20, count: 0x0102)).prefix(4) == [0x02, 0x01, 0, 0])
        var reader = DaemonSocketFraming.ReplyReader(maxReply: 100)
        #expect(try reader.feed([5, 0]) == nil)
        #expect(try reader.feed([0, 0, 0x68, 0x65]) == nil)
        #expect(reader.hasPartial)
        #expect(try reader.feed(Array("llo!!".utf8)) == Array("hello".utf8))
        var empty = DaemonSocketFraming.ReplyReader(maxReply: 100)
        #expect(try empty.feed([0, 0, 0, 0]) == [])
    }

    @Test func anOversizedAnswerIsRefusedAtItsHeader() {
        var reader = DaemonSocketFraming.ReplyReader(maxReply: 1000)
        #expect(throws: ClusterError.self) { _ = try reader.feed([0xE9, 0x03, 0, 0]) }
        var ok = DaemonSocketFraming.ReplyReader(maxReply: 1000)
        #expect((try? ok.feed([0xE8, 0x03, 0, 0])) == .some(nil))
    }

    @Test func anObjectMessageGoesAsPythonWritesIt() throws {
        let r = try SendSyncRequest(payload: Array(#"{"daemon_name":"authd","message":{"function":"add","arguments":{"name":"agent-1","ip":"any","groups":"default"}}}"#.utf8))
        #expect(r.daemon == .authd)
        #expect(String(decoding: r.message, as: UTF8.self)
                == #"{"function": "add", "arguments": {"name": "agent-1", "ip": "any", "groups": "default"}}"#)
        let s = try SendSyncRequest(payload: Array(#"{"daemon_name": "wazuh-db", "message": "global sql SELECT 1"}"#.utf8))
        #expect(s.daemon == .wazuhDB && s.message == Array("global sql SELECT 1".utf8))
    }

    static func refusal(_ payload: String) -> String? {
        do { _ = try SendSyncRequest(payload: Array(payload.utf8)); return nil } catch { return "\(error)" }
    }

    @Test func whatTheReferencesMasterFailsOnIsRefusedInItsWords() {
        #expect(Self.refusal(#"{"daemon_name": "wazuh-analysisd", "message": "x"}"#)
                == "Error 1014 - Error communicating with socket: 'wazuh-analysisd'")
        #expect(Self.refusal(#"{"daemon_name": 7, "message": "x"}"#) == "Error 1014 - Error communicating with socket: 7")
        #expect(Self.refusal(#"{"message": "x"}"#) == "Error 1014 - Error communicating with socket: 'daemon_name'")
        #expect(Self.refusal(#"{"daemon_name": "authd"}"#)
                == "Error 1014 - Error communicating with socket: 'NoneType' object has no attribute 'encode'")
        #expect(Self.refusal(#"{"daemon_name": "authd", "message": [1]}"#)
                == "Error 1014 - Error communicating with socket: 'list' object has no attribute 'encode'")
        #expect(Self.refusal(#"{"daemon_name": "authd", "message": "x", "path": "/etc/shadow"}"#)
                == "wazuh_sendsync() got an unexpected keyword argument 'path'")
        #expect(Self.refusal(#"["authd"]"#)?.hasPrefix("Error 1014 - Error communicating with socket: ") == true)
        #expect(Self.refusal("not json")?.hasPrefix("Error 1014 - Error communicating with socket: the request is not JSON") == true)
    }

    @Test func sizesAreBounded() {
        let big = #"{"daemon_name": "authd", "message": ""# + String(repeating: "a", count: SendSyncRequest.maxRequestBytes) + #""}"#
        #expect(Self.refusal(big)?.contains("exceeds the 1000000-byte limit") == true)
        #expect(CommandPayloadLimits.standard.maxPayload(for: "sendsync") == SendSyncRequest.maxPayloadBytes)
    }
}
