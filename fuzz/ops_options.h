/*
 * ops_options.h — executor options shared by fuzz_ops and fuzz_ops_tool (ops_options.c).
 */
#ifndef GALLOC_FUZZ_OPS_OPTIONS_H
#define GALLOC_FUZZ_OPS_OPTIONS_H
#include <stddef.h>
#include "harness.h"

/* Harness defaults + the GALLOC_FUZZ_* knobs (default: galloc-replay --check-every 1). */
void gf_ops_options(gh_options *o);
/* The galloc-replay flags that reproduce *o ("--check-every 1 ..."). */
int gf_ops_replay_flags(const gh_options *o, char *buf, size_t n);
/* Stable de-duplication signature of a finding: "ops/<check>[/<invariant>]". */
void gf_ops_signature(const gh_finding *f, char *buf, size_t n);
#endif
