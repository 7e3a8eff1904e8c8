// Module substitution (rc's ModuleSpec::substitute and friends): the per-argument checks,
// expansion of the body over placeholder symbols of the argument shapes, renaming on replaced
// paths, the final swap of placeholders for the arguments, Module::substitute and
// substitute_all_modules. Walks are explicit stacks.
#include <stdio.h>
#include <string.h>

#include "expand/deep_map.h"
#include "expand/expand.h"
#include "expand/module.h"
#include "expand/module_impl.h"
#include "nodes/autoname.h"
#include "nodes/node_impl.h"
#include "nodes/rearrange.h"
#include "nodes/shape.h"
#include "nodes/symbol_set.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/vec.h"

// --- argument checks and expansion --------------------------------------------------------------

static int
fail_arg(cc_error_kind kind, const char *head, const cc_module_arg_spec *s, const cc_node *arg,
         const cc_node *body)
{
    cc_str a, b;
    cc_str_init(&a);
    cc_str_init(&b);
    char sym[160], body_name[160];
    if (cc_shape_append(&a, arg->ndim, arg->shape) == 0 &&
        cc_shape_append(&b, s->symbol->ndim, s->symbol->shape) == 0) {
        cc_fail(kind,
                "%s: the argument for symbol %s has shape %s but the symbol has shape %s "
                "(batchable=%d expandable=%d ban_non_symbolic_size_expand=%d, spec circuit %s)",
                head, cc_module_quote_name(s->symbol, sym, sizeof(sym)), a.data, b.data,
                s->batchable, s->expandable, s->ban_non_symbolic_size_expand,
                cc_module_quote_name(body, body_name, sizeof(body_name)));
    }
    cc_str_clear(&a);
    cc_str_clear(&b);
    return -1;
}

static int
check_arg(const cc_module_arg_spec *s, const cc_node *arg, const cc_node *body)
{
    const cc_node *sym = s->symbol;
    char head[160];
    if (arg->ndim < sym->ndim) {
        snprintf(head, sizeof(head), "node_rank=%d < symbol_rank=%d", arg->ndim, sym->ndim);
        return fail_arg(CC_E_EXPAND_MODULE_RANK_REDUCED, head, s, arg, body);
    }
    int batch = arg->ndim - sym->ndim;
    if (!s->batchable && batch > 0) {
        snprintf(head, sizeof(head),
                 "node_rank=%d > symbol_rank=%d (which indicates batching) and the argument "
                 "isn't batchable",
                 arg->ndim, sym->ndim);
        return fail_arg(CC_E_EXPAND_MODULE_TRIED_TO_BATCH_UNBATCHABLE_INPUT, head, s, arg, body);
    }
    int differs = memcmp(arg->shape + batch, sym->shape, (size_t)sym->ndim * sizeof(int64_t));
    if (!s->expandable && differs) {
        snprintf(head, sizeof(head), "the argument isn't expandable but its trailing sizes change");
        return fail_arg(CC_E_EXPAND_MODULE_TRIED_TO_EXPAND_UNEXPANDABLE_INPUT, head, s, arg, body);
    }
    if (!s->ban_non_symbolic_size_expand) {
        return 0;
    }
    for (int d = 0; d < sym->ndim; d++) {
        int64_t new_size = arg->shape[batch + d], old_size = sym->shape[d];
        if (new_size != old_size && !cc_size_has_symbolic(old_size)) {
            cc_str ns;
            cc_str_init(&ns);
            if (cc_size_append(&ns, new_size) == 0) {
                snprintf(head, sizeof(head),
                         "new_size=%s != old_size=%lld and old_size not symbolic at dim=%d",
                         ns.data, (long long)old_size, d);
            }
            cc_str_clear(&ns);
            return fail_arg(CC_E_EXPAND_MODULE_TRIED_TO_EXPAND_ON_NON_SYMBOLIC_SIZE_AND_BANNED,
                            head, s, arg, body);
        }
    }
    return 0;
}

