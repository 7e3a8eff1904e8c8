// The CUDA backend's kernels. Every value this backend makes is a contiguous tensor in a
// buffer from its pool (Tag is the one view), so results can go back to the host as they
// are. Float arithmetic runs float32 and float64; data movement (Array, Index by ints and
// slices, Concat, Rearrange) runs every dtype. supports() accepts only those nodes, so any
// other fails before a kernel runs, with the executor's TensorEvalError naming the node.
//
// Strided operands are described by a `layout` (sizes and element strides, up to
// CC_MAX_NDIM axes) passed by value; axes that every operand walks contiguously are merged
// on the host first, so most launches index over one or two axes.
#include <dlfcn.h>
#include <math.h>
#include <string.h>

#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "cuda/kernels.cuh"
#include "nodes/gf.h"
#include "nodes/rearrange.h"

#ifdef CC_HAVE_CUBLAS
const int cc_cuda_has_cublas = 1;
#else
const int cc_cuda_has_cublas = 0;
#endif
int cc_cuda_allow_tf32 = 0;
int cc_cuda_array_cache_on = 0;

namespace
{

const int threads = 256;

// The core's dtype and einsum helpers are not exported; these read the same tables.
size_t
dtype_size(cc_dtype d)
{
    static const size_t sizes[] = {
#define CC_DTYPE(E, ctype, size, name, hash_name) size,
#include "tensor/dtypes.def"
#undef CC_DTYPE
    };
    return sizes[d];
}

const char *
dtype_name(cc_dtype d)
{
    static const char *const names[] = {
#define CC_DTYPE(E, ctype, size, name, hash_name) name,
#include "tensor/dtypes.def"
#undef CC_DTYPE
    };
    return names[d];
}

// Child i's labels: the einsum's in_axes hold every child's, in order.
const uint8_t *
einsum_axes(const cc_node *n, int i)
{
    int at = 0;
    for (int j = 0; j < i; j++) {
        at += n->children[j]->ndim;
    }
    return n->u.einsum.in_axes + at;
}

struct layout {
    int ndim;
    int64_t shape[CC_MAX_NDIM];
    int64_t strides[CC_MAX_NDIM];
};

__device__ int64_t
offset_of(const layout &l, int64_t i)
{
    int64_t off = 0;
    for (int d = l.ndim - 1; d >= 0; d--) {
        int64_t s = l.shape[d];
        off += (i % s) * l.strides[d];
        i /= s;
    }
    return off;
}

// Merges axes of a shape shared by n layouts (one stride array each) where every layout
// steps contiguously from one axis to the next, and drops size-1 axes.
void
collapse(int n, layout *const *ls)
{
    int ndim = ls[0]->ndim;
    int out = 0;
    for (int d = 0; d < ndim; d++) {
        int64_t size = ls[0]->shape[d];
        if (size == 1) {
            continue;
        }
        int merge = out > 0;
        for (int k = 0; merge && k < n; k++) {
            merge = ls[k]->strides[out - 1] == ls[k]->strides[d] * size;
        }
        if (merge) {
            for (int k = 0; k < n; k++) {
                ls[k]->shape[out - 1] *= size;
                ls[k]->strides[out - 1] = ls[k]->strides[d];
            }
            continue;
        }
        for (int k = 0; k < n; k++) {
            ls[k]->shape[out] = size;
            ls[k]->strides[out] = ls[k]->strides[d];
        }
        out++;
    }
    for (int k = 0; k < n; k++) {
        ls[k]->ndim = out;
    }
}

unsigned
blocks_for(int64_t n)
{
    int64_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 65536 ? (b > 0 ? b : 1) : 65536);
}

cc_dtype
eval_dtype(const cc_node *n)
{
    return n->dtype >= 0 ? (cc_dtype)n->dtype : CC_DTYPE_F64;
}

int
is_float(cc_dtype d)
{
    return d == CC_DTYPE_F32 || d == CC_DTYPE_F64;
}

// rc's upcast of a node's inputs: the first dtype that is not float64, else float64.
cc_dtype
upcast(int n, const cc_tensor *const *in)
{
    for (int i = 0; i < n; i++) {
        if (in[i]->dtype != CC_DTYPE_F64) {
            return in[i]->dtype;
        }
    }
    return CC_DTYPE_F64;
}

int
children_float(const cc_node *n)
{
    for (int i = 0; i < n->n_children; i++) {
        if (!is_float(eval_dtype(n->children[i]))) {
            return 0;
        }
    }
    return 1;
}

layout
contiguous_layout(int ndim, const int64_t *shape)
{
    layout l;
    l.ndim = ndim;
    int64_t stride = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        l.shape[d] = shape[d];
        l.strides[d] = stride;
        stride *= shape[d];
    }
    return l;
}

// x seen with shape (numpy broadcasting: right-aligned, stride 0 on expanded axes).
layout
broadcast_layout(const cc_tensor *x, int ndim, const int64_t *shape)
{
    layout l;
    l.ndim = ndim;
    int lead = ndim - x->ndim;
    for (int d = 0; d < ndim; d++) {
        l.shape[d] = shape[d];
        int xd = d - lead;
        l.strides[d] = xd < 0 || x->shape[xd] == 1 ? 0 : x->strides[xd];
    }
    return l;
}

int
is_contiguous(const cc_tensor *t)
{
    int64_t stride = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->strides[d] != stride) {
            return 0;
        }
        stride *= t->shape[d];
    }
    return 1;
}

void
drop(cc_tensor *t)
{
    if (t->buf != NULL) {
        cc_cuda_core->buffer_decref(t->buf);
    }
    memset(t, 0, sizeof *t);
}

// out becomes another view of x.
void
view_of(cc_tensor *out, const cc_tensor *x)
{
    *out = *x;
    if (out->buf != NULL) {
        out->buf->refcount.fetch_add(1);
    }
}

// out becomes a new contiguous tensor on b's device. 0, or -1 with an error.
int
new_result(const cc_backend *b, cc_dtype dtype, int ndim, const int64_t *shape, cc_tensor *out)
{
    memset(out, 0, sizeof *out);
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        numel *= shape[d];
    }
    cc_buffer *buf = cc_cuda_core->buffer_new(b, (size_t)numel * dtype_size(dtype));
    if (buf == NULL) {
        return -1;
    }
    int rc = cc_cuda_core->tensor_init_from_buffer(out, buf, 0, dtype, ndim, shape, NULL);
    cc_cuda_core->buffer_decref(buf);
    return rc;
}

int
launch_check(void)
{
    CC_CUDA_TRY(cudaGetLastError());
    return 0;
fail:
    return -1;
}

// ---- copies (with a cast between the float dtypes, or of raw elements) ----

template <typename To, typename Ti>
__global__ void
copy_kernel(To *out, layout lo, const Ti *in, layout li, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        out[offset_of(lo, i)] = (To)in[offset_of(li, i)];
    }
}

