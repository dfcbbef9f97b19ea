#!/bin/bash
# bad_inputs.sh GALLOC_REPLAY CORPORA — galloc-replay rejects malformed inputs with exit 2
# and a message naming the problem (never replays them as something else), and still
# accepts good ones (exit 0). Every failure prints the command that reproduces it.
set -u
bin=$1 corp=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0
expect() {   # expect RC REGEX ARGS...   (REGEX is matched against stdout + stderr)
  local want=$1 re=$2; shift 2
  local out rc
  out=$("$bin" "$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -Eq -- "$re" <<<"$out"; then
    echo "FAIL: exit $rc (want $want), output must match /$re/:"; head -5 <<<"$out"
    echo "  reproduce: $bin $*"
    fails=$((fails + 1))
  else
    echo "ok   exit $rc: $(head -1 <<<"$out" | cut -c1-150)"
  fi
}
w() { printf "$2" > "$tmp/$1"; }   # w NAME PRINTF-FORMAT
w comment_first.txt '# a comment before the header\ngalloc-ops 1\nmalloc 5\n'
w upper.txt 'GALLOC-OPS 1\nmalloc 5\n'
w upper_noline.txt 'Galloc-Ops 1'
w blank_first.txt '\ngalloc-ops 1\nmalloc 5\n'
w no_header.txt 'malloc 5\nfree -1\n'
w version2.txt 'galloc-ops 2\nmalloc 5\n'
w version0.txt 'galloc-ops 0\nmalloc 5\n'
w no_version.txt 'galloc-ops\nmalloc 5\n'
w bad_op.txt 'galloc-ops 1\nmallocc 5\n'
w trunc_header.bin 'GAOP\001\000'                 # malloc, its size operand missing
w trunc_operand.bin 'GAOP\001\016\040\100'        # aligned 64, the size missing
w good.txt 'galloc-ops 1\n# comment\nmalloc 24 noscan\nfree -1\n'
w good_crlf.txt '\357\273\277galloc-ops 1\r\nmalloc 5\r\n'
w good.bin 'GAOP\001\000\005'                     # malloc 5
w fuzz_noheader.bin '\000'                        # fuzzer-made, no header: operands read as 0
mkdir "$tmp/empty" "$tmp/only_md"; : > "$tmp/only_md/README.md"

expect 2 "comment_first.txt:1:1: error: looks like a text op sequence, but its first line '# a comment before the header' is not 'galloc-ops 1'" "$tmp/comment_first.txt"
expect 2 "upper.txt:1:1: error: .*first line 'GALLOC-OPS 1' is not 'galloc-ops 1' \(the header is lower case\)" "$tmp/upper.txt"
expect 2 "upper_noline.txt:1:1: error: .*the header is lower case" "$tmp/upper_noline.txt"
expect 2 "blank_first.txt:1:1: error: looks like a text op sequence" "$tmp/blank_first.txt"
expect 2 "no_header.txt:1:1: error: .*first line 'malloc 5' is not 'galloc-ops 1'" "$tmp/no_header.txt"
expect 2 "version2.txt:1:12: error: unsupported text format version 2" "$tmp/version2.txt"
expect 2 "version0.txt:1:12: error: unsupported text format version 0" "$tmp/version0.txt"
expect 2 "no_version.txt:1:1: error: first line must be 'galloc-ops 1'" "$tmp/no_version.txt"
expect 2 "bad_op.txt:2:1: error: " "$tmp/bad_op.txt"
expect 2 "trunc_header.bin: error: truncated: the last op is cut short \(1 operand byte" "$tmp/trunc_header.bin"
expect 2 "trunc_operand.bin: error: truncated: the last op is cut short" "$tmp/trunc_operand.bin"
expect 2 "empty: error: directory holds no inputs" "$tmp/empty"
expect 2 "only_md: error: directory holds no inputs" "$tmp/only_md"
expect 2 "does-not-exist: No such file or directory" "$tmp/does-not-exist"
expect 2 "error" "$tmp/good.txt" "$tmp/upper.txt"          # one bad input fails the run
# what is accepted
expect 0 "ok .*good.txt: 2 ops" "$tmp/good.txt"
expect 0 "ok .*good_crlf.txt: 1 ops" "$tmp/good_crlf.txt"
expect 0 "ok .*good.bin: 1 ops" "$tmp/good.bin"
expect 0 "ok .*fuzz_noheader.bin" "$tmp/fuzz_noheader.bin"
expect 0 "ok .*trunc_header.bin: 1 ops" --fuzz-input "$tmp/trunc_header.bin"
expect 0 "ok .*upper.txt" --binary "$tmp/upper.txt"
expect 0 "skip .*empty: no inputs in it" --missing-ok "$tmp/empty"
expect 0 "skip .*does-not-exist: does not exist" --missing-ok "$tmp/does-not-exist"
expect 0 "0 finding\(s\), 0 error\(s\)" --check-every 1 "$corp/seeds/ops"
# an input read from a pipe loses nothing: the mode sniffing (mt, malloc) must not consume it
expectpipe() {   # expectpipe FILE REGEX ARGS...   ($bin ARGS /dev/stdin < FILE, through cat)
  local f=$1 re=$2; shift 2
  local out rc
  out=$(cat "$f" | "$bin" "$@" /dev/stdin 2>&1); rc=$?
  if [ "$rc" != 0 ] || ! grep -Eq -- "$re" <<<"$out"; then
    echo "FAIL: exit $rc from a pipe, output must match /$re/:"; head -5 <<<"$out"
    echo "  reproduce: cat $f | $bin $* /dev/stdin"
    fails=$((fails + 1))
  else
    echo "ok   pipe: $(head -1 <<<"$out" | cut -c1-150)"
  fi
}
expectpipe "$tmp/good.txt" "ok .*/dev/stdin: 2 ops"
expectpipe "$tmp/good.bin" "ok .*/dev/stdin: 1 ops"
echo "bad_inputs: $fails failure(s)"
[ "$fails" = 0 ]
