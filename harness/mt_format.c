/*
 * mt_format.c — the encodings of multi-threaded programs (mt.h): text "galloc-mt 1",
 * binary "GAMT" v1, and the any-bytes fuzz decoding (fuzz_mt). FORMAT.md documents them.
 *
 * Owns: nothing beyond the buffers it returns.
 * Invariants: parse(format(p)) == p and decode(encode(p)) == p (ops and schedule);
 * malformed text or binary is rejected with a message naming the line / offset (the
 * callers exit 2); mt_decode_fuzz accepts every byte string.
 * Calls: mt.h helpers, libc.
 */
#include "mt.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool mt_is_mt(const uint8_t *data, size_t len)
{
    return (len >= 9 && memcmp(data, "galloc-mt", 9) == 0) || (len >= 4 && memcmp(data, "GAMT", 4) == 0);
}

static void op_text(const mt_op *op, char *b, size_t n)
{
    switch (op->kind) {
    case MT_MALLOC: snprintf(b, n, "malloc %u%s", op->a, (op->flags & 1) ? " scan" : ""); break;
    case MT_FREE: case MT_FREE_OTHER: case MT_FREE_LOCAL: snprintf(b, n, "%s %u", mt_kind_name(op->kind), op->obj); break;
    case MT_GC: snprintf(b, n, "gc keep=%u seed=%u%s", op->a, op->b, (op->flags & 1) ? " sweep" : ""); break;
    case MT_SWEEP: if (op->a) snprintf(b, n, "sweep %u", op->a); else snprintf(b, n, "sweep all"); break;
    case MT_SCAVENGE: snprintf(b, n, "scavenge %s", (op->flags & 1) ? "policy" : "all"); break;
    default: snprintf(b, n, "%s", mt_kind_name(op->kind)); break;
    }
}

int mt_format(const mt_prog *p, FILE *out, const char *comment)
{
    fprintf(out, "galloc-mt 1\n");
    if (comment && *comment) {
        const char *c = comment;
        while (*c) {
            const char *e = strchr(c, '\n');
            size_t l = e ? (size_t)(e - c) : strlen(c);
            fprintf(out, "# %.*s\n", (int)l, c);
            c += l + (e != NULL);
        }
    }
    fprintf(out, "threads %u\n", p->nthreads);
    for (unsigned t = 0; t < p->nthreads; t++) {
        fprintf(out, "thread %u\n", t);
        for (size_t i = 0; i < p->nops[t]; i++) {
            char b[96];
            op_text(&p->ops[t][i], b, sizeof b);
            fprintf(out, "%s\n", b);
        }
    }
    /* run-length: "TxN" is N decisions for thread T */
    size_t tokens = 0;
    for (size_t i = 0; i < p->nsched;) {
        size_t j = i;
        while (j < p->nsched && p->sched[j] == p->sched[i]) j++;
        if (tokens % 24 == 0) fprintf(out, tokens ? "\nschedule" : "schedule");
        if (j - i > 1) fprintf(out, " %ux%zu", p->sched[i], j - i);
        else fprintf(out, " %u", p->sched[i]);
        tokens++;
        i = j;
    }
    if (tokens) fprintf(out, "\n");
    return ferror(out) ? -1 : 0;
}

static bool num(const char *w, uint64_t *v)
{
    if (!*w) return false;
    char *e;
    errno = 0;
    unsigned long long x = strtoull(w, &e, 0);
    if (errno || *e || *w == '-') return false;
    *v = x;
    return true;
}

#define ERR(...) do { snprintf(err, errn, __VA_ARGS__); mt_prog_free(out); return -1; } while (0)

