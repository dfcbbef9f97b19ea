/*
 * mt.c — multi-threaded op programs (mt.h): the executor under the controlled scheduler,
 * its shared object table and checks, the generator.
 *
 * Owns: one mt_exec per run (heap, scheduler, object table, world lock, first finding).
 * Invariants: the table and the world lock are touched only by the logical thread holding
 * the baton (or by the controller before/after the run), so no lock guards them; an object
 * is LIVE (in the table, anyone may claim it), CLAIMED (a thread is freeing it: a GC marks
 * it, nobody else picks it) or gone; a GC op kills (drops) every LIVE object the keep hash
 * does not keep, at mark time, so no later op picks a dead object; the first finding wins
 * and makes every thread stop after its current op; addresses are the same in every run of
 * the same program and schedule (fixed arena hints, one thread at a time).
 * Calls: gsched.h (scheduler), galloc.h.
 */
#include "mt.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *KIND[MT_NKINDS] = { "malloc", "free", "free-other", "free-local", "gc", "sweep",
                                       "release", "scavenge", "verify" };
const char *mt_kind_name(unsigned k) { return k < MT_NKINDS ? KIND[k] : "?"; }

void mt_prog_free(mt_prog *p)
{
    for (unsigned i = 0; i < GS_MAX_THREADS; i++) free(p->ops[i]);
    free(p->sched);
    memset(p, 0, sizeof *p);
}

int mt_push_op(mt_prog *p, unsigned tid, const mt_op *op)
{
    if (tid >= GS_MAX_THREADS) return -1;
    size_t n = p->nops[tid];
    if ((n & (n - 1)) == 0 || n == 0) {          /* capacity: powers of two */
        size_t cap = n ? n * 2 : 8;
        mt_op *x = realloc(p->ops[tid], cap * sizeof *x);
        if (!x) return -1;
        p->ops[tid] = x;
    }
    p->ops[tid][n] = *op;
    p->nops[tid] = n + 1;
    if (tid + 1 > p->nthreads) p->nthreads = tid + 1;
    return 0;
}

int mt_set_sched(mt_prog *p, const uint8_t *d, size_t n)
{
    uint8_t *x = n ? malloc(n) : NULL;
    if (n && !x) return -1;
    if (n) memcpy(x, d, n);
    free(p->sched);
    p->sched = x;
    p->nsched = n;
    return 0;
}

int mt_prog_copy(mt_prog *dst, const mt_prog *src)
{
    memset(dst, 0, sizeof *dst);
    dst->nthreads = src->nthreads;
    for (unsigned t = 0; t < src->nthreads; t++)
        for (size_t i = 0; i < src->nops[t]; i++)
            if (mt_push_op(dst, t, &src->ops[t][i]) != 0) { mt_prog_free(dst); return -1; }
    dst->nthreads = src->nthreads;
    if (mt_set_sched(dst, src->sched, src->nsched) != 0) { mt_prog_free(dst); return -1; }
    return 0;
}

/* ---- the executor ---- */
enum { OBJ_LIVE = 0, OBJ_CLAIMED = 1 };
enum { CAT_FREE = 0, CAT_SHARED, CAT_GC, CAT_QUIET };

typedef struct mt_obj {
    uintptr_t addr;
    size_t size;
    uint64_t id;
    unsigned owner;
    int state;
} mt_obj;

typedef struct mt_exec {
    const mt_prog *p;
    const mt_options *o;
    ga_heap *h;
    gs_sched *s;
    mt_obj *objs;
    size_t nobj, capobj;
    uint64_t next_id;
    unsigned inside[4];          /* threads inside an op of each category */
    bool stop;
    mt_finding *f;
    size_t cur_op[GS_MAX_THREADS];   /* each thread's current op */
    bool final;                      /* the controller's final check */
    char world;                  /* the world lock's address is the resource */
} mt_exec;

