/*
 * ops.c — the op model and its two encodings (binary v1, text v1), plus a generator.
 *
 * Owns: the kind table, the binary decoder/encoder, the text parser/formatter. The
 * binary format is specified in harness/FORMAT.md; the v1 tables below (opcode table,
 * edge sizes, class sizes) are FROZEN: changing any of them changes what existing
 * corpora mean. A new format gets a new version number in the header and a new decoder
 * next to this one.
 * Invariants: every byte string decodes; decode(encode(s)) == s; parse(format(s)) == s.
 * Calls: libc only.
 */
#include "harness.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- sequences ------------------------------------------------------------------- */
void gh_seq_init(gh_seq *s) { s->ops = NULL; s->n = s->cap = 0; }
void gh_seq_free(gh_seq *s) { free(s->ops); gh_seq_init(s); }

int gh_seq_push(gh_seq *s, const gh_op *op)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        gh_op *no = realloc(s->ops, nc * sizeof *no);
        if (!no) return -1;
        s->ops = no;
        s->cap = nc;
    }
    s->ops[s->n++] = *op;
    return 0;
}

int gh_seq_copy(gh_seq *dst, const gh_seq *src)
{
    gh_seq_init(dst);
    if (!src->n) return 0;
    dst->ops = malloc(src->n * sizeof *dst->ops);
    if (!dst->ops) return -1;
    memcpy(dst->ops, src->ops, src->n * sizeof *dst->ops);
    dst->n = dst->cap = src->n;
    return 0;
}

bool gh_op_equal(const gh_op *x, const gh_op *y)
{
    return x->kind == y->kind && x->flags == y->flags && x->obj == y->obj &&
           x->a == y->a && x->b == y->b && x->c == y->c;
}

static const char *const kind_names[GH_NKINDS] = {
    [GH_MALLOC] = "malloc", [GH_CALLOC] = "calloc", [GH_REALLOC] = "realloc",
    [GH_ALIGNED] = "aligned", [GH_FREE] = "free", [GH_USABLE] = "usable",
    [GH_WRITE] = "write", [GH_CHECK] = "check", [GH_CACHE] = "cache",
    [GH_RELEASE] = "release", [GH_DESTROY] = "destroy-cache", [GH_GC] = "gc",
    [GH_SCAVENGE] = "scavenge", [GH_FAIL_OS] = "fail-os", [GH_VERIFY] = "verify",
    [GH_DOUBLE_FREE] = "double-free", [GH_FREE_FOREIGN] = "free-foreign",
    [GH_FREE_INTERIOR] = "free-interior", [GH_GC_BEGIN] = "gc-begin", [GH_GC_MARK] = "gc-mark",
    [GH_GC_END] = "gc-end", [GH_SWEEP] = "sweep",
};
const char *gh_kind_name(unsigned kind) { return kind < GH_NKINDS ? kind_names[kind] : "?"; }

static const char *const api_names[4] = { "posix", "c11", "memalign", "native" };
static const char *const foreign_names[4] = { "stack", "static", "libc", "null" };
static const char *const osf_names[GH_OSF_N] = { "next", "reserve", "map", "used", "unused",
                                                 "release", "meta" };

/* ---- binary v1: frozen tables ------------------------------------------------------ */
/* Opcode byte: kind = OPTAB[byte & 31], modifier = byte >> 5. Weighted so that random
 * bytes give a useful mix. The encoder uses the first entry of each kind. */
static const uint8_t OPTAB_V1[32] = {
    GH_MALLOC, GH_MALLOC, GH_MALLOC, GH_MALLOC, GH_MALLOC, GH_MALLOC,      /*  0.. 5 */
    GH_FREE, GH_FREE, GH_FREE, GH_FREE, GH_FREE,                           /*  6..10 */
    GH_REALLOC, GH_REALLOC, GH_CALLOC, GH_ALIGNED, GH_ALIGNED,             /* 11..15 */
    GH_USABLE, GH_WRITE, GH_CHECK, GH_CACHE, GH_CACHE,                     /* 16..20 */
    GH_RELEASE, GH_DESTROY, GH_GC, GH_SCAVENGE, GH_FAIL_OS,                /* 21..25 */
    GH_VERIFY, GH_DOUBLE_FREE, GH_FREE_FOREIGN, GH_FREE_INTERIOR,          /* 26..29 */
    GH_MALLOC, GH_FREE,                                                    /* 30..31 */
};

/* v2 = v1 with its last two opcodes (a malloc and a free spelling) given to the GC step
 * ops: 30 = gc-mark (m bit0: interior, then a SIZE offset), 31 = a cycle step chosen by m
 * (0..2 gc-begin, 3..5 gc-end, 6..7 sweep with a u8 count). Frozen like v1. */
static const uint8_t OPTAB_V2[32] = {
    GH_MALLOC, GH_MALLOC, GH_MALLOC, GH_MALLOC, GH_MALLOC, GH_MALLOC,      /*  0.. 5 */
    GH_FREE, GH_FREE, GH_FREE, GH_FREE, GH_FREE,                           /*  6..10 */
    GH_REALLOC, GH_REALLOC, GH_CALLOC, GH_ALIGNED, GH_ALIGNED,             /* 11..15 */
    GH_USABLE, GH_WRITE, GH_CHECK, GH_CACHE, GH_CACHE,                     /* 16..20 */
    GH_RELEASE, GH_DESTROY, GH_GC, GH_SCAVENGE, GH_FAIL_OS,                /* 21..25 */
    GH_VERIFY, GH_DOUBLE_FREE, GH_FREE_FOREIGN, GH_FREE_INTERIOR,          /* 26..29 */
    GH_GC_MARK, GH_GC_BEGIN,                                               /* 30..31 */
};
#define V2_STEP_OPCODE 31
#define V2_END_MOD 3
#define V2_SWEEP_MOD 6

