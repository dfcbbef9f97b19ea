/*
 * test_span.c — span.c on hand-built spans: nextFreeFast / nextFreeIndex against a
 * plain bitmap model (bit order, the last-bit-of-window rule, refills at 64-slot
 * boundaries), and the sweep of one span (marks, explicit frees, zombies).
 */
#include "check.h"
#include "internal.h"
#include "verify.h"

typedef struct {
    ga_mspan s;
    uint64_t bits[5 * GA_MAX_BITMAP_WORDS];
} test_span;

static void make_span(test_span *t, unsigned nelems, size_t elemsize, const uint64_t *alloc)
{
    memset(t, 0, sizeof *t);
    ga_mspan *s = &t->s;
    s->startAddr = 0x100000;
    s->npages = 1;
    s->nelems = (uint16_t)nelems;
    s->elemsize = elemsize;
    s->nwords = (uint16_t)((nelems + 63) / 64);
    s->allocBits = (_Atomic uint64_t *)t->bits;
    s->gcmarkBits = t->bits + s->nwords;
    s->freedBits = (_Atomic uint64_t *)(t->bits + 2 * s->nwords);
    s->ownerFreedBits = t->bits + 4 * s->nwords;
    s->spanclass = 3;
    for (unsigned w = 0; w < s->nwords && alloc; w++) t->bits[w] = alloc[w];
    s->allocCache = ~t->bits[0];
    s->allocCount = 0;
    for (unsigned i = 0; i < nelems; i++) s->allocCount += (t->bits[i / 64] >> (i % 64)) & 1;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Allocating everything must return exactly the free slots in increasing order. */
static void test_alloc_order(void)
{
    unsigned sizes[] = { 1, 3, 63, 64, 65, 127, 128, 129, 200, 504, 1024 };
    for (unsigned k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        for (int trial = 0; trial < 40; trial++) {
            unsigned n = sizes[k];
            uint64_t alloc[GA_MAX_BITMAP_WORDS] = { 0 };
            for (unsigned w = 0; w < (n + 63) / 64; w++) {
                alloc[w] = trial == 0 ? 0 : trial == 1 ? ~0ull : rnd() & rnd();
                if (n < (w + 1) * 64) alloc[w] &= (1ull << (n - w * 64)) - 1;
            }
            test_span t;
            make_span(&t, n, 16, alloc);
            ga_mspan *s = &t.s;
            unsigned expect = 0, got_fast = 0;
            for (;;) {
                while (expect < n && ((alloc[expect / 64] >> (expect % 64)) & 1)) expect++;
                uintptr_t v = ga_span_next_free_fast(s);
                unsigned idx;
                if (v) {
                    idx = (unsigned)((v - s->startAddr) / 16);
                    got_fast++;
                    /* the fast path never consumes the last bit of a window */
                    CHECK((idx + 1) % 64 != 0 || idx + 1 == n, "fast path took window-end slot %u (n %u)", idx, n);
                } else {
                    idx = ga_span_next_free_index(s);
                    if (idx < n) s->allocCount++;
                }
                if (expect >= n) {
                    CHECK_EQ(idx, n);
                    break;
                }
                CHECK(idx == expect, "n %u trial %d: got slot %u, want %u", n, trial, idx, expect);
                if (idx != expect) break;
                expect++;
            }
            CHECK_EQ(s->allocCount, n);
            CHECK_EQ(atomic_load(&s->freeindex), n);
            if (trial == 0 && n > 2) CHECK(got_fast > 0, "fast path never used for n %u", n);
        }
    }
}

/* refillAllocCache reads the word little-endian and complements it. */
static void test_refill(void)
{
    uint64_t alloc[2] = { 0x00ff00ff00ff00ffull, 0x8000000000000001ull };
    test_span t;
    make_span(&t, 128, 8, alloc);
    ga_span_refill_alloc_cache(&t.s, 8);
    CHECK_EQ(t.s.allocCache, ~alloc[1]);
    ga_span_refill_alloc_cache(&t.s, 0);
    CHECK_EQ(t.s.allocCache, ~alloc[0]);
}

/* Sweep: marks decide, explicit frees are subtracted, zombies are reported. */
static void test_sweep(void)
{
    ga_heap *h = aligned_alloc(_Alignof(ga_heap), sizeof *h);   /* its counters are cache-line aligned */
    memset(h, 0, sizeof *h);
    test_span t;
    make_span(&t, 100, 8, NULL);
    ga_mspan *s = &t.s;
    for (int i = 0; i < 70; i++) {                /* allocate slots 0..69 */
        unsigned idx = ga_span_next_free_index(s);
        CHECK_EQ(idx, (unsigned)i);
        s->allocCount++;
    }
    /* free 3 and 65 explicitly, then a non-GC sweep */
    atomic_fetch_or(&s->freedBits[0], 1ull << 3);
    atomic_fetch_or(&s->freedBits[1], 1ull << 1);
    unsigned nfreed = ga_span_sweep_bits(h, s, false);
    CHECK_EQ(nfreed, 2);
    CHECK_EQ(s->allocCount, 68);
    CHECK_EQ(atomic_load(&s->freeindex), 0);
    CHECK_EQ(atomic_load(&s->allocBits[0]), ~0ull & ~(1ull << 3));
    CHECK_EQ(atomic_load(&s->allocBits[1]), ((1ull << 6) - 1) & ~(1ull << 1));
    CHECK_EQ(s->allocCache, ~atomic_load(&s->allocBits[0]));
    CHECK_EQ(ga_span_count_allocated(s), 68);
    CHECK(s->needzero == 1, "needzero not set after frees");
    /* the next allocation reuses slot 3 */
    CHECK_EQ(ga_span_next_free_index(s), 3);
    s->allocCount++;
    /* GC sweep: only marked survive */
    s->gcmarkBits[0] = 0x5;                       /* slots 0 and 2 */
    nfreed = ga_span_sweep_bits(h, s, true);
    CHECK_EQ(nfreed, 67);
    CHECK_EQ(s->allocCount, 2);
    CHECK_EQ(atomic_load(&s->allocBits[0]), 0x5);
    CHECK_EQ(s->gcmarkBits[0], 0);
    CHECK_EQ(atomic_load(&h->brokenCode), 0);
    /* a mark on a free slot is a zombie */
    s->gcmarkBits[0] = 0x10;
    ga_span_sweep_bits(h, s, true);
    CHECK(atomic_load(&h->brokenCode) != 0, "zombie not reported");
    CHECK(strstr(h->broken, "zombie") != NULL, "message: %s", h->broken);
    free(h);
}

int main(void)
{
    test_alloc_order();
    test_refill();
    test_sweep();
    TEST_MAIN_END();
}
