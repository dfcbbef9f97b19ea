/*
 * heap.c — mheap (spec §5): heap instances, 64 MiB arenas, the arena index, span
 * allocation and freeing, needzero tracking, and growth.
 *
 * Owns: arenas (reserved PROT_NONE through hints, committed 4 MiB chunk by chunk),
 * the L2 arena index for pointer -> span lookup (spans[] per arena; entries of freed
 * pages stay stale on purpose, as in Go), pageInUse / pageUseSpanInlineMarkBits,
 * zeroedBase per arena, every mspan struct (allspans), and the page-level statistics
 * heapInUse / heapFree / heapReleased. One lock (h->lock) guards all of it.
 * Calls: pagealloc/pagecache (with the lock held), fixalloc, the OS layer.
 * Called by: central.c (grow), cache.c (large objects), gc.c, scavenge.c.
 */
#include "internal.h"
#include "os.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

ga_mspan ga_emptymspan;

/* ---- errors ---- */
void ga_heap_report_broken(ga_heap *h, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!h) {
        fprintf(stderr, "galloc: internal inconsistency: %s\n", buf);
        return;
    }
    int expected = 0;
    if (atomic_compare_exchange_strong(&h->brokenCode, &expected, 1))
        memcpy(h->broken, buf, sizeof buf);
}

void ga_heap_misuse(ga_heap *h, ga_status st, const void *p, const char *what)
{
    if (h->errfn) h->errfn(h->errctx, st, p, what);
}

void ga_set_error_handler(ga_heap *h, ga_error_fn fn, void *ctx)
{
    h->errfn = fn;
    h->errctx = ctx;
}

static inline void page_bit(uint8_t *bm, uintptr_t p, bool set)
{
    size_t pg = (p / GA_PAGE_SIZE) % GA_PAGES_PER_ARENA;
    if (set) bm[pg / 8] |= (uint8_t)(1u << (pg % 8));
    else bm[pg / 8] &= (uint8_t)~(1u << (pg % 8));
}

/* ---- arena reservation (spec §5.3) ---- */
static bool add_region(ga_heap *h, uintptr_t base, size_t size)
{
    if (h->nregions == h->capregions) {
        size_t cap = h->capregions ? 2 * h->capregions : 8;
        ga_region *r = ga_persistent_alloc(h, cap * sizeof *r);
        if (!r) return false;
        if (h->nregions) memcpy(r, h->regions, h->nregions * sizeof *r);
        h->regions = r;              /* old array stays in persistent memory */
        h->capregions = cap;
    }
    h->regions[h->nregions++] = (ga_region){ base, size };
    return true;
}

/* Creates heapArena metadata for every arena of [base, base+size). */
static bool register_arenas(ga_heap *h, uintptr_t base, size_t size)
{
    for (uintptr_t a = base; a < base + size; a += GA_ARENA_BYTES) {
        uintptr_t idx = ga_arena_index(a);
        if (h->arenas[idx]) continue;
        ga_heaparena *ha = ga_persistent_alloc(h, sizeof *ha);
        if (!ha) return false;
        ha->base = a;
        if (h->nheapArenas == h->capHeapArenas) {
            size_t cap = h->capHeapArenas ? 2 * h->capHeapArenas : 16;
            uint32_t *n = ga_persistent_alloc(h, cap * sizeof *n);
            if (!n) return false;
            if (h->nheapArenas) memcpy(n, h->heapArenas, h->nheapArenas * sizeof *n);
            h->heapArenas = n;
            h->capHeapArenas = cap;
        }
        h->heapArenas[h->nheapArenas++] = (uint32_t)idx;
        h->arenas[idx] = ha;
    }
    return true;
}

static bool region_ok(uintptr_t p, size_t n)
{
    return p != 0 && p + n > p && ga_arena_index(p + n - 1) < GA_ARENA_L2_ENTRIES &&
           p < ((uintptr_t)1 << 47);
}

/* sysAlloc: reserve n bytes (rounded to arenas) at the first hint that works, else
 * anywhere 64 MiB aligned. Returns the region in the Reserved state, or 0. */
