/*
 * exec_checks.c — findings and the checks the ops call.
 *
 * Owns: ex_finding (the first finding wins; a switched-off check never reports), the trace,
 * the shape check of every new object (alignment, usable size, overlap, ga_lookup's class /
 * span / slot against the size-class tables, zeroing, page state, ga_verify_span), misuse
 * reports through the heap's error handler (each refused free reported exactly once), the
 * statistics model (ga_read_stats against the shadow books), the every-object check and
 * the full check (all objects, ga_verify, statistics, OS page transitions).
 * Calls: galloc.h, exec_shadow.c, exec_content.c, exec_os.c, exec_model.c.
 */
#include "exec_internal.h"

bool ex_finding(ex *x, unsigned check, const obj *a, const obj *b, const char *fmt, ...)
{
    if (!(x->o->checks & check) || x->f->found) return false;
    gh_finding *f = x->f;
    f->found = true;
    f->at_full_check = x->in_full;
    f->check = check;
    f->step = x->step;
    if (x->op) f->op = *x->op;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
    const obj *ob[2] = { a, b };
    for (int k = 0; k < 2; k++)
        if (ob[k]) {
            f->obj_id[k] = ob[k]->id;
            f->obj_addr[k] = (uintptr_t)ob[k]->sut;
            f->obj_size[k] = ob[k]->size;
        }
    const obj *s = a ? a : b;
    if (s && s->sut && x->h) {
        ga_object_info in;
        memset(&in, 0, sizeof in);
        ga_lookup(x->h, s->sut, &in);
        f->span = in.span_base ? in.span_base : s->span;
        f->span_npages = in.span_base ? in.span_npages : s->span_npages;
        f->sizeclass = in.span_base ? in.sizeclass : s->sizeclass;
    }
    return true;
}

static bool report_finding(ex *x, unsigned check, const obj *a, const ga_report *r, const char *what)
{
    if (!ex_finding(x, check, a, NULL, "%s: %s (invariant %s, code %d)", what, r->message, r->invariant, r->code))
        return false;
    x->f->report = *r;
    if (!x->f->span && r->span) x->f->span = r->span;
    return true;
}

void ex_tracef(ex *x, const char *fmt, ...)
{
    if (!x->o->trace) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(x->o->trace, fmt, ap);
    va_end(ap);
}

bool ex_verify_span_at(ex *x, obj *o, const void *p, uint64_t id)
{
    if (!(x->o->checks & GH_CHK_SPAN) || !p) return true;
    ga_report r;   /* ga_verify_span_ex clears it */
    /* per op: everything but the scan of the span's free bytes (A12), which the full check
     * does (ga_verify, or every span below when verify is off). An address galloc does not
     * own (a large object's span went back with its free) has no span to check: asked only
     * when the span check fails (both calls only read the heap), not before every check. */
    if (ga_verify_span_ex(x->h, p, GA_VERIFY_NO_ZERO_SCAN, &r) != 0) {
        ga_object_info in;
        if (ga_lookup(x->h, p, &in) == GA_ERR_NOT_OWNED) return true;
        EM("check_verify_span(o[%" PRIu64 "]);", id);
        return !report_finding(x, GH_CHK_SPAN, o, &r, "ga_verify_span");
    }
    return true;
}

const char *ex_stname(ga_status s)
{
    static const char *const n[] = { "GA_OK", "GA_ERR_NOT_OWNED", "GA_ERR_INTERIOR", "GA_ERR_DOUBLE_FREE", "GA_ERR_TINY", "GA_ERR_STATE" };
    return (unsigned)s < sizeof n / sizeof *n ? n[s] : "GA_ERR_?";
}

/* ---- misuse reports ---------------------------------------------------------------- */
void ex_on_misuse(void *ctx, ga_status st, const void *p, const char *what)
{
    ex *x = ctx;
    x->herr_calls++;
    x->herr_last_st = st;
    x->herr_last_p = p;
    snprintf(x->herr_last_what, sizeof x->herr_last_what, "%s", what ? what : "");
}

