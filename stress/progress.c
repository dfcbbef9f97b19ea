/*
 * progress.c — proof that galloc-stress did the work it reports. Owns:
 *   - the world's running time: wall time minus the time the coordinator held every
 *     worker at a stop-the-world point (stw_mark_begin / stw_mark_end);
 *   - per-phase accounting: for every phase (the whole run for a single profile, each
 *     turn of a profile in mixed) the ops (allocations + frees) of every worker thread,
 *     its wall and running time; the records go to the summary and to --json;
 *   - the floor: when a phase closes, each worker thread must have done at least
 *     max(1, --min-rate x the phase's running seconds x share / cost) ops, or the run has a
 *     finding (invariant phase-floor) naming the phase and the thread; cost is 50 for large
 *     (an op touches up to 8 MiB: ~150 ops/s per thread under TSan), 1 otherwise; share is
 *     a thread's share of the CPUs, min(1, CPUs / threads). A phase that ran less than
 *     0.1 s x max(1, threads / CPUs) is recorded but not checked (too short to be fair
 *     to a scheduler that runs more threads than CPUs). The default, 1000 ops/s, is far
 *     below any profile in any build (release ~10^5 to 10^6, TSan >= 2x10^4, large 150+)
 *     and far above what a thread that spins without work does (issue 13: churn did ~550
 *     ops in a 1.5 s phase, 0 in others);
 *   - the watchdog thread: a worker that makes no op for --watchdog seconds of running
 *     time (watchdog:stall), or a coordinator without a sign of life for as long (stuck
 *     at a stop-the-world point that a thread never reaches, or inside an allocator call:
 *     watchdog:stop-the-world / watchdog:coordinator) becomes a finding. The run then stops
 *     the usual way; when it cannot within --watchdog seconds more (a thread is hung and
 *     cannot be joined), the watchdog
 *     prints the finding with every thread's last ops and the rerun command itself and
 *     exits 1, so a hang is a report, not a CI timeout.
 * A progress finding is about time and scheduling, which a serialized op-log replay does
 * not have: no reproducer file is written for one (main.c says so in the report).
 */
#include "stress.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t st_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t thread_ops(int slot)
{
    tctx *t = &G.t[slot];
    return atomic_load_explicit(&t->allocs, memory_order_relaxed) + atomic_load_explicit(&t->frees, memory_order_relaxed);
}

/* ---- running time -------------------------------------------------------------------- */
/* Writers (the coordinator) add to the total before clearing `since`; readers load `since`
 * first: a race can only make the running time look shorter, never longer (no false stall). */
void stw_mark_begin(void) { atomic_store(&G.stw_since_ns, st_now_ns()); }

void stw_mark_end(void)
{
    uint64_t s = atomic_load(&G.stw_since_ns);
    if (s) atomic_fetch_add(&G.stw_total_ns, st_now_ns() - s);
    atomic_store(&G.stw_since_ns, 0);
}

static double run_seconds_at(uint64_t now)
{
    uint64_t since = atomic_load(&G.stw_since_ns);
    uint64_t stopped = atomic_load(&G.stw_total_ns) + (since && now > since ? now - since : 0);
    double wall = (double)now * 1e-9 - G.t0;
    double run = wall - (double)stopped * 1e-9;
    return run > 0 ? run : 0;
}

double run_seconds(void) { return run_seconds_at(st_now_ns()); }

void coord_beat(const char *doing)
{
    atomic_store(&G.coord_beat_ns, st_now_ns());
    atomic_store(&G.coord_doing, doing);
}

/* ---- phases ---------------------------------------------------------------------------- */
void phase_open(int profile)
{
    if (G.nphase_recs == G.cap_phase_recs) {
        size_t nc = G.cap_phase_recs ? G.cap_phase_recs * 2 : 32;
        phase_rec *v = realloc(G.phase_recs, nc * sizeof *v);
        if (!v) { fprintf(stderr, "galloc-stress: out of memory\n"); exit(1); }
        G.phase_recs = v;
        G.cap_phase_recs = nc;
    }
    phase_rec *p = &G.phase_recs[G.nphase_recs];
    memset(p, 0, sizeof *p);
    p->profile = profile;
    p->open = true;
    p->ops = calloc((size_t)G.cfg.threads, sizeof *p->ops);
    if (!p->ops) { fprintf(stderr, "galloc-stress: out of memory\n"); exit(1); }
    G.phase_start_s = st_now();
    G.phase_run0 = run_seconds();
    p->start_s = G.phase_start_s - G.t0;
    for (int s = 0; s < G.cfg.threads; s++) G.t[s].phase_ops0 = thread_ops(s);
    G.nphase_recs++;
}