static uintptr_t sys_alloc(ga_heap *h, size_t n, size_t *got)
{
    n = (n + GA_ARENA_BYTES - 1) & ~(GA_ARENA_BYTES - 1);
    if (n == 0) return 0;
    while (h->arenaHints) {
        ga_arena_hint *hint = h->arenaHints;
        uintptr_t want = hint->down ? hint->addr - n : hint->addr;
        void *p = NULL;
        if (region_ok(want, n) && (!hint->down || hint->addr >= n))
            p = h->os->reserve(h->os->ctx, (void *)want, n);
        if (p && (uintptr_t)p == want) {
            bool recorded = add_region(h, want, n);
            if (!recorded || !register_arenas(h, want, n)) {
                /* Forget the region before giving it back: ga_heap_destroy releases every
                 * recorded region, and a second release could unmap whatever the process
                 * mapped there in between. Arenas already registered stay (persistent
                 * metadata); they describe no span. */
                if (recorded) h->nregions--;
                h->os->release(h->os->ctx, p, n);
                return 0;
            }
            if (hint->down) hint->addr -= n; else hint->addr += n;
            *got = n;
            return want;
        }
        if (p) h->os->release(h->os->ctx, p, n);
        if (!p && errno == ENOMEM) {
            /* out of memory (or an injected failure), not a taken address: report it
             * rather than silently trying elsewhere */
            return 0;
        }
        h->arenaHints = hint->next;
        ga_fixalloc_free(&h->hintalloc, hint);
    }
    /* No hint worked: take any aligned region, keep the whole reservation on record. */
    size_t span = n + GA_ARENA_BYTES;
    void *p = h->os->reserve(h->os->ctx, NULL, span);
    if (!p) return 0;
    uintptr_t base = ((uintptr_t)p + GA_ARENA_BYTES - 1) & ~(GA_ARENA_BYTES - 1);
    if (!region_ok(base, n) || !add_region(h, (uintptr_t)p, span) || !register_arenas(h, base, n)) {
        if (h->nregions && h->regions[h->nregions - 1].base == (uintptr_t)p) h->nregions--;
        h->os->release(h->os->ctx, p, span);
        errno = ENOMEM;
        return 0;
    }
    ga_arena_hint *down = ga_fixalloc_alloc(&h->hintalloc);
    ga_arena_hint *up = ga_fixalloc_alloc(&h->hintalloc);
    if (down && up) {
        *down = (ga_arena_hint){ base, true, up };
        *up = (ga_arena_hint){ base + n + (span - n - (base - (uintptr_t)p)), false, h->arenaHints };
        h->arenaHints = down;
    }
    *got = n;
    return base;
}

