/*
 * test_emit_c.c — --emit-c writes a standalone C program that compiles against the
 * public headers, links libgalloc_core, and exits 1 ("reproduced") for a failing
 * sequence and 0 for a clean one. Needs the compiler the build used (GH_C_COMPILER).
 */
#include "harness.h"
#include "check.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int build_and_run(const gh_seq *s, const gh_options *o, const char *tag)
{
    char src[256], exe[256], cmd[2048];
    snprintf(src, sizeof src, "%s/harness_emit_%s_%d.c", GH_BINARY_DIR, tag, (int)getpid());
    snprintf(exe, sizeof exe, "%s/harness_emit_%s_%d", GH_BINARY_DIR, tag, (int)getpid());
    FILE *f = fopen(src, "w");
    if (!f) return -1;
    int rc = gh_emit_c(f, s, o, tag);
    fclose(f);
    if (rc != 0) return -1;
    snprintf(cmd, sizeof cmd, "%s -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I%s/alloc %s -o %s %s -lpthread %s",
             GH_C_COMPILER, GA_SOURCE_DIR, src, exe, GH_CORE_LIB,
#if defined(__SANITIZE_ADDRESS__)
             "-fsanitize=address,undefined"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
             "-fsanitize=address,undefined"
#else
             ""
#endif
#else
             ""
#endif
             );
    int b = system(cmd);
    CHECK(b == 0, "%s: compiling the reproducer failed: %s", tag, cmd);
    if (b != 0) return -1;
    snprintf(cmd, sizeof cmd, "%s > %s.out 2>&1", exe, exe);
    int r = system(cmd);
    remove(src);
    remove(exe);
    char out[300];
    snprintf(out, sizeof out, "%s.out", exe);
    remove(out);
    return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static void parse(const char *body, gh_seq *s)
{
    char buf[4096];
    gh_parse_error pe;
    snprintf(buf, sizeof buf, "galloc-ops 1\n%s", body);
    if (gh_parse(buf, strlen(buf), s, &pe) != 0) { fprintf(stderr, "line %u: %s\n", pe.line, pe.msg); exit(2); }
}

int main(void)
{
    gh_options o;
    gh_options_default(&o);
    o.check_every = 1;
    gh_seq s;
    /* a clean sequence using most ops: the reproducer runs to the end and exits 0 */
    parse("malloc 24\nmalloc 100 noscan\ncalloc 3 40\nrealloc 0 300\naligned 64 100 native noscan\n"
          "cache 1\nmalloc 40000 noscan\nfree 0 other\nwrite 1\ngc keep=60 seed=3 sweep=all black=2\n"
          "scavenge all\ndouble-free 0\nfree-foreign static\nfree-interior -1 5\nrelease\ndestroy-cache\nverify\n", &s);
    gh_finding f;
    CHECK_EQ(gh_execute(&s, &o, &f, NULL), 0);
    CHECK_EQ(build_and_run(&s, &o, "clean"), 0);
    gh_seq_free(&s);
    /* faults that corrupt the heap are replayed by the reproducer too */
    struct { const char *seq; gh_fault fault; size_t step; } cases[] = {
        { "malloc 100 noscan\nmalloc 200 noscan\ncheck 1\n", GH_FAULT_SCRIBBLE, 1 },
        { "malloc 64 noscan\nmalloc 64 noscan\nverify\n", GH_FAULT_FREE_SLOT, 0 },
        { "malloc 100 noscan\nmalloc 100 noscan\n", GH_FAULT_ALIAS, 1 },
        { "malloc 4000\n", GH_FAULT_UNDERSIZE, 0 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        parse(cases[k].seq, &s);
        o.fault = cases[k].fault;
        o.fault_step = cases[k].step;
        CHECK_EQ(gh_execute(&s, &o, &f, NULL), 1);
        CHECK(build_and_run(&s, &o, gh_fault_name(cases[k].fault)) == 1, "fault %s not reproduced by the C program",
              gh_fault_name(cases[k].fault));
        gh_seq_free(&s);
    }
    TEST_MAIN_END();
}
