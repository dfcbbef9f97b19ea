/*
 * fuzz_span.c — fuzz target: one mspan's slot bookkeeping (alloc/span.c) against a plain
 * bitmap model.
 *
 * The span is built by hand (as alloc/tests/test_span.c does): nelems 1..1024, slot memory
 * in a private buffer, each bitmap (allocBits, gcmarkBits, freedBits) its own malloc of
 * exactly nwords words so ASan sees any access past the last word. A fresh span per input.
 *
 * Input: header  u16 nelems-1 (mod 1024), u8 flags (bits 0-1 elemsize 8<<k, bit 2 poison_free)
 *        then ops, one byte each (b % 16) plus operands; bytes past the end read as 0.
 *   0-2 alloc        nextFreeFast, falling back to nextFreeIndex (what mcache does)
 *   3   alloc-slow   nextFreeIndex only
 *   4   burst u8     1..256 allocs          5  drain       alloc until full
 *   6   free u16     explicit free from another thread (freedBits) of the k-th allocated slot
 *   7   free-owner u16   free by the owning cache (ownerFreedBits, ownerFrees), as ga_free_local
 *   8   free-mask u8 u8   free every allocated slot with hash(i, seed) % m == 0 (owner or not
 *                    by hash); m == 8: additionally free one slot BOTH ways (a cross-thread
 *                    double free the sweep must report as GA_ERR_DOUBLE_FREE)
 *   9   free-all
 *   10-11 sweep      ga_span_sweep_bits(use_marks = false)
 *   12  gc u8 u8     mark allocated slots with hash(i, seed) % 100 < keep, sweep with marks
 *   13  zombie u8 u8 the same plus a mark on a free slot: the sweep must report it (A14)
 *   14  refill u8    bit 0: re-derive allocCache at freeindex with refillAllocCache; else
 *                    probe refillAllocCache on word (u8 % 17) and restore
 *   15  load ...     replace the bitmap: u8 mode (0 raw 8 bytes/word, 1 one byte/word
 *                    repeated, 2 seeded random), words, u16 freeindex (mod nelems+1)
 * Model: allocated(i) = i < freeindex || allocBits[i]; pending frees (remote and owner);
 * needzero. Checked after every step: allocBits, freedBits, ownerFreedBits and ownerFrees,
 * gcmarkBits (cleared by sweeps), freeindex, allocCount, ga_span_count_allocated, allocCache == complement of the
 * allocBits window at freeindex (A7), needzero, no internal-inconsistency report, the slot
 * each allocation returns (and that nextFreeFast declines only at window ends), the
 * number a sweep frees, and with poison_free the contents of dead (0xdf) and live slots.
 * GALLOC_PLANT (refill-off-by-one, lost-sweep-request) is copied into the span.
 * Calls: alloc/span.c through internal.h.
 */
#include "fuzz.h"
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define GF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GF_ASAN 1
#endif
#endif
#ifdef GF_ASAN
#include <sanitizer/asan_interface.h>
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define UNPOISON(p, n) ((void)0)
#endif

#define T "fuzz_span"
#define MAXE GA_MAX_OBJS_PER_SPAN
#define MAXW GA_MAX_BITMAP_WORDS
#define POISON 0xdf


typedef struct model {
    unsigned n, nwords, fi;
    uint64_t alloc[MAXW];
    uint64_t pending[MAXW];     /* remote frees (freedBits) */
    uint64_t owner[MAXW];       /* owner frees (ownerFreedBits) */
    uint64_t dbl[MAXW];         /* freed both ways: the sweep must report a double free */
    bool needzero;
    uint8_t pat[MAXE];          /* content byte of each live slot (poison mode) */
} model;

static ga_heap *g_heap;         /* only brokenCode/broken/opt/green_tea are used by span.c */
static uint8_t *g_mem;          /* slot memory: up to 1024 slots of 64 bytes */
static model M;
static ga_mspan S;
static size_t g_step;
static const char *g_op;
static unsigned g_gen;
static unsigned g_misuse;        /* GA_ERR_DOUBLE_FREE reports by the sweep */
static uintptr_t g_misuse_at;

