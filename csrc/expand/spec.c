// The ModuleSpec checks (rc's are_args_used, check_all_inputs_used, check_unique_arg_names,
// check_no_free_bound_by_nested): what construction and substitution refuse before they build
// anything. Below substitution and the Module kind, which both call them.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expand/module_impl.h"
#include "nodes/node_impl.h"
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
