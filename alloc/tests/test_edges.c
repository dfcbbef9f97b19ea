/*
 * test_edges.c — edge paths of the allocator that the per-level tests leave alone, each
 * checked by its outcome: arena reservation when the hints are taken (the fallback
 * "anywhere" region, and handing the unused tail of the old arena run to the page
 * allocator), the arena_hint and randomize_base options, over-aligned small and large
 * objects (smallest suitable class, alignment, no overlap, zeroing), exact statistics
 * with objects held in caches and frees pending, the scavenger (on demand and by policy,
 * with OS call accounting and zeroed memory afterwards), page-cache flushing on cache
 * destroy, misuse in a span's tail, and the status/plant names.
 */
#include "heap_check.h"
#include "internal.h"
#include "os.h"
#include "verify.h"
#include <errno.h>

static ga_testos *tos;


#define MiB ((size_t)1 << 20)

static ga_heap *new_heap_opt(ga_heap_options o)
{
    if (!o.os) o.os = ga_testos_os(tos);
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new failed: errno %d", errno);
    if (!h) exit(1);
    return h;
}

static ga_heap *new_heap(void) { return new_heap_opt((ga_heap_options){ 0 }); }

/* The heap gave every byte back to the (test) OS and broke no page-state rule. */
static void check_os_clean(const char *what)
{
    CHECK_EQ(ga_testos_bytes_in_state(tos, GA_PAGE_RESERVED) + ga_testos_bytes_in_state(tos, GA_PAGE_PREPARED) +
             ga_testos_bytes_in_state(tos, GA_PAGE_READY), 0);
    CHECK_EQ(ga_testos_meta_live(tos), 0);
    char why[256] = "";
    CHECK(ga_testos_violations(tos, why, sizeof why) == 0, "%s: OS state violation: %s", what, why);
}

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v) return false;
    return true;
}

/* ---- an OS layer whose arena hints can be "taken" --------------------------------- */
enum { HINT_OK, HINT_ELSEWHERE, HINT_BUSY };
typedef struct {
    const ga_os *inner;
    ga_os os;
    int mode;
    unsigned hinted, anywhere;
} wrapos;

static void *w_reserve(void *ctx, void *hint, size_t n)
{
    wrapos *w = ctx;
    if (!hint) {
        w->anywhere++;
        return w->inner->reserve(w->inner->ctx, NULL, n);
    }
    w->hinted++;
    if (w->mode == HINT_ELSEWHERE)       /* the kernel placed it somewhere else */
        return w->inner->reserve(w->inner->ctx, NULL, n);
    if (w->mode == HINT_BUSY) { errno = EEXIST; return NULL; }
    return w->inner->reserve(w->inner->ctx, hint, n);
}
static int w_map(void *ctx, void *p, size_t n) { wrapos *w = ctx; return w->inner->map(w->inner->ctx, p, n); }
static int w_used(void *ctx, void *p, size_t n) { wrapos *w = ctx; return w->inner->used(w->inner->ctx, p, n); }
static int w_unused(void *ctx, void *p, size_t n) { wrapos *w = ctx; return w->inner->unused(w->inner->ctx, p, n); }
static int w_release(void *ctx, void *p, size_t n) { wrapos *w = ctx; return w->inner->release(w->inner->ctx, p, n); }
static void *w_alloc_meta(void *ctx, size_t n) { wrapos *w = ctx; return w->inner->alloc_meta(w->inner->ctx, n); }
static void w_free_meta(void *ctx, void *p, size_t n) { wrapos *w = ctx; w->inner->free_meta(w->inner->ctx, p, n); }

static void wrapos_init(wrapos *w, int mode)
{
    memset(w, 0, sizeof *w);
    w->inner = ga_testos_os(tos);
    w->mode = mode;
    w->os = (ga_os){ .ctx = w, .reserve = w_reserve, .map = w_map, .used = w_used, .unused = w_unused,
                     .release = w_release, .alloc_meta = w_alloc_meta, .free_meta = w_free_meta };
}

static bool in_range(const void *p, uintptr_t lo, uintptr_t hi) { return (uintptr_t)p >= lo && (uintptr_t)p < hi; }

/* p lies in the first arena of a default hint (GA_HINT_BASE + i * GA_HINT_STEP, internal.h) */
static bool at_default_hint(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    return a >= GA_HINT_BASE && (a - GA_HINT_BASE) / GA_HINT_STEP < GA_HINT_COUNT &&
           (a - GA_HINT_BASE) % GA_HINT_STEP < GA_ARENA_BYTES;
}

/* No hint can be had: the heap reserves an aligned region anywhere (and records the whole
 * reservation, so destroy releases exactly what was reserved); the regions handed out at
 * other addresses are given back at once. */
