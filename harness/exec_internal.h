/*
 * exec_internal.h — the executor's state and the functions its files share (harness only).
 *
 * The executor (gh_execute) is split by concern; each file opens with what it owns:
 *   exec.c          the driver: options, names, the op loop, teardown, printing findings
 *   exec_shadow.c   shadow model: live objects, interval set, tiny blocks, statistics books
 *   exec_model.c    reference model of span slots, independent of galloc's bookkeeping
 *   exec_content.c  content patterns and zero checks
 *   exec_checks.c   findings and checks (new objects, misuse reports, stats, full check)
 *   exec_os.c       the OS layer under galloc (ga_testos + injected-failure accounting)
 *   exec_alloc.c    allocation ops and the glibc twin
 *   exec_free.c     free ops and misuse ops
 *   exec_ops.c      usable / write / check / cache / release / destroy / scavenge
 *   exec_gc.c       GC cycles: the whole-cycle op and the begin / mark / end / sweep steps
 *   exec_faults.c   harness faults (prove the checks fire)
 * Data flows one way: ops call checks, checks read the shadow model; nothing below
 * calls an op. Everything here calls galloc only through galloc.h / os.h.
 */
#ifndef GH_EXEC_INTERNAL_H
#define GH_EXEC_INTERNAL_H
#include "harness_internal.h"
#include "os.h"
#include "sizeclass.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define GH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GH_ASAN 1
#endif
#endif
#ifdef GH_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define PAGE 8192u
#define FULL_FILL_LIMIT 4096u      /* objects up to this size are filled/checked entirely */
#define EDGE_BYTES 1024u           /* larger ones: head, tail, and sparse words (for_ranges) */
#define ZERO_FULL_LIMIT (1u << 20) /* zero checks are complete up to 1 MiB */

/* ---- state ---------------------------------------------------------------------- */
typedef struct obj {
    uint64_t id, gen;
    size_t size, align;
    unsigned flags;              /* GA_* flags galloc was given */
    unsigned cache;
    bool tiny, large;
    bool in_cycle;               /* live at gc-begin of the cycle now marking: dies at gc-end unless marked */
    bool marked;                 /* marked in this cycle (ga_gc_mark said true) */
    void *sut, *ref;
    size_t ref_size;             /* bytes the glibc twin holds valid pattern for */
    uintptr_t slot, span;        /* from ga_lookup at allocation */
    size_t elemsize, span_npages;
    unsigned sizeclass;
    uint64_t ref_gen;
} obj;

typedef struct ivl { uintptr_t lo, hi; uint64_t id; bool tiny; } ivl;   /* a live object [lo, hi) */
/* A slot galloc may keep allocated until it sweeps: freed by the harness, or dead in a GC
 * cycle (exec_model.c). */
typedef struct ex_pend { uintptr_t slot, span; size_t elemsize; uint8_t why, seen; uint64_t id; } ex_pend;
typedef struct tblock { uintptr_t slot; unsigned members; bool marked; } tblock;

