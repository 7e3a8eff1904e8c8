// rc's ModulePusher (push_down_modules, get_push_down_modules) and update_bindings_nested, with
// the built-in namers and module-construction callbacks. The walk is an explicit stack of
// frames memoised on (node, traversal state, skip state, pushed modules); Python is reached
// only through the callbacks of module_pusher.h.
#include "rewrite/module_pusher.h"
#include "rewrite/module_pusher_impl.h"

#include <string.h>

#include "expand/deep_map.h"
#include "expand/expand.h"
#include "expand/module.h"
#include "match/get.h"
#include "nodes/rearrange.h"
#include "rewrite/module_rewrite.h"
#include "util/alloc.h"
#include "util/blake3.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/vec.h"

static int
same_node(const cc_node *a, const cc_node *b)
{
    return a == b || memcmp(a->hash, b->hash, 32) == 0;
}

static char *
dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *out = cc_malloc(n);
    if (out != NULL) {
        memcpy(out, s, n);
    }
    return out;
}

// --- namers and callbacks ----------------------------------------------------------------------

// rc's default_nested_module_namer: the base name alone without modules, else
// "<base> <bind_name>:<m1>,<m2>,..." (inner to outer), none when any name is missing.
static int
default_namer(const char *bind_name, cc_node *base, int n, cc_node *const *mods, char **out)
{
    *out = NULL;
    if (base->name == NULL) {
        return 0;
    }
    if (n == 0) {
        *out = dup_str(base->name);
        return *out == NULL ? -1 : 0;
    }
    for (int i = 0; i < n; i++) {
        if (mods[i]->name == NULL) {
            return 0;
        }
    }
    cc_str s;
    cc_str_init(&s);
    if (cc_str_appendf(&s, "%s %s:", base->name, bind_name) < 0) {
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        if ((i > 0 && cc_str_append(&s, ",") < 0) || cc_str_append(&s, mods[i]->name) < 0) {
            goto fail;
        }
    }
    *out = cc_str_take(&s);
    return *out == NULL ? -1 : 0;
fail:
    cc_str_clear(&s);
    return -1;
}

int
cc_nested_namer_call(const cc_nested_namer *nm, cc_node *base, cc_node *running, int n_modules,
                     cc_node *const *modules, int64_t pushed_count, char **out)
{
    *out = NULL;
    switch (nm->kind) {
    case CC_NAMER_DEFAULT:
        return default_namer(nm->bind_name, base, n_modules, modules, out);
    case CC_NAMER_UPDATE_BINDINGS:
        if (pushed_count < 0 && nm->keep_name_if_not_leaf) {
            if (base->name != NULL && (*out = dup_str(base->name)) == NULL) {
                return -1;
            }
            return 0;
        }
        if (pushed_count < 0 && nm->short_if_not_leaf) {
            if (base->name == NULL) {
                return 0;
            }
            cc_str s;
            cc_str_init(&s);
            if (cc_str_appendf(&s, "%s %s", base->name, nm->bind_name) < 0) {
                cc_str_clear(&s);
                return -1;
            }
            *out = cc_str_take(&s);
            return *out == NULL ? -1 : 0;
        }
        return default_namer(nm->bind_name, base, n_modules, modules, out);
    case CC_NAMER_CALLBACK:
        return nm->call(nm->ctx, base, running, n_modules, modules, pushed_count, out);
    }
    return cc_fail(CC_E_PY_VALUE, "unknown namer kind %d", (int)nm->kind);
}

cc_node *
cc_module_construct_cb_call(const cc_module_construct_cb *cb, cc_node *m, int n_modules,
                            cc_node *const *modules, int64_t pushed_count)
{
    cc_node *out = NULL;
    switch (cb->kind) {
    case CC_MODULE_CB_NOOP:
        break;
    case CC_MODULE_CB_REMOVE_UNUSED:
        if (cc_module_remove_unused_inputs_op(m, cb->add_suffix, cb->elim_no_input, &out) < 0) {
            return NULL;
        }
        break;
    case CC_MODULE_CB_ELIM_NO_INPUT:
        if (cc_elim_no_input_module(m, &out) < 0) {
            return NULL;
        }
        break;
    case CC_MODULE_CB_CALLBACK:
        return cb->call(cb->ctx, m, n_modules, modules, pushed_count);
    }
    if (out == NULL) {
        cc_node_incref(m);
        out = m;
    }
    return out;
}

// --- the stack of pushed modules (rc's NestedModuleItems) ---------------------------------------

typedef struct {
    long refcount;
    int depth;
    cc_node **modules;         // depth, outer to inner; owned
    int *offsets;              // depth + 1: module k's arguments are [offsets[k], offsets[k + 1])
    cc_node **args_flat;       // each argument pushed with the modules outside its own; owned
    cc_node **args_base;       // each argument pushed with no module; owned
    cc_node **fused;           // args_flat with the batch axes of inner modules added; owned
    cc_module_arg_spec *specs; // each argument's spec; symbols borrowed from modules
    cc_node **rev;             // modules inner to outer; borrowed
    uint8_t hash[32];
} items;

static void
items_decref(items *it)
{
    if (it == NULL || --it->refcount > 0) {
        return;
    }
    int total = it->offsets != NULL ? it->offsets[it->depth] : 0;
    for (int g = 0; g < total; g++) {
        cc_node_decref(it->args_flat[g]);
        cc_node_decref(it->args_base[g]);
        cc_node_decref(it->fused[g]);
    }
    for (int k = 0; k < it->depth; k++) {
        cc_node_decref(it->modules[k]);
    }
    cc_free(it->modules);
    cc_free(it->offsets);
    cc_free(it->args_flat);
    cc_free(it->args_base);
    cc_free(it->fused);
    cc_free(it->specs);
    cc_free(it->rev);
    cc_free(it);
}

