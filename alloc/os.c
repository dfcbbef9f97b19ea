/*
 * os.c — the bottom level: the kernel behind the ga_os interface (spec §5.4). The two test
 * doubles of the same interface live apart: ga_testos (testos.c) and ga_reuseos (reuseos.c);
 * both are in galloc_core only, never in libgalloc.
 *
 * Default: reserve = mmap PROT_NONE (MAP_FIXED_NOREPLACE when a hint is given, so a
 * hint either lands exactly or fails), map = mprotect RW, unused = madvise DONTNEED
 * (pages read back as zero afterwards, so needzero can be skipped for them),
 * release = munmap, metadata = anonymous RW MAP_NORESERVE mappings (the kernel
 * commits only pages that are touched, which is what lets the page allocator's
 * summary arrays span the whole address space). Stateless: no locks, no allocation.
 * Calls only the kernel (mmap, mprotect, madvise, munmap), nothing in galloc.
 */
#include "os.h"
#include "sanitize.h"   /* GA_TSAN */
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static void *sys_reserve(void *ctx, void *hint, size_t n)
{
    (void)ctx;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
#ifndef GA_TSAN
    if (hint) flags |= MAP_FIXED_NOREPLACE;
#else
    /* TSan's mmap interceptor replaces a hint outside its application ranges by NULL but
     * keeps the flags: MAP_FIXED_NOREPLACE at address 0 maps page 0 for root, and TSan then
     * dies ("mmap at bad address"). A plain hint is what it understands: the kernel takes
     * it when it is free and TSan allows it, and anything else is a miss (below). */
#endif
    void *p = mmap(hint, n, PROT_NONE, flags, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (hint && p != hint) {           /* old kernels ignore NOREPLACE: treat as a miss */
        munmap(p, n);
        errno = EEXIST;
        return NULL;
    }
    return p;
}

static int sys_map(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return mprotect(p, n, PROT_READ | PROT_WRITE);
}

static int sys_used(void *ctx, void *p, size_t n)
{
    (void)ctx; (void)p; (void)n;
    return 0;
}

static int sys_unused(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return madvise(p, n, MADV_DONTNEED);
}

static int sys_release(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return munmap(p, n);
}

static void *sys_alloc_meta(void *ctx, size_t n)
{
    (void)ctx;
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void sys_free_meta(void *ctx, void *p, size_t n)
{
    (void)ctx;
    munmap(p, n);
}

static const ga_os default_os = {
    .ctx = NULL,
    .reserve = sys_reserve,
    .map = sys_map,
    .used = sys_used,
    .unused = sys_unused,
    .release = sys_release,
    .alloc_meta = sys_alloc_meta,
    .free_meta = sys_free_meta,
};

const ga_os *ga_os_default(void) { return &default_os; }
