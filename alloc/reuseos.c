/*
 * reuseos.c — ga_reuseos (os.h), the fuzzers' recycling OS layer: a ga_os that keeps the
 * regions and metadata blocks a destroyed heap gives back, scrubbed, and hands them to the
 * next heap of the process (same address for the same hint), so a heap per input costs no
 * mmap / munmap and few page faults. What it owns, its invariants (a reused block looks
 * exactly like a fresh mapping) and its costs are told below. Test and fuzz code only: in
 * galloc_core, not in libgalloc (it calls malloc for its own books).
 * Calls: the inner ga_os, the kernel (madvise, mincore, mprotect), libc, pthreads,
 * sanitize.h (ASan / Valgrind annotations of recycled memory).
 */
#include "os.h"
#include "sanitize.h"
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---------------------------------------------------------------------------------
 * ga_reuseos: keeps what a heap gives back and hands it to the next heap of the process.
 *
 * A fuzzer creates and destroys a heap per input. With the kernel underneath, every input
 * pays for mmap + munmap (with TLB shootdowns) of each region and metadata block and then a
 * page fault, often two (a read maps the zero page, the first write copies it), for every
 * page it touches: most of an input's time. Here a released region or metadata block is
 * scrubbed instead of unmapped: of a region, only pages the heap made Ready (`used`) and
 * did not give back with `unused` since can have been written (the heap writes nothing
 * else, spec §5.4). Small runs of them are zeroed with memset, big ones ask mincore which
 * pages are resident first (metadata: every resident page). The region goes back to
 * PROT_NONE (Reserved) and waits in a cache for a request of the same size (and, for
 * regions, the same address: the heap's hints are fixed, so each input gets the same
 * addresses, which keeps AFL++ stability at 100%). A reused block therefore looks exactly
 * like a fresh mapping: Reserved and zero, or (metadata) Ready and zero.
 *
 * GA_REUSE_KEEP_MAPPED trades one guarantee for speed: the part of a region a heap mapped
 * stays RW when it is cached (mprotect over a 4 MiB region with resident pages costs
 * ~60 us, more than a whole small fuzz input), and `unused` zeroes the Ready pages with
 * memset instead of madvise. Contents and page states are exactly as with the kernel
 * (ga_testos, testos.c, still tracks every state); what is lost is the hardware trap when the
 * heap touches a page of a recycled region it has not mapped yet.
 * Not for libgalloc: it calls malloc for its own bookkeeping.
 */
#define REUSE_MAX 256                 /* cached blocks; beyond that they go back to the kernel */
#define RPAGE 4096u
#define SPARSE_META ((size_t)4 << 20)
/* Bytes memset per release at most; past it, resident runs are dropped with madvise. As
 * large as the fuzzers' default live budget (64 MiB): a page dropped here costs two faults
 * when the next heap touches it again (a read maps the zero page, the write copies it),
 * far more than a memset of it. At 16 MiB the slowest corpus input ran at half its speed. */
#define SCRUB_MEMSET ((size_t)64 << 20)
#define SCRUB_DIRECT ((size_t)64 << 10)    /* runs up to this are memset without asking mincore */

typedef struct reuse_block {
    uintptr_t base;
    size_t n;
    bool meta;
    uintptr_t lo, hi;                 /* regions handed out: the span of every map call */
    uint64_t *used;                   /* ... and a bit per 4 KiB page passed to `used`
                                       * (cleared again by `unused`) */
    uintptr_t rw_lo, rw_hi;           /* KEEP_MAPPED: the span left RW by earlier lifetimes */
} reuse_block;

struct ga_reuseos {
    ga_os os;
    const ga_os *inner;
    pthread_mutex_t lock;
    reuse_block cache[REUSE_MAX];     /* scrubbed, ready to hand out */
    size_t ncache;
    reuse_block *out;                 /* regions handed out (only those can be cached back) */
    size_t nout, capout;
    uint64_t hits, misses, scrubbed;
    bool keep_mapped;                 /* GA_REUSE_KEEP_MAPPED */
    bool no_swap;                     /* no swap at creation: a page that is not resident is zero */
};

