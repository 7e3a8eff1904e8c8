// Elementwise binary kernels with numpy broadcasting (cc_binary) and in-place accumulation
// (cc_add_into), for float32, float64 and int64. Integer arithmetic wraps (two's complement)
// instead of overflowing, so no user value is undefined behaviour.
#include <math.h>
#include <stdio.h>

#include "tensor/kernels.h"
#include "tensor/strided.h"
#include "util/error.h"

static const char *const binary_names[CC_BINARY_COUNT] = {
    [CC_BINARY_ADD] = "add", [CC_BINARY_SUB] = "sub", [CC_BINARY_MUL] = "mul",
    [CC_BINARY_DIV] = "div", [CC_BINARY_POW] = "pow",
};

static inline int64_t
wrap_add(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static inline int64_t
wrap_sub(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

static inline int64_t
wrap_mul(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a * (uint64_t)b);
}

// Row kernel: p[0] out (contiguous), p[1] a, p[2] b (any stride, 0 when broadcast). The
// common layouts get their own loops so they vectorise.
#define BINARY_ROW(NAME, T, EXPR)                                                                  \
    static void NAME(char *const *p, const int64_t *s, int64_t n, void *ctx)                       \
    {                                                                                              \
        (void)ctx;                                                                                 \
        T *restrict out = (T *)p[0];                                                               \
        const int64_t es = (int64_t)sizeof(T);                                                     \
        if (s[1] == es && s[2] == es) {                                                            \
            const T *restrict pa = (const T *)p[1];                                                \
            const T *restrict pb = (const T *)p[2];                                                \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T a = pa[i];                                                                       \
                T b = pb[i];                                                                       \
                out[i] = (EXPR);                                                                   \
            }                                                                                      \
        } else if (s[1] == es && s[2] == 0) {                                                      \
            const T *restrict pa = (const T *)p[1];                                                \
            const T b = *(const T *)p[2];                                                          \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T a = pa[i];                                                                       \
                out[i] = (EXPR);                                                                   \
            }                                                                                      \
        } else if (s[1] == 0 && s[2] == es) {                                                      \
            const T a = *(const T *)p[1];                                                          \
            const T *restrict pb = (const T *)p[2];                                                \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T b = pb[i];                                                                       \
                out[i] = (EXPR);                                                                   \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T a = *(const T *)(p[1] + i * s[1]);                                               \
                T b = *(const T *)(p[2] + i * s[2]);                                               \
                out[i] = (EXPR);                                                                   \
            }                                                                                      \
        }                                                                                          \
    }

BINARY_ROW(f32_add, float, a + b)
BINARY_ROW(f32_sub, float, a - b)
BINARY_ROW(f32_mul, float, a *b)
BINARY_ROW(f32_div, float, a / b)
BINARY_ROW(f32_pow, float, powf(a, b))
BINARY_ROW(f64_add, double, a + b)
BINARY_ROW(f64_sub, double, a - b)
BINARY_ROW(f64_mul, double, a *b)
BINARY_ROW(f64_div, double, a / b)
BINARY_ROW(f64_pow, double, pow(a, b))
BINARY_ROW(i64_add, int64_t, wrap_add(a, b))
BINARY_ROW(i64_sub, int64_t, wrap_sub(a, b))
BINARY_ROW(i64_mul, int64_t, wrap_mul(a, b))

#undef BINARY_ROW

// [dtype][op]; NULL where the pair is not supported.
static const cc_row_fn binary_rows[CC_DTYPE_COUNT][CC_BINARY_COUNT] = {
    [CC_DTYPE_F32] = {[CC_BINARY_ADD] = f32_add,
                      [CC_BINARY_SUB] = f32_sub,
                      [CC_BINARY_MUL] = f32_mul,
                      [CC_BINARY_DIV] = f32_div,
                      [CC_BINARY_POW] = f32_pow},
    [CC_DTYPE_F64] = {[CC_BINARY_ADD] = f64_add,
                      [CC_BINARY_SUB] = f64_sub,
                      [CC_BINARY_MUL] = f64_mul,
                      [CC_BINARY_DIV] = f64_div,
                      [CC_BINARY_POW] = f64_pow},
    [CC_DTYPE_I64] = {[CC_BINARY_ADD] = i64_add,
                      [CC_BINARY_SUB] = i64_sub,
                      [CC_BINARY_MUL] = i64_mul},
};

