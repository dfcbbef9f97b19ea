/*
 * emit_c.c — writes a standalone C program that replays an op sequence through the
 * public API (galloc.h, os.h for the test OS layer, sizeclass.h for the class tables)
 * and exits 1 when the finding reproduces, 0 when it does not.
 *
 * How: the executor runs the sequence with emission on (gh_execute_emit) and writes one
 * C statement per galloc call and harness action, with objects named by id (o[id]) —
 * never by address — plus the check that failed. This file wraps that body with a small
 * runtime (the same content pattern, overlap and check helpers as the executor).
 * Calls: the executor (exec.c), libc.
 */
#define _GNU_SOURCE 1
#include "harness_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *const RUNTIME[] = {
"#if defined(__GNUC__)",
"#pragma GCC diagnostic ignored \"-Wunused-function\"",
"#endif",
"#include <stdint.h>",
"#include <stdio.h>",
"#include <stdlib.h>",
"#include <string.h>",
"#include \"galloc.h\"",
"#include \"os.h\"",
"#include \"sizeclass.h\"",
"",
"static ga_heap *h;",
"static ga_testos *tos;",
"static ga_cache *c[8];",
"static void *o[NOBJ];",
"static size_t sz[NOBJ];",
"static uint64_t gen[NOBJ];",
"static unsigned char live[NOBJ];",
"static size_t cur_step;",
"static const char *cur_op = \"(setup)\";",
"",
"static void step(size_t n, const char *op) { cur_step = n; cur_op = op; }",
"static void fail(const char *what)",
"{",
"    printf(\"REPRODUCED at step %zu (%s): %s\\n\", cur_step, cur_op, what);",
"    exit(1);",
"}",
"",
"/* content pattern: identical to harness/harness_internal.h */",
"static uint64_t pat_base(uint64_t id, uint64_t g)",
"{",
"    uint64_t z = id * 0x9e3779b97f4a7c15ull ^ (g + 1) * 0xc2b2ae3d27d4eb4full;",
"    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;",
"    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;",
"    return z ^ (z >> 31);",
"}",
"static uint8_t pat_byte(uint64_t base, uint64_t off)",
"{",
"    uint64_t w = base + (off >> 3) * 0x9e3779b97f4a7c15ull;",
"    return (uint8_t)(w >> ((off & 7) * 8));",
"}",
"/* sampled ranges: identical to harness/exec.c for_ranges */",
"static size_t ranges(size_t n, size_t lo[], size_t hi[], size_t max)",
"{",
"    size_t k = 0;",
"    if (n == 0) return 0;",
"    if (n <= 4096) { lo[0] = 0; hi[0] = n; return 1; }",
"    lo[k] = 0; hi[k++] = 1024;",
"    for (size_t p = 4096; p + 8 <= n - 1024 && k + 1 < max; p += p < ((size_t)1 << 20) ? 4096 : 65536) { lo[k] = p; hi[k++] = p + 8; }",
"    lo[k] = n - 1024; hi[k++] = n;",
"    return k;",
"}",
"#define MAXR 65536",
"static size_t rlo[MAXR], rhi[MAXR];",
"static void fill(uint64_t id, uint64_t g)",
"{",
"    uint8_t *p = o[id];",
"    uint64_t b = pat_base(id, g);",
"    size_t k = ranges(sz[id], rlo, rhi, MAXR);",
"    for (size_t r = 0; r < k; r++) for (size_t i = rlo[r]; i < rhi[r]; i++) p[i] = pat_byte(b, i);",
"    gen[id] = g;",
"}",
"static int pattern_ok(const void *mem, size_t n, size_t limit, uint64_t id, uint64_t g, size_t *bad)",
"{",
"    const uint8_t *p = mem;",
"    uint64_t b = pat_base(id, g);",
"    size_t k = ranges(n, rlo, rhi, MAXR);",
"    for (size_t r = 0; r < k; r++)",
"        for (size_t i = rlo[r]; i < rhi[r] && i < limit; i++)",
"            if (p[i] != pat_byte(b, i)) { *bad = i; return 0; }",
"    return 1;",
"}",
"static void check_content(uint64_t id, uint64_t g)",
"{",
"    size_t bad;",
"    char m[200];",
"    if (!pattern_ok(o[id], sz[id], sz[id], id, g, &bad)) {",
"        snprintf(m, sizeof m, \"object #%llu (%zu bytes at %p): byte %zu corrupted\", (unsigned long long)id, sz[id], o[id], bad);",
"        fail(m);",
"    }",
"}",
"static void check_copy(uint64_t nid, uint64_t oid, uint64_t og, size_t osize, size_t keep)",
"{",
"    size_t bad;",
"    if (!pattern_ok(o[nid], osize, keep, oid, og, &bad)) fail(\"realloc lost contents\");",
"}",
"static void check_verify_span(const void *p)",
"{",
"    ga_report r;",
"    if (ga_verify_span(h, p, &r)) { printf(\"ga_report: %s %s\\n\", r.invariant, r.message); fail(\"ga_verify_span\"); }",
"}",
"static void check_new(uint64_t id, size_t size, size_t align, unsigned flags, int zero)",
"{",
"    char m[300];",
"    uintptr_t p = (uintptr_t)o[id];",
"    ga_object_info in;",
"    ga_status ls = ga_lookup(h, o[id], &in);",
"    sz[id] = size;",
"    if (!o[id]) fail(\"allocation failed\");",
"    if (align && p % align) fail(\"not aligned as asked\");",
"    if (!in.tiny && p % 8) fail(\"not 8-aligned\");",
"    if (!in.tiny && ga_usable_size(h, o[id]) < size) fail(\"usable size < requested\");",
"    for (uint64_t j = 0; j < NOBJ; j++)",
"        if (live[j] && j != id && (uintptr_t)o[j] < p + (size ? size : 1) && p < (uintptr_t)o[j] + (sz[j] ? sz[j] : 1)) {",
"            snprintf(m, sizeof m, \"object #%llu overlaps live object #%llu\", (unsigned long long)id, (unsigned long long)j);",
"            fail(m);",
"        }",
"    live[id] = 1;",
"    if (ls == GA_ERR_NOT_OWNED || !in.allocated) fail(\"ga_lookup: not an allocated object\");",
"    if (!in.tiny && (ls != GA_OK || in.object != p)) fail(\"ga_lookup: object start differs\");",
"    if (!in.tiny && align == 0 && size <= GA_SMALL_CUTOFF) {",
"        unsigned cls = size == 0 ? 1 : (!(flags & GA_NOSCAN) && size > GA_MIN_SIZE_FOR_HEADER) ? ga_size_to_class(size + GA_MALLOC_HEADER) : ga_size_to_class(size);",
"        if (in.sizeclass != cls || (in.spanclass & 1) != !!(flags & GA_NOSCAN)) fail(\"unexpected size class\");",
"    }",
"    if (zero) for (size_t i = 0; i < size; i++) if (((unsigned char *)o[id])[i]) fail(\"memory not zeroed\");",
"    if (ga_testos_page_state(tos, o[id]) != GA_PAGE_READY) fail(\"object page not Ready\");",
"}",
"static void check_usable(uint64_t id) { if (ga_usable_size(h, o[id]) < sz[id] && !(ga_usable_size(h, o[id]) == 0)) fail(\"usable size < requested\"); }",
"static void expect_free_raw_off(uint64_t id, size_t off, int want)",
"{",
"    char m[120];",
"    ga_status got = ga_free(h, (char *)o[id] + off);",
"    if ((int)got != want) { snprintf(m, sizeof m, \"ga_free returned %s, expected %s\", ga_status_name(got), ga_status_name((ga_status)want)); fail(m); }",
"}",
"static void expect_free_raw(uint64_t id, int want) { expect_free_raw_off(id, 0, want); }",
"static void expect_free(uint64_t id, int want) { expect_free_raw(id, want); if (want == GA_OK) live[id] = 0; }",
"static void expect_free_local_raw(ga_cache *cc, uint64_t id, int want)",
"{",
"    char m[120];",
"    ga_status got = ga_free_local(cc, o[id]);",
"    if ((int)got != want) { snprintf(m, sizeof m, \"ga_free_local returned %s, expected %s\", ga_status_name(got), ga_status_name((ga_status)want)); fail(m); }",
"}",
"static void expect_free_local(ga_cache *cc, uint64_t id, int want) { expect_free_local_raw(cc, id, want); if (want == GA_OK) live[id] = 0; }",
"static void expect_free_ptr(void *p, int want)",
"{",
"    ga_status got = ga_free(h, p);",
"    if ((int)got != want) fail(\"unexpected ga_free status for a foreign pointer\");",
"}",
"static void live_del(uint64_t id) { live[id] = 0; }",
"static void full_check(void)",
"{",
"    ga_report r;",
"    for (uint64_t j = 0; j < NOBJ; j++) {",
"        if (!live[j]) continue;",
"        ga_object_info in;",
"        if (ga_testos_page_state(tos, o[j]) != GA_PAGE_READY) fail(\"live object on a page that is not Ready\");",
"        if (ga_lookup(h, o[j], &in) == GA_ERR_NOT_OWNED || !in.allocated) fail(\"live object not allocated\");",
"        check_content(j, gen[j]);",
"    }",
"    if (ga_verify(h, &r)) { printf(\"ga_report: %s %s\\n\", r.invariant, r.message); fail(\"ga_verify\"); }",
"    if (ga_testos_violations(tos, NULL, 0)) fail(\"illegal OS page transition\");",
"}",
"static void check_stats(uint64_t mallocs, uint64_t lo, uint64_t hi)",
"{",
"    ga_stats s;",
"    ga_read_stats(h, &s);",
"    printf(\"stats: mallocs %llu (expected %llu), heap_objects %llu (expected %llu..%llu)\\n\",",
"           (unsigned long long)s.mallocs, (unsigned long long)mallocs, (unsigned long long)s.heap_objects,",
"           (unsigned long long)lo, (unsigned long long)hi);",
"    if (s.mallocs != mallocs || s.heap_objects < lo || s.heap_objects > hi) fail(\"statistics differ from the model\");",
"}",
"",
"int main(void)",
"{",
"    ga_heap_options ho;",
"    memset(&ho, 0, sizeof ho);",
"    tos = ga_testos_new(NULL);",
"    ho.os = ga_testos_os(tos);",
NULL
};