/* Size operand mode 4: interesting sizes (class edges, cutoffs, budget edges, absurd). */
static const uint64_t EDGE_V1[32] = {
    0, 1, 7, 8, 9, 15, 16, 17, 24, 25, 511, 512, 513, 1016, 1017, 1024,
    1025, 4096, 8192, 32760, 32761, 32768, 32769, 65536,
    (uint64_t)1 << 20, ((uint64_t)1 << 20) + 1, (uint64_t)64 << 20, ((uint64_t)64 << 20) + 1,
    (uint64_t)1 << 30, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX + 1, UINT64_MAX,
};

/* Size operand mode 5: Go's size classes (class 0 = 0), frozen copy of spec §1.5. */
static const uint32_t CLASS_V1[68] = {
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
    288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280,
    1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528,
    6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072,
    20480, 21760, 24576, 27264, 28672, 32768,
};

typedef struct rd { const uint8_t *p; size_t n, i, past; } rd;
static uint8_t rd8(rd *r)   /* past the end: 0 (counted, so tools can say the input is cut) */
{
    if (r->i < r->n) return r->p[r->i++];
    r->past++;
    return 0;
}
static uint16_t rd16(rd *r) { uint16_t lo = rd8(r); return (uint16_t)(lo | (uint16_t)rd8(r) << 8); }

static uint64_t rd_size(rd *r)
{
    uint8_t tag = rd8(r);
    unsigned mode = tag >> 5, low = tag & 31;
    uint64_t v;
    switch (mode) {
    case 0: return low;
    case 1: return (uint64_t)low << 8 | rd8(r);
    case 2: v = (uint64_t)low << 16; v |= (uint64_t)rd8(r) << 8; return v | rd8(r);
    case 3: v = (uint64_t)low << 24; v |= (uint64_t)rd8(r) << 16; v |= (uint64_t)rd8(r) << 8;
            return v | rd8(r);
    case 4: return EDGE_V1[low];
    case 5: {
        uint64_t cs = CLASS_V1[rd8(r) % 68];
        int d = (int)low - 16;
        if (d < 0 && cs < (uint64_t)-d) return 0;
        return cs + (uint64_t)(int64_t)d;
    }
    case 6: {
        uint64_t p2 = (uint64_t)1 << low;
        int d = (int8_t)rd8(r);
        if (d < 0 && p2 < (uint64_t)-d) return 0;
        return p2 + (uint64_t)(int64_t)d;
    }
    default:
        v = 0;
        for (int k = 0; k < 8; k++) v |= (uint64_t)rd8(r) << (8 * k);
        return v;
    }
}

static const uint8_t HDR[4] = { 'G', 'A', 'O', 'P' };

int gh_decode(const uint8_t *data, size_t len, gh_seq *out, unsigned *version_out)
{
    return gh_decode_ex(data, len, out, version_out, NULL);
}

int gh_decode_ex(const uint8_t *data, size_t len, gh_seq *out, unsigned *version_out, size_t *missing_out)
{
    rd r = { data, len, 0, 0 };
    unsigned version = 1;
    gh_seq_init(out);
    if (len >= 5 && memcmp(data, HDR, 4) == 0) {
        version = data[4];
        r.i = 5;
        /* Version 2 decodes with OPTAB_V2; every other version, known or not, with v1 (so
         * stored inputs with odd headers keep their meaning): the body is still a valid
         * sequence. Callers may warn using *version_out. */
    }
    const uint8_t *optab = version == 2 ? OPTAB_V2 : OPTAB_V1;
    if (version_out) *version_out = version;
    while (r.i < r.n) {
        uint8_t b = rd8(&r);
        gh_op op;
        memset(&op, 0, sizeof op);
        op.kind = optab[b & 31];
        unsigned mod = b >> 5;
        if (op.kind == GH_GC_BEGIN)
            op.kind = mod >= V2_SWEEP_MOD ? GH_SWEEP : mod >= V2_END_MOD ? GH_GC_END : GH_GC_BEGIN;
        switch (op.kind) {
        case GH_MALLOC: op.flags = (uint8_t)mod; op.a = rd_size(&r); break;
        case GH_CALLOC: op.flags = (uint8_t)(mod & (GA_NOSCAN | GA_NOTINY));
                        op.a = rd_size(&r); op.b = rd_size(&r); break;
        case GH_REALLOC: op.flags = (uint8_t)(mod & 1); op.obj = rd16(&r); op.a = rd_size(&r);
                         if (op.flags) op.obj = 0;
                         break;
        case GH_ALIGNED: op.flags = (uint8_t)mod; op.b = rd_size(&r); op.a = rd_size(&r); break;
        case GH_FREE: op.flags = (uint8_t)(mod & 3); op.obj = rd16(&r); break;
        case GH_DOUBLE_FREE: op.flags = (uint8_t)(mod & 1); op.obj = rd16(&r); break;
        case GH_USABLE: case GH_WRITE: case GH_CHECK:
            op.obj = rd16(&r); break;
        case GH_FREE_INTERIOR: op.obj = rd16(&r); op.a = rd_size(&r); break;
        case GH_CACHE: op.a = rd8(&r) % GH_MAX_CACHES; break;
        case GH_RELEASE: case GH_DESTROY: case GH_VERIFY: break;
        case GH_GC: op.flags = (uint8_t)mod; op.a = rd8(&r) % 101; op.b = rd8(&r); op.c = rd8(&r); break;
        case GH_SCAVENGE: op.flags = (uint8_t)(mod % 3); if (op.flags == 2) op.a = rd_size(&r); break;
        case GH_FAIL_OS: op.flags = (uint8_t)mod; op.a = rd8(&r) % GH_OSF_N; op.b = rd8(&r); break;
        case GH_FREE_FOREIGN: op.flags = (uint8_t)(mod & 3); break;
        case GH_GC_MARK: op.flags = (uint8_t)(mod & 1); op.obj = rd16(&r); if (op.flags) op.a = rd_size(&r); break;
        case GH_SWEEP: op.c = rd8(&r); break;
        default: break;
        }
        if (gh_seq_push(out, &op) != 0) { gh_seq_free(out); return -1; }
    }
    if (missing_out) *missing_out = r.past;
    return 0;
}

