// rc's module_new_bind (a Module whose argument Symbols are found by matchers in its body) and
// extract_symbols (bindings of given Symbols moved out of every Module into one outer Module).
// Matching is match/'s; construction, substitution and the ModuleSpec checks are expand/'s.
#include "rewrite/module_bind.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expand/deep_map.h"
#include "expand/module.h"
#include "match/get.h"
#include "nodes/shape.h"
#include "rewrite/rewrite_impl.h"
#include "util/alloc.h"
#include "util/blake3.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/vec.h"

// Appends "'name' Kind [shape]" (or "unnamed Kind [shape]"), symbolic sizes as "0s". 0, or -1
// (no memory).
static int
append_node(cc_str *s, const cc_node *n)
{
    int rc = n->name != NULL ? cc_str_appendf(s, "'%s' ", n->name) : cc_str_append(s, "unnamed ");
    rc = rc < 0 ? rc : cc_str_appendf(s, "%s [", cc_kind_get_info(n->kind)->py_name);
    for (int i = 0; rc == 0 && i < n->ndim; i++) {
        rc = i ? cc_str_append(s, ", ") : 0;
        rc = rc < 0 ? rc : cc_size_append(s, n->shape[i]);
    }
    return rc < 0 ? rc : cc_str_append(s, "]");
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

// --- extract_symbols --------------------------------------------------------------------------

// The symbols still extracted below a node: sorted by hash, borrowed, identified by a hash.
typedef struct {
    int n;
    uint8_t hash[32];
    cc_node *items[];
} xs_set;

// One extracted binding: spec.symbol (owned) bound to input (owned).
typedef struct {
    cc_module_arg_spec spec;
    cc_node *input;
} xs_binding;

// Bindings sorted as rc orders Symbols: unnamed first, then by name, then by hash.
typedef struct {
    int n, cap;
    xs_binding *items;
} xs_map;

// A node's result: the node with the bindings below it removed, and those bindings.
typedef struct {
    cc_node *node;
    xs_map map;
} xs_result;

typedef struct {
    cc_node *orig; // borrowed: the node visited
    uint8_t key[32];
    cc_node *circ;          // owned: orig, or the Module without its extracted arguments
    const xs_set *set;      // for children past the first
    const xs_set *body_set; // for the first child (a Module's body loses what it bound)
    cc_imatcher **states;   // owned per-child traversal states (NULL: unvisited); NULL: none
    int n_states;           // entries of states (orig's children)
    int next;
    cc_node **kids; // owned results
    xs_map map;
} xs_frame;

typedef struct {
    const cc_extract_options *o;
    cc_ptrvec sets;  // owned xs_sets
    cc_hmap memo;    // blake3(node, set, state) -> xs_result
    cc_ptrvec stack; // xs_frames
} xs_ctx;

static void
xs_map_clear(xs_map *m)
{
    for (int i = 0; i < m->n; i++) {
        cc_module_arg_spec_clear(&m->items[i].spec);
        cc_node_decref(m->items[i].input);
    }
    cc_free(m->items);
    *m = (xs_map){0};
}

static int
symbol_order(const cc_node *a, const cc_node *b)
{
    if (a->name == NULL || b->name == NULL) {
        if (a->name != b->name) {
            return a->name == NULL ? -1 : 1;
        }
    } else {
        int c = strcmp(a->name, b->name);
        if (c != 0) {
            return c;
        }
    }
    return memcmp(a->hash, b->hash, 32);
}

static int
append_spec(cc_str *s, const cc_module_arg_spec *spec)
{
    int rc = cc_str_append(s, "ModuleArgSpec(symbol=");
    rc = rc < 0 ? rc : append_node(s, spec->symbol);
    return rc < 0 ? rc
                  : cc_str_appendf(s,
                                   ", batchable=%s, expandable=%s, "
                                   "ban_non_symbolic_size_expand=%s)",
                                   spec->batchable ? "True" : "False",
                                   spec->expandable ? "True" : "False",
                                   spec->ban_non_symbolic_size_expand ? "True" : "False");
}

// rc's add_sym_circ: spec's symbol bound to input, unless already bound (to the same input
// with the same flags, else an error). 0, or -1.
static int
xs_map_add(xs_map *m, const cc_module_arg_spec *spec, cc_node *input)
{
    int at = 0;
    while (at < m->n && symbol_order(m->items[at].spec.symbol, spec->symbol) < 0) {
        at++;
    }
    if (at < m->n && symbol_order(m->items[at].spec.symbol, spec->symbol) == 0) {
        const xs_binding *old = &m->items[at];
        int same_input = memcmp(old->input->hash, input->hash, 32) == 0;
        if (same_input && old->spec.batchable == spec->batchable &&
            old->spec.expandable == spec->expandable &&
            old->spec.ban_non_symbolic_size_expand == spec->ban_non_symbolic_size_expand) {
            return 0;
        }
        cc_str s;
        cc_str_init(&s);
        int rc;
        if (!same_input) {
            rc = cc_str_append(&s, "for symbol=");
            rc = rc < 0 ? rc : append_node(&s, spec->symbol);
            rc = rc < 0 ? rc : cc_str_append(&s, " old_bound=");
            rc = rc < 0 ? rc : append_node(&s, old->input);
            rc = rc < 0 ? rc : cc_str_append(&s, " != new_bound=");
            rc = rc < 0 ? rc : append_node(&s, input);
        } else {
            rc = cc_str_append(&s, "old_arg_spec=");
            rc = rc < 0 ? rc : append_spec(&s, &old->spec);
            rc = rc < 0 ? rc : cc_str_append(&s, " != new_arg_spec=");
            rc = rc < 0 ? rc : append_spec(&s, spec);
        }
        if (rc < 0) {
            cc_fail(CC_E_NO_MEMORY, "extract_symbols: no memory for a message");
        } else {
            cc_fail(same_input ? CC_E_EXTRACT_SYMBOLS_ARG_SPEC_INCONSISTENT
                               : CC_E_EXTRACT_SYMBOLS_BOUND_INPUT_INCONSISTENT,
                    "%s", s.data);
        }
        cc_str_clear(&s);
        return -1;
    }
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 4;
        xs_binding *items = cc_realloc(m->items, (size_t)cap * sizeof(xs_binding));
        if (items == NULL) {
            return -1;
        }
        m->items = items;
        m->cap = cap;
    }
    memmove(&m->items[at + 1], &m->items[at], (size_t)(m->n - at) * sizeof(xs_binding));
    m->items[at].spec = *spec;
    m->items[at].input = input;
    cc_node_incref(spec->symbol);
    cc_node_incref(input);
    m->n++;
    return 0;
}

