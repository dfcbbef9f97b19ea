#!/usr/bin/env bash
# ci/test.sh — the per-push test run (README's test command; .ci/run calls it).
# Builds the release and asan (ASan+UBSan) presets with -Werror and runs every ctest
# test in both. Exits non-zero on any failure. Budget: well under 20 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
jobs=$(nproc)
for preset in release asan; do
  echo "=== build: $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
done
status=0
for preset in release asan; do
  echo "=== test: $preset"
  # label "nightly": long or probabilistic tests (races) that belong to ci/nightly.sh
  ctest --preset "$preset" -j "$jobs" --timeout 900 --no-tests=error -LE nightly || status=1
done
exit $status
