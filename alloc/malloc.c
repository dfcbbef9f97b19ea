/*
 * malloc.c — libgalloc: the process heap as a malloc replacement. Built into
 * <build>/lib/libgalloc.so (LD_PRELOAD-able) and libgalloc.a (linked into programs).
 *
 * Owns: the one process-wide heap (created lazily by the first allocation call, from any
 * thread, before or after constructors, with no malloc of its own), the per-thread caches
 * (initial-exec TLS, handed back by a pthread key destructor at thread exit), the fallback
 * cache for calls that cannot use a thread cache (re-entrant calls while a thread cache is
 * being set up, calls after the thread's cache was given back), the fork handlers, the
 * background scavenger thread, GALLOC_OPTIONS, misuse reporting (one line, then abort) and
 * the whole glibc allocation API with glibc's documented behaviour.
 *
 * Level: the top. It calls the public API of galloc.h (ga_heap_new, ga_cache_new /
 * ga_cache_destroy / ga_cache_release, ga_alloc, ga_free, ga_lookup, ga_usable_size,
 * ga_sweep, ga_scavenge, ga_scavenge_policy, ga_read_stats, ga_verify_span,
 * ga_heap_lock_all / ga_heap_unlock_all, ga_set_error_handler) and, from internal.h, only
 * the inline fast paths ga_alloc_fast / ga_cache_span_of / ga_free_owner_fast (and a cache's
 * heap pointer, for the ga_free_in_span behind the latter); nothing calls it.
 *
 * Hot paths: malloc is one TLS load, one compare against a read-mostly limit, then
 * ga_alloc_fast inlined with constant flags (ga_alloc when it declines); free is
 * one span lookup (ga_cache_span_of) and ga_free_owner_fast inlined, ga_free_in_span with
 * the same span when the owner path declines (the span is another cache's or none's). Neither takes a lock. Everything unusual
 * (first call, huge requests, junk filling, verify-on-free, starting the scavenger) is
 * routed to the slow path by setting the fast-path limits to 0.
 *
 * Alignment: every request >= 16 bytes gets 16-byte alignment (max_align_t): size classes
 * >= 32 B are multiples of 16, so only 17..24 (class 24) is bumped to 32. malloc uses
 * GA_NOSCAN|GA_NOTINY: tiny blocks cannot be freed one by one, and scan objects > 512 B
 * carry an 8-byte header that would break the alignment.
 *
 * Re-entrancy: pthread_setspecific, pthread_create, dlopen/TLS set-up may call back into
 * malloc. A thread's state (T.state) is NONE, INIT (its cache is being set up), ACTIVE or
 * DEAD (its cache was given back by the key destructor); INIT and DEAD calls use the
 * fallback cache under fb_lock. Heap creation uses only mmap, under init_lock.
 *
 * fork: prepare takes dbg_lock, fb_lock, then every heap lock (ga_heap_lock_all); parent
 * and child release them. The child restarts the scavenger when it shows activity.
 *
 * Returning memory: a background thread ("galloc-scav") calls ga_scavenge_policy every
 * scavenge_period ms after frees happened. It starts once the process's peak RSS reaches
 * scavenge_start, from an allocation slow path (never from free: glibc frees TLS blocks
 * while holding the lock pthread_create needs); until it runs, every 1024th free of a
 * thread scavenges inline.
 *
 * GALLOC_OPTIONS (comma-separated, parsed without malloc; unknown ones warn and are ignored):
 *   verify_on_free=0|1   ga_verify_span after every free (serialises the heap: debugging)
 *   junk=0|1             new memory reads 0xa5 unless zeroed; freed slots 0xdf at sweep
 *   stats=0|1            malloc_stats report on stderr at exit
 *   scavenge=background|inline|off   how free memory goes back to the OS
 *   retain=SIZE          free bytes the scavenger keeps (default 2M)
 *   scavenge_start=SIZE  peak RSS before scavenging starts (default 32M; 0: at once)
 *   scavenge_period=MS   the background scavenger's period (default 150)
 *   aslr=0|1             randomised heap base (default 1)
 *
 * Test build (-DGA_MALLOC_PREFIX=gm_, library galloc_malloc_test, malloc_test.h): every
 * entry point is named gm_<name> so that it lives beside glibc's; misuse goes to
 * gm_misuse_hook when one is set (the call then returns) instead of aborting; gm_plant
 * switches on planted API bugs; no constructor, no __libc_* aliases, a fixed heap base,
 * inline scavenging (no thread) and gm_reset (a fresh heap for the next call). Without the macro GA_API(x) is x and PLANT(k) is 0, so
 * libgalloc.so / libgalloc.a contain none of it.
 */
#include "galloc.h"
#include "internal.h"   /* the inline fast paths and ga_free_in_span only */

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#define GA_EXPORT   __attribute__((visibility("default")))
#define GA_LIKELY(x)   __builtin_expect(!!(x), 1)
#define GA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GA_TLS      __thread __attribute__((tls_model("initial-exec")))
#define GA_NOINLINE __attribute__((noinline))
#define GA_COLD     __attribute__((cold, noinline))

#ifdef GA_MALLOC_PREFIX
#include "malloc_test.h"
#define GA_CAT2_(a, b) a##b
#define GA_CAT_(a, b)  GA_CAT2_(a, b)
#define GA_API(x)      GA_CAT_(GA_MALLOC_PREFIX, x)
#define PLANT(k)       GA_UNLIKELY(gm_plant == (k))
gm_misuse_fn gm_misuse_hook;
int gm_plant;
#else
#define GA_API(x)      x
#define PLANT(k)       0
#endif

#define MFLAGS          (GA_NOSCAN | GA_NOTINY)
#define SMALL_CUTOFF    ((size_t)32760)          /* GA_SMALL_CUTOFF: larger requests are spans */
#define MAX_ALIGN       ((size_t)1 << 30)         /* ga_alloc honours any power of two up to this */
#define LARGE_TICK      ((size_t)8 << 20)         /* large bytes between scavenger checks */
#define FREE_TICK_MASK  1023u                     /* frees between scavenger checks */

/* Exported for programs and tools that want the process heap (stats, verify, dump). */
GA_EXPORT ga_heap *GA_API(ga_malloc_heap)(void);

/* ---- process-wide state ----------------------------------------------------------- */

/* Read on every call; written at init and when the scavenger starts. */
static struct {
    _Atomic(ga_heap *) heap;
    _Atomic size_t lim_malloc;     /* malloc fast path serves n <= this */
    _Atomic size_t lim_calloc;     /* calloc fast path serves n <= this */
    _Atomic bool slow_free;        /* verify_on_free: every free takes the slow path */
} G __attribute__((aligned(64)));

