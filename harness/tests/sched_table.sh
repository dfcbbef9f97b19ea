#!/usr/bin/env bash
# harness/tests/sched_table.sh GALLOC_SCHED [SECONDS] [SEEDS] [STRATEGY] — the issue-15 table:
# for each race plant, galloc-sched (controlled scheduler) with seeds 1..SEEDS and a cap of
# SECONDS each; prints plant, seed, found/missed, time and the check. Exit 1 unless every
# plant in PLANTS is found within the cap for at least 90% of the seeds (ctest sched.table,
# nightly). The plants in REPORT_ONLY are searched and reported but not required:
# gc-end-order's window (a free in flight while ga_gc_end stands between its two stores) is
# narrow: by then the other thread is nearly always blocked on the harness's world lock (its
# next non-free op waits for the whole GC op, ~280 schedule points). random and pct missed it
# for 10 of 10 seeds in 60 s, pos found it for 6 of 10 (2026-12-02, loaded machine); a
# hand-written schedule replays it (corpora/regressions/mt/gc-end-order--verifyC2.mt).
set -u
bin=$1 secs=${2:-60} seeds=${3:-10} strategy=${4:-random}
status=0
printf '%-20s %-5s %-7s %-8s %s\n' plant seed result seconds check
for plant in ${PLANTS:-lost-sweep-request cross-cache-free gc-begin-one-pass} ${REPORT_ONLY-gc-end-order}; do
  found=0
  for seed in $(seq 1 "$seeds"); do
    out=$("$bin" --strategy "$strategy" --plant "$plant" --seed "$seed" --seconds "$secs" -q --no-minimize \
          --out "${TMPDIR:-/tmp}/sched-table-$plant-$seed.mt" 2>&1)
    if grep -q FOUND <<<"$out"; then
      t=$(sed -n 's/.*FOUND after \([0-9.]*\) s.*/\1/p' <<<"$out")
      c=$(sed -n 's/^FINDING: check \([a-z]* *[A-Z0-9]*\) in.*/\1/p' <<<"$out" | head -1)
      found=$((found + 1))
      printf '%-20s %-5s %-7s %-8s %s\n' "$plant" "$seed" found "$t" "$c"
    else
      printf '%-20s %-5s %-7s %-8s %s\n' "$plant" "$seed" missed ">$secs" "-"
    fi
  done
  echo "$plant: found for $found of $seeds seeds (cap ${secs} s, strategy $strategy)"
  case " ${REPORT_ONLY-gc-end-order} " in *" $plant "*) continue;; esac
  [ $((found * 10)) -ge $((seeds * 9)) ] || status=1
done
exit $status
