// Private to expand/: the ModuleSpec checks (spec.c) shared by Module construction
// (module.c) and substitution (substitute.c), and the memoised bottom-up map over a graph
// (substitute.c) that the Module operations (module_ops.c) reuse.
#pragma once

#include "expand/module.h"

// rc's check_no_free_bound_by_nested: no argument may carry a free symbol that a Module
// nested in body (on the path to the symbol it replaces) binds. 0, or -1 with
// CC_E_SUBSTITUTION_CIRCUIT_HAS_FREE_SYMS_BOUND_BY_NESTED_MODULE.
int cc_module_check_no_free_bound_by_nested(cc_node *body, int n, const cc_module_arg_spec *specs,
                                            cc_node *const *args);
// "'name'" or "(unnamed)" into buf, for messages.
const char *cc_module_quote_name(const cc_node *n, char *buf, size_t cap);
