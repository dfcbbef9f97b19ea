/*
 * mt_tool.c — the command-line faces of the controlled scheduler (issue 15):
 *   galloc-replay --mt [options] FILE...   replay multi-threaded reproducers exactly
 *                                          (mt_replay_main, called from replay.c)
 *   galloc-sched [options]                 search: generated programs x seeded schedules
 *                                          until a finding (mt_search_main, mt_search.c)
 *
 * Owns: option parsing and output of those modes. Exit status: 0 clean, 1 finding, 2 bad
 * usage or unreadable / malformed input (the message names the file).
 * Invariants: --repeat N replays N times and fails (exit 1 with a message, a harness
 * fault) unless every replay reports the identical finding (check, thread, op, decision,
 * message with its addresses); a reproducer recorded in a sched build replayed in a build
 * without schedule points is refused (exit 2), it could only mislead.
 * Calls: mt.h, gsched.h.
 */
#define _GNU_SOURCE 1
#include "mt.h"
#include "harness.h"   /* gh_sniff_file */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int mt_plant_from_name(const char *v)
{
    for (int k = 0; k < GA_PLANT_COUNT; k++)
        if (strcmp(v, ga_plant_name(k)) == 0) return k;
    char *e;
    long n = strtol(v, &e, 10);
    if (*v && !*e && n >= 0 && n < GA_PLANT_COUNT) return (int)n;
    return -1;
}

int mt_load(const char *path, mt_prog *p, char *err, size_t errn)
{
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errn, "%s: %s", path, strerror(errno)); return -1; }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *b = realloc(buf, cap);
            if (!b) { free(buf); fclose(f); snprintf(err, errn, "%s: out of memory", path); return -1; }
            buf = b;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        if (r == 0) break;
        len += r;
    }
    fclose(f);
    char e2[300];
    int rc;
    if (len >= 4 && memcmp(buf, "GAMT", 4) == 0) rc = mt_decode(buf, len, p, e2, sizeof e2);
    else rc = mt_parse((const char *)buf, len, p, e2, sizeof e2);
    free(buf);
    if (rc != 0) snprintf(err, errn, "%s: %s", path, e2);
    return rc;
}

bool mt_replay_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mt") == 0) return true;
        if (argv[i][0] == '-') continue;
        char head[9] = { 0 };
        size_t n = gh_sniff_file(argv[i], head, sizeof head);   /* regular files only */
        if (mt_is_mt((const uint8_t *)head, n)) return true;
    }
    return false;
}

static const char *USAGE =
"usage: galloc-replay --mt [options] FILE...\n"
"Replays multi-threaded reproducers ('galloc-mt 1' text or GAMT binary: per-thread ops plus\n"
"the recorded schedule) exactly, under the controlled scheduler (needs the sched build).\n"
"  --alloc-plant NAME     run on a deliberately broken allocator (ga_plant name or number)\n"
"  --repeat N             replay N times; every replay must report the identical finding\n"
"  --minimize             shrink ops and preemptions; writes -o FILE or BASENAME.min.txt\n"
"  --max-runs N           replays the minimizer may use (default 5000)\n"
"  --emit-c               write a C program replaying it to -o FILE or BASENAME.repro.c\n"
"  --to-text / --to-binary  convert (stdout or -o FILE)\n"
"  --expect CHECK         exit 0 only if the replay reports this check (e.g. verify, misuse)\n"
"  -o FILE                output file\n"
"  -v                     trace every op with its decision number\n"
"  -q                     only findings and errors\n";

