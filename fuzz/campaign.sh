#!/usr/bin/env bash
# fuzz/campaign.sh — one command for a fuzz campaign against galloc (see fuzz/README.md).
#
#   fuzz/campaign.sh --engine libfuzzer|afl --target NAME [--minutes N] [--jobs N]
#                    [--plant NAME] [--until-crash] [--fresh] [--no-merge] [--max-len N]
#                    [--no-store] [--out DIR] [--sync DIR --role main|secondary]
#
# NAME: fuzz_ops | fuzz_span | fuzz_pagealloc | fuzz_text.
#  1. builds what it needs (presets release, and fuzz or afl) — incremental, cheap when built;
#  2. runs the engine on all cores (--jobs, default nproc):
#       libFuzzer: -fork workers (fuzz_ops: a "fast" group, 4 MiB budget, and a "wide" group,
#                  64 MiB budget and a full check every 16 ops), -ignore_crashes so one bug does
#                  not stop the search, the structure-aware mutator built in (fuzz_ops);
#       AFL++:     one -M main (custom mutator for fuzz_ops) and -S secondaries with varied
#                  options: CmpLog (-c, -l 2AT), ASan+UBSan build, MOpt (-L 0), power
#                  schedules; persistent mode with shared-memory test cases;
#     and prints progress (exec/s, corpus, crashes) every 15 s;
#  3. triages every crash: reproduces it with the standalone driver (the one-line
#     GALLOC-FINDING names the check/invariant: the de-duplication signature; sanitizer
#     crashes are keyed on the report kind and the top three frames), classifies it
#     (with --plant: "plant" if it goes away without GALLOC_PLANT, else a real bug),
#     minimizes it (fuzz_ops: gh_minimize via fuzz_ops_tool, keeping check and invariant;
#     others: -minimize_crash / afl-tmin, kept only if the signature survives), and stores it:
#       planted bug -> corpora/regressions/<target>/<plant>--<sig>--<hash>  (+ .txt, .md)
#                      ctest: fuzz.corpus.* replays it clean, fuzz.plant.* with the plant;
#       real bug    -> fuzz/findings/<target>/bug--<sig>--<hash>           (+ .txt, .md)
#                      (move to corpora/regressions/<target>/ once fixed);
#     .md = finding, replay commands and, for fuzz_ops, a C reproducer (gh_emit_c);
#  4. merges new coverage back into corpora/<target>/ (libFuzzer -merge=1 on edges, afl-cmin),
#     without the plant (fuzz/prune-corpus.sh shrinks a grown corpus again).
# --until-crash stops at the first crash that counts (with --plant: one caused by the plant)
# and prints the time it took. --no-store keeps findings in the output directory (CI).
# --fresh starts from a one-byte input instead of corpora/
# (to measure time-to-find from nothing). --sync DIR: AFL++ across machines — every machine
# uses the same shared DIR as -o; exactly one runs --role main (the -M instance).
# Output: fuzz/out/<target>-<engine>-<plant|noplant>-<date>/ (git-ignored).
# Exit status: 0 the campaign ran and found nothing new (with --plant: it found the plant and
# no new real bug); 1 it found something new (a signature not yet in corpora/regressions/ or
# fuzz/findings/, stored or not), or with --plant did not find the plant; 2 usage or build
# error; 130 interrupted. -h / --help prints this header and exits 0.
set -uo pipefail
{ # the whole script is one compound command: bash reads it completely before running it,
  # so editing this file while a campaign runs cannot derail that campaign
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

store=1 engine="" target="" minutes=10 jobs=$(nproc) plant="" until_crash=0 fresh=0 merge=1 max_len="" out="" sync="" role=main
# usage [STATUS]: the header comment (every line from the second to the first that is not a
# comment), on stdout for --help (exit 0), on stderr after a usage error (exit 2)
usage() {
  local rc=${1:-2}
  awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0" >&"$((rc ? 2 : 1))"
  exit "$rc"
}
bad() { echo "campaign: $*" >&2; usage 2; }
while (($#)); do
  case "$1" in
    --engine|--target|--minutes|--jobs|--plant|--max-len|--out|--sync|--role)
      (($# >= 2)) || bad "$1 needs a value";;
  esac
  case "$1" in
    --engine) engine=$2; shift 2;;
    --target) target=$2; shift 2;;
    --minutes) minutes=$2; shift 2;;
    --jobs) jobs=$2; shift 2;;
    --plant) plant=$2; shift 2;;
    --until-crash) until_crash=1; shift;;
    --fresh) fresh=1; shift;;
    --no-merge) merge=0; shift;;
    --no-store) store=0; shift;;
    --max-len) max_len=$2; shift 2;;
    --out) out=$2; shift 2;;
    --sync) sync=$2; shift 2;;
    --role) role=$2; shift 2;;
    -h|--help) usage 0;;
    *) bad "unknown argument '$1'";;
  esac
