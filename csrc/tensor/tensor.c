// cc_tensor: the dtype table, tensor structs, views (no copy) and copies with dtype
// conversion, plus the strided iteration the CPU kernels share (strided.h).
// Knows nothing of circuits or Python.
#include "tensor/tensor.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "tensor/strided.h"
#include "util/alloc.h"
#include "util/error.h"

// ---------------------------------------------------------------------------------------------
// dtypes

static const size_t dtype_sizes[CC_DTYPE_COUNT] = {
#define CC_DTYPE(E, ctype, size, name, hash_name) [CC_DTYPE_##E] = size,
#include "tensor/dtypes.def"
#undef CC_DTYPE
};

static const char *const dtype_names[CC_DTYPE_COUNT] = {
#define CC_DTYPE(E, ctype, size, name, hash_name) [CC_DTYPE_##E] = name,
#include "tensor/dtypes.def"
#undef CC_DTYPE
};

static const char *const dtype_hash_names[CC_DTYPE_COUNT] = {
#define CC_DTYPE(E, ctype, size, name, hash_name) [CC_DTYPE_##E] = hash_name,
#include "tensor/dtypes.def"
#undef CC_DTYPE
};

#define CC_DTYPE(E, ctype, size, name, hash_name)                                                  \
    _Static_assert(sizeof(ctype) == size, "dtypes.def: size of " name);
#include "tensor/dtypes.def"
#undef CC_DTYPE

static int
dtype_valid(cc_dtype d)
{
    return (int)d >= 0 && d < CC_DTYPE_COUNT;
}

size_t
cc_dtype_size(cc_dtype d)
{
    return dtype_valid(d) ? dtype_sizes[d] : 0;
}

const char *
cc_dtype_name(cc_dtype d)
{
    return dtype_valid(d) ? dtype_names[d] : "invalid";
}

const char *
cc_dtype_hash_name(cc_dtype d)
{
    return dtype_valid(d) ? dtype_hash_names[d] : "invalid";
}

int
cc_dtype_is_float(cc_dtype d)
{
    return d == CC_DTYPE_F32 || d == CC_DTYPE_F64;
}

int
cc_dtype_is_floating_point(cc_dtype d)
{
    return cc_dtype_is_float(d) || d == CC_DTYPE_F16 || d == CC_DTYPE_BF16;
}

cc_dtype
cc_dtype_compute(cc_dtype d)
{
    switch (d) {
    case CC_DTYPE_F16:
    case CC_DTYPE_BF16:
        return CC_DTYPE_F32;
    case CC_DTYPE_I8:
    case CC_DTYPE_I16:
    case CC_DTYPE_I32:
    case CC_DTYPE_U8:
        return CC_DTYPE_I64;
    default:
        return d;
    }
}

cc_dtype
cc_dtype_promote(cc_dtype a, cc_dtype b)
{
    // rc upcasts mixed inputs to the first non-float64 dtype (float32 arrays win over float64
    // scalars).
    return a != CC_DTYPE_F64 ? a : b;
}

// ---------------------------------------------------------------------------------------------
// shapes and structs

int64_t
cc_shape_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        n *= shape[i];
    }
    return n;
}

int64_t
cc_tensor_numel(const cc_tensor *t)
{
    return cc_shape_numel(t->ndim, t->shape);
}

int
cc_tensor_is_contiguous(const cc_tensor *t)
{
    int64_t expected = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] == 0) {
            return 1;
        }
        if (t->shape[i] != 1 && t->strides[i] != expected) {
            return 0;
        }
        expected *= t->shape[i];
    }
    return 1;
}

// Copies n sizes or strides (a loop, not memcpy: a 0-d shape may be a NULL pointer).
static void
copy_dims(int64_t *dst, const int64_t *src, int n)
{
    for (int i = 0; i < n; i++) {
        dst[i] = src[i];
    }
}

static void
contiguous_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i] > 0 ? shape[i] : 1;
    }
}

void
cc_tensor_clear(cc_tensor *t)
{
    cc_buffer_decref(t->buf);
    t->buf = NULL;
    t->data = NULL;
    t->dtype = CC_DTYPE_F32;
    t->ndim = 0;
}

