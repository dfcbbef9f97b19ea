/*
 * exec_faults.c — harness faults: corruptions of galloc, or of the harness's view of it, applied
 * right after step fault_step, so that tests can show each check firing (gh_fault).
 * Calls: galloc.h, os.h, exec_shadow.c.
 */
#include "exec_internal.h"

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

/* Writes 0xa5 into the last free slot of o's span (clear of the span tail): it stays free
 * for a while, so ga_verify (A12: free slots of a span that needs no zeroing are zero)
 * sees it. False if the span has no such slot. */
static bool write_free_slot(ex *x, const obj *o)
{
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
        return true;
    }
    return false;
}

void ex_apply_after_fault(ex *x)
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
        ga_cache *c = ex_cur_cache(x, &err);
        if (!c) return;
        void *p = ga_alloc(c, 64, 0, 0);
        EM("ga_alloc(c[%u], 64, 0, 0); /* injected fault: hidden allocation */", x->cur);
        (void)p;
        break;
    }
    case GH_FAULT_COLD_SLOT:
        /* the oldest small object: the span a sequence is least likely to touch again */
        for (size_t i = 0; i < x->nobj; i++) {
            obj *c = &x->objs[i];
            if (c->large || c->tiny || !c->elemsize || !c->sut) continue;
            if (write_free_slot(x, c)) break;
        }
        break;
    case GH_FAULT_FREE_SLOT:
        /* the newest small object's span: a later allocation of the class that reaches the
         * slot shows whether zeroing was skipped */
        if (!(o = newest(x, false, true, true))) return;
        write_free_slot(x, o);
        break;
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

bool ex_in_step_fault(gh_fault f)
{
    return f == GH_FAULT_PTR_FLIP || f == GH_FAULT_ALIAS || f == GH_FAULT_DIRTY_ZERO ||
           f == GH_FAULT_UNDERSIZE || f == GH_FAULT_SUT_FAIL;
}
