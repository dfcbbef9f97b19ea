/*
 * internal.h — the structures of every allocator level, for the allocator's own files
 * and for the checker (verify.c). Programs use galloc.h only.
 *
 * Levels, in call order (data flows one way, top to bottom):
 *   cache.c    mcache: per-P span slots, tiny allocator, refill          (spec §3)
 *   central.c  mcentral: per span class lists of swept/unswept spans     (spec §4)
 *   heap.c     mheap: arenas, arena index, span alloc/free, large spans  (spec §5)
 *   pagealloc.c / pagecache.c: radix-tree page allocator, page cache     (spec §6, §7)
 *   os.c       the kernel behind a replaceable interface                 (spec §5.4)
 * Beside them: span.c (bitmaps, nextFree*, sweep of one span), fixalloc.c, gc.c (cycles,
 * sweeping), stats.c, verify.c (reads everything, changes nothing), sizeclass*.c.
 *
 * Deliberate differences from the Go runtime, each for a reason:
 * - mcentral keeps its four sets as intrusive lists under a per-class spinlock instead of
 *   lock-free spanSets: explicit free must move a span between sets in O(1), and a
 *   lock per class makes that simple and obviously correct. Entries are never stale.
 * - Explicit free: ga_free sets the slot's bit in the span's freedBits (atomic), and
 *   asks once for the span to be swept (sweepRequested). Sweeping — the same code that
 *   reclaims unmarked objects after a GC cycle — consumes freedBits. A span that is
 *   not cached moves to its class's unswept set; a cached span is re-swept by its owner
 *   when it fills up. One mechanism for GC and free.
 * - gcmarkBits is cleared in place rather than replaced from gcBits arenas, because
 *   concurrent free validation reads allocBits and must never see a recycled bitmap.
 * - Owner LIFO free (ga_free_owner_fast): the owning cache's free of the object it
 *   allocated last from a span's current allocCache window (slot freeindex-1, same
 *   64-slot word, allocBits clear) steps freeindex back by one and shifts the slot back
 *   into allocCache, so a malloc/free pair reuses the same slot with no sweep at all.
 *   Go has no explicit free; A5/A7 hold unchanged (it is the exact inverse of
 *   nextFreeFast). The span counts such frees in ownerReused, flushed into both the
 *   alloc and free counters with the rest of its stats (no shared write per op).
 *   Cost: a double free racing between the owner (LIFO) and another thread leaves a
 *   freedBit on a free slot; the sweep reports it (span.c), unless the owner handed the
 *   slot out again first — then that free hits the new object, as in any allocator
 *   that reuses at once (ownerFreedBits would have caught it at the sweep).
 */
#ifndef GA_INTERNAL_H
#define GA_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include "galloc.h"
#include "sizeclass.h"
#include "bits.h"
#include "pagealloc.h"
#include "sanitize.h"
#include "schedpoint.h"

#define GA_ARENA_SHIFT      26
#define GA_ARENA_BYTES      ((uintptr_t)1 << GA_ARENA_SHIFT)          /* 64 MiB */
#define GA_PAGES_PER_ARENA  (GA_ARENA_BYTES / GA_PAGE_SIZE)           /* 8192 */
#define GA_ARENA_L2_BITS    22
#define GA_ARENA_L2_ENTRIES ((size_t)1 << GA_ARENA_L2_BITS)
#define GA_HEAP_ADDR_BITS   48
#define GA_MAX_BITMAP_WORDS (GA_MAX_OBJS_PER_SPAN / 64)               /* 16 */

/* The default arena hints (heap.c init_hints): GA_HINT_COUNT hints GA_HINT_BASE + i *
 * GA_HINT_STEP, tried in order, so a replay on a fresh heap sees the same addresses.
 * Under TSan an application may map memory only in TSan's application ranges: its mmap
 * interceptor drops any other hint (the kernel then chooses, ASLR-dependent, and replays
 * lose address identity). On x86-64 Linux the low application range is [0x1000,
 * 0x008000000000) in LLVM 14's layout and [0x1000, 0x020000000000) from LLVM 15 on, empty
 * in a PIE program: under TSan the hints are 64 in [0x004000000000, 0x008000000000), 4 GiB
 * apart (a heap that outgrows 4 GiB at one hint moves on to the next free one). Elsewhere
 * (another architecture's TSan layout) a refused hint falls back as any taken hint does. */
