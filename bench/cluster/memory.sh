#!/usr/bin/env bash
# The master's memory through a full sync, on a release build, on loopback: FILES small files
# (default 50,000) synchronised to two cold workers at once, then the master left at rest.
# Prints the master's peak RSS during the syncs (VmHWM), its RSS at rest REST seconds (default 20)
# after both workers match, and each worker's peak RSS (their apply). At rest, the RSS is also
# sampled every half second over the REST seconds (lowest, median, highest): the workers go on
# checking their files every SYNC seconds (intervals.worker.sync_integrity; default 0.2, the
# figure this benchmark has always used; the daemons' default is 9), and each check is a 13 MB
# metadata file from a worker of 50,000 files passing through the master.
#
#   bench/cluster/memory.sh [FILES] [REST]      (from the repository root)
#   SYNC=9 bench/cluster/memory.sh              (the workers at the default check interval)
#
# CLUSTERTOOLS_BIN=DIR runs another build's executables, so that
# `bench/compare.sh REV ROUNDS bench/cluster/memory.sh` measures a previous build and this one
# in the same invocation.
set -euo pipefail
cd "$(dirname "$0")/../.."
FILES=${1:-50000}
REST=${2:-20}
SYNC=${SYNC:-0.2}
if [ -n "${CLUSTERTOOLS_BIN:-}" ]; then
  BIN=$CLUSTERTOOLS_BIN
else
  for p in cl-master cl-worker cl-integrity cl-crypt; do
    swift build -c release --product $p >/dev/null 2>&1 || swift build -c release --product $p
  done
  BIN="$(swift build -c release --show-bin-path)"
fi
WORK=$(mktemp -d /tmp/cl-memory-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_for() {  # wait_for FILE TEXT [TIMEOUT]
  local deadline=$(( $(date +%s) + ${3:-600} ))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out waiting for '$2' in $1" >&2; exit 1; }
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || { echo "a daemon exited (pid $p); see $WORK" >&2; tail -3 "$WORK"/*.log "$WORK"/*.err 2>/dev/null >&2; exit 1; }; done
    sleep 0.05
  done
}
mib() { awk -v k="$2" '$1 == k":" {printf "%.1f", $2/1024}' "/proc/$1/status"; }

"$BIN/cl-crypt" keygen -o "$WORK/cluster.key"
M="$WORK/master"
python3 bench/integrity/gen_tree.py "$M" --files "$FILES" --per-group 100
sleep 2   # files younger than 2 s are hashed but not cached; let the tree settle
"$BIN/cl-integrity" scan --root "$M" > "$WORK/m.json"

iv='"intervals": {"master": {"recalculate_integrity": 2}, "worker": {"sync_integrity": '"$SYNC"', "keep_alive": 10}, "communication": {"timeout_receiving_file": 600}}'
cat > "$WORK/master.json" <<JSON
{"cluster": {"name": "wazuh", "key_file": "cluster.key"},
 "node": {"name": "master-node", "type": "master", "root": "master", "bind": "127.0.0.1", "port": 0}, $iv}
JSON
"$BIN/cl-master" run -c "$WORK/master.json" 2> "$WORK/master.log" &
pids+=($!); MPID=$!
wait_for "$M/logs/cluster.log" "Calculated metadata of $FILES files"
PORT=$(sed -E 's/.*"port":([0-9]+).*/\1/' "$M/var/run/cl-master.json")
BEFORE=$(mib "$MPID" VmRSS)

start_worker() {
  mkdir -p "$WORK/$1"
  cat > "$WORK/$1.json" <<JSON
{"cluster": {"name": "wazuh", "key_file": "cluster.key"},
 "node": {"name": "$1", "type": "worker", "root": "$1", "master": "127.0.0.1:$PORT"}, $iv}
JSON
  "$BIN/cl-worker" run -c "$WORK/$1.json" 2> "$WORK/$1.err" &
  pids+=($!)
}
start_worker w1; W1=$!
start_worker w2; W2=$!
wait_for "$WORK/w1/logs/cluster.log" "\[Integrity sync\] Finished"
wait_for "$WORK/w2/logs/cluster.log" "\[Integrity sync\] Finished"
PEAK=$(mib "$MPID" VmHWM)
W1PEAK=$(mib "$W1" VmHWM); W2PEAK=$(mib "$W2" VmHWM)
"$BIN/cl-integrity" check --root "$WORK/w1" --against "$WORK/m.json" > /dev/null
"$BIN/cl-integrity" check --root "$WORK/w2" --against "$WORK/m.json" > /dev/null
samples=()
for _ in $(seq 1 $(( REST * 2 ))); do samples+=("$(mib "$MPID" VmRSS)"); sleep 0.5; done
AT_REST=$(mib "$MPID" VmRSS)
read -r LOW MEDIAN HIGH <<<"$(printf '%s\n' "${samples[@]}" | sort -n | awk '{a[NR]=$1} END {print a[1], a[int((NR+1)/2)], a[NR]}')"
ANON=$(mib "$MPID" RssAnon); FILE=$(mib "$MPID" RssFile)

cat <<REPORT
| master, $FILES files, 2 cold workers at once | RSS |
|---|---|
| master at rest before the workers connect | ${BEFORE} MiB |
| master peak during the two syncs | ${PEAK} MiB |
| master at rest ${REST} s after both match (workers checking every $SYNC s) | ${AT_REST} MiB (anonymous ${ANON}, file-backed ${FILE}) |
| master over those ${REST} s, sampled every 0.5 s: lowest / median / highest | ${LOW} / ${MEDIAN} / ${HIGH} MiB |
| worker peak (apply of $FILES files), each | ${W1PEAK} / ${W2PEAK} MiB |
REPORT
