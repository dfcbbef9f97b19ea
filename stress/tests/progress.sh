#!/usr/bin/env bash
# stress/tests/progress.sh — ctest stress.progress: proves that a run which does no work
# fails. Each case breaks galloc-stress on purpose with the hidden --test-fault option and
# expects exit 1 with the right finding:
#   floor     mixed, thread 1 idle in the larson phase: invariant phase-floor names the
#             phase and the thread, and the rerun command (with its "not deterministic")
#   checker   the same idle phase with the driver's floor off (--min-rate 0): the run is
#             "clean", and check_json.py must still fail on its JSON report
#   stall     thread 0 idle in churn: the watchdog reports watchdog:stall within a second
#   hang      thread 1 hangs (never parks, never stops) after 1000 ops: the watchdog reports
#             the stop-the-world that never completes with every thread's last ops, and
#             exits 1 itself since the run cannot be stopped — no CI timeout
#
#   progress.sh GALLOC_STRESS WORKDIR            Exit: 0 pass, 1 fail.
set -u
stress=$1 dir=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
# run NAME EXPECTED-EXIT MAX-SECONDS ARGS...: runs galloc-stress, checks exit and time.
run() {
  local name=$1 want=$2 max=$3 t0 t1 rc
  shift 3
  echo "=== $name: galloc-stress $*"
  t0=$(date +%s.%N)
  timeout 60 "$stress" "$@" >"$name.out" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  cat "$name.out"
  [ "$rc" = "$want" ] || fail "$name: expected exit $want, got $rc; reproduce: $stress $*"
  awk -v a="$t0" -v b="$t1" -v m="$max" 'BEGIN { exit !(b - a <= m) }' ||
    fail "$name: took $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s, more than $max s; reproduce: $stress $*"
}
need() { grep -q -E -- "$2" "$1.out" || fail "$1: no line matching '$2' in the output"; }

run floor 1 10 --profile mixed --threads 2 --phase 0.15 --seconds 20 --seed 1 -q --watchdog 0 \
  --test-fault idle:1:larson --json floor.json
need floor 'FINDING: invariant phase-floor'
need floor 'phase 1 \(larson, .*thread 1 did 0 ops, below the floor'
need floor '^  thread:  1, profile larson'
need floor '^  rerun:   .*--test-fault idle:1:larson'
need floor 'NOT deterministic'
grep -q '"result": "finding"' floor.json || fail "floor: the JSON report does not say finding"

run checker 0 10 --profile mixed --threads 2 --phase 0.15 --seconds 0.45 --seed 1 -q --min-rate 0 \
  --test-fault idle:1:larson --json checker.json
py=$(command -v /usr/bin/python3 || command -v python3) || fail "python3 is needed (ci/setup.sh installs it)"
"$py" -S "$here/check_json.py" checker.json >checker-check.out 2>&1
crc=$?
cat checker-check.out
[ "$crc" = 1 ] || fail "checker: check_json.py on a report with an idle phase: expected exit 1, got $crc"
grep -q 'phase 1 (larson.*thread 1 did 0 ops' checker-check.out || fail "checker: check_json.py does not name the idle phase and thread"

run stall 1 10 --profile churn --threads 2 --seconds 30 --seed 1 -q --watchdog 0.5 --min-rate 0 --test-fault idle:0
need stall 'FINDING: invariant watchdog:stall'
need stall 'thread 0 made no progress for'
need stall 'last ops of every thread'
need stall '^  rerun:   .*--watchdog 0.5'

run hang 1 10 --profile churn --threads 2 --seconds 30 --seed 1 -q --watchdog 0.5 --verify-every 0.1 --test-fault block:1
need hang 'FINDING: invariant watchdog:'
need hang 'thread\(s\) 1 \(churn\) never reached the barrier'
need hang 'the run did not stop within'
need hang '^  thread 1 \(last profile churn\), last 12 of'
need hang '^  rerun:   .*--test-fault block:1'
need hang 'NOT deterministic'
echo PASS
