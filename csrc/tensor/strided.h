// Private to csrc/tensor/: N-d strided iteration shared by the CPU kernels. Operands of
// one shape are walked in C order with adjacent dims collapsed, in rows handed to a
// row kernel, split over OpenMP threads when the work is large enough.
#pragma once

#include <stdint.h>

#include "tensor/tensor.h"

#define CC_ITER_MAX_OPS 4
// Below this many elements a kernel runs on one thread (thread start-up costs more).
#define CC_PARALLEL_MIN 32768

typedef struct {
    int nops;
    int ndim; // >= 1
    int64_t numel;
    int64_t shape[CC_MAX_NDIM];
    int64_t strides[CC_ITER_MAX_OPS][CC_MAX_NDIM]; // in bytes
    char *data[CC_ITER_MAX_OPS];
} cc_iter;

// A row kernel: n elements; p[k] points at operand k's first element, s[k] is its byte step.
typedef void (*cc_row_fn)(char *const *p, const int64_t *s, int64_t n, void *ctx);

// Iteration over ops[0..nops) which all have shape (ndim, shape); collapses what it can.
void cc_iter_init(cc_iter *it, int nops, const cc_tensor *const *ops, int ndim,
                  const int64_t *shape);
// Calls fn on every row (rows longer than a chunk are split), in parallel above
// CC_PARALLEL_MIN elements. fn must only write to its own row's elements.
void cc_iter_run(const cc_iter *it, cc_row_fn fn, void *ctx);
// 0, or -1 with CC_E_PY_RUNTIME when t does not live in CPU memory.
int cc_check_cpu(const cc_tensor *t, const char *op);
// Number of threads a kernel over `work` elements should use (1 below CC_PARALLEL_MIN).
int cc_threads_for(int64_t work);
// Runs the cast kernel of cast.c over it: operand 0 of dtype dst receives operand 1 of src.
void cc_cast_run(const cc_iter *it, cc_dtype dst, cc_dtype src);
// Dtype conversions of one element; float to int64 saturates, NaN gives INT64_MIN (as numpy
// on x86).
int64_t cc_f64_to_i64(double v);
