#!/usr/bin/env bash
# ci/tests/test_report.sh — the nightly report, checked in a real headless browser.
#
# Builds a small fake night (one stage of every kind: build, ctest with a failing test,
# stress with JSON, a sanitizer stress, ASan and Valgrind uaf-plant results, coverage,
# a fuzz stage with a finding, a skipped stage) with `report.py record`, renders it twice
# (two nights, so the history plots have two points), then:
#   * loads report.html in headless Chromium (--dump-dom) and requires every stage name,
#     its status and the planted use-after-free reports in the DOM;
#   * takes a screenshot and requires a non-trivial PNG;
#   * parses junit.xml (counts must match the fixture) and summary.md.
# Exit 0 pass, 1 fail, 77 skip (no Chromium; ctest SKIP_RETURN_CODE). Writes only to a
# temporary directory, sends no network traffic (file:// URL, background networking off).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPORT=$HERE/../report.py
fail() { echo "FAIL: $*"; exit 1; }

BROWSER=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null; then BROWSER=$(command -v "$b"); break; fi
done
if [ -z "$BROWSER" ]; then
  echo "SKIP: no Chromium (apt-get install chromium); the report is not checked in a browser"
  exit 77
fi
command -v python3 >/dev/null || fail "python3 is needed"

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
OUT=$T/nightly-out/night2
mkdir -p "$OUT/stages"

# stage NAME STATUS SECONDS [REASON]: a stage directory with a log; files are added after.
stage() {
  local d=$OUT/stages/$1
  mkdir -p "$d"
  printf 'log of %s\nline 2\n' "$1" >"$d/log.txt"
  [ -z "${4:-}" ] || echo "$4" >"$d/reason"
}
record() {
  python3 "$REPORT" record --dir "$OUT/stages/$1" --name "$1" --status "$2" --exit "$3" --seconds "$4" \
    --limit 600 --command "st_fake $1" >/dev/null || fail "report.py record $1"
}
stress_json() {  # FILE PROFILE OPS_PER_S RSS RESULT [PHASES-JSON]
  local ph=${6:-}
  [ -n "$ph" ] || ph='{"index":0,"profile":"'$2'","start_s":0,"seconds":10,"running_s":9.5,"checked":true,"floor":1900,"ops":1000000,"ops_per_thread":[500001,499999]}'
  cat >"$1" <<EOF
{"tool":"galloc-stress","profile":"$2","threads":2,"backend":"galloc","seed":1,"verify":true,"plant":"none",
 "result":"$5","elapsed_s":10.0,"ops":1000000,"ops_per_s":$3,"peak_rss_bytes":$4,"min_rate":200,
 "phases":[$ph],
 "timeline":[]}
EOF
}
# mixed under ASan: phase 1 (frag) idle on thread 1, as issue 13 found it
MIXED_PHASES='{"index":0,"profile":"churn","seconds":1.5,"running_s":1.4,"checked":true,"floor":280,"ops":400000,"ops_per_thread":[200000,200000]},
 {"index":1,"profile":"frag","seconds":1.5,"running_s":1.4,"checked":true,"floor":280,"ops":244459,"ops_per_thread":[244459,0]}'


# -- the fixture --------------------------------------------------------------------------------
stage build.release; echo "12 programs in build/bin" >"$OUT/stages/build.release/note"; record build.release pass 0 35.2
stage test.release "" "" "ctest failed (exit 8)"
cat >"$OUT/stages/test.release/ctest-junit.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="(empty)" tests="3" failures="1" disabled="0" skipped="1" time="12">
  <testcase name="alloc.heap" classname="alloc.heap" time="6.1" status="run"><system-out>ok</system-out></testcase>
  <testcase name="harness.known.size0_goes_tiny" classname="harness.known.size0_goes_tiny" time="0.1" status="fail">
    <failure message="Required regular expression not found."/><system-out>no finding</system-out></testcase>
  <testcase name="stress.plant.refill-off-by-one" classname="x" time="0.2" status="notrun"><skipped message="SKIP_RETURN_CODE=77"/></testcase>
</testsuite>
EOF
record test.release fail 8 170.4
stage stress.churn; stress_json "$OUT/stages/stress.churn/stress.json" churn 310000.5 64000000 clean; record stress.churn pass 0 12.3
stage stress.larson "" "" "finding (reproducer: stress.ops)"
stress_json "$OUT/stages/stress.larson/stress.json" larson 150000 90000000 finding
printf 'galloc-ops 1\nmalloc 16\n' >"$OUT/stages/stress.larson/stress.ops"
printf 'stress\tstress\t%s\t%s\t%s\n' "$OUT/stages/stress.larson/stress.ops" \
  "galloc-replay --check-every 1000 $OUT/stages/stress.larson/stress.ops" "larson: FINDING: invariant F2" \
  >"$OUT/stages/stress.larson/findings.tsv"
