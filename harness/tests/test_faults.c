/*
 * test_faults.c — every check catches the bug it exists for. Each case runs a short
 * sequence clean (no finding), then again with one harness-side fault injected after
 * (or, for allocation faults, at) a chosen step, and expects the named check to fire —
 * first with every check on, and where another check would see the fault first, again
 * with that one switched off to show the next line of defence.
 */
#include "harness.h"
#include "check.h"

#include <string.h>

static void seq_from(const char *text, gh_seq *s)
{
    gh_parse_error pe;
    char buf[8192];
    snprintf(buf, sizeof buf, "galloc-ops 1\n%s", text);
    if (gh_parse(buf, strlen(buf), s, &pe) != 0) {
        fprintf(stderr, "bad test sequence, line %u: %s\n", pe.line, pe.msg);
        exit(2);
    }
}

static void expect(const char *name, const char *text, gh_fault fault, size_t step, unsigned disable, unsigned want)
{
    gh_seq s;
    seq_from(text, &s);
    gh_options o;
    gh_options_default(&o);
    o.check_every = 1;
    o.checks &= ~disable;
    gh_finding f;
    int rc = gh_execute(&s, &o, &f, NULL);
    CHECK(rc == 0, "%s: clean run has a finding: [%s] %s", name, gh_check_name(f.check), f.message);
    o.fault = fault;
    o.fault_step = step;
    rc = gh_execute(&s, &o, &f, NULL);
    CHECK(rc == 1, "%s: fault %s not detected", name, gh_fault_name(fault));
    if (rc == 1) {
        CHECK(f.check == want, "%s: fault %s caught by '%s', expected '%s': %s", name, gh_fault_name(fault),
              gh_check_name(f.check), gh_check_name(want), f.message);
        printf("%-28s %-14s -> %-8s step %zu: %s\n", name, gh_fault_name(fault), gh_check_name(f.check), f.step, f.message);
    }
    gh_seq_free(&s);
}

static void fill_calloc(char *buf, size_t n, int count)
{
    buf[0] = 0;
    size_t l = 0;
    l += (size_t)snprintf(buf + l, n - l, "malloc 64 noscan\n");
    for (int i = 0; i < count; i++) l += (size_t)snprintf(buf + l, n - l, "calloc 1 64 noscan\n");
}

