/*
 * verify.c — the invariant checker (spec §10) and the heap dump. Reads every level,
 * changes none, never aborts: the first violation is returned as a code plus a
 * message naming the span, slot or page and the values involved.
 *
 * Order of checks: internal inconsistencies recorded by the allocator itself, then
 * spans (A*, plus F1/F2 for pending explicit frees), mcaches (B*), mcentral lists
 * (C*), the page allocator (D1-D6, D8, D9 in pagealloc.c), heap maps (D7, D10, D11),
 * statistics (E*). Requires quiescence; takes the central locks, then the heap lock.
 */
#include "internal.h"
#include "verify.h"
#include <stdarg.h>
#include <string.h>
#include <stdio.h>

static int fail(ga_report *r, int code, const char *inv, uintptr_t span, uintptr_t addr, long slot,
                const char *fmt, ...)
{
    if (!r) return code;
    r->code = code;
    snprintf(r->invariant, sizeof r->invariant, "%s", inv);
    r->span = span;
    r->addr = addr;
    r->slot = slot;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    return code;
}

#define SPANF "span %#lx (spc %u, npages %zu)"
#define SPANA(s) (unsigned long)(s)->startAddr, (unsigned)(s)->spanclass, (s)->npages

static uint64_t word_mask(const ga_mspan *s, unsigned w)
{
    unsigned lo = w * 64;
    return (s->nelems >= lo + 64) ? ~0ull : (s->nelems <= lo ? 0 : ((1ull << (s->nelems - lo)) - 1));
}

/* Free slots are poisoned in ASan/Valgrind builds; the checker reads them anyway. */
static GA_NO_ASAN size_t first_nonzero_word(const uint64_t *q, size_t n)
{
    size_t k = 0;
    GA_VG_QUIET_BEGIN();
    /* Blocks of 32, then 8 words OR-ed together first: the compiler vectorises this, and A12 reads
     * every free byte of fresh spans at each full check, so the scan dominates ga_verify. */
    typedef uint64_t zvec __attribute__((vector_size(16)));   /* SSE2/NEON baseline */
    for (; k + 32 <= n; k += 32) {
        zvec a0 = { 0, 0 }, a1 = a0, a2 = a0, a3 = a0, v0, v1, v2, v3;
        for (size_t j = 0; j < 32; j += 8) {   /* four independent chains, 64 bytes a step */
            memcpy(&v0, q + k + j, sizeof v0);
            memcpy(&v1, q + k + j + 2, sizeof v1);
            memcpy(&v2, q + k + j + 4, sizeof v2);
            memcpy(&v3, q + k + j + 6, sizeof v3);
            a0 |= v0;
            a1 |= v1;
            a2 |= v2;
            a3 |= v3;
        }
        a0 |= a1 | a2 | a3;
        if (a0[0] | a0[1])
            break;
    }
    for (; k + 8 <= n; k += 8) {
        uint64_t any = 0;
        for (size_t j = 0; j < 8; j++)
            any |= q[k + j];
        if (any)
            break;
    }
    for (; k < n && q[k] == 0; k++) {}
    GA_VG_QUIET_END();
    return k;
}

static GA_NO_ASAN uint64_t peek_word(const uint64_t *q)
{
    GA_VG_QUIET_BEGIN();
    uint64_t v = *q;
    GA_VG_QUIET_END();
    return v;
}

/* Span-level invariants for one InUse span. list_checks: also C1/C2 membership. */
/* The first index in [i, n) whose bit in bits is `set`, or n. */
static unsigned next_bit(_Atomic uint64_t *bits, unsigned i, unsigned n, bool set)
{
    while (i < n) {
        uint64_t w = atomic_load_explicit(&bits[i / 64], memory_order_relaxed);
        if (!set) w = ~w;
        w >>= i % 64;
        if (w) {
            i += (unsigned)__builtin_ctzll(w);
            return i < n ? i : n;
        }
        i = (i / 64 + 1) * 64;
    }
    return n;
}

/* C2's report names the list a span is on by its role, not its address: the lists live in
 * the heap's metadata, mapped wherever the kernel puts it, so an address would differ from
 * process to process and a replayed finding would never read the same twice. */
static const char *list_role(ga_mcentral *c, uint32_t hsg, const ga_spanlist *l)
{
    if (!l) return "none";
    if (l == ga_partial_swept(c, hsg)) return "swept partial";
    if (l == ga_full_swept(c, hsg)) return "swept full";
    if (l == ga_partial_unswept(c, hsg)) return "unswept partial";
    if (l == ga_full_unswept(c, hsg)) return "unswept full";
    return "not one of its class's";
}

