/*
 * test_gcsweep.c — GC cycles and sweeping as seen from the mcentral lists (spec §4, §8):
 * which span a refill takes after a cycle (full unswept spans are reclaimed, spans with an
 * explicit free are preferred), large objects allocated black while marking survive the
 * cycle, marks do not leak into the next cycle, ga_sweep keeps to its budget, and
 * ga_gc_mark outside a cycle marks nothing; frees, allocations and cache releases while a
 * cycle marks never cost a marked or black object its life.
 * Every phase ends with ga_verify; all checks are on outcomes (addresses handed out,
 * ga_lookup, stats, object contents).
 */
#include "heap_check.h"
#include "internal.h"
#include "verify.h"
#include <errno.h>


static ga_heap *new_heap(void)
{
    ga_heap_options o = { 0 };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new failed: errno %d", errno);
    return h;
}

static bool lookup_allocated(ga_heap *h, const void *p)
{
    ga_object_info info;
    return ga_lookup(h, p, &info) == GA_OK && info.allocated;
}

/* Objects of 1024 bytes, noscan: 8 per one-page span, no trailer. */
#define OBJ 1024u

static unsigned obj_nelems(ga_heap *h)
{
    unsigned cls = ga_size_to_class(OBJ);
    return ga_class_nelems(cls, true, h->green_tea);
}

/* A large object allocated while marking is allocated black: the sweep after the cycle
 * must not reclaim it. */