/* After a ga_free that returned `got` for p (calls counted from `before`). */
bool ex_check_report(ex *x, const obj *o, uint64_t before, ga_status got, const void *p)
{
    uint64_t n = x->herr_calls - before;
    if (got == GA_OK) {
        if (n == 0) return true;
        return !ex_finding(x, GH_CHK_STATUS, o, NULL, "ga_free(%p) returned GA_OK but reported misuse %s: %s",
                        p, ex_stname(x->herr_last_st), x->herr_last_what);
    }
    x->herr_expected += n;
    if (n != 1 || x->herr_last_st != got || x->herr_last_p != p)
        return !ex_finding(x, GH_CHK_STATUS, o, NULL, "ga_free(%p) returned %s but the error handler was called %" PRIu64 " time(s)%s%s%s",
                        p, ex_stname(got), n, n ? " (last: " : "", n ? ex_stname(x->herr_last_st) : "", n ? ")" : "");
    return true;
}

bool ex_check_no_stray_reports(ex *x)
{
    if (x->herr_calls == x->herr_expected) return true;
    x->herr_expected = x->herr_calls;
    return !ex_finding(x, GH_CHK_STATUS, NULL, NULL, "unexpected misuse report through the error handler: %s for %p: %s",
                    ex_stname(x->herr_last_st), x->herr_last_p, x->herr_last_what);
}

/* ---- allocation: expected shape --------------------------------------------------- */
static bool predict_tiny(size_t size, size_t align, unsigned flags, bool *maybe)
{
    bool elig = (flags & GA_NOSCAN) && !(flags & GA_NOTINY) && size >= 1 && size < GA_TINY_SIZE;
    *maybe = elig && align != 0;
    return elig && align == 0;
}

/* Predicted size class of a default-aligned request (spec §1.3; size 0 -> class 1). */
static unsigned predict_class(size_t size, unsigned flags, bool *header)
{
    *header = false;
    if (size == 0) return 1;
    if (!(flags & GA_NOSCAN) && size > GA_MIN_SIZE_FOR_HEADER) {
        if (size > GA_SMALL_CUTOFF) return 0;
        *header = true;
        return ga_size_to_class(size + GA_MALLOC_HEADER);
    }
    if (size > GA_SMALL_CUTOFF) return 0;
    return ga_size_to_class(size);
}

static size_t tiny_align(size_t size)
{
    if (size % 8 == 0) return 8;
    if (size % 4 == 0) return 4;
    if (size % 2 == 0) return 2;
    return 1;
}