static int check_span(ga_heap *h, ga_mspan *s, bool zero_scan, ga_report *r)
{
    uint32_t hsg = atomic_load(&h->sweepgen);
    uintptr_t base = s->startAddr;
    unsigned cls = ga_spanclass_sizeclass(s->spanclass);
    uint32_t fi = atomic_load(&s->freeindex);
    uint32_t sg = atomic_load(&s->sweepgen);

    if (base % GA_PAGE_SIZE || s->npages == 0)
        return fail(r, GA_V_SPAN, "A1", base, base, -1, SPANF ": base not page aligned or npages 0", SPANA(s));
    uintptr_t unalloc = pa_first_unallocated(h->pages, base, s->npages);   /* 0: none */
    for (size_t i = 0; i < s->npages; i++) {
        uintptr_t p = base + i * GA_PAGE_SIZE;
        if (p == unalloc)
            return fail(r, GA_V_SPAN, "A1", base, p, -1, SPANF ": page %#lx is not allocated in the page allocator",
                        SPANA(s), (unsigned long)p);
        if (ga_span_of(h, p) != s)
            return fail(r, GA_V_SPAN, "A10", base, p, -1, SPANF ": spanOf(page %#lx) = %p, not this span",
                        SPANA(s), (unsigned long)p, (void *)ga_span_of(h, p));
    }
    if (cls) {
        unsigned want = ga_class_nelems(cls, ga_spanclass_noscan(s->spanclass), h->green_tea);
        if (s->npages != ga_class_to_npages[cls] || s->elemsize != ga_class_to_size[cls] ||
            s->divMul != ga_class_to_divmagic[cls] || s->nelems != want)
            return fail(r, GA_V_SPAN, "A2", base, base, -1,
                        SPANF ": class %u shape npages %zu elemsize %zu divMul %u nelems %u, want %u %u %u %u",
                        SPANA(s), cls, s->npages, s->elemsize, s->divMul, s->nelems,
                        ga_class_to_npages[cls], ga_class_to_size[cls], ga_class_to_divmagic[cls], want);
        if (s->limit != base + (uintptr_t)s->nelems * s->elemsize)
            return fail(r, GA_V_SPAN, "A2", base, s->limit, -1, SPANF ": limit %#lx != base + nelems*elemsize",
                        SPANA(s), (unsigned long)s->limit);
    } else {
        if (s->nelems != 1 || s->elemsize != s->npages * GA_PAGE_SIZE || s->divMul != 0 ||
            s->limit <= base || s->limit > base + s->elemsize || s->allocCount != 1)
            return fail(r, GA_V_SPAN, "A3", base, base, -1,
                        SPANF ": large span nelems %u elemsize %zu divMul %u limit %#lx allocCount %u",
                        SPANA(s), s->nelems, s->elemsize, s->divMul, (unsigned long)s->limit, s->allocCount);
    }
    if (fi > s->nelems || s->allocCount > s->nelems)
        return fail(r, GA_V_SPAN, "A4", base, base, -1,
                    SPANF ": freeindex %u allocCount %u nelems %u",
                    SPANA(s), fi, s->allocCount, s->nelems);
    uint32_t below = atomic_load(&s->allocatedBelow);
    if ((below % 64 && below != s->nelems) || below > fi)
        return fail(r, GA_V_SPAN, "A5", base, base, -1, SPANF ": allocatedBelow %u is not a multiple of 64 (or nelems) <= freeindex %u",
                    SPANA(s), below, fi);
    unsigned counted = ga_span_count_allocated(s);
    unsigned owner_pending = 0;
    if (counted != s->allocCount)
        return fail(r, GA_V_SPAN, "A5", base, base, -1, SPANF ": allocCount %u but %u slots are allocated (freeindex %u)",
                    SPANA(s), s->allocCount, counted, fi);
    for (unsigned w = 0; w < s->nwords; w++) {
        uint64_t pad = ~word_mask(s, w);
        uint64_t a = atomic_load(&s->allocBits[w]), f = atomic_load(&s->freedBits[w]);
        if ((a | s->gcmarkBits[w] | f) & pad)
            return fail(r, GA_V_SPAN, "A6", base, base, (long)(w * 64), SPANF ": padding bits set in word %u (alloc %#llx mark %#llx freed %#llx)",
                        SPANA(s), w, (unsigned long long)a, (unsigned long long)s->gcmarkBits[w], (unsigned long long)f);
        for (uint64_t x = f; x; x &= x - 1) {
            unsigned i = w * 64 + (unsigned)__builtin_ctzll(x);
            if (!ga_span_slot_allocated(s, i))
                return fail(r, GA_V_SPAN, "F1", base, base + (uintptr_t)i * s->elemsize, i,
                            SPANF ": slot %u has a pending free but is not allocated", SPANA(s), i);
        }
        uint64_t of = s->ownerFreedBits[w];
        if (of & pad)
            return fail(r, GA_V_SPAN, "A6", base, base, (long)(w * 64), SPANF ": padding bits set in owner-freed word %u (%#llx)",
                        SPANA(s), w, (unsigned long long)of);
        if (of && !s->cachedBy)
            return fail(r, GA_V_SPAN, "F3", base, base, (long)(w * 64), SPANF ": owner-local frees %#llx on a span no cache holds",
                        SPANA(s), (unsigned long long)of);
        for (uint64_t x = of; x; x &= x - 1) {
            unsigned i = w * 64 + (unsigned)__builtin_ctzll(x);
            if (!ga_span_slot_allocated(s, i))
                return fail(r, GA_V_SPAN, "F1", base, base + (uintptr_t)i * s->elemsize, i,
                            SPANF ": slot %u has a pending owner free but is not allocated", SPANA(s), i);
        }
        owner_pending += ga_popcount64(of);
        if (f && !atomic_load(&s->sweepRequested) && sg != hsg - 2)
            return fail(r, GA_V_SPAN, "F2", base, base, (long)(w * 64), SPANF ": pending frees %#llx but no sweep requested",
                        SPANA(s), (unsigned long long)f);
        if (s->tinyBits) {
            for (uint64_t x = s->tinyBits[w]; x; x &= x - 1) {
                unsigned i = w * 64 + (unsigned)__builtin_ctzll(x);
                if (!ga_span_slot_allocated(s, i))
                    return fail(r, GA_V_SPAN, "T1", base, base + (uintptr_t)i * s->elemsize, i,
                                SPANF ": slot %u is a tiny block but not allocated", SPANA(s), i);
            }
        }
    }
    if (owner_pending != s->ownerFrees)
        return fail(r, GA_V_SPAN, "F3", base, base, -1, SPANF ": ownerFrees %u but %u owner-freed bits",
                    SPANA(s), s->ownerFrees, owner_pending);
    /* owner LIFO frees (internal.h) are counted in the span only while a cache holds it:
     * flush_span_stats folds them into the counters whenever it leaves the cache */
    if (s->ownerReused && !s->cachedBy)
        return fail(r, GA_V_SPAN, "F4", base, base, -1, SPANF ": %llu owner LIFO frees not flushed on a span no cache holds",
                    SPANA(s), (unsigned long long)s->ownerReused);
    if (cls && fi < s->nelems) {
        /* allocCache = the complement of allocBits from freeindex to the end of its word
         * (fi < nelems <= nwords * 64, so that word exists); bits past it are 0. */
        uint64_t want = ~atomic_load(&s->allocBits[fi / 64]) >> (fi % 64);
        uint64_t diff = s->allocCache ^ want;
        if (diff) {
            unsigned k = (unsigned)__builtin_ctzll(diff);
            return fail(r, GA_V_SPAN, "A7", base, base, (long)(fi + k),
                        SPANF ": allocCache bit %u is %d, want %d (freeindex %u, allocCache %#llx)",
                        SPANA(s), k, (int)(s->allocCache >> k & 1), (int)(want >> k & 1), fi,
                        (unsigned long long)s->allocCache);
        }
    }
    bool cached = s->cachedBy != NULL;
    if (!(sg == hsg - 2 || sg == hsg || sg == hsg + 3))
        return fail(r, GA_V_SPAN, "A8", base, base, -1, SPANF ": sweepgen %u with heap sweepgen %u", SPANA(s), sg, hsg);
    if (cached != (sg == hsg + 3) || (cached && s->cachedBy->alloc[s->spanclass] != s))
        return fail(r, GA_V_SPAN, "A9", base, base, -1, SPANF ": sweepgen %u (h=%u) but cachedBy %p",
                    SPANA(s), sg, hsg, (void *)s->cachedBy);
    ga_heaparena *ha = ga_arena_of(h, base);
    for (size_t i = 0; i < s->npages; i++) {
        size_t pg = ((base + i * GA_PAGE_SIZE) / GA_PAGE_SIZE) % GA_PAGES_PER_ARENA;
        ga_heaparena *pa = ga_arena_of(h, base + i * GA_PAGE_SIZE);
        bool inuse = (pa->pageInUse[pg / 8] >> (pg % 8)) & 1;
        if (inuse != (i == 0))
            return fail(r, GA_V_SPAN, "A10", base, base + i * GA_PAGE_SIZE, -1, SPANF ": pageInUse bit of page %zu is %d",
                        SPANA(s), i, inuse);
    }
    {
        size_t pg = (base / GA_PAGE_SIZE) % GA_PAGES_PER_ARENA;
        bool inl = (ha->pageUseSpanInlineMarkBits[pg / 8] >> (pg % 8)) & 1;
        if (inl != ga_span_has_inline_marks(h, s))
            return fail(r, GA_V_SPAN, "A11", base, base, -1, SPANF ": inline-mark page bit %d, elemsize %zu", SPANA(s), inl, s->elemsize);
        if (ga_span_has_inline_marks(h, s) && ga_span_trailer(s)[GA_GT_INLINE_MARK_BYTES - 1] != s->spanclass)
            return fail(r, GA_V_SPAN, "A11", base, (uintptr_t)ga_span_trailer(s), -1, SPANF ": trailer class byte %u",
                        SPANA(s), ga_span_trailer(s)[GA_GT_INLINE_MARK_BYTES - 1]);
    }
    if (zero_scan && !s->needzero && cls) {
        /* Runs of adjacent free slots are scanned as one range (small classes have
         * hundreds of slots; one call per slot cost more than the reads). */
        for (unsigned i = next_bit(s->allocBits, fi, s->nelems, false); i < s->nelems;) {
            unsigned j = next_bit(s->allocBits, i, s->nelems, true);
            const uint64_t *q = (const uint64_t *)(base + (uintptr_t)i * s->elemsize);
            size_t words = (size_t)(j - i) * s->elemsize / 8;
            size_t k = first_nonzero_word(q, words);
            if (k < words) {
                unsigned slot = i + (unsigned)(k * 8 / s->elemsize);
                return fail(r, GA_V_SPAN, "A12", base, (uintptr_t)&q[k], slot,
                            SPANF ": free slot %u is not zero at %#lx (%#llx) though needzero is 0",
                            SPANA(s), slot, (unsigned long)&q[k], (unsigned long long)peek_word(&q[k]));
            }
            i = next_bit(s->allocBits, j, s->nelems, false);
        }
    }
    /* C1/C2: membership. */
    ga_mcentral *c = &h->central[s->spanclass];
    if (cached) {
        if (s->list)
            return fail(r, GA_V_CENTRAL, "B6", base, base, -1, SPANF ": cached and also on an mcentral list", SPANA(s));
    } else {
        bool req = atomic_load(&s->sweepRequested);
        /* While a cycle marks, a requested sweep waits (central.c): the span stays swept,
         * and ga_gc_end turns it unswept with the rest. */
        bool req_moves = req && !atomic_load(&h->marking);
        ga_spanlist *want_list;
        if (sg == hsg - 2 || (sg == hsg && req_moves))
            want_list = (s->list == ga_full_unswept(c, hsg)) ? ga_full_unswept(c, hsg) : ga_partial_unswept(c, hsg);
        else if (s->allocCount < s->nelems)
            want_list = ga_partial_swept(c, hsg);
        else
            want_list = ga_full_swept(c, hsg);
        if (s->list != want_list)
            return fail(r, GA_V_CENTRAL, "C2", base, base, -1,
                        SPANF ": on list %s, want %s %s (sweepgen %u h %u allocCount %u nelems %u req %d)",
                        SPANA(s), list_role(c, hsg, s->list),
                        (want_list == ga_partial_swept(c, hsg) || want_list == ga_full_swept(c, hsg)) ? "swept" : "unswept",
                        (want_list == ga_partial_swept(c, hsg) || want_list == ga_partial_unswept(c, hsg)) ? "partial" : "full",
                        sg, hsg, s->allocCount, s->nelems, req);
    }
    return 0;
}

