#!/usr/bin/env bash
# The master's CPU at rest: FILES files under sync (default 100,000), the master alone with the
# default intervals (recalculate_integrity 8 s), its CPU time (utime + stime from /proc/PID/stat)
# over SECONDS seconds (default 60) after its first scan, as a share of one core. Then how soon a
# change is picked up: a file added, then a file rewritten, each timed from the write to the log
# line of the scan that found it.
#
#   bench/cluster/idle-cpu.sh [FILES] [SECONDS]     (from the repository root)
#   bench/compare.sh REV ROUNDS bench/cluster/idle-cpu.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
FILES=${1:-100000}
SECONDS_IDLE=${2:-60}
# CLUSTERTOOLS_BIN=DIR runs another build's executables (see bench/compare.sh).
if [ -n "${CLUSTERTOOLS_BIN:-}" ]; then
  BIN=$CLUSTERTOOLS_BIN
else
  for p in cl-master cl-crypt; do
    swift build -c release --product $p >/dev/null 2>&1 || swift build -c release --product $p
  done
  BIN="$(swift build -c release --show-bin-path)"
fi
WORK=$(mktemp -d /tmp/cl-idle-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b-a}'; }
wait_for() {  # wait_for FILE TEXT [TIMEOUT] [MIN_COUNT]: until TEXT appears MIN_COUNT times
  local deadline=$(( $(date +%s) + ${3:-600} ))
  local n
  while :; do
    n=$(grep -c -- "$2" "$1" 2>/dev/null) || n=0
    [ "$n" -lt "${4:-1}" ] || break
    [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out waiting for '$2' in $1" >&2; exit 1; }
    sleep 0.05
  done
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

"$BIN/cl-crypt" keygen -o "$WORK/cluster.key"
M="$WORK/master"
python3 bench/integrity/gen_tree.py "$M" --files "$FILES" --per-group 100
sleep 2   # files younger than 2 s are hashed but not cached; let the tree settle

cat > "$WORK/master.json" <<JSON
{"cluster": {"name": "wazuh", "key_file": "cluster.key"},
 "node": {"name": "master-node", "type": "master", "root": "master", "bind": "127.0.0.1", "port": 0}}
JSON
t0=$(now)
"$BIN/cl-master" run -c "$WORK/master.json" 2> "$WORK/master.err" &
pids+=($!); MPID=$!
LOG="$M/logs/cluster.log"
wait_for "$LOG" "Calculated metadata of $FILES files"
t1=$(now); FIRST=$(elapsed "$t0" "$t1")

HZ=$(getconf CLK_TCK)
c0=$(cpu_ticks "$MPID"); w0=$(now)
sleep "$SECONDS_IDLE"
c1=$(cpu_ticks "$MPID"); w1=$(now)
IDLE=$(awk -v c="$((c1 - c0))" -v hz="$HZ" -v a="$w0" -v b="$w1" 'BEGIN {printf "%.3f", 100 * c / hz / (b - a)}')
IDLE_CPU=$(awk -v c="$((c1 - c0))" -v hz="$HZ" 'BEGIN {printf "%.2f", c / hz}')

# A change is picked up within one interval: a new file (the count changes), then a rewrite.
t0=$(now)
echo "added while idle" > "$M/etc/shared/group0000/added.conf"
wait_for "$LOG" "Calculated metadata of $((FILES + 1)) files" 60
t1=$(now); ADDED=$(elapsed "$t0" "$t1")
took() { grep "Calculated metadata of $1 files" "$LOG" | tail -1 | sed -E 's/.*Finished in ([0-9.]+) s.*/\1/'; }
ADDED_SCAN=$(took $((FILES + 1)))
before=$(grep -c "Calculated metadata of $((FILES + 1)) files" "$LOG")
t0=$(now)
echo "rewritten while idle" > "$M/etc/shared/group0000/file001.conf"
wait_for "$LOG" "Calculated metadata of $((FILES + 1)) files" 60 $((before + 1))
t1=$(now); REWRITTEN=$(elapsed "$t0" "$t1")
REWRITTEN_SCAN=$(took $((FILES + 1)))
PEAK=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$MPID/status")
kill "$MPID"; wait "$MPID" 2>/dev/null || true; pids=()

cat <<REPORT
| measurement | result |
|---|---|
| master's first scan of $FILES files (start to log line) | ${FIRST} s |
| master CPU at rest over ${SECONDS_IDLE} s (recalculate_integrity 8 s) | **${IDLE} % of one core** (${IDLE_CPU} s of CPU) |
| a new file, write to the scan that reports it | ${ADDED} s (that scan took ${ADDED_SCAN} s) |
| a rewritten file, write to the scan that reports it | ${REWRITTEN} s (that scan took ${REWRITTEN_SCAN} s) |
| master peak RSS | ${PEAK} MiB |
REPORT
grep -iE "watch|overflow|full walk" "$LOG" "$WORK/master.err" | sed 's/^/log: /' | head -5 || true
