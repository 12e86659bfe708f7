#!/usr/bin/env bash
# Runs one benchmark on a previous build and on this tree's build, alternately, in the same
# invocation, so the two are measured under the same conditions on a shared machine.
#
#   bench/compare.sh REV ROUNDS SCRIPT [ARGS...]
#   bench/compare.sh eccf35f 2 bench/dapi.sh
#
# REV is built once by bench/build-baseline.sh; SCRIPT must honour CLUSTERTOOLS_BIN (dapi.sh,
# agents.sh, cluster/run.sh and cluster/idle-cpu.sh do). Each round prints "== baseline REV" then "== current" and
# the script's own output.
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:?usage: bench/compare.sh REV ROUNDS SCRIPT [ARGS...]}
ROUNDS=${2:?rounds}
shift 2
OLD=$(bench/build-baseline.sh "$REV")
swift build -c release >/dev/null 2>&1 || swift build -c release
NEW=$(swift build -c release --show-bin-path)
for i in $(seq 1 "$ROUNDS"); do
    echo "== round $i: baseline $REV"
    CLUSTERTOOLS_BIN=$OLD "$@"
    echo "== round $i: current $(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD -- Sources Package.swift || echo '+changes')"
    CLUSTERTOOLS_BIN=$NEW "$@"
done