static void test_reserve_fallback(int mode)
{
    wrapos w;
    wrapos_init(&w, mode);
    uint64_t rel0 = ga_testos_calls(tos, GA_OS_RELEASE);
    ga_heap *h = new_heap_opt((ga_heap_options){ .os = &w.os });
    ga_cache *c = ga_cache_new(h);
    unsigned char *p = ga_alloc(c, 1000, 0, GA_NOSCAN);
    CHECK(p != NULL, "mode %d: alloc with every hint taken: errno %d", mode, errno);
    if (!p) { ga_cache_destroy(c); ga_heap_destroy(h); return; }
    CHECK(w.hinted > 1, "mode %d: hints tried %u", mode, w.hinted);
    CHECK_EQ(w.anywhere, 1);
    if (mode == HINT_ELSEWHERE)   /* each misplaced region was released */
        CHECK(ga_testos_calls(tos, GA_OS_RELEASE) - rel0 == w.hinted, "mode %d: %llu releases for %u misplaced regions",
              mode, (unsigned long long)(ga_testos_calls(tos, GA_OS_RELEASE) - rel0), w.hinted);
    ga_heaparena *ha = ga_arena_of(h, (uintptr_t)p);
    CHECK(ha != NULL && (ha->base & (GA_ARENA_BYTES - 1)) == 0 && in_range(p, ha->base, ha->base + GA_ARENA_BYTES),
          "mode %d: %p not in a registered, aligned arena", mode, (void *)p);
    CHECK(!at_default_hint(p), "mode %d: %p at a hint address", mode, (void *)p);
    memset(p, 0x11, 1000);
    /* grow past the first region: later hints are tried again; it still works */
    unsigned char *big = ga_alloc(c, 100 * MiB, 0, GA_NOSCAN);
    CHECK(big != NULL, "mode %d: large alloc after fallback", mode);
    if (big) { big[0] = 1; big[100 * MiB - 1] = 2; }
    CHECK(all_bytes(p, 1000, 0x11), "mode %d: small object changed", mode);
    VERIFY(h);
    ga_stats st;
    ga_read_stats(h, &st);
    CHECK_EQ(st.heap_sys, st.heap_inuse + st.heap_idle);
    CHECK(st.heap_sys >= 104 * MiB, "mode %d: heap_sys %llu", mode, (unsigned long long)st.heap_sys);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
    check_os_clean("fallback");
}

/* The current arena run cannot be extended (the next hint is taken): the new region is
 * elsewhere and the old run's unused tail becomes free (scavenged, Prepared) pages, used
 * before anything else by the next allocation that fits. */
static void test_noncontiguous_growth(void)
{
    wrapos w;
    wrapos_init(&w, HINT_OK);
    ga_heap *h = new_heap_opt((ga_heap_options){ .os = &w.os });
    ga_cache *c = ga_cache_new(h);
    unsigned char *small = ga_alloc(c, 64, 0, GA_NOSCAN | GA_NOTINY);
    CHECK(small != NULL, "first alloc");
    uintptr_t tail = h->curArenaBase, tail_end = h->curArenaEnd;
    CHECK(tail_end > tail && tail_end - tail >= 32 * MiB, "arena run [%#lx, %#lx)", (unsigned long)tail, (unsigned long)tail_end);
    CHECK(in_range(small, tail_end - GA_ARENA_BYTES, tail), "first object %p outside the first arena", (void *)small);
    CHECK_EQ(ga_testos_page_state(tos, (void *)tail), GA_PAGE_RESERVED);
    ga_stats st0, st1;
    ga_read_stats(h, &st0);
    w.mode = HINT_BUSY;
    unsigned char *big = ga_alloc(c, 80 * MiB, 0, GA_NOSCAN);
    CHECK(big != NULL, "80 MiB with hints busy: errno %d", errno);
    CHECK_EQ(w.anywhere, 1);
    CHECK(!in_range(big, tail_end - GA_ARENA_BYTES, tail_end), "big object %p in the old arena", (void *)big);
    ga_read_stats(h, &st1);
    size_t tailbytes = tail_end - tail;
    CHECK(st1.heap_sys - st0.heap_sys >= tailbytes + 80 * MiB, "heap_sys grew %llu, want >= tail %zu + 80 MiB",
          (unsigned long long)(st1.heap_sys - st0.heap_sys), tailbytes);
    CHECK(st1.heap_released - st0.heap_released >= tailbytes, "released grew %llu, want >= tail %zu",
          (unsigned long long)(st1.heap_released - st0.heap_released), tailbytes);
    CHECK_EQ(ga_testos_page_state(tos, (void *)tail), GA_PAGE_PREPARED);
    CHECK_EQ(ga_testos_page_state(tos, (void *)(tail_end - 1)), GA_PAGE_PREPARED);
    VERIFY(h);
    /* the old tail is the lowest free memory: first fit puts the next large object there */
    w.mode = HINT_OK;
    unsigned char *mid = ga_alloc(c, 16 * MiB, 0, GA_NOSCAN | GA_ZERO);
    CHECK(mid != NULL && in_range(mid, tail_end - GA_ARENA_BYTES, tail_end) && (uintptr_t)mid + 16 * MiB > tail,
          "16 MiB object %p does not use the old tail [%#lx, %#lx)", (void *)mid, (unsigned long)tail, (unsigned long)tail_end);
    if (mid) {
        CHECK(all_bytes(mid, 16 * MiB, 0), "tail memory not zero");
        CHECK_EQ(ga_testos_page_state(tos, mid + 16 * MiB - 1), GA_PAGE_READY);
        mid[0] = 1;
    }
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
    check_os_clean("noncontiguous");
}

/* arena_hint (rounded down to 64 MiB) is tried first; randomize_base is deterministic per
 * seed and lands off the default hints. */
static void test_hint_options(void)
{
#ifdef GA_TSAN
    uintptr_t want = 0x002000000000ull;   /* TSan refuses mappings outside its application ranges */
#else
    uintptr_t want = 0x3e0000000000ull;
#endif
    ga_heap *h = new_heap_opt((ga_heap_options){ .arena_hint = want + 0x1234567 });
    ga_cache *c = ga_cache_new(h);
    void *p = ga_alloc(c, 100, 0, 0);
    void *q = ga_alloc(c, 1 * MiB, 0, 0);
    CHECK(in_range(p, want, want + GA_ARENA_BYTES), "arena_hint: %p not in [%#lx, +64 MiB)", p, (unsigned long)want);
    CHECK(in_range(q, want, want + GA_ARENA_BYTES), "arena_hint: %p not in [%#lx, +64 MiB)", q, (unsigned long)want);
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
#ifndef GA_TSAN   /* under TSan a randomized heap lets the kernel choose (heap.c init_hints) */
    uintptr_t first[3];
    uint64_t seeds[3] = { 42, 42, 4242 };
    for (int i = 0; i < 3; i++) {
        h = new_heap_opt((ga_heap_options){ .randomize_base = true, .seed = seeds[i] });
        c = ga_cache_new(h);
        p = ga_alloc(c, 100, 0, 0);
        CHECK(p != NULL, "randomized alloc");
        first[i] = (uintptr_t)p;
        CHECK(first[i] < ((uintptr_t)1 << 47), "randomized address %p", p);
        CHECK(((first[i] >> 32) & 0xffff) != 0x00c0 || (first[i] & ((uintptr_t)0xff << 40)) != 0,
              "randomized base %p looks like the default hint", p);
        VERIFY(h);
        ga_cache_destroy(c);
        ga_heap_destroy(h);
    }
    CHECK(first[0] == first[1], "same seed, different bases: %#lx %#lx", (unsigned long)first[0], (unsigned long)first[1]);
    CHECK(first[0] != first[2], "different seeds, same base %#lx", (unsigned long)first[0]);
#endif
    /* default: at a default hint, 0x00c000000000 + i << 40 (the first one free: under
     * ASan the first is shadow memory; under TSan 0x004000000000 + i << 32) */
    h = new_heap();
    c = ga_cache_new(h);
    p = ga_alloc(c, 100, 0, 0);
    CHECK(at_default_hint(p), "default heap at %p", p);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
    check_os_clean("hints");
}

