/*
 * standalone.c — the plain driver of a fuzz target (no libFuzzer, no AFL++): runs every
 * file given, walking directories recursively (dot files and *.md skipped, in sorted
 * order), like libFuzzer's regression mode. Built in every preset, so ctest replays the
 * corpora with gcc/ASan builds too.
 *
 *   <target> [-q] [--missing-ok] [--expect-finding[=SIG]] [--bench SECONDS] [--random N [--seed S]]
 *            FILE|DIR...
 *
 * Exit: 0 every input ran clean; a finding aborts (the GALLOC-FINDING line names the input);
 * 2 usage / unreadable input / a missing path / a directory without inputs (--missing-ok
 * skips those two: for humans and coverage.sh, never for ctest's corpus tests).
 *   --expect-finding  run each input in a child process and require it to abort with a
 *                     finding of the input's own signature (regression inputs of planted
 *                     bugs: run with GALLOC_PLANT set). The signature comes from the file
 *                     name, <class>--<sig>--<hash>[.txt] as campaign.sh stores findings
 *                     (<sig> slugged: '/', ' ', ':' -> '_'; ops_verify_A7 is ops/verify/A7);
 *                     a name without one is a usage error (exit 2). Exit 1 if some input
 *                     ran clean, died another way, or reported another signature (another
 *                     check, or the same check with another invariant code).
 *   --expect-finding=SIG  the same with the signature given (ops/verify/A7 or ops_verify_A7),
 *                     for every input whatever its name.
 *   --bench S         run the inputs round-robin for S seconds, print executions per second.
 *   --random N        after the given inputs, N more made from them (seeded by --seed,
 *                     default 1): each a copy of a given input with a few random byte edits,
 *                     or (one in four, or when none is given) random bytes. A cheap, reproducible
 *                     exploration for ctest where no fuzzing engine is built; on a finding the
 *                     input is written to crash-random-<seed>-<n> before the abort, for replay.
 * Options libFuzzer understands (-runs=N, -seed=N, ...) are accepted and ignored, so the
 * same command line works with both binaries.
 * Calls: the target's LLVMFuzzerTestOneInput / LLVMFuzzerInitialize, harness.h (gh_walk_inputs).
 */
#define _GNU_SOURCE 1
#include "fuzz.h"
#include "harness.h"   /* gh_walk_inputs */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct input {
    char *path;
    uint8_t *data;
    size_t len;
} input;

static input *inputs;
static size_t ninputs, capinputs;
static bool quiet, missing_ok, expect_finding;
static const char *expect_sig;       /* --expect-finding=SIG; NULL: from each file name */
static const char *argv0 = "fuzz-target";
static double bench_secs;
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static uint64_t random_n, random_seed = 1;
static uint8_t *cur_random;          /* the random input running now (for the abort handler) */
static size_t cur_random_len;
static char cur_random_file[64];
static int errors;

static void add_input(const char *path)
{
    uint8_t *d;
    size_t n;
    if (gf_read_file(path, &d, &n) != 0) {
        fprintf(stderr, "galloc-fuzz: %s: cannot read: %s\n", path, strerror(errno));
        errors++;
        return;
    }
    if (ninputs == capinputs) {
        capinputs = capinputs ? capinputs * 2 : 64;
        input *ni = realloc(inputs, capinputs * sizeof *ni);
        if (!ni) {
            fprintf(stderr, "galloc-fuzz: out of memory\n");
            exit(2);
        }
        inputs = ni;
    }
    inputs[ninputs].path = strdup(path);
    inputs[ninputs].data = d;
    inputs[ninputs].len = n;
    ninputs++;
}

/* gh_walk_inputs callbacks: every file is an input; a path that cannot be read is an error,
 * or with --missing-ok a missing one is skipped. */
static void walk_file(void *ctx, const char *path) { (void)ctx; add_input(path); }
static void walk_error(void *ctx, const char *path, int err, int depth)
{
    (void)ctx;
    if (err == ENOENT && missing_ok) {
        if (!quiet)
            printf("skip %s: does not exist\n", path);
        return;
    }
    fprintf(stderr, "galloc-fuzz: %s: %s%s\n", path, strerror(err),
            err == ENOENT && depth == 0 ? " (--missing-ok skips a missing path)" : "");
    errors++;
}
static void walk(const char *path)
{
    gh_walker w = {NULL, walk_file, walk_error};
    gh_walk_inputs(&w, path);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* campaign.sh's slug(): '/', ' ', ':' become '_', anything outside [A-Za-z0-9_.-] goes. */
static void slug(const char *in, char *out, size_t n)
{
    size_t k = 0;
    for (; *in && k + 1 < n; in++) {
        char ch = *in == '/' || *in == ' ' || *in == ':' ? '_' : *in;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
            ch == '.' || ch == '-')
            out[k++] = ch;
    }
    out[k] = 0;
}