/* How many small-object ops one op of the profile is worth, for the floor. */
static double profile_cost(int profile) { return profile == PR_LARGE ? 50 : 1; }

static long ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

/* A thread's share of the CPUs (1 when there are at least as many CPUs as workers). */
static double cpu_share(void)
{
    double k = (double)ncpus() / (double)G.cfg.threads;
    return k < 1 ? k : 1;
}

static double min_checked_run_s(void) { return 0.1 / cpu_share(); }

long st_ncpus(void) { return ncpus(); }

/* Closes the open phase (only while every worker is parked, or after they are joined). */
bool phase_close(void)
{
    if (!G.nphase_recs || !G.phase_recs[G.nphase_recs - 1].open) return true;
    size_t idx = G.nphase_recs - 1;
    phase_rec *p = &G.phase_recs[idx];
    p->open = false;
    p->wall_s = st_now() - G.phase_start_s;
    p->run_s = run_seconds() - G.phase_run0;
    if (p->run_s < 0) p->run_s = 0;
    for (int s = 0; s < G.cfg.threads; s++) p->ops[s] = thread_ops(s) - G.t[s].phase_ops0;
    if (G.cfg.min_rate <= 0 || p->run_s < min_checked_run_s()) return true;
    double f = G.cfg.min_rate * p->run_s * cpu_share() / profile_cost(p->profile);
    p->floor = f < 1 ? 1 : (uint64_t)f;
    int bad = -1;
    for (int s = 0; s < G.cfg.threads && bad < 0; s++)
        if (p->ops[s] < p->floor) bad = s;
    if (bad < 0) return true;
    char per[600];
    size_t l = 0;
    per[0] = 0;
    for (int s = 0; s < G.cfg.threads && l + 40 < sizeof per; s++)
        l += (size_t)snprintf(per + l, sizeof per - l, "%s%d: %" PRIu64, s ? ", " : "", s, p->ops[s]);
    if (l + 40 >= sizeof per) snprintf(per + l, sizeof per - l, ", ...");
    st_fail_slot(bad, p->profile, "phase-floor",
                 "phase %zu (%s, %.2f s, %.2f s of it running) idle: thread %d did %" PRIu64 " ops, below the floor of %" PRIu64
                 " (--min-rate %g ops/s per thread%s%s); ops per thread in this phase: %s",
                 idx, st_profile_name(p->profile), p->wall_s, p->run_s, bad, p->ops[bad], p->floor, G.cfg.min_rate,
                 profile_cost(p->profile) > 1 ? ", / 50 for large" : "", cpu_share() < 1 ? ", x CPUs / threads" : "", per);
    return false;
}

bool progress_finding(const char *inv)
{
    return strcmp(inv, "phase-floor") == 0 || strncmp(inv, "watchdog:", 9) == 0;
}

/* ---- the watchdog ------------------------------------------------------------------------ */
static const char *wd_state_name(int s) { return s == WD_RUNNING ? "running" : s == WD_PARKED ? "parked" : "not registered"; }

/* The finding, when main cannot report it: a thread is hung and cannot be joined. */
static void emergency_report(double waited)
{
    const finding *f = &G.fnd;
    FILE *o = stdout;
    fflush(stderr);
    fprintf(o, "\ngalloc-stress: FINDING: invariant %s\n", f->invariant);
    fprintf(o, "  %s\n", f->message);
    /* only what other threads publish atomically (the coordinator may be hung mid-write) */
    fprintf(o, "  thread:  %d%s, profile %s, after %.2f s\n", f->thread,
            f->thread == G.cfg.threads ? " (the coordinator)" : "", st_profile_name(f->profile), st_now() - G.t0);
    fprintf(o, "  the run did not stop within %.1f s of the finding (a thread is hung); thread states:", waited);
    for (int s = 0; s < G.cfg.threads; s++)
        fprintf(o, " %d %s (%s, %" PRIu64 " ops)", s, wd_state_name(atomic_load(&G.t[s].wd_state)),
                st_profile_name(atomic_load(&G.t[s].cur_profile)), thread_ops(s));
    fprintf(o, "; coordinator: %s\n", atomic_load(&G.coord_doing));
    fprintf(o, "  last ops of every thread (oldest first):\n");
    print_rings(o);
    fprintf(o, "  reproducer: none: the threads are still running, their op logs cannot be merged; no JSON report either\n");
    fprintf(o, "  rerun:   %s\n", G.cfg.rerun);
    fprintf(o, "           (NOT deterministic: free-running threads interleave differently on every run; the same seed\n"
               "           makes the same per-thread choices, not the same interleaving, so a hang may need several reruns)\n");
    fflush(o);
    _exit(1);
}

