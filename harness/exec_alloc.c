/*
 * exec_alloc.c — the allocation ops: malloc, calloc, aligned, realloc.
 *
 * Each runs galloc and, in lockstep, its glibc twin (oracle.c holds the written contracts
 * of both sides); galloc's outcome is judged against its contract, glibc's against its
 * own, and the two against each other where both contracts are definite. A new object is
 * checked (exec_checks.c), booked (exec_shadow.c) and filled (exec_content.c).
 * Calls: galloc.h, oracle.c, exec_checks.c, exec_shadow.c, exec_content.c, exec_faults.c's in-step faults.
 */
#include "exec_internal.h"

ga_cache *ex_cur_cache(ex *x, int *err)
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

/* Allocation through galloc, with the in-step faults. NULL with *err on failure. */
static void *sut_alloc(ex *x, ga_cache *c, size_t size, size_t align, unsigned flags, uint64_t id, int *err)
{
    size_t ask = size;
    if (size > 1 && ex_fault_now(x, GH_FAULT_UNDERSIZE)) { ask = 1; x->fault_done = true; EM("/* injected fault: undersize */"); }
    errno = 0;
    void *p = ga_alloc(c, ask, align, flags);
    *err = p ? 0 : errno;
    EM("o[%" PRIu64 "] = ga_alloc(c[%u], %zuu, %zuu, %#x);", id, x->cur, ask, align, flags);
    if (!p) return NULL;
    if (ex_fault_now(x, GH_FAULT_SUT_FAIL)) {
        x->fault_done = true;
        ex_book_unseen(x, p, true);
        EM("ga_free(h, o[%" PRIu64 "]); o[%" PRIu64 "] = NULL; /* injected fault: reported as failed */", id, id);
        *err = ENOMEM;
        return NULL;
    }
    if (ex_fault_now(x, GH_FAULT_PTR_FLIP)) {
        x->fault_done = true;
        p = (char *)p + 8;
        EM("o[%" PRIu64 "] = (char *)o[%" PRIu64 "] + 8; /* injected fault: pointer flip */", id, id);
    } else if (ex_fault_now(x, GH_FAULT_ALIAS)) {
        for (size_t i = x->nobj; i-- > 0;)
            if (x->objs[i].sut && !x->objs[i].tiny) {
                x->fault_done = true;
                ex_book_unseen(x, p, true);
                /* the shadow object will account itself as a new allocation: undo one */
                x->exp_mallocs--;
                p = x->objs[i].sut;
                EM("o[%" PRIu64 "] = o[%" PRIu64 "]; /* injected fault: alias */", id, x->objs[i].id);
                break;
            }
    } else if ((flags & GA_ZERO) && size && ex_fault_now(x, GH_FAULT_DIRTY_ZERO)) {
        x->fault_done = true;
        ((volatile uint8_t *)p)[size - 1] = 0x5a;
        EM("((unsigned char *)o[%" PRIu64 "])[%zu] = 0x5a; /* injected fault: dirty zero */", id, size - 1);
    }
    return p;
}

static void em_expect_null(ex *x, uint64_t id, bool want_null, bool want_ok)
{
    if (want_null) EM("if (o[%" PRIu64 "]) fail(\"allocation #%" PRIu64 " should have failed\");", id, id);
    else if (want_ok) EM("if (!o[%" PRIu64 "]) fail(\"allocation #%" PRIu64 " failed\");", id, id);
}

/* galloc + glibc for one request; returns the new shadow object (not yet admitted) or
 * NULL (failed, skipped or a ex_finding). */
