/*
 * gsched.h — the controlled scheduler (issue 15): N logical threads, real pthreads, of
 * which exactly one runs at a time; at every schedule point a seeded strategy (random,
 * PCT, POS) or a recorded schedule (replay) decides who runs next. Every decision is
 * recorded, so any run can be replayed exactly from (its inputs, its decisions).
 *
 * (Named gsched.h, not sched.h, so that it never shadows the system <sched.h>.)
 *
 * Schedule points come from two places: the allocator's GA_SCHED_POINT / lock wrappers
 * (alloc/schedpoint.h; the hook is installed by gs_attach, only in the sched build) and
 * the harness's own gs_point / gs_block / gs_wake (op boundaries, the world lock of
 * harness/mt.c).
 *
 * Invariants: one thread holds the baton at a time (mutex + one condvar per thread); the
 * scheduler's state is touched only with that mutex held; a thread blocked on a resource
 * (a lock, a harness resource) is never chosen until someone wakes the resource; when no
 * thread is runnable and some are blocked, the run is a deadlock finding; the decision
 * list is the schedule: decision i = the thread chosen at the i-th schedule point.
 * Replay: decision i is followed if that thread is runnable, else the fallback (keep the
 * current thread if runnable, else the lowest runnable id), so every decision list is a
 * valid schedule (the minimizer and fuzz_mt rely on it).
 * Calls: pthreads; alloc/schedpoint.h (sched build).
 */
#ifndef GALLOC_GSCHED_H
#define GALLOC_GSCHED_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "galloc.h"

#define GS_MAX_THREADS 8

typedef enum gs_strategy { GS_RANDOM = 0, GS_PCT, GS_POS, GS_REPLAY, GS_DIRECTED, GS_NSTRATEGIES } gs_strategy;

/* GS_DIRECTED: a schedule written by hand, by points: run thread tid until it waits at the
 * schedule point named `until` (NULL: until it finishes or blocks), then the next directive;
 * after the last one, the replay fallback (no preemption). The decisions are recorded like
 * any others, so a directed run replays as GS_REPLAY. */
typedef struct gs_directive { unsigned tid; const char *until; } gs_directive;
const char *gs_strategy_name(gs_strategy s);
int gs_strategy_from_name(const char *name);   /* -1 if unknown */

typedef struct gs_config {
    gs_strategy strategy;
    uint64_t seed;
    unsigned pct_depth;        /* PCT: bug depth d (default 3) */
    size_t pct_steps;          /* PCT: k, the step count the change points are drawn from (default 2000) */
    const uint8_t *replay;     /* GS_REPLAY: decisions to follow */
    size_t nreplay;
    size_t max_steps;          /* 0: 10 million; beyond it the run is a livelock finding */
    const gs_directive *directives;   /* GS_DIRECTED */
    size_t ndirectives;
} gs_config;

typedef enum gs_result { GS_DONE = 0, GS_DEADLOCK = 1, GS_LIVELOCK = 2 } gs_result;

typedef struct gs_sched gs_sched;
/* The body each logical thread runs (tid 0..n-1), on its own pthread. */
typedef void (*gs_body)(void *arg, unsigned tid);

gs_sched *gs_new(unsigned nthreads, const gs_config *cfg);   /* NULL on bad input / ENOMEM */
/* After a GS_DEADLOCK run the threads stay parked forever (they hold allocator locks):
 * gs_free then leaks the scheduler on purpose; the heap must not be destroyed. */
void gs_free(gs_sched *s);
/* Installs the scheduler as h's schedule-point hook (sched build; elsewhere a no-op and
 * gs_has_alloc_points() is false). */
void gs_attach(gs_sched *s, ga_heap *h);
void gs_detach(ga_heap *h);
bool gs_has_alloc_points(void);
/* Runs body on n threads under the scheduler until all return (GS_DONE), no thread can
 * run (GS_DEADLOCK) or max_steps is passed (GS_LIVELOCK). Once per gs_sched. */
gs_result gs_run(gs_sched *s, gs_body body, void *arg);

/* From a logical thread (the one running): */
void gs_point(gs_sched *s, const char *name, const void *obj);   /* a schedule point */
void gs_block(gs_sched *s, const char *name, const void *res);   /* wait until res is woken, then return */
void gs_wake(gs_sched *s, const void *res);                      /* make res's waiters runnable (no switch) */
unsigned gs_self(const gs_sched *s);
/* The calling thread's tag (the harness: the index of the op it is in), recorded with every
 * decision that picks this thread (gs_tags), so a minimizer can drop an op's decisions. */
void gs_set_tag(gs_sched *s, uint32_t tag);
const uint32_t *gs_tags(const gs_sched *s);

/* The record. */
const uint8_t *gs_decisions(const gs_sched *s, size_t *n);
size_t gs_steps(const gs_sched *s);
/* Number of preemptions in a decision list: switches away from a thread that could have
 * gone on (as recorded; for reports). */
size_t gs_count_switches(const uint8_t *d, size_t n);
/* The point the deadlock / last decision happened at, for reports. */
const char *gs_last_point(const gs_sched *s, unsigned tid);
#endif
