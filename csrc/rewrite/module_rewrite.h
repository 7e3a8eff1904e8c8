// rc's rewrites of single Module nodes: eliminating trivial modules and dropping arguments the
// body no longer uses. Each _op form returns 0 with *out a new reference, or *out NULL when the
// rewrite does not apply; -1 with an error. Then the graph-wide module rewrites (inlining,
// fusing calls) and strip_names_and_tags.
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
int cc_module_remove_unused_inputs_op(cc_node *m, int add_suffix, int elim_no_input, cc_node **out);
// rc's deep_module_remove_unused_inputs: the above on every Module of c, bottom-up, and with
// elim_empty, cc_elim_empty_module first. New reference, or NULL.
cc_node *cc_deep_module_remove_unused_inputs(cc_node *c, int add_suffix, int elim_no_input,
                                             int elim_empty);

// rc's inline_single_callsite_modules: every Module whose ModuleSpec (body and arg specs) no
// other distinct Module of c shares is substituted, and every node above it rebuilt (rc's walk
// keeps the old node wherever the parent is not a Module). New reference, or NULL.
cc_node *cc_inline_single_callsite_modules(cc_node *c);
// rc's fuse_concat_modules: the n Modules (same ModuleSpec, batch rank 0 or 1) become one
// Module over the Concat of their batchable arguments (named name; NULL: automatic), split
// back along the batch axis, each replacing its module in c. New reference, or NULL with
// CC_E_PY_RUNTIME naming what does not fit.
cc_node *cc_fuse_concat_modules(cc_node *c, int n, cc_node *const *modules, const char *name);
// rc's strip_names_and_tags: Tags removed and every other node unnamed, except that named
// Arrays and Symbols (whose names matter) are wrapped in an unnamed Tag of the nil uuid.
// New reference, or NULL.
cc_node *cc_strip_names_and_tags(cc_node *c);
