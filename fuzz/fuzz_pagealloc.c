/*
 * fuzz_pagealloc.c — fuzz target: the page allocator (alloc/pagealloc.c, pagecache.c)
 * against a flat bitmap model with address-ordered first fit.
 *
 * Each input gets a fresh ga_pagealloc over a fake OS layer (alloc/tests/meta_os.h, shared
 * with the unit test: metadata from anonymous MAP_NORESERVE mappings; sysUnused only logged,
 * failures injectable; the other OS calls must never happen), so no heap page is ever touched. Memory can be grown at 14 chunk
 * positions chosen to straddle every summary-level boundary: ten contiguous chunks at
 * B = 0x200c000 (crossing a level-3 block), two chunks on either side of a root-entry and
 * L2-block boundary (0x200ffff, 0x2010000), and two far away (B + 0x100000).
 *
 * Input: u8 initial grow (position h % 14, 1 + (h >> 4) % 3 chunks), then ops b % 16:
 *   0-3  alloc c [u8|u16]   pa_alloc(n): n = 1..16 / 17..600 / 601..2000 pages (by c % 10;
 *                           c == 255: n = 0)
 *   4    burst u8           1..16 single-page allocations
 *   5-7  free u16 u8        free a live run (u8 % 4 == 3: only a prefix or a suffix of it)
 *   8    free-scav u16      pa_free_scavenged of a live run
 *   9    free-all
 *   10-11 grow u8 u8        positions k.. (up to 3 adjacent); bit 7 of the second byte
 *                           injects an alloc_meta failure; growing a grown chunk must fail
 *   12   scavenge u8 u16    pa_scavenge(bytes, force = bit 0); bit 1: everything
 *   13   cache u8           per cache (bit 0): fill if empty (allocToCache), else flush
 *   14   cache-alloc u8 u8  ga_pagecache_alloc(1..72 pages) from cache (bit 0)
 *   15   fail-unused u8     the (u8 % 4)-th next sysUnused call fails
 * Checked after every step: pa_verify (summaries at every level against a recomputation,
 * searchAddr, inUse ranges, scavenge index: D1-D8), pa_verify_cache of both caches, every
 * grown chunk's pallocBits and scavenged bitmaps against the model, the page counters,
 * pa_contains, metadata bytes held; per op: the address and scavenged bytes pa_alloc
 * returns (first fit), the exact sysUnused calls of a scavenge (highest address first,
 * density rule, huge-page widening), the page cache contents. At the end pa_destroy must
 * give back every metadata byte. GALLOC_PLANT=summary-merge switches on pa_set_plant.
 * Calls: alloc/pagealloc.h (including its test hooks for reading bitmaps).
 */
#include "fuzz.h"
#include "pagealloc.h"
#include "../alloc/tests/pa_fixture.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define T "fuzz_pagealloc"
#define PG ((uintptr_t)GA_PAGE_SIZE)
#define CHUNKB ((uintptr_t)GA_PALLOC_CHUNK_BYTES)
#define P 512u
#define NPOS 14
#define B ((uint64_t)0x200c000)
#define ALL (~(uint64_t)0)
#define MAXLIVE 4096
#define MAXCALLS GA_META_OS_LOG

static const uint64_t pos_ci[NPOS] = {B + 0, B + 1, B + 2, B + 3, B + 4, B + 5, B + 6, B + 7, B + 8, B + 9,
                                      0x200ffff, 0x2010000, B + 0x100000, B + 0x100001};

static uintptr_t chunk_base(uint64_t ci) { return (uintptr_t)((ci << 22) + (uint64_t)GA_ARENA_BASE_OFFSET); }


/* ---- fake OS (alloc/tests/meta_os.h): metadata mappings recycled across inputs (zeroed and
 * kept for the next request of the same size instead of a munmap + mmap per input) --------- */
typedef pam_call call;
static ga_meta_os F;

static size_t g_step;
static const char *g_op = "setup";

GF_NORETURN GF_PRINTF(2, 3) static void fail(const char *sig, const char *fmt, ...);
static void fail(const char *sig, const char *fmt, ...)
{
    char where[120];
    snprintf(where, sizeof where, "step %zu (%s)", g_step, g_op);
    va_list ap;
    va_start(ap, fmt);
    gf_vfinding_at(T, sig, where, fmt, ap);
}

