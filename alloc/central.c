/*
 * central.c — mcentral (spec §4): the spans of one span class that no mcache holds.
 *
 * Four lists per class, partial/full × swept/unswept; which pair is "swept" flips with
 * heap sweepgen parity, so a GC cycle turns every swept list into an unswept one
 * without touching a span. A span sits in at most one list (s->list says which):
 *   swept lists:   sweepgen == h; partial iff allocCount < nelems
 *   unswept lists: sweepgen == h-2 (after a GC), or sweepgen == h with an explicit
 *                  free waiting (sweepRequested)
 * Large spans (class 0) live on the full lists between frees, as in Go.
 * c->lock guards the lists and the sweepgen transitions of non-cached spans.
 * Calls: span.c (sweeping bits), heap.c (grow, free span). Lock order: central, heap.
 */
#include "internal.h"
#include <sched.h>

/* c lies in the heap object, which comes from the OS layer's alloc_meta: zero memory
 * (galloc.h, ga_os.alloc_meta), i.e. an unlocked lock and four empty lists already.
 * Zeroing the 136 centrals again cost 30% of a fuzzer's empty input (fuzz/bench.sh:
 * heap create + check + destroy). */
void ga_central_init(ga_mcentral *c, ga_spanclass spc)
{
    c->spanclass = spc;
}

void ga_spin_lock_slow(ga_spinlock *l)
{
    for (unsigned spins = 0;; spins++) {
        int expected = 0;
        if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->v, &expected, 1, memory_order_acquire, memory_order_relaxed))
            return;
        if (spins > 64) sched_yield();
        else __builtin_ia32_pause();
    }
}

/* ---- intrusive FIFO lists ---- */
void ga_list_insert(ga_spanlist *l, ga_mspan *s)
{
    s->next = NULL;
    s->prev = l->last;
    if (l->last) l->last->next = s; else l->first = s;
    l->last = s;
    s->list = l;
    l->n++;
}

void ga_list_remove(ga_mspan *s)
{
    ga_spanlist *l = s->list;
    if (!l) return;
    if (s->prev) s->prev->next = s->next; else l->first = s->next;
    if (s->next) s->next->prev = s->prev; else l->last = s->prev;
    s->next = s->prev = NULL;
    s->list = NULL;
    l->n--;
}

ga_mspan *ga_list_pop(ga_spanlist *l)
{
    ga_mspan *s = l->first;
    if (s) ga_list_remove(s);
    return s;
}

/* With c->lock held and s swept (sweepgen == h): put it on the right list, or give
 * its pages back if nothing in it survives. Returns true if the span was freed. */
bool ga_central_place_swept(ga_heap *h, ga_mcentral *c, ga_mspan *s, bool preserve)
{
    uint32_t sg = atomic_load(&h->sweepgen);
    if (preserve) return false;
    GA_SCHED_POINT(h, "central.place", s);
    if (s->allocCount == 0) {
        ga_heap_free_span(h, s);
        return true;
    }
    /* While a cycle marks, a requested sweep waits: an unswept list of now turns into a
     * swept one at ga_gc_end (parity), so the span stays swept until then, when it is
     * swept with its marks like every other. */
    if (atomic_load(&s->sweepRequested) && !atomic_load(&h->marking))
        ga_list_insert(ga_partial_unswept(c, sg), s);
    else if (s->allocCount < s->nelems)
        ga_list_insert(ga_partial_swept(c, sg), s);
    else
        ga_list_insert(ga_full_swept(c, sg), s);
    return false;
}

/* Sweep s, which the caller took off its list and set to sweepgen h-1 (c->lock held).
 * use_marks: the span was unswept since a GC cycle, so marks decide what lives. */
static bool sweep_span(ga_heap *h, ga_mcentral *c, ga_mspan *s, bool use_marks, bool preserve)
{
    unsigned nfreed = ga_span_sweep_bits(h, s, use_marks);
    unsigned cls = ga_spanclass_sizeclass(s->spanclass);
    if (nfreed) {
        ga_counters *cnt = ga_span_counters(h, s);
        if (cls) {
            atomic_fetch_add(&cnt->smallFreeCount[cls], nfreed);
        } else {
            atomic_fetch_add(&cnt->largeFreeCount, 1);
            atomic_fetch_add(&cnt->largeFree, s->elemsize);
        }
    }
    GA_SCHED_POINT(h, "sweep.sweepgen", s);
    atomic_store(&s->sweepgen, atomic_load(&h->sweepgen));
    return ga_central_place_swept(h, c, s, preserve);
}

/* Take s (in an unswept list) and sweep it. */
static bool take_and_sweep(ga_heap *h, ga_mcentral *c, ga_mspan *s, bool preserve)
{
    uint32_t sg = atomic_load(&h->sweepgen);
    bool use_marks = atomic_load(&s->sweepgen) == sg - 2;
    ga_list_remove(s);
    atomic_store(&s->sweepgen, sg - 1);
    GA_SCHED_POINT(h, "central.take", s);
    return sweep_span(h, c, s, use_marks, preserve);
}

