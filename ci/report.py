#!/usr/bin/env python3
"""ci/report.py — bookkeeping and the report of ci/nightly.sh.

  report.py record --dir STAGE_DIR --name NAME --status pass|fail|skip --exit RC
                   --seconds S [--limit S] [--command CMD]
      Reads what a stage left in its directory (reason, note, ctest-junit.xml, stress
      JSON, uaf.tsv, gcovr summary.json, findings.tsv), writes result.json and a one-line
      summary. Called by nightly.sh after every stage.

  report.py regressions --out OUT --src SRC --replay GALLOC_REPLAY [--fuzz-tool T]
                   [--plant NAME] [--branch NAME]
      Every finding of the night (stages/*/findings.tsv) is reproduced, minimized and, when
      new, placed under corpora/regressions/ in OUT/regressions/regressions.patch (and, with
      --branch, committed to that branch through a temporary git worktree).

  report.py render --out OUT [--history FILE] [--order "stage ..."] [--no-history]
      Writes OUT/report.html (one self-contained page), OUT/summary.md, OUT/junit.xml,
      appends the night to the history file and plots throughput and peak RSS over nights
      (gnuplot) into OUT/plots/. Prints the stage table.

Standard library only. Never fails a night because one artifact is missing or malformed:
what cannot be read is left out of the report and said so.
"""
import argparse
import base64
import datetime
import hashlib
import html
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

PROFILES = ["churn", "larson", "prodcons", "large", "tiny", "frag", "threads", "gc", "mixed"]
# One fixed colour per profile, the same on every night's plots.
COLORS = {"churn": "#1f77b4", "larson": "#ff7f0e", "prodcons": "#2ca02c", "large": "#d62728", "tiny": "#9467bd",
          "frag": "#8c564b", "threads": "#e377c2", "gc": "#555555", "mixed": "#17becf"}
GROUPS = [
    ("self", "Runner self-test"),
    ("setup", "Setup"),
    ("build", "Build"),
    ("test", "ctest"),
    ("stress", "Stress (release)"),
    ("asan", "AddressSanitizer + UBSan"),
    ("tsan", "ThreadSanitizer"),
    ("valgrind", "Valgrind memcheck"),
    ("fuzz", "Fuzzing"),
    ("coverage", "Coverage"),
    ("regressions", "Regressions"),
]
GROUP_TITLE = dict(GROUPS)


def group_of(name):
    return name.split(".", 1)[0]


PRESET_TITLE = {"release": "release", "debug": "debug", "asan": "asan (ASan + UBSan)", "tsan": "tsan (ThreadSanitizer)",
                "valgrind": "valgrind (memcheck annotations)"}


def display_group(name):
    """Heading of a stage in the table: a preset's build and ctest together; the fuzz and
    coverage builds with their stages."""
    g, _, rest = name.partition(".")
    if g in ("build", "test"):
        if rest in PRESET_TITLE:
            return f"Preset {PRESET_TITLE[rest]}: build and ctest"
        if rest in ("fuzz", "afl"):
            return GROUP_TITLE["fuzz"]
        if rest == "coverage":
            return GROUP_TITLE["coverage"]
    return GROUP_TITLE.get(g, g)


def read_text(p, limit=None):
    try:
        s = Path(p).read_text(errors="replace")
    except OSError:
        return ""
    return s if limit is None else s[:limit]


def tail_lines(p, n):
    try:
        with open(p, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-n:])


def mib(b):
    return b / (1 << 20)


def fmt_secs(s):
    s = float(s or 0)
    if s < 60:
        return f"{s:.1f}s"
    m, s = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


# ---------------------------------------------------------------------------------------------
# record: what one stage left behind
# ---------------------------------------------------------------------------------------------
def parse_ctest_junit(p):
    root = ET.parse(p).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    tests = passed = failed = skipped = 0
    failed_names, cases = [], []
    for s in suites:
        for tc in s.iter("testcase"):
            tests += 1
            name = tc.get("name", "?")
            st = tc.get("status", "")
            fail = tc.find("failure")
            skip = tc.find("skipped")
            if fail is not None or st == "fail":
                failed += 1
                failed_names.append(name)
                kind, msg = "fail", (fail.get("message", "") if fail is not None else "")
            elif skip is not None or st in ("notrun", "disabled"):
                skipped += 1
                kind, msg = "skip", (skip.get("message", "") if skip is not None else st)
            else:
                passed += 1
                kind, msg = "pass", ""
            out = tc.findtext("system-out") or ""
            cases.append({"name": name, "status": kind, "time": float(tc.get("time", 0) or 0),
                          "message": msg.strip()[:500], "output_tail": out[-3000:] if kind == "fail" else ""})
    return {"tests": tests, "passed": passed, "failed": failed, "skipped": skipped,
            "failed_names": failed_names, "cases": cases}


MAX_PHASES = 400   # per run kept in result.json (a night's mixed run has ~100)


def phase_idle(ph):
    """A phase in which a worker thread did (almost) nothing: below the floor galloc-stress
    recorded for it, or no op at all in a phase that ran at least 0.1 s (issue 13)."""
    ops = ph.get("ops_per_thread") or []
    if not ops:
        return False
    floor = int(ph.get("floor", 0) or 0)
    if floor and min(ops) < floor:
        return True
    return float(ph.get("running_s", 0) or 0) >= 0.1 and min(ops) == 0


def stress_metrics(p):
    d = json.loads(Path(p).read_text())
    m = {"profile": d.get("profile"), "threads": d.get("threads"), "result": d.get("result"),
         "ops_per_s": float(d.get("ops_per_s", 0) or 0), "peak_rss_bytes": int(d.get("peak_rss_bytes", 0) or 0),
         "elapsed_s": float(d.get("elapsed_s", 0) or 0), "ops": int(d.get("ops", 0) or 0),
         "seed": d.get("seed"), "plant": d.get("plant")}
    if d.get("finding"):
        m["finding"] = str(d["finding"].get("invariant", ""))
    if isinstance(d.get("phases"), list):
        # the work of every phase (galloc-stress --json, issue 13): ops per worker thread
        phases = [{"index": int(x.get("index", i)), "profile": str(x.get("profile", "?")),
                   "seconds": float(x.get("seconds", 0) or 0), "running_s": float(x.get("running_s", 0) or 0),
                   "floor": int(x.get("floor", 0) or 0), "ops": int(x.get("ops", 0) or 0),
                   "ops_per_thread": [int(v) for v in (x.get("ops_per_thread") or [])]}
                  for i, x in enumerate(d["phases"])]
        by = {}
        for x in phases:
            b = by.setdefault(x["profile"], {"phases": 0, "ops": 0, "running_s": 0.0, "least": None, "idle": 0})
            b["phases"] += 1
            b["ops"] += x["ops"]
            b["running_s"] += x["running_s"]
            if x["ops_per_thread"] and x["running_s"] >= 0.1:
                lo = min(x["ops_per_thread"])
                b["least"] = lo if b["least"] is None else min(b["least"], lo)
            if phase_idle(x):
                b["idle"] += 1
        m["phase_count"] = len(phases)
        m["idle_phases"] = sum(b["idle"] for b in by.values())
        m["by_profile"] = by
        m["phases"] = phases[:MAX_PHASES]
        m["phases_cut"] = max(0, len(phases) - MAX_PHASES)
    return m