/* grow (spec §5.6): add whole 4 MiB chunks to the page allocator. Heap lock held. */
static bool heap_grow(ga_heap *h, size_t npage)
{
    if (npage > ((size_t)1 << 40)) { errno = ENOMEM; return false; }
    size_t ask = ((npage + GA_PALLOC_CHUNK_PAGES - 1) / GA_PALLOC_CHUNK_PAGES) * GA_PALLOC_CHUNK_BYTES;
    if (h->opt.max_heap_bytes && h->heapGrown + ask > h->opt.max_heap_bytes) { errno = ENOMEM; return false; }
    uintptr_t nBase = h->curArenaBase + ask;
    if (nBase < h->curArenaBase || nBase > h->curArenaEnd) {
        size_t got = 0;
        uintptr_t av = sys_alloc(h, ask, &got);
        if (!av) { errno = ENOMEM; return false; }
        if (av == h->curArenaEnd && h->curArenaEnd) {
            h->curArenaEnd = av + got;
        } else {
            if (h->curArenaBase < h->curArenaEnd) {
                /* hand the unused tail of the old arena run to the page allocator */
                uintptr_t b = h->curArenaBase;
                size_t sz = h->curArenaEnd - b;
                /* An earlier grow that failed after its map (pa_grow's metadata) left
                 * [b, curArenaMapped) Prepared already: map only the rest (mapping a
                 * Prepared page again is an illegal transition). */
                uintptr_t mfrom = h->curArenaMapped > b ? h->curArenaMapped : b;
                if (mfrom > h->curArenaEnd) mfrom = h->curArenaEnd;
                bool mapped = mfrom == h->curArenaEnd ||
                              h->os->map(h->os->ctx, (void *)mfrom, h->curArenaEnd - mfrom) == 0;
                if (mapped && pa_grow(h->pages, b, sz) == 0) {
                    h->heapReleased += sz;
                    h->heapGrown += sz;
                    h->heapSys += sz;
                }
            }
            h->curArenaBase = av;
            h->curArenaEnd = av + got;
            h->curArenaMapped = av;
        }
        nBase = h->curArenaBase + ask;
    }
    uintptr_t v = h->curArenaBase;
    /* Map only what an earlier, failed grow has not mapped already: [v, curArenaMapped) is
     * Prepared. That grow may have asked for more than this one (a large span failed in
     * pa_grow's metadata, then a small object), so curArenaMapped can lie beyond nBase:
     * then nothing is left to map. (Clamping only when curArenaMapped <= nBase, as this
     * did before, mapped Prepared pages again: fuzz_ops, corpora/regressions/fuzz_ops/
     * bug--ops_os--6616baf2.txt.) */
    uintptr_t from = h->curArenaMapped > v ? h->curArenaMapped : v;
    if (from > nBase) from = nBase;
    if (from < nBase && h->os->map(h->os->ctx, (void *)from, nBase - from) != 0) { errno = ENOMEM; return false; }
    if (nBase > h->curArenaMapped) h->curArenaMapped = nBase;
    if (pa_grow(h->pages, v, ask) != 0) { errno = ENOMEM; return false; }
    h->curArenaBase = nBase;
    h->heapReleased += ask;   /* new pages are free and scavenged */
    h->heapGrown += ask;
    h->heapSys += ask;
    return true;
}

/* allocNeedsZero (spec §5.5): was any byte of the range handed out before? Advances
 * zeroedBase, which only grows. */
static bool alloc_needs_zero(ga_heap *h, uintptr_t base, size_t npages)
{
    bool need = false;
    uintptr_t end = base + npages * GA_PAGE_SIZE;
    while (base < end) {
        ga_heaparena *ha = ga_arena_of(h, base);
        uintptr_t off = base - ha->base;
        uintptr_t lim = end - ha->base;
        if (lim > GA_ARENA_BYTES) lim = GA_ARENA_BYTES;
        if (off < ha->zeroedBase) need = true;
        if (lim > ha->zeroedBase) ha->zeroedBase = lim;
        base = ha->base + lim;
    }
    return need;
}

/* spans[] of every page of [base, base + npages pages) := s, one arena lookup per arena
 * the run covers (a run may straddle arenas) rather than one per page. */
static void set_spans(ga_heap *h, uintptr_t base, size_t npages, ga_mspan *s)
{
    while (npages) {
        ga_heaparena *ha = ga_arena_of(h, base);
        size_t first = (base / GA_PAGE_SIZE) % GA_PAGES_PER_ARENA;
        size_t n = GA_PAGES_PER_ARENA - first;
        if (n > npages) n = npages;
        for (size_t i = 0; i < n; i++) ha->spans[first + i] = s;
        base += n * GA_PAGE_SIZE;
        npages -= n;
    }
}

static bool record_span(ga_heap *h, ga_mspan *s)
{
    if (s->allspansIndex) return true;
    if (h->nallspans == h->capallspans) {
        size_t cap = h->capallspans ? h->capallspans + h->capallspans / 2 : 8192;
        ga_mspan **n = ga_persistent_alloc(h, cap * sizeof *n);
        if (!n) return false;
        if (h->nallspans) memcpy(n, h->allspans, h->nallspans * sizeof *n);
        h->allspans = n;
        h->capallspans = cap;
    }
    h->allspans[h->nallspans++] = s;
    s->allspansIndex = h->nallspans;
    return true;
}

