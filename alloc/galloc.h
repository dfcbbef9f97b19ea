/*
 * galloc.h — the public API of galloc, a Go-style (TCMalloc-family) allocator.
 *
 * Everything a program, the harness, the fuzzers and the stress driver need:
 * heap instances, caches (one per simulated P / per thread), allocation, explicit
 * free, GC-style cycles (the caller marks, sweeping reclaims), scavenging,
 * statistics, the invariant checker and a heap dump.
 *
 * Levels below this header, in call order:
 *   cache (mcache, tiny) -> central (mcentral) -> heap (mheap, arenas)
 *   -> pagealloc (radix tree) / pagecache -> scavenge -> os
 * See alloc/internal.h for the structures, shared/go-allocator-spec.md for the model.
 *
 * Thread safety: a ga_cache is owned by one thread at a time. ga_free, ga_lookup and
 * ga_usable_size may be called from any thread. GC cycles, ga_verify, ga_read_stats
 * (exact mode) and ga_heap_destroy require quiescence: no other thread inside the heap.
 */
#ifndef GALLOC_H
#define GALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ga_heap ga_heap;
typedef struct ga_cache ga_cache;
typedef struct ga_os ga_os;

/* ---- OS layer ------------------------------------------------------------------
 * Every byte galloc gets from the kernel goes through one of these hooks, so tests
 * can count calls, track per-page OS state and inject failures (alloc/os.h has a
 * ready-made test implementation). All return 0 on success, -1 on failure (errno set).
 */
struct ga_os {
    void *ctx;
    /* None -> Reserved: reserve [hint, hint+n) PROT_NONE. Returns the address the
     * kernel chose (may differ from hint) or NULL. */
    void *(*reserve)(void *ctx, void *hint, size_t n);
    /* Reserved -> Prepared: make [p, p+n) readable/writable. */
    int (*map)(void *ctx, void *p, size_t n);
    /* Prepared -> Ready: no-op on Linux, present so states can be tracked. */
    int (*used)(void *ctx, void *p, size_t n);
    /* Ready -> Prepared: give the physical pages back (madvise DONTNEED); the range
     * reads back as zero afterwards. */
    int (*unused)(void *ctx, void *p, size_t n);
    /* Any -> None for a whole reserved region. */
    int (*release)(void *ctx, void *p, size_t n);
    /* None -> Ready in one step, for metadata (zeroed). NULL on failure. */
    void *(*alloc_meta)(void *ctx, size_t n);
    void (*free_meta)(void *ctx, void *p, size_t n);
};

/* The real kernel (mmap/madvise/munmap). Stateless; safe to share. */
const ga_os *ga_os_default(void);

/* ---- Heap instances ------------------------------------------------------------ */
typedef struct ga_heap_options {
    const ga_os *os;           /* NULL: ga_os_default() */
    bool no_green_tea;         /* default false: Green Tea inline mark bits shape nelems (spec 1.5) */
    bool randomize_base;       /* default false: fixed arena hints from 0x00c000000000 */
    uint64_t seed;             /* for randomize_base */
    uintptr_t arena_hint;      /* 0: default hint list; else the first hint (64 MiB aligned) */
    size_t max_heap_bytes;     /* 0: unlimited; growth beyond fails with ENOMEM */
    /* Scavenger policy: keep at most this many free-but-unreleased bytes after each
     * ga_scavenge_policy() step. SIZE_MAX disables policy scavenging. 0 = default (2 MiB
     * retained, GA_DEFAULT_RETAIN in scavenge.c). */
    size_t scavenge_retain_bytes;
    bool poison_free;          /* fill freed slots with 0xdf bytes (junk) at sweep */
    int plant;                 /* ga_plant: a deliberate bug, for proving the harness (0 = none) */
    bool no_poison;            /* ASan/Valgrind builds: do not poison free slots (alloc/sanitize.h) */
} ga_heap_options;

