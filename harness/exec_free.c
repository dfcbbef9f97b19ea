/*
 * exec_free.c — explicit frees and misuse.
 *
 * free / free other / free local, and the misuse ops: double free, free of a foreign
 * pointer, free of an interior pointer. Each must return exactly the status the model
 * predicts (tiny objects: GA_ERR_TINY, and they stay live) and report misuse once.
 * Calls: galloc.h, exec_checks.c, exec_shadow.c, exec_content.c.
 */
#include "exec_internal.h"

static char static_target[64];

static void planted_check(ex *x, const obj *o)
{
    const gh_options *op = x->o;
    if (!(op->checks & GH_CHK_PLANTED)) return;
    if (o->size >= op->planted_lo && o->size <= op->planted_hi && x->nobj - 1 >= op->planted_min_live)
        ex_finding(x, GH_CHK_PLANTED, o, NULL, "planted: object #%" PRIu64 " of %zu bytes freed while %zu others are live",
                o->id, o->size, x->nobj - 1);
}

/* Explicit free of a shadow object through galloc (tiny ones must be refused and stay);
 * `local`: ga_free_local through the current cache. */
bool ex_free_obj(ex *x, uint64_t id, const char *what, bool local)
{
    obj *o = ex_find_id(x, id);
    void *p = o->sut;
    planted_check(x, o);
    if (ex_found(x)) return false;
    ga_cache *c = NULL;
    if (local) {
        int err;
        uint64_t osf0 = x->os_failures;
        c = ex_cur_cache(x, &err);
        if (!c && !(x->os_failures > osf0 && err == ENOMEM))
            return !ex_finding(x, GH_CHK_STATUS, o, NULL, "ga_cache_new failed (%s) without an OS failure", ex_errname(err));
    }
    uint64_t h0 = x->herr_calls;
    ga_status want = o->tiny ? GA_ERR_TINY : GA_OK, got = c ? ga_free_local(c, p) : ga_free(x->h, p);
    if (c) EM("expect_free_local(c[%u], %" PRIu64 ", %d); /* %s */", x->cur, o->id, (int)want, what);
    else EM("expect_free(%" PRIu64 ", %d); /* %s */", o->id, (int)want, what);
    ex_tracef(x, " -> %s", ex_stname(got));
    if (got != want)
        return !ex_finding(x, GH_CHK_STATUS, o, NULL, "%s%s of object #%" PRIu64 " (%zu bytes%s at %p) returned %s, expected %s",
                        what, c ? " (ga_free_local)" : "", o->id, o->size, o->tiny ? ", tiny" : "", p, ex_stname(got), ex_stname(want));
    if (!ex_check_report(x, o, h0, got, p)) return false;
    ex_model_touch(x, o->span);
    if (got == GA_ERR_TINY) return ex_check_obj_content(x, o, "after a refused free");
    ga_object_info in;
    ga_status ls = ga_lookup(x->h, p, &in);
    if (ls != GA_ERR_NOT_OWNED && in.allocated && in.object == (uintptr_t)p)
        if (ex_finding(x, GH_CHK_LOOKUP, o, NULL, "object #%" PRIu64 " at %p still reported allocated after ga_free", o->id, p)) return false;
    ex_account_gone(x, o);
    x->st->frees++;
    ex_model_pending(x, o->span, o->slot, o->elemsize, false, o->id);
    ex_drop_obj(x, o, true);
    return ex_verify_span_at(x, NULL, p, id);
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
    long i = ex_resolve(x, op->obj);
    return i < 0 ? NULL : &x->objs[i];
}

void ex_op_free(ex *x, const gh_op *op)
{
    obj *o = pick(x, op, op->flags & 1);
    if (!o) { x->st->ops_skipped++; ex_tracef(x, " -> no live object"); return; }
    ex_tracef(x, " #%" PRIu64 "%s", o->id, o->cache != x->cur ? " (cross-cache)" : "");
    if (!ex_check_obj_content(x, o, "before free")) return;
    ex_free_obj(x, o->id, "free", op->flags & 2);
}

/* ---- misuse ------------------------------------------------------------------------ */
void ex_op_double_free(ex *x, const gh_op *op)
{
    long i = ex_resolve(x, op->obj);
    if (i < 0) { x->st->ops_skipped++; return; }
    obj *o = &x->objs[i];
    uint64_t id = o->id;
    void *p = o->sut;
    bool tiny = o->tiny, large = o->large, local = op->flags & 1;
    ex_tracef(x, " #%" PRIu64, id);
    if (!ex_check_obj_content(x, o, "before double free")) return;
    if (!ex_free_obj(x, id, "double free (first)", local)) return;
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
    ex_tracef(x, ", %s", ex_stname(got));
    if (got != want) {
        ex_finding(x, GH_CHK_STATUS, tiny ? ex_find_id(x, id) : NULL, NULL, "double free of #%" PRIu64 " (%s) at %p: second %s returned %s, expected %s",
                id, tiny ? "tiny" : "freed", p, c ? "ga_free_local" : "ga_free", ex_stname(got), ex_stname(want));
        return;
    }
    if (!ex_check_report(x, tiny ? ex_find_id(x, id) : NULL, h0, got, p)) return;
    if (tiny) { obj *t = ex_find_id(x, id); if (t) ex_check_obj_content(x, t, "after a refused double free"); }
}

void ex_op_free_foreign(ex *x, const gh_op *op)
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
    ex_tracef(x, " -> %s", ex_stname(got));
    bool ok = got == want && ex_check_report(x, NULL, h0, got, p);
    if ((op->flags & 3) == GH_FOREIGN_LIBC) free(p);
    if (ok || got == want) return;
    ex_finding(x, GH_CHK_STATUS, NULL, NULL, "ga_free of a %s pointer %p returned %s, expected %s",
                (op->flags & 3) == GH_FOREIGN_STACK ? "stack" : (op->flags & 3) == GH_FOREIGN_STATIC ? "static" :
                (op->flags & 3) == GH_FOREIGN_LIBC ? "glibc heap" : "NULL", p, ex_stname(got), ex_stname(want));
}

void ex_op_free_interior(ex *x, const gh_op *op)
{
    long i = ex_resolve(x, op->obj);
    if (i < 0) { x->st->ops_skipped++; return; }
    obj *o = &x->objs[i];
    ex_tracef(x, " #%" PRIu64, o->id);
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
    ex_model_touch(x, o->span);
    EM("expect_free_raw_off(%" PRIu64 ", %zu, %d); /* interior */", o->id, (size_t)(q - p), (int)want);
    ex_tracef(x, " +%zu -> %s", (size_t)(q - p), ex_stname(got));
    if (got != want) {
        ex_finding(x, GH_CHK_STATUS, o, NULL, "ga_free of interior pointer %#" PRIxPTR " (object #%" PRIu64 " at %p + %zu) returned %s, expected %s",
                q, o->id, o->sut, (size_t)(q - p), ex_stname(got), ex_stname(want));
        return;
    }
    if (!ex_check_report(x, o, h0, got, (void *)q)) return;
    ga_object_info in;
    if ((x->o->checks & GH_CHK_LOOKUP) && (ga_lookup(x->h, o->sut, &in) == GA_ERR_NOT_OWNED || !in.allocated)) {
        ex_finding(x, GH_CHK_LOOKUP, o, NULL, "object #%" PRIu64 " no longer allocated after a refused interior free", o->id);
        return;
    }
    if (ex_check_obj_content(x, o, "after a refused interior free")) ex_verify_span_at(x, o, o->sut, o->id);
}
