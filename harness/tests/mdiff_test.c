/*
 * mdiff_test.c — tests of the malloc-API differential (harness/mdiff.h). Owns two ctest
 * tests (label unit;smoke):
 *
 *   mdiff_test format   the op model: generated sequences round-trip through the binary and
 *                       text forms; ANY byte string decodes and re-encodes canonically; bad
 *                       text is rejected with line and column.
 *   mdiff_test plants   every planted API bug of alloc/malloc_test.h is found, by the check
 *                       named for it, by the seed corpus (fuzz/seeds/fuzz_malloc) or, failing
 *                       that, a fixed set of generated sequences; the clean build finds
 *                       nothing; every check is the catcher of at least one plant. Each plant
 *                       runs in its own child process (a crash in one cannot hide the others).
 *                       Prints the table: plant, check, input, step.
 *
 * Exit 0 pass, 1 fail, 2 usage. Calls: mdiff.h, harness.h (gh_read_file).
 */
#define _GNU_SOURCE 1
#include "mdiff.h"
#include "malloc_test.h"
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef GA_SOURCE_DIR
#define GA_SOURCE_DIR "."
#endif

static int fails;
#define EXPECT(c, ...) do { if (!(c)) { if (++fails <= 20) { printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } } while (0)

static bool op_eq(const gm_op *x, const gm_op *y)
{
    return x->kind == y->kind && x->flags == y->flags && x->obj == y->obj && x->a == y->a && x->b == y->b;
}

static bool seq_eq(const gm_seq *x, const gm_seq *y)
{
    if (x->n != y->n) return false;
    for (size_t i = 0; i < x->n; i++) if (!op_eq(&x->ops[i], &y->ops[i])) return false;
    return true;
}

