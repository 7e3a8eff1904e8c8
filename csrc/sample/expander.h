// rc's Expander: several (iterative matcher, transform) pairs run in one top-down pass; a node
// that some matcher finds is replaced by the first such matcher's transform of the original
// node (its subtree is not visited), and every ancestor of a replaced node is re-derived by
// expansion (expand/expand.h), so replacements may add leading batch axes or change symbolic
// sizes.
#pragma once

#include "match/iterative.h"
#include "match/update.h"
#include "nodes/node.h"

typedef struct {
    int ban_multiple_matches_on_node; // two matchers finding one node is an error
    const char *suffix;               // NULL, or appended as "_<suffix>" to changed named nodes
} cc_expander_options;

// New reference to the expanded root, or NULL with an error (a step's, a transform's,
// expansion's; CC_E_PY_RUNTIME when a node is found by several matchers and that is banned).
// *any_found: whether any matcher found a node. Borrows everything.
cc_node *cc_expander_run(cc_node *root, int n, cc_imatcher *const *matchers,
                         const cc_transform *transforms, const cc_expander_options *options,
                         int *any_found);
