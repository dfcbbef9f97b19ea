/*
 * test_mutator.c — the structure-aware mutator (fuzz/mutator.c): every mutant is a
 * canonical encoding (decode -> encode gives the same bytes), fits max_size, differs from
 * its parent most of the time, reaches every op kind and the interesting sizes, and the
 * AFL++ entry points (afl_custom_init / fuzz / deinit) work as AFL++ calls them.
 */
#include "check.h"
#include "harness.h"
#include "mutator.h"

#include <string.h>

void *afl_custom_init(void *afl, unsigned int seed);
size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf, uint8_t *add_buf,
                       size_t add_buf_size, size_t max_size);
void afl_custom_deinit(void *data);

static bool canonical(const uint8_t *d, size_t n)
{
    gh_seq s;
    if (gh_decode(d, n, &s, NULL) != 0)
        return false;
    uint8_t *b;
    size_t m;
    bool ok = gh_encode(&s, &b, &m) == 0 && m == n && memcmp(b, d, n) == 0;
    if (ok)
        free(b);
    gh_seq_free(&s);
    return ok;
}

static void test_mutate(void)
{
    enum { MAX = 1024 };
    uint8_t buf[MAX], other[MAX];
    const char *seed_text = "galloc-ops 1\nmalloc 24\nmalloc 100000 noscan\nfree -1\ngc keep=50 sweep=all\n";
    size_t n = strlen(seed_text);
    memcpy(buf, seed_text, n);
    size_t on = gf_ops_mutate(other, 0, MAX, 99, NULL, 0);   /* from nothing: one op */
    CHECK(on > 5, "mutating an empty input gave %zu bytes", on);
    unsigned kinds[GH_NKINDS] = {0};
    unsigned changed = 0, bad = 0, too_big = 0, sizes_edge = 0;
    for (unsigned i = 0; i < 20000; i++) {
        uint8_t before[MAX];
        size_t bn = n;
        memcpy(before, buf, n);
        size_t m = gf_ops_mutate(buf, n, MAX, i, i % 3 ? other : NULL, on);
        if (!m) {
            memcpy(buf, seed_text, n = strlen(seed_text));
            continue;
        }
        if (m > MAX)
            too_big++;
        if (!canonical(buf, m))
            bad++;
        changed += m != bn || memcmp(before, buf, m) != 0;
        n = m;
        gh_seq s;
        if (gh_decode(buf, n, &s, NULL) == 0) {
            for (size_t k = 0; k < s.n; k++) {
                kinds[s.ops[k].kind]++;
                uint64_t a = s.ops[k].a;
                sizes_edge += s.ops[k].kind == GH_MALLOC && (a == 512 || a == 513 || a == 32760 || a == 32761 ||
                                                              (a >= 1016 && a <= 1024));
            }
            gh_seq_free(&s);
        }
        if (i % 500 == 499) {   /* restart now and then so sequences stay short */
            memcpy(other, buf, n);
            on = n;
            memcpy(buf, seed_text, n = strlen(seed_text));
        }
    }
    CHECK(bad == 0, "%u mutants were not canonical encodings", bad);
    CHECK(too_big == 0, "%u mutants exceeded max_size", too_big);
    CHECK(changed > 18000, "only %u of 20000 mutations changed the input", changed);
    for (unsigned k = 0; k < GH_NKINDS; k++)
        CHECK(kinds[k] > 0, "op kind %s never appeared in mutants", gh_kind_name(k));
    CHECK(sizes_edge > 100, "class-edge sizes appeared only %u times", sizes_edge);
}

static void test_small_max(void)
{
    uint8_t buf[64];
    const char *t = "galloc-ops 1\nmalloc 8\nmalloc 8\nmalloc 8\nmalloc 8\nmalloc 8\nmalloc 8\n";
    size_t n = strlen(t) < sizeof buf ? strlen(t) : sizeof buf;
    memcpy(buf, t, n);
    for (unsigned i = 0; i < 2000; i++) {
        size_t m = gf_ops_mutate(buf, n, 24, i, NULL, 0);
        CHECK(m <= 24, "mutant of %zu bytes exceeds max 24", m);
        if (m) {
            CHECK(canonical(buf, m), "small mutant not canonical");
            n = m;
        } else {
            memcpy(buf, "GAOP\x01\x00\x08", 7);
            n = 7;
        }
    }
}

static void test_crossover(void)
{
    uint8_t out[512];
    const uint8_t a[] = "GAOP\x01\x00\x08\x00\x10\x06\x00\x00";
    const uint8_t b[] = "GAOP\x01\x17\x32\x07\xff\x18";
    unsigned nonempty = 0;
    for (unsigned i = 0; i < 200; i++) {
        size_t n = gf_ops_crossover(a, sizeof a - 1, b, sizeof b - 1, out, sizeof out, i);
        CHECK(n >= 5 && canonical(out, n), "crossover %u gave %zu bytes", i, n);
        nonempty += n > 5;
    }
    CHECK(nonempty > 100, "crossover mostly empty (%u)", nonempty);
}

static void test_afl(void)
{
    void *m = afl_custom_init(NULL, 7);
    CHECK(m != NULL, "afl_custom_init");
    uint8_t in[] = "GAOP\x01\x00\x08\x06\x00\x80";
    uint8_t add[] = "GAOP\x01\x17\x00\x00\xff";
    for (unsigned i = 0; i < 1000; i++) {
        uint8_t *out = NULL;
        size_t n = afl_custom_fuzz(m, in, sizeof in - 1, &out, add, sizeof add - 1, 4096);
        CHECK(out != NULL && n > 0 && n <= 4096, "afl_custom_fuzz returned %zu", n);
        if (out && n)
            CHECK(canonical(out, n), "AFL mutant not canonical");
    }
    afl_custom_deinit(m);
}

static void test_interesting(void)
{
    unsigned hits512 = 0, pow2 = 0;
    for (uint64_t r = 0; r < 100000; r++) {
        uint64_t s = gf_interesting_size(r * 0x9e3779b97f4a7c15ull);
        hits512 += s == 512 || s == 513;
        uint64_t a = gf_interesting_align(r * 0x9e3779b97f4a7c15ull);
        pow2 += a && (a & (a - 1)) == 0;
    }
    CHECK(hits512 > 50, "512/513 drawn %u times", hits512);
    CHECK(pow2 > 80000, "power-of-two alignments %u of 100000", pow2);
}

int main(void)
{
    test_mutate();
    test_small_max();
    test_crossover();
    test_afl();
    test_interesting();
    TEST_MAIN_END();
}
