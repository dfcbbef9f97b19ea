#!/usr/bin/env bash
# ci/fuzz-smoke.sh — the fuzzing smoke job (a few minutes on 2 cores):
#   1. preset fuzz (clang, libFuzzer + ASan + UBSan): build, replay every corpus and
#      regression input with the libFuzzer binaries (-runs=0: regression mode), then
#      `ctest -L fuzz` (each target fuzzes 15 s from its corpus);
#   2. with --afl: preset afl, 20 s of AFL++ per target (persistent mode; a crash fails the job);
#   3. with --campaign: a short planted-bug campaign (libFuzzer, fuzz_ops, refill-off-by-one,
#      --until-crash, --fresh, --no-store, 3 minutes at most) that must find the plant.
# The per-push suite (ci/test.sh) already replays corpora/ with the standalone drivers
# (ctest label corpus, release and asan builds); this job adds the engines.
set -euo pipefail
cd "$(dirname "$0")/.."
afl=0 campaign=0
for a in "$@"; do
  case "$a" in
    --afl) afl=1;;
    --campaign) campaign=1;;
    *) echo "usage: ci/fuzz-smoke.sh [--afl] [--campaign]" >&2; exit 2;;
  esac
done
bash ci/setup.sh
jobs=$(nproc)
echo "=== build: fuzz"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"
status=0
echo "=== libFuzzer regression mode over corpora/"
for t in fuzz_ops fuzz_span fuzz_pagealloc fuzz_text; do
  dirs=()
  for d in corpora/$t corpora/regressions/$t; do [ -d "$d" ] && dirs+=("$d"); done
  [ "$t" = fuzz_ops ] && dirs+=(corpora/seeds/ops)
  if ((${#dirs[@]})); then
    if build-fuzz/bin/$t.libfuzzer -runs=0 -rss_limit_mb=4096 -malloc_limit_mb=4096 "${dirs[@]}" >/tmp/fuzz-smoke-$t.log 2>&1; then
      echo "ok   $t: $(grep -c '' /tmp/fuzz-smoke-$t.log) log lines, $(grep -o 'Done [0-9]* runs' /tmp/fuzz-smoke-$t.log)"
    else
      echo "FAIL $t:"; grep -m3 -E 'GALLOC-FINDING|ERROR|SUMMARY' /tmp/fuzz-smoke-$t.log || tail -5 /tmp/fuzz-smoke-$t.log
      status=1
    fi
  fi
done
echo "=== ctest -L fuzz (15 s per target)"
ctest --test-dir build-fuzz -L fuzz --output-on-failure -j "$jobs" || status=1

if ((afl)); then
  echo "=== build: afl"
  cmake --preset afl >/dev/null
  cmake --build --preset afl -j "$jobs"
  export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_FAST_CAL=1 AFL_NO_AFFINITY=1
  for t in fuzz_ops fuzz_span fuzz_pagealloc fuzz_text; do
    o=$(mktemp -d)
    env GALLOC_FUZZ_BUDGET=4m afl-fuzz -i corpora/$t -o "$o" -V 20 -t 20000+ -- build-afl/bin/$t.afl >"$o/log" 2>&1 || true
    st=$o/default/fuzzer_stats
    if [ -f "$st" ]; then
      c=$(awk -F: '/^saved_crashes/ {gsub(/ /,"",$2); print $2}' "$st")
      echo "afl  $t: $(awk -F: '/^execs_per_sec|^stability|^corpus_count/ {gsub(/ /,"",$2); printf "%s=%s ", $1, $2}' "$st")crashes=$c"
      [ "${c:-0}" = 0 ] || { echo "FAIL $t: AFL++ crash in $o/default/crashes"; status=1; }
    else
      echo "FAIL $t: afl-fuzz did not start"; tail -5 "$o/log"; status=1
    fi
  done
fi

if ((campaign)); then
  echo "=== planted-bug campaign (must find refill-off-by-one)"
  out=$(mktemp -d)
  bash fuzz/campaign.sh --engine libfuzzer --target fuzz_ops --plant refill-off-by-one --until-crash --fresh \
    --minutes 3 --no-merge --no-store --out "$out/run" | tee "$out/log" | tail -4
  grep -q "plant refill-off-by-one: FOUND" "$out/log" || { echo "FAIL: the plant was not found"; status=1; }
fi
exit $status
