// Module: the node kind (children [body, *args], arg specs as payload), the ModuleSpec checks,
// construction (shape, flags and dtype from the substituted body; free symbols by hand, as
// rc) and the nested-binding check. Hash: per arg spec its three flags and the symbol's hash,
// then the children's hashes (rc's module.rs).
#include "nodes/module.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/expand_kind.h"
#include "nodes/module_impl.h"
#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
#include "nodes/shape.h"
#include "nodes/symbol_set.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/vec.h"

void
cc_module_arg_spec_clear(cc_module_arg_spec *s)
{
    cc_node_decref(s->symbol);
    s->symbol = NULL;
}

const char *
cc_module_quote_name(const cc_node *n, char *buf, size_t cap)
{
    if (n->name == NULL) {
        snprintf(buf, cap, "(unnamed)");
    } else {
        snprintf(buf, cap, "'%s'", n->name);
    }
    return buf;
}

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

// --- ModuleSpec checks ------------------------------------------------------------------------

void
cc_module_spec_are_args_used(cc_node *body, int n, const cc_module_arg_spec *specs, uint8_t *out)
{
    for (int i = n - 1; i >= 0; i--) {
        int later = 0;
        for (int k = i + 1; k < n && !later; k++) {
            later = memcmp(specs[k].symbol->hash, specs[i].symbol->hash, 32) == 0;
        }
        out[i] = !later && cc_node_has_free_symbol(body, specs[i].symbol);
    }
}

static int
append_symbol_name(cc_str *s, const cc_node *sym)
{
    if (sym->name == NULL) {
        return cc_str_append(s, "(unnamed)");
    }
    return cc_str_appendf(s, "'%s'", sym->name);
}

int
cc_module_spec_check_all_inputs_used(cc_node *body, int n, const cc_module_arg_spec *specs)
{
    uint8_t *used = cc_malloc((size_t)(n > 0 ? n : 1));
    if (used == NULL) {
        return -1;
    }
    cc_module_spec_are_args_used(body, n, specs, used);
    cc_str s;
    cc_str_init(&s);
    int missing = 0, rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (!used[i]) {
            rc = (missing++ ? cc_str_append(&s, ", ") : 0);
            rc = rc < 0 ? rc : append_symbol_name(&s, specs[i].symbol);
            rc = rc < 0 ? rc : cc_str_append(&s, " ");
            rc = rc < 0 ? rc : cc_shape_append(&s, specs[i].symbol->ndim, specs[i].symbol->shape);
        }
    }
    cc_free(used);
    if (rc == 0 && missing > 0) {
        char body_name[160];
        cc_fail(CC_E_CONSTRUCT_MODULE_SOME_ARGS_NOT_PRESENT,
                "some arg symbols aren't free in the spec circuit %s: missing_symbols=[%s]",
                cc_module_quote_name(body, body_name, sizeof(body_name)), s.data);
        rc = -1;
    }
    cc_str_clear(&s);
    return rc;
}

static int
compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
cc_module_spec_check_unique_arg_names(int n, const cc_module_arg_spec *specs)
{
    cc_str s;
    cc_str_init(&s);
    int unnamed = 0, rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (specs[i].symbol->name == NULL) {
            rc = unnamed++ ? cc_str_append(&s, ", ") : 0;
            rc = rc < 0 ? rc : cc_str_appendf(&s, "arg %d ", i);
            rc = rc < 0 ? rc : cc_shape_append(&s, specs[i].symbol->ndim, specs[i].symbol->shape);
        }
    }
    if (rc == 0 && unnamed > 0) {
        cc_fail(CC_E_CONSTRUCT_MODULE_SOME_ARGS_NAMED_NONE,
                "module arg symbols must be named, but these are not: symbols_named_none=[%s]",
                s.data);
        rc = -1;
    }
    cc_str_clear(&s);
    if (rc < 0 || n < 2) {
        return rc;
    }
    const char **names = cc_malloc((size_t)n * sizeof(char *));
    if (names == NULL) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        names[i] = specs[i].symbol->name;
    }
    qsort(names, (size_t)n, sizeof(char *), compare_strings);
    int dups = 0;
    for (int i = 1; i < n && rc == 0; i++) {
        if (strcmp(names[i - 1], names[i]) == 0 &&
            (i == 1 || strcmp(names[i - 2], names[i]) != 0)) {
            rc = dups++ ? cc_str_append(&s, ", ") : 0;
            rc = rc < 0 ? rc : cc_str_appendf(&s, "'%s'", names[i]);
        }
    }
    cc_free(names);
    if (rc == 0 && dups > 0) {
        cc_fail(CC_E_CONSTRUCT_MODULE_ARGS_DUP_NAMES,
                "module arg symbols must have distinct names: dup_names=[%s]", s.data);
        rc = -1;
    }
    cc_str_clear(&s);
    return rc;
}

