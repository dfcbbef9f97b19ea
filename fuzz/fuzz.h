/*
 * fuzz.h — what every galloc fuzz target shares (fuzz/common.c).
 *
 * A target is one C file defining LLVMFuzzerTestOneInput (and optionally
 * LLVMFuzzerInitialize). The same file is linked into three drivers:
 *   <target>            standalone.c: runs the files/directories given as arguments
 *                       (libFuzzer's regression mode), in every build — ctest replays corpora
 *                       with it;
 *   <target>.libfuzzer  clang -fsanitize=fuzzer,address,undefined (preset `fuzz`);
 *   <target>.afl*       afl_driver.c: AFL++ persistent mode, shared-memory test cases,
 *                       deferred fork server (preset `afl`; plain, cmplog and asan builds).
 *
 * Findings: gf_finding() prints ONE line
 *     GALLOC-FINDING target=<t> sig=<signature> plant=<name|none>: <details>
 * to stderr and calls abort(), so libFuzzer and AFL++ both record a crash. <signature> is
 * stable across inputs that hit the same bug (check / invariant names, never addresses):
 * campaign.sh de-duplicates crashes on it.
 *
 * Environment (read once, at the first input):
 *   GALLOC_PLANT=name    a deliberate allocator bug (ga_plant_name(): refill-off-by-one,
 *                        summary-merge, no-needzero, lost-sweep-request, cross-cache-free)
 *   GALLOC_FUZZ_CHECK_EVERY, GALLOC_FUZZ_BUDGET, GALLOC_FUZZ_NO_DIFF   (fuzz_ops only; see
 *                        fuzz/ops_options.c)
 * Calls: alloc/galloc.h (plant names), libc.
 */
#ifndef GALLOC_FUZZ_H
#define GALLOC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdarg.h>

#if defined(__GNUC__)
#define GF_NORETURN __attribute__((noreturn))
#define GF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GF_NORETURN
#define GF_PRINTF(a, b)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The libFuzzer interface every target implements. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Reports a finding (one line, see above) and aborts. `sig` must not contain spaces. */
GF_NORETURN void gf_finding(const char *target, const char *sig, const char *fmt, ...) GF_PRINTF(3, 4);

/* gf_finding for the targets that keep their own context (fuzz_span, fuzz_pagealloc): the
 * line's details are "<where>: <fmt ...>" (where: the step, op and state the target names). */
GF_NORETURN void gf_vfinding_at(const char *target, const char *sig, const char *where, const char *fmt, va_list ap)
    GF_PRINTF(4, 0);

/* Little-endian reader over a fuzz input for the structured targets (fuzz_span,
 * fuzz_pagealloc): every byte string is a valid input, bytes past the end read as 0. */
typedef struct gf_reader {
    const uint8_t *p;
    size_t n, i;
} gf_reader;
static inline unsigned gf_u8(gf_reader *r) { return r->i < r->n ? r->p[r->i++] : 0; }
static inline unsigned gf_u16(gf_reader *r) { unsigned lo = gf_u8(r); return lo | gf_u8(r) << 8; }

/* Name of the input being run (standalone driver), included in finding lines; may be NULL. */
extern const char *gf_input_name;

/* GALLOC_PLANT parsed into a ga_plant (0 if unset or "none"). An unknown name prints the
 * valid ones and exits with status 2 (a usage error, not a finding). */
int gf_plant(void);
const char *gf_plant_label(void);   /* "none" or the plant's name */

/* Integer environment variable (decimal/hex, optional k/m/g suffix); def if unset. An
 * unparsable value exits with status 2. */
uint64_t gf_env_u64(const char *name, uint64_t def);
/* Whole file into a malloc'd buffer: gh_read_file (harness.h) for the drivers that do not
 * include the harness. 0, or -1 with errno set. */
int gf_read_file(const char *path, uint8_t **data, size_t *len);

/* Small deterministic PRNG (xorshift64*), for mutators. */
typedef struct gf_rng { uint64_t s; } gf_rng;
void gf_rng_seed(gf_rng *r, uint64_t seed);
uint64_t gf_rng_next(gf_rng *r);
static inline uint64_t gf_rng_below(gf_rng *r, uint64_t n) { return n ? gf_rng_next(r) % n : 0; }

#ifdef __cplusplus
}
#endif
#endif
