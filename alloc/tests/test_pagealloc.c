/*
 * test_pagealloc.c — unit tests of the page allocator and the page cache (pagealloc.c,
 * pagecache.c; spec §6, §7, §10.D, §11.1-§11.8).
 *
 * Runs against a fake in-memory OS layer (pa_fixture.h: metadata from anonymous MAP_NORESERVE
 * mappings, sysUnused only recorded, failures injectable), so no heap page is ever mapped: the page
 * allocator must not touch heap memory. States are built at chunk B = 0x200c000
 * (chunkBase(B) = 0x3000000000) the way Go's NewPageAlloc does (pa_test_set_chunk).
 *
 * Covered: every Go test vector of §11.1-§11.7 and the §11.8 scavenger vectors; summaries
 * against a slow reference; the checker catching corruption at every level; metadata
 * failures and metadata size (a small heap must not cost summary arrays for the whole
 * address space); memory grown in far-apart 32 GiB blocks up to the top of the 48-bit offset
 * space; a randomized differential test against a flat bitmap with address-ordered first
 * fit; and a quick benchmark of pa_alloc / pa_free.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "check.h"
#include "pagealloc.h"
#include "pa_fixture.h"

#define PG ((uintptr_t)GA_PAGE_SIZE)
#define CHUNKB ((uintptr_t)GA_PALLOC_CHUNK_BYTES)
#define P 512u
#define B ((uint64_t)0x200c000)
#define ALL ~(uint64_t)0

static uintptr_t chunk_base(uint64_t ci) { return (uintptr_t)((ci << 22) + (uint64_t)GA_ARENA_BASE_OFFSET); }
static uintptr_t PB(uint64_t ci, unsigned i) { return chunk_base(ci) + i * PG; }

/* ---- fake OS: metadata mappings only, unused logged, failures injectable (pa_fixture.h) ------ */
static ga_meta_os g_fos;

static void fos_reset(void) { ga_meta_os_reset(&g_fos, NULL, false); }

static ga_pagealloc *new_pa(void)
{
    ga_pagealloc *pa = pa_new(&g_fos.os);
    if (!pa) {
        perror("pa_new");
        exit(2);
    }
    return pa;
}

static void destroy_pa(ga_pagealloc *pa)
{
    /* pa_destroy must give back exactly what pa_meta_bytes says it holds */
    size_t before = g_fos.live_bytes, m = pa_meta_bytes(pa);
    pa_destroy(pa);
    CHECK(before - g_fos.live_bytes == m, "pa_destroy released %zu bytes, pa_meta_bytes said %zu",
          before - g_fos.live_bytes, m);
}

static void all_released(const char *where)
{
    CHECK(g_fos.live_bytes == 0 && g_fos.live_blocks == 0, "%s: %zu metadata bytes in %zu blocks still held", where,
          g_fos.live_bytes, g_fos.live_blocks);
}

static void verify_ok(const ga_pagealloc *pa, const char *where)
{
    ga_report r;
    int rc = pa_verify(pa, &r);
    CHECK(rc == 0, "%s: pa_verify: %s %s", where, r.invariant, r.message);
}

/* ---- building states (NewPageAlloc, spec §6.9) ----------------------------------------- */
typedef struct { unsigned i, n; } br;   /* bit range [i, i+n); n == 0 ends a list */
#define NBR 8
/* One chunk of a test: alloc before, requested scav, alloc after (scav after = the same
 * request, cleared under allocated pages, exactly as Go's tests build the "want" state). */
typedef struct { uint64_t ci; br a[NBR]; br s[NBR]; br after[NBR]; } cst;
#define NCST 8

static void mkbits(uint64_t w[8], const br *r)
{
    memset(w, 0, 8 * sizeof *w);
    for (int k = 0; k < NBR && r[k].n; k++)
        ga_pallocbits_set_range(w, r[k].i, r[k].n);
}

static ga_pagealloc *build(const cst *v, bool after)
{
    ga_pagealloc *pa = new_pa();
    for (int k = 0; k < NCST && v[k].ci; k++) {
        uint64_t a[8], s[8];
        mkbits(a, after ? v[k].after : v[k].a);
        mkbits(s, v[k].s);
        CHECK(pa_test_set_chunk(pa, chunk_base(v[k].ci), a, s) == 0, "set_chunk %#" PRIx64, v[k].ci);
    }
    verify_ok(pa, after ? "build(after)" : "build(before)");
    return pa;
}

typedef struct { uintptr_t b[64], l[64]; size_t n; } rlist;
static void collect(void *ctx, uintptr_t b, uintptr_t l)
{
    rlist *r = ctx;
    if (r->n < 64) {
        r->b[r->n] = b;
        r->l[r->n] = l;
    }
    r->n++;
}

/* checkPageAlloc: same ranges, same alloc and scav bits in every chunk. */
static void compare_pa(const char *name, ga_pagealloc *got, ga_pagealloc *want)
{
    rlist rg = {0}, rw = {0};
    pa_for_each_range(got, collect, &rg);
    pa_for_each_range(want, collect, &rw);
    CHECK(rg.n == rw.n, "%s: %zu ranges, want %zu", name, rg.n, rw.n);
    for (size_t k = 0; k < rg.n && k < rw.n && k < 64; k++) {
        CHECK(rg.b[k] == rw.b[k] && rg.l[k] == rw.l[k], "%s: range %zu [%#" PRIxPTR ",%#" PRIxPTR ") want [%#" PRIxPTR
              ",%#" PRIxPTR ")", name, k, rg.b[k], rg.l[k], rw.b[k], rw.l[k]);
        for (uintptr_t c = rw.b[k]; c < rw.l[k]; c += CHUNKB) {
            for (int sc = 0; sc < 2; sc++) {
                uint64_t *g = pa_test_chunk_bits(got, c, sc), *w = pa_test_chunk_bits(want, c, sc);
                if (!g || !w) {
                    CHECK(0, "%s: chunk %#" PRIxPTR " missing", name, c);
                    continue;
                }
                for (int i = 0; i < 8; i++)
                    CHECK(g[i] == w[i], "%s: chunk %#" PRIxPTR " %s word %d = %#" PRIx64 ", want %#" PRIx64, name, c,
                          sc ? "scav" : "alloc", i, g[i], w[i]);
            }
        }
    }
    CHECK_EQ(pa_alloc_pages(got), pa_alloc_pages(want));
    CHECK_EQ(pa_scavenged_free_pages(got), pa_scavenged_free_pages(want));
    CHECK_EQ(pa_total_pages(got), pa_total_pages(want));
}

/* ---- §6.2/6.3 packing and summaries ------------------------------------------------------- */
static ga_pallocsum summarize_slow(const uint64_t b[8])
{
    unsigned start = 0, max = 0, end = 0, run = 0, i;
    bool allfree = true;
    for (i = 0; i < P; i++) {
        bool fr = !(b[i / 64] >> (i % 64) & 1);
        if (fr) {
            run++;
            if (run > max)
                max = run;
            if (allfree)
                start++;
        } else {
            run = 0;
            allfree = false;
        }
    }
    end = run;
    return ga_pack_pallocsum(start, max, end);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    /* splitmix64: deterministic, good enough for test inputs */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static unsigned rndn(unsigned n) { return (unsigned)(rnd() % n); }

static void test_pack(void)
{
    ga_pallocsum s = ga_pack_pallocsum(5, 100, 7);
    CHECK_EQ(ga_pallocsum_start(s), 5);
    CHECK_EQ(ga_pallocsum_max(s), 100);
    CHECK_EQ(ga_pallocsum_end(s), 7);
    CHECK_EQ(ga_pack_pallocsum(512, 512, 512), 0x8000040000200ull);   /* freeChunkSum */
    CHECK_EQ(ga_pack_pallocsum(1u << 21, 1u << 21, 1u << 21), 1ull << 63);
    CHECK_EQ(ga_pack_pallocsum(0, 1u << 21, 0), 1ull << 63);            /* only max is checked */
    s = 1ull << 63;
    CHECK_EQ(ga_pallocsum_start(s), 1u << 21);
    CHECK_EQ(ga_pallocsum_max(s), 1u << 21);
    CHECK_EQ(ga_pallocsum_end(s), 1u << 21);
    s = ga_pack_pallocsum((1u << 21) - 1, (1u << 21) - 1, (1u << 21) - 1);
    CHECK_EQ(ga_pallocsum_start(s), (1u << 21) - 1);
    CHECK_EQ(ga_pallocsum_end(s), (1u << 21) - 1);
    CHECK_EQ(ga_pack_pallocsum(0, 0, 0), 0);
}

static void test_summarize(void)
{
    static const struct { br free[4]; unsigned s, m, e; } v[] = {
        {{{0, 0}}, 0, 0, 0},
        {{{0, 10}}, 10, 10, 0},
        {{{472, 40}}, 0, 40, 40},
        {{{0, 11}, {489, 23}}, 11, 23, 23},
        {{{0, 4}, {50, 100}, {508, 4}}, 4, 100, 4},
        {{{1, 20}, {35, 241}, {462, 30}}, 0, 241, 0},
        {{{35, 2}, {40, 5}, {100, 5}}, 0, 5, 0},
        {{{2, 1}}, 0, 1, 0},
        {{{0, 512}}, 512, 512, 512},
    };
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        uint64_t b[8];
        memset(b, 0xff, sizeof b);
        for (int j = 0; j < 4 && v[k].free[j].n; j++)
            ga_pallocbits_clear_range(b, v[k].free[j].i, v[k].free[j].n);
        ga_pallocsum s = ga_palloc_summarize(b);
        CHECK(s == ga_pack_pallocsum(v[k].s, v[k].m, v[k].e), "summarize case %zu: got (%u,%u,%u) want (%u,%u,%u)", k,
              ga_pallocsum_start(s), ga_pallocsum_max(s), ga_pallocsum_end(s), v[k].s, v[k].m, v[k].e);
        CHECK_EQ(s, summarize_slow(b));
    }
    /* TestPallocBitsSummarizeRandom + the benchmark word patterns. */
    static const uint64_t pats[] = {0, ~0ull, 0xaa, 0xaaaaaaaaaaaaaaaaull, 0x80000000aaaaaaaaull, 0xaaaaaaaa00000001ull,
                                    0xbbbbbbbbbbbbbbbbull, 0x80000000bbbbbbbbull, 0xbbbbbbbb00000001ull,
                                    0xccccccccccccccccull, 0x4444444444444444ull, 0x4040404040404040ull,
                                    0x4000400040004000ull, 0x1000404044ccaaffull};
    for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++) {
        uint64_t b[8];
        for (int i = 0; i < 8; i++)
            b[i] = pats[k];
        CHECK(ga_palloc_summarize(b) == summarize_slow(b), "pattern %#" PRIx64, pats[k]);
    }
    unsigned bad = 0;
    for (int it = 0; it < 20000; it++) {
        uint64_t b[8];
        for (int i = 0; i < 8; i++) {
            switch (rndn(6)) {   /* mix dense, sparse, empty, full and run-shaped words */
            case 0: b[i] = 0; break;
            case 1: b[i] = ~0ull; break;
            case 2: b[i] = rnd() & rnd() & rnd(); break;
            case 3: b[i] = rnd() | rnd() | rnd(); break;
            case 4: { unsigned a = rndn(64), n = rndn(64 - a) + 1; b[i] = (n == 64 ? ~0ull : ((1ull << n) - 1)) << a; break; }
            default: b[i] = rnd(); break;
            }
        }
        if (ga_palloc_summarize(b) != summarize_slow(b))
            bad++;
    }
    CHECK(bad == 0, "%u random bitmaps summarized differently from the slow reference", bad);
}

