/*
 * sched.c — the controlled scheduler (gsched.h): baton passing between real pthreads,
 * the strategies (random, PCT with depth d, POS, replay), blocking and deadlock detection,
 * the decision record.
 *
 * Owns: every gs_sched and its threads. The thread-local `cur` (allowed: a thread-local)
 * names the logical thread a pthread runs.
 * Invariants: all fields of gs_sched are read and written with s->mu held, by the thread
 * holding the baton (s->running) or by the controller while no logical thread runs;
 * runnable(t) = started && !finished && blocked_on == NULL; exactly one thread (or the
 * controller) runs between two decisions; decision i is recorded at the i-th call of
 * decide(), in every strategy, so a replay calls decide() at the same places.
 * PCT (Burckhardt et al., ASPLOS 2010): priorities d..d+n-1 in random order, d-1 change
 * points uniform in [1, k]; the highest-priority runnable thread runs; at change point i
 * the running thread's priority drops to d-1-i (below every initial one).
 * POS (Yuan et al., CAV 2018): random priorities; after a step, the thread that made it
 * and every thread whose pending step touches the same object get fresh priorities.
 * Calls: pthreads, alloc/schedpoint.h (GALLOC_SCHED builds).
 */
#include "gsched.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef GALLOC_SCHED
#include "schedpoint.h"
#endif

typedef struct gs_thread {
    gs_sched *s;
    unsigned id;
    pthread_t pt;
    pthread_cond_t cv;
    bool started, finished;
    const void *blocked_on;
    const void *pending;        /* object of the step this thread will make next (POS) */
    const char *point;          /* where it waits */
    uint64_t prio;
    uint32_t tag;
} gs_thread;

struct gs_sched {
    pthread_mutex_t mu;
    pthread_cond_t main_cv;
    unsigned n;
    gs_config cfg;
    gs_thread t[GS_MAX_THREADS];
    int running;                /* thread holding the baton, -1: the controller */
    unsigned nlive;
    gs_result result;
    bool over;                  /* deadlock / livelock: nobody runs any more */
    uint64_t rng;
    size_t steps;
    size_t pct_change[8];
    unsigned pct_nchange;
    size_t directive;           /* GS_DIRECTED: the one in force */
    uint8_t *dec;
    uint32_t *tags;
    size_t ndec, capdec;
    gs_body body;
    void *arg;
};

static _Thread_local gs_thread *cur;

static const char *NAMES[GS_NSTRATEGIES] = { "random", "pct", "pos", "replay", "directed" };
const char *gs_strategy_name(gs_strategy s) { return (unsigned)s < GS_NSTRATEGIES ? NAMES[s] : "unknown"; }
int gs_strategy_from_name(const char *name)
{
    for (int i = 0; i < GS_NSTRATEGIES; i++)
        if (strcmp(name, NAMES[i]) == 0) return i;
    return -1;
}

static uint64_t rnd(gs_sched *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

gs_sched *gs_new(unsigned nthreads, const gs_config *cfg)
{
    if (nthreads == 0 || nthreads > GS_MAX_THREADS || !cfg || (unsigned)cfg->strategy >= GS_NSTRATEGIES) {
        errno = EINVAL;
        return NULL;
    }
    gs_sched *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->main_cv, NULL);
    s->n = nthreads;
    s->cfg = *cfg;
    if (!s->cfg.pct_depth) s->cfg.pct_depth = 3;
    if (s->cfg.pct_depth > 8) s->cfg.pct_depth = 8;
    if (!s->cfg.pct_steps) s->cfg.pct_steps = 2000;
    if (!s->cfg.max_steps) s->cfg.max_steps = 10000000;
    s->rng = cfg->seed * 0x2545f4914f6cdd1dull + 0x1234567;
    s->running = -1;
    for (unsigned i = 0; i < nthreads; i++) {
        s->t[i].s = s;
        s->t[i].id = i;
        pthread_cond_init(&s->t[i].cv, NULL);
        s->t[i].point = "start";
    }
    if (s->cfg.strategy == GS_PCT) {
        /* distinct priorities d .. d+n-1 in random order (Fisher-Yates) */
        unsigned d = s->cfg.pct_depth, perm[GS_MAX_THREADS];
        for (unsigned i = 0; i < nthreads; i++) perm[i] = i;
        for (unsigned i = nthreads - 1; i > 0; i--) {
            unsigned j = (unsigned)(rnd(s) % (i + 1)), x = perm[i];
            perm[i] = perm[j];
            perm[j] = x;
        }
        for (unsigned i = 0; i < nthreads; i++) s->t[i].prio = d + perm[i];
        s->pct_nchange = d - 1;
        for (unsigned i = 0; i < s->pct_nchange; i++) s->pct_change[i] = 1 + (size_t)(rnd(s) % s->cfg.pct_steps);
    } else if (s->cfg.strategy == GS_POS) {
        for (unsigned i = 0; i < nthreads; i++) s->t[i].prio = rnd(s);
    }
    return s;
}