static void finding(mt_exec *x, const char *what, const char *inv, const char *fmt, ...)
{
    if (x->f->found) return;
    x->f->found = true;
    snprintf(x->f->what, sizeof x->f->what, "%s", what);
    snprintf(x->f->invariant, sizeof x->f->invariant, "%s", inv ? inv : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->f->message, sizeof x->f->message, fmt, ap);
    va_end(ap);
    x->f->tid = x->final ? -1 : (int)gs_self(x->s);
    x->f->op = x->final ? 0 : x->cur_op[gs_self(x->s)];
    x->f->decision = x->s ? gs_steps(x->s) : 0;
    x->stop = true;
}

static void on_misuse(void *ctx, ga_status st, const void *p, const char *what)
{
    mt_exec *x = ctx;
    finding(x, "misuse", NULL, "the heap reported %s at %p: %s", ga_status_name(st), p, what);
}

static uint8_t pat(uint64_t id, size_t k) { return (uint8_t)(id * 131u + k * 7u + 1u); }
static size_t span_of_check(size_t size) { return size < 64 ? size : 64; }

static void fill(uintptr_t a, size_t size, uint64_t id)
{
    unsigned char *b = (unsigned char *)a;
    size_t n = span_of_check(size);
    for (size_t k = 0; k < n; k++) b[k] = pat(id, k);
    if (size >= 128)                       /* head and tail apart: the last 64 bytes too */
        for (size_t k = 0; k < n; k++) b[size - 1 - k] = pat(id, k + 64);
}

static bool intact(uintptr_t a, size_t size, uint64_t id)
{
    const unsigned char *b = (const unsigned char *)a;
    size_t n = span_of_check(size);
    if (size >= 128)
        for (size_t k = 0; k < n; k++)
            if (b[size - 1 - k] != pat(id, k + 64)) return false;
    for (size_t k = 0; k < n; k++)
        if (b[k] != pat(id, k)) return false;
    return true;
}

/* k-th LIVE object matching the filter (mine: allocated by tid; others: by another). */
enum { PICK_ANY, PICK_MINE, PICK_OTHERS };
static long pick(mt_exec *x, unsigned tid, int which, uint16_t k)
{
    size_t n = 0;
    for (size_t i = 0; i < x->nobj; i++) {
        const mt_obj *o = &x->objs[i];
        if (o->state != OBJ_LIVE) continue;
        if ((which == PICK_MINE && o->owner != tid) || (which == PICK_OTHERS && o->owner == tid)) continue;
        n++;
    }
    if (n == 0) return -1;
    size_t want = k % n;
    for (size_t i = 0; i < x->nobj; i++) {
        const mt_obj *o = &x->objs[i];
        if (o->state != OBJ_LIVE) continue;
        if ((which == PICK_MINE && o->owner != tid) || (which == PICK_OTHERS && o->owner == tid)) continue;
        if (want-- == 0) return (long)i;
    }
    return -1;
}

static void drop(mt_exec *x, size_t i)
{
    memmove(&x->objs[i], &x->objs[i + 1], (x->nobj - i - 1) * sizeof x->objs[0]);
    x->nobj--;
}

static long find_id(mt_exec *x, uint64_t id)
{
    for (size_t i = 0; i < x->nobj; i++)
        if (x->objs[i].id == id) return (long)i;
    return -1;
}

static bool allowed(const mt_exec *x, int cat)
{
    switch (cat) {
    case CAT_FREE: return !x->inside[CAT_QUIET];
    case CAT_SHARED: return !x->inside[CAT_QUIET] && !x->inside[CAT_GC];
    case CAT_GC: return !x->inside[CAT_QUIET] && !x->inside[CAT_GC] && !x->inside[CAT_SHARED];
    default: return !x->inside[CAT_QUIET] && !x->inside[CAT_GC] && !x->inside[CAT_SHARED] && !x->inside[CAT_FREE];
    }
}
static void world_enter(mt_exec *x, int cat)
{
    while (!allowed(x, cat)) gs_block(x->s, "mt.world", &x->world);
    x->inside[cat]++;
}
static void world_exit(mt_exec *x, int cat)
{
    x->inside[cat]--;
    gs_wake(x->s, &x->world);
}