// --- the nested-binding check -----------------------------------------------------------------

// A subset of the (symbol, argument) pairs still being looked for below a node.
typedef struct {
    int n;
    int *pairs; // indices into the spec and argument arrays
    uint8_t hash[32];
} pair_set;

typedef struct {
    cc_node *node;
    pair_set *set;
} check_frame;

static pair_set *
pair_set_new(cc_ptrvec *owned, int n, const int *pairs, const cc_module_arg_spec *specs,
             cc_node *const *args)
{
    pair_set *p = cc_malloc(sizeof(pair_set));
    int *copy = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    if (p == NULL || copy == NULL || cc_ptrvec_push(owned, p) < 0) {
        cc_free(p);
        cc_free(copy);
        return NULL;
    }
    memcpy(copy, pairs, (size_t)n * sizeof(int));
    p->n = n;
    p->pairs = copy;
    cc_blake3 h;
    cc_blake3_init(&h);
    for (int i = 0; i < n; i++) {
        cc_blake3_update(&h, specs[pairs[i]].symbol->hash, 32);
    }
    for (int i = 0; i < n; i++) {
        cc_blake3_update(&h, args[pairs[i]]->hash, 32);
    }
    cc_blake3_final(&h, p->hash, 32);
    return p;
}

static int
push_check(cc_ptrvec *stack, cc_node *node, pair_set *set)
{
    check_frame *f = cc_malloc(sizeof(check_frame));
    if (f == NULL) {
        return -1;
    }
    f->node = node;
    f->set = set;
    if (cc_ptrvec_push(stack, f) < 0) {
        cc_free(f);
        return -1;
    }
    return 0;
}

static int
fail_bound_by_nested(const cc_node *arg, const cc_node *sym, const cc_node *m)
{
    cc_str s;
    cc_str_init(&s);
    int rc = 0, k = 0;
    for (int j = 0; j < m->n_children - 1 && rc == 0; j++) {
        const cc_node *bound = m->u.module.arg_specs[j].symbol;
        if (cc_node_has_free_symbol(arg, bound)) {
            rc = k++ ? cc_str_append(&s, ", ") : 0;
            rc = rc < 0 ? rc : append_symbol_name(&s, bound);
        }
    }
    if (rc == 0) {
        char a[160], b[160], c[160];
        cc_fail(CC_E_SUBSTITUTION_CIRCUIT_HAS_FREE_SYMS_BOUND_BY_NESTED_MODULE,
                "subbing circ=%s for sym=%s results in nested_module=%s bound_by_nested=[%s] "
                "inside of circ (aka higher order function)",
                cc_node_describe(arg->kind, arg->name, a, sizeof(a)),
                cc_node_describe(sym->kind, sym->name, b, sizeof(b)),
                cc_node_describe(m->kind, m->name, c, sizeof(c)), s.data);
    }
    cc_str_clear(&s);
    return -1;
}

// Pairs of `set` whose symbol is free in node (node itself for a Symbol).
static int
any_free(const cc_node *node, const pair_set *set, const cc_module_arg_spec *specs)
{
    for (int i = 0; i < set->n; i++) {
        if (cc_node_has_free_symbol(node, specs[set->pairs[i]].symbol)) {
            return 1;
        }
    }
    return 0;
}

