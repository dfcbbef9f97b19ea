/*
 * common.c — finding reports, environment knobs (GALLOC_PLANT, ...) and a small PRNG for
 * every fuzz target and driver (see fuzz.h; the input reader gf_reader is inline there). Calls: galloc.h (ga_plant_name), libc.
 */
#include "fuzz.h"
#include "harness.h"
#include "galloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *gf_input_name;

static int plant_value = -1;

static void plant_init(void)
{
    if (plant_value >= 0)
        return;
    const char *e = getenv("GALLOC_PLANT");
    plant_value = 0;
    if (!e || !*e || strcmp(e, "none") == 0 || strcmp(e, "0") == 0)
        return;
    for (int i = 1; i < GA_PLANT_COUNT; i++) {
        if (strcmp(e, ga_plant_name(i)) == 0) {
            plant_value = i;
            return;
        }
    }
    fprintf(stderr, "galloc-fuzz: GALLOC_PLANT=%s is not a plant; known:", e);
    for (int i = 1; i < GA_PLANT_COUNT; i++)
        fprintf(stderr, " %s", ga_plant_name(i));
    fprintf(stderr, "\n");
    exit(2);
}

int gf_plant(void)
{
    plant_init();
    return plant_value;
}

const char *gf_plant_label(void)
{
    plant_init();
    return plant_value ? ga_plant_name(plant_value) : "none";
}

uint64_t gf_env_u64(const char *name, uint64_t def)
{
    const char *e = getenv(name);
    if (!e || !*e)
        return def;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(e, &end, 0);
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10, end++;
    else if (*end == 'm' || *end == 'M')
        shift = 20, end++;
    else if (*end == 'g' || *end == 'G')
        shift = 30, end++;
    if (errno || *end || end == e || e[0] == '-') {
        fprintf(stderr, "galloc-fuzz: %s=%s is not a number\n", name, e);
        exit(2);
    }
    return (uint64_t)v << shift;
}

void gf_finding(const char *target, const char *sig, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)   /* one line, whatever the message holds */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "GALLOC-FINDING target=%s sig=%s plant=%s: %s", target, sig, gf_plant_label(), msg);
    if (gf_input_name)
        fprintf(stderr, " [input %s]", gf_input_name);
    fprintf(stderr, "\n");
    fflush(stderr);
    abort();
}

void gf_vfinding_at(const char *target, const char *sig, const char *where, const char *fmt, va_list ap)
{
    char msg[900];
    vsnprintf(msg, sizeof msg, fmt, ap);
    gf_finding(target, sig, "%s: %s", where, msg);
}

void gf_rng_seed(gf_rng *r, uint64_t seed)
{
    r->s = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    if (!r->s)
        r->s = 1;
}

uint64_t gf_rng_next(gf_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dull;
}

int gf_read_file(const char *path, uint8_t **data, size_t *len) { return gh_read_file(path, data, len); }
