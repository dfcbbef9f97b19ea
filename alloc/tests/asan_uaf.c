/*
 * asan_uaf.c — in an ASan build, galloc's manual poisoning makes a use-after-free of a
 * galloc object (small, after explicit free; large; GC-reclaimed) an ASan report. Each
 * case runs in a child process that must die with "use-after-poison"; a read of a live
 * object must not. Registered only when the build uses -fsanitize=address.
 */
#include "check.h"
#include "galloc.h"
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile char sink;

static int run_child(int which)
{
    int fds[2];
    if (pipe(fds)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        ga_heap *h = ga_heap_new(NULL);
        ga_cache *c = ga_cache_new(h);
        char *p;
        switch (which) {
        case 0: p = ga_alloc(c, 100, 0, GA_NOSCAN); sink = p[5]; _exit(0);            /* live: fine */
        case 1: p = ga_alloc(c, 100, 0, GA_NOSCAN); ga_free(h, p); p[5] = 1; break;   /* UAF write */
        case 2: p = ga_alloc(c, 100000, 0, GA_NOSCAN); ga_free(h, p); sink = p[9000]; break;
        case 3: p = ga_alloc(c, 48, 0, GA_NOSCAN); ga_free_local(c, p); sink = p[0]; break;
        case 4: p = ga_alloc(c, 700, 0, 0); ga_gc_begin(h); ga_gc_end(h); ga_sweep(h, SIZE_MAX); sink = p[1]; break;
        }
        _exit(0);
    }
    close(fds[1]);
    char buf[8192];
    size_t n = 0;
    ssize_t k;
    while ((k = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)k;
    buf[n] = 0;
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    bool reported = strstr(buf, "use-after-poison") != NULL;
    return (WIFEXITED(st) && WEXITSTATUS(st) == 0 && !reported) ? 0 : reported ? 1 : 2;
}

int main(void)
{
    CHECK_EQ(run_child(0), 0);
    for (int which = 1; which <= 4; which++) {
        int r = run_child(which);
        CHECK(r == 1, "case %d: use-after-free not reported by ASan (result %d)", which, r);
    }
    TEST_MAIN_END();
}
