/*
 * tlsmod.c — a module the conformance test dlopens: its large thread-local block is
 * dynamic TLS, which glibc allocates with malloc (from __tls_get_addr) on each thread's
 * first access, inside the dynamic linker's code; its constructor allocates too.
 */
#include <stdlib.h>
#include <string.h>

static __thread char big[100000];
static __thread int counter;
static char *ctor_copy;

__attribute__((constructor)) static void tlsmod_init(void)
{
    ctor_copy = malloc(4096);
    if (ctor_copy) memset(ctor_copy, 1, 4096);
}

__attribute__((destructor)) static void tlsmod_fini(void)
{
    free(ctor_copy);
}

int tlsmod_touch(int i);
int tlsmod_touch(int i)
{
    size_t at = (size_t)i * 997 % sizeof big;
    big[at] = (char)i;
    counter++;
    return i * 2 + 1 + (big[at] != (char)i) + (ctor_copy == NULL);
}
