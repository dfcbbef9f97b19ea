/*
 * test_sizeclass.c — unit test of the size-class level (alloc/sizeclass.c, the generated
 * alloc/sizeclasses.c and the inline lookups of alloc/sizeclass.h).
 *
 * The expected values below are copied from shared/go-allocator-spec.md (§1.4 worked
 * vectors, §1.5 full table, §1.6 lookup tables), which the spec states match Go 1.26's
 * internal/runtime/gc/sizeclasses.go. They are data, not derived here, so a wrong generator
 * and a wrong table cannot agree with each other by accident. The test also proves the
 * division magic for every offset of every span, and reruns the generator to show the
 * checked-in table is exactly what tools/mksizeclasses.c prints.
 */
#include "sizeclass.h"
#include "check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* §1.5, one row per real class. nelems columns: Green Tea noscan, GT scan, no-GT noscan,
 * no-GT scan. */
struct spec_row {
    unsigned cls, size, npages, objects, tail_waste;
    uint32_t divmagic;
    unsigned nelems_gt_noscan, nelems_gt_scan, nelems_nogt_noscan, nelems_nogt_scan;
};
static const struct spec_row spec_table[] = {
    { 1,     8,  1, 1024,   0, 536870912, 1024, 1008, 1024, 1008},
    { 2,    16,  1,  512,   0, 268435456,  504,  496,  512,  504},
    { 3,    24,  1,  341,   8, 178956971,  336,  330,  341,  336},
    { 4,    32,  1,  256,   0, 134217728,  252,  248,  256,  252},
    { 5,    48,  1,  170,  32,  89478486,  168,  165,  170,  168},
    { 6,    64,  1,  128,   0,  67108864,  126,  124,  128,  126},
    { 7,    80,  1,  102,  32,  53687092,  100,   99,  102,  100},
    { 8,    96,  1,   85,  32,  44739243,   84,   82,   85,   84},
    { 9,   112,  1,   73,  16,  38347923,   72,   70,   73,   72},
    {10,   128,  1,   64,   0,  33554432,   63,   62,   64,   63},
    {11,   144,  1,   56, 128,  29826162,   56,   55,   56,   56},
    {12,   160,  1,   51,  32,  26843546,   50,   49,   51,   50},
    {13,   176,  1,   46,  96,  24403224,   45,   45,   46,   45},
    {14,   192,  1,   42, 128,  22369622,   42,   41,   42,   42},
    {15,   208,  1,   39,  80,  20648882,   38,   38,   39,   38},
    {16,   224,  1,   36, 128,  19173962,   36,   35,   36,   36},
    {17,   240,  1,   34,  32,  17895698,   33,   33,   34,   33},
    {18,   256,  1,   32,   0,  16777216,   31,   31,   32,   31},
    {19,   288,  1,   28, 128,  14913081,   28,   27,   28,   28},
    {20,   320,  1,   25, 192,  13421773,   25,   24,   25,   25},
    {21,   352,  1,   23,  96,  12201612,   22,   22,   23,   22},
    {22,   384,  1,   21, 128,  11184811,   21,   20,   21,   21},
    {23,   416,  1,   19, 288,  10324441,   19,   19,   19,   19},
    {24,   448,  1,   18, 128,   9586981,   18,   17,   18,   18},
    {25,   480,  1,   17,  32,   8947849,   16,   16,   17,   16},
    {26,   512,  1,   16,   0,   8388608,   15,   15,   16,   15},
    {27,   576,  1,   14, 128,   7456541,   14,   14,   14,   14},
    {28,   640,  1,   12, 512,   6710887,   12,   12,   12,   12},
    {29,   704,  1,   11, 448,   6100806,   11,   11,   11,   11},
    {30,   768,  1,   10, 512,   5592406,   10,   10,   10,   10},
    {31,   896,  1,    9, 128,   4793491,    9,    9,    9,    9},
    {32,  1024,  1,    8,   0,   4194304,    8,    8,    8,    8},
    {33,  1152,  1,    7, 128,   3728271,    7,    7,    7,    7},
    {34,  1280,  1,    6, 512,   3355444,    6,    6,    6,    6},
    {35,  1408,  2,   11, 896,   3050403,   11,   11,   11,   11},
    {36,  1536,  1,    5, 512,   2796203,    5,    5,    5,    5},
    {37,  1792,  2,    9, 256,   2396746,    9,    9,    9,    9},
    {38,  2048,  1,    4,   0,   2097152,    4,    4,    4,    4},
    {39,  2304,  2,    7, 256,   1864136,    7,    7,    7,    7},
    {40,  2688,  1,    3, 128,   1597831,    3,    3,    3,    3},
    {41,  3072,  3,    8,   0,   1398102,    8,    8,    8,    8},
    {42,  3200,  2,    5, 384,   1342178,    5,    5,    5,    5},
    {43,  3456,  3,    7, 384,   1242757,    7,    7,    7,    7},
    {44,  4096,  1,    2,   0,   1048576,    2,    2,    2,    2},
    {45,  4864,  3,    5, 256,    883012,    5,    5,    5,    5},
    {46,  5376,  2,    3, 256,    798916,    3,    3,    3,    3},
    {47,  6144,  3,    4,   0,    699051,    4,    4,    4,    4},
    {48,  6528,  4,    5, 128,    657931,    5,    5,    5,    5},
    {49,  6784,  5,    6, 256,    633103,    6,    6,    6,    6},
    {50,  6912,  6,    7, 768,    621379,    7,    7,    7,    7},
    {51,  8192,  1,    1,   0,    524288,    1,    1,    1,    1},
    {52,  9472,  7,    6, 512,    453439,    6,    6,    6,    6},
    {53,  9728,  6,    5, 512,    441506,    5,    5,    5,    5},
    {54, 10240,  5,    4,   0,    419431,    4,    4,    4,    4},
    {55, 10880,  4,    3, 128,    394759,    3,    3,    3,    3},
    {56, 12288,  3,    2,   0,    349526,    2,    2,    2,    2},
    {57, 13568,  5,    3, 256,    316552,    3,    3,    3,    3},
    {58, 14336,  7,    4,   0,    299594,    4,    4,    4,    4},
    {59, 16384,  2,    1,   0,    262144,    1,    1,    1,    1},
    {60, 18432,  9,    4,   0,    233017,    4,    4,    4,    4},
    {61, 19072,  7,    3, 128,    225198,    3,    3,    3,    3},
    {62, 20480,  5,    2,   0,    209716,    2,    2,    2,    2},
    {63, 21760,  8,    3, 256,    197380,    3,    3,    3,    3},
    {64, 24576,  3,    1,   0,    174763,    1,    1,    1,    1},
    {65, 27264, 10,    3, 128,    157533,    3,    3,    3,    3},
    {66, 28672,  7,    2,   0,    149797,    2,    2,    2,    2},
    {67, 32768,  4,    1,   0,    131072,    1,    1,    1,    1},
};