def uaf_excerpt(text):
    """The lines of a sanitizer or memcheck report a person needs: what, where, which block."""
    lines = text.splitlines()
    out = []
    for i, l in enumerate(lines):
        if "ERROR: AddressSanitizer" in l:
            out.append(l)
            for m in lines[i + 1:]:
                if (re.match(r"\s+#[0-3] ", m) or re.match(r"(READ|WRITE) of size", m) or m.startswith("SUMMARY")
                        or "is located" in m or m.startswith("Address ")):
                    out.append(m)
                if m.startswith("SUMMARY"):
                    break
            break
        if re.search(r"Invalid (read|write) of size", l):
            for m in lines[i:i + 14]:
                if re.match(r"==\d+== ?$", m):
                    break
                out.append(m)
            break
    if not out:
        out = [l for l in lines if l.strip()][-3:]
    return "\n".join(out)[:2500]


def collect_metrics(d):
    m = {}
    notes = []
    j = d / "ctest-junit.xml"
    if j.exists():
        try:
            m["ctest"] = parse_ctest_junit(j)
        except Exception as e:  # noqa: BLE001 - a broken file is reported, never fatal
            notes.append(f"ctest JUnit unreadable: {e}")
    s = d / "stress.json"
    if s.exists():
        try:
            m["stress"] = stress_metrics(s)
            plot = d / "plot-stress" / "galloc-stress.png"
            if plot.exists():
                m["stress"]["plot"] = "plot-stress/galloc-stress.png"
        except Exception as e:  # noqa: BLE001
            notes.append(f"stress JSON unreadable: {e}")
    profs = {}
    for prof in PROFILES:
        f = d / f"{prof}.json"
        if f.exists():
            try:
                profs[prof] = stress_metrics(f)
            except Exception as e:  # noqa: BLE001
                notes.append(f"{prof}.json unreadable: {e}")
    pt = d / "profiles.tsv"
    if pt.exists():
        for line in read_text(pt).splitlines():
            f = line.split("\t")
            if len(f) == 2:
                profs.setdefault(f[0], {"profile": f[0], "result": "no report"})["exit"] = int(f[1]) if f[1].lstrip("-").isdigit() else f[1]
    if profs:
        m["profiles"] = profs
    u = d / "uaf.tsv"
    if u.exists():
        cases = []
        for line in read_text(u).splitlines():
            f = line.split("\t")
            if len(f) < 5:
                continue
            text = read_text(d / f"uaf-{f[0]}.txt", 200000)
            cases.append({"case": f[0], "expect": f[1], "got": f[2], "exit": f[3], "command": f[4],
                          "ok": f[1] == f[2], "excerpt": uaf_excerpt(text), "output": f"uaf-{f[0]}.txt"})
        m["uaf"] = cases
    c = d / "summary.json"
    if c.exists():
        try:
            cs = json.loads(c.read_text())
            m["coverage"] = {k: cs.get(k) for k in ("line_percent", "line_covered", "line_total",
                                                    "function_percent", "function_covered", "function_total",
                                                    "branch_percent", "branch_covered", "branch_total")}
            m["coverage"]["html"] = "html/index.html" if (d / "html" / "index.html").exists() else None
            m["coverage"]["files"] = sorted(
                ({"file": f.get("filename"), "line_percent": f.get("line_percent"),
                  "line_total": f.get("line_total")} for f in cs.get("files", [])),
                key=lambda x: (x["line_percent"] if x["line_percent"] is not None else 0))
        except Exception as e:  # noqa: BLE001
            notes.append(f"coverage summary unreadable: {e}")
    elif (d / "html" / "index.html").exists():
        m["coverage_html"] = "html/index.html"
    f = d / "findings.tsv"
    if f.exists():
        m["findings"] = sum(1 for l in read_text(f).splitlines() if l.strip())
    if notes:
        m["notes"] = notes
    return m


def metric_summary(m):
    parts = []
    if "ctest" in m:
        c = m["ctest"]
        s = f"{c['tests']} tests: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped"
        if c["failed_names"]:
            names = ", ".join(c["failed_names"][:4]) + (", …" if len(c["failed_names"]) > 4 else "")
            s += f" (failed: {names})"
        parts.append(s)
    if "stress" in m:
        s = m["stress"]
        parts.append(f"{s['ops_per_s'] / 1e6:.3f} Mops/s, peak RSS {mib(s['peak_rss_bytes']):.1f} MiB, {s['result']}")
        if "phase_count" in s:
            least = [b["least"] for b in s["by_profile"].values() if b["least"] is not None]
            parts.append(f"{s['phase_count']} phase(s), least ops by a thread in a phase {min(least) if least else '?'}"
                         + (f", {s['idle_phases']} IDLE phase(s)" if s["idle_phases"] else ""))
    if "profiles" in m:
        ps = m["profiles"]
        bad = [p for p, v in ps.items() if v.get("result") != "clean" or v.get("exit", 0) != 0]
        parts.append(f"{len(ps)} profiles: {len(ps) - len(bad)} clean" + (f", {len(bad)} failed ({', '.join(bad)})" if bad else ""))
        idle = sum(v.get("idle_phases", 0) for v in ps.values())
        if idle:
            parts.append(f"{idle} IDLE phase(s)")
    if "uaf" in m:
        parts.append(", ".join(f"{c['case']}: {c['got']}" for c in m["uaf"]))
    if "coverage" in m:
        c = m["coverage"]
        parts.append(f"lines {c.get('line_percent') or 0:.1f} %, functions {c.get('function_percent') or 0:.1f} %, "
                     f"branches {c.get('branch_percent') or 0:.1f} %")
    if m.get("findings"):
        parts.append(f"{m['findings']} finding(s)")
    return "; ".join(parts)


def cmd_record(a):
    d = Path(a.dir)
    res = {
        "name": a.name, "group": group_of(a.name), "status": a.status, "exit": a.exit,
        "seconds": float(a.seconds or 0), "limit": a.limit, "command": a.command,
        "log": f"stages/{a.name}/log.txt",
        "reason": read_text(d / "reason").strip(), "note": read_text(d / "note").strip(),
        "finished": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    res["metrics"] = collect_metrics(d)
    ms = metric_summary(res["metrics"])
    if a.status == "skip":
        summary = "skipped: " + (res["reason"] or "no reason given")
    elif a.status == "fail":
        if "finding" in res["reason"] and res["metrics"].get("findings"):
            ms = metric_summary({k: v for k, v in res["metrics"].items() if k != "findings"})
        summary = "; ".join(x for x in (res["reason"] or f"exit {a.exit}", res["note"], ms) if x)
    else:
        summary = "; ".join(x for x in (res["note"], ms) if x) if ms and ms not in res["note"] else (res["note"] or ms)
    res["summary"] = summary
    (d / "result.json").write_text(json.dumps(res, indent=1))
    (d / "summary").write_text(summary.replace("\n", " ") + "\n")
    return 0


# ---------------------------------------------------------------------------------------------
# regressions: findings -> minimized, deduplicated inputs under corpora/regressions/
# ---------------------------------------------------------------------------------------------
def sha1_file(p):
    return hashlib.sha1(Path(p).read_bytes()).hexdigest()


def run(cmd, timeout, env=None, cwd=None):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                           env=env, cwd=cwd, text=True, errors="replace")
        return p.returncode, p.stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return 124, out + f"\n(timed out after {timeout} s)"
    except OSError as e:
        return 127, str(e)


