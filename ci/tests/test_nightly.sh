#!/usr/bin/env bash
# ci/tests/test_nightly.sh — the nightly runner itself, in seconds, without building
# anything: `nightly.sh --selftest` runs synthetic stages that pass, fail, skip and time
# out; the run must go on after each, record every one, exit 1 and write the report. Then
# an interrupted run (SIGTERM) must stop the running stage, skip the rest, still write the
# report and exit 130; --list must name every real stage; bad usage must exit 2.
# Writes only to a temporary directory.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NIGHTLY=$HERE/../nightly.sh
fail() { echo "FAIL: $*"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
status() { cat "$1/stages/$2/status" 2>/dev/null; }

echo "=== --selftest"
bash "$NIGHTLY" --selftest --out "$T/self" --history "$T/history.jsonl" >"$T/self.txt" 2>&1
rc=$?
cat "$T/self.txt"
[ $rc = 1 ] || fail "--selftest: expected exit 1 (one stage fails on purpose), got $rc"
for s in self.pass:pass self.fail:fail self.skip:skip self.timeout:fail self.after:pass; do
  [ "$(status "$T/self" "${s%%:*}")" = "${s#*:}" ] || fail "${s%%:*}: status $(status "$T/self" "${s%%:*}"), expected ${s#*:}"
done
grep -q "timed out after 2 s" "$T/self/stages/self.timeout/reason" || fail "the timeout is not the recorded reason"
grep -q "skipped on purpose" "$T/self/stages/self.skip/reason" || fail "the skip reason is not recorded"
for f in report.html summary.md junit.xml stages/self.fail/log.txt stages/self.pass/result.json; do
  [ -s "$T/self/$f" ] || fail "$f not written"
done
[ ! -e "$T/history.jsonl" ] || fail "--selftest must not touch the history"
grep -q "5 stages: 2 passed, 2 failed, 1 skipped" "$T/self.txt" || fail "stage table summary line"
python3 -c "
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
s = r.find('testsuite')
assert (s.get('tests'), s.get('failures'), s.get('skipped')) == ('5', '2', '1'), s.attrib
" "$T/self/junit.xml" || fail "junit.xml counts"

echo "=== --selftest --only"
bash "$NIGHTLY" --selftest --only 'self.pass,self.sk*' --out "$T/only" >"$T/only.txt" 2>&1 || fail "--only: expected exit 0"
ran=$(cd "$T/only/stages" && echo *)
[ "$ran" = "self.pass self.skip" ] || fail "--only ran: $ran"

echo "=== interrupted run"
NIGHTLY_SELFTEST_LIMIT=120 bash "$NIGHTLY" --selftest --out "$T/int" >"$T/int.txt" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  [ -e "$T/int/stages/self.timeout/log.txt" ] && break
  sleep 0.1
done
sleep 0.5
kill -TERM $pid
wait $pid
rc=$?
cat "$T/int.txt"
[ $rc = 130 ] || fail "interrupted run: expected exit 130, got $rc"
[ "$(status "$T/int" self.timeout)" = fail ] || fail "the interrupted stage is not failed"
[ "$(status "$T/int" self.after)" = skip ] || fail "the stage after the interruption is not skipped"
[ -s "$T/int/report.html" ] || fail "no report after the interruption"
spid=$(cat "$T/int/stages/self.timeout/sleep.pid" 2>/dev/null)
[ -n "$spid" ] || fail "the hanging stage did not start"
# Gone, or a zombie: the killed process's parent died with it, and a container's PID 1
# need not reap orphans (seen: a zombie that kill -0 still finds).
alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
for _ in $(seq 1 50); do alive "$spid" || break; sleep 0.1; done
! alive "$spid" || fail "the interrupted stage's process $spid survived"

echo "=== --list"
bash "$NIGHTLY" --list --budget 20 --out "$T/list" >"$T/list.txt" 2>&1 || fail "--list: exit $?"
cat "$T/list.txt"
for s in setup build.release test.release build.debug test.debug build.asan test.asan build.tsan test.tsan \
         build.valgrind test.valgrind stress.churn stress.mixed asan.stress asan.uaf-plant tsan.stress \
         valgrind.replay valgrind.stress valgrind.preload valgrind.uaf-plant build.fuzz build.afl \
         fuzz.libfuzzer.fuzz_ops fuzz.afl.fuzz_text build.coverage coverage coverage.fuzz regressions; do
  grep -q "^  $s " "$T/list.txt" || fail "--list lacks $s"
done
[ ! -e "$T/list" ] || fail "--list wrote $T/list"

echo "=== usage errors"
for args in "--budget x" "--budget 0" "--bogus" "--branch main" "--jobs 0"; do
  # shellcheck disable=SC2086
  bash "$NIGHTLY" $args --out "$T/usage" >/dev/null 2>&1
  rc=$?
  [ $rc = 2 ] || fail "'$args': expected exit 2, got $rc"
done
echo "PASS"
