/*
 * schedpoint.c — the sched build's side of the schedule points (alloc/schedpoint.h): the hook
 * setter and the cooperative lock wrappers. Empty unless GALLOC_SCHED is defined.
 *
 * Owns: ga_heap.sched_fn / sched_ctx (the hook lives in the heap object, never a global).
 * Invariants: with no hook set every wrapper is the plain lock / unlock; with a hook a lock
 * is only ever tried (never spun on), a busy lock is reported as GA_SCHED_BLOCKED and
 * retried when the scheduler runs the thread again, and every unlock is reported.
 * Calls: the hook; pthread and the spinlock of internal.h.
 */
#include "internal.h"

#ifdef GALLOC_SCHED
void ga_heap_set_sched_hook(ga_heap *h, ga_sched_fn fn, void *ctx)
{
    h->sched_fn = fn;
    h->sched_ctx = ctx;
}

void ga_sched_point(ga_heap *h, const char *name, const void *obj)
{
    if (h->sched_fn) h->sched_fn(h->sched_ctx, name, GA_SCHED_POINT_EV, obj);
}

void ga_sched_spin_lock(ga_heap *h, void *lv, const char *name)
{
    ga_spinlock *l = lv;
    if (!h->sched_fn) { ga_spin_lock(l); return; }
    h->sched_fn(h->sched_ctx, name, GA_SCHED_POINT_EV, l);
    for (;;) {
        int expected = 0;
        if (atomic_compare_exchange_strong_explicit(&l->v, &expected, 1, memory_order_acquire, memory_order_relaxed))
            return;
        h->sched_fn(h->sched_ctx, name, GA_SCHED_BLOCKED, l);
    }
}

void ga_sched_spin_unlock(ga_heap *h, void *lv)
{
    ga_spin_unlock((ga_spinlock *)lv);
    if (h->sched_fn) h->sched_fn(h->sched_ctx, "unlock", GA_SCHED_UNLOCKED, lv);
}

void ga_sched_mutex_lock(ga_heap *h, void *mv, const char *name)
{
    pthread_mutex_t *m = mv;
    if (!h->sched_fn) { pthread_mutex_lock(m); return; }
    h->sched_fn(h->sched_ctx, name, GA_SCHED_POINT_EV, m);
    while (pthread_mutex_trylock(m) != 0) h->sched_fn(h->sched_ctx, name, GA_SCHED_BLOCKED, m);
}

void ga_sched_mutex_unlock(ga_heap *h, void *mv)
{
    pthread_mutex_unlock((pthread_mutex_t *)mv);
    if (h->sched_fn) h->sched_fn(h->sched_ctx, "unlock", GA_SCHED_UNLOCKED, mv);
}
#else
typedef int ga_sched_unused;   /* ISO C wants a declaration in every translation unit */
#endif
