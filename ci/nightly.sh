#!/usr/bin/env bash
# ci/nightly.sh — the nightly pipeline: every build preset with its ctest, long stress
# runs, fuzz campaigns on both engines, ASan / TSan / Valgrind stages, a planted
# use-after-free that ASan and memcheck must catch, coverage, new crashes turned into
# regression inputs (a patch or a branch, never main), and one report:
# OUT/report.html, OUT/summary.md, OUT/junit.xml, plus history plots across nights.
#
#   ci/nightly.sh [--budget MINUTES] [--out DIR] [options]      (see --help, ci/README.md)
#
# Every stage records pass / fail / skip, its duration and its log; a failing stage never
# stops the later ones. Exit status: 0 when no stage failed, 1 when one did, 2 bad usage,
# 130 when interrupted (the report is still written).
# shellcheck disable=SC2317  # the stage functions run through `bash -c` under timeout
set -uo pipefail
# The whole script is one block, read before anything runs: an update of the checkout while
# the night is running (git pull, an edit) cannot change the commands under our feet.
{
ARGS_GIVEN="$*"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$SRC" || exit 2

usage() {
  cat <<'EOF'
usage: ci/nightly.sh [options]
  --budget MINUTES   scale every timed stage so the whole run takes about MINUTES
                     (default 480: a full night; 20 is a quick try of every stage)
  --out DIR          where results go (default nightly-out/<YYYY-MM-DD>; -HHMMSS is
                     appended when that directory already holds a run)
  --history FILE     night-over-night history (default: history.jsonl beside DIR)
  --build-root DIR   build the presets in DIR/<preset dir> instead of the source tree's
                     build, build-debug, ... (the preset binaryDirs)
  --jobs N           parallel build and ctest jobs (default: nproc)
  --seed N           seed for stress runs (default: the date, YYYYMMDD)
  --only LIST        run only these stages (comma list; shell patterns: 'stress.*,report')
  --skip LIST        do not run these stages (same form)
  --plant NAME       switch on a deliberate galloc bug (ga_heap_options.plant) in stress
                     and fuzz stages, to prove that findings flow into the report
  --branch NAME      also commit new regression inputs to git branch NAME (through a
                     temporary worktree; never the current branch, never main/master)
  --keep-corpus      leave the inputs fuzz campaigns merge into corpora/<target>/ in the
                     working tree (default: moved into OUT/regressions/corpus.patch)
  --no-setup         do not run ci/setup.sh (apt) first
  --list             print the stages and their time allowances, run nothing
  --selftest         run synthetic stages (pass, fail, skip, timeout, one after) and the report:
                     checks the runner itself in seconds (exit 1: one stage fails on purpose)
  -h, --help
EOF
}

BUDGET=480 OUT="" HISTORY="" BUILD_ROOT="" JOBS=$(nproc) SEED=$(date +%Y%m%d)
ONLY="" SKIP="" PLANT="" BRANCH="" SETUP=1 LIST=0 SELFTEST=0 BUDGET_GIVEN=0 KEEP_CORPUS=0
while (($#)); do
  case "$1" in
    --budget) BUDGET=${2:-}; BUDGET_GIVEN=1; shift 2 || { usage >&2; exit 2; };;
    --out) OUT=${2:-}; shift 2 || { usage >&2; exit 2; };;
    --history) HISTORY=${2:-}; shift 2 || { usage >&2; exit 2; };;
    --build-root) BUILD_ROOT=${2:-}; shift 2 || { usage >&2; exit 2; };;
    --jobs) JOBS=${2:-}; shift 2 || { usage >&2; exit 2; };;
    --seed) SEED=${2:-}; shift 2 || { usage >&2; exit 2; };;
    --only) ONLY=${2:-}; shift 2 || { usage >&2; exit 2; };;
    --skip) SKIP=${2:-}; shift 2 || { usage >&2; exit 2; };;
    --plant) PLANT=${2:-}; shift 2 || { usage >&2; exit 2; };;
    --branch) BRANCH=${2:-}; shift 2 || { usage >&2; exit 2; };;
    --no-setup) SETUP=0; shift;;
    --keep-corpus) KEEP_CORPUS=1; shift;;
    --list) LIST=1; shift;;
    --selftest) SELFTEST=1; shift;;
    -h|--help) usage; exit 0;;
    *) echo "nightly.sh: unknown option '$1'" >&2; usage >&2; exit 2;;
  esac
done
if ! [[ "$BUDGET" =~ ^[0-9]+$ ]] || ((BUDGET < 1)); then
  echo "nightly.sh: --budget wants whole minutes >= 1, got '$BUDGET'" >&2; exit 2
fi
if ! [[ "$JOBS" =~ ^[0-9]+$ ]] || ((JOBS < 1)); then
  echo "nightly.sh: --jobs wants a count >= 1, got '$JOBS'" >&2; exit 2
fi
[[ "$SEED" =~ ^[0-9]+$ ]] || { echo "nightly.sh: --seed wants a number, got '$SEED'" >&2; exit 2; }
case "$BRANCH" in main|master) echo "nightly.sh: --branch must not be main/master" >&2; exit 2;; esac
command -v python3 >/dev/null || { echo "nightly.sh: python3 is needed (ci/setup.sh installs it)" >&2; exit 2; }

PROFILES="churn larson prodcons large tiny frag threads gc mixed"
FUZZ_TARGETS="fuzz_ops fuzz_span fuzz_pagealloc fuzz_text"
FUZZ_ENGINES="libfuzzer afl"
PRESETS="release debug asan tsan valgrind"