static int
check_dims(int ndim, const int64_t *shape, const char *what)
{
    if (ndim < 0 || ndim > CC_MAX_NDIM) {
        return cc_fail(CC_E_PY_VALUE, "%s: %d dims (at most %d supported)", what, ndim,
                       CC_MAX_NDIM);
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            return cc_fail(CC_E_PY_VALUE, "%s: negative size %lld on axis %d", what,
                           (long long)shape[i], i);
        }
    }
    return 0;
}

// numel * dtype size in bytes, or -1 with an error when it overflows.
static int
shape_nbytes(int ndim, const int64_t *shape, cc_dtype dtype, size_t *out)
{
    uint64_t n = cc_dtype_size(dtype);
    for (int i = 0; i < ndim; i++) {
        if (__builtin_mul_overflow(n, (uint64_t)shape[i], &n)) {
            return cc_fail(CC_E_NO_MEMORY, "tensor of %d dims is too large to allocate", ndim);
        }
    }
    if (n > (uint64_t)INT64_MAX) {
        return cc_fail(CC_E_NO_MEMORY, "tensor of %llu bytes is too large to allocate",
                       (unsigned long long)n);
    }
    *out = (size_t)n;
    return 0;
}

int
cc_tensor_init_empty(cc_tensor *t, cc_dtype dtype, int ndim, const int64_t *shape)
{
    memset(t, 0, sizeof(*t));
    size_t nbytes = 0;
    if (!dtype_valid(dtype)) {
        return cc_fail(CC_E_PY_VALUE, "invalid dtype %d", (int)dtype);
    }
    if (check_dims(ndim, shape, "new tensor") < 0 ||
        shape_nbytes(ndim, shape, dtype, &nbytes) < 0) {
        return -1;
    }
    cc_buffer *buf = cc_buffer_new(nbytes);
    if (buf == NULL) {
        return -1;
    }
    t->buf = buf;
    t->data = buf->data;
    t->dtype = dtype;
    t->ndim = ndim;
    copy_dims(t->shape, shape, ndim);
    contiguous_strides(ndim, shape, t->strides);
    return 0;
}

int
cc_tensor_init_zeros(cc_tensor *t, cc_dtype dtype, int ndim, const int64_t *shape)
{
    if (cc_tensor_init_empty(t, dtype, ndim, shape) < 0) {
        return -1;
    }
    // All-zero bytes are 0 in every dtype (IEEE +0.0, integer 0, false).
    memset(t->data, 0, t->buf->nbytes);
    return 0;
}

int
cc_tensor_init_from_buffer(cc_tensor *t, cc_buffer *buf, size_t byte_offset, cc_dtype dtype,
                           int ndim, const int64_t *shape, const int64_t *strides)
{
    memset(t, 0, sizeof(*t));
    if (!dtype_valid(dtype)) {
        return cc_fail(CC_E_PY_VALUE, "invalid dtype %d", (int)dtype);
    }
    if (check_dims(ndim, shape, "tensor view of a buffer") < 0) {
        return -1;
    }
    int64_t st[CC_MAX_NDIM];
    if (strides != NULL) {
        copy_dims(st, strides, ndim);
    } else {
        contiguous_strides(ndim, shape, st);
    }
    int64_t esize = (int64_t)cc_dtype_size(dtype);
    if (cc_shape_numel(ndim, shape) > 0) {
        // The lowest and highest elements the view can reach must lie inside the buffer.
        int64_t lo = 0;
        int64_t hi = 0;
        for (int i = 0; i < ndim; i++) {
            int64_t reach = (shape[i] - 1) * st[i];
            if (reach < 0) {
                lo += reach;
            } else {
                hi += reach;
            }
        }
        int64_t first = (int64_t)byte_offset + lo * esize;
        int64_t end = (int64_t)byte_offset + (hi + 1) * esize;
        if (first < 0 || end > (int64_t)buf->nbytes) {
            return cc_fail(CC_E_PY_VALUE,
                           "tensor view reaches bytes [%lld, %lld) outside its buffer of %zu "
                           "bytes",
                           (long long)first, (long long)end, buf->nbytes);
        }
    }
    if (buf->device == CC_DEVICE_CPU && ((uintptr_t)buf->data + byte_offset) % (uintptr_t)esize) {
        return cc_fail(CC_E_PY_VALUE, "%s tensor data at byte offset %zu is not aligned",
                       cc_dtype_name(dtype), byte_offset);
    }
    cc_buffer_incref(buf);
    t->buf = buf;
    t->data = (char *)buf->data + byte_offset;
    t->dtype = dtype;
    t->ndim = ndim;
    copy_dims(t->shape, shape, ndim);
    copy_dims(t->strides, st, ndim);
    return 0;
}

