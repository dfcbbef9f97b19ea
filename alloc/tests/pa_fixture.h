/*
 * pa_fixture.h — what the page allocator's unit test (alloc/tests/test_pagealloc.c) and its
 * fuzz target (fuzz/fuzz_pagealloc.c, which includes it as "../alloc/tests/pa_fixture.h")
 * share: the fake OS layer they run it on (ga_meta_os) and the flat-bitmap reference model
 * they compare it with (pam_*).
 *
 * ga_meta_os. The page allocator calls only alloc_meta / free_meta (its metadata) and unused (scavenging);
 * it never touches heap pages. This ga_os serves metadata from anonymous RW MAP_NORESERVE
 * mappings, counts calls and live bytes, logs the first GA_META_OS_LOG unused calls (they
 * change nothing), injects a failure of the k-th next alloc_meta or unused call, and treats
 * reserve / map / used / release as a bug: `forbidden` is called with the call's name (it
 * must not return; NULL: print and abort).
 * With `recycle` set a freed mapping is zeroed (MADV_DONTNEED from 64 KiB, memset below) and
 * kept for the next request of the same size instead of munmap + mmap (a fuzzer makes a page
 * allocator per input); ga_meta_os_reset keeps those spares, ga_meta_os_drop gives them back.
 * Invariant: live_bytes / live_blocks are what alloc_meta handed out and free_meta has not
 * taken back (a pa_destroy must bring them to 0).
 *
 * pam_* (the model). A chunk per position (pos_ci[k]: chunk indices, ascending), each with
 * its pallocBits `a` and scavenged bits `s`: pam_find is address-ordered first fit (a run
 * crosses into the next position only when both are grown and address-adjacent), pam_mark
 * allocates (clearing scavenged bits, counted) or frees, pam_scavenge returns pages the way
 * pa_scavenge must (highest address first, dense chunks skipped unless forced, huge-page
 * widening) and lists the sysUnused calls it implies.
 * Header only (static functions). Calls: mmap, munmap, madvise, libc, pagealloc.h constants.
 */
#ifndef GA_PA_FIXTURE_H
#define GA_PA_FIXTURE_H
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "galloc.h"
#include "pagealloc.h"

#define GA_META_OS_LOG 256
#define GA_META_OS_SPARE 32

typedef struct ga_meta_os {
    ga_os os;                    /* what the page allocator calls; ctx points back here */
    size_t live_bytes, live_blocks, meta_calls;
    long meta_fail_after;        /* <0: never; k: the (k+1)-th next alloc_meta fails (ENOMEM) */
    long unused_fail_after;      /* the same for unused (errno unused_errno) */
    int unused_errno;
    size_t unused_calls;         /* successful unused calls */
    uint64_t unused_bytes;
    struct { uintptr_t a; size_t n; } ulog[GA_META_OS_LOG];
    size_t nulog;                /* entries of ulog filled (at most GA_META_OS_LOG) */
    void (*forbidden)(const char *call);
    bool recycle;
    struct { void *p; size_t n; } spare[GA_META_OS_SPARE];
} ga_meta_os;

static void *ga_meta_os_alloc_meta(void *ctx, size_t n)
{
    ga_meta_os *m = ctx;
    m->meta_calls++;
    if (m->meta_fail_after >= 0 && m->meta_fail_after-- == 0) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = NULL;
    for (int i = 0; i < GA_META_OS_SPARE && !p; i++)
        if (m->spare[i].p && m->spare[i].n == n) {
            p = m->spare[i].p;
            m->spare[i].p = NULL;
        }
    if (!p) {
        p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            errno = ENOMEM;
            return NULL;
        }
    }
    m->live_bytes += n;
    m->live_blocks++;
    return p;
}

static void ga_meta_os_free_meta(void *ctx, void *p, size_t n)
{
    ga_meta_os *m = ctx;
    m->live_bytes -= n;
    m->live_blocks--;
    for (int i = 0; m->recycle && i < GA_META_OS_SPARE; i++)
        if (!m->spare[i].p) {
            if (n >= 65536) {
                if (madvise(p, n, MADV_DONTNEED) != 0)
                    break;
            } else {
                memset(p, 0, n);
            }
            m->spare[i].p = p;
            m->spare[i].n = n;
            return;
        }
    munmap(p, n);
}

