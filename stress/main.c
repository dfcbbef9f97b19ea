/*
 * main.c — galloc-stress: the command line and the coordinator.
 *
 *   galloc-stress [--threads N] [--seconds S | --ops N] [--seed N] [--profile NAME] ...
 *
 * Owns: option parsing (bad usage -> message, exit 2), the run's setup and teardown, and
 * the coordinator loop on the main thread, which samples throughput and RSS, draws the
 * progress line, and stops the world (every worker parked at a barrier) to
 *   - verify: scan every object (header + pattern), ga_verify, release the caches,
 *     sweep (scavenger policy step), cross-check ga_read_stats against the driver's
 *     totals, ga_verify again;
 *   - run a GC cycle (gc and tiny profiles): mark the objects that stay live — chosen by
 *     the same hash galloc-replay's `gc keep=P seed=S` uses — and let sweeping reclaim
 *     the rest;
 *   - end an epoch: when the op log reaches --epoch-ops, every object dies in a GC cycle
 *     with nothing marked, stats must show an empty heap, and the heap is destroyed and
 *     created anew (so a reproducer is one heap lifetime, never a whole night's run);
 *   - switch the mixed profile's phase: close the phase's books (progress.c: every thread
 *     must have reached the floor), then hand over a state every profile can work from:
 *     the shared hand-off structures drained, every thread's table emptied (explicit
 *     frees; what only a GC can reclaim, tiny-allocator objects, dies in a GC cycle that
 *     marks nothing), so no phase inherits a table it cannot free.
 * A finding (from any thread, the coordinator or the watchdog) stops every thread; the
 * coordinator then prints the invariant, the object, the thread and every thread's last
 * ops, writes the reproducer (oplog.c), prints the replay command (deterministic) and the
 * rerun command (not deterministic), and exits 1.
 */
#include "stress.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *USAGE =
"usage: galloc-stress [options]\n"
"Multi-threaded stress driver and benchmark for galloc (and, with --backend=system, for any\n"
"malloc: LD_PRELOAD=... galloc-stress --backend=system). Exit: 0 clean, 1 finding, 2 usage.\n"
"  --threads N          worker threads (1..255, default 2)\n"
"  --seconds S          run time (default 10 unless --ops is given)\n"
"  --ops N              run until N allocations+frees were done\n"
"  --seed N             seed (default 1)\n"
"  --profile NAME       churn, larson, prodcons, large, tiny, frag, threads, gc, mixed (default mixed)\n"
"  --backend NAME       galloc (core API, one ga_cache per thread; default) or system (malloc/free)\n"
"  --no-verify          no patterns, scans, ga_verify or op log: pure throughput\n"
"  --plant NAME         switch on a deliberate galloc bug (ga_heap_options.plant) to prove detection:\n"
"                       refill-off-by-one, summary-merge, no-needzero, lost-sweep-request, cross-cache-free,\n"
"                       gc-end-order, gc-begin-one-pass\n"
"  --json FILE          write a JSON report (throughput per op kind, latency percentiles, RSS, heap stats)\n"
"  --plot DIR           write DIR/galloc-stress.png and .svg (gnuplot) of throughput and memory over time\n"
"  --repro FILE         where a finding's reproducer goes (default galloc-stress-PROFILE-sSEED-tTHREADS.ops)\n"
"  --verify-every S     seconds between stop-the-world verifications (default 1)\n"
"  --gc-every S         seconds between GC cycles in the gc and tiny profiles (default 0.25)\n"
"  --phase S            mixed: seconds of running time (stop-the-world pauses not counted) per profile\n"
"                       phase (default: run time / 16, 0.25..10)\n"
"  --epoch-ops N        ops logged per heap lifetime (default 1000000); 0: one heap, no op log,\n"
"                       no reproducer\n"
"  --replay-budget B    live bytes galloc-replay is assumed to allow (default 256m)\n"
"  --progress S         seconds between progress lines when stderr is not a terminal (default 10)\n"
"  --min-rate N         floor: in every phase each worker thread must do at least max(1, N x the phase's\n"
"                       running seconds) ops (allocations + frees; large: N / 50; more threads than\n"
"                       CPUs: x CPUs / threads), or the run fails (default 1000; 0: off)\n"
"  --watchdog S         a worker without an op for S seconds of running time, or a coordinator stuck for\n"
"                       S seconds (at a stop-the-world point a thread never reaches), is a finding (default 30; 0: off)\n"
"  --sched STRATEGY     random, pct or pos: the profile's op shape on logical threads of the controlled\n"
"                       scheduler, exact reproducers (sched build only; galloc-stress --sched --help)\n"
"  -q, --quiet          no progress line\n"
"  -h, --help\n";

static void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "galloc-stress: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", USAGE);
    exit(2);
}

static bool parse_secs(const char *s, double *v)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || *end || end == s || !(x >= 0) || x > 1e9) return false;
    *v = x;
    return true;
}

static int plant_from_name(const char *s)
{
    for (int i = 1; i < GA_PLANT_COUNT; i++)
        if (strcmp(s, ga_plant_name(i)) == 0) return i;
    return -1;
}