void
cc_tensor_init_view(cc_tensor *dst, const cc_tensor *src)
{
    if (dst != src) {
        *dst = *src;
    }
    if (dst->buf != NULL) {
        cc_buffer_incref(dst->buf);
    }
}

int64_t
cc_f64_to_i64(double v)
{
    // 2^63 is exact in double; outside [-2^63, 2^63) C leaves the conversion undefined.
    if (v >= -9223372036854775808.0 && v < 9223372036854775808.0) {
        return (int64_t)v;
    }
    return INT64_MIN;
}

int
cc_tensor_init_scalar(cc_tensor *t, cc_dtype dtype, double value)
{
    if (cc_tensor_init_empty(t, dtype, 0, NULL) < 0) {
        return -1;
    }
    cc_dtype_store_f64(t->data, dtype, value);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// views

static int
check_axis(const cc_tensor *t, int axis, const char *op)
{
    if (axis < 0 || axis >= t->ndim) {
        return cc_fail(CC_E_PY_VALUE, "%s: axis %d out of range for a tensor of %d dims", op, axis,
                       t->ndim);
    }
    return 0;
}

int
cc_tensor_permute(cc_tensor *t, const int *perm)
{
    uint64_t seen = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= t->ndim || (seen >> perm[i]) & 1) {
            return cc_fail(CC_E_PY_VALUE, "permute: not a permutation of %d axes (entry %d is %d)",
                           t->ndim, i, perm[i]);
        }
        seen |= (uint64_t)1 << perm[i];
    }
    int64_t shape[CC_MAX_NDIM];
    int64_t strides[CC_MAX_NDIM];
    for (int i = 0; i < t->ndim; i++) {
        shape[i] = t->shape[perm[i]];
        strides[i] = t->strides[perm[i]];
    }
    copy_dims(t->shape, shape, t->ndim);
    copy_dims(t->strides, strides, t->ndim);
    return 0;
}

int
cc_tensor_slice(cc_tensor *t, int axis, int64_t start, int64_t stop)
{
    if (check_axis(t, axis, "slice") < 0) {
        return -1;
    }
    if (start < 0 || start > stop || stop > t->shape[axis]) {
        return cc_fail(CC_E_PY_VALUE, "slice [%lld, %lld) out of range for axis %d of size %lld",
                       (long long)start, (long long)stop, axis, (long long)t->shape[axis]);
    }
    // An empty slice keeps data where it is, so it never points past its buffer.
    if (stop > start) {
        t->data = (char *)t->data + start * t->strides[axis] * (int64_t)cc_dtype_size(t->dtype);
    }
    t->shape[axis] = stop - start;
    return 0;
}

int
cc_tensor_select(cc_tensor *t, int axis, int64_t index)
{
    if (check_axis(t, axis, "select") < 0) {
        return -1;
    }
    if (index < 0 || index >= t->shape[axis]) {
        return cc_fail(CC_E_PY_VALUE, "select: index %lld out of range for axis %d of size %lld",
                       (long long)index, axis, (long long)t->shape[axis]);
    }
    t->data = (char *)t->data + index * t->strides[axis] * (int64_t)cc_dtype_size(t->dtype);
    for (int i = axis; i + 1 < t->ndim; i++) {
        t->shape[i] = t->shape[i + 1];
        t->strides[i] = t->strides[i + 1];
    }
    t->ndim--;
    return 0;
}