// rc's expand_raw: the argument checks, the aligned batch shape, the body expanded over the
// arguments, and a Rearrange "<name> rep_batch" adding batch axes the body did not gain.
static cc_node *
expand_raw(cc_node *body, int n, const cc_module_arg_spec *specs, cc_node *const *args)
{
    for (int j = 0; j < n; j++) {
        if (check_arg(&specs[j], args[j], body) < 0) {
            return NULL;
        }
    }
    size_t count = (size_t)(n > 0 ? n : 1);
    int *ndims = cc_malloc(count * sizeof(int));
    const int64_t **shapes = cc_malloc(count * sizeof(int64_t *));
    cc_node **keys = cc_malloc(count * sizeof(cc_node *));
    cc_node *out = NULL;
    int batch_ndim = 0;
    int64_t batch[CC_MAX_NDIM];
    if (ndims == NULL || shapes == NULL || keys == NULL) {
        goto done;
    }
    for (int j = 0; j < n; j++) {
        ndims[j] = args[j]->ndim - specs[j].symbol->ndim;
        shapes[j] = args[j]->shape;
        keys[j] = specs[j].symbol;
    }
    if (cc_shape_right_align(n, ndims, shapes, &batch_ndim, batch) < 0) {
        cc_error_prefix("batch shapes didn't match for module");
        goto done;
    }
    out = cc_replace_expand(body, n, keys, args);
    if (out == NULL) {
        cc_error_prefix("replace expand failed from substitute");
        goto done;
    }
    int out_batch = out->ndim - body->ndim;
    if (out_batch < 0 || out_batch > batch_ndim) {
        cc_fail(CC_E_PY_RUNTIME,
                "substitution gave rank %d for a body of rank %d and %d batch axes", out->ndim,
                body->ndim, batch_ndim);
        cc_node_decref(out);
        out = NULL;
        goto done;
    }
    if (out_batch < batch_ndim) {
        int add = batch_ndim - out_batch;
        int rank = add + out->ndim;
        if (rank > CC_MAX_NDIM) {
            cc_fail(CC_E_CONSTRUCT_NOT_SUPPORTED_YET, "rank overflow in module expand: %d", rank);
            cc_node_decref(out);
            out = NULL;
            goto done;
        }
        int lens[2 * CC_MAX_NDIM];
        uint8_t in[CC_MAX_NDIM], outs[CC_MAX_NDIM];
        int64_t sizes[CC_MAX_NDIM];
        for (int i = 0; i < rank; i++) {
            lens[i] = lens[CC_MAX_NDIM + i] = 1;
            outs[i] = (uint8_t)i;
            sizes[i] = i < add ? batch[i] : -1;
        }
        for (int i = 0; i < out->ndim; i++) {
            in[i] = (uint8_t)(add + i);
        }
        cc_rearrange_spec *spec =
            cc_rearrange_spec_new(out->ndim, lens, in, rank, lens + CC_MAX_NDIM, outs, rank, sizes);
        char *name = NULL;
        if (out->name != NULL) {
            cc_str s;
            cc_str_init(&s);
            if (cc_str_appendf(&s, "%s rep_batch", out->name) == 0) {
                name = cc_str_take(&s);
            }
            cc_str_clear(&s);
        }
        cc_node *rep = NULL;
        if (spec != NULL && (out->name == NULL || name != NULL)) {
            rep = cc_rearrange_new(out, spec, name);
        }
        cc_rearrange_spec_free(spec);
        cc_free(name);
        cc_node_decref(out);
        out = rep;
    }
done:
    cc_free(ndims);
    cc_free(shapes);
    cc_free(keys);
    return out;
}

static int
same_ident(const cc_node *a, const cc_node *b)
{
    if (memcmp(a->u.symbol.uuid, b->u.symbol.uuid, 16) != 0) {
        return 0;
    }
    if (a->name == NULL || b->name == NULL) {
        return a->name == b->name;
    }
    return strcmp(a->name, b->name) == 0;
}