/* Over-aligned objects: small ones take the smallest class whose every slot is aligned,
 * large ones an aligned page run; contents stay apart, GA_ZERO holds on reused memory. */
static void test_aligned(void)
{
    ga_heap *h = new_heap();
    ga_cache *c = ga_cache_new(h);
    enum { N = 40 };
    for (size_t align = 16; align <= 8192; align <<= 1) {
        size_t sizes[] = { 1, 9, align - 1, align, align + 1, 3000, 20000 };
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            size_t size = sizes[k];
            unsigned char *p[N];
            for (int i = 0; i < N; i++) {
                p[i] = ga_alloc(c, size, align, i % 2 ? GA_NOSCAN : 0);
                CHECK(p[i] != NULL, "align %zu size %zu", align, size);
                if (!p[i]) return;
                CHECK(((uintptr_t)p[i] & (align - 1)) == 0, "align %zu size %zu: %p", align, size, (void *)p[i]);
                ga_object_info info;
                CHECK_EQ(ga_lookup(h, p[i], &info), GA_OK);
                CHECK(info.object == (uintptr_t)p[i] && info.slot == (uintptr_t)p[i] && info.allocated,
                      "align %zu size %zu: object %#lx slot %#lx p %p", align, size, (unsigned long)info.object,
                      (unsigned long)info.slot, (void *)p[i]);
                CHECK(info.usable >= size && info.usable == info.elemsize, "align %zu size %zu: usable %zu elemsize %zu",
                      align, size, info.usable, info.elemsize);
                if (info.sizeclass) {
                    CHECK(info.elemsize % align == 0, "align %zu: class %u size %zu", align, info.sizeclass, info.elemsize);
                    CHECK(info.spanclass & 1, "aligned objects are noscan-shaped: spanclass %u", info.spanclass);
                    size_t need = size < align ? align : size;
                    for (unsigned cls = 1; cls < info.sizeclass; cls++)
                        CHECK(ga_class_to_size[cls] < need || ga_class_to_size[cls] % align != 0,
                              "align %zu size %zu: class %u (%u) would do, got class %u", align, size, cls,
                              ga_class_to_size[cls], info.sizeclass);
                } else {
                    CHECK_EQ(info.span_npages, (size + GA_PAGE_SIZE - 1) / GA_PAGE_SIZE);
                    CHECK(size > 8192 || align == 8192 || ga_class_to_size[GA_NUM_CLASSES - 1] % align != 0,
                          "align %zu size %zu went large", align, size);
                }
                memset(p[i], (int)(i + 1), size);
            }
            for (int i = 0; i < N; i++)
                CHECK(all_bytes(p[i], size, (unsigned char)(i + 1)), "align %zu size %zu: object %d overwritten", align, size, i);
            for (int i = 0; i < N; i++) CHECK_EQ(ga_free(h, p[i]), GA_OK);
        }
    }
    VERIFY(h);
    /* reused aligned memory is zeroed on request */
    ga_cache_release(c);
    ga_sweep(h, SIZE_MAX);
    for (int round = 0; round < 2; round++) {
        unsigned char *p[N];
        for (int i = 0; i < N; i++) {
            p[i] = ga_alloc(c, 200, 64, GA_NOSCAN | (round ? GA_ZERO : 0));
            CHECK(p[i] != NULL && ((uintptr_t)p[i] & 63) == 0, "aligned 200/64: %p", (void *)p[i]);
            if (!p[i]) return;
            if (round) CHECK(all_bytes(p[i], 200, 0), "round %d: GA_ZERO aligned object %d not zero", round, i);
            memset(p[i], 0xee, 200);
        }
        for (int i = 0; i < N; i++) CHECK_EQ(ga_free(h, p[i]), GA_OK);
        ga_cache_release(c);
        ga_sweep(h, SIZE_MAX);
    }
    /* large over-aligned: 16 KiB .. 8 MiB alignment, page runs trimmed back */
    for (size_t align = 16384; align <= 8 * MiB; align <<= 2) {
        size_t sizes[] = { 1, 40000, 3 * MiB + 5 };
        for (size_t k = 0; k < 3; k++) {
            unsigned char *p = ga_alloc(c, sizes[k], align, GA_ZERO);
            CHECK(p && ((uintptr_t)p & (align - 1)) == 0, "large align %zu size %zu: %p", align, sizes[k], (void *)p);
            if (!p) continue;
            ga_object_info info;
            CHECK_EQ(ga_lookup(h, p, &info), GA_OK);
            CHECK_EQ(info.sizeclass, 0);
            CHECK_EQ(info.span_npages, (sizes[k] + GA_PAGE_SIZE - 1) / GA_PAGE_SIZE);
            CHECK(all_bytes(p, sizes[k], 0), "large align %zu size %zu: GA_ZERO not zero", align, sizes[k]);
            memset(p, 0xcd, sizes[k]);
            VERIFY(h);
            CHECK_EQ(ga_free(h, p), GA_OK);
        }
    }
    VERIFY(h);
    ga_stats st;
    ga_read_stats(h, &st);
    CHECK_EQ(st.heap_objects, 0);
    ga_cache_destroy(c);
    ga_read_stats(h, &st);
    CHECK_EQ(st.heap_inuse, 0);
    CHECK_EQ(st.heap_idle, st.heap_sys);
    VERIFY(h);
    ga_heap_destroy(h);
}