static void on_misuse(void *ctx, ga_status st, const void *p, const char *what)
{
    (void)ctx;
    (void)what;
    if (st == GA_ERR_DOUBLE_FREE) {
        g_misuse++;
        g_misuse_at = (uintptr_t)p;
    }
}

static bool mbit(const uint64_t *w, unsigned i) { return (w[i >> 6] >> (i & 63)) & 1; }
static void mset(uint64_t *w, unsigned i) { w[i >> 6] |= 1ull << (i & 63); }
static bool m_allocated(unsigned i) { return i < M.fi || mbit(M.alloc, i); }
static uint64_t m_alloc_word(unsigned w)   /* allocated slots of word w, as bits */
{
    unsigned lo = w * 64;
    uint64_t x = M.alloc[w];
    if (M.fi >= lo + 64)
        x = ~0ull;
    else if (M.fi > lo)
        x |= (1ull << (M.fi - lo)) - 1;
    if (M.n < lo + 64)
        x &= (1ull << (M.n - lo)) - 1;
    return x;
}
static unsigned m_count(void)
{
    unsigned c = 0;
    for (unsigned w = 0; w < M.nwords; w++)
        c += (unsigned)__builtin_popcountll(m_alloc_word(w));
    return c;
}
static unsigned m_next_free(void)   /* lowest slot >= freeindex not in allocBits; n if none */
{
    for (unsigned w = M.fi / 64; w < M.nwords; w++) {
        uint64_t freeb = ~m_alloc_word(w);
        if (M.n < w * 64 + 64)
            freeb &= (1ull << (M.n - w * 64)) - 1;
        if (freeb)
            return w * 64 + (unsigned)__builtin_ctzll(freeb);
    }
    return M.n;
}
static uint64_t hash2(unsigned i, unsigned seed)
{
    uint64_t z = (uint64_t)i * 0x9e3779b97f4a7c15ull + seed * 0xbf58476d1ce4e5b9ull + 1;
    z = (z ^ (z >> 31)) * 0x94d049bb133111ebull;
    return z ^ (z >> 29);
}

#define FAIL(sig, ...) fail(sig, __VA_ARGS__)
GF_NORETURN GF_PRINTF(2, 3) static void fail(const char *sig, const char *fmt, ...);
static void fail(const char *sig, const char *fmt, ...)
{
    char where[160];
    snprintf(where, sizeof where, "step %zu (%s) nelems %u elemsize %zu freeindex %u", g_step, g_op, M.n, S.elemsize,
             M.fi);
    va_list ap;
    va_start(ap, fmt);
    gf_vfinding_at(T, sig, where, fmt, ap);
}

/* Slot memory is ours; the sweep poisons dead slots for ASan, so unpoison before touching it. */
static uint8_t *slot_mem(unsigned i)
{
    uint8_t *p = g_mem + (size_t)i * S.elemsize;
    UNPOISON(p, S.elemsize);
    return p;
}

static void fill_slot(unsigned i)
{
    uint8_t v = (uint8_t)(0x11 + i * 13 + g_gen++);
    if (v == POISON || v == 0)
        v = 0x5a;
    M.pat[i] = v;
    memset(slot_mem(i), v, S.elemsize);
}

/* One allocation through the real code; returns the slot index (nelems when full). */
static unsigned alloc_one(bool slow_only)
{
    unsigned e = m_next_free();
    unsigned win_end = (M.fi / 64 + 1) * 64;
    if (!slow_only) {
        uintptr_t v = ga_span_next_free_fast(&S);
        if (v) {
            if (v < S.startAddr || (v - S.startAddr) % S.elemsize)
                FAIL("span/fast-result", "nextFreeFast returned %#lx, not a slot start", (unsigned long)v);
            unsigned got = (unsigned)((v - S.startAddr) / S.elemsize);
            if (got != e)
                FAIL("span/fast-result", "nextFreeFast returned slot %u, the lowest free slot at or above freeindex is %u",
                     got, e);
            M.fi = e + 1;
            fill_slot(e);
            return e;
        }
        bool legit = e >= M.n || e >= win_end || ((e + 1) % 64 == 0 && e + 1 != M.n);
        if (!legit)
            FAIL("span/fast-declined", "nextFreeFast declined slot %u inside its window (allocCache %#llx)", e,
                 (unsigned long long)S.allocCache);
    }
    unsigned got = ga_span_next_free_index(&S);
    if (got < S.nelems)
        S.allocCount++;
    if (got != e)
        FAIL("span/slow-result", "nextFreeIndex returned %u, expected %u", got, e);
    if (e >= M.n) {
        M.fi = M.n;
    } else {
        M.fi = e + 1;
        fill_slot(e);
    }
    return got;
}

