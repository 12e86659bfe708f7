#!/usr/bin/env bash
# Builds another revision of the product (release) beside this tree, so a benchmark can run it
# and the current build in the same invocation. Prints the directory of its executables.
#
#   bench/build-baseline.sh REV        (from the repository root; REV: a commit, tag or branch)
#
# The revision is checked out as a git worktree under bench/.baseline/<commit> and built there
# once; later calls reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:?usage: bench/build-baseline.sh REV}
COMMIT=$(git rev-parse --short=12 "$REV^{commit}")
DIR="bench/.baseline/$COMMIT"
if [[ ! -d "$DIR" ]]; then
    mkdir -p bench/.baseline
    git worktree add --detach "$DIR" "$COMMIT" >/dev/null 2>&1
fi
(cd "$DIR" && { swift build -c release >/dev/null 2>&1 || swift build -c release >&2; })
echo "$(cd "$DIR" && swift build -c release --show-bin-path)"
