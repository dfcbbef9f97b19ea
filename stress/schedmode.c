/*
 * schedmode.c — galloc-stress --sched random|pct|pos: profile-shaped workloads under the
 * controlled scheduler (issue 15).
 *
 *   galloc-stress --sched pct --profile larson --threads 2 --seconds 60 --seed 1
 *                 [--plant NAME] [--repro FILE] [--sched-ops N] [--pct-depth D] [--no-minimize] [-q]
 *
 * Free-running galloc-stress cannot replay a race: the OS picks the interleaving. In this
 * mode the threads are logical threads of the controlled scheduler (harness/gsched.h), one
 * running at a time, a seeded strategy choosing at every schedule point of the allocator,
 * and the run is the search of galloc-sched (mt_search, harness/mt_search.c): generated
 * per-thread op programs shaped by the profile, each run under many seeded schedules,
 * until a finding or --seconds. The profile maps to the search's op shapes:
 *   larson, prodcons -> larson (cross-thread frees dominate)
 *   gc, tiny         -> gc     (thread 0 runs GC cycles, the others' frees race with them)
 *   the others       -> mixed  (the generator's mix of every op)
 * A finding is replayed to confirm it, minimized, written to --repro (default
 * galloc-stress-sched-PROFILE-sSEED-tTHREADS.mt, with a GAMT copy FILE.bin) and the exact
 * replay command (galloc-replay --mt [--alloc-plant P] FILE) is printed; the same command
 * line finds the same reproducer again (unless the time runs out first).
 * Only the sched build (preset sched, build-sched/) has schedule points: elsewhere this
 * mode says so and exits 2. Options of the free-running driver that mean nothing here
 * (--backend, --json, --ops, ...) are refused (exit 2).
 * Owns: the mode's option parsing and the profile mapping. Exit: 0 clean, 1 finding, 2 usage.
 * Calls: mt.h (mt_search), stress.h (profile names).
 */
#include "stress.h"
#include "mt.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mt_plant_from_name(const char *v);

static const char *SCHED_USAGE =
"usage: galloc-stress --sched random|pct|pos [options]   (the sched build: build-sched/bin/galloc-stress)\n"
"Profile-shaped op programs on logical threads of the controlled scheduler; every schedule is\n"
"seeded and recorded, a finding writes a reproducer galloc-replay --mt replays exactly.\n"
"Exit: 0 clean, 1 finding, 2 usage.\n"
"  --profile NAME   larson, prodcons (-> cross-thread frees), gc, tiny (-> GC cycles racing with\n"
"                   frees), churn, large, frag, threads, mixed (-> every op; default mixed)\n"
"  --threads N      logical threads (2..8, default 2)\n"
"  --seconds S      search time (default 10)\n"
"  --seed N         seed of programs and schedules (default 1)\n"
"  --plant NAME     switch on a deliberate galloc bug (e.g. lost-sweep-request, cross-cache-free,\n"
"                   gc-begin-one-pass)\n"
"  --repro FILE     reproducer (default galloc-stress-sched-PROFILE-sSEED-tTHREADS.mt, + FILE.bin)\n"
"  --sched-ops N    ops per thread per program (default 12)\n"
"  --pct-depth D    PCT bug depth (default 3)\n"
"  --no-minimize    write the reproducer as found\n"
"  -q, --quiet      no progress lines\n";

static void sched_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "galloc-stress --sched: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", SCHED_USAGE);
    exit(2);
}

bool st_sched_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--sched") == 0 || strncmp(argv[i], "--sched=", 8) == 0) return true;
    return false;
}

static const char *shape_of(int profile)
{
    switch (profile) {
    case PR_LARSON: case PR_PRODCONS: return "larson";
    case PR_GC: case PR_TINY: return "gc";
    default: return "mixed";
    }
}

static bool num(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t u;
    if (!gh_parse_size(v, &u) || u < lo || u > hi) return false;
    *out = u;
    return true;
}