// An empty stack of depth modules (arrays allocated, entries NULL), or NULL.
static items *
items_alloc(int depth, int total)
{
    items *it = cc_calloc(1, sizeof(items));
    if (it == NULL) {
        return NULL;
    }
    it->refcount = 1;
    it->depth = depth;
    size_t d = (size_t)depth + 1, t = (size_t)total + 1;
    it->modules = cc_calloc(d, sizeof(cc_node *));
    it->offsets = cc_calloc(d, sizeof(int));
    it->args_flat = cc_calloc(t, sizeof(cc_node *));
    it->args_base = cc_calloc(t, sizeof(cc_node *));
    it->fused = cc_calloc(t, sizeof(cc_node *));
    it->specs = cc_calloc(t, sizeof(cc_module_arg_spec));
    it->rev = cc_calloc(d, sizeof(cc_node *));
    if (it->modules == NULL || it->offsets == NULL || it->args_flat == NULL ||
        it->args_base == NULL || it->fused == NULL || it->specs == NULL || it->rev == NULL) {
        it->depth = 0;
        items_decref(it);
        return NULL;
    }
    return it;
}

// node with cum (the batch axes of the modules inside its own) inserted between its batch axes
// and its symbol axes, and its module's missing leading batch axes (mod_batch) put in front of
// its own when pushing gave it extra leading axes: rc's fuse of nested modules into one. New
// reference, or NULL.
static cc_node *
fuse_arg(cc_node *node, const cc_node *orig, const cc_node *sym, int mb, const int64_t *mod_batch,
         int nc, const int64_t *cum)
{
    int orig_b = orig->ndim - sym->ndim;
    int non_batch = sym->ndim;
    int extra = node->ndim - orig->ndim;
    int missing = mb - orig_b;
    int any_batching = extra > 0 || orig_b > 0;
    int pad = missing > 0 && extra > 0 ? missing : 0;
    if (extra < 0) {
        return cc_fail_null(CC_E_PY_VALUE,
                            "push_down_modules: argument '%s' lost axes when pushed (%d < %d)",
                            orig->name ? orig->name : "", node->ndim, orig->ndim);
    }
    if (!((any_batching && nc > 0) || pad > 0)) {
        cc_node_incref(node);
        return node;
    }
    int n_in = extra + orig_b + non_batch;
    int n_out = extra + pad + orig_b + nc + non_batch;
    if (n_out > 255) {
        return cc_fail_null(CC_E_REARRANGE_SPEC,
                            "push_down_modules: too many axes (%d) to fuse argument '%s'", n_out,
                            orig->name ? orig->name : "");
    }
    int lens[256];
    uint8_t in_ints[256], out_ints[256];
    int64_t sizes[256];
    for (int i = 0; i < n_out; i++) {
        lens[i] = 1;
        out_ints[i] = (uint8_t)i;
        sizes[i] = CC_REARRANGE_SIZE_NONE;
    }
    int at = 0;
    for (int i = 0; i < extra; i++) {
        in_ints[at++] = (uint8_t)i;
    }
    for (int i = 0; i < pad; i++) {
        sizes[extra + i] = mod_batch[i];
    }
    for (int i = 0; i < orig_b; i++) {
        in_ints[at++] = (uint8_t)(extra + pad + i);
    }
    for (int i = 0; i < nc; i++) {
        sizes[extra + pad + orig_b + i] = cum[i];
    }
    for (int i = 0; i < non_batch; i++) {
        in_ints[at++] = (uint8_t)(extra + pad + orig_b + nc + i);
    }
    cc_rearrange_spec *spec =
        cc_rearrange_spec_new(n_in, lens, in_ints, n_out, lens, out_ints, n_out, sizes);
    if (spec == NULL) {
        return NULL;
    }
    char *name = NULL;
    if (node->name != NULL) {
        cc_str s;
        cc_str_init(&s);
        if (cc_str_appendf(&s, "%s rep_fuse", node->name) < 0 || (name = cc_str_take(&s)) == NULL) {
            cc_str_clear(&s);
            cc_rearrange_spec_free(spec);
            return NULL;
        }
    }
    cc_node *out = cc_rearrange_new(node, spec, name);
    cc_free(name);
    cc_rearrange_spec_free(spec);
    return out;
}

// Fills it->fused from it->args_flat (rc's fuse_modules_impl), then it->hash. 0, or -1.
static int
items_finish(items *it)
{
    int d = it->depth;
    int *bn = cc_calloc((size_t)d + 1, sizeof(int));
    int64_t *bs = cc_calloc((size_t)(d + 1) * CC_MAX_NDIM, sizeof(int64_t));
    int64_t *cum = cc_calloc((size_t)(d + 1) * CC_MAX_NDIM, sizeof(int64_t));
    int rc = -1;
    if (bn == NULL || bs == NULL || cum == NULL) {
        goto done;
    }
    for (int k = 0; k < d; k++) {
        if (cc_module_aligned_batch_shape(it->modules[k], &bn[k], bs + (size_t)k * CC_MAX_NDIM) <
            0) {
            goto done;
        }
    }
    for (int k = 0; k < d; k++) {
        // The batch axes of the modules inside module k, outer first: in the nested form they
        // come after module k's own batch axes.
        int nc = 0;
        for (int l = k + 1; l < d; l++) {
            for (int a = 0; a < bn[l]; a++) {
                if (nc == (d + 1) * CC_MAX_NDIM) {
                    cc_fail(CC_E_PY_VALUE, "push_down_modules: too many nested batch axes");
                    goto done;
                }
                cum[nc++] = bs[(size_t)l * CC_MAX_NDIM + (size_t)a];
            }
        }
        cc_node *m = it->modules[k];
        for (int g = it->offsets[k]; g < it->offsets[k + 1]; g++) {
            int j = g - it->offsets[k];
            it->fused[g] =
                fuse_arg(it->args_flat[g], m->children[1 + j], m->u.module.arg_specs[j].symbol,
                         bn[k], bs + (size_t)k * CC_MAX_NDIM, nc, cum);
            if (it->fused[g] == NULL) {
                goto done;
            }
        }
    }
    cc_blake3 h;
    cc_blake3_init(&h);
    static const char sep[] = "module pusher items";
    for (int k = 0; k < d; k++) {
        for (int g = it->offsets[k]; g < it->offsets[k + 1]; g++) {
            cc_blake3_update(&h, it->args_flat[g]->hash, 32);
        }
        for (int g = it->offsets[k]; g < it->offsets[k + 1]; g++) {
            cc_blake3_update(&h, it->args_base[g]->hash, 32);
        }
        cc_blake3_update(&h, sep, sizeof sep);
        cc_blake3_update(&h, it->modules[k]->hash, 32);
    }
    cc_blake3_final(&h, it->hash, 32);
    rc = 0;
done:
    cc_free(bn);
    cc_free(bs);
    cc_free(cum);
    return rc;
}

