// The Module and ModuleSpec operations built on substitution (rc's ModuleSpec::resize,
// conform_to_input_shapes / conform_to_input_batch_shape, new_extract,
// rename_on_replaced_path). Walks are explicit stacks.
#include <stdio.h>
#include <string.h>

#include "expand/deep_map.h"
#include "expand/module.h"
#include "expand/module_impl.h"
#include "nodes/node_impl.h"
#include "nodes/shape.h"
#include "nodes/symbol_set.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/vec.h"

// --- resize and conform ------------------------------------------------------------------------

int
cc_module_spec_resize(cc_node *body, int n, const cc_module_arg_spec *specs, const int *ndims,
                      const int64_t *const *shapes, cc_node **out_body,
                      cc_module_arg_spec *out_specs)
{
    *out_body = NULL;
    for (int j = 0; j < n; j++) {
        out_specs[j] = specs[j];
        out_specs[j].symbol = NULL;
    }
    cc_node **syms = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(cc_node *));
    if (syms == NULL) {
        return -1;
    }
    for (int j = 0; j < n; j++) {
        const cc_node *old = specs[j].symbol;
        out_specs[j].symbol = cc_symbol_new(ndims[j], shapes[j], old->u.symbol.uuid,
                                            old->name ? old->name : CC_NO_NAME);
        syms[j] = out_specs[j].symbol;
        if (syms[j] == NULL) {
            goto fail;
        }
    }
    *out_body = cc_module_spec_substitute(body, n, specs, syms, NULL, NULL);
    cc_free(syms);
    if (*out_body == NULL) {
        cc_error_prefix("substitute failed from resize");
        syms = NULL;
        goto fail;
    }
    return 0;
fail:
    cc_free(syms);
    for (int j = 0; j < n; j++) {
        cc_module_arg_spec_clear(&out_specs[j]);
    }
    return -1;
}

// Module over m's args with specs resized to the given shapes.
static cc_node *
module_resized(const cc_node *m, const int *ndims, const int64_t *const *shapes)
{
    int n = m->n_children - 1;
    cc_module_arg_spec *specs = cc_calloc((size_t)(n > 0 ? n : 1), sizeof(cc_module_arg_spec));
    if (specs == NULL) {
        return NULL;
    }
    cc_node *body = NULL, *out = NULL;
    if (cc_module_spec_resize(m->children[0], n, m->u.module.arg_specs, ndims, shapes, &body,
                              specs) == 0) {
        out = cc_module_new(body, n, specs, m->children + 1, m->name);
        cc_node_decref(body);
        for (int j = 0; j < n; j++) {
            cc_module_arg_spec_clear(&specs[j]);
        }
    }
    cc_free(specs);
    return out;
}

cc_node *
cc_module_conform_to_input_shapes(const cc_node *m)
{
    int n = m->n_children - 1;
    int *ndims = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    const int64_t **shapes = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t *));
    cc_node *out = NULL;
    if (ndims != NULL && shapes != NULL) {
        for (int j = 0; j < n; j++) {
            ndims[j] = m->children[1 + j]->ndim;
            shapes[j] = m->children[1 + j]->shape;
        }
        out = module_resized(m, ndims, shapes);
    }
    cc_free(ndims);
    cc_free(shapes);
    return out;
}

cc_node *
cc_module_conform_to_input_batch_shape(const cc_node *m, int dims)
{
    int n = m->n_children - 1;
    int batch_ndim;
    int64_t batch[CC_MAX_NDIM];
    if (cc_module_aligned_batch_shape(m, &batch_ndim, batch) < 0) {
        return NULL;
    }
    if (dims < 0) {
        dims = batch_ndim;
    }
    if (dims > batch_ndim) {
        char what[200];
        return cc_fail_null(CC_E_PY_VALUE,
                            "%s: dims to conform (%d) is larger than the number of batch dims "
                            "(%d)",
                            cc_node_describe(CC_KIND_MODULE, m->name, what, sizeof(what)), dims,
                            batch_ndim);
    }
    int *ndims = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    int64_t *storage = cc_malloc((size_t)(n > 0 ? n : 1) * CC_MAX_NDIM * sizeof(int64_t));
    const int64_t **shapes = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t *));
    cc_node *out = NULL;
    if (ndims != NULL && storage != NULL && shapes != NULL) {
        for (int j = 0; j < n; j++) {
            const cc_node *arg = m->children[1 + j];
            const cc_node *sym = m->u.module.arg_specs[j].symbol;
            int b = arg->ndim - sym->ndim;
            int start = b > dims ? b - dims : 0;
            int64_t *shape = storage + (size_t)j * CC_MAX_NDIM;
            memcpy(shape, arg->shape + start, (size_t)(b - start) * sizeof(int64_t));
            memcpy(shape + (b - start), sym->shape, (size_t)sym->ndim * sizeof(int64_t));
            ndims[j] = b - start + sym->ndim;
            shapes[j] = shape;
        }
        out = module_resized(m, ndims, shapes);
    }
    cc_free(ndims);
    cc_free(storage);
    cc_free(shapes);
    return out;
}

