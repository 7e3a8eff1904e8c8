// Elementwise float functions (cc_unary). float32 uses the vectorised math of vmath.h;
// float64 uses libm, accuracy first. Strided inputs are gathered into a small contiguous
// block so the vector loops run on them too.
#include <math.h>

#include "tensor/kernels.h"
#include "tensor/strided.h"
#include "tensor/vmath.h"
#include "util/error.h"

static const char *const unary_names[CC_UNARY_COUNT] = {
    [CC_UNARY_NEG] = "neg",
    [CC_UNARY_SIN] = "sin",
    [CC_UNARY_COS] = "cos",
    [CC_UNARY_SIGMOID] = "sigmoid",
    [CC_UNARY_TANH] = "tanh",
    [CC_UNARY_EXP] = "exp",
    [CC_UNARY_LOG] = "log",
    [CC_UNARY_ABS] = "abs",
    [CC_UNARY_LOGIT] = "logit",
    [CC_UNARY_RELU] = "relu",
    [CC_UNARY_RSQRT] = "rsqrt",
    [CC_UNARY_RECIPROCAL] = "reciprocal",
    [CC_UNARY_GELU] = "gelu",
    [CC_UNARY_GELU_NEW] = "gelu_new",
    [CC_UNARY_STEP] = "step",
    [CC_UNARY_LOG_EXP_P_1] = "log_exp_p_1",
    [CC_UNARY_GAUSSIAN_PDF] = "gaussian_pdf",
    [CC_UNARY_GAUSSIAN_CDF] = "gaussian_cdf",
};

typedef void (*f32_kernel)(float *restrict out, const float *restrict in, int64_t n);
typedef void (*f64_kernel)(double *restrict out, const double *restrict in, int64_t n);

// out[i] = EXPR with x = in[i], contiguous. F32 kernels are cloned per instruction set.
#define F32_KERNEL(NAME, EXPR)                                                                     \
    CC_VEC_TARGETS static void f32_##NAME(float *restrict out, const float *restrict in,           \
                                          int64_t n)                                               \
    {                                                                                              \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++)                                        \
        {                                                                                          \
            float x = in[i];                                                                       \
            out[i] = (EXPR);                                                                       \
        }                                                                                          \
    }

#define F64_KERNEL(NAME, EXPR)                                                                     \
    static void f64_##NAME(double *restrict out, const double *restrict in, int64_t n)             \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++) {                                                          \
            double x = in[i];                                                                      \
            out[i] = (EXPR);                                                                       \
        }                                                                                          \
    }

// sinf/cosf stay libm calls: a vector version needs Payne-Hanek reduction for large x.
F32_KERNEL(neg, -x)
F32_KERNEL(sin, sinf(x))
F32_KERNEL(cos, cosf(x))
F32_KERNEL(sigmoid, cc_vm_sigmoid(x))
F32_KERNEL(tanh, cc_vm_tanh(x))
F32_KERNEL(exp, cc_vm_exp(x))
F32_KERNEL(log, cc_vm_log(x))
F32_KERNEL(abs, fabsf(x))
F32_KERNEL(logit, cc_vm_logit(x))
// NaN fails x < 0 and passes through, as torch.relu.
F32_KERNEL(relu, cc_vm_sel(x < 0.0f, 0.0f, x))
F32_KERNEL(rsqrt, cc_vm_rsqrt(x))
F32_KERNEL(reciprocal, 1.0f / x)
F32_KERNEL(gelu, cc_vm_gelu(x))
F32_KERNEL(gelu_new, cc_vm_gelu_new(x))
F32_KERNEL(step, cc_vm_sel(x > 0.0f, 1.0f, 0.0f))
F32_KERNEL(log_exp_p_1, cc_vm_sel(x > 0.0f, x, 0.0f) + cc_vm_log1p_pos(cc_vm_exp(-fabsf(x))))
F32_KERNEL(gaussian_pdf, 0.398942280401432678f * cc_vm_exp_neg_half_sq(x))
F32_KERNEL(gaussian_cdf, cc_vm_phi(x))

#define SQRT1_2 0.707106781186547524401
#define INV_SQRT_2PI 0.398942280401432677940