# ---- time allowances ------------------------------------------------------------------------
# Builds and ctest runs cost what they cost (below 60 minutes the debug, tsan and valgrind
# presets run only the smoke label); the rest of the budget (the pool) is shared by the
# timed stages: stress 35 %, fuzz 35 %, ASan stress 10 %, Valgrind 10 %, TSan 6 %,
# coverage workload 4 %. Each figure has a floor, so a tiny budget still runs everything.
TOTAL=$((BUDGET * 60))
if ((BUDGET >= 240)); then FIXED=3600; else FIXED=$((TOTAL * 65 / 100 < 1800 ? TOTAL * 65 / 100 : 1800)); fi
POOL=$((TOTAL - FIXED))
max() { (($1 > $2)) && echo "$1" || echo "$2"; }
NPROF=$(wc -w <<<"$PROFILES")
STRESS_S=$(max $((POOL * 35 / 100 / NPROF)) 5)
# Fuzzing: the share is split by weight, and each campaign has a floor of minutes, not
# seconds: fuzz_ops (op sequences through the whole allocator, where OS-failure paths and
# multi-op bugs live) weighs 4, fuzz_pagealloc 2, fuzz_span and fuzz_text 1. Allocator bugs
# such as bug--ops_os--6616baf2 (a failed grow then a smaller one) are out of reach of a
# 20-second campaign. Budget 480: fuzz_ops ~37 min per engine, pagealloc ~18, span/text ~9;
# budget 120: ~8 / 4 / 2 min; below that the floors: 3 min fuzz_ops, 90 s pagealloc, 60 s
# span and text (so --budget 20 runs ~13 min of fuzzing).
fuzz_weight() { case $1 in fuzz_ops) echo 4;; fuzz_pagealloc) echo 2;; *) echo 1;; esac; }
FUZZ_WSUM=0
for t in $FUZZ_TARGETS; do FUZZ_WSUM=$((FUZZ_WSUM + $(fuzz_weight "$t"))); done
FUZZ_NENG=$(wc -w <<<"$FUZZ_ENGINES")
FUZZ_S=0   # the longest campaign (the coverage.fuzz stage's limit scales with it)
for t in $FUZZ_TARGETS; do
  w=$(fuzz_weight "$t")
  s=$(max $((POOL * 35 / 100 * w / (FUZZ_WSUM * FUZZ_NENG))) $((w >= 4 ? 180 : w >= 2 ? 90 : 60)))
  printf -v "FUZZ_S_$t" %s "$s"
  export "FUZZ_S_$t"
  ((s > FUZZ_S)) && FUZZ_S=$s
done
unset w s
ASAN_S=$(max $((POOL * 10 / 100 / NPROF)) 3)
TSAN_S=$(max $((POOL * 6 / 100 / NPROF)) 3)
VG_STRESS_S=$(max $((POOL * 4 / 100)) 10)
VG_REPLAY_S=$(max $((POOL * 2 / 100)) 10)
VG_PRELOAD_S=$(max $((POOL * 4 / 100)) 8)
COV_S=$(max $((POOL * 4 / 100 / NPROF)) 2)
if ((BUDGET >= 60)); then CTEST_SCOPE=full; else CTEST_SCOPE=smoke; fi

# ---- output ----------------------------------------------------------------------------------
if ((LIST)); then
  OUT=${OUT:-$SRC/nightly-out/list}   # nothing is written with --list
elif [ -z "$OUT" ]; then
  OUT=$SRC/nightly-out/$(date +%F)
  [ -e "$OUT/stages" ] && OUT=$OUT-$(date +%H%M%S)
fi
if ((!LIST)); then
  mkdir -p "$OUT" || exit 2
  OUT=$(cd "$OUT" && pwd)
fi
[ -n "$HISTORY" ] || HISTORY=$(dirname "$OUT")/history.jsonl
[ -z "$BUILD_ROOT" ] || { mkdir -p "$BUILD_ROOT" && BUILD_ROOT=$(cd "$BUILD_ROOT" && pwd); } || exit 2
REPORT_PY=$SRC/ci/report.py
export SRC OUT HISTORY BUILD_ROOT JOBS SEED PLANT BRANCH BUDGET KEEP_CORPUS PROFILES FUZZ_TARGETS FUZZ_ENGINES \
       STRESS_S FUZZ_S ASAN_S TSAN_S VG_STRESS_S VG_REPLAY_S VG_PRELOAD_S COV_S CTEST_SCOPE REPORT_PY

