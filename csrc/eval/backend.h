// The evaluation backend interface: one record per device (name, device, storage, copies
// to and from the host, a kernel per node kind, a synchronise point) and the registry the
// executor finds them in. Knows nothing of Python; also read by the CUDA extension (C++).
#pragma once

#ifdef __cplusplus
// The core's headers are C11; C++ spells their one atomic type through <atomic>.
#include <atomic>
using std::atomic_long;
extern "C" {
#endif

#include <stddef.h>

#include "nodes/node.h"
#include "tensor/tensor.h"
#include "util/error.h"

#define CC_DEVICE_KIND_COUNT 2
#define CC_BACKEND_MAX_DEVICES 16 // per device kind: "cuda:0" .. "cuda:15"

typedef struct {
    cc_device_kind kind;
    int index;
} cc_device;

typedef struct cc_backend cc_backend;

// One node: inputs[i] is child i's value, out is initialised on success. 0, or -1 with an error.
typedef int (*cc_backend_kernel)(const cc_backend *b, const cc_node *n,
                                 const cc_tensor *const *inputs, cc_tensor *out);

struct cc_backend {
    const char *name; // "cpu", "cuda"
    cc_device_kind device;
    int device_index;
    void *state; // the backend's own (a stream, a device allocator); NULL where unused
    // Storage of nbytes on the device, or NULL with CC_E_NO_MEMORY; free takes it back.
    void *(*alloc)(const cc_backend *b, size_t nbytes);
    void (*free)(const cc_backend *b, void *data);
    // nbytes from this device's src to host memory dst, and back. 0, or -1 with an error.
    int (*copy_to_host)(const cc_backend *b, void *dst, const void *src, size_t nbytes);
    int (*copy_from_host)(const cc_backend *b, void *dst, const void *src, size_t nbytes);
    // Waits until every kernel launched so far has finished. 0, or -1 with an error.
    int (*synchronize)(const cc_backend *b);
    // 1 when kernels[n->kind] can run n (its dtype, its payload), else 0.
    int (*supports)(const cc_backend *b, const cc_node *n);
    cc_backend_kernel kernels[CC_KIND_COUNT]; // NULL: the kind does not run here
};

// Adds b (borrowed; it must outlive the process) under (b->device, b->device_index).
// 0, or -1 with CC_E_PY_VALUE when the slot is out of range or taken. Call with the GIL held.
int cc_backend_register(const cc_backend *b);
// The backend of a device, or NULL with CC_E_TENSOR_EVAL_DEVICE_UNAVAILABLE. Any thread.
const cc_backend *cc_backend_get(cc_device device);
// The CPU backend, always registered.
const cc_backend *cc_backend_cpu(void);
// Up to cap registered backends into out, CPU first; returns how many there are.
int cc_backend_list(const cc_backend **out, int cap);
// 1 when b has a kernel for n's kind and its supports() accepts n.
int cc_backend_supports(const cc_backend *b, const cc_node *n);
// New buffer of nbytes from b->alloc, on b's device; its last decref hands the storage back
// to b->free. NULL with CC_E_NO_MEMORY.
cc_buffer *cc_backend_buffer_new(const cc_backend *b, size_t nbytes);
// "cpu", "cuda".
const char *cc_device_kind_name(cc_device_kind kind);
// "cpu" or "cuda:1" into buf, truncated to cap.
void cc_device_describe(cc_device device, char *buf, size_t cap);

// What another extension (circuits._circuits_cuda) may call in the core, which exports no
// symbols: the bindings publish this table as the capsule circuits._circuits._backend_api.
#define CC_BACKEND_API_CAPSULE "circuits._circuits._backend_api"
#define CC_BACKEND_API_VERSION 1

typedef struct {
    int version;         // CC_BACKEND_API_VERSION the core was built with
    size_t backend_size; // sizeof(cc_backend) in the core: the kind tables agree
    int (*backend_register)(const cc_backend *b);
    int (*fail)(cc_error_kind kind, const char *fmt, ...);
    cc_buffer *(*buffer_new)(const cc_backend *b, size_t nbytes);
    void (*buffer_decref)(cc_buffer *buf);
    int (*tensor_init_from_buffer)(cc_tensor *t, cc_buffer *buf, size_t byte_offset, cc_dtype dtype,
                                   int ndim, const int64_t *shape, const int64_t *strides);
} cc_backend_api;

// The core's table, for the bindings to publish.
const cc_backend_api *cc_backend_api_get(void);

#ifdef __cplusplus
}
#endif
