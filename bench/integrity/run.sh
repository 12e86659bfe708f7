#!/usr/bin/env bash
# cl-integrity benchmark: scan (cold, warm) against `find | xargs -P2 b2sum` on the same tree,
# pack and apply of 5,000 files, and peak RSS of pack and apply on 1 GiB of files, all measured
# in this one run on a release build. Prints a Markdown report on stdout.
#
#   bench/integrity/run.sh [ROUNDS]        (from the repository root; ROUNDS defaults to 5)
#
# Every timing is the median of ROUNDS runs; baseline and candidate runs are interleaved so that
# load from other processes hits both alike. Scratch trees live in a temporary directory that is
# removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-5}
HERE=bench/integrity
swift build -c release --product cl-integrity >/dev/null 2>&1 || swift build -c release --product cl-integrity
BIN="$(swift build -c release --show-bin-path)/cl-integrity"
[ -x /usr/bin/time ] || { apt-get install -y time >/dev/null 2>&1 || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }; }

WORK=$(mktemp -d /tmp/cl-integrity-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# Wall seconds of one command (stdout discarded).
secs() { /usr/bin/time -f %e -o "$WORK/t" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; return 1; }; cat "$WORK/t"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f%%", 100*a/b}'; }
peak_kib() { /usr/bin/time -f %M -o "$WORK/m" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; return 1; }; cat "$WORK/m"; }

# --- 1. scan: 50,000 small files ------------------------------------------------------------------
R="$WORK/scan"
python3 $HERE/gen_tree.py "$R" --files 50000 --per-group 100
# Files changed within 2 s before a scan are not cached (their timestamps cannot be trusted yet),
# so let the fresh tree settle before the cache is made.
sleep 2
sync
cd "$R"
b2=(); cold=(); warm=(); floor=()
"$BIN" scan --root . --cache "$WORK/cache" >/dev/null      # make the cache once
for _ in $(seq "$ROUNDS"); do
  b2+=("$(secs sh -c 'find etc/shared -type f -print0 | xargs -0 -P2 b2sum')")
  cold+=("$(secs "$BIN" scan --root .)")
  warm+=("$(secs "$BIN" scan --root . --cache "$WORK/cache")")
  floor+=("$(secs find etc/shared -type f -printf '%s %T@ %C@\n')")
done
cd - >/dev/null
B2=$(printf '%s\n' "${b2[@]}" | median)
COLD=$(printf '%s\n' "${cold[@]}" | median)
WARM=$(printf '%s\n' "${warm[@]}" | median)
FLOOR=$(printf '%s\n' "${floor[@]}" | median)
(cd "$R" && "$BIN" scan --root . --cache "$WORK/cache" --stats 2>"$WORK/stats" >/dev/null)
WARMSTATS=$(cat "$WORK/stats")
rm -rf "$R"

# --- 2. pack and apply: 5,000 files -------------------------------------------------------------
M="$WORK/m5k"; W="$WORK/w5k"
python3 $HERE/gen_tree.py "$M" --files 5000 --per-group 100
"$BIN" scan --root "$M" > "$WORK/m5k.json"
echo '{}' > "$WORK/empty.json"
"$BIN" compare --force "$WORK/m5k.json" "$WORK/empty.json" > "$WORK/cls5k.json"
tar -C "$M" -cf "$WORK/m5k.tar" etc
pack=(); apply=(); applyfs=(); untar=()
for _ in $(seq "$ROUNDS"); do
  rm -rf "$W"; mkdir -p "$W"
  untar+=("$(secs tar -C "$W" -xf "$WORK/m5k.tar")")
  pack+=("$(secs sh -c "\"$BIN\" pack --root \"$M\" < \"$WORK/cls5k.json\" > \"$WORK/c5k.bin\"")")
  rm -rf "$W"; mkdir -p "$W"
  apply+=("$(secs sh -c "\"$BIN\" apply --root \"$W\" < \"$WORK/c5k.bin\"")")
  rm -rf "$W"; mkdir -p "$W"
  applyfs+=("$(secs sh -c "\"$BIN\" apply --root \"$W\" --durability fsync < \"$WORK/c5k.bin\"")")
