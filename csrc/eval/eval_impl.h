// Private to eval/: the evaluation plan (distinct nodes in dependency order, consumer
// counts, memory estimate) and the CPU backend. Knows nothing of Python.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "eval/backend.h"
#include "nodes/node.h"
#include "tensor/tensor.h"

typedef struct {
    int64_t n;            // distinct nodes (by hash), children before parents
    cc_node **nodes;      // borrowed from the requested outputs' graphs
    int64_t *child_start; // node i's child slots are child_ix[child_start[i] .. child_start[i+1])
    int64_t *child_ix;    // plan position of each child slot
    int64_t *n_consumers; // child slots of planned parents naming the node + requested outputs
    int n_outputs;
    int64_t *output_ix;       // plan position of each requested output
    int max_children;         // largest n_children in the plan
    int64_t peak_bytes;       // peak of live result bytes when each result is freed at its last use
    int64_t max_tensor_bytes; // the largest fresh result (leaves and views count nothing)
    int64_t max_tensor_ix;    // its plan position, -1 when every result is a view
} cc_plan;

// New plan for outputs[0..n) (borrowed; they must outlive the plan), or NULL with
// CC_E_TENSOR_EVAL_NOT_EXPLICITLY_COMPUTABLE, CC_E_TENSOR_EVAL_NOT_CONSTANT or CC_E_NO_MEMORY.
cc_plan *cc_plan_build(int n, cc_node *const *outputs);
void cc_plan_free(cc_plan *p); // NULL is a no-op

// Runs p on backend b; on success results[0..p->n_outputs) are initialised with host tensors
// (caller clears), on error they are left cleared and every intermediate is released.
// measured (may be NULL) receives what the run held, in bytes of distinct fresh buffers
// (leaves' memory and views of it count nothing).
typedef struct {
    int64_t peak;    // the most held at once
    int64_t outputs; // held by the requested outputs at the end
} cc_plan_measure;
int cc_plan_run(const cc_plan *p, const cc_backend *b, cc_tensor *results,
                cc_plan_measure *measured);

// "Einsum 'name' [2,3]" (or "Einsum [2,3]" when unnamed) into buf, truncated to cap.
void cc_eval_describe_node(const cc_node *n, char *buf, size_t cap);

// The dtype a node evaluates to: its own when an Array below fixes it, else float64.
cc_dtype cc_eval_node_dtype(const cc_node *n);

// The CPU backend (cpu_kinds.c): an eval_<kind> for every kind, host memory.
extern const cc_backend cc_cpu_backend;
