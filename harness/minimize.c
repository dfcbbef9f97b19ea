/*
 * minimize.c — op-aware delta debugging of a failing sequence.
 *
 * Keeps a candidate only if it still produces a finding of the same check (and, for
 * ga_verify / ga_verify_span findings, the same invariant). Passes, repeated until
 * nothing changes or the run budget is spent:
 *   1. drop chunks of ops (ddmin: halves, quarters, ... single ops);
 *   2. simplify each op: smaller sizes (0, 1, then halving the distance), object index 0
 *      or newest, fewer flags, simpler kinds (calloc/aligned/realloc-null -> malloc,
 *      cross-cache free -> free, GC with default parameters);
 *   3. merge caches: every cache switch to cache 0.
 * Calls: gh_execute.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

typedef struct mctx {
    const gh_options *opt;
    const gh_min_options *mo;
    gh_finding target;
    long runs;
    gh_finding last;
} mctx;

static bool same(const mctx *m, const gh_finding *f)
{
    if (!f->found || f->check != m->target.check) return false;
    if (m->target.check == GH_CHK_VERIFY || m->target.check == GH_CHK_SPAN)
        return strcmp(f->report.invariant, m->target.report.invariant) == 0;
    return true;
}

static bool still_fails(mctx *m, const gh_seq *s)
{
    if ((size_t)m->runs >= m->mo->max_runs) return false;
    m->runs++;
    gh_finding f;
    if (gh_execute(s, m->opt, &f, NULL) != 1) return false;
    if (!same(m, &f)) return false;
    m->last = f;
    return true;
}

static bool remove_range(mctx *m, gh_seq *s, size_t at, size_t len)
{
    gh_seq t;
    t.n = s->n - len;
    t.cap = t.n;
    t.ops = malloc((t.n ? t.n : 1) * sizeof *t.ops);
    if (!t.ops) return false;
    memcpy(t.ops, s->ops, at * sizeof *t.ops);
    memcpy(t.ops + at, s->ops + at + len, (s->n - at - len) * sizeof *t.ops);
    if (still_fails(m, &t)) { free(s->ops); *s = t; return true; }
    free(t.ops);
    return false;
}

static bool pass_remove(mctx *m, gh_seq *s)
{
    bool progress = false;
    for (size_t chunk = s->n / 2 ? s->n / 2 : 1; chunk >= 1; chunk /= 2) {
        for (size_t at = 0; at + chunk <= s->n;) {
            if (remove_range(m, s, at, chunk)) progress = true;
            else at += chunk;
            if ((size_t)m->runs >= m->mo->max_runs) return progress;
        }
        if (chunk == 1) break;
    }
    return progress;
}

static bool try_op(mctx *m, gh_seq *s, size_t i, const gh_op *cand)
{
    if (gh_op_equal(cand, &s->ops[i])) return false;
    gh_op keep = s->ops[i];
    s->ops[i] = *cand;
    s->ops[i].line = keep.line;
    if (still_fails(m, s)) return true;
    s->ops[i] = keep;
    return false;
}

/* Shrinks one numeric field: 0, 1, then v - d for d = v/2, v/4, ..., 1 (greedy). */
static bool shrink_field(mctx *m, gh_seq *s, size_t i, uint64_t *(*field)(gh_op *), uint64_t floor)
{
    bool progress = false;
    for (;;) {
        gh_op c = s->ops[i];
        uint64_t v = *field(&c);
        if (v <= floor) return progress;
        bool moved = false;
        uint64_t tries[2] = { floor, floor + 1 };
        for (int k = 0; k < 2 && !moved; k++) {
            if (tries[k] >= v) continue;
            *field(&c) = tries[k];
            if (try_op(m, s, i, &c)) moved = true;
        }
        for (uint64_t d = (v - floor) / 2; d >= 1 && !moved; d /= 2) {
            c = s->ops[i];
            *field(&c) = v - d;
            if (try_op(m, s, i, &c)) moved = true;
        }
        if (!moved) return progress;
        progress = true;
        if ((size_t)m->runs >= m->mo->max_runs) return progress;
    }
}
static uint64_t *fa(gh_op *o) { return &o->a; }
static uint64_t *fb(gh_op *o) { return &o->b; }