static void os_forbidden(const char *call) { fail("pagealloc/os-call", "the page allocator called os->%s", call); }
static void os_reset(void)
{
    ga_meta_os_reset(&F, os_forbidden, true);
    F.unused_errno = EAGAIN;
}

/* ---- model ------------------------------------------------------------------------------ */
typedef pam_chunk mchunk;   /* the model: pa_fixture.h */
typedef pam_live live;

static mchunk mdl[NPOS];
static live lv[MAXLIVE];
static size_t nlive;
static ga_pagecache cache[2], mcache[2];
static ga_pagealloc *pa;

#define mbit pam_bit
#define mput pam_put
static uintptr_t maddr(int k, unsigned p) { return chunk_base(pos_ci[k]) + p * PG; }
static int pos_of(uintptr_t a)
{
    uint64_t ci = (uint64_t)(a - (uintptr_t)GA_ARENA_BASE_OFFSET) >> 22;
    for (int k = 0; k < NPOS; k++)
        if (pos_ci[k] == ci)
            return k;
    return -1;
}
#define popc pam_popc

/* The reference model (pa_fixture.h) over this target's positions. */
static bool model_find(size_t n, int *ko, unsigned *po) { return pam_find(mdl, pos_ci, NPOS, n, ko, po); }
static size_t model_mark(int k, unsigned p, size_t n, bool alloc) { return pam_mark(mdl, k, p, n, alloc); }
static void model_mark_addr(uintptr_t a, size_t n, bool alloc)
{
    int k = pos_of(a);
    if (k < 0)
        fail("pagealloc/model", "address %#" PRIxPTR " is at no position", a);
    model_mark(k, (unsigned)((a % CHUNKB) / PG), n, alloc);
}

/* The sysUnused calls pa_scavenge(want pages, force) must make, applied to the model. */
static size_t model_scavenge(size_t want, bool force, call *calls, size_t *ncalls, long fail_after)
{
    return pam_scavenge(mdl, pos_ci, NPOS, want, force, calls, MAXCALLS, ncalls, fail_after);
}

/* ---- checks ----------------------------------------------------------------------------- */
static void check_cache_eq(int j)
{
    if (cache[j].base != mcache[j].base || cache[j].cache != mcache[j].cache || cache[j].scav != mcache[j].scav)
        fail("pagealloc/cache", "page cache %d is (base %#" PRIxPTR ", cache %#" PRIx64 ", scav %#" PRIx64
             "), model (%#" PRIxPTR ", %#" PRIx64 ", %#" PRIx64 ")", j, cache[j].base, cache[j].cache, cache[j].scav,
             mcache[j].base, mcache[j].cache, mcache[j].scav);
}