/* cacheSpan (spec §4.3): a span with at least one free slot for an mcache. */
ga_mspan *ga_central_cache_span(ga_heap *h, ga_mcentral *c)
{
    GA_SPIN_LOCK(h, &c->lock, "central.lock");
    uint32_t sg = atomic_load(&h->sweepgen);
    ga_mspan *s = ga_list_pop(ga_partial_swept(c, sg));
    int budget = 100;
    while (!s && budget-- > 0) {
        ga_mspan *u = ga_partial_unswept(c, sg)->first;
        if (!u) u = ga_full_unswept(c, sg)->first;
        if (!u) break;
        take_and_sweep(h, c, u, true);
        if (u->allocCount < u->nelems) s = u;
        else ga_list_insert(ga_full_swept(c, sg), u);
    }
    GA_SPIN_UNLOCK(h, &c->lock);
    if (!s) return NULL;   /* caller grows */
    GA_SCHED_POINT(h, "central.cacheSpan", s);
    /* havespan: rebuild allocCache at freeindex */
    uint32_t fi = atomic_load_explicit(&s->freeindex, memory_order_relaxed);
    if (s->allocCount >= s->nelems || fi >= s->nelems)
        ga_heap_report_broken(h, "cacheSpan: span %#lx has no free slot (allocCount %u, freeindex %u, nelems %u)",
                              (unsigned long)s->startAddr, s->allocCount, fi, s->nelems);
    ga_span_refill_alloc_cache(s, (fi & ~63u) / 8);
    s->allocCache = (fi % 64) ? s->allocCache >> (fi % 64) : s->allocCache;
    return s;
}

/* uncacheSpan (spec §4.4): an mcache gives s back. A free that arrived while it was
 * cached is swept right now, so empty spans go back to the heap at once. */
void ga_central_uncache_span(ga_heap *h, ga_mcentral *c, ga_mspan *s)
{
    GA_SPIN_LOCK(h, &c->lock, "central.lock");
    GA_SCHED_POINT(h, "central.uncacheSpan", s);
    uint32_t sg = atomic_load(&h->sweepgen);
    uint32_t ssg = atomic_load(&s->sweepgen);
    /* (Go also handles a span cached before a cycle began, sweepgen h+1: ga_gc_begin
     * releases every cache first, so galloc never has one.) */
    if (ssg != sg + 3)
        ga_heap_report_broken(h, "uncacheSpan: span %#lx has sweepgen %u, not cached (h %u)",
                              (unsigned long)s->startAddr, ssg, sg);
    if (atomic_load(&h->marking)) {
        /* Never sweep while a cycle marks: a sweep without marks clears gcmarkBits (the
         * marks set so far and the black marks of allocations made meanwhile) and leaves
         * stale Green Tea marks on the slots it frees, so after ga_gc_end live objects
         * would be reclaimed. The frees wait for the sweep after ga_gc_end. */
        atomic_store(&s->sweepgen, sg);
        ga_central_place_swept(h, c, s, false);
    } else if (s->ownerFrees || atomic_load(&s->sweepRequested)) {
        atomic_store(&s->sweepgen, sg - 1);
        sweep_span(h, c, s, false, false);
    } else {
        atomic_store(&s->sweepgen, sg);
        ga_central_place_swept(h, c, s, false);
    }
    GA_SPIN_UNLOCK(h, &c->lock);
}

/* An explicit free set a bit in s->freedBits and was first to raise sweepRequested.
 * Cached spans are left to their owner; spans being swept are re-checked by the
 * sweeper (place_swept); swept spans move to the unswept set; large spans are swept
 * at once (their one object is gone). Nothing moves while a GC cycle is marking:
 * ga_gc_end turns every span unswept anyway. */
void ga_central_request_sweep(ga_heap *h, ga_mspan *s, uintptr_t base, ga_spanclass spc)
{
    ga_mcentral *c = &h->central[spc];
    GA_SPIN_LOCK(h, &c->lock, "central.lock");
    /* Freeing a span of this class takes this lock, so from here s cannot die under us.
     * If it died before (a sweep consumed our bit, found the span empty and gave it back),
     * its struct may already describe another span: then there is nothing to ask. */
    if (atomic_load(&s->state) != GA_SPAN_INUSE || s->startAddr != base || s->spanclass != spc ||
        atomic_exchange(&s->sweepRequested, 1)) {
        GA_SPIN_UNLOCK(h, &c->lock);
        return;
    }
    GA_SCHED_POINT(h, "free.request", s);
    uint32_t sg = atomic_load(&h->sweepgen);
    if (s->plant == GA_PLANT_CROSS_CACHE_FREE && s->cachedBy) atomic_store(&s->sweepRequested, 0);
    if (!atomic_load(&h->marking) && atomic_load(&s->state) == GA_SPAN_INUSE &&
        atomic_load(&s->sweepgen) == sg && s->list &&
        (s->list == ga_partial_swept(c, sg) || s->list == ga_full_swept(c, sg))) {
        if (ga_spanclass_sizeclass(s->spanclass) == 0) {
            take_and_sweep(h, c, s, false);
        } else {
            GA_SCHED_POINT(h, "central.move", s);
            ga_list_remove(s);
            ga_list_insert(ga_partial_unswept(c, sg), s);
        }
    }
    GA_SPIN_UNLOCK(h, &c->lock);
}

/* sweepone for one class: sweep up to max unswept spans, full ones first. */
size_t ga_central_sweep_some(ga_heap *h, ga_mcentral *c, size_t max)
{
    size_t n = 0;
    GA_SPIN_LOCK(h, &c->lock, "central.lock");
    uint32_t sg = atomic_load(&h->sweepgen);
    while (n < max) {
        ga_mspan *s = ga_full_unswept(c, sg)->first;
        if (!s) s = ga_partial_unswept(c, sg)->first;
        if (!s) break;
        take_and_sweep(h, c, s, false);
        n++;
    }
    GA_SPIN_UNLOCK(h, &c->lock);
    return n;
}
