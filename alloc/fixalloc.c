/*
 * fixalloc.c — off-heap metadata memory (spec §9): persistentalloc, a bump allocator
 * over 256 KiB chunks that are only returned when the heap is destroyed, and fixalloc,
 * fixed-size objects with a LIFO free list on top of it (mspan structs, mcaches, span
 * bitmaps, arena hints).
 *
 * Every fixalloc object takes whole cache lines (size rounded up to 64, chunks 64-aligned):
 * spans and their bitmaps are written by their owner's thread and, for frees, by others;
 * two spans sharing a line made every thread's op miss on its neighbour's writes.
 *
 * Invariant (E8): f->inuse == size × (objects handed out and not freed).
 * The caller holds the heap lock. Calls: the OS layer (alloc_meta).
 */
#include "internal.h"
#include <errno.h>

#define GA_PERSISTENT_CHUNK (256u << 10)
#define GA_FIXALLOC_CHUNK   (16u << 10)
#define GA_FIXALLOC_ALIGN   64u

/* Grabs metadata memory straight from the OS, recording it for ga_heap_destroy. */
static void *meta_map(ga_heap *h, size_t size)
{
    size += sizeof(ga_meta_chunk);
    ga_meta_chunk *m = h->os->alloc_meta(h->os->ctx, size);
    if (!m) { errno = ENOMEM; return NULL; }
    m->size = size;
    m->next = h->meta;
    h->meta = m;
    h->metaSys += size;
    return m + 1;
}

void *ga_persistent_alloc(ga_heap *h, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size >= GA_PERSISTENT_CHUNK / 4)
        return meta_map(h, size);
    if (h->persistentLeft < size) {
        void *chunk = meta_map(h, GA_PERSISTENT_CHUNK - sizeof(ga_meta_chunk));
        if (!chunk) return NULL;
        h->persistent = (uintptr_t)chunk;
        h->persistentLeft = GA_PERSISTENT_CHUNK - sizeof(ga_meta_chunk);
    }
    void *p = (void *)h->persistent;
    h->persistent += size;
    h->persistentLeft -= size;
    return p;
}

void ga_fixalloc_init(ga_fixalloc *f, ga_heap *h, size_t size, bool zero)
{
    size = (size + GA_FIXALLOC_ALIGN - 1) & ~(size_t)(GA_FIXALLOC_ALIGN - 1);
    memset(f, 0, sizeof *f);
    f->size = size;
    f->nalloc = (GA_FIXALLOC_CHUNK / size) * size;
    if (f->nalloc == 0) f->nalloc = size;
    f->zero = zero;
    f->heap = h;
}

void *ga_fixalloc_alloc(ga_fixalloc *f)
{
    if (f->list) {
        void *p = f->list;
        f->list = *(void **)p;
        f->inuse += f->size;
        if (f->zero) memset(p, 0, f->size);
        else *(void **)p = NULL;
        return p;
    }
    if (f->nchunk < f->size) {
        void *chunk = ga_persistent_alloc(f->heap, f->nalloc + GA_FIXALLOC_ALIGN - 16);
        if (!chunk) return NULL;
        f->chunk = ((uintptr_t)chunk + GA_FIXALLOC_ALIGN - 1) & ~(uintptr_t)(GA_FIXALLOC_ALIGN - 1);
        f->nchunk = f->nalloc;
    }
    void *p = (void *)f->chunk;
    f->chunk += f->size;
    f->nchunk -= f->size;
    f->inuse += f->size;
    return p;   /* fresh persistent memory is already zero */
}

void ga_fixalloc_free(ga_fixalloc *f, void *p)
{
    f->inuse -= f->size;
    *(void **)p = f->list;
    f->list = p;
}