static void parse_args(int argc, char **argv, config *c)
{
    memset(c, 0, sizeof *c);
    c->threads = 2;
    c->seed = 1;
    c->profile = PR_MIXED;
    c->backend = BE_GALLOC;
    c->verify = true;
    c->verify_every = 1.0;
    c->gc_every = 0.25;
    c->progress_every = 10;
    c->epoch_ops = 1000000;
    c->replay_budget = (size_t)256 << 20;
    c->min_rate = 1000;
    c->watchdog = 30;
    c->fault_profile = -1;
    bool have_secs = false;
    for (int i = 1; i < argc; i++) {
        char name[64];
        const char *val = st_split_option(argv[i], name, sizeof name);
#define IS(s) (strcmp(name, s) == 0)
#define VAL() (val ? val : (i + 1 < argc ? argv[++i] : (usage_error("%s needs an argument", name), "")))
        uint64_t u;
        double d;
        if (IS("-h") || IS("--help")) { fputs(USAGE, stdout); exit(0); }
        else if (IS("-q") || IS("--quiet")) c->quiet = true;
        else if (IS("--no-verify")) c->verify = false;
        else if (IS("--verify")) c->verify = true;
        else if (IS("--threads")) {
            const char *v = VAL();
            if (!gh_parse_size(v, &u) || u < 1 || u > 255) usage_error("--threads wants 1..255, got '%s'", v);
            c->threads = (int)u;
        } else if (IS("--seconds")) {
            const char *v = VAL();
            if (!parse_secs(v, &d) || d <= 0) usage_error("--seconds wants a positive number, got '%s'", v);
            c->seconds = d;
            have_secs = true;
        } else if (IS("--ops")) {
            const char *v = VAL();
            if (!gh_parse_size(v, &u) || u == 0) usage_error("--ops wants a positive count, got '%s'", v);
            c->ops = u;
        } else if (IS("--seed")) {
            const char *v = VAL();
            if (!gh_parse_size(v, &u)) usage_error("--seed wants a number, got '%s'", v);
            c->seed = u;
        } else if (IS("--profile")) {
            const char *v = VAL();
            int p = st_profile_from_name(v);
            if (p < 0) usage_error("unknown profile '%s'", v);
            c->profile = p;
        } else if (IS("--backend")) {
            const char *v = VAL();
            if (strcmp(v, "galloc") == 0) c->backend = BE_GALLOC;
            else if (strcmp(v, "system") == 0) c->backend = BE_SYSTEM;
            else usage_error("--backend wants galloc or system, got '%s'", v);
        } else if (IS("--plant")) {
            const char *v = VAL();
            int p = plant_from_name(v);
            if (p < 0) usage_error("unknown plant '%s'", v);
            c->plant = p;
        } else if (IS("--json")) c->json = VAL();
        else if (IS("--plot")) c->plot_dir = VAL();
        else if (IS("--repro")) c->repro = VAL();
        else if (IS("--verify-every") || IS("--gc-every") || IS("--phase") || IS("--progress")) {
            const char *v = VAL();
            if (!parse_secs(v, &d) || d <= 0) usage_error("this option wants a positive number of seconds, got '%s'", v);
            if (IS("--verify-every")) c->verify_every = d;
            else if (IS("--gc-every")) c->gc_every = d;
            else if (IS("--phase")) c->phase = d;
            else c->progress_every = d;
        } else if (IS("--epoch-ops")) {
            const char *v = VAL();
            if (!gh_parse_size(v, &u)) usage_error("--epoch-ops wants a count, got '%s'", v);
            c->epoch_ops = u;
        } else if (IS("--min-rate") || IS("--watchdog")) {
            const char *v = VAL();
            if (!parse_secs(v, &d)) usage_error("this option wants a number >= 0, got '%s'", v);
            if (IS("--min-rate")) c->min_rate = d;
            else c->watchdog = d;
        } else if (IS("--test-fault")) {   /* hidden: idle|block:SLOT[:PROFILE] (stress/tests/progress.sh) */
            const char *v = VAL();
            char kind[16] = "", prof[32] = "";
            unsigned slot = 0;
            int n = sscanf(v, "%15[a-z]:%u:%31[a-z]", kind, &slot, prof);
            if (n < 2 || (strcmp(kind, "idle") != 0 && strcmp(kind, "block") != 0))
                usage_error("--test-fault wants idle:SLOT[:PROFILE] or block:SLOT[:PROFILE], got '%s'", v);
            c->fault_kind = strcmp(kind, "idle") == 0 ? FAULT_IDLE : FAULT_BLOCK;
            c->fault_slot = (int)slot;
            if (n == 3 && ((c->fault_profile = st_profile_from_name(prof)) < 0 || c->fault_profile == PR_MIXED))
                usage_error("--test-fault: unknown profile '%s'", prof);
        } else if (IS("--replay-budget")) {
            const char *v = VAL();
            if (!gh_parse_size(v, &u) || u == 0) usage_error("--replay-budget wants bytes, got '%s'", v);
            c->replay_budget = (size_t)u;
        } else {
            usage_error("unknown option '%s'", argv[i]);
        }
#undef IS
#undef VAL
    }
    if (!have_secs && !c->ops) c->seconds = 10;
    if (c->plant && c->backend != BE_GALLOC) usage_error("--plant needs --backend=galloc%s", "");
    if (c->fault_kind && c->fault_slot >= c->threads) usage_error("--test-fault: no such thread slot (see --threads)%s", "");
}

/* The command that runs this configuration again (free-running: not deterministic). */
static void build_rerun(config *c)
{
    char *b = c->rerun;
    size_t n = sizeof c->rerun, l = 0;
#define ADD(...) do { if (l < n) l += (size_t)snprintf(b + l, n - l, __VA_ARGS__); } while (0)
    ADD("%s --profile %s --threads %d --seed %" PRIu64, c->argv0, st_profile_name(c->profile), c->threads, c->seed);
    if (c->seconds > 0) ADD(" --seconds %g", c->seconds);
    else ADD(" --ops %" PRIu64, c->ops);
    if (c->phase > 0) ADD(" --phase %g", c->phase);
    if (c->backend == BE_SYSTEM) ADD(" --backend=system");
    if (!c->verify) ADD(" --no-verify");
    if (c->plant) ADD(" --plant %s", ga_plant_name(c->plant));
    if (c->verify_every != 1.0) ADD(" --verify-every %g", c->verify_every);
    if (c->gc_every != 0.25) ADD(" --gc-every %g", c->gc_every);
    if (c->epoch_ops != 1000000) ADD(" --epoch-ops %" PRIu64, c->epoch_ops);
    if (c->min_rate != 1000) ADD(" --min-rate %g", c->min_rate);
    if (c->watchdog != 30) ADD(" --watchdog %g", c->watchdog);
    if (c->fault_kind)
        ADD(" --test-fault %s:%d%s%s", c->fault_kind == FAULT_IDLE ? "idle" : "block", c->fault_slot, c->fault_profile >= 0 ? ":" : "",
            c->fault_profile >= 0 ? st_profile_name(c->fault_profile) : "");
#undef ADD
}

