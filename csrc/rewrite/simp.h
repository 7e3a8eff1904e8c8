// rc's simp: the single-node simplifications (one file per node family) and the deep bottom-up
// driver that applies a subset of them, in rc's order, until nothing changes. Each rewrite
// returns 0 with *out a new reference, or *out NULL when it does not apply; -1 with an error.
// A rewrite is only called on a node of its kind.
#pragma once

#include <stdint.h>

#include "nodes/node.h"

typedef int (*cc_simp_fn)(cc_node *n, cc_node **out);

// Add (rewrite/simp_add.c)
int cc_remove_add_few_input(cc_node *add, cc_node **out);
int cc_add_elim_zeros(cc_node *add, cc_node **out);
int cc_add_deduplicate(cc_node *add, cc_node **out);
int cc_add_elim_removable_axes_weak(cc_node *add, cc_node **out);
// s with the output groups flagged in drop removed. NULL on error.
cc_rearrange_spec *cc_rearrange_spec_drop_out_groups(const cc_rearrange_spec *s,
                                                     const uint8_t *drop);
// The Scalar without the axes flagged in mask, named name. NULL on error.
cc_node *cc_scalar_drop_axes(const cc_node *scalar, const uint8_t *mask, const char *name);
// Einsum (rewrite/simp_einsum.c)
int cc_einsum_elim_zero(cc_node *einsum, cc_node **out);
int cc_einsum_elim_identity(cc_node *einsum, cc_node **out);
int cc_einsum_of_permute_merge(cc_node *einsum, cc_node **out);
int cc_einsum_remove_one(cc_node *einsum, cc_node **out);
int cc_einsum_elim_removable_axes_weak(cc_node *einsum, cc_node **out);
int cc_einsum_permute_to_rearrange(cc_node *einsum, cc_node **out);
// The number of input axes of an Einsum: the sum of its operands' ranks.
int cc_einsum_total_in_axes(const cc_node *e);
// Index and Rearrange (rewrite/simp_rearrange.c)
int cc_index_elim_identity_op(cc_node *index, cc_node **out);
int cc_index_merge_scalar(cc_node *index, cc_node **out);
int cc_rearrange_elim_identity(cc_node *rearrange, cc_node **out);
int cc_rearrange_fuse(cc_node *rearrange, cc_node **out);
int cc_rearrange_merge_scalar(cc_node *rearrange, cc_node **out);
int cc_permute_of_einsum_merge(cc_node *rearrange, cc_node **out);
// Concat (rewrite/simp_concat.c)
int cc_concat_elim_identity(cc_node *concat, cc_node **out);
int cc_concat_merge_uniform(cc_node *concat, cc_node **out);
int cc_concat_drop_size_zero(cc_node *concat, cc_node **out);
int cc_concat_fuse(cc_node *concat, cc_node **out);
int cc_concat_repeat_to_rearrange(cc_node *concat, cc_node **out);

// rc's RearrangeSpec::get_fwd_permutation: 1 with perm[i] the output position of input axis i
// when s only permutes axes; 0 when it splits, joins, adds or drops any.
int cc_rearrange_fwd_permutation(const cc_rearrange_spec *s, int *perm);
// "<name><suffix>", freed with cc_free; NULL with CC_E_NO_MEMORY.
char *cc_simp_suffixed(const char *name, const char *suffix);

// rc's get_removable_axes: every axis of a Scalar, the axes a Rearrange introduces (output
// groups with no input int), none otherwise. Writes a mask of n->ndim flags.
void cc_removable_axes(const cc_node *n, uint8_t *mask);
// rc's remove_axes_weak for a Scalar or a Rearrange: the axes flagged in mask (a subset of
// cc_removable_axes) dropped, the result named "<name>_rem_ax" (unnamed: autonamed). New
// reference, or NULL.
cc_node *cc_remove_axes_weak(cc_node *n, const uint8_t *mask);

// The rewrites simp can run (rc's SimpFnSubset names), in rc's order: by node kind, then in
// each kind's order.
typedef struct {
    const char *name;
    cc_kind kind;
    cc_simp_fn fn;
    int in_default;  // a member of rc's SimpFnSubset.default()
    int in_compiler; // a member of rc's SimpFnSubset.compiler_default()
} cc_simp_row;

// The rows of the table and their count (at most 64: a subset is a bit mask over rows).
const cc_simp_row *cc_simp_rows(int *n);
// The subset of rc's SimpFnSubset.default().
uint64_t cc_simp_default_mask(void);
// The subset of rc's SimpFnSubset.compiler_default() (compiler_simp's): every row but
// add_elim_removable_axes_weak, einsum_elim_removable_axes_weak and einsum_remove_one.
uint64_t cc_simp_compiler_mask(void);
// rc's simp_step: the first rewrite of the subset (bit i: row i) that applies to c. 0 with *out
// a new reference or NULL; -1 on error.
int cc_simp_step(cc_node *c, uint64_t mask, cc_node **out);
// rc's deep_simp of simp_step: post-order, each node's simplified children first, then its own
// rewrites until none applies; children a rewrite creates are simplified before continuing.
// Memoised by hash. New reference, or NULL (CC_E_PY_RUNTIME when a node does not settle).
cc_node *cc_simp(cc_node *c, uint64_t mask);
