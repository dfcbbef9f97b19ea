/*
 * test_threads.c — the core under real concurrency: several threads, each with its own
 * cache, allocate and hand objects to each other through mailboxes; most frees are of
 * other threads' objects (larson style). Contents are checked at free, a racing double
 * free must be caught exactly once, and ga_verify plus exact stats hold at the end.
 * Meant for the tsan preset as much as for release.
 */
#include "check.h"
#include "internal.h"
#include "verify.h"
#include <pthread.h>

enum { NTHREADS = 4, STEPS = 40000, BOX = 256 };

typedef struct {
    pthread_mutex_t lock;
    void *items[BOX];
    size_t sizes[BOX];
    int n;
} mailbox;

static ga_heap *heap;
static mailbox boxes[NTHREADS];
static _Atomic unsigned long bad_contents, free_errors, allocs, frees;

static unsigned char seed_of(void *p) { return (unsigned char)(((uintptr_t)p >> 4) * 31u); }

static void check_and_free(void *p, size_t size)
{
    unsigned char *b = p, want = seed_of(p);
    for (size_t k = 0; k < size; k += 61)
        if (b[k] != want) { atomic_fetch_add(&bad_contents, 1); break; }
    if (ga_free(heap, p) != GA_OK) atomic_fetch_add(&free_errors, 1);
    atomic_fetch_add(&frees, 1);
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    ga_cache *c = ga_cache_new(heap);
    uint64_t x = 0x1234567ull * (uint64_t)(id + 1);
    for (int step = 0; step < STEPS; step++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        size_t size = (x % 10 == 0) ? 1 + x % 70000 : 1 + x % 600;
        unsigned char *p = ga_alloc(c, size, (x % 7 == 0) ? 64 : 0, GA_NOSCAN | GA_NOTINY);
        if (!p) { atomic_fetch_add(&free_errors, 1); continue; }
        atomic_fetch_add(&allocs, 1);
        for (size_t k = 0; k < size; k += 61) p[k] = seed_of(p);
        mailbox *m = &boxes[(id + 1 + x % (NTHREADS - 1)) % NTHREADS];
        void *victim = NULL;
        size_t vsize = 0;
        pthread_mutex_lock(&m->lock);
        if (m->n == BOX) {
            int i = (int)(x % BOX);
            victim = m->items[i];
            vsize = m->sizes[i];
            m->items[i] = p;
            m->sizes[i] = size;
        } else {
            m->items[m->n] = p;
            m->sizes[m->n++] = size;
        }
        pthread_mutex_unlock(&m->lock);
        if (victim) check_and_free(victim, vsize);
        if (x % 3 == 0) {                 /* a thread-local object freed by its owner */
            unsigned char *q = ga_alloc(c, 1 + x % 300, 0, GA_NOSCAN | GA_NOTINY);
            atomic_fetch_add(&allocs, 1);
            atomic_fetch_add(&frees, 1);
            if (!q || ga_free_local(c, q) != GA_OK) atomic_fetch_add(&free_errors, 1);
        }
        /* drain our own box now and then: frees of objects other threads allocated */
        if (step % 512 == 0) {
            mailbox *mine = &boxes[id];
            pthread_mutex_lock(&mine->lock);
            int n = mine->n;
            void *items[BOX];
            size_t sizes[BOX];
            memcpy(items, mine->items, sizeof(void *) * (size_t)n);
            memcpy(sizes, mine->sizes, sizeof(size_t) * (size_t)n);
            mine->n = 0;
            pthread_mutex_unlock(&mine->lock);
            for (int i = 0; i < n; i++) check_and_free(items[i], sizes[i]);
        }
    }
    ga_cache_destroy(c);
    return NULL;
}

static void *double_freer(void *arg)
{
    void **p = arg;
    return (void *)(intptr_t)ga_free(heap, *p);
}

int main(void)
{
    heap = ga_heap_new(NULL);
    CHECK(heap != NULL, "heap");
    for (int i = 0; i < NTHREADS; i++) pthread_mutex_init(&boxes[i].lock, NULL);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    CHECK_EQ(atomic_load(&bad_contents), 0);
    CHECK_EQ(atomic_load(&free_errors), 0);
    ga_report r;
    int rc = ga_verify(heap, &r);
    CHECK(rc == 0, "verify after threads: %s %s", r.invariant, r.message);
    size_t left = 0;
    for (int i = 0; i < NTHREADS; i++) left += (size_t)boxes[i].n;
    ga_stats st;
    ga_read_stats(heap, &st);
    CHECK_EQ(st.heap_objects, left);
    CHECK_EQ(st.mallocs, atomic_load(&allocs));
    for (int i = 0; i < NTHREADS; i++)
        for (int k = 0; k < boxes[i].n; k++) check_and_free(boxes[i].items[k], boxes[i].sizes[k]);
    ga_sweep(heap, SIZE_MAX);
    ga_read_stats(heap, &st);
    CHECK_EQ(st.heap_objects, 0);
    CHECK_EQ(st.heap_inuse, 0);
    rc = ga_verify(heap, &r);
    CHECK(rc == 0, "verify at end: %s %s", r.invariant, r.message);

    /* two threads free the same object at once: exactly one wins */
    ga_cache *c = ga_cache_new(heap);
    for (int round = 0; round < 200; round++) {
        void *p = ga_alloc(c, 40, 0, GA_NOSCAN);
        pthread_t a, b;
        void *ra, *rb;
        pthread_create(&a, NULL, double_freer, &p);
        pthread_create(&b, NULL, double_freer, &p);
        pthread_join(a, &ra);
        pthread_join(b, &rb);
        int oks = ((intptr_t)ra == GA_OK) + ((intptr_t)rb == GA_OK);
        int dbl = ((intptr_t)ra == GA_ERR_DOUBLE_FREE) + ((intptr_t)rb == GA_ERR_DOUBLE_FREE);
        CHECK(oks == 1 && dbl == 1, "round %d: results %ld %ld", round, (long)(intptr_t)ra, (long)(intptr_t)rb);
    }
    ga_cache_destroy(c);
    rc = ga_verify(heap, &r);
    CHECK(rc == 0, "verify after double frees: %s %s", r.invariant, r.message);
    ga_heap_destroy(heap);
    TEST_MAIN_END();
}
