/*
 * pagealloc.c — the page allocator (spec §6, scavenging §6.8): which 8 KiB pages of the
 * heap's address space are free, allocated and scavenged.
 *
 * Owns:
 *   - per-chunk (512 pages, 4 MiB) pallocBits + scavenged bitmaps (8 x u64 each, page i is
 *     bit i%64 of word i/64), stored sparsely: l2[ci >> 13] is a block of 8192 chunks (32 GiB
 *     of offset space), made on demand by pa_grow; the per-chunk scavenge-index entry (pages
 *     in use, HasFree) sits in the same block;
 *   - the 5-level radix tree of packed pallocSum summaries. Level 0 (the root: 2^14 entries of
 *     16 GiB) is one flat array inside this struct, because find scans it linearly. Levels 1..4
 *     (2 GiB, 256 MiB, 32 MiB entries and the leaves, one per chunk) live in the block that
 *     covers them: 16, 128, 1024 and 8192 entries per block. A heap then costs metadata in
 *     proportion to the 32 GiB blocks it grew into, not ~600 MB of reserved summary arrays per
 *     pageAlloc (which a process under `ulimit -v` could not even map). Summaries of absent
 *     blocks read as 0 (no free page); find never descends into a 0 summary, so no reader needs
 *     an absent block. Every access goes through sum_ref;
 *   - searchAddr (offset space), the sorted inUse range list (its first 16 slots inline here,
 *     so an empty heap is one os->alloc_meta mapping), the chunk bounds [start, end), the
 *     window of blocks ever made (pa_destroy and pa_verify visit only that), two scavenger
 *     cursors and running page counters.
 * Files: the layout of the structure and its small accessors are in pagealloc_impl.h (private
 * to this file and pagealloc_verify.c); the checker pa_verify and pa_dump are in
 * pagealloc_verify.c.
 * Calls: only the OS layer (alloc_meta / free_meta for metadata, unused when scavenging). It
 * never touches heap pages. The caller holds the heap lock around every call.
 *
 * Invariants kept (spec §10.D, checked by pa_verify):
 *   D1 leaf summary == summarize(pallocBits) for every grown chunk (0 for absent ones);
 *   D2 every inner summary == merge of its 8 children; D3 summary shape (root fully free is
 *      exactly 1<<63);
 *   D4 scavenged & pallocBits == 0;
 *   D5 searchAddr == maxOffAddr, or it lies in inUse and every inUse page below it is allocated;
 *   D6 inUse sorted, disjoint, non-adjacent, chunk aligned; [start, end) = its chunk bounds;
 *      the block window covers every inUse chunk's block, and every block is touched by an
 *      inUse range (a block that is not is leaked metadata);
 *   D8 index in-use count == popcount(pallocBits); HasFree clear => nothing left to scavenge;
 *      the scavenger cursors only skip chunks with nothing (eligible) to scavenge.
 * Cost: alloc/free touch only the chunks of the range and their O(levels) ancestors; nothing
 * scans all chunks except pa_verify and pa_dump (they walk the inUse ranges). Creating,
 * verifying and destroying a small heap touches a handful of metadata pages: pa_new is one
 * mapping, each new block one more.
 *
 * Addresses are compared in "offset space" (addr - arenaBaseOffset, wrapping), like Go's
 * offAddr: every internal address (ranges, searchAddr) is stored as an offset.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pagealloc_impl.h"

static void pa_fatal(const char *what)
{
    fprintf(stderr, "galloc: page allocator: fatal: %s\n", what);
    abort();
}

/* ---- pallocSum (spec §6.2) ---------------------------------------------------------------- */
ga_pallocsum ga_pack_pallocsum(unsigned start, unsigned max, unsigned end)
{
    /* 2^21 does not fit a 21-bit field; only a wholly free root entry has it, and then all
     * three fields are 2^21, so a single flag bit encodes it. */
    if (max == SUM_MAX_PACKED)
        return SUM_ALL_FREE_ROOT;
    return ((uint64_t)start & SUM_MASK) | ((uint64_t)max & SUM_MASK) << 21 | ((uint64_t)end & SUM_MASK) << 42;
}
unsigned ga_pallocsum_start(ga_pallocsum s) { return (s >> 63) ? (unsigned)SUM_MAX_PACKED : (unsigned)(s & SUM_MASK); }
unsigned ga_pallocsum_max(ga_pallocsum s) { return (s >> 63) ? (unsigned)SUM_MAX_PACKED : (unsigned)((s >> 21) & SUM_MASK); }
unsigned ga_pallocsum_end(ga_pallocsum s) { return (s >> 63) ? (unsigned)SUM_MAX_PACKED : (unsigned)((s >> 42) & SUM_MASK); }

/* Length of the longest run of ones in y, in O(log 64): p[k] marks starts of runs of length
 * >= 2^k; then extend greedily by decreasing powers of two. */
static unsigned longest_ones(uint64_t y)
{
    uint64_t p[7];
    unsigned top = 0, n, k;
    if (!y)
        return 0;
    p[0] = y;
    while (top < 6) {
        uint64_t nx = p[top] & (p[top] >> (1u << top));
        if (!nx)
            break;
        p[++top] = nx;
    }
    uint64_t cur = p[top];
    n = 1u << top;
    for (k = top; k-- > 0;) {
        uint64_t t = cur & (p[k] >> n);
        if (t) {
            cur = t;
            n += 1u << k;
        }
    }
    return n;
}

