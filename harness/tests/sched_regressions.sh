#!/usr/bin/env bash
# harness/tests/sched_regressions.sh REPLAY DIR [REPEAT] — ctest sched.regressions (issue 15).
# Every multi-threaded reproducer in DIR (text *.mt and binary *.mt.bin) is replayed by the
# sched build's galloc-replay: with the plant named in its "# found with: --alloc-plant P"
# line it must report the check named in its "# finding: CHECK" line, REPEAT times
# identically (same thread, op, decision, message and addresses); without the plant it must
# be clean. A binary copy is judged by its text twin's comments. An empty DIR fails.
set -u
replay=$1 dir=$2 repeat=${3:-100}
n=0 bad=0
for f in "$dir"/*.mt "$dir"/*.mt.bin; do
  [ -e "$f" ] || continue
  meta=${f%.bin}
  plant=$(sed -n 's/^# found with: --alloc-plant \([a-z-]*\).*/\1/p' "$meta" | head -1)
  check=$(sed -n 's/^# finding: \([a-z]*\).*/\1/p' "$meta" | head -1)
  if [ -z "$plant" ] || [ -z "$check" ]; then echo "FAIL $f: no 'found with' / 'finding' comment in $meta"; bad=1; continue; fi
  n=$((n + 1))
  out=$("$replay" --mt --alloc-plant "$plant" --repeat "$repeat" --expect "$check" "$f" 2>&1); rc=$?
  if [ $rc -ne 0 ] || ! grep -q "replayed $repeat times: $repeat identical" <<<"$out"; then
    echo "FAIL $f with --alloc-plant $plant (rc $rc):"; echo "$out" | head -8; bad=1
  else
    echo "ok   $f: $(grep -m1 FINDING <<<"$out") ($repeat/$repeat identical)"
  fi
  out=$("$replay" --mt "$f" 2>&1); rc=$?
  if [ $rc -ne 0 ]; then echo "FAIL $f without the plant must be clean (rc $rc):"; echo "$out" | head -5; bad=1
  else echo "ok   $f: clean without the plant"; fi
done
if [ $n -eq 0 ]; then echo "FAIL: no reproducers in $dir"; exit 1; fi
exit $bad