/* ---- stop-the-world, coordinator side ---------------------------------------------- */
static tctx *coord(void) { return &G.t[G.cfg.threads]; }

static void stw_begin(void)
{
    pthread_mutex_lock(&G.stw_m);
    stw_mark_begin();
    atomic_store(&G.stw_req, 1);
    while (G.parked < G.registered) pthread_cond_wait(&G.stw_parked_cv, &G.stw_m);
    pthread_mutex_unlock(&G.stw_m);
}

static void stw_end(void)
{
    pthread_mutex_lock(&G.stw_m);
    atomic_store(&G.stw_req, 0);
    stw_mark_end();
    G.parked = 0;
    G.stw_gen++;
    pthread_cond_broadcast(&G.stw_resume_cv);
    pthread_mutex_unlock(&G.stw_m);
}

static bool failed(void) { return atomic_load(&G.failed) != 0; }

/* ---- walking every object (only while the world is stopped) ------------------------- */
typedef struct scan_res { uint64_t objs, nontiny, tiny_blocks; } scan_res;

static int cmp_uptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static bool check_raw(void *p, const char *when, scan_res *r)
{
    orec o;
    if (!st_read_hdr(coord(), p, &o, when) || !st_check(coord(), &o, when)) return false;
    r->objs++;
    r->nontiny++;
    return true;
}

/* Checks every object the driver holds; counts live objects and tiny blocks. */
static bool scan_all(const char *when, scan_res *r)
{
    memset(r, 0, sizeof *r);
    size_t ntiny = 0, cap = 0;
    uintptr_t *slots = NULL;
    bool ok = true;
    for (int s = 0; s < G.cfg.threads && ok; s++) {
        tctx *t = &G.t[s];
        for (size_t i = 0; i < t->ntab && ok; i++) {
            orec *o = &t->tab[i];
            if (!st_check(coord(), o, when)) { ok = false; break; }
            r->objs++;
            if (!st_is_tiny(o)) { r->nontiny++; continue; }
            ga_object_info in;
            ga_lookup(G.heap, o->p, &in);
            if (ntiny == cap) {
                cap = cap ? cap * 2 : 1024;
                uintptr_t *v = realloc(slots, cap * sizeof *v);
                if (!v) { ok = false; break; }
                slots = v;
            }
            slots[ntiny++] = in.slot;
        }
        for (int k = 0; k < LARR_N && ok; k++) {
            void *p = atomic_load(&G.inbox[s].obj[k]);
            if (p) ok = check_raw(p, when, r);
        }
    }
    ptrq *qs[3] = { NULL, &G.pq, &G.orphans };
    for (int q = 1; q < 3 && ok; q++) {
        ptrq *pq = qs[q];
        pthread_mutex_lock(&pq->m);
        for (size_t k = 0; k < pq->n && ok; k++) {
            void *p = pq->v[(pq->head + k) % pq->cap];
            if (q == 1) {
                if (!(ok = check_raw(p, when, r))) break;
                uint64_t cnt;
                memcpy(&cnt, (char *)p + HDR_MIN, 8);
                for (uint64_t j = 0; j < cnt && ok; j++) {
                    void *x;
                    memcpy(&x, (char *)p + HDR_MIN + 8 + 8 * j, 8);
                    ok = check_raw(x, when, r);
                }
            } else {
                ok = check_raw(p, when, r);
            }
        }
        pthread_mutex_unlock(&pq->m);
    }
    if (ok && ntiny) {
        qsort(slots, ntiny, sizeof *slots, cmp_uptr);
        for (size_t i = 0; i < ntiny; i++)
            if (i == 0 || slots[i] != slots[i - 1]) r->tiny_blocks++;
    }
    free(slots);
    return ok;
}

/* Frees everything in the shared hand-off structures (the coordinator's frees). */
static void drain_shared(void)
{
    tctx *c = coord();
    for (int s = 0; s < G.cfg.threads && !failed(); s++)
        for (int j = 0; j < LARR_N && !failed(); j++) {
            void *p = atomic_exchange(&G.inbox[s].obj[j], NULL);
            if (!p) continue;
            orec o;
            if (st_read_hdr(c, p, &o, "drained from a larson inbox")) st_free(c, &o);
        }
    void *b;
    while (!failed() && (b = ptrq_pop(&G.pq))) {
        orec bo;
        if (!st_read_hdr(c, b, &bo, "drained as a batch") || !st_check(c, &bo, "drained as a batch")) return;
        uint64_t cnt;
        memcpy(&cnt, (char *)b + HDR_MIN, 8);
        for (uint64_t j = 0; j < cnt && !failed(); j++) {
            void *x;
            memcpy(&x, (char *)b + HDR_MIN + 8 + 8 * j, 8);
            orec o;
            if (st_read_hdr(c, x, &o, "drained from a batch")) st_free(c, &o);
        }
        st_free(c, &bo);
    }
    while (!failed() && (b = ptrq_pop(&G.orphans))) {
        orec o;
        if (st_read_hdr(c, b, &o, "drained from the orphan pool")) st_free(c, &o);
    }
}

static uint64_t epoch_allocs(void)
{
    uint64_t s = 0;
    for (int i = 0; i <= G.cfg.threads; i++) s += atomic_load(&G.t[i].epoch_allocs);
    return s;
}

