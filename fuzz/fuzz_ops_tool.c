/*
 * fuzz_ops_tool.c — helpers for fuzz_ops crashes and dictionaries, with exactly the
 * executor options of the fuzz_ops target (ops_options.c: GALLOC_FUZZ_* and GALLOC_PLANT
 * from the environment), so campaign.sh minimizes and emits reproducers in the setting a
 * crash was found with. (galloc-replay --minimize / --emit-c with the flags printed in the
 * finding line do the same by hand.)
 *
 *   fuzz_ops_tool run FILE...                       print "sig=... <finding>" or "clean" per file;
 *                                                   exit 1 if any finding
 *   fuzz_ops_tool minimize FILE -o OUT.txt [--binary-out OUT.bin] [--max-runs N]
 *                                                   gh_minimize (op-aware delta debugging), keeping
 *                                                   the finding's check and invariant; exit 3 if the
 *                                                   file does not fail
 *   fuzz_ops_tool emit-c FILE -o OUT.c              gh_emit_c (with GALLOC_PLANT set, the program
 *                                                   plants the same bug: ho.plant)
 *   fuzz_ops_tool mkdict [-o FILE] [--check FILE]   the binary dictionary fuzz/dict/ops_binary.dict
 *                                                   (every interesting op, encoded); --check: exit 1
 *                                                   if FILE differs (ctest fuzz.dict)
 * Calls: harness.h, ops_options.h, sizeclass.h (class sizes for the dictionary).
 */
#define _GNU_SOURCE 1
#include "fuzz.h"
#include "ops_options.h"
#include "sizeclass.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load(const char *path, gh_seq *s)
{
    uint8_t *d;
    size_t n;
    if (gh_read_file(path, &d, &n) != 0) {
        fprintf(stderr, "fuzz_ops_tool: %s: cannot read: %s\n", path, strerror(errno));
        return -1;
    }
    int rc;
    if (gh_is_text(d, n)) {
        gh_parse_error pe;
        rc = gh_parse((const char *)d, n, s, &pe);
        if (rc)
            fprintf(stderr, "%s:%u:%u: error: %s\n", path, pe.line, pe.col, pe.msg);
    } else {
        rc = gh_decode(d, n, s, NULL);
    }
    free(d);
    return rc;
}

static void describe(const gh_finding *f, char *sig, size_t nsig, char *line, size_t nline)
{
    char op[256] = "final full check";
    gf_ops_signature(f, sig, nsig);
    if (!f->final_check)
        gh_format_op(&f->op, op, sizeof op);
    snprintf(line, nline, "step %zu (%s): %s", f->step, op, f->message);
    for (char *p = line; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

static int cmd_run(int argc, char **argv, const gh_options *o)
{
    int found = 0;
    for (int i = 0; i < argc; i++) {
        gh_seq s;
        if (load(argv[i], &s) != 0)
            return 2;
        gh_finding f;
        int rc = gh_execute(&s, o, &f, NULL);
        if (rc == 1) {
            char sig[64], line[900];
            describe(&f, sig, sizeof sig, line, sizeof line);
            printf("%s: sig=%s plant=%s %s\n", argv[i], sig, gf_plant_label(), line);
            found = 1;
        } else {
            printf("%s: %s\n", argv[i], rc == 0 ? "clean" : "executor could not start");
        }
        gh_seq_free(&s);
    }
    return found;
}

static int cmd_minimize(const char *in, const char *out, const char *bout, size_t max_runs, const gh_options *o)
{
    gh_seq s;
    if (load(in, &s) != 0)
        return 2;
    gh_finding f0;
    if (gh_execute(&s, o, &f0, NULL) != 1) {
        fprintf(stderr, "fuzz_ops_tool: %s does not fail (GALLOC_PLANT=%s)\n", in, gf_plant_label());
        gh_seq_free(&s);
        return 3;
    }
    size_t n0 = s.n;
    gh_min_options mo = {max_runs, true, NULL};
    gh_finding mf;
    long runs = gh_minimize(&s, o, &mo, &mf);
    if (runs < 0) {
        fprintf(stderr, "fuzz_ops_tool: minimizer refused %s\n", in);
        gh_seq_free(&s);
        return 3;
    }
    char sig[64], line[900], flags[128];
    describe(&mf, sig, sizeof sig, line, sizeof line);
    gf_ops_replay_flags(o, flags, sizeof flags);
    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "fuzz_ops_tool: %s: %s\n", out, strerror(errno));
        return 2;
    }
    const char *base = strrchr(in, '/');
    fprintf(f, "galloc-ops 1\n");
    fprintf(f, "# minimized by fuzz_ops_tool from %s (%zu -> %zu ops, %ld runs)\n", base ? base + 1 : in, n0, s.n, runs);
    fprintf(f, "# finding: sig=%s plant=%s %s\n", sig, gf_plant_label(), line);
    if (gf_plant())
        fprintf(f, "# replay:  GALLOC_PLANT=%s fuzz_ops FILE   (galloc-replay %s FILE runs it without the plant)\n",
                gf_plant_label(), flags);
    else
        fprintf(f, "# replay:  galloc-replay %s -v FILE\n", flags);
    char buf[256];
    for (size_t i = 0; i < s.n; i++) {
        gh_format_op(&s.ops[i], buf, sizeof buf);
        fprintf(f, "%s\n", buf);
    }
    fclose(f);
    if (bout) {
        uint8_t *b;
        size_t n;
        FILE *bf = fopen(bout, "wb");
        if (!bf || gh_encode(&s, &b, &n) != 0) {
            fprintf(stderr, "fuzz_ops_tool: %s: cannot write\n", bout);
            if (bf)
                fclose(bf);
            return 2;
        }
        fwrite(b, 1, n, bf);
        fclose(bf);
        free(b);
    }
    printf("minimized: %zu -> %zu ops in %ld runs: sig=%s %s\n", n0, s.n, runs, sig, line);
    gh_seq_free(&s);
    return 0;
}

