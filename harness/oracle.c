/*
 * oracle.c — the differential oracle: the written policy for what galloc and glibc must
 * do with each request, and the glibc reference side.
 *
 * Owns: gh_contract_galloc / gh_contract_glibc (the policy), the reference allocator
 * wrapper with its byte cap. Calls: libc malloc family only.
 *
 * =====================================================================================
 * POLICY — implementation-defined and contract-dependent results
 * =====================================================================================
 * Every allocation op is judged three times: galloc against its contract (galloc.h),
 * glibc against its contract (C11/POSIX/glibc manual), and — only where both contracts
 * are definite and equal — galloc against glibc (the differential check, GH_CHK_DIFF).
 * Where the contracts legitimately differ, the difference is listed here and nothing
 * is compared. "ANY" = either outcome is acceptable for that side.
 *
 *  request                        galloc (ga_alloc via the harness)   glibc                      compared
 *  ---------------------------------------------------------------------------------------------------
 *  malloc(0)                      unique minimal object (class 1)     unique non-NULL pointer    yes (both ok)
 *  malloc(n), n <= budget         ok                                  ok                         yes
 *  malloc(n), budget < n <= heap  op skipped on both sides (bounded memory)                      -
 *  any request > 128 KiB under a   ok (checked against its contract)   not made (the sanitizer's  -
 *   sanitizer (ASan/TSan builds)                                       allocator mmaps each one)
 *  malloc(n), n > max_heap_bytes  NULL, ENOMEM                        ANY if n <= PTRDIFF_MAX    if n > PTRDIFF_MAX
 *  malloc(n), n > PTRDIFF_MAX     NULL, ENOMEM                        NULL, ENOMEM               yes
 *  calloc(a, b), a*b overflows    NULL, ENOMEM (front end)            NULL, ENOMEM               yes
 *  calloc memory                  all zero                            all zero                   yes (each side)
 *  realloc(NULL, n)               = malloc(n)                         = malloc(n)                yes
 *  realloc(p, 0)                  new minimal object, p freed         frees p, returns NULL      NO: divergent;
 *                                 (alloc-new + copy + free)           (glibc REALLOC_ZERO_BYTES_FREES)  object lives on
 *                                                                                                the galloc side only
 *  realloc(p, n) failing          NULL, ENOMEM, p intact              NULL, ENOMEM, p intact     yes
 *  realloc contents               prefix min(old, new) kept           same                       yes (each side)
 *  posix_memalign(al), al pow2>=8 ok, aligned                         ok, aligned                yes
 *  posix_memalign(al), al pow2<8  ok (any power of two is valid)      EINVAL                     NO: contracts differ
 *  posix_memalign(0)              ok (0 = default alignment)          EINVAL                     NO
 *  posix_memalign(al), al !pow2   NULL, EINVAL                        EINVAL                     yes
 *  aligned_alloc(al), al !pow2    NULL, EINVAL                        ANY (EINVAL since 2.38,    NO
 *                                                                     rounded up before)
 *  aligned_alloc(al, n), n % al   ok                                  ANY (glibc ok; C11 before  NO
 *                                                                     DR 460 and ASan: invalid)
 *  memalign(al), al !pow2         NULL, EINVAL                        rounds al up, ok           NO
 *  any alignment > 1 GiB          ANY (EINVAL/ENOMEM or aligned ok)   ANY                        NO
 *  alignment > 8 KiB page, when   ANY (the run of size + align - 1    ok                         NO
 *   grown + size + align >         may not fit the bounded heap:
 *   max_heap_bytes                 address space, not live bytes)
 *  default alignment              8 (Go size classes; tiny: by size)  16 (MALLOC_ALIGNMENT)      NO: each side checks its own
 *  usable size                    >= requested (== ga_lookup usable)  >= requested               NO equality: slack
 *                                                                                                is implementation-defined
 *  misuse (double/interior/       exact ga_status                     not executed (UB)          -
 *   foreign free)                 (double free of a large object: GA_ERR_DOUBLE_FREE, or
 *                                 GA_ERR_NOT_OWNED when the first free released the span
 *                                 and ga_lookup agrees it is not owned)
 *  pointer into a tiny block      GA_ERR_TINY (galloc.h: "pointer is in a tiny block"),
 *                                 at any offset, including interior ones
 *  injected OS failure            ENOMEM allowed iff an OS call       not affected               NO
 *                                 failed during the same op
 *  ga_scavenge(n)                 releases <= n + 2 MiB (huge-page    -                          -
 *                                 rounding, as Go's scavenger)
 *
 * The glibc side is bounded: it never holds more than `cap` live bytes (requests that
 * would exceed it are skipped, not compared), and under ASan/libFuzzer it does not call
 * libc for requests whose glibc contract is a failure (ASan aborts on some of them:
 * calloc overflow, invalid alignment, > 3 GiB) — the contract answers instead.
 * Under a sanitizer the reference side is the sanitizer's allocator, not glibc's, and it
 * serves every block above 128 KiB (ASan's primary size classes end there) with a fresh
 * mmap, poisoned and quarantined, munmapped later: a twin that size cost more than the
 * galloc op it checks (a sixth of libFuzzer's time on the fuzz_ops corpus, most of it page
 * faults). Such requests are skipped on the reference side there (REF_SANITIZED_MAX);
 * release and AFL++ builds compare them against glibc as before.
 */
