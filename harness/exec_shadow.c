/*
 * exec_shadow.c — the executor's shadow model of galloc's live objects.
 *
 * Owns: the object table (one entry per live galloc object, in allocation order = object
 * id, so find_id is a binary search), the interval set that finds two live objects
 * overlapping, the tiny blocks (16-byte blocks shared by tiny objects; ga_free refuses
 * those objects and only a GC cycle frees a block), and the statistics books (what
 * ga_read_stats must say: live objects, bytes, and objects freed but maybe not swept yet).
 * Invariant: every live object is in the table and in the interval set, exactly once.
 * Calls: galloc.h (ga_lookup, ga_free for objects the shadow never saw), oracle.c (gh_ref_free).
 */
#include "exec_internal.h"

/* ---- object table ------------------------------------------------------------------ */
obj *ex_obj_add(ex *x)
{
    if (x->nobj == x->capobj) {
        size_t nc = x->capobj ? x->capobj * 2 : 256;
        obj *n = realloc(x->objs, nc * sizeof *n);
        if (!n) return NULL;
        x->objs = n;
        x->capobj = nc;
    }
    obj *o = &x->objs[x->nobj++];
    memset(o, 0, sizeof *o);
    o->id = ++x->next_id;
    if (x->nobj > x->st->max_live) x->st->max_live = x->nobj;
    return o;
}

static size_t obj_index(ex *x, const obj *o) { return (size_t)(o - x->objs); }

static void obj_del(ex *x, size_t i)
{
    memmove(&x->objs[i], &x->objs[i + 1], (x->nobj - i - 1) * sizeof *x->objs);
    x->nobj--;
}

long ex_resolve(ex *x, uint16_t o)
{
    if (!x->nobj) return -1;
    if (o & GH_OBJ_FROM_END) return (long)(x->nobj - 1 - (o & 0x7fffu) % x->nobj);
    return (long)(o % x->nobj);
}

obj *ex_find_id(ex *x, uint64_t id)
{
    size_t lo = EX_LOWER_BOUND(x->objs, x->nobj, id, id);
    return lo < x->nobj && x->objs[lo].id == id ? &x->objs[lo] : NULL;
}

/* ---- interval set (overlap) ---------------------------------------------------------- */
size_t ex_iv_lower(ex *x, uintptr_t lo) { return EX_LOWER_BOUND(x->iv, x->niv, lo, lo); }

/* Returns the id of an overlapping live object, 0 if none (and inserts). */
uint64_t ex_iv_insert(ex *x, uintptr_t lo, uintptr_t hi, uint64_t id, bool tiny)
{
    size_t i = ex_iv_lower(x, lo);
    if (i < x->niv && x->iv[i].lo < hi) return x->iv[i].id;
    if (i > 0 && x->iv[i - 1].hi > lo) return x->iv[i - 1].id;
    if (x->niv == x->capiv) {
        size_t nc = x->capiv ? x->capiv * 2 : 256;
        ivl *n = realloc(x->iv, nc * sizeof *n);
        if (!n) return 0;
        x->iv = n;
        x->capiv = nc;
    }
    memmove(&x->iv[i + 1], &x->iv[i], (x->niv - i) * sizeof *x->iv);
    x->iv[i].lo = lo;
    x->iv[i].hi = hi;
    x->iv[i].id = id;
    x->iv[i].tiny = tiny;
    x->niv++;
    return 0;
}

static void iv_remove(ex *x, uintptr_t lo, uint64_t id)
{
    size_t i = ex_iv_lower(x, lo);
    for (; i < x->niv && x->iv[i].lo == lo; i++)
        if (x->iv[i].id == id) {
            memmove(&x->iv[i], &x->iv[i + 1], (x->niv - i - 1) * sizeof *x->iv);
            x->niv--;
            return;
        }
}

/* ---- tiny blocks ------------------------------------------------------------------ */
tblock *ex_blk_find(ex *x, uintptr_t slot, size_t *pos)
{
    size_t a = EX_LOWER_BOUND(x->blk, x->nblk, slot, slot);
    if (pos) *pos = a;
    return a < x->nblk && x->blk[a].slot == slot ? &x->blk[a] : NULL;
}

/* Returns true if this is a new block. */
static bool blk_add_member(ex *x, uintptr_t slot)
{
    size_t pos;
    tblock *b = ex_blk_find(x, slot, &pos);
    if (b) { b->members++; return false; }
    if (x->nblk == x->capblk) {
        size_t nc = x->capblk ? x->capblk * 2 : 64;
        tblock *n = realloc(x->blk, nc * sizeof *n);
        if (!n) return false;
        x->blk = n;
        x->capblk = nc;
    }
    memmove(&x->blk[pos + 1], &x->blk[pos], (x->nblk - pos) * sizeof *x->blk);
    x->blk[pos].slot = slot;
    x->blk[pos].members = 1;
    x->blk[pos].marked = false;
    x->nblk++;
    return true;
}

/* Shadow bookkeeping for a new galloc object. */
void ex_account_alloc(ex *x, obj *o)
{
    x->exp_mallocs++;
    x->live_bytes += o->size;
    ex_model_touch(x, o->span);
    if (o->tiny) {
        if (blk_add_member(x, o->slot)) {
            x->exp_total_alloc += GA_TINY_SIZE;
            x->live_slot_bytes += GA_TINY_SIZE;
        }
        /* allocated while marking: black, and so is the block that holds it */
        if (x->marking) { tblock *b = ex_blk_find(x, o->slot, NULL); if (b) b->marked = true; }
    } else {
        x->live_nontiny++;
        x->live_slot_bytes += o->elemsize;
        x->exp_total_alloc += o->elemsize;
        if (o->large) {
            x->live_large++;
            x->exp_large_count++;
            x->exp_large_bytes += o->elemsize;
        }
    }
    x->st->allocs++;
}

/* An object left the shadow (explicit free or GC death): it may stay counted by galloc
 * until its span is swept. */
void ex_account_gone(ex *x, obj *o)
{
    x->live_bytes -= o->size;
    if (o->tiny) return;   /* blocks are accounted by the GC op */
    x->live_nontiny--;
    x->live_slot_bytes -= o->elemsize;
    x->pending_objs++;
    x->pending_bytes += o->elemsize;
    if (o->large) { x->live_large--; x->pending_large++; }
}

void ex_drop_obj(ex *x, obj *o, bool free_ref)
{
    if (o->sut) iv_remove(x, (uintptr_t)o->sut, o->id);
    if (free_ref && o->ref) gh_ref_free(&x->ref, o->ref, o->ref_size);
    obj_del(x, obj_index(x, o));
}

/* ---- faults applied inside an allocation ---------------------------------------- */

/* Books a galloc object the shadow will never see (it is given back at once or leaked
 * on purpose by a fault): keeps the statistics model exact for the faults that are not
 * about statistics. */
void ex_book_unseen(ex *x, void *p, bool give_back)
{
    ga_object_info in;
    memset(&in, 0, sizeof in);
    if (ga_lookup(x->h, p, &in) == GA_ERR_NOT_OWNED) return;
    x->exp_mallocs++;
    if (in.tiny) return;     /* never produced by the faults below (size >= 16 or scan) */
    x->exp_total_alloc += in.elemsize;
    if (in.sizeclass == 0) { x->exp_large_count++; x->exp_large_bytes += in.elemsize; }
    if (give_back) {
        ga_free(x->h, p);
        ex_model_pending(x, in.span_base, in.slot, in.elemsize, false, 0);
    }
    x->pending_objs++;
    x->pending_bytes += in.elemsize;
    if (in.sizeclass == 0) x->pending_large++;
}
