/*
 * replay.c — galloc-replay: replays op sequences (binary or text) through the harness
 * executor; minimizes, converts, emits C reproducers; measures executor cost.
 *
 *   galloc-replay [options] FILE|DIR...
 *
 * Exit status: 0 = every input ran clean, 1 = at least one finding, 2 = bad usage or an
 * unreadable / corrupt input (the message names the file and, for text, the line): a file
 * that looks like text but lacks the exact first line 'galloc-ops 1' (a comment before it,
 * 'GALLOC-OPS 1'), a text header of another version, a GAOP file cut short inside its last
 * op (unless --fuzz-input), a missing path or a directory without inputs (unless
 * --missing-ok).
 * Calls: the harness library (harness.h).
 */
#define _GNU_SOURCE 1
#include "harness.h"
#include "os.h"      /* ga_reuseos: --os */
#include "mdiff.h"   /* --malloc: the malloc-API differential's replay mode (mdiff_replay.c) */
/* --mt / 'galloc-mt 1' / GAMT files: multi-threaded reproducers under the controlled
 * scheduler (harness/mt_tool.c, issue 15) */
bool mt_replay_wanted(int argc, char **argv);
int mt_replay_main(int argc, char **argv);

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

static const char *USAGE =
"usage: galloc-replay [options] FILE|DIR...\n"
"Replays galloc op sequences (binary, or text starting with 'galloc-ops 1'); directories\n"
"are walked recursively (dot files and *.md are skipped).\n"
"  --malloc               the malloc-API differential instead (also for files starting 'galloc-malloc');\n"
"                         galloc-replay --malloc --help lists its options\n"
"  -v, --verbose          print the op trace with step numbers\n"
"  --addrs                include addresses in the trace\n"
"  --check-every N        full check (ga_verify, all objects, stats) every N ops; 1 = every op (default 64)\n"
"  --no-diff              do not run the glibc differential side\n"
"  --checks LIST          only these checks (comma list: status,align,lookup,usable,overlap,content,\n"
"                         zero,span,verify,stats,diff,os,model)\n"
"  --disable LIST         all checks but these\n"
"  --budget BYTES         live bytes per side (default 64 MiB; larger requests are skipped)\n"
"  --max-heap BYTES       galloc max_heap_bytes (default 1 GiB)\n"
"  --os keep|reuse|fresh  where heaps get memory (as fuzz_ops' GALLOC_FUZZ_OS): keep (default)\n"
"                         recycles regions, leaves them RW and zeroes scavenged pages with memset\n"
"                         (no madvise, no refault); reuse makes recycled regions PROT_NONE again;\n"
"                         fresh asks the kernel for everything (scavenging is madvise)\n"
"  --no-green-tea         heap option no_green_tea\n"
"  --no-poison            heap option no_poison (ASan builds: free slots are not poisoned)\n"
"  --binary               treat every input as binary, even if it looks like text\n"
"  --minimize             shrink each failing input; writes text to -o FILE or BASENAME.min.txt\n"
"  --max-runs N           executions the minimizer may use (default 20000)\n"
"  --emit-c               write a standalone C reproducer to -o FILE or BASENAME.repro.c\n"
"  --to-text              convert to text (stdout or -o FILE)\n"
"  --to-binary            convert to binary (stdout or -o FILE)\n"
"  -o FILE                output file for --minimize / --emit-c / --to-text / --to-binary\n"
"  --fault NAME           harness fault injection (testing the checks): scribble, hidden-free,\n"
"                         hidden-alloc, free-slot, ptr-flip, alias, dirty-zero, undersize,\n"
"                         ref-scribble, sut-fail, touch-released, cold-slot\n"
"  --fault-step K         apply the fault after/at step K (default 0)\n"
"  --plant LO:HI:MIN      planted failure: freeing an object of LO..HI bytes while >= MIN others live\n"
"  --alloc-plant NAME|N   run on a deliberately broken allocator (ga_heap_options.plant; see ga_plant)\n"
"  --missing-ok           a path that does not exist, or a directory without inputs, is skipped, not\n"
"                         an error (for humans; corpus tests must not use it: an empty corpus proves nothing)\n"
"  --fuzz-input           inputs are fuzzer-made byte strings: a GAOP file cut short inside its last op\n"
"                         is replayed (missing operands read as 0) with a warning instead of rejected\n"
"  --bench NOPS           run NOPS generated ops (seeded by --seed) and print ops/s\n"
"  --seed N               seed for --bench / --generate (default 1)\n"
"  --generate NOPS        write a generated sequence (text) to stdout or -o FILE\n"
"  -q, --quiet            only findings and errors\n"
"  -h, --help\n";