#include "harness_internal.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define GH_SANITIZED 1
#endif
#endif
#ifndef GH_SANITIZED
#define GH_SANITIZED 0
#endif

#define ONE_GIB ((uint64_t)1 << 30)

static bool pow2(uint64_t x) { return x && !(x & (x - 1)); }
static gh_contract ok(const char *why) { gh_contract c = { GH_EXP_OK, 0, why }; return c; }
static gh_contract fail(int err, const char *why) { gh_contract c = { GH_EXP_FAIL, err, why }; return c; }
static gh_contract any(const char *why) { gh_contract c = { GH_EXP_ANY, 0, why }; return c; }

gh_contract gh_contract_galloc(const gh_req *r, size_t max_heap_bytes, size_t heap_grown)
{
    if (r->kind == GH_CALLOC && r->overflow) return fail(ENOMEM, "calloc size overflow");
    if (r->align && !pow2(r->align)) return fail(EINVAL, "alignment not a power of two");
    if (r->align > ONE_GIB) return any("alignment above 1 GiB");
    if (max_heap_bytes && r->size > max_heap_bytes) return fail(ENOMEM, "size above max_heap_bytes");
    if (r->size > (uint64_t)PTRDIFF_MAX) return fail(ENOMEM, "size above PTRDIFF_MAX");
    if (max_heap_bytes && r->align && r->size + r->align > max_heap_bytes / 2)
        return any("size + alignment near max_heap_bytes");
    /* An over-aligned object needs a run of size + align - 1 bytes; objects at distinct
     * alignment boundaries cannot share one, so a bounded heap runs out of address space
     * after about max_heap_bytes / align of them, however little they hold. */
    if (max_heap_bytes && r->align > 8192 /* galloc page */ && heap_grown + r->size + r->align > max_heap_bytes)
        return any("over-aligned run would not fit in what is left of max_heap_bytes");
    return ok("within budget");
}

gh_contract gh_contract_glibc(const gh_req *r)
{
    if (r->kind == GH_CALLOC && r->overflow) return fail(ENOMEM, "calloc size overflow");
    if (r->kind == GH_ALIGNED) {
        switch (r->api) {
        case GH_API_POSIX:
            if (!pow2(r->align) || r->align % sizeof(void *)) return fail(EINVAL, "posix_memalign: alignment not a power-of-two multiple of sizeof(void *)");
            break;
        case GH_API_C11:
            if (!pow2(r->align)) return any("aligned_alloc: non-power-of-two alignment is glibc-version dependent");
            if (r->size % r->align) return any("aligned_alloc: size not a multiple of the alignment (C11 DR 460; ASan rejects it)");
            break;
        case GH_API_MEMALIGN:
            if (!pow2(r->align)) return any("memalign: non-power-of-two alignment is rounded up");
            break;
        default:   /* native: the glibc side uses posix_memalign semantics when valid */
            if (!pow2(r->align) || r->align % sizeof(void *)) return any("native alignment not expressible in posix_memalign");
            break;
        }
        if (r->align > ONE_GIB) return any("alignment above 1 GiB");
    }
    if (r->size > (uint64_t)PTRDIFF_MAX) return fail(ENOMEM, "size above PTRDIFF_MAX");
    if (r->kind == GH_REALLOC && r->has_old && r->size == 0) return any("realloc(p, 0) frees p and returns NULL");
    return ok("valid request");
}

