#!/usr/bin/env bash
# Agent-info sync at scale: 4 workers × 25,000 agents upserted at once (release build, default
# intervals), a master on loopback. Measures the time from the end of the last upsert until the
# master's store holds all 100,000 agents, and the master's peak RSS (VmHWM). Baseline, in the
# same run: the same 100,000 rows upserted by one `cl-worker agents upsert` into one store with no
# daemon running (the cost of just writing them, which the sync has to do again on the master).
#
#   bench/agents.sh            (from the repository root; WORKERS and PER_WORKER override)
#   PER_WORKER=100000 bench/agents.sh      (the 4 x 100,000 scale)
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-4}
PER_WORKER=${PER_WORKER:-25000}
TOTAL=$((WORKERS * PER_WORKER))

# CLUSTERTOOLS_BIN=DIR runs another build's executables (see bench/compare.sh).
if [[ -n "${CLUSTERTOOLS_BIN:-}" ]]; then
    BIN=$CLUSTERTOOLS_BIN
else
    swift build -c release >/dev/null 2>&1 || swift build -c release
    BIN="$(swift build -c release --show-bin-path)"
fi
OUT="$(mktemp -d /tmp/agbench.XXXXXX)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] && echo "kept $OUT" >&2 || rm -rf "$OUT"
}
trap cleanup EXIT
KEY=$(python3 -c 'import secrets,string; print("".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32)))')

# JSON Lines for each worker: ids are disjoint, rows look like a real agent's (~330 bytes).
for w in $(seq 1 "$WORKERS"); do
    python3 - "$w" "$PER_WORKER" > "$OUT/agents-$w.jsonl" <<'PY'
import json, sys
w, n = int(sys.argv[1]), int(sys.argv[2])
base = (w - 1) * n
for i in range(1, n + 1):
    a = base + i
    print(json.dumps({"id": a, "name": f"agent-{a}", "ip": f"10.{w}.{i // 250}.{i % 250}", "os_name": "Ubuntu",
                      "os_version": "22.04.4 LTS", "os_major": "22", "os_minor": "04", "os_codename": "Jammy Jellyfish",
                      "os_platform": "ubuntu", "os_uname": "Linux |agent |5.15.0-101-generic |#111-Ubuntu SMP |x86_64",
                      "os_arch": "x86_64", "version": "Wazuh v4.9.2", "config_sum": "ab73af41699f13fdd81903b5f23d8d00",
                      "merged_sum": "4a8724b20dee0124ff9656783c490c4e", "manager_host": "manager",
                      "last_keepalive": 1732000000 + i, "connection_status": "active", "status_code": 0,
                      "labels": {"env": "bench"}}, separators=(",", ":")))
PY
done
cat "$OUT"/agents-*.jsonl > "$OUT/all.jsonl"

now() { python3 -c 'import time; print(time.monotonic())'; }

# Baseline: the same rows into one store, no daemons.
mkdir -p "$OUT/base"
cat > "$OUT/base/cluster.json" <<EOF
{"cluster": {"name": "bench", "key": "$KEY"}, "node": {"name": "base", "type": "worker", "root": ".", "master": "127.0.0.1:1"}}
EOF
t0=$(now)
"$BIN/cl-worker" agents upsert -c "$OUT/base/cluster.json" < "$OUT/all.jsonl" > /dev/null
t1=$(now)
baseline=$(python3 -c "print($t1 - $t0)")

# The cluster.
mkdir -p "$OUT/master"
cat > "$OUT/master/cluster.json" <<EOF
{"cluster": {"name": "bench", "key": "$KEY"}, "node": {"name": "master", "type": "master", "root": ".", "bind": "127.0.0.1", "port": 0}}
EOF
"$BIN/cl-master" run -c "$OUT/master/cluster.json" --log-level "${LOG_LEVEL:-warning}" 2> "$OUT/master.err" &
MASTER=$!
PIDS+=("$MASTER")
for _ in $(seq 1 300); do [ -f "$OUT/master/var/run/cl-master.json" ] && break; sleep 0.05; done
PORT=$(python3 -c "import json; print(json.load(open('$OUT/master/var/run/cl-master.json'))['port'])")
for w in $(seq 1 "$WORKERS"); do
    mkdir -p "$OUT/w$w"
    cat > "$OUT/w$w/cluster.json" <<EOF
{"cluster": {"name": "bench", "key": "$KEY"}, "node": {"name": "worker-$w", "type": "worker", "root": ".", "master": "127.0.0.1:$PORT"}}
EOF
    "$BIN/cl-worker" run -c "$OUT/w$w/cluster.json" --log-level "${LOG_LEVEL:-warning}" 2> "$OUT/w$w.err" &
    PIDS+=("$!")
