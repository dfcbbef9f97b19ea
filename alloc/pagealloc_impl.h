/*
 * pagealloc_impl.h — private to the page allocator's files (pagealloc.c, the allocator;
 * pagealloc_verify.c, its checker and dump): the layout of a ga_pagealloc (chunks, sparse
 * blocks, the summary levels, the inUse ranges) and the small inline accessors both need
 * (offset arithmetic, chunk / index / summary lookup, inUse range search, mergeSummaries).
 * Nothing outside alloc/pagealloc*.c includes it: the rest of galloc sees pagealloc.h.
 * Invariants of the structure: see pagealloc.c's header (D1..D8). Calls: bits.h only.
 */
#ifndef GA_PAGEALLOC_IMPL_H
#define GA_PAGEALLOC_IMPL_H
#include "pagealloc.h"

#if defined(__GNUC__)
#define GA_PA_MAYBE_UNUSED __attribute__((unused))   /* tables not every includer reads */
#else
#define GA_PA_MAYBE_UNUSED
#endif

#define PA_V_CODE        40                     /* ga_report.code for page-allocator violations */
#define PAGE             ((uint64_t)GA_PAGE_SIZE)
#define CHUNK_SHIFT      22
#define CHUNK_BYTES      ((uint64_t)1 << CHUNK_SHIFT)
#define CHUNK_PAGES      512u
#define L2_SHIFT         13                     /* chunks per sparse block: 8192 */
#define BLK_SHIFT        (CHUNK_SHIFT + L2_SHIFT)   /* a block covers 2^35 bytes = 32 GiB */
#define L1_ENTRIES       ((size_t)1 << 13)
#define L2_ENTRIES       ((size_t)1 << L2_SHIFT)
#define ROOT_ENTRIES     ((size_t)1 << 14)
#define OFF_LIMIT        ((uint64_t)1 << 48)    /* offsets are < 2^48 */
#define MAX_OFF          (OFF_LIMIT - 1)        /* maxOffAddr: "heap exhausted" */
#define SUM_BITS         21
#define SUM_MASK         (((uint64_t)1 << SUM_BITS) - 1)
#define SUM_MAX_PACKED   ((uint64_t)1 << SUM_BITS)
#define SUM_ALL_FREE_ROOT ((uint64_t)1 << 63)
#define FREE_CHUNK_SUM   ((uint64_t)512 | (uint64_t)512 << 21 | (uint64_t)512 << 42)
#define SCI_HAS_FREE     1u

static const unsigned GA_PA_MAYBE_UNUSED lvl_bits[GA_SUMMARY_LEVELS] = {14, 3, 3, 3, 3};
static const unsigned GA_PA_MAYBE_UNUSED lvl_shift[GA_SUMMARY_LEVELS] = {34, 31, 28, 25, 22};
static const unsigned GA_PA_MAYBE_UNUSED lvl_logpages[GA_SUMMARY_LEVELS] = {21, 18, 15, 12, 9};
/* Per block, level l has 2^(1+3l) entries (a block is 2 root entries); levels 1..4 are stored
 * one after the other in pa_l2.sum, level l from lvl_blk_off[l]. */
static const unsigned GA_PA_MAYBE_UNUSED lvl_blk_bits[GA_SUMMARY_LEVELS] = {1, 4, 7, 10, 13};
static const unsigned GA_PA_MAYBE_UNUSED lvl_blk_off[GA_SUMMARY_LEVELS] = {0, 0, 16, 16 + 128, 16 + 128 + 1024};
#define BLK_SUMS         (16 + 128 + 1024 + 8192)

typedef struct pa_chunk {
    uint64_t alloc[8];   /* pallocBits: 1 = allocated */
    uint64_t scav[8];    /* 1 = released to the OS */
} pa_chunk;

/* Scavenge index entry (Go's scavChunkData without the generation: there is no GC cycle
 * here, so density is judged on the current count only). */
typedef struct pa_scidx {
    uint16_t inuse;      /* allocated pages */
    uint16_t flags;      /* SCI_HAS_FREE: may hold free, unscavenged pages */
} pa_scidx;

/* One block: everything about 8192 chunks. The summaries come first so that the few entries
 * a small heap touches share pages with each other (~1.1 MiB of address space per block; the
 * kernel commits only the pages touched). */
typedef struct pa_l2 {
    ga_pallocsum sum[BLK_SUMS];  /* levels 1..4, see lvl_blk_off */
    pa_scidx x[L2_ENTRIES];
    pa_chunk c[L2_ENTRIES];
} pa_l2;

typedef struct pa_range { uint64_t base, limit; } pa_range;   /* offsets, [base, limit) */

#define RANGES_INIT_CAP 16

struct ga_pagealloc {
    const ga_os *os;
    bool plant;                  /* GA_PLANT_SUMMARY_MERGE */
    uint64_t search;             /* searchAddr as an offset; MAX_OFF = exhausted */
    uint64_t start, end;         /* chunk-index bounds of everything grown, [start, end) */
    pa_range *ranges;            /* inUse, sorted; ranges_inline until it outgrows it */
    size_t nranges, rcap;
    /* Scavenger cursors (exclusive chunk index): every chunk >= scav_top_force has HasFree
     * clear; every chunk >= scav_top_bg has HasFree clear or is dense. free() raises both. */
    uint64_t scav_top_force, scav_top_bg;
    size_t total_pages, alloc_pages, scav_free_pages;
    size_t meta_bytes;
    /* The block window [blk_lo, blk_hi] (empty while blk_lo > blk_hi): every block pa_grow ever
     * made lies in it, and so does every root entry anything ever wrote (update only writes
     * over grown memory; pa_test_set_summary widens it for the root entries it writes).
     * Outside it l2[] is NULL and the root still holds alloc_meta's zeros, so pa_destroy and
     * pa_verify look only inside. */
    uint64_t blk_lo, blk_hi;
    pa_range ranges_inline[RANGES_INIT_CAP];
    pa_l2 *l2[L1_ENTRIES];
    ga_pallocsum root[ROOT_ENTRIES];   /* level 0, 128 KiB: touched only where the heap grew */
};