/* Large objects: span size, usable size, limit, zeroing of reused dirty pages, counts. */
static void test_large(void)
{
    ga_heap *h = new_heap();
    ga_cache *c = ga_cache_new(h);
    size_t sizes[] = { 32761, 40000, 8192 * 5, 8192 * 5 + 1, 16 * 8192, 200000, 1 * MiB - 3 };
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t size = sizes[k], npages = (size + 8191) / 8192;
        /* a dirty noscan object first, then the others reuse its pages (runs of 16 pages
         * and more bypass the page cache: first fit hands back the same run) */
        static const unsigned order[4] = { GA_NOSCAN, 0, GA_NOSCAN | GA_ZERO, GA_ZERO };
        unsigned char *prev = NULL;
        for (int o = 0; o < 4; o++) {
            unsigned f = order[o];
            int flags = (f & GA_NOSCAN ? 1 : 0) | (f & GA_ZERO ? 2 : 0);
            unsigned char *p = ga_alloc(c, size, 0, f);
            CHECK(p != NULL, "large %zu", size);
            if (!p) continue;
            if (npages >= 16 && prev) CHECK(p == prev, "large %zu: pages not reused (%p, then %p)", size, (void *)prev, (void *)p);
            prev = p;
            ga_object_info info;
            CHECK_EQ(ga_lookup(h, p, &info), GA_OK);
            CHECK_EQ(info.span_npages, npages);
            CHECK_EQ(info.sizeclass, 0);
            CHECK_EQ(info.spanclass, (flags & 1) ? 1 : 0);
            CHECK(info.usable >= size && info.usable <= npages * 8192, "large %zu usable %zu", size, info.usable);
            CHECK_EQ(ga_usable_size(h, p), info.usable);
            CHECK_EQ(ga_usable_size(h, p + 1), 0);
            /* scan objects and GA_ZERO must be zero even on reused, dirty pages */
            if (f != GA_NOSCAN)
                CHECK(all_bytes(p, size, 0), "large %zu flags %u: not zero on reuse", size, f);
            memset(p, 0xa5, size);
            ga_object_info in2;
            CHECK_EQ(ga_lookup(h, p + size - 1, &in2), GA_ERR_INTERIOR);
            CHECK_EQ(in2.span_base, (uintptr_t)p);
            CHECK_EQ(ga_free(h, p + 8), GA_ERR_INTERIOR);
            CHECK_EQ(ga_free(h, p), GA_OK);
            CHECK_EQ(ga_usable_size(h, p), 0);
        }
    }
    ga_stats st;
    ga_read_stats(h, &st);
    uint64_t bytes = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) bytes += 4 * ((sizes[k] + 8191) / 8192 * 8192);
    CHECK_EQ(st.large_alloc_count, 4 * (sizeof sizes / sizeof *sizes));
    CHECK_EQ(st.large_free_count, 4 * (sizeof sizes / sizeof *sizes));
    CHECK_EQ(st.large_alloc, bytes);
    CHECK_EQ(st.large_free, bytes);
    CHECK_EQ(st.heap_objects, 0);
    CHECK_EQ(st.heap_alloc, 0);
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* Statistics are exact at every point: objects held in a cache's current span, frees
 * pending in freedBits, owner-local frees, large objects, tiny blocks. */