static int
xs_map_merge(xs_map *dst, const xs_map *src)
{
    for (int i = 0; src != NULL && i < src->n; i++) {
        if (xs_map_add(dst, &src->items[i].spec, src->items[i].input) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
xs_set_contains(const xs_set *s, const cc_node *sym)
{
    for (int i = 0; i < s->n; i++) {
        if (memcmp(s->items[i]->hash, sym->hash, 32) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
compare_hashes(const void *a, const void *b)
{
    return memcmp((*(cc_node *const *)a)->hash, (*(cc_node *const *)b)->hash, 32);
}

// A set of the n symbols (duplicates dropped) minus the n_minus in minus, owned by c.
static const xs_set *
xs_set_new(xs_ctx *c, int n, cc_node *const *syms, int n_minus, cc_node *const *minus)
{
    xs_set *s = cc_malloc(sizeof(xs_set) + (size_t)(n > 0 ? n : 1) * sizeof(cc_node *));
    if (s == NULL || cc_ptrvec_push(&c->sets, s) < 0) {
        cc_free(s);
        return NULL;
    }
    s->n = 0;
    for (int i = 0; i < n; i++) {
        int skip = 0;
        for (int k = 0; k < n_minus && !skip; k++) {
            skip = memcmp(minus[k]->hash, syms[i]->hash, 32) == 0;
        }
        if (!skip) {
            s->items[s->n++] = syms[i];
        }
    }
    qsort(s->items, (size_t)s->n, sizeof(cc_node *), compare_hashes);
    int k = 0;
    for (int i = 0; i < s->n; i++) {
        if (k == 0 || memcmp(s->items[k - 1]->hash, s->items[i]->hash, 32) != 0) {
            s->items[k++] = s->items[i];
        }
    }
    s->n = k;
    cc_blake3 h;
    cc_blake3_init(&h);
    for (int i = 0; i < s->n; i++) {
        cc_blake3_update(&h, s->items[i]->hash, 32);
    }
    cc_blake3_final(&h, s->hash, 32);
    return s;
}

static void
xs_frame_free(xs_frame *f)
{
    int n = f->circ != NULL ? f->circ->n_children : 0;
    for (int i = 0; f->kids != NULL && i < n; i++) {
        cc_node_decref(f->kids[i]);
    }
    cc_free(f->kids);
    cc_traversal_free(f->states, f->n_states);
    cc_node_decref(f->circ);
    xs_map_clear(&f->map);
    cc_free(f);
}

static int
fail_batched(const cc_node *arg, const cc_node *sym)
{
    cc_str s;
    cc_str_init(&s);
    int rc = cc_str_append(&s, "symbol=");
    rc = rc < 0 ? rc : append_node(&s, sym);
    rc = rc < 0 ? rc : cc_str_append(&s, " node=");
    rc = rc < 0 ? rc : append_node(&s, arg);
    if (rc < 0) {
        cc_fail(CC_E_NO_MEMORY, "extract_symbols: no memory for a message");
    } else {
        cc_fail(CC_E_EXTRACT_SYMBOLS_BATCHED_INPUT,
                "node_ndim=%d>symbol_ndim=%d which implies batching\nbatched inputs aren't "
                "handled by default (at the moment) but can be handled by conforming the module "
                "to the batch shape.\nIf you want this to be done automatically, pass "
                "conform_batch_if_needed=True.\n%s",
                arg->ndim, sym->ndim, s.data);
    }
    cc_str_clear(&s);
    return -1;
}

// A Module met with symbols to extract: the arguments binding them (each symbol's leftmost
// binding) move to f->map, f->circ is the Module over the others ("<name> extracted") and
// f->body_set loses them. 0, or -1.
static int
xs_module(xs_ctx *c, xs_frame *f)
{
    cc_node *m = f->orig;
    int n = m->n_children - 1;
    cc_node *conformed = NULL;
    const cc_node *src = m;
    if (c->o->conform_batch_if_needed) {
        int dims = 0;
        for (int j = 0; j < n; j++) {
            const cc_node *sym = m->u.module.arg_specs[j].symbol;
            int d = m->children[1 + j]->ndim - sym->ndim;
            if (xs_set_contains(f->set, sym) && d > dims) {
                dims = d;
            }
        }
        if (dims > 0) {
            conformed = cc_module_conform_to_input_batch_shape(m, dims);
            if (conformed == NULL) {
                return -1;
            }
            src = conformed;
        }
    }
    size_t count = (size_t)(n > 0 ? n : 1);
    cc_module_arg_spec *specs = cc_malloc(count * sizeof(cc_module_arg_spec));
    cc_node **args = cc_malloc(count * sizeof(cc_node *));
    cc_node **fresh = cc_malloc(count * sizeof(cc_node *));
    int *kept_at = cc_malloc(count * sizeof(int));
    int k = 0, n_fresh = 0, rc = -1;
    char *name = NULL;
    if (specs == NULL || args == NULL || fresh == NULL || kept_at == NULL) {
        goto done;
    }
    for (int j = 0; j < n; j++) {
        cc_node *orig_sym = m->u.module.arg_specs[j].symbol;
        const cc_module_arg_spec *spec = &src->u.module.arg_specs[j];
        cc_node *arg = src->children[1 + j];
        int already = 0;
        for (int q = 0; q < n_fresh && !already; q++) {
            already = memcmp(fresh[q]->hash, orig_sym->hash, 32) == 0;
        }
        if (!xs_set_contains(f->set, orig_sym) || already) {
            specs[k] = *spec;
            args[k] = arg;
            kept_at[k++] = j;
            continue;
        }
        if (arg->ndim > spec->symbol->ndim) {
            fail_batched(arg, spec->symbol);
            goto done;
        }
        if (xs_map_add(&f->map, spec, arg) < 0) {
            goto done;
        }
        fresh[n_fresh++] = orig_sym;
    }
    if (n_fresh == 0) {
        cc_node_incref(m);
        f->circ = m;
        rc = 0;
        goto done;
    }
    if (m->name != NULL) {
        cc_str s;
        cc_str_init(&s);
        if (cc_str_appendf(&s, "%s extracted", m->name) == 0) {
            name = cc_str_take(&s);
        }
        cc_str_clear(&s);
        if (name == NULL) {
            goto done;
        }
    }
    f->circ = cc_module_new(src->children[0], k, specs, args, name);
    f->body_set = xs_set_new(c, f->set->n, f->set->items, n_fresh, fresh);
    if (f->circ == NULL || f->body_set == NULL) {
        goto done;
    }
    if (f->states != NULL) {
        // The traversal states follow the children kept: the body, then the kept arguments.
        cc_imatcher **kept = cc_calloc((size_t)m->n_children, sizeof(cc_imatcher *));
        if (kept == NULL) {
            goto done;
        }
        kept[0] = f->states[0];
        f->states[0] = NULL;
        for (int q = 0; q < k; q++) {
            kept[1 + q] = f->states[1 + kept_at[q]];
            f->states[1 + kept_at[q]] = NULL;
        }
        cc_traversal_free(f->states, f->n_states);
        f->states = kept;
    }
    rc = 0;
done:
    cc_node_decref(conformed);
    cc_free(specs);
    cc_free(args);
    cc_free(fresh);
    cc_free(kept_at);
    cc_free(name);
    return rc;
}

// x's result when known now: 1 with *node (new reference) and *map (borrowed; NULL: no
// bindings). Else 0 with a frame pushed for x, or -1.
static int
xs_visit(xs_ctx *c, cc_node *x, const xs_set *set, cc_imatcher *state, cc_node **node,
         const xs_map **map)
{
    *map = NULL;
    if (set->n == 0 || !x->contains_module) {
        cc_node_incref(x);
        *node = x;
        return 1;
    }
    uint8_t key[32];
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, x->hash, 32);
    cc_blake3_update(&h, set->hash, 32);
    if (state != NULL) {
        cc_blake3_update(&h, state->hash, 32);
    }
    cc_blake3_final(&h, key, 32);
    const xs_result *known = cc_hmap_get(&c->memo, key);
    if (known != NULL) {
        cc_node_incref(known->node);
        *node = known->node;
        *map = &known->map;
        return 1;
    }
    xs_frame *f = cc_calloc(1, sizeof(xs_frame));
    if (f == NULL) {
        return -1;
    }
    f->orig = x;
    memcpy(f->key, key, 32);
    f->set = f->body_set = set;
    f->n_states = x->n_children;
    if (state != NULL) {
        int finished;
        if (cc_traversal_children(state, x, &finished, &f->states) < 0) {
            cc_free(f);
            return -1;
        }
        if (finished) {
            cc_free(f);
            cc_node_incref(x);
            *node = x;
            return 1;
        }
    }
    if (x->kind == CC_KIND_MODULE) {
        if (xs_module(c, f) < 0) {
            xs_frame_free(f);
            return -1;
        }
    } else {
        cc_node_incref(x);
        f->circ = x;
    }
    f->kids =
        cc_calloc((size_t)(f->circ->n_children > 0 ? f->circ->n_children : 1), sizeof(cc_node *));
    if (f->kids == NULL || cc_ptrvec_push(&c->stack, f) < 0) {
        xs_frame_free(f);
        return -1;
    }
    return 0;
}

// rc's check after a Module's children: no binding extracted below it may use a symbol the
// Module itself binds. 0, or -1 with CC_E_EXTRACT_SYMBOLS_HAS_BINDINGS_FROM_OUTER_MODULE.
static int
xs_check_outer(const cc_node *m, const xs_map *map)
{
    int n = m->n_children - 1;
    uint8_t *used = cc_malloc((size_t)(n > 0 ? n : 1));
    if (used == NULL) {
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < map->n && rc == 0; i++) {
        cc_node *input = map->items[i].input;
        cc_module_spec_are_args_used(input, n, m->u.module.arg_specs, used);
        cc_str s;
        cc_str_init(&s);
        int any = 0, r = 0;
        for (int j = 0; j < n && r == 0; j++) {
            if (used[j]) {
                r = any++ ? cc_str_append(&s, ", ") : 0;
                r = r < 0 ? r : append_node(&s, m->u.module.arg_specs[j].symbol);
            }
        }
        if (any > 0) {
            cc_str head;
            cc_str_init(&head);
            r = r < 0 ? r : append_node(&head, input);
            r = r < 0 ? r : cc_str_append(&head, " (for symbol=");
            r = r < 0 ? r : append_node(&head, map->items[i].spec.symbol);
            if (r < 0) {
                cc_fail(CC_E_NO_MEMORY, "extract_symbols: no memory for a message");
            } else {
                cc_fail(CC_E_EXTRACT_SYMBOLS_HAS_BINDINGS_FROM_OUTER_MODULE,
                        "the bound_input=%s) contains free_outer_symbols=[%s] which is bound by "
                        "an outer module",
                        head.data, s.data);
            }
            cc_str_clear(&head);
            rc = -1;
        }
        cc_str_clear(&s);
    }
    cc_free(used);
    return rc;
}

// The top frame's result, memoised; *node new reference, *map borrowed from the memo.
static int
xs_finish(xs_ctx *c, xs_frame *f, cc_node **node, const xs_map **map)
{
    int changed = 0;
    for (int i = 0; i < f->circ->n_children; i++) {
        changed |= f->kids[i] != f->circ->children[i];
    }
    if (f->circ->kind == CC_KIND_MODULE && xs_check_outer(f->circ, &f->map) < 0) {
        return -1;
    }
    xs_result *r = cc_calloc(1, sizeof(xs_result));
    if (r == NULL) {
        return -1;
    }
    r->node = cc_deep_map_rebuild(f->circ, f->kids, changed);
    if (r->node == NULL || cc_hmap_put(&c->memo, f->key, r) < 0) {
        cc_node_decref(r->node);
        cc_free(r);
        return -1;
    }
    r->map = f->map;
    f->map = (xs_map){0};
    cc_node_incref(r->node);
    *node = r->node;
    *map = &r->map;
    return 0;
}

// The walk from root: *node (new reference) and *map (moved out). 0, or -1.
static int
xs_run(xs_ctx *c, cc_node *root, const xs_set *set, cc_node **node, xs_map *out)
{
    const xs_map *map = NULL;
    int r = xs_visit(c, root, set, c->o->traversal, node, &map);
    while (r == 0 && c->stack.len > 0) {
        xs_frame *f = c->stack.items[c->stack.len - 1];
        cc_node *got = NULL;
        int v;
        if (f->next < f->circ->n_children) {
            int i = f->next++;
            cc_node *child = f->circ->children[i];
            const xs_set *cs = i == 0 ? f->body_set : f->set;
            if (f->states != NULL && f->states[i] == NULL) {
                cc_node_incref(child);
                got = child;
                map = NULL;
                v = 1;
            } else {
                v = xs_visit(c, child, cs, f->states != NULL ? f->states[i] : NULL, &got, &map);
            }
            if (v < 0) {
                r = -1;
            } else if (v == 1) {
                f->kids[i] = got;
                if (xs_map_merge(&f->map, map) < 0) {
                    r = -1;
                }
            }
            continue;
        }
        if (xs_finish(c, f, &got, &map) < 0) {
            r = -1;
            break;
        }
        c->stack.len--;
        xs_frame_free(f);
        if (c->stack.len == 0) {
            *node = got;
        } else {
            xs_frame *parent = c->stack.items[c->stack.len - 1];
            parent->kids[parent->next - 1] = got;
            if (xs_map_merge(&parent->map, map) < 0) {
                r = -1;
            }
        }
    }
    if (r < 0) {
        return -1;
    }
    *out = (xs_map){0};
    return xs_map_merge(out, map);
}

// Every Module without arguments replaced by its body (rc's simp with elim_no_input_module).
static cc_node *
elim_no_input_post(void *ctx, cc_node *node, cc_node *const *kids, int changed)
{
    (void)ctx;
    cc_node *cur = cc_deep_map_rebuild(node, kids, changed);
    while (cur != NULL && cur->kind == CC_KIND_MODULE && cur->n_children == 1) {
        cc_node *body = cur->children[0];
        cc_node_incref(body);
        cc_node_decref(cur);
        cur = body;
    }
    return cur;
}

cc_node *
cc_extract_symbols(cc_node *circuit, int n, cc_node *const *symbols, const cc_extract_options *o)
{
    xs_ctx c = {.o = o};
    cc_ptrvec_init(&c.sets);
    cc_ptrvec_init(&c.stack);
    cc_hmap_init(&c.memo);
    cc_node *body = NULL, *out = NULL;
    xs_map map = {0};
    cc_module_arg_spec *specs = NULL;
    cc_node **args = NULL;
    const xs_set *set = xs_set_new(&c, n, symbols, 0, NULL);
    if (set == NULL || xs_run(&c, circuit, set, &body, &map) < 0) {
        goto done;
    }
    if (o->use_elim_no_input_modules) {
        cc_node *e = cc_deep_map(body, cc_deep_map_keep_module_free, elim_no_input_post, NULL);
        cc_node_decref(body);
        body = e;
        if (body == NULL) {
            goto done;
        }
    }
    specs = cc_malloc((size_t)(map.n > 0 ? map.n : 1) * sizeof(cc_module_arg_spec));
    args = cc_malloc((size_t)(map.n > 0 ? map.n : 1) * sizeof(cc_node *));
    if (specs == NULL || args == NULL) {
        goto done;
    }
    for (int i = 0; i < map.n; i++) {
        specs[i] = map.items[i].spec;
        args[i] = map.items[i].input;
    }
    out = cc_module_new(body, map.n, specs, args, circuit->name);
done:
    cc_free(specs);
    cc_free(args);
    xs_map_clear(&map);
    cc_node_decref(body);
    for (size_t i = 0; i < c.stack.len; i++) {
        xs_frame_free(c.stack.items[i]);
    }
    cc_ptrvec_clear(&c.stack);
    for (size_t s = 0; s < c.memo.cap; s++) {
        if (c.memo.slots[s].used) {
            xs_result *r = c.memo.slots[s].value;
            cc_node_decref(r->node);
            xs_map_clear(&r->map);
            cc_free(r);
        }
    }
    cc_hmap_clear(&c.memo);
    for (size_t i = 0; i < c.sets.len; i++) {
        cc_free(c.sets.items[i]);
    }
    cc_ptrvec_clear(&c.sets);
    return out;
}

cc_node *
cc_extract_symbols_get(cc_node *circuit, cc_imatcher *get, const cc_extract_options *o)
{
    cc_node **found;
    int64_t n;
    if (cc_match_get(circuit, get, &found, &n) < 0) {
        cc_error_prefix("get failed in extract symbols");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        if (found[i]->kind == CC_KIND_SYMBOL) {
            continue;
        }
        cc_str s;
        cc_str_init(&s);
        int rc = append_node(&s, found[i]);
        rc = rc < 0 ? rc : cc_str_append(&s, " (get=");
        rc = rc < 0 ? rc : cc_imatcher_describe(get, &s);
        if (rc < 0) {
            cc_fail(CC_E_NO_MEMORY, "extract_symbols_get: no memory for a message");
        } else {
            cc_fail(CC_E_EXTRACT_SYMBOLS_GET_FOUND_NON_SYMBOL, "non-symbol=%s)", s.data);
        }
        cc_str_clear(&s);
        cc_free(found);
        return NULL;
    }
    cc_node *out = n > INT32_MAX ? cc_fail_null(CC_E_PY_VALUE, "extract_symbols_get: too many "
                                                               "symbols")
                                 : cc_extract_symbols(circuit, (int)n, found, o);
    cc_free(found);
    return out;
}