/* Written by frees (rarely: once per scavenger pass) and by the scavenger. */
static struct {
    _Atomic int noted;             /* 1: the scavenger knows frees happened (or nothing to do) */
} N __attribute__((aligned(64)));

/* Scavenger states. IDLE: not needed yet (the process is small); WANTED: needed, the next
 * allocation starts the thread (free cannot: glibc frees TLS blocks while holding the lock
 * pthread_create takes), meanwhile frees scavenge inline; INLINE: no thread (option, or
 * pthread_create failed), frees scavenge inline; OFF: never. */
enum { SCAV_IDLE, SCAV_WANTED, SCAV_STARTING, SCAV_RUNNING, SCAV_INLINE, SCAV_OFF };

static struct {
    /* options (GALLOC_OPTIONS), fixed after init */
    bool junk, verify, stats, aslr;
    int mode;                     /* SCAV_IDLE (background), SCAV_INLINE or SCAV_OFF */
    size_t retain;
    size_t scav_start;            /* peak RSS before the scavenger thread starts */
    unsigned scav_period_ms;
    /* derived */
    size_t cap;                   /* largest request: RAM + swap, as Linux overcommit */
    size_t fast_cap;              /* lim_* once nothing needs the slow path */
    ga_cache *fallback;           /* guarded by fb_lock */
    pthread_key_t key;
    bool have_key;
    _Atomic int scav;             /* SCAV_* */
    _Atomic bool atfork_done;
} S;

static bool child_restart;        /* a fork child whose parent ran the scavenger */
static _Atomic bool inline_busy;  /* a free is scavenging inline */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t fb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t dbg_lock = PTHREAD_MUTEX_INITIALIZER;   /* verify mode: serialises */

/* ---- per-thread state ------------------------------------------------------------- */
enum { T_NONE = 0, T_INIT = 1, T_ACTIVE = 2, T_DEAD = 3 };
/* One block, so every access is one TLS offset from the thread pointer. */
static GA_TLS struct {
    ga_cache *cache;          /* the thread's cache; NULL: none (yet, or any more) */
    const char *op;           /* the call being served, named by misuse reports; NULL: none */
    const char *err_what;     /* the core's detail for the report being made */
    size_t large;             /* large bytes allocated since the last scavenger check */
    unsigned nfree;           /* frees, counted while the scavenger is not running */
    unsigned char state;      /* T_* */
} T;

/* ---- small output helpers (no malloc, no stdio) ------------------------------------ */
typedef struct { char b[512]; size_t n; } line_t;

static void l_str(line_t *l, const char *s)
{
    while (*s && l->n < sizeof l->b - 1) l->b[l->n++] = *s++;
}