// parent with m pushed inside (rc's NestedModuleItems::push); flat and base: one per argument,
// borrowed. New stack, or NULL.
static items *
items_push(const items *parent, cc_node *m, cc_node *const *flat, cc_node *const *base)
{
    int d = parent->depth;
    int pt = parent->offsets[d];
    int n = m->n_children - 1;
    items *it = items_alloc(d + 1, pt + n);
    if (it == NULL) {
        return NULL;
    }
    for (int k = 0; k < d; k++) {
        it->modules[k] = parent->modules[k];
        cc_node_incref(it->modules[k]);
        it->offsets[k] = parent->offsets[k];
    }
    it->modules[d] = m;
    cc_node_incref(m);
    it->offsets[d] = pt;
    it->offsets[d + 1] = pt + n;
    for (int g = 0; g < pt + n; g++) {
        it->args_flat[g] = g < pt ? parent->args_flat[g] : flat[g - pt];
        it->args_base[g] = g < pt ? parent->args_base[g] : base[g - pt];
        cc_node_incref(it->args_flat[g]);
        cc_node_incref(it->args_base[g]);
    }
    for (int k = 0; k <= d; k++) {
        it->rev[d - k] = it->modules[k];
        for (int g = it->offsets[k]; g < it->offsets[k + 1]; g++) {
            it->specs[g] = it->modules[k]->u.module.arg_specs[g - it->offsets[k]];
        }
    }
    if (items_finish(it) < 0) {
        items_decref(it);
        return NULL;
    }
    return it;
}

// The fused argument bound to symbol sym (the innermost binding wins), or NULL.
static cc_node *
items_bound(const items *it, const cc_node *sym)
{
    for (int g = it->offsets[it->depth] - 1; g >= 0; g--) {
        if (same_node(it->specs[g].symbol, sym)) {
            return it->fused[g];
        }
    }
    return NULL;
}

// --- replacements under which a subtree is pushed (rc's extra_replacements) ---------------------

// Set when a skipped Module moves batch axes into its symbols: its body is pushed again with
// each old symbol replaced by the grown one.
typedef struct {
    long refcount;
    int n;
    cc_node **keys, **values; // owned; keys distinct
    uint8_t hash[32];
} repmap;

static void
repmap_decref(repmap *m)
{
    if (m == NULL || --m->refcount > 0) {
        return;
    }
    for (int i = 0; i < m->n; i++) {
        cc_node_decref(m->keys[i]);
        cc_node_decref(m->values[i]);
    }
    cc_free(m->keys);
    cc_free(m->values);
    cc_free(m);
}

// The map of the n pairs (a later equal key replaces an earlier one's value). New, or NULL.
static repmap *
repmap_new(int n, cc_node *const *keys, cc_node *const *values)
{
    repmap *m = cc_calloc(1, sizeof(repmap));
    if (m == NULL) {
        return NULL;
    }
    m->refcount = 1;
    m->keys = cc_malloc(((size_t)n + 1) * sizeof(cc_node *));
    m->values = cc_malloc(((size_t)n + 1) * sizeof(cc_node *));
    if (m->keys == NULL || m->values == NULL) {
        repmap_decref(m);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        int at = m->n;
        for (int j = 0; j < m->n; j++) {
            if (same_node(m->keys[j], keys[i])) {
                at = j;
            }
        }
        cc_node_incref(values[i]);
        if (at < m->n) {
            cc_node_decref(m->values[at]);
        } else {
            cc_node_incref(keys[i]);
            m->keys[m->n++] = keys[i];
        }
        m->values[at] = values[i];
    }
    cc_blake3 h;
    cc_blake3_init(&h);
    static const char tag[] = "module pusher replacements";
    cc_blake3_update(&h, tag, sizeof tag);
    for (int i = 0; i < m->n; i++) {
        cc_blake3_update(&h, m->keys[i]->hash, 32);
        cc_blake3_update(&h, m->values[i]->hash, 32);
    }
    cc_blake3_final(&h, m->hash, 32);
    return m;
}

// m's pairs followed by the n given ones. New, or NULL.
static repmap *
repmap_extend(const repmap *m, int n, cc_node *const *keys, cc_node *const *values)
{
    size_t total = (size_t)m->n + (size_t)n + 1;
    cc_node **k = cc_malloc(total * sizeof(cc_node *));
    cc_node **v = cc_malloc(total * sizeof(cc_node *));
    repmap *out = NULL;
    if (k != NULL && v != NULL) {
        memcpy(k, m->keys, (size_t)m->n * sizeof(cc_node *));
        memcpy(v, m->values, (size_t)m->n * sizeof(cc_node *));
        memcpy(k + m->n, keys, (size_t)n * sizeof(cc_node *));
        memcpy(v + m->n, values, (size_t)n * sizeof(cc_node *));
        out = repmap_new(m->n + n, k, v);
    }
    cc_free(k);
    cc_free(v);
    return out;
}

static cc_node *
repmap_get(const repmap *m, const cc_node *key)
{
    for (int i = 0; i < m->n; i++) {
        if (same_node(m->keys[i], key)) {
            return m->values[i];
        }
    }
    return NULL;
}

