/*
 * test_decode_any.c — any byte string decodes to a valid sequence and executes without
 * a crash (the property libFuzzer and AFL++ rely on), deterministically: the same bytes
 * give the same result twice. Findings are allowed here (they are allocator bugs, the
 * fuzzers' business) and are counted per check. The op-coverage counters must all be
 * non-zero: a harness self-test that the decoder reaches every op kind.
 */
#include "harness.h"
#include "check.h"

#include <string.h>

static uint64_t rs = 7;
static uint64_t rnd(void)
{
    uint64_t z = (rs += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 1500;
    gh_options o;
    gh_options_default(&o);
    o.check_every = 16;
    o.budget_bytes = (size_t)8 << 20;   /* keep the test quick: large requests beyond are skipped */
    size_t cover[GH_NKINDS] = { 0 }, by_check[16] = { 0 }, findings = 0, ops = 0;
    uint8_t buf[512];
    for (int it = 0; it < iters; it++) {
        size_t n = (size_t)(rnd() % sizeof buf);
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)rnd();
        if (it % 7 == 0) n = n % 8;    /* short inputs too */
        if (it % 2 && n >= 5) memcpy(buf, "GAOP\x02", 5);   /* half in binary v2 (GC step ops) */
        gh_seq s;
        CHECK_EQ(gh_decode(buf, n, &s, NULL), 0);
        gh_finding f1, f2;
        gh_exec_stats st;
        int r1 = gh_execute(&s, &o, &f1, &st);
        CHECK(r1 == 0 || r1 == 1, "iteration %d: execute returned %d (%s)", it, r1, f1.message);
        for (unsigned k = 0; k < GH_NKINDS; k++) cover[k] += st.op_count[k];
        ops += st.ops_run;
        if (r1 == 1) {
            findings++;
            for (unsigned b = 0; b < 16; b++) if (f1.check == 1u << b) by_check[b]++;
        }
        if (it % 10 == 0) {   /* determinism: same input, same outcome, same message */
            int r2 = gh_execute(&s, &o, &f2, NULL);
            CHECK(r1 == r2, "iteration %d: %d then %d", it, r1, r2);
            if (r1 == 1 && r2 == 1)
                CHECK(f1.step == f2.step && f1.check == f2.check && strcmp(f1.message, f2.message) == 0,
                      "iteration %d: findings differ: '%s' vs '%s'", it, f1.message, f2.message);
        }
        gh_seq_free(&s);
    }
    for (unsigned k = 0; k < GH_NKINDS; k++) CHECK(cover[k] > 0, "op %s never executed", gh_kind_name(k));
    printf("%d inputs, %zu ops, %zu with findings:", iters, ops, findings);
    for (unsigned b = 0; b < 16; b++) if (by_check[b]) printf(" %s=%zu", gh_check_name(1u << b), by_check[b]);
    printf("\n");
    TEST_MAIN_END();
}