template <typename To, typename Ti>
void
launch_copy(cudaStream_t s, void *out, layout lo, const void *in, layout li)
{
    layout *ls[2] = {&lo, &li};
    collapse(2, ls);
    int64_t n = 1;
    for (int d = 0; d < lo.ndim; d++) {
        n *= lo.shape[d];
    }
    if (n > 0) {
        copy_kernel<To, Ti><<<blocks_for(n), threads, 0, s>>>((To *)out, lo, (const Ti *)in, li, n);
    }
}

// Copies in (laid out as li) into out (laid out as lo, same shape), converting in_dtype to
// out_dtype; both float, or equal. 0, or -1 with an error.
int
copy_strided(const cc_backend *b, void *out, cc_dtype out_dtype, layout lo, const void *in,
             cc_dtype in_dtype, layout li)
{
    cudaStream_t s = cc_cuda_state(b)->stream;
    if (out_dtype == in_dtype) {
        switch (dtype_size(in_dtype)) {
        case 1:
            launch_copy<uint8_t, uint8_t>(s, out, lo, in, li);
            break;
        case 2:
            launch_copy<uint16_t, uint16_t>(s, out, lo, in, li);
            break;
        case 4:
            launch_copy<uint32_t, uint32_t>(s, out, lo, in, li);
            break;
        default:
            launch_copy<uint64_t, uint64_t>(s, out, lo, in, li);
            break;
        }
    } else if (out_dtype == CC_DTYPE_F32 && in_dtype == CC_DTYPE_F64) {
        launch_copy<float, double>(s, out, lo, in, li);
    } else if (out_dtype == CC_DTYPE_F64 && in_dtype == CC_DTYPE_F32) {
        launch_copy<double, float>(s, out, lo, in, li);
    } else {
        return cc_cuda_core->fail(CC_E_TENSOR_EVAL, "no CUDA cast from %s to %s",
                                  dtype_name(in_dtype), dtype_name(out_dtype));
    }
    return launch_check();
}

// out = x broadcast to (ndim, shape) as dtype, contiguous.
int
materialize(const cc_backend *b, const cc_tensor *x, cc_dtype dtype, int ndim, const int64_t *shape,
            cc_tensor *out)
{
    if (new_result(b, dtype, ndim, shape, out) < 0) {
        return -1;
    }
    if (copy_strided(b, out->data, dtype, contiguous_layout(ndim, shape), x->data, x->dtype,
                     broadcast_layout(x, ndim, shape)) < 0) {
        drop(out);
        return -1;
    }
    return 0;
}

// ---- leaves and views ----

// out = v (an Array's tensor) on b's GPU, contiguous.
int
upload(const cc_backend *b, const cc_tensor *v, cc_tensor *out)
{
    cc_cuda_device *d = cc_cuda_state(b);
    if (v->buf != NULL && v->buf->device == CC_DEVICE_CUDA) {
        if (v->buf->device_index != b->device_index) {
            return cc_cuda_core->fail(CC_E_TENSOR_EVAL_DEVICE_DTYPE_ERROR,
                                      "the Array's tensor is on cuda:%d, evaluating on cuda:%d",
                                      v->buf->device_index, b->device_index);
        }
        return materialize(b, v, v->dtype, v->ndim, v->shape, out);
    }
    // The span of host memory the view reaches goes up as it is; a strided view is then
    // made contiguous on the device.
    int64_t lo = 0, hi = 0, numel = 1;
    for (int i = 0; i < v->ndim; i++) {
        numel *= v->shape[i];
        int64_t reach = (v->shape[i] - 1) * v->strides[i];
        if (reach < 0) {
            lo += reach;
        } else {
            hi += reach;
        }
    }
    if (numel == 0) {
        return new_result(b, v->dtype, v->ndim, v->shape, out);
    }
    size_t esize = dtype_size(v->dtype);
    size_t span = (size_t)(hi - lo + 1) * esize;
    cc_buffer *buf = cc_cuda_core->buffer_new(b, span);
    if (buf == NULL) {
        return -1;
    }
    cc_tensor up;
    if (cc_cuda_core->tensor_init_from_buffer(&up, buf, (size_t)(-lo) * esize, v->dtype, v->ndim,
                                              v->shape, v->strides) < 0) {
        cc_cuda_core->buffer_decref(buf);
        return -1;
    }
    cc_cuda_core->buffer_decref(buf);
    CC_CUDA_TRY(cudaMemcpyAsync(buf->data, (const char *)v->data + lo * (int64_t)esize, span,
                                cudaMemcpyHostToDevice, d->stream));
    if (up.strides[0] == 0 || span != (size_t)numel * esize) {
        int rc = materialize(b, &up, v->dtype, v->ndim, v->shape, out);
        drop(&up);
        return rc;
    }
    {
        layout l = contiguous_layout(v->ndim, v->shape);
        for (int i = 0; i < v->ndim; i++) {
            if (v->shape[i] > 1 && l.strides[i] != v->strides[i]) {
                int rc = materialize(b, &up, v->dtype, v->ndim, v->shape, out);
                drop(&up);
                return rc;
            }
        }
    }
    *out = up;
    return 0;
fail:
    drop(&up);
    return -1;
}

// Uploaded host Arrays kept across evaluations while the cache is on (set_array_cache),
// keyed by host buffer and address and checked against dtype, shape and strides. An entry
// holds a reference to the host buffer, so that memory cannot be freed and reused under
// its key; the host tensor must not be written to while cached.
struct cached_array {
    cc_buffer *host;
    cc_tensor host_view; // dtype, shape, strides of the uploaded view (buf not retained)
    cc_tensor dev;
};

struct array_cache {
    std::mutex lock;
    std::map<std::pair<const void *, const void *>, cached_array> entries;
};

array_cache array_caches[CC_BACKEND_MAX_DEVICES];

int
same_view(const cc_tensor *a, const cc_tensor *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim) {
        return 0;
    }
    for (int i = 0; i < a->ndim; i++) {
        if (a->shape[i] != b->shape[i] || a->strides[i] != b->strides[i]) {
            return 0;
        }
    }
    return 1;
}

int
k_array(const cc_backend *b, const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    (void)in;
    const cc_tensor *v = n->u.array.value;
    int cache = cc_cuda_array_cache_on && v->buf != NULL && v->buf->device == CC_DEVICE_CPU;
    array_cache &c = array_caches[b->device_index];
    std::pair<const void *, const void *> key(v->buf, v->data);
    if (cache) {
        std::lock_guard<std::mutex> hold(c.lock);
        auto it = c.entries.find(key);
        if (it != c.entries.end() && same_view(&it->second.host_view, v)) {
            view_of(out, &it->second.dev);
            return 0;
        }
    }
    if (upload(b, v, out) < 0) {
        return -1;
    }
    if (cache) {
        std::lock_guard<std::mutex> hold(c.lock);
        if (c.entries.find(key) == c.entries.end()) {
            cached_array &e = c.entries[key];
            e.host = v->buf;
            e.host->refcount.fetch_add(1);
            e.host_view = *v;
            e.host_view.buf = NULL;
            view_of(&e.dev, out);
        }
    }
    return 0;
}