void gs_free(gs_sched *s)
{
    if (!s || s->over) return;      /* after a deadlock the parked threads still use it */
    for (unsigned i = 0; i < s->n; i++) pthread_cond_destroy(&s->t[i].cv);
    pthread_cond_destroy(&s->main_cv);
    pthread_mutex_destroy(&s->mu);
    free(s->dec);
    free(s->tags);
    free(s);
}

static bool runnable(const gs_thread *t) { return t->started && !t->finished && !t->blocked_on; }

static void record(gs_sched *s, unsigned tid)
{
    if (s->ndec == s->capdec) {
        size_t nc = s->capdec ? s->capdec * 2 : 1024;
        uint8_t *d = realloc(s->dec, nc);
        uint32_t *g = d ? realloc(s->tags, nc * sizeof *g) : NULL;
        if (!d || !g) { fprintf(stderr, "gsched: out of memory recording the schedule\n"); abort(); }
        s->dec = d;
        s->tags = g;
        s->capdec = nc;
    }
    s->tags[s->ndec] = s->t[tid].tag;
    s->dec[s->ndec++] = (uint8_t)tid;
}

/* Picks the next thread (s->mu held). self: the thread deciding (-1: controller), which is
 * runnable unless it blocked or finished. executed: object of the step self just made.
 * Returns -1 if no thread is runnable. */
static int decide(gs_sched *s, int self, const void *executed)
{
    unsigned cand[GS_MAX_THREADS], nc = 0;
    for (unsigned i = 0; i < s->n; i++)
        if (runnable(&s->t[i])) cand[nc++] = i;
    if (nc == 0) return -1;
    s->steps++;
    int pick = -1;
    switch (s->cfg.strategy) {
    case GS_RANDOM:
        pick = (int)cand[rnd(s) % nc];
        break;
    case GS_PCT:
        for (unsigned i = 0; i < s->pct_nchange; i++)
            if (s->pct_change[i] == s->steps && self >= 0) s->t[self].prio = s->cfg.pct_depth - 1 - i;
        for (unsigned i = 0; i < nc; i++)
            if (pick < 0 || s->t[cand[i]].prio > s->t[pick].prio) pick = (int)cand[i];
        break;
    case GS_POS:
        if (self >= 0) {
            s->t[self].prio = rnd(s);
            if (executed)
                for (unsigned i = 0; i < s->n; i++)
                    if ((int)i != self && s->t[i].pending == executed) s->t[i].prio = rnd(s);
        }
        for (unsigned i = 0; i < nc; i++)
            if (pick < 0 || s->t[cand[i]].prio > s->t[pick].prio) pick = (int)cand[i];
        break;
    case GS_DIRECTED:
        /* the directive in force picks its thread until that thread waits at `until`
         * (or finishes / blocks); then the next one */
        while (s->directive < s->cfg.ndirectives) {
            const gs_directive *d = &s->cfg.directives[s->directive];
            const gs_thread *t = d->tid < s->n ? &s->t[d->tid] : NULL;
            if (t && runnable(t) && !(d->until && t->point && strcmp(t->point, d->until) == 0)) {
                pick = (int)d->tid;
                break;
            }
            s->directive++;
        }
        if (pick >= 0) break;
        if (self >= 0 && runnable(&s->t[self])) pick = self;   /* then the replay fallback */
        else pick = (int)cand[0];
        break;
    case GS_REPLAY:
    default: {
        size_t i = s->ndec;
        if (i < s->cfg.nreplay && s->cfg.replay[i] < s->n && runnable(&s->t[s->cfg.replay[i]])) pick = s->cfg.replay[i];
        else if (self >= 0 && runnable(&s->t[self])) pick = self;
        else pick = (int)cand[0];
        break;
    }
    }
    record(s, (unsigned)pick);
    return pick;
}

/* s->mu held by the running thread `me`: hand the baton to `next` (or end the run) and
 * wait until it comes back. */
static void switch_to(gs_sched *s, gs_thread *me, int next)
{
    if (next < 0) {
        /* nobody can run: deadlock if a live thread is blocked, else the run is over */
        bool blocked = false;
        for (unsigned i = 0; i < s->n; i++)
            if (s->t[i].started && !s->t[i].finished) blocked = true;
        if (blocked) {
            s->result = GS_DEADLOCK;
            s->over = true;
        }
        s->running = -1;
        pthread_cond_signal(&s->main_cv);
        if (me && !me->finished)
            for (;;) pthread_cond_wait(&me->cv, &s->mu);   /* parked for good */
        return;
    }
    if (s->steps > s->cfg.max_steps && !s->over) {
        s->result = GS_LIVELOCK;
        s->over = true;
        s->running = -1;
        pthread_cond_signal(&s->main_cv);
        if (me) for (;;) pthread_cond_wait(&me->cv, &s->mu);
    }
    if (me && next == (int)me->id) return;
    s->running = next;
    pthread_cond_signal(&s->t[next].cv);
    if (me && !me->finished)
        while (s->running != (int)me->id) pthread_cond_wait(&me->cv, &s->mu);
}

