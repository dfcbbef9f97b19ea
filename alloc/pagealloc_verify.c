/*
 * pagealloc_verify.c — the page allocator's checker and dump (spec §10.D): pa_verify walks
 * the inUse ranges and the block window and checks D1..D6 and D8 (listed in pagealloc.c's
 * header) and the page counters; pa_dump prints the same structures. pa__report fills a
 * ga_report with code 40 (page allocator); pagecache.c's pa_verify_cache (D9) uses it too.
 * Read-only: nothing here changes the page allocator. Called by verify.c (ga_verify,
 * ga_dump) and the unit tests. Calls: pagealloc_impl.h (layout and accessors), the summary
 * functions of pagealloc.c (ga_palloc_summarize, ga_pallocbits_popcnt_range, ga_pallocsum_*),
 * libc stdio.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pagealloc_impl.h"

/* ---- checker (spec §10.D) --------------------------------------------------------------- */
int pa__report(ga_report *r, const char *inv, uintptr_t addr, const char *fmt, ...)
{
    if (r) {
        va_list ap;
        r->code = PA_V_CODE;
        snprintf(r->invariant, sizeof r->invariant, "%s", inv);
        r->span = 0;
        r->addr = addr;
        r->slot = -1;
        va_start(ap, fmt);
        vsnprintf(r->message, sizeof r->message, fmt, ap);
        va_end(ap);
    }
    return PA_V_CODE;
}

#define SUMF "%#" PRIx64 " (start=%u max=%u end=%u)"
#define SUMA(s) (uint64_t)(s), ga_pallocsum_start(s), ga_pallocsum_max(s), ga_pallocsum_end(s)

/* D3: shape of one summary at level l; 0 or a report. */
static int check_shape(ga_report *r, unsigned l, uint64_t i, ga_pallocsum s)
{
    uint64_t C = (uint64_t)1 << lvl_logpages[l];
    uintptr_t a = addr_of(i << lvl_shift[l]);
    if (s >> 63) {
        if (l != 0 || s != SUM_ALL_FREE_ROOT)
            return pa__report(r, "D3", a, "level %u index %#" PRIx64 ": summary %#" PRIx64
                              " uses the fully-free flag bit, only the exact root value 1<<63 may",
                              l, i, (uint64_t)s);
        return 0;
    }
    uint64_t st = ga_pallocsum_start(s), mx = ga_pallocsum_max(s), en = ga_pallocsum_end(s);
    if (st == C && mx == C && en == C)
        return 0;
    if (!(st <= mx && en <= mx && mx <= C && st + en < C))
        return pa__report(r, "D3", a, "level %u index %#" PRIx64 ": summary " SUMF " has an impossible shape"
                          " for capacity %" PRIu64, l, i, SUMA(s), C);
    return 0;
}

