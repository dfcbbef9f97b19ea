/*
 * mt_min.c — shrinking and emitting multi-threaded reproducers (mt.h).
 *
 * Owns: nothing persistent.
 * mt_minimize: delta debugging on both halves of a reproducer while the replay keeps the
 * finding's signature (check + invariant): (1) per thread, remove chunks of ops (halving
 * the chunk size down to 1) together with the decisions that ran them (each decision is
 * tagged with the op its thread was in), so the rest of the schedule keeps its meaning;
 * (2) preemptions: move a segment of the schedule (a run of decisions for one thread) to
 * just before that thread's next segment: one switch fewer, every thread's progress at
 * the later switches unchanged. After every accepted candidate the schedule is replaced by
 * the decisions as replayed, cut at the finding, so it stays exact. Repeats until a whole
 * pass changes nothing or max_runs is used.
 * mt_emit_c: a C program embedding the text form and the recorded finding; it replays it
 * through mt_run (optionally without the plant) and exits 1 when exactly that finding
 * fires, 0 on a clean run, 3 on another finding.
 * Calls: mt.c (mt_run), mt_format.c.
 */
#include "mt.h"
#include <stdlib.h>
#include <string.h>

typedef struct mctx {
    const mt_options *o;
    const mt_finding *want;
    size_t runs, max_runs;
    uint32_t *tags;              /* tags of the current best's decisions */
} mctx;

/* Replays cand; on the same signature canonicalises its schedule (and m->tags) and
 * returns true. */
static bool try_cand(mctx *m, mt_prog *cand, mt_finding *got)
{
    if (m->runs >= m->max_runs) return false;
    m->runs++;
    mt_options o = *m->o;
    o.sched.strategy = GS_REPLAY;
    o.trace = NULL;
    mt_result r;
    int rc = mt_run(cand, &o, got, &r);
    bool ok = rc == 1 && mt_same_signature(got, m->want);
    if (ok) {
        mt_set_sched(cand, r.decisions, r.ndecisions);
        free(m->tags);
        m->tags = r.tags;
        r.tags = NULL;
    }
    free(r.decisions);
    free(r.tags);
    return ok;
}

static size_t total_ops(const mt_prog *p)
{
    size_t n = 0;
    for (unsigned t = 0; t < p->nthreads; t++) n += p->nops[t];
    return n;
}

/* dst = src without ops [at, at+k) of thread t, and without the decisions that ran them
 * (so the rest of the schedule keeps its meaning). */
static bool remove_ops(mt_prog *dst, const mt_prog *src, const uint32_t *tags, unsigned t, size_t at, size_t k)
{
    if (mt_prog_copy(dst, src) != 0) return false;
    memmove(&dst->ops[t][at], &dst->ops[t][at + k], (dst->nops[t] - at - k) * sizeof(mt_op));
    dst->nops[t] -= k;
    if (tags) {
        size_t n = 0;
        for (size_t i = 0; i < src->nsched; i++) {
            uint32_t g = tags[i];
            if (src->sched[i] == t && g < MT_TAG_START && g >= at && g < at + k) continue;
            dst->sched[n++] = src->sched[i];
        }
        dst->nsched = n;
    }
    return true;
}

/* Moves segment [i, j) of thread T to just before T's next segment (or the end): one
 * preemption fewer, and every thread's progress at the later switch points unchanged. */
static void move_segment(uint8_t *d, size_t n, size_t i, size_t j, uint8_t *tmp)
{
    uint8_t t = d[i];
    size_t k = j;
    while (k < n && d[k] != t) k++;
    size_t len = j - i, mid = k - j;
    memcpy(tmp, d + i, len);
    memmove(d + i, d + j, mid);
    memcpy(d + i + mid, tmp, len);
}

long mt_minimize(mt_prog *p, const mt_options *o, mt_finding *f, size_t max_runs, FILE *log)
{
    mctx m = { o, f, 0, max_runs ? max_runs : 5000, NULL };
    mt_finding first;
    mt_prog cur;
    if (mt_prog_copy(&cur, p) != 0) return -1;
    if (!try_cand(&m, &cur, &first)) { mt_prog_free(&cur); free(m.tags); return -1; }
    mt_finding best = first;
    bool changed = true;
    while (changed && m.runs < m.max_runs) {
        changed = false;
        /* (1) ops, with their decisions */
        for (unsigned t = 0; t < cur.nthreads; t++) {
            for (size_t chunk = cur.nops[t] / 2 ? cur.nops[t] / 2 : 1; chunk >= 1; chunk /= 2) {
                for (size_t at = 0; at + chunk <= cur.nops[t];) {
                    mt_prog cand;
                    mt_finding g;
                    if (!remove_ops(&cand, &cur, m.tags, t, at, chunk)) break;
                    if (try_cand(&m, &cand, &g)) {
                        mt_prog_free(&cur);
                        cur = cand;
                        best = g;
                        changed = true;
                    } else {
                        mt_prog_free(&cand);
                        at += chunk;
                    }
                }
                if (chunk == 1) break;
            }
        }
        /* (2) preemptions: move a segment to its thread's next one */
        uint8_t *tmp = malloc(cur.nsched + 1);
        for (size_t i = 1; tmp && i < cur.nsched;) {
            if (cur.sched[i] == cur.sched[i - 1]) { i++; continue; }
            size_t j = i;
            while (j < cur.nsched && cur.sched[j] == cur.sched[i]) j++;
            mt_prog cand;
            mt_finding g;
            if (mt_prog_copy(&cand, &cur) != 0) break;
            move_segment(cand.sched, cand.nsched, i, j, tmp);
            size_t before = gs_count_switches(cur.sched, cur.nsched);
            if (gs_count_switches(cand.sched, cand.nsched) < before && try_cand(&m, &cand, &g) &&
                gs_count_switches(cand.sched, cand.nsched) < before) {
                mt_prog_free(&cur);
                cur = cand;
                best = g;
                changed = true;
                uint8_t *t2 = realloc(tmp, cur.nsched + 1);
                if (!t2) break;
                tmp = t2;
            } else {
                mt_prog_free(&cand);
                i = j;
            }
        }
        free(tmp);
        if (log)
            fprintf(log, "minimize: %zu runs, %zu ops, %zu decisions, %zu switches\n", m.runs, total_ops(&cur),
                    cur.nsched, gs_count_switches(cur.sched, cur.nsched));
    }
    free(m.tags);
    mt_prog_free(p);
    *p = cur;
    *f = best;
    return (long)m.runs;
}

