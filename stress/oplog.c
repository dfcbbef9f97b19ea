/*
 * oplog.c — what galloc-stress remembers of the ops it ran, and the reproducer it writes.
 *
 * Owns: the per-thread op ring (last RING_N ops, printed with a finding), the per-thread
 * epoch log (every allocation, free, cache release and cache destruction since the heap
 * was created, each with a global atomic sequence number and the object's id), and the
 * merge that turns those logs into one galloc op sequence (harness.h, "galloc-ops 1"):
 * records are merged by sequence number — a serialized interleaving that respects every
 * hand-off, since an allocation takes its number after ga_alloc returns and before the
 * object is published, and a free takes its number before ga_free — and each thread's
 * ops run on its own simulated P (`cache N`, N = thread slot mod 8).
 *
 * The replay model names objects by their position among live objects, so the merge
 * simulates galloc-replay's live list (a Fenwick tree over replay ids, allocation order)
 * and its caps (max_live 4096 objects, the live-bytes budget): an object the executor
 * would skip is left out of the sequence together with its free, and counted. GC cycles,
 * verifications, cache releases and scavenges done by the coordinator are appended
 * directly while every worker is parked (after merge_advance, so the order holds).
 *
 * The merge runs incrementally at every stop-the-world point, so the logs stay small and
 * a GC cycle can ask for an object's replay id (its keep/kill decision uses the same hash
 * as the executor's `gc keep=P seed=S`).
 */
#include "stress.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_MAX_LIVE 4096u      /* gh_options.max_live default in galloc-replay */
#define RID_OMIT UINT32_MAX

/* ---- ring ---------------------------------------------------------------------------- */
void ring_add(tctx *t, uint8_t kind, uint64_t seq, uint64_t id, const void *p, uint32_t size, uint8_t flags, unsigned align_log)
{
    unsigned pos = atomic_load_explicit(&t->ring_pos, memory_order_relaxed);
    ringent *e = &t->ring[pos % RING_N];
    e->seq = seq;
    e->id = id;
    e->p = (uintptr_t)p;
    e->size = size;
    e->kind = kind;
    e->flags = flags;
    e->align_log = (uint16_t)align_log;
    /* release: a reader that loads ring_pos with acquire (a finding report from another
     * thread, e.g. the watchdog's) sees every entry before it */
    atomic_store_explicit(&t->ring_pos, pos + 1, memory_order_release);
}

const char *lkind_name(int k)
{
    static const char *const n[LK_NKINDS] = { "?", "alloc", "free", "check", "rewrite", "release", "destroy-cache", "gc-reclaimed" };
    return k > 0 && k < LK_NKINDS ? n[k] : "?";
}

void print_rings(FILE *out)
{
    int n = G.cfg.threads + 1;
    for (int s = 0; s < n; s++) {
        tctx *t = &G.t[s];
        unsigned pos = atomic_load_explicit(&t->ring_pos, memory_order_acquire);
        if (!pos) continue;
        unsigned cnt = pos < 12 ? pos : 12;
        fprintf(out, "  thread %d%s (last profile %s), last %u of %u ops:\n", s, s == G.cfg.threads ? " (coordinator)" : "",
                st_profile_name(atomic_load(&t->cur_profile)), cnt, pos);
        for (unsigned k = pos - cnt; k != pos; k++) {
            const ringent *e = &t->ring[k % RING_N];
            fprintf(out, "    seq %-10" PRIu64 " %-13s", e->seq, lkind_name(e->kind));
            if (e->kind == LK_ALLOC || e->kind == LK_FREE || e->kind == LK_REWRITE || e->kind == LK_CHECK || e->kind == LK_GCDEAD)
                fprintf(out, " #%" PRIu64 " at %#" PRIxPTR ", %u bytes", e->id, e->p, e->size);
            if (e->kind == LK_ALLOC) {
                fprintf(out, " flags %#x", e->flags);
                if (e->align_log) fprintf(out, " align %u", 1u << e->align_log);
            }
            if (e->kind == LK_FREE && e->flags) fprintf(out, " (another thread's object)");
            fputc('\n', out);
        }
    }
}