/* initSpan (spec §5.5): set up a heap span over [base, base+npages). Heap lock held. */
static bool init_span(ga_heap *h, ga_mspan *s, ga_spanclass spc, uintptr_t base, size_t npages, bool needzero)
{
    unsigned c = ga_spanclass_sizeclass(spc);
    /* Record the struct first: a span the checker cannot see must never go live. */
    if (!record_span(h, s)) return false;
    s->next = s->prev = NULL;
    s->list = NULL;
    s->startAddr = base;
    s->npages = npages;
    s->allocCount = 0;
    s->allocCountBeforeCache = 0;
    s->spanclass = spc;
    s->plant = (uint8_t)h->opt.plant;
    if (h->opt.plant == GA_PLANT_NO_NEEDZERO) needzero = false;
    s->needzero = needzero;
    __atomic_store_n(&s->cachedBy, NULL, __ATOMIC_RELAXED);
    atomic_store_explicit(&s->sweepRequested, 0, memory_order_relaxed);
    if (c == 0) {
        s->elemsize = npages * GA_PAGE_SIZE;
        s->nelems = 1;
        s->divMul = 0;
    } else {
        s->elemsize = ga_class_to_size[c];
        s->nelems = (uint16_t)ga_class_nelems(c, ga_spanclass_noscan(spc), h->green_tea);
        s->divMul = ga_class_to_divmagic[c];
    }
    s->nwords = (uint16_t)((s->nelems + 63) / 64);
    uint64_t *bits = ga_fixalloc_alloc(&h->bitsalloc[s->nwords]);
    if (!bits) return false;
    s->allocBits = (_Atomic uint64_t *)bits;
    s->gcmarkBits = bits + s->nwords;
    s->freedBits = (_Atomic uint64_t *)(bits + 2 * s->nwords);
    s->tinyBits = spc == GA_TINY_SPAN_CLASS ? bits + 3 * s->nwords : NULL;
    s->ownerFreedBits = bits + 4 * s->nwords;
    s->ownerFrees = 0;
    atomic_store_explicit(&s->freeindex, 0, memory_order_relaxed);
    atomic_store_explicit(&s->allocatedBelow, 0, memory_order_relaxed);
    s->allocCache = ~0ull;
    s->limit = base + s->elemsize * s->nelems;
    /* class-5 spans lose fastFree when the tiny allocator first takes a block in them */
    s->fastFree = c != 0 && (ga_spanclass_noscan(spc) || s->elemsize <= GA_MIN_SIZE_FOR_HEADER);
    GA_OPEN(h, (void *)base, npages * GA_PAGE_SIZE);
    if (ga_span_has_inline_marks(h, s)) {
        uint8_t *tr = ga_span_trailer(s);
        if (needzero) memset(tr, 0, GA_GT_INLINE_MARK_BYTES);
        tr[GA_GT_INLINE_MARK_BYTES - 1] = spc;
    }
    if (c != 0 && !ga_spanclass_noscan(spc) && s->elemsize <= GA_MIN_SIZE_FOR_HEADER && needzero) {
        /* initHeapBits: clear the pointer bitmap at the span's end */
        size_t bm = npages * GA_PAGE_SIZE / 64;
        uintptr_t at = base + npages * GA_PAGE_SIZE - bm - (ga_span_has_inline_marks(h, s) ? GA_GT_INLINE_MARK_BYTES : 0);
        memset((void *)at, 0, bm);
    }
    GA_CLOSE(h, (void *)base, c ? (size_t)s->nelems * s->elemsize : s->elemsize);
    atomic_store(&s->sweepgen, atomic_load(&h->sweepgen));
    set_spans(h, base, npages, s);
    ga_heaparena *ha = ga_arena_of(h, base);
    page_bit(ha->pageInUse, base, true);
    if (ga_span_has_inline_marks(h, s)) page_bit(ha->pageUseSpanInlineMarkBits, base, true);
    h->pagesInUse += npages;
    atomic_store_explicit(&s->state, GA_SPAN_INUSE, memory_order_release);
    return true;
}

/* allocSpan (spec §5.5). align_pages > 1 asks for a base aligned to that many pages
 * (over-aligned large objects): take a longer run, give head and tail back. */
