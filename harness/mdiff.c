/*
 * mdiff.c — the malloc-API differential: the op model of fuzz_malloc (binary and text
 * forms, generator), the executor that runs every op through libgalloc's API (the gm_*
 * test build of alloc/malloc.c) and glibc's in lockstep, the checks, the misuse hook, the
 * plant names, and THE table of legitimate differences from glibc (LEGIT below).
 *
 * Owns: everything declared in mdiff.h except gm_replay_* (mdiff_replay.c).
 * Calls: alloc/malloc_test.h (gm_*), glibc's malloc family, harness.h (gh_parse_size),
 * alloc/sizeclass.h (class sizes for edge sizes).
 *
 * The glibc side: in plain builds it is glibc's allocator itself, called for every request
 * (glibc fails huge, overflowing and badly aligned requests at once, without touching
 * memory). Under a sanitizer the "glibc" side is the sanitizer's allocator, which aborts on
 * such requests: there a request that glibc 2.36 documents as failing is not made and its
 * documented outcome stands in (ref_model), as harness/oracle.c does.
 */
#define _GNU_SOURCE 1
#include "mdiff.h"
#include "malloc_test.h"
#include "harness.h"      /* gh_parse_size */
#include "sizeclass.h"    /* ga_class_to_size */
#include "galloc.h"       /* ga_status */

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define GM_SANITIZED 1
#endif
#endif
#ifndef GM_SANITIZED
#define GM_SANITIZED 0
#endif

/* =====================================================================================
 * LEGITIMATE DIFFERENCES FROM GLIBC — the one table. A check that does not compare
 * something, or compares it against a different expectation, names its row here (legit()),
 * and the run counts how often each row was relied on (gm_stats.legit_used).
 * ===================================================================================== */
enum {
    LD_SMALL_ALIGN,       LD_USABLE_SLACK,   LD_ALIGNED_ALLOC_NONPOW2, LD_FREE_SIZED,
    LD_BUDGET,            LD_ABOVE_CAP,      LD_BIG_ALIGN,             LD_MISUSE,
    LD_ERRNO_SUCCESS,     LD_POSIX_MEMALIGN_ERRNO, LD_REALLOC_ADDRESS, LD_SANITIZER_MODEL,
    LD_COUNT
};
static const struct { const char *what, *reason; } LEGIT[LD_COUNT] = {
    [LD_SMALL_ALIGN] = { "malloc/calloc/realloc(n), n < 16: alignment",
        "galloc promises 8 (the fundamental alignment of any object that fits in n < 16 bytes, C17 DR 445); "
        "glibc gives 16. Each side is held to its own promise" },
    [LD_USABLE_SLACK] = { "malloc_usable_size values",
        "slack is implementation-defined (galloc: size classes; glibc: chunk sizes): each side must give "
        ">= the request (pvalloc: the page-rounded request) and the same value on every call; never compared" },
    [LD_ALIGNED_ALLOC_NONPOW2] = { "aligned_alloc(align, n), align not a power of two (incl. 0)",
        "galloc fails with EINVAL (C17 7.22.3.1, glibc >= 2.38); glibc 2.36 rounds the alignment up like memalign. "
        "galloc is checked against EINVAL, glibc is not called" },
    [LD_FREE_SIZED] = { "free_sized / free_aligned_sized",
        "C23 calls glibc 2.36 does not have: the glibc twin is released with free()" },
    [LD_BUDGET] = { "requests above the per-run byte budget (up to 2^47)",
        "not executed on either side: bounded memory (glibc's outcome depends on overcommit)" },
    [LD_ABOVE_CAP] = { "sizes in [2^47, PTRDIFF_MAX]",
        "galloc must fail with ENOMEM (its cap is RAM + swap, at most 2^46); glibc's mmap outcome depends on the "
        "kernel's address-space size and overcommit: not called" },
    [LD_BIG_ALIGN] = { "valid alignments above 1 MiB",
        "not executed: each needs size + alignment of address space; glibc's result depends on overcommit" },
    [LD_MISUSE] = { "misuse: double free, interior or foreign pointer, realloc of a freed block",
        "undefined behaviour: glibc is not called (it aborts with its own message, or not at all); galloc must report "
        "it through the misuse hook, with the right kind, exactly once, and leave the heap intact" },
    [LD_ERRNO_SUCCESS] = { "errno after a successful call",
        "unspecified by C and POSIX: compared only on failure (and free must keep it on both sides)" },
    [LD_POSIX_MEMALIGN_ERRNO] = { "errno after posix_memalign",
        "posix_memalign reports through its return value; galloc restores errno, glibc may leave ENOMEM: only the "
        "return value and the untouched *memptr on failure are compared" },
    [LD_REALLOC_ADDRESS] = { "realloc in place or moved",
        "pointer identity is each allocator's choice: only contents (min(old, new) bytes) are compared" },
    [LD_SANITIZER_MODEL] = { "sanitizer builds: requests glibc 2.36 documents as failing",
        "the twin is the sanitizer's allocator, which aborts on them: not made; glibc's documented result "
        "(ENOMEM / EINVAL) stands in. memalign with a non-power-of-two alignment gets it rounded up first, as glibc does" },
};
size_t gm_legit_count(void) { return LD_COUNT; }
const char *gm_legit_what(size_t i) { return i < LD_COUNT ? LEGIT[i].what : NULL; }
const char *gm_legit_reason(size_t i) { return i < LD_COUNT ? LEGIT[i].reason : NULL; }

/* ---- plants -------------------------------------------------------------------------- */
static const char *const PLANT_NAMES[GM_PLANT_COUNT] = {
    [GM_PLANT_NONE] = "none",
    [GM_PLANT_REALLOC_COPY_SHORT] = "realloc-copy-short",
    [GM_PLANT_REALLOC_GROW_INPLACE] = "realloc-grow-inplace",
    [GM_PLANT_CALLOC_LARGE_NOZERO] = "calloc-large-nozero",
    [GM_PLANT_CALLOC_OVERFLOW] = "calloc-overflow",
    [GM_PLANT_REALLOCARRAY_OVERFLOW] = "reallocarray-overflow",
    [GM_PLANT_ALIGN32_AS_MALLOC] = "align32-as-malloc",
    [GM_PLANT_MEMALIGN_ROUND_DOWN] = "memalign-round-down",
    [GM_PLANT_VALLOC_SWAPPED] = "valloc-swapped",
    [GM_PLANT_PVALLOC_ROUND_OVERFLOW] = "pvalloc-round-overflow",
    [GM_PLANT_USABLE_HEADER] = "usable-header",
    [GM_PLANT_ENOMEM_NO_ERRNO] = "enomem-no-errno",
    [GM_PLANT_FREE_SIZED_STRICT] = "free-sized-strict",
    [GM_PLANT_REALLOC_FREED_SILENT] = "realloc-freed-silent",
    [GM_PLANT_MALLOC0_NULL] = "malloc0-null",
};
int gm_plant_count(void) { return GM_PLANT_COUNT; }
const char *gm_plant_name(int p) { return p >= 0 && p < GM_PLANT_COUNT ? PLANT_NAMES[p] : "?"; }
int gm_plant_from_name(const char *n)
{
    for (int i = 0; i < GM_PLANT_COUNT; i++)
        if (strcmp(n, PLANT_NAMES[i]) == 0) return i;
    return -1;
}