int mt_replay_main(int argc, char **argv)
{
    mt_options o;
    memset(&o, 0, sizeof o);
    o.sched.strategy = GS_REPLAY;
    long repeat = 1;
    size_t max_runs = 5000;
    bool minimize = false, emit = false, to_text = false, to_bin = false, quiet = false;
    const char *out = NULL, *expect = NULL;
    const char *inputs[256];
    int nin = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (strcmp(a, "--mt") == 0) continue;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(USAGE, stdout); return 0; }
        else if (!strcmp(a, "--alloc-plant") && more) {
            o.plant = mt_plant_from_name(argv[++i]);
            if (o.plant < 0) { fprintf(stderr, "galloc-replay: unknown plant '%s'\n", argv[i]); return 2; }
        }
        else if ((!strcmp(a, "--repeat") || !strcmp(a, "--max-runs")) && more) {
            char *e;
            long v = strtol(argv[++i], &e, 10);
            if (*e || v < 1 || v > 100000000) { fprintf(stderr, "galloc-replay: %s: bad number '%s'\n", a, argv[i]); return 2; }
            if (!strcmp(a, "--repeat")) repeat = v; else max_runs = (size_t)v;
        }
        else if (!strcmp(a, "--minimize")) minimize = true;
        else if (!strcmp(a, "--emit-c")) emit = true;
        else if (!strcmp(a, "--to-text")) to_text = true;
        else if (!strcmp(a, "--to-binary")) to_bin = true;
        else if (!strcmp(a, "--expect") && more) expect = argv[++i];
        else if (!strcmp(a, "-o") && more) out = argv[++i];
        else if (!strcmp(a, "-v")) o.trace = stdout;
        else if (!strcmp(a, "-q")) quiet = true;
        else if (a[0] == '-') { fprintf(stderr, "galloc-replay --mt: unknown or incomplete option '%s'\n%s", a, USAGE); return 2; }
        else if (nin < 256) inputs[nin++] = a;
    }
    if (nin == 0) { fprintf(stderr, "galloc-replay --mt: no input\n%s", USAGE); return 2; }
    if (!gs_has_alloc_points()) {
        fprintf(stderr, "galloc-replay --mt: this build has no schedule points in the allocator; replay with the sched "
                        "build (cmake --preset sched; build-sched/bin/galloc-replay)\n");
        return 2;
    }
    int status = 0;
    for (int k = 0; k < nin; k++) {
        mt_prog p;
        char err[400];
        if (mt_load(inputs[k], &p, err, sizeof err) != 0) { fprintf(stderr, "galloc-replay: %s\n", err); return 2; }
        if (to_text || to_bin) {
            FILE *f = out ? fopen(out, "wb") : stdout;
            if (!f) { fprintf(stderr, "galloc-replay: %s: %s\n", out, strerror(errno)); mt_prog_free(&p); return 2; }
            if (to_text) mt_format(&p, f, NULL);
            else {
                uint8_t *b; size_t n;
                if (mt_encode(&p, &b, &n) == 0) { fwrite(b, 1, n, f); free(b); }
            }
            if (f != stdout) fclose(f);
            mt_prog_free(&p);
            continue;
        }
        mt_finding first, f;
        mt_result r;
        int rc = mt_run(&p, &o, &first, &r);
        if (rc < 0) { fprintf(stderr, "galloc-replay: %s: %s\n", inputs[k], first.message); mt_prog_free(&p); return 2; }
        free(r.decisions); free(r.tags);
        long same = 1;
        for (long j = 1; j < repeat; j++) {
            mt_run(&p, &o, &f, NULL);
            if (mt_same_finding(&f, &first) && f.found == first.found) same++;
            else if (!quiet) { fprintf(stderr, "replay %ld differs:\n", j + 1); mt_print_finding(stderr, &f, inputs[k]); }
        }
        if (first.found || !quiet) mt_print_finding(stdout, &first, inputs[k]);
        if (repeat > 1) printf("replayed %ld times: %ld identical%s\n", repeat, same, same == repeat ? "" : " (NOT EXACT)");
        if (same != repeat) status = 1;
        if (expect) {
            if (!first.found || strcmp(first.what, expect) != 0) {
                printf("expected check '%s', got %s\n", expect, first.found ? first.what : "a clean run");
                status = 1;
            }
        } else if (first.found) status = 1;
        if (minimize && first.found) {
            long runs = mt_minimize(&p, &o, &first, max_runs, quiet ? NULL : stderr);
            char path[1024];
            if (out) snprintf(path, sizeof path, "%s", out); else snprintf(path, sizeof path, "%s.min.txt", inputs[k]);
            FILE *fo = fopen(path, "w");
            if (!fo) { fprintf(stderr, "galloc-replay: %s: %s\n", path, strerror(errno)); mt_prog_free(&p); return 2; }
            char c[700];
            snprintf(c, sizeof c, "minimized from %s (%ld replays)\nfound with: --alloc-plant %s\nfinding: %s %s: %s", inputs[k], runs,
                     ga_plant_name(o.plant), first.what, first.invariant, first.message);
            mt_format(&p, fo, c);
            fclose(fo);
            printf("minimized: %s (%ld replays, %zu decisions, %zu switches)\n", path, runs, p.nsched, gs_count_switches(p.sched, p.nsched));
        }
        if (emit) {
            char path[1024];
            if (out && !minimize) snprintf(path, sizeof path, "%s", out); else snprintf(path, sizeof path, "%s.repro.c", inputs[k]);
            FILE *fo = fopen(path, "w");
            if (!fo) { fprintf(stderr, "galloc-replay: %s: %s\n", path, strerror(errno)); mt_prog_free(&p); return 2; }
            mt_emit_c(fo, &p, &o, &first, inputs[k]);
            fclose(fo);
            printf("C reproducer: %s\n", path);
        }
        mt_prog_free(&p);
    }
    return status;
}
