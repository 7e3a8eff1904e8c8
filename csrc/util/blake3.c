// BLAKE3 default hash mode with extendable output, from the public specification: the
// compression function, 1024-byte chunks of 64-byte blocks, the binary tree of parent nodes
// merged through a stack of chaining values, and the root node's output stream.
// Large updates hash whole aligned subtrees directly from the input, in parallel with OpenMP.
#include "util/blake3.h"

#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define BLOCK_LEN 64
#define CHUNK_LEN 1024

enum {
    CHUNK_START = 1 << 0,
    CHUNK_END = 1 << 1,
    PARENT = 1 << 2,
    ROOT = 1 << 3,
};

// Subtrees of at least this many chunks are split over threads; below it the start-up cost
// of a parallel region outweighs the gain.
#define PAR_MIN_CHUNKS 512
// Each thread's share of a parallel subtree is at least this many chunks.
#define PAR_PIECE_MIN_CHUNKS 128
#define PAR_MAX_PIECES 256

static const uint32_t IV[8] = {
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
};

// Message word order of each of the 7 rounds: round r applies the spec's permutation r times.
static const uint8_t SCHEDULE[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

// Byte-wise little-endian load and store: compilers turn these into single moves on
// little-endian hosts, and they stay correct elsewhere.
static inline uint32_t
load32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void
store32(uint8_t *p, uint32_t w)
{
    p[0] = (uint8_t)w;
    p[1] = (uint8_t)(w >> 8);
    p[2] = (uint8_t)(w >> 16);
    p[3] = (uint8_t)(w >> 24);
}

static inline uint32_t
rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

// The mixing function on state v with message words x, y; R rotates (scalar or lanes).
#define G(R, a, b, c, d, x, y)                                                                     \
    do {                                                                                           \
        v[a] = v[a] + v[b] + (x);                                                                  \
        v[d] = R(v[d] ^ v[a], 16);                                                                 \
        v[c] = v[c] + v[d];                                                                        \
        v[b] = R(v[b] ^ v[c], 12);                                                                 \
        v[a] = v[a] + v[b] + (y);                                                                  \
        v[d] = R(v[d] ^ v[a], 8);                                                                  \
        v[c] = v[c] + v[d];                                                                        \
        v[b] = R(v[b] ^ v[c], 7);                                                                  \
    } while (0)

// Columns, then diagonals, on the message words in round r's order.
#define ROUND(R, r)                                                                                \
    do {                                                                                           \
        const uint8_t *s = SCHEDULE[r];                                                            \
        G(R, 0, 4, 8, 12, m[s[0]], m[s[1]]);                                                       \
        G(R, 1, 5, 9, 13, m[s[2]], m[s[3]]);                                                       \
        G(R, 2, 6, 10, 14, m[s[4]], m[s[5]]);                                                      \
        G(R, 3, 7, 11, 15, m[s[6]], m[s[7]]);                                                      \
        G(R, 0, 5, 10, 15, m[s[8]], m[s[9]]);                                                      \
        G(R, 1, 6, 11, 12, m[s[10]], m[s[11]]);                                                    \
        G(R, 2, 7, 8, 13, m[s[12]], m[s[13]]);                                                     \
        G(R, 3, 4, 9, 14, m[s[14]], m[s[15]]);                                                     \
    } while (0)

#define ROUNDS(R)                                                                                  \
    do {                                                                                           \
        ROUND(R, 0);                                                                               \
        ROUND(R, 1);                                                                               \
        ROUND(R, 2);                                                                               \
        ROUND(R, 3);                                                                               \
        ROUND(R, 4);                                                                               \
        ROUND(R, 5);                                                                               \
        ROUND(R, 6);                                                                               \
    } while (0)

// The 16-word state after the seven rounds; callers fold it into 8 or 16 output words.
static inline void
compress_state(uint32_t v[16], const uint32_t cv[8], const uint8_t block[BLOCK_LEN],
               uint32_t block_len, uint64_t counter, uint32_t flags)
{
    uint32_t m[16];
    for (int i = 0; i < 16; i++) {
        m[i] = load32(block + 4 * i);
    }
    for (int i = 0; i < 8; i++) {
        v[i] = cv[i];
    }
    v[8] = IV[0];
    v[9] = IV[1];
    v[10] = IV[2];
    v[11] = IV[3];
    v[12] = (uint32_t)counter;
    v[13] = (uint32_t)(counter >> 32);
    v[14] = block_len;
    v[15] = flags;
    ROUNDS(rotr);
}

// cv becomes the chaining value of this compression (the first 8 output words).
static inline void
compress_cv(uint32_t cv[8], const uint8_t block[BLOCK_LEN], uint32_t block_len, uint64_t counter,
            uint32_t flags)
{
    uint32_t v[16];
    compress_state(v, cv, block, block_len, counter, flags);
    for (int i = 0; i < 8; i++) {
        cv[i] = v[i] ^ v[i + 8];
    }
}

// The full 64-byte output of a (root) compression, as bytes.
static void
compress_xof(const uint32_t cv[8], const uint8_t block[BLOCK_LEN], uint32_t block_len,
             uint64_t counter, uint32_t flags, uint8_t out[BLOCK_LEN])
{
    uint32_t v[16];
    compress_state(v, cv, block, block_len, counter, flags);
    for (int i = 0; i < 8; i++) {
        store32(out + 4 * i, v[i] ^ v[i + 8]);
        store32(out + 32 + 4 * i, v[i + 8] ^ cv[i]);
    }
}

static void
words_to_bytes(const uint32_t *w, int n, uint8_t *out)
{
    for (int i = 0; i < n; i++) {
        store32(out + 4 * i, w[i]);
    }
}

// Chaining value of a parent node whose children have the given chaining values.
static void
parent_cv(const uint32_t key[8], const uint32_t left[8], const uint32_t right[8], uint32_t flags,
          uint32_t out[8])
{
    uint8_t block[BLOCK_LEN];
    words_to_bytes(left, 8, block);
    words_to_bytes(right, 8, block + 32);
    memcpy(out, key, 8 * sizeof(uint32_t));
    compress_cv(out, block, BLOCK_LEN, 0, flags | PARENT);
}

// Chaining value of one full, non-root chunk read straight from the input.
static void
chunk_cv(const uint32_t key[8], const uint8_t *data, uint64_t counter, uint32_t flags,
         uint32_t out[8])
{
    memcpy(out, key, 8 * sizeof(uint32_t));
    for (int b = 0; b < CHUNK_LEN / BLOCK_LEN; b++) {
        uint32_t f = flags;
        if (b == 0) {
            f |= CHUNK_START;
        }
        if (b == CHUNK_LEN / BLOCK_LEN - 1) {
            f |= CHUNK_END;
        }
        compress_cv(out, data + (size_t)b * BLOCK_LEN, BLOCK_LEN, counter, f);
    }
}

// LANES chunks side by side, one per vector lane: the same compression on vectors of words.
// GCC and Clang map these vectors onto the target's SIMD registers (SSE2 on any x86-64, NEON
// on arm64), over twice the speed of the scalar path; 8 lanes pay off only with AVX2.
#if defined(__AVX2__)
#define LANES 8
#else
#define LANES 4
#endif
typedef uint32_t lanes_u32 __attribute__((vector_size(4 * LANES)));

// A macro, not a function: vectors wider than the baseline registers may not cross calls.
#define ROTR_LANES(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

// out[l] = chaining value of the full, non-root chunk at data + l * CHUNK_LEN, number
// counter + l.
static void
chunks_cv_lanes(const uint32_t key[8], const uint8_t *data, uint64_t counter, uint32_t flags,
                uint32_t out[LANES][8])
{
    lanes_u32 cv[8], lo, hi;
    for (int i = 0; i < 8; i++) {
        cv[i] = (lanes_u32){0} + key[i];
    }
    for (int l = 0; l < LANES; l++) {
        lo[l] = (uint32_t)(counter + (uint64_t)l);
        hi[l] = (uint32_t)((counter + (uint64_t)l) >> 32);
    }
    for (int b = 0; b < CHUNK_LEN / BLOCK_LEN; b++) {
        uint32_t f = flags;
        if (b == 0) {
            f |= CHUNK_START;
        }
        if (b == CHUNK_LEN / BLOCK_LEN - 1) {
            f |= CHUNK_END;
        }
        lanes_u32 m[16], v[16];
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < LANES; l++) {
                m[j][l] = load32(data + (size_t)l * CHUNK_LEN + (size_t)b * BLOCK_LEN + 4 * j);
            }
        }
        for (int i = 0; i < 8; i++) {
            v[i] = cv[i];
        }
        for (int i = 0; i < 4; i++) {
            v[8 + i] = (lanes_u32){0} + IV[i];
        }
        v[12] = lo;
        v[13] = hi;
        v[14] = (lanes_u32){0} + (uint32_t)BLOCK_LEN;
        v[15] = (lanes_u32){0} + f;
        ROUNDS(ROTR_LANES);
        for (int i = 0; i < 8; i++) {
            cv[i] = v[i] ^ v[i + 8];
        }
    }
    for (int l = 0; l < LANES; l++) {
        for (int i = 0; i < 8; i++) {
            out[l][i] = cv[i][l];
        }
    }
}