// One Module: the pairs its body still sees (free there and not bound by it) are checked
// against its bindings and looked for in its body.
static int
check_module(cc_ptrvec *stack, cc_ptrvec *owned, cc_node *m, const pair_set *set,
             const cc_module_arg_spec *specs, cc_node *const *args)
{
    int nargs = m->n_children - 1;
    int *kept = cc_malloc((size_t)(set->n > 0 ? set->n : 1) * sizeof(int));
    if (kept == NULL) {
        return -1;
    }
    int k = 0;
    for (int i = 0; i < set->n; i++) {
        const cc_node *sym = specs[set->pairs[i]].symbol;
        int bound = 0;
        for (int j = 0; j < nargs && !bound; j++) {
            bound = memcmp(m->u.module.arg_specs[j].symbol->hash, sym->hash, 32) == 0;
        }
        if (!bound && cc_node_has_free_symbol(m->children[0], sym)) {
            kept[k++] = set->pairs[i];
        }
    }
    int rc = 0;
    for (int i = 0; i < k && rc == 0; i++) {
        const cc_node *arg = args[kept[i]];
        for (int j = 0; j < nargs; j++) {
            if (cc_node_has_free_symbol(arg, m->u.module.arg_specs[j].symbol)) {
                rc = fail_bound_by_nested(arg, specs[kept[i]].symbol, m);
                break;
            }
        }
    }
    if (rc == 0 && k > 0) {
        pair_set *sub = pair_set_new(owned, k, kept, specs, args);
        rc = sub == NULL || push_check(stack, m->children[0], sub) < 0 ? -1 : 0;
    }
    cc_free(kept);
    return rc;
}

int
cc_module_check_no_free_bound_by_nested(cc_node *body, int n, const cc_module_arg_spec *specs,
                                        cc_node *const *args)
{
    if (n == 0) {
        return 0;
    }
    cc_ptrvec owned, stack;
    cc_ptrvec_init(&owned);
    cc_ptrvec_init(&stack);
    cc_hmap seen;
    cc_hmap_init(&seen);
    int rc = -1;
    int *all = cc_malloc((size_t)n * sizeof(int));
    if (all == NULL) {
        goto done;
    }
    for (int i = 0; i < n; i++) {
        all[i] = i;
    }
    pair_set *root = pair_set_new(&owned, n, all, specs, args);
    cc_free(all);
    if (root == NULL || push_check(&stack, body, root) < 0) {
        goto done;
    }
    while (stack.len > 0) {
        check_frame f = *(check_frame *)stack.items[stack.len - 1];
        cc_free(stack.items[--stack.len]);
        uint8_t key[32];
        cc_blake3 h;
        cc_blake3_init(&h);
        cc_blake3_update(&h, f.node->hash, 32);
        cc_blake3_update(&h, f.set->hash, 32);
        cc_blake3_final(&h, key, 32);
        // Below a node where none of the symbols is free, no Module can see them.
        if (cc_hmap_get(&seen, key) != NULL || !any_free(f.node, f.set, specs)) {
            continue;
        }
        if (cc_hmap_put(&seen, key, f.node) < 0) {
            goto done;
        }
        int first = 0;
        if (f.node->kind == CC_KIND_MODULE) {
            if (check_module(&stack, &owned, f.node, f.set, specs, args) < 0) {
                goto done;
            }
            first = 1; // the body was handled above; the args see every pair
        }
        for (int c = first; c < f.node->n_children; c++) {
            if (push_check(&stack, f.node->children[c], f.set) < 0) {
                goto done;
            }
        }
    }
    rc = 0;
done:
    for (size_t i = 0; i < stack.len; i++) {
        cc_free(stack.items[i]);
    }
    for (size_t i = 0; i < owned.len; i++) {
        pair_set *p = owned.items[i];
        cc_free(p->pairs);
        cc_free(p);
    }
    cc_ptrvec_clear(&stack);
    cc_ptrvec_clear(&owned);
    cc_hmap_clear(&seen);
    return rc;
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

CC_DEFINE_KIND_OPS(module, .free_payload = module_free_payload, .expand = module_expand,
                   .child_binding = module_child_binding, .child_comment = module_child_comment);
