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

/* ---- GC, scavenge, OS faults ------------------------------------------------------ */
void ex_op_gc(ex *x, const gh_op *op)
{
    ga_gc_begin(x->h);
    EM("ga_gc_begin(h);");
    x->st->gcs++;
    if (!ga_gc_marking(x->h)) { ex_finding(x, GH_CHK_STATUS, NULL, NULL, "ga_gc_marking false after ga_gc_begin"); return; }
    if (!ex_check_stats(x, true)) return;
    size_t nmark = x->nobj, nkept = 0, nblack = 0, ndead = 0;
    bool *keep = calloc(nmark ? nmark : 1, sizeof *keep);
    if (!keep) return;
    for (size_t i = 0; i < x->nblk; i++) x->blk[i].marked = false;
    for (size_t i = 0; i < nmark; i++) {
        obj *o = &x->objs[i];
        keep[i] = ex_mix(o->id * 0x100000001b3ull ^ (op->b + 1) * 0x9e3779b97f4a7c15ull) % 100 < op->a;
        if (!keep[i]) continue;
        nkept++;
        bool ok = ga_gc_mark(x->h, o->sut);
        EM("if (!ga_gc_mark(h, o[%" PRIu64 "])) fail(\"ga_gc_mark(#%" PRIu64 ")\");", o->id, o->id);
        if (!ok) { ex_finding(x, GH_CHK_STATUS, o, NULL, "ga_gc_mark(#%" PRIu64 " at %p) returned false for a live object", o->id, o->sut); goto out; }
        if (o->tiny) { tblock *b = ex_blk_find(x, o->slot, NULL); if (b) b->marked = true; }
    }
    /* objects allocated while marking are allocated black: they survive the cycle */
    for (unsigned k = 0; k < (op->flags & 7u) && !ex_found(x); k++) {
        gh_req q = { GH_MALLOC, 0, ex_mix(op->b * 31 + k + 1) % 700, 0, 0, false, 0, false, false };
        obj *o = ex_do_alloc(x, &q, 0, 0);
        if (o && ex_admit(x, o, false)) nblack++;
    }
    if (ex_found(x)) goto out;
    ga_gc_end(x->h);
    x->exp_gcs++;
    EM("ga_gc_end(h);");
    if (ga_gc_marking(x->h)) { ex_finding(x, GH_CHK_STATUS, NULL, NULL, "ga_gc_marking true after ga_gc_end"); goto out; }
    size_t swept = 0;
    if (op->c == GH_GC_SWEEP_ALL) { swept = ga_sweep(x->h, SIZE_MAX); EM("ga_sweep(h, SIZE_MAX);"); }
    else if (op->c) { swept = ga_sweep(x->h, (size_t)op->c); EM("ga_sweep(h, %" PRIu64 ");", op->c); }
    /* the shadow: drop what was not marked; tiny objects live on with a marked block */
    for (size_t i = nmark; i-- > 0;) {
        obj *o = &x->objs[i];
        if (keep[i]) continue;
        if (o->tiny) {
            tblock *b = ex_blk_find(x, o->slot, NULL);
            if (b && b->marked) continue;
        }
        EM("live_del(%" PRIu64 "); /* dead */", o->id);
        ex_account_gone(x, o);
        ex_drop_obj(x, o, true);
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
    ex_tracef(x, " -> kept %zu, dead %zu, black %zu, swept %zu", nkept, ndead, nblack, swept);
out:
    free(keep);
    if (ga_gc_marking(x->h)) { ga_gc_end(x->h); x->exp_gcs++; }   /* leave the heap usable */
}
