/*
 * harness.h — the galloc test harness as a library (galloc_harness).
 *
 * One op model, two encodings, one executor:
 *   gh_decode  bytes -> ops   (binary form v1; ANY byte string decodes; see FORMAT.md)
 *   gh_encode  ops -> bytes   (canonical; decode(encode(s)) == s)
 *   gh_parse   text -> ops    ("galloc-ops 1" files; errors name the line)
 *   gh_format  ops -> text    (parse(format(s)) == s)
 *   gh_execute ops on a fresh heap (ga_heap_new over a ga_testos OS layer) with a shadow
 *              model, per-step checks, the glibc differential oracle and optional
 *              fault injection; reports the first finding.
 *   gh_minimize  op-aware delta debugging of a failing sequence.
 *   gh_emit_c    a standalone C program reproducing a sequence through galloc.h.
 *
 * Used by galloc-replay (harness/replay.c), the fuzz targets (fuzz/) and the stress
 * driver (stress/). Calls only alloc/galloc.h and alloc/os.h (plus alloc/sizeclass.h for
 * the class tables); never the allocator's internals.
 */
#ifndef GALLOC_HARNESS_H
#define GALLOC_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>
#include <sys/stat.h>
#include "galloc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GH_FORMAT_VERSION 1       /* text format version; binary v1 is written when a sequence fits it */
#define GH_BINARY_VERSION 2       /* newest binary version: v1 plus the GC step ops (FORMAT.md) */
#define GH_MAX_CACHES 8           /* simulated Ps: cache indices are taken modulo this */

/* ---- Op model -------------------------------------------------------------------- */
typedef enum gh_kind {
    GH_MALLOC = 0,     /* size; flags = GA_NOSCAN|GA_ZERO|GA_NOTINY */
    GH_CALLOC,         /* a = nmemb, b = elem size; flags = GA_NOSCAN|GA_NOTINY */
    GH_REALLOC,        /* obj, a = new size; flags bit0 = from NULL (obj ignored) */
    GH_ALIGNED,        /* b = alignment, a = size; flags bits0-1 = api, bit2 = noscan */
    GH_FREE,           /* obj; flags bit0 = pick among objects of other caches,
                          bit1 = ga_free_local through the current cache */
    GH_USABLE,         /* obj: ga_usable_size / malloc_usable_size */
    GH_WRITE,          /* obj: rewrite contents with a new generation */
    GH_CHECK,          /* obj: check contents */
    GH_CACHE,          /* a = cache index: switch the current cache (simulated P) */
    GH_RELEASE,        /* ga_cache_release on the current cache */
    GH_DESTROY,        /* ga_cache_destroy the current cache (re-created on next use) */
    GH_GC,             /* a = keep percent 0..100, b = selector seed 0..255,
                          c = sweep (0 none, 1..254 spans, 255 all), flags = black allocs */
    GH_SCAVENGE,       /* flags 0 = all, 1 = policy step, 2 = a bytes */
    GH_FAIL_OS,        /* a = gh_os_fault, b = skip 0..255, flags = count-1 */
    GH_VERIFY,         /* full check: ga_verify, every object, statistics */
    GH_DOUBLE_FREE,    /* obj: free it, then free it again -> expect the exact status;
                          flags bit0 = both through ga_free_local */
    GH_FREE_FOREIGN,   /* flags = gh_foreign: free a pointer galloc never returned */
    GH_FREE_INTERIOR,  /* obj, a = offset: free an interior pointer */
    /* binary v2 and text: a GC cycle in steps, so anything can happen while it marks */
    GH_GC_BEGIN,       /* ga_gc_begin (a no-op while a cycle is marking) */
    GH_GC_MARK,        /* obj; flags bit0 = interior: ga_gc_mark(p + a mod size) */
    GH_GC_END,         /* ga_gc_end: unmarked objects from before gc-begin die */
    GH_SWEEP,          /* ga_sweep(c spans; 255 = all) */
    GH_NKINDS
} gh_kind;

