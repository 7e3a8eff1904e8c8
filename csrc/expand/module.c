// Module: the node kind (children [body, *args], arg specs as payload) and its construction
// (shape, flags and dtype from the substituted body; free symbols by hand, as rc). Hash: per arg
// spec its three flags and the symbol's hash, then the children's hashes (rc's module.rs).
#include "expand/module.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expand/module_impl.h"
#include "nodes/expand_kind.h"
#include "nodes/named_axes.h"
#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
#include "nodes/shape.h"
#include "nodes/symbol_set.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/vec.h"

static void
module_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    for (int j = 0; j < n->n_children - 1; j++) {
        const cc_module_arg_spec *s = &n->u.module.arg_specs[j];
        uint8_t flags[3] = {s->batchable != 0, s->expandable != 0,
                            s->ban_non_symbolic_size_expand != 0};
        cc_blake3_update(h, flags, 3);
        cc_blake3_update(h, s->symbol->hash, 32);
    }
    cc_node_hash_children(n, h);
}

static void
module_free_payload(cc_node *n)
{
    if (n->u.module.arg_specs == NULL) {
        return;
    }
    for (int j = 0; j < n->n_children - 1; j++) {
        cc_module_arg_spec_clear(&n->u.module.arg_specs[j]);
    }
    cc_free(n->u.module.arg_specs);
    n->u.module.arg_specs = NULL;
}

static cc_node *module_build(cc_node *body, int n, const cc_module_arg_spec *specs,
                             cc_node *const *args, const char *name, const cc_node *info_from);

static cc_node *
module_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    // Same children: the substituted body is the same, so its information is reused.
    int same = 1;
    for (int i = 0; i < n->n_children && same; i++) {
        same = children[i] == n->children[i];
    }
    return module_build(children[0], n->n_children - 1, n->u.module.arg_specs, children + 1, name,
                        same ? n : NULL);
}

// --- construction -----------------------------------------------------------------------------

static int
set_module_free_symbols(cc_node *m, cc_node *body, int n, const cc_module_arg_spec *specs,
                        cc_node *const *args)
{
    cc_node **body_syms;
    int n_body;
    if (cc_node_free_symbol_list(body, &body_syms, &n_body) < 0) {
        return -1;
    }
    int total = n_body;
    for (int j = 0; j < n; j++) {
        total += cc_kind_has(args[j]->kind, CC_FREE_SYMBOL)
                     ? 1
                     : (args[j]->free_symbols ? args[j]->free_symbols->n : 0);
    }
    cc_node **all = cc_malloc((size_t)(total > 0 ? total : 1) * sizeof(cc_node *));
    if (all == NULL) {
        cc_free(body_syms);
        return -1;
    }
    int k = 0;
    for (int i = 0; i < n_body; i++) {
        int bound = 0;
        for (int j = 0; j < n && !bound; j++) {
            bound = memcmp(specs[j].symbol->hash, body_syms[i]->hash, 32) == 0;
        }
        if (!bound) {
            all[k++] = body_syms[i];
        }
    }
    cc_free(body_syms);
    for (int j = 0; j < n; j++) {
        if (cc_kind_has(args[j]->kind, CC_FREE_SYMBOL)) {
            all[k++] = args[j];
        } else if (args[j]->free_symbols != NULL) {
            memcpy(all + k, args[j]->free_symbols->items,
                   (size_t)args[j]->free_symbols->n * sizeof(cc_node *));
            k += args[j]->free_symbols->n;
        }
    }
    cc_symbol_set_decref(m->free_symbols);
    m->free_symbols = NULL;
    int rc = cc_symbol_set_new(k, all, &m->free_symbols);
    cc_free(all);
    return rc;
}