/* ---- epoch log --------------------------------------------------------------------------- */
int log_add(tctx *t, uint8_t kind, uint64_t seq, uint64_t id, uint32_t size, uint8_t flags, unsigned align_log)
{
    oplog *l = &t->log;
    size_t n = atomic_load_explicit(&l->n, memory_order_relaxed);
    size_t c = n / LOG_CHUNK;
    if (c == l->nchunks) {
        if (l->nchunks == l->capchunks) {
            size_t nc = l->capchunks ? l->capchunks * 2 : 16;
            lrec **v = realloc(l->chunks, nc * sizeof *v);
            if (!v) goto oom;
            l->chunks = v;
            l->capchunks = nc;
        }
        l->chunks[l->nchunks] = malloc(LOG_CHUNK * sizeof(lrec));
        if (!l->chunks[l->nchunks]) goto oom;
        l->nchunks++;
    }
    lrec *r = &l->chunks[c][n % LOG_CHUNK];
    r->seq = seq;
    r->id = id;
    r->size = size;
    r->kind = kind;
    r->flags = flags;
    r->align_log = (uint8_t)align_log;
    r->pad = 0;
    atomic_store_explicit(&l->n, n + 1, memory_order_release);
    return 0;
oom:
    st_fail(t, "log-oom", NULL, "out of memory for the op log (use a smaller --epoch-ops)");
    return -1;
}

void log_reset(tctx *t)
{
    oplog *l = &t->log;
    /* keep one chunk for the next epoch, give the rest back */
    for (size_t c = 1; c < l->nchunks; c++) free(l->chunks[c]);
    if (l->nchunks > 1) l->nchunks = 1;
    atomic_store(&l->n, 0);
}

size_t log_total(void)
{
    size_t s = 0;
    for (int i = 0; i <= G.cfg.threads; i++) s += atomic_load_explicit(&G.t[i].log.n, memory_order_relaxed);
    return s;
}

/* ---- merge and replay simulation ------------------------------------------------------ */
static struct {
    gh_seq seq;
    int cur_cache;
    uint32_t *rid_of;       /* by sequence number: replay id, 0 none, RID_OMIT left out */
    size_t cap_rid;
    int32_t *fw;            /* Fenwick tree over replay ids (1-based) */
    uint8_t *alive;
    uint32_t *size_of;      /* requested size by replay id */
    size_t capfw;
    uint32_t nrid;
    size_t live, live_bytes, peak_bytes;
    bool oom;
} M;

static void fw_add(uint32_t i, int32_t d)
{
    for (; i < M.capfw; i += i & (~i + 1)) M.fw[i] += d;
}

static size_t fw_prefix(uint32_t i)
{
    long s = 0;
    for (; i; i -= i & (~i + 1)) s += M.fw[i];
    return (size_t)s;
}

static bool fw_grow(void)
{
    size_t nc = M.capfw ? M.capfw * 2 : 1u << 16;
    int32_t *fw = calloc(nc, sizeof *fw);
    uint8_t *al = realloc(M.alive, nc);
    uint32_t *sz = realloc(M.size_of, nc * sizeof *sz);
    if (!fw || !al || !sz) { free(fw); if (al) M.alive = al; if (sz) M.size_of = sz; return false; }
    memset(al + M.capfw, 0, nc - M.capfw);
    M.alive = al;
    M.size_of = sz;
    free(M.fw);
    M.fw = fw;
    M.capfw = nc;
    for (uint32_t i = 1; i <= M.nrid; i++) if (M.alive[i]) fw_add(i, 1);
    return true;
}

int merge_init(void)
{
    memset(&M, 0, sizeof M);
    gh_seq_init(&M.seq);
    return fw_grow() ? 0 : -1;
}

