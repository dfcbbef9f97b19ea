#!/usr/bin/env bash
# ci/main.sh — the main job: set up, build, and run the default stress-and-check
# campaign, then print a summary. `bash ci/main.sh [--minutes N]` (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=2
while (($#)); do
  case "$1" in
    --minutes) minutes="${2:-}"; shift $(( $# > 1 ? 2 : 1 ))
               [[ "$minutes" =~ ^[1-9][0-9]*$ ]] || { echo "ci/main.sh: --minutes wants a positive whole number" >&2; exit 2; };;
    *) echo "usage: ci/main.sh [--minutes N]" >&2; exit 2;;
  esac
done
bash ci/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
echo "=== unit and corpus tests (smoke)"
ctest --preset release -L smoke -j "$(nproc)"
if [ -x build/bin/galloc-stress ]; then
  echo "=== stress: mixed profile, 2 threads, ${minutes} min"
  # exit 1 on a finding, an idle phase (the floor) or a stalled thread (the watchdog);
  # then the JSON report must show work in every phase of every profile (issue 13)
  build/bin/galloc-stress --profile mixed --threads 2 --seconds $((minutes * 60)) --seed 1 --json build/stress-main.json
  python3 stress/tests/check_json.py build/stress-main.json --all-profiles \
    --command "build/bin/galloc-stress --profile mixed --threads 2 --seconds $((minutes * 60)) --seed 1 --json build/stress-main.json"
fi
if [ -x build/bin/galloc-replay ] && [ -d corpora ]; then
  echo "=== corpus replay (every op sequence, full check after every op)"
  build/bin/galloc-replay -q --check-every 1 corpora/seeds/ops corpora/regressions/fuzz_ops
  build/bin/galloc-replay -q --fuzz-input --check-every 1 corpora/fuzz_ops   # fuzzer-made: may end inside an op
  seed=$(date +%s)
  echo "=== random exploration (generated op sequences, seed $seed: galloc-replay -q --bench 300000 --check-every 16 --seed $seed)"
  build/bin/galloc-replay -q --bench 300000 --check-every 16 --seed "$seed"
fi
echo "=== benchmark (single thread, galloc core vs system malloc)"
build/bin/galloc-bench --ops 1000000
echo "main job: OK"