/* The signature a regression file is named after: <class>--<sig>--<hash>[.txt], slugged.
 * Returns false if the name has no such part. */
static bool sig_from_name(const char *path, char *out, size_t n)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *s1 = strstr(b, "--");
    if (!s1) return false;
    s1 += 2;
    const char *s2 = strstr(s1, "--");
    if (!s2 || s2 == s1 || !s2[2] || (size_t)(s2 - s1) >= n) return false;
    char raw[256];
    size_t l = (size_t)(s2 - s1) < sizeof raw ? (size_t)(s2 - s1) : sizeof raw - 1;
    memcpy(raw, s1, l);
    raw[l] = 0;
    slug(raw, out, n);
    return out[0] != 0;
}

/* Runs one input in a child with its stderr captured; *sig gets the sig= of the child's
 * GALLOC-FINDING line ("" if none). The captured output goes on to our stderr. Returns the
 * wait status, or -1 if the child could not be run. */
static int run_child(const input *in, char *sig, size_t n)
{
    int fds[2];
    sig[0] = 0;
    if (pipe(fds) != 0) { perror("galloc-fuzz: pipe"); return -1; }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) { perror("galloc-fuzz: fork"); close(fds[0]); close(fds[1]); return -1; }
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        gf_input_name = in->path;
        LLVMFuzzerTestOneInput(in->data, in->len);
        _exit(0);
    }
    close(fds[1]);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            size_t nc = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, nc);
            if (!nb) break;
            buf = nb;
            cap = nc;
        }
        ssize_t r = read(fds[0], buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (fwrite(buf + len, 1, (size_t)r, stderr) != (size_t)r) {}
        len += (size_t)r;
    }
    close(fds[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) { perror("galloc-fuzz: waitpid"); free(buf); return -1; }
    }
    if (buf) {
        buf[len] = 0;
        for (char *line = buf; line && *line;) {
            char *nl = strchr(line, '\n');
            if (strncmp(line, "GALLOC-FINDING ", 15) == 0) {
                char *p = strstr(line, " sig=");
                if (p && (!nl || p < nl)) {
                    p += 5;
                    size_t k = 0;
                    while (p[k] && p[k] != ' ' && p[k] != '\n' && k + 1 < n) { sig[k] = p[k]; k++; }
                    sig[k] = 0;
                    break;
                }
            }
            line = nl ? nl + 1 : NULL;
        }
    }
    free(buf);
    return st;
}

static int run_expect(void)
{
    int bad = 0;
    char (*want)[128] = calloc(ninputs ? ninputs : 1, sizeof *want);
    if (!want) { fprintf(stderr, "galloc-fuzz: out of memory\n"); return 2; }
    /* every expected signature is known before anything runs: a misnamed file is a usage error */
    for (size_t i = 0; i < ninputs; i++) {
        if (expect_sig) slug(expect_sig, want[i], sizeof want[i]);
        else if (!sig_from_name(inputs[i].path, want[i], sizeof want[i])) {
            fprintf(stderr, "galloc-fuzz: %s: --expect-finding cannot tell the expected signature from the file name "
                    "(want <class>--<sig>--<hash>, e.g. refill-off-by-one--ops_verify_A7--b7105191); rename it or "
                    "give --expect-finding=SIG\n", inputs[i].path);
            free(want);
            return 2;
        }
    }
    if (ninputs == 0) {
        fprintf(stderr, "galloc-fuzz: --expect-finding: no inputs\n");
        free(want);
        return 2;
    }
    for (size_t i = 0; i < ninputs; i++) {
        char got[128], gotslug[128];
        int st = run_child(&inputs[i], got, sizeof got);
        if (st == -1) { free(want); return 2; }
        slug(got, gotslug, sizeof gotslug);
        bool aborted = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
        if (aborted && got[0] && strcmp(gotslug, want[i]) == 0) {
            if (!quiet)
                printf("found %s: sig=%s (as expected)\n", inputs[i].path, got);
            continue;
        }
        bad++;
        if (aborted && got[0])
            printf("WRONG FINDING: %s: expected sig %s, got sig=%s (GALLOC_PLANT=%s)\n", inputs[i].path, want[i], got,
                   gf_plant_label());
        else if (WIFEXITED(st))
            printf("NOT FOUND: %s ran to the end (exit %d) without a finding, expected sig %s (GALLOC_PLANT=%s)\n",
                   inputs[i].path, WEXITSTATUS(st), want[i], gf_plant_label());
        else
            printf("NOT FOUND: %s died of signal %d%s, expected a finding with sig %s (GALLOC_PLANT=%s)\n",
                   inputs[i].path, WIFSIGNALED(st) ? WTERMSIG(st) : 0, aborted ? " without a GALLOC-FINDING line" : "",
                   want[i], gf_plant_label());
        printf("  reproduce: GALLOC_PLANT=%s %s %s\n", gf_plant_label(), argv0, inputs[i].path);
    }
    printf("galloc-fuzz: %zu input(s), %d without the expected finding\n", ninputs, bad);
    free(want);
    return bad ? 1 : 0;
}