static void free_slot(unsigned i, bool owner)
{
    if (owner) {
        S.ownerFreedBits[i >> 6] |= 1ull << (i & 63);
        S.ownerFrees++;
        mset(M.owner, i);
    } else {
        atomic_fetch_or(&S.freedBits[i >> 6], 1ull << (i & 63));
        mset(M.pending, i);
    }
}
static bool m_freed(unsigned i) { return mbit(M.pending, i) || mbit(M.owner, i); }

/* k-th slot that is allocated and not already freed; MAXE if none. */
static unsigned pick_allocated(unsigned k)
{
    unsigned cnt = 0;
    for (unsigned i = 0; i < M.n; i++)
        cnt += m_allocated(i) && !m_freed(i);
    if (!cnt)
        return MAXE;
    k %= cnt;
    for (unsigned i = 0; i < M.n; i++)
        if (m_allocated(i) && !m_freed(i) && k-- == 0)
            return i;
    return MAXE;
}

/* Sweep through the real code and the model; marks == NULL: explicit frees only. */
static void sweep(const uint64_t *marks, bool zombie)
{
    if (marks)
        for (unsigned w = 0; w < M.nwords; w++)
            S.gcmarkBits[w] = marks[w];
    unsigned want_misuse = 0;
    for (unsigned w = 0; w < M.nwords; w++)
        want_misuse += M.dbl[w] != 0;   /* the sweep names the first of each word */
    g_misuse = 0;
    unsigned got = ga_span_sweep_bits(g_heap, &S, marks != NULL);
    if (g_misuse != want_misuse)
        FAIL("span/cross-double-free", "sweep reported %u double frees, expected %u (slots freed both by the owner "
             "and by another thread)", g_misuse, want_misuse);
    if (want_misuse) {
        unsigned i = (unsigned)((g_misuse_at - S.startAddr) / S.elemsize);
        if (g_misuse_at < S.startAddr || i >= M.n || !mbit(M.dbl, i))
            FAIL("span/cross-double-free", "sweep reported a double free at %#lx, not a doubly freed slot",
                 (unsigned long)g_misuse_at);
    }
    uint64_t live[MAXW] = {0};
    unsigned before = 0, after = 0;
    for (unsigned i = 0; i < M.n; i++) {
        if (!m_allocated(i))
            continue;
        before++;
        if ((!marks || mbit(marks, i)) && !m_freed(i)) {
            mset(live, i);
            after++;
        }
    }
    int broken = atomic_load(&g_heap->brokenCode);
    if (zombie) {
        if (!broken)
            FAIL("span/zombie-missed", "a mark on a free slot was not reported by the sweep (A14)");
        atomic_store(&g_heap->brokenCode, 0);
        g_heap->broken[0] = 0;
    } else if (broken) {
        FAIL("span/broken", "sweep reported an inconsistency: %s", g_heap->broken);
    }
    if (got != before - after)
        FAIL("span/nfreed", "sweep freed %u objects, expected %u (%u allocated, %u survive)", got, before - after,
             before, after);
    if (g_heap->opt.poison_free) {
        for (unsigned i = 0; i < M.n; i++) {
            if (!m_allocated(i))
                continue;
            const uint8_t *m = slot_mem(i);
            uint8_t want = mbit(live, i) ? M.pat[i] : POISON;
            for (size_t b = 0; b < S.elemsize; b++)
                if (m[b] != want)
                    FAIL(mbit(live, i) ? "span/live-poisoned" : "span/dead-not-poisoned",
                         "slot %u byte %zu is %#x, expected %#x (%s slot)", i, b, m[b], want,
                         mbit(live, i) ? "live" : "dead");
        }
    }
    memcpy(M.alloc, live, sizeof live);
    memset(M.pending, 0, sizeof M.pending);
    memset(M.owner, 0, sizeof M.owner);
    memset(M.dbl, 0, sizeof M.dbl);
    M.fi = 0;
    if (before != after)
        M.needzero = true;
}