static void check_all(void)
{
    ga_report rep;
    if (pa_verify(pa, &rep) != 0) {
        char sig[64];
        snprintf(sig, sizeof sig, "pagealloc/verify/%s", rep.invariant[0] ? rep.invariant : "?");
        fail(sig, "pa_verify: %s %s", rep.invariant, rep.message);
    }
    for (int j = 0; j < 2; j++) {
        if (pa_verify_cache(pa, &cache[j], &rep) != 0)
            fail("pagealloc/verify-cache", "pa_verify_cache(cache %d): %s %s", j, rep.invariant, rep.message);
        check_cache_eq(j);
    }
    size_t total = 0, alloc = 0, sfree = 0;
    for (int k = 0; k < NPOS; k++) {
        uintptr_t cb = chunk_base(pos_ci[k]);
        if (pa_contains(pa, cb) != mdl[k].grown)
            fail("pagealloc/contains", "pa_contains(chunk %#" PRIx64 ") = %d, model grown = %d", pos_ci[k],
                 pa_contains(pa, cb), mdl[k].grown);
        if (!mdl[k].grown)
            continue;
        const uint64_t *ga = pa_test_chunk_bits(pa, cb, false), *gs = pa_test_chunk_bits(pa, cb, true);
        if (!ga || !gs)
            fail("pagealloc/bitmap", "chunk %#" PRIx64 " is grown but has no bitmaps", pos_ci[k]);
        for (int w = 0; w < 8; w++) {
            if (ga[w] != mdl[k].a[w])
                fail("pagealloc/bitmap", "chunk %#" PRIx64 " pallocBits word %d is %#" PRIx64 ", model %#" PRIx64,
                     pos_ci[k], w, ga[w], mdl[k].a[w]);
            if (gs[w] != mdl[k].s[w])
                fail("pagealloc/scavenged", "chunk %#" PRIx64 " scavenged word %d is %#" PRIx64 ", model %#" PRIx64,
                     pos_ci[k], w, gs[w], mdl[k].s[w]);
            sfree += (size_t)__builtin_popcountll(mdl[k].s[w] & ~mdl[k].a[w]);
        }
        alloc += popc(mdl[k].a);
        total += P;
    }
    if (pa_total_pages(pa) != total || pa_alloc_pages(pa) != alloc || pa_scavenged_free_pages(pa) != sfree ||
        pa_free_pages(pa) != total - alloc)
        fail("pagealloc/counters", "counters total %zu alloc %zu scavenged-free %zu free %zu; model %zu %zu %zu %zu",
             pa_total_pages(pa), pa_alloc_pages(pa), pa_scavenged_free_pages(pa), pa_free_pages(pa), total, alloc,
             sfree, total - alloc);
    if (pa_meta_bytes(pa) != F.live_bytes)
        fail("pagealloc/meta-bytes", "pa_meta_bytes %zu but the OS layer holds %zu metadata bytes", pa_meta_bytes(pa),
             F.live_bytes);
}

/* ---- ops -------------------------------------------------------------------------------- */
static void add_live(uintptr_t a, size_t n)
{
    if (nlive < MAXLIVE) {
        lv[nlive++] = (live){a, n};
    } else {   /* bookkeeping full: give it back at once */
        pa_free(pa, a, n);
        model_mark_addr(a, n, false);
    }
}

static void op_alloc(size_t n)
{
    int k = 0;
    unsigned p = 0;
    bool ok = n > 0 && model_find(n, &k, &p);
    size_t sb = 12345;
    uintptr_t a = pa_alloc(pa, n, &sb);
    if (!ok) {
        if (a != 0 || sb != 0)
            fail("pagealloc/alloc-result", "pa_alloc(%zu) returned %#" PRIxPTR " (scav %zu), the model has no room", n,
                 a, sb);
        return;
    }
    size_t ms = model_mark(k, p, n, true);
    if (a != maddr(k, p) || sb != ms * PG)
        fail("pagealloc/alloc-result", "pa_alloc(%zu) returned %#" PRIxPTR " with %zu scavenged pages, first fit is %#"
             PRIxPTR " with %zu", n, a, sb / PG, maddr(k, p), ms);
    add_live(a, n);
}

static void op_grow(unsigned k, unsigned len, bool inject)
{
    k %= NPOS;
    if (mdl[k].grown) {   /* growing memory twice must be refused and change nothing */
        errno = 0;
        int rc = pa_grow(pa, chunk_base(pos_ci[k]), CHUNKB);
        if (rc != -1 || errno != EINVAL)
            fail("pagealloc/regrow", "pa_grow of the grown chunk %#" PRIx64 " returned %d (errno %d), expected EINVAL",
                 pos_ci[k], rc, errno);
        return;
    }
    unsigned j = 0;
    while (j < len && k + j < NPOS && !mdl[k + j].grown && (j == 0 || pos_ci[k + j] == pos_ci[k + j - 1] + 1))
        j++;
    if (inject)
        F.meta_fail_after = 0;
    errno = 0;
    int rc = pa_grow(pa, chunk_base(pos_ci[k]), (size_t)j * CHUNKB);
    bool injected = inject && F.meta_fail_after < 0;
    F.meta_fail_after = -1;
    if (rc != 0) {
        if (!injected || errno != ENOMEM)
            fail("pagealloc/grow", "pa_grow(%u chunks at %#" PRIx64 ") failed (errno %d) without an injected failure",
                 j, pos_ci[k], errno);
        return;
    }
    for (unsigned q = 0; q < j; q++) {
        mdl[k + q].grown = true;
        memset(mdl[k + q].a, 0, sizeof mdl[k + q].a);
        memset(mdl[k + q].s, 0xff, sizeof mdl[k + q].s);
    }
}

