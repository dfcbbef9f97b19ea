/*
 * mutator.c — structure-aware mutation of fuzz_ops inputs: decode to ops, change whole
 * ops or their operands, re-encode (canonical binary v1), so every mutant is a meaningful
 * sequence instead of a shifted byte soup.
 *
 * Entry points:
 *   gf_ops_mutate / gf_ops_crossover              the core (mutator.h), used by tests too;
 *   LLVMFuzzerCustomMutator / CustomCrossOver     with -DGF_LIBFUZZER_MUTATOR (fuzz_ops.libfuzzer);
 *                                                 one call in five is left to LLVMFuzzerMutate
 *                                                 (byte-level, with the dictionary);
 *   afl_custom_init / afl_custom_fuzz / deinit    with -DGF_AFL_MUTATOR (libgalloc_afl_mutator.so,
 *                                                 AFL_CUSTOM_MUTATOR_LIBRARY; AFL++ keeps its own
 *                                                 havoc too unless AFL_CUSTOM_MUTATOR_ONLY=1).
 * Interesting values: the size-class boundaries (every class size and +-1, from
 * ga_class_to_size), 8, 16, 512, 513, 1016..1024, 32760, 32761, 32768+-1, page multiples
 * (+-1, +-8), huge-page and chunk sizes, powers of two +-1, budget / heap-limit edges;
 * alignments: powers of two 1..1 GiB (mostly <= 8 KiB), 0, and non powers of two.
 * Calls: harness.h (gh_decode, gh_parse, gh_encode), sizeclass.h.
 */
#include "mutator.h"
#include "fuzz.h"
#include "harness.h"
#include "sizeclass.h"

#include <stdlib.h>
#include <string.h>

static const uint64_t EDGES[] = {0,     1,     7,     8,     9,     15,    16,    17,    24,    25,    31,
                                 32,    48,    63,    64,    65,    127,   128,   129,   255,   256,   257,
                                 511,   512,   513,   1016,  1017,  1018,  1019,  1020,  1021,  1022,  1023,
                                 1024,  1025,  2048,  4095,  4096,  4097,  8191,  8192,  8193,  16384, 27264,
                                 28672, 32760, 32761, 32767, 32768, 32769, 65536, 65537};
#define NEDGES (sizeof EDGES / sizeof *EDGES)

uint64_t gf_interesting_size(uint64_t r)
{
    unsigned pick = (unsigned)(r % 100);
    uint64_t x = r >> 8;
    if (pick < 25) {   /* a size-class boundary */
        unsigned c = 1 + (unsigned)(x % (GA_NUM_CLASSES - 1));
        return (uint64_t)ga_class_to_size[c] + (x >> 8) % 3 - 1;
    }
    if (pick < 42)
        return EDGES[x % NEDGES];
    if (pick < 57) {   /* page multiples (large spans), +-1 / +-8 */
        static const int64_t d[] = {-8, -1, 0, 0, 0, 1, 8};
        uint64_t k = 1 + x % 160;
        if ((x >> 10) % 8 == 0)
            k = 1 + (x >> 12) % 1100;   /* up to ~8.6 MiB: multi-chunk runs */
        return (uint64_t)((int64_t)(k * GA_PAGE_SIZE) + d[(x >> 24) % 7]);
    }
    if (pick < 70)
        return x % 65;
    if (pick < 80)
        return x % 4097;
    if (pick < 90) {   /* powers of two +-1 */
        unsigned k = (unsigned)(x % 27);
        return ((uint64_t)1 << k) + (x >> 8) % 3 - 1 + (k == 0);
    }
    if (pick < 95) {
        static const uint64_t big[] = {(uint64_t)2 << 20,  (uint64_t)4 << 20,      ((uint64_t)4 << 20) + 1,
                                       (uint64_t)64 << 20, ((uint64_t)64 << 20) + 1, (uint64_t)1 << 30,
                                       ((uint64_t)1 << 30) + 1, (uint64_t)1 << 62, (uint64_t)1 << 63,
                                       UINT64_MAX,          UINT64_MAX / 2,          UINT64_MAX / 2 + 1};
        return big[x % (sizeof big / sizeof *big)];
    }
    return x % (1u << 20);
}

