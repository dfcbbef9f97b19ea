/*
 * schedpoint.h — schedule points for the controlled scheduler (harness/sched.c, issue 15).
 *
 * Owns: the GA_SCHED_POINT macro and the lock wrappers GA_SPIN_LOCK / GA_SPIN_UNLOCK /
 * GA_MUTEX_LOCK / GA_MUTEX_UNLOCK that alloc/ uses at every place where another thread's
 * action could interleave and matter (free's publish and sweep request, cacheSpan /
 * uncacheSpan, central list moves, sweepgen transitions, the heap lock, which also guards
 * the page allocator, the scavenger, GC begin/end).
 *
 * Invariants:
 * - Without GALLOC_SCHED (release, libgalloc, every preset but `sched`) the point is
 *   ((void)0) and each wrapper is textually the plain call it replaces (ga_spin_lock(l),
 *   pthread_mutex_lock(m), ...): the object code is unchanged (ci: objdump comparison in
 *   harness/tests/sched_release_unchanged.sh).
 * - With GALLOC_SCHED the point calls the hook stored in the heap object (set by
 *   ga_heap_set_sched_hook; never a global). A heap without a hook behaves as a plain build.
 *   A lock becomes "try; if busy, tell the scheduler this thread is blocked on that lock
 *   (GA_SCHED_BLOCKED) and try again when it runs next"; an unlock tells the scheduler
 *   (GA_SCHED_UNLOCKED) so the threads blocked on it become runnable. So exactly one
 *   logical thread runs at a time and none ever spins on a lock held by a descheduled one.
 * - Only the running thread calls the hook; the hook may switch to another thread and
 *   return later.
 * Calls: the hook (harness/sched.c in tests). Implemented in alloc/schedpoint.c.
 */
#ifndef GA_SCHEDPOINT_H
#define GA_SCHEDPOINT_H

struct ga_heap;

enum ga_sched_event {
    GA_SCHED_POINT_EV = 0,   /* a schedule point: the scheduler may switch threads here */
    GA_SCHED_BLOCKED = 1,    /* the thread found `obj` (a lock) busy: run someone else */
    GA_SCHED_UNLOCKED = 2,   /* the thread released lock `obj`: its waiters may run */
};

/* name: a static string naming the point ("free.publish"); obj: the object the next step
 * touches (span, lock, heap; NULL if none), so POS can tell racing steps apart. */
typedef void (*ga_sched_fn)(void *ctx, const char *name, int event, const void *obj);

#ifdef GALLOC_SCHED
void ga_heap_set_sched_hook(struct ga_heap *h, ga_sched_fn fn, void *ctx);
void ga_sched_point(struct ga_heap *h, const char *name, const void *obj);
void ga_sched_spin_lock(struct ga_heap *h, void *l, const char *name);
void ga_sched_spin_unlock(struct ga_heap *h, void *l);
void ga_sched_mutex_lock(struct ga_heap *h, void *m, const char *name);
void ga_sched_mutex_unlock(struct ga_heap *h, void *m);
#define GA_SCHED_POINT(h, name, obj) ga_sched_point((h), (name), (obj))
#define GA_SCHED_ATTACHED(h)         ((h)->sched_fn != NULL)   /* a controlled scheduler runs this heap */
#define GA_SPIN_LOCK(h, l, name)     ga_sched_spin_lock((h), (l), (name))
#define GA_SPIN_UNLOCK(h, l)         ga_sched_spin_unlock((h), (l))
#define GA_MUTEX_LOCK(h, m, name)    ga_sched_mutex_lock((h), (m), (name))
#define GA_MUTEX_UNLOCK(h, m)        ga_sched_mutex_unlock((h), (m))
#else
#define GA_SCHED_POINT(h, name, obj) ((void)0)
#define GA_SCHED_ATTACHED(h)         false
#define GA_SPIN_LOCK(h, l, name)     ga_spin_lock(l)
#define GA_SPIN_UNLOCK(h, l)         ga_spin_unlock(l)
#define GA_MUTEX_LOCK(h, m, name)    pthread_mutex_lock(m)
#define GA_MUTEX_UNLOCK(h, m)        pthread_mutex_unlock(m)
#endif

#endif