done
for _ in $(seq 1 600); do
    n=$("$BIN/cl-master" nodes -c "$OUT/master/cluster.json" 2>/dev/null | python3 -c 'import json,sys; print(sum(1 for i in json.load(sys.stdin)["items"] if i["type"] == "worker"))' || echo 0)
    [ "$n" = "$WORKERS" ] && break
    sleep 0.1
done
rss_idle=$(awk '/VmHWM/ {print $2}' "/proc/$MASTER/status")

# CPU seconds (user + system) of the master, and of the 4 worker daemons together.
cpu() { python3 -c 'import os,sys; t=os.sysconf("SC_CLK_TCK"); print(round(sum(sum(int(x) for x in open(f"/proc/{p}/stat").read().rsplit(")",1)[1].split()[11:13]) for p in sys.argv[1:])/t, 2))' "$@"; }
WORKER_PIDS=("${PIDS[@]:1}")

# All workers upsert at once; then wait for the master's store to hold everything.
cpu_m0=$(cpu "$MASTER"); cpu_w0=$(cpu "${WORKER_PIDS[@]}")
t0=$(now)
UPS=()
for w in $(seq 1 "$WORKERS"); do
    "$BIN/cl-worker" agents upsert -c "$OUT/w$w/cluster.json" < "$OUT/agents-$w.jsonl" > /dev/null &
    UPS+=("$!")
done
for p in "${UPS[@]}"; do wait "$p"; done
t_upserted=$(now)
cpu_m1=$(cpu "$MASTER"); cpu_w1=$(cpu "${WORKER_PIDS[@]}")
python3 - "$OUT/master/var/db/agents.db" "$TOTAL" "$t_upserted" "$t0" "$baseline" "$MASTER" "$rss_idle" "$cpu_m0" "$cpu_m1" "$cpu_w0" "$cpu_w1" "${WORKER_PIDS[@]}" <<'PY'
import json, os, sqlite3, sys, time
db, total, t_up, t0, baseline, pid, rss_idle = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6], int(sys.argv[7])
cpu_m0, cpu_m1, cpu_w0, cpu_w1 = (float(x) for x in sys.argv[8:12])
workers = sys.argv[12:]
def cpu(pids):
    t = os.sysconf("SC_CLK_TCK")
    return sum(sum(int(x) for x in open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[11:13]) for p in pids) / t
c = sqlite3.connect(db, timeout=30)
deadline = time.monotonic() + 120
n = 0
while time.monotonic() < deadline:
    n = c.execute("SELECT COUNT(*) FROM agent").fetchone()[0]
    if n >= total:
        break
    time.sleep(0.01)
t_done = time.monotonic()
cpu_m2, cpu_w2 = cpu([pid]), cpu(workers)
load = os.getloadavg()[0]
hwm = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM"))
print(json.dumps({
    "agents": total, "on_master": n,
    "upserts_s": round(t_up - t0, 3),
    "sync_after_upserts_s": round(t_done - t_up, 3),
    "upserts_to_master_s": round(t_done - t0, 3),
    "baseline_one_store_upsert_s": round(baseline, 3),
    "ratio_sync_after_upserts_vs_baseline": round((t_done - t_up) / baseline, 2),
    "master_peak_rss_MiB": round(hwm / 1024, 1), "master_idle_rss_MiB": round(rss_idle / 1024, 1),
    # CPU seconds during the upserts and after them (until all are on the master): the master,
    # and the worker daemons together; the load average at the end (2 cores on the reference machine).
    "master_cpu_s": [round(cpu_m1 - cpu_m0, 2), round(cpu_m2 - cpu_m1, 2)],
    "workers_cpu_s": [round(cpu_w1 - cpu_w0, 2), round(cpu_w2 - cpu_w1, 2)],
    "load_1min": round(load, 2),
    # The goals: 100,000 agents within 2 s of the upserts' end; 400,000 within 5 s, master peak
    # at most 256 MiB.
    **({"goal": "<= 2 s", "goal_met": n >= total and (t_done - t_up) <= 2.0} if total <= 100000 else
       {"goal": "<= 5 s, peak <= 256 MiB",
        "goal_met": n >= total and (t_done - t_up) <= 5.0 and hwm / 1024 <= 256}),
}, indent=1))
PY