/* s as the body of a C string literal. */
static void c_string(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') fprintf(out, "\\%c", ch);
        else if (ch == '\n') fputs("\\n", out);
        else if (ch < 0x20 || ch >= 0x7f) fprintf(out, "\\%03o", ch);
        else fputc(ch, out);
    }
}

int mt_emit_c(FILE *out, const mt_prog *p, const mt_options *o, const mt_finding *want, const char *source)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) return -1;
    mt_format(p, mem, NULL);
    fclose(mem);
    bool has = want && want->found;
    fprintf(out, "/* Multi-threaded galloc reproducer (issue 15) from %s: the per-thread ops and the\n"
                 " * recorded schedule below, replayed exactly by the controlled scheduler (harness/mt.h).\n"
                 " * Build against a sched build (from the source tree):\n"
                 " *   cc -std=c11 -I alloc -I harness repro.c build-sched/lib/libgalloc_sched.a\n"
                 " *      build-sched/lib/libgalloc_core.a -lpthread -o repro\n"
                 " * Usage: ./repro [--no-plant]   (--no-plant: the same schedule on the allocator without\n"
                 " * plant %s)\n", source ? source : "?", ga_plant_name(o->plant));
    if (has)
        fprintf(out, " * Exit 1: the recorded finding reproduces exactly (check, thread, op, decision, message);\n"
                     " * 0: the run is clean; 3: another finding; 2: usage, or a library without schedule points. */\n");
    else
        fprintf(out, " * Exit 1: a finding; 0: the run is clean; 2: usage, or a library without schedule points. */\n");
    fprintf(out, "#include \"mt.h\"\n#include <string.h>\n\nstatic const char PROGRAM[] =\n");
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        fputs("    \"", out);
        c_string(out, text + i, j - i);
        fputs("\\n\"\n", out);
        i = j + 1;
    }
    fputs("    ;\n\n", out);
    if (has) {
        fprintf(out, "/* the finding as galloc-replay recorded it */\nstatic const mt_finding WANT = {\n"
                     "    .found = true, .what = \"");
        c_string(out, want->what, strlen(want->what));
        fputs("\", .invariant = \"", out);
        c_string(out, want->invariant, strlen(want->invariant));
        fprintf(out, "\", .tid = %d, .op = %zu, .decision = %zu,\n    .message = \"", want->tid, want->op, want->decision);
        c_string(out, want->message, strlen(want->message));
        fputs("\",\n};\n\n", out);
    }
    fprintf(out, "int main(int argc, char **argv)\n{\n"
                 "    int plant = %d;   /* %s */\n"
                 "    if (argc == 2 && strcmp(argv[1], \"--no-plant\") == 0) plant = 0;\n"
                 "    else if (argc != 1) { fprintf(stderr, \"usage: %%s [--no-plant]\\n\", argv[0]); return 2; }\n"
                 "    if (!gs_has_alloc_points()) {\n"
                 "        fprintf(stderr, \"%%s: linked against a galloc without schedule points: use the sched build's libraries\\n\", argv[0]);\n"
                 "        return 2;\n    }\n"
                 "    mt_prog p;\n    char err[200];\n"
                 "    if (mt_parse(PROGRAM, strlen(PROGRAM), &p, err, sizeof err) != 0) { fprintf(stderr, \"%%s\\n\", err); return 2; }\n"
                 "    mt_options o;\n    memset(&o, 0, sizeof o);\n    o.sched.strategy = GS_REPLAY;\n    o.plant = plant;\n"
                 "    mt_finding f;\n    int rc = mt_run(&p, &o, &f, NULL);\n    mt_prog_free(&p);\n"
                 "    if (rc < 0) { fprintf(stderr, \"%%s: %%s\\n\", argv[0], f.message); return 2; }\n"
                 "    mt_print_finding(stdout, &f, \"repro\");\n"
                 "    if (!f.found) return 0;\n", o->plant, ga_plant_name(o->plant));
    if (has)
        fputs("    if (mt_same_finding(&f, &WANT)) { printf(\"REPRODUCED: the recorded finding, exactly\\n\"); return 1; }\n"
              "    printf(\"ANOTHER finding than the recorded one:\\n\");\n"
              "    mt_print_finding(stdout, &WANT, \"recorded\");\n"
              "    return 3;\n}\n", out);
    else
        fputs("    return 1;\n}\n", out);
    free(text);
    return ferror(out) ? -1 : 0;
}
