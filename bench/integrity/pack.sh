#!/usr/bin/env bash
# cl-integrity pack on both cores against `tar cf - FILES | gzip -1` of the same files, on a tree
# of 20,000 small files, measured in this one run on a release build. Prints a Markdown report.
#
#   bench/integrity/pack.sh [ROUNDS]        (from the repository root; ROUNDS defaults to 7)
#
# Two trees: random bytes (incompressible, gen_tree.py's default) and configuration text
# (gen_tree.py --text). The classification packed is the master's scan compared with an empty
# worker snapshot, so every file is 'missing' and goes into the container; only the pack step is
# timed. Every timing is the median of ROUNDS runs; baseline and candidate runs are interleaved so
# that load from other processes hits both alike, and every tree is read once before timing so
# that both sides read from the page cache. `pack --threads 1` (the single-thread writer, same
# bytes) is timed alongside. With PACK_BEFORE=/path/to/cl-integrity, another build's pack is
# timed too (say, one built from the commit before this change).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-7}
FILES=${FILES:-20000}
HERE=bench/integrity
swift build -c release --product cl-integrity >/dev/null 2>&1 || swift build -c release --product cl-integrity
BIN="$(swift build -c release --show-bin-path)/cl-integrity"
BEFORE=${PACK_BEFORE:-}
[ -x /usr/bin/time ] || { apt-get install -y time >/dev/null 2>&1 || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }; }

WORK=$(mktemp -d /tmp/cl-integrity-pack.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# Wall seconds of one command (stdout discarded).
secs() { /usr/bin/time -f %e -o "$WORK/t" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; return 1; }; cat "$WORK/t"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

ROWS=""
for kind in random text; do
  T="$WORK/$kind"
  if [ "$kind" = text ]; then python3 $HERE/gen_tree.py "$T" --files "$FILES" --per-group 100 --text
  else python3 $HERE/gen_tree.py "$T" --files "$FILES" --per-group 100; fi
  "$BIN" scan --root "$T" | "$BIN" compare --force - <(echo '{}') > "$WORK/$kind.cls"
  # The container must be the single-thread one, byte for byte (and a previous build's, if given).
  "$BIN" pack --root "$T" --threads 1 < "$WORK/$kind.cls" > "$WORK/one.bin"
  "$BIN" pack --root "$T" < "$WORK/$kind.cls" > "$WORK/all.bin"
  cmp "$WORK/one.bin" "$WORK/all.bin"
  [ -z "$BEFORE" ] || { "$BEFORE" pack --root "$T" < "$WORK/$kind.cls" > "$WORK/before.bin"; cmp "$WORK/before.bin" "$WORK/all.bin"; }
  BYTES=$(stat -c %s "$WORK/all.bin"); RAW=$(du -sb "$T/etc" | cut -f1)
  rm -f "$WORK"/*.bin
  tar -C "$T" -cf - etc | gzip -1 >/dev/null
  tgz=(); pack=(); one=(); before=()
  for _ in $(seq "$ROUNDS"); do
    tgz+=("$(secs sh -c "tar -C \"$T\" -cf - etc | gzip -1")")
    pack+=("$(secs sh -c "exec \"$BIN\" pack --root \"$T\" < \"$WORK/$kind.cls\"")")
    one+=("$(secs sh -c "exec \"$BIN\" pack --root \"$T\" --threads 1 < \"$WORK/$kind.cls\"")")
    [ -z "$BEFORE" ] || before+=("$(secs sh -c "exec \"$BEFORE\" pack --root \"$T\" < \"$WORK/$kind.cls\"")")
  done
  TGZ=$(printf '%s\n' "${tgz[@]}" | median)
  PACK=$(printf '%s\n' "${pack[@]}" | median)
  ONE=$(printf '%s\n' "${one[@]}" | median)
  ROWS+="| $kind: \`tar cf - etc \\| gzip -1\` (baseline), $RAW bytes | ${TGZ} s | 1 | |
| $kind: \`cl-integrity pack\` ($(nproc) threads), ${BYTES}-byte container | ${PACK} s | $(ratio "$PACK" "$TGZ") × tar+gzip | ≤ 0.6 × tar+gzip |
| $kind: \`cl-integrity pack --threads 1\` (same bytes) | ${ONE} s | $(ratio "$ONE" "$TGZ") × tar+gzip | |
"
  if [ -n "$BEFORE" ]; then
    BEF=$(printf '%s\n' "${before[@]}" | median)
    ROWS+="| $kind: previous build's pack (PACK_BEFORE, same bytes) | ${BEF} s | $(ratio "$BEF" "$TGZ") × tar+gzip | |
"
  fi
  rm -rf "$T"
done

cat <<EOF2
Run on $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $ROUNDS rounds (medians), release build, $FILES files per tree, \`bench/integrity/pack.sh $ROUNDS\`.

| measurement | time | ratio | goal |
|---|---|---|---|
${ROWS}
EOF2