/* ga_read_stats against the driver's own totals (the heap is quiescent). */
static bool check_stats(const char *when, uint64_t expect_objects, bool record)
{
    ga_stats s;
    ga_read_stats(G.heap, &s);
    if (record) {
        G.last_stats = s;
        atomic_store(&G.last_heap_inuse, s.heap_inuse);
    }
    uint64_t m = epoch_allocs();
    char inv[48] = "", why[400] = "";
    if (s.mallocs != m) {
        snprintf(inv, sizeof inv, "stats:mallocs");
        snprintf(why, sizeof why, "mallocs %" PRIu64 " != %" PRIu64 " successful allocations by the driver", s.mallocs, m);
    } else if (s.heap_objects != expect_objects) {
        snprintf(inv, sizeof inv, "stats:heap_objects");
        snprintf(why, sizeof why, "heap_objects %" PRIu64 " != %" PRIu64 " objects the driver holds (non-tiny objects + tiny blocks); mallocs %" PRIu64 ", frees %" PRIu64,
                 s.heap_objects, expect_objects, s.mallocs, s.frees);
    } else if (s.num_gc != G.epoch_gcs) {
        snprintf(inv, sizeof inv, "stats:num_gc");
        snprintf(why, sizeof why, "num_gc %" PRIu64 " != %" PRIu64 " cycles run", s.num_gc, G.epoch_gcs);
    } else if (s.heap_idle + s.heap_inuse != s.heap_sys) {
        snprintf(inv, sizeof inv, "stats:heap_sys");
        snprintf(why, sizeof why, "heap_idle %" PRIu64 " + heap_inuse %" PRIu64 " != heap_sys %" PRIu64, s.heap_idle, s.heap_inuse, s.heap_sys);
    } else if (s.heap_alloc > s.heap_inuse) {
        snprintf(inv, sizeof inv, "stats:heap_alloc");
        snprintf(why, sizeof why, "heap_alloc %" PRIu64 " > heap_inuse %" PRIu64, s.heap_alloc, s.heap_inuse);
    }
    if (!inv[0]) return true;
    st_fail(coord(), inv, NULL, "%s: %s", when, why);
    return false;
}

static bool run_verify(const char *when)
{
    if (G.logging) { gh_op op = { .kind = GH_VERIFY }; merge_emit(&op, -1); }
    ga_report r;
    memset(&r, 0, sizeof r);
    if (ga_verify(G.heap, &r) != 0) {
        char inv[48];
        snprintf(inv, sizeof inv, "ga_verify:%s", r.invariant);
        st_fail_report(coord(), inv, &r, "%s: ga_verify reports invariant %s (code %d): %s", when, r.invariant, r.code, r.message);
        return false;
    }
    return true;
}

static void release_caches(void)
{
    for (int s = 0; s < G.cfg.threads; s++) {
        tctx *t = &G.t[s];
        ga_cache *cs[2] = { t->cache, t->saved_cache };
        for (int k = 0; k < 2; k++) {
            if (!cs[k]) continue;
            if (G.logging) { gh_op op = { .kind = GH_RELEASE }; merge_emit(&op, s % GH_MAX_CACHES); }
            ga_cache_release(cs[k]);
        }
    }
}

/* ---- stop-the-world actions ------------------------------------------------------------- */
static uint64_t ns_since(double t0) { return (uint64_t)((st_now() - t0) * 1e9); }

static void stw_verify(void)
{
    double t0 = st_now();
    coord_beat("a stop-the-world verification");
    stw_begin();
    if (G.logging) merge_advance();
    scan_res sr;
    if (scan_all("at a stop-the-world scan", &sr) && G.cfg.backend == BE_GALLOC) {
        if (run_verify("stop-the-world verification")) {
            release_caches();
            if (G.logging) { gh_op op = { .kind = GH_SCAVENGE, .flags = 1 }; merge_emit(&op, -1); }
            ga_scavenge_policy(G.heap);
            if (check_stats("after releasing every cache and sweeping", sr.nontiny + sr.tiny_blocks, true))
                run_verify("after releasing every cache and sweeping");
        }
    }
    G.verifies++;
    stw_end();
    hist_add(&coord()->lat[LAT_VERIFY], ns_since(t0));
    coord()->kind_count[LAT_VERIFY]++;
}

static void drop_counters(int slot, const orec *o)
{
    tctx *t = &G.t[slot];
    atomic_fetch_sub(&t->live_objs, 1);
    atomic_fetch_sub(&t->live_bytes, o->size);
}