typedef struct cli {
    gh_options opt;
    bool verbose, quiet, binary, minimize, emit_c, to_text, to_binary, missing_ok, fuzz_input;
    const char *out;
    size_t max_runs;
    size_t bench, generate;
    uint64_t seed;
    char repro_flags[512];
    int nfiles, nfindings, nerrors;
    size_t total_ops;
    double total_secs;
} cli;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void addflag(cli *c, const char *fmt, ...)
{
    size_t n = strlen(c->repro_flags);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->repro_flags + n, sizeof c->repro_flags - n, fmt, ap);
    va_end(ap);
}

/* Input validation: does a file that is not a text sequence (no exact 'galloc-ops' at its
 * start) look like one a human wrote? Only printable ASCII, tabs, CR/LF and UTF-8 bytes,
 * and a line break or a '#' / "galloc-ops" (any case) start. Binary sequences, from the
 * encoder or a fuzzer, hold control bytes (every op's operands start with one). Such a file
 * would decode as binary garbage and "run clean": it is rejected instead. */
static bool looks_like_text(const uint8_t *d, size_t n, char *why, size_t wn)
{
    size_t i = n >= 3 && d[0] == 0xef && d[1] == 0xbb && d[2] == 0xbf ? 3 : 0;
    if (i >= n) return false;
    bool nl = false;
    for (size_t k = i; k < n; k++) {
        if (d[k] == '\n') nl = true;
        else if (d[k] < 32 ? d[k] != '\t' && d[k] != '\r' : d[k] == 127) return false;
    }
    size_t e = i;
    while (e < n && d[e] != '\n' && d[e] != '\r' && e - i < 60) e++;
    if (n - i >= 10 && strncasecmp((const char *)d + i, "galloc-ops", 10) == 0)
        snprintf(why, wn, "its first line '%.*s' is not 'galloc-ops %d' (the header is lower case)", (int)(e - i),
                 (const char *)d + i, GH_FORMAT_VERSION);
    else if (d[i] == '#' || nl)
        snprintf(why, wn, "its first line '%.*s' is not 'galloc-ops %d' (the header must be the very first line; comments go after it)",
                 (int)(e - i), (const char *)d + i, GH_FORMAT_VERSION);
    else
        return false;
    return true;
}

/* Loads one input into *s; prints the error and returns -1 on failure. */
static int load(cli *c, const char *path, gh_seq *s)
{
    uint8_t *data;
    size_t len;
    if (gh_read_file(path, &data, &len) != 0) {
        fprintf(stderr, "galloc-replay: %s: cannot read: %s\n", path, strerror(errno));
        return -1;
    }
    int rc;
    char why[200];
    if (!c->binary && !gh_is_text(data, len) && looks_like_text(data, len, why, sizeof why)) {
        fprintf(stderr, "%s:1:1: error: looks like a text op sequence, but %s; --binary replays it as bytes\n", path, why);
        free(data);
        return -1;
    }
    if (!c->binary && gh_is_text(data, len)) {
        gh_parse_error pe;
        rc = gh_parse((const char *)data, len, s, &pe);
        if (rc != 0) fprintf(stderr, "%s:%u:%u: error: %s\n", path, pe.line, pe.col, pe.msg);
    } else {
        unsigned ver;
        size_t missing = 0;
        rc = gh_decode_ex(data, len, s, &ver, &missing);
        if (rc != 0) fprintf(stderr, "galloc-replay: %s: out of memory decoding\n", path);
        else if (ver != 1 && ver != GH_BINARY_VERSION && !c->quiet)
            fprintf(stderr, "galloc-replay: %s: warning: binary format version %u is not one this build reads (1, %d); decoded as version 1\n",
                    path, ver, GH_BINARY_VERSION);
        /* Any byte string is a valid sequence (fuzzers cut inputs anywhere), but a file with
         * the encoder's header never ends inside an op: that one was truncated, an error
         * unless the inputs are declared fuzzer-made (--fuzz-input). */
        bool header = len >= 4 && memcmp(data, "GAOP", 4) == 0;
        if (rc == 0 && missing && header && !c->fuzz_input) {
            fprintf(stderr, "galloc-replay: %s: error: truncated: the last op is cut short (%zu operand byte(s) past the end "
                    "of %zu bytes) in a file with the encoder's GAOP header (--fuzz-input replays it anyway)\n", path, missing, len);
            gh_seq_free(s);
            rc = -1;
        } else if (rc == 0 && missing && !c->quiet)
            fprintf(stderr, "galloc-replay: %s: warning: the last op is cut short (%zu operand byte(s) past the end, read as 0): "
                    "%s\n", path, missing, len >= 4 && memcmp(data, "GAOP", 4) == 0 ?
                    "this file has the encoder's header, so it was probably truncated" : "normal for a fuzzer-made input");
    }
    free(data);
    return rc;
}