int mt_parse(const char *text, size_t len, mt_prog *out, char *err, size_t errn)
{
    memset(out, 0, sizeof *out);
    char *buf = malloc(len + 1);
    if (!buf) { snprintf(err, errn, "out of memory"); return -1; }
    memcpy(buf, text, len);
    buf[len] = 0;
    int cur = -1;
    unsigned declared = 0;
    unsigned lineno = 0;
    uint8_t *sched = NULL;
    size_t nsched = 0, capsched = 0;
    char *save = NULL;
    int rc = 0;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t')) line[--l] = 0;
        if (lineno == 1) {
            if (strcmp(line, "galloc-mt 1") != 0) { snprintf(err, errn, "line 1: want 'galloc-mt 1', got '%.40s'", line); rc = -1; break; }
            continue;
        }
        char *w[40];
        int nw = 0;
        char *s2 = NULL;
        for (char *t = strtok_r(line, " \t", &s2); t && nw < 40; t = strtok_r(NULL, " \t", &s2)) w[nw++] = t;
        if (nw == 0) continue;
        uint64_t v = 0;
        mt_op op = { 0 };
        if (strcmp(w[0], "threads") == 0) {
            if (nw != 2 || !num(w[1], &v) || v < 1 || v > GS_MAX_THREADS) { snprintf(err, errn, "line %u: threads wants 1..%d", lineno, GS_MAX_THREADS); rc = -1; break; }
            declared = (unsigned)v;
            continue;
        }
        if (strcmp(w[0], "thread") == 0) {
            if (nw != 2 || !num(w[1], &v) || v >= declared) { snprintf(err, errn, "line %u: thread wants 0..%u (after 'threads')", lineno, declared ? declared - 1 : 0); rc = -1; break; }
            cur = (int)v;
            continue;
        }
        if (strcmp(w[0], "schedule") == 0) {
            for (int i = 1; i < nw; i++) {
                char *x = strchr(w[i], 'x');
                uint64_t t = 0, cnt = 1;
                if (x) *x = 0;
                if (!num(w[i], &t) || t >= declared || (x && (!num(x + 1, &cnt) || cnt == 0 || cnt > 100000000))) {
                    snprintf(err, errn, "line %u: schedule token %d: want T or TxN with T < %u", lineno, i, declared);
                    rc = -1;
                    break;
                }
                while (cnt--) {
                    if (nsched == capsched) {
                        capsched = capsched ? capsched * 2 : 256;
                        uint8_t *d = realloc(sched, capsched);
                        if (!d) { snprintf(err, errn, "out of memory"); rc = -1; break; }
                        sched = d;
                    }
                    sched[nsched++] = (uint8_t)t;
                }
                if (rc) break;
            }
            if (rc) break;
            continue;
        }
        if (cur < 0) { snprintf(err, errn, "line %u: op '%s' before any 'thread N'", lineno, w[0]); rc = -1; break; }
        int k = -1;
        for (int i = 0; i < MT_NKINDS; i++) if (strcmp(w[0], mt_kind_name((unsigned)i)) == 0) k = i;
        if (k < 0) { snprintf(err, errn, "line %u: unknown op '%s'", lineno, w[0]); rc = -1; break; }
        op.kind = (uint8_t)k;
        bool ok = true;
        switch (k) {
        case MT_MALLOC:
            ok = nw >= 2 && nw <= 3 && num(w[1], &v) && v <= (1u << 30) && (nw == 2 || strcmp(w[2], "scan") == 0);
            op.a = (uint32_t)v;
            op.flags = nw == 3;
            break;
        case MT_FREE: case MT_FREE_OTHER: case MT_FREE_LOCAL:
            ok = nw == 2 && num(w[1], &v) && v <= 0xffff;
            op.obj = (uint16_t)v;
            break;
        case MT_GC:
            op.a = 50;
            for (int i = 1; i < nw && ok; i++) {
                if (strncmp(w[i], "keep=", 5) == 0) { ok = num(w[i] + 5, &v) && v <= 100; op.a = (uint32_t)v; }
                else if (strncmp(w[i], "seed=", 5) == 0) { ok = num(w[i] + 5, &v) && v <= 0xffffffffu; op.b = (uint32_t)v; }
                else if (strcmp(w[i], "sweep") == 0) op.flags = 1;
                else ok = false;
            }
            break;
        case MT_SWEEP:
            ok = nw == 2 && (strcmp(w[1], "all") == 0 || (num(w[1], &v) && v > 0 && v <= 0xffffffffu));
            op.a = strcmp(w[1 < nw ? 1 : 0], "all") == 0 ? 0 : (uint32_t)v;
            break;
        case MT_SCAVENGE:
            ok = nw == 2 && (strcmp(w[1], "all") == 0 || strcmp(w[1], "policy") == 0);
            op.flags = ok && strcmp(w[1], "policy") == 0;
            break;
        default:
            ok = nw == 1;
            break;
        }
        if (!ok) { snprintf(err, errn, "line %u: bad operands for '%s'", lineno, w[0]); rc = -1; break; }
        if (mt_push_op(out, (unsigned)cur, &op) != 0) { snprintf(err, errn, "out of memory"); rc = -1; break; }
    }
    free(buf);
    if (rc == 0 && lineno == 0) { snprintf(err, errn, "empty file"); rc = -1; }
    if (rc == 0 && declared == 0) { snprintf(err, errn, "no 'threads N' line"); rc = -1; }
    if (rc != 0) { free(sched); mt_prog_free(out); return -1; }
    out->nthreads = declared;
    out->sched = sched;
    out->nsched = nsched;
    return 0;
}

/* ---- binary: "GAMT" u8 version=1, u8 nthreads, per thread u32 nops + 12-byte ops,
 *      u32 nsched + decisions; little-endian ---- */