ga_pallocsum ga_palloc_summarize(const uint64_t b[8])
{
    unsigned start = 0, end = 0, best, run = 0, i;
    for (i = 0; i < 8; i++) {
        if (b[i]) {
            start += ctz64(b[i]);
            break;
        }
        start += 64;
    }
    if (start == CHUNK_PAGES)
        return FREE_CHUNK_SUM;
    for (i = 8; i-- > 0;) {
        if (b[i]) {
            end += clz64(b[i]);
            break;
        }
        end += 64;
    }
    best = start > end ? start : end;
    /* run = free pages carried in from the words below. Runs that cross word boundaries are
     * closed at the next set bit; runs strictly inside a word are measured on demand. */
    for (i = 0; i < 8; i++) {
        uint64_t x = b[i];
        if (!x) {
            run += 64;
            continue;
        }
        if (x == ~(uint64_t)0) {   /* common: a fully allocated word closes the carried run */
            if (run > best)
                best = run;
            run = 0;
            continue;
        }
        run += ctz64(x);
        if (run > best)
            best = run;
        if (best < 62) {   /* an inner run is at most 62 long (it needs two set bits) */
            uint64_t inner = ~x;
            inner &= ~((x & (0 - x)) - 1);                   /* drop the run below the lowest set bit */
            inner &= ~(uint64_t)0 >> clz64(x);               /* and the one above the highest */
            if (inner) {
                unsigned r = longest_ones(inner);
                if (r > best)
                    best = r;
            }
        }
        run = clz64(x);
    }
    return ga_pack_pallocsum(start, best, end);
}

/* ---- pallocBits range ops ---------------------------------------------------------------- */
/* Bits of word w inside page range [i, e). */
static inline uint64_t word_mask(unsigned w, unsigned i, unsigned e)
{
    unsigned lo = w * 64, hi = lo + 64;
    unsigned a = i > lo ? i - lo : 0, z = e < hi ? e - lo : 64;
    uint64_t m = ~(uint64_t)0 << a;
    if (z < 64)
        m &= ((uint64_t)1 << z) - 1;
    return m;
}

void ga_pallocbits_set_range(uint64_t bits[8], unsigned i, unsigned n)
{
    for (unsigned w = i / 64, e = i + n; w <= (e - 1) / 64; w++)
        bits[w] |= word_mask(w, i, e);
}
void ga_pallocbits_clear_range(uint64_t bits[8], unsigned i, unsigned n)
{
    for (unsigned w = i / 64, e = i + n; w <= (e - 1) / 64; w++)
        bits[w] &= ~word_mask(w, i, e);
}
unsigned ga_pallocbits_popcnt_range(const uint64_t bits[8], unsigned i, unsigned n)
{
    unsigned c = 0;
    for (unsigned w = i / 64, e = i + n; w <= (e - 1) / 64; w++)
        c += pop64(bits[w] & word_mask(w, i, e));
    return c;
}

/* ---- pallocBits.find (spec §6.6) ------------------------------------------------------- */
unsigned ga_find_bit_range64(uint64_t c, unsigned n)
{
    /* After shrinking by s with c &= c >> s, bit i means "a run of (covered + s) ones starts at
     * i"; doubling s (never beyond what is already covered) needs O(log n) steps. */
    unsigned need, k = 1;
    if (n == 0)
        return 0;
    if (n > 64)
        return 64;
    need = n - 1;
    while (need > 0 && c) {
        unsigned s = need < k ? need : k;
        c &= c >> s;
        need -= s;
        k <<= 1;
    }
    return ctz64(c);
}

static unsigned find1(const uint64_t b[8], unsigned search_idx)
{
    for (unsigned i = search_idx / 64; i < 8; i++)
        if (~b[i])
            return i * 64 + ctz64(~b[i]);
    return ~0u;
}

static unsigned find_small(const uint64_t b[8], unsigned npages, unsigned search_idx, unsigned *nsi)
{
    unsigned end = 0;   /* free pages at the top of the previous word */
    *nsi = ~0u;
    for (unsigned i = search_idx / 64; i < 8; i++) {
        uint64_t x = b[i];
        if (x == ~(uint64_t)0) {
            end = 0;
            continue;
        }
        if (*nsi == ~0u)
            *nsi = i * 64 + ctz64(~x);
        if (end + ctz64(x) >= npages)   /* run straddles into this word */
            return i * 64 - end;
        unsigned j = ga_find_bit_range64(~x, npages);
        if (j < 64)
            return i * 64 + j;
        end = clz64(x);
    }
    return ~0u;
}

static unsigned find_large(const uint64_t b[8], unsigned npages, unsigned search_idx, unsigned *nsi)
{
    unsigned start = ~0u, size = 0;
    *nsi = ~0u;
    for (unsigned i = search_idx / 64; i < 8; i++) {
        uint64_t x = b[i];
        if (x == ~(uint64_t)0) {
            size = 0;
            continue;
        }
        if (*nsi == ~0u)
            *nsi = i * 64 + ctz64(~x);
        if (size == 0) {   /* a run can only begin at the top of a word */
            size = clz64(x);
            start = i * 64 + 64 - size;
            continue;
        }
        unsigned s = ctz64(x);
        if (size + s >= npages) {
            size += s;
            break;
        }
        if (s < 64) {      /* run broken inside this word: restart from its top */
            size = clz64(x);
            start = i * 64 + 64 - size;
            continue;
        }
        size += 64;
    }
    return size >= npages ? start : ~0u;
}

unsigned ga_pallocbits_find(const uint64_t bits[8], unsigned npages, unsigned search_idx, unsigned *new_search_idx)
{
    unsigned dummy;
    if (!new_search_idx)
        new_search_idx = &dummy;
    if (npages == 1) {
        unsigned r = find1(bits, search_idx);
        *new_search_idx = r;
        return r;
    }
    if (npages <= 64)
        return find_small(bits, npages, search_idx, new_search_idx);
    return find_large(bits, npages, search_idx, new_search_idx);
}