static const char *base_name(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

static FILE *open_out(const char *path, const char *mode)
{
    if (!path || strcmp(path, "-") == 0) return stdout;
    FILE *f = fopen(path, mode);
    if (!f) fprintf(stderr, "galloc-replay: %s: cannot write: %s\n", path, strerror(errno));
    return f;
}

static int close_out(FILE *f)
{
    if (f == stdout) return fflush(f);
    return fclose(f);
}

static void one(cli *c, const char *path)
{
    gh_seq s;
    c->nfiles++;
    if (load(c, path, &s) != 0) { c->nerrors++; return; }
    if (c->to_text || c->to_binary) {
        FILE *f = open_out(c->out, c->to_binary ? "wb" : "w");
        if (!f) { c->nerrors++; gh_seq_free(&s); return; }
        int rc = 0;
        if (c->to_text) rc = gh_format(&s, f);
        else {
            uint8_t *b;
            size_t n;
            rc = gh_encode(&s, &b, &n);
            if (rc == 0) { if (fwrite(b, 1, n, f) != n) rc = -1; free(b); }
        }
        if (close_out(f) != 0 || rc != 0) { fprintf(stderr, "galloc-replay: %s: conversion failed\n", path); c->nerrors++; }
        gh_seq_free(&s);
        return;
    }
    gh_options o = c->opt;
    o.trace = c->verbose ? stdout : NULL;
    if (c->verbose) printf("== %s (%zu ops)\n", path, s.n);
    gh_finding f;
    gh_exec_stats st;
    double t0 = now();
    int rc = gh_execute(&s, &o, &f, &st);
    double t1 = now();
    c->total_ops += st.ops_run;
    c->total_secs += t1 - t0;
    if (rc < 0) {
        fprintf(stderr, "galloc-replay: %s: cannot start the heap: %s\n", path, f.message);
        c->nerrors++;
        gh_seq_free(&s);
        return;
    }
    if (rc == 0) {
        if (!c->quiet)
            printf("ok   %s: %zu ops (%zu allocations, %zu frees, %zu GC cycles, %zu skipped, %zu full checks)\n",
                   path, s.n, st.allocs, st.frees, st.gcs, st.ops_skipped, st.full_checks);
        if (c->emit_c) {
            char def[1024];
            snprintf(def, sizeof def, "%s.repro.c", base_name(path));
            FILE *out = open_out(c->out ? c->out : def, "w");
            if (out) { gh_emit_c(out, &s, &o, path); close_out(out); }
        }
        gh_seq_free(&s);
        return;
    }
    c->nfindings++;
    gh_print_finding(stdout, &f, path);
    printf("  reproduce: galloc-replay%s -v %s\n", c->repro_flags, path);
    if (c->minimize) {
        gh_min_options mo = { c->max_runs, true, c->quiet ? NULL : stderr };
        o.trace = NULL;
        gh_finding mf;
        long runs = gh_minimize(&s, &o, &mo, &mf);
        if (runs >= 0) {
            char def[1024];
            snprintf(def, sizeof def, "%s.min.txt", base_name(path));
            const char *outp = c->out ? c->out : def;
            FILE *out = open_out(outp, "w");
            if (out) {
                fprintf(out, "galloc-ops 1\n# minimized from %s by galloc-replay --minimize (%ld runs)\n# finding: %s: %s\n",
                        path, runs, gh_check_name(mf.check), mf.message);
                char line[256];
                for (size_t i = 0; i < s.n; i++) { gh_format_op(&s.ops[i], line, sizeof line); fprintf(out, "%s\n", line); }
                close_out(out);
                printf("  minimized: %zu ops -> %s (%ld runs)\n", s.n, outp, runs);
                printf("  reproduce: galloc-replay%s -v %s\n", c->repro_flags, outp);
            }
        }
    }
    if (c->emit_c) {
        char def[1024];
        snprintf(def, sizeof def, "%s.repro.c", base_name(path));
        const char *outp = c->minimize ? def : (c->out ? c->out : def);
        FILE *out = open_out(outp, "w");
        if (out && gh_emit_c(out, &s, &o, path) == 0) printf("  C reproducer: %s\n", outp);
        if (out) close_out(out);
    }
    gh_seq_free(&s);
}

/* gh_walk_inputs callbacks: replay each file; a path that cannot be read is an error, or
 * with --missing-ok a missing one is skipped. */
static void walk_file(void *ctx, const char *path) { one(ctx, path); }
static void walk_error(void *ctx, const char *path, int err, int depth)
{
    cli *c = ctx;
    if (err == ENOENT && c->missing_ok) {
        if (!c->quiet) printf("skip %s: does not exist\n", path);
        return;
    }
    fprintf(stderr, "galloc-replay: %s: %s%s\n", path, strerror(err),
            err == ENOENT && depth == 0 ? " (--missing-ok skips a missing path)" : "");
    c->nerrors++;
}

/* A path named on the command line: a directory must hold at least one input (a corpus test
 * over an empty or mistyped directory would pass having checked nothing). */
static void walk_top(cli *c, const char *path)
{
    int before = c->nfiles;
    struct stat sb;
    bool dir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
    gh_walker w = {c, walk_file, walk_error};
    gh_walk_inputs(&w, path);
    if (dir && c->nfiles == before) {
        if (c->missing_ok) {
            if (!c->quiet) printf("skip %s: no inputs in it\n", path);
            return;
        }
        fprintf(stderr, "galloc-replay: %s: error: directory holds no inputs (empty corpus; --missing-ok skips it)\n", path);
        c->nerrors++;
    }
}

static int parse_checks(const char *list, unsigned *mask)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    *mask = 0;
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        unsigned m = gh_check_from_name(t);
        if (!m) { fprintf(stderr, "galloc-replay: unknown check '%s'\n", t); return -1; }
        *mask |= m;
    }
    return 0;
}

