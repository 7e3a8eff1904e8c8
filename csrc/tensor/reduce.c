// Reductions (sum, mean, max, min) over a set of axes. Float sums accumulate in double, so a
// float32 sum carries no float32 rounding before the final cast. MAX/MIN propagate NaN as numpy.
// The walk follows x's memory layout: either each output reduces a run of memory (the
// innermost axis is reduced) or blocks of output columns accumulate row after row.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tensor/kernels.h"
#include "tensor/strided.h"
#include "tensor/vmath.h"
#include "util/error.h"

static const char *const reduce_names[CC_REDUCE_COUNT] = {
    [CC_REDUCE_SUM] = "sum",
    [CC_REDUCE_MEAN] = "mean",
    [CC_REDUCE_MAX] = "max",
    [CC_REDUCE_MIN] = "min",
};

// Output columns accumulated together when the innermost axis is kept.
#define COLUMNS 256

typedef struct {
    const char *x;
    int nk; // kept axes walked by index (all kept axes but the inner one in column mode)
    int64_t kshape[CC_MAX_NDIM];
    int64_t kx[CC_MAX_NDIM];   // byte strides in x
    int64_t kout[CC_MAX_NDIM]; // element strides in out
    int nr;                    // reduced axes, >= 1, outermost first
    int64_t rshape[CC_MAX_NDIM];
    int64_t rx[CC_MAX_NDIM];
    int64_t cols;     // column mode: size of the inner kept axis; else 1
    int64_t col_x;    // its byte stride in x
    int64_t col_out;  // its element stride in out
    int64_t per_unit; // column blocks per outer index
    int64_t count;    // elements reduced into each output
} plan;

// Byte offsets of x and element offset of out for outer index o.
static void
outer_offsets(const plan *pl, int64_t o, int64_t *xoff, int64_t *ooff)
{
    int64_t xo = 0;
    int64_t oo = 0;
    for (int d = pl->nk - 1; d >= 0; d--) {
        int64_t i = o % pl->kshape[d];
        o /= pl->kshape[d];
        xo += i * pl->kx[d];
        oo += i * pl->kout[d];
    }
    *xoff = xo;
    *ooff = oo;
}

// Steps idx over rshape[0..nr-1) (all reduced axes but the innermost when skip_inner),
// moving the byte offset *off along; 0 when the walk is done. Offsets may be negative.
static int
next_reduced(const plan *pl, int64_t *idx, int64_t *off, int skip_inner)
{
    for (int d = pl->nr - 1 - skip_inner; d >= 0; d--) {
        *off += pl->rx[d];
        if (++idx[d] < pl->rshape[d]) {
            return 1;
        }
        *off -= idx[d] * pl->rx[d];
        idx[d] = 0;
    }
    return 0;
}

// Sums of contiguous runs in independent lanes: the adds vectorise, and the lanes are a
// partial pairwise order (more accurate, not less, than one running sum).
#define SUM_LANES 8
#define ROW_SUM(NAME, T, A)                                                                        \
    static inline A NAME(A acc, const T *r, int64_t n)                                             \
    {                                                                                              \
        A lanes[SUM_LANES] = {0};                                                                  \
        int64_t i = 0;                                                                             \
        for (; i + SUM_LANES <= n; i += SUM_LANES) {                                               \
            for (int j = 0; j < SUM_LANES; j++) {                                                  \
                lanes[j] = (A)(lanes[j] + (A)r[i + j]);                                            \
            }                                                                                      \
        }                                                                                          \
        for (; i < n; i++) {                                                                       \
            lanes[0] = (A)(lanes[0] + (A)r[i]);                                                    \
        }                                                                                          \
        for (int j = 0; j < SUM_LANES; j++) {                                                      \
            acc = (A)(acc + lanes[j]);                                                             \
        }                                                                                          \
        return acc;                                                                                \
    }

ROW_SUM(f32_row_sum, float, double)
ROW_SUM(f64_row_sum, double, double)

// A contiguous run folded one element at a time (max, min, integer sums).
#define ROW_LOOP(NAME, T, A, COMBINE)                                                              \
    static inline A NAME(A acc, const T *r, int64_t n)                                             \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T v = r[i];                                                                            \
            acc = COMBINE(acc, v);                                                                 \
        }                                                                                          \
        return acc;                                                                                \
    }