static void test_stats_exact(void)
{
    ga_heap *h = new_heap();
    ga_cache *c = ga_cache_new(h);
    ga_cache *c2 = ga_cache_new(h);
    unsigned cls100 = ga_size_to_class(100);
    size_t sz100 = ga_class_to_size[cls100];
    CHECK_EQ(sz100, 112);
    ga_stats st;
    ga_read_stats(h, &st);
    CHECK_EQ(st.mallocs, 0);
    CHECK_EQ(st.heap_alloc, 0);
    CHECK_EQ(st.heap_inuse, 0);
    CHECK_EQ(st.sys, st.heap_sys + st.meta_sys);
    CHECK(st.meta_sys > 0, "meta_sys %llu", (unsigned long long)st.meta_sys);
    enum { NS = 300, NL = 3 };
    void *s[NS], *l[NL];
    for (int i = 0; i < NS; i++) s[i] = ga_alloc(i % 2 ? c : c2, 100, 0, GA_NOSCAN | GA_NOTINY);
    for (int i = 0; i < NL; i++) l[i] = ga_alloc(c, 100000, 0, 0);
    void *hd = ga_alloc(c, 1000, 0, 0);    /* header: slot 1008 -> class 1024 */
    unsigned clshd = ga_size_to_class(1008);
    ga_read_stats(h, &st);
    CHECK_EQ(st.by_size[cls100].mallocs, NS);
    CHECK_EQ(st.by_size[cls100].frees, 0);
    CHECK_EQ(st.by_size[cls100].size, sz100);
    CHECK_EQ(st.by_size[clshd].mallocs, 1);
    CHECK_EQ(st.large_alloc_count, NL);
    CHECK_EQ(st.large_alloc, NL * 13 * 8192);
    CHECK_EQ(st.mallocs, NS + NL + 1);
    CHECK_EQ(st.heap_objects, NS + NL + 1);
    CHECK_EQ(st.heap_alloc, NS * sz100 + NL * 13 * 8192 + ga_class_to_size[clshd]);
    CHECK_EQ(st.total_alloc, st.heap_alloc);
    CHECK_EQ(st.pages_inuse * 8192, st.heap_inuse);
    CHECK(st.heap_inuse >= st.heap_alloc, "inuse %llu < alloc %llu", (unsigned long long)st.heap_inuse,
          (unsigned long long)st.heap_alloc);
    CHECK_EQ(st.heap_sys, st.heap_inuse + st.heap_idle);
    CHECK(st.spans_inuse >= NL + 3, "spans_inuse %llu", (unsigned long long)st.spans_inuse);
    /* frees: remote (pending bits), owner-local, large */
    int nfree = 0;
    for (int i = 0; i < NS; i += 3) {
        CHECK_EQ(i % 2 ? ga_free_local(c, s[i]) : ga_free(h, s[i]), GA_OK);
        nfree++;
    }
    CHECK_EQ(ga_free(h, l[1]), GA_OK);
    CHECK_EQ(ga_free(h, hd), GA_OK);
    ga_read_stats(h, &st);
    CHECK_EQ(st.by_size[cls100].frees, nfree);
    CHECK_EQ(st.by_size[clshd].frees, 1);
    CHECK_EQ(st.large_free_count, 1);
    CHECK_EQ(st.large_free, 13 * 8192);
    CHECK_EQ(st.frees, nfree + 2);
    CHECK_EQ(st.heap_objects, NS - nfree + NL - 1);
    CHECK_EQ(st.heap_alloc, (NS - nfree) * sz100 + (NL - 1) * 13 * 8192);
    VERIFY(h);
    /* after flushing and sweeping nothing changes in the object counts */
    ga_cache_release(c);
    ga_cache_release(c2);
    ga_sweep(h, SIZE_MAX);
    ga_stats st2;
    ga_read_stats(h, &st2);
    CHECK_EQ(st2.mallocs, st.mallocs);
    CHECK_EQ(st2.frees, st.frees);
    CHECK_EQ(st2.heap_alloc, st.heap_alloc);
    CHECK_EQ(st2.by_size[cls100].mallocs, NS);
    CHECK_EQ(st2.by_size[cls100].frees, nfree);
    VERIFY(h);
    /* tiny: 20 4-byte objects fill 5 blocks of 16 bytes */
    for (int i = 0; i < 20; i++) CHECK(ga_alloc(c, 4, 0, GA_NOSCAN) != NULL, "tiny");
    ga_read_stats(h, &st2);
    CHECK_EQ(st2.tiny_allocs, 15);
    CHECK_EQ(st2.by_size[GA_TINY_SIZE_CLASS].mallocs, 5);
    CHECK_EQ(st2.mallocs, st.mallocs + 20);
    CHECK_EQ(st2.heap_alloc, st.heap_alloc + 5 * 16);
    VERIFY(h);
    /* free everything left: counts balance, pages all idle once caches are gone */
    for (int i = 0; i < NS; i++)
        if (i % 3) CHECK_EQ(ga_free(h, s[i]), GA_OK);
    CHECK_EQ(ga_free(h, l[0]), GA_OK);
    CHECK_EQ(ga_free(h, l[2]), GA_OK);
    ga_gc_begin(h);
    ga_gc_end(h);                     /* the tiny blocks die unmarked */
    ga_cache_destroy(c);
    ga_cache_destroy(c2);
    ga_sweep(h, SIZE_MAX);
    ga_read_stats(h, &st);
    CHECK_EQ(st.heap_objects, 0);
    CHECK_EQ(st.heap_alloc, 0);
    CHECK_EQ(st.mallocs, st.frees);
    CHECK_EQ(st.heap_inuse, 0);
    CHECK_EQ(st.pages_inuse, 0);
    CHECK_EQ(st.spans_inuse, 0);
    CHECK_EQ(st.heap_idle, st.heap_sys);
    CHECK_EQ(st.num_gc, 1);
    VERIFY(h);
    /* everything free and no page cache left: a full scavenge releases every byte */
    ga_scavenge(h, SIZE_MAX);
    ga_read_stats(h, &st);
    CHECK_EQ(st.heap_released, st.heap_sys);
    VERIFY(h);
    ga_heap_destroy(h);
}

/* The scavenger: exact accounting against the OS layer, the policy's retained budget,
 * the huge-page widening bound, and zeroed memory for the next user. */