static int bench(cli *c)
{
    size_t done = 0, chunk = 10000, ran = 0;
    double secs = 0;
    uint64_t seed = c->seed;
    gh_options o = c->opt;
    size_t findings = 0, by_check[16] = { 0 };
    while (done < c->bench) {
        gh_seq s;
        size_t n = c->bench - done < chunk ? c->bench - done : chunk;
        if (gh_generate(seed, n, &s) != 0) return 2;
        gh_finding f;
        gh_exec_stats st;
        double t0 = now();
        int rc = gh_execute(&s, &o, &f, &st);
        secs += now() - t0;
        ran += st.ops_run;
        if (rc == 1) {
            findings++;
            for (unsigned b = 0; b < 16; b++) if (f.check == 1u << b) by_check[b]++;
            if (findings <= 3) {
                char name[64];
                snprintf(name, sizeof name, "generated sequence (seed %" PRIu64 ", %zu ops)", seed, n);
                if (!c->quiet) gh_print_finding(stdout, &f, name);
                else printf("FINDING: check '%s' failed at step %zu of %s: %s\n", gh_check_name(f.check), f.step, name, f.message);
                printf("  reproduce: galloc-replay --generate %zu --seed %" PRIu64 " -o gen.txt && galloc-replay%s -v gen.txt\n",
                       n, seed, c->repro_flags);
            }
        }
        seed++;
        done += n;
        gh_seq_free(&s);
    }
    printf("bench: %zu ops generated, %zu executed, check-every %zu, diff %s: %.3f s, %.0f ops/s, %zu finding(s)",
           done, ran, o.check_every, o.diff ? "on" : "off", secs, secs > 0 ? (double)ran / secs : 0.0, findings);
    for (unsigned b = 0; b < 16; b++) if (by_check[b]) printf(" %s=%zu", gh_check_name(1u << b), by_check[b]);
    printf("\n");
    return findings ? 1 : 0;
}

static int run_cli(cli *c, char **inputs, int nin);