/* ---- op model --------------------------------------------------------------------------- */
static const char *const KIND_NAMES[GM_NKINDS] = {
    "malloc", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc", "memalign",
    "valloc", "pvalloc", "free", "free_sized", "free_aligned_sized", "usable", "write", "check",
    "double-free", "free-interior", "free-foreign", "realloc-freed",
};
const char *gm_kind_name(unsigned k) { return k < GM_NKINDS ? KIND_NAMES[k] : "?"; }

static const char *const CHECK_NAMES[] = { "result", "errno", "align", "usable", "zero", "content", "misuse" };
const char *gm_check_name(unsigned c)
{
    for (unsigned i = 0; i < sizeof CHECK_NAMES / sizeof CHECK_NAMES[0]; i++)
        if (c == 1u << i) return CHECK_NAMES[i];
    return "?";
}

void gm_seq_init(gm_seq *s) { s->ops = NULL; s->n = s->cap = 0; }
void gm_seq_free(gm_seq *s) { free(s->ops); gm_seq_init(s); }
int gm_seq_push(gm_seq *s, const gm_op *op)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 32;
        gm_op *n = realloc(s->ops, nc * sizeof *n);
        if (!n) return -1;
        s->ops = n;
        s->cap = nc;
    }
    s->ops[s->n++] = *op;
    return 0;
}

/* ---- binary form (MDIFF.md) ------------------------------------------------------------ */
#define PTRDIFF_MAXU ((uint64_t)PTRDIFF_MAX)
static const uint64_t EDGE[32] = {
    0, 1, 2, 7, 8, 15, 16, 17, 24, 25, 31, 32, 33, 48, 63, 64, 65, 4095, 4096, 4097, 8191, 8192,
    32760, 32761, 32768, 65536, (uint64_t)1 << 20, ((uint64_t)1 << 20) + 1, (uint64_t)1 << 47,
    PTRDIFF_MAXU, PTRDIFF_MAXU + 1, PTRDIFF_MAXU / 2 + 2,
};

/* opcode & 15 -> kind group; opcode >> 4 = modifier m */
enum { G_MALLOC, G_CALLOC, G_REALLOC, G_REALLOCARRAY, G_ALIGNED, G_FREE, G_USABLE, G_WRITE, G_CHECK, G_MISUSE };
static const uint8_t OPTAB[16] = { G_MALLOC, G_MALLOC, G_MALLOC, G_CALLOC, G_REALLOC, G_REALLOC, G_REALLOCARRAY,
                                   G_ALIGNED, G_ALIGNED, G_FREE, G_FREE, G_FREE, G_USABLE, G_WRITE, G_CHECK, G_MISUSE };

typedef struct rd { const uint8_t *p; size_t n, i; } rd;
static uint8_t rd_u8(rd *r) { return r->i < r->n ? r->p[r->i++] : 0; }

static uint64_t rd_size(rd *r)
{
    uint8_t t = rd_u8(r);
    unsigned mode = t >> 5, l = t & 31;
    uint64_t v = 0;
    switch (mode) {
    case 0: return l;
    case 1: return (uint64_t)l << 8 | rd_u8(r);
    case 2: v = (uint64_t)l << 16; v |= (uint64_t)rd_u8(r) << 8; return v | rd_u8(r);
    case 3: return EDGE[l];
    case 4: {
        uint64_t c = ga_class_to_size[rd_u8(r) % GA_NUM_CLASSES];
        return c + l < 16 ? 0 : c + l - 16;
    }
    case 5: {
        uint64_t c = (uint64_t)1 << (rd_u8(r) % 64);
        return c + l < 16 ? 0 : c + l - 16;
    }
    case 6: return UINT64_MAX - l;
    default:
        for (int k = 0; k < 8; k++) v |= (uint64_t)rd_u8(r) << (8 * k);
        return v;
    }
}

int gm_decode(const uint8_t *data, size_t len, gm_seq *out)
{
    gm_seq_init(out);
    rd r = { data, len, 0 };
    if (len >= 5 && memcmp(data, "GAMD", 4) == 0) r.i = 5;   /* header + version (any: v1 decoder) */
    while (r.i < r.n) {
        uint8_t oc = rd_u8(&r);
        unsigned m = oc >> 4;
        gm_op op;
        memset(&op, 0, sizeof op);
        switch (OPTAB[oc & 15]) {
        case G_MALLOC: op.kind = GM_MALLOC; op.a = rd_size(&r); break;
        case G_CALLOC: op.kind = GM_CALLOC; op.a = rd_size(&r); op.b = rd_size(&r); break;
        case G_REALLOC:
            op.kind = GM_REALLOC; op.flags = m & 1; op.obj = rd_u8(&r); op.a = rd_size(&r);
            if (op.flags) op.obj = 0;
            break;
        case G_REALLOCARRAY:
            op.kind = GM_REALLOCARRAY; op.flags = m & 1; op.obj = rd_u8(&r); op.a = rd_size(&r); op.b = rd_size(&r);
            if (op.flags) op.obj = 0;
            break;
        case G_ALIGNED:
            switch (m % 5) {
            case 0: op.kind = GM_POSIX_MEMALIGN; break;
            case 1: op.kind = GM_ALIGNED_ALLOC; break;
            case 2: op.kind = GM_MEMALIGN; break;
            case 3: op.kind = GM_VALLOC; break;
            default: op.kind = GM_PVALLOC; break;
            }
            op.a = rd_size(&r);
            if (op.kind != GM_VALLOC && op.kind != GM_PVALLOC) op.b = rd_size(&r);
            break;
        case G_FREE:
            op.kind = m % 3 == 0 ? GM_FREE : m % 3 == 1 ? GM_FREE_SIZED : GM_FREE_ALIGNED_SIZED;
            op.obj = rd_u8(&r);
            break;
        case G_USABLE: op.kind = GM_USABLE; op.obj = rd_u8(&r); break;
        case G_WRITE: op.kind = GM_WRITE; op.flags = m & 1; op.obj = rd_u8(&r); break;
        case G_CHECK: op.kind = GM_CHECK; break;
        default:
            switch (m % 4) {
            case 0: op.kind = GM_DOUBLE_FREE; op.obj = rd_u8(&r); break;
            case 1: op.kind = GM_FREE_INTERIOR; op.obj = rd_u8(&r); op.a = rd_size(&r); break;
            case 2: op.kind = GM_FREE_FOREIGN; op.a = (m >> 2) % 3; break;
            default: op.kind = GM_REALLOC_FREED; op.obj = rd_u8(&r); op.a = rd_size(&r); break;
            }
            break;
        }
        if (gm_seq_push(out, &op) != 0) { gm_seq_free(out); return -1; }
    }
    return 0;
}

typedef struct wr { uint8_t *b; size_t n, cap; bool oom; } wr;
static void wr_u8(wr *w, uint8_t v)
{
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 64;
        uint8_t *nb = realloc(w->b, nc);
        if (!nb) { w->oom = true; return; }
        w->b = nb;
        w->cap = nc;
    }
    w->b[w->n++] = v;
}

static void wr_size(wr *w, uint64_t v)
{
    if (v < 32) { wr_u8(w, (uint8_t)v); return; }
    for (unsigned i = 0; i < 32; i++)
        if (EDGE[i] == v) { wr_u8(w, (uint8_t)(3u << 5 | i)); return; }
    if (v < 8192) { wr_u8(w, (uint8_t)(1u << 5 | v >> 8)); wr_u8(w, (uint8_t)v); return; }
    if (v >= UINT64_MAX - 31) { wr_u8(w, (uint8_t)(6u << 5 | (UINT64_MAX - v))); return; }
    if (v < ((uint64_t)1 << 21)) { wr_u8(w, (uint8_t)(2u << 5 | v >> 16)); wr_u8(w, (uint8_t)(v >> 8)); wr_u8(w, (uint8_t)v); return; }
    wr_u8(w, 7u << 5);
    for (int k = 0; k < 8; k++) wr_u8(w, (uint8_t)(v >> (8 * k)));
}

