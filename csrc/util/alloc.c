// Checked allocation. Every allocation of the core goes through here so that an
// out-of-memory condition becomes a CC_E_NO_MEMORY error, never a crash.
#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

void *
cc_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        return cc_fail_null(CC_E_NO_MEMORY, "out of memory allocating %zu bytes", n);
    }
    return p;
}

void *
cc_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL) {
        return cc_fail_null(CC_E_NO_MEMORY, "out of memory allocating %zu x %zu bytes", count,
                            size);
    }
    return p;
}

void *
cc_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        return cc_fail_null(CC_E_NO_MEMORY, "out of memory reallocating to %zu bytes", n);
    }
    return q;
}

void *
cc_malloc_aligned(size_t n)
{
    size_t rounded = (n + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p == NULL) {
        return cc_fail_null(CC_E_NO_MEMORY, "out of memory allocating %zu bytes", n);
    }
    return p;
}

void
cc_free(void *p)
{
    free(p);
}

char *
cc_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = cc_malloc(n);
    if (p != NULL) {
        memcpy(p, s, n);
    }
    return p;
}
