#!/usr/bin/env bash
# fuzz/coverage.sh — how much of alloc/ the corpora reach: builds build-cov/ (clang,
# -fprofile-instr-generate -fcoverage-mapping), replays corpora/ with the four standalone
# drivers (fuzz_ops also gets corpora/seeds/ops), and prints
#   - llvm-cov's per-file summary (regions, functions, lines, branches) for alloc/*.c,
#   - the alloc/ functions no input ever entered, per file,
#   - which target reached what (line coverage of alloc/ per target).
# Usage: bash fuzz/coverage.sh [--html DIR] [--only TARGET] [EXTRA_CORPUS_DIR...]
#   EXTRA_CORPUS_DIR: e.g. a campaign's fuzz/out/<run>/corpus, replayed by the --only target
#   (default fuzz_ops). Exit 0 unless the build or a tool fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
html="" only="" extra=()
while (($#)); do
  case "$1" in
    --html) html=$2; shift 2;;
    --only) only=$2; shift 2;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) extra+=("$1"); shift;;
  esac
done
LLVM_PROFDATA=$(command -v llvm-profdata || command -v llvm-profdata-14)
LLVM_COV=$(command -v llvm-cov || command -v llvm-cov-14)
B=$ROOT/build-cov
targets=(fuzz_ops fuzz_span fuzz_pagealloc fuzz_text)
[ -n "$only" ] && targets=("$only")

echo "coverage: building $B (clang, source-based coverage)"
cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS_RELEASE="-O1 -g" -DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping" \
  -DCMAKE_EXE_LINKER_FLAGS="-fprofile-instr-generate" >/dev/null
cmake --build "$B" --target "${targets[@]}" >/dev/null

rm -rf "$B/prof"
mkdir -p "$B/prof"
for t in "${targets[@]}"; do
  dirs=("$ROOT/corpora/$t" "$ROOT/corpora/regressions/$t")
  [ "$t" = fuzz_ops ] && dirs+=("$ROOT/corpora/seeds/ops")
  if ((${#extra[@]})) && { [ -n "$only" ] || [ "$t" = fuzz_ops ]; }; then dirs+=("${extra[@]}"); fi
  n=$( (find "${dirs[@]}" -type f ! -name '*.md' ! -name '.*' 2>/dev/null || true) | wc -l)
  printf 'coverage: replaying %4d inputs with %s\n' "$n" "$t"
  LLVM_PROFILE_FILE="$B/prof/$t-%p.profraw" "$B/bin/$t" -q --missing-ok "${dirs[@]}" >/dev/null 2>"$B/prof/$t.err" ||
    echo "coverage: warning: $t stopped early (a finding?): $(grep -m1 GALLOC-FINDING "$B/prof/$t.err" | cut -c1-200)"
  "$LLVM_PROFDATA" merge -sparse "$B/prof/$t"-*.profraw -o "$B/prof/$t.profdata"
done
"$LLVM_PROFDATA" merge -sparse "$B"/prof/*.profdata -o "$B/prof/all.profdata"

objs=()
for t in "${targets[@]}"; do objs+=(-object "$B/bin/$t"); done
mapfile -t srcs < <(ls "$ROOT"/alloc/*.c | grep -v '/malloc\.c$')
echo
echo "== alloc/ coverage by the corpora (all targets together)"
"$LLVM_COV" report "${objs[@]:1}" -instr-profile="$B/prof/all.profdata" "${srcs[@]}" | sed "s|$ROOT/||"

echo
echo "== alloc/ functions never entered"
"$LLVM_COV" export "${objs[@]:1}" -instr-profile="$B/prof/all.profdata" "${srcs[@]}" >"$B/prof/export.json"
python3 - "$B/prof/export.json" "$ROOT" <<'EOF'
import json, sys, collections
data = json.load(open(sys.argv[1]))
root = sys.argv[2] + "/"
seen, miss = {}, collections.defaultdict(list)
for d in data["data"]:
    for fn in d["functions"]:
        home = fn["filenames"][0]          # the file holding the definition
        if not home.startswith(root + "alloc/"):
            continue
        name = fn["name"].split(":")[-1]
        key = (home, name)
        seen[key] = seen.get(key, 0) + fn["count"]
for (f, name), c in sorted(seen.items()):
    if c == 0:
        miss[f.replace(root, "")].append(name)
total = len(seen)
n = sum(len(v) for v in miss.values())
print(f"{n} of {total} functions in alloc/*.c never entered")
for f in sorted(miss):
    print(f"  {f}: {', '.join(sorted(set(miss[f])))}")
EOF

echo
echo "== line coverage of alloc/ per target"
for t in "${targets[@]}"; do
  "$LLVM_COV" report "$B/bin/$t" -instr-profile="$B/prof/$t.profdata" "${srcs[@]}" | awk -v t="$t" '/^TOTAL/ {printf "  %-16s lines %s  functions %s  branches %s\n", t, $10, $7, $13}'
done
if [ -n "$html" ]; then
  "$LLVM_COV" show "${objs[@]:1}" -instr-profile="$B/prof/all.profdata" -format=html -output-dir="$html" "${srcs[@]}"
  echo "coverage: HTML report in $html/index.html"
fi