# ---- helpers (exported: stages run in their own bash under `timeout`) ----------------------
stamp() { date +%H:%M:%S; }
# bdir PRESET: the build directory of a preset (its binaryDir, or under --build-root).
bdir() {
  local n
  case "$1" in release) n=build;; *) n=build-$1;; esac
  echo "${BUILD_ROOT:-$SRC}/$n"
}
# Inside a stage: skip / note / reason / findings.
skip() { echo "$*" >"$STAGE_DIR/reason"; echo "SKIP: $*"; exit 77; }
reason() { echo "$*" >"$STAGE_DIR/reason"; echo "REASON: $*"; }
note() { echo "$*" >"$STAGE_DIR/note"; }
# finding KIND TARGET FILE REPLAY-COMMAND DESCRIPTION   (one line of findings.tsv)
finding() {
  local d=${5//$'\t'/ }
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4//$'\t'/ }" "${d//$'\n'/ }" >>"$STAGE_DIR/findings.tsv"
}
status_of() { cat "$OUT/stages/$1/status" 2>/dev/null || echo "not run"; }
# need STAGE: skip unless STAGE passed tonight. A stage left out of this run (--only/--skip)
# does not count against: the caller then checks that what it needs is there.
need() {
  local s
  s=$(status_of "$1")
  [ "$s" = pass ] || [ "$s" = "not run" ] || skip "needs $1, which did not pass ($s)"
}
# The stress driver's options that every stress stage shares.
plant_args() { [ -z "$PLANT" ] || echo "--plant $PLANT"; }

# ---- stages ------------------------------------------------------------------------------------
st_setup() {
  bash "$SRC/ci/setup.sh" --with-browser || { reason "ci/setup.sh failed (apt)"; return 1; }
}

st_build() {
  local p=$1 d
  d=$(bdir "$p")
  if [ "$p" = afl ] && ! command -v afl-clang-fast >/dev/null; then
    skip "afl-clang-fast is not installed (ci/setup.sh installs afl++)"
  fi
  if [ "$p" = coverage ]; then
    command -v gcc >/dev/null || skip "gcc is not installed"
    cmake -S "$SRC" -B "$d" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc \
      "-DCMAKE_C_FLAGS=--coverage -fprofile-update=atomic -O0" -DCMAKE_EXE_LINKER_FLAGS=--coverage \
      -DCMAKE_SHARED_LINKER_FLAGS=--coverage -DCMAKE_MODULE_LINKER_FLAGS=--coverage \
      || { reason "configure failed"; return 1; }
  elif [ -n "$BUILD_ROOT" ]; then
    cmake --preset "$p" -B "$d" || { reason "configure failed"; return 1; }
  else
    cmake --preset "$p" || { reason "configure failed"; return 1; }
  fi
  cmake --build "$d" -j "$JOBS" || { reason "build failed (warnings are errors: see the log)"; return 1; }
  note "$(find "$d/bin" -maxdepth 1 -type f -perm -u+x 2>/dev/null | wc -l) programs in $d/bin"
}

st_test() {
  local p=$1 d args=()
  need "build.$p"
  d=$(bdir "$p")
  [ -f "$d/CTestTestfile.cmake" ] || skip "the $p preset is not built ($d)"
  if [ "$CTEST_SCOPE" = smoke ]; then
    case $p in
      debug|valgrind) args+=(-L smoke); echo "budget below 60 minutes: only the smoke label in the $p preset";;
      # TSan is about threads: its multi-threaded tests (the rest are slow under TSan and say nothing new)
      tsan) args+=(-L smoke -R 'threads|stress\.'); echo "budget below 60 minutes: only the multi-threaded smoke tests in the tsan preset";;
    esac
  fi
  # The report test (label ci) opens Chromium; once, in the release build, is enough.
  [ "$p" = release ] || args+=(-LE '^ci$')
  ctest --test-dir "$d" -j "$JOBS" --timeout 900 --output-on-failure --no-tests=error \
    --output-junit "$STAGE_DIR/ctest-junit.xml" "${args[@]}"
  local rc=$?
  ((rc == 0)) || reason "ctest failed (exit $rc)"
  return "$rc"
}

# stress_one BIN PROFILE SECONDS DIR NAME: one galloc-stress run with JSON, plot and reproducer.
stress_one() {
  local bin=$1 prof=$2 secs=$3 dir=$4 name=$5 rc
  mkdir -p "$dir"
  # shellcheck disable=SC2046
  "$bin" --profile "$prof" --threads 2 --seconds "$secs" --seed "$SEED" --progress 60 \
    --json "$dir/$name.json" --plot "$dir/plot-$name" --repro "$dir/$name.ops" $(plant_args) \
    >"$dir/$name.out" 2>&1
  rc=$?
  cat "$dir/$name.out"
  if ((rc == 1)); then
    local what replay
    what=$(grep -m1 -E 'FINDING|ERROR: [A-Za-z]+Sanitizer|WARNING: ThreadSanitizer' "$dir/$name.out" | head -c 300)
    replay=$(grep -m1 '^  replay: ' "$dir/$name.out" | sed 's/^  replay: *//')
    if [ -s "$dir/$name.ops" ]; then
      finding stress stress "$dir/$name.ops" "${replay:-galloc-replay --check-every 1 $dir/$name.ops}" "$prof: ${what:-finding}"
    else
      finding stress stress "$dir/$name.out" "$(grep -m1 '^  rerun: ' "$dir/$name.out" | sed 's/^  rerun: *//')" "$prof: ${what:-finding} (no reproducer)"
    fi
  fi
  return "$rc"
}

st_stress() {
  local prof=$1 bin
  need build.release
  bin=$(bdir release)/bin/galloc-stress
  [ -x "$bin" ] || skip "galloc-stress is not built (stress/)"
  stress_one "$bin" "$prof" "$STRESS_S" "$STAGE_DIR" stress
  local rc=$?
  case $rc in
    0) ;;
    1) reason "$(grep -m1 -o -E '(FINDING|ERROR: [A-Za-z]+Sanitizer|WARNING: ThreadSanitizer)[^(]*' "$STAGE_DIR/stress.out" |
                 head -c 160) (reproducer: stress.ops)";;
    *) reason "galloc-stress exited $rc";;
  esac
  return "$rc"
}

