/*
 * scavenge.c — returning free memory to the OS (spec §6.8), on demand and by policy.
 *
 * The page allocator finds free, unscavenged runs (highest addresses first) and
 * releases them through the OS layer (madvise DONTNEED); this file holds the heap
 * lock around it and keeps heapFree / heapReleased in step (E3, E4). The policy step
 * first sweeps everything pending, so empty spans have reached the page allocator,
 * then releases what exceeds the retained budget.
 * Calls: pagealloc.c (pa_scavenge), gc.c (ga_sweep).
 */
#include "internal.h"

#define GA_DEFAULT_RETAIN ((size_t)2 << 20)

static size_t scavenge_locked(ga_heap *h, size_t nbytes, bool force)
{
    GA_SCHED_POINT(h, "scavenge", h->pages);
    size_t released = pa_scavenge(h->pages, nbytes, force);
    h->heapReleased += released;
    h->heapFree -= released;
    return released;
}

size_t ga_scavenge(ga_heap *h, size_t nbytes)
{
    GA_MUTEX_LOCK(h, &h->lock, "scavenge.lock");
    size_t released = scavenge_locked(h, nbytes, true);
    GA_MUTEX_UNLOCK(h, &h->lock);
    return released;
}

size_t ga_scavenge_policy(ga_heap *h)
{
    size_t retain = h->opt.scavenge_retain_bytes ? h->opt.scavenge_retain_bytes : GA_DEFAULT_RETAIN;
    if (retain == SIZE_MAX) return 0;
    if (!atomic_load(&h->marking)) ga_sweep(h, SIZE_MAX);
    GA_MUTEX_LOCK(h, &h->lock, "scavenge.lock");
    size_t released = 0;
    if (h->heapFree > retain) {
        size_t want = h->heapFree - retain;
        released = scavenge_locked(h, want, false);
        if (released < want) released += scavenge_locked(h, want - released, true);
    }
    GA_MUTEX_UNLOCK(h, &h->lock);
    return released;
}