#define GA_HINT_COUNT 0x40
#ifdef GA_TSAN
#define GA_HINT_BASE ((uintptr_t)0x004000000000)
#define GA_HINT_STEP ((uintptr_t)1 << 32)
#else
#define GA_HINT_BASE ((uintptr_t)0x00c000000000)
#define GA_HINT_STEP ((uintptr_t)1 << 40)
#endif

/* A small spinlock for the per-class mcentral locks: held for a few list operations
 * or one span sweep. (A pthread mutex each would work too, but fork handlers and the
 * checker take all 136 at once, more than TSan's deadlock detector tracks.) */
typedef struct { _Atomic int v; } ga_spinlock;
void ga_spin_lock_slow(ga_spinlock *l);
static inline void ga_spin_lock(ga_spinlock *l)
{
    int expected = 0;
    if (!atomic_compare_exchange_weak_explicit(&l->v, &expected, 1, memory_order_acquire, memory_order_relaxed))
        ga_spin_lock_slow(l);
}
static inline void ga_spin_unlock(ga_spinlock *l) { atomic_store_explicit(&l->v, 0, memory_order_release); }

enum ga_span_state { GA_SPAN_DEAD = 0, GA_SPAN_INUSE = 1 };   /* no manual (stack) spans */

struct ga_spanlist;
struct ga_mcache;

/* mspan: a run of pages holding objects of one span class (spec §2.1).
 * Slot i is allocated iff i < freeindex || allocBits[i] (invariant A5). Allocation
 * never writes allocBits; sweeping rewrites it in place. Fields written by other
 * threads (freedBits, sweepRequested) or read by them (freeindex, allocatedBelow,
 * allocBits during free validation, state, sweepgen) are atomics.
 * Layout (192 bytes): the first two cache lines are what every thread's free reads; they
 * are written by caching, sweeping and list moves, by the first free after a sweep
 * (sweepRequested) and by the tiny allocator (fastFree), i.e. rarely. The third holds
 * what the owner writes on every allocation and owner free. Mixed, each allocation by the
 * owner took the line away from a thread freeing into the span (xthread: one miss per op
 * on each side). freeindex stays on the owner's line: a free from another thread of a
 * slot in the current allocCache window (at or above allocatedBelow) still reads it. */
typedef struct ga_mspan {
    /* read by frees from any thread, written rarely */
    uintptr_t startAddr;
    uintptr_t limit;
    size_t elemsize;
    uint32_t divMul;
    /* A multiple of 64, or nelems; <= freeindex: every slot below is allocated. The owner
     * raises it when nextFreeIndex moves to a new allocCache window (all slots of the
     * windows before are allocated by then, A5/A7) and to nelems when it finds the span
     * full; sweeping resets it to 0 first. A free validates a slot below it without
     * reading freeindex, which the owner writes on every op. */
    _Atomic uint32_t allocatedBelow;
    _Atomic uint64_t *allocBits;       /* nwords words each; one block from bitsalloc */
    _Atomic uint64_t *freedBits;       /* explicit frees not yet swept */
    uint64_t *ownerFreedBits;          /* frees by the owning cache's thread (plain, owner-only) */
    struct ga_mcache *cachedBy;        /* mcache holding the span (for the checker) */
    uint16_t nelems;
    uint16_t nwords;                   /* bitmap words: ceil(nelems/64) */
    ga_spanclass spanclass;
    _Atomic uint8_t state;             /* enum ga_span_state; InUse is stored last */
    _Atomic uint8_t sweepRequested;    /* an explicit free is waiting to be swept */
    uint8_t fastFree;                  /* small, no malloc header, no tiny blocks: ga_free's fast path */
    uint8_t plant;                     /* ga_plant copied from the heap options */
    _Atomic uint32_t sweepgen;         /* relative to heap sweepgen h (spec §2.4) */
    size_t npages;
    uint64_t *gcmarkBits;
    uint64_t *tinyBits;                /* slot is a tiny block (class 5 only; else NULL) */
    struct ga_mspan *next, *prev;      /* links in the mcentral list `list` */
    struct ga_spanlist *list;          /* the list holding the span, NULL if none */
    /* written by the owner on every allocation and owner free */
    _Alignas(64) uint64_t allocCache;  /* complemented window of allocBits at freeindex */
    _Atomic uint32_t freeindex;        /* slots below are allocated */
    uint16_t allocCount;
    uint16_t allocCountBeforeCache;
    uint32_t ownerFrees;               /* popcount of ownerFreedBits */
    uint8_t needzero;                  /* free slots may hold garbage */
    uint64_t ownerReused;              /* owner LIFO frees (cache.c) since the span's stats were flushed */
    size_t allspansIndex;              /* (not hot: here because the two lines above are full) */
} ga_mspan;
_Static_assert(sizeof(ga_mspan) == 192, "ga_mspan: two shared cache lines and the owner's");