// The map child i of c is pushed under (rc's per_child): a Module's body does not see the
// replacements of the symbols the Module binds. New reference, or NULL.
static repmap *
repmap_for_child(repmap *m, const cc_node *c, int i)
{
    int hides = 0;
    if (i == 0 && c->kind == CC_KIND_MODULE) {
        for (int j = 0; j < c->n_children - 1; j++) {
            hides |= repmap_get(m, c->u.module.arg_specs[j].symbol) != NULL;
        }
    }
    if (!hides) {
        m->refcount++;
        return m;
    }
    cc_node **k = cc_malloc(((size_t)m->n + 1) * sizeof(cc_node *));
    cc_node **v = cc_malloc(((size_t)m->n + 1) * sizeof(cc_node *));
    repmap *out = NULL;
    if (k != NULL && v != NULL) {
        int n = 0;
        for (int e = 0; e < m->n; e++) {
            int bound = 0;
            for (int j = 0; j < c->n_children - 1; j++) {
                bound |= same_node(m->keys[e], c->u.module.arg_specs[j].symbol);
            }
            if (!bound) {
                k[n] = m->keys[e];
                v[n++] = m->values[e];
            }
        }
        out = repmap_new(n, k, v);
    }
    cc_free(k);
    cc_free(v);
    return out;
}

// --- the walk -----------------------------------------------------------------------------------

typedef enum {
    MODE_OVERRIDE, // update_bindings_nested: modules kept, found nodes rebound
    MODE_CIRC,     // push_down_modules
    MODE_GET,      // get_push_down_modules
} push_mode;

// What a (node, states, modules) computes.
typedef struct {
    cc_node *circ;   // CIRC and OVERRIDE; owned
    cc_ptrvec set;   // GET: found nodes wrapped, owned, distinct
    int from_term;   // rc's circuit_is_from_term
    cc_ptrvec prior; // rc's prior_inner_circuits; owned
} result;

typedef struct {
    const cc_module_pusher *p;
    push_mode mode;
    cc_update_bindings *ub; // the module callback of update_bindings_nested, else NULL
    cc_imatcher *term;
    cc_any_found *af;
    items *empty;
    repmap *no_rep;
    cc_hmap memo;  // key -> result
    cc_ptrvec all; // every result, owned
    result *last;  // the result the last finished frame gave (borrowed from all)
} run;

static void
result_free(result *r)
{
    if (r == NULL) {
        return;
    }
    cc_node_decref(r->circ);
    for (size_t i = 0; i < r->set.len; i++) {
        cc_node_decref(r->set.items[i]);
    }
    cc_ptrvec_clear(&r->set);
    for (size_t i = 0; i < r->prior.len; i++) {
        cc_node_decref(r->prior.items[i]);
    }
    cc_ptrvec_clear(&r->prior);
    cc_free(r);
}

// Adds n (a new reference is taken) to v unless an equal node is there. 0, or -1.
static int
add_distinct(cc_ptrvec *v, cc_node *n)
{
    for (size_t i = 0; i < v->len; i++) {
        if (same_node(v->items[i], n)) {
            return 0;
        }
    }
    if (cc_ptrvec_push(v, n) < 0) {
        return -1;
    }
    cc_node_incref(n);
    return 0;
}

// A Module binding nodes[i] to specs[i] in running, named by the namer, passed through the
// construct callback (rc's build_module_flat; call = 0 skips the callback). New reference.
static cc_node *
build_module(run *r, cc_node *base, cc_node *running, int n, cc_node *const *nodes,
             const cc_module_arg_spec *specs, int n_mods, cc_node *const *mods, int overall,
             int call)
{
    char *name = NULL;
    if (cc_nested_namer_call(&r->p->namer, base, running, n_mods, mods, overall, &name) < 0) {
        cc_error_prefix("namer failed in push down module");
        return NULL;
    }
    cc_node *m = cc_module_new(running, n, specs, nodes, name);
    cc_free(name);
    if (m == NULL || !call) {
        return m;
    }
    cc_node *out = r->ub != NULL
                       ? cc_update_bindings_call(r->ub, m, n_mods, mods, overall)
                       : cc_module_construct_cb_call(&r->p->callback, m, n_mods, mods, overall);
    cc_node_decref(m);
    return out;
}

// spec's symbol grown by the last `extra` batch axes of its argument c (rc's update_flat): the
// new symbol (a new reference) is stored in spec and recorded as key -> value. 0, or -1.
static int
grow_symbol(const cc_node *c, cc_module_arg_spec *spec, int extra, cc_ptrvec *keys,
            cc_ptrvec *values)
{
    const cc_node *sym = spec->symbol;
    int cb = c->ndim - sym->ndim;
    int start = cb > extra ? cb - extra : 0;
    if (start >= cb) {
        return 0;
    }
    int64_t shape[CC_MAX_NDIM];
    int ndim = cb - start + sym->ndim;
    memcpy(shape, c->shape + start, (size_t)(cb - start) * sizeof(int64_t));
    memcpy(shape + cb - start, sym->shape, (size_t)sym->ndim * sizeof(int64_t));
    cc_node *grown =
        cc_symbol_new(ndim, shape, sym->u.symbol.uuid, sym->name ? sym->name : CC_NO_NAME);
    if (grown == NULL) {
        return -1;
    }
    if (cc_ptrvec_push(keys, spec->symbol) < 0 || cc_ptrvec_push(values, grown) < 0) {
        if (keys->len > values->len) {
            keys->len--;
        }
        cc_node_decref(grown);
        return -1;
    }
    spec->symbol = grown;
    return 0;
}

