/*
 * mutator.h — the structure-aware mutator of fuzz_ops inputs (mutator.c).
 */
#ifndef GALLOC_FUZZ_MUTATOR_H
#define GALLOC_FUZZ_MUTATOR_H
#include <stddef.h>
#include <stdint.h>

/* Decodes data[0..size) (binary, or text "galloc-ops 1"), applies 1..4 op-level mutations
 * (insert / delete / duplicate a block / retarget / tweak operands to interesting values /
 * flip flags / change kind / move / splice with `other` when given), re-encodes canonically
 * into data (capacity max_size) and returns the new size; 0 if nothing fit (the caller
 * falls back to byte-level mutation). Deterministic in seed. */
size_t gf_ops_mutate(uint8_t *data, size_t size, size_t max_size, uint64_t seed, const uint8_t *other,
                     size_t other_size);

/* Op-aware crossover: a prefix of a's ops, then a suffix of b's. Returns the size written. */
size_t gf_ops_crossover(const uint8_t *a, size_t asz, const uint8_t *b, size_t bsz, uint8_t *out, size_t max_size,
                        uint64_t seed);

/* One interesting allocation size / alignment (class edges, page multiples, ...). */
uint64_t gf_interesting_size(uint64_t r);
uint64_t gf_interesting_align(uint64_t r);
#endif
