/*
 * stress.h — shared state of galloc-stress, the multi-threaded stress driver and
 * side-by-side benchmark (stress/). Owns the types every stress file uses: the run
 * configuration, per-thread contexts (tctx), object records and headers, the op ring and
 * the epoch op log, the shared hand-off structures, the finding record, and the
 * prototypes of the functions each file exports.
 *
 * Files:
 *   main.c      command line, the coordinator (monitor, stop-the-world, GC, verify,
 *               epochs, mixed phases), failure handling, summary
 *   objects.c   object header and pattern, size distributions, alloc/free through the
 *               backend with checking, logging and latency sampling
 *   profiles.c  the worker threads and the workloads (churn, larson, prodcons, large,
 *               tiny, frag, threads, gc)
 *   oplog.c     per-thread op rings and epoch logs, the merge into a gh_seq (serialized
 *               interleaving), the replay simulation and the reproducer file
 *   report.c    latency histograms, progress line, JSON, gnuplot plots
 *   progress.c  proof of work: ops per phase and thread, the floor, the watchdog thread
 *   schedmode.c --sched random|pct|pos: profile-shaped programs under the controlled
 *               scheduler (harness/mt_search.c's search; sched build only)
 *
 * Calls: alloc/galloc.h (core API), alloc/sizeclass.h (class table), harness/harness.h
 * (op model, text format), pthreads, libc.
 */
#ifndef GALLOC_STRESS_H
#define GALLOC_STRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "galloc.h"
#include "harness.h"

/* ---- configuration --------------------------------------------------------------- */
enum profile {
    PR_CHURN = 0, PR_LARSON, PR_PRODCONS, PR_LARGE, PR_TINY, PR_FRAG, PR_THREADS, PR_GC,
    PR_NPROF,
    PR_MIXED = PR_NPROF
};
enum backend { BE_GALLOC = 0, BE_SYSTEM = 1 };
/* --test-fault (hidden, for the tests that prove the floor and the watchdog) */
enum fault_kind { FAULT_NONE = 0, FAULT_IDLE, FAULT_BLOCK };

#define ST_MAX_THREADS 256

typedef struct config {
    int threads;
    double seconds;             /* 0: --ops decides */
    uint64_t ops;               /* 0: --seconds decides */
    uint64_t seed;
    int profile;                /* enum profile */
    int backend;                /* enum backend */
    bool verify;                /* headers/patterns/scans/ga_verify/log (default on) */
    int plant;                  /* ga_plant */
    const char *json, *plot_dir, *repro;
    double verify_every;        /* seconds between stop-the-world verifications */
    double gc_every;            /* seconds between GC cycles (gc/tiny profiles, galloc) */
    double phase;               /* mixed: seconds per phase (0: derived) */
    double progress_every;      /* non-terminal progress lines (seconds) */
    uint64_t epoch_ops;         /* logged ops per heap lifetime; 0: one heap, no log */
    size_t replay_budget;       /* live-bytes budget assumed for galloc-replay */
    double min_rate;            /* floor: ops per worker thread per running second of a phase (0: off) */
    double watchdog;            /* seconds without progress that make a finding (0: off) */
    int fault_kind, fault_slot, fault_profile;   /* --test-fault; fault_profile -1: every profile */
    bool quiet;
    bool progress_tty;          /* stderr is a terminal */
    char argv0[512];            /* how we were invoked (for the rerun command) */
    char rerun[2048];           /* the command that reruns this configuration (free-running) */
    char bindir[512];           /* directory of this executable */
} config;

/* ---- objects ------------------------------------------------------------------------ */
/* Record of a live object in a thread's table (objects of any size). */
enum { OF_NOSCAN = 1, OF_TINYOK = 2, OF_HDR = 4, OF_BATCH = 8, OF_ZERO = 16 };
typedef struct orec {
    void *p;
    uint64_t id;
    uint32_t size;
    uint16_t gen;
    uint8_t flags;              /* OF_* */
    uint8_t owner;              /* thread slot that allocated it (mod 256) */
} orec;