record stress.larson fail 1 11.0
stage asan.stress
for p in churn gc; do stress_json "$OUT/stages/asan.stress/$p.json" "$p" 50000 70000000 clean; done
stress_json "$OUT/stages/asan.stress/mixed.json" mixed 40000 70000000 finding "$MIXED_PHASES"
record asan.stress pass 0 40
stage asan.uaf-plant
printf 'uaf_plant live: clean\n' >"$OUT/stages/asan.uaf-plant/uaf-live.txt"
cat >"$OUT/stages/asan.uaf-plant/uaf-core.txt" <<'EOF'
=================================================================
==342==ERROR: AddressSanitizer: use-after-poison on address 0x10c000000005 at pc 0x55e03831c45e
WRITE of size 1 at 0x10c000000005 thread T0
    #0 0x55e03831c45d in main /work/main/ci/tests/uaf_plant.c:64:18
    #1 0x7f0000000000 in __libc_start_call_main
SUMMARY: AddressSanitizer: use-after-poison /work/main/ci/tests/uaf_plant.c:64:18 in main
EOF
printf 'live\tclean\tclean\t0\tuaf_plant live\ncore\tcaught\tcaught\t1\tuaf_plant core\n' >"$OUT/stages/asan.uaf-plant/uaf.tsv"
record asan.uaf-plant pass 0 3.1
stage valgrind.uaf-plant
cat >"$OUT/stages/valgrind.uaf-plant/uaf-core.txt" <<'EOF'
==345== Invalid write of size 1
==345==    at 0x10949D: main (uaf_plant.c:64)
==345==  Address 0xc000000005 is 5 bytes inside a block of size 112 free'd
==345==    at 0x10B79C: ga_free (free.c:68)
==345== 
EOF
printf 'core\tcaught\tcaught\t99\tvalgrind uaf_plant core\n' >"$OUT/stages/valgrind.uaf-plant/uaf.tsv"
record valgrind.uaf-plant pass 0 4.0
stage tsan.stress "" "" "galloc-stress is not built in the tsan preset"; record tsan.stress skip 77 0.1
stage fuzz.libfuzzer.fuzz_ops "" "" "fuzz/campaign.sh is not there yet (fuzz/)"; record fuzz.libfuzzer.fuzz_ops skip 77 0.0
stage coverage
cat >"$OUT/stages/coverage/summary.json" <<'EOF'
{"line_covered": 850, "line_total": 1000, "line_percent": 85.0, "function_covered": 90, "function_total": 100,
 "function_percent": 90.0, "branch_covered": 300, "branch_total": 500, "branch_percent": 60.0,
 "files": [{"filename": "alloc/heap.c", "line_total": 400, "line_covered": 300, "line_percent": 75.0}]}
EOF
record coverage pass 0 95
stage regressions; echo "no new findings" >"$OUT/stages/regressions/note"; record regressions pass 0 0.4
STAGES="build.release test.release stress.churn stress.larson asan.stress asan.uaf-plant valgrind.uaf-plant
tsan.stress fuzz.libfuzzer.fuzz_ops coverage regressions"

cat >"$OUT/meta.env" <<'EOF'
date=2030-01-02
started=2030-01-02T01:00:00+00:00
rev=abc1234
dirty=0
host=test 6.1, 2 cores
budget=20
seed=20300102
plant=
command=ci/nightly.sh --budget 20
wall_seconds=1234
interrupted=0
EOF
# A previous night in the history, so the comparison and the plots have two points.
HIST=$T/nightly-out/history.jsonl
cat >"$HIST" <<'EOF'
{"run": "night1", "date": "2030-01-01", "budget": 20, "status": "pass", "stress": {"churn": {"ops_per_s": 300000.0, "peak_rss_bytes": 60000000, "elapsed_s": 10, "result": "clean"}, "larson": {"ops_per_s": 160000.0, "peak_rss_bytes": 95000000, "elapsed_s": 10, "result": "clean"}}, "coverage": {"line_percent": 84.0, "function_percent": 89.0, "branch_percent": 59.0}}
EOF

python3 "$REPORT" render --out "$OUT" --history "$HIST" --order "$STAGES" >"$T/render.txt" 2>&1 ||
  { cat "$T/render.txt"; fail "report.py render"; }