typedef struct ex {
    const gh_options *o;
    gh_finding *f;
    gh_exec_stats *st;
    FILE *emit;
    ga_testos *tos;
    ga_heap *h;
    ga_cache *caches[GH_MAX_CACHES];
    unsigned cur;
    obj *objs; size_t nobj, capobj;
    ivl *iv; size_t niv, capiv;
    tblock *blk; size_t nblk, capblk;
    uint64_t next_id;
    size_t step;
    const gh_op *op;
    gh_ref ref;
    size_t live_bytes;           /* sum of requested sizes of live objects */
    /* statistics model */
    uint64_t exp_mallocs, exp_large_count, exp_large_bytes, exp_total_alloc, exp_gcs;
    uint64_t live_nontiny, live_large, live_slot_bytes;
    uint64_t pending_objs, pending_large, pending_bytes;
    /* OS failure injection (fail-os op): galloc reaches ga_testos through `wrap`, which
     * counts the calls that failed, so a failure is excused exactly when an injected OS
     * failure happened during the op that failed */
    ga_os wrap;
    const ga_os *inner;
    uint64_t os_failures;        /* injected failures so far */
    uint64_t os_model_errors;    /* the mirror below predicted a failure that did not happen */
    /* mirror of ga_testos's injection state (alloc/os.c should_fail), advanced on every
     * call in the same order testos sees them: tells injected failures from real ones
     * (e.g. a reserve at a hint the kernel refuses) */
    bool m_next_alloc;
    unsigned m_skip[GA_OS_NCALLS], m_count[GA_OS_NCALLS];
    /* the hull of every range the heap asked to make Ready (ASan builds unpoison only this
     * part of a released region: nothing else can carry poison) */
    uintptr_t used_lo, used_hi;
    /* while a scavenge op runs: the ranges the heap passed to `unused` (the only call that
     * changes a page's contents or state under a live object), so the op checks the live
     * objects in them, not every object; more than fit: every object */
    bool rec_unused, unused_overflow;
    size_t nunused;
    struct { uintptr_t lo, hi; } unused[16];
    /* misuse reports through ga_set_error_handler: each refused free must be reported
     * exactly once, with its status and pointer, and nothing else may be reported */
    uint64_t herr_calls, herr_expected;
    ga_status herr_last_st;
    const void *herr_last_p;
    char herr_last_what[160];
    /* GC: a cycle is marking (gc-begin, or inside the whole-cycle op) */
    bool marking;
    /* span reference model (exec_model.c): pending slots, sorted by address, and the spans
     * the current op touched */
    ex_pend *pend; size_t npend, cappend;
    uintptr_t touched[32]; size_t ntouched;
    bool touch_all;
    bool model_all_swept;
    size_t model_seen_iv;        /* live objects the span checks of one sweep over all spans saw */
    bool in_full;                /* inside ex_full_check: findings say so */        /* right after ga_gc_begin: nothing may be left pending */
    /* harness fault injection */
    bool fault_done;
} ex;

typedef struct pat_ctx { uint8_t *p; uint64_t base; size_t limit; size_t bad; uint8_t got, want; } pat_ctx;

#define EM(...) do { if (x->emit) { fprintf(x->emit, "    "); fprintf(x->emit, __VA_ARGS__); fputc('\n', x->emit); } } while (0)

static inline bool ex_found(const ex *x) { return x->f->found; }
/* Lower bound in a sorted array of n records of `stride` bytes keyed by the 64-bit field
 * at byte `key_off`: the first index whose key is >= key (n if none). Branch-free, a
 * conditional move per halving: the shadow's searches (objects by id, live intervals,
 * tiny blocks, the span model's pending slots) mispredicted half their steps as branches.
 * Call it with sizeof / offsetof, so both fold to constants. */
static inline size_t ex_lower_bound(const void *arr, size_t n, size_t stride, size_t key_off, uint64_t key)
{
    if (!n) return 0;
    const char *first = (const char *)arr + key_off, *b = first;
    uint64_t k;
    while (n > 1) {
        size_t half = n / 2;
        memcpy(&k, b + half * stride, sizeof k);
        b = k < key ? b + half * stride : b;
        n -= half;
    }
    memcpy(&k, b, sizeof k);
    return (size_t)(b - first) / stride + (k < key);
}
#define EX_LOWER_BOUND(arr, n, field, key) \
    ex_lower_bound((arr), (n), sizeof *(arr), offsetof(__typeof__(*(arr)), field), (uint64_t)(key))
static inline uint64_t ex_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline bool ex_pow2(uint64_t v) { return v && !(v & (v - 1)); }
static inline uintptr_t ex_obj_hi(const obj *o) { return (uintptr_t)o->sut + (o->size ? o->size : 1); }
static inline bool ex_fault_now(const ex *x, gh_fault f) { return x->o->fault == f && !x->fault_done && x->step >= x->o->fault_step; }


/* ---- exec_shadow.c: the object table, the interval set of live objects, tiny blocks, the books */
obj *ex_obj_add(ex *x);
long ex_resolve(ex *x, uint16_t o);
obj *ex_find_id(ex *x, uint64_t id);
uint64_t ex_iv_insert(ex *x, uintptr_t lo, uintptr_t hi, uint64_t id, bool tiny);
size_t ex_iv_lower(ex *x, uintptr_t lo);
tblock *ex_blk_find(ex *x, uintptr_t slot, size_t *pos);
void ex_account_alloc(ex *x, obj *o);
void ex_account_gone(ex *x, obj *o);
void ex_drop_obj(ex *x, obj *o, bool free_ref);
void ex_book_unseen(ex *x, void *p, bool give_back);