static void l_hex(line_t *l, uintptr_t v)
{
    char t[2 + 16];
    int k = 0;
    do { t[k++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    l_str(l, "0x");
    while (k > 0 && l->n < sizeof l->b - 1) l->b[l->n++] = t[--k];
}

/* right-aligned in a field of width w */
static void l_decw(line_t *l, unsigned long long v, int w)
{
    char t[24];
    int k = 0;
    do { t[k++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (int i = k; i < w; i++) l_str(l, " ");
    while (k > 0 && l->n < sizeof l->b - 1) l->b[l->n++] = t[--k];
}

static void l_write(line_t *l)
{
    size_t off = 0;
    while (off < l->n) {
        ssize_t w = write(2, l->b + off, l->n - off);
        if (w <= 0) { if (w < 0 && errno == EINTR) continue; break; }
        off += (size_t)w;
    }
    l->n = 0;
}

/* ---- misuse ------------------------------------------------------------------------- */

static bool in_reserved(const void *p);

static GA_COLD void misuse(ga_status st, const void *p, const char *op);

/* The heap's error hook: report and stop. Called from inside ga_free / ga_free_local
 * (T.op names the call), or while sweeping finds a double free split between the owning
 * thread and another one (no call to name). */
static void on_misuse(void *ctx, ga_status st, const void *p, const char *what)
{
    (void)ctx;
    T.err_what = what;
#ifdef GA_MALLOC_PREFIX
    if (gm_misuse_hook && T.op) return;   /* the caller reports the status it gets back */
#endif
    misuse(st, p, T.op ? T.op : "found while sweeping");
}

/* One line naming the problem and the pointer, then abort(). */
static GA_COLD void misuse(ga_status st, const void *p, const char *op)
{
    line_t l = { .n = 0 };
    l_str(&l, "galloc: ");
    bool re = op[0] == 'r';     /* realloc, reallocarray */
    if (st == GA_ERR_NOT_OWNED && in_reserved(p)) {
        st = GA_ERR_DOUBLE_FREE;    /* galloc's memory, in a span already given back */
        T.err_what = "the block's span was already freed";
    }
    switch (st) {
    case GA_ERR_DOUBLE_FREE: l_str(&l, re ? "realloc of a freed block " : "double free of "); break;
    case GA_ERR_NOT_OWNED:   l_str(&l, "invalid pointer (not allocated by galloc) "); break;
    case GA_ERR_INTERIOR:    l_str(&l, "interior or misaligned pointer "); break;
    case GA_ERR_TINY:        l_str(&l, "pointer into a tiny block "); break;
    default:                 l_str(&l, "invalid pointer "); break;
    }
    l_hex(&l, (uintptr_t)p);
    l_str(&l, " (");
    l_str(&l, op);
    l_str(&l, ")");
    if (T.err_what) { l_str(&l, ": "); l_str(&l, T.err_what); }
#ifdef GA_MALLOC_PREFIX
    if (gm_misuse_hook) {
        l.b[l.n] = '\0';
        T.err_what = NULL;
        gm_misuse_hook((int)st, p, op, l.b);
        return;
    }
#endif
    l_str(&l, "\n");
    l_write(&l);
    abort();
}

static GA_COLD void fatal(const char *msg, const void *p, const char *detail)
{
    line_t l = { .n = 0 };
    l_str(&l, "galloc: ");
    l_str(&l, msg);
    if (p) { l_str(&l, " "); l_hex(&l, (uintptr_t)p); }
    if (detail) { l_str(&l, ": "); l_str(&l, detail); }
    l_str(&l, "\n");
    l_write(&l);
    abort();
}

/* ---- GALLOC_OPTIONS (parsed without malloc) ----------------------------------------- */
static void warn_option(const char *what, const char *s, size_t n)
{
    line_t l = { .n = 0 };
    l_str(&l, "galloc: ");
    l_str(&l, what);
    l_str(&l, " '");
    for (size_t i = 0; i < n && l.n < 200; i++) l.b[l.n++] = s[i];
    l_str(&l, "' in GALLOC_OPTIONS ignored\n");
    l_write(&l);
}

static bool key_is(const char *k, size_t kn, const char *name)
{
    return strlen(name) == kn && memcmp(k, name, kn) == 0;
}

static bool parse_bool(const char *v, size_t vn, bool *out)
{
    if (vn == 1 && (v[0] == '1' || v[0] == '0')) { *out = v[0] == '1'; return true; }
    if (key_is(v, vn, "true") || key_is(v, vn, "yes") || key_is(v, vn, "on")) { *out = true; return true; }
    if (key_is(v, vn, "false") || key_is(v, vn, "no") || key_is(v, vn, "off")) { *out = false; return true; }
    return false;
}

static bool parse_size(const char *v, size_t vn, size_t *out)
{
    size_t i = 0, x = 0;
    if (vn == 0) return false;
    for (; i < vn && v[i] >= '0' && v[i] <= '9'; i++) {
        if (x > (SIZE_MAX - 9) / 10) return false;
        x = x * 10 + (size_t)(v[i] - '0');
    }
    if (i == 0) return false;
    unsigned shift = 0;
    if (i < vn) {
        switch (v[i] | 0x20) {
        case 'k': shift = 10; break;
        case 'm': shift = 20; break;
        case 'g': shift = 30; break;
        default: return false;
        }
        i++;
        if (i < vn && (v[i] | 0x20) == 'b') i++;
        if (i < vn && (v[i] | 0x20) == 'i') i++;   /* KiB */
        if (i < vn && (v[i] | 0x20) == 'b') i++;
    }
    if (i != vn || (shift && x > (SIZE_MAX >> shift))) return false;
    *out = x << shift;
    return true;
}

static void parse_options(const char *s)
{
    while (s && *s) {
        const char *k = s;
        while (*s && *s != ',') s++;
        size_t n = (size_t)(s - k);
        if (*s == ',') s++;
        if (n == 0) continue;
        const char *eq = memchr(k, '=', n);
        size_t kn = eq ? (size_t)(eq - k) : n;
        const char *v = eq ? eq + 1 : "1";
        size_t vn = eq ? n - kn - 1 : 1;
        bool ok = true, b = false;
        size_t z = 0;
        if (key_is(k, kn, "verify_on_free") || key_is(k, kn, "verify")) { ok = parse_bool(v, vn, &b); if (ok) S.verify = b; }
        else if (key_is(k, kn, "junk")) { ok = parse_bool(v, vn, &b); if (ok) S.junk = b; }
        else if (key_is(k, kn, "stats")) { ok = parse_bool(v, vn, &b); if (ok) S.stats = b; }
        else if (key_is(k, kn, "aslr")) { ok = parse_bool(v, vn, &b); if (ok) S.aslr = b; }
        else if (key_is(k, kn, "scavenge")) {
            if (key_is(v, vn, "background") || key_is(v, vn, "on") || key_is(v, vn, "1")) S.mode = SCAV_IDLE;
            else if (key_is(v, vn, "inline")) S.mode = SCAV_INLINE;
            else if (key_is(v, vn, "off") || key_is(v, vn, "0")) S.mode = SCAV_OFF;
            else ok = false;
        }
        else if (key_is(k, kn, "retain")) { ok = parse_size(v, vn, &z); if (ok) S.retain = z; }
        else if (key_is(k, kn, "scavenge_start")) { ok = parse_size(v, vn, &z); if (ok) S.scav_start = z; }
        else if (key_is(k, kn, "scavenge_period")) {
            ok = parse_size(v, vn, &z) && z >= 1 && z <= 60000;
            if (ok) S.scav_period_ms = (unsigned)z;
        }
        else { warn_option("unknown option", k, n); continue; }
        if (!ok) warn_option("bad value in option", k, n);
    }
}

/* getenv without relying on libc being initialised: environ if set, else /proc. */
static char env_buf[4096];

static const char *find_env(const char *name)
{
    extern char **environ;
    size_t nl = strlen(name);
    if (environ) {
        for (char **e = environ; *e; e++)
            if (strncmp(*e, name, nl) == 0 && (*e)[nl] == '=') return *e + nl + 1;
        return NULL;
    }
    int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    /* Scan entry by entry with a window: keep the tail of a partial entry. */
    size_t have = 0;
    const char *found = NULL;
    for (;;) {
        ssize_t r = read(fd, env_buf + have, sizeof env_buf - 1 - have);
        if (r <= 0) break;
        have += (size_t)r;
        size_t start = 0;
        for (size_t i = 0; i < have; i++) {
            if (env_buf[i] != '\0') continue;
            if (strncmp(env_buf + start, name, nl) == 0 && env_buf[start + nl] == '=') {
                memmove(env_buf, env_buf + start, i - start + 1);
                found = env_buf + nl + 1;
                break;
            }
            start = i + 1;
        }
        if (found) break;
        if (start == 0 && have == sizeof env_buf - 1) have = 0;   /* entry too long: skip */
        else { memmove(env_buf, env_buf + start, have - start); have -= start; }
    }
    close(fd);
    return found;
}

/* ---- the OS layer: the default one, plus a record of the address space reserved ---------
 * A pointer inside a reserved region but not in an in-use span is memory galloc handed
 * out and took back (its span was freed): freeing it is a double free, not a foreign
 * pointer. The record is only read on that error path. Regions are whole reservations
 * (at least one 64 MiB arena each) and are only released when a reservation misses its
 * hint, so a small table is plenty; if it ever fills, misuse is still caught, only
 * classified as "not allocated by galloc". */
#define MAX_REGIONS 1024
static struct { _Atomic uintptr_t base, end; } regions[MAX_REGIONS];
static ga_os os_wrap;

static void *os_reserve(void *ctx, void *hint, size_t n)
{
    const ga_os *d = ga_os_default();
    (void)ctx;
    void *p = d->reserve(d->ctx, hint, n);
    /* heap.c stops at an ENOMEM from a non-default OS layer (that is how tests inject
     * failures); from the real kernel a hint can fail with ENOMEM for reasons that do not
     * apply to other hints (above the task size), so let it try them. */
    if (!p && hint && errno == ENOMEM) errno = EEXIST;
    if (p) {
        for (size_t i = 0; i < MAX_REGIONS; i++) {
            if (atomic_load_explicit(&regions[i].end, memory_order_relaxed) != 0) continue;
            atomic_store_explicit(&regions[i].base, (uintptr_t)p, memory_order_relaxed);
            atomic_store_explicit(&regions[i].end, (uintptr_t)p + n, memory_order_release);
            break;
        }
    }
    return p;
}

static int os_release(void *ctx, void *p, size_t n)
{
    const ga_os *d = ga_os_default();
    (void)ctx;
    for (size_t i = 0; i < MAX_REGIONS; i++) {
        if (atomic_load_explicit(&regions[i].base, memory_order_relaxed) == (uintptr_t)p &&
            atomic_load_explicit(&regions[i].end, memory_order_relaxed) == (uintptr_t)p + n) {
            atomic_store_explicit(&regions[i].end, 0, memory_order_relaxed);
            atomic_store_explicit(&regions[i].base, 0, memory_order_relaxed);
        }
    }
    return d->release(d->ctx, p, n);
}

static bool in_reserved(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    for (size_t i = 0; i < MAX_REGIONS; i++) {
        uintptr_t e = atomic_load_explicit(&regions[i].end, memory_order_acquire);
        if (e && a >= atomic_load_explicit(&regions[i].base, memory_order_relaxed) && a < e) return true;
    }
    return false;
}

/* ---- process heap --------------------------------------------------------------------- */
static void thread_cache_dtor(void *v);
static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);

static uint64_t random_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
        if (r) memcpy(&seed, r + 8, sizeof seed);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed ^= (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() << 32;
    }
    return seed;
}

/* The fast paths' limits follow the scavenger state; re-derived until the state is stable,
 * so a racing update can never leave stale limits behind. */
static void set_fast_limits(void)
{
    for (;;) {
        int sc = atomic_load(&S.scav);
        size_t lm = S.fast_cap, lc = S.fast_cap;
        if (sc == SCAV_IDLE) lm = lc = SMALL_CUTOFF;   /* large requests count towards starting it */
        if (sc == SCAV_WANTED) lm = lc = 0;            /* the next call starts it */
        if (S.junk || S.verify) lm = 0;
        if (S.verify) lc = 0;
        atomic_store(&G.lim_malloc, lm);
        atomic_store(&G.lim_calloc, lc);
        if (atomic_load(&S.scav) == sc) return;
    }
}

static GA_NOINLINE ga_heap *heap_init(void)
{
    pthread_mutex_lock(&init_lock);
    ga_heap *h = atomic_load(&G.heap);
    if (h) { pthread_mutex_unlock(&init_lock); return h; }

    S.mode = SCAV_IDLE;
    S.aslr = true;
    S.scav_start = (size_t)32 << 20;
    S.scav_period_ms = 150;
#ifdef GA_MALLOC_PREFIX
    S.mode = SCAV_INLINE;   /* test build: no thread, a fixed heap base, and scavenging that */
    S.aslr = false;         /* does not wait for the process's peak RSS (deterministic) */
    S.scav_start = 0;
#endif
    parse_options(find_env("GALLOC_OPTIONS"));

    struct sysinfo si;
    size_t cap = (size_t)1 << 46;
    if (sysinfo(&si) == 0 && si.mem_unit) {
        unsigned __int128 total = ((unsigned __int128)si.totalram + si.totalswap) * si.mem_unit;
        if (total && total < cap) cap = (size_t)total;
    }
    S.cap = cap;
    S.fast_cap = cap;

    os_wrap = *ga_os_default();
    os_wrap.reserve = os_reserve;
    os_wrap.release = os_release;
    ga_heap_options opt;
    memset(&opt, 0, sizeof opt);
    opt.os = &os_wrap;
    opt.randomize_base = S.aslr;
    opt.seed = S.aslr ? random_seed() : 0;
    opt.scavenge_retain_bytes = S.retain;
    opt.poison_free = S.junk;
    h = ga_heap_new(&opt);
    if (!h) { pthread_mutex_unlock(&init_lock); return NULL; }
    ga_set_error_handler(h, on_misuse, NULL);
    S.fallback = ga_cache_new(h);
    if (!S.fallback) {
        ga_heap_destroy(h);
        pthread_mutex_unlock(&init_lock);
        return NULL;   /* out of memory: the next call tries again */
    }
    /* Without a key (all taken) thread caches still work; they are just not given back
     * at thread exit. */
#ifdef GA_MALLOC_PREFIX
    if (!S.have_key)   /* gm_reset: one key for every heap of the process */
#endif
    S.have_key = pthread_key_create(&S.key, thread_cache_dtor) == 0;
    atomic_store(&S.scav, S.mode);
    atomic_store(&N.noted, S.mode == SCAV_OFF ? 1 : 0);
    atomic_store_explicit(&G.slow_free, S.verify, memory_order_relaxed);
    set_fast_limits();
    atomic_store_explicit(&G.heap, h, memory_order_release);
    pthread_mutex_unlock(&init_lock);

    /* Outside the lock: registration may allocate, which now finds the heap. */
    if (!atomic_exchange(&S.atfork_done, true))
        pthread_atfork(fork_prepare, fork_parent, fork_child);
    return h;
}

static inline ga_heap *heap_get(void)
{
    ga_heap *h = atomic_load_explicit(&G.heap, memory_order_acquire);
    return GA_LIKELY(h != NULL) ? h : heap_init();
}

GA_EXPORT ga_heap *GA_API(ga_malloc_heap)(void) { return heap_get(); }

#ifdef GA_MALLOC_PREFIX
/* Test build: destroy the process heap with every object in it; the next call creates a
 * fresh one at the same base (aslr is off), so each test input starts from the same state.
 * Only with no other thread using the API. */
GA_EXPORT void GA_API(reset)(void)
{
    ga_heap *h = atomic_load(&G.heap);
    if (!h) return;
    if (T.cache) ga_cache_destroy(T.cache);
    if (S.have_key) pthread_setspecific(S.key, NULL);
    T.cache = NULL;
    T.state = T_NONE;
    T.large = 0;
    T.nfree = 0;
    if (S.fallback) ga_cache_destroy(S.fallback);
    S.fallback = NULL;
    atomic_store(&G.lim_malloc, 0);
    atomic_store(&G.lim_calloc, 0);
    atomic_store(&G.heap, NULL);
    ga_heap_destroy(h);   /* releases every reservation: os_release empties regions[] */
}
#endif

/* ---- thread caches -------------------------------------------------------------------- */

/* The calling thread's cache, created on first use; NULL means "use the fallback" (the
 * cache is being set up further up this thread's stack, or was already given back). */
static GA_NOINLINE ga_cache *thread_cache(ga_heap *h)
{
    ga_cache *c = T.cache;
    if (c) return c;
    if (T.state != T_NONE) return NULL;
    T.state = T_INIT;
    c = ga_cache_new(h);
    if (!c) { T.state = T_NONE; return NULL; }
    T.cache = c;
    if (S.have_key) pthread_setspecific(S.key, c);   /* may allocate (keys >= 32) */
    T.state = T_ACTIVE;
    return c;
}

static void thread_cache_dtor(void *v)
{
    ga_cache *c = v;
    if (!c) return;
    if (T.cache == c) T.cache = NULL;
    T.state = T_DEAD;                  /* later calls on this thread use the fallback */
    if (S.verify) pthread_mutex_lock(&dbg_lock);
    ga_cache_destroy(c);
    if (S.verify) pthread_mutex_unlock(&dbg_lock);
}

/* ---- fork ----------------------------------------------------------------------------- */
static void fork_prepare(void)
{
    ga_heap *h = atomic_load(&G.heap);
    if (!h) return;
    pthread_mutex_lock(&dbg_lock);
    pthread_mutex_lock(&fb_lock);
    ga_heap_lock_all(h);
}

static void fork_parent(void)
{
    ga_heap *h = atomic_load(&G.heap);
    if (!h) return;
    ga_heap_unlock_all(h);
    pthread_mutex_unlock(&fb_lock);
    pthread_mutex_unlock(&dbg_lock);
}

static void fork_child(void)
{
    ga_heap *h = atomic_load(&G.heap);
    if (!h) return;
    ga_heap_unlock_all(h);
    pthread_mutex_unlock(&fb_lock);
    pthread_mutex_unlock(&dbg_lock);
    /* The scavenger thread did not survive the fork. Start it again once the child shows
     * allocation activity (1024 frees, 8 MiB of large allocations), not at once: most
     * children exec soon after fork. Caches of threads that did not survive keep their
     * spans (a bounded leak in the child): they may have been mid-allocation, so touching
     * them is not safe. */
    int sc = atomic_load(&S.scav);
    if (sc == SCAV_RUNNING || sc == SCAV_STARTING || sc == SCAV_WANTED) {
        child_restart = true;
        atomic_store(&S.scav, SCAV_IDLE);
        atomic_store(&N.noted, 0);
        set_fast_limits();
    }
}

/* ---- the background scavenger ----------------------------------------------------------- */
static void *scavenger_main(void *arg)
{
    ga_heap *h = arg;
    struct timespec ts = { .tv_sec = S.scav_period_ms / 1000,
                           .tv_nsec = (long)(S.scav_period_ms % 1000) * 1000000L };
    for (;;) {
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
        ts.tv_sec = S.scav_period_ms / 1000;
        ts.tv_nsec = (long)(S.scav_period_ms % 1000) * 1000000L;
        if (atomic_load_explicit(&N.noted, memory_order_relaxed) == 0) continue;
        atomic_store_explicit(&N.noted, 0, memory_order_relaxed);
        if (S.verify) pthread_mutex_lock(&dbg_lock);
        ga_scavenge_policy(h);
        if (S.verify) pthread_mutex_unlock(&dbg_lock);
    }
    return NULL;
}

/* Starts the scavenger thread. Called only from allocation slow paths with no lock of ours
 * held and the thread's cache in its normal state: pthread_create allocates (the new
 * thread's DTV), which re-enters malloc. */
static GA_NOINLINE void scavenger_start(ga_heap *h)
{
    int sc = atomic_load(&S.scav);
    if ((sc != SCAV_IDLE && sc != SCAV_WANTED) || T.state != T_ACTIVE) return;
    if (!atomic_compare_exchange_strong(&S.scav, &sc, SCAV_STARTING)) return;
    int saved = errno;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);   /* the scavenger never takes a signal */
    pthread_attr_t a;
    pthread_t tid;
    int rc = pthread_attr_init(&a);
    if (rc == 0) {
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, (size_t)64 << 10);
        rc = pthread_create(&tid, &a, scavenger_main, h);
        /* Named here, before anyone can look, not by the thread itself: a test (or an
         * operator) that lists the process's threads right after the start must find it.
         * The thread never exits, so tid stays valid although it is detached. */
        if (rc == 0) pthread_setname_np(tid, "galloc-scav");
        pthread_attr_destroy(&a);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0) atomic_store(&N.noted, 1);
    atomic_store(&S.scav, rc == 0 ? SCAV_RUNNING : SCAV_INLINE);
    set_fast_limits();
    errno = saved;
}