static void test_scavenge(void)
{
    ga_heap *h = new_heap_opt((ga_heap_options){ .scavenge_retain_bytes = 1 * MiB });
    ga_cache *c = ga_cache_new(h);
    enum { N = 24 };
    unsigned char *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = ga_alloc(c, 1 * MiB, 0, GA_NOSCAN);
        CHECK(p[i] != NULL, "1 MiB alloc");
        if (!p[i]) return;
        memset(p[i], 0x77, 1 * MiB);
    }
    ga_stats st0, st1;
    ga_read_stats(h, &st0);
    uint64_t unused0 = ga_testos_bytes(tos, GA_OS_UNUSED);
    /* nothing free yet beyond the grow slack, all of it scavenged: nothing to do */
    for (int i = 0; i < N; i++) CHECK_EQ(ga_free(h, p[i]), GA_OK);
    ga_read_stats(h, &st1);
    uint64_t free1 = st1.heap_idle - st1.heap_released;
    CHECK(free1 >= (uint64_t)N * MiB, "free unscavenged after frees: %llu", (unsigned long long)free1);
    /* on demand, a small amount: at least what was asked, at most one huge page more */
    size_t r = ga_scavenge(h, 3 * 8192);
    CHECK(r >= 3 * 8192 && r <= 3 * 8192 + 256 * 8192 && r % 8192 == 0, "scavenge(24 KiB) released %zu", r);
    ga_read_stats(h, &st0);
    CHECK_EQ(st0.heap_released - st1.heap_released, r);
    CHECK_EQ(ga_testos_bytes(tos, GA_OS_UNUSED) - unused0, r);
    CHECK_EQ(st0.heap_sys, st1.heap_sys);
    VERIFY(h);
    /* policy: down to the retained 1 MiB */
    size_t rp = ga_scavenge_policy(h);
    ga_read_stats(h, &st1);
    uint64_t free2 = st1.heap_idle - st1.heap_released;
    CHECK(free2 <= 1 * MiB, "policy left %llu free unscavenged bytes (retain 1 MiB)", (unsigned long long)free2);
    CHECK(rp > 0 && st1.heap_released - st0.heap_released == rp, "policy released %zu, stats %llu", rp,
          (unsigned long long)(st1.heap_released - st0.heap_released));
    CHECK_EQ(ga_testos_bytes(tos, GA_OS_UNUSED) - unused0, r + rp);
    CHECK_EQ(ga_scavenge_policy(h), 0);      /* already within budget */
    CHECK_EQ(ga_testos_page_state(tos, p[N - 1]), GA_PAGE_PREPARED);
    VERIFY(h);
    /* released memory comes back zeroed (scan objects and GA_ZERO) or at least usable */
    for (int i = 0; i < N; i++) {
        p[i] = ga_alloc(c, 1 * MiB, 0, i % 2 ? GA_ZERO | GA_NOSCAN : 0);
        CHECK(p[i] && all_bytes(p[i], 1 * MiB, 0), "reuse %d after scavenging: not zero", i);
        if (p[i]) memset(p[i], 0x99, 1 * MiB);
    }
    VERIFY(h);
    for (int i = 0; i < N; i++) CHECK_EQ(ga_free(h, p[i]), GA_OK);
    ga_cache_destroy(c);
    ga_heap_destroy(h);

    /* SIZE_MAX retain: the policy never releases; default retain is 2 MiB */
    h = new_heap_opt((ga_heap_options){ .scavenge_retain_bytes = SIZE_MAX });
    c = ga_cache_new(h);
    for (int i = 0; i < 8; i++) p[i] = ga_alloc(c, 1 * MiB, 0, GA_NOSCAN);
    for (int i = 0; i < 8; i++) { memset(p[i], 1, 1 * MiB); CHECK_EQ(ga_free(h, p[i]), GA_OK); }
    uint64_t u = ga_testos_bytes(tos, GA_OS_UNUSED);
    CHECK_EQ(ga_scavenge_policy(h), 0);
    CHECK_EQ(ga_testos_bytes(tos, GA_OS_UNUSED), u);
    ga_cache_destroy(c);
    ga_heap_destroy(h);

    h = new_heap();
    c = ga_cache_new(h);
    for (int i = 0; i < 8; i++) p[i] = ga_alloc(c, 1 * MiB, 0, GA_NOSCAN);
    for (int i = 0; i < 8; i++) { memset(p[i], 1, 1 * MiB); }
    /* pending sweeps are done first: frees through an owner make no free pages until swept */
    ga_gc_begin(h);
    ga_gc_end(h);                           /* all 8 die unmarked, swept by the policy step */
    ga_read_stats(h, &st0);
    CHECK_EQ(st0.heap_objects, 8);
    rp = ga_scavenge_policy(h);
    ga_read_stats(h, &st1);
    CHECK_EQ(st1.heap_objects, 0);
    CHECK(st1.heap_idle - st1.heap_released <= 2 * MiB && rp >= 6 * MiB,
          "default policy: released %zu, %llu left", rp, (unsigned long long)(st1.heap_idle - st1.heap_released));
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
    check_os_clean("scavenge");
}

/* The policy's second, forced pass: free pages in a dense chunk (>= 496 pages in use) are
 * skipped by the background rule, yet the budget must still be met. */
static void test_scavenge_dense(void)
{
    ga_heap *h = new_heap_opt((ga_heap_options){ .scavenge_retain_bytes = 1 });
    ga_cache *c = ga_cache_new(h);
    enum { N = 32 };            /* 32 x 16 pages: exactly the first 512-page chunk */
    unsigned char *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = ga_alloc(c, 16 * 8192, 0, GA_NOSCAN);
        CHECK(p[i] != NULL, "alloc");
        if (!p[i]) return;
        memset(p[i], 0x3c, 16 * 8192);
        CHECK(i == 0 || p[i] == p[i - 1] + 16 * 8192, "object %d not contiguous", i);
    }
    CHECK_EQ(ga_free(h, p[7]), GA_OK);
    ga_stats st0, st1;
    ga_read_stats(h, &st0);
    CHECK_EQ(st0.heap_idle - st0.heap_released, 16 * 8192);
    uint64_t u0 = ga_testos_bytes(tos, GA_OS_UNUSED);
    size_t r = ga_scavenge_policy(h);
    ga_read_stats(h, &st1);
    CHECK(r == 16 * 8192, "policy released %zu of a dense chunk's 16 free pages", r);
    CHECK_EQ(st1.heap_idle - st1.heap_released, 0);
    CHECK_EQ(ga_testos_bytes(tos, GA_OS_UNUSED) - u0, r);
    CHECK_EQ(ga_testos_page_state(tos, p[7]), GA_PAGE_PREPARED);
    CHECK_EQ(ga_testos_page_state(tos, p[8]), GA_PAGE_READY);
    CHECK(p[8][0] == 0x3c && p[6][16 * 8192 - 1] == 0x3c, "neighbours touched");
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* A cache's page cache goes back on destroy: no page stays allocated. */
static void test_pagecache_flush(void)
{
    ga_heap *h = new_heap();
    enum { NC = 3 };
    ga_cache *c[NC];
    void *p[NC][40];
    for (int k = 0; k < NC; k++) c[k] = ga_cache_new(h);
    for (int k = 0; k < NC; k++)
        for (int i = 0; i < 40; i++) {
            /* several small-span classes, each taking pages from the page cache */
            p[k][i] = ga_alloc(c[k], 20000 + (size_t)i * 300, 0, GA_NOSCAN);
            CHECK(p[k][i] != NULL, "alloc");
        }
    VERIFY(h);
    for (int k = 0; k < NC; k++)
        for (int i = 0; i < 40; i++) CHECK_EQ(ga_free(h, p[k][i]), GA_OK);
    for (int k = 0; k < NC; k++) {
        ga_cache_destroy(c[k]);
        VERIFY(h);
    }
    ga_sweep(h, SIZE_MAX);
    ga_stats st;
    ga_read_stats(h, &st);
    CHECK_EQ(st.heap_inuse, 0);
    CHECK_EQ(st.heap_idle, st.heap_sys);
    CHECK_EQ(pa_alloc_pages(h->pages), 0);
    CHECK_EQ(pa_free_pages(h->pages), pa_total_pages(h->pages));
    ga_heap_destroy(h);
}

