// Modules (rc's ModuleSpec, ModuleArgSpec, Module): a body circuit whose argument Symbols
// are bound to argument circuits, and β-reduction (substitution) of such bindings, with
// batching and symbolic sizes resolved by expansion (expand/expand.h).
#pragma once

#include <stdint.h>

#include "nodes/node.h"

struct cc_module_arg_spec {
    cc_node *symbol;                      // a Symbol; ownership stated by each function
    uint8_t batchable;                    // the argument may carry extra leading (batch) axes
    uint8_t expandable;                   // its trailing sizes may differ from the symbol's
    uint8_t ban_non_symbolic_size_expand; // ...only where the symbol's size is symbolic
};

// Releases s->symbol (NULL is fine) and clears it.
void cc_module_arg_spec_clear(cc_module_arg_spec *s);

// --- ModuleSpec checks (specs and body borrowed) -------------------------------------------

// rc's are_args_used: out[i] = 1 when spec i's symbol is free in body and no later spec
// names the same symbol (the rightmost binding wins).
void cc_module_spec_are_args_used(cc_node *body, int n, const cc_module_arg_spec *specs,
                                  uint8_t *out);
// CC_E_CONSTRUCT_MODULE_SOME_ARGS_NOT_PRESENT naming the unused symbols; 0 when all are used.
int cc_module_spec_check_all_inputs_used(cc_node *body, int n, const cc_module_arg_spec *specs);
// CC_E_CONSTRUCT_MODULE_SOME_ARGS_NAMED_NONE or CC_E_CONSTRUCT_MODULE_ARGS_DUP_NAMES; else 0.
int cc_module_spec_check_unique_arg_names(int n, const cc_module_arg_spec *specs);

// --- Module nodes ---------------------------------------------------------------------------

// New Module binding args[i] to specs[i].symbol in body (all borrowed; the node takes its own
// references). Shape, flags and dtype are those of the substituted body; the free symbols are
// body's unbound ones then the args'. NULL with CC_E_EXPAND_MODULE_* (argument shapes),
// CC_E_SUBSTITUTION_*, CC_E_MISC_INPUT_NOT_BROADCASTABLE (batch shapes) or a construction
// error of a node re-derived during expansion, each naming the module.
cc_node *cc_module_new(cc_node *body, int n, const cc_module_arg_spec *specs, cc_node *const *args,
                       const char *name);
// rc's aligned_batch_shape: the argument batch shapes (axes in front of each symbol's rank)
// right-aligned. 0, or -1 with CC_E_MISC_INPUT_NOT_BROADCASTABLE.
int cc_module_aligned_batch_shape(const cc_node *m, int *ndim, int64_t *shape);

// --- Substitution -----------------------------------------------------------------------------

// rc's ModuleSpec::substitute: body with each spec symbol replaced by its argument and every
// node above re-derived by expansion; nodes on replaced paths (named, not Symbols) are renamed
// prefix + name + suffix when either is non-NULL. New reference, or NULL.
cc_node *cc_module_spec_substitute(cc_node *body, int n, const cc_module_arg_spec *specs,
                                   cc_node *const *args, const char *prefix, const char *suffix);
// rc's Module::substitute: as above, then the result renamed to the module's name unless it
// is the body itself or the body is a leaf.
cc_node *cc_module_substitute(const cc_node *m, const char *prefix, const char *suffix);
// Every Module of c substituted, bottom-up. New reference, or NULL.
cc_node *cc_substitute_all_modules(cc_node *c);
// rc's ModuleSpec::resize: symbols of the given shapes (same uuid and name) and the body
// substituted with them. *out_body and out_specs[i].symbol are new references. 0, or -1.
int cc_module_spec_resize(cc_node *body, int n, const cc_module_arg_spec *specs, const int *ndims,
                          const int64_t *const *shapes, cc_node **out_body,
                          cc_module_arg_spec *out_specs);
// The same module with each symbol given its argument's full shape (value unchanged).
cc_node *cc_module_conform_to_input_shapes(const cc_node *m);
// The same module with the last `dims` batch axes (all when dims < 0) moved into the symbols.
// CC_E_PY_VALUE when dims exceeds the batch rank.
cc_node *cc_module_conform_to_input_batch_shape(const cc_node *m, int dims);
// conform_to_input_shapes on every Module, pre-order. New reference, or NULL.
cc_node *cc_conform_all_modules(cc_node *c);
// rc's ModuleSpec::new_extract: each node of circuit equal to subs[i] (pre-order, not looked
// into further) becomes a Symbol of its shape with proposed[i]'s uuid and name (else the
// node's name) and flags. out_specs (room for n; symbols new references) holds the specs in
// order, missing ones dropped unless check_all_inputs_used, which makes a missing one
// CC_E_CONSTRUCT_MODULE_EXTRACT_NOT_PRESENT. *out_body new reference. 0, or -1.
int cc_module_spec_new_extract(cc_node *circuit, int n, cc_node *const *subs,
                               const cc_module_arg_spec *proposed, int check_all_inputs_used,
                               cc_node **out_body, cc_module_arg_spec *out_specs, int *n_out);
// rc's ModuleSpec::rename_on_replaced_path: every named node of body above a spec symbol
// (through paths where no nested Module rebinds it) renamed prefix + name + suffix; the
// symbols themselves keep their names. New reference, or NULL.
cc_node *cc_module_spec_rename_on_replaced_path(cc_node *body, int n,
                                                const cc_module_arg_spec *specs, const char *prefix,
                                                const char *suffix);
