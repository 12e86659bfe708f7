#!/usr/bin/env bash
# What HA costs when nothing fails. FILES files (default 2000) and WORKERS workers (default 3),
# everything synced, then SECONDS seconds (default 60) of rest:
# - baseline: one master without "ha"; its CPU (utime + stime from /proc/PID/stat) over the
#   window, its RSS (VmRSS) at the end, and the workers' CPU summed;
# - HA: etcd (one member), the leader and a follower (hot standby, following the leader), the
#   same files (seeded on the leader) and workers (node.master = both, ha.etcd); the same figures
#   for the leader, the follower, the workers and etcd, and etcd's traffic over the window from
#   its own /metrics: etcd_network_client_grpc_received_bytes_total and
#   etcd_network_client_grpc_sent_bytes_total (bytes on etcd's gRPC server; the JSON gateway
#   the masters speak is a gRPC client inside etcd, so its calls are counted there),
#   grpc_server_handled_total (unary calls and finished streams) and
#   grpc_server_msg_received_total (messages, including those on lease keep-alive streams), by method.
#
#   bench/ha/idle.sh [SECONDS] [WORKERS] [TTL]    (from the repository root; defaults 60 3 10)
#   CLUSTERTOOLS_BIN=DIR bench/ha/idle.sh 60     (prebuilt executables instead of a release build)
SECONDS_IDLE=${1:-60}
WORKERS=${2:-3}
TTL=${3:-10}
FILES=${FILES:-2000}
source "$(dirname "$0")/lib.sh"
HERE=bench/ha
"$BIN/cl-crypt" keygen -o "$WORK/cluster.key"
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
worker_logs() { local i; for i in $(seq "$WORKERS"); do printf '%s ' "$WORK/$1$i.log"; done; }
# measure NAME=PID...: CPU over the window as % of one core, per named process
measure() {
  local kv c0=() c1=() i=0
  for kv in "$@"; do c0+=("$(ticks "${kv#*=}")"); done
  w0=$(now); sleep "$SECONDS_IDLE"; w1=$(now)
  for kv in "$@"; do c1+=("$(ticks "${kv#*=}")"); done
  for kv in "$@"; do
    CPU[${kv%%=*}]=$(awk -v c="$(( ${c1[i]} - ${c0[i]} ))" -v hz="$HZ" -v a="$w0" -v b="$w1" 'BEGIN {printf "%.2f", 100 * c / hz / (b - a)}')
    i=$((i + 1))
  done
}
declare -A CPU
sumticks() { local s=0 p; for p in "$@"; do s=$((s + $(ticks "$p"))); done; echo "$s"; }

# ---- Baseline: one master, no ha.
P0=$(free_port)
master_conf solo "$P0" "$(free_port)"
python3 bench/integrity/gen_tree.py "$WORK/solo" --files "$FILES" --per-group 100 >/dev/null
start_master solo; SOLO=$LAST_PID
BW=()
for i in $(seq "$WORKERS"); do worker_conf "bw$i" "[\"127.0.0.1:$P0\"]"; start_worker "bw$i"; BW+=($LAST_PID); done
until_ok 300 python3 $HERE/checked.py 0 "127.0.0.1:$P0" $(worker_logs bw) >/dev/null || die "baseline workers did not sync"
sleep 5
wt0=$(sumticks "${BW[@]}")
measure solo="$SOLO"
wt1=$(sumticks "${BW[@]}")
CPU[bworkers]=$(awk -v c="$((wt1 - wt0))" -v hz="$HZ" -v a="$w0" -v b="$w1" 'BEGIN {printf "%.2f", 100 * c / hz / (b - a)}')
RSS_SOLO=$(rss "$SOLO")
for p in "${BW[@]}"; do stop_pid "$p"; done
stop_pid "$SOLO"

# ---- HA.
seed_m1() { python3 bench/integrity/gen_tree.py "$WORK/m1" --files "$FILES" --per-group 100 >/dev/null; }
start_ha_masters seed_m1
until_ok 300 is_follower_standby m2 || die "m2 did not become a standby"
HW=()
for i in $(seq "$WORKERS"); do
  worker_conf "hw$i" "[\"127.0.0.1:${PORT[m1]}\", \"127.0.0.1:${PORT[m2]}\"]" "\"ha\": {\"etcd\": [\"http://127.0.0.1:$EC\"]}"
  start_worker "hw$i"; HW+=($LAST_PID)
done
until_ok 300 python3 $HERE/checked.py 0 "127.0.0.1:${PORT[m1]}" $(worker_logs hw) >/dev/null || die "HA workers did not sync"
until_ok 120 bash -c "diff -rq '$WORK/m1/etc/shared' '$WORK/m2/etc/shared'" >/dev/null || die "the follower's tree differs from the leader's"
sleep 5
curl -fs "http://127.0.0.1:$EC/metrics" > "$WORK/metrics.0"
wt0=$(sumticks "${HW[@]}")
measure leader="${MPID[m1]}" follower="${MPID[m2]}" etcd="$ETCD_PID"
wt1=$(sumticks "${HW[@]}")
curl -fs "http://127.0.0.1:$EC/metrics" > "$WORK/metrics.1"
CPU[hworkers]=$(awk -v c="$((wt1 - wt0))" -v hz="$HZ" -v a="$w0" -v b="$w1" 'BEGIN {printf "%.2f", 100 * c / hz / (b - a)}')
RSS_L=$(rss "${MPID[m1]}"); RSS_F=$(rss "${MPID[m2]}"); RSS_E=$(rss "$ETCD_PID")
serving m1 || echo "warning: m1 was not serving at the end of the window" >&2
WIN=$(awk -v a="$w0" -v b="$w1" 'BEGIN {printf "%.3f", b - a}')
TRAFFIC=$(python3 - "$WORK/metrics.0" "$WORK/metrics.1" "$WIN" <<'PY'
import re, sys
def load(p):
    d = {}
    for line in open(p):
        if line.startswith("#"): continue
        m = re.match(r'^(\S+?)(\{[^}]*\})?\s+(\S+)$', line.strip())
        if m: d[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return d
a, b, win = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
per_min = lambda v: v * 60 / win
def total(name):
    return sum(v - a.get(k, 0) for k, v in b.items() if k[0] == name)
def by_method(name):
    out = {}
    for k, v in b.items():
        if k[0] != name: continue
        m = re.search(r'grpc_method="([^"]+)"', k[1])
        d = v - a.get(k, 0)
        if m and d: out[m.group(1)] = out.get(m.group(1), 0) + d
    return ", ".join("%s %.0f" % (m, per_min(v)) for m, v in sorted(out.items(), key=lambda x: -x[1]))
print("| etcd bytes received per minute (etcd_network_client_grpc_received_bytes_total) | %.0f |" % per_min(total("etcd_network_client_grpc_received_bytes_total")))
print("| etcd bytes sent per minute (etcd_network_client_grpc_sent_bytes_total) | %.0f |" % per_min(total("etcd_network_client_grpc_sent_bytes_total")))
print("| gRPC calls handled per minute (grpc_server_handled_total) | %.0f (%s) |" % (per_min(total("grpc_server_handled_total")), by_method("grpc_server_handled_total")))
print("| gRPC messages received per minute (grpc_server_msg_received_total) | %.0f (%s) |" % (per_min(total("grpc_server_msg_received_total")), by_method("grpc_server_msg_received_total")))
PY
)
cat <<REPORT
| at rest for ${SECONDS_IDLE} s: $FILES files, $WORKERS workers, lease_ttl $TTL s | CPU, % of one core | RSS |
|---|---|---|
| baseline: plain master (no ha) | ${CPU[solo]} % | ${RSS_SOLO} MiB |
| HA leader | ${CPU[leader]} % ($(awk -v a="${CPU[leader]}" -v b="${CPU[solo]}" 'BEGIN {if (b > 0) printf "%.2fx baseline", a/b; else print "baseline 0"}')) | ${RSS_L} MiB |
| HA follower (hot standby) | ${CPU[follower]} % ($(awk -v a="${CPU[follower]}" -v b="${CPU[solo]}" 'BEGIN {if (b > 0) printf "%.2fx baseline", a/b; else print "baseline 0"}')) | ${RSS_F} MiB |
| etcd (one member) | ${CPU[etcd]} % | ${RSS_E} MiB |
| workers, summed: baseline / HA | ${CPU[bworkers]} % / ${CPU[hworkers]} % | |

| etcd traffic over ${WIN} s, scaled to a minute | |
|---|---|
$TRAFFIC
REPORT
