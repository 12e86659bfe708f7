#!/usr/bin/env bash
# Times what a master does with its own files: `cl-integrity scan` of FILES small files without a
# cache (cold) and with a warm cache, and `cl-integrity compare` of that snapshot with a worker's
# that differs in 1 % of its hashes, lacks 1 % and has 1 % extra (both parsed, classified,
# written). Medians of ROUNDS runs each, release build.
#
#   bench/integrity/scan-check.sh [FILES] [ROUNDS]      (from the repository root)
#
# CLUSTERTOOLS_BIN=DIR runs another build's executables, so that
# `bench/compare.sh REV N bench/integrity/scan-check.sh` times a previous build and this one in
# the same invocation.
set -euo pipefail
cd "$(dirname "$0")/../.."
FILES=${1:-50000}
ROUNDS=${2:-5}
if [ -n "${CLUSTERTOOLS_BIN:-}" ]; then
  BIN=$CLUSTERTOOLS_BIN
else
  swift build -c release --product cl-integrity >/dev/null 2>&1 || swift build -c release --product cl-integrity
  BIN="$(swift build -c release --show-bin-path)"
fi
WORK=$(mktemp -d /tmp/cl-scan-check-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
python3 bench/integrity/gen_tree.py "$WORK/root" --files "$FILES" >/dev/null
"$BIN/cl-integrity" scan --root "$WORK/root" > "$WORK/master.json"
python3 - "$WORK/master.json" "$WORK/worker.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
w = {}
for i, (p, r) in enumerate(m.items()):
    if i % 100 == 1:
        continue
    r = dict(r)
    if i % 100 == 2:
        r["hash"] = "0" * 128
    w[p] = r
    if i % 100 == 3:
        w[p + ".extra"] = dict(r)
open(sys.argv[2], "w").write(json.dumps(w))
PY
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timed() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
cold=() warm=() cmp=()
"$BIN/cl-integrity" scan --root "$WORK/root" --cache "$WORK/cache" >/dev/null
for _ in $(seq 1 "$ROUNDS"); do
  cold+=("$(timed "$BIN/cl-integrity" scan --root "$WORK/root")")
  warm+=("$(timed "$BIN/cl-integrity" scan --root "$WORK/root" --cache "$WORK/cache")")
  cmp+=("$(timed "$BIN/cl-integrity" compare "$WORK/master.json" "$WORK/worker.json" --force)")
done
echo "files $FILES, medians of $ROUNDS:"
echo "scan without cache   $(printf '%s\n' "${cold[@]}" | median) s"
echo "scan with warm cache $(printf '%s\n' "${warm[@]}" | median) s"
echo "compare              $(printf '%s\n' "${cmp[@]}" | median) s"
