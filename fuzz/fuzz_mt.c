/*
 * fuzz_mt.c — fuzz target over interleavings (issue 15): the input is per-thread ops plus
 * scheduling choices (mt_decode_fuzz, harness/mt.h: byte 0 picks 2..4 threads, op records
 * until 0xff 0xff, then (gap, thread) preemption pairs), run under the controlled scheduler
 * in replay mode, so libFuzzer / AFL++ mutate the schedule as well as the ops and every
 * input is one exact, replayable execution.
 * Findings: GALLOC-FINDING target=fuzz_mt sig=mt/<check>[/<invariant>] (fuzz.h). Needs a
 * build with schedule points (the sched preset); elsewhere each input runs without them
 * (op boundaries only). GALLOC_PLANT switches on a planted bug (fuzz.h).
 * Calls: harness/mt.h, fuzz/fuzz.h.
 */
#include "fuzz.h"
#include "mt.h"
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    (void)gf_plant();   /* an unknown GALLOC_PLANT exits 2 before any input */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mt_prog p;
    if (mt_decode_fuzz(data, size, &p) != 0) return 0;
    mt_options o;
    memset(&o, 0, sizeof o);
    o.sched.strategy = GS_REPLAY;
    o.plant = gf_plant();
    mt_finding f;
    int rc = mt_run(&p, &o, &f, NULL);
    mt_prog_free(&p);
    if (rc == 1) {
        char sig[64];
        snprintf(sig, sizeof sig, "mt/%s%s%s", f.what, f.invariant[0] ? "/" : "", f.invariant);
        gf_finding("fuzz_mt", sig, "plant=%s thread %d op %zu decision %zu: %s", gf_plant_label(), f.tid, f.op, f.decision,
                   f.message);
    }
    return 0;
}