/* ---- address arithmetic (wrapping u64, spec §6.1) ---------------------------------------- */
static inline uint64_t off_of(uintptr_t a) { return (uint64_t)a - (uint64_t)GA_ARENA_BASE_OFFSET; }
static inline uintptr_t addr_of(uint64_t off) { return (uintptr_t)(off + (uint64_t)GA_ARENA_BASE_OFFSET); }
static inline unsigned off_page(uint64_t off) { return (unsigned)(off >> GA_PAGE_SHIFT) & (CHUNK_PAGES - 1); }

static inline pa_chunk *chunk_of(const ga_pagealloc *pa, uint64_t ci)
{
    pa_l2 *b = pa->l2[ci >> L2_SHIFT];
    return b ? &b->c[ci & (L2_ENTRIES - 1)] : NULL;
}
static inline pa_scidx *sci_of(const ga_pagealloc *pa, uint64_t ci)
{
    pa_l2 *b = pa->l2[ci >> L2_SHIFT];
    return b ? &b->x[ci & (L2_ENTRIES - 1)] : NULL;
}

/* The summary at (level l, index i): level 0 is the flat root, levels 1..4 live in the block
 * covering them. NULL if that block was never made: such summaries read as 0 (sum_get,
 * sum_row) and nothing writes them (update only runs over grown memory). The 8 children of an
 * entry never straddle blocks (an entry covers at most 16 GiB, a block 32 GiB, both aligned),
 * so sum_ref(l + 1, i << 3) points at all of them. */
static inline ga_pallocsum *sum_ref(const ga_pagealloc *pa, unsigned l, uint64_t i)
{
    if (l == 0)
        return (ga_pallocsum *)&pa->root[i];
    pa_l2 *b = pa->l2[i >> lvl_blk_bits[l]];
    return b ? &b->sum[lvl_blk_off[l] + (i & (((uint64_t)1 << lvl_blk_bits[l]) - 1))] : NULL;
}
static inline ga_pallocsum sum_get(const ga_pagealloc *pa, unsigned l, uint64_t i)
{
    const ga_pallocsum *p = sum_ref(pa, l, i);
    return p ? *p : 0;
}
/* 8 (or, at level 0, up to all) consecutive summaries from (l, i); zeros for an absent block. */
static const ga_pallocsum GA_PA_MAYBE_UNUSED zero_row[8];
static inline const ga_pallocsum *sum_row(const ga_pagealloc *pa, unsigned l, uint64_t i)
{
    const ga_pallocsum *p = sum_ref(pa, l, i);
    return p ? p : zero_row;
}

static inline unsigned ctz64(uint64_t x) { return x ? (unsigned)__builtin_ctzll(x) : 64; }
static inline unsigned clz64(uint64_t x) { return x ? (unsigned)__builtin_clzll(x) : 64; }
static inline unsigned pop64(uint64_t x) { return ga_popcount64(x); }

/* ---- inUse ranges (spec §6.4, mranges.go) ----------------------------------------------- */
/* Index of the first range whose limit is above off (nranges if none). */
static inline size_t range_upper(const ga_pagealloc *pa, uint64_t off)
{
    size_t lo = 0, hi = pa->nranges;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (pa->ranges[mid].limit > off)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static inline bool range_contains(const ga_pagealloc *pa, uint64_t off)
{
    size_t i = range_upper(pa, off);
    return i < pa->nranges && pa->ranges[i].base <= off;
}

/* True if some inUse range intersects [lo, hi). */
static inline bool ranges_intersect(const ga_pagealloc *pa, uint64_t lo, uint64_t hi)
{
    size_t i = range_upper(pa, lo);
    return i < pa->nranges && pa->ranges[i].base < hi;
}

/* ---- pallocSum merge (spec §6.3) ------------------------------------------------------- */
/* mergeSummaries: fold 8 children of capacity 2^logk each (spec §6.3). Children live at
 * levels 1..4, whose capacity is below 2^21, so they never carry the root's 1<<63 encoding
 * and unpack with plain masks (this is the hottest loop of alloc/free). */
static inline ga_pallocsum merge8(const ga_pallocsum *c, unsigned logk, bool planted)
{
    const uint64_t K = (uint64_t)1 << logk;
    uint64_t any = c[0] | c[1] | c[2] | c[3] | c[4] | c[5] | c[6] | c[7];
    if (!any)
        return 0;
    uint64_t start = c[0] & SUM_MASK, max = (c[0] >> 21) & SUM_MASK, end = c[0] >> 42;
    for (unsigned i = 1; i < 8; i++) {
        uint64_t x = c[i], s = x & SUM_MASK, m = (x >> 21) & SUM_MASK, e = x >> 42;
        if (start == (uint64_t)i << logk)   /* everything so far is free: the prefix grows */
            start += s;
        uint64_t straddle = end + s;        /* a run crossing the boundary */
        max = straddle > max ? straddle : max;
        max = m > max ? m : max;
        end = (e == K && !planted) ? end + K : e;
    }
    return ga_pack_pallocsum((unsigned)start, (unsigned)max, (unsigned)end);
}

#endif