static void stw_gc(void)
{
    double t0 = st_now();
    coord_beat("a stop-the-world GC cycle");
    stw_begin();
    drain_shared();
    if (G.logging) merge_advance();
    scan_res sr;
    if (failed() || !scan_all("before a GC cycle", &sr)) { stw_end(); return; }
    tctx *c = coord();
    uint64_t r = st_rand(c);
    unsigned keep = 20 + (unsigned)(r % 70), seed = (unsigned)((r >> 8) & 255);
    unsigned sweep = (unsigned)((r >> 16) % 3) == 0 ? 0 : (unsigned)((r >> 16) % 3) == 1 ? GH_GC_SWEEP_ALL : 1 + (unsigned)((r >> 24) % 254);
    bool galloc = G.cfg.backend == BE_GALLOC;
    if (galloc) {
        if (G.logging) {
            gh_op op = { .kind = GH_GC, .a = keep, .b = seed, .c = sweep };
            merge_emit(&op, -1);
        }
        ga_gc_begin(G.heap);
    }
    /* decide: the executor's hash on the replay id (or the driver's on its own id) */
    size_t nkt = 0, capkt = 0;
    uintptr_t *kept_tiny = NULL;
    for (int pass = 0; pass < 2; pass++) {
        for (int s = 0; s < G.cfg.threads; s++) {
            tctx *t = &G.t[s];
            for (size_t i = 0; i < t->ntab; i++) {
                orec *o = &t->tab[i];
                if (pass == 0) {
                    uint32_t rid = G.logging ? merge_rid(o->id) : 0;
                    uint64_t h = rid ? gc_hash_keep(rid, seed) : st_mix(o->id ^ (seed + 1) * 0x9e3779b97f4a7c15ull) % 100;
                    o->flags = (uint8_t)((o->flags & ~OF_ZERO) | (h < keep ? OF_ZERO : 0));   /* OF_ZERO reused as "keep" */
                    if (h < keep && st_is_tiny(o) && galloc) {
                        ga_object_info in;
                        ga_lookup(G.heap, o->p, &in);
                        if (nkt == capkt) {
                            capkt = capkt ? capkt * 2 : 256;
                            uintptr_t *v = realloc(kept_tiny, capkt * sizeof *v);
                            if (!v) break;
                            kept_tiny = v;
                        }
                        kept_tiny[nkt++] = in.slot;
                    }
                } else if (!(o->flags & OF_ZERO) && st_is_tiny(o) && nkt) {
                    ga_object_info in;
                    ga_lookup(G.heap, o->p, &in);
                    if (bsearch(&in.slot, kept_tiny, nkt, sizeof *kept_tiny, cmp_uptr)) o->flags |= OF_ZERO;  /* its block lives */
                }
            }
        }
        if (pass == 0 && nkt) qsort(kept_tiny, nkt, sizeof *kept_tiny, cmp_uptr);
    }
    free(kept_tiny);
    /* mark, then drop the dead from the tables */
    uint64_t died = 0;
    for (int s = 0; s < G.cfg.threads && !failed(); s++) {
        tctx *t = &G.t[s];
        size_t w = 0;
        for (size_t i = 0; i < t->ntab; i++) {
            orec o = t->tab[i];
            bool keep_it = (o.flags & OF_ZERO) != 0;
            o.flags &= (uint8_t)~OF_ZERO;
            if (keep_it) {
                if (galloc && !ga_gc_mark(G.heap, o.p) && !failed())
                    st_fail(c, "gc-mark", &o, "ga_gc_mark(object #%" PRIu64 " at %p, %u bytes) returned false for a live object", o.id, o.p, o.size);
                t->tab[w++] = o;
                continue;
            }
            died++;
            G.gc_reclaimed++;
            if (galloc) {
                if (G.logging) merge_kill(o.id);
                drop_counters(s, &o);
                ring_add(c, LK_GCDEAD, 0, o.id, o.p, o.size, 0, 0);
            } else {
                st_free(c, &o);
            }
        }
        t->ntab = w;
    }
    if (galloc) {
        ga_gc_end(G.heap);
        if (sweep == GH_GC_SWEEP_ALL) ga_sweep(G.heap, SIZE_MAX);
        else if (sweep) ga_sweep(G.heap, sweep);
        G.epoch_gcs++;
    }
    G.gcs++;
    atomic_store(&G.gc_wanted, 0);
    (void)died;
    stw_end();
    hist_add(&c->lat[LAT_GC], ns_since(t0));
    c->kind_count[LAT_GC]++;
}

static ga_heap *new_heap(void)
{
    ga_heap_options o;
    memset(&o, 0, sizeof o);
    o.plant = G.cfg.plant;
    o.seed = G.cfg.seed;
    ga_heap *h = ga_heap_new(&o);
    if (!h) { fprintf(stderr, "galloc-stress: ga_heap_new failed: %s\n", strerror(errno)); exit(1); }
    return h;
}

static void next_epoch_reset(void)
{
    if (G.logging) merge_reset();
    for (int i = 0; i <= G.cfg.threads; i++) { atomic_store(&G.t[i].epoch_allocs, 0); log_reset(&G.t[i]); }
    atomic_store(&G.seq, 0);
    G.epoch++;
    G.epoch_gcs = 0;
    G.omitted_objs = 0;
    G.epochs++;
}

/* Everything dies; the heap must be empty; then (galloc) a new heap. `final`: no next epoch. */
static void epoch_end(bool final)
{
    drain_shared();
    if (G.logging) merge_advance();
    scan_res sr;
    if (failed() || !scan_all("at the end of a heap epoch", &sr)) return;
    tctx *c = coord();
    if (G.cfg.backend == BE_GALLOC) {
        if (!run_verify("at the end of a heap epoch")) return;
        release_caches();
        if (G.logging) { gh_op op = { .kind = GH_SCAVENGE, .flags = 1 }; merge_emit(&op, -1); }
        ga_scavenge_policy(G.heap);
        if (!check_stats("at the end of a heap epoch, after releasing every cache and sweeping", sr.nontiny + sr.tiny_blocks, true)) return;
        if (G.logging) {
            gh_op op = { .kind = GH_GC, .a = 0, .b = 0, .c = GH_GC_SWEEP_ALL };
            merge_emit(&op, -1);
        }
        ga_gc_begin(G.heap);
        ga_gc_end(G.heap);
        ga_sweep(G.heap, SIZE_MAX);
        G.epoch_gcs++;
        for (int s = 0; s < G.cfg.threads; s++) {
            tctx *t = &G.t[s];
            for (size_t i = 0; i < t->ntab; i++) { if (G.logging) merge_kill(t->tab[i].id); drop_counters(s, &t->tab[i]); }
            t->ntab = 0;
        }
        if (!check_stats("after a GC cycle that marked nothing (everything must be reclaimed)", 0, false)) return;
        if (!run_verify("after a GC cycle that marked nothing")) return;
        if (final) return;
        ga_heap_destroy(G.heap);
        for (int s = 0; s <= G.cfg.threads; s++) G.t[s].cache = G.t[s].saved_cache = NULL;
        G.heap = new_heap();
    } else {
        for (int s = 0; s < G.cfg.threads && !failed(); s++) {
            tctx *t = &G.t[s];
            while (t->ntab && !failed()) { orec o = t->tab[--t->ntab]; st_free(c, &o); }
        }
        if (failed() || final) return;
    }
    next_epoch_reset();
}

