#!/usr/bin/env bash
# cl-integrity apply on both cores against the previous build's apply, `apply --threads 1` and
# `tar -xf` + `sync -f` of the same files, on a container of 20,000 small files, measured in this
# one run on a release build; then peak RSS of apply for 20,000 and 100,000 files. Prints a
# Markdown report.
#
#   APPLY_BEFORE=/path/to/previous/cl-integrity bench/integrity/apply.sh [ROUNDS]
#                                        (from the repository root; ROUNDS defaults to 7)
#
# Two trees: random bytes (gen_tree.py's default) and configuration text (gen_tree.py --text).
# The container is the master's scan compared with an empty worker snapshot, packed: every file
# is 'missing', so an apply creates all of them, as on a new worker. Each timed run applies it
# to a fresh, empty worker root of its own, with the default durability (syncfs); the floor is
# `tar -xf` of the same files into a fresh root followed by `sync -f` (one syncfs), that is the
# creating and flushing alone. Every timing is the median of ROUNDS runs; the variants are
# interleaved so that load from other processes hits them alike, and `sync` runs (untimed)
# before each, so that no run flushes what the one before it wrote. Nothing is removed before
# the end: ext4 skips inodes freed in the last minutes when it allocates new ones, at a cost
# that grows with how many were freed, so removing a tree would slow whatever runs next. That
# takes room: about 8 GB in $TMPDIR (default /tmp) for 7 rounds.
#
# Every result is checked: each variant's tree against the master's snapshot (`check`), and the
# reports of all variants against each other. Without APPLY_BEFORE, the previous build is not
# timed (bench/build-baseline.sh REV builds one).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-7}
FILES=${FILES:-20000}
BIG=${BIG_FILES:-100000}
HERE=bench/integrity
swift build -c release --product cl-integrity >/dev/null 2>&1 || swift build -c release --product cl-integrity
BIN="$(swift build -c release --show-bin-path)/cl-integrity"
BEFORE=${APPLY_BEFORE:-}
[ -x /usr/bin/time ] || { apt-get install -y time >/dev/null 2>&1 || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cl-integrity-apply.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Wall seconds of one command (stdout discarded).
secs() { /usr/bin/time -f %e -o "$WORK/t" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; return 1; }; cat "$WORK/t"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
peak_kib() { /usr/bin/time -f %M -o "$WORK/m" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; return 1; }; cat "$WORK/m"; }

# Makes a tree of $2 files ($3: --text or nothing) at $1, its snapshot $1.json and container $1.bin.
make_container() {
  python3 $HERE/gen_tree.py "$1" --files "$2" --per-group 100 $3
  "$BIN" scan --root "$1" > "$1.json"
  "$BIN" compare --force "$1.json" <(echo '{}') > "$1.cls"
  "$BIN" pack --root "$1" < "$1.cls" > "$1.bin"
}

# Applies container $2 to a fresh root $3 with command $1 (a cl-integrity and its options), timed.
run_apply() {
  mkdir "$3"; sync
  secs sh -c "exec $1 --root \"$3\" < \"$2\""
}

ROWS=""
for kind in random text; do
  M="$WORK/$kind"
  make_container "$M" "$FILES" "$([ "$kind" = text ] && echo --text)"
  tar -C "$M" -cf "$M.tar" etc
  BYTES=$(stat -c %s "$M.bin"); RAW=$(du -sb "$M/etc" | cut -f1)
  # Checked once: every variant makes the master's tree, and the same report.
  variants=("$BIN apply" "$BIN apply --threads 1")
  [ -z "$BEFORE" ] || variants+=("$BEFORE apply")
  n=0
  for v in "${variants[@]}"; do
    n=$((n + 1)); R="$M-check$n"; mkdir "$R"
    sh -c "exec $v --root \"$R\" < \"$M.bin\"" > "$R.report"
    "$BIN" check --root "$R" --against "$M.json" >/dev/null
    cmp "$M-check1.report" "$R.report"
  done
  tarx=(); cur=(); one=(); before=()
  for r in $(seq "$ROUNDS"); do
    tarx+=("$(mkdir "$M-t$r"; sync; secs sh -c "tar -C \"$M-t$r\" -xf \"$M.tar\" && sync -f \"$M-t$r\"")")
    cur+=("$(run_apply "$BIN apply" "$M.bin" "$M-a$r")")
    one+=("$(run_apply "$BIN apply --threads 1" "$M.bin" "$M-o$r")")
    [ -z "$BEFORE" ] || before+=("$(run_apply "$BEFORE apply" "$M.bin" "$M-b$r")")
  done
  TARX=$(printf '%s\n' "${tarx[@]}" | median)
  CUR=$(printf '%s\n' "${cur[@]}" | median)
  ONE=$(printf '%s\n' "${one[@]}" | median)
  if [ -n "$BEFORE" ]; then
    BEF=$(printf '%s\n' "${before[@]}" | median)
    ROWS+="| $kind: previous build's \`apply\` (APPLY_BEFORE), ${BYTES}-byte container, $RAW bytes of files | ${BEF} s | 1 | |
| $kind: \`cl-integrity apply\` ($(nproc) threads) | ${CUR} s | $(ratio "$CUR" "$BEF") × previous | ≤ 0.8 × previous |
| $kind: \`cl-integrity apply --threads 1\` | ${ONE} s | $(ratio "$ONE" "$BEF") × previous | |
| $kind: floor: \`tar -xf\` of the same files + \`sync -f\` | ${TARX} s | $(ratio "$TARX" "$BEF") × previous | |
"
  else
    ROWS+="| $kind: \`cl-integrity apply\` ($(nproc) threads), ${BYTES}-byte container, $RAW bytes of files | ${CUR} s | $(ratio "$CUR" "$TARX") × floor | |
| $kind: \`cl-integrity apply --threads 1\` | ${ONE} s | $(ratio "$ONE" "$TARX") × floor | |
| $kind: floor: \`tar -xf\` of the same files + \`sync -f\` | ${TARX} s | 1 | |
"
  fi
done

# Peak RSS: the same kind of container with FILES and BIG files; the metadata grows with them.
MEM=""
for n in "$FILES" "$BIG"; do
  M="$WORK/mem$n"
  make_container "$M" "$n" --text
  META=$(stat -c %s "$M.cls")
  CUR=$(mkdir "$M-a"; peak_kib sh -c "exec \"$BIN\" apply --root \"$M-a\" < \"$M.bin\"")
  "$BIN" check --root "$M-a" --against "$M.json" >/dev/null
  ROW="| $n files, $(stat -c %s "$M.bin")-byte container, ${META}-byte metadata | $CUR KiB"
  if [ -n "$BEFORE" ]; then
    BEF=$(mkdir "$M-b"; peak_kib sh -c "exec \"$BEFORE\" apply --root \"$M-b\" < \"$M.bin\"")
    ROW+=" | $BEF KiB"
  fi
  MEM+="$ROW |
"
done

MEMHEAD="| peak RSS of \`apply\` (text files) | current |"; MEMRULE="|---|---|"
if [ -n "$BEFORE" ]; then MEMHEAD+=" previous build |"; MEMRULE+="---|"; fi

cat <<EOF2
Run on $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $ROUNDS rounds (medians), release build, $FILES files per tree, \`bench/integrity/apply.sh $ROUNDS\`.

| measurement | time | ratio | goal |
|---|---|---|---|
${ROWS}
$MEMHEAD
$MEMRULE
${MEM}
EOF2
