// rc's scatter rewrites (circuit_rewrites scatter_rewrite): Scatters removed when they pad
// nothing, pulled above Einsum and Add (so the zeros are not computed), made from Indexes of
// diagonal Einsums and from Concats padded with zero Scalars, and turned back into Concats.
// Each returns 0 with *out a new reference, or *out NULL where rc returns None; -1 with an
// error (CC_E_PY_TYPE when n is not of the kind the rewrite takes).
#pragma once

#include "nodes/node.h"

// The child, when the Scatter pads nothing.
int cc_scatter_elim_identity(cc_node *scatter, cc_node **out);
// Axes the child broadcasts (rc's get_removable_axes) and the Scatter fills whole are removed
// below it and put back by a Rearrange above.
int cc_scatter_pull_removable_axes(cc_node *scatter, cc_node **out);
// Einsum of Scatters: the operands indexed to the part every Scatter fills, one Scatter above
// (a zero Scalar when the parts do not meet).
int cc_einsum_pull_scatter(cc_node *einsum, cc_node **out);
// Add of Scatters: the operands indexed to the union of what they fill, one Scatter above.
int cc_add_pull_scatter(cc_node *add, cc_node **out);
// Index of an Einsum whose repeated output labels are indexed differently: the Einsum over
// the common part, scattered into the indexed region, then indexed.
int cc_index_einsum_to_scatter(cc_node *index, cc_node **out);
// Concat whose first or last operands are zero Scalars: the rest concatenated and scattered.
int cc_concat_to_scatter(cc_node *concat, cc_node **out);
// The Scatter as Concats with zero Scalars, one per axis (always applies).
int cc_scatter_to_concat(cc_node *scatter, cc_node **out);
