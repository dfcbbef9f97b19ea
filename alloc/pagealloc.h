/*
 * pagealloc.h — the page allocator (spec §6, §7, §6.8): which 8 KiB pages of the heap's
 * address space are free, allocated and scavenged.
 *
 * Owns: per-chunk (512 pages = 4 MiB) pallocBits and scavenged bitmaps, the 5-level
 * radix tree of packed pallocSum summaries, searchAddr, the inUse address ranges, the
 * per-chunk scavenge index, and the per-cache 64-page pageCache. Address-ordered first
 * fit: pa_alloc(n) returns the lowest address of a run of n free pages.
 * Not thread-safe: the caller (heap.c) holds the heap lock around every call.
 * Calls: the OS layer only (metadata mappings; sysUnused when scavenging). It never
 * reads or writes heap pages themselves.
 */
#ifndef GA_PAGEALLOC_H
#define GA_PAGEALLOC_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "galloc.h"
#include "sizeclass.h"
#include "bits.h"

#define GA_PALLOC_CHUNK_PAGES   512
#define GA_PALLOC_CHUNK_BYTES   ((uintptr_t)GA_PALLOC_CHUNK_PAGES * GA_PAGE_SIZE)  /* 4 MiB */
#define GA_SUMMARY_LEVELS       5
#define GA_ARENA_BASE_OFFSET    ((uintptr_t)0xffff800000000000ull)
#define GA_PAGE_CACHE_PAGES     64

typedef uint64_t ga_pallocsum;

/* The per-P page cache (spec §7). Empty iff cache == 0. */
typedef struct ga_pagecache {
    uintptr_t base;     /* 64-page aligned within its chunk */
    uint64_t cache;     /* bit i: page base+i*8192 is free in the cache */
    uint64_t scav;      /* bit i: that page is scavenged (scav ⊆ cache) */
} ga_pagecache;

typedef struct ga_pagealloc ga_pagealloc;   /* defined in pagealloc.c's private part below */

/* --- life cycle --- */
/* Allocates the pageAlloc and its sparse metadata through `os`. NULL on failure. */
ga_pagealloc *pa_new(const ga_os *os);
void pa_destroy(ga_pagealloc *pa);

/* --- the operations the heap uses --- */
/* Adds [base, base+size) (chunk-aligned, chunk-multiple) as free, scavenged pages.
 * Returns 0, or -1 with errno = ENOMEM if metadata could not be mapped (state unchanged). */
int pa_grow(ga_pagealloc *pa, uintptr_t base, size_t size);
/* First fit of npages. Returns the base, 0 on failure; *scav_bytes = bytes of the run that
 * were scavenged (their scavenged bits are now clear). */
uintptr_t pa_alloc(ga_pagealloc *pa, size_t npages, size_t *scav_bytes);
/* Frees [base, base+npages*8192). Scavenged bits are not touched. */
void pa_free(ga_pagealloc *pa, uintptr_t base, size_t npages);
/* Fills a page cache from searchAddr (allocToCache); empty cache if no free page. */
ga_pagecache pa_alloc_to_cache(ga_pagealloc *pa);
/* Frees [base, base+npages) and marks the pages scavenged: undoes an allocation whose
 * pages never became Ready (the OS refused sysUsed), so they keep counting as released. */
void pa_free_scavenged(ga_pagealloc *pa, uintptr_t base, size_t npages);
/* Lock-free part: allocate npages from a cache; 0 on failure. */
uintptr_t ga_pagecache_alloc(ga_pagecache *c, size_t npages, size_t *scav_bytes);
/* Return everything left in the cache to pa (heap lock held); empties *c. */
void ga_pagecache_flush(ga_pagecache *c, ga_pagealloc *pa);
/* Releases up to nbytes (rounded up to pages) of free, unscavenged pages to the OS via
 * os->unused, highest addresses first, and marks them scavenged. force=false honours the
 * density rule (chunks ≥ 496 pages in use are skipped). Returns bytes released. */