static int ga_meta_os_unused(void *ctx, void *p, size_t n)
{
    ga_meta_os *m = ctx;
    if (m->unused_fail_after >= 0 && m->unused_fail_after-- == 0) {
        errno = m->unused_errno;
        return -1;
    }
    m->unused_calls++;
    m->unused_bytes += n;
    if (m->nulog < GA_META_OS_LOG) {
        m->ulog[m->nulog].a = (uintptr_t)p;
        m->ulog[m->nulog].n = n;
        m->nulog++;
    }
    return 0;
}

static void ga_meta_os_forbidden(ga_meta_os *m, const char *call)
{
    if (m->forbidden)
        m->forbidden(call);
    fprintf(stderr, "pa_fixture: the page allocator called os->%s\n", call);
    abort();
}
static void *ga_meta_os_reserve(void *ctx, void *h, size_t n) { (void)h, (void)n; ga_meta_os_forbidden(ctx, "reserve"); return NULL; }
static int ga_meta_os_map(void *ctx, void *p, size_t n) { (void)p, (void)n; ga_meta_os_forbidden(ctx, "map"); return -1; }
static int ga_meta_os_used(void *ctx, void *p, size_t n) { (void)p, (void)n; ga_meta_os_forbidden(ctx, "used"); return -1; }
static int ga_meta_os_release(void *ctx, void *p, size_t n) { (void)p, (void)n; ga_meta_os_forbidden(ctx, "release"); return -1; }

/* Counters, log and injected failures back to zero (spares kept); os.ctx = m. */
static inline void ga_meta_os_reset(ga_meta_os *m, void (*forbidden)(const char *call), bool recycle)
{
    ga_meta_os keep = *m;
    memset(m, 0, sizeof *m);
    memcpy(m->spare, keep.spare, sizeof m->spare);
    m->forbidden = forbidden;
    m->recycle = recycle;
    m->meta_fail_after = m->unused_fail_after = -1;
    m->unused_errno = ENOMEM;
    m->os = (ga_os){m, ga_meta_os_reserve, ga_meta_os_map, ga_meta_os_used, ga_meta_os_unused, ga_meta_os_release,
                    ga_meta_os_alloc_meta, ga_meta_os_free_meta};
}

/* Unmaps the spares. */
static inline void ga_meta_os_drop(ga_meta_os *m)
{
    for (int i = 0; i < GA_META_OS_SPARE; i++)
        if (m->spare[i].p) {
            munmap(m->spare[i].p, m->spare[i].n);
            m->spare[i].p = NULL;
        }
}
/* ---- the reference model ------------------------------------------------------------------ */
typedef struct pam_chunk {
    bool grown;
    uint64_t a[8], s[8];
} pam_chunk;
typedef struct pam_call { uintptr_t a; size_t n; } pam_call;

static inline bool pam_bit(const uint64_t *w, unsigned i) { return (w[i >> 6] >> (i & 63)) & 1; }
static inline void pam_put(uint64_t *w, unsigned i, bool v)
{
    if (v)
        w[i >> 6] |= 1ull << (i & 63);
    else
        w[i >> 6] &= ~(1ull << (i & 63));
}
static inline unsigned pam_popc(const uint64_t w[8])
{
    unsigned c = 0;
    for (int i = 0; i < 8; i++)
        c += (unsigned)__builtin_popcountll(w[i]);
    return c;
}

/* First fit of n pages: position and page of the run's start. */
static inline bool pam_find(const pam_chunk *m, const uint64_t *pos_ci, int npos, size_t n, int *ko, unsigned *po)
{
    size_t run = 0;
    int sk = -1;
    unsigned sp = 0;
    for (int k = 0; k < npos; k++) {
        if (!m[k].grown || (k > 0 && pos_ci[k] != pos_ci[k - 1] + 1) || (k > 0 && !m[k - 1].grown))
            run = 0;
        if (!m[k].grown)
            continue;
        for (unsigned w = 0; w < 8; w++) {
            if (m[k].a[w] == ~(uint64_t)0) {
                run = 0;
                continue;
            }
            for (unsigned p = w * 64; p < w * 64 + 64; p++) {
                if (pam_bit(m[k].a, p)) {
                    run = 0;
                    continue;
                }
                if (run == 0)
                    sk = k, sp = p;
                if (++run == n) {
                    *ko = sk;
                    *po = sp;
                    return true;
                }
            }
        }
    }
    return false;
}

/* Marks n pages from (k, p) allocated or free (running on into position k + 1); returns how
 * many of them were scavenged (allocation clears their scavenged bits). */
