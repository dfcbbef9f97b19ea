#!/usr/bin/env bash
# bench/compare.sh — galloc side by side with other allocators, in one interleaved run.
#
# Table 1, lean workloads (bench/lean.c, galloc-lean MODE): plain malloc/free loops under
#   glibc        no preload
#   jemalloc     LD_PRELOAD=libjemalloc.so.2          (libjemalloc2)
#   tcmalloc     LD_PRELOAD=libtcmalloc.so.4          (libgoogle-perftools4)
#   mimalloc     LD_PRELOAD=libmimalloc.so.2          (libmimalloc2.0)
#   galloc       LD_PRELOAD=--galloc LIB (default <build>/lib/libgalloc.so)
# interleaved (every allocator runs each mode once per repetition), best of R
# (--repeat). Prints Mops/s (one op = one malloc/free pair), peak RSS (ru_maxrss), the
# ratios galloc/best peer (best of jemalloc, tcmalloc, mimalloc) and galloc/glibc, the
# load average, and a gnuplot chart (--chart FILE, PNG; default OUT/lean.png).
#
# Table 2, galloc-stress profiles at 1 and 2 threads (--no-verify), median of R: also
#   galloc-core  galloc-stress --backend=galloc (core API, one ga_cache per thread)
# ratios of galloc to each other allocator, peak RSS, the verification overhead of
# galloc-stress itself; OUT/compare.{txt,csv,png,svg}. Missing libraries are skipped.
#
#   bench/compare.sh [--build DIR] [--galloc LIB.so] [--repeat R] [--modes "pair churn ..."]
#                    [--chart FILE.png] [--out DIR] [--no-lean] [--no-stress]
#                    [--seconds S] [--threads "1 2"] [--profiles "churn larson ..."] [--no-overhead]
set -uo pipefail
cd "$(dirname "$0")/.."

build=build seconds=1 reps=3 threads="1 2" out= overhead=1 galloc_so= chart= lean=1 stress_tab=1
profiles="churn larson prodcons large tiny frag threads gc mixed"
modes="pair churn xthread prodcons large bulk threads"
usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while (($#)); do
  case "$1" in
    --build) build=$2; shift 2;;
    --seconds) seconds=$2; shift 2;;
    --reps|--repeat) reps=$2; shift 2;;
    --galloc) galloc_so=$2; shift 2;;
    --modes) modes=$2; shift 2;;
    --chart) chart=$2; shift 2;;
    --no-lean) lean=0; shift;;
    --no-stress) stress_tab=0; shift;;
    --threads) threads=$2; shift 2;;
    --profiles) profiles=$2; shift 2;;
    --out) out=$2; shift 2;;
    --no-overhead) overhead=0; shift;;
    -h|--help) usage;;
    *) echo "compare.sh: unknown option $1" >&2; usage;;
  esac
