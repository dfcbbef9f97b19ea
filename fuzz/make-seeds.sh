#!/usr/bin/env bash
# fuzz/make-seeds.sh — (re)writes the hand-made seed inputs of corpora/ from fuzz/seeds/:
#   fuzz/seeds/fuzz_ops/*.txt       -> corpora/fuzz_ops/seed-NAME      (galloc-replay --to-binary)
#   fuzz/seeds/fuzz_ops/*.txt,
#   fuzz/seeds/fuzz_text/*.txt      -> corpora/fuzz_text/seed-NAME.txt (text, as is)
#   fuzz/seeds/fuzz_span.seeds      -> corpora/fuzz_span/seed-NAME      (hex lines -> bytes)
#   fuzz/seeds/fuzz_pagealloc.seeds -> corpora/fuzz_pagealloc/seed-NAME
#   fuzz/seeds/fuzz_malloc/*.txt    -> corpora/fuzz_malloc/seed-NAME   (galloc-replay --malloc --to-binary)
# then replays every seed with the standalone drivers (each must run clean).
# Only seed-* files are touched; inputs merged in by campaigns stay.
# Usage: bash fuzz/make-seeds.sh [BUILD_DIR]   (default build/, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
if [ ! -x "$build/bin/galloc-replay" ] || [ ! -x "$build/bin/fuzz_span" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release >/dev/null
  build=build
fi

mkdir -p corpora/fuzz_ops corpora/fuzz_text corpora/fuzz_span corpora/fuzz_pagealloc corpora/fuzz_malloc
rm -f corpora/fuzz_ops/seed-* corpora/fuzz_text/seed-* corpora/fuzz_span/seed-* corpora/fuzz_pagealloc/seed-* corpora/fuzz_malloc/seed-*

for f in fuzz/seeds/fuzz_ops/*.txt; do
  name=$(basename "$f" .txt)
  "$build/bin/galloc-replay" --to-binary -o "corpora/fuzz_ops/seed-$name" "$f"
  cp "$f" "corpora/fuzz_text/seed-$name.txt"
done
for f in fuzz/seeds/fuzz_malloc/*.txt; do
  "$build/bin/galloc-replay" --malloc --to-binary -o "corpora/fuzz_malloc/seed-$(basename "$f" .txt)" "$f"
done
for f in fuzz/seeds/fuzz_text/*.txt; do
  cp "$f" "corpora/fuzz_text/seed-$(basename "$f")"
done

# NAME: HEX BYTES lines -> files
hex_seeds() {  # $1 = seeds file, $2 = output dir
  local name hex esc
  while IFS= read -r line; do
    line=${line%%#*}
    [[ "$line" =~ ^[[:space:]]*$ ]] && continue
    name=${line%%:*}
    hex=${line#*:}
    hex=${hex//[[:space:]]/}
    if [[ ! "$hex" =~ ^([0-9a-fA-F]{2})+$ ]]; then
      echo "make-seeds: $1: bad hex for $name" >&2
      exit 2
    fi
    esc=$(sed 's/\(..\)/\\x\1/g' <<<"$hex")
    printf '%b' "$esc" >"$2/seed-$name"
  done <"$1"
}
hex_seeds fuzz/seeds/fuzz_span.seeds corpora/fuzz_span
hex_seeds fuzz/seeds/fuzz_pagealloc.seeds corpora/fuzz_pagealloc

for t in fuzz_ops fuzz_text fuzz_span fuzz_pagealloc fuzz_malloc; do
  "$build/bin/$t" -q corpora/$t/seed-* | tail -1
done
echo "make-seeds: done ($(ls corpora/fuzz_ops/seed-* corpora/fuzz_text/seed-* corpora/fuzz_span/seed-* corpora/fuzz_pagealloc/seed-* corpora/fuzz_malloc/seed-* | wc -l) seed files)"