/* Is the process big enough for scavenging to matter? (peak RSS against scavenge_start) */
static bool big_enough(void)
{
    if (!S.scav_start || child_restart) return true;
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 && (size_t)ru.ru_maxrss * 1024 >= S.scav_start;
}

/* From an allocation slow path (a safe place to start a thread). */
static GA_NOINLINE void scavenger_check_alloc(ga_heap *h)
{
    if (atomic_load(&S.scav) == SCAV_IDLE && big_enough()) scavenger_start(h);
}

/* A free happened and the scavenger does not know yet (or is not running). Every
 * FREE_TICK_MASK+1 frees of a thread: decide whether the scavenger is wanted, and while
 * no thread runs, return memory right here (only galloc locks are taken, and free is never
 * called with one of them held). */
static GA_NOINLINE void free_note_slow(ga_heap *h, int sc)
{
    if (sc == SCAV_RUNNING) {
        atomic_store_explicit(&N.noted, 1, memory_order_relaxed);
        return;
    }
    if (sc == SCAV_IDLE) {
        if (!big_enough()) return;
        if (atomic_compare_exchange_strong(&S.scav, &sc, SCAV_WANTED)) set_fast_limits();
        sc = SCAV_WANTED;
    }
    if ((sc == SCAV_WANTED || sc == SCAV_STARTING || sc == SCAV_INLINE) &&
        !atomic_exchange(&inline_busy, true)) {      /* one thread at a time does it */
        int saved = errno;
        if (S.verify) pthread_mutex_lock(&dbg_lock);
        ga_scavenge_policy(h);
        if (S.verify) pthread_mutex_unlock(&dbg_lock);
        atomic_store(&inline_busy, false);
        errno = saved;
    }
}