int gm_encode(const gm_seq *s, uint8_t **out, size_t *len)
{
    wr w = { NULL, 0, 0, false };
    static const uint8_t hdr[5] = { 'G', 'A', 'M', 'D', GM_FORMAT_VERSION };
    for (int i = 0; i < 5; i++) wr_u8(&w, hdr[i]);
    for (size_t i = 0; i < s->n; i++) {
        const gm_op *op = &s->ops[i];
        switch (op->kind) {
        case GM_MALLOC: wr_u8(&w, 0); wr_size(&w, op->a); break;
        case GM_CALLOC: wr_u8(&w, 3); wr_size(&w, op->a); wr_size(&w, op->b); break;
        case GM_REALLOC: wr_u8(&w, (uint8_t)(4 | (op->flags & 1) << 4)); wr_u8(&w, op->obj); wr_size(&w, op->a); break;
        case GM_REALLOCARRAY:
            wr_u8(&w, (uint8_t)(6 | (op->flags & 1) << 4)); wr_u8(&w, op->obj); wr_size(&w, op->a); wr_size(&w, op->b);
            break;
        case GM_POSIX_MEMALIGN: case GM_ALIGNED_ALLOC: case GM_MEMALIGN: case GM_VALLOC: case GM_PVALLOC:
            wr_u8(&w, (uint8_t)(7 | (op->kind - GM_POSIX_MEMALIGN) << 4));
            wr_size(&w, op->a);
            if (op->kind != GM_VALLOC && op->kind != GM_PVALLOC) wr_size(&w, op->b);
            break;
        case GM_FREE: case GM_FREE_SIZED: case GM_FREE_ALIGNED_SIZED:
            wr_u8(&w, (uint8_t)(9 | (op->kind - GM_FREE) << 4)); wr_u8(&w, op->obj); break;
        case GM_USABLE: wr_u8(&w, 12); wr_u8(&w, op->obj); break;
        case GM_WRITE: wr_u8(&w, (uint8_t)(13 | (op->flags & 1) << 4)); wr_u8(&w, op->obj); break;
        case GM_CHECK: wr_u8(&w, 14); break;
        case GM_DOUBLE_FREE: wr_u8(&w, 15); wr_u8(&w, op->obj); break;
        case GM_FREE_INTERIOR: wr_u8(&w, 15 | 1 << 4); wr_u8(&w, op->obj); wr_size(&w, op->a); break;
        case GM_FREE_FOREIGN: wr_u8(&w, (uint8_t)(15 | (2 + 4 * (op->a % 3)) << 4)); break;
        default: wr_u8(&w, 15 | 3 << 4); wr_u8(&w, op->obj); wr_size(&w, op->a); break;
        }
    }
    if (w.oom) { free(w.b); return -1; }
    *out = w.b;
    *len = w.n;
    return 0;
}

/* ---- text form ---------------------------------------------------------------------------- */
bool gm_is_text(const uint8_t *d, size_t n)
{
    if (n >= 3 && d[0] == 0xef && d[1] == 0xbb && d[2] == 0xbf) { d += 3; n -= 3; }
    return n >= 13 && memcmp(d, "galloc-malloc", 13) == 0;
}

static void fmt_num(char *b, size_t n, uint64_t v)
{
    if (v == UINT64_MAX) snprintf(b, n, "max");
    else if (v > 0xffffffffu) snprintf(b, n, "0x%llx", (unsigned long long)v);
    else snprintf(b, n, "%llu", (unsigned long long)v);
}

static void fmt_obj(char *b, size_t n, const gm_op *op)
{
    if ((op->kind == GM_REALLOC || op->kind == GM_REALLOCARRAY) && (op->flags & 1)) snprintf(b, n, "null");
    else if (op->obj < 128) snprintf(b, n, "%u", op->obj);
    else snprintf(b, n, "-%u", op->obj - 127u);
}

int gm_format_op(const gm_op *op, char *buf, size_t n)
{
    char a[32], b[32], o[16];
    fmt_num(a, sizeof a, op->a);
    fmt_num(b, sizeof b, op->b);
    fmt_obj(o, sizeof o, op);
    const char *k = gm_kind_name(op->kind);
    static const char *const FOREIGN[3] = { "stack", "static", "glibc" };
    switch (op->kind) {
    case GM_MALLOC: case GM_VALLOC: case GM_PVALLOC: return snprintf(buf, n, "%s %s", k, a);
    case GM_CALLOC: case GM_POSIX_MEMALIGN: case GM_ALIGNED_ALLOC: case GM_MEMALIGN:
        return snprintf(buf, n, "%s %s %s", k, a, b);
    case GM_REALLOC: case GM_REALLOC_FREED: case GM_FREE_INTERIOR: return snprintf(buf, n, "%s %s %s", k, o, a);
    case GM_REALLOCARRAY: return snprintf(buf, n, "%s %s %s %s", k, o, a, b);
    case GM_WRITE: return snprintf(buf, n, "%s %s%s", k, o, op->flags & 1 ? " slack" : "");
    case GM_CHECK: return snprintf(buf, n, "%s", k);
    case GM_FREE_FOREIGN: return snprintf(buf, n, "%s %s", k, FOREIGN[op->a % 3]);
    default: return snprintf(buf, n, "%s %s", k, o);
    }
}

int gm_format(const gm_seq *s, FILE *out)
{
    char line[160];
    fprintf(out, "galloc-malloc %d\n", GM_FORMAT_VERSION);
    for (size_t i = 0; i < s->n; i++) {
        gm_format_op(&s->ops[i], line, sizeof line);
        fprintf(out, "%s\n", line);
    }
    return ferror(out) ? -1 : 0;
}

typedef struct tok { const char *s; size_t n; unsigned col; } tok;

static bool tok_is(const tok *t, const char *w) { return strlen(w) == t->n && memcmp(t->s, w, t->n) == 0; }

static bool parse_num(const tok *t, uint64_t *v)
{
    char b[64];
    if (t->n == 0 || t->n >= sizeof b) return false;
    memcpy(b, t->s, t->n);
    b[t->n] = '\0';
    if (strcmp(b, "max") == 0) { *v = UINT64_MAX; return true; }
    return gh_parse_size(b, v);
}