/* Deliberate bugs that tests, fuzz campaigns and stress runs switch on to prove that the
 * harness catches them. Never on by default; each costs at most a predictable branch. */
typedef enum ga_plant {
    GA_PLANT_NONE = 0,
    GA_PLANT_REFILL_OFF_BY_ONE,    /* refillAllocCache reads the window one slot off */
    GA_PLANT_SUMMARY_MERGE,        /* radix-tree update forgets to extend a fully free child's end */
    GA_PLANT_NO_NEEDZERO,          /* reused spans claim needzero == 0 */
    GA_PLANT_LOST_SWEEP_REQUEST,   /* sweeping clears sweepRequested after consuming frees (a race) */
    GA_PLANT_CROSS_CACHE_FREE,     /* a free into a span cached by a cache drops its sweep request */
    GA_PLANT_GC_END_ORDER,         /* ga_gc_end clears marking before it bumps sweepgen (a race with frees) */
    GA_PLANT_GC_BEGIN_ONE_PASS,    /* ga_gc_begin sweeps once, before marking (a race with frees) */
    GA_PLANT_COUNT
} ga_plant;
const char *ga_plant_name(int plant);

/* Returns NULL with errno set on failure (ENOMEM from the OS layer). */
ga_heap *ga_heap_new(const ga_heap_options *opt);
/* Releases every byte the heap obtained, including all caches made from it. */
void ga_heap_destroy(ga_heap *h);

/* Take / release every lock of the heap (central locks, then the heap lock), e.g. in
 * pthread_atfork handlers so a child never inherits a lock held by a vanished thread. */
void ga_heap_lock_all(ga_heap *h);
void ga_heap_unlock_all(ga_heap *h);

/* ---- Caches (mcache, one per P / thread) --------------------------------------- */
ga_cache *ga_cache_new(ga_heap *h);             /* NULL + errno on failure */
void ga_cache_release(ga_cache *c);              /* releaseAll: give cached spans back */
void ga_cache_destroy(ga_cache *c);              /* release + free the struct */
ga_heap *ga_cache_heap(ga_cache *c);

/* ---- Allocation ------------------------------------------------------------------
 * flags: */
#define GA_NOSCAN  1u   /* object holds no pointers: noscan span class, tiny allocator eligible */
#define GA_ZERO    2u   /* memory must read as zero (calloc) */
#define GA_NOTINY  4u   /* never place in a tiny block (object must be individually freeable) */

/* size 0 returns a unique minimal object (class 1) unlike Go's zerobase, so that free
 * works uniformly. align: 0 or a power of two; any alignment up to 1 GiB is honoured.
 * Returns NULL with errno = ENOMEM (out of memory / overflow) or EINVAL (bad align).
 * Scan objects > 512 bytes carry Go's 8-byte malloc header; the pointer returned is
 * slot+8 and its alignment is 8 (pass GA_NOSCAN for plain memory). */
void *ga_alloc(ga_cache *c, size_t size, size_t align, unsigned flags);

/* Result codes for free and friends. */
typedef enum ga_status {
    GA_OK = 0,
    GA_ERR_NOT_OWNED,      /* pointer is not inside any span of this heap */
    GA_ERR_INTERIOR,       /* inside an object but not its start (or misaligned) */
    GA_ERR_DOUBLE_FREE,    /* slot is already free or already freed */
    GA_ERR_TINY,           /* pointer is in a tiny block: only GC can reclaim it */
    GA_ERR_STATE,          /* operation not allowed in the heap's current state */
} ga_status;
const char *ga_status_name(ga_status s);

/* Explicit free from any thread, O(1). Misuse is detected and reported, never accepted. */
ga_status ga_free(ga_heap *h, void *p);
/* The same, from the thread that owns cache c: objects in a span c currently holds are
 * freed without atomics (the span's owner-only bitmap), everything else as ga_free.
 * A double free split between the owner and another thread is reported at sweep time
 * through the error handler. */
ga_status ga_free_local(ga_cache *c, void *p);