/* heapArena: per-64-MiB metadata (spec §5.1). */
typedef struct ga_heaparena {
    ga_mspan *spans[GA_PAGES_PER_ARENA];           /* page -> span; stale for free pages */
    uint8_t pageInUse[GA_PAGES_PER_ARENA / 8];     /* first page of each InUse span */
    uint8_t pageUseSpanInlineMarkBits[GA_PAGES_PER_ARENA / 8];
    uintptr_t zeroedBase;                          /* offset below which memory was used */
    uintptr_t base;
} ga_heaparena;

/* fixalloc: fixed-size metadata objects with a LIFO free list (spec §9.1). */
typedef struct ga_fixalloc {
    size_t size;
    void *list;           /* free list, linked through the first word */
    uintptr_t chunk;      /* bump region */
    size_t nchunk;        /* bytes left in it */
    size_t nalloc;        /* chunk size: floor(16384/size)*size */
    size_t inuse;         /* bytes handed out */
    bool zero;
    struct ga_heap *heap; /* for persistent memory */
} ga_fixalloc;

typedef struct ga_spanlist {
    ga_mspan *first, *last;
    size_t n;
} ga_spanlist;

/* mcentral: spans of one span class not held by any mcache (spec §4). Role of
 * partial[i]/full[i] flips every cycle: swept = [(sg/2)%2], unswept = the other. */
typedef struct ga_mcentral {
    ga_spinlock lock;
    ga_spanclass spanclass;
    ga_spanlist partial[2];
    ga_spanlist full[2];
    char pad[64];
} ga_mcentral;

/* mcache: per-P span slots and tiny allocator (spec §3). */
typedef struct ga_mcache {
    struct ga_heap *heap;
    struct ga_heaparena **arenas;    /* heap->arenas, one load nearer for the free fast path */
    ga_mspan *alloc[GA_NUM_SPAN_CLASSES];
    uintptr_t tiny;
    uintptr_t tinyoffset;
    uint64_t tinyAllocs;
    uint32_t flushGen;
    struct ga_counters *cnt;         /* the heap's counter copy this cache flushes into */
    ga_pagecache pcache;
    struct ga_mcache *next, *prev;   /* heap's list of caches */
} ga_mcache;

typedef struct ga_arena_hint {
    uintptr_t addr;
    bool down;
    struct ga_arena_hint *next;
} ga_arena_hint;

typedef struct ga_meta_chunk {      /* persistent metadata memory, for destroy */
    struct ga_meta_chunk *next;
    size_t size;
} ga_meta_chunk;

typedef struct ga_region {          /* reserved address space, for destroy */
    uintptr_t base;
    size_t size;
} ga_region;

/* Cumulative counters, in GA_CNT_SHARDS copies that readers add up (GA_COUNTER): each
 * cache flushes into its own copy, a sweep outside a cache into its span's, so threads
 * refilling and sweeping at the same time do not fight over one line (one shared copy
 * cost the 8-thread lean workload a tenth of its throughput). Atomic adds: two caches may
 * share a copy, and any thread may sweep any span. */
#define GA_CNT_SHARDS 8
typedef struct ga_counters {
    _Alignas(64) _Atomic uint64_t smallAllocCount[GA_NUM_CLASSES];
    _Atomic uint64_t smallFreeCount[GA_NUM_CLASSES];
    _Atomic uint64_t tinyAllocCount;
    _Atomic uint64_t largeAlloc, largeAllocCount, largeFree, largeFreeCount;
    _Atomic uint64_t numGC;
} ga_counters;

/* mheap (spec §5.1). `lock` guards the page allocator, arenas, hints, fixallocs,
 * allspans, the cache list and the page-level statistics. */
