// Softmax and log-softmax over the last axis: the row maximum is subtracted before exp,
// exp is vmath.h's vectorised one for float32 (libm for float64), the row sum is accumulated
// in double. Rows run in parallel.
#include <math.h>

#include "tensor/kernels.h"
#include "tensor/strided.h"
#include "tensor/vmath.h"
#include "util/error.h"

// Lanes of the running maximum: enough independent selects to fill a 512-bit vector.
#define MAX_LANES 16

// Largest element of x[0..n), n >= 1. NaN is skipped here; it reaches the output through exp.
CC_VEC_TARGETS static float
f32_row_max(const float *restrict x, int64_t n)
{
    float lanes[MAX_LANES];
    for (int j = 0; j < MAX_LANES; j++) {
        lanes[j] = -INFINITY;
    }
    int64_t i = 0;
    for (; i + MAX_LANES <= n; i += MAX_LANES) {
#pragma omp simd
        for (int j = 0; j < MAX_LANES; j++) {
            lanes[j] = cc_vm_sel(x[i + j] > lanes[j], x[i + j], lanes[j]);
        }
    }
    float m = -INFINITY;
    for (int j = 0; j < MAX_LANES; j++) {
        m = lanes[j] > m ? lanes[j] : m;
    }
    for (; i < n; i++) {
        m = x[i] > m ? x[i] : m;
    }
    return m;
}

// Row sums are taken in blocks: float lanes within a block (a few dozen terms each), double
// across blocks, which keeps the relative error near 1e-7 for any row length.
#define SUM_BLOCK 512

// x: (n,) contiguous; out: (n,) contiguous.
CC_VEC_TARGETS static void
f32_softmax_row(float *restrict out, const float *restrict x, int64_t n, int log_form)
{
    float m = f32_row_max(x, n);
    double sum = 0.0;
    for (int64_t i0 = 0; i0 < n; i0 += SUM_BLOCK) {
        int64_t i1 = n - i0 < SUM_BLOCK ? n : i0 + SUM_BLOCK;
        float block = 0.0f;
        if (log_form) {
#pragma omp simd reduction(+ : block)
            for (int64_t i = i0; i < i1; i++) {
                block += cc_vm_exp(x[i] - m);
            }
        } else {
#pragma omp simd reduction(+ : block)
            for (int64_t i = i0; i < i1; i++) {
                float e = cc_vm_exp(x[i] - m);
                out[i] = e;
                block += e;
            }
        }
        sum += (double)block;
    }
    if (log_form) {
        // (x - m) is exact near the maximum; folding m into the log term would round it
        // at the magnitude of m.
        float ls = (float)log(sum);
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            out[i] = (x[i] - m) - ls;
        }
        return;
    }
    float inv = (float)(1.0 / sum);
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        out[i] *= inv;
    }
}

#ifdef CC_VM_AVX512
// f32_softmax_row with the AVX-512 exp of vmath.h, 16 lanes at a time (tails under a mask).
CC_AVX512_TARGET static void
v16_softmax_row(float *restrict out, const float *restrict x, int64_t n, int log_form)
{
    // VMAXPS returns its second operand when either is NaN: NaN is skipped, as above.
    __m512 mv = _mm512_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        mv = _mm512_max_ps(_mm512_loadu_ps(x + i), mv);
    }
    __mmask16 tail = (__mmask16)((1u << (n - i)) - 1u);
    mv = _mm512_max_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail, x + i), mv);
    float m = _mm512_reduce_max_ps(mv);
    __m512 mb = _mm512_set1_ps(m);
    double sum = 0.0;
    for (int64_t i0 = 0; i0 < n; i0 += SUM_BLOCK) {
        int64_t i1 = n - i0 < SUM_BLOCK ? n : i0 + SUM_BLOCK;
        __m512 acc = _mm512_setzero_ps();
        for (i = i0; i < i1; i += 16) {
            __mmask16 k = i1 - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (i1 - i)) - 1u);
            __m512 e = cc_v16_exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mb));
            if (!log_form) {
                _mm512_mask_storeu_ps(out + i, k, e);
            }
            acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(k, e));
        }
        sum += (double)_mm512_reduce_add_ps(acc);
    }
    if (log_form) {
        __m512 ls = _mm512_set1_ps((float)log(sum));
        for (i = 0; i < n; i += 16) {
            __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
            __m512 v = _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mb), ls);
            _mm512_mask_storeu_ps(out + i, k, v);
        }
        return;
    }
    __m512 inv = _mm512_set1_ps((float)(1.0 / sum));
    for (i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, out + i), inv));
    }
}
#endif

static void
f64_softmax_row(double *restrict out, const double *restrict x, int64_t n, int log_form)
{
    double m = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        m = x[i] > m ? x[i] : m;
    }
    double sum = 0.0;
    if (log_form) {
        for (int64_t i = 0; i < n; i++) {
            sum += exp(x[i] - m);
        }
        double ls = log(sum);
        for (int64_t i = 0; i < n; i++) {
            out[i] = (x[i] - m) - ls;
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        out[i] = exp(x[i] - m);
        sum += out[i];
    }
    double inv = 1.0 / sum;
    for (int64_t i = 0; i < n; i++) {
        out[i] *= inv;
    }
}

static int
softmax_impl(cc_tensor *out, const cc_tensor *x, int log_form)
{
    const char *op = log_form ? "log_softmax" : "softmax";
    if (!cc_dtype_is_float(x->dtype)) {
        return cc_fail(CC_E_PY_TYPE, "%s: dtype %s not supported (float32 or float64 only)", op,
                       cc_dtype_name(x->dtype));
    }
    if (cc_check_cpu(x, op) < 0) {
        return -1;
    }
    cc_tensor xc;
    if (cc_tensor_contiguous(&xc, x) < 0) {
        return -1;
    }
    if (cc_tensor_init_empty(out, x->dtype, x->ndim, x->shape) < 0) {
        cc_tensor_clear(&xc);
        return -1;
    }
    int64_t numel = cc_tensor_numel(x);
    int64_t n = x->ndim > 0 ? x->shape[x->ndim - 1] : 1;
    int64_t rows = n > 0 ? numel / n : 0;
    int threads = cc_threads_for(numel);
    if (x->dtype == CC_DTYPE_F32) {
        const float *xp = xc.data;
        float *op_ = out->data;
        void (*row)(float *restrict, const float *restrict, int64_t, int) = f32_softmax_row;
#ifdef CC_VM_AVX512
        if (cc_vm_has_avx512()) {
            row = v16_softmax_row;
        }
#endif
        // Blocks of neighbouring rows, a few per thread, handed out as threads come free.
        int64_t blocks = rows < (int64_t)threads * 4 ? rows : (int64_t)threads * 4;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1)
        for (int64_t b = 0; b < blocks; b++) {
            for (int64_t r = rows * b / blocks; r < rows * (b + 1) / blocks; r++) {
                row(op_ + r * n, xp + r * n, n, log_form);
            }
        }
    } else {
        const double *xp = xc.data;
        double *op_ = out->data;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
        for (int64_t r = 0; r < rows; r++) {
            f64_softmax_row(op_ + r * n, xp + r * n, n, log_form);
        }
    }
    cc_tensor_clear(&xc);
    return 0;
}

int
cc_softmax(cc_tensor *out, const cc_tensor *x)
{
    return softmax_impl(out, x, 0);
}

int
cc_log_softmax(cc_tensor *out, const cc_tensor *x)
{
    return softmax_impl(out, x, 1);
}