/* §1.5 notes: SizeClassToNPages, index 0..67. */
static const unsigned spec_npages[] = {
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3,
    4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8,
    3, 10, 7, 4,
};

/* §1.6 SizeToSizeClass8, 129 entries. */
static const unsigned spec_class8[] = {
    0, 1, 2, 3, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10,
    10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15, 16, 16, 17, 17, 18,
    18, 19, 19, 19, 19, 20, 20, 20, 20, 21, 21, 21, 21, 22, 22, 22,
    22, 23, 23, 23, 23, 24, 24, 24, 24, 25, 25, 25, 25, 26, 26, 26,
    26, 27, 27, 27, 27, 27, 27, 27, 27, 28, 28, 28, 28, 28, 28, 28,
    28, 29, 29, 29, 29, 29, 29, 29, 29, 30, 30, 30, 30, 30, 30, 30,
    30, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
    32,
};

/* §1.6 SizeToSizeClass128, 249 entries. */
static const unsigned spec_class128[] = {
    32, 33, 34, 35, 36, 37, 37, 38, 38, 39, 39, 40, 40, 40, 41, 41,
    41, 42, 43, 43, 44, 44, 44, 44, 44, 45, 45, 45, 45, 45, 45, 46,
    46, 46, 46, 47, 47, 47, 47, 47, 47, 48, 48, 48, 49, 49, 50, 51,
    51, 51, 51, 51, 51, 51, 51, 51, 51, 52, 52, 52, 52, 52, 52, 52,
    52, 52, 52, 53, 53, 54, 54, 54, 54, 55, 55, 55, 55, 55, 56, 56,
    56, 56, 56, 56, 56, 56, 56, 56, 56, 57, 57, 57, 57, 57, 57, 57,
    57, 57, 57, 58, 58, 58, 58, 58, 58, 59, 59, 59, 59, 59, 59, 59,
    59, 59, 59, 59, 59, 59, 59, 59, 59, 60, 60, 60, 60, 60, 60, 60,
    60, 60, 60, 60, 60, 60, 60, 60, 60, 61, 61, 61, 61, 61, 62, 62,
    62, 62, 62, 62, 62, 62, 62, 62, 62, 63, 63, 63, 63, 63, 63, 63,
    63, 63, 63, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 65, 65, 65, 65, 65, 65, 65,
    65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 67, 67, 67, 67, 67, 67, 67,
    67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67,
    67, 67, 67, 67, 67, 67, 67, 67, 67,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_class_table(void)
{
    CHECK_EQ(COUNT(spec_table), GA_NUM_CLASSES - 1);
    CHECK_EQ(COUNT(spec_npages), GA_NUM_CLASSES);

    /* Class 0 is the dummy that large spans use. */
    CHECK_EQ(ga_class_to_size[0], 0);
    CHECK_EQ(ga_class_to_npages[0], 0);
    CHECK_EQ(ga_class_to_divmagic[0], 0);
    for (int gt = 0; gt <= 1; gt++) {
        for (int noscan = 0; noscan <= 1; noscan++) {
            CHECK_EQ(ga_class_nelems(0, noscan, gt), 1);
            CHECK_EQ(ga_class_reserve(0, noscan, gt), 0);
        }
    }

    for (unsigned c = 0; c < GA_NUM_CLASSES; c++)
        CHECK(ga_class_to_npages[c] == spec_npages[c], "class %u npages %u, spec %u", c,
              (unsigned)ga_class_to_npages[c], spec_npages[c]);

    for (size_t i = 0; i < COUNT(spec_table); i++) {
        const struct spec_row *r = &spec_table[i];
        unsigned c = r->cls;
        CHECK(c == i + 1, "spec row %zu is class %u", i, c);
        if (c == 0 || c >= GA_NUM_CLASSES)
            continue;
        size_t size = ga_class_to_size[c];
        size_t span = (size_t)ga_class_to_npages[c] * GA_PAGE_SIZE;
        CHECK(size == r->size, "class %u size %zu, spec %u", c, size, r->size);
        CHECK(ga_class_to_npages[c] == r->npages, "class %u npages %u, spec %u", c,
              (unsigned)ga_class_to_npages[c], r->npages);
        CHECK(ga_class_to_divmagic[c] == r->divmagic, "class %u magic %u, spec %u", c,
              (unsigned)ga_class_to_divmagic[c], (unsigned)r->divmagic);
        if (size == 0)
            continue;
        CHECK(span / size == r->objects, "class %u objects %zu, spec %u", c, span / size,
              r->objects);
        CHECK(span % size == r->tail_waste, "class %u tail %zu, spec %u", c, span % size,
              r->tail_waste);

        unsigned got[4] = {
            ga_class_nelems(c, true, true), ga_class_nelems(c, false, true),
            ga_class_nelems(c, true, false), ga_class_nelems(c, false, false),
        };
        unsigned want[4] = {r->nelems_gt_noscan, r->nelems_gt_scan, r->nelems_nogt_noscan,
                            r->nelems_nogt_scan};
        static const char *const col[4] = {"GT noscan", "GT scan", "noGT noscan", "noGT scan"};
        for (int k = 0; k < 4; k++)
            CHECK(got[k] == want[k], "class %u nelems %s = %u, spec %u", c, col[k], got[k],
                  want[k]);

        /* The objects and the trailer must fit in the span, in every configuration. */
        for (int k = 0; k < 4; k++) {
            bool noscan = (k % 2) == 0, gt = k < 2;
            size_t reserve = ga_class_reserve(c, noscan, gt);
            CHECK(got[k] * size + reserve <= span, "class %u %s overflows span", c, col[k]);
            CHECK(got[k] >= 1 && got[k] <= GA_MAX_OBJS_PER_SPAN, "class %u %s nelems %u", c,
                  col[k], got[k]);
        }
    }

    /* Reserve composition (§1.5/§2.3): inline marks 128 B for 16..512 with GT, pointer bitmap
     * spanBytes/64 for scan spans of size <= 512. */
    CHECK_EQ(ga_class_reserve(1, true, true), 0);    /* 8 B: no inline marks */
    CHECK_EQ(ga_class_reserve(1, false, true), 128); /* bitmap only */
    CHECK_EQ(ga_class_reserve(2, true, true), 128);  /* inline marks only */
    CHECK_EQ(ga_class_reserve(2, false, true), 256); /* both */
    CHECK_EQ(ga_class_reserve(2, true, false), 0);
    CHECK_EQ(ga_class_reserve(2, false, false), 128);
    CHECK_EQ(ga_class_reserve(26, false, true), 256); /* 512 B is still headerless */
    CHECK_EQ(ga_class_reserve(27, false, true), 0);   /* 576 B has a malloc header */
    CHECK_EQ(ga_class_reserve(27, true, true), 0);
    CHECK_EQ(ga_class_nelems(GA_NUM_CLASSES, true, true), 0); /* out of range: nothing */

    /* Constants the header states, against the table. */
    unsigned max_objs = 0, max_npages = 0;
    for (unsigned c = 1; c < GA_NUM_CLASSES; c++) {
        unsigned objs = (unsigned)(ga_class_to_npages[c] * GA_PAGE_SIZE / ga_class_to_size[c]);
        if (objs > max_objs)
            max_objs = objs;
        if (ga_class_to_npages[c] > max_npages)
            max_npages = ga_class_to_npages[c];
        CHECK(ga_class_to_size[c] > ga_class_to_size[c - 1], "class %u not increasing", c);
    }
    CHECK_EQ(max_objs, GA_MAX_OBJS_PER_SPAN);
    CHECK_EQ(max_npages, GA_MAX_CLASS_NPAGES);
    CHECK_EQ(ga_class_to_size[GA_NUM_CLASSES - 1], GA_MAX_SMALL_SIZE);
    CHECK_EQ(ga_size_to_class(GA_TINY_SIZE), GA_TINY_SIZE_CLASS);
    CHECK_EQ(ga_make_spanclass(GA_TINY_SIZE_CLASS, true), GA_TINY_SPAN_CLASS);
}

static void test_lookup_tables(void)
{
    CHECK_EQ(COUNT(spec_class8), COUNT(ga_size_to_class8));
    CHECK_EQ(COUNT(spec_class128), COUNT(ga_size_to_class128));
    CHECK_EQ(COUNT(ga_size_to_class8), 129);
    CHECK_EQ(COUNT(ga_size_to_class128), 249);
    for (size_t i = 0; i < COUNT(spec_class8) && i < COUNT(ga_size_to_class8); i++)
        CHECK(ga_size_to_class8[i] == spec_class8[i], "SizeToSizeClass8[%zu] = %u, spec %u", i,
              (unsigned)ga_size_to_class8[i], spec_class8[i]);
    for (size_t i = 0; i < COUNT(spec_class128) && i < COUNT(ga_size_to_class128); i++)
        CHECK(ga_size_to_class128[i] == spec_class128[i], "SizeToSizeClass128[%zu] = %u, spec %u",
              i, (unsigned)ga_size_to_class128[i], spec_class128[i]);

    /* Every small request maps to the smallest class that holds it (found here by a linear
     * search, independent of both tables). */
    unsigned bad = 0, first_bad = 0;
    for (size_t size = 1; size <= GA_MAX_SMALL_SIZE; size++) {
        unsigned want = 1;
        while (ga_class_to_size[want] < size)
            want++;
        if (ga_size_to_class(size) != want && bad++ == 0)
            first_bad = (unsigned)size;
    }
    CHECK(bad == 0, "%u sizes map to the wrong class, first %u", bad, first_bad);

    /* §1.2: 1017..1024 go through the 128-table with an unsigned wraparound to index 0. */
    for (size_t size = 1017; size <= 1024; size++)
        CHECK(ga_size_to_class(size) == 32, "size %zu -> class %u", size, ga_size_to_class(size));
    CHECK_EQ(ga_size_to_class(1016), 32);
    CHECK_EQ(ga_size_to_class(1025), 33);
    CHECK_EQ(ga_size_to_class(32760), 67);
    CHECK_EQ(ga_size_to_class(32768), 67);
}

/* §1.3: which path mallocgc takes, and with which class. */
enum path { TINY, SMALL, LARGE };
struct dispatch {
    enum path path;
    unsigned cls;    /* SMALL: size class; TINY: the tiny class */
    size_t npages;   /* LARGE: span pages */
};

static struct dispatch mallocgc_dispatch(size_t size, bool noscan)
{
    struct dispatch d = {SMALL, 0, 0};
    if (size > GA_SMALL_CUTOFF) {
        d.path = LARGE;
        d.npages = (size + GA_PAGE_SIZE - 1) / GA_PAGE_SIZE;
    } else if (noscan && size < GA_TINY_SIZE) {
        d.path = TINY;
        d.cls = GA_TINY_SIZE_CLASS;
    } else if (noscan) {
        d.cls = ga_size_to_class(size);
    } else if (size <= GA_MIN_SIZE_FOR_HEADER) {
        d.cls = ga_size_to_class8[(size + GA_SMALL_SIZE_DIV - 1) / GA_SMALL_SIZE_DIV];
    } else {
        d.cls = ga_size_to_class(size + GA_MALLOC_HEADER);
    }
    return d;
}

/* §1.4 worked vectors. For LARGE the class field holds npages. */
struct vector {
    size_t size;
    enum path noscan_path;
    unsigned noscan_cls;
    enum path scan_path;
    unsigned scan_cls;
    size_t round_noscan, round_scan;
};
static const struct vector vectors[] = {
    {1, TINY, 0, SMALL, 1, 8, 8},
    {8, TINY, 0, SMALL, 1, 8, 8},
    {9, TINY, 0, SMALL, 2, 16, 16},
    {15, TINY, 0, SMALL, 2, 16, 16},
    {16, SMALL, 2, SMALL, 2, 16, 16},
    {17, SMALL, 3, SMALL, 3, 24, 24},
    {24, SMALL, 3, SMALL, 3, 24, 24},
    {25, SMALL, 4, SMALL, 4, 32, 32},
    {33, SMALL, 5, SMALL, 5, 48, 48},
    {512, SMALL, 26, SMALL, 26, 512, 512},
    {513, SMALL, 27, SMALL, 27, 576, 568},
    {1016, SMALL, 32, SMALL, 32, 1024, 1016},
    {1017, SMALL, 32, SMALL, 33, 1024, 1144},
    {1152, SMALL, 33, SMALL, 34, 1152, 1272},
    {2048, SMALL, 38, SMALL, 39, 2048, 2296},
    {9000, SMALL, 52, SMALL, 52, 9472, 9464},
    {32760, SMALL, 67, SMALL, 67, 32768, 32760},
    {32761, LARGE, 4, LARGE, 4, 32768, 32768},
    {32768, LARGE, 4, LARGE, 4, 32768, 32768},
    {32769, LARGE, 5, LARGE, 5, 40960, 40960},
    {100000, LARGE, 13, LARGE, 13, 106496, 106496},
};

static void test_vectors(void)
{
    for (size_t i = 0; i < COUNT(vectors); i++) {
        const struct vector *v = &vectors[i];
        for (int noscan = 0; noscan <= 1; noscan++) {
            struct dispatch d = mallocgc_dispatch(v->size, noscan);
            enum path want_path = noscan ? v->noscan_path : v->scan_path;
            unsigned want = noscan ? v->noscan_cls : v->scan_cls;
            const char *kind = noscan ? "noscan" : "scan";
            CHECK(d.path == want_path, "size %zu %s: path %d, spec %d", v->size, kind, d.path,
                  want_path);
            if (want_path == SMALL)
                CHECK(d.cls == want, "size %zu %s: class %u, spec %u", v->size, kind, d.cls,
                      want);
            if (want_path == LARGE)
                CHECK(d.npages == want, "size %zu %s: %zu pages, spec %u", v->size, kind,
                      d.npages, want);
        }
        CHECK(ga_roundupsize(v->size, true) == v->round_noscan,
              "roundupsize(%zu, noscan) = %zu, spec %zu", v->size, ga_roundupsize(v->size, true),
              v->round_noscan);
        CHECK(ga_roundupsize(v->size, false) == v->round_scan,
              "roundupsize(%zu, scan) = %zu, spec %zu", v->size, ga_roundupsize(v->size, false),
              v->round_scan);
    }
    /* Span classes named in §1.4: size 16 is spc 5 noscan, 4 scan. */
    CHECK_EQ(ga_make_spanclass(2, true), 5);
    CHECK_EQ(ga_make_spanclass(2, false), 4);
    for (unsigned c = 0; c < GA_NUM_CLASSES; c++) {
        for (int noscan = 0; noscan <= 1; noscan++) {
            ga_spanclass sc = ga_make_spanclass(c, noscan);
            CHECK(sc < GA_NUM_SPAN_CLASSES && ga_spanclass_sizeclass(sc) == c &&
                      ga_spanclass_noscan(sc) == (bool)noscan,
                  "spanclass round trip %u/%d", c, noscan);
        }
    }

    /* Every small request: the slot it gets holds it, and is the smallest class that does
     * (after the header, for scan requests above 512 B). */
    unsigned bad = 0;
    size_t first_bad = 0;
    for (size_t size = 1; size <= GA_SMALL_CUTOFF; size++) {
        for (int noscan = 0; noscan <= 1; noscan++) {
            size_t hdr = (!noscan && size > GA_MIN_SIZE_FOR_HEADER) ? GA_MALLOC_HEADER : 0;
            unsigned c = 1;
            while (ga_class_to_size[c] < size + hdr)
                c++;
            if (ga_roundupsize(size, noscan) != ga_class_to_size[c] - hdr && bad++ == 0)
                first_bad = size;
        }
    }
    CHECK(bad == 0, "%u wrong roundupsize results, first at size %zu", bad, first_bad);

    /* Large: page multiples; unchanged when rounding up would overflow. */
    CHECK_EQ(ga_roundupsize(0, true), 0);
    CHECK_EQ(ga_roundupsize(40960, false), 40960);
    size_t top_page = SIZE_MAX & ~(GA_PAGE_SIZE - 1);
    CHECK_EQ(ga_roundupsize(top_page, true), top_page);
    CHECK_EQ(ga_roundupsize(top_page + 1, true), top_page + 1);
    CHECK_EQ(ga_roundupsize(SIZE_MAX, false), SIZE_MAX);
    CHECK_EQ(ga_roundupsize(top_page - GA_PAGE_SIZE + 1, true), top_page);
}

/* §1.1 step 7: objIndex = (offset * magic) >> 32 must equal offset / size for every offset in
 * the span, including the one-past-the-end offset npages*8192. */
static void test_divmagic(void)
{
    for (unsigned c = 1; c < GA_NUM_CLASSES; c++) {
        uint32_t size = ga_class_to_size[c], magic = ga_class_to_divmagic[c];
        uint32_t max = (uint32_t)(ga_class_to_npages[c] * GA_PAGE_SIZE);
        CHECK(magic == UINT32_MAX / size + 1, "class %u magic %u is not floor(2^32-1/size)+1",
              c, (unsigned)magic);
        uint32_t bad_n = 0;
        bool ok = true;
        for (uint32_t n = 0; n <= max && ok; n++) {
            if (ga_divide_by_elemsize(n, magic) != n / size) {
                ok = false;
                bad_n = n;
            }
        }
        CHECK(ok, "class %u (size %u): (n*magic)>>32 != n/size at n = %u", c, (unsigned)size,
              (unsigned)bad_n);
    }
}

#ifdef GA_MKSIZECLASSES
/* Read a whole stream into a NUL-terminated malloc'd buffer. */
static char *slurp(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (n + 1 >= cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}
#endif

/* The layout rule: a generated file says how it was made, and a test remakes it. */
static void test_regenerate(void)
{
#ifndef GA_MKSIZECLASSES
    CHECK(0, "GA_MKSIZECLASSES (path of the generator) is not defined; see alloc/tests/CMakeLists.txt");
#else
    const char *path = GA_SOURCE_DIR "/alloc/sizeclasses.c";
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s", path);
    FILE *p = popen("'" GA_MKSIZECLASSES "'", "r");
    CHECK(p != NULL, "cannot run %s", GA_MKSIZECLASSES);
    if (!f || !p) {
        if (f)
            fclose(f);
        if (p)
            pclose(p);
        return;
    }
    size_t flen = 0, glen = 0;
    char *want = slurp(f, &flen);
    char *got = slurp(p, &glen);
    fclose(f);
    int status = pclose(p);
    CHECK(status == 0, "%s exited with status %d", GA_MKSIZECLASSES, status);
    CHECK(want && got, "out of memory reading the tables");
    if (want && got) {
        bool same = flen == glen && memcmp(want, got, flen) == 0;
        if (!same) {
            /* Point at the first differing line so the failure says what changed. */
            size_t i = 0, line = 1;
            while (i < flen && i < glen && want[i] == got[i]) {
                if (want[i] == '\n')
                    line++;
                i++;
            }
            fprintf(stderr, "alloc/sizeclasses.c differs from the generator output at line %zu; "
                            "regenerate with build/bin/mksizeclasses > alloc/sizeclasses.c\n",
                    line);
        }
        CHECK(same, "checked-in %zu bytes vs generated %zu bytes", flen, glen);
    }
    free(want);
    free(got);
#endif
}

int main(void)
{
    test_class_table();
    test_lookup_tables();
    test_vectors();
    test_divmagic();
    test_regenerate();
    TEST_MAIN_END();
}
