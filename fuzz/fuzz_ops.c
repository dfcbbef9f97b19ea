/*
 * fuzz_ops.c — fuzz target: whole op sequences through the harness executor.
 *
 * Input: any byte string, decoded by gh_decode (binary format v1, harness/FORMAT.md; every
 * byte string is a valid sequence). Text inputs ("galloc-ops 1" ...) are parsed instead, so
 * hand-written scenarios can sit in the corpus as they are; a text input that does not parse
 * is ignored (that is fuzz_text's business).
 * Each input runs on a fresh heap (gh_execute creates and destroys it), with the shadow
 * model, per-step checks, a full check after every op and the glibc differential oracle
 * (ops_options.c; GALLOC_FUZZ_* knobs). Any finding aborts with one line:
 *     GALLOC-FINDING target=fuzz_ops sig=ops/<check>[/<invariant>] plant=...: step N (op): message
 * Reproduce with `galloc-replay <flags printed> -v FILE` (no plant) or
 * `GALLOC_PLANT=name fuzz_ops_tool minimize FILE` (with one).
 * Calls: harness.h only.
 */
#include "fuzz.h"
#include "ops_options.h"

#include <stdlib.h>

static gh_options g_opt;
static bool g_init;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!g_init) {
        gf_ops_options(&g_opt);
        g_init = true;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_init)
        LLVMFuzzerInitialize(NULL, NULL);
    gh_seq s;
    if (gh_is_text(data, size)) {
        gh_parse_error pe;
        if (gh_parse((const char *)data, size, &s, &pe) != 0)
            return 0;
    } else if (gh_decode(data, size, &s, NULL) != 0) {
        return 0;   /* out of memory while decoding: not the allocator's fault */
    }
    gh_finding f;
    int rc = gh_execute(&s, &g_opt, &f, NULL);
    if (rc < 0) {
        gh_seq_free(&s);
        gf_finding("fuzz_ops", "ops/harness-start", "the executor could not start a heap: %s", f.message);
    }
    if (rc == 1) {
        char sig[64], op[256] = "final full check";
        gf_ops_signature(&f, sig, sizeof sig);
        if (!f.final_check)
            gh_format_op(&f.op, op, sizeof op);
        char flags[128];
        gf_ops_replay_flags(&g_opt, flags, sizeof flags);
        gh_seq_free(&s);
        gf_finding("fuzz_ops", sig, "step %zu (%s): %s (galloc-replay %s)", f.step, op, f.message, flags);
    }
    gh_seq_free(&s);
    return 0;
}
