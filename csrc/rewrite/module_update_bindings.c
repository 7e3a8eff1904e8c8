// update_bindings_nested's module callback (rc's ModuleConstructUpdateBindings): the modules
// the pusher built at a matched node are stripped to the bindings the update changes, level by
// level, and named by the namer. Knows nothing of Python.
#include <string.h>

#include "expand/deep_map.h"
#include "expand/module.h"
#include "rewrite/module_pusher_impl.h"
#include "util/alloc.h"
#include "util/error.h"

static int
same_node(const cc_node *a, const cc_node *b)
{
    return a == b || memcmp(a->hash, b->hash, 32) == 0;
}

void
cc_update_bindings_init(cc_update_bindings *ub, const cc_maybe_update *update,
                        const cc_nested_namer *namer, int run_update_on_new_spec_circuits,
                        int is_flatten)
{
    ub->update = update;
    ub->namer = namer;
    ub->run_update_on_new_spec_circuits = run_update_on_new_spec_circuits;
    ub->is_flatten = is_flatten;
    cc_hmap_init(&ub->memo);
    cc_ptrvec_init(&ub->held);
}

void
cc_update_bindings_clear(cc_update_bindings *ub)
{
    for (size_t i = 0; i < ub->held.len; i++) {
        cc_node_decref(ub->held.items[i]);
    }
    cc_ptrvec_clear(&ub->held);
    cc_hmap_clear(&ub->memo);
}

static char no_update;

typedef struct {
    cc_node *node;
    int expanded;
} ud_item;

// rc's deep_update: the first nodes (top-down) that update changes, replaced, their ancestors
// rebuilt. 0 with *out a new reference, or NULL when update applies nowhere; -1.
static int
deep_update(cc_update_bindings *ub, cc_node *root, cc_node **out)
{
    *out = NULL;
    ud_item *st = NULL;
    size_t cap = 0, len = 0;
    cc_node **kids = NULL;
    size_t kcap = 0;
    int rc = -1;
    if (cc_grow((void **)&st, &cap, 1, sizeof(ud_item)) < 0) {
        return -1;
    }
    st[len++] = (ud_item){root, 0};
    while (len > 0) {
        ud_item *top = &st[len - 1];
        cc_node *x = top->node;
        if (cc_hmap_get(&ub->memo, x->hash) != NULL) {
            len--;
            continue;
        }
        if (!top->expanded) {
            cc_node *r = NULL;
            if (ub->update->run(ub->update->ctx, x, &r) < 0) {
                goto done;
            }
            if (r != NULL) {
                if (cc_ptrvec_push(&ub->held, r) < 0) {
                    cc_node_decref(r);
                    goto done;
                }
                if (cc_hmap_put(&ub->memo, x->hash, r) < 0) {
                    goto done;
                }
                len--;
                continue;
            }
            top->expanded = 1;
            if (cc_grow((void **)&st, &cap, len + (size_t)x->n_children, sizeof(ud_item)) < 0) {
                goto done;
            }
            for (int i = x->n_children - 1; i >= 0; i--) {
                st[len++] = (ud_item){x->children[i], 0};
            }
            continue;
        }
        len--;
        if (cc_grow((void **)&kids, &kcap, (size_t)x->n_children + 1, sizeof(cc_node *)) < 0) {
            goto done;
        }
        int changed = 0;
        for (int i = 0; i < x->n_children; i++) {
            void *v = cc_hmap_get(&ub->memo, x->children[i]->hash);
            kids[i] = v == &no_update ? x->children[i] : v;
            changed |= v != &no_update;
        }
        void *value = &no_update;
        if (changed) {
            cc_node *r = cc_deep_map_rebuild(x, kids, 1);
            if (r == NULL || cc_ptrvec_push(&ub->held, r) < 0) {
                cc_node_decref(r);
                goto done;
            }
            value = r;
        }
        if (cc_hmap_put(&ub->memo, x->hash, value) < 0) {
            goto done;
        }
    }
    void *v = cc_hmap_get(&ub->memo, root->hash);
    if (v != &no_update) {
        *out = v;
        cc_node_incref(*out);
    }
    rc = 0;
done:
    cc_free(st);
    cc_free(kids);
    return rc;
}