// The node with children [body, *args]; shape, flags and dtype from info_from when given (a
// rebuild over the same children), else from the substitution.
static cc_node *
module_build(cc_node *body, int n, const cc_module_arg_spec *specs, cc_node *const *args,
             const char *name, const cc_node *info_from)
{
    char what[200];
    cc_node_describe(CC_KIND_MODULE, name, what, sizeof(what));
    for (int j = 0; j < n; j++) {
        if (specs[j].symbol == NULL || !cc_kind_has(specs[j].symbol->kind, CC_FREE_SYMBOL)) {
            return cc_fail_null(CC_E_CONSTRUCT_MODULE_EXPECTED_SYMBOL,
                                "%s: arg spec %d must hold a Symbol", what, j);
        }
    }
    cc_node *expanded = NULL;
    if (info_from == NULL) {
        if (cc_module_check_no_free_bound_by_nested(body, n, specs, args) < 0) {
            cc_error_prefix("%s: module construction failed because substitution isn't valid "
                            "(free sym bound by nested)",
                            what);
            return NULL;
        }
        cc_node *flat = cc_substitute_all_modules(body);
        if (flat == NULL) {
            return NULL;
        }
        expanded = cc_module_spec_substitute(flat, n, specs, args, NULL, NULL);
        cc_node_decref(flat);
        if (expanded == NULL) {
            cc_error_prefix("%s: module construction failed on substitute", what);
            return NULL;
        }
        info_from = expanded;
    }
    cc_node **children = cc_malloc((size_t)(n + 1) * sizeof(cc_node *));
    if (children == NULL) {
        cc_node_decref(expanded);
        return NULL;
    }
    children[0] = body;
    memcpy(children + 1, args, (size_t)n * sizeof(cc_node *));
    cc_node *m = cc_node_alloc_with_dtype(CC_KIND_MODULE, n + 1, children, info_from->ndim,
                                          info_from->shape, info_from->dtype);
    cc_free(children);
    if (m == NULL) {
        cc_node_decref(expanded);
        return NULL;
    }
    m->is_explicitly_computable = info_from->is_explicitly_computable;
    m->is_constant = info_from->is_constant;
    m->can_be_sampled = info_from->can_be_sampled;
    m->use_autoname = info_from->use_autoname;
    cc_node_decref(expanded);
    m->u.module.arg_specs = cc_calloc((size_t)(n > 0 ? n : 1), sizeof(cc_module_arg_spec));
    if (m->u.module.arg_specs == NULL || set_module_free_symbols(m, body, n, specs, args) < 0) {
        cc_node_free_one(m);
        return NULL;
    }
    for (int j = 0; j < n; j++) {
        m->u.module.arg_specs[j] = specs[j];
        cc_node_incref(specs[j].symbol);
    }
    return cc_node_finish(m, name);
}

cc_node *
cc_module_new(cc_node *body, int n, const cc_module_arg_spec *specs, cc_node *const *args,
              const char *name)
{
    return module_build(body, n, specs, args, name, NULL);
}

int
cc_module_aligned_batch_shape(const cc_node *m, int *ndim, int64_t *shape)
{
    int n = m->n_children - 1;
    int *ndims = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    const int64_t **shapes = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t *));
    int rc = -1;
    if (ndims != NULL && shapes != NULL) {
        for (int j = 0; j < n; j++) {
            const cc_node *arg = m->children[1 + j];
            ndims[j] = arg->ndim - m->u.module.arg_specs[j].symbol->ndim;
            ndims[j] = ndims[j] > 0 ? ndims[j] : 0;
            shapes[j] = arg->shape;
        }
        rc = cc_shape_right_align(n, ndims, shapes, ndim, shape);
    }
    cc_free(ndims);
    cc_free(shapes);
    return rc;
}

// --- Module expansion (rc's Module arm of expand_node) -------------------------------------

