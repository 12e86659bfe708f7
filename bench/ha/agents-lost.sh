#!/usr/bin/env bash
# Agent rows across a failover (docs/HA.md: masters do not replicate agent stores; each worker
# pushes all its rows again to a new leader). WORKERS workers (default 4) x AGENTS agents each
# (default 25,000) upserted on the workers in batches of BATCH (default 5,000), all workers at
# once. Baseline: the time from the first upsert until the first leader holds all the rows
# (cl-master agents list --limit 0, polled every 0.5 s). Then kill -9 of the leader: rows lost
# (rows the new leader does not hold after a bounded wait of 300 s; goal 0) and the time from
# the kill until it holds them all.
#
#   bench/ha/agents-lost.sh [WORKERS] [AGENTS] [TTL]    (from the repository root; defaults 4 25000 10)
#   CLUSTERTOOLS_BIN=DIR bench/ha/agents-lost.sh       (prebuilt executables instead of a release build)
WORKERS=${1:-4}
AGENTS=${2:-25000}
TTL=${3:-10}
BATCH=${BATCH:-5000}
source "$(dirname "$0")/lib.sh"
TOTAL=$((WORKERS * AGENTS))
"$BIN/cl-crypt" keygen -o "$WORK/cluster.key"
seed_m1() {
  mkdir -p "$WORK/m1/etc/shared/default" "$WORK/m2/etc/shared/default"
  echo '<agent_config/>' > "$WORK/m1/etc/shared/default/agent.conf"
}
start_ha_masters seed_m1
until_ok 120 is_follower_standby m2 || die "m2 did not become a standby"
for i in $(seq "$WORKERS"); do
  worker_conf "w$i" "[\"127.0.0.1:${PORT[m1]}\", \"127.0.0.1:${PORT[m2]}\"]" "\"ha\": {\"etcd\": [\"http://127.0.0.1:$EC\"]}"
  start_worker "w$i"
done
until_ok 120 workers_on m1 "$WORKERS" || die "workers did not connect to m1"
# The rows, as in Tests/ToolTests/AgentSyncTests.swift agentLine; ids unique across workers.
for i in $(seq "$WORKERS"); do
  python3 - "$i" "$AGENTS" "$BATCH" "$WORK/agents-w$i" <<'PY'
import json, sys
w, n, batch, prefix = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
first = (w - 1) * n + 1
for b in range(0, n, batch):
    with open("%s.%04d" % (prefix, b // batch), "w") as f:
        for k in range(first + b, first + min(b + batch, n)):
            f.write(json.dumps({"id": "%03d" % k, "name": "agent-%d" % k, "ip": "10.%d.%d.%d" % (w, k // 250 % 250, k % 250),
                                "os_name": "Ubuntu", "os_platform": "ubuntu", "version": "Wazuh v4.9.2",
                                "connection_status": "active", "last_keepalive": 1700000000,
                                "node_name": "w%d" % w, "labels": {"env": "bench"}}) + "\n")
PY
done
upsert_all() {  # upsert_all WORKER: every batch, in order; fails on any failed row
  local f out
  for f in "$WORK/agents-$1".*; do
    out=$("$BIN/cl-worker" agents upsert -c "$WORK/$1/cluster.json" < "$f") || { echo "upsert $f: $out" >&2; return 1; }
    case "$out" in *'"failed":0'*) ;; *) echo "upsert $f: $out" >&2; return 1 ;; esac
  done
}
t0=$(now)
ups=()
for i in $(seq "$WORKERS"); do upsert_all "w$i" & ups+=($!); done
for p in "${ups[@]}"; do wait "$p" || die "an upsert failed"; done
t_up=$(elapsed "$t0" "$(now)")
has_all() { [ "$(agent_rows "$1")" = "$TOTAL" ]; }
slow_poll() { local end=$(( $(date +%s) + $1 )); shift; until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.5; done; }
slow_poll 600 has_all m1 || die "m1 never held $TOTAL rows (has $(agent_rows m1))"
BASE=$(elapsed "$t0" "$(now)")
echo "baseline: $TOTAL rows upserted in $t_up s, all on m1 after $BASE s" >&2
ON_FOLLOWER=$(agent_rows m2)

t0=$(now)
kill -9 "${MPID[m1]}"; wait "${MPID[m1]}" 2>/dev/null || true
if slow_poll 300 has_all m2; then AFTER=$(elapsed "$t0" "$(now)"); else AFTER="not within 300 s"; fi
ROWS=$(agent_rows m2)
LOST=$((TOTAL - ROWS))
SERVE=$(python3 - "$WORK/m2.log" "$t0" <<'PY'
import json, sys
from datetime import datetime, timezone
for line in open(sys.argv[1], errors="replace"):
    try: e = json.loads(line)
    except ValueError: continue
    t = datetime.strptime(e["time"].rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()
    if t >= float(sys.argv[2]) and "Leading: listening" in e.get("message", ""):
        print("%.2f" % (t - float(sys.argv[2]))); break
else: print("n/a")
PY
)
echo "failover: m2 serving after $SERVE s; $ROWS rows after $AFTER s" >&2
grep -h "pushing all" "$WORK"/w*.log | sed 's/^/log: /' | cut -c1-220 >&2 || true
cat <<REPORT
| $WORKERS workers x $AGENTS agents, lease_ttl $TTL s | result |
|---|---|
| baseline: $TOTAL rows upserted (batches of $BATCH) until all on the first leader | ${BASE} s (upserts returned after ${t_up} s) |
| rows on the follower before the kill (agent stores are not replicated) | ${ON_FOLLOWER} |
| kill -9 of the leader: follower logs "Leading: listening" | ${SERVE} s |
| kill -9 of the leader: all $TOTAL rows on the new leader | **${AFTER} s** |
| ratio failover / baseline | $(awk -v a="$AFTER" -v b="$BASE" 'BEGIN {if (a+0 > 0) printf "%.2f", a/b; else print "n/a"}') |
| rows lost (goal 0) | **${LOST}** |
REPORT
