// Evaluation: one plan for all requested outputs (every distinct subterm by hash computed
// once, intermediates freed after their last use), run on a device's backend. Knows nothing
// of Python. Two phases, because node refcounts change only under the GIL: cc_eval_prepare
// with the GIL held, then cc_eval_run, around which the caller may release it.
#pragma once

#include <stdint.h>

#include "eval/backend.h"
#include "nodes/node.h"
#include "tensor/tensor.h"

typedef struct {
    int64_t n_nodes_computed; // distinct nodes run by the last plan
    int64_t peak_bytes;       // peak of live intermediate bytes
} cc_eval_stats;

// GIL held. prepared[i] becomes outputs[i] with every Module substituted (a new reference),
// so that planning sees only computable kinds. 0, or -1 with the substitution's error and
// prepared[0..n) all NULL.
int cc_eval_prepare(int n, cc_node *const *outputs, cc_node **prepared);
// GIL held. Releases what cc_eval_prepare gave; NULL entries are skipped.
void cc_eval_prepared_clear(int n, cc_node **prepared);

// Without the GIL. Evaluates prepared[0..n) on device's backend; on success results[i] is
// initialised with a host tensor (caller clears), on error every results[i] is cleared.
// Errors: CC_E_TENSOR_EVAL_DEVICE_UNAVAILABLE (no backend for device), CC_E_TENSOR_EVAL (a
// node the backend does not support), CC_E_TENSOR_EVAL_NOT_EXPLICITLY_COMPUTABLE (Symbols),
// kernel errors, CC_E_PYTHON from callbacks. stats may be NULL.
int cc_eval_run(int n, cc_node *const *prepared, cc_device device, cc_tensor *results,
                cc_eval_stats *stats);
