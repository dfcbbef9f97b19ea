/*
 * testos.c — ga_testos (os.h), the test double of the OS layer: a ga_os that wraps another
 * one (the kernel by default) and counts every call and its bytes, keeps the OS state of
 * every 4 KiB page of every region it has seen (None -> Reserved -> Prepared / Ready, spec
 * §5.4), reports illegal transitions (the first one in words) and fails chosen calls on
 * demand (ENOMEM / EAGAIN, changing nothing).
 * Invariants: a failed call changes no page state and reaches `inner` not at all; the page
 * states are what `inner` was asked to do, in order; everything is under one mutex, so heaps
 * on several threads may share one. Test code only: in galloc_core, not in libgalloc.
 * Used by the harness's os check (harness/exec_os.c) and the unit tests.
 * Calls: the inner ga_os, libc (malloc for its own books), pthreads.
 */
#include "os.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------
 * ga_testos: counting, page-state tracking and failure injection.
 * Page states are kept per 4 KiB page of every reserved region; metadata mappings are
 * counted but not tracked page by page (they go None -> Ready -> None only).
 */
#define TPAGE 4096u

typedef struct tregion {
    uintptr_t base;
    size_t npages;
    uint8_t *state;
} tregion;

struct ga_testos {
    ga_os os;                  /* what the heap calls; ctx points back here */
    const ga_os *inner;
    pthread_mutex_t lock;
    uint64_t calls[GA_OS_NCALLS], bytes[GA_OS_NCALLS];
    unsigned fail_skip[GA_OS_NCALLS], fail_count[GA_OS_NCALLS];
    bool fail_next_alloc;
    tregion *regions;
    size_t nregions, capregions;
    uint64_t violations;
    char first_violation[256];
    uint64_t meta_live;        /* bytes of metadata handed out and not freed yet */
};

static tregion *find_region(const ga_testos *t, uintptr_t p)
{
    for (size_t i = 0; i < t->nregions; i++) {
        tregion *r = &t->regions[i];
        if (p >= r->base && p < r->base + r->npages * TPAGE) return r;
    }
    return NULL;
}

static void violation(ga_testos *t, const char *fmt, uintptr_t p, size_t n, int st)
{
    if (t->violations++ == 0)
        snprintf(t->first_violation, sizeof t->first_violation, fmt, (unsigned long)p, n, st);
}

/* (mask, value) such that a state st is in the set `from` iff (st & mask) == value, for
 * the sets the calls use ({Reserved}, {Prepared, Ready}); false for other sets. States
 * are 0..3, so two bits decide. */
static bool state_test(unsigned from, uint8_t *mask, uint8_t *value)
{
    for (unsigned m = 1; m <= 3; m++)
        for (unsigned v = 0; v <= 3; v++) {
            if (v & ~m) continue;
            unsigned set = 0;
            for (unsigned st = 0; st <= 3; st++) if ((st & m) == v) set |= 1u << st;
            if (set == (from & 15)) { *mask = (uint8_t)m; *value = (uint8_t)v; return true; }
        }
    return false;
}

/* The first page index in [i, e) of r whose state is not in `from`, or e. Eight pages
 * at a time when the set has a (mask, value) form: map and used cover whole arenas'
 * worth of pages per call. */
static size_t first_illegal(const tregion *r, size_t i, size_t e, unsigned from)
{
    uint8_t m, v;
    if (state_test(from, &m, &v)) {
        const uint64_t M = m * 0x0101010101010101ull, V = v * 0x0101010101010101ull;
        for (; i + 8 <= e; i += 8) {
            uint64_t w;
            memcpy(&w, r->state + i, 8);
            if ((w & M) ^ V) break;
        }
    }
    for (; i < e; i++)
        if (!((from >> r->state[i]) & 1)) break;
    return i;
}