/* ---- scavenging helpers (spec §6.8, §11.8) ---------------------------------------------- */
uint64_t ga_fill_aligned(uint64_t x, unsigned m)
{
    /* Low bit of each group, repeated every m bits. */
    static const uint64_t lows[7] = {
        ~(uint64_t)0, 0x5555555555555555ull, 0x1111111111111111ull, 0x0101010101010101ull,
        0x0001000100010001ull, 0x0000000100000001ull, 1,
    };
    unsigned lg, s;
    if (m <= 1)
        return x;
    if (m >= 64)
        return x ? ~(uint64_t)0 : 0;
    lg = (unsigned)__builtin_ctz(m);
    /* OR each group down onto its lowest bit, keep those bits, then spread each back over its
     * group (multiplying by 2^m - 1 cannot carry across groups). */
    for (s = 1; s < m; s <<= 1)
        x |= x >> s;
    x &= lows[lg];
    return x * (((uint64_t)1 << m) - 1);
}

unsigned ga_find_scavenge_candidate(const uint64_t alloc[8], const uint64_t scav[8], unsigned search_idx,
                                    unsigned min_pages, unsigned max_pages, unsigned *npages)
{
    int i;
    unsigned run, end, size, start;
    *npages = 0;
    if (min_pages == 0 || (min_pages & (min_pages - 1)) || min_pages > 64)
        return 0;
    max_pages = max_pages == 0 ? min_pages : (max_pages + min_pages - 1) & ~(min_pages - 1);
    /* Bits here: 1 = not a candidate (allocated or already scavenged), in min_pages groups. */
    for (i = (int)(search_idx / 64); i >= 0; i--)
        if (ga_fill_aligned(scav[i] | alloc[i], min_pages) != ~(uint64_t)0)
            break;
    if (i < 0)
        return 0;
    uint64_t x = ga_fill_aligned(scav[i] | alloc[i], min_pages);
    unsigned top_ones = clz64(~x);          /* non-candidates above the run */
    end = (unsigned)i * 64 + 64 - top_ones; /* run is [end - run, end) */
    uint64_t below = x << top_ones;
    if (below) {
        run = clz64(below);                 /* run ends inside this word */
    } else {
        run = 64 - top_ones;                /* run reaches bit 0: continue in lower words */
        for (int j = i - 1; j >= 0; j--) {
            uint64_t y = ga_fill_aligned(scav[j] | alloc[j], min_pages);
            run += clz64(y);
            if (y)
                break;
        }
    }
    size = run < max_pages ? run : max_pages;
    start = end - size;
    /* Do not split a huge page: if the whole run covers the huge page that start falls in,
     * take all of it (the run's top part is kept as is). */
    {
        unsigned hp = GA_PA_HUGE_PAGE_PAGES;
        unsigned above = (start + hp - 1) & ~(hp - 1);
        if (above <= end) {
            unsigned lowhp = start & ~(hp - 1);
            if (lowhp >= end - run) {
                size += start - lowhp;
                start = lowhp;
            }
        }
    }
    *npages = size;
    return start;
}

/* ---- summaries: update (spec §6.7) ------------------------------------------------------ */
static void update(ga_pagealloc *pa, uint64_t off, size_t npages, bool contig, bool alloc)
{
    uint64_t last = off + npages * PAGE - 1;
    uint64_t sc = off >> CHUNK_SHIFT, ec = last >> CHUNK_SHIFT, c;
    const unsigned LEAF = GA_SUMMARY_LEVELS - 1;
    /* Every chunk here was grown, so its block (and the ancestors' blocks) exist. */
    if (sc == ec) {
        ga_pallocsum s = ga_palloc_summarize(chunk_of(pa, sc)->alloc), *lp = sum_ref(pa, LEAF, sc);
        if (*lp == s)
            return;   /* nothing above can change */
        *lp = s;
    } else if (contig) {
        /* Only the end chunks are partial; the middle ones are wholly (de)allocated. */
        *sum_ref(pa, LEAF, sc) = ga_palloc_summarize(chunk_of(pa, sc)->alloc);
        for (c = sc + 1; c < ec; c++)
            *sum_ref(pa, LEAF, c) = alloc ? 0 : FREE_CHUNK_SUM;
        *sum_ref(pa, LEAF, ec) = ga_palloc_summarize(chunk_of(pa, ec)->alloc);
    } else {
        for (c = sc; c <= ec; c++)
            *sum_ref(pa, LEAF, c) = ga_palloc_summarize(chunk_of(pa, c)->alloc);
    }
    for (int l = GA_SUMMARY_LEVELS - 2; l >= 0; l--) {
        uint64_t lo = off >> lvl_shift[l], hi = last >> lvl_shift[l];
        bool changed = false;
        for (uint64_t i = lo; i <= hi; i++) {
            ga_pallocsum s = merge8(sum_ref(pa, (unsigned)l + 1, i << 3), lvl_logpages[l + 1], pa->plant);
            ga_pallocsum *p = sum_ref(pa, (unsigned)l, i);
            if (s != *p) {
                *p = s;
                changed = true;
            }
        }
        if (!changed)   /* the levels above only read this one */
            break;
    }
}

/* ---- inUse ranges (spec §6.4, mranges.go): range_upper, range_contains, ranges_intersect
 * are in pagealloc_impl.h (the checker uses them too) ------------------------------------ */
/* findMappedAddr: the lowest in-use address >= off, or maxOffAddr. */
static uint64_t mapped_at_or_above(const ga_pagealloc *pa, uint64_t off)
{
    size_t i = range_upper(pa, off);
    if (i == pa->nranges)
        return MAX_OFF;
    return pa->ranges[i].base > off ? pa->ranges[i].base : off;
}

