#!/usr/bin/env bash
# Soak: a master, 3 workers and IDLE simulated idle workers (bench/cluster/idle_workers.py, which
# says hello for cluster "wazuh") for
# MINUTES, with continuous file churn (10 changes/s under the master's etc/shared) and agent
# churn (1,000 updates/s through the workers' local stores), release build, default intervals.
# Samples the master's and workers' RSS and open descriptors every 30 s; at the end stops the
# churn, waits for every worker to converge, and prints: the RSS slope after warm-up (the first
# third) in MiB per 10 minutes (goal < 1), the descriptor counts at warm-up and at the end (goal:
# no growth), and convergence (worker trees equal the master's, every agent on the master).
#
#   bench/soak.sh [MINUTES] [IDLE]        (default 30 and 200; CLUSTERTOOLS_BIN=DIR for another build)
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-30}
IDLE=${2:-200}
WORKERS=3
if [[ -n "${CLUSTERTOOLS_BIN:-}" ]]; then
    BIN=$CLUSTERTOOLS_BIN
else
    swift build -c release >/dev/null 2>&1 || swift build -c release
    BIN="$(swift build -c release --show-bin-path)"
fi
OUT="$(mktemp -d /tmp/soak.XXXXXX)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] && echo "kept $OUT" >&2 || rm -rf "$OUT"
}
trap cleanup EXIT
"$BIN/cl-crypt" keygen -o "$OUT/cluster.key"

mkdir -p "$OUT/master"
python3 bench/integrity/gen_tree.py "$OUT/master" --files 2000 --text >/dev/null
cat > "$OUT/master/cluster.json" <<JSON
{"cluster": {"name": "wazuh", "key_file": "$OUT/cluster.key"},
 "node": {"name": "master", "type": "master", "root": ".", "bind": "127.0.0.1", "port": 0}}
JSON
"$BIN/cl-master" run -c "$OUT/master/cluster.json" --log-level warning 2> "$OUT/master.err" &
MASTER=$!
PIDS+=("$MASTER")
for _ in $(seq 1 300); do [ -f "$OUT/master/var/run/cl-master.json" ] && break; sleep 0.05; done
PORT=$(python3 -c "import json; print(json.load(open('$OUT/master/var/run/cl-master.json'))['port'])")
CONFIGS=()
WPIDS=()
for w in $(seq 1 $WORKERS); do
    mkdir -p "$OUT/w$w"
    cat > "$OUT/w$w/cluster.json" <<JSON
{"cluster": {"name": "wazuh", "key_file": "$OUT/cluster.key"},
 "node": {"name": "worker-$w", "type": "worker", "root": ".", "master": "127.0.0.1:$PORT"}}
JSON
    "$BIN/cl-worker" run -c "$OUT/w$w/cluster.json" --log-level warning 2> "$OUT/w$w.err" &
    PIDS+=("$!"); WPIDS+=("$!")
    CONFIGS+=("$OUT/w$w/cluster.json")
done
SECONDS_TOTAL=$((MINUTES * 60))
python3 bench/cluster/idle_workers.py --port "$PORT" --key-file "$OUT/cluster.key" --pid "$MASTER" \
    --workers "$IDLE" --duration "$SECONDS_TOTAL" --keepalive 10 > "$OUT/idle.json" 2> "$OUT/idle.err" &
IDLEPID=$!
PIDS+=("$IDLEPID")
python3 bench/cluster/churn.py --bin "$BIN" --master-root "$OUT/master" --workers "${CONFIGS[@]}" \
    --duration "$SECONDS_TOTAL" > "$OUT/churn.json" 2> "$OUT/churn.err" &
CHURN=$!
PIDS+=("$CHURN")

sample() {
    local pid=$1
    echo "$(awk '/VmRSS/ {print $2}' "/proc/$pid/status") $(ls "/proc/$pid/fd" | wc -l)"
}
echo "t_s master_rss_kib master_fds w1_rss_kib w1_fds" > "$OUT/samples.txt"
t=0
while kill -0 "$CHURN" 2>/dev/null; do
    echo "$t $(sample "$MASTER") $(sample "${WPIDS[0]}")" >> "$OUT/samples.txt"
    [ -t 2 ] && printf '\rsoak: %d of %d s, master %s' "$t" "$SECONDS_TOTAL" "$(tail -1 "$OUT/samples.txt" | cut -d' ' -f2-3)" >&2
    sleep 30
    t=$((t + 30))
done
[ -t 2 ] && echo >&2
echo "$t $(sample "$MASTER") $(sample "${WPIDS[0]}")" >> "$OUT/samples.txt"

# Converge: every worker's tree equals the master's, every agent id on the master.
converged=false
for _ in $(seq 1 120); do
    ok=true
    for w in $(seq 1 $WORKERS); do
        diff -rq "$OUT/master/etc/shared" "$OUT/w$w/etc/shared" >/dev/null 2>&1 || ok=false
    done
    if $ok; then converged=true; break; fi
    sleep 1
done
# The idle workers report once their own DURATION (counted from when all were connected) ends.
for _ in $(seq 1 120); do kill -0 "$IDLEPID" 2>/dev/null || break; sleep 1; done
python3 - "$OUT" "$WORKERS" "$converged" "$MINUTES" "$IDLE" <<'PY'
import json, sqlite3, sys, time
out, workers, converged, minutes, idle = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "true", int(sys.argv[4]), int(sys.argv[5])
rows = [list(map(int, l.split())) for l in open(f"{out}/samples.txt").read().splitlines()[1:]]
warm = [r for r in rows if r[0] >= rows[-1][0] / 3]
def slope(col):
    xs = [r[0] for r in warm]; ys = [r[col] / 1024 for r in warm]
    n = len(xs); mx = sum(xs) / n; my = sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs) or 1
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den * 600
def ids(db):
    c = sqlite3.connect(db, timeout=30)
    return {r[0] for r in c.execute("SELECT id FROM agent")}
worker_ids = set()
for w in range(1, workers + 1):
    worker_ids |= ids(f"{out}/w{w}/var/db/agents.db")
deadline = time.monotonic() + 60
while True:
    master_ids = ids(f"{out}/master/var/db/agents.db")
    if worker_ids <= master_ids or time.monotonic() > deadline:
        break
    time.sleep(1)
churn = json.load(open(f"{out}/churn.json"))
idle_report = open(f"{out}/idle.json").read().strip()
print(json.dumps({
    "minutes": minutes, "idle_workers": idle, "churn": churn,
    "master_rss_MiB_warm_start_end": [round(warm[0][1] / 1024, 1), round(rows[-1][1] / 1024, 1)],
    "master_rss_slope_MiB_per_10min": round(slope(1), 2),
    "master_fds_warm_start_end": [warm[0][2], rows[-1][2]],
    "worker1_rss_slope_MiB_per_10min": round(slope(3), 2),
    "worker1_fds_warm_start_end": [warm[0][4], rows[-1][4]],
    "files_converged": converged,
    "agents_on_workers": len(worker_ids), "agents_missing_on_master": len(worker_ids - master_ids),
    "idle_workers_report": json.loads(idle_report) if idle_report.startswith("{") else idle_report,
    "goals_met": idle_report.startswith("{") and converged and not (worker_ids - master_ids) and slope(1) < 1 and rows[-1][2] <= warm[0][2] + 4,
}, indent=1))
PY
