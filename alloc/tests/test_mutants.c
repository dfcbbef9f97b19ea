/*
 * test_mutants.c — checks that kill mutants of `tools/mutate.py --seed 1` which the rest
 * of the smoke suite let survive (issue 17). Each test names the mutation it catches; each
 * was run against the mutated source (it fails) and the original (it passes).
 *
 *   randomized arena base   heap.c splitmix: the base for randomize_base is a fixed function
 *                           of the seed (SplitMix64), pinned here from its definition
 *   broken-heap report      verify.c: GA_V_BROKEN "internal" names no span, address or slot
 *   D10 report              verify.c: a heap arena without metadata names no slot
 *   policy and dense chunks scavenge.c: the policy's first pass leaves chunks with >= 496
 *                           pages in use alone (Go's background rule), only then forces
 *   verify takes every lock verify.c lock_all: ga_verify waits for each mcentral's lock,
 *                           class 0 included
 *   many regions            heap.c add_region: the region array grows past its first 8
 *                           entries, and destroy gives every region back
 *   span raw needs_sweep    verify.c ga_span_raw_of: a span left unswept by a GC cycle
 *                           says so until it is swept
 *   owner frees             heap.c fastFree: the owner's free of a plain small object (noscan,
 *                           or scan without a malloc header) is recorded in ownerFreedBits
 *                           without atomics or a sweep request; one with a header is not
 *   KEEP_MAPPED span        os.c keep_rw: a recycled region remembers exactly the span it
 *                           left RW; a page below it is mapped RW when asked for
 *   fallback without hints  heap.c sys_alloc: when no hint is left and the metadata for the
 *                           two new hints runs out after one, the region is still used
 *   D5 report               pagealloc.c pa_verify: a searchAddr above a free page names the
 *                           first free page
 *   refill gives a full span cache.c next_free: a span from refill whose next free index is
 *                           nelems is reported as broken, no slot past its end is returned
 *   pallocBits at the end   pagealloc.c range ops: a range ending at page 512 reads and writes
 *                           only bits[0..7] (bits[8] lies on a PROT_NONE page here)
 *   allocatedBelow bound    internal.h ga_span_slot_allocated / span.c nextFreeIndex: with
 *                           freeindex == allocatedBelow == 64, a free of slot 64 (never handed
 *                           out) is a double free, and slot 63 a valid free; a LIFO free after
 *                           the raise stops at the bound; after a sweep the bound is 0 again
 *                           (verify A5); a span found full has it at nelems; each raise of
 *                           nextFreeIndex (loop, loop exit, past-the-end exit) and A5's two
 *                           halves are pinned by exact values
 */
#include "heap_check.h"
#include "internal.h"
#include "verify.h"
#include "os.h"
#include "pagealloc.h"
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#define ARENA_BYTES ((uintptr_t)64 << 20)

/* SplitMix64 (Vigna), written from its definition, not from heap.c. */
static uint64_t ref_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The first hint of a randomized heap (galloc.h: randomize_base, seed): 20 bits of
 * splitmix(seed) make a 64 MiB aligned base, its bits 38..45 the hint prefix. The first
 * arena is reserved there, so the first object lies in that arena. Kills heap.c
 * `return z ^ (z >> 31);` -> `z << 31` (another base for the same seed). */
static void test_randomized_base(void)
{
    static const uint64_t seeds[] = { 1, 2, 0x5eed };
    for (unsigned k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
        uint64_t x = seeds[k];
        uintptr_t rb = (uintptr_t)(ref_splitmix(&x) >> 44) << 26;
        unsigned prefix = (unsigned)(rb >> 38) & 0xff;
        uintptr_t want = ((uintptr_t)(prefix & 0xff) << 38) | (rb & ~((uintptr_t)0xff << 40) & (((uintptr_t)1 << 38) - 1));
        ga_heap_options o = { .randomize_base = true, .seed = seeds[k] };
        ga_heap *h = ga_heap_new(&o);
        CHECK(h != NULL, "ga_heap_new: errno %d", errno);
        if (!h) continue;
        ga_cache *c = ga_cache_new(h);
        void *p = ga_alloc(c, 64, 0, 0);
        CHECK(p != NULL, "alloc");
#if !defined(GA_ASAN) && !defined(GA_TSAN)
        CHECK_EQ((uintptr_t)p & ~(ARENA_BYTES - 1), want);
#else
        /* ASan's shadow memory covers some of the hints (the kernel refuses them and the
         * heap falls back elsewhere); under TSan a randomized heap lets the kernel choose
         * (heap.c init_hints): only the derivation is checked in other builds */
        (void)want;
#endif
        /* and the same seed gives the same address again */
        ga_heap *h2 = ga_heap_new(&o);
        ga_cache *c2 = h2 ? ga_cache_new(h2) : NULL;
        void *p2 = c2 ? ga_alloc(c2, 64, 0, 0) : NULL;
        CHECK(p2 != NULL, "second heap alloc");
        ga_cache_destroy(c2);
        if (h2) ga_heap_destroy(h2);
        VERIFY(h);
        ga_cache_destroy(c);
        ga_heap_destroy(h);
    }
}

/* A heap that found itself inconsistent reports GA_V_BROKEN, invariant "internal", with the
 * message, and no span, address or slot (ga_report: 0, 0, -1 when none). Kills verify.c
 * `fail(r, GA_V_BROKEN, "internal", 0, 0, -1, ...)` -> addr 1. */
