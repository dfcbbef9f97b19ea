/*
 * bits.h — bit counting without a library call.
 *
 * __builtin_popcountll compiles to a call to libgcc's __popcountdi2 unless the target has
 * POPCNT (x86-64 baseline builds do not): a call per bitmap word in sweeping, statistics and
 * the checkers, and it showed in profiles of the cross-thread workload and of the fuzzers.
 * This is the branch-free SWAR count (a dozen instructions, inlined), or the instruction
 * itself where the compiler is allowed to use it. Used by alloc/ and by the harness.
 */
#ifndef GA_BITS_H
#define GA_BITS_H
#include <stdint.h>

static inline unsigned ga_popcount64(uint64_t x)
{
#if defined(__POPCNT__) || !(defined(__x86_64__) || defined(__i386__))
    return (unsigned)__builtin_popcountll(x);
#else
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
#endif
}
#endif
