/*
 * exec_gc.c — GC cycles in the executor.
 *
 * The whole-cycle op `gc` (begin, mark a seeded share of live objects, allocate black,
 * end, sweep) is kept for old files; the step ops gc-begin / gc-mark / gc-end / sweep let a
 * sequence do anything else while a cycle is marking (allocate, free from any cache, free
 * locally, scavenge, release or destroy caches). The model: an object live at gc-begin
 * survives gc-end iff it was marked (a tiny object: iff its block was) or freed meanwhile;
 * objects allocated while marking are black and survive.
 * Calls: galloc.h (ga_gc_*, ga_sweep), exec_shadow.c, exec_checks.c, exec_alloc.c.
 */
#include "exec_internal.h"

/* ga_gc_begin, and the model's side: every live object enters the cycle unmarked. Returns
 * false on a finding. A begin while marking is a no-op for galloc and for the model. */
static bool gc_begin(ex *x)
{
    bool was = x->marking;
    ex_model_touch_all(x);
    ga_gc_begin(x->h);
    EM("ga_gc_begin(h);");
    if (!ga_gc_marking(x->h)) return !ex_finding(x, GH_CHK_STATUS, NULL, NULL, "ga_gc_marking false after ga_gc_begin");
    if (was) { ex_tracef(x, " -> already marking"); return true; }
    /* ga_gc_begin swept everything: every slot the model holds pending must be free now,
     * every live object allocated (checked before this cycle's deaths can hide a loss) */
    x->model_all_swept = true;
    ex_model_touch_all(x);
    bool ok = ex_model_check(x);
    x->model_all_swept = false;
    if (!ok) return false;
    ex_model_touch_all(x);
    x->marking = true;
    x->st->gcs++;
    for (size_t i = 0; i < x->nobj; i++) { x->objs[i].in_cycle = true; x->objs[i].marked = false; }
    for (size_t i = 0; i < x->nblk; i++) x->blk[i].marked = false;
    /* ga_gc_begin swept everything and flushed every cache: the statistics are exact */
    return ex_check_stats(x, true);
}

/* ga_gc_mark(p) for live object o, p inside it. While marking it must say true; else false. */
static bool gc_mark(ex *x, obj *o, const void *p)
{
    bool ok = ga_gc_mark(x->h, p);
    if (p == o->sut) EM("if (ga_gc_mark(h, o[%" PRIu64 "]) != %d) fail(\"ga_gc_mark(#%" PRIu64 ")\");", o->id, x->marking, o->id);
    else EM("if (ga_gc_mark(h, (char *)o[%" PRIu64 "] + %zu) != %d) fail(\"ga_gc_mark(#%" PRIu64 " interior)\");",
            o->id, (size_t)((const char *)p - (const char *)o->sut), x->marking, o->id);
    if (ok != x->marking)
        return !ex_finding(x, GH_CHK_STATUS, o, NULL, "ga_gc_mark(#%" PRIu64 " at %p, pointer %p) returned %s %s",
                           o->id, o->sut, p, ok ? "true" : "false", x->marking ? "for a live object while marking" : "while no cycle is marking");
    if (!ok) return true;
    o->marked = true;
    ex_model_touch(x, o->span);
    if (o->tiny) { tblock *b = ex_blk_find(x, o->slot, NULL); if (b) b->marked = true; }
    return true;
}

/* ga_gc_end, and the model: what entered the cycle and was not marked is dead (a tiny
 * object lives on while any object of its block was marked); black objects live. */