static int check_cache(ga_heap *h, ga_mcache *c, ga_report *r)
{
    uint32_t hsg = atomic_load(&h->sweepgen);
    if (c->flushGen != hsg)   /* ga_gc_end brings every cache up to date */
        return fail(r, GA_V_CACHE, "B2", 0, (uintptr_t)c, -1, "mcache %p: flushGen %u with h %u", (void *)c, c->flushGen, hsg);
    for (unsigned i = 0; i < GA_NUM_SPAN_CLASSES; i++) {
        ga_mspan *s = c->alloc[i];
        if (s == &ga_emptymspan) continue;
        uint32_t sg = atomic_load(&s->sweepgen);
        if (s->spanclass != i || atomic_load(&s->state) != GA_SPAN_INUSE || s->cachedBy != c ||
            sg != hsg + 3)   /* no stale (h+1) spans: ga_gc_begin releases every cache */
            return fail(r, GA_V_CACHE, "B1", s->startAddr, s->startAddr, -1,
                        "mcache %p alloc[%u]: span %#lx spc %u state %u sweepgen %u (h %u) cachedBy %p",
                        (void *)c, i, (unsigned long)s->startAddr, s->spanclass, (unsigned)atomic_load(&s->state),
                        sg, hsg, (void *)s->cachedBy);
        if (s->allocCountBeforeCache > s->allocCount)
            return fail(r, GA_V_CACHE, "B3", s->startAddr, s->startAddr, -1,
                        "mcache %p span %#lx: allocCountBeforeCache %u > allocCount %u",
                        (void *)c, (unsigned long)s->startAddr, s->allocCountBeforeCache, s->allocCount);
    }
    if (ga_emptymspan.nelems || ga_emptymspan.allocCount || ga_emptymspan.allocCache)
        return fail(r, GA_V_CACHE, "B4", 0, 0, -1, "emptymspan is not empty (nelems %u allocCount %u allocCache %#llx)",
                    ga_emptymspan.nelems, ga_emptymspan.allocCount, (unsigned long long)ga_emptymspan.allocCache);
    if (c->tiny) {
        ga_mspan *s = ga_span_of_heap(h, c->tiny);
        unsigned i = s ? ga_span_obj_index(s, c->tiny) : 0;
        if (c->tiny % 16 || c->tinyoffset > 16 || !s || s->spanclass != GA_TINY_SPAN_CLASS ||
            !ga_span_slot_allocated(s, i) || !s->tinyBits || !ga_bit(s->tinyBits, i) ||
            s->startAddr + (uintptr_t)i * s->elemsize != c->tiny)
            return fail(r, GA_V_CACHE, "B5", s ? s->startAddr : 0, c->tiny, (long)i,
                        "mcache %p: tiny block %#lx (offset %zu) is not an allocated class-5 tiny slot",
                        (void *)c, (unsigned long)c->tiny, (size_t)c->tinyoffset);
    } else if (c->tinyoffset) {
        return fail(r, GA_V_CACHE, "B5", 0, 0, -1, "mcache %p: tinyoffset %zu without a tiny block", (void *)c, (size_t)c->tinyoffset);
    }
    return pa_verify_cache(h->pages, &c->pcache, r);
}

