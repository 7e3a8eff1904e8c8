// rc's push_down_index: moves an Index below its child (Add, Concat, Einsum, batchable
// GeneralFunction axes, Module batch axes, Rearrange, Tag, Scalar), recursively, keeping the
// value and rc's names.
#pragma once

#include "match/iterative.h"
#include "nodes/node.h"

typedef struct {
    // rc's traversal, applied to the node below each Index: where it finishes the Index stays.
    // NULL: rc's default_index_traversal (stop at Index and Array).
    cc_imatcher *traversal;
    const char *suffix;         // NULL: none; else appended to result names (rc's suffix)
    int allow_partial_pushdown; // leave an Index on top for axes that cannot go down
    int elim_identity;          // drop Indexes that select everything
} cc_push_down_options;

// rc's push_down_index: the Index pushed down recursively while the traversal continues; each new
// node takes its inner node's name (+suffix); new child Indexes are unnamed (autonamed) or
// "<child>_idx_<suffix>". New reference, or NULL with a CC_E_PUSH_DOWN_INDEX_* error (or a
// construction error). index must be an Index (CC_E_PY_TYPE otherwise).
cc_node *cc_push_down_index(cc_node *index, const cc_push_down_options *o);
// rc's push_down_index_once: a single step; the new child Indexes stay where they are.
cc_node *cc_push_down_index_once(cc_node *index, int allow_partial_pushdown, const char *suffix);
// rc's index_elim_identity: the child when every entry is a slice covering its axis, else a
// new reference to index itself.
cc_node *cc_index_elim_identity(cc_node *index);