static bool pass_simplify(mctx *m, gh_seq *s)
{
    bool progress = false;
    for (size_t i = 0; i < s->n && (size_t)m->runs < m->mo->max_runs; i++) {
        gh_op c;
        /* simpler kinds first */
        switch (s->ops[i].kind) {
        case GH_CALLOC: case GH_ALIGNED:
            c = s->ops[i];
            c.kind = GH_MALLOC;
            c.a = s->ops[i].kind == GH_CALLOC ? (s->ops[i].b && s->ops[i].a > UINT64_MAX / s->ops[i].b ? UINT64_MAX : s->ops[i].a * s->ops[i].b) : s->ops[i].a;
            c.b = 0;
            c.flags = s->ops[i].kind == GH_CALLOC ? (uint8_t)(s->ops[i].flags | GA_ZERO) : (uint8_t)((s->ops[i].flags & 4) ? GA_NOSCAN : 0);
            progress |= try_op(m, s, i, &c);
            break;
        case GH_REALLOC:
            if (s->ops[i].flags & 1) {
                c = s->ops[i];
                c.kind = GH_MALLOC;
                c.flags = 0;
                progress |= try_op(m, s, i, &c);
            }
            break;
        case GH_DOUBLE_FREE: case GH_FREE_INTERIOR:
            c = s->ops[i];
            c.kind = GH_FREE;
            c.a = 0;
            c.flags = 0;
            progress |= try_op(m, s, i, &c);
            break;
        case GH_GC:
            c = s->ops[i];
            c.flags = 0; c.c = 0; c.b = 0;
            progress |= try_op(m, s, i, &c);
            break;
        default: break;
        }
        /* fewer flags */
        for (unsigned bit = 4; bit; bit >>= 1)
            if (s->ops[i].flags & bit) {
                c = s->ops[i];
                c.flags &= (uint8_t)~bit;
                if (c.kind == GH_REALLOC && bit == 1) continue;    /* changes operand meaning */
                progress |= try_op(m, s, i, &c);
            }
        /* object operand: the oldest, then the newest */
        if (s->ops[i].obj) {
            c = s->ops[i];
            c.obj = 0;
            if (!try_op(m, s, i, &c) && s->ops[i].obj != GH_OBJ_FROM_END) {
                c.obj = GH_OBJ_FROM_END;
                progress |= try_op(m, s, i, &c);
            } else progress = true;
        }
        /* numbers */
        switch (s->ops[i].kind) {
        case GH_MALLOC: case GH_REALLOC: case GH_SCAVENGE: case GH_FREE_INTERIOR:
            progress |= shrink_field(m, s, i, fa, 0);
            break;
        case GH_CALLOC:
            progress |= shrink_field(m, s, i, fa, 0);
            progress |= shrink_field(m, s, i, fb, 0);
            break;
        case GH_ALIGNED:
            progress |= shrink_field(m, s, i, fa, 0);
            progress |= shrink_field(m, s, i, fb, 0);
            break;
        case GH_CACHE: case GH_GC:
            progress |= shrink_field(m, s, i, fa, 0);
            break;
        default: break;
        }
    }
    return progress;
}

static bool pass_merge_caches(mctx *m, gh_seq *s)
{
    bool any = false;
    for (size_t i = 0; i < s->n; i++) any |= s->ops[i].kind == GH_CACHE && s->ops[i].a != 0;
    if (!any) return false;
    gh_seq t;
    if (gh_seq_copy(&t, s) != 0) return false;
    for (size_t i = 0; i < t.n; i++) if (t.ops[i].kind == GH_CACHE) t.ops[i].a = 0;
    if (still_fails(m, &t)) { gh_seq_free(s); *s = t; return true; }
    gh_seq_free(&t);
    return false;
}

long gh_minimize(gh_seq *s, const gh_options *opt, const gh_min_options *mo_in, gh_finding *f)
{
    gh_min_options mo = { 20000, true, NULL };
    if (mo_in) mo = *mo_in;
    if (!mo.max_runs) mo.max_runs = 20000;
    mctx m;
    memset(&m, 0, sizeof m);
    m.opt = opt;
    m.mo = &mo;
    if (gh_execute(s, opt, &m.target, NULL) != 1) return -1;
    m.runs = 1;
    m.last = m.target;
    size_t start = s->n;
    /* nothing after the failing op matters (unless it was the final full check) */
    if (!m.target.final_check && m.target.step + 1 < s->n) {
        size_t keep = s->n;
        s->n = m.target.step + 1;
        if (!still_fails(&m, s)) s->n = keep;
    }
    for (int round = 1;; round++) {
        size_t before = s->n;
        bool p = pass_remove(&m, s);
        p |= pass_merge_caches(&m, s);
        p |= pass_simplify(&m, s);
        if (mo.log) fprintf(mo.log, "minimize: round %d: %zu -> %zu ops (%ld runs)\n", round, before, s->n, m.runs);
        if (!p || (size_t)m.runs >= mo.max_runs) break;
    }
    if (mo.log) fprintf(mo.log, "minimize: %zu -> %zu ops in %ld runs\n", start, s->n, m.runs);
    if (f) *f = m.last;
    return m.runs;
}