static int
conform_pre(void *ctx, cc_node *node, cc_node **out)
{
    (void)ctx;
    if (!node->contains_module) {
        cc_node_incref(node);
        *out = node;
        return 1;
    }
    if (node->kind != CC_KIND_MODULE) {
        return 0;
    }
    *out = cc_module_conform_to_input_shapes(node);
    return *out == NULL ? -1 : 2;
}

cc_node *
cc_conform_all_modules(cc_node *c)
{
    return cc_deep_map(c, conform_pre, NULL, NULL);
}

// --- new_extract --------------------------------------------------------------------------------

typedef struct {
    int n;
    cc_node *const *subs;
    const cc_module_arg_spec *proposed;
    cc_node **found; // owned symbols, per proposed spec
} extract_ctx;

static int
extract_pre(void *vctx, cc_node *node, cc_node **out)
{
    extract_ctx *ctx = vctx;
    for (int i = 0; i < ctx->n; i++) {
        if (memcmp(ctx->subs[i]->hash, node->hash, 32) != 0) {
            continue;
        }
        const cc_node *proposed = ctx->proposed[i].symbol;
        const char *name = proposed->name != NULL ? proposed->name : node->name;
        cc_node *sym = cc_symbol_new(node->ndim, node->shape, proposed->u.symbol.uuid,
                                     name ? name : CC_NO_NAME);
        if (sym == NULL) {
            return -1;
        }
        cc_node_decref(ctx->found[i]);
        cc_node_incref(sym);
        ctx->found[i] = sym;
        *out = sym;
        return 1;
    }
    return 0;
}

int
cc_module_spec_new_extract(cc_node *circuit, int n, cc_node *const *subs,
                           const cc_module_arg_spec *proposed, int check_all_inputs_used,
                           cc_node **out_body, cc_module_arg_spec *out_specs, int *n_out)
{
    *out_body = NULL;
    *n_out = 0;
    extract_ctx ctx = {.n = n, .subs = subs, .proposed = proposed};
    ctx.found = cc_calloc((size_t)(n > 0 ? n : 1), sizeof(cc_node *));
    if (ctx.found == NULL) {
        return -1;
    }
    cc_node *body = cc_deep_map(circuit, extract_pre, NULL, &ctx);
    int rc = -1;
    if (body == NULL) {
        goto done;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (ctx.found[i] == NULL) {
            if (check_all_inputs_used) {
                char what[200];
                cc_fail(CC_E_CONSTRUCT_MODULE_EXTRACT_NOT_PRESENT,
                        "new_extract: subcircuit %d (%s) is not present in the circuit", i,
                        cc_node_describe(subs[i]->kind, subs[i]->name, what, sizeof(what)));
                for (int j = 0; j < k; j++) {
                    cc_module_arg_spec_clear(&out_specs[j]);
                }
                goto done;
            }
            continue;
        }
        out_specs[k] = proposed[i];
        out_specs[k].symbol = ctx.found[i];
        ctx.found[i] = NULL;
        k++;
    }
    if (check_all_inputs_used && cc_module_spec_check_all_inputs_used(body, k, out_specs) < 0) {
        for (int i = 0; i < k; i++) {
            cc_module_arg_spec_clear(&out_specs[i]);
        }
        goto done;
    }
    *out_body = body;
    body = NULL;
    *n_out = k;
    rc = 0;
done:
    cc_node_decref(body);
    for (int i = 0; i < n; i++) {
        cc_node_decref(ctx.found[i]);
    }
    cc_free(ctx.found);
    return rc;
}

// --- rename_on_replaced_path --------------------------------------------------------------------

// The symbols still looked for below a node: a subset of the spec's, identified by a hash.
typedef struct {
    int n;
    cc_node **syms; // borrowed from the specs
    uint8_t hash[32];
} sym_subset;

