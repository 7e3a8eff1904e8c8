// Text printer of circuits: rc's line format, one node per line, for repr()/str() and
// PrintOptions. Knows nodes only through node.h; never evaluates and never prints itself.
#pragma once

#include "nodes/node.h"

// rc's PrintOptions, the knobs implemented so far.
typedef struct {
    // 1: the parseable form (quoted names, tensor hashes). Not implemented yet: must be 0.
    int bijection;
    // 1: shapes only on Scalar, Symbol, Array and Index lines; 0: on every line.
    int shape_only_when_necessary;
    // rc's traversal new_traversal(end_depth=E): a node at depth >= max(E - 1, 0) is printed
    // but not expanded (" ..." when it has children); -1 = unlimited.
    int end_depth;
} cc_print_options;

// rc's debug_default(): non-bijection, every shape shown, end depth from the environment
// variable RR_DEBUG_END_DEPTH (an integer, or "None" for unlimited; default 2, also used
// when the variable does not parse).
void cc_print_options_debug(cc_print_options *o);

// The text of circuits (borrowed), one node per line in depth-first pre-order, serial numbers
// and repeats shared across all n circuits, final newline stripped. Caller frees with cc_free.
// NULL with CC_E_NO_MEMORY, CC_E_PY_NOT_IMPLEMENTED (bijection) or a payload's error.
char *cc_print_repr(cc_node *const *circuits, int n, const cc_print_options *o);