static void
format_shape(char *out, size_t cap, const cc_tensor *t)
{
    size_t len = (size_t)snprintf(out, cap, "(");
    for (int i = 0; i < t->ndim && len < cap; i++) {
        len +=
            (size_t)snprintf(out + len, cap - len, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    }
    if (len < cap) {
        snprintf(out + len, cap - len, t->ndim == 1 ? ",)" : ")");
    }
}

int
cc_broadcast_views(const char *name, const cc_tensor *a, const cc_tensor *b, cc_tensor *av,
                   cc_tensor *bv, int *ndim, int64_t *shape)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim);
        int ib = i - (nd - b->ndim);
        int64_t sa = ia >= 0 ? a->shape[ia] : 1;
        int64_t sb = ib >= 0 ? b->shape[ib] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char ta[256];
            char tb[256];
            format_shape(ta, sizeof(ta), a);
            format_shape(tb, sizeof(tb), b);
            return cc_fail(CC_E_MISC_INPUT_NOT_BROADCASTABLE,
                           "%s: shapes %s and %s do not broadcast (axis %d: %lld vs %lld)", name,
                           ta, tb, i, (long long)sa, (long long)sb);
        }
        shape[i] = sa == 1 ? sb : sa;
    }
    *av = *a; // borrowed views: no references taken
    *bv = *b;
    *ndim = nd;
    return cc_tensor_broadcast_to(av, nd, shape) < 0 || cc_tensor_broadcast_to(bv, nd, shape) < 0
               ? -1
               : 0;
}

int
cc_binary(cc_tensor *out, cc_binary_op op, const cc_tensor *a, const cc_tensor *b)
{
    if ((int)op < 0 || op >= CC_BINARY_COUNT) {
        return cc_fail(CC_E_PY_VALUE, "binary: invalid op %d", (int)op);
    }
    const char *name = binary_names[op];
    if (a->dtype != b->dtype) {
        return cc_fail(CC_E_PY_TYPE, "%s: operands have different dtypes (%s and %s)", name,
                       cc_dtype_name(a->dtype), cc_dtype_name(b->dtype));
    }
    cc_row_fn fn = binary_rows[a->dtype][op];
    if (fn == NULL) {
        return cc_fail(CC_E_PY_TYPE, "%s: dtype %s not supported", name, cc_dtype_name(a->dtype));
    }
    if (cc_check_cpu(a, name) < 0 || cc_check_cpu(b, name) < 0) {
        return -1;
    }
    cc_tensor av, bv;
    int nd;
    int64_t shape[CC_MAX_NDIM];
    if (cc_broadcast_views(name, a, b, &av, &bv, &nd, shape) < 0 ||
        cc_tensor_init_empty(out, a->dtype, nd, shape) < 0) {
        return -1;
    }
    const cc_tensor *ops[3] = {out, &av, &bv};
    cc_iter it;
    cc_iter_init(&it, 3, ops, nd, shape);
    cc_iter_run(&it, fn, NULL);
    return 0;
}

#define ACCUMULATE_ROW(NAME, T, EXPR)                                                              \
    static void NAME(char *const *p, const int64_t *s, int64_t n, void *ctx)                       \
    {                                                                                              \
        (void)ctx;                                                                                 \
        const int64_t es = (int64_t)sizeof(T);                                                     \
        if (s[0] == es && s[1] == es) {                                                            \
            T *restrict acc = (T *)p[0];                                                           \
            const T *restrict px = (const T *)p[1];                                                \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T a = acc[i];                                                                      \
                T b = px[i];                                                                       \
                acc[i] = (EXPR);                                                                   \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T *pa = (T *)(p[0] + i * s[0]);                                                        \
            T a = *pa;                                                                             \
            T b = *(const T *)(p[1] + i * s[1]);                                                   \
            *pa = (EXPR);                                                                          \
        }                                                                                          \
    }

ACCUMULATE_ROW(f32_accumulate, float, a + b)
ACCUMULATE_ROW(f64_accumulate, double, a + b)
ACCUMULATE_ROW(i64_accumulate, int64_t, wrap_add(a, b))

#undef ACCUMULATE_ROW

int
cc_add_into(cc_tensor *acc, const cc_tensor *x)
{
    if (acc->dtype != x->dtype) {
        return cc_fail(CC_E_PY_TYPE, "add_into: operands have different dtypes (%s and %s)",
                       cc_dtype_name(acc->dtype), cc_dtype_name(x->dtype));
    }
    cc_row_fn fn;
    switch (acc->dtype) {
    case CC_DTYPE_F32:
        fn = f32_accumulate;
        break;
    case CC_DTYPE_F64:
        fn = f64_accumulate;
        break;
    case CC_DTYPE_I64:
        fn = i64_accumulate;
        break;
    default:
        return cc_fail(CC_E_PY_TYPE, "add_into: dtype %s not supported", cc_dtype_name(acc->dtype));
    }
    if (cc_check_cpu(acc, "add_into") < 0 || cc_check_cpu(x, "add_into") < 0) {
        return -1;
    }
    for (int i = 0; i < acc->ndim; i++) {
        if (acc->strides[i] == 0 && acc->shape[i] > 1) {
            return cc_fail(CC_E_PY_VALUE, "add_into: accumulator axis %d is broadcast (stride 0)",
                           i);
        }
    }
    cc_tensor xv = *x; // borrowed view
    if (cc_tensor_broadcast_to(&xv, acc->ndim, acc->shape) < 0) {
        return -1;
    }
    const cc_tensor *ops[2] = {acc, &xv};
    cc_iter it;
    cc_iter_init(&it, 2, ops, acc->ndim, acc->shape);
    cc_iter_run(&it, fn, NULL);
    return 0;
}

