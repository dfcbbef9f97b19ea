/*
 * exec_model.c — the reference model of span slots: which slots of a span must be
 * allocated, predicted from the harness's own records, never from galloc's verdicts.
 *
 * Inputs the model trusts: the shadow model's live objects (their slot, from ga_lookup at
 * allocation time, and the span it was in), and its own list of "pending" slots: objects
 * the harness freed explicitly, or that died at a gc-end, whose slot galloc may keep
 * allocated until it sweeps the span (galloc is lazy there, by design). What it reads
 * from galloc is the raw bookkeeping only (ga_span_raw_of: allocBits, freeindex,
 * allocCache, allocCount, freedBits, ownerFreedBits, tinyBits, sweep state).
 *
 * Rules, checked after every op for each span the op touched, and for every span galloc
 * has in use at a full check (allocated(i) := i < freeindex || allocBits[i]; "freed" = freedBits |
 * ownerFreedBits):
 *   M1 a live object's slot is allocated                      (else: the object was lost)
 *   M2 a live object's slot has no pending free               (else: a free hit it)
 *   M3 a pending free is on a slot the harness freed           (else: a phantom free)
 *   M4 an allocated slot holds a live object, or is pending    (else: an object nobody made)
 *   M5 a slot dead in a GC cycle is free once its span was swept since (else: the sweep kept it)
 *   M6 a slot the harness freed and galloc swept is free       (else: the free was dropped)
 *   M7 allocCount == the number of allocated slots
 *   M8 a cached span's allocCache offers no allocated slot     (else: it hands out a live one)
 *   M9 a slot holding live tiny objects is a tiny block, and only those are
 *   M11 a pending free in a span no cache holds has a sweep coming (requested, or a GC
 *       cycle made the span unswept)          (else: the free is stranded, a leak)
 *   M12 allocated_below is a multiple of 64 (or nelems) <= freeindex (a free from elsewhere takes
 *       every slot below it as allocated without reading freeindex)
 *   M10 right after gc-begin (it finishes sweeping) nothing is pending: every allocated
 *       slot holds a live object and no freed bit is left
 * Lazy rules the model knows: a freed slot stays allocated, with its freed bit, until a
 * sweep consumes it (any time later: cacheSpan, refill, ga_sweep, gc-begin); a GC-dead
 * slot stays allocated until its span's first sweep after gc-end; a tiny block lives while
 * any of its objects does and dies only in a GC cycle. Marks are not modelled here (the
 * GC model in exec_gc.c decides who dies; this file checks that galloc agrees).
 * Pending entries are dropped once galloc shows the slot free, or the slot is live again.
 *
 * Calls: galloc.h (ga_span_raw_of), exec_shadow.c (live objects by address), exec_checks.c.
 */
#include "exec_internal.h"
#include "bits.h"

enum { WHY_FREED = 1, WHY_DEAD = 2 };

/* ---- pending slots and touched spans ------------------------------------------------ */
static size_t pend_lower(ex *x, uintptr_t slot) { return EX_LOWER_BOUND(x->pend, x->npend, slot, slot); }

void ex_model_pending(ex *x, uintptr_t span, uintptr_t slot, size_t elemsize, bool dead, uint64_t id)
{
    if (!span || !slot) return;
    size_t i = pend_lower(x, slot);
    if (i < x->npend && x->pend[i].slot == slot) {   /* freed again after a reuse the model did not see consumed */
        x->pend[i].why |= dead ? WHY_DEAD : WHY_FREED;
        x->pend[i].id = id;
        return;
    }
    if (x->npend == x->cappend) {
        size_t nc = x->cappend ? x->cappend * 2 : 256;
        ex_pend *n = realloc(x->pend, nc * sizeof *n);
        if (!n) return;
        x->pend = n;
        x->cappend = nc;
    }
    memmove(&x->pend[i + 1], &x->pend[i], (x->npend - i) * sizeof *x->pend);
    x->pend[i] = (ex_pend){ slot, span, elemsize, (uint8_t)(dead ? WHY_DEAD : WHY_FREED), 0, id };
    x->npend++;
    ex_model_touch(x, span);
}

void ex_model_touch(ex *x, uintptr_t span)
{
    if (!span || x->touch_all) return;
    for (size_t i = 0; i < x->ntouched; i++) if (x->touched[i] == span) return;
    if (x->ntouched == sizeof x->touched / sizeof *x->touched) { x->touch_all = true; return; }
    x->touched[x->ntouched++] = span;
}

void ex_model_touch_all(ex *x) { x->touch_all = true; }

