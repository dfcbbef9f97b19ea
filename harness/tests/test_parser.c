/*
 * test_parser.c — the text form rejects bad input with a message naming the line (and
 * column), never crashes, and never accepts what it cannot encode.
 */
#include "harness.h"
#include "check.h"

#include <string.h>

static void bad(const char *text, unsigned line, const char *needle)
{
    gh_seq s;
    gh_parse_error pe;
    memset(&pe, 0, sizeof pe);
    int rc = gh_parse(text, strlen(text), &s, &pe);
    CHECK(rc == -1, "accepted: %s", text);
    if (rc == 0) { gh_seq_free(&s); return; }
    CHECK(pe.line == line, "'%s': error on line %u, expected %u (%s)", text, pe.line, line, pe.msg);
    CHECK(strstr(pe.msg, needle) != NULL, "'%s': message '%s' lacks '%s'", text, pe.msg, needle);
    CHECK(pe.col >= 1, "column %u", pe.col);
}

int main(void)
{
    bad("", 1, "first line");
    bad("malloc 5\n", 1, "first line");
    bad("galloc-ops 2\nmalloc 5\n", 1, "unsupported text format version 2");
    bad("galloc-ops\n", 1, "first line");
    bad("# comment first\ngalloc-ops 1\n", 1, "first line");
    bad("galloc-ops 1\nmalloc 5\nmallok 5\n", 3, "unknown op 'mallok'");
    bad("galloc-ops 1\nmalloc five\n", 2, "expected a number");
    bad("galloc-ops 1\nmalloc -5\n", 2, "expected a number");
    bad("galloc-ops 1\nmalloc 99999999999999999999999\n", 2, "out of range");
    bad("galloc-ops 1\nmalloc 17179869184g\n", 2, "out of range");
    bad("galloc-ops 1\nmalloc 12q\n", 2, "bad number");
    bad("galloc-ops 1\nmalloc\n", 2, "needs more operands");
    bad("galloc-ops 1\nmalloc 5 fast\n", 2, "unknown flag 'fast'");
    bad("galloc-ops 1\ncalloc 5 6 zero\n", 2, "unknown flag 'zero'");
    bad("galloc-ops 1\n\n\ncache 8\n", 4, "cache index must be 0..7");
    bad("galloc-ops 1\nfree\n", 2, "needs more operands");
    bad("galloc-ops 1\nfree 1 2\n", 2, "unknown word '2'");
    bad("galloc-ops 1\ndouble-free 1 other\n", 2, "unknown word 'other'");
    bad("galloc-ops 1\nfree 1 other local now\n", 2, "unexpected 'now'");
    bad("galloc-ops 1\nfree x\n", 2, "object index");
    bad("galloc-ops 1\nfree 40000\n", 2, "-32768..32767");
    bad("galloc-ops 1\nfree -32769\n", 2, "-32768..32767");
    bad("galloc-ops 1\nrealloc 1\n", 2, "needs more operands");
    bad("galloc-ops 1\nverify now\n", 2, "unexpected 'now'");
    bad("galloc-ops 1\ngc keep=101\n", 2, "keep must be 0..100");
    bad("galloc-ops 1\ngc seed=256\n", 2, "seed must be 0..255");
    bad("galloc-ops 1\ngc black=8\n", 2, "black must be 0..7");
    bad("galloc-ops 1\ngc sweep=255\n", 2, "sweep must be 0..254");
    bad("galloc-ops 1\ngc fast\n", 2, "unknown word 'fast'");
    bad("galloc-ops 1\nscavenge\n", 2, "needs more operands");
    bad("galloc-ops 1\nfail-os disk\n", 2, "unknown OS call 'disk'");
    bad("galloc-ops 1\nfail-os map count=0\n", 2, "count must be 1..8");
    bad("galloc-ops 1\nfail-os map skip=256\n", 2, "skip must be 0..255");
    bad("galloc-ops 1\nfree-foreign heap\n", 2, "unknown pointer kind 'heap'");
    bad("galloc-ops 1\naligned 64 5 posix fast\n", 2, "unknown word 'fast'");
    bad("galloc-ops 1\nmalloc 5\x01\n", 2, "unexpected byte 0x01");
    bad("galloc-ops 1\nmalloc 5\nmalloc \xff\n", 3, "unexpected byte 0xff");
    bad("galloc-ops 1\nmalloc 5 # tab\there is fine, NUL \x02 is not\n", 2, "unexpected byte 0x02");
    bad("galloc-ops 1\nmalloc 1 2 3 4 5 6 7 8 9 10 11 12 13\n", 2, "too many words");
    /* column of the offending word */
    gh_seq s;
    gh_parse_error pe;
    const char *t = "galloc-ops 1\nmalloc   24 noscan sideways\n";
    CHECK_EQ(gh_parse(t, strlen(t), &s, &pe), -1);
    CHECK_EQ(pe.line, 2);
    CHECK_EQ(pe.col, 20);
    /* UTF-8 in comments is fine */
    t = "galloc-ops 1\nmalloc 5 # caf\xc3\xa9\n";
    CHECK_EQ(gh_parse(t, strlen(t), &s, &pe), 0);
    gh_seq_free(&s);
    /* a line without a newline at the end of the file is fine; so is "galloc-ops 1" alone */
    t = "galloc-ops 1\nmalloc 5";
    CHECK_EQ(gh_parse(t, strlen(t), &s, &pe), 0);
    CHECK_EQ(s.n, 1);
    gh_seq_free(&s);
    t = "galloc-ops 1";
    CHECK_EQ(gh_parse(t, strlen(t), &s, &pe), 0);
    CHECK_EQ(s.n, 0);
    gh_seq_free(&s);
    /* text detection */
    CHECK(gh_is_text((const uint8_t *)"galloc-ops 1\n", 13), "text not detected");
    CHECK(!gh_is_text((const uint8_t *)"galloc", 6), "short prefix detected as text");
    CHECK(!gh_is_text((const uint8_t *)"\x00\x05", 2), "binary detected as text");
    TEST_MAIN_END();
}
