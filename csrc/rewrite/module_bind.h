// rc's Module construction by matchers (module_new_bind) and its inverse, the extraction of
// bound symbols into one outer Module (extract_symbols). Matchers select the symbols; the
// Modules are built and substituted by expand/.
#pragma once

#include <stdint.h>

#include "match/iterative.h"
#include "nodes/node.h"

// One binder of module_new_bind (rc's BindItem): all borrowed.
typedef struct {
    cc_imatcher *matcher; // must find exactly one node of the spec circuit, a Symbol
    cc_node *input;       // the argument bound to it
    uint8_t batchable, expandable, ban_non_symbolic_size_expand;
} cc_bind_item;

// rc's module_new_bind: a Module of spec_circuit binding each item's input to the Symbol its
// matcher finds. New reference, or NULL with CC_E_PY_RUNTIME (no match or several),
// CC_E_MODULE_BIND_EXPECTED_SYMBOL, a ModuleSpec check's error (all inputs used; unique names
// when check_unique_arg_names) or a Module construction error.
cc_node *cc_module_new_bind(cc_node *spec_circuit, int n, const cc_bind_item *items,
                            int check_unique_arg_names, const char *name);
