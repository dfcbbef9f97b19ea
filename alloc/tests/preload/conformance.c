/*
 * conformance.c — the glibc/POSIX allocation API as libgalloc provides it, written from
 * the man pages (malloc(3), posix_memalign(3), malloc_usable_size(3), mallinfo2(3),
 * malloc_trim(3), mallopt(3)) and POSIX. Runs under LD_PRELOAD=libgalloc.so (preload.*)
 * and linked with libgalloc.a (preload.static); refuses to run on any other malloc.
 *
 * Usage: conformance GROUP...   groups: api threads fork misuse rss early all
 * Every check goes through check.h; the run ends with "N passed, N failed".
 */
#include "check.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* libgalloc's marker: resolved by the dynamic linker (LD_PRELOAD) or from libgalloc.a. */
typedef struct ga_heap ga_heap;
extern ga_heap *ga_malloc_heap(void) __attribute__((weak));

/* Hide values from the optimiser, so that misuse and huge sizes reach the library. */
static void *launder(void *p) { __asm__ volatile("" : "+r"(p)); return p; }
static size_t hide(size_t n) { __asm__ volatile("" : "+r"(n)); return n; }

/* Called through these, the compiler cannot assume the pointer is gone after a failure. */
static void *(*volatile realloc_v)(void *, size_t) = realloc;
static void *(*volatile reallocarray_v)(void *, size_t, size_t) = reallocarray;

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Resident set size in bytes, from /proc/self/statm, without allocating. */
static size_t rss_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *sp = strchr(buf, ' ');
    return sp ? (size_t)strtoull(sp + 1, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

static bool aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 7);
}

static bool filled(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7)) return false;
    return true;
}

/* ==== api ============================================================================== */
static void test_malloc_basic(void)
{
    void *a = malloc(hide(0)), *b = malloc(hide(0));
    CHECK(a != NULL && b != NULL, "malloc(0) returned NULL");
    CHECK(a != b, "two malloc(0) returned the same pointer %p", a);
    free(a);
    free(b);
    free(NULL);
    CHECK(1, "free(NULL) returned");
    /* galloc's classes: 1..8 -> 8, 17..24 -> 32 (16-byte alignment), page-size spans. */
    void *c1 = malloc(1), *c20 = malloc(20), *c100k = malloc(100000);
    CHECK_EQ(malloc_usable_size(c1), 8);
    CHECK_EQ(malloc_usable_size(c20), 32);
    CHECK_EQ(malloc_usable_size(c100k), 106496);
    free(c1);
    free(c20);
    free(c100k);

    /* Every size from 0 to 70000 (sampled densely) is usable, aligned, distinct. */
    for (size_t n = 0; n < 70000; n += (n < 1100 ? 1 : (n < 33000 ? 7 : 97))) {
        unsigned char *p = malloc(n);
        if (!p) { CHECK(0, "malloc(%zu) returned NULL", n); break; }
        size_t u = malloc_usable_size(p);
        if (u < n) CHECK(0, "malloc_usable_size(malloc(%zu)) = %zu", n, u);
        if (n >= 16 && !aligned(p, 16)) CHECK(0, "malloc(%zu) = %p is not 16-byte aligned", n, (void *)p);
        if (!aligned(p, n >= 16 ? 16 : 8)) CHECK(0, "malloc(%zu) = %p under-aligned", n, (void *)p);
        memset(p, 0xab, u);             /* every usable byte is writable */
        free(p);
    }
    CHECK(1, "sizes 0..70000 usable and aligned");

    /* Many live objects of each size do not overlap (pattern survives neighbours). */
    enum { K = 2000 };
    static unsigned char *v[K];
    static size_t sz[K];
    for (int i = 0; i < K; i++) {
        sz[i] = rnd() % 5 == 0 ? rnd() % 100000 : rnd() % 600;
        v[i] = malloc(sz[i]);
        fill(v[i], sz[i], (unsigned)i);
    }
    int bad = 0;
    for (int i = 0; i < K; i++) { if (!filled(v[i], sz[i], (unsigned)i)) bad++; free(v[i]); }
    CHECK_EQ(bad, 0);
}

static void test_calloc(void)
{
    errno = 0;
    void *p = calloc(hide(SIZE_MAX / 2 + 1), hide(2));
    CHECK(p == NULL && errno == ENOMEM, "calloc overflow: %p errno %d", p, errno);
    errno = 0;
    p = calloc(hide((size_t)1 << 33), hide((size_t)1 << 33));
    CHECK(p == NULL && errno == ENOMEM, "calloc 2^66: %p errno %d", p, errno);
    errno = 0;
    p = calloc(hide(SIZE_MAX), hide(SIZE_MAX));
    CHECK(p == NULL && errno == ENOMEM, "calloc SIZE_MAX^2: %p errno %d", p, errno);
    p = calloc(0, 0);
    CHECK(p != NULL, "calloc(0,0) returned NULL");
    free(p);

    /* Zeroing of reused memory: dirty blocks of many sizes, free them, calloc again. */
    static const size_t sizes[] = { 1, 8, 16, 24, 40, 64, 100, 256, 500, 1000, 4000, 9000,
                                    20000, 32760, 40000, 100000, 1 << 20, 3 << 20 };
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        int cnt = n > 100000 ? 4 : 300;
        void *blk[300];
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < cnt; i++) { blk[i] = malloc(n); memset(blk[i], 0xee, malloc_usable_size(blk[i])); }
            for (int i = 0; i < cnt; i++) free(blk[i]);
            if (round == 1) malloc_trim(0);
            int dirty = 0;
            for (int i = 0; i < cnt; i++) {
                unsigned char *q = calloc(1, n);
                if (!q) { dirty++; continue; }
                for (size_t j = 0; j < n; j++) if (q[j]) { dirty++; break; }
                blk[i] = q;
            }
            for (int i = 0; i < cnt; i++) free(blk[i]);
            if (dirty) CHECK(0, "calloc(1, %zu) returned %d non-zero blocks (round %d)", n, dirty, round);
        }
    }
    CHECK(1, "calloc zeroes reused memory");
}