/* ---- scavenge index (spec §6.8) ---------------------------------------------------------- */
static inline void index_alloc(ga_pagealloc *pa, uint64_t ci, unsigned n)
{
    pa_scidx *x = sci_of(pa, ci);
    x->inuse = (uint16_t)(x->inuse + n);
    if (x->inuse == CHUNK_PAGES)
        x->flags &= (uint16_t)~SCI_HAS_FREE;
}

static inline void index_free(ga_pagealloc *pa, uint64_t ci, unsigned n)
{
    pa_scidx *x = sci_of(pa, ci);
    x->inuse = (uint16_t)(x->inuse - n);
    x->flags |= SCI_HAS_FREE;
    /* The freed pages are new scavenging work: make both cursors see this chunk again. */
    if (pa->scav_top_force <= ci)
        pa->scav_top_force = ci + 1;
    if (pa->scav_top_bg <= ci)
        pa->scav_top_bg = ci + 1;
}

/* ---- allocRange / free (spec §6.7) ------------------------------------------------------- */
static size_t alloc_range(ga_pagealloc *pa, uint64_t off, size_t npages)
{
    uint64_t ci = off >> CHUNK_SHIFT;
    unsigned pi = off_page(off);
    size_t left = npages, scav = 0;
    while (left) {
        unsigned n = left < CHUNK_PAGES - pi ? (unsigned)left : CHUNK_PAGES - pi;
        unsigned e = pi + n;
        pa_chunk *c = chunk_of(pa, ci);
        for (unsigned w = pi / 64; w <= (e - 1) / 64; w++) {
            uint64_t m = word_mask(w, pi, e), sm = c->scav[w] & m;
            if (sm) {
                scav += pop64(sm);
                c->scav[w] &= ~m;   /* allocated pages are never scavenged (D4) */
            }
            c->alloc[w] |= m;
        }
        index_alloc(pa, ci, n);
        left -= n;
        ci++;
        pi = 0;
    }
    update(pa, off, npages, true, true);
    pa->alloc_pages += npages;
    pa->scav_free_pages -= scav;
    return scav * PAGE;
}

static void free_range(ga_pagealloc *pa, uint64_t off, size_t npages)
{
    uint64_t ci = off >> CHUNK_SHIFT;
    unsigned pi = off_page(off);
    size_t left = npages;
    if (off < pa->search)
        pa->search = off;
    while (left) {
        unsigned n = left < CHUNK_PAGES - pi ? (unsigned)left : CHUNK_PAGES - pi;
        unsigned e = pi + n;
        pa_chunk *c = chunk_of(pa, ci);
        if (!c)   /* the heap handed back pages this allocator never had */
            pa_fatal("free of pages outside every grown chunk");
        for (unsigned w = pi / 64; w <= (e - 1) / 64; w++)
            c->alloc[w] &= ~word_mask(w, pi, e);   /* scavenged bits stay as they are */
        index_free(pa, ci, n);
        left -= n;
        ci++;
        pi = 0;
    }
    update(pa, off, npages, true, false);
    pa->alloc_pages -= npages;
}

/* ---- find (spec §6.5) ------------------------------------------------------------------- */
typedef struct { uint64_t base, bound; } pa_window;   /* inclusive, offsets */

static void found_free(pa_window *w, uint64_t addr, uint64_t size)
{
    uint64_t last = addr + size - 1;
    if (w->base <= addr && last <= w->bound) {
        w->base = addr;
        w->bound = last;
    } else if (!(last < w->base || addr > w->bound)) {
        pa_fatal("find: free range partially overlaps the firstFree window");
    }
}

/* Radix walk: the lowest run of npages free pages at or after searchAddr's position. On
 * success *addr is its offset and *cand a new searchAddr candidate (every mapped page below
 * it is allocated). */
static bool find(const ga_pagealloc *pa, size_t npages, uint64_t *addr, uint64_t *cand)
{
    uint64_t i = 0;
    pa_window ff = {0, MAX_OFF};
    unsigned l;
    for (l = 0; l < GA_SUMMARY_LEVELS; l++) {
        uint64_t nent = (uint64_t)1 << lvl_bits[l];
        unsigned logp = lvl_logpages[l];
        uint64_t cap = (uint64_t)1 << logp;
        uint64_t j0 = 0, jend = nent, j, size = 0, base = 0;
        bool descend = false;
        i <<= lvl_bits[l];
        uint64_t sidx = pa->search >> lvl_shift[l];
        if ((sidx & ~(nent - 1)) == i)
            j0 = sidx & (nent - 1);   /* entries before searchAddr are full */
        if (l == 0 && pa->end > 0) {
            /* Root entries past the last grown chunk are all 0: stop there instead of
             * scanning all 16384 (same answer). */
            uint64_t lim = (((pa->end - 1) << CHUNK_SHIFT) >> lvl_shift[0]) + 1;
            if (lim < jend)
                jend = lim;
        }
        /* Entry i + j, j < jend: at level 0 the root, below it the 8 children of the entry
         * chosen above (nonzero, so its block exists; zeros otherwise, and then the fatal
         * check below fires instead of a crash). */
        const ga_pallocsum *row = sum_row(pa, l, i);
        for (j = j0; j < jend; j++) {
            ga_pallocsum s = row[j];
            if (s == 0) {
                size = 0;
                continue;
            }
            found_free(&ff, (i + j) << lvl_shift[l], cap * PAGE);
            uint64_t st = ga_pallocsum_start(s);
            if (size + st >= npages) {   /* the run reaching into this entry is enough */
                if (size == 0)
                    base = j << logp;
                size += st;
                break;
            }
            if (ga_pallocsum_max(s) >= npages) {   /* it fits inside: go down */
                i += j;
                descend = true;
                break;
            }
            if (size == 0 || st < cap) {   /* restart from this entry's free tail */
                size = ga_pallocsum_end(s);
                base = ((j + 1) << logp) - size;
                continue;
            }
            size += cap;   /* wholly free entry extends the run */
        }
        if (descend)
            continue;
        if (size >= npages) {
            *addr = (i << lvl_shift[l]) + base * PAGE;
            *cand = mapped_at_or_above(pa, ff.base);
            return true;
        }
        if (l == 0)
            return false;
        pa_fatal("find: summary promised a run that its children do not have");
    }
    const pa_chunk *c = chunk_of(pa, i);
    unsigned nsi = 0, j = c ? ga_pallocbits_find(c->alloc, (unsigned)npages, 0, &nsi) : ~0u;
    if (j == ~0u)
        pa_fatal("find: leaf summary promised a run the bitmap does not have");
    *addr = (i << CHUNK_SHIFT) + j * PAGE;
    found_free(&ff, (i << CHUNK_SHIFT) + nsi * PAGE, PAGE);
    *cand = mapped_at_or_above(pa, ff.base);
    return true;
}