// Chaining value of the non-root subtree of n_chunks full chunks (a power of two) that starts
// at chunk number counter, one thread. The local stack merges two equal subtrees as soon as
// the second completes, so it never holds more than one entry per bit of n_chunks.
static void
subtree_cv_serial(const uint32_t key[8], const uint8_t *data, uint64_t n_chunks, uint64_t counter,
                  uint32_t flags, uint32_t out[8])
{
    uint32_t stack[65][8];
    int len = 0;
    uint64_t i = 0;
    while (i < n_chunks) {
        uint32_t cvs[LANES][8];
        int got = 1;
        if (n_chunks - i >= LANES) {
            chunks_cv_lanes(key, data + i * CHUNK_LEN, counter + i, flags, cvs);
            got = LANES;
        } else {
            chunk_cv(key, data + i * CHUNK_LEN, counter + i, flags, cvs[0]);
        }
        for (int k = 0; k < got; k++) {
            memcpy(stack[len], cvs[k], sizeof(cvs[k]));
            len++;
            i++;
            for (uint64_t done = i; (done & 1) == 0; done >>= 1) {
                parent_cv(key, stack[len - 2], stack[len - 1], flags, stack[len - 2]);
                len--;
            }
        }
    }
    memcpy(out, stack[0], 8 * sizeof(uint32_t));
}

