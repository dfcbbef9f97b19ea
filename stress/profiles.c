/*
 * profiles.c — the worker threads of galloc-stress and the workloads they run. Owns the
 * stop-the-world protocol on the worker side (register / park / unregister), the shared
 * hand-off queues (ptrq), the per-thread object table, and one step function per profile:
 *
 *   churn     thread-local replace-at-random across every small size class (plus zeroed
 *             and aligned requests)
 *   larson    arrays of objects passed between threads through a FIFO, so most frees
 *             are of objects another thread allocated
 *   prodcons  producers allocate batches (a batch object holding 32 objects) that
 *             consumers check and free
 *   large     objects of 32 KiB .. 8 MiB, a quarter of them handed to other threads
 *   tiny      1..16 byte objects, most through galloc's tiny allocator (only GC frees them)
 *   frag      fill with one size, free every other object, refill with another size
 *   threads   short-lived threads that allocate, free others' leftovers and exit with
 *             live objects (and, with galloc, destroy their cache)
 *   gc        explicit frees plus stop-the-world GC cycles run by the coordinator
 *
 * A step does one operation or a small batch; workers check the stop and stop-the-world
 * flags between steps and never block for long (empty queues yield).
 */
#include "stress.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const profile_names[PR_NPROF + 1] = {
    "churn", "larson", "prodcons", "large", "tiny", "frag", "threads", "gc", "mixed",
};

const char *st_profile_name(int p) { return p >= 0 && p <= PR_NPROF ? profile_names[p] : "?"; }

int st_profile_from_name(const char *s)
{
    for (int i = 0; i <= PR_NPROF; i++)
        if (strcmp(s, profile_names[i]) == 0) return i;
    return -1;
}

/* ---- stop-the-world, worker side ------------------------------------------------- */
void stw_register(tctx *t)
{
    pthread_mutex_lock(&G.stw_m);
    while (atomic_load(&G.stw_req)) pthread_cond_wait(&G.stw_resume_cv, &G.stw_m);
    G.registered++;
    t->registered = true;
    atomic_store(&t->wd_state, WD_RUNNING);
    pthread_mutex_unlock(&G.stw_m);
}

void stw_unregister(tctx *t)
{
    pthread_mutex_lock(&G.stw_m);
    G.registered--;
    t->registered = false;
    atomic_store(&t->wd_state, WD_OFF);
    pthread_cond_signal(&G.stw_parked_cv);
    pthread_mutex_unlock(&G.stw_m);
}

/* Waits while the coordinator holds the world stopped. The coordinator resets `parked`
 * when it resumes, so a thread still waking up is never counted for the next stop. */
void stw_park(tctx *t)
{
    pthread_mutex_lock(&G.stw_m);
    if (atomic_load(&G.stw_req)) {
        uint64_t gen = G.stw_gen;
        G.parked++;
        atomic_store(&t->wd_state, WD_PARKED);
        pthread_cond_signal(&G.stw_parked_cv);
        while (G.stw_gen == gen) pthread_cond_wait(&G.stw_resume_cv, &G.stw_m);
        atomic_store(&t->wd_state, WD_RUNNING);
    }
    pthread_mutex_unlock(&G.stw_m);
}

/* ---- queues ------------------------------------------------------------------------ */
int ptrq_init(ptrq *q, size_t cap)
{
    pthread_mutex_init(&q->m, NULL);
    q->v = calloc(cap, sizeof *q->v);
    q->cap = cap;
    q->head = q->n = 0;
    return q->v ? 0 : -1;
}

bool ptrq_push(ptrq *q, void *p)
{
    pthread_mutex_lock(&q->m);
    bool ok = q->n < q->cap;
    if (ok) { q->v[(q->head + q->n) % q->cap] = p; q->n++; }
    pthread_mutex_unlock(&q->m);
    return ok;
}

void *ptrq_pop(ptrq *q)
{
    void *p = NULL;
    pthread_mutex_lock(&q->m);
    if (q->n) { p = q->v[q->head]; q->head = (q->head + 1) % q->cap; q->n--; }
    pthread_mutex_unlock(&q->m);
    return p;
}

