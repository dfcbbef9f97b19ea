/*
 * cache.c — mcache (spec §3): the top level. One current span per span class, the
 * tiny allocator, refill, large objects, releaseAll, and ga_alloc's dispatch (§1.3).
 *
 * An mcache is owned by one thread at a time, so its fast path takes no lock: the
 * current span's allocCache (nextFreeFast). When the span is full, refill first lets
 * the owner re-sweep it if explicit frees arrived (the way a thread reuses the slots it
 * freed in any order), else gives it back to its mcentral and takes another.
 * Departure from Go (there is no explicit free there): the owner's free of the object it
 * allocated last from the current window is undone at once (owner LIFO free, internal.h's
 * ga_free_owner_fast: freeindex steps back, the slot's allocCache bit is set again), so a
 * malloc/free pair loop never sweeps; the span counts those in ownerReused, which
 * flush_span_stats adds to both the alloc and the free counters.
 * Calls: span.c, central.c (cacheSpan / uncacheSpan), heap.c (large spans).
 */
#include "internal.h"
#include <errno.h>

static inline ga_mcache *impl(ga_cache *c) { return (ga_mcache *)c; }

ga_cache *ga_cache_new(ga_heap *h)
{
    GA_MUTEX_LOCK(h, &h->lock, "heap.lock");
    ga_mcache *c = ga_fixalloc_alloc(&h->cachealloc);
    if (!c) { GA_MUTEX_UNLOCK(h, &h->lock); errno = ENOMEM; return NULL; }
    c->heap = h;
    c->arenas = h->arenas;
    for (unsigned i = 0; i < GA_NUM_SPAN_CLASSES; i++) c->alloc[i] = &ga_emptymspan;
    c->flushGen = atomic_load(&h->sweepgen);
    c->cnt = ga_counters_use(h, atomic_fetch_add(&h->nextCntShard, 1) % GA_CNT_SHARDS);
    c->next = h->caches;
    c->prev = NULL;
    if (h->caches) h->caches->prev = c;
    h->caches = c;
    GA_MUTEX_UNLOCK(h, &h->lock);
    return (ga_cache *)c;
}

ga_heap *ga_cache_heap(ga_cache *c) { return impl(c)->heap; }

/* Stats flushed when a span leaves the cache or is re-swept by its owner (spec §3.7).
 * An owner LIFO free (internal.h) is an allocation the span no longer shows in allocCount
 * and a free no sweep will count: ownerReused goes into both counters. */
static void flush_span_stats(ga_mcache *c, ga_mspan *s)
{
    unsigned cls = ga_spanclass_sizeclass(s->spanclass);
    uint64_t n = s->ownerReused;
    if (s->allocCount > s->allocCountBeforeCache) n += (uint64_t)(s->allocCount - s->allocCountBeforeCache);
    if (n) atomic_fetch_add(&c->cnt->smallAllocCount[cls], n);
    if (s->ownerReused) atomic_fetch_add(&c->cnt->smallFreeCount[cls], s->ownerReused);
    s->ownerReused = 0;
    s->allocCountBeforeCache = 0;
}

static void flush_tiny(ga_mcache *c)
{
    if (c->tinyAllocs) atomic_fetch_add(&c->cnt->tinyAllocCount, c->tinyAllocs);
    c->tinyAllocs = 0;
}

void ga_cache_release_all(ga_mcache *c)
{
    ga_heap *h = c->heap;
    for (unsigned i = 0; i < GA_NUM_SPAN_CLASSES; i++) {
        ga_mspan *s = c->alloc[i];
        if (s == &ga_emptymspan) continue;
        GA_SCHED_POINT(h, "cache.release", s);
        flush_span_stats(c, s);
        __atomic_store_n(&s->cachedBy, NULL, __ATOMIC_RELAXED);
        c->alloc[i] = &ga_emptymspan;
        ga_central_uncache_span(h, &h->central[i], s);
    }
    c->tiny = 0;
    c->tinyoffset = 0;
    flush_tiny(c);
    c->flushGen = atomic_load(&h->sweepgen);
}

