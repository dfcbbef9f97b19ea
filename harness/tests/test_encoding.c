/*
 * test_encoding.c — the two encodings of the op model: text <-> ops <-> binary round
 * trips, canonical re-encoding of arbitrary bytes, and golden vectors that freeze the
 * binary format v1 (harness/FORMAT.md). A change that breaks a golden vector changes
 * what stored corpora mean: bump the format version instead.
 */
#include "harness.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

static uint64_t rs = 42;
static uint64_t rnd(void)
{
    uint64_t z = (rs += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool seq_equal(const gh_seq *a, const gh_seq *b)
{
    if (a->n != b->n) return false;
    for (size_t i = 0; i < a->n; i++)
        if (!gh_op_equal(&a->ops[i], &b->ops[i])) return false;
    return true;
}

static char *to_text(const gh_seq *s, size_t *len)
{
    struct { char *buf; size_t len; } *m = calloc(1, sizeof *m);
    FILE *f = open_memstream(&m->buf, &m->len);
    gh_format(s, f);
    fclose(f);
    char *r = m->buf;
    *len = m->len;
    free(m);
    return r;
}

/* text -> ops -> binary -> ops -> text: all equal */
static void round_trip(const gh_seq *s, const char *what)
{
    size_t tl;
    char *t = to_text(s, &tl);
    gh_seq p;
    gh_parse_error pe;
    int rc = gh_parse(t, tl, &p, &pe);
    CHECK(rc == 0, "%s: parse(format) failed at line %u: %s", what, pe.line, pe.msg);
    if (rc == 0) { CHECK(seq_equal(s, &p), "%s: parse(format(s)) != s", what); gh_seq_free(&p); }
    uint8_t *b;
    size_t bl;
    CHECK_EQ(gh_encode(s, &b, &bl), 0);
    gh_seq d;
    unsigned ver = 0;
    CHECK_EQ(gh_decode(b, bl, &d, &ver), 0);
    unsigned want_ver = 1;   /* v1 unless a GC step op needs v2 */
    for (size_t i = 0; i < s->n; i++) if (s->ops[i].kind >= GH_GC_BEGIN) want_ver = 2;
    CHECK_EQ(ver, want_ver);
    CHECK(seq_equal(s, &d), "%s: decode(encode(s)) != s", what);
    size_t tl2;
    char *t2 = to_text(&d, &tl2);
    CHECK(tl == tl2 && memcmp(t, t2, tl) == 0, "%s: text -> binary -> text differs", what);
    CHECK(!gh_is_text(b, bl), "%s: encoded binary looks like text", what);
    CHECK(gh_is_text((const uint8_t *)t, tl), "%s: formatted text not detected as text", what);
    free(t);
    free(t2);
    free(b);
    gh_seq_free(&d);
}

static const char *ALL_OPS =
    "galloc-ops 1\n"
    "# every op and variant\n"
    "malloc 0\n"
    "malloc 24 noscan zero notiny\n"
    "malloc 0x10 noscan   # hex\n"
    "malloc 64k\n"
    "malloc max\n"
    "calloc 10 24\n"
    "calloc 3 5 noscan notiny\n"
    "calloc 18446744073709551615 2\n"
    "realloc 0 100\n"
    "realloc -1 0\n"
    "realloc null 33\n"
    "aligned 64 100 posix\n"
    "aligned 3 100 c11 noscan\n"
    "aligned 4096 1 memalign\n"
    "aligned 1g 8 native noscan\n"
    "free 0\n"
    "free -1 other\n"
    "free 2 local\n"
    "free -3 other local\n"
    "free 32767\n"
    "free -32768\n"
    "usable 1\n"
    "write 2\n"
    "check -2\n"
    "cache 7\n"
    "release\n"
    "destroy-cache\n"
    "gc\n"
    "gc keep=0 seed=255 sweep=all black=7\n"
    "gc keep=100 sweep=none\n"
    "gc keep=33 seed=1 sweep=17 black=1\n"
    "scavenge all\n"
    "scavenge policy\n"
    "scavenge 123456789\n"
    "fail-os next\n"
    "fail-os map skip=3 count=8\n"
    "fail-os meta\n"
    "fail-os used skip=255\n"
    "verify\n"
    "double-free 3\n"
    "double-free -1 local\n"
    "free-foreign stack\n"
    "free-foreign static\n"
    "free-foreign libc\n"
    "free-foreign null\n"
    "free-interior 0 7\n"
    "free-interior -1 0\n"
    "gc-begin\n"
    "gc-mark 0\n"
    "gc-mark -2 17\n"
    "gc-mark 1 0\n"
    "gc-end\n"
    "sweep all\n"
    "sweep 0\n"
    "sweep 254\n";

/* golden vectors of binary v1 (FORMAT.md) */
static void golden(void)
{
    struct { const char *hex; const char *text; } v[] = {
        { "", "" },
        { "0005", "malloc 5\n" },                                   /* opcode 0, size mode 0 */
        { "2005", "malloc 5 noscan\n" },                            /* modifier bit 0 = GA_NOSCAN */
        { "e01f", "malloc 31 noscan zero notiny\n" },
        { "002001", "malloc 1\n" },                                 /* mode 1: 0<<8 | 1 */
        { "003fff", "malloc 8191\n" },
        { "00410203", "malloc 66051\n" },                           /* mode 2 */
        { "0061020304", "malloc 16909060\n" },                      /* mode 3 */
        { "0080", "malloc 0\n" },                                   /* mode 4: edge table [0] */
        { "0093", "malloc 32760\n" },                               /* edge [19] */
        { "009f", "malloc 18446744073709551615\n" },                /* edge [31] */
        { "00b002", "malloc 16\n" },                                /* mode 5: class 2 (16) + 16 - 16 */
        { "00a044", "malloc 0\n" },                                 /* class 68 % 68 = 0, 0 - 16 saturates */
        { "00cc80", "malloc 3968\n" },                              /* mode 6: 2^12 - 128 */
        { "00e0efcdab8967452301", "malloc 81985529216486895\n" },   /* mode 7: 8 bytes LE */
        { "0601ff", "free -32514\n" },                              /* obj 0xff01: bit 15 -> from the newest */
        { "660000", "free 0 other local\n" },                       /* mod 3: bit0 other, bit1 local */
        { "fb0100", "double-free 1 local\n" },                      /* mod 7 & 1 = local */
        { "0b0300 05", "realloc 3 5\n" },
        { "2bffff05", "realloc null 5\n" },                         /* bit 0: from NULL; obj ignored */
        { "0e204005", "aligned 64 5 posix\n" },                   /* align first, then size */
        { "ae204005", "aligned 64 5 c11 noscan\n" },              /* mod 5 = api 1 | bit 2 noscan */
        { "0d0a18", "calloc 10 24\n" },
        { "1309", "cache 1\n" },
        { "173207ff", "gc keep=50 seed=7 sweep=all black=0\n" },
        { "17ff0000", "gc keep=53 seed=0 sweep=none black=0\n" },   /* 255 % 101 */
        { "18", "scavenge all\n" },
        { "38", "scavenge policy\n" },
        { "5805", "scavenge 5\n" },
        { "b8", "scavenge 0\n" },                                   /* mod 5 % 3 = 2 -> reads a size (0 at EOF) */
        { "190205", "fail-os map skip=5 count=1\n" },
        { "f90905", "fail-os map skip=5 count=8\n" },               /* 9 % 7 = 2 */
        { "1a", "verify\n" },
        { "7c", "free-foreign null\n" },
        { "1d000007", "free-interior 0 7\n" },
        { "47414f5001 0005", "malloc 5\n" },                        /* header GAOP v1 */
        { "47414f5009 0005", "malloc 5\n" },                        /* unknown version: still decodes */
        { "00", "malloc 0\n" },                                     /* truncated operand reads 0 */
        /* binary v2: v1 with opcodes 30 and 31 given to the GC step ops */
        { "1e05 1f05", "malloc 5\nfree 5\n" },                        /* v1 (no header): still malloc / free */
        { "47414f5002 1f 3f 5f", "gc-begin\ngc-begin\ngc-begin\n" },  /* 31, mod 0..2 */
        { "47414f5002 7f 9f bf", "gc-end\ngc-end\ngc-end\n" },        /* 31, mod 3..5 */
        { "47414f5002 dfff ff05", "sweep all\nsweep 5\n" },           /* 31, mod 6..7, u8 count */
        { "47414f5002 1e0300", "gc-mark 3\n" },                       /* 30, mod bit0 clear: OBJ */
        { "47414f5002 fe00801d", "gc-mark -1 29\n" },                 /* mod 7 & 1: interior, SIZE offset */
        { "47414f5002 0005", "malloc 5\n" },                          /* the v1 opcodes keep their meaning */
        { "47414f5003 1e05", "malloc 5\n" },                          /* other versions decode as v1 */
    };
    for (size_t k = 0; k < sizeof v / sizeof *v; k++) {
        uint8_t b[64];
        size_t n = 0;
        for (const char *h = v[k].hex; *h;) {
            if (*h == ' ') { h++; continue; }
            unsigned x;
            sscanf(h, "%2x", &x);
            b[n++] = (uint8_t)x;
            h += 2;
        }
        gh_seq s;
        CHECK_EQ(gh_decode(b, n, &s, NULL), 0);
        size_t tl;
        char *t = to_text(&s, &tl);
        const char *body = strchr(t, '\n') + 1;
        CHECK(strcmp(body, v[k].text) == 0, "golden %zu (%s): got '%s', want '%s'", k, v[k].hex, body, v[k].text);
        free(t);
        gh_seq_free(&s);
    }
    unsigned ver;
    gh_seq s;
    const uint8_t hdr9[] = { 'G', 'A', 'O', 'P', 9, 0, 5 };
    gh_decode(hdr9, sizeof hdr9, &s, &ver);
    CHECK_EQ(ver, 9);
    gh_seq_free(&s);
}

int main(void)
{
    /* hand-written: every op and variant */
    gh_seq s;
    gh_parse_error pe;
    int rc = gh_parse(ALL_OPS, strlen(ALL_OPS), &s, &pe);
    CHECK(rc == 0, "ALL_OPS: line %u: %s", pe.line, pe.msg);
    if (rc == 0) {
        CHECK_EQ(s.n, 55);
        bool seen[GH_NKINDS] = { false };
        for (size_t i = 0; i < s.n; i++) seen[s.ops[i].kind] = true;
        for (unsigned k = 0; k < GH_NKINDS; k++) CHECK(seen[k], "op kind %s not covered", gh_kind_name(k));
        CHECK_EQ(s.ops[0].line, 3);
        CHECK_EQ(s.ops[4].a, UINT64_MAX);
        CHECK_EQ(s.ops[3].a, 65536);
        round_trip(&s, "ALL_OPS");
        gh_seq_free(&s);
    }
    /* CRLF, BOM, tabs and trailing comments parse the same */
    const char *crlf = "\xef\xbb\xbfgalloc-ops 1\r\n\tmalloc 5 noscan\t# x\r\n\r\nfree -1\r\n";
    rc = gh_parse(crlf, strlen(crlf), &s, &pe);
    CHECK(rc == 0 && s.n == 2, "CRLF/BOM: rc %d line %u %s", rc, pe.line, pe.msg);
    if (rc == 0) gh_seq_free(&s);

    /* generated sequences */
    for (uint64_t seed = 1; seed <= 60; seed++) {
        CHECK_EQ(gh_generate(seed, 400, &s), 0);
        char name[32];
        snprintf(name, sizeof name, "generated seed %llu", (unsigned long long)seed);
        round_trip(&s, name);
        gh_seq_free(&s);
    }
    /* arbitrary bytes: decode is total, and its result round-trips canonically */
    for (int k = 0; k < 2000; k++) {
        size_t n = rnd() % 200;
        uint8_t buf[200];
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)rnd();
        CHECK_EQ(gh_decode(buf, n, &s, NULL), 0);
        round_trip(&s, "random bytes");
        gh_seq_free(&s);
    }
    golden();
    TEST_MAIN_END();
}