static int perr(char *err, size_t en, unsigned line, unsigned col, const char *fmt, ...)
{
    char m[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    snprintf(err, en, "%u:%u: error: %s", line, col, m);
    return -1;
}

int gm_parse(const char *text, size_t len, gm_seq *out, char *err, size_t en)
{
    gm_seq_init(out);
    size_t i = 0;
    unsigned line = 0;
    if (len >= 3 && (unsigned char)text[0] == 0xef && (unsigned char)text[1] == 0xbb && (unsigned char)text[2] == 0xbf) i = 3;
    while (i < len) {
        size_t start = i;
        while (i < len && text[i] != '\n') i++;
        size_t end = i;
        if (i < len) i++;
        line++;
        if (end > start && text[end - 1] == '\r') end--;
        tok t[8];
        int nt = 0;
        for (size_t j = start; j < end;) {
            char c = text[j];
            if (c == '#') break;
            if (c == ' ' || c == '\t') { j++; continue; }
            if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7e) {
                gm_seq_free(out);
                return perr(err, en, line, (unsigned)(j - start + 1), "character 0x%02x outside a comment", (unsigned char)c);
            }
            size_t k = j;
            while (k < end && text[k] != ' ' && text[k] != '\t' && text[k] != '#') k++;
            if (nt == 8) { gm_seq_free(out); return perr(err, en, line, (unsigned)(j - start + 1), "too many words"); }
            t[nt].s = text + j; t[nt].n = k - j; t[nt].col = (unsigned)(j - start + 1);
            nt++;
            j = k;
        }
        if (line == 1) {
            if (nt != 2 || !tok_is(&t[0], "galloc-malloc") || !tok_is(&t[1], "1")) {
                gm_seq_free(out);
                return perr(err, en, 1, 1, "the first line must be 'galloc-malloc 1'");
            }
            continue;
        }
        if (nt == 0) continue;
        gm_op op;
        memset(&op, 0, sizeof op);
        op.line = line;
        int kind = -1;
        for (int k = 0; k < GM_NKINDS; k++) if (tok_is(&t[0], KIND_NAMES[k])) kind = k;
        if (kind < 0) { gm_seq_free(out); return perr(err, en, line, t[0].col, "unknown op '%.*s'", (int)t[0].n, t[0].s); }
        op.kind = (uint8_t)kind;
        /* operand shapes: O = object, N = number */
        const char *shape;
        switch (kind) {
        case GM_MALLOC: case GM_VALLOC: case GM_PVALLOC: shape = "N"; break;
        case GM_CALLOC: case GM_POSIX_MEMALIGN: case GM_ALIGNED_ALLOC: case GM_MEMALIGN: shape = "NN"; break;
        case GM_REALLOC: case GM_REALLOC_FREED: case GM_FREE_INTERIOR: shape = "ON"; break;
        case GM_REALLOCARRAY: shape = "ONN"; break;
        case GM_CHECK: shape = ""; break;
        case GM_FREE_FOREIGN: shape = "F"; break;
        case GM_WRITE: shape = "Os"; break;
        default: shape = "O"; break;
        }
        int ti = 1;
        uint64_t nums[2];
        int nn = 0;
        for (const char *sh = shape; *sh; sh++) {
            if (*sh == 's') {   /* optional word "slack" */
                if (ti < nt && tok_is(&t[ti], "slack")) { op.flags |= 1; ti++; }
                continue;
            }
            if (ti >= nt) { gm_seq_free(out); return perr(err, en, line, t[nt - 1].col + (unsigned)t[nt - 1].n, "%s wants more operands", KIND_NAMES[kind]); }
            const tok *w = &t[ti++];
            if (*sh == 'N') {
                if (!parse_num(w, &nums[nn])) { gm_seq_free(out); return perr(err, en, line, w->col, "bad number '%.*s'", (int)w->n, w->s); }
                nn++;
            } else if (*sh == 'F') {
                if (tok_is(w, "stack")) op.a = 0;
                else if (tok_is(w, "static")) op.a = 1;
                else if (tok_is(w, "glibc")) op.a = 2;
                else { gm_seq_free(out); return perr(err, en, line, w->col, "free-foreign wants stack, static or glibc"); }
            } else {
                if (tok_is(w, "null") && (kind == GM_REALLOC || kind == GM_REALLOCARRAY)) { op.flags |= 1; continue; }
                uint64_t v;
                bool neg = w->n > 1 && w->s[0] == '-';
                tok u = { w->s + neg, w->n - neg, w->col };
                if (!parse_num(&u, &v) || (neg ? (v < 1 || v > 128) : v > 127)) {
                    gm_seq_free(out);
                    return perr(err, en, line, w->col, "object must be 0..127 (oldest first) or -1..-128 (newest first)%s, got '%.*s'",
                                kind == GM_REALLOC || kind == GM_REALLOCARRAY ? " or null" : "", (int)w->n, w->s);
                }
                op.obj = (uint8_t)(neg ? 127 + v : v);
            }
        }
        if (ti < nt) { gm_seq_free(out); return perr(err, en, line, t[ti].col, "unexpected '%.*s'", (int)t[ti].n, t[ti].s); }
        if (nn > 0) op.a = nums[0];
        if (nn > 1) op.b = nums[1];
        if (gm_seq_push(out, &op) != 0) { gm_seq_free(out); return perr(err, en, line, 1, "out of memory"); }
    }
    if (line == 0) return perr(err, en, 1, 1, "empty input: the first line must be 'galloc-malloc 1'");
    return 0;
}

int gm_load(const uint8_t *data, size_t len, gm_seq *out, char *err, size_t en)
{
    if (gm_is_text(data, len)) return gm_parse((const char *)data, len, out, err, en);
    if (gm_decode(data, len, out) != 0) { snprintf(err, en, "out of memory decoding"); return -1; }
    return 0;
}

/* ---- generator ------------------------------------------------------------------------------ */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}
static uint64_t rng_below(uint64_t *s, uint64_t n) { return n ? rng_next(s) % n : 0; }

static uint64_t gen_size(uint64_t *r, bool small)
{
    switch (rng_below(r, small ? 4 : 8)) {
    case 0: return rng_below(r, 64);
    case 1: return EDGE[rng_below(r, 28)];
    case 2: { uint64_t c = ga_class_to_size[rng_below(r, GA_NUM_CLASSES)]; uint64_t d = rng_below(r, 3); return c + d ? c + d - 1 : 0; }
    case 3: return rng_below(r, 5000);
    case 4: { uint64_t k = rng_below(r, 20); return ((uint64_t)1 << k) + rng_below(r, 3) - 1; }
    case 5: return 32761 + rng_below(r, 200000);
    case 6: return EDGE[28 + rng_below(r, 4)];
    default: return UINT64_MAX - rng_below(r, 3);
    }
}