/* ---- exec_model.c: the span reference model */
void ex_model_pending(ex *x, uintptr_t span, uintptr_t slot, size_t elemsize, bool dead, uint64_t id);
void ex_model_touch(ex *x, uintptr_t span);
void ex_model_touch_all(ex *x);
bool ex_model_check(ex *x);        /* the spans touched since the last call */
bool ex_model_check_all(ex *x);    /* every span with a live object or a pending slot */

/* ---- exec_content.c: content patterns, zero checks */
bool ex_pat_check(const void *p, size_t n, size_t limit, uint64_t id, uint64_t gen, pat_ctx *pc);
bool ex_zero_check(const void *p, size_t n, pat_ctx *pc);
bool ex_zero_check_sampled(const void *p, size_t n, pat_ctx *pc);   /* for_ranges' bytes only */
bool ex_check_obj_content(ex *x, obj *o, const char *when);
void ex_write_obj(ex *x, obj *o);

/* ---- exec_checks.c: findings, the per-object and per-step checks, statistics, the full check */
bool ex_finding(ex *x, unsigned check, const obj *a, const obj *b, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
bool ex_finding(ex *x, unsigned check, const obj *a, const obj *b, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void ex_tracef(ex *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool ex_verify_span_at(ex *x, obj *o, const void *p, uint64_t id);
const char *ex_stname(ga_status s);
void ex_on_misuse(void *ctx, ga_status st, const void *p, const char *what);
bool ex_check_report(ex *x, const obj *o, uint64_t before, ga_status got, const void *p);
bool ex_check_no_stray_reports(ex *x);
bool ex_check_new_object(ex *x, obj *o, bool zero_promised);
const char *ex_errname(int e);
bool ex_check_stats(ex *x, bool exact);
bool ex_check_all_objects(ex *x, const char *when);
bool ex_check_unused_objects(ex *x, const char *when);   /* those in x->unused[] only */
bool ex_full_check(ex *x);

/* ---- exec_os.c: the OS layer galloc sees (ga_testos with counted injected failures), page states */
bool ex_check_pages(ex *x, obj *o);
bool ex_check_os_violations(ex *x);
void ex_op_fail_os(ex *x, const gh_op *op);
void ex_os_init(ex *x);

/* ---- exec_alloc.c: the allocation ops (malloc, calloc, aligned, realloc) and the glibc twin */
ga_cache *ex_cur_cache(ex *x, int *err);
obj *ex_do_alloc(ex *x, const gh_req *q, unsigned flags, uint64_t old_id);
bool ex_admit(ex *x, obj *o, bool zero_promised);
void ex_op_malloc(ex *x, const gh_op *op);
void ex_op_calloc(ex *x, const gh_op *op);
void ex_op_aligned(ex *x, const gh_op *op);
void ex_op_realloc(ex *x, const gh_op *op);

/* ---- exec_free.c: explicit frees and misuse (double, foreign, interior) */
bool ex_free_obj(ex *x, uint64_t id, const char *what, bool local);
void ex_op_free(ex *x, const gh_op *op);
void ex_op_double_free(ex *x, const gh_op *op);
void ex_op_free_foreign(ex *x, const gh_op *op);
void ex_op_free_interior(ex *x, const gh_op *op);

/* ---- exec_ops.c: the remaining ops (usable, write, check, caches, scavenge) */
void ex_op_usable(ex *x, const gh_op *op);
void ex_op_write(ex *x, const gh_op *op);
void ex_op_check(ex *x, const gh_op *op);
void ex_op_cache(ex *x, const gh_op *op);
void ex_op_release(ex *x);
void ex_op_destroy(ex *x);
void ex_op_scavenge(ex *x, const gh_op *op);

/* ---- exec_gc.c: GC cycles, whole and in phases */
void ex_op_gc(ex *x, const gh_op *op);
void ex_op_gc_begin(ex *x);
void ex_op_gc_mark(ex *x, const gh_op *op);
void ex_op_gc_end(ex *x);
void ex_op_sweep(ex *x, const gh_op *op);
/* A cycle still marking when the sequence ends is ended (its unmarked objects die). */
void ex_gc_finish(ex *x);

/* ---- exec_faults.c: harness faults applied after a step */
void ex_apply_after_fault(ex *x);
bool ex_in_step_fault(gh_fault f);

#endif
