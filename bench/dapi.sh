#!/usr/bin/env bash
# Distributed API throughput and latency through the master to two workers on loopback, next to
# a baseline measured in the same run: a get_health round trip on the same local socket (the
# cheapest thing the master answers there, with no distributed API machinery).
#
#   bench/dapi.sh              (from the repository root)
#
# A master and two workers run from a release build in a temporary tree; with an agent store in
# the product, each node gets DAPI_BENCH_AGENTS agents (default 1000). dapi-load (bench/Sources)
# opens DAPI_BENCH_CONCURRENCY connections (default 16) to the master's local socket and sends
# one request after another on each for DAPI_BENCH_SECONDS (default 5), after a short warm-up:
#   get_health                      baseline, one round trip
#   cluster.health (local_master)   answered by the master, for itself and both workers
#   agents.list, limit 100, --all   distributed_master: the master asks itself and both workers
#                                   for their first 100 by name, merges, pages once
#   cluster.config, --all           the same fan-out with small answers (598 bytes): the runtime's
#                                   own cost, 24 frames at the master per request
# With CLUSTERTOOLS_BIN=DIR the daemons come from DIR (another build, see bench/compare.sh)
# instead of this tree's release build. Each result gives the master's CPU per frame.
# With DAPI_BENCH_METRICS=1 every node serves metrics (metrics.listen on a loopback port the
# system chooses), and the master's count of echo frames is read back from its /metrics at the
# end (bench/metrics.sh runs both ways in one invocation).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${DAPI_BENCH_SECONDS:-5}
CONC=${DAPI_BENCH_CONCURRENCY:-16}
AGENTS=${DAPI_BENCH_AGENTS:-1000}

build() { "$@" >/dev/null 2>&1 || "$@"; }
if [[ -n "${CLUSTERTOOLS_BIN:-}" ]]; then
    BIN=$CLUSTERTOOLS_BIN
else
    build swift build -c release --product cl-master
    build swift build -c release --product cl-worker
    build swift build -c release --product cl-dapi
    BIN="$(swift build -c release --show-bin-path)"
fi
(cd bench && build swift build -c release --product dapi-load)
LOAD="$(cd bench && swift build -c release --show-bin-path)/dapi-load"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/dapi-bench.XXXXXX")"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

KEY="$("$BIN/cl-crypt" keygen 2>/dev/null || python3 -c 'import secrets,string;print("".join(secrets.choice(string.ascii_letters+string.digits) for _ in range(32)))')"
config() {  # name type [master-port]
    mkdir -p "$WORK/$1"
    python3 - "$WORK/$1/cluster.json" "$1" "$2" "${3:-}" "$KEY" "${DAPI_BENCH_METRICS:-0}" <<'PY'
import json, sys
path, name, typ, port, key, metrics = sys.argv[1:]
node = {"name": name, "type": typ, "root": "."}
if typ == "master":
    node.update(bind="127.0.0.1", port=0)
else:
    node["master"] = "127.0.0.1:" + port
config = {"cluster": {"name": "wazuh", "key": key}, "node": node}
if metrics == "1":
    config["metrics"] = {"listen": "127.0.0.1:0"}
json.dump(config, open(path, "w"))
PY
}
config master-node master
"$BIN/cl-master" run -c "$WORK/master-node/cluster.json" 2>"$WORK/master.err" & PIDS+=($!)
for _ in $(seq 300); do [[ -f "$WORK/master-node/var/run/cl-master.json" ]] && break; sleep 0.1; done
PORT=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["port"])' "$WORK/master-node/var/run/cl-master.json")
for w in worker-1 worker-2; do
    config "$w" worker "$PORT"
    "$BIN/cl-worker" run -c "$WORK/$w/cluster.json" 2>"$WORK/$w.err" & PIDS+=($!)
done
for _ in $(seq 300); do
    n=$("$BIN/cl-master" nodes -c "$WORK/master-node/cluster.json" 2>/dev/null | python3 -c 'import json,sys;print(sum(1 for i in json.load(sys.stdin)["items"] if i["type"]=="worker"))' 2>/dev/null || echo 0)
    [[ "$n" == 2 ]] && break
    sleep 0.1
done
[[ "$n" == 2 ]] || { echo "dapi.sh: the workers did not connect" >&2; exit 1; }

# Agents, when the product has an agent store.
SMALL_REQ='{"f": "cluster.config", "f_kwargs": {"limit": 100, "sort": "node_name"}, "request_type": "distributed_master", "broadcasting": true}'
FANOUT_OP=cluster.config
FANOUT_REQ=$SMALL_REQ
if "$BIN/cl-worker" --help | grep -qE "^  agents "; then
    first=1
    for n in worker-1 worker-2; do
        python3 - "$first" "$AGENTS" "$n" > "$WORK/$n.agents.jsonl" <<'PY'