static int check_lists(ga_heap *h, size_t *listed, ga_report *r)
{
    for (unsigned i = 0; i < GA_NUM_SPAN_CLASSES; i++) {
        /* a class that never had a span: its lists are not read (a span on them anyway
         * is missing from `listed`, which C2 reports) */
        if (!ga_class_seen(h, (ga_spanclass)i)) continue;
        ga_mcentral *c = &h->central[i];
        ga_spanlist *lists[4] = { &c->partial[0], &c->partial[1], &c->full[0], &c->full[1] };
        for (int k = 0; k < 4; k++) {
            size_t n = 0;
            ga_mspan *prev = NULL;
            for (ga_mspan *s = lists[k]->first; s; prev = s, s = s->next) {
                if (++n > lists[k]->n)
                    return fail(r, GA_V_CENTRAL, "C5", 0, 0, -1, "mcentral %u list %d: more entries than its count %zu (cycle?)", i, k, lists[k]->n);
                if (s->spanclass != i || s->list != lists[k] || s->prev != prev ||
                    atomic_load(&s->state) != GA_SPAN_INUSE)
                    return fail(r, GA_V_CENTRAL, "C1", s->startAddr, s->startAddr, -1,
                                "mcentral %u list %d: span %#lx spc %u state %u list %p prev link %s",
                                i, k, (unsigned long)s->startAddr, s->spanclass, (unsigned)atomic_load(&s->state),
                                (void *)s->list, s->prev == prev ? "ok" : "broken");
            }
            if (n != lists[k]->n || lists[k]->last != prev)
                return fail(r, GA_V_CENTRAL, "C5", 0, 0, -1, "mcentral %u list %d: count %zu but %zu entries", i, k, lists[k]->n, n);
            *listed += n;
        }
    }
    return 0;
}

