#!/usr/bin/env bash
# fuzz/bench.sh — executions per second of the fuzz targets.
#   bash fuzz/bench.sh                 standalone drivers (release build, no instrumentation):
#                                      fuzz_ops on synthetic inputs (empty, 1 op, 100 generated
#                                      ops, 100 small-object ops) under several executor
#                                      settings, every target on
#                                      its corpus; wall and CPU time (the machine may be shared)
#   bash fuzz/bench.sh --engines [S]   also S seconds (default 30) of libFuzzer (ASan+UBSan,
#                                      one process) and AFL++ (persistent, one instance) per
#                                      target, from corpora/<target>, new inputs to a scratch dir
#   bash fuzz/bench.sh --ir            instead: instructions per input of fuzz_ops under
#                                      callgrind (load-independent; each set run once, minus a
#                                      process that runs the empty input), default settings
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
engines=0 esecs=30 ir=0
if [ "${1:-}" = --engines ]; then engines=1; esecs=${2:-30}; fi
if [ "${1:-}" = --ir ]; then
  ir=1
  command -v valgrind >/dev/null || { echo "bench.sh --ir: valgrind is not installed" >&2; exit 2; }
fi
cmake --preset release >/dev/null && cmake --build --preset release >/dev/null || exit 2
B=$ROOT/build/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/empty" "$tmp/one" "$tmp/gen100"
: >"$tmp/empty/empty"
# from a file: before 00d1dd3 galloc-replay's mode sniffing ate a pipe's first bytes (the
# "1 op" row then measured an input holding no op); bad_inputs.sh now tests pipes
printf 'galloc-ops 1\nmalloc 24\n' >"$tmp/one.txt"
"$B/galloc-replay" --to-binary -o "$tmp/one/malloc24" "$tmp/one.txt" >/dev/null || exit 2
for s in $(seq 1 20); do
  "$B/galloc-replay" --generate 100 --seed "$s" -o "$tmp/g.txt" && "$B/galloc-replay" --to-binary -o "$tmp/gen100/g$s" "$tmp/g.txt" >/dev/null
done
# 100 ops of small objects only (malloc/calloc up to 1 KiB, frees, reallocs): what a check
# costs when object contents are cheap (bash's RANDOM, seeded: the same set every run)
mkdir -p "$tmp/small100"
for s in $(seq 1 20); do
  RANDOM=$s live=0
  { echo "galloc-ops 1"
    for _ in $(seq 1 100); do
      k=$((RANDOM % 100))
      if ((live > 0 && k < 35)); then echo "free -$((RANDOM % live + 1))"; live=$((live - 1))
      elif ((live > 0 && k < 40)); then echo "realloc -$((RANDOM % live + 1)) $((RANDOM % 1024 + 1))"
      elif ((k < 45)); then echo "calloc $((RANDOM % 64 + 1)) $((RANDOM % 16 + 1))"; live=$((live + 1))
      else echo "malloc $((RANDOM % 1024 + 1))$( ((RANDOM % 2)) && echo ' noscan')"; live=$((live + 1))
      fi
    done; } >"$tmp/s.txt"
  "$B/galloc-replay" --to-binary -o "$tmp/small100/s$s" "$tmp/s.txt" >/dev/null