done
"$BIN" check --root "$W" --against "$WORK/m5k.json" >/dev/null
PACK=$(printf '%s\n' "${pack[@]}" | median)
APPLY=$(printf '%s\n' "${apply[@]}" | median)
APPLYFS=$(printf '%s\n' "${applyfs[@]}" | median)
UNTAR=$(printf '%s\n' "${untar[@]}" | median)
C5K=$(stat -c %s "$WORK/c5k.bin")
rm -rf "$M" "$W" "$WORK/c5k.bin"

# --- 3. peak RSS: 1 GiB of files ----------------------------------------------------------------
G="$WORK/g"; GW="$WORK/gw"
python3 $HERE/gen_tree.py "$G" --big-mib 1024
"$BIN" scan --root "$G" > "$WORK/g.json"
"$BIN" compare --force "$WORK/g.json" "$WORK/empty.json" > "$WORK/clsg.json"
PACK_RSS=$(peak_kib sh -c "exec \"$BIN\" pack --root \"$G\" < \"$WORK/clsg.json\" > \"$WORK/g.bin\"")
mkdir -p "$GW"
APPLY_RSS=$(peak_kib sh -c "exec \"$BIN\" apply --root \"$GW\" < \"$WORK/g.bin\"")
"$BIN" check --root "$GW" --against "$WORK/g.json" >/dev/null
GBYTES=$(du -sb "$G/etc" | cut -f1)
GBIN=$(stat -c %s "$WORK/g.bin")
rm -rf "$GW"; mkdir -p "$GW"
PIPE_RSS=$(peak_kib sh -c "\"$BIN\" pack --root \"$G\" < \"$WORK/clsg.json\" | exec \"$BIN\" apply --root \"$GW\"")
SCAN_RSS=$(peak_kib "$BIN" scan --root "$G")

cat <<EOF
Run on $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $ROUNDS rounds (medians), release build, \`bench/integrity/run.sh $ROUNDS\`.

| measurement | time | ratio | goal |
|---|---|---|---|
| \`find etc/shared -type f -print0 \| xargs -0 -P2 b2sum\`, 50,000 files (baseline) | ${B2} s | 1 | |
| cold scan (no cache), same tree | ${COLD} s | $(ratio "$COLD" "$B2") × b2sum | ≤ 1.3 × b2sum |
| warm scan (cache, nothing changed) | ${WARM} s | $(pct "$WARM" "$COLD") of cold | ≤ 10 % of cold |
| stat floor: \`find etc/shared -type f -printf '%s %T@ %C@\n'\` (walk + one stat per file, 1 thread) | ${FLOOR} s | $(pct "$FLOOR" "$COLD") of cold | |
| pack 5,000 files (${C5K}-byte container) | ${PACK} s | | |
| baseline: \`tar -xf\` of the same 5,000 files into an empty root (no sync) | ${UNTAR} s | 1 | |
| apply 5,000 files (\`--durability syncfs\`, the default) | ${APPLY} s | $(ratio "$APPLY" "$UNTAR") × tar | |
| apply 5,000 files (\`--durability fsync\`: fsync per file and directory) | ${APPLYFS} s | $(ratio "$APPLYFS" "$UNTAR") × tar | |

Warm scan counters: \`${WARMSTATS}\`

| peak RSS, ${GBYTES} bytes of files (16 × 64 MiB), ${GBIN}-byte container | KiB | goal |
|---|---|---|
| \`pack\` to a file | ${PACK_RSS} | < 65536 |
| \`apply\` from a file | ${APPLY_RSS} | < 65536 |
| \`apply\` in \`pack \| apply\` | ${PIPE_RSS} | < 65536 |
| \`scan\` (hashing the 1 GiB) | ${SCAN_RSS} | |
EOF
