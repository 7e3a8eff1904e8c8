// rc's rewrite catalogue, part A: the Add and Einsum rewrites outside simp's default set,
// distribution of Einsums over Adds, and the canonical and normal forms. Each rewrite keeps the
// value of its input. The "optional" ones return 0 with *out a new reference, or *out NULL when
// they do not apply; -1 with an error. Arguments are borrowed and of the kind named.
#pragma once

#include "match/iterative.h"
#include "nodes/node.h"
#include "nodes/rearrange.h"

// --- Add (rewrite/rewrite_add.c) ---

// rc's Rearrange::nrc_elim_identity: child under spec, named as for constructors; child itself
// when spec is the identity. New reference, or NULL.
cc_node *cc_rearrange_or_child(cc_node *child, const cc_rearrange_spec *spec, const char *name);
// rc's RearrangeSpec::new_canon for groups of at most one int (in_ints[g] < 0: an empty group;
// likewise out_ints), n_sizes int sizes: the spec canonicalised with size-1 ints dropped. NULL
// on error.
cc_rearrange_spec *cc_spec_new_canon(int n_in, const int *in_ints, int n_out, const int *out_ints,
                                     int n_sizes, const int64_t *sizes);
// rc's remove_axes: the axes flagged in mask (n->ndim flags) removed from a Scalar, from a
// Rearrange (its spec conformed and canonicalised first), or, when they all have size 1, from
// any node by a Rearrange; named "<name>_rem_ax". New reference; NULL with *applies = 0 when
// an axis of another kind of node is not of size 1, or with *applies = 1 on error.
cc_node *cc_remove_axes(cc_node *n, const uint8_t *mask, int *applies);

// rc's make_broadcast: node broadcast to out_shape (rank >= node's) by a canonical Rearrange,
// unnamed (autonamed); node itself when the spec is the identity. New reference, or NULL.
cc_node *cc_make_broadcast(cc_node *node, int ndim, const int64_t *out_shape);
// rc's add_make_broadcasts_explicit: every operand of another shape made_broadcast to the
// Add's; *out NULL when none is.
int cc_add_make_broadcasts_explicit(cc_node *add, cc_node **out);
// Scalar operands summed into one Scalar of the Add's shape, placed last (two or more).
int cc_add_collapse_scalar_inputs(cc_node *add, cc_node **out);
// Operands grouped into Adds of operands whose non-1 axes nest (no outer product between them).
int cc_add_outer_product_broadcasts_on_top(cc_node *add, cc_node **out);
// The operands of sub (each as many times as sub has it) replaced by sub itself; *out NULL when
// sub's operands are not a sub-multiset of add's.
int cc_extract_add(cc_node *add, cc_node *sub, cc_node **out);
// Einsum operands equal up to () Scalar factors merged into one with the factors summed.
int cc_add_fuse_scalar_multiples(cc_node *add, cc_node **out);
// rc's add_pull_removable_axes: axes that every operand broadcasts or could drop (Scalars,
// axes a Rearrange introduces, size-1 axes) are removed below and restored by one Rearrange on
// top; with remove_non_common_axes each operand also loses its own such axes, broadcast back
// below the Add.
int cc_add_pull_removable_axes(cc_node *add, int remove_non_common_axes, cc_node **out);

// --- Einsum (rewrite/rewrite_einsum.c) ---

// () Scalar operands multiplied into one, placed last (dropped when it is 1).
int cc_einsum_merge_scalars(cc_node *einsum, cc_node **out);
// Removable axes (as for Add) of operands dropped; reduced sizes become a Scalar factor; output
// axes no operand keeps are restored by a Rearrange on top.
int cc_einsum_pull_removable_axes(cc_node *einsum, cc_node **out);
// The first Concat operand whose concat axis is summed and used by no other operand split into
// an Add of one Einsum per part.
int cc_einsum_concat_to_add(cc_node *einsum, cc_node **out);

// --- Diagonals (rewrite/rewrite_diag.c) ---

// rc's add_pull_diags: an Add of Einsums that are all diagonal over the same axes becomes one
// diagonal Einsum over the Add of their undiagonalised versions.
int cc_add_pull_diags(cc_node *add, cc_node **out);
// rc's einsum_push_down_trace: repeated labels of an Add, Concat, Index or Rearrange operand
// (a trace) moved below that operand where it can take them.
int cc_einsum_push_down_trace(cc_node *einsum, cc_node **out);

// --- Distribution (rewrite/distribute.c) ---

typedef struct {
    int operand_idx;
    cc_imatcher *traversal; // borrowed; NULL: rc's traverse_until_depth(1)
    const char *prefix;     // NULL: none
    const char *suffix;     // NULL: none
    int allow_partial_distribute;
    int do_broadcasts;
} cc_distribute_opts;

// rc's distribute_once: Add[einsum's name] of one Einsum per operand of the Add at operand_idx
// (its broadcasts made explicit when do_broadcasts), each unnamed (autonamed) or, with a prefix
// or suffix, named prefix + operand's name + suffix. New reference, or NULL with a
// CC_E_DISTRIBUTE_* error.
cc_node *cc_distribute_once(cc_node *einsum, int operand_idx, int do_broadcasts, const char *prefix,
                            const char *suffix);
// rc's distribute: distribute_once, then again on each new Einsum while the traversal
// (applied to the operand at operand_idx) continues. CC_E_DISTRIBUTE_NOOP when nothing changes.
cc_node *cc_distribute(cc_node *einsum, const cc_distribute_opts *o);
// rc's distribute_all: every non-empty Add operand distributed, one flat Add of the products.
int cc_distribute_all(cc_node *einsum, cc_node **out);

// rc's compiler stops distributing after this many distributions in one run.
#define CC_MAX_TIMES_DISTRIBUTED 10000

typedef struct {
    double min_size;        // an Add operand with at least this many elements is distributed
    uint64_t simp_mask;     // the simplifications applied to each distributed result
    int *times_distributed; // counter shared by one run
} cc_maybe_distribute_opts;

// rc's maybe_distribute: the first non-empty Add operand with at least min_size elements
// distributed, then simplified and canonicalised (deep); *out NULL when there is none.
int cc_maybe_distribute(cc_node *einsum, const cc_maybe_distribute_opts *o, cc_node **out);
// maybe_distribute applied to every Einsum, bottom-up. New reference, or NULL.
cc_node *cc_deep_maybe_distribute(cc_node *root, const cc_maybe_distribute_opts *o);

// --- Canonical forms (rewrite/canonicalize.c) ---

// rc's canonicalize_node: Rearrange specs conformed and canonicalised, Index entries made
// explicit, Add and Einsum operands sorted (numel descending, kind, hash), Einsum labels
// renumbered; other kinds as they are. New reference, or NULL.
cc_node *cc_canonicalize_node(cc_node *n);
// rc's normalize_node: Rearrange specs canonicalised without dropping size-1 ints, Einsum labels
// renumbered. New reference, or NULL.
cc_node *cc_normalize_node(cc_node *n);
// The node function applied bottom-up to every node (memoised by hash). New reference, or NULL.
cc_node *cc_deep_map_nodes(cc_node *root, cc_node *(*fn)(cc_node *));
// rc's normalize_ints: labels renumbered 0, 1, ... by first appearance (operands, then output).
cc_node *cc_einsum_normalize_ints(cc_node *einsum);