int
cc_tensor_unsqueeze(cc_tensor *t, int axis)
{
    if (axis < 0 || axis > t->ndim) {
        return cc_fail(CC_E_PY_VALUE, "unsqueeze: axis %d out of range for a tensor of %d dims",
                       axis, t->ndim);
    }
    if (t->ndim == CC_MAX_NDIM) {
        return cc_fail(CC_E_PY_VALUE, "unsqueeze: tensor already has %d dims (the most supported)",
                       CC_MAX_NDIM);
    }
    for (int i = t->ndim; i > axis; i--) {
        t->shape[i] = t->shape[i - 1];
        t->strides[i] = t->strides[i - 1];
    }
    t->shape[axis] = 1;
    // The stride a C-contiguous layout would give, so contiguity is visibly kept.
    t->strides[axis] = axis + 1 <= t->ndim ? t->strides[axis + 1] * t->shape[axis + 1] : 1;
    t->ndim++;
    return 0;
}

static void
format_shape(char *out, size_t cap, int ndim, const int64_t *shape)
{
    size_t len = 0;
    out[0] = '\0';
    len += (size_t)snprintf(out + len, cap - len, "(");
    for (int i = 0; i < ndim && len < cap; i++) {
        len += (size_t)snprintf(out + len, cap - len, i ? ", %lld" : "%lld", (long long)shape[i]);
    }
    if (len < cap) {
        snprintf(out + len, cap - len, ndim == 1 ? ",)" : ")");
    }
}

int
cc_tensor_broadcast_to(cc_tensor *t, int ndim, const int64_t *shape)
{
    int ok = ndim >= t->ndim && ndim <= CC_MAX_NDIM;
    int off = ndim - t->ndim;
    for (int i = 0; ok && i < t->ndim; i++) {
        ok = t->shape[i] == shape[off + i] || t->shape[i] == 1;
    }
    if (!ok) {
        char from[256];
        char to[256];
        format_shape(from, sizeof(from), t->ndim, t->shape);
        format_shape(to, sizeof(to), ndim, shape);
        return cc_fail(CC_E_MISC_INPUT_NOT_BROADCASTABLE, "cannot broadcast shape %s to %s", from,
                       to);
    }
    for (int i = ndim - 1; i >= 0; i--) {
        int j = i - off;
        int64_t stride = 0;
        if (j >= 0 && t->shape[j] == shape[i]) {
            stride = t->strides[j];
        }
        t->strides[i] = stride;
        t->shape[i] = shape[i];
    }
    t->ndim = ndim;
    return 0;
}