template <typename T>
__global__ void
fill_kernel(T *out, T value, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        out[i] = value;
    }
}

int
fill(const cc_backend *b, cc_tensor *t, double value)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        n *= t->shape[d];
    }
    if (n == 0) {
        return 0;
    }
    cudaStream_t s = cc_cuda_state(b)->stream;
    if (t->dtype == CC_DTYPE_F32) {
        fill_kernel<float><<<blocks_for(n), threads, 0, s>>>((float *)t->data, (float)value, n);
    } else {
        fill_kernel<double><<<blocks_for(n), threads, 0, s>>>((double *)t->data, value, n);
    }
    return launch_check();
}

int
k_scalar(const cc_backend *b, const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    (void)in;
    if (new_result(b, eval_dtype(n), n->ndim, n->shape, out) < 0) {
        return -1;
    }
    if (fill(b, out, n->u.scalar.value) < 0) {
        drop(out);
        return -1;
    }
    return 0;
}

int
k_tag(const cc_backend *b, const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    (void)b;
    (void)n;
    view_of(out, in[0]);
    return 0;
}

// ---- Add ----

template <typename T, typename Ta, typename Tb>
__global__ void
add_kernel(T *out, const Ta *a, layout la, const Tb *b, layout lb, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        out[i] = (T)a[offset_of(la, i)] + (T)b[offset_of(lb, i)];
    }
}

template <typename T, typename Ta, typename Tb>
void
launch_add(cudaStream_t s, void *out, int ndim, const int64_t *shape, const cc_tensor *a,
           const cc_tensor *b)
{
    layout lo = contiguous_layout(ndim, shape);
    layout la = broadcast_layout(a, ndim, shape);
    layout lb = broadcast_layout(b, ndim, shape);
    layout *ls[3] = {&lo, &la, &lb};
    collapse(3, ls);
    int64_t n = 1;
    for (int d = 0; d < lo.ndim; d++) {
        n *= lo.shape[d];
    }
    if (n > 0) {
        add_kernel<T, Ta, Tb><<<blocks_for(n), threads, 0, s>>>((T *)out, (const Ta *)a->data, la,
                                                                (const Tb *)b->data, lb, n);
    }
}

template <typename T>
void
launch_add_as(cudaStream_t s, void *out, int ndim, const int64_t *shape, const cc_tensor *a,
              const cc_tensor *b)
{
    int a64 = a->dtype == CC_DTYPE_F64;
    int b64 = b->dtype == CC_DTYPE_F64;
    if (a64 && b64) {
        launch_add<T, double, double>(s, out, ndim, shape, a, b);
    } else if (a64) {
        launch_add<T, double, float>(s, out, ndim, shape, a, b);
    } else if (b64) {
        launch_add<T, float, double>(s, out, ndim, shape, a, b);
    } else {
        launch_add<T, float, float>(s, out, ndim, shape, a, b);
    }
}

// The sum of the inputs, each first rounded to the node's dtype d (a float64 input of a
// float32 sum is cast before it is added, as rc casts inputs), accumulated left to right.
int
k_add(const cc_backend *b, const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    if (n->n_children == 0) {
        if (new_result(b, CC_DTYPE_F64, 0, NULL, out) < 0) {
            return -1;
        }
        return fill(b, out, 0.0) < 0 ? (drop(out), -1) : 0;
    }
    cc_dtype d = upcast(n->n_children, in);
    if (n->n_children == 1) {
        return materialize(b, in[0], d, n->ndim, n->shape, out);
    }
    if (new_result(b, d, n->ndim, n->shape, out) < 0) {
        return -1;
    }
    cudaStream_t s = cc_cuda_state(b)->stream;
    for (int i = 1; i < n->n_children; i++) {
        const cc_tensor *a = i == 1 ? in[0] : out;
        if (d == CC_DTYPE_F32) {
            launch_add_as<float>(s, out->data, n->ndim, n->shape, a, in[i]);
        } else {
            launch_add_as<double>(s, out->data, n->ndim, n->shape, a, in[i]);
        }
        if (launch_check() < 0) {
            drop(out);
            return -1;
        }
    }
    return 0;
}

// ---- reductions and einsum ----

template <typename T, typename Ti>
__global__ void
sum_kernel(T *out, const Ti *in, layout lk, layout lr, int64_t n_out, int64_t n_red)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n_out;
         i += (int64_t)gridDim.x * blockDim.x) {
        const Ti *base = in + offset_of(lk, i);
        T acc = 0;
        for (int64_t r = 0; r < n_red; r++) {
            acc += (T)base[offset_of(lr, r)];
        }
        out[i] = acc;
    }
}

// Where each label sits on an operand: axis, or -1.
struct label_axes {
    int axis[256];
};

label_axes
axes_of(int ndim, const uint8_t *labels)
{
    label_axes a;
    for (int i = 0; i < 256; i++) {
        a.axis[i] = -1;
    }
    for (int i = 0; i < ndim; i++) {
        a.axis[labels[i]] = i;
    }
    return a;
}

// out (labels keep, in that order; contiguous, dtype d) = x (labels xl) summed over every
// label not in keep.
int
sum_to(const cc_backend *b, const cc_tensor *x, const uint8_t *xl, int nk, const uint8_t *keep,
       cc_dtype d, cc_tensor *out)
{
    label_axes ax = axes_of(x->ndim, xl);
    int64_t shape[CC_MAX_NDIM] = {0};
    layout lk;
    lk.ndim = nk;
    for (int i = 0; i < nk; i++) {
        int a = ax.axis[keep[i]];
        shape[i] = x->shape[a];
        lk.shape[i] = x->shape[a];
        lk.strides[i] = x->strides[a];
    }
    layout lr;
    lr.ndim = 0;
    int64_t n_red = 1;
    for (int a = 0; a < x->ndim; a++) {
        if (memchr(keep, xl[a], (size_t)nk) == NULL) {
            lr.shape[lr.ndim] = x->shape[a];
            lr.strides[lr.ndim] = x->strides[a];
            lr.ndim++;
            n_red *= x->shape[a];
        }
    }
    if (new_result(b, d, nk, shape, out) < 0) {
        return -1;
    }
    int64_t n_out = 1;
    for (int i = 0; i < nk; i++) {
        n_out *= shape[i];
    }
    if (n_out == 0) {
        return 0;
    }
    cudaStream_t s = cc_cuda_state(b)->stream;
    unsigned g = blocks_for(n_out);
    int x64 = x->dtype == CC_DTYPE_F64;
    if (d == CC_DTYPE_F32 && x64) {
        sum_kernel<float, double><<<g, threads, 0, s>>>((float *)out->data, (const double *)x->data,
                                                        lk, lr, n_out, n_red);
    } else if (d == CC_DTYPE_F32) {
        sum_kernel<float, float><<<g, threads, 0, s>>>((float *)out->data, (const float *)x->data,
                                                       lk, lr, n_out, n_red);
    } else if (x64) {
        sum_kernel<double, double><<<g, threads, 0, s>>>(
            (double *)out->data, (const double *)x->data, lk, lr, n_out, n_red);
    } else {
        sum_kernel<double, float><<<g, threads, 0, s>>>((double *)out->data, (const float *)x->data,
                                                        lk, lr, n_out, n_red);
    }
    if (launch_check() < 0) {
        drop(out);
        return -1;
    }
    return 0;
}

