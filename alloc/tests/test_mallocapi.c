/*
 * test_mallocapi.c — libgalloc's malloc front end (alloc/malloc.c) in the smoke suite:
 * the file is compiled into this test in its test build (GA_MALLOC_PREFIX=gm_, entry
 * points gm_malloc, gm_free, ...; malloc_test.h), so its state (S, G) is visible here and
 * glibc stays this program's malloc. GALLOC_OPTIONS is read once per process, at the first
 * call: every scenario runs in a child made by fork before any gm_ call.
 *
 * Written for survivors of `tools/mutate.py --seed 1` (issue 17); each scenario names what
 * it catches:
 *   background scavenger   scavenge=background, scavenge_start=0: the thread is started
 *                          and returns freed memory by itself (malloc.c scavenger_start)
 *   scavenge_start         below the peak-RSS threshold nothing is returned, inline or in
 *                          the background (big_enough)
 *   thread exit            a thread's cache goes back to the heap at thread exit (the
 *                          pthread key's destructor)
 *   malloc_info / realloc  malloc_info's return value; realloc growing by a few bytes
 *                          gets room for them
 *   options without environ  GALLOC_OPTIONS found in /proc/self/environ when environ is
 *                          not set up yet (early in a process): first, later, after a long
 *                          entry, across the 4 KiB read window (find_env)
 */
#define GA_MALLOC_PREFIX gm_
#include "malloc.c"
#include "heap_check.h"
#include <sys/wait.h>

#define MiB ((size_t)1 << 20)

int gm_malloc_info(int options, FILE *fp);

static uint64_t released_bytes(void)
{
    ga_stats st;
    ga_read_stats(gm_ga_malloc_heap(), &st);
    return st.heap_released;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
}

/* 16 MiB in 1 MiB blocks, written, then freed: free dirty pages for a scavenger. */
static void churn_large(void)
{
    void *p[16];
    for (int i = 0; i < 16; i++) {
        p[i] = gm_malloc(MiB);
        CHECK(p[i] != NULL, "gm_malloc(1 MiB)");
        if (p[i]) memset(p[i], 0x5a, MiB);
    }
    for (int i = 0; i < 16; i++) gm_free(p[i]);
}

/* The background scavenger: started from an allocation slow path once the peak RSS passes
 * scavenge_start (0: at once), it runs the policy every scavenge_period ms after frees.
 * Kills malloc.c scavenger_start `if (rc == 0) {` -> `rc == 1` (no thread is created, yet
 * the state says RUNNING and nothing is returned). */
static int child_background(void)
{
    churn_large();
    CHECK_EQ(atomic_load(&S.scav), SCAV_RUNNING);
    uint64_t r0 = released_bytes();
    churn_large();
    uint64_t r1 = r0;
    for (int i = 0; i < 300 && r1 - r0 < 8 * MiB; i++) {   /* up to 3 s; 10 ms periods */
        sleep_ms(10);
        r1 = released_bytes();
    }
    CHECK(r1 - r0 >= 8 * MiB, "background scavenger released %llu bytes of 16 MiB freed (retain 0)",
          (unsigned long long)(r1 - r0));
    return check_failed ? 1 : 0;
}

/* Below scavenge_start (1 GiB here, far above this process's peak RSS) the scavenger is
 * neither started nor run inline on the free tick. Kills malloc.c big_enough
 * `if (!S.scav_start || child_restart) return true;` -> `if (S.scav_start || ...)`. */
static int child_below_start(void)
{
    churn_large();
    uint64_t r0 = released_bytes();
    churn_large();
    for (int i = 0; i < 4096; i++) gm_free(gm_malloc(64));   /* four free ticks (1024) */
    sleep_ms(50);
    CHECK_EQ(atomic_load(&S.scav), SCAV_IDLE);
    CHECK_EQ(released_bytes() - r0, 0);
    return check_failed ? 1 : 0;
}

static void *thread_body(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++) gm_free(gm_malloc(48));
    void *keep = gm_malloc(1000);
    gm_free(keep);
    return NULL;
}

static unsigned ncaches(ga_heap *h)
{
    unsigned n = 0;
    pthread_mutex_lock(&h->lock);
    for (ga_mcache *c = h->caches; c; c = c->next) n++;
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* A thread's cache is destroyed at its exit (pthread key destructor). Kills malloc.c
 * `S.have_key = pthread_key_create(...) == 0;` -> `== 1` (no key: caches leak). */
static int child_thread_exit(void)
{
    gm_free(gm_malloc(16));
    ga_heap *h = gm_ga_malloc_heap();
    unsigned n0 = ncaches(h);
    for (int k = 0; k < 3; k++) {
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, thread_body, NULL), 0);
        pthread_join(t, NULL);
    }
    CHECK_EQ(ncaches(h), n0);
    VERIFY(h);
    return check_failed ? 1 : 0;
}

/* malloc_info(0, fp) writes the XML and returns 0; other options are EINVAL. realloc to a
 * few bytes more than the usable size must give room for them (kills realloc keeping the
 * block: `PLANT(...) && n > usable` -> `||`, `n <= usable && (...)` -> `||`). */