/* Header at the start of every object of HDR_MIN bytes or more. */
typedef struct ohdr {
    uint64_t id;
    uint32_t size;
    uint16_t gen;
    uint16_t owner;
    uint32_t flags;
    uint32_t check;             /* hash of the fields above */
} ohdr;
#define HDR_MIN ((uint32_t)sizeof(ohdr))   /* 24 */
/* Object ids read as decimal EEESSSSSSSSSSSS: heap epoch * ID_BASE + the allocation's
 * sequence number (with the op log off: (thread slot + 1) * ID_BASE + a local count). */
#define ID_BASE 1000000000000ull

/* A batch (prodcons): an object whose body is a count and pointers to objects. */
#define BATCH_N 32
#define BATCH_SIZE ((uint32_t)(HDR_MIN + 8 + 8 * BATCH_N))

/* ---- op ring (last ops per thread, for failure reports) --------------------------- */
enum lkind { LK_ALLOC = 1, LK_FREE, LK_CHECK, LK_REWRITE, LK_RELEASE, LK_DESTROY, LK_GCDEAD, LK_NKINDS };
typedef struct ringent {
    uint64_t seq, id;
    uintptr_t p;
    uint32_t size;
    uint8_t kind, flags;
    uint16_t align_log;
} ringent;
#define RING_N 32

/* ---- epoch op log ------------------------------------------------------------------- */
typedef struct lrec {
    uint64_t seq;
    uint64_t id;
    uint32_t size;
    uint8_t kind;               /* enum lkind */
    uint8_t flags;              /* GA_* flags of an allocation */
    uint8_t align_log;          /* aligned allocation: log2(align), 0 = default */
    uint8_t pad;
} lrec;
#define LOG_CHUNK 65536
typedef struct oplog {
    lrec **chunks;
    size_t nchunks, capchunks;
    _Atomic size_t n;           /* records committed (read by the monitor) */
} oplog;

/* ---- latency histograms ----------------------------------------------------------- */
enum lat_kind { LAT_ALLOC = 0, LAT_FREE, LAT_RFREE, LAT_GC, LAT_VERIFY, LAT_NKINDS };   /* GC, verify: stop-the-world pauses */
#define HIST_BUCKETS 512
typedef struct hist {
    uint64_t b[HIST_BUCKETS];
    uint64_t n, max;
} hist;

/* ---- per-thread context -------------------------------------------------------------- */
typedef struct larr larr;
typedef struct tctx {
    int slot;                   /* 0..threads-1; the coordinator is `threads` */
    pthread_t th;
    uint64_t rng;
    ga_cache *cache, *saved_cache;
    bool registered;
    /* local table */
    orec *tab;
    size_t ntab, captab;
    size_t scan_cursor;
    /* profile state */
    int frag_phase;
    uint32_t frag_size_a, frag_size_b;
    unsigned pc_toggle;
    uint64_t local_ids;         /* ids when nothing is logged */
    uint64_t nops_local;
    /* counters read by the monitor (relaxed atomics; exact at stop-the-world) */
    _Atomic uint64_t ops, allocs, frees, rfrees, alloc_bytes;
    _Atomic int64_t live_objs, live_bytes;
    _Atomic uint64_t epoch_allocs;   /* successful allocations in this epoch (stats check) */
    _Atomic uint64_t thread_lives;   /* threads profile: children run */
    hist lat[LAT_NKINDS];
    uint64_t kind_count[LAT_NKINDS];
    ringent ring[RING_N];
    _Atomic unsigned ring_pos;
    oplog log;
    _Atomic int cur_profile;    /* what this thread last ran (for reports; read by the watchdog) */
    _Atomic int wd_state;       /* enum wd_state: for the watchdog's report */
    uint64_t phase_ops0;        /* allocs + frees when the current phase began (coordinator) */
} tctx;
enum wd_state { WD_OFF = 0, WD_RUNNING, WD_PARKED };

