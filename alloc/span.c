/*
 * span.c — one mspan's slot bookkeeping (spec §2): allocCache, nextFreeFast,
 * nextFreeIndex, refillAllocCache, and the bit work of sweeping one span.
 *
 * Owns the meaning of a span's bitmaps:
 *   allocated(i) := i < freeindex || allocBits[i]          (A5)
 *   allocatedBelow: a multiple of 64, or nelems once full; <= freeindex; set at window
 *   changes and when the span is found full (internal.h)
 *   allocCache bit k == !allocBits[freeindex + k] in the window (A7)
 *   bits at i >= nelems are zero in allocBits and gcmarkBits (A6)
 * Allocation never writes allocBits; sweeping rewrites it in place (see internal.h
 * for why in place). This file calls nothing below it: placing a swept span on a list
 * or freeing it is central.c's and heap.c's business.
 */
#include "internal.h"

static inline uint64_t load_word(const ga_mspan *s, unsigned w)
{
    return w < s->nwords ? atomic_load_explicit(&s->allocBits[w], memory_order_relaxed) : 0;
}

/* refillAllocCache: allocCache = ~(8 bytes of allocBits from byte whichByte), read
 * little-endian. whichByte is always a multiple of 8, so this is one bitmap word. */
void ga_span_refill_alloc_cache(ga_mspan *s, unsigned whichByte)
{
    uint64_t w = load_word(s, whichByte / 8);
    if (__builtin_expect(s->plant == GA_PLANT_REFILL_OFF_BY_ONE, 0)) w >>= 1;
    s->allocCache = ~w;
}

/* The search found no free slot: freeindex = nelems, and since every slot is allocated
 * now, the bound goes to nelems too (frees into a full span never read freeindex). */
static unsigned span_full(ga_mspan *s, uint32_t snelems)
{
    atomic_store_explicit(&s->freeindex, snelems, memory_order_relaxed);
    atomic_store_explicit(&s->allocatedBelow, snelems, memory_order_release);
    return snelems;
}

/* nextFreeIndex (spec §2.5): the slow search; refills allocCache at window ends.
 * Returns nelems when the span is full. The caller increments allocCount. */
unsigned ga_span_next_free_index(ga_mspan *s)
{
    uint32_t sfreeindex = atomic_load_explicit(&s->freeindex, memory_order_relaxed);
    uint32_t snelems = s->nelems;
    if (sfreeindex > snelems) {
        ga_heap_report_broken(NULL, "span %#lx: freeindex %u > nelems %u",
                              (unsigned long)s->startAddr, sfreeindex, snelems);
        return snelems;
    }
    if (sfreeindex == snelems)
        return span_full(s, snelems);
    uint64_t cache = s->allocCache;
    unsigned t = cache ? (unsigned)__builtin_ctzll(cache) : 64;
    uint32_t below = 0;          /* a new window start: every slot before it is allocated */
    while (t == 64) {
        sfreeindex = (sfreeindex + 64) & ~(uint32_t)63;
        if (sfreeindex >= snelems)
            return span_full(s, snelems);
        ga_span_refill_alloc_cache(s, sfreeindex / 8);
        below = sfreeindex;
        cache = s->allocCache;
        t = cache ? (unsigned)__builtin_ctzll(cache) : 64;
    }
    uint32_t result = sfreeindex + t;
    if (result >= snelems)
        return span_full(s, snelems);
    s->allocCache = (t + 1 == 64) ? 0 : s->allocCache >> (t + 1);
    sfreeindex = result + 1;
    if (sfreeindex % 64 == 0 && sfreeindex != snelems) {
        ga_span_refill_alloc_cache(s, sfreeindex / 8);
        below = sfreeindex;
    }
    atomic_store_explicit(&s->freeindex, sfreeindex, memory_order_relaxed);
    /* after freeindex: a reader that loads allocatedBelow (acquire) and then freeindex
     * never sees the bound above it (verify reads them the other way, but needs a
     * quiescent heap anyway) */
    if (below) atomic_store_explicit(&s->allocatedBelow, below, memory_order_release);
    return result;
}

unsigned ga_span_count_allocated(const ga_mspan *s)
{
    uint32_t fi = atomic_load_explicit(&((ga_mspan *)s)->freeindex, memory_order_relaxed);
    unsigned n = 0;
    for (unsigned w = 0; w < s->nwords; w++) {
        uint64_t word = load_word(s, w);
        unsigned lo = w * 64;
        if (fi >= lo + 64) word = ~0ull;
        else if (fi > lo) word |= (1ull << (fi - lo)) - 1;
        if (s->nelems < lo + 64) word &= (s->nelems <= lo) ? 0 : ((1ull << (s->nelems - lo)) - 1);
        n += ga_popcount64(word);
    }
    return n;
}

/* Merge Green Tea inline mark bits (63 bytes at trailer+64) into gcmarkBits, then reset
 * the trailer with the class byte (moveInlineMarks, spec §8 step 4). */
static void merge_inline_marks(ga_mspan *s)
{
    uint8_t *tr = ga_span_trailer(s);
    uint8_t *marks = tr + 64;
    for (unsigned i = 0; i < s->nelems && i < 63 * 8; i++)
        if ((marks[i >> 3] >> (i & 7)) & 1)
            s->gcmarkBits[i >> 6] |= 1ull << (i & 63);
    memset(tr, 0, GA_GT_INLINE_MARK_BYTES - 1);
    tr[GA_GT_INLINE_MARK_BYTES - 1] = s->spanclass;
}

/* The bit work of sweeping an owned span (spec §8 steps 4-9). The new allocBits are the
 * objects that survive: the marked ones after a GC cycle (use_marks), otherwise the
 * allocated ones, in both cases minus explicit frees consumed from freedBits. A free
 * racing with us either lands before we consume its word (swept now) or sees
 * sweepRequested == 0 afterwards and asks again (swept later). */