static int cmp_obj(const void *a, const void *b)
{
    const mt_obj *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The quiescent check: ga_verify, every object allocated per ga_lookup, intact, no overlap. */
static void full_check(mt_exec *x)
{
    ga_report r;
    if (ga_verify(x->h, &r) != 0) {
        finding(x, "verify", r.invariant, "ga_verify %s: %s", r.invariant, r.message);
        return;
    }
    for (size_t i = 0; i < x->nobj; i++) {
        const mt_obj *o = &x->objs[i];
        ga_object_info info;
        if (ga_lookup(x->h, (void *)o->addr, &info) != GA_OK || !info.allocated || info.object != o->addr) {
            finding(x, "lookup", NULL, "object %llu at %#lx (%zu bytes, thread %u) is not an allocated object (allocated %d)",
                    (unsigned long long)o->id, (unsigned long)o->addr, o->size, o->owner, (int)info.allocated);
            return;
        }
        if (!intact(o->addr, o->size, o->id)) {
            finding(x, "content", NULL, "object %llu at %#lx (%zu bytes, thread %u) lost its contents",
                    (unsigned long long)o->id, (unsigned long)o->addr, o->size, o->owner);
            return;
        }
    }
    mt_obj *v = malloc((x->nobj + 1) * sizeof *v);
    if (!v) return;
    memcpy(v, x->objs, x->nobj * sizeof *v);
    qsort(v, x->nobj, sizeof *v, cmp_obj);
    for (size_t i = 1; i < x->nobj; i++)
        if (v[i - 1].addr + v[i - 1].size > v[i].addr) {
            finding(x, "overlap", NULL, "objects %llu (%#lx, %zu bytes) and %llu (%#lx) overlap",
                    (unsigned long long)v[i - 1].id, (unsigned long)v[i - 1].addr, v[i - 1].size,
                    (unsigned long long)v[i].id, (unsigned long)v[i].addr);
            break;
        }
    free(v);
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void do_free(mt_exec *x, unsigned tid, ga_cache *c, int which, const mt_op *op, bool local)
{
    long i = pick(x, tid, which, op->obj);
    if (i < 0) return;
    x->objs[i].state = OBJ_CLAIMED;
    mt_obj o = x->objs[i];
    if (!intact(o.addr, o.size, o.id))
        finding(x, "content", NULL, "object %llu at %#lx (%zu bytes, thread %u) lost its contents before its free",
                (unsigned long long)o.id, (unsigned long)o.addr, o.size, o.owner);
    world_enter(x, local ? CAT_SHARED : CAT_FREE);
    ga_status st = local ? ga_free_local(c, (void *)o.addr) : ga_free(x->h, (void *)o.addr);
    world_exit(x, local ? CAT_SHARED : CAT_FREE);
    if (st != GA_OK)
        finding(x, "status", NULL, "%s of live object %llu at %#lx (%zu bytes, thread %u): %s",
                local ? "ga_free_local" : "ga_free", (unsigned long long)o.id, (unsigned long)o.addr, o.size, o.owner,
                ga_status_name(st));
    long j = find_id(x, o.id);
    if (j >= 0) drop(x, (size_t)j);
}

static void do_gc(mt_exec *x, const mt_op *op)
{
    world_enter(x, CAT_GC);
    ga_gc_begin(x->h);
    gs_point(x->s, "mt.gc.mark", x->h);
    for (size_t i = 0; i < x->nobj;) {
        mt_obj *o = &x->objs[i];
        if (o->state == OBJ_CLAIMED) {           /* being freed: its pointer is still held */
            ga_gc_mark(x->h, (void *)o->addr);
            i++;
            continue;
        }
        if (mix(o->id * 0x9e3779b97f4a7c15ull + op->b) % 100 < op->a) {
            if (!ga_gc_mark(x->h, (void *)o->addr)) {
                finding(x, "status", NULL, "ga_gc_mark of live object %llu at %#lx returned false",
                        (unsigned long long)o->id, (unsigned long)o->addr);
                break;
            }
            i++;
        } else {
            drop(x, i);                          /* dies at ga_gc_end */
        }
    }
    gs_point(x->s, "mt.gc.end", x->h);
    ga_gc_end(x->h);
    world_exit(x, CAT_GC);
    /* A free racing with the cycle may have left a span where the next allocation of its
     * class hides the damage (a swept list holding an unswept span is popped as swept, its
     * dead objects leak until the next cycle): check the heap as soon as those frees are
     * done, before anything else can run. */
    world_enter(x, CAT_QUIET);
    full_check(x);
    world_exit(x, CAT_QUIET);
    if (op->flags & 1) {
        world_enter(x, CAT_SHARED);
        ga_sweep(x->h, SIZE_MAX);
        world_exit(x, CAT_SHARED);
    }
}

static void run_op(mt_exec *x, unsigned tid, ga_cache *c, const mt_op *op)
{
    switch (op->kind) {
    case MT_MALLOC: {
        size_t size = op->a ? op->a : 1;
        world_enter(x, CAT_SHARED);
        void *p = ga_alloc(c, size, 0, GA_NOTINY | ((op->flags & 1) ? 0 : GA_NOSCAN));
        world_exit(x, CAT_SHARED);
        if (!p) { finding(x, "status", NULL, "ga_alloc(%zu) failed", size); return; }
        uintptr_t a = (uintptr_t)p;
        for (size_t i = 0; i < x->nobj; i++) {
            const mt_obj *o = &x->objs[i];
            /* an object being freed may have published its free already: its slot may
             * legitimately be swept and handed out before that free returns */
            if (o->state == OBJ_CLAIMED) continue;
            if (a < o->addr + o->size && o->addr < a + size) {
                finding(x, "overlap", NULL, "new object at %#lx (%zu bytes, thread %u) overlaps live object %llu at %#lx (%zu bytes, thread %u)",
                        (unsigned long)a, size, tid, (unsigned long long)o->id, (unsigned long)o->addr, o->size, o->owner);
                return;
            }
        }
        ga_object_info info;
        if (ga_lookup(x->h, p, &info) != GA_OK || !info.allocated || info.usable < size) {
            finding(x, "lookup", NULL, "new object at %#lx (%zu bytes) is not allocated per ga_lookup", (unsigned long)a, size);
            return;
        }
        if (x->nobj == x->capobj) {
            size_t nc = x->capobj ? x->capobj * 2 : 64;
            mt_obj *v = realloc(x->objs, nc * sizeof *v);
            if (!v) abort();
            x->objs = v;
            x->capobj = nc;
        }
        mt_obj *o = &x->objs[x->nobj++];
        o->addr = a;
        o->size = size;
        o->id = ++x->next_id;
        o->owner = tid;
        o->state = OBJ_LIVE;
        fill(a, size, o->id);
        break;
    }
    case MT_FREE: do_free(x, tid, c, PICK_ANY, op, false); break;
    case MT_FREE_OTHER: do_free(x, tid, c, PICK_OTHERS, op, false); break;
    case MT_FREE_LOCAL: do_free(x, tid, c, PICK_MINE, op, true); break;
    case MT_GC: do_gc(x, op); break;
    case MT_SWEEP:
        world_enter(x, CAT_SHARED);
        ga_sweep(x->h, op->a ? op->a : SIZE_MAX);
        world_exit(x, CAT_SHARED);
        break;
    case MT_RELEASE:
        world_enter(x, CAT_SHARED);
        ga_cache_release(c);
        world_exit(x, CAT_SHARED);
        break;
    case MT_SCAVENGE:
        world_enter(x, CAT_SHARED);
        if (op->flags & 1) ga_scavenge_policy(x->h);
        else ga_scavenge(x->h, SIZE_MAX);
        world_exit(x, CAT_SHARED);
        break;
    case MT_VERIFY:
        world_enter(x, CAT_QUIET);
        full_check(x);
        world_exit(x, CAT_QUIET);
        break;
    default:
        break;
    }
}

static void body(void *arg, unsigned tid)
{
    mt_exec *x = arg;
    gs_set_tag(x->s, MT_TAG_START);
    world_enter(x, CAT_SHARED);
    ga_cache *c = ga_cache_new(x->h);
    world_exit(x, CAT_SHARED);
    if (!c) { finding(x, "status", NULL, "ga_cache_new failed"); return; }
    for (size_t i = 0; i < x->p->nops[tid] && !x->stop; i++) {
        gs_set_tag(x->s, (uint32_t)i);
        gs_point(x->s, "mt.op", NULL);
        if (x->stop) break;
        x->cur_op[tid] = i;
        const mt_op *op = &x->p->ops[tid][i];
        if (x->o->trace)
            fprintf(x->o->trace, "[%zu] t%u op %zu: %s obj=%u a=%u b=%u flags=%u\n", gs_steps(x->s), tid, i,
                    mt_kind_name(op->kind), op->obj, op->a, op->b, op->flags);
        run_op(x, tid, c, op);
    }
    gs_set_tag(x->s, MT_TAG_END);
    world_enter(x, CAT_SHARED);
    ga_cache_destroy(c);
    world_exit(x, CAT_SHARED);
}

int mt_run(const mt_prog *p, const mt_options *o, mt_finding *f, mt_result *res)
{
    memset(f, 0, sizeof *f);
    f->tid = -1;
    if (res) memset(res, 0, sizeof *res);
    if (p->nthreads == 0 || p->nthreads > GS_MAX_THREADS) {
        snprintf(f->message, sizeof f->message, "a program needs 1..%d threads", GS_MAX_THREADS);
        return -1;
    }
    mt_exec x;
    memset(&x, 0, sizeof x);
    x.p = p;
    x.o = o;
    x.f = f;
    ga_heap_options ho;
    memset(&ho, 0, sizeof ho);
    ho.plant = o->plant;
    x.h = ga_heap_new(&ho);
    if (!x.h) { snprintf(f->message, sizeof f->message, "ga_heap_new failed"); return -1; }
    ga_set_error_handler(x.h, on_misuse, &x);
    gs_config cfg = o->sched;
    if (cfg.strategy == GS_REPLAY) {
        cfg.replay = p->sched;
        cfg.nreplay = p->nsched;
    }
    x.s = gs_new(p->nthreads, &cfg);
    if (!x.s) { ga_heap_destroy(x.h); snprintf(f->message, sizeof f->message, "gs_new failed"); return -1; }
    gs_attach(x.s, x.h);
    gs_result gr = gs_run(x.s, body, &x);
    x.final = true;
    if (gr == GS_DEADLOCK || gr == GS_LIVELOCK) {
        char buf[300];
        size_t k = 0;
        for (unsigned t = 0; t < p->nthreads && k < sizeof buf; t++)
            k += (size_t)snprintf(buf + k, sizeof buf - k, " t%u@%s", t, gs_last_point(x.s, t));
        finding(&x, gr == GS_DEADLOCK ? "deadlock" : "livelock", NULL, "no thread can run:%s", buf);
    } else if (!f->found) {
        full_check(&x);
        if (!f->found) {
            /* every object the GC ops killed must be reclaimed by a full sweep: the heap then
             * holds exactly the table's objects (no tiny objects: GA_NOTINY everywhere) */
            ga_sweep(x.h, SIZE_MAX);
            ga_stats st;
            ga_read_stats(x.h, &st);
            if (st.heap_objects != x.nobj)
                finding(&x, "leak", NULL, "after a full sweep the heap holds %llu objects, the program %zu (objects a GC "
                        "cycle killed were never reclaimed, or live ones were)", (unsigned long long)st.heap_objects, x.nobj);
        }
    }
    if (res) {
        size_t n;
        const uint8_t *d = gs_decisions(x.s, &n);
        if (f->found && f->decision + 1 < n) n = f->decision + 1;
        res->sched = gr;
        res->steps = gs_steps(x.s);
        res->ndecisions = n;
        res->switches = gs_count_switches(d, n);
        res->decisions = n ? malloc(n) : NULL;
        if (res->decisions) memcpy(res->decisions, d, n);
        res->tags = n ? malloc(n * sizeof *res->tags) : NULL;
        if (res->tags) memcpy(res->tags, gs_tags(x.s), n * sizeof *res->tags);
    }
    if (gr == GS_DEADLOCK || gr == GS_LIVELOCK) {
        /* threads are parked inside the heap holding its locks: leak both on purpose */
        gs_free(x.s);
        free(x.objs);
        return 1;
    }
    gs_detach(x.h);
    gs_free(x.s);
    ga_heap_destroy(x.h);
    free(x.objs);
    return f->found ? 1 : 0;
}

bool mt_same_signature(const mt_finding *a, const mt_finding *b)
{
    return a->found == b->found && strcmp(a->what, b->what) == 0 && strcmp(a->invariant, b->invariant) == 0;
}

bool mt_same_finding(const mt_finding *a, const mt_finding *b)
{
    return mt_same_signature(a, b) && a->tid == b->tid && a->op == b->op && a->decision == b->decision &&
           strcmp(a->message, b->message) == 0;
}

void mt_print_finding(FILE *out, const mt_finding *f, const char *source)
{
    if (!f->found) { fprintf(out, "%s: clean\n", source); return; }
    fprintf(out, "FINDING: check %s%s%s in %s: ", f->what, f->invariant[0] ? " " : "", f->invariant, source);
    if (f->tid >= 0) fprintf(out, "thread %d op %zu, ", f->tid, f->op);
    else fprintf(out, "final check, ");
    fprintf(out, "decision %zu\n  %s\n", f->decision, f->message);
}

/* ---- generator ---- */
int mt_generate(uint64_t seed, unsigned nthreads, size_t nops, mt_prog *out)
{
    static const uint32_t SIZES[] = { 8, 16, 24, 32, 48, 64, 64, 48, 128, 256, 1024, 3000, 9000, 40000 };
    memset(out, 0, sizeof *out);
    uint64_t z = seed * 0x9e3779b97f4a7c15ull + 77;
    for (unsigned t = 0; t < nthreads; t++) {
        for (size_t i = 0; i < nops; i++) {
            z += 0x9e3779b97f4a7c15ull;
            uint64_t r = mix(z);
            unsigned w = (unsigned)(r % 100);
            mt_op op = { 0 };
            op.obj = (uint16_t)(r >> 16);
            if (w < 36) { op.kind = MT_MALLOC; op.a = SIZES[(r >> 32) % (sizeof SIZES / sizeof SIZES[0])]; op.flags = (r >> 40) % 4 == 0; }
            else if (w < 58) op.kind = MT_FREE_OTHER;
            else if (w < 68) op.kind = MT_FREE;
            else if (w < 76) op.kind = MT_FREE_LOCAL;
            else if (w < 81) { op.kind = MT_GC; op.a = (uint32_t)(30 + (r >> 32) % 71); op.b = (uint32_t)((r >> 40) & 255); op.flags = (r >> 48) % 3 == 0; }
            else if (w < 86) { op.kind = MT_SWEEP; op.a = (uint32_t)((r >> 32) % 4); }
            else if (w < 93) op.kind = MT_RELEASE;
            else if (w < 95) { op.kind = MT_SCAVENGE; op.flags = (r >> 32) & 1; }
            else op.kind = MT_VERIFY;
            if (op.kind != MT_FREE && op.kind != MT_FREE_OTHER && op.kind != MT_FREE_LOCAL) op.obj = 0;   /* canonical */
            if (mt_push_op(out, t, &op) != 0) { mt_prog_free(out); return -1; }
        }
    }
    out->nthreads = nthreads;
    return 0;
}