struct ga_heap {
    pthread_mutex_t lock;
    const ga_os *os;
    ga_heap_options opt;
    bool green_tea;
    ga_pagealloc *pages;
    _Atomic uint32_t sweepgen;
    _Atomic bool marking;
    ga_mcentral central[GA_NUM_SPAN_CLASSES];
    /* A bit per span class that ever had a span in this heap (set under `lock` by
     * ga_heap_alloc_span before the span is handed out, never cleared): a class without
     * its bit has four empty central lists, so ga_sweep and the checker need not take its
     * lock or read its lists. */
    _Atomic uint64_t classesSeen[(GA_NUM_SPAN_CLASSES + 63) / 64];

    ga_heaparena **arenas;            /* L2 arena index (L1 has one entry) */
    uint32_t *heapArenas;             /* indices of all heap arenas */
    size_t nheapArenas, capHeapArenas;
    ga_arena_hint *arenaHints;
    uintptr_t curArenaBase, curArenaEnd;
    uintptr_t curArenaMapped;         /* [curArenaBase, this) already mapped */
    ga_region *regions;
    size_t nregions, capregions;

    ga_fixalloc spanalloc;
    ga_fixalloc cachealloc;
    ga_fixalloc hintalloc;
    ga_fixalloc bitsalloc[GA_MAX_BITMAP_WORDS + 1];  /* [n]: 5*n words */
    ga_meta_chunk *meta;              /* persistent chunks */
    uintptr_t persistent;             /* bump pointer in the current chunk */
    size_t persistentLeft;
    uint64_t metaSys;                 /* bytes of metadata mappings */

    ga_mspan **allspans;
    size_t nallspans, capallspans;

    ga_mcache *caches;                /* all live caches */

    /* page-level stats (heap lock), spec §5.5/§5.7 */
    uint64_t pagesInUse;
    uint64_t heapInUse, heapFree, heapReleased, heapGrown, heapSys;
    ga_counters cnt[GA_CNT_SHARDS];
    _Atomic uint32_t nextCntShard;    /* round robin for new caches */
    /* A bit per copy that was ever written (set before its first add, never cleared):
     * readers add up only those, so a heap with one cache reads one or two copies, not
     * eight (the sums were a quarter of the checker's time on a small heap). Copy 0 is
     * always in (numGC lives there). */
    _Atomic uint32_t cntUsed;

    ga_error_fn errfn;
    void *errctx;
    /* first internal inconsistency seen by sweeping (zombie etc.), for ga_verify */
    _Atomic int brokenCode;
    char broken[256];
#ifdef GALLOC_SCHED
    ga_sched_fn sched_fn;             /* controlled scheduler's hook (alloc/schedpoint.h), NULL: none */
    void *sched_ctx;
#endif
};

typedef ga_mcache ga_cache_impl;

static inline bool ga_class_seen(struct ga_heap *h, ga_spanclass spc)
{
    return (atomic_load_explicit(&h->classesSeen[spc / 64], memory_order_acquire) >> (spc % 64)) & 1;
}

/* ---- span.c ---- */
void ga_span_refill_alloc_cache(ga_mspan *s, unsigned whichByte);
unsigned ga_span_next_free_index(ga_mspan *s);
unsigned ga_span_count_allocated(const ga_mspan *s);
/* Sweep one owned span: rebuild allocBits from marks (use_marks) or from the allocated
 * set, minus explicit frees. Returns the number of objects freed. Does not place it. */
unsigned ga_span_sweep_bits(struct ga_heap *h, ga_mspan *s, bool use_marks);
static inline unsigned ga_span_obj_index(const ga_mspan *s, uintptr_t p)
{
    if (s->divMul == 0) return 0;
    return ga_divide_by_elemsize((uint32_t)(p - s->startAddr), s->divMul);
}
static inline bool ga_bit(const uint64_t *w, unsigned i) { return (w[i >> 6] >> (i & 63)) & 1; }
/* tinyBits: written by whoever owns the span's allocation state (its cache's thread, or
 * the sweeper), read by any thread validating a free: relaxed atomics. */