ga_mspan *ga_heap_alloc_span(ga_heap *h, ga_mcache *c, size_t npages, ga_spanclass spc, size_t align_pages)
{
    if (align_pages == 0) align_pages = 1;
    size_t need = npages + align_pages - 1;
    if (npages == 0 || need < npages || need > ((size_t)1 << 35)) { errno = ENOMEM; return NULL; }
    GA_MUTEX_LOCK(h, &h->lock, "heap.lock");
    uintptr_t base = 0;
    size_t scav = 0;
    if (c && npages < GA_PAGE_CACHE_PAGES / 4 && align_pages == 1) {
        if (c->pcache.cache == 0) c->pcache = pa_alloc_to_cache(h->pages);
        base = ga_pagecache_alloc(&c->pcache, npages, &scav);
    }
    if (!base) {
        base = pa_alloc(h->pages, need, &scav);
        if (!base && !atomic_load(&h->marking)) {
            /* Reclaim before growing (as Go's mheap.reclaim): spans waiting to be swept
             * may be empty and give pages back. Sweeping takes central locks, which
             * come before the heap lock. */
            GA_MUTEX_UNLOCK(h, &h->lock);
            ga_sweep(h, SIZE_MAX);
            GA_MUTEX_LOCK(h, &h->lock, "heap.lock");
            /* Retry even if this thread swept nothing: while the lock was dropped another
             * thread may have swept the same spans (or freed a large object) and returned
             * the pages. Growing instead made the heap grow without bound under two
             * threads (frag profile: 36 MiB sys for 2 MiB live). */
            base = pa_alloc(h->pages, need, &scav);
        }
        if (!base) {
            if (!heap_grow(h, need)) { GA_MUTEX_UNLOCK(h, &h->lock); errno = ENOMEM; return NULL; }
            base = pa_alloc(h->pages, need, &scav);
            if (!base) {
                ga_heap_report_broken(h, "page allocator failed %zu pages right after growing", need);
                GA_MUTEX_UNLOCK(h, &h->lock);
                errno = ENOMEM;
                return NULL;
            }
        }
    }
    size_t runbytes = need * GA_PAGE_SIZE;
    if (scav && h->os->used(h->os->ctx, (void *)base, runbytes) != 0) {
        /* Prepared -> Ready refused: nothing of the run may be handed out. Release the
         * whole run (some of its pages were Ready and dirty) and give it back as
         * scavenged pages, so the next user asks the OS again and gets zeroed memory.
         * If even the release fails, zero the run by hand: the pages still count as
         * released, so the next user calls `used` again and finds zeroes. This happens
         * before an aligned run is trimmed, so head and tail come back scavenged too. */
        if (h->os->unused(h->os->ctx, (void *)base, runbytes) != 0) {
            GA_OPEN(h, (void *)base, runbytes);
            memset((void *)base, 0, runbytes);
            /* not ASan-poisoned again: the run may lie above zeroedBase, where
             * ga_heap_destroy does not unpoison */
            if (!h->opt.no_poison) GA_VG_NOACCESS((void *)base, runbytes);
        }
        pa_free_scavenged(h->pages, base, need);
        h->heapReleased = h->heapReleased - scav + runbytes;
        h->heapFree = h->heapFree + scav - runbytes;
        GA_MUTEX_UNLOCK(h, &h->lock);
        errno = ENOMEM;
        return NULL;
    }
    if (align_pages > 1) {
        uintptr_t abytes = align_pages * GA_PAGE_SIZE;
        uintptr_t aligned = (base + abytes - 1) & ~(abytes - 1);
        size_t head = (aligned - base) / GA_PAGE_SIZE, tail = need - head - npages;
        if (head) pa_free(h->pages, base, head);
        if (tail) pa_free(h->pages, aligned + npages * GA_PAGE_SIZE, tail);
        base = aligned;
    }
    size_t nbytes = npages * GA_PAGE_SIZE;
    ga_mspan *s = ga_fixalloc_alloc(&h->spanalloc);
    bool needzero = alloc_needs_zero(h, base, npages) && (align_pages > 1 || scav != nbytes);
    if (!s || !init_span(h, s, spc, base, npages, needzero)) {
        if (s) ga_fixalloc_free(&h->spanalloc, s);
        pa_free(h->pages, base, npages);
        h->heapFree += scav;      /* those pages lost their scavenged bit */
        h->heapReleased -= scav;
        GA_MUTEX_UNLOCK(h, &h->lock);
        errno = ENOMEM;
        return NULL;
    }
    h->heapReleased -= scav;
    h->heapFree -= nbytes - scav;
    h->heapInUse += nbytes;
    if (!ga_class_seen(h, spc))
        atomic_fetch_or_explicit(&h->classesSeen[spc / 64], 1ull << (spc % 64), memory_order_release);
    GA_MUTEX_UNLOCK(h, &h->lock);
    return s;
}