// circuit wrapped in the pushed modules (rc's finalize): one Module binding every fused
// argument, or one Module per pushed module over the arguments pushed with no module. The
// replacements rep apply to circuit first; batch axes they add are moved into the symbols.
static cc_node *
finalize(run *r, cc_node *circuit, const items *it, const repmap *rep)
{
    int d = it->depth, total = it->offsets[d];
    int flat = r->p->flatten_modules;
    cc_node *finished = circuit;
    cc_node *out = NULL;
    cc_module_arg_spec *specs = it->specs;
    cc_ptrvec keys, values;
    cc_ptrvec_init(&keys);
    cc_ptrvec_init(&values);
    if (rep->n > 0) {
        finished = cc_replace_expand(circuit, rep->n, rep->keys, rep->values);
    } else {
        cc_node_incref(circuit);
    }
    if (finished == NULL) {
        return NULL;
    }
    int extra = finished->ndim - circuit->ndim;
    if (extra > 0) {
        specs = cc_malloc(((size_t)total + 1) * sizeof(cc_module_arg_spec));
        if (specs == NULL) {
            goto done;
        }
        memcpy(specs, it->specs, (size_t)total * sizeof(cc_module_arg_spec));
        for (int i = 0; i < rep->n; i++) {
            if (cc_ptrvec_push(&keys, rep->keys[i]) < 0 ||
                cc_ptrvec_push(&values, rep->values[i]) < 0) {
                goto done;
            }
        }
        int covered = 0;
        for (int k = d - 1; k >= 0; k--) {
            int here = flat ? extra : (extra > covered ? extra - covered : 0);
            if (!flat) {
                int bn;
                int64_t bs[CC_MAX_NDIM];
                if (cc_module_aligned_batch_shape(it->modules[k], &bn, bs) < 0) {
                    goto done;
                }
                covered += bn;
            }
            for (int g = it->offsets[k]; g < it->offsets[k + 1]; g++) {
                const cc_node *c = flat ? it->fused[g] : it->args_base[g];
                if (grow_symbol(c, &specs[g], here, &keys, &values) < 0) {
                    goto done;
                }
            }
        }
        cc_node_decref(finished);
        finished = cc_replace_expand(circuit, (int)keys.len, (cc_node *const *)keys.items,
                                     (cc_node *const *)values.items);
        if (finished == NULL) {
            goto done;
        }
    }
    if (flat) {
        out = build_module(r, finished, finished, total, it->fused, specs, d, it->rev, d, 1);
        goto done;
    }
    cc_node_incref(finished);
    cc_node *cur = finished;
    for (int k = d - 1; k >= 0 && cur != NULL; k--) {
        int o = it->offsets[k];
        cc_node *next = build_module(r, finished, cur, it->offsets[k + 1] - o, it->args_base + o,
                                     specs + o, d - k, it->rev, d, 1);
        cc_node_decref(cur);
        cur = next;
    }
    out = cur;
done:
    cc_node_decref(finished);
    for (size_t i = (size_t)rep->n; i < values.len; i++) {
        cc_node_decref(values.items[i]);
    }
    cc_ptrvec_clear(&keys);
    cc_ptrvec_clear(&values);
    if (specs != it->specs) {
        cc_free(specs);
    }
    return out;
}

enum {
    P_START,
    P_ARGS,      // arguments pushed with the current modules
    P_BASE,      // arguments pushed with no module
    P_BODY,      // the body, with the module pushed
    P_BODY_DONE, //
    P_KIDS,      // children of a node that is not a pushed Module
};

typedef struct {
    cc_node *circuit;        // borrowed from its parent frame (or the caller)
    cc_imatcher *get, *skip; // owned
    items *items;            // owned
    repmap *rep;             // owned
    uint8_t key[32];
    int phase, i, n;
    cc_step gs, ss;
    cc_node **a;   // P_ARGS / P_KIDS results, owned
    cc_node **b;   // P_BASE results, owned
    items *pushed; // the modules with this one pushed, for the body
    int waiting;   // a child was requested; its result is r->last
    cc_ptrvec set; // MODE_GET: found so far, owned
} frame;

typedef struct {
    frame *f;
    size_t len, cap;
} fstack;

static void
frame_clear(frame *f)
{
    cc_imatcher_decref(f->get);
    cc_imatcher_decref(f->skip);
    items_decref(f->items);
    items_decref(f->pushed);
    repmap_decref(f->rep);
    cc_step_clear(&f->gs);
    cc_step_clear(&f->ss);
    for (int i = 0; i < f->n; i++) {
        if (f->a != NULL) {
            cc_node_decref(f->a[i]);
        }
        if (f->b != NULL) {
            cc_node_decref(f->b[i]);
        }
    }
    cc_free(f->a);
    cc_free(f->b);
    for (size_t i = 0; i < f->set.len; i++) {
        cc_node_decref(f->set.items[i]);
    }
    cc_ptrvec_clear(&f->set);
}

static void
make_key(const run *r, const cc_node *c, const cc_imatcher *g, const cc_imatcher *s,
         const items *it, const repmap *rep, uint8_t out[32])
{
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, c->hash, 32);
    cc_blake3_update(&h, g->hash, 32);
    cc_blake3_update(&h, s->hash, 32);
    cc_blake3_update(&h, it->hash, 32);
    cc_blake3_update(&h, rep->hash, 32);
    uint8_t mode = (uint8_t)r->mode;
    cc_blake3_update(&h, &mode, 1);
    cc_blake3_final(&h, out, 32);
}

// The state child i gets from step s of state applied (rc's per_child_with_term). Borrowed.
static cc_imatcher *
child_state(const run *r, const cc_step *s, cc_imatcher *applied, int i)
{
    switch (s->kind) {
    case CC_STEP_SAME:
        return applied;
    case CC_STEP_FINISHED:
        return r->term;
    case CC_STEP_ONE:
        return s->one;
    case CC_STEP_PER_CHILD:
        return s->per_child[i] != NULL ? s->per_child[i] : r->term;
    }
    return r->term;
}

