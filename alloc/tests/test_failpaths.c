/*
 * test_failpaths.c — OS failures at every point of a workload. For each kind of OS call
 * (metadata, reserve, map, used, unused) and each position k, the k-th call of that kind
 * fails (once, or from then on): heap creation, cache creation and every allocation
 * either succeed or return NULL with ENOMEM; afterwards, with failures disarmed, the
 * heap verifies, every object kept its contents, everything can be freed, the heap
 * allocates again, and destroying it leaves no reserved byte, no metadata and no illegal
 * page-state transition behind. Plus: more than 8192 spans (the span table grows).
 */
#include "check.h"
#include "internal.h"
#include "os.h"
#include "verify.h"
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

#define VERIFY(h, what, k) do {                                                          \
    ga_report r_;                                                                        \
    int rc_ = ga_verify((h), &r_);                                                       \
    CHECK(rc_ == 0, "%s k=%u: ga_verify: %d %s: %s", (what), (k), rc_, r_.invariant, r_.message); \
} while (0)

typedef struct { unsigned char *p; size_t size; unsigned char v; } obj;

/* Objects are filled (and checked) in their first 16 KiB and their last byte. */
#define FILL 16384
static size_t head(size_t size) { return size < FILL ? size : FILL; }
static void fill(const obj *o)
{
    memset(o->p, o->v, head(o->size));
    o->p[o->size - 1] = o->v;
}
static bool intact(const obj *o)
{
    for (size_t i = 0; i < head(o->size); i++)
        if (o->p[i] != o->v) return false;
    return o->p[o->size - 1] == o->v;
}

static const struct { size_t size; unsigned flags; } script[] = {
    { 24, 0 }, { 100, GA_NOSCAN }, { 5, GA_NOSCAN }, { 600, 0 }, { 20000, GA_NOSCAN },
    { 100000, 0 }, { 3 * MiB, GA_NOSCAN | GA_ZERO }, { 70 * MiB, GA_NOSCAN }, { 8, GA_ZERO },
    { 1000, GA_NOSCAN }, { 40000, GA_ZERO }, { 1 * MiB, 0 },
};
#define NSCRIPT (sizeof script / sizeof *script)

/* Runs the workload with call `call` failing after `skip` successes (`count` times).
 * Returns the number of failed operations seen. */
/* busy_hints: every arena hint is taken (reserve at a hint fails with EEXIST), so each
 * arena comes from the "anywhere" fallback of heap.c sys_alloc. */
static const ga_os *inner_os;
static void *b_reserve(void *ctx, void *hint, size_t n)
{
    (void)ctx;
    if (hint) { errno = EEXIST; return NULL; }
    return inner_os->reserve(inner_os->ctx, NULL, n);
}
static int b_map(void *ctx, void *p, size_t n) { (void)ctx; return inner_os->map(inner_os->ctx, p, n); }
static int b_used(void *ctx, void *p, size_t n) { (void)ctx; return inner_os->used(inner_os->ctx, p, n); }
static int b_unused(void *ctx, void *p, size_t n) { (void)ctx; return inner_os->unused(inner_os->ctx, p, n); }
static int b_release(void *ctx, void *p, size_t n) { (void)ctx; return inner_os->release(inner_os->ctx, p, n); }
static void *b_alloc_meta(void *ctx, size_t n) { (void)ctx; return inner_os->alloc_meta(inner_os->ctx, n); }
static void b_free_meta(void *ctx, void *p, size_t n) { (void)ctx; inner_os->free_meta(inner_os->ctx, p, n); }
static const ga_os busy_os = { .reserve = b_reserve, .map = b_map, .used = b_used, .unused = b_unused,
                               .release = b_release, .alloc_meta = b_alloc_meta, .free_meta = b_free_meta };
static bool busy_hints;