uint64_t gf_interesting_align(uint64_t r)
{
    unsigned pick = (unsigned)(r % 100);
    uint64_t x = r >> 8;
    if (pick < 70)
        return (uint64_t)1 << (x % 14);   /* 1 .. 8 KiB */
    if (pick < 85)
        return (uint64_t)1 << (14 + x % 17);   /* 16 KiB .. 1 GiB */
    static const uint64_t odd[] = {0, 3, 12, 24, 48, 96, 4097, 8193, (uint64_t)1 << 31, (uint64_t)1 << 40, UINT64_MAX};
    return odd[x % (sizeof odd / sizeof *odd)];
}

static uint16_t pick_obj(gf_rng *r)
{
    switch (gf_rng_below(r, 6)) {
    case 0: return GH_OBJ_FROM_END;   /* -1: the newest */
    case 1: return (uint16_t)(GH_OBJ_FROM_END | gf_rng_below(r, 8));
    case 2: return 0;
    case 3: return (uint16_t)gf_rng_below(r, 16);
    case 4: return (uint16_t)gf_rng_below(r, 70);
    default: return (uint16_t)gf_rng_next(r);
    }
}

/* A random op with sensible operands; kind < GH_NKINDS or a weighted pick. */
static void random_op(gf_rng *r, gh_op *op, int kind)
{
    memset(op, 0, sizeof *op);
    if (kind < 0) {
        static const uint8_t w[GH_NKINDS] = {
            [GH_MALLOC] = 30, [GH_CALLOC] = 4,  [GH_REALLOC] = 6, [GH_ALIGNED] = 6,  [GH_FREE] = 20,
            [GH_USABLE] = 2,  [GH_WRITE] = 3,   [GH_CHECK] = 3,   [GH_CACHE] = 4,    [GH_RELEASE] = 2,
            [GH_DESTROY] = 1, [GH_GC] = 6,      [GH_SCAVENGE] = 4, [GH_FAIL_OS] = 2, [GH_VERIFY] = 2,
            [GH_DOUBLE_FREE] = 1, [GH_FREE_FOREIGN] = 1, [GH_FREE_INTERIOR] = 2,
            [GH_GC_BEGIN] = 3, [GH_GC_MARK] = 5, [GH_GC_END] = 3, [GH_SWEEP] = 2};
        unsigned total = 0;
        for (int k = 0; k < GH_NKINDS; k++)
            total += w[k];
        unsigned x = (unsigned)gf_rng_below(r, total);
        for (kind = 0; kind < GH_NKINDS - 1 && x >= w[kind]; kind++)
            x -= w[kind];
    }
    op->kind = (uint8_t)kind;
    op->obj = pick_obj(r);
    switch (kind) {
    case GH_MALLOC:
        op->a = gf_interesting_size(gf_rng_next(r));
        op->flags = (uint8_t)gf_rng_below(r, 8);
        break;
    case GH_CALLOC:
        op->a = gf_rng_below(r, 4) ? 1 + gf_rng_below(r, 16) : gf_interesting_size(gf_rng_next(r));
        op->b = gf_interesting_size(gf_rng_next(r)) / (1 + gf_rng_below(r, 8));
        op->flags = (uint8_t)(gf_rng_below(r, 8) & (GA_NOSCAN | GA_NOTINY));
        break;
    case GH_REALLOC:
        op->a = gf_interesting_size(gf_rng_next(r));
        op->flags = gf_rng_below(r, 8) == 0;
        if (op->flags)
            op->obj = 0;
        break;
    case GH_ALIGNED:
        op->b = gf_interesting_align(gf_rng_next(r));
        op->a = gf_interesting_size(gf_rng_next(r));
        op->flags = (uint8_t)gf_rng_below(r, 8);
        break;
    case GH_FREE:   /* mostly plain; else from another cache's objects, and/or ga_free_local */
        op->flags = gf_rng_below(r, 2) ? 0 : (uint8_t)(1 + gf_rng_below(r, 3));
        break;
    case GH_FREE_INTERIOR:
        op->a = gf_rng_below(r, 2) ? gf_rng_below(r, 32) : gf_interesting_size(gf_rng_next(r));
        break;
    case GH_CACHE:
        op->a = gf_rng_below(r, GH_MAX_CACHES);
        break;
    case GH_GC: {
        static const uint8_t keeps[] = {0, 0, 25, 50, 50, 75, 100, 100};
        op->a = gf_rng_below(r, 3) ? keeps[gf_rng_below(r, 8)] : gf_rng_below(r, 101);
        op->b = gf_rng_below(r, 256);
        unsigned s = (unsigned)gf_rng_below(r, 4);
        op->c = s == 0 ? 0 : s == 1 ? GH_GC_SWEEP_ALL : 1 + gf_rng_below(r, 16);
        op->flags = (uint8_t)(gf_rng_below(r, 3) ? 0 : gf_rng_below(r, 8));
        break;
    }
    case GH_SCAVENGE:
        op->flags = (uint8_t)gf_rng_below(r, 3);
        if (op->flags == 2)
            op->a = gf_rng_below(r, 2) ? (1 + gf_rng_below(r, 600)) * GA_PAGE_SIZE : gf_interesting_size(gf_rng_next(r));
        break;
    case GH_FAIL_OS:
        op->a = gf_rng_below(r, GH_OSF_N);
        op->b = gf_rng_below(r, 3) ? gf_rng_below(r, 4) : gf_rng_below(r, 256);
        op->flags = (uint8_t)(gf_rng_below(r, 3) ? 0 : gf_rng_below(r, 8));
        break;
    case GH_FREE_FOREIGN:
        op->flags = (uint8_t)gf_rng_below(r, 4);
        break;
    case GH_GC_MARK:
        op->flags = gf_rng_below(r, 4) == 0;
        if (op->flags)
            op->a = gf_rng_below(r, 2) ? gf_rng_below(r, 64) : gf_interesting_size(gf_rng_next(r));
        break;
    case GH_SWEEP: {
        unsigned s = (unsigned)gf_rng_below(r, 3);
        op->c = s == 0 ? GH_GC_SWEEP_ALL : 1 + gf_rng_below(r, s == 1 ? 4 : 254);
        break;
    }
    default:
        break;
    }
}