int gm_generate(uint64_t seed, size_t nops, gm_seq *out)
{
    uint64_t r = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    if (!r) r = 1;
    gm_seq_init(out);
    static const uint64_t ALIGNS[] = { 0, 1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256, 4096, 8192, 65536, 1 << 20,
                                       (uint64_t)1 << 21, 3, 12, 4097 };
    for (size_t i = 0; i < nops; i++) {
        gm_op op;
        memset(&op, 0, sizeof op);
        uint64_t w = rng_below(&r, 100);
        op.obj = (uint8_t)rng_next(&r);
        if (w < 22) { op.kind = GM_MALLOC; op.a = gen_size(&r, rng_below(&r, 4) != 0); }
        else if (w < 28) {
            op.kind = GM_CALLOC;
            if (rng_below(&r, 5) == 0) { op.a = (uint64_t)1 << (32 + rng_below(&r, 32)); op.b = (uint64_t)1 << (32 + rng_below(&r, 32)); }
            else { op.a = rng_below(&r, 40); op.b = gen_size(&r, true); if (rng_below(&r, 4) == 0) op.a = 1, op.b = 32761 + rng_below(&r, 100000); }
        }
        else if (w < 40) { op.kind = GM_REALLOC; op.flags = rng_below(&r, 8) == 0; op.a = gen_size(&r, rng_below(&r, 4) != 0); if (op.flags) op.obj = 0; }
        else if (w < 44) {
            op.kind = GM_REALLOCARRAY; op.flags = rng_below(&r, 8) == 0;
            if (op.flags) op.obj = 0;
            if (rng_below(&r, 3) == 0) { op.a = (uint64_t)1 << (33 + rng_below(&r, 31)); op.b = 2 + rng_below(&r, 1 << 20); }
            else { op.a = rng_below(&r, 30); op.b = gen_size(&r, true); }
        }
        else if (w < 56) {
            op.kind = (uint8_t)(GM_POSIX_MEMALIGN + rng_below(&r, 5));
            uint64_t al = ALIGNS[rng_below(&r, sizeof ALIGNS / sizeof ALIGNS[0])];
            uint64_t n = gen_size(&r, rng_below(&r, 3) != 0);
            if (op.kind == GM_VALLOC || op.kind == GM_PVALLOC) op.a = n;
            else { op.a = rng_below(&r, 20) == 0 ? UINT64_MAX - rng_below(&r, 2) : al; op.b = n; }
        }
        else if (w < 76) op.kind = (uint8_t)(rng_below(&r, 3) ? GM_FREE : GM_FREE + rng_below(&r, 3));
        else if (w < 81) op.kind = GM_USABLE;
        else if (w < 89) { op.kind = GM_WRITE; op.flags = rng_below(&r, 2); }
        else if (w < 92) op.kind = GM_CHECK;
        else {
            op.kind = (uint8_t)(GM_DOUBLE_FREE + rng_below(&r, 4));
            if (op.kind == GM_FREE_FOREIGN) op.a = rng_below(&r, 3);
            else if (op.kind == GM_FREE_INTERIOR) op.a = rng_below(&r, 1 << 16);
            else if (op.kind == GM_REALLOC_FREED) op.a = gen_size(&r, true);
        }
        /* canonical: operands an op does not have are 0 */
        switch (op.kind) {
        case GM_MALLOC: case GM_CALLOC: case GM_POSIX_MEMALIGN: case GM_ALIGNED_ALLOC: case GM_MEMALIGN:
        case GM_VALLOC: case GM_PVALLOC: case GM_CHECK: case GM_FREE_FOREIGN:
            op.obj = 0; break;
        default: break;
        }
        if (op.kind != GM_REALLOC && op.kind != GM_REALLOCARRAY && op.kind != GM_WRITE) op.flags = 0;
        if (gm_seq_push(out, &op) != 0) { gm_seq_free(out); return -1; }
    }
    return 0;
}

/* =========================================================================================
 * Executor
 * ========================================================================================= */
typedef struct mobj {
    unsigned char *g, *r;   /* galloc object, glibc twin */
    size_t req;             /* requested bytes (what free_sized gets) */
    size_t align;           /* aligned_alloc's alignment (free_aligned_sized), 0 otherwise */
    size_t min_usable;      /* what usable size must reach (pvalloc: the page-rounded request) */
    size_t usable, rusable; /* first observed malloc_usable_size (each side) */
    uint32_t id;
    uint8_t gen;
    uint8_t kind;           /* gm_kind that made it */
} mobj;

typedef struct run {
    const gm_options *o;
    gm_finding *f;
    gm_stats *st;
    mobj live[GM_MAX_LIVE];
    size_t nlive;
    size_t gbytes, rbytes;   /* live bytes per side (requests) */
    uint32_t next_id;
    size_t step;
    const gm_op *op;
    size_t page;
    /* misuse hook record */
    int nrep;
    int rep_status;
    char rep_line[256];
} run;

static run *cur_run;   /* the run the misuse hook reports into */

static void on_report(int status, const void *p, const char *op, const char *line)
{
    (void)p;
    (void)op;
    if (!cur_run) return;
    cur_run->nrep++;
    cur_run->rep_status = status;
    snprintf(cur_run->rep_line, sizeof cur_run->rep_line, "%s", line);
    if (cur_run->st) cur_run->st->misuse_reports++;
}

static bool legit(run *R, int row)
{
    if (R->st && row < 32) R->st->legit_used[row]++;
    return true;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static bool finding(run *R, unsigned check, const char *fmt, ...)
{
    if (R->f->found) return false;
    R->f->found = true;
    R->f->check = check;
    R->f->step = R->step;
    R->f->op = *R->op;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(R->f->message, sizeof R->f->message, fmt, ap);
    va_end(ap);
    return false;
}

/* Contents: 8-byte words (word k of object id, generation gen) = mix(id, gen, k); byte i is
 * byte i % 8 of word i / 8. Fast to write, different at every offset and generation. */
static uint64_t pat_word(const mobj *o, size_t k)
{
    uint64_t x = ((uint64_t)o->id << 40 ^ (uint64_t)o->gen << 32 ^ k) * 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 29) ^ 0x0101010101010101ull;
}

static void pat_fill(const mobj *o, unsigned char *b, size_t from, size_t to)
{
    size_t i = from;
    for (; i < to && i % 8; i++) b[i] = (unsigned char)(pat_word(o, i / 8) >> (8 * (i % 8)));
    for (; i + 8 <= to; i += 8) { uint64_t w = pat_word(o, i / 8); memcpy(b + i, &w, 8); }
    for (; i < to; i++) b[i] = (unsigned char)(pat_word(o, i / 8) >> (8 * (i % 8)));
}

static void fill(mobj *o, size_t from, size_t to, bool slack)
{
    if (to > from) {
        pat_fill(o, o->g, from, to);
        memcpy(o->r + from, o->g + from, to - from);
    }
    if (slack) {
        pat_fill(o, o->g, to, o->usable);
        pat_fill(o, o->r, to, o->rusable);
    }
}

static bool compare(run *R, const mobj *o, size_t n, const char *when)
{
    if (n && memcmp(o->g, o->r, n) != 0) {
        size_t i = 0;
        while (o->g[i] == o->r[i]) i++;
        return finding(R, GM_CHK_CONTENT, "%s: object #%u (%s, %zu bytes): byte %zu is 0x%02x, its glibc twin has 0x%02x "
                       "(%zu bytes compared)", when, o->id, gm_kind_name(o->kind), o->req, i, o->g[i], o->r[i], n);
    }
    return true;
}

static bool no_report(run *R, const char *what)
{
    if (R->nrep)
        return finding(R, GM_CHK_MISUSE, "%s: a legitimate call was reported as misuse: '%s'", what, R->rep_line);
    return true;
}

static int pick(const run *R, uint8_t v)
{
    if (!R->nlive) return -1;
    if (v < 128) return (int)(v % R->nlive);
    return (int)(R->nlive - 1 - (size_t)(v - 128) % R->nlive);
}

static void drop(run *R, int k)
{
    R->gbytes -= R->live[k].req;
    R->rbytes -= R->live[k].req;
    memmove(&R->live[k], &R->live[k + 1], (R->nlive - (size_t)k - 1) * sizeof R->live[0]);
    R->nlive--;
}

static size_t malloc_promise(size_t n) { return n < 16 ? 8 : 16; }
static bool pow2(uint64_t x) { return x && !(x & (x - 1)); }
static uint64_t next_pow2(uint64_t x) { uint64_t a = 1; while (a < x && a < ((uint64_t)1 << 63)) a <<= 1; return a; }

/* Is this request executed? 0 both sides, 1 galloc alone (glibc's outcome not defined or
 * not affordable), -1 skipped. *must_fail: errno galloc must fail with (0: none known). */
enum { EX_BOTH = 0, EX_GALLOC = 1, EX_SKIP = -1 };

/* The size class of a request for executing it: overflow, > PTRDIFF_MAX (both fail), above
 * the cap bound (galloc alone fails), over budget (skip), fine. */