/* ---- life cycle ------------------------------------------------------------------------- */
static void meta_free(ga_pagealloc *pa, void *p, size_t n)
{
    pa->os->free_meta(pa->os->ctx, p, n);
    pa->meta_bytes -= n;
}

void pa_set_plant(ga_pagealloc *pa, int on) { pa->plant = on != 0; }

ga_pagealloc *pa_new(const ga_os *os)
{
    /* alloc_meta returns zeroed memory (ga_os contract), which is the right initial value of
     * everything not set below: no memset, so the ~190 KiB of root and l2[] stay untouched
     * (and uncommitted) except where the heap grows. */
    ga_pagealloc *pa = os->alloc_meta(os->ctx, sizeof *pa);
    if (!pa) {
        errno = ENOMEM;
        return NULL;
    }
    pa->os = os;
    pa->meta_bytes = sizeof *pa;
    pa->search = MAX_OFF;
    pa->ranges = pa->ranges_inline;
    pa->rcap = RANGES_INIT_CAP;
    pa->blk_lo = L1_ENTRIES;   /* empty block window */
    pa->blk_hi = 0;
    return pa;
}

void pa_destroy(ga_pagealloc *pa)
{
    if (!pa)
        return;
    const ga_os *os = pa->os;
    for (uint64_t k = pa->blk_lo; k <= pa->blk_hi; k++)
        if (pa->l2[k])
            meta_free(pa, pa->l2[k], sizeof(pa_l2));
    if (pa->ranges != pa->ranges_inline)
        meta_free(pa, pa->ranges, pa->rcap * sizeof(pa_range));
    os->free_meta(os->ctx, pa, sizeof *pa);
}

/* Makes the block window cover block k. */
static void blk_widen(ga_pagealloc *pa, uint64_t k)
{
    if (k < pa->blk_lo)
        pa->blk_lo = k;
    if (k > pa->blk_hi)
        pa->blk_hi = k;
}

size_t pa_meta_bytes(const ga_pagealloc *pa) { return pa->meta_bytes; }

int pa_grow(ga_pagealloc *pa, uintptr_t base, size_t size)
{
    if (size == 0)
        return 0;
    uint64_t b = off_of(base);
    uint64_t lo = b & ~(CHUNK_BYTES - 1);
    if (b >= OFF_LIMIT || size > OFF_LIMIT - b) {
        errno = EINVAL;
        return -1;
    }
    uint64_t hi = (b + size + CHUNK_BYTES - 1) & ~(CHUNK_BYTES - 1);
    if (ranges_intersect(pa, lo, hi)) {   /* growing memory twice would corrupt everything */
        errno = EINVAL;
        return -1;
    }
    /* All metadata first, so a failure leaves the state untouched. */
    uint64_t k_lo = lo >> BLK_SHIFT, k_hi = (hi - 1) >> BLK_SHIFT, k;
    for (k = k_lo; k <= k_hi; k++) {
        if (pa->l2[k])
            continue;
        pa->l2[k] = pa->os->alloc_meta(pa->os->ctx, sizeof(pa_l2));
        if (!pa->l2[k])
            goto nomem;
        pa->meta_bytes += sizeof(pa_l2);
        blk_widen(pa, k);   /* kept on failure too: the window only has to contain every block */
    }
    size_t at = range_upper(pa, lo);   /* first range above lo; at-1 is below */
    bool join_prev = at > 0 && pa->ranges[at - 1].limit == lo;
    bool join_next = at < pa->nranges && pa->ranges[at].base == hi;
    if (!join_prev && !join_next && pa->nranges == pa->rcap) {
        size_t ncap = pa->rcap * 2;
        pa_range *nr = pa->os->alloc_meta(pa->os->ctx, ncap * sizeof(pa_range));
        if (!nr)
            goto nomem;
        memcpy(nr, pa->ranges, pa->nranges * sizeof(pa_range));
        if (pa->ranges != pa->ranges_inline)
            meta_free(pa, pa->ranges, pa->rcap * sizeof(pa_range));
        pa->meta_bytes += ncap * sizeof(pa_range);
        pa->ranges = nr;
        pa->rcap = ncap;
    }
    /* Commit. */
    if (join_prev && join_next) {
        pa->ranges[at - 1].limit = pa->ranges[at].limit;
        memmove(&pa->ranges[at], &pa->ranges[at + 1], (pa->nranges - at - 1) * sizeof(pa_range));
        pa->nranges--;
    } else if (join_prev) {
        pa->ranges[at - 1].limit = hi;
    } else if (join_next) {
        pa->ranges[at].base = lo;
    } else {
        memmove(&pa->ranges[at + 1], &pa->ranges[at], (pa->nranges - at) * sizeof(pa_range));
        pa->ranges[at].base = lo;
        pa->ranges[at].limit = hi;
        pa->nranges++;
    }
    pa->start = pa->ranges[0].base >> CHUNK_SHIFT;
    pa->end = pa->ranges[pa->nranges - 1].limit >> CHUNK_SHIFT;
    if (lo < pa->search)
        pa->search = lo;
    for (uint64_t ci = lo >> CHUNK_SHIFT; ci < hi >> CHUNK_SHIFT; ci++) {
        pa_chunk *c = chunk_of(pa, ci);
        memset(c->alloc, 0, sizeof c->alloc);
        memset(c->scav, 0xff, sizeof c->scav);   /* new memory counts as released */
        *sci_of(pa, ci) = (pa_scidx){0, 0};      /* nothing to scavenge in it */
    }
    size_t np = (size_t)((hi - lo) / PAGE);
    pa->total_pages += np;
    pa->scav_free_pages += np;
    update(pa, lo, np, true, false);
    return 0;
nomem:
    /* Give back the blocks made by this call: those no inUse range touches. */
    for (uint64_t j = k_lo; j <= k_hi; j++) {
        uint64_t blo = j << BLK_SHIFT, bhi = blo + ((uint64_t)1 << BLK_SHIFT);
        if (pa->l2[j] && !ranges_intersect(pa, blo, bhi)) {
            meta_free(pa, pa->l2[j], sizeof(pa_l2));
            pa->l2[j] = NULL;
        }
    }
    errno = ENOMEM;
    return -1;
}