/* ---- table ------------------------------------------------------------------------- */
bool tab_push(tctx *t, const orec *o)
{
    if (t->ntab == t->captab) return false;
    t->tab[t->ntab++] = *o;
    return true;
}

void tab_del(tctx *t, size_t i)
{
    t->tab[i] = t->tab[--t->ntab];
}

/* Frees entry i unless it is a tiny-allocator object (only GC reclaims those). */
static bool tab_free_at(tctx *t, size_t i)
{
    if (st_is_tiny(&t->tab[i])) return false;
    orec o = t->tab[i];
    tab_del(t, i);
    st_free(t, &o);
    return true;
}

/* Frees a random freeable entry (a few probes); false if none was found. */
static bool tab_free_random(tctx *t)
{
    for (int k = 0; k < 8 && t->ntab; k++)
        if (tab_free_at(t, st_rand(t) % t->ntab)) return true;
    return false;
}

/* Keeps the table at most `cap` entries (after a phase change). */
static bool tab_drain(tctx *t, size_t cap)
{
    if (t->ntab <= cap) return false;
    if (!tab_free_random(t)) {
        if (G.cfg.backend == BE_GALLOC) atomic_store(&G.gc_wanted, 1);
        sched_yield();
    }
    return true;
}

static void local_scan(tctx *t)
{
    if (!G.cfg.verify || !t->ntab) return;
    for (int k = 0; k < 4; k++) {
        if (t->scan_cursor >= t->ntab) t->scan_cursor = 0;
        if (!st_check(t, &t->tab[t->scan_cursor++], "at a periodic scan")) return;
    }
}

static unsigned noscan_bit(tctx *t) { return (st_rand(t) & 1) ? OF_NOSCAN : 0; }

/* ---- profiles ---------------------------------------------------------------------- */
static void step_churn(tctx *t)
{
    const size_t cap = 512;
    if (tab_drain(t, cap)) return;
    uint64_t r = st_rand(t);
    size_t i = r % cap;
    uint32_t size = st_size_classes(t);
    unsigned fl = noscan_bit(t), align = 0;
    if ((r >> 20) % 16 == 0) fl |= OF_ZERO;
    else if ((r >> 24) % 32 == 0 && size >= 16) align = 16u << ((r >> 30) % 9);
    if ((r >> 40) % 32 == 0 && t->ntab) { st_rewrite(t, &t->tab[(r >> 44) % t->ntab]); return; }
    orec o;
    if (i < t->ntab) {
        if (st_is_tiny(&t->tab[i])) return;
        orec old = t->tab[i];
        tab_del(t, i);
        if (!st_free(t, &old)) return;
    }
    if (st_alloc(t, size, fl, align, &o)) tab_push(t, &o);
}

/* Frees objects other threads put in our inbox, and puts each new object into another
 * thread's inbox (a free slot among a few probes; when all are taken, the object there
 * is replaced and freed here). With 2+ threads nearly every free is of an object
 * another thread allocated. A step takes up to two objects (8 probes) and puts one, so an
 * inbox settles about a fifth full: a put finds a free slot at once. (Taking at most one
 * let every inbox fill up, and each step then yielded twice: on a loaded machine a yield
 * gives the CPU away, and larson phases fell from ~500k to ~2k ops per thread and second.) */
static void step_larson(tctx *t)
{
    int n = G.cfg.threads;
    larr *mine = &G.inbox[t->slot];
    for (int k = 0, taken = 0; k < 8 && taken < 2; k++) {
        void *old = atomic_exchange_explicit(&mine->obj[st_rand(t) % LARR_N], NULL, memory_order_acq_rel);
        if (!old) continue;
        orec o;
        if (!st_read_hdr(t, old, &o, "taken from a larson inbox")) return;
        if (!st_free(t, &o)) return;
        taken++;
    }
    orec nw;
    if (!st_alloc(t, st_size_range(t, HDR_MIN, 1024), noscan_bit(t), 0, &nw)) return;
    int u = n == 1 ? t->slot : (int)((t->slot + 1 + st_rand(t) % (uint64_t)(n - 1)) % (uint64_t)n);
    larr *dst = &G.inbox[u];
    void *prev = NULL;
    for (int k = 0; k < 12; k++) {
        void *expect = NULL;
        size_t j = st_rand(t) % LARR_N;
        if (atomic_compare_exchange_strong_explicit(&dst->obj[j], &expect, nw.p, memory_order_acq_rel, memory_order_relaxed)) return;
        if ((k == 3 || k == 7) && n > 1) sched_yield();  /* the owner may be waiting for a CPU */
        if (k == 11) prev = atomic_exchange_explicit(&dst->obj[j], nw.p, memory_order_acq_rel);
    }
    if (prev) {
        orec o;
        if (st_read_hdr(t, prev, &o, "displaced from a larson inbox")) st_free(t, &o);
    }
}

