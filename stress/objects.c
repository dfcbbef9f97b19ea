/*
 * objects.c — the objects galloc-stress allocates: owns the object header (id, size,
 * generation, owner, check word), the content pattern derived from (id, generation), the
 * size distributions, and the single path every allocation and free of the driver takes
 * through the backend (galloc core API with a per-thread ga_cache, or malloc/free), with
 * verification, op logging, ring entries, counters and sampled latencies.
 *
 * Pattern: byte i of an object (past its header) is byte i%8 of pat_word(base, i/8) with
 * base = mix(id, generation). Objects up to 4 KiB are filled and checked entirely; larger
 * ones at the head and tail (1 KiB each) and 8 bytes in every 4 KiB page between, so each
 * page is touched. With --no-verify only the header and one byte per page are written.
 * A failed check stops the run through st_fail (the first finding wins).
 */
#include "stress.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sizeclass.h"

stress G;

#define FULL_LIMIT 4096u
#define EDGE 1024u

uint64_t st_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t st_rand(tctx *t)
{
    t->rng += 0x9e3779b97f4a7c15ull;
    return st_mix(t->rng);
}

double st_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A size in a uniformly chosen small size class (class 1..67), uniform inside it. */
uint32_t st_size_classes(tctx *t)
{
    uint64_t r = st_rand(t);
    unsigned c = 1 + (unsigned)(r % (GA_NUM_CLASSES - 1));
    uint32_t lo = ga_class_to_size[c - 1], hi = ga_class_to_size[c];
    return lo + 1 + (uint32_t)((r >> 20) % (hi - lo));
}

/* Log-uniform in [lo, hi]. */
uint32_t st_size_range(tctx *t, uint32_t lo, uint32_t hi)
{
    uint64_t r = st_rand(t);
    unsigned blo = 31 - (unsigned)__builtin_clz(lo | 1), bhi = 31 - (unsigned)__builtin_clz(hi | 1);
    unsigned b = blo + (unsigned)(r % (bhi - blo + 1));
    uint64_t a = (uint64_t)1 << b, z = a * 2 - 1;
    if (a < lo) a = lo;
    if (z > hi) z = hi;
    if (z < a) z = a;
    return (uint32_t)(a + (r >> 16) % (z - a + 1));
}

/* ---- header and pattern ------------------------------------------------------------ */
static uint32_t hdr_check(const ohdr *h)
{
    uint64_t v = h->id ^ ((uint64_t)h->size << 32) ^ ((uint64_t)h->gen << 16) ^ h->owner;
    return (uint32_t)(st_mix(v ^ ((uint64_t)h->flags * 0x2545f4914f6cdd1dull) ^ 0x6761616c6c6f63ull) >> 16);
}

static inline uint64_t pat_base(uint64_t id, uint64_t gen)
{
    return st_mix(id * 0x100000001b3ull ^ (gen + 1) * 0x9e3779b97f4a7c15ull);
}

static inline uint64_t pat_word(uint64_t base, uint64_t j)
{
    uint64_t x = base + j * 0x9e3779b97f4a7c15ull;
    x ^= x >> 31;
    x *= 0xd6e8feb86659fd93ull;
    return x ^ (x >> 32);
}

static void fill_range(uint8_t *p, size_t lo, size_t hi, uint64_t base)
{
    size_t i = lo;
    for (; i < hi && (i & 7); i++) p[i] = (uint8_t)(pat_word(base, i >> 3) >> ((i & 7) * 8));
    for (; i + 8 <= hi; i += 8) {
        uint64_t w = pat_word(base, i >> 3);
        memcpy(p + i, &w, 8);
    }
    for (; i < hi; i++) p[i] = (uint8_t)(pat_word(base, i >> 3) >> ((i & 7) * 8));
}

/* Returns the offset of the first bad byte, or SIZE_MAX. */
static size_t check_range(const uint8_t *p, size_t lo, size_t hi, uint64_t base)
{
    size_t i = lo;
    for (; i < hi && (i & 7); i++)
        if (p[i] != (uint8_t)(pat_word(base, i >> 3) >> ((i & 7) * 8))) return i;
    for (; i + 8 <= hi; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w != pat_word(base, i >> 3)) {
            for (size_t k = i; k < i + 8; k++)
                if (p[k] != (uint8_t)(pat_word(base, k >> 3) >> ((k & 7) * 8))) return k;
        }
    }
    for (; i < hi; i++)
        if (p[i] != (uint8_t)(pat_word(base, i >> 3) >> ((i & 7) * 8))) return i;
    return SIZE_MAX;
}

typedef size_t (*range_fn)(uint8_t *p, size_t lo, size_t hi, uint64_t base);
static size_t do_fill(uint8_t *p, size_t lo, size_t hi, uint64_t base) { fill_range(p, lo, hi, base); return SIZE_MAX; }
static size_t do_check(uint8_t *p, size_t lo, size_t hi, uint64_t base) { return check_range(p, lo, hi, base); }

