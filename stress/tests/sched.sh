#!/usr/bin/env bash
# stress/tests/sched.sh — galloc-stress --sched (stress/schedmode.c) under ctest.
#
#   sched.sh find  GALLOC_STRESS WORKDIR STRATEGY PROFILE PLANT   the plant is found: exit 1, a
#        reproducer, the printed replay command reports the same finding 10/10, and the same
#        reproducer replays clean without the plant
#   sched.sh clean GALLOC_STRESS WORKDIR STRATEGY PROFILE          no plant: exit 0, no reproducer
#   sched.sh usage GALLOC_STRESS                                   bad usage exits 2
#   sched.sh nopoints GALLOC_STRESS                                a build without schedule points
#        exits 2 and names the sched preset
# Exit: 0 pass, 1 fail.
set -u
mode=$1 stress=$2
fail() { echo "FAIL: $*"; exit 1; }

case "$mode" in
  find|clean)
    dir=$3 strategy=$4 profile=$5 plant=${6:-}
    rm -rf "$dir"; mkdir -p "$dir"; cd "$dir" || exit 1
    secs=40; [ "$mode" = clean ] && secs=5   # find: deterministic, found in ~2 s, 40 s is the cap
    args=(--sched "$strategy" --profile "$profile" --threads 2 --seed 1 --seconds $secs -q --repro "$dir/repro.mt")
    [ -n "$plant" ] && args+=(--plant "$plant")
    echo "=== galloc-stress ${args[*]}"
    "$stress" "${args[@]}" >out.txt 2>&1
    rc=$?
    cat out.txt
    if [ "$mode" = clean ]; then
      [ "$rc" = 0 ] || fail "expected exit 0 (clean) without a plant, got $rc"
      grep -q "no finding in" out.txt || fail "no 'no finding' summary"
      [ ! -e repro.mt ] || fail "a clean run wrote a reproducer"
      exit 0
    fi
    [ "$rc" = 1 ] || fail "expected exit 1 (a finding) with --plant $plant, got $rc"
    grep -q "FOUND after" out.txt || fail "no FOUND line"
    [ -s repro.mt ] && [ -s repro.mt.bin ] || fail "no reproducer (repro.mt, repro.mt.bin)"
    cmd=$(sed -n 's/^replay: //p' out.txt)
    [ -n "$cmd" ] || fail "no replay command printed"
    case "$cmd" in *"galloc-replay --mt --alloc-plant $plant $dir/repro.mt") ;; *) fail "unexpected replay command: $cmd";; esac
    want=$(grep -A1 '^FINDING: .* in minimized' out.txt | tail -1)
    [ -n "$want" ] || fail "no minimized finding"
    echo "=== $cmd --repeat 10"
    $cmd --repeat 10 >replay.txt 2>&1
    rrc=$?
    cat replay.txt
    [ "$rrc" = 1 ] || fail "the replay command exited $rrc, expected 1 (the finding)"
    grep -q "replayed 10 times: 10 identical" replay.txt || fail "replays not identical"
    grep -qF -- "$want" replay.txt || fail "the replay reports another finding than the search: $want"
    norm=${cmd/ --alloc-plant $plant/}
    echo "=== $norm (no plant)"
    $norm >noplant.txt 2>&1
    nrc=$?
    cat noplant.txt
    [ "$nrc" = 0 ] || fail "the reproducer without the plant exited $nrc, expected 0 (clean)"
    echo "PASS";;
  usage)
    for bad in "--sched" "--sched bogus" "--sched replay" "--sched pct --threads 1" "--sched pct --threads 9" \
               "--sched pct --json x.json" "--sched pct --ops 10" "--sched pct --backend=system" \
               "--sched pct --profile nope" "--sched pct --plant nope" "--sched pct --seconds 0" "--sched pct --frob"; do
      # shellcheck disable=SC2086
      "$stress" $bad >/dev/null 2>err.txt
      rc=$?
      [ "$rc" = 2 ] || fail "galloc-stress $bad: exit $rc, expected 2"
    done
    "$stress" --sched pct --help | grep -q "usage: galloc-stress --sched" || fail "--sched --help"
    echo "PASS";;
  nopoints)
    "$stress" --sched pct --seconds 1 >out.txt 2>&1
    rc=$?
    cat out.txt
    [ "$rc" = 2 ] || fail "without schedule points: exit $rc, expected 2"
    grep -q "sched preset" out.txt || fail "the message does not name the sched preset"
    echo "PASS";;
  *) fail "unknown mode $mode";;
esac