static void gc_end(ex *x)
{
    ex_model_touch_all(x);
    if (!x->marking) {
        ga_gc_end(x->h);     /* a no-op for galloc too */
        EM("ga_gc_end(h);");
        if (ga_gc_marking(x->h)) ex_finding(x, GH_CHK_STATUS, NULL, NULL, "ga_gc_marking true after ga_gc_end");
        return;
    }
    ga_gc_end(x->h);
    x->marking = false;
    x->exp_gcs++;
    EM("ga_gc_end(h);");
    if (ga_gc_marking(x->h)) { ex_finding(x, GH_CHK_STATUS, NULL, NULL, "ga_gc_marking true after ga_gc_end"); return; }
    size_t ndead = 0, nkept = 0;
    for (size_t i = x->nobj; i-- > 0;) {
        obj *o = &x->objs[i];
        bool dead = o->in_cycle && !o->marked;
        o->in_cycle = o->marked = false;
        if (dead && o->tiny) {
            tblock *b = ex_blk_find(x, o->slot, NULL);
            if (b && b->marked) dead = false;
        }
        if (!dead) { nkept++; continue; }
        EM("live_del(%" PRIu64 "); /* dead */", o->id);
        if (!o->tiny) ex_model_pending(x, o->span, o->slot, o->elemsize, true, o->id);
        ex_account_gone(x, o);
        ex_drop_obj(x, o, true);
        ndead++;
    }
    size_t w = 0;
    for (size_t i = 0; i < x->nblk; i++) {
        if (x->blk[i].marked) { x->blk[i].marked = false; x->blk[w++] = x->blk[i]; continue; }
        ga_object_info in;
        if (ga_lookup(x->h, (void *)x->blk[i].slot, &in) != GA_ERR_NOT_OWNED)
            ex_model_pending(x, in.span_base, x->blk[i].slot, in.elemsize, true, 0);
        x->pending_objs++;
        x->pending_bytes += GA_TINY_SIZE;
        x->live_slot_bytes -= GA_TINY_SIZE;
    }
    x->nblk = w;
    ex_tracef(x, " -> live %zu, dead %zu", nkept, ndead);
}

static size_t gc_sweep(ex *x, uint64_t n)
{
    ex_model_touch_all(x);
    if (n == GH_GC_SWEEP_ALL) { EM("ga_sweep(h, SIZE_MAX);"); return ga_sweep(x->h, SIZE_MAX); }
    EM("ga_sweep(h, %" PRIu64 ");", n);
    return n ? ga_sweep(x->h, (size_t)n) : 0;
}

void ex_op_gc_begin(ex *x) { gc_begin(x); }

void ex_op_gc_mark(ex *x, const gh_op *op)
{
    long i = ex_resolve(x, op->obj);
    if (i < 0) { x->st->ops_skipped++; ex_tracef(x, " -> no live object"); return; }
    obj *o = &x->objs[i];
    size_t off = (op->flags & 1) && o->size ? (size_t)(op->a % o->size) : 0;
    ex_tracef(x, " #%" PRIu64 " +%zu", o->id, off);
    gc_mark(x, o, (const char *)o->sut + off);
}

void ex_op_gc_end(ex *x) { gc_end(x); }

void ex_op_sweep(ex *x, const gh_op *op)
{
    size_t n = gc_sweep(x, op->c);
    ex_tracef(x, " -> swept %zu", n);
}

void ex_gc_finish(ex *x)
{
    if (x->marking) gc_end(x);
}

/* The whole-cycle op (binary v1): begin (a no-op when a cycle is already marking), mark
 * each live object with hash(id, seed) % 100 < keep, allocate `black` objects, end, sweep. */
void ex_op_gc(ex *x, const gh_op *op)
{
    if (!gc_begin(x)) goto out;
    size_t nkept = 0, nblack = 0;
    for (size_t i = 0; i < x->nobj && !ex_found(x); i++) {
        obj *o = &x->objs[i];
        if (o->marked || !o->in_cycle) continue;
        if (ex_mix(o->id * 0x100000001b3ull ^ (op->b + 1) * 0x9e3779b97f4a7c15ull) % 100 >= op->a) continue;
        nkept++;
        gc_mark(x, o, o->sut);
    }
    /* objects allocated while marking are allocated black: they survive the cycle */
    for (unsigned k = 0; k < (op->flags & 7u) && !ex_found(x); k++) {
        gh_req q = { GH_MALLOC, 0, ex_mix(op->b * 31 + k + 1) % 700, 0, 0, false, 0, false, false };
        obj *o = ex_do_alloc(x, &q, 0, 0);
        if (o && ex_admit(x, o, false)) nblack++;
    }
    if (ex_found(x)) goto out;
    ex_tracef(x, " marked %zu, black %zu;", nkept, nblack);
    gc_end(x);
    if (ex_found(x)) goto out;
    size_t swept = gc_sweep(x, op->c);
    ex_tracef(x, " swept %zu", swept);
out:
    if (ga_gc_marking(x->h)) { ga_gc_end(x->h); x->exp_gcs++; x->marking = false; }   /* leave the heap usable */
}
