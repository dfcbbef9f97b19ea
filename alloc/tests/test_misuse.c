/*
 * test_misuse.c — misuse that only shows after the heap moved on: a second free of an object
 * whose first free was already swept (its slot is free again, nothing pending), a free of a
 * slot the span never handed out, on the lock-free fast path (noscan) and the slow path
 * (scan), through ga_free and ga_free_local; and pointers into a span's tail (past the last
 * slot) for ga_lookup, ga_usable_size and ga_free. Each must be refused with the right
 * status, reported to the error handler, and leave the heap and statistics untouched.
 */
#include "heap_check.h"
#include "internal.h"
#include "verify.h"
#include <errno.h>


static misuse_log errs;

static ga_heap *new_heap(void)
{
    ga_heap_options o = { 0 };
    ga_heap *h = ga_heap_new(&o);
    CHECK(h != NULL, "ga_heap_new: errno %d", errno);
    if (h) ga_set_error_handler(h, misuse_log_record, &errs);
    return h;
}

static void expect_refused(ga_status got, ga_status want, unsigned errs_before, const char *what)
{
    CHECK(got == want, "%s: status %s, want %s", what, ga_status_name(got), ga_status_name(want));
    CHECK(errs.n == errs_before + 1, "%s: error handler called %u times", what, errs.n - errs_before);
}

/* size/flags: a class whose span holds many slots */
static void free_after_sweep(size_t size, unsigned flags, bool local)
{
    ga_heap *h = new_heap();
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    void *p[8];
    for (int i = 0; i < 8; i++) { p[i] = ga_alloc(c, size, 0, flags); CHECK(p[i] != NULL, "alloc"); }
    CHECK_EQ(local ? ga_free_local(c, p[2]) : ga_free(h, p[2]), GA_OK);
    ga_cache_release(c);            /* the span is swept: slot 2 is free, nothing pending */
    ga_sweep(h, SIZE_MAX);
    VERIFY(h);
    ga_object_info info;
    CHECK_EQ(ga_lookup(h, p[2], &info), GA_OK);
    CHECK(!info.allocated, "freed slot still allocated after the sweep");
    ga_stats before, after;
    ga_read_stats(h, &before);
    unsigned e = errs.n;
    expect_refused(local ? ga_free_local(c, p[2]) : ga_free(h, p[2]), GA_ERR_DOUBLE_FREE, e,
                   "second free after the sweep");
    /* a slot never handed out: the one after the last object, if the span has it */
    ga_object_info last;
    CHECK_EQ(ga_lookup(h, p[7], &last), GA_OK);
    uintptr_t never = (uintptr_t)p[7] + last.elemsize;
    if (last.slot_index + 1 < ga_class_nelems(last.sizeclass, flags & GA_NOSCAN, h->green_tea)) {
        CHECK_EQ(ga_lookup(h, (void *)never, &info), GA_OK);
        CHECK(!info.allocated, "slot past the allocated ones reads as allocated");
        e = errs.n;
        expect_refused(local ? ga_free_local(c, (void *)never) : ga_free(h, (void *)never), GA_ERR_DOUBLE_FREE, e,
                       "free of a slot never handed out");
    }
    ga_read_stats(h, &after);
    CHECK_EQ(after.frees, before.frees);
    CHECK_EQ(after.heap_objects, before.heap_objects);
    CHECK_EQ(after.heap_objects, 7);
    VERIFY(h);
    ga_sweep(h, SIZE_MAX);
    /* the freed slot is handed out again (a span with a free slot is taken first), and
     * that object can be freed exactly once */
    void *q = NULL;
    for (int i = 0; i < 64 && q != p[2]; i++) {
        q = ga_alloc(c, size, 0, flags);
        CHECK(q != NULL && q != p[0] && q != p[7], "alloc returned a live object's slot %p", q);
    }
    CHECK(q == p[2], "the freed slot %p was not reused", p[2]);
    CHECK_EQ(ga_free(h, q), GA_OK);
    e = errs.n;
    expect_refused(ga_free(h, q), GA_ERR_DOUBLE_FREE, e, "double free of the reused slot");
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

/* A span of 48-byte slots ends with bytes that belong to no slot (nelems * 48 < 8192). */
static void tail_pointers(void)
{
    ga_heap *h = new_heap();
    if (!h) return;
    ga_cache *c = ga_cache_new(h);
    for (unsigned flags = 0; flags <= GA_NOSCAN; flags += GA_NOSCAN) {
        void *p = ga_alloc(c, 48, 0, flags | GA_NOTINY);
        CHECK(p != NULL, "alloc");
        ga_object_info info;
        CHECK_EQ(ga_lookup(h, p, &info), GA_OK);
        uintptr_t limit = info.span_base + (uintptr_t)ga_class_nelems(info.sizeclass, flags & GA_NOSCAN, h->green_tea) * info.elemsize;
        uintptr_t end = info.span_base + info.span_npages * GA_PAGE_SIZE;
        CHECK(limit < end, "class of 48 bytes has no tail (limit %#lx end %#lx)", (unsigned long)limit, (unsigned long)end);
        for (uintptr_t a = limit; a < end; a += 8) {
            ga_object_info ti;
            ga_status st = ga_lookup(h, (void *)a, &ti);
            CHECK(st == GA_ERR_INTERIOR, "lookup of tail byte %#lx: %s", (unsigned long)a, ga_status_name(st));
            CHECK(!ti.allocated, "tail byte %#lx looks allocated", (unsigned long)a);
            CHECK_EQ(ga_usable_size(h, (void *)a), 0);
            CHECK_EQ(ti.span_base, info.span_base);
            unsigned e = errs.n;
            expect_refused(ga_free(h, (void *)a), GA_ERR_INTERIOR, e, "free of a tail pointer");
            if (a == limit) a += 8 * 5;   /* sample the tail: its start and the rest sparsely */
        }
        CHECK_EQ(ga_free(h, p), GA_OK);
    }
    VERIFY(h);
    ga_cache_destroy(c);
    ga_heap_destroy(h);
}

int main(void)
{
    free_after_sweep(64, GA_NOSCAN, false);   /* fast path */
    free_after_sweep(64, GA_NOSCAN, true);
    free_after_sweep(64, 0, false);           /* scan: slow path */
    free_after_sweep(1024, GA_NOSCAN, false);
    free_after_sweep(2048, 0, true);          /* scan with a malloc header */
    tail_pointers();
    TEST_MAIN_END();
}
