// CPU kernels over cc_tensor. Inputs may be strided or broadcast; outputs are
// new contiguous tensors initialised by the call. All return 0, or -1 with an
// error recorded. Float kernels run on F32 and F64; the result has the input dtype
// unless stated. Parallel with OpenMP (OMP_NUM_THREADS), vectorisable inner loops.
#pragma once

#include "tensor/tensor.h"

typedef enum {
    CC_UNARY_NEG,
    CC_UNARY_SIN,
    CC_UNARY_COS,
    CC_UNARY_SIGMOID,
    CC_UNARY_TANH,
    CC_UNARY_EXP,
    CC_UNARY_LOG,
    CC_UNARY_ABS,
    CC_UNARY_LOGIT,
    CC_UNARY_RELU,
    CC_UNARY_RSQRT,
    CC_UNARY_RECIPROCAL,
    CC_UNARY_GELU,        // x * Phi(x), erf form
    CC_UNARY_GELU_NEW,    // tanh approximation (HF gelu_new)
    CC_UNARY_STEP,        // 1 if x > 0 else 0
    CC_UNARY_LOG_EXP_P_1, // log(1 + e^x), stable
    CC_UNARY_GAUSSIAN_PDF,
    CC_UNARY_GAUSSIAN_CDF,
    CC_UNARY_COUNT
} cc_unary_op;

typedef enum {
    CC_BINARY_ADD,
    CC_BINARY_SUB,
    CC_BINARY_MUL,
    CC_BINARY_DIV,
    CC_BINARY_POW,
    CC_BINARY_COUNT
} cc_binary_op;

typedef enum {
    CC_REDUCE_SUM,
    CC_REDUCE_MEAN,
    CC_REDUCE_MAX,
    CC_REDUCE_MIN,
    CC_REDUCE_COUNT
} cc_reduce_op;

// Elementwise f(x) for float x.
int cc_unary(cc_tensor *out, cc_unary_op op, const cc_tensor *x);
// Elementwise a op b with numpy broadcasting; a and b have the same dtype (the caller casts).
int cc_binary(cc_tensor *out, cc_binary_op op, const cc_tensor *a, const cc_tensor *b);
// av and bv become borrowed views of a and b broadcast (numpy's rule) to their common shape
// (*ndim sizes in shape). 0, or -1 with CC_E_MISC_INPUT_NOT_BROADCASTABLE naming op_name and
// both shapes.
int cc_broadcast_views(const char *op_name, const cc_tensor *a, const cc_tensor *b, cc_tensor *av,
                       cc_tensor *bv, int *ndim, int64_t *shape);
// acc += x, x broadcast to acc's shape; acc contiguous, same dtype.
int cc_add_into(cc_tensor *acc, const cc_tensor *x);
// out = xs[0] * xs[1] * ... (in that order), 2 <= n <= 3 float tensors of out's dtype and
// shape (broadcast views allowed), written into out (any strides, allocated by the caller):
// a product of several operands in one pass.
int cc_mul_into(cc_tensor *out, int n, const cc_tensor *const *xs);
// Reduction over the axes with axes_mask bit set (axis i <-> bit i); reduced axes are removed.
// I64 and BOOL inputs allowed for SUM (result I64), MAX, MIN.
int cc_reduce(cc_tensor *out, cc_reduce_op op, const cc_tensor *x, uint64_t axes_mask);
// out[i...] = sum_j x[i..., j] * y[i..., j]: batched dot products over the last axis of two
// float tensors of one shape (out's shape plus that axis; any strides), written into out
// (allocated by the caller). Products and sums are taken in double, as cc_reduce sums.
int cc_dot_into(cc_tensor *out, const cc_tensor *x, const cc_tensor *y);
// Softmax / log-softmax over the last axis, numerically stable (max subtracted).
int cc_softmax(cc_tensor *out, const cc_tensor *x);
int cc_log_softmax(cc_tensor *out, const cc_tensor *x);
// out = x with axis replaced by the positions in index (1-D I64): torch.index_select.
// Negative indices count from the end; out of range -> CC_E_MISC_INPUT_ITEM_OUT_OF_BOUNDS.
int cc_index_select(cc_tensor *out, const cc_tensor *x, int axis, const cc_tensor *index);
// Batched gather: x has shape B + (n,) + R, index has shape B + I (I64, values in [-n, n));
// out[b, i..., r...] = x[b, index[b, i...], r...]. n_batch = len(B); axis = len(B).
int cc_gather_batched(cc_tensor *out, const cc_tensor *x, int n_batch, const cc_tensor *index);
// Concatenation along axis of n tensors of one dtype whose other sizes agree.
int cc_concat(cc_tensor *out, const cc_tensor *const *xs, int n, int axis);