unsigned ga_span_sweep_bits(ga_heap *h, ga_mspan *s, bool use_marks)
{
    bool late_clear = s->plant == GA_PLANT_LOST_SWEEP_REQUEST;
    /* First of all: a validator that still reads the old bound answers as it would have
     * before this sweep began (the same race as reading the old freeindex). */
    atomic_store_explicit(&s->allocatedBelow, 0, memory_order_release);
    if (!late_clear) atomic_store(&s->sweepRequested, 0);
    if (use_marks && ga_span_has_inline_marks(h, s))
        merge_inline_marks(s);
    uint32_t fi = atomic_load_explicit(&s->freeindex, memory_order_relaxed);
    unsigned nalloc = 0, before = 0;
    for (unsigned w = 0; w < s->nwords; w++) {
        unsigned lo = w * 64;
        uint64_t valid = (s->nelems >= lo + 64) ? ~0ull : ((1ull << (s->nelems - lo)) - 1);
        uint64_t consumed = atomic_load_explicit(&s->freedBits[w], memory_order_relaxed);
        if (consumed) consumed = atomic_exchange(&s->freedBits[w], 0);
        uint64_t owner = s->ownerFreedBits[w];
        if (owner) {
            __atomic_store_n(&s->ownerFreedBits[w], 0, __ATOMIC_RELAXED);
            if (owner & consumed) {
                /* freed by the owner and again by another thread before we swept */
                unsigned i = lo + (unsigned)__builtin_ctzll(owner & consumed);
                ga_heap_misuse(h, GA_ERR_DOUBLE_FREE, (void *)(s->startAddr + (uintptr_t)i * s->elemsize),
                               "double free (freed by the owning thread and by another thread)");
            }
            consumed |= owner;
        }
        uint64_t allocated = atomic_load_explicit(&s->allocBits[w], memory_order_relaxed);
        if (fi >= lo + 64) allocated = ~0ull;
        else if (fi > lo) allocated |= (1ull << (fi - lo)) - 1;
        allocated &= valid;
        if (consumed & ~allocated) {
            /* a free published on a slot that is free now: a double free that raced with
             * the owner's LIFO free (internal.h: it frees a slot before any sweep) or with
             * an earlier sweep (its validation read freeindex or allocatedBelow from before
             * that sweep); the bit is dropped */
            unsigned i = lo + (unsigned)__builtin_ctzll(consumed & ~allocated);
            ga_heap_misuse(h, GA_ERR_DOUBLE_FREE, (void *)(s->startAddr + (uintptr_t)i * s->elemsize),
                           "double free (raced with the owner's reuse of the slot or with a sweep)");
            consumed &= allocated;
        }
        uint64_t live = allocated;
        if (use_marks) {
            uint64_t marks = s->gcmarkBits[w] & valid;
            if (marks & ~allocated) {
                unsigned i = lo + (unsigned)__builtin_ctzll(marks & ~allocated);
                ga_heap_report_broken(h, "A14 zombie: span %#lx slot %u (%#lx) is marked but not allocated",
                                      (unsigned long)s->startAddr, i,
                                      (unsigned long)(s->startAddr + (uintptr_t)i * s->elemsize));
            }
            live = marks & allocated;
        }
        live &= ~consumed;
        uint64_t dead = allocated & ~live;
        if (dead && s->tinyBits)
            __atomic_store_n(&s->tinyBits[w], s->tinyBits[w] & ~dead, __ATOMIC_RELAXED);
#ifdef GA_ANNOTATING
        /* objects that died by not being marked were never announced as freed */
        for (uint64_t d = dead & ~consumed; d; d &= d - 1) {
            unsigned i = lo + (unsigned)__builtin_ctzll(d);
            uintptr_t slot = s->startAddr + (uintptr_t)i * s->elemsize;
            bool header = !ga_spanclass_noscan(s->spanclass) && s->elemsize > GA_MIN_SIZE_FOR_HEADER && s->divMul;
            GA_ON_FREE(h, (void *)(slot + (header ? GA_MALLOC_HEADER : 0)), s->elemsize - (header ? GA_MALLOC_HEADER : 0));
            if (!h->opt.no_poison) GA_ASAN_POISON((void *)slot, s->elemsize);
        }
#endif
        if (dead && h->opt.poison_free) {
            for (uint64_t d = dead; d; d &= d - 1) {
                unsigned i = lo + (unsigned)__builtin_ctzll(d);
                void *slot = (void *)(s->startAddr + (uintptr_t)i * s->elemsize);
                GA_OPEN(h, slot, s->elemsize);
                memset(slot, 0xdf, s->elemsize);
                GA_CLOSE(h, slot, s->elemsize);
            }
        }
        atomic_store_explicit(&s->allocBits[w], live, memory_order_relaxed);
        s->gcmarkBits[w] = 0;
        nalloc += ga_popcount64(live);
        before += ga_popcount64(allocated);
    }
    GA_SCHED_POINT(h, "sweep.bits", s);
    if (late_clear) atomic_store(&s->sweepRequested, 0);
    /* Publish the new allocBits before freeindex drops to 0: a concurrent validator
     * that reads freeindex == 0 (acquire) must see every live slot's bit set. */
    atomic_store_explicit(&s->freeindex, 0, memory_order_release);
    s->allocCount = (uint16_t)nalloc;
    __atomic_store_n(&s->ownerFrees, 0, __ATOMIC_RELAXED);
    ga_span_refill_alloc_cache(s, 0);
    unsigned nfreed = before - nalloc;
    if (nfreed) s->needzero = 1;
    return nfreed;
}
