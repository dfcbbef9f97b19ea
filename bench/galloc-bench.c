/*
 * galloc-bench — single-thread allocation throughput of the galloc core API next to
 * the system malloc (glibc unless LD_PRELOAD says otherwise), on a few size mixes.
 *
 * Workload per mix: a window of live objects; each step frees a random one and
 * allocates a new one of a random size from the mix (the same seeded sequence for
 * every allocator), touching the first byte. Prints alloc+free pairs per second.
 * Figures only: nothing here asserts a speed.
 *
 *   galloc-bench [--ops N] [--window N] [--seed S] [--mix PREFIX]
 */
#include "galloc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { const char *name; size_t lo, hi; } mix;

static uint64_t rng;
static inline uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double run(const mix *m, size_t ops, size_t window, uint64_t seed, ga_heap *h, ga_cache *c)
{
    void **live = calloc(window, sizeof *live);
    size_t *sizes = malloc(ops * sizeof *sizes);
    size_t *slots = malloc(ops * sizeof *slots);
    if (!live || !sizes || !slots) { fprintf(stderr, "galloc-bench: out of memory\n"); exit(2); }
    rng = seed;
    for (size_t i = 0; i < ops; i++) {
        sizes[i] = m->lo + rnd() % (m->hi - m->lo + 1);
        slots[i] = rnd() % window;
    }
    double t0 = now();
    for (size_t i = 0; i < ops; i++) {
        void *old = live[slots[i]];
        if (h) { if (old) ga_free_local(c, old); } else free(old);
        char *p = h ? ga_alloc(c, sizes[i], 0, GA_NOSCAN | GA_NOTINY) : malloc(sizes[i]);
        if (!p) { fprintf(stderr, "galloc-bench: allocation of %zu failed\n", sizes[i]); exit(1); }
        p[0] = (char)i;
        live[slots[i]] = p;
    }
    for (size_t i = 0; i < window; i++) { if (h) ga_free_local(c, live[i]); else free(live[i]); }
    double t = now() - t0;
    free(live); free(sizes); free(slots);
    return (double)ops / t;
}

int main(int argc, char **argv)
{
    size_t ops = 2000000, window = 1000;
    uint64_t seed = 42;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ops") && i + 1 < argc) ops = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--window") && i + 1 < argc) window = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--mix") && i + 1 < argc) only = argv[++i];
        else { fprintf(stderr, "usage: galloc-bench [--ops N] [--window N] [--seed S] [--mix PREFIX]\n"); return 2; }
    }
    if (ops == 0 || window == 0) { fprintf(stderr, "galloc-bench: --ops and --window must be > 0\n"); return 2; }
    static const mix mixes[] = {
        { "tiny 1-16", 1, 16 }, { "small 16-256", 16, 256 }, { "medium 256-4096", 256, 4096 },
        { "mixed 1-32K", 1, 32768 }, { "large 32K-256K", 32769, 262144 },
    };
    printf("%-18s %14s %14s %8s\n", "mix", "galloc ops/s", "system ops/s", "ratio");
    for (size_t k = 0; k < sizeof mixes / sizeof *mixes; k++) {
        if (only && strncmp(mixes[k].name, only, strlen(only))) continue;
        size_t n = mixes[k].lo > 32768 ? ops / 20 : ops;
        ga_heap *h = ga_heap_new(NULL);
        ga_cache *c = h ? ga_cache_new(h) : NULL;
        if (!c) { fprintf(stderr, "galloc-bench: cannot create a heap\n"); return 1; }
        double g = run(&mixes[k], n, window, seed, h, c);
        ga_cache_destroy(c);
        ga_heap_destroy(h);
        double s = run(&mixes[k], n, window, seed, NULL, NULL);
        printf("%-18s %14.0f %14.0f %7.2fx\n", mixes[k].name, g, s, g / s);
    }
    return 0;
}
