// Private to csrc/tensor/: branch-free float32 math that vectorises inside `#pragma omp simd`
// loops (no libm calls, selects instead of branches, bit casts by memcpy; checked with GCC's
// -fopt-info-vec). Errors are measured against float64 over a sweep of all float32 values.
// Special values follow C99 Annex F / torch: NaN propagates, infinities map to their limits.
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

// Kernels built once per instruction set and picked at load time (x86-64 with an ifunc-capable
// toolchain); elsewhere the compiler's default target only. Including this header also lets
// GCC fuse a * b + c into FMA for the rest of the file (-std=c11 turns that off): every
// formula here stays correct, and is usually more accurate, when fused.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define CC_VEC_TARGETS __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define CC_VEC_TARGETS
#endif
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

static inline uint32_t
cc_vm_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

static inline float
cc_vm_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

// c ? a : b as bit masks. A plain ?: with a constant arm lets GCC fold the arithmetic that
// follows into two branches, which it then cannot vectorise under -ftrapping-math.
static inline float
cc_vm_sel(int c, float a, float b)
{
    uint32_t m = 0u - (uint32_t)(c != 0);
    return cc_vm_float((cc_vm_bits(a) & m) | (cc_vm_bits(b) & ~m));
}

// exp(hi + lo) for |lo| small against 1 (with_lo says whether lo is used): lo joins after the
// exact range reduction, so an argument carried as two floats keeps its precision. Cephes expf
// polynomial on [-ln2/2, ln2/2]; relative error <= 1 ulp measured; results below FLT_MIN are
// rounded once. Signed >> is arithmetic on every compiler this builds with (GCC, Clang).
static inline float
cc_vm_exp_core(float hi, float lo, int with_lo)
{
    // Clamp keeps 2^n representable as two normal factors; NaN fails both tests and stays.
    hi = cc_vm_sel(hi > 88.8f, 88.8f, hi);
    hi = cc_vm_sel(hi < -104.0f, -104.0f, hi);
    // Round hi / ln2 to an integer by adding 1.5 * 2^23 (its low bits then hold n).
    float t = hi * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    int32_t ni = (int32_t)(cc_vm_bits(t) - 0x4B400000u);
    // ln2 = C1 + C2 with C1 exact in 9 bits, so n * C1 and hi - n * C1 are exact.
    float r = hi - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    if (with_lo) {
        r = r + lo;
    }
    float z = r * r;
    float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
                4.1665795894e-2f) *
                   r +
               1.6666665459e-1f) *
                  r +
              5.0000001201e-1f;
    p = p * z + r + 1.0f;
    // Two factors 2^n1 * 2^n2 reach 2^-150 .. 2^128 with normal floats only.
    int32_t n1 = ni >> 1;
    int32_t n2 = ni - n1;
    float s1 = cc_vm_float((uint32_t)(n1 + 127) << 23);
    float s2 = cc_vm_float((uint32_t)(n2 + 127) << 23);
    return p * s1 * s2;
}

static inline float
cc_vm_exp2part(float hi, float lo)
{
    return cc_vm_exp_core(hi, lo, 1);
}

// exp(x): exp(-inf) = 0, exp(+inf) = inf, overflow -> inf, NaN -> NaN.
static inline float
cc_vm_exp(float x)
{
    return cc_vm_exp_core(x, 0.0f, 0);
}

// log(x), Cephes logf polynomial: relative error <= 1 ulp measured.
// log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, subnormals handled.
static inline float
cc_vm_log(float x)
{
    int sub = x < 1.17549435e-38f;
    float xs = cc_vm_sel(sub, x * 8388608.0f, x);
    uint32_t u = cc_vm_bits(xs);
    int32_t e = (int32_t)((u >> 23) & 0xffu) - 126 - (sub ? 23 : 0);
    float m = cc_vm_float((u & 0x007fffffu) | 0x3f000000u); // [0.5, 1)
    int small = m < 0.707106781186547524f;
    e -= small;
    m = cc_vm_sel(small, m + m, m);
    m = m - 1.0f; // exact: m in [sqrt(1/2), sqrt(2))
    float z = m * m;
    float y = ((((((((7.0376836292e-2f * m - 1.1514610310e-1f) * m + 1.1676998740e-1f) * m -
                    1.2420140846e-1f) *
                       m +
                   1.4249322787e-1f) *
                      m -
                  1.6668057665e-1f) *
                     m +
                 2.0000714765e-1f) *
                    m -
                2.4999993993e-1f) *
                   m +
               3.3333331174e-1f) *
              m * z;
    float fe = (float)e;
    y = y + fe * -2.12194440e-4f;
    y = y - 0.5f * z;
    float r = m + y;
    r = r + fe * 0.693359375f;
    r = cc_vm_sel(x == INFINITY, x, r);
    r = cc_vm_sel(x == 0.0f, -INFINITY, r);
    r = cc_vm_sel(x < 0.0f, NAN, r);
    r = cc_vm_sel(x != x, x, r);
    return r;
}