void gs_point(gs_sched *s, const char *name, const void *obj)
{
    gs_thread *me = cur;
    if (!me || me->s != s) return;     /* not a logical thread (the controller): no point */
    pthread_mutex_lock(&s->mu);
    const void *executed = me->pending;
    me->pending = obj;
    me->point = name;
    int next = decide(s, (int)me->id, executed);
    switch_to(s, me, next);
    pthread_mutex_unlock(&s->mu);
}

void gs_block(gs_sched *s, const char *name, const void *res)
{
    gs_thread *me = cur;
    if (!me || me->s != s) return;
    pthread_mutex_lock(&s->mu);
    me->blocked_on = res;
    me->pending = res;
    me->point = name;
    int next = decide(s, (int)me->id, NULL);
    switch_to(s, me, next);
    pthread_mutex_unlock(&s->mu);
}

void gs_wake(gs_sched *s, const void *res)
{
    gs_thread *me = cur;
    if (!me || me->s != s) return;
    pthread_mutex_lock(&s->mu);
    for (unsigned i = 0; i < s->n; i++)
        if (s->t[i].blocked_on == res) s->t[i].blocked_on = NULL;
    pthread_mutex_unlock(&s->mu);
}

unsigned gs_self(const gs_sched *s)
{
    (void)s;
    return cur ? cur->id : 0;
}

static void *thread_main(void *arg)
{
    gs_thread *me = arg;
    gs_sched *s = me->s;
    cur = me;
    pthread_mutex_lock(&s->mu);
    while (s->running != (int)me->id) pthread_cond_wait(&me->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    s->body(s->arg, me->id);
    pthread_mutex_lock(&s->mu);
    me->finished = true;
    me->point = "done";
    /* threads blocked on this one's resources are the body's business (gs_wake) */
    int next = decide(s, (int)me->id, me->pending);
    switch_to(s, me, next);
    pthread_mutex_unlock(&s->mu);
    cur = NULL;
    return NULL;
}

gs_result gs_run(gs_sched *s, gs_body body, void *arg)
{
    s->body = body;
    s->arg = arg;
    for (unsigned i = 0; i < s->n; i++) {
        s->t[i].started = true;
        if (pthread_create(&s->t[i].pt, NULL, thread_main, &s->t[i]) != 0) {
            fprintf(stderr, "gsched: pthread_create failed\n");
            abort();
        }
    }
    pthread_mutex_lock(&s->mu);
    int first = decide(s, -1, NULL);
    s->running = first;
    pthread_cond_signal(&s->t[first].cv);
    while (s->running != -1) pthread_cond_wait(&s->main_cv, &s->mu);
    gs_result r = s->result;
    bool over = s->over;
    pthread_mutex_unlock(&s->mu);
    for (unsigned i = 0; i < s->n; i++) {
        if (over) pthread_detach(s->t[i].pt);
        else pthread_join(s->t[i].pt, NULL);
    }
    return r;
}

void gs_set_tag(gs_sched *s, uint32_t tag)
{
    gs_thread *me = cur;
    if (!me || me->s != s) return;
    pthread_mutex_lock(&s->mu);
    me->tag = tag;
    pthread_mutex_unlock(&s->mu);
}

const uint32_t *gs_tags(const gs_sched *s) { return s->tags; }

const uint8_t *gs_decisions(const gs_sched *s, size_t *n)
{
    *n = s->ndec;
    return s->dec;
}

size_t gs_steps(const gs_sched *s) { return s->steps; }

const char *gs_last_point(const gs_sched *s, unsigned tid) { return tid < s->n ? s->t[tid].point : "?"; }

size_t gs_count_switches(const uint8_t *d, size_t n)
{
    size_t k = 0;
    for (size_t i = 1; i < n; i++) k += d[i] != d[i - 1];
    return k;
}

#ifdef GALLOC_SCHED
static void hook(void *ctx, const char *name, int event, const void *obj)
{
    gs_sched *s = ctx;
    if (event == GA_SCHED_BLOCKED) gs_block(s, name, obj);
    else if (event == GA_SCHED_UNLOCKED) gs_wake(s, obj);
    else gs_point(s, name, obj);
}
void gs_attach(gs_sched *s, ga_heap *h) { ga_heap_set_sched_hook(h, hook, s); }
void gs_detach(ga_heap *h) { ga_heap_set_sched_hook(h, NULL, NULL); }
bool gs_has_alloc_points(void) { return true; }
#else
void gs_attach(gs_sched *s, ga_heap *h) { (void)s; (void)h; }
void gs_detach(ga_heap *h) { (void)h; }
bool gs_has_alloc_points(void) { return false; }
#endif