/* ---- alloc / free (spec §6.6) ---------------------------------------------------------- */
uintptr_t pa_alloc(ga_pagealloc *pa, size_t npages, size_t *scav_bytes)
{
    uint64_t so = pa->search, ci = so >> CHUNK_SHIFT, addr, cand;
    if (scav_bytes)
        *scav_bytes = 0;
    if (npages == 0 || ci >= pa->end)
        return 0;
    unsigned pi = off_page(so);
    if (CHUNK_PAGES - pi >= npages && ga_pallocsum_max(sum_get(pa, GA_SUMMARY_LEVELS - 1, ci)) >= npages) {
        /* Fast path: the run is in searchAddr's own chunk. */
        const pa_chunk *c = chunk_of(pa, ci);
        unsigned nsi = 0, j = c ? ga_pallocbits_find(c->alloc, (unsigned)npages, pi, &nsi) : ~0u;
        if (j == ~0u)
            pa_fatal("alloc: leaf summary promised a run the bitmap does not have");
        addr = (ci << CHUNK_SHIFT) + j * PAGE;
        cand = (ci << CHUNK_SHIFT) + nsi * PAGE;
    } else if (!find(pa, npages, &addr, &cand)) {
        if (npages == 1)   /* not even one page: the heap is exhausted */
            pa->search = MAX_OFF;
        return 0;
    }
    size_t sb = alloc_range(pa, addr, npages);
    if (pa->search < cand)
        pa->search = cand;
    if (scav_bytes)
        *scav_bytes = sb;
    return addr_of(addr);
}

void pa_free(ga_pagealloc *pa, uintptr_t base, size_t npages)
{
    if (npages == 0)
        return;
    free_range(pa, off_of(base), npages);
}

/* ---- scavenging (spec §6.8) ------------------------------------------------------------- */
/* Next chunk below the mode's cursor worth scavenging, highest first; moves the cursor past
 * chunks it skips. Returns false when none is left. */
static bool scav_next_chunk(ga_pagealloc *pa, bool force, uint64_t *out)
{
    uint64_t *top = force ? &pa->scav_top_force : &pa->scav_top_bg;
    /* Ranges below index r lie wholly under the cursor; range r may straddle it. */
    size_t r = range_upper(pa, *top << CHUNK_SHIFT);
    if (r < pa->nranges)
        r++;
    while (r-- > 0) {
        uint64_t lo = pa->ranges[r].base >> CHUNK_SHIFT, hi = pa->ranges[r].limit >> CHUNK_SHIFT;
        if (hi > *top)
            hi = *top;
        for (uint64_t ci = hi; ci-- > lo;) {
            const pa_scidx *x = sci_of(pa, ci);
            if (!(x->flags & SCI_HAS_FREE)) {
                *top = ci;
                if (force && pa->scav_top_bg > ci)   /* force's rule implies bg's */
                    pa->scav_top_bg = ci;
                continue;
            }
            if (!force && x->inuse >= GA_SCAV_CHUNK_HI_OCC_PAGES) {
                *top = ci;   /* dense: background scavenging leaves it alone */
                continue;
            }
            *out = ci;
            return true;
        }
    }
    *top = 0;
    return false;
}

size_t pa_scavenge(ga_pagealloc *pa, size_t nbytes, bool force)
{
    size_t want = nbytes / PAGE + (nbytes % PAGE != 0), got = 0;
    uint64_t ci;
    while (got < want && scav_next_chunk(pa, force, &ci)) {
        pa_chunk *c = chunk_of(pa, ci);
        size_t left = want - got;
        unsigned n, st = ga_find_scavenge_candidate(c->alloc, c->scav, CHUNK_PAGES - 1, 1,
                                                    left < CHUNK_PAGES ? (unsigned)left : CHUNK_PAGES, &n);
        if (n == 0) {   /* nothing left here: the next look moves the cursor past it */
            sci_of(pa, ci)->flags &= (uint16_t)~SCI_HAS_FREE;
            continue;
        }
        uintptr_t a = addr_of((ci << CHUNK_SHIFT) + st * PAGE);
        /* The heap lock is held throughout, so nobody can take these pages meanwhile; Go's
         * alloc-then-free-back dance reduces to setting the scavenged bits on success. */
        if (pa->os->unused(pa->os->ctx, (void *)a, (size_t)n * PAGE) != 0)
            break;   /* the OS refused: pages stay unscavenged, stop */
        ga_pallocbits_set_range(c->scav, st, n);
        pa->scav_free_pages += n;
        got += n;
    }
    return got * PAGE;
}