static void op_free(unsigned i, unsigned mode, bool scav)
{
    if (!nlive)
        return;
    i %= (unsigned)nlive;
    size_t n = lv[i].n;
    if (!scav && mode % 4 == 3 && n > 1)   /* part of it: a prefix (bit 7) or a suffix */
        n = 1 + (mode >> 2) % (n - 1);
    uintptr_t a = pam_take(lv, &nlive, i, n, (mode & 0x80) != 0);
    if (scav) {
        pa_free_scavenged(pa, a, n);
        int k = pos_of(a);
        unsigned p = (unsigned)((a % CHUNKB) / PG);
        for (size_t q = 0; q < n; q++) {
            mput(mdl[k].a, p, false);
            mput(mdl[k].s, p, true);
            if (++p == P)
                p = 0, k++;
        }
    } else {
        pa_free(pa, a, n);
        model_mark_addr(a, n, false);
    }
}

static void op_scavenge(unsigned flags, unsigned amount)
{
    bool force = flags & 1;
    size_t nb = (flags & 2) ? SIZE_MAX : (size_t)(1 + amount % 1100) * PG - ((flags & 4) ? PG / 2 : 0);
    size_t want = nb / PG + (nb % PG != 0);
    call want_calls[MAXCALLS];
    size_t nwant;
    size_t exp = model_scavenge(want, force, want_calls, &nwant, F.unused_fail_after);
    F.unused_calls = F.nulog = 0;
    size_t got = pa_scavenge(pa, nb, force);
    F.unused_fail_after = -1;
    if (got != exp * PG)
        fail("pagealloc/scavenge", "pa_scavenge(%zu pages, force %d) released %zu pages, model %zu", want, force,
             got / PG, exp);
    if (F.unused_calls != nwant)
        fail("pagealloc/scavenge-calls", "pa_scavenge made %zu sysUnused calls, model %zu", F.unused_calls, nwant);
    for (size_t c = 0; c < nwant && c < MAXCALLS; c++)
        if (F.ulog[c].a != want_calls[c].a || F.ulog[c].n != want_calls[c].n)
            fail("pagealloc/scavenge-calls", "sysUnused call %zu released [%#" PRIxPTR ", +%zu pages), model [%#" PRIxPTR
                 ", +%zu pages)", c, F.ulog[c].a, F.ulog[c].n / PG, want_calls[c].a, want_calls[c].n / PG);
}

static void op_cache(unsigned b)
{
    int j = b & 1;
    if (cache[j].cache == 0) {
        mcache[j] = pam_to_cache(mdl, pos_ci, NPOS);
        cache[j] = pa_alloc_to_cache(pa);
        check_cache_eq(j);
    } else {
        int k = pos_of(cache[j].base);
        if (k < 0)
            fail("pagealloc/cache", "cache base %#" PRIxPTR " is at no position", cache[j].base);
        unsigned w = (unsigned)((cache[j].base % CHUNKB) / PG) / 64;
        mdl[k].a[w] &= ~mcache[j].cache;
        mdl[k].s[w] |= mcache[j].scav;
        ga_pagecache_flush(&cache[j], pa);
        mcache[j] = (ga_pagecache){0, 0, 0};
    }
}