/* ---- encoder ---- */
typedef struct wr { uint8_t *p; size_t n, cap; int err; } wr;
static void wr8(wr *w, uint8_t b)
{
    if (w->err) return;
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 256;
        uint8_t *np = realloc(w->p, nc);
        if (!np) { w->err = 1; return; }
        w->p = np;
        w->cap = nc;
    }
    w->p[w->n++] = b;
}
static void wr16(wr *w, uint16_t v) { wr8(w, (uint8_t)v); wr8(w, (uint8_t)(v >> 8)); }

static void wr_size(wr *w, uint64_t v)
{
    if (v < 32) { wr8(w, (uint8_t)v); return; }
    for (unsigned k = 0; k < 32; k++)
        if (EDGE_V1[k] == v) { wr8(w, (uint8_t)(4u << 5 | k)); return; }
    if (v < ((uint64_t)1 << 13)) { wr8(w, (uint8_t)(1u << 5 | v >> 8)); wr8(w, (uint8_t)v); return; }
    if (v < ((uint64_t)1 << 21)) {
        wr8(w, (uint8_t)(2u << 5 | v >> 16)); wr8(w, (uint8_t)(v >> 8)); wr8(w, (uint8_t)v); return;
    }
    if (v < ((uint64_t)1 << 29)) {
        wr8(w, (uint8_t)(3u << 5 | v >> 24)); wr8(w, (uint8_t)(v >> 16));
        wr8(w, (uint8_t)(v >> 8)); wr8(w, (uint8_t)v); return;
    }
    wr8(w, (uint8_t)(7u << 5));
    for (int k = 0; k < 8; k++) wr8(w, (uint8_t)(v >> (8 * k)));
}

static uint8_t first_opcode(unsigned kind)
{
    switch (kind) {   /* the v2-only kinds; the rest have the same first opcode in v1 and v2 */
    case GH_GC_MARK: return 30;
    case GH_GC_BEGIN: return V2_STEP_OPCODE;
    case GH_GC_END: return (uint8_t)(V2_STEP_OPCODE | V2_END_MOD << 5);
    case GH_SWEEP: return (uint8_t)(V2_STEP_OPCODE | V2_SWEEP_MOD << 5);
    default: break;
    }
    for (unsigned i = 0; i < 32; i++)
        if (OPTAB_V1[i] == kind) return (uint8_t)i;
    return 0;
}

static bool v2_kind(unsigned kind) { return kind >= GH_GC_BEGIN && kind < GH_NKINDS; }

int gh_encode(const gh_seq *s, uint8_t **out, size_t *len)
{
    wr w = { NULL, 0, 0, 0 };
    /* v1 whenever the sequence fits it, so v1 encodings stay byte for byte what they were */
    unsigned version = 1;
    for (size_t i = 0; i < s->n; i++) if (v2_kind(s->ops[i].kind)) version = 2;
    for (int k = 0; k < 4; k++) wr8(&w, HDR[k]);
    wr8(&w, (uint8_t)version);
    for (size_t i = 0; i < s->n; i++) {
        const gh_op *op = &s->ops[i];
        uint8_t code = first_opcode(op->kind);
        if (v2_kind(op->kind)) wr8(&w, (uint8_t)(code | (op->kind == GH_GC_MARK ? (op->flags & 1) << 5 : 0)));
        else wr8(&w, (uint8_t)(code | (op->flags & 7) << 5));
        switch (op->kind) {
        case GH_MALLOC: wr_size(&w, op->a); break;
        case GH_CALLOC: wr_size(&w, op->a); wr_size(&w, op->b); break;
        case GH_REALLOC: wr16(&w, op->obj); wr_size(&w, op->a); break;
        case GH_ALIGNED: wr_size(&w, op->b); wr_size(&w, op->a); break;
        case GH_FREE: case GH_USABLE: case GH_WRITE: case GH_CHECK: case GH_DOUBLE_FREE:
            wr16(&w, op->obj); break;
        case GH_FREE_INTERIOR: wr16(&w, op->obj); wr_size(&w, op->a); break;
        case GH_CACHE: wr8(&w, (uint8_t)op->a); break;
        case GH_GC: wr8(&w, (uint8_t)op->a); wr8(&w, (uint8_t)op->b); wr8(&w, (uint8_t)op->c); break;
        case GH_SCAVENGE: if (op->flags == 2) wr_size(&w, op->a); break;
        case GH_FAIL_OS: wr8(&w, (uint8_t)op->a); wr8(&w, (uint8_t)op->b); break;
        case GH_GC_MARK: wr16(&w, op->obj); if (op->flags & 1) wr_size(&w, op->a); break;
        case GH_SWEEP: wr8(&w, (uint8_t)op->c); break;
        default: break;
        }
    }
    if (w.err) { free(w.p); return -1; }
    *out = w.p;
    *len = w.n;
    return 0;
}

