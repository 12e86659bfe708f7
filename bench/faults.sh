#!/usr/bin/env bash
# The kill -9 loops of issue 11 at full length: twenty kills of a worker during apply and twenty
# of the master during an agent-info apply (CI runs five of each), with the disk-full and
# clock-jump tests. Prints each test's result, time and figures; exits non-zero if one fails.
#
#   bench/faults.sh                            (from the repository root; as root for disk full)
#   CLUSTERTOOLS_FAULT_ROUNDS=50 bench/faults.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CLUSTERTOOLS_FAULT_ROUNDS=${CLUSTERTOOLS_FAULT_ROUNDS:-20}
swift build --build-tests >/dev/null 2>&1 || swift build --build-tests
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
swift test --skip-build --no-parallel --filter 'CrashRecoveryTests|DiskFullTests|ClockJumpTests' >"$out" 2>&1 || status=$?
grep -E '^(✔|✘) Test |kills, |ERROR|recorded an issue' "$out" || true
if [[ $status -eq 0 ]]; then
    echo "faults: all held ($CLUSTERTOOLS_FAULT_ROUNDS kill rounds each)"
else
    echo "faults: something did not hold (swift test exited $status)" >&2
fi
exit "$status"