int st_sched_main(int argc, char **argv)
{
    mt_search_cfg c;
    mt_search_defaults(&c);
    c.tool = "galloc-stress";
    c.seconds = 10;
    int profile = PR_MIXED;
    const char *repro = NULL;
    bool have_strategy = false;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) { fputs(SCHED_USAGE, stdout); exit(0); }
    for (int i = 1; i < argc; i++) {
        char name[64];
        const char *val = st_split_option(argv[i], name, sizeof name);
#define IS(s) (strcmp(name, s) == 0)
#define VAL() (val ? val : (i + 1 < argc ? argv[++i] : (sched_usage("%s needs an argument", name), "")))
        uint64_t u;
        if (IS("-q") || IS("--quiet")) c.quiet = true;
        else if (IS("--no-minimize")) c.minimize = false;
        else if (IS("--sched")) {
            const char *v = VAL();
            int s = gs_strategy_from_name(v);
            if (s != GS_RANDOM && s != GS_PCT && s != GS_POS) sched_usage("--sched wants random, pct or pos, got '%s'", v);
            c.strategy = (gs_strategy)s;
            have_strategy = true;
        } else if (IS("--threads")) {
            const char *v = VAL();
            if (!num(v, 2, GS_MAX_THREADS, &u)) sched_usage("--threads wants 2..8 logical threads, got '%s'", v);
            c.threads = (unsigned)u;
        } else if (IS("--seconds")) {
            const char *v = VAL();
            char *e;
            double d = strtod(v, &e);
            if (!*v || *e || !(d > 0) || d > 1e9) sched_usage("--seconds wants a positive number, got '%s'", v);
            c.seconds = d;
        } else if (IS("--seed")) {
            const char *v = VAL();
            if (!num(v, 0, UINT64_MAX, &u)) sched_usage("--seed wants a number, got '%s'", v);
            c.seed = u;
        } else if (IS("--profile")) {
            const char *v = VAL();
            if ((profile = st_profile_from_name(v)) < 0) sched_usage("unknown profile '%s'", v);
        } else if (IS("--plant")) {
            const char *v = VAL();
            if ((c.plant = mt_plant_from_name(v)) <= 0) sched_usage("unknown plant '%s'", v);
        } else if (IS("--repro")) repro = VAL();
        else if (IS("--sched-ops")) {
            const char *v = VAL();
            if (!num(v, 1, 10000, &u)) sched_usage("--sched-ops wants 1..10000, got '%s'", v);
            c.nops = (size_t)u;
        } else if (IS("--pct-depth")) {
            const char *v = VAL();
            if (!num(v, 1, 8, &u)) sched_usage("--pct-depth wants 1..8, got '%s'", v);
            c.pct_depth = (unsigned)u;
        } else if (IS("--ops") || IS("--backend") || IS("--no-verify") || IS("--verify") || IS("--json") || IS("--plot") ||
                   IS("--verify-every") || IS("--gc-every") || IS("--phase") || IS("--epoch-ops") || IS("--replay-budget") ||
                   IS("--progress") || IS("--min-rate") || IS("--watchdog") || IS("--test-fault")) {
            sched_usage("%s belongs to the free-running driver, not to --sched (every op is checked and "
                        "verified under the scheduler; --sched-ops sets the program length)", name);
        } else {
            sched_usage("unknown option '%s'", argv[i]);
        }
#undef IS
#undef VAL
    }
    if (!have_strategy) sched_usage("--sched needs a strategy%s", "");
    c.profile = shape_of(profile);

    char out[1024], by[600], replay[600];
    if (repro) snprintf(out, sizeof out, "%s", repro);
    else snprintf(out, sizeof out, "galloc-stress-sched-%s-s%" PRIu64 "-t%u.mt", st_profile_name(profile), c.seed, c.threads);
    c.out = out;
    snprintf(by, sizeof by, "galloc-stress --sched %s --profile %s --threads %u --seed %" PRIu64 " --seconds %g%s%s",
             gs_strategy_name(c.strategy), st_profile_name(profile), c.threads, c.seed, c.seconds,
             c.plant ? " --plant " : "", c.plant ? ga_plant_name(c.plant) : "");
    c.found_by = by;
    /* galloc-replay of this build, beside this executable */
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *sl = NULL;
    if (n > 0) { exe[n] = 0; sl = strrchr(exe, '/'); }
    if (sl) { *sl = 0; snprintf(replay, sizeof replay, "%s/galloc-replay", exe); }
    else snprintf(replay, sizeof replay, "galloc-replay");
    c.replay = replay;
    if (!c.quiet && gs_has_alloc_points())
        fprintf(stderr, "galloc-stress --sched: profile %s (op shape %s), %u logical threads, strategy %s, seed %" PRIu64 "%s%s, %g s\n",
                st_profile_name(profile), c.profile, c.threads, gs_strategy_name(c.strategy), c.seed,
                c.plant ? ", plant " : "", c.plant ? ga_plant_name(c.plant) : "", c.seconds);
    return mt_search(&c);
}