static inline bool ga_tiny_bit(uint64_t *w, unsigned i)
{
    return (__atomic_load_n(&w[i >> 6], __ATOMIC_RELAXED) >> (i & 63)) & 1;
}
static inline bool ga_abit(_Atomic uint64_t *w, unsigned i)
{
    return (atomic_load_explicit(&w[i >> 6], memory_order_relaxed) >> (i & 63)) & 1;
}
/* Green Tea trailer (spec §2.3): at base+8192-128; class byte last. */
static inline bool ga_span_has_inline_marks(const struct ga_heap *h, const ga_mspan *s);
static inline uint8_t *ga_span_trailer(const ga_mspan *s) { return (uint8_t *)(s->startAddr + GA_PAGE_SIZE - GA_GT_INLINE_MARK_BYTES); }

/* ---- fixalloc.c ---- */
void ga_fixalloc_init(ga_fixalloc *f, struct ga_heap *h, size_t size, bool zero);
void *ga_fixalloc_alloc(ga_fixalloc *f);   /* NULL on OOM */
void ga_fixalloc_free(ga_fixalloc *f, void *p);
void *ga_persistent_alloc(struct ga_heap *h, size_t size);  /* heap lock held; 8-aligned, zeroed */

/* ---- heap.c ---- */
ga_mspan *ga_heap_alloc_span(struct ga_heap *h, ga_mcache *c, size_t npages, ga_spanclass spc, size_t align_pages);
void ga_heap_free_span(struct ga_heap *h, ga_mspan *s);

void ga_heap_report_broken(struct ga_heap *h, const char *fmt, ...);
void ga_heap_misuse(struct ga_heap *h, ga_status st, const void *p, const char *what);

/* ---- central.c ---- */
void ga_central_init(ga_mcentral *c, ga_spanclass spc);
ga_mspan *ga_central_cache_span(struct ga_heap *h, ga_mcentral *c);
void ga_central_uncache_span(struct ga_heap *h, ga_mcentral *c, ga_mspan *s);
/* With c->lock held: put a swept span where it belongs (or free it); returns true if freed. */
bool ga_central_place_swept(struct ga_heap *h, ga_mcentral *c, ga_mspan *s, bool preserve);
/* A free asked for s to be swept: move it to the unswept set if nobody holds it. */
/* A free just published a bit in s->freedBits; base and spc are s's identity read before
 * that (the span may be swept, freed and its struct reused since). */
void ga_central_request_sweep(struct ga_heap *h, ga_mspan *s, uintptr_t base, ga_spanclass spc);
size_t ga_central_sweep_some(struct ga_heap *h, ga_mcentral *c, size_t max);
void ga_list_insert(ga_spanlist *l, ga_mspan *s);
void ga_list_remove(ga_mspan *s);
ga_mspan *ga_list_pop(ga_spanlist *l);
static inline ga_spanlist *ga_partial_swept(ga_mcentral *c, uint32_t sg) { return &c->partial[(sg / 2) % 2]; }
static inline ga_spanlist *ga_partial_unswept(ga_mcentral *c, uint32_t sg) { return &c->partial[1 - (sg / 2) % 2]; }
static inline ga_spanlist *ga_full_swept(ga_mcentral *c, uint32_t sg) { return &c->full[(sg / 2) % 2]; }
static inline ga_spanlist *ga_full_unswept(ga_mcentral *c, uint32_t sg) { return &c->full[1 - (sg / 2) % 2]; }

/* ---- cache.c ---- */
extern ga_mspan ga_emptymspan;
void ga_cache_release_all(ga_mcache *c);

/* ---- stats ---- */
void ga_stats_compute(struct ga_heap *h, ga_stats *st);
/* The sum of one counter over the copies in use (`used`: h->cntUsed): GA_COUNTER(h, smallFreeCount[c]). */
static inline uint64_t ga_counter_sum(const _Atomic uint64_t *first_copy, uint32_t used)
{
    uint64_t n = 0;
    for (; used; used &= used - 1)
        n += atomic_load_explicit((const _Atomic uint64_t *)((const char *)first_copy +
                                                             (unsigned)__builtin_ctz(used) * sizeof(ga_counters)),
                                  memory_order_relaxed);
    return n;
}
#define GA_COUNTER(h, field) \
    ga_counter_sum(&(h)->cnt[0].field, atomic_load_explicit(&(h)->cntUsed, memory_order_acquire))