static void test_broken_report(void)
{
    ga_heap_options o = { 0 };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new");
    if (!h) return;
    ga_report r;
    CHECK_EQ(ga_verify(h, &r), 0);
    ga_heap_report_broken(h, "test: %s %d", "made up", 42);
    memset(&r, 0x55, sizeof r);
    CHECK_EQ(ga_verify(h, &r), GA_V_BROKEN);
    CHECK_EQ(r.code, GA_V_BROKEN);
    CHECK(strcmp(r.invariant, "internal") == 0, "invariant %s", r.invariant);
    CHECK(strcmp(r.message, "test: made up 42") == 0, "message %s", r.message);
    CHECK_EQ(r.span, 0);
    CHECK_EQ(r.addr, 0);
    CHECK_EQ(r.slot, -1);
    ga_heap_destroy(h);
}

/* D10: every heap arena has its metadata. With one arena's index entry cleared, ga_verify
 * reports D10 naming no span, address or slot. Kills verify.c D10's slot -1 -> -0. */
static void test_d10_report(void)
{
    ga_heap_options o = { 0 };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new");
    if (!h) return;
    /* an arena with no span in use (its spans would be reported first, A10) */
    ga_cache *c = ga_cache_new(h);
    void *p = ga_alloc(c, 100000, 0, 0);
    CHECK(p != NULL, "alloc");
    CHECK_EQ(ga_free(h, p), GA_OK);
    ga_cache_release(c);
    ga_sweep(h, SIZE_MAX);
    VERIFY(h);
    CHECK(h->nheapArenas >= 1, "no heap arena after an allocation");
    if (h->nheapArenas >= 1) {
        uint32_t ai = h->heapArenas[h->nheapArenas - 1];
        ga_heaparena *saved = h->arenas[ai];
        h->arenas[ai] = NULL;
        ga_report r;
        memset(&r, 0x55, sizeof r);
        int rc = ga_verify(h, &r);
        h->arenas[ai] = saved;
        CHECK(rc != 0, "ga_verify missed an arena without metadata");
        CHECK(strcmp(r.invariant, "D10") == 0, "invariant %s: %s", r.invariant, r.message);
        CHECK_EQ(r.span, 0);
        CHECK_EQ(r.addr, 0);
        CHECK_EQ(r.slot, -1);
    }
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* ga_scavenge_policy releases what exceeds the retained budget from sparse chunks first:
 * a chunk with GA_SCAV_CHUNK_HI_OCC_PAGES (496) or more pages in use is passed over by the
 * first, non-forced pass even though it is the highest. Layout (8 KiB pages, 512 a 4 MiB
 * chunk): A fills chunk 0, B (496 pages) and D (16) fill chunk 1; freeing A and D leaves
 * 512 + 16 free dirty pages; a 4 MiB budget asks for 16 pages back, which chunk 0 has.
 * Kills scavenge.c `released = scavenge_locked(h, want, false);` -> `true` (D released). */
static void test_policy_skips_dense_chunk(void)
{
    const size_t PG = GA_PAGE_SIZE, CHUNK = 512 * PG;
    ga_testos *t = ga_testos_new(NULL);
    ga_heap_options o = { .os = ga_testos_os(t), .scavenge_retain_bytes = CHUNK };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new");
    if (!h) { ga_testos_free(t); return; }
    ga_cache *c = ga_cache_new(h);
    unsigned char *a = ga_alloc(c, CHUNK, 0, GA_NOSCAN);
    unsigned char *b = ga_alloc(c, 496 * PG, 0, GA_NOSCAN);
    unsigned char *d = ga_alloc(c, 16 * PG, 0, GA_NOSCAN);
    CHECK(a && b && d, "large allocs");
    if (!a || !b || !d) return;
    CHECK(((uintptr_t)a & (CHUNK - 1)) == 0 && b == a + CHUNK && d == b + 496 * PG,
          "layout: a %p b %p d %p", (void *)a, (void *)b, (void *)d);
    memset(a, 1, CHUNK);
    memset(d, 1, 16 * PG);
    CHECK_EQ(ga_free(h, a), GA_OK);
    CHECK_EQ(ga_free(h, d), GA_OK);
    size_t rp = ga_scavenge_policy(h);
    CHECK(rp >= 16 * PG && rp <= CHUNK, "policy released %zu bytes", rp);
    for (size_t i = 0; i < 16; i++)
        CHECK(ga_testos_page_state(t, d + i * PG) == GA_PAGE_READY,
              "page %zu of the dense chunk's free run released (state %d)", i,
              (int)ga_testos_page_state(t, d + i * PG));
    CHECK_EQ(ga_testos_page_state(t, a + CHUNK - PG), GA_PAGE_PREPARED);   /* highest sparse pages went */
    VERIFY(h);
    /* forced on demand, the dense chunk goes too */
    ga_scavenge(h, SIZE_MAX);
    CHECK_EQ(ga_testos_page_state(t, d), GA_PAGE_PREPARED);
    VERIFY(h);
    CHECK_EQ(ga_free(h, b), GA_OK);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
    ga_testos_free(t);
}

typedef struct verifier {
    ga_heap *h;
    atomic_int done;
    int rc;
} verifier;

static void *verify_thread(void *arg)
{
    verifier *v = arg;
    ga_report r;
    v->rc = ga_verify(v->h, &r);
    atomic_store(&v->done, 1);
    return NULL;
}

/* ga_verify requires quiescence and takes the lock of every span class that ever had a
 * span (verify.c lock_seen) to get it: while another thread holds one of those mcentral
 * spinlocks, it must wait. The classes: the first and last span classes and two more,
 * each given a span first. Kills a lock loop that skips an end (class 0's lock ignored,
 * and then released under its holder's feet). Under the original the verifier cannot
 * finish while the lock is held, so this cannot fail spuriously; a mutant is seen unless
 * the verifier is slower than 50 ms. A class that never had a span is not waited for. */
static void test_verify_takes_every_lock(void)
{
    ga_heap_options o = { 0 };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new");
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    /* span classes 0 and 1 (large, scan and noscan), 2 (8 B scan), 135 (32760 B noscan: the last small size, GA_SMALL_CUTOFF) */
    CHECK(ga_alloc(c, 100000, 0, 0) && ga_alloc(c, 100000, 0, GA_NOSCAN) && ga_alloc(c, 8, 0, 0) &&
          ga_alloc(c, 32760, 0, GA_NOSCAN), "allocs");
    static const unsigned classes[] = { 0, 1, 2, GA_NUM_SPAN_CLASSES - 1 };
    {   /* an unseen class: its lock is no part of the checker's set */
        const unsigned unseen = 100;
        CHECK(!ga_class_seen(h, unseen), "span class %u never had a span", unseen);
        verifier v = { .h = h };
        ga_spin_lock(&h->central[unseen].lock);
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, verify_thread, &v), 0);
        pthread_join(t, NULL);
        CHECK(atomic_load(&h->central[unseen].lock.v) != 0, "ga_verify released span class %u's lock, which it never took", unseen);
        ga_spin_unlock(&h->central[unseen].lock);
        CHECK(atomic_load(&v.done) && v.rc == 0, "verify beside an unseen class's held lock: rc %d", v.rc);
    }
    for (unsigned k = 0; k < sizeof classes / sizeof classes[0]; k++) {
        CHECK(ga_class_seen(h, classes[k]), "span class %u had a span", classes[k]);
        verifier v = { .h = h };
        ga_spin_lock(&h->central[classes[k]].lock);
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, verify_thread, &v), 0);
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        CHECK(!atomic_load(&v.done), "ga_verify finished while span class %u's mcentral lock was held",
              classes[k]);
        ga_spin_unlock(&h->central[classes[k]].lock);
        pthread_join(t, NULL);
        CHECK(atomic_load(&v.done) && v.rc == 0, "verify after the lock was released: rc %d", v.rc);
    }
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* ga_verify's retry (verify.c lock_seen): a class that becomes seen after the verifier read
 * the bitmap, before it got the heap lock, must be locked too. Here the test holds the
 * heap lock while the verifier waits for it, marks an unseen span class seen as a span
 * allocation would, and holds that class's lock: the verifier must wait for it,
 * finish once it is free, and leave every lock free. Run with a late class in the first
 * bitmap word and in the last; classes seen before span all three words (0, 2, one near
 * 100, 129, 135). Kills a retry that compares only some words, never retries, or unlocks the
 * wrong set (a lock it still holds deadlocks the retry). */
