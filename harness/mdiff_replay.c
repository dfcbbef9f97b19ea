/*
 * mdiff_replay.c — galloc-replay's malloc mode: the command line of the malloc-API
 * differential (mdiff.h). harness/replay.c hands over when an argument is --malloc or an
 * input file starts with "galloc-malloc".
 *
 *   galloc-replay --malloc [-v] [-q] [--missing-ok] [--plant NAME] [--budget N] FILE|DIR...
 *   galloc-replay --malloc --to-text|--to-binary [-o OUT] FILE
 *   galloc-replay --malloc --generate N [--seed S] [-o OUT]
 *   galloc-replay --malloc --legit          (prints the table of legitimate differences)
 *
 * Exit: 0 every input clean, 1 a finding, 2 bad usage or an unreadable / unparsable input.
 * Owns: only this CLI. Calls: mdiff.h, harness.h (gh_read_file, gh_parse_size).
 */
#define _GNU_SOURCE 1
#include "mdiff.h"
#include "harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *MUSAGE =
"usage: galloc-replay --malloc [options] FILE|DIR...\n"
"Replays malloc-API op sequences (text 'galloc-malloc 1' or binary) through libgalloc's API\n"
"(test build, gm_*) and glibc's, comparing after every op (harness/MDIFF.md).\n"
"  -v, --verbose        print the op trace\n"
"  -q, --quiet          print findings only\n"
"  --missing-ok         a missing input is not an error\n"
"  --plant NAME         a planted API bug (alloc/malloc_test.h); 'list' prints them\n"
"  --budget N           live bytes per side (default 32m)\n"
"  --to-text, --to-binary  convert (with -o OUT, default stdout)\n"
"  --generate N [--seed S]  write a random sequence of N ops as text\n"
"  --legit              print the table of legitimate differences from glibc\n";

bool gm_replay_wanted(int argc, char **argv)
{
    /* galloc-replay's options that take a value: that value is not an input */
    static const char *const VALUED[] = { "-o", "--check-every", "--budget", "--max-heap", "--max-runs", "--fault-step",
                                          "--bench", "--seed", "--generate", "--checks", "--disable", "--fault",
                                          "--alloc-plant", "--plant" };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--malloc") == 0) return true;
        if (argv[i][0] == '-') {
            for (size_t k = 0; k < sizeof VALUED / sizeof VALUED[0]; k++)
                if (strcmp(argv[i], VALUED[k]) == 0) { i++; break; }
            continue;
        }
        char b[16];
        size_t n = gh_sniff_file(argv[i], b, sizeof b);         /* regular files only */
        if (gm_is_text((const uint8_t *)b, n)) return true;
    }
    return false;
}

typedef struct mcli {
    gm_options o;
    bool verbose, quiet, missing_ok, to_text, to_binary;
    const char *out;
    int nfiles, nfindings, nerrors;
} mcli;

static void one(mcli *c, const char *path)
{
    uint8_t *d;
    size_t n;
    c->nfiles++;
    if (gh_read_file(path, &d, &n) != 0) {
        fprintf(stderr, "galloc-replay: %s: cannot read: %s\n", path, strerror(errno));
        c->nerrors++;
        return;
    }
    gm_seq s;
    char err[256];
    int rc = gm_load(d, n, &s, err, sizeof err);
    free(d);
    if (rc != 0) { fprintf(stderr, "%s:%s\n", path, err); c->nerrors++; return; }
    if (c->to_text || c->to_binary) {
        FILE *f = c->out && strcmp(c->out, "-") ? fopen(c->out, "wb") : stdout;
        if (!f) { fprintf(stderr, "galloc-replay: %s: cannot write: %s\n", c->out, strerror(errno)); c->nerrors++; gm_seq_free(&s); return; }
        int r = 0;
        if (c->to_text) r = gm_format(&s, f);
        else {
            uint8_t *b;
            size_t bn;
            r = gm_encode(&s, &b, &bn);
            if (r == 0) { if (fwrite(b, 1, bn, f) != bn) r = -1; free(b); }
        }
        if ((f == stdout ? fflush(f) : fclose(f)) != 0 || r != 0) { fprintf(stderr, "galloc-replay: %s: conversion failed\n", path); c->nerrors++; }
        gm_seq_free(&s);
        return;
    }
    gm_options o = c->o;
    o.trace = c->verbose ? stdout : NULL;
    if (c->verbose) printf("== %s (%zu ops)\n", path, s.n);
    gm_finding f;
    gm_stats st;
    gm_execute(&s, &o, &f, &st);
    if (f.found) {
        char line[160] = "end-of-run check";
        if (f.step < s.n) gm_format_op(&f.op, line, sizeof line);
        printf("FINDING: check '%s' failed at step %zu (%s) of %s: %s\n", gm_check_name(f.check), f.step, line, path, f.message);
        printf("  reproduce: galloc-replay --malloc%s%s -v %s\n", o.plant ? " --plant " : "", o.plant ? gm_plant_name(o.plant) : "", path);
        c->nfindings++;
    } else if (!c->quiet) {
        printf("ok   %s: %zu ops (%zu calls, %zu skipped, %zu misuse reports)\n", path, s.n, st.calls, st.ops_skipped, st.misuse_reports);
    }
    if (c->verbose)
        for (size_t k = 0; k < gm_legit_count() && k < 32; k++)
            if (st.legit_used[k]) printf("  relied on %zu time(s): %s\n", st.legit_used[k], gm_legit_what(k));
    gm_seq_free(&s);
}

