#!/usr/bin/env bash
# stress/tests/free_table.sh GALLOC_STRESS [SECONDS] [SEEDS] — the free-running half of the
# issue-15 comparison: for each race plant, release galloc-stress (real threads, no --sched)
# with seeds 1..SEEDS and SECONDS each, the controlled scheduler's budget in
# harness/tests/sched_table.sh; prints plant, seed, found/missed, the time the driver reports
# ("after X s": the finding's time into the run, at 10 ms resolution), the run's wall time
# (start-up and the report included) and the check. Informational: always
# exits 0 (stress/README.md has the table beside the controlled scheduler's).
# Settings are the ones that give free-running its best chance: 2 threads (one per core),
# verification as often as it goes (VERIFY_EVERY, default 0.0005 s: ~800 stop-the-world
# verifications per second; at 0.002 lost-sweep-request was found for 5 of 10 seeds, at
# 0.0005 for 10 of 10), the profile that does what the race needs — larson (~95% of
# frees are of another thread's object) for lost-sweep-request and cross-cache-free, gc with a
# GC cycle every GC_EVERY s (default 0.0005) for gc-begin-one-pass (which free-running
# cannot find at all: galloc-stress runs every GC cycle with the world stopped, so no free
# from another thread ever lands between ga_gc_begin's two sweep passes). PROFILE_<plant>
# (dashes as underscores) and EXTRA (more options) override them.
set -u
bin=$1 secs=${2:-60} seeds=${3:-10}
out=${TMPDIR:-/tmp}/free-table.$$
mkdir -p "$out"
printf '%-20s %-9s %-5s %-7s %-8s %-7s %s\n' plant profile seed result seconds wall check
for plant in ${PLANTS:-lost-sweep-request cross-cache-free gc-begin-one-pass}; do
  v=PROFILE_${plant//-/_}
  case $plant in gc-begin-one-pass|gc-end-order) def=gc;; *) def=larson;; esac
  prof=${!v:-$def}
  found=0
  for seed in $(seq 1 "$seeds"); do
    f=$out/$plant-$seed
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$bin" --profile "$prof" --plant "$plant" --threads 2 --seed "$seed" --seconds "$secs" \
      --verify-every "${VERIFY_EVERY:-0.0005}" --gc-every "${GC_EVERY:-0.0005}" --progress 600 -q --repro "$f.ops" ${EXTRA:-} >"$f.out" 2>&1
    rc=$?
    wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    if [ "$rc" = 1 ] && grep -q 'FINDING' "$f.out"; then
      t=$(sed -n 's/.* after \([0-9.]*\) s .*/\1/p' "$f.out" | head -1)
      c=$(grep -m1 -o 'FINDING: [^ ]* [^ ]*' "$f.out" | sed 's/FINDING: //')
      found=$((found + 1))
      printf '%-20s %-9s %-5s %-7s %-8s %-7s %s\n' "$plant" "$prof" "$seed" found "${t:-?}" "$wall" "$c"
    else
      printf '%-20s %-9s %-5s %-7s %-8s %-7s %s\n' "$plant" "$prof" "$seed" missed ">$secs" "$wall" "(exit $rc)"
    fi
  done
  echo "$plant: found for $found of $seeds seeds (free-running, profile $prof, $secs s each, verify every ${VERIFY_EVERY:-0.0005} s)"
done
exit 0