/* ---- §11.1 pallocBits ------------------------------------------------------------------ */
static void test_pallocbits(void)
{
    /* AllocRange */
    static const struct { unsigned i, n; uint64_t w[8]; } ar[] = {
        {0, 1, {1}},
        {511, 1, {0, 0, 0, 0, 0, 0, 0, 1ull << 63}},
        {129, 5, {0, 0, 0x3e}},
        {128, 128, {0, 0, ALL, ALL}},
        {0, 321, {ALL, ALL, ALL, ALL, ALL, 1}},
        {319, 193, {0, 0, 0, 0, 1ull << 63, ALL, ALL, ALL}},
        {0, 512, {ALL, ALL, ALL, ALL, ALL, ALL, ALL, ALL}},
    };
    for (size_t k = 0; k < sizeof ar / sizeof ar[0]; k++) {
        uint64_t b[8] = {0};
        ga_pallocbits_set_range(b, ar[k].i, ar[k].n);
        CHECK(memcmp(b, ar[k].w, sizeof b) == 0, "AllocRange {%u,%u}", ar[k].i, ar[k].n);
    }
    /* PopcntRange */
    static const struct { br set[32]; unsigned q[12][3]; } pc[] = {
        {{{0, 0}}, {{0, 1, 0}, {5, 3, 0}, {2, 11, 0}, {129, 256, 0}, {0, 512, 0}}},
        {{{0, 512}}, {{0, 1, 1}, {5, 3, 3}, {2, 11, 11}, {129, 256, 256}, {0, 512, 512}}},
        {{{256, 256}}, {{0, 1, 0}, {5, 3, 0}, {2, 11, 0}, {255, 1, 0}, {256, 1, 1}, {266, 1, 1}, {255, 2, 1},
                        /* spec §11.1 lists (129,256,128), but [129,385) holds pages 256..384 of the
                         * set half, i.e. 129 = P/4+1 (Go's test has P/4+1 here) */
                        {128, 128, 0}, {128, 129, 1}, {129, 256, 129}, {0, 512, 256}}},
        {{{0, 111}}, {{0, 1, 1}, {5, 3, 3}, {2, 11, 11}, {110, 2, 1}, {99, 50, 12}, {110, 1, 1}, {111, 1, 0},
                      {99, 1, 1}, {120, 1, 0}, {256, 256, 0}, {0, 512, 111}}},
        {{{1, 3}, {5, 1}, {7, 1}, {10, 2}, {13, 1}, {15, 4}, {21, 1}, {23, 1}, {26, 2}, {30, 5}, {36, 2}, {40, 3},
          {44, 6}, {51, 1}, {53, 2}, {58, 3}, {63, 1}, {67, 2}, {71, 10}, {84, 1}, {89, 7}, {99, 2}, {103, 1},
          {107, 2}, {111, 1}, {113, 1}, {115, 1}, {118, 1}, {120, 2}, {125, 5}},
         {{0, 11, 6}, {0, 64, 39}, {13, 64, 40}, {64, 64, 34}, {0, 128, 73}, {1, 128, 74}, {0, 512, 75}}},
    };
    for (size_t k = 0; k < sizeof pc / sizeof pc[0]; k++) {
        uint64_t b[8] = {0};
        for (int j = 0; j < 32 && pc[k].set[j].n; j++)
            ga_pallocbits_set_range(b, pc[k].set[j].i, pc[k].set[j].n);
        for (int j = 0; j < 12 && pc[k].q[j][1]; j++)
            CHECK(ga_pallocbits_popcnt_range(b, pc[k].q[j][0], pc[k].q[j][1]) == pc[k].q[j][2],
                  "PopcntRange case %zu (%u,%u): got %u want %u", k, pc[k].q[j][0], pc[k].q[j][1],
                  ga_pallocbits_popcnt_range(b, pc[k].q[j][0], pc[k].q[j][1]), pc[k].q[j][2]);
    }
    /* Find + AllocRange loop (TestPallocBitsAlloc); F = fail. */
#define F 0xffffffffu
    static const struct { const char *name; br before[3]; unsigned npages; unsigned hits[8]; br after[3]; } al[] = {
        {"AllFree1", {{0, 0}}, 1, {0, 1, 2, 3, 4, 5}, {{0, 6}}},
        {"AllFree2", {{0, 0}}, 2, {0, 2, 4, 6, 8, 10}, {{0, 12}}},
        {"AllFree5", {{0, 0}}, 5, {0, 5, 10, 15, 20}, {{0, 25}}},
        {"NoneFree1", {{0, 512}}, 1, {F, F}, {{0, 512}}},
        {"NoneFree2", {{0, 512}}, 2, {F, F}, {{0, 512}}},
        {"NoneFree5", {{0, 512}}, 5, {F, F}, {{0, 512}}},
        {"NoneFree65", {{0, 512}}, 65, {F, F}, {{0, 512}}},
        {"ExactFit1", {{0, 253}, {254, 258}}, 1, {253, F}, {{0, 512}}},
        {"ExactFit2", {{0, 253}, {255, 257}}, 2, {253, F}, {{0, 512}}},
        {"ExactFit5", {{0, 253}, {258, 254}}, 5, {253, F}, {{0, 512}}},
        {"AllFree64", {{0, 0}}, 64, {0, 64, 128}, {{0, 192}}},
        {"AllFree65", {{0, 0}}, 65, {0, 65, 130}, {{0, 195}}},
        {"SomeFree64", {{0, 32}, {64, 32}, {100, 412}}, 64, {F}, {{0, 32}, {64, 32}, {100, 412}}},
        {"ExactFit65", {{0, 225}, {290, 222}}, 65, {225, F}, {{0, 512}}},
        {"SomeFree161", {{0, 185}, {331, 1}}, 161, {332}, {{0, 185}, {331, 162}}},
    };
    for (size_t k = 0; k < sizeof al / sizeof al[0]; k++) {
        uint64_t b[8] = {0}, w[8] = {0};
        for (int j = 0; j < 3 && al[k].before[j].n; j++)
            ga_pallocbits_set_range(b, al[k].before[j].i, al[k].before[j].n);
        for (int j = 0; j < 3 && al[k].after[j].n; j++)
            ga_pallocbits_set_range(w, al[k].after[j].i, al[k].after[j].n);
        for (int j = 0; j < 8 && (al[k].hits[j] || j == 0); j++) {
            unsigned nsi, got = ga_pallocbits_find(b, al[k].npages, 0, &nsi);
            CHECK(got == al[k].hits[j], "%s hit %d: got %u want %u", al[k].name, j, got, al[k].hits[j]);
            if (got != F)
                ga_pallocbits_set_range(b, got, al[k].npages);
        }
        CHECK(memcmp(b, w, sizeof b) == 0, "%s: final bitmap differs", al[k].name);
    }
    /* Free (TestPallocBitsFree): starts all allocated except the listed free ranges. */
    static const struct { const char *name; br freed[3]; unsigned npages; unsigned at[6]; br after[3]; } fr[] = {
        {"NoneFree1", {{0, 0}}, 1, {0, 1, 2, 3, 4, 5}, {{0, 6}}},
        {"NoneFree2", {{0, 0}}, 2, {0, 2, 4, 6, 8, 10}, {{0, 12}}},
        {"NoneFree5", {{0, 0}}, 5, {0, 5, 10, 15, 20}, {{0, 25}}},
        {"SomeFree", {{0, 32}, {64, 32}, {100, 1}}, 1, {32}, {{0, 33}, {64, 32}, {100, 1}}},
        {"NoneFree64", {{0, 0}}, 64, {0, 64, 128}, {{0, 192}}},
        {"NoneFree65", {{0, 0}}, 65, {0, 65, 130}, {{0, 195}}},
    };
    for (size_t k = 0; k < sizeof fr / sizeof fr[0]; k++) {
        uint64_t b[8], w[8];
        memset(b, 0xff, sizeof b);
        memset(w, 0xff, sizeof w);
        for (int j = 0; j < 3 && fr[k].freed[j].n; j++)
            ga_pallocbits_clear_range(b, fr[k].freed[j].i, fr[k].freed[j].n);
        for (int j = 0; j < 3 && fr[k].after[j].n; j++)
            ga_pallocbits_clear_range(w, fr[k].after[j].i, fr[k].after[j].n);
        for (int j = 0; j < 6 && (fr[k].at[j] || j == 0); j++)
            ga_pallocbits_clear_range(b, fr[k].at[j], fr[k].npages);
        CHECK(memcmp(b, w, sizeof b) == 0, "Free %s: final bitmap differs", fr[k].name);
    }
    /* findBitRange64 */
    for (unsigned n = 1; n <= 64; n++) {
        CHECK(ga_find_bit_range64(~0ull, n) == 0, "~0, n=%u", n);
        CHECK(ga_find_bit_range64(0, n) >= 64, "0, n=%u", n);
    }
    static const struct { uint64_t x; unsigned n, want; } fb[] = {
        {0x8000000000000000ull, 1, 63}, {0xc000010001010000ull, 2, 62}, {0xc000010001030000ull, 2, 16},
        {0xe000030001030000ull, 3, 61}, {0xe000030001070000ull, 3, 16}, {0xffff03ff01070000ull, 16, 48},
        {0xffff03ff0107ffffull, 16, 0}, {0x0fff03ff01079fffull, 16, 64},
    };
    for (size_t k = 0; k < sizeof fb / sizeof fb[0]; k++) {
        unsigned got = ga_find_bit_range64(fb[k].x, fb[k].n);
        CHECK(fb[k].want == 64 ? got >= 64 : got == fb[k].want, "findBitRange64(%#" PRIx64 ", %u) = %u want %u",
              fb[k].x, fb[k].n, got, fb[k].want);
    }
    /* find's newSearchIdx is the first free page seen, and the search starts at the word of
     * searchIdx (so it may return an index below searchIdx inside that word). */
    {
        uint64_t b[8];
        memset(b, 0xff, sizeof b);
        ga_pallocbits_clear_range(b, 130, 1);
        ga_pallocbits_clear_range(b, 200, 10);
        unsigned nsi, j = ga_pallocbits_find(b, 5, 0, &nsi);
        CHECK(j == 200 && nsi == 130, "findSmallN: j=%u nsi=%u", j, nsi);
        j = ga_pallocbits_find(b, 1, 131, &nsi);
        CHECK(j == 130 && nsi == 130, "find1 from word start: j=%u nsi=%u", j, nsi);
        ga_pallocbits_clear_range(b, 300, 150);
        j = ga_pallocbits_find(b, 100, 0, &nsi);
        CHECK(j == 300 && nsi == 130, "findLargeN: j=%u nsi=%u", j, nsi);
        j = ga_pallocbits_find(b, 151, 0, &nsi);
        CHECK(j == F && nsi == 130, "findLargeN miss: j=%u nsi=%u", j, nsi);
    }
}

/* ---- §11.2, §11.3 page cache ------------------------------------------------------------ */
static void test_pagecache_alloc(void)
{
    typedef struct { unsigned npages; int off; unsigned scav; } ph;   /* off < 0: fail */
    static const struct { const char *name; uint64_t cache, scav; ph hits[24]; } v[] = {
        {"Lo1", 0x1, 0x1, {{1, 0, 1}, {1, -1, 0}, {10, -1, 0}}},
        {"Hi1", 1ull << 63, 0x1, {{1, 63, 0}, {1, -1, 0}, {10, -1, 0}}},
        {"Swiss1", 0x20005555, 0x5505, {{2, -1, 0}, {1, 0, 1}, {1, 2, 1}, {1, 4, 0}, {1, 6, 0}, {1, 8, 1}, {1, 10, 1},
                                        {1, 12, 1}, {1, 14, 1}, {1, 29, 0}, {1, -1, 0}, {10, -1, 0}}},
        {"Lo2", 0x3, 0x2ull << 62, {{2, 0, 0}, {2, -1, 0}, {1, -1, 0}}},
        {"Hi2", 0x3ull << 62, 0x3ull << 62, {{2, 62, 2}, {2, -1, 0}, {1, -1, 0}}},
        {"Swiss2", 0x3333ull << 31, 0x3030ull << 31, {{2, 31, 0}, {2, 35, 2}, {2, 39, 0}, {2, 43, 2}, {2, -1, 0}}},
        {"Hi53", ((1ull << 53) - 1) << 10, ((1ull << 16) - 1) << 10, {{53, 10, 16}, {53, -1, 0}, {1, -1, 0}}},
        {"Full53", ~0ull, ((1ull << 16) - 1) << 10, {{53, 0, 16}, {53, -1, 0}, {1, 53, 0}}},
        {"Full64", ~0ull, ~0ull, {{64, 0, 64}, {64, -1, 0}, {1, -1, 0}}},
        {"FullMixed", ~0ull, ~0ull, {{5, 0, 5}, {7, 5, 7}, {1, 12, 1}, {23, 13, 23}, {63, -1, 0}, {3, 36, 3},
                                     {3, 39, 3}, {3, 42, 3}, {12, 45, 12}, {11, -1, 0}, {4, 57, 4}, {4, -1, 0},
                                     {6, -1, 0}, {36, -1, 0}, {2, 61, 2}, {3, -1, 0}, {1, 63, 1}, {4, -1, 0},
                                     {2, -1, 0}, {62, -1, 0}, {1, -1, 0}}},
    };
    /* Empty: every size fails. */
    static const unsigned empty_n[] = {1, 2, 3, 4, 5, 11, 12, 16, 27, 32, 43, 57, 64, 121};
    for (size_t k = 0; k < sizeof empty_n / sizeof empty_n[0]; k++) {
        ga_pagecache c = {PB(B, 0), 0, 0};
        size_t sb = 123;
        CHECK(ga_pagecache_alloc(&c, empty_n[k], &sb) == 0 && sb == 0, "Empty: %u", empty_n[k]);
    }
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        ga_pagecache c = {PB(B, 0), v[k].cache, v[k].scav};
        for (int j = 0; j < 24 && v[k].hits[j].npages; j++) {
            size_t sb = 123;
            uintptr_t a = ga_pagecache_alloc(&c, v[k].hits[j].npages, &sb);
            uintptr_t wa = v[k].hits[j].off < 0 ? 0 : PB(B, (unsigned)v[k].hits[j].off);
            CHECK(a == wa && sb == v[k].hits[j].scav * PG, "%s hit %d (n=%u): got %#" PRIxPTR "/%zu want %#" PRIxPTR
                  "/%u", v[k].name, j, v[k].hits[j].npages, a, sb / PG, wa, v[k].hits[j].scav);
        }
    }
}

