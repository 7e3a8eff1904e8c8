// The BLAS adapter: the only file naming BLAS symbols. The default build links OpenBLAS from
// the scipy-openblas32 wheel, whose symbols carry a prefix (CC_BLAS_PREFIX, e.g. scipy_);
// -DCC_BLAS_SYSTEM links any system CBLAS, whose OpenBLAS thread controls may be absent.
#include "tensor/blas.h"

#include <limits.h>
#include <stddef.h>

#include <cblas.h>

#if defined(CC_BLAS_SYSTEM)

// Weak, so that the extension links against a CBLAS without OpenBLAS's extensions; an absent
// function then has address NULL.
extern void openblas_set_num_threads(int n) __attribute__((weak));
extern int openblas_get_num_threads(void) __attribute__((weak));
extern char *openblas_get_config(void) __attribute__((weak));

#define BLAS_SGEMM cblas_sgemm
#define BLAS_DGEMM cblas_dgemm
typedef int blas_int;

#elif defined(CC_BLAS_PREFIX)

#define BLAS_CAT2(p, x) p##x
#define BLAS_CAT(p, x) BLAS_CAT2(p, x)
#define BLAS_NAME(x) BLAS_CAT(CC_BLAS_PREFIX, x)
#define BLAS_SGEMM BLAS_NAME(cblas_sgemm)
#define BLAS_DGEMM BLAS_NAME(cblas_dgemm)

// Declared here as well, so that a wheel whose cblas.h spells the names without the prefix
// still compiles; with the scipy wheel these repeat its own declarations.
typedef blasint blas_int;
_Static_assert(sizeof(blas_int) == sizeof(int), "the OpenBLAS wheel must use 32-bit integers");
void BLAS_SGEMM(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, blasint m,
                blasint n, blasint k, float alpha, const float *a, blasint lda, const float *b,
                blasint ldb, float beta, float *c, blasint ldc);
void BLAS_DGEMM(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, blasint m,
                blasint n, blasint k, double alpha, const double *a, blasint lda, const double *b,
                blasint ldb, double beta, double *c, blasint ldc);
void BLAS_NAME(openblas_set_num_threads)(int n);
int BLAS_NAME(openblas_get_num_threads)(void);
char *BLAS_NAME(openblas_get_config)(void);

#else
#error "define CC_BLAS_PREFIX (OpenBLAS wheel, e.g. scipy_) or CC_BLAS_SYSTEM (system CBLAS)"
#endif

// BLAS takes 32-bit sizes: larger m, n, k are split into blocks of at most this many.
#define BLOCK_MAX ((int64_t)INT_MAX)

// The leading dimension passed to BLAS. A stored matrix with a single row never steps by it,
// so the caller's value (perhaps a stride of a size-1 axis, too small for BLAS's argument
// check, or too large for 32 bits) is replaced by the smallest legal one.
static int64_t
legal_ld(int64_t ld, int64_t stored_rows, int64_t stored_cols)
{
    if (stored_rows <= 1) {
        return stored_cols > 1 ? stored_cols : 1;
    }
    return ld;
}

// A GEMM split into blocks whose m, n and k fit BLAS's 32-bit integers (one block in practice).
#define DEFINE_GEMM_BLOCKS(NAME, T, BLAS_GEMM)                                                     \
    static void NAME(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, T alpha,           \
                     const T *a, int64_t lda, const T *b, int64_t ldb, T beta, T *c, int64_t ldc)  \
    {                                                                                              \
        for (int64_t i0 = 0; i0 < m; i0 += BLOCK_MAX) {                                            \
            int64_t mb = m - i0 < BLOCK_MAX ? m - i0 : BLOCK_MAX;                                  \
            for (int64_t j0 = 0; j0 < n; j0 += BLOCK_MAX) {                                        \
                int64_t nb = n - j0 < BLOCK_MAX ? n - j0 : BLOCK_MAX;                              \
                T bt = beta;                                                                       \
                for (int64_t p0 = 0; p0 < k; p0 += BLOCK_MAX) {                                    \
                    int64_t kb = k - p0 < BLOCK_MAX ? k - p0 : BLOCK_MAX;                          \
                    const T *ab = trans_a ? a + p0 * lda + i0 : a + i0 * lda + p0;                 \
                    const T *bb = trans_b ? b + j0 * ldb + p0 : b + p0 * ldb + j0;                 \
                    BLAS_GEMM(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,                  \
                              trans_b ? CblasTrans : CblasNoTrans, (blas_int)mb, (blas_int)nb,     \
                              (blas_int)kb, alpha, ab,                                             \
                              (blas_int)legal_ld(lda, trans_a ? kb : mb, trans_a ? mb : kb), bb,   \
                              (blas_int)legal_ld(ldb, trans_b ? nb : kb, trans_b ? kb : nb), bt,   \
                              c + i0 * ldc + j0, (blas_int)legal_ld(ldc, mb, nb));                 \
                    bt = 1;                                                                        \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_GEMM_BLOCKS(sgemm_blocks, float, BLAS_SGEMM)
DEFINE_GEMM_BLOCKS(dgemm_blocks, double, BLAS_DGEMM)

#undef DEFINE_GEMM_BLOCKS

// k == 0: C = beta * C without calling BLAS (whose argument checks print to stderr on
// degenerate leading dimensions). beta == 0 overwrites, so NaN in an uninitialised C is gone.
#define DEFINE_SCALE(NAME, T)                                                                      \
    static void NAME(int64_t m, int64_t n, T beta, T *c, int64_t ldc)                              \
    {                                                                                              \
        for (int64_t i = 0; i < m; i++) {                                                          \
            T *row = c + i * ldc;                                                                  \
            for (int64_t j = 0; j < n; j++) {                                                      \
                row[j] = beta == 0 ? (T)0 : beta * row[j];                                         \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_SCALE(scale_f32, float)
DEFINE_SCALE(scale_f64, double)

#undef DEFINE_SCALE

// m, n, k may be any int64 (split into blocks); lda, ldb and ldc must be at most INT_MAX, as
// BLAS takes 32-bit integers: the einsum lowering copies an operand whose stride is larger.
void
cc_blas_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
              int64_t ldc)
{
    if (m <= 0 || n <= 0) {
        return;
    }
    if (k <= 0) {
        scale_f32(m, n, beta, c, ldc);
        return;
    }
    sgemm_blocks(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void
cc_blas_dgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, double alpha,
              const double *a, int64_t lda, const double *b, int64_t ldb, double beta, double *c,
              int64_t ldc)
{
    if (m <= 0 || n <= 0) {
        return;
    }
    if (k <= 0) {
        scale_f64(m, n, beta, c, ldc);
        return;
    }
    dgemm_blocks(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#if defined(CC_BLAS_SYSTEM)

int
cc_blas_get_num_threads(void)
{
    if (openblas_get_num_threads != NULL) {
        return openblas_get_num_threads();
    }
    return 1;
}

void
cc_blas_set_num_threads(int n)
{
    if (openblas_set_num_threads != NULL && n >= 1) {
        openblas_set_num_threads(n);
    }
}

const char *
cc_blas_config(void)
{
    if (openblas_get_config != NULL) {
        return openblas_get_config();
    }
    return "system CBLAS";
}

#else

int
cc_blas_get_num_threads(void)
{
    return BLAS_NAME(openblas_get_num_threads)();
}

void
cc_blas_set_num_threads(int n)
{
    if (n >= 1) {
        BLAS_NAME(openblas_set_num_threads)(n);
    }
}

const char *
cc_blas_config(void)
{
    return BLAS_NAME(openblas_get_config)();
}

#endif
