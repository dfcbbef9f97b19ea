/*
 * report.c — what galloc-stress shows and writes: owns the sampled latency histograms
 * (log-linear, 8 sub-buckets per power of two), RSS sampling (/proc/self/statm), the
 * throughput/RSS timeline, the progress line (one rewritten line on a terminal, plain
 * periodic lines otherwise), the final summary (with the work of every phase: ops per
 * profile, the least any thread did in a phase), the --json report (with every phase's
 * and every thread's ops: the proof that each phase did work) and the --plot files
 * (gnuplot: PNG and SVG of throughput and memory over time).
 */
#include "stress.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- histograms --------------------------------------------------------------------- */
static unsigned bucket_of(uint64_t v)
{
    if (v < 16) return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned sub = (unsigned)((v >> (e - 3)) & 7);
    return 16 + (e - 4) * 8 + sub;
}

static uint64_t bucket_low(unsigned b)
{
    if (b < 16) return b;
    unsigned e = (b - 16) / 8 + 4, sub = (b - 16) % 8;
    return ((uint64_t)(8 + sub)) << (e - 3);
}

void hist_add(hist *h, uint64_t ns)
{
    h->b[bucket_of(ns)]++;
    h->n++;
    if (ns > h->max) h->max = ns;
}

void hist_merge(hist *dst, const hist *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++) dst->b[i] += src->b[i];
    dst->n += src->n;
    if (src->max > dst->max) dst->max = src->max;
}

/* The q-quantile (0..1): the middle of the bucket holding it, capped at the max. */
uint64_t hist_pct(const hist *h, double q)
{
    if (!h->n) return 0;
    uint64_t want = (uint64_t)(q * (double)h->n);
    if (want >= h->n) want = h->n - 1;
    uint64_t acc = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        acc += h->b[i];
        if (acc > want) {
            uint64_t lo = bucket_low(i), hi = i + 1 < HIST_BUCKETS ? bucket_low(i + 1) : lo;
            uint64_t mid = lo + (hi - lo) / 2;
            return mid > h->max ? h->max : mid;
        }
    }
    return h->max;
}

/* ---- RSS -------------------------------------------------------------------------------- */
size_t st_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, res = 0;
    int n = fscanf(f, "%lu %lu", &size, &res);
    fclose(f);
    return n == 2 ? (size_t)res * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

/* ---- timeline ------------------------------------------------------------------------- */
typedef struct tpoint { double t, ops; size_t rss; uint64_t heap, live; } tpoint;
static tpoint *tl;
static size_t ntl, captl;

void timeline_add(double t, double ops_per_s, size_t rss, uint64_t heap_inuse, uint64_t live)
{
    if (ntl == captl) {
        size_t nc = captl ? captl * 2 : 1024;
        tpoint *v = realloc(tl, nc * sizeof *v);
        if (!v) return;
        tl = v;
        captl = nc;
    }
    tl[ntl++] = (tpoint){ t, ops_per_s, rss, heap_inuse, live };
}

/* ---- progress ----------------------------------------------------------------------------- */
static double mib(double b) { return b / (1024.0 * 1024.0); }

void progress_line(double el, double ops_per_s, int64_t live, int64_t live_bytes, size_t rss, bool final)
{
    const config *c = &G.cfg;
    char buf[400];
    char total[32] = "";
    if (c->seconds > 0) snprintf(total, sizeof total, "/%gs", c->seconds);
    int prof = atomic_load(&G.profile_now);
    char pname[40];
    if (c->profile == PR_MIXED) snprintf(pname, sizeof pname, "mixed:%s", st_profile_name(prof));
    else snprintf(pname, sizeof pname, "%s", st_profile_name(prof));
    snprintf(buf, sizeof buf, "[%6.1fs%s] %s %dt %s  %7.3f Mops/s  live %" PRId64 " (%.1f MiB)  RSS %.1f MiB  heap %.1f MiB  GCs %" PRIu64 "  verifies %" PRIu64 "  epochs %" PRIu64,
             el, total, pname, c->threads, c->backend == BE_GALLOC ? "galloc" : "system", ops_per_s / 1e6, live,
             mib((double)live_bytes), mib((double)rss), mib((double)atomic_load(&G.last_heap_inuse)), G.gcs, G.verifies, G.epochs);
    if (c->progress_tty) {
        fprintf(stderr, "\r\033[K%s", buf);
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s\n", buf);
    }
    fflush(stderr);
}

