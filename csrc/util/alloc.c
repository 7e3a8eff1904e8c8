// Checked allocation. Every allocation of the core goes through here so that an
// out-of-memory condition becomes a CC_E_NO_MEMORY error, never a crash.
#define _DEFAULT_SOURCE // madvise
#include "util/alloc.h"

#include <stdatomic.h>
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

// The pool of scratch blocks: each slot holds one block or NULL, and is only ever exchanged
// atomically, so a block has one owner at a time. A block starts with its header; its data
// follows at SCRATCH_HEADER bytes, keeping the 64-byte alignment.
#define SCRATCH_SLOTS 6
#define SCRATCH_HEADER 64
#define SCRATCH_KEEP_MAX ((size_t)16 << 20) // larger blocks go back to the system

static _Atomic(void *) scratch_slots[SCRATCH_SLOTS];

static size_t
scratch_cap(const void *block)
{
    size_t cap;
    memcpy(&cap, block, sizeof cap);
    return cap;
}

// Keeps block (a base pointer) in the pool, preferring larger blocks when it is full.
static void
scratch_keep(void *block)
{
    if (scratch_cap(block) > SCRATCH_KEEP_MAX) {
        free(block);
        return;
    }
    for (int i = 0; i < SCRATCH_SLOTS && block != NULL; i++) {
        void *old = atomic_exchange(&scratch_slots[i], block);
        if (old != NULL && scratch_cap(old) > scratch_cap(block)) {
            // The slot held a larger block: put it back, carry on with what comes out.
            block = atomic_exchange(&scratch_slots[i], old);
        } else {
            block = old;
        }
    }
    free(block);
}

void *
cc_scratch_alloc(size_t n, size_t *cap)
{
    // The smallest block that fits, so that small arrays leave the large blocks to large ones.
    // Blocks put back land in slots already scanned (they are empty), so none is met twice.
    void *best = NULL;
    for (int i = 0; i < SCRATCH_SLOTS; i++) {
        void *block = atomic_exchange(&scratch_slots[i], NULL);
        if (block == NULL) {
            continue;
        }
        if (scratch_cap(block) >= n && (best == NULL || scratch_cap(block) < scratch_cap(best))) {
            void *worse = best;
            best = block;
            block = worse;
        }
        if (block != NULL) {
            scratch_keep(block);
        }
    }
    if (best != NULL) {
        *cap = scratch_cap(best);
        return (char *)best + SCRATCH_HEADER;
    }
    // Round up, so that blocks suit the next, slightly larger walks too.
    size_t size = 4096;
    while (size < n) {
        size *= 2;
    }
    void *block = aligned_alloc(64, SCRATCH_HEADER + size);
    if (block == NULL) {
        return cc_fail_null(CC_E_NO_MEMORY, "out of memory allocating %zu bytes", n);
    }
    memcpy(block, &size, sizeof size);
    *cap = size;
    return (char *)block + SCRATCH_HEADER;
}

void
cc_scratch_free(void *p)
{
    if (p != NULL) {
        scratch_keep((char *)p - SCRATCH_HEADER);
    }
}

// The capacity a growing array doubles to (from 16) until it holds need.
static size_t
doubled_cap(size_t cap, size_t need)
{
    size_t c = cap ? cap : 16;
    while (c < need) {
        c *= 2;
    }
    return c;
}

int
cc_grow(void **items, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    size_t c = doubled_cap(*cap, need);
    void *p = cc_realloc(*items, c * elem);
    if (p == NULL) {
        return -1;
    }
    *items = p;
    *cap = c;
    return 0;
}

int
cc_scratch_grow(void **items, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    size_t bytes;
    void *p = cc_scratch_alloc(doubled_cap(*cap, need) * elem, &bytes);
    if (p == NULL) {
        return -1;
    }
    if (*cap > 0) {
        memcpy(p, *items, *cap * elem);
    }
    cc_scratch_free(*items);
    *items = p;
    *cap = bytes / elem;
    return 0;
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