/* Copy k is about to be written: count it in (a load, and one OR per copy per heap). */
static inline ga_counters *ga_counters_use(struct ga_heap *h, unsigned k)
{
    if (!((atomic_load_explicit(&h->cntUsed, memory_order_relaxed) >> k) & 1))
        atomic_fetch_or_explicit(&h->cntUsed, 1u << k, memory_order_release);
    return &h->cnt[k];
}
/* The copy a sweep outside any cache adds into: by span, so that two threads sweeping
 * two spans seldom meet. */
static inline ga_counters *ga_span_counters(struct ga_heap *h, const ga_mspan *s)
{
    return ga_counters_use(h, (unsigned)((s->startAddr / GA_PAGE_SIZE) % GA_CNT_SHARDS));
}

/* ---- hot inline helpers ---- */

/* spec §5.2: arena index in wrapping offset arithmetic; L1 has one entry. */
static inline uintptr_t ga_arena_index(uintptr_t p) { return (p - GA_ARENA_BASE_OFFSET) >> GA_ARENA_SHIFT; }

static inline ga_heaparena *ga_arena_of(const struct ga_heap *h, uintptr_t p)
{
    uintptr_t idx = ga_arena_index(p);
    if (idx >= GA_ARENA_L2_ENTRIES) return NULL;
    return h->arenas[idx];
}

/* spanOf: may return a stale span for free pages. */
static inline ga_mspan *ga_span_of(const struct ga_heap *h, uintptr_t p)
{
    ga_heaparena *ha = ga_arena_of(h, p);
    return ha ? ha->spans[(p / GA_PAGE_SIZE) % GA_PAGES_PER_ARENA] : NULL;
}

/* spanOfHeap: the InUse span whose pages contain p, or NULL. */
static inline ga_mspan *ga_span_of_heap(const struct ga_heap *h, uintptr_t p)
{
    ga_mspan *s = ga_span_of(h, p);
    if (!s || atomic_load_explicit(&s->state, memory_order_acquire) != GA_SPAN_INUSE) return NULL;
    if (p < s->startAddr || p >= s->startAddr + s->npages * GA_PAGE_SIZE) return NULL;
    return s;
}

/* nextFreeFast (spec §2.5): the lock-free fast path. Leaves the last bit of a 64-slot
 * window to the slow path, because consuming it would require a refill. */
static inline uintptr_t ga_span_next_free_fast(ga_mspan *s)
{
    uint64_t cache = s->allocCache;
    if (cache == 0) return 0;
    unsigned t = (unsigned)__builtin_ctzll(cache);
    uint32_t fi = atomic_load_explicit(&s->freeindex, memory_order_relaxed);
    uint32_t r = fi + t;
    if (r >= s->nelems) return 0;
    if ((r + 1) % 64 == 0 && r + 1 != s->nelems) return 0;
    s->allocCache = (cache >> t) >> 1;      /* two shifts: t + 1 may be 64 */
    atomic_store_explicit(&s->freeindex, r + 1, memory_order_relaxed);
    s->allocCount++;
    return s->startAddr + (uintptr_t)r * s->elemsize;
}

/* allocated(i) := i < freeindex || allocBits[i], trying allocatedBelow first (a line the
 * owner rarely writes). Safe from any thread for a slot the caller legitimately holds
 * (see span.c on the sweep's publication order). */
static inline bool ga_span_slot_allocated(const ga_mspan *s, unsigned i)
{
    ga_mspan *m = (ga_mspan *)s;
    if (i < atomic_load_explicit(&m->allocatedBelow, memory_order_acquire)) return true;
    if (i < atomic_load_explicit(&m->freeindex, memory_order_acquire)) return true;
    return ga_abit(m->allocBits, i);
}

static inline bool ga_span_has_inline_marks(const struct ga_heap *h, const ga_mspan *s)
{
    return h->green_tea && (s->spanclass >> 1) != 0 && ga_size_uses_inline_marks(s->elemsize);
}

/* ---- the fast paths of ga_alloc and ga_free_local ----
 * Inline here so that libgalloc's malloc and free, whose alignment and flags are
 * constants, fold most tests away and skip a call. Each handles only the plain case and
 * says so by its result; anything else (refill, tiny, zeroing, misuse) goes to the real
 * function, which starts over. */