static uint64_t calls_without_failures[GA_OS_NCALLS];
static unsigned run(enum ga_os_call call, unsigned skip, unsigned count, const char *what)
{
    ga_testos *t = ga_testos_new(NULL);
    ga_testos_fail(t, call, skip, count);
    ga_heap_options o = { .os = ga_testos_os(t) };
    inner_os = ga_testos_os(t);
    if (busy_hints) o.os = &busy_os;
    unsigned failed = 0;
    errno = 0;
    ga_heap *h = ga_heap_new(&o);
    if (!h) {
        CHECK(errno == ENOMEM, "%s k=%u: heap_new errno %d", what, skip, errno);
        CHECK_EQ(ga_testos_meta_live(t), 0);
        ga_testos_free(t);
        return 1;
    }
    errno = 0;
    ga_cache *c = ga_cache_new(h);
    if (!c) {
        CHECK(errno == ENOMEM, "%s k=%u: cache_new errno %d", what, skip, errno);
        failed++;
        ga_testos_fail(t, call, 0, 0);
        c = ga_cache_new(h);
        CHECK(c != NULL, "%s k=%u: cache_new after failures stopped", what, skip);
        if (!c) { ga_heap_destroy(h); ga_testos_free(t); return failed; }
    }
    enum { ROUNDS = 3 };
    obj objs[ROUNDS * NSCRIPT * 2];
    size_t n = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (size_t i = 0; i < NSCRIPT; i++) {
            errno = 0;
            unsigned char *p = ga_alloc(c, script[i].size, i % 4 == 3 ? 4096 : 0, script[i].flags);
            if (!p) {
                CHECK(errno == ENOMEM, "%s k=%u: alloc %zu errno %d", what, skip, script[i].size, errno);
                failed++;
                continue;
            }
            if (script[i].flags & GA_ZERO) {
                obj z = { p, script[i].size, 0 };
                CHECK(intact(&z), "%s k=%u: GA_ZERO object of %zu not zero", what, skip, script[i].size);
            }
            objs[n] = (obj){ p, script[i].size, (unsigned char)(n * 7 + 1) };
            fill(&objs[n++]);
        }
        /* free half and give memory back, so the next round reuses scavenged pages */
        size_t keep = 0;
        for (size_t i = 0; i < n; i++) {
            if (i % 2 && !(objs[i].size < 16)) {   /* tiny objects cannot be freed */
                CHECK(intact(&objs[i]), "%s k=%u: object of %zu lost its contents", what, skip, objs[i].size);
                CHECK_EQ(ga_free(h, objs[i].p), GA_OK);
            } else {
                objs[keep++] = objs[i];
            }
        }
        n = keep;
        ga_cache_release(c);
        ga_sweep(h, SIZE_MAX);
        ga_scavenge(h, SIZE_MAX);
    }
    ga_testos_fail(t, call, 0, 0);
    VERIFY(h, what, skip);
    for (size_t i = 0; i < n; i++)
        CHECK(intact(&objs[i]), "%s k=%u: object %zu (size %zu) lost its contents", what, skip, i, objs[i].size);
    /* the heap works normally again */
    for (size_t i = 0; i < NSCRIPT; i++) {
        unsigned char *p = ga_alloc(c, script[i].size, 0, script[i].flags | GA_ZERO);
        CHECK(p != NULL, "%s k=%u: alloc %zu after failures stopped", what, skip, script[i].size);
        if (p) {
            CHECK(p[0] == 0 && p[script[i].size - 1] == 0, "%s k=%u: not zero", what, skip);
            if (script[i].size >= 16) CHECK_EQ(ga_free(h, p), GA_OK);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (objs[i].size >= 16) CHECK_EQ(ga_free(h, objs[i].p), GA_OK);
    ga_gc_begin(h);
    ga_gc_end(h);               /* reclaims the tiny blocks */
    ga_cache_destroy(c);
    ga_sweep(h, SIZE_MAX);
    ga_stats st;
    ga_read_stats(h, &st);
    CHECK(st.heap_objects == 0 && st.heap_inuse == 0 && st.heap_idle == st.heap_sys,
          "%s k=%u: objects %llu inuse %llu idle %llu sys %llu", what, skip, (unsigned long long)st.heap_objects,
          (unsigned long long)st.heap_inuse, (unsigned long long)st.heap_idle, (unsigned long long)st.heap_sys);
    VERIFY(h, what, skip);
    ga_heap_destroy(h);
    CHECK(ga_testos_bytes_in_state(t, GA_PAGE_RESERVED) + ga_testos_bytes_in_state(t, GA_PAGE_PREPARED) +
          ga_testos_bytes_in_state(t, GA_PAGE_READY) == 0, "%s k=%u: address space left after destroy", what, skip);
    CHECK(ga_testos_meta_live(t) == 0, "%s k=%u: %llu metadata bytes left after destroy", what, skip,
          (unsigned long long)ga_testos_meta_live(t));
    char why[256] = "";
    CHECK(ga_testos_violations(t, why, sizeof why) == 0, "%s k=%u: OS state violation: %s", what, skip, why);
    if (count == 0)
        for (int i = 0; i < GA_OS_NCALLS; i++) calls_without_failures[i] = ga_testos_calls(t, (enum ga_os_call)i);
    ga_testos_free(t);
    return failed;
}

/* Every call of that kind the workload makes fails in turn (at most maxk of them). */
static void sweep_failures(enum ga_os_call call, const char *name, unsigned maxk, bool must_fail)
{
    unsigned total_once = 0, total_always = 0;
    uint64_t ncalls = calls_without_failures[call];
    CHECK(ncalls > 0, "%s: the workload makes no such call", name);
    for (unsigned k = 0; k < ncalls && k < maxk; k++) {
        total_once += run(call, k, 1, name);
        total_always += run(call, k, 1000000, name);
    }
    /* the injection must actually have hit the workload (a failed `unused` only leaves
     * pages unscavenged: nothing to see but consistency) */
    if (must_fail)
        CHECK(total_once > 0 && total_always > 0, "%s: no failure observed (%u, %u)", name, total_once, total_always);
}

/* A grow that fails after mapping (pa_grow's metadata, the first alloc_meta calls of a
 * fresh heap's first grow) leaves [curArenaBase, curArenaMapped) Prepared. The next grow
 * must not map those pages again, whether it asks for less (the large request failed,
 * then a small one grows the heap: the first grow's map reached past the second's end)
 * or for more than the arena run has left (with busy hints the next arena is elsewhere
 * and the old run's tail is handed over). Found by fuzz_ops:
 * corpora/regressions/fuzz_ops/bug--ops_os--6616baf2.txt. In each script the first
 * request runs with its k-th alloc_meta call failing (k = 0..15), the rest without. */
static void test_grow_after_failed_map(void)
{
    static const size_t scripts[][4] = {
        { 4 * MiB + 1, 8, 0 },              /* the fuzz_ops reproducer */
        { 12 * MiB, 8, 0 },
        { 12 * MiB, 65 * MiB, 8, 0 },       /* busy hints: the tail hand-over */
        { 12 * MiB, 8, 65 * MiB, 0 },
    };
    unsigned first_failed = 0;
    for (int busy = 0; busy < 2; busy++) {
        for (size_t sc = 0; sc < sizeof scripts / sizeof *scripts; sc++) {
            for (unsigned k = 0; k < 16; k++) {
                ga_testos *t = ga_testos_new(NULL);
                inner_os = ga_testos_os(t);
                ga_heap_options o = { .os = busy ? &busy_os : ga_testos_os(t) };
                ga_heap *h = ga_heap_new(&o);
                ga_cache *c = h ? ga_cache_new(h) : NULL;
                CHECK(h && c, "grow-after-failed-map: heap or cache");
                if (!h || !c) { ga_heap_destroy(h); ga_testos_free(t); continue; }
                ga_testos_fail(t, GA_OS_ALLOC_META, k, 1);
                errno = 0;
                void *p0 = ga_alloc(c, scripts[sc][0], 0, GA_NOSCAN);
                CHECK(p0 || errno == ENOMEM, "busy=%d script %zu k=%u: errno %d", busy, sc, k, errno);
                if (!p0) first_failed++;
                ga_testos_fail(t, GA_OS_ALLOC_META, 0, 0);
                for (size_t i = 1; i < 4 && scripts[sc][i]; i++) {
                    unsigned char *p = ga_alloc(c, scripts[sc][i], 0, GA_NOSCAN | GA_ZERO);
                    CHECK(p != NULL, "busy=%d script %zu k=%u: alloc %zu after the failure", busy, sc, k,
                          scripts[sc][i]);
                    if (p) CHECK(p[0] == 0 && p[scripts[sc][i] - 1] == 0, "busy=%d script %zu k=%u: not zero", busy, sc, k);
                }
                char why[256] = "";
                CHECK(ga_testos_violations(t, why, sizeof why) == 0,
                      "busy=%d script %zu k=%u: OS state violation: %s", busy, sc, k, why);
                VERIFY(h, "grow-after-failed-map", k);
                ga_cache_destroy(c);
                ga_heap_destroy(h);
                CHECK(ga_testos_violations(t, why, sizeof why) == 0,
                      "busy=%d script %zu k=%u: OS state violation after destroy: %s", busy, sc, k, why);
                CHECK_EQ(ga_testos_meta_live(t), 0);
                ga_testos_free(t);
            }
        }
    }
    /* the failure must have hit the first request (else this tests nothing) */
    CHECK(first_failed > 0, "grow-after-failed-map: no first request failed");
}

/* More than 8192 spans: the span table grows (and keeps every span reachable). */
static void test_many_spans(void)
{
    ga_testos *t = ga_testos_new(NULL);
    ga_heap_options o = { .os = ga_testos_os(t) };
    ga_heap *h = ga_heap_new(&o);
    ga_cache *c = ga_cache_new(h);
    enum { N = 9000 };
    unsigned char **p = calloc(N, sizeof *p);
    for (int i = 0; i < N; i++) {
        p[i] = ga_alloc(c, 8192, 0, GA_NOSCAN);     /* one object per one-page span */
        CHECK(p[i] != NULL, "alloc %d", i);
        if (!p[i]) break;
        p[i][0] = (unsigned char)i;
        p[i][8191] = (unsigned char)(i >> 8);
    }
    CHECK(h->nallspans >= N, "allspans %zu", h->nallspans);
    ga_stats st;
    ga_read_stats(h, &st);
    CHECK(st.spans_inuse >= N, "spans_inuse %llu", (unsigned long long)st.spans_inuse);
    CHECK_EQ(st.heap_objects, N);
    VERIFY(h, "many", 0u);
    for (int i = 0; i < N && p[i]; i++) {
        CHECK(p[i][0] == (unsigned char)i && p[i][8191] == (unsigned char)(i >> 8), "object %d", i);
        ga_object_info info;
        CHECK(ga_lookup(h, p[i], &info) == GA_OK && info.allocated && info.span_base == (uintptr_t)p[i],
              "lookup %d", i);
        CHECK_EQ(ga_free(h, p[i]), GA_OK);
    }
    ga_cache_release(c);
    ga_sweep(h, SIZE_MAX);
    ga_read_stats(h, &st);
    CHECK_EQ(st.heap_objects, 0);
    CHECK_EQ(st.spans_inuse, 0);
    VERIFY(h, "many", 1u);
    /* the span structs are reused */
    size_t nspans = h->nallspans;
    for (int i = 0; i < 100; i++) p[i] = ga_alloc(c, 8192, 0, GA_NOSCAN);
    CHECK_EQ(h->nallspans, nspans);
    free(p);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
    CHECK_EQ(ga_testos_meta_live(t), 0);
    ga_testos_free(t);
}

/* Pages of [p, p+n) the kernel has resident (mincore). */
static size_t resident_pages(const void *p, size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), np = (n + pg - 1) / pg, r = 0;
    unsigned char *vec = malloc(np);
    if (!vec || mincore((void *)p, n, vec) != 0) { free(vec); return SIZE_MAX; }
    for (size_t i = 0; i < np; i++) r += vec[i] & 1;
    free(vec);
    return r;
}

