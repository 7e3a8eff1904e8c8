// Getting what an iterative matcher finds in a circuit: the set of found nodes, one or every
// path to each, the nodes on those paths, and whether anything is found (early exit). All
// walks use explicit queues or stacks and are memoised on (node hash, state), so their cost
// grows with the number of distinct (node, state) pairs reached, not with the number of paths.
#pragma once

#include <stdint.h>

#include "match/iterative.h"
#include "nodes/node.h"

// Paths as one flat array: path p is nodes[offsets[p] .. offsets[p + 1]), from the found node
// up to the root. Nodes are borrowed from the root the walk started at.
typedef struct {
    int64_t n_paths;
    int64_t *offsets; // n_paths + 1 entries
    cc_node **nodes;
} cc_match_paths;

void cc_match_paths_clear(cc_match_paths *p);

// The distinct nodes (by hash) found, in the order first found; borrowed from root. *out is
// cc_malloc'd. 0, or -1 with the error of a step.
int cc_match_get(cc_node *root, cc_imatcher *m, cc_node ***out, int64_t *n_out);
// One path per distinct found node, in the order found: rc's choice, the path that takes the
// last possible child at every node (the lexicographically greatest child-index sequence).
int cc_match_get_paths(cc_node *root, cc_imatcher *m, cc_match_paths *out);
// Every path to every found node, in pre-order (a node's own path before its children's,
// children in order). The number of paths can grow exponentially with depth.
int cc_match_get_all_paths(cc_node *root, cc_imatcher *m, cc_match_paths *out);
// The distinct nodes lying on some path to a found node (found nodes included). *out is
// cc_malloc'd, nodes borrowed from root.
int cc_match_get_all_circuits_in_paths(cc_node *root, cc_imatcher *m, cc_node ***out,
                                       int64_t *n_out);

// Whether any node is found, stopping at the first. The cache may serve many calls (rc's
// AnyFound keeps its cache): results are memoised per (node, state) across calls.
typedef struct cc_any_found cc_any_found;
cc_any_found *cc_any_found_new(void);
void cc_any_found_free(cc_any_found *af);
// 0 and *out, or -1 with the error of a step. af may be NULL: no cache kept (get's walk,
// stopping at the first found node).
int cc_any_found_run(cc_any_found *af, cc_node *root, cc_imatcher *m, int *out);