done
case "$engine" in libfuzzer|afl) ;; *) bad "--engine libfuzzer|afl";; esac
case "$target" in fuzz_ops|fuzz_span|fuzz_pagealloc|fuzz_text) ;; *) bad "--target fuzz_ops|fuzz_span|fuzz_pagealloc|fuzz_text";; esac
case "$role" in main|secondary) ;; *) bad "--role main|secondary";; esac
[[ "$minutes" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "campaign: --minutes N" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "campaign: --jobs N" >&2; exit 2; }
[ -z "$max_len" ] || [[ "$max_len" =~ ^[1-9][0-9]*$ ]] || { echo "campaign: --max-len N" >&2; exit 2; }
secs=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
((secs > 0)) || secs=1
if [ -z "$max_len" ]; then
  case "$target" in fuzz_ops) max_len=1024;; fuzz_text) max_len=2048;; *) max_len=512;; esac
fi
say() { printf '[campaign %5ss] %s\n' "$(( $(date +%s) - ${T0:-$(date +%s)} ))" "$*"; }
die() { echo "campaign: $*" >&2; exit 2; }

# ---- build ---------------------------------------------------------------------------------
build_preset() {
  cmake --preset "$1" >/dev/null || die "cmake --preset $1 failed"
  cmake --build --preset "$1" >/dev/null || die "cmake --build --preset $1 failed (run it to see why)"
}
echo "campaign: building presets release and $([ "$engine" = afl ] && echo afl || echo fuzz) (incremental)"
build_preset release
REL=$ROOT/build/bin
if [ "$engine" = libfuzzer ]; then
  build_preset fuzz
  LF=$ROOT/build-fuzz/bin/$target.libfuzzer
else
  command -v afl-fuzz >/dev/null || die "afl-fuzz not found (bash ci/setup.sh)"
  build_preset afl
  AFLB=$ROOT/build-afl/bin/$target.afl
  [ -x "$ROOT/build-fuzz/bin/$target.libfuzzer" ] && LF=$ROOT/build-fuzz/bin/$target.libfuzzer || LF=""
fi
STANDALONE=$REL/$target
if [ -n "$plant" ]; then
  GALLOC_PLANT=$plant "$STANDALONE" -q /dev/null >/dev/null 2>&1
  [ $? -eq 2 ] && { GALLOC_PLANT=$plant "$STANDALONE" -q /dev/null; exit 2; }
fi

# ---- layout --------------------------------------------------------------------------------
stamp=$(date +%Y%m%d-%H%M%S)
[ -n "$out" ] || out=$ROOT/fuzz/out/$target-$engine-${plant:-noplant}-$stamp
mkdir -p "$out/corpus" "$out/crashes" "$out/logs" "$out/triage" || die "cannot create $out"
out=$(cd "$out" && pwd)
if ((fresh)); then
  mkdir -p "$out/seed"
  printf '\0' >"$out/seed/one-byte"
  seeds=$out/seed
else
  seeds=$ROOT/corpora/$target
  [ -d "$seeds" ] && [ -n "$(ls -A "$seeds" 2>/dev/null)" ] || { mkdir -p "$out/seed"; printf '\0' >"$out/seed/one-byte"; seeds=$out/seed; }
fi
dict=""
case "$target" in
  fuzz_ops) dict=$ROOT/fuzz/dict/ops_binary.dict;;
  fuzz_text) dict=$ROOT/fuzz/dict/ops_text.dict;;
esac
plantenv=()
[ -n "$plant" ] && plantenv=(GALLOC_PLANT="$plant")
# executor settings of fuzz_ops instances (ignored by the other targets)
cfg_fast="GALLOC_FUZZ_BUDGET=4m"
cfg_wide="GALLOC_FUZZ_BUDGET=64m GALLOC_FUZZ_CHECK_EVERY=16"
[ "$target" = fuzz_ops ] || { cfg_fast=""; cfg_wide=""; }

