/*
 * malloc_test.h — the test build of libgalloc's API: alloc/malloc.c compiled with
 * -DGA_MALLOC_PREFIX=gm_ (library galloc_malloc_test, alloc/CMakeLists.txt). Owns the
 * declarations of the prefixed entry points (gm_malloc, gm_free, ...), the misuse hook and
 * the planted API bugs (gm_plant). libgalloc.so / libgalloc.a are built without the macro:
 * they export the glibc names, abort on misuse and contain no plant code at all.
 *
 * Used by harness/mdiff.c (the malloc-API differential, fuzz target fuzz_malloc), whose own
 * allocations stay on glibc's malloc because nothing here is named malloc.
 */
#ifndef GALLOC_MALLOC_TEST_H
#define GALLOC_MALLOC_TEST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *gm_malloc(size_t n);
void gm_free(void *p);
void *gm_calloc(size_t nmemb, size_t size);
void *gm_realloc(void *p, size_t n);
void *gm_reallocarray(void *p, size_t nmemb, size_t size);
int gm_posix_memalign(void **out, size_t align, size_t n);
void *gm_aligned_alloc(size_t align, size_t n);
void *gm_memalign(size_t align, size_t n);
void *gm_valloc(size_t n);
void *gm_pvalloc(size_t n);
size_t gm_malloc_usable_size(void *p);
void gm_free_sized(void *p, size_t n);
void gm_free_aligned_sized(void *p, size_t align, size_t n);
int gm_malloc_trim(size_t pad);
/* Destroys the test heap and every object in it; the next call starts a fresh heap at the
 * same base (each differential run starts from the same state). Single-threaded use only. */
void gm_reset(void);

/* Misuse (double free, foreign or interior pointer, realloc of a freed block): libgalloc
 * writes one line and aborts. In the test build, when this hook is set, the line goes to it
 * instead (status: the ga_status, op: the API call, line: the whole message without the
 * newline) and the call returns (free: nothing freed; realloc: NULL). NULL: abort as usual. */
typedef void (*gm_misuse_fn)(int status, const void *p, const char *op, const char *line);
extern gm_misuse_fn gm_misuse_hook;

/* Planted API bugs, to prove the differential catches each (0: none). */
enum gm_plant {
    GM_PLANT_NONE = 0,
    GM_PLANT_REALLOC_COPY_SHORT,    /* a moving realloc copies min(old, new) rounded down to 16 */
    GM_PLANT_REALLOC_GROW_INPLACE,  /* realloc keeps the block when n <= usable + 8 */
    GM_PLANT_CALLOC_LARGE_NOZERO,   /* calloc > 32760 B trusts its pages to be fresh (no GA_ZERO) */
    GM_PLANT_CALLOC_OVERFLOW,       /* calloc multiplies without the overflow check */
    GM_PLANT_REALLOCARRAY_OVERFLOW, /* reallocarray multiplies without the overflow check */
    GM_PLANT_ALIGN32_AS_MALLOC,     /* posix_memalign / aligned_alloc serve align <= 32 with malloc */
    GM_PLANT_MEMALIGN_ROUND_DOWN,   /* memalign rounds a non-power-of-two alignment down */
    GM_PLANT_VALLOC_SWAPPED,        /* valloc calls memalign(n, page) (arguments swapped) */
    GM_PLANT_PVALLOC_ROUND_OVERFLOW,/* pvalloc rounds up to a page without the overflow check */
    GM_PLANT_USABLE_HEADER,         /* malloc_usable_size subtracts an 8-byte header above 512 B */
    GM_PLANT_ENOMEM_NO_ERRNO,       /* a request above the heap cap fails without errno = ENOMEM */
    GM_PLANT_FREE_SIZED_STRICT,     /* free_sized reports misuse unless n == usable size */
    GM_PLANT_REALLOC_FREED_SILENT,  /* realloc of a freed block quietly allocates a new one */
    GM_PLANT_MALLOC0_NULL,          /* malloc(0) returns NULL */
    GM_PLANT_COUNT
};
extern int gm_plant;

#ifdef __cplusplus
}
#endif
#endif