static void test_realloc(void)
{
    /* NULL pointer: like malloc. */
    unsigned char *p = realloc(NULL, 100);
    CHECK(p != NULL, "realloc(NULL, 100) returned NULL");
    fill(p, 100, 1);
    /* Grow through small classes, into large, and back down; contents kept. */
    size_t steps[] = { 100, 200, 1000, 5000, 32000, 40000, 300000, 5 << 20, 300000, 1000, 50, 10, 1 };
    size_t cur = 100;
    for (size_t i = 1; i < sizeof steps / sizeof *steps; i++) {
        size_t n = steps[i];
        unsigned char *q = realloc(p, n);
        if (!q) { CHECK(0, "realloc to %zu failed", n); return; }
        size_t keep = cur < n ? cur : n;
        CHECK(filled(q, keep, 1), "realloc %zu -> %zu lost contents", cur, n);
        CHECK(malloc_usable_size(q) >= n, "usable %zu < %zu after realloc", malloc_usable_size(q), n);
        if (n >= 16) CHECK(aligned(q, 16), "realloc(%zu) = %p not 16-aligned", n, (void *)q);
        fill(q, n, 1);
        p = q;
        cur = n;
    }
    /* Failure leaves the block intact, ENOMEM. */
    fill(p, 1, 9);
    errno = 0;
    void *q = realloc_v(p, hide(SIZE_MAX / 2));
    CHECK(q == NULL && errno == ENOMEM, "realloc(SIZE_MAX/2): %p errno %d", q, errno);
    errno = 0;
    q = realloc_v(p, hide(SIZE_MAX - 4));
    CHECK(q == NULL && errno == ENOMEM, "realloc(SIZE_MAX-4): %p errno %d", q, errno);
    CHECK(filled(p, 1, 9) && malloc_usable_size(p) >= 1, "block damaged by failed realloc");
    /* reallocarray: overflow fails, block intact; otherwise like realloc. */
    errno = 0;
    q = reallocarray_v(p, hide(SIZE_MAX / 4), hide(8));
    CHECK(q == NULL && errno == ENOMEM, "reallocarray overflow: %p errno %d", q, errno);
    CHECK(filled(p, 1, 9), "block damaged by failed reallocarray");
    q = reallocarray_v(p, 1000, 8);
    CHECK(q != NULL && filled(q, 1, 9) && malloc_usable_size(q) >= 8000, "reallocarray(1000, 8)");
    p = q;
    /* realloc(p, 0): glibc frees p and returns NULL. */
    q = realloc_v(p, 0);
    CHECK(q == NULL, "realloc(p, 0) returned %p, glibc returns NULL", q);
    CHECK(malloc_usable_size(launder(p)) == 0, "block still allocated after realloc(p, 0)");
    /* Shrinking a large block a lot moves it (memory goes back), contents kept. */
    p = malloc(8 << 20);
    fill(p, 4096, 3);
    q = realloc(p, 4096);
    CHECK(q != NULL && filled(q, 4096, 3), "shrink 8 MiB -> 4 KiB");
    CHECK(malloc_usable_size(q) < (1 << 20), "shrunk block still has %zu usable bytes", malloc_usable_size(q));
    free(q);
    /* Random realloc chains keep every byte. */
    enum { K = 64 };
    unsigned char *v[K] = { 0 };
    size_t sz[K] = { 0 };
    int bad = 0;
    for (int it = 0; it < 20000; it++) {
        int i = (int)(rnd() % K);
        size_t n = rnd() % 4 == 0 ? rnd() % 200000 : rnd() % 2000;
        unsigned char *r = realloc(v[i], n ? n : 1);
        if (!r) { bad++; continue; }
        size_t keep = sz[i] < n ? sz[i] : n;
        if (!filled(r, keep, (unsigned)i)) bad++;
        fill(r, n, (unsigned)i);
        v[i] = r;
        sz[i] = n;
    }
    for (int i = 0; i < K; i++) free(v[i]);
    CHECK_EQ(bad, 0);
}

