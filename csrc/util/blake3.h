// BLAKE3 (default hash mode), written from the public specification.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define CC_BLAKE3_OUT_LEN 32

typedef struct {
    uint32_t key[8];
    uint32_t cv_stack[54 * 8]; // chaining values of completed subtrees
    uint8_t cv_stack_len;
    uint32_t chunk_cv[8];
    uint64_t chunk_counter;
    uint8_t block[64];
    uint8_t block_len;
    uint8_t blocks_compressed;
    uint32_t flags;
} cc_blake3;

void cc_blake3_init(cc_blake3 *h);
void cc_blake3_update(cc_blake3 *h, const void *data, size_t len);
// Feeds v as 8 little-endian bytes (rc's to_le_bytes of usize, i64 and f64 bit patterns).
void cc_blake3_update_u64_le(cc_blake3 *h, uint64_t v);
// Writes out_len bytes of output (extendable output); h may be updated further afterwards.
void cc_blake3_final(const cc_blake3 *h, uint8_t *out, size_t out_len);
