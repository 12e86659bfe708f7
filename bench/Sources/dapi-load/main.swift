// Load generator for the distributed API: opens a node's local unix socket from several
// threads, each with its own connection, and sends one request after another, the way the
// reference's local clients speak (dapi, then the answer as new_str / str_upd / dapi_res
// requests from the node, each acknowledged).
//
//   dapi-load SOCKET SECONDS CONCURRENCY dapi 'REQUEST JSON'   the distributed API
//   dapi-load SOCKET SECONDS CONCURRENCY get_health             baseline: one round trip
//   dapi-load SOCKET SECONDS CONCURRENCY echo                   the runtime's floor: one frame each way
//
// Prints one JSON line: requests, errors, requests per second, latency percentiles.
import ClusterKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct Failure: Error { let text: String }

final class Connection {
    let fd: Int32
    var buffer = [UInt8]()
    var start = 0
    var counter: UInt32 = 1
    var strings: [String: [UInt8]] = [:]
    var nextString = 1
    let encoder = FrameEncoder(fernet: nil)

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() where i < raw.count - 1 { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw Failure(text: "connect \(path): \(String(cString: strerror(errno)))") }
    }

    func send(_ command: String, _ counter: UInt32, _ payload: [UInt8]) throws {
        let msg = try encoder.encode(command: command, counter: counter, payload: payload)
        var off = 0
        while off < msg.bytes.count {
            let n = msg.bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(text: "send: \(String(cString: strerror(errno)))") }
            off += n
        }
    }

    func read() throws -> (counter: UInt32, command: String, payload: [UInt8]) {
        while true {
            let avail = buffer.count - start
            if avail >= 20 {
                let b = start
                let length = Int(buffer[b + 4]) << 24 | Int(buffer[b + 5]) << 16 | Int(buffer[b + 6]) << 8 | Int(buffer[b + 7])
                if avail >= 20 + length {
                    let counter = UInt32(buffer[b]) << 24 | UInt32(buffer[b + 1]) << 16 | UInt32(buffer[b + 2]) << 8 | UInt32(buffer[b + 3])
                    var end = b + 8
                    while end < b + 19 && buffer[end] != 0x20 { end += 1 }
                    let command = String(decoding: buffer[(b + 8)..<end], as: UTF8.self)
                    let payload = Array(buffer[(b + 20)..<(b + 20 + length)])
                    start += 20 + length
                    if start == buffer.count { buffer.removeAll(keepingCapacity: true); start = 0 }
                    return (counter, command, payload)
                }
            }
            if start > 0 { buffer.removeFirst(start); start = 0 }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw Failure(text: "the node closed the connection") }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    /// One `get_health` round trip, or one `echo` (the runtime alone: no role, no JSON).
    func roundTrip(_ command: String) throws {
        counter &+= 1
        try send(command, counter, command == "echo" ? Array("ping".utf8) : [])
        let f = try read()
        guard f.command == "ok", f.counter == counter else { throw Failure(text: "\(command) answered \(f.command)") }
    }

    /// One distributed API request, to its final answer.
    func dapi(_ request: [UInt8]) throws -> [UInt8] {
        counter &+= 1
        let mine = counter
        try send("dapi", mine, request)
        var acked = false
        var answer: [UInt8]? = nil
        while !(acked && answer != nil) {
            let f = try read()
            switch f.command {
            case "ok" where f.counter == mine: acked = true
            case "err" where f.counter == mine:
                throw Failure(text: "refused: " + String(decoding: f.payload.prefix(300), as: UTF8.self))
            case "new_str":
                let id = String(nextString)
                nextString += 1
                strings[id] = []
                strings[id]!.reserveCapacity(Int(String(decoding: f.payload, as: UTF8.self)) ?? 0)
                try send("ok", f.counter, Array(id.utf8))
            case "str_upd":
                let sp = f.payload.firstIndex(of: 0x20) ?? f.payload.count
                let id = String(decoding: f.payload[..<sp], as: UTF8.self)
                strings[id, default: []].append(contentsOf: f.payload[min(sp + 1, f.payload.count)...])
                try send("ok", f.counter, Array("String updated".utf8))
            case "dapi_res":
                answer = strings.removeValue(forKey: String(decoding: f.payload, as: UTF8.self)) ?? []
                try send("ok", f.counter, Array("Distributed api response received".utf8))
            case "dapi_err":
                try send("ok", f.counter, Array("Response received".utf8))
                throw Failure(text: "dapi_err: " + String(decoding: f.payload.prefix(300), as: UTF8.self))
            default:
                throw Failure(text: "unexpected \(f.command)")
            }
        }
        return answer!
    }
}

let args = CommandLine.arguments
guard args.count >= 5, let seconds = Double(args[2]), let concurrency = Int(args[3]) else {
    FileHandle.standardError.write(Data("usage: dapi-load SOCKET SECONDS CONCURRENCY dapi REQUEST | get_health | echo\n".utf8))
    exit(64)
}
let path = args[1], kind = args[4]
let request = Array((args.count > 5 ? args[5] : "").utf8)

final class Shared: @unchecked Sendable {
    let lock = NSLock()
    var latencies: [Double] = []
    var errors = 0
    var firstError: String?
    var checked = false
    var answerBytes = 0
}
let shared = Shared()
let warmup = min(1.0, seconds / 5)
let t0 = Date()
let measureFrom = t0.addingTimeInterval(warmup)
let endAt = measureFrom.addingTimeInterval(seconds)
let group = DispatchGroup()
for _ in 0..<concurrency {
    group.enter()
    Thread {
        defer { group.leave() }
        var local: [Double] = []
        var errs = 0
        var first: String? = nil
        var bytes = 0
        do {
            let c = try Connection(path: path)
            while true {
                let s = Date()
                if s >= endAt { break }
                do {
                    if kind == "get_health" || kind == "echo" { try c.roundTrip(kind) } else {
                        let answer = try c.dapi(request)
                        // The answer must be a result, not an exception.
                        if answer.starts(with: Array(#"{"__wazuh_exception__""#.utf8)) {
                            throw Failure(text: String(decoding: answer.prefix(300), as: UTF8.self))
                        }
                        bytes = answer.count
                    }
                    if s >= measureFrom { local.append(Date().timeIntervalSince(s)) }
                } catch {
                    errs += 1
                    if first == nil { first = "\(error)" }
                    if errs > 100 { break }
                }
            }
        } catch {
            errs += 1
            first = "\(error)"
        }
        shared.lock.lock()
        shared.latencies += local
        shared.errors += errs
        if shared.firstError == nil { shared.firstError = first }
        shared.answerBytes = max(shared.answerBytes, bytes)
        shared.lock.unlock()
    }.start()
}
group.wait()
let lat = shared.latencies.sorted()
func pct(_ p: Double) -> Double { lat.isEmpty ? 0 : lat[min(lat.count - 1, Int(Double(lat.count) * p))] * 1000 }
func r2(_ x: Double) -> JSON { .double((x * 1000).rounded() / 1000) }
var out: JSON = ["kind": .string(kind), "concurrency": .int(Int64(concurrency)), "seconds": r2(seconds),
                 "requests": .int(Int64(lat.count)), "errors": .int(Int64(shared.errors)),
                 "rps": .double((Double(lat.count) / seconds).rounded()),
                 "p50_ms": r2(pct(0.50)), "p99_ms": r2(pct(0.99)), "max_ms": r2(lat.last.map { $0 * 1000 } ?? 0),
                 "answer_bytes": .int(Int64(shared.answerBytes))]
if let e = shared.firstError { out["first_error"] = .string(e) }
print(JSONWriter.compact.string(out))