/* Keeps the op within what the canonical encoding round-trips (decode(encode(op)) == op). */
static void normalize(gh_op *op)
{
    op->line = 0;
    switch (op->kind) {
    case GH_MALLOC: case GH_ALIGNED: case GH_GC: case GH_FAIL_OS: op->flags &= 7; break;
    case GH_CALLOC: op->flags &= GA_NOSCAN | GA_NOTINY; break;
    case GH_REALLOC: op->flags &= 1; break;
    case GH_FREE: op->flags &= 3; break;   /* bit0 other cache, bit1 ga_free_local */
    case GH_GC_MARK: op->flags &= 1; break;
    case GH_SCAVENGE: op->flags %= 3; break;
    case GH_FREE_FOREIGN: op->flags &= 3; break;
    default: op->flags = 0; break;
    }
    switch (op->kind) {   /* operands a kind does not encode are zero in a decoded op */
    case GH_MALLOC: case GH_REALLOC: case GH_FREE_INTERIOR: op->b = op->c = 0; break;
    case GH_SCAVENGE: if (op->flags != 2) op->a = 0; op->b = op->c = 0; break;
    case GH_CACHE: op->a %= GH_MAX_CACHES; op->b = op->c = 0; break;
    case GH_CALLOC: case GH_ALIGNED: op->c = 0; break;
    case GH_FAIL_OS: op->a %= GH_OSF_N; op->b &= 255; op->c = 0; break;
    case GH_GC: op->a %= 101; op->b &= 255; op->c &= 255; break;
    case GH_GC_MARK: if (!op->flags) op->a = 0; op->b = op->c = 0; break;
    case GH_SWEEP: op->a = op->b = 0; op->c &= 255; break;
    default: op->a = op->b = op->c = 0; break;
    }
    switch (op->kind) {
    case GH_REALLOC: if (op->flags) op->obj = 0; break;
    case GH_FREE: case GH_USABLE: case GH_WRITE: case GH_CHECK: case GH_DOUBLE_FREE: case GH_FREE_INTERIOR:
    case GH_GC_MARK: break;
    default: op->obj = 0; break;
    }
}

