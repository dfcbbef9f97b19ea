/*
 * test_summary.c — pallocSum summaries of one chunk (spec §6.2, §6.3) on structured bitmaps
 * that random ones almost never produce: a free run straddling a word boundary followed
 * (or preceded) by a run strictly inside one word, with lengths at the edges where the
 * fast summarizer switches strategy (runs of 60..64, inner runs up to 62). Each bitmap is
 * checked against a bit-by-bit reference.
 */
#include "check.h"
#include "internal.h"
#include "pagealloc.h"
#include <string.h>

#define P 512u

static ga_pallocsum summarize_slow(const uint64_t b[8])
{
    unsigned start = 0, max = 0, run = 0;
    bool allfree = true;
    for (unsigned i = 0; i < P; i++) {
        if (!(b[i / 64] >> (i % 64) & 1)) {
            run++;
            if (run > max) max = run;
            if (allfree) start++;
        } else {
            run = 0;
            allfree = false;
        }
    }
    return ga_pack_pallocsum(start, max, run);
}

static unsigned bad;

static void check_bitmap(const uint64_t b[8], const char *what, unsigned x, unsigned y, unsigned z)
{
    ga_pallocsum got = ga_palloc_summarize(b), want = summarize_slow(b);
    if (got != want && bad++ < 5)
        CHECK(got == want, "%s (%u,%u,%u): got (%u,%u,%u) want (%u,%u,%u)", what, x, y, z,
              ga_pallocsum_start(got), ga_pallocsum_max(got), ga_pallocsum_end(got),
              ga_pallocsum_start(want), ga_pallocsum_max(want), ga_pallocsum_end(want));
}

/* A run crossing the boundary below word w (lo pages under it, hi above), and an inner run
 * of len pages at bit pos of word v (bounded by allocated pages on both sides). */
static void two_runs(unsigned w, unsigned lo, unsigned hi, unsigned v, unsigned pos, unsigned len)
{
    uint64_t b[8];
    memset(b, 0xff, sizeof b);
    if (lo + hi) ga_pallocbits_clear_range(b, w * 64 - lo, lo + hi);
    ga_pallocbits_clear_range(b, v * 64 + pos, len);
    /* keep the inner run inner: its neighbours stay allocated */
    ga_pallocbits_set_range(b, v * 64 + pos - 1, 1);
    ga_pallocbits_set_range(b, v * 64 + pos + len, 1);
    check_bitmap(b, "two runs", w, lo + hi, len);
}

static void test_straddle_then_inner(void)
{
    for (unsigned w = 1; w < 8; w++)
        for (unsigned cross = 1; cross <= 66; cross++)
            for (unsigned split = 0; split < 3; split++) {
                unsigned lo = split == 0 ? (cross < 63 ? cross : 63) : split == 1 ? cross / 2 : (cross > 63 ? cross - 63 : 1);
                if (lo > cross || lo > 63) continue;
                unsigned hi = cross - lo;
                if (hi > 62) continue;
                for (unsigned v = 0; v < 8; v++) {
                    if (v == w || v == w - 1) continue;
                    for (unsigned len = 48; len <= 62; len++) {
                        two_runs(w, lo, hi, v, 1, len);
                        two_runs(w, lo, hi, v, 63 - len, len);
                    }
                }
            }
    CHECK(bad == 0, "%u structured bitmaps summarized differently from the reference", bad);
}

/* Single runs of every length at every offset of one or two words. */
static void test_single_runs(void)
{
    for (unsigned i = 0; i < 128; i++)
        for (unsigned n = 1; i + n <= 192; n++) {
            uint64_t b[8];
            memset(b, 0xff, sizeof b);
            ga_pallocbits_clear_range(b, 64 + i, n);
            check_bitmap(b, "single run", i, n, 0);
        }
    CHECK(bad == 0, "%u single-run bitmaps summarized differently from the reference", bad);
}

int main(void)
{
    test_straddle_then_inner();
    test_single_runs();
    TEST_MAIN_END();
}
