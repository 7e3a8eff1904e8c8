// rc's module_new_bind: a Module whose argument Symbols are found by matchers in its body.
// Matching is match/'s; construction and the ModuleSpec checks are expand/'s.
#include "rewrite/module_bind.h"

#include <string.h>

#include "expand/module.h"
#include "match/get.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"

// Appends "'name' Kind [shape]" (or "unnamed Kind [shape]"). 0, or -1 (no memory).
static int
append_node(cc_str *s, const cc_node *n)
{
    int rc = n->name != NULL ? cc_str_appendf(s, "'%s' ", n->name) : cc_str_append(s, "unnamed ");
    rc = rc < 0 ? rc : cc_str_appendf(s, "%s ", cc_kind_get_info(n->kind)->py_name);
    return rc < 0 ? rc : cc_shape_append(s, n->ndim, n->shape);
}

// The one Symbol item's matcher finds in spec (borrowed), or NULL with an error.
static cc_node *
bound_symbol(cc_node *spec, const cc_bind_item *item, int i)
{
    cc_node **found;
    int64_t n_found;
    if (cc_match_get(spec, item->matcher, &found, &n_found) < 0) {
        return NULL;
    }
    cc_node *out = NULL;
    cc_str s;
    cc_str_init(&s);
    int rc = cc_imatcher_describe(item->matcher, &s);
    rc = rc < 0 ? rc : cc_str_append(&s, " in spec circuit ");
    rc = rc < 0 ? rc : append_node(&s, spec);
    if (rc < 0) {
        cc_fail(CC_E_NO_MEMORY, "module_new_bind: no memory for a message");
    } else if (n_found != 1) {
        cc_str found_s;
        cc_str_init(&found_s);
        for (int64_t k = 0; rc == 0 && k < n_found && k < 8; k++) {
            rc = k ? cc_str_append(&found_s, ", ") : 0;
            rc = rc < 0 ? rc : append_node(&found_s, found[k]);
        }
        if (rc == 0 && n_found > 8) {
            rc = cc_str_appendf(&found_s, ", ... (%lld more)", (long long)(n_found - 8));
        }
        if (rc < 0) {
            cc_fail(CC_E_NO_MEMORY, "module_new_bind: no memory for a message");
        } else if (n_found == 0) {
            cc_fail(CC_E_PY_RUNTIME,
                    "failed to get unique for binder %d in bind: matcher=%s: found no matches!", i,
                    s.data);
        } else {
            cc_fail(CC_E_PY_RUNTIME,
                    "failed to get unique for binder %d in bind: matcher=%s: found %lld matches "
                    "which is > 1: %s",
                    i, s.data, (long long)n_found, found_s.data);
        }
        cc_str_clear(&found_s);
    } else if (found[0]->kind != CC_KIND_SYMBOL) {
        cc_str m;
        cc_str_init(&m);
        if (append_node(&m, found[0]) < 0) {
            cc_fail(CC_E_NO_MEMORY, "module_new_bind: no memory for a message");
        } else {
            cc_fail(CC_E_MODULE_BIND_EXPECTED_SYMBOL,
                    "expected to match symbol, matched_circuit=%s for binder %d, matcher=%s",
                    m.data, i, s.data);
        }
        cc_str_clear(&m);
    } else {
        out = found[0];
    }
    cc_str_clear(&s);
    cc_free(found);
    return out;
}

cc_node *
cc_module_new_bind(cc_node *spec_circuit, int n, const cc_bind_item *items,
                   int check_unique_arg_names, const char *name)
{
    size_t count = (size_t)(n > 0 ? n : 1);
    cc_module_arg_spec *specs = cc_malloc(count * sizeof(cc_module_arg_spec));
    cc_node **args = cc_malloc(count * sizeof(cc_node *));
    cc_node *out = NULL;
    if (specs == NULL || args == NULL) {
        goto done;
    }
    for (int i = 0; i < n; i++) {
        cc_node *sym = bound_symbol(spec_circuit, &items[i], i);
        if (sym == NULL) {
            goto done;
        }
        specs[i] = (cc_module_arg_spec){
            .symbol = sym,
            .batchable = items[i].batchable,
            .expandable = items[i].expandable,
            .ban_non_symbolic_size_expand = items[i].ban_non_symbolic_size_expand,
        };
        args[i] = items[i].input;
    }
    if (cc_module_spec_check_all_inputs_used(spec_circuit, n, specs) < 0 ||
        (check_unique_arg_names && cc_module_spec_check_unique_arg_names(n, specs) < 0)) {
        goto done;
    }
    out = cc_module_new(spec_circuit, n, specs, args, name);
done:
    cc_free(specs);
    cc_free(args);
    return out;
}