/* Make every page of [base, base+n) (all RW) read as zero: resident pages are zeroed with
 * memset (cheaper than a fault later), absent ones get madvise(DONTNEED) — not resident may
 * also mean swapped out, with the old contents still in swap (without swap, an absent
 * anonymous page is zero and is left alone). mincore cannot tell a page the last heap wrote from one an earlier scrub
 * zeroed, so memset covers the union of what earlier heaps touched; past *budget bytes
 * (per release) resident runs are dropped with madvise too, which bounds the cost. If
 * mincore fails the whole range is dropped. */
static void reuse_scrub(ga_reuseos *r, uintptr_t base, size_t n, size_t *budget)
{
    unsigned char vec[1024];
    for (size_t off = 0; off < n; off += sizeof vec * RPAGE) {
        size_t len = n - off < sizeof vec * RPAGE ? n - off : sizeof vec * RPAGE;
        size_t np = (len + RPAGE - 1) / RPAGE;
        if (mincore((void *)(base + off), len, vec) != 0) {
            madvise((void *)(base + off), len, MADV_DONTNEED);
            continue;
        }
        for (size_t i = 0; i < np;) {
            bool resident = vec[i] & 1;
            size_t j = i + 1;
            while (j < np && (bool)(vec[j] & 1) == resident) {
                if (!resident && j % 8 == 0 && j + 8 <= np) {   /* 8 absent pages at a time */
                    uint64_t w;
                    memcpy(&w, vec + j, 8);
                    if (!(w & 0x0101010101010101ull)) { j += 8; continue; }
                }
                j++;
            }
            size_t lo = i * RPAGE, hi = j * RPAGE < len ? j * RPAGE : len;
            if (resident && hi - lo <= *budget) {
                memset((void *)(base + off + lo), 0, hi - lo);
                *budget -= hi - lo;
                r->scrubbed += hi - lo;
            } else if (resident || !r->no_swap) {
                madvise((void *)(base + off + lo), hi - lo, MADV_DONTNEED);
            }
            i = j;
        }
    }
}

/* True if [p, p+n) overlaps a cached block: a second release or free of it (the heap's bug;
 * ga_testos reports it) must not unmap or re-cache what the cache already holds. */
static bool reuse_cached(const ga_reuseos *r, uintptr_t p, size_t n)
{
    for (size_t i = 0; i < r->ncache; i++)
        if (r->cache[i].base < p + n && p < r->cache[i].base + r->cache[i].n) return true;
    return false;
}

static bool reuse_take(ga_reuseos *r, uintptr_t want, size_t n, bool meta, reuse_block *got)
{
    for (size_t i = r->ncache; i-- > 0;) {
        reuse_block *b = &r->cache[i];
        if (b->meta == meta && b->n == n && (!want || b->base == want)) {
            *got = *b;
            *b = r->cache[--r->ncache];
            r->hits++;
            return true;
        }
    }
    r->misses++;
    return false;
}

/* Caches a scrubbed block (rw_lo..rw_hi: the part left RW); false if the cache is full. */
static bool reuse_put(ga_reuseos *r, uintptr_t base, size_t n, bool meta, uintptr_t rw_lo, uintptr_t rw_hi)
{
    if (r->ncache == REUSE_MAX) return false;
    r->cache[r->ncache++] = (reuse_block){ base, n, meta, 0, 0, NULL, rw_lo, rw_hi };
    return true;
}