/* freeSpan (spec §5.7): pages back to the page allocator; spans[] stays stale. */
void ga_heap_free_span(ga_heap *h, ga_mspan *s)
{
    GA_MUTEX_LOCK(h, &h->lock, "heap.lock");
    uint32_t sg = atomic_load(&h->sweepgen);
    if (atomic_load(&s->state) != GA_SPAN_INUSE || s->allocCount != 0 || atomic_load(&s->sweepgen) != sg)
        ga_heap_report_broken(h, "freeSpan of span %#lx in state %d, allocCount %u, sweepgen %u (h=%u)",
                              (unsigned long)s->startAddr, (int)atomic_load(&s->state), s->allocCount,
                              atomic_load(&s->sweepgen), sg);
    ga_heaparena *ha = ga_arena_of(h, s->startAddr);
    page_bit(ha->pageInUse, s->startAddr, false);
    page_bit(ha->pageUseSpanInlineMarkBits, s->startAddr, false);
    h->pagesInUse -= s->npages;
    size_t nbytes = s->npages * GA_PAGE_SIZE;
    h->heapFree += nbytes;
    h->heapInUse -= nbytes;
    GA_CLOSE(h, (void *)s->startAddr, nbytes);
    pa_free(h->pages, s->startAddr, s->npages);
    atomic_store_explicit(&s->state, GA_SPAN_DEAD, memory_order_release);
    ga_fixalloc_free(&h->bitsalloc[s->nwords], (void *)s->allocBits);
    s->allocBits = NULL;
    s->gcmarkBits = NULL;
    s->freedBits = NULL;
    s->tinyBits = NULL;
    s->ownerFreedBits = NULL;
    ga_fixalloc_free(&h->spanalloc, s);
    GA_MUTEX_UNLOCK(h, &h->lock);
}

/* ---- heap instances ---- */
static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool init_hints(ga_heap *h)
{
#ifdef GA_TSAN
    /* TSan maps application memory only in fixed ranges (internal.h, GA_HINT_BASE): the
     * default hints lie in its low one; randomized ones would nearly all be refused, so a
     * randomized heap lets the kernel choose (ASLR is random enough). */
    if (h->opt.randomize_base && !h->opt.arena_hint) return true;
#endif
    uint64_t rnd = h->opt.seed;
    uintptr_t randBase = 0;
    unsigned prefix = 0;
    if (h->opt.randomize_base) {
        randBase = (uintptr_t)(splitmix(&rnd) >> 44) << 26;   /* 20 random bits, 64 MiB aligned */
        prefix = (unsigned)(randBase >> 38) & 0xff;
    }
    for (int i = GA_HINT_COUNT - 1; i >= 0; i--) {
        ga_arena_hint *hint = ga_fixalloc_alloc(&h->hintalloc);
        if (!hint) return false;
        uintptr_t addr;
        if (h->opt.randomize_base)
            addr = ((uintptr_t)((prefix + (unsigned)i) & 0xff) << 38) | (randBase & ~((uintptr_t)0xff << 40) & (((uintptr_t)1 << 38) - 1));
        else
            addr = GA_HINT_BASE + (uintptr_t)i * GA_HINT_STEP;
        *hint = (ga_arena_hint){ addr, false, h->arenaHints };
        h->arenaHints = hint;
    }
    if (h->opt.arena_hint) {
        ga_arena_hint *hint = ga_fixalloc_alloc(&h->hintalloc);
        if (!hint) return false;
        *hint = (ga_arena_hint){ h->opt.arena_hint & ~(GA_ARENA_BYTES - 1), false, h->arenaHints };
        h->arenaHints = hint;
    }
    return true;
}

