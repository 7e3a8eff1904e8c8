// rc's diff_circuits: a readable text diff of two circuits, walking them in parallel and
// printing equal subtrees once, changed nodes with their children, and the rest in full.
#pragma once

#include "nodes/node.h"
#include "text/print.h"

#define CC_DIFF_NO_COLOR (-1)

typedef struct {
    cc_print_options print; // how subtrees are printed (bijection is always off)
    int require_child_count_same;
    int require_child_shapes_same;
    int require_name_same;
    int print_legend;
    // rc's CliColor: an index into rc's 14 terminal colours (Red 0, Green 1, Yellow 2, Blue 3,
    // Magenta 4, Cyan 5, White 6, ...), or CC_DIFF_NO_COLOR.
    int same_self_color;
    int same_color;
    int new_color;
    int removed_color;
} cc_diff_options;

// rc's defaults: PrintOptions() (shapes only where necessary, no depth limit), every check on
// but child shapes, legend on, Blue / none / Green / Red.
void cc_diff_options_default(cc_diff_options *o);
// The diff text (caller frees with cc_free), ending with a newline; NULL with an error.
char *cc_diff_circuits(cc_node *new_c, cc_node *old_c, const cc_diff_options *o);
