// Private to rewrite/module_pusher.c and rewrite/module_update_bindings.c: update_bindings_nested's
// module callback, which the pusher's walk calls in place of a ModuleConstructCallback.
#pragma once

#include "rewrite/module_pusher.h"
#include "util/hmap.h"
#include "util/vec.h"

typedef struct {
    const cc_maybe_update *update; // borrowed
    const cc_nested_namer *namer;  // borrowed
    int run_update_on_new_spec_circuits;
    int is_flatten;
    cc_hmap memo;   // node hash -> updated node, or a marker for "no update below"
    cc_ptrvec held; // the updated nodes of memo, owned
} cc_update_bindings;

void cc_update_bindings_init(cc_update_bindings *ub, const cc_maybe_update *update,
                             const cc_nested_namer *namer, int run_update_on_new_spec_circuits,
                             int is_flatten);
void cc_update_bindings_clear(cc_update_bindings *ub);
// rc's ModuleConstructUpdateBindings::call on the Module m the pusher built (applied: the
// modules pushed, inner to outer): m itself until every pushed module is applied, then the
// nesting stripped to the bindings update changes (and those carrying a symbol an outer level
// re-binds), each level that binds nothing eliminated. New reference, or NULL (CC_E_PY_VALUE for
// batched new bindings).
cc_node *cc_update_bindings_call(cc_update_bindings *ub, cc_node *m, int n_applied,
                                 cc_node *const *applied, int overall);
