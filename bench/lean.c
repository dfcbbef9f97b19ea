/*
 * lean.c — galloc-lean: lean allocator workloads. Plain malloc/free with nothing else in
 * the loop (an xorshift step for sizes, one byte written per object, per 64 KiB for large
 * blocks), meant to run under LD_PRELOAD of any allocator (bench/compare.sh).
 *
 *   galloc-lean MODE [--ops N] [--threads T] [--seed S]
 *
 * Modes (an "op" is one object allocated and freed, i.e. one malloc/free pair):
 *   pair      one thread: malloc then free at once, sizes 16..64 B cycling
 *   churn     one thread, 10,000 live slots: free a random one, malloc 8 B..32 KiB
 *             (log-uniform) in its place
 *   xthread   T threads (default 2), T arrays of 4,096 slots; in round r thread t
 *             replaces every slot of array (t + r) % T — objects allocated by another
 *             thread are freed here (cross-thread frees every round); a barrier per round
 *   prodcons  T/2 producer/consumer pairs (default T 2): producers malloc batches of 256
 *             objects of 8..256 B, consumers free them (queue of 16 batches per pair)
 *   large     one thread, 64 live blocks of 32 KiB..4 MiB (log-uniform), one byte
 *             written per 64 KiB of each new block
 *   bulk      one thread: 1,000,000 objects of 8..64 B allocated, then all freed; repeated
 *   threads   T threads (default 8, more than cores), each churning 1,000 live slots of
 *             16..256 B on its own
 * Prints one line: mode, ops, seconds, Mops/s, ns per op, peak RSS (getrusage ru_maxrss,
 * KiB) — key=value, parsed by compare.sh. Op counts are fixed (not timed) so that runs
 * under valgrind --tool=callgrind count the same work: --ops scales them.
 * Built with -fno-builtin so the compiler never elides or merges a malloc/free pair.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* log-uniform in [lo, hi) (hi / lo a power of two): a random power-of-two band
 * [lo << k, lo << (k + 1)), a random size inside it */
static size_t logsize(uint64_t *s, size_t lo, size_t hi)
{
    uint64_t r = rng_next(s);
    unsigned bands = 1;
    while ((lo << (bands + 1)) <= hi) bands++;
    size_t base = lo << (r % bands);
    return base + (size_t)((r >> 16) % base);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) { fprintf(stderr, "galloc-lean: malloc(%zu) failed\n", n); exit(1); }
    *(volatile char *)p = 1;
    return p;
}

/* metadata arrays come from mmap so they cost every allocator the same */
static void *xmap(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    return p;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long opt_ops = -1;
static int opt_threads = -1;
static uint64_t opt_seed = 1;

/* ---- pair ---- */
static long run_pair(long ops)
{
    static const size_t sz[4] = { 16, 32, 48, 64 };
    for (long i = 0; i < ops; i++) {
        void *p = xmalloc(sz[i & 3]);
        free(p);
    }
    return ops;
}

/* ---- churn ---- */
static long run_churn(long ops, size_t nlive, size_t lo, size_t hi, uint64_t seed)
{
    void **slot = xmap(nlive * sizeof *slot);
    uint64_t s = seed | 1;
    for (size_t i = 0; i < nlive; i++) slot[i] = xmalloc(logsize(&s, lo, hi));
    for (long i = 0; i < ops; i++) {
        size_t k = rng_next(&s) % nlive;
        free(slot[k]);
        slot[k] = xmalloc(logsize(&s, lo, hi));
    }
    for (size_t i = 0; i < nlive; i++) free(slot[i]);
    munmap(slot, nlive * sizeof *slot);
    return ops + (long)nlive;
}

/* ---- xthread ---- */
#define XT_SLOTS 4096
static struct {
    void ***arr;
    pthread_barrier_t bar;
    long rounds;
    int nt;
} XT;

static void *xt_main(void *arg)
{
    int t = (int)(intptr_t)arg;
    uint64_t s = (opt_seed + (uint64_t)t * 7919) | 1;
    for (size_t i = 0; i < XT_SLOTS; i++) XT.arr[t][i] = xmalloc(16 + rng_next(&s) % 497);
    pthread_barrier_wait(&XT.bar);
    for (long r = 1; r <= XT.rounds; r++) {
        void **a = XT.arr[(t + r) % XT.nt];
        for (size_t i = 0; i < XT_SLOTS; i++) {
            free(a[i]);
            a[i] = xmalloc(16 + rng_next(&s) % 497);
        }
        pthread_barrier_wait(&XT.bar);
    }
    void **a = XT.arr[(t + XT.rounds + 1) % XT.nt];
    for (size_t i = 0; i < XT_SLOTS; i++) free(a[i]);
    return NULL;
}

static long run_xthread(long ops, int nt)
{
    if (nt < 2) nt = 2;
    XT.nt = nt;
    XT.rounds = ops / ((long)nt * XT_SLOTS);
    if (XT.rounds < 1) XT.rounds = 1;
    XT.arr = xmap((size_t)nt * sizeof *XT.arr);
    for (int t = 0; t < nt; t++) XT.arr[t] = xmap(XT_SLOTS * sizeof(void *));
    pthread_barrier_init(&XT.bar, NULL, (unsigned)nt);
    pthread_t *tid = xmap((size_t)nt * sizeof *tid);
    for (int t = 0; t < nt; t++) pthread_create(&tid[t], NULL, xt_main, (void *)(intptr_t)t);
    for (int t = 0; t < nt; t++) pthread_join(tid[t], NULL);
    pthread_barrier_destroy(&XT.bar);
    return (XT.rounds + 1) * (long)nt * XT_SLOTS;
}

/* ---- prodcons ---- */
#define PC_BATCH 256
#define PC_QUEUE 16
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
    void **q[PC_QUEUE];
    unsigned head, tail;         /* head - tail batches queued */
    void **batches;              /* PC_QUEUE + 2 batch arrays, owned in turn */
    long nbatches;
    uint64_t seed;
} pc_pair;