/* ---- one span ------------------------------------------------------------------------ */
static uint64_t valid_mask(unsigned nelems, unsigned w)
{
    unsigned lo = w * 64;
    if (nelems >= lo + 64) return ~0ull;
    return nelems <= lo ? 0 : (1ull << (nelems - lo)) - 1;
}

static bool model_finding(ex *x, const ga_span_raw *r, unsigned slot, uint64_t id, const char *rule, const char *what)
{
    obj *o = id ? ex_find_id(x, id) : NULL;
    char who[40] = "";
    if (id) snprintf(who, sizeof who, ", object #%" PRIu64, id);
    if (!ex_finding(x, GH_CHK_MODEL, o, NULL,
                    "span model %s: span %#" PRIxPTR " (class %u, %zu-byte slots, %u slots) slot %u (%#" PRIxPTR ")%s: %s "
                    "[galloc: allocated %d, freed bit %d, freeindex %u, allocCount %u, %s%s%s]",
                    rule, r->base, r->spanclass >> 1, r->elemsize, r->nelems, slot, r->base + (uintptr_t)slot * r->elemsize,
                    who, what,
                    slot < r->freeindex || ((r->alloc_bits[slot / 64] >> (slot % 64)) & 1),
                    (int)(((r->freed_bits[slot / 64] | r->owner_freed_bits[slot / 64]) >> (slot % 64)) & 1),
                    r->freeindex, r->alloc_count, r->cached ? "cached" : "not cached",
                    r->needs_sweep ? ", unswept since the last cycle" : "", r->sweep_requested ? ", sweep requested" : ""))
        return false;
    x->f->span = r->base;
    x->f->span_npages = r->npages;
    x->f->sizeclass = r->spanclass >> 1;
    return true;
}

/* The id of a live object in slot i of span r (for messages), 0 if none. */
static uint64_t live_id_at(ex *x, const ga_span_raw *r, unsigned i)
{
    uintptr_t lo = r->base + (uintptr_t)i * r->elemsize;
    for (size_t k = ex_iv_lower(x, lo); k < x->niv && x->iv[k].lo < lo + r->elemsize; k++) return x->iv[k].id;
    return 0;
}