static bool consume_batch(tctx *t)
{
    void *b = ptrq_pop(&G.pq);
    if (!b) return false;
    orec bo;
    if (!st_read_hdr(t, b, &bo, "popped as a batch")) return true;
    if (!st_check(t, &bo, "popped as a batch")) return true;
    uint64_t cnt;
    memcpy(&cnt, (char *)b + HDR_MIN, 8);
    for (uint64_t k = 0; k < cnt && k < BATCH_N; k++) {
        void *p;
        memcpy(&p, (char *)b + HDR_MIN + 8 + 8 * k, 8);
        orec o;
        if (!st_read_hdr(t, p, &o, "taken from a batch")) return true;
        if (!st_free(t, &o)) return true;
    }
    st_free(t, &bo);
    return true;
}

static void produce_batch(tctx *t)
{
    orec bo;
    if (!st_alloc(t, BATCH_SIZE, OF_NOSCAN | OF_BATCH, 0, &bo)) return;
    uint64_t cnt = 0;
    for (int k = 0; k < BATCH_N; k++) {
        orec o;
        if (!st_alloc(t, st_size_range(t, HDR_MIN, 512), noscan_bit(t), 0, &o)) break;
        memcpy((char *)bo.p + HDR_MIN + 8 + 8 * cnt, &o.p, 8);
        cnt++;
    }
    memcpy((char *)bo.p + HDR_MIN, &cnt, 8);
    for (int k = 0; !ptrq_push(&G.pq, bo.p); k++) {
        if (atomic_load(&G.stop)) {   /* stopping: free the batch here, keep the books exact */
            for (uint64_t j = 0; j < cnt; j++) {
                orec o;
                void *p;
                memcpy(&p, (char *)bo.p + HDR_MIN + 8 + 8 * j, 8);
                if (!st_read_hdr(t, p, &o, "in an unpublished batch") || !st_free(t, &o)) return;
            }
            st_free(t, &bo);
            return;
        }
        if (k < 8 && G.cfg.threads > 1) { sched_yield(); continue; }   /* let a consumer run */
        consume_batch(t);             /* still full: help the consumers */
    }
}

static void step_prodcons(tctx *t)
{
    int n = G.cfg.threads;
    bool producer = n == 1 ? ((t->pc_toggle ^= 1) != 0) : (t->slot % 2 == 0);
    if (producer) produce_batch(t);
    else if (!consume_batch(t)) sched_yield();
}

static void step_large(tctx *t)
{
    const size_t cap = 8;
    if (tab_drain(t, cap)) return;
    uint64_t r = st_rand(t);
    if (r % 4 == 0) {                 /* a large object another thread left */
        void *p = ptrq_pop(&G.orphans);
        if (p) {
            orec o;
            if (st_read_hdr(t, p, &o, "taken from the orphan pool")) st_free(t, &o);
            return;
        }
    }
    if (t->ntab >= cap && !tab_free_random(t)) return;
    uint32_t size = (r >> 8) % 16 == 0 ? st_size_range(t, 2u << 20, 8u << 20) : st_size_range(t, 32769, 2u << 20);
    orec o;
    if (!st_alloc(t, size, noscan_bit(t), 0, &o)) return;
    if ((r >> 16) % 4 == 0 && ptrq_push(&G.orphans, o.p)) return;
    if (!tab_push(t, &o)) st_free(t, &o);
}