static void stw_epoch_end(void)
{
    coord_beat("the end of a heap epoch (stop-the-world)");
    stw_begin();
    epoch_end(false);
    stw_end();
}

/* Hands the next phase of mixed a state it can work from, whatever ran before: every
 * thread's table empty. Objects that can be freed are freed (by the coordinator: logged
 * like any free); tiny-allocator objects, which only a GC cycle reclaims, die in one that
 * marks nothing (`gc keep=0`, as at the end of an epoch). Without this a tiny phase left
 * every table full of tiny objects, and frag, threads and churn, which never run GC, could
 * free none of them: they spun without an op until the next gc phase (issue 13). Only
 * while every worker is parked, after drain_shared. */
static void handover(void)
{
    tctx *c = coord();
    uint64_t tiny = 0;
    for (int s = 0; s < G.cfg.threads && !failed(); s++) {
        tctx *t = &G.t[s];
        size_t w = 0;
        for (size_t i = 0; i < t->ntab; i++) {
            orec o = t->tab[i];
            if (st_is_tiny(&o)) { t->tab[w++] = o; tiny++; continue; }
            if (!st_free(c, &o)) {          /* a finding: keep the books of the rest */
                memmove(&t->tab[w], &t->tab[i + 1], (t->ntab - i - 1) * sizeof *t->tab);
                t->ntab = w + (t->ntab - i - 1);
                return;
            }
        }
        t->ntab = w;
        t->scan_cursor = 0;
        t->frag_phase = 0;                  /* frag starts from its fill step with new sizes */
        t->frag_size_a = t->frag_size_b = 0;
    }
    if (failed() || !tiny || G.cfg.backend != BE_GALLOC) return;
    if (G.logging) {
        merge_advance();
        gh_op op = { .kind = GH_GC, .a = 0, .b = 0, .c = GH_GC_SWEEP_ALL };
        merge_emit(&op, -1);
    }
    ga_gc_begin(G.heap);
    ga_gc_end(G.heap);
    ga_sweep(G.heap, SIZE_MAX);
    G.epoch_gcs++;
    G.gcs++;
    for (int s = 0; s < G.cfg.threads; s++) {
        tctx *t = &G.t[s];
        for (size_t i = 0; i < t->ntab; i++) {
            orec *o = &t->tab[i];
            if (G.logging) merge_kill(o->id);
            drop_counters(s, o);
            ring_add(c, LK_GCDEAD, 0, o->id, o->p, o->size, 0, 0);
            G.gc_reclaimed++;
        }
        t->ntab = 0;
    }
}

static void stw_phase(int next)
{
    coord_beat("a phase switch (stop-the-world)");
    stw_begin();
    if (phase_close()) {
        drain_shared();
        handover();
        atomic_store(&G.profile_now, next);
        G.phases++;
        phase_open(next);
    }
    stw_end();
}

/* ---- failure report --------------------------------------------------------------------- */
/* The galloc-replay option that switches a galloc plant on, as this build spells it. */
static void probe_replay_plant_flag(char *flag, size_t n)
{
    snprintf(flag, n, "--alloc-plant");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "'%s/galloc-replay' --help 2>&1", G.cfg.bindir);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    char line[512];
    bool alloc_plant = false, heap_plant = false;
    while (fgets(line, sizeof line, p)) {
        if (strstr(line, "--alloc-plant")) alloc_plant = true;
        if (strstr(line, "--heap-plant")) heap_plant = true;
    }
    pclose(p);
    if (!alloc_plant && heap_plant) snprintf(flag, n, "--heap-plant");
}

