// rc's nest_einsums / nest_adds core: an Einsum's (Add's) operands regrouped into a tree of
// nested Einsums (Adds) of the same value, and rc's deep_heuristic_nest_adds. Spec resolution
// (ints, matchers, Rest) is the caller's; this layer gets the tree as numbered groups.
#pragma once

#include "nodes/node.h"

// One node of the nesting tree. A member >= 0 is an operand of the einsum (add) being nested;
// a member < 0 is group -1 - member, which must come earlier in the list. The last group is
// the root; every operand and every non-root group is used exactly once.
typedef struct {
    int n_members;
    const int *members;
    const char *name;    // NULL: rc's automatic name (the root: the einsum's (add's) own name)
    const int *out_perm; // NULL, or n_perm entries: output axis i is axis out_perm[i] of the
                         // group's default order (Einsum groups other than the root)
    int n_perm;
    // NULL, or the default output labels of an Einsum group (not the root) in place of the
    // computed ones: labels of its operands including every one needed outside it (rc keeps a
    // regrouped einsum's former axes this way)
    const uint8_t *out_labels;
    int n_out_labels;
} cc_nest_group;

// einsum's operands nested as the groups say. A group's output labels are those of its
// operands that an operand outside it or the einsum's output also has, in increasing label
// order, or out_labels when given (then permuted by out_perm); the root's are the einsum's. New
// reference, or NULL with CC_E_NEST_INT_NOT_CONTAINED_IN_RANGE_COUNT (a member out of range),
// CC_E_PERM_INTS_NOT_UNIQUE (an operand twice),
// CC_E_NEST_PERMUTATION_MISSES_IDXS_AND_NO_REST_IN_SPEC (an operand never),
// CC_E_NEST_PERM_HAS_WRONG_LEN, or CC_E_NEST (a malformed tree).
cc_node *cc_einsum_nest_groups(cc_node *einsum, int n_groups, const cc_nest_group *groups);
// The same for an Add (out_perm must be NULL): each group an Add of its members.
cc_node *cc_add_nest_groups(cc_node *add, int n_groups, const cc_nest_group *groups);
// rc's deep_heuristic_nest_adds: an Add whose operands include every operand of another Add
// of the circuit (with multiplicity, at least two, fewer than its own) gets that Add as one
// operand in their place (two rounds, the first such Add in walk order), so the sum is
// computed once. New reference, or NULL on error.
cc_node *cc_deep_heuristic_nest_adds(cc_node *root);