static void test_aligned(void)
{
    void *sentinel = (void *)0x1234;
    void *out = sentinel;
    size_t bad_align[] = { 0, 1, 2, 3, 4, 6, 12, 24, 48, 100, 4097, SIZE_MAX };
    for (size_t i = 0; i < sizeof bad_align / sizeof *bad_align; i++) {
        int saved = errno = 77;
        int rc = posix_memalign(&out, hide(bad_align[i]), 16);
        CHECK(rc == EINVAL, "posix_memalign(align %zu) = %d, want EINVAL", bad_align[i], rc);
        CHECK(out == sentinel, "posix_memalign(align %zu) wrote the out-pointer on error", bad_align[i]);
        CHECK(errno == saved, "posix_memalign changed errno to %d", errno);
    }
    int rc = posix_memalign(&out, 64, hide(SIZE_MAX / 2));
    CHECK(rc == ENOMEM && out == sentinel, "posix_memalign huge: rc %d out %p", rc, out);
    rc = posix_memalign(&out, (size_t)1 << 40, 64);
    CHECK(rc == ENOMEM && out == sentinel, "posix_memalign align 2^40: rc %d out %p", rc, out);

    /* Alignments up to 4 MiB for sizes small to large. */
    size_t sizes[] = { 0, 1, 8, 17, 100, 1000, 5000, 32760, 40000, 1 << 20, 5 << 20 };
    int bad = 0;
    for (size_t a = sizeof(void *); a <= ((size_t)4 << 20); a <<= 1) {
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            size_t n = sizes[k];
            void *p = NULL;
            rc = posix_memalign(&p, a, n);
            if (rc || !p || !aligned(p, a) || malloc_usable_size(p) < n) {
                CHECK(0, "posix_memalign(%zu, %zu) = %d %p usable %zu", a, n, rc, p, p ? malloc_usable_size(p) : 0);
                bad++;
            } else {
                memset(p, 0x5a, n);
            }
            free(p);
            void *q = aligned_alloc(a, n);
            if (!q || !aligned(q, a) || malloc_usable_size(q) < n) { CHECK(0, "aligned_alloc(%zu, %zu) = %p", a, n, q); bad++; }
            free(q);
            void *r = memalign(a, n);
            if (!r || !aligned(r, a) || malloc_usable_size(r) < n) { CHECK(0, "memalign(%zu, %zu) = %p", a, n, r); bad++; }
            free(r);
        }
    }
    CHECK_EQ(bad, 0);
    /* Many live aligned blocks do not overlap. */
    void *live[200];
    for (int i = 0; i < 200; i++) {
        size_t a = (size_t)1 << (4 + rnd() % 10), n = rnd() % 3000;
        live[i] = aligned_alloc(a, n);
        CHECK(live[i] && aligned(live[i], a), "aligned_alloc(%zu, %zu)", a, n);
        fill(live[i], n, (unsigned)i);
        if (!filled(live[i], n, (unsigned)i)) CHECK(0, "aligned block %d", i);
        live[i] = realloc(live[i], n + 1);   /* aligned blocks can be realloc'ed */
        CHECK(live[i] && filled(live[i], n, (unsigned)i), "realloc of aligned block %d", i);
    }
    for (int i = 0; i < 200; i++) free(live[i]);
    /* aligned_alloc: non-power-of-two alignment is EINVAL (C17, glibc >= 2.38). */
    errno = 0;
    void *p = aligned_alloc(hide(24), 48);
    CHECK(p == NULL && errno == EINVAL, "aligned_alloc(24, 48) = %p errno %d", p, errno);
    /* memalign: a non-power-of-two alignment is rounded up (glibc). */
    p = memalign(hide(24), 48);
    CHECK(p != NULL && aligned(p, 32), "memalign(24) = %p", p);
    free(p);
    errno = 0;
    p = memalign(hide(SIZE_MAX / 2 + 2), 48);
    CHECK(p == NULL && errno == EINVAL, "memalign(huge non-power-of-two) = %p errno %d", p, errno);
    /* valloc / pvalloc: page aligned; pvalloc rounds the size up to pages. */
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    p = valloc(10);
    CHECK(p && aligned(p, ps), "valloc(10) = %p", p);
    free(p);
    p = pvalloc(ps + 1);
    CHECK(p && aligned(p, ps) && malloc_usable_size(p) >= 2 * ps, "pvalloc(ps+1) = %p usable %zu", p, p ? malloc_usable_size(p) : 0);
    free(p);
    p = pvalloc(0);
    CHECK(p && aligned(p, ps) && malloc_usable_size(p) >= ps, "pvalloc(0) = %p", p);
    free(p);
    errno = 0;
    p = pvalloc(hide(SIZE_MAX - 10));
    CHECK(p == NULL && errno == ENOMEM, "pvalloc(SIZE_MAX-10) = %p errno %d", p, errno);
}

static void test_huge_and_errno(void)
{
    size_t huge[] = { SIZE_MAX, SIZE_MAX - 8, SIZE_MAX - 4096, SIZE_MAX / 2, (size_t)PTRDIFF_MAX,
                      (size_t)1 << 62, (size_t)1 << 48, (size_t)1 << 45 };
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        errno = 0;
        void *p = malloc(hide(huge[i]));
        CHECK(p == NULL && errno == ENOMEM, "malloc(%#zx) = %p errno %d", huge[i], p, errno);
        free(p);
    }
    /* The process is healthy afterwards. */
    void *p = malloc(1 << 20);
    CHECK(p != NULL, "malloc(1 MiB) after huge failures");
    memset(p, 1, 1 << 20);
    /* free keeps errno (POSIX 2024), for small, large, NULL. */
    void *s = malloc(32);
    errno = 4321;
    free(s);
    CHECK_EQ(errno, 4321);
    errno = 4322;
    free(p);
    CHECK_EQ(errno, 4322);
    errno = 4323;
    free(NULL);
    CHECK_EQ(errno, 4323);
    /* malloc_usable_size(NULL) is 0. */
    CHECK_EQ(malloc_usable_size(NULL), 0);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void test_glibc_extras(void)
{
    CHECK(mallopt(M_ARENA_MAX, 2) == 1, "mallopt(M_ARENA_MAX)");
    CHECK(mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1, "mallopt(M_MMAP_THRESHOLD)");
    CHECK(mallopt(12345, 1) == 0, "mallopt(unknown) must fail");
    struct mallinfo2 a = mallinfo2();
    enum { K = 1000 };
    void *v[K];
    for (int i = 0; i < K; i++) v[i] = malloc(10000);
    struct mallinfo2 b = mallinfo2();
    CHECK(b.uordblks >= a.uordblks + K * 10000ull, "mallinfo2 uordblks %zu -> %zu", a.uordblks, b.uordblks);
    CHECK(b.arena >= b.uordblks, "mallinfo2 arena %zu < uordblks %zu", b.arena, b.uordblks);
    struct mallinfo m = mallinfo();
    CHECK(m.uordblks > 0, "mallinfo uordblks %d", m.uordblks);
    for (int i = 0; i < K; i++) free(v[i]);
    int trimmed = malloc_trim(0);
    CHECK(trimmed == 0 || trimmed == 1, "malloc_trim result %d", trimmed);
    struct mallinfo2 c = mallinfo2();
    CHECK(c.uordblks + K * 10000ull <= b.uordblks, "after free: uordblks %zu (was %zu)", c.uordblks, b.uordblks);

    /* malloc_stats writes a report to stderr. */
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    int saved = dup(2);
    dup2(fds[1], 2);
    malloc_stats();
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    buf[n > 0 ? n : 0] = 0;
    CHECK(n > 0 && strstr(buf, "in use bytes") != NULL, "malloc_stats printed: %s", buf);
    /* malloc_info writes XML. */
    char *mem = NULL;
    size_t memlen = 0;
    FILE *f = open_memstream(&mem, &memlen);
    CHECK(f && malloc_info(0, f) == 0, "malloc_info");
    if (f) fclose(f);
    CHECK(mem && strstr(mem, "<malloc") != NULL, "malloc_info output");
    free(mem);

    /* glibc's internal names are galloc's too; free_sized / free_aligned_sized exist. */
    void *(*lm)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "__libc_malloc");
    void (*lf)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "__libc_free");
    void *(*lc)(size_t, size_t) = (void *(*)(size_t, size_t))dlsym(RTLD_DEFAULT, "__libc_calloc");
    void *(*lr)(void *, size_t) = (void *(*)(void *, size_t))dlsym(RTLD_DEFAULT, "__libc_realloc");
    void *(*lma)(size_t, size_t) = (void *(*)(size_t, size_t))dlsym(RTLD_DEFAULT, "__libc_memalign");
    void (*fs)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
    void (*fas)(void *, size_t, size_t) = (void (*)(void *, size_t, size_t))dlsym(RTLD_DEFAULT, "free_aligned_sized");
    if (lm && lf && lc && lr && lma) {
        void *p = lm(100);
        CHECK(p && malloc_usable_size(p) >= 100, "__libc_malloc is galloc's");
        p = lr(p, 5000);
        CHECK(p && malloc_usable_size(p) >= 5000, "__libc_realloc");
        lf(p);
        unsigned char *z = lc(10, 10);
        CHECK(z && z[0] == 0 && z[99] == 0, "__libc_calloc");
        free(z);
        p = lma(256, 10);
        CHECK(p && aligned(p, 256), "__libc_memalign");
        free(p);
    } else {
        CHECK(ga_malloc_heap != NULL && dlsym(RTLD_DEFAULT, "ga_malloc_heap") == NULL,
              "__libc_* missing from the preloaded library");
    }
    if (fs && fas) {
        void *p = malloc(40);
        fs(p, 40);
        p = aligned_alloc(64, 100);
        fas(p, 64, 100);
        CHECK(1, "free_sized / free_aligned_sized");
    }
}
#pragma GCC diagnostic pop

