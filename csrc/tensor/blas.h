// The BLAS adapter: the only place that names BLAS symbols (OpenBLAS from the
// scipy-openblas32 wheel carries a "scipy_" prefix; a system CBLAS has none).
#pragma once

#include <stdint.h>

// Row-major C = alpha * op(A) @ op(B) + beta * C for float32 / float64.
// trans_a: A is stored (k, m) and used transposed. lda/ldb/ldc in elements.
// m, n, k may take any int64 value (split into blocks BLAS's 32-bit ints hold); lda, ldb and
// ldc must be at most INT_MAX (the caller's duty: einsum copies an operand whose stride is not).
void cc_blas_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                   int64_t ldc);
void cc_blas_dgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                   const double *a, int64_t lda, const double *b, int64_t ldb, double beta,
                   double *c, int64_t ldc);
// BLAS's own thread count (the engine runs batch loops on OpenMP with 1 BLAS thread).
int cc_blas_get_num_threads(void);
void cc_blas_set_num_threads(int n);
// A description of the BLAS build (openblas_get_config), or "system CBLAS".
const char *cc_blas_config(void);