int gh_emit_c(FILE *out, const gh_seq *s, const gh_options *opt, const char *source)
{
    gh_options o;
    if (opt) o = *opt; else gh_options_default(&o);
    o.trace = NULL;
    o.diff = false;        /* the reproducer drives galloc only */
    char *body = NULL;
    size_t blen = 0;
    FILE *mem = open_memstream(&body, &blen);
    if (!mem) return -1;
    gh_finding f;
    int rc = gh_execute_emit(s, &o, &f, mem);
    fclose(mem);
    if (rc < 0) { free(body); return -1; }
    uint64_t nobj = 1;
    for (size_t i = 0; i < s->n; i++) nobj++;   /* ids are at most one per op ... */
    nobj = nobj * 8 + 16;                       /* ... plus black allocations (<= 7 per gc) */
    fprintf(out, "/*\n * Standalone reproducer generated by galloc-replay --emit-c%s%s.\n", source ? " from " : "", source ? source : "");
    if (f.found) {
        char line[256];
        gh_format_op(&f.op, line, sizeof line);
        fprintf(out, " * Finding: check '%s' at step %zu (%s):\n *   %s\n", gh_check_name(f.check), f.step,
                f.final_check ? "final full check" : line, f.message);
    } else {
        fprintf(out, " * The sequence ran clean when this was generated.\n");
    }
    fprintf(out, " * Build: cc -std=c11 -D_GNU_SOURCE -Ialloc repro.c -Lbuild/lib -lgalloc_core -lpthread\n"
                 " * Exit status: 1 = reproduced, 0 = not reproduced.\n */\n");
    fprintf(out, "#define NOBJ %" PRIu64 "\n", nobj);
    for (size_t i = 0; RUNTIME[i]; i++) fprintf(out, "%s\n", RUNTIME[i]);
    fprintf(out, "    ho.max_heap_bytes = %zu;\n    ho.no_green_tea = %d;\n    ho.poison_free = %d;\n    ho.plant = %d;\n"
                 "    ho.no_poison = %d;\n",
            o.max_heap_bytes, o.no_green_tea ? 1 : 0, o.poison_free ? 1 : 0, o.alloc_plant,
            (o.no_poison || o.fault == GH_FAULT_FREE_SLOT || o.fault == GH_FAULT_HIDDEN_FREE) ? 1 : 0);
    fprintf(out, "    h = ga_heap_new(&ho);\n    if (!h) { perror(\"ga_heap_new\"); return 2; }\n");
    fwrite(body, 1, blen, out);
    fprintf(out, "\n    step(%zu, \"(end)\");\n    full_check();\n", s->n);
    fprintf(out, "    ga_heap_destroy(h);\n    ga_testos_free(tos);\n    printf(\"not reproduced\\n\");\n    return 0;\n}\n");
    free(body);
    return ferror(out) ? -1 : 0;
}