int
has_repeats(int n, const uint8_t *labels)
{
    uint8_t seen[256] = {0};
    for (int i = 0; i < n; i++) {
        if (seen[labels[i]]++) {
            return 1;
        }
    }
    return 0;
}

#ifdef CC_HAVE_CUBLAS
// cuBLAS is opened with dlopen at the first contraction, so importing the extension loads no
// CUDA library: CC_CUBLAS_SONAME in CC_CUBLAS_DIR (where the build found it), else wherever
// the loader finds that name.
struct blas_api {
    decltype(&cublasCreate_v2) create;
    decltype(&cublasSetStream_v2) set_stream;
    decltype(&cublasSetMathMode) set_math_mode;
    decltype(&cublasSgemmStridedBatched) sgemm;
    decltype(&cublasDgemmStridedBatched) dgemm;
    decltype(&cublasGetStatusString) status_string;
};

blas_api blas;
const char *blas_error = NULL; // why cuBLAS did not load; NULL once loaded
std::once_flag blas_once;

void
blas_load(void)
{
    void *lib = dlopen(CC_CUBLAS_DIR "/" CC_CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        lib = dlopen(CC_CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    }
    if (lib == NULL) {
        blas_error = "cannot open " CC_CUBLAS_SONAME;
        return;
    }
    blas.create = (decltype(blas.create))dlsym(lib, "cublasCreate_v2");
    blas.set_stream = (decltype(blas.set_stream))dlsym(lib, "cublasSetStream_v2");
    blas.set_math_mode = (decltype(blas.set_math_mode))dlsym(lib, "cublasSetMathMode");
    blas.sgemm = (decltype(blas.sgemm))dlsym(lib, "cublasSgemmStridedBatched");
    blas.dgemm = (decltype(blas.dgemm))dlsym(lib, "cublasDgemmStridedBatched");
    blas.status_string = (decltype(blas.status_string))dlsym(lib, "cublasGetStatusString");
    if (blas.create == NULL || blas.set_stream == NULL || blas.set_math_mode == NULL ||
        blas.sgemm == NULL || blas.dgemm == NULL || blas.status_string == NULL) {
        blas_error = CC_CUBLAS_SONAME " lacks a function the backend calls";
    }
}

int
blas_check(cublasStatus_t st, const char *what)
{
    if (st == CUBLAS_STATUS_SUCCESS) {
        return 0;
    }
    return cc_cuda_core->fail(st == CUBLAS_STATUS_ALLOC_FAILED ? CC_E_NO_MEMORY : CC_E_TENSOR_EVAL,
                              "%s failed: %s", what, blas.status_string(st));
}

// out (labels ol, shape out_shape) = the contraction of x0 (labels l0) and x1 (labels l1)
// as one strided-batched GEMM: the labels on both operands
// and the output are the batch, those on one operand and the output are M (first operand)
// and N (second), those on both operands only are K; a label on one operand alone is summed
// away first. Each operand is copied to [batch, M, K] / [batch, K, N] order unless it is
// already laid out so, and the [batch, M, N] product is permuted to the output's order
// when that differs.
int
contract(const cc_backend *b, const cc_tensor *x0, const uint8_t *l0, const cc_tensor *x1,
         const uint8_t *l1, int n_out, const uint8_t *ol, const int64_t *out_shape, cc_dtype d,
         cc_tensor *out)
{
    cc_cuda_device *dev = cc_cuda_state(b);
    const cc_tensor *in[2] = {x0, x1};
    const uint8_t *il[2] = {l0, l1};
    label_axes ax[2] = {axes_of(in[0]->ndim, il[0]), axes_of(in[1]->ndim, il[1])};
    label_axes ao = axes_of(n_out, ol);
    cc_tensor ops[2] = {};
    cc_tensor prod = {};
    uint8_t order[3][CC_MAX_NDIM]; // batch, m, n labels
    int count[3] = {0, 0, 0};
    uint8_t kl[CC_MAX_NDIM];
    int nk = 0;
    int64_t size[256];
    for (int o = 0; o < 2; o++) {
        for (int i = 0; i < in[o]->ndim; i++) {
            size[il[o][i]] = in[o]->shape[i];
        }
    }
    for (int i = 0; i < n_out; i++) {
        int on0 = ax[0].axis[ol[i]] >= 0, on1 = ax[1].axis[ol[i]] >= 0;
        int g = on0 && on1 ? 0 : on0 ? 1 : 2;
        order[g][count[g]++] = ol[i];
    }
    for (int i = 0; i < in[0]->ndim; i++) {
        if (ao.axis[il[0][i]] < 0 && ax[1].axis[il[0][i]] >= 0) {
            kl[nk++] = il[0][i];
        }
    }
    int64_t dims[4] = {1, 1, 1, 1}; // batch, m, n, k
    for (int g = 0; g < 3; g++) {
        for (int i = 0; i < count[g]; i++) {
            dims[g] *= size[order[g][i]];
        }
    }
    for (int i = 0; i < nk; i++) {
        dims[3] *= size[kl[i]];
    }
    // Operand o as [batch, m|k, k|n]: sum away its own labels, then permute.
    for (int o = 0; o < 2; o++) {
        uint8_t want[CC_MAX_NDIM];
        int nw = 0;
        const uint8_t *groups[3] = {order[0], o == 0 ? order[1] : kl, o == 0 ? kl : order[2]};
        int sizes[3] = {count[0], o == 0 ? count[1] : nk, o == 0 ? nk : count[2]};
        for (int g = 0; g < 3; g++) {
            memcpy(want + nw, groups[g], (size_t)sizes[g]);
            nw += sizes[g];
        }
        int own = 0;
        for (int i = 0; i < in[o]->ndim; i++) {
            own += ao.axis[il[o][i]] < 0 && ax[1 - o].axis[il[o][i]] < 0;
        }
        if (own > 0 || in[o]->dtype != d) {
            if (sum_to(b, in[o], il[o], nw, want, d, &ops[o]) < 0) {
                goto fail;
            }
            continue;
        }
        layout l;
        l.ndim = nw;
        int64_t stride = 1;
        int ordered = 1;
        for (int i = nw - 1; i >= 0; i--) {
            int a = ax[o].axis[want[i]];
            l.shape[i] = in[o]->shape[a];
            l.strides[i] = in[o]->strides[a];
            ordered = ordered && (l.shape[i] == 1 || l.strides[i] == stride);
            stride *= l.shape[i];
        }
        if (ordered) {
            view_of(&ops[o], in[o]);
            continue;
        }
        if (new_result(b, d, nw, l.shape, &ops[o]) < 0 ||
            copy_strided(b, ops[o].data, d, contiguous_layout(nw, l.shape), in[o]->data, d, l) <
                0) {
            goto fail;
        }
    }
    {
        int64_t pshape[3] = {dims[0], dims[1], dims[2]};
        if (new_result(b, d, 3, pshape, &prod) < 0) {
            goto fail;
        }
    }
    if (dims[0] * dims[1] * dims[2] > 0) {
        if (dims[3] == 0) {
            if (fill(b, &prod, 0.0) < 0) {
                goto fail;
            }
        } else {
            for (int i = 0; i < 4; i++) {
                if (dims[i] > 2147483647) {
                    cc_cuda_core->fail(CC_E_TENSOR_EVAL,
                                       "a GEMM dimension of %lld exceeds cuBLAS's int range",
                                       (long long)dims[i]);
                    goto fail;
                }
            }
            if (dev->blas == NULL &&
                (blas_check(blas.create(&dev->blas), "cublasCreate") < 0 ||
                 blas_check(blas.set_stream(dev->blas, dev->stream), "cublasSetStream") < 0)) {
                goto fail;
            }
            if (blas_check(blas.set_math_mode(dev->blas, cc_cuda_allow_tf32
                                                             ? CUBLAS_TF32_TENSOR_OP_MATH
                                                             : CUBLAS_DEFAULT_MATH),
                           "cublasSetMathMode") < 0) {
                goto fail;
            }
            // Row-major C[m,n] = A[m,k] B[k,n] is column-major C^T = B^T A^T.
            int m = (int)dims[1], nn = (int)dims[2], k = (int)dims[3], batch = (int)dims[0];
            cublasStatus_t st;
            if (d == CC_DTYPE_F32) {
                const float one = 1.0f, zero = 0.0f;
                st = blas.sgemm(dev->blas, CUBLAS_OP_N, CUBLAS_OP_N, nn, m, k, &one,
                                (const float *)ops[1].data, nn, (long long)k * nn,
                                (const float *)ops[0].data, k, (long long)m * k, &zero,
                                (float *)prod.data, nn, (long long)m * nn, batch);
            } else {
                const double one = 1.0, zero = 0.0;
                st = blas.dgemm(dev->blas, CUBLAS_OP_N, CUBLAS_OP_N, nn, m, k, &one,
                                (const double *)ops[1].data, nn, (long long)k * nn,
                                (const double *)ops[0].data, k, (long long)m * k, &zero,
                                (double *)prod.data, nn, (long long)m * nn, batch);
            }
            if (blas_check(st, "cublas gemm") < 0) {
                goto fail;
            }
        }
    }
    drop(&ops[0]);
    drop(&ops[1]);
    {
        // prod is [batch labels, m labels, n labels]; the output may order them otherwise.
        uint8_t pl[CC_MAX_NDIM];
        int np = 0;
        for (int g = 0; g < 3; g++) {
            memcpy(pl + np, order[g], (size_t)count[g]);
            np += count[g];
        }
        int same = memcmp(pl, ol, (size_t)n_out) == 0;
        if (same) {
            if (cc_cuda_core->tensor_init_from_buffer(out, prod.buf, 0, d, n_out, out_shape, NULL) <
                0) {
                goto fail;
            }
            drop(&prod);
            return 0;
        }
        label_axes ap = axes_of(np, pl);
        layout lp = contiguous_layout(np, out_shape);
        int64_t ps[CC_MAX_NDIM];
        int64_t stride = 1;
        for (int i = np - 1; i >= 0; i--) {
            ps[i] = stride;
            stride *= size[pl[i]];
        }
        for (int i = 0; i < n_out; i++) {
            lp.shape[i] = out_shape[i];
            lp.strides[i] = ps[ap.axis[ol[i]]];
        }
        if (new_result(b, d, n_out, out_shape, out) < 0 ||
            copy_strided(b, out->data, d, contiguous_layout(n_out, out_shape), prod.data, d, lp) <
                0) {
            drop(out);
            goto fail;
        }
        drop(&prod);
        return 0;
    }
fail:
    drop(&ops[0]);
    drop(&ops[1]);
    drop(&prod);
    return -1;
}
#endif

int
k_einsum(const cc_backend *b, const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    cc_dtype d = upcast(n->n_children, in);
    if (n->n_children == 1) {
        return sum_to(b, in[0], einsum_axes(n, 0), n->ndim, n->u.einsum.out_axes, d, out);
    }
#ifdef CC_HAVE_CUBLAS
    // Operands are contracted left to right; each intermediate keeps the labels that the
    // output or a later operand still needs.
    cc_tensor cur = {};
    uint8_t cl[CC_MAX_NDIM];
    view_of(&cur, in[0]);
    memcpy(cl, einsum_axes(n, 0), (size_t)in[0]->ndim);
    for (int i = 1; i < n->n_children; i++) {
        const uint8_t *xl = einsum_axes(n, i);
        int last = i == n->n_children - 1;
        uint8_t keep[2 * CC_MAX_NDIM];
        int64_t shape[2 * CC_MAX_NDIM];
        int nk = 0;
        if (!last) {
            uint8_t needed[256] = {0};
            for (int j = 0; j < n->ndim; j++) {
                needed[n->u.einsum.out_axes[j]] = 1;
            }
            for (int c = i + 1; c < n->n_children; c++) {
                const uint8_t *cl2 = einsum_axes(n, c);
                for (int j = 0; j < n->children[c]->ndim; j++) {
                    needed[cl2[j]] = 1;
                }
            }
            const cc_tensor *pair[2] = {&cur, in[i]};
            const uint8_t *pl[2] = {cl, xl};
            for (int o = 0; o < 2; o++) {
                for (int j = 0; j < pair[o]->ndim; j++) {
                    if (needed[pl[o][j]] == 1) {
                        needed[pl[o][j]] = 2;
                        keep[nk] = pl[o][j];
                        shape[nk] = pair[o]->shape[j];
                        nk++;
                    }
                }
            }
            if (nk > CC_MAX_NDIM) {
                drop(&cur);
                return cc_cuda_core->fail(CC_E_TENSOR_EVAL,
                                          "an intermediate of this einsum has more than %d axes",
                                          CC_MAX_NDIM);
            }
        }
        cc_tensor next;
        int rc =
            last ? contract(b, &cur, cl, in[i], xl, n->ndim, n->u.einsum.out_axes, n->shape, d, out)
                 : contract(b, &cur, cl, in[i], xl, nk, keep, shape, d, &next);
        drop(&cur);
        if (rc < 0) {
            return -1;
        }
        if (!last) {
            cur = next;
            memcpy(cl, keep, (size_t)nk);
        }
    }
    return 0;
#else
    return cc_cuda_core->fail(CC_E_TENSOR_EVAL, "built without cuBLAS");
#endif
}

int
einsum_supported(const cc_node *n)
{
    if (!children_float(n) || n->n_children < 1 ||
        (n->n_children > 1 && cc_cuda_cublas_error() != NULL) ||
        has_repeats(n->ndim, n->u.einsum.out_axes)) {
        return 0;
    }
    for (int i = 0; i < n->n_children; i++) {
        if (has_repeats(n->children[i]->ndim, einsum_axes(n, i))) {
            return 0;
        }
    }
    return 1;
}

} // namespace

