#!/usr/bin/env bash
# harness/tests/sched_processes.sh REPLAY DIR [N] — exact replays across processes (issue 15):
# every multi-threaded reproducer in DIR (*.mt) is replayed by N separate galloc-replay --mt
# processes with its plant (from its "# found with: --alloc-plant P" line) and N without.
# With the plant every process must exit 1 with the identical output (the FINDING line and
# its detail: check, thread, op, decision, message, addresses); without, every process must
# exit 0 with the identical "clean" line. sched.regressions checks --repeat inside one
# process; this catches what differs between processes (ASLR: under TSan the arena hints
# must be in TSan's application range, alloc/internal.h GA_HINT_BASE). In a TSan build, run
# it with TSAN_OPTIONS="halt_on_error=1 exitcode=66": a report is exit 66, a failure here.
# Prints one line per reproducer and mode; exit 1 on any difference, 0 otherwise.
set -u
replay=$1 dir=$2 n=${3:-100}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0 files=0
for f in "$dir"/*.mt; do
  [ -e "$f" ] || continue
  files=$((files + 1))
  plant=$(sed -n 's/^# found with: --alloc-plant \([a-z-]*\).*/\1/p' "$f" | head -1)
  if [ -z "$plant" ]; then echo "FAIL $f: no 'found with' comment"; bad=1; continue; fi
  for mode in plant no-plant; do
    if [ $mode = plant ]; then args=(--alloc-plant "$plant"); want_rc=1; else args=(); want_rc=0; fi
    : >"$tmp/rcs"
    for i in $(seq 1 "$n"); do
      "$replay" --mt "${args[@]}" "$f" >"$tmp/out.$i" 2>&1
      echo $? >>"$tmp/rcs"
    done
    rcs=$(sort "$tmp/rcs" | uniq -c | tr -s ' ' | tr '\n' ',')
    distinct=$(for i in $(seq 1 "$n"); do md5sum <"$tmp/out.$i"; done | sort -u | wc -l)
    first=$(head -2 "$tmp/out.1" | tr '\n' ' ')
    if [ "$distinct" = 1 ] && [ "$(sort -u "$tmp/rcs")" = "$want_rc" ]; then
      echo "ok   $(basename "$f") [$mode]: $n/$n processes identical (exit $want_rc): $first"
    else
      echo "FAIL $(basename "$f") [$mode]: $distinct distinct outputs in $n processes, exit codes:$rcs want $want_rc"
      for i in $(seq 1 "$n"); do md5sum <"$tmp/out.$i"; done | sort | uniq -c | head -5
      first_bad=""
      for i in $(seq 2 "$n"); do cmp -s "$tmp/out.1" "$tmp/out.$i" || { first_bad=$tmp/out.$i; break; }; done
      echo "  first:"; head -4 "$tmp/out.1" | sed 's/^/    /'
      [ -n "$first_bad" ] && { echo "  another:"; head -4 "$first_bad" | sed 's/^/    /'; }
      bad=1
    fi
    rm -f "$tmp"/out.*
  done
done
[ $files -gt 0 ] || { echo "FAIL: no reproducers in $dir"; exit 1; }
exit $bad