/* Moves every page of [p, p+n) from one of the `from` states (bitmask) to `to`. */
static void transition(ga_testos *t, const char *what, uintptr_t p, size_t n, unsigned from, uint8_t to)
{
    uintptr_t a = p & ~(uintptr_t)(TPAGE - 1);
    while (a < p + n) {
        tregion *r = find_region(t, a);   /* once per region the range crosses */
        if (!r) {
            char buf[128];
            snprintf(buf, sizeof buf, "%s of unreserved page %%#lx (range size %%zu, state %%d)", what);
            violation(t, buf, a, n, GA_PAGE_NONE);
            return;
        }
        uintptr_t rend = r->base + r->npages * TPAGE, stop = p + n < rend ? p + n : rend;
        size_t i = (a - r->base) / TPAGE, e = (stop - r->base + TPAGE - 1) / TPAGE;
        for (size_t k = first_illegal(r, i, e, from); k < e; k = first_illegal(r, k + 1, e, from)) {
            char buf[128];
            snprintf(buf, sizeof buf, "%s of page %%#lx (range size %%zu) in illegal state %%d", what);
            violation(t, buf, r->base + k * TPAGE, n, r->state[k]);
        }
        memset(r->state + i, to, e - i);
        a = r->base + e * TPAGE;
    }
}

static bool should_fail(ga_testos *t, enum ga_os_call call)
{
    if (t->fail_next_alloc && (call == GA_OS_RESERVE || call == GA_OS_MAP || call == GA_OS_ALLOC_META)) {
        t->fail_next_alloc = false;
        return true;
    }
    if (t->fail_count[call] == 0) return false;
    if (t->fail_skip[call] > 0) { t->fail_skip[call]--; return false; }
    t->fail_count[call]--;
    return true;
}

static void count(ga_testos *t, enum ga_os_call call, size_t n)
{
    t->calls[call]++;
    t->bytes[call] += n;
}

static void *t_reserve(void *ctx, void *hint, size_t n)
{
    ga_testos *t = ctx;
    pthread_mutex_lock(&t->lock);
    count(t, GA_OS_RESERVE, n);
    void *p = NULL;
    if (should_fail(t, GA_OS_RESERVE)) {
        errno = ENOMEM;
    } else if ((p = t->inner->reserve(t->inner->ctx, hint, n)) != NULL) {
        if (t->nregions == t->capregions) {
            size_t cap = t->capregions ? 2 * t->capregions : 16;
            tregion *nr = realloc(t->regions, cap * sizeof *nr);
            if (!nr) abort();   /* test double only */
            t->regions = nr;
            t->capregions = cap;
        }
        tregion *r = &t->regions[t->nregions++];
        r->base = (uintptr_t)p;
        r->npages = (n + TPAGE - 1) / TPAGE;
        r->state = malloc(r->npages);
        if (!r->state) abort();
        memset(r->state, GA_PAGE_RESERVED, r->npages);
    }
    pthread_mutex_unlock(&t->lock);
    return p;
}