static void verify_lock_retry(bool last_word)
{
    ga_heap_options o = { 0 };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new");
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    CHECK(ga_alloc(c, 100000, 0, 0) && ga_alloc(c, 8, 0, 0) && ga_alloc(c, 16, 0, 0) && ga_alloc(c, 3072, 0, GA_NOSCAN) &&
          ga_alloc(c, ga_class_to_size[64], 0, GA_NOSCAN) && ga_alloc(c, 32760, 0, GA_NOSCAN), "allocs");
    CHECK(ga_class_seen(h, 129), "span class 129 (class 64 noscan: a word boundary of i / 64 vs i / 65) seen");
    unsigned late = 0, in_word1 = 0;
    for (unsigned i = 64; i < 128; i++) in_word1 += ga_class_seen(h, i);
    CHECK(ga_class_seen(h, 0) && ga_class_seen(h, GA_NUM_SPAN_CLASSES - 1) && in_word1 > 0, "seen classes in every word");
    for (unsigned i = last_word ? 128 : 0; i < (last_word ? GA_NUM_SPAN_CLASSES : 64u) && !late; i++)
        if (!ga_class_seen(h, i)) late = i;
    CHECK(late != 0, "an unseen span class in bitmap word %d", last_word ? 2 : 0);
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    verifier v = { .h = h };
    pthread_mutex_lock(&h->lock);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, verify_thread, &v), 0);
    nanosleep(&ts, NULL);   /* the verifier has read the bitmap and waits for the heap lock */
    CHECK(!atomic_load(&v.done), "ga_verify finished while the heap lock was held");
    ga_spin_lock(&h->central[late].lock);
    atomic_fetch_or(&h->classesSeen[late / 64], 1ull << (late % 64));
    pthread_mutex_unlock(&h->lock);
    nanosleep(&ts, NULL);
    CHECK(!atomic_load(&v.done), "ga_verify finished while span class %u, seen while it waited, was locked", late);
    ga_spin_unlock(&h->central[late].lock);
    pthread_join(t, NULL);
    CHECK(atomic_load(&v.done) && v.rc == 0, "verify after the late class's lock was released: rc %d", v.rc);
    unsigned held = 0;
    for (unsigned i = 0; i < GA_NUM_SPAN_CLASSES; i++) held += atomic_load(&h->central[i].lock.v) != 0;
    CHECK(held == 0, "%u mcentral locks still held after ga_verify", held);
    CHECK(pthread_mutex_trylock(&h->lock) == 0, "the heap lock is free after ga_verify");
    pthread_mutex_unlock(&h->lock);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}
static void test_verify_lock_retry(void)
{
    verify_lock_retry(false);
    verify_lock_retry(true);
}