/* ---- totals ------------------------------------------------------------------------------ */
typedef struct totals {
    uint64_t allocs, frees, rfrees, bytes, lives;
    uint64_t count[LAT_NKINDS];
    hist lat[LAT_NKINDS];
} totals;

static void sum_totals(totals *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i <= G.cfg.threads; i++) {
        tctx *t = &G.t[i];
        s->allocs += atomic_load(&t->allocs);
        s->frees += atomic_load(&t->frees);
        s->rfrees += atomic_load(&t->rfrees);
        s->bytes += atomic_load(&t->alloc_bytes);
        s->lives += atomic_load(&t->thread_lives);
        for (int k = 0; k < LAT_NKINDS; k++) {
            s->count[k] += t->kind_count[k];
            hist_merge(&s->lat[k], &t->lat[k]);
        }
    }
}

static const char *const lat_names[LAT_NKINDS] = { "alloc", "free", "remote_free", "gc_pause", "verify_pause" };

void print_summary(FILE *out, double elapsed, size_t peak_rss)
{
    totals s;
    sum_totals(&s);
    const config *c = &G.cfg;
    uint64_t ops = s.allocs + s.frees;
    fprintf(out, "galloc-stress: profile %s, %d thread(s), backend %s, seed %" PRIu64 ", verification %s%s%s: %s\n",
            st_profile_name(c->profile), c->threads, c->backend == BE_GALLOC ? "galloc" : "system", c->seed,
            c->verify ? "on" : "off", c->plant ? ", plant " : "", c->plant ? ga_plant_name(c->plant) : "",
            atomic_load(&G.failed) ? "FINDING" : "clean");
    fprintf(out, "  %.2f s, %" PRIu64 " ops (%.3f Mops/s): %" PRIu64 " allocations (%.1f MiB), %" PRIu64 " frees, %.1f%% of frees of another thread's object\n",
            elapsed, ops, elapsed > 0 ? (double)ops / elapsed / 1e6 : 0.0, s.allocs, mib((double)s.bytes), s.frees,
            s.frees ? 100.0 * (double)s.rfrees / (double)s.frees : 0.0);
    fprintf(out, "  latency (ns; allocs and frees: 1 in 64 sampled; pauses: every stop-the-world GC / verification):");
    for (int k = 0; k < LAT_NKINDS; k++) {
        if (!s.lat[k].n) continue;
        fprintf(out, " %s p50 %" PRIu64 " p99 %" PRIu64 " p99.9 %" PRIu64 " max %" PRIu64 ";", lat_names[k], hist_pct(&s.lat[k], 0.5),
                hist_pct(&s.lat[k], 0.99), hist_pct(&s.lat[k], 0.999), s.lat[k].max);
    }
    fputc('\n', out);
    fprintf(out, "  peak RSS %.1f MiB", mib((double)peak_rss));
    if (c->backend == BE_GALLOC)
        fprintf(out, "; heap at the last check: in use %.1f MiB, sys %.1f MiB, released %.1f MiB, %" PRIu64 " objects",
                mib((double)G.last_stats.heap_inuse), mib((double)G.last_stats.heap_sys), mib((double)G.last_stats.heap_released),
                G.last_stats.heap_objects);
    fputc('\n', out);
    fprintf(out, "  %" PRIu64 " GC cycles (%" PRIu64 " objects reclaimed by sweeping), %" PRIu64 " stop-the-world verifications, %" PRIu64 " heap epochs, %" PRIu64 " phases, %" PRIu64 " thread lives\n",
            G.gcs, G.gc_reclaimed, G.verifies, G.epochs, G.phases, s.lives);
    /* the work of every profile's phases (progress.c checks the floor per phase and thread) */
    fprintf(out, "  work by profile (%zu phase(s); floor per thread and phase: ", G.nphase_recs);
    if (c->min_rate > 0) fprintf(out, "--min-rate %g ops/s x running time, large / 50):\n", c->min_rate);
    else fprintf(out, "off, --min-rate 0):\n");
    for (int p = 0; p < PR_NPROF; p++) {
        size_t nph = 0, nchecked = 0;
        uint64_t ops = 0, least = UINT64_MAX;
        double run = 0;
        for (size_t i = 0; i < G.nphase_recs; i++) {
            const phase_rec *r = &G.phase_recs[i];
            if (r->profile != p) continue;
            nph++;
            run += r->run_s;
            if (r->floor) nchecked++;
            for (int t = 0; t < c->threads; t++) {
                ops += r->ops[t];
                if (r->floor && r->ops[t] < least) least = r->ops[t];
            }
        }
        if (!nph) continue;
        fprintf(out, "    %-9s %3zu phase(s), %7.2f s running, %12" PRIu64 " ops", st_profile_name(p), nph, run, ops);
        if (nchecked) fprintf(out, ", least by a thread in a checked phase %" PRIu64 " (%zu checked)\n", least, nchecked);
        else fprintf(out, c->min_rate > 0 ? " (no phase long enough to check)\n" : " (not checked)\n");
    }
}

