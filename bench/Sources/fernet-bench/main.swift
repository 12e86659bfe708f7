import ClusterKit
import Foundation

// Fernet encrypt + decrypt throughput on 5 MiB messages, best of several rounds.
// Usage: fernet-bench [message-bytes] [iterations-per-round] [rounds]

let args = CommandLine.arguments
let size = args.count > 1 ? Int(args[1])! : 5 << 20
let iterations = args.count > 2 ? Int(args[2])! : 20
let rounds = args.count > 3 ? Int(args[3])! : 5

let fernet = Fernet(key: try ClusterKey(text: "Wazuh_Golden_Key_0123456789abcde"))
let plain = [UInt8](repeating: 0x5A, count: size)

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

var bestEnc = Double.infinity, bestDec = Double.infinity
var token = fernet.encrypt(plain)
for _ in 0..<rounds {
    let e = seconds { for _ in 0..<iterations { token = fernet.encrypt(plain) } }
    let d = try seconds { for _ in 0..<iterations { _ = try fernet.decrypt(token) } }
    bestEnc = min(bestEnc, e)
    bestDec = min(bestDec, d)
}
let mb = Double(size * iterations) / 1e6
print(String(format: "{\"size\":%d,\"encrypt_MBps\":%.1f,\"decrypt_MBps\":%.1f,\"roundtrip_MBps\":%.1f}",
             size, mb / bestEnc, mb / bestDec, mb / (bestEnc + bestDec)))

if ProcessInfo.processInfo.environment["FERNET_BENCH_COMPONENTS"] != nil {
    let raw = [UInt8](repeating: 0x33, count: size + 57)
    var enc: [UInt8] = []
    let te = seconds { for _ in 0..<iterations { enc = Base64.encode(raw, alphabet: .urlSafe) } }
    let td = seconds { for _ in 0..<iterations { _ = Base64.decode(enc, alphabet: .urlSafe) } }
    let tz = seconds { for _ in 0..<iterations { _ = [UInt8](repeating: 0, count: size) } }
    print(String(format: "base64 encode %.0f MB/s, decode %.0f MB/s (of raw bytes), zero-fill %.0f MB/s", mb / te, mb / td, mb / tz))
}
