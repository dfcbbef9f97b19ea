/*
 * os.h — the OS layer (spec §5.4): the real kernel, and two test doubles.
 *
 * The heap reaches the kernel only through a ga_os (galloc.h). Declared here:
 *   - ga_os_default (os.c): the kernel (mmap / mprotect / madvise / munmap);
 *   - ga_testos (testos.c): a wrapper that counts calls, keeps the OS state of every page
 *     it has seen (None / Reserved / Prepared / Ready), reports illegal transitions, and
 *     fails chosen calls on demand;
 *   - ga_reuseos (reuseos.c): the fuzzers' recycler of a destroyed heap's memory.
 * The doubles are in galloc_core only (harness, tests, fuzzers), not in libgalloc.
 * None of them calls anything in galloc but another ga_os.
 */
#ifndef GA_OS_H
#define GA_OS_H
#include "galloc.h"

enum ga_os_call { GA_OS_RESERVE, GA_OS_MAP, GA_OS_USED, GA_OS_UNUSED, GA_OS_RELEASE,
                  GA_OS_ALLOC_META, GA_OS_FREE_META, GA_OS_NCALLS };
enum ga_page_state { GA_PAGE_NONE = 0, GA_PAGE_RESERVED, GA_PAGE_PREPARED, GA_PAGE_READY };

typedef struct ga_testos ga_testos;

/* Wraps `inner` (NULL: the real kernel). */
ga_testos *ga_testos_new(const ga_os *inner);
void ga_testos_free(ga_testos *t);
const ga_os *ga_testos_os(ga_testos *t);

/* Call counters and byte totals since creation. */
uint64_t ga_testos_calls(const ga_testos *t, enum ga_os_call call);
uint64_t ga_testos_bytes(const ga_testos *t, enum ga_os_call call);
/* Fail the call of kind `call` after `skip` more successful ones, `count` times
 * (count 0 disarms). Failing calls return -1/NULL with errno ENOMEM and change nothing. */
void ga_testos_fail(ga_testos *t, enum ga_os_call call, unsigned skip, unsigned count);
/* Fail the next call of any of RESERVE, MAP, ALLOC_META. */
void ga_testos_fail_next_alloc(ga_testos *t);
/* OS state of the 4 KiB page holding p, as far as this wrapper has seen. */
enum ga_page_state ga_testos_page_state(const ga_testos *t, const void *p);
/* Number of illegal transitions seen (e.g. unused on a page that is not Ready/Prepared,
 * map of a page that is not Reserved); the first is described in the buffer. */
uint64_t ga_testos_violations(const ga_testos *t, char *first, size_t n);
/* Bytes of metadata allocated (successfully) and not freed yet. */
uint64_t ga_testos_meta_live(const ga_testos *t);
/* Bytes currently in each state. */
uint64_t ga_testos_bytes_in_state(const ga_testos *t, enum ga_page_state st);

/* ga_reuseos: an OS layer that scrubs and keeps the regions and metadata blocks a heap gives
 * back and hands them, zeroed and in the same state as a fresh mapping, to the next heap
 * of the process (same address for the same hint). For fuzzers and test drivers that make
 * a heap per input: no mmap/munmap and no page faults after the first inputs. Wraps
 * `inner` (NULL: the kernel). Outlives every heap that uses it. */
typedef struct ga_reuseos ga_reuseos;
/* GA_REUSE_KEEP_MAPPED: a recycled region keeps the part earlier heaps mapped RW instead of
 * going back to PROT_NONE, and `unused` zeroes with memset: no system call per heap, but
 * a stray access to a page the current heap has not mapped yet no longer faults. */
#define GA_REUSE_KEEP_MAPPED 1u
ga_reuseos *ga_reuseos_new(const ga_os *inner, unsigned flags);
void ga_reuseos_free(ga_reuseos *r);
const ga_os *ga_reuseos_os(ga_reuseos *r);
/* Requests served from the cache, requests passed to `inner`, bytes zeroed by scrubbing. */
void ga_reuseos_stats(const ga_reuseos *r, uint64_t *hits, uint64_t *misses, uint64_t *scrubbed_bytes);
#endif
