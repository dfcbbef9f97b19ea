/*
 * uaf_plant.c — a deliberate use-after-free, for proving that the nightly's ASan and
 * Valgrind stages catch one in a galloc object.
 *
 *   uaf_plant core     ga_alloc(100 bytes) -> ga_free -> write byte 5   (galloc core API)
 *   uaf_plant large    ga_alloc(100000)    -> ga_free -> read byte 9000 (large object)
 *   uaf_plant malloc   malloc(100)         -> free    -> write byte 5   (run it under
 *                      LD_PRELOAD=<build>/lib/libgalloc.so to plant it in libgalloc)
 *   uaf_plant live     the same allocation, but the write happens before the free:
 *                      the control case, must run clean everywhere
 *
 * Linked with <build>/lib/libgalloc_core.a of the build under test (ci/nightly.sh compiles
 * it with that build's compiler and sanitizer flags). Nothing in galloc's release build
 * notices the bug: the program prints "uaf_plant: ... not detected" and exits 0. In the
 * asan preset galloc poisons free slots (alloc/sanitize.h), so ASan stops the program
 * with a use-after-poison report; in the valgrind preset galloc announces objects with
 * MALLOCLIKE/FREELIKE client requests, so memcheck reports an invalid write into a
 * free'd block.
 */
#include "galloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile char sink;
/* Called through a volatile pointer: the compiler can neither drop the planted store as
 * dead (it is "after free") nor warn about it (-Wuse-after-free). */
static void (*volatile release)(void *) = free;

/* Keeps the compiler from reasoning about the pointer across the free. */
static char *launder(void *p)
{
    char *volatile q = p;
    return q;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "core";
    if (strcmp(mode, "malloc") == 0) {
        char *p = launder(malloc(100));
        if (!p) return 2;
        release(p);
        ((volatile char *)p)[5] = 1;                /* the planted use-after-free */
        printf("uaf_plant malloc: wrote into a freed malloc block, not detected\n");
        return 0;
    }

    ga_heap *h = ga_heap_new(NULL);
    ga_cache *c = h ? ga_cache_new(h) : NULL;
    if (!c) {
        fprintf(stderr, "uaf_plant: cannot create a heap\n");
        return 2;
    }
    int rc = 0;
    if (strcmp(mode, "core") == 0 || strcmp(mode, "live") == 0) {
        char *p = launder(ga_alloc(c, 100, 0, GA_NOSCAN));
        if (!p) return 2;
        if (strcmp(mode, "live") == 0) {
            p[5] = 1;
            sink = p[5];
            if (ga_free(h, p) != GA_OK) rc = 1;
            printf("uaf_plant live: clean\n");
        } else {
            if (ga_free(h, p) != GA_OK) return 2;
            ((volatile char *)p)[5] = 1;            /* the planted use-after-free */
            printf("uaf_plant core: wrote into a freed galloc object, not detected\n");
        }
    } else if (strcmp(mode, "large") == 0) {
        char *p = launder(ga_alloc(c, 100000, 0, GA_NOSCAN));
        if (!p) return 2;
        if (ga_free(h, p) != GA_OK) return 2;
        sink = ((volatile char *)p)[9000];          /* the planted use-after-free */
        printf("uaf_plant large: read a freed large galloc object, not detected\n");
    } else {
        fprintf(stderr, "usage: uaf_plant core|large|malloc|live\n");
        return 2;
    }
    ga_cache_destroy(c);
    ga_heap_destroy(h);
    return rc;
}
