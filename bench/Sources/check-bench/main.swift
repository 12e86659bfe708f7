import ClusterKit
import Foundation

// The master's check of one worker, in this process (no network): parse the worker's
// files_metadata.json and classify it against the master's snapshot, as `MasterIntegrity` does.
//   check-bench [FILES] [ROUNDS]
// The worker differs from the master in 1 % of its files, lacks 1 % and has 1 % extra. Timed
// twice in the same run, alternately: with the byte-level reader the product uses, and with the
// jansson reader it replaced (the baseline), and straight from the bytes with no worker snapshot
// (`WorkerSnapshotCheck`, what the master does now). Prints JSON with the medians.

let args = CommandLine.arguments
let files = args.count > 1 ? Int(args[1]) ?? 20_000 : 20_000
let rounds = args.count > 2 ? Int(args[2]) ?? 9 : 9
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

let hash = { (i: Int) in String(repeating: String(format: "%02x", i % 251), count: 64) }
var master = Snapshot(minimumCapacity: files)
var worker = Snapshot(minimumCapacity: files)
for i in 0..<files {
    let path = "etc/shared/group\(i / 100)/file-\(i).conf"
    let r = FileRecord(modTime: 1_764_000_000 + Double(i) * 0.001, clusterItemKey: "etc/shared/", hash: hash(i))
    master[path] = r
    if i % 100 == 1 { continue }                      // missing on the worker
    worker[path] = i % 100 == 2 ? FileRecord(modTime: r.modTime, clusterItemKey: r.clusterItemKey, hash: hash(i + 1)) : r
    if i % 100 == 3 { worker["etc/shared/group\(i / 100)/extra-\(i).conf"] = r }
}
let metadata = worker.jsonBytes()
let rules = FileRules.reference
let masterSnapshot = master

@MainActor func check(_ parse: ([UInt8]) throws -> Snapshot) throws -> (Double, Classification) {
    let t = now()
    let w = try parse(metadata)
    let c = try Classification.compare(master: masterSnapshot, worker: w, rules: rules)
    return (now() - t, c)
}

var ours = [Double](), jansson = [Double](), parseOnly = [Double](), direct = [Double]()
var classification: Classification? = nil
for _ in 0..<rounds {
    let (a, c1) = try check { try Snapshot.parse($0) }
    let (b, c2) = try check { try Snapshot.parseWithJansson($0) }
    precondition(c1 == c2, "the two readers disagree")
    // What the master does now: the classification made as the records are read, no worker
    // snapshot (`WorkerSnapshotCheck`; the daemon feeds it as the container inflates).
    let t0 = now()
    let k = try WorkerSnapshotCheck.run(master: masterSnapshot, workerJSON: metadata, rules: rules)
    direct.append(now() - t0)
    precondition(k.classification == c1, "the direct check disagrees")
    classification = c1
    ours.append(a)
    let t = now()
    _ = try Snapshot.parse(metadata)
    parseOnly.append(now() - t)
    jansson.append(b)
}
func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
let c = classification!
let out: JSON = [
    "files": .int(Int64(files)), "metadata_bytes": .int(Int64(metadata.count)), "rounds": .int(Int64(rounds)),
    "missing": .int(Int64(c.missing.count)), "shared": .int(Int64(c.shared.count)), "extra": .int(Int64(c.extra.count)),
    "check_s": .double((median(ours) * 1e4).rounded() / 1e4),
    "of_which_parse_s": .double((median(parseOnly) * 1e4).rounded() / 1e4),
    "check_without_worker_snapshot_s": .double((median(direct) * 1e4).rounded() / 1e4),
    "check_with_jansson_reader_s": .double((median(jansson) * 1e4).rounded() / 1e4),
    "ratio_vs_jansson_reader": .double((median(ours) / median(jansson) * 1000).rounded() / 1000),
    "goal_s": .double(0.05),
]
print(String(decoding: JSONWriter.python.bytes(out), as: UTF8.self))
