// rc's einsum contraction-order optimisation: einsum_nest_path, einsum_nest_optimize and
// deep_optimize_einsums. The order search is optimal (dynamic programming over operand
// subsets) up to CC_EINSUM_ORDER_DP_MAX operands and greedy beyond.
#pragma once

#include <stdint.h>

#include "nodes/node.h"

#define CC_EINSUM_ORDER_DP_MAX 8

// A contraction order for n operands (operand i: n_labels[i] labels labels[i]) whose result
// has the n_out labels out; size[l] is label l's size. The order is n - 1 pairwise steps in
// SSA form: step k joins ids pairs[2k] and pairs[2k + 1] (operands are ids 0..n-1) into id
// n + k. Cost of a step: the product of the sizes of the labels its two inputs have (each
// input keeping the labels some operand outside it or the output needs); the order minimises
// the total for n <= CC_EINSUM_ORDER_DP_MAX, else takes the pair that shrinks the held
// elements most (ties: fewer multiply-adds, then the first pair). *cost gets the total. 0, or
// -1 with CC_E_NO_MEMORY.
int cc_einsum_order(int n, const int *n_labels, const uint8_t *const *labels, int n_out,
                    const uint8_t *out, const double *size, int *pairs, double *cost);
// rc's einsum_nest_path: einsum's operands contracted step by step; a step lists positions in
// the current operand list, whose entries it removes (largest position first) and contracts
// into one Einsum appended at the end. The last step's result is the einsum's output, under
// its name. New reference, or NULL with CC_E_PY_VALUE (a position out of range or repeated,
// or steps that do not end with one operand).
cc_node *cc_einsum_nest_path(cc_node *einsum, int n_steps, const int *step_len,
                             const int *positions);
// rc's einsum_nest_optimize: einsum nested in the order cc_einsum_order finds (a pairwise tree
// of Einsums; one operand or none: the einsum as it is). New reference, or NULL.
cc_node *cc_einsum_nest_optimize(cc_node *einsum);
// rc's deep_optimize_einsums: every Einsum of root with three operands or more through
// cc_einsum_nest_optimize (each distinct node once). New reference, or NULL.
cc_node *cc_deep_optimize_einsums(cc_node *root);
