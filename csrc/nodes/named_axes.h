// Named axes (rc's NamedAxes): axis names a node carries for printing, part of its hash. A
// node's names are those set on it, else those its children's names give through the kind's
// child_axis_map. Knows nothing of Python or evaluation.
#pragma once

#include "nodes/node.h"

// A block of n (axis, name) pairs sorted by axis; a later pair for an axis replaces an earlier
// one (rc's map insert). NULL when n is 0 (no names), or NULL with CC_E_NO_MEMORY (*failed set).
cc_named_axes *cc_named_axes_new(int n, const int *axes, const char *const *names, int *failed);
// A copy (NULL for NULL), or NULL with CC_E_NO_MEMORY (*failed set).
cc_named_axes *cc_named_axes_copy(const cc_named_axes *a, int *failed);
// 1 when a and b hold the same pairs (NULL: none).
int cc_named_axes_equal(const cc_named_axes *a, const cc_named_axes *b);
// The name of axis, or NULL.
const char *cc_named_axes_get(const cc_named_axes *a, int axis);

// 0 when no name holds whitespace, ':', '[' or ']'; else -1 with
// CC_E_NAMED_AXES_FORBIDDEN_CHARACTER.
int cc_named_axes_check_names(int n, const char *const *names);

// rc's child_axis_map of child i: out[j] (j < child i's rank) is n's axis that child axis j
// becomes, or -1. 0, or -1 with an error recorded.
int cc_node_child_axis_map(const cc_node *n, int i, int *out);

// The names n's children give n through its kind's child_axis_map (n's payload and children
// set), in *out (NULL when none). 0, or -1 with an error recorded.
int cc_named_axes_from_children(const cc_node *n, cc_named_axes **out);

// rc's set_named_axes: n with these axis names; with none, the names its children give it.
// New reference, or NULL with CC_E_NAMED_AXES_FORBIDDEN_CHARACTER or
// CC_E_CONSTRUCT_NAMED_AXIS_ABOVE_RANK.
cc_node *cc_node_set_named_axes(const cc_node *n, int count, const int *axes,
                                const char *const *names);

// rc's propagate_named_axes: names the axes of root, and every axis of a descendant that maps
// onto a named axis (child_axis_map read backwards), merged over the names each node has.
// abort_on_branch: names stop at an Einsum that repeats a label within one operand. New
// reference, or NULL with an error recorded.
cc_node *cc_node_propagate_named_axes(cc_node *root, int count, const int *axes,
                                      const char *const *names, int abort_on_branch);

// As cc_node_propagate_named_axes, but every name the circuit had is dropped first (rc's
// deep_strip_axis_names then propagate_named_axes): the result names only what these reach.
cc_node *cc_node_name_axes_afresh(cc_node *root, int count, const int *axes,
                                  const char *const *names, int abort_on_branch);
