#!/usr/bin/env bash
# fuzz/prune-corpus.sh — shrinks corpora/<target>/ to the smallest set of inputs that keeps
# every coverage edge (libFuzzer -merge=1 -use_counters=0: edges, not hit-count buckets,
# which keeps the corpus — and ctest's replay of it — several times smaller). The hand-made
# seed-* inputs always stay. Needs the fuzz preset (built if missing).
# Usage: bash fuzz/prune-corpus.sh TARGET...   (fuzz_ops fuzz_span fuzz_pagealloc fuzz_text)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
(($#)) || { echo "usage: fuzz/prune-corpus.sh TARGET..." >&2; exit 2; }
cmake --preset fuzz >/dev/null && cmake --build --preset fuzz >/dev/null
for t in "$@"; do
  dir=corpora/$t
  [ -d "$dir" ] || { echo "prune: no $dir" >&2; continue; }
  tmp=$(mktemp -d)
  mkdir -p "$tmp/min" "$tmp/seeds" "$tmp/all"
  find "$dir" -maxdepth 1 -type f ! -name 'seed-*' ! -name '*.md' -exec cp {} "$tmp/all/" \;
  find "$dir" -maxdepth 1 -type f -name 'seed-*' -exec cp {} "$tmp/seeds/" \;
  # the seeds are merged first, so the minimal set is built on top of them
  "build-fuzz/bin/$t.libfuzzer" -merge=1 -use_counters=0 -timeout=60 -rss_limit_mb=4096 \
    -malloc_limit_mb=4096 "$tmp/min" "$tmp/seeds" "$tmp/all" >"$tmp/log" 2>&1 || { tail -5 "$tmp/log"; exit 1; }
  before=$(find "$dir" -maxdepth 1 -type f | wc -l)
  find "$dir" -maxdepth 1 -type f ! -name 'seed-*' -delete
  for f in "$tmp/min"/*; do
    [ -f "$f" ] || continue
    h=$(sha1sum "$f" | cut -d' ' -f1)
    keep=1
    for s in "$dir"/seed-*; do cmp -s "$f" "$s" && keep=0 && break; done
    ((keep)) && cp "$f" "$dir/$h"
  done
  echo "prune: $dir: $before -> $(find "$dir" -maxdepth 1 -type f | wc -l) files ($(grep -o '[0-9]* new coverage edges' "$tmp/log" | tail -1))"
  rm -rf "$tmp"
done
