#!/usr/bin/env bash
# Cluster benchmarks on a release build, on loopback:
#  1. full sync of FILES small files from a master to one cold worker, then to two at once, as
#     wall time to convergence, next to the cl-integrity scan | compare | pack | apply pipeline on
#     the same trees (the baseline, run in the same invocation);
#  2. N simulated idle workers (hello + keepalives) against one master: its RSS and CPU, at
#     N = 100 and 1,000.
#
#   bench/cluster/run.sh [FILES]       (from the repository root; FILES defaults to 50000)
set -euo pipefail
cd "$(dirname "$0")/../.."
FILES=${1:-50000}
# CLUSTERTOOLS_BIN=DIR runs another build's executables (see bench/compare.sh).
if [ -n "${CLUSTERTOOLS_BIN:-}" ]; then
  BIN=$CLUSTERTOOLS_BIN
else
  for p in cl-master cl-worker cl-integrity cl-crypt; do
    swift build -c release --product $p >/dev/null 2>&1 || swift build -c release --product $p
  done
  BIN="$(swift build -c release --show-bin-path)"
fi
WORK=$(mktemp -d /tmp/cl-cluster-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b-a}'; }
wait_for() {  # wait_for FILE TEXT [TIMEOUT]
  local deadline=$(( $(date +%s) + ${3:-600} ))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out waiting for '$2' in $1" >&2; exit 1; }
    sleep 0.05
  done
}

"$BIN/cl-crypt" keygen -o "$WORK/cluster.key"
M="$WORK/master"
python3 bench/integrity/gen_tree.py "$M" --files "$FILES" --per-group 100
sleep 2   # files younger than 2 s are hashed but not cached; let the tree settle

# --- baseline: the same sync as a pipeline of cl-integrity steps -----------------------------
B="$WORK/pipeline-worker"; mkdir -p "$B"
t0=$(now)
"$BIN/cl-integrity" scan --root "$M" > "$WORK/m.json"
"$BIN/cl-integrity" scan --root "$B" > "$WORK/b.json"
"$BIN/cl-integrity" compare "$WORK/m.json" "$WORK/b.json" \
  | "$BIN/cl-integrity" pack --root "$M" \
  | "$BIN/cl-integrity" apply --root "$B" > /dev/null
t1=$(now)
PIPELINE=$(elapsed "$t0" "$t1")
"$BIN/cl-integrity" check --root "$B" --against "$WORK/m.json" > /dev/null

# --- the cluster ---------------------------------------------------------------------------------
iv='"intervals": {"master": {"recalculate_integrity": 2}, "worker": {"sync_integrity": 0.2, "keep_alive": 10}, "communication": {"timeout_receiving_file": 600}}'
cat > "$WORK/master.json" <<JSON
{"cluster": {"name": "wazuh", "key_file": "cluster.key"},
 "node": {"name": "master-node", "type": "master", "root": "master", "bind": "127.0.0.1", "port": 0}, $iv}
JSON
"$BIN/cl-master" run -c "$WORK/master.json" 2> "$WORK/master.log" &
pids+=($!); MPID=$!
wait_for "$M/logs/cluster.log" "Calculated metadata of $FILES files"
PORT=$(sed -E 's/.*"port":([0-9]+).*/\1/' "$M/var/run/cl-master.json")

start_worker() {
  mkdir -p "$WORK/$1"
  cat > "$WORK/$1.json" <<JSON
{"cluster": {"name": "wazuh", "key_file": "cluster.key"},
 "node": {"name": "$1", "type": "worker", "root": "$1", "master": "127.0.0.1:$PORT"}, $iv}
JSON
  "$BIN/cl-worker" run -c "$WORK/$1.json" 2> "$WORK/$1.err" &
  pids+=($!)
}

t0=$(now); start_worker w1
wait_for "$WORK/w1/logs/cluster.log" "\[Integrity sync\] Finished"
t1=$(now); ONE=$(elapsed "$t0" "$t1")
"$BIN/cl-integrity" check --root "$WORK/w1" --against "$WORK/m.json" > /dev/null

t0=$(now); start_worker w2; start_worker w3
wait_for "$WORK/w2/logs/cluster.log" "\[Integrity sync\] Finished"
wait_for "$WORK/w3/logs/cluster.log" "\[Integrity sync\] Finished"
t1=$(now); TWO=$(elapsed "$t0" "$t1")
"$BIN/cl-integrity" check --root "$WORK/w2" --against "$WORK/m.json" > /dev/null
"$BIN/cl-integrity" check --root "$WORK/w3" --against "$WORK/m.json" > /dev/null
SYNC_PEAK=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$MPID/status)
kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; pids=()

# --- idle workers ----------------------------------------------------------------------------------
I="$WORK/idle"; mkdir -p "$I"
cat > "$WORK/idle.json" <<JSON
{"cluster": {"name": "wazuh", "key_file": "cluster.key"},
 "node": {"name": "master-node", "type": "master", "root": "idle", "bind": "127.0.0.1", "port": 0},
 "intervals": {"master": {"recalculate_integrity": 8}}}
JSON
ulimit -n 65536 2>/dev/null || true
IDLE=()
for n in 100 1000; do
  rm -rf "$I"; mkdir -p "$I"
  "$BIN/cl-master" run -c "$WORK/idle.json" 2> "$WORK/idle.log" &
  pids+=($!); IPID=$!
  wait_for "$I/logs/cluster.log" "Listening on"
  IPORT=$(sed -E 's/.*"port":([0-9]+).*/\1/' "$I/var/run/cl-master.json")
  IDLE+=("$(python3 bench/cluster/idle_workers.py --port "$IPORT" --key-file "$WORK/cluster.key" --pid "$IPID" --workers $n --duration 30 --keepalive 10)")
  kill "$IPID"; wait "$IPID" 2>/dev/null || true; pids=()
done

cat <<REPORT
| measurement | result |
|---|---|
| full sync of $FILES files, cl-integrity pipeline (baseline) | ${PIPELINE} s |
| full sync of $FILES files, master → 1 cold worker (daemons) | ${ONE} s ($(awk -v a="$ONE" -v b="$PIPELINE" 'BEGIN {printf "%.2f", a/b}')× the pipeline) |
| full sync of $FILES files, master → 2 cold workers at once | ${TWO} s ($(awk -v a="$TWO" -v b="$PIPELINE" 'BEGIN {printf "%.2f", a/b}')× the pipeline) |
| master peak RSS during the syncs | ${SYNC_PEAK} MiB |

Idle workers (hello, then echo-c keepalive every 10 s, 6× the reference's rate; CPU sampled over 30 s):

\`\`\`
${IDLE[0]}
${IDLE[1]}
\`\`\`
REPORT
