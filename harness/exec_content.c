/*
 * exec_content.c — object contents: a pattern seeded by (object id, generation), never by address,
 * so runs are deterministic and replayable; checks of written patterns and of zeroed memory.
 * Objects up to FULL_FILL_LIMIT are filled and checked whole; bigger ones in sampled ranges
 * (for_ranges). Calls: nothing in galloc; reads and writes object memory only.
 */
#include "exec_internal.h"

/* ---- contents --------------------------------------------------------------------- */
/* The sampled ranges of an object of n bytes: everything up to 4 KiB, else head and tail
 * (1 KiB each) and 8 bytes every 4 KiB for the first MiB, every 64 KiB after it (so a
 * 64 MiB object costs 1024 page touches, not 16384). fn returns false to stop. */
typedef bool (*range_fn)(void *ctx, size_t lo, size_t hi);
static bool for_ranges(size_t n, range_fn fn, void *ctx)
{
    if (n <= FULL_FILL_LIMIT) return n ? fn(ctx, 0, n) : true;
    if (!fn(ctx, 0, EDGE_BYTES)) return false;
    for (size_t k = 4096; k + 8 <= n - EDGE_BYTES; k += k < ((size_t)1 << 20) ? 4096 : 65536)
        if (!fn(ctx, k, k + 8)) return false;
    return fn(ctx, n - EDGE_BYTES, n);
}

/* The pattern is little-endian words base + k*K at offset 8k (internal.h), so whole words
 * can be written and compared at once; edges go byte by byte. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the content pattern's word fast path assumes little-endian"
#endif
#define PAT_K 0x9e3779b97f4a7c15ull
/* Two words per 16-byte vector (SSE2 / NEON baseline; GCC and Clang vector extensions):
 * lane j of vector v holds word 2v+j, and every step adds the same constant to each lane. */
typedef uint64_t pat_v2 __attribute__((vector_size(16)));
static bool fill_fn(void *c, size_t lo, size_t hi)
{
    pat_ctx *pc = c;
    size_t i = lo;
    for (; i < hi && (i & 7); i++) pc->p[i] = gh_pat_byte(pc->base, i);
    /* word k is base + k*K: one add per word (the multiply is loop-invariant); 64 bytes a
     * step in four vectors */
    uint64_t w = pc->base + (i >> 3) * PAT_K;
    if (i + 64 <= hi) {
        pat_v2 a = { w, w + PAT_K }, b = a + 2 * PAT_K, d = a + 4 * PAT_K, e = a + 6 * PAT_K;
        const pat_v2 step = { 8 * PAT_K, 8 * PAT_K };
        for (; i + 64 <= hi; i += 64, w += 8 * PAT_K) {
            memcpy(pc->p + i, &a, 16);
            memcpy(pc->p + i + 16, &b, 16);
            memcpy(pc->p + i + 32, &d, 16);
            memcpy(pc->p + i + 48, &e, 16);
            a += step; b += step; d += step; e += step;
        }
    }
    for (; i + 8 <= hi; i += 8, w += PAT_K) memcpy(pc->p + i, &w, 8);
    if (i < hi) memcpy(pc->p + i, &w, hi - i);   /* the tail: the low bytes of its word */
    return true;
}
static bool check_bytes(pat_ctx *pc, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++)
        if (pc->p[i] != gh_pat_byte(pc->base, i)) {
            pc->bad = i;
            pc->got = pc->p[i];
            pc->want = gh_pat_byte(pc->base, i);
            return false;
        }
    return true;
}
static bool check_fn(void *c, size_t lo, size_t hi)
{
    pat_ctx *pc = c;
    if (hi > pc->limit) hi = pc->limit;
    if (lo >= hi) return true;
    size_t i = lo;
    size_t head = (8 - (i & 7)) & 7;
    if (head > hi - i) head = hi - i;
    if (!check_bytes(pc, i, i + head)) return false;
    i += head;
    /* eight words (four vectors) per step, differences OR-ed: a mismatch is located word by
     * word after */
    uint64_t w = pc->base + (i >> 3) * PAT_K;
    if (i + 64 <= hi) {
        pat_v2 a = { w, w + PAT_K }, b = a + 2 * PAT_K, d = a + 4 * PAT_K, e = a + 6 * PAT_K;
        const pat_v2 step = { 8 * PAT_K, 8 * PAT_K };
        for (; i + 64 <= hi; i += 64, w += 8 * PAT_K) {
            pat_v2 g0, g1, g2, g3;
            memcpy(&g0, pc->p + i, 16);
            memcpy(&g1, pc->p + i + 16, 16);
            memcpy(&g2, pc->p + i + 32, 16);
            memcpy(&g3, pc->p + i + 48, 16);
            pat_v2 diff = (g0 ^ a) | (g1 ^ b) | (g2 ^ d) | (g3 ^ e);
            if (diff[0] | diff[1]) break;
            a += step; b += step; d += step; e += step;
        }
    }
    for (; i + 8 <= hi; i += 8, w += PAT_K) {
        uint64_t g;
        memcpy(&g, pc->p + i, 8);
        if (g != w) return check_bytes(pc, i, i + 8);
    }
    if (i < hi) {   /* the tail: the low hi - i bytes of its word */
        uint64_t g = 0;
        memcpy(&g, pc->p + i, hi - i);
        if ((g ^ w) & (~0ull >> (64 - 8 * (hi - i)))) return check_bytes(pc, i, hi);
    }
    return true;
}
/* Zero check: memcmp against a zero page (glibc's memcmp beats an OR-reduction loop of
 * 16-byte vectors by ~10% here, ~100 GB/s from L2), below 512 bytes an inline OR of words;
 * the first nonzero byte is located after. */
