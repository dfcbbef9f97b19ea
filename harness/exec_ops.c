/*
 * exec_ops.c — the ops that neither allocate nor free: usable, write, check, cache (switch
 * the simulated P), release, destroy-cache, scavenge.
 * Calls: galloc.h, exec_checks.c, exec_content.c.
 */
#include "exec_internal.h"

void ex_op_usable(ex *x, const gh_op *op)
{
    long i = ex_resolve(x, op->obj);
    if (i < 0) { x->st->ops_skipped++; return; }
    obj *o = &x->objs[i];
    size_t u = ga_usable_size(x->h, o->sut);
    EM("check_usable(%" PRIu64 ");", o->id);
    ex_tracef(x, " #%" PRIu64 " -> %zu", o->id, u);
    if (!o->tiny && u < o->size) { ex_finding(x, GH_CHK_USABLE, o, NULL, "ga_usable_size(#%" PRIu64 ") = %zu < %zu", o->id, u, o->size); return; }
    if (o->tiny && u && u < o->size) { ex_finding(x, GH_CHK_USABLE, o, NULL, "ga_usable_size(tiny #%" PRIu64 ") = %zu < %zu", o->id, u, o->size); return; }
    if (!o->tiny) {
        ga_object_info in;
        if (ga_lookup(x->h, o->sut, &in) == GA_OK && in.usable != u) {
            ex_finding(x, GH_CHK_USABLE, o, NULL, "ga_usable_size(#%" PRIu64 ") = %zu but ga_lookup usable = %zu", o->id, u, in.usable);
            return;
        }
    }
    if (x->o->diff && o->ref && gh_ref_usable(o->ref) < o->size)
        ex_finding(x, GH_CHK_DIFF, o, NULL, "glibc malloc_usable_size(#%" PRIu64 ") = %zu < %zu", o->id, gh_ref_usable(o->ref), o->size);
}

void ex_op_write(ex *x, const gh_op *op)
{
    long i = ex_resolve(x, op->obj);
    if (i < 0) { x->st->ops_skipped++; return; }
    obj *o = &x->objs[i];
    ex_tracef(x, " #%" PRIu64, o->id);
    if (!ex_check_obj_content(x, o, "before rewrite")) return;
    o->gen++;
    ex_write_obj(x, o);
}

void ex_op_check(ex *x, const gh_op *op)
{
    long i = ex_resolve(x, op->obj);
    if (i < 0) { x->st->ops_skipped++; return; }
    obj *o = &x->objs[i];
    ex_tracef(x, " #%" PRIu64, o->id);
    if (ex_check_pages(x, o)) ex_check_obj_content(x, o, "at check");
}

void ex_op_cache(ex *x, const gh_op *op)
{
    x->cur = (unsigned)(op->a % GH_MAX_CACHES);
    EM("/* switch to cache %u */", x->cur);
    int err;
    uint64_t osf0 = x->os_failures;
    if (ex_cur_cache(x, &err)) return;
    if (x->os_failures > osf0 && err == ENOMEM) { ex_tracef(x, " -> ENOMEM (injected OS failure)"); return; }
    ex_finding(x, GH_CHK_STATUS, NULL, NULL, "ga_cache_new failed (%s) without an OS failure", ex_errname(err));
}

void ex_op_release(ex *x)
{
    if (!x->caches[x->cur]) return;
    ga_cache_release(x->caches[x->cur]);
    ex_model_touch_all(x);
    EM("ga_cache_release(c[%u]);", x->cur);
}

void ex_op_destroy(ex *x)
{
    if (!x->caches[x->cur]) return;
    ga_cache_destroy(x->caches[x->cur]);
    ex_model_touch_all(x);
    x->caches[x->cur] = NULL;
    EM("ga_cache_destroy(c[%u]); c[%u] = NULL;", x->cur, x->cur);
}

void ex_op_scavenge(ex *x, const gh_op *op)
{
    ga_stats a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    ga_read_stats(x->h, &a);
    size_t want = op->flags == 0 ? SIZE_MAX : op->flags == 2 ? (size_t)op->a : 0, got;
    ex_model_touch_all(x);   /* the policy step sweeps */
    x->rec_unused = true;
    x->nunused = 0;
    x->unused_overflow = false;
    if (op->flags == 1) { got = ga_scavenge_policy(x->h); EM("ga_scavenge_policy(h);"); }
    else { got = ga_scavenge(x->h, want); EM("ga_scavenge(h, %zuu);", want); }
    x->rec_unused = false;
    ex_tracef(x, " -> released %zu", got);
    if (op->flags == 2 && want <= SIZE_MAX - (2u << 20) && got > want + (2u << 20)) {
        /* policy: like Go's scavenger, galloc may round a run up to a 2 MiB huge-page
         * boundary, so up to nbytes + 2 MiB may go; more is a ex_finding */
        ex_finding(x, GH_CHK_STATUS, NULL, NULL, "ga_scavenge(%zu) released %zu bytes", want, got);
        return;
    }
    ga_read_stats(x->h, &b);
    if ((x->o->checks & GH_CHK_STATS) && op->flags != 1 && b.heap_released - a.heap_released != got) {
        ex_finding(x, GH_CHK_STATS, NULL, NULL, "ga_scavenge returned %zu but heap_released grew by %" PRIu64 " (%" PRIu64 " -> %" PRIu64 ")",
                got, b.heap_released - a.heap_released, a.heap_released, b.heap_released);
        return;
    }
    ex_check_unused_objects(x, "after scavenge");
}
