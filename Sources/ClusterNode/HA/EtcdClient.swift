import ClusterKit
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A client of etcd's v3 JSON gateway (`POST /v3/...`, JSON bodies, byte strings in base64,
/// 64-bit integers as strings): the lease, election and range calls failover needs.
///
/// The gateway rather than gRPC: it is served by every etcd 3.4+ on the client port, needs
/// nothing beyond the HTTP/1.1 codec swift-nio already ships, and each call is a short request
/// a person can repeat with curl. One TCP connection per call, to the first endpoint that
/// accepts it; a call that gets no whole answer within its timeout fails. Answers are bounded
/// (`maxAnswerBytes`) before they are parsed.
struct EtcdClient: Sendable {
    let endpoints: [HostPort]
    let group: EventLoopGroup
    /// How long a short call (not a campaign or an observe) may take.
    let timeout: Double
    /// The endpoint tried first: after one fails to answer in time, calls start at the next
    /// (shared by copies of this client), so that a member that hangs (during an election
    /// inside etcd, or cut off from its peers) is not asked first every time.
    private let preferred: NIOLockedValueBox<Int>

    static let maxAnswerBytes = 1 << 20
    static let connectTimeout = TimeAmount.seconds(2)

    init(endpoints: [HostPort], group: EventLoopGroup, timeout: Double = 3) {
        self.endpoints = endpoints
        self.group = group
        self.timeout = timeout
        preferred = NIOLockedValueBox(0)
    }

    /// The same client (and endpoint preference) with another timeout for short calls.
    func with(timeout: Double) -> EtcdClient {
        EtcdClient(endpoints: endpoints, group: group, timeout: timeout, preferred: preferred)
    }

    private init(endpoints: [HostPort], group: EventLoopGroup, timeout: Double, preferred: NIOLockedValueBox<Int>) {
        self.endpoints = endpoints
        self.group = group
        self.timeout = timeout
        self.preferred = preferred
    }

    /// What went wrong, said plainly.
    enum Failure: Error, CustomStringConvertible {
        /// No endpoint could be reached, or none answered in time.
        case unreachable(String)
        /// etcd answered with an error (`{"error": ..., "code": ...}` or an HTTP error status).
        case refused(code: Int, message: String)
        case badAnswer(String)

        var description: String {
            switch self {
            case .unreachable(let why): return "etcd is unreachable: \(why)"
            case .refused(let code, let message): return "etcd refused: \(message) (code \(code))"
            case .badAnswer(let why): return "etcd's answer is not understood: \(why)"
            }
        }
    }

    // MARK: the calls

    /// A lease of `ttl` seconds; its id.
    func grantLease(ttl: Double) async throws -> Int64 {
        let a = try await call("/v3/lease/grant", ["TTL": .int(Int64(ttl.rounded(.up)))])
        guard let id = Self.int(a["ID"]), id != 0 else { throw Failure.badAnswer("lease grant without an ID") }
        return id
    }

    /// Renews `lease` once; the TTL etcd now gives it (0: the lease is gone).
    func keepAlive(lease: Int64) async throws -> Int64 {
        let a = try await call("/v3/lease/keepalive", ["ID": .string(String(lease))])
        let result = a["result"]?.objectValue ?? a
        return Self.int(result["TTL"]) ?? 0
    }

    func revokeLease(_ lease: Int64) async throws {
        _ = try await call("/v3/lease/revoke", ["ID": .string(String(lease))])
    }

    /// Campaigns for `election` under `lease` with `value`; returns once this node leads (no
    /// timeout: it waits for the current leader to resign or its lease to expire).
    func campaign(election: String, lease: Int64, value: [UInt8]) async throws -> LeaderKey {
        let a = try await call("/v3/election/campaign",
                               ["name": Self.b64(Array(election.utf8)), "lease": .string(String(lease)), "value": Self.b64(value)],
                               unbounded: true)
        guard let l = a["leader"]?.objectValue, let key = Self.bytes(l["key"]), let rev = Self.int(l["rev"]) else {
            throw Failure.badAnswer("campaign without a leader key")
        }
        return LeaderKey(name: election, key: key, revision: rev, lease: Self.int(l["lease"]) ?? lease)
    }

    /// Gives up leadership held under `leader`.
    func resign(_ leader: LeaderKey) async throws {
        _ = try await call("/v3/election/resign", ["leader": [
            "name": Self.b64(Array(leader.name.utf8)), "key": Self.b64(leader.key), "rev": .string(String(leader.revision)),
            "lease": .string(String(leader.lease)),
        ]])
    }

