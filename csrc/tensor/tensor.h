// cc_tensor: a strided view (dtype, device, shape, strides in elements) of a
// refcounted cc_buffer. Knows nothing of circuits or Python.
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define CC_MAX_NDIM 32

typedef enum {
#define CC_DTYPE(E, ctype, size, name, hash_name) CC_DTYPE_##E,
#include "tensor/dtypes.def"
#undef CC_DTYPE
    CC_DTYPE_COUNT
} cc_dtype;

typedef enum {
    CC_DEVICE_CPU = 0,
    CC_DEVICE_CUDA = 1,
} cc_device_kind;

// Who made the memory; the bindings export memory borrowed from numpy or torch read-only.
typedef enum {
    CC_ORIGIN_NATIVE = 0,
    CC_ORIGIN_NUMPY = 1,
    CC_ORIGIN_TORCH = 2,
} cc_origin;

typedef struct cc_buffer {
    atomic_long refcount;
    void *data;
    size_t nbytes;
    size_t capacity; // own memory: bytes allocated at data (>= nbytes); 0 for external memory
    cc_device_kind device;
    int device_index;
    cc_origin origin;
    // External memory: release(owner) runs when the last reference goes; NULL for own memory.
    void (*release)(void *owner);
    void *owner;
} cc_buffer;

typedef struct {
    cc_buffer *buf; // retained; NULL for an empty (cleared) tensor
    void *data;     // address of element [0, 0, ...] inside buf
    cc_dtype dtype;
    int ndim;
    int64_t shape[CC_MAX_NDIM];
    int64_t strides[CC_MAX_NDIM]; // in elements; 0 for broadcast axes; may be negative
} cc_tensor;

size_t cc_dtype_size(cc_dtype d);
const char *cc_dtype_name(cc_dtype d);
// The 7-byte dtype tag of rc's tensor hash (e.g. "int64--").
const char *cc_dtype_hash_name(cc_dtype d);
// float32 or float64: the dtypes the float kernels run (the half types are cast to float32
// before any kernel sees them).
int cc_dtype_is_float(cc_dtype d);
// Floating point (float16, bfloat16, float32, float64), as torch's is_floating_point.
int cc_dtype_is_floating_point(cc_dtype d);
// rc's upcast of mixed inputs, taken in order: a, unless a is float64 (then b).
cc_dtype cc_dtype_promote(cc_dtype a, cc_dtype b);
// The dtype the CPU kernels compute d in: float32 for the half types, int64 for the narrower
// integers, d itself otherwise (float32, float64, int64, bool).
cc_dtype cc_dtype_compute(cc_dtype d);

// Conversions of one value (cast.c): float32 to float16 / bfloat16 round to nearest even and
// keep infinities and NaN; the other way is exact.
uint16_t cc_f32_to_f16(float f);
float cc_f16_to_f32(uint16_t h);
uint16_t cc_f32_to_bf16(float f);
float cc_bf16_to_f32(uint16_t b);
// One element at p of dtype d, written from / read as a double (converted as a cast does).
void cc_dtype_store_f64(void *p, cc_dtype d, double value);
double cc_dtype_load_f64(const void *p, cc_dtype d);

// Buffers. New reference, or NULL with CC_E_NO_MEMORY. Memory is 64-byte aligned.
cc_buffer *cc_buffer_new(size_t nbytes);
// Wraps external CPU memory; release(owner) is called when the last reference goes.
cc_buffer *cc_buffer_wrap(void *data, size_t nbytes, cc_origin origin, void (*release)(void *),
                          void *owner);
void cc_buffer_incref(cc_buffer *b);
void cc_buffer_decref(cc_buffer *b); // NULL is a no-op

// Number of elements (1 for ndim 0).
int64_t cc_shape_numel(int ndim, const int64_t *shape);
int64_t cc_tensor_numel(const cc_tensor *t);
int cc_tensor_is_contiguous(const cc_tensor *t);

// A tensor struct the caller owns; _init_* fill it (retaining a buffer), _clear releases it.
// All return 0, or -1 with an error recorded (t is then left cleared).
void cc_tensor_clear(cc_tensor *t);
// New contiguous uninitialised tensor.
int cc_tensor_init_empty(cc_tensor *t, cc_dtype dtype, int ndim, const int64_t *shape);
int cc_tensor_init_zeros(cc_tensor *t, cc_dtype dtype, int ndim, const int64_t *shape);
// Contiguous view of an existing buffer at byte offset (retains buf).
int cc_tensor_init_from_buffer(cc_tensor *t, cc_buffer *buf, size_t byte_offset, cc_dtype dtype,
                               int ndim, const int64_t *shape, const int64_t *strides);
// dst becomes another view of src (retains its buffer).
void cc_tensor_init_view(cc_tensor *dst, const cc_tensor *src);
// 0-d tensor holding value, converted to dtype.
int cc_tensor_init_scalar(cc_tensor *t, cc_dtype dtype, double value);

// In-place view changes of t (no copy, no allocation). Axes are already canonical (>= 0).
int cc_tensor_permute(cc_tensor *t, const int *perm);
int cc_tensor_slice(cc_tensor *t, int axis, int64_t start, int64_t stop); // 0<=start<=stop<=len
int cc_tensor_select(cc_tensor *t, int axis, int64_t index);              // removes axis
int cc_tensor_unsqueeze(cc_tensor *t, int axis);
// Broadcast to shape (numpy rules, right-aligned; stride 0 on expanded axes).
int cc_tensor_broadcast_to(cc_tensor *t, int ndim, const int64_t *shape);
// View with a new shape when the strides allow it; returns 1 if it could, 0 if a copy is needed.
int cc_tensor_try_reshape_view(cc_tensor *t, int ndim, const int64_t *shape);
// Diagonal over axes a < b: removes b, axis a steps along both.
int cc_tensor_diagonal(cc_tensor *t, int a, int b);

// Copying. out is initialised by the call.
int cc_tensor_contiguous(cc_tensor *out, const cc_tensor *x); // a view if already contiguous
int cc_tensor_copy(cc_tensor *out, const cc_tensor *x);       // always a fresh contiguous copy
int cc_tensor_cast(cc_tensor *out, const cc_tensor *x, cc_dtype dtype); // view if same dtype
// Reshape: view if possible, else contiguous copy.
int cc_tensor_reshape(cc_tensor *out, const cc_tensor *x, int ndim, const int64_t *shape);
// Copies src (broadcast to dst's shape) into dst, converting dtype; dst may be strided.
int cc_tensor_copy_into(cc_tensor *dst, const cc_tensor *src);