# sanitizer_stress PRESET SECONDS: every profile in a sanitizer build.
sanitizer_stress() {
  local p=$1 secs=$2 bin prof rc failed=()
  need "build.$p"
  bin=$(bdir "$p")/bin/galloc-stress
  [ -x "$bin" ] || skip "galloc-stress is not built in the $p preset"
  for prof in $PROFILES; do
    echo "=== $p: galloc-stress --profile $prof --seconds $secs"
    stress_one "$bin" "$prof" "$secs" "$STAGE_DIR" "$prof"
    rc=$?
    printf '%s\t%s\n' "$prof" "$rc" >>"$STAGE_DIR/profiles.tsv"
    ((rc == 0)) || failed+=("$prof(exit $rc)")
  done
  note "${secs} s per profile"
  if ((${#failed[@]})); then
    reason "failed: ${failed[*]}$(grep -h -m1 -o -E '(WARNING: ThreadSanitizer|ERROR: [A-Za-z]+Sanitizer|FINDING)[^(]*' \
      "$STAGE_DIR"/*.out 2>/dev/null | head -1 | sed 's/^/; first report: /')"
    return 1
  fi
}
st_asan_stress() { sanitizer_stress asan "$ASAN_S"; }
st_tsan_stress() { TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1} sanitizer_stress tsan "$TSAN_S"; }

# uaf_build PRESET OUT: the preset's bin/ci-uaf-plant (ci/CMakeLists.txt), or else
# ci/tests/uaf_plant.c compiled here against the build's galloc_core.
uaf_build() {
  local p=$1 out=$2 d cc flags=()
  d=$(bdir "$p")
  if [ -x "$d/bin/ci-uaf-plant" ] && [ "$d/bin/ci-uaf-plant" -nt "$SRC/ci/tests/uaf_plant.c" ]; then
    echo "=== using $d/bin/ci-uaf-plant"
    cp "$d/bin/ci-uaf-plant" "$out"
    return
  fi
  cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$d/CMakeCache.txt" 2>/dev/null)
  [ -n "$cc" ] || cc=cc
  [ "$p" = asan ] && flags=("-fsanitize=address,undefined" -fno-omit-frame-pointer)
  echo "=== $cc -g -O1 ${flags[*]} ci/tests/uaf_plant.c $d/lib/libgalloc_core.a"
  "$cc" -std=c11 -D_GNU_SOURCE -g -O1 -Wall "${flags[@]}" -I"$SRC/alloc" "$SRC/ci/tests/uaf_plant.c" \
    "$d/lib/libgalloc_core.a" -lpthread -o "$out"
}
# uaf_case NAME EXPECT(caught|clean) PATTERN CMD...: run one case, record it in uaf.tsv.
uaf_case() {
  local name=$1 expect=$2 pat=$3 rc got ok=0
  shift 3
  echo "=== $name: $*"
  "$@" >"$STAGE_DIR/uaf-$name.txt" 2>&1
  rc=$?
  cat "$STAGE_DIR/uaf-$name.txt"
  if grep -q -E "$pat" "$STAGE_DIR/uaf-$name.txt"; then got=caught
  elif ((rc == 0)); then got=clean
  else got="exit $rc, no report"; fi
  [ "$got" = "$expect" ] && ok=1
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$expect" "$got" "$rc" "$*" >>"$STAGE_DIR/uaf.tsv"
  echo "--- $name: expected $expect, got $got"
  ((ok))
}
st_asan_uaf() {
  need build.asan
  [ -f "$(bdir asan)/lib/libgalloc_core.a" ] || skip "the asan preset is not built"
  uaf_build asan "$STAGE_DIR/uaf_plant" || { reason "cannot compile ci/tests/uaf_plant.c"; return 1; }
  local bad=0 pat='AddressSanitizer: (heap-)?use-after-(poison|free)'
  uaf_case live clean "$pat" "$STAGE_DIR/uaf_plant" live || bad=1
  uaf_case core caught "$pat" "$STAGE_DIR/uaf_plant" core || bad=1
  uaf_case large caught "$pat" "$STAGE_DIR/uaf_plant" large || bad=1
  if [ -f "$(bdir release)/lib/libgalloc_core.a" ] && uaf_build release "$STAGE_DIR/uaf_plant_release"; then
    uaf_case release-build clean "$pat" "$STAGE_DIR/uaf_plant_release" core || bad=1
  fi
  ((bad == 0)) || { reason "a planted use-after-free was not reported as expected"; return 1; }
  note "planted use-after-free reported by ASan (use-after-poison), control runs clean"
}
export VG_ARGS="--error-exitcode=99 --leak-check=no --num-callers=12"
st_valgrind_uaf() {
  command -v valgrind >/dev/null || skip "valgrind is not installed (ci/setup.sh installs it)"
  need build.valgrind
  local d bad=0 pat='Invalid (read|write) of size'
  d=$(bdir valgrind)
  local vg
  read -r -a vg <<<"valgrind $VG_ARGS"
  [ -f "$d/lib/libgalloc_core.a" ] || skip "the valgrind preset is not built"
  uaf_build valgrind "$STAGE_DIR/uaf_plant" || { reason "cannot compile ci/tests/uaf_plant.c"; return 1; }
  uaf_case live clean "$pat" "${vg[@]}" "$STAGE_DIR/uaf_plant" live || bad=1
  uaf_case core caught "$pat" "${vg[@]}" "$STAGE_DIR/uaf_plant" core || bad=1
  uaf_case large caught "$pat" "${vg[@]}" "$STAGE_DIR/uaf_plant" large || bad=1
  if [ -f "$d/lib/libgalloc.so" ]; then
    # galloc's own malloc under memcheck: nouserintercepts keeps memcheck from replacing it,
    # the valgrind preset's libgalloc.so reports its objects through client requests.
    uaf_case preload caught "$pat" env LD_PRELOAD="$d/lib/libgalloc.so" "${vg[@]}" \
      --soname-synonyms=somalloc=nouserintercepts "$STAGE_DIR/uaf_plant" malloc || bad=1
    grep -q 'ga_free' "$STAGE_DIR/uaf-preload.txt" || echo "note: the preload report does not name ga_free"
  fi
  ((bad == 0)) || { reason "a planted use-after-free was not reported as expected"; return 1; }
  note "planted use-after-free reported by memcheck (core API and LD_PRELOAD libgalloc.so), control runs clean"
}

st_valgrind_replay() {
  command -v valgrind >/dev/null || skip "valgrind is not installed (ci/setup.sh installs it)"
  need build.valgrind
  local bin files=() n=0 i rc=0 deadline
  bin=$(bdir valgrind)/bin/galloc-replay
  [ -x "$bin" ] || skip "galloc-replay is not built (harness/)"
  # Op sequences only (the other corpora are not op sequences): seeds and regressions first,
  # then the fuzz corpus; batches of 25 files per memcheck run
  # until the time share is used (the corpora grow every night).
  mapfile -t files < <(cd "$SRC" && for d in corpora/seeds/ops corpora/regressions/fuzz_ops corpora/fuzz_ops; do
                         [ -d "$d" ] && find "$d" -type f ! -name '*.md' ! -name '.*' | sort; done | awk '!seen[$0]++')
  ((${#files[@]})) || skip "corpora/ is empty"
  deadline=$(($(date +%s) + VG_REPLAY_S))
  for ((i = 0; i < ${#files[@]}; i += 25)); do
    if (($(date +%s) >= deadline)); then echo "time share used up: $n of ${#files[@]} files replayed"; break; fi
    # --no-diff: under memcheck, glibc's malloc (the differential oracle) is memcheck's own.
    # shellcheck disable=SC2086
    # Leaks count here: every heap is a memcheck pool destroyed with the heap, and the
    # harness frees everything it allocates, so a definite leak is a real one.
    (cd "$SRC" && valgrind $VG_ARGS --leak-check=full --errors-for-leak-kinds=definite "$bin" -q --no-diff --check-every 64 "${files[@]:i:25}")
    rc=$?
    n=$((n + $(printf '%s\n' "${files[@]:i:25}" | wc -l)))
    ((rc == 0)) || break
  done
  case $rc in
    0) note "$n of ${#files[@]} corpus files replayed under memcheck: clean";;
    99) reason "memcheck reported errors";;
    1) reason "galloc-replay reported a finding under memcheck";;
    *) reason "exit $rc";;
  esac
  return "$rc"
}
st_valgrind_stress() {
  command -v valgrind >/dev/null || skip "valgrind is not installed (ci/setup.sh installs it)"
  need build.valgrind
  local bin prof secs rc failed=()
  bin=$(bdir valgrind)/bin/galloc-stress
  [ -x "$bin" ] || skip "galloc-stress is not built in the valgrind preset"
  secs=$((VG_STRESS_S / 3))
  for prof in churn larson gc; do
    echo "=== memcheck: galloc-stress --profile $prof --seconds $secs"
    # shellcheck disable=SC2086,SC2046
    # --watchdog 300: under memcheck threads run one at a time and a verification takes
    # many times longer; a hang is still a report long before the stage's time limit
    valgrind $VG_ARGS "$bin" --profile "$prof" --threads 2 --seconds "$secs" --seed "$SEED" \
      --progress 60 --watchdog 300 --repro "$STAGE_DIR/$prof.ops" $(plant_args) | tee "$STAGE_DIR/$prof.out"
    rc=${PIPESTATUS[0]}
    ((rc == 0)) || failed+=("$prof(exit $rc)")
    if ((rc == 1)) && [ -s "$STAGE_DIR/$prof.ops" ]; then
      finding stress stress "$STAGE_DIR/$prof.ops" "galloc-replay --check-every 1 $STAGE_DIR/$prof.ops" "$prof under memcheck"
    elif ((rc == 1)); then   # no reproducer: an idle phase or a stall (the rerun command reproduces)
      finding stress stress "$STAGE_DIR/$prof.out" "$(grep -m1 '^  rerun: ' "$STAGE_DIR/$prof.out" | sed 's/^  rerun: *//')" \
        "$prof under memcheck: $(grep -m1 -o 'FINDING: invariant [^ ]*' "$STAGE_DIR/$prof.out")"
    fi
  done
  if ((${#failed[@]})); then reason "failed: ${failed[*]} (99: memcheck errors)"; return 1; fi
  note "churn, larson, gc × ${secs} s under memcheck: clean"
}
st_valgrind_preload() {
  command -v valgrind >/dev/null || skip "valgrind is not installed (ci/setup.sh installs it)"
  need build.valgrind
  local d
  d=$(bdir valgrind)
  [ -f "$d/lib/libgalloc.so" ] || skip "libgalloc.so is not built (alloc/malloc.c)"
  [ -x "$d/bin/galloc-stress" ] || skip "galloc-stress is not built in the valgrind preset"
  echo "=== memcheck, LD_PRELOAD=$d/lib/libgalloc.so, galloc's malloc kept (somalloc=nouserintercepts)"
  # shellcheck disable=SC2086
  env LD_PRELOAD="$d/lib/libgalloc.so" valgrind $VG_ARGS --soname-synonyms=somalloc=nouserintercepts \
    "$d/bin/galloc-stress" --backend=system --profile mixed --threads 2 --seconds "$VG_PRELOAD_S" \
    --seed "$SEED" --progress 60 --watchdog 300
  local rc=$?
  case $rc in 0) note "galloc-stress --backend=system on LD_PRELOAD libgalloc.so under memcheck: clean";;
    99) reason "memcheck reported errors";; *) reason "exit $rc";; esac
  return "$rc"
}

st_fuzz() {
  local engine=$1 target=$2 args=() rc mins
  [ -f "$SRC/fuzz/campaign.sh" ] || skip "fuzz/campaign.sh is not there yet (fuzz/)"
  case $engine in
    libfuzzer) need build.fuzz;;
    afl) command -v afl-fuzz >/dev/null || skip "afl-fuzz is not installed (ci/setup.sh installs afl++)"; need build.afl;;
  esac
  local v=FUZZ_S_$target
  mins=$(awk -v s="${!v:-$FUZZ_S}" 'BEGIN { printf "%.2f", s / 60 }')
  # --no-store: findings stay in the campaign's output (the regressions stage turns them into
  # a patch); the corpus merge goes into corpora/<target>/ (see st_regressions / --keep-corpus).
  args=(--engine "$engine" --target "$target" --minutes "$mins" --jobs "$JOBS" --out "$STAGE_DIR/campaign" --no-store)
  [ -z "$PLANT" ] || args+=(--plant "$PLANT")
  # The merge replays the whole corpus: minutes once corpora have grown. Short budgets skip it.
  if ((BUDGET < 60)); then args+=(--no-merge); echo "budget below 60 minutes: no corpus merge"; fi
  echo "=== fuzz/campaign.sh ${args[*]}"
  bash "$SRC/fuzz/campaign.sh" "${args[@]}"
  rc=$?
  local counts new known
  counts=$(fuzz_collect "$target")
  new=${counts% *} known=${counts#* }
  sed -n '/^== campaign summary/,$p' "$STAGE_DIR/log.txt" 2>/dev/null | grep -E 'exec/s|execs' | head -2 |
    sed 's/^ *//' | paste -sd';' - >"$STAGE_DIR/note"
  if ((known > 0)); then
    echo "$known known finding(s) found again (stored in the tree already)"
    sed -i "1s/^/$known known finding(s) again; /" "$STAGE_DIR/note"
  fi
  # campaign.sh exits 1 on a new finding (listed below) or a missed plant, 2 on a usage or build error
  if ((rc != 0)) && ! ((rc == 1 && new > 0)); then reason "campaign.sh exited $rc"; return "$rc"; fi
  if ((new > 0)); then
    reason "$new new finding(s)$( ((known)) && echo " (and $known known)"): see Findings"
    return 1
  fi
}
# fuzz_collect TARGET: every input the campaign stored (reproduced, classified, minimized:
# campaign.sh's stored/ tree mirrors the repository) becomes a finding. A signature that
# corpora/regressions/<target>/ or fuzz/findings/<target>/ already holds is known. Prints
# "NEW KNOWN".
fuzz_collect() {
  local target=$1 f new=0 known=0 name cls sig replay prefix old
  while IFS= read -r -d '' f; do
    name=$(basename "$f")
    cls=${name%%--*}
    sig=${name#*--}; sig=${sig%--*}
    prefix=${name%--*}--
    old=$(find "$SRC/corpora/regressions/$target" "$SRC/fuzz/findings/$target" -maxdepth 1 -name "$prefix*" \
            ! -name '*.md' ! -name '*.txt' 2>/dev/null | head -1)
    if [ -n "$old" ]; then known=$((known + 1)); else new=$((new + 1)); fi
    replay="$(bdir release)/bin/$target $f"
    [ "$cls" = bug ] || replay="GALLOC_PLANT=$cls $replay"
    finding fuzz "$target" "$f" "$replay" "$target [$cls] $sig${old:+ (known: ${old#"$SRC"/})}"
  done < <(find "$STAGE_DIR/campaign/stored" -type f ! -name '*.md' ! -name '*.txt' -print0 2>/dev/null | sort -z)
  echo "$new $known"
}

st_coverage() {
  local d bin prof rc=0
  need build.coverage
  command -v gcovr >/dev/null || {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "=== installing gcovr (apt)"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcovr; } >/dev/null 2>&1
    fi
    command -v gcovr >/dev/null || skip "gcovr is not installed and could not be installed (apt-get install gcovr)"
  }
  d=$(bdir coverage)
  [ -f "$d/CTestTestfile.cmake" ] || skip "the coverage build is not there ($d)"
  find "$d" -name '*.gcda' -delete
  # harness.emit_c links generated C against galloc_core, which lacks -lgcov here.
  echo "=== unit tests and corpus replay (ctest -L 'unit|corpus', no preload programs)"
  ctest --test-dir "$d" -j "$JOBS" --timeout 900 -L 'unit|corpus' -LE 'preload|^ci$' -E '^harness\.emit_c$' \
    --output-junit "$STAGE_DIR/ctest-junit.xml" || echo "note: some tests failed; coverage is still measured"
  bin=$d/bin/galloc-stress
  if [ -x "$bin" ]; then
    for prof in $PROFILES; do
      "$bin" --profile "$prof" --threads 2 --seconds "$COV_S" --seed "$SEED" -q --repro "$STAGE_DIR/cov-$prof.ops" >/dev/null 2>&1 ||
        echo "note: stress $prof exited non-zero in the coverage build"
    done
  fi
  mkdir -p "$STAGE_DIR/html"
  echo "=== gcovr"
  # -fprofile-update=atomic keeps threaded counters sane; should one still be off, gcovr goes on.
  timeout 1200 gcovr --root "$SRC" --object-directory "$d" --gcov-ignore-parse-errors \
    --filter "$SRC/alloc/" --filter "$SRC/harness/" --filter "$SRC/stress/" --filter "$SRC/fuzz/" \
    --exclude '.*/tests/.*' --exclude '.*/tools/.*' \
    --html-details "$STAGE_DIR/html/index.html" --html-title "galloc coverage" \
    --json-summary "$STAGE_DIR/summary.json" --json-summary-pretty \
    --txt "$STAGE_DIR/coverage.txt" --print-summary -j "$JOBS" "$d" || rc=$?
  ((rc == 0)) || { reason "gcovr failed (exit $rc)"; return 1; }
  tail -4 "$STAGE_DIR/coverage.txt"
}
st_fuzz_coverage() {
  [ -f "$SRC/fuzz/coverage.sh" ] || skip "fuzz/coverage.sh is not there yet (fuzz/)"
  command -v llvm-cov >/dev/null || command -v llvm-cov-14 >/dev/null || skip "llvm-cov is not installed (llvm)"
  bash "$SRC/fuzz/coverage.sh" --html "$STAGE_DIR/html" | tee "$STAGE_DIR/coverage.txt"
  local rc=${PIPESTATUS[0]}
  ((rc == 0)) || { reason "fuzz/coverage.sh exited $rc"; return "$rc"; }
  awk '/^TOTAL/ { printf "alloc/ reached by the corpora (llvm-cov): lines %s, functions %s, branches %s\n", $10, $7, $13; exit }' \
    "$STAGE_DIR/coverage.txt" >"$STAGE_DIR/note"
}

st_regressions() {
  python3 "$REPORT_PY" regressions --out "$OUT" --src "$SRC" --replay "$(bdir release)/bin/galloc-replay" \
    --fuzz-tool "$(bdir release)/bin/fuzz_ops_tool" --plant "$PLANT" --branch "$BRANCH" \
    --corpus-before "$OUT/corpora-before.txt" --keep-corpus "$KEEP_CORPUS"
}

# Synthetic stages for --selftest.
# The controlled scheduler's long search (issue 15): every race plant, 10 seeds, 60 s cap
# each, in the sched preset; fails unless each plant is found for 9 of 10 seeds.
st_sched_table() {
  local d
  d=$(bdir sched)
  [ -x "$d/bin/galloc-sched" ] || skip "galloc-sched is not built in the sched preset"
  bash "$SRC/harness/tests/sched_table.sh" "$d/bin/galloc-sched" 60 10 random || { reason "a plant was missed for more than one seed"; return 1; }
  bash "$SRC/harness/tests/sched_table.sh" "$d/bin/galloc-sched" 60 10 pct || note "pct missed some seeds (informational)"
}

# The controlled scheduler under TSan (issue 15, sched-tsan preset): its tests (ctest -L sched
# without the nightly table: sched.unit, the stored reproducers, emit-c, short searches,
# galloc-stress --sched) and every stored reproducer of corpora/regressions/mt in 100
# separate galloc-replay processes with its plant and 100 without: identical output,
# addresses included, and no TSan report (exitcode 66 fails the run).
st_sched_tsan() {
  local d
  need build.sched-tsan
  d=$(bdir sched-tsan)
  [ -x "$d/bin/galloc-replay" ] || skip "galloc-replay is not built in the sched-tsan preset"
  export TSAN_OPTIONS="halt_on_error=1 exitcode=66${TSAN_OPTIONS:+ $TSAN_OPTIONS}"
  ctest --test-dir "$d" -j "$JOBS" --timeout 900 --output-on-failure --no-tests=error -L sched -LE nightly \
    --output-junit "$STAGE_DIR/ctest-junit.xml" || { reason "ctest -L sched failed under TSan"; return 1; }
  bash "$SRC/harness/tests/sched_processes.sh" "$d/bin/galloc-replay" "$SRC/corpora/regressions/mt" 100 |
    tee "$STAGE_DIR/replays.txt"
  local rc=${PIPESTATUS[0]}
  ((rc == 0)) || { reason "a stored reproducer replayed differently across processes, or TSan reported"; return 1; }
  note "ctest -L sched clean under TSan; $(grep -c '^ok' "$STAGE_DIR/replays.txt") reproducer x mode checks, 100/100 processes identical each"
}

st_self_pass() { echo "a stage that passes"; note "passed on purpose"; }
st_self_fail() { echo "a stage that fails"; reason "failed on purpose"; return 3; }
st_self_skip() { skip "skipped on purpose"; }
st_self_hang() { echo "a stage that never ends"; sleep 600 & echo $! >"$STAGE_DIR/sleep.pid"; wait; }

# shellcheck disable=SC2046
export -f stamp bdir skip reason note finding status_of need plant_args stress_one sanitizer_stress \
  uaf_build uaf_case fuzz_collect $(compgen -A function st_)

# ---- the runner ------------------------------------------------------------------------------------
# selected NAME: --only / --skip (comma lists of shell patterns) allow the stage.
selected() {
  local n=$1 pat pats=()
  if [ -n "$ONLY" ]; then
    local hit=0
    IFS=, read -r -a pats <<<"$ONLY"
    # shellcheck disable=SC2053
    for pat in "${pats[@]}"; do [[ $n == $pat ]] && hit=1; done
    ((hit)) || return 1
  fi
  IFS=, read -r -a pats <<<"$SKIP"
  # shellcheck disable=SC2053
  for pat in "${pats[@]}"; do [[ $n == $pat ]] && return 1; done
  return 0
}
INTERRUPTED=0 CUR=""
on_signal() {
  INTERRUPTED=1
  [ -z "$CUR" ] || kill -TERM "$CUR" 2>/dev/null
}
trap on_signal INT TERM
NFAIL=0
declare -a ORDER=()

# run_stage NAME LIMIT-SECONDS FUNCTION ARGS...
run_stage() {
  local name=$1 limit=$2 rc status t0 t1 secs
  shift 2
  selected "$name" || return 0
  ORDER+=("$name")
  if ((LIST)); then printf '  %-30s limit %6s s   %s\n' "$name" "$limit" "$*"; return 0; fi
  local dir=$OUT/stages/$name
  rm -rf "$dir"
  mkdir -p "$dir"
  if ((INTERRUPTED)); then
    echo "interrupted before this stage" >"$dir/reason"
    : >"$dir/log.txt"
    status=skip rc=77 secs=0
  else
    [ -t 1 ] && printf '%s  %-30s ...' "$(stamp)" "$name"
    t0=$(date +%s.%N)
    # shellcheck disable=SC2016
    STAGE_DIR=$dir timeout -k 30 "$limit" bash -c 'set -uo pipefail; cd "$SRC"; "$@"' _ "$@" \
      >"$dir/log.txt" 2>&1 </dev/null &
    CUR=$!
    wait "$CUR"
    rc=$?
    while kill -0 "$CUR" 2>/dev/null; do wait "$CUR"; rc=$?; done   # a signal interrupted wait
    CUR=""
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    case $rc in
      0) status=pass;;
      77) status=skip;;
      124|137) status=fail; echo "timed out after ${limit} s (stage limit)" >"$dir/reason";;
      *) status=fail; ((INTERRUPTED)) && echo "interrupted" >"$dir/reason";;
    esac
  fi
  echo "$status" >"$dir/status"
  python3 "$REPORT_PY" record --dir "$dir" --name "$name" --status "$status" --exit "$rc" \
    --seconds "$secs" --limit "$limit" --command "$*" >"$dir/record.txt" 2>&1 || cat "$dir/record.txt"
  [ "$status" = fail ] && NFAIL=$((NFAIL + 1))
  if ((!INTERRUPTED)) || [ "$status" != skip ]; then
    printf '%s%s  %-30s %-4s %7ss  %s\n' "$([ -t 1 ] && printf '\r')" "$(stamp)" "$name" "$status" "$secs" "$(head -c 110 "$dir/summary" 2>/dev/null)"
  fi
}

