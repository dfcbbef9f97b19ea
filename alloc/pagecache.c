/*
 * pagecache.c — the per-P page cache (spec §7): a 64-page block taken from the page
 * allocator in one go, so small span allocations (< 16 pages) need no heap lock.
 *
 * Owns: nothing global. A ga_pagecache {base, cache, scav} lives in its owner (one per
 * cache / P); this file implements its operations:
 *   ga_pagecache_alloc   lock-free: only the owner touches the struct;
 *   pa_alloc_to_cache    fill an empty cache from searchAddr (heap lock held);
 *   ga_pagecache_flush   give the remaining pages back (heap lock held);
 *   pa_verify_cache      invariant D9.
 * Calls: the page allocator's private cache hooks (pa__*, pagealloc.h), which call only the
 * OS layer; never the heap, never heap memory.
 *
 * Invariants kept (D9): the cache is empty iff cache == 0; base is 64-page aligned inside its
 * chunk; scav ⊆ cache; every page with its cache bit set is allocated in the global bitmap
 * and has its global scavenged bit clear (the cache carries that bit in `scav` and restores
 * it on flush). Pages the cache already handed out belong to spans and may have been freed
 * since, so they are not constrained.
 */
#include <inttypes.h>

#include "pagealloc.h"

#define BLOCK_BYTES ((uintptr_t)GA_PAGE_CACHE_PAGES * GA_PAGE_SIZE)

uintptr_t ga_pagecache_alloc(ga_pagecache *c, size_t npages, size_t *scav_bytes)
{
    uint64_t mask;
    unsigned i;
    if (scav_bytes)
        *scav_bytes = 0;
    if (c->cache == 0 || npages == 0 || npages > GA_PAGE_CACHE_PAGES)
        return 0;
    if (npages == 1) {
        i = (unsigned)__builtin_ctzll(c->cache);   /* lowest free page: address order */
        mask = (uint64_t)1 << i;
    } else {
        i = ga_find_bit_range64(c->cache, (unsigned)npages);
        if (i >= 64)
            return 0;
        mask = (npages == 64 ? ~(uint64_t)0 : (((uint64_t)1 << npages) - 1)) << i;
    }
    if (scav_bytes)
        *scav_bytes = (size_t)ga_popcount64(c->scav & mask) * GA_PAGE_SIZE;
    c->cache &= ~mask;
    c->scav &= ~mask;
    return c->base + (uintptr_t)i * GA_PAGE_SIZE;
}

ga_pagecache pa_alloc_to_cache(ga_pagealloc *pa)
{
    ga_pagecache c = {0, 0, 0};
    uint64_t *aw, *sw;
    uintptr_t page = pa__cache_first_free(pa);
    if (!page)
        return c;
    /* Chunks are 4 MiB aligned, so aligning the address aligns the page index in its chunk. */
    c.base = page & ~(BLOCK_BYTES - 1);
    if (!pa__words(pa, c.base, &aw, &sw))
        return (ga_pagecache){0, 0, 0};
    c.cache = ~*aw;
    c.scav = *sw & c.cache;   /* D4 makes this *sw; the mask keeps scav ⊆ cache regardless */
    *aw = ~(uint64_t)0;       /* the whole block now belongs to the cache */
    *sw &= ~c.scav;           /* the cache remembers the scavenged state instead */
    pa__cache_took(pa, c.base, ga_popcount64(c.cache), ga_popcount64(c.scav));
    return c;
}

void ga_pagecache_flush(ga_pagecache *c, ga_pagealloc *pa)
{
    uint64_t *aw, *sw;
    if (c->cache == 0) {
        c->base = 0;
        c->scav = 0;
        return;
    }
    if (pa__words(pa, c->base, &aw, &sw)) {
        uint64_t sc = c->scav & c->cache;
        *aw &= ~c->cache;   /* free what the cache did not hand out */
        *sw |= sc;          /* and restore its scavenged state */
        pa__cache_returned(pa, c->base, ga_popcount64(c->cache), ga_popcount64(sc));
    }
    c->base = 0;
    c->cache = 0;
    c->scav = 0;
}

int pa_verify_cache(const ga_pagealloc *pa, const ga_pagecache *c, ga_report *r)
{
    if (r) {
        r->code = 0;
        r->invariant[0] = 0;
        r->message[0] = 0;
        r->span = r->addr = 0;
        r->slot = -1;
    }
    if (c->scav & ~c->cache)
        return pa__report(r, "D9", c->base, "page cache base %#" PRIxPTR ": scav %#" PRIx64 " is not a subset of cache %#"
                          PRIx64, c->base, c->scav, c->cache);
    if (c->cache == 0)
        return 0;
    if (c->base % BLOCK_BYTES)
        return pa__report(r, "D9", c->base, "page cache base %#" PRIxPTR " is not 64-page aligned in its chunk", c->base);
    if (!pa_contains(pa, c->base))
        return pa__report(r, "D9", c->base, "page cache base %#" PRIxPTR " is not in an inUse range", c->base);
    for (unsigned i = 0; i < GA_PAGE_CACHE_PAGES; i++) {
        uintptr_t p = c->base + (uintptr_t)i * GA_PAGE_SIZE;
        if ((c->cache >> i & 1) && !pa_page_allocated(pa, p))
            return pa__report(r, "D9", p, "page cache base %#" PRIxPTR " page %u (%#" PRIxPTR ") is not allocated in the "
                              "page allocator", c->base, i, p);
        if ((c->cache >> i & 1) && pa_page_scavenged(pa, p))
            return pa__report(r, "D9", p, "page cache base %#" PRIxPTR " page %u (%#" PRIxPTR ") is cached but its global "
                              "scavenged bit is set", c->base, i, p);
    }
    return 0;
}
