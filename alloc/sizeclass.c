/*
 * sizeclass.c — the size-class level: what a class's span holds, and what slot a request
 * gets (spec §1.2, §1.5).
 *
 * Owns: ga_class_nelems / ga_class_reserve (the span trailer that Green Tea inline mark bits
 * and the heap pointer bitmap take away from the object area, mheap.go:initSpan) and
 * ga_roundupsize (msize.go:roundupsize). The tables themselves live in the generated
 * sizeclasses.c; the lookups that are on every allocation path are inline in sizeclass.h.
 *
 * Keeps: nelems*elemsize + reserve <= npages*8192 for every small class; roundupsize(size)
 * >= size except on overflow of a large request, where size comes back unchanged.
 *
 * Calls: no other level.
 */
#include "sizeclass.h"

size_t ga_class_reserve(unsigned sizeclass, bool noscan, bool green_tea)
{
    /* Class 0 is a large span: one object, no trailer. Out-of-range classes are a caller bug;
     * answer 0 rather than read past the tables. */
    if (sizeclass == 0 || sizeclass >= GA_NUM_CLASSES)
        return 0;
    size_t size = ga_class_to_size[sizeclass];
    size_t span_bytes = (size_t)ga_class_to_npages[sizeclass] * GA_PAGE_SIZE;
    size_t reserve = 0;
    /* Green Tea keeps its per-object mark bits in a 128-byte trailer of every 16..512 B span,
     * scan and noscan alike (mgcmark_greenteagc.go:gcUsesSpanInlineMarkBits). */
    if (green_tea && ga_size_uses_inline_marks(size))
        reserve += GA_GT_INLINE_MARK_BYTES;
    /* Pointerful objects without a malloc header (size <= 512) describe their pointers in a
     * bitmap at the end of the span: one bit per 8-byte word, i.e. spanBytes/64 bytes. */
    if (!noscan && size <= GA_MIN_SIZE_FOR_HEADER)
        reserve += span_bytes / 64;
    return reserve;
}

unsigned ga_class_nelems(unsigned sizeclass, bool noscan, bool green_tea)
{
    if (sizeclass == 0)
        return 1; /* a large span holds exactly one object */
    if (sizeclass >= GA_NUM_CLASSES)
        return 0;
    size_t size = ga_class_to_size[sizeclass];
    size_t span_bytes = (size_t)ga_class_to_npages[sizeclass] * GA_PAGE_SIZE;
    return (unsigned)((span_bytes - ga_class_reserve(sizeclass, noscan, green_tea)) / size);
}

size_t ga_roundupsize(size_t size, bool noscan)
{
    /* mallocgc treats only size <= 32760 as small: a pointerful request above 512 B gets an
     * 8-byte type header, and 32760 + 8 is the largest that still fits class 67. Noscan
     * requests use the same cutoff, so 32761..32768 go to the large path for both. */
    if (size <= GA_SMALL_CUTOFF) {
        size_t header = (!noscan && size > GA_MIN_SIZE_FOR_HEADER) ? GA_MALLOC_HEADER : 0;
        /* The caller sees the slot minus the header that sits in front of its object. */
        return ga_class_to_size[ga_size_to_class(size + header)] - header;
    }
    /* Large: whole pages. If rounding up overflows, return the request unchanged, as Go does;
     * the allocation will fail later anyway. */
    size_t rounded = size + (GA_PAGE_SIZE - 1);
    if (rounded < size)
        return size;
    return rounded & ~(GA_PAGE_SIZE - 1);
}