/* Inline part of the above: a running scavenger is told at once; otherwise only every
 * FREE_TICK_MASK+1-th free of a thread leaves the fast path. */
static inline void free_note(ga_heap *h)
{
    int sc = atomic_load_explicit(&S.scav, memory_order_relaxed);
    if (sc == SCAV_RUNNING || (++T.nfree & FREE_TICK_MASK) == 0) free_note_slow(h, sc);
}

/* ---- allocation ------------------------------------------------------------------------- */

/* 17..24 is the one range whose class (24) is not a multiple of 16. */
static inline size_t fix_small(size_t n) { return (n - 17 < 8) ? 32 : n; }

/* Everything the fast path does not handle: first call of the process or thread, requests
 * beyond the fast limits (huge, or large while the scavenger is not yet running), junk and
 * verify modes, alignment > 16. flags: MFLAGS, plus GA_ZERO for calloc. */
static GA_NOINLINE void *alloc_slow(size_t n, size_t align, unsigned flags)
{
    ga_heap *h = heap_get();
    if (GA_UNLIKELY(!h)) { errno = ENOMEM; return NULL; }
    if (align <= 16) {
        if (n < align) n = align;
        n = fix_small(n);
        align = 0;
    }
    if (n > S.cap || align > MAX_ALIGN || (align && n + align > S.cap)) {
        if (!PLANT(GM_PLANT_ENOMEM_NO_ERRNO)) errno = ENOMEM;
        return NULL;
    }
    ga_cache *c = thread_cache(h);
    int sc = atomic_load_explicit(&S.scav, memory_order_relaxed);
    if (GA_UNLIKELY(sc == SCAV_WANTED) && c) scavenger_start(h);
    void *p;
    if (S.verify) pthread_mutex_lock(&dbg_lock);
    if (GA_LIKELY(c != NULL)) {
        p = ga_alloc(c, n, align, flags);
    } else {
        pthread_mutex_lock(&fb_lock);
        p = ga_alloc(S.fallback, n, align, flags);
        pthread_mutex_unlock(&fb_lock);
    }
    if (S.verify) pthread_mutex_unlock(&dbg_lock);
    if (GA_UNLIKELY(!p)) return NULL;
    if (S.junk && !(flags & GA_ZERO)) memset(p, 0xa5, n);
    if (sc == SCAV_IDLE && (n > SMALL_CUTOFF || align > 4096)) {
        T.large += n + align;
        if (T.large >= LARGE_TICK) { T.large = 0; if (c) scavenger_check_alloc(h); }
    }
    return p;
}

