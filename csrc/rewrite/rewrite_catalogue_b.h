// rc's Index, Concat and GeneralFunction rewrites beyond simp's defaults, the concat pulls, and
// deep_push_down_index_raw. The single-node rewrites follow simp.h's contract: 0 with *out a new
// reference, or *out NULL when the rewrite does not apply; -1 with an error. Each is only called
// on a node of its kind.
#pragma once

#include <stdint.h>

#include "nodes/node.h"

// Index (rewrite/rewrite_index.c)
// rc's index_fuse: an Index of an Index as one Index of the inner child.
int cc_index_fuse(cc_node *index, cc_node **out);
// rc's index_split_axes: Index(Index(child, bottom), top) with the top_axes (child axes) entries
// on top and the rest below; *out NULL when some axis is past the child's rank.
int cc_index_split_axes(cc_node *index, int n_top, const int64_t *top_axes, cc_node **out);
// rc's deep_push_down_index_raw: every node whose parents are all Indexes is indexed once by the
// union of their entries (pushed one step down) and the parents re-index that; nodes with fewer
// than min_size elements (min_size >= 0) stay. New reference, or NULL.
cc_node *cc_deep_push_down_index_raw(cc_node *c, int64_t min_size);

// Concat (rewrite/rewrite_concat.c)
// rc's index_concat_drop_unreached: the Concat operands an Index on the concat axis never
// reaches dropped (int and slice entries).
int cc_index_concat_drop_unreached(cc_node *index, cc_node **out);
// rc's concat_elim_split: a Concat of consecutive slices of one node as one Index of it.
int cc_concat_elim_split(cc_node *concat, cc_node **out);
// rc's concat_pull_removable_axes: axes every operand can drop (Scalars, Rearrange broadcasts)
// removed below the Concat and restored by a Rearrange above.
int cc_concat_pull_removable_axes(cc_node *concat, cc_node **out);
// rc's flat_concat: each circuit flattened ("flatten") and concatenated ("flat_concat"). New
// reference, or NULL (CC_E_PY_VALUE when n is 0).
cc_node *cc_flat_concat(int n, cc_node *const *circuits);
// rc's flat_concat_back: the flat concat, and per circuit the Rearrange of its slice back to
// its shape (backs: n new references). 0, or -1.
int cc_flat_concat_back(int n, cc_node *const *circuits, cc_node **flat, cc_node **backs);

// rc's Rearrange::nrc_elim_identity(child, RearrangeSpec::unremove_axes(mask, shape), None):
// the axes flagged in mask (ndim of them) restored as broadcasts. New reference, or NULL.
cc_node *cc_unremove_axes(cc_node *child, int ndim, const int64_t *shape, const uint8_t *mask);

// GeneralFunction (rewrite/rewrite_gf.c)
int cc_generalfunction_pull_removable_axes(cc_node *gf, cc_node **out);
int cc_generalfunction_merge_inverses(cc_node *gf, cc_node **out);
int cc_generalfunction_special_case_simplification(cc_node *gf, cc_node **out);
int cc_generalfunction_evaluate_simple(cc_node *gf, cc_node **out);
int cc_generalfunction_gen_index_const_to_index(cc_node *gf, cc_node **out);

// Concat pulls (rewrite/pull_concat.c)
// rc's pull_concat_once (raw = 0) and pull_concat_once_raw (raw = 1): a Concat operand of an
// Add, Einsum or GeneralFunction moved above it; the result takes the Concat operands' name when
// they share one. *out NULL when it does not apply. 0, or -1.
int cc_pull_concat_once(cc_node *c, int raw, cc_node **out);
// rc's deep_pull_concat_messy (raw = 1) and deep_pull_concat_new (raw = 0): bottom up, Concats
// fused and concats pulled once, where the node or a child has at least min_size elements
// (min_size < 0: everywhere). New reference, or NULL.
cc_node *cc_deep_pull_concat_pass(cc_node *c, int64_t min_size, int raw);
// rc's deep_pull_concat: the messy pass, then compiler_simp and deep_push_down_index_raw until
// nothing changes. New reference, or NULL.
cc_node *cc_deep_pull_concat(cc_node *c, int64_t min_size);
