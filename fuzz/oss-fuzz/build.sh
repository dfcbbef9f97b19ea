#!/bin/bash -eu
# fuzz/oss-fuzz/build.sh — builds the galloc fuzz targets the OSS-Fuzz way: $CC/$CFLAGS from
# the environment (sanitizer and coverage flags chosen by OSS-Fuzz / ClusterFuzzLite), the
# engine from $LIB_FUZZING_ENGINE (libFuzzer, AFL++ or honggfuzz driver), binaries, seed
# corpora, dictionaries and .options files into $OUT. Also used by fuzz/clusterfuzzlite/.
# Source: $SRC/galloc (or the repository this script sits in). Build trees: $WORK/galloc-build
# and, for fuzz_mt, $WORK/galloc-build-sched (schedule points on: GALLOC_SCHED changes the
# heap's layout, so every library fuzz_mt links is built again with it).
# Targets: fuzz_ops, fuzz_text, fuzz_span, fuzz_pagealloc (libgalloc_harness + core: the
# shared fuzz/common.c reads files with gh_read_file), fuzz_malloc (the malloc-API
# differential: galloc_mdiff + the gm_* test build of alloc/malloc.c), fuzz_mt (galloc_sched).
# Invariant: every target listed in TARGETS is in $OUT with <t>_seed_corpus.zip and
# <t>.options, or the script fails (set -eu: it is honest when run as `bash build.sh` too).
# Checked by ctest fuzz.oss_fuzz_build (fuzz/tests/oss_fuzz_build.sh). Parallelism: Ninja's
# default, or CMAKE_BUILD_PARALLEL_LEVEL.
set -eu
ROOT=${GALLOC_SRC:-$SRC/galloc}
[ -d "$ROOT/alloc" ] || ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$WORK/galloc-build
BS=$WORK/galloc-build-sched
# The libraries, instrumented with OSS-Fuzz's flags; warnings are not errors here (the
# flags vary by sanitizer and engine).
cmake_libs() {  # cmake_libs BUILD-DIR EXTRA-CMAKE-ARG TARGET...
  local b=$1 extra=$2; shift 2
  cmake -S "$ROOT" -B "$b" -G Ninja -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$CFLAGS" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGALLOC_WERROR=OFF $extra >/dev/null
  cmake --build "$b" --target "$@"
}
cmake_libs "$B" -DGALLOC_SCHED=OFF galloc_core galloc_harness galloc_fuzz_common galloc_malloc_test galloc_mdiff
cmake_libs "$BS" -DGALLOC_SCHED=ON galloc_core galloc_harness galloc_fuzz_common galloc_sched

INC=(-I"$ROOT/fuzz" -I"$ROOT/alloc" -I"$ROOT/harness" -D_GNU_SOURCE -std=c11)
CORE=$B/lib/libgalloc_core.a
HARN=$B/lib/libgalloc_harness.a
COMMON=$B/lib/libgalloc_fuzz_common.a
MDIFF=$B/lib/libgalloc_mdiff.a
MTEST=$B/lib/libgalloc_malloc_test.a
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
  # shellcheck disable=SC2086
  $CC $CFLAGS "${INC[@]}" "$ROOT/fuzz/$t.c" "${srcs[@]}" "${libs[@]}" $LIB_FUZZING_ENGINE -lpthread -o "$OUT/$t"
}
build_target fuzz_ops "$ROOT/fuzz/ops_options.c" "${OPS_DEFS[@]}" "${MUT[@]}" -- "$COMMON" "$HARN" "$CORE"
build_target fuzz_text -- "$COMMON" "$HARN" "$CORE"
build_target fuzz_span -- "$COMMON" "$HARN" "$CORE"
build_target fuzz_pagealloc -- "$COMMON" "$HARN" "$CORE"
build_target fuzz_malloc -- "$MDIFF" "$MTEST" "$COMMON" "$HARN" "$CORE"
build_target fuzz_mt -DGALLOC_SCHED=1 -- "$BS/lib/libgalloc_sched.a" "$BS/lib/libgalloc_fuzz_common.a" \
  "$BS/lib/libgalloc_harness.a" "$BS/lib/libgalloc_core.a"

TARGETS=(fuzz_ops fuzz_text fuzz_span fuzz_pagealloc fuzz_malloc fuzz_mt)
for t in "${TARGETS[@]}"; do
  rm -f "$OUT/${t}_seed_corpus.zip"
  # the seeds: corpora/<t>/ (fuzz_mt's are in fuzz/seeds/fuzz_mt/)
  if [ -d "$ROOT/corpora/$t" ]; then
    (cd "$ROOT/corpora" && zip -q -r "$OUT/${t}_seed_corpus.zip" "$t" -x '*.md')
  else
    (cd "$ROOT/fuzz/seeds" && zip -q -r "$OUT/${t}_seed_corpus.zip" "$t" -x '*.md')
  fi
done
cp "$ROOT/fuzz/dict/ops_binary.dict" "$OUT/fuzz_ops.dict"
cp "$ROOT/fuzz/dict/ops_text.dict" "$OUT/fuzz_text.dict"
printf '[libfuzzer]\nmax_len = 1024\ntimeout = 30\nrss_limit_mb = 4096\nmalloc_limit_mb = 4096\n' >"$OUT/fuzz_ops.options"
printf '[libfuzzer]\nmax_len = 2048\n' >"$OUT/fuzz_text.options"
printf '[libfuzzer]\nmax_len = 512\n' >"$OUT/fuzz_span.options"
printf '[libfuzzer]\nmax_len = 512\n' >"$OUT/fuzz_pagealloc.options"
printf '[libfuzzer]\nmax_len = 1024\n' >"$OUT/fuzz_malloc.options"
printf '[libfuzzer]\nmax_len = 1024\n' >"$OUT/fuzz_mt.options"