/* Checks a freshly returned object (already in the shadow table as *o). */
bool ex_check_new_object(ex *x, obj *o, bool zero_promised)
{
    uintptr_t p = (uintptr_t)o->sut;
    EM("check_new(%" PRIu64 ", %zuu, %zuu, %#x, %d);", o->id, o->size, o->align, o->flags, zero_promised ? 1 : 0);
    /* alignment */
    bool tiny_maybe;
    bool tiny_pred = predict_tiny(o->size, o->align, o->flags, &tiny_maybe);
    ga_object_info in;
    memset(&in, 0, sizeof in);
    ga_status ls = ga_lookup(x->h, o->sut, &in);
    o->tiny = in.tiny;
    size_t nat = o->tiny ? tiny_align(o->size) : 8;
    if (o->align && p % o->align)
        if (ex_finding(x, GH_CHK_ALIGN, o, NULL, "object #%" PRIu64 " at %p is not aligned to %zu as asked", o->id, o->sut, o->align)) return false;
    if (p % nat)
        if (ex_finding(x, GH_CHK_ALIGN, o, NULL, "object #%" PRIu64 " (%zu bytes%s) at %p is not %zu-aligned", o->id, o->size, o->tiny ? ", tiny" : "", o->sut, nat)) return false;
    /* usable size */
    size_t us = ga_usable_size(x->h, o->sut);
    if (!o->tiny && us < o->size)
        if (ex_finding(x, GH_CHK_USABLE, o, NULL, "object #%" PRIu64 " at %p: ga_usable_size %zu < requested %zu", o->id, o->sut, us, o->size)) return false;
    if (o->tiny && us && us < o->size)
        if (ex_finding(x, GH_CHK_USABLE, o, NULL, "tiny object #%" PRIu64 " at %p: ga_usable_size %zu < requested %zu", o->id, o->sut, us, o->size)) return false;
    /* overlap */
    uint64_t other = ex_iv_insert(x, p, ex_obj_hi(o), o->id, o->tiny);
    if (other) {
        obj *ob = ex_find_id(x, other);
        if (ex_finding(x, GH_CHK_OVERLAP, o, ob, "object #%" PRIu64 " [%p, +%zu) overlaps live object #%" PRIu64 " [%p, +%zu)",
                    o->id, o->sut, o->size, other, ob ? ob->sut : NULL, ob ? ob->size : 0)) return false;
    }
    /* lookup */
    o->slot = in.slot;
    o->span = in.span_base;
    o->span_npages = in.span_npages;
    o->elemsize = in.elemsize;
    o->sizeclass = in.sizeclass;
    o->large = in.span_base && in.sizeclass == 0;
    if (x->o->checks & GH_CHK_LOOKUP) {
        char why[200] = "";
        uintptr_t send = in.span_base + in.span_npages * PAGE;
        if (ls == GA_ERR_NOT_OWNED || !in.span_base) snprintf(why, sizeof why, "ga_lookup says not owned (%s)", ex_stname(ls));
        else if (!in.allocated) snprintf(why, sizeof why, "ga_lookup says the slot is not allocated");
        else if (in.slot < in.span_base || in.slot + in.elemsize > send) snprintf(why, sizeof why, "slot %#" PRIxPTR "+%zu outside span %#" PRIxPTR "+%zu pages", in.slot, in.elemsize, in.span_base, in.span_npages);
        else if (p < in.slot || p + o->size > in.slot + in.elemsize) snprintf(why, sizeof why, "object [%#" PRIxPTR ", +%zu) not inside slot %#" PRIxPTR "+%zu", p, o->size, in.slot, in.elemsize);
        else if (tiny_pred != o->tiny && !tiny_maybe) snprintf(why, sizeof why, "tiny is %d, expected %d", (int)o->tiny, (int)tiny_pred);
        else if (o->tiny) {
            if (in.sizeclass != GA_TINY_SIZE_CLASS || in.spanclass != GA_TINY_SPAN_CLASS || in.elemsize != GA_TINY_SIZE)
                snprintf(why, sizeof why, "tiny object in class %u spanclass %u elemsize %zu", in.sizeclass, in.spanclass, in.elemsize);
            else if (ls != GA_OK && ls != GA_ERR_INTERIOR) snprintf(why, sizeof why, "ga_lookup returned %s", ex_stname(ls));
        } else {
            bool hdr;
            unsigned pc = predict_class(o->size, o->flags, &hdr);
            unsigned want_sc = (pc << 1) | ((o->flags & GA_NOSCAN) ? 1u : 0u);
            if (ls != GA_OK) snprintf(why, sizeof why, "ga_lookup returned %s for the object start", ex_stname(ls));
            else if (in.object != p) snprintf(why, sizeof why, "ga_lookup object %#" PRIxPTR " != returned pointer", in.object);
            else if (in.usable != us) snprintf(why, sizeof why, "ga_lookup usable %zu != ga_usable_size %zu", in.usable, us);
            else if ((in.spanclass >> 1) != in.sizeclass) snprintf(why, sizeof why, "spanclass %u does not match sizeclass %u", in.spanclass, in.sizeclass);
            else if (in.sizeclass && (in.elemsize != ga_class_to_size[in.sizeclass] || in.span_npages != ga_class_to_npages[in.sizeclass]))
                snprintf(why, sizeof why, "class %u has elemsize %zu npages %zu, table says %u/%u", in.sizeclass, in.elemsize, in.span_npages,
                         (unsigned)ga_class_to_size[in.sizeclass], (unsigned)ga_class_to_npages[in.sizeclass]);
            else if (!in.sizeclass && (in.elemsize != in.span_npages * PAGE || in.slot != in.span_base))
                snprintf(why, sizeof why, "large span: elemsize %zu, npages %zu, slot %#" PRIxPTR " (base %#" PRIxPTR ")", in.elemsize, in.span_npages, in.slot, in.span_base);
            else if (o->align == 0 && in.spanclass != want_sc)
                snprintf(why, sizeof why, "request of %zu bytes (%s) got spanclass %u (class %u), expected %u (class %u)", o->size,
                         (o->flags & GA_NOSCAN) ? "noscan" : "scan", in.spanclass, in.sizeclass, want_sc, pc);
            else if (o->align == 0 && hdr && p != in.slot + GA_MALLOC_HEADER)
                snprintf(why, sizeof why, "scan object with malloc header at %#" PRIxPTR ", slot %#" PRIxPTR " (expected slot+8)", p, in.slot);
        }
        if (why[0] && ex_finding(x, GH_CHK_LOOKUP, o, NULL, "object #%" PRIu64 " (%zu bytes, align %zu, flags %#x) at %p: %s",
                              o->id, o->size, o->align, o->flags, o->sut, why))
            return false;
    }
    /* zeroing */
    if (zero_promised && o->size) {
        pat_ctx pc;
        if (!ex_zero_check(o->sut, o->size, &pc))
            if (ex_finding(x, GH_CHK_ZERO, o, NULL, "object #%" PRIu64 " (%zu bytes at %p) promised zeroed: byte %zu is 0x%02x",
                        o->id, o->size, o->sut, pc.bad, pc.got)) return false;
    }
    if (!ex_check_pages(x, o)) return false;
    if (!ex_verify_span_at(x, o, o->sut, o->id)) return false;
    return true;
}