static inline void *do_malloc(size_t n)
{
    if (PLANT(GM_PLANT_MALLOC0_NULL) && n == 0) return NULL;
    ga_cache *c = T.cache;
    if (GA_LIKELY(c != NULL) && GA_LIKELY(n <= atomic_load_explicit(&G.lim_malloc, memory_order_relaxed)))
    {
        void *v = ga_alloc_fast((ga_mcache *)c, fix_small(n), 0, MFLAGS);   /* inline: internal.h */
        return GA_LIKELY(v != NULL) ? v : ga_alloc(c, fix_small(n), 0, MFLAGS);
    }
    return alloc_slow(n, 0, MFLAGS);
}

static inline void *do_calloc(size_t a, size_t b)
{
    size_t n;
    if (GA_UNLIKELY(__builtin_mul_overflow(a, b, &n)) && !PLANT(GM_PLANT_CALLOC_OVERFLOW)) { errno = ENOMEM; return NULL; }
    unsigned zero = PLANT(GM_PLANT_CALLOC_LARGE_NOZERO) && n > SMALL_CUTOFF ? 0 : GA_ZERO;
    ga_cache *c = T.cache;
    if (GA_LIKELY(c != NULL) && GA_LIKELY(n <= atomic_load_explicit(&G.lim_calloc, memory_order_relaxed)))
        return ga_alloc(c, fix_small(n), 0, MFLAGS | zero);
    return alloc_slow(n, 0, MFLAGS | zero);
}

/* ---- free ------------------------------------------------------------------------------- */

/* Everything but the common case: no heap yet (nothing can be ours), no thread cache (being
 * set up, or already given back at thread exit), verify_on_free. */
static GA_NOINLINE void free_slow(void *p, const char *op)
{
    ga_heap *h = atomic_load_explicit(&G.heap, memory_order_acquire);
    if (!h) { T.err_what = "no allocation was ever made"; misuse(GA_ERR_NOT_OWNED, p, op); return; }
    int saved = errno;
    bool verify = atomic_load_explicit(&G.slow_free, memory_order_relaxed);
    if (verify) pthread_mutex_lock(&dbg_lock);
    T.op = op;
    ga_status st = ga_free(h, p);
    T.op = NULL;
    if (st != GA_OK) misuse(st, p, op);
    if (verify) {
        ga_object_info info;
        ga_report r;
        if (ga_lookup(h, p, &info) != GA_ERR_NOT_OWNED && ga_verify_span(h, p, &r) != 0)
            fatal("heap corruption found by verify_on_free after freeing", p, r.message);
        pthread_mutex_unlock(&dbg_lock);
    }
    if (!atomic_load_explicit(&N.noted, memory_order_relaxed)) free_note(h);
    errno = saved;
}

static inline void do_free(void *p, const char *op)
{
    if (GA_UNLIKELY(p == NULL)) return;
    ga_cache *c = T.cache;
    if (GA_UNLIKELY(c == NULL || atomic_load_explicit(&G.slow_free, memory_order_relaxed))) {
        free_slow(p, op);
        return;
    }
    /* The owner path: objects in spans this thread's cache holds are freed without
     * atomics; anything else goes straight to ga_free (what ga_free_local would do after
     * trying the same owner path a second time). */
    ga_mspan *s = ga_cache_span_of((ga_mcache *)c, (uintptr_t)p);   /* inline: internal.h */
    if (GA_UNLIKELY(s == NULL || !ga_free_owner_fast((ga_mcache *)c, s, p))) {
        T.op = op;
        ga_status st = ga_free_in_span(((ga_mcache *)c)->heap, s, p);
        T.op = NULL;
        if (GA_UNLIKELY(st != GA_OK)) misuse(st, p, op);
    }
    if (GA_UNLIKELY(!atomic_load_explicit(&N.noted, memory_order_relaxed)))
        free_note(atomic_load_explicit(&G.heap, memory_order_relaxed));
}

/* ---- realloc ----------------------------------------------------------------------------- */
static void *do_realloc(void *p, size_t n, const char *op)
{
    if (p == NULL) return do_malloc(n);
    if (n == 0) { do_free(p, op); return NULL; }    /* glibc: frees, returns NULL */
    ga_heap *h = atomic_load_explicit(&G.heap, memory_order_acquire);
    if (!h) { T.err_what = "no allocation was ever made"; misuse(GA_ERR_NOT_OWNED, p, op); return NULL; }
    ga_object_info info;
    ga_status st = ga_lookup(h, p, &info);
    if (st != GA_OK) { T.err_what = NULL; misuse(st, p, op); return NULL; }
    if (PLANT(GM_PLANT_REALLOC_FREED_SILENT) && !info.allocated) return do_malloc(n);
    if (!info.allocated) { T.err_what = "the block is not allocated (freed or pending free)"; misuse(GA_ERR_DOUBLE_FREE, p, op); return NULL; }
    if (info.tiny) { T.err_what = NULL; misuse(GA_ERR_TINY, p, op); return NULL; }
    size_t usable = info.usable;
    if (PLANT(GM_PLANT_REALLOC_GROW_INPLACE) && n > usable && n <= usable + 8) return p;
    /* Keep the block when it fits and would not waste more than half of it. */
    if (n <= usable && (n > usable / 2 || usable <= 64)) return p;
    void *q = do_malloc(n);
    if (!q) return NULL;                           /* errno ENOMEM; p untouched */
    size_t len = n < usable ? n : usable;
    if (PLANT(GM_PLANT_REALLOC_COPY_SHORT)) len &= ~(size_t)15;
    memcpy(q, p, len);
    do_free(p, op);
    return q;
}

