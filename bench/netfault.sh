#!/usr/bin/env bash
# Every network-fault test of issue 11 (docs/RELIABILITY.md, "Network faults"): real cl-master and
# cl-worker processes in network namespaces, a worker partitioned and healed, 200 ms delay and
# 20 % loss on the master's link during a 2,000-file sync to three workers (against the same sync
# on a clean link), and the master killed and restarted during a sync to ten workers. bin/test
# runs them too (about three minutes); this runs only them and prints the measured figures at the
# end. Needs root, ip(8) and /dev/net/tun; the tests remove the namespaces they make.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
swift test --skip-build --no-parallel --filter NetworkFaultTests 2>&1 | tee "$out" || status=$?
echo
echo "Figures:"
grep '^netfault:' "$out" || true
exit "$status"