enum gh_aligned_api { GH_API_POSIX = 0, GH_API_C11 = 1, GH_API_MEMALIGN = 2, GH_API_NATIVE = 3 };
enum gh_foreign { GH_FOREIGN_STACK = 0, GH_FOREIGN_STATIC, GH_FOREIGN_LIBC, GH_FOREIGN_NULL };
enum gh_os_fault { GH_OSF_NEXT_ALLOC = 0, GH_OSF_RESERVE, GH_OSF_MAP, GH_OSF_USED,
                   GH_OSF_UNUSED, GH_OSF_RELEASE, GH_OSF_META, GH_OSF_N };
#define GH_GC_SWEEP_ALL 255
#define GH_OBJ_FROM_END 0x8000u   /* obj operand: bit 15 = count from the newest object */

typedef struct gh_op {
    uint8_t kind;       /* gh_kind */
    uint8_t flags;      /* 3 modifier bits, meaning per kind (above) */
    uint16_t obj;       /* object operand: idx mod live, or newest-1-(k mod live) */
    uint32_t line;      /* source line in a text file, 0 if none */
    uint64_t a, b, c;   /* numeric operands (meaning per kind) */
} gh_op;

typedef struct gh_seq {
    gh_op *ops;
    size_t n, cap;
} gh_seq;

void gh_seq_init(gh_seq *s);
void gh_seq_free(gh_seq *s);
int gh_seq_push(gh_seq *s, const gh_op *op);          /* 0 or -1 (ENOMEM) */
int gh_seq_copy(gh_seq *dst, const gh_seq *src);       /* dst initialised by this call */
bool gh_op_equal(const gh_op *x, const gh_op *y);      /* ignores line */
const char *gh_kind_name(unsigned kind);

/* Binary form. Decoding never fails on content (every byte string is a valid
 * sequence); it returns -1 only when memory runs out. *version_out (may be NULL) gets the
 * version named by the header, or 1 when there is no header. */
int gh_decode(const uint8_t *data, size_t len, gh_seq *out, unsigned *version_out);
/* Same, and *missing_out = operand bytes the last op wanted past the end (read as 0): the
 * encoder never writes that, so a file with a header and missing bytes was cut short. */
int gh_decode_ex(const uint8_t *data, size_t len, gh_seq *out, unsigned *version_out, size_t *missing_out);
/* Canonical encoding with the "GAOP" v1 header; caller frees *out. 0 or -1. */
int gh_encode(const gh_seq *s, uint8_t **out, size_t *len);

/* Text form. */
typedef struct gh_parse_error {
    unsigned line, col;
    char msg[200];
} gh_parse_error;
bool gh_is_text(const uint8_t *data, size_t len);     /* first line starts "galloc-ops" */
int gh_parse(const char *text, size_t len, gh_seq *out, gh_parse_error *err); /* 0 / -1 */
int gh_format_op(const gh_op *op, char *buf, size_t n); /* one line, no newline */
int gh_format(const gh_seq *s, FILE *out);              /* with the header line */

/* Whole file into a malloc'd buffer (*data, *len; free it). 0, or -1 with errno set
 * (ENOMEM, EIO, or fopen's). Shared by galloc-replay, the fuzz drivers and tools. */
int gh_read_file(const char *path, uint8_t **data, size_t *len);
/* The first bytes of path into buf (at most n), for choosing a mode from a file's header;
 * the count read, 0 when path is not a regular file: a pipe or terminal (/dev/stdin) read
 * here would lose those bytes for the real read (such inputs need the mode's flag). */
static inline size_t gh_sniff_file(const char *path, void *buf, size_t n)
{   /* inline: galloc_sched's mt_tool.c uses it without linking the harness library */
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t r = fread(buf, 1, n, f);
    fclose(f);
    return r;
}
/* The inputs under a command-line path (inputs.c): file(ctx, f) for path itself if it is not
 * a directory, else for every file below it (sorted, dot files and *.md skipped, 32 levels at
 * most); error(ctx, p, errno, depth) where stat or opendir fails (depth 0: path itself).
 * Returns the number of files visited. */