// As subtree_cv_serial, for subtrees of at least PAR_MIN_CHUNKS chunks: cut into equal
// power-of-two pieces hashed on separate threads, whose chaining values are merged pairwise.
static void
subtree_cv(const uint32_t key[8], const uint8_t *data, uint64_t n_chunks, uint64_t counter,
           uint32_t flags, uint32_t out[8])
{
#ifdef _OPENMP
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (threads > 1) {
        uint64_t pieces = 1;
        while (pieces < (uint64_t)threads * 4 && pieces < PAR_MAX_PIECES &&
               n_chunks / (pieces * 2) >= PAR_PIECE_MIN_CHUNKS) {
            pieces *= 2;
        }
        uint32_t cvs[PAR_MAX_PIECES][8];
        uint64_t per = n_chunks / pieces;
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int64_t i = 0; i < (int64_t)pieces; i++) {
            subtree_cv_serial(key, data + (uint64_t)i * per * CHUNK_LEN, per,
                              counter + (uint64_t)i * per, flags, cvs[i]);
        }
        for (uint64_t width = pieces; width > 1; width /= 2) {
            for (uint64_t i = 0; i < width / 2; i++) {
                parent_cv(key, cvs[2 * i], cvs[2 * i + 1], flags, cvs[i]);
            }
        }
        memcpy(out, cvs[0], 8 * sizeof(uint32_t));
        return;
    }
#endif
    subtree_cv_serial(key, data, n_chunks, counter, flags, out);
}

static int
popcount64(uint64_t x)
{
    int n = 0;
    while (x != 0) {
        x &= x - 1;
        n++;
    }
    return n;
}

// Pushes the chaining value of a completed subtree that ends after chunk total_chunks - 1,
// then merges equal-sized neighbours: the stack keeps one entry per set bit of total_chunks,
// so every entry is a complete subtree and none of them can be the root (more input follows).
static void
push_cv(cc_blake3 *h, const uint32_t cv[8], uint64_t total_chunks)
{
    memcpy(h->cv_stack + 8 * h->cv_stack_len, cv, 8 * sizeof(uint32_t));
    h->cv_stack_len++;
    int keep = popcount64(total_chunks);
    while (h->cv_stack_len > keep) {
        uint32_t *left = h->cv_stack + 8 * (h->cv_stack_len - 2);
        parent_cv(h->key, left, left + 8, h->flags, left);
        h->cv_stack_len--;
    }
}

static void
chunk_reset(cc_blake3 *h)
{
    memcpy(h->chunk_cv, h->key, sizeof(h->chunk_cv));
    memset(h->block, 0, sizeof(h->block));
    h->block_len = 0;
    h->blocks_compressed = 0;
}