/* Applies fn to the sampled ranges of an object body [start, size). */
static size_t for_ranges(uint8_t *p, size_t start, size_t size, uint64_t base, range_fn fn)
{
    if (start >= size) return SIZE_MAX;
    if (size <= FULL_LIMIT) return fn(p, start, size, base);
    size_t r = fn(p, start, EDGE, base);
    if (r != SIZE_MAX) return r;
    for (size_t k = 4096; k + 8 <= size - EDGE; k += 4096)
        if ((r = fn(p, k, k + 8, base)) != SIZE_MAX) return r;
    return fn(p, size - EDGE, size, base);
}

static uint8_t pat_byte(uint64_t base, size_t i) { return (uint8_t)(pat_word(base, i >> 3) >> ((i & 7) * 8)); }

bool st_is_tiny(const orec *o)
{
    return G.cfg.backend == BE_GALLOC && (o->flags & OF_NOSCAN) && (o->flags & OF_TINYOK) && o->size >= 1 && o->size < GA_TINY_SIZE;
}

static void write_contents(const orec *o)
{
    uint8_t *p = o->p;
    size_t start = 0;
    if (o->flags & OF_HDR) {
        ohdr h = { o->id, o->size, o->gen, (uint16_t)o->owner, o->flags, 0 };
        h.check = hdr_check(&h);
        memcpy(p, &h, sizeof h);
        start = HDR_MIN;
    }
    if (o->flags & OF_BATCH) return;
    if (G.cfg.verify) {
        for_ranges(p, start, o->size, pat_base(o->id, o->gen), do_fill);
    } else {
        if (!start && o->size) p[0] = (uint8_t)o->id;
        for (size_t k = 4096; k < o->size; k += 4096) p[k] = (uint8_t)k;
    }
}

/* ---- findings ----------------------------------------------------------------------- */
static bool claim_finding(void)
{
    int z = 0;
    return atomic_compare_exchange_strong(&G.failed, &z, 1);
}

static void fill_obj(finding *f, const orec *o)
{
    if (!o) return;
    f->obj_id = o->id;
    f->obj_addr = (uintptr_t)o->p;
    f->obj_size = o->size;
    f->obj_owner = o->owner;
    f->obj_gen = o->gen;
}

/* Claims the one finding slot and fills what every finding has; NULL if another thread
 * already reported (the run is stopping either way). */
static finding *begin_finding(int slot, const char *inv, const char *fmt, va_list ap)
{
    if (!claim_finding()) { atomic_store(&G.stop, 1); return NULL; }
    finding *f = &G.fnd;
    memset(f, 0, sizeof *f);
    snprintf(f->invariant, sizeof f->invariant, "%s", inv);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    f->thread = slot;
    f->obj_owner = -1;
    return f;
}

void st_fail(tctx *t, const char *inv, const orec *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    finding *f = begin_finding(t ? t->slot : G.cfg.threads, inv, fmt, ap);
    va_end(ap);
    if (!f) return;
    f->profile = t && t->slot < G.cfg.threads ? atomic_load(&t->cur_profile) : atomic_load(&G.profile_now);
    fill_obj(f, o);
    atomic_store(&G.stop, 1);
}

void st_fail_report(tctx *t, const char *inv, const ga_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    finding *f = begin_finding(t ? t->slot : G.cfg.threads, inv, fmt, ap);
    va_end(ap);
    if (!f) return;
    f->profile = atomic_load(&G.profile_now);
    if (r) {
        f->report = *r;
        f->obj_addr = r->addr;
    }
    atomic_store(&G.stop, 1);
}

/* A finding about a thread (or, slot == threads, the coordinator) that is not the caller:
 * the floor and the watchdog (progress.c). */
void st_fail_slot(int slot, int profile, const char *inv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    finding *f = begin_finding(slot, inv, fmt, ap);
    va_end(ap);
    if (!f) return;
    f->profile = profile;
    atomic_store(&G.stop, 1);
}

/* Looks for another object's valid header inside a damaged object (an overlap). */
static void diagnose_overlap(const orec *o, size_t bad, char *buf, size_t n)
{
    buf[0] = 0;
    const uint8_t *p = o->p;
    size_t lim = o->size < 65536 ? o->size : 65536;
    size_t from = bad >= 64 ? (bad - 64) & ~(size_t)7 : 0;
    for (size_t k = from; k + HDR_MIN <= lim && k < bad + 4096; k += 8) {
        if (((uintptr_t)(p + k) & 7) != 0) continue;
        ohdr h;
        memcpy(&h, p + k, sizeof h);
        if (h.id == o->id || h.check != hdr_check(&h) || h.size == 0) continue;
        snprintf(buf, n, "; another live object's header is at offset %zu: object #%" PRIu64 " (%u bytes, owner thread %u): the two overlap",
                 k, h.id, h.size, h.owner);
        return;
    }
}