/* Objects given to other threads and freed there, and many live objects per thread. */
static void test_random_stress(void)
{
    enum { K = 4096 };
    static unsigned char *v[K];
    static size_t sz[K];
    int bad = 0;
    for (int it = 0; it < 300000; it++) {
        int i = (int)(rnd() % K);
        if (v[i]) {
            if (!filled(v[i], sz[i] < 64 ? sz[i] : 64, (unsigned)i)) bad++;
            free(v[i]);
            v[i] = NULL;
        } else {
            size_t n = rnd() % 16 == 0 ? rnd() % 70000 : rnd() % 512;
            v[i] = rnd() % 4 ? malloc(n) : calloc(1, n);
            sz[i] = n;
            fill(v[i], n < 64 ? n : 64, (unsigned)i);
        }
    }
    for (int i = 0; i < K; i++) free(v[i]);
    CHECK_EQ(bad, 0);
}

static void group_api(void)
{
    test_malloc_basic();
    test_calloc();
    test_realloc();
    test_aligned();
    test_huge_and_errno();
    test_glibc_extras();
    test_random_stress();
}

/* ==== threads ========================================================================== */
typedef struct { void *keep[4]; int bad; } tres_t;

static void *short_thread(void *arg)
{
    tres_t *r = arg;
    enum { K = 300 };
    void *v[K];
    uint64_t x = (uintptr_t)arg * 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < K; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        size_t n = i == 0 ? 70000 : x % 3000;
        v[i] = malloc(n);
        if (!v[i]) { r->bad++; continue; }
        memset(v[i], i & 0xff, n);
    }
    for (int i = 4; i < K; i++) free(v[i]);
    for (int i = 0; i < 4; i++) r->keep[i] = v[i];   /* freed by the main thread */
    return NULL;
}

static void test_short_threads(void)
{
    enum { BATCH = 8, TOTAL = 2000, WARM = 200 };
    pthread_t t[BATCH];
    tres_t r[BATCH];
    size_t rss_warm = 0, arena_warm = 0, spans_warm = 0;
    int bad = 0, errors = 0;
    double t0 = now();
    for (int done = 0; done < TOTAL; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            memset(&r[i], 0, sizeof r[i]);
            if (pthread_create(&t[i], NULL, short_thread, &r[i]) != 0) errors++;
        }
        for (int i = 0; i < BATCH; i++) {
            pthread_join(t[i], NULL);
            bad += r[i].bad;
            for (int k = 0; k < 4; k++) free(r[i].keep[k]);
        }
        if (done + BATCH == WARM) {
            rss_warm = rss_bytes();
            struct mallinfo2 m = mallinfo2();
            arena_warm = m.arena;
            spans_warm = m.ordblks;
        }
    }
    size_t rss_end = rss_bytes();
    struct mallinfo2 m = mallinfo2();
    CHECK_EQ(errors, 0);
    CHECK_EQ(bad, 0);
    CHECK(rss_end < rss_warm + (16u << 20), "RSS grew from %zu to %zu over %d threads", rss_warm, rss_end, TOTAL - WARM);
    CHECK(m.arena < arena_warm + (16u << 20), "heap grew from %zu to %zu over %d threads", arena_warm, m.arena, TOTAL - WARM);
    CHECK(m.ordblks < spans_warm + 200, "in-use spans grew from %zu to %zu over %d threads", spans_warm, m.ordblks, TOTAL - WARM);
    printf("threads: %d short-lived threads in %.2f s; RSS %zu -> %zu KiB, heap kept %zu -> %zu KiB, spans %zu -> %zu\n",
           TOTAL, now() - t0, rss_warm >> 10, rss_end >> 10, arena_warm >> 10, (size_t)m.arena >> 10, spans_warm, m.ordblks);
}

/* Ping-pong: a producer allocates, a consumer checks and frees, through a ring. */
typedef struct {
    _Atomic(void *) slot[1024];
    _Atomic size_t head, tail;
    int count;
    _Atomic int bad;
} ring_t;