START=$(date +%s)
((LIST)) || {
  echo "date=$(date +%F)"
  echo "started=$(date -Iseconds)"
  echo "rev=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "dirty=$(git -C "$SRC" status --porcelain 2>/dev/null | grep -c .)"
  echo "host=$(uname -n) $(uname -r), $(nproc) cores"
  echo "budget=$BUDGET"
  echo "budget_given=$BUDGET_GIVEN"
  echo "seed=$SEED"
  echo "plant=$PLANT"
  echo "jobs=$JOBS"
  echo "build_root=${BUILD_ROOT:-$SRC}"
  echo "command=ci/nightly.sh $ARGS_GIVEN"
  echo "selftest=$SELFTEST"
} >"$OUT/meta.env"

# What corpora/ holds before the night: the regressions stage tells the fuzz campaigns'
# corpus merge apart from everything else.
((LIST || SELFTEST)) || (cd "$SRC" && find corpora -type f 2>/dev/null | sort >"$OUT/corpora-before.txt")

if ((LIST)); then
  fz=""; for t in $FUZZ_TARGETS; do v=FUZZ_S_$t; fz+="${fz:+ }$t ${!v}"; done
  echo "budget $BUDGET min: pool $POOL s; stress ${STRESS_S} s/profile, fuzz s/campaign per engine: $fz, asan ${ASAN_S} s/profile,"
  echo "tsan ${TSAN_S} s/profile, valgrind replay ${VG_REPLAY_S} s + stress ${VG_STRESS_S} s + preload ${VG_PRELOAD_S} s, coverage ${COV_S} s/profile; ctest: $CTEST_SCOPE"