pids=()
start_bg() {  # start_bg LOG CMD... — own process group, so stop() ends exactly what we started
  local log=$1; shift
  setsid "$@" >"$log" 2>&1 </dev/null &
  pids+=($!)
}
stop() {
  local p
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
  sleep 2
  for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
  wait 2>/dev/null
}
trap 'echo; say "interrupted: stopping fuzzers"; stop; exit 130' INT TERM

# instance table: name|config — used by triage to rerun a crash in the setting that found it
declare -A inst_cfg

# ---- start ---------------------------------------------------------------------------------
T0=$(date +%s)
echo "$T0" >"$out/start-time"
say "engine $engine, target $target, ${minutes} min, $jobs job(s), plant ${plant:-none}, seeds $seeds, output $out"
if [ "$engine" = libfuzzer ]; then
  lfargs=(-ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -max_total_time="$secs" -timeout=30
          -rss_limit_mb=4096 -malloc_limit_mb=4096 -max_len="$max_len" -print_final_stats=1)
  [ -n "$dict" ] && lfargs+=(-dict="$dict")
  if [ "$target" = fuzz_ops ] && ((jobs >= 2)); then
    groups=("fast:$(( (jobs + 1) / 2 )):$cfg_fast" "wide:$(( jobs / 2 )):$cfg_wide")
  else
    groups=("main:$jobs:$cfg_fast")
  fi
  for g in "${groups[@]}"; do
    name=${g%%:*}; rest=${g#*:}; k=${rest%%:*}; cfg=${rest#*:}
    inst_cfg[$name]=$cfg
    # shellcheck disable=SC2086
    start_bg "$out/logs/$name.log" env "${plantenv[@]}" $cfg "$LF" -fork="$k" "${lfargs[@]}" \
      -artifact_prefix="$out/crashes/$name-" "$out/corpus" "$seeds"
    say "libFuzzer group '$name': $k worker(s) ${cfg:+($cfg)}"
  done
else
  export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_FAST_CAL=1 AFL_NO_AFFINITY=1
  export AFL_ALLOW_TMP=1   # afl-cmin / afl-tmin refuse /tmp output directories otherwise
  host=$(hostname -s 2>/dev/null || echo host)
  aflout=${sync:-$out/afl}
  mkdir -p "$aflout"
  mutator=""
  [ "$target" = fuzz_ops ] && mutator=$ROOT/build/lib/libgalloc_afl_mutator.so
  [ -n "$dict" ] && xdict=(-x "$dict") || xdict=()
  tmo=(-t 20000+)
  # secondaries, in order of use: name | extra afl-fuzz args | binary suffix | config | env
  sec=("cmplog|-c $ROOT/build-afl/bin/$target.afl-cmplog -l 2AT|.afl|wide|"
       "asan|-m none|.afl-asan|fast|"
       "mopt|-L 0|.afl|wide|"
       "explore|-p explore|.afl|fast|"
       "exploit|-p exploit|.afl|wide|"
       "coe|-p coe|.afl|fast|"
       "rare|-p rare|.afl|wide|")
  n=0
  if [ "$role" = main ]; then
    inst_cfg[main-$host]=$cfg_fast
    # shellcheck disable=SC2086
    start_bg "$out/logs/main-$host.log" env "${plantenv[@]}" $cfg_fast ${mutator:+AFL_CUSTOM_MUTATOR_LIBRARY=$mutator} \
      afl-fuzz -M "main-$host" -i "$seeds" -o "$aflout" -G "$max_len" -V "$secs" "${tmo[@]}" "${xdict[@]}" -- "$AFLB"
    say "AFL++ -M main-$host ${mutator:+(custom mutator) }${cfg_fast:+($cfg_fast)}"
    n=1
  fi
  i=0
  while ((n < jobs)); do
    IFS='|' read -r sname sargs ssuf scfgname senv <<<"${sec[$((i % ${#sec[@]}))]}"
    [ $i -ge ${#sec[@]} ] && sname=$sname$((i / ${#sec[@]}))
    iname=$sname-$host
    [ "$scfgname" = wide ] && scfg=$cfg_wide || scfg=$cfg_fast
    inst_cfg[$iname]=$scfg
    # the MOpt and explore instances also use the structure-aware mutator (with AFL++'s own havoc)
    mut=""
    [ -n "$mutator" ] && [[ "$sname" == mopt* || "$sname" == explore* ]] && mut="AFL_CUSTOM_MUTATOR_LIBRARY=$mutator"
    # shellcheck disable=SC2086
    start_bg "$out/logs/$iname.log" env "${plantenv[@]}" $scfg $senv $mut \
      afl-fuzz -S "$iname" -i "$seeds" -o "$aflout" -G "$max_len" -V "$secs" "${tmo[@]}" "${xdict[@]}" $sargs -- "$ROOT/build-afl/bin/$target$ssuf"
    say "AFL++ -S $iname: $sargs ${scfg:+($scfg)}"
    n=$((n + 1)); i=$((i + 1))
  done
fi
printf '%s\n' "${!inst_cfg[@]}" | while read -r k; do echo "$k=${inst_cfg[$k]}"; done >"$out/instances"

# ---- triage ------------------------------------------------------------------------------------
declare -A seen_file sig_first sig_class sig_file sig_inst sig_time sig_line
nuniq=0 found_target=0

crash_files() {
  if [ "$engine" = libfuzzer ]; then
    ls -1 "$out/crashes"/*crash-* 2>/dev/null
  else
    ls -1 "${aflout}"/*/crashes/id:* 2>/dev/null
  fi
}
instance_of() {  # crash path -> instance name
  if [ "$engine" = libfuzzer ]; then basename "$1" | sed 's/-crash-.*//'; else basename "$(dirname "$(dirname "$1")")"; fi
}
# run_finding ENVSTR FILE -> prints "sig<TAB>line" of the finding, or nothing if clean
run_finding() {
  local envs=$1 f=$2 err
  # shellcheck disable=SC2086
  err=$(env $envs timeout 300 "$STANDALONE" -q "$f" 2>&1 >/dev/null)
  local line
  line=$(grep -m1 '^GALLOC-FINDING' <<<"$err")
  if [ -n "$line" ]; then
    printf '%s\t%s\n' "$(sed 's/.* sig=\([^ ]*\).*/\1/' <<<"$line")" "$line"
    return
  fi
  # a sanitizer report or signal: take the kind and the top frames from a sanitizer build
  local sanbin=$LF
  [ -z "$sanbin" ] && [ "$engine" = afl ] && sanbin=$ROOT/build-afl/bin/$target.afl-asan
  [ -n "$sanbin" ] && [ -x "$sanbin" ] || return
  # shellcheck disable=SC2086
  err=$(env $envs ASAN_OPTIONS=symbolize=1:abort_on_error=1 timeout 300 "$sanbin" "$f" 2>&1)
  line=$(grep -m1 '^GALLOC-FINDING' <<<"$err")
  if [ -n "$line" ]; then
    printf '%s\t%s\n' "$(sed 's/.* sig=\([^ ]*\).*/\1/' <<<"$line")" "$line"
    return
  fi
  local summary frames
  summary=$(grep -m1 '^SUMMARY:' <<<"$err")
  [ -n "$summary" ] || summary=$(grep -m1 -E 'ERROR: (libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer)' <<<"$err")
  [ -n "$summary" ] || return
  frames=$(grep -E '^ *#[0-9]+ ' <<<"$err" | grep -v -E ' in (__|fuzzer::|abort|raise|gsignal|LLVMFuzzerTestOneInput|main|_start)' \
           | sed -n 's/.* in \([^ ]*\).*/\1/p' | head -3 | paste -sd/ -)
  local kind
  kind=$(sed -E 's/^SUMMARY: ([A-Za-z]+Sanitizer): ([^ ]+).*/\1-\2/; s/.*ERROR: //; s/ .*//' <<<"$summary")
  printf 'san/%s/%s\t%s\n' "$kind" "${frames:-?}" "$summary"
}

triage_new() {
  local f inst cfg res sig line cls key
  while read -r f; do
    [ -n "$f" ] || continue
    [ -n "${seen_file[$f]:-}" ] && continue
    seen_file[$f]=1
    inst=$(instance_of "$f")
    cfg=$(grep "^$inst=" "$out/instances" 2>/dev/null | head -1 | cut -d= -f2-)
    res=$(run_finding "${plantenv[*]} $cfg" "$f")
    if [ -z "$res" ] && [ -n "$cfg" ]; then res=$(run_finding "${plantenv[*]}" "$f"); cfg=""; fi
    if [ -z "$res" ]; then
      echo "$f: does not reproduce" >>"$out/triage/unreproducible"
      continue
    fi
    sig=${res%%$'\t'*}; line=${res#*$'\t'}
    cls=bug
    if [ -n "$plant" ] && [ -z "$(run_finding "$cfg" "$f")" ]; then cls=$plant; fi
    key="$cls|$sig"
    if [ -z "${sig_first[$key]:-}" ]; then
      sig_first[$key]=$f; sig_class[$key]=$cls; sig_file[$key]=$f; sig_inst[$key]=$inst; sig_line[$key]=$line
      sig_time[$key]=$(( $(stat -c %Y "$f") - T0 ))
      nuniq=$((nuniq + 1))
      say "NEW FINDING [$cls] $sig (instance $inst, ${sig_time[$key]} s): ${line:0:220}"
      if [ -z "$plant" ] || [ "$cls" = "$plant" ]; then found_target=1; fi
    elif [ "$(stat -c %s "$f")" -lt "$(stat -c %s "${sig_file[$key]}")" ]; then
      sig_file[$key]=$f   # keep the smallest input of each signature
    fi
    echo "$key	$f" >>"$out/triage/all"
  done < <(crash_files)
}

# ---- progress ---------------------------------------------------------------------------------
progress() {
  local el=$(( $(date +%s) - T0 )) eps=0 corp=0 ncr
  ncr=$(crash_files | wc -l)
  if [ "$engine" = libfuzzer ]; then
    local l
    local l e
    for l in "$out"/logs/*.log; do
      [ "$(basename "$l")" = merge.log ] && continue
      # fork mode: "#EXECS: cov: .. exec/s R .. time: Ts job: .."; single process: "exec/s: R"
      e=$(grep -E '^#[0-9]+: .* time: [0-9]+s' "$l" 2>/dev/null | tail -1 |
          sed -E 's/^#([0-9]+):.* time: ([0-9]+)s.*/\1 \2/' | awk '$2 > 0 { printf "%d", $1 / $2 }')
      [ -n "$e" ] || e=$(grep -o 'exec/s: [0-9]*' "$l" 2>/dev/null | tail -1 | awk '{print $2}')
      eps=$((eps + ${e:-0}))
    done
    corp=$(ls -1 "$out/corpus" 2>/dev/null | wc -l)
  else
    local s
    for s in "$aflout"/*/fuzzer_stats; do
      [ -f "$s" ] || continue
      local e c
      e=$(awk -F: '/^execs_per_sec/ {gsub(/ /,"",$2); v = $2 + 0; if (v > 0 && v < 1e8) printf "%d", v; else print 0}' "$s")
      c=$(awk -F: '/^corpus_count/ {gsub(/ /,"",$2); print $2}' "$s")
      eps=$((eps + ${e:-0})); ((${c:-0} > corp)) && corp=$c
    done
  fi
  say "$engine $target: ${eps} exec/s (sum), corpus $corp, crash files $ncr, unique findings $nuniq"
}

alive() { local p; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }

last_progress=0
while alive; do
  sleep 5
  now=$(date +%s)
  if ((until_crash)); then
    triage_new
    if ((found_target)); then say "stopping: the first counting crash is in"; break; fi
  fi
  if ((now - last_progress >= 15)); then progress; last_progress=$now; fi
  ((now - T0 >= secs + 30)) && break
done
stop
progress
triage_new
trap - INT TERM

# ---- minimize and store -----------------------------------------------------------------------
slug() { tr '/ :' '___' <<<"$1" | tr -cd 'A-Za-z0-9_.-'; }
stored=()
nnew=0 nnew_bug=0   # findings whose signature the tree does not hold yet (the exit status)
for key in "${!sig_first[@]}"; do
  cls=${sig_class[$key]}; sig=${key#*|}; f=${sig_file[$key]}; inst=${sig_inst[$key]}
  # known: the tree holds this signature already (looked up with --no-store too, for the exit
  # status; --no-store still minimizes and stores known ones into the output directory, where
  # ci/nightly.sh lists them as known)
  known=$(ls -1 "$ROOT/corpora/regressions/$target/$cls--$(slug "$sig")--"* "$ROOT/fuzz/findings/$target/$cls--$(slug "$sig")--"* 2>/dev/null | grep -v '\.\(md\|txt\)$' | head -1)
  if [ -n "$known" ] && ((store)); then
    stored+=("[$cls] $sig: already stored as ${known#"$ROOT"/} (found again at ${sig_time[$key]} s)")
    say "known [$cls] $sig: ${known#"$ROOT"/} (not stored again)"
    continue
  fi
  if [ -z "$known" ]; then
    nnew=$((nnew + 1))
    [ "$cls" = bug ] && nnew_bug=$((nnew_bug + 1))
  fi
  cfg=$(grep "^$inst=" "$out/instances" 2>/dev/null | head -1 | cut -d= -f2-)
  if [ "$cls" = bug ]; then envrun="$cfg"; canon=""; else envrun="${plantenv[*]} $cfg"; canon="${plantenv[*]}"; fi
  tmp=$out/triage/$(slug "$sig")
  mkdir -p "$tmp"
  cp "$f" "$tmp/original"
  minimized=$tmp/original
  mtext=""
  if [ "$target" = fuzz_ops ]; then
    # shellcheck disable=SC2086
    if env $envrun "$REL/fuzz_ops_tool" minimize "$f" -o "$tmp/min.txt" --binary-out "$tmp/min.bin" --max-runs 20000 >"$tmp/minimize.log" 2>&1; then
      # shellcheck disable=SC2086
      msig=$(env $envrun "$REL/fuzz_ops_tool" run "$tmp/min.bin" | sed -n 's/.* sig=\([^ ]*\).*/\1/p')
      if [ "$msig" = "$sig" ]; then minimized=$tmp/min.bin; mtext=$tmp/min.txt; fi
    fi
  else
    if [ -n "${LF:-}" ] && [ -x "$LF" ]; then
      # shellcheck disable=SC2086
      env $envrun "$LF" -minimize_crash=1 -runs=20000 -exact_artifact_path="$tmp/min.bin" "$f" >"$tmp/minimize.log" 2>&1
    elif [ "$engine" = afl ]; then
      # shellcheck disable=SC2086
      env $envrun afl-tmin -i "$f" -o "$tmp/min.bin" -t 20000 -- "$AFLB" >"$tmp/minimize.log" 2>&1
    fi
    if [ -s "$tmp/min.bin" ] && [ "$(run_finding "$envrun" "$tmp/min.bin" | cut -f1)" = "$sig" ]; then
      minimized=$tmp/min.bin
    fi
  fi
  # a stored regression must reproduce with the canonical settings (the standalone driver's
  # defaults, what ctest uses), not only with the campaign instance's cheaper ones
  # accepted as a regression when the canonical replay fails with the plant (any check: with
  # a full check after every op the same bug may surface at an earlier check) and, for a
  # planted bug, runs clean without it
  canon_ok() {
    [ -n "$(run_finding "$canon" "$1")" ] || return 1
    [ "$cls" = bug ] || [ -z "$(run_finding "" "$1")" ]
  }
  ok=0
  if canon_ok "$minimized"; then ok=1
  elif [ "$minimized" != "$f" ] && canon_ok "$f"; then ok=1; minimized=$f; mtext=""
  fi
  csig=$(run_finding "$canon" "$minimized" | cut -f1)
  hash=$(sha1sum "$minimized" | cut -c1-8)
  name="$cls--$(slug "$sig")--$hash"
  if [ "$cls" != bug ] && ((ok)); then
    dest=$ROOT/corpora/regressions/$target
  else
    dest=$ROOT/fuzz/findings/$target
  fi
  ((store)) || dest=$out/stored/${dest#"$ROOT"/}
  mkdir -p "$dest"
  cp "$minimized" "$dest/$name"
  if [ "$target" = fuzz_ops ]; then
    if [ -n "$mtext" ]; then cp "$mtext" "$dest/$name.txt"; else "$REL/galloc-replay" --fuzz-input --to-text -o "$dest/$name.txt" "$dest/$name" >/dev/null 2>&1; fi
    # shellcheck disable=SC2086
    env ${canon} "$REL/fuzz_ops_tool" emit-c "$dest/$name" -o "$tmp/repro.c" >/dev/null 2>&1
  fi
  rel=${dest#"$ROOT"/}
  {
    echo "# $target finding: \`$sig\`"
    echo
    if [ "$cls" = bug ]; then echo "- class: **allocator/harness bug** (reproduces without any plant)"; else echo "- class: planted bug \`$cls\` (runs clean without GALLOC_PLANT)"; fi
    echo "- found: $(date -d "@$(stat -c %Y "$f")" '+%F %T'), ${sig_time[$key]} s into a $engine campaign (instance \`$inst\`${cfg:+, \`$cfg\`})"
    if ((ok == 0)); then echo "- note: does not reproduce with the canonical settings (found with \`$cfg\`; canonical replay: ${csig:-clean})"
    elif [ "$csig" != "$sig" ]; then echo "- canonical replay (a full check after every op) reports it as \`$csig\`"; fi
    echo "- finding: \`${sig_line[$key]}\`"
    echo "- input: \`$rel/$name\` ($(stat -c %s "$dest/$name") bytes, minimized from $(stat -c %s "$f"))"
    echo
    echo "## Replay"
    echo
    echo '```sh'
    echo "${canon:+$canon }build/bin/$target $rel/$name${cfg:+   # found with: $cfg}"
    if [ "$target" = fuzz_ops ]; then
      echo "${canon:+$canon }build/bin/fuzz_ops_tool run $rel/$name.txt"
      if [ "$cls" = bug ]; then
        echo "build/bin/galloc-replay --check-every 1 -v $rel/$name.txt"
      else
        echo "build/bin/galloc-replay --check-every 1 --alloc-plant $cls -v $rel/$name.txt"
        echo "build/bin/galloc-replay --check-every 1 $rel/$name.txt   # without the plant: clean"
      fi
    fi
    echo "build-fuzz/bin/$target.libfuzzer $rel/$name"
    echo '```'
    if [ -n "$mtext" ] || [ -f "$dest/$name.txt" ]; then
      echo; echo "## Minimized op sequence"; echo; echo '```'; cat "$dest/$name.txt"; echo '```'
    fi
    if [ -s "$tmp/repro.c" ]; then
      echo; echo "## C reproducer (gh_emit_c)"; echo
      echo "Build: \`cc -std=c11 -D_GNU_SOURCE -Ialloc repro.c -Lbuild/lib -lgalloc_core -lpthread\` (exit 1 = reproduced)."
      echo; echo '```c'; cat "$tmp/repro.c"; echo '```'
    fi
  } >"$dest/$name.md"
  stored+=("[$cls] $sig -> $rel/$name (found at ${sig_time[$key]} s)")
  say "stored [$cls] $sig -> $rel/$name"
  if [ "$cls" != bug ]; then
    say "  replay: GALLOC_PLANT=$cls build/bin/$target $rel/$name   (must find) ; build/bin/$target $rel/$name   (must be clean)"
  else
    say "  replay: build/bin/$target $rel/$name"
  fi
done

# ---- merge coverage back into corpora/ -------------------------------------------------------
# Inputs of fuzz_span / fuzz_pagealloc / fuzz_text sit in corpora/ where ctest's harness.corpus
# also replays every file with galloc-replay (as op sequences); until that test walks only op
# corpora, an input galloc-replay rejects or finds a bug in is not added (see README).
replay_ok() { [ "$target" = fuzz_ops ] && return 0; "$REL/galloc-replay" -q --check-every 1 "$1" >/dev/null 2>&1; }
if ((merge)); then
  dst=$ROOT/corpora/$target
  mkdir -p "$dst"
  before=$(ls -1 "$dst" | wc -l)
  cand=$out/merge-new
  rm -rf "$cand"; mkdir -p "$cand"
  declare -A have
  for f in "$dst"/*; do [ -f "$f" ] && have[$(sha1sum "$f" | cut -d' ' -f1)]=1; done
  if [ "$engine" = libfuzzer ]; then
    # -merge=1 into an empty directory: the smallest set covering the edges of corpora/ and
    # the campaign corpus (-use_counters=0: edges, not hit-count buckets, which would keep
    # ~7x more files); the files corpora/ does not hold yet are the candidates
    mkdir -p "$out/merge-tmp"
    "$LF" -merge=1 -use_counters=0 -timeout=60 -rss_limit_mb=4096 -malloc_limit_mb=4096 -merge_control_file="$out/merge.ctl" \
      "$out/merge-tmp" "$dst" "$out/corpus" >"$out/logs/merge.log" 2>&1 ||
      say "libFuzzer -merge failed (see $out/logs/merge.log)"
    mdir=$out/merge-tmp
  else
    mkdir -p "$out/cmin-in"
    for f in "$dst"/* "$aflout"/*/queue/id:*; do [ -f "$f" ] && cp "$f" "$out/cmin-in/$(sha1sum "$f" | cut -d' ' -f1)"; done
    rm -rf "$out/cmin-out"
    afl-cmin -i "$out/cmin-in" -o "$out/cmin-out" -t 20000 -- "$AFLB" >"$out/logs/cmin.log" 2>&1 ||
      say "afl-cmin failed (see $out/logs/cmin.log): nothing merged"
    mdir=$out/cmin-out
  fi
  for f in "$mdir"/*; do
    [ -f "$f" ] || continue
    h=$(sha1sum "$f" | cut -d' ' -f1)
    [ -n "${have[$h]:-}" ] || cp "$f" "$cand/$h"
  done
  skipped=0
  for f in "$cand"/*; do
    [ -f "$f" ] || continue
    # never add an input that fails the standalone replay (ctest fuzz.corpus.*) without a plant
    if [ -n "$(run_finding "" "$f")" ] || ! replay_ok "$f"; then skipped=$((skipped + 1)); continue; fi
    cp "$f" "$dst/"
  done
  after=$(ls -1 "$dst" | wc -l)
  say "merged into corpora/$target: $before -> $after files ($skipped candidate(s) left out: they fail a replay)"
fi

# ---- summary ------------------------------------------------------------------------------------
echo
echo "== campaign summary: $engine $target, plant ${plant:-none}, $(( $(date +%s) - T0 )) s, output $out"
if ((${#stored[@]})); then printf '  %s\n' "${stored[@]}"; else echo "  no findings"; fi
[ -s "$out/triage/unreproducible" ] && echo "  unreproducible crash files: $(wc -l <"$out/triage/unreproducible") (list: $out/triage/unreproducible)"
plant_found=0
if [ -n "$plant" ]; then
  if ((found_target)) || printf '%s\n' "${stored[@]}" | grep -q "^\[$plant\]"; then
    plant_found=1
    t=$(for key in "${!sig_first[@]}"; do [ "${sig_class[$key]}" = "$plant" ] && echo "${sig_time[$key]}"; done | sort -n | head -1)
    echo "  plant $plant: FOUND after ${t:-?} s"
  else
    echo "  plant $plant: not found"
  fi
fi
if [ "$engine" = afl ]; then
  for st in "$aflout"/*/fuzzer_stats; do
    [ -f "$st" ] && awk -F: -v n="$(basename "$(dirname "$st")")" '{gsub(/^ +| +$/,"",$1); gsub(/^ +| +$/,"",$2); v[$1]=$2}
      END {printf "  AFL++ %-14s %9s execs, %8s exec/s, stability %s, corpus %s\n", n, v["execs_done"], v["execs_per_sec"], v["stability"], v["corpus_count"]}' "$st"
  done
else
  for l in "$out"/logs/*.log; do
    [ "$(basename "$l")" = merge.log ] && continue
    grep -E '^#[0-9]+: .* time: [0-9]+s' "$l" | tail -1 | sed -E 's/^#([0-9]+):.*corp: ([0-9]+).* time: ([0-9]+)s.*/\1 \2 \3/' |
      awk -v n="$(basename "$l" .log)" '$3 > 0 {printf "  libFuzzer %-10s %9d execs in %d s: %d exec/s, corpus %d\n", n, $1, $3, $1 / $3, $2}'
  done
fi
# the verdict (see the header): without --plant any new finding fails; with --plant the plant
# is the expected finding, and a new real bug or a missed plant fails
if [ -n "$plant" ]; then
  if ((!plant_found)); then echo "== exit 1: plant $plant not found"; exit 1; fi
  if ((nnew_bug)); then echo "== exit 1: $nnew_bug new real bug(s)"; exit 1; fi
elif ((nnew)); then
  echo "== exit 1: $nnew new finding(s)"; exit 1
fi
echo "== exit 0: nothing new"
exit 0
}
