// Open-addressing map keyed by 32-byte hashes (node hashes), for memo tables,
// deduplication in evaluation plans and hash-consing.
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t key[32];
    void *value;
    int used;
} cc_hmap_slot;

typedef struct {
    cc_hmap_slot *slots;
    size_t cap; // power of two, 0 when empty
    size_t len;
} cc_hmap;

void cc_hmap_init(cc_hmap *m);
// Frees the table; values are the caller's.
void cc_hmap_clear(cc_hmap *m);
// The value stored under key, or NULL.
void *cc_hmap_get(const cc_hmap *m, const uint8_t key[32]);
// Inserts or replaces; 0, or -1 with CC_E_NO_MEMORY.
int cc_hmap_put(cc_hmap *m, const uint8_t key[32], void *value);