// The result of (c, g, s, it, rep): known now (r->last set, returns 1) or a new frame (returns
// 0). -1 on error.
static int
request(run *r, fstack *st, cc_node *c, cc_imatcher *g, cc_imatcher *s, items *it, repmap *rep)
{
    uint8_t key[32];
    make_key(r, c, g, s, it, rep, key);
    result *known = cc_hmap_get(&r->memo, key);
    if (known != NULL) {
        r->last = known;
        return 1;
    }
    if (cc_grow((void **)&st->f, &st->cap, st->len + 1, sizeof(frame)) < 0) {
        return -1;
    }
    frame *f = &st->f[st->len++];
    memset(f, 0, sizeof *f);
    f->circuit = c;
    f->get = g;
    cc_imatcher_incref(g);
    f->skip = s;
    cc_imatcher_incref(s);
    f->items = it;
    it->refcount++;
    f->rep = rep;
    rep->refcount++;
    memcpy(f->key, key, 32);
    cc_step_init(&f->gs);
    cc_step_init(&f->ss);
    cc_ptrvec_init(&f->set);
    f->phase = P_START;
    return 0;
}

// Ends the top frame with res (taken over): memoised, handed to the parent as r->last.
static int
finish(run *r, fstack *st, result *res)
{
    frame *f = &st->f[st->len - 1];
    if (cc_ptrvec_push(&r->all, res) < 0) {
        result_free(res);
        return -1;
    }
    if (cc_hmap_put(&r->memo, f->key, res) < 0) {
        return -1;
    }
    r->last = res;
    frame_clear(f);
    st->len--;
    return 0;
}

static result *
result_new(void)
{
    result *res = cc_calloc(1, sizeof(result));
    if (res != NULL) {
        cc_ptrvec_init(&res->set);
        cc_ptrvec_init(&res->prior);
    }
    return res;
}

// A result holding out (taken over) or, in MODE_GET, the frame's found set (moved).
static int
finish_with(run *r, fstack *st, cc_node *out, int from_term)
{
    frame *f = &st->f[st->len - 1];
    result *res = result_new();
    if (res == NULL) {
        cc_node_decref(out);
        return -1;
    }
    res->circ = out;
    res->from_term = from_term;
    if (r->mode == MODE_GET) {
        res->set = f->set;
        cc_ptrvec_init(&f->set);
    }
    return finish(r, st, res);
}

// rc's renaming of a node that pushing changed: not when it is the body or an argument of a
// module pushed through (prior), nor a bound argument inside a module stack.
static int
finish_renamed(run *r, fstack *st, cc_node *out, int from_term, cc_ptrvec *prior)
{
    frame *f = &st->f[st->len - 1];
    int in_prior = 0;
    for (size_t i = 0; i < prior->len; i++) {
        in_prior |= same_node(prior->items[i], out);
    }
    if (!same_node(out, f->circuit) && !in_prior && (!from_term || f->items->depth == 0)) {
        char *name = NULL;
        if (cc_nested_namer_call(&r->p->namer, f->circuit, f->circuit, f->items->depth,
                                 f->items->rev, -1, &name) < 0) {
            cc_error_prefix("namer failed in push down module");
            goto fail;
        }
        cc_node *renamed = cc_node_rename(out, name);
        cc_free(name);
        cc_node_decref(out);
        out = renamed;
        if (out == NULL) {
            goto fail;
        }
    }
    result *res = result_new();
    if (res == NULL) {
        goto fail;
    }
    res->circ = out;
    res->from_term = from_term;
    res->prior = *prior;
    cc_ptrvec_init(prior);
    return finish(r, st, res);
fail:
    cc_node_decref(out);
    for (size_t i = 0; i < prior->len; i++) {
        cc_node_decref(prior->items[i]);
    }
    cc_ptrvec_clear(prior);
    return -1;
}

// Takes the last result into slot (a new reference) or, in MODE_GET, its set into the frame's.
static int
take_last(run *r, frame *f, cc_node **slot)
{
    if (r->mode == MODE_GET) {
        for (size_t i = 0; i < r->last->set.len; i++) {
            if (add_distinct(&f->set, r->last->set.items[i]) < 0) {
                return -1;
            }
        }
        return 0;
    }
    *slot = r->last->circ;
    cc_node_incref(*slot);
    return 0;
}

// The first steps of a frame (rc's push_down_modules_rec up to the recursion): 1 when the
// frame finished, 0 when it goes on to a later phase, -1.
static int
start(run *r, fstack *st)
{
    frame *f = &st->f[st->len - 1];
    cc_node *c = f->circuit;
    int push_or_get = r->mode != MODE_CIRC;
    if (cc_imatcher_step(f->get, c, &f->gs) < 0) {
        return -1;
    }
    int found = f->gs.found;
    int all_done = cc_step_all_finished(&f->gs) || (found && r->mode == MODE_OVERRIDE);
    if (!all_done && push_or_get) {
        int any = 0;
        for (int i = 0; i < c->n_children && !any; i++) {
            if (cc_any_found_run(r->af, c->children[i], child_state(r, &f->gs, f->get, i), &any) <
                0) {
                return -1;
            }
        }
        all_done = !any;
    }
    if (r->mode == MODE_GET && found) {
        cc_node *w = finalize(r, c, f->items, f->rep);
        if (w == NULL) {
            return -1;
        }
        int e = add_distinct(&f->set, w);
        cc_node_decref(w);
        if (e < 0) {
            return -1;
        }
    }
    if (all_done) {
        cc_node *out = NULL;
        if (r->mode == MODE_CIRC || (r->mode == MODE_OVERRIDE && found)) {
            if ((out = finalize(r, c, f->items, f->rep)) == NULL) {
                return -1;
            }
        } else if (r->mode == MODE_OVERRIDE) {
            cc_node_incref(c);
            out = c;
        }
        return finish_with(r, st, out, 1) < 0 ? -1 : 1;
    }
    cc_node *bound = c->kind == CC_KIND_SYMBOL ? items_bound(f->items, c) : NULL;
    if (bound != NULL && !r->p->bind_encountered_symbols) {
        return cc_fail(CC_E_PUSH_DOWN_MODULE_PUSH_PAST_PREVIOUSLY_BOUND_SYMBOL,
                       "the encountered symbol '%s' was bound by a pushed module, but "
                       "bind_encountered_symbols is false",
                       c->name ? c->name : "");
    }
    if (bound == NULL) {
        bound = repmap_get(f->rep, c);
    }
    if (bound != NULL) {
        // a bound symbol or a replaced node: its argument or replacement, which the modules
        // above leave as it is
        result *res = result_new();
        if (res == NULL || add_distinct(&res->prior, bound) < 0) {
            result_free(res);
            return -1;
        }
        cc_node_incref(bound);
        res->circ = bound;
        res->from_term = 1;
        return finish(r, st, res) < 0 ? -1 : 1;
    }
    if (cc_imatcher_step(f->skip, c, &f->ss) < 0) {
        return -1;
    }
    f->n = c->n_children;
    f->a = cc_calloc((size_t)f->n + 1, sizeof(cc_node *));
    if (f->a == NULL) {
        return -1;
    }
    if (c->kind == CC_KIND_MODULE && !f->ss.found) {
        f->b = cc_calloc((size_t)f->n + 1, sizeof(cc_node *));
        if (f->b == NULL) {
            return -1;
        }
        f->phase = P_ARGS;
        f->i = 1;
        return 0;
    }
    if (c->kind == CC_KIND_MODULE) {
        for (int j = 0; j < c->n_children - 1; j++) {
            const cc_node *sym = c->u.module.arg_specs[j].symbol;
            if (items_bound(f->items, sym) != NULL) {
                return cc_fail(CC_E_PUSH_DOWN_MODULE_PUSHING_PAST_MODULE_WHICH_OVERRIDES_SYM,
                               "(Not currently supported) the encountered symbol '%s' was bound "
                               "by a pushed module, but the skipped module '%s' overrides this "
                               "binding",
                               sym->name ? sym->name : "", c->name ? c->name : "");
            }
        }
    }
    f->phase = P_KIDS;
    f->i = 0;
    return 0;
}