// rc's check_no_ident_matching_issues: a free symbol of the body with an argument symbol's
// uuid and name must be that symbol (a "near miss" differs in shape).
static int
check_idents(cc_node *body, int n, const cc_module_arg_spec *specs)
{
    cc_node **syms;
    int n_syms;
    if (cc_node_free_symbol_list(body, &syms, &n_syms) < 0) {
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n_syms && rc == 0; i++) {
        for (int j = n - 1; j >= 0; j--) {
            const cc_node *mine = specs[j].symbol;
            if (!same_ident(mine, syms[i])) {
                continue;
            }
            if (memcmp(mine->hash, syms[i]->hash, 32) != 0) {
                cc_str a, b;
                cc_str_init(&a);
                cc_str_init(&b);
                char name[160];
                if (cc_shape_append(&a, mine->ndim, mine->shape) == 0 &&
                    cc_shape_append(&b, syms[i]->ndim, syms[i]->shape) == 0) {
                    cc_fail(CC_E_SUBSTITUTION_FOUND_NEQFREE_SYMBOL_WITH_SAME_IDENTIFICATION,
                            "sym=%s %s matching_sym shape %s: substituting for a symbol when "
                            "there is a not-equal free symbol with the same name and uuid is not "
                            "allowed (aka, a near miss). This is caused by having a different "
                            "shape (or different named axes).",
                            cc_module_quote_name(mine, name, sizeof(name)), a.data, b.data);
                }
                cc_str_clear(&a);
                cc_str_clear(&b);
                rc = -1;
            }
            break;
        }
    }
    cc_free(syms);
    return rc;
}

// --- substitution -----------------------------------------------------------------------------

typedef struct {
    int n;
    cc_node **placeholders; // owned
    cc_node *const *args;
    const char *prefix, *suffix;
    char clear[40]; // marks names made from placeholder names
    cc_hmap index;  // placeholder hash -> position + 1
} subst_ctx;

// 1 when some placeholder is free in node: only such nodes change in the passes below.
static int
has_placeholder(const subst_ctx *ctx, const cc_node *node)
{
    const cc_symbol_set *s = node->free_symbols;
    for (int i = 0; s != NULL && i < s->n; i++) {
        if (cc_hmap_get(&ctx->index, s->items[i]->hash) != NULL) {
            return 1;
        }
    }
    return 0;
}

static int
prefix_pre(void *vctx, cc_node *node, cc_node **out)
{
    if (has_placeholder(vctx, node)) {
        return 0;
    }
    cc_node_incref(node);
    *out = node;
    return 1;
}

static cc_node *
prefix_post(void *vctx, cc_node *node, cc_node *const *kids, int changed)
{
    subst_ctx *ctx = vctx;
    cc_node *x = cc_deep_map_rebuild(node, kids, changed);
    if (x == NULL || x->name == NULL || x->kind == CC_KIND_SYMBOL) {
        return x;
    }
    int on_path = 0;
    for (int i = 0; i < ctx->n && !on_path; i++) {
        on_path = cc_symbol_set_contains(x->free_symbols, ctx->placeholders[i]);
    }
    if (!on_path) {
        return x;
    }
    cc_str s;
    cc_str_init(&s);
    cc_node *out = NULL;
    if (cc_str_appendf(&s, "%s%s%s", ctx->prefix ? ctx->prefix : "", x->name,
                       ctx->suffix ? ctx->suffix : "") == 0) {
        out = cc_node_rename(x, s.data);
    }
    cc_str_clear(&s);
    cc_node_decref(x);
    return out;
}

static int
swap_pre(void *vctx, cc_node *node, cc_node **out)
{
    subst_ctx *ctx = vctx;
    uintptr_t at = (uintptr_t)cc_hmap_get(&ctx->index, node->hash);
    if (at == 0) {
        return prefix_pre(vctx, node, out);
    }
    *out = ctx->args[at - 1];
    cc_node_incref(*out);
    return 1;
}

// Nodes named from a placeholder's name take the automatic name their new children give.
static cc_node *
swap_post(void *vctx, cc_node *node, cc_node *const *kids, int changed)
{
    subst_ctx *ctx = vctx;
    int marked = node->name != NULL && strstr(node->name, ctx->clear) != NULL;
    if (!marked) {
        return cc_deep_map_rebuild(node, kids, changed);
    }
    cc_node *x = cc_deep_map_rebuild(node, kids, changed);
    if (x == NULL) {
        return NULL;
    }
    char *auto_name;
    if (cc_autoname(x, &auto_name) < 0) {
        cc_node_decref(x);
        return NULL;
    }
    cc_node *out = cc_node_rename(x, auto_name ? auto_name : CC_NO_NAME);
    cc_free(auto_name);
    cc_node_decref(x);
    return out;
}

static uint64_t placeholder_counter;