/* What galloc knows about a pointer. */
typedef struct ga_object_info {
    uintptr_t span_base;      /* start of the span, 0 if not owned */
    size_t span_npages;
    uintptr_t object;         /* start of the object the user sees (slot, +8 with header) */
    uintptr_t slot;           /* start of the slot */
    size_t slot_index;
    size_t elemsize;          /* slot size */
    size_t usable;            /* bytes usable from `object` */
    unsigned spanclass;
    unsigned sizeclass;
    bool allocated;           /* slot currently allocated (and not pending free) */
    bool tiny;                /* slot is a tiny block */
} ga_object_info;
/* Fills info; returns GA_OK, GA_ERR_NOT_OWNED or GA_ERR_INTERIOR (info still filled). */
ga_status ga_lookup(ga_heap *h, const void *p, ga_object_info *info);
/* Usable bytes of an allocated object starting at p, 0 if p is not such an object. */
size_t ga_usable_size(ga_heap *h, const void *p);

/* ---- GC-style cycles (stop-the-world: while a cycle runs, from ga_gc_begin to ga_gc_end,
 * no other thread allocates or uses a cache; ga_free from other threads may race with it)
 * ga_gc_begin: finish sweeping, flush every cache, clear marks, enter marking.
 * ga_gc_mark:  mark the object containing p live (interior pointers allowed).
 *              Returns false if p is not an allocated object.
 * ga_gc_end:   leave marking; sweepgen += 2, so every span needs sweeping; spans
 *              are swept lazily on allocation, by ga_sweep, or by ga_gc_finish_sweep.
 * Allocations made while marking are allocated black (survive the cycle). */
void ga_gc_begin(ga_heap *h);
bool ga_gc_mark(ga_heap *h, const void *p);
void ga_gc_end(ga_heap *h);
/* Sweep up to max_spans spans needing it (SIZE_MAX: all). Returns spans swept. */
size_t ga_sweep(ga_heap *h, size_t max_spans);
bool ga_gc_marking(ga_heap *h);

/* ---- Scavenger ------------------------------------------------------------------- */
/* Return up to nbytes of free pages to the OS (SIZE_MAX: all). Returns bytes released. */
size_t ga_scavenge(ga_heap *h, size_t nbytes);
/* One step of the policy scavenger: sweeps pending spans, then releases free memory
 * beyond options.scavenge_retain_bytes. Returns bytes released. */
size_t ga_scavenge_policy(ga_heap *h);

/* ---- Statistics (mirrors runtime.MemStats) ---------------------------------------- */
#define GA_NUM_SIZE_CLASSES 68
typedef struct ga_stats {
    uint64_t heap_alloc;      /* bytes of allocated objects (slots) */
    uint64_t heap_sys;        /* bytes of heap address space obtained from the OS and mapped */
    uint64_t heap_idle;       /* bytes in free pages (including released) */
    uint64_t heap_inuse;      /* bytes in in-use spans */
    uint64_t heap_released;   /* bytes returned to the OS */
    uint64_t heap_objects;    /* live objects */
    uint64_t mallocs, frees;  /* cumulative object counts (tiny allocs counted as objects) */
    uint64_t total_alloc;     /* cumulative bytes allocated */
    uint64_t large_alloc, large_alloc_count, large_free, large_free_count;
    uint64_t tiny_allocs;
    uint64_t num_gc;
    uint64_t spans_inuse, pages_inuse;
    uint64_t sys;             /* all bytes mapped from the OS, metadata included */
    uint64_t meta_sys;        /* metadata bytes mapped: spans, bitmaps, caches, the heap itself,
                               * the arena index (32 MiB, touched sparsely), the page allocator */
    struct { uint64_t size, mallocs, frees; } by_size[GA_NUM_SIZE_CLASSES];
} ga_stats;
/* Reads statistics. Exact (invariants E1-E4, E6, E8 of verify.c hold) when the heap is quiescent; counts held in
 * live caches are folded in without flushing them. */
