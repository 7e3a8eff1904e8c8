// rc's ModulePusher and update_bindings_nested: Module bindings pushed down a traversal, each
// reached node wrapped in the modules that were above it (fused into one, or nested), and the
// namers and module-construction callbacks those rewrites are configured with. Knows nothing of
// Python: Python namers, callbacks and updates come in through the function pointers here.
#pragma once

#include <stdint.h>

#include "match/iterative.h"
#include "nodes/node.h"

typedef enum {
    CC_NAMER_DEFAULT,         // rc's default_nested_module_namer(bind_name)
    CC_NAMER_UPDATE_BINDINGS, // rc's default_update_bindings_nested_namer(...)
    CC_NAMER_CALLBACK,        // call
} cc_nested_namer_kind;

// rc's NestedModuleNamer: (base circuit, running circuit, modules inner to outer, pushed
// module count or none) -> name or none.
typedef struct {
    cc_nested_namer_kind kind;
    const char *bind_name; // DEFAULT, UPDATE_BINDINGS; borrowed
    int short_if_not_leaf; // UPDATE_BINDINGS
    int keep_name_if_not_leaf;
    // CALLBACK: 0 with *out a cc_malloc'd name or NULL (no name); -1 with an error recorded
    // (CC_E_PYTHON keeps the Python exception). pushed_count < 0 means none.
    int (*call)(void *ctx, cc_node *base, cc_node *running, int n_modules, cc_node *const *modules,
                int64_t pushed_count, char **out);
    void *ctx;
} cc_nested_namer;

// The name nm gives (modules inner to outer; pushed_count < 0: none). 0 with *out cc_malloc'd or
// NULL, or -1 with an error.
int cc_nested_namer_call(const cc_nested_namer *nm, cc_node *base, cc_node *running, int n_modules,
                         cc_node *const *modules, int64_t pushed_count, char **out);

typedef enum {
    CC_MODULE_CB_NOOP,          // rc's ModulePusher.noop_callback
    CC_MODULE_CB_REMOVE_UNUSED, // rc's remove_unused_callback(add_suffix, elim_no_input)
    CC_MODULE_CB_ELIM_NO_INPUT, // rc's elim_no_input_modules_callback
    CC_MODULE_CB_CALLBACK,      // call
} cc_module_cb_kind;

// rc's ModuleConstructCallback: (module built, modules applied inner to outer, pushed module
// count) -> the circuit to use.
typedef struct {
    cc_module_cb_kind kind;
    int add_suffix;    // REMOVE_UNUSED
    int elim_no_input; // REMOVE_UNUSED
    // CALLBACK: new reference, or NULL with an error recorded.
    cc_node *(*call)(void *ctx, cc_node *m, int n_modules, cc_node *const *modules,
                     int64_t pushed_count);
    void *ctx;
} cc_module_construct_cb;

// New reference to what cb makes of the Module m, or NULL with an error.
cc_node *cc_module_construct_cb_call(const cc_module_construct_cb *cb, cc_node *m, int n_modules,
                                     cc_node *const *modules, int64_t pushed_count);

typedef struct {
    int flatten_modules;
    int bind_encountered_symbols;
    cc_module_construct_cb callback;
    cc_nested_namer namer;
} cc_module_pusher;

// rc's ModulePusher.push_down_modules: every Module the traversal passes (and skip_module does
// not find) is pushed to where the traversal ends. New reference, or NULL with
// CC_E_PUSH_DOWN_MODULE_*, a namer's, a callback's or a construction error.
cc_node *cc_push_down_modules(const cc_module_pusher *p, cc_node *circuit, cc_imatcher *traversal,
                              cc_imatcher *skip_module);
// rc's get_push_down_modules: each node get finds, wrapped in the modules above it. *out
// (cc_malloc'd, new references, distinct by hash) and *n_out. 0, or -1 with an error.
int cc_get_push_down_modules(const cc_module_pusher *p, cc_node *circuit, cc_imatcher *get,
                             cc_imatcher *skip_module, cc_node ***out, int64_t *n_out);

// rc's MaybeUpdate: 0 with *out a new reference or NULL (no update), -1 with an error.
typedef struct {
    int (*run)(void *ctx, cc_node *n, cc_node **out);
    void *ctx;
} cc_maybe_update;

// rc's update_bindings_nested: at each node matcher finds, the bindings of the modules above
// it that update changes (found top-down in the bound arguments) are re-bound there by a new
// Module named by namer; the original modules stay. New reference, or NULL with an error.
cc_node *cc_update_bindings_nested(cc_node *circuit, const cc_maybe_update *update,
                                   cc_imatcher *matcher, const cc_nested_namer *namer,
                                   cc_imatcher *skip_module, int run_update_on_new_spec_circuits,
                                   int flatten_modules);