static void test_pagecache_flush(void)
{
    for (int it = 0; it < 102; it++) {
        unsigned base;
        uint64_t cache, scav;
        if (it == 0)
            base = 0, cache = 0, scav = 0;
        else if (it == 1)
            base = 0, cache = ~0ull, scav = ~0ull;
        else
            base = 64 * rndn(8), cache = rnd(), scav = rnd() & cache;
        cst st[NCST] = {{B, {{base, 64}}, {{0, 0}}, {{0, 0}}}};
        ga_pagealloc *pa = build(st, false);
        ga_pagecache c = {PB(B, base), cache, scav};
        ga_pagecache_flush(&c, pa);
        CHECK(c.cache == 0 && c.scav == 0 && c.base == 0, "flush %d: cache not emptied", it);
        uint64_t *a = pa_test_chunk_bits(pa, chunk_base(B), false), *s = pa_test_chunk_bits(pa, chunk_base(B), true);
        for (unsigned w = 0; w < 8; w++) {
            uint64_t wa = w == base / 64 ? ~cache : 0, ws = w == base / 64 ? scav : 0;
            CHECK(a[w] == wa && s[w] == ws, "flush %d word %u: alloc %#" PRIx64 " scav %#" PRIx64 " want %#" PRIx64
                  " %#" PRIx64, it, w, a[w], s[w], wa, ws);
        }
        verify_ok(pa, "flush");
        destroy_pa(pa);
    }
}

/* ---- §11.4 allocToCache -------------------------------------------------------------------- */
static void test_alloc_to_cache(void)
{
    typedef struct { uintptr_t base; uint64_t cache, scav; } ch;
    const uint64_t b = B & ~(uint64_t)511, k = 512;
    const struct { const char *name; cst st[NCST]; ch hits[4]; int nhits; } v[] = {
        {"ManyArena",
         {{B, {{0, 512}}, {{0, 512}}, {{0, 512}}}, {B + 1, {{0, 512}}, {{0, 512}}, {{0, 512}}},
          {B + 2, {{0, 448}}, {{0, 0}}, {{0, 512}}}},
         {{PB(B + 2, 448), ~0ull, 0}}, 1},
        {"Fail", {{B, {{0, 512}}, {{0, 0}}, {{0, 512}}}}, {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}}, 3},
        {"RetainScavBits", {{B, {{0, 1}, {10, 2}}, {{0, 4}, {11, 1}}, {{0, 64}}}},
         {{PB(B, 0), ~(0x1ull | 0x3ull << 10), 0x7ull << 1}}, 1},
        {"AllFree", {{B, {{0, 0}}, {{1, 1}, {64, 64}}, {{0, 256}}}},
         {{PB(B, 0), ~0ull, 0x2}, {PB(B, 64), ~0ull, ~0ull}, {PB(B, 128), ~0ull, 0}, {PB(B, 192), ~0ull, 0}}, 4},
        {"NotContiguous",
         {{B, {{0, 512}}, {{0, 512}}, {{0, 512}}}, {B + 0xff, {{0, 0}}, {{31, 67}}, {{0, 64}}}},
         {{PB(B + 0xff, 0), ~0ull, ((1ull << 33) - 1) << 31}}, 1},
        {"First", {{B, {{0, 32}, {33, 31}, {96, 32}}, {{1, 4}, {31, 5}, {66, 2}}, {{0, 128}}}},
         {{PB(B, 0), 1ull << 32, 1ull << 32}, {PB(B, 64), (1ull << 32) - 1, 0x3ull << 2}}, 2},
        {"DiscontiguousMappedSumBoundary",
         {{b + k - 1, {{0, 511}}, {{0, 0}}, {{0, 512}}}, {b + 0x100000, {{1, 511}}, {{0, 0}}, {{0, 512}}}},
         {{PB(b + k - 1, 448), 1ull << 63, 0}, {PB(b + 0x100000, 0), 1, 0}, {0, 0, 0}}, 3},
    };
    for (size_t t = 0; t < sizeof v / sizeof v[0]; t++) {
        ga_pagealloc *pa = build(v[t].st, false);
        for (int j = 0; j < v[t].nhits; j++) {
            ga_pagecache c = pa_alloc_to_cache(pa);
            CHECK(c.base == v[t].hits[j].base && c.cache == v[t].hits[j].cache && c.scav == v[t].hits[j].scav,
                  "%s hit %d: got (%#" PRIxPTR ", %#" PRIx64 ", %#" PRIx64 ") want (%#" PRIxPTR ", %#" PRIx64 ", %#"
                  PRIx64 ")", v[t].name, j, c.base, c.cache, c.scav, v[t].hits[j].base, v[t].hits[j].cache,
                  v[t].hits[j].scav);
            ga_report r;
            CHECK(pa_verify_cache(pa, &c, &r) == 0, "%s: D9: %s", v[t].name, r.message);
            verify_ok(pa, v[t].name);
        }
        ga_pagealloc *want = build(v[t].st, true);
        compare_pa(v[t].name, pa, want);
        destroy_pa(want);
        destroy_pa(pa);
    }
}

/* ---- §11.5 grow ------------------------------------------------------------------------- */
static void test_grow(void)
{
    static const struct { const char *name; uint64_t grow[40]; uint64_t ranges[40][2]; } v[] = {
        {"One", {0}, {{0, 1}}},
        {"Contiguous2", {0, 1}, {{0, 2}}},
        {"Contiguous5", {0, 1, 2, 3, 4}, {{0, 5}}},
        {"Discontiguous", {0, 2, 4}, {{0, 1}, {2, 3}, {4, 5}}},
        {"Mixed", {0, 1, 2, 4}, {{0, 3}, {4, 5}}},
        {"WildlyDiscontiguous", {0, 1, 0x10, 0x21}, {{0, 2}, {0x10, 0x11}, {0x21, 0x22}}},
        {"ManyDiscontiguous", {0}, {{0, 0}}},   /* filled in below */
        {"ExtremelyDiscontiguous", {0, 0x100000}, {{0, 1}, {0x100000, 0x100001}}},
    };
    for (size_t t = 0; t < sizeof v / sizeof v[0]; t++) {
        uint64_t grow[40], ranges[40][2];
        int ng = 0, nr = 0;
        if (strcmp(v[t].name, "ManyDiscontiguous") == 0) {
            for (int k = 0; k <= 32; k++) {
                grow[ng++] = 2 * (uint64_t)k;
                ranges[nr][0] = 2 * (uint64_t)k;
                ranges[nr++][1] = 2 * (uint64_t)k + 1;
            }
        } else {
            /* chunk offsets from B; offset 0 only as the first element */
            for (ng = 0; ng < 40 && (ng == 0 || v[t].grow[ng]); ng++)
                grow[ng] = v[t].grow[ng];
            for (nr = 0; nr < 40 && v[t].ranges[nr][1]; nr++)
                ranges[nr][0] = v[t].ranges[nr][0], ranges[nr][1] = v[t].ranges[nr][1];
        }
        ga_pagealloc *pa = new_pa();
        for (int k = 0; k < ng; k++) {
            CHECK(pa_grow(pa, chunk_base(B + grow[k]), CHUNKB) == 0, "%s: grow %d", v[t].name, k);
            verify_ok(pa, v[t].name);
        }
        rlist rl = {0};
        pa_for_each_range(pa, collect, &rl);
        CHECK(rl.n == (size_t)nr, "%s: %zu ranges, want %d", v[t].name, rl.n, nr);
        for (int k = 0; k < nr && k < (int)rl.n; k++)
            CHECK(rl.b[k] == chunk_base(B + ranges[k][0]) && rl.l[k] == chunk_base(B + ranges[k][1]),
                  "%s: range %d", v[t].name, k);
        CHECK_EQ(pa_total_pages(pa), (size_t)ng * P);
        CHECK_EQ(pa_scavenged_free_pages(pa), (size_t)ng * P);   /* new memory is scavenged */
        CHECK_EQ(pa_search_addr(pa), chunk_base(B));
        CHECK(pa_contains(pa, chunk_base(B)) && !pa_contains(pa, chunk_base(B) - 1), "%s: contains", v[t].name);
        destroy_pa(pa);
    }
    /* grow rounds to chunks, rejects overlap, and a multi-chunk grow is one range. */
    ga_pagealloc *pa = new_pa();
    CHECK(pa_grow(pa, chunk_base(B) + 5 * PG, 3 * CHUNKB) == 0, "unaligned grow");
    rlist rl = {0};
    pa_for_each_range(pa, collect, &rl);
    CHECK(rl.n == 1 && rl.b[0] == chunk_base(B) && rl.l[0] == chunk_base(B + 4), "unaligned grow rounds out");
    errno = 0;
    CHECK(pa_grow(pa, chunk_base(B + 3), CHUNKB) == -1 && errno == EINVAL, "overlapping grow refused");
    CHECK(pa_grow(pa, chunk_base(B + 4), 2 * CHUNKB) == 0, "adjacent grow");
    rl.n = 0;
    pa_for_each_range(pa, collect, &rl);
    CHECK(rl.n == 1 && rl.l[0] == chunk_base(B + 6), "adjacent grow merges");
    CHECK(pa_grow(pa, chunk_base(B + 7), 0) == 0, "zero-size grow is a no-op");
    verify_ok(pa, "grow misc");
    destroy_pa(pa);
}

/* A wholly free root entry (16 GiB = 4096 chunks; chunkBase(B) is 16 GiB aligned) is encoded
 * as exactly 1<<63 (spec §6.2), and first fit works across root entries. */
static void test_root(void)
{
    const size_t root_pages = (size_t)1 << 21;
    ga_pagealloc *pa = new_pa();
    CHECK(pa_test_summary_index(0, chunk_base(B)) * ((size_t)1 << 34) + (size_t)GA_ARENA_BASE_OFFSET ==
          chunk_base(B), "chunkBase(B) is root aligned");
    CHECK(pa_grow(pa, chunk_base(B), 4097 * CHUNKB) == 0, "grow 16 GiB + 4 MiB");
    size_t r0 = pa_test_summary_index(0, chunk_base(B));
    CHECK_EQ(pa_test_get_summary(pa, 0, r0), 1ull << 63);
    CHECK_EQ(pa_test_get_summary(pa, 0, r0 + 1), ga_pack_pallocsum(512, 512, 0));
    verify_ok(pa, "root free");
    size_t sb;
    CHECK_EQ(pa_alloc(pa, root_pages + 1, &sb), chunk_base(B));   /* straddles two root entries */
    CHECK_EQ(sb, (root_pages + 1) * PG);
    CHECK_EQ(pa_test_get_summary(pa, 0, r0), 0);
    verify_ok(pa, "root straddle");
    CHECK_EQ(pa_alloc(pa, 511, NULL), PB(B + 4096, 1));
    CHECK_EQ(pa_alloc(pa, 1, NULL), 0);
    CHECK_EQ(pa_search_addr(pa), (uintptr_t)0x00007fffffffffffull);   /* exhausted: maxOffAddr */
    pa_free(pa, PB(B, 0), root_pages);
    CHECK_EQ(pa_test_get_summary(pa, 0, r0), 1ull << 63);
    CHECK_EQ(pa_search_addr(pa), chunk_base(B));
    verify_ok(pa, "root freed");
    CHECK_EQ(pa_alloc(pa, root_pages, NULL), chunk_base(B));
    CHECK_EQ(pa_alloc(pa, 1, NULL), 0);
    destroy_pa(pa);
}