const char *ex_errname(int e)
{
    static _Thread_local char b[24];
    if (e == ENOMEM) return "ENOMEM";
    if (e == EINVAL) return "EINVAL";
    snprintf(b, sizeof b, "errno %d", e);
    return b;
}

/* ---- statistics ----------------------------------------------------------------- */
/* `exact`: at a point where galloc has swept everything and flushed every cache (right
 * after ga_gc_begin), so nothing the shadow freed may still be counted. */
bool ex_check_stats(ex *x, bool exact)
{
    if (!(x->o->checks & GH_CHK_STATS)) return true;
    ga_stats s;
    memset(&s, 0, sizeof s);
    ga_read_stats(x->h, &s);
    uint64_t lo = x->live_nontiny + x->nblk;
    uint64_t hi = lo + (exact ? 0 : x->pending_objs);
    uint64_t blo = x->live_slot_bytes, bhi = blo + (exact ? 0 : x->pending_bytes);
    uint64_t llo = x->live_large, lhi = llo + (exact ? 0 : x->pending_large);
    uint64_t live_large = s.large_alloc_count - s.large_free_count;
    char why[400] = "";
    if (s.mallocs != x->exp_mallocs)
        snprintf(why, sizeof why, "mallocs %" PRIu64 " != %" PRIu64 " successful allocations", s.mallocs, x->exp_mallocs);
    else if (s.heap_objects != s.mallocs - s.frees)
        snprintf(why, sizeof why, "heap_objects %" PRIu64 " != mallocs %" PRIu64 " - frees %" PRIu64, s.heap_objects, s.mallocs, s.frees);
    else if (s.heap_objects < lo || s.heap_objects > hi)
        snprintf(why, sizeof why, "heap_objects %" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "] (live non-tiny %" PRIu64 " + tiny blocks %zu, %" PRIu64 " freed but maybe unswept)",
                 s.heap_objects, lo, hi, x->live_nontiny, x->nblk, exact ? 0 : x->pending_objs);
    else if (s.large_alloc_count != x->exp_large_count || s.large_alloc != x->exp_large_bytes)
        snprintf(why, sizeof why, "large_alloc_count/large_alloc %" PRIu64 "/%" PRIu64 " != %" PRIu64 "/%" PRIu64,
                 s.large_alloc_count, s.large_alloc, x->exp_large_count, x->exp_large_bytes);
    else if (live_large < llo || live_large > lhi)
        snprintf(why, sizeof why, "live large objects %" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "]", live_large, llo, lhi);
    else if (s.heap_alloc < blo || s.heap_alloc > bhi)
        snprintf(why, sizeof why, "heap_alloc %" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "]", s.heap_alloc, blo, bhi);
    else if (s.total_alloc != x->exp_total_alloc)
        snprintf(why, sizeof why, "total_alloc %" PRIu64 " != %" PRIu64, s.total_alloc, x->exp_total_alloc);
    else if (s.heap_idle + s.heap_inuse != s.heap_sys)
        snprintf(why, sizeof why, "heap_idle %" PRIu64 " + heap_inuse %" PRIu64 " != heap_sys %" PRIu64, s.heap_idle, s.heap_inuse, s.heap_sys);
    else if (s.heap_inuse != s.pages_inuse * PAGE)
        snprintf(why, sizeof why, "heap_inuse %" PRIu64 " != pages_inuse %" PRIu64 " * 8192", s.heap_inuse, s.pages_inuse);
    else if (s.heap_released > s.heap_idle)
        snprintf(why, sizeof why, "heap_released %" PRIu64 " > heap_idle %" PRIu64, s.heap_released, s.heap_idle);
    else if (s.heap_alloc > s.heap_inuse)
        snprintf(why, sizeof why, "heap_alloc %" PRIu64 " > heap_inuse %" PRIu64, s.heap_alloc, s.heap_inuse);
    else if (s.num_gc != x->exp_gcs)
        snprintf(why, sizeof why, "num_gc %" PRIu64 " != %" PRIu64 " cycles", s.num_gc, x->exp_gcs);
    if (why[0]) {
        EM("check_stats(%" PRIu64 ", %" PRIu64 ", %" PRIu64 ");", x->exp_mallocs, lo, hi);
        return !ex_finding(x, GH_CHK_STATS, NULL, NULL, "statistics%s: %s", exact ? " (after ga_gc_begin)" : "", why);
    }
    if (exact) x->pending_objs = x->pending_bytes = x->pending_large = 0;
    return true;
}