def replay_flags(cmd):
    """The options of a printed 'galloc-replay ... FILE' command (without binary and file)."""
    try:
        t = shlex.split(cmd)
    except ValueError:
        return []
    if len(t) >= 2 and t[0].endswith("galloc-replay"):
        flags, i = [], 1
        while i < len(t) - 1:
            # an allocator plant is added by the caller, in the form this galloc-replay takes
            if t[i] in ("--plant", "--heap-plant", "--alloc-plant") and i + 1 < len(t) - 1 and ":" not in t[i + 1]:
                i += 2
                continue
            flags.append(t[i])
            i += 1
        return flags
    return ["--check-every", "1000"]


def load_findings(out):
    rows = []
    for f in sorted((out / "stages").glob("*/findings.tsv")):
        stage = f.parent.name
        for line in read_text(f).splitlines():
            c = line.split("\t")
            if len(c) < 5:
                continue
            rows.append({"stage": stage, "kind": c[0], "target": c[1], "file": c[2], "replay": c[3], "what": c[4]})
    return rows


def cmd_regressions(a):
    out, src = Path(a.out), Path(a.src)
    rdir = out / "regressions"
    if rdir.exists():
        shutil.rmtree(rdir)
    tree = rdir / "tree"
    (rdir / "work").mkdir(parents=True)
    known = {}
    for f in (src / "corpora" / "regressions").rglob("*"):
        if f.is_file():
            known[sha1_file(f)] = str(f.relative_to(src))
    help_text = run([a.replay, "--help"], 30)[1] if os.access(a.replay, os.X_OK) else ""
    plant_flag = next((f for f in ("--alloc-plant", "--heap-plant") if f in help_text), None)
    entries, seen = [], {}
    for i, fd in enumerate(load_findings(out)):
        e = dict(fd)
        e.update({"reproduced": None, "minimized": False, "new": False, "dest": None, "log": None})
        entries.append(e)
        f = Path(fd["file"])
        if not f.is_file():
            e["status"] = "input file missing"
            continue
        work = rdir / "work" / f"{i:03d}"
        work.mkdir()
        logp = work / "log.txt"
        e["log"] = str(logp.relative_to(out))
        log = []
        env = dict(os.environ)
        if a.plant:
            env["GALLOC_PLANT"] = a.plant
        final, ext = f, f.suffix
        if fd["kind"] == "fuzz" and "/stored/" in str(f):
            # campaign.sh already reproduced, classified and minimized it; its stored/ tree
            # mirrors the repository (corpora/regressions/<t>/ for planted bugs,
            # fuzz/findings/<t>/ for real ones). Known when that signature is stored already.
            rel = Path(str(f).split("/stored/", 1)[1])
            prefix = f.name.rsplit("--", 1)[0] + "--"
            homes = {src / rel.parent, src / "corpora" / "regressions" / fd["target"], src / "fuzz" / "findings" / fd["target"]}
            old = sorted(str(x.relative_to(src)) for d in homes if d.is_dir() for x in d.iterdir()
                         if x.name.startswith(prefix) and x.suffix not in (".md", ".txt"))
            e.update({"reproduced": True, "minimized": True, "sha1": sha1_file(f)})
            logp.write_text(f"stored by campaign.sh: {f}\n")
            if old:
                e["status"] = f"known: already stored as {old[0]}"
                continue
            if prefix in seen:
                e["status"] = f"duplicate of {seen[prefix]}"
                continue
            for comp in (f, Path(str(f) + ".txt"), Path(str(f) + ".md")):
                if comp.is_file():
                    (tree / rel.parent).mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(comp, tree / rel.parent / comp.name)
            e.update({"new": True, "dest": str(rel), "status": "new: in regressions.patch"})
            cls = f.name.split("--", 1)[0]
            e["replay_dest"] = (f"GALLOC_PLANT={cls} " if cls != "bug" else "") + f"build/bin/{fd['target']} {rel}"
            seen[prefix] = str(rel)
            continue
        if fd["kind"] == "stress":
            flags = replay_flags(fd["replay"])
            use_tool = bool(a.plant) and not plant_flag and os.access(a.fuzz_tool or "", os.X_OK)
            if use_tool:
                cmd = [a.fuzz_tool, "run", str(f)]
                rc, o = run(cmd, 900, env)
                shown = f"GALLOC_PLANT={a.plant} " + shlex.join(cmd)
            else:
                pf = [plant_flag, a.plant] if (a.plant and plant_flag) else []
                cmd = [a.replay, "-q"] + flags + pf + [str(f)]
                rc, o = run(cmd, 900)
                shown = shlex.join([a.replay] + flags + pf + [str(f)])
            log.append(f"$ {shown}\n{o[-4000:]}\nexit {rc}")
            e["reproduced"] = rc == 1
            if rc == 1:
                e["replay"] = shown   # the command that did reproduce it
            if rc == 1:
                m = work / "min.txt"
                if use_tool:
                    rc2, o = run([a.fuzz_tool, "minimize", str(f), "-o", str(m)], 1800, env)
                else:
                    rc2, o = run([a.replay, "-q", "--minimize", "-o", str(m)] + flags + pf + [str(f)], 1800)
                log.append(f"$ minimize -> {m}\n{o[-4000:]}\nexit {rc2}")
                if m.is_file() and m.stat().st_size > 0:
                    final, e["minimized"], ext = m, True, ".txt"
            subdir = "stress"
            ext = ext or ".txt"
        else:
            target = fd["target"]
            bindir = Path(a.replay).parent
            tbin = bindir / target
            if tbin.exists():
                rc, o = run([str(tbin), str(f)], 900, env)
                log.append(f"$ {tbin} {f}\n{o[-4000:]}\nexit {rc}")
                e["reproduced"] = rc != 0
            if target == "fuzz_ops" and a.fuzz_tool and os.access(a.fuzz_tool, os.X_OK):
                m = work / "min.txt"
                rc2, o = run([a.fuzz_tool, "minimize", str(f), "-o", str(m)], 1800, env)
                log.append(f"$ fuzz_ops_tool minimize {f} -o {m}\n{o[-4000:]}\nexit {rc2}")
                if rc2 == 0 and m.is_file() and m.stat().st_size > 0:
                    final, e["minimized"], ext = m, True, ".txt"
            subdir = target
        logp.write_text("\n\n".join(log) + "\n")
        h = sha1_file(final)
        e["sha1"] = h
        if e["reproduced"] is False:
            e["status"] = "does not reproduce in a serialized replay (kept as evidence, not added)"
            continue
        if h in known:
            e["status"] = f"known: already in {known[h]}"
            continue
        if h in seen:
            e["status"] = f"duplicate of {seen[h]}"
            continue
        engine = fd["stage"].split(".")[1] if fd["kind"] == "fuzz" and fd["stage"].count(".") >= 2 else fd["stage"]
        base = (f"{a.plant}--" if a.plant else "") + f"{engine}-{h[:10]}{ext if ext in ('.txt', '.ops') else ''}"
        dest = Path("corpora") / "regressions" / subdir / base
        (tree / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(final, tree / dest)
        e.update({"new": True, "dest": str(dest), "status": "new: in regressions.patch"})
        e["replay_dest"] = (f"GALLOC_PLANT={a.plant} " if a.plant and fd["kind"] == "fuzz" else "") + (
            f"galloc-replay -v {dest}" if subdir == "stress" else f"<build>/bin/{subdir} {dest}")
        seen[h] = str(dest)
    new = [e for e in entries if e["new"]]
    patch = rdir / "regressions.patch"
    if new:
        chunks = []
        for p in sorted(x for x in tree.rglob("*") if x.is_file()):
            rc, o = run(["git", "diff", "--no-index", "--binary", "--", "/dev/null", str(p.relative_to(tree))], 60, cwd=str(tree))
            chunks.append(o)
        patch.write_text("".join(chunks))
        rc, o = run(["git", "-C", str(src), "apply", "--check", str(patch)], 60)
        applies = rc == 0
        print(f"regressions.patch: {len(new)} new input(s); git apply --check: {'ok' if applies else o.strip()}")
    else:
        applies = None
    branch_msg = None
    if a.branch and new:
        branch_msg = commit_branch(src, a.branch, patch, len(new))
        print(branch_msg)
    corpus = corpus_additions(out, src, rdir, a.corpus_before, a.keep_corpus) if a.corpus_before else None
    summary = {"entries": entries, "new": len(new), "patch": str(patch.relative_to(out)) if new else None,
               "patch_applies": applies, "branch": a.branch or None, "branch_result": branch_msg, "corpus": corpus}
    (rdir / "regressions.json").write_text(json.dumps(summary, indent=1))
    for e in entries:
        print(f"{e['stage']}: {e['what'][:100]} -> {e.get('status')}")
    note = (f"{len(new)} new regression input(s) in regressions/regressions.patch" if new
            else ("no new findings" if not entries else f"{len(entries)} finding(s), none new"))
    if corpus and corpus["added"]:
        note += (f"; fuzz corpus merge: {corpus['added']} new input(s) "
                 + ("kept in corpora/" if corpus["kept"] else "moved to regressions/corpus.patch"))
    if os.environ.get("STAGE_DIR"):
        Path(os.environ["STAGE_DIR"], "note").write_text(note + "\n")
    print(note)
    return 0


def corpus_additions(out, src, rdir, before_file, keep):
    """Files the night's fuzz campaigns merged into corpora/ (new since the night began and
    not tracked by git): written to regressions/corpus.patch and, unless kept, moved out of
    the working tree (a copy stays in regressions/corpus/)."""
    before = set(read_text(before_file).splitlines())
    tracked = set(run(["git", "-C", str(src), "ls-files", "corpora"], 60)[1].splitlines())
    added = sorted(str(p.relative_to(src)) for p in (src / "corpora").rglob("*")
                   if p.is_file() and str(p.relative_to(src)) not in before and str(p.relative_to(src)) not in tracked)
    res = {"added": len(added), "kept": bool(keep), "patch": None, "by_dir": {}}
    for r in added:
        d = str(Path(r).parent)
        res["by_dir"][d] = res["by_dir"].get(d, 0) + 1
    if not added:
        return res
    chunks = [run(["git", "diff", "--no-index", "--binary", "--", "/dev/null", r], 60, cwd=str(src))[1] for r in added]
    (rdir / "corpus.patch").write_text("".join(chunks))
    res["patch"] = str((rdir / "corpus.patch").relative_to(out))
    if not keep:
        for r in added:
            dst = rdir / "corpus" / r
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / r, dst)
            os.remove(src / r)
    print(f"corpus merge: {len(added)} new input(s) in {res['patch']}" + (" (kept in corpora/)" if keep else " (moved out of the tree)"))
    return res


