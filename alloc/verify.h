/*
 * verify.h — codes of ga_report.code, one per level (galloc.h: ga_verify).
 */
#ifndef GA_VERIFY_H
#define GA_VERIFY_H
enum {
    GA_V_OK = 0,
    GA_V_BROKEN = 1,      /* the allocator recorded an internal inconsistency (e.g. zombie) */
    GA_V_SPAN = 10,       /* A1..A12, F1/F2 (pending frees), T1 (tiny blocks) */
    GA_V_CACHE = 20,      /* B1..B5 */
    GA_V_CENTRAL = 30,    /* B6, C1, C2, C5 */
    GA_V_PAGEALLOC = 40,  /* D1..D6, D8, D9 (pagealloc.c) */
    GA_V_HEAP = 50,       /* D7, D10, D11 */
    GA_V_STATS = 60,      /* E1..E8 */
};
#endif
