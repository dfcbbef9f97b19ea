/*
 * exec.c — the executor: runs an op sequence on a fresh galloc heap (over a ga_testos OS
 * layer) and, in lockstep, on glibc malloc; keeps a shadow model of every live object and
 * checks both sides after every op.
 *
 * Shadow model: one entry per live galloc object (allocation order = object id), with
 * the size and alignment asked, the flags, the cache (simulated P) that made it, its
 * galloc pointer and its glibc twin (NULL when the glibc side skipped it). Contents are a
 * pattern seeded by (object id, generation) — never by address — so runs are
 * deterministic and replayable. Tiny objects (GA_NOSCAN, < 16 bytes) share 16-byte blocks:
 * ga_free on them must return GA_ERR_TINY and leaves them live; only a GC cycle reclaims
 * a block, and only when no object in it was marked.
 *
 * Checks (GH_CHK_*; each one can be switched off so tests can show each one firing):
 * status, alignment, usable size, overlap (an interval set), ga_lookup consistency,
 * zeroing, OS page states, contents, ga_verify_span on touched spans, ga_verify and the
 * statistics model at full checks, the glibc differential (oracle.c has the policy).
 *
 * Calls: galloc.h, os.h (testos), sizeclass.h (class tables), oracle.c, libc.
 */
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
    void *sut, *ref;
    size_t ref_size;             /* bytes the glibc twin holds valid pattern for */
    uintptr_t slot, span;        /* from ga_lookup at allocation */
    size_t elemsize, span_npages;
    unsigned sizeclass;
    uint64_t ref_gen;
} obj;

typedef struct ivl { uintptr_t lo, hi; uint64_t id; } ivl;
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
    /* misuse reports through ga_set_error_handler: each refused free must be reported
     * exactly once, with its status and pointer, and nothing else may be reported */
    uint64_t herr_calls, herr_expected;
    ga_status herr_last_st;
    const void *herr_last_p;
    char herr_last_what[160];
    /* harness fault injection */
    bool fault_done;
} ex;

static char static_target[64];

/* ---- helpers -------------------------------------------------------------------- */
static bool found(ex *x) { return x->f->found; }

