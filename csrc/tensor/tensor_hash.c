// rc's tensor hash (hash_tensor in rc's Python utilities): separators, shape, dtype tag and
// device, then the elements exactly as numpy's tobytes() lays them out (C order), streamed
// from any strided or broadcast layout through a small buffer instead of a full copy.
// bfloat16, which rc cannot hash (its table has no tag and numpy has no bfloat16), is hashed
// the same way with the tag "bfloat16" and its elements' 16 bits.
#include "tensor/tensor_hash.h"

#include <string.h>

#include "util/blake3.h"

// The separators rc hashes before the shape, the dtype and the data.
static const char SEP_SHAPE[] = "c3c5ce3e-7d06-4939-8340-2a7e6b2984b4";
static const char SEP_DTYPE[] = "fb782993-5fe7-43ac-acc2-d57fb429c2fc";
static const char SEP_DATA[] = "9430f5c7-3c58-4339-b863-5449a4d74ee6";

// Strided elements and short runs are gathered into a buffer this large before hashing;
// contiguous runs at least DIRECT_RUN_BYTES long are hashed in place. Flushes end on BLAKE3's
// 1024-byte chunk boundaries, so the hasher takes whole chunks straight from the buffer.
#define GATHER_BYTES 16384
#define DIRECT_RUN_BYTES 65536
#define HASH_CHUNK 1024

typedef struct {
    cc_blake3 *h;
    uint64_t pos; // bytes given to h so far
    size_t len;   // bytes waiting in buf
    size_t limit; // flush when len reaches this: the last chunk boundary within buf
    uint8_t buf[GATHER_BYTES];
} sink;

static void
sink_feed(sink *s, const void *p, size_t n)
{
    cc_blake3_update(s->h, p, n);
    s->pos += n;
}

static void
sink_flush(sink *s)
{
    if (s->len > 0) {
        sink_feed(s, s->buf, s->len);
        s->len = 0;
    }
    s->limit = GATHER_BYTES - (size_t)(s->pos % HASH_CHUNK);
}

// n contiguous bytes at p.
static void
sink_run(sink *s, const uint8_t *p, size_t n)
{
    if (n >= DIRECT_RUN_BYTES) {
        sink_flush(s);
        sink_feed(s, p, n);
        sink_flush(s);
        return;
    }
    while (n > 0) {
        size_t take = s->limit - s->len;
        if (take > n) {
            take = n;
        }
        memcpy(s->buf + s->len, p, take);
        s->len += take;
        p += take;
        n -= take;
        if (s->len == s->limit) {
            sink_flush(s);
        }
    }
}

// n elements of E bytes, step bytes apart (0 on a broadcast axis, negative when reversed).
// A macro so that each element size gets a fixed-size copy.
#define GATHER_ROW(E)                                                                              \
    do {                                                                                           \
        for (int64_t i = 0; i < n; i++) {                                                          \
            if (s->len + (E) > s->limit) {                                                         \
                sink_flush(s);                                                                     \
            }                                                                                      \
            memcpy(s->buf + s->len, p + i * step, (E));                                            \
            s->len += (E);                                                                         \
        }                                                                                          \
    } while (0)

static void
sink_row(sink *s, const uint8_t *p, int64_t n, int64_t step, size_t esize)
{
    switch (esize) {
    case 1:
        GATHER_ROW(1);
        break;
    case 2:
        GATHER_ROW(2);
        break;
    case 4:
        GATHER_ROW(4);
        break;
    case 8:
        GATHER_ROW(8);
        break;
    default:
        GATHER_ROW(esize);
        break;
    }
}

// The elements of t in C order. Axes of length 1 are dropped and neighbours that step
// through memory as one axis are merged, so a contiguous tensor is a single run.
static void
hash_elements(sink *s, const cc_tensor *t)
{
    int64_t esize = (int64_t)cc_dtype_size(t->dtype);
    int64_t shape[CC_MAX_NDIM], step[CC_MAX_NDIM];
    int nd = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] == 0) {
            return;
        }
    }
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] == 1) {
            continue;
        }
        int64_t bytes = t->strides[d] * esize;
        if (nd > 0 && step[nd - 1] == bytes * t->shape[d]) {
            shape[nd - 1] *= t->shape[d];
            step[nd - 1] = bytes;
        } else {
            shape[nd] = t->shape[d];
            step[nd] = bytes;
            nd++;
        }
    }
    const uint8_t *base = t->data;
    if (nd == 0) {
        sink_feed(s, base, (size_t)esize);
        return;
    }
    sink_flush(s);
    int64_t n = shape[nd - 1];
    int64_t inner = step[nd - 1];
    // Odometer over the outer axes; offsets in bytes from base, formed into a pointer only
    // where an element is read.
    int64_t idx[CC_MAX_NDIM] = {0};
    int64_t off = 0;
    for (;;) {
        if (inner == esize) {
            sink_run(s, base + off, (size_t)(n * esize));
        } else {
            sink_row(s, base + off, n, inner, (size_t)esize);
        }
        int d = nd - 2;
        while (d >= 0) {
            idx[d]++;
            off += step[d];
            if (idx[d] < shape[d]) {
                break;
            }
            off -= step[d] * shape[d];
            idx[d] = 0;
            d--;
        }
        if (d < 0) {
            break;
        }
    }
    sink_flush(s);
}

void
cc_tensor_hash(const cc_tensor *t, uint8_t out[32])
{
    cc_blake3 h;
    cc_blake3_init(&h);
    sink s;
    s.h = &h;
    s.pos = 0;
    s.len = 0;
    s.limit = GATHER_BYTES;
    sink_feed(&s, SEP_SHAPE, sizeof(SEP_SHAPE) - 1);
    for (int d = 0; d < t->ndim; d++) {
        // Each size as 8 bytes, big-endian, two's complement.
        uint64_t v = (uint64_t)t->shape[d];
        uint8_t be[8];
        for (int k = 0; k < 8; k++) {
            be[k] = (uint8_t)(v >> (56 - 8 * k));
        }
        sink_feed(&s, be, sizeof(be));
    }
    sink_feed(&s, SEP_DTYPE, sizeof(SEP_DTYPE) - 1);
    const char *tag = cc_dtype_hash_name(t->dtype);
    sink_feed(&s, tag, strlen(tag));
    // rc hashes str(tensor.device); the elements are read here, so the tensor is on the CPU.
    sink_feed(&s, "cpu", 3);
    sink_feed(&s, SEP_DATA, sizeof(SEP_DATA) - 1);
    hash_elements(&s, t);
    cc_blake3_final(&h, out, 32);
}