/* A plain small noscan object from the current span's allocCache, or 0. */
static inline void *ga_alloc_fast(ga_mcache *c, size_t size, size_t align, unsigned flags)
{
    /* 0x117: bits 0, 1, 2, 4 and 8 — the alignments the fast path honours by class */
    if (__builtin_expect(align <= 8 && ((0x117u >> align) & 1) && size - 1 < GA_SMALL_CUTOFF &&
                         (flags & (GA_NOSCAN | GA_ZERO)) == GA_NOSCAN &&
                         (size >= GA_TINY_SIZE || (flags & GA_NOTINY) || align > 1), 1)) {
        unsigned cls = ga_size_to_class(size);
        uintptr_t v = ga_span_next_free_fast(c->alloc[ga_make_spanclass(cls, true)]);
        if (__builtin_expect(v != 0, 1)) {
            GA_ON_ALLOC(c->heap, (void *)v, ga_class_to_size[cls], 0);
            return (void *)v;
        }
    }
    return NULL;
}

/* ga_span_of through the cache's copy of the arena index (one load nearer). */
static inline ga_mspan *ga_cache_span_of(const ga_mcache *c, uintptr_t a)
{
    uintptr_t idx = ga_arena_index(a);
    if (__builtin_expect(idx >= GA_ARENA_L2_ENTRIES, 0)) return NULL;
    ga_heaparena *ha = c->arenas[idx];
    if (__builtin_expect(ha == NULL, 0)) return NULL;
    return ha->spans[(a / GA_PAGE_SIZE) % GA_PAGES_PER_ARENA];
}

/* free.c: ga_free with s = ga_span_of(h, p) already looked up (NULL when none), so a
 * free the owner path declines does not walk the arena index twice. */
ga_status ga_free_in_span(struct ga_heap *h, ga_mspan *s, void *p);

/* The owner's free of an allocated object in s = ga_span_of(p), when c holds s: true
 * when done. false: not that case, or a double free — ga_free_in_span decides and
 * reports. */
static inline bool ga_free_owner_fast(ga_mcache *c, ga_mspan *s, void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (__atomic_load_n(&s->cachedBy, __ATOMIC_RELAXED) != c || !s->fastFree)
        return false;
    /* We own s: nobody else changes freeindex, allocCache, allocBits or ownerFreedBits. */
    uint32_t fi = atomic_load_explicit(&s->freeindex, memory_order_relaxed);
    if ((fi & 63) != 0 && fi < s->nelems && a == s->startAddr + (uintptr_t)(fi - 1) * s->elemsize &&
        s->allocCount > s->allocCountBeforeCache) {
        /* LIFO (see the header): slot fi-1 is in allocCache's word; give it back there */
        unsigned i = fi - 1;
        uint64_t bit = 1ull << (i & 63);
        if (__builtin_expect(!((atomic_load_explicit(&s->allocBits[i >> 6], memory_order_relaxed) |
                                s->ownerFreedBits[i >> 6] |
                                atomic_load_explicit(&s->freedBits[i >> 6], memory_order_relaxed)) & bit), 1)) {
            GA_ON_FREE(c->heap, p, s->elemsize);
            s->needzero = 1;                               /* the slot holds the old object */
            s->allocCache = (s->allocCache << 1) | 1;
            atomic_store_explicit(&s->freeindex, i, memory_order_relaxed);
            s->allocCount--;
            s->ownerReused++;
            return true;
        }
        return false;                                      /* a double free: ga_free reports it */
    }
    if (a >= s->startAddr && a < s->limit) {
        unsigned i = ga_divide_by_elemsize((uint32_t)(a - s->startAddr), s->divMul);
        uint64_t bit = 1ull << (i & 63);
        if (__builtin_expect(s->startAddr + (uintptr_t)i * s->elemsize == a &&
                             (i < fi ||
                              (atomic_load_explicit(&s->allocBits[i >> 6], memory_order_relaxed) & bit)) &&
                             !((s->ownerFreedBits[i >> 6] |
                                atomic_load_explicit(&s->freedBits[i >> 6], memory_order_relaxed)) & bit), 1)) {
            /* relaxed atomic store: a plain store for the owner, readable by others */
            __atomic_store_n(&s->ownerFreedBits[i >> 6], s->ownerFreedBits[i >> 6] | bit, __ATOMIC_RELAXED);
            __atomic_store_n(&s->ownerFrees, s->ownerFrees + 1, __ATOMIC_RELAXED);
            GA_ON_FREE(c->heap, p, s->elemsize);
            return true;
        }
    }
    return false;
}
#endif