cat "$T/render.txt"
for f in report.html summary.md junit.xml; do [ -s "$OUT/$f" ] || fail "$f not written"; done
[ "$(grep -c . "$HIST")" = 2 ] || fail "history: expected 2 nights, got $(grep -c . "$HIST")"
# Rendering again must replace tonight's history entry, not add one.
python3 "$REPORT" render --out "$OUT" --history "$HIST" --order "$STAGES" >/dev/null 2>&1 || fail "second render"
[ "$(grep -c . "$HIST")" = 2 ] || fail "history: a second render added an entry"
if command -v gnuplot >/dev/null; then
  { [ -s "$OUT/plots/history-ops.png" ] && [ -s "$OUT/plots/history-rss.png" ]; } || fail "history plots not drawn"
  grep -q 'src="data:image/png;base64,' "$OUT/report.html" || grep -q "src='data:image/png;base64," "$OUT/report.html" ||
    fail "history plots not embedded"
fi

# -- in the browser -------------------------------------------------------------------------------
PROFILE=$(mktemp -d)
chrome() {
  timeout 90 "$BROWSER" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --no-default-browser-check \
    --disable-extensions --disable-default-apps --mute-audio --user-data-dir="$PROFILE" "$@" 2>>"$T/chromium.err"
}
chrome --dump-dom "file://$OUT/report.html" >"$T/dom.html"
rc=$?
if [ $rc != 0 ] || [ ! -s "$T/dom.html" ]; then tail -20 "$T/chromium.err"; fail "chromium --dump-dom failed (exit $rc)"; fi
python3 - "$T/dom.html" "$STAGES" <<'EOF' || fail "DOM check"
import html.parser, sys
dom = open(sys.argv[1], encoding="utf-8").read()
want = sys.argv[2].split()

class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows = {}            # data-stage -> data-status
        self.text = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-stage" in a:
            self.rows[a["data-stage"]] = a.get("data-status")
    def handle_data(self, d):
        self.text.append(d)

p = P()
p.feed(dom)
text = " ".join(p.text)
bad = []
for s in want:
    if s not in p.rows:
        bad.append(f"stage {s}: no row")
    if s not in text:
        bad.append(f"stage {s}: name not in the page text")
expect = {"test.release": "fail", "stress.larson": "fail", "tsan.stress": "skip", "stress.churn": "pass"}
for s, st in expect.items():
    if p.rows.get(s) != st:
        bad.append(f"stage {s}: status {p.rows.get(s)!r}, expected {st!r}")
for needle in ("use-after-poison", "Invalid write of size 1", "harness.known.size0_goes_tiny",
               "galloc-replay --check-every 1000", "85.0 %", "FAIL", "Throughput and memory",
               "Work per phase", "499,999", "244,459", "IDLE: 1"):
    if needle not in text:
        bad.append(f"missing text: {needle!r}")
if bad:
    print("\n".join(bad))
    sys.exit(1)
print(f"DOM: {len(want)} stages found with their status; findings, uaf reports, coverage present")
EOF

chrome --screenshot="$T/shot.png" --window-size=1280,2600 --hide-scrollbars "file://$OUT/report.html" >/dev/null
[ -s "$T/shot.png" ] || fail "no screenshot"
size=$(stat -c %s "$T/shot.png")
((size > 20000)) || fail "screenshot is suspiciously small ($size bytes)"
[ -z "${KEEP_SCREENSHOT:-}" ] || cp "$T/shot.png" "$KEEP_SCREENSHOT"
echo "screenshot: $size bytes"

# -- JUnit and markdown ---------------------------------------------------------------------------
python3 - "$OUT/junit.xml" <<'EOF' || fail "junit.xml"
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
assert r.tag == "testsuites", r.tag
st = r.find("testsuite[@name='galloc-nightly.stages']")
assert st is not None, "no stages suite"
assert st.get("tests") == "11" and st.get("failures") == "2" and st.get("skipped") == "2", st.attrib
ct = r.find("testsuite[@name='ctest.release']")
assert ct is not None and ct.get("failures") == "1", "ctest suite"
names = {tc.get("name") for tc in st.iter("testcase")}
assert "asan.uaf-plant" in names
print("junit.xml: 11 stages (2 failed, 2 skipped) + ctest.release (1 failed)")
EOF
for s in $STAGES; do grep -q "\`$s\`" "$OUT/summary.md" || fail "summary.md lacks $s"; done
grep -q '^| asan.stress | mixed | frag | 1 | 244459 | 0 | \*\*IDLE: 1\*\* |$' "$OUT/summary.md" || fail "summary.md: no idle frag phase row"
grep -q '^| stress.churn | churn | churn | 1 | 1000000 | 499999 | 0 |$' "$OUT/summary.md" || fail "summary.md: no work row for stress.churn"
grep -q '^# galloc nightly 2030-01-02: FAIL' "$OUT/summary.md" || fail "summary.md title"
rm -rf "$PROFILE"
echo "PASS"
