/*
 * exec_os.c — the OS layer galloc runs on inside the executor.
 *
 * galloc reaches ga_testos (page states, call counts, injected failures) through a wrapper
 * that mirrors ga_testos's failure injection, so the executor can tell an injected failure
 * (which excuses an ENOMEM during that op) from a real one; the fail-os op arms it. Also
 * the page-state checks: a live object's pages are Ready, no illegal transition happened.
 * Calls: os.h (ga_testos).
 */
#include "exec_internal.h"

/* ---- OS page state ---------------------------------------------------------------- */
bool ex_check_pages(ex *x, obj *o)
{
    if (!(x->o->checks & GH_CHK_OS) || !o->sut) return true;
    const uint8_t *p = o->sut;
    size_t n = o->size ? o->size : 1;
    const uint8_t *probe[2] = { p, p + n - 1 };
    /* ga_testos keeps one state per 4 KiB page (no OS call can change part of one): both
     * ends in one page is one lookup */
    int nprobe = ((uintptr_t)probe[0] >> 12) == ((uintptr_t)probe[1] >> 12) ? 1 : 2;
    for (int k = 0; k < nprobe; k++) {
        enum ga_page_state s = ga_testos_page_state(x->tos, probe[k]);
        if (s != GA_PAGE_READY)
            return !ex_finding(x, GH_CHK_OS, o, NULL, "object #%" PRIu64 " (%zu bytes at %p): page of byte %td is in OS state %d, not Ready",
                            o->id, o->size, o->sut, probe[k] - p, (int)s);
    }
    return true;
}

bool ex_check_os_violations(ex *x)
{
    if (x->os_model_errors)
        return !ex_finding(x, GH_CHK_STATUS, NULL, NULL, "harness: the model of ga_testos failure injection is out of step "
                        "(%" PRIu64 " predicted failure(s) did not happen): alloc/os.c should_fail changed?", x->os_model_errors);
    if (!(x->o->checks & GH_CHK_OS)) return true;
    uint64_t v = ga_testos_violations(x->tos, NULL, 0);   /* per op: no message copied */
    if (!v) return true;
    char first[200] = "";
    ga_testos_violations(x->tos, first, sizeof first);
    return !ex_finding(x, GH_CHK_OS, NULL, NULL, "%" PRIu64 " illegal OS page transition(s); first: %s", v, first);
}

/* ---- caches --------------------------------------------------------------------- */
/* The OS layer galloc sees: ga_testos, with injected failures counted. */
static bool m_should_fail(ex *x, enum ga_os_call call)
{
    if (x->m_next_alloc && (call == GA_OS_RESERVE || call == GA_OS_MAP || call == GA_OS_ALLOC_META)) {
        x->m_next_alloc = false;
        return true;
    }
    if (x->m_count[call] == 0) return false;
    if (x->m_skip[call] > 0) { x->m_skip[call]--; return false; }
    x->m_count[call]--;
    return true;
}
static void w_account(ex *x, bool injected, bool failed)
{
    if (injected) x->os_failures++;
    if (injected && !failed) x->os_model_errors++;
}
static void *w_reserve(void *ctx, void *hint, size_t n)
{
    ex *x = ctx;
    bool inj = m_should_fail(x, GA_OS_RESERVE);
    void *p = x->inner->reserve(x->inner->ctx, hint, n);
    w_account(x, inj, !p);
    return p;
}
static int w_map(void *ctx, void *p, size_t n)
{
    ex *x = ctx;
    bool inj = m_should_fail(x, GA_OS_MAP);
    int rc = x->inner->map(x->inner->ctx, p, n);
    w_account(x, inj, rc != 0);
    return rc;
}
static int w_used(void *ctx, void *p, size_t n)
{
    ex *x = ctx;
    bool inj = m_should_fail(x, GA_OS_USED);
    uintptr_t a = (uintptr_t)p;
    if (x->used_hi == x->used_lo || a < x->used_lo) x->used_lo = a;
    if (a + n > x->used_hi) x->used_hi = a + n;
    int rc = x->inner->used(x->inner->ctx, p, n);
    w_account(x, inj, rc != 0);
    return rc;
}
static int w_unused(void *ctx, void *p, size_t n)
{
    ex *x = ctx;
    bool inj = m_should_fail(x, GA_OS_UNUSED);
    int rc = x->inner->unused(x->inner->ctx, p, n);
    w_account(x, inj, rc != 0);
    if (x->rec_unused) {   /* even a failed call may have changed part of the range */
        if (x->nunused < sizeof x->unused / sizeof *x->unused) {
            x->unused[x->nunused].lo = (uintptr_t)p;
            x->unused[x->nunused++].hi = (uintptr_t)p + n;
        } else {
            x->unused_overflow = true;
        }
    }
    return rc;
}
static int w_release(void *ctx, void *p, size_t n)
{
    ex *x = ctx;   /* ga_testos never injects release failures */
#ifdef GH_ASAN
    /* ASan keeps manual poisoning across munmap: clear it, or the next heap mapped at the
     * same (fixed) addresses inherits poisoned free slots of this one. Only pages made Ready
     * can have been poisoned; a whole 64 MiB region is 8 MiB of shadow to memset (and
     * fault in) per input. */
    uintptr_t lo = (uintptr_t)p > x->used_lo ? (uintptr_t)p : x->used_lo;
    uintptr_t hi = (uintptr_t)p + n < x->used_hi ? (uintptr_t)p + n : x->used_hi;
    if (lo < hi) ASAN_UNPOISON_MEMORY_REGION((void *)lo, hi - lo);
#endif
    return x->inner->release(x->inner->ctx, p, n);
}
static void *w_alloc_meta(void *ctx, size_t n)
{
    ex *x = ctx;
    bool inj = m_should_fail(x, GA_OS_ALLOC_META);
    void *p = x->inner->alloc_meta(x->inner->ctx, n);
    w_account(x, inj, !p);
    return p;
}
static void w_free_meta(void *ctx, void *p, size_t n)
{
    ex *x = ctx;
    x->inner->free_meta(x->inner->ctx, p, n);
}

void ex_op_fail_os(ex *x, const gh_op *op)
{
    static const int call_of[GH_OSF_N] = { -1, GA_OS_RESERVE, GA_OS_MAP, GA_OS_USED, GA_OS_UNUSED, GA_OS_RELEASE, GA_OS_ALLOC_META };
    unsigned k = (unsigned)(op->a % GH_OSF_N);
    if (k == GH_OSF_NEXT_ALLOC) {
        ga_testos_fail_next_alloc(x->tos);
        x->m_next_alloc = true;
        EM("ga_testos_fail_next_alloc(tos);");
    } else {
        ga_testos_fail(x->tos, (enum ga_os_call)call_of[k], (unsigned)op->b, (unsigned)op->flags + 1);
        x->m_skip[call_of[k]] = (unsigned)op->b;
        x->m_count[call_of[k]] = (unsigned)op->flags + 1;
        EM("ga_testos_fail(tos, (enum ga_os_call)%d, %u, %u);", call_of[k], (unsigned)op->b, (unsigned)op->flags + 1);
    }
}

/* Points galloc's OS layer (x->wrap) at the wrapper over x->tos. */
void ex_os_init(ex *x)
{
    x->inner = ga_testos_os(x->tos);
    x->wrap = (ga_os){ x, w_reserve, w_map, w_used, w_unused, w_release, w_alloc_meta, w_free_meta };
}