static void *pc_producer(void *arg)
{
    pc_pair *q = arg;
    uint64_t s = q->seed | 1;
    for (long b = 0; b < q->nbatches; b++) {
        void **batch = (void **)q->batches + (size_t)(b % (PC_QUEUE + 2)) * PC_BATCH;
        pthread_mutex_lock(&q->mu);
        while (q->head - q->tail == PC_QUEUE) pthread_cond_wait(&q->nonfull, &q->mu);
        pthread_mutex_unlock(&q->mu);
        for (int i = 0; i < PC_BATCH; i++) batch[i] = xmalloc(8 + rng_next(&s) % 249);
        pthread_mutex_lock(&q->mu);
        q->q[q->head % PC_QUEUE] = batch;
        q->head++;
        pthread_cond_signal(&q->nonempty);
        pthread_mutex_unlock(&q->mu);
    }
    return NULL;
}

static void *pc_consumer(void *arg)
{
    pc_pair *q = arg;
    for (long b = 0; b < q->nbatches; b++) {
        pthread_mutex_lock(&q->mu);
        while (q->head == q->tail) pthread_cond_wait(&q->nonempty, &q->mu);
        void **batch = q->q[q->tail % PC_QUEUE];
        pthread_mutex_unlock(&q->mu);
        for (int i = 0; i < PC_BATCH; i++) free(batch[i]);
        pthread_mutex_lock(&q->mu);   /* the slot is reusable only once its batch is freed */
        q->tail++;
        pthread_cond_signal(&q->nonfull);
        pthread_mutex_unlock(&q->mu);
    }
    return NULL;
}

static long run_prodcons(long ops, int nt)
{
    int npairs = nt < 2 ? 1 : nt / 2;
    pc_pair *pairs = xmap((size_t)npairs * sizeof *pairs);
    pthread_t *tid = xmap((size_t)npairs * 2 * sizeof *tid);
    long nb = ops / ((long)npairs * PC_BATCH);
    if (nb < 1) nb = 1;
    for (int k = 0; k < npairs; k++) {
        pc_pair *q = &pairs[k];
        pthread_mutex_init(&q->mu, NULL);
        pthread_cond_init(&q->nonempty, NULL);
        pthread_cond_init(&q->nonfull, NULL);
        q->batches = xmap((PC_QUEUE + 2) * PC_BATCH * sizeof(void *));
        q->nbatches = nb;
        q->seed = opt_seed + (uint64_t)k * 104729;
        pthread_create(&tid[2 * k], NULL, pc_producer, q);
        pthread_create(&tid[2 * k + 1], NULL, pc_consumer, q);
    }
    for (int k = 0; k < 2 * npairs; k++) pthread_join(tid[k], NULL);
    return nb * npairs * PC_BATCH;
}