bool st_check(tctx *t, const orec *o, const char *when)
{
    if (!G.cfg.verify) return true;
    uint8_t *p = o->p;
    size_t start = 0;
    if (o->flags & OF_HDR) {
        ohdr h;
        memcpy(&h, p, sizeof h);
        const char *what = NULL;
        if (h.check != hdr_check(&h)) what = "check word";
        else if (h.id != o->id) what = "id";
        else if (h.size != o->size) what = "size";
        else if (h.gen != o->gen) what = "generation";
        else if ((h.owner & 0xff) != o->owner) what = "owner";
        if (what) {
            char diag[200];
            diagnose_overlap(o, 0, diag, sizeof diag);
            st_fail(t, "header", o, "object #%" PRIu64 " (%u bytes at %p, owner thread %u, generation %u) %s: header %s wrong "
                    "(header says id #%" PRIu64 ", %u bytes, generation %u, owner %u, check %#x)%s",
                    o->id, o->size, o->p, o->owner, o->gen, when, what, h.id, h.size, h.gen, h.owner, h.check, diag);
            return false;
        }
        start = HDR_MIN;
    }
    if (o->flags & OF_BATCH) {
        uint64_t cnt;
        memcpy(&cnt, p + HDR_MIN, 8);
        if (cnt > BATCH_N) {
            st_fail(t, "header", o, "batch object #%" PRIu64 " at %p %s: count %" PRIu64 " > %d", o->id, o->p, when, cnt, BATCH_N);
            return false;
        }
        return true;
    }
    uint64_t base = pat_base(o->id, o->gen);
    size_t bad = for_ranges(p, start, o->size, base, do_check);
    if (bad != SIZE_MAX) {
        char diag[200];
        diagnose_overlap(o, bad, diag, sizeof diag);
        st_fail(t, "pattern", o, "object #%" PRIu64 " (%u bytes at %p, owner thread %u, generation %u) %s: byte %zu is 0x%02x, expected 0x%02x%s",
                o->id, o->size, o->p, o->owner, o->gen, when, bad, p[bad], pat_byte(base, bad), diag);
        return false;
    }
    return true;
}

bool st_read_hdr(tctx *t, void *p, orec *out, const char *when)
{
    ohdr h;
    memcpy(&h, p, sizeof h);
    memset(out, 0, sizeof *out);
    out->p = p;
    out->id = h.id;
    out->size = h.size;
    out->gen = h.gen;
    out->flags = (uint8_t)h.flags;
    out->owner = (uint8_t)h.owner;
    if (h.check != hdr_check(&h) || !(h.flags & OF_HDR) || h.size < HDR_MIN) {
        out->size = HDR_MIN;
        st_fail(t, "header", out, "object at %p %s: corrupt header (id #%" PRIu64 ", size %u, generation %u, owner %u, flags %#x, check %#x, expected %#x)",
                p, when, h.id, h.size, h.gen, h.owner, h.flags, h.check, hdr_check(&h));
        return false;
    }
    return true;
}

void st_rewrite(tctx *t, orec *o)
{
    if (!st_check(t, o, "before rewrite")) return;
    o->gen++;
    write_contents(o);
    ring_add(t, LK_REWRITE, 0, o->id, o->p, o->size, 0, 0);
}

/* ---- the backend ------------------------------------------------------------------------ */
static bool ensure_cache(tctx *t)
{
    if (t->cache) return true;
    t->cache = ga_cache_new(G.heap);
    if (!t->cache) {
        st_fail(t, "cache-new", NULL, "ga_cache_new failed: %s", strerror(errno));
        return false;
    }
    return true;
}

static bool zero_ok(tctx *t, const orec *o)
{
    const uint8_t *p = o->p;
    size_t n = o->size, lim = n < 65536 ? n : 65536;
    for (size_t i = 0; i < lim; i++)
        if (p[i]) {
            st_fail(t, "zero", o, "object #%" PRIu64 " (%u bytes at %p) allocated zeroed: byte %zu is 0x%02x", o->id, o->size, o->p, i, p[i]);
            return false;
        }
    for (size_t k = 65536; k < n; k += 4096)
        if (p[k]) {
            st_fail(t, "zero", o, "object #%" PRIu64 " (%u bytes at %p) allocated zeroed: byte %zu is 0x%02x", o->id, o->size, o->p, k, p[k]);
            return false;
        }
    return true;
}

