import ClusterKit
import Foundation

// Where the time of one agent-info push goes, stage by stage, in this process (no network):
//   agents-bench [ROWS]
// Prints JSON: seconds per stage for ROWS agents (default 25,000).

let rows = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 25_000 : 25_000
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
func time<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let t = now()
    let r = try body()
    return (r, now() - t)
}

// A master's side at scale: agents-bench ROWS PUSHES applies PUSHES pushes of ROWS agents each
// (new ids, as 4 workers x 100,000 agents in pushes of 8 MiB: agents-bench 13300 30), reading each
// push from its envelope first, then writing it; prints the seconds of each part, summed.
let pushes = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 0 : 0

func record(_ i: Int) -> AgentRecord {
    var r = AgentRecord(id: i)
    r["name"] = .text("agent-\(i)")
    r["ip"] = .text("10.1.\(i / 250).\(i % 250)")
    r["os_name"] = .text("Ubuntu")
    r["os_version"] = .text("22.04.4 LTS")
    r["os_major"] = .text("22")
    r["os_minor"] = .text("04")
    r["os_codename"] = .text("Jammy Jellyfish")
    r["os_platform"] = .text("ubuntu")
    r["os_uname"] = .text("Linux |agent |5.15.0-101-generic |#111-Ubuntu SMP |x86_64")
    r["os_arch"] = .text("x86_64")
    r["version"] = .text("Wazuh v4.9.2")
    r["config_sum"] = .text("ab73af41699f13fdd81903b5f23d8d00")
    r["merged_sum"] = .text("4a8724b20dee0124ff9656783c490c4e")
    r["manager_host"] = .text("manager")
    r["last_keepalive"] = .integer(1_732_000_000 + Int64(i))
    r["connection_status"] = .text("active")
    r["status_code"] = .integer(0)
    r.labels = [AgentLabel(key: "env", value: "bench")]
    return r
}

if pushes > 0 {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agents-bench-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let master = try AgentStore(path: dir.appendingPathComponent("m/agents.db").path)
    var readTotal = 0.0, writeTotal = 0.0, countTotal = 0.0
    for p in 0..<pushes {
        let envelope = try AgentInfoChunks(rows: (1...rows).map { record(p * rows + $0).wireBytes() }).envelope()
        let (parsed, read) = try time { try AgentInfoRows(envelope: envelope) }
        let (_, write) = try time { try await_(master) { try await master.applyAgentInfo(parsed, from: "worker-\(p % 4 + 1)", timeLimit: 600) } }
        let (_, count) = try time { try await_(master) { try await master.activeAgentCounts() } }
        readTotal += read
        writeTotal += write
        countTotal += count
    }
    let out: JSON = ["agents": .int(Int64(rows * pushes)), "pushes": .int(Int64(pushes)),
                     "master_read_s": .double((readTotal * 1000).rounded() / 1000),
                     "master_write_s": .double((writeTotal * 1000).rounded() / 1000),
                     "active_count_after_each_push_s": .double((countTotal * 1000).rounded() / 1000)]
    print(JSONWriter.pretty.string(out))
    exit(0)
}

let records: [AgentRecord] = (1...rows).map(record)

let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agents-bench-\(UUID().uuidString)")
defer { try? FileManager.default.removeItem(at: dir) }
let worker = try AgentStore(path: dir.appendingPathComponent("w/agents.db").path)
let master = try AgentStore(path: dir.appendingPathComponent("m/agents.db").path)

let (_, upsert) = try time { try worker.upsert(records, defaultNode: "worker-1") }
let (pending, read) = try time { try worker.pendingAgentInfoNow() }
let (chunks, pack) = try time { try AgentInfoChunks(rows: pending.rows) }
let (envelope, write) = time { chunks.envelope() }
let (parsed, parseEnvelope) = try time { try AgentInfoChunks(envelope: envelope) }
let (outcome, apply) = try time {
    try await_(master) { try await master.applyAgentInfo(parsed, from: "worker-1", timeLimit: 600) }
}

func await_<T: Sendable>(_ store: AgentStore, _ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = Box<T>()
    let sem = DispatchSemaphore(value: 0)
    Task {
        do { box.value = .success(try await body()) } catch { box.value = .failure(error) }
        sem.signal()
    }
    sem.wait()
    return try box.value!.get()
}
final class Box<T>: @unchecked Sendable { var value: Result<T, Error>? }

// The parse that apply does inside its transaction, alone.
let (_, parseRows) = try time {
    var n = 0
    for c in parsed.chunks {
        n += try AgentChunkReader.rows(c).count
    }
    return n
}

let (_, jsonOnly) = try time { for c in parsed.chunks { _ = try JSON.parse(c) } }
let (_, janssonEnvelope) = try time { try JSON.parse(envelope) }
let sample = String(decoding: pending.rows[0], as: UTF8.self)
let out: JSON = [
    "row_bytes": .int(Int64(pending.rows[0].count)), "sample": .string(sample),
    "master_jansson_to_JSON_only_s": .double((jsonOnly * 1000).rounded() / 1000),
    "master_jansson_envelope_s": .double((janssonEnvelope * 1000).rounded() / 1000),
    "rows": .int(Int64(rows)), "envelope_bytes": .int(Int64(envelope.count)), "chunks": .int(Int64(chunks.chunks.count)),
    "applied": .int(Int64(outcome.applied)),
    "worker_cli_upsert_s": .double((upsert * 1000).rounded() / 1000),
    "worker_read_pending_s": .double((read * 1000).rounded() / 1000),
    "worker_pack_s": .double((pack * 1000).rounded() / 1000),
    "worker_envelope_s": .double((write * 1000).rounded() / 1000),
    "master_parse_envelope_s": .double((parseEnvelope * 1000).rounded() / 1000),
    "master_apply_s": .double((apply * 1000).rounded() / 1000),
    "master_apply_parse_part_s": .double((parseRows * 1000).rounded() / 1000),
]
print(JSONWriter.pretty.string(out))
