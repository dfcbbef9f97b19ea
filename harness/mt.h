/*
 * mt.h — multi-threaded op programs under the controlled scheduler (issue 15).
 *
 * A program is one op list per logical thread plus a schedule (the scheduler's decision
 * list). mt_run executes it: each thread is a real pthread with its own ga_cache, the
 * threads share one table of live objects (so they free each other's objects), exactly
 * one runs at a time (gsched.h) and every allocator schedule point is a decision.
 * Encodings: text ("galloc-mt 1", FORMAT.md "Multi-threaded programs") and binary
 * ("GAMT" v1); mt_decode_fuzz turns any byte string into a program (fuzz_mt).
 * mt_minimize shrinks ops and preemptions (delta debugging on both).
 *
 * Checks (mt_finding.what): status (ga_free / ga_gc_mark refused a valid call, an
 * allocation failed), misuse (the heap's error handler fired), content (an object's
 * pattern changed: two live objects share memory), overlap / lookup (a new or live object
 * overlaps another, or ga_lookup does not call it allocated), verify (ga_verify; the
 * report's invariant is the signature), leak (after the run and a full sweep, ga_read_stats'
 * heap_objects is not the number of objects the program holds: objects a GC op killed were
 * never reclaimed), deadlock, livelock.
 * Concurrency contract the harness keeps (galloc.h): a GC op (gc-begin..gc-end) runs only
 * while no other thread is inside an allocation, a local free, a release or a sweep (ga_free
 * from other threads may race with it); verify runs only when no other thread is inside an op.
 * Calls: gsched.h, galloc.h.
 */
#ifndef GALLOC_MT_H
#define GALLOC_MT_H

#include <stdio.h>
#include "gsched.h"

typedef enum mt_kind {
    MT_MALLOC = 0,   /* a = size; flags bit0 = scan (not GA_NOSCAN); always GA_NOTINY */
    MT_FREE,         /* obj: ga_free of any live object (obj mod live) */
    MT_FREE_OTHER,   /* obj: ga_free of an object another thread allocated */
    MT_FREE_LOCAL,   /* obj: ga_free_local(own cache) of an object this thread allocated */
    MT_GC,           /* a = keep percent, b = seed; flags bit0 = ga_sweep(all) after */
    MT_SWEEP,        /* a = spans (0 = all) */
    MT_RELEASE,      /* ga_cache_release(own cache) */
    MT_SCAVENGE,     /* flags bit0: policy step, else ga_scavenge(all) */
    MT_VERIFY,       /* quiescent full check */
    MT_NKINDS
} mt_kind;

typedef struct mt_op {
    uint8_t kind, flags;
    uint16_t obj;
    uint32_t a, b;
} mt_op;

typedef struct mt_prog {
    unsigned nthreads;
    mt_op *ops[GS_MAX_THREADS];
    size_t nops[GS_MAX_THREADS];
    uint8_t *sched;              /* decisions (thread ids) */
    size_t nsched;
} mt_prog;

void mt_prog_free(mt_prog *p);
int mt_prog_copy(mt_prog *dst, const mt_prog *src);
int mt_push_op(mt_prog *p, unsigned tid, const mt_op *op);
int mt_set_sched(mt_prog *p, const uint8_t *d, size_t n);
const char *mt_kind_name(unsigned k);

/* Text ("galloc-mt 1") and binary ("GAMT" 1). Errors: -1 with a message in err. */
bool mt_is_mt(const uint8_t *data, size_t len);
int mt_parse(const char *text, size_t len, mt_prog *out, char *err, size_t errn);
int mt_format(const mt_prog *p, FILE *out, const char *comment);
int mt_decode(const uint8_t *data, size_t len, mt_prog *out, char *err, size_t errn);
int mt_encode(const mt_prog *p, uint8_t **out, size_t *len);
/* Any bytes -> a program with its schedule (fuzz_mt): byte 0 picks 2..4 threads, then op
 * records until 0xff 0xff or the end, the rest (gap, thread) preemption pairs. Never fails but on ENOMEM. */
int mt_decode_fuzz(const uint8_t *data, size_t len, mt_prog *out);
/* Random program: nthreads x nops, deterministic in seed. */
int mt_generate(uint64_t seed, unsigned nthreads, size_t nops, mt_prog *out);

typedef struct mt_options {
    gs_config sched;             /* strategy for the run; GS_REPLAY uses the program's schedule */
    int plant;                   /* ga_heap_options.plant */
    FILE *trace;                 /* per-op trace (NULL: none) */
} mt_options;

typedef struct mt_finding {
    bool found;
    char what[16];               /* status, misuse, content, overlap, lookup, verify, leak, deadlock, livelock */
    char invariant[16];          /* ga_report invariant for verify findings */
    char message[480];
    int tid;                     /* thread that saw it, -1: the final check */
    size_t op;                   /* its op index */
    size_t decision;             /* decisions made before it */
} mt_finding;

#define MT_TAG_START 0xfffffff0u   /* decisions before a thread's first op (its cache) */
#define MT_TAG_END   0xfffffff1u   /* after its last op */
typedef struct mt_result {
    gs_result sched;
    uint8_t *decisions;          /* the schedule as run, cut at the finding (caller frees) */
    uint32_t *tags;              /* per decision: the op index the chosen thread was in (caller frees) */
    size_t ndecisions, steps, switches;
} mt_result;

/* 0 clean, 1 finding, -1 the run could not start. res may be NULL. */
int mt_run(const mt_prog *p, const mt_options *o, mt_finding *f, mt_result *res);
bool mt_same_signature(const mt_finding *a, const mt_finding *b);
bool mt_same_finding(const mt_finding *a, const mt_finding *b);
void mt_print_finding(FILE *out, const mt_finding *f, const char *source);

/* Shrinks p (ops and schedule, replayed) while it reports a finding with f's signature.
 * p->sched must reproduce f. Returns runs used, -1 if p does not reproduce. */
long mt_minimize(mt_prog *p, const mt_options *o, mt_finding *f, size_t max_runs, FILE *log);
/* The search of galloc-sched and galloc-stress --sched (mt_search.c): generated programs
 * (shaped by profile: NULL / "mixed", "larson", "gc") x seeded schedules until a finding
 * or `seconds`; a finding is confirmed by replay, minimized (unless !minimize) and written
 * to out (text + .bin) with the replay command printed. 0 clean, 1 finding, 2 no
 * schedule points in this build / bad input. */
typedef struct mt_search_cfg {
    gs_strategy strategy;
    uint64_t seed;
    double seconds;
    unsigned threads, pct_depth;
    size_t nops, runs_per_program;   /* ops per thread per program; schedules per program */
    int plant;
    const char *profile, *out;       /* out NULL: galloc-sched-PLANT-sSEED.mt */
    bool minimize, quiet;
    const char *tool;                /* name in messages */
    const char *found_by;            /* command recorded in the reproducer (NULL: galloc-sched's) */
    const char *replay;              /* galloc-replay as printed in the replay command (NULL: "galloc-replay") */
} mt_search_cfg;
void mt_search_defaults(mt_search_cfg *c);
int mt_search(const mt_search_cfg *c);

/* Standalone C program that replays p (ops + schedule) through this library; want (NULL or
 * not found: any finding counts) is the finding it must reproduce exactly (exit 1; 0 clean,
 * 3 another finding); `./repro --no-plant` runs it on the allocator without o->plant. */
int mt_emit_c(FILE *out, const mt_prog *p, const mt_options *o, const mt_finding *want, const char *source);
#endif