obj *ex_do_alloc(ex *x, const gh_req *q, unsigned flags, uint64_t old_id)
{
    obj *old = old_id ? ex_find_id(x, old_id) : NULL;
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
        ex_tracef(x, " -> skipped (over budget)");
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
        ga_cache *c = ex_cur_cache(x, &err);
        if (c) p = sut_alloc(x, c, (size_t)q->size, (size_t)q->align, flags, id, &err);
    }
    /* the glibc twin */
    gh_ref_res rr = { GH_REF_SKIPPED, 0, false, false, NULL, false };
    if (x->o->diff) {
        rr = gh_ref_alloc(&x->ref, q, old ? old->ref : NULL, old ? old->ref_size : 0);
        if (old && (rr.outcome == GH_REF_OK || rr.freed_old)) { old->ref = NULL; old->ref_size = 0; }
    }
    ex_tracef(x, " -> %s", p ? "ok" : ex_errname(err));
    if (p && x->o->trace_addrs) ex_tracef(x, " %p", p);
    /* galloc against its contract */
    bool excused = false;
    if (!p) {
        if (x->os_failures > osf0 && err == ENOMEM && cg.e != GH_EXP_FAIL) {
            excused = true;
            ex_tracef(x, " (injected OS failure)");
        } else if (cg.e == GH_EXP_OK) {
            em_expect_null(x, id, false, true);
            ex_finding(x, GH_CHK_STATUS, old, NULL, "%s of %" PRIu64 " bytes (align %" PRIu64 ", flags %#x) failed with %s; policy: must succeed (%s)",
                    gh_kind_name(q->kind), q->size, q->align, flags, ex_errname(err), cg.why);
        } else if (cg.e == GH_EXP_FAIL && err != cg.err) {
            ex_finding(x, GH_CHK_STATUS, old, NULL, "%s of %" PRIu64 " bytes (align %" PRIu64 ") failed with %s; policy: %s (%s)",
                    gh_kind_name(q->kind), q->size, q->align, ex_errname(err), ex_errname(cg.err), cg.why);
        } else if (cg.e == GH_EXP_FAIL) {
            em_expect_null(x, id, true, false);
        }
    } else if (cg.e == GH_EXP_FAIL) {
        em_expect_null(x, id, true, false);
        ex_finding(x, GH_CHK_STATUS, NULL, NULL, "%s of %" PRIu64 " bytes (align %" PRIu64 ") returned %p; policy: %s (%s)",
                gh_kind_name(q->kind), q->size, q->align, p, ex_errname(cg.err), cg.why);
    }
    /* glibc against its contract, and galloc against glibc where comparable */
    if (!ex_found(x) && x->o->diff && rr.outcome != GH_REF_SKIPPED) {
        bool rok = rr.outcome == GH_REF_OK;
        if (cl.e == GH_EXP_OK && !rok)
            ex_finding(x, GH_CHK_DIFF, old, NULL, "glibc %s of %" PRIu64 " bytes failed (%s); policy: succeeds (%s)",
                    gh_kind_name(q->kind), q->size, ex_errname(rr.err), cl.why);
        else if (cl.e == GH_EXP_FAIL && (rok || rr.err != cl.err))
            ex_finding(x, GH_CHK_DIFF, old, NULL, "glibc %s of %" PRIu64 " bytes -> %s; policy: %s (%s)",
                    gh_kind_name(q->kind), q->size, rok ? "success" : ex_errname(rr.err), ex_errname(cl.err), cl.why);
        else if (!excused && gh_contracts_comparable(cg, cl) && ((p != NULL) != rok || (!p && err != rr.err)))
            ex_finding(x, GH_CHK_DIFF, old, NULL, "differential: galloc %s of %" PRIu64 " bytes (align %" PRIu64 ") -> %s, glibc -> %s",
                    gh_kind_name(q->kind), q->size, q->align, p ? "success" : ex_errname(err), rok ? "success" : ex_errname(rr.err));
        else if (rok && q->align && ex_pow2(q->align) && (uintptr_t)rr.p % q->align)
            ex_finding(x, GH_CHK_DIFF, NULL, NULL, "glibc pointer %p not aligned to %" PRIu64, rr.p, q->align);
        else if (rok && gh_ref_usable(rr.p) < q->size)
            ex_finding(x, GH_CHK_DIFF, NULL, NULL, "glibc malloc_usable_size %zu < %" PRIu64, gh_ref_usable(rr.p), q->size);
        else if (rok && (q->kind == GH_CALLOC || q->zero) && q->size && !rr.unzeroed) {
            pat_ctx pc;
            /* glibc's zeroing is glibc's contract, not galloc's: sampled (head, tail, a word
             * per page; exec_content.c) — scanning every byte of each big twin was 4% of a
             * generated input, and a twin mix-up in the harness still shows at its head */
            if (!ex_zero_check_sampled(rr.p, (size_t)q->size, &pc))
                ex_finding(x, GH_CHK_DIFF, NULL, NULL, "glibc calloc memory not zero at byte %zu", pc.bad);
        }
    }
    if (ex_found(x) || !p) {
        if (p) ex_book_unseen(x, p, true);
        if (rr.outcome == GH_REF_OK) gh_ref_free(&x->ref, rr.p, (size_t)q->size);
        return NULL;
    }
    obj *o = ex_obj_add(x);
    if (!o) {
        ex_book_unseen(x, p, true);
        if (rr.outcome == GH_REF_OK) gh_ref_free(&x->ref, rr.p, (size_t)q->size);
        return NULL;
    }
    o->size = (size_t)q->size;
    o->align = (size_t)q->align;
    o->flags = flags;
    o->cache = x->cur;
    o->sut = p;
    o->ref = rr.outcome == GH_REF_OK ? rr.p : NULL;
    o->ref_size = 0;     /* set by ex_write_obj; until then the twin holds the old pattern */
    o->ref_gen = 0;
    return o;
}

/* After ex_do_alloc: the checks, the books and the fill. */
bool ex_admit(ex *x, obj *o, bool zero_promised)
{
    bool ok = ex_check_new_object(x, o, zero_promised);
    ex_account_alloc(x, o);
    if (!ok) return false;
    /* the glibc twin's zeroing was checked in ex_do_alloc (q.zero or calloc: the same
     * requests that promise zero here), and nothing wrote it since */
    ex_write_obj(x, o);
    ex_tracef(x, " #%" PRIu64 "%s class %u", o->id, o->tiny ? " tiny" : o->large ? " large" : "", o->sizeclass);
    return true;
}

