/*
 * heap_check.h — what the allocator's unit tests share on top of check.h:
 * VERIFY(h), a check that ga_verify finds nothing (else the invariant and message), and
 * misuse_log, a ga_set_error_handler callback that counts the reports it gets and keeps
 * the last status (pass a misuse_log * as the handler's context).
 */
#ifndef GA_HEAP_CHECK_H
#define GA_HEAP_CHECK_H
#include "check.h"
#include "galloc.h"

#define VERIFY(h) do {                                                        \
    ga_report r_;                                                             \
    int rc_ = ga_verify((h), &r_);                                            \
    CHECK(rc_ == 0, "ga_verify: %d %s: %s", rc_, r_.invariant, r_.message);  \
} while (0)

typedef struct misuse_log {
    unsigned n;             /* reports so far */
    ga_status last;         /* status of the last one */
} misuse_log;

static inline void misuse_log_record(void *ctx, ga_status st, const void *p, const char *what)
{
    misuse_log *m = ctx;
    (void)p;
    CHECK(what && *what, "a misuse report without a message");
    m->n++;
    m->last = st;
}
#endif