size_t pa_scavenge(ga_pagealloc *pa, size_t nbytes, bool force);

/* GA_PLANT_SUMMARY_MERGE: inner-level updates use a merge that forgets to extend `end`
 * over a fully free child (the checker recomputes with the correct merge). */
void pa_set_plant(ga_pagealloc *pa, int on);

/* --- queries (for stats and the checker) --- */
size_t pa_free_pages(const ga_pagealloc *pa);            /* alloc bit 0 */
size_t pa_scavenged_free_pages(const ga_pagealloc *pa);  /* alloc 0 and scav 1 */
size_t pa_alloc_pages(const ga_pagealloc *pa);           /* alloc bit 1 */
size_t pa_total_pages(const ga_pagealloc *pa);           /* all pages ever grown */
bool pa_page_allocated(const ga_pagealloc *pa, uintptr_t addr);
bool pa_page_scavenged(const ga_pagealloc *pa, uintptr_t addr);
bool pa_contains(const ga_pagealloc *pa, uintptr_t addr);  /* addr is in an inUse range */
/* The first page of the npages pages from addr (page aligned) that lies in no inUse range
 * or is not allocated, or 0 if every one is both: the checker's per-span question, a word
 * of the bitmap at a time instead of two lookups per page. */
uintptr_t pa_first_unallocated(const ga_pagealloc *pa, uintptr_t addr, size_t npages);
uintptr_t pa_search_addr(const ga_pagealloc *pa);
/* Calls fn for each inUse range [base, limit). */
void pa_for_each_range(const ga_pagealloc *pa, void (*fn)(void *ctx, uintptr_t base, uintptr_t limit), void *ctx);

/* Page-allocator invariants D1..D6, D8 (spec §10.D), summaries at every level against a
 * recomputation. Returns 0 or the first violation written to r (code GA_V_PAGEALLOC). */
int pa_verify(const ga_pagealloc *pa, ga_report *r);
/* D9: a live page cache against the allocator. */
int pa_verify_cache(const ga_pagealloc *pa, const ga_pagecache *c, ga_report *r);
void pa_dump(const ga_pagealloc *pa, FILE *out);

/* --- pure helpers, exported for unit tests (spec §6.2, §6.3, §6.6) --- */
ga_pallocsum ga_pack_pallocsum(unsigned start, unsigned max, unsigned end);
unsigned ga_pallocsum_start(ga_pallocsum s);
unsigned ga_pallocsum_max(ga_pallocsum s);
unsigned ga_pallocsum_end(ga_pallocsum s);
ga_pallocsum ga_palloc_summarize(const uint64_t bits[8]);
unsigned ga_find_bit_range64(uint64_t c, unsigned n);
/* pallocBits.find: returns index or ~0u; *search_idx gets the first free index seen. */
unsigned ga_pallocbits_find(const uint64_t bits[8], unsigned npages, unsigned search_idx, unsigned *new_search_idx);

/* ==== Additions by the page-allocator level (everything above is the fixed interface) ==== */

/* Bytes of metadata currently held from os->alloc_meta (for ga_stats.meta_sys). */
size_t pa_meta_bytes(const ga_pagealloc *pa);

/* Chunks with at least this many pages in use are "dense": pa_scavenge(force=false) skips
 * them (scavChunkHiOccPages, spec §6.8). */
#define GA_SCAV_CHUNK_HI_OCC_PAGES 496
/* Transparent huge page (2 MiB) in 8 KiB pages. findScavengeCandidate widens a run down to a
 * huge-page boundary when the free run already covers it (spec §6.8 "avoids breaking huge
 * pages"), so one pa_scavenge call may release up to 255 pages more than asked. */
#define GA_PA_HUGE_PAGE_PAGES 256

/* More pure helpers for unit tests (spec §6.1, §6.8, §11.1, §11.8). Ranges are [i, i+n), n >= 1,
 * i + n <= 512. */
