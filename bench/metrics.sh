#!/usr/bin/env bash
# The cost of recording metrics on the hot path: the runtime's per-frame benchmark
# (bench/dapi.sh: master CPU per frame for echo, cluster.health and the fan-outs) with metrics
# off and on (DAPI_BENCH_METRICS=1: every node serves /metrics), alternately, in one invocation.
#
#   bench/metrics.sh [ROUNDS]          (from the repository root; default 2 rounds)
#
# Each round prints "== off" and "== on" and dapi.sh's JSON; the "on" runs end with the master's
# own count of the echo frames it received, read from its /metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
for i in $(seq 1 "$ROUNDS"); do
    echo "== round $i: metrics off"
    DAPI_BENCH_METRICS=0 bench/dapi.sh
    echo "== round $i: metrics on"
    DAPI_BENCH_METRICS=1 bench/dapi.sh
done
