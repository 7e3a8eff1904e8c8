// Text printer of circuits: rc's line format, one node per line, for repr()/str() and
// PrintOptions. Knows nodes through node.h and traversals through match/iterative.h; never
// evaluates and never prints itself.
#pragma once

#include <stdint.h>

#include "match/iterative.h"
#include "nodes/node.h"
#include "tensor/tensor.h"
#include "util/str.h"

// What a print asks of its caller, per node. Any hook may be NULL. Each returns 0, or -1 with
// an error recorded (CC_E_PYTHON keeps a Python exception), which ends the print.
typedef struct {
    void *ctx;
    // *out = the colour of n's line (taken modulo the 14 colours), or -1 for none.
    int (*color)(void *ctx, const cc_node *n, int *out);
    // Appends n's comments, each as " # text" (empty texts skipped).
    int (*comment)(void *ctx, const cc_node *n, cc_str *out);
    // A tensor a bijective line refers to by hash (an Array's value, an Index tensor); called
    // once per distinct hash, so a caller can save what the text needs.
    int (*tensor)(void *ctx, const uint8_t hash[32], const cc_tensor *t);
} cc_print_hooks;

// rc's PrintOptions.
typedef struct {
    // 1: the parseable form (quoted names, AD flags, tensor hashes).
    int bijection;
    // 1: shapes only on Scalar, Symbol, Array, Index and SetSymbolicShape lines; 0: every line.
    int shape_only_when_necessary;
    // Where printing stops, when traversal is NULL: rc's new_traversal(end_depth=E), so a node
    // at depth >= max(E - 1, 0) is printed but not expanded; -1 = unlimited.
    int end_depth;
    // rc's traversal (borrowed): a node's children are printed unless the state applied to it
    // finishes; children get the states it gives them.
    cc_imatcher *traversal;
    int arrows;                   // tree drawing with │ ├ └ ‣
    int leaves_on_top;            // lines reversed, elbows flipped
    int only_child_below;         // a single child on the same depth after a ▼ line
    int force_use_serial_numbers; // serial numbers on every node, named or not
    int number_leaves;            // a magenta counter comment on lines that end a branch
    int comment_arg_names;        // einsum operand labels, "Spec" on a Module's body
    int tensor_index_literal;     // Index tensors as list literals instead of their length
    int show_all_named_axes;      // shapes also on lines of nodes that have named axes
    // Circuits printed as the given identifier only (no line info, no children).
    int n_refs;
    cc_node *const *ref_nodes;
    const char *const *ref_idents;
    cc_print_hooks hooks;
} cc_print_options;

// rc's PrintOptions() defaults: bijection, shapes only when necessary, no limit, no hooks.
void cc_print_options_default(cc_print_options *o);

// rc's debug_default(): non-bijection, every shape shown, end depth from the environment
// variable RR_DEBUG_END_DEPTH (an integer, or "None" for unlimited; default 2, also used
// when the variable does not parse).
void cc_print_options_debug(cc_print_options *o);

// rc's validate: 0, or -1 with CC_E_PY_VALUE naming the knob bijection cannot go with.
int cc_print_options_validate(const cc_print_options *o);

// The text of circuits (borrowed), one node per line in depth-first pre-order, serial numbers
// and repeats shared across all n circuits, final newline stripped. Caller frees with cc_free.
// NULL with CC_E_NO_MEMORY, CC_E_PY_VALUE (invalid options), a payload's or a hook's error.
char *cc_print_repr(cc_node *const *circuits, int n, const cc_print_options *o);

// rc's repr_line_info and repr_extra_info of one node: " [shape] Variant extra" (with " AD" in
// bijection when autonaming is off), and the payload text alone. Hooks are not called.
char *cc_print_line_info(const cc_node *n, const cc_print_options *o);
char *cc_print_extra_info(const cc_node *n, const cc_print_options *o);