static int size_plan(run *R, bool overflow, uint64_t n, size_t freed, int *must_fail)
{
    *must_fail = 0;
    if (overflow || n > PTRDIFF_MAXU) { *must_fail = ENOMEM; return EX_BOTH; }
    if (n >= (uint64_t)1 << 47) { *must_fail = ENOMEM; legit(R, LD_ABOVE_CAP); return EX_GALLOC; }
    if (R->gbytes - freed + n + R->page > R->o->budget) { legit(R, LD_BUDGET); return EX_SKIP; }
    return EX_BOTH;
}

/* The glibc 2.36 outcome of a request that fails, when the build cannot call glibc for it. */
static bool ref_skip_call(run *R, int must_fail)
{
    if (GM_SANITIZED && must_fail) { legit(R, LD_SANITIZER_MODEL); return true; }
    return false;
}

typedef struct side { void *p; int err; } side;

/* Index of the first non-zero byte of b[0, n), n if none (64 bytes at a time). */
static size_t first_nonzero(const unsigned char *b, size_t n)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        uint64_t w[8], acc = 0;
        memcpy(w, b + i, 64);
        for (int k = 0; k < 8; k++) acc |= w[k];
        if (acc) break;
    }
    for (; i < n; i++) if (b[i]) return i;
    return n;
}

/* After an allocation both sides may have made: compare, check promises, adopt. */
static void adopt(run *R, const gm_op *op, side g, side r, bool ref_called, int must_fail, size_t req, size_t align_promise,
                  size_t min_usable, bool zero, size_t align_arg)
{
    const char *k = gm_kind_name(op->kind);
    if (!no_report(R, k)) goto undo;
    if (must_fail) {
        if (g.p) { finding(R, GM_CHK_RESULT, "%s: galloc succeeded (%p) where glibc fails with %s", k, g.p, strerror(must_fail)); goto undo; }
        if (g.err != must_fail) { finding(R, GM_CHK_ERRNO, "%s failed with errno %d (%s), glibc with %d (%s)", k, g.err, strerror(g.err), must_fail, strerror(must_fail)); goto undo; }
        if (ref_called && r.p) { free(r.p); r.p = NULL; }
        return;
    }
    if (ref_called && !g.p != !r.p) {
        finding(R, GM_CHK_RESULT, "%s: galloc %s, glibc %s", k, g.p ? "succeeded" : "failed", r.p ? "succeeded" : "failed");
        goto undo;
    }
    if (!g.p) {
        if (R->o->trace) fprintf(R->o->trace, "       -> failed on both sides: errno %d, glibc %d\n", g.err, r.err);
        if (ref_called && g.err != r.err) { finding(R, GM_CHK_ERRNO, "%s failed with errno %d on galloc, %d on glibc", k, g.err, r.err); goto undo; }
        return;
    }
    legit(R, LD_ERRNO_SUCCESS);
    if (align_promise < 16) legit(R, LD_SMALL_ALIGN);
    if ((uintptr_t)g.p % align_promise) {
        finding(R, GM_CHK_ALIGN, "%s returned %p: not aligned to %zu", k, g.p, align_promise);
        goto undo;
    }
    legit(R, LD_USABLE_SLACK);
    size_t u = gm_malloc_usable_size(g.p);
    if (u < min_usable) { finding(R, GM_CHK_USABLE, "%s: usable size %zu below the %zu bytes promised (request %zu)", k, u, min_usable, req); goto undo; }
    if (zero) {
        const unsigned char *b = g.p;
        size_t i = first_nonzero(b, req);
        if (i < req) { finding(R, GM_CHK_ZERO, "%s(%zu bytes) = %p: byte %zu is 0x%02x, not 0", k, req, g.p, i, b[i]); goto undo; }
    }
    if (R->nlive == GM_MAX_LIVE) goto undo;   /* cannot track it: give both back */
    mobj *o = &R->live[R->nlive++];
    memset(o, 0, sizeof *o);
    o->g = g.p; o->r = r.p; o->req = req; o->align = align_arg; o->min_usable = min_usable;
    o->usable = u; o->rusable = malloc_usable_size(r.p); o->id = ++R->next_id; o->kind = op->kind;
    R->gbytes += req;
    R->rbytes += req;
    if (!zero) fill(o, 0, req, false);
    if (R->o->trace) fprintf(R->o->trace, "       -> #%u galloc %p (usable %zu), glibc %p (usable %zu)\n", o->id, g.p, u, r.p, o->rusable);
    return;
undo:
    if (g.p) gm_free(g.p);
    if (ref_called && r.p) free(r.p);
}

static void do_alloc(run *R, const gm_op *op)
{
    int must_fail = 0;
    uint64_t n = op->a;
    bool overflow = false;
    size_t align = 0, promise, min_u;
    bool zero = false;
    side g = { NULL, 0 }, r = { NULL, 0 };
    int plan;
    switch (op->kind) {
    case GM_CALLOC:
        overflow = __builtin_mul_overflow(op->a, op->b, &n);
        zero = true;
        break;
    case GM_POSIX_MEMALIGN: case GM_ALIGNED_ALLOC: case GM_MEMALIGN:
        align = op->a; n = op->b; break;
    case GM_VALLOC: case GM_PVALLOC: align = R->page; break;
    default: break;
    }
    plan = size_plan(R, overflow, n, 0, &must_fail);
    /* alignment rules */
    bool call_ref = true;
    size_t ref_align = align;
    switch (op->kind) {
    case GM_POSIX_MEMALIGN:
        if (!pow2(align) || align % sizeof(void *)) { must_fail = EINVAL; plan = EX_BOTH; }
        break;
    case GM_ALIGNED_ALLOC:
        if (!pow2(align)) { legit(R, LD_ALIGNED_ALLOC_NONPOW2); must_fail = EINVAL; plan = EX_GALLOC; call_ref = false; }
        break;
    case GM_MEMALIGN:
        if (align > SIZE_MAX / 2 + 1) { must_fail = EINVAL; plan = EX_BOTH; }
        else if (!pow2(align)) {
            ref_align = align <= 16 ? 16 : next_pow2(align);
            if (GM_SANITIZED) legit(R, LD_SANITIZER_MODEL);
        }
        break;
    default: break;
    }
    if (!must_fail && ref_align > ((size_t)1 << 20)) { legit(R, LD_BIG_ALIGN); plan = EX_SKIP; }
    if (op->kind == GM_PVALLOC && n > SIZE_MAX - R->page) { must_fail = ENOMEM; plan = EX_BOTH; }
    if (plan == EX_SKIP) { if (R->st) R->st->ops_skipped++; return; }
    if (plan == EX_GALLOC) call_ref = false;
    if (call_ref && ref_skip_call(R, must_fail)) call_ref = false;

    /* galloc */
    void *sentinel = (void *)&R->page;
    errno = 0;
    R->nrep = 0;
    switch (op->kind) {
    case GM_MALLOC: g.p = gm_malloc(n); break;
    case GM_CALLOC: g.p = gm_calloc(op->a, op->b); break;
    case GM_POSIX_MEMALIGN: {
        void *p = sentinel;
        int rc = gm_posix_memalign(&p, align, n);
        legit(R, LD_POSIX_MEMALIGN_ERRNO);
        if (rc) {
            if (p != sentinel) { finding(R, GM_CHK_RESULT, "posix_memalign failed (%d) but changed *memptr to %p", rc, p); return; }
            p = NULL;
        }
        g.p = p;
        errno = rc;
        break;
    }
    case GM_ALIGNED_ALLOC: g.p = gm_aligned_alloc(align, n); break;
    case GM_MEMALIGN: g.p = gm_memalign(align, n); break;
    case GM_VALLOC: g.p = gm_valloc(n); break;
    default: g.p = gm_pvalloc(n); break;
    }
    g.err = errno;
    if (R->st) R->st->calls++;
    /* glibc */
    if (call_ref) {
        errno = 0;
        switch (op->kind) {
        case GM_MALLOC: r.p = malloc(n); break;
        case GM_CALLOC: r.p = calloc(op->a, op->b); break;
        case GM_POSIX_MEMALIGN: {
            void *p = sentinel;
            int rc = posix_memalign(&p, align, n);
            r.p = rc ? NULL : p;
            errno = rc;
            break;
        }
        case GM_ALIGNED_ALLOC:
            /* glibc 2.36's aligned_alloc is memalign; sanitizers reject n % align != 0 */
            if (GM_SANITIZED && n % align) { legit(R, LD_SANITIZER_MODEL); r.p = memalign(align, n); }
            else r.p = aligned_alloc(align, n);
            break;
        case GM_MEMALIGN: r.p = memalign(GM_SANITIZED ? ref_align : align, n); break;
        case GM_VALLOC: r.p = valloc(n); break;
        default: r.p = pvalloc(n); break;
        }
        r.err = errno;
    }
    /* promises */
    switch (op->kind) {
    case GM_MALLOC: case GM_CALLOC: promise = malloc_promise(n); min_u = n; break;
    case GM_POSIX_MEMALIGN: case GM_ALIGNED_ALLOC:
        promise = align > malloc_promise(n) ? align : malloc_promise(n); min_u = n; break;
    case GM_MEMALIGN:
        promise = align <= 16 ? malloc_promise(n > align ? n : align) : next_pow2(align); min_u = n; break;
    case GM_VALLOC: promise = R->page; min_u = n; break;
    default: promise = R->page; min_u = n ? (n + R->page - 1) & ~(R->page - 1) : R->page; break;
    }
    adopt(R, op, g, r, call_ref, must_fail, (size_t)n, promise, min_u, zero, op->kind == GM_ALIGNED_ALLOC ? align : 0);
}