void merge_reset(void)
{
    M.seq.n = 0;
    M.cur_cache = 0;
    if (M.rid_of) memset(M.rid_of, 0, M.cap_rid * sizeof *M.rid_of);
    memset(M.fw, 0, M.capfw * sizeof *M.fw);
    memset(M.alive, 0, M.capfw);
    M.nrid = 0;
    M.live = M.live_bytes = M.peak_bytes = 0;
}

size_t merge_nops(void) { return M.seq.n; }
size_t merge_peak_bytes(void) { return M.peak_bytes; }

static void push(const gh_op *op)
{
    if (M.oom) return;
    if (gh_seq_push(&M.seq, op) != 0) M.oom = true;
}

static void switch_cache(int cache)
{
    if (cache < 0 || cache == M.cur_cache) return;
    gh_op op = { .kind = GH_CACHE, .a = (uint64_t)cache };
    push(&op);
    M.cur_cache = cache;
}

static uint32_t *rid_slot(uint64_t id)
{
    if (id / ID_BASE != G.epoch) return NULL;
    size_t i = (size_t)(id % ID_BASE);
    if (i >= M.cap_rid) {
        size_t nc = M.cap_rid ? M.cap_rid : 1u << 16;
        while (nc <= i) nc *= 2;
        uint32_t *v = realloc(M.rid_of, nc * sizeof *v);
        if (!v) { M.oom = true; return NULL; }
        memset(v + M.cap_rid, 0, (nc - M.cap_rid) * sizeof *v);
        M.rid_of = v;
        M.cap_rid = nc;
    }
    return &M.rid_of[i];
}

static void sim_remove(uint32_t rid)
{
    if (!M.alive[rid]) return;
    M.alive[rid] = 0;
    fw_add(rid, -1);
    M.live--;
    M.live_bytes -= M.size_of[rid];
}

static void emit_free_rid(uint32_t rid)
{
    size_t k = fw_prefix(rid) - 1;
    gh_op op = { .kind = GH_FREE };
    if (k < 32768) op.obj = (uint16_t)k;
    else op.obj = (uint16_t)(GH_OBJ_FROM_END | ((M.live - 1 - k) & 0x7fff));
    push(&op);
    sim_remove(rid);
}

static void process(const lrec *r, int slot)
{
    int cache = slot % GH_MAX_CACHES;
    switch (r->kind) {
    case LK_ALLOC: {
        uint32_t *rs = rid_slot(r->id);
        if (!rs) return;
        if (M.live >= REPLAY_MAX_LIVE || r->size > G.cfg.replay_budget || M.live_bytes + r->size > G.cfg.replay_budget) {
            *rs = RID_OMIT;
            G.omitted_objs++;
            return;
        }
        if (M.nrid + 2 >= M.capfw && !fw_grow()) { M.oom = true; return; }
        switch_cache(cache);
        gh_op op = { 0 };
        if (r->align_log) {
            op.kind = GH_ALIGNED;
            op.flags = (uint8_t)(GH_API_NATIVE | ((r->flags & GA_NOSCAN) ? 4 : 0));
            op.a = r->size;
            op.b = 1ull << r->align_log;
        } else {
            op.kind = GH_MALLOC;
            op.flags = r->flags & (GA_NOSCAN | GA_ZERO | GA_NOTINY);
            op.a = r->size;
        }
        push(&op);
        uint32_t rid = ++M.nrid;
        *rs = rid;
        M.alive[rid] = 1;
        M.size_of[rid] = r->size;
        fw_add(rid, 1);
        M.live++;
        M.live_bytes += r->size;
        if (M.live_bytes > M.peak_bytes) M.peak_bytes = M.live_bytes;
        return;
    }
    case LK_FREE: {
        uint32_t *rs = rid_slot(r->id);
        if (!rs || *rs == 0 || *rs == RID_OMIT || !M.alive[*rs]) return;
        emit_free_rid(*rs);
        return;
    }
    case LK_RELEASE: {
        switch_cache(cache);
        gh_op op = { .kind = GH_RELEASE };
        push(&op);
        return;
    }
    case LK_DESTROY: {
        switch_cache(cache);
        gh_op op = { .kind = GH_DESTROY };
        push(&op);
        return;
    }
    default:
        return;
    }
}

