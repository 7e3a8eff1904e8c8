// Checked allocation. Every allocation of the core goes through here so that an
// out-of-memory condition becomes a CC_E_NO_MEMORY error, never a crash.
#define _DEFAULT_SOURCE // madvise
#include "util/alloc.h"

#include <stdlib.h>
#include <sys/mman.h>
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

// Buffers at least this big are 2 MB aligned and asked to use huge pages: a 200 MB result
// otherwise spends tens of milliseconds in 4 KB page faults.
#define HUGE_PAGE (2u << 20)
#define HUGE_THRESHOLD (4u << 20)

void *
cc_malloc_aligned(size_t n)
{
    size_t align = n >= HUGE_THRESHOLD ? HUGE_PAGE : 64;
    size_t rounded = (n + align - 1) & ~(align - 1);
    void *p = aligned_alloc(align, rounded ? rounded : align);
    if (p == NULL) {
        return cc_fail_null(CC_E_NO_MEMORY, "out of memory allocating %zu bytes", n);
    }
#ifdef MADV_HUGEPAGE
    if (align == HUGE_PAGE) {
        madvise(p, rounded, MADV_HUGEPAGE); // advice only: failure leaves normal pages
    }
#endif
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