    /// The current leader of `election` (nil: none).
    func leader(election: String) async throws -> Candidate? {
        do {
            let a = try await call("/v3/election/leader", ["name": Self.b64(Array(election.utf8))])
            guard let kv = a["kv"]?.objectValue else { return nil }
            return Self.candidate(kv)
        } catch Failure.refused(_, let message) where message.contains("no leader") {
            return nil
        }
    }

    /// The master leading `election`, as its campaign value names it (nil: no leader, or a value
    /// that is not one of ours).
    func leadingMaster(election: String) async throws -> (node: String, address: HostPort?)? {
        guard let leader = try await leader(election: election) else { return nil }
        return LeaderElection.parseValue(leader.value)
    }

    /// Every campaigner of `election` (the leader first: the lowest create revision).
    func candidates(election: String) async throws -> (candidates: [Candidate], revision: Int64) {
        let prefix = Array(election.utf8) + [UInt8(ascii: "/")]
        var end = prefix
        end[end.count - 1] += 1
        let a = try await call("/v3/kv/range", ["key": Self.b64(prefix), "range_end": Self.b64(end),
                                                "sort_order": "ASCEND", "sort_target": "CREATE"])
        let kvs = a["kvs"]?.arrayValue?.compactMap { $0.objectValue.flatMap(Self.candidate) } ?? []
        let rev = Self.int(a["header"]?["revision"]) ?? 0
        return (kvs.sorted { $0.createRevision < $1.createRevision }, rev)
    }

    /// Follows `election`'s leader: `body` gets each leader as it changes, until it returns
    /// false, the stream ends or the task is cancelled.
    func observe(election: String, _ body: @escaping @Sendable (Candidate) async -> Bool) async throws {
        try await stream("/v3/election/observe", ["name": Self.b64(Array(election.utf8))]) { message in
            guard let kv = message["result"]?["kv"]?.objectValue, let c = Self.candidate(kv) else { return true }
            return await body(c)
        }
    }

    // MARK: what the calls give

    /// The key that proves leadership (resign takes it).
    struct LeaderKey: Sendable, Equatable {
        var name: String
        var key: [UInt8]
        var revision: Int64
        var lease: Int64
    }

    /// One campaigner: its key, value and creation revision (the election's order).
    struct Candidate: Sendable, Equatable {
        var key: [UInt8]
        var value: [UInt8]
        var createRevision: Int64
        var lease: Int64
    }

    static func candidate(_ kv: JSONObject) -> Candidate? {
        guard let key = bytes(kv["key"]) else { return nil }
        return Candidate(key: key, value: bytes(kv["value"]) ?? [], createRevision: int(kv["create_revision"]) ?? 0,
                         lease: int(kv["lease"]) ?? 0)
    }

    static func b64(_ bytes: [UInt8]) -> JSON { .string(Data(bytes).base64EncodedString()) }

    static func bytes(_ v: JSON?) -> [UInt8]? {
        guard let s = v?.stringValue, let d = Data(base64Encoded: s) else { return nil }
        return [UInt8](d)
    }

    /// The gateway writes 64-bit integers as strings, and leaves out zero values.
    static func int(_ v: JSON?) -> Int64? {
        switch v {
        case .int(let i)?: return i
        case .string(let s)?: return Int64(s)
        case .double(let d)?: return Int64(exactly: d)
        default: return nil
        }
    }

    // MARK: HTTP