typedef struct gh_walker {
    void *ctx;
    void (*file)(void *ctx, const char *path);
    void (*error)(void *ctx, const char *path, int err, int depth);
} gh_walker;
size_t gh_walk_inputs(const gh_walker *w, const char *path);
/* A count or byte size for command lines: decimal, 0x hex or octal, optional k/m/g suffix
 * (powers of 1024). False on junk, a minus sign or overflow. */
bool gh_parse_size(const char *s, uint64_t *v);

/* Random valid sequence (tests, stress, seeds): deterministic in seed. */
int gh_generate(uint64_t seed, size_t nops, gh_seq *out);

/* ---- Executor -------------------------------------------------------------------- */
/* Checks; each can be switched off (tests prove each one catches its own fault). */
enum gh_check {
    GH_CHK_STATUS  = 1u << 0,   /* result codes, errno, unexpected failures, gc_mark */
    GH_CHK_ALIGN   = 1u << 1,   /* returned pointer honours the alignment asked/implied */
    GH_CHK_LOOKUP  = 1u << 2,   /* ga_lookup: class, span, object start, allocated bit */
    GH_CHK_USABLE  = 1u << 3,   /* usable size >= requested, agrees with ga_lookup */
    GH_CHK_OVERLAP = 1u << 4,   /* no two live objects overlap */
    GH_CHK_CONTENT = 1u << 5,   /* contents of touched objects intact */
    GH_CHK_ZERO    = 1u << 6,   /* zeroed memory where promised */
    GH_CHK_SPAN    = 1u << 7,   /* ga_verify_span on the touched spans */
    GH_CHK_VERIFY  = 1u << 8,   /* ga_verify at full checks */
    GH_CHK_STATS   = 1u << 9,   /* ga_read_stats against the shadow totals */
    GH_CHK_DIFF    = 1u << 10,  /* differential against glibc malloc */
    GH_CHK_OS      = 1u << 11,  /* ga_testos: no illegal page transition; touched pages Ready */
    GH_CHK_PLANTED = 1u << 12,  /* the planted test condition (never on by default) */
    GH_CHK_MODEL   = 1u << 13,  /* span reference model: which slots must be allocated (exec_model.c) */
    GH_CHK_ALL     = 0x0fffu | GH_CHK_MODEL
};
const char *gh_check_name(unsigned check);       /* "content", "overlap", ... */
unsigned gh_check_from_name(const char *name);   /* 0 if unknown */

/* Harness-side fault injection: corrupts the system under test (or the harness's view of
 * it) right after step `fault_step` executes, so that the checks can be shown to fire. */
typedef enum gh_fault {
    GH_FAULT_NONE = 0,
    GH_FAULT_SCRIBBLE,      /* flip a byte inside the newest live object            -> content */
    GH_FAULT_HIDDEN_FREE,   /* ga_free the newest non-tiny object behind the shadow -> lookup/stats/overlap */
    GH_FAULT_HIDDEN_ALLOC,  /* ga_alloc an object the shadow does not know          -> stats */
    GH_FAULT_FREE_SLOT,     /* write into a free slot of a fresh (needzero==0) span -> span/zero */
    GH_FAULT_PTR_FLIP,      /* the newest object's pointer is seen +8 bytes         -> align/lookup */
    GH_FAULT_ALIAS,         /* the newest object's pointer is seen as another live  -> overlap */
    GH_FAULT_DIRTY_ZERO,    /* scribble into a GA_ZERO object before its zero check -> zero */
    GH_FAULT_UNDERSIZE,     /* next allocation asks galloc for 1 byte, shadow expects the op size -> usable */
    GH_FAULT_REF_SCRIBBLE,  /* flip a byte in the glibc copy of the newest object   -> diff */
    GH_FAULT_SUT_FAIL,      /* pretend the next galloc allocation returned NULL     -> diff/status */
    GH_FAULT_TOUCH_RELEASED,/* scavenge all, then mark a live object's page unused in testos -> os */
    GH_FAULT_COLD_SLOT,     /* write into a free slot of the OLDEST small object's span, which
                               later ops need not touch -> verify, at the next full check */
    GH_NFAULTS
} gh_fault;
const char *gh_fault_name(unsigned f);
int gh_fault_from_name(const char *name);   /* -1 if unknown */