/* ---- shared structures ----------------------------------------------------------------- */
#define LARR_N 256
struct larr { _Atomic(void *) obj[LARR_N]; };   /* a thread's larson inbox */

typedef struct ptrq {           /* bounded FIFO of pointers under a mutex */
    pthread_mutex_t m;
    void **v;
    size_t cap, head, n;
} ptrq;

/* ---- phases (progress.c) ------------------------------------------------------------- */
typedef struct phase_rec {
    int profile;
    double start_s, wall_s, run_s;   /* run_s: the part of wall_s the world was not stopped */
    uint64_t floor;                  /* ops each worker thread had to reach; 0: not checked */
    uint64_t *ops;                   /* allocs + frees per worker thread */
    bool open;
} phase_rec;

/* ---- the finding ------------------------------------------------------------------------ */
typedef struct finding {
    char invariant[48];
    char message[700];
    int thread;                 /* detecting thread slot (threads = coordinator) */
    int profile;
    uint64_t obj_id;
    uintptr_t obj_addr;
    uint32_t obj_size;
    int obj_owner;
    uint16_t obj_gen;
    ga_report report;
} finding;

/* ---- global state ------------------------------------------------------------------------ */
typedef struct stress {
    config cfg;
    ga_heap *heap;
    tctx *t;                    /* threads + 1 (coordinator last) */
    _Atomic int profile_now;    /* profile the workers run now */
    _Atomic int stop;           /* workers leave their loops */
    _Atomic int failed;
    finding fnd;
    /* stop-the-world */
    pthread_mutex_t stw_m;
    pthread_cond_t stw_parked_cv, stw_resume_cv;
    _Atomic int stw_req;
    int registered, parked;
    uint64_t stw_gen;
    /* logging */
    bool logging;
    _Atomic uint64_t seq;
    uint64_t epoch;
    /* shared hand-off structures */
    larr *inbox;                /* larson: one inbox per thread */
    ptrq pq;                    /* prodcons batches */
    ptrq orphans;               /* objects left for others (threads, large) */
    _Atomic int gc_wanted;
    /* totals */
    uint64_t gcs, epoch_gcs, verifies, epochs, phases, gc_reclaimed;
    double t0;
    ga_stats last_stats;
    _Atomic uint64_t last_heap_inuse;
    uint64_t omitted_objs;      /* objects left out of the reproducer (replay caps) */
    /* proof of work (progress.c) */
    phase_rec *phase_recs;
    size_t nphase_recs, cap_phase_recs;
    double phase_start_s, phase_run0;
    _Atomic uint64_t stw_total_ns, stw_since_ns;   /* time the world was stopped; start of the current stop */
    _Atomic uint64_t coord_beat_ns;                 /* the coordinator's last sign of life */
    _Atomic(const char *) coord_doing;              /* what the coordinator is doing */
    _Atomic int reporting;                          /* main has stopped every worker: the watchdog stands down */
    pthread_t wd_th;
    bool wd_started;
} stress;

extern stress G;

/* ---- objects.c ------------------------------------------------------------------------- */
uint64_t st_mix(uint64_t z);
uint64_t st_rand(tctx *t);
uint32_t st_size_classes(tctx *t);                /* across all small size classes */
uint32_t st_size_range(tctx *t, uint32_t lo, uint32_t hi);   /* log-uniform */
double st_now(void);
/* Command-line option "--name=value": copies the name into name[n] and returns the value;
 * any other argument is copied whole and NULL returned (the value is then the next one). */