static int cmd_emit_c(const char *in, const char *out, const gh_options *o)
{
    gh_seq s;
    if (load(in, &s) != 0)
        return 2;
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m || gh_emit_c(m, &s, o, in) != 0) {
        fprintf(stderr, "fuzz_ops_tool: gh_emit_c failed\n");
        return 2;
    }
    fclose(m);
    gh_seq_free(&s);
    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "fuzz_ops_tool: %s: %s\n", out, strerror(errno));
        free(text);
        return 2;
    }
    fputs(text, f);
    fclose(f);
    free(text);
    return 0;
}

/* ---- dictionary ---------------------------------------------------------------------- */
static void entry(FILE *f, const char *name, const gh_op *op)
{
    gh_seq s;
    gh_seq_init(&s);
    if (gh_seq_push(&s, op) != 0)
        exit(2);
    uint8_t *b;
    size_t n;
    if (gh_encode(&s, &b, &n) != 0)
        exit(2);
    fprintf(f, "%s=\"", name);
    for (size_t i = 5; i < n; i++)   /* without the 5-byte GAOP header */
        fprintf(f, "\\x%02x", b[i]);
    fprintf(f, "\"\n");
    free(b);
    gh_seq_free(&s);
}

static void write_dict(FILE *f)
{
    fprintf(f, "# fuzz/dict/ops_binary.dict — tokens for fuzz_ops (binary op formats v1 and v2, harness/FORMAT.md).\n"
               "# GENERATED by `fuzz_ops_tool mkdict -o fuzz/dict/ops_binary.dict`; ctest fuzz.dict checks it.\n"
               "# Each token is one whole encoded op: allocations at interesting sizes (size-class edges,\n"
               "# page multiples, ...) and alignments, and the phase ops (GC, scavenge, caches).\n");
    fprintf(f, "header=\"GAOP\\x01\"\n");
    fprintf(f, "header_v2=\"GAOP\\x02\"\n");   /* v2: the GC step ops (tokens gc_begin ... sweep_all) */
    static const uint64_t sizes[] = {0,     1,     7,     8,     9,     15,    16,    17,    24,    25,
                                     32,    48,    64,    511,   512,   513,   1016,  1017,  1018,  1019,
                                     1020,  1021,  1022,  1023,  1024,  1025,  4096,  8191,  8192,  8193,
                                     16384, 24576, 27264, 28672, 32760, 32761, 32767, 32768, 32769, 40960,
                                     57344, 65536, 65537, 81920, 1048576, 2097152, 4194304, 4202496, 67108864,
                                     67108865, 1073741824, (uint64_t)1 << 63, UINT64_MAX};
    char name[64];
    gh_op op;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        memset(&op, 0, sizeof op);
        op.kind = GH_MALLOC;
        op.a = sizes[i];
        snprintf(name, sizeof name, "malloc_%llu", (unsigned long long)sizes[i]);
        entry(f, name, &op);
        op.flags = GA_NOSCAN | GA_NOTINY;
        snprintf(name, sizeof name, "malloc_noscan_notiny_%llu", (unsigned long long)sizes[i]);
        entry(f, name, &op);
    }
    for (unsigned c = 1; c < GA_NUM_CLASSES; c++) {   /* every class boundary, scan objects */
        memset(&op, 0, sizeof op);
        op.kind = GH_MALLOC;
        op.a = ga_class_to_size[c] + 1;
        snprintf(name, sizeof name, "malloc_class%u_plus1", c);
        entry(f, name, &op);
    }
    static const uint64_t aligns[] = {0, 1, 8, 16, 64, 4096, 8192, 16384, 65536, 1048576, 3, 24};
    static const uint64_t asizes[] = {1, 24, 8192, 40000};
    for (size_t i = 0; i < sizeof aligns / sizeof *aligns; i++)
        for (size_t j = 0; j < sizeof asizes / sizeof *asizes; j++) {
            memset(&op, 0, sizeof op);
            op.kind = GH_ALIGNED;
            op.b = aligns[i];
            op.a = asizes[j];
            op.flags = (uint8_t)(i % 4);
            snprintf(name, sizeof name, "aligned_%llu_%llu", (unsigned long long)aligns[i], (unsigned long long)asizes[j]);
            entry(f, name, &op);
        }
    memset(&op, 0, sizeof op);
    op.kind = GH_CALLOC;
    op.a = (uint64_t)1 << 32;
    op.b = (uint64_t)1 << 32;
    entry(f, "calloc_overflow", &op);
    op.a = 16;
    op.b = 64;
    entry(f, "calloc_16x64", &op);
    memset(&op, 0, sizeof op);
    op.kind = GH_REALLOC;
    op.obj = GH_OBJ_FROM_END;
    op.a = 40000;
    entry(f, "realloc_newest_40000", &op);
    op.a = 0;
    entry(f, "realloc_newest_0", &op);
    static const struct { const char *n; uint8_t k; uint16_t obj; uint8_t fl; } objops[] = {
        {"free_newest", GH_FREE, GH_OBJ_FROM_END, 0}, {"free_oldest", GH_FREE, 0, 0},
        {"free_other_cache", GH_FREE, 0, 1},          {"check_newest", GH_CHECK, GH_OBJ_FROM_END, 0},
        {"write_newest", GH_WRITE, GH_OBJ_FROM_END, 0}, {"usable_newest", GH_USABLE, GH_OBJ_FROM_END, 0},
        {"double_free_newest", GH_DOUBLE_FREE, GH_OBJ_FROM_END, 0}};
    for (size_t i = 0; i < sizeof objops / sizeof *objops; i++) {
        memset(&op, 0, sizeof op);
        op.kind = objops[i].k;
        op.obj = objops[i].obj;
        op.flags = objops[i].fl;
        entry(f, objops[i].n, &op);
    }
    static const struct { const char *n; uint8_t keep, sweep, black; } gcs[] = {
        {"gc_keep0_sweepall", 0, 255, 0}, {"gc_keep50_sweepall", 50, 255, 0}, {"gc_keep100_nosweep", 100, 0, 0},
        {"gc_keep50_sweep1", 50, 1, 0},   {"gc_keep50_black3", 50, 0, 3}};
    for (size_t i = 0; i < sizeof gcs / sizeof *gcs; i++) {
        memset(&op, 0, sizeof op);
        op.kind = GH_GC;
        op.a = gcs[i].keep;
        op.c = gcs[i].sweep;
        op.flags = gcs[i].black;
        entry(f, gcs[i].n, &op);
    }
    memset(&op, 0, sizeof op);
    op.kind = GH_SCAVENGE;
    entry(f, "scavenge_all", &op);
    op.flags = 1;
    entry(f, "scavenge_policy", &op);
    op.flags = 2;
    op.a = 2097152;
    entry(f, "scavenge_2MiB", &op);
    for (unsigned c = 0; c < 3; c++) {
        memset(&op, 0, sizeof op);
        op.kind = GH_CACHE;
        op.a = c;
        snprintf(name, sizeof name, "cache_%u", c);
        entry(f, name, &op);
    }
    static const struct { const char *n; uint8_t k; } plain[] = {
        {"release", GH_RELEASE}, {"destroy_cache", GH_DESTROY}, {"verify", GH_VERIFY}};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        memset(&op, 0, sizeof op);
        op.kind = plain[i].k;
        entry(f, plain[i].n, &op);
    }
    static const struct { const char *n; uint8_t k; uint16_t obj; uint8_t fl; uint64_t a, c; } steps[] = {
        {"gc_begin", GH_GC_BEGIN, 0, 0, 0, 0},         {"gc_end", GH_GC_END, 0, 0, 0, 0},
        {"gc_mark_newest", GH_GC_MARK, GH_OBJ_FROM_END, 0, 0, 0}, {"gc_mark_oldest", GH_GC_MARK, 0, 0, 0, 0},
        {"gc_mark_interior", GH_GC_MARK, GH_OBJ_FROM_END, 1, 9, 0},
        {"sweep_all", GH_SWEEP, 0, 0, 0, GH_GC_SWEEP_ALL}, {"sweep_1", GH_SWEEP, 0, 0, 0, 1},
        {"free_local_newest", GH_FREE, GH_OBJ_FROM_END, 2, 0, 0}};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        memset(&op, 0, sizeof op);
        op.kind = steps[i].k;
        op.obj = steps[i].obj;
        op.flags = steps[i].fl;
        op.a = steps[i].a;
        op.c = steps[i].c;
        entry(f, steps[i].n, &op);
    }
    for (unsigned c = 0; c < GH_OSF_N; c++) {
        memset(&op, 0, sizeof op);
        op.kind = GH_FAIL_OS;
        op.a = c;
        snprintf(name, sizeof name, "fail_os_%u", c);
        entry(f, name, &op);
    }
}

