// Evaluation on the CPU: one plan for all requested outputs (every distinct
// subterm by hash computed once, intermediates freed after their last use).
// Knows nothing of Python; the caller releases the GIL around cc_evaluate_many.
#pragma once

#include <stdint.h>

#include "nodes/node.h"
#include "tensor/tensor.h"

typedef struct {
    int64_t n_nodes_computed; // distinct nodes run by the last plan
    int64_t peak_bytes;       // peak of live intermediate bytes
} cc_eval_stats;

// Evaluates outputs[0..n); on success results[i] is initialised (caller clears).
// Errors: CC_E_TENSOR_EVAL_NOT_EXPLICITLY_COMPUTABLE (Symbols), kernel errors, CC_E_PYTHON
// from callbacks. stats may be NULL.
int cc_evaluate_many(int n, cc_node *const *outputs, cc_tensor *results, cc_eval_stats *stats);