static void lock_all(ga_heap *h)
{
    for (unsigned i = 0; i < GA_NUM_SPAN_CLASSES; i++) ga_spin_lock(&h->central[i].lock);
    pthread_mutex_lock(&h->lock);
}

static void unlock_all(ga_heap *h)
{
    pthread_mutex_unlock(&h->lock);
    for (unsigned i = 0; i < GA_NUM_SPAN_CLASSES; i++) ga_spin_unlock(&h->central[i].lock);
}

void ga_heap_lock_all(ga_heap *h) { lock_all(h); }
void ga_heap_unlock_all(ga_heap *h) { unlock_all(h); }

/* The checker's lock set: the central locks of the classes that ever had a span, then the
 * heap lock (a CAS per class was 5% of checking a small heap; fork still takes all).
 * Enough: an unseen class has no span, so nothing can be on its lists or use its lock,
 * and a class becomes seen only under the heap lock; if one did between the read of the
 * bitmap and taking the heap lock, start again with it. `seen` says what to unlock. */
#define SEEN_WORDS ((GA_NUM_SPAN_CLASSES + 63) / 64)
static void central_locks(ga_heap *h, const uint64_t seen[SEEN_WORDS], bool lock)
{
    for (unsigned w = 0; w < SEEN_WORDS; w++)
        for (uint64_t m = seen[w]; m; m &= m - 1) {
            ga_spinlock *l = &h->central[w * 64 + (unsigned)__builtin_ctzll(m)].lock;
            if (lock) ga_spin_lock(l); else ga_spin_unlock(l);
        }
}

static void lock_seen(ga_heap *h, uint64_t seen[SEEN_WORDS])
{
    for (;;) {
        for (unsigned w = 0; w < SEEN_WORDS; w++) seen[w] = atomic_load(&h->classesSeen[w]);
        central_locks(h, seen, true);
        pthread_mutex_lock(&h->lock);
        bool same = true;
        for (unsigned w = 0; w < SEEN_WORDS; w++) same = same && seen[w] == atomic_load(&h->classesSeen[w]);
        if (same) return;
        pthread_mutex_unlock(&h->lock);
        central_locks(h, seen, false);
    }
}