typedef struct {
    cc_node *node;
    sym_subset *set;
    int next;
    cc_node **kids; // owned results; NULL where the child is off every replaced path
} rp_frame;

typedef struct {
    const char *prefix, *suffix;
    cc_ptrvec sets;  // owned sym_subsets
    cc_hmap memo;    // blake3(node hash, set hash) -> result of a node on a replaced path
    cc_ptrvec stack; // rp_frames
} rp_ctx;

static sym_subset *
subset_new(rp_ctx *x, int n, cc_node *const *syms)
{
    sym_subset *s = cc_malloc(sizeof(sym_subset));
    cc_node **copy = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(cc_node *));
    if (s == NULL || copy == NULL || cc_ptrvec_push(&x->sets, s) < 0) {
        cc_free(s);
        cc_free(copy);
        return NULL;
    }
    memcpy(copy, syms, (size_t)n * sizeof(cc_node *));
    s->n = n;
    s->syms = copy;
    cc_blake3 h;
    cc_blake3_init(&h);
    for (int i = 0; i < n; i++) {
        cc_blake3_update(&h, syms[i]->hash, 32);
    }
    cc_blake3_final(&h, s->hash, 32);
    return s;
}

static void
rp_key(const cc_node *node, const sym_subset *set, uint8_t key[32])
{
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, node->hash, 32);
    cc_blake3_update(&h, set->hash, 32);
    cc_blake3_final(&h, key, 32);
}

static int
on_path(const cc_node *node, const sym_subset *set)
{
    for (int i = 0; i < set->n; i++) {
        if (cc_node_has_free_symbol(node, set->syms[i])) {
            return 1;
        }
    }
    return 0;
}

// The set a Module's body is walked with: the symbols free in it that it does not bind.
static sym_subset *
body_subset(rp_ctx *x, const cc_node *m, sym_subset *set)
{
    cc_node **kept = cc_malloc((size_t)(set->n > 0 ? set->n : 1) * sizeof(cc_node *));
    if (kept == NULL) {
        return NULL;
    }
    int k = 0;
    for (int i = 0; i < set->n; i++) {
        int bound = 0;
        for (int j = 0; j < m->n_children - 1 && !bound; j++) {
            bound = memcmp(m->u.module.arg_specs[j].symbol->hash, set->syms[i]->hash, 32) == 0;
        }
        if (!bound && cc_symbol_set_contains(m->free_symbols, set->syms[i])) {
            kept[k++] = set->syms[i];
        }
    }
    sym_subset *out = subset_new(x, k, kept);
    cc_free(kept);
    return out;
}

// 1 with *out (new reference, or NULL when node is off every replaced path) if known now; 0
// after pushing a frame; -1 on error.
static int
rp_visit(rp_ctx *x, cc_node *node, sym_subset *set, cc_node **out)
{
    *out = NULL;
    if (node->kind == CC_KIND_SYMBOL) {
        for (int i = 0; i < set->n; i++) {
            if (memcmp(set->syms[i]->hash, node->hash, 32) == 0) {
                cc_node_incref(node);
                *out = node;
                return 1;
            }
        }
        return 1;
    }
    if (!on_path(node, set)) {
        return 1;
    }
    uint8_t key[32];
    rp_key(node, set, key);
    cc_node *known = cc_hmap_get(&x->memo, key);
    if (known != NULL) {
        cc_node_incref(known);
        *out = known;
        return 1;
    }
    rp_frame *f = cc_calloc(1, sizeof(rp_frame));
    cc_node **kids = cc_calloc((size_t)node->n_children, sizeof(cc_node *));
    if (f == NULL || kids == NULL || cc_ptrvec_push(&x->stack, f) < 0) {
        cc_free(f);
        cc_free(kids);
        return -1;
    }
    f->node = node;
    f->set = set;
    f->kids = kids;
    return 0;
}

static void
rp_frame_free(rp_frame *f)
{
    for (int i = 0; i < f->node->n_children; i++) {
        cc_node_decref(f->kids[i]);
    }
    cc_free(f->kids);
    cc_free(f);
}

