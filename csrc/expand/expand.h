// Expansion (rc's expand_node and ReplaceExpander): re-deriving a node over new children
// that may carry extra leading (batch) axes or different symbolic sizes, and replacing nodes
// of a graph while re-deriving every ancestor that way. Module substitution and batching
// rest on it.
#pragma once

#include "nodes/node.h"

// rc's expand_node: circuit rebuilt over inputs (one per child). Batch axes of the inputs
// (axes in front of the old child's rank) are right-aligned (equal where they overlap) and
// prepended to the result; symbolic sizes meeting concrete ones are pinned with
// SetSymbolicShape; the symbolic size constraints of the result must be able to hold together
// (CC_E_SYMBOLIC_SIZE_SET_FAILED_TO_SATISFY_CONTRAINTS). New reference, or NULL with
// CC_E_EXPAND_*, that error or the rebuilt node's error.
cc_node *cc_expand_node(const cc_node *circuit, cc_node *const *inputs);
// A Module's body re-derived with its grown symbols: body is the old body, keys[i] -> values[i]
// the symbols grown by batch axes moved into them. New reference, or NULL.
typedef cc_node *(*cc_expand_rerun)(void *ctx, cc_node *body, int n, cc_node *const *keys,
                                    cc_node *const *values);
// cc_expand_node, where a Module moving batch axes into its symbols gets its body from rerun
// (rc's expand_node callback) instead of replacing the symbols in the old body: for a caller
// that rewrote the body itself (the module pusher).
cc_node *cc_expand_node_rerun(const cc_node *circuit, cc_node *const *inputs, cc_expand_rerun rerun,
                              void *ctx);
// rc's ReplaceExpander: circuit with every node equal to keys[i] replaced by values[i] (a
// later equal key wins) and each ancestor re-derived with cc_expand_node; a Module binding a
// key symbol hides it from its body; the result's symbolic size constraints are checked as
// cc_expand_node's. New reference, or NULL.
cc_node *cc_replace_expand(cc_node *circuit, int n, cc_node *const *keys, cc_node *const *values);