/* ---- §11.6 alloc ------------------------------------------------------------------------ */
typedef struct { size_t npages; uint64_t ci; unsigned page, scav; } hit;   /* ci == 0: fail */

static void run_hits(const char *name, ga_pagealloc *pa, const hit *h, int n)
{
    for (int j = 0; j < n; j++) {
        size_t sb = 77;
        uintptr_t a = pa_alloc(pa, h[j].npages, &sb);
        uintptr_t wa = h[j].ci ? PB(h[j].ci, h[j].page) : 0;
        size_t ws = h[j].ci ? h[j].scav * PG : 0;
        CHECK(a == wa && sb == ws, "%s hit %d (n=%zu): got %#" PRIxPTR "/%zu pages want %#" PRIxPTR "/%zu", name, j,
              h[j].npages, a, sb / PG, wa, ws / PG);
        verify_ok(pa, name);
    }
}

static void test_alloc(void)
{
    const uint64_t b = B & ~(uint64_t)511, k = 512;
#define FULL {{0, 512}}
#define NONE {{0, 0}}
    const struct { const char *name; cst st[NCST]; hit hits[8]; } v[] = {
        {"AllFree1", {{B, NONE, {{0, 1}, {2, 2}}, {{0, 5}}}},
         {{1, B, 0, 1}, {1, B, 1, 0}, {1, B, 2, 1}, {1, B, 3, 1}, {1, B, 4, 0}}},
        {"ManyArena1", {{B, FULL, FULL, FULL}, {B + 1, FULL, FULL, FULL}, {B + 2, {{0, 511}}, FULL, FULL}},
         {{1, B + 2, 511, 1}}},
        {"NotContiguous1", {{B, FULL, FULL, FULL}, {B + 0xff, NONE, FULL, {{0, 1}}}}, {{1, B + 0xff, 0, 1}}},
        {"AllFree2", {{B, NONE, {{0, 3}, {7, 1}}, {{0, 10}}}},
         {{2, B, 0, 2}, {2, B, 2, 1}, {2, B, 4, 0}, {2, B, 6, 1}, {2, B, 8, 0}}},
        {"Straddle2", {{B, {{0, 511}}, {{511, 1}}, FULL}, {B + 1, {{1, 511}}, NONE, FULL}}, {{2, B, 511, 1}}},
        {"AllFree5", {{B, NONE, {{0, 8}, {9, 1}, {17, 5}}, {{0, 25}}}},
         {{5, B, 0, 5}, {5, B, 5, 4}, {5, B, 10, 0}, {5, B, 15, 3}, {5, B, 20, 2}}},
        {"ExhaustPallocChunkPages-3", {{B, NONE, {{10, 1}}, FULL}},
         {{509, B, 0, 1}, {509, 0, 0, 0}, {1, B, 509, 0}, {2, B, 510, 0}, {1, 0, 0, 0}, {509, 0, 0, 0}}},
        {"AllFreePallocChunkPages", {{B, NONE, {{0, 1}, {511, 1}}, FULL}},
         {{512, B, 0, 2}, {512, 0, 0, 0}, {1, 0, 0, 0}}},
        {"StraddlePallocChunkPages+1", {{B, {{0, 256}}, FULL, FULL}, {B + 1, NONE, FULL, {{0, 258}}}},
         {{513, B, 256, 513}, {512, 0, 0, 0}, {1, B + 1, 257, 1}}},
        {"AllFreePallocChunkPages*2", {{B, NONE, NONE, FULL}, {B + 1, NONE, NONE, FULL}},
         {{1024, B, 0, 0}, {1024, 0, 0, 0}, {1, 0, 0, 0}}},
        {"NotContiguousPallocChunkPages*2",
         {{B, NONE, FULL, {{0, 22}}}, {B + 0x40, NONE, NONE, FULL}, {B + 0x41, NONE, NONE, FULL}},
         {{1024, B + 0x40, 0, 0}, {21, B, 0, 21}, {1, B, 21, 1}}},
        {"StraddlePallocChunkPages*5/4",
         {{B, FULL, FULL, FULL}, {B + 1, {{0, 384}}, {{256, 129}}, {{0, 385}}}, {B + 2, {{0, 384}}, {{170, 1}}, FULL},
          {B + 3, NONE, {{341, 1}}, FULL}},
         {{640, B + 2, 384, 1}, {640, 0, 0, 0}, {1, B + 1, 384, 1}}},
        {"AllFree64", {{B, NONE, {{21, 1}, {63, 65}}, {{0, 192}}}}, {{64, B, 0, 2}, {64, B, 64, 64}, {64, B, 128, 0}}},
        {"AllFree65", {{B, NONE, {{129, 1}}, {{0, 195}}}}, {{65, B, 0, 0}, {65, B, 65, 1}, {65, B, 130, 0}}},
        {"StraddlePallocChunkPages", {{B, {{0, 256}}, NONE, FULL}, {B + 1, {{256, 256}}, {{3, 100}}, FULL}},
         {{512, B, 256, 100}, {512, 0, 0, 0}, {1, 0, 0, 0}}},
        {"AllFreePallocChunkPages*7+5",
         {{B, NONE, {{50, 1}}, FULL}, {B + 1, NONE, {{31, 1}}, FULL}, {B + 2, NONE, {{7, 1}}, FULL},
          {B + 3, NONE, {{200, 1}}, FULL}, {B + 4, NONE, {{3, 1}}, FULL}, {B + 5, NONE, {{51, 1}}, FULL},
          {B + 6, NONE, {{20, 1}}, FULL}, {B + 7, NONE, {{1, 1}}, {{0, 6}}}},
         {{3589, B, 0, 8}, {3589, 0, 0, 0}, {1, B + 7, 5, 0}}},
        {"StraddlePallocChunkPages*2",
         {{B, {{0, 256}}, {{0, 7}}, FULL}, {B + 1, NONE, {{3, 5}, {121, 10}}, FULL},
          {B + 2, {{256, 256}}, {{268, 2}}, FULL}},
         {{1024, B, 256, 15}, {1024, 0, 0, 0}, {1, 0, 0, 0}}},
        {"DiscontiguousMappedSumBoundary", {{b + k - 1, NONE, NONE, FULL}, {b + 0x100000, NONE, NONE, FULL}},
         {{511, b + k - 1, 0, 0}, {1, b + k - 1, 511, 0}, {1, b + 0x100000, 0, 0}, {511, b + 0x100000, 1, 0},
          {1, 0, 0, 0}}},
        {"DiscontiguousBadSearchAddr",
         {{B, {{0, 511}}, NONE, FULL}, {B + 0x100503, {{0, 502}, {511, 1}}, NONE, FULL},
          {B + 0x200000, NONE, NONE, {{0, 100}}}},
         {{1, B, 511, 0}, {100, B + 0x200000, 0, 0}, {9, B + 0x100503, 502, 0}}},
    };
    for (size_t t = 0; t < sizeof v / sizeof v[0]; t++) {
        ga_pagealloc *pa = build(v[t].st, false);
        int n = 0;
        while (n < 8 && v[t].hits[n].npages)
            n++;
        run_hits(v[t].name, pa, v[t].hits, n);
        ga_pagealloc *want = build(v[t].st, true);
        compare_pa(v[t].name, pa, want);
        destroy_pa(want);
        destroy_pa(pa);
    }
}

/* ---- §11.7 Exhaust, Free, AllocAndFree -------------------------------------------------- */
static void test_exhaust(void)
{
    static const size_t ns[] = {1, 2, 3, 4, 5, 8, 16, 64, 1024, 1025, 2048, 2049};
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        size_t np = ns[t], cnt = 2048 / np;
        cst st[NCST] = {{B, NONE, NONE, NONE}, {B + 1, NONE, NONE, NONE}, {B + 2, NONE, NONE, NONE},
                        {B + 3, NONE, NONE, NONE}};
        ga_pagealloc *pa = build(st, false);
        unsigned bad = 0;
        for (size_t i = 0; i < cnt; i++) {
            size_t sb;
            uintptr_t a = pa_alloc(pa, np, &sb);
            if (a != PB(B, 0) + i * np * PG)
                bad++;
        }
        CHECK(bad == 0, "Exhaust %zu: %u allocations at the wrong address", np, bad);
        CHECK(pa_alloc(pa, np, NULL) == 0, "Exhaust %zu: extra allocation succeeded", np);
        /* after: the first cnt*np pages allocated, in order */
        size_t done = cnt * np;
        for (unsigned c = 0; c < 4; c++) {
            size_t lo = c * P, hi = lo + P;
            unsigned want = done <= lo ? 0 : done >= hi ? P : (unsigned)(done - lo);
            st[c].after[0] = (br){0, want};
        }
        ga_pagealloc *want = build(st, true);
        compare_pa("Exhaust", pa, want);
        verify_ok(pa, "Exhaust");
        destroy_pa(want);
        destroy_pa(pa);
    }
}

static void test_free(void)
{
    typedef struct { uint64_t ci; unsigned page; } at;
    const struct { const char *name; size_t npages; cst st[NCST]; at frees[8]; int nf; } v[] = {
        {"Free1", 1, {{B, FULL, NONE, {{5, 507}}}}, {{B, 0}, {B, 1}, {B, 2}, {B, 3}, {B, 4}}, 5},
        {"ManyArena1", 1,
         {{B, FULL, NONE, {{0, 256}, {257, 255}}}, {B + 1, FULL, NONE, {{1, 511}}}, {B + 2, FULL, NONE, {{0, 511}}}},
         {{B, 256}, {B + 1, 0}, {B + 2, 511}}, 3},
        {"Free2", 2, {{B, FULL, NONE, {{10, 502}}}}, {{B, 0}, {B, 2}, {B, 4}, {B, 6}, {B, 8}}, 5},
        {"Straddle2", 2, {{B, {{511, 1}}, NONE, NONE}, {B + 1, {{0, 1}}, NONE, NONE}}, {{B, 511}}, 1},
        {"Free5", 5, {{B, FULL, NONE, {{25, 487}}}}, {{B, 0}, {B, 5}, {B, 10}, {B, 15}, {B, 20}}, 5},
        {"FreePallocChunkPages", 512, {{B, FULL, NONE, NONE}}, {{B, 0}}, 1},
        {"StraddlePallocChunkPages", 512, {{B, {{256, 256}}, NONE, NONE}, {B + 1, {{0, 256}}, NONE, NONE}},
         {{B, 256}}, 1},
        {"StraddlePallocChunkPages+1", 513, {{B, FULL, NONE, {{0, 256}}}, {B + 1, FULL, NONE, {{257, 255}}}},
         {{B, 256}}, 1},
        {"FreePallocChunkPages*2", 1024, {{B, FULL, NONE, NONE}, {B + 1, FULL, NONE, NONE}}, {{B, 0}}, 1},
        {"StraddlePallocChunkPages*2", 1024,
         {{B, FULL, NONE, {{0, 256}}}, {B + 1, FULL, NONE, NONE}, {B + 2, FULL, NONE, {{256, 256}}}}, {{B, 256}}, 1},
        {"AllFreePallocChunkPages*7+5", 3589,
         {{B, FULL, NONE, NONE}, {B + 1, FULL, NONE, NONE}, {B + 2, FULL, NONE, NONE}, {B + 3, FULL, NONE, NONE},
          {B + 4, FULL, NONE, NONE}, {B + 5, FULL, NONE, NONE}, {B + 6, FULL, NONE, NONE},
          {B + 7, FULL, NONE, {{5, 507}}}},
         {{B, 0}}, 1},
        {"Free64", 64, {{B, FULL, NONE, {{192, 320}}}}, {{B, 0}, {B, 64}, {B, 128}}, 3},
        {"Free65", 65, {{B, FULL, NONE, {{195, 317}}}}, {{B, 0}, {B, 65}, {B, 130}}, 3},
    };
    for (size_t t = 0; t < sizeof v / sizeof v[0]; t++) {
        ga_pagealloc *pa = build(v[t].st, false);
        for (int j = 0; j < v[t].nf; j++) {
            pa_free(pa, PB(v[t].frees[j].ci, v[t].frees[j].page), v[t].npages);
            verify_ok(pa, v[t].name);
        }
        ga_pagealloc *want = build(v[t].st, true);
        compare_pa(v[t].name, pa, want);
        destroy_pa(want);
        destroy_pa(pa);
    }
    /* AllocAndFree, Chunks8 */
    cst st[NCST];
    memset(st, 0, sizeof st);
    for (int c = 0; c < 8; c++)
        st[c].ci = B + (uint64_t)c;
    ga_pagealloc *pa = build(st, false);
    static const struct { bool alloc; size_t n; } seq[] = {
        {true, 4096}, {false, 4096}, {true, 4096}, {false, 4096}, {true, 4096}, {false, 4096},
        {true, 1}, {false, 1}, {true, 4096},
    };
    for (size_t j = 0; j < sizeof seq / sizeof seq[0]; j++) {
        if (seq[j].alloc) {
            uintptr_t a = pa_alloc(pa, seq[j].n, NULL);
            CHECK(a == PB(B, 0), "AllocAndFree step %zu: got %#" PRIxPTR, j, a);
        } else {
            pa_free(pa, PB(B, 0), seq[j].n);
        }
        verify_ok(pa, "AllocAndFree");
    }
    destroy_pa(pa);
}