typedef struct gh_options {
    unsigned checks;            /* GH_CHK_* mask (default GH_CHK_ALL & ~GH_CHK_PLANTED) */
    size_t check_every;         /* full check every N ops; 0 = only at the end; 1 = every op */
    bool diff;                  /* run the glibc side (default true) */
    size_t budget_bytes;        /* live bytes cap per side (default 64 MiB); bigger requests skip */
    size_t max_heap_bytes;      /* ga_heap_options.max_heap_bytes (default 1 GiB) */
    bool no_green_tea;
    bool poison_free;
    bool no_poison;             /* ga_heap_options.no_poison (set by the faults that touch free slots) */
    int alloc_plant;            /* ga_heap_options.plant: a deliberately broken allocator (ga_plant) */
    size_t max_live;            /* live object cap (default 4096); allocations beyond skip */
    /* fault injection */
    gh_fault fault;
    size_t fault_step;          /* fault applied after this step (0-based) */
    /* planted failure (for the minimizer test; needs GH_CHK_PLANTED in checks): a finding
     * whenever an object with planted_lo <= size <= planted_hi is freed while at least
     * planted_min_live other objects are live. */
    size_t planted_lo, planted_hi, planted_min_live;
    const ga_os *os;            /* what the ga_testos of each run wraps (NULL: the kernel);
                                 * fuzz_ops passes a ga_reuseos so heaps recycle memory */
    FILE *trace;                /* per-op trace (NULL: none) */
    bool trace_addrs;           /* include addresses in the trace */
} gh_options;
void gh_options_default(gh_options *o);

typedef struct gh_finding {
    bool found;
    bool final_check;           /* found by the full check after the last op */
    bool at_full_check;         /* found by a full check (periodic or final), not by a per-op check */
    bool located;               /* a full check found it; the re-run with a full check after
                                 * every op named this (earlier, exact) step */
    unsigned check;             /* GH_CHK_* that fired */
    size_t step;                /* 0-based op index */
    gh_op op;                   /* the op */
    char message[600];          /* what was expected and what was seen */
    ga_report report;           /* ga_verify / ga_verify_span report, code 0 if none */
    uint64_t obj_id[2];         /* objects involved (0 = none) */
    uintptr_t obj_addr[2];
    size_t obj_size[2];
    uintptr_t span;             /* span involved, 0 if none */
    size_t span_npages;
    unsigned sizeclass;
} gh_finding;

typedef struct gh_exec_stats {
    size_t ops_run, ops_skipped, full_checks;
    size_t allocs, frees, gcs, max_live;
    size_t op_count[GH_NKINDS];
} gh_exec_stats;

/* Runs the sequence on a fresh heap. Returns 0 clean, 1 finding (in *f), -1 when the
 * harness itself could not start (heap creation failed; message in f->message). */
int gh_execute(const gh_seq *s, const gh_options *opt, gh_finding *f, gh_exec_stats *st);
/* Prints a finding: failing step, check, report fields, objects, span. */
void gh_print_finding(FILE *out, const gh_finding *f, const char *source);

/* ---- Minimizer and reproducer ---------------------------------------------------- */
typedef struct gh_min_options {
    size_t max_runs;            /* executions allowed (default 20000) */
    bool same_check_only;       /* keep the finding's check (always, for now) */
    FILE *log;                  /* progress (NULL: quiet) */
} gh_min_options;
/* Shrinks `s` in place while gh_execute(s, opt) keeps reporting a finding of the same
 * check (and, for verify/span findings, the same invariant). Returns the number of
 * executions used, or -1 if the input does not fail to begin with. */
long gh_minimize(gh_seq *s, const gh_options *opt, const gh_min_options *mo, gh_finding *f);

/* Writes a standalone C program that replays `s` through galloc.h (linking
 * libgalloc_core) and exits 1 if the finding reproduces, 0 if not. */
int gh_emit_c(FILE *out, const gh_seq *s, const gh_options *opt, const char *source);

#ifdef __cplusplus
}
#endif
#endif