static int insert_at(gh_seq *s, size_t pos, const gh_op *op)
{
    if (gh_seq_push(s, op) != 0)
        return -1;
    memmove(&s->ops[pos + 1], &s->ops[pos], (s->n - 1 - pos) * sizeof *s->ops);
    s->ops[pos] = *op;
    return 0;
}

static void delete_range(gh_seq *s, size_t pos, size_t k)
{
    if (pos >= s->n)
        return;
    if (k > s->n - pos)
        k = s->n - pos;
    memmove(&s->ops[pos], &s->ops[pos + k], (s->n - pos - k) * sizeof *s->ops);
    s->n -= k;
}

static int load(const uint8_t *d, size_t n, gh_seq *s)
{
    if (gh_is_text(d, n)) {
        gh_parse_error pe;
        if (gh_parse((const char *)d, n, s, &pe) == 0)
            return 0;
    }
    return gh_decode(d, n, s, NULL);
}

static bool has_size(unsigned kind) { return kind == GH_MALLOC || kind == GH_CALLOC || kind == GH_REALLOC || kind == GH_ALIGNED; }

static void mutate_once(gh_seq *s, gf_rng *r, const gh_seq *other)
{
    unsigned m = (unsigned)gf_rng_below(r, 100);
    size_t n = s->n, pos = n ? (size_t)gf_rng_below(r, n) : 0;
    gh_op op;
    if (n == 0 || m < 18) {   /* insert a new op (sometimes a run of them) */
        random_op(r, &op, -1);
        size_t k = gf_rng_below(r, 6) == 0 ? 1 + gf_rng_below(r, 8) : 1;
        size_t at = n ? (size_t)gf_rng_below(r, n + 1) : 0;
        for (size_t j = 0; j < k; j++)
            if (insert_at(s, at, &op) != 0)
                return;
    } else if (m < 28) {   /* delete one op or a short range */
        delete_range(s, pos, gf_rng_below(r, 4) == 0 ? 1 + gf_rng_below(r, 8) : 1);
    } else if (m < 40) {   /* duplicate an op or a block, possibly many times (fills spans past 64 slots) */
        size_t len = gf_rng_below(r, 3) == 0 ? 1 + gf_rng_below(r, 4) : 1;
        if (len > n - pos)
            len = n - pos;
        size_t times = gf_rng_below(r, 4) == 0 ? 1 + gf_rng_below(r, 80) : 1 + gf_rng_below(r, 3);
        gh_op blk[4];
        memcpy(blk, &s->ops[pos], len * sizeof *blk);
        size_t at = pos + len;
        for (size_t t = 0; t < times && s->n < 4096; t++)
            for (size_t j = 0; j < len; j++)
                if (insert_at(s, at++, &blk[j]) != 0)
                    return;
    } else if (m < 50) {   /* retarget an object operand */
        s->ops[pos].obj = pick_obj(r);
    } else if (m < 66) {   /* an interesting size */
        gh_op *o = &s->ops[pos];
        if (!has_size(o->kind) && o->kind != GH_FREE_INTERIOR && o->kind != GH_SCAVENGE) {
            random_op(r, o, GH_MALLOC);
        } else if (o->kind == GH_CALLOC && gf_rng_below(r, 2)) {
            o->b = gf_interesting_size(gf_rng_next(r));
        } else if (gf_rng_below(r, 4) == 0 && o->a) {   /* nudge */
            static const int64_t d[] = {-64, -16, -8, -1, 1, 8, 16, 64, 8192, -8192};
            o->a += (uint64_t)d[gf_rng_below(r, 10)];   /* wraps: huge sizes are interesting too */
        } else {
            o->a = gf_interesting_size(gf_rng_next(r));
        }
        if (o->kind == GH_SCAVENGE)
            o->flags = 2;
    } else if (m < 71) {   /* an interesting alignment */
        gh_op *o = &s->ops[pos];
        if (o->kind != GH_ALIGNED) {
            uint64_t sz = has_size(o->kind) ? o->a : gf_interesting_size(gf_rng_next(r));
            random_op(r, o, GH_ALIGNED);
            o->a = sz;
        }
        o->b = gf_interesting_align(gf_rng_next(r));
    } else if (m < 78) {   /* flip a modifier bit */
        s->ops[pos].flags ^= (uint8_t)(1u << gf_rng_below(r, 3));
    } else if (m < 83) {   /* change the kind, keeping the operands where they mean the same */
        gh_op *o = &s->ops[pos];
        static const uint8_t alloc_kinds[] = {GH_MALLOC, GH_CALLOC, GH_REALLOC, GH_ALIGNED};
        static const uint8_t obj_kinds[] = {GH_FREE, GH_USABLE, GH_WRITE, GH_CHECK, GH_DOUBLE_FREE, GH_FREE_INTERIOR,
                                            GH_REALLOC};
        if (has_size(o->kind)) {
            uint64_t sz = o->a;
            o->kind = alloc_kinds[gf_rng_below(r, 4)];
            if (o->kind == GH_CALLOC) {
                o->a = 1 + gf_rng_below(r, 4);
                o->b = sz;
            } else if (o->kind == GH_ALIGNED && !o->b) {
                o->b = gf_interesting_align(gf_rng_next(r));
            }
        } else {
            o->kind = obj_kinds[gf_rng_below(r, 7)];
        }
    } else if (m < 88) {   /* move an op elsewhere */
        op = s->ops[pos];
        delete_range(s, pos, 1);
        insert_at(s, (size_t)gf_rng_below(r, s->n + 1), &op);
    } else if (m < 95 || !other || !other->n) {   /* a phase op: GC, scavenge, cache switch, verify ... */
        static const uint8_t phase[] = {GH_GC, GH_GC, GH_GC, GH_SCAVENGE, GH_SCAVENGE, GH_CACHE, GH_CACHE, GH_RELEASE,
                                        GH_DESTROY, GH_VERIFY, GH_FAIL_OS, GH_GC_BEGIN, GH_GC_BEGIN, GH_GC_END,
                                        GH_GC_END, GH_GC_MARK, GH_GC_MARK, GH_SWEEP};
        random_op(r, &op, phase[gf_rng_below(r, sizeof phase)]);
        insert_at(s, (size_t)gf_rng_below(r, n + 1), &op);
    } else {   /* splice a block of the other input in */
        size_t from = (size_t)gf_rng_below(r, other->n), len = 1 + gf_rng_below(r, 16);
        if (len > other->n - from)
            len = other->n - from;
        size_t at = (size_t)gf_rng_below(r, n + 1);
        for (size_t j = 0; j < len; j++)
            if (insert_at(s, at + j, &other->ops[from + j]) != 0)
                return;
    }
}

