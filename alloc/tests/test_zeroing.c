/*
 * test_zeroing.c — needzero for over-aligned large objects (spec §5.5): the run taken for
 * an aligned object is longer than the object, so the scavenged bytes counted over the run
 * say nothing about whether the object's own pages are clean. Dirty pages reused under an
 * aligned GA_ZERO (or scan) allocation must read as zero; so must every usable byte of a
 * small over-aligned GA_ZERO object that reuses a dirty slot.
 */
#include "heap_check.h"
#include "internal.h"
#include "verify.h"
#include <errno.h>


static size_t first_nonzero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return i;
    return n;
}

/* k dirty pages at the start of a fresh heap, the rest of the chunk untouched (scavenged).
 * An object of n pages aligned to A pages takes a run of n + A - 1 pages from the start:
 * with k = A - 1 exactly n of its pages are scavenged, yet the object's first pages are
 * the dirty ones. */
static void aligned_over_dirty(unsigned align_pages, unsigned npages, unsigned flags)
{
    ga_heap_options o = { 0 };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new: errno %d", errno);
    if (!h) return;
    unsigned k = align_pages - 1;
    ga_cache *c = ga_cache_new(h);
    void *dirty = ga_alloc(c, (size_t)k * GA_PAGE_SIZE, 0, GA_NOSCAN);
    CHECK(dirty != NULL, "alloc dirty");
    memset(dirty, 0xab, (size_t)k * GA_PAGE_SIZE);
    CHECK_EQ(ga_free(h, dirty), GA_OK);
    ga_cache_destroy(c);             /* the page cache goes back too */
    ga_sweep(h, SIZE_MAX);
    VERIFY(h);
    c = ga_cache_new(h);
    size_t align = (size_t)align_pages * GA_PAGE_SIZE, size = (size_t)npages * GA_PAGE_SIZE;
    unsigned char *p = ga_alloc(c, size, align, flags);
    CHECK(p != NULL, "aligned alloc");
    if (p) {
        CHECK(((uintptr_t)p & (align - 1)) == 0, "%p not aligned to %zu", (void *)p, align);
        CHECK(p == (unsigned char *)dirty, "aligned object at %p, expected over the dirty pages at %p", (void *)p, dirty);
        size_t z = first_nonzero(p, size);
        CHECK(z == size, "aligned %s object (align %u pages, %u pages) has a nonzero byte at offset %zu",
              (flags & GA_ZERO) ? "GA_ZERO" : "scan", align_pages, npages, z);
        CHECK_EQ(ga_free(h, p), GA_OK);
    }
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* Small over-aligned GA_ZERO objects reuse dirty slots of their class: every usable byte
 * (ga_usable_size, the whole slot) must read as zero, as for unaligned GA_ZERO objects. */
static void aligned_small_zero(size_t size, size_t align)
{
    ga_heap_options o = { 0 };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new: errno %d", errno);
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    enum { N = 40 };
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = ga_alloc(c, size, align, GA_NOSCAN);
        CHECK(p[i] != NULL, "alloc");
        if (!p[i]) return;
        memset(p[i], 0xee, ga_usable_size(h, p[i]));
    }
    for (int i = 1; i < N; i++) CHECK_EQ(ga_free(h, p[i]), GA_OK);   /* p[0] keeps the span */
    ga_cache_release(c);
    ga_sweep(h, SIZE_MAX);
    unsigned reused = 0;
    for (int i = 1; i < N; i++) {
        unsigned char *q = ga_alloc(c, size, align, GA_NOSCAN | GA_ZERO);
        CHECK(q != NULL && ((uintptr_t)q & (align - 1)) == 0, "aligned zero alloc %p", (void *)q);
        if (!q) break;
        size_t u = ga_usable_size(h, q), z = first_nonzero(q, u);
        CHECK(z == u, "GA_ZERO object (size %zu align %zu) %p: byte %zu of %zu usable is nonzero", size, align, (void *)q, z, u);
        for (int j = 1; j < N; j++) reused += q == p[j];
    }
    CHECK(reused > 0, "no dirty slot was reused");
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

int main(void)
{
    aligned_over_dirty(16, 4, GA_NOSCAN | GA_ZERO);
    aligned_over_dirty(16, 8, GA_ZERO);
    aligned_over_dirty(32, 20, GA_NOSCAN | GA_ZERO);
    aligned_over_dirty(8, 5, GA_NOSCAN | GA_ZERO);
    aligned_small_zero(200, 64);
    aligned_small_zero(40, 16);
    aligned_small_zero(1000, 512);
    TEST_MAIN_END();
}