/* ---- aligned ------------------------------------------------------------------------------ */
static inline bool pow2(size_t x) { return x && !(x & (x - 1)); }

static void *do_memalign(size_t align, size_t n)
{
    if (align <= 16) return do_malloc(n < align ? align : n);
    if (!pow2(align)) {
        if (align > SIZE_MAX / 2 + 1) { errno = EINVAL; return NULL; }
        size_t a = 32;
        while (a < align) a <<= 1;
        if (PLANT(GM_PLANT_MEMALIGN_ROUND_DOWN)) a >>= 1;
        align = a;
    }
    return alloc_slow(n, align, MFLAGS);
}

/* ---- the glibc API ------------------------------------------------------------------------- */
GA_EXPORT void *GA_API(malloc)(size_t n) { return do_malloc(n); }
GA_EXPORT void GA_API(free)(void *p) { do_free(p, "free"); }
GA_EXPORT void *GA_API(calloc)(size_t a, size_t b) { return do_calloc(a, b); }
GA_EXPORT void *GA_API(realloc)(void *p, size_t n) { return do_realloc(p, n, "realloc"); }

GA_EXPORT void *GA_API(reallocarray)(void *p, size_t a, size_t b)
{
    size_t n;
    if (__builtin_mul_overflow(a, b, &n) && !PLANT(GM_PLANT_REALLOCARRAY_OVERFLOW)) { errno = ENOMEM; return NULL; }
    return do_realloc(p, n, "reallocarray");
}

GA_EXPORT int GA_API(posix_memalign)(void **out, size_t align, size_t n)
{
    if (!pow2(align) || align % sizeof(void *) != 0) return EINVAL;
    int saved = errno;
    void *p = align <= (PLANT(GM_PLANT_ALIGN32_AS_MALLOC) ? 32 : 16) ? do_malloc(n < align ? align : n) : alloc_slow(n, align, MFLAGS);
    int e = errno;
    errno = saved;
    if (!p) return e == EINVAL ? EINVAL : ENOMEM;
    *out = p;
    return 0;
}

GA_EXPORT void *GA_API(aligned_alloc)(size_t align, size_t n)
{
    if (!pow2(align)) { errno = EINVAL; return NULL; }   /* C17 / glibc >= 2.38 */
    return align <= (PLANT(GM_PLANT_ALIGN32_AS_MALLOC) ? 32 : 16) ? do_malloc(n < align ? align : n) : alloc_slow(n, align, MFLAGS);
}

GA_EXPORT void *GA_API(memalign)(size_t align, size_t n) { return do_memalign(align, n); }

static size_t page_size(void)
{
    static _Atomic size_t ps;
    size_t v = atomic_load_explicit(&ps, memory_order_relaxed);
    if (!v) {
        long r = sysconf(_SC_PAGESIZE);
        v = r > 0 ? (size_t)r : 4096;
        atomic_store_explicit(&ps, v, memory_order_relaxed);
    }
    return v;
}

GA_EXPORT void *GA_API(valloc)(size_t n)
{
    if (PLANT(GM_PLANT_VALLOC_SWAPPED)) return do_memalign(n, page_size());
    return do_memalign(page_size(), n);
}

GA_EXPORT void *GA_API(pvalloc)(size_t n)
{
    size_t ps = page_size();
    if (n > SIZE_MAX - ps && !PLANT(GM_PLANT_PVALLOC_ROUND_OVERFLOW)) { errno = ENOMEM; return NULL; }
    n = n ? (n + ps - 1) & ~(ps - 1) : ps;
    return do_memalign(ps, n);
}

GA_EXPORT size_t GA_API(malloc_usable_size)(void *p)
{
    if (!p) return 0;
    ga_heap *h = atomic_load_explicit(&G.heap, memory_order_acquire);
    size_t u = h ? ga_usable_size(h, p) : 0;
    if (PLANT(GM_PLANT_USABLE_HEADER) && u > 512) u -= 8;
    return u;
}

GA_EXPORT void GA_API(free_sized)(void *p, size_t n)
{
    if (PLANT(GM_PLANT_FREE_SIZED_STRICT) && p && n != GA_API(malloc_usable_size)(p)) {
        T.err_what = "size does not match the block";
        misuse(GA_ERR_INTERIOR, p, "free_sized");
        return;
    }
    do_free(p, "free_sized");
}
GA_EXPORT void GA_API(free_aligned_sized)(void *p, size_t align, size_t n) { (void)align; (void)n; do_free(p, "free_aligned_sized"); }

#ifndef GA_MALLOC_PREFIX

/* glibc's own names, which some programs call directly. */
GA_EXPORT void *__libc_malloc(size_t n) { return do_malloc(n); }
GA_EXPORT void __libc_free(void *p) { do_free(p, "free"); }
GA_EXPORT void *__libc_calloc(size_t a, size_t b) { return do_calloc(a, b); }
GA_EXPORT void *__libc_realloc(void *p, size_t n) { return do_realloc(p, n, "realloc"); }
GA_EXPORT void *__libc_memalign(size_t align, size_t n) { return do_memalign(align, n); }
GA_EXPORT void *__libc_valloc(size_t n) { return do_memalign(page_size(), n); }
GA_EXPORT void *__libc_pvalloc(size_t n) { return pvalloc(n); }
#endif

/* ---- trimming, tuning, statistics ------------------------------------------------------------ */

/* Returns every free page to the OS (after sweeping pending frees); 1 if any was released. */
GA_EXPORT int GA_API(malloc_trim)(size_t pad)
{
    (void)pad;
    ga_heap *h = heap_get();
    if (!h) return 0;
    int saved = errno;
    if (S.verify) pthread_mutex_lock(&dbg_lock);
    if (T.cache) ga_cache_release(T.cache);
    ga_sweep(h, SIZE_MAX);
    size_t released = ga_scavenge(h, SIZE_MAX);
    if (S.verify) pthread_mutex_unlock(&dbg_lock);
    errno = saved;
    return released > 0;
}

/* Accepts glibc's parameters (and ignores them: galloc has no arenas, thresholds or top
 * pad); 0 for an unknown one, as glibc. */