cc_node *
cc_module_spec_substitute(cc_node *body, int n, const cc_module_arg_spec *specs,
                          cc_node *const *args, const char *prefix, const char *suffix)
{
    if (check_idents(body, n, specs) < 0 ||
        cc_module_check_no_free_bound_by_nested(body, n, specs, args) < 0) {
        return NULL;
    }
    subst_ctx ctx = {.n = n, .args = args, .prefix = prefix, .suffix = suffix};
    cc_hmap_init(&ctx.index);
    cc_node *expanded = NULL, *out = NULL;
    ctx.placeholders = cc_calloc((size_t)(n > 0 ? n : 1), sizeof(cc_node *));
    if (ctx.placeholders == NULL) {
        goto done;
    }
    // A marker no user name contains: rc uses a fresh uuid per expansion.
    uint8_t mark[32];
    cc_blake3 h;
    cc_blake3_init(&h);
    uint64_t count = ++placeholder_counter;
    cc_blake3_update(&h, &count, sizeof(count));
    cc_blake3_update(&h, body->hash, 32);
    cc_blake3_final(&h, mark, 32);
    for (int i = 0; i < 16; i++) {
        snprintf(ctx.clear + 2 * i, 3, "%02x", mark[i]);
    }
    for (int i = 0; i < n; i++) {
        cc_str s;
        cc_str_init(&s);
        if (cc_str_appendf(&s, "%s_internal_expand_shape_%s_arg%d", ctx.clear,
                           body->name ? body->name : "", i) < 0) {
            cc_str_clear(&s);
            goto done;
        }
        ctx.placeholders[i] = cc_symbol_new(args[i]->ndim, args[i]->shape, body->hash, s.data);
        cc_str_clear(&s);
        if (ctx.placeholders[i] == NULL ||
            cc_hmap_put(&ctx.index, ctx.placeholders[i]->hash, (void *)(uintptr_t)(i + 1)) < 0) {
            goto done;
        }
    }
    expanded = expand_raw(body, n, specs, ctx.placeholders);
    if (expanded == NULL) {
        goto done;
    }
    if (prefix != NULL || suffix != NULL) {
        cc_node *renamed = cc_deep_map(expanded, prefix_pre, prefix_post, &ctx);
        cc_node_decref(expanded);
        expanded = renamed;
        if (expanded == NULL) {
            goto done;
        }
    }
    out = cc_deep_map(expanded, swap_pre, swap_post, &ctx);
    if (out == NULL) {
        cc_error_prefix("replacing symbols with nodes failed in ModuleSpec substitute");
    }
done:
    cc_node_decref(expanded);
    if (ctx.placeholders != NULL) {
        for (int i = 0; i < n; i++) {
            cc_node_decref(ctx.placeholders[i]);
        }
    }
    cc_free(ctx.placeholders);
    cc_hmap_clear(&ctx.index);
    return out;
}

// rc's substitute_with_mod_name.
static cc_node *
substitute_named(cc_node *body, int n, const cc_module_arg_spec *specs, cc_node *const *args,
                 const char *prefix, const char *suffix, const char *module_name)
{
    cc_node *out = cc_module_spec_substitute(body, n, specs, args, prefix, suffix);
    if (out == NULL || body->n_children == 0 || memcmp(out->hash, body->hash, 32) == 0) {
        return out;
    }
    cc_node *renamed = cc_node_rename(out, module_name ? module_name : CC_NO_NAME);
    cc_node_decref(out);
    return renamed;
}

cc_node *
cc_module_substitute(const cc_node *m, const char *prefix, const char *suffix)
{
    return substitute_named(m->children[0], m->n_children - 1, m->u.module.arg_specs,
                            m->children + 1, prefix, suffix, m->name);
}

static cc_node *
all_modules_post(void *ctx, cc_node *node, cc_node *const *kids, int changed)
{
    (void)ctx;
    if (node->kind != CC_KIND_MODULE) {
        return cc_deep_map_rebuild(node, kids, changed);
    }
    return substitute_named(kids[0], node->n_children - 1, node->u.module.arg_specs, kids + 1, NULL,
                            NULL, node->name);
}

cc_node *
cc_substitute_all_modules(cc_node *c)
{
    if (!c->contains_module) {
        cc_node_incref(c);
        return c;
    }
    return cc_deep_map(c, cc_deep_map_keep_module_free, all_modules_post, NULL);
}
