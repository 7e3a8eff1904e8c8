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

// How extract_symbols runs (rc's arguments of the same names).
typedef struct {
    int use_elim_no_input_modules; // Modules left without arguments become their bodies
    int conform_batch_if_needed;   // batched arguments of extracted symbols are conformed first
    cc_imatcher *traversal;        // borrowed; NULL: every node is visited
} cc_extract_options;

// rc's extract_symbols: every Module binding one of the n symbols (borrowed) loses that
// argument, and one outer Module named as circuit binds each symbol once (ordered by symbol
// name, then hash) over the result. New reference, or NULL with CC_E_EXTRACT_SYMBOLS_*
// (batched input, inconsistent bindings or flags, a bound input using an outer module's
// symbols) or a traversal's error.
cc_node *cc_extract_symbols(cc_node *circuit, int n, cc_node *const *symbols,
                            const cc_extract_options *o);
// rc's extract_symbols_get: the symbols are what get finds in circuit
// (CC_E_EXTRACT_SYMBOLS_GET_FOUND_NON_SYMBOL when one is not a Symbol).
cc_node *cc_extract_symbols_get(cc_node *circuit, cc_imatcher *get, const cc_extract_options *o);
