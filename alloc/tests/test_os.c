/*
 * test_os.c — the OS layer: the real kernel calls and ga_testos's counting, page-state
 * tracking, illegal-transition detection and failure injection.
 */
#include "check.h"
#include "os.h"
#include "internal.h"   /* GA_TSAN */
/* TSan maps application memory only in its ranges: under TSan the test hints move into the
 * low one, below the heap's default hints (internal.h GA_HINT_BASE) */
#ifdef GA_TSAN
#define TEST_HINT(a) ((a) >> 9)   /* 0x3f00000000, 0x3f20000000 */
#else
#define TEST_HINT(a) (a)
#endif
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

/* ga_reuseos: a released region or freed metadata block comes back at the same address,
 * zeroed, with a region Reserved again (PROT_NONE: touching it faults); a heap made on
 * recycled memory finds every free slot zero (A12) and calloc memory zero. */
static sigjmp_buf fault_jmp;
static void on_segv(int sig) { (void)sig; siglongjmp(fault_jmp, 1); }
static bool faults_on_read(volatile const char *p)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv;
    sigaction(SIGSEGV, &sa, &old);
    bool faulted = sigsetjmp(fault_jmp, 1) != 0;
    if (!faulted) (void)*p;
    sigaction(SIGSEGV, &old, NULL);
    return faulted;
}

static void test_reuseos(unsigned flags)
{
    bool keep = flags & GA_REUSE_KEEP_MAPPED;
    ga_reuseos *ro = ga_reuseos_new(NULL, flags);
    CHECK(ro != NULL, "ga_reuseos_new");
    if (!ro) return;
    const ga_os *os = ga_reuseos_os(ro);
    size_t n = (size_t)64 << 20;
    char *hint = (char *)(uintptr_t)TEST_HINT(0x7e0000000000ull);
    char *p = os->reserve(os->ctx, hint, n);
    CHECK(p == hint, "reserve at hint: %p", (void *)p);
    if (p != hint) { ga_reuseos_free(ro); return; }
    CHECK_EQ(os->map(os->ctx, p, n / 2), 0);
    /* Prepared -> Ready, then dirty a few pages, not all: only Ready pages may be written */
    CHECK_EQ(os->used(os->ctx, p + 8192, 4 * 8192), 0);
    CHECK_EQ(os->used(os->ctx, p + n / 2 - 4096, 4096), 0);
    memset(p + 8192, 0x5a, 3 * 8192 + 100);
    p[n / 2 - 1] = 1;
    CHECK_EQ(os->release(os->ctx, p, n), 0);
    char *q = os->reserve(os->ctx, hint, n);
    CHECK(q == p, "the released region came back at the hint: %p", (void *)q);
    if (keep) CHECK(!faults_on_read(q + 8192) && faults_on_read(q + n / 2 + 8192),
                    "KEEP_MAPPED: what was mapped stays RW, the rest stays PROT_NONE");
    else CHECK(faults_on_read(q + 8192), "a recycled region must be Reserved (PROT_NONE) again");
    CHECK_EQ(os->map(os->ctx, q, n), 0);
    /* unused: the pages read back as zero (KEEP_MAPPED zeroes them itself) */
    CHECK_EQ(os->used(os->ctx, q + 3 * 8192, 2 * 8192), 0);
    memset(q + 3 * 8192, 0x77, 2 * 8192);
    CHECK_EQ(os->unused(os->ctx, q + 3 * 8192, 8192), 0);
    CHECK(q[3 * 8192] == 0 && q[4 * 8192 - 1] == 0 && q[4 * 8192] == 0x77, "unused: %d %d %d",
          q[3 * 8192], q[4 * 8192 - 1], q[4 * 8192]);
    memset(q + 3 * 8192, 0, 2 * 8192);
    size_t dirty = 0;
    for (size_t i = 0; i < n; i += 64) dirty += q[i] != 0 || q[i + 63] != 0;
    CHECK_EQ(dirty, 0);
    CHECK_EQ(os->release(os->ctx, q, n), 0);

    /* a second release of a cached region is refused, and the region stays usable */
    CHECK(os->release(os->ctx, q, n) == -1, "second release of a cached region must fail");
    q = os->reserve(os->ctx, hint, n);
    CHECK(q == hint, "region after a double release: %p", (void *)q);
    if (q == hint) {
        CHECK_EQ(os->map(os->ctx, q, 8192), 0);
        CHECK_EQ(os->used(os->ctx, q, 8192), 0);
        q[100] = 1;
        CHECK_EQ(os->release(os->ctx, q, n), 0);
    }

    char *m = os->alloc_meta(os->ctx, 3 * 4096 + 8);
    CHECK(m != NULL, "alloc_meta");
    memset(m, 0xff, 3 * 4096 + 8);
    os->free_meta(os->ctx, m, 3 * 4096 + 8);
    char *m2 = os->alloc_meta(os->ctx, 3 * 4096 + 8);
    CHECK(m2 == m, "metadata block reused");
    size_t nz = 0;
    for (size_t i = 0; i < 3 * 4096 + 8; i++) nz += m2[i] != 0;
    CHECK_EQ(nz, 0);
    os->free_meta(os->ctx, m2, 3 * 4096 + 8);
    os->free_meta(os->ctx, m2, 3 * 4096 + 8);             /* twice: cached once only */
    char *m3 = os->alloc_meta(os->ctx, 3 * 4096 + 8), *m4 = os->alloc_meta(os->ctx, 3 * 4096 + 8);
    CHECK(m3 && m4 && m3 != m4, "a block freed twice was handed out twice: %p %p", (void *)m3, (void *)m4);
    if (m3) os->free_meta(os->ctx, m3, 3 * 4096 + 8);
    if (m4) os->free_meta(os->ctx, m4, 3 * 4096 + 8);

    /* whole heaps, one after another, on recycled memory */
    for (int round = 0; round < 3; round++) {
        ga_heap_options ho = { 0 };
        ho.os = os;
        ga_heap *h = ga_heap_new(&ho);
        CHECK(h != NULL, "heap %d", round);
        if (!h) break;
        ga_cache *c = ga_cache_new(h);
        for (int i = 0; i < 2000; i++) {
            size_t sz = 16 + (size_t)(i * 37) % 3000;
            char *o = ga_alloc(c, sz, 0, round == 1 ? GA_NOSCAN | GA_ZERO : GA_NOSCAN);
            CHECK(o != NULL, "alloc");
            if (!o) break;
            if (round == 1) {
                size_t bad = 0;
                for (size_t k = 0; k < sz; k++) bad += o[k] != 0;
                CHECK(bad == 0, "calloc'd object of %zu bytes has %zu non-zero bytes", sz, bad);
            }
            memset(o, 0xa5, sz);
            if (i % 3 == 0) ga_free_local(c, o);
        }
        char *big = ga_alloc(c, 1 << 20, 0, GA_NOSCAN);
        CHECK(big != NULL, "large");
        if (big) memset(big, 0x11, 1 << 20);
        ga_report r;
        CHECK(ga_verify(h, &r) == 0, "round %d: %s %s", round, r.invariant, r.message);
        ga_cache_destroy(c);
        ga_heap_destroy(h);
    }
    uint64_t hits = 0, misses = 0, scrubbed = 0;
    ga_reuseos_stats(ro, &hits, &misses, &scrubbed);
    CHECK(hits >= 4 && scrubbed > 0, "hits %llu misses %llu scrubbed %llu", (unsigned long long)hits,
          (unsigned long long)misses, (unsigned long long)scrubbed);
    ga_reuseos_free(ro);
}