/* ---- text ------------------------------------------------------------------------- */
bool gh_is_text(const uint8_t *data, size_t len)
{
    static const char magic[] = "galloc-ops";
    size_t i = 0;
    if (len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) i = 3; /* BOM */
    return len - i >= sizeof magic - 1 && memcmp(data + i, magic, sizeof magic - 1) == 0;
}

static int fmt_obj(char *b, size_t n, uint16_t obj)
{
    if (obj & GH_OBJ_FROM_END) return snprintf(b, n, "-%u", (unsigned)(obj & 0x7fff) + 1);
    return snprintf(b, n, "%u", (unsigned)obj);
}

int gh_format_op(const gh_op *op, char *buf, size_t n)
{
    char o[16];
    fmt_obj(o, sizeof o, op->obj);
    const char *nm = gh_kind_name(op->kind);
    switch (op->kind) {
    case GH_MALLOC:
        return snprintf(buf, n, "malloc %" PRIu64 "%s%s%s", op->a,
                        op->flags & GA_NOSCAN ? " noscan" : "", op->flags & GA_ZERO ? " zero" : "",
                        op->flags & GA_NOTINY ? " notiny" : "");
    case GH_CALLOC:
        return snprintf(buf, n, "calloc %" PRIu64 " %" PRIu64 "%s%s", op->a, op->b,
                        op->flags & GA_NOSCAN ? " noscan" : "", op->flags & GA_NOTINY ? " notiny" : "");
    case GH_REALLOC:
        if (op->flags & 1) return snprintf(buf, n, "realloc null %" PRIu64, op->a);
        return snprintf(buf, n, "realloc %s %" PRIu64, o, op->a);
    case GH_ALIGNED:
        return snprintf(buf, n, "aligned %" PRIu64 " %" PRIu64 " %s%s", op->b, op->a,
                        api_names[op->flags & 3], op->flags & 4 ? " noscan" : "");
    case GH_FREE:
        return snprintf(buf, n, "free %s%s%s", o, op->flags & 1 ? " other" : "", op->flags & 2 ? " local" : "");
    case GH_DOUBLE_FREE:
        return snprintf(buf, n, "double-free %s%s", o, op->flags & 1 ? " local" : "");
    case GH_USABLE: case GH_WRITE: case GH_CHECK:
        return snprintf(buf, n, "%s %s", nm, o);
    case GH_FREE_INTERIOR:
        return snprintf(buf, n, "free-interior %s %" PRIu64, o, op->a);
    case GH_CACHE: return snprintf(buf, n, "cache %" PRIu64, op->a);
    case GH_RELEASE: case GH_DESTROY: case GH_VERIFY: return snprintf(buf, n, "%s", nm);
    case GH_GC: {
        char sw[24];
        if (op->c == 0) snprintf(sw, sizeof sw, "none");
        else if (op->c == GH_GC_SWEEP_ALL) snprintf(sw, sizeof sw, "all");
        else snprintf(sw, sizeof sw, "%" PRIu64, op->c);
        return snprintf(buf, n, "gc keep=%" PRIu64 " seed=%" PRIu64 " sweep=%s black=%u",
                        op->a, op->b, sw, (unsigned)op->flags);
    }
    case GH_SCAVENGE:
        if (op->flags == 0) return snprintf(buf, n, "scavenge all");
        if (op->flags == 1) return snprintf(buf, n, "scavenge policy");
        return snprintf(buf, n, "scavenge %" PRIu64, op->a);
    case GH_FAIL_OS:
        return snprintf(buf, n, "fail-os %s skip=%" PRIu64 " count=%u",
                        osf_names[op->a % GH_OSF_N], op->b, (unsigned)op->flags + 1);
    case GH_FREE_FOREIGN:
        return snprintf(buf, n, "free-foreign %s", foreign_names[op->flags & 3]);
    case GH_GC_BEGIN: case GH_GC_END: return snprintf(buf, n, "%s", nm);
    case GH_GC_MARK:
        if (op->flags & 1) return snprintf(buf, n, "gc-mark %s %" PRIu64, o, op->a);
        return snprintf(buf, n, "gc-mark %s", o);
    case GH_SWEEP:
        if (op->c == GH_GC_SWEEP_ALL) return snprintf(buf, n, "sweep all");
        return snprintf(buf, n, "sweep %" PRIu64, op->c);
    default:
        return snprintf(buf, n, "?");
    }
}

int gh_format(const gh_seq *s, FILE *out)
{
    char line[256];
    fprintf(out, "galloc-ops %d\n", GH_FORMAT_VERSION);
    for (size_t i = 0; i < s->n; i++) {
        gh_format_op(&s->ops[i], line, sizeof line);
        fprintf(out, "%s\n", line);
    }
    return ferror(out) ? -1 : 0;
}

/* Parser state: one line split into tokens. */
typedef struct tok { const char *s; size_t n; unsigned col; } tok;
typedef struct pstate { gh_parse_error *err; unsigned line; } pstate;