static bool check_live_object(ex *x, obj *o, const char *when)
{
    if (!ex_check_pages(x, o)) return false;
    if (x->o->checks & GH_CHK_LOOKUP) {
        ga_object_info in;
        ga_status ls = ga_lookup(x->h, o->sut, &in);
        if (ls == GA_ERR_NOT_OWNED || !in.allocated || (!o->tiny && (ls != GA_OK || in.object != (uintptr_t)o->sut)))
            if (ex_finding(x, GH_CHK_LOOKUP, o, NULL, "live object #%" PRIu64 " (%zu bytes at %p) %s: ga_lookup -> %s, allocated %d, object %#" PRIxPTR,
                        o->id, o->size, o->sut, when, ex_stname(ls), (int)in.allocated, in.object))
                return false;
    }
    if (o->align && (uintptr_t)o->sut % o->align)
        if (ex_finding(x, GH_CHK_ALIGN, o, NULL, "live object #%" PRIu64 " at %p is not aligned to %zu", o->id, o->sut, o->align)) return false;
    return ex_check_obj_content(x, o, when);
}

bool ex_check_all_objects(ex *x, const char *when)
{
    for (size_t i = 0; i < x->nobj; i++)
        if (!check_live_object(x, &x->objs[i], when)) return false;
    return true;
}

/* After a scavenge: the live objects whose slot shares a byte with a range the heap passed
 * to `unused` (every object if more ranges came than were recorded). Elsewhere the op
 * changed no byte and no page state: the span model (every span, after this op) and the
 * next full check see the rest. A heap that releases a live object's pages names them in
 * its own unused call, so the cost follows what the scavenge releases, not the heap. */
bool ex_check_unused_objects(ex *x, const char *when)
{
    if (x->unused_overflow) return ex_check_all_objects(x, when);
    for (size_t i = 0; i < x->nobj; i++) {
        obj *o = &x->objs[i];
        uintptr_t lo = o->slot ? o->slot : (uintptr_t)o->sut, hi = (uintptr_t)o->sut + (o->size ? o->size : 1);
        for (size_t k = 0; k < x->nunused; k++)
            if (lo < x->unused[k].hi && x->unused[k].lo < hi) {
                if (!check_live_object(x, o, when)) return false;
                break;
            }
    }
    return true;
}

/* ---- full check --------------------------------------------------------------------- */
static bool full_check(ex *x);
bool ex_full_check(ex *x)
{
    x->in_full = true;
    bool ok = full_check(x);
    x->in_full = false;
    return ok;
}

static bool full_check(ex *x)
{
    x->st->full_checks++;
    EM("full_check();");
    if (!ex_check_all_objects(x, "at full check")) return false;
    if (x->o->checks & GH_CHK_VERIFY) {
        ga_report r;
        memset(&r, 0, sizeof r);
        if (ga_verify(x->h, &r) != 0) return !report_finding(x, GH_CHK_VERIFY, NULL, &r, "ga_verify");
    } else if (x->o->checks & GH_CHK_SPAN) {   /* every span, in full */
        size_t n = ga_span_bases(x->h, NULL, 0);
        uintptr_t *b = malloc((n ? n : 1) * sizeof *b);
        if (b) {
            n = ga_span_bases(x->h, b, n);
            ga_report r;
            for (size_t i = 0; i < n; i++)
                if (ga_verify_span(x->h, (const void *)b[i], &r) != 0) {
                    free(b);
                    return !report_finding(x, GH_CHK_SPAN, NULL, &r, "ga_verify_span");
                }
            free(b);
        }
    }
    if (!ex_check_stats(x, false)) return false;
    if (!ex_check_os_violations(x)) return false;
    return ex_model_check_all(x);
}
