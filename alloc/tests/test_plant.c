/*
 * test_plant.c — each deliberate bug (ga_heap_options.plant) is caught by the checker
 * or by a plain client-side check, and the same workload is clean without the plant.
 * (GA_PLANT_LOST_SWEEP_REQUEST is a race: the stress driver's tests catch that one.)
 */
#include "check.h"
#include "internal.h"
#include "verify.h"

static uint64_t rng = 7;
static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

/* Returns a short description of the first problem seen, or NULL if none. */
static const char *workload(int plant, char *buf, size_t n)
{
    ga_heap_options o = { .plant = plant };
    ga_heap *h = ga_heap_new(&o);
    ga_cache *a = ga_cache_new(h), *b = ga_cache_new(h);
    enum { N = 4000 };
    unsigned char **p = calloc(N, sizeof *p);
    size_t *sz = calloc(N, sizeof *sz);
    const char *res = NULL;
    ga_report r;
    rng = 7;
    for (int step = 0; step < 40000 && !res; step++) {
        int i = (int)(rnd() % N);
        if (p[i]) {
            /* contents intact? (overlapping allocations break this) */
            for (size_t k = 0; k < sz[i]; k++)
                if (p[i][k] != (unsigned char)i) { snprintf(buf, n, "content of object %d changed", i); res = buf; break; }
            ga_free(h, p[i]);
            p[i] = NULL;
        } else {
            ga_cache *c = rnd() % 2 ? a : b;
            sz[i] = rnd() % 3 == 0 ? 40000 + rnd() % 300000 : 8 + rnd() % 200;
            bool zero = rnd() % 2;
            p[i] = ga_alloc(c, sz[i], 0, GA_NOSCAN | GA_NOTINY | (zero ? GA_ZERO : 0));
            if (zero)
                for (size_t k = 0; k < sz[i]; k++)
                    if (p[i][k]) { snprintf(buf, n, "GA_ZERO object not zero"); res = buf; break; }
            memset(p[i], i, sz[i]);
        }
        if (!res && step % 1000 == 999 && ga_verify(h, &r)) {
            snprintf(buf, n, "verify %s: %s", r.invariant, r.message);
            res = buf;
        }
    }
    /* free phase: whole chunks become free again */
    for (int i = 0; i < N && !res; i++)
        if (p[i]) ga_free(h, p[i]);
    if (!res && ga_verify(h, &r)) { snprintf(buf, n, "verify %s: %s", r.invariant, r.message); res = buf; }
    free(p);
    free(sz);
    ga_cache_destroy(a);
    ga_cache_destroy(b);
    ga_heap_destroy(h);
    return res;
}

int main(void)
{
    char buf[512];
    const char *clean = workload(GA_PLANT_NONE, buf, sizeof buf);
    CHECK(clean == NULL, "clean run found: %s", clean);
    int plants[] = { GA_PLANT_REFILL_OFF_BY_ONE, GA_PLANT_SUMMARY_MERGE, GA_PLANT_NO_NEEDZERO, GA_PLANT_CROSS_CACHE_FREE };
    for (size_t k = 0; k < sizeof plants / sizeof *plants; k++) {
        const char *found = workload(plants[k], buf, sizeof buf);
        CHECK(found != NULL, "plant %s was not caught", ga_plant_name(plants[k]));
        if (found) printf("plant %-20s caught: %.150s\n", ga_plant_name(plants[k]), found);
    }
    TEST_MAIN_END();
}
