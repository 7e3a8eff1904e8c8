// Module substitution (rc's ModuleSpec::substitute and friends): the per-argument checks,
// expansion of the body over placeholder symbols of the argument shapes, renaming on replaced
// paths, the final swap of placeholders for the arguments, and the graph-wide operations built
// on it (substitute_all_modules, resize and conform, new_extract). Walks are explicit stacks.
#include <stdio.h>
#include <string.h>

#include "nodes/autoname.h"
#include "nodes/expand.h"
#include "nodes/module.h"
#include "nodes/module_impl.h"
#include "nodes/node_impl.h"
#include "nodes/rearrange.h"
#include "nodes/shape.h"
#include "nodes/symbol_set.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/vec.h"

// --- memoised post-order map ------------------------------------------------------------------

// Before descending into node: 0 to descend into it; 1 with *out (new reference) as its final
// result; 2 with *out (new reference) to descend into instead; -1 on error.
typedef int (*pre_fn)(void *ctx, cc_node *node, cc_node **out);
// node's result given its children's results (changed: some differ). New reference or NULL.
typedef cc_node *(*post_fn)(void *ctx, cc_node *node, cc_node *const *kids, int changed);

typedef struct {
    cc_node *orig; // borrowed; the memo key
    cc_node *node; // owned: orig, or what pre replaced it with
    int next;
    cc_node **kids; // owned results
} dm_frame;

static void
dm_frame_free(dm_frame *f)
{
    for (int i = 0; i < f->node->n_children; i++) {
        cc_node_decref(f->kids[i]);
    }
    cc_free(f->kids);
    cc_node_decref(f->node);
    cc_free(f);
}

static cc_node *
rebuild_if_changed(cc_node *node, cc_node *const *kids, int changed)
{
    if (!changed) {
        cc_node_incref(node);
        return node;
    }
    return cc_node_rebuild(node, kids, node->name);
}

// Result of x if known now (*out new reference, returns 1), a frame to walk (returns 0), or -1.
static int
dm_visit(cc_hmap *memo, cc_node *x, pre_fn pre, void *ctx, cc_ptrvec *stack, cc_node **out)
{
    cc_node *known = cc_hmap_get(memo, x->hash);
    if (known != NULL) {
        cc_node_incref(known);
        *out = known;
        return 1;
    }
    cc_node *node = x;
    int r = pre != NULL ? pre(ctx, x, &node) : 0;
    if (r < 0) {
        return -1;
    }
    if (r == 1) {
        if (cc_hmap_put(memo, x->hash, node) < 0) {
            cc_node_decref(node);
            return -1;
        }
        cc_node_incref(node);
        *out = node;
        return 1;
    }
    if (r == 0) {
        cc_node_incref(node);
    }
    dm_frame *f = cc_calloc(1, sizeof(dm_frame));
    cc_node **kids = cc_calloc((size_t)(node->n_children > 0 ? node->n_children : 1),
                               sizeof(cc_node *));
    if (f == NULL || kids == NULL || cc_ptrvec_push(stack, f) < 0) {
        cc_free(f);
        cc_free(kids);
        cc_node_decref(node);
        return -1;
    }
    f->orig = x;
    f->node = node;
    f->kids = kids;
    return 0;
}

static cc_node *
deep_map(cc_node *root, pre_fn pre, post_fn post, void *ctx)
{
    cc_hmap memo;
    cc_hmap_init(&memo);
    cc_ptrvec stack;
    cc_ptrvec_init(&stack);
    cc_node *result = NULL;
    int r = dm_visit(&memo, root, pre, ctx, &stack, &result);
    while (r == 0 && stack.len > 0) {
        dm_frame *f = stack.items[stack.len - 1];
        if (f->next < f->node->n_children) {
            int i = f->next++;
            cc_node *out;
            int v = dm_visit(&memo, f->node->children[i], pre, ctx, &stack, &out);
            if (v < 0) {
                r = -1;
            } else if (v == 1) {
                f->kids[i] = out;
            }
            continue;
        }
        int changed = 0;
        for (int i = 0; i < f->node->n_children; i++) {
            changed |= f->kids[i] != f->node->children[i];
        }
        cc_node *out = post != NULL ? post(ctx, f->node, f->kids, changed)
                                    : rebuild_if_changed(f->node, f->kids, changed);
        if (out == NULL || cc_hmap_put(&memo, f->orig->hash, out) < 0) {
            cc_node_decref(out);
            r = -1;
            break;
        }
        dm_frame_free(f);
        stack.len--;
        cc_node_incref(out);
        if (stack.len == 0) {
            result = out;
        } else {
            dm_frame *parent = stack.items[stack.len - 1];
            parent->kids[parent->next - 1] = out;
        }
    }
    for (size_t i = 0; i < stack.len; i++) {
        dm_frame_free(stack.items[i]);
    }
    cc_ptrvec_clear(&stack);
    for (size_t s = 0; s < memo.cap; s++) {
        if (memo.slots[s].used) {
            cc_node_decref(memo.slots[s].value);
        }
    }
    cc_hmap_clear(&memo);
    if (r < 0) {
        cc_node_decref(result);
        return NULL;
    }
    return result;
}

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
        return fail_arg(CC_E_EXPAND_MODULE_TRIED_TO_EXPAND_UNEXPANDABLE_INPUT, head, s, arg,
                        body);
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
        cc_rearrange_spec *spec = cc_rearrange_spec_new(out->ndim, lens, in, rank,
                                                        lens + CC_MAX_NDIM, outs, rank, sizes);
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
    cc_node *x = rebuild_if_changed(node, kids, changed);
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
        return rebuild_if_changed(node, kids, changed);
    }
    cc_node *x = rebuild_if_changed(node, kids, changed);
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
        cc_node *renamed = deep_map(expanded, prefix_pre, prefix_post, &ctx);
        cc_node_decref(expanded);
        expanded = renamed;
        if (expanded == NULL) {
            goto done;
        }
    }
    out = deep_map(expanded, swap_pre, swap_post, &ctx);
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
        return rebuild_if_changed(node, kids, changed);
    }
    return substitute_named(kids[0], node->n_children - 1, node->u.module.arg_specs, kids + 1,
                            NULL, NULL, node->name);
}

// Subtrees without a Module are kept as they are, without a walk.
static int
all_modules_pre(void *ctx, cc_node *node, cc_node **out)
{
    (void)ctx;
    if (node->contains_module) {
        return 0;
    }
    cc_node_incref(node);
    *out = node;
    return 1;
}

cc_node *
cc_substitute_all_modules(cc_node *c)
{
    if (!c->contains_module) {
        cc_node_incref(c);
        return c;
    }
    return deep_map(c, all_modules_pre, all_modules_post, NULL);
}

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
    return deep_map(c, conform_pre, NULL, NULL);
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
    cc_node *body = deep_map(circuit, extract_pre, NULL, &ctx);
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