void merge_advance(void)
{
    int n = G.cfg.threads + 1;
    size_t *pos = calloc((size_t)n, sizeof *pos), *cnt = calloc((size_t)n, sizeof *cnt);
    if (!pos || !cnt) { free(pos); free(cnt); M.oom = true; return; }
    for (int i = 0; i < n; i++) cnt[i] = atomic_load(&G.t[i].log.n);
    for (;;) {
        int best = -1;
        uint64_t bs = UINT64_MAX;
        for (int i = 0; i < n; i++) {
            if (pos[i] == cnt[i]) continue;
            const lrec *r = &G.t[i].log.chunks[pos[i] / LOG_CHUNK][pos[i] % LOG_CHUNK];
            if (r->seq < bs) { bs = r->seq; best = i; }
        }
        if (best < 0) break;
        const lrec *r = &G.t[best].log.chunks[pos[best] / LOG_CHUNK][pos[best] % LOG_CHUNK];
        process(r, best);
        pos[best]++;
    }
    for (int i = 0; i < n; i++) log_reset(&G.t[i]);
    free(pos);
    free(cnt);
}

uint32_t merge_rid(uint64_t id)
{
    if (id / ID_BASE != G.epoch) return 0;
    size_t i = (size_t)(id % ID_BASE);
    if (i >= M.cap_rid) return 0;
    uint32_t r = M.rid_of[i];
    return r == RID_OMIT || !M.alive[r] ? 0 : r;
}

void merge_kill(uint64_t id)
{
    uint32_t r = merge_rid(id);
    if (r) sim_remove(r);
}

void merge_emit(const gh_op *op, int cache)
{
    switch_cache(cache);
    push(op);
}

void merge_emit_free(uint64_t id, int cache)
{
    (void)cache;
    uint32_t r = merge_rid(id);
    if (r) emit_free_rid(r);
}

/* The executor's GC keep rule: object `rid` survives `gc keep=P seed=S` when this < P. */
uint64_t gc_hash_keep(uint64_t rid, unsigned seed)
{
    return st_mix(rid * 0x100000001b3ull ^ ((uint64_t)seed + 1) * 0x9e3779b97f4a7c15ull) % 100;
}

/* ---- the reproducer file ------------------------------------------------------------ */
int write_repro(const char *path, char *replay_cmd, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    const config *c = &G.cfg;
    fprintf(f, "galloc-ops 1\n");
    fprintf(f, "# galloc-stress reproducer: profile %s, %d thread(s), seed %" PRIu64 ", backend %s, plant %s, epoch %" PRIu64 "\n",
            st_profile_name(c->profile), c->threads, c->seed, c->backend == BE_GALLOC ? "galloc" : "system",
            ga_plant_name(c->plant), G.epoch);
    fprintf(f, "# a serialized interleaving of the failing heap's lifetime: %zu ops, thread slot k runs on cache k mod 8\n", M.seq.n);
    if (G.omitted_objs)
        fprintf(f, "# %" PRIu64 " object(s) left out (galloc-replay caps: 4096 live objects, --budget live bytes)\n", G.omitted_objs);
    if (M.oom) fprintf(f, "# WARNING: memory ran out while merging: the sequence is incomplete\n");
    fprintf(f, "# finding: %s: ", G.fnd.invariant);
    for (const char *m = G.fnd.message; *m; m++) fputc(*m == '\n' ? ' ' : *m, f);
    fprintf(f, "\n# replay: %s\n", replay_cmd);
    char line[256];
    for (size_t i = 0; i < M.seq.n; i++) {
        gh_format_op(&M.seq.ops[i], line, sizeof line);
        fprintf(f, "%s\n", line);
    }
    (void)n;
    return fclose(f) == 0 ? 0 : -1;
}