// out *= x over one row (first = 0), or out = x (first = 1); x contiguous, broadcast or
// strided.
#define MUL_INTO_ROW(NAME, T)                                                                      \
    static void NAME(T *restrict out, const char *x, int64_t sx, int64_t n, int first)             \
    {                                                                                              \
        if (sx == (int64_t)sizeof(T)) {                                                            \
            const T *restrict px = (const T *)x;                                                   \
            if (first) {                                                                           \
                for (int64_t i = 0; i < n; i++) {                                                  \
                    out[i] = px[i];                                                                \
                }                                                                                  \
            } else {                                                                               \
                for (int64_t i = 0; i < n; i++) {                                                  \
                    out[i] *= px[i];                                                               \
                }                                                                                  \
            }                                                                                      \
        } else if (sx == 0) {                                                                      \
            const T v = *(const T *)x;                                                             \
            if (first) {                                                                           \
                for (int64_t i = 0; i < n; i++) {                                                  \
                    out[i] = v;                                                                    \
                }                                                                                  \
            } else {                                                                               \
                for (int64_t i = 0; i < n; i++) {                                                  \
                    out[i] *= v;                                                                   \
                }                                                                                  \
            }                                                                                      \
        } else if (first) {                                                                        \
            for (int64_t i = 0; i < n; i++) {                                                      \
                out[i] = *(const T *)(x + i * sx);                                                 \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                out[i] *= *(const T *)(x + i * sx);                                                \
            }                                                                                      \
        }                                                                                          \
    }

MUL_INTO_ROW(f32_mul_into, float)
MUL_INTO_ROW(f64_mul_into, double)

#undef MUL_INTO_ROW

// Rows are built MUL_BLOCK elements at a time (in out itself when it is contiguous, else in a
// local block then stored), so that the passes over the factors stay in the L1 cache.
#define MUL_BLOCK 512

// p[0] out, p[1..n] the factors; ctx points at n.
#define MUL_ROWS(NAME, T, ROW)                                                                     \
    static void NAME(char *const *p, const int64_t *s, int64_t n, void *ctx)                       \
    {                                                                                              \
        int nx = *(const int *)ctx;                                                                \
        int contiguous = s[0] == (int64_t)sizeof(T);                                               \
        T block[MUL_BLOCK];                                                                        \
        for (int64_t i0 = 0; i0 < n; i0 += MUL_BLOCK) {                                            \
            int64_t m = n - i0 < MUL_BLOCK ? n - i0 : MUL_BLOCK;                                   \
            T *dst = contiguous ? (T *)p[0] + i0 : block;                                          \
            for (int k = 0; k < nx; k++) {                                                         \
                ROW(dst, p[1 + k] + i0 * s[1 + k], s[1 + k], m, k == 0);                           \
            }                                                                                      \
            if (!contiguous) {                                                                     \
                for (int64_t i = 0; i < m; i++) {                                                  \
                    *(T *)(p[0] + (i0 + i) * s[0]) = block[i];                                     \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

MUL_ROWS(f32_mul_rows, float, f32_mul_into)
MUL_ROWS(f64_mul_rows, double, f64_mul_into)

#undef MUL_ROWS

int
cc_mul_into(cc_tensor *out, int n, const cc_tensor *const *xs)
{
    if (n < 2 || n >= CC_ITER_MAX_OPS) {
        return cc_fail(CC_E_PY_VALUE, "mul_into: %d factors (2 to %d)", n, CC_ITER_MAX_OPS - 1);
    }
    if (!cc_dtype_is_float(out->dtype)) {
        return cc_fail(CC_E_PY_TYPE, "mul_into: dtype %s not supported", cc_dtype_name(out->dtype));
    }
    const cc_tensor *ops[CC_ITER_MAX_OPS] = {out};
    for (int k = 0; k < n; k++) {
        const cc_tensor *x = xs[k];
        if (x->dtype != out->dtype || x->ndim != out->ndim) {
            return cc_fail(CC_E_PY_VALUE, "mul_into: factor %d does not match the output", k);
        }
        for (int i = 0; i < x->ndim; i++) {
            if (x->shape[i] != out->shape[i]) {
                return cc_fail(CC_E_PY_VALUE, "mul_into: factor %d does not match the output", k);
            }
        }
        if (cc_check_cpu(x, "mul_into") < 0) {
            return -1;
        }
        ops[1 + k] = x;
    }
    if (cc_check_cpu(out, "mul_into") < 0) {
        return -1;
    }
    cc_iter it;
    cc_iter_init(&it, 1 + n, ops, out->ndim, out->shape);
    cc_iter_run(&it, out->dtype == CC_DTYPE_F32 ? f32_mul_rows : f64_mul_rows, &n);
    return 0;
}