/* Checks the span based at `base` (or holding it); false on a finding. */
static bool check_span(ex *x, uintptr_t base)
{
    ga_span_raw r;
    if (ga_span_raw_of(x->h, (const void *)base, &r) != 0 || r.elemsize == 0) {
        /* no span there any more: nothing of it may be live, and what was pending is gone */
        size_t i = pend_lower(x, base), j = i;
        while (j < x->npend && x->pend[j].span == base) j++;
        if (j > i) {
            memmove(&x->pend[i], &x->pend[j], (x->npend - j) * sizeof *x->pend);
            x->npend -= j - i;
        }
        for (size_t k = 0; k < x->nobj; k++)
            if (x->objs[k].span == base && x->objs[k].sut)
                return !ex_finding(x, GH_CHK_MODEL, &x->objs[k], NULL, "span model M1: live object #%" PRIu64 " at %p was in span %#" PRIxPTR
                                   ", which is no longer an in-use span (the object was lost)", x->objs[k].id, x->objs[k].sut, base);
        return true;
    }
    if ((r.allocated_below % 64 && r.allocated_below != r.nelems) || r.allocated_below > r.freeindex)
        return !ex_finding(x, GH_CHK_MODEL, NULL, NULL, "span model M12: span %#" PRIxPTR " has allocated_below %u, not a "
                           "multiple of 64 (or nelems) <= freeindex %u (frees below it skip the allocated check)",
                           r.base, r.allocated_below, r.freeindex);
    uintptr_t end = r.base + r.npages * (uintptr_t)PAGE;
    unsigned nw = (r.nelems + 63) / 64;
    if (nw > GA_SPAN_RAW_WORDS) nw = GA_SPAN_RAW_WORDS;
    uint64_t live[GA_SPAN_RAW_WORDS], tiny[GA_SPAN_RAW_WORDS], freed_h[GA_SPAN_RAW_WORDS], dead_h[GA_SPAN_RAW_WORDS];
    memset(live, 0, nw * sizeof *live);
    memset(tiny, 0, nw * sizeof *tiny);
    memset(freed_h, 0, nw * sizeof *freed_h);
    memset(dead_h, 0, nw * sizeof *dead_h);
    /* slot indexes: a 32-bit division where the span's bytes fit (every small-object span) */
    bool div32 = r.npages * (uintptr_t)PAGE <= UINT32_MAX && r.elemsize <= UINT32_MAX;
    uint32_t es32 = (uint32_t)r.elemsize;
#define SLOT_OF(addr) ((unsigned)(div32 ? (uint32_t)((addr) - r.base) / es32 : ((addr) - r.base) / r.elemsize))
    /* live objects by address (the interval set is sorted by start): the slot of an object
     * is the one its first byte is in (tiny objects share a block; a malloc header puts
     * the object 8 bytes into its slot) */
    for (size_t k = ex_iv_lower(x, r.base); k < x->niv && x->iv[k].lo < end; k++) {
        x->model_seen_iv++;
        unsigned i = SLOT_OF(x->iv[k].lo);
        if (i >= r.nelems) {   /* in the span's tail: no slot there (the span changed under it) */
            obj *o = ex_find_id(x, x->iv[k].id);
            return !ex_finding(x, GH_CHK_MODEL, o, NULL, "span model M1: live object #%" PRIu64 " at %#" PRIxPTR " lies in no slot of span %#"
                               PRIxPTR " (%zu-byte slots, %u slots): its span was replaced (the object was lost)",
                               x->iv[k].id, x->iv[k].lo, r.base, r.elemsize, r.nelems);
        }
        live[i / 64] |= 1ull << (i % 64);
        if (x->iv[k].tiny) tiny[i / 64] |= 1ull << (i % 64);
    }
    size_t p0 = pend_lower(x, r.base), p1 = p0;
    for (; p1 < x->npend && x->pend[p1].slot < end; p1++) {
        ex_pend *e = &x->pend[p1];
        e->seen = 1;
        if (e->span != r.base || e->elemsize != r.elemsize) { e->why = 0; continue; }   /* its span died: consumed */
        unsigned i = SLOT_OF(e->slot);
        if (i >= r.nelems) { e->why = 0; continue; }
        if (e->why & WHY_FREED) freed_h[i / 64] |= 1ull << (i % 64);
        if (e->why & WHY_DEAD) dead_h[i / 64] |= 1ull << (i % 64);
    }
    unsigned nalloc = 0;
    for (unsigned w = 0; w < nw; w++) {
        uint64_t valid = valid_mask(r.nelems, w), lo = w * 64;
        uint64_t alloc = r.alloc_bits[w];
        if (r.freeindex >= lo + 64) alloc = ~0ull;
        else if (r.freeindex > lo) alloc |= (1ull << (r.freeindex - lo)) - 1;
        alloc &= valid;
        nalloc += ga_popcount64(alloc);
        uint64_t freed = (r.freed_bits[w] | r.owner_freed_bits[w]) & valid;
        uint64_t bad;
#define SLOT(b) ((unsigned)(lo + (unsigned)__builtin_ctzll(b)))
#define ID(b) live_id_at(x, &r, SLOT(b))
        if ((bad = live[w] & ~alloc))
            return !model_finding(x, &r, SLOT(bad), ID(bad), "M1", "a live object's slot is free (the object was lost: "
                                  "galloc may hand the slot out again)");
        if ((bad = live[w] & freed))
            return !model_finding(x, &r, SLOT(bad), ID(bad), "M2", "a live object's slot has a pending free the harness never made");
        if ((bad = freed & ~freed_h[w]))
            return !model_finding(x, &r, SLOT(bad), 0, "M3", "a pending free on a slot the harness never freed "
                                  "(lazy rule: a freed bit waits for a sweep only on slots the harness freed)");
        if (x->model_all_swept && (bad = (alloc | freed) & ~live[w]))
            return !model_finding(x, &r, SLOT(bad), 0, "M10", "right after ga_gc_begin (which finishes sweeping) a slot "
                                  "without a live object is still allocated or has a pending free");
        if ((bad = alloc & ~live[w] & ~freed_h[w] & ~dead_h[w]))
            return !model_finding(x, &r, SLOT(bad), 0, "M4", "an allocated slot holds no live object and was neither freed "
                                  "by the harness nor dead in a GC cycle (an allocation nobody made, or a leak)");
        if (!r.needs_sweep && (bad = alloc & dead_h[w] & ~freed_h[w] & ~live[w]))
            return !model_finding(x, &r, SLOT(bad), 0, "M5", "an object that died in a GC cycle is still allocated though its span "
                                  "was swept since (lazy rule: a dead slot waits only for its span's first sweep after gc-end)");
        if ((bad = alloc & freed_h[w] & ~freed & ~live[w] & ~(r.needs_sweep ? dead_h[w] : 0)))
            return !model_finding(x, &r, SLOT(bad), 0, "M6", "a slot the harness freed is still allocated but its freed bit "
                                  "is gone (lazy rule: a freed slot stays allocated only while its freed bit waits for a sweep)");
        if (!r.cached && !r.sweep_requested && !r.needs_sweep && (bad = r.freed_bits[w] & valid))
            return !model_finding(x, &r, SLOT(bad), 0, "M11", "a pending free in a span no cache holds, with no sweep requested "
                                  "and no GC cycle to come: nothing will ever sweep it (lazy rule: a freed bit waits for a "
                                  "sweep its free asked for, or for its owner's refill)");
        uint64_t tb = r.tiny_bits[w] & valid;
        if ((bad = tiny[w] & ~tb))
            return !model_finding(x, &r, SLOT(bad), ID(bad), "M9", "a slot holding live tiny objects is not marked as a tiny block");
        if ((bad = tb & live[w] & ~tiny[w]))
            return !model_finding(x, &r, SLOT(bad), ID(bad), "M9", "a slot holding a live ordinary object is marked as a tiny block");
#undef ID
#undef SLOT
    }
    if (nalloc != r.alloc_count)
        return !model_finding(x, &r, 0, 0, "M7", "allocCount differs from the number of allocated slots the model counts");
    if (r.cached && r.freeindex < r.nelems) {
        unsigned fi = r.freeindex, sh = fi % 64, w = fi / 64;
        uint64_t alloc = r.alloc_bits[w];
        uint64_t window = (sh ? (1ull << (64 - sh)) - 1 : ~0ull) & (valid_mask(r.nelems, w) >> sh);
        uint64_t bad = r.alloc_cache & (alloc >> sh) & window;
        if (bad)
            return !model_finding(x, &r, fi + (unsigned)__builtin_ctzll(bad), 0, "M8",
                                  "the cached span's allocCache offers a slot that is allocated (the fast path would hand it out)");
    }
    /* drop what galloc has visibly consumed: free now, or live again */
    size_t keep = p0;
    for (size_t k = p0; k < p1; k++) {
        ex_pend e = x->pend[k];
        if (!e.why) continue;
        unsigned i = SLOT_OF(e.slot);
        bool alloc = i < r.freeindex || ((r.alloc_bits[i / 64] >> (i % 64)) & 1);
        bool is_live = (live[i / 64] >> (i % 64)) & 1;
        if (!alloc || is_live) continue;
        x->pend[keep++] = e;
    }
    if (p1 > keep) {
        memmove(&x->pend[keep], &x->pend[p1], (x->npend - p1) * sizeof *x->pend);
        x->npend -= p1 - keep;
    }
#undef SLOT_OF
    return true;
}