static void *r_reserve(void *ctx, void *hint, size_t n)
{
    ga_reuseos *r = ctx;
    pthread_mutex_lock(&r->lock);
    reuse_block got = { 0 };
    uintptr_t p = 0;
    if (reuse_take(r, (uintptr_t)hint, n, false, &got)) {
        p = got.base;
    } else {
        if (hint) {   /* a cached region overlapping the hint would make the kernel refuse it */
            for (size_t i = r->ncache; i-- > 0;) {
                reuse_block *b = &r->cache[i];
                if (!b->meta && b->base < (uintptr_t)hint + n && (uintptr_t)hint < b->base + b->n) {
                    r->inner->release(r->inner->ctx, (void *)b->base, b->n);
                    *b = r->cache[--r->ncache];
                }
            }
        }
        p = (uintptr_t)r->inner->reserve(r->inner->ctx, hint, n);
    }
    if (p && r->nout == r->capout) {
        size_t cap = r->capout ? 2 * r->capout : 16;
        reuse_block *no = realloc(r->out, cap * sizeof *no);
        if (!no) { r->inner->release(r->inner->ctx, (void *)p, n); p = 0; errno = ENOMEM; }
        else { r->out = no; r->capout = cap; }
    }
    uint64_t *used = p ? calloc((n / RPAGE + 63) / 64, sizeof *used) : NULL;
    if (p && !used) { r->inner->release(r->inner->ctx, (void *)p, n); p = 0; errno = ENOMEM; }
    if (p) r->out[r->nout++] = (reuse_block){ p, n, false, 0, 0, used, got.rw_lo, got.rw_hi };
    pthread_mutex_unlock(&r->lock);
    return (void *)p;
}

/* The handed-out region holding [a, a+n) entirely, or NULL. Called with the lock held. */
static reuse_block *out_block(ga_reuseos *r, uintptr_t a, size_t n)
{
    for (size_t i = 0; i < r->nout; i++)
        if (r->out[i].base <= a && a + n <= r->out[i].base + r->out[i].n) return &r->out[i];
    return NULL;
}

/* A heap's map and used calls may cross from one region into the next (adjacent
 * reservations): each region records its own part. */
static void reuse_note(ga_reuseos *r, uintptr_t a, size_t n, bool used)
{
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->nout; i++) {
        reuse_block *b = &r->out[i];
        uintptr_t lo = a > b->base ? a : b->base, hi = a + n < b->base + b->n ? a + n : b->base + b->n;
        if (lo >= hi) continue;
        if (used) {
            for (size_t k = (lo - b->base) / RPAGE; k <= (hi - 1 - b->base) / RPAGE; k++)
                b->used[k / 64] |= 1ull << (k % 64);
        } else {
            if (b->hi == b->lo) { b->lo = lo; b->hi = hi; }
            if (lo < b->lo) b->lo = lo;
            if (hi > b->hi) b->hi = hi;
        }
    }
    pthread_mutex_unlock(&r->lock);
}

/* Zero the pages of b in [from, to) (page indexes) that were made Ready, run by run, and
 * forget them: short runs with memset, longer ones through reuse_scrub (mincore first:
 * a large object's pages are Ready but mostly never touched by a sampling fuzzer). */
static void scrub_used_runs(ga_reuseos *r, reuse_block *b, size_t from, size_t to, size_t *budget)
{
    for (size_t k = from; k < to;) {
        uint64_t w = b->used[k / 64] >> (k % 64);
        if (!(w & 1)) {   /* to the next Ready page of this word, or the next word */
            k = w ? k + (size_t)__builtin_ctzll(w) : (k / 64 + 1) * 64;
            continue;
        }
        size_t j = k;
        while (j < to && (b->used[j / 64] >> (j % 64) & 1)) {
            b->used[j / 64] &= ~(1ull << (j % 64));
            j++;
        }
        size_t len = (j - k) * RPAGE;
        if (len <= SCRUB_DIRECT && len <= *budget) {
            memset((void *)(b->base + k * RPAGE), 0, len);
            *budget -= len;
            r->scrubbed += len;
        } else {
            reuse_scrub(r, b->base + k * RPAGE, len, budget);
        }
        k = j;
    }
}

/* Only pages mapped during a region's current lifetime are RW (the span of those calls is
 * made PROT_NONE again at release) — with KEEP_MAPPED, also the span earlier lifetimes
 * mapped, which needs no mprotect now. Only pages made Ready can have been written. */
static int r_map(void *ctx, void *p, size_t n)
{
    ga_reuseos *r = ctx;
    if (r->keep_mapped) {
        pthread_mutex_lock(&r->lock);
        reuse_block *b = out_block(r, (uintptr_t)p, n);
        bool rw = b && b->rw_lo <= (uintptr_t)p && (uintptr_t)p + n <= b->rw_hi;
        pthread_mutex_unlock(&r->lock);
        if (rw) {
            reuse_note(r, (uintptr_t)p, n, false);
            return 0;
        }
    }
    int rc = r->inner->map(r->inner->ctx, p, n);
    reuse_note(r, (uintptr_t)p, n, false);   /* even on failure: mprotect may have changed part */
    return rc;
}