static int perr(pstate *ps, unsigned col, const char *fmt, ...)
{
    if (ps->err) {
        va_list ap;
        ps->err->line = ps->line;
        ps->err->col = col;
        va_start(ap, fmt);
        vsnprintf(ps->err->msg, sizeof ps->err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool tok_is(const tok *t, const char *w) { return strlen(w) == t->n && memcmp(t->s, w, t->n) == 0; }

/* Unsigned number: decimal, 0x hex, optional k/m/g (binary) suffix, or "max". */
static int parse_u64(pstate *ps, const tok *t, uint64_t *v)
{
    char b[64];
    if (t->n >= sizeof b) return perr(ps, t->col, "number too long: '%.*s'", (int)t->n, t->s);
    memcpy(b, t->s, t->n);
    b[t->n] = 0;
    if (strcmp(b, "max") == 0) { *v = UINT64_MAX; return 0; }
    if (b[0] == '-' || b[0] == '+' || !isdigit((unsigned char)b[0]))
        return perr(ps, t->col, "expected a number, got '%s'", b);
    errno = 0;
    char *end;
    unsigned long long x = strtoull(b, &end, 0);
    if (errno == ERANGE) return perr(ps, t->col, "number out of range: '%s'", b);
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K') shift = 10, end++;
    else if (*end == 'm' || *end == 'M') shift = 20, end++;
    else if (*end == 'g' || *end == 'G') shift = 30, end++;
    if (*end) return perr(ps, t->col, "bad number '%s'", b);
    if (shift && x > (UINT64_MAX >> shift)) return perr(ps, t->col, "number out of range: '%s'", b);
    *v = (uint64_t)x << shift;
    return 0;
}

static int parse_range(pstate *ps, const tok *t, uint64_t lo, uint64_t hi, const char *what, uint64_t *v)
{
    if (parse_u64(ps, t, v)) return -1;
    if (*v < lo || *v > hi)
        return perr(ps, t->col, "%s must be %" PRIu64 "..%" PRIu64 ", got %" PRIu64, what, lo, hi, *v);
    return 0;
}

static int parse_obj(pstate *ps, const tok *t, uint16_t *obj)
{
    char b[32];
    if (t->n == 0 || t->n >= sizeof b) return perr(ps, t->col, "expected an object index");
    memcpy(b, t->s, t->n);
    b[t->n] = 0;
    char *end;
    errno = 0;
    long v = strtol(b, &end, 10);
    if (*end || errno || end == b)
        return perr(ps, t->col, "expected an object index (integer, negative counts from the newest), got '%s'", b);
    if (v >= 0 && v <= 0x7fff) { *obj = (uint16_t)v; return 0; }
    if (v < 0 && v >= -0x8000) { *obj = (uint16_t)(GH_OBJ_FROM_END | (uint16_t)(-v - 1)); return 0; }
    return perr(ps, t->col, "object index must be -32768..32767, got %ld", v);
}

/* key=value token: returns 1 and sets val if t is "key=...", 0 otherwise. */
static int kv(const tok *t, const char *key, tok *val)
{
    size_t k = strlen(key);
    if (t->n > k && memcmp(t->s, key, k) == 0 && t->s[k] == '=') {
        val->s = t->s + k + 1;
        val->n = t->n - k - 1;
        val->col = t->col + (unsigned)k + 1;
        return 1;
    }
    return 0;
}

static int want_args(pstate *ps, const tok *t, size_t nt, size_t lo, size_t hi, const char *usage)
{
    if (nt - 1 < lo) return perr(ps, t[0].col, "'%.*s' needs more operands; usage: %s", (int)t[0].n, t[0].s, usage);
    if (nt - 1 > hi) return perr(ps, t[hi + 1].col, "unexpected '%.*s'; usage: %s", (int)t[hi + 1].n, t[hi + 1].s, usage);
    return 0;
}

static int parse_alloc_flags(pstate *ps, const tok *t, size_t from, size_t nt, unsigned allowed,
                             uint8_t *flags, const char *usage)
{
    for (size_t i = from; i < nt; i++) {
        unsigned f = tok_is(&t[i], "noscan") ? GA_NOSCAN : tok_is(&t[i], "zero") ? GA_ZERO
                   : tok_is(&t[i], "notiny") ? GA_NOTINY : 0;
        if (!f || !(f & allowed))
            return perr(ps, t[i].col, "unknown flag '%.*s'; usage: %s", (int)t[i].n, t[i].s, usage);
        *flags |= (uint8_t)f;
    }
    return 0;
}

#define MAXTOK 12
static int parse_line(pstate *ps, tok *t, size_t nt, gh_op *op)
{
    memset(op, 0, sizeof *op);
    op->line = ps->line;
    int k = -1;
    for (unsigned i = 0; i < GH_NKINDS; i++)
        if (tok_is(&t[0], kind_names[i])) k = (int)i;
    if (k < 0) return perr(ps, t[0].col, "unknown op '%.*s'", (int)t[0].n, t[0].s);
    op->kind = (uint8_t)k;
    const char *u;
    switch (k) {
    case GH_MALLOC:
        u = "malloc SIZE [noscan] [zero] [notiny]";
        if (nt < 2) return want_args(ps, t, nt, 1, 4, u);
        if (parse_u64(ps, &t[1], &op->a)) return -1;
        return parse_alloc_flags(ps, t, 2, nt, GA_NOSCAN | GA_ZERO | GA_NOTINY, &op->flags, u);
    case GH_CALLOC:
        u = "calloc NMEMB SIZE [noscan] [notiny]";
        if (nt < 3) return want_args(ps, t, nt, 2, 4, u);
        if (parse_u64(ps, &t[1], &op->a) || parse_u64(ps, &t[2], &op->b)) return -1;
        return parse_alloc_flags(ps, t, 3, nt, GA_NOSCAN | GA_NOTINY, &op->flags, u);
    case GH_REALLOC:
        u = "realloc OBJ|null SIZE";
        if (want_args(ps, t, nt, 2, 2, u)) return -1;
        if (tok_is(&t[1], "null")) op->flags = 1;
        else if (parse_obj(ps, &t[1], &op->obj)) return -1;
        return parse_u64(ps, &t[2], &op->a);
    case GH_ALIGNED: {
        u = "aligned ALIGN SIZE [posix|c11|memalign|native] [noscan]";
        if (nt < 3) return want_args(ps, t, nt, 2, 4, u);
        if (parse_u64(ps, &t[1], &op->b) || parse_u64(ps, &t[2], &op->a)) return -1;
        for (size_t i = 3; i < nt; i++) {
            int api = -1;
            for (int a = 0; a < 4; a++) if (tok_is(&t[i], api_names[a])) api = a;
            if (api >= 0) op->flags = (uint8_t)((op->flags & ~3u) | (unsigned)api);
            else if (tok_is(&t[i], "noscan")) op->flags |= 4;
            else return perr(ps, t[i].col, "unknown word '%.*s'; usage: %s", (int)t[i].n, t[i].s, u);
        }
        return 0;
    }
    case GH_FREE: case GH_DOUBLE_FREE: {
        u = k == GH_FREE ? "free OBJ [other] [local]" : "double-free OBJ [local]";
        if (want_args(ps, t, nt, 1, k == GH_FREE ? 3 : 2, u) || parse_obj(ps, &t[1], &op->obj)) return -1;
        for (size_t i = 2; i < nt; i++) {
            if (k == GH_FREE && tok_is(&t[i], "other")) op->flags |= 1;
            else if (tok_is(&t[i], "local")) op->flags |= k == GH_FREE ? 2 : 1;
            else return perr(ps, t[i].col, "unknown word '%.*s'; usage: %s", (int)t[i].n, t[i].s, u);
        }
        return 0;
    }
    case GH_USABLE: case GH_WRITE: case GH_CHECK: {
        char us[40];
        snprintf(us, sizeof us, "%s OBJ", kind_names[k]);
        if (want_args(ps, t, nt, 1, 1, us)) return -1;
        return parse_obj(ps, &t[1], &op->obj);
    }
    case GH_FREE_INTERIOR:
        u = "free-interior OBJ OFFSET";
        if (want_args(ps, t, nt, 2, 2, u) || parse_obj(ps, &t[1], &op->obj)) return -1;
        return parse_u64(ps, &t[2], &op->a);
    case GH_CACHE:
        if (want_args(ps, t, nt, 1, 1, "cache N")) return -1;
        return parse_range(ps, &t[1], 0, GH_MAX_CACHES - 1, "cache index", &op->a);
    case GH_RELEASE: case GH_DESTROY: case GH_VERIFY: case GH_GC_BEGIN: case GH_GC_END:
        return want_args(ps, t, nt, 0, 0, kind_names[k]);
    case GH_GC_MARK:
        u = "gc-mark OBJ [OFFSET]";
        if (want_args(ps, t, nt, 1, 2, u) || parse_obj(ps, &t[1], &op->obj)) return -1;
        if (nt == 3) { op->flags = 1; return parse_u64(ps, &t[2], &op->a); }
        return 0;
    case GH_SWEEP:
        u = "sweep all|0..254";
        if (want_args(ps, t, nt, 1, 1, u)) return -1;
        if (tok_is(&t[1], "all")) { op->c = GH_GC_SWEEP_ALL; return 0; }
        return parse_range(ps, &t[1], 0, 254, "sweep", &op->c);
    case GH_GC:
        u = "gc [keep=0..100] [seed=0..255] [sweep=none|all|1..254] [black=0..7]";
        op->a = 50;
        for (size_t i = 1; i < nt; i++) {
            tok v;
            uint64_t x;
            if (kv(&t[i], "keep", &v)) { if (parse_range(ps, &v, 0, 100, "keep", &op->a)) return -1; }
            else if (kv(&t[i], "seed", &v)) { if (parse_range(ps, &v, 0, 255, "seed", &op->b)) return -1; }
            else if (kv(&t[i], "black", &v)) { if (parse_range(ps, &v, 0, 7, "black", &x)) return -1; op->flags = (uint8_t)x; }
            else if (kv(&t[i], "sweep", &v)) {
                if (tok_is(&v, "none")) op->c = 0;
                else if (tok_is(&v, "all")) op->c = GH_GC_SWEEP_ALL;
                else if (parse_range(ps, &v, 0, 254, "sweep", &op->c)) return -1;
            } else return perr(ps, t[i].col, "unknown word '%.*s'; usage: %s", (int)t[i].n, t[i].s, u);
        }
        return 0;
    case GH_SCAVENGE:
        u = "scavenge all|policy|BYTES";
        if (want_args(ps, t, nt, 1, 1, u)) return -1;
        if (tok_is(&t[1], "all")) op->flags = 0;
        else if (tok_is(&t[1], "policy")) op->flags = 1;
        else { op->flags = 2; if (parse_u64(ps, &t[1], &op->a)) return -1; }
        return 0;
    case GH_FAIL_OS: {
        u = "fail-os next|reserve|map|used|unused|release|meta [skip=0..255] [count=1..8]";
        if (nt < 2) return want_args(ps, t, nt, 1, 3, u);
        int f = -1;
        for (int i = 0; i < GH_OSF_N; i++) if (tok_is(&t[1], osf_names[i])) f = i;
        if (f < 0) return perr(ps, t[1].col, "unknown OS call '%.*s'; usage: %s", (int)t[1].n, t[1].s, u);
        op->a = (uint64_t)f;
        for (size_t i = 2; i < nt; i++) {
            tok v;
            uint64_t x;
            if (kv(&t[i], "skip", &v)) { if (parse_range(ps, &v, 0, 255, "skip", &op->b)) return -1; }
            else if (kv(&t[i], "count", &v)) { if (parse_range(ps, &v, 1, 8, "count", &x)) return -1; op->flags = (uint8_t)(x - 1); }
            else return perr(ps, t[i].col, "unknown word '%.*s'; usage: %s", (int)t[i].n, t[i].s, u);
        }
        return 0;
    }
    case GH_FREE_FOREIGN: {
        u = "free-foreign stack|static|libc|null";
        if (want_args(ps, t, nt, 1, 1, u)) return -1;
        for (int i = 0; i < 4; i++) if (tok_is(&t[1], foreign_names[i])) { op->flags = (uint8_t)i; return 0; }
        return perr(ps, t[1].col, "unknown pointer kind '%.*s'; usage: %s", (int)t[1].n, t[1].s, u);
    }
    default:
        return perr(ps, t[0].col, "internal: unhandled op");
    }
}

int gh_parse(const char *text, size_t len, gh_seq *out, gh_parse_error *err)
{
    pstate ps = { err, 0 };
    gh_seq_init(out);
    if (err) { err->line = 0; err->col = 0; err->msg[0] = 0; }
    size_t i = 0;
    if (len >= 3 && (unsigned char)text[0] == 0xef && (unsigned char)text[1] == 0xbb && (unsigned char)text[2] == 0xbf) i = 3;
    bool header = false;
    while (i < len) {
        size_t start = i;
        while (i < len && text[i] != '\n') i++;
        size_t end = i;
        if (i < len) i++;
        ps.line++;
        if (end > start && text[end - 1] == '\r') end--;
        tok t[MAXTOK];
        size_t nt = 0;
        /* printable ASCII and tabs; comments may also hold UTF-8 */
        bool in_comment = false;
        for (size_t j = start; j < end; j++) {
            unsigned char ch = (unsigned char)text[j];
            if (ch == '#') in_comment = true;
            if (ch == '\t' || (ch >= 0x20 && ch < 0x7f) || (in_comment && ch >= 0x80)) continue;
            gh_seq_free(out);
            return perr(&ps, (unsigned)(j - start + 1), "unexpected byte 0x%02x (text files are ASCII)", ch);
        }
        for (size_t j = start; j < end;) {
            unsigned char ch = (unsigned char)text[j];
            if (ch == '#') break;
            if (ch == ' ' || ch == '\t') { j++; continue; }
            size_t k = j;
            while (k < end && text[k] != ' ' && text[k] != '\t' && text[k] != '#') k++;
            if (nt == MAXTOK) { gh_seq_free(out); return perr(&ps, (unsigned)(j - start + 1), "too many words on one line"); }
            t[nt].s = text + j;
            t[nt].n = k - j;
            t[nt].col = (unsigned)(j - start + 1);
            nt++;
            j = k;
        }
        if (!header) {
            /* the header starts the file (as gh_is_text requires): no leading blanks */
            if (ps.line != 1 || nt < 1 || !tok_is(&t[0], "galloc-ops") || t[0].col != 1) {
                gh_seq_free(out);
                return perr(&ps, 1, "first line must be 'galloc-ops %d'", GH_FORMAT_VERSION);
            }
            uint64_t v;
            if (nt != 2 || parse_u64(&ps, &t[1], &v)) { gh_seq_free(out); return perr(&ps, 1, "first line must be 'galloc-ops %d'", GH_FORMAT_VERSION); }
            if (v != GH_FORMAT_VERSION) { gh_seq_free(out); return perr(&ps, t[1].col, "unsupported text format version %" PRIu64 " (this build reads %d)", v, GH_FORMAT_VERSION); }
            header = true;
            continue;
        }
        if (nt == 0) continue;
        gh_op op;
        if (parse_line(&ps, t, nt, &op) != 0) { gh_seq_free(out); return -1; }
        if (gh_seq_push(out, &op) != 0) { gh_seq_free(out); return perr(&ps, 1, "out of memory"); }
    }
    if (!header) { gh_seq_free(out); ps.line = 1; return perr(&ps, 1, "empty file: first line must be 'galloc-ops %d'", GH_FORMAT_VERSION); }
    return 0;
}

/* ---- generator ------------------------------------------------------------------- */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t gen_size(uint64_t *rs)
{
    uint64_t r = splitmix(rs);
    switch (r % 16) {
    case 0: case 1: case 2: case 3: return (r >> 8) % 16;               /* tiny range */
    case 4: case 5: case 6: case 7: return (r >> 8) % 513;
    case 8: case 9: return (r >> 8) % 4097;
    case 10: case 11: return (r >> 8) % 32800;
    case 12: return CLASS_V1[(r >> 8) % 68] + (r >> 20) % 3 - 1 + ((r >> 8) % 68 == 0);
    case 13: return EDGE_V1[(r >> 8) % 28];                             /* edges, within budget */
    case 14: return 32768 + (r >> 8) % (1u << 20);                      /* large */
    default: return (r >> 8) % 200000;
    }
}

int gh_generate(uint64_t seed, size_t nops, gh_seq *out)
{
    uint64_t rs = seed ^ 0x5eedull;
    gh_seq_init(out);
    for (size_t i = 0; i < nops; i++) {
        gh_op op;
        memset(&op, 0, sizeof op);
        uint64_t r = splitmix(&rs);
        unsigned pick = (unsigned)(r % 100);
        op.obj = (uint16_t)((r >> 8) & 0xffff);
        if (pick < 30) { op.kind = GH_MALLOC; op.a = gen_size(&rs); op.flags = (uint8_t)((r >> 30) & 7); }
        else if (pick < 50) { op.kind = GH_FREE; op.flags = (uint8_t)((r >> 30) & 3); }
        else if (pick < 52) { op.kind = GH_GC_MARK; op.flags = (uint8_t)((r >> 30) & 1); if (op.flags) op.a = (r >> 32) % 4096; }
        else if (pick < 60) { op.kind = GH_REALLOC; op.a = gen_size(&rs); op.flags = ((r >> 30) % 16) == 0; if (op.flags) op.obj = 0; }
        else if (pick < 63) { op.kind = GH_CALLOC; op.a = 1 + (r >> 30) % 16; op.b = gen_size(&rs) / 8; op.flags = (uint8_t)((r >> 40) & (GA_NOSCAN | GA_NOTINY)); }
        else if (pick < 67) {
            op.kind = GH_ALIGNED;
            unsigned lg = (unsigned)((r >> 30) % 17);
            op.b = (uint64_t)1 << lg;
            if ((r >> 40) % 10 == 0) op.b += 3;   /* invalid alignment */
            op.a = gen_size(&rs);
            op.flags = (uint8_t)((r >> 44) & 7);
        }
        else if (pick < 71) op.kind = GH_WRITE;
        else if (pick < 75) op.kind = GH_CHECK;
        else if (pick < 77) op.kind = GH_USABLE;
        else if (pick < 81) { op.kind = GH_CACHE; op.a = (r >> 30) % 4; }
        else if (pick < 82) op.kind = GH_RELEASE;
        else if (pick < 83) op.kind = GH_DESTROY;
        else if (pick < 86) { op.kind = GH_GC; op.a = (r >> 30) % 101; op.b = (r >> 40) & 255; op.c = (r >> 48) % 3 == 0 ? GH_GC_SWEEP_ALL : (r >> 48) % 3 == 1 ? 0 : (r >> 50) % 8; op.flags = (uint8_t)((r >> 56) & 3); }
        else if (pick < 88) { op.kind = GH_SCAVENGE; op.flags = (uint8_t)((r >> 30) % 3); op.a = (r >> 40) % (1u << 22); if (op.flags != 2) op.a = 0; }
        else if (pick < 89) { op.kind = GH_FAIL_OS; op.a = (r >> 30) % GH_OSF_N; op.b = (r >> 40) % 4; }
        else if (pick < 91) op.kind = GH_VERIFY;
        else if (pick < 94) { op.kind = GH_DOUBLE_FREE; op.flags = (uint8_t)((r >> 30) & 1); }
        else if (pick < 96) { op.kind = GH_FREE_FOREIGN; op.flags = (uint8_t)((r >> 30) & 3); }
        else if (pick < 98) { op.kind = GH_FREE_INTERIOR; op.a = 1 + (r >> 30) % 4096; }
        else if (pick < 99) {
            unsigned k = (unsigned)((r >> 30) % 8);
            op.kind = k < 3 ? GH_GC_BEGIN : k < 6 ? GH_GC_END : GH_SWEEP;
            if (op.kind == GH_SWEEP) op.c = (r >> 40) % 2 ? GH_GC_SWEEP_ALL : (r >> 41) % 8;
        }
        else { op.kind = GH_MALLOC; op.a = (r >> 30) % 16; op.flags = GA_NOSCAN; }
        switch (op.kind) {   /* operands a kind does not use are zero (canonical form) */
        case GH_MALLOC: case GH_CALLOC: case GH_ALIGNED: case GH_CACHE: case GH_RELEASE:
        case GH_DESTROY: case GH_GC: case GH_SCAVENGE: case GH_FAIL_OS: case GH_VERIFY:
        case GH_FREE_FOREIGN: case GH_GC_BEGIN: case GH_GC_END: case GH_SWEEP:
            op.obj = 0; break;
        default: break;
        }
        if (gh_seq_push(out, &op) != 0) { gh_seq_free(out); return -1; }
    }
    return 0;
}

/* ---- small shared helpers for the command-line tools ------------------------------- */
int gh_read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 4096, n = 0;
    uint8_t *b = malloc(cap);
    if (!b) { fclose(f); errno = ENOMEM; return -1; }
    for (;;) {
        if (n == cap) {
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) { free(b); fclose(f); errno = ENOMEM; return -1; }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) { free(b); errno = EIO; return -1; }
    *data = b;
    *len = n;
    return 0;
}

bool gh_parse_size(const char *s, uint64_t *v)
{
    if (!s || !*s || *s == '-') return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K') shift = 10, end++;
    else if (*end == 'm' || *end == 'M') shift = 20, end++;
    else if (*end == 'g' || *end == 'G') shift = 30, end++;
    if (errno || *end || end == s || (shift && x > (ULLONG_MAX >> shift))) return false;
    *v = (uint64_t)x << shift;
    return true;
}