/* ga_reuseos without KEEP_MAPPED passes `unused` to the layer below; when that fails, the
 * pages may still hold data, so they must still be scrubbed when the region is recycled.
 * Kills reuseos.c r_unused `if (rc == 0 && b)` -> `rc != 0` (the used bits dropped on the
 * failure: the next heap would find the old bytes). */
static void test_reuseos_unused_failure(void)
{
    ga_testos *t = ga_testos_new(NULL);
    CHECK(t != NULL, "ga_testos_new");
    if (!t) return;
    ga_reuseos *ro = ga_reuseos_new(ga_testos_os(t), 0);
    CHECK(ro != NULL, "ga_reuseos_new");
    if (!ro) { ga_testos_free(t); return; }
    const ga_os *os = ga_reuseos_os(ro);
    size_t n = (size_t)4 << 20;
    char *hint = (char *)(uintptr_t)TEST_HINT(0x7e4000000000ull);
    char *p = os->reserve(os->ctx, hint, n);
    CHECK(p == hint, "reserve at hint: %p", (void *)p);
    if (p == hint) {
        CHECK_EQ(os->map(os->ctx, p, n), 0);
        CHECK_EQ(os->used(os->ctx, p, 8192), 0);
        memset(p, 0x5a, 8192);
        ga_testos_fail(t, GA_OS_UNUSED, 0, 1);
        CHECK(os->unused(os->ctx, p, 8192) != 0, "injected unused failure not passed up");
        CHECK_EQ((unsigned char)p[100], 0x5a);   /* the failed unused left the data */
        CHECK_EQ(os->release(os->ctx, p, n), 0);
        char *q = os->reserve(os->ctx, hint, n);
        CHECK(q == p, "recycled region at the hint: %p", (void *)q);
        if (q == p) {
            CHECK_EQ(os->map(os->ctx, q, n), 0);
            CHECK_EQ(os->used(os->ctx, q, 8192), 0);
            CHECK(q[0] == 0 && q[100] == 0 && q[8191] == 0, "recycled pages kept the old bytes after a failed unused: %d %d %d",
                  q[0], q[100], q[8191]);
            CHECK_EQ(os->release(os->ctx, q, n), 0);
        }
    }
    ga_reuseos_free(ro);
    ga_testos_free(t);
}