static void do_realloc(run *R, const gm_op *op)
{
    bool fromnull = op->flags & 1;
    int k = fromnull ? -1 : pick(R, op->obj);
    if (!fromnull && k < 0) { if (R->st) R->st->ops_skipped++; return; }
    uint64_t n = op->a;
    bool overflow = false;
    if (op->kind == GM_REALLOCARRAY) overflow = __builtin_mul_overflow(op->a, op->b, &n);
    mobj *o = k >= 0 ? &R->live[k] : NULL;
    int must_fail = 0;
    int plan = size_plan(R, overflow, n, o ? o->req : 0, &must_fail);
    if (plan == EX_SKIP) { if (R->st) R->st->ops_skipped++; return; }
    bool call_ref = plan == EX_BOTH && !ref_skip_call(R, must_fail);
    const char *kn = gm_kind_name(op->kind);
    char args[96];   /* the call's arguments, for messages */
    if (op->kind == GM_REALLOC) snprintf(args, sizeof args, "#%u, %llu", o ? o->id : 0u, (unsigned long long)n);
    else snprintf(args, sizeof args, "#%u, %llu, %llu%s", o ? o->id : 0u, (unsigned long long)op->a, (unsigned long long)op->b,
                  overflow ? ": nmemb * size overflows" : "");
    side g = { NULL, 0 }, r = { NULL, 0 };
    errno = 0;
    R->nrep = 0;
    g.p = op->kind == GM_REALLOC ? gm_realloc(o ? o->g : NULL, n) : gm_reallocarray(o ? o->g : NULL, op->a, op->b);
    g.err = errno;
    if (R->st) R->st->calls++;
    if (call_ref) {
        errno = 0;
        r.p = op->kind == GM_REALLOC ? realloc(o ? o->r : NULL, n) : reallocarray(o ? o->r : NULL, op->a, op->b);
        r.err = errno;
    }
    if (!no_report(R, kn)) return;
    if (!o) {   /* = malloc(n) */
        adopt(R, op, g, r, call_ref, must_fail, (size_t)n, malloc_promise(n), n, false, 0);
        return;
    }
    legit(R, LD_REALLOC_ADDRESS);
    if (n == 0 && !overflow) {
        /* both: p freed, NULL returned (glibc REALLOC_ZERO_BYTES_FREES; libgalloc the same) */
        if (g.p || (call_ref && r.p)) {
            finding(R, GM_CHK_RESULT, "%s(p, 0): galloc returned %p, glibc %p (both must free p and return NULL)", kn, g.p, r.p);
            return;
        }
        drop(R, k);
        return;
    }
    if (must_fail || (call_ref && !r.p) || !g.p) {
        int want = must_fail ? must_fail : r.err;
        if (g.p) { finding(R, GM_CHK_RESULT, "%s(%s): galloc succeeded where glibc fails with %s", kn, args, strerror(want)); return; }
        if (call_ref && r.p) { finding(R, GM_CHK_RESULT, "%s(%s): galloc failed (errno %d), glibc succeeded", kn, args, g.err); o->r = r.p; return; }
        if ((must_fail || call_ref) && g.err != want) { finding(R, GM_CHK_ERRNO, "%s(%s) failed with errno %d, glibc with %d", kn, args, g.err, want); return; }
        compare(R, o, o->req, "after a failed realloc (the old block must be intact)");
        return;
    }
    /* both succeeded */
    size_t old = o->req;
    o->g = g.p;
    o->r = r.p;
    R->gbytes = R->gbytes - old + n;
    R->rbytes = R->rbytes - old + n;
    o->req = (size_t)n;
    o->align = 0;
    o->kind = op->kind;
    o->min_usable = (size_t)n;
    if ((uintptr_t)g.p % malloc_promise(n)) { finding(R, GM_CHK_ALIGN, "%s returned %p: not aligned to %zu", kn, g.p, malloc_promise(n)); return; }
    size_t u = gm_malloc_usable_size(g.p);
    if (u < n) { finding(R, GM_CHK_USABLE, "%s(%s): usable size %zu below the request", kn, args, u); return; }
    o->usable = u;
    o->rusable = malloc_usable_size(r.p);
    if (R->o->trace) fprintf(R->o->trace, "       -> #%u galloc %p (usable %zu), glibc %p (usable %zu)\n", o->id, g.p, u, r.p, o->rusable);
    size_t keep = old < n ? old : (size_t)n;
    if (!compare(R, o, keep, old < n ? "realloc grew the block" : "realloc shrank the block")) return;
    fill(o, keep, (size_t)n, false);
}

static void do_free(run *R, const gm_op *op)
{
    int k = pick(R, op->obj);
    R->nrep = 0;
    if (k < 0) {   /* free(NULL): a no-op on both sides, errno kept */
        errno = EILSEQ;
        gm_free(NULL);
        int e = errno;
        if (!no_report(R, "free(NULL)")) return;
        if (e != EILSEQ) finding(R, GM_CHK_ERRNO, "free(NULL) changed errno from EILSEQ to %d", e);
        return;
    }
    mobj *o = &R->live[k];
    if (!compare(R, o, o->req, "before free")) return;
    errno = EILSEQ;
    const char *what = "free";
    if (op->kind == GM_FREE_SIZED) { legit(R, LD_FREE_SIZED); gm_free_sized(o->g, o->req); what = "free_sized"; }
    else if (op->kind == GM_FREE_ALIGNED_SIZED && o->align) { legit(R, LD_FREE_SIZED); gm_free_aligned_sized(o->g, o->align, o->req); what = "free_aligned_sized"; }
    else gm_free(o->g);
    int e = errno;
    if (R->st) R->st->calls++;
    if (!no_report(R, what)) return;
    errno = EILSEQ;
    free(o->r);
    int re = errno;
    if (e != EILSEQ && re == EILSEQ) { finding(R, GM_CHK_ERRNO, "%s changed errno from EILSEQ to %d (glibc's free keeps it)", what, e); return; }
    drop(R, k);
}

