/*
 * ops_options.c — the executor options of fuzz_ops (and fuzz_ops_tool), and the plant hook.
 *
 * Default = `galloc-replay --check-every 128`: the per-op checks of what each op touched
 * (new and freed objects, their spans through ga_verify_span and the span model), a full
 * check (ga_verify, every object, every span, statistics) every 128 ops and after the last,
 * the glibc differential oracle, 64 MiB of live objects per side. A finding of a full check
 * is located by re-running the input with a full check after every op (gh_execute), so it
 * names the same step as --check-every 1. 128 from fuzz/bench.sh (callgrind, 20 inputs of
 * 100 small-object ops): a full check costs ~170k instructions, as much as ~15 checked ops,
 * so one every 32 ops made 28% of the time; what it finds that the per-op checks and the
 * final check do not is a fault that heals before the end (a dirty free slot handed out
 * again), rare enough that inputs shorter than 128 ops get the final check only.
 * Knobs, for faster campaign instances (campaign.sh runs a "fast" and a "wide" setting):
 *   GALLOC_FUZZ_CHECK_EVERY=N   full check every N ops (1 = after every op, 0 = only after the last op)
 *   GALLOC_FUZZ_BUDGET=BYTES    live bytes per side (default 64m, as galloc-replay); filling
 *                               and checking objects of tens of MiB after every op dominates
 *                               execution time, 4m is 5-10x faster (but cannot reach bugs
 *                               that need a heap of several 4 MiB chunks, e.g. summary-merge)
 *   GALLOC_FUZZ_NO_DIFF=1       no glibc side
 *   GALLOC_FUZZ_OS=MODE         where heaps get memory: `keep` (default) recycles the
 *                               previous heap's regions and leaves them mapped RW (ga_reuseos
 *                               with GA_REUSE_KEEP_MAPPED: no system call per input);
 *                               `reuse` recycles them but makes them PROT_NONE again, so a
 *                               stray touch of an unmapped page faults as with fresh memory;
 *                               `fresh` maps fresh memory from the kernel for every heap.
 *                               GALLOC_FUZZ_FRESH_OS=1 is the old spelling of `fresh`.
 * gf_ops_replay_flags() spells the same options as galloc-replay flags.
 *
 * GALLOC_PLANT sets gh_options.alloc_plant (ga_heap_options.plant of every heap the
 * executor creates); galloc-replay's --alloc-plant NAME does the same.
 * Calls: harness.h, galloc.h.
 */
#include "ops_options.h"
#include "fuzz.h"
#include "os.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gf_ops_options(gh_options *o)
{
    gh_options_default(o);
    o->check_every = (size_t)gf_env_u64("GALLOC_FUZZ_CHECK_EVERY", 128);
#ifdef GF_DEFAULT_BUDGET   /* OSS-Fuzz / ClusterFuzzLite builds, where no environment can be set */
    o->budget_bytes = (size_t)gf_env_u64("GALLOC_FUZZ_BUDGET", GF_DEFAULT_BUDGET);
#else
    o->budget_bytes = (size_t)gf_env_u64("GALLOC_FUZZ_BUDGET", o->budget_bytes);
#endif
    if (gf_env_u64("GALLOC_FUZZ_NO_DIFF", 0))
        o->diff = false;
    /* Every heap recycles the previous one's memory (os.h, ga_reuseos): no mmap/munmap and
     * no page faults per input. Lives as long as the process, like the fuzzer's own state. */
    static ga_reuseos *reuse;
    const char *mode = getenv("GALLOC_FUZZ_OS");
    if (!mode || !*mode) mode = gf_env_u64("GALLOC_FUZZ_FRESH_OS", 0) ? "fresh" : "keep";
    if (strcmp(mode, "keep") && strcmp(mode, "reuse") && strcmp(mode, "fresh")) {
        fprintf(stderr, "galloc-fuzz: GALLOC_FUZZ_OS=%s: want keep, reuse or fresh\n", mode);
        exit(2);
    }
    if (strcmp(mode, "fresh") &&
        (reuse || (reuse = ga_reuseos_new(NULL, strcmp(mode, "keep") ? 0 : GA_REUSE_KEEP_MAPPED)))) {
        o->os = ga_reuseos_os(reuse);
        /* The glibc side likewise: serve big blocks from the heap, not fresh mmaps, and
         * keep freed memory (its results do not depend on where memory comes from). */
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
        mallopt(M_TRIM_THRESHOLD, 256 << 20);
    }
    o->alloc_plant = gf_plant();
}

int gf_ops_replay_flags(const gh_options *o, char *buf, size_t n)
{
    gh_options d;
    gh_options_default(&d);
    int k = snprintf(buf, n, "--check-every %zu", o->check_every);
    if (o->budget_bytes != d.budget_bytes && k >= 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, " --budget %zu", o->budget_bytes);
    if (!o->diff && k >= 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, " --no-diff");
    if (o->alloc_plant && k >= 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, " --alloc-plant %s", ga_plant_name(o->alloc_plant));
    return k;
}

void gf_ops_signature(const gh_finding *f, char *buf, size_t n)
{
    const char *check = gh_check_name(f->check);
    if (f->report.code && f->report.invariant[0])
        snprintf(buf, n, "ops/%s/%s", check, f->report.invariant);
    else
        snprintf(buf, n, "ops/%s", check);
    for (char *p = buf; *p; p++)
        if (*p == ' ')
            *p = '_';
}