// log(1 + u) for u >= 0 (u = exp(-|x|) in softplus); the quotient corrects the rounding of
// 1 + u, so tiny u keep full relative precision.
static inline float
cc_vm_log1p_pos(float u)
{
    float w = 1.0f + u;
    float d = w - 1.0f;
    return cc_vm_sel(d == 0.0f, u, cc_vm_log(w) * (u / d));
}

// 1 / sqrt(x) by Newton's iteration from a bit-level first guess: libm sqrtf keeps an errno
// branch under the default -fmath-errno that blocks vectorisation. Relative error <= 3 ulp.
// rsqrt(+-0) = +-inf, rsqrt(inf) = 0, rsqrt(x < 0) = NaN.
static inline float
cc_vm_rsqrt(float x)
{
    int sub = x < 1.17549435e-38f;
    float xs = cc_vm_sel(sub, x * 16777216.0f, x); // 2^24: the first guess needs a normal x
    float y = cc_vm_float(0x5f375a86u - (cc_vm_bits(xs) >> 1));
    float h = 0.5f * xs;
    y = y * (1.5f - h * y * y);
    y = y * (1.5f - h * y * y);
    y = y * (1.5f - h * y * y);
    y = cc_vm_sel(sub, y * 4096.0f, y);
    y = cc_vm_sel(x == INFINITY, 0.0f, y);
    y = cc_vm_sel(x == 0.0f, 1.0f / x, y);
    y = cc_vm_sel(x < 0.0f, NAN, y);
    return cc_vm_sel(x != x, x, y);
}

// tanh(x): odd polynomial (Cephes) for |x| < 0.625, else 1 - 2 / (exp(2|x|) + 1) with the
// sign of x. Relative error <= 2 ulp; tanh(+-inf) = +-1.
static inline float
cc_vm_tanh(float x)
{
    float a = fabsf(x);
    float z = x * x;
    float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                    1.33314422036e-1f) *
                       z -
                   3.33332819422e-1f) *
                      z * x +
                  x;
    float e = cc_vm_exp(2.0f * a);
    float large = copysignf(1.0f - 2.0f / (e + 1.0f), x);
    return cc_vm_sel(a < 0.625f, small, large);
}

// 1 / (1 + exp(-x)), as e / (1 + e) with e = exp(x) for x < 0 so results below FLT_MIN keep
// their value. Relative error <= 3 ulp; sigmoid(-inf) = 0, sigmoid(inf) = 1.
static inline float
cc_vm_sigmoid(float x)
{
    float e = cc_vm_exp(-fabsf(x));
    float r = 1.0f / (1.0f + e);
    return cc_vm_sel(x < 0.0f, e * r, r);
}

// exp(-x^2 / 2) without the rounding of x^2: x = hi + lo with hi of 12 significant bits, so
// hi^2 / 2 is exact and the rest is a small second part. Relative error <= 2 ulp.
static inline float
cc_vm_exp_neg_half_sq(float x)
{
    float a = fabsf(x);
    a = cc_vm_sel(a > 20.0f, 20.0f, a); // the result is 0 beyond; NaN stays
    float hi = cc_vm_float(cc_vm_bits(a) & 0xfffff000u);
    float lo = a - hi;
    return cc_vm_exp2part(-0.5f * (hi * hi), -0.5f * lo * (a + hi));
}