// The node rebuilt over its changed children, renamed prefix + name + suffix when it has a
// name (an autoname it gains from the new children included).
static cc_node *
rp_finish(rp_ctx *x, rp_frame *f)
{
    const cc_node *n = f->node;
    cc_node **kids = cc_malloc((size_t)n->n_children * sizeof(cc_node *));
    if (kids == NULL) {
        return NULL;
    }
    for (int i = 0; i < n->n_children; i++) {
        kids[i] = f->kids[i] != NULL ? f->kids[i] : n->children[i];
    }
    cc_str s;
    cc_str_init(&s);
    cc_node *out = NULL;
    if (n->name != NULL) {
        if (cc_str_appendf(&s, "%s%s%s", x->prefix ? x->prefix : "", n->name,
                           x->suffix ? x->suffix : "") == 0) {
            out = cc_node_rebuild(n, kids, s.data);
        }
    } else {
        cc_node *rebuilt = cc_node_rebuild(n, kids, NULL);
        if (rebuilt != NULL && rebuilt->name != NULL &&
            cc_str_appendf(&s, "%s%s%s", x->prefix ? x->prefix : "", rebuilt->name,
                           x->suffix ? x->suffix : "") == 0) {
            out = cc_node_rename(rebuilt, s.data);
            cc_node_decref(rebuilt);
        } else if (rebuilt != NULL && rebuilt->name == NULL) {
            out = rebuilt;
        } else {
            cc_node_decref(rebuilt);
        }
    }
    cc_str_clear(&s);
    cc_free(kids);
    return out;
}

static cc_node *
rp_run(rp_ctx *x, cc_node *root, sym_subset *set)
{
    cc_node *result = NULL;
    int r = rp_visit(x, root, set, &result);
    while (r == 0 && x->stack.len > 0) {
        rp_frame *f = x->stack.items[x->stack.len - 1];
        if (f->next < f->node->n_children) {
            int i = f->next++;
            sym_subset *cs = f->set;
            if (i == 0 && f->node->kind == CC_KIND_MODULE) {
                cs = body_subset(x, f->node, f->set);
                if (cs == NULL) {
                    r = -1;
                    break;
                }
            }
            cc_node *out;
            int v = rp_visit(x, f->node->children[i], cs, &out);
            if (v < 0) {
                r = -1;
            } else if (v == 1) {
                f->kids[i] = out;
            }
            continue;
        }
        int any = 0;
        for (int i = 0; i < f->node->n_children; i++) {
            any |= f->kids[i] != NULL;
        }
        cc_node *out = NULL;
        if (any) {
            out = rp_finish(x, f);
            uint8_t key[32];
            rp_key(f->node, f->set, key);
            if (out == NULL || cc_hmap_put(&x->memo, key, out) < 0) {
                cc_node_decref(out);
                r = -1;
                break;
            }
            cc_node_incref(out);
        }
        rp_frame_free(f);
        x->stack.len--;
        if (x->stack.len == 0) {
            result = out;
        } else {
            rp_frame *parent = x->stack.items[x->stack.len - 1];
            parent->kids[parent->next - 1] = out;
        }
    }
    if (r < 0) {
        cc_node_decref(result);
        return NULL;
    }
    if (result == NULL) {
        cc_node_incref(root);
        result = root;
    }
    return result;
}

cc_node *
cc_module_spec_rename_on_replaced_path(cc_node *body, int n, const cc_module_arg_spec *specs,
                                       const char *prefix, const char *suffix)
{
    if (prefix == NULL && suffix == NULL) {
        cc_node_incref(body);
        return body;
    }
    rp_ctx x = {.prefix = prefix, .suffix = suffix};
    cc_ptrvec_init(&x.sets);
    cc_ptrvec_init(&x.stack);
    cc_hmap_init(&x.memo);
    cc_node *out = NULL;
    cc_node **syms = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(cc_node *));
    if (syms != NULL) {
        for (int i = 0; i < n; i++) {
            syms[i] = specs[i].symbol;
        }
        sym_subset *all = subset_new(&x, n, syms);
        out = all == NULL ? NULL : rp_run(&x, body, all);
    }
    cc_free(syms);
    for (size_t i = 0; i < x.stack.len; i++) {
        rp_frame_free(x.stack.items[i]);
    }
    for (size_t i = 0; i < x.sets.len; i++) {
        sym_subset *s = x.sets.items[i];
        cc_free(s->syms);
        cc_free(s);
    }
    for (size_t s = 0; s < x.memo.cap; s++) {
        if (x.memo.slots[s].used) {
            cc_node_decref(x.memo.slots[s].value);
        }
    }
    cc_hmap_clear(&x.memo);
    cc_ptrvec_clear(&x.sets);
    cc_ptrvec_clear(&x.stack);
    return out;
}