def commit_branch(src, branch, patch, n):
    cur = run(["git", "-C", str(src), "rev-parse", "--abbrev-ref", "HEAD"], 30)[1].strip()
    if branch in ("main", "master", cur):
        return f"branch: refused to commit to '{branch}' (main/master or the checked-out branch)"
    tmp = tempfile.mkdtemp(prefix="galloc-regressions-")
    exists = run(["git", "-C", str(src), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], 30)[0] == 0
    cmd = ["git", "-C", str(src), "worktree", "add", "-q"] + ([tmp, branch] if exists else ["-b", branch, tmp, "HEAD"])
    rc, o = run(cmd, 120)
    if rc != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        return f"branch: git worktree add failed: {o.strip()}"
    try:
        rc, o = run(["git", "-C", tmp, "apply", "--index", str(patch)], 60)
        if rc != 0:
            return f"branch: the patch does not apply on {branch}: {o.strip()}"
        rc, o = run(["git", "-C", tmp, "-c", "user.name=galloc nightly", "-c", "user.email=nightly@localhost",
                     "commit", "-q", "-m", f"corpora/regressions: {n} new input(s) from the nightly of "
                     f"{datetime.date.today().isoformat()}"], 60)
        return f"branch: committed {n} input(s) to '{branch}'" if rc == 0 else f"branch: commit failed: {o.strip()}"
    finally:
        run(["git", "-C", str(src), "worktree", "remove", "--force", tmp], 120)
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# render
# ---------------------------------------------------------------------------------------------
def load_meta(out):
    meta = {}
    for line in read_text(out / "meta.env").splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            meta[k] = v
    return meta


def load_results(out, order):
    res = {}
    for f in (out / "stages").glob("*/result.json"):
        try:
            r = json.loads(f.read_text())
            res[r["name"]] = r
        except Exception:  # noqa: BLE001
            continue
    names = [n for n in order if n in res] + sorted(n for n in res if n not in order)
    return [res[n] for n in names]


def night_record(meta, results, out, findings_new):
    stress = {}
    for r in results:
        s = r.get("metrics", {}).get("stress")
        if r["group"] == "stress" and s and r["status"] != "skip":
            stress[r["name"].split(".", 1)[1]] = {"ops_per_s": s["ops_per_s"], "peak_rss_bytes": s["peak_rss_bytes"],
                                                   "elapsed_s": s["elapsed_s"], "result": s["result"]}
    cov = None
    for r in results:
        if "coverage" in r.get("metrics", {}):
            c = r["metrics"]["coverage"]
            cov = {k: c.get(k) for k in ("line_percent", "function_percent", "branch_percent")}
    counts = {s: sum(1 for r in results if r["status"] == s) for s in ("pass", "fail", "skip")}
    return {"date": meta.get("date"), "run": out.name, "started": meta.get("started"), "rev": meta.get("rev"),
            "budget": int(meta.get("budget", 0) or 0), "seed": meta.get("seed"), "plant": meta.get("plant") or None,
            "status": "fail" if counts["fail"] else "pass", "counts": counts,
            "stages": {r["name"]: r["status"] for r in results}, "stress": stress, "coverage": cov,
            "new_findings": findings_new, "wall_seconds": int(meta.get("wall_seconds", 0) or 0)}


def load_history(path):
    hist = []
    for line in read_text(path).splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            hist.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return hist


def write_history(path, hist):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(json.dumps(h, sort_keys=True) + "\n" for h in hist))
    tmp.replace(path)


