#!/bin/bash
# expect_finding.sh FUZZ_OPS CORPORA — the standalone driver's --expect-finding accepts only
# a finding of the expected signature (check and invariant code), not any abort:
#   the right signature (from the file name, or given)      -> exit 0
#   another signature (same input, another invariant code)  -> exit 1, WRONG FINDING
#   no finding (the plant off)                               -> exit 1, NOT FOUND
#   a file name without a signature, no --expect-finding=    -> exit 2, message
# Every failure prints the command that reproduces it.
set -u
bin=$1 corp=$2
f=$corp/regressions/fuzz_ops/refill-off-by-one--ops_verify_A7--b7105191
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0
expect() {   # expect RC REGEX -- ENV... CMD...
  local want=$1 re=$2; shift 3
  local out rc
  out=$(env "$@" 2>"$tmp/err"); rc=$?
  if [ "$rc" != "$want" ] || ! grep -Eq -- "$re" <<<"$out$(cat "$tmp/err")"; then
    echo "FAIL: exit $rc (want $want), output must match /$re/:"; echo "$out" | head -5; head -3 "$tmp/err"
    echo "  reproduce: env $*"
    fails=$((fails + 1))
  else
    echo "ok   exit $rc /$re/: $*"
  fi
}
expect 0 'found .*sig=ops/verify/A7 \(as expected\)' -- GALLOC_PLANT=refill-off-by-one GALLOC_FUZZ_BUDGET=4m "$bin" --expect-finding "$f"
expect 0 'found .*as expected' -- GALLOC_PLANT=refill-off-by-one GALLOC_FUZZ_BUDGET=4m "$bin" --expect-finding=ops/verify/A7 "$f"
expect 1 'WRONG FINDING: .*expected sig ops_verify_A8, got sig=ops/verify/A7' -- GALLOC_PLANT=refill-off-by-one GALLOC_FUZZ_BUDGET=4m "$bin" -q --expect-finding=ops/verify/A8 "$f"
expect 1 'WRONG FINDING: .*expected sig ops_span_A7, got sig=ops/verify/A7' -- GALLOC_PLANT=refill-off-by-one GALLOC_FUZZ_BUDGET=4m "$bin" -q --expect-finding=ops/span/A7 "$f"
cp "$f" "$tmp/refill-off-by-one--ops_verify_D2--00000000"
expect 1 'WRONG FINDING: .*expected sig ops_verify_D2, got sig=ops/verify/A7' -- GALLOC_PLANT=refill-off-by-one GALLOC_FUZZ_BUDGET=4m "$bin" -q --expect-finding "$tmp/refill-off-by-one--ops_verify_D2--00000000"
expect 1 'NOT FOUND: .*ran to the end' -- GALLOC_PLANT=none "$bin" -q --expect-finding "$f"
cp "$f" "$tmp/no-signature-here"
expect 2 'cannot tell the expected signature from the file name' -- GALLOC_PLANT=refill-off-by-one "$bin" -q --expect-finding "$tmp/no-signature-here"
mkdir "$tmp/empty"
expect 2 "empty: error: directory holds no inputs" -- GALLOC_PLANT=none "$bin" -q "$tmp/empty"
expect 2 "does-not-exist: No such file or directory" -- GALLOC_PLANT=none "$bin" -q "$tmp/does-not-exist"
expect 2 "no inputs" -- GALLOC_PLANT=refill-off-by-one "$bin" -q --expect-finding --missing-ok "$tmp/empty"
echo "expect_finding: $fails failure(s)"
[ "$fails" = 0 ]
