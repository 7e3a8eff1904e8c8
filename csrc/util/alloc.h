// Checked allocation: on failure these record CC_E_NO_MEMORY and return NULL.
#pragma once

#include <stddef.h>

void *cc_malloc(size_t n);
void *cc_calloc(size_t count, size_t size);
void *cc_realloc(void *p, size_t n);
// Aligned to 64 bytes (a cache line, and AVX-512 loads); free with cc_free.
void *cc_malloc_aligned(size_t n);
void cc_free(void *p);

// Scratch blocks: the large temporary arrays that graph walks need on every call (memo tables,
// queues). Freed blocks are kept in a small pool for the next call instead of going back to
// the system, whose fresh pages would fault in 4 KB at a time. Safe from any thread.
// A block of at least n bytes, 64-byte aligned, its usable size in *cap; NULL with
// CC_E_NO_MEMORY. Contents are undefined.
void *cc_scratch_alloc(size_t n, size_t *cap);
// Returns a block from cc_scratch_alloc (NULL is a no-op).
void cc_scratch_free(void *p);
// Grows *items (elements of elem bytes, capacity *cap) to hold need. 0, or -1 (no memory).
int cc_grow(void **items, size_t *cap, size_t need, size_t elem);
// cc_grow for arrays that live during one walk: blocks of the scratch pool (free them
// with cc_scratch_free), so that large walks do not fault in fresh pages on every call.
int cc_scratch_grow(void **items, size_t *cap, size_t need, size_t elem);

char *cc_strdup(const char *s);
