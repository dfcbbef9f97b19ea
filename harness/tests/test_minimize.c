/*
 * test_minimize.c — the minimizer reduces a planted failure buried in a 200-op sequence
 * to a handful of ops, keeps the same finding, and is deterministic.
 * Planted condition: an object of 1000..2000 bytes is freed while >= 3 others are live.
 * Only the planted check is on, so allocator findings cannot steal the target.
 */
#include "harness.h"
#include "check.h"

#include <string.h>

int main(void)
{
    gh_options o;
    gh_options_default(&o);
    o.checks = GH_CHK_PLANTED;
    o.check_every = 0;
    int tried = 0, minimized = 0;
    for (uint64_t seed = 1; seed < 400 && minimized < 5; seed++) {
        gh_seq s;
        CHECK_EQ(gh_generate(seed, 200, &s), 0);
        gh_finding f;
        if (gh_execute(&s, &o, &f, NULL) != 1) { gh_seq_free(&s); continue; }
        tried++;
        /* the first failing step must be late enough to make the test meaningful */
        if (f.step < 20) { gh_seq_free(&s); continue; }
        gh_seq copy;
        gh_seq_copy(&copy, &s);
        gh_min_options mo = { 5000, true, NULL };
        gh_finding mf;
        long runs = gh_minimize(&s, &o, &mo, &mf);
        CHECK(runs > 0, "seed %llu: minimize returned %ld", (unsigned long long)seed, runs);
        CHECK(s.n <= 6, "seed %llu: minimized to %zu ops (want <= 6)", (unsigned long long)seed, s.n);
        CHECK(mf.found && mf.check == GH_CHK_PLANTED, "seed %llu: minimized finding is '%s'", (unsigned long long)seed, gh_check_name(mf.check));
        gh_finding again;
        CHECK_EQ(gh_execute(&s, &o, &again, NULL), 1);
        printf("seed %llu: %zu -> %zu ops in %ld runs:\n", (unsigned long long)seed, copy.n, s.n, runs);
        gh_format(&s, stdout);
        /* deterministic: minimizing the same input again gives the same result */
        gh_seq s2;
        gh_seq_copy(&s2, &copy);
        gh_minimize(&s2, &o, &mo, NULL);
        CHECK(s2.n == s.n, "seed %llu: second minimization gave %zu ops, first %zu", (unsigned long long)seed, s2.n, s.n);
        for (size_t i = 0; i < s.n && i < s2.n; i++) CHECK(gh_op_equal(&s.ops[i], &s2.ops[i]), "op %zu differs", i);
        gh_seq_free(&s2);
        gh_seq_free(&copy);
        gh_seq_free(&s);
        minimized++;
    }
    CHECK(minimized >= 3, "only %d planted failures found to minimize (of %d failing)", minimized, tried);
    /* a clean input is refused */
    gh_seq s;
    const char *t = "galloc-ops 1\nmalloc 8\n";
    gh_parse_error pe;
    gh_parse(t, strlen(t), &s, &pe);
    CHECK_EQ(gh_minimize(&s, &o, NULL, NULL), -1);
    gh_seq_free(&s);
    TEST_MAIN_END();
}