int pa_verify(const ga_pagealloc *pa, ga_report *r)
{
    size_t k, nalloc = 0, nscavfree = 0, ntotal = 0;
    if (r)
        memset(r, 0, sizeof *r), r->slot = -1;
    /* D6: the inUse list and the chunk bounds. */
    for (k = 0; k < pa->nranges; k++) {
        pa_range g = pa->ranges[k];
        if (g.base >= g.limit || (g.base | g.limit) & (CHUNK_BYTES - 1) || g.limit > OFF_LIMIT)
            return pa__report(r, "D6", addr_of(g.base), "inUse range %zu [%#" PRIxPTR ", %#" PRIxPTR
                              ") is empty or not chunk aligned", k, addr_of(g.base), addr_of(g.limit));
        if (k > 0 && pa->ranges[k - 1].limit >= g.base)
            return pa__report(r, "D6", addr_of(g.base), "inUse ranges %zu [.., %#" PRIxPTR ") and %zu [%#" PRIxPTR
                              ", ..) are unsorted, overlapping or adjacent", k - 1,
                              addr_of(pa->ranges[k - 1].limit), k, addr_of(g.base));
    }
    {
        uint64_t es = pa->nranges ? pa->ranges[0].base >> CHUNK_SHIFT : 0;
        uint64_t ee = pa->nranges ? pa->ranges[pa->nranges - 1].limit >> CHUNK_SHIFT : 0;
        if (pa->start != es || pa->end != ee)
            return pa__report(r, "D6", 0, "chunk bounds [start, end) = [%#" PRIx64 ", %#" PRIx64
                              ") but inUse spans chunks [%#" PRIx64 ", %#" PRIx64 ")", pa->start, pa->end, es, ee);
        /* pa_destroy frees only the blocks inside the window */
        if (pa->nranges && (es >> L2_SHIFT < pa->blk_lo || (ee - 1) >> L2_SHIFT > pa->blk_hi))
            return pa__report(r, "D6", 0, "block window [%#" PRIx64 ", %#" PRIx64 "] does not cover the blocks of inUse "
                              "chunks [%#" PRIx64 ", %#" PRIx64 ")", pa->blk_lo, pa->blk_hi, es, ee);
    }
    /* Per chunk: D3 + D1 on the leaf, D4, D8. */
    const unsigned LEAF = GA_SUMMARY_LEVELS - 1;
    for (k = 0; k < pa->nranges; k++) {
        for (uint64_t ci = pa->ranges[k].base >> CHUNK_SHIFT; ci < pa->ranges[k].limit >> CHUNK_SHIFT; ci++) {
            uintptr_t cb = addr_of(ci << CHUNK_SHIFT);
            const pa_chunk *c = chunk_of(pa, ci);
            if (!c)
                return pa__report(r, "D6", cb, "chunk %#" PRIx64 " at %#" PRIxPTR " is in inUse but has no bitmap block",
                                  ci, cb);
            ga_pallocsum have = *sum_ref(pa, LEAF, ci);   /* c's block holds it */
            int e = check_shape(r, LEAF, ci, have);
            if (e)
                return e;
            ga_pallocsum want = ga_palloc_summarize(c->alloc);
            if (have != want)
                return pa__report(r, "D1", cb, "chunk %#" PRIx64 " at %#" PRIxPTR ": leaf summary (level 4 index %#" PRIx64
                                  ") " SUMF " != summarize(pallocBits) " SUMF, ci, cb, ci, SUMA(have), SUMA(want));
            unsigned pop = 0, scf = 0;
            for (unsigned w = 0; w < 8; w++) {
                if (c->scav[w] & c->alloc[w]) {
                    unsigned p = w * 64 + ctz64(c->scav[w] & c->alloc[w]);
                    return pa__report(r, "D4", cb + p * PAGE, "chunk %#" PRIx64 " page %u (%#" PRIxPTR
                                      ") is both allocated and scavenged (word %u: alloc %#" PRIx64 " scav %#" PRIx64 ")",
                                      ci, p, (uintptr_t)(cb + p * PAGE), w, c->alloc[w], c->scav[w]);
                }
                pop += pop64(c->alloc[w]);
                scf += pop64(c->scav[w] & ~c->alloc[w]);
            }
            const pa_scidx *x = sci_of(pa, ci);
            if (x->inuse != pop)
                return pa__report(r, "D8", cb, "chunk %#" PRIx64 " at %#" PRIxPTR ": scavenge index in-use count %u != "
                                  "popcount(pallocBits) %u", ci, cb, x->inuse, pop);
            bool work = pop + scf < CHUNK_PAGES;   /* some page is free and unscavenged */
            if (work && !(x->flags & SCI_HAS_FREE))
                return pa__report(r, "D8", cb, "chunk %#" PRIx64 " at %#" PRIxPTR ": HasFree is clear but %u pages are "
                                  "free and unscavenged", ci, cb, CHUNK_PAGES - pop - scf);
            if (work && ci >= pa->scav_top_force)
                return pa__report(r, "D8", cb, "chunk %#" PRIx64 ": has free unscavenged pages but lies above the "
                                  "forced-scavenge cursor %#" PRIx64, ci, pa->scav_top_force);
            if (work && pop < GA_SCAV_CHUNK_HI_OCC_PAGES && ci >= pa->scav_top_bg)
                return pa__report(r, "D8", cb, "chunk %#" PRIx64 ": not dense, has free unscavenged pages but lies "
                                  "above the background-scavenge cursor %#" PRIx64, ci, pa->scav_top_bg);
            nalloc += pop;
            nscavfree += scf;
            ntotal += CHUNK_PAGES;
        }
    }
    /* Leaves next to in-use chunks (same level-3 block) that are not in use must be empty,
     * or merges would invent free space. */
    for (k = 0; k < pa->nranges; k++) {
        uint64_t b0 = (pa->ranges[k].base >> CHUNK_SHIFT) & ~(uint64_t)7;
        uint64_t b1 = (((pa->ranges[k].limit >> CHUNK_SHIFT) - 1) | 7) + 1;
        for (uint64_t ci = b0; ci < b1; ci++) {
            ga_pallocsum s = sum_get(pa, LEAF, ci);
            if (s != 0 && !range_contains(pa, ci << CHUNK_SHIFT))
                return pa__report(r, "D1", addr_of(ci << CHUNK_SHIFT), "chunk %#" PRIx64 " is not in use but its leaf "
                                  "summary is " SUMF, ci, SUMA(s));
        }
    }
    /* D2 + D3, bottom-up so that a bad entry is reported at its own level. */
    for (int l = GA_SUMMARY_LEVELS - 2; l >= 0; l--) {
        for (k = 0; k < pa->nranges; k++) {
            uint64_t lo = pa->ranges[k].base >> lvl_shift[l], hi = (pa->ranges[k].limit - 1) >> lvl_shift[l];
            for (uint64_t i = lo; i <= hi; i++) {
                ga_pallocsum have = sum_get(pa, (unsigned)l, i);
                int e = check_shape(r, (unsigned)l, i, have);
                if (e)
                    return e;
                ga_pallocsum want = merge8(sum_row(pa, (unsigned)l + 1, i << 3), lvl_logpages[l + 1], false);
                if (have != want)
                    return pa__report(r, "D2", addr_of(i << lvl_shift[l]), "level %d index %#" PRIx64 " (%#" PRIxPTR
                                      "): summary " SUMF " != merge of level %d children [%#" PRIx64 "..+8) " SUMF,
                                      l, i, addr_of(i << lvl_shift[l]), SUMA(have), l + 1, i << 3, SUMA(want));
            }
        }
    }
    /* The block window. A block that no inUse range touches is leaked metadata (a failed
     * pa_grow gives back the blocks it made). Root entries that cover no in-use memory must be
     * 0 (find scans the root linearly): checked for the window's 2 entries per block; outside
     * the window nothing ever wrote the root (see blk_lo), so it still holds alloc_meta's
     * zeros and is not read. That keeps a small heap's pa_verify off the 128 KiB root; a heap
     * grown at both ends of the address space reads it all, as before. */
    for (uint64_t kb = pa->blk_lo; kb <= pa->blk_hi; kb++) {
        uint64_t blo = kb << BLK_SHIFT;
        bool used = ranges_intersect(pa, blo, blo + ((uint64_t)1 << BLK_SHIFT));
        if (pa->l2[kb] && !used)
            return pa__report(r, "D6", addr_of(blo), "block %#" PRIx64 " (chunks [%#" PRIx64 ", +8192)) holds metadata "
                              "but no inUse range touches it", kb, kb << L2_SHIFT);
        for (uint64_t i = kb << 1; i < (kb + 1) << 1; i++) {
            uint64_t lo = i << lvl_shift[0];
            if (pa->root[i] != 0 && (!used || !ranges_intersect(pa, lo, lo + ((uint64_t)1 << lvl_shift[0]))))
                return pa__report(r, "D2", addr_of(lo), "level 0 index %#" PRIx64 " covers no in-use memory but its "
                                  "summary is " SUMF, i, SUMA(pa->root[i]));
        }
    }
    /* D5: searchAddr. */
    if (pa->search != MAX_OFF) {
        uintptr_t sa = addr_of(pa->search);
        if (pa->search & (PAGE - 1))
            return pa__report(r, "D5", sa, "searchAddr %#" PRIxPTR " is not page aligned", sa);
        if (!range_contains(pa, pa->search))
            return pa__report(r, "D5", sa, "searchAddr %#" PRIxPTR " is neither maxOffAddr nor in an inUse range", sa);
        for (k = 0; k < pa->nranges && pa->ranges[k].base < pa->search; k++) {
            uint64_t lim = pa->ranges[k].limit < pa->search ? pa->ranges[k].limit : pa->search;
            for (uint64_t o = pa->ranges[k].base; o < lim; o += CHUNK_BYTES) {
                const pa_chunk *c = chunk_of(pa, o >> CHUNK_SHIFT);
                /* lim and o are page aligned and lim > o, so np >= 1 */
                unsigned np = lim - o >= CHUNK_BYTES ? CHUNK_PAGES : (unsigned)((lim - o) / PAGE);
                if (ga_pallocbits_popcnt_range(c->alloc, 0, np) != np) {
                    unsigned p = 0;
                    while (c->alloc[p / 64] >> (p % 64) & 1)
                        p++;
                    return pa__report(r, "D5", addr_of(o + p * PAGE), "page %#" PRIxPTR " is free but below searchAddr %#"
                                      PRIxPTR, addr_of(o + p * PAGE), sa);
                }
            }
        }
    }
    /* The running counters behind pa_*_pages. */
    if (nalloc != pa->alloc_pages || nscavfree != pa->scav_free_pages || ntotal != pa->total_pages)
        return pa__report(r, "Dcount", 0, "page counters: total %zu alloc %zu scavenged-free %zu, bitmaps say total %zu "
                          "alloc %zu scavenged-free %zu", pa->total_pages, pa->alloc_pages, pa->scav_free_pages,
                          ntotal, nalloc, nscavfree);
    return 0;
}