// exp(x) / (1 + exp(x)) for x < 0 keeps results below DBL_MIN.
static inline double
sigmoid64(double x)
{
    double e = exp(-fabs(x));
    return x < 0.0 ? e / (1.0 + e) : 1.0 / (1.0 + e);
}

// The sigmoid form of gelu_new (see cc_vm_gelu_new); -inf gives -0, not -inf * 0.
static inline double
gelu_new64(double x)
{
    double s = sigmoid64(1.5957691216057308 * (x + 0.044715 * x * x * x));
    return s == 0.0 ? -0.0 : x * s;
}

// erfc of the negated argument keeps relative precision in the lower tail.
static inline double
gelu64(double x)
{
    double p = 0.5 * erfc(-x * SQRT1_2);
    return p == 0.0 ? -0.0 : x * p;
}

F64_KERNEL(neg, -x)
F64_KERNEL(sin, sin(x))
F64_KERNEL(cos, cos(x))
F64_KERNEL(sigmoid, sigmoid64(x))
F64_KERNEL(tanh, tanh(x))
F64_KERNEL(exp, exp(x))
F64_KERNEL(log, log(x))
F64_KERNEL(abs, fabs(x))
F64_KERNEL(logit, log(x / (1.0 - x)))
F64_KERNEL(relu, x < 0.0 ? 0.0 : x)
F64_KERNEL(rsqrt, 1.0 / sqrt(x))
F64_KERNEL(reciprocal, 1.0 / x)
F64_KERNEL(gelu, gelu64(x))
F64_KERNEL(gelu_new, gelu_new64(x))
F64_KERNEL(step, x > 0.0 ? 1.0 : 0.0)
F64_KERNEL(log_exp_p_1, (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x))))
F64_KERNEL(gaussian_pdf, INV_SQRT_2PI *exp(-0.5 * x * x))
F64_KERNEL(gaussian_cdf, 0.5 * erfc(-x * SQRT1_2))

#define KERNEL_ROW(E, name) [CC_UNARY_##E] = f32_##name,
static const f32_kernel f32_kernels[CC_UNARY_COUNT] = {
    KERNEL_ROW(NEG, neg) KERNEL_ROW(SIN, sin) KERNEL_ROW(COS, cos) KERNEL_ROW(SIGMOID, sigmoid)
        KERNEL_ROW(TANH, tanh) KERNEL_ROW(EXP, exp) KERNEL_ROW(LOG, log) KERNEL_ROW(ABS, abs)
            KERNEL_ROW(LOGIT, logit) KERNEL_ROW(RELU, relu) KERNEL_ROW(RSQRT, rsqrt)
                KERNEL_ROW(RECIPROCAL, reciprocal) KERNEL_ROW(GELU, gelu)
                    KERNEL_ROW(GELU_NEW, gelu_new) KERNEL_ROW(STEP, step)
                        KERNEL_ROW(LOG_EXP_P_1, log_exp_p_1) KERNEL_ROW(GAUSSIAN_PDF, gaussian_pdf)
                            KERNEL_ROW(GAUSSIAN_CDF, gaussian_cdf)};
#undef KERNEL_ROW

#define KERNEL_ROW(E, name) [CC_UNARY_##E] = f64_##name,
static const f64_kernel f64_kernels[CC_UNARY_COUNT] = {
    KERNEL_ROW(NEG, neg) KERNEL_ROW(SIN, sin) KERNEL_ROW(COS, cos) KERNEL_ROW(SIGMOID, sigmoid)
        KERNEL_ROW(TANH, tanh) KERNEL_ROW(EXP, exp) KERNEL_ROW(LOG, log) KERNEL_ROW(ABS, abs)
            KERNEL_ROW(LOGIT, logit) KERNEL_ROW(RELU, relu) KERNEL_ROW(RSQRT, rsqrt)
                KERNEL_ROW(RECIPROCAL, reciprocal) KERNEL_ROW(GELU, gelu)
                    KERNEL_ROW(GELU_NEW, gelu_new) KERNEL_ROW(STEP, step)
                        KERNEL_ROW(LOG_EXP_P_1, log_exp_p_1) KERNEL_ROW(GAUSSIAN_PDF, gaussian_pdf)
                            KERNEL_ROW(GAUSSIAN_CDF, gaussian_cdf)};
#undef KERNEL_ROW