static const uint8_t zeros[4096];
static bool zero_fn(void *c, size_t lo, size_t hi)
{
    pat_ctx *pc = c;
    if (hi - lo < 512) {   /* small: an inline OR of words costs less than the call */
        uint64_t acc = 0, w;
        size_t i = lo;
        for (; i + 8 <= hi; i += 8) { memcpy(&w, pc->p + i, 8); acc |= w; }
        for (; i < hi; i++) acc |= pc->p[i];
        if (!acc) return true;
    }
    for (size_t i = lo; i < hi;) {
        size_t n = hi - i < sizeof zeros ? hi - i : sizeof zeros;
        if (memcmp(pc->p + i, zeros, n) != 0) {
            for (size_t k = i; k < i + n; k++)
                if (pc->p[k]) { pc->bad = k; pc->got = pc->p[k]; pc->want = 0; return false; }
        }
        i += n;
    }
    return true;
}

static void pat_fill(void *p, size_t n, uint64_t id, uint64_t gen)
{
    pat_ctx pc = { p, gh_pat_base(id, gen), n, 0, 0, 0 };
    for_ranges(n, fill_fn, &pc);
}
/* Checks the pattern of (id, gen) written over n bytes, within the first `limit` bytes. */
bool ex_pat_check(const void *p, size_t n, size_t limit, uint64_t id, uint64_t gen, pat_ctx *pc)
{
    pc->p = (uint8_t *)(uintptr_t)p;
    pc->base = gh_pat_base(id, gen);
    pc->limit = limit;
    return for_ranges(n, check_fn, pc);
}
bool ex_zero_check(const void *p, size_t n, pat_ctx *pc)
{
    pc->p = (uint8_t *)(uintptr_t)p;
    if (n <= ZERO_FULL_LIMIT) return zero_fn(pc, 0, n);
    return for_ranges(n, zero_fn, pc);
}

bool ex_zero_check_sampled(const void *p, size_t n, pat_ctx *pc)
{
    pc->p = (uint8_t *)(uintptr_t)p;
    return for_ranges(n, zero_fn, pc);
}

bool ex_check_obj_content(ex *x, obj *o, const char *when)
{
    pat_ctx pc;
    if (o->sut && !ex_pat_check(o->sut, o->size, o->size, o->id, o->gen, &pc)) {
        EM("check_content(%" PRIu64 ", %" PRIu64 ");", o->id, o->gen);
        if (ex_finding(x, GH_CHK_CONTENT, o, NULL, "object #%" PRIu64 " (%zu bytes at %p) %s: byte %zu is 0x%02x, expected 0x%02x",
                    o->id, o->size, o->sut, when, pc.bad, pc.got, pc.want))
            return false;
    }
    if (o->ref && x->o->diff && !ex_pat_check(o->ref, o->ref_size, o->ref_size, o->id, o->ref_gen, &pc)) {
        if (ex_finding(x, GH_CHK_DIFF, o, NULL, "glibc twin of object #%" PRIu64 " (%zu bytes at %p) %s: byte %zu is 0x%02x, expected 0x%02x",
                    o->id, o->ref_size, o->ref, when, pc.bad, pc.got, pc.want))
            return false;
    }
    return true;
}

void ex_write_obj(ex *x, obj *o)
{
    if (o->sut) {
        pat_fill(o->sut, o->size, o->id, o->gen);
        EM("fill(%" PRIu64 ", %" PRIu64 ");", o->id, o->gen);
    }
    if (o->ref) {
        pat_fill(o->ref, o->size, o->id, o->gen);
        o->ref_size = o->size;
        o->ref_gen = o->gen;
    }
}
