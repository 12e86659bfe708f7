# Shared by bench/ha/*.sh: binaries, a temporary tree, processes stopped by PID on exit, etcd on
# loopback with OS-picked ports, master and worker configurations.
# Sourced, not run. CLUSTERTOOLS_BIN=DIR runs prebuilt executables; without it, a release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -n "${CLUSTERTOOLS_BIN:-}" ]; then
  BIN=$(cd "$CLUSTERTOOLS_BIN" && pwd)
else
  for p in cl-master cl-worker cl-crypt; do
    swift build -c release --product $p >/dev/null 2>&1 || swift build -c release --product $p
  done
  BIN="$(swift build -c release --show-bin-path)"
fi
for t in cl-master cl-worker cl-crypt; do [ -x "$BIN/$t" ] || { echo "$BIN/$t is missing" >&2; exit 66; }; done
command -v etcd >/dev/null || { echo "etcd is missing (apt-get install etcd-server)" >&2; exit 69; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cl-ha-bench.XXXXXX")
pids=()
cleanup() {
  local i
  for (( i = ${#pids[@]} - 1; i >= 0; i-- )); do kill "${pids[i]}" 2>/dev/null || true; done
  for (( i = ${#pids[@]} - 1; i >= 0; i-- )); do
    if kill -0 "${pids[i]}" 2>/dev/null; then wait "${pids[i]}" 2>/dev/null || true; fi
  done
  if [ -n "${KEEP:-}" ]; then echo "tree kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
die() { echo "$*; logs in $WORK" >&2; KEEP=1; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b-a}'; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# until CMD succeeds, at most TIMEOUT seconds (polling every 0.2 s); fails after that
until_ok() { local t=$1; shift; local end=$(( $(date +%s) + t )); until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.2; done; }
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# Worker intervals used by every run (baseline and HA alike).
IV='"intervals": {"master": {"recalculate_integrity": 2}, "worker": {"sync_integrity": 9, "keep_alive": 5, "connection_retry": 0.5, "connection_retry_max": 2}}'

start_etcd() {  # sets EC (client port), ETCD_PID
  EC=$(free_port); local ep; ep=$(free_port)
  etcd --name bench --data-dir "$WORK/etcd" \
    --listen-client-urls "http://127.0.0.1:$EC" --advertise-client-urls "http://127.0.0.1:$EC" \
    --listen-peer-urls "http://127.0.0.1:$ep" --initial-advertise-peer-urls "http://127.0.0.1:$ep" \
    --initial-cluster "bench=http://127.0.0.1:$ep" > "$WORK/etcd.log" 2>&1 &
  ETCD_PID=$!; pids+=($ETCD_PID)
  until_ok 20 curl -fs "http://127.0.0.1:$EC/health" -o /dev/null || die "etcd did not start"
}

# master_conf NAME PORT MPORT [HA_JSON]: writes $WORK/NAME/cluster.json (root $WORK/NAME)
master_conf() {
  mkdir -p "$WORK/$1"
  cat > "$WORK/$1/cluster.json" <<JSON
{"cluster": {"name": "wazuh", "key_file": "../cluster.key"},
 "node": {"name": "$1", "type": "master", "root": ".", "bind": "127.0.0.1", "port": $2},
 "metrics": {"listen": "127.0.0.1:$3"},
 ${4:+$4,}
 $IV}
JSON
}
# worker_conf NAME MASTERS_JSON_LIST [HA_JSON]
worker_conf() {
  mkdir -p "$WORK/$1"
  cat > "$WORK/$1/cluster.json" <<JSON
{"cluster": {"name": "wazuh", "key_file": "../cluster.key"},
 "node": {"name": "$1", "type": "worker", "root": ".", "master": $2},
 ${3:+$3,}
 $IV}
JSON
}
start_master() {  # start_master NAME: sets LAST_PID
  "$BIN/cl-master" run --log-format json -c "$WORK/$1/cluster.json" 2>> "$WORK/$1.log" &
  LAST_PID=$!; pids+=($LAST_PID)
}
# start_ha_masters SEED...: etcd, then masters m1 and m2 with "ha" (lease_ttl $TTL); the command
# SEED fills their trees once their configurations are written; m1 is started and elected, then
# m2 is started (the caller waits for it to follow as it needs). Sets EC, HA, PORT and MPID.
start_ha_masters() {
  start_etcd
  HA="\"ha\": {\"etcd\": [\"http://127.0.0.1:$EC\"], \"lease_ttl\": $TTL}"
  declare -gA PORT MPID
  local m
  for m in m1 m2; do PORT[$m]=$(free_port); master_conf "$m" "${PORT[$m]}" "$(free_port)" "$HA"; done
  "$@"
  start_master m1; MPID[m1]=$LAST_PID
  until_ok 60 serving m1 || die "m1 was not elected"
  start_master m2; MPID[m2]=$LAST_PID
}
start_worker() {
  "$BIN/cl-worker" run --log-format json -c "$WORK/$1/cluster.json" 2>> "$WORK/$1.log" &
  LAST_PID=$!; pids+=($LAST_PID)
}
ha_json() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
ha_local() { "$BIN/cl-master" ha status -c "$WORK/$1/cluster.json" 2>/dev/null | ha_json "d['local'].get('$2')" 2>/dev/null; }
serving() { [ "$(ha_local "$1" serving)" = True ]; }
is_follower_standby() {  # a follower whose standby link is up and whose tree equals the leader's
  "$BIN/cl-master" ha status -c "$WORK/$1/cluster.json" 2>/dev/null | python3 -c '
import json, sys; l = json.load(sys.stdin)["local"]; s = l.get("standby") or {}
sys.exit(0 if l.get("role") == "follower" and s.get("connected") and s.get("seconds_since_in_sync") is not None and s["seconds_since_in_sync"] < 30 else 1)'
}
healthz() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/healthz"; }
workers_on() {  # workers_on MASTER N: N workers connected to MASTER
  [ "$("$BIN/cl-master" nodes -c "$WORK/$1/cluster.json" 2>/dev/null | ha_json 'sum(n["type"] == "worker" for n in d["items"])' 2>/dev/null)" = "$2" ]
}
agent_rows() { "$BIN/cl-master" agents list --limit 0 -c "$WORK/$1/cluster.json" 2>/dev/null | ha_json 'd["totalItems"]' 2>/dev/null || echo 0; }
same_tree() {  # same_tree A B: the etc/ trees of A and B hold the same files, byte for byte
  diff -rq "$WORK/$1/etc" "$WORK/$2/etc" >/dev/null 2>&1
}
