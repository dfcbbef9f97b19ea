#!/usr/bin/env bash
# ci/test.sh — the per-push test run (README's test command; .ci/run calls it).
# Builds the release and asan (ASan+UBSan) presets with -Werror and runs every ctest
# test in both; then the sched preset (schedule points on, issue 15: only the targets its
# tests need, galloc-stress for stress.sched.*) and its tests (ctest -L sched, under a minute);
# then the same targets and tests in the sched-tsan preset (the controlled scheduler under
# TSan, a report fails the test: ~1 min build + ~40 s tests on 2 cores; the 100-process
# replays are in the nightly, ci/nightly.sh sched-tsan.replays).
# Exits non-zero on any failure.
# Budget: well under 20 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
jobs=$(nproc)
for preset in release asan; do
  echo "=== build: $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
done
echo "=== build: sched"
cmake --preset sched >/dev/null
cmake --build --preset sched -j "$jobs" --target galloc-replay galloc-sched galloc-stress fuzz_mt sched.unit
echo "=== build: sched-tsan"
cmake --preset sched-tsan >/dev/null
cmake --build --preset sched-tsan -j "$jobs" --target galloc-replay galloc-sched galloc-stress fuzz_mt sched.unit
status=0
echo "=== test: sched"
ctest --preset sched -j "$jobs" --timeout 300 --no-tests=error -L sched -LE nightly || status=1
echo "=== test: sched-tsan"
TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
  ctest --preset sched-tsan -j "$jobs" --timeout 300 --no-tests=error -L sched -LE nightly || status=1
for preset in release asan; do
  echo "=== test: $preset"
  # label "nightly": long or probabilistic tests (races) that belong to ci/nightly.sh
  ctest --preset "$preset" -j "$jobs" --timeout 900 --no-tests=error -LE nightly || status=1
done
exit $status
