/*
 * mt_search.c — galloc-sched: searches interleavings with the controlled scheduler.
 *
 *   galloc-sched [--strategy random|pct|pos] [--seed N] [--seconds S] [--threads T]
 *                [--ops N] [--runs-per-program R] [--pct-depth D] [--plant NAME]
 *                [--profile mixed|larson|gc] [--out FILE] [--no-minimize] [-q]
 *
 * Program i (generated from seed and i; --profile shapes the op mix) is run under R
 * schedules (strategy seeded from seed, i and r). The first finding stops the search: the
 * reproducer (ops + the schedule as run, cut at the finding) is replayed to confirm it,
 * minimized unless --no-minimize, and written as text to --out (default
 * galloc-sched-PLANT-sSEED.mt) with a GAMT binary copy beside it (.bin).
 * Owns: the search loop. Exit: 0 nothing found in the time, 1 finding, 2 bad usage.
 * Calls: mt.h.
 */
#define _GNU_SOURCE 1
#include "mt.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

int mt_plant_from_name(const char *v);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage_exit(const char *msg, const char *arg)
{
    fprintf(stderr, "galloc-sched: %s%s%s\n"
            "usage: galloc-sched [--strategy random|pct|pos] [--seed N] [--seconds S] [--threads T] [--ops N]\n"
            "                    [--runs-per-program R] [--pct-depth D] [--plant NAME] [--profile mixed|larson|gc]\n"
            "                    [--out FILE] [--no-minimize] [-q]\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(2);
}

static unsigned long num(const char *a, const char *v, unsigned long lo, unsigned long hi)
{
    char *e;
    unsigned long x = strtoul(v, &e, 0);
    if (!*v || *e || *v == '-' || x < lo || x > hi) usage_exit("bad number for option", a);
    return x;
}

/* --profile: reshape a generated program. larson: cross-thread frees dominate; gc: GC
 * cycles and frees racing with them. */
static void shape(mt_prog *p, const char *profile, uint64_t seed)
{
    if (!profile || !strcmp(profile, "mixed")) return;
    uint64_t z = seed;
    for (unsigned t = 0; t < p->nthreads; t++)
        for (size_t i = 0; i < p->nops[t]; i++) {
            mt_op *o = &p->ops[t][i];
            z = z * 6364136223846793005ull + 1442695040888963407ull;
            unsigned r = (unsigned)(z >> 33) % 100;
            if (!strcmp(profile, "larson")) {
                if (o->kind == MT_GC || o->kind == MT_SCAVENGE || o->kind == MT_FREE) o->kind = r < 50 ? MT_FREE_OTHER : MT_MALLOC;
                if (o->kind == MT_MALLOC && o->a > 1024) o->a = 48;
            } else if (!strcmp(profile, "gc")) {
                if (t == 0 && r < 30) { o->kind = MT_GC; o->a = 40 + r; o->b = (uint32_t)(z >> 20); o->flags = r & 1; }
                else if (t != 0 && o->kind == MT_FREE_LOCAL) o->kind = MT_FREE_OTHER;
            }
        }
}

int mt_search_main(int argc, char **argv)
{
    mt_options o;
    memset(&o, 0, sizeof o);
    o.sched.strategy = GS_RANDOM;
    uint64_t seed = 1;
    double seconds = 60;
    unsigned threads = 2, depth = 3;
    size_t nops = 12, rpp = 16;
    bool minimize = true, quiet = false;
    const char *out = NULL, *profile = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage_exit("help", NULL);
        else if (!strcmp(a, "--no-minimize")) minimize = false;
        else if (!strcmp(a, "-q")) quiet = true;
        else if (!v) usage_exit("unknown or incomplete option", a);
        else if (!strcmp(a, "--strategy") || !strcmp(a, "--sched")) {
            int s = gs_strategy_from_name(v);
            if (s < 0 || s == GS_REPLAY || s == GS_DIRECTED) usage_exit("strategy must be random, pct or pos", v);
            o.sched.strategy = (gs_strategy)s; i++;
        }
        else if (!strcmp(a, "--seed")) { seed = num(a, v, 0, ~0ul); i++; }
        else if (!strcmp(a, "--seconds")) { seconds = (double)num(a, v, 1, 1000000); i++; }
        else if (!strcmp(a, "--threads")) { threads = (unsigned)num(a, v, 2, GS_MAX_THREADS); i++; }
        else if (!strcmp(a, "--ops")) { nops = num(a, v, 1, 10000); i++; }
        else if (!strcmp(a, "--runs-per-program")) { rpp = num(a, v, 1, 1000000); i++; }
        else if (!strcmp(a, "--pct-depth")) { depth = (unsigned)num(a, v, 1, 8); i++; }
        else if (!strcmp(a, "--plant")) { o.plant = mt_plant_from_name(v); if (o.plant < 0) usage_exit("unknown plant", v); i++; }
        else if (!strcmp(a, "--profile")) {
            if (strcmp(v, "mixed") && strcmp(v, "larson") && strcmp(v, "gc")) usage_exit("profile must be mixed, larson or gc", v);
            profile = v; i++;
        }
        else if (!strcmp(a, "--out")) { out = v; i++; }
        else usage_exit("unknown option", a);
    }
    if (!gs_has_alloc_points()) {
        fprintf(stderr, "galloc-sched: this build has no schedule points in the allocator (use the sched preset)\n");
        return 2;
    }
    double t0 = now();
    size_t runs = 0, steps = 0;
    for (uint64_t prog = 0;; prog++) {
        mt_prog p;
        if (mt_generate(seed * 1000003ull + prog, threads, nops, &p) != 0) return 2;
        shape(&p, profile, seed + prog);
        for (size_t r = 0; r < rpp; r++) {
            if (now() - t0 > seconds) {
                printf("galloc-sched: no finding in %.1f s (%zu runs, %zu programs, %zu decisions; strategy %s, plant %s)\n",
                       now() - t0, runs, (size_t)prog, steps, gs_strategy_name(o.sched.strategy), ga_plant_name(o.plant));
                mt_prog_free(&p);
                return 0;
            }
            o.sched.seed = seed ^ (prog * 0x9e3779b97f4a7c15ull) ^ (r * 0xbf58476d1ce4e5b9ull);
            o.sched.pct_depth = depth;
            o.sched.pct_steps = 40 * nops * threads;
            mt_finding f;
            mt_result res;
            int rc = mt_run(&p, &o, &f, &res);
            runs++;
            steps += res.steps;
            if (rc < 0) { fprintf(stderr, "galloc-sched: %s\n", f.message); return 2; }
            if (rc == 1) {
                double t = now() - t0;
                mt_set_sched(&p, res.decisions, res.ndecisions);
                free(res.decisions); free(res.tags);
                printf("galloc-sched: FOUND after %.2f s, run %zu (program %llu, schedule %zu; strategy %s, plant %s)\n", t, runs,
                       (unsigned long long)prog, r, gs_strategy_name(o.sched.strategy), ga_plant_name(o.plant));
                mt_print_finding(stdout, &f, "search");
                /* confirm: the recorded schedule replays the same finding */
                mt_options ro = o;
                ro.sched.strategy = GS_REPLAY;
                mt_finding g;
                mt_run(&p, &ro, &g, NULL);
                if (!mt_same_finding(&f, &g)) {
                    printf("galloc-sched: the replay of the recorded schedule differs (harness fault):\n");
                    mt_print_finding(stdout, &g, "replay");
                    mt_prog_free(&p);
                    return 1;
                }
                if (minimize) {
                    long mr = mt_minimize(&p, &ro, &f, 5000, NULL);
                    size_t tops = 0;
                    for (unsigned k = 0; k < p.nthreads; k++) tops += p.nops[k];
                    printf("minimized (%ld replays): %zu ops, %zu decisions, %zu switches\n", mr, tops, p.nsched,
                           gs_count_switches(p.sched, p.nsched));
                    mt_print_finding(stdout, &f, "minimized");
                }
                char path[1024];
                if (out) snprintf(path, sizeof path, "%s", out);
                else snprintf(path, sizeof path, "galloc-sched-%s-s%llu.mt", ga_plant_name(o.plant), (unsigned long long)seed);
                FILE *fo = fopen(path, "w");
                if (fo) {
                    char c[900];
                    snprintf(c, sizeof c, "found by galloc-sched --strategy %s --seed %llu --threads %u --ops %zu%s%s in %.2f s\n"
                             "found with: --alloc-plant %s\nfinding: %s %s: %s",
                             gs_strategy_name(o.sched.strategy), (unsigned long long)seed, threads, nops,
                             profile ? " --profile " : "", profile ? profile : "", t, ga_plant_name(o.plant), f.what, f.invariant, f.message);
                    mt_format(&p, fo, c);
                    fclose(fo);
                    char bpath[1100];
                    snprintf(bpath, sizeof bpath, "%s.bin", path);
                    uint8_t *b; size_t n;
                    FILE *fb = fopen(bpath, "wb");
                    if (fb && mt_encode(&p, &b, &n) == 0) { fwrite(b, 1, n, fb); free(b); }
                    if (fb) fclose(fb);
                    printf("reproducer: %s (binary: %s)\nreplay: galloc-replay --mt%s%s %s\n", path, bpath,
                           o.plant ? " --alloc-plant " : "", o.plant ? ga_plant_name(o.plant) : "", path);
                } else {
                    fprintf(stderr, "galloc-sched: cannot write %s\n", path);
                }
                mt_prog_free(&p);
                return 1;
            }
            free(res.decisions); free(res.tags);
            if (!quiet && runs % 2000 == 0)
                fprintf(stderr, "galloc-sched: %zu runs, %.1f s\n", runs, now() - t0);
        }
        mt_prog_free(&p);
    }
}

#ifndef MT_SEARCH_NO_MAIN
int main(int argc, char **argv) { return mt_search_main(argc, argv); }
#endif
