#!/usr/bin/env bash
# Master failover time after kill -9 of the leader (docs/HA.md), against a plain master killed
# -9 and restarted at once, both in this invocation, with the same workers and files.
#
#   bench/ha/failover.sh [WORKERS] [ROUNDS] [TTL]     (from the repository root; defaults 3 3 10)
#   CLUSTERTOOLS_BIN=DIR bench/ha/failover.sh 20 3 10  (prebuilt executables instead of a release build)
#
# HA: etcd (one member), two masters with "ha" (lease_ttl TTL), FILES files (default 2000) seeded
# on the first leader only (the follower takes them over its standby link), WORKERS workers with
# node.master = both masters and ha.etcd. Each round kills the leader with SIGKILL and measures,
# from the kill, (a) when the follower logged "Leading: listening" and (b) when every worker had
# finished an integrity check answered by the new leader on a connection made after the kill
# (bench/ha/checked.py: the worker's own log line "Sync not required." or "Integrity sync:
# Finished", after "Connected to the master NEW."). Then the killed master is started again, and
# waits as the next follower until its standby tree is in sync.
# Baseline: one master without "ha", the same files and worker count (node.master = that master),
# killed with SIGKILL and started again at once on the same port; the same measure (b).
# Workers: connection_retry 0.5 s, connection_retry_max 2 s, sync_integrity 9 s (both runs).
WORKERS=${1:-3}
ROUNDS=${2:-3}
TTL=${3:-10}
FILES=${FILES:-2000}
source "$(dirname "$0")/lib.sh"
HERE=bench/ha
"$BIN/cl-crypt" keygen -o "$WORK/cluster.key"
log_time() {  # log_time LOG TEXT SINCE: seconds from SINCE to the first line with TEXT after SINCE
  python3 - "$@" <<'PY'
import json, sys
from datetime import datetime, timezone
path, text, since = sys.argv[1], sys.argv[2], float(sys.argv[3])
for line in open(path, errors="replace"):
    try: e = json.loads(line)
    except ValueError: continue
    t = datetime.strptime(e["time"].rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()
    if t >= since and text in e.get("message", ""):
        print("%.2f" % (t - since)); sys.exit(0)
sys.exit(1)
PY
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
worker_logs() { local i; for i in $(seq "$WORKERS"); do printf '%s ' "$WORK/$1$i.log"; done; }

# ---- Baseline: one master, no ha, killed -9 and restarted at once.
P0=$(free_port); MP0=$(free_port)
master_conf solo "$P0" "$MP0"
python3 bench/integrity/gen_tree.py "$WORK/solo" --files "$FILES" --per-group 100 >/dev/null
start_master solo; SOLO=$LAST_PID
BW=()
for i in $(seq "$WORKERS"); do
  worker_conf "bw$i" "[\"127.0.0.1:$P0\"]"
  start_worker "bw$i"; BW+=($LAST_PID)
done
until_ok 300 python3 $HERE/checked.py 0 "127.0.0.1:$P0" $(worker_logs bw) >/dev/null || die "baseline workers did not sync"
base=()
for r in $(seq "$ROUNDS"); do
  t0=$(now)
  kill -9 "$SOLO"; wait "$SOLO" 2>/dev/null || true
  start_master solo; SOLO=$LAST_PID
  until_ok 300 python3 $HERE/checked.py "$t0" "127.0.0.1:$P0" $(worker_logs bw) >/dev/null || die "baseline round $r: workers not back"
  b=$(python3 $HERE/checked.py "$t0" "127.0.0.1:$P0" $(worker_logs bw) | cut -d' ' -f1)
  echo "baseline round $r: every worker checked by the restarted master after $b s" >&2
  base+=("$b")
done
for p in "${BW[@]}"; do stop_pid "$p"; done
stop_pid "$SOLO"

# ---- HA: etcd, two masters, the same number of workers.
seed_m1() { python3 bench/integrity/gen_tree.py "$WORK/m1" --files "$FILES" --per-group 100 >/dev/null; }
start_ha_masters seed_m1
in_sync() { is_follower_standby "$1" && diff -rq "$WORK/$1/etc/shared" "$WORK/$2/etc/shared" >/dev/null 2>&1; }
until_ok 300 in_sync m2 m1 || die "m2 did not become an in-sync standby"
for i in $(seq "$WORKERS"); do
  worker_conf "hw$i" "[\"127.0.0.1:${PORT[m1]}\", \"127.0.0.1:${PORT[m2]}\"]" "\"ha\": {\"etcd\": [\"http://127.0.0.1:$EC\"]}"
  start_worker "hw$i"
done
until_ok 300 python3 $HERE/checked.py 0 "127.0.0.1:${PORT[m1]}" $(worker_logs hw) >/dev/null || die "HA workers did not sync with m1"
leader=m1; follower=m2
serve=(); fail=()
for r in $(seq "$ROUNDS"); do
  until_ok 300 in_sync "$follower" "$leader" || die "round $r: $follower is not an in-sync standby"
  t0=$(now)
  kill -9 "${MPID[$leader]}"; wait "${MPID[$leader]}" 2>/dev/null || true
  addr="127.0.0.1:${PORT[$follower]}"
  until_ok $((TTL + 300)) python3 $HERE/checked.py "$t0" "$addr" $(worker_logs hw) >/dev/null || die "round $r: workers not checked by $follower"
  f=$(python3 $HERE/checked.py "$t0" "$addr" $(worker_logs hw) | cut -d' ' -f1)
  s=$(log_time "$WORK/$follower.log" "Leading: listening" "$t0") || s=n/a
  echo "failover round $r: $follower serving after $s s, every worker checked by it after $f s" >&2
  serve+=("$s"); fail+=("$f")
  start_master "$leader"; MPID[$leader]=$LAST_PID   # back as the next follower
  tmp=$leader; leader=$follower; follower=$tmp
done

B=$(median "${base[@]}"); F=$(median "${fail[@]}"); S=$(median "${serve[@]}")
GOAL=$((TTL + 5))
cat <<REPORT
| $WORKERS workers, $FILES files, lease_ttl $TTL s, $ROUNDS rounds | median | rounds |
|---|---|---|
| baseline: plain master kill -9 + restart, every worker checked by it | ${B} s | ${base[*]} |
| HA: kill -9 of the leader, follower logs "Leading: listening" | ${S} s | ${serve[*]} |
| HA: kill -9 of the leader, every worker checked by the new leader | **${F} s** | ${fail[*]} |
| ratio HA / baseline | $(awk -v a="$F" -v b="$B" 'BEGIN {printf "%.1f", a/b}') | |
| ratio HA / goal (TTL + 5 = $GOAL s) | $(awk -v a="$F" -v b="$GOAL" 'BEGIN {printf "%.2f", a/b}') | |
REPORT
