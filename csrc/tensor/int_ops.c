// Integer kernels (int_ops.h).
#include "tensor/int_ops.h"

#include <string.h>

#include "tensor/kernels.h"
#include "tensor/strided.h"
#include "util/alloc.h"
#include "util/error.h"

static int
check_i64(const cc_tensor *t, const char *op)
{
    if (t->dtype != CC_DTYPE_I64) {
        return cc_fail(CC_E_PY_TYPE, "%s: integer kernel given %s (int64 only)", op,
                       cc_dtype_name(t->dtype));
    }
    return cc_check_cpu(t, op);
}

#define INT_UNARY_ROW(NAME, EXPR)                                                                  \
    static void NAME(char *const *p, const int64_t *s, int64_t n, void *ctx)                       \
    {                                                                                              \
        (void)ctx;                                                                                 \
        for (int64_t i = 0; i < n; i++) {                                                          \
            int64_t v = *(const int64_t *)(p[1] + i * s[1]);                                       \
            *(int64_t *)(p[0] + i * s[0]) = (EXPR);                                                \
        }                                                                                          \
    }

// abs wraps as torch's does: abs(INT64_MIN) is INT64_MIN.
INT_UNARY_ROW(i64_relu, v > 0 ? v : 0)
INT_UNARY_ROW(i64_abs, v < 0 ? (int64_t)(0 - (uint64_t)v) : v)
INT_UNARY_ROW(i64_step, v > 0 ? 1 : 0)

#undef INT_UNARY_ROW

int
cc_int_unary(cc_tensor *out, cc_unary_op op, const cc_tensor *x)
{
    memset(out, 0, sizeof(*out));
    cc_row_fn fn = op == CC_UNARY_RELU   ? i64_relu
                   : op == CC_UNARY_ABS  ? i64_abs
                   : op == CC_UNARY_STEP ? i64_step
                                         : NULL;
    if (fn == NULL) {
        return cc_fail(CC_E_PY_VALUE, "integer unary: unsupported op %d", (int)op);
    }
    if (check_i64(x, "integer unary") < 0 ||
        cc_tensor_init_empty(out, CC_DTYPE_I64, x->ndim, x->shape) < 0) {
        return -1;
    }
    const cc_tensor *ops[2] = {out, x};
    cc_iter it;
    cc_iter_init(&it, 2, ops, x->ndim, x->shape);
    cc_iter_run(&it, fn, NULL);
    return 0;
}

static int64_t
ipow(int64_t a, int64_t b)
{
    if (b < 0) {
        return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;
    }
    uint64_t base = (uint64_t)a;
    uint64_t r = 1;
    for (uint64_t e = (uint64_t)b; e != 0; e >>= 1) {
        if (e & 1) {
            r *= base;
        }
        base *= base;
    }
    return (int64_t)r;
}

static void
i64_pow(char *const *p, const int64_t *s, int64_t n, void *ctx)
{
    (void)ctx;
    for (int64_t i = 0; i < n; i++) {
        int64_t a = *(const int64_t *)(p[1] + i * s[1]);
        int64_t b = *(const int64_t *)(p[2] + i * s[2]);
        *(int64_t *)(p[0] + i * s[0]) = ipow(a, b);
    }
}

int
cc_int_pow(cc_tensor *out, const cc_tensor *a, const cc_tensor *b)
{
    memset(out, 0, sizeof(*out));
    if (check_i64(a, "integer pow") < 0 || check_i64(b, "integer pow") < 0) {
        return -1;
    }
    cc_tensor va, vb;
    int nd;
    int64_t shape[CC_MAX_NDIM];
    if (cc_broadcast_views("integer pow", a, b, &va, &vb, &nd, shape) < 0 ||
        cc_tensor_init_empty(out, CC_DTYPE_I64, nd, shape) < 0) {
        return -1;
    }
    const cc_tensor *ops[3] = {out, &va, &vb};
    cc_iter it;
    cc_iter_init(&it, 3, ops, nd, shape);
    cc_iter_run(&it, i64_pow, NULL);
    return 0;
}

int
cc_int_einsum(cc_tensor *out, int n_operands, const cc_tensor *const *operands,
              const uint8_t *const *labels, int n_out, const uint8_t *out_labels)
{
    memset(out, 0, sizeof(*out));
    if (n_operands < 1 || n_out > CC_MAX_NDIM) {
        return cc_fail(CC_E_PY_VALUE, "integer einsum: %d operands, %d output axes", n_operands,
                       n_out);
    }
    // The distinct labels, each with its size, and per label the element step it takes in
    // every operand and in the output (summed over repeats: a diagonal).
    int n_labels = 0;
    int slot[256];
    for (int l = 0; l < 256; l++) {
        slot[l] = -1;
    }
    int64_t size[256];
    for (int k = 0; k < n_operands; k++) {
        if (check_i64(operands[k], "integer einsum") < 0) {
            return -1;
        }
        for (int j = 0; j < operands[k]->ndim; j++) {
            uint8_t l = labels[k][j];
            if (slot[l] < 0) {
                slot[l] = n_labels;
                size[n_labels++] = operands[k]->shape[j];
            }
        }
    }
    int64_t out_shape[CC_MAX_NDIM];
    for (int j = 0; j < n_out; j++) {
        if (slot[out_labels[j]] < 0) {
            return cc_fail(CC_E_PY_VALUE, "integer einsum: output label %d is on no operand",
                           out_labels[j]);
        }
        out_shape[j] = size[slot[out_labels[j]]];
    }
    if (cc_tensor_init_zeros(out, CC_DTYPE_I64, n_out, out_shape) < 0) {
        return -1;
    }
    // One spare row, so that no allocation is empty when every operand is 0-d.
    int64_t *step = cc_calloc((size_t)(n_labels + 1) * (size_t)(n_operands + 1), sizeof(int64_t));
    int64_t *idx = cc_calloc((size_t)n_labels + 1, sizeof(int64_t));
    int64_t *off = cc_calloc((size_t)(n_operands + 1), sizeof(int64_t));
    if (step == NULL || idx == NULL || off == NULL) {
        cc_free(step);
        cc_free(idx);
        cc_free(off);
        cc_tensor_clear(out);
        return -1;
    }
    // step[s * (n_operands + 1) + k]: operand k (k == n_operands: the output)
    int w = n_operands + 1;
    for (int k = 0; k < n_operands; k++) {
        for (int j = 0; j < operands[k]->ndim; j++) {
            step[slot[labels[k][j]] * w + k] += operands[k]->strides[j];
        }
    }
    for (int j = 0; j < n_out; j++) {
        step[slot[out_labels[j]] * w + n_operands] += out->strides[j];
    }
    int64_t total = 1;
    for (int s = 0; s < n_labels; s++) {
        total *= size[s];
    }
    int64_t *dst = out->data;
    // Odometer over every label's values, the last label fastest.
    for (int64_t it = 0; it < total; it++) {
        uint64_t prod = 1;
        for (int k = 0; k < n_operands; k++) {
            prod *= (uint64_t)((const int64_t *)operands[k]->data)[off[k]];
        }
        dst[off[n_operands]] = (int64_t)((uint64_t)dst[off[n_operands]] + prod);
        for (int s = n_labels - 1; s >= 0; s--) {
            for (int k = 0; k < w; k++) {
                off[k] += step[s * w + k];
            }
            if (++idx[s] < size[s]) {
                break;
            }
            for (int k = 0; k < w; k++) {
                off[k] -= idx[s] * step[s * w + k];
            }
            idx[s] = 0;
        }
    }
    cc_free(step);
    cc_free(idx);
    cc_free(off);
    return 0;
}