ga_heap *ga_heap_new(const ga_heap_options *opt)
{
    const ga_os *os = (opt && opt->os) ? opt->os : ga_os_default();
    ga_heap *h = os->alloc_meta(os->ctx, sizeof *h);
    if (!h) { errno = ENOMEM; return NULL; }
    if (opt) h->opt = *opt;
    h->opt.os = os;
    h->os = os;
    h->green_tea = !h->opt.no_green_tea;
    atomic_store_explicit(&h->cntUsed, 1u, memory_order_relaxed);   /* copy 0: numGC */
    pthread_mutex_init(&h->lock, NULL);
    GA_VG_POOL_NEW(h);
    for (unsigned i = 0; i < GA_NUM_SPAN_CLASSES; i++) ga_central_init(&h->central[i], (ga_spanclass)i);
    ga_fixalloc_init(&h->spanalloc, h, sizeof(ga_mspan), false);
    ga_fixalloc_init(&h->cachealloc, h, sizeof(ga_mcache), true);
    ga_fixalloc_init(&h->hintalloc, h, sizeof(ga_arena_hint), true);
    for (unsigned n = 1; n <= GA_MAX_BITMAP_WORDS; n++)
        ga_fixalloc_init(&h->bitsalloc[n], h, 5 * n * sizeof(uint64_t), true);
    h->arenas = os->alloc_meta(os->ctx, GA_ARENA_L2_ENTRIES * sizeof(ga_heaparena *));
    h->pages = h->arenas ? pa_new(os) : NULL;
    if (h->pages && h->opt.plant == GA_PLANT_SUMMARY_MERGE) pa_set_plant(h->pages, 1);
    if (!h->arenas || !h->pages || !init_hints(h)) {
        int e = errno;
        ga_heap_destroy(h);
        errno = e ? e : ENOMEM;
        return NULL;
    }
    return h;
}

void ga_heap_destroy(ga_heap *h)
{
    if (!h) return;
    const ga_os *os = h->os;
    GA_VG_POOL_DESTROY(h);   /* objects still live die with the heap */
#ifdef GA_ASAN
    /* ASan keeps shadow poison across munmap; the next heap at these fixed addresses must
     * not inherit it. Only memory handed out as spans is ever poisoned (sanitize.h: objects,
     * free slots, free span pages), and all of it lies below its arena's zeroedBase;
     * unpoisoning whole 64 MiB regions memset 8 MiB of shadow per heap (most of a fuzz
     * input's time under ASan, faulting the shadow pages in). */
    for (size_t i = 0; i < h->nheapArenas; i++) {
        const ga_heaparena *ha = h->arenas[h->heapArenas[i]];
        if (ha && ha->zeroedBase) GA_ASAN_UNPOISON((void *)ha->base, ha->zeroedBase);
    }
#endif
    for (size_t i = 0; i < h->nregions; i++)
        os->release(os->ctx, (void *)h->regions[i].base, h->regions[i].size);
    if (h->pages) pa_destroy(h->pages);
    if (h->arenas) os->free_meta(os->ctx, h->arenas, GA_ARENA_L2_ENTRIES * sizeof(ga_heaparena *));
    pthread_mutex_destroy(&h->lock);
    ga_meta_chunk *m = h->meta;
    while (m) {
        ga_meta_chunk *next = m->next;
        os->free_meta(os->ctx, m, m->size);
        m = next;
    }
    os->free_meta(os->ctx, h, sizeof *h);
}

bool ga_gc_marking(ga_heap *h) { return atomic_load(&h->marking); }

const char *ga_plant_name(int plant)
{
    static const char *names[GA_PLANT_COUNT] = { "none", "refill-off-by-one", "summary-merge", "no-needzero",
                                                 "lost-sweep-request", "cross-cache-free", "gc-end-order",
                                                 "gc-begin-one-pass" };
    return plant >= 0 && plant < GA_PLANT_COUNT ? names[plant] : "unknown";
}

const char *ga_status_name(ga_status s)
{
    switch (s) {
    case GA_OK: return "ok";
    case GA_ERR_NOT_OWNED: return "pointer not owned by the heap";
    case GA_ERR_INTERIOR: return "interior or misaligned pointer";
    case GA_ERR_DOUBLE_FREE: return "double free";
    case GA_ERR_TINY: return "free of a tiny-allocator object";
    case GA_ERR_STATE: return "operation not allowed now";
    }
    return "unknown";
}