/* A heap reserving more than 8 regions (add_region's first array) keeps all of them:
 * large objects of 80 MiB each need a reservation apiece (arenas are 64 MiB); at destroy
 * every byte goes back to the (test) OS. Kills heap.c add_region `2 * h->capregions` ->
 * `2 / h->capregions` (the array shrinks to nothing and overflows). */
static void test_many_regions(void)
{
    ga_testos *t = ga_testos_new(NULL);
    ga_heap_options o = { .os = ga_testos_os(t) };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new");
    if (!h) { ga_testos_free(t); return; }
    ga_cache *c = ga_cache_new(h);
    enum { N = 20 };
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = ga_alloc(c, (size_t)80 << 20, 0, GA_NOSCAN);
        CHECK(p[i] != NULL, "80 MiB object %d", i);
        if (p[i]) ((char *)p[i])[i * 4096] = 1;
    }
    CHECK(h->nregions > 8, "%zu regions", (size_t)h->nregions);
    uint64_t reserved = ga_testos_bytes_in_state(t, GA_PAGE_RESERVED) + ga_testos_bytes_in_state(t, GA_PAGE_PREPARED) +
                        ga_testos_bytes_in_state(t, GA_PAGE_READY);
    uint64_t in_regions = 0;
    for (size_t i = 0; i < h->nregions; i++) in_regions += h->regions[i].size;
    CHECK_EQ(in_regions, reserved);
    VERIFY(h);
    for (int i = 0; i < N; i += 2) if (p[i]) CHECK_EQ(ga_free(h, p[i]), GA_OK);
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
    CHECK_EQ(ga_testos_bytes_in_state(t, GA_PAGE_RESERVED) + ga_testos_bytes_in_state(t, GA_PAGE_PREPARED) +
             ga_testos_bytes_in_state(t, GA_PAGE_READY), 0);
    char why[256] = "";
    CHECK(ga_testos_violations(t, why, sizeof why) == 0, "OS state violation: %s", why);
    ga_testos_free(t);
}

/* ga_span_raw_of's needs_sweep: true for a span a GC cycle left unswept (sweepgen h-2), false
 * once swept. Kills verify.c `out->needs_sweep = ...;` deleted (always false). */