void
cc_cuda_array_cache_clear(int device)
{
    array_cache &c = array_caches[device];
    std::lock_guard<std::mutex> hold(c.lock);
    for (auto &entry : c.entries) {
        drop(&entry.second.dev);
        cc_cuda_core->buffer_decref(entry.second.host);
    }
    c.entries.clear();
}

const char *
cc_cuda_cublas_error(void)
{
#ifdef CC_HAVE_CUBLAS
    std::call_once(blas_once, blas_load);
    return blas_error;
#else
    return "the extension was built without cuBLAS";
#endif
}

namespace
{

// ---- GeneralFunctions: the elementwise ones, softmax, log_softmax ----

#define SQRT1_2 0.707106781186547524401
#define INV_SQRT_2PI 0.398942280401432677940

template <typename T>
__device__ T
sigmoid_of(T x)
{
    T e = exp(-fabs(x));
    return x < T(0) ? e / (T(1) + e) : T(1) / (T(1) + e);
}

template <typename T>
__device__ T
unary_op(int id, T x)
{
    switch (id) {
    case CC_GF_ID_sin:
        return sin(x);
    case CC_GF_ID_cos:
        return cos(x);
    case CC_GF_ID_sigmoid:
        return sigmoid_of(x);
    case CC_GF_ID_tanh:
        return tanh(x);
    case CC_GF_ID_rsqrt:
        return T(1) / sqrt(x);
    case CC_GF_ID_gelu: {
        T p = T(0.5) * erfc(-x * T(SQRT1_2));
        return p == T(0) ? -T(0) : x * p;
    }
    case CC_GF_ID_gelu_new: {
        T s = sigmoid_of(T(1.5957691216057308) * (x + T(0.044715) * x * x * x));
        return s == T(0) ? -T(0) : x * s;
    }
    case CC_GF_ID_relu:
        return x < T(0) ? T(0) : x;
    case CC_GF_ID_step:
        return x > T(0) ? T(1) : T(0);
    case CC_GF_ID_reciprocal:
        return T(1) / x;
    case CC_GF_ID_log_exp_p_1:
        return (x > T(0) ? x : T(0)) + log1p(exp(-fabs(x)));
    case CC_GF_ID_gaussian_pdf:
        return T(INV_SQRT_2PI) * exp(T(-0.5) * x * x);
    case CC_GF_ID_gaussian_cdf:
        return T(0.5) * erfc(-x * T(SQRT1_2));
    case CC_GF_ID_abs:
        return fabs(x);
    case CC_GF_ID_exp:
        return exp(x);
    case CC_GF_ID_log:
        return log(x);
    default: // logit
        return log(x / (T(1) - x));
    }
}

template <typename T>
__global__ void
unary_kernel(int id, T *out, const T *in, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        out[i] = unary_op<T>(id, in[i]);
    }
}