static inline size_t pam_mark(pam_chunk *m, int k, unsigned p, size_t n, bool alloc)
{
    size_t sc = 0;
    while (n--) {
        if (alloc) {
            sc += pam_bit(m[k].s, p);
            pam_put(m[k].s, p, false);
        }
        pam_put(m[k].a, p, alloc);
        if (++p == GA_PALLOC_CHUNK_PAGES)
            p = 0, k++;
    }
    return sc;
}

/* pa_scavenge(want pages, force) applied to the model: the pages it returns; the sysUnused
 * calls it implies go to calls[0 .. maxcalls) (*ncalls counts them all; calls may be NULL).
 * fail_after >= 0: that many calls succeed, then the OS refuses one and the scavenge stops. */
static inline size_t pam_scavenge(pam_chunk *m, const uint64_t *pos_ci, int npos, size_t want, bool force,
                                  pam_call *calls, size_t maxcalls, size_t *ncalls, long fail_after)
{
    const unsigned P = GA_PALLOC_CHUNK_PAGES;
    size_t got = 0, nc = 0;
    for (int k = npos - 1; k >= 0 && got < want; k--) {
        if (!m[k].grown)
            continue;
        if (!force && pam_popc(m[k].a) >= GA_SCAV_CHUNK_HI_OCC_PAGES)
            continue;
        while (got < want) {
            int top = -1;
            for (int p = (int)P - 1; p >= 0; p--)
                if (!pam_bit(m[k].a, (unsigned)p) && !pam_bit(m[k].s, (unsigned)p)) {
                    top = p;
                    break;
                }
            if (top < 0)
                break;
            unsigned end = (unsigned)top + 1, run = 0;
            while (run < end && !pam_bit(m[k].a, end - 1 - run) && !pam_bit(m[k].s, end - 1 - run))
                run++;
            size_t left = want - got;
            unsigned maxp = left < P ? (unsigned)left : P;
            unsigned size = run < maxp ? run : maxp, start = end - size;
            unsigned hp = GA_PA_HUGE_PAGE_PAGES;
            unsigned above = (start + hp - 1) / hp * hp;
            if (above <= end && start / hp * hp >= end - run) {
                size += start - start / hp * hp;
                start = start / hp * hp;
            }
            if (fail_after == 0)
                break;   /* the OS refuses this call: pa_scavenge stops */
            if (fail_after > 0)
                fail_after--;
            if (calls && nc < maxcalls)
                calls[nc] = (pam_call){(uintptr_t)((pos_ci[k] << 22) + (uint64_t)GA_ARENA_BASE_OFFSET) +
                                           (uintptr_t)start * GA_PAGE_SIZE, (size_t)size * GA_PAGE_SIZE};
            nc++;
            for (unsigned p = start; p < start + size; p++)
                pam_put(m[k].s, p, true);
            got += size;
        }
        if (fail_after == 0 && got < want)
            break;
    }
    if (ncalls)
        *ncalls = nc;
    return got;
}
/* allocToCache applied to the model: the 64-page block holding the first free page, every
 * free page of it taken (their scavenged bits cleared); an empty cache if nothing is free. */
static inline ga_pagecache pam_to_cache(pam_chunk *m, const uint64_t *pos_ci, int npos)
{
    ga_pagecache want;
    memset(&want, 0, sizeof want);
    int k;
    unsigned p;
    if (pam_find(m, pos_ci, npos, 1, &k, &p)) {
        unsigned w = p / 64;
        want.base = (uintptr_t)((pos_ci[k] << 22) + (uint64_t)GA_ARENA_BASE_OFFSET) + (uintptr_t)w * 64 * GA_PAGE_SIZE;
        want.cache = ~m[k].a[w];
        want.scav = m[k].s[w] & want.cache;
        m[k].a[w] = ~(uint64_t)0;
        m[k].s[w] &= ~want.scav;
    }
    return want;
}

/* A live allocation of the caller's books: n pages from a. */
typedef struct pam_live { uintptr_t a; size_t n; } pam_live;
/* Frees n pages of live run i of lv[0 .. *nlive): the whole run if n >= its length (removed,
 * the last one takes its place), else its first n pages (front) or its last n; returns the
 * address of the pages taken out. */
static inline uintptr_t pam_take(pam_live *lv, size_t *nlive, size_t i, size_t n, bool front)
{
    pam_live l = lv[i];
    if (n >= l.n) {
        lv[i] = lv[--*nlive];
        return l.a;
    }
    if (front) {
        lv[i] = (pam_live){l.a + n * GA_PAGE_SIZE, l.n - n};
        return l.a;
    }
    lv[i].n = l.n - n;
    return l.a + (l.n - n) * GA_PAGE_SIZE;
}
#endif