static void *producer(void *arg)
{
    ring_t *q = arg;
    for (int i = 0; i < q->count; i++) {
        size_t n = 8 + (size_t)(i * 37) % (i % 100 == 0 ? 50000 : 700);
        unsigned char *p = malloc(n);
        if (!p) { atomic_fetch_add(&q->bad, 1); continue; }
        memcpy(p, &i, sizeof i);
        memset(p + sizeof i, (unsigned char)i, n - sizeof i);
        size_t h = atomic_load(&q->head);
        while (h - atomic_load(&q->tail) >= 1024) sched_yield();
        atomic_store(&q->slot[h % 1024], p);
        atomic_store(&q->head, h + 1);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    ring_t *q = arg;
    for (int i = 0; i < q->count; i++) {
        size_t t = atomic_load(&q->tail);
        while (atomic_load(&q->head) == t) sched_yield();
        unsigned char *p = atomic_load(&q->slot[t % 1024]);
        atomic_store(&q->tail, t + 1);
        int id;
        memcpy(&id, p, sizeof id);
        size_t n = 8 + (size_t)(id * 37) % (id % 100 == 0 ? 50000 : 700);
        if (id != i || p[n - 1] != (unsigned char)i) atomic_fetch_add(&q->bad, 1);
        free(p);
    }
    return NULL;
}

static void test_ping_pong(void)
{
    enum { PAIRS = 2 };
    static ring_t q[PAIRS];
    pthread_t tp[PAIRS], tc[PAIRS];
    double t0 = now();
    for (int i = 0; i < PAIRS; i++) {
        memset(&q[i], 0, sizeof q[i]);
        q[i].count = 300000;
        pthread_create(&tp[i], NULL, producer, &q[i]);
        pthread_create(&tc[i], NULL, consumer, &q[i]);
    }
    int bad = 0;
    for (int i = 0; i < PAIRS; i++) {
        pthread_join(tp[i], NULL);
        pthread_join(tc[i], NULL);
        bad += atomic_load(&q[i].bad);
    }
    CHECK_EQ(bad, 0);
    printf("threads: cross-thread ping-pong %d x %d objects in %.2f s\n", PAIRS, q[0].count, now() - t0);
}

/* Shared pool: threads swap objects in and out, so most frees are of another thread's. */
static _Atomic(unsigned char *) pool[4096];
static _Atomic int pool_bad;

static void *pool_worker(void *arg)
{
    uint64_t x = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    for (int it = 0; it < 200000; it++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        size_t n = 16 + x % (x % 64 == 0 ? 40000 : 400);
        unsigned char *p = malloc(n);
        p[0] = (unsigned char)(n & 0xff);
        p[n - 1] = (unsigned char)(n >> 8);
        memcpy(p + 1, &n, sizeof n < n - 2 ? sizeof n : 0);
        unsigned char *old = atomic_exchange(&pool[x % 4096], p);
        if (old) {
            size_t m;
            memcpy(&m, old + 1, sizeof m);
            if (old[0] != (unsigned char)(m & 0xff) || old[m - 1] != (unsigned char)(m >> 8)) atomic_fetch_add(&pool_bad, 1);
            free(old);
        }
    }
    return NULL;
}

static void test_shared_pool(void)
{
    enum { T = 4 };
    pthread_t t[T];
    for (int i = 0; i < T; i++) pthread_create(&t[i], NULL, pool_worker, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < T; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4096; i++) free(atomic_exchange(&pool[i], NULL));
    CHECK_EQ(atomic_load(&pool_bad), 0);
}

static void group_threads(void)
{
    test_short_threads();
    test_ping_pong();
    test_shared_pool();
}

/* ==== fork ============================================================================= */
static _Atomic bool fork_stop;

static void *fork_busy(void *arg)
{
    (void)arg;
    void *v[256] = { 0 };
    uint64_t x = (uintptr_t)&x;
    while (!atomic_load_explicit(&fork_stop, memory_order_relaxed)) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        int i = (int)(x % 256);
        if (x % 3 == 0) { v[i] = realloc(v[i], x % 5000); }
        else { free(v[i]); v[i] = malloc(x % (x % 50 == 0 ? 100000 : 300)); }
    }
    for (int i = 0; i < 256; i++) free(v[i]);
    return NULL;
}

static void *child_thread(void *arg)
{
    (void)arg;
    void *p[1000];
    for (int i = 0; i < 1000; i++) p[i] = malloc((size_t)i * 3);
    for (int i = 0; i < 1000; i++) free(p[i]);
    return NULL;
}

static int child_work(void)
{
    alarm(20);   /* a deadlock in the child shows as SIGALRM */
    enum { K = 20000 };
    static void *v[K];
    for (int i = 0; i < K; i++) { v[i] = malloc((size_t)(i % 700) + (i % 1000 == 0 ? 100000 : 0)); if (!v[i]) return 2; }
    for (int i = 0; i < K; i++) free(v[i]);
    pthread_t t;
    if (pthread_create(&t, NULL, child_thread, NULL) != 0) return 3;
    pthread_join(t, NULL);
    void *big = malloc(16 << 20);
    if (!big) return 4;
    memset(big, 1, 16 << 20);
    free(big);
    return 0;
}

/* Threads of this process named galloc-scav (the background scavenger). */
static int scavenger_threads(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[300], comm[32];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0) continue;
        ssize_t r = read(fd, comm, sizeof comm - 1);
        close(fd);
        if (r > 0) { comm[r] = 0; if (strncmp(comm, "galloc-scav", 11) == 0) n++; }
    }
    closedir(d);
    return n;
}

/* The scavenger runs in a big parent; a fork child that allocates and frees much gets
 * its own scavenger back and its RSS falls. */