void ga_pallocbits_set_range(uint64_t bits[8], unsigned i, unsigned n);
void ga_pallocbits_clear_range(uint64_t bits[8], unsigned i, unsigned n);
unsigned ga_pallocbits_popcnt_range(const uint64_t bits[8], unsigned i, unsigned n);
/* Every m-aligned group of m bits (m a power of two <= 64) that has any bit set becomes all ones. */
uint64_t ga_fill_aligned(uint64_t x, unsigned m);
/* findScavengeCandidate: the highest run of free, unscavenged pages at or below word
 * search_idx/64, in multiples of min_pages, at most max_pages long (0: min_pages) unless widened
 * to a huge page. Returns the first page and sets *npages; *npages = 0 if none. */
unsigned ga_find_scavenge_candidate(const uint64_t alloc[8], const uint64_t scav[8], unsigned search_idx,
                                    unsigned min_pages, unsigned max_pages, unsigned *npages);

/* ---- Private: used only by pagecache.c (which implements §7 on top of these) ---- */
/* Pointers to the alloc and scavenged words holding the page at addr; false if its chunk was
 * never grown. */
bool pa__words(ga_pagealloc *pa, uintptr_t addr, uint64_t **alloc_word, uint64_t **scav_word);
/* allocToCache steps 1-3: the first free page at or after searchAddr, 0 if none (then
 * searchAddr becomes maxOffAddr when the radix search fails). */
uintptr_t pa__cache_first_free(ga_pagealloc *pa);
/* After pagecache.c set the alloc word of the 64-page block at base to all ones (npages of them
 * were free, nscav of those scavenged and now cleared): summaries, scavenge index, counters,
 * searchAddr = base + 63 pages. */
void pa__cache_took(ga_pagealloc *pa, uintptr_t base, unsigned npages, unsigned nscav);
/* After a flush cleared npages alloc bits and set nscav scavenged bits in the block at base. */
void pa__cache_returned(ga_pagealloc *pa, uintptr_t base, unsigned npages, unsigned nscav);
/* Writes a violation (code 40 = page allocator) into r if r is non-NULL; returns 40. */
int pa__report(ga_report *r, const char *inv, uintptr_t addr, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* ---- Test hooks (alloc/tests/test_pagealloc.c). They bypass every invariant. ---- */
/* NewPageAlloc for one chunk (spec §6.9): grow it if needed, clear its scavenged bits, mark
 * every page free in the scavenge index, set scav, apply alloc (which clears scav below it),
 * recompute its summaries; searchAddr is lowered to the chunk if above. 0 or -1 (ENOMEM). */
int pa_test_set_chunk(ga_pagealloc *pa, uintptr_t chunk_base, const uint64_t alloc[8], const uint64_t scav[8]);
/* The chunk's alloc or scavenged words, for direct reads/corruption; NULL if not grown. */
uint64_t *pa_test_chunk_bits(ga_pagealloc *pa, uintptr_t chunk_base, bool scav);
size_t pa_test_summary_index(unsigned level, uintptr_t addr);
ga_pallocsum pa_test_get_summary(const ga_pagealloc *pa, unsigned level, size_t index);
void pa_test_set_summary(ga_pagealloc *pa, unsigned level, size_t index, ga_pallocsum v);
void pa_test_set_search_addr(ga_pagealloc *pa, uintptr_t addr);
/* Tests: shifts the running count of allocated pages (pa_verify's Dcount must see it). */
void pa_test_skew_alloc_pages(ga_pagealloc *pa, long delta);
/* Scavenge-index entry of a chunk: pages in use and the HasFree flag. */
void pa_test_get_index(const ga_pagealloc *pa, uintptr_t chunk_base, unsigned *inuse, bool *has_free);
void pa_test_set_index(ga_pagealloc *pa, uintptr_t chunk_base, unsigned inuse, bool has_free);
/* Overwrite inUse range i (addresses) or the chunk bounds [start, end). */
void pa_test_set_range(ga_pagealloc *pa, size_t i, uintptr_t base, uintptr_t limit);
void pa_test_set_bounds(ga_pagealloc *pa, uint64_t start_ci, uint64_t end_ci);
#endif
