// Channels-last N-d convolution (rc's Conv): a zero-padded copy of the input, a strided view of
// its patches, and one einsum with the filter (so the work is a BLAS GEMM).
#pragma once

#include <stdint.h>

#include "tensor/tensor.h"

// x: (batch..., s_1..s_d, c); w: (f, k_1..k_d, c); both of one float dtype (float32 or
// float64). stride: d values > 0; padding: d (before, after) pairs >= 0, with
// s_i + before + after - (k_i - 1) a multiple of stride_i (checked at construction).
// out (initialised by the call): (batch..., o_1..o_d, f). 0, or -1 with an error.
int cc_conv(cc_tensor *out, const cc_tensor *x, const cc_tensor *w, int d, const int64_t *stride,
            const int64_t *padding);
