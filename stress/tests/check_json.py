#!/usr/bin/env python3
"""stress/tests/check_json.py — reads a galloc-stress --json report and fails on a run that
did not prove its work; independent of galloc-stress's own floor (--min-rate), so a broken
or disabled check in the driver is still caught here.

  check_json.py REPORT.json [--min-rate N] [--large-cost C] [--min-running S] [--all-profiles]
                            [--expect-result clean|finding] [--command CMD]

Fails (exit 1, one line per problem, naming the phase and the thread) when:
  - the result is not the expected one (default clean);
  - a phase that ran at least --min-running seconds (default 0.1, x threads / CPUs when
    there are more threads) of running time gave a worker thread fewer than
    max(1, N x running seconds x share / cost) ops (N default 1000; cost C default 50 for
    large, 1 otherwise; share min(1, CPUs / threads), CPUs from the report);
  - a worker thread did no op in the whole run;
  - the phases do not add up: for every thread, the sum of its ops over the phases must be
    its total ops (the phases partition the run);
  - --all-profiles (mixed): one of the eight profiles never had a checked phase.
Exit 2: the report cannot be read or lacks the fields (an old galloc-stress).
"""
import argparse
import json
import sys

PROFILES = ["churn", "larson", "prodcons", "large", "tiny", "frag", "threads", "gc"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report")
    ap.add_argument("--min-rate", type=float, default=1000)
    ap.add_argument("--large-cost", type=float, default=50)
    ap.add_argument("--min-running", type=float, default=0.1)
    ap.add_argument("--all-profiles", action="store_true")
    ap.add_argument("--expect-result", default="clean")
    ap.add_argument("--command", default="", help="the command that made the report (printed with a failure)")
    a = ap.parse_args(argv)
    try:
        with open(a.report) as f:
            d = json.load(f)
        threads = int(d["threads"])
        phases = d["phases"]
        workers = [t for t in d["per_thread"] if t["role"] == "worker"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"check_json: {a.report}: cannot read the phases of a galloc-stress report: {e}", file=sys.stderr)
        return 2
    bad = []
    if d.get("result") != a.expect_result:
        f = d.get("finding") or {}
        bad.append(f"result {d.get('result')!r}, expected {a.expect_result!r}"
                   + (f" ({f.get('invariant')}: {f.get('message')})" if f else ""))
    if not phases:
        bad.append("no phase recorded")
    share = min(1.0, float(d.get("cpus", threads) or threads) / threads)
    min_running = a.min_running / share
    checked = set()
    sums = [0] * threads
    for p in phases:
        ops = p["ops_per_thread"]
        if len(ops) != threads:
            bad.append(f"phase {p['index']} ({p['profile']}): {len(ops)} threads' ops, expected {threads}")
            continue
        for t, n in enumerate(ops):
            sums[t] += n
        run = float(p["running_s"])
        if run < min_running:
            continue
        checked.add(p["profile"])
        cost = a.large_cost if p["profile"] == "large" else 1
        floor = max(1, int(a.min_rate * run * share / cost)) if a.min_rate > 0 else 1
        for t, n in enumerate(ops):
            if n < floor:
                bad.append(f"phase {p['index']} ({p['profile']}, {float(p['seconds']):.2f} s, {run:.2f} s running): "
                           f"thread {t} did {n} ops, below the floor {floor}: an idle phase")
    for w in workers:
        t = int(w["thread"])
        if w["ops"] == 0:
            bad.append(f"thread {t} did no op in the whole run")
        if t < threads and sums[t] != w["ops"]:
            bad.append(f"thread {t}: its ops over the phases add up to {sums[t]}, its total is {w['ops']}")
    if a.all_profiles:
        missing = [p for p in PROFILES if p not in checked]
        if missing:
            bad.append(f"no checked phase (>= {min_running:g} s running) of: {', '.join(missing)}")
    for b in bad:
        print(f"check_json: {a.report}: {b}")
    if bad and a.command:
        print(f"check_json: reproduce: {a.command}")
    if not bad:
        print(f"check_json: {a.report}: {len(phases)} phase(s), {len(checked)} profile(s) checked, every thread above the floor")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