/* Walking inputs is harness/inputs.c's (gh_walk_inputs), shared with galloc-replay. */
static void on_file(void *ctx, const char *path) { one(ctx, path); }
static void on_error(void *ctx, const char *path, int err, int depth)
{
    mcli *c = ctx;
    if (depth == 0 && err == ENOENT && c->missing_ok) return;
    fprintf(stderr, "galloc-replay: %s: %s\n", path, strerror(err));
    c->nerrors++;
}

int gm_replay_main(int argc, char **argv)
{
    mcli c;
    memset(&c, 0, sizeof c);
    gm_options_default(&c.o);
    uint64_t generate = 0, seed = 1;
    char **in = calloc((size_t)argc + 1, sizeof *in);
    int nin = 0;
    if (!in) return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "--malloc") == 0) continue;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { fputs(MUSAGE, stdout); free(in); return 0; }
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) c.verbose = true;
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) c.quiet = true;
        else if (strcmp(a, "--missing-ok") == 0) c.missing_ok = true;
        else if (strcmp(a, "--to-text") == 0) c.to_text = true;
        else if (strcmp(a, "--to-binary") == 0) c.to_binary = true;
        else if (strcmp(a, "--legit") == 0) {
            for (size_t k = 0; k < gm_legit_count(); k++) printf("%-2zu %s\n   %s\n", k, gm_legit_what(k), gm_legit_reason(k));
            free(in);
            return 0;
        }
        else if (strcmp(a, "-o") == 0 && has) c.out = argv[++i];
        else if (strcmp(a, "--plant") == 0 && has) {
            const char *v = argv[++i];
            int p = gm_plant_from_name(v);
            if (p < 0 || strcmp(v, "list") == 0) {
                FILE *o = p < 0 && strcmp(v, "list") ? stderr : stdout;
                if (o == stderr) fprintf(stderr, "galloc-replay: unknown malloc plant '%s'; one of:", v);
                for (int k = 1; k < gm_plant_count(); k++) fprintf(o, " %s", gm_plant_name(k));
                fprintf(o, "\n");
                free(in);
                return o == stderr ? 2 : 0;
            }
            c.o.plant = p;
        }
        else if ((strcmp(a, "--budget") == 0 || strcmp(a, "--generate") == 0 || strcmp(a, "--seed") == 0) && has) {
            uint64_t v;
            if (!gh_parse_size(argv[++i], &v) || v > SIZE_MAX) { fprintf(stderr, "galloc-replay: %s: bad number '%s'\n", a, argv[i]); free(in); return 2; }
            if (a[2] == 'b') c.o.budget = (size_t)v;
            else if (a[2] == 'g') generate = v;
            else seed = v;
        }
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "galloc-replay: --malloc: unknown option or missing argument '%s'\n%s", a, MUSAGE); free(in); return 2; }
        else in[nin++] = argv[i];
    }
    if (generate) {
        gm_seq s;
        free(in);
        if (gm_generate(seed, (size_t)generate, &s) != 0) return 2;
        FILE *f = c.out && strcmp(c.out, "-") ? fopen(c.out, "w") : stdout;
        if (!f) { fprintf(stderr, "galloc-replay: %s: cannot write: %s\n", c.out, strerror(errno)); gm_seq_free(&s); return 2; }
        int r = gm_format(&s, f);
        gm_seq_free(&s);
        return ((f == stdout ? fflush(f) : fclose(f)) != 0 || r) ? 2 : 0;
    }
    if (!nin) { fprintf(stderr, "galloc-replay: --malloc: no input\n%s", MUSAGE); free(in); return 2; }
    if ((c.to_text || c.to_binary) && (nin > 1 || (c.to_text && c.to_binary))) {
        fprintf(stderr, "galloc-replay: --malloc: conversion takes one input and one of --to-text / --to-binary\n");
        free(in);
        return 2;
    }
    gh_walker w = { &c, on_file, on_error };
    for (int i = 0; i < nin; i++) gh_walk_inputs(&w, in[i]);
    free(in);
    if (!c.quiet && !c.to_text && !c.to_binary)
        printf("galloc-replay --malloc: %d input(s), %d finding(s), %d error(s) (plant %s)\n", c.nfiles, c.nfindings, c.nerrors,
               gm_plant_name(c.o.plant));
    if (c.nerrors) return 2;
    return c.nfindings ? 1 : 0;
}
