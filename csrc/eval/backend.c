// The backend registry: one slot per (device kind, index), the CPU backend's filled from the
// start, the others by the extensions that bring a device (circuits._circuits_cuda); and the
// table of core functions those extensions reach through a capsule.
#include <stdatomic.h>
#include <stdio.h>

#include "eval/backend.h"
#include "eval/eval_impl.h"

// Written at import with the GIL held, read by evaluation threads without it.
static _Atomic(const cc_backend *) registry[CC_DEVICE_KIND_COUNT][CC_BACKEND_MAX_DEVICES] = {
    [CC_DEVICE_CPU] = {[0] = &cc_cpu_backend},
};

const char *
cc_device_kind_name(cc_device_kind kind)
{
    switch (kind) {
    case CC_DEVICE_CPU:
        return "cpu";
    case CC_DEVICE_CUDA:
        return "cuda";
    }
    return "unknown";
}

void
cc_device_describe(cc_device device, char *buf, size_t cap)
{
    if (device.kind == CC_DEVICE_CPU && device.index == 0) {
        snprintf(buf, cap, "cpu");
    } else {
        snprintf(buf, cap, "%s:%d", cc_device_kind_name(device.kind), device.index);
    }
}

static int
slot_valid(cc_device device)
{
    return (int)device.kind >= 0 && (int)device.kind < CC_DEVICE_KIND_COUNT && device.index >= 0 &&
           device.index < CC_BACKEND_MAX_DEVICES;
}

int
cc_backend_register(const cc_backend *b)
{
    cc_device device = {b->device, b->device_index};
    char desc[64];
    cc_device_describe(device, desc, sizeof desc);
    if (!slot_valid(device)) {
        return cc_fail(CC_E_PY_VALUE, "backend '%s': device %s is out of range", b->name, desc);
    }
    const cc_backend *expected = NULL;
    if (!atomic_compare_exchange_strong(&registry[device.kind][device.index], &expected, b)) {
        return cc_fail(CC_E_PY_VALUE, "backend '%s': device %s already has backend '%s'", b->name,
                       desc, expected->name);
    }
    return 0;
}

const cc_backend *
cc_backend_get(cc_device device)
{
    const cc_backend *b = NULL;
    if (slot_valid(device)) {
        b = atomic_load_explicit(&registry[device.kind][device.index], memory_order_acquire);
    }
    if (b == NULL) {
        char desc[64];
        cc_device_describe(device, desc, sizeof desc);
        const char *hint = device.kind == CC_DEVICE_CUDA
                               ? ": the CUDA extension circuits._circuits_cuda is not built, or "
                                 "found no such GPU"
                               : "";
        return cc_fail_null(CC_E_TENSOR_EVAL_DEVICE_UNAVAILABLE,
                            "no evaluation backend for device %s%s", desc, hint);
    }
    return b;
}

const cc_backend *
cc_backend_cpu(void)
{
    return &cc_cpu_backend;
}

int
cc_backend_list(const cc_backend **out, int cap)
{
    int n = 0;
    for (int k = 0; k < CC_DEVICE_KIND_COUNT; k++) {
        for (int i = 0; i < CC_BACKEND_MAX_DEVICES; i++) {
            const cc_backend *b = atomic_load_explicit(&registry[k][i], memory_order_acquire);
            if (b != NULL) {
                if (n < cap) {
                    out[n] = b;
                }
                n++;
            }
        }
    }
    return n;
}

int
cc_backend_supports(const cc_backend *b, const cc_node *n)
{
    return b->kernels[n->kind] != NULL && b->supports(b, n);
}

// The buffer is its own release owner: by the time the last reference goes, its device
// fields name the backend to hand the storage back to.
static void
release_to_backend(void *owner)
{
    cc_buffer *buf = owner;
    const cc_backend *b =
        atomic_load_explicit(&registry[buf->device][buf->device_index], memory_order_acquire);
    b->free(b, buf->data);
}

cc_buffer *
cc_backend_buffer_new(const cc_backend *b, size_t nbytes)
{
    void *data = b->alloc(b, nbytes);
    if (data == NULL) {
        return NULL;
    }
    cc_buffer *buf = cc_buffer_wrap(data, nbytes, CC_ORIGIN_NATIVE, release_to_backend, NULL);
    if (buf == NULL) {
        b->free(b, data);
        return NULL;
    }
    buf->owner = buf;
    buf->device = b->device;
    buf->device_index = b->device_index;
    return buf;
}

static const cc_backend_api api = {
    .version = CC_BACKEND_API_VERSION,
    .backend_size = sizeof(cc_backend),
    .backend_register = cc_backend_register,
    .fail = cc_fail,
    .buffer_new = cc_backend_buffer_new,
    .buffer_decref = cc_buffer_decref,
    .tensor_init_from_buffer = cc_tensor_init_from_buffer,
};

const cc_backend_api *
cc_backend_api_get(void)
{
    return &api;
}
