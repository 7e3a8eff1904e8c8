// Update: rebuild a circuit so that every node an iterative matcher finds is replaced by a
// transform of it (post-order: the transform sees the updated children). Only nodes on the
// visited paths that changed are rebuilt; everything else is shared with the input.
#pragma once

#include "match/iterative.h"
#include "nodes/node.h"

// The replacement applied to found nodes.
typedef struct {
    // New reference, or NULL with an error recorded (CC_E_PYTHON keeps the Python exception).
    cc_node *(*run)(void *ctx, cc_node *n);
    void *ctx;
    int identity; // the identity transform: run is not called
} cc_transform;

typedef struct {
    int cache_transform; // the transform runs once per distinct input (by hash)
    int cache_update;    // results memoised per (node hash, state)
} cc_update_options;

// New reference to the updated root, or NULL with an error: a step's, the transform's, or a
// rebuild's (kind kept, message prefixed with the parent being rebuilt and the changed child).
// *any_found: whether any node was found.
cc_node *cc_match_update(cc_node *root, cc_imatcher *m, const cc_transform *transform,
                         const cc_update_options *options, int *any_found);