// The module's args are re-bound; batch axes that would land between an argument's old batch
// axes and its symbol axes are moved into the symbols (the body is re-expanded with grown
// symbols) and moved back out of the result by a permutation.
static cc_node *
module_expand(const cc_expand_call *e)
{
    cc_node **xs = e->xs;
    const cc_node *c = e->c;
    int nargs = e->n - 1;
    const cc_module_arg_spec *specs = c->u.module.arg_specs;
    cc_node *body_old = c->children[0];
    if (nargs == 0) {
        return cc_module_new(e->inputs[0], 0, NULL, NULL, c->name);
    }
    int cur[CC_MAX_NDIM + 1];
    int *cur_rank = nargs <= CC_MAX_NDIM ? cur : cc_malloc((size_t)nargs * sizeof(int));
    cc_module_arg_spec *new_specs = cc_calloc((size_t)nargs, sizeof(cc_module_arg_spec));
    cc_node **repl_keys = cc_calloc((size_t)nargs, sizeof(cc_node *));
    cc_node **repl_values = cc_calloc((size_t)nargs, sizeof(cc_node *));
    cc_node *body = NULL, *module = NULL, *out = NULL;
    cc_node **args = xs + 1; // owned references in xs, released by the caller
    int n_repl = 0;
    if (cur_rank == NULL || new_specs == NULL || repl_keys == NULL || repl_values == NULL) {
        goto done;
    }
    int cur_max = 0;
    for (int j = 0; j < nargs; j++) {
        cur_rank[j] = c->children[1 + j]->ndim - specs[j].symbol->ndim;
        cur_max = cur_rank[j] > cur_max ? cur_rank[j] : cur_max;
    }
    const int *bo = e->br + 1;
    // Pin the old batch axes, which may be symbolic in some arguments and concrete in others.
    int64_t old_batch[CC_MAX_NDIM];
    int64_t *sizes = cc_malloc((size_t)nargs * sizeof(int64_t));
    if (sizes == NULL) {
        goto done;
    }
    for (int i = 0; i < cur_max; i++) {
        int m = 0;
        for (int j = 0; j < nargs; j++) {
            int from_end = cur_max - i;
            if (cur_rank[j] >= from_end) {
                sizes[m++] = e->inputs[1 + j]->shape[bo[j] + cur_rank[j] - from_end];
            }
        }
        old_batch[i] = cc_expand_find_non_symbolic(m, sizes);
    }
    cc_free(sizes);
    for (int j = 0; j < nargs; j++) {
        cc_node *inp = e->inputs[1 + j];
        int64_t want[CC_MAX_NDIM];
        for (int k = 0; k < inp->ndim; k++) {
            int in_old_batch = k >= bo[j] && k < bo[j] + cur_rank[j];
            want[k] = in_old_batch ? old_batch[cur_max - cur_rank[j] + (k - bo[j])] : -1;
        }
        args[j] = cc_set_symbolic_shape_some_set_and_symbolic_neq(inp, want, NULL);
        if (args[j] == NULL) {
            cc_error_prefix("%s: failed to set symbolic sizes in expand module", e->what);
            goto done;
        }
    }
    int push = e->br[0];
    for (int j = 0; j < nargs; j++) {
        int want = cur_rank[j] == cur_max ? 0 : bo[j];
        push = want > push ? want : push;
    }
    if (push == 0) {
        module = cc_module_new(e->inputs[0], nargs, specs, args, c->name);
        out = module;
        module = NULL;
        goto done;
    }
    for (int j = 0; j < nargs; j++) {
        const cc_module_arg_spec *s = &specs[j];
        cc_node *node = args[j];
        int extra = push < bo[j] ? push : bo[j];
        int64_t shape[CC_MAX_NDIM];
        int ndim = extra + s->symbol->ndim;
        if (ndim > CC_MAX_NDIM) {
            cc_fail(CC_E_CONSTRUCT_NOT_SUPPORTED_YET, "%s: symbol rank %d passes the maximum %d",
                    e->what, ndim, CC_MAX_NDIM);
            goto done;
        }
        memcpy(shape, node->shape + bo[j] - extra, (size_t)extra * sizeof(int64_t));
        memcpy(shape + extra, s->symbol->shape, (size_t)s->symbol->ndim * sizeof(int64_t));
        new_specs[j] = *s;
        new_specs[j].symbol = cc_symbol_new(ndim, shape, s->symbol->u.symbol.uuid,
                                            s->symbol->name ? s->symbol->name : CC_NO_NAME);
        if (new_specs[j].symbol == NULL) {
            goto done;
        }
        if (cur_rank[j] > 0 && extra > 0) {
            int rank = node->ndim, upto = rank - s->symbol->ndim;
            int perm[CC_MAX_NDIM], p = 0;
            for (int k = 0; k < bo[j] - extra; k++) {
                perm[p++] = k;
            }
            for (int k = bo[j]; k < upto; k++) {
                perm[p++] = k;
            }
            for (int k = bo[j] - extra; k < bo[j]; k++) {
                perm[p++] = k;
            }
            for (int k = upto; k < rank; k++) {
                perm[p++] = k;
            }
            char *name;
            if (cc_expand_suffixed(node->name, " shift_batch", &name) < 0) {
                goto done;
            }
            cc_node *shifted = cc_expand_permute(node, perm, name);
            cc_free(name);
            if (shifted == NULL) {
                goto done;
            }
            cc_node_decref(args[j]);
            args[j] = shifted;
        }
        if (memcmp(new_specs[j].symbol->hash, s->symbol->hash, 32) != 0) {
            repl_keys[n_repl] = s->symbol;
            repl_values[n_repl] = new_specs[j].symbol;
            n_repl++;
        }
    }
    // The body again, under its map plus the grown symbols.
    body = e->rerun_body(e, body_old, n_repl, repl_keys, repl_values);
    if (body == NULL) {
        cc_error_prefix("%s: failed to rerun batching for the body with expanded symbols", e->what);
        goto done;
    }
    if (body->ndim != push + body_old->ndim) {
        cc_fail(CC_E_PY_RUNTIME, "%s: the re-expanded body has rank %d, expected %d + %d", e->what,
                body->ndim, push, body_old->ndim);
        goto done;
    }
    module = cc_module_new(body, nargs, new_specs, args, c->name);
    if (module == NULL) {
        goto done;
    }
    if (cur_max == 0) {
        out = module;
        module = NULL;
        goto done;
    }
    {
        // Move the axes pushed into the symbols back in front of the old batch axes.
        int orig = body_old->ndim;
        int via_mod = e->batch_rank - push;
        int total = via_mod + cur_max;
        int end_all = total + push;
        int perm[CC_MAX_NDIM], p = 0;
        if (end_all + orig != module->ndim || via_mod < 0) {
            cc_fail(CC_E_PY_RUNTIME, "%s: batched module has rank %d, expected %d", e->what,
                    module->ndim, end_all + orig);
            goto done;
        }
        for (int k = 0; k < via_mod; k++) {
            perm[p++] = k;
        }
        for (int k = total; k < end_all; k++) {
            perm[p++] = k;
        }
        for (int k = via_mod; k < total; k++) {
            perm[p++] = k;
        }
        for (int k = end_all; k < end_all + orig; k++) {
            perm[p++] = k;
        }
        char *shift_name;
        if (cc_expand_suffixed(module->name, " shift_batch", &shift_name) < 0) {
            goto done;
        }
        cc_node *renamed = cc_node_rename(module, shift_name ? shift_name : CC_NO_NAME);
        cc_free(shift_name);
        if (renamed == NULL) {
            goto done;
        }
        out = cc_expand_permute(renamed, perm, module->name ? module->name : CC_NO_NAME);
        cc_node_decref(renamed);
    }
done:
    cc_node_decref(module);
    cc_node_decref(body);
    if (new_specs != NULL) {
        for (int j = 0; j < nargs; j++) {
            cc_node_decref(new_specs[j].symbol);
        }
    }
    cc_free(new_specs);
    cc_free(repl_keys);
    cc_free(repl_values);
    if (cur_rank != cur) {
        cc_free(cur_rank);
    }
    return out;
}