void ga_cache_release(ga_cache *c) { ga_cache_release_all(impl(c)); }

void ga_cache_destroy(ga_cache *cc)
{
    if (!cc) return;
    ga_mcache *c = impl(cc);
    ga_heap *h = c->heap;
    ga_cache_release_all(c);
    GA_MUTEX_LOCK(h, &h->lock, "heap.lock");
    ga_pagecache_flush(&c->pcache, h->pages);
    if (c->prev) c->prev->next = c->next; else h->caches = c->next;
    if (c->next) c->next->prev = c->prev;
    ga_fixalloc_free(&h->cachealloc, c);
    GA_MUTEX_UNLOCK(h, &h->lock);
}

/* refill (spec §3.4): the current span of spc is full. Returns the new current span. */
static ga_mspan *refill(ga_mcache *c, ga_spanclass spc)
{
    ga_heap *h = c->heap;
    ga_mspan *s = c->alloc[spc];
    if (s != &ga_emptymspan) {
        if (s->allocCount != s->nelems)
            ga_heap_report_broken(h, "refill: span %#lx not full (allocCount %u, nelems %u)",
                                  (unsigned long)s->startAddr, s->allocCount, s->nelems);
        GA_SCHED_POINT(h, "cache.refill", s);
        flush_span_stats(c, s);
        if ((s->ownerFrees || atomic_load(&s->sweepRequested)) && !atomic_load(&h->marking)) {
            /* Frees arrived while we held it: reclaim them in place and keep going (never
             * while a cycle marks: a sweep without marks would drop them; central.c). */
            unsigned nfreed = ga_span_sweep_bits(h, s, false);
            atomic_fetch_add(&c->cnt->smallFreeCount[ga_spanclass_sizeclass(spc)], nfreed);
            s->allocCountBeforeCache = s->allocCount;
            if (s->allocCount < s->nelems) return s;
            s->allocCountBeforeCache = 0;
        }
        __atomic_store_n(&s->cachedBy, NULL, __ATOMIC_RELAXED);
        c->alloc[spc] = &ga_emptymspan;
        ga_central_uncache_span(h, &h->central[spc], s);
        if (spc == GA_TINY_SPAN_CLASS) flush_tiny(c);
    }
    s = ga_central_cache_span(h, &h->central[spc]);
    if (!s) {
        unsigned cls = ga_spanclass_sizeclass(spc);
        s = ga_heap_alloc_span(h, c, ga_class_to_npages[cls], spc, 1);
        if (!s) return NULL;
    }
    GA_SCHED_POINT(h, "cache.sweepgen", s);
    atomic_store(&s->sweepgen, atomic_load(&h->sweepgen) + 3);
    s->allocCountBeforeCache = s->allocCount;
    __atomic_store_n(&s->cachedBy, c, __ATOMIC_RELAXED);
    c->alloc[spc] = s;
    return s;
}

/* Sets the mark of slot i so the object survives the cycle (allocate black). */
void ga_mark_slot(ga_heap *h, ga_mspan *s, unsigned i);

/* mcache.nextFree (spec §2.5): slow path of a small allocation. */
static uintptr_t next_free(ga_mcache *c, ga_spanclass spc, ga_mspan **out)
{
    ga_heap *h = c->heap;
    ga_mspan *s = c->alloc[spc];
    unsigned idx = ga_span_next_free_index(s);
    if (idx == s->nelems) {
        s = refill(c, spc);
        if (!s) return 0;
        idx = ga_span_next_free_index(s);
    }
    if (idx >= s->nelems) {
        ga_heap_report_broken(h, "nextFree: span %#lx returned slot %u >= nelems %u",
                              (unsigned long)s->startAddr, idx, s->nelems);
        return 0;
    }
    s->allocCount++;
    *out = s;
    uintptr_t v = s->startAddr + (uintptr_t)idx * s->elemsize;
    if (atomic_load_explicit(&h->marking, memory_order_relaxed)) {
        /* STW marking: allocate black and keep no span cached, so no later fast-path
         * allocation can escape the mark. */
        ga_mark_slot(h, s, idx);
        flush_span_stats(c, s);
        __atomic_store_n(&s->cachedBy, NULL, __ATOMIC_RELAXED);
        c->alloc[spc] = &ga_emptymspan;
        ga_central_uncache_span(h, &h->central[spc], s);
    }
    return v;
}