static void marks_for(uint64_t *marks, unsigned keep, unsigned seed)
{
    memset(marks, 0, MAXW * sizeof *marks);
    for (unsigned i = 0; i < M.n; i++)
        if (m_allocated(i) && hash2(i, seed) % 100 < keep)
            mset(marks, i);
}

static uint64_t expected_cache(void)
{
    return (~M.alloc[M.fi / 64]) >> (M.fi % 64);
}

static void load(gf_reader *r)
{
    unsigned mode = gf_u8(r) % 3;
    uint64_t seed = gf_u8(r);
    for (unsigned w = 0; w < M.nwords; w++) {
        uint64_t v = 0;
        if (mode == 0)
            for (int b = 0; b < 8; b++)
                v |= (uint64_t)gf_u8(r) << (8 * b);
        else if (mode == 1)
            v = 0x0101010101010101ull * gf_u8(r);
        else
            v = hash2(w, (unsigned)seed) & hash2(w + 100, (unsigned)seed);
        unsigned lo = w * 64;
        if (M.n < lo + 64)
            v &= (1ull << (M.n - lo)) - 1;
        M.alloc[w] = v;
        atomic_store(&S.allocBits[w], v);
        S.freedBits[w] = 0;
        S.ownerFreedBits[w] = 0;
        S.gcmarkBits[w] = 0;
    }
    S.ownerFrees = 0;
    memset(M.pending, 0, sizeof M.pending);
    memset(M.owner, 0, sizeof M.owner);
    memset(M.dbl, 0, sizeof M.dbl);
    M.fi = gf_u16(r) % (M.n + 1);
    atomic_store(&S.freeindex, M.fi);
    atomic_store(&S.allocatedBelow, 0);   /* a new state: nothing is known below freeindex */
    S.allocCache = M.fi < M.n ? expected_cache() : 0;
    S.allocCount = (uint16_t)m_count();
    for (unsigned i = 0; i < M.n; i++)
        if (m_allocated(i))
            fill_slot(i);
}

/* The cheap part of check_state, after each allocation of a burst. */
static void check_cache(void)
{
    unsigned fi = atomic_load(&S.freeindex);
    if (fi != M.fi)
        FAIL("span/freeindex", "freeindex is %u, model %u", fi, M.fi);
    if (M.fi < M.n && S.allocCache != expected_cache())
        FAIL("span/allocCache", "allocCache %#llx != complement of allocBits window at freeindex %#llx (A7)",
             (unsigned long long)S.allocCache, (unsigned long long)expected_cache());
}