static inline const char *st_split_option(const char *a, char *name, size_t n)
{
    const char *eq = a[0] == '-' && a[1] == '-' ? strchr(a, '=') : NULL;
    if (eq && (size_t)(eq - a) < n) {
        memcpy(name, a, (size_t)(eq - a));
        name[eq - a] = 0;
        return eq + 1;
    }
    snprintf(name, n, "%s", a);
    return NULL;
}
void *st_alloc(tctx *t, uint32_t size, unsigned oflags, unsigned align, orec *out);
bool st_free(tctx *t, const orec *o);            /* false: a finding stopped the run */
bool st_check(tctx *t, const orec *o, const char *when);
bool st_read_hdr(tctx *t, void *p, orec *out, const char *when);   /* header objects */
void st_rewrite(tctx *t, orec *o);
bool st_is_tiny(const orec *o);
void st_fail(tctx *t, const char *inv, const orec *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void st_fail_report(tctx *t, const char *inv, const ga_report *r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void st_fail_slot(int slot, int profile, const char *inv, const char *fmt, ...)   /* slot threads: coordinator */
    __attribute__((format(printf, 4, 5)));

/* ---- profiles.c ------------------------------------------------------------------------ */
void *st_worker_main(void *arg);
const char *st_profile_name(int p);
/* schedmode.c: galloc-stress --sched (the controlled scheduler's search, sched build) */
bool st_sched_wanted(int argc, char **argv);
int st_sched_main(int argc, char **argv);
int st_profile_from_name(const char *s);
void stw_register(tctx *t);
void stw_unregister(tctx *t);
void stw_park(tctx *t);
bool tab_push(tctx *t, const orec *o);
void tab_del(tctx *t, size_t i);
int ptrq_init(ptrq *q, size_t cap);
bool ptrq_push(ptrq *q, void *p);
void *ptrq_pop(ptrq *q);

/* ---- oplog.c --------------------------------------------------------------------------- */
void ring_add(tctx *t, uint8_t kind, uint64_t seq, uint64_t id, const void *p, uint32_t size, uint8_t flags, unsigned align_log);
int log_add(tctx *t, uint8_t kind, uint64_t seq, uint64_t id, uint32_t size, uint8_t flags, unsigned align_log);
void log_reset(tctx *t);
size_t log_total(void);
int merge_init(void);
void merge_reset(void);
void merge_advance(void);                        /* only while every worker is parked */
uint32_t merge_rid(uint64_t id);                 /* replay id of a driver object, 0 if none */
void merge_kill(uint64_t id);                    /* the object died in a GC cycle */
void merge_emit(const gh_op *op, int cache);     /* coordinator op (cache -1: none) */
void merge_emit_free(uint64_t id, int cache);
uint64_t gc_hash_keep(uint64_t rid, unsigned seed);   /* the executor's keep hash % 100 */
size_t merge_nops(void);
size_t merge_peak_bytes(void);                   /* most live bytes the replay holds */
int write_repro(const char *path, char *replay_cmd, size_t n);
void print_rings(FILE *out);
const char *lkind_name(int k);

/* ---- progress.c ------------------------------------------------------------------------ */
uint64_t st_now_ns(void);
uint64_t thread_ops(int slot);                   /* allocs + frees of a worker slot */
long st_ncpus(void);
double run_seconds(void);                        /* seconds since start the world was not stopped */
void stw_mark_begin(void);
void stw_mark_end(void);
void coord_beat(const char *doing);
void phase_open(int profile);
bool phase_close(void);                          /* false: a thread missed the floor (a finding) */
bool progress_finding(const char *inv);          /* a floor / watchdog finding (no reproducer) */
void wd_start(void);
void wd_stop(void);                              /* main stopped every worker: join the watchdog */

/* ---- report.c -------------------------------------------------------------------------- */
void hist_add(hist *h, uint64_t ns);
uint64_t hist_pct(const hist *h, double q);
void hist_merge(hist *dst, const hist *src);
size_t st_rss(void);
void timeline_add(double t, double ops_per_s, size_t rss, uint64_t heap_inuse, uint64_t live);
void progress_line(double el, double ops_per_s, int64_t live, int64_t live_bytes, size_t rss, bool final);
int write_json(const char *path, double elapsed, size_t peak_rss, const char *result);
int write_plots(const char *dir);
void print_summary(FILE *out, double elapsed, size_t peak_rss);

#endif
