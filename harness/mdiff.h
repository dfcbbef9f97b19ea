/*
 * mdiff.h — the malloc-API differential (library galloc_mdiff): op sequences driven through
 * the code libgalloc.so exports (alloc/malloc.c built as galloc_malloc_test, entry points
 * gm_*, alloc/malloc_test.h) and, in lockstep, through glibc's malloc family; after every
 * op the two sides are compared. Used by the fuzz target fuzz_malloc, galloc-replay
 * --malloc and the plant test (harness/tests/mdiff_plants.c).
 *
 * One op model, two encodings (harness/MDIFF.md):
 *   gm_decode  bytes -> ops  (ANY byte string decodes to a valid sequence)
 *   gm_encode  ops -> bytes  (canonical, "GAMD" v1 header; decode(encode(s)) == s)
 *   gm_parse   text -> ops   ("galloc-malloc 1" files; errors name line and column)
 *   gm_format  ops -> text   (parse(format(s)) == s)
 * gm_execute runs a sequence; every legitimate difference from glibc is one row of the
 * table in mdiff.c (gm_legit_*), which the checks consult.
 */
#ifndef GALLOC_MDIFF_H
#define GALLOC_MDIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GM_FORMAT_VERSION 1
#define GM_MAX_LIVE 512           /* live objects per run; allocations beyond are skipped */

typedef enum gm_kind {
    GM_MALLOC = 0,        /* a = size */
    GM_CALLOC,            /* a = nmemb, b = size */
    GM_REALLOC,           /* obj, a = size; flags bit0 = realloc(NULL, a) */
    GM_REALLOCARRAY,      /* obj, a = nmemb, b = size; flags bit0 = from NULL */
    GM_POSIX_MEMALIGN,    /* a = alignment, b = size */
    GM_ALIGNED_ALLOC,     /* a = alignment, b = size */
    GM_MEMALIGN,          /* a = alignment, b = size */
    GM_VALLOC,            /* a = size */
    GM_PVALLOC,           /* a = size */
    GM_FREE,              /* obj (nothing live: free(NULL)) */
    GM_FREE_SIZED,        /* obj: free_sized(p, requested size) */
    GM_FREE_ALIGNED_SIZED,/* obj: free_aligned_sized(p, alignment, size) (aligned_alloc objects) */
    GM_USABLE,            /* obj: malloc_usable_size (nothing live: of NULL) */
    GM_WRITE,             /* obj: new contents; flags bit0 = also the slack up to usable size */
    GM_CHECK,             /* compare every live object with its glibc twin */
    GM_DOUBLE_FREE,       /* obj: free, then free again: must be reported */
    GM_FREE_INTERIOR,     /* obj, a = offset: free(p + 1 + a % (usable - 1)): must be reported */
    GM_FREE_FOREIGN,      /* a = 0 stack, 1 static, 2 a glibc block: must be reported */
    GM_REALLOC_FREED,     /* obj, a = size: free, then realloc the freed pointer: must be reported */
    GM_NKINDS
} gm_kind;

typedef struct gm_op {
    uint8_t kind;     /* gm_kind */
    uint8_t flags;
    uint8_t obj;      /* 0..127: live object obj % live, oldest first; 128 + k: newest-1-(k % live) */
    uint32_t line;    /* text line, 0 if none */
    uint64_t a, b;
} gm_op;

typedef struct gm_seq {
    gm_op *ops;
    size_t n, cap;
} gm_seq;

void gm_seq_init(gm_seq *s);
void gm_seq_free(gm_seq *s);
int gm_seq_push(gm_seq *s, const gm_op *op);   /* 0 or -1 (ENOMEM) */
const char *gm_kind_name(unsigned kind);

int gm_decode(const uint8_t *data, size_t len, gm_seq *out);   /* -1 only on ENOMEM */
int gm_encode(const gm_seq *s, uint8_t **out, size_t *len);   /* caller frees *out */
bool gm_is_text(const uint8_t *data, size_t len);            /* starts "galloc-malloc" */
/* 0, or -1 with "LINE:COL: error: ..." in err. */
int gm_parse(const char *text, size_t len, gm_seq *out, char *err, size_t errlen);
int gm_format_op(const gm_op *op, char *buf, size_t n);
int gm_format(const gm_seq *s, FILE *out);
/* Whole input (text or binary) into ops; 0, or -1 with a message in err. */
int gm_load(const uint8_t *data, size_t len, gm_seq *out, char *err, size_t errlen);
/* A random valid sequence, deterministic in seed, sizes biased to edges. */
int gm_generate(uint64_t seed, size_t nops, gm_seq *out);

/* Checks (each names what it compares). */
enum gm_check {
    GM_CHK_RESULT  = 1u << 0,  /* success / failure against glibc (or glibc's documented outcome) */
    GM_CHK_ERRNO   = 1u << 1,  /* errno / return code on failure; errno kept by free */
    GM_CHK_ALIGN   = 1u << 2,  /* the alignment the call promises */
    GM_CHK_USABLE  = 1u << 3,  /* usable size >= request (pvalloc: page-rounded), stable */
    GM_CHK_ZERO    = 1u << 4,  /* calloc memory all zero */
    GM_CHK_CONTENT = 1u << 5,  /* bytes equal the glibc twin's (realloc: over min(old, new)) */
    GM_CHK_MISUSE  = 1u << 6,  /* misuse reported (right kind, once), nothing reported otherwise */
};
const char *gm_check_name(unsigned check);

/* Planted API bugs (alloc/malloc_test.h), by name: "realloc-copy-short", ... */
int gm_plant_count(void);                 /* GM_PLANT_COUNT */
const char *gm_plant_name(int plant);     /* "none" for 0 */
int gm_plant_from_name(const char *name); /* -1 if unknown */

/* The legitimate differences from glibc (one table; the checks consult it). */
size_t gm_legit_count(void);
const char *gm_legit_what(size_t i);
const char *gm_legit_reason(size_t i);

typedef struct gm_options {
    size_t budget;     /* live bytes per side (default 32 MiB); bigger requests are skipped */
    int plant;         /* gm_plant for the run */
    FILE *trace;       /* per-op trace, NULL: none */
} gm_options;
void gm_options_default(gm_options *o);

typedef struct gm_finding {
    bool found;
    unsigned check;    /* GM_CHK_* */
    size_t step;
    gm_op op;
    char message[600];
} gm_finding;

typedef struct gm_stats {
    size_t ops_run, ops_skipped, calls, misuse_reports;
    size_t legit_used[32];   /* per row of the table: how often a check relied on it */
} gm_stats;

/* Runs on a fresh test heap (gm_reset, then gm_*); every object is freed at the end. Returns 0
 * clean, 1 finding (in *f). st may be NULL. */
int gm_execute(const gm_seq *s, const gm_options *o, gm_finding *f, gm_stats *st);

/* galloc-replay --malloc (or inputs starting "galloc-malloc"): the replay CLI of this
 * differential. gm_replay_wanted says whether argv asks for it. */
bool gm_replay_wanted(int argc, char **argv);
int gm_replay_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