/* A slot of span class spc, opened for use (the caller announces the object). */
static inline uintptr_t small_slot(ga_mcache *c, ga_spanclass spc, ga_mspan **s)
{
    *s = c->alloc[spc];
    uintptr_t v = ga_span_next_free_fast(*s);
    if (!v) v = next_free(c, spc, s);
    if (v) GA_OPEN(c->heap, (void *)v, (*s)->elemsize);
    return v;
}

/* mallocgcTiny (spec §3.2). */
static void *alloc_tiny(ga_mcache *c, size_t size)
{
    uintptr_t off = c->tinyoffset;
    if ((size & 7) == 0) off = (off + 7) & ~(uintptr_t)7;
    else if ((size & 3) == 0) off = (off + 3) & ~(uintptr_t)3;
    else if ((size & 1) == 0) off = (off + 1) & ~(uintptr_t)1;
    if (off + size <= GA_TINY_SIZE && c->tiny) {
        void *x = (void *)(c->tiny + off);
        c->tinyoffset = off + size;
        c->tinyAllocs++;
        return x;
    }
    ga_mspan *s;
    uintptr_t v = small_slot(c, GA_TINY_SPAN_CLASS, &s);
    if (!v) return NULL;
    memset((void *)v, 0, GA_TINY_SIZE);      /* always: the block is shared */
    GA_VG_NOACCESS((void *)v, GA_TINY_SIZE);
    GA_ON_ALLOC(c->heap, (void *)v, GA_TINY_SIZE, 1);   /* one announced block holds many objects */
    unsigned i = ga_span_obj_index(s, v);
    __atomic_store_n(&s->tinyBits[i >> 6], s->tinyBits[i >> 6] | (1ull << (i & 63)), __ATOMIC_RELAXED);
    __atomic_store_n(&s->fastFree, 0, __ATOMIC_RELAXED);   /* frees here must now check tinyBits */
    if (size < c->tinyoffset || c->tiny == 0) {
        c->tiny = v;
        c->tinyoffset = size;
    }
    return (void *)v;
}

/* mallocgcLarge + mcache.allocLarge (spec §3.5). */
static void *alloc_large(ga_mcache *c, size_t size, size_t align, bool noscan, bool zero)
{
    ga_heap *h = c->heap;
    if (size > ((size_t)1 << 46)) { errno = ENOMEM; return NULL; }
    size_t npages = (size + GA_PAGE_SIZE - 1) / GA_PAGE_SIZE;
    size_t align_pages = align > GA_PAGE_SIZE ? align / GA_PAGE_SIZE : 1;
    ga_spanclass spc = ga_make_spanclass(0, noscan);
    ga_mspan *s = ga_heap_alloc_span(h, c, npages, spc, align_pages);
    if (!s) return NULL;
    s->limit = s->startAddr + size;
    atomic_store_explicit(&s->freeindex, 1, memory_order_relaxed);
    s->allocCount = 1;
    atomic_fetch_add(&c->cnt->largeAlloc, npages * GA_PAGE_SIZE);
    atomic_fetch_add(&c->cnt->largeAllocCount, 1);
    if (atomic_load_explicit(&h->marking, memory_order_relaxed)) ga_mark_slot(h, s, 0);
    ga_mcentral *ce = &h->central[spc];
    GA_SPIN_LOCK(h, &ce->lock, "central.lock");
    ga_list_insert(ga_full_swept(ce, atomic_load(&h->sweepgen)), s);
    GA_SPIN_UNLOCK(h, &ce->lock);
    GA_OPEN(h, (void *)s->startAddr, s->elemsize);
    if ((zero || !noscan) && s->needzero) memset((void *)s->startAddr, 0, size);
    GA_VG_NOACCESS((void *)s->startAddr, s->elemsize);
    GA_ON_ALLOC(h, (void *)s->startAddr, s->elemsize, zero || !noscan);
    return (void *)s->startAddr;
}