fi
((LIST)) || echo "galloc nightly: budget ${BUDGET} min, seed $SEED${PLANT:+, plant $PLANT}, out $OUT"

if ((SELFTEST)); then
  run_stage self.pass 60 st_self_pass
  run_stage self.fail 60 st_self_fail
  run_stage self.skip 60 st_self_skip
  run_stage self.timeout "${NIGHTLY_SELFTEST_LIMIT:-2}" st_self_hang
  run_stage self.after 60 st_self_pass
else
  ((SETUP)) && run_stage setup 1800 st_setup
  for p in $PRESETS; do
    run_stage "build.$p" 3600 st_build "$p"
    run_stage "test.$p" 5400 st_test "$p"
  done
  for prof in $PROFILES; do
    run_stage "stress.$prof" $((STRESS_S + 300)) st_stress "$prof"
  done
  run_stage asan.stress $((NPROF * (ASAN_S + 120))) st_asan_stress
  run_stage asan.uaf-plant 600 st_asan_uaf
  run_stage tsan.stress $((NPROF * (TSAN_S + 120))) st_tsan_stress
  run_stage valgrind.replay $((VG_REPLAY_S + 600)) st_valgrind_replay
  run_stage valgrind.stress $((VG_STRESS_S + 600)) st_valgrind_stress
  run_stage valgrind.preload $((VG_PRELOAD_S + 300)) st_valgrind_preload
  run_stage valgrind.uaf-plant 600 st_valgrind_uaf
  run_stage build.sched 3600 st_build sched
  run_stage sched.table 6000 st_sched_table
  run_stage build.sched-tsan 3600 st_build sched-tsan
  run_stage sched-tsan.replays 3600 st_sched_tsan
  run_stage build.fuzz 3600 st_build fuzz
  run_stage build.afl 3600 st_build afl
  for engine in $FUZZ_ENGINES; do
    for t in $FUZZ_TARGETS; do
      v=FUZZ_S_$t
      run_stage "fuzz.$engine.$t" $((${!v} * 2 + 1200)) st_fuzz "$engine" "$t"
    done
  done
  run_stage build.coverage 3600 st_build coverage
  run_stage coverage $((1800 + NPROF * COV_S * 3)) st_coverage
  run_stage coverage.fuzz $((1800 + FUZZ_S)) st_fuzz_coverage
  run_stage regressions 3600 st_regressions
fi
((LIST)) && exit 0

{
  echo "ended=$(date -Iseconds)"
  echo "wall_seconds=$(($(date +%s) - START))"
  echo "interrupted=$INTERRUPTED"
} >>"$OUT/meta.env"
echo
echo "${ORDER[*]}" >"$OUT/order.txt"
render_args=(--out "$OUT" --history "$HISTORY" --order "${ORDER[*]}")
((SELFTEST)) && render_args+=(--no-history)
python3 "$REPORT_PY" render "${render_args[@]}" ||
  { echo "nightly.sh: the report could not be written" >&2; NFAIL=$((NFAIL + 1)); }
((INTERRUPTED)) && exit 130
((NFAIL == 0)) && exit 0
exit 1
}