// Phi(x) = 0.5 * (1 + erf(x / sqrt 2)), the standard normal CDF, with relative (not only
// absolute) accuracy in the lower tail; <= 8 ulp measured, the most near x = 0.
// Q = 0.5 * erfc(|x| / sqrt 2) = exp(-x^2 / 2) * H(t), t = 1 / (1 + |x| / 2), with H a
// polynomial fitted for minimal relative error on [0, 14.5] (1e-8 in float64); Phi = Q or 1 - Q
// by the sign of x.
static inline float
cc_vm_phi(float x)
{
    float a = fabsf(x);
    a = cc_vm_sel(a > 20.0f, 20.0f, a); // Q is 0 beyond; NaN stays
    float t = 1.0f / (1.0f + 0.5f * a);
    float h = -0.014585966168683431f;
    h = h * t + 0.041785503246134191f;
    h = h * t + 0.069559188836666078f;
    h = h * t - 0.48822153569761634f;
    h = h * t + 0.91396877700791024f;
    h = h * t - 0.77236560718608749f;
    h = h * t + 0.21476106452204574f;
    h = h * t - 0.025357364015066938f;
    h = h * t + 0.16289677983041137f;
    h = h * t + 0.19799784021856362f;
    h = h * t + 0.19956383108065132f;
    h = h * t - 2.5164486304331173e-06f;
    float q = cc_vm_exp_neg_half_sq(a) * h;
    return cc_vm_sel(x > 0.0f, 1.0f - q, q);
}

// x * Phi(x); gelu(-inf) = -0.
static inline float
cc_vm_gelu(float x)
{
    float p = cc_vm_phi(x);
    return cc_vm_sel(p == 0.0f, -0.0f, x * p);
}

// 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): the sigmoid form
// has no cancellation for negative x. 2u is rounded in float, which scales exp's error by
// |2u|: relative error measured <= 4 ulp for |x| <= 1, 10 for |x| <= 2, 29 for |x| <= 4 (the
// tanh form in float is off by ~2e-3 relative at x = -4). gelu_new(-inf) = -0.
static inline float
cc_vm_gelu_new(float x)
{
    float s = cc_vm_sigmoid(1.5957691216057308f * x * (1.0f + 0.044715f * x * x));
    return cc_vm_sel(s == 0.0f, -0.0f, x * s);
}

// log(x / (1 - x)). Near x = 1/2 the quotient is 1 + q with q = (2x - 1) / (1 - x) computed
// almost exactly, and log1p(q) keeps the relative precision that log(1 + q) would lose.
static inline float
cc_vm_logit(float x)
{
    float q = (2.0f * x - 1.0f) / (1.0f - x);
    float w = 1.0f + q;
    float d = w - 1.0f;
    float central = cc_vm_sel(d == 0.0f, q, cc_vm_log(w) * (q / d));
    float outer = cc_vm_log(x / (1.0f - x));
    return cc_vm_sel((x >= 0.25f) & (x <= 0.75f), central, outer);
}

// ---------------------------------------------------------------------------------------------
// AVX-512 versions of exp, gelu and gelu_new on 16 floats, for x86-64 processors that have it
// (chosen at run time by cc_vm_has_avx512). They follow the formulas above with the same
// polynomials; 2^n scaling is one VSCALEFPS (one rounding, as above), and the quotients
// 1 / d use VRCP14PS and a Newton step (relative error below 2^-23 before rounding), which
// adds at most about 1 ulp to the errors stated above. Special values as above.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define CC_VM_AVX512 1
#include <immintrin.h>

#define CC_AVX512_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))

static inline int
cc_vm_has_avx512(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

// min(c, x) and max(c, x) that pass NaN in x through (VMINPS returns its second operand
// when either is NaN).
CC_AVX512_TARGET static inline __m512
cc_v16_clamp(__m512 x, float lo, float hi)
{
    x = _mm512_min_ps(_mm512_set1_ps(hi), x);
    return _mm512_max_ps(_mm512_set1_ps(lo), x);
}

// exp(hi + lo), as cc_vm_exp_core. clamp = 0 when the caller knows hi in [-300, 88.7] or
// NaN: VSCALEFPS then underflows to 0 on its own, and only infinities need the clamp.
CC_AVX512_TARGET static inline __m512
cc_v16_exp_core(__m512 hi, __m512 lo, int with_lo, int clamp)
{
    if (clamp) {
        hi = cc_v16_clamp(hi, -104.0f, 88.8f);
    }
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(hi, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), hi);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    if (with_lo) {
        r = _mm512_add_ps(r, lo);
    }
    __m512 z = _mm512_mul_ps(r, r);
    __m512 p =
        _mm512_fmadd_ps(_mm512_set1_ps(1.9875691500e-4f), r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(p, z, r), _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

CC_AVX512_TARGET static inline __m512
cc_v16_exp(__m512 x)
{
    return cc_v16_exp_core(x, x, 0, 1);
}

// 1 / d for d >= 1 (finite or NaN).
CC_AVX512_TARGET static inline __m512
cc_v16_recip(__m512 d)
{
    __m512 y = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(y, _mm512_fnmadd_ps(d, y, _mm512_set1_ps(2.0f)));
}

CC_AVX512_TARGET static inline __m512
cc_v16_abs(__m512 x)
{
    return _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)));
}

