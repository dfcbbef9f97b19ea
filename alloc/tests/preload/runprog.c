/*
 * runprog.c — helper for programs.sh (the real-program tests under LD_PRELOAD).
 *
 *   runprog gen BYTES SEED                 deterministic text lines on stdout
 *   runprog run [--preload LIB] OUT CMD... run CMD with stdout to OUT (LD_PRELOAD=LIB for
 *                                          CMD only), print "wall_s cpu_s maxrss_kib status"
 *
 * CPU time is user + system of CMD and its waited-for descendants; peak RSS is ru_maxrss from wait4: the largest of CMD and every descendant it waited
 * for. runprog itself never runs under the library it measures.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *words[] = {
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "galloc", "span", "cache", "arena",
};

static int gen(unsigned long long bytes, unsigned long long seed)
{
    unsigned long long x = seed * 0x9e3779b97f4a7c15ull + 1, out = 0;
    static char buf[1 << 16];
    size_t n = 0;
    while (out < bytes) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        int len = snprintf(buf + n, sizeof buf - n, "%s %llu %s-%llx %llu\n",
                           words[x % 30], (x >> 8) % 1000000, words[(x >> 20) % 30],
                           (x >> 24) & 0xffffff, (x >> 40) % 997);
        n += (size_t)len;
        out += (unsigned long long)len;
        if (n > sizeof buf - 128) {
            if (fwrite(buf, 1, n, stdout) != n) return 1;
            n = 0;
        }
    }
    if (n && fwrite(buf, 1, n, stdout) != n) return 1;
    return 0;
}

static int run(int argc, char **argv)
{
    const char *preload = NULL;
    int i = 0;
    if (argc > 1 && strcmp(argv[0], "--preload") == 0) { preload = argv[1]; i = 2; }
    if (argc - i < 2) { fprintf(stderr, "runprog run: missing OUT or CMD\n"); return 2; }
    const char *out = argv[i++];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 2; }
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) { perror(out); _exit(126); }
        dup2(fd, 1);
        close(fd);
        if (preload) setenv("LD_PRELOAD", preload, 1);
        else unsetenv("LD_PRELOAD");
        execvp(argv[i], argv + i);
        perror(argv[i]);
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) < 0) { perror("wait4"); return 2; }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
    printf("%.3f %.3f %ld %d\n", wall, cpu, ru.ru_maxrss, status);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "gen") == 0)
        return gen(strtoull(argv[2], NULL, 10), strtoull(argv[3], NULL, 10));
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return run(argc - 2, argv + 2);
    fprintf(stderr, "usage: runprog gen BYTES SEED | runprog run [--preload LIB] OUT CMD...\n");
    return 2;
}