/* A finding aborts the process (or a sanitizer ends it, or it crashes): keep the random
 * input that caused it. Only async-signal-safe calls here. */
static void dump_random(void)
{
    if (cur_random) {
        int fd = open(cur_random_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            size_t off = 0;
            while (off < cur_random_len) {
                ssize_t w = write(fd, cur_random + off, cur_random_len - off);
                if (w <= 0) break;
                off += (size_t)w;
            }
            close(fd);
            static const char msg[] = "galloc-fuzz: the random input is saved as ";
            if (write(2, msg, sizeof msg - 1) < 0 || write(2, cur_random_file, strlen(cur_random_file)) < 0 ||
                write(2, "\n", 1) < 0) {}
        }
        cur_random = NULL;
    }
}

static void on_fatal_signal(int sig)
{
    dump_random();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ASan/UBSan end the process through their own exit path, not a signal. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static void catch_fatal(void)
{
    static const int sigs[] = { SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(dump_random);
}

static int run_random(void)
{
    gf_rng r;
    gf_rng_seed(&r, random_seed);
    size_t cap = 4096;
    uint8_t *buf = malloc(cap + 64);
    if (!buf) return 2;
    catch_fatal();
    double t0 = now();
    for (uint64_t k = 0; k < random_n; k++) {
        size_t len;
        if (ninputs && gf_rng_below(&r, 4) != 0) {
            const input *in = &inputs[gf_rng_below(&r, ninputs)];
            len = in->len < cap ? in->len : cap;
            memcpy(buf, in->data, len);
            for (uint64_t e = 1 + gf_rng_below(&r, 8); e-- > 0;) {
                size_t at = len ? (size_t)gf_rng_below(&r, len + 1) : 0;
                switch (gf_rng_below(&r, 4)) {
                case 0: if (at < len) buf[at] ^= (uint8_t)(1u << gf_rng_below(&r, 8)); break;   /* flip a bit */
                case 1: if (at < len) buf[at] = (uint8_t)gf_rng_next(&r); break;               /* set a byte */
                case 2: if (len < cap) { memmove(buf + at + 1, buf + at, len - at); buf[at] = (uint8_t)gf_rng_next(&r); len++; } break;
                default: if (at < len) { memmove(buf + at, buf + at + 1, len - at - 1); len--; } break;
                }
            }
        } else {
            len = (size_t)gf_rng_below(&r, 513);
            for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)gf_rng_next(&r);
        }
        snprintf(cur_random_file, sizeof cur_random_file, "crash-random-%llu-%llu",
                 (unsigned long long)random_seed, (unsigned long long)k);
        cur_random = buf;
        cur_random_len = len;
        gf_input_name = cur_random_file;
        LLVMFuzzerTestOneInput(buf, len);
    }
    cur_random = NULL;
    gf_input_name = NULL;
    printf("galloc-fuzz: %llu random input(s) (seed %llu) ran clean in %.2f s (GALLOC_PLANT=%s)\n",
           (unsigned long long)random_n, (unsigned long long)random_seed, now() - t0, gf_plant_label());
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int nargs = 0;
    argv0 = argv[0];
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args)
        return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
            quiet = true;
        else if (strcmp(a, "--missing-ok") == 0)
            missing_ok = true;
        else if (strcmp(a, "--expect-finding") == 0)
            expect_finding = true;
        else if (strncmp(a, "--expect-finding=", 17) == 0) {
            expect_finding = true;
            expect_sig = a + 17;
            if (!*expect_sig) {
                fprintf(stderr, "galloc-fuzz: --expect-finding= needs a signature (e.g. ops/verify/A7)\n");
                return 2;
            }
        }
        else if (strcmp(a, "--bench") == 0 && i + 1 < argc)
            bench_secs = atof(argv[++i]);
        else if ((strcmp(a, "--random") == 0 || strcmp(a, "--seed") == 0) && i + 1 < argc) {
            char *end;
            unsigned long long v = strtoull(argv[++i], &end, 0);
            if (*end || argv[i][0] == '-' || !argv[i][0]) {
                fprintf(stderr, "galloc-fuzz: %s wants a number, got '%s'\n", a, argv[i]);
                return 2;
            }
            if (a[2] == 'r') random_n = v; else random_seed = v;
        }
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("usage: %s [-q] [--missing-ok] [--expect-finding[=SIG]] [--bench SECONDS] [--random N [--seed S]] FILE|DIR...\n", argv[0]);
            return 0;
        } else if (a[0] == '-' && a[1] != '-' && strchr(a, '='))
            ;   /* a libFuzzer flag such as -runs=0: ignored */
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "galloc-fuzz: unknown option '%s'\n", a);
            return 2;
        } else
            args[nargs++] = argv[i];
    }
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 0; i < nargs; i++) {
        /* a directory named here must hold inputs: a corpus test over an empty or mistyped
         * directory would pass having run nothing (--missing-ok allows both) */
        size_t before = ninputs;
        struct stat sb;
        bool dir = stat(args[i], &sb) == 0 && S_ISDIR(sb.st_mode);
        walk(args[i]);
        if (dir && ninputs == before) {
            if (missing_ok) {
                if (!quiet) printf("skip %s: no inputs in it\n", args[i]);
            } else {
                fprintf(stderr, "galloc-fuzz: %s: error: directory holds no inputs (empty corpus; --missing-ok skips it)\n",
                        args[i]);
                errors++;
            }
        }
    }
    free(args);
    if (errors)
        return 2;
    if (expect_finding)
        return run_expect();
    if (bench_secs > 0) {
        if (!ninputs) {
            fprintf(stderr, "galloc-fuzz: --bench needs inputs\n");
            return 2;
        }
        size_t execs = 0, bytes = 0;
        double *spent = calloc(ninputs, sizeof *spent);   /* wall seconds per input */
        if (!spent) { fprintf(stderr, "galloc-fuzz: out of memory\n"); return 2; }
        double t0 = now(), t = t0, c0 = cpu_now();
        while (t - t0 < bench_secs) {
            for (size_t i = 0; i < ninputs; i++) {
                gf_input_name = inputs[i].path;
                double ti = t;
                LLVMFuzzerTestOneInput(inputs[i].data, inputs[i].len);
                t = now();
                spent[i] += t - ti;
                bytes += inputs[i].len;
            }
            execs += ninputs;
        }
        double cpu = cpu_now() - c0;
        printf("bench: %zu executions of %zu input(s) (avg %.0f bytes) in %.2f s (%.2f s CPU): %.0f exec/s, %.0f exec "
               "per CPU second\n", execs, ninputs, (double)bytes / (double)execs, t - t0, cpu, (double)execs / (t - t0),
               cpu > 0 ? (double)execs / cpu : 0.0);
        if (ninputs > 1) {
            /* The mean above is ruled by the slowest inputs (a 40 MiB object costs as much as
             * hundreds of small ones); the spread shows what a typical input costs. */
            size_t rounds = execs / ninputs, slow = 0;
            for (size_t i = 0; i < ninputs; i++)
                if (spent[i] > spent[slow]) slow = i;
            for (size_t i = 0; i < ninputs; i++)
                spent[i] = (double)rounds / spent[i];   /* now exec/s of input i alone */
            const char *slow_name = inputs[slow].path;
            double slow_rate = spent[slow];
            qsort(spent, ninputs, sizeof *spent, cmp_double);
            printf("bench: per input exec/s: slowest %.0f (%s), 10th percentile %.0f, median %.0f, 90th percentile %.0f\n",
                   slow_rate, slow_name, spent[ninputs / 10], spent[ninputs / 2], spent[ninputs * 9 / 10]);
        }
        free(spent);
        return 0;
    }
    double t0 = now();
    for (size_t i = 0; i < ninputs; i++) {
        gf_input_name = inputs[i].path;
        LLVMFuzzerTestOneInput(inputs[i].data, inputs[i].len);
        if (!quiet)
            printf("ok   %s (%zu bytes)\n", inputs[i].path, inputs[i].len);
    }
    gf_input_name = NULL;
    printf("galloc-fuzz: %zu input(s) ran clean in %.2f s (GALLOC_PLANT=%s)\n", ninputs, now() - t0, gf_plant_label());
    int rrc = random_n ? run_random() : 0;
    for (size_t i = 0; i < ninputs; i++) {
        free(inputs[i].path);
        free(inputs[i].data);
    }
    free(inputs);
    return rrc;
}