/* ---- §11.8 scavenger ------------------------------------------------------------------- */
static uint64_t fill_aligned_slow(uint64_t x, unsigned m)
{
    uint64_t r = 0, g = m == 64 ? ~0ull : ((1ull << m) - 1);
    for (unsigned i = 0; i < 64; i += m)
        if ((x >> i) & g)
            r |= g << i;
    return r;
}

static void test_scavenge_helpers(void)
{
    for (unsigned m = 1; m <= 64; m *= 2) {
        const uint64_t in[] = {0, 0x00000000ffffffffull, 0xffffffff00000000ull, 0x8000000000000001ull,
                               0xf00000000000000full, 0xf00000010050000full, ~0ull, 1, 2, 8, 1ull << (m - 1),
                               m < 64 ? 1ull << m : 0, 0xb02b9effcf137016ull, 0x3975a076a9fbff18ull,
                               0x0f8c88ec3b81506eull, 0x60f14d80ef2fa0e6ull};
        for (size_t k = 0; k < sizeof in / sizeof in[0]; k++)
            CHECK(ga_fill_aligned(in[k], m) == fill_aligned_slow(in[k], m), "fillAligned(%#" PRIx64 ", %u) = %#"
                  PRIx64 " want %#" PRIx64, in[k], m, ga_fill_aligned(in[k], m), fill_aligned_slow(in[k], m));
        for (int it = 0; it < 200; it++) {
            uint64_t x = rnd() & rnd() & rnd();
            CHECK(ga_fill_aligned(x, m) == fill_aligned_slow(x, m), "fillAligned random");
        }
    }
    typedef struct { const char *name; br alloc[4]; br scav[4]; unsigned min, max; unsigned want_i, want_n; } fc;
    fc cases[64];
    int nc = 0;
    cases[nc++] = (fc){"MixedMin1", {{0, 40}, {42, 470}}, {{0, 41}, {42, 470}}, 1, 512, 41, 1};
    cases[nc++] = (fc){"MultiMin1", {{0, 63}, {65, 20}, {87, 425}}, {{86, 1}}, 1, 512, 85, 1};
    for (unsigned m = 1; m <= 64; m *= 2) {
        cases[nc++] = (fc){"AllFree", {{0, 0}}, {{0, 0}}, m, 512, 0, 512};
        cases[nc++] = (fc){"AllScavenged", {{0, 0}}, {{0, 512}}, m, 512, 0, 0};
        cases[nc++] = (fc){"NoneFree", {{0, 512}}, {{256, 256}}, m, 512, 0, 0};
        cases[nc++] = (fc){"StartFree", {{m, 512 - m}}, {{0, 0}}, m, 512, 0, m};
        cases[nc++] = (fc){"EndFree", {{0, 512 - m}}, {{0, 0}}, m, 512, 512 - m, m};
        cases[nc++] = (fc){"Max0", {{0, 0}}, {{0, 512 - m}}, m, 0, 512 - m, m};
    }
    /* Huge-page rule (§6.8; not a §11.8 vector): a 1-page request out of a wholly free chunk
     * takes the top huge page rather than splitting it; a run that does not cover the huge
     * page below its start is not widened. */
    cases[nc++] = (fc){"HugeWiden", {{0, 0}}, {{0, 0}}, 1, 1, 256, 256};
    cases[nc++] = (fc){"HugeNoWiden", {{0, 300}}, {{0, 0}}, 1, 1, 511, 1};
    cases[nc++] = (fc){"HugeNoBoundary", {{400, 112}}, {{0, 0}}, 1, 10, 390, 10};
    cases[nc++] = (fc){"HugeWidenMid", {{260, 252}}, {{0, 0}}, 1, 10, 0, 260};
    for (int k = 0; k < nc; k++) {
        uint64_t a[8], s[8];
        mkbits(a, cases[k].alloc);
        mkbits(s, cases[k].scav);
        unsigned n, i = ga_find_scavenge_candidate(a, s, 511, cases[k].min, cases[k].max, &n);
        if (cases[k].want_n == 0)
            CHECK(n == 0, "%s min %u: got {%u,%u} want none", cases[k].name, cases[k].min, i, n);
        else
            CHECK(i == cases[k].want_i && n == cases[k].want_n, "%s min %u: got {%u,%u} want {%u,%u}", cases[k].name,
                  cases[k].min, i, n, cases[k].want_i, cases[k].want_n);
    }
}

static void test_scavenge(void)
{
    /* AllFreeUnscavExhaust */
    {
        cst st[NCST] = {{B, NONE, NONE, NONE}, {B + 1, NONE, NONE, NONE}, {B + 2, NONE, NONE, NONE}};
        ga_pagealloc *pa = build(st, false);
        g_fos.unused_bytes = 0;
        size_t got = pa_scavenge(pa, SIZE_MAX, true);
        CHECK_EQ(got, (size_t)3 * P * PG);
        CHECK_EQ(g_fos.unused_bytes, (uint64_t)3 * P * PG);
        CHECK_EQ(pa_scavenged_free_pages(pa), (size_t)3 * P);
        for (int c = 0; c < 3; c++) {
            uint64_t *s = pa_test_chunk_bits(pa, chunk_base(B + (uint64_t)c), true);
            for (int w = 0; w < 8; w++)
                CHECK(s[w] == ALL, "AllFreeUnscavExhaust: chunk %d word %d %#" PRIx64, c, w, s[w]);
        }
        verify_ok(pa, "AllFreeUnscavExhaust");
        CHECK_EQ(pa_scavenge(pa, SIZE_MAX, true), 0);
        destroy_pa(pa);
    }
    /* NoneFreeUnscavExhaust */
    {
        cst st[NCST] = {{B, FULL, NONE, NONE}, {B + 1, NONE, FULL, NONE}, {B + 2, FULL, NONE, NONE}};
        ga_pagealloc *pa = build(st, false);
        CHECK_EQ(pa_scavenge(pa, SIZE_MAX, true), 0);
        verify_ok(pa, "NoneFreeUnscavExhaust");
        destroy_pa(pa);
    }
    /* ScavHighestPageFirst */
    {
        cst st[NCST] = {{B, NONE, {{1, 510}}, NONE}};
        ga_pagealloc *pa = build(st, false);
        g_fos.nulog = 0;
        CHECK_EQ(pa_scavenge(pa, 1, true), PG);
        CHECK(g_fos.nulog == 1 && g_fos.ulog[0].a == PB(B, 511) && g_fos.ulog[0].n == PG, "unused(page 511)");
        CHECK(pa_page_scavenged(pa, PB(B, 511)) && !pa_page_scavenged(pa, PB(B, 0)), "page 511 scavenged first");
        verify_ok(pa, "ScavHighestPageFirst");
        destroy_pa(pa);
    }
    /* Density: 496 pages in use => background scavenging skips the chunk, forced does not. */
    {
        cst st[NCST] = {{B, {{0, 496}}, NONE, NONE}, {B + 1, {{0, 495}}, NONE, NONE}};
        ga_pagealloc *pa = build(st, false);
        CHECK_EQ(pa_scavenge(pa, SIZE_MAX, false), 17 * PG);   /* only B+1's 17 free pages */
        verify_ok(pa, "density bg");
        CHECK(!pa_page_scavenged(pa, PB(B, 500)), "dense chunk left alone");
        CHECK_EQ(pa_scavenge(pa, SIZE_MAX, false), 0);
        CHECK_EQ(pa_scavenge(pa, SIZE_MAX, true), 16 * PG);
        verify_ok(pa, "density force");
        /* free in the dense chunk: it becomes eligible again (cursor raised) */
        pa_free(pa, PB(B, 0), 10);
        verify_ok(pa, "density free");
        CHECK_EQ(pa_scavenge(pa, SIZE_MAX, false), 10 * PG);
        verify_ok(pa, "density after free");
        destroy_pa(pa);
    }
    /* Highest address first across chunks; partial requests continue where they stopped. */
    {
        cst st[NCST] = {{B, NONE, NONE, NONE}, {B + 5, {{0, 500}}, NONE, NONE}};
        ga_pagealloc *pa = build(st, false);
        g_fos.nulog = 0;
        CHECK_EQ(pa_scavenge(pa, 5 * PG, true), 5 * PG);
        CHECK(g_fos.nulog == 1 && g_fos.ulog[0].a == PB(B + 5, 507), "highest chunk first");
        CHECK_EQ(pa_scavenge(pa, 10 * PG, true), 7 * PG + 256 * PG);   /* rest of B+5, then a huge page of B */
        verify_ok(pa, "continue");
        destroy_pa(pa);
    }
    /* The OS refuses: nothing is marked, and scavenging stops. */
    {
        cst st[NCST] = {{B, {{100, 1}, {300, 1}}, NONE, NONE}};
        ga_pagealloc *pa = build(st, false);
        g_fos.unused_fail_after = 1;   /* second call fails */
        size_t got = pa_scavenge(pa, SIZE_MAX, true);
        CHECK_EQ(got, 211 * PG);      /* [301, 512) only */
        CHECK(!pa_page_scavenged(pa, PB(B, 299)) && !pa_page_scavenged(pa, PB(B, 101)), "failed run left unscavenged");
        CHECK_EQ(pa_scavenged_free_pages(pa), 211);
        verify_ok(pa, "unused failure");
        g_fos.unused_fail_after = -1;
        CHECK_EQ(pa_scavenge(pa, SIZE_MAX, true), (510 - 211) * PG);   /* retried later */
        verify_ok(pa, "unused retry");
        /* allocation takes scavenged pages and reports them */
        size_t sb;
        CHECK_EQ(pa_alloc(pa, 100, &sb), PB(B, 0));
        CHECK_EQ(sb, 100 * PG);
        destroy_pa(pa);
    }
}

/* ---- checker catches corruption ---------------------------------------------------------- */
static void expect_violation(ga_pagealloc *pa, const char *inv, const char *what)
{
    ga_report r;
    int rc = pa_verify(pa, &r);
    CHECK(rc == 40 && r.code == 40 && strcmp(r.invariant, inv) == 0, "%s: want %s, got rc %d %s: %s", what, inv, rc,
          r.invariant, r.message);
}

/* pa_first_unallocated at the edges the random test seldom reaches: no pages, a run ending
 * exactly at a range's end, one page past it (the gap, and past the last range), and bits
 * set outside every range (only corruption does that: the range still decides). */
