// Whole-graph walks behind rc's circuit utilities (visit_circuit, toposort_circuit, deep_map,
// replace_nodes, prefix_all_names, replace_outside_traversal_symbols, append_matchers_to_names,
// compute_self_hash): explicit stacks, each distinct node (or node and traversal state) once.
// Callers reach user code only through the hooks they pass.
#pragma once

#include <stdint.h>

#include "expand/deep_map.h"
#include "match/iterative.h"
#include "nodes/node.h"
#include "util/hmap.h"

// rc's visit order: a node before its children, children in order, each distinct node (by
// hash) once, at its first visit. Borrowed pointers; caller frees *out with cc_free. 0, or -1
// with CC_E_NO_MEMORY.
int cc_walk_preorder_unique(cc_node *root, cc_node ***out, int64_t *n_out);

// rc's toposort_circuit: every distinct node after all its descendants; among nodes whose
// parents are all placed, the smallest by (name, hash) (unnamed first) is placed nearest the
// root. Borrowed pointers; caller frees *out with cc_free. 0, or -1 with CC_E_NO_MEMORY.
int cc_walk_toposort(cc_node *root, cc_node ***out, int64_t *n_out);

// rc's node order: by name (unnamed first), then by hash. <0, 0 or >0.
int cc_walk_node_compare(const cc_node *a, const cc_node *b);

// A pre-order map (rc's deep_map_preorder): replace(ctx, x, &y) gives 1 with y (a new
// reference) standing for x, whose children are then mapped in turn, or 0 to keep x; -1 on
// error. The result of each distinct node is memoised. A replacement that leads back to a node
// still being replaced fails with CC_E_PY_VALUE instead of expanding without end. New
// reference, or NULL with the hook's error.
typedef int (*cc_walk_replace_fn)(void *ctx, cc_node *x, cc_node **y);
cc_node *cc_walk_map_preorder(cc_node *root, cc_walk_replace_fn replace, void *ctx);

// rc's replace_nodes: every node whose hash is a key of map (values: cc_node *, borrowed) is
// replaced by its value, whose own children are mapped too. New reference, or NULL.
cc_node *cc_walk_replace_nodes(cc_node *root, const cc_hmap *map);

// rc's prefix_all_names: every named node renamed prefix + name. New reference, or NULL.
cc_node *cc_walk_prefix_names(cc_node *root, const char *prefix);

// A map along a traversal: the state applied to a node decides which children are mapped (a
// child without a state is kept as it is). post(ctx, node, state, finished, kids, changed)
// gives the node's result from its children's (finished: the state visits no child; kids are
// then the node's own children). Memoised by (node, state). New reference, or NULL with an
// error (the step's, the hook's).
typedef cc_node *(*cc_walk_traversal_post)(void *ctx, cc_node *node, cc_imatcher *state,
                                           int finished, cc_node *const *kids, int changed);
cc_node *cc_walk_traversal_map(cc_node *root, cc_imatcher *traversal, cc_walk_traversal_post post,
                               void *ctx);

// rc's append_matchers_to_names: each node reached (Symbols excepted) renamed
// "<name> Matcher <state>" (unnamed nodes lose no name: they stay unnamed), or "<state>" alone
// with discard_old_name. New reference, or NULL.
cc_node *cc_walk_append_matchers_to_names(cc_node *root, cc_imatcher *traversal,
                                          int discard_old_name);

// rc's compute_self_hash: a hash of the node alone (its kind, payload and shape; its name,
// child count and child shapes when asked), not of its children. 0, or -1 with an error.
int cc_walk_self_hash(const cc_node *n, int hash_child_count, int hash_child_shapes, int hash_name,
                      uint8_t out[32]);
