/*
 * check.h — the tiny test framework shared by every unit test in the project.
 *
 * CHECK(cond, fmt, ...) records a failure with file:line and a message and carries on;
 * CHECK_EQ(a, b) compares two integers and prints both values. TEST_MAIN_END() prints
 * "N passed, N failed" and returns the exit status. No test may pass by checking
 * nothing: check_total must be non-zero at the end.
 */
#ifndef GA_CHECK_H
#define GA_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>

static unsigned long check_total, check_failed;

#define CHECK(cond, ...) do {                                               \
    check_total++;                                                          \
    if (!(cond)) {                                                          \
        check_failed++;                                                     \
        fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
        fprintf(stderr, __VA_ARGS__);                                       \
        fputc('\n', stderr);                                                \
    }                                                                       \
} while (0)

#define CHECK_EQ(a, b) do {                                                 \
    unsigned long long check_a_ = (unsigned long long)(a);                  \
    unsigned long long check_b_ = (unsigned long long)(b);                  \
    CHECK(check_a_ == check_b_, "%s = %#llx (%llu), %s = %#llx (%llu)",     \
          #a, check_a_, check_a_, #b, check_b_, check_b_);                   \
} while (0)

#define TEST_MAIN_END() do {                                                \
    if (check_total == 0) { fprintf(stderr, "no checks ran\n"); return 1; } \
    printf("%lu passed, %lu failed\n", check_total - check_failed, check_failed); \
    return check_failed ? 1 : 0;                                            \
} while (0)
#endif