static void test_fork_scavenger(void)
{
    enum { K = 64 };
    void *v[K];
    for (int i = 0; i < K; i++) { v[i] = malloc(1 << 20); memset(v[i], 1, 1 << 20); }
    for (int i = 0; i < K; i++) free(v[i]);
    double t0 = now();
    while (scavenger_threads() == 0 && now() - t0 < 1.0) usleep(10000);
    CHECK(scavenger_threads() == 1, "parent: %d scavenger threads after using 64 MiB", scavenger_threads());
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20);
        int bad = scavenger_threads() != 0;     /* did not survive the fork */
        size_t base = rss_bytes();
        for (int i = 0; i < K; i++) { v[i] = malloc(1 << 20); if (!v[i]) _exit(3); memset(v[i], 2, 1 << 20); }
        for (int i = 0; i < K; i++) free(v[i]);
        double c0 = now();
        while (rss_bytes() > base + (16u << 20) && now() - c0 < 1.5) usleep(20000);
        if (rss_bytes() > base + (16u << 20)) bad |= 4;
        if (scavenger_threads() != 1) bad |= 2;
        _exit(bad);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child scavenger: status %#x (1: survived fork, 2: not restarted, "
          "4: RSS did not fall)", st);
}

static void group_fork(void)
{
    enum { T = 3, FORKS = 24 };
    pthread_t t[T];
    atomic_store(&fork_stop, false);
    for (int i = 0; i < T; i++) pthread_create(&t[i], NULL, fork_busy, NULL);
    int ok = 0;
    double t0 = now();
    for (int f = 0; f < FORKS; f++) {
        pid_t pid = fork();
        if (pid == 0) _exit(child_work());
        int st = 0;
        waitpid(pid, &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) ok++;
        else CHECK(0, "fork %d: child status %#x (signal %d)", f, st, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        usleep(2000);
    }
    atomic_store(&fork_stop, true);
    for (int i = 0; i < T; i++) pthread_join(t[i], NULL);
    CHECK_EQ(ok, FORKS);
    /* A grandchild too, from a child that itself has threads. */
    pid_t pid = fork();
    if (pid == 0) {
        pthread_t bt;
        atomic_store(&fork_stop, false);
        pthread_create(&bt, NULL, fork_busy, NULL);
        pid_t g = fork();
        if (g == 0) _exit(child_work());
        int st = 0;
        waitpid(g, &st, 0);
        atomic_store(&fork_stop, true);
        pthread_join(bt, NULL);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "grandchild status %#x", st);
    test_fork_scavenger();
    printf("fork: %d forks while %d threads allocate, in %.2f s\n", FORKS, T, now() - t0);
}

/* ==== misuse =========================================================================== */
/* Each case runs in a child: it names the pointer it is about to misuse on stderr
 * ("PTR 0x..."), misuses it, and must die of SIGABRT after one line from galloc naming
 * the problem, the pointer and the call. */
static void announce(const void *p)
{
    char line[64];
    int len = snprintf(line, sizeof line, "PTR %p\n", p);
    if (write(2, line, (size_t)len) < 0) _exit(97);
}

static void mu_double_free_small(void) { void *p = malloc(64); announce(p); free(p); free(launder(p)); }
static void mu_double_free_tiny(void) { void *p = malloc(5); announce(p); free(p); free(launder(p)); }
static void mu_double_free_large(void) { void *p = malloc(1 << 20); announce(p); free(p); free(launder(p)); }
static void mu_double_free_swept(void)
{
    void *p = malloc(200);
    announce(p);
    free(p);
    malloc_trim(0);   /* sweeps: the slot is now free, not pending */
    free(launder(p));
}
static void mu_double_free_aligned(void) { void *p = aligned_alloc(4096, 100); announce(p); free(p); free(launder(p)); }
static void mu_free_stack(void) { char buf[64]; void *p = launder(buf + 16); announce(p); free(p); }
static void mu_free_mmap(void)
{
    void *p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    announce(p);
    free(launder(p));
}
static void mu_free_interior(void) { char *p = malloc(64); announce(p + 16); free(launder(p + 16)); }
static void mu_free_misaligned(void) { char *p = malloc(64); announce(p + 1); free(launder(p + 1)); }
static void mu_free_interior_large(void) { char *p = malloc(1 << 20); announce(p + 8192); free(launder(p + 8192)); }
static void mu_realloc_freed(void) { void *p = malloc(100); announce(p); free(p); void *q = realloc(launder(p), 200); (void)q; }
static void mu_realloc_freed_in_place(void) { void *p = malloc(100); announce(p); free(p); void *q = realloc(launder(p), 90); (void)q; }
static void mu_realloc_freed_large(void) { void *p = malloc(1 << 20); announce(p); free(p); void *q = realloc(launder(p), 200); (void)q; }
static void mu_realloc_stack(void) { char buf[64]; void *p = launder(buf); announce(p); void *q = realloc(p, 10); (void)q; }
static void *free_in_thread(void *p) { free(p); return NULL; }
static void mu_double_free_cross_thread(void)
{
    void *p = malloc(48);
    announce(p);
    pthread_t t;
    pthread_create(&t, NULL, free_in_thread, p);
    pthread_join(t, NULL);
    free(launder(p));
}

static void run_misuse(const char *name, void (*fn)(void), const char *want, const char *op)
{
    int fds[2];
    if (pipe(fds) != 0) { CHECK(0, "pipe"); return; }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        signal(SIGABRT, SIG_DFL);
        struct rlimit nocore = { 0, 0 };
        setrlimit(RLIMIT_CORE, &nocore);
        fn();
        _exit(99);    /* only reached if the misuse went unnoticed */
    }
    close(fds[1]);
    char buf[2048];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
    buf[n] = 0;
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "%s: child status %#x (exit %d), want SIGABRT; stderr: %s",
          name, st, WIFEXITED(st) ? WEXITSTATUS(st) : -1, buf);
    char ptr[40] = "";
    sscanf(buf, "PTR %39s", ptr);
    char *msg = strchr(buf, '\n');
    msg = msg ? msg + 1 : buf;
    char *nl = strchr(msg, '\n');
    CHECK(nl != NULL && nl[1] == 0, "%s: want exactly one line from galloc, got: %s", name, msg);
    CHECK(strncmp(msg, "galloc: ", 8) == 0 && strstr(msg, want) != NULL, "%s: message lacks '%s': %s", name, want, msg);
    CHECK(ptr[0] && strstr(msg, ptr) != NULL, "%s: message does not name the pointer %s: %s", name, ptr, msg);
    CHECK(strstr(msg, op) != NULL, "%s: message does not name the call %s: %s", name, op, msg);
}

