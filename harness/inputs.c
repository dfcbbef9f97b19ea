/*
 * inputs.c — walking the inputs named on a command line, for every tool that replays files
 * (galloc-replay, the fuzz targets' standalone driver): gh_walk_inputs (harness.h).
 * Owns only the walk: a file is visited as it is; a directory recursively, its entries in
 * strcmp order (the same order on every machine), dot files and *.md (the notes stored next
 * to reproducers) skipped, at most 32 levels deep. What a visit does and how an error is
 * reported (stat or opendir failing; --missing-ok policies) is the caller's.
 * Calls: libc (stat, opendir / readdir, qsort).
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool skip_name(const char *n)
{
    size_t l = strlen(n);
    return n[0] == '.' || (l > 3 && strcmp(n + l - 3, ".md") == 0);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static size_t walk(const gh_walker *w, const char *path, int depth)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        w->error(w->ctx, path, errno, depth);
        return 0;
    }
    if (!S_ISDIR(sb.st_mode)) {
        w->file(w->ctx, path);
        return 1;
    }
    if (depth > 32)
        return 0;
    DIR *d = opendir(path);
    if (!d) {
        w->error(w->ctx, path, errno, depth);
        return 0;
    }
    char **names = NULL;
    size_t n = 0, cap = 0, seen = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (skip_name(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        size_t pl = strlen(path), l = pl + strlen(e->d_name) + 2;
        names[n] = malloc(l);
        if (!names[n])
            break;
        snprintf(names[n], l, "%s%s%s", path, pl && path[pl - 1] == '/' ? "" : "/", e->d_name);
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        seen += walk(w, names[i], depth + 1);
        free(names[i]);
    }
    free(names);
    return seen;
}

size_t gh_walk_inputs(const gh_walker *w, const char *path) { return walk(w, path, 0); }
