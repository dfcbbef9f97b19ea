#!/usr/bin/env bash
# programs.sh — run a real program's allocation-heavy workload twice, on glibc's malloc and
# under LD_PRELOAD=libgalloc.so, and require byte-identical stdout and the same exit status.
# Prints wall time and peak RSS of both runs. A program that is not installed is skipped
# (exit 77, "skipped").
#
# usage: programs.sh RUNPROG LIBGALLOC SRCDIR WORKLOAD
#   WORKLOAD: python3 perl sort xz sqlite3 git gcc
set -uo pipefail
runprog=$1 lib=$2 src=$3 workload=$4

skip() { echo "$workload: skipped ($1)"; exit 77; }
need() { command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed"; }

[ -f "$lib" ] || { echo "$workload: $lib missing"; echo "0 passed, 1 failed"; exit 1; }
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
lib=$(abspath "$lib") runprog=$(abspath "$runprog") src=$(abspath "$src")
work=$(mktemp -d "${TMPDIR:-/tmp}/galloc-preload.XXXXXX")
trap 'rm -rf "$work"' EXIT
export LC_ALL=C TZ=UTC PYTHONHASHSEED=0 HOME=$work/home
mkdir -p "$work/home"

# Each workload is a bash script: run as `bash -c SCRIPT`, so bash, the program and every
# helper in a pipeline run on the allocator under test.
case $workload in
python3)
  py=$(command -v /usr/bin/python3 || command -v python3) || skip "python3 is not installed"
  script="PYTHONMALLOC=malloc $py $src/workload.py" ;;
perl)
  need perl
  script=$(cat <<'EOF'
perl -e '
  my %h;
  for my $i (1..100000) { $h{"k$i"} = [$i, "x" x ($i % 100), {a => $i, b => "v$i"}]; }
  my $s = 0; $s += length($h{$_}[1]) for keys %h; print "$s\n";
  my @k = sort keys %h; print "$k[0] $k[-1] ", scalar(@k), "\n";
  my $str = ""; $str .= "$_," for 1..200000; print length($str), "\n";
  delete $h{"k$_"} for 1..50000; print scalar(keys %h), "\n";
  my @w = split /,/, $str; my %c; $c{$_ % 1000}++ for @w; print scalar(@w), " ", scalar(keys %c), "\n";
  my @sorted = sort { $a <=> $b } map { ($_ * 7919) % 100003 } 1..150000; print "$sorted[0] $sorted[-1]\n";'
EOF
) ;;
sort)
  need sort
  "$runprog" gen 20000000 7 > "$work/in.txt" || exit 1
  script="sort $work/in.txt && sort -k2,2n -k1,1 -S 8M $work/in.txt | md5sum" ;;
xz)
  need xz
  "$runprog" gen 2000000 11 > "$work/in.txt" || exit 1
  script="xz -T2 -3 -c $work/in.txt > \$XZOUT && xz -dc \$XZOUT | md5sum && md5sum < \$XZOUT && head -c 300000 $work/in.txt | xz -7 -T1 | xz -dc | md5sum" ;;
sqlite3)
  need sqlite3
  cat > "$work/q.sql" <<'EOF'
PRAGMA cache_size = -65536;
CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c REAL, d BLOB);
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 150000)
INSERT INTO t SELECT i, printf('%08x-%s', (i * 2654435761) % 4294967296, substr('abcdefghijklmnopqrstuvwxyz', 1, i % 26)),
                  i * 0.5, zeroblob(i % 100) FROM r;
CREATE INDEX tb ON t(b);
SELECT count(*), sum(length(b)), sum(c), sum(length(d)) FROM t;
SELECT b FROM t ORDER BY b LIMIT 5;
SELECT substr(b, 1, 2) AS k, count(*) FROM t GROUP BY k ORDER BY k LIMIT 10;
UPDATE t SET b = b || 'z' WHERE a % 3 = 0;
DELETE FROM t WHERE a % 5 = 0;
SELECT count(*), max(b), min(b) FROM t;
SELECT group_concat(a) FROM (SELECT a FROM t WHERE b LIKE '%xyz%' ORDER BY a LIMIT 20);
EOF
  script="sqlite3 :memory: < $work/q.sql" ;;
