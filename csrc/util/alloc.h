// Checked allocation: on failure these record CC_E_NO_MEMORY and return NULL.
#pragma once

#include <stddef.h>

void *cc_malloc(size_t n);
void *cc_calloc(size_t count, size_t size);
void *cc_realloc(void *p, size_t n);
// Aligned to 64 bytes (a cache line, and AVX-512 loads); free with cc_free.
void *cc_malloc_aligned(size_t n);
void cc_free(void *p);
char *cc_strdup(const char *s);