void ex_op_malloc(ex *x, const gh_op *op)
{
    gh_req q = { GH_MALLOC, 0, op->a, 0, 0, false, 0, false, (op->flags & GA_ZERO) != 0 };
    obj *o = ex_do_alloc(x, &q, op->flags & (GA_NOSCAN | GA_ZERO | GA_NOTINY), 0);
    if (o) ex_admit(x, o, op->flags & GA_ZERO);
}

void ex_op_calloc(ex *x, const gh_op *op)
{
    gh_req q = { GH_CALLOC, 0, 0, op->a, op->b, false, 0, false, false };
    if (op->b && op->a > UINT64_MAX / op->b) { q.overflow = true; q.size = UINT64_MAX; }
    else q.size = op->a * op->b;
    obj *o = ex_do_alloc(x, &q, (op->flags & (GA_NOSCAN | GA_NOTINY)) | GA_ZERO, 0);
    if (o) ex_admit(x, o, true);
}

void ex_op_aligned(ex *x, const gh_op *op)
{
    gh_req q = { GH_ALIGNED, op->flags & 3u, op->a, 0, 0, false, op->b, false, false };
    obj *o = ex_do_alloc(x, &q, (op->flags & 4) ? GA_NOSCAN : 0, 0);
    if (o) ex_admit(x, o, false);
}

void ex_op_realloc(ex *x, const gh_op *op)
{
    if (op->flags & 1) {  /* realloc(NULL, n) == malloc(n) */
        gh_req q = { GH_REALLOC, 0, op->a, 0, 0, false, 0, false, false };
        obj *o = ex_do_alloc(x, &q, 0, 0);
        if (o) ex_admit(x, o, false);
        return;
    }
    long i = ex_resolve(x, op->obj);
    if (i < 0) { x->st->ops_skipped++; ex_tracef(x, " -> no live object"); return; }
    obj *old = &x->objs[i];
    uint64_t old_id = old->id, old_gen = old->gen, old_ref_gen = old->ref_gen;
    size_t old_size = old->size, old_ref_size = old->ref_size;
    ex_tracef(x, " #%" PRIu64, old_id);
    if (!ex_check_obj_content(x, old, "before realloc")) return;
    gh_req q = { GH_REALLOC, 0, op->a, 0, 0, false, 0, true, false };
    obj *n = ex_do_alloc(x, &q, old->flags & (GA_NOSCAN | GA_NOTINY), old_id);
    if (ex_found(x)) return;
    if (!n) {             /* failed or skipped: the old object must be intact */
        old = ex_find_id(x, old_id);
        if (old) ex_check_obj_content(x, old, "after a failed realloc");
        return;
    }
    uint64_t nid = n->id;
    bool ok = ex_check_new_object(x, n, false);
    ex_account_alloc(x, n);
    if (!ok) return;
    old = ex_find_id(x, old_id);
    n = ex_find_id(x, nid);
    size_t keep = old_size < n->size ? old_size : n->size;
    memcpy(n->sut, old->sut, keep);
    EM("memcpy(o[%" PRIu64 "], o[%" PRIu64 "], %zu); check_copy(%" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %zu, %zu);",
       nid, old_id, keep, nid, old_id, old_gen, old_size, keep);
    pat_ctx pc;
    if (!ex_pat_check(n->sut, old_size, keep, old_id, old_gen, &pc)) {
        ex_finding(x, GH_CHK_CONTENT, n, old, "realloc #%" PRIu64 " -> #%" PRIu64 ": copied byte %zu is 0x%02x, expected 0x%02x",
                old_id, nid, pc.bad, pc.got, pc.want);
        return;
    }
    if (x->o->diff && n->ref && old_ref_size) {   /* glibc's realloc kept the prefix */
        size_t rk = keep < old_ref_size ? keep : old_ref_size;
        if (!ex_pat_check(n->ref, old_ref_size, rk, old_id, old_ref_gen, &pc)) {
            ex_finding(x, GH_CHK_DIFF, n, old, "glibc realloc #%" PRIu64 " -> #%" PRIu64 " lost byte %zu (0x%02x, expected 0x%02x)",
                    old_id, nid, pc.bad, pc.got, pc.want);
            return;
        }
    }
    /* the old object: glibc's realloc already took its twin; galloc's is freed (a tiny
     * one is refused with GA_ERR_TINY and stays live until a GC cycle) */
    if (!ex_free_obj(x, old_id, "realloc's free", false)) return;
    n = ex_find_id(x, nid);
    ex_write_obj(x, n);
    ex_tracef(x, " -> #%" PRIu64, nid);
}
