/*
 * exec.c — the executor's driver: runs an op sequence on a fresh galloc heap (over a
 * ga_testos OS layer) and, in lockstep, on glibc malloc; keeps a shadow model of every
 * live object and checks both sides after every op. The first finding stops the run.
 *
 * Owns: gh_options defaults, check and fault names, the op loop (dispatch, the checks
 * after every op, full checks every check_every ops and at the end), teardown (galloc
 * gives everything back at once, and must give every byte back to the OS exactly once),
 * and printing findings. What each op does and checks lives in the exec_*.c files
 * (exec_internal.h lists them).
 *
 * Checks (GH_CHK_*; each one can be switched off so tests can show each one firing):
 * status, alignment, usable size, overlap, ga_lookup consistency, zeroing, OS page
 * states, contents, the span reference model and ga_verify_span on touched spans,
 * ga_verify and the statistics model at full checks, the glibc differential (oracle.c
 * has the policy).
 *
 * Calls: the exec_*.c files, galloc.h, os.h (testos), oracle.c.
 */
#include "exec_internal.h"

/* ---- driver ------------------------------------------------------------------------- */
void gh_options_default(gh_options *o)
{
    memset(o, 0, sizeof *o);
    o->checks = GH_CHK_ALL & ~GH_CHK_PLANTED;
    o->check_every = 64;
    o->diff = true;
    o->budget_bytes = (size_t)64 << 20;
    o->max_heap_bytes = (size_t)1 << 30;
    o->max_live = 4096;
    o->planted_lo = 1000;
    o->planted_hi = 2000;
    o->planted_min_live = 3;
}

static const char *const check_names[] = {
    "status", "align", "lookup", "usable", "overlap", "content", "zero", "span",
    "verify", "stats", "diff", "os", "planted", "model",
};
const char *gh_check_name(unsigned check)
{
    for (unsigned i = 0; i < sizeof check_names / sizeof *check_names; i++)
        if (check == 1u << i) return check_names[i];
    return "?";
}
unsigned gh_check_from_name(const char *name)
{
    for (unsigned i = 0; i < sizeof check_names / sizeof *check_names; i++)
        if (strcmp(name, check_names[i]) == 0) return 1u << i;
    return 0;
}

static const char *const fault_names[GH_NFAULTS] = {
    "none", "scribble", "hidden-free", "hidden-alloc", "free-slot", "ptr-flip", "alias",
    "dirty-zero", "undersize", "ref-scribble", "sut-fail", "touch-released", "cold-slot",
};
const char *gh_fault_name(unsigned f) { return f < GH_NFAULTS ? fault_names[f] : "?"; }
int gh_fault_from_name(const char *name)
{
    for (int i = 0; i < GH_NFAULTS; i++) if (strcmp(name, fault_names[i]) == 0) return i;
    return -1;
}

