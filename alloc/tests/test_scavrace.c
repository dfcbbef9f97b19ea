/*
 * test_scavrace.c — the scavenger against concurrent allocation (spec §6.8): one thread
 * returns free pages to the OS (ga_scavenge, ga_scavenge_policy) in a loop while workers,
 * each with its own cache, allocate and free small and large objects (which take and give
 * back pages under the heap lock) and replace their caches now and then (flushing page
 * caches, relinking the heap's cache list). Afterwards the page allocator, heapFree / heapReleased
 * and every object's contents must be consistent (ga_verify, exact stats, byte checks).
 */
#include "check.h"
#include "internal.h"
#include "verify.h"
#include <errno.h>
#include <pthread.h>

enum { NWORKERS = 3, ROUNDS = 40000, LIVE = 24 };

static ga_heap *heap;
static _Atomic int running;
static _Atomic unsigned long bad_contents, bad_status, alloc_fail;

static unsigned char tag(const void *p) { return (unsigned char)(((uintptr_t)p >> 12) * 7u + 1); }

static void *worker(void *arg)
{
    uint64_t r = 0x9e3779b97f4a7c15ull * (uint64_t)((uintptr_t)arg + 1);
    ga_cache *c = ga_cache_new(heap);
    void *live[LIVE] = { 0 };
    size_t sizes[LIVE] = { 0 };
    for (int round = 0; round < ROUNDS; round++) {
        if (round % 200 == 199) {     /* caches come and go: page caches flushed, list updated */
            ga_cache_destroy(c);
            c = ga_cache_new(heap);
        }
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        unsigned k = (unsigned)(r % LIVE);
        if (live[k]) {
            const unsigned char *b = live[k];
            size_t step = sizes[k] > 4096 ? 509 : 1;
            for (size_t i = 0; i < sizes[k]; i += step)
                if (b[i] != tag(live[k])) { bad_contents++; break; }
            if (ga_free(heap, live[k]) != GA_OK) bad_status++;
            live[k] = NULL;
        }
        size_t size = (r >> 20) % 2 == 0 ? 40000 + (r >> 24) % 100000 : 16 + (r >> 24) % 3000;
        void *p = ga_alloc(c, size, 0, GA_NOSCAN);
        if (!p) { alloc_fail++; continue; }
        memset(p, tag(p), size);
        live[k] = p;
        sizes[k] = size;
    }
    for (unsigned k = 0; k < LIVE; k++)
        if (live[k] && ga_free(heap, live[k]) != GA_OK) bad_status++;
    ga_cache_destroy(c);
    return NULL;
}

static void *scavenger(void *arg)
{
    (void)arg;
    unsigned n = 0;
    while (atomic_load(&running)) {
        if (n++ % 4 == 3) ga_scavenge_policy(heap);
        else ga_scavenge(heap, n % 2 ? SIZE_MAX : 3 * GA_PAGE_SIZE);
    }
    return NULL;
}

int main(void)
{
    ga_heap_options o = { 0 };
    o.scavenge_retain_bytes = 1;     /* the policy releases nearly everything */
    heap = ga_heap_new(&o);
    CHECK(heap != NULL, "ga_heap_new: errno %d", errno);
    if (!heap) TEST_MAIN_END();
    for (int rep = 0; rep < 3; rep++) {
        pthread_t w[NWORKERS], s;
        atomic_store(&running, 1);
        pthread_create(&s, NULL, scavenger, NULL);
        for (int i = 0; i < NWORKERS; i++) pthread_create(&w[i], NULL, worker, (void *)(uintptr_t)(i + rep * NWORKERS));
        for (int i = 0; i < NWORKERS; i++) pthread_join(w[i], NULL);
        atomic_store(&running, 0);
        pthread_join(s, NULL);
        ga_report r;
        int rc = ga_verify(heap, &r);
        CHECK(rc == 0, "round %d: ga_verify: %d %s: %s", rep, rc, r.invariant, r.message);
        ga_sweep(heap, SIZE_MAX);
        ga_stats st;
        ga_read_stats(heap, &st);
        CHECK_EQ(st.heap_objects, 0);
        CHECK_EQ(st.heap_inuse, 0);
        CHECK_EQ(st.heap_sys, st.heap_idle);
        size_t rel = ga_scavenge(heap, SIZE_MAX);
        ga_read_stats(heap, &st);
        CHECK(st.heap_released == st.heap_idle, "round %d: after scavenging everything released %llu of idle %llu (last %zu)",
              rep, (unsigned long long)st.heap_released, (unsigned long long)st.heap_idle, rel);
        rc = ga_verify(heap, &r);
        CHECK(rc == 0, "round %d: ga_verify after the final scavenge: %d %s: %s", rep, rc, r.invariant, r.message);
    }
    CHECK_EQ(bad_contents, 0);
    CHECK_EQ(bad_status, 0);
    CHECK_EQ(alloc_fail, 0);
    ga_heap_destroy(heap);
    TEST_MAIN_END();
}