/* ga_heap_alloc_span's failure path: `used` refuses a run that is partly scavenged and
 * partly dirty. The run is released with `unused` and handed back scavenged; only if that
 * fails too is it zeroed by hand. When `unused` succeeds the pages must not be touched
 * (resident afterwards: the run was zeroed by memset instead, e.g. the test of unused's
 * result inverted). Either way the next user of the run gets zeroed memory. */
static void test_used_fails_run_released(void)
{
    for (int unused_fails = 0; unused_fails < 2; unused_fails++) {
        ga_testos *t = ga_testos_new(NULL);
        ga_heap_options o = { .os = ga_testos_os(t), .scavenge_retain_bytes = SIZE_MAX };
        ga_heap *h = ga_heap_new(&o);
        ga_cache *c = h ? ga_cache_new(h) : NULL;
        CHECK(h && c, "used-fails: heap or cache");
        if (!h || !c) { ga_heap_destroy(h); ga_testos_free(t); continue; }
        unsigned char *p = ga_alloc(c, MiB, 0, GA_NOSCAN);
        CHECK(p != NULL, "used-fails: first 1 MiB");
        if (!p) { ga_cache_destroy(c); ga_heap_destroy(h); ga_testos_free(t); continue; }
        memset(p, 0xab, MiB);
        CHECK_EQ(ga_free(h, p), GA_OK);
        ga_sweep(h, SIZE_MAX);
        size_t rel = ga_scavenge(h, SIZE_MAX);
        CHECK(rel >= MiB, "used-fails: scavenge released %zu", rel);
        CHECK_EQ(resident_pages(p, MiB), 0);
        /* dirty the first 256 KiB of the run again: the 1 MiB run below is then partly
         * Ready (dirty), partly released */
        unsigned char *q = ga_alloc(c, 256 * 1024, 0, GA_NOSCAN);
        CHECK(q == p, "used-fails%d: 256 KiB at %p, expected the run's start %p", unused_fails, (void *)q, (void *)p);
        if (q) {
            memset(q, 0xcd, 256 * 1024);
            CHECK_EQ(ga_free(h, q), GA_OK);
        }
        ga_sweep(h, SIZE_MAX);
        CHECK(resident_pages(p, MiB) > 0, "used-fails%d: dirty part not resident", unused_fails);
        uint64_t unused_before = ga_testos_calls(t, GA_OS_UNUSED);
        ga_testos_fail(t, GA_OS_USED, 0, 1);
        if (unused_fails) ga_testos_fail(t, GA_OS_UNUSED, 0, 1);
        errno = 0;
        void *f = ga_alloc(c, MiB, 0, GA_NOSCAN);
        CHECK(f == NULL && errno == ENOMEM, "used-fails%d: alloc with `used` failing gave %p errno %d",
              unused_fails, f, errno);
        ga_testos_fail(t, GA_OS_USED, 0, 0);
        ga_testos_fail(t, GA_OS_UNUSED, 0, 0);
        CHECK(ga_testos_calls(t, GA_OS_UNUSED) == unused_before + 1,
              "used-fails%d: %llu unused calls for the refused run, expected 1", unused_fails,
              (unsigned long long)(ga_testos_calls(t, GA_OS_UNUSED) - unused_before));
        size_t res = resident_pages(p, MiB);
        if (!unused_fails)
            CHECK(res == 0, "used-fails: `unused` succeeded but %zu pages of the refused run are resident "
                  "(zeroed by hand instead of left released)", res);
        VERIFY(h, "used-fails", (unsigned)unused_fails);
        /* the next user of the run gets zeroes (asking `used` again) */
        unsigned char *z = ga_alloc(c, MiB, 0, GA_NOSCAN | GA_ZERO);
        CHECK(z == p, "used-fails%d: run not reused: %p, expected %p", unused_fails, (void *)z, (void *)p);
        if (z) {
            size_t nz = 0;
            for (size_t i = 0; i < MiB; i++) nz += z[i] != 0;
            CHECK(nz == 0, "used-fails%d: %zu nonzero bytes in the reused run", unused_fails, nz);
            CHECK_EQ(ga_free(h, z), GA_OK);
        }
        ga_sweep(h, SIZE_MAX);
        VERIFY(h, "used-fails", (unsigned)unused_fails);
        char why[256] = "";
        CHECK(ga_testos_violations(t, why, sizeof why) == 0, "used-fails%d: OS state violation: %s", unused_fails, why);
        ga_cache_destroy(c);
        ga_heap_destroy(h);
        CHECK(ga_testos_violations(t, why, sizeof why) == 0, "used-fails%d: OS state violation after destroy: %s",
              unused_fails, why);
        CHECK_EQ(ga_testos_meta_live(t), 0);
        ga_testos_free(t);
    }
}

int main(void)
{
    test_used_fails_run_released();
    CHECK_EQ(run(GA_OS_MAP, 0, 0, "no failures"), 0);
    for (int i = 0; i < GA_OS_NCALLS; i++) printf("calls of kind %d: %llu\n", i, (unsigned long long)calls_without_failures[i]);
    sweep_failures(GA_OS_ALLOC_META, "alloc_meta", 64, true);
    sweep_failures(GA_OS_RESERVE, "reserve", 64, true);
    sweep_failures(GA_OS_MAP, "map", 64, true);
    sweep_failures(GA_OS_USED, "used", 16, true);
    sweep_failures(GA_OS_UNUSED, "unused", 8, false);
    busy_hints = true;
    CHECK_EQ(run(GA_OS_MAP, 0, 0, "busy hints, no failures"), 0);
    sweep_failures(GA_OS_ALLOC_META, "busy hints: alloc_meta", 64, true);
    sweep_failures(GA_OS_RESERVE, "busy hints: reserve", 64, true);
    sweep_failures(GA_OS_MAP, "busy hints: map", 8, true);
    busy_hints = false;
    test_grow_after_failed_map();
    test_many_spans();
    TEST_MAIN_END();
}