/* ---- large ---- */
static long run_large(long ops, uint64_t seed)
{
    enum { NLIVE = 64 };
    void *slot[NLIVE] = { 0 };
    uint64_t s = seed | 1;
    for (long i = 0; i < ops; i++) {
        size_t k = rng_next(&s) % NLIVE;
        free(slot[k]);
        size_t n = logsize(&s, 32 << 10, 4 << 20);
        char *p = xmalloc(n);
        for (size_t off = 0; off < n; off += 64 << 10) p[off] = 1;
        slot[k] = p;
    }
    for (int k = 0; k < NLIVE; k++) free(slot[k]);
    return ops;
}

/* ---- bulk ---- */
static long run_bulk(long ops, uint64_t seed)
{
    enum { N = 1000000 };
    void **a = xmap(N * sizeof *a);
    uint64_t s = seed | 1;
    long rounds = ops / N;
    if (rounds < 1) rounds = 1;
    for (long r = 0; r < rounds; r++) {
        for (size_t i = 0; i < N; i++) a[i] = xmalloc(8 + rng_next(&s) % 57);
        for (size_t i = 0; i < N; i++) free(a[i]);
    }
    munmap(a, N * sizeof *a);
    return rounds * N;
}

/* ---- threads ---- */
static long th_ops;
static void *th_main(void *arg)
{
    run_churn(th_ops, 1000, 16, 256, opt_seed + (uint64_t)(intptr_t)arg * 31337);
    return NULL;
}

static long run_threads(long ops, int nt)
{
    if (nt < 1) nt = 1;
    th_ops = ops / nt;
    pthread_t *tid = xmap((size_t)nt * sizeof *tid);
    for (int t = 0; t < nt; t++) pthread_create(&tid[t], NULL, th_main, (void *)(intptr_t)t);
    for (int t = 0; t < nt; t++) pthread_join(tid[t], NULL);
    return (th_ops + 1000) * nt;
}

static const struct { const char *name; long ops; int threads; } modes[] = {
    { "pair", 20000000, 1 }, { "churn", 1000000, 1 }, { "xthread", 8000000, 2 },
    { "prodcons", 8000000, 2 }, { "large", 30000, 1 }, { "bulk", 4000000, 1 },
    { "threads", 8000000, 8 },
};

static void usage(void)
{
    fprintf(stderr, "usage: galloc-lean MODE [--ops N] [--threads T] [--seed S]\nmodes:");
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
        fprintf(stderr, " %s (%ld ops, %d thread%s)", modes[i].name, modes[i].ops, modes[i].threads,
                modes[i].threads > 1 ? "s" : "");
    fprintf(stderr, "\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2) usage();
    const char *mode = argv[1];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--ops") && i + 1 < argc) opt_ops = atol(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) opt_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) opt_seed = strtoull(argv[++i], NULL, 0);
        else usage();
    }
    size_t m = 0;
    while (m < sizeof modes / sizeof *modes && strcmp(modes[m].name, mode)) m++;
    if (m == sizeof modes / sizeof *modes) usage();
    long ops = opt_ops > 0 ? opt_ops : modes[m].ops;
    int nt = opt_threads > 0 ? opt_threads : modes[m].threads;
    double t0 = now();
    long done;
    switch (m) {
    case 0: done = run_pair(ops); break;
    case 1: done = run_churn(ops, 10000, 8, 32 << 10, opt_seed); break;
    case 2: done = run_xthread(ops, nt); break;
    case 3: done = run_prodcons(ops, nt); break;
    case 4: done = run_large(ops, opt_seed); break;
    case 5: done = run_bulk(ops, opt_seed); break;
    default: done = run_threads(ops, nt); break;
    }
    double secs = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("mode=%s threads=%d ops=%ld secs=%.4f mops=%.3f ns_per_op=%.2f peak_rss_kib=%ld\n", mode,
           m == 0 || m == 1 || m == 4 || m == 5 ? 1 : nt, done, secs, done / secs / 1e6, secs * 1e9 / done,
           ru.ru_maxrss);
    return 0;
}