static void step_tiny(tctx *t)
{
    const size_t cap = 1024;
    if (tab_drain(t, cap)) return;
    if (t->ntab >= cap) {
        if (!tab_free_random(t)) {
            atomic_store(&G.gc_wanted, 1);
            sched_yield();
            return;
        }
        if (G.cfg.backend == BE_GALLOC && st_rand(t) % 64 == 0) atomic_store(&G.gc_wanted, 1);
    }
    uint64_t r = st_rand(t);
    orec o;
    bool ok;
    if (r % 10 < 7) ok = st_alloc(t, 1 + (uint32_t)((r >> 8) % 15), OF_NOSCAN | OF_TINYOK, 0, &o) != NULL;
    else ok = st_alloc(t, 1 + (uint32_t)((r >> 8) % 16), noscan_bit(t), 0, &o) != NULL;
    if (ok && !tab_push(t, &o)) st_free(t, &o);
}

static void frag_new_sizes(tctx *t)
{
    t->frag_size_a = st_size_range(t, 8, 2048);
    do t->frag_size_b = st_size_range(t, 8, 4096);
    while (t->frag_size_b / 8 == t->frag_size_a / 8);
}

static void step_frag(tctx *t)
{
    const size_t n = 1024;
    if (!t->frag_size_a) frag_new_sizes(t);
    orec o;
    switch (t->frag_phase) {
    case 0:   /* fill */
    case 2:   /* refill with the other size */
        if (t->ntab < n) {
            uint32_t size = t->frag_phase == 0 ? t->frag_size_a : t->frag_size_b;
            if (st_alloc(t, size, OF_NOSCAN, 0, &o) && !tab_push(t, &o)) st_free(t, &o);
        } else {
            t->frag_phase++;
        }
        return;
    case 1: { /* free every other object */
        size_t w = 0;
        for (size_t i = 0; i < t->ntab; i++) {
            if ((i & 1) && !st_is_tiny(&t->tab[i])) {
                orec x = t->tab[i];
                if (!st_free(t, &x)) { t->ntab = w; return; }
            } else {
                t->tab[w++] = t->tab[i];
            }
        }
        t->ntab = w;
        t->frag_phase = 2;
        return;
    }
    default: { /* free all (tiny-allocator objects stay for GC), new sizes */
        size_t w = 0;
        for (size_t i = 0; i < t->ntab; i++) {
            orec x = t->tab[i];
            if (st_is_tiny(&x)) { t->tab[w++] = x; continue; }
            if (!st_free(t, &x)) {
                memmove(&t->tab[w], &t->tab[i + 1], (t->ntab - i - 1) * sizeof *t->tab);
                t->ntab = w + (t->ntab - i - 1);
                return;
            }
        }
        t->ntab = w;
        frag_new_sizes(t);
        t->frag_phase = 0;
        return;
    }
    }
}

static void step_gc(tctx *t)
{
    const size_t cap = 1536;
    if (tab_drain(t, cap)) return;
    uint64_t r = st_rand(t);
    if (t->ntab >= cap) {
        if (G.cfg.backend == BE_GALLOC && r % 256 == 0) atomic_store(&G.gc_wanted, 1);
        if (!tab_free_random(t)) { atomic_store(&G.gc_wanted, 1); sched_yield(); return; }
    }
    uint32_t size;
    unsigned fl = noscan_bit(t);
    unsigned k = (unsigned)((r >> 8) % 10);
    if (k < 6) size = st_size_range(t, 8, 256);
    else if (k < 9) size = st_size_range(t, 257, 4096);
    else { size = 1 + (uint32_t)((r >> 16) % 15); fl = OF_NOSCAN | OF_TINYOK; }
    orec o;
    if (st_alloc(t, size, fl, 0, &o) && !tab_push(t, &o)) st_free(t, &o);
}