GA_EXPORT int GA_API(mallopt)(int param, int value)
{
    (void)value;
    switch (param) {
    case M_MXFAST: case M_TRIM_THRESHOLD: case M_TOP_PAD: case M_MMAP_THRESHOLD:
    case M_MMAP_MAX: case M_CHECK_ACTION: case M_PERTURB: case M_ARENA_TEST: case M_ARENA_MAX:
        return 1;
    default:
        return 0;
    }
}
#ifndef GA_MALLOC_PREFIX
GA_EXPORT int __libc_mallopt(int param, int value) { return mallopt(param, value); }
#endif

/* mallinfo2 in galloc terms:
 *   arena    bytes of heap memory mapped and not released (in-use spans + free pages kept)
 *   ordblks  in-use spans             smblks  0
 *   hblks    live large objects       hblkhd  bytes of their spans
 *   usmblks  0                        fsmblks 0
 *   uordblks bytes in allocated objects (slot sizes)
 *   fordblks arena - uordblks (free slots and free pages kept)
 *   keepcost free pages kept (what malloc_trim would release) */
GA_EXPORT struct mallinfo2 GA_API(mallinfo2)(void)
{
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof mi);
    ga_heap *h = heap_get();
    if (!h) return mi;
    ga_stats st;
    ga_read_stats(h, &st);
    size_t kept = (size_t)(st.heap_sys - st.heap_released);
    mi.arena = kept;
    mi.ordblks = (size_t)st.spans_inuse;
    mi.hblks = (size_t)(st.large_alloc_count - st.large_free_count);
    mi.hblkhd = (size_t)(st.large_alloc - st.large_free);
    mi.uordblks = (size_t)st.heap_alloc;
    mi.fordblks = kept > mi.uordblks ? kept - mi.uordblks : 0;
    mi.keepcost = (size_t)(st.heap_idle - st.heap_released);
    return mi;
}

static int clamp_int(size_t v) { return v > INT32_MAX ? INT32_MAX : (int)v; }

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
GA_EXPORT struct mallinfo GA_API(mallinfo)(void)
{
    struct mallinfo2 m2 = GA_API(mallinfo2)();
    struct mallinfo mi;
    mi.arena = clamp_int(m2.arena);
    mi.ordblks = clamp_int(m2.ordblks);
    mi.smblks = clamp_int(m2.smblks);
    mi.hblks = clamp_int(m2.hblks);
    mi.hblkhd = clamp_int(m2.hblkhd);
    mi.usmblks = clamp_int(m2.usmblks);
    mi.fsmblks = clamp_int(m2.fsmblks);
    mi.uordblks = clamp_int(m2.uordblks);
    mi.fordblks = clamp_int(m2.fordblks);
    mi.keepcost = clamp_int(m2.keepcost);
    return mi;
}
#ifndef GA_MALLOC_PREFIX
GA_EXPORT struct mallinfo __libc_mallinfo(void) { return mallinfo(); }
#endif
#pragma GCC diagnostic pop

static void stat_line(line_t *l, const char *name, unsigned long long v)
{
    l_str(l, name);
    l_str(l, " = ");
    l_decw(l, v, 14);
    l_str(l, "\n");
}

/* malloc_stats-style report on stderr (also GALLOC_OPTIONS=stats=1 at exit). */
static void print_stats(void)
{
    ga_heap *h = atomic_load(&G.heap);
    if (!h) return;
    ga_stats st;
    ga_read_stats(h, &st);
    line_t l = { .n = 0 };
    l_str(&l, "galloc heap:\n");
    stat_line(&l, "system bytes     ", st.sys);
    stat_line(&l, "heap mapped bytes", st.heap_sys);
    stat_line(&l, "heap in-use bytes", st.heap_inuse);
    l_write(&l);
    stat_line(&l, "in use bytes     ", st.heap_alloc);
    stat_line(&l, "idle bytes       ", st.heap_idle);
    stat_line(&l, "released bytes   ", st.heap_released);
    stat_line(&l, "metadata bytes   ", st.meta_sys);
    l_write(&l);
    stat_line(&l, "live objects     ", st.heap_objects);
    stat_line(&l, "mallocs          ", st.mallocs);
    stat_line(&l, "frees            ", st.frees);
    stat_line(&l, "large objects    ", st.large_alloc_count - st.large_free_count);
    stat_line(&l, "large bytes      ", st.large_alloc - st.large_free);
    stat_line(&l, "in-use spans     ", st.spans_inuse);
    l_write(&l);
}

GA_EXPORT void GA_API(malloc_stats)(void)
{
    int saved = errno;
    if (heap_get()) print_stats();
    errno = saved;
}

GA_EXPORT int GA_API(malloc_info)(int options, FILE *fp)
{
    if (options != 0) { errno = EINVAL; return -1; }
    ga_heap *h = heap_get();
    if (!h) return -1;
    ga_stats st;
    ga_read_stats(h, &st);
    fprintf(fp, "<malloc version=\"galloc-1\">\n<heaps nr=\"1\">\n<heap nr=\"0\">\n<sizes>\n");
    for (unsigned c = 1; c < GA_NUM_SIZE_CLASSES; c++) {
        uint64_t live = st.by_size[c].mallocs - st.by_size[c].frees;
        if (st.by_size[c].mallocs)
            fprintf(fp, "  <size from=\"%llu\" to=\"%llu\" total=\"%llu\" count=\"%llu\"/>\n",
                    (unsigned long long)st.by_size[c].size, (unsigned long long)st.by_size[c].size,
                    (unsigned long long)(live * st.by_size[c].size), (unsigned long long)live);
    }
    fprintf(fp, "</sizes>\n<total type=\"mmap\" count=\"%llu\" size=\"%llu\"/>\n"
                "<system type=\"current\" size=\"%llu\"/>\n<system type=\"max\" size=\"%llu\"/>\n"
                "<aspace type=\"total\" size=\"%llu\"/>\n<aspace type=\"mprotect\" size=\"%llu\"/>\n"
                "</heap>\n</heaps>\n</malloc>\n",
            (unsigned long long)(st.large_alloc_count - st.large_free_count),
            (unsigned long long)(st.large_alloc - st.large_free),
            (unsigned long long)(st.heap_sys - st.heap_released), (unsigned long long)st.sys,
            (unsigned long long)st.heap_sys, (unsigned long long)st.heap_sys);
    return 0;
}

/* The heap (and the fork handlers) exist by the time constructors run, even in a program
 * that has not allocated yet: registering the fork handlers before other libraries do
 * makes galloc's prepare handler run after theirs, which may still allocate. */
#ifndef GA_MALLOC_PREFIX
__attribute__((constructor)) static void galloc_init(void)
{
    heap_get();
}
#endif

__attribute__((destructor)) static void galloc_exit(void)
{
    if (S.stats) print_stats();
}