static void unlock_seen(ga_heap *h, const uint64_t seen[SEEN_WORDS])
{
    pthread_mutex_unlock(&h->lock);
    central_locks(h, seen, false);
}

static int verify_locked(ga_heap *h, ga_report *r)
{
    int rc;
    if (atomic_load(&h->brokenCode))
        return fail(r, GA_V_BROKEN, "internal", 0, 0, -1, "%s", h->broken);
    /* spans */
    size_t inuse = 0, inuse_pages = 0, cached = 0, large_live = 0;
    uint64_t live[GA_NUM_CLASSES] = { 0 };
    for (size_t k = 0; k < h->nallspans; k++) {
        ga_mspan *s = h->allspans[k];
        if (atomic_load(&s->state) != GA_SPAN_INUSE) continue;
        inuse++;
        inuse_pages += s->npages;
        if (s->cachedBy) cached++;
        if (s->spanclass >> 1) live[s->spanclass >> 1] += s->allocCount;
        else large_live++;
        if ((rc = check_span(h, s, true, r))) return rc;
    }
    /* caches */
    size_t ncaches = 0, pc_pages = 0, pc_scav = 0, pc_free_dirty = 0;
    uint64_t cache_delta[GA_NUM_CLASSES] = { 0 };
    for (ga_mcache *c = h->caches; c; c = c->next) {
        ncaches++;
        if ((rc = check_cache(h, c, r))) return rc;
        pc_pages += (size_t)ga_popcount64(c->pcache.cache);
        pc_scav += (size_t)ga_popcount64(c->pcache.scav);
        pc_free_dirty += (size_t)ga_popcount64(c->pcache.cache & ~c->pcache.scav);
        for (unsigned i = 0; i < GA_NUM_SPAN_CLASSES; i++)
            if (c->alloc[i] != &ga_emptymspan)
                cache_delta[i >> 1] += c->alloc[i]->allocCount - c->alloc[i]->allocCountBeforeCache;
    }
    /* lists: every non-cached InUse span is on exactly one list */
    size_t listed = 0;
    if ((rc = check_lists(h, &listed, r))) return rc;
    if (listed != inuse - cached)
        return fail(r, GA_V_CENTRAL, "C2", 0, 0, -1, "%zu spans on mcentral lists, but %zu InUse spans are not cached",
                    listed, inuse - cached);
    /* page allocator */
    if ((rc = pa_verify(h->pages, r))) return rc;
    size_t pa_alloc = pa_alloc_pages(h->pages);
    if (pa_alloc != inuse_pages + pc_pages)
        return fail(r, GA_V_HEAP, "D7", 0, 0, -1, "page allocator has %zu pages allocated, spans hold %zu and page caches %zu",
                    pa_alloc, inuse_pages, pc_pages);
    /* arenas */
    size_t inuse_bits = 0;
    for (size_t i = 0; i < h->nheapArenas; i++) {
        ga_heaparena *ha = h->arenas[h->heapArenas[i]];
        if (!ha)
            return fail(r, GA_V_HEAP, "D10", 0, 0, -1, "heapArenas[%zu] = %#x has no arena metadata", i, h->heapArenas[i]);
        if (ha->zeroedBase > GA_ARENA_BYTES)
            return fail(r, GA_V_HEAP, "D10", 0, ha->base, -1, "arena %#lx: zeroedBase %#lx > 64 MiB",
                        (unsigned long)ha->base, (unsigned long)ha->zeroedBase);
        for (size_t pg = 0; pg < GA_PAGES_PER_ARENA; pg++) {
            if (pg % 64 == 0) {   /* skip 64 pages with neither bit set in one step */
                uint64_t u, m;
                memcpy(&u, &ha->pageInUse[pg / 8], 8);
                memcpy(&m, &ha->pageUseSpanInlineMarkBits[pg / 8], 8);
                if (!(u | m)) {
                    pg += 63;
                    continue;
                }
            }
            uintptr_t p = ha->base + pg * GA_PAGE_SIZE;
            bool inuse_bit = (ha->pageInUse[pg / 8] >> (pg % 8)) & 1;
            bool inl_bit = (ha->pageUseSpanInlineMarkBits[pg / 8] >> (pg % 8)) & 1;
            if (!inuse_bit && !inl_bit) continue;
            ga_mspan *s = ga_span_of(h, p);
            if (!s || s->startAddr != p || atomic_load(&s->state) != GA_SPAN_INUSE || !inuse_bit)
                return fail(r, GA_V_HEAP, "D11", s ? s->startAddr : 0, p, -1,
                            "page %#lx has pageInUse %d / inline %d but is not the first page of an InUse span",
                            (unsigned long)p, inuse_bit, inl_bit);
            if (p + s->npages * GA_PAGE_SIZE - ha->base > ha->zeroedBase && p + s->npages * GA_PAGE_SIZE <= ha->base + GA_ARENA_BYTES)
                return fail(r, GA_V_HEAP, "D10", s->startAddr, p, -1, "span %#lx ends above arena zeroedBase %#lx",
                            (unsigned long)p, (unsigned long)ha->zeroedBase);
            inuse_bits++;
        }
    }
    if (inuse_bits != inuse)
        return fail(r, GA_V_HEAP, "D11", 0, 0, -1, "%zu pageInUse bits for %zu InUse spans", inuse_bits, inuse);
    /* statistics */
    if (h->heapInUse != inuse_pages * GA_PAGE_SIZE || h->pagesInUse != inuse_pages)
        return fail(r, GA_V_STATS, "E1", 0, 0, -1, "heapInUse %llu / pagesInUse %llu, spans hold %zu pages",
                    (unsigned long long)h->heapInUse, (unsigned long long)h->pagesInUse, inuse_pages);
    if (h->heapInUse + h->heapFree + h->heapReleased != h->heapGrown)
        return fail(r, GA_V_STATS, "E2", 0, 0, -1, "heapInUse %llu + heapFree %llu + heapReleased %llu != grown %llu",
                    (unsigned long long)h->heapInUse, (unsigned long long)h->heapFree,
                    (unsigned long long)h->heapReleased, (unsigned long long)h->heapGrown);
    size_t scav_free = pa_scavenged_free_pages(h->pages);
    if (h->heapReleased != (scav_free + pc_scav) * GA_PAGE_SIZE)
        return fail(r, GA_V_STATS, "E3", 0, 0, -1, "heapReleased %llu, but %zu free scavenged pages + %zu in page caches",
                    (unsigned long long)h->heapReleased, scav_free, pc_scav);
    size_t free_dirty = pa_free_pages(h->pages) - scav_free;
    if (h->heapFree != (free_dirty + pc_free_dirty) * GA_PAGE_SIZE)
        return fail(r, GA_V_STATS, "E4", 0, 0, -1, "heapFree %llu, but %zu free unscavenged pages + %zu in page caches",
                    (unsigned long long)h->heapFree, free_dirty, pc_free_dirty);
    for (unsigned c = 1; c < GA_NUM_CLASSES; c++) {
        uint64_t want = GA_COUNTER(h, smallAllocCount[c]) + cache_delta[c] - GA_COUNTER(h, smallFreeCount[c]);
        if (live[c] != want)
            return fail(r, GA_V_STATS, "E6", 0, 0, -1, "class %u: spans hold %llu objects, counters say %llu (allocs %llu + cached %llu - frees %llu)",
                        c, (unsigned long long)live[c], (unsigned long long)want,
                        (unsigned long long)GA_COUNTER(h, smallAllocCount[c]), (unsigned long long)cache_delta[c],
                        (unsigned long long)GA_COUNTER(h, smallFreeCount[c]));
    }
    if (large_live != GA_COUNTER(h, largeAllocCount) - GA_COUNTER(h, largeFreeCount))
        return fail(r, GA_V_STATS, "E6", 0, 0, -1, "%zu large spans live, counters say %llu",
                    large_live, (unsigned long long)(GA_COUNTER(h, largeAllocCount) - GA_COUNTER(h, largeFreeCount)));
    if (h->spanalloc.inuse != inuse * h->spanalloc.size)
        return fail(r, GA_V_STATS, "E8", 0, 0, -1, "spanalloc.inuse %zu != %zu spans x %zu",
                    h->spanalloc.inuse, inuse, h->spanalloc.size);
    if (h->cachealloc.inuse != ncaches * h->cachealloc.size)
        return fail(r, GA_V_STATS, "E8", 0, 0, -1, "cachealloc.inuse %zu != %zu caches x %zu",
                    h->cachealloc.inuse, ncaches, h->cachealloc.size);
    return 0;
}