/* Misuse in a span's tail (past the last slot) and in free pages; names of codes. */
static misuse_log tail_misuse;

static void test_tail_and_names(void)
{
    ga_heap *h = new_heap();
    ga_set_error_handler(h, misuse_log_record, &tail_misuse);
    ga_cache *c = ga_cache_new(h);
    /* 48-byte class: 8192 / 48 leaves a tail */
    char *p = ga_alloc(c, 48, 0, GA_NOSCAN | GA_NOTINY);
    ga_mspan *s = ga_span_of_heap(h, (uintptr_t)p);
    CHECK(s && s->limit < s->startAddr + s->npages * GA_PAGE_SIZE, "48-byte span has no tail");
    if (s) {
        CHECK_EQ(s->limit, s->startAddr + (uintptr_t)s->nelems * s->elemsize);
        ga_object_info info;
        CHECK_EQ(ga_lookup(h, (void *)s->limit, &info), GA_ERR_INTERIOR);
        CHECK_EQ(info.span_base, s->startAddr);
        CHECK_EQ(ga_free(h, (void *)s->limit), GA_ERR_INTERIOR);
        CHECK_EQ(ga_usable_size(h, (void *)s->limit), 0);
        /* the last real slot is fine */
        CHECK_EQ(ga_lookup(h, (void *)(s->limit - s->elemsize), &info), GA_OK);
        CHECK_EQ(info.slot_index, s->nelems - 1u);
        CHECK(!info.allocated, "last slot allocated");
    }
    CHECK_EQ(tail_misuse.n, 1);
    CHECK_EQ(ga_free(h, NULL), GA_OK);
    CHECK_EQ(ga_usable_size(h, NULL), 0);
    CHECK_EQ(tail_misuse.n, 1);
    /* gc marks only allocated objects, and only while marking */
    CHECK(!ga_gc_mark(h, p), "mark outside a cycle");
    ga_gc_begin(h);
    CHECK(ga_gc_mark(h, p + 5), "interior mark");
    if (s) CHECK(!ga_gc_mark(h, (void *)s->limit), "mark in the tail");
    if (s) CHECK(!ga_gc_mark(h, (void *)(s->limit - s->elemsize)), "mark of a free slot");
    ga_gc_begin(h);                   /* nested begin: no-op */
    CHECK(ga_gc_marking(h), "marking");
    ga_gc_end(h);
    ga_gc_end(h);                     /* no-op */
    ga_stats st;
    ga_read_stats(h, &st);
    CHECK_EQ(st.num_gc, 1);
    ga_sweep(h, SIZE_MAX);
    CHECK_EQ(ga_usable_size(h, p), 48);
    VERIFY(h);
    /* names */
    const char *names[6];
    for (int i = 0; i <= GA_ERR_STATE; i++) {
        names[i] = ga_status_name((ga_status)i);
        CHECK(names[i] && *names[i] && strcmp(names[i], "unknown"), "status %d name", i);
        for (int j = 0; j < i; j++) CHECK(strcmp(names[i], names[j]), "status %d and %d share a name", i, j);
    }
    CHECK(!strcmp(ga_status_name(GA_OK), "ok"), "GA_OK name %s", ga_status_name(GA_OK));
    CHECK(!strcmp(ga_status_name(GA_ERR_DOUBLE_FREE), "double free"), "double free name");
    CHECK(!strcmp(ga_status_name((ga_status)99), "unknown"), "unknown status");
    CHECK(!strcmp(ga_plant_name(GA_PLANT_COUNT), "unknown") && !strcmp(ga_plant_name(-1), "unknown"), "plant names");
    CHECK(!strcmp(ga_plant_name(GA_PLANT_SUMMARY_MERGE), "summary-merge"), "plant name %s", ga_plant_name(GA_PLANT_SUMMARY_MERGE));
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* Misuse on spans without ga_free's fast path (malloc-header objects, the tiny class once
 * it holds tiny blocks): the slow path names every kind of double free. */
static misuse_log slow;