/* threads: one life of a short-lived thread, on the slot's context (the parent waits). */
static void *child_main(void *arg)
{
    tctx *t = arg;
    stw_register(t);
    t->saved_cache = t->cache;
    t->cache = NULL;
    const size_t cap = 256;
    for (int k = 0; k < 256; k++) {
        if (atomic_load_explicit(&G.stop, memory_order_relaxed)) break;
        if (atomic_load_explicit(&G.stw_req, memory_order_relaxed)) { stw_park(t); continue; }
        uint64_t r = st_rand(t) % 10;
        orec o;
        if (r < 5 || t->ntab == 0) {
            if (t->ntab >= cap) { tab_free_random(t); continue; }
            if (st_alloc(t, st_size_range(t, HDR_MIN, 1024), noscan_bit(t), 0, &o) && !tab_push(t, &o)) st_free(t, &o);
        } else if (r < 7) {
            tab_free_random(t);
        } else {
            void *p = ptrq_pop(&G.orphans);
            if (!p) continue;
            if (st_read_hdr(t, p, &o, "taken from the orphan pool")) st_free(t, &o);
        }
    }
    /* exit with live objects: leave them to the others */
    for (size_t i = t->ntab; i-- > 0;) {
        if (atomic_load(&G.stop)) break;
        orec o = t->tab[i];
        if ((o.flags & OF_HDR) && !(o.flags & OF_BATCH) && ptrq_push(&G.orphans, o.p)) { tab_del(t, i); continue; }
        if (tab_free_at(t, i)) continue;
    }
    if (t->cache) {
        uint64_t seq = 0;
        if (G.logging) {
            seq = atomic_fetch_add(&G.seq, 1);
            log_add(t, LK_DESTROY, seq, 0, 0, 0, 0);
        }
        ring_add(t, LK_DESTROY, seq, 0, t->cache, 0, 0, 0);
        ga_cache_destroy(t->cache);
    }
    t->cache = t->saved_cache;
    t->saved_cache = NULL;
    atomic_fetch_add(&t->thread_lives, 1);
    stw_unregister(t);
    return NULL;
}

static void step_threads(tctx *t)
{
    pthread_t th;
    stw_unregister(t);
    int rc = pthread_create(&th, NULL, child_main, t);
    if (rc == 0) pthread_join(th, NULL);
    stw_register(t);
    if (rc != 0) sched_yield();
}

/* ---- the worker ---------------------------------------------------------------------- */
/* --test-fault: the hidden knob the tests use to prove the floor and the watchdog. idle:
 * the thread does no op in the chosen profile(s) but parks and stops like every thread;
 * block: the thread hangs (never parks, never stops), as a deadlock inside the allocator
 * would, after its first 1000 ops (so its last ops are in the report). Returns true when
 * the step is to be skipped. */
static bool test_fault(tctx *t, int p)
{
    const config *c = &G.cfg;
    if (c->fault_kind == FAULT_NONE || t->slot != c->fault_slot || (c->fault_profile >= 0 && c->fault_profile != p)) return false;
    if (c->fault_kind == FAULT_BLOCK) {
        if (thread_ops(t->slot) < 1000) return false;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        for (;;) nanosleep(&ts, NULL);
    }
    sched_yield();
    return true;
}

void *st_worker_main(void *arg)
{
    tctx *t = arg;
    stw_register(t);
    unsigned n = 0;
    while (!atomic_load_explicit(&G.stop, memory_order_relaxed)) {
        if (atomic_load_explicit(&G.stw_req, memory_order_relaxed)) { stw_park(t); continue; }
        int p = atomic_load_explicit(&G.profile_now, memory_order_relaxed);
        atomic_store_explicit(&t->cur_profile, p, memory_order_relaxed);
        if (test_fault(t, p)) continue;
        switch (p) {
        case PR_CHURN: step_churn(t); break;
        case PR_LARSON: step_larson(t); break;
        case PR_PRODCONS: step_prodcons(t); break;
        case PR_LARGE: step_large(t); break;
        case PR_TINY: step_tiny(t); break;
        case PR_FRAG: step_frag(t); break;
        case PR_THREADS: step_threads(t); break;
        case PR_GC: step_gc(t); break;
        default: break;
        }
        if ((++n & 63) == 0) local_scan(t);
    }
    stw_unregister(t);
    return NULL;
}