void
cc_blake3_init(cc_blake3 *h)
{
    memcpy(h->key, IV, sizeof(h->key));
    h->cv_stack_len = 0;
    h->chunk_counter = 0;
    h->flags = 0;
    chunk_reset(h);
}

void
cc_blake3_update(cc_blake3 *h, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        // A full chunk is finished only now that more input has arrived: until then it might
        // have been the root.
        if ((size_t)h->blocks_compressed * BLOCK_LEN + h->block_len == CHUNK_LEN) {
            uint32_t f = h->flags | CHUNK_END | (h->blocks_compressed == 0 ? CHUNK_START : 0);
            compress_cv(h->chunk_cv, h->block, BLOCK_LEN, h->chunk_counter, f);
            h->chunk_counter++;
            push_cv(h, h->chunk_cv, h->chunk_counter);
            chunk_reset(h);
        }
        if (h->blocks_compressed == 0 && h->block_len == 0 && len > CHUNK_LEN) {
            // Whole chunks straight from the input; at least one byte stays behind for the
            // chunk state. A large subtree that the position allows goes to subtree_cv (over
            // threads), the rest LANES chunks at a time.
            uint64_t n = (len - 1) / CHUNK_LEN;
            while (n > 0) {
                uint64_t size = 1;
                while (size * 2 <= n && h->chunk_counter % (size * 2) == 0) {
                    size *= 2;
                }
                uint32_t cvs[LANES][8];
                if (size >= PAR_MIN_CHUNKS) {
                    subtree_cv(h->key, p, size, h->chunk_counter, h->flags, cvs[0]);
                    h->chunk_counter += size;
                    push_cv(h, cvs[0], h->chunk_counter);
                } else {
                    size = n >= LANES ? LANES : 1;
                    if (size == LANES) {
                        chunks_cv_lanes(h->key, p, h->chunk_counter, h->flags, cvs);
                    } else {
                        chunk_cv(h->key, p, h->chunk_counter, h->flags, cvs[0]);
                    }
                    for (uint64_t k = 0; k < size; k++) {
                        h->chunk_counter++;
                        push_cv(h, cvs[k], h->chunk_counter);
                    }
                }
                p += size * CHUNK_LEN;
                len -= size * CHUNK_LEN;
                n -= size;
            }
        }
        if (h->block_len == BLOCK_LEN) {
            uint32_t f = h->flags | (h->blocks_compressed == 0 ? CHUNK_START : 0);
            compress_cv(h->chunk_cv, h->block, BLOCK_LEN, h->chunk_counter, f);
            h->blocks_compressed++;
            memset(h->block, 0, sizeof(h->block));
            h->block_len = 0;
        }
        size_t take = BLOCK_LEN - h->block_len;
        if (take > len) {
            take = len;
        }
        memcpy(h->block + h->block_len, p, take);
        h->block_len = (uint8_t)(h->block_len + take);
        p += take;
        len -= take;
    }
}

void
cc_blake3_final(const cc_blake3 *h, uint8_t *out, size_t out_len)
{
    // The root node: its input chaining value, block, block length and flags; its counter is
    // the output block number.
    uint32_t cv[8];
    uint8_t block[BLOCK_LEN];
    uint32_t block_len = h->block_len;
    uint64_t counter = h->chunk_counter;
    uint32_t flags = h->flags | CHUNK_END | (h->blocks_compressed == 0 ? CHUNK_START : 0);
    memcpy(cv, h->chunk_cv, sizeof(cv));
    memcpy(block, h->block, sizeof(block));
    for (int i = h->cv_stack_len - 1; i >= 0; i--) {
        // The node built so far is the right child of the stack entry below it.
        uint32_t right[8];
        memcpy(right, cv, sizeof(right));
        compress_cv(right, block, block_len, counter, flags);
        words_to_bytes(h->cv_stack + 8 * i, 8, block);
        words_to_bytes(right, 8, block + 32);
        memcpy(cv, h->key, sizeof(cv));
        block_len = BLOCK_LEN;
        counter = 0;
        flags = h->flags | PARENT;
    }
    uint8_t buf[BLOCK_LEN];
    for (uint64_t k = 0; out_len > 0; k++) {
        size_t take = out_len < BLOCK_LEN ? out_len : BLOCK_LEN;
        compress_xof(cv, block, block_len, k, flags | ROOT, buf);
        memcpy(out, buf, take);
        out += take;
        out_len -= take;
    }
}

void
cc_blake3_update_u64_le(cc_blake3 *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    cc_blake3_update(h, b, 8);
}
