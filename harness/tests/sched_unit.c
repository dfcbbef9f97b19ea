/*
 * sched_unit.c — ctest sched.unit (issue 15): the controlled scheduler and the
 * multi-threaded program format, in the sched build.
 *  1. The late sweep request, as a directed schedule (the test of record; it replaced
 *     alloc/tests/test_threads.c's hand-made free_published_hook, now gone from the
 *     allocator): a free held right after publishing while a GC cycle sweeps the span empty,
 *     the heap frees it and its struct comes back for another class, written over the
 *     allocator's own schedule points ("free.published"); the late request must leave the
 *     new span alone. The recorded decisions then replay the same run (GS_REPLAY) with the
 *     same outcome.
 *  2. Deadlock: two threads each waiting for a resource only the other wakes are reported
 *     as GS_DEADLOCK, not hung.
 *  3. Format: text and binary round trips of generated programs with schedules; malformed
 *     text is refused with its line.
 *  4. Exactness: a random-strategy run's recorded schedule replays to the same decisions.
 * Calls: gsched.h, mt.h, internal.h (to look at the span, as test_threads.c does).
 */
#include "check.h"
#include "internal.h"
#include "gsched.h"
#include "mt.h"

/* The late sweep request (8181e5e, found by stress frag after 330 s): thread 1 frees p and
 * is held right after publishing the free (at "free.published", before it asks for the
 * span's sweep). Meanwhile thread 0 runs a GC cycle that sweeps p's span empty, the heap
 * frees it, and its struct comes back as a span of another class. Thread 1's request must
 * then leave that new span alone: no sweep request, no list move. */
typedef struct late {
    ga_heap *h;
    gs_sched *s;
    ga_cache *a;
    void *p;
    ga_mspan *span;
    ga_spanclass old_spc;
    ga_status st;
    ga_mspan *s2;
    ga_spanlist *list2;
    const char *t1_at;       /* where thread 1 waited while thread 0 reused the span */
    bool reused;
} late;

static void late_body(void *arg, unsigned tid)
{
    late *L = arg;
    if (tid == 1) { L->st = ga_free(L->h, L->p); return; }
    L->t1_at = gs_last_point(L->s, 1);
    ga_gc_begin(L->h);              /* nothing marked: p's span is swept empty and freed */
    ga_gc_end(L->h);
    ga_sweep(L->h, SIZE_MAX);
    void *q = ga_alloc(L->a, 2000, 0, GA_NOSCAN);
    L->s2 = ga_span_of(L->h, (uintptr_t)q);
    L->reused = L->s2 == L->span && L->s2->spanclass != L->old_spc;
    ga_cache_release(L->a);
    L->list2 = L->s2->list;
}

static void run_late(const gs_config *cfg, uint8_t **dec, size_t *ndec)
{
    late L;
    memset(&L, 0, sizeof L);
    L.h = ga_heap_new(NULL);
    L.a = ga_cache_new(L.h);
    L.p = ga_alloc(L.a, 48, 0, GA_NOSCAN);
    L.span = ga_span_of(L.h, (uintptr_t)L.p);
    L.old_spc = L.span->spanclass;
    ga_cache_release(L.a);
    L.s = gs_new(2, cfg);
    gs_attach(L.s, L.h);
    CHECK_EQ(gs_run(L.s, late_body, &L), GS_DONE);
    gs_detach(L.h);
    CHECK(L.t1_at && strcmp(L.t1_at, "free.published") == 0, "thread 1 was at '%s', not held after publishing its free",
          L.t1_at ? L.t1_at : "?");
    CHECK(L.reused, "the span struct was not reused for another class: the test tests nothing");
    CHECK_EQ(L.st, GA_OK);
    uint32_t sg = atomic_load(&L.h->sweepgen);
    CHECK(!atomic_load(&L.s2->sweepRequested) && L.s2->list == L.list2 &&
          L.list2 == ga_partial_swept(&L.h->central[L.s2->spanclass], sg),
          "the late request of a free into a dead span touched the span now in its place (requested %d)",
          (int)atomic_load(&L.s2->sweepRequested));
    ga_report r;
    CHECK(ga_verify(L.h, &r) == 0, "verify: %s %s", r.invariant, r.message);
    size_t n;
    const uint8_t *d = gs_decisions(L.s, &n);
    if (dec) {
        *dec = malloc(n);
        memcpy(*dec, d, n);
        *ndec = n;
    }
    gs_free(L.s);
    ga_cache_destroy(L.a);
    ga_heap_destroy(L.h);
}

static void test_late_sweep_request_schedule(void)
{
    static const gs_directive D[] = { { 1, "free.published" }, { 0, NULL }, { 1, NULL } };
    gs_config cfg = { .strategy = GS_DIRECTED, .directives = D, .ndirectives = 3 };
    uint8_t *dec = NULL;
    size_t n = 0;
    run_late(&cfg, &dec, &n);
    CHECK(n > 3 && gs_count_switches(dec, n) == 2, "directed schedule: %zu decisions, %zu switches", n, gs_count_switches(dec, n));
    gs_config rep = { .strategy = GS_REPLAY, .replay = dec, .nreplay = n };
    run_late(&rep, NULL, NULL);
    free(dec);
}

