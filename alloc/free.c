/*
 * free.c — explicit free and pointer queries, callable from any thread.
 *
 * ga_free validates the pointer (owned, start of an object, allocated, not a tiny
 * block), then records the free in the span's freedBits with one atomic OR — which
 * also catches a racing double free — and, if it is the first pending free of the
 * span, asks central.c to have the span swept. Sweeping (span.c) reclaims the slot.
 * Nothing here ever reuses memory directly, so a free is O(1) and lock-free except
 * for that one request per span and sweep.
 * Calls: heap.c (span lookup), central.c (request a sweep).
 */
#include "internal.h"

/* Resolves p to its span and slot. Returns GA_OK / GA_ERR_NOT_OWNED / GA_ERR_INTERIOR. */
static ga_status resolve(ga_heap *h, const void *p, ga_mspan **sp, unsigned *idx, uintptr_t *slot, bool *header)
{
    uintptr_t a = (uintptr_t)p;
    ga_mspan *s = ga_span_of_heap(h, a);
    if (!s) return GA_ERR_NOT_OWNED;
    *sp = s;
    *header = false;
    if (ga_spanclass_sizeclass(s->spanclass) == 0) {
        *idx = 0;
        *slot = s->startAddr;
        return a == s->startAddr ? GA_OK : GA_ERR_INTERIOR;
    }
    if (a >= s->limit) return GA_ERR_INTERIOR;   /* in the span's tail, not a slot */
    unsigned i = ga_span_obj_index(s, a);
    uintptr_t base = s->startAddr + (uintptr_t)i * s->elemsize;
    *idx = i;
    *slot = base;
    *header = !ga_spanclass_noscan(s->spanclass) && s->elemsize > GA_MIN_SIZE_FOR_HEADER;
    return a == base + (*header ? GA_MALLOC_HEADER : 0) ? GA_OK : GA_ERR_INTERIOR;
}

static ga_status misuse(ga_heap *h, ga_status st, const void *p, const char *what)
{
    ga_heap_misuse(h, st, p, what);
    return st;
}

static ga_status free_slow(ga_heap *h, void *p);

/* After the freed bit is published, s may be swept by another thread, emptied, given back
 * to the heap and its struct reused for another span before we get here: only a relaxed
 * peek happens outside the central lock; central.c re-checks s's identity under the lock
 * (freeing a span needs that lock) before it touches anything. If another free already
 * raised sweepRequested, that one asks. */
static inline void request_sweep_once(ga_heap *h, ga_mspan *s, uintptr_t base, ga_spanclass spc)
{
    GA_SCHED_POINT(h, "free.published", s);
    if (!atomic_load_explicit(&s->sweepRequested, memory_order_relaxed))
        ga_central_request_sweep(h, s, base, spc);
}

/* Fast path: a valid free of a plain small object in s = ga_span_of(h, p) (NULL: none),
 * which the caller has already looked up (libgalloc's free did, for the owner path). Any
 * doubt goes to free_slow, which re-validates from scratch and names the misuse. */
ga_status ga_free_in_span(ga_heap *h, ga_mspan *s, void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (__builtin_expect(s != NULL, 1) &&
        __builtin_expect(__atomic_load_n(&s->fastFree, __ATOMIC_RELAXED) && atomic_load_explicit(&s->state, memory_order_acquire) == GA_SPAN_INUSE &&
                         a >= s->startAddr && a < s->limit, 1)) {
        unsigned i = ga_divide_by_elemsize((uint32_t)(a - s->startAddr), s->divMul);
        if (__builtin_expect(s->startAddr + (uintptr_t)i * s->elemsize == a && ga_span_slot_allocated(s, i), 1)) {
            uint64_t bit = 1ull << (i & 63);
            uint64_t pending = __atomic_load_n(&s->ownerFreedBits[i >> 6], __ATOMIC_RELAXED);
#ifdef GA_ANNOTATING
            /* A free already pending must be refused before it is announced (memcheck would
             * see the block freed twice); elsewhere the fetch_or below catches it alone. */
            pending |= atomic_load_explicit(&s->freedBits[i >> 6], memory_order_relaxed);
#endif
            if (__builtin_expect((pending & bit) != 0, 0))
                return misuse(h, GA_ERR_DOUBLE_FREE, p, "double free (a free of this object is pending)");
            /* Announce the free before publishing it: once the bit is set, the owner
             * may sweep and hand the slot out again. */
            GA_ON_FREE(h, p, s->elemsize);
            uintptr_t base_of_s = s->startAddr;   /* s's identity, read while our object pins it */
            ga_spanclass spc_of_s = s->spanclass;
            GA_SCHED_POINT(h, "free.publish", s);
            if (__builtin_expect(!(atomic_fetch_or(&s->freedBits[i >> 6], bit) & bit), 1)) {
                request_sweep_once(h, s, base_of_s, spc_of_s);
                return GA_OK;
            }
            return misuse(h, GA_ERR_DOUBLE_FREE, p, "double free (a free of this object is pending)");
        }
    }
    return free_slow(h, p);
}