// One block per row of the last axis: the row's max, then the sum of exp(x - max).
template <typename T>
__global__ void
softmax_kernel(T *out, const T *in, int64_t cols, int log_form)
{
    __shared__ T part[threads];
    const T *row = in + blockIdx.x * cols;
    T *orow = out + blockIdx.x * cols;
    T m = -INFINITY;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
        m = fmax(m, row[j]);
    }
    part[threadIdx.x] = m;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
        if ((int)threadIdx.x < w) {
            part[threadIdx.x] = fmax(part[threadIdx.x], part[threadIdx.x + w]);
        }
        __syncthreads();
    }
    m = part[0];
    __syncthreads();
    T sum = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
        sum += exp(row[j] - m);
    }
    part[threadIdx.x] = sum;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
        if ((int)threadIdx.x < w) {
            part[threadIdx.x] += part[threadIdx.x + w];
        }
        __syncthreads();
    }
    sum = part[0];
    T lse = log(sum);
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
        orow[j] = log_form ? row[j] - m - lse : exp(row[j] - m) / sum;
    }
}

int
gf_unary_id(cc_gf_id id)
{
    switch (id) {
    case CC_GF_ID_softmax:
    case CC_GF_ID_log_softmax:
    case CC_GF_ID_min:
    case CC_GF_ID_max:
    case CC_GF_ID_last_dim_size:
        return 0;
    default:
        return 1;
    }
}

int
k_gf(const cc_backend *b, const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    cc_gf_id id = n->u.gf.spec->simple_id;
    cc_dtype d = in[0]->dtype;
    cc_tensor x;
    if (is_contiguous(in[0])) {
        view_of(&x, in[0]);
    } else if (materialize(b, in[0], d, in[0]->ndim, in[0]->shape, &x) < 0) {
        return -1;
    }
    if (new_result(b, d, n->ndim, n->shape, out) < 0) {
        drop(&x);
        return -1;
    }
    int64_t numel = 1;
    for (int i = 0; i < x.ndim; i++) {
        numel *= x.shape[i];
    }
    cudaStream_t s = cc_cuda_state(b)->stream;
    if (gf_unary_id(id)) {
        if (numel > 0 && d == CC_DTYPE_F32) {
            unary_kernel<float><<<blocks_for(numel), threads, 0, s>>>((int)id, (float *)out->data,
                                                                      (const float *)x.data, numel);
        } else if (numel > 0) {
            unary_kernel<double><<<blocks_for(numel), threads, 0, s>>>(
                (int)id, (double *)out->data, (const double *)x.data, numel);
        }
    } else {
        int64_t cols = x.ndim > 0 ? x.shape[x.ndim - 1] : 1;
        int64_t rows = cols > 0 ? numel / cols : 0;
        int log_form = id == CC_GF_ID_log_softmax;
        // Rows beyond the grid's x limit run in chunks.
        for (int64_t r = 0; r < rows && cols > 0; r += 2147483647) {
            unsigned chunk = (unsigned)(rows - r < 2147483647 ? rows - r : 2147483647);
            if (d == CC_DTYPE_F32) {
                softmax_kernel<float><<<chunk, threads, 0, s>>>((float *)out->data + r * cols,
                                                                (const float *)x.data + r * cols,
                                                                cols, log_form);
            } else {
                softmax_kernel<double><<<chunk, threads, 0, s>>>((double *)out->data + r * cols,
                                                                 (const double *)x.data + r * cols,
                                                                 cols, log_form);
            }
        }
    }
    drop(&x);
    if (launch_check() < 0) {
        drop(out);
        return -1;
    }
    return 0;
}