// rc's module_strip_args: m without the arguments its body does not use (the shape may
// change). New reference, or NULL.
static cc_node *
strip_args(cc_node *m, cc_node *body)
{
    int n = m->n_children - 1;
    uint8_t *used = cc_malloc((size_t)n + 1);
    cc_module_arg_spec *specs = cc_malloc(((size_t)n + 1) * sizeof(cc_module_arg_spec));
    cc_node **args = cc_malloc(((size_t)n + 1) * sizeof(cc_node *));
    cc_node *out = NULL;
    if (used != NULL && specs != NULL && args != NULL) {
        cc_module_spec_are_args_used(body, n, m->u.module.arg_specs, used);
        int k = 0;
        for (int j = 0; j < n; j++) {
            if (used[j]) {
                specs[k] = m->u.module.arg_specs[j];
                args[k++] = m->children[1 + j];
            }
        }
        out = cc_module_new(body, k, specs, args, m->name);
    }
    cc_free(used);
    cc_free(specs);
    cc_free(args);
    return out;
}

// rc's deep_remove_unused: the modules nested count deep (only m when flattened) stripped of
// unused arguments, innermost first. New reference, or NULL.
static cc_node *
deep_remove_unused(const cc_update_bindings *ub, cc_node *m, int count)
{
    int levels = ub->is_flatten ? 1 : count;
    cc_node **chain = cc_malloc((size_t)levels * sizeof(cc_node *));
    if (chain == NULL) {
        return NULL;
    }
    chain[0] = m;
    for (int l = 1; l < levels; l++) {
        cc_node *body = chain[l - 1]->children[0];
        if (body->kind != CC_KIND_MODULE) {
            cc_free(chain);
            return cc_fail_null(CC_E_PY_VALUE,
                                "update_bindings_nested: expected nested Module %d to be a Module, "
                                "got %s",
                                l, cc_kind_get_info(body->kind)->py_name);
        }
        chain[l] = body;
    }
    cc_node *cur = strip_args(chain[levels - 1], chain[levels - 1]->children[0]);
    for (int l = levels - 2; l >= 0 && cur != NULL; l--) {
        cc_node *next = strip_args(chain[l], cur);
        cc_node_decref(cur);
        cur = next;
    }
    cc_free(chain);
    return cur;
}

static int
in_symbols(const cc_node *sym, const cc_ptrvec *syms)
{
    for (size_t i = 0; i < syms->len; i++) {
        if (same_node(sym, syms->items[i])) {
            return 1;
        }
    }
    return 0;
}

static int
intersects_free(const cc_node *n, const cc_ptrvec *syms)
{
    if (n->free_symbols == NULL) {
        return 0;
    }
    for (int i = 0; i < n->free_symbols->n; i++) {
        if (in_symbols(n->free_symbols->items[i], syms)) {
            return 1;
        }
    }
    return 0;
}

// One level of bind_module: the module and the arguments kept (updated, or carrying a symbol an
// outer level re-binds).
typedef struct {
    cc_node *m; // owned
    int n_kept;
    cc_node **kept; // owned
    cc_module_arg_spec *specs;
} ub_level;

