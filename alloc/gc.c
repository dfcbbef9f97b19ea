/*
 * gc.c — GC-style cycles and sweeping (spec §8, §12.3), driven by the caller.
 *
 * A cycle is stop-the-world: ga_gc_begin finishes all sweeping (finishsweep_m) and flushes
 * every mcache; the caller marks live objects with ga_gc_mark;
 * ga_gc_end bumps sweepgen by 2, which by list parity makes every span unswept. Spans
 * are then swept lazily (cacheSpan, ga_sweep): objects not marked are reclaimed, empty
 * spans go back to the heap. Allocations made while marking are allocated black
 * (cache.c). Marks go to gcmarkBits, or to the Green Tea trailer for 16..512-byte
 * classes (merged at sweep, span.c). Nothing is swept while a cycle marks: a sweep
 * without marks would discard them (central.c keeps requested sweeps waiting).
 * Go's per-arena pageMarks (which let its sweeper free whole spans fast) are left out:
 * galloc's sweep reads each span's marks directly.
 * Calls: cache.c (releaseAll), central.c (sweeping).
 */
#include "internal.h"

void ga_mark_slot(ga_heap *h, ga_mspan *s, unsigned i)
{
    if (ga_span_has_inline_marks(h, s) && i < 63 * 8) {
        uint8_t *marks = ga_span_trailer(s) + 64;
        marks[i >> 3] |= (uint8_t)(1u << (i & 7));
    } else {
        s->gcmarkBits[i >> 6] |= 1ull << (i & 63);
    }
}

size_t ga_sweep(ga_heap *h, size_t max_spans)
{
    size_t n = 0;
    for (unsigned i = 0; i < GA_NUM_SPAN_CLASSES && n < max_spans; i++) {
        /* A class that never had a span has nothing to sweep: skip its lock (136 lock
         * round trips per call were 6% of a one-op fuzz input). A span of it created
         * meanwhile is born swept. Under a controlled scheduler every class is visited,
         * so the stored schedules (corpora/regressions/mt) keep their point counts. */
        if (!ga_class_seen(h, (ga_spanclass)i) && !GA_SCHED_ATTACHED(h)) continue;
        n += ga_central_sweep_some(h, &h->central[i], max_spans - n);
    }
    return n;
}

void ga_gc_begin(ga_heap *h)
{
    if (atomic_load(&h->marking)) return;
    GA_SCHED_POINT(h, "gc.begin", h);
    for (ga_mcache *c = h->caches; c; c = c->next) ga_cache_release_all(c);
    ga_sweep(h, SIZE_MAX);                       /* finishsweep_m */
    GA_SCHED_POINT(h, "gc.begin.marking", h);
    atomic_store(&h->marking, true);
    GA_SCHED_POINT(h, "gc.begin.sweep", h);
    /* A free from another thread may have moved a span onto an unswept list after the
     * sweep above; ga_gc_end would turn that list into a swept one with the span still
     * unswept. From here on frees leave spans where they are (central.c), so one more
     * pass empties the unswept lists for good. Nothing is marked yet: sweeping without
     * marks loses nothing. */
    if (__builtin_expect(h->opt.plant == GA_PLANT_GC_BEGIN_ONE_PASS, 0)) return;   /* planted (issue 15): a
                                       * free between the two passes leaves an unswept span behind (verify C2) */
    ga_sweep(h, SIZE_MAX);
}

bool ga_gc_mark(ga_heap *h, const void *p)
{
    if (!atomic_load(&h->marking)) return false;
    uintptr_t a = (uintptr_t)p;
    ga_mspan *s = ga_span_of_heap(h, a);
    if (!s || a >= (ga_spanclass_sizeclass(s->spanclass) ? s->limit : s->startAddr + s->elemsize)) return false;
    unsigned i = ga_span_obj_index(s, a);
    if (!ga_span_slot_allocated(s, i)) return false;
    ga_mark_slot(h, s, i);
    return true;
}

void ga_gc_end(ga_heap *h)
{
    if (!atomic_load(&h->marking)) return;
    /* sweepgen first, then marking: a racing free that sees marking false already sees
     * every span unswept, so it moves nothing onto a list whose role just flipped. */
    GA_SCHED_POINT(h, "gc.end", h);
    uint32_t sg = atomic_load(&h->sweepgen) + 2;
    if (__builtin_expect(h->opt.plant == GA_PLANT_GC_END_ORDER, 0)) {
        /* planted (issue 15): marking first re-opens the race the order above closes: a
         * free that sees marking false and the old sweepgen moves its span to an unswept
         * list that the bump then turns into a swept one (verify C2) */
        atomic_store(&h->marking, false);
        GA_SCHED_POINT(h, "gc.end.marking", h);
    }
    atomic_store(&h->sweepgen, sg);
    GA_SCHED_POINT(h, "gc.end.sweepgen", h);
    atomic_store(&h->marking, false);
    for (ga_mcache *c = h->caches; c; c = c->next) c->flushGen = sg;
    atomic_fetch_add(&h->cnt[0].numGC, 1);
}