void pa_free_scavenged(ga_pagealloc *pa, uintptr_t base, size_t npages)
{
    pa_free(pa, base, npages);
    for (size_t i = 0; i < npages; i++) {
        uint64_t *aw, *sw;
        uintptr_t p = base + i * PAGE;
        if (!pa__words(pa, p, &aw, &sw))
            continue;
        uint64_t bit = (uint64_t)1 << (off_page(off_of(p)) % 64);
        if (!(*sw & bit)) {
            *sw |= bit;
            pa->scav_free_pages++;
        }
    }
}

/* ---- page-cache support (private to pagecache.c) ---------------------------------------- */
bool pa__words(ga_pagealloc *pa, uintptr_t addr, uint64_t **alloc_word, uint64_t **scav_word)
{
    uint64_t off = off_of(addr);
    if (off >= OFF_LIMIT)
        return false;
    pa_chunk *c = chunk_of(pa, off >> CHUNK_SHIFT);
    if (!c)
        return false;
    unsigned w = off_page(off) / 64;
    *alloc_word = &c->alloc[w];
    *scav_word = &c->scav[w];
    return true;
}

uintptr_t pa__cache_first_free(ga_pagealloc *pa)
{
    uint64_t so = pa->search, ci = so >> CHUNK_SHIFT, addr, cand;
    if (ci >= pa->end)
        return 0;
    if (sum_get(pa, GA_SUMMARY_LEVELS - 1, ci) != 0) {
        unsigned j = find1(chunk_of(pa, ci)->alloc, off_page(so));
        if (j == ~0u)
            pa_fatal("allocToCache: leaf summary says free but the bitmap is full");
        return addr_of((ci << CHUNK_SHIFT) + j * PAGE);
    }
    if (!find(pa, 1, &addr, &cand)) {
        pa->search = MAX_OFF;
        return 0;
    }
    return addr_of(addr);
}

void pa__cache_took(ga_pagealloc *pa, uintptr_t base, unsigned npages, unsigned nscav)
{
    uint64_t off = off_of(base);
    update(pa, off, GA_PAGE_CACHE_PAGES, false, true);
    index_alloc(pa, off >> CHUNK_SHIFT, npages);
    pa->alloc_pages += npages;
    pa->scav_free_pages -= nscav;
    pa->search = off + (GA_PAGE_CACHE_PAGES - 1) * PAGE;
}

void pa__cache_returned(ga_pagealloc *pa, uintptr_t base, unsigned npages, unsigned nscav)
{
    uint64_t off = off_of(base);
    if (npages)
        index_free(pa, off >> CHUNK_SHIFT, npages);
    pa->alloc_pages -= npages;
    pa->scav_free_pages += nscav;
    if (off < pa->search)
        pa->search = off;
    update(pa, off, GA_PAGE_CACHE_PAGES, false, false);
}

/* ---- queries ---------------------------------------------------------------------------- */
size_t pa_free_pages(const ga_pagealloc *pa) { return pa->total_pages - pa->alloc_pages; }
size_t pa_scavenged_free_pages(const ga_pagealloc *pa) { return pa->scav_free_pages; }
size_t pa_alloc_pages(const ga_pagealloc *pa) { return pa->alloc_pages; }
size_t pa_total_pages(const ga_pagealloc *pa) { return pa->total_pages; }

static const pa_chunk *chunk_at(const ga_pagealloc *pa, uintptr_t addr, unsigned *page)
{
    uint64_t off = off_of(addr);
    if (off >= OFF_LIMIT)
        return NULL;
    *page = off_page(off);
    return chunk_of(pa, off >> CHUNK_SHIFT);
}

bool pa_page_allocated(const ga_pagealloc *pa, uintptr_t addr)
{
    unsigned p;
    const pa_chunk *c = chunk_at(pa, addr, &p);
    return c && (c->alloc[p / 64] >> (p % 64) & 1);
}

bool pa_page_scavenged(const ga_pagealloc *pa, uintptr_t addr)
{
    unsigned p;
    const pa_chunk *c = chunk_at(pa, addr, &p);
    return c && (c->scav[p / 64] >> (p % 64) & 1);
}

bool pa_contains(const ga_pagealloc *pa, uintptr_t addr) { return range_contains(pa, off_of(addr)); }

uintptr_t pa_first_unallocated(const ga_pagealloc *pa, uintptr_t addr, size_t npages)
{
    uint64_t off = off_of(addr), end = off + (uint64_t)npages * PAGE;
    if (npages == 0)
        return 0;
    if (end > OFF_LIMIT || end < off)   /* past the offset space (or wrapped): no range is there */
        return addr;
    /* inUse ranges are sorted and never adjacent (D6): one range holds the run, or the
     * run leaves it at its limit */
    size_t i = range_upper(pa, off);
    if (i == pa->nranges || pa->ranges[i].base > off)
        return addr;
    uint64_t lim = pa->ranges[i].limit < end ? pa->ranges[i].limit : end;
    /* allocated bits of [off, lim), chunk by chunk, a word at a time */
    while (off < lim) {
        const pa_chunk *c = chunk_of(pa, off >> CHUNK_SHIFT);
        unsigned p = off_page(off);
        uint64_t cend = (off | (CHUNK_BYTES - 1)) + 1;
        unsigned e = cend <= lim ? CHUNK_PAGES : off_page(lim);
        if (!c)
            return addr_of(off);
        for (unsigned w = p / 64; w <= (e - 1) / 64; w++) {
            uint64_t missing = ~c->alloc[w] & word_mask(w, p, e);
            if (missing)
                return addr_of((off & ~(CHUNK_BYTES - 1)) + (uint64_t)(w * 64 + (unsigned)__builtin_ctzll(missing)) * PAGE);
        }
        off = cend <= lim ? cend : lim;
    }
    return lim < end ? addr_of(lim) : 0;
}
uintptr_t pa_search_addr(const ga_pagealloc *pa) { return addr_of(pa->search); }