static void test_first_unallocated(void)
{
    fos_reset();
    ga_pagealloc *pa = new_pa();
    CHECK(pa_grow(pa, chunk_base(B), CHUNKB) == 0 && pa_grow(pa, chunk_base(B + 2), CHUNKB) == 0, "grow two ranges");
    CHECK(pa_first_unallocated(pa, PB(B, 7), 0) == 0, "no pages: none is unallocated");
    CHECK(pa_first_unallocated(pa, PB(B, 7), 3) == PB(B, 7), "a free page");
    uintptr_t a0 = pa_alloc(pa, P, NULL), a2 = pa_alloc(pa, P, NULL);
    CHECK(a0 == PB(B, 0) && a2 == PB(B + 2, 0), "both chunks allocated whole: %#" PRIxPTR " %#" PRIxPTR, a0, a2);
    CHECK(pa_first_unallocated(pa, PB(B, 100), P - 100) == 0, "up to the range's end: all allocated");
    CHECK(pa_first_unallocated(pa, PB(B, 100), P - 100 + 1) == chunk_base(B + 1), "one page past the range: the gap");
    CHECK(pa_first_unallocated(pa, PB(B + 2, 500), P - 500) == 0, "up to the last range's end");
    CHECK(pa_first_unallocated(pa, PB(B + 2, 500), P - 500 + 1) == chunk_base(B + 3), "one page past the last range");
    uint64_t *g1 = pa_test_chunk_bits(pa, chunk_base(B + 1), false), *g3 = pa_test_chunk_bits(pa, chunk_base(B + 3), false);
    CHECK(g1 && g3, "the gap chunks share the grown chunks' block");
    if (g1 && g3) {
        memset(g1, 0xff, 8 * sizeof *g1);
        memset(g3, 0xff, 8 * sizeof *g3);
        CHECK(pa_first_unallocated(pa, PB(B, 100), P) == chunk_base(B + 1), "gap bits set: still outside every range");
        CHECK(pa_first_unallocated(pa, PB(B + 2, 500), P) == chunk_base(B + 3), "bits set past the last range: still outside");
        memset(g1, 0, 8 * sizeof *g1);
        memset(g3, 0, 8 * sizeof *g3);
    }
    /* the last chunk of the 48-bit offset space: a run may end exactly at its top */
    const uint64_t last = ((uint64_t)1 << 26) - 1;
    CHECK(pa_grow(pa, chunk_base(last), CHUNKB) == 0 && pa_alloc(pa, P, NULL) == PB(last, 0), "the top chunk, allocated whole");
    CHECK(pa_first_unallocated(pa, PB(last, 500), P - 500) == 0, "a run ending at the top of the offset space");
    CHECK(pa_first_unallocated(pa, PB(last, 500), P - 500 + 1) == PB(last, 500), "one page past the top");
    pa_free(pa, PB(B, 300), 1);
    CHECK(pa_first_unallocated(pa, PB(B, 0), 3 * P) == PB(B, 300), "a hole in the middle comes first");
    destroy_pa(pa);
}

static void test_checker(void)
{
    cst st[NCST] = {{B, {{10, 1}, {500, 1}}, {{100, 50}}, NONE}, {B + 1, NONE, NONE, NONE}, {B + 9, FULL, NONE, NONE}};
    const uintptr_t a = chunk_base(B);
    for (unsigned l = 0; l < GA_SUMMARY_LEVELS; l++) {
        ga_pagealloc *pa = build(st, false);
        size_t i = pa_test_summary_index(l, a);
        ga_pallocsum s = pa_test_get_summary(pa, l, i);
        unsigned ms = ga_pallocsum_max(s);
        /* same shape, max one smaller: only the recomputation can tell */
        unsigned st0 = ga_pallocsum_start(s), en = ga_pallocsum_end(s);
        CHECK(ms - 1 >= st0 && ms - 1 >= en, "level %u corruption keeps a valid shape", l);
        pa_test_set_summary(pa, l, i, ga_pack_pallocsum(st0, ms - 1, en));
        char what[64];
        snprintf(what, sizeof what, "summary level %u", l);
        expect_violation(pa, l == 4 ? "D1" : "D2", what);
        ga_report r;
        pa_verify(pa, &r);
        char lv[16];
        snprintf(lv, sizeof lv, "level %u", l);
        CHECK(strstr(r.message, lv) != NULL, "message names %s: %s", lv, r.message);
        /* an impossible shape is D3 */
        pa_test_set_summary(pa, l, i, l == 0 ? (1ull << 63) | 1 : ga_pack_pallocsum(20, 10, 0));
        snprintf(what, sizeof what, "shape level %u", l);
        expect_violation(pa, "D3", what);
        destroy_pa(pa);
    }
    ga_pagealloc *pa = build(st, false);
    uint64_t *al = pa_test_chunk_bits(pa, a, false), *sc = pa_test_chunk_bits(pa, a, true);
    /* D1: bits changed behind the summaries' back */
    al[5] ^= 1;
    expect_violation(pa, "D1", "bitmap without update");
    al[5] ^= 1;
    verify_ok(pa, "restored");
    /* D4 */
    sc[0] |= 1ull << 10;
    expect_violation(pa, "D4", "alloc and scav");
    sc[0] &= ~(1ull << 10);
    /* a leaf of a chunk outside inUse */
    pa_test_set_summary(pa, 4, pa_test_summary_index(4, chunk_base(B + 2)), ga_pack_pallocsum(1, 1, 0));
    expect_violation(pa, "D1", "leaf outside inUse");
    pa_test_set_summary(pa, 4, pa_test_summary_index(4, chunk_base(B + 2)), 0);
    /* a root entry covering nothing */
    pa_test_set_summary(pa, 0, 5, 1ull << 63);
    expect_violation(pa, "D2", "root outside inUse");
    pa_test_set_summary(pa, 0, 5, 0);
    verify_ok(pa, "restored 2");
    /* D5: searchAddr above a free page, and outside inUse */
    pa_test_set_search_addr(pa, PB(B, 20));
    expect_violation(pa, "D5", "searchAddr above free page");
    pa_test_set_search_addr(pa, chunk_base(B + 3));
    expect_violation(pa, "D5", "searchAddr outside inUse");
    pa_test_set_search_addr(pa, chunk_base(B));
    /* D8 */
    pa_test_set_index(pa, a, 3, true);
    expect_violation(pa, "D8", "index count");
    pa_test_set_index(pa, a, 2, false);
    expect_violation(pa, "D8", "HasFree clear with free unscavenged pages");
    pa_test_set_index(pa, a, 2, true);
    verify_ok(pa, "restored 3");
    /* D6: adjacent ranges, misaligned range, bounds */
    rlist rl = {0};
    pa_for_each_range(pa, collect, &rl);
    CHECK(rl.n == 2, "two ranges");
    pa_test_set_range(pa, 0, chunk_base(B), chunk_base(B + 9));
    expect_violation(pa, "D6", "adjacent ranges");
    pa_test_set_range(pa, 0, chunk_base(B), chunk_base(B + 2) + PG);
    expect_violation(pa, "D6", "unaligned range");
    pa_test_set_range(pa, 0, chunk_base(B), chunk_base(B + 2));
    pa_test_set_bounds(pa, B, B + 9);
    expect_violation(pa, "D6", "bounds");
    pa_test_set_bounds(pa, B, B + 10);
    verify_ok(pa, "restored 4");
    /* D9 */
    ga_pagecache c = pa_alloc_to_cache(pa);
    ga_report r;
    CHECK(pa_verify_cache(pa, &c, &r) == 0, "fresh cache ok: %s", r.message);
    ga_pagecache bad = c;
    bad.scav |= ~bad.cache;
    CHECK(pa_verify_cache(pa, &bad, &r) == 40 && strcmp(r.invariant, "D9") == 0, "scav not subset");
    bad = c;
    bad.base += PG;
    CHECK(pa_verify_cache(pa, &bad, &r) == 40 && strcmp(r.invariant, "D9") == 0, "misaligned base");
    bad = c;
    sc[0] |= 1ull << 63;   /* a cached page scavenged globally (also breaks D4) */
    CHECK(pa_verify_cache(pa, &bad, &r) == 40 && strcmp(r.invariant, "D9") == 0, "cached page scavenged: %s", r.message);
    sc[0] &= ~(1ull << 63);
    ga_pagecache_flush(&c, pa);
    verify_ok(pa, "after flush");
    /* pa_dump mentions the ranges and the chunks */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pa_dump(pa, f);
    fclose(f);
    CHECK(buf && strstr(buf, "range [0x3000000000, 0x3000800000)") && strstr(buf, "chunk 0x200c000"), "dump: %s", buf);
    free(buf);
    destroy_pa(pa);
}

/* ---- metadata size and sparse blocks ----------------------------------------------------- */
/* A heap that grows 64 MiB holds its pageAlloc and the one 32 GiB block it grew into: about
 * 1.3 MiB in 2 mappings (when each summary level was one mapping spanning the whole address
 * space, pa_new alone held ~600 MB in 7). */
static void test_meta_small(void)
{
    fos_reset();
    ga_pagealloc *pa = new_pa();
    size_t m0 = pa_meta_bytes(pa);
    CHECK(m0 <= ((size_t)256 << 10) && g_fos.meta_calls == 1, "pa_new holds %zu bytes in %zu mappings", m0,
          g_fos.meta_calls);
    CHECK_EQ(g_fos.live_bytes, m0);
    verify_ok(pa, "empty");
    CHECK(pa_grow(pa, chunk_base(B), 16 * CHUNKB) == 0, "grow 64 MiB");
    size_t m1 = pa_meta_bytes(pa);
    CHECK(m1 < ((size_t)2 << 20) && g_fos.meta_calls == 2, "pa_new + 64 MiB grow hold %zu bytes in %zu mappings", m1,
          g_fos.meta_calls);
    CHECK_EQ(g_fos.live_bytes, m1);
    verify_ok(pa, "64 MiB");
    CHECK_EQ(pa_alloc(pa, 16 * P, NULL), chunk_base(B));
    verify_ok(pa, "64 MiB full");
    pa_free(pa, chunk_base(B), 16 * P);
    CHECK_EQ(pa_meta_bytes(pa), m1);   /* alloc and free never map metadata */
    destroy_pa(pa);
}

/* Memory in far-apart blocks: B's, one 4 TiB above it, two on either side of a block boundary
 * (one grow spanning both) and the last 64 MiB below the top of the 48-bit offset space. First
 * fit walks them in address order, summaries of blocks never grown read as 0, and the checker
 * sees a corrupt summary in any block. */
