/*
 * fuzz_malloc.c — fuzz target: the malloc-API differential (harness/mdiff.h). Owns only the
 * glue between the fuzz drivers and gm_execute.
 *
 * Input: any byte string, decoded by gm_decode (binary form, harness/MDIFF.md: every byte
 * string is a valid sequence); inputs starting "galloc-malloc 1" are parsed as text (a
 * text input that does not parse is ignored). Each op goes through libgalloc's API (the
 * test build of alloc/malloc.c: gm_malloc, gm_free, ...; a fresh test heap per input,
 * gm_reset) and glibc's, and the two sides are compared after every op; every object is
 * given back at the end of the input. A finding aborts with one line:
 *     GALLOC-FINDING target=fuzz_malloc sig=malloc/<check> plant=...: step N (op): message
 * Reproduce with `galloc-replay --malloc [--plant NAME] -v FILE`.
 * Environment: GALLOC_MALLOC_PLANT=name (a planted API bug, alloc/malloc_test.h),
 * GALLOC_FUZZ_BUDGET (live bytes per side, default 32m).
 * Calls: harness/mdiff.h, fuzz.h.
 */
#include "fuzz.h"
#include "mdiff.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gm_options g_opt;
static bool g_init;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (g_init) return 0;
    gm_options_default(&g_opt);
    g_opt.budget = (size_t)gf_env_u64("GALLOC_FUZZ_BUDGET", g_opt.budget);
    const char *p = getenv("GALLOC_MALLOC_PLANT");
    if (p && *p && strcmp(p, "none") != 0) {
        g_opt.plant = gm_plant_from_name(p);
        if (g_opt.plant < 0) {
            fprintf(stderr, "fuzz_malloc: GALLOC_MALLOC_PLANT=%s is not a plant; known:", p);
            for (int k = 1; k < gm_plant_count(); k++) fprintf(stderr, " %s", gm_plant_name(k));
            fprintf(stderr, "\n");
            exit(2);
        }
    }
    g_init = true;
    /* The glibc twin's usable sizes (and so the harness's slack loops) must not drift with
     * glibc's dynamic mmap threshold over the life of the process: fix it. */
    mallopt(M_MMAP_THRESHOLD, 256 << 10);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    /* Warm-up: one run of every op kind, so that once-per-process set-up (the pthread key,
     * fork handlers, page size, first heap) is not counted against the first real input
     * (AFL++ stability). */
    static const char warm[] = "galloc-malloc 1\nmalloc 1\ncalloc 2 50000\nrealloc -1 100\nreallocarray null 3 4\n"
                               "posix_memalign 64 10\naligned_alloc 32 64\nmemalign 48 10\nvalloc 1\npvalloc 1\n"
                               "usable 0\nwrite 0 slack\ncheck\nfree 0\nfree_sized 0\nfree_aligned_sized 0\n"
                               "double-free 0\nfree-interior 0 1\nfree-foreign glibc\nrealloc-freed 0 1\n";
    gm_seq s;
    char err[256];
    gm_finding f;
    gm_options quiet = g_opt;
    quiet.plant = 0;
    if (gm_parse(warm, sizeof warm - 1, &s, err, sizeof err) == 0) {
        gm_execute(&s, &quiet, &f, NULL);
        gm_seq_free(&s);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_init) LLVMFuzzerInitialize(NULL, NULL);
    gm_seq s;
    char err[256];
    if (gm_load(data, size, &s, err, sizeof err) != 0) return 0;
    gm_finding f;
    int rc = gm_execute(&s, &g_opt, &f, NULL);
    if (rc < 0) {
        gm_seq_free(&s);
        gf_finding("fuzz_malloc", "malloc/harness-start", "%s", f.message);
    }
    if (rc == 1) {
        char sig[64], op[160] = "end-of-run check";
        snprintf(sig, sizeof sig, "malloc/%s", gm_check_name(f.check));
        if (f.step < s.n) gm_format_op(&f.op, op, sizeof op);
        gm_seq_free(&s);
        gf_finding("fuzz_malloc", sig, "step %zu (%s): %s (mplant=%s; galloc-replay --malloc%s%s)", f.step, op, f.message,
                   gm_plant_name(g_opt.plant), g_opt.plant ? " --plant " : "", g_opt.plant ? gm_plant_name(g_opt.plant) : "");
    }
    gm_seq_free(&s);
    return 0;
}