static void check_state(void)
{
    for (unsigned w = 0; w < M.nwords; w++) {
        uint64_t a = atomic_load(&S.allocBits[w]), f = atomic_load(&S.freedBits[w]);
        if (a != M.alloc[w])
            FAIL("span/allocBits", "allocBits word %u is %#llx, model %#llx", w, (unsigned long long)a,
                 (unsigned long long)M.alloc[w]);
        if (f != M.pending[w])
            FAIL("span/freedBits", "freedBits word %u is %#llx, model %#llx", w, (unsigned long long)f,
                 (unsigned long long)M.pending[w]);
        if (S.ownerFreedBits[w] != M.owner[w])
            FAIL("span/ownerFreedBits", "ownerFreedBits word %u is %#llx, model %#llx", w,
                 (unsigned long long)S.ownerFreedBits[w], (unsigned long long)M.owner[w]);
        if (S.gcmarkBits[w])
            FAIL("span/gcmarkBits", "gcmarkBits word %u is %#llx after the step, expected 0", w,
                 (unsigned long long)S.gcmarkBits[w]);
    }
    unsigned of = 0;
    for (unsigned w = 0; w < M.nwords; w++)
        of += (unsigned)__builtin_popcountll(M.owner[w]);
    if (S.ownerFrees != of)
        FAIL("span/ownerFrees", "ownerFrees is %u, model has %u owner frees pending", S.ownerFrees, of);
    unsigned fi = atomic_load(&S.freeindex);
    if (fi != M.fi)
        FAIL("span/freeindex", "freeindex is %u, model %u", fi, M.fi);
    unsigned below = atomic_load(&S.allocatedBelow);
    if ((below % 64 && below != M.n) || below > fi)
        FAIL("span/allocatedBelow", "allocatedBelow %u is not a multiple of 64 (or nelems) <= freeindex %u", below, fi);
    for (unsigned i = 0; i < below; i++)
        if (!m_allocated(i))
            FAIL("span/allocatedBelow", "allocatedBelow %u, but slot %u is free in the model", below, i);
    unsigned cnt = m_count();
    if (S.allocCount != cnt)
        FAIL("span/allocCount", "allocCount is %u, model has %u allocated slots", S.allocCount, cnt);
    unsigned cal = ga_span_count_allocated(&S);
    if (cal != cnt)
        FAIL("span/count-allocated", "ga_span_count_allocated says %u, model has %u", cal, cnt);
    if (M.fi < M.n && S.allocCache != expected_cache())
        FAIL("span/allocCache", "allocCache %#llx != complement of allocBits window at freeindex %#llx (A7)",
             (unsigned long long)S.allocCache, (unsigned long long)expected_cache());
    if ((S.needzero != 0) != M.needzero)
        FAIL("span/needzero", "needzero is %u, model %u", S.needzero, M.needzero);
    if (atomic_load(&g_heap->brokenCode))
        FAIL("span/broken", "internal inconsistency reported: %s", g_heap->broken);
}