def gnuplot_history(hist, plots):
    """history-ops.png and history-rss.png: one line per profile over the nights."""
    if not shutil.which("gnuplot"):
        return None, "gnuplot is not installed: no history plots"
    nights = [h for h in hist if h.get("stress")][-60:]
    if not nights:
        return None, "no stress results yet: no history plots"
    plots.mkdir(parents=True, exist_ok=True)
    profs = [p for p in PROFILES if any(p in h["stress"] for h in nights)]
    rows_ops, rows_rss = [], []
    for i, h in enumerate(nights):
        label = (h.get("run") or h.get("date") or str(i)).replace(" ", "_")
        ops = [f"{h['stress'][p]['ops_per_s'] / 1e6:.4f}" if p in h["stress"] else "?" for p in profs]
        rss = [f"{mib(h['stress'][p]['peak_rss_bytes']):.2f}" if p in h["stress"] else "?" for p in profs]
        rows_ops.append(f"{i} {label} " + " ".join(ops))
        rows_rss.append(f"{i} {label} " + " ".join(rss))
    head = "# index night " + " ".join(profs) + "\n"
    (plots / "history-ops.dat").write_text(head + "\n".join(rows_ops) + "\n")
    (plots / "history-rss.dat").write_text(head + "\n".join(rows_rss) + "\n")
    n = len(profs)
    gp = []
    for kind, title, ylabel in (("ops", "galloc-stress throughput per night (2 threads, verification on)", "Mops/s"),
                                ("rss", "galloc-stress peak RSS per night", "MiB")):
        gp.append(f"""
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) set terminal pngcairo size 960,400 font ',10'; else set terminal png size 960,400
set output '{plots}/history-{kind}.png'
set title '{title}'
set ylabel '{ylabel}'
set datafile missing '?'
set grid
set key outside right top
set xtics rotate by -30 font ',8'
set offsets 0.3, 0.3, 0, 0
set yrange [0:*]
colors = '{' '.join(COLORS[p] for p in profs)}'
plot for [i=3:{n + 2}] '{plots}/history-{kind}.dat' using 1:i:xtic(2) with linespoints lw 2 pt (5 + (i-3) % 4) ps 0.9 lc rgb word(colors, i-2) title word('{' '.join(profs)}', i-2)
""")
    (plots / "history.gp").write_text("".join(gp))
    rc, o = run(["gnuplot", str(plots / "history.gp")], 120)
    if rc != 0 or not (plots / "history-ops.png").exists():
        return None, "gnuplot failed: " + o.strip()[:300]
    return ["history-ops.png", "history-rss.png"], None


def png_data_uri(p):
    try:
        return "data:image/png;base64," + base64.b64encode(Path(p).read_bytes()).decode()
    except OSError:
        return ""


CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:18px 22px 40px}
h1{font-size:22px;margin:6px 0 2px} h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #d8dbe2;padding-bottom:4px}
.meta{color:#586174;font-size:13px}
.banner{display:flex;gap:14px;align-items:center;margin:12px 0;padding:12px 16px;border-radius:8px;background:#fff;border:1px solid #d8dbe2}
.verdict{font-weight:700;font-size:18px;padding:4px 12px;border-radius:6px;color:#fff}
.verdict.pass{background:#1f8a4c}.verdict.fail{background:#c62828}
.count{font-size:14px}.count b{font-size:16px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d8dbe2;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceef2;vertical-align:top}
th{background:#eef0f4;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.grp td{background:#f1f3f7;font-weight:600;color:#39414f}
.st{display:inline-block;min-width:38px;text-align:center;font-weight:700;border-radius:4px;padding:0 6px;font-size:12px}
.st.pass{background:#daf2e3;color:#17683a}.st.fail{background:#fbdcdc;color:#a31515}.st.skip{background:#eceef2;color:#5d6575}
.st.new{background:#fff0c2;color:#7a5600}
.st{white-space:nowrap;overflow-wrap:normal}
code,pre{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12px}
pre{background:#1f2430;color:#e6e6e6;padding:8px 10px;border-radius:6px;overflow-x:auto;white-space:pre-wrap;margin:4px 0;overflow-wrap:anywhere}
td{overflow-wrap:anywhere} td:first-child{overflow-wrap:normal;white-space:nowrap}
.bar{background:#eceef2;border-radius:4px;height:10px;width:160px;display:inline-block;vertical-align:middle;margin-right:6px}
.bar>span{display:block;height:10px;border-radius:4px;background:#3b7dd8}
.up{color:#17683a}.down{color:#a31515}
img.plot{max-width:100%;border:1px solid #d8dbe2;border-radius:6px;background:#fff;margin:6px 0}
.thumbs{display:flex;flex-wrap:wrap;gap:10px}.thumbs figure{margin:0;width:270px}.thumbs img{width:270px;border:1px solid #d8dbe2}
.thumbs figcaption{font-size:12px;color:#586174}
.small{font-size:12px;color:#586174} a{color:#2456a6} .bad{color:#a31515}
details{margin:6px 0} summary{cursor:pointer}
"""


def h(s):
    return html.escape(str(s if s is not None else ""), quote=True)


def delta_cell(now, prev, higher_is_better=True):
    if not prev or now is None:
        return '<td class="num small">—</td>'
    d = (now - prev) / prev * 100.0
    good = d >= 0 if higher_is_better else d <= 0
    cls = "up" if good else "down"
    if abs(d) < 2:
        cls = "small"
    return f'<td class="num {cls}">{d:+.1f} %</td>'


def render_html(meta, results, regs, hist_prev, tonight, plots, plot_msg, out):
    counts = tonight["counts"]
    verdict = tonight["status"]
    title = f"galloc nightly {meta.get('date', '')}"
    p = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{h(title)}</title>"
         f"<meta name='viewport' content='width=device-width,initial-scale=1'><style>{CSS}</style></head><body><main>"]
    p.append(f"<h1>{h(title)}</h1>")
    p.append(f"<div class='meta'>run <code>{h(out.name)}</code> · rev <code>{h(meta.get('rev'))}</code>"
             f"{' (+' + h(meta.get('dirty')) + ' uncommitted changes)' if meta.get('dirty', '0') not in ('0', '') else ''}"
             f" · budget {h(meta.get('budget'))} min · seed {h(meta.get('seed'))}"
             f"{' · plant <b>' + h(meta.get('plant')) + '</b>' if meta.get('plant') else ''}"
             f" · {h(meta.get('host'))} · started {h(meta.get('started'))} · wall {fmt_secs(meta.get('wall_seconds', 0))}</div>")
    p.append(f"<div class='banner' id='verdict' data-verdict='{verdict}'><span class='verdict {verdict}'>{verdict.upper()}</span>"
             f"<span class='count'><b>{counts['pass']}</b> passed</span><span class='count'><b>{counts['fail']}</b> failed</span>"
             f"<span class='count'><b>{counts['skip']}</b> skipped</span>"
             f"<span class='count'><b>{len([e for e in regs.get('entries', []) if e.get('new')])}</b> new findings</span>"
             f"<span class='small'>summary: <a href='summary.md'>summary.md</a> · JUnit: <a href='junit.xml'>junit.xml</a></span></div>")
    if meta.get("interrupted") == "1":
        p.append("<p class='down'><b>The run was interrupted</b>: stages after that point were skipped.</p>")

    # stages
    p.append("<h2 id='stages'>Stages</h2><table id='stage-table'><thead><tr><th>stage</th><th>status</th>"
             "<th class='num'>time</th><th>result</th><th>log</th></tr></thead><tbody>")
    last = None
    for r in results:
        g = display_group(r["name"])
        if g != last:
            p.append(f"<tr class='grp'><td colspan='5'>{h(g)}</td></tr>")
            last = g
        p.append(f"<tr id='stage-{h(r['name'])}' data-stage='{h(r['name'])}' data-status='{h(r['status'])}'>"
                 f"<td><code>{h(r['name'])}</code></td><td><span class='st {h(r['status'])}'>{h(r['status'])}</span></td>"
                 f"<td class='num'>{fmt_secs(r['seconds'])}</td><td>{h(r.get('summary'))}</td>"
                 f"<td><a href='{h(r['log'])}'>log</a></td></tr>")
    p.append("</tbody></table>")

    fails = [r for r in results if r["status"] == "fail"]
    if fails:
        p.append("<h2 id='failures'>Failures</h2>")
        for r in fails:
            p.append(f"<details open><summary><code>{h(r['name'])}</code>: {h(r.get('reason') or 'exit ' + str(r['exit']))}</summary>")
            c = r.get("metrics", {}).get("ctest")
            if c and c["failed_names"]:
                p.append("<table><tr><th>failed test</th><th>message</th></tr>")
                for tc in c["cases"]:
                    if tc["status"] == "fail":
                        p.append(f"<tr><td><code>{h(tc['name'])}</code></td><td>{h(tc['message'])}</td></tr>")
                p.append("</table>")
            p.append(f"<pre>{h(tail_lines(out / r['log'], 25))}</pre></details>")

    # findings
    p.append("<h2 id='findings'>Findings</h2>")
    entries = regs.get("entries")
    if entries is None:
        raw = load_findings(out)
        entries = [dict(e, status="not processed (the regressions stage did not run)") for e in raw]
    if not entries:
        p.append("<p>No stress or fuzz finding tonight.</p>")
    else:
        p.append("<table id='findings-table'><tr><th>stage</th><th>what</th><th>replay</th><th>minimized</th><th>status</th></tr>")
        for e in entries:
            badge = "<span class='st new'>new</span> " if e.get("new") else ""
            rel = os.path.relpath(e["file"], out) if str(e.get("file", "")).startswith(str(out)) else e.get("file")
            p.append(f"<tr><td><code>{h(e['stage'])}</code></td><td>{h(e['what'])}<br><span class='small'>input: "
                     f"<a href='{h(rel)}'>{h(rel)}</a></span></td><td><pre>{h(e.get('replay'))}</pre>"
                     + (f"<div class='small'>after applying the patch: <code>{h(e.get('replay_dest'))}</code></div>" if e.get("replay_dest") else "")
                     + f"</td><td>{'yes' if e.get('minimized') else 'no'}</td><td>{badge}{h(e.get('status'))}</td></tr>")
        p.append("</table>")
        if regs.get("patch"):
            p.append(f"<p>New regression inputs: <a href='{h(regs['patch'])}'>{h(regs['patch'])}</a> — review, then "
                     f"<code>git apply {h(out / regs['patch'])}</code>"
                     f"{' (applies cleanly to the tree)' if regs.get('patch_applies') else ''}.</p>")
        if regs.get("branch_result"):
            p.append(f"<p>{h(regs['branch_result'])}</p>")
    cm = regs.get("corpus") or {}
    if cm.get("added"):
        where = ("kept in the working tree" if cm.get("kept") else
                 f"moved out of the tree into <a href='{h(cm['patch'])}'>{h(cm['patch'])}</a> (apply it to keep them)")
        p.append(f"<p>Fuzz corpus merge: {cm['added']} new input(s) ("
                 + ", ".join(f"{h(k)}: {v}" for k, v in sorted(cm.get("by_dir", {}).items())) + f"), {where}.</p>")

    # planted use-after-free
    uafs = [r for r in results if "uaf" in r.get("metrics", {})]
    p.append("<h2 id='uaf'>Planted use-after-free</h2>")
    if not uafs:
        p.append("<p class='small'>The uaf-plant stages did not run.</p>")
    for r in uafs:
        tool = "AddressSanitizer" if r["group"] == "asan" else "Valgrind memcheck"
        p.append(f"<h3 style='font-size:15px;margin:12px 0 4px'>{h(tool)} <span class='st {h(r['status'])}'>{h(r['status'])}</span> "
                 f"<code class='small'>{h(r['name'])}</code></h3><table><tr><th>case</th><th>expected</th><th>got</th><th>report</th></tr>")
        for c in r["metrics"]["uaf"]:
            st = "pass" if c["ok"] else "fail"
            p.append(f"<tr><td><code>{h(c['case'])}</code></td><td>{h(c['expect'])}</td><td><span class='st {st}'>{h(c['got'])}</span></td>"
                     f"<td><pre>{h(c['excerpt'])}</pre><span class='small'><code>{h(c['command'])}</code></span></td></tr>")
        p.append("</table>")

    # coverage
    p.append("<h2 id='coverage'>Coverage</h2>")
    cov = [r for r in results if "coverage" in r.get("metrics", {})]
    if not cov:
        p.append("<p class='small'>No coverage tonight (the coverage stage did not pass).</p>")
    for r in cov:
        c = r["metrics"]["coverage"]
        p.append("<table style='width:auto'><tr><th></th><th class='num'>covered</th><th class='num'>total</th><th>percent</th></tr>")
        for k, label in (("line", "lines"), ("function", "functions"), ("branch", "branches")):
            pc = c.get(f"{k}_percent") or 0.0
            p.append(f"<tr><td>{label}</td><td class='num'>{c.get(f'{k}_covered')}</td><td class='num'>{c.get(f'{k}_total')}</td>"
                     f"<td><span class='bar'><span style='width:{min(100.0, pc):.1f}%'></span></span>{pc:.1f} %</td></tr>")
        p.append("</table>")
        prev_cov = (hist_prev or {}).get("coverage") or {}
        if prev_cov.get("line_percent") is not None:
            p.append(f"<p class='small'>previous night: lines {prev_cov['line_percent']:.1f} %, functions "
                     f"{(prev_cov.get('function_percent') or 0):.1f} %, branches {(prev_cov.get('branch_percent') or 0):.1f} %</p>")
        if c.get("html"):
            p.append(f"<p>Line-by-line: <a href='stages/{h(r['name'])}/{h(c['html'])}'>gcovr report</a> (unit tests, corpus replay, "
                     f"a short stress run of every profile; gcc --coverage)</p>")
        low = [f for f in (c.get("files") or []) if f.get("line_total")][:6]
        if low:
            p.append("<p class='small'>least covered: " + ", ".join(
                f"<code>{h(f['file'])}</code> {(f['line_percent'] or 0):.0f} %" for f in low) + "</p>")
    for r in results:
        if r["name"] == "coverage.fuzz" and r["status"] == "pass":
            p.append(f"<p>Fuzz corpus coverage (llvm-cov): <a href='stages/coverage.fuzz/html/index.html'>report</a></p>")

    # throughput and memory
    p.append("<h2 id='perf'>Throughput and memory</h2>")
    st_now = tonight.get("stress") or {}
    st_prev = (hist_prev or {}).get("stress") or {}
    if not st_now:
        p.append("<p class='small'>No release stress results tonight.</p>")
    else:
        prev_label = f"{hist_prev.get('run')} (budget {hist_prev.get('budget')} min)" if hist_prev else "none"
        p.append(f"<p class='small'>galloc-stress, 2 threads, verification on (the figures include the driver's checks). "
                 f"Previous night: {h(prev_label)}.</p>")
        p.append("<table id='perf-table'><tr><th>profile</th><th class='num'>Mops/s</th><th class='num'>previous</th><th class='num'>Δ</th>"
                 "<th class='num'>peak RSS MiB</th><th class='num'>previous</th><th class='num'>Δ</th><th class='num'>seconds</th><th>result</th></tr>")
        for prof in PROFILES:
            if prof not in st_now:
                continue
            a = st_now[prof]
            b = st_prev.get(prof)
            bo = f"{b['ops_per_s'] / 1e6:.3f}" if b else "—"
            br = f"{mib(b['peak_rss_bytes']):.1f}" if b else "—"
            p.append(f"<tr><td><code>{prof}</code></td><td class='num'>{a['ops_per_s'] / 1e6:.3f}</td>"
                     f"<td class='num'>{bo}</td>"
                     + delta_cell(a["ops_per_s"], b and b["ops_per_s"]) +
                     f"<td class='num'>{mib(a['peak_rss_bytes']):.1f}</td><td class='num'>{br}</td>"
                     + delta_cell(a["peak_rss_bytes"], b and b["peak_rss_bytes"], higher_is_better=False) +
                     f"<td class='num'>{a['elapsed_s']:.0f}</td><td>{h(a['result'])}</td></tr>")
        p.append("</table>")
    if plots:
        for f, alt in zip(plots, ("throughput per night", "peak RSS per night")):
            uri = png_data_uri(out / "plots" / f)
            p.append(f"<img class='plot' alt='{h(alt)}' src='{uri}'>")
    elif plot_msg:
        p.append(f"<p class='small'>{h(plot_msg)}</p>")
    thumbs = [(r["name"], r["metrics"]["stress"]["plot"]) for r in results
              if r["group"] == "stress" and r.get("metrics", {}).get("stress", {}).get("plot")]
    if thumbs:
        p.append("<details><summary>tonight's timelines (throughput, RSS, heap in use)</summary><div class='thumbs'>")
        for name, plot in thumbs:
            src = f"stages/{name}/{plot}"
            p.append(f"<figure><a href='{h(src)}'><img loading='lazy' src='{h(src)}' alt='{h(name)}'></a><figcaption>{h(name)}</figcaption></figure>")
        p.append("</div></details>")

    p.extend(render_phases_html(results))

    p.append("<h2 id='rerun'>Rerun</h2><p class='small'>Everything: <code>" + h(meta.get("command", "ci/nightly.sh")) +
             "</code>. One stage: <code>ci/nightly.sh --only NAME --no-setup</code> (e.g. <code>--only 'stress.*'</code>). "
             "Each stage's log holds the exact commands it ran. See <code>ci/README.md</code>.</p>")
    p.append("</main></body></html>\n")
    return "".join(p)


def stress_runs(results):
    """(stage, run label, stress metrics) of every stress run with phase records, in order."""
    runs = []
    for r in results:
        m = r.get("metrics", {})
        if "stress" in m and "phase_count" in m["stress"]:
            runs.append((r["name"], m["stress"].get("profile") or "?", m["stress"]))
        for prof, v in (m.get("profiles") or {}).items():
            if "phase_count" in v:
                runs.append((r["name"], prof, v))
    return runs


def render_phases_html(results):
    """Work per phase (galloc-stress --json phases): every run's ops by profile, the least a
    thread did in a phase, idle phases flagged; every phase of a run in a details block."""
    runs = stress_runs(results)
    p = ["<h2 id='phases'>Work per phase</h2>"]
    if not runs:
        p.append("<p class='small'>No stress run with phase records tonight.</p>")
        return p
    p.append("<p class='small'>galloc-stress records every phase (the whole run for one profile, each turn of a profile "
             "in <code>mixed</code>) with each worker thread's ops (allocations + frees); a phase in which a thread stays "
             "below the floor (<code>--min-rate</code>) fails the run. <b>IDLE</b>: a phase that did no work.</p>")
    p.append("<table id='phase-table'><tr><th>stage</th><th>run</th><th>profile</th><th class='num'>phases</th>"
             "<th class='num'>running s</th><th class='num'>ops</th><th class='num'>least ops by a thread in a phase</th>"
             "<th>idle phases</th></tr>")
    for stage, run, m in runs:
        for prof, b in m["by_profile"].items():
            idle = f"<b class='bad'>IDLE: {b['idle']}</b>" if b["idle"] else "0"
            least = "—" if b["least"] is None else f"{b['least']:,}"
            p.append(f"<tr data-phase-stage='{h(stage)}' data-profile='{h(prof)}'><td>{h(stage)}</td><td><code>{h(run)}</code></td>"
                     f"<td><code>{h(prof)}</code></td><td class='num'>{b['phases']}</td><td class='num'>{b['running_s']:.1f}</td>"
                     f"<td class='num'>{b['ops']:,}</td><td class='num'>{least}</td><td>{idle}</td></tr>")
    p.append("</table>")
    for stage, run, m in runs:
        if m["phase_count"] < 2 and not m["idle_phases"]:
            continue
        p.append(f"<details{' open' if m['idle_phases'] else ''}><summary>every phase of {h(stage)} / {h(run)} "
                 f"({m['phase_count']} phases)</summary><table class='phases'><tr><th class='num'>#</th><th>profile</th>"
                 "<th class='num'>seconds</th><th class='num'>running s</th><th class='num'>ops</th>"
                 "<th>ops per thread</th><th class='num'>floor</th><th></th></tr>")
        for x in m["phases"]:
            flag = "<b class='bad'>IDLE</b>" if phase_idle(x) else ""
            per = ", ".join(f"{v:,}" for v in x["ops_per_thread"])
            p.append(f"<tr><td class='num'>{x['index']}</td><td><code>{h(x['profile'])}</code></td><td class='num'>{x['seconds']:.2f}</td>"
                     f"<td class='num'>{x['running_s']:.2f}</td><td class='num'>{x['ops']:,}</td><td>{per}</td>"
                     f"<td class='num'>{x['floor'] or '—'}</td><td>{flag}</td></tr>")
        if m.get("phases_cut"):
            p.append(f"<tr><td colspan='8' class='small'>… {m['phases_cut']} more phases in the run's JSON</td></tr>")
        p.append("</table></details>")
    return p


def md_escape(s):
    return str(s if s is not None else "").replace("|", "\\|").replace("\n", " ")


def render_md(meta, results, regs, tonight, hist_prev):
    c = tonight["counts"]
    L = [f"# galloc nightly {meta.get('date', '')}: {tonight['status'].upper()}", "",
         f"{c['pass']} passed, {c['fail']} failed, {c['skip']} skipped · rev `{meta.get('rev')}` · budget {meta.get('budget')} min"
         f" · seed {meta.get('seed')} · wall {fmt_secs(meta.get('wall_seconds', 0))} · full report: `report.html`", "",
         "| stage | status | time | result |", "|---|---|---:|---|"]
    for r in results:
        st = {"pass": "pass", "fail": "**FAIL**", "skip": "skip"}[r["status"]]
        L.append(f"| `{r['name']}` | {st} | {fmt_secs(r['seconds'])} | {md_escape(r.get('summary'))} |")
    entries = regs.get("entries") or []
    L += ["", "## Findings", ""]
    if not entries:
        L.append("None.")
    for e in entries:
        L.append(f"- `{e['stage']}`: {md_escape(e['what'])} — {md_escape(e.get('status'))}  \n  replay: `{e.get('replay')}`")
    if regs.get("patch"):
        L += ["", f"New regression inputs: `{regs['patch']}` (review, then `git apply`)."]
    uafs = [r for r in results if "uaf" in r.get("metrics", {})]
    if uafs:
        L += ["", "## Planted use-after-free", ""]
        for r in uafs:
            L.append(f"- `{r['name']}`: {r['status']} — " + ", ".join(f"{x['case']} {x['got']} (expected {x['expect']})" for x in r["metrics"]["uaf"]))
    for r in results:
        if "coverage" in r.get("metrics", {}):
            cv = r["metrics"]["coverage"]
            L += ["", "## Coverage", "", f"lines {(cv.get('line_percent') or 0):.1f} %, functions {(cv.get('function_percent') or 0):.1f} %, "
                  f"branches {(cv.get('branch_percent') or 0):.1f} %"]
    st_now = tonight.get("stress") or {}
    st_prev = (hist_prev or {}).get("stress") or {}
    if st_now:
        L += ["", "## Throughput and peak RSS (galloc-stress, 2 threads)", "",
              "| profile | Mops/s | previous | peak RSS MiB | previous |", "|---|---:|---:|---:|---:|"]
        for prof in PROFILES:
            if prof in st_now:
                a, b = st_now[prof], st_prev.get(prof)
                bo = f"{b['ops_per_s'] / 1e6:.3f}" if b else "—"
                br = f"{mib(b['peak_rss_bytes']):.1f}" if b else "—"
                L.append(f"| {prof} | {a['ops_per_s'] / 1e6:.3f} | {bo} | {mib(a['peak_rss_bytes']):.1f} | {br} |")
    runs = stress_runs(results)
    if runs:
        L += ["", "## Work per phase (galloc-stress: ops per worker thread)", "",
              "| stage | run | profile | phases | ops | least ops by a thread in a phase | idle phases |",
              "|---|---|---|---:|---:|---:|---:|"]
        for stage, run, m in runs:
            for prof, b in m["by_profile"].items():
                L.append(f"| {md_escape(stage)} | {md_escape(run)} | {md_escape(prof)} | {b['phases']} | {b['ops']} | "
                         f"{'—' if b['least'] is None else b['least']} | {('**IDLE: %d**' % b['idle']) if b['idle'] else 0} |")
    return "\n".join(L) + "\n"


def render_junit(results, out, meta):
    suites = ET.Element("testsuites", name="galloc-nightly")
    s = ET.SubElement(suites, "testsuite", name="galloc-nightly.stages", timestamp=meta.get("started", ""))
    total = fails = skips = 0
    t = 0.0
    for r in results:
        total += 1
        t += r["seconds"]
        tc = ET.SubElement(s, "testcase", classname=f"nightly.{r['group']}", name=r["name"], time=f"{r['seconds']:.1f}")
        if r["status"] == "fail":
            fails += 1
            f = ET.SubElement(tc, "failure", message=(r.get("reason") or f"exit {r['exit']}")[:500], type="stage")
            f.text = tail_lines(out / r["log"], 40)
        elif r["status"] == "skip":
            skips += 1
            ET.SubElement(tc, "skipped", message=(r.get("reason") or "")[:500])
        so = ET.SubElement(tc, "system-out")
        so.text = f"{r.get('summary', '')}\nlog: {out / r['log']}\n"
    s.set("tests", str(total))
    s.set("failures", str(fails))
    s.set("skipped", str(skips))
    s.set("errors", "0")
    s.set("time", f"{t:.1f}")
    all_tests, all_fail, all_skip = total, fails, skips
    for r in results:
        c = r.get("metrics", {}).get("ctest")
        if not c:
            continue
        preset = r["name"].split(".", 1)[1] if "." in r["name"] else r["name"]
        cs = ET.SubElement(suites, "testsuite", name=f"ctest.{preset}", tests=str(c["tests"]), failures=str(c["failed"]),
                           skipped=str(c["skipped"]), errors="0")
        for case in c["cases"]:
            tc = ET.SubElement(cs, "testcase", classname=f"ctest.{preset}", name=case["name"], time=f"{case['time']:.2f}")
            if case["status"] == "fail":
                f = ET.SubElement(tc, "failure", message=case["message"][:500] or "failed", type="ctest")
                f.text = case.get("output_tail", "")
            elif case["status"] == "skip":
                ET.SubElement(tc, "skipped", message=case["message"][:500])
        all_tests += c["tests"]
        all_fail += c["failed"]
        all_skip += c["skipped"]
    suites.set("tests", str(all_tests))
    suites.set("failures", str(all_fail))
    suites.set("skipped", str(all_skip))
    suites.set("errors", "0")
    ET.indent(suites) if hasattr(ET, "indent") else None
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def print_table(results, meta, out):
    w = max([len(r["name"]) for r in results] + [5])
    print(f"{'stage':<{w}}  {'status':<6} {'time':>8}  result")
    for r in results:
        st = r["status"].upper() if r["status"] == "fail" else r["status"]
        summ = (r.get("summary") or "").replace("\n", " ")
        print(f"{r['name']:<{w}}  {st:<6} {fmt_secs(r['seconds']):>8}  {summ[:150]}")
    c = {s: sum(1 for r in results if r["status"] == s) for s in ("pass", "fail", "skip")}
    print(f"\n{len(results)} stages: {c['pass']} passed, {c['fail']} failed, {c['skip']} skipped; "
          f"wall {fmt_secs(meta.get('wall_seconds', 0))}")
    print(f"report: {out / 'report.html'}\nsummary: {out / 'summary.md'}\njunit: {out / 'junit.xml'}")


def cmd_render(a):
    out = Path(a.out).resolve()
    meta = load_meta(out)
    order = a.order.split() if a.order else read_text(out / "order.txt").split()
    results = load_results(out, order)
    regs = {}
    rj = out / "regressions" / "regressions.json"
    if rj.exists():
        try:
            regs = json.loads(rj.read_text())
        except json.JSONDecodeError:
            regs = {}
    new = sum(1 for e in regs.get("entries", []) if e.get("new"))
    tonight = night_record(meta, results, out, new)
    hist_path = Path(a.history) if a.history else out.parent / "history.jsonl"
    hist = load_history(hist_path)
    hist = [x for x in hist if x.get("run") != tonight["run"]]   # rendering twice replaces the entry
    prev = next((x for x in reversed(hist) if x.get("stress")), None)
    if not a.no_history:
        hist.append(tonight)
        write_history(hist_path, hist)
        plot_hist = hist
    else:
        plot_hist = hist + [tonight]
    plots, plot_msg = gnuplot_history(plot_hist, out / "plots")
    (out / "report.html").write_text(render_html(meta, results, regs, prev, tonight, plots, plot_msg, out))
    (out / "summary.md").write_text(render_md(meta, results, regs, tonight, prev))
    (out / "junit.xml").write_text(render_junit(results, out, meta))
    print_table(results, meta, out)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--dir", required=True)
    r.add_argument("--name", required=True)
    r.add_argument("--status", required=True, choices=["pass", "fail", "skip"])
    r.add_argument("--exit", type=int, default=0)
    r.add_argument("--seconds", default="0")
    r.add_argument("--limit", type=int, default=0)
    r.add_argument("--command", default="")
    g = sub.add_parser("regressions")
    g.add_argument("--out", required=True)
    g.add_argument("--src", required=True)
    g.add_argument("--replay", required=True)
    g.add_argument("--fuzz-tool", default="")
    g.add_argument("--plant", default="")
    g.add_argument("--branch", default="")
    g.add_argument("--corpus-before", default="")
    g.add_argument("--keep-corpus", type=int, default=0)
    d = sub.add_parser("render")
    d.add_argument("--out", required=True)
    d.add_argument("--history")
    d.add_argument("--order", default="")
    d.add_argument("--no-history", action="store_true")
    a = ap.parse_args(argv)
    return {"record": cmd_record, "regressions": cmd_regressions, "render": cmd_render}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
