// Seeded sampling kernels. The generator is the project's own, not torch's: SplitMix64
// (Steele, Lea and Flood, 2014) started at the seed, one 64-bit output per draw, turned into a
// double in [0, 1) from its top 53 bits. Draws are taken row after row, sample after sample,
// so one seed gives one result on every machine.
#pragma once

#include <stdint.h>

#include "tensor/tensor.h"

// rc's multinomial: probs is float (..., k); each row of its leading axes draws
// prod(sample_shape) category indices in [0, k), weighted by the row (which need not sum to
// 1), with or without replacement. out (initialised by the call): int64 of shape
// probs.shape[:-1] + sample_shape, contiguous. 0, or -1 with CC_E_TENSOR_EVAL for a negative,
// infinite or NaN weight, a row of zeros, or more samples without replacement than the row
// has non-zero weights.
int cc_multinomial(cc_tensor *out, const cc_tensor *probs, int n_sample_dims,
                   const int64_t *sample_shape, int replacement, uint64_t seed);