/* Encodes s into out (capacity max); drops ops from the end until it fits. */
static size_t store(gh_seq *s, uint8_t *out, size_t max)
{
    for (int tries = 0; tries < 64; tries++) {
        for (size_t i = 0; i < s->n; i++)
            normalize(&s->ops[i]);
        uint8_t *b;
        size_t len;
        if (gh_encode(s, &b, &len) != 0)
            return 0;
        if (len <= max) {
            memcpy(out, b, len);
            free(b);
            return len;
        }
        free(b);
        size_t drop = (len - max) / 21 + 1;   /* an op encodes in at most 21 bytes */
        if (drop >= s->n)
            return 0;
        s->n -= drop;
    }
    return 0;
}

size_t gf_ops_mutate(uint8_t *data, size_t size, size_t max_size, uint64_t seed, const uint8_t *other,
                     size_t other_size)
{
    gf_rng r;
    gf_rng_seed(&r, seed);
    gh_seq s, o;
    if (load(data, size, &s) != 0)
        return 0;
    bool have_other = other && other_size && load(other, other_size, &o) == 0;
    unsigned k = 1;
    while (k < 4 && gf_rng_below(&r, 2))
        k++;
    for (unsigned j = 0; j < k; j++)
        mutate_once(&s, &r, have_other ? &o : NULL);
    size_t out = store(&s, data, max_size);
    gh_seq_free(&s);
    if (have_other)
        gh_seq_free(&o);
    return out;
}