ga_status ga_free(ga_heap *h, void *p)
{
    return ga_free_in_span(h, ga_span_of(h, (uintptr_t)p), p);
}

ga_status ga_free_local(ga_cache *cc, void *p)
{
    ga_mcache *c = (ga_mcache *)cc;
    ga_mspan *s = ga_cache_span_of(c, (uintptr_t)p);
    if (__builtin_expect(s != NULL && ga_free_owner_fast(c, s, p), 1)) return GA_OK;   /* internal.h */
    /* Not the owner's plain case, or a double free: ga_free refuses a pending free
     * (owner-local or not) with the same report. */
    return ga_free_in_span(c->heap, s, p);
}

__attribute__((noinline)) static ga_status free_slow(ga_heap *h, void *p)
{
    if (!p) return GA_OK;
    ga_mspan *s = NULL;
    unsigned i = 0;
    uintptr_t slot = 0;
    bool header = false;
    ga_status st = resolve(h, p, &s, &i, &slot, &header);
    if (st == GA_ERR_NOT_OWNED) {
        /* A page that once belonged to a span (stale spans[] entry) but is free now:
         * the object was freed and its span went back to the heap. */
        if (ga_span_of(h, (uintptr_t)p) != NULL)
            return misuse(h, GA_ERR_DOUBLE_FREE, p, "double free or dangling pointer (its span was already freed)");
        return misuse(h, st, p, "free of a pointer the heap does not own");
    }
    if (s->tinyBits && (uintptr_t)p < s->limit && ga_tiny_bit(s->tinyBits, i))
        return misuse(h, GA_ERR_TINY, p, "free of a tiny-allocator object (only a GC cycle reclaims it)");
    if (st == GA_ERR_INTERIOR) return misuse(h, st, p, "free of a pointer that is not the start of an object");
    if (!ga_span_slot_allocated(s, i))
        return misuse(h, GA_ERR_DOUBLE_FREE, p, "double free (slot is not allocated)");
    uint64_t bit = 1ull << (i & 63);
    if (__atomic_load_n(&s->ownerFreedBits[i >> 6], __ATOMIC_RELAXED) & bit)
        return misuse(h, GA_ERR_DOUBLE_FREE, p, "double free (the owning thread freed it already)");
    if (atomic_load_explicit(&s->freedBits[i >> 6], memory_order_relaxed) & bit)   /* before announcing */
        return misuse(h, GA_ERR_DOUBLE_FREE, p, "double free (a free of this object is pending)");
    if (!h->opt.no_poison) {          /* before publishing: see ga_free */
        GA_VG_FREELIKE(h, p);
        GA_ASAN_POISON(slot, s->elemsize);
    }
    uintptr_t base_of_s = s->startAddr;   /* s's identity, read while our object pins it */
    ga_spanclass spc_of_s = s->spanclass;
    GA_SCHED_POINT(h, "free.publish", s);
    uint64_t old = atomic_fetch_or(&s->freedBits[i >> 6], bit);
    if (old & bit)
        return misuse(h, GA_ERR_DOUBLE_FREE, p, "double free (a free of this object is pending)");
    request_sweep_once(h, s, base_of_s, spc_of_s);
    return GA_OK;
}

ga_status ga_lookup(ga_heap *h, const void *p, ga_object_info *info)
{
    memset(info, 0, sizeof *info);
    ga_mspan *s = NULL;
    unsigned i = 0;
    uintptr_t slot = 0;
    bool header = false;
    ga_status st = resolve(h, p, &s, &i, &slot, &header);
    if (st == GA_ERR_NOT_OWNED) return st;
    info->span_base = s->startAddr;
    info->span_npages = s->npages;
    info->spanclass = s->spanclass;
    info->sizeclass = ga_spanclass_sizeclass(s->spanclass);
    info->elemsize = s->elemsize;
    if (info->sizeclass && (uintptr_t)p >= s->limit) return GA_ERR_INTERIOR;
    info->slot = slot;
    info->slot_index = i;
    info->object = slot + (header ? GA_MALLOC_HEADER : 0);
    info->usable = s->elemsize - (header ? GA_MALLOC_HEADER : 0);
    info->tiny = s->tinyBits && ga_tiny_bit(s->tinyBits, i);
    info->allocated = ga_span_slot_allocated(s, i) && !ga_abit(s->freedBits, i) &&
                      !((__atomic_load_n(&s->ownerFreedBits[i >> 6], __ATOMIC_RELAXED) >> (i & 63)) & 1);
    return st;
}

size_t ga_usable_size(ga_heap *h, const void *p)
{
    ga_object_info info;
    if (!p || ga_lookup(h, p, &info) != GA_OK || !info.allocated) return 0;
    return info.usable;
}