static int t_map(void *ctx, void *p, size_t n)
{
    ga_testos *t = ctx;
    int rc = -1;
    pthread_mutex_lock(&t->lock);
    count(t, GA_OS_MAP, n);
    if (should_fail(t, GA_OS_MAP)) {
        errno = ENOMEM;
    } else if ((rc = t->inner->map(t->inner->ctx, p, n)) == 0) {
        transition(t, "map", (uintptr_t)p, n, 1u << GA_PAGE_RESERVED, GA_PAGE_PREPARED);
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

static int t_used(void *ctx, void *p, size_t n)
{
    ga_testos *t = ctx;
    int rc = -1;
    pthread_mutex_lock(&t->lock);
    count(t, GA_OS_USED, n);
    if (should_fail(t, GA_OS_USED)) {
        errno = ENOMEM;
    } else if ((rc = t->inner->used(t->inner->ctx, p, n)) == 0) {
        transition(t, "used", (uintptr_t)p, n, (1u << GA_PAGE_PREPARED) | (1u << GA_PAGE_READY), GA_PAGE_READY);
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

static int t_unused(void *ctx, void *p, size_t n)
{
    ga_testos *t = ctx;
    int rc = -1;
    pthread_mutex_lock(&t->lock);
    count(t, GA_OS_UNUSED, n);
    if (should_fail(t, GA_OS_UNUSED)) {
        errno = EAGAIN;
    } else if ((rc = t->inner->unused(t->inner->ctx, p, n)) == 0) {
        transition(t, "unused", (uintptr_t)p, n, (1u << GA_PAGE_PREPARED) | (1u << GA_PAGE_READY), GA_PAGE_PREPARED);
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

static int t_release(void *ctx, void *p, size_t n)
{
    ga_testos *t = ctx;
    pthread_mutex_lock(&t->lock);
    count(t, GA_OS_RELEASE, n);
    int rc = t->inner->release(t->inner->ctx, p, n);
    for (size_t i = 0; i < t->nregions; i++) {
        if (t->regions[i].base == (uintptr_t)p) {
            if (t->regions[i].npages != (n + TPAGE - 1) / TPAGE)
                violation(t, "release of %#lx with size %zu != reserved size (state %d)", (uintptr_t)p, n, 0);
            free(t->regions[i].state);
            t->regions[i] = t->regions[--t->nregions];
            pthread_mutex_unlock(&t->lock);
            return rc;
        }
    }
    violation(t, "release of %#lx (size %zu) that was never reserved (state %d)", (uintptr_t)p, n, 0);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

static void *t_alloc_meta(void *ctx, size_t n)
{
    ga_testos *t = ctx;
    void *p = NULL;
    pthread_mutex_lock(&t->lock);
    count(t, GA_OS_ALLOC_META, n);
    if (should_fail(t, GA_OS_ALLOC_META)) errno = ENOMEM;
    else p = t->inner->alloc_meta(t->inner->ctx, n);
    if (p) t->meta_live += n;
    pthread_mutex_unlock(&t->lock);
    return p;
}

static void t_free_meta(void *ctx, void *p, size_t n)
{
    ga_testos *t = ctx;
    pthread_mutex_lock(&t->lock);
    count(t, GA_OS_FREE_META, n);
    if (n > t->meta_live) violation(t, "free_meta of %#lx frees %zu bytes, more than is allocated (state %d)", (uintptr_t)p, n, 0);
    else t->meta_live -= n;
    t->inner->free_meta(t->inner->ctx, p, n);
    pthread_mutex_unlock(&t->lock);
}

ga_testos *ga_testos_new(const ga_os *inner)
{
    ga_testos *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->inner = inner ? inner : ga_os_default();
    pthread_mutex_init(&t->lock, NULL);
    t->os = (ga_os){ .ctx = t, .reserve = t_reserve, .map = t_map, .used = t_used,
                     .unused = t_unused, .release = t_release,
                     .alloc_meta = t_alloc_meta, .free_meta = t_free_meta };
    return t;
}

void ga_testos_free(ga_testos *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->nregions; i++) free(t->regions[i].state);
    free(t->regions);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

const ga_os *ga_testos_os(ga_testos *t) { return &t->os; }
uint64_t ga_testos_calls(const ga_testos *t, enum ga_os_call c) { return t->calls[c]; }
uint64_t ga_testos_bytes(const ga_testos *t, enum ga_os_call c) { return t->bytes[c]; }

void ga_testos_fail(ga_testos *t, enum ga_os_call call, unsigned skip, unsigned count_)
{
    pthread_mutex_lock(&t->lock);
    t->fail_skip[call] = skip;
    t->fail_count[call] = count_;
    pthread_mutex_unlock(&t->lock);
}

void ga_testos_fail_next_alloc(ga_testos *t)
{
    pthread_mutex_lock(&t->lock);
    t->fail_next_alloc = true;
    pthread_mutex_unlock(&t->lock);
}

enum ga_page_state ga_testos_page_state(const ga_testos *t, const void *p)
{
    ga_testos *m = (ga_testos *)t;
    pthread_mutex_lock(&m->lock);
    tregion *r = find_region(t, (uintptr_t)p);
    enum ga_page_state st = r ? (enum ga_page_state)r->state[((uintptr_t)p - r->base) / TPAGE] : GA_PAGE_NONE;
    pthread_mutex_unlock(&m->lock);
    return st;
}

uint64_t ga_testos_meta_live(const ga_testos *t) { return t->meta_live; }

uint64_t ga_testos_violations(const ga_testos *t, char *first, size_t n)
{
    if (first && n) snprintf(first, n, "%s", t->first_violation);
    return t->violations;
}

uint64_t ga_testos_bytes_in_state(const ga_testos *t, enum ga_page_state st)
{
    ga_testos *m = (ga_testos *)t;
    uint64_t total = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < t->nregions; i++)
        for (size_t j = 0; j < t->regions[i].npages; j++)
            total += t->regions[i].state[j] == st ? TPAGE : 0;
    pthread_mutex_unlock(&m->lock);
    return total;
}
