/*
 * mt_search.c — searching interleavings with the controlled scheduler: mt_search (the
 * loop, shared by galloc-sched and galloc-stress --sched) and galloc-sched's command line.
 *
 *   galloc-sched [--strategy random|pct|pos] [--seed N] [--seconds S] [--threads T]
 *                [--ops N] [--runs-per-program R] [--pct-depth D] [--plant NAME]
 *                [--profile mixed|larson|gc] [--out FILE] [--no-minimize] [-q]
 *
 * Program i (generated from seed and i; --profile shapes the op mix) is run under R
 * schedules (strategy seeded from seed, i and r). The first finding stops the search: the
 * reproducer (ops + the schedule as run, cut at the finding) is replayed to confirm it,
 * minimized unless --no-minimize, and written as text to --out (default
 * galloc-sched-PLANT-sSEED.mt) with a GAMT binary copy beside it (.bin); the replay
 * command is printed. The search is deterministic in its options: it stops at the same
 * run every time unless the time runs out first.
 * Owns: the search loop. Exit: 0 nothing found in the time, 1 finding, 2 bad usage.
 * Built twice: into galloc-sched, and into galloc-stress with MT_SEARCH_NO_MAIN (no main).
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

void mt_search_defaults(mt_search_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->strategy = GS_RANDOM;
    c->seed = 1;
    c->seconds = 60;
    c->threads = 2;
    c->pct_depth = 3;
    c->nops = 12;
    c->runs_per_program = 16;
    c->minimize = true;
    c->tool = "galloc-sched";
}

int mt_search(const mt_search_cfg *c)
{
    mt_options o;
    memset(&o, 0, sizeof o);
    o.sched.strategy = c->strategy;
    o.plant = c->plant;
    const char *tool = c->tool ? c->tool : "galloc-sched";
    const uint64_t seed = c->seed;
    const unsigned threads = c->threads;
    const size_t nops = c->nops, rpp = c->runs_per_program;
    if (!gs_has_alloc_points()) {
        fprintf(stderr, "%s: this build has no schedule points in the allocator (use the sched preset: "
                        "cmake --preset sched && cmake --build build-sched; build-sched/bin/%s)\n", tool, tool);
        return 2;
    }
    double t0 = now();
    size_t runs = 0, steps = 0;
    for (uint64_t prog = 0;; prog++) {
        mt_prog p;
        if (mt_generate(seed * 1000003ull + prog, threads, nops, &p) != 0) return 2;
        shape(&p, c->profile, seed + prog);
        for (size_t r = 0; r < rpp; r++) {
            if (now() - t0 > c->seconds) {
                printf("%s: no finding in %.1f s (%zu runs, %zu programs, %zu decisions; strategy %s, plant %s)\n",
                       tool, now() - t0, runs, (size_t)prog, steps, gs_strategy_name(o.sched.strategy), ga_plant_name(o.plant));
                mt_prog_free(&p);
                return 0;
            }
            o.sched.seed = seed ^ (prog * 0x9e3779b97f4a7c15ull) ^ (r * 0xbf58476d1ce4e5b9ull);
            o.sched.pct_depth = c->pct_depth;
            o.sched.pct_steps = 40 * nops * threads;
            mt_finding f;
            mt_result res;
            int rc = mt_run(&p, &o, &f, &res);
            runs++;
            steps += res.steps;
            if (rc < 0) { fprintf(stderr, "%s: %s\n", tool, f.message); return 2; }
            if (rc == 1) {
                double t = now() - t0;
                mt_set_sched(&p, res.decisions, res.ndecisions);
                free(res.decisions); free(res.tags);
                printf("%s: FOUND after %.2f s, run %zu (program %llu, schedule %zu; strategy %s, plant %s)\n", tool, t, runs,
                       (unsigned long long)prog, r, gs_strategy_name(o.sched.strategy), ga_plant_name(o.plant));
                mt_print_finding(stdout, &f, "search");
                /* confirm: the recorded schedule replays the same finding */
                mt_options ro = o;
                ro.sched.strategy = GS_REPLAY;
                mt_finding g;
                mt_run(&p, &ro, &g, NULL);
                if (!mt_same_finding(&f, &g)) {
                    printf("%s: the replay of the recorded schedule differs (harness fault):\n", tool);
                    mt_print_finding(stdout, &g, "replay");
                    mt_prog_free(&p);
                    return 1;
                }
                if (c->minimize) {
                    long mr = mt_minimize(&p, &ro, &f, 5000, NULL);
                    size_t tops = 0;
                    for (unsigned k = 0; k < p.nthreads; k++) tops += p.nops[k];
                    printf("minimized (%ld replays): %zu ops, %zu decisions, %zu switches\n", mr, tops, p.nsched,
                           gs_count_switches(p.sched, p.nsched));
                    mt_print_finding(stdout, &f, "minimized");
                }
                char path[1024];
                if (c->out) snprintf(path, sizeof path, "%s", c->out);
                else snprintf(path, sizeof path, "galloc-sched-%s-s%llu.mt", ga_plant_name(o.plant), (unsigned long long)seed);
                FILE *fo = fopen(path, "w");
                if (fo) {
                    char by[600], cm[1200];
                    if (c->found_by) snprintf(by, sizeof by, "%s", c->found_by);
                    else snprintf(by, sizeof by, "galloc-sched --strategy %s --seed %llu --threads %u --ops %zu%s%s",
                                  gs_strategy_name(o.sched.strategy), (unsigned long long)seed, threads, nops,
                                  c->profile ? " --profile " : "", c->profile ? c->profile : "");
                    snprintf(cm, sizeof cm, "found by %s in %.2f s\nfound with: --alloc-plant %s\nfinding: %s %s: %s",
                             by, t, ga_plant_name(o.plant), f.what, f.invariant, f.message);
                    mt_format(&p, fo, cm);
                    fclose(fo);
                    char bpath[1100];
                    snprintf(bpath, sizeof bpath, "%s.bin", path);
                    uint8_t *b; size_t n;
                    FILE *fb = fopen(bpath, "wb");
                    if (fb && mt_encode(&p, &b, &n) == 0) { fwrite(b, 1, n, fb); free(b); }
                    if (fb) fclose(fb);
                    printf("reproducer: %s (binary: %s)\nreplay: %s --mt%s%s %s\n", path, bpath,
                           c->replay ? c->replay : "galloc-replay",
                           o.plant ? " --alloc-plant " : "", o.plant ? ga_plant_name(o.plant) : "", path);
                } else {
                    fprintf(stderr, "%s: cannot write %s\n", tool, path);
                }
                mt_prog_free(&p);
                return 1;
            }
            free(res.decisions); free(res.tags);
            if (!c->quiet && runs % 2000 == 0)
                fprintf(stderr, "%s: %zu runs, %.1f s\n", tool, runs, now() - t0);
        }
        mt_prog_free(&p);
    }
}

