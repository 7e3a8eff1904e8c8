// cc_buffer: refcounted storage behind tensor views. Own memory is 64-byte aligned;
// external memory (numpy, torch, DLPack) is released through its owner's callback.
// Refcounts are atomic because evaluation threads drop views without the GIL.
//
// Large own buffers go to a small pool when freed and serve the next request of about their
// size: memory handed back to the system returns as fresh pages, which the kernel zeroes on
// first touch, and that zeroing costs about as much as an elementwise pass over the data.
#include <pthread.h>
#include <stdatomic.h>

#include "tensor/tensor.h"
#include "util/alloc.h"
#include "util/error.h"

// Buffers of at least POOL_MIN bytes are pooled, in blocks rounded up to POOL_GRAIN; the pool
// holds at most POOL_SLOTS blocks of at most POOL_KEEP_MAX bytes, POOL_TOTAL_MAX in all. A
// request takes the smallest block that fits if that wastes at most a quarter of it.
#define POOL_MIN ((size_t)1 << 20)
#define POOL_GRAIN ((size_t)64 << 10)
#define POOL_SLOTS 8
#define POOL_KEEP_MAX ((size_t)64 << 20)
#define POOL_TOTAL_MAX ((size_t)256 << 20)

typedef struct {
    void *data; // NULL: empty slot
    size_t cap;
} pool_block;

static pool_block pool[POOL_SLOTS];
static size_t pool_total;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

// A pooled block of at least *cap bytes (its size then in *cap), or NULL.
static void *
pool_take(size_t *cap)
{
    void *data = NULL;
    pthread_mutex_lock(&pool_lock);
    int best = -1;
    for (int i = 0; i < POOL_SLOTS; i++) {
        if (pool[i].data != NULL && pool[i].cap >= *cap && pool[i].cap - *cap <= pool[i].cap / 4 &&
            (best < 0 || pool[i].cap < pool[best].cap)) {
            best = i;
        }
    }
    if (best >= 0) {
        data = pool[best].data;
        *cap = pool[best].cap;
        pool_total -= pool[best].cap;
        pool[best].data = NULL;
    }
    pthread_mutex_unlock(&pool_lock);
    return data;
}

// Keeps the block when there is room; else it takes the place of the first smaller block
// whose removal makes room (recent large blocks are the likeliest to be asked for again), or
// is freed.
static void
pool_give(void *data, size_t cap)
{
    if (cap < POOL_MIN || cap > POOL_KEEP_MAX) {
        cc_free(data);
        return;
    }
    void *drop = data;
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < POOL_SLOTS && drop == data; i++) {
        if (pool[i].data == NULL && pool_total + cap <= POOL_TOTAL_MAX) {
            pool[i].data = data;
            pool[i].cap = cap;
            pool_total += cap;
            drop = NULL;
        }
    }
    for (int i = 0; i < POOL_SLOTS && drop == data; i++) {
        if (pool[i].data != NULL && pool[i].cap <= cap &&
            pool_total - pool[i].cap + cap <= POOL_TOTAL_MAX) {
            drop = pool[i].data;
            pool_total += cap - pool[i].cap;
            pool[i].data = data;
            pool[i].cap = cap;
        }
    }
    pthread_mutex_unlock(&pool_lock);
    cc_free(drop);
}

cc_buffer *
cc_buffer_new(size_t nbytes)
{
    cc_buffer *b = cc_malloc(sizeof(cc_buffer));
    if (b == NULL) {
        return NULL;
    }
    size_t cap = nbytes;
    b->data = NULL;
    if (nbytes >= POOL_MIN && nbytes <= POOL_KEEP_MAX) {
        cap = (nbytes + POOL_GRAIN - 1) & ~(POOL_GRAIN - 1);
        b->data = pool_take(&cap);
    }
    if (b->data == NULL) {
        b->data = cc_malloc_aligned(cap);
    }
    if (b->data == NULL) {
        cc_free(b);
        return NULL;
    }
    atomic_init(&b->refcount, 1);
    b->nbytes = nbytes;
    b->capacity = cap;
    b->device = CC_DEVICE_CPU;
    b->device_index = 0;
    b->origin = CC_ORIGIN_NATIVE;
    b->release = NULL;
    b->owner = NULL;
    return b;
}

// Wrapped memory with no release callback is borrowed: the last reference frees nothing.
static void
release_nothing(void *owner)
{
    (void)owner;
}

cc_buffer *
cc_buffer_wrap(void *data, size_t nbytes, cc_origin origin, void (*release)(void *), void *owner)
{
    cc_buffer *b = cc_malloc(sizeof(cc_buffer));
    if (b == NULL) {
        return NULL;
    }
    atomic_init(&b->refcount, 1);
    b->data = data;
    b->nbytes = nbytes;
    b->capacity = 0;
    b->device = CC_DEVICE_CPU;
    b->device_index = 0;
    b->origin = origin;
    b->release = release != NULL ? release : release_nothing;
    b->owner = owner;
    return b;
}

void
cc_buffer_incref(cc_buffer *b)
{
    atomic_fetch_add_explicit(&b->refcount, 1, memory_order_relaxed);
}

void
cc_buffer_decref(cc_buffer *b)
{
    if (b == NULL) {
        return;
    }
    // acq_rel: the thread that frees must see every write made through other references.
    if (atomic_fetch_sub_explicit(&b->refcount, 1, memory_order_acq_rel) != 1) {
        return;
    }
    if (b->release != NULL) {
        b->release(b->owner);
    } else {
        pool_give(b->data, b->capacity);
    }
    cc_free(b);
}