static void report_finding(double elapsed)
{
    finding *f = &G.fnd;
    const config *c = &G.cfg;
    FILE *o = stdout;
    fflush(stderr);
    fprintf(o, "\ngalloc-stress: FINDING: invariant %s\n", f->invariant);
    fprintf(o, "  %s\n", f->message);
    if (f->obj_id)
        fprintf(o, "  object:  #%" PRIu64 " at %#" PRIxPTR ", %u bytes, allocated by thread %d, generation %u\n",
                f->obj_id, f->obj_addr, f->obj_size, f->obj_owner, f->obj_gen);
    if (f->report.code)
        fprintf(o, "  ga_report: code %d, invariant %s, span %#" PRIxPTR ", addr %#" PRIxPTR ", slot %ld\n",
                f->report.code, f->report.invariant, f->report.span, f->report.addr, f->report.slot);
    fprintf(o, "  thread:  %d%s, profile %s, after %.2f s (heap epoch %" PRIu64 ")\n", f->thread,
            f->thread != c->threads ? "" : progress_finding(f->invariant) ? " (the coordinator)" : " (the coordinator, at a stop-the-world point)",
            st_profile_name(f->profile), elapsed, G.epoch);
    fprintf(o, "  last ops of every thread (oldest first):\n");
    print_rings(o);
    static const char *const nondet =
        "           NOT deterministic: the threads run free, so a rerun interleaves their ops differently; the same\n"
        "           seed makes the same per-thread choices, not the same interleaving (a race may need several reruns)\n";
    if (progress_finding(f->invariant)) {
        fprintf(o, "  reproducer: none: a phase without work or a stalled thread is about time and scheduling, which a\n"
                   "           serialized op-log replay does not have\n");
        fprintf(o, "  rerun:   %s\n%s", c->rerun, nondet);
        return;
    }
    if (!G.logging) {
        fprintf(o, "  no reproducer: the op log is off (--no-verify or --epoch-ops 0)\n");
        fprintf(o, "  rerun:   %s\n%s", c->rerun, nondet);
        return;
    }
    char path[1024];
    if (c->repro) snprintf(path, sizeof path, "%s", c->repro);
    else snprintf(path, sizeof path, "galloc-stress-%s-s%" PRIu64 "-t%d.ops", st_profile_name(c->profile), c->seed, c->threads);
    char flag[32];
    probe_replay_plant_flag(flag, sizeof flag);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/galloc-replay --check-every 1000", c->bindir);
    if (c->plant) { size_t l = strlen(cmd); snprintf(cmd + l, sizeof cmd - l, " %s %s", flag, ga_plant_name(c->plant)); }
    if (merge_peak_bytes() > ((size_t)64 << 20)) { size_t l = strlen(cmd); snprintf(cmd + l, sizeof cmd - l, " --budget %zum", c->replay_budget >> 20); }
    { size_t l = strlen(cmd); snprintf(cmd + l, sizeof cmd - l, " %s", path); }
    if (write_repro(path, cmd, sizeof cmd) != 0) {
        fprintf(o, "  reproducer: cannot write %s: %s\n", path, strerror(errno));
    } else {
        fprintf(o, "  reproducer: %s (%zu ops, one heap lifetime as a serialized interleaving; seed %" PRIu64 ", profile %s, %d threads",
                path, merge_nops(), c->seed, st_profile_name(c->profile), c->threads);
        if (G.omitted_objs) fprintf(o, "; %" PRIu64 " objects over galloc-replay's caps left out", G.omitted_objs);
        fprintf(o, ")\n  replay:  %s\n", cmd);
        fprintf(o, "           deterministic: replays this heap epoch's ops in the one serialized order the op log recorded,\n"
                   "           identically every time; a race inside the allocator (two threads inside galloc at once) cannot\n"
                   "           happen in a serialized replay, so the replay may run clean where the stress run did not\n");
    }
    fprintf(o, "  rerun:   %s\n%s", c->rerun, nondet);
}

/* ---- fatal signals ----------------------------------------------------------------------- */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ST_SANITIZED 1
#endif
#endif

#ifndef ST_SANITIZED
static void on_fatal(int sig)
{
    /* best effort: not async-signal-safe, but the process is dying anyway */
    fprintf(stdout, "\ngalloc-stress: FINDING: fatal signal %d (%s) in the allocator or the driver\n", sig, strsignal(sig));
    fprintf(stdout, "  last ops of every thread (oldest first):\n");
    print_rings(stdout);
    fprintf(stdout, "  rerun:   %s\n           (NOT deterministic: free-running threads; the same seed, not the same interleaving)\n",
            G.cfg.rerun);
    fflush(stdout);
    signal(sig, SIG_DFL);
    raise(sig);
}
#endif

/* ---- main --------------------------------------------------------------------------------- */
static void setup(int argc, char **argv)
{
    config *c = &G.cfg;
    parse_args(argc, argv, c);
    snprintf(c->argv0, sizeof c->argv0, "%s", argv[0]);
    build_rerun(c);
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *sl = strrchr(exe, '/');
        if (sl) *sl = 0;
        snprintf(c->bindir, sizeof c->bindir, "%s", exe);
    } else {
        snprintf(c->bindir, sizeof c->bindir, ".");
    }
    c->progress_tty = isatty(2) != 0;
    G.logging = c->verify && c->epoch_ops > 0;
    pthread_mutex_init(&G.stw_m, NULL);
    pthread_cond_init(&G.stw_parked_cv, NULL);
    pthread_cond_init(&G.stw_resume_cv, NULL);
    G.t = calloc((size_t)c->threads + 1, sizeof *G.t);
    if (!G.t) { fprintf(stderr, "galloc-stress: out of memory\n"); exit(1); }
    for (int i = 0; i <= c->threads; i++) {
        tctx *t = &G.t[i];
        t->slot = i;
        t->rng = st_mix(c->seed * 0x9e3779b97f4a7c15ull + (uint64_t)i * 0x632be59bd9b4e019ull + 1);
        t->captab = 2048;
        t->tab = calloc(t->captab, sizeof *t->tab);
        if (!t->tab) { fprintf(stderr, "galloc-stress: out of memory\n"); exit(1); }
    }
    G.inbox = calloc((size_t)c->threads, sizeof *G.inbox);
    if (!G.inbox || ptrq_init(&G.pq, 32) || ptrq_init(&G.orphans, 2048)) {
        fprintf(stderr, "galloc-stress: out of memory\n");
        exit(1);
    }
    if (G.logging && merge_init() != 0) { fprintf(stderr, "galloc-stress: out of memory\n"); exit(1); }
    if (c->backend == BE_GALLOC) G.heap = new_heap();
    atomic_store(&G.profile_now, c->profile == PR_MIXED ? PR_CHURN : c->profile);
#ifndef ST_SANITIZED
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
#endif
}

static uint64_t total_ops(void)
{
    uint64_t s = 0;
    for (int i = 0; i <= G.cfg.threads; i++) s += atomic_load_explicit(&G.t[i].allocs, memory_order_relaxed) + atomic_load_explicit(&G.t[i].frees, memory_order_relaxed);
    return s;
}

static void live_totals(int64_t *objs, int64_t *bytes)
{
    *objs = *bytes = 0;
    for (int i = 0; i <= G.cfg.threads; i++) {
        *objs += atomic_load_explicit(&G.t[i].live_objs, memory_order_relaxed);
        *bytes += atomic_load_explicit(&G.t[i].live_bytes, memory_order_relaxed);
    }
}

static bool gc_profile_active(void)
{
    int p = atomic_load(&G.profile_now);
    return p == PR_GC || (p == PR_TINY && G.cfg.backend == BE_GALLOC);
}