size_t gf_ops_crossover(const uint8_t *a, size_t asz, const uint8_t *b, size_t bsz, uint8_t *out, size_t max_size,
                        uint64_t seed)
{
    gf_rng r;
    gf_rng_seed(&r, seed);
    gh_seq sa, sb;
    if (load(a, asz, &sa) != 0)
        return 0;
    if (load(b, bsz, &sb) != 0) {
        gh_seq_free(&sa);
        return 0;
    }
    size_t cut_a = (size_t)gf_rng_below(&r, sa.n + 1), cut_b = (size_t)gf_rng_below(&r, sb.n + 1);
    sa.n = cut_a;
    for (size_t i = cut_b; i < sb.n; i++)
        if (gh_seq_push(&sa, &sb.ops[i]) != 0)
            break;
    size_t n = store(&sa, out, max_size);
    gh_seq_free(&sa);
    gh_seq_free(&sb);
    return n;
}

#ifdef GF_LIBFUZZER_MUTATOR
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2, uint8_t *out,
                                 size_t max_out, unsigned int seed);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    if (seed % 5 == 0)
        return LLVMFuzzerMutate(data, size, max_size);
    size_t n = gf_ops_mutate(data, size, max_size, seed, NULL, 0);
    return n ? n : LLVMFuzzerMutate(data, size, max_size);
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2, uint8_t *out,
                                 size_t max_out, unsigned int seed)
{
    return gf_ops_crossover(d1, s1, d2, s2, out, max_out, seed);
}
#endif

#ifdef GF_AFL_MUTATOR
/* AFL++ custom mutator API (docs/custom_mutators.md); the afl_state_t is not needed. */
typedef struct gf_afl {
    gf_rng rng;
    uint8_t *buf;
    size_t cap;
} gf_afl;

void *afl_custom_init(void *afl, unsigned int seed);
size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf, uint8_t *add_buf,
                       size_t add_buf_size, size_t max_size);
void afl_custom_deinit(void *data);

void *afl_custom_init(void *afl, unsigned int seed)
{
    (void)afl;
    gf_afl *m = calloc(1, sizeof *m);
    if (m)
        gf_rng_seed(&m->rng, seed);
    return m;
}

size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf, uint8_t *add_buf,
                       size_t add_buf_size, size_t max_size)
{
    gf_afl *m = data;
    size_t cap = max_size > buf_size ? max_size : buf_size;
    if (cap < 64)
        cap = 64;
    if (m->cap < cap) {
        uint8_t *nb = realloc(m->buf, cap);
        if (!nb) {
            *out_buf = buf;
            return buf_size;
        }
        m->buf = nb;
        m->cap = cap;
    }
    memcpy(m->buf, buf, buf_size);
    size_t n = gf_ops_mutate(m->buf, buf_size, max_size, gf_rng_next(&m->rng), add_buf, add_buf_size);
    if (!n) {   /* undecodable (out of memory) or nothing fits: hand back a random op */
        gh_seq s;
        gh_seq_init(&s);
        gh_op op;
        random_op(&m->rng, &op, -1);
        n = gh_seq_push(&s, &op) == 0 ? store(&s, m->buf, max_size) : 0;
        gh_seq_free(&s);
        if (!n) {
            *out_buf = buf;
            return buf_size;
        }
    }
    *out_buf = m->buf;
    return n;
}

void afl_custom_deinit(void *data)
{
    gf_afl *m = data;
    if (m)
        free(m->buf);
    free(m);
}
#endif
