#!/usr/bin/env bash
# tools/sched-release-diff.sh — shows that the schedule points of issue 15 (alloc/schedpoint.h)
# cost nothing outside the sched build: builds galloc_core and libgalloc.so in Release from
# the tree as it is and from the same tree with every GA_SCHED_POINT line removed and every
# GA_SPIN_LOCK / GA_MUTEX_LOCK wrapper spelled as the plain call, then compares `objdump -d`
# of every object file and of libgalloc.so. Exit 0: identical; 1: a difference (printed).
# Uses scratch dirs under ${TMPDIR:-/tmp}; never touches build/.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=${TMPDIR:-/tmp}/sched-release-diff.$$
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/plain" "$work/points"
(cd "$src" && tar -cf - alloc CMakeLists.txt tools/CMakeLists.txt tools/*.c 2>/dev/null) | tar -xf - -C "$work/points"
(cd "$src" && tar -cf - alloc CMakeLists.txt tools/CMakeLists.txt tools/*.c 2>/dev/null) | tar -xf - -C "$work/plain"
for d in points plain; do
  # only alloc/ and tools/: the harness is not part of this comparison
  sed -i -e '/^foreach(dir bench harness/,/^endforeach()/d' -e '/harness\/sched.cmake/d' "$work/$d/CMakeLists.txt"
done
rm "$work/plain/alloc/schedpoint.c"
for f in "$work"/plain/alloc/*.c; do
  sed -i -e '/GA_SCHED_POINT(/d' \
         -e 's/GA_SPIN_LOCK(h, \([^,]*\), "[^"]*")/ga_spin_lock(\1)/g' -e 's/GA_SPIN_UNLOCK(h, \([^)]*\))/ga_spin_unlock(\1)/g' \
         -e 's/GA_MUTEX_LOCK(h, \([^,]*\), "[^"]*")/pthread_mutex_lock(\1)/g' -e 's/GA_MUTEX_UNLOCK(h, \([^)]*\))/pthread_mutex_unlock(\1)/g' "$f"
done
if grep -n 'GA_SCHED_POINT\|GA_SPIN_\|GA_MUTEX_' "$work"/plain/alloc/*.c; then echo "sed missed a site" >&2; exit 1; fi
for d in points plain; do
  cmake -S "$work/$d" -B "$work/$d/b" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$work/$d/b" -j2 --target galloc_core galloc >/dev/null
done
status=0
for o in "$work"/plain/b/alloc/CMakeFiles/*/*.o "$work"/plain/b/lib/libgalloc.so; do
  n=${o/$work\/plain/$work\/points}
  objdump -d --no-show-raw-insn "$o" | sed 1,3d > "$work/a"
  objdump -d --no-show-raw-insn "$n" | sed 1,3d > "$work/b"
  rel=${o#$work/plain/b/}
  if cmp -s "$work/a" "$work/b"; then printf 'same  %-45s %6d instructions\n' "$rel" "$(grep -c '^ ' "$work/a" || true)"
  else printf 'DIFF  %s\n' "$rel"; diff "$work/a" "$work/b" | head -20; status=1; fi
done
exit $status