// --- the kind's record ------------------------------------------------------------------------

static const uint8_t module_type_uuid[16] = {0x68, 0x25, 0xf7, 0x23, 0xf1, 0x78, 0x4d, 0xab,
                                             0xb5, 0x68, 0xcd, 0x85, 0xeb, 0x6d, 0x2b, 0xf3};

// "<body name>(<arg names>)", argument names never shortened.
static const char *
module_function_name(const cc_node *n)
{
    return n->children[0]->name;
}

static const cc_name_op module_name_op = {.cls = CC_NAME_FUNCTION,
                                          .function_name = module_function_name,
                                          .first_arg = 1,
                                          .full_arg_names = 1};

// The arg specs are printed on the argument lines (child_binding).
static int
module_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    (void)n;
    (void)o;
    (void)out;
    return 0;
}

// The body and the arguments with their bindings; no payload.
static cc_node *
module_parse_payload(const cc_payload_parse *in, const char **at)
{
    *at = in->kind_at;
    if (in->n_children == 0) {
        return cc_fail_null(CC_E_PARSE_CIRCUIT_MODULE_NO_SPEC_CIRCUIT,
                            "a Module's first child is its body; this one has none");
    }
    if (cc_payload_expect_none(in, CC_KIND_MODULE, at) < 0) {
        return NULL;
    }
    int n_args = in->n_children - 1;
    cc_module_arg_spec *specs = cc_calloc((size_t)(n_args > 0 ? n_args : 1), sizeof *specs);
    cc_node *out = NULL;
    if (specs == NULL) {
        return NULL;
    }
    for (int i = 0; i < n_args; i++) {
        const cc_child_binding *b = &in->bindings[i + 1];
        specs[i].symbol = b->symbol;
        specs[i].batchable = b->flags[0];
        specs[i].expandable = b->flags[1];
        specs[i].ban_non_symbolic_size_expand = b->flags[2];
    }
    cc_node *body = in->children[0];
    if ((in->check_all_inputs_used &&
         cc_module_spec_check_all_inputs_used(body, n_args, specs) < 0) ||
        (in->check_unique_arg_names && cc_module_spec_check_unique_arg_names(n_args, specs) < 0)) {
        cc_free(specs);
        return NULL;
    }
    out = cc_module_new(body, n_args, specs, in->children + 1, in->name);
    cc_free(specs);
    return out;
}