void ga_read_stats(ga_heap *h, ga_stats *st);

/* ---- Invariant checker -------------------------------------------------------------- */
typedef struct ga_report {
    int code;                 /* 0: no violation; else a GA_V_* code from alloc/verify.h */
    char invariant[16];       /* spec name, e.g. "A5", "D2" */
    uintptr_t span;           /* span base involved, 0 if none */
    uintptr_t addr;           /* page / slot / object address involved, 0 if none */
    long slot;                /* slot index, -1 if none */
    char message[400];        /* one line naming the span/slot/page and the values */
} ga_report;
/* Checks every invariant at every level; returns 0 if all hold, else the code of the
 * first violation (also in *r). Never aborts. Requires quiescence. */
int ga_verify(ga_heap *h, ga_report *r);
/* Cheaper: only the span containing p (span-level invariants A1-A12, list membership). */
int ga_verify_span(ga_heap *h, const void *p, ga_report *r);
/* The same with flags: GA_VERIFY_NO_ZERO_SCAN skips A12 (free slots of a span that needs
 * no zeroing read as zero), the one check whose cost grows with the span's free bytes. */
#define GA_VERIFY_NO_ZERO_SCAN 1u
int ga_verify_span_ex(ga_heap *h, const void *p, unsigned flags, ga_report *r);
/* Prints spans, classes and page-allocator state. */
void ga_dump(ga_heap *h, FILE *out);

/* The raw bookkeeping of the span holding p, copied out for an outside model to judge
 * (the harness predicts these from its own record of live and freed objects; nothing here
 * is a verdict). Slot i is allocated iff i < freeindex or bit i of alloc_bits; bit k of
 * alloc_cache says slot freeindex+k is free. Only the first ceil(nelems/64) words of the
 * bitmaps are filled. Returns 0, or -1 if p is in no InUse span (*out zeroed).
 * Requires quiescence, like ga_verify. */
#define GA_SPAN_RAW_WORDS 16
typedef struct ga_span_raw {
    uintptr_t base;
    size_t npages, elemsize;
    unsigned nelems, spanclass, freeindex, alloc_count;
    unsigned allocated_below; /* a multiple of 64 (or nelems) <= freeindex: every slot below is allocated */
    uint64_t alloc_cache;
    uint64_t alloc_bits[GA_SPAN_RAW_WORDS];
    uint64_t freed_bits[GA_SPAN_RAW_WORDS];        /* explicit frees not yet swept */
    uint64_t owner_freed_bits[GA_SPAN_RAW_WORDS];  /* the owning cache's frees not yet swept */
    uint64_t tiny_bits[GA_SPAN_RAW_WORDS];         /* slots that are tiny blocks */
    bool cached;              /* an mcache holds it */
    bool sweep_requested;     /* an explicit free asked for a sweep */
    bool needs_sweep;         /* unswept since the last GC cycle (sweepgen == h - 2) */
} ga_span_raw;
int ga_span_raw_of(ga_heap *h, const void *p, ga_span_raw *out);
/* The base addresses of the InUse spans (up to max of them into out, in no particular
 * order); returns how many there are. Requires quiescence. */
size_t ga_span_bases(ga_heap *h, uintptr_t *out, size_t max);

/* Misuse reporting hook: called by ga_free and friends when they detect misuse, before
 * returning the error code. Default: none (the caller handles the code). */
typedef void (*ga_error_fn)(void *ctx, ga_status st, const void *p, const char *what);
void ga_set_error_handler(ga_heap *h, ga_error_fn fn, void *ctx);

/* ---- libgalloc ------------------------------------------------------------------------
 * In a process running on libgalloc (LD_PRELOAD or libgalloc.a), the process-wide heap
 * behind malloc/free (created on first use). Not defined by galloc_core alone. */
ga_heap *ga_malloc_heap(void);

#ifdef __cplusplus
}
#endif
#endif