done
if ((ir)); then
  echo "== fuzz_ops, standalone release build: instructions per input (callgrind Ir)"
  cg() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | sed -nE 's/.*Collected : ([0-9]+)/\1/p'; }
  base=$(cg "$B/fuzz_ops" -q "$tmp/empty")
  irrow() {  # label dir env...
    local label=$1 dir=$2; shift 2
    local n t
    n=$(find "$dir" -type f | wc -l)
    t=$(env "$@" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$B/fuzz_ops" -q "$dir" 2>&1 | sed -nE 's/.*Collected : ([0-9]+)/\1/p')
    printf '  %-44s %s Ir/input\n' "$label" "$(( (t - base) / n ))"
  }
  printf '  %-44s %s Ir (process start, one empty input, exit)\n' "empty-input process" "$base"
  irrow "1 op (malloc 24), over the empty process" "$tmp/one"
  irrow "100 generated ops, default, 64 MiB" "$tmp/gen100"
  irrow "100 generated ops, default, 4 MiB" "$tmp/gen100" GALLOC_FUZZ_BUDGET=4m
  irrow "100 small-object ops, default" "$tmp/small100"
  irrow "100 small-object ops, full check every op" "$tmp/small100" GALLOC_FUZZ_CHECK_EVERY=1
  exit 0
fi
echo "== fuzz_ops, standalone release build (exec/s wall; exec per CPU second)"
row() {  # label dir env...
  local label=$1 dir=$2; shift 2
  local r
  r=$(env "$@" "$B/fuzz_ops" --bench 3 "$dir" 2>&1 | grep '^bench:')
  printf '  %-44s %s\n' "$label" "$(head -1 <<<"$r" | sed -E 's/.*: ([0-9]+) exec\/s, ([0-9]+) exec per CPU second/\1 exec\/s, \2 per CPU-s/')"
  # several inputs: the spread of exec/s per input (the mean is ruled by the slowest)
  grep -q 'per input' <<<"$r" && printf '  %-44s %s\n' "" "$(sed -nE 's/^bench: per input exec\/s: (.*)/\1/p' <<<"$r" | sed -E 's/ \([^)]*\)//')"
  return 0
}
row "empty input (heap create + final check)" "$tmp/empty"
row "1 op (malloc 24)" "$tmp/one"
row "1 op, no glibc side" "$tmp/one" GALLOC_FUZZ_NO_DIFF=1
# fuzz_ops's default: per-op checks of what each op touched, a full check every 128 ops and
# at the end (a full-check finding is located by re-running with a full check after every op)
row "100 generated ops, default (full every 128), 64 MiB" "$tmp/gen100"
row "100 generated ops, full check every op, 64 MiB" "$tmp/gen100" GALLOC_FUZZ_CHECK_EVERY=1
row "100 generated ops, default, 4 MiB" "$tmp/gen100" GALLOC_FUZZ_BUDGET=4m
row "100 generated ops, full check every op, 4 MiB" "$tmp/gen100" GALLOC_FUZZ_BUDGET=4m GALLOC_FUZZ_CHECK_EVERY=1
row "100 generated ops, final check only, 4 MiB" "$tmp/gen100" GALLOC_FUZZ_BUDGET=4m GALLOC_FUZZ_CHECK_EVERY=0
row "100 small-object ops, default (full every 128)" "$tmp/small100"
row "100 small-object ops, full check every op" "$tmp/small100" GALLOC_FUZZ_CHECK_EVERY=1
row "100 small-object ops, full check every 16" "$tmp/small100" GALLOC_FUZZ_CHECK_EVERY=16
row "100 small-object ops, final check only" "$tmp/small100" GALLOC_FUZZ_CHECK_EVERY=0
row "corpora/fuzz_ops, default" "$ROOT/corpora/fuzz_ops"
row "corpora/fuzz_ops, full check every op" "$ROOT/corpora/fuzz_ops" GALLOC_FUZZ_CHECK_EVERY=1
row "corpora/fuzz_ops, 4 MiB budget" "$ROOT/corpora/fuzz_ops" GALLOC_FUZZ_BUDGET=4m
echo "== other targets on their corpora, standalone release build"
for t in fuzz_span fuzz_pagealloc fuzz_text; do
  printf '  %-44s %s\n' "$t" "$("$B/$t" --bench 3 "$ROOT/corpora/$t" 2>&1 | grep -m1 "^bench:" | sed -E 's/.*: ([0-9]+) exec\/s, ([0-9]+) exec per CPU second/\1 exec\/s, \2 per CPU-s/')"
done
echo "  (load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs)"

((engines)) || exit 0
echo "== engines, ${esecs} s each, one process, from corpora/<target>"
cmake --preset fuzz >/dev/null && cmake --build --preset fuzz >/dev/null || exit 2
have_afl=0
if command -v afl-fuzz >/dev/null; then cmake --preset afl >/dev/null && cmake --build --preset afl >/dev/null && have_afl=1; fi
for t in fuzz_ops fuzz_span fuzz_pagealloc fuzz_text; do
  envs=()
  [ "$t" = fuzz_ops ] && envs=(GALLOC_FUZZ_BUDGET=4m)
  mkdir -p "$tmp/lf-$t"
  dict=()
  [ "$t" = fuzz_ops ] && dict=(-dict="$ROOT/fuzz/dict/ops_binary.dict")
  [ "$t" = fuzz_text ] && dict=(-dict="$ROOT/fuzz/dict/ops_text.dict")
  env "${envs[@]}" "$ROOT/build-fuzz/bin/$t.libfuzzer" -max_total_time="$esecs" -max_len=1024 -rss_limit_mb=4096 \
    -malloc_limit_mb=4096 -print_final_stats=1 "${dict[@]}" "$tmp/lf-$t" "$ROOT/corpora/$t" >"$tmp/lf-$t.log" 2>&1
  printf '  libFuzzer %-16s %6s exec/s  %s\n' "$t" "$(awk '/average_exec_per_sec/ {print $2}' "$tmp/lf-$t.log")" \
    "$(grep -m1 -o 'GALLOC-FINDING.*' "$tmp/lf-$t.log" | cut -c1-100)"
  if ((have_afl)); then
    env "${envs[@]}" AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
      afl-fuzz -i "$ROOT/corpora/$t" -o "$tmp/afl-$t" -V "$esecs" -t 20000+ -- "$ROOT/build-afl/bin/$t.afl" >"$tmp/afl-$t.log" 2>&1
    st=$tmp/afl-$t/default/fuzzer_stats
    [ -f "$st" ] && printf '  AFL++     %-16s %6s exec/s  stability %s, crashes %s\n' "$t" \
      "$(awk -F: '/^execs_done/ {e=$2} /^run_time/ {r=$2} END {if (r > 0) printf "%d", e / r}' "$st")" \
      "$(awk -F: '/^stability/ {gsub(/ /,"",$2); print $2}' "$st")" "$(awk -F: '/^saved_crashes/ {gsub(/ /,"",$2); print $2}' "$st")"
  fi
done
echo "  (load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs)"