// x * s, but -0 where s is 0 (the limits at -inf).
CC_AVX512_TARGET static inline __m512
cc_v16_times_or_neg_zero(__m512 x, __m512 s)
{
    __mmask16 zero = _mm512_cmp_ps_mask(s, _mm512_setzero_ps(), _CMP_EQ_OQ);
    return _mm512_mask_blend_ps(zero, _mm512_mul_ps(x, s), _mm512_set1_ps(-0.0f));
}

// gelu_new, as cc_vm_gelu_new (sigmoid form).
CC_AVX512_TARGET static inline __m512
cc_v16_gelu_new(__m512 x)
{
    __m512 u =
        _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), x), x, _mm512_set1_ps(1.0f));
    __m512 z = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(1.5957691216057308f), x), u);
    __m512 e = cc_v16_exp(_mm512_sub_ps(_mm512_setzero_ps(), cc_v16_abs(z)));
    __m512 r = cc_v16_recip(_mm512_add_ps(_mm512_set1_ps(1.0f), e));
    __mmask16 neg = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 s = _mm512_mask_blend_ps(neg, r, _mm512_mul_ps(e, r));
    return cc_v16_times_or_neg_zero(x, s);
}

// gelu (erf form), as cc_vm_gelu.
CC_AVX512_TARGET static inline __m512
cc_v16_gelu(__m512 x)
{
    __m512 a = _mm512_min_ps(_mm512_set1_ps(20.0f), cc_v16_abs(x));
    __m512 t = cc_v16_recip(_mm512_fmadd_ps(_mm512_set1_ps(0.5f), a, _mm512_set1_ps(1.0f)));
    __m512 h = _mm512_set1_ps(-0.014585966168683431f);
    h = _mm512_fmadd_ps(h, t, _mm512_set1_ps(0.041785503246134191f));
    h = _mm512_fmadd_ps(h, t, _mm512_set1_ps(0.069559188836666078f));
    h = _mm512_fmadd_ps(h, t, _mm512_set1_ps(-0.48822153569761634f));
    h = _mm512_fmadd_ps(h, t, _mm512_set1_ps(0.91396877700791024f));
    h = _mm512_fmadd_ps(h, t, _mm512_set1_ps(-0.77236560718608749f));
    h = _mm512_fmadd_ps(h, t, _mm512_set1_ps(0.21476106452204574f));
    h = _mm512_fmadd_ps(h, t, _mm512_set1_ps(-0.025357364015066938f));
    h = _mm512_fmadd_ps(h, t, _mm512_set1_ps(0.16289677983041137f));
    h = _mm512_fmadd_ps(h, t, _mm512_set1_ps(0.19799784021856362f));
    h = _mm512_fmadd_ps(h, t, _mm512_set1_ps(0.19956383108065132f));
    h = _mm512_fmadd_ps(h, t, _mm512_set1_ps(-2.5164486304331173e-06f));
    // exp(-a^2 / 2) without the rounding of a^2 (as cc_vm_exp_neg_half_sq): -a/2 is exact, and
    // an FMA gives the exact error of the product (-a/2) * a, carried as the second part.
    __m512 half = _mm512_mul_ps(_mm512_set1_ps(-0.5f), a);
    __m512 ehi = _mm512_mul_ps(half, a);
    __m512 elo = _mm512_fmsub_ps(half, a, ehi);
    __m512 q = _mm512_mul_ps(cc_v16_exp_core(ehi, elo, 1, 0), h);
    __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
    __m512 phi = _mm512_mask_sub_ps(q, pos, _mm512_set1_ps(1.0f), q);
    // x * phi, with x = -inf read as -FLT_MAX so that the limit is -0, not -inf * 0; NaN stays.
    return _mm512_mul_ps(_mm512_max_ps(_mm512_set1_ps(-3.40282347e38f), x), phi);
}
#endif
