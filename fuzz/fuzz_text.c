/*
 * fuzz_text.c — fuzz target: the text form of op sequences (gh_parse, harness/ops.c).
 *
 * Input: any bytes, handed to gh_parse as a "galloc-ops 1" file. The parser must either
 * reject it with an error (a message, a line >= 1 inside the input, a column >= 1) or accept
 * it; it must never crash, hang or read out of bounds (ASan). An accepted input must:
 *   - start with the magic (gh_is_text), every op have a valid kind and ascending lines;
 *   - round-trip: gh_format -> gh_parse gives the same ops (gh_op_equal), and
 *     gh_encode -> gh_decode gives the same ops with version 1.
 * Findings: GALLOC-FINDING target=fuzz_text sig=text/<what>. Calls: harness.h.
 */
#define _GNU_SOURCE 1
#include "fuzz.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T "fuzz_text"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void same_ops(const gh_seq *a, const gh_seq *b, const char *sig, const char *what)
{
    if (a->n != b->n)
        gf_finding(T, sig, "%s: %zu ops became %zu", what, a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        if (!gh_op_equal(&a->ops[i], &b->ops[i])) {
            char x[256], y[256];
            gh_format_op(&a->ops[i], x, sizeof x);
            gh_format_op(&b->ops[i], y, sizeof y);
            gf_finding(T, sig, "%s: op %zu '%s' became '%s'", what, i, x, y);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private copy without a terminating NUL, so ASan catches reads past the end */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';
    gh_seq s;
    gh_parse_error err;
    memset(&err, 0x5a, sizeof err);
    int rc = gh_parse(text, size, &s, &err);
    if (rc != 0) {
        if (rc != -1)
            gf_finding(T, "text/return", "gh_parse returned %d", rc);
        if (!memchr(err.msg, 0, sizeof err.msg))
            gf_finding(T, "text/error-unterminated", "error message is not NUL-terminated");
        if (!err.msg[0])
            gf_finding(T, "text/error-empty", "rejected without a message (line %u col %u)", err.line, err.col);
        if (err.line < 1 || err.line > lines || err.col < 1)
            gf_finding(T, "text/error-position", "error at line %u col %u of a %zu-line input: %s", err.line, err.col,
                       lines, err.msg);
        free(text);
        return 0;
    }
    if (!gh_is_text(data, size))
        gf_finding(T, "text/accepted-garbage", "accepted an input without the 'galloc-ops' header (%zu ops)", s.n);
    unsigned prev = 1;
    for (size_t i = 0; i < s.n; i++) {
        const gh_op *op = &s.ops[i];
        if (op->kind >= GH_NKINDS)
            gf_finding(T, "text/kind", "op %zu has kind %u", i, op->kind);
        if (op->line <= prev || op->line > lines)
            gf_finding(T, "text/line", "op %zu claims line %u (previous %u, input has %zu lines)", i, op->line, prev,
                       lines);
        prev = op->line;
        char buf[256];
        int n = gh_format_op(op, buf, sizeof buf);
        if (n <= 0 || (size_t)n >= sizeof buf)
            gf_finding(T, "text/format-op", "gh_format_op of op %zu returned %d", i, n);
    }
    /* text round trip */
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    if (!f)
        abort();
    if (gh_format(&s, f) != 0)
        gf_finding(T, "text/format", "gh_format failed on %zu parsed ops", s.n);
    fclose(f);
    gh_seq s2;
    if (gh_parse(out, outlen, &s2, &err) != 0)
        gf_finding(T, "text/reparse", "gh_format output does not parse: line %u col %u: %s", err.line, err.col, err.msg);
    same_ops(&s, &s2, "text/roundtrip", "format+parse");
    gh_seq_free(&s2);
    free(out);
    /* binary round trip */
    uint8_t *bin = NULL;
    size_t blen = 0;
    if (gh_encode(&s, &bin, &blen) != 0)
        abort();
    unsigned ver = 0;
    if (gh_decode(bin, blen, &s2, &ver) != 0)
        abort();
    unsigned want_ver = 1;   /* the encoder writes v1 unless a GC step op needs v2 */
    for (size_t i = 0; i < s.n; i++) if (s.ops[i].kind >= GH_GC_BEGIN) want_ver = GH_BINARY_VERSION;
    if (ver != want_ver)
        gf_finding(T, "text/encode-version", "encoded sequence decodes as version %u, expected %u", ver, want_ver);
    same_ops(&s, &s2, "text/binary-roundtrip", "encode+decode");
    gh_seq_free(&s2);
    free(bin);
    gh_seq_free(&s);
    free(text);
    return 0;
}