int main(int argc, char **argv)
{
    if (st_sched_wanted(argc, argv)) return st_sched_main(argc, argv);
    setup(argc, argv);
    config *c = &G.cfg;
    double phase = c->phase;
    uint64_t phase_ops = 0;
    if (c->profile == PR_MIXED && phase <= 0) {
        if (c->seconds > 0) {
            phase = c->seconds / 16;
            if (phase < 0.25) phase = 0.25;
            if (phase > 10) phase = 10;
        } else {
            phase_ops = c->ops / 16 ? c->ops / 16 : 1;
        }
    }
    if (!c->quiet)
        fprintf(stderr, "galloc-stress: profile %s, %d thread(s), backend %s, seed %" PRIu64 ", verification %s%s%s\n",
                st_profile_name(c->profile), c->threads, c->backend == BE_GALLOC ? "galloc" : "system", c->seed,
                c->verify ? "on" : "off", c->plant ? ", plant " : "", c->plant ? ga_plant_name(c->plant) : "");
    G.t0 = st_now();
    phase_open(atomic_load(&G.profile_now));
    wd_start();
    for (int i = 0; i < c->threads; i++)
        if (pthread_create(&G.t[i].th, NULL, st_worker_main, &G.t[i]) != 0) {
            fprintf(stderr, "galloc-stress: cannot create thread %d\n", i);
            return 1;
        }
    double t0 = G.t0, last_sample = t0, last_progress = t0, last_verify = t0, last_gc = t0;
    uint64_t last_ops = 0, phase_start_ops = 0;
    double cur_rate = 0;
    size_t peak_rss = st_rss();
    int phase_idx = 0;
    long tick_ns = 5 * 1000 * 1000;
    if (c->verify && c->verify_every / 2 * 1e9 < (double)tick_ns) tick_ns = (long)(c->verify_every / 2 * 1e9) + 1;
    struct timespec tick = { 0, tick_ns };
    for (;;) {
        coord_beat("running");
        nanosleep(&tick, NULL);
        double now = st_now(), el = now - t0;
        if (failed()) break;
        uint64_t ops = total_ops();
        if (now - last_sample >= 0.1) {
            size_t rss = st_rss();
            if (rss > peak_rss) peak_rss = rss;
            int64_t lo, lb;
            live_totals(&lo, &lb);
            cur_rate = (double)(ops - last_ops) / (now - last_sample);
            timeline_add(el, cur_rate, rss, atomic_load(&G.last_heap_inuse), lo > 0 ? (uint64_t)lo : 0);
            last_ops = ops;
            last_sample = now;
        }
        double pevery = c->progress_tty ? 0.25 : c->progress_every;
        if (!c->quiet && now - last_progress >= pevery) {
            int64_t lo, lb;
            live_totals(&lo, &lb);
            progress_line(el, cur_rate, lo, lb, st_rss(), false);
            last_progress = now;
        }
        if ((c->seconds > 0 && el >= c->seconds) || (c->ops && ops >= c->ops)) break;
        /* a phase lasts --phase seconds of running time: stop-the-world pauses (a gc phase
         * spends most of its wall time in them) do not eat into a profile's share of work */
        if (c->profile == PR_MIXED && ((phase > 0 && run_seconds() - G.phase_run0 >= phase) || (phase_ops && ops - phase_start_ops >= phase_ops))) {
            phase_idx = (phase_idx + 1) % PR_NPROF;
            stw_phase(phase_idx);
            phase_start_ops = ops;
        }
        if (gc_profile_active() && (now - last_gc >= c->gc_every || (atomic_load(&G.gc_wanted) && now - last_gc >= c->gc_every / 50))) {
            stw_gc();
            last_gc = st_now();
        }
        if (c->verify && now - last_verify >= c->verify_every) {
            stw_verify();
            last_verify = st_now();
        }
        if (G.logging && atomic_load(&G.seq) >= c->epoch_ops) stw_epoch_end();
    }
    coord_beat("joining the workers");
    atomic_store(&G.stop, 1);
    for (int i = 0; i < c->threads; i++) pthread_join(G.t[i].th, NULL);
    double elapsed = st_now() - t0;
    coord_beat("the final checks");
    phase_close();
    /* the final check, with every worker gone */
    if (!failed()) {
        if (c->verify) {
            if (G.logging) merge_advance();
            scan_res sr;
            if (scan_all("at the final scan", &sr) && c->backend == BE_GALLOC && run_verify("at the final check")) {
                release_caches();
                ga_scavenge_policy(G.heap);
                if (G.logging) { gh_op op = { .kind = GH_SCAVENGE, .flags = 1 }; merge_emit(&op, -1); }
                check_stats("at the final check", sr.nontiny + sr.tiny_blocks, true);
            }
        }
        if (!failed()) epoch_end(true);
    }
    if (G.logging) merge_advance();
    wd_stop();
    size_t rss = st_rss();
    if (rss > peak_rss) peak_rss = rss;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0 && (size_t)ru.ru_maxrss * 1024 > peak_rss) peak_rss = (size_t)ru.ru_maxrss * 1024;
    if (!c->quiet) {
        int64_t lo, lb;
        live_totals(&lo, &lb);
        progress_line(elapsed, elapsed > 0 ? (double)total_ops() / elapsed : 0, lo, lb, rss, true);
    }
    bool bad = failed();
    if (bad) report_finding(elapsed);
    print_summary(stdout, elapsed, peak_rss);
    if (c->json && write_json(c->json, elapsed, peak_rss, bad ? "finding" : "clean") != 0)
        fprintf(stderr, "galloc-stress: cannot write %s: %s\n", c->json, strerror(errno));
    if (c->plot_dir) write_plots(c->plot_dir);
    fflush(stdout);
    if (c->backend == BE_GALLOC && G.heap && !bad) ga_heap_destroy(G.heap);
    return bad ? 1 : 0;
}