import json, random, sys
first, count, node = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rnd = random.Random(first)
for i in range(first, first + count):
    print(json.dumps({"id": i, "name": "agent-%s-%05d" % (rnd.choice("abcdefghij"), i), "ip": "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255),
                      "connection_status": rnd.choice(["active", "disconnected", "pending", "never_connected"]),
                      "version": "Wazuh v4.9.2", "node_name": node}))
PY
        "$BIN/cl-worker" agents upsert -c "$WORK/$n/cluster.json" < "$WORK/$n.agents.jsonl" >/dev/null
        first=$((first + AGENTS))
    done
    FANOUT_OP=agents.list
    FANOUT_REQ='{"f": "agents.list", "f_kwargs": {"limit": 100, "sort": "name"}, "request_type": "distributed_master", "broadcasting": true}'
fi

SOCK="$WORK/master-node/queue/cluster/c-internal.sock"
# CPU seconds (user + system) of the master and the two workers, to give each run's CPU cost
# per request next to its throughput.
cpu() { for p in "${PIDS[@]}"; do awk '{printf "%s ", ($14 + $15)}' "/proc/$p/stat"; done; }
measure() {  # kind [request]
    local before after out
    before=$(cpu)
    out=$("$LOAD" "$SOCK" "$SECS" "$CONC" "$@")
    after=$(cpu)
    echo "$out|$before|$after"
}
floor=$(measure echo)
base=$(measure get_health)
health=$(measure dapi '{"f": "cluster.health", "request_type": "local_master"}')
small=$(measure dapi "$SMALL_REQ")
fanout=$(measure dapi "$FANOUT_REQ")
METRICS_ECHO=-1
if [[ "${DAPI_BENCH_METRICS:-0}" == 1 ]]; then
    url=$(grep -o 'http://127.0.0.1:[0-9]*/metrics' "$WORK/master.err" | head -1)
    METRICS_ECHO=$(curl -s "$url" | awk '$1 == "clustertools_frames_received_total{command=\"echo\"}" {print $2}')
fi
python3 - "$base" "$health" "$fanout" "$FANOUT_OP" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)" "$(getconf CLK_TCK)" "$small" "$BIN" "$floor" "$METRICS_ECHO" <<'PY'
import json, sys
tck = int(sys.argv[7])
def parse(arg):
    out, before, after = arg.split("|")
    r = json.loads(out)
    # Requests include the warm-up, which the CPU counters cover too: scale by the measured share.
    spent = [(int(a) - int(b)) / tck for a, b in zip(after.split(), before.split())]
    total = r["requests"] * (1 + min(1.0, r["seconds"] / 5) / r["seconds"])
    r["cpu_ms_per_request"] = {n: round(1000 * c / max(1, total), 3) for n, c in zip(["master", "worker-1", "worker-2"], spent)}
    return r
base, health, fanout = (parse(a) for a in sys.argv[1:4])
small = parse(sys.argv[8])
floor = parse(sys.argv[10])
op, cores, load = sys.argv[4], int(sys.argv[5]), sys.argv[6]
def row(r, frames=None):
    out = {k: r[k] for k in ("rps", "p50_ms", "p99_ms", "max_ms", "requests", "errors", "answer_bytes", "cpu_ms_per_request") if k in r} | (
        {"first_error": r["first_error"]} if "first_error" in r else {})
    if frames:
        # Frames through the master per request: local socket and each worker link, requests
        # and their acknowledgements.
        out["master_cpu_us_per_frame"] = round(1000 * r["cpu_ms_per_request"]["master"] / frames, 2)
    return out
result = {
    "build": sys.argv[9],
    "cores": cores, "load_average_before": float(load), "concurrency": base["concurrency"], "seconds": base["seconds"],
    "echo (the runtime's floor: no role, no JSON)": row(floor, 2),
    "baseline_get_health": row(base),
    "cluster.health": row(health, 8) | {"ratio_vs_baseline": round(health["rps"] / base["rps"], 3)},
    "cluster.config (small fan-out to master + 2 workers)": row(small, 24) | {"ratio_vs_baseline": round(small["rps"] / base["rps"], 3)},
}
if op != "cluster.config":
    result[op + " (fan-out to master + 2 workers)"] = row(fanout, 24) | {"ratio_vs_baseline": round(fanout["rps"] / base["rps"], 3)}
result["metrics"] = "off" if sys.argv[11] == "-1" else {"on": True, "echo_frames_counted_by_master": float(sys.argv[11])}
result["goal"] = "rps >= 5000 and p99 <= 10 ms"
print(json.dumps(result, indent=1))
PY