int main(int argc, char **argv)
{
    if (gm_replay_wanted(argc, argv)) return gm_replay_main(argc, argv);
    if (mt_replay_wanted(argc, argv)) return mt_replay_main(argc, argv);
    cli c;
    memset(&c, 0, sizeof c);
    gh_options_default(&c.opt);
    c.max_runs = 20000;
    c.seed = 1;
    int nin = 0;
    char **inputs = calloc((size_t)argc, sizeof *inputs);
    if (!inputs) return 2;
    unsigned planted = 0;
    const char *os_mode = "keep";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define NEED_ARG() do { if (i + 1 >= argc) { fprintf(stderr, "galloc-replay: %s needs an argument\n%s", a, USAGE); return 2; } } while (0)
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { fputs(USAGE, stdout); return 0; }
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) c.verbose = true;
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) c.quiet = true;
        else if (strcmp(a, "--addrs") == 0) c.opt.trace_addrs = true;
        else if (strcmp(a, "--binary") == 0) c.binary = true;
        else if (strcmp(a, "--no-diff") == 0) { c.opt.diff = false; addflag(&c, " --no-diff"); }
        else if (strcmp(a, "--no-green-tea") == 0) { c.opt.no_green_tea = true; addflag(&c, " --no-green-tea"); }
        else if (strcmp(a, "--no-poison") == 0) { c.opt.no_poison = true; addflag(&c, " --no-poison"); }
        else if (strcmp(a, "--minimize") == 0) c.minimize = true;
        else if (strcmp(a, "--emit-c") == 0) c.emit_c = true;
        else if (strcmp(a, "--to-text") == 0) c.to_text = true;
        else if (strcmp(a, "--to-binary") == 0) c.to_binary = true;
        else if (strcmp(a, "--missing-ok") == 0) c.missing_ok = true;
        else if (strcmp(a, "--fuzz-input") == 0) c.fuzz_input = true;
        else if (strcmp(a, "-o") == 0) { NEED_ARG(); c.out = argv[++i]; }
        else if (strcmp(a, "--check-every") == 0 || strcmp(a, "--budget") == 0 || strcmp(a, "--max-heap") == 0 ||
                 strcmp(a, "--max-runs") == 0 || strcmp(a, "--fault-step") == 0 || strcmp(a, "--bench") == 0 ||
                 strcmp(a, "--seed") == 0 || strcmp(a, "--generate") == 0) {
            NEED_ARG();
            uint64_t v;
            if (!gh_parse_size(argv[++i], &v) || v > SIZE_MAX) { fprintf(stderr, "galloc-replay: %s: bad number '%s'\n", a, argv[i]); return 2; }
            if (strcmp(a, "--check-every") == 0) c.opt.check_every = v;
            else if (strcmp(a, "--budget") == 0) c.opt.budget_bytes = v;
            else if (strcmp(a, "--max-heap") == 0) c.opt.max_heap_bytes = v;
            else if (strcmp(a, "--max-runs") == 0) c.max_runs = v;
            else if (strcmp(a, "--fault-step") == 0) c.opt.fault_step = v;
            else if (strcmp(a, "--bench") == 0) c.bench = v;
            else if (strcmp(a, "--generate") == 0) c.generate = v;
            else c.seed = v;
            if (strcmp(a, "--max-runs") && strcmp(a, "--bench") && strcmp(a, "--seed") && strcmp(a, "--generate")) addflag(&c, " %s %s", a, argv[i]);
        }
        else if (strcmp(a, "--checks") == 0 || strcmp(a, "--disable") == 0) {
            NEED_ARG();
            unsigned m;
            if (parse_checks(argv[++i], &m) != 0) return 2;
            if (strcmp(a, "--checks") == 0) c.opt.checks = m | planted;
            else c.opt.checks &= ~m;
            addflag(&c, " %s %s", a, argv[i]);
        }
        else if (strcmp(a, "--fault") == 0) {
            NEED_ARG();
            int fl = gh_fault_from_name(argv[++i]);
            if (fl < 0) { fprintf(stderr, "galloc-replay: unknown fault '%s'\n", argv[i]); return 2; }
            c.opt.fault = (gh_fault)fl;
            addflag(&c, " --fault %s", argv[i]);
        }
        else if (strcmp(a, "--alloc-plant") == 0) {
            NEED_ARG();
            const char *v = argv[++i];
            int pl = -1;
            for (int k = 1; k < GA_PLANT_COUNT; k++) if (strcmp(v, ga_plant_name(k)) == 0) pl = k;
            if (pl < 0) { char *e; long n = strtol(v, &e, 10); if (!*e && n > 0 && n < GA_PLANT_COUNT) pl = (int)n; }
            if (pl < 0) {
                fprintf(stderr, "galloc-replay: unknown allocator plant '%s'; one of:", v);
                for (int k = 1; k < GA_PLANT_COUNT; k++) fprintf(stderr, " %s", ga_plant_name(k));
                fprintf(stderr, "\n");
                return 2;
            }
            c.opt.alloc_plant = pl;
            addflag(&c, " --alloc-plant %s", v);
        }
        else if (strcmp(a, "--plant") == 0) {
            NEED_ARG();
            unsigned long long lo, hi, mn;
            if (sscanf(argv[++i], "%llu:%llu:%llu", &lo, &hi, &mn) != 3) { fprintf(stderr, "galloc-replay: --plant wants LO:HI:MIN\n"); return 2; }
            c.opt.planted_lo = lo; c.opt.planted_hi = hi; c.opt.planted_min_live = mn;
            planted = GH_CHK_PLANTED;
            c.opt.checks |= GH_CHK_PLANTED;
            addflag(&c, " --plant %s", argv[i]);
        }
        else if (strcmp(a, "--os") == 0) {
            NEED_ARG();
            const char *m = argv[++i];
            if (strcmp(m, "keep") && strcmp(m, "reuse") && strcmp(m, "fresh")) {
                fprintf(stderr, "galloc-replay: --os %s: want keep, reuse or fresh\n", m);
                return 2;
            }
            os_mode = m;
            if (strcmp(m, "keep")) addflag(&c, " --os %s", m);
        }
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "galloc-replay: unknown option '%s'\n%s", a, USAGE); return 2; }
        else inputs[nin++] = argv[i];
    }
    /* The OS layer under every heap's ga_testos: what fuzz_ops uses by default, so a
     * finding replays on the same memory behaviour (os.h, ga_reuseos). */
    ga_reuseos *reuse = NULL;
    if (strcmp(os_mode, "fresh")) {
        reuse = ga_reuseos_new(NULL, strcmp(os_mode, "keep") ? 0 : GA_REUSE_KEEP_MAPPED);
        if (!reuse) { fprintf(stderr, "galloc-replay: ga_reuseos_new: out of memory\n"); free(inputs); return 2; }
        c.opt.os = ga_reuseos_os(reuse);
    }
    int rc = run_cli(&c, inputs, nin);
    ga_reuseos_free(reuse);
    return rc;
}