// One kernel per (input type T, accumulator A, output type O, operation). INIT is the
// identity, COMBINE(acc, v) folds one value in, ROW(acc, r, n) folds a contiguous run, FINAL(acc)
// gives the output value.
#define REDUCE_KERNEL(NAME, T, A, O, INIT, COMBINE, ROW, FINAL)                                    \
    static void NAME(const plan *pl, void *out_data, int64_t u0, int64_t u1)                       \
    {                                                                                              \
        O *out = (O *)out_data;                                                                    \
        int64_t idx[CC_MAX_NDIM];                                                                  \
        const int64_t es = (int64_t)sizeof(T);                                                     \
        for (int64_t u = u0; u < u1; u++) {                                                        \
            int64_t o = u / pl->per_unit;                                                          \
            int64_t c0 = (u % pl->per_unit) * COLUMNS;                                             \
            int64_t xo;                                                                            \
            int64_t oo;                                                                            \
            outer_offsets(pl, o, &xo, &oo);                                                        \
            memset(idx, 0, sizeof(int64_t) * (size_t)pl->nr);                                      \
            if (pl->cols == 1) {                                                                   \
                int64_t n = pl->rshape[pl->nr - 1];                                                \
                int64_t step = pl->rx[pl->nr - 1];                                                 \
                A acc = (INIT);                                                                    \
                int64_t off = 0;                                                                   \
                for (int more = pl->count > 0; more; more = next_reduced(pl, idx, &off, 1)) {      \
                    const char *row = pl->x + xo + off;                                            \
                    if (step == es) {                                                              \
                        acc = ROW(acc, (const T *)row, n);                                         \
                    } else {                                                                       \
                        for (int64_t i = 0; i < n; i++) {                                          \
                            T v = *(const T *)(row + i * step);                                    \
                            acc = COMBINE(acc, v);                                                 \
                        }                                                                          \
                    }                                                                              \
                }                                                                                  \
                out[oo] = (FINAL(acc));                                                            \
                continue;                                                                          \
            }                                                                                      \
            int64_t m = pl->cols - c0 < COLUMNS ? pl->cols - c0 : COLUMNS;                         \
            A acc[COLUMNS];                                                                        \
            for (int64_t j = 0; j < m; j++) {                                                      \
                acc[j] = (INIT);                                                                   \
            }                                                                                      \
            const char *base = pl->x + xo + c0 * pl->col_x;                                        \
            int64_t off = 0;                                                                       \
            for (int more = pl->count > 0; more; more = next_reduced(pl, idx, &off, 0)) {          \
                const char *row = base + off;                                                      \
                if (pl->col_x == es) {                                                             \
                    const T *r = (const T *)row;                                                   \
                    for (int64_t j = 0; j < m; j++) {                                              \
                        T v = r[j];                                                                \
                        acc[j] = COMBINE(acc[j], v);                                               \
                    }                                                                              \
                } else {                                                                           \
                    for (int64_t j = 0; j < m; j++) {                                              \
                        T v = *(const T *)(row + j * pl->col_x);                                   \
                        acc[j] = COMBINE(acc[j], v);                                               \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
            for (int64_t j = 0; j < m; j++) {                                                      \
                out[oo + (c0 + j) * pl->col_out] = (FINAL(acc[j]));                                \
            }                                                                                      \
        }                                                                                          \
    }

#define ADD(acc, v) ((acc) + (v))
#define WRAP_ADD(acc, v) ((int64_t)((uint64_t)(acc) + (uint64_t)(v)))
// NaN wins: once acc is NaN no comparison replaces it, and a NaN v always replaces acc.
#define FMAX(acc, v) (((v) > (acc) || (v) != (v)) ? (v) : (acc))
#define FMIN(acc, v) (((v) < (acc) || (v) != (v)) ? (v) : (acc))
#define IMAX(acc, v) ((v) > (acc) ? (v) : (acc))
#define IMIN(acc, v) ((v) < (acc) ? (v) : (acc))
#define SAME(acc) (acc)
#define TO_F32(acc) ((float)(acc))
#define MEAN_F32(acc) ((float)((acc) / (double)pl->count))
#define MEAN_F64(acc) ((acc) / (double)pl->count)

ROW_LOOP(f32_row_max, float, float, FMAX)
ROW_LOOP(f32_row_min, float, float, FMIN)
ROW_LOOP(f64_row_max, double, double, FMAX)
ROW_LOOP(f64_row_min, double, double, FMIN)
ROW_LOOP(i64_row_sum, int64_t, int64_t, WRAP_ADD)
ROW_LOOP(i64_row_max, int64_t, int64_t, IMAX)
ROW_LOOP(i64_row_min, int64_t, int64_t, IMIN)
ROW_LOOP(bool_row_sum, uint8_t, int64_t, WRAP_ADD)
ROW_LOOP(bool_row_max, uint8_t, uint8_t, IMAX)
ROW_LOOP(bool_row_min, uint8_t, uint8_t, IMIN)

REDUCE_KERNEL(f32_sum, float, double, float, 0.0, ADD, f32_row_sum, TO_F32)
REDUCE_KERNEL(f32_mean, float, double, float, 0.0, ADD, f32_row_sum, MEAN_F32)
REDUCE_KERNEL(f32_max, float, float, float, -INFINITY, FMAX, f32_row_max, SAME)
REDUCE_KERNEL(f32_min, float, float, float, INFINITY, FMIN, f32_row_min, SAME)
REDUCE_KERNEL(f64_sum, double, double, double, 0.0, ADD, f64_row_sum, SAME)
REDUCE_KERNEL(f64_mean, double, double, double, 0.0, ADD, f64_row_sum, MEAN_F64)
REDUCE_KERNEL(f64_max, double, double, double, -INFINITY, FMAX, f64_row_max, SAME)
REDUCE_KERNEL(f64_min, double, double, double, INFINITY, FMIN, f64_row_min, SAME)
REDUCE_KERNEL(i64_sum, int64_t, int64_t, int64_t, 0, WRAP_ADD, i64_row_sum, SAME)
REDUCE_KERNEL(i64_max, int64_t, int64_t, int64_t, INT64_MIN, IMAX, i64_row_max, SAME)
REDUCE_KERNEL(i64_min, int64_t, int64_t, int64_t, INT64_MAX, IMIN, i64_row_min, SAME)
REDUCE_KERNEL(bool_sum, uint8_t, int64_t, int64_t, 0, WRAP_ADD, bool_row_sum, SAME)
REDUCE_KERNEL(bool_max, uint8_t, uint8_t, uint8_t, 0, IMAX, bool_row_max, SAME)
REDUCE_KERNEL(bool_min, uint8_t, uint8_t, uint8_t, 1, IMIN, bool_row_min, SAME)

typedef void (*reduce_fn)(const plan *pl, void *out, int64_t u0, int64_t u1);

// [input dtype][op]; NULL where unsupported.
static const reduce_fn reduce_kernels[CC_DTYPE_COUNT][CC_REDUCE_COUNT] = {
    [CC_DTYPE_F32] = {f32_sum, f32_mean, f32_max, f32_min},
    [CC_DTYPE_F64] = {f64_sum, f64_mean, f64_max, f64_min},
    [CC_DTYPE_I64] = {[CC_REDUCE_SUM] = i64_sum,
                      [CC_REDUCE_MAX] = i64_max,
                      [CC_REDUCE_MIN] = i64_min},
    [CC_DTYPE_BOOL] = {[CC_REDUCE_SUM] = bool_sum,
                       [CC_REDUCE_MAX] = bool_max,
                       [CC_REDUCE_MIN] = bool_min},
};

static int64_t
abs64(int64_t v)
{
    return v < 0 ? -v : v;
}

// Builds the walk: kept axes in order, reduced axes sorted by falling |stride| (memory order),
// and column mode when the smallest-stride axis of x is kept.
static void
plan_init(plan *pl, const cc_tensor *x, uint64_t mask, const int64_t *out_strides)
{
    int64_t es = (int64_t)cc_dtype_size(x->dtype);
    int inner = -1;
    for (int i = 0; i < x->ndim; i++) {
        if (x->shape[i] > 1 && (inner < 0 || abs64(x->strides[i]) < abs64(x->strides[inner]))) {
            inner = i;
        }
    }
    int column_mode = inner >= 0 && !((mask >> inner) & 1);
    pl->x = x->data;
    pl->nk = 0;
    pl->nr = 0;
    pl->cols = 1;
    pl->col_x = 0;
    pl->col_out = 0;
    pl->count = 1;
    int ko = 0; // index among kept axes, for out_strides
    for (int i = 0; i < x->ndim; i++) {
        if ((mask >> i) & 1) {
            pl->count *= x->shape[i];
            if (x->shape[i] != 1) {
                pl->rshape[pl->nr] = x->shape[i];
                pl->rx[pl->nr] = x->strides[i] * es;
                pl->nr++;
            }
            continue;
        }
        if (column_mode && i == inner) {
            pl->cols = x->shape[i];
            pl->col_x = x->strides[i] * es;
            pl->col_out = out_strides[ko];
        } else {
            pl->kshape[pl->nk] = x->shape[i];
            pl->kx[pl->nk] = x->strides[i] * es;
            pl->kout[pl->nk] = out_strides[ko];
            pl->nk++;
        }
        ko++;
    }
    // Insertion sort of the reduced axes, largest |stride| first.
    for (int i = 1; i < pl->nr; i++) {
        for (int j = i; j > 0 && abs64(pl->rx[j - 1]) < abs64(pl->rx[j]); j--) {
            int64_t t = pl->rx[j];
            pl->rx[j] = pl->rx[j - 1];
            pl->rx[j - 1] = t;
            t = pl->rshape[j];
            pl->rshape[j] = pl->rshape[j - 1];
            pl->rshape[j - 1] = t;
        }
    }
    if (pl->nr == 0) {
        pl->rshape[0] = 1;
        pl->rx[0] = 0;
        pl->nr = 1;
    }
    pl->per_unit = (pl->cols + COLUMNS - 1) / COLUMNS;
}

int
cc_reduce(cc_tensor *out, cc_reduce_op op, const cc_tensor *x, uint64_t axes_mask)
{
    if ((int)op < 0 || op >= CC_REDUCE_COUNT) {
        return cc_fail(CC_E_PY_VALUE, "reduce: invalid op %d", (int)op);
    }
    const char *name = reduce_names[op];
    if (x->ndim < 64 && (axes_mask >> x->ndim) != 0) {
        return cc_fail(CC_E_PY_VALUE, "%s: axes mask 0x%llx names axes beyond the %d of the tensor",
                       name, (unsigned long long)axes_mask, x->ndim);
    }
    reduce_fn fn = reduce_kernels[x->dtype][op];
    if (fn == NULL) {
        return cc_fail(CC_E_PY_TYPE, "%s: dtype %s not supported", name, cc_dtype_name(x->dtype));
    }
    if (cc_check_cpu(x, name) < 0) {
        return -1;
    }
    cc_dtype odt = x->dtype;
    if (op == CC_REDUCE_SUM && (x->dtype == CC_DTYPE_I64 || x->dtype == CC_DTYPE_BOOL)) {
        odt = CC_DTYPE_I64;
    }
    int64_t shape[CC_MAX_NDIM];
    int nd = 0;
    int64_t count = 1;
    for (int i = 0; i < x->ndim; i++) {
        if ((axes_mask >> i) & 1) {
            count *= x->shape[i];
        } else {
            shape[nd++] = x->shape[i];
        }
    }
    if (count == 0 && (op == CC_REDUCE_MAX || op == CC_REDUCE_MIN)) {
        return cc_fail(CC_E_PY_VALUE, "%s: zero-size reduction (a reduced axis has size 0)", name);
    }
    if (cc_tensor_init_empty(out, odt, nd, shape) < 0) {
        return -1;
    }
    int64_t n_out = cc_tensor_numel(out);
    if (n_out == 0) {
        return 0;
    }
    plan pl;
    plan_init(&pl, x, axes_mask, out->strides);
    int64_t outer = 1;
    for (int d = 0; d < pl.nk; d++) {
        outer *= pl.kshape[d];
    }
    int64_t units = outer * pl.per_unit;
    int threads = cc_threads_for(cc_tensor_numel(x) > n_out ? cc_tensor_numel(x) : n_out);
    if (threads <= 1 || units == 1) {
        fn(&pl, out->data, 0, units);
        return 0;
    }
    int64_t blocks = units < (int64_t)threads * 4 ? units : (int64_t)threads * 4;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t b = 0; b < blocks; b++) {
        fn(&pl, out->data, units * b / blocks, units * (b + 1) / blocks);
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// batched dot products

// Products of two floats are exact in double, so the sums below round once per addition.
CC_VEC_TARGETS static double
f32_dot(const float *restrict x, const float *restrict y, int64_t n)
{
    double acc = 0.0;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < n; i++) {
        acc += (double)x[i] * (double)y[i];
    }
    return acc;
}

CC_VEC_TARGETS static double
f64_dot(const double *restrict x, const double *restrict y, int64_t n)
{
    double acc = 0.0;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < n; i++) {
        acc += x[i] * y[i];
    }
    return acc;
}

typedef struct {
    cc_dtype dtype;
    int nd; // batch axes
    int64_t shape[CC_MAX_NDIM];
    int64_t stride[3][CC_MAX_NDIM]; // bytes: out, x, y
    char *data[3];
    int64_t k;
    int64_t kx, ky; // bytes
} dot_plan;

static void
dot_one(const dot_plan *p, int64_t idx)
{
    char *o = p->data[0];
    const char *x = p->data[1];
    const char *y = p->data[2];
    for (int d = p->nd - 1; d >= 0; d--) {
        int64_t i = idx % p->shape[d];
        idx /= p->shape[d];
        o += i * p->stride[0][d];
        x += i * p->stride[1][d];
        y += i * p->stride[2][d];
    }
    double acc = 0.0;
    if (p->dtype == CC_DTYPE_F32) {
        if (p->kx == (int64_t)sizeof(float) && p->ky == (int64_t)sizeof(float)) {
            acc = f32_dot((const float *)x, (const float *)y, p->k);
        } else {
            for (int64_t j = 0; j < p->k; j++) {
                acc += (double)*(const float *)(x + j * p->kx) *
                       (double)*(const float *)(y + j * p->ky);
            }
        }
        *(float *)o = (float)acc;
        return;
    }
    if (p->kx == (int64_t)sizeof(double) && p->ky == (int64_t)sizeof(double)) {
        acc = f64_dot((const double *)x, (const double *)y, p->k);
    } else {
        for (int64_t j = 0; j < p->k; j++) {
            acc += *(const double *)(x + j * p->kx) * *(const double *)(y + j * p->ky);
        }
    }
    *(double *)o = acc;
}

int
cc_dot_into(cc_tensor *out, const cc_tensor *x, const cc_tensor *y)
{
    if (!cc_dtype_is_float(out->dtype) || x->dtype != out->dtype || y->dtype != out->dtype) {
        return cc_fail(CC_E_PY_TYPE, "dot_into: needs float operands of one dtype");
    }
    int shapes_match = x->ndim == out->ndim + 1 && y->ndim == x->ndim;
    for (int i = 0; shapes_match && i < x->ndim; i++) {
        shapes_match =
            x->shape[i] == y->shape[i] && (i == out->ndim || x->shape[i] == out->shape[i]);
    }
    if (!shapes_match) {
        return cc_fail(CC_E_PY_VALUE, "dot_into: operand shapes do not match the output");
    }
    if (cc_check_cpu(out, "dot_into") < 0 || cc_check_cpu(x, "dot_into") < 0 ||
        cc_check_cpu(y, "dot_into") < 0) {
        return -1;
    }
    int64_t es = (int64_t)cc_dtype_size(out->dtype);
    dot_plan p;
    p.dtype = out->dtype;
    p.nd = out->ndim;
    p.data[0] = out->data;
    p.data[1] = x->data;
    p.data[2] = y->data;
    for (int d = 0; d < out->ndim; d++) {
        p.shape[d] = out->shape[d];
        p.stride[0][d] = out->strides[d] * es;
        p.stride[1][d] = x->strides[d] * es;
        p.stride[2][d] = y->strides[d] * es;
    }
    p.k = x->shape[out->ndim];
    p.kx = x->strides[out->ndim] * es;
    p.ky = y->strides[out->ndim] * es;
    int64_t n_out = cc_tensor_numel(out);
    if (n_out == 0) {
        return 0;
    }
    int threads = cc_threads_for(n_out * p.k);
    if (threads > n_out) {
        threads = (int)n_out;
    }
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int64_t i = 0; i < n_out; i++) {
        dot_one(&p, i);
    }
    return 0;
}