done
stress=$build/bin/galloc-stress
leanbin=$build/bin/galloc-lean
[ -n "$out" ] || out=$build/compare
[ -n "$galloc_so" ] || galloc_so=$build/lib/libgalloc.so
[ -n "$chart" ] || chart=$out/lean.png
[ "$lean" = 0 ] || [ -x "$leanbin" ] || { echo "compare.sh: $leanbin not found (build first)" >&2; exit 2; }
[ "$stress_tab" = 0 ] || [ -x "$stress" ] || { echo "compare.sh: $stress not found (build first: cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "compare.sh: python3 is needed for the tables (ci/setup.sh installs it)" >&2; exit 2; }
mkdir -p "$out/runs"

# Finds a shared library by soname: the dynamic linker's cache first, then the usual dirs.
find_so() {
  local name p
  for name in "$@"; do
    p=$(ldconfig -p 2>/dev/null | awk -v n="$name" '$1 == n && /x86-64|x86_64|64bit/ { print $NF; exit }')
    [ -z "$p" ] && p=$(ldconfig -p 2>/dev/null | awk -v n="$name" '$1 == n { print $NF; exit }')
    if [ -n "$p" ] && [ -e "$p" ]; then echo "$p"; return 0; fi
    for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib /usr/local/lib64; do
      [ -e "$d/$name" ] && { echo "$d/$name"; return 0; }
    done
  done
  return 1
}

names=() preload=() backend=()
add() { names+=("$1"); preload+=("$2"); backend+=("$3"); }
add galloc-core "" galloc
if [ -e "$galloc_so" ]; then add galloc "$(cd "$(dirname "$galloc_so")" && pwd)/$(basename "$galloc_so")" system
else echo "note: $galloc_so not found: skipping galloc (preload)"; fi
add glibc "" system
for spec in "jemalloc libjemalloc.so.2 libjemalloc.so" "tcmalloc libtcmalloc.so.4 libtcmalloc_minimal.so.4" "mimalloc libmimalloc.so.2 libmimalloc.so"; do
  set -- $spec
  n=$1; shift
  if so=$(find_so "$@"); then add "$n" "$so" system
  else echo "note: $n not found ($*): skipped (ci/setup.sh installs libjemalloc2, libgoogle-perftools4, libmimalloc2.0)"; fi
done
echo "allocators: ${names[*]}"
for i in "${!names[@]}"; do [ -n "${preload[$i]}" ] && echo "  ${names[$i]}: LD_PRELOAD=${preload[$i]}"; done


# ---- table 1: lean workloads ----------------------------------------------------------
if [ "$lean" = 1 ]; then
  lcsv=$out/lean-runs.csv
  echo "rep,mode,allocator,threads,ops,secs,mops,peak_rss_kib,rc" >"$lcsv"
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "lean workloads: $modes; best of $reps; load at start $load0"
  for rep in $(seq 1 "$reps"); do
    for m in $modes; do
      for i in "${!names[@]}"; do
        [ "${names[$i]}" = galloc-core ] && continue
        log=$out/runs/lean-${names[$i]}-$m-r$rep.log
        if [ -n "${preload[$i]}" ]; then env LD_PRELOAD="${preload[$i]}" "$leanbin" "$m" --seed "$rep" >"$log" 2>&1
        else "$leanbin" "$m" --seed "$rep" >"$log" 2>&1; fi
        rc=$?
        line=$(grep '^mode=' "$log" | tail -1)
        get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $line"; }
        echo "$rep,$m,${names[$i]},$(get threads),$(get ops),$(get secs),$(get mops),$(get peak_rss_kib),$rc" >>"$lcsv"
        [ "$rc" = 0 ] || echo "  warning: ${names[$i]} $m rep $rep exited $rc (log: $log)"
      done
    done
    echo "lean repetition $rep/$reps done"
  done
  load1=$(cut -d' ' -f1-3 /proc/loadavg)
  python3 - "$lcsv" "$out" "$chart" "$load0" "$load1" <<'EOF'
import csv, sys, subprocess, shutil
path, out, chart, load0, load1 = sys.argv[1:]
rows = [r for r in csv.DictReader(open(path)) if r["rc"] == "0" and r["mops"]]
modes = list(dict.fromkeys(r["mode"] for r in rows))
allocs = [a for a in ("glibc", "jemalloc", "tcmalloc", "mimalloc", "galloc") if any(r["allocator"] == a for r in rows)]
peers = [a for a in ("jemalloc", "tcmalloc", "mimalloc") if a in allocs]
def best(m, a):      # best of R: the highest throughput, the smallest peak RSS
    c = [r for r in rows if r["mode"] == m and r["allocator"] == a]
    if not c: return None, None
    return max(float(r["mops"]) for r in c), min(int(r["peak_rss_kib"]) for r in c)
thr = {m: next((r["threads"] for r in rows if r["mode"] == m), "?") for m in modes}
L = []
L.append("Lean workloads (galloc-lean under LD_PRELOAD): best of R; Mops/s (1 op = 1 malloc/free pair), peak RSS MiB")
L.append(f"load average: {load0} at start, {load1} at end (wall-clock figures on a loaded machine are indicative)")
L.append(f"{'mode':<9} {'thr':>3} " + " ".join(f"{a:>9}" for a in allocs) + f" {'g/best':>7} {'g/glibc':>7} | " +
         " ".join(f"{a[:7]+' MB':>10}" for a in allocs) + f" {'rss g/best':>10}")
for m in modes:
    v = {a: best(m, a) for a in allocs}
    s = f"{m:<9} {thr[m]:>3} " + " ".join(f"{v[a][0]:>9.2f}" if v[a][0] else f"{'-':>9}" for a in allocs)
    g = v.get("galloc", (None, None))
    bp = max((v[a][0] for a in peers if v[a][0]), default=None)
    br = min((v[a][1] for a in peers if v[a][1]), default=None)
    gl = v.get("glibc", (None, None))[0]
    s += f" {g[0]/bp:>7.2f}" if g[0] and bp else f" {'-':>7}"
    s += f" {g[0]/gl:>7.2f}" if g[0] and gl else f" {'-':>7}"
    s += " | " + " ".join(f"{v[a][1]/1024:>10.1f}" if v[a][1] else f"{'-':>10}" for a in allocs)
    s += f" {g[1]/br:>10.2f}" if g[1] and br else f" {'-':>10}"
    L.append(s)
text = "\n".join(L)
print(text)
open(f"{out}/lean.txt", "w").write(text + "\n")
with open(f"{out}/lean.csv", "w") as f:
    f.write("mode,threads," + ",".join(f"{a}_mops,{a}_peak_rss_kib" for a in allocs) + "\n")
    for m in modes:
        f.write(f"{m},{thr[m]}," + ",".join(f"{best(m, a)[0] or ''},{best(m, a)[1] or ''}" for a in allocs) + "\n")
dat = f"{out}/lean.dat"
with open(dat, "w") as f:
    f.write("mode " + " ".join(allocs) + "\n")
    for m in modes:
        gl = best(m, "glibc")[0] or 1
        f.write(m + " " + " ".join(f"{(best(m, a)[0] or 0)/gl:.4f}" for a in allocs) + "\n")
gp = f"{out}/lean.gp"
with open(gp, "w") as f:
    f.write("if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) set terminal pngcairo size 1200,600; else set terminal png size 1200,600\n")
    f.write(f"set output '{chart}'\n")
    f.write(f"set title 'galloc-lean: throughput relative to glibc, best of R (load {load0} .. {load1})'\n")
    f.write("set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8 border -1\n")
    f.write("set logscale y 2\nset grid ytics\nset key outside right\nset ylabel 'Mops/s relative to glibc (log2)'\n")
    cols = ", ".join(f"'{dat}' using {i+2}:xtic(1) title columnheader({i+2})" for i in range(len(allocs)))
    f.write(f"plot {cols}\n")
if shutil.which("gnuplot"):
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    print(f"chart: {chart}" if r.returncode == 0 else f"gnuplot failed: {r.stderr.strip()[:300]}")
else:
    print("note: gnuplot not installed (ci/setup.sh installs gnuplot-nox): no chart")
print(f"tables: {out}/lean.txt, {out}/lean.csv; every run: {path}")
EOF
  echo
fi
[ "$stress_tab" = 1 ] || exit 0

# ---- table 2: galloc-stress profiles ----------------------------------------------------
csv=$out/runs.csv
echo "rep,profile,threads,allocator,verify,ops_per_s,peak_rss,rc" >"$csv"
run() {   # rep profile threads idx verify
  local rep=$1 p=$2 t=$3 i=$4 v=$5 j rc vflag=--no-verify
  [ "$v" = 1 ] && vflag=
  j=$out/runs/${names[$i]}-$p-t$t-v$v-r$rep.json
  rm -f "$j"
  if [ -n "${preload[$i]}" ]; then
    env LD_PRELOAD="${preload[$i]}" "$stress" --backend="${backend[$i]}" $vflag --profile "$p" --threads "$t" \
      --seconds "$seconds" --seed "$rep" -q --json "$j" >"${j%.json}.log" 2>&1
  else
    "$stress" --backend="${backend[$i]}" $vflag --profile "$p" --threads "$t" --seconds "$seconds" --seed "$rep" -q \
      --json "$j" >"${j%.json}.log" 2>&1
  fi
  rc=$?
  python3 - "$j" "$rep" "$p" "$t" "${names[$i]}" "$v" "$rc" >>"$csv" <<'EOF'
import json, sys
j, rep, p, t, name, v, rc = sys.argv[1:]
try:
    d = json.load(open(j))
    print(f"{rep},{p},{t},{name},{v},{d['ops_per_s']:.1f},{d['peak_rss_bytes']},{rc}")
except Exception:
    print(f"{rep},{p},{t},{name},{v},,,{rc}")
EOF
  [ "$rc" = 0 ] || echo "  warning: ${names[$i]} $p t=$t rep $rep exited $rc (log: ${j%.json}.log)"
}

total=$(( reps * $(wc -w <<<"$profiles") * $(wc -w <<<"$threads") * (${#names[@]} + overhead) ))
echo "runs: $total x ${seconds}s"
for rep in $(seq 1 "$reps"); do
  for p in $profiles; do
    for t in $threads; do
      for i in "${!names[@]}"; do run "$rep" "$p" "$t" "$i" 0; done
      [ "$overhead" = 1 ] && run "$rep" "$p" "$t" 0 1
    done
  done
  echo "repetition $rep/$reps done"
done

python3 - "$csv" "$out" "${names[@]}" <<'EOF'
import csv, statistics, sys, subprocess, shutil
path, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = list(csv.DictReader(open(path)))
def med(vals):
    vals = [float(v) for v in vals if v not in ("", None)]
    return statistics.median(vals) if vals else None
cells = {}
for r in rows:
    cells.setdefault((r["profile"], int(r["threads"]), r["allocator"], r["verify"]), []).append(r)
profiles = list(dict.fromkeys(r["profile"] for r in rows))
threads = sorted({int(r["threads"]) for r in rows})
def tp(p, t, a, v="0"):
    c = cells.get((p, t, a, v), [])
    return med([x["ops_per_s"] for x in c if x["rc"] == "0"])
def rss(p, t, a, v="0"):
    c = cells.get((p, t, a, v), [])
    return med([x["peak_rss"] for x in c if x["rc"] == "0"])
lines = []
pr = lines.append
ref = "galloc" if "galloc" in names else "galloc-core"
others = [n for n in names if n not in ("galloc", "galloc-core")]
pr(f"Throughput, median Mops/s (--no-verify), and ratios {ref}/other (>1: {ref} faster)")
hdr = f"{'profile':<9} {'thr':>3} " + " ".join(f"{n:>11}" for n in names) + "  " + " ".join(f"{'vs '+n:>12}" for n in others)
pr(hdr)
for p in profiles:
    for t in threads:
        vals = [tp(p, t, n) for n in names]
        s = f"{p:<9} {t:>3} " + " ".join(f"{v/1e6:>11.3f}" if v else f"{'fail':>11}" for v in vals)
        g = tp(p, t, ref)
        s += "  " + " ".join(f"{g/tp(p, t, n):>12.2f}" if g and tp(p, t, n) else f"{'-':>12}" for n in others)
        pr(s)
pr("")
pr("Geometric mean of the ratios per thread count:")
import math
for t in threads:
    parts = []
    for n in others + (["galloc-core"] if ref == "galloc" else []):
        rs = [tp(p, t, ref) / tp(p, t, n) for p in profiles if tp(p, t, ref) and tp(p, t, n)]
        if rs:
            parts.append(f"{ref}/{n} {math.exp(sum(map(math.log, rs)) / len(rs)):.2f}")
    pr(f"  {t} thread(s): " + ", ".join(parts))
pr("")
pr("Peak RSS, median MiB")
pr(f"{'profile':<9} {'thr':>3} " + " ".join(f"{n:>11}" for n in names))
for p in profiles:
    for t in threads:
        pr(f"{p:<9} {t:>3} " + " ".join(f"{rss(p, t, n)/2**20:>11.1f}" if rss(p, t, n) else f"{'-':>11}" for n in names))
if any(k[3] == "1" for k in cells):
    pr("")
    pr("Verification overhead of galloc-stress (galloc-core): verified / unverified throughput")
    pr(f"{'profile':<9} {'thr':>3} {'verified':>10} {'unverified':>11} {'ratio':>7}")
    rs = []
    for p in profiles:
        for t in threads:
            a, b = tp(p, t, "galloc-core", "1"), tp(p, t, "galloc-core", "0")
            if a and b:
                rs.append(a / b)
                pr(f"{p:<9} {t:>3} {a/1e6:>10.3f} {b/1e6:>11.3f} {a/b:>7.2f}")
    if rs:
        pr(f"  geometric mean: verified runs at {math.exp(sum(map(math.log, rs)) / len(rs)):.2f}x the unverified throughput")
text = "\n".join(lines)
print(text)
open(f"{out}/compare.txt", "w").write(text + "\n")
with open(f"{out}/compare.csv", "w") as f:
    f.write("profile,threads," + ",".join(f"{n}_ops_per_s,{n}_peak_rss" for n in names) + "\n")
    for p in profiles:
        for t in threads:
            f.write(f"{p},{t}," + ",".join(f"{tp(p, t, n) or ''},{rss(p, t, n) or ''}" for n in names) + "\n")
# plot: grouped bars of Mops/s per profile, one panel per thread count
dat = f"{out}/compare.dat"
with open(dat, "w") as f:
    for t in threads:
        f.write(f"# threads {t}\nprofile " + " ".join(names) + "\n")
        for p in profiles:
            f.write(p + " " + " ".join(f"{(tp(p, t, n) or 0)/1e6:.4f}" for n in names) + "\n")
        f.write("\n\n")
gp = f"{out}/compare.gp"
with open(gp, "w") as f:
    for ext in ("png", "svg"):
        if ext == "png":
            f.write("if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) set terminal pngcairo size 1200,800; else set terminal png size 1200,800\n")
        else:
            f.write("set terminal svg size 1200,800 dynamic\n")
        f.write(f"set output '{out}/compare.{ext}'\n")
        f.write(f"set multiplot layout {len(threads)},1 title 'galloc-stress --no-verify: median Mops/s'\n")
        f.write("set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8 border -1\n")
        f.write("set grid ytics\nset key outside right\nset ylabel 'Mops/s'\nset xtics rotate by -30\n")
        for k, t in enumerate(threads):
            f.write(f"set title '{t} thread(s)'\n")
            cols = ", ".join(f"'{dat}' index {k} using {i+2}:xtic(1) title columnheader({i+2})" for i in range(len(names)))
            f.write(f"plot {cols}\n")
        f.write("unset multiplot\n")
if shutil.which("gnuplot"):
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    print(f"\nplots: {out}/compare.png, {out}/compare.svg" if r.returncode == 0 else f"\ngnuplot failed: {r.stderr.strip()[:300]}")
else:
    print("\nnote: gnuplot not installed (ci/setup.sh installs gnuplot-nox): no plot")
print(f"tables: {out}/compare.txt, {out}/compare.csv; every run: {path}")
EOF