static void *wd_main(void *arg)
{
    (void)arg;
    const config *c = &G.cfg;
    int n = c->threads;
    double limit = c->watchdog;
    uint64_t *last = calloc((size_t)n, sizeof *last);
    double *since = calloc((size_t)n, sizeof *since);
    if (!last || !since) { free(last); free(since); return NULL; }
    for (int s = 0; s < n; s++) last[s] = thread_ops(s);
    double tick = limit / 5 < 0.1 ? limit / 5 : 0.1;
    struct timespec ts = { 0, (long)(tick * 1e9) };
    double found_at = 0;
    for (;;) {
        nanosleep(&ts, NULL);
        if (atomic_load(&G.reporting)) break;
        /* the coordinator's stamps first, the clock after: a stamp read after the clock
         * can be newer than `now` (a 3-minute TSan run reported a coordinator quiet for
         * 2^64 ns); the clamps below keep that true even if the order were lost */
        uint64_t beat = atomic_load(&G.coord_beat_ns), since_stw = atomic_load(&G.stw_since_ns);
        uint64_t now = st_now_ns();
        double run = run_seconds_at(now);
        if (atomic_load(&G.failed)) {
            /* someone found something: main stops the workers and reports; give it time */
            if (found_at == 0) found_at = (double)now * 1e-9;
            double waited = (double)now * 1e-9 - found_at;
            if (waited >= (limit > 0.25 ? limit : 0.25)) emergency_report(waited);
            continue;
        }
        /* the coordinator (also while it joins the workers and runs the final checks) */
        double quiet = now > beat ? (double)(now - beat) * 1e-9 : 0;
        if (quiet >= limit) {
            double stopped = since_stw && now > since_stw ? (double)(now - since_stw) * 1e-9 : 0;
            if (since_stw) {
                char who[400];
                size_t l = 0;
                who[0] = 0;
                for (int s = 0; s < n && l + 40 < sizeof who; s++)
                    if (atomic_load(&G.t[s].wd_state) == WD_RUNNING)
                        l += (size_t)snprintf(who + l, sizeof who - l, "%s%d (%s)", l ? ", " : "", s,
                                              st_profile_name(atomic_load(&G.t[s].cur_profile)));
                int first = -1;
                for (int s = 0; s < n && first < 0; s++) if (atomic_load(&G.t[s].wd_state) == WD_RUNNING) first = s;
                if (first >= 0)
                    st_fail_slot(first, atomic_load(&G.t[first].cur_profile), "watchdog:stop-the-world",
                                 "the world has been stopping for %.1f s (--watchdog %g): thread(s) %s never reached the barrier; "
                                 "the coordinator waits in '%s'", stopped, limit, who, atomic_load(&G.coord_doing));
                else
                    st_fail_slot(n, atomic_load(&G.profile_now), "watchdog:coordinator",
                                 "the world has been stopped for %.1f s (--watchdog %g) with every thread parked: the coordinator "
                                 "is stuck in '%s'", stopped, limit, atomic_load(&G.coord_doing));
            } else {
                st_fail_slot(n, atomic_load(&G.profile_now), "watchdog:coordinator",
                             "the coordinator has shown no sign of life for %.1f s (--watchdog %g); it was in '%s'", quiet, limit,
                             atomic_load(&G.coord_doing));
            }
            continue;
        }
        /* every worker: an op within the last `limit` seconds of running time */
        if (atomic_load(&G.stop)) continue;     /* the run is ending: workers leave on purpose */
        for (int s = 0; s < n; s++) {
            uint64_t o = thread_ops(s);
            if (o != last[s]) { last[s] = o; since[s] = run; continue; }
            if (run - since[s] >= limit) {
                st_fail_slot(s, atomic_load(&G.t[s].cur_profile), "watchdog:stall",
                             "thread %d made no progress for %.1f s of running time (--watchdog %g; stop-the-world pauses "
                             "not counted): %" PRIu64 " ops in all, the last %.1f s into the run, profile %s, %s",
                             s, run - since[s], limit, o, since[s], st_profile_name(atomic_load(&G.t[s].cur_profile)),
                             wd_state_name(atomic_load(&G.t[s].wd_state)));
                break;
            }
        }
    }
    free(last);
    free(since);
    return NULL;
}

void wd_start(void)
{
    coord_beat("starting");
    if (G.cfg.watchdog <= 0) return;
    if (pthread_create(&G.wd_th, NULL, wd_main, NULL) != 0) {
        fprintf(stderr, "galloc-stress: cannot create the watchdog thread\n");
        exit(2);
    }
    G.wd_started = true;
}

void wd_stop(void)
{
    atomic_store(&G.reporting, 1);
    if (G.wd_started) pthread_join(G.wd_th, NULL);
    G.wd_started = false;
}
