import Foundation
import Testing
@testable import ClusterKit

@Suite struct FrameTests {
    static let goldenKey = "Wazuh_Golden_Key_0123456789abcde"

    /// Each frame vector the reference's own msg_build produced, rebuilt from its recorded inputs.
    static func frameVector(_ name: String) throws -> (meta: JSON, bin: [UInt8]?) {
        let dir = TestPaths.fixtures.appendingPathComponent("wazuh-4.9.2/frames")
        let meta = try JSON.parse(try TestPaths.read(dir.appendingPathComponent("\(name).json")))
        var bin: [UInt8]? = nil
        let carried = dir.appendingPathComponent("\(name).bin")
        if FileManager.default.fileExists(atPath: carried.path) {
            bin = try TestPaths.read(carried)
        } else if let shared = TestPaths.sharedVectors?.appendingPathComponent("wazuh-4.9.2/frames/\(name).bin"),
                  FileManager.default.fileExists(atPath: shared.path) {
            bin = try TestPaths.read(shared)
        }
        return (meta, bin)
    }

    static func payload(for meta: JSON) -> [UInt8] {
        if let text = meta["payload_utf8"]?.stringValue { return Array(text.utf8) }
        let n = Int(meta["payload_len"]!.intValue!)
        return (0..<n).map { UInt8($0 % 251) }
    }