static void test_large_alloc_black(void)
{
    ga_heap *h = new_heap();
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    void *keep = ga_alloc(c, 100000, 0, GA_NOSCAN);
    CHECK(keep != NULL, "alloc");
    ga_gc_begin(h);
    CHECK(ga_gc_mark(h, keep), "mark keep");
    void *p = ga_alloc(c, 200000, 0, GA_NOSCAN);
    void *q = ga_alloc(c, 40000, 0, 0);    /* scan, large */
    CHECK(p != NULL && q != NULL, "alloc while marking");
    memset(p, 0x5a, 200000);
    memset(q, 0x33, 40000);
    ga_gc_end(h);
    ga_sweep(h, SIZE_MAX);
    VERIFY(h);
    CHECK(lookup_allocated(h, keep), "marked large object reclaimed");
    CHECK(lookup_allocated(h, p), "large object allocated while marking was reclaimed by the sweep");
    CHECK(lookup_allocated(h, q), "large scan object allocated while marking was reclaimed by the sweep");
    ga_stats st;
    ga_read_stats(h, &st);
    CHECK_EQ(st.large_free_count, 0);
    CHECK_EQ(st.large_alloc_count, 3);
    CHECK_EQ(st.heap_objects, 3);
    bool same = true;
    for (size_t i = 0; i < 200000; i++) same &= ((unsigned char *)p)[i] == 0x5a;
    CHECK(same, "contents of the surviving object changed");
    CHECK_EQ(ga_free(h, p), GA_OK);
    CHECK_EQ(ga_free(h, q), GA_OK);
    CHECK_EQ(ga_free(h, keep), GA_OK);
    ga_read_stats(h, &st);
    CHECK_EQ(st.large_free_count, 3);
    CHECK_EQ(st.heap_objects, 0);
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* Three full spans, a cycle that keeps all but one object: the next allocation of the class
 * must reuse the dead slot (cacheSpan sweeps full unswept spans), not take a new span. */
static void test_refill_reclaims_full_unswept(void)
{
    ga_heap *h = new_heap();
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    unsigned n = obj_nelems(h);
    CHECK(n >= 2 && n <= 64, "nelems %u", n);
    void *objs[3 * 64];
    for (unsigned i = 0; i < 3 * n; i++) {
        objs[i] = ga_alloc(c, OBJ, 0, GA_NOSCAN);
        CHECK(objs[i] != NULL, "alloc %u", i);
    }
    ga_stats before;
    ga_read_stats(h, &before);
    unsigned dead = n + 3;                 /* one object of the second span */
    ga_gc_begin(h);
    for (unsigned i = 0; i < 3 * n; i++)
        if (i != dead) CHECK(ga_gc_mark(h, objs[i]), "mark %u", i);
    ga_gc_end(h);
    VERIFY(h);
    void *p = ga_alloc(c, OBJ, 0, GA_NOSCAN);
    CHECK(p == objs[dead], "refill after the cycle took %p, want the dead slot %p", p, objs[dead]);
    ga_stats after;
    ga_read_stats(h, &after);
    CHECK_EQ(after.heap_inuse, before.heap_inuse);
    CHECK_EQ(after.spans_inuse, before.spans_inuse);
    CHECK_EQ(after.heap_objects, 3 * n);
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* After a cycle, span A (all live) is swept, then one of its objects is freed explicitly;
 * span B (unswept) holds dead objects. A refill takes the span with the explicit free
 * first (partial unswept list) and hands out exactly the freed slot. */
static void test_refill_prefers_explicit_free(void)
{
    ga_heap *h = new_heap();
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    unsigned n = obj_nelems(h);
    void *objs[2 * 64];
    for (unsigned i = 0; i < 2 * n; i++) {
        objs[i] = ga_alloc(c, OBJ, 0, GA_NOSCAN);
        CHECK(objs[i] != NULL, "alloc %u", i);
    }
    ga_gc_begin(h);
    for (unsigned i = 0; i < n; i++) CHECK(ga_gc_mark(h, objs[i]), "mark %u", i);   /* A: all live */
    for (unsigned i = n; i < 2 * n; i += 2) CHECK(ga_gc_mark(h, objs[i]), "mark %u", i); /* B: half */
    ga_gc_end(h);
    CHECK_EQ(ga_sweep(h, 1), 1);           /* full unswept spans first, in list order: A */
    CHECK(lookup_allocated(h, objs[0]) && lookup_allocated(h, objs[n + 1]), "lookup after partial sweep");
    VERIFY(h);
    void *freed = objs[2];
    CHECK_EQ(ga_free(h, freed), GA_OK);
    VERIFY(h);
    void *p = ga_alloc(c, OBJ, 0, GA_NOSCAN);
    CHECK(p == freed, "refill took %p, want the explicitly freed slot %p", p, freed);
    CHECK_EQ(ga_sweep(h, SIZE_MAX), 1);    /* B is still waiting */
    ga_stats st;
    ga_read_stats(h, &st);
    CHECK_EQ(st.heap_objects, n + n / 2);
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* Marks do not leak from one cycle into the next: a span marked in one cycle, then not
 * marked in the next, has its objects reclaimed. */
static void test_marks_cleared_between_cycles(void)
{
    ga_heap *h = new_heap();
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    void *a = ga_alloc(c, OBJ, 0, GA_NOSCAN);
    void *big = ga_alloc(c, 5 * GA_PAGE_SIZE, 0, GA_NOSCAN);
    CHECK(a && big, "alloc");
    ga_gc_begin(h);
    CHECK(ga_gc_mark(h, a), "mark");
    CHECK(ga_gc_mark(h, big), "mark big");
    ga_gc_end(h);
    ga_sweep(h, SIZE_MAX);
    CHECK(lookup_allocated(h, a) && lookup_allocated(h, big), "marked objects reclaimed");
    ga_gc_begin(h);
    CHECK(ga_gc_mark(h, a), "mark again");
    ga_gc_end(h);
    ga_sweep(h, SIZE_MAX);
    CHECK(lookup_allocated(h, a), "marked object reclaimed");
    CHECK(!lookup_allocated(h, big), "unmarked large object survived");
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* ga_sweep(h, max) sweeps at most max spans in total, across classes: one span of a small
 * class and five of a larger class pending, ga_sweep(3) sweeps exactly 3 and leaves 3. */
static void test_sweep_budget(void)
{
    ga_heap *h = new_heap();
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    unsigned n = obj_nelems(h);
    CHECK(ga_alloc(c, 16, 0, GA_NOSCAN | GA_NOTINY) != NULL, "alloc small");
    for (unsigned i = 0; i < 5 * n; i++) CHECK(ga_alloc(c, OBJ, 0, GA_NOSCAN) != NULL, "alloc %u", i);
    ga_gc_begin(h);
    ga_gc_end(h);
    CHECK_EQ(ga_sweep(h, 3), 3);
    VERIFY(h);
    CHECK_EQ(ga_sweep(h, 2), 2);
    CHECK_EQ(ga_sweep(h, SIZE_MAX), 1);
    CHECK_EQ(ga_sweep(h, SIZE_MAX), 0);
    ga_stats st;
    ga_read_stats(h, &st);
    CHECK_EQ(st.heap_objects, 0);
    CHECK_EQ(st.spans_inuse, 0);
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* ga_gc_mark outside a cycle marks nothing: the object dies in the next cycle unless that
 * cycle marks it. */
static void test_mark_outside_cycle(void)
{
    ga_heap *h = new_heap();
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    void *a = ga_alloc(c, OBJ, 0, GA_NOSCAN), *b = ga_alloc(c, OBJ, 0, GA_NOSCAN);
    void *big = ga_alloc(c, 100000, 0, GA_NOSCAN);
    CHECK(a && b && big, "alloc");
    CHECK(!ga_gc_mark(h, a), "ga_gc_mark outside a cycle returned true");
    CHECK(!ga_gc_mark(h, big), "ga_gc_mark of a large object outside a cycle returned true");
    ga_gc_begin(h);
    CHECK(ga_gc_mark(h, b), "mark b");
    ga_gc_end(h);
    ga_sweep(h, SIZE_MAX);
    CHECK(!lookup_allocated(h, a), "object marked outside the cycle survived it");
    CHECK(!lookup_allocated(h, big), "large object marked outside the cycle survived it");
    CHECK(lookup_allocated(h, b), "marked object reclaimed");
    ga_stats st;
    ga_read_stats(h, &st);
    CHECK_EQ(st.heap_objects, 1);
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* While a cycle marks: mark one object of a span, free another, then allocate from the
 * same class (which takes the span, allocates black and gives it back) and release the
 * cache. Nothing may be swept before ga_gc_end: a sweep without marks would drop the mark
 * of `kept` and the black mark of `black` (gcmarkBits for 1024 B; the Green Tea trailer
 * for 64 B, where a stale mark of the freed slot would also survive as a zombie). */
static void test_marks_survive_frees_while_marking(size_t size)
{
    ga_heap *h = new_heap();
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    void *o[4];
    for (int i = 0; i < 4; i++) { o[i] = ga_alloc(c, size, 0, GA_NOSCAN); CHECK(o[i] != NULL, "alloc"); }
    ga_gc_begin(h);
    CHECK(ga_gc_mark(h, o[0]), "mark");
    CHECK(ga_gc_mark(h, o[3]), "mark");
    CHECK_EQ(ga_free(h, o[1]), GA_OK);
    void *black = ga_alloc(c, size, 0, GA_NOSCAN);
    CHECK(black != NULL, "alloc while marking");
    CHECK_EQ(ga_free(h, o[3]), GA_OK);          /* marked, then freed: dies at the sweep */
    void *black2 = ga_alloc(c, size, 0, GA_NOSCAN);
    ga_cache_release(c);
    VERIFY(h);
    ga_gc_end(h);
    ga_sweep(h, SIZE_MAX);
    VERIFY(h);
    CHECK(lookup_allocated(h, o[0]), "%zu B: object marked while a free was pending was reclaimed", size);
    CHECK(lookup_allocated(h, black), "%zu B: object allocated black while marking was reclaimed", size);
    CHECK(lookup_allocated(h, black2), "%zu B: second black object reclaimed", size);
    CHECK(!lookup_allocated(h, o[2]), "%zu B: unmarked object survived", size);
    ga_stats st;
    ga_read_stats(h, &st);
    CHECK_EQ(st.heap_objects, 3);
    for (int i = 0; i < 64; i++) {              /* reuse: nothing handed out over a live object */
        void *p = ga_alloc(c, size, 0, GA_NOSCAN);
        CHECK(p != o[0] && p != black && p != black2, "%zu B: live slot %p handed out again", size, p);
    }
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

int main(void)
{
    test_large_alloc_black();
    test_refill_reclaims_full_unswept();
    test_refill_prefers_explicit_free();
    test_marks_cleared_between_cycles();
    test_sweep_budget();
    test_mark_outside_cycle();
    test_marks_survive_frees_while_marking(OBJ);
    test_marks_survive_frees_while_marking(64);
    TEST_MAIN_END();
}