int ga_verify(ga_heap *h, ga_report *r)
{
    if (r) memset(r, 0, sizeof *r);
    if (r) r->slot = -1;
    uint64_t seen[SEEN_WORDS];
    lock_seen(h, seen);
    int rc = verify_locked(h, r);
    unlock_seen(h, seen);
    return rc;
}

int ga_verify_span(ga_heap *h, const void *p, ga_report *r) { return ga_verify_span_ex(h, p, 0, r); }

int ga_verify_span_ex(ga_heap *h, const void *p, unsigned flags, ga_report *r)
{
    if (r) { memset(r, 0, sizeof *r); r->slot = -1; }
    ga_mspan *s = ga_span_of_heap(h, (uintptr_t)p);
    if (!s) return fail(r, GA_V_SPAN, "A10", 0, (uintptr_t)p, -1, "%p is not inside an InUse span", p);
    ga_mcentral *c = &h->central[s->spanclass];
    ga_spin_lock(&c->lock);
    pthread_mutex_lock(&h->lock);
    int rc = atomic_load(&h->brokenCode) ? fail(r, GA_V_BROKEN, "internal", 0, 0, -1, "%s", h->broken) : check_span(h, s, !(flags & GA_VERIFY_NO_ZERO_SCAN), r);
    pthread_mutex_unlock(&h->lock);
    ga_spin_unlock(&c->lock);
    return rc;
}

