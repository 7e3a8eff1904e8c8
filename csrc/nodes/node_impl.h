// Shared by the per-kind files of nodes/: the kind contract (nodes/kind.h) and the common
// steps of construction (allocate, then finish: flags, name, hash).
#pragma once

#include <stddef.h>

#include "nodes/kind.h"
#include "nodes/node.h"
#include "util/blake3.h"

// Feeds every child's hash in order (the common tail of hash_non_name).
void cc_node_hash_children(const cc_node *n, cc_blake3 *h);

// A zeroed node of kind with children retained, shape copied, dtype merged from the
// children (CC_E_MISC_INPUT_CHILDREN_MULTIPLE_DTYPES on conflict), flags from children.
// NULL on error.
cc_node *cc_node_alloc(cc_kind kind, int n_children, cc_node *const *children, int ndim,
                       const int64_t *shape);
// As cc_node_alloc, but the node's dtype is the given one (a cc_dtype, or -1) instead of the
// merge of the children's: for specs that decide it (rc's get_device_dtype_override), e.g.
// gen_index takes x's dtype while its index child is int64. NULL on error.
cc_node *cc_node_alloc_with_dtype(cc_kind kind, int n_children, cc_node *const *children, int ndim,
                                  const int64_t *shape, int dtype);
// Completes a leaf m copied from n (payload set by the kind's rebuild): n's dtype and flags,
// then cc_node_finish with name. Returns m, or NULL after freeing m on error.
cc_node *cc_node_finish_leaf_copy(cc_node *m, const cc_node *n, const char *name);
// Completes n once its payload is set: name (rc's autoname when name is NULL), hash.
// Returns n, or NULL after freeing n on error.
cc_node *cc_node_finish(cc_node *n, const char *name);
// rc's update of a node's named axes: a fresh copy of n (same name and autoname flag) whose
// named axes are a copy of axes (NULL: those its children give). New reference, or NULL with
// CC_E_CONSTRUCT_NAMED_AXIS_ABOVE_RANK.
cc_node *cc_node_copy_with_named_axes(const cc_node *n, const cc_named_axes *axes);
// Frees a node whose refcount reached zero or that never finished construction.
void cc_node_free_one(cc_node *n);
// "Kind 'name'" (or "Kind" when name is NULL or CC_NO_NAME) in buf, for error messages about
// a node being built; returns buf.
const char *cc_node_describe(cc_kind kind, const char *name, char *buf, size_t cap);