/* ---- entry points ---------------------------------------------------------------------- */
/* Every span galloc has in use. A live object in none of them was lost with its span; a
 * pending slot in none of them went back with its span (consumed). */
static bool check_spans(ex *x)
{
    size_t n = ga_span_bases(x->h, NULL, 0);
    uintptr_t *sp = malloc((n ? n : 1) * sizeof *sp);
    if (!sp) return true;
    if (ga_span_bases(x->h, sp, n) < n) n = ga_span_bases(x->h, sp, n);
    for (size_t i = 0; i < x->npend; i++) x->pend[i].seen = 0;
    x->model_seen_iv = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) ok = check_span(x, sp[i]);
    free(sp);
    if (!ok) return false;
    size_t w = 0;
    for (size_t i = 0; i < x->npend; i++) if (x->pend[i].seen) x->pend[w++] = x->pend[i];
    x->npend = w;
    if (x->model_seen_iv != x->niv)   /* some live object lies in no span galloc has in use */
        for (size_t i = 0; i < x->nobj; i++) {
            ga_span_raw r;
            obj *o = &x->objs[i];
            if (ga_span_raw_of(x->h, o->sut, &r) == 0) continue;
            return !ex_finding(x, GH_CHK_MODEL, o, NULL, "span model M1: live object #%" PRIu64 " at %p was in span %#" PRIxPTR
                               ", which is no longer an in-use span (the object was lost)", o->id, o->sut, o->span);
        }
    return true;
}

bool ex_model_check(ex *x)
{
    bool ok = true;
    if (x->o->checks & GH_CHK_MODEL) {
        if (x->touch_all) ok = check_spans(x);
        else for (size_t i = 0; i < x->ntouched && ok; i++) ok = check_span(x, x->touched[i]);
    }
    x->ntouched = 0;
    x->touch_all = false;
    return ok;
}

bool ex_model_check_all(ex *x)
{
    if (!(x->o->checks & GH_CHK_MODEL)) return true;
    return check_spans(x);
}
