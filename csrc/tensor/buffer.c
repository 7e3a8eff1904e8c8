// cc_buffer: refcounted storage behind tensor views. Own memory is 64-byte aligned;
// external memory (numpy, torch, DLPack) is released through its owner's callback.
// Refcounts are atomic because evaluation threads drop views without the GIL.
#include <stdatomic.h>

#include "tensor/tensor.h"
#include "util/alloc.h"
#include "util/error.h"

cc_buffer *
cc_buffer_new(size_t nbytes)
{
    cc_buffer *b = cc_malloc(sizeof(cc_buffer));
    if (b == NULL) {
        return NULL;
    }
    b->data = cc_malloc_aligned(nbytes);
    if (b->data == NULL) {
        cc_free(b);
        return NULL;
    }
    atomic_init(&b->refcount, 1);
    b->nbytes = nbytes;
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
        cc_free(b->data);
    }
    cc_free(b);
}