static int child_api(void)
{
    void *p = gm_malloc(100);
    FILE *f = tmpfile();
    CHECK(f != NULL, "tmpfile");
    if (f) {
        CHECK_EQ(gm_malloc_info(0, f), 0);
        rewind(f);
        char buf[64] = "";
        CHECK(fgets(buf, sizeof buf, f) && strncmp(buf, "<malloc version=", 16) == 0, "malloc_info: %s", buf);
        errno = 0;
        CHECK(gm_malloc_info(1, f) == -1 && errno == EINVAL, "malloc_info(1): errno %d", errno);
        fclose(f);
    }
    for (size_t n = 16; n <= 4096; n = n * 2 + 8) {
        char *q = gm_malloc(n);
        CHECK(q != NULL, "malloc %zu", n);
        if (!q) continue;
        size_t u = gm_malloc_usable_size(q);
        memset(q, 0x11, u);
        for (size_t more = 1; more <= 8; more++) {
            char *r = gm_realloc(q, u + more);
            CHECK(r != NULL, "realloc");
            if (!r) break;
            CHECK(gm_malloc_usable_size(r) >= u + more, "realloc(%zu-byte block, %zu) has %zu usable", u, u + more,
                  gm_malloc_usable_size(r));
            CHECK((unsigned char)r[u - 1] == 0x11, "realloc lost the contents");
            q = r;
            u = gm_malloc_usable_size(q);
            memset(q, 0x11, u);
        }
        gm_free(q);
    }
    gm_free(p);
    return check_failed ? 1 : 0;
}

/* mallinfo2 of a heap that has grown nothing yet: no free bytes kept (arena 0, fordblks 0),
 * then the usual picture once something is allocated. Kills malloc.c mallinfo2
 * `kept > mi.uordblks ? kept - mi.uordblks : 0` -> `: 1`. */
static int child_mallinfo_fresh(void)
{
    struct mallinfo2 mi = gm_mallinfo2();   /* creates the heap, grows no arena */
    CHECK_EQ(mi.arena, 0);
    CHECK_EQ(mi.uordblks, 0);
    CHECK_EQ(mi.fordblks, 0);
    void *p = gm_malloc(100);
    mi = gm_mallinfo2();
    CHECK(mi.arena > 0 && mi.uordblks > 0 && mi.fordblks == mi.arena - mi.uordblks,
          "arena %zu uordblks %zu fordblks %zu", mi.arena, mi.uordblks, mi.fordblks);
    gm_free(p);
    return check_failed ? 1 : 0;
}

static void run_child(const char *name, const char *options, int (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: errno %d", errno);
    if (pid == 0) {
        check_failed = check_total = 0;   /* the child's verdict is its own checks only */
        if (options) setenv("GALLOC_OPTIONS", options, 1);
        else unsetenv("GALLOC_OPTIONS");
        _exit(fn());
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s (GALLOC_OPTIONS=%s): child status %#x", name,
          options ? options : "", st);
}

/* Re-executed with a made-up environment: environ is cleared (as before libc has set it up)
 * so find_env must read /proc/self/environ. Kills malloc.c find_env `memmove(env_buf,
 * env_buf + start, ...)` -> `env_buf - start` (an entry other than the first is garbled). */
static int env_child(void)
{
    extern char **environ;
    environ = NULL;
    gm_free(gm_malloc(32));
    if (!S.junk || S.scav_period_ms != 7) {
        fprintf(stderr, "env child: junk %d scavenge_period %u, want 1 and 7\n", (int)S.junk, S.scav_period_ms);
        return 1;
    }
    return 0;
}

static void test_options_from_proc(void)
{
    static char big[5000], pad[4096 - 40];
    memcpy(big, "BIG=", 4);
    memset(big + 4, 'x', sizeof big - 5);
    memcpy(pad, "PAD=", 4);
    memset(pad + 4, 'y', sizeof pad - 5);
    const char *opt = "GALLOC_OPTIONS=junk=1,scavenge_period=7";
    char *envs[4][6] = {
        { (char *)opt, NULL },
        { "A=1", "GALLOC_OPTIONS_NOT=junk=0", "B=two words", (char *)opt, "Z=", NULL },
        { big, (char *)opt, NULL },
        { "A=1", pad, (char *)opt, "Z=1", NULL },   /* straddles the first 4 KiB read */
    };
    for (int k = 0; k < 4; k++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            char *argv[] = { "alloc.mallocapi", "--env-child", NULL };
            execve("/proc/self/exe", argv, envs[k]);
            _exit(127);
        }
        int st = 0;
        CHECK(pid > 0 && waitpid(pid, &st, 0) == pid, "fork/waitpid");
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "environment %d: GALLOC_OPTIONS not read from /proc/self/environ (status %#x)",
              k, st);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--env-child") == 0) return env_child();
    test_options_from_proc();
    run_child("background scavenger", "scavenge=background,scavenge_start=0,scavenge_period=10,retain=0",
              child_background);
    run_child("below scavenge_start", "scavenge=background,scavenge_start=1g,scavenge_period=10,retain=0",
              child_below_start);
    run_child("thread exit", NULL, child_thread_exit);
    run_child("malloc_info, realloc", NULL, child_api);
    run_child("mallinfo2 of a fresh heap", NULL, child_mallinfo_fresh);
    TEST_MAIN_END();
}