int ga_span_raw_of(ga_heap *h, const void *p, ga_span_raw *out)
{
    ga_mspan *s = ga_span_of_heap(h, (uintptr_t)p);
    if (!s) { memset(out, 0, sizeof *out); return -1; }
    out->base = s->startAddr;
    out->npages = s->npages;
    out->elemsize = s->elemsize;
    out->nelems = s->nelems;
    out->spanclass = s->spanclass;
    out->freeindex = atomic_load_explicit(&s->freeindex, memory_order_relaxed);
    out->allocated_below = atomic_load_explicit(&s->allocatedBelow, memory_order_relaxed);
    out->alloc_count = s->allocCount;
    out->alloc_cache = s->allocCache;
    for (unsigned w = 0; w < s->nwords && w < GA_SPAN_RAW_WORDS; w++) {
        out->alloc_bits[w] = atomic_load_explicit(&s->allocBits[w], memory_order_relaxed);
        out->freed_bits[w] = atomic_load_explicit(&s->freedBits[w], memory_order_relaxed);
        out->owner_freed_bits[w] = __atomic_load_n(&s->ownerFreedBits[w], __ATOMIC_RELAXED);
        out->tiny_bits[w] = s->tinyBits ? __atomic_load_n(&s->tinyBits[w], __ATOMIC_RELAXED) : 0;
    }
    out->cached = __atomic_load_n(&s->cachedBy, __ATOMIC_RELAXED) != NULL;
    out->sweep_requested = atomic_load(&s->sweepRequested);
    out->needs_sweep = atomic_load(&s->sweepgen) == atomic_load(&h->sweepgen) - 2;
    return 0;
}

size_t ga_span_bases(ga_heap *h, uintptr_t *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&h->lock);
    for (size_t k = 0; k < h->nallspans; k++) {
        ga_mspan *s = h->allspans[k];
        if (atomic_load(&s->state) != GA_SPAN_INUSE) continue;
        if (n < max) out[n] = s->startAddr;
        n++;
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}

void ga_dump(ga_heap *h, FILE *out)
{
    lock_all(h);
    uint32_t hsg = atomic_load(&h->sweepgen);
    fprintf(out, "galloc heap %p: sweepgen %u, %zu arenas, %zu span structs, green tea %s\n",
            (void *)h, hsg, h->nheapArenas, h->nallspans, h->green_tea ? "on" : "off");
    fprintf(out, "  heapInUse %llu heapFree %llu heapReleased %llu grown %llu meta %llu\n",
            (unsigned long long)h->heapInUse, (unsigned long long)h->heapFree,
            (unsigned long long)h->heapReleased, (unsigned long long)h->heapGrown, (unsigned long long)h->metaSys);
    for (size_t i = 0; i < h->nheapArenas; i++) {
        ga_heaparena *ha = h->arenas[h->heapArenas[i]];
        fprintf(out, "  arena %#lx zeroedBase %#lx\n", (unsigned long)ha->base, (unsigned long)ha->zeroedBase);
    }
    for (unsigned i = 0; i < GA_NUM_SPAN_CLASSES; i++) {
        ga_mcentral *c = &h->central[i];
        size_t n = c->partial[0].n + c->partial[1].n + c->full[0].n + c->full[1].n;
        if (n)
            fprintf(out, "  central spc %3u (class %2u %s, %5u B): partial swept %zu unswept %zu, full swept %zu unswept %zu\n",
                    i, i >> 1, (i & 1) ? "noscan" : "scan  ", ga_class_to_size[i >> 1],
                    ga_partial_swept(c, hsg)->n, ga_partial_unswept(c, hsg)->n,
                    ga_full_swept(c, hsg)->n, ga_full_unswept(c, hsg)->n);
    }
    for (size_t k = 0; k < h->nallspans; k++) {
        ga_mspan *s = h->allspans[k];
        if (atomic_load(&s->state) != GA_SPAN_INUSE) continue;
        fprintf(out, "  span %#lx npages %zu spc %u elemsize %zu nelems %u allocCount %u freeindex %u sweepgen %+d needzero %u%s%s\n",
                (unsigned long)s->startAddr, s->npages, s->spanclass, s->elemsize, s->nelems, s->allocCount,
                (unsigned)atomic_load(&s->freeindex), (int)(atomic_load(&s->sweepgen) - hsg), s->needzero,
                s->cachedBy ? " cached" : "", atomic_load(&s->sweepRequested) ? " sweep-requested" : "");
    }
    pa_dump(h->pages, out);
    unlock_all(h);
}