static int run(const gh_seq *s, const gh_options *opt, gh_finding *f, gh_exec_stats *st, FILE *emit)
{
    gh_options defaults;
    if (!opt) { gh_options_default(&defaults); opt = &defaults; }
    gh_finding fdummy;
    gh_exec_stats sdummy;
    if (!f) f = &fdummy;
    if (!st) st = &sdummy;
    memset(f, 0, sizeof *f);
    memset(st, 0, sizeof *st);
    ex xs;
    ex *x = &xs;
    memset(x, 0, sizeof *x);
    x->o = opt;
    x->f = f;
    x->st = st;
    x->emit = emit;
    gh_ref_init(&x->ref, opt->budget_bytes);
    x->tos = ga_testos_new(opt->os);
    if (!x->tos) { snprintf(f->message, sizeof f->message, "ga_testos_new failed"); return -1; }
    ex_os_init(x);
    ga_heap_options ho;
    memset(&ho, 0, sizeof ho);
    ho.os = &x->wrap;
    ho.no_green_tea = opt->no_green_tea;
    ho.poison_free = opt->poison_free;
    ho.max_heap_bytes = opt->max_heap_bytes;
    ho.plant = opt->alloc_plant;
    /* faults that read or write memory galloc considers free must not trip ASan's manual
     * poisoning of free slots (alloc/sanitize.h) */
    ho.no_poison = opt->no_poison || opt->fault == GH_FAULT_FREE_SLOT || opt->fault == GH_FAULT_COLD_SLOT ||
                   opt->fault == GH_FAULT_HIDDEN_FREE;
    x->h = ga_heap_new(&ho);
    if (!x->h) {
        snprintf(f->message, sizeof f->message, "ga_heap_new failed: errno %d", errno);
        ga_testos_free(x->tos);
        return -1;
    }
    ga_set_error_handler(x->h, ex_on_misuse, x);
    x->cur = 0;
    for (size_t i = 0; i < s->n && !ex_found(x); i++) {
        const gh_op *op = &s->ops[i];
        x->step = i;
        x->op = op;
        st->ops_run++;
        if (op->kind < GH_NKINDS) st->op_count[op->kind]++;
        if (opt->trace || emit) {
            char line[256];
            gh_format_op(op, line, sizeof line);
            ex_tracef(x, "[%5zu] %-40s", i, line);
            if (emit) fprintf(emit, "\n    step(%zu, \"%s\");\n", i, line);
        }
        switch (op->kind) {
        case GH_MALLOC: ex_op_malloc(x, op); break;
        case GH_CALLOC: ex_op_calloc(x, op); break;
        case GH_REALLOC: ex_op_realloc(x, op); break;
        case GH_ALIGNED: ex_op_aligned(x, op); break;
        case GH_FREE: ex_op_free(x, op); break;
        case GH_USABLE: ex_op_usable(x, op); break;
        case GH_WRITE: ex_op_write(x, op); break;
        case GH_CHECK: ex_op_check(x, op); break;
        case GH_CACHE: ex_op_cache(x, op); break;
        case GH_RELEASE: ex_op_release(x); break;
        case GH_DESTROY: ex_op_destroy(x); break;
        case GH_GC: ex_op_gc(x, op); break;
        case GH_SCAVENGE: ex_op_scavenge(x, op); break;
        case GH_FAIL_OS: ex_op_fail_os(x, op); break;
        case GH_VERIFY: ex_full_check(x); break;
        case GH_DOUBLE_FREE: ex_op_double_free(x, op); break;
        case GH_FREE_FOREIGN: ex_op_free_foreign(x, op); break;
        case GH_FREE_INTERIOR: ex_op_free_interior(x, op); break;
        case GH_GC_BEGIN: ex_op_gc_begin(x); break;
        case GH_GC_MARK: ex_op_gc_mark(x, op); break;
        case GH_GC_END: ex_op_gc_end(x); break;
        case GH_SWEEP: ex_op_sweep(x, op); break;
        default: break;
        }
        ex_tracef(x, "\n");
        if (ex_found(x)) break;
        if (!ex_check_no_stray_reports(x)) break;
        if (!ex_check_os_violations(x)) break;
        if (!ex_model_check(x)) break;
        if (opt->check_every == 1 && !ex_check_stats(x, false)) break;
        if (opt->fault && !ex_in_step_fault(opt->fault) && !x->fault_done && i >= opt->fault_step) ex_apply_after_fault(x);
        if (opt->check_every && (i + 1) % opt->check_every == 0 && op->kind != GH_VERIFY) ex_full_check(x);
    }
    if (!ex_found(x)) {
        x->step = s->n;
        x->op = NULL;
        ex_gc_finish(x);
        if (!ex_found(x)) ex_full_check(x);
        if (ex_found(x)) f->final_check = true;
    }
    /* teardown: galloc gives back everything at once; glibc twins one by one */
    for (size_t i = 0; i < x->nobj; i++)
        if (x->objs[i].ref) gh_ref_free(&x->ref, x->objs[i].ref, x->objs[i].ref_size ? x->objs[i].ref_size : x->objs[i].size);
    ga_heap_destroy(x->h);
    if (!ex_found(x)) {
        /* Teardown must give every region and metadata block back, each exactly once (a
         * second release could unmap memory the process reused in between). */
        bool final_found = !ex_check_os_violations(x);
        uint64_t meta = ga_testos_meta_live(x->tos), held = 0;
        for (int st = GA_PAGE_RESERVED; st <= GA_PAGE_READY; st++) held += ga_testos_bytes_in_state(x->tos, (enum ga_page_state)st);
        if (!final_found && (x->o->checks & GH_CHK_OS) && (held || meta))
            final_found = !ex_finding(x, GH_CHK_OS, NULL, NULL, "ga_heap_destroy left %" PRIu64 " bytes of heap regions and %" PRIu64
                                   " bytes of metadata with the OS", held, meta);
        if (final_found) f->final_check = true;
    }
    ga_testos_free(x->tos);
    free(x->objs);
    free(x->iv);
    free(x->blk);
    free(x->pend);
    return f->found ? 1 : 0;
}

/* The per-op checks look at what each op touched; full checks (every check_every ops and
 * at the end) look at everything. When a full check finds what the per-op checks missed,
 * the failing step is somewhere since the last full check: the same input runs again with
 * a full check after every op, which names the first step at which the heap is wrong. */
int gh_execute(const gh_seq *s, const gh_options *opt, gh_finding *f, gh_exec_stats *st)
{
    int rc = run(s, opt, f, st, NULL);
    if (rc == 1 && f && f->at_full_check && opt && opt->check_every != 1) {
        gh_options every = *opt;
        every.check_every = 1;
        every.trace = NULL;
        gh_finding g;
        if (run(s, &every, &g, NULL, NULL) == 1 && g.step <= f->step) {
            *f = g;
            f->located = true;
        }
    }
    return rc;
}

int gh_execute_emit(const gh_seq *s, const gh_options *opt, gh_finding *f, FILE *emit)
{
    return run(s, opt, f, NULL, emit);
}

void gh_print_finding(FILE *out, const gh_finding *f, const char *source)
{
    char line[256] = "(end of sequence: final full check)";
    if (!f->final_check) gh_format_op(&f->op, line, sizeof line);
    fprintf(out, "FINDING: check '%s' failed at step %zu", gh_check_name(f->check), f->step);
    if (source) fprintf(out, " of %s", source);
    if (f->op.line) fprintf(out, " (line %u)", f->op.line);
    fprintf(out, "\n  op:        %s\n  violation: %s\n", line, f->message);
    if (f->located)
        fprintf(out, "  located:   a periodic full check found it; re-run with a full check after every op, it shows at this step\n");
    if (f->report.code)
        fprintf(out, "  ga_report: code %d, invariant %s, span %#" PRIxPTR ", addr %#" PRIxPTR ", slot %ld\n             %s\n",
                f->report.code, f->report.invariant, f->report.span, f->report.addr, f->report.slot, f->report.message);
    for (int k = 0; k < 2; k++)
        if (f->obj_id[k])
            fprintf(out, "  object:    #%" PRIu64 " at %#" PRIxPTR ", %zu bytes\n", f->obj_id[k], f->obj_addr[k], f->obj_size[k]);
    if (f->span)
        fprintf(out, "  span:      %#" PRIxPTR ", %zu page(s), size class %u\n", f->span, f->span_npages, f->sizeclass);
}