    @Test(arguments: ["hello", "echo_c_empty", "echo_c_keepalive", "plain_get_health", "divided_12000000"])
    func reproducesReferenceFrames(name: String) throws {
        let (meta, bin) = try Self.frameVector(name)
        let fernet = try meta["key"]!.stringValue.map { Fernet(key: try ClusterKey(text: $0)) }
        let encoder = FrameEncoder(fernet: fernet, requestChunk: Int(meta["request_chunk"]!.intValue!))
        let payload = Self.payload(for: meta)
        #expect(Digest.sha256Hex(payload) == meta["payload_sha256"]!.stringValue!)
        let msg = try encoder.encode(command: meta["command"]!.stringValue!, counter: UInt32(meta["counter"]!.intValue!),
                                     payload: payload, timestamp: meta["timestamp"]?.intValue.map(UInt64.init),
                                     iv: meta["iv_hex"]?.stringValue.flatMap(Hex.decode))
        #expect(msg.bytes.count == Int(meta["bin_len"]!.intValue!))
        #expect(Digest.sha256Hex(msg.bytes) == meta["bin_sha256"]!.stringValue!)
        if let bin { #expect(msg.bytes == bin) }
        // A single encrypted frame written straight into a buffer is the same bytes.
        if let size = encoder.singleFrameSize(payloadCount: payload.count) {
            var direct = [UInt8](repeating: 0, count: size)
            try direct.withUnsafeMutableBytes { out in
                try payload.withUnsafeBytes {
                    try encoder.encodeSingleFrame(command: Array(meta["command"]!.stringValue!.utf8), counter: UInt32(meta["counter"]!.intValue!),
                                                  payload: $0, into: out, timestamp: meta["timestamp"]?.intValue.map(UInt64.init),
                                                  iv: meta["iv_hex"]?.stringValue.flatMap(Hex.decode))
                }
            }
            #expect(direct == msg.bytes)
        }
        let parts = try payload.withUnsafeBytes {
            try encoder.encodeParts(command: Array(meta["command"]!.stringValue!.utf8), counter: UInt32(meta["counter"]!.intValue!),
                                    payload: $0, timestamp: meta["timestamp"]?.intValue.map(UInt64.init),
                                    iv: meta["iv_hex"]?.stringValue.flatMap(Hex.decode))
        }
        var gathered = [UInt8]()
        parts.write { gathered.append(contentsOf: $0) }
        #expect(gathered == msg.bytes && parts.frames == msg.frames && parts.byteCount == msg.bytes.count)
        let frames = meta["frames"]!.arrayValue!
        #expect(msg.frames.count == frames.count)
        for (range, f) in zip(msg.frames, frames) {
            #expect(range.lowerBound == Int(f["offset"]!.intValue!))
            #expect(range.count == Int(f["frame_len"]!.intValue!))
            #expect(Hex.encode(Array(msg.bytes[range.lowerBound..<(range.lowerBound + 20)])) == f["header_hex"]!.stringValue!)
        }
        // And the decoder gives the payload back.
        var decoder = FrameDecoder()
        let out = try decoder.feed(msg.bytes)
        #expect(out.count == 1)
        #expect(out[0].command == meta["command"]!.stringValue!)
        #expect(out[0].frames == frames.count)
        let decoded = try fernet.map { try $0.decrypt(out[0].payload) } ?? out[0].payload
        #expect(decoded == payload)
    }

    /// wire §2.4: the hello frame, byte for byte.
    @Test func referenceHelloFrame() throws {
        let fernet = Fernet(key: try ClusterKey(text: "c98b62a9b6169ac5f67dae55ae4a9088"))
        let msg = try FrameEncoder(fernet: fernet).encode(command: "hello", counter: 0x0102_0304,
                                                          payload: Array("worker-1 wazuh worker 4.9.2".utf8),
                                                          timestamp: 1_700_000_000, iv: Array(0..<16).map(UInt8.init))
        #expect(Hex.encode(Array(msg.bytes.prefix(20))) == "010203040000007868656c6c6f202d2d2d2d2d2d")
        #expect(String(decoding: msg.bytes.dropFirst(20), as: UTF8.self) == "gAAAAABlU_EAAAECAwQFBgcICQoLDA0OD-98sQAkIkA3BMszb7hoefkgR3ZsHWLS-jUX0NWiaWibnj_lxO9YerqCEWoo_mmX9zvqAnggHcMBpfrKqhr7TkY=")
        #expect(msg.bytes.count == 140)
        let plain = try FrameEncoder(fernet: nil).encode(command: "get_config", counter: 0x0a0b_0c0d, payload: [UInt8]())
        #expect(Hex.encode(plain.bytes) == "0a0b0c0d000000006765745f636f6e666967202d")
    }

    @Test func commandFields() throws {
        func field(_ n: String) -> String { String(decoding: CommandField.encode(Array(n.utf8)), as: UTF8.self) }
        #expect(field("ok") == "ok ---------")
        #expect(field("ok ") == "ok  --------")
        #expect(field("ok-m ") == "ok-m  ------")
        #expect(field("syn_i_w_m_p") == "syn_i_w_m_p ")
        #expect(String(decoding: CommandField.encode(Array("syn_i_w_m_p".utf8), finalFragment: false), as: UTF8.self) == "syn_i_w_m_pd")
        #expect(String(decoding: CommandField.encode(Array("dapi_res".utf8), finalFragment: true), as: UTF8.self) == "dapi_res ---")
        #expect(throws: ClusterError.self) { try CommandField.validate(Array("sendsync_err".utf8)) }
        #expect(throws: ClusterError.self) { try CommandField.validate(Array("a b".utf8)) }
        // The receiver cuts at the first space and keeps dashes.
        let f = Array("ok----------".utf8)
        #expect(f.withUnsafeBytes { CommandField.decode($0).name } == Array("ok---------".utf8))
        #expect(pythonBytesRepr(Array("bogus_cmd".utf8)) == "b'bogus_cmd'")
    }

    /// wire §1.4: division is decided on the plaintext length; slices are request_chunk − 20.
    @Test func divisionExamples() throws {
        let fernet = Fernet(key: try ClusterKey(text: Self.goldenKey))
        let encoder = FrameEncoder(fernet: fernet)
        let a = try encoder.encode(command: "dapi_res", counter: 5, payload: [UInt8](repeating: 1, count: 5_242_881))
        #expect(a.frames.map { $0.count - 20 } == [5_242_860, 1_747_744])
        #expect(a.bytes[a.frames[0].lowerBound + 19] == UInt8(ascii: "d"))
        #expect(a.bytes[a.frames[1].lowerBound + 19] == UInt8(ascii: "-"))
        let b = try encoder.encode(command: "dapi_res", counter: 6, payload: [UInt8](repeating: 2, count: 12_000_000))
        #expect(b.frames.map { $0.count - 20 } == [5_242_860, 5_242_860, 5_242_860, 271_520])
        let exact = try encoder.encode(command: "x", counter: 7, payload: [UInt8](repeating: 3, count: 5_242_880))
        #expect(exact.frames.count == 1 && exact.bytes.count == 20 + 6_990_604)
    }

    @Test func decoderReassemblesOneByteAtATime() throws {
        let fernet = Fernet(key: try ClusterKey(text: Self.goldenKey))
        let payload = (0..<5_242_881).map { UInt8($0 % 251) }
        let msg = try FrameEncoder(fernet: fernet).encode(command: "dapi_res", counter: 9, payload: payload)
        var decoder = FrameDecoder()
        var got = [ReceivedMessage]()
        try msg.bytes.withUnsafeBytes { raw in
            for i in 0..<raw.count {
                try decoder.feed(UnsafeRawBufferPointer(rebasing: raw[i..<(i + 1)])) { got.append($0) }
            }
        }
        #expect(got.count == 1)
        #expect(got[0].frames == 2 && got[0].counter == 9 && got[0].command == "dapi_res")
        #expect(try fernet.decrypt(got[0].payload) == payload)
        #expect(decoder.isIdle && decoder.partialMessages == 0)
    }

    @Test func decoderReassemblesRandomSlicesAndInterleavedCounters() throws {
        let fernet = Fernet(key: try ClusterKey(text: Self.goldenKey))
        let encoder = FrameEncoder(fernet: fernet, requestChunk: 4096)
        var gen = TestBytes(seed: 99)
        let p1 = gen.bytes(50_000), p2 = gen.bytes(20_000), p3 = gen.bytes(10)
        let m1 = try encoder.encode(command: "dapi", counter: 1, payload: p1)
        let m2 = try encoder.encode(command: "sendsync", counter: 2, payload: p2)
        let m3 = try encoder.encode(command: "echo-c", counter: 3, payload: p3)
        // Interleave the fragments of m1 and m2 (reassembly is keyed by counter), m3 in between.
        var stream = [UInt8]()
        let f1 = m1.frames, f2 = m2.frames
        for i in 0..<max(f1.count, f2.count) {
            if i < f1.count { stream += m1.bytes[f1[i]] }
            if i < f2.count { stream += m2.bytes[f2[i]] }
            if i == 1 { stream += m3.bytes }
        }
        for round in 0..<20 {
            var decoder = FrameDecoder()
            var got = [ReceivedMessage]()
            var i = 0
            while i < stream.count {
                let n = min(stream.count - i, 1 + gen.below(round % 2 == 0 ? 64 : 9000))
                try stream.withUnsafeBytes { try decoder.feed(UnsafeRawBufferPointer(rebasing: $0[i..<(i + n)])) { got.append($0) } }
                i += n
            }
            #expect(got.map(\.counter) == [3, 2, 1] || got.map(\.counter) == [3, 1, 2])
            let byCounter = Dictionary(uniqueKeysWithValues: got.map { ($0.counter, $0) })
            #expect(try fernet.decrypt(byCounter[1]!.payload) == p1)
            #expect(try fernet.decrypt(byCounter[2]!.payload) == p2)
            #expect(try fernet.decrypt(byCounter[3]!.payload) == p3)
            try decoder.checkComplete()
        }
    }

    /// The reference allocates whatever a header claims; we refuse before buffering.
    @Test func hugeLengthIsRefusedBeforeAllocation() throws {
        var header = [UInt8]()
        FrameHeader(counter: 1, length: UInt32.max, commandField: CommandField.encode(Array("hello".utf8))).write(into: &header)
        var decoder = FrameDecoder()
        #expect(throws: ClusterError.self) { try decoder.feed(header) }
        // A divided message may not grow past the message cap, nor past the fragment count.
        let limits = FrameLimits(maxFrameBytes: 100, maxMessageBytes: 250, maxFragments: 3, maxPartialMessages: 2)
        func frag(_ counter: UInt32, _ n: Int, final: Bool = false) -> [UInt8] {
            var b = [UInt8]()
            FrameHeader(counter: counter, length: UInt32(n), commandField: CommandField.encode(Array("x".utf8), finalFragment: final)).write(into: &b)
            return b + [UInt8](repeating: 0x41, count: n)
        }
        var d2 = FrameDecoder(limits: limits)
        _ = try d2.feed(frag(1, 100) + frag(1, 100))
        #expect(throws: ClusterError.self) { try d2.feed(frag(1, 100, final: true)) }
        var d3 = FrameDecoder(limits: limits)
        _ = try d3.feed(frag(1, 10) + frag(1, 10) + frag(1, 10))
        #expect(throws: ClusterError.self) { try d3.feed(frag(1, 10, final: true)) }
        var d4 = FrameDecoder(limits: limits)
        _ = try d4.feed(frag(1, 10) + frag(2, 10))
        #expect(throws: ClusterError.self) { try d4.feed(frag(3, 10)) }
        var d5 = FrameDecoder(limits: limits)
        #expect(throws: ClusterError.self) { try d5.feed(frag(4, 101)) }
    }

    /// A read that ends exactly on a header boundary must not desynchronise the stream (the
    /// reference's parser bug, wire §1.5).
    @Test func headerBoundaryIsNotMistakenForANewHeader() throws {
        let fernet = Fernet(key: try ClusterKey(text: Self.goldenKey))
        let msg = try FrameEncoder(fernet: fernet).encode(command: "echo-c", counter: 77, payload: Array("keepalive".utf8))
        var decoder = FrameDecoder()
        #expect(try decoder.feed(Array(msg.bytes.prefix(20))).isEmpty)
        let out = try decoder.feed(Array(msg.bytes.dropFirst(20)))
        #expect(out.count == 1)
        #expect(try fernet.decrypt(out[0].payload) == Array("keepalive".utf8))
    }

    @Test func truncatedStreamIsReported() throws {
        let msg = try FrameEncoder(fernet: nil).encode(command: "echo", counter: 1, payload: Array("abc".utf8))
        var d = FrameDecoder()
        _ = try d.feed(Array(msg.bytes.dropLast()))
        #expect(throws: ClusterError.self) { try d.checkComplete() }
        var d2 = FrameDecoder()
        _ = try d2.feed(Array(msg.bytes.prefix(7)))
        #expect(throws: ClusterError.self) { try d2.checkComplete() }
    }
}