int
cc_tensor_try_reshape_view(cc_tensor *t, int ndim, const int64_t *shape)
{
    if (check_dims(ndim, shape, "reshape") < 0) {
        return -1;
    }
    int64_t numel = cc_tensor_numel(t);
    if (cc_shape_numel(ndim, shape) != numel) {
        char from[256];
        char to[256];
        format_shape(from, sizeof(from), t->ndim, t->shape);
        format_shape(to, sizeof(to), ndim, shape);
        return cc_fail(CC_E_PY_VALUE, "cannot reshape a tensor of shape %s into %s", from, to);
    }
    int64_t strides[CC_MAX_NDIM];
    if (numel <= 1 || t->ndim == 0) {
        contiguous_strides(ndim, shape, strides);
    } else {
        // Walk both shapes from the right in chunks: a run of old dims that is itself
        // contiguous (each stride = next stride * next size) can be split into new dims freely.
        int view_d = ndim - 1;
        int64_t chunk_base = t->strides[t->ndim - 1];
        int64_t tensor_numel = 1;
        int64_t view_numel = 1;
        for (int d = t->ndim - 1; d >= 0; d--) {
            tensor_numel *= t->shape[d];
            if (d == 0 ||
                (t->shape[d - 1] != 1 && t->strides[d - 1] != tensor_numel * chunk_base)) {
                while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
                    strides[view_d] = view_numel * chunk_base;
                    view_numel *= shape[view_d];
                    view_d--;
                }
                if (view_numel != tensor_numel) {
                    return 0;
                }
                if (d > 0) {
                    chunk_base = t->strides[d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if (view_d != -1) {
            return 0;
        }
    }
    t->ndim = ndim;
    copy_dims(t->shape, shape, ndim);
    copy_dims(t->strides, strides, ndim);
    return 1;
}

int
cc_tensor_diagonal(cc_tensor *t, int a, int b)
{
    if (check_axis(t, a, "diagonal") < 0 || check_axis(t, b, "diagonal") < 0) {
        return -1;
    }
    if (a >= b) {
        return cc_fail(CC_E_PY_VALUE, "diagonal: axes %d and %d must satisfy a < b", a, b);
    }
    if (t->shape[b] < t->shape[a]) {
        t->shape[a] = t->shape[b];
    }
    t->strides[a] += t->strides[b];
    for (int i = b; i + 1 < t->ndim; i++) {
        t->shape[i] = t->shape[i + 1];
        t->strides[i] = t->strides[i + 1];
    }
    t->ndim--;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// strided iteration (strided.h)

int
cc_check_cpu(const cc_tensor *t, const char *op)
{
    if (t->buf != NULL && t->buf->device != CC_DEVICE_CPU) {
        return cc_fail(CC_E_PY_RUNTIME, "%s: CPU kernel given a tensor in cuda memory", op);
    }
    return 0;
}

int
cc_threads_for(int64_t work)
{
    if (work < CC_PARALLEL_MIN || omp_in_parallel()) {
        return 1;
    }
    return omp_get_max_threads();
}

void
cc_iter_init(cc_iter *it, int nops, const cc_tensor *const *ops, int ndim, const int64_t *shape)
{
    it->nops = nops;
    it->numel = cc_shape_numel(ndim, shape);
    for (int k = 0; k < nops; k++) {
        it->data[k] = ops[k]->data;
    }
    // Drop size-1 dims, then merge each dim into the previous kept one when every operand
    // steps over it contiguously.
    int nd = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 1) {
            continue;
        }
        int merge = nd > 0;
        for (int k = 0; merge && k < nops; k++) {
            int64_t es = (int64_t)cc_dtype_size(ops[k]->dtype);
            merge = it->strides[k][nd - 1] == ops[k]->strides[i] * es * shape[i];
        }
        if (merge) {
            it->shape[nd - 1] *= shape[i];
            for (int k = 0; k < nops; k++) {
                it->strides[k][nd - 1] = ops[k]->strides[i] * (int64_t)cc_dtype_size(ops[k]->dtype);
            }
            continue;
        }
        it->shape[nd] = shape[i];
        for (int k = 0; k < nops; k++) {
            it->strides[k][nd] = ops[k]->strides[i] * (int64_t)cc_dtype_size(ops[k]->dtype);
        }
        nd++;
    }
    if (nd == 0) {
        it->shape[0] = 1;
        for (int k = 0; k < nops; k++) {
            it->strides[k][0] = 0;
        }
        nd = 1;
    }
    it->ndim = nd;
}

// Long rows are split so that one huge contiguous row still spreads over threads.
#define ROW_CHUNK 16384

static void
iter_range(const cc_iter *it, int64_t u0, int64_t u1, int64_t per_row, cc_row_fn fn, void *ctx)
{
    int nd = it->ndim;
    int nops = it->nops;
    int64_t inner = it->shape[nd - 1];
    int64_t row = u0 / per_row;
    int64_t part = u0 % per_row;
    int64_t idx[CC_MAX_NDIM];
    char *rowp[CC_ITER_MAX_OPS];
    int64_t s[CC_ITER_MAX_OPS];
    char *p[CC_ITER_MAX_OPS];
    for (int k = 0; k < nops; k++) {
        rowp[k] = it->data[k];
        s[k] = it->strides[k][nd - 1];
    }
    for (int d = nd - 2; d >= 0; d--) {
        idx[d] = row % it->shape[d];
        row /= it->shape[d];
        for (int k = 0; k < nops; k++) {
            rowp[k] += idx[d] * it->strides[k][d];
        }
    }
    for (int64_t u = u0; u < u1; u++) {
        int64_t start = part * ROW_CHUNK;
        int64_t n = inner - start < ROW_CHUNK ? inner - start : ROW_CHUNK;
        for (int k = 0; k < nops; k++) {
            p[k] = rowp[k] + start * s[k];
        }
        fn(p, s, n, ctx);
        if (++part < per_row) {
            continue;
        }
        part = 0;
        for (int d = nd - 2; d >= 0; d--) {
            for (int k = 0; k < nops; k++) {
                rowp[k] += it->strides[k][d];
            }
            if (++idx[d] < it->shape[d]) {
                break;
            }
            for (int k = 0; k < nops; k++) {
                rowp[k] -= idx[d] * it->strides[k][d];
            }
            idx[d] = 0;
        }
    }
}

void
cc_iter_run(const cc_iter *it, cc_row_fn fn, void *ctx)
{
    if (it->numel == 0) {
        return;
    }
    int64_t inner = it->shape[it->ndim - 1];
    int64_t per_row = (inner + ROW_CHUNK - 1) / ROW_CHUNK;
    int64_t units = it->numel / inner * per_row;
    int threads = cc_threads_for(it->numel);
    if (threads <= 1 || units == 1) {
        iter_range(it, 0, units, per_row, fn, ctx);
        return;
    }
    // A few blocks per thread, handed out as threads come free, smooth out a noisy host (a
    // core taken by another process does less of the work); each block walks its units in
    // order.
    int64_t blocks = units < (int64_t)threads * 4 ? units : (int64_t)threads * 4;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t b = 0; b < blocks; b++) {
        iter_range(it, units * b / blocks, units * (b + 1) / blocks, per_row, fn, ctx);
    }
}

// ---------------------------------------------------------------------------------------------
// copies with dtype conversion

// Same dtype, both contiguous along the row: a plain byte copy.
static void
memcpy_row(char *const *p, const int64_t *s, int64_t n, void *ctx)
{
    (void)s;
    memcpy(p[0], p[1], (size_t)(n * *(const int64_t *)ctx));
}

int
cc_tensor_copy_into(cc_tensor *dst, const cc_tensor *src)
{
    if (cc_check_cpu(dst, "copy") < 0 || cc_check_cpu(src, "copy") < 0) {
        return -1;
    }
    cc_tensor s = *src; // a borrowed view: no reference taken, none released
    if (cc_tensor_broadcast_to(&s, dst->ndim, dst->shape) < 0) {
        return -1;
    }
    for (int i = 0; i < dst->ndim; i++) {
        if (dst->strides[i] == 0 && dst->shape[i] > 1) {
            return cc_fail(CC_E_PY_VALUE, "copy: destination axis %d is broadcast (stride 0)", i);
        }
    }
    const cc_tensor *ops[2] = {dst, &s};
    cc_iter it;
    cc_iter_init(&it, 2, ops, dst->ndim, dst->shape);
    int64_t esize = (int64_t)cc_dtype_size(dst->dtype);
    if (dst->dtype == s.dtype && it.strides[0][it.ndim - 1] == esize &&
        it.strides[1][it.ndim - 1] == esize) {
        cc_iter_run(&it, memcpy_row, &esize);
    } else {
        cc_cast_run(&it, dst->dtype, s.dtype);
    }
    return 0;
}

int
cc_tensor_copy(cc_tensor *out, const cc_tensor *x)
{
    if (cc_tensor_init_empty(out, x->dtype, x->ndim, x->shape) < 0) {
        return -1;
    }
    if (cc_tensor_copy_into(out, x) < 0) {
        cc_tensor_clear(out);
        return -1;
    }
    return 0;
}

int
cc_tensor_contiguous(cc_tensor *out, const cc_tensor *x)
{
    if (cc_tensor_is_contiguous(x)) {
        cc_tensor_init_view(out, x);
        return 0;
    }
    return cc_tensor_copy(out, x);
}

int
cc_tensor_cast(cc_tensor *out, const cc_tensor *x, cc_dtype dtype)
{
    if (x->dtype == dtype) {
        cc_tensor_init_view(out, x);
        return 0;
    }
    if (cc_tensor_init_empty(out, dtype, x->ndim, x->shape) < 0) {
        return -1;
    }
    if (cc_tensor_copy_into(out, x) < 0) {
        cc_tensor_clear(out);
        return -1;
    }
    return 0;
}

int
cc_tensor_reshape(cc_tensor *out, const cc_tensor *x, int ndim, const int64_t *shape)
{
    cc_tensor view = *x;
    int r = cc_tensor_try_reshape_view(&view, ndim, shape);
    if (r < 0) {
        memset(out, 0, sizeof(*out));
        return -1;
    }
    if (r == 1) {
        cc_tensor_init_view(out, &view);
        return 0;
    }
    if (cc_tensor_copy(out, x) < 0) {
        return -1;
    }
    // A fresh contiguous tensor always reshapes as a view.
    cc_tensor_try_reshape_view(out, ndim, shape);
    return 0;
}