#ifdef CC_VM_AVX512
// out[i] = FN(in[i]) 16 at a time, the tail under a mask.
#define V16_KERNEL(NAME, FN)                                                                       \
    CC_AVX512_TARGET static void v16_##NAME(float *restrict out, const float *restrict in,         \
                                            int64_t n)                                             \
    {                                                                                              \
        int64_t i = 0;                                                                             \
        for (; i + 16 <= n; i += 16) {                                                             \
            _mm512_storeu_ps(out + i, FN(_mm512_loadu_ps(in + i)));                                \
        }                                                                                          \
        if (i < n) {                                                                               \
            __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);                                       \
            _mm512_mask_storeu_ps(out + i, m, FN(_mm512_maskz_loadu_ps(m, in + i)));               \
        }                                                                                          \
    }

V16_KERNEL(exp, cc_v16_exp)
V16_KERNEL(gelu, cc_v16_gelu)
V16_KERNEL(gelu_new, cc_v16_gelu_new)

#undef V16_KERNEL

// The AVX-512 kernels that replace f32_kernels where the processor has AVX-512.
static const f32_kernel v16_kernels[CC_UNARY_COUNT] = {
    [CC_UNARY_EXP] = v16_exp,
    [CC_UNARY_GELU] = v16_gelu,
    [CC_UNARY_GELU_NEW] = v16_gelu_new,
};
#endif

// Strided rows are gathered this many elements at a time.
#define GATHER_BLOCK 256

// p[0]: output (contiguous), p[1]: input (any stride).
static void
f32_row(char *const *p, const int64_t *s, int64_t n, void *ctx)
{
    f32_kernel k = *(const f32_kernel *)ctx;
    float *out = (float *)p[0];
    if (s[1] == (int64_t)sizeof(float)) {
        k(out, (const float *)p[1], n);
        return;
    }
    float block[GATHER_BLOCK];
    for (int64_t i0 = 0; i0 < n; i0 += GATHER_BLOCK) {
        int64_t m = n - i0 < GATHER_BLOCK ? n - i0 : GATHER_BLOCK;
        for (int64_t i = 0; i < m; i++) {
            block[i] = *(const float *)(p[1] + (i0 + i) * s[1]);
        }
        k(out + i0, block, m);
    }
}

static void
f64_row(char *const *p, const int64_t *s, int64_t n, void *ctx)
{
    f64_kernel k = *(const f64_kernel *)ctx;
    double *out = (double *)p[0];
    if (s[1] == (int64_t)sizeof(double)) {
        k(out, (const double *)p[1], n);
        return;
    }
    double block[GATHER_BLOCK];
    for (int64_t i0 = 0; i0 < n; i0 += GATHER_BLOCK) {
        int64_t m = n - i0 < GATHER_BLOCK ? n - i0 : GATHER_BLOCK;
        for (int64_t i = 0; i < m; i++) {
            block[i] = *(const double *)(p[1] + (i0 + i) * s[1]);
        }
        k(out + i0, block, m);
    }
}

int
cc_unary(cc_tensor *out, cc_unary_op op, const cc_tensor *x)
{
    if ((int)op < 0 || op >= CC_UNARY_COUNT) {
        return cc_fail(CC_E_PY_VALUE, "unary: invalid op %d", (int)op);
    }
    if (!cc_dtype_is_float(x->dtype)) {
        return cc_fail(CC_E_PY_TYPE, "%s: dtype %s not supported (float32 or float64 only)",
                       unary_names[op], cc_dtype_name(x->dtype));
    }
    if (cc_check_cpu(x, unary_names[op]) < 0 ||
        cc_tensor_init_empty(out, x->dtype, x->ndim, x->shape) < 0) {
        return -1;
    }
    const cc_tensor *ops[2] = {out, x};
    cc_iter it;
    cc_iter_init(&it, 2, ops, x->ndim, x->shape);
    if (x->dtype == CC_DTYPE_F32) {
        f32_kernel k = f32_kernels[op];
#ifdef CC_VM_AVX512
        if (v16_kernels[op] != NULL && cc_vm_has_avx512()) {
            k = v16_kernels[op];
        }
#endif
        cc_iter_run(&it, f32_row, &k);
    } else {
        f64_kernel k = f64_kernels[op];
        cc_iter_run(&it, f64_row, &k);
    }
    return 0;
}