void pa_for_each_range(const ga_pagealloc *pa, void (*fn)(void *ctx, uintptr_t base, uintptr_t limit), void *ctx)
{
    for (size_t i = 0; i < pa->nranges; i++)
        fn(ctx, addr_of(pa->ranges[i].base), addr_of(pa->ranges[i].limit));
}

/* ---- test hooks ------------------------------------------------------------------------ */
int pa_test_set_chunk(ga_pagealloc *pa, uintptr_t chunk_base, const uint64_t alloc[8], const uint64_t scav[8])
{
    uint64_t off = off_of(chunk_base) & ~(CHUNK_BYTES - 1), ci = off >> CHUNK_SHIFT;
    if (!range_contains(pa, off) && pa_grow(pa, addr_of(off), CHUNK_BYTES) != 0)
        return -1;
    pa_chunk *c = chunk_of(pa, ci);
    unsigned olda = 0, oldsf = 0, newa = 0, newsf = 0;
    for (unsigned w = 0; w < 8; w++) {
        olda += pop64(c->alloc[w]);
        oldsf += pop64(c->scav[w] & ~c->alloc[w]);
        c->alloc[w] = alloc ? alloc[w] : 0;
        c->scav[w] = (scav ? scav[w] : 0) & ~c->alloc[w];   /* allocRange clears scav below it */
        newa += pop64(c->alloc[w]);
        newsf += pop64(c->scav[w]);
    }
    /* Index as after "alloc all, free all", then the alloc ranges. */
    pa_scidx *x = sci_of(pa, ci);
    x->inuse = 0;
    index_free(pa, ci, 0);
    if (newa)
        index_alloc(pa, ci, newa);
    pa->alloc_pages = pa->alloc_pages - olda + newa;
    pa->scav_free_pages = pa->scav_free_pages - oldsf + newsf;
    if (off < pa->search)
        pa->search = off;
    update(pa, off, CHUNK_PAGES, false, false);
    return 0;
}

uint64_t *pa_test_chunk_bits(ga_pagealloc *pa, uintptr_t chunk_base, bool scav)
{
    pa_chunk *c = chunk_of(pa, off_of(chunk_base) >> CHUNK_SHIFT);
    return c ? (scav ? c->scav : c->alloc) : NULL;
}

size_t pa_test_summary_index(unsigned level, uintptr_t addr) { return (size_t)(off_of(addr) >> lvl_shift[level]); }
/* True if (level, index) names a summary: level < 5, index < 2^(14 + 3 level). */
static bool sum_valid(unsigned level, size_t index)
{
    return level < GA_SUMMARY_LEVELS && (uint64_t)index >> (lvl_bits[0] + 3 * level) == 0;
}
/* Any summary: 0 for those of blocks never grown (what find sees) and for invalid indices. */
ga_pallocsum pa_test_get_summary(const ga_pagealloc *pa, unsigned level, size_t index)
{
    return sum_valid(level, index) ? sum_get(pa, level, index) : 0;
}
/* Levels 1..4 exist only in grown blocks: a write to an absent block (or an invalid index) is
 * dropped, and get keeps returning 0. A root entry is always written; the block window grows
 * to include it, so that pa_verify looks at it. */
void pa_test_set_summary(ga_pagealloc *pa, unsigned level, size_t index, ga_pallocsum v)
{
    ga_pallocsum *p = sum_valid(level, index) ? sum_ref(pa, level, index) : NULL;
    if (!p)
        return;
    if (level == 0)
        blk_widen(pa, index >> lvl_blk_bits[0]);
    *p = v;
}
void pa_test_set_search_addr(ga_pagealloc *pa, uintptr_t addr) { pa->search = off_of(addr); }
void pa_test_skew_alloc_pages(ga_pagealloc *pa, long delta) { pa->alloc_pages = (size_t)((long)pa->alloc_pages + delta); }

void pa_test_get_index(const ga_pagealloc *pa, uintptr_t chunk_base, unsigned *inuse, bool *has_free)
{
    const pa_scidx *x = sci_of(pa, off_of(chunk_base) >> CHUNK_SHIFT);
    *inuse = x ? x->inuse : 0;
    *has_free = x && (x->flags & SCI_HAS_FREE);
}

void pa_test_set_index(ga_pagealloc *pa, uintptr_t chunk_base, unsigned inuse, bool has_free)
{
    pa_scidx *x = sci_of(pa, off_of(chunk_base) >> CHUNK_SHIFT);
    if (x) {
        x->inuse = (uint16_t)inuse;
        x->flags = has_free ? SCI_HAS_FREE : 0;
    }
}

void pa_test_set_range(ga_pagealloc *pa, size_t i, uintptr_t base, uintptr_t limit)
{
    if (i < pa->nranges) {
        pa->ranges[i].base = off_of(base);
        pa->ranges[i].limit = off_of(limit);
    }
}

void pa_test_set_bounds(ga_pagealloc *pa, uint64_t start_ci, uint64_t end_ci)
{
    pa->start = start_ci;
    pa->end = end_ci;
}
