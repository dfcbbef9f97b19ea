/*
 * standalone.c — the plain driver of a fuzz target (no libFuzzer, no AFL++): runs every
 * file given, walking directories recursively (dot files and *.md skipped, in sorted
 * order), like libFuzzer's regression mode. Built in every preset, so ctest replays the
 * corpora with gcc/ASan builds too.
 *
 *   <target> [-q] [--missing-ok] [--expect-finding] [--bench SECONDS] [--random N [--seed S]]
 *            FILE|DIR...
 *
 * Exit: 0 every input ran clean; a finding aborts (the GALLOC-FINDING line names the input);
 * 2 usage / unreadable input.
 *   --expect-finding  run each input in a child process and require it to abort with a
 *                     finding (regression inputs of planted bugs: run with GALLOC_PLANT set);
 *                     exit 1 if some input ran clean.
 *   --bench S         run the inputs round-robin for S seconds, print executions per second.
 *   --random N        after the given inputs, N more made from them (seeded by --seed,
 *                     default 1): each a copy of a given input with a few random byte edits,
 *                     or (one in four, or when none is given) random bytes. A cheap, reproducible
 *                     exploration for ctest where no fuzzing engine is built; on a finding the
 *                     input is written to crash-random-<seed>-<n> before the abort, for replay.
 * Options libFuzzer understands (-runs=N, -seed=N, ...) are accepted and ignored, so the
 * same command line works with both binaries.
 * Calls: the target's LLVMFuzzerTestOneInput / LLVMFuzzerInitialize.
 */
#define _GNU_SOURCE 1
#include "fuzz.h"

#include <dirent.h>
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

static bool skip_name(const char *n)
{
    size_t l = strlen(n);
    return n[0] == '.' || (l > 3 && strcmp(n + l - 3, ".md") == 0);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void walk(const char *path, int depth)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT && missing_ok) {
            if (!quiet)
                printf("skip %s: does not exist\n", path);
            return;
        }
        fprintf(stderr, "galloc-fuzz: %s: %s\n", path, strerror(errno));
        errors++;
        return;
    }
    if (!S_ISDIR(sb.st_mode)) {
        add_input(path);
        return;
    }
    if (depth > 32)
        return;
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "galloc-fuzz: %s: %s\n", path, strerror(errno));
        errors++;
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (skip_name(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        size_t l = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(l);
        if (!names[n])
            break;
        snprintf(names[n], l, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        walk(names[i], depth + 1);
        free(names[i]);
    }
    free(names);
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

static int run_expect(void)
{
    int clean = 0;
    for (size_t i = 0; i < ninputs; i++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            gf_input_name = inputs[i].path;
            LLVMFuzzerTestOneInput(inputs[i].data, inputs[i].len);
            _exit(0);
        }
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) {
            if (!quiet)
                printf("found %s (as expected)\n", inputs[i].path);
        } else {
            printf("NOT FOUND: %s ran %s without a finding (GALLOC_PLANT=%s)\n", inputs[i].path,
                   WIFEXITED(st) ? "to the end" : "into another signal", gf_plant_label());
            clean++;
        }
    }
    printf("galloc-fuzz: %zu input(s), %d without the expected finding\n", ninputs, clean);
    return clean ? 1 : 0;
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
            printf("usage: %s [-q] [--missing-ok] [--expect-finding] [--bench SECONDS] [--random N [--seed S]] FILE|DIR...\n", argv[0]);
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
    for (int i = 0; i < nargs; i++)
        walk(args[i], 0);
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
