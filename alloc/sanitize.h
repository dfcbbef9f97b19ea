/*
 * sanitize.h — telling ASan and Valgrind's memcheck which heap bytes are objects.
 *
 * Built with -fsanitize=address: free slots are poisoned (manual poisoning), so a
 * use-after-free or a write into a free slot of a galloc object is reported by ASan.
 * Built with -DGALLOC_VALGRIND=1: every heap is a memcheck memory pool (the heap's address
 * is the pool's name); allocations and frees are announced with VALGRIND_MEMPOOL_ALLOC /
 * MEMPOOL_FREE and free slots are NOACCESS, so memcheck treats galloc objects like
 * malloc's; ga_heap_destroy destroys the pool, so objects still live then are forgotten
 * with it (a later heap at the same fixed addresses starts clean). In every other build
 * these macros are empty.
 * GA_TSAN says the build runs under ThreadSanitizer (heap.c's arena hints and os.c's
 * reservations adapt to TSan's address layout).
 * A heap created with ga_heap_options.no_poison skips all of it (the harness uses that
 * for tests that write into free slots on purpose).
 */
#ifndef GA_SANITIZE_H
#define GA_SANITIZE_H
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define GA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GA_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define GA_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GA_TSAN 1
#endif
#endif

#ifdef GA_ASAN
#include <sanitizer/asan_interface.h>
#define GA_ASAN_POISON(p, n)   ASAN_POISON_MEMORY_REGION((const void *)(p), (n))
#define GA_ASAN_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((const void *)(p), (n))
#define GA_NO_ASAN __attribute__((no_sanitize("address")))
#else
#define GA_ASAN_POISON(p, n)   ((void)0)
#define GA_ASAN_UNPOISON(p, n) ((void)0)
#define GA_NO_ASAN
#endif

#if defined(GALLOC_VALGRIND) && GALLOC_VALGRIND
#include <valgrind/memcheck.h>
#define GA_VG_POOL_NEW(h)              VALGRIND_CREATE_MEMPOOL((h), 0, 0)
#define GA_VG_POOL_DESTROY(h)          VALGRIND_DESTROY_MEMPOOL((h))
#define GA_VG_MALLOCLIKE(h, p, n, zeroed) do {                              \
    VALGRIND_MEMPOOL_ALLOC((h), (p), (n));                                  \
    if (zeroed) VALGRIND_MAKE_MEM_DEFINED((p), (n));                        \
} while (0)
#define GA_VG_FREELIKE(h, p)           VALGRIND_MEMPOOL_FREE((h), (p))
#define GA_VG_NOACCESS(p, n)           VALGRIND_MAKE_MEM_NOACCESS((p), (n))
#define GA_VG_DEFINED(p, n)            VALGRIND_MAKE_MEM_DEFINED((p), (n))
#define GA_VG_QUIET_BEGIN()            VALGRIND_DISABLE_ERROR_REPORTING
#define GA_VG_QUIET_END()              VALGRIND_ENABLE_ERROR_REPORTING
#define GA_ANNOTATING 1
#else
#define GA_VG_POOL_NEW(h)              ((void)0)
#define GA_VG_POOL_DESTROY(h)          ((void)0)
#define GA_VG_MALLOCLIKE(h, p, n, zeroed) ((void)0)
#define GA_VG_FREELIKE(h, p)           ((void)0)
#define GA_VG_NOACCESS(p, n)           ((void)0)
#define GA_VG_DEFINED(p, n)            ((void)0)
#define GA_VG_QUIET_BEGIN()            ((void)0)
#define GA_VG_QUIET_END()              ((void)0)
#endif
#if defined(GA_ASAN) && !defined(GA_ANNOTATING)
#define GA_ANNOTATING 1
#endif

/* Object of n usable bytes handed out at p (slot start s, slot size e). */
#define GA_ON_ALLOC(h, p, n, zeroed) do {                                   \
    if (!(h)->opt.no_poison) {                                              \
        GA_ASAN_UNPOISON((p), (n));                                         \
        GA_VG_MALLOCLIKE((h), (p), (n), (zeroed));                               \
    }                                                                       \
} while (0)
/* Object at p (n bytes) freed: poison until it is handed out again. */
#define GA_ON_FREE(h, p, n) do {                                            \
    if (!(h)->opt.no_poison) {                                              \
        GA_VG_FREELIKE((h), (p));                                                \
        GA_ASAN_POISON((p), (n));                                           \
    }                                                                       \
} while (0)
/* Memory the allocator itself is about to read or write (trailer, junk, zeroing). */
#define GA_OPEN(h, p, n) do {                                               \
    if (!(h)->opt.no_poison) { GA_ASAN_UNPOISON((p), (n)); GA_VG_DEFINED((p), (n)); } \
} while (0)
#define GA_CLOSE(h, p, n) do {                                              \
    if (!(h)->opt.no_poison) { GA_ASAN_POISON((p), (n)); GA_VG_NOACCESS((p), (n)); } \
} while (0)
#endif