static bool finding(ex *x, unsigned check, const obj *a, const obj *b, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static bool finding(ex *x, unsigned check, const obj *a, const obj *b, const char *fmt, ...)
{
    if (!(x->o->checks & check) || x->f->found) return false;
    gh_finding *f = x->f;
    f->found = true;
    f->check = check;
    f->step = x->step;
    if (x->op) f->op = *x->op;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
    const obj *ob[2] = { a, b };
    for (int k = 0; k < 2; k++)
        if (ob[k]) {
            f->obj_id[k] = ob[k]->id;
            f->obj_addr[k] = (uintptr_t)ob[k]->sut;
            f->obj_size[k] = ob[k]->size;
        }
    const obj *s = a ? a : b;
    if (s && s->sut && x->h) {
        ga_object_info in;
        memset(&in, 0, sizeof in);
        ga_lookup(x->h, s->sut, &in);
        f->span = in.span_base ? in.span_base : s->span;
        f->span_npages = in.span_base ? in.span_npages : s->span_npages;
        f->sizeclass = in.span_base ? in.sizeclass : s->sizeclass;
    }
    return true;
}

static bool report_finding(ex *x, unsigned check, const obj *a, const ga_report *r, const char *what)
{
    if (!finding(x, check, a, NULL, "%s: %s (invariant %s, code %d)", what, r->message, r->invariant, r->code))
        return false;
    x->f->report = *r;
    if (!x->f->span && r->span) x->f->span = r->span;
    return true;
}

#define EM(...) do { if (x->emit) { fprintf(x->emit, "    "); fprintf(x->emit, __VA_ARGS__); fputc('\n', x->emit); } } while (0)

static void tracef(ex *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tracef(ex *x, const char *fmt, ...)
{
    if (!x->o->trace) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(x->o->trace, fmt, ap);
    va_end(ap);
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static bool pow2(uint64_t v) { return v && !(v & (v - 1)); }

/* ---- object table ------------------------------------------------------------------ */
static obj *obj_add(ex *x)
{
    if (x->nobj == x->capobj) {
        size_t nc = x->capobj ? x->capobj * 2 : 256;
        obj *n = realloc(x->objs, nc * sizeof *n);
        if (!n) return NULL;
        x->objs = n;
        x->capobj = nc;
    }
    obj *o = &x->objs[x->nobj++];
    memset(o, 0, sizeof *o);
    o->id = ++x->next_id;
    if (x->nobj > x->st->max_live) x->st->max_live = x->nobj;
    return o;
}

static size_t obj_index(ex *x, const obj *o) { return (size_t)(o - x->objs); }

static void obj_del(ex *x, size_t i)
{
    memmove(&x->objs[i], &x->objs[i + 1], (x->nobj - i - 1) * sizeof *x->objs);
    x->nobj--;
}

static long resolve(ex *x, uint16_t o)
{
    if (!x->nobj) return -1;
    if (o & GH_OBJ_FROM_END) return (long)(x->nobj - 1 - (o & 0x7fffu) % x->nobj);
    return (long)(o % x->nobj);
}

static obj *find_id(ex *x, uint64_t id)
{
    size_t lo = 0, hi = x->nobj;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (x->objs[m].id < id) lo = m + 1; else hi = m;
    }
    return lo < x->nobj && x->objs[lo].id == id ? &x->objs[lo] : NULL;
}

/* ---- interval set (overlap) ---------------------------------------------------------- */
static size_t iv_lower(ex *x, uintptr_t lo)
{
    size_t a = 0, b = x->niv;
    while (a < b) {
        size_t m = (a + b) / 2;
        if (x->iv[m].lo < lo) a = m + 1; else b = m;
    }
    return a;
}

/* Returns the id of an overlapping live object, 0 if none (and inserts). */
static uint64_t iv_insert(ex *x, uintptr_t lo, uintptr_t hi, uint64_t id)
{
    size_t i = iv_lower(x, lo);
    if (i < x->niv && x->iv[i].lo < hi) return x->iv[i].id;
    if (i > 0 && x->iv[i - 1].hi > lo) return x->iv[i - 1].id;
    if (x->niv == x->capiv) {
        size_t nc = x->capiv ? x->capiv * 2 : 256;
        ivl *n = realloc(x->iv, nc * sizeof *n);
        if (!n) return 0;
        x->iv = n;
        x->capiv = nc;
    }
    memmove(&x->iv[i + 1], &x->iv[i], (x->niv - i) * sizeof *x->iv);
    x->iv[i].lo = lo;
    x->iv[i].hi = hi;
    x->iv[i].id = id;
    x->niv++;
    return 0;
}

static void iv_remove(ex *x, uintptr_t lo, uint64_t id)
{
    size_t i = iv_lower(x, lo);
    for (; i < x->niv && x->iv[i].lo == lo; i++)
        if (x->iv[i].id == id) {
            memmove(&x->iv[i], &x->iv[i + 1], (x->niv - i - 1) * sizeof *x->iv);
            x->niv--;
            return;
        }
}

static uintptr_t obj_hi(const obj *o) { return (uintptr_t)o->sut + (o->size ? o->size : 1); }

/* ---- tiny blocks ------------------------------------------------------------------ */
static tblock *blk_find(ex *x, uintptr_t slot, size_t *pos)
{
    size_t a = 0, b = x->nblk;
    while (a < b) {
        size_t m = (a + b) / 2;
        if (x->blk[m].slot < slot) a = m + 1; else b = m;
    }
    if (pos) *pos = a;
    return a < x->nblk && x->blk[a].slot == slot ? &x->blk[a] : NULL;
}

/* Returns true if this is a new block. */
static bool blk_add_member(ex *x, uintptr_t slot)
{
    size_t pos;
    tblock *b = blk_find(x, slot, &pos);
    if (b) { b->members++; return false; }
    if (x->nblk == x->capblk) {
        size_t nc = x->capblk ? x->capblk * 2 : 64;
        tblock *n = realloc(x->blk, nc * sizeof *n);
        if (!n) return false;
        x->blk = n;
        x->capblk = nc;
    }
    memmove(&x->blk[pos + 1], &x->blk[pos], (x->nblk - pos) * sizeof *x->blk);
    x->blk[pos].slot = slot;
    x->blk[pos].members = 1;
    x->blk[pos].marked = false;
    x->nblk++;
    return true;
}

/* ---- contents --------------------------------------------------------------------- */
/* The sampled ranges of an object of n bytes: everything up to 4 KiB, else head and tail
 * (1 KiB each) and 8 bytes every 4 KiB for the first MiB, every 64 KiB after it (so a
 * 64 MiB object costs 1024 page touches, not 16384). fn returns false to stop. */
typedef bool (*range_fn)(void *ctx, size_t lo, size_t hi);
static bool for_ranges(size_t n, range_fn fn, void *ctx)
{
    if (n <= FULL_FILL_LIMIT) return n ? fn(ctx, 0, n) : true;
    if (!fn(ctx, 0, EDGE_BYTES)) return false;
    for (size_t k = 4096; k + 8 <= n - EDGE_BYTES; k += k < ((size_t)1 << 20) ? 4096 : 65536)
        if (!fn(ctx, k, k + 8)) return false;
    return fn(ctx, n - EDGE_BYTES, n);
}

typedef struct pat_ctx { uint8_t *p; uint64_t base; size_t limit; size_t bad; uint8_t got, want; } pat_ctx;

/* The pattern is little-endian words base + k*K at offset 8k (internal.h), so whole words
 * can be written and compared at once; edges go byte by byte. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the content pattern's word fast path assumes little-endian"
#endif
#define PAT_K 0x9e3779b97f4a7c15ull
static bool fill_fn(void *c, size_t lo, size_t hi)
{
    pat_ctx *pc = c;
    size_t i = lo;
    for (; i < hi && (i & 7); i++) pc->p[i] = gh_pat_byte(pc->base, i);
    for (; i + 8 <= hi; i += 8) {
        uint64_t w = pc->base + (i >> 3) * PAT_K;
        memcpy(pc->p + i, &w, 8);
    }
    for (; i < hi; i++) pc->p[i] = gh_pat_byte(pc->base, i);
    return true;
}
static bool check_bytes(pat_ctx *pc, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++)
        if (pc->p[i] != gh_pat_byte(pc->base, i)) {
            pc->bad = i;
            pc->got = pc->p[i];
            pc->want = gh_pat_byte(pc->base, i);
            return false;
        }
    return true;
}
static bool check_fn(void *c, size_t lo, size_t hi)
{
    pat_ctx *pc = c;
    if (hi > pc->limit) hi = pc->limit;
    if (lo >= hi) return true;
    size_t i = lo;
    size_t head = (8 - (i & 7)) & 7;
    if (head > hi - i) head = hi - i;
    if (!check_bytes(pc, i, i + head)) return false;
    for (i += head; i + 8 <= hi; i += 8) {
        uint64_t w = pc->base + (i >> 3) * PAT_K, g;
        memcpy(&g, pc->p + i, 8);
        if (g != w) return check_bytes(pc, i, i + 8);
    }
    return check_bytes(pc, i, hi);
}
static const uint8_t zeros[4096];
static bool zero_fn(void *c, size_t lo, size_t hi)
{
    pat_ctx *pc = c;
    for (size_t i = lo; i < hi;) {
        size_t n = hi - i < sizeof zeros ? hi - i : sizeof zeros;
        if (memcmp(pc->p + i, zeros, n) != 0) {
            for (size_t k = i; k < i + n; k++)
                if (pc->p[k]) { pc->bad = k; pc->got = pc->p[k]; pc->want = 0; return false; }
        }
        i += n;
    }
    return true;
}

static void pat_fill(void *p, size_t n, uint64_t id, uint64_t gen)
{
    pat_ctx pc = { p, gh_pat_base(id, gen), n, 0, 0, 0 };
    for_ranges(n, fill_fn, &pc);
}
/* Checks the pattern of (id, gen) written over n bytes, within the first `limit` bytes. */
static bool pat_check(const void *p, size_t n, size_t limit, uint64_t id, uint64_t gen, pat_ctx *pc)
{
    pc->p = (uint8_t *)(uintptr_t)p;
    pc->base = gh_pat_base(id, gen);
    pc->limit = limit;
    return for_ranges(n, check_fn, pc);
}
static bool zero_check(const void *p, size_t n, pat_ctx *pc)
{
    pc->p = (uint8_t *)(uintptr_t)p;
    if (n <= ZERO_FULL_LIMIT) return zero_fn(pc, 0, n);
    return for_ranges(n, zero_fn, pc);
}

static bool check_obj_content(ex *x, obj *o, const char *when)
{
    pat_ctx pc;
    if (o->sut && !pat_check(o->sut, o->size, o->size, o->id, o->gen, &pc)) {
        EM("check_content(%" PRIu64 ", %" PRIu64 ");", o->id, o->gen);
        if (finding(x, GH_CHK_CONTENT, o, NULL, "object #%" PRIu64 " (%zu bytes at %p) %s: byte %zu is 0x%02x, expected 0x%02x",
                    o->id, o->size, o->sut, when, pc.bad, pc.got, pc.want))
            return false;
    }
    if (o->ref && x->o->diff && !pat_check(o->ref, o->ref_size, o->ref_size, o->id, o->ref_gen, &pc)) {
        if (finding(x, GH_CHK_DIFF, o, NULL, "glibc twin of object #%" PRIu64 " (%zu bytes at %p) %s: byte %zu is 0x%02x, expected 0x%02x",
                    o->id, o->ref_size, o->ref, when, pc.bad, pc.got, pc.want))
            return false;
    }
    return true;
}

static void write_obj(ex *x, obj *o)
{
    if (o->sut) {
        pat_fill(o->sut, o->size, o->id, o->gen);
        EM("fill(%" PRIu64 ", %" PRIu64 ");", o->id, o->gen);
    }
    if (o->ref) {
        pat_fill(o->ref, o->size, o->id, o->gen);
        o->ref_size = o->size;
        o->ref_gen = o->gen;
    }
}

/* ---- OS page state ---------------------------------------------------------------- */
static bool check_pages(ex *x, obj *o)
{
    if (!(x->o->checks & GH_CHK_OS) || !o->sut) return true;
    const uint8_t *p = o->sut;
    size_t n = o->size ? o->size : 1;
    const uint8_t *probe[2] = { p, p + n - 1 };
    for (int k = 0; k < 2; k++) {
        enum ga_page_state s = ga_testos_page_state(x->tos, probe[k]);
        if (s != GA_PAGE_READY)
            return !finding(x, GH_CHK_OS, o, NULL, "object #%" PRIu64 " (%zu bytes at %p): page of byte %td is in OS state %d, not Ready",
                            o->id, o->size, o->sut, probe[k] - p, (int)s);
    }
    return true;
}

static bool check_os_violations(ex *x)
{
    if (x->os_model_errors)
        return !finding(x, GH_CHK_STATUS, NULL, NULL, "harness: the model of ga_testos failure injection is out of step "
                        "(%" PRIu64 " predicted failure(s) did not happen): alloc/os.c should_fail changed?", x->os_model_errors);
    if (!(x->o->checks & GH_CHK_OS)) return true;
    char first[200] = "";
    uint64_t v = ga_testos_violations(x->tos, first, sizeof first);
    if (v) return !finding(x, GH_CHK_OS, NULL, NULL, "%" PRIu64 " illegal OS page transition(s); first: %s", v, first);
    return true;
}

static bool verify_span_at(ex *x, obj *o, const void *p, uint64_t id)
{
    if (!(x->o->checks & GH_CHK_SPAN) || !p) return true;
    ga_object_info in;
    if (ga_lookup(x->h, p, &in) == GA_ERR_NOT_OWNED) return true;
    ga_report r;
    memset(&r, 0, sizeof r);
    if (ga_verify_span(x->h, p, &r) != 0) {
        EM("check_verify_span(o[%" PRIu64 "]);", id);
        return !report_finding(x, GH_CHK_SPAN, o, &r, "ga_verify_span");
    }
    return true;
}

static const char *errname(int e);
static const char *stname(ga_status s)
{
    static const char *const n[] = { "GA_OK", "GA_ERR_NOT_OWNED", "GA_ERR_INTERIOR", "GA_ERR_DOUBLE_FREE", "GA_ERR_TINY", "GA_ERR_STATE" };
    return (unsigned)s < sizeof n / sizeof *n ? n[s] : "GA_ERR_?";
}

/* ---- misuse reports ---------------------------------------------------------------- */
static void on_misuse(void *ctx, ga_status st, const void *p, const char *what)
{
    ex *x = ctx;
    x->herr_calls++;
    x->herr_last_st = st;
    x->herr_last_p = p;
    snprintf(x->herr_last_what, sizeof x->herr_last_what, "%s", what ? what : "");
}

/* After a ga_free that returned `got` for p (calls counted from `before`). */
static bool check_report(ex *x, const obj *o, uint64_t before, ga_status got, const void *p)
{
    uint64_t n = x->herr_calls - before;
    if (got == GA_OK) {
        if (n == 0) return true;
        return !finding(x, GH_CHK_STATUS, o, NULL, "ga_free(%p) returned GA_OK but reported misuse %s: %s",
                        p, stname(x->herr_last_st), x->herr_last_what);
    }
    x->herr_expected += n;
    if (n != 1 || x->herr_last_st != got || x->herr_last_p != p)
        return !finding(x, GH_CHK_STATUS, o, NULL, "ga_free(%p) returned %s but the error handler was called %" PRIu64 " time(s)%s%s%s",
                        p, stname(got), n, n ? " (last: " : "", n ? stname(x->herr_last_st) : "", n ? ")" : "");
    return true;
}

static bool check_no_stray_reports(ex *x)
{
    if (x->herr_calls == x->herr_expected) return true;
    x->herr_expected = x->herr_calls;
    return !finding(x, GH_CHK_STATUS, NULL, NULL, "unexpected misuse report through the error handler: %s for %p: %s",
                    stname(x->herr_last_st), x->herr_last_p, x->herr_last_what);
}

/* ---- caches --------------------------------------------------------------------- */
/* The OS layer galloc sees: ga_testos, with injected failures counted. */
static bool m_should_fail(ex *x, enum ga_os_call call)
{
    if (x->m_next_alloc && (call == GA_OS_RESERVE || call == GA_OS_MAP || call == GA_OS_ALLOC_META)) {
        x->m_next_alloc = false;
        return true;
    }
    if (x->m_count[call] == 0) return false;
    if (x->m_skip[call] > 0) { x->m_skip[call]--; return false; }
    x->m_count[call]--;
    return true;
}
static void w_account(ex *x, bool injected, bool failed)
{
    if (injected) x->os_failures++;
    if (injected && !failed) x->os_model_errors++;
}
static void *w_reserve(void *ctx, void *hint, size_t n)
{
    ex *x = ctx;
    bool inj = m_should_fail(x, GA_OS_RESERVE);
    void *p = x->inner->reserve(x->inner->ctx, hint, n);
    w_account(x, inj, !p);
    return p;
}
static int w_map(void *ctx, void *p, size_t n)
{
    ex *x = ctx;
    bool inj = m_should_fail(x, GA_OS_MAP);
    int rc = x->inner->map(x->inner->ctx, p, n);
    w_account(x, inj, rc != 0);
    return rc;
}
static int w_used(void *ctx, void *p, size_t n)
{
    ex *x = ctx;
    bool inj = m_should_fail(x, GA_OS_USED);
    int rc = x->inner->used(x->inner->ctx, p, n);
    w_account(x, inj, rc != 0);
    return rc;
}
static int w_unused(void *ctx, void *p, size_t n)
{
    ex *x = ctx;
    bool inj = m_should_fail(x, GA_OS_UNUSED);
    int rc = x->inner->unused(x->inner->ctx, p, n);
    w_account(x, inj, rc != 0);
    return rc;
}
static int w_release(void *ctx, void *p, size_t n)
{
    ex *x = ctx;   /* ga_testos never injects release failures */
#ifdef GH_ASAN
    /* ASan keeps manual poisoning across munmap: clear it, or the next heap mapped at the
     * same (fixed) addresses inherits poisoned free slots of this one */
    ASAN_UNPOISON_MEMORY_REGION(p, n);
#endif
    return x->inner->release(x->inner->ctx, p, n);
}
static void *w_alloc_meta(void *ctx, size_t n)
{
    ex *x = ctx;
    bool inj = m_should_fail(x, GA_OS_ALLOC_META);
    void *p = x->inner->alloc_meta(x->inner->ctx, n);
    w_account(x, inj, !p);
    return p;
}
static void w_free_meta(void *ctx, void *p, size_t n)
{
    ex *x = ctx;
    x->inner->free_meta(x->inner->ctx, p, n);
}

static ga_cache *cur_cache(ex *x, int *err)
{
    if (!x->caches[x->cur]) {
        errno = 0;
        x->caches[x->cur] = ga_cache_new(x->h);
        if (!x->caches[x->cur]) { *err = errno ? errno : ENOMEM; return NULL; }
        EM("c[%u] = ga_cache_new(h); if (!c[%u]) fail(\"ga_cache_new\");", x->cur, x->cur);
    }
    *err = 0;
    return x->caches[x->cur];
}

/* ---- allocation: expected shape --------------------------------------------------- */
static bool predict_tiny(size_t size, size_t align, unsigned flags, bool *maybe)
{
    bool elig = (flags & GA_NOSCAN) && !(flags & GA_NOTINY) && size >= 1 && size < GA_TINY_SIZE;
    *maybe = elig && align != 0;
    return elig && align == 0;
}

/* Predicted size class of a default-aligned request (spec §1.3; size 0 -> class 1). */
static unsigned predict_class(size_t size, unsigned flags, bool *header)
{
    *header = false;
    if (size == 0) return 1;
    if (!(flags & GA_NOSCAN) && size > GA_MIN_SIZE_FOR_HEADER) {
        if (size > GA_SMALL_CUTOFF) return 0;
        *header = true;
        return ga_size_to_class(size + GA_MALLOC_HEADER);
    }
    if (size > GA_SMALL_CUTOFF) return 0;
    return ga_size_to_class(size);
}

static size_t tiny_align(size_t size)
{
    if (size % 8 == 0) return 8;
    if (size % 4 == 0) return 4;
    if (size % 2 == 0) return 2;
    return 1;
}

/* Checks a freshly returned object (already in the shadow table as *o). */
static bool check_new_object(ex *x, obj *o, bool zero_promised)
{
    uintptr_t p = (uintptr_t)o->sut;
    EM("check_new(%" PRIu64 ", %zuu, %zuu, %#x, %d);", o->id, o->size, o->align, o->flags, zero_promised ? 1 : 0);
    /* alignment */
    bool tiny_maybe;
    bool tiny_pred = predict_tiny(o->size, o->align, o->flags, &tiny_maybe);
    ga_object_info in;
    memset(&in, 0, sizeof in);
    ga_status ls = ga_lookup(x->h, o->sut, &in);
    o->tiny = in.tiny;
    size_t nat = o->tiny ? tiny_align(o->size) : 8;
    if (o->align && p % o->align)
        if (finding(x, GH_CHK_ALIGN, o, NULL, "object #%" PRIu64 " at %p is not aligned to %zu as asked", o->id, o->sut, o->align)) return false;
    if (p % nat)
        if (finding(x, GH_CHK_ALIGN, o, NULL, "object #%" PRIu64 " (%zu bytes%s) at %p is not %zu-aligned", o->id, o->size, o->tiny ? ", tiny" : "", o->sut, nat)) return false;
    /* usable size */
    size_t us = ga_usable_size(x->h, o->sut);
    if (!o->tiny && us < o->size)
        if (finding(x, GH_CHK_USABLE, o, NULL, "object #%" PRIu64 " at %p: ga_usable_size %zu < requested %zu", o->id, o->sut, us, o->size)) return false;
    if (o->tiny && us && us < o->size)
        if (finding(x, GH_CHK_USABLE, o, NULL, "tiny object #%" PRIu64 " at %p: ga_usable_size %zu < requested %zu", o->id, o->sut, us, o->size)) return false;
    /* overlap */
    uint64_t other = iv_insert(x, p, obj_hi(o), o->id);
    if (other) {
        obj *ob = find_id(x, other);
        if (finding(x, GH_CHK_OVERLAP, o, ob, "object #%" PRIu64 " [%p, +%zu) overlaps live object #%" PRIu64 " [%p, +%zu)",
                    o->id, o->sut, o->size, other, ob ? ob->sut : NULL, ob ? ob->size : 0)) return false;
    }
    /* lookup */
    o->slot = in.slot;
    o->span = in.span_base;
    o->span_npages = in.span_npages;
    o->elemsize = in.elemsize;
    o->sizeclass = in.sizeclass;
    o->large = in.span_base && in.sizeclass == 0;
    if (x->o->checks & GH_CHK_LOOKUP) {
        char why[200] = "";
        uintptr_t send = in.span_base + in.span_npages * PAGE;
        if (ls == GA_ERR_NOT_OWNED || !in.span_base) snprintf(why, sizeof why, "ga_lookup says not owned (%s)", stname(ls));
        else if (!in.allocated) snprintf(why, sizeof why, "ga_lookup says the slot is not allocated");
        else if (in.slot < in.span_base || in.slot + in.elemsize > send) snprintf(why, sizeof why, "slot %#" PRIxPTR "+%zu outside span %#" PRIxPTR "+%zu pages", in.slot, in.elemsize, in.span_base, in.span_npages);
        else if (p < in.slot || p + o->size > in.slot + in.elemsize) snprintf(why, sizeof why, "object [%#" PRIxPTR ", +%zu) not inside slot %#" PRIxPTR "+%zu", p, o->size, in.slot, in.elemsize);
        else if (tiny_pred != o->tiny && !tiny_maybe) snprintf(why, sizeof why, "tiny is %d, expected %d", (int)o->tiny, (int)tiny_pred);
        else if (o->tiny) {
            if (in.sizeclass != GA_TINY_SIZE_CLASS || in.spanclass != GA_TINY_SPAN_CLASS || in.elemsize != GA_TINY_SIZE)
                snprintf(why, sizeof why, "tiny object in class %u spanclass %u elemsize %zu", in.sizeclass, in.spanclass, in.elemsize);
            else if (ls != GA_OK && ls != GA_ERR_INTERIOR) snprintf(why, sizeof why, "ga_lookup returned %s", stname(ls));
        } else {
            bool hdr;
            unsigned pc = predict_class(o->size, o->flags, &hdr);
            unsigned want_sc = (pc << 1) | ((o->flags & GA_NOSCAN) ? 1u : 0u);
            if (ls != GA_OK) snprintf(why, sizeof why, "ga_lookup returned %s for the object start", stname(ls));
            else if (in.object != p) snprintf(why, sizeof why, "ga_lookup object %#" PRIxPTR " != returned pointer", in.object);
            else if (in.usable != us) snprintf(why, sizeof why, "ga_lookup usable %zu != ga_usable_size %zu", in.usable, us);
            else if ((in.spanclass >> 1) != in.sizeclass) snprintf(why, sizeof why, "spanclass %u does not match sizeclass %u", in.spanclass, in.sizeclass);
            else if (in.sizeclass && (in.elemsize != ga_class_to_size[in.sizeclass] || in.span_npages != ga_class_to_npages[in.sizeclass]))
                snprintf(why, sizeof why, "class %u has elemsize %zu npages %zu, table says %u/%u", in.sizeclass, in.elemsize, in.span_npages,
                         (unsigned)ga_class_to_size[in.sizeclass], (unsigned)ga_class_to_npages[in.sizeclass]);
            else if (!in.sizeclass && (in.elemsize != in.span_npages * PAGE || in.slot != in.span_base))
                snprintf(why, sizeof why, "large span: elemsize %zu, npages %zu, slot %#" PRIxPTR " (base %#" PRIxPTR ")", in.elemsize, in.span_npages, in.slot, in.span_base);
            else if (o->align == 0 && in.spanclass != want_sc)
                snprintf(why, sizeof why, "request of %zu bytes (%s) got spanclass %u (class %u), expected %u (class %u)", o->size,
                         (o->flags & GA_NOSCAN) ? "noscan" : "scan", in.spanclass, in.sizeclass, want_sc, pc);
            else if (o->align == 0 && hdr && p != in.slot + GA_MALLOC_HEADER)
                snprintf(why, sizeof why, "scan object with malloc header at %#" PRIxPTR ", slot %#" PRIxPTR " (expected slot+8)", p, in.slot);
        }
        if (why[0] && finding(x, GH_CHK_LOOKUP, o, NULL, "object #%" PRIu64 " (%zu bytes, align %zu, flags %#x) at %p: %s",
                              o->id, o->size, o->align, o->flags, o->sut, why))
            return false;
    }
    /* zeroing */
    if (zero_promised && o->size) {
        pat_ctx pc;
        if (!zero_check(o->sut, o->size, &pc))
            if (finding(x, GH_CHK_ZERO, o, NULL, "object #%" PRIu64 " (%zu bytes at %p) promised zeroed: byte %zu is 0x%02x",
                        o->id, o->size, o->sut, pc.bad, pc.got)) return false;
    }
    if (!check_pages(x, o)) return false;
    if (!verify_span_at(x, o, o->sut, o->id)) return false;
    return true;
}

/* Shadow bookkeeping for a new galloc object. */
static void account_alloc(ex *x, obj *o)
{
    x->exp_mallocs++;
    x->live_bytes += o->size;
    if (o->tiny) {
        if (blk_add_member(x, o->slot)) {
            x->exp_total_alloc += GA_TINY_SIZE;
            x->live_slot_bytes += GA_TINY_SIZE;
        }
    } else {
        x->live_nontiny++;
        x->live_slot_bytes += o->elemsize;
        x->exp_total_alloc += o->elemsize;
        if (o->large) {
            x->live_large++;
            x->exp_large_count++;
            x->exp_large_bytes += o->elemsize;
        }
    }
    x->st->allocs++;
}

/* An object left the shadow (explicit free or GC death): it may stay counted by galloc
 * until its span is swept. */
static void account_gone(ex *x, obj *o)
{
    x->live_bytes -= o->size;
    if (o->tiny) return;   /* blocks are accounted by the GC op */
    x->live_nontiny--;
    x->live_slot_bytes -= o->elemsize;
    x->pending_objs++;
    x->pending_bytes += o->elemsize;
    if (o->large) { x->live_large--; x->pending_large++; }
}

static void drop_obj(ex *x, obj *o, bool free_ref)
{
    if (o->sut) iv_remove(x, (uintptr_t)o->sut, o->id);
    if (free_ref && o->ref) gh_ref_free(&x->ref, o->ref, o->ref_size);
    obj_del(x, obj_index(x, o));
}

/* ---- faults applied inside an allocation ---------------------------------------- */
static bool fault_now(ex *x, gh_fault f) { return x->o->fault == f && !x->fault_done && x->step >= x->o->fault_step; }

/* Books a galloc object the shadow will never see (it is given back at once or leaked
 * on purpose by a fault): keeps the statistics model exact for the faults that are not
 * about statistics. */
static void book_unseen(ex *x, void *p, bool give_back)
{
    ga_object_info in;
    memset(&in, 0, sizeof in);
    if (ga_lookup(x->h, p, &in) == GA_ERR_NOT_OWNED) return;
    x->exp_mallocs++;
    if (in.tiny) return;     /* never produced by the faults below (size >= 16 or scan) */
    x->exp_total_alloc += in.elemsize;
    if (in.sizeclass == 0) { x->exp_large_count++; x->exp_large_bytes += in.elemsize; }
    if (give_back) ga_free(x->h, p);
    x->pending_objs++;
    x->pending_bytes += in.elemsize;
    if (in.sizeclass == 0) x->pending_large++;
}

/* Allocation through galloc, with the in-step faults. NULL with *err on failure. */
static void *sut_alloc(ex *x, ga_cache *c, size_t size, size_t align, unsigned flags, uint64_t id, int *err)
{
    size_t ask = size;
    if (size > 1 && fault_now(x, GH_FAULT_UNDERSIZE)) { ask = 1; x->fault_done = true; EM("/* injected fault: undersize */"); }
    errno = 0;
    void *p = ga_alloc(c, ask, align, flags);
    *err = p ? 0 : errno;
    EM("o[%" PRIu64 "] = ga_alloc(c[%u], %zuu, %zuu, %#x);", id, x->cur, ask, align, flags);
    if (!p) return NULL;
    if (fault_now(x, GH_FAULT_SUT_FAIL)) {
        x->fault_done = true;
        book_unseen(x, p, true);
        EM("ga_free(h, o[%" PRIu64 "]); o[%" PRIu64 "] = NULL; /* injected fault: reported as failed */", id, id);
        *err = ENOMEM;
        return NULL;
    }
    if (fault_now(x, GH_FAULT_PTR_FLIP)) {
        x->fault_done = true;
        p = (char *)p + 8;
        EM("o[%" PRIu64 "] = (char *)o[%" PRIu64 "] + 8; /* injected fault: pointer flip */", id, id);
    } else if (fault_now(x, GH_FAULT_ALIAS)) {
        for (size_t i = x->nobj; i-- > 0;)
            if (x->objs[i].sut && !x->objs[i].tiny) {
                x->fault_done = true;
                book_unseen(x, p, true);
                /* the shadow object will account itself as a new allocation: undo one */
                x->exp_mallocs--;
                p = x->objs[i].sut;
                EM("o[%" PRIu64 "] = o[%" PRIu64 "]; /* injected fault: alias */", id, x->objs[i].id);
                break;
            }
    } else if ((flags & GA_ZERO) && size && fault_now(x, GH_FAULT_DIRTY_ZERO)) {
        x->fault_done = true;
        ((volatile uint8_t *)p)[size - 1] = 0x5a;
        EM("((unsigned char *)o[%" PRIu64 "])[%zu] = 0x5a; /* injected fault: dirty zero */", id, size - 1);
    }
    return p;
}

/* ---- the allocation ops ------------------------------------------------------------ */
static const char *errname(int e)
{
    static _Thread_local char b[24];
    if (e == ENOMEM) return "ENOMEM";
    if (e == EINVAL) return "EINVAL";
    snprintf(b, sizeof b, "errno %d", e);
    return b;
}

static void em_expect_null(ex *x, uint64_t id, bool want_null, bool want_ok)
{
    if (want_null) EM("if (o[%" PRIu64 "]) fail(\"allocation #%" PRIu64 " should have failed\");", id, id);
    else if (want_ok) EM("if (!o[%" PRIu64 "]) fail(\"allocation #%" PRIu64 " failed\");", id, id);
}

/* galloc + glibc for one request; returns the new shadow object (not yet admitted) or
 * NULL (failed, skipped or a finding). */
static obj *do_alloc(ex *x, const gh_req *q, unsigned flags, uint64_t old_id)
{
    obj *old = old_id ? find_id(x, old_id) : NULL;
    size_t grown = 0;
    if (q->align > GA_PAGE_SIZE) {   /* only over-aligned requests depend on it (oracle.c) */
        ga_stats gs;
        ga_read_stats(x->h, &gs);
        grown = (size_t)gs.heap_sys;
    }
    gh_contract cg = gh_contract_galloc(q, x->o->max_heap_bytes, grown);
    gh_contract cl = gh_contract_glibc(q);
    bool absurd = cg.e == GH_EXP_FAIL;
    size_t old_bytes = old ? old->size : 0;
    if (!absurd && (q->size > x->o->budget_bytes || x->live_bytes - old_bytes + q->size > x->o->budget_bytes ||
                    x->nobj >= x->o->max_live || q->align > x->o->budget_bytes)) {
        x->st->ops_skipped++;
        tracef(x, " -> skipped (over budget)");
        return NULL;
    }
    void *p = NULL;
    int err = 0;
    uint64_t id = x->next_id + 1;
    uint64_t osf0 = x->os_failures;
    if (q->kind == GH_CALLOC && q->overflow) {
        err = ENOMEM;          /* the front end's overflow check, as in libgalloc's calloc */
        EM("/* calloc(%" PRIu64 ", %" PRIu64 ") overflows: ENOMEM without calling galloc */", q->nmemb, q->elem);
    } else {
        ga_cache *c = cur_cache(x, &err);
        if (c) p = sut_alloc(x, c, (size_t)q->size, (size_t)q->align, flags, id, &err);
    }
    /* the glibc twin */
    gh_ref_res rr = { GH_REF_SKIPPED, 0, false, false, NULL };
    if (x->o->diff) {
        rr = gh_ref_alloc(&x->ref, q, old ? old->ref : NULL, old ? old->ref_size : 0);
        if (old && (rr.outcome == GH_REF_OK || rr.freed_old)) { old->ref = NULL; old->ref_size = 0; }
    }
    tracef(x, " -> %s", p ? "ok" : errname(err));
    if (p && x->o->trace_addrs) tracef(x, " %p", p);
    /* galloc against its contract */
    bool excused = false;
    if (!p) {
        if (x->os_failures > osf0 && err == ENOMEM && cg.e != GH_EXP_FAIL) {
            excused = true;
            tracef(x, " (injected OS failure)");
        } else if (cg.e == GH_EXP_OK) {
            em_expect_null(x, id, false, true);
            finding(x, GH_CHK_STATUS, old, NULL, "%s of %" PRIu64 " bytes (align %" PRIu64 ", flags %#x) failed with %s; policy: must succeed (%s)",
                    gh_kind_name(q->kind), q->size, q->align, flags, errname(err), cg.why);
        } else if (cg.e == GH_EXP_FAIL && err != cg.err) {
            finding(x, GH_CHK_STATUS, old, NULL, "%s of %" PRIu64 " bytes (align %" PRIu64 ") failed with %s; policy: %s (%s)",
                    gh_kind_name(q->kind), q->size, q->align, errname(err), errname(cg.err), cg.why);
        } else if (cg.e == GH_EXP_FAIL) {
            em_expect_null(x, id, true, false);
        }
    } else if (cg.e == GH_EXP_FAIL) {
        em_expect_null(x, id, true, false);
        finding(x, GH_CHK_STATUS, NULL, NULL, "%s of %" PRIu64 " bytes (align %" PRIu64 ") returned %p; policy: %s (%s)",
                gh_kind_name(q->kind), q->size, q->align, p, errname(cg.err), cg.why);
    }
    /* glibc against its contract, and galloc against glibc where comparable */
    if (!found(x) && x->o->diff && rr.outcome != GH_REF_SKIPPED) {
        bool rok = rr.outcome == GH_REF_OK;
        if (cl.e == GH_EXP_OK && !rok)
            finding(x, GH_CHK_DIFF, old, NULL, "glibc %s of %" PRIu64 " bytes failed (%s); policy: succeeds (%s)",
                    gh_kind_name(q->kind), q->size, errname(rr.err), cl.why);
        else if (cl.e == GH_EXP_FAIL && (rok || rr.err != cl.err))
            finding(x, GH_CHK_DIFF, old, NULL, "glibc %s of %" PRIu64 " bytes -> %s; policy: %s (%s)",
                    gh_kind_name(q->kind), q->size, rok ? "success" : errname(rr.err), errname(cl.err), cl.why);
        else if (!excused && gh_contracts_comparable(cg, cl) && ((p != NULL) != rok || (!p && err != rr.err)))
            finding(x, GH_CHK_DIFF, old, NULL, "differential: galloc %s of %" PRIu64 " bytes (align %" PRIu64 ") -> %s, glibc -> %s",
                    gh_kind_name(q->kind), q->size, q->align, p ? "success" : errname(err), rok ? "success" : errname(rr.err));
        else if (rok && q->align && pow2(q->align) && (uintptr_t)rr.p % q->align)
            finding(x, GH_CHK_DIFF, NULL, NULL, "glibc pointer %p not aligned to %" PRIu64, rr.p, q->align);
        else if (rok && gh_ref_usable(rr.p) < q->size)
            finding(x, GH_CHK_DIFF, NULL, NULL, "glibc malloc_usable_size %zu < %" PRIu64, gh_ref_usable(rr.p), q->size);
        else if (rok && (q->kind == GH_CALLOC || q->zero) && q->size) {
            pat_ctx pc;
            if (!zero_check(rr.p, (size_t)q->size, &pc))
                finding(x, GH_CHK_DIFF, NULL, NULL, "glibc calloc memory not zero at byte %zu", pc.bad);
        }
    }
    if (found(x) || !p) {
        if (p) book_unseen(x, p, true);
        if (rr.outcome == GH_REF_OK) gh_ref_free(&x->ref, rr.p, (size_t)q->size);
        return NULL;
    }
    obj *o = obj_add(x);
    if (!o) {
        book_unseen(x, p, true);
        if (rr.outcome == GH_REF_OK) gh_ref_free(&x->ref, rr.p, (size_t)q->size);
        return NULL;
    }
    o->size = (size_t)q->size;
    o->align = (size_t)q->align;
    o->flags = flags;
    o->cache = x->cur;
    o->sut = p;
    o->ref = rr.outcome == GH_REF_OK ? rr.p : NULL;
    o->ref_size = 0;     /* set by write_obj; until then the twin holds the old pattern */
    o->ref_gen = 0;
    return o;
}

/* After do_alloc: the checks, the books and the fill. */
static bool admit(ex *x, obj *o, bool zero_promised)
{
    bool ok = check_new_object(x, o, zero_promised);
    account_alloc(x, o);
    if (!ok) return false;
    if (x->o->diff && o->ref && zero_promised && o->size) {
        pat_ctx pc;
        if (!zero_check(o->ref, o->size, &pc))
            return !finding(x, GH_CHK_DIFF, o, NULL, "glibc calloc memory of #%" PRIu64 " not zero at byte %zu", o->id, pc.bad);
    }
    write_obj(x, o);
    tracef(x, " #%" PRIu64 "%s class %u", o->id, o->tiny ? " tiny" : o->large ? " large" : "", o->sizeclass);
    return true;
}

static void op_malloc(ex *x, const gh_op *op)
{
    gh_req q = { GH_MALLOC, 0, op->a, 0, 0, false, 0, false, (op->flags & GA_ZERO) != 0 };
    obj *o = do_alloc(x, &q, op->flags & (GA_NOSCAN | GA_ZERO | GA_NOTINY), 0);
    if (o) admit(x, o, op->flags & GA_ZERO);
}

static void op_calloc(ex *x, const gh_op *op)
{
    gh_req q = { GH_CALLOC, 0, 0, op->a, op->b, false, 0, false, false };
    if (op->b && op->a > UINT64_MAX / op->b) { q.overflow = true; q.size = UINT64_MAX; }
    else q.size = op->a * op->b;
    obj *o = do_alloc(x, &q, (op->flags & (GA_NOSCAN | GA_NOTINY)) | GA_ZERO, 0);
    if (o) admit(x, o, true);
}

static void op_aligned(ex *x, const gh_op *op)
{
    gh_req q = { GH_ALIGNED, op->flags & 3u, op->a, 0, 0, false, op->b, false, false };
    obj *o = do_alloc(x, &q, (op->flags & 4) ? GA_NOSCAN : 0, 0);
    if (o) admit(x, o, false);
}

static void planted_check(ex *x, const obj *o)
{
    const gh_options *op = x->o;
    if (!(op->checks & GH_CHK_PLANTED)) return;
    if (o->size >= op->planted_lo && o->size <= op->planted_hi && x->nobj - 1 >= op->planted_min_live)
        finding(x, GH_CHK_PLANTED, o, NULL, "planted: object #%" PRIu64 " of %zu bytes freed while %zu others are live",
                o->id, o->size, x->nobj - 1);
}

/* Explicit free of a shadow object through galloc (tiny ones must be refused and stay);
 * `local`: ga_free_local through the current cache. */
static bool free_obj(ex *x, uint64_t id, const char *what, bool local)
{
    obj *o = find_id(x, id);
    void *p = o->sut;
    planted_check(x, o);
    if (found(x)) return false;
    ga_cache *c = NULL;
    if (local) {
        int err;
        uint64_t osf0 = x->os_failures;
        c = cur_cache(x, &err);
        if (!c && !(x->os_failures > osf0 && err == ENOMEM))
            return !finding(x, GH_CHK_STATUS, o, NULL, "ga_cache_new failed (%s) without an OS failure", errname(err));
    }
    uint64_t h0 = x->herr_calls;
    ga_status want = o->tiny ? GA_ERR_TINY : GA_OK, got = c ? ga_free_local(c, p) : ga_free(x->h, p);
    if (c) EM("expect_free_local(c[%u], %" PRIu64 ", %d); /* %s */", x->cur, o->id, (int)want, what);
    else EM("expect_free(%" PRIu64 ", %d); /* %s */", o->id, (int)want, what);
    tracef(x, " -> %s", stname(got));
    if (got != want)
        return !finding(x, GH_CHK_STATUS, o, NULL, "%s%s of object #%" PRIu64 " (%zu bytes%s at %p) returned %s, expected %s",
                        what, c ? " (ga_free_local)" : "", o->id, o->size, o->tiny ? ", tiny" : "", p, stname(got), stname(want));
    if (!check_report(x, o, h0, got, p)) return false;
    if (got == GA_ERR_TINY) return check_obj_content(x, o, "after a refused free");
    ga_object_info in;
    ga_status ls = ga_lookup(x->h, p, &in);
    if (ls != GA_ERR_NOT_OWNED && in.allocated && in.object == (uintptr_t)p)
        if (finding(x, GH_CHK_LOOKUP, o, NULL, "object #%" PRIu64 " at %p still reported allocated after ga_free", o->id, p)) return false;
    account_gone(x, o);
    x->st->frees++;
    drop_obj(x, o, true);
    return verify_span_at(x, NULL, p, id);
}

static void op_realloc(ex *x, const gh_op *op)
{
    if (op->flags & 1) {  /* realloc(NULL, n) == malloc(n) */
        gh_req q = { GH_REALLOC, 0, op->a, 0, 0, false, 0, false, false };
        obj *o = do_alloc(x, &q, 0, 0);
        if (o) admit(x, o, false);
        return;
    }
    long i = resolve(x, op->obj);
    if (i < 0) { x->st->ops_skipped++; tracef(x, " -> no live object"); return; }
    obj *old = &x->objs[i];
    uint64_t old_id = old->id, old_gen = old->gen, old_ref_gen = old->ref_gen;
    size_t old_size = old->size, old_ref_size = old->ref_size;
    tracef(x, " #%" PRIu64, old_id);
    if (!check_obj_content(x, old, "before realloc")) return;
    gh_req q = { GH_REALLOC, 0, op->a, 0, 0, false, 0, true, false };
    obj *n = do_alloc(x, &q, old->flags & (GA_NOSCAN | GA_NOTINY), old_id);
    if (found(x)) return;
    if (!n) {             /* failed or skipped: the old object must be intact */
        old = find_id(x, old_id);
        if (old) check_obj_content(x, old, "after a failed realloc");
        return;
    }
    uint64_t nid = n->id;
    bool ok = check_new_object(x, n, false);
    account_alloc(x, n);
    if (!ok) return;
    old = find_id(x, old_id);
    n = find_id(x, nid);
    size_t keep = old_size < n->size ? old_size : n->size;
    memcpy(n->sut, old->sut, keep);
    EM("memcpy(o[%" PRIu64 "], o[%" PRIu64 "], %zu); check_copy(%" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %zu, %zu);",
       nid, old_id, keep, nid, old_id, old_gen, old_size, keep);
    pat_ctx pc;
    if (!pat_check(n->sut, old_size, keep, old_id, old_gen, &pc)) {
        finding(x, GH_CHK_CONTENT, n, old, "realloc #%" PRIu64 " -> #%" PRIu64 ": copied byte %zu is 0x%02x, expected 0x%02x",
                old_id, nid, pc.bad, pc.got, pc.want);
        return;
    }
    if (x->o->diff && n->ref && old_ref_size) {   /* glibc's realloc kept the prefix */
        size_t rk = keep < old_ref_size ? keep : old_ref_size;
        if (!pat_check(n->ref, old_ref_size, rk, old_id, old_ref_gen, &pc)) {
            finding(x, GH_CHK_DIFF, n, old, "glibc realloc #%" PRIu64 " -> #%" PRIu64 " lost byte %zu (0x%02x, expected 0x%02x)",
                    old_id, nid, pc.bad, pc.got, pc.want);
            return;
        }
    }
    /* the old object: glibc's realloc already took its twin; galloc's is freed (a tiny
     * one is refused with GA_ERR_TINY and stays live until a GC cycle) */
    if (!free_obj(x, old_id, "realloc's free", false)) return;
    n = find_id(x, nid);
    write_obj(x, n);
    tracef(x, " -> #%" PRIu64, nid);
}

static obj *pick(ex *x, const gh_op *op, bool other_cache)
{
    if (other_cache) {
        size_t cnt = 0;
        for (size_t i = 0; i < x->nobj; i++) cnt += x->objs[i].cache != x->cur;
        if (cnt) {
            size_t k = (op->obj & GH_OBJ_FROM_END) ? cnt - 1 - (op->obj & 0x7fffu) % cnt : op->obj % cnt;
            for (size_t i = 0; i < x->nobj; i++)
                if (x->objs[i].cache != x->cur && k-- == 0) return &x->objs[i];
        }
    }
    long i = resolve(x, op->obj);
    return i < 0 ? NULL : &x->objs[i];
}

static void op_free(ex *x, const gh_op *op)
{
    obj *o = pick(x, op, op->flags & 1);
    if (!o) { x->st->ops_skipped++; tracef(x, " -> no live object"); return; }
    tracef(x, " #%" PRIu64 "%s", o->id, o->cache != x->cur ? " (cross-cache)" : "");
    if (!check_obj_content(x, o, "before free")) return;
    free_obj(x, o->id, "free", op->flags & 2);
}

static void op_usable(ex *x, const gh_op *op)
{
    long i = resolve(x, op->obj);
    if (i < 0) { x->st->ops_skipped++; return; }
    obj *o = &x->objs[i];
    size_t u = ga_usable_size(x->h, o->sut);
    EM("check_usable(%" PRIu64 ");", o->id);
    tracef(x, " #%" PRIu64 " -> %zu", o->id, u);
    if (!o->tiny && u < o->size) { finding(x, GH_CHK_USABLE, o, NULL, "ga_usable_size(#%" PRIu64 ") = %zu < %zu", o->id, u, o->size); return; }
    if (o->tiny && u && u < o->size) { finding(x, GH_CHK_USABLE, o, NULL, "ga_usable_size(tiny #%" PRIu64 ") = %zu < %zu", o->id, u, o->size); return; }
    if (!o->tiny) {
        ga_object_info in;
        if (ga_lookup(x->h, o->sut, &in) == GA_OK && in.usable != u) {
            finding(x, GH_CHK_USABLE, o, NULL, "ga_usable_size(#%" PRIu64 ") = %zu but ga_lookup usable = %zu", o->id, u, in.usable);
            return;
        }
    }
    if (x->o->diff && o->ref && gh_ref_usable(o->ref) < o->size)
        finding(x, GH_CHK_DIFF, o, NULL, "glibc malloc_usable_size(#%" PRIu64 ") = %zu < %zu", o->id, gh_ref_usable(o->ref), o->size);
}

static void op_write(ex *x, const gh_op *op)
{
    long i = resolve(x, op->obj);
    if (i < 0) { x->st->ops_skipped++; return; }
    obj *o = &x->objs[i];
    tracef(x, " #%" PRIu64, o->id);
    if (!check_obj_content(x, o, "before rewrite")) return;
    o->gen++;
    write_obj(x, o);
}

static void op_check(ex *x, const gh_op *op)
{
    long i = resolve(x, op->obj);
    if (i < 0) { x->st->ops_skipped++; return; }
    obj *o = &x->objs[i];
    tracef(x, " #%" PRIu64, o->id);
    if (check_pages(x, o)) check_obj_content(x, o, "at check");
}

static void op_cache(ex *x, const gh_op *op)
{
    x->cur = (unsigned)(op->a % GH_MAX_CACHES);
    EM("/* switch to cache %u */", x->cur);
    int err;
    uint64_t osf0 = x->os_failures;
    if (cur_cache(x, &err)) return;
    if (x->os_failures > osf0 && err == ENOMEM) { tracef(x, " -> ENOMEM (injected OS failure)"); return; }
    finding(x, GH_CHK_STATUS, NULL, NULL, "ga_cache_new failed (%s) without an OS failure", errname(err));
}

static void op_release(ex *x)
{
    if (!x->caches[x->cur]) return;
    ga_cache_release(x->caches[x->cur]);
    EM("ga_cache_release(c[%u]);", x->cur);
}

static void op_destroy(ex *x)
{
    if (!x->caches[x->cur]) return;
    ga_cache_destroy(x->caches[x->cur]);
    x->caches[x->cur] = NULL;
    EM("ga_cache_destroy(c[%u]); c[%u] = NULL;", x->cur, x->cur);
}

/* ---- statistics ----------------------------------------------------------------- */
/* `exact`: at a point where galloc has swept everything and flushed every cache (right
 * after ga_gc_begin), so nothing the shadow freed may still be counted. */
static bool check_stats(ex *x, bool exact)
{
    if (!(x->o->checks & GH_CHK_STATS)) return true;
    ga_stats s;
    memset(&s, 0, sizeof s);
    ga_read_stats(x->h, &s);
    uint64_t lo = x->live_nontiny + x->nblk;
    uint64_t hi = lo + (exact ? 0 : x->pending_objs);
    uint64_t blo = x->live_slot_bytes, bhi = blo + (exact ? 0 : x->pending_bytes);
    uint64_t llo = x->live_large, lhi = llo + (exact ? 0 : x->pending_large);
    uint64_t live_large = s.large_alloc_count - s.large_free_count;
    char why[400] = "";
    if (s.mallocs != x->exp_mallocs)
        snprintf(why, sizeof why, "mallocs %" PRIu64 " != %" PRIu64 " successful allocations", s.mallocs, x->exp_mallocs);
    else if (s.heap_objects != s.mallocs - s.frees)
        snprintf(why, sizeof why, "heap_objects %" PRIu64 " != mallocs %" PRIu64 " - frees %" PRIu64, s.heap_objects, s.mallocs, s.frees);
    else if (s.heap_objects < lo || s.heap_objects > hi)
        snprintf(why, sizeof why, "heap_objects %" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "] (live non-tiny %" PRIu64 " + tiny blocks %zu, %" PRIu64 " freed but maybe unswept)",
                 s.heap_objects, lo, hi, x->live_nontiny, x->nblk, exact ? 0 : x->pending_objs);
    else if (s.large_alloc_count != x->exp_large_count || s.large_alloc != x->exp_large_bytes)
        snprintf(why, sizeof why, "large_alloc_count/large_alloc %" PRIu64 "/%" PRIu64 " != %" PRIu64 "/%" PRIu64,
                 s.large_alloc_count, s.large_alloc, x->exp_large_count, x->exp_large_bytes);
    else if (live_large < llo || live_large > lhi)
        snprintf(why, sizeof why, "live large objects %" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "]", live_large, llo, lhi);
    else if (s.heap_alloc < blo || s.heap_alloc > bhi)
        snprintf(why, sizeof why, "heap_alloc %" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "]", s.heap_alloc, blo, bhi);
    else if (s.total_alloc != x->exp_total_alloc)
        snprintf(why, sizeof why, "total_alloc %" PRIu64 " != %" PRIu64, s.total_alloc, x->exp_total_alloc);
    else if (s.heap_idle + s.heap_inuse != s.heap_sys)
        snprintf(why, sizeof why, "heap_idle %" PRIu64 " + heap_inuse %" PRIu64 " != heap_sys %" PRIu64, s.heap_idle, s.heap_inuse, s.heap_sys);
    else if (s.heap_inuse != s.pages_inuse * PAGE)
        snprintf(why, sizeof why, "heap_inuse %" PRIu64 " != pages_inuse %" PRIu64 " * 8192", s.heap_inuse, s.pages_inuse);
    else if (s.heap_released > s.heap_idle)
        snprintf(why, sizeof why, "heap_released %" PRIu64 " > heap_idle %" PRIu64, s.heap_released, s.heap_idle);
    else if (s.heap_alloc > s.heap_inuse)
        snprintf(why, sizeof why, "heap_alloc %" PRIu64 " > heap_inuse %" PRIu64, s.heap_alloc, s.heap_inuse);
    else if (s.num_gc != x->exp_gcs)
        snprintf(why, sizeof why, "num_gc %" PRIu64 " != %" PRIu64 " cycles", s.num_gc, x->exp_gcs);
    if (why[0]) {
        EM("check_stats(%" PRIu64 ", %" PRIu64 ", %" PRIu64 ");", x->exp_mallocs, lo, hi);
        return !finding(x, GH_CHK_STATS, NULL, NULL, "statistics%s: %s", exact ? " (after ga_gc_begin)" : "", why);
    }
    if (exact) x->pending_objs = x->pending_bytes = x->pending_large = 0;
    return true;
}

/* ---- GC, scavenge, OS faults ------------------------------------------------------ */
static void op_gc(ex *x, const gh_op *op)
{
    ga_gc_begin(x->h);
    EM("ga_gc_begin(h);");
    x->st->gcs++;
    if (!ga_gc_marking(x->h)) { finding(x, GH_CHK_STATUS, NULL, NULL, "ga_gc_marking false after ga_gc_begin"); return; }
    if (!check_stats(x, true)) return;
    size_t nmark = x->nobj, nkept = 0, nblack = 0, ndead = 0;
    bool *keep = calloc(nmark ? nmark : 1, sizeof *keep);
    if (!keep) return;
    for (size_t i = 0; i < x->nblk; i++) x->blk[i].marked = false;
    for (size_t i = 0; i < nmark; i++) {
        obj *o = &x->objs[i];
        keep[i] = mix(o->id * 0x100000001b3ull ^ (op->b + 1) * 0x9e3779b97f4a7c15ull) % 100 < op->a;
        if (!keep[i]) continue;
        nkept++;
        bool ok = ga_gc_mark(x->h, o->sut);
        EM("if (!ga_gc_mark(h, o[%" PRIu64 "])) fail(\"ga_gc_mark(#%" PRIu64 ")\");", o->id, o->id);
        if (!ok) { finding(x, GH_CHK_STATUS, o, NULL, "ga_gc_mark(#%" PRIu64 " at %p) returned false for a live object", o->id, o->sut); goto out; }
        if (o->tiny) { tblock *b = blk_find(x, o->slot, NULL); if (b) b->marked = true; }
    }
    /* objects allocated while marking are allocated black: they survive the cycle */
    for (unsigned k = 0; k < (op->flags & 7u) && !found(x); k++) {
        gh_req q = { GH_MALLOC, 0, mix(op->b * 31 + k + 1) % 700, 0, 0, false, 0, false, false };
        obj *o = do_alloc(x, &q, 0, 0);
        if (o && admit(x, o, false)) nblack++;
    }
    if (found(x)) goto out;
    ga_gc_end(x->h);
    x->exp_gcs++;
    EM("ga_gc_end(h);");
    if (ga_gc_marking(x->h)) { finding(x, GH_CHK_STATUS, NULL, NULL, "ga_gc_marking true after ga_gc_end"); goto out; }
    size_t swept = 0;
    if (op->c == GH_GC_SWEEP_ALL) { swept = ga_sweep(x->h, SIZE_MAX); EM("ga_sweep(h, SIZE_MAX);"); }
    else if (op->c) { swept = ga_sweep(x->h, (size_t)op->c); EM("ga_sweep(h, %" PRIu64 ");", op->c); }
    /* the shadow: drop what was not marked; tiny objects live on with a marked block */
    for (size_t i = nmark; i-- > 0;) {
        obj *o = &x->objs[i];
        if (keep[i]) continue;
        if (o->tiny) {
            tblock *b = blk_find(x, o->slot, NULL);
            if (b && b->marked) continue;
        }
        EM("live_del(%" PRIu64 "); /* dead */", o->id);
        account_gone(x, o);
        drop_obj(x, o, true);
        ndead++;
    }
    size_t w = 0;
    for (size_t i = 0; i < x->nblk; i++) {
        if (x->blk[i].marked) { x->blk[w++] = x->blk[i]; continue; }
        x->pending_objs++;
        x->pending_bytes += GA_TINY_SIZE;
        x->live_slot_bytes -= GA_TINY_SIZE;
    }
    x->nblk = w;
    tracef(x, " -> kept %zu, dead %zu, black %zu, swept %zu", nkept, ndead, nblack, swept);
out:
    free(keep);
    if (ga_gc_marking(x->h)) { ga_gc_end(x->h); x->exp_gcs++; }   /* leave the heap usable */
}

static bool check_all_objects(ex *x, const char *when)
{
    for (size_t i = 0; i < x->nobj; i++) {
        obj *o = &x->objs[i];
        if (!check_pages(x, o)) return false;
        if (x->o->checks & GH_CHK_LOOKUP) {
            ga_object_info in;
            ga_status ls = ga_lookup(x->h, o->sut, &in);
            if (ls == GA_ERR_NOT_OWNED || !in.allocated || (!o->tiny && (ls != GA_OK || in.object != (uintptr_t)o->sut)))
                if (finding(x, GH_CHK_LOOKUP, o, NULL, "live object #%" PRIu64 " (%zu bytes at %p) %s: ga_lookup -> %s, allocated %d, object %#" PRIxPTR,
                            o->id, o->size, o->sut, when, stname(ls), (int)in.allocated, in.object))
                    return false;
        }
        if (o->align && (uintptr_t)o->sut % o->align)
            if (finding(x, GH_CHK_ALIGN, o, NULL, "live object #%" PRIu64 " at %p is not aligned to %zu", o->id, o->sut, o->align)) return false;
        if (!check_obj_content(x, o, when)) return false;
    }
    return true;
}

static void op_scavenge(ex *x, const gh_op *op)
{
    ga_stats a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    ga_read_stats(x->h, &a);
    size_t want = op->flags == 0 ? SIZE_MAX : op->flags == 2 ? (size_t)op->a : 0, got;
    if (op->flags == 1) { got = ga_scavenge_policy(x->h); EM("ga_scavenge_policy(h);"); }
    else { got = ga_scavenge(x->h, want); EM("ga_scavenge(h, %zuu);", want); }
    tracef(x, " -> released %zu", got);
    if (op->flags == 2 && want <= SIZE_MAX - (2u << 20) && got > want + (2u << 20)) {
        /* policy: like Go's scavenger, galloc may round a run up to a 2 MiB huge-page
         * boundary, so up to nbytes + 2 MiB may go; more is a finding */
        finding(x, GH_CHK_STATUS, NULL, NULL, "ga_scavenge(%zu) released %zu bytes", want, got);
        return;
    }
    ga_read_stats(x->h, &b);
    if ((x->o->checks & GH_CHK_STATS) && op->flags != 1 && b.heap_released - a.heap_released != got) {
        finding(x, GH_CHK_STATS, NULL, NULL, "ga_scavenge returned %zu but heap_released grew by %" PRIu64 " (%" PRIu64 " -> %" PRIu64 ")",
                got, b.heap_released - a.heap_released, a.heap_released, b.heap_released);
        return;
    }
    check_all_objects(x, "after scavenge");
}

static void op_fail_os(ex *x, const gh_op *op)
{
    static const int call_of[GH_OSF_N] = { -1, GA_OS_RESERVE, GA_OS_MAP, GA_OS_USED, GA_OS_UNUSED, GA_OS_RELEASE, GA_OS_ALLOC_META };
    unsigned k = (unsigned)(op->a % GH_OSF_N);
    if (k == GH_OSF_NEXT_ALLOC) {
        ga_testos_fail_next_alloc(x->tos);
        x->m_next_alloc = true;
        EM("ga_testos_fail_next_alloc(tos);");
    } else {
        ga_testos_fail(x->tos, (enum ga_os_call)call_of[k], (unsigned)op->b, (unsigned)op->flags + 1);
        x->m_skip[call_of[k]] = (unsigned)op->b;
        x->m_count[call_of[k]] = (unsigned)op->flags + 1;
        EM("ga_testos_fail(tos, (enum ga_os_call)%d, %u, %u);", call_of[k], (unsigned)op->b, (unsigned)op->flags + 1);
    }
}

/* ---- misuse ------------------------------------------------------------------------ */
static void op_double_free(ex *x, const gh_op *op)
{
    long i = resolve(x, op->obj);
    if (i < 0) { x->st->ops_skipped++; return; }
    obj *o = &x->objs[i];
    uint64_t id = o->id;
    void *p = o->sut;
    bool tiny = o->tiny, large = o->large, local = op->flags & 1;
    tracef(x, " #%" PRIu64, id);
    if (!check_obj_content(x, o, "before double free")) return;
    if (!free_obj(x, id, "double free (first)", local)) return;
    ga_status want = tiny ? GA_ERR_TINY : GA_ERR_DOUBLE_FREE;
    ga_cache *c = local ? x->caches[x->cur] : NULL;
    uint64_t h0 = x->herr_calls;
    ga_status got = c ? ga_free_local(c, p) : ga_free(x->h, p);
    if (large && got == GA_ERR_NOT_OWNED) {
        /* policy: a large object's span may be swept and released by the free itself;
         * then its address is no longer owned, and ga_lookup must agree */
        ga_object_info in;
        if (ga_lookup(x->h, p, &in) == GA_ERR_NOT_OWNED) want = GA_ERR_NOT_OWNED;
    }
    if (c) EM("expect_free_local_raw(c[%u], %" PRIu64 ", %d); /* double free (second) */", x->cur, id, (int)want);
    else EM("expect_free_raw(%" PRIu64 ", %d); /* double free (second) */", id, (int)want);
    tracef(x, ", %s", stname(got));
    if (got != want) {
        finding(x, GH_CHK_STATUS, tiny ? find_id(x, id) : NULL, NULL, "double free of #%" PRIu64 " (%s) at %p: second %s returned %s, expected %s",
                id, tiny ? "tiny" : "freed", p, c ? "ga_free_local" : "ga_free", stname(got), stname(want));
        return;
    }
    if (!check_report(x, tiny ? find_id(x, id) : NULL, h0, got, p)) return;
    if (tiny) { obj *t = find_id(x, id); if (t) check_obj_content(x, t, "after a refused double free"); }
}

static void op_free_foreign(ex *x, const gh_op *op)
{
    volatile char local[64];
    local[0] = 1;
    void *p;
    ga_status want = GA_ERR_NOT_OWNED;
    switch (op->flags & 3) {
    case GH_FOREIGN_STACK: p = (void *)(uintptr_t)local; break;
    case GH_FOREIGN_STATIC: p = static_target + 8; break;
    case GH_FOREIGN_LIBC: p = malloc(64); if (!p) return; break;
    default: p = NULL; want = GA_OK; break;   /* ga_free(NULL) is a no-op, like free(NULL) */
    }
    uint64_t h0 = x->herr_calls;
    ga_status got = ga_free(x->h, p);
    EM("{ static char foreign[64]; expect_free_ptr(%s, %d); }", (op->flags & 3) == GH_FOREIGN_NULL ? "NULL" : "foreign + 8", (int)want);
    tracef(x, " -> %s", stname(got));
    bool ok = got == want && check_report(x, NULL, h0, got, p);
    if ((op->flags & 3) == GH_FOREIGN_LIBC) free(p);
    if (ok || got == want) return;
    finding(x, GH_CHK_STATUS, NULL, NULL, "ga_free of a %s pointer %p returned %s, expected %s",
                (op->flags & 3) == GH_FOREIGN_STACK ? "stack" : (op->flags & 3) == GH_FOREIGN_STATIC ? "static" :
                (op->flags & 3) == GH_FOREIGN_LIBC ? "glibc heap" : "NULL", p, stname(got), stname(want));
}

static void op_free_interior(ex *x, const gh_op *op)
{
    long i = resolve(x, op->obj);
    if (i < 0) { x->st->ops_skipped++; return; }
    obj *o = &x->objs[i];
    tracef(x, " #%" PRIu64, o->id);
    uintptr_t p = (uintptr_t)o->sut, q;
    ga_status want;
    if (o->tiny) {
        size_t room = o->slot + GA_TINY_SIZE - p;   /* >= 1 */
        q = p + op->a % room;
        want = GA_ERR_TINY;
    } else {
        ga_object_info in;
        if (ga_lookup(x->h, o->sut, &in) != GA_OK || in.usable < 2) { x->st->ops_skipped++; return; }
        q = p + 1 + op->a % (in.usable - 1);
        want = GA_ERR_INTERIOR;
    }
    uint64_t h0 = x->herr_calls;
    ga_status got = ga_free(x->h, (void *)q);
    EM("expect_free_raw_off(%" PRIu64 ", %zu, %d); /* interior */", o->id, (size_t)(q - p), (int)want);
    tracef(x, " +%zu -> %s", (size_t)(q - p), stname(got));
    if (got != want) {
        finding(x, GH_CHK_STATUS, o, NULL, "ga_free of interior pointer %#" PRIxPTR " (object #%" PRIu64 " at %p + %zu) returned %s, expected %s",
                q, o->id, o->sut, (size_t)(q - p), stname(got), stname(want));
        return;
    }
    if (!check_report(x, o, h0, got, (void *)q)) return;
    ga_object_info in;
    if ((x->o->checks & GH_CHK_LOOKUP) && (ga_lookup(x->h, o->sut, &in) == GA_ERR_NOT_OWNED || !in.allocated)) {
        finding(x, GH_CHK_LOOKUP, o, NULL, "object #%" PRIu64 " no longer allocated after a refused interior free", o->id);
        return;
    }
    if (check_obj_content(x, o, "after a refused interior free")) verify_span_at(x, o, o->sut, o->id);
}

/* ---- full check --------------------------------------------------------------------- */
static bool full_check(ex *x)
{
    x->st->full_checks++;
    EM("full_check();");
    if (!check_all_objects(x, "at full check")) return false;
    if (x->o->checks & GH_CHK_VERIFY) {
        ga_report r;
        memset(&r, 0, sizeof r);
        if (ga_verify(x->h, &r) != 0) return !report_finding(x, GH_CHK_VERIFY, NULL, &r, "ga_verify");
    }
    if (!check_stats(x, false)) return false;
    return check_os_violations(x);
}

/* ---- faults applied after a step ------------------------------------------------- */
static obj *newest(ex *x, bool want_ref, bool nontiny, bool small)
{
    for (size_t i = x->nobj; i-- > 0;) {
        obj *o = &x->objs[i];
        if (want_ref ? !o->ref || !o->ref_size : !o->sut) continue;
        if (nontiny && o->tiny) continue;
        if (small && (o->large || o->tiny || !o->elemsize)) continue;
        if (!o->size && !nontiny) continue;
        return o;
    }
    return NULL;
}

static void apply_after_fault(ex *x)
{
    gh_fault f = x->o->fault;
    obj *o;
    switch (f) {
    case GH_FAULT_SCRIBBLE:
        if (!(o = newest(x, false, false, false))) return;
        ((volatile uint8_t *)o->sut)[o->size <= FULL_FILL_LIMIT ? (o->size - 1) / 2 : 0] ^= 0x40;
        EM("((unsigned char *)o[%" PRIu64 "])[%zu] ^= 0x40; /* injected fault: scribble */", o->id, o->size <= FULL_FILL_LIMIT ? (o->size - 1) / 2 : 0);
        break;
    case GH_FAULT_REF_SCRIBBLE:
        if (!(o = newest(x, true, false, false))) return;
        ((volatile uint8_t *)o->ref)[o->size <= FULL_FILL_LIMIT ? (o->size - 1) / 2 : 0] ^= 0x40;
        break;
    case GH_FAULT_HIDDEN_FREE:
        if (!(o = newest(x, false, true, false))) return;
        ga_free(x->h, o->sut);
        EM("ga_free(h, o[%" PRIu64 "]); /* injected fault: hidden free */", o->id);
        break;
    case GH_FAULT_HIDDEN_ALLOC: {
        int err;
        ga_cache *c = cur_cache(x, &err);
        if (!c) return;
        void *p = ga_alloc(c, 64, 0, 0);
        EM("ga_alloc(c[%u], 64, 0, 0); /* injected fault: hidden allocation */", x->cur);
        (void)p;
        break;
    }
    case GH_FAULT_FREE_SLOT: {
        /* the last free slot of the newest small object's span (clear of the span tail):
         * it stays free for a while, so ga_verify_span (A12) sees it, and a later
         * allocation of the class that reaches it shows whether zeroing was skipped */
        if (!(o = newest(x, false, true, true))) return;
        size_t nslots = o->span_npages * PAGE / o->elemsize;
        uintptr_t end = o->span + o->span_npages * PAGE - GA_GT_INLINE_MARK_BYTES - 64;
        for (size_t i = nslots; i-- > 0;) {
            uintptr_t sl = o->span + i * o->elemsize;
            if (sl + o->elemsize > end || sl <= o->slot) continue;
            ga_object_info in;
            if (ga_lookup(x->h, (void *)sl, &in) == GA_ERR_NOT_OWNED || in.allocated || in.slot != sl) continue;
            ((volatile uint8_t *)sl)[o->elemsize / 2] = 0xa5;
            EM("((unsigned char *)o[%" PRIu64 "] + %zu)[%zu] = 0xa5; /* injected fault: write into a free slot */",
               o->id, (size_t)(sl - (uintptr_t)o->sut), o->elemsize / 2);
            break;
        }
        break;
    }
    case GH_FAULT_TOUCH_RELEASED: {
        if (!(o = newest(x, false, false, false))) return;
        const ga_os *os = ga_testos_os(x->tos);
        uintptr_t pg = (uintptr_t)o->sut & ~(uintptr_t)4095;
        os->unused(os->ctx, (void *)pg, 4096);
        EM("{ const ga_os *os = ga_testos_os(tos); os->unused(os->ctx, (void *)((uintptr_t)o[%" PRIu64 "] & ~(uintptr_t)4095), 4096); } /* injected fault */", o->id);
        break;
    }
    default:
        return;   /* in-step faults are applied inside the allocation path */
    }
    x->fault_done = true;
}

static bool in_step_fault(gh_fault f)
{
    return f == GH_FAULT_PTR_FLIP || f == GH_FAULT_ALIAS || f == GH_FAULT_DIRTY_ZERO ||
           f == GH_FAULT_UNDERSIZE || f == GH_FAULT_SUT_FAIL;
}

/* ---- driver ------------------------------------------------------------------------- */
void gh_options_default(gh_options *o)
{
    memset(o, 0, sizeof *o);
    o->checks = GH_CHK_ALL & ~GH_CHK_PLANTED;
    o->check_every = 64;
    o->diff = true;
    o->budget_bytes = (size_t)64 << 20;
    o->max_heap_bytes = (size_t)1 << 30;
    o->max_live = 4096;
    o->planted_lo = 1000;
    o->planted_hi = 2000;
    o->planted_min_live = 3;
}

static const char *const check_names[] = {
    "status", "align", "lookup", "usable", "overlap", "content", "zero", "span",
    "verify", "stats", "diff", "os", "planted",
};
const char *gh_check_name(unsigned check)
{
    for (unsigned i = 0; i < sizeof check_names / sizeof *check_names; i++)
        if (check == 1u << i) return check_names[i];
    return "?";
}
unsigned gh_check_from_name(const char *name)
{
    for (unsigned i = 0; i < sizeof check_names / sizeof *check_names; i++)
        if (strcmp(name, check_names[i]) == 0) return 1u << i;
    return 0;
}

static const char *const fault_names[GH_NFAULTS] = {
    "none", "scribble", "hidden-free", "hidden-alloc", "free-slot", "ptr-flip", "alias",
    "dirty-zero", "undersize", "ref-scribble", "sut-fail", "touch-released",
};
const char *gh_fault_name(unsigned f) { return f < GH_NFAULTS ? fault_names[f] : "?"; }
int gh_fault_from_name(const char *name)
{
    for (int i = 0; i < GH_NFAULTS; i++) if (strcmp(name, fault_names[i]) == 0) return i;
    return -1;
}

static int run(const gh_seq *s, const gh_options *opt, gh_finding *f, gh_exec_stats *st, FILE *emit)
{
    gh_options defaults;
    if (!opt) { gh_options_default(&defaults); opt = &defaults; }
    gh_finding fdummy;
    gh_exec_stats sdummy;
    if (!f) f = &fdummy;
    if (!st) st = &sdummy;
    memset(f, 0, sizeof *f);
    memset(st, 0, sizeof *st);
    ex xs;
    ex *x = &xs;
    memset(x, 0, sizeof *x);
    x->o = opt;
    x->f = f;
    x->st = st;
    x->emit = emit;
    gh_ref_init(&x->ref, opt->budget_bytes);
    x->tos = ga_testos_new(opt->os);
    if (!x->tos) { snprintf(f->message, sizeof f->message, "ga_testos_new failed"); return -1; }
    x->inner = ga_testos_os(x->tos);
    x->wrap = (ga_os){ x, w_reserve, w_map, w_used, w_unused, w_release, w_alloc_meta, w_free_meta };
    ga_heap_options ho;
    memset(&ho, 0, sizeof ho);
    ho.os = &x->wrap;
    ho.no_green_tea = opt->no_green_tea;
    ho.poison_free = opt->poison_free;
    ho.max_heap_bytes = opt->max_heap_bytes;
    ho.plant = opt->alloc_plant;
    /* faults that read or write memory galloc considers free must not trip ASan's manual
     * poisoning of free slots (alloc/sanitize.h) */
    ho.no_poison = opt->no_poison || opt->fault == GH_FAULT_FREE_SLOT || opt->fault == GH_FAULT_HIDDEN_FREE;
    x->h = ga_heap_new(&ho);
    if (!x->h) {
        snprintf(f->message, sizeof f->message, "ga_heap_new failed: errno %d", errno);
        ga_testos_free(x->tos);
        return -1;
    }
    ga_set_error_handler(x->h, on_misuse, x);
    x->cur = 0;
    for (size_t i = 0; i < s->n && !found(x); i++) {
        const gh_op *op = &s->ops[i];
        x->step = i;
        x->op = op;
        st->ops_run++;
        if (op->kind < GH_NKINDS) st->op_count[op->kind]++;
        if (opt->trace || emit) {
            char line[256];
            gh_format_op(op, line, sizeof line);
            tracef(x, "[%5zu] %-40s", i, line);
            if (emit) fprintf(emit, "\n    step(%zu, \"%s\");\n", i, line);
        }
        switch (op->kind) {
        case GH_MALLOC: op_malloc(x, op); break;
        case GH_CALLOC: op_calloc(x, op); break;
        case GH_REALLOC: op_realloc(x, op); break;
        case GH_ALIGNED: op_aligned(x, op); break;
        case GH_FREE: op_free(x, op); break;
        case GH_USABLE: op_usable(x, op); break;
        case GH_WRITE: op_write(x, op); break;
        case GH_CHECK: op_check(x, op); break;
        case GH_CACHE: op_cache(x, op); break;
        case GH_RELEASE: op_release(x); break;
        case GH_DESTROY: op_destroy(x); break;
        case GH_GC: op_gc(x, op); break;
        case GH_SCAVENGE: op_scavenge(x, op); break;
        case GH_FAIL_OS: op_fail_os(x, op); break;
        case GH_VERIFY: full_check(x); break;
        case GH_DOUBLE_FREE: op_double_free(x, op); break;
        case GH_FREE_FOREIGN: op_free_foreign(x, op); break;
        case GH_FREE_INTERIOR: op_free_interior(x, op); break;
        default: break;
        }
        tracef(x, "\n");
        if (found(x)) break;
        if (!check_no_stray_reports(x)) break;
        if (!check_os_violations(x)) break;
        if (opt->check_every == 1 && !check_stats(x, false)) break;
        if (opt->fault && !in_step_fault(opt->fault) && !x->fault_done && i >= opt->fault_step) apply_after_fault(x);
        if (opt->check_every && (i + 1) % opt->check_every == 0 && op->kind != GH_VERIFY) full_check(x);
    }
    if (!found(x)) {
        x->step = s->n;
        x->op = NULL;
        full_check(x);
        if (found(x)) f->final_check = true;
    }
    /* teardown: galloc gives back everything at once; glibc twins one by one */
    for (size_t i = 0; i < x->nobj; i++)
        if (x->objs[i].ref) gh_ref_free(&x->ref, x->objs[i].ref, x->objs[i].ref_size ? x->objs[i].ref_size : x->objs[i].size);
    ga_heap_destroy(x->h);
    if (!found(x)) {
        /* Teardown must give every region and metadata block back, each exactly once (a
         * second release could unmap memory the process reused in between). */
        bool final_found = !check_os_violations(x);
        uint64_t meta = ga_testos_meta_live(x->tos), held = 0;
        for (int st = GA_PAGE_RESERVED; st <= GA_PAGE_READY; st++) held += ga_testos_bytes_in_state(x->tos, (enum ga_page_state)st);
        if (!final_found && (x->o->checks & GH_CHK_OS) && (held || meta))
            final_found = !finding(x, GH_CHK_OS, NULL, NULL, "ga_heap_destroy left %" PRIu64 " bytes of heap regions and %" PRIu64
                                   " bytes of metadata with the OS", held, meta);
        if (final_found) f->final_check = true;
    }
    ga_testos_free(x->tos);
    free(x->objs);
    free(x->iv);
    free(x->blk);
    return f->found ? 1 : 0;
}

int gh_execute(const gh_seq *s, const gh_options *opt, gh_finding *f, gh_exec_stats *st)
{
    return run(s, opt, f, st, NULL);
}

int gh_execute_emit(const gh_seq *s, const gh_options *opt, gh_finding *f, FILE *emit)
{
    return run(s, opt, f, NULL, emit);
}

void gh_print_finding(FILE *out, const gh_finding *f, const char *source)
{
    char line[256] = "(end of sequence: final full check)";
    if (!f->final_check) gh_format_op(&f->op, line, sizeof line);
    fprintf(out, "FINDING: check '%s' failed at step %zu", gh_check_name(f->check), f->step);
    if (source) fprintf(out, " of %s", source);
    if (f->op.line) fprintf(out, " (line %u)", f->op.line);
    fprintf(out, "\n  op:        %s\n  violation: %s\n", line, f->message);
    if (f->report.code)
        fprintf(out, "  ga_report: code %d, invariant %s, span %#" PRIxPTR ", addr %#" PRIxPTR ", slot %ld\n             %s\n",
                f->report.code, f->report.invariant, f->report.span, f->report.addr, f->report.slot, f->report.message);
    for (int k = 0; k < 2; k++)
        if (f->obj_id[k])
            fprintf(out, "  object:    #%" PRIu64 " at %#" PRIxPTR ", %zu bytes\n", f->obj_id[k], f->obj_addr[k], f->obj_size[k]);
    if (f->span)
        fprintf(out, "  span:      %#" PRIxPTR ", %zu page(s), size class %u\n", f->span, f->span_npages, f->sizeclass);
}