void pa_dump(const ga_pagealloc *pa, FILE *out)
{
    fprintf(out, "pagealloc: %zu inUse ranges, chunks [%#" PRIx64 ", %#" PRIx64 "), searchAddr %#" PRIxPTR "%s\n",
            pa->nranges, pa->start, pa->end, addr_of(pa->search), pa->search == MAX_OFF ? " (maxOffAddr)" : "");
    fprintf(out, "  pages: total %zu allocated %zu free %zu scavenged-free %zu; metadata %zu bytes; "
            "scavenge cursors force %#" PRIx64 " bg %#" PRIx64 "; block window [%#" PRIx64 ", %#" PRIx64 "]\n",
            pa->total_pages, pa->alloc_pages, pa->total_pages - pa->alloc_pages, pa->scav_free_pages, pa->meta_bytes,
            pa->scav_top_force, pa->scav_top_bg, pa->blk_lo, pa->blk_hi);
    for (size_t k = 0; k < pa->nranges; k++) {
        fprintf(out, "  range [%#" PRIxPTR ", %#" PRIxPTR ") %" PRIu64 " chunks\n", addr_of(pa->ranges[k].base),
                addr_of(pa->ranges[k].limit), (pa->ranges[k].limit - pa->ranges[k].base) >> CHUNK_SHIFT);
        for (uint64_t ci = pa->ranges[k].base >> CHUNK_SHIFT; ci < pa->ranges[k].limit >> CHUNK_SHIFT; ci++) {
            const pa_chunk *c = chunk_of(pa, ci);
            const pa_scidx *x = sci_of(pa, ci);
            ga_pallocsum s = sum_get(pa, GA_SUMMARY_LEVELS - 1, ci);
            unsigned a = 0, sc = 0;
            if (!c) {   /* a corrupted range list: dump what there is */
                fprintf(out, "    chunk %#" PRIx64 " @%#" PRIxPTR ": no block\n", ci, addr_of(ci << CHUNK_SHIFT));
                continue;
            }
            for (unsigned w = 0; w < 8; w++)
                a += pop64(c->alloc[w]), sc += pop64(c->scav[w]);
            fprintf(out, "    chunk %#" PRIx64 " @%#" PRIxPTR ": sum start=%u max=%u end=%u alloc=%u scav=%u "
                    "index inuse=%u%s\n", ci, addr_of(ci << CHUNK_SHIFT), ga_pallocsum_start(s), ga_pallocsum_max(s),
                    ga_pallocsum_end(s), a, sc, x->inuse, (x->flags & SCI_HAS_FREE) ? " hasfree" : "");
        }
    }
}
