#!/usr/bin/env bash
# stress/tests/plant.sh — proves that galloc-stress catches a planted galloc bug
# (ga_heap_options.plant), writes a reproducer, prints the replay command, and that the
# reproducer is a valid op sequence galloc-replay runs; then, when galloc-replay can switch
# the same plant on, that the replay reports a finding too.
#
#   plant.sh GALLOC_STRESS GALLOC_REPLAY PLANT WORKDIR
#
# Exit: 0 pass, 1 fail, 77 skip (ctest SKIP_RETURN_CODE) when the replay half cannot run
# because galloc-replay has no option for galloc plants.
#
# refill-off-by-one is deterministic (overlapping objects: a header or pattern mismatch,
# and the serialized replay reproduces it). lost-sweep-request is a race between a
# cross-thread free and the owner's sweep of the same span (ga_verify: F2); the stress run
# must catch it, but a serialized replay cannot interleave inside ga_free and a sweep, so
# the replay half is reported, not required.
set -u
stress=$1 replay=$2 plant=$3 dir=$4
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

case "$plant" in
  refill-off-by-one)  args=(--profile churn --threads 2 --seconds 20);;
  lost-sweep-request) args=(--profile larson --threads 2 --seconds 30 --verify-every 0.002);;
  *)                  args=(--profile mixed --threads 2 --seconds 20);;
esac

# A race may need more than one try; each try is a different seed.
rc=0
for seed in 1 2 3; do
  echo "=== galloc-stress ${args[*]} --seed $seed --plant $plant"
  "$stress" "${args[@]}" --seed "$seed" --plant "$plant" -q --repro "$dir/repro.ops" >out.txt 2>&1
  rc=$?
  cat out.txt
  [ "$rc" = 1 ] && break
done
[ "$rc" = 1 ] || fail "expected exit 1 (a finding) with --plant $plant, got $rc"
grep -q "FINDING: invariant" out.txt || fail "no FINDING line"
grep -q "last ops of every thread" out.txt || fail "no per-thread op history"
[ -s repro.ops ] || fail "no reproducer written"
[ "$(head -1 repro.ops)" = "galloc-ops 1" ] || fail "reproducer does not start with 'galloc-ops 1'"
grep -q "^  replay: " out.txt || fail "no replay command printed"
ops=$(grep -vc '^#' repro.ops)
echo "=== reproducer: $ops lines"

# The sequence must parse and run clean: without the plant it is a valid workload, so any
# finding here (exit 1) is a bug of the allocator or the harness, not of the plant.
echo "=== galloc-replay (no plant)"
"$replay" --check-every 1000 repro.ops >replay-clean.txt 2>&1
prc=$?
tail -3 replay-clean.txt
[ "$prc" = 2 ] && fail "galloc-replay cannot read the reproducer (exit 2); reproduce: $replay --check-every 1000 $dir/repro.ops"
[ "$prc" = 0 ] || fail "without the plant the reproducer must replay clean (exit 0), got $prc; reproduce: $replay --check-every 1000 $dir/repro.ops"

# With the plant, when galloc-replay can switch it on.
help=$("$replay" --help 2>&1)
if grep -q -- "--alloc-plant" <<<"$help"; then flag=--alloc-plant
elif grep -q -- "--heap-plant" <<<"$help"; then flag=--heap-plant
elif grep -q -- "$plant" <<<"$help" || grep -q -- "--plant NAME" <<<"$help"; then flag=--plant
else
  if [ "$plant" = lost-sweep-request ]; then   # the replay half is informational for a race
    echo "note: galloc-replay has no option to switch on galloc plants; replay half not run"
    echo "PASS"
    exit 0
  fi
  echo "SKIP (replay half): galloc-replay has no option to switch on galloc plant '$plant'"
  exit 77
fi
echo "=== galloc-replay $flag $plant"
"$replay" --check-every 1000 "$flag" "$plant" repro.ops >replay-plant.txt 2>&1
prc=$?
tail -12 replay-plant.txt
if [ "$plant" = lost-sweep-request ]; then
  if [ "$prc" = 1 ]; then echo "note: the serialized replay reproduced the race's effect"
  else echo "note: lost-sweep-request is a race; the serialized replay did not reproduce it (not required)"; fi
  exit 0
fi
[ "$prc" = 1 ] || fail "galloc-replay $flag $plant on the reproducer: expected a finding (exit 1), got $prc"
echo "PASS"