static int r_used(void *ctx, void *p, size_t n)
{
    ga_reuseos *r = ctx;
    int rc = r->inner->used(r->inner->ctx, p, n);
    if (rc == 0) reuse_note(r, (uintptr_t)p, n, true);
    return rc;
}

/* The pages read back as zero afterwards either way. The kernel's madvise leaves nothing to
 * scrub at release; KEEP_MAPPED zeroes the Ready ones itself (a page never made Ready in
 * this lifetime is still zero), which costs less than a zap now and a fault later. */
#ifdef GA_ANNOTATING
#define UNUSED_BY_MEMSET 0   /* the heap keeps free pages poisoned for ASan/memcheck: the kernel zeroes */
#else
#define UNUSED_BY_MEMSET 1
#endif
static int r_unused(void *ctx, void *p, size_t n)
{
    ga_reuseos *r = ctx;
    uintptr_t a = (uintptr_t)p;
    pthread_mutex_lock(&r->lock);
    reuse_block *b = out_block(r, a, n);
    size_t from = b ? (a - b->base + RPAGE - 1) / RPAGE : 0, to = b ? (a + n - b->base) / RPAGE : 0;
    int rc = 0;
    if (b && r->keep_mapped && UNUSED_BY_MEMSET && a % RPAGE == 0 && n % RPAGE == 0) {
        size_t budget = SCRUB_MEMSET;
        scrub_used_runs(r, b, from, to, &budget);
    } else {
        rc = r->inner->unused(r->inner->ctx, p, n);
        if (rc == 0 && b)
            for (size_t k = from; k < to; k++) b->used[k / 64] &= ~(1ull << (k % 64));
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

/* KEEP_MAPPED: the RW span of b after this lifetime, the hull of what earlier lifetimes
 * left RW and what this one mapped; a gap between the two is made RW too, so the hull is
 * RW throughout. False if that fails (then nothing is left RW). */
static bool keep_rw(ga_reuseos *r, const reuse_block *b, uintptr_t *lo, uintptr_t *hi)
{
    bool old = b->rw_hi > b->rw_lo, now = b->hi > b->lo;
    if (!old || !now) {
        *lo = old ? b->rw_lo : b->lo;
        *hi = old ? b->rw_hi : b->hi;
        return true;
    }
    *lo = b->rw_lo < b->lo ? b->rw_lo : b->lo;
    *hi = b->rw_hi > b->hi ? b->rw_hi : b->hi;
    uintptr_t gap_lo = b->rw_hi < b->lo ? b->rw_hi : b->hi, gap_hi = b->rw_hi < b->lo ? b->lo : b->rw_lo;
    return gap_lo >= gap_hi || r->inner->map(r->inner->ctx, (void *)gap_lo, gap_hi - gap_lo) == 0;
}

static int r_release(void *ctx, void *p, size_t n)
{
    ga_reuseos *r = ctx;
    pthread_mutex_lock(&r->lock);
    size_t i;
    for (i = 0; i < r->nout && !(r->out[i].base == (uintptr_t)p && r->out[i].n == n); i++) {}
    int rc;
    if (i == r->nout && reuse_cached(r, (uintptr_t)p, n)) {   /* released twice */
        pthread_mutex_unlock(&r->lock);
        errno = EINVAL;
        return -1;
    }
    if (i < r->nout && r->ncache < REUSE_MAX) {
        reuse_block b = r->out[i];
        r->out[i] = r->out[--r->nout];
        /* Scrub the runs of pages made Ready, then make the mapped span Reserved again
         * (KEEP_MAPPED: leave it RW and remember it). */
        size_t budget = SCRUB_MEMSET;
        scrub_used_runs(r, &b, 0, n / RPAGE, &budget);
        free(b.used);
        rc = 0;
        uintptr_t rw_lo = 0, rw_hi = 0;
        if (r->keep_mapped && !keep_rw(r, &b, &rw_lo, &rw_hi)) rw_lo = rw_hi = 0;
        if (rw_hi == rw_lo && b.hi > b.lo) rc = mprotect((void *)b.lo, b.hi - b.lo, PROT_NONE);
        if (rw_hi == rw_lo && rc == 0 && b.rw_hi > b.rw_lo) rc = mprotect((void *)b.rw_lo, b.rw_hi - b.rw_lo, PROT_NONE);
        if (rc == 0) reuse_put(r, (uintptr_t)p, n, false, rw_lo, rw_hi);
        else rc = r->inner->release(r->inner->ctx, p, n);
    } else {
        if (i < r->nout) { free(r->out[i].used); r->out[i] = r->out[--r->nout]; }
        rc = r->inner->release(r->inner->ctx, p, n);   /* partial, foreign, or cache full */
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

static void *r_alloc_meta(void *ctx, size_t n)
{
    ga_reuseos *r = ctx;
    pthread_mutex_lock(&r->lock);
    reuse_block got;
    uintptr_t p = reuse_take(r, 0, n, true, &got) ? got.base : (uintptr_t)r->inner->alloc_meta(r->inner->ctx, n);
    pthread_mutex_unlock(&r->lock);
    return (void *)p;
}

static void r_free_meta(void *ctx, void *p, size_t n)
{
    ga_reuseos *r = ctx;
    pthread_mutex_lock(&r->lock);
    if (reuse_cached(r, (uintptr_t)p, n)) {
        pthread_mutex_unlock(&r->lock);   /* freed twice: keep the one cached copy */
        return;
    }
    if (r->ncache < REUSE_MAX) {
        /* Big metadata (the arena index, page-allocator blocks) is touched sparsely: asking
         * mincore about every page costs more than letting the few touched ones fault again. */
        size_t budget = SCRUB_MEMSET;
        if (n >= SPARSE_META) madvise(p, n, MADV_DONTNEED);
        else reuse_scrub(r, (uintptr_t)p, n, &budget);
        reuse_put(r, (uintptr_t)p, n, true, 0, 0);
    } else {
        r->inner->free_meta(r->inner->ctx, p, n);
    }
    pthread_mutex_unlock(&r->lock);
}

/* True if the machine has no swap (then an anonymous page that is not resident was never
 * written, or was dropped, and reads as zero). Unknown counts as swap. */
static bool no_swap(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return false;
    char line[128];
    bool none = false;
    unsigned long long kb;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "SwapTotal: %llu", &kb) == 1) { none = kb == 0; break; }
    fclose(f);
    return none;
}

ga_reuseos *ga_reuseos_new(const ga_os *inner, unsigned flags)
{
    ga_reuseos *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->inner = inner ? inner : ga_os_default();
    r->keep_mapped = flags & GA_REUSE_KEEP_MAPPED;
    r->no_swap = no_swap();
    pthread_mutex_init(&r->lock, NULL);
    r->os = (ga_os){ .ctx = r, .reserve = r_reserve, .map = r_map, .used = r_used, .unused = r_unused,
                     .release = r_release, .alloc_meta = r_alloc_meta, .free_meta = r_free_meta };
    return r;
}

const ga_os *ga_reuseos_os(ga_reuseos *r) { return &r->os; }

void ga_reuseos_stats(const ga_reuseos *r, uint64_t *hits, uint64_t *misses, uint64_t *scrubbed_bytes)
{
    if (hits) *hits = r->hits;
    if (misses) *misses = r->misses;
    if (scrubbed_bytes) *scrubbed_bytes = r->scrubbed;
}

void ga_reuseos_free(ga_reuseos *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->ncache; i++) {
        reuse_block *b = &r->cache[i];
        if (b->meta) r->inner->free_meta(r->inner->ctx, (void *)b->base, b->n);
        else r->inner->release(r->inner->ctx, (void *)b->base, b->n);
    }
    for (size_t i = 0; i < r->nout; i++) free(r->out[i].used);
    free(r->out);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