#define FAR ((uint64_t)B + 0x100000)
#define TOP (((uint64_t)1 << 26) - 16)
#define EDGE ((uint64_t)0x2010000)   /* first chunk of block 0x1008 */
static void test_far_blocks(void)
{
    fos_reset();
    ga_pagealloc *pa = new_pa();
    size_t m0 = pa_meta_bytes(pa);
    CHECK(pa_grow(pa, chunk_base(B), 16 * CHUNKB) == 0, "grow B");
    size_t blk = pa_meta_bytes(pa) - m0;   /* one block */
    CHECK(pa_grow(pa, chunk_base(TOP), 16 * CHUNKB) == 0, "grow top");
    CHECK_EQ(chunk_base(TOP) + 16 * CHUNKB, (uintptr_t)0x0000800000000000ull);   /* ends at offset 2^48 */
    CHECK(pa_grow(pa, chunk_base(FAR), 16 * CHUNKB) == 0, "grow far");
    CHECK(pa_grow(pa, chunk_base(EDGE - 2), 4 * CHUNKB) == 0, "grow across a block boundary");
    CHECK_EQ(pa_meta_bytes(pa), m0 + 5 * blk);
    CHECK_EQ(g_fos.live_bytes, pa_meta_bytes(pa));
    verify_ok(pa, "far grown");
    /* the root entry of the top: its last 16 chunks are free */
    size_t rt = pa_test_summary_index(0, chunk_base(TOP));
    CHECK_EQ(rt, ((size_t)1 << 14) - 1);
    CHECK_EQ(pa_test_get_summary(pa, 0, rt), ga_pack_pallocsum(0, 16 * P, 16 * P));
    CHECK_EQ(pa_test_get_summary(pa, 4, pa_test_summary_index(4, chunk_base(TOP + 15))), ga_pack_pallocsum(P, P, P));
    /* a block never grown: every level reads 0; a write there is dropped */
    uintptr_t hole = chunk_base(B + 0x80000);
    for (unsigned l = 1; l < GA_SUMMARY_LEVELS; l++) {
        size_t i = pa_test_summary_index(l, hole);
        CHECK_EQ(pa_test_get_summary(pa, l, i), 0);
        pa_test_set_summary(pa, l, i, ga_pack_pallocsum(1, 1, 1));
        CHECK_EQ(pa_test_get_summary(pa, l, i), 0);
    }
    CHECK_EQ(pa_test_get_summary(pa, 0, pa_test_summary_index(0, hole)), 0);
    CHECK_EQ(pa_meta_bytes(pa), m0 + 5 * blk);
    verify_ok(pa, "writes to an absent block dropped");
    /* first fit in address order: B, the straddling range, FAR, TOP */
    size_t sb;
    CHECK_EQ(pa_alloc(pa, 16 * P, &sb), chunk_base(B));
    CHECK_EQ(sb, 16 * P * PG);
    CHECK_EQ(pa_alloc(pa, 3 * P + 5, NULL), chunk_base(EDGE - 2));   /* spans blocks 0x1007 and 0x1008 */
    verify_ok(pa, "across blocks");
    CHECK_EQ(pa_alloc(pa, 16 * P, NULL), chunk_base(FAR));
    CHECK_EQ(pa_alloc(pa, 16 * P, NULL), chunk_base(TOP));
    CHECK_EQ(pa_alloc(pa, P - 4, NULL), 0);                  /* only 507 pages are left, at EDGE + 1 */
    CHECK_EQ(pa_alloc(pa, P - 5, NULL), PB(EDGE + 1, 5));
    CHECK_EQ(pa_alloc(pa, 1, NULL), 0);
    CHECK_EQ(pa_search_addr(pa), (uintptr_t)0x00007fffffffffffull);
    CHECK_EQ(pa_test_get_summary(pa, 0, rt), 0);
    verify_ok(pa, "all allocated");
    /* free at the top and far away: both come back, lowest first */
    pa_free(pa, PB(TOP + 15, 500), 12);
    pa_free(pa, PB(FAR + 3, 7), 2);
    verify_ok(pa, "freed far and top");
    CHECK_EQ(pa_test_get_summary(pa, 0, rt), ga_pack_pallocsum(0, 12, 12));
    CHECK_EQ(pa_alloc(pa, 2, NULL), PB(FAR + 3, 7));
    CHECK_EQ(pa_alloc(pa, 3, NULL), PB(TOP + 15, 500));
    CHECK_EQ(pa_alloc(pa, 9, NULL), PB(TOP + 15, 503));
    CHECK_EQ(pa_alloc(pa, 1, NULL), 0);
    pa_free(pa, chunk_base(FAR), 16 * P);
    verify_ok(pa, "far freed");
    CHECK_EQ(pa_alloc(pa, 1, NULL), chunk_base(FAR));
    verify_ok(pa, "far reused");
    /* corruption in the far block: a leaf (D1), an inner summary (D2) */
    size_t li = pa_test_summary_index(4, chunk_base(FAR + 3));
    CHECK_EQ(pa_test_get_summary(pa, 4, li), ga_pack_pallocsum(P, P, P));
    pa_test_set_summary(pa, 4, li, ga_pack_pallocsum(0, P - 1, P - 1));
    expect_violation(pa, "D1", "far leaf");
    pa_test_set_summary(pa, 4, li, ga_pack_pallocsum(P, P, P));
    verify_ok(pa, "far leaf restored");
    size_t i2 = pa_test_summary_index(2, chunk_base(FAR));
    ga_pallocsum s2 = pa_test_get_summary(pa, 2, i2);
    pa_test_set_summary(pa, 2, i2, ga_pack_pallocsum(0, ga_pallocsum_max(s2) - 1, ga_pallocsum_end(s2)));
    expect_violation(pa, "D2", "far level 2");
    pa_test_set_summary(pa, 2, i2, s2);
    /* ... and in the top block; a root entry inside the block window covering nothing */
    size_t i3 = pa_test_summary_index(3, chunk_base(TOP));
    ga_pallocsum s3 = pa_test_get_summary(pa, 3, i3);
    pa_test_set_summary(pa, 3, i3, ga_pack_pallocsum(20, 10, 0));
    expect_violation(pa, "D3", "top level 3 shape");
    pa_test_set_summary(pa, 3, i3, s3);
    size_t r1 = pa_test_summary_index(0, chunk_base(FAR)) + 1;   /* FAR's block's other root entry */
    pa_test_set_summary(pa, 0, r1, 1ull << 63);
    expect_violation(pa, "D2", "root entry in a grown block covering nothing");
    pa_test_set_summary(pa, 0, r1, 0);
    verify_ok(pa, "restored");
    destroy_pa(pa);
}

/* ---- metadata failures --------------------------------------------------------------------- */
static void test_nomem(void)
{
    /* pa_new: fail each of its alloc_meta calls in turn */
    fos_reset();
    ga_pagealloc *pa = new_pa();
    size_t calls = g_fos.meta_calls;
    destroy_pa(pa);
    for (size_t k = 0; k < calls; k++) {
        fos_reset();
        g_fos.meta_fail_after = (long)k;
        errno = 0;
        pa = pa_new(&g_fos.os);
        CHECK(pa == NULL && errno == ENOMEM, "pa_new with alloc_meta #%zu failing", k);
        CHECK(g_fos.live_bytes == 0, "pa_new failure leaked %zu bytes", g_fos.live_bytes);
    }
    fos_reset();
    /* pa_grow: new L2 block fails */
    pa = new_pa();
    CHECK(pa_grow(pa, chunk_base(B), CHUNKB) == 0, "grow");
    size_t live = g_fos.live_bytes;
    g_fos.meta_fail_after = 0;
    errno = 0;
    CHECK(pa_grow(pa, chunk_base(B + 0x100000), CHUNKB) == -1 && errno == ENOMEM, "grow ENOMEM");
    CHECK_EQ(g_fos.live_bytes, live);
    CHECK_EQ(pa_total_pages(pa), P);
    CHECK(!pa_contains(pa, chunk_base(B + 0x100000)), "failed grow not in use");
    verify_ok(pa, "after failed grow");
    /* a grow spanning two L2 blocks where the second allocation fails: the first is returned */
    g_fos.meta_fail_after = 1;
    CHECK(pa_grow(pa, chunk_base(B + 0x200000 - 1), 2 * CHUNKB) == -1, "grow across blocks ENOMEM");
    CHECK_EQ(g_fos.live_bytes, live);
    verify_ok(pa, "after failed grow 2");
    /* the range list must grow: fail that */
    g_fos.meta_fail_after = -1;
    for (int k = 1; k < 16; k++)
        CHECK(pa_grow(pa, chunk_base(B + 2 * (uint64_t)k), CHUNKB) == 0, "grow %d", k);
    live = g_fos.live_bytes;
    g_fos.meta_fail_after = 0;
    CHECK(pa_grow(pa, chunk_base(B + 40), CHUNKB) == -1 && errno == ENOMEM, "range list growth ENOMEM");
    CHECK_EQ(g_fos.live_bytes, live);
    verify_ok(pa, "after failed range growth");
    /* ... but a grow that merges needs no new slot */
    CHECK(pa_grow(pa, chunk_base(B + 1), CHUNKB) == 0, "merging grow needs no metadata");
    g_fos.meta_fail_after = -1;
    CHECK(pa_grow(pa, chunk_base(B + 40), CHUNKB) == 0, "retry succeeds");
    verify_ok(pa, "after retry");
    destroy_pa(pa);
}

/* ---- randomized differential test ------------------------------------------------------- */
#define NPOS 48
typedef pam_chunk mchunk;   /* the model: pa_fixture.h */
static uint64_t pos_ci[NPOS];
static mchunk mdl[NPOS];

#define mbit pam_bit
#define mset pam_put
static int slot_of(uint64_t ci)
{
    for (int k = 0; k < NPOS; k++)
        if (pos_ci[k] == ci)
            return k;
    return -1;
}
static uintptr_t maddr(int k, unsigned p) { return PB(pos_ci[k], p); }

/* pa_first_unallocated against the model: the first page of [a, +n pages) in no grown
 * chunk or not allocated, 0 if none. */
static uintptr_t model_first_unallocated(uintptr_t a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uintptr_t q = a + i * PG;
        int k = slot_of((uint64_t)((q - (uintptr_t)GA_ARENA_BASE_OFFSET) >> 22));
        unsigned p = (unsigned)((q % CHUNKB) / PG);
        if (k < 0 || !mdl[k].grown || !((mdl[k].a[p / 64] >> (p % 64)) & 1))
            return q;
    }
    return 0;
}

/* The reference model (pa_fixture.h) over this test's positions. */
static bool model_find(size_t n, int *rk, unsigned *rp) { return pam_find(mdl, pos_ci, NPOS, n, rk, rp); }
static size_t model_mark(int k, unsigned p, size_t n, bool alloc) { return pam_mark(mdl, k, p, n, alloc); }
static size_t model_scavenge(size_t want, bool force)
{
    return pam_scavenge(mdl, pos_ci, NPOS, want, force, NULL, 0, NULL, -1);
}

typedef pam_live live_t;

static void compare_model(ga_pagealloc *pa, const char *what, int step)
{
    size_t total = 0, alloc = 0, sfree = 0;
    unsigned bad = 0;
    for (int k = 0; k < NPOS; k++) {
        if (!mdl[k].grown) {
            if (pa_contains(pa, chunk_base(pos_ci[k])))
                bad++;
            continue;
        }
        uint64_t *ga = pa_test_chunk_bits(pa, chunk_base(pos_ci[k]), false);
        uint64_t *gs = pa_test_chunk_bits(pa, chunk_base(pos_ci[k]), true);
        if (!ga || !pa_contains(pa, chunk_base(pos_ci[k]))) {
            bad++;
            continue;
        }
        for (int w = 0; w < 8; w++) {
            if (ga[w] != mdl[k].a[w] || gs[w] != mdl[k].s[w])
                bad++;
            alloc += (size_t)__builtin_popcountll(mdl[k].a[w]);
            sfree += (size_t)__builtin_popcountll(mdl[k].s[w] & ~mdl[k].a[w]);
        }
        total += P;
    }
    CHECK(bad == 0, "step %d (%s): %u bitmap words differ from the model", step, what, bad);
    CHECK(pa_total_pages(pa) == total && pa_alloc_pages(pa) == alloc && pa_scavenged_free_pages(pa) == sfree &&
          pa_free_pages(pa) == total - alloc, "step %d (%s): counters total %zu/%zu alloc %zu/%zu scavfree %zu/%zu",
          step, what, pa_total_pages(pa), total, pa_alloc_pages(pa), alloc, pa_scavenged_free_pages(pa), sfree);
}

