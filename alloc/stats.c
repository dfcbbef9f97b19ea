/*
 * stats.c — statistics in the shape of runtime.MemStats (spec §10.E).
 *
 * Counters kept elsewhere: page-level bytes (heap.c, under the heap lock), cumulative
 * small/large/tiny counts (flushed by cache.c at refill/release, by sweeping for frees).
 * Reading them folds in what live caches hold (allocCount - allocCountBeforeCache,
 * tinyAllocs, owner LIFO frees in ownerReused: an alloc and a free each) and explicit
 * frees not yet swept (popcount of freedBits), so the result
 * is exact whenever the heap is quiescent, without flushing any cache.
 * Calls: nothing below; reads heap and span state under the heap lock.
 */
#include "internal.h"

void ga_stats_compute(ga_heap *h, ga_stats *st)
{
    memset(st, 0, sizeof *st);
    uint64_t mallocs[GA_NUM_CLASSES], frees[GA_NUM_CLASSES];
    for (unsigned c = 0; c < GA_NUM_CLASSES; c++) {
        mallocs[c] = GA_COUNTER(h, smallAllocCount[c]);
        frees[c] = GA_COUNTER(h, smallFreeCount[c]);
    }
    uint64_t tiny = GA_COUNTER(h, tinyAllocCount);
    uint64_t largeFree = GA_COUNTER(h, largeFree), largeFreeCount = GA_COUNTER(h, largeFreeCount);
    pthread_mutex_lock(&h->lock);
    for (ga_mcache *c = h->caches; c; c = c->next) {
        tiny += c->tinyAllocs;
        for (unsigned i = 0; i < GA_NUM_SPAN_CLASSES; i++) {
            ga_mspan *s = c->alloc[i];
            if (s == &ga_emptymspan) continue;
            if (s->allocCount > s->allocCountBeforeCache) mallocs[i >> 1] += s->allocCount - s->allocCountBeforeCache;
            mallocs[i >> 1] += s->ownerReused;   /* owner LIFO frees: an alloc and a free each */
            frees[i >> 1] += s->ownerReused;
        }
    }
    for (size_t k = 0; k < h->nallspans; k++) {
        ga_mspan *s = h->allspans[k];
        if (atomic_load(&s->state) != GA_SPAN_INUSE) continue;
        st->spans_inuse++;
        uint64_t pending = 0;
        for (unsigned w = 0; w < s->nwords; w++)
            pending += (uint64_t)ga_popcount64(atomic_load(&s->freedBits[w]));
        pending += __atomic_load_n(&s->ownerFrees, __ATOMIC_RELAXED);
        unsigned c = s->spanclass >> 1;
        if (c) frees[c] += pending;
        else if (pending) { largeFree += s->elemsize; largeFreeCount++; }
    }
    st->heap_inuse = h->heapInUse;
    st->heap_released = h->heapReleased;
    st->heap_idle = h->heapFree + h->heapReleased;
    st->heap_sys = h->heapInUse + h->heapFree + h->heapReleased;
    st->pages_inuse = h->pagesInUse;
    /* every metadata mapping: persistent chunks (fixalloc, bitmaps, hints), the heap struct,
     * the arena index (mapped whole, touched sparsely) and the page allocator's blocks */
    st->meta_sys = h->metaSys + sizeof *h + GA_ARENA_L2_ENTRIES * sizeof(ga_heaparena *) + pa_meta_bytes(h->pages);
    st->sys = h->heapSys + st->meta_sys;
    pthread_mutex_unlock(&h->lock);

    st->large_alloc = GA_COUNTER(h, largeAlloc);
    st->large_alloc_count = GA_COUNTER(h, largeAllocCount);
    st->large_free = largeFree;
    st->large_free_count = largeFreeCount;
    st->tiny_allocs = tiny;
    st->num_gc = GA_COUNTER(h, numGC);
    st->mallocs = st->large_alloc_count + tiny;
    st->frees = st->large_free_count + tiny;
    st->total_alloc = st->large_alloc;
    st->heap_alloc = st->large_alloc - st->large_free;
    for (unsigned c = 1; c < GA_NUM_CLASSES; c++) {
        st->by_size[c].size = ga_class_to_size[c];
        st->by_size[c].mallocs = mallocs[c];
        st->by_size[c].frees = frees[c];
        st->mallocs += mallocs[c];
        st->frees += frees[c];
        st->total_alloc += mallocs[c] * ga_class_to_size[c];
        st->heap_alloc += (mallocs[c] - frees[c]) * ga_class_to_size[c];
    }
    st->heap_objects = st->mallocs - st->frees;
}

void ga_read_stats(ga_heap *h, ga_stats *st) { ga_stats_compute(h, st); }
