// Concatenation along one axis: each input is copied into its slice of the output through
// cc_tensor_copy_into, which handles strided and broadcast inputs and runs in parallel.
#include "tensor/kernels.h"
#include "tensor/strided.h"
#include "util/error.h"

int
cc_concat(cc_tensor *out, const cc_tensor *const *xs, int n, int axis)
{
    if (n < 1) {
        return cc_fail(CC_E_PY_VALUE, "concat: no tensors to concatenate");
    }
    const cc_tensor *first = xs[0];
    if (axis < 0 || axis >= first->ndim) {
        return cc_fail(CC_E_PY_VALUE, "concat: axis %d out of range for tensors of %d dims", axis,
                       first->ndim);
    }
    int64_t shape[CC_MAX_NDIM];
    for (int d = 0; d < first->ndim; d++) {
        shape[d] = first->shape[d];
    }
    shape[axis] = 0;
    for (int i = 0; i < n; i++) {
        const cc_tensor *x = xs[i];
        if (x->dtype != first->dtype) {
            return cc_fail(CC_E_PY_TYPE, "concat: tensor %d has dtype %s, tensor 0 has %s", i,
                           cc_dtype_name(x->dtype), cc_dtype_name(first->dtype));
        }
        if (x->ndim != first->ndim) {
            return cc_fail(CC_E_PY_VALUE, "concat: tensor %d has %d dims, tensor 0 has %d", i,
                           x->ndim, first->ndim);
        }
        for (int d = 0; d < x->ndim; d++) {
            if (d != axis && x->shape[d] != first->shape[d]) {
                return cc_fail(CC_E_PY_VALUE,
                               "concat: axis %d has size %lld in tensor %d but %lld in tensor 0", d,
                               (long long)x->shape[d], i, (long long)first->shape[d]);
            }
        }
        if (cc_check_cpu(x, "concat") < 0) {
            return -1;
        }
        shape[axis] += x->shape[axis];
    }
    if (cc_tensor_init_empty(out, first->dtype, first->ndim, shape) < 0) {
        return -1;
    }
    int64_t start = 0;
    for (int i = 0; i < n; i++) {
        int64_t len = xs[i]->shape[axis];
        cc_tensor part = *out; // borrowed view of out
        if (cc_tensor_slice(&part, axis, start, start + len) < 0 ||
            cc_tensor_copy_into(&part, xs[i]) < 0) {
            cc_tensor_clear(out);
            return -1;
        }
        start += len;
    }
    return 0;
}
