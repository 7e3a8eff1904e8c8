// Einsum lowering: every contraction becomes permute + reshape + (batched) GEMM
// through BLAS; several operands are contracted pairwise, greedily by the size
// of the intermediate. Diagonals and pure reductions do not use GEMM.
#pragma once

#include <stdint.h>

#include "tensor/tensor.h"

// operands[i] has ndim == n_labels[i] with labels[i][j] the label of axis j (0..255).
// Labels repeated within an operand take the diagonal; labels missing from out_labels are
// summed; a label repeated in out_labels writes onto a diagonal of zeros. Sizes of equal
// labels agree (checked by the caller at construction). All operands share one float dtype.
// With 0 operands the result is the scalar 1 of dtype `dtype_if_empty`. out is initialised by
// the call, contiguous in out_labels order; it may share an operand's buffer (one operand
// already laid out as the result: "ij->ij"), so callers must not write into it in place.
// Non-float operands fail with CC_E_TENSOR_EVAL_DEVICE_DTYPE_ERROR.
int cc_einsum(cc_tensor *out, int n_operands, const cc_tensor *const *operands,
              const uint8_t *const *labels, int n_out, const uint8_t *out_labels,
              cc_dtype dtype_if_empty);