static void setup(void)
{
    if (g_heap)
        return;
    g_heap = aligned_alloc(_Alignof(ga_heap), sizeof *g_heap);   /* its counters are cache-line aligned */
    if (g_heap) memset(g_heap, 0, sizeof *g_heap);
    g_mem = aligned_alloc(64, (size_t)MAXE * 64);
    if (!g_heap || !g_mem) {
        fprintf(stderr, "fuzz_span: out of memory\n");
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setup();
    (void)gf_plant();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    gf_reader r = {data, size, 0};
    unsigned n = 1 + gf_u16(&r) % MAXE, flags = gf_u8(&r);
    memset(&M, 0, sizeof M);
    memset(&S, 0, sizeof S);
    atomic_store(&g_heap->brokenCode, 0);
    g_heap->broken[0] = 0;
    g_heap->green_tea = false;
    g_heap->opt.poison_free = (flags & 4) != 0;
    /* ASan builds: the sweep poisons dead slots (and un/poisons around poison_free), so the
     * annotation code runs too; slot_mem() unpoisons before the model reads. */
    g_heap->opt.no_poison = false;
    ga_set_error_handler(g_heap, on_misuse, NULL);
    M.n = n;
    M.nwords = (n + 63) / 64;
    S.startAddr = (uintptr_t)g_mem;
    S.elemsize = (size_t)8 << (flags & 3);
    S.npages = 1 + (S.elemsize * n - 1) / GA_PAGE_SIZE;
    S.limit = S.startAddr + S.elemsize * n;
    S.nelems = (uint16_t)n;
    S.nwords = (uint16_t)M.nwords;
    S.spanclass = 3;
    S.plant = (uint8_t)gf_plant();
    size_t wb = M.nwords * sizeof(uint64_t);
    S.allocBits = calloc(1, wb);
    S.gcmarkBits = calloc(1, wb);
    S.freedBits = calloc(1, wb);
    S.ownerFreedBits = calloc(1, wb);
    if (!S.allocBits || !S.gcmarkBits || !S.freedBits || !S.ownerFreedBits) {
        fprintf(stderr, "fuzz_span: out of memory\n");
        abort();
    }
    S.allocCache = ~0ull;   /* allocBits all zero: every slot free */
    g_gen = 0;
    UNPOISON(g_mem, (size_t)MAXE * 64);
    if (g_heap->opt.poison_free)
        memset(g_mem, 0, S.elemsize * n);
    uint64_t marks[MAXW];
    g_op = "setup";
    g_step = 0;
    check_state();
    for (g_step = 1; r.i < r.n && g_step < 100000; g_step++) {
        unsigned b = gf_u8(&r);
        switch (b % 16) {
        case 0: case 1: case 2:
            g_op = "alloc";
            alloc_one(false);
            break;
        case 3:
            g_op = "alloc-slow";
            alloc_one(true);
            break;
        case 4: {
            g_op = "burst";
            unsigned k = 1 + gf_u8(&r);
            for (unsigned j = 0; j < k && M.fi < M.n; j++) {
                alloc_one(false);
                check_cache();
            }
            break;
        }
        case 5:
            g_op = "drain";
            for (unsigned j = 0; j <= M.n && alloc_one(false) < M.n; j++)
                check_cache();
            break;
        case 6: case 7: {
            g_op = b % 16 == 6 ? "free" : "free-owner";
            unsigned i = pick_allocated(gf_u16(&r));
            if (i < MAXE)
                free_slot(i, b % 16 == 7);
            break;
        }
        case 8: {
            g_op = "free-mask";
            unsigned seed = gf_u8(&r), m = 1 + gf_u8(&r) % 8;
            unsigned dbl = m == 8 ? pick_allocated(seed) : MAXE;
            for (unsigned i = 0; i < M.n; i++)
                if (m_allocated(i) && !m_freed(i) && hash2(i, seed) % m == 0)
                    free_slot(i, hash2(i, seed + 1) & 1);
            if (dbl < MAXE && !m_freed(dbl)) {
                free_slot(dbl, true);
                free_slot(dbl, false);
                mset(M.dbl, dbl);
            }
            break;
        }
        case 9:
            g_op = "free-all";
            for (unsigned i = 0; i < M.n; i++)
                if (m_allocated(i) && !m_freed(i))
                    free_slot(i, b & 0x10);
            break;
        case 10: case 11:
            g_op = "sweep";
            sweep(NULL, false);
            break;
        case 12: {
            g_op = "gc";
            unsigned keep = gf_u8(&r) % 101, seed = gf_u8(&r);
            marks_for(marks, keep, seed);
            sweep(marks, false);
            break;
        }
        case 13: {
            g_op = "zombie";
            unsigned keep = gf_u8(&r) % 101, seed = gf_u8(&r);
            marks_for(marks, keep, seed);
            unsigned z = MAXE;
            for (unsigned i = 0, k = seed; i < M.n; i++)
                if (!m_allocated(i) && k-- == 0) {
                    z = i;
                    break;
                }
            if (z == MAXE)   /* pick the first free slot when seed overshoots */
                for (unsigned i = 0; i < M.n && z == MAXE; i++)
                    if (!m_allocated(i))
                        z = i;
            if (z != MAXE)
                mset(marks, z);
            sweep(marks, z != MAXE);
            break;
        }
        case 14: {
            unsigned a = gf_u8(&r);
            if (a & 1) {
                g_op = "refill";
                if (M.fi < M.n) {
                    ga_span_refill_alloc_cache(&S, (M.fi / 64) * 8);
                    S.allocCache >>= M.fi % 64;
                }
            } else {
                g_op = "refill-probe";
                unsigned w = (a >> 1) % (MAXW + 1);
                uint64_t saved = S.allocCache;
                ga_span_refill_alloc_cache(&S, w * 8);
                uint64_t want = ~(w < M.nwords ? M.alloc[w] : 0);
                if (S.allocCache != want)
                    FAIL("span/refill", "refillAllocCache(word %u) gave %#llx, expected ~allocBits = %#llx", w,
                         (unsigned long long)S.allocCache, (unsigned long long)want);
                S.allocCache = saved;
            }
            break;
        }
        default:
            g_op = "load";
            load(&r);
            break;
        }
        check_state();
    }
    free((void *)S.allocBits);
    free(S.gcmarkBits);
    free((void *)S.freedBits);
    free(S.ownerFreedBits);
    return 0;
}