// The arguments of a pushed Module with the outer modules fully substituted (the GET and
// OVERRIDE form of args_flat, in f->b's place until the body is pushed). 0, or -1.
static int
substituted_args(run *r, frame *f, cc_node **out)
{
    const items *it = f->items;
    int d = it->depth;
    for (int j = 1; j < f->n; j++) {
        cc_node *arg = f->circuit->children[j];
        cc_node *m =
            build_module(r, arg, arg, it->offsets[d], it->fused, it->specs, d, it->rev, d, 0);
        if (m == NULL) {
            return -1;
        }
        out[j] = cc_module_substitute(m, NULL, NULL);
        cc_node_decref(m);
        if (out[j] == NULL) {
            return -1;
        }
    }
    return 0;
}

static const result *run_walk(run *r, cc_node *root, cc_imatcher *get, cc_imatcher *skip, items *it,
                              repmap *rep);

// What a skipped Module moving batch axes into its symbols needs to push its body again.
typedef struct {
    run *r;
    cc_imatcher *get, *skip; // child 0's states, borrowed
    items *items;
    repmap *rep;
} rerun_ctx;

// rc's expand_node callback: the old body pushed again under the frame's replacements plus
// the grown symbols (a nested walk, as deep as the nesting of such modules).
static cc_node *
rerun_body(void *ctx, cc_node *body, int n, cc_node *const *keys, cc_node *const *values)
{
    rerun_ctx *x = ctx;
    repmap *rep = repmap_extend(x->rep, n, keys, values);
    if (rep == NULL) {
        return NULL;
    }
    const result *res = run_walk(x->r, body, x->get, x->skip, x->items, rep);
    repmap_decref(rep);
    if (res == NULL) {
        return NULL;
    }
    cc_node_incref(res->circ);
    return res->circ;
}

// The next piece of the top frame's work: a child requested, a phase ended, or the frame
// finished. 0, or -1.
static int
step_frame(run *r, fstack *st)
{
    frame *f = &st->f[st->len - 1];
    cc_node *c = f->circuit;
    if (f->phase == P_START) {
        return start(r, st) < 0 ? -1 : 0;
    }
    if (f->phase == P_ARGS || f->phase == P_BASE || f->phase == P_KIDS) {
        cc_node **slots = f->phase == P_BASE ? f->b : f->a;
        if (f->waiting) {
            f->waiting = 0;
            if (take_last(r, f, &slots[f->i]) < 0) {
                return -1;
            }
            f->i++;
        }
        if (f->i < f->n) {
            items *it = f->phase == P_BASE ? r->empty : f->items;
            // the children of a node that is not a pushed Module see rc's per-child maps
            int own = f->phase == P_KIDS;
            repmap *rep = own ? repmap_for_child(f->rep, c, f->i) : f->rep;
            if (rep == NULL) {
                return -1;
            }
            f->waiting = 1;
            int q = request(r, st, c->children[f->i], child_state(r, &f->gs, f->get, f->i),
                            child_state(r, &f->ss, f->skip, f->i), it, rep);
            if (own) {
                repmap_decref(rep);
            }
            return q < 0 ? -1 : 0;
        }
        if (f->phase == P_KIDS) {
            if (r->mode == MODE_GET) {
                return finish_with(r, st, NULL, 1);
            }
            rerun_ctx x = {r, child_state(r, &f->gs, f->get, 0), child_state(r, &f->ss, f->skip, 0),
                           f->items, f->rep};
            cc_node *out = cc_expand_node_rerun(c, f->a, rerun_body, &x);
            if (out == NULL) {
                return cc_error_prefix("expand fail in push down modules");
            }
            cc_ptrvec none;
            cc_ptrvec_init(&none);
            return finish_renamed(r, st, out, 0, &none);
        }
        if (f->phase == P_ARGS && r->mode == MODE_CIRC) {
            f->phase = P_BASE;
            f->i = 1;
            return 0;
        }
        if (f->phase == P_BASE) {
            f->pushed = items_push(f->items, c, f->a + 1, f->b + 1);
        } else {
            if (substituted_args(r, f, f->b) < 0) {
                return -1;
            }
            f->pushed = items_push(f->items, c, f->b + 1, c->children + 1);
        }
        if (f->pushed == NULL) {
            return -1;
        }
        f->phase = P_BODY;
        return 0;
    }
    if (f->phase == P_BODY) {
        f->phase = P_BODY_DONE;
        return request(r, st, c->children[0], child_state(r, &f->gs, f->get, 0),
                       child_state(r, &f->ss, f->skip, 0), f->pushed, f->rep) < 0
                   ? -1
                   : 0;
    }
    // P_BODY_DONE: the body's result is r->last
    const result *body = r->last;
    if (r->mode == MODE_GET) {
        if (take_last(r, f, NULL) < 0) {
            return -1;
        }
        return finish_with(r, st, NULL, 1);
    }
    cc_ptrvec prior;
    cc_ptrvec_init(&prior);
    if (r->mode == MODE_OVERRIDE) {
        f->a[0] = body->circ;
        cc_node_incref(f->a[0]);
        cc_node *out = cc_deep_map_rebuild(c, f->a, 1);
        if (out == NULL) {
            return -1;
        }
        return finish_renamed(r, st, out, 0, &prior);
    }
    for (size_t i = 0; i < body->prior.len; i++) {
        if (add_distinct(&prior, body->prior.items[i]) < 0) {
            goto fail;
        }
    }
    if (add_distinct(&prior, c->children[0]) < 0) {
        goto fail;
    }
    cc_node_incref(body->circ);
    return finish_renamed(r, st, body->circ, body->from_term, &prior);
fail:
    for (size_t i = 0; i < prior.len; i++) {
        cc_node_decref(prior.items[i]);
    }
    cc_ptrvec_clear(&prior);
    return -1;
}