static void do_usable(run *R, const gm_op *op)
{
    int k = pick(R, op->obj);
    legit(R, LD_USABLE_SLACK);
    if (k < 0) {
        size_t u = gm_malloc_usable_size(NULL), ru = malloc_usable_size(NULL);
        if (u != ru) finding(R, GM_CHK_USABLE, "malloc_usable_size(NULL) = %zu, glibc %zu", u, ru);
        return;
    }
    mobj *o = &R->live[k];
    size_t u = gm_malloc_usable_size(o->g);
    if (u < o->min_usable) { finding(R, GM_CHK_USABLE, "object #%u (%s, %zu bytes): usable size %zu below %zu", o->id, gm_kind_name(o->kind), o->req, u, o->min_usable); return; }
    if (u != o->usable) finding(R, GM_CHK_USABLE, "object #%u (%s, %zu bytes): usable size %zu, earlier %zu (must be stable)", o->id, gm_kind_name(o->kind), o->req, u, o->usable);
}

static void expect_report(run *R, const char *what, int status, const void *p)
{
    legit(R, LD_MISUSE);
    if (R->nrep == 0) { finding(R, GM_CHK_MISUSE, "%s of %p was not reported (silent misuse)", what, p); return; }
    if (R->nrep > 1) { finding(R, GM_CHK_MISUSE, "%s of %p was reported %d times (last: '%s')", what, p, R->nrep, R->rep_line); return; }
    if (R->rep_status != status)
        finding(R, GM_CHK_MISUSE, "%s of %p reported as status %d, want %d: '%s'", what, p, R->rep_status, status, R->rep_line);
}

static char static_block[64];

static void do_misuse(run *R, const gm_op *op)
{
    int k = op->kind == GM_FREE_FOREIGN ? 0 : pick(R, op->obj);
    if (k < 0) { if (R->st) R->st->ops_skipped++; return; }
    mobj *o = op->kind == GM_FREE_FOREIGN ? NULL : &R->live[k];
    R->nrep = 0;
    switch (op->kind) {
    case GM_DOUBLE_FREE: {
        void *p = o->g;
        gm_free(p);
        free(o->r);
        drop(R, k);
        if (!no_report(R, "the first free of a double free")) return;
        gm_free(p);
        expect_report(R, "double free", GA_ERR_DOUBLE_FREE, p);
        break;
    }
    case GM_REALLOC_FREED: {
        void *p = o->g;
        gm_free(p);
        free(o->r);
        drop(R, k);
        if (!no_report(R, "free before realloc")) return;
        void *q = gm_realloc(p, (size_t)op->a);
        if (q) {
            gm_free(q);
            if (R->nrep == 0) { finding(R, GM_CHK_MISUSE, "realloc of the freed block %p returned %p, nothing reported (silent misuse)", p, q); return; }
        }
        expect_report(R, "realloc of a freed block", GA_ERR_DOUBLE_FREE, p);
        break;
    }
    case GM_FREE_INTERIOR: {
        size_t u = o->usable;
        if (u < 2) { if (R->st) R->st->ops_skipped++; return; }
        unsigned char *p = o->g + 1 + op->a % (u - 1);
        gm_free(p);
        expect_report(R, "free of an interior pointer", GA_ERR_INTERIOR, p);
        if (!R->f->found) compare(R, o, o->req, "after a rejected interior free");
        break;
    }
    default: {
        char stack_block[64];
        void *p;
        void *gb = NULL;
        if (op->a % 3 == 0) p = stack_block;
        else if (op->a % 3 == 1) p = static_block;
        else p = gb = malloc(48);
        if (!p) return;
        gm_free(p);
        expect_report(R, op->a % 3 == 0 ? "free of a stack pointer" : op->a % 3 == 1 ? "free of a static pointer" : "free of a glibc block",
                      GA_ERR_NOT_OWNED, p);
        free(gb);
        break;
    }
    }
}

static void do_check_all(run *R, const char *when)
{
    for (size_t i = 0; i < R->nlive && !R->f->found; i++) compare(R, &R->live[i], R->live[i].req, when);
}

void gm_options_default(gm_options *o)
{
    memset(o, 0, sizeof *o);
    o->budget = (size_t)32 << 20;
}

int gm_execute(const gm_seq *s, const gm_options *o, gm_finding *f, gm_stats *st)
{
    run *R = calloc(1, sizeof *R);
    if (!R) { snprintf(f->message, sizeof f->message, "out of memory"); f->found = false; return -1; }
    memset(f, 0, sizeof *f);
    if (st) memset(st, 0, sizeof *st);
    R->o = o;
    R->f = f;
    R->st = st;
    long ps = sysconf(_SC_PAGESIZE);
    R->page = ps > 0 ? (size_t)ps : 4096;
    gm_reset();   /* a fresh heap at the same base: every run starts from the same state */
    cur_run = R;
    gm_misuse_hook = on_report;
    gm_plant = o->plant;
    char line[160];
    for (size_t i = 0; i < s->n && !f->found; i++) {
        const gm_op *op = &s->ops[i];
        R->step = i;
        R->op = op;
        if (o->trace) { gm_format_op(op, line, sizeof line); fprintf(o->trace, "%5zu  %s\n", i, line); }
        if (st) st->ops_run++;
        switch (op->kind) {
        case GM_MALLOC: case GM_CALLOC: case GM_POSIX_MEMALIGN: case GM_ALIGNED_ALLOC: case GM_MEMALIGN:
        case GM_VALLOC: case GM_PVALLOC:
            do_alloc(R, op); break;
        case GM_REALLOC: case GM_REALLOCARRAY: do_realloc(R, op); break;
        case GM_FREE: case GM_FREE_SIZED: case GM_FREE_ALIGNED_SIZED: do_free(R, op); break;
        case GM_USABLE: do_usable(R, op); break;
        case GM_WRITE: {
            int k = pick(R, op->obj);
            if (k < 0) { if (st) st->ops_skipped++; break; }
            mobj *m = &R->live[k];
            if (!compare(R, m, m->req, "before write")) break;
            m->gen++;
            fill(m, 0, m->req, op->flags & 1);
            break;
        }
        case GM_CHECK: do_check_all(R, "check"); break;
        default: do_misuse(R, op); break;
        }
    }
    if (!f->found) {
        R->step = s->n;
        gm_op end;
        memset(&end, 0, sizeof end);
        end.kind = GM_CHECK;
        R->op = &end;
        do_check_all(R, "at the end");
    }
    /* give everything back, finding or not (the glibc twins would leak; galloc's frees are exercised) */
    for (size_t i = 0; i < R->nlive; i++) {
        gm_free(R->live[i].g);
        free(R->live[i].r);
    }
    gm_plant = 0;
    cur_run = NULL;
    int rc = f->found ? 1 : 0;
    free(R);
    return rc;
}