static void test_slow_misuse(void)
{
    ga_heap *h = new_heap();
    ga_set_error_handler(h, misuse_log_record, &slow);
    ga_cache *c = ga_cache_new(h);
    char *hd = ga_alloc(c, 600, 0, 0);          /* scan, > 512: malloc header */
    ga_mspan *s = ga_span_of_heap(h, (uintptr_t)hd);
    CHECK(s && !s->fastFree, "header span on the fast path");
    if (!s) return;
    char *next = hd + s->elemsize;               /* the next slot's object: never allocated */
    CHECK_EQ(ga_usable_size(h, next), 0);
    CHECK_EQ(ga_free(h, next), GA_ERR_DOUBLE_FREE);
    CHECK(slow.n == 1 && slow.last == GA_ERR_DOUBLE_FREE, "unallocated slot: %u %d", slow.n, (int)slow.last);
    CHECK_EQ(ga_free_local(c, next), GA_ERR_DOUBLE_FREE);
    CHECK_EQ(ga_free(h, hd), GA_OK);
    CHECK_EQ(ga_free(h, hd), GA_ERR_DOUBLE_FREE);   /* pending */
    CHECK_EQ(ga_free_local(c, hd), GA_ERR_DOUBLE_FREE);
    CHECK_EQ(slow.n, 4);
    CHECK_EQ(ga_usable_size(h, hd), 0);
    /* tiny class: an owner-local free of a 16-byte object, then tiny blocks take the span
     * off the fast path; a second free must still be refused */
    char *x = ga_alloc(c, 16, 0, GA_NOSCAN | GA_NOTINY);
    char *y = ga_alloc(c, 16, 0, GA_NOSCAN | GA_NOTINY);
    ga_mspan *ts = ga_span_of_heap(h, (uintptr_t)x);
    CHECK(ts && ts->fastFree && ts->spanclass == GA_TINY_SPAN_CLASS, "tiny-class span");
    CHECK_EQ(ga_free_local(c, x), GA_OK);
    char *t = ga_alloc(c, 3, 0, GA_NOSCAN);     /* a tiny block in the same span */
    CHECK(ts && ga_span_of_heap(h, (uintptr_t)t) == ts && !ts->fastFree, "tiny block elsewhere");
    CHECK_EQ(ga_free(h, x), GA_ERR_DOUBLE_FREE);  /* the owner freed it already */
    CHECK_EQ(slow.n, 5);
    CHECK_EQ(ga_free(h, t), GA_ERR_TINY);
    CHECK_EQ(ga_free(h, y), GA_OK);
    CHECK_EQ(ga_free(h, y), GA_ERR_DOUBLE_FREE);
    CHECK_EQ(slow.n, 7);
    ga_stats st;
    ga_read_stats(h, &st);
    CHECK_EQ(st.frees, 3);
    VERIFY(h);
    ga_cache_destroy(c);
    ga_sweep(h, SIZE_MAX);
    ga_read_stats(h, &st);
    CHECK_EQ(st.frees, 3);
    VERIFY(h);
    ga_heap_destroy(h);
}

/* Owner LIFO free (internal.h): the owner's free of the object it allocated last from the
 * current allocCache window hands the same slot out next, with no sweep; the slot is dirty
 * (needzero), the counters still see an alloc and a free, and a second free is refused. */
static misuse_log lifo;

static void test_owner_lifo(void)
{
    ga_heap *h = new_heap();
    ga_set_error_handler(h, misuse_log_record, &lifo);
    ga_cache *c = ga_cache_new(h);
    char *a = ga_alloc(c, 48, 0, GA_NOSCAN);
    char *p = ga_alloc(c, 48, 0, GA_NOSCAN);
    ga_mspan *s = ga_span_of_heap(h, (uintptr_t)p);
    CHECK(s && s->fastFree, "48-byte noscan span on the fast path");
    if (!s) return;
    unsigned fi = atomic_load(&s->freeindex), n = s->allocCount;
    memset(p, 0x5a, 48);
    CHECK_EQ(ga_free_local(c, p), GA_OK);
    CHECK(atomic_load(&s->freeindex) == fi - 1 && s->allocCount == n - 1 && s->ownerReused == 1 && s->ownerFrees == 0,
          "LIFO free: freeindex %u (was %u), allocCount %u, ownerReused %llu", (unsigned)atomic_load(&s->freeindex), fi,
          s->allocCount, (unsigned long long)s->ownerReused);
    VERIFY(h);
    ga_stats st;
    ga_read_stats(h, &st);
    CHECK(st.mallocs == 2 && st.frees == 1 && st.heap_objects == 1, "stats %llu/%llu/%llu",
          (unsigned long long)st.mallocs, (unsigned long long)st.frees, (unsigned long long)st.heap_objects);
    CHECK_EQ(ga_free_local(c, p), GA_ERR_DOUBLE_FREE);     /* the slot is free now */
    CHECK_EQ(ga_free(h, p), GA_ERR_DOUBLE_FREE);
    CHECK_EQ(lifo.n, 2);
    char *z = ga_alloc(c, 48, 0, GA_NOSCAN | GA_ZERO);     /* the same, dirty slot: zeroed */
    CHECK(z == p, "LIFO slot not reused: %p, freed %p", (void *)z, (void *)p);
    for (int i = 0; i < 48; i++) CHECK(z[i] == 0, "byte %d of a zeroed reuse is %#x", i, z[i] & 0xff);
    CHECK_EQ(ga_free_local(c, a), GA_OK);                   /* not the last one: owner-freed bit */
    CHECK(s->ownerFrees == 1, "ownerFrees %u", s->ownerFrees);
    CHECK_EQ(ga_free_local(c, z), GA_OK);                   /* the last one again: LIFO */
    CHECK(s->ownerReused == 2, "ownerReused %llu", (unsigned long long)s->ownerReused);
    VERIFY(h);
    ga_cache_release(c);                                    /* flushes ownerReused (F4) */
    ga_read_stats(h, &st);
    CHECK(st.mallocs == 3 && st.frees == 3 && st.heap_objects == 0, "stats %llu/%llu/%llu",
          (unsigned long long)st.mallocs, (unsigned long long)st.frees, (unsigned long long)st.heap_objects);
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

int main(void)
{
    tos = ga_testos_new(NULL);
    test_reserve_fallback(HINT_ELSEWHERE);
    test_reserve_fallback(HINT_BUSY);
    test_noncontiguous_growth();
    test_hint_options();
    test_aligned();
    test_large();
    test_stats_exact();
    test_scavenge();
    test_scavenge_dense();
    test_pagecache_flush();
    test_tail_and_names();
    test_slow_misuse();
    test_owner_lifo();
    check_os_clean("end");
    ga_testos_free(tos);
    TEST_MAIN_END();
}
