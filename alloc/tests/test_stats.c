/*
 * test_stats.c — statistics while frees are pending (spec §10.E): an explicit free of a
 * large object during marking is not swept until the cycle ends, yet ga_read_stats must
 * count it at once (large_free, large_free_count, frees, heap_objects) and must not count
 * it twice once the sweep consumes it. The same for small objects freed while marking.
 */
#include "heap_check.h"
#include "internal.h"
#include "verify.h"
#include "os.h"
#include <errno.h>


static void check_same(const ga_stats *a, const ga_stats *b, const char *when)
{
    CHECK(a->mallocs == b->mallocs && a->frees == b->frees && a->heap_objects == b->heap_objects &&
          a->heap_alloc == b->heap_alloc && a->large_free == b->large_free &&
          a->large_free_count == b->large_free_count && a->total_alloc == b->total_alloc,
          "%s: mallocs %llu/%llu frees %llu/%llu objects %llu/%llu heap_alloc %llu/%llu large_free %llu/%llu "
          "large_free_count %llu/%llu", when,
          (unsigned long long)a->mallocs, (unsigned long long)b->mallocs, (unsigned long long)a->frees,
          (unsigned long long)b->frees, (unsigned long long)a->heap_objects, (unsigned long long)b->heap_objects,
          (unsigned long long)a->heap_alloc, (unsigned long long)b->heap_alloc, (unsigned long long)a->large_free,
          (unsigned long long)b->large_free, (unsigned long long)a->large_free_count,
          (unsigned long long)b->large_free_count);
}

static void test_free_while_marking(void)
{
    ga_heap_options o = { 0 };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new: errno %d", errno);
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    size_t lsize = 100000, lbytes = (lsize + GA_PAGE_SIZE - 1) / GA_PAGE_SIZE * GA_PAGE_SIZE;
    void *big1 = ga_alloc(c, lsize, 0, GA_NOSCAN);
    void *big2 = ga_alloc(c, lsize, 0, 0);
    void *small[10];
    for (int i = 0; i < 10; i++) small[i] = ga_alloc(c, 48, 0, GA_NOSCAN);
    CHECK(big1 && big2 && small[9], "alloc");
    ga_stats s0, s1, s2;
    ga_read_stats(h, &s0);
    CHECK_EQ(s0.large_alloc_count, 2);
    CHECK_EQ(s0.large_alloc, 2 * lbytes);
    CHECK_EQ(s0.heap_objects, 12);

    ga_gc_begin(h);
    ga_gc_mark(h, big2);
    for (int i = 0; i < 10; i++) ga_gc_mark(h, small[i]);
    CHECK_EQ(ga_free(h, big1), GA_OK);            /* pending until the cycle ends */
    CHECK_EQ(ga_free(h, small[3]), GA_OK);
    ga_read_stats(h, &s1);
    CHECK_EQ(s1.large_free_count, 1);
    CHECK_EQ(s1.large_free, lbytes);
    CHECK_EQ(s1.frees, s0.frees + 2);
    CHECK_EQ(s1.heap_objects, 10);
    CHECK_EQ(s1.heap_alloc, s0.heap_alloc - lbytes - 48);
    ga_gc_end(h);
    ga_sweep(h, SIZE_MAX);
    VERIFY(h);
    ga_read_stats(h, &s2);
    check_same(&s2, &s1, "after the sweep consumed the pending frees");
    CHECK_EQ(s2.num_gc, 1);

    /* a second pending large free, this time of a marked object swept later */
    ga_gc_begin(h);
    for (int i = 0; i < 10; i++) if (i != 3) ga_gc_mark(h, small[i]);
    ga_gc_mark(h, big2);
    CHECK_EQ(ga_free(h, big2), GA_OK);
    ga_read_stats(h, &s1);
    CHECK_EQ(s1.large_free_count, 2);
    CHECK_EQ(s1.large_free, 2 * lbytes);
    CHECK_EQ(s1.heap_objects, 9);
    ga_gc_end(h);
    ga_sweep(h, SIZE_MAX);
    ga_read_stats(h, &s2);
    check_same(&s2, &s1, "second cycle");
    CHECK_EQ(s2.large_free_count, 2);
    CHECK_EQ(s2.heap_objects, 9);
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* meta_sys counts every metadata mapping, the arena index included: it is mapped whole
 * (GA_ARENA_L2_ENTRIES pointers, 32 MiB), however sparsely touched. Through a test OS the
 * total is also exactly what alloc_meta handed out and is still live. */
static void test_meta_sys(void)
{
    ga_testos *t = ga_testos_new(NULL);
    ga_heap_options o = { .os = ga_testos_os(t) };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new: errno %d", errno);
    if (!h) { ga_testos_free(t); return; }
    ga_cache *c = ga_cache_new(h);
    void *p = ga_alloc(c, 100, 0, 0), *q = ga_alloc(c, 200000, 0, GA_NOSCAN);
    CHECK(p && q, "alloc");
    ga_stats st;
    ga_read_stats(h, &st);
    uint64_t index = (uint64_t)GA_ARENA_L2_ENTRIES * sizeof(void *);
    CHECK(st.meta_sys >= index + sizeof(ga_heap), "meta_sys %llu < arena index %llu + heap struct %zu",
          (unsigned long long)st.meta_sys, (unsigned long long)index, sizeof(ga_heap));
    CHECK(st.meta_sys == ga_testos_meta_live(t), "meta_sys %llu, but alloc_meta has %llu bytes live",
          (unsigned long long)st.meta_sys, (unsigned long long)ga_testos_meta_live(t));
    CHECK(st.sys == st.heap_sys + st.meta_sys, "sys %llu != heap_sys %llu + meta_sys %llu",
          (unsigned long long)st.sys, (unsigned long long)st.heap_sys, (unsigned long long)st.meta_sys);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
    CHECK_EQ(ga_testos_meta_live(t), 0);
    ga_testos_free(t);
}

int main(void)
{
    test_meta_sys();
    test_free_while_marking();
    TEST_MAIN_END();
}