static int
run_init(run *r, const cc_module_pusher *p, push_mode mode, cc_update_bindings *ub)
{
    memset(r, 0, sizeof *r);
    r->p = p;
    r->mode = mode;
    r->ub = ub;
    cc_hmap_init(&r->memo);
    cc_ptrvec_init(&r->all);
    r->term = cc_imatcher_term(0);
    r->af = cc_any_found_new();
    r->empty = items_alloc(0, 0);
    r->no_rep = repmap_new(0, NULL, NULL);
    if (r->term == NULL || r->af == NULL || r->empty == NULL || r->no_rep == NULL ||
        items_finish(r->empty) < 0) {
        return -1;
    }
    return 0;
}

static void
run_clear(run *r)
{
    for (size_t i = 0; i < r->all.len; i++) {
        result_free(r->all.items[i]);
    }
    cc_ptrvec_clear(&r->all);
    cc_hmap_clear(&r->memo);
    cc_imatcher_decref(r->term);
    if (r->af != NULL) {
        cc_any_found_free(r->af);
    }
    items_decref(r->empty);
    repmap_decref(r->no_rep);
}

// The result of pushing it into root under rep (borrowed from r), or NULL.
static const result *
run_walk(run *r, cc_node *root, cc_imatcher *get, cc_imatcher *skip, items *it, repmap *rep)
{
    fstack st = {NULL, 0, 0};
    int q = request(r, &st, root, get, skip, it, rep);
    while (q >= 0 && st.len > 0) {
        q = step_frame(r, &st);
    }
    while (st.len > 0) {
        frame_clear(&st.f[--st.len]);
    }
    cc_free(st.f);
    return q < 0 ? NULL : r->last;
}

cc_node *
cc_push_down_modules(const cc_module_pusher *p, cc_node *circuit, cc_imatcher *traversal,
                     cc_imatcher *skip_module)
{
    run r;
    cc_node *out = NULL;
    if (run_init(&r, p, MODE_CIRC, NULL) == 0) {
        const result *res = run_walk(&r, circuit, traversal,
                                     skip_module != NULL ? skip_module : r.term, r.empty, r.no_rep);
        if (res != NULL) {
            out = res->circ;
            cc_node_incref(out);
        }
    }
    run_clear(&r);
    return out;
}

int
cc_get_push_down_modules(const cc_module_pusher *p, cc_node *circuit, cc_imatcher *get,
                         cc_imatcher *skip_module, cc_node ***out, int64_t *n_out)
{
    run r;
    int rc = -1;
    *out = NULL;
    *n_out = 0;
    if (run_init(&r, p, MODE_GET, NULL) == 0) {
        const result *res = run_walk(&r, circuit, get, skip_module != NULL ? skip_module : r.term,
                                     r.empty, r.no_rep);
        if (res != NULL && (*out = cc_malloc((res->set.len + 1) * sizeof(cc_node *))) != NULL) {
            for (size_t i = 0; i < res->set.len; i++) {
                (*out)[i] = res->set.items[i];
                cc_node_incref((*out)[i]);
            }
            *n_out = (int64_t)res->set.len;
            rc = 0;
        }
    }
    run_clear(&r);
    return rc;
}

cc_node *
cc_update_bindings_nested(cc_node *circuit, const cc_maybe_update *update, cc_imatcher *matcher,
                          const cc_nested_namer *namer, cc_imatcher *skip_module,
                          int run_update_on_new_spec_circuits, int flatten_modules)
{
    cc_module_pusher p = {
        .flatten_modules = flatten_modules,
        .bind_encountered_symbols = 1,
        .callback = {.kind = CC_MODULE_CB_NOOP},
        .namer = *namer,
    };
    cc_update_bindings ub;
    cc_update_bindings_init(&ub, update, namer, run_update_on_new_spec_circuits, flatten_modules);
    run r;
    cc_node *out = NULL;
    if (run_init(&r, &p, MODE_OVERRIDE, &ub) == 0) {
        const result *res = run_walk(&r, circuit, matcher,
                                     skip_module != NULL ? skip_module : r.term, r.empty, r.no_rep);
        if (res != NULL) {
            out = res->circ;
            cc_node_incref(out);
        }
    }
    run_clear(&r);
    cc_update_bindings_clear(&ub);
    return out;
}