static char res_a, res_b;
static void dead_body(void *arg, unsigned tid)
{
    gs_sched *s = arg;
    gs_block(s, "test.wait", tid ? (void *)&res_a : (void *)&res_b);   /* nobody wakes either */
}
static void test_deadlock(void)
{
    gs_config cfg = { .strategy = GS_RANDOM, .seed = 1 };
    gs_sched *s = gs_new(2, &cfg);
    CHECK_EQ(gs_run(s, dead_body, s), GS_DEADLOCK);
    CHECK(strcmp(gs_last_point(s, 0), "test.wait") == 0, "deadlock point %s", gs_last_point(s, 0));
    gs_free(s);   /* leaks on purpose: the threads stay parked */
}

static bool same_prog(const mt_prog *a, const mt_prog *b)
{
    if (a->nthreads != b->nthreads || a->nsched != b->nsched || (a->nsched && memcmp(a->sched, b->sched, a->nsched))) return false;
    for (unsigned t = 0; t < a->nthreads; t++) {
        if (a->nops[t] != b->nops[t]) return false;
        for (size_t i = 0; i < a->nops[t]; i++) {
            const mt_op *x = &a->ops[t][i], *y = &b->ops[t][i];
            if (x->kind != y->kind || x->flags != y->flags || x->obj != y->obj || x->a != y->a || x->b != y->b) return false;
        }
    }
    return true;
}

static void test_format(void)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        mt_prog p, q, r;
        CHECK_EQ(mt_generate(seed, 2 + seed % 3, 30, &p), 0);
        uint8_t d[300];
        for (int i = 0; i < 300; i++) d[i] = (uint8_t)((i / (1 + seed % 7)) % p.nthreads);
        mt_set_sched(&p, d, sizeof d);
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        mt_format(&p, m, "round trip");
        fclose(m);
        char err[200];
        CHECK(mt_parse(text, len, &q, err, sizeof err) == 0, "parse: %s", err);
        CHECK(same_prog(&p, &q), "text round trip, seed %llu", (unsigned long long)seed);
        uint8_t *b;
        size_t bl;
        CHECK_EQ(mt_encode(&p, &b, &bl), 0);
        CHECK(mt_decode(b, bl, &r, err, sizeof err) == 0, "decode: %s", err);
        CHECK(same_prog(&p, &r), "binary round trip");
        CHECK(mt_decode(b, bl - 1, &q, err, sizeof err) != 0, "a truncated GAMT file was accepted");
        free(b);
        free(text);
        mt_prog_free(&p);
        mt_prog_free(&r);
    }
    static const char *bad[] = { "galloc-mt 2\nthreads 1\n", "galloc-mt 1\nthread 0\n", "galloc-mt 1\nthreads 2\nthread 0\nmalloc x\n",
                                 "galloc-mt 1\nthreads 2\nschedule 3\n", "galloc-mt 1\nthreads 2\nfree 1\n", "galloc-mt 1\nthreads 9\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mt_prog p;
        char err[200] = "";
        CHECK(mt_parse(bad[i], strlen(bad[i]), &p, err, sizeof err) != 0, "bad text %zu accepted", i);
        CHECK(strstr(err, "line") != NULL || strstr(err, "threads") != NULL, "message names no line: %s", err);
    }
}

static void test_exact_replay(void)
{
    mt_prog p;
    CHECK_EQ(mt_generate(3, 3, 20, &p), 0);
    mt_options o;
    memset(&o, 0, sizeof o);
    o.sched.strategy = GS_POS;
    o.sched.seed = 5;
    mt_finding f, g;
    mt_result r1, r2;
    CHECK_EQ(mt_run(&p, &o, &f, &r1), 0);
    mt_set_sched(&p, r1.decisions, r1.ndecisions);
    o.sched.strategy = GS_REPLAY;
    CHECK_EQ(mt_run(&p, &o, &g, &r2), 0);
    CHECK(r1.ndecisions == r2.ndecisions && !memcmp(r1.decisions, r2.decisions, r1.ndecisions) && r1.switches > 10,
          "replay differs: %zu vs %zu decisions, %zu switches", r1.ndecisions, r2.ndecisions, r1.switches);
    free(r1.decisions); free(r1.tags); free(r2.decisions); free(r2.tags);
    mt_prog_free(&p);
}

int main(void)
{
    CHECK(gs_has_alloc_points(), "sched.unit needs the sched build");
    test_late_sweep_request_schedule();
    test_deadlock();
    test_format();
    test_exact_replay();
    TEST_MAIN_END();
}
