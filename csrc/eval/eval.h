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
    int64_t n_nodes_computed;    // distinct nodes run, summed over the plans run
    int64_t peak_bytes;          // the plans' estimate of the peak of live result bytes
    int64_t measured_peak_bytes; // the peak of live fresh buffers the run actually held
    int64_t batch_size;          // size of the leading axis split along; 0 when not split
    int64_t chunk_size;          // rows per chunk; 0 when not split
    int64_t n_chunks;            // chunks run; 0 when not split
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

// --- evaluation under a memory bound (chunk.c) --------------------------------------------------
//
// When the plan's peak (plus the outputs) would pass max_memory, or one tensor would pass
// max_single_tensor_memory, the run is split along a batch axis: the leading size of the
// biggest intermediate when outputs can be split along it, else the first output's leading
// size. Outputs with that leading size are computed in chunks of rows: each chunk is the output
// sliced along that axis with the slice pushed down to the leaves, so the big intermediates
// shrink with it, and its rows are copied into the full output. Float Einsum outputs that sum
// over a label of the batch size (a mean loss) are the sums of their chunks' terms. The other
// outputs are computed first, whole. A run is a sequence of steps, each prepared with the GIL
// held (it builds nodes) and run without it (the kernels).

typedef struct {
    int64_t max_memory;               // bytes of live results at once; <= 0: no bound
    int64_t max_single_tensor_memory; // bytes of any one result; <= 0: no bound
} cc_eval_limits;

typedef struct cc_chunked_eval cc_chunked_eval;

// GIL held. The steps that evaluate prepared[0..n) (borrowed; they must outlive the run)
// within limits. NULL with CC_E_SCHEDULING_OOM (the peak needed and max_memory, in bytes),
// CC_E_SCHEDULING_OOMSINGLE (the largest tensor and max_single_tensor_memory), a planning error
// (CC_E_TENSOR_EVAL_NOT_EXPLICITLY_COMPUTABLE, ...) or CC_E_NO_MEMORY.
cc_chunked_eval *cc_chunked_eval_new(int n, cc_node *const *prepared, const cc_eval_limits *lim);
// Number of steps (1 when nothing is split).
int64_t cc_chunked_eval_n_steps(const cc_chunked_eval *c);
// GIL held. Builds and plans step i (steps run in order 0, 1, ...). 0, or -1 with an error
// (CC_E_SCHEDULING_OOM when the step's plan would pass the bound after all).
int cc_chunked_eval_prepare_step(cc_chunked_eval *c, int64_t i);
// Without the GIL. Runs the prepared step on device's backend and stores its rows. 0, or -1
// with the errors of cc_eval_run.
int cc_chunked_eval_run_step(cc_chunked_eval *c, cc_device device);
// After the last step: moves the outputs into results[0..n) (caller clears) and fills stats
// (may be NULL).
void cc_chunked_eval_finish(cc_chunked_eval *c, cc_tensor *results, cc_eval_stats *stats);
// GIL held (it drops node references). NULL is a no-op.
void cc_chunked_eval_free(cc_chunked_eval *c);