    /// One call: the whole answer, parsed (streaming calls give their first message). An
    /// `unbounded` call (a campaign) waits as long as it takes.
    func call(_ path: String, _ body: JSON, unbounded: Bool = false) async throws -> JSONObject {
        let text = try await exchange(path, body, timeout: unbounded ? nil : timeout, whole: true) { _ in true }
        let firstLine = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).first.map(Array.init) ?? []
        return try Self.answer(firstLine)
    }

    /// A streaming call: `body` gets each message until it returns false.
    func stream(_ path: String, _ request: JSON, _ body: @escaping @Sendable (JSONObject) async -> Bool) async throws {
        _ = try await exchange(path, request, timeout: nil, whole: false) { line in
            guard let o = try? Self.answer(line) else { return false }
            return await body(o)
        }
    }

    static func answer(_ bytes: [UInt8]) throws -> JSONObject {
        guard !bytes.isEmpty else { throw Failure.badAnswer("an empty answer") }
        let v: JSON
        do { v = try JSON.parse(bytes, source: "etcd") } catch { throw Failure.badAnswer("\(error)") }
        guard let o = v.objectValue else { throw Failure.badAnswer("not a JSON object") }
        if let e = o["error"] {
            let message = o["message"]?.stringValue ?? e.stringValue ?? e["message"]?.stringValue ?? "\(e)"
            throw Failure.refused(code: Int(int(o["code"] ?? e["grpc_code"]) ?? 0), message: message)
        }
        return o
    }

    /// Sends `request` to the first endpoint that accepts, and feeds each line of the answer to
    /// `line` (until it returns false); returns the whole answer of a short call.
    private func exchange(_ path: String, _ request: JSON, timeout: Double?, whole: Bool,
                          line: @escaping @Sendable ([UInt8]) async throws -> Bool) async throws -> [UInt8] {
        var why: [String] = []
        let first = preferred.withLockedValue { $0 } % max(1, endpoints.count)
        for k in 0..<endpoints.count {
            let index = (first + k) % endpoints.count
            let endpoint = endpoints[index]
            let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
            do {
                channel = try await ClientBootstrap(group: group)
                    .connectTimeout(Self.connectTimeout)
                    .connect(host: endpoint.host, port: endpoint.port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHTTPClientHandlers()
                            return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                        }
                    }
            } catch {
                why.append("\(endpoint): \(error)")
                continue
            }
            do {
                return try await talk(channel, endpoint: endpoint, path: path, request: request, timeout: timeout, whole: whole, line: line)
            } catch let e as Failure {
                // No answer in time: the next call starts at the next member.
                if case .unreachable = e, endpoints.count > 1 {
                    preferred.withLockedValue { if $0 % endpoints.count == index { $0 = index + 1 } }
                }
                throw e
            }
        }
        throw Failure.unreachable(why.joined(separator: "; "))
    }

    private func talk(_ channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>, endpoint: HostPort, path: String,
                      request: JSON, timeout: Double?, whole: Bool, line: @escaping @Sendable ([UInt8]) async throws -> Bool) async throws -> [UInt8] {
        let raw = channel.channel
        let timedOut = NIOLockedValueBox(false)
        let timer = timeout.map { t in
            raw.eventLoop.scheduleTask(in: .milliseconds(Int64(t * 1000))) {
                timedOut.withLockedValue { $0 = true }
                raw.close(promise: nil)
            }
        }
        defer { timer?.cancel() }
        return try await withTaskCancellationHandler {
            try await channel.executeThenClose { inbound, outbound in
                let body = JSONWriter.compact.bytes(request)
                var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
                head.headers.add(name: "Host", value: endpoint.description)
                head.headers.add(name: "Content-Type", value: "application/json")
                head.headers.add(name: "Content-Length", value: String(body.count))
                head.headers.add(name: "Connection", value: "close")
                try await outbound.write(.head(head))
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                try await outbound.write(.end(nil))
                var status = 0
                var all: [UInt8] = []
                var pending: [UInt8] = []
                var ended = false
                reading: for try await part in inbound {
                    switch part {
                    case .head(let h):
                        status = Int(h.status.code)
                    case .body(let b):
                        guard all.count + b.readableBytes <= Self.maxAnswerBytes || !whole else {
                            throw Failure.badAnswer("more than \(Self.maxAnswerBytes) bytes")
                        }
                        let chunk = b.readableBytesView
                        if whole {
                            all.append(contentsOf: chunk)
                            continue
                        }
                        // A stream: one JSON message a line.
                        pending.append(contentsOf: chunk)
                        guard pending.count <= Self.maxAnswerBytes else { throw Failure.badAnswer("a message of more than \(Self.maxAnswerBytes) bytes") }
                        while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                            let message = Array(pending[..<nl])
                            pending.removeSubrange(...nl)
                            if message.isEmpty { continue }
                            if status >= 300 { all = message; break reading }
                            guard try await line(message) else { break reading }
                        }
                    case .end:
                        ended = true
                        break reading
                    }
                }
                if timedOut.withLockedValue({ $0 }) { throw Failure.unreachable("\(endpoint): no answer to \(path) within \(timeout ?? 0) s") }
                if !ended && whole { throw Failure.unreachable("\(endpoint): the connection closed during \(path)") }
                if status >= 300 {
                    // The gateway's errors are JSON too; say what it said.
                    _ = try Self.answer(all.isEmpty ? pending : all)
                    throw Failure.refused(code: status, message: "HTTP \(status) for \(path)")
                }
                return all
            }
        } onCancel: {
            raw.close(promise: nil)
        }
    }
}