static void group_misuse(void)
{
    run_misuse("double free small", mu_double_free_small, "double free", "(free)");
    run_misuse("double free tiny-size", mu_double_free_tiny, "double free", "(free)");
    run_misuse("double free large", mu_double_free_large, "double free", "(free)");
    run_misuse("double free after sweep", mu_double_free_swept, "double free", "(free)");
    run_misuse("double free aligned", mu_double_free_aligned, "double free", "(free)");
    run_misuse("double free across threads", mu_double_free_cross_thread, "double free", "(free)");
    run_misuse("free of a stack pointer", mu_free_stack, "not allocated by galloc", "(free)");
    run_misuse("free of a foreign mmap", mu_free_mmap, "not allocated by galloc", "(free)");
    run_misuse("free of an interior pointer", mu_free_interior, "interior", "(free)");
    run_misuse("free of a misaligned pointer", mu_free_misaligned, "misaligned", "(free)");
    run_misuse("free inside a large object", mu_free_interior_large, "interior", "(free)");
    run_misuse("realloc of a freed block", mu_realloc_freed, "realloc of a freed block", "(realloc)");
    run_misuse("realloc of a freed block that would fit", mu_realloc_freed_in_place, "realloc of a freed block", "(realloc)");
    run_misuse("realloc of a freed large block", mu_realloc_freed_large, "realloc of a freed block", "(realloc)");
    run_misuse("realloc of a stack pointer", mu_realloc_stack, "not allocated by galloc", "(realloc)");
}

/* ==== rss ============================================================================== */
/* Allocate ~256 MiB, free it all, then call nothing: RSS must fall within 1.5 s. */
static void rss_case(const char *name, size_t obj, size_t total)
{
    size_t count = total / obj;
    void **v = mmap(NULL, count * sizeof *v, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(v, 0, count * sizeof *v);   /* the pointer array is resident before the baseline */
    size_t base = rss_bytes();
    double t0 = now();
    for (size_t i = 0; i < count; i++) {
        v[i] = malloc(obj);
        if (!v[i]) { CHECK(0, "%s: malloc failed at %zu", name, i); break; }
        memset(v[i], (int)i, obj);
    }
    size_t peak = rss_bytes();
    double t1 = now();
    for (size_t i = 0; i < count; i++) free(v[i]);
    double t2 = now();
    size_t after_free = rss_bytes(), cur = after_free;
    double fell = -1;
    size_t limit = base + total / 10;
    while (now() - t2 < 1.5) {
        cur = rss_bytes();
        if (cur <= limit) { fell = now() - t2; break; }
        usleep(20000);
    }
    CHECK(peak >= base + total / 2, "%s: peak RSS %zu not above base %zu", name, peak, base);
    CHECK(fell >= 0, "%s: RSS %zu MiB did not fall to %zu MiB within 1.5 s (base %zu, peak %zu, right after free %zu)",
          name, cur >> 20, limit >> 20, base >> 20, peak >> 20, after_free >> 20);
    printf("rss: %-6s %6zu x %7zu B: base %4zu MiB, peak %4zu MiB, after free %4zu MiB, fell to %4zu MiB %.2f s after "
           "the last free (alloc %.2f s, free %.2f s)\n",
           name, count, obj, base >> 20, peak >> 20, after_free >> 20, cur >> 20, fell, t1 - t0, t2 - t1);
    munmap(v, count * sizeof *v);
}

static void group_rss(void)
{
    rss_case("small", 64, (size_t)256 << 20);
    rss_case("large", (size_t)1 << 20, (size_t)256 << 20);
    rss_case("mixed", 20000, (size_t)256 << 20);
}

/* ==== early / re-entrant ================================================================ */
static void *ctor_block;
static int ctor_ok;

__attribute__((constructor(101))) static void early_ctor(void)
{
    ctor_block = malloc(1000);
    char *s = strdup("constructor");
    ctor_ok = ctor_block != NULL && s != NULL && strcmp(s, "constructor") == 0;
    free(s);
}

static void atexit_handler(void)
{
    /* Allocation from an atexit handler, after main returned. */
    void *p = malloc(100000);
    void *q = calloc(10, 10);
    if (!p || !q) { const char m[] = "atexit allocation failed\n"; if (write(2, m, sizeof m - 1)) _exit(1); _exit(1); }
    free(p);
    free(q);
    char *d = strdup("bye");
    free(d);
}

int tlsmod_expected(void);

static void *tls_thread(void *arg)
{
    int (*touch)(int) = (int (*)(int))arg;
    int s = 0;
    for (int i = 0; i < 100; i++) s += touch(i);
    return (void *)(intptr_t)s;
}

static void group_early(const char *tlsmod)
{
    CHECK(ctor_ok, "allocation in a constructor");
    free(ctor_block);
    CHECK(atexit(atexit_handler) == 0, "atexit");
    /* dlopen allocates inside the dynamic linker; a module with dynamic TLS allocates its
     * TLS block (malloc from __tls_get_addr) on each thread's first access. */
    if (tlsmod) {
        void *h = dlopen(tlsmod, RTLD_NOW);
        CHECK(h != NULL, "dlopen(%s): %s", tlsmod, dlerror());
        if (h) {
            int (*touch)(int) = (int (*)(int))dlsym(h, "tlsmod_touch");
            CHECK(touch != NULL, "dlsym tlsmod_touch");
            if (touch) {
                pthread_t t[16];
                for (int i = 0; i < 16; i++) pthread_create(&t[i], NULL, tls_thread, (void *)touch);
                long sum = 0;
                for (int i = 0; i < 16; i++) { void *r; pthread_join(t[i], &r); sum += (long)(intptr_t)r; }
                CHECK(sum == 16 * tlsmod_expected(), "dynamic TLS threads sum %ld", sum);
            }
            CHECK(dlclose(h) == 0, "dlclose");
        }
        /* Again, to exercise dlclose's frees and a second load. */
        h = dlopen(tlsmod, RTLD_NOW);
        CHECK(h != NULL, "dlopen again");
        if (h) dlclose(h);
    }
    /* Thread-local destructors and pthread key destructors that allocate at thread exit. */
    CHECK(1, "early group ran");
}

int tlsmod_expected(void) { int s = 0; for (int i = 0; i < 100; i++) s += i * 2 + 1; return s; }

/* A key whose destructor allocates and frees after galloc gave back the thread's cache
 * (or before, the order is unspecified): both must work. */
static pthread_key_t alloc_key;
static _Atomic int key_dtor_ok;

static void key_dtor(void *v)
{
    free(v);
    void *p = malloc(300);
    void *q = malloc(70000);
    if (p && q) atomic_fetch_add(&key_dtor_ok, 1);
    free(p);
    free(q);
}

static void *key_thread(void *arg)
{
    (void)arg;
    pthread_setspecific(alloc_key, malloc(50));
    void *p = malloc(100);
    free(p);
    return NULL;
}

static void test_key_destructors(void)
{
    pthread_key_create(&alloc_key, key_dtor);
    pthread_t t[32];
    for (int i = 0; i < 32; i++) pthread_create(&t[i], NULL, key_thread, NULL);
    for (int i = 0; i < 32; i++) pthread_join(t[i], NULL);
    CHECK_EQ(atomic_load(&key_dtor_ok), 32);
}

/* ==== options (GALLOC_OPTIONS) ========================================================= */
/* Runs this program again with GALLOC_OPTIONS set; returns its exit status, stderr in err. */
static int run_self(const char *options, const char *group, char *err, size_t errsz)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 1);
        setenv("GALLOC_OPTIONS", options, 1);
        char *args[] = { "conformance", (char *)group, NULL };
        execv("/proc/self/exe", args);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n < errsz - 1 && (r = read(fds[0], err + n, errsz - 1 - n)) > 0) n += (size_t)r;
    err[n] = 0;
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Under junk=1: fresh memory reads 0xa5 unless it was asked zeroed. */
static void group_junk(void)
{
    for (size_t n = 1; n < 200000; n = n * 3 + 1) {
        unsigned char *p = malloc(n);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += p[i] != 0xa5;
        CHECK(bad == 0, "junk: malloc(%zu) has %zu bytes that are not 0xa5", n, bad);
        memset(p, 0, n);
        free(p);
        unsigned char *z = calloc(1, n);
        bad = 0;
        for (size_t i = 0; i < n; i++) bad += z[i] != 0;
        CHECK(bad == 0, "junk: calloc(1, %zu) has %zu non-zero bytes", n, bad);
        free(z);
        unsigned char *a = aligned_alloc(64, n);
        CHECK(a[0] == 0xa5 && a[n - 1] == 0xa5, "junk: aligned_alloc(64, %zu) not filled", n);
        free(a);
    }
}

