#!/bin/bash
# fuzz/tests/campaign_cli.sh CAMPAIGN — fuzz/campaign.sh's command line without a campaign
# (ctest fuzz.campaign_cli, label unit): --help / -h print the whole header comment (every
# line from the second to the first non-comment line, none cut) on stdout and exit 0; a bad
# flag, a flag without its value or a bad value exits 2 with a message on stderr, before
# anything is built (a stub cmake first in PATH records any call: there must be none).
# Calls: bash, awk. Exit 0 all as expected, 1 a failure (each printed with its command).
set -u
cs=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
printf '#!/bin/sh\necho "cmake $*" >>"%s/cmake-called"\nexit 1\n' "$tmp" >"$tmp/bin/cmake"
chmod +x "$tmp/bin/cmake"
export PATH="$tmp/bin:$PATH"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# the header as the file holds it
awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$cs" >"$tmp/header"
nh=$(wc -l <"$tmp/header")
((nh >= 30)) || fail "the header of $cs has $nh lines: expected the full usage text"
grep -q 'Exit status: 0' "$tmp/header" || fail "the header does not document the exit status"

for h in --help -h; do
  bash "$cs" "$h" >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ "$rc" = 0 ] || fail "bash $cs $h exited $rc (want 0)"
  cmp -s "$tmp/out" "$tmp/header" || { fail "bash $cs $h does not print the whole header:"; diff "$tmp/header" "$tmp/out" | head -5; }
  [ -s "$tmp/err" ] && fail "bash $cs $h wrote to stderr: $(head -2 "$tmp/err")"
  [ "$rc" = 0 ] && cmp -s "$tmp/out" "$tmp/header" && echo "ok   $h: exit 0, $nh header lines"
done

usage_error() {  # usage_error STDERR-REGEX ARGS...: exit 2, the message, nothing on stdout
  local re=$1; shift
  bash "$cs" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ "$rc" != 2 ]; then fail "bash $cs $* exited $rc (want 2)"; return; fi
  if ! grep -Eq -- "$re" "$tmp/err"; then fail "bash $cs $*: stderr does not match /$re/: $(head -2 "$tmp/err")"; return; fi
  if [ -s "$tmp/out" ]; then fail "bash $cs $*: wrote to stdout on a usage error"; return; fi
  echo "ok   exit 2 /$re/: $*"
}
usage_error "unknown argument '--bogus'" --bogus
usage_error "unknown argument 'fuzz_ops'" --engine libfuzzer fuzz_ops
usage_error "--engine needs a value" --engine
usage_error "--target needs a value" --engine libfuzzer --target
usage_error "--engine libfuzzer\|afl" --target fuzz_ops
usage_error "--engine libfuzzer\|afl" --engine honggfuzz --target fuzz_ops
usage_error "--target fuzz_ops" --engine libfuzzer --target nope
usage_error "--role main\|secondary" --engine afl --target fuzz_ops --role boss
usage_error "--minutes N" --engine libfuzzer --target fuzz_ops --minutes ten
usage_error "--jobs N" --engine libfuzzer --target fuzz_ops --jobs 0
usage_error "--max-len N" --engine libfuzzer --target fuzz_ops --max-len -1

[ -e "$tmp/cmake-called" ] && fail "a usage error went on to build: $(head -3 "$tmp/cmake-called")"
((fails == 0)) || { echo "$fails failure(s)"; exit 1; }
echo "campaign.sh command line: all as expected"