git)
  need git
  "$runprog" gen 3000000 5 > "$work/in.txt" || exit 1
  script=$(cat <<EOF
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t \
  GIT_COMMITTER_EMAIL=t@example.com GIT_AUTHOR_DATE=2020-01-01T00:00:00Z GIT_COMMITTER_DATE=2020-01-01T00:00:00Z
r=\$REPO; rm -rf "\$r"; mkdir -p "\$r" && cd "\$r" && git init -q . &&
split -n 200 -d -a 3 $work/in.txt f && mkdir d && split -l 500 -a 3 $work/in.txt d/g &&
git add -A && git commit -q -m one &&
for f in f00*; do sort -o \$f \$f; done && git add -A && git commit -q -m two &&
git -c pack.threads=2 repack -adq -f && git rev-parse HEAD && git ls-tree -r HEAD | md5sum &&
git log --stat --format=%H%n%s | md5sum && git fsck --no-progress --strict && git count-objects -v | grep -v size &&
git diff HEAD~1 --stat | tail -1 && git grep -c galloc HEAD -- 'f00*' | md5sum
EOF
) ;;
gcc)
  need gcc
  script="gcc -O2 -frandom-seed=1 -I$src/../.. -c $src/../../pagealloc.c -o \$OBJ && md5sum < \$OBJ" ;;
*) echo "unknown workload $workload"; echo "0 passed, 1 failed"; exit 1 ;;
esac

# The library must really be in effect: it reports its heap at exit with stats=1.
probe=$(LD_PRELOAD=$lib GALLOC_OPTIONS=stats=1 "$BASH" -c "exit 0" 2>&1)
if [[ $probe != *"galloc heap:"* ]]; then
  echo "$workload: LD_PRELOAD=$lib is not in effect"; echo "0 passed, 1 failed"; exit 1
fi

fail=0
declare -A wall cpu rss status
for mode in glibc galloc; do
  pre=(); [ $mode = galloc ] && pre=(--preload "$lib")
  export XZOUT=$work/$mode.xz REPO=$work/repo-$mode OBJ=$work/$mode.o
  read -r wall[$mode] cpu[$mode] rss[$mode] status[$mode] < <("$runprog" run "${pre[@]}" "$work/$mode.out" "$BASH" -c "$script" 2> >(sed "s/^/[$mode] /" >&2))
  if [ -z "${status[$mode]:-}" ]; then echo "$workload: $mode run did not report"; fail=1; fi
done
printf '%s: glibc %6.2f s wall %6.2f s cpu %7d KiB | galloc %6.2f s wall %6.2f s cpu %7d KiB | stdout %d bytes\n' \
  "$workload" "${wall[glibc]:-0}" "${cpu[glibc]:-0}" "${rss[glibc]:-0}" "${wall[galloc]:-0}" "${cpu[galloc]:-0}" \
  "${rss[galloc]:-0}" "$(stat -c %s "$work/glibc.out")"
if [ "${status[glibc]:-x}" != "${status[galloc]:-y}" ]; then
  echo "$workload: exit status differs: glibc ${status[glibc]:-?}, galloc ${status[galloc]:-?}"; fail=1
fi
if [ "${status[glibc]:-1}" != 0 ]; then echo "$workload: the glibc run itself failed (${status[glibc]:-?})"; fail=1; fi
if ! cmp -s "$work/glibc.out" "$work/galloc.out"; then
  echo "$workload: stdout differs between glibc and galloc:"; diff "$work/glibc.out" "$work/galloc.out" | head -20; fail=1
fi
if [ $fail = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