static void group_options(void)
{
    char err[8192];
    int rc = run_self("junk=1", "junk", err, sizeof err);
    CHECK(rc == 0, "junk=1: status %d: %s", rc, err);
    rc = run_self("verify_on_free=1,junk=1", "api", err, sizeof err);
    CHECK(rc == 0, "verify_on_free=1,junk=1 api: status %d: %s", rc, err);
    rc = run_self("verify_on_free=1", "threads", err, sizeof err);
    CHECK(rc == 0, "verify_on_free=1 threads: status %d: %s", rc, err);
    rc = run_self("stats=1,retain=8M,scavenge=inline", "junk-free", err, sizeof err);
    CHECK(rc == 0 && strstr(err, "galloc heap:") && strstr(err, "in use bytes"), "stats=1: status %d: %s", rc, err);
    rc = run_self("bogus=1,junk=maybe,stats=0", "junk-free", err, sizeof err);
    CHECK(rc == 0, "bad options: status %d", rc);
    CHECK(strstr(err, "galloc: unknown option 'bogus=1'") != NULL, "unknown option warning: %s", err);
    CHECK(strstr(err, "galloc: bad value in option 'junk=maybe'") != NULL, "bad value warning: %s", err);
    int lines = 0;
    for (char *c = err; *c; c++) lines += *c == '\n';
    CHECK(lines == 2, "want 2 warning lines, got %d: %s", lines, err);
    rc = run_self("scavenge=off,aslr=0", "junk-free", err, sizeof err);
    CHECK(rc == 0 && err[0] == 0, "scavenge=off,aslr=0: status %d: %s", rc, err);
}

/* A tiny workload for option runs that only check start-up and exit. */
static void group_junk_free(void)
{
    void *v[1000];
    for (int i = 0; i < 1000; i++) v[i] = malloc((size_t)i * 50);
    for (int i = 0; i < 1000; i++) free(v[i]);
    CHECK(1, "ran");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!ga_malloc_heap || !ga_malloc_heap()) {
        fprintf(stderr, "conformance: not running on galloc (run with LD_PRELOAD=libgalloc.so or link libgalloc.a)\n");
        return 2;
    }
    const char *tlsmod = getenv("GA_TLSMOD");
    for (int i = 1; i < argc; i++) {
        bool all = strcmp(argv[i], "all") == 0;
        if (all || strcmp(argv[i], "api") == 0) group_api();
        if (all || strcmp(argv[i], "threads") == 0) group_threads();
        if (all || strcmp(argv[i], "fork") == 0) group_fork();
        if (all || strcmp(argv[i], "misuse") == 0) group_misuse();
        if (all || strcmp(argv[i], "early") == 0) { group_early(tlsmod); test_key_destructors(); }
        if (all || strcmp(argv[i], "rss") == 0) group_rss();
        if (all || strcmp(argv[i], "options") == 0) group_options();
        if (strcmp(argv[i], "junk") == 0) group_junk();
        if (strcmp(argv[i], "junk-free") == 0) group_junk_free();
    }
    TEST_MAIN_END();
}
