// rc's add_flatten / einsum_flatten: nested Adds (Einsums) inlined into one Add (Einsum) of
// the same value. The _once forms inline direct children only.
#pragma once

#include "match/iterative.h"
#include "nodes/node.h"

// Every Add reached through Adds from add inlined (operands in depth-first order) where the
// traversal (rc's IterativeMatcher, borrowed; NULL: everywhere) continues; add's name kept (an
// unnamed add is autonamed); add itself when the traversal finishes at add. New reference, or
// NULL with an error (CC_E_PY_TYPE when add is not an Add).
cc_node *cc_add_flatten(cc_node *add, cc_imatcher *traversal);
// rc's add_flatten_once: Add children inlined one level. 0 with *out a new reference, or NULL
// when no child is an Add; -1 on error.
int cc_add_flatten_once(cc_node *add, cc_node **out);
// Every Einsum reached through Einsums from einsum inlined where the traversal continues (as
// for cc_add_flatten), labels unified (an inner output diagonal or an outer repeated label
// merges labels) and renumbered 0, 1, ... by first appearance in the operands; einsum's name
// kept. New reference, or NULL (CC_E_PY_VALUE when more than 256 labels remain).
cc_node *cc_einsum_flatten(cc_node *einsum, cc_imatcher *traversal);
// rc's einsum_flatten_once: Einsum children inlined one level, the result autonamed, labels
// renumbered as above. 0 with *out a new reference, or NULL when no child is an Einsum; -1.
int cc_einsum_flatten_once(cc_node *einsum, cc_node **out);