int mt_search_main(int argc, char **argv)
{
    mt_search_cfg c;
    mt_search_defaults(&c);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage_exit("help", NULL);
        else if (!strcmp(a, "--no-minimize")) c.minimize = false;
        else if (!strcmp(a, "-q")) c.quiet = true;
        else if (!v) usage_exit("unknown or incomplete option", a);
        else if (!strcmp(a, "--strategy") || !strcmp(a, "--sched")) {
            int s = gs_strategy_from_name(v);
            if (s < 0 || s == GS_REPLAY || s == GS_DIRECTED) usage_exit("strategy must be random, pct or pos", v);
            c.strategy = (gs_strategy)s; i++;
        }
        else if (!strcmp(a, "--seed")) { c.seed = num(a, v, 0, ~0ul); i++; }
        else if (!strcmp(a, "--seconds")) { c.seconds = (double)num(a, v, 1, 1000000); i++; }
        else if (!strcmp(a, "--threads")) { c.threads = (unsigned)num(a, v, 2, GS_MAX_THREADS); i++; }
        else if (!strcmp(a, "--ops")) { c.nops = num(a, v, 1, 10000); i++; }
        else if (!strcmp(a, "--runs-per-program")) { c.runs_per_program = num(a, v, 1, 1000000); i++; }
        else if (!strcmp(a, "--pct-depth")) { c.pct_depth = (unsigned)num(a, v, 1, 8); i++; }
        else if (!strcmp(a, "--plant")) { c.plant = mt_plant_from_name(v); if (c.plant < 0) usage_exit("unknown plant", v); i++; }
        else if (!strcmp(a, "--profile")) {
            if (strcmp(v, "mixed") && strcmp(v, "larson") && strcmp(v, "gc")) usage_exit("profile must be mixed, larson or gc", v);
            c.profile = v; i++;
        }
        else if (!strcmp(a, "--out")) { c.out = v; i++; }
        else usage_exit("unknown option", a);
    }
    return mt_search(&c);
}

#ifndef MT_SEARCH_NO_MAIN
int main(int argc, char **argv) { return mt_search_main(argc, argv); }
#endif