void *st_alloc(tctx *t, uint32_t size, unsigned oflags, unsigned align, orec *out)
{
    unsigned gf = 0;
    if (oflags & OF_NOSCAN) gf |= GA_NOSCAN;
    if (align) { gf &= GA_NOSCAN; oflags &= ~(unsigned)(OF_TINYOK | OF_ZERO); }
    else {
        if (!(oflags & OF_TINYOK)) gf |= GA_NOTINY;
        if (oflags & OF_ZERO) gf |= GA_ZERO;
    }
    bool sample = (t->kind_count[LAT_ALLOC]++ & 63) == 0;
    uint64_t t0 = sample ? now_ns() : 0;
    void *p;
    if (G.cfg.backend == BE_GALLOC) {
        if (!ensure_cache(t)) return NULL;
        p = ga_alloc(t->cache, size, align, gf);
    } else if (align) {
        if (posix_memalign(&p, align, size) != 0) p = NULL;
    } else if (oflags & OF_ZERO) {
        p = calloc(1, size);
    } else {
        p = malloc(size);
    }
    if (sample) hist_add(&t->lat[LAT_ALLOC], now_ns() - t0);
    t->nops_local++;
    if (!p) {
        orec o = { NULL, 0, size, 0, (uint8_t)oflags, (uint8_t)t->slot };
        st_fail(t, "alloc-failed", &o, "allocation of %u bytes (align %u, flags %#x) returned NULL: %s", size, align, gf, strerror(errno));
        return NULL;
    }
    uint64_t seq = 0, id;
    if (G.logging) {
        seq = atomic_fetch_add_explicit(&G.seq, 1, memory_order_relaxed);
        id = G.epoch * ID_BASE + seq;
    } else {
        id = (uint64_t)(t->slot + 1) * ID_BASE + ++t->local_ids;
    }
    orec o = { p, id, size, 0, (uint8_t)(oflags | (size >= HDR_MIN ? OF_HDR : 0)), (uint8_t)t->slot };
    unsigned alog = align ? (unsigned)__builtin_ctz(align) : 0;
    if (G.logging) log_add(t, LK_ALLOC, seq, id, size, (uint8_t)gf, alog);
    ring_add(t, LK_ALLOC, seq, id, p, size, (uint8_t)gf, alog);
    if (G.cfg.verify) {
        if ((oflags & OF_ZERO) && !zero_ok(t, &o)) return NULL;
        if (align && ((uintptr_t)p & (align - 1))) {
            st_fail(t, "align", &o, "object #%" PRIu64 " at %p (%u bytes) is not aligned to %u as asked", id, p, size, align);
            return NULL;
        }
        if (G.cfg.backend == BE_GALLOC && (t->nops_local & 15) == 0 && !st_is_tiny(&o)) {
            size_t u = ga_usable_size(G.heap, p);
            if (u < size) {
                st_fail(t, "usable", &o, "object #%" PRIu64 " at %p: ga_usable_size %zu < requested %u", id, p, u, size);
                return NULL;
            }
        }
    }
    o.flags &= (uint8_t)~OF_ZERO;        /* only meaningful at allocation */
    write_contents(&o);
    atomic_fetch_add_explicit(&t->allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->epoch_allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->alloc_bytes, size, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->live_objs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->live_bytes, size, memory_order_relaxed);
    if (out) *out = o;
    return p;
}

bool st_free(tctx *t, const orec *o)
{
    if (G.cfg.verify && !st_check(t, o, "at free")) return false;
    bool remote = o->owner != (uint8_t)t->slot;
    uint64_t seq = 0;
    if (G.logging) {
        seq = atomic_fetch_add_explicit(&G.seq, 1, memory_order_relaxed);
        log_add(t, LK_FREE, seq, o->id, o->size, 0, 0);
    }
    ring_add(t, LK_FREE, seq, o->id, o->p, o->size, remote ? 1 : 0, 0);
    int k = remote ? LAT_RFREE : LAT_FREE;
    bool sample = (t->kind_count[k]++ & 63) == 0;
    uint64_t t0 = sample ? now_ns() : 0;
    if (G.cfg.backend == BE_GALLOC) {
        ga_status st = ga_free(G.heap, o->p);
        if (sample) hist_add(&t->lat[k], now_ns() - t0);
        if (st != GA_OK) {
            st_fail(t, "free-status", o, "ga_free of object #%" PRIu64 " (%u bytes at %p, owner thread %u) returned %s",
                    o->id, o->size, o->p, o->owner, ga_status_name(st));
            return false;
        }
    } else {
        free(o->p);
        if (sample) hist_add(&t->lat[k], now_ns() - t0);
    }
    atomic_fetch_add_explicit(&t->frees, 1, memory_order_relaxed);
    if (remote) atomic_fetch_add_explicit(&t->rfrees, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&t->live_objs, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&t->live_bytes, o->size, memory_order_relaxed);
    return true;
}