int
gf_supported(const cc_node *n)
{
    const cc_gf_spec *spec = n->u.gf.spec;
    if (spec->kind != CC_GF_SIMPLE || n->n_children != 1 || !children_float(n)) {
        return 0;
    }
    cc_gf_id id = spec->simple_id;
    return gf_unary_id(id) || id == CC_GF_ID_softmax || id == CC_GF_ID_log_softmax;
}

// ---- Index (ints and slices), Concat, Rearrange: strided copies ----

// Per axis of a gather, the device array of positions it reads (NULL: the axis's own).
struct gather_axes {
    const int64_t *idx[CC_MAX_NDIM];
};

template <typename T>
__global__ void
gather_kernel(T *out, const T *in, layout l, gather_axes g, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t rest = i;
        int64_t off = 0;
        for (int d = l.ndim - 1; d >= 0; d--) {
            int64_t pos = rest % l.shape[d];
            rest /= l.shape[d];
            off += (g.idx[d] != NULL ? g.idx[d][pos] : pos) * l.strides[d];
        }
        out[i] = in[off];
    }
}

// Index: ints drop their axis, slices narrow it, 1-d int64 tensors gather along it (their
// values checked and wrapped on the host, then copied up): one kernel over the result.
int
k_index(const cc_backend *b, const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    const cc_tensor *x = in[0];
    const cc_index_item *items = n->u.index.items;
    cudaStream_t stream = cc_cuda_state(b)->stream;
    cc_tensor idx[CC_MAX_NDIM] = {};
    gather_axes g = {};
    layout l;
    l.ndim = 0;
    int64_t offset = 0;
    int gathers = 0;
    int rc = -1;
    for (int a = 0; a < x->ndim; a++) {
        int64_t len = x->shape[a];
        const cc_index_item *it = a < n->u.index.n_items ? &items[a] : NULL;
        if (it != NULL && it->kind == CC_INDEX_INT) {
            int64_t i = it->i < 0 ? it->i + len : it->i;
            if (i < 0 || i >= len) {
                cc_cuda_core->fail(CC_E_INDEX_INDEX_OUT_OF_BOUNDS,
                                   "index %lld out of range for axis %d of size %lld",
                                   (long long)it->i, a, (long long)len);
                goto done;
            }
            offset += i * x->strides[a];
            continue;
        }
        if (it != NULL && it->kind == CC_INDEX_TENSOR) {
            const cc_tensor *t = &it->tensor->value;
            int64_t m = t->shape[0];
            std::vector<int64_t> host((size_t)(m > 0 ? m : 1));
            for (int64_t k = 0; k < m; k++) {
                int64_t v = ((const int64_t *)t->data)[k * t->strides[0]];
                if (v < -len || v >= len) {
                    cc_cuda_core->fail(CC_E_INDEX_INDEX_OUT_OF_BOUNDS,
                                       "index_select: index %lld is out of bounds for axis %d "
                                       "with size %lld",
                                       (long long)v, a, (long long)len);
                    goto done;
                }
                host[(size_t)k] = v < 0 ? v + len : v;
            }
            if (new_result(b, CC_DTYPE_I64, 1, &m, &idx[gathers]) < 0) {
                goto done;
            }
            if (m > 0) {
                CC_CUDA_TRY(cudaMemcpyAsync(idx[gathers].data, host.data(),
                                            (size_t)m * sizeof(int64_t), cudaMemcpyHostToDevice,
                                            stream));
            }
            g.idx[l.ndim] = (const int64_t *)idx[gathers].data;
            gathers++;
            l.shape[l.ndim] = m;
            l.strides[l.ndim] = x->strides[a];
            l.ndim++;
            continue;
        }
        {
            int64_t start = 0, stop = len;
            if (it != NULL) {
                start = it->has_start ? it->start : 0;
                stop = it->has_stop ? it->stop : len;
                start = start < 0 ? start + len : start;
                stop = stop < 0 ? stop + len : stop;
                if (start < 0 || start > len || stop < start || stop > len) {
                    cc_cuda_core->fail(CC_E_INDEX_INDEX_OUT_OF_BOUNDS,
                                       "slice %lld:%lld out of range for axis %d of size %lld",
                                       (long long)start, (long long)stop, a, (long long)len);
                    goto done;
                }
            }
            offset += start * x->strides[a];
            l.shape[l.ndim] = stop - start;
            l.strides[l.ndim] = x->strides[a];
            l.ndim++;
        }
    }
    if (new_result(b, x->dtype, n->ndim, n->shape, out) < 0) {
        goto done;
    }
    {
        size_t esize = dtype_size(x->dtype);
        const char *src = (const char *)x->data + offset * (int64_t)esize;
        if (gathers == 0) {
            if (copy_strided(b, out->data, x->dtype, contiguous_layout(l.ndim, l.shape), src,
                             x->dtype, l) < 0) {
                drop(out);
                goto done;
            }
            rc = 0;
            goto done;
        }
        int64_t total = 1;
        for (int d = 0; d < l.ndim; d++) {
            total *= l.shape[d];
        }
        if (total > 0) {
            unsigned grid = blocks_for(total);
            switch (esize) {
            case 1:
                gather_kernel<uint8_t><<<grid, threads, 0, stream>>>(
                    (uint8_t *)out->data, (const uint8_t *)src, l, g, total);
                break;
            case 2:
                gather_kernel<uint16_t><<<grid, threads, 0, stream>>>(
                    (uint16_t *)out->data, (const uint16_t *)src, l, g, total);
                break;
            case 4:
                gather_kernel<uint32_t><<<grid, threads, 0, stream>>>(
                    (uint32_t *)out->data, (const uint32_t *)src, l, g, total);
                break;
            default:
                gather_kernel<uint64_t><<<grid, threads, 0, stream>>>(
                    (uint64_t *)out->data, (const uint64_t *)src, l, g, total);
                break;
            }
        }
        if (launch_check() < 0) {
            drop(out);
            goto done;
        }
        rc = 0;
    }
done:
    for (int i = 0; i < gathers; i++) {
        drop(&idx[i]);
    }
    return rc;
fail:
    rc = -1;
    goto done;
}

