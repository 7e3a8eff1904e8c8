// A memoised bottom-up map over a graph (each distinct node once, by hash), with a hook
// before descending that may answer for a node or replace it; an explicit stack, no
// recursion. Substitution and the Module operations are built on it.
#pragma once

#include "nodes/node.h"

// Before descending into node: 0 to descend into it; 1 with *out (new reference) as its final
// result; 2 with *out (new reference) to descend into instead; -1 on error.
typedef int (*cc_deep_map_pre)(void *ctx, cc_node *node, cc_node **out);
// node's result given its children's results (changed: some differ). New reference or NULL.
typedef cc_node *(*cc_deep_map_post)(void *ctx, cc_node *node, cc_node *const *kids, int changed);

// node itself when !changed, else node rebuilt over kids under its name: what a node
// without a post hook becomes. New reference, or NULL.
cc_node *cc_deep_map_rebuild(cc_node *node, cc_node *const *kids, int changed);
// A pre hook keeping every subtree without a Module as it is, without walking it (for maps
// that only change Modules).
int cc_deep_map_keep_module_free(void *ctx, cc_node *node, cc_node **out);
// root mapped bottom-up: post (or cc_deep_map_rebuild when NULL) gives each node's result
// from its children's. New reference, or NULL with the hooks' error.
cc_node *cc_deep_map(cc_node *root, cc_deep_map_pre pre, cc_deep_map_post post, void *ctx);
