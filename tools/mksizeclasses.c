/*
 * mksizeclasses.c — host tool that derives the Go 1.26 size-class table and prints
 * alloc/sizeclasses.c on stdout.
 *
 *     build/bin/mksizeclasses > alloc/sizeclasses.c
 *
 * It re-implements the algorithm of Go's runtime/_mkmalloc/mksizeclasses.go as described
 * in shared/go-allocator-spec.md §1.1 and §1.6 (written from the spec, not from Go source):
 * walk candidate sizes with a growing step, give each the smallest span whose tail waste is
 * at most 1/8, merge candidates that pack the same number of objects into the same span,
 * then bump every class to the largest 128-multiple that still packs the same count. Every
 * class gets a 32-bit division magic, and the magic is proven correct by brute force for
 * every offset a span can hold. The program checks everything before it prints anything, so
 * a failed derivation exits non-zero with nothing on stdout.
 *
 * Standalone on purpose: it does not include alloc/sizeclass.h, so the constants the header
 * states (68 classes, MaxObjsPerSpan, …) are checked against an independent derivation by
 * _Static_asserts in the generated file. The unit test alloc.sizeclass reruns this program
 * and compares its output with the checked-in file byte for byte.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Go's linux/amd64 parameters (spec §0.4). */
enum {
    PAGE_SHIFT = 13,
    PAGE_SIZE = 1 << PAGE_SHIFT,
    MIN_HEAP_ALIGN = 8,
    MAX_SMALL_SIZE = 32768,
    SMALL_SIZE_DIV = 8,
    SMALL_SIZE_MAX = 1024,
    LARGE_SIZE_DIV = 128,
    TINY_SIZE = 16,
    WANT_CLASSES = 68, /* the runtime's NumSizeClasses; the generator insists on it (§1.1.6) */
    /* Upper bound on classes the walk could ever append (one per candidate, plus class 0),
     * so a broken rule is reported instead of overrunning the array. */
    MAX_CANDIDATES = MAX_SMALL_SIZE / MIN_HEAP_ALIGN + 1,
    SIZE8_ENTRIES = SMALL_SIZE_MAX / SMALL_SIZE_DIV + 1,                       /* 129 */
    SIZE128_ENTRIES = (MAX_SMALL_SIZE - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1, /* 249 */
};

struct sclass {
    uint32_t size;   /* bytes per object; 0 for the dummy class 0 */
    uint32_t npages; /* span length in pages; 0 for class 0 */
    uint32_t magic;  /* floor((2^32-1)/size)+1, so n/size == (n*magic)>>32 on a span */
};

static struct sclass classes[MAX_CANDIDATES];
static unsigned nclasses;
static uint8_t size_to_class8[SIZE8_ENTRIES];
static uint8_t size_to_class128[SIZE128_ENTRIES];

static void die(const char *what, unsigned long long a, unsigned long long b)
{
    fprintf(stderr, "mksizeclasses: %s (%llu, %llu)\n", what, a, b);
    exit(1);
}

static bool is_pow2(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

static unsigned bit_len(uint64_t x)
{
    unsigned n = 0;
    while (x) {
        n++;
        x >>= 1;
    }
    return n;
}

static unsigned trailing_zeros(uint64_t x)
{
    unsigned n = 0;
    while (x && !(x & 1)) {
        n++;
        x >>= 1;
    }
    return n;
}

/* §1.1 steps 1-6. */
static void make_classes(void)
{
    nclasses = 0;
    classes[nclasses++] = (struct sclass){0, 0, 0}; /* class 0: dummy, used by large spans */

    uint32_t step = MIN_HEAP_ALIGN;
    for (uint32_t size = step; size <= MAX_SMALL_SIZE; size += step) {
        /* The step grows only at powers of two, so each run of candidates between two powers
         * of two is evenly spaced; coarser steps for bigger sizes keep the round-up waste
         * near 1/8 without creating hundreds of classes. */
        if (is_pow2(size)) {
            if (size >= 2048)
                step = 256;
            else if (size >= 128)
                step = size / 8;
            else if (size >= 32)
                step = 16; /* heap bitmaps assume 16-byte alignment above 32 B */
        }
        if (!is_pow2(step))
            die("step is not a power of two", size, step);

        /* Smallest whole-page span whose leftover tail is at most 1/8 of the span. */
        uint32_t allocsize = PAGE_SIZE;
        while (allocsize % size > allocsize / 8)
            allocsize += PAGE_SIZE;
        uint32_t npages = allocsize / PAGE_SIZE;

        /* Same span length and same object count as the class before: a bigger object costs
         * nothing, so widen the previous class instead of adding one. Class 0 never merges. */
        struct sclass *prev = &classes[nclasses - 1];
        if (nclasses > 1 && npages == prev->npages && allocsize / size == allocsize / prev->size) {
            prev->size = size;
            continue;
        }
        if (nclasses == MAX_CANDIDATES)
            die("too many classes", nclasses, size);
        classes[nclasses++] = (struct sclass){size, npages, 0};
    }

    /* Post-pass: if the span fits the same number of larger objects, use the largest such
     * size that is still a multiple of 128 (e.g. 8448 -> 9472, 6 objects in 7 pages). */
    for (unsigned i = 1; i < nclasses; i++) {
        uint32_t psize = classes[i].npages * PAGE_SIZE;
        uint32_t bigger = (psize / (psize / classes[i].size)) & ~(uint32_t)(LARGE_SIZE_DIV - 1);
        if (bigger > classes[i].size)
            classes[i].size = bigger;
    }

    if (nclasses != WANT_CLASSES)
        die("wrong number of size classes", nclasses, WANT_CLASSES);
}

/* §1.1 step 7: the magic must divide exactly for every byte offset 0..npages*8192. First the
 * Lemire-Kaser-Kurz bound (F fractional bits suffice; we must have F <= 32), then the exact
 * runtime computation for every n, so the table is proven, not merely argued. */
static void compute_div_magic(struct sclass *c)
{
    uint64_t d = c->size;
    if (d == 0)
        return; /* class 0: the runtime stores 0, large spans never divide */
    uint64_t max = (uint64_t)c->npages * PAGE_SIZE;

    unsigned n_bits = bit_len(max);
    unsigned f;
    if (is_pow2(d)) {
        f = trailing_zeros(d);
    } else {
        unsigned l = 0;
        for (;; l++) {
            if (n_bits + l >= 63)
                die("no fraction-bit count found", d, max);
            uint64_t pow_nl = (uint64_t)1 << (n_bits + l);
            if (d <= pow_nl % d + ((uint64_t)1 << l))
                break;
        }
        f = n_bits + l;
    }
    if (f > 32)
        die("size class needs more than 32 fraction bits", d, f);

    uint32_t magic = UINT32_MAX / (uint32_t)d + 1;
    for (uint64_t n = 0; n <= max; n++) {
        if ((uint32_t)((n * magic) >> 32) != (uint32_t)(n / d))
            die("32-bit multiply magic fails", d, n);
    }
    c->magic = magic;
}

/* §1.6: each lookup entry names the first class at least as big as the entry's upper bound. */
static uint8_t first_class_at_least(uint32_t size)
{
    for (unsigned j = 0; j < nclasses; j++)
        if (classes[j].size >= size)
            return (uint8_t)j;
    die("no class holds size", size, 0);
    return 0;
}

static void make_lookup_tables(void)
{
    for (uint32_t i = 0; i < SIZE8_ENTRIES; i++)
        size_to_class8[i] = first_class_at_least(i * SMALL_SIZE_DIV);
    for (uint32_t i = 0; i < SIZE128_ENTRIES; i++)
        size_to_class128[i] = first_class_at_least(SMALL_SIZE_MAX + i * LARGE_SIZE_DIV);
}

/* Sanity of the finished table: strictly growing sizes, aligned to 8, spans within limits. */
static void check_classes(void)
{
    for (unsigned i = 1; i < nclasses; i++) {
        if (classes[i].size <= classes[i - 1].size)
            die("class sizes not increasing", i, classes[i].size);
        if (classes[i].size % MIN_HEAP_ALIGN != 0)
            die("class size not 8-aligned", i, classes[i].size);
        if ((uint64_t)classes[i].npages * PAGE_SIZE / classes[i].size == 0)
            die("class holds no object", i, classes[i].size);
    }
    if (classes[nclasses - 1].size != MAX_SMALL_SIZE)
        die("largest class is not MaxSmallSize", classes[nclasses - 1].size, MAX_SMALL_SIZE);
}

static void print_u32_array(const char *decl, const uint32_t *v, unsigned n, unsigned per_line)
{
    printf("%s = {\n", decl);
    for (unsigned i = 0; i < n; i++) {
        if (i % per_line == 0)
            printf("   ");
        printf(" %u,", (unsigned)v[i]);
        if (i % per_line == per_line - 1 || i == n - 1)
            printf("\n");
    }
    printf("};\n");
}

static void print_u8_array(const char *decl, const uint8_t *v, unsigned n)
{
    uint32_t wide[SIZE128_ENTRIES > SIZE8_ENTRIES ? SIZE128_ENTRIES : SIZE8_ENTRIES];
    for (unsigned i = 0; i < n; i++)
        wide[i] = v[i];
    print_u32_array(decl, wide, n, 16);
}

static void print_file(void)
{
    uint32_t max_objs = 0, max_npages = 0;
    for (unsigned i = 1; i < nclasses; i++) {
        uint32_t objs = classes[i].npages * PAGE_SIZE / classes[i].size;
        if (objs > max_objs)
            max_objs = objs;
        if (classes[i].npages > max_npages)
            max_npages = classes[i].npages;
    }
    unsigned tiny_class = first_class_at_least(TINY_SIZE);

    printf("/*\n"
           " * sizeclasses.c — GENERATED FILE, DO NOT EDIT.\n"
           " * Generated by tools/mksizeclasses.c with:\n"
           " *\n"
           " *     build/bin/mksizeclasses > alloc/sizeclasses.c\n"
           " *\n"
           " * The Go 1.26 size classes (shared/go-allocator-spec.md §1). The unit test\n"
           " * alloc.sizeclass reruns the generator and requires identical output.\n"
           " *\n"
           " * objects = floor(bytes/span / bytes/obj), the nominal count before any span trailer;\n"
           " * tail waste = bytes/span - objects*bytes/obj; max waste = the worst case, every object\n"
           " * a request one byte above the previous class: ((size-prev-1)*objects + tail)/span.\n"
           " *\n"
           " * class  bytes/obj  bytes/span  npages  objects  tail waste  max waste  min align\n");

    uint32_t prev = 0;
    for (unsigned i = 1; i < nclasses; i++) {
        uint32_t size = classes[i].size, span = classes[i].npages * PAGE_SIZE;
        uint32_t objs = span / size, tail = span - objs * size;
        double max_waste = (double)((size - prev - 1) * objs + tail) / (double)span;
        unsigned align_bits = trailing_zeros(size);
        if (align_bits > PAGE_SHIFT)
            align_bits = PAGE_SHIFT; /* spans are only page-aligned */
        printf(" * %5u  %9u  %10u  %6u  %7u  %10u  %8.2f%%  %9u\n", i, (unsigned)size,
               (unsigned)span, (unsigned)classes[i].npages, (unsigned)objs, (unsigned)tail,
               100 * max_waste, 1u << align_bits);
        prev = size;
    }

    /* For each power-of-two alignment, the smallest size from which every larger class is
     * guaranteed that alignment (what the heap bitmap and Green Tea code may rely on). */
    printf(" *\n"
           " * alignment  bits  min obj size\n");
    for (unsigned b = 0; b <= PAGE_SHIFT; b++) {
        uint32_t from = 0;
        for (unsigned i = 1; i < nclasses; i++) {
            unsigned tz = trailing_zeros(classes[i].size);
            if (tz < b)
                from = 0; /* a later class breaks the alignment: start over */
            else if (from == 0)
                from = classes[i].size;
        }
        if (from != 0)
            printf(" * %9u  %4u  %12u\n", 1u << b, b, (unsigned)from);
    }
    printf(" *\n"
           " * MaxObjsPerSpan = %u, MaxSizeClassNPages = %u, TinySize = %u, TinySizeClass = %u\n"
           " */\n"
           "#include \"sizeclass.h\"\n\n",
           (unsigned)max_objs, (unsigned)max_npages, (unsigned)TINY_SIZE, tiny_class);

    /* The header's hand-written constants must agree with the derivation. */
    printf("_Static_assert(GA_NUM_CLASSES == %u, \"class count\");\n", nclasses);
    printf("_Static_assert(GA_MAX_OBJS_PER_SPAN == %u, \"MaxObjsPerSpan\");\n", (unsigned)max_objs);
    printf("_Static_assert(GA_MAX_CLASS_NPAGES == %u, \"MaxSizeClassNPages\");\n",
           (unsigned)max_npages);
    printf("_Static_assert(GA_TINY_SIZE == %u, \"TinySize\");\n", (unsigned)TINY_SIZE);
    printf("_Static_assert(GA_TINY_SIZE_CLASS == %u, \"TinySizeClass\");\n\n", tiny_class);

    uint32_t sizes[WANT_CLASSES], npages[WANT_CLASSES], magics[WANT_CLASSES];
    for (unsigned i = 0; i < nclasses; i++) {
        sizes[i] = classes[i].size;
        npages[i] = classes[i].npages;
        magics[i] = classes[i].magic;
    }
    print_u32_array("const uint32_t ga_class_to_size[GA_NUM_CLASSES]", sizes, nclasses, 12);
    printf("\n");
    print_u32_array("const uint8_t ga_class_to_npages[GA_NUM_CLASSES]", npages, nclasses, 16);
    printf("\n");
    print_u32_array("const uint32_t ga_class_to_divmagic[GA_NUM_CLASSES]", magics, nclasses, 8);
    printf("\n");
    print_u8_array("const uint8_t ga_size_to_class8[GA_SMALL_SIZE_MAX / GA_SMALL_SIZE_DIV + 1]",
                   size_to_class8, SIZE8_ENTRIES);
    printf("\n");
    print_u8_array("const uint8_t ga_size_to_class128[(GA_MAX_SMALL_SIZE - GA_SMALL_SIZE_MAX) / "
                   "GA_LARGE_SIZE_DIV + 1]",
                   size_to_class128, SIZE128_ENTRIES);
}

int main(void)
{
    make_classes();
    check_classes();
    for (unsigned i = 0; i < nclasses; i++)
        compute_div_magic(&classes[i]);
    make_lookup_tables();
    print_file();
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("mksizeclasses: stdout");
        return 1;
    }
    return 0;
}
