// rc's rewrites of single Module nodes: eliminating trivial modules and dropping arguments the
// body no longer uses. Each _op form returns 0 with *out a new reference, or *out NULL when the
// rewrite does not apply; -1 with an error.
#pragma once

#include "nodes/node.h"

// rc's elim_empty_module: a module whose body is a single node (no children) is substituted.
int cc_elim_empty_module(cc_node *m, cc_node **out);
// rc's elim_no_input_module: a module binding no arguments is its body.
int cc_elim_no_input_module(cc_node *m, cc_node **out);
// rc's module_remove_unused_inputs: the module without the arguments its body does not use
// (cc_module_spec_are_args_used), renamed "<name> rem_unused" when add_suffix; batch axes that
// only dropped arguments carried are put back by a Rearrange named as the module; with
// elim_no_input, a module left with no argument becomes its body. *out NULL when every argument
// is used and (without elim_no_input, or with arguments) nothing changes.
int cc_module_remove_unused_inputs_op(cc_node *m, int add_suffix, int elim_no_input,
                                      cc_node **out);
// rc's deep_module_remove_unused_inputs: the above on every Module of c, bottom-up, and with
// elim_empty, cc_elim_empty_module first. New reference, or NULL.
cc_node *cc_deep_module_remove_unused_inputs(cc_node *c, int add_suffix, int elim_no_input,
                                             int elim_empty);
