// CPU kernels over int64 tensors for what the float kernels do not cover: the elementwise
// functions torch keeps integral (relu, abs, step), integer powers, and einsum. Arithmetic
// wraps mod 2^64, so a result cast back to a narrower integer dtype is the one torch computes
// in that dtype. Inputs may be strided or broadcast; out is initialised by the call.
#pragma once

#include <stdint.h>

#include "tensor/kernels.h"
#include "tensor/tensor.h"

// op is CC_UNARY_RELU, CC_UNARY_ABS or CC_UNARY_STEP; x is int64.
int cc_int_unary(cc_tensor *out, cc_unary_op op, const cc_tensor *x);
// a ** b with numpy broadcasting, both int64, as torch's integer pow: b < 0 gives 1 for
// a == 1, +-1 for a == -1 and 0 otherwise.
int cc_int_pow(cc_tensor *out, const cc_tensor *a, const cc_tensor *b);
// Einsum (labels as in cc_einsum) over int64 operands, accumulated in int64 by a plain loop
// over every label's values; a label repeated in out_labels writes onto a diagonal of zeros.
// At least one operand; equal labels have equal sizes (checked at construction).
int cc_int_einsum(cc_tensor *out, int n_operands, const cc_tensor *const *operands,
                  const uint8_t *const *labels, int n_out, const uint8_t *out_labels);