static void put32(uint8_t *b, uint32_t v) { for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get32(const uint8_t *b) { return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24; }

int mt_encode(const mt_prog *p, uint8_t **out, size_t *len)
{
    size_t n = 6 + 4;
    for (unsigned t = 0; t < p->nthreads; t++) n += 4 + 12 * p->nops[t];
    n += p->nsched;
    uint8_t *b = malloc(n), *q = b;
    if (!b) return -1;
    memcpy(q, "GAMT", 4);
    q[4] = 1;
    q[5] = (uint8_t)p->nthreads;
    q += 6;
    for (unsigned t = 0; t < p->nthreads; t++) {
        put32(q, (uint32_t)p->nops[t]);
        q += 4;
        for (size_t i = 0; i < p->nops[t]; i++) {
            const mt_op *o = &p->ops[t][i];
            q[0] = o->kind;
            q[1] = o->flags;
            q[2] = (uint8_t)o->obj;
            q[3] = (uint8_t)(o->obj >> 8);
            put32(q + 4, o->a);
            put32(q + 8, o->b);
            q += 12;
        }
    }
    put32(q, (uint32_t)p->nsched);
    q += 4;
    if (p->nsched) memcpy(q, p->sched, p->nsched);
    *out = b;
    *len = n;
    return 0;
}

int mt_decode(const uint8_t *d, size_t len, mt_prog *out, char *err, size_t errn)
{
    memset(out, 0, sizeof *out);
    if (len < 6 || memcmp(d, "GAMT", 4) != 0) ERR("not a GAMT file");
    if (d[4] != 1) ERR("GAMT version %u (this build reads 1)", d[4]);
    unsigned nt = d[5];
    if (nt < 1 || nt > GS_MAX_THREADS) ERR("GAMT: %u threads (1..%d)", nt, GS_MAX_THREADS);
    size_t at = 6;
    for (unsigned t = 0; t < nt; t++) {
        if (at + 4 > len) ERR("GAMT: cut short in thread %u's header (offset %zu)", t, at);
        uint32_t n = get32(d + at);
        at += 4;
        if (n > (len - at) / 12) ERR("GAMT: thread %u claims %u ops, the file holds fewer (offset %zu)", t, n, at);
        for (uint32_t i = 0; i < n; i++, at += 12) {
            mt_op o = { d[at], d[at + 1], (uint16_t)(d[at + 2] | d[at + 3] << 8), get32(d + at + 4), get32(d + at + 8) };
            if (o.kind >= MT_NKINDS) ERR("GAMT: thread %u op %u: unknown kind %u (offset %zu)", t, i, o.kind, at);
            if (mt_push_op(out, t, &o) != 0) ERR("out of memory");
        }
    }
    if (at + 4 > len) ERR("GAMT: cut short before the schedule (offset %zu)", at);
    uint32_t ns = get32(d + at);
    at += 4;
    if (ns != len - at) ERR("GAMT: schedule of %u decisions, %zu bytes follow", ns, len - at);
    for (size_t i = 0; i < ns; i++)
        if (d[at + i] >= nt) ERR("GAMT: decision %zu names thread %u of %u", i, d[at + i], nt);
    out->nthreads = nt;
    if (mt_set_sched(out, d + at, ns) != 0) ERR("out of memory");
    return 0;
}

int mt_decode_fuzz(const uint8_t *d, size_t len, mt_prog *out)
{
    static const uint32_t SIZES[16] = { 8, 16, 24, 32, 48, 64, 80, 128, 256, 512, 1024, 3000, 8192, 9000, 33000, 70000 };
    memset(out, 0, sizeof *out);
    unsigned nt = len ? 2 + d[0] % 3 : 2;
    out->nthreads = nt;
    size_t at = 1;
    while (at < len) {
        if (at + 1 < len && d[at] == 0xff && d[at + 1] == 0xff) { at += 2; break; }
        uint8_t b = d[at++];
        uint8_t arg = at < len ? d[at++] : 0;
        unsigned t = (b >> 4) % nt;
        mt_op op = { 0 };
        unsigned k = b & 15;
        op.obj = arg;
        switch (k) {
        case 0: case 1: case 2: case 3: op.kind = MT_MALLOC; op.a = SIZES[arg & 15]; op.flags = (arg >> 4) & 1; break;
        case 4: case 5: op.kind = MT_FREE_OTHER; break;
        case 6: op.kind = MT_FREE; break;
        case 7: op.kind = MT_FREE_LOCAL; break;
        case 8: case 9: op.kind = MT_GC; op.a = (arg * 101u) >> 8; op.b = arg; op.flags = arg & 1; break;
        case 10: op.kind = MT_SWEEP; op.a = arg & 3; break;
        case 11: case 12: op.kind = MT_RELEASE; break;
        case 13: op.kind = MT_SCAVENGE; op.flags = arg & 1; break;
        case 14: op.kind = MT_VERIFY; break;
        default: op.kind = MT_MALLOC; op.a = 16u * (1u + (arg & 7)); break;
        }
        if (out->nops[t] >= 64) continue;      /* bounded runs */
        if (mt_push_op(out, t, &op) != 0) { mt_prog_free(out); return -1; }
    }
    out->nthreads = nt;
    /* the rest: (gap, thread) pairs: gap%16 more decisions for the thread that runs, then one
     * for thread%n (a preemption where it is runnable) */
    uint8_t prev = 0;
    for (; at < len; at += 2) {
        unsigned gap = d[at] % 16;
        uint8_t t = (uint8_t)((at + 1 < len ? d[at + 1] : 0) % nt);
        for (unsigned g = 0; g <= gap; g++) {
            uint8_t v = g == gap ? t : prev;
            if (out->nsched % 256 == 0) {
                uint8_t *x = realloc(out->sched, out->nsched + 256);
                if (!x) { mt_prog_free(out); return -1; }
                out->sched = x;
            }
            out->sched[out->nsched++] = v;
        }
        prev = t;
    }
    return 0;
}
