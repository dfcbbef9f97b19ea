/*
 * afl_driver.c — the AFL++ driver of a fuzz target: persistent mode with shared-memory test
 * cases (__AFL_FUZZ_TESTCASE_BUF) and a deferred fork server (__AFL_INIT), placed after
 * LLVMFuzzerInitialize so option parsing is not repeated per fork. Every input starts from
 * a fresh heap inside the target, so no state leaks from one loop iteration to the next
 * (AFL++ stability stays near 100%).
 *
 *   afl-fuzz -i IN -o OUT -- build-afl/bin/<target>.afl
 *   build-afl/bin/<target>.afl FILE...     (outside afl-fuzz: runs the files once each)
 *
 * Built only with afl-clang-fast (preset `afl`). Calls: the target's LLVMFuzzer* functions.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef __AFL_FUZZ_TESTCASE_LEN
#error "afl_driver.c must be compiled with afl-clang-fast / afl-clang-lto"
#endif

__AFL_FUZZ_INIT();

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 2;
    }
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    gf_input_name = path;
    LLVMFuzzerTestOneInput(buf, n);
    return 0;
}

int main(int argc, char **argv)
{
    LLVMFuzzerInitialize(&argc, &argv);
    if (argc > 1 && getenv("__AFL_SHM_FUZZ_ID") == NULL && getenv("__AFL_SHM_ID") == NULL) {
        int rc = 0;
        for (int i = 1; i < argc; i++)
            rc |= run_file(argv[i]);
        return rc;
    }
#ifdef __AFL_HAVE_MANUAL_CONTROL
    __AFL_INIT();
#endif
    unsigned char *buf = __AFL_FUZZ_TESTCASE_BUF;   /* after __AFL_INIT, before the loop */
    while (__AFL_LOOP(100000)) {
        int len = __AFL_FUZZ_TESTCASE_LEN;
        LLVMFuzzerTestOneInput(buf, (size_t)len);
    }
    return 0;
}