/* ---- JSON --------------------------------------------------------------------------------- */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

int write_json(const char *path, double elapsed, size_t peak_rss, const char *result)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    totals s;
    sum_totals(&s);
    const config *c = &G.cfg;
    uint64_t ops = s.allocs + s.frees;
    double el = elapsed > 0 ? elapsed : 1e-9;
    fprintf(f, "{\n  \"tool\": \"galloc-stress\",\n  \"profile\": ");
    json_str(f, st_profile_name(c->profile));
    fprintf(f, ",\n  \"threads\": %d,\n  \"backend\": \"%s\",\n  \"seed\": %" PRIu64 ",\n  \"verify\": %s,\n  \"plant\": ",
            c->threads, c->backend == BE_GALLOC ? "galloc" : "system", c->seed, c->verify ? "true" : "false");
    json_str(f, ga_plant_name(c->plant));
    fprintf(f, ",\n  \"result\": ");
    json_str(f, result);
    if (atomic_load(&G.failed)) {
        fprintf(f, ",\n  \"finding\": {\"invariant\": ");
        json_str(f, G.fnd.invariant);
        fprintf(f, ", \"message\": ");
        json_str(f, G.fnd.message);
        fprintf(f, ", \"thread\": %d}", G.fnd.thread);
    }
    fprintf(f, ",\n  \"elapsed_s\": %.6f,\n  \"ops\": %" PRIu64 ",\n  \"ops_per_s\": %.1f,\n", elapsed, ops, (double)ops / el);
    fprintf(f, "  \"allocs\": %" PRIu64 ",\n  \"frees\": %" PRIu64 ",\n  \"remote_frees\": %" PRIu64 ",\n  \"alloc_bytes\": %" PRIu64 ",\n",
            s.allocs, s.frees, s.rfrees, s.bytes);
    fprintf(f, "  \"by_kind\": {");
    for (int k = 0; k < LAT_NKINDS; k++) {
        const hist *h = &s.lat[k];
        fprintf(f, "%s\n    \"%s\": {\"count\": %" PRIu64 ", \"per_s\": %.1f, \"latency_ns\": {\"samples\": %" PRIu64
                ", \"p50\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"p99_9\": %" PRIu64 ", \"max\": %" PRIu64 "}}",
                k ? "," : "", lat_names[k], s.count[k], (double)s.count[k] / el, h->n, hist_pct(h, 0.5), hist_pct(h, 0.99),
                hist_pct(h, 0.999), h->max);
    }
    fprintf(f, "\n  },\n  \"peak_rss_bytes\": %zu,\n", peak_rss);
    fprintf(f, "  \"gc_cycles\": %" PRIu64 ",\n  \"gc_reclaimed\": %" PRIu64 ",\n  \"verifications\": %" PRIu64 ",\n  \"epochs\": %" PRIu64 ",\n  \"thread_lives\": %" PRIu64 ",\n",
            G.gcs, G.gc_reclaimed, G.verifies, G.epochs, s.lives);
    const ga_stats *st = &G.last_stats;
    fprintf(f, "  \"heap\": {\"heap_alloc\": %" PRIu64 ", \"heap_sys\": %" PRIu64 ", \"heap_idle\": %" PRIu64 ", \"heap_inuse\": %" PRIu64
            ", \"heap_released\": %" PRIu64 ", \"heap_objects\": %" PRIu64 ", \"mallocs\": %" PRIu64 ", \"frees\": %" PRIu64
            ", \"num_gc\": %" PRIu64 ", \"sys\": %" PRIu64 ", \"meta_sys\": %" PRIu64 "},\n",
            st->heap_alloc, st->heap_sys, st->heap_idle, st->heap_inuse, st->heap_released, st->heap_objects, st->mallocs, st->frees,
            st->num_gc, st->sys, st->meta_sys);
    /* proof of work: every phase with every worker thread's ops, and each thread's totals */
    fprintf(f, "  \"min_rate\": %g,\n  \"watchdog_s\": %g,\n  \"cpus\": %ld,\n  \"phases\": [", c->min_rate, c->watchdog, st_ncpus());
    for (size_t i = 0; i < G.nphase_recs; i++) {
        const phase_rec *r = &G.phase_recs[i];
        uint64_t tot = 0;
        for (int t = 0; t < c->threads; t++) tot += r->ops[t];
        fprintf(f, "%s\n    {\"index\": %zu, \"profile\": \"%s\", \"start_s\": %.3f, \"seconds\": %.3f, \"running_s\": %.3f, "
                "\"checked\": %s, \"floor\": %" PRIu64 ", \"ops\": %" PRIu64 ", \"ops_per_thread\": [",
                i ? "," : "", i, st_profile_name(r->profile), r->start_s, r->wall_s, r->run_s, r->floor ? "true" : "false", r->floor, tot);
        for (int t = 0; t < c->threads; t++) fprintf(f, "%s%" PRIu64, t ? ", " : "", r->ops[t]);
        fprintf(f, "]}");
    }
    fprintf(f, "\n  ],\n  \"per_thread\": [");
    for (int i = 0; i <= c->threads; i++) {
        tctx *t = &G.t[i];
        uint64_t a = atomic_load(&t->allocs), fr = atomic_load(&t->frees);
        fprintf(f, "%s\n    {\"thread\": %d, \"role\": \"%s\", \"ops\": %" PRIu64 ", \"allocs\": %" PRIu64 ", \"frees\": %" PRIu64
                ", \"remote_frees\": %" PRIu64 "}", i ? "," : "", i, i == c->threads ? "coordinator" : "worker", a + fr, a, fr,
                atomic_load(&t->rfrees));
    }
    fprintf(f, "\n  ],\n");
    fprintf(f, "  \"timeline\": [");
    for (size_t i = 0; i < ntl; i++)
        fprintf(f, "%s\n    {\"t\": %.3f, \"ops_per_s\": %.1f, \"rss\": %zu, \"heap_inuse\": %" PRIu64 ", \"live\": %" PRIu64 "}",
                i ? "," : "", tl[i].t, tl[i].ops, tl[i].rss, tl[i].heap, tl[i].live);
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- plots ----------------------------------------------------------------------------------- */
int write_plots(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "galloc-stress: --plot %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/timeline.dat", dir);
    FILE *f = fopen(path, "w");
    if (!f) { fprintf(stderr, "galloc-stress: %s: %s\n", path, strerror(errno)); return -1; }
    fprintf(f, "# t_s ops_per_s rss_mib heap_inuse_mib live_objects\n");
    for (size_t i = 0; i < ntl; i++)
        fprintf(f, "%.3f %.1f %.3f %.3f %" PRIu64 "\n", tl[i].t, tl[i].ops, mib((double)tl[i].rss), mib((double)tl[i].heap), tl[i].live);
    fclose(f);
    snprintf(path, sizeof path, "%s/plot.gp", dir);
    f = fopen(path, "w");
    if (!f) { fprintf(stderr, "galloc-stress: %s: %s\n", path, strerror(errno)); return -1; }
    const config *c = &G.cfg;
    char title[200];
    snprintf(title, sizeof title, "galloc-stress %s, %d thread(s), backend %s, seed %" PRIu64, st_profile_name(c->profile), c->threads,
             c->backend == BE_GALLOC ? "galloc" : "system", c->seed);
    const char *exts[2] = { "png", "svg" };
    for (int k = 0; k < 2; k++) {
        if (k == 0)
            fprintf(f, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) set terminal pngcairo size 1000,700; else set terminal png size 1000,700\n");
        else
            fprintf(f, "set terminal svg size 1000,700 dynamic\n");
        fprintf(f, "set output '%s/galloc-stress.%s'\n", dir, exts[k]);
        fprintf(f, "set multiplot layout 2,1 title '%s'\nset grid\nset xlabel 'seconds'\n", title);
        fprintf(f, "set ylabel 'Mops/s'\nplot '%s/timeline.dat' using 1:($2/1e6) with lines lw 2 title 'throughput'\n", dir);
        fprintf(f, "set ylabel 'MiB'\nplot '%s/timeline.dat' using 1:3 with lines lw 2 title 'RSS', '' using 1:4 with lines lw 2 title 'heap in use'\n", dir);
        fprintf(f, "unset multiplot\n");
    }
    fclose(f);
    pid_t pid = fork();
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", path, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "galloc-stress: gnuplot failed on %s (is gnuplot installed? ci/setup.sh installs gnuplot-nox); data kept in %s/timeline.dat\n",
                path, dir);
        return -1;
    }
    if (!c->quiet) printf("  plots: %s/galloc-stress.png, %s/galloc-stress.svg\n", dir, dir);
    return 0;
}