// rc's bind_module on the nesting of m (applied: the modules pushed, inner to outer). New
// reference, or NULL.
static cc_node *
bind_module(cc_update_bindings *ub, cc_node *m, int overall, cc_node *const *applied)
{
    int levels = ub->is_flatten ? 1 : overall;
    ub_level *lv = cc_calloc((size_t)levels, sizeof(ub_level));
    cc_ptrvec outer;
    cc_ptrvec_init(&outer);
    cc_node **mods = cc_malloc(((size_t)overall + 1) * sizeof(cc_node *));
    cc_node *cur = NULL, *base = NULL, *result = NULL;
    int n_mods = 0;
    if (lv == NULL || mods == NULL) {
        goto done;
    }
    for (int l = 0; l < levels; l++) {
        int count = overall - l;
        cc_node *ml = l == 0 ? m : lv[l - 1].m->children[0];
        if (ml->kind != CC_KIND_MODULE) {
            cc_fail(CC_E_PY_VALUE,
                    "update_bindings_nested: expected nested Module %d to be a Module", l);
            goto done;
        }
        cc_node_incref(ml);
        lv[l].m = ml;
        if ((ub->is_flatten || count == 1) && ub->run_update_on_new_spec_circuits) {
            cc_node *spec = NULL;
            if (deep_update(ub, ml->children[0], &spec) < 0) {
                goto done;
            }
            if (spec != NULL) {
                cc_node *nm = cc_module_new(spec, ml->n_children - 1, ml->u.module.arg_specs,
                                            ml->children + 1, ml->name);
                cc_node_decref(spec);
                if (nm == NULL) {
                    cc_error_prefix("module construction failed in update bindings after "
                                    "updating spec circuit");
                    goto done;
                }
                cc_node_decref(lv[l].m);
                lv[l].m = ml = nm;
            }
        }
        int n = ml->n_children - 1;
        uint8_t *used = cc_malloc((size_t)n + 1);
        lv[l].kept = cc_calloc((size_t)n + 1, sizeof(cc_node *));
        lv[l].specs = cc_calloc((size_t)n + 1, sizeof(cc_module_arg_spec));
        if (used == NULL || lv[l].kept == NULL || lv[l].specs == NULL) {
            cc_free(used);
            goto done;
        }
        cc_module_spec_are_args_used(ml->children[0], n, ml->u.module.arg_specs, used);
        for (int j = 0; j < n; j++) {
            if (!used[j]) {
                continue;
            }
            cc_node *arg = ml->children[1 + j], *up = NULL;
            if (deep_update(ub, arg, &up) < 0) {
                cc_free(used);
                goto done;
            }
            if (up == NULL && intersects_free(arg, &outer)) {
                cc_node_incref(arg);
                up = arg;
            }
            if (up != NULL) {
                lv[l].kept[lv[l].n_kept] = up;
                lv[l].specs[lv[l].n_kept++] = ml->u.module.arg_specs[j];
            }
        }
        cc_free(used);
        for (int j = 0; j < lv[l].n_kept; j++) {
            if (cc_ptrvec_push(&outer, lv[l].specs[j].symbol) < 0) {
                goto done;
            }
        }
    }
    for (int l = levels - 1; l >= 0; l--) {
        int count = overall - l;
        if (l == levels - 1) {
            cur = lv[l].m->children[0];
            cc_node_incref(cur);
            base = cur;
            cc_node_incref(base);
        }
        if (ub->is_flatten) {
            n_mods = overall;
            memcpy(mods, applied, (size_t)overall * sizeof(cc_node *));
        } else {
            mods[n_mods] = applied[count - 1];
            n_mods++;
        }
        char *name = NULL;
        if (cc_nested_namer_call(ub->namer, base, cur, n_mods, mods, overall, &name) < 0) {
            goto done;
        }
        cc_node *mo = cc_module_new(cur, lv[l].n_kept, lv[l].specs, lv[l].kept, name);
        cc_free(name);
        if (mo == NULL) {
            cc_error_prefix("module construction failed in update bindings after updating nodes");
            goto done;
        }
        int bn = 0;
        int64_t bs[CC_MAX_NDIM];
        if (cc_module_aligned_batch_shape(mo, &bn, bs) < 0 || bn > 0) {
            cc_node_decref(mo);
            if (bn > 0) {
                cc_fail(CC_E_PY_VALUE,
                        "update_bindings_nested: the new binding of module '%s' is batched (%d "
                        "batch axes), which is not supported; conform the modules to their "
                        "input batch shapes first",
                        mods[n_mods - 1]->name ? mods[n_mods - 1]->name : "", bn);
            }
            goto done;
        }
        if (lv[l].n_kept == 0) {
            // rc's elim_no_input_module: the module binding nothing is its body, and is not
            // listed among the modules that name the levels outside it.
            cc_node_decref(mo);
            n_mods--;
        } else {
            cc_node_decref(cur);
            cur = mo;
        }
    }
    result = cur;
    cur = NULL;
done:
    cc_node_decref(cur);
    cc_node_decref(base);
    for (int l = 0; lv != NULL && l < levels; l++) {
        cc_node_decref(lv[l].m);
        for (int j = 0; j < lv[l].n_kept; j++) {
            cc_node_decref(lv[l].kept[j]);
        }
        cc_free(lv[l].kept);
        cc_free(lv[l].specs);
    }
    cc_free(lv);
    cc_free(mods);
    cc_ptrvec_clear(&outer);
    return result;
}

cc_node *
cc_update_bindings_call(cc_update_bindings *ub, cc_node *m, int n_applied, cc_node *const *applied,
                        int overall)
{
    if (n_applied != overall) {
        cc_node_incref(m);
        return m;
    }
    cc_node *stripped = deep_remove_unused(ub, m, overall);
    if (stripped == NULL) {
        return NULL;
    }
    cc_node *out = bind_module(ub, stripped, overall, applied);
    cc_node_decref(stripped);
    return out;
}
