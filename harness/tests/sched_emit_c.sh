#!/usr/bin/env bash
# harness/tests/sched_emit_c.sh — ctest sched.emit_c (issue 15): galloc-replay --mt --emit-c
# on every stored multi-threaded reproducer (text *.mt in DIR) writes a C program that, built
# with the project's C compiler against the sched build's libraries, reports the very finding
# galloc-replay reports (same FINDING line: check, thread, op, decision, message with its
# addresses; exit 1) and runs clean with --no-plant (exit 0).
#
#   sched_emit_c.sh REPLAY CC SRCDIR LIBSCHED LIBCORE DIR WORKDIR [EXTRA_CFLAGS...]
set -u
replay=$1 cc=$2 src=$3 libsched=$4 libcore=$5 dir=$6 work=$7
shift 7
extra=("$@")
rm -rf "$work"; mkdir -p "$work"
n=0 bad=0
for f in "$dir"/*.mt; do
  [ -e "$f" ] || continue
  n=$((n + 1))
  name=$(basename "$f" .mt)
  plant=$(sed -n 's/^# found with: --alloc-plant \([a-z-]*\).*/\1/p' "$f" | head -1)
  [ -n "$plant" ] || { echo "FAIL $f: no 'found with' comment"; bad=1; continue; }
  c="$work/$name.c" exe="$work/$name"
  out=$("$replay" --mt --alloc-plant "$plant" --emit-c -o "$c" "$f" 2>&1)
  want=$(grep -A1 '^FINDING:' <<<"$out" | sed 's/ in [^ ]*: / in X: /')
  [ -n "$want" ] || { echo "FAIL $f: galloc-replay reports no finding:"; echo "$out"; bad=1; continue; }
  [ -s "$c" ] || { echo "FAIL $f: no C program written"; echo "$out"; bad=1; continue; }
  if ! "$cc" -std=c11 -Wall -Wextra -Werror "${extra[@]}" -I "$src/alloc" -I "$src/harness" "$c" \
        "$libsched" "$libcore" -lpthread -o "$exe" 2>"$work/$name.cc.txt"; then
    echo "FAIL $f: the emitted program does not compile:"; head -20 "$work/$name.cc.txt"; bad=1; continue
  fi
  got=$("$exe"); rc=$?
  gotf=$(grep -A1 '^FINDING:' <<<"$got" | sed 's/ in [^ ]*: / in X: /')
  if [ $rc -ne 1 ] || [ "$gotf" != "$want" ]; then
    echo "FAIL $f: the emitted program (rc $rc, want 1):"; echo "$got"; echo "galloc-replay:"; echo "$want"; bad=1; continue
  fi
  echo "ok   $f: the emitted program reports $(head -1 <<<"$gotf")"
  got=$("$exe" --no-plant); rc=$?
  if [ $rc -ne 0 ]; then echo "FAIL $f: the emitted program with --no-plant (rc $rc, want 0 clean):"; echo "$got"; bad=1
  else echo "ok   $f: clean with --no-plant"; fi
done
if [ $n -eq 0 ]; then echo "FAIL: no reproducers in $dir"; exit 1; fi
exit $bad