bool gh_contracts_comparable(gh_contract a, gh_contract b)
{
    if (a.e == GH_EXP_ANY || b.e == GH_EXP_ANY) return false;
    if (a.e != b.e) return false;
    return a.e == GH_EXP_OK || a.err == b.err;
}

#define REF_SANITIZED_MAX ((size_t)128 << 10)
void gh_ref_init(gh_ref *r, size_t cap)
{
    r->cap = cap;
    r->live = 0;
    r->edge_calls = !GH_SANITIZED;
    r->max_request = GH_SANITIZED ? REF_SANITIZED_MAX : 0;
}

static gh_ref_res skipped(void) { gh_ref_res x = { GH_REF_SKIPPED, 0, false, false, NULL, false }; return x; }

gh_ref_res gh_ref_alloc(gh_ref *r, const gh_req *q, void *old, size_t old_size)
{
    gh_ref_res x = skipped();
    gh_contract c = gh_contract_glibc(q);
    bool absurd = c.e == GH_EXP_FAIL;
    bool fits = q->size <= r->cap && r->live - (old ? old_size : 0) + q->size <= r->cap &&
                q->align <= ((uint64_t)1 << 20) && (!r->max_request || q->size <= r->max_request);
    if (q->kind == GH_REALLOC && old && q->size == 0) {
        /* glibc: realloc(p, 0) frees p and returns NULL (policy: not compared). */
        errno = 0;
        void *p = realloc(old, 0);
        if (p) { x.outcome = GH_REF_OK; x.p = p; r->live -= old_size; return x; }
        r->live -= old_size;
        x.outcome = GH_REF_SKIPPED;
        x.freed_old = true;
        return x;
    }
    if (absurd && !r->edge_calls) {
        x.outcome = GH_REF_FAIL;
        x.err = c.err;
        x.modelled = true;
        return x;
    }
    if (!absurd && !fits) return x;                 /* over the cap: skipped */
    if (!absurd && c.e == GH_EXP_ANY && !r->edge_calls) return x;
    /* A request that may succeed with an enormous size (ANY) is never made. */
    if (c.e == GH_EXP_ANY && !fits) return x;
    errno = 0;
    void *p = NULL;
    int rc = 0;
    switch (q->kind) {
    case GH_MALLOC:
    case GH_CALLOC:
        /* edge requests (overflowing or absurd) still go to calloc itself: they test its contract */
        x.unzeroed = (q->kind == GH_CALLOC || q->zero) && q->size > GH_REF_ZERO_LIMIT && !q->overflow && !absurd;
        if (x.unzeroed || (q->kind == GH_MALLOC && !q->zero)) p = malloc(q->size);
        else p = q->kind == GH_CALLOC ? calloc(q->nmemb, q->elem) : calloc(1, q->size);
        break;
    case GH_REALLOC: p = realloc(old, q->size); break;
    case GH_ALIGNED:
        switch (q->api) {
        case GH_API_C11: p = aligned_alloc(q->align, q->size); break;
        case GH_API_MEMALIGN: p = memalign(q->align, q->size); break;
        default:
            rc = posix_memalign(&p, q->align, q->size);
            if (rc) { p = NULL; errno = rc; }
            break;
        }
        break;
    default: return x;
    }
    if (p) {
        x.outcome = GH_REF_OK;
        x.p = p;
        r->live += q->size;
        if (q->kind == GH_REALLOC && old) r->live -= old_size;
    } else {
        x.outcome = GH_REF_FAIL;
        x.err = errno;
    }
    return x;
}

void gh_ref_free(gh_ref *r, void *p, size_t size)
{
    if (!p) return;
    free(p);
    r->live -= size;
}

size_t gh_ref_usable(void *p) { return p ? malloc_usable_size(p) : 0; }
