/*
 * internal.h — shared between the harness's own files (not for fuzz/ or stress/).
 * The contracts (what each side must do for a request) and the glibc reference side
 * live in oracle.c; the executor in exec.c; the C emitter hooks into the executor.
 */
#ifndef GH_INTERNAL_H
#define GH_INTERNAL_H
#include "harness.h"

/* What a side must do with a request (oracle.c: the written policy). */
typedef enum gh_expect { GH_EXP_OK = 0, GH_EXP_FAIL, GH_EXP_ANY } gh_expect;
typedef struct gh_contract {
    gh_expect e;
    int err;              /* errno when e == GH_EXP_FAIL */
    const char *why;      /* policy clause, for messages */
} gh_contract;

/* One allocation request, in the terms of the op model. */
typedef struct gh_req {
    unsigned kind;        /* GH_MALLOC, GH_CALLOC, GH_REALLOC, GH_ALIGNED */
    unsigned api;         /* for GH_ALIGNED */
    uint64_t size;        /* total bytes (calloc: product, saturated) */
    uint64_t nmemb, elem; /* calloc operands */
    bool overflow;        /* calloc product overflows */
    uint64_t align;       /* 0 = default */
    bool has_old;         /* realloc of an existing object */
    bool zero;            /* GA_ZERO asked (glibc side: calloc(1, n)) */
} gh_req;

/* heap_grown: the heap's address space so far (ga_stats.heap_sys); only over-aligned
 * requests look at it. */
gh_contract gh_contract_galloc(const gh_req *r, size_t max_heap_bytes, size_t heap_grown);
gh_contract gh_contract_glibc(const gh_req *r);
/* True when both contracts are definite and equal, so actual outcomes must agree. */
bool gh_contracts_comparable(gh_contract a, gh_contract b);

/* The glibc reference side. Calls libc only when the request is within the cap and
 * safe for the build (under ASan some edge requests abort instead of failing, so they
 * are answered from the contract: "modelled"). */
typedef struct gh_ref {
    size_t cap;           /* live bytes allowed */
    size_t live;          /* live bytes now */
    bool edge_calls;      /* call libc for invalid/absurd requests (not under sanitizers) */
    size_t max_request;   /* bigger requests are skipped (0: none); oracle.c says why */
} gh_ref;
typedef struct gh_ref_res {
    int outcome;          /* 0 skipped, 1 ok, 2 failed */
    int err;
    bool modelled;        /* outcome taken from the contract, libc not called */
    bool freed_old;       /* realloc(p, 0) freed p and returned NULL */
    void *p;
    bool unzeroed;        /* a big zeroing request made with malloc (GH_REF_ZERO_LIMIT): not zero */
} gh_ref_res;
/* Zeroing requests (calloc, malloc with zero) above this many bytes are made to glibc as
 * malloc of the same size: glibc's calloc is malloc plus a memset of recycled memory, the
 * same success or failure for any size that does not overflow (overflow is decided before
 * glibc is called), and its zeroing is glibc's contract, not galloc's. Memsetting every
 * big twin was half the time of the slowest corpus input. The twin then carries the harness's
 * pattern like any other. Overflowing or absurd requests still call calloc. */
#define GH_REF_ZERO_LIMIT ((uint64_t)64 << 10)
enum { GH_REF_SKIPPED = 0, GH_REF_OK = 1, GH_REF_FAIL = 2 };
void gh_ref_init(gh_ref *r, size_t cap);
gh_ref_res gh_ref_alloc(gh_ref *r, const gh_req *q, void *old, size_t old_size);
void gh_ref_free(gh_ref *r, void *p, size_t size);
size_t gh_ref_usable(void *p);

/* Executor entry with C emission (emit_c.c writes the prologue/epilogue). */
int gh_execute_emit(const gh_seq *s, const gh_options *opt, gh_finding *f, FILE *emit);

/* Content pattern shared with the emitted C program (emit_c.c embeds the same code). */
static inline uint64_t gh_pat_base(uint64_t id, uint64_t gen)
{
    uint64_t z = id * 0x9e3779b97f4a7c15ull ^ (gen + 1) * 0xc2b2ae3d27d4eb4full;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline uint8_t gh_pat_byte(uint64_t base, uint64_t off)
{
    uint64_t w = base + (off >> 3) * 0x9e3779b97f4a7c15ull;
    return (uint8_t)(w >> ((off & 7) * 8));
}
#endif
