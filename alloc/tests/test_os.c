/*
 * test_os.c — the OS layer: the real kernel calls and ga_testos's counting, page-state
 * tracking, illegal-transition detection and failure injection.
 */
#include "check.h"
#include "os.h"
#include <errno.h>
#include <string.h>

int main(void)
{
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
    TEST_MAIN_END();
}