static void test_differential(void)
{
    for (int k = 0; k < NPOS; k++)
        pos_ci[k] = k < 40 ? B + (uint64_t)k : k < 44 ? B + 0x2000 + (uint64_t)(k - 40) : B + 0x100000 + (uint64_t)(k - 44);
    memset(mdl, 0, sizeof mdl);
    rng_state = 12345;
    fos_reset();
    ga_pagealloc *pa = new_pa();
    static live_t live[8192];
    size_t nlive = 0;
    ga_pagecache cache[2] = {{0, 0, 0}, {0, 0, 0}};
    unsigned long n_alloc_ok = 0, n_alloc_fail = 0, n_scav = 0, n_cache = 0, n_grow_fail = 0;
    size_t scav_bytes_total = 0;
    const int STEPS = 20000;
    const unsigned long fail0 = check_failed;
    for (int step = 0; step < STEPS; step++) {
        unsigned r = rndn(1000) / 10;
        const char *what = "";
        if (rndn(1000) < 3) {
            /* free everything: cycle through empty, fragmented and full heaps */
            what = "free-all";
            while (nlive) {
                live_t l = live[--nlive];
                int k = slot_of((uint64_t)((l.a - (uintptr_t)GA_ARENA_BASE_OFFSET) >> 22));
                model_mark(k, (unsigned)((l.a % CHUNKB) / PG), l.n, false);
                pa_free(pa, l.a, l.n);
            }
        } else if (r < 38) {
            what = "alloc";
            unsigned c = rndn(10);
            size_t n = c < 6 ? 1 + rndn(16) : c < 9 ? 17 + rndn(584) : 601 + rndn(1400);
            int k;
            unsigned p;
            bool ok = model_find(n, &k, &p);
            size_t sb = 99;
            uintptr_t a = pa_alloc(pa, n, &sb);
            if (ok) {
                size_t ms = model_mark(k, p, n, true);
                CHECK(a == maddr(k, p) && sb == ms * PG, "step %d alloc(%zu): got %#" PRIxPTR "/%zu want %#" PRIxPTR
                      "/%zu", step, n, a, sb / PG, maddr(k, p), ms);
                if (a && nlive < 8192)
                    live[nlive++] = (live_t){a, n};
                else if (a)
                    pa_free(pa, a, n), model_mark(k, p, n, false);
                n_alloc_ok++;
            } else {
                CHECK(a == 0 && sb == 0, "step %d alloc(%zu): got %#" PRIxPTR ", model has no room", step, n, a);
                n_alloc_fail++;
            }
        } else if (r < 70) {
            what = "free";
            if (nlive) {
                size_t i = rndn((unsigned)nlive);
                size_t n = live[i].n;
                bool front = false;
                if (n > 1 && rndn(4) == 0) {   /* free part of it: a prefix or a suffix */
                    n = 1 + rndn((unsigned)(n - 1));
                    front = rndn(2) != 0;
                }
                uintptr_t a = pam_take(live, &nlive, i, n, front);
                int k = slot_of((uint64_t)((a - (uintptr_t)GA_ARENA_BASE_OFFSET) >> 22));
                model_mark(k, (unsigned)((a % CHUNKB) / PG), n, false);
                pa_free(pa, a, n);
            }
        } else if (r < 75) {
            what = "grow";
            int k = (int)rndn(NPOS), len = 1 + (int)rndn(3), j;
            for (j = 0; j < len && k + j < NPOS && !mdl[k + j].grown &&
                        (j == 0 || pos_ci[k + j] == pos_ci[k + j - 1] + 1); j++)
                ;
            if (j > 0) {
                bool inject = rndn(2) == 0;   /* only bites when the grow needs metadata */
                if (inject)
                    g_fos.meta_fail_after = 0;
                int rc = pa_grow(pa, chunk_base(pos_ci[k]), (size_t)j * CHUNKB);
                g_fos.meta_fail_after = -1;
                if (rc != 0) {
                    CHECK(inject && errno == ENOMEM, "step %d: grow failed without injection", step);
                    n_grow_fail++;
                } else {
                    for (int q = 0; q < j; q++) {
                        mdl[k + q].grown = true;
                        memset(mdl[k + q].a, 0, sizeof mdl[k + q].a);
                        memset(mdl[k + q].s, 0xff, sizeof mdl[k + q].s);
                    }
                }
            }
        } else if (r < 85) {
            what = "scavenge";
            bool force = rndn(2);
            size_t nb = rndn(10) == 0 ? SIZE_MAX : (size_t)(1 + rndn(300)) * PG - rndn((unsigned)PG);
            size_t want = nb / PG + (nb % PG != 0);
            size_t exp = model_scavenge(want, force);
            uint64_t ub = g_fos.unused_bytes;
            size_t got = pa_scavenge(pa, nb, force);
            CHECK(got == exp * PG, "step %d scavenge(%zu pages, force=%d): got %zu want %zu pages", step, want, force,
                  got / PG, exp);
            CHECK(g_fos.unused_bytes - ub == got, "step %d: sysUnused bytes %" PRIu64 " != released %zu", step,
                  g_fos.unused_bytes - ub, got);
            scav_bytes_total += got;
            n_scav++;
        } else if (r < 95) {
            what = "cache";
            ga_pagecache *c = &cache[rndn(2)];
            n_cache++;
            if (c->cache == 0) {
                ga_pagecache want = pam_to_cache(mdl, pos_ci, NPOS);
                *c = pa_alloc_to_cache(pa);
                CHECK(c->base == want.base && c->cache == want.cache && c->scav == want.scav,
                      "step %d allocToCache: got (%#" PRIxPTR ",%#" PRIx64 ",%#" PRIx64 ") want (%#" PRIxPTR ",%#"
                      PRIx64 ",%#" PRIx64 ")", step, c->base, c->cache, c->scav, want.base, want.cache, want.scav);
            } else if (rndn(3)) {
                size_t n = 1 + rndn(16);
                ga_pagecache before = *c;
                /* reference: lowest run of n cache bits */
                int at = -1;
                for (unsigned i = 0; i + n <= 64 && at < 0; i++) {
                    uint64_t m = (n == 64 ? ALL : ((1ull << n) - 1)) << i;
                    if ((before.cache & m) == m)
                        at = (int)i;
                }
                size_t sb = 99;
                uintptr_t a = ga_pagecache_alloc(c, n, &sb);
                if (at < 0) {
                    CHECK(a == 0 && sb == 0 && c->cache == before.cache, "step %d cache alloc(%zu) should fail", step, n);
                } else {
                    uint64_t m = ((1ull << n) - 1) << at;
                    CHECK(a == before.base + (uintptr_t)at * PG &&
                          sb == (size_t)__builtin_popcountll(before.scav & m) * PG && c->cache == (before.cache & ~m) &&
                          c->scav == (before.scav & ~m), "step %d cache alloc(%zu)", step, n);
                    if (a && nlive < 8192)
                        live[nlive++] = (live_t){a, n};
                }
            } else {
                int k = slot_of((uint64_t)((c->base - (uintptr_t)GA_ARENA_BASE_OFFSET) >> 22));
                unsigned w = (unsigned)((c->base % CHUNKB) / PG) / 64;
                mdl[k].a[w] &= ~c->cache;
                mdl[k].s[w] |= c->scav;
                ga_pagecache_flush(c, pa);
                CHECK(c->cache == 0 && c->scav == 0, "step %d flush empties", step);
            }
        } else {
            what = "alloc1-burst";
            for (int j = 0; j < 8; j++) {
                int k;
                unsigned p;
                bool ok = model_find(1, &k, &p);
                uintptr_t a = pa_alloc(pa, 1, NULL);
                CHECK(ok ? a == maddr(k, p) : a == 0, "step %d alloc(1) burst", step);
                if (ok) {
                    model_mark(k, p, 1, true);
                    if (nlive < 8192)
                        live[nlive++] = (live_t){a, 1};
                }
            }
        }
        ga_report rep;
        int rc = pa_verify(pa, &rep);
        CHECK(rc == 0, "step %d (%s): pa_verify: %s %s", step, what, rep.invariant, rep.message);
        for (int j = 0; j < 2; j++) {
            rc = pa_verify_cache(pa, &cache[j], &rep);
            CHECK(rc == 0, "step %d (%s): cache %d: %s", step, what, j, rep.message);
        }
        compare_model(pa, what, step);
        {   /* the checker's range query, on a random run (often across chunks, often inside a
             * live one); its own random stream, so the mix above stays what it was */
            uint64_t z = (uint64_t)step * 0x9e3779b97f4a7c15ull;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            z ^= z >> 31;
            uintptr_t qa;
            size_t qn = 1 + (size_t)(z % ((z >> 8) % 4 ? 64 : 1100));
            if (nlive && (z >> 12) % 2) {
                live_t l = live[(z >> 16) % nlive];
                qa = l.a + (uintptr_t)((z >> 32) % l.n) * PG;
                if ((z >> 13) % 2) qn = l.n - (qa - l.a) / PG;   /* to its end exactly: all allocated */
            } else {
                qa = PB(pos_ci[(z >> 16) % NPOS], (unsigned)((z >> 32) % P));
            }
            uintptr_t got = pa_first_unallocated(pa, qa, qn), want = model_first_unallocated(qa, qn);
            CHECK(got == want, "step %d (%s): pa_first_unallocated(%#" PRIxPTR ", %zu) = %#" PRIxPTR ", model %#" PRIxPTR,
                  step, what, qa, qn, got, want);
        }
        if (check_failed > fail0 + 20) {
            fprintf(stderr, "differential: too many failures, stopping at step %d\n", step);
            pa_dump(pa, stderr);
            break;
        }
    }
    printf("differential: %d steps, %lu allocs ok, %lu failed, %lu scavenges (%zu MiB released), %lu cache ops, "
           "%lu injected grow failures, %zu live\n", STEPS, n_alloc_ok, n_alloc_fail, n_scav, scav_bytes_total >> 20,
           n_cache, n_grow_fail, nlive);
    CHECK(n_alloc_ok > 1000 && n_alloc_fail > 50 && n_scav > 500 && n_grow_fail > 0, "the mix exercised every path");
    destroy_pa(pa);
}

/* ---- quick benchmark -------------------------------------------------------------------- */
static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void bench(void)
{
    fos_reset();
    ga_pagealloc *pa = new_pa();
    const size_t NCH = 1024, N = 100000;
    CHECK(pa_grow(pa, chunk_base(B), NCH * CHUNKB) == 0, "bench grow");
    static uintptr_t addr[100000];
    static unsigned len[100000];
    rng_state = 777;
    for (size_t i = 0; i < N; i++)
        len[i] = 1 + rndn(8);
    double t0 = now_ns();
    size_t okn = 0;
    for (size_t i = 0; i < N; i++)
        addr[i] = pa_alloc(pa, len[i], NULL);
    double t1 = now_ns();
    for (size_t i = 0; i < N; i++)
        okn += addr[i] != 0;
    CHECK(okn == N, "bench: %zu of %zu allocations failed", N - okn, N);
    /* free in random order */
    for (size_t i = N - 1; i > 0; i--) {
        size_t j = rndn((unsigned)i + 1);
        uintptr_t ta = addr[i];
        unsigned tl = len[i];
        addr[i] = addr[j], len[i] = len[j], addr[j] = ta, len[j] = tl;
    }
    double t2 = now_ns();
    for (size_t i = 0; i < N / 2; i++)
        if (addr[i])
            pa_free(pa, addr[i], len[i]);
    double t3 = now_ns();
    /* fragmented: refill the holes */
    for (size_t i = 0; i < N / 2; i++)
        addr[i] = pa_alloc(pa, len[i], NULL);
    double t4 = now_ns();
    for (size_t i = 0; i < N; i++)
        if (addr[i])
            pa_free(pa, addr[i], len[i]);
    double t5 = now_ns();
    /* large: 100..1000 pages */
    size_t NL = 800;
    for (size_t i = 0; i < NL; i++)
        len[i] = 100 + rndn(900);
    double t6 = now_ns();
    size_t got = 0;
    for (size_t i = 0; i < NL; i++)
        if ((addr[i] = pa_alloc(pa, len[i], NULL)))
            got++;
    double t7 = now_ns();
    for (size_t i = 0; i < NL; i++)
        if (addr[i])
            pa_free(pa, addr[i], len[i]);
    double t8 = now_ns();
    verify_ok(pa, "bench");
    printf("bench (4 GiB grown, n=1..8): alloc %.0f ns/op sequential, %.0f ns/op into holes; free %.0f ns/op (random "
           "order), %.0f ns/op; large n=100..1000: alloc %.0f ns/op (%zu ok), free %.0f ns/op\n",
           (t1 - t0) / N, (t4 - t3) / (N / 2), (t3 - t2) / (N / 2), (t5 - t4) / N, (t7 - t6) / NL, got,
           (t8 - t7) / NL);
    destroy_pa(pa);
}

/* Every test must leave no metadata behind (pa_destroy releases every byte). */
#define RUN(t) do { t(); all_released(#t); } while (0)

int main(void)
{
    double t0 = now_ns();
    fos_reset();
    RUN(test_pack);
    RUN(test_summarize);
    RUN(test_pallocbits);
    RUN(test_pagecache_alloc);
    RUN(test_pagecache_flush);
    RUN(test_alloc_to_cache);
    RUN(test_grow);
    RUN(test_root);
    RUN(test_alloc);
    RUN(test_exhaust);
    RUN(test_free);
    RUN(test_scavenge_helpers);
    RUN(test_scavenge);
    RUN(test_checker);
    RUN(test_first_unallocated);
    RUN(test_meta_small);
    RUN(test_far_blocks);
    RUN(test_nomem);
    RUN(test_differential);
    RUN(bench);
    printf("test_pagealloc: %.2f s\n", (now_ns() - t0) / 1e9);
    TEST_MAIN_END();
}