/* Smallest class >= the one for size whose slots are all `align`-aligned. */
static unsigned aligned_class(size_t size, size_t align)
{
    for (unsigned cls = ga_size_to_class(size); cls < GA_NUM_CLASSES; cls++)
        if (ga_class_to_size[cls] % align == 0) return cls;
    return 0;
}

static void *alloc_slow(ga_mcache *c, size_t size, size_t align, unsigned flags);

/* ga_alloc's fast path: a plain small noscan object from the current span's allocCache.
 * Everything else (and every refill) goes to alloc_slow, kept out of line so this stays a
 * leaf with few registers to save. */
void *ga_alloc(ga_cache *cc, size_t size, size_t align, unsigned flags)
{
    ga_mcache *c = impl(cc);
    void *v = ga_alloc_fast(c, size, align, flags);   /* internal.h */
    return __builtin_expect(v != NULL, 1) ? v : alloc_slow(c, size, align, flags);
}

__attribute__((noinline)) static void *alloc_slow(ga_mcache *c, size_t size, size_t align, unsigned flags)
{
    if (align & (align - 1)) { errno = EINVAL; return NULL; }
    if (size > PTRDIFF_MAX - GA_PAGE_SIZE) { errno = ENOMEM; return NULL; }
    if (size == 0) {                 /* a unique, individually freeable object of class 1 */
        size = 1;
        flags |= GA_NOTINY;
    }
    if (align > 1) flags |= GA_NOTINY;   /* tiny blocks align by size, not by request */
    bool noscan = flags & GA_NOSCAN;
    bool zero = flags & GA_ZERO;
    if (align > 8) {
        /* Headerless: aligned objects use noscan-shaped placement (no malloc header). */
        if (align <= GA_PAGE_SIZE && size <= GA_SMALL_CUTOFF) {
            unsigned cls = aligned_class(size < align ? align : size, align);
            if (cls) {
                ga_mspan *s;
                void *v = (void *)small_slot(c, ga_make_spanclass(cls, true), &s);
                if (!v) { errno = ENOMEM; return NULL; }
                if (zero && s->needzero) memset(v, 0, s->elemsize);
                GA_VG_NOACCESS(v, s->elemsize);
                GA_ON_ALLOC(c->heap, v, s->elemsize, zero);
                return v;
            }
        }
        return alloc_large(c, size, align, true, zero);
    }
    if (size <= GA_SMALL_CUTOFF) {
        if (noscan && size < GA_TINY_SIZE && !(flags & GA_NOTINY))
        {
            void *x = alloc_tiny(c, size);
            if (!x) errno = ENOMEM;
            return x;
        }
        bool header = !noscan && size > GA_MIN_SIZE_FOR_HEADER;
        size_t slot = header ? size + GA_MALLOC_HEADER : size;
        ga_mspan *s;
        uintptr_t v = small_slot(c, ga_make_spanclass(ga_size_to_class(slot), noscan), &s);
        if (!v) { errno = ENOMEM; return NULL; }
        if ((zero || !noscan) && s->needzero) memset((void *)v, 0, s->elemsize);
        if (header) {
            *(uint64_t *)v = 0;   /* the type word: galloc has no types, so 0 */
            GA_VG_NOACCESS((void *)v, s->elemsize);
            v += GA_MALLOC_HEADER;
        } else {
            GA_VG_NOACCESS((void *)v, s->elemsize);
        }
        GA_ON_ALLOC(c->heap, (void *)v, s->elemsize - (header ? GA_MALLOC_HEADER : 0), zero || !noscan);
        return (void *)v;
    }
    return alloc_large(c, size, align, noscan, zero);
}
