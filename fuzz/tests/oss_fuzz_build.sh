#!/bin/bash
# fuzz/tests/oss_fuzz_build.sh [CC] — ctest fuzz.oss_fuzz_build (label fuzz): runs
# fuzz/oss-fuzz/build.sh as OSS-Fuzz / ClusterFuzzLite do (CC=clang, OSS-Fuzz's ASan CFLAGS
# with -fsanitize=fuzzer-no-link, LIB_FUZZING_ENGINE=-fsanitize=fuzzer, SRC / WORK / OUT in a
# temporary folder, $SRC/galloc the source tree), then checks $OUT: every target the script
# is expected to build is there with its .options and <t>_seed_corpus.zip, and each one
# runs every file of its seed zip once (libFuzzer with file arguments runs them and
# exits; one "Executed" line per file, exit 0: no finding, no sanitizer report).
# Calls: fuzz/oss-fuzz/build.sh, clang, cmake, ninja, zip, unzip.
# Exit: 0 pass, 1 a failure (printed), 77 clang / ninja / unzip missing (ctest: skipped).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cc=${1:-clang}
for tool in "$cc" cmake ninja zip unzip; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not found"; exit 77; }
done
tmp=$(mktemp -d /tmp/galloc-oss-fuzz.XXXXXX); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src" "$tmp/work" "$tmp/out"
ln -s "$root" "$tmp/src/galloc"
want=(fuzz_ops fuzz_text fuzz_span fuzz_pagealloc fuzz_malloc fuzz_mt)
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

t0=$(date +%s)
env CC="$cc" CXX="${cc/clang/clang++}" \
    CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link" \
    LIB_FUZZING_ENGINE=-fsanitize=fuzzer FUZZING_ENGINE=libfuzzer SANITIZER=address \
    SRC="$tmp/src" WORK="$tmp/work" OUT="$tmp/out" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    bash "$root/fuzz/oss-fuzz/build.sh" >"$tmp/build.log" 2>&1
rc=$?
echo "build.sh: exit $rc in $(( $(date +%s) - t0 )) s"
if [ "$rc" != 0 ]; then
  grep -E 'error|undefined reference' "$tmp/build.log" | head -20
  fail "fuzz/oss-fuzz/build.sh exited $rc (reproduce: see the environment in $0)"
fi

for t in "${want[@]}"; do
  o=$tmp/out
  [ -x "$o/$t" ] || { fail "$t: not built"; continue; }
  [ -s "$o/$t.options" ] || fail "$t: no $t.options"
  [ -s "$o/${t}_seed_corpus.zip" ] || { fail "$t: no ${t}_seed_corpus.zip"; continue; }
  mkdir -p "$tmp/seeds/$t"
  unzip -q -j "$o/${t}_seed_corpus.zip" -d "$tmp/seeds/$t" || { fail "$t: unzip failed"; continue; }
  files=("$tmp/seeds/$t"/*)
  n=${#files[@]}
  ((n > 0)) && [ -f "${files[0]}" ] || { fail "$t: empty seed corpus"; continue; }
  dict=()
  [ -f "$o/$t.dict" ] && dict=(-dict="$o/$t.dict")
  t1=$(date +%s)
  (cd "$tmp" && "$o/$t" "${dict[@]}" -rss_limit_mb=4096 -timeout=60 "${files[@]}") >"$tmp/$t.log" 2>&1
  rc=$?
  ran=$(grep -c '^Executed ' "$tmp/$t.log")
  if [ "$rc" != 0 ]; then
    fail "$t: exit $rc on its seeds:"; grep -E 'GALLOC-FINDING|ERROR|SUMMARY|Running' "$tmp/$t.log" | tail -5
  elif [ "$ran" != "$n" ]; then
    fail "$t: ran $ran of $n seed files"; tail -3 "$tmp/$t.log"
  else
    echo "ok   $t: $n seed file(s) run clean in $(( $(date +%s) - t1 )) s"
  fi
done
# nothing unexpected: every binary in $OUT is one this test runs
for f in "$tmp/out"/*; do
  [ -x "$f" ] && [ -f "$f" ] || continue
  b=$(basename "$f")
  [[ " ${want[*]} " == *" $b "* ]] || fail "$b: built by build.sh but not run by this test (add it to want=)"
done
((fails == 0)) || { echo "$fails failure(s)"; exit 1; }
echo "OSS-Fuzz build: ${#want[@]} targets built and run on their seeds"