int main(void)
{
    const char *two = "malloc 100 noscan\nmalloc 200 noscan\ncheck 1\nverify\n";
    expect("content: scribble", two, GH_FAULT_SCRIBBLE, 1, 0, GH_CHK_CONTENT);
    expect("lookup: hidden free", two, GH_FAULT_HIDDEN_FREE, 1, 0, GH_CHK_LOOKUP);
    expect("stats: hidden free", two, GH_FAULT_HIDDEN_FREE, 1, GH_CHK_LOOKUP, GH_CHK_STATS);
    expect("stats: hidden alloc", two, GH_FAULT_HIDDEN_ALLOC, 0, 0, GH_CHK_STATS);
    /* the span reference model, with the checks that read galloc's own answers off */
    expect("model: hidden free", two, GH_FAULT_HIDDEN_FREE, 1, GH_CHK_LOOKUP | GH_CHK_STATS | GH_CHK_SPAN | GH_CHK_VERIFY, GH_CHK_MODEL);
    expect("model: hidden alloc", two, GH_FAULT_HIDDEN_ALLOC, 0, GH_CHK_STATS, GH_CHK_MODEL);
    expect("verify: write to free slot", "malloc 64 noscan\nmalloc 64 noscan\nverify\n", GH_FAULT_FREE_SLOT, 0, 0, GH_CHK_VERIFY);
    expect("span: write to free slot", "malloc 64 noscan\nmalloc 64 noscan\nmalloc 64 noscan\n", GH_FAULT_FREE_SLOT, 0, GH_CHK_VERIFY, GH_CHK_SPAN);
    {
        static char buf[8192];
        fill_calloc(buf, sizeof buf, 130);   /* reaches the scribbled (last) slot of the span */
        expect("zero: free slot reused", buf, GH_FAULT_FREE_SLOT, 0, GH_CHK_SPAN | GH_CHK_VERIFY, GH_CHK_ZERO);
    }
    expect("zero: dirty calloc", "calloc 1 100\ncalloc 4 1000 noscan\n", GH_FAULT_DIRTY_ZERO, 1, 0, GH_CHK_ZERO);
    expect("align: pointer flip", "aligned 64 100 native noscan\n", GH_FAULT_PTR_FLIP, 0, 0, GH_CHK_ALIGN);
    expect("usable: pointer flip", "malloc 100 noscan\n", GH_FAULT_PTR_FLIP, 0, 0, GH_CHK_USABLE);
    expect("lookup: pointer flip", "malloc 100 noscan\n", GH_FAULT_PTR_FLIP, 0, GH_CHK_USABLE, GH_CHK_LOOKUP);
    expect("overlap: alias", "malloc 100 noscan\nmalloc 100 noscan\n", GH_FAULT_ALIAS, 1, 0, GH_CHK_OVERLAP);
    expect("usable: undersize", "malloc 4000\n", GH_FAULT_UNDERSIZE, 0, 0, GH_CHK_USABLE);
    expect("diff: glibc twin scribbled", two, GH_FAULT_REF_SCRIBBLE, 1, 0, GH_CHK_DIFF);
    expect("status: allocation failed", "malloc 100\n", GH_FAULT_SUT_FAIL, 0, 0, GH_CHK_STATUS);
    expect("diff: allocation failed", "malloc 100\n", GH_FAULT_SUT_FAIL, 0, GH_CHK_STATUS, GH_CHK_DIFF);
    expect("os: live page released", two, GH_FAULT_TOUCH_RELEASED, 1, 0, GH_CHK_OS);
    expect("content: live page released", two, GH_FAULT_TOUCH_RELEASED, 1, GH_CHK_OS, GH_CHK_CONTENT);

    /* a write into a span no later op touches: the per-op checks cannot see it, the next
     * full check must, and the executor must name the step right after the fault */
    {
        gh_seq s;
        seq_from("malloc 64 noscan\nmalloc 64 noscan\nmalloc 3000\nmalloc 3000\nmalloc 5000 noscan\n"
                 "malloc 200\nfree -1\nmalloc 9000\nmalloc 100\nmalloc 100\n", &s);
        gh_options o;
        gh_options_default(&o);
        o.check_every = 8;
        gh_finding f;
        CHECK_EQ(gh_execute(&s, &o, &f, NULL), 0);
        o.fault = GH_FAULT_COLD_SLOT;
        o.fault_step = 1;
        o.checks &= ~GH_CHK_VERIFY;                /* first with the full check's verify off: */
        CHECK_EQ(gh_execute(&s, &o, &f, NULL), 1);  /* every span in full, at the next full check */
        CHECK(f.check == GH_CHK_SPAN && f.located && f.step == 1, "cold slot, verify off: check %s located %d step %zu: %s",
              gh_check_name(f.check), (int)f.located, f.step, f.message);
        o.checks |= GH_CHK_VERIFY;
        o.check_every = 0;                          /* only the final check */
        CHECK_EQ(gh_execute(&s, &o, &f, NULL), 1);
        CHECK(f.check == GH_CHK_VERIFY && f.located && f.step == 1, "cold slot: check %s located %d step %zu: %s",
              gh_check_name(f.check), (int)f.located, f.step, f.message);
        printf("%-28s %-14s -> %-8s step %zu (located by the re-run): %s\n", "verify: cold span, final check", "cold-slot",
               gh_check_name(f.check), f.step, f.message);
        o.check_every = 1;                          /* and a per-op run finds it at once */
        CHECK_EQ(gh_execute(&s, &o, &f, NULL), 1);
        CHECK(f.check == GH_CHK_VERIFY && !f.located && f.step == 1, "cold slot, every op: check %s step %zu", gh_check_name(f.check), f.step);
        gh_seq_free(&s);
    }
    /* the planted failure */
    gh_seq s;
    seq_from("malloc 10 notiny\nmalloc 20\nmalloc 30\nmalloc 1500\nfree -1\n", &s);
    gh_options o;
    gh_options_default(&o);
    gh_finding f;
    CHECK_EQ(gh_execute(&s, &o, &f, NULL), 0);
    o.checks |= GH_CHK_PLANTED;
    CHECK_EQ(gh_execute(&s, &o, &f, NULL), 1);
    CHECK_EQ(f.check, GH_CHK_PLANTED);
    CHECK_EQ(f.step, 4);
    gh_seq_free(&s);

    /* a finding carries the objects and the span involved */
    seq_from("malloc 100 noscan\nmalloc 200 noscan\ncheck 1\n", &s);
    gh_options_default(&o);
    o.fault = GH_FAULT_SCRIBBLE;
    o.fault_step = 1;
    CHECK_EQ(gh_execute(&s, &o, &f, NULL), 1);
    CHECK_EQ(f.step, 2);
    CHECK_EQ(f.obj_id[0], 2);
    CHECK_EQ(f.obj_size[0], 200);
    CHECK(f.obj_addr[0] != 0, "no object address");
    CHECK(f.span != 0 && f.span_npages == 1 && f.sizeclass != 0, "span %#lx npages %zu class %u",
          (unsigned long)f.span, f.span_npages, f.sizeclass);
    gh_print_finding(stdout, &f, "test");
    gh_seq_free(&s);

    /* the verify report fields come through */
    seq_from("malloc 64 noscan\nmalloc 64 noscan\nverify\n", &s);
    gh_options_default(&o);
    o.checks &= ~GH_CHK_SPAN;
    o.fault = GH_FAULT_FREE_SLOT;
    CHECK_EQ(gh_execute(&s, &o, &f, NULL), 1);
    CHECK(f.report.code != 0 && strcmp(f.report.invariant, "A12") == 0, "report code %d invariant '%s'", f.report.code, f.report.invariant);
    gh_seq_free(&s);
    TEST_MAIN_END();
}