static int run_cli(cli *cp, char **inputs, int nin)
{
    cli c = *cp;
    if (c.bench) { int r = bench(&c); free(inputs); return r; }
    if (c.generate) {
        gh_seq s;
        free(inputs);
        if (gh_generate(c.seed, c.generate, &s) != 0) return 2;
        FILE *f = open_out(c.out, "w");
        if (!f) return 2;
        int r = gh_format(&s, f);
        gh_seq_free(&s);
        return close_out(f) || r ? 2 : 0;
    }
    if (!nin) { fprintf(stderr, "galloc-replay: no input\n%s", USAGE); free(inputs); return 2; }
    if ((c.to_text + c.to_binary + (c.minimize || c.emit_c)) > 1) { fprintf(stderr, "galloc-replay: choose one of --to-text, --to-binary, --minimize/--emit-c\n"); return 2; }
    if (c.out && nin > 1) { fprintf(stderr, "galloc-replay: -o needs exactly one input\n"); return 2; }
    if (c.opt.check_every != 64) { /* already in repro_flags */ }
    for (int i = 0; i < nin; i++) walk_top(&c, inputs[i]);
    free(inputs);
    if (!c.quiet && !c.to_text && !c.to_binary) {
        printf("galloc-replay: %d input(s), %d finding(s), %d error(s)", c.nfiles, c.nfindings, c.nerrors);
        if (c.total_secs > 0) printf(", %zu ops in %.3f s (%.0f ops/s)", c.total_ops, c.total_secs, (double)c.total_ops / c.total_secs);
        printf("\n");
        if (c.nfiles == 0 && c.nerrors == 0) printf("galloc-replay: no inputs found (empty corpus)\n");
    }
    if (c.nerrors) return 2;
    return c.nfindings ? 1 : 0;
}