static void test_span_raw_needs_sweep(void)
{
    ga_heap_options o = { 0 };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new");
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    void *p[64];
    for (int i = 0; i < 64; i++) p[i] = ga_alloc(c, 256, 0, GA_NOSCAN);
    CHECK(p[0] && p[63], "allocs");
    ga_cache_release(c);
    ga_span_raw raw;
    CHECK_EQ(ga_span_raw_of(h, p[0], &raw), 0);
    CHECK(!raw.needs_sweep, "a span swept in this cycle says it needs a sweep");
    ga_gc_begin(h);
    for (int i = 0; i < 64; i += 2) ga_gc_mark(h, p[i]);
    ga_gc_end(h);
    CHECK_EQ(ga_span_raw_of(h, p[0], &raw), 0);
    CHECK(raw.needs_sweep, "a span left unswept by the cycle does not say so");
    ga_sweep(h, SIZE_MAX);
    CHECK_EQ(ga_span_raw_of(h, p[0], &raw), 0);
    CHECK(!raw.needs_sweep, "a swept span still says it needs a sweep");
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* ga_free_local by the cache holding the span: for objects of the fast path (noscan of any
 * small size, scan up to GA_MIN_SIZE_FOR_HEADER = 512 bytes, no malloc header) the free is
 * recorded in ownerFreedBits, with no freedBits bit and no sweep request (README: "without
 * atomics when the calling thread's cache holds the span"); a scan object above 512 bytes
 * (malloc header) goes the general way. Kills heap.c init_span `s->fastFree = c != 0 &&
 * (ga_spanclass_noscan(spc) || s->elemsize <= GA_MIN_SIZE_FOR_HEADER)` with `||` -> `&&`. */
static void test_owner_frees(void)
{
    static const struct { size_t size; unsigned flags; bool owner; } cases[] = {
        { 48, 0, true }, { 512, 0, true }, { 48, GA_NOSCAN, true }, { 1024, GA_NOSCAN, true },
        { 1024, 0, false },
    };
    for (unsigned k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ga_heap_options o = { 0 };
        ga_heap *h = ga_heap_new(&o);
        CHECK(h != NULL, "ga_heap_new");
        if (!h) return;
        ga_cache *c = ga_cache_new(h);
        void *p = ga_alloc(c, cases[k].size, 0, cases[k].flags);
        void *q = ga_alloc(c, cases[k].size, 0, cases[k].flags);
        CHECK(p && q, "alloc %zu", cases[k].size);
        CHECK_EQ(ga_free_local(c, p), GA_OK);
        ga_span_raw raw;
        CHECK_EQ(ga_span_raw_of(h, p, &raw), 0);
        unsigned i = (unsigned)(((uintptr_t)p - raw.base) / raw.elemsize);
        bool owner = raw.owner_freed_bits[i / 64] >> (i % 64) & 1;
        bool shared = raw.freed_bits[i / 64] >> (i % 64) & 1;
        CHECK(raw.cached, "size %zu: the span is not cached", cases[k].size);
        CHECK(owner == cases[k].owner && shared == !cases[k].owner && raw.sweep_requested == !cases[k].owner,
              "size %zu flags %u: owner-freed %d, freed %d, sweep requested %d (want the %s path)",
              cases[k].size, cases[k].flags, owner, shared, raw.sweep_requested,
              cases[k].owner ? "owner's" : "general");
        VERIFY(h);
        ga_cache_destroy(c);
        ga_heap_destroy(h);
    }
}

static void count_misuse(void *ctx, ga_status st, const void *p, const char *what)
{
    (void)p; (void)what;
    if (st == GA_ERR_DOUBLE_FREE) ++*(int *)ctx;
}

/* Kills `i < allocatedBelow` -> `i <= allocatedBelow` (slot 64 would pass as allocated and
 * its bogus free be published), a bound raised past freeindex, and a sweep that leaves the
 * old bound (verify A5 after the sweep). */
static void test_allocated_below(void)
{
    ga_heap_options o = { 0 };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new");
    if (!h) return;
    int doubles = 0;
    ga_set_error_handler(h, count_misuse, &doubles);
    ga_cache *c = ga_cache_new(h);
    char *p[64];
    for (int i = 0; i < 64; i++) p[i] = ga_alloc(c, 48, 0, GA_NOSCAN);
    ga_span_raw raw;
    CHECK_EQ(ga_span_raw_of(h, p[0], &raw), 0);
    CHECK(raw.freeindex == 64 && p[63] == p[0] + 63 * 48, "64 allocations from a fresh span: freeindex %u", raw.freeindex);
    VERIFY(h);
    /* slot 64 was never handed out: its free from another cache is a double free */
    CHECK_EQ(ga_free(h, p[0] + 64 * 48), GA_ERR_DOUBLE_FREE);
    CHECK_EQ(doubles, 1);
    CHECK_EQ(ga_span_raw_of(h, p[0], &raw), 0);
    CHECK(!(raw.freed_bits[1] & 1), "the bogus free of slot 64 was published");
    CHECK_EQ(raw.allocated_below, 64u);
    /* the owner's LIFO free right after the raise steps freeindex back to the bound, no
     * further; a free from elsewhere of the slot in [bound, freeindex) is valid */
    char *q = ga_alloc(c, 48, 0, GA_NOSCAN);
    CHECK(q == p[0] + 64 * 48, "slot 64 next: %p", (void *)q);
    CHECK_EQ(ga_free_local(c, q), GA_OK);
    CHECK_EQ(ga_span_raw_of(h, p[0], &raw), 0);
    CHECK(raw.freeindex == 64 && raw.allocated_below == 64, "after the LIFO free: freeindex %u bound %u",
          raw.freeindex, raw.allocated_below);
    VERIFY(h);
    q = ga_alloc(c, 48, 0, GA_NOSCAN);
    CHECK_EQ(ga_free(h, q), GA_OK);
    /* slots 0 and 63 are allocated (below the bound): their frees are valid */
    CHECK_EQ(ga_free(h, p[63]), GA_OK);
    CHECK_EQ(ga_free(h, p[0]), GA_OK);
    CHECK_EQ(doubles, 1);
    VERIFY(h);
    ga_cache_destroy(c);      /* gives the span back: its frees are swept, the bound reset */
    VERIFY(h);
    CHECK_EQ(ga_free(h, p[0]), GA_ERR_DOUBLE_FREE);
    CHECK_EQ(doubles, 2);
    /* a span found full has the bound at nelems: every slot of it validates without freeindex */
    c = ga_cache_new(h);
    char *first = ga_alloc(c, 48, 0, GA_NOSCAN), *last = first;
    CHECK_EQ(ga_span_raw_of(h, first, &raw), 0);
    unsigned nelems = raw.nelems;
    for (unsigned i = 1; i <= nelems; i++) last = ga_alloc(c, 48, 0, GA_NOSCAN);   /* the last one refills */
    CHECK_EQ(ga_span_raw_of(h, first, &raw), 0);
    CHECK(raw.freeindex == nelems && raw.allocated_below == nelems, "full span: freeindex %u bound %u, nelems %u",
          raw.freeindex, raw.allocated_below, nelems);
    CHECK(last != NULL && ((uintptr_t)last - (uintptr_t)first) / 8192 != 0, "the allocation after a full span comes from another span");
    VERIFY(h);
    CHECK_EQ(ga_free(h, first + (nelems - 1) * 48), GA_OK);
    VERIFY(h);
    ga_cache_destroy(c);
    VERIFY(h);
    CHECK_EQ(doubles, 2);
    ga_heap_destroy(h);
}

/* Which bound nextFreeIndex leaves on each of its paths (a lower bound is still correct,
 * only slower, so only exact values catch a lost raise): a window found fully allocated
 * raises it to that window's end (the loop), a span whose remaining windows are all
 * allocated gets nelems from the loop's exit (nelems a multiple of 64) or from the
 * result-past-the-end exit (the tail window shorter than 64). And verify's A5 rejects a
 * bound that is a multiple of 64 above freeindex, and one that is neither a multiple of
 * 64 nor nelems. */
static void test_allocated_below_paths(void)
{
    /* 64 B without Green Tea's trailer: 128 slots; 48 B with it: 168 */
    static const struct { size_t size; bool no_green_tea, nelems_pow64; } cases[] = { { 64, true, true }, { 48, false, false } };
    for (unsigned k = 0; k < 2; k++) {
        ga_heap_options o = { 0 };
        o.no_green_tea = cases[k].no_green_tea;
        ga_heap *h = ga_heap_new(&o);
        CHECK(h != NULL, "ga_heap_new");
        if (!h) return;
        ga_cache *c = ga_cache_new(h);
        size_t sz = cases[k].size;
        char *p0 = ga_alloc(c, sz, 0, GA_NOSCAN);
        ga_span_raw raw;
        CHECK_EQ(ga_span_raw_of(h, p0, &raw), 0);
        unsigned n = raw.nelems;
        CHECK((n % 64 == 0) == cases[k].nelems_pow64, "size %zu: nelems %u", sz, n);
        for (unsigned i = 1; i < n; i++) ga_alloc(c, sz, 0, GA_NOSCAN);
        /* free slots 70 and 100 (both in window 1), then sweep by giving the span back */
        CHECK_EQ(ga_free(h, p0 + 70 * sz), GA_OK);
        CHECK_EQ(ga_free(h, p0 + 100 * sz), GA_OK);
        ga_cache_destroy(c);
        c = ga_cache_new(h);
        /* window 0 is all allocated: the first allocation walks the loop to window 1 */
        char *a = ga_alloc(c, sz, 0, GA_NOSCAN);
        CHECK(a == p0 + 70 * sz, "size %zu: first free slot %p, want slot 70 %p", sz, (void *)a, (void *)(p0 + 70 * sz));
        CHECK_EQ(ga_span_raw_of(h, p0, &raw), 0);
        CHECK(raw.allocated_below == 64, "size %zu: after the loop into window 1 the bound is %u, want 64", sz,
              raw.allocated_below);
        char *b = ga_alloc(c, sz, 0, GA_NOSCAN);    /* slot 100, from allocCache */
        CHECK(b == p0 + 100 * sz, "size %zu: second free slot %p, want slot 100", sz, (void *)b);
        VERIFY(h);
        /* nothing left after 100: the search leaves the loop at the span's end (128 slots)
         * or finds its tail window full (168), and the span is given back at once */
        ga_alloc(c, sz, 0, GA_NOSCAN);
        CHECK_EQ(ga_span_raw_of(h, p0, &raw), 0);
        CHECK(raw.freeindex == n && raw.allocated_below == n, "size %zu: full span: freeindex %u bound %u, nelems %u",
              sz, raw.freeindex, raw.allocated_below, n);
        VERIFY(h);
        /* A5 on a corrupted bound (the cache holds another span now; p0's is quiescent) */
        ga_mspan *s = ga_span_of(h, (uintptr_t)p0);
        ga_report r;
        atomic_store(&s->freeindex, 64);
        atomic_store(&s->allocatedBelow, 128);      /* a multiple of 64, above freeindex */
        CHECK(ga_verify(h, &r) != 0 && strcmp(r.invariant, "A5") == 0, "size %zu: bound 128 > freeindex 64 passed verify (%s)",
              sz, r.invariant);
        atomic_store(&s->freeindex, n);
        atomic_store(&s->allocatedBelow, 65);       /* <= freeindex, neither a multiple of 64 nor nelems */
        CHECK(ga_verify(h, &r) != 0 && strcmp(r.invariant, "A5") == 0, "size %zu: bound 65 passed verify (%s)", sz, r.invariant);
        atomic_store(&s->allocatedBelow, n);
        VERIFY(h);
        ga_cache_destroy(c);
        ga_heap_destroy(h);
    }
}

static sigjmp_buf fault_jmp;
static void on_segv(int sig) { (void)sig; siglongjmp(fault_jmp, 1); }
static bool faults_on_write(volatile char *p)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv;
    sigaction(SIGSEGV, &sa, &old);
    bool faulted = sigsetjmp(fault_jmp, 1) != 0;
    if (!faulted) *p = 1;
    sigaction(SIGSEGV, &old, NULL);
    return faulted;
}

/* ga_reuseos KEEP_MAPPED: a region whose first lifetime mapped only its upper half keeps
 * that half RW; the next lifetime's map of the lower half must really make it RW (it was
 * never mapped). Kills os.c keep_rw `*lo = old ? b->rw_lo : b->lo;` deleted (the kept span
 * then starts at address 0 and the map of the lower half is skipped). */
static void test_keep_mapped_span(void)
{
    ga_reuseos *ro = ga_reuseos_new(NULL, GA_REUSE_KEEP_MAPPED);
    CHECK(ro != NULL, "ga_reuseos_new");
    if (!ro) return;
    const ga_os *os = ga_reuseos_os(ro);
    size_t n = (size_t)8 << 20;
    #ifdef GA_TSAN   /* TSan maps application memory only in its ranges: the low one, below the default hints */
    char *hint = (char *)(uintptr_t)0x003c00000000ull;
#else
    char *hint = (char *)(uintptr_t)0x7c0000000000ull;
#endif
    char *p = os->reserve(os->ctx, hint, n);
    CHECK(p == hint, "reserve at hint: %p", (void *)p);
    if (p != hint) { ga_reuseos_free(ro); return; }
    CHECK_EQ(os->map(os->ctx, p + n / 2, n / 2), 0);
    CHECK_EQ(os->used(os->ctx, p + n / 2, 8192), 0);
    p[n / 2] = 1;
    CHECK_EQ(os->release(os->ctx, p, n), 0);
    char *q = os->reserve(os->ctx, hint, n);
    CHECK(q == p, "the released region came back at the hint: %p", (void *)q);
    if (q == p) {
        CHECK_EQ(os->map(os->ctx, q, n / 2), 0);
        CHECK_EQ(os->used(os->ctx, q, 8192), 0);
        CHECK(!faults_on_write(q), "a page mapped in the second lifetime is not writable");
        CHECK(!faults_on_write(q + n / 2), "the kept upper half is not writable");
        CHECK_EQ(os->release(os->ctx, q, n), 0);
    }
    ga_reuseos_free(ro);
}

/* sys_alloc's fallback (no hint left: any aligned region) records two new hints around the
 * region; if metadata for only one of them can be had, it records none and still uses the
 * region. After a first arena, the hint list is emptied, the hint fixalloc left with room for one object and the
 * persistent chunk used up, then each metadata allocation fails in turn. Kills heap.c
 * `if (down && up) {` -> `||` (a write through the NULL hint). */
static void test_fallback_hint_metadata(void)
{
    for (unsigned skip = 0; skip < 6; skip++) {
        ga_testos *t = ga_testos_new(NULL);
        ga_heap_options o = { .os = ga_testos_os(t) };
        ga_heap *h = ga_heap_new(&o);
        CHECK(h != NULL, "ga_heap_new");
        if (!h) { ga_testos_free(t); return; }
        ga_cache *c = ga_cache_new(h);
        void *first = ga_alloc(c, (size_t)1 << 20, 0, GA_NOSCAN);   /* an arena, the region array */
        CHECK(first != NULL, "first alloc");
        h->arenaHints = NULL;                       /* every hint used up */
        h->hintalloc.list = NULL;
        h->hintalloc.nchunk = h->hintalloc.size;    /* room for one hint */
        h->persistentLeft = 0;                      /* the next chunk needs alloc_meta */
        ga_testos_fail(t, GA_OS_ALLOC_META, skip, 1);
        void *p = ga_alloc(c, (size_t)100 << 20, 0, GA_NOSCAN);   /* beyond the first arena */
        ga_testos_fail(t, GA_OS_ALLOC_META, 0, 0);
        if (p) {
            memset(p, 1, 4096);
            CHECK_EQ(ga_free(h, p), GA_OK);
        }
        void *q = ga_alloc(c, (size_t)100 << 20, 0, GA_NOSCAN);
        CHECK(q != NULL, "skip %u: allocation after the metadata failure", skip);
        VERIFY(h);
        ga_cache_destroy(c);
        ga_heap_destroy(h);
        char why[256] = "";
        CHECK(ga_testos_violations(t, why, sizeof why) == 0, "skip %u: OS state violation: %s", skip, why);
        ga_testos_free(t);
    }
}

/* D5: every page below the page allocator's searchAddr is allocated. With searchAddr moved
 * above the first free page, the report names that page: a 16-page large object fills pages
 * 0..15 of the first chunk (16 pages bypass the page cache), so page 16 is named. Kills
 * pagealloc.c `while (c->alloc[p / 64] >> (p % 64) & 1)` -> `c->alloc[p * 64]`. */
/* Dcount: the page allocator's running counters against its bitmaps. A skewed count of
 * allocated pages is reported with no address (a heap-wide count has none). Kills
 * pagealloc_verify.c `pa__report(r, "Dcount", 0, ...)` -> `1`. */
static void test_dcount_report(void)
{
    ga_heap_options o = { 0 };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new");
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    void *a = ga_alloc(c, 100000, 0, GA_NOSCAN);
    CHECK(a != NULL, "alloc");
    VERIFY(h);
    pa_test_skew_alloc_pages(h->pages, 1);
    ga_report r;
    memset(&r, 0x55, sizeof r);
    int rc = ga_verify(h, &r);
    pa_test_skew_alloc_pages(h->pages, -1);
    CHECK(rc != 0 && strcmp(r.invariant, "Dcount") == 0, "want Dcount, got %d %s: %s", rc, r.invariant, r.message);
    CHECK_EQ(r.addr, 0);
    CHECK_EQ(r.span, 0);
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

static void test_d5_report(void)
{
    const size_t PG = GA_PAGE_SIZE;
    ga_heap_options o = { 0 };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new");
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    char *a = ga_alloc(c, 16 * PG, 0, GA_NOSCAN);
    CHECK(a != NULL && ((uintptr_t)a & ((512 * PG) - 1)) == 0, "16-page object at a chunk start: %p", (void *)a);
    if (a) {
        VERIFY(h);
        pa_test_set_search_addr(h->pages, (uintptr_t)a + 20 * PG);
        ga_report r;
        int rc = ga_verify(h, &r);
        CHECK(rc != 0 && strcmp(r.invariant, "D5") == 0, "want D5, got %d %s: %s", rc, r.invariant, r.message);
        CHECK_EQ(r.addr, (uintptr_t)a + 16 * PG);
        pa_test_set_search_addr(h->pages, (uintptr_t)a + 16 * PG);
        VERIFY(h);
    }
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* next_free (cache.c): after refill, a span whose next free slot index is nelems (its
 * books claim a free slot, its bitmap has none) must be reported through
 * ga_heap_report_broken and the allocation fail, rather than hand out slot nelems, which
 * lies past the span's last object. White-box: a full span of 8 objects, swept by a GC
 * cycle (freeindex 0, allocBits all set), is put on its class's partial swept list with
 * allocCount one short, so cacheSpan (which checks allocCount and freeindex only) takes
 * it and ga_span_next_free_index finds no free bit: it returns nelems. Kills cache.c
 * next_free `if (idx >= s->nelems) {` -> `if (idx > s->nelems) {`. */
static void test_refill_full_span(void)
{
    ga_heap_options o = { 0 };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new");
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    enum { SZ = 1024 };
    void *p[64];
    unsigned n = 0;
    p[n++] = ga_alloc(c, SZ, 0, GA_NOSCAN);
    CHECK(p[0] != NULL, "alloc");
    if (!p[0]) { ga_cache_destroy(c); ga_heap_destroy(h); return; }
    ga_mspan *s = ga_span_of_heap(h, (uintptr_t)p[0]);
    CHECK(s && s->nelems >= 2 && s->nelems < 64, "span of %d B objects: nelems %u", SZ, s ? s->nelems : 0);
    if (!s || s->nelems < 2 || s->nelems >= 64) { ga_cache_destroy(c); ga_heap_destroy(h); return; }
    while (n < s->nelems) p[n++] = ga_alloc(c, SZ, 0, GA_NOSCAN);
    for (unsigned i = 0; i < n; i++)
        CHECK(p[i] && ga_span_of_heap(h, (uintptr_t)p[i]) == s, "object %u not in the first span", i);
    ga_cache_release(c);
    ga_gc_begin(h);
    for (unsigned i = 0; i < n; i++) ga_gc_mark(h, p[i]);
    ga_gc_end(h);
    ga_sweep(h, SIZE_MAX);
    VERIFY(h);
    uint32_t sg = atomic_load(&h->sweepgen);
    ga_mcentral *mc = &h->central[s->spanclass];
    CHECK(s->list == ga_full_swept(mc, sg) && s->allocCount == s->nelems && atomic_load(&s->freeindex) == 0,
          "setup: span on list %p (full swept %p), allocCount %u, freeindex %u", (void *)s->list,
          (void *)ga_full_swept(mc, sg), s->allocCount, (unsigned)atomic_load(&s->freeindex));
    CHECK(ga_partial_swept(mc, sg)->n == 0 && ga_partial_unswept(mc, sg)->n == 0 &&
          ga_full_unswept(mc, sg)->n == 0, "setup: other spans in the class");
    /* the corruption */
    ga_list_remove(s);
    ga_list_insert(ga_partial_swept(mc, sg), s);
    s->allocCount--;
    errno = 0;
    void *q = ga_alloc(c, SZ, 0, GA_NOSCAN);
    uintptr_t end = s->startAddr + (uintptr_t)s->nelems * s->elemsize;
    CHECK(q == NULL, "allocation from a span with no free slot returned %p (span %#lx, objects end at %#lx)", q,
          (unsigned long)s->startAddr, (unsigned long)end);
    CHECK(atomic_load(&h->brokenCode) != 0 && strstr(h->broken, "nextFree") != NULL,
          "no nextFree report; broken %d: %s", atomic_load(&h->brokenCode), h->broken);
    ga_report r;
    CHECK_EQ(ga_verify(h, &r), GA_V_BROKEN);
    CHECK(strstr(r.message, "nextFree") != NULL, "ga_verify: %s", r.message);
    /* undo the corruption so the heap can be torn down as usual */
    if (!q) s->allocCount++;
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* The pallocBits range helpers (pagealloc.c) take exactly 8 words. A range ending at a
 * multiple of 64 must not touch the word after it: for e = i + n = 512 that is bits[8],
 * past the array. With the words placed at the very end of a page followed by a PROT_NONE
 * page, such an access faults even in a release build (the masked word would add nothing,
 * so no value can show it). Kills pagealloc.c ga_pallocbits_popcnt_range
 * `w <= (e - 1) / 64` -> `w <= e / 64` (and the same in set_range / clear_range). */
static volatile unsigned pb_result;
static int pb_op(uint64_t *bits, int op, unsigned i, unsigned n)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv;
    sigaction(SIGSEGV, &sa, &old);
    int faulted = sigsetjmp(fault_jmp, 1) != 0;
    if (!faulted) {
        if (op == 0) pb_result = ga_pallocbits_popcnt_range(bits, i, n);
        else if (op == 1) ga_pallocbits_set_range(bits, i, n);
        else ga_pallocbits_clear_range(bits, i, n);
    }
    sigaction(SIGSEGV, &old, NULL);
    return faulted;
}

static void test_pallocbits_range_end(void)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED, "mmap");
    if (m == MAP_FAILED) return;
    CHECK_EQ(mprotect(m + pg, pg, PROT_NONE), 0);
    uint64_t *bits = (uint64_t *)(m + pg - 8 * sizeof(uint64_t));
    static const unsigned rng_[][2] = { {0, 512}, {448, 64}, {511, 1}, {300, 212}, {64, 448} };
    for (size_t k = 0; k < sizeof rng_ / sizeof *rng_; k++) {
        unsigned i = rng_[k][0], n = rng_[k][1];
        memset(bits, 0, 8 * sizeof *bits);
        CHECK(!pb_op(bits, 1, i, n), "set_range(%u, %u) read or wrote past bits[7]", i, n);
        CHECK(!pb_op(bits, 0, i, n), "popcnt_range(%u, %u) read past bits[7]", i, n);
        CHECK(pb_result == n, "popcnt_range(%u, %u) after set_range = %u", i, n, pb_result);
        CHECK(!pb_op(bits, 0, 0, 512), "popcnt_range(0, 512) read past bits[7]");
        CHECK(pb_result == n, "popcnt_range(0, 512) after set_range(%u, %u) = %u", i, n, pb_result);
        CHECK(!pb_op(bits, 2, i, n), "clear_range(%u, %u) read or wrote past bits[7]", i, n);
        CHECK(!pb_op(bits, 0, 0, 512), "popcnt_range(0, 512) read past bits[7]");
        CHECK(pb_result == 0, "popcnt_range(0, 512) after clear_range(%u, %u) = %u", i, n, pb_result);
    }
    munmap(m, 2 * pg);
}

int main(void)
{
    test_allocated_below();
    test_allocated_below_paths();
    test_pallocbits_range_end();
    test_refill_full_span();
    test_d5_report();
    test_fallback_hint_metadata();
    test_keep_mapped_span();
    test_owner_frees();
    test_span_raw_needs_sweep();
    test_many_regions();
    test_verify_takes_every_lock();
    test_verify_lock_retry();
    test_policy_skips_dense_chunk();
    test_randomized_base();
    test_broken_report();
    test_d10_report();
    test_dcount_report();
    TEST_MAIN_END();
}