static void op_cache_alloc(unsigned b, unsigned nb)
{
    int j = b & 1;
    size_t n = 1 + nb % 72;
    ga_pagecache before = mcache[j];
    int at = -1;
    if (n <= 64) {
        for (unsigned i = 0; i + n <= 64 && at < 0; i++) {
            uint64_t m = (n == 64 ? ALL : ((1ull << n) - 1)) << i;
            if ((before.cache & m) == m)
                at = (int)i;
        }
    }
    size_t sb = 12345;
    uintptr_t a = ga_pagecache_alloc(&cache[j], n, &sb);
    if (at < 0) {
        if (a != 0 || sb != 0)
            fail("pagealloc/cache-alloc", "ga_pagecache_alloc(%zu) returned %#" PRIxPTR " (scav %zu) from cache %#" PRIx64
                 " that has no such run", n, a, sb, before.cache);
        return;
    }
    uint64_t m = (n == 64 ? ALL : ((1ull << n) - 1)) << at;
    uintptr_t wa = before.base + (uintptr_t)at * PG;
    size_t ws = (size_t)__builtin_popcountll(before.scav & m) * PG;
    mcache[j].cache &= ~m;
    mcache[j].scav &= ~m;
    if (a != wa || sb != ws)
        fail("pagealloc/cache-alloc", "ga_pagecache_alloc(%zu) returned %#" PRIxPTR " (scav %zu pages), model %#" PRIxPTR
             " (%zu)", n, a, sb / PG, wa, ws / PG);
    if (nlive < MAXLIVE)
        lv[nlive++] = (live){a, n};
    else
        model_mark_addr(a, n, false), pa_free(pa, a, n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    (void)gf_plant();
    /* Warm the mapping cache with every metadata size an input can ask for (the pageAlloc,
     * the L2 blocks (with their summary levels) of all positions, grown range lists), so every
     * execution recycles mappings the same way: AFL++ stability stays at 100%. */
    os_reset();
    for (int round = 0; round < 2; round++) {
        ga_pagealloc *w = pa_new(&F.os);
        if (!w)
            break;
        for (int k = NPOS - 1; k >= 0; k -= 2)   /* disjoint ranges: the range list grows too */
            (void)pa_grow(w, chunk_base(pos_ci[k]), CHUNKB);
        pa_destroy(w);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_reader r = {data, size, 0};
    os_reset();
    memset(mdl, 0, sizeof mdl);
    memset(cache, 0, sizeof cache);
    memset(mcache, 0, sizeof mcache);
    nlive = 0;
    g_step = 0;
    g_op = "setup";
    pa = pa_new(&F.os);
    if (!pa)
        fail("pagealloc/new", "pa_new failed: errno %d", errno);
    pa_set_plant(pa, gf_plant() == GA_PLANT_SUMMARY_MERGE);
    unsigned h = gf_u8(&r);
    op_grow(h % NPOS, 1 + (h >> 4) % 3, false);
    check_all();
    for (g_step = 1; r.i < r.n && g_step < 20000; g_step++) {
        unsigned b = gf_u8(&r);
        switch (b % 16) {
        case 0: case 1: case 2: case 3: {
            g_op = "alloc";
            unsigned c = gf_u8(&r);
            size_t n = c == 255 ? 0 : c % 10 < 6 ? 1 + gf_u8(&r) % 16 : c % 10 < 9 ? 17 + gf_u16(&r) % 584 : 601 + gf_u16(&r) % 1400;
            op_alloc(n);
            break;
        }
        case 4: {
            g_op = "burst";
            unsigned k = 1 + gf_u8(&r) % 16;
            for (unsigned j = 0; j < k; j++)
                op_alloc(1);
            break;
        }
        case 5: case 6: case 7: {
            g_op = "free";
            unsigned i = gf_u16(&r);
            op_free(i, gf_u8(&r), false);
            break;
        }
        case 8:
            g_op = "free-scavenged";
            op_free(gf_u16(&r), 0, true);
            break;
        case 9:
            g_op = "free-all";
            while (nlive)
                op_free((unsigned)nlive - 1, 0, false);
            break;
        case 10: case 11: {
            g_op = "grow";
            unsigned k = gf_u8(&r), x = gf_u8(&r);
            op_grow(k, 1 + x % 3, (x & 0x80) != 0);
            break;
        }
        case 12: {
            g_op = "scavenge";
            unsigned f = gf_u8(&r);
            op_scavenge(f, gf_u16(&r));
            break;
        }
        case 13:
            g_op = "cache";
            op_cache(gf_u8(&r));
            break;
        case 14: {
            g_op = "cache-alloc";
            unsigned c = gf_u8(&r);
            op_cache_alloc(c, gf_u8(&r));
            break;
        }
        default:
            g_op = "fail-unused";
            F.unused_fail_after = (long)(gf_u8(&r) % 4);
            break;
        }
        check_all();
    }
    pa_destroy(pa);
    pa = NULL;
    if (F.live_bytes != 0)
        fail("pagealloc/meta-leak", "pa_destroy left %zu metadata bytes mapped", F.live_bytes);
    return 0;
}