// Argument i (i >= 1) stands for its arg spec's symbol in the body.
static int
module_child_binding(const cc_node *n, int i, cc_child_binding *out)
{
    if (i == 0) {
        return 0;
    }
    const cc_module_arg_spec *s = &n->u.module.arg_specs[i - 1];
    out->symbol = s->symbol;
    out->flags[0] = s->batchable;
    out->flags[1] = s->expandable;
    out->flags[2] = s->ban_non_symbolic_size_expand;
    return 1;
}

// rc's comment on the body: "Spec".
static int
module_child_comment(const cc_node *n, int i, cc_str *out)
{
    (void)n;
    return i == 0 ? cc_str_append(out, "Spec") : 0;
}

// The first spec whose symbol has sym's uuid and name, or -1.
static int
spec_of_symbol(const cc_node *m, const cc_node *sym)
{
    for (int j = 0; j < m->n_children - 1; j++) {
        const cc_node *s = m->u.module.arg_specs[j].symbol;
        int same_name = s->name == NULL || sym->name == NULL ? s->name == sym->name
                                                             : strcmp(s->name, sym->name) == 0;
        if (same_name && memcmp(s->u.symbol.uuid, sym->u.symbol.uuid, 16) == 0) {
            return j;
        }
    }
    return -1;
}

// rc's child_axis_map (child_axis_map_inputs for the arguments): the body maps nothing; the
// module's axes, named by their numbers, are pushed down the body resized to the arguments
// (every other name dropped), and argument i - 1's axis j maps to the number its Symbol's axis j
// is then named.
static int
module_child_axis_map(const cc_node *n, int i, int *out)
{
    const cc_node *arg = n->children[i];
    for (int j = 0; j < arg->ndim; j++) {
        out[j] = -1;
    }
    if (i == 0 || n->ndim == 0) {
        return 0;
    }
    int n_args = n->n_children - 1, rc = -1;
    int *ndims = cc_malloc((size_t)n_args * sizeof(int));
    const int64_t **shapes = cc_malloc((size_t)n_args * sizeof(int64_t *));
    cc_module_arg_spec *specs = cc_calloc((size_t)n_args, sizeof(cc_module_arg_spec));
    cc_node *body = NULL, *named = NULL;
    cc_node **order = NULL;
    int64_t n_order = 0;
    if (ndims == NULL || shapes == NULL || specs == NULL) {
        goto done;
    }
    for (int j = 0; j < n_args; j++) {
        ndims[j] = n->children[j + 1]->ndim;
        shapes[j] = n->children[j + 1]->shape;
    }
    if (cc_module_spec_resize(n->children[0], n_args, n->u.module.arg_specs, ndims, shapes, &body,
                              specs) < 0) {
        goto done;
    }
    char digits[CC_MAX_NDIM][12];
    const char *names[CC_MAX_NDIM];
    int axes[CC_MAX_NDIM];
    for (int a = 0; a < n->ndim; a++) {
        snprintf(digits[a], sizeof digits[a], "%d", a);
        names[a] = digits[a];
        axes[a] = a;
    }
    named = cc_node_name_axes_afresh(body, n->ndim, axes, names, 1);
    if (named == NULL || cc_node_postorder_unique(named, &order, &n_order) < 0) {
        goto done;
    }
    for (int64_t k = 0; k < n_order; k++) {
        const cc_node *c = order[k];
        if (c->kind != CC_KIND_SYMBOL || c->named_axes == NULL || spec_of_symbol(n, c) != i - 1) {
            continue;
        }
        for (int e = 0; e < c->named_axes->n; e++) {
            if (c->named_axes->items[e].axis < arg->ndim) {
                out[c->named_axes->items[e].axis] = atoi(c->named_axes->items[e].name);
            }
        }
    }
    rc = 0;
done:
    cc_free(order);
    cc_node_decref(named);
    cc_node_decref(body);
    for (int j = 0; specs != NULL && j < n_args; j++) {
        cc_module_arg_spec_clear(&specs[j]);
    }
    cc_free(specs);
    cc_free(shapes);
    cc_free(ndims);
    return rc;
}

CC_DEFINE_KIND_OPS(module, .free_payload = module_free_payload, .expand = module_expand,
                   .child_binding = module_child_binding, .child_comment = module_child_comment,
                   .child_axis_map = module_child_axis_map);