static int test_format(void)
{
    char err[256];
    for (uint64_t seed = 1; seed <= 200; seed++) {
        gm_seq s, d, t;
        EXPECT(gm_generate(seed, 150, &s) == 0, "generate");
        uint8_t *b;
        size_t n;
        EXPECT(gm_encode(&s, &b, &n) == 0, "encode");
        EXPECT(gm_decode(b, n, &d) == 0 && seq_eq(&s, &d), "seed %llu: decode(encode(s)) != s", (unsigned long long)seed);
        free(b);
        char *txt = NULL;
        size_t tl = 0;
        FILE *f = open_memstream(&txt, &tl);
        gm_format(&s, f);
        fclose(f);
        EXPECT(gm_parse(txt, tl, &t, err, sizeof err) == 0, "seed %llu: parse(format(s)) failed: %s", (unsigned long long)seed, err);
        EXPECT(seq_eq(&s, &t), "seed %llu: parse(format(s)) != s", (unsigned long long)seed);
        free(txt);
        gm_seq_free(&s); gm_seq_free(&d); gm_seq_free(&t);
    }
    /* any byte string decodes; the re-encoding is canonical */
    uint64_t x = 88172645463325252ull;
    for (int k = 0; k < 3000; k++) {
        uint8_t buf[300];
        size_t len = (size_t)(k % 300);
        for (size_t i = 0; i < len; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; buf[i] = (uint8_t)x; }
        gm_seq s, d;
        EXPECT(gm_decode(buf, len, &s) == 0, "decode of random bytes failed");
        uint8_t *b;
        size_t n;
        EXPECT(gm_encode(&s, &b, &n) == 0, "encode");
        EXPECT(gm_decode(b, n, &d) == 0 && seq_eq(&s, &d), "random input %d: not canonical", k);
        for (size_t i = 0; i < s.n; i++) EXPECT(s.ops[i].kind < GM_NKINDS, "kind out of range");
        free(b);
        gm_seq_free(&s); gm_seq_free(&d);
    }
    /* bad text is rejected with a position */
    static const struct { const char *in, *where; } BAD[] = {
        { "galloc-malloc 2\n", "1:1:" }, { "", "1:1:" }, { "galloc-malloc 1\nmalloc\n", "2:" },
        { "galloc-malloc 1\nfoo 1\n", "2:1:" }, { "galloc-malloc 1\nfree 200\n", "2:6:" },
        { "galloc-malloc 1\nmalloc 12x\n", "2:8:" }, { "galloc-malloc 1\nrealloc 0 1 2\n", "2:13:" },
        { "galloc-malloc 1\nfree-foreign heap\n", "2:14:" }, { "galloc-malloc 1\nmalloc 1\nfree null\n", "3:6:" },
        { "galloc-malloc 1\nmalloc \x01\n", "2:8:" },
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        gm_seq s;
        err[0] = '\0';
        int rc = gm_parse(BAD[i].in, strlen(BAD[i].in), &s, err, sizeof err);
        EXPECT(rc == -1 && strncmp(err, BAD[i].where, strlen(BAD[i].where)) == 0, "bad text %zu: rc %d, '%s' (want %s...)", i, rc, err, BAD[i].where);
        if (rc == 0) gm_seq_free(&s);
    }
    gm_seq s;
    const char *good = "galloc-malloc 1\r\n# c\n  malloc 0x10 # x\nrealloc null max\nfree -128\nwrite 3 slack\nfree-foreign glibc\n";
    EXPECT(gm_parse(good, strlen(good), &s, err, sizeof err) == 0 && s.n == 5 && s.ops[0].a == 16 && s.ops[1].a == UINT64_MAX &&
           s.ops[2].obj == 255 && s.ops[3].flags == 1 && s.ops[4].a == 2, "good text: %s", err);
    gm_seq_free(&s);
    printf("mdiff format: %s\n", fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}

/* ---- plants -------------------------------------------------------------------------------- */
typedef struct input { char name[256]; gm_seq s; } input;
static input ins[200];
static size_t nins;

static int cmp_name(const void *a, const void *b) { return strcmp(((const input *)a)->name, ((const input *)b)->name); }

static void load_inputs(void)
{
    const char *dir = GA_SOURCE_DIR "/fuzz/seeds/fuzz_malloc";
    DIR *d = opendir(dir);
    if (!d) { printf("cannot open %s: %s\n", dir, strerror(errno)); exit(2); }
    struct dirent *e;
    while ((e = readdir(d)) && nins < 100) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".txt")) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        uint8_t *data;
        size_t n;
        char err[256];
        if (gh_read_file(path, &data, &n) != 0) { printf("cannot read %s\n", path); exit(2); }
        if (gm_load(data, n, &ins[nins].s, err, sizeof err) != 0) { printf("%s:%s\n", path, err); exit(2); }
        free(data);
        snprintf(ins[nins].name, sizeof ins[nins].name, "seed %s", e->d_name);
        nins++;
    }
    closedir(d);
    qsort(ins, nins, sizeof ins[0], cmp_name);
    if (nins < 12) { printf("only %zu seeds in %s (want a dozen)\n", nins, dir); exit(2); }
    /* the fixed generated set, after the seeds */
    for (uint64_t seed = 1; seed <= 40; seed++) {
        if (gm_generate(seed, 300, &ins[nins].s) != 0) exit(2);
        snprintf(ins[nins].name, sizeof ins[nins].name, "generated seed %llu (300 ops)", (unsigned long long)seed);
        nins++;
    }
}

typedef struct result { int found; unsigned check; size_t step; char input[256]; char msg[600]; } result;

