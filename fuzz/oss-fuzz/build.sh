#!/bin/bash -eu
# fuzz/oss-fuzz/build.sh — builds the galloc fuzz targets the OSS-Fuzz way: $CC/$CFLAGS from
# the environment (sanitizer and coverage flags chosen by OSS-Fuzz / ClusterFuzzLite), the
# engine from $LIB_FUZZING_ENGINE (libFuzzer, AFL++ or honggfuzz driver), binaries, seed
# corpora, dictionaries and .options files into $OUT. Also used by fuzz/clusterfuzzlite/.
# Source: $SRC/galloc (or the repository this script sits in).
ROOT=${GALLOC_SRC:-$SRC/galloc}
[ -d "$ROOT/alloc" ] || ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$WORK/galloc-build
# The libraries, instrumented with OSS-Fuzz's flags; warnings are not errors here (the
# flags vary by sanitizer and engine).
cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$CFLAGS" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGALLOC_WERROR=OFF
cmake --build "$B" --target galloc_core galloc_harness galloc_fuzz_common

INC=(-I"$ROOT/fuzz" -I"$ROOT/alloc" -I"$ROOT/harness" -D_GNU_SOURCE -std=c11)
CORE=$B/lib/libgalloc_core.a
HARN=$B/lib/libgalloc_harness.a
COMMON=$B/lib/libgalloc_fuzz_common.a
# no environment on ClusterFuzz: fuzz_ops runs with a 4 MiB budget (GALLOC_FUZZ_BUDGET=4m);
# its findings print the galloc-replay flags that reproduce them
OPS_DEFS=(-DGF_DEFAULT_BUDGET=4194304)
MUT=()
if [ "${FUZZING_ENGINE:-libfuzzer}" = libfuzzer ]; then
  MUT=("$ROOT/fuzz/mutator.c" -DGF_LIBFUZZER_MUTATOR)   # needs LLVMFuzzerMutate
fi

build_target() {  # name extra-sources/flags... -- libs...
  local t=$1; shift
  local srcs=() libs=()
  while (($#)) && [ "$1" != -- ]; do srcs+=("$1"); shift; done
  shift
  libs=("$@")
  $CC $CFLAGS "${INC[@]}" "$ROOT/fuzz/$t.c" "${srcs[@]}" "$COMMON" "${libs[@]}" $LIB_FUZZING_ENGINE -lpthread -o "$OUT/$t"
}
build_target fuzz_ops "$ROOT/fuzz/ops_options.c" "${OPS_DEFS[@]}" "${MUT[@]}" -- "$HARN" "$CORE"
build_target fuzz_text -- "$HARN" "$CORE"
build_target fuzz_span -- "$CORE"
build_target fuzz_pagealloc -- "$CORE"

for t in fuzz_ops fuzz_text fuzz_span fuzz_pagealloc; do
  if [ -d "$ROOT/corpora/$t" ]; then
    (cd "$ROOT/corpora" && zip -q -r "$OUT/${t}_seed_corpus.zip" "$t" -x '*.md')
  fi
done
cp "$ROOT/fuzz/dict/ops_binary.dict" "$OUT/fuzz_ops.dict"
cp "$ROOT/fuzz/dict/ops_text.dict" "$OUT/fuzz_text.dict"
printf '[libfuzzer]\nmax_len = 1024\ntimeout = 30\nrss_limit_mb = 4096\nmalloc_limit_mb = 4096\n' >"$OUT/fuzz_ops.options"
printf '[libfuzzer]\nmax_len = 2048\n' >"$OUT/fuzz_text.options"
printf '[libfuzzer]\nmax_len = 512\n' >"$OUT/fuzz_span.options"
printf '[libfuzzer]\nmax_len = 512\n' >"$OUT/fuzz_pagealloc.options"