static int cmd_mkdict(const char *out, const char *check)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m)
        return 2;
    write_dict(m);
    fclose(m);
    if (check) {
        uint8_t *have;
        size_t hn;
        if (gh_read_file(check, &have, &hn) != 0) {
            fprintf(stderr, "fuzz_ops_tool: %s: %s\n", check, strerror(errno));
            return 2;
        }
        int same = hn == len && memcmp(have, text, len) == 0;
        free(have);
        free(text);
        if (!same)
            fprintf(stderr, "fuzz_ops_tool: %s is out of date: run fuzz_ops_tool mkdict -o %s\n", check, check);
        return same ? 0 : 1;
    }
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        fprintf(stderr, "fuzz_ops_tool: %s: %s\n", out, strerror(errno));
        return 2;
    }
    fwrite(text, 1, len, f);
    if (f != stdout)
        fclose(f);
    free(text);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: fuzz_ops_tool run FILE...\n"
                    "       fuzz_ops_tool minimize FILE -o OUT.txt [--binary-out OUT.bin] [--max-runs N]\n"
                    "       fuzz_ops_tool emit-c FILE -o OUT.c\n"
                    "       fuzz_ops_tool mkdict [-o FILE] [--check FILE]\n"
                    "environment: GALLOC_PLANT, GALLOC_FUZZ_CHECK_EVERY, GALLOC_FUZZ_BUDGET, GALLOC_FUZZ_NO_DIFF\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    gh_options o;
    gf_ops_options(&o);
    const char *cmd = argv[1], *in = NULL, *out = NULL, *bout = NULL, *check = NULL;
    size_t max_runs = 20000;
    if (strcmp(cmd, "run") == 0)
        return argc > 2 ? cmd_run(argc - 2, argv + 2, &o) : usage();
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--binary-out") == 0 && i + 1 < argc)
            bout = argv[++i];
        else if (strcmp(argv[i], "--check") == 0 && i + 1 < argc)
            check = argv[++i];
        else if (strcmp(argv[i], "--max-runs") == 0 && i + 1 < argc)
            max_runs = (size_t)strtoull(argv[++i], NULL, 0);
        else if (argv[i][0] != '-' && !in)
            in = argv[i];
        else
            return usage();
    }
    if (strcmp(cmd, "minimize") == 0)
        return in && out ? cmd_minimize(in, out, bout, max_runs, &o) : usage();
    if (strcmp(cmd, "emit-c") == 0)
        return in && out ? cmd_emit_c(in, out, &o) : usage();
    if (strcmp(cmd, "mkdict") == 0)
        return cmd_mkdict(out, check);
    return usage();
}