static result run_plant(int plant)
{
    result res;
    memset(&res, 0, sizeof res);
    int fd[2];
    if (pipe(fd) != 0) { perror("pipe"); exit(2); }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); exit(2); }
    if (pid == 0) {
        close(fd[0]);
        gm_options o;
        gm_options_default(&o);
        o.plant = plant;
        for (size_t i = 0; i < nins && !res.found; i++) {
            gm_finding f;
            if (gm_execute(&ins[i].s, &o, &f, NULL) == 1) {
                res.found = 1;
                res.check = f.check;
                res.step = f.step;
                snprintf(res.input, sizeof res.input, "%s", ins[i].name);
                snprintf(res.msg, sizeof res.msg, "%s", f.message);
            }
        }
        if (write(fd[1], &res, sizeof res) != (ssize_t)sizeof res) _exit(3);
        _exit(0);
    }
    close(fd[1]);
    ssize_t got = read(fd[0], &res, sizeof res);
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    if (got != (ssize_t)sizeof res || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        memset(&res, 0, sizeof res);
        res.found = -1;
        snprintf(res.msg, sizeof res.msg, "the child died (%s %d)", WIFSIGNALED(st) ? "signal" : "exit",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    }
    return res;
}

/* Which check must catch which plant. */
static const unsigned WANT[GM_PLANT_COUNT] = {
    [GM_PLANT_REALLOC_COPY_SHORT] = GM_CHK_CONTENT,
    [GM_PLANT_REALLOC_GROW_INPLACE] = GM_CHK_USABLE,
    [GM_PLANT_CALLOC_LARGE_NOZERO] = GM_CHK_ZERO,
    [GM_PLANT_CALLOC_OVERFLOW] = GM_CHK_RESULT,
    [GM_PLANT_REALLOCARRAY_OVERFLOW] = GM_CHK_ERRNO,
    [GM_PLANT_ALIGN32_AS_MALLOC] = GM_CHK_ALIGN,
    [GM_PLANT_MEMALIGN_ROUND_DOWN] = GM_CHK_ALIGN,
    [GM_PLANT_VALLOC_SWAPPED] = GM_CHK_USABLE,
    [GM_PLANT_PVALLOC_ROUND_OVERFLOW] = GM_CHK_RESULT,
    [GM_PLANT_USABLE_HEADER] = GM_CHK_USABLE,
    [GM_PLANT_ENOMEM_NO_ERRNO] = GM_CHK_ERRNO,
    [GM_PLANT_FREE_SIZED_STRICT] = GM_CHK_MISUSE,
    [GM_PLANT_REALLOC_FREED_SILENT] = GM_CHK_MISUSE,
    [GM_PLANT_MALLOC0_NULL] = GM_CHK_RESULT,
};

static int test_plants(void)
{
    load_inputs();
    unsigned caught_by = 0;
    printf("| plant | check that caught it | input | step | message |\n|---|---|---|---|---|\n");
    for (int p = 0; p < GM_PLANT_COUNT; p++) {
        result r = run_plant(p);
        if (r.found == 1)
            printf("| %s | %s | %s | %zu | %s |\n", gm_plant_name(p), gm_check_name(r.check), r.input, r.step, r.msg);
        else
            printf("| %s | %s | | | %s |\n", gm_plant_name(p), r.found < 0 ? "CRASH" : "nothing", r.msg);
        if (p == 0) {
            EXPECT(r.found == 0, "the clean build has a finding: %s at step %zu of %s: %s", gm_check_name(r.check), r.step, r.input, r.msg);
            continue;
        }
        EXPECT(r.found == 1, "plant %s not found", gm_plant_name(p));
        EXPECT(r.found != 1 || r.check == WANT[p], "plant %s found by '%s', want '%s'", gm_plant_name(p), gm_check_name(r.check),
               gm_check_name(WANT[p]));
        if (r.found == 1) caught_by |= r.check;
    }
    for (unsigned c = 1; c <= GM_CHK_MISUSE; c <<= 1)
        EXPECT(caught_by & c, "no plant proves check '%s' can fire", gm_check_name(c));
    printf("mdiff plants: %d plants, %zu inputs: %s\n", GM_PLANT_COUNT - 1, nins, fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && strcmp(argv[1], "format") == 0) return test_format();
    if (argc == 2 && strcmp(argv[1], "plants") == 0) return test_plants();
    fprintf(stderr, "usage: %s format|plants\n", argv[0]);
    return 2;
}