// Tensor items must be host tensors (they are copied up per evaluation).
int
index_supported(const cc_node *n)
{
    for (int a = 0; a < n->u.index.n_items; a++) {
        const cc_index_item *it = &n->u.index.items[a];
        if (it->kind == CC_INDEX_TENSOR &&
            (it->tensor->value.buf == NULL || it->tensor->value.buf->device != CC_DEVICE_CPU ||
             it->tensor->value.dtype != CC_DTYPE_I64 || it->tensor->value.ndim != 1)) {
            return 0;
        }
    }
    return 1;
}

int
k_concat(const cc_backend *b, const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    cc_dtype d = upcast(n->n_children, in);
    int axis = n->u.concat.axis;
    if (new_result(b, d, n->ndim, n->shape, out) < 0) {
        return -1;
    }
    layout full = contiguous_layout(n->ndim, n->shape);
    int64_t at = 0;
    size_t esize = dtype_size(d);
    for (int i = 0; i < n->n_children; i++) {
        const cc_tensor *x = in[i];
        layout lo = full;
        lo.shape[axis] = x->shape[axis];
        layout li = broadcast_layout(x, x->ndim, x->shape);
        char *dst = (char *)out->data + at * full.strides[axis] * (int64_t)esize;
        if (copy_strided(b, dst, d, lo, x->data, x->dtype, li) < 0) {
            drop(out);
            return -1;
        }
        at += x->shape[axis];
    }
    return 0;
}

int
concat_supported(const cc_node *n)
{
    if (children_float(n)) {
        return 1;
    }
    for (int i = 1; i < n->n_children; i++) {
        if (eval_dtype(n->children[i]) != eval_dtype(n->children[0])) {
            return 0;
        }
    }
    return 1;
}

// Each input axis splits into its spec ints (always a view); the ints are then walked in
// the output's order, stride 0 for ints the input lacks, into a contiguous result.
int
k_rearrange(const cc_backend *b, const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    const cc_rearrange_spec *s = n->u.rearrange.spec;
    const cc_tensor *x = in[0];
    int64_t size[256];
    int64_t stride[256];
    for (int i = 0; i < s->n_sizes; i++) {
        size[i] = s->sizes[i];
        stride[i] = 0;
    }
    for (int g = 0; g < s->n_in; g++) {
        int64_t known = 1;
        int unknown = -1;
        for (int j = s->in_start[g]; j < s->in_start[g + 1]; j++) {
            int v = s->in_ints[j];
            if (size[v] == CC_REARRANGE_SIZE_NONE) {
                unknown = v;
            } else {
                known *= size[v];
            }
        }
        if (unknown >= 0) {
            size[unknown] = known > 0 ? x->shape[g] / known : 0;
        }
        int64_t st = x->strides[g];
        for (int j = s->in_start[g + 1] - 1; j >= s->in_start[g]; j--) {
            int v = s->in_ints[j];
            stride[v] = size[v] == 1 ? 0 : st;
            st *= size[v];
        }
    }
    layout li;
    li.ndim = 0;
    for (int j = 0; j < s->out_start[s->n_out]; j++) {
        int v = s->out_ints[j];
        li.shape[li.ndim] = size[v];
        li.strides[li.ndim] = stride[v];
        li.ndim++;
    }
    if (new_result(b, x->dtype, n->ndim, n->shape, out) < 0) {
        return -1;
    }
    if (copy_strided(b, out->data, x->dtype, contiguous_layout(li.ndim, li.shape), x->data,
                     x->dtype, li) < 0) {
        drop(out);
        return -1;
    }
    return 0;
}

// Specs whose input groups each have at most one int of unknown size, and whose output
// has at most CC_MAX_NDIM ints.
int
rearrange_supported(const cc_node *n)
{
    const cc_rearrange_spec *s = n->u.rearrange.spec;
    if (s->out_start[s->n_out] > CC_MAX_NDIM || s->n_sizes > 256) {
        return 0;
    }
    for (int g = 0; g < s->n_in; g++) {
        int unknown = 0;
        for (int j = s->in_start[g]; j < s->in_start[g + 1]; j++) {
            unknown += s->sizes[s->in_ints[j]] == CC_REARRANGE_SIZE_NONE;
        }
        if (unknown > 1) {
            return 0;
        }
    }
    return 1;
}

int
cuda_supports(const cc_backend *b, const cc_node *n)
{
    (void)b;
    switch (n->kind) {
    case CC_KIND_ARRAY:
    case CC_KIND_TAG:
        return 1;
    case CC_KIND_SCALAR:
        return is_float(eval_dtype(n));
    case CC_KIND_ADD:
        return children_float(n);
    case CC_KIND_EINSUM:
        return einsum_supported(n);
    case CC_KIND_GENERAL_FUNCTION:
        return gf_supported(n);
    case CC_KIND_INDEX:
        return index_supported(n);
    case CC_KIND_CONCAT:
        return concat_supported(n);
    case CC_KIND_REARRANGE:
        return rearrange_supported(n);
    default:
        return 0;
    }
}

// Each kernel runs with its GPU current and its stream made.
#define CUDA_KERNEL(name)                                                                          \
    int run_##name(const cc_backend *b, const cc_node *n, const cc_tensor *const *in,              \
                   cc_tensor *out)                                                                 \
    {                                                                                              \
        memset(out, 0, sizeof *out);                                                               \
        cc_cuda_enter enter(cc_cuda_state(b));                                                     \
        CC_CUDA_TRY(enter.err);                                                                    \
        return k_##name(b, n, in, out);                                                            \
    fail:                                                                                          \
        return -1;                                                                                 \
    }
CUDA_KERNEL(array)
CUDA_KERNEL(scalar)
CUDA_KERNEL(tag)
CUDA_KERNEL(add)
CUDA_KERNEL(einsum)
CUDA_KERNEL(gf)
CUDA_KERNEL(index)
CUDA_KERNEL(concat)
CUDA_KERNEL(rearrange)
#undef CUDA_KERNEL

} // namespace

void
cc_cuda_install_kernels(cc_backend *b)
{
    b->supports = cuda_supports;
    b->kernels[CC_KIND_ARRAY] = run_array;
    b->kernels[CC_KIND_SCALAR] = run_scalar;
    b->kernels[CC_KIND_TAG] = run_tag;
    b->kernels[CC_KIND_ADD] = run_add;
    b->kernels[CC_KIND_EINSUM] = run_einsum;
    b->kernels[CC_KIND_GENERAL_FUNCTION] = run_gf;
    b->kernels[CC_KIND_INDEX] = run_index;
    b->kernels[CC_KIND_CONCAT] = run_concat;
    b->kernels[CC_KIND_REARRANGE] = run_rearrange;
}