int main(void)
{
    test_reuseos_unused_failure();
    const ga_os *k = ga_os_default();
    size_t n = 1 << 20;
    /* real kernel: reserve, map, write, unused reads back zero, release */
    char *p = k->reserve(k->ctx, NULL, n);
    CHECK(p != NULL, "reserve");
    CHECK_EQ(k->map(k->ctx, p, n), 0);
    memset(p, 7, n);
    CHECK_EQ(k->unused(k->ctx, p, n), 0);
    CHECK(p[0] == 0 && p[n - 1] == 0, "DONTNEED pages did not read back as zero");
    CHECK_EQ(k->release(k->ctx, p, n), 0);
    /* a hint that is taken fails instead of landing elsewhere */
    char *q = k->reserve(k->ctx, NULL, n);
    CHECK(q != NULL, "reserve 2");
    errno = 0;
    CHECK(k->reserve(k->ctx, q, n) == NULL, "hint over an existing mapping succeeded");
    k->release(k->ctx, q, n);

    ga_testos *t = ga_testos_new(NULL);
    const ga_os *os = ga_testos_os(t);
    char *r = os->reserve(os->ctx, NULL, n);
    CHECK_EQ(ga_testos_page_state(t, r), GA_PAGE_RESERVED);
    CHECK_EQ(os->map(os->ctx, r, n / 2), 0);
    CHECK_EQ(ga_testos_page_state(t, r), GA_PAGE_PREPARED);
    CHECK_EQ(ga_testos_page_state(t, r + n / 2), GA_PAGE_RESERVED);
    CHECK_EQ(os->used(os->ctx, r, 4096), 0);
    CHECK_EQ(ga_testos_page_state(t, r), GA_PAGE_READY);
    CHECK_EQ(ga_testos_bytes_in_state(t, GA_PAGE_READY), 4096);
    CHECK_EQ(os->unused(os->ctx, r, 4096), 0);
    CHECK_EQ(ga_testos_page_state(t, r), GA_PAGE_PREPARED);
    CHECK_EQ(ga_testos_violations(t, NULL, 0), 0);
    /* illegal: unused on a page that was never mapped */
    os->unused(os->ctx, r + n / 2, 4096);
    char why[256];
    CHECK_EQ(ga_testos_violations(t, why, sizeof why), 1);
    CHECK(strstr(why, "unused") != NULL, "violation text: %s", why);
    /* failure injection: skip one, fail two */
    ga_testos_fail(t, GA_OS_MAP, 1, 2);
    CHECK_EQ(os->map(os->ctx, r, 4096), 0);
    errno = 0;
    CHECK(os->map(os->ctx, r, 4096) == -1 && errno == ENOMEM, "injected failure 1");
    CHECK(os->map(os->ctx, r, 4096) == -1, "injected failure 2");
    CHECK_EQ(os->map(os->ctx, r, 4096), 0);
    ga_testos_fail_next_alloc(t);
    CHECK(os->alloc_meta(os->ctx, 4096) == NULL, "fail_next_alloc");
    void *m = os->alloc_meta(os->ctx, 4096);
    CHECK(m != NULL, "alloc_meta after failure");
    os->free_meta(os->ctx, m, 4096);
    CHECK_EQ(ga_testos_calls(t, GA_OS_MAP), 5);
    CHECK_EQ(ga_testos_calls(t, GA_OS_ALLOC_META), 2);
    CHECK_EQ(os->release(os->ctx, r, n), 0);
    CHECK_EQ(ga_testos_bytes_in_state(t, GA_PAGE_RESERVED), 0);
    ga_testos_free(t);
    test_reuseos(0);
    test_reuseos(GA_REUSE_KEEP_MAPPED);
    TEST_MAIN_END();
}
