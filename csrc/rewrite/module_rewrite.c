// rc's rewrites of single Module nodes (elim_empty_module, elim_no_input_module,
// module_remove_unused_inputs) and their bottom-up application to a whole circuit, the
// graph-wide module rewrites (inline_single_callsite_modules, fuse_concat_modules) and
// strip_names_and_tags. Built on Module construction and substitution (expand/); knows nothing
// of matching or evaluation.
#include "rewrite/module_rewrite.h"

#include <stdint.h>
#include <string.h>

#include "expand/deep_map.h"
#include "expand/module.h"
#include "nodes/expand_kind.h"
#include "nodes/rearrange.h"
#include "nodes/shape.h"
#include "rewrite/split.h"
#include "util/alloc.h"
#include "util/blake3.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"

int
cc_elim_empty_module(cc_node *m, cc_node **out)
{
    *out = NULL;
    if (m->children[0]->n_children != 0) {
        return 0;
    }
    *out = cc_module_substitute(m, NULL, NULL);
    return *out == NULL ? -1 : 0;
}

int
cc_elim_no_input_module(cc_node *m, cc_node **out)
{
    *out = NULL;
    if (m->n_children != 1) {
        return 0;
    }
    cc_node_incref(m->children[0]);
    *out = m->children[0];
    return 0;
}

// The name of the module left after removing arguments: m's, suffixed " rem_unused" when asked.
// *name NULL when m is unnamed (the new module then takes its automatic name). 0, or -1.
static int
remaining_name(const cc_node *m, int add_suffix, char **name)
{
    *name = NULL;
    if (m->name == NULL) {
        return 0;
    }
    cc_str s;
    cc_str_init(&s);
    int rc = add_suffix ? cc_str_appendf(&s, "%s rem_unused", m->name) : cc_str_append(&s, m->name);
    if (rc == 0) {
        *name = cc_str_take(&s);
    }
    cc_str_clear(&s);
    return *name == NULL ? -1 : 0;
}

// The module of m's body over the used arguments only (new reference, or NULL).
static cc_node *
module_keep_used(const cc_node *m, const uint8_t *used, int add_suffix)
{
    int n = m->n_children - 1;
    size_t count = (size_t)(n > 0 ? n : 1);
    cc_module_arg_spec *specs = cc_malloc(count * sizeof(cc_module_arg_spec));
    cc_node **args = cc_malloc(count * sizeof(cc_node *));
    char *name = NULL;
    cc_node *out = NULL;
    if (specs != NULL && args != NULL && remaining_name(m, add_suffix, &name) == 0) {
        int k = 0;
        for (int j = 0; j < n; j++) {
            if (used[j]) {
                specs[k] = m->u.module.arg_specs[j];
                args[k] = m->children[1 + j];
                k++;
            }
        }
        out = cc_module_new(m->children[0], k, specs, args, name);
    }
    cc_free(specs);
    cc_free(args);
    cc_free(name);
    return out;
}

int
cc_module_remove_unused_inputs_op(cc_node *m, int add_suffix, int elim_no_input, cc_node **out)
{
    *out = NULL;
    int n = m->n_children - 1;
    uint8_t *used = cc_malloc((size_t)(n > 0 ? n : 1));
    if (used == NULL) {
        return -1;
    }
    cc_module_spec_are_args_used(m->children[0], n, m->u.module.arg_specs, used);
    int all_used = 1;
    for (int j = 0; j < n; j++) {
        all_used &= used[j] != 0;
    }
    if (all_used) {
        cc_free(used);
        return elim_no_input ? cc_elim_no_input_module(m, out) : 0;
    }
    cc_node *kept = module_keep_used(m, used, add_suffix);
    cc_free(used);
    if (kept == NULL) {
        return -1;
    }
    int kept_ndim, orig_ndim;
    int64_t kept_batch[CC_MAX_NDIM], orig_batch[CC_MAX_NDIM];
    if (cc_module_aligned_batch_shape(kept, &kept_ndim, kept_batch) < 0 ||
        cc_module_aligned_batch_shape(m, &orig_ndim, orig_batch) < 0) {
        cc_node_decref(kept);
        return -1;
    }
    cc_node *res = kept;
    if (elim_no_input && kept->n_children == 1) {
        res = kept->children[0];
        cc_node_incref(res);
        cc_node_decref(kept);
    }
    // Batch axes only the dropped arguments carried come back in front, as repeats.
    if (kept_ndim < orig_ndim) {
        cc_node *rep = cc_expand_prepend_batch(res, orig_ndim - kept_ndim, orig_batch, m->name);
        cc_node_decref(res);
        if (rep == NULL) {
            cc_error_prefix("rank error in module remove unused");
            return -1;
        }
        res = rep;
    }
    *out = res;
    return 0;
}

typedef struct {
    int add_suffix, elim_no_input, elim_empty;
} deep_remove_ctx;

static cc_node *
deep_remove_post(void *vctx, cc_node *node, cc_node *const *kids, int changed)
{
    const deep_remove_ctx *ctx = vctx;
    cc_node *cur = cc_deep_map_rebuild(node, kids, changed);
    if (cur == NULL || cur->kind != CC_KIND_MODULE) {
        return cur;
    }
    cc_node *out = NULL;
    if (ctx->elim_empty && cc_elim_empty_module(cur, &out) < 0) {
        cc_node_decref(cur);
        return NULL;
    }
    if (out == NULL &&
        cc_module_remove_unused_inputs_op(cur, ctx->add_suffix, ctx->elim_no_input, &out) < 0) {
        cc_node_decref(cur);
        return NULL;
    }
    if (out == NULL) {
        return cur;
    }
    cc_node_decref(cur);
    return out;
}

cc_node *
cc_deep_module_remove_unused_inputs(cc_node *c, int add_suffix, int elim_no_input, int elim_empty)
{
    deep_remove_ctx ctx = {add_suffix, elim_no_input, elim_empty};
    return cc_deep_map(c, cc_deep_map_keep_module_free, deep_remove_post, &ctx);
}

// --- inline_single_callsite_modules ----------------------------------------------------------

// A key identifying m's ModuleSpec: its body and, per argument, the flags and the symbol.
static void
spec_key(const cc_node *m, uint8_t key[32])
{
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, m->children[0]->hash, 32);
    for (int j = 0; j < m->n_children - 1; j++) {
        const cc_module_arg_spec *s = &m->u.module.arg_specs[j];
        uint8_t flags[3] = {s->batchable, s->expandable, s->ban_non_symbolic_size_expand};
        cc_blake3_update(&h, flags, 3);
        cc_blake3_update(&h, s->symbol->hash, 32);
    }
    cc_blake3_final(&h, key, 32);
}

// Substitutes a Module whose spec was counted once (the counts: spec key -> count as pointer).
static cc_node *
inline_post(void *ctx, cc_node *node, cc_node *const *kids, int changed)
{
    const cc_hmap *counts = ctx;
    cc_node *cur = cc_deep_map_rebuild(node, kids, changed);
    if (cur == NULL || node->kind != CC_KIND_MODULE) {
        return cur;
    }
    uint8_t key[32];
    spec_key(node, key);
    if ((uintptr_t)cc_hmap_get(counts, key) != 1) {
        return cur;
    }
    cc_node *out = cc_module_substitute(cur, NULL, NULL);
    cc_node_decref(cur);
    return out;
}

cc_node *
cc_inline_single_callsite_modules(cc_node *c)
{
    cc_node **nodes;
    int64_t n;
    if (cc_node_postorder_unique(c, &nodes, &n) < 0) {
        return NULL;
    }
    cc_hmap counts;
    cc_hmap_init(&counts);
    cc_node *out = NULL;
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++) {
        if (nodes[i]->kind != CC_KIND_MODULE) {
            continue;
        }
        uint8_t key[32];
        spec_key(nodes[i], key);
        uintptr_t count = (uintptr_t)cc_hmap_get(&counts, key);
        ok = cc_hmap_put(&counts, key, (void *)(count + 1)) == 0;
    }
    cc_free(nodes);
    if (ok) {
        out = cc_deep_map(c, cc_deep_map_keep_module_free, inline_post, &counts);
    }
    cc_hmap_clear(&counts);
    return out;
}

// --- fuse_concat_modules ---------------------------------------------------------------------

// x without its leading axis of size 1 (rc's squeeze of axis 0), automatically named.
static cc_node *
squeeze_first(cc_node *x)
{
    int in_lens[CC_MAX_NDIM], out_lens[CC_MAX_NDIM];
    uint8_t in[CC_MAX_NDIM], out[CC_MAX_NDIM];
    int64_t sizes[CC_MAX_NDIM];
    in_lens[0] = 0;
    sizes[0] = CC_REARRANGE_SIZE_NONE;
    for (int i = 1; i < x->ndim; i++) {
        in_lens[i] = out_lens[i - 1] = 1;
        in[i - 1] = out[i - 1] = (uint8_t)i;
        sizes[i] = CC_REARRANGE_SIZE_NONE;
    }
    cc_rearrange_spec *spec =
        cc_rearrange_spec_new(x->ndim, in_lens, in, x->ndim - 1, out_lens, out, x->ndim, sizes);
    if (spec == NULL) {
        return NULL;
    }
    cc_node *r = cc_rearrange_new(x, spec, NULL);
    cc_rearrange_spec_free(spec);
    return r;
}

// m with batch rank 1: itself, or (batch rank 0) its batchable arguments unsqueezed at axis 0.
static cc_node *
with_one_batch_axis(cc_node *m, int i)
{
    int rank = m->ndim - m->children[0]->ndim;
    if (rank == 1) {
        cc_node_incref(m);
        return m;
    }
    if (rank != 0) {
        return cc_fail_null(CC_E_PY_RUNTIME,
                            "fuse_concat_modules: module %d has batch rank %d > 1 (only batch "
                            "rank 0 or 1 is handled)",
                            i, rank);
    }
    int n = m->n_children - 1;
    cc_node **args = cc_calloc((size_t)(n > 0 ? n : 1), sizeof(cc_node *));
    if (args == NULL) {
        return NULL;
    }
    cc_node *out = NULL;
    int j = 0;
    for (; j < n; j++) {
        cc_node *a = m->children[1 + j];
        if (m->u.module.arg_specs[j].batchable) {
            args[j] = cc_expand_unsqueeze_range(a, 0, 1, NULL);
        } else {
            cc_node_incref(a);
            args[j] = a;
        }
        if (args[j] == NULL) {
            break;
        }
    }
    if (j == n) {
        out = cc_module_new(m->children[0], n, m->u.module.arg_specs, args, m->name);
    }
    for (int k = 0; k < n; k++) {
        cc_node_decref(args[k]);
    }
    cc_free(args);
    return out;
}

typedef struct {
    int n;
    cc_node *const *keys;
    cc_node **values;
} replace_ctx;

static int
replace_pre(void *vctx, cc_node *node, cc_node **out)
{
    const replace_ctx *ctx = vctx;
    for (int k = 0; k < ctx->n; k++) {
        if (memcmp(ctx->keys[k]->hash, node->hash, 32) == 0) {
            cc_node_incref(ctx->values[k]);
            *out = ctx->values[k];
            return 1;
        }
    }
    return cc_deep_map_keep_module_free(NULL, node, out);
}

// The fused Module over the one-batch-axis modules mods (n of them, same spec).
static cc_node *
fused_module(int n, cc_node *const *mods, const char *name)
{
    const cc_node *m0 = mods[0];
    int n_args = m0->n_children - 1;
    cc_node **args = cc_calloc((size_t)(n_args > 0 ? n_args : 1), sizeof(cc_node *));
    cc_node **parts = cc_malloc((size_t)n * sizeof(cc_node *));
    cc_node *out = NULL;
    if (args == NULL || parts == NULL) {
        goto done;
    }
    for (int j = 0; j < n_args; j++) {
        if (!m0->u.module.arg_specs[j].batchable) {
            for (int k = 1; k < n; k++) {
                if (memcmp(mods[k]->children[1 + j]->hash, m0->children[1 + j]->hash, 32) != 0) {
                    cc_fail(CC_E_PY_RUNTIME,
                            "fuse_concat_modules: all inputs must be batchable or have the same "
                            "child on all inputs (argument %d is not batchable and module %d "
                            "binds another child)",
                            j, k);
                    goto done;
                }
            }
            cc_node_incref(m0->children[1 + j]);
            args[j] = m0->children[1 + j];
            continue;
        }
        for (int k = 0; k < n; k++) {
            parts[k] = mods[k]->children[1 + j];
        }
        args[j] = cc_concat_new(n, parts, 0, NULL);
        if (args[j] == NULL) {
            goto done;
        }
    }
    out = cc_module_new(m0->children[0], n_args, m0->u.module.arg_specs, args, name);
done:
    for (int j = 0; args != NULL && j < n_args; j++) {
        cc_node_decref(args[j]);
    }
    cc_free(args);
    cc_free(parts);
    return out;
}

cc_node *
cc_fuse_concat_modules(cc_node *c, int n, cc_node *const *modules, const char *name)
{
    if (n == 0) {
        return cc_fail_null(CC_E_PY_RUNTIME, "fuse_concat_modules: no modules specified");
    }
    uint8_t key0[32], key[32];
    spec_key(modules[0], key0);
    for (int i = 1; i < n; i++) {
        spec_key(modules[i], key);
        if (memcmp(key, key0, 32) != 0) {
            return cc_fail_null(CC_E_PY_RUNTIME,
                                "fuse_concat_modules: the modules do not all have the same "
                                "ModuleSpec (module %d differs from module 0)",
                                i);
        }
    }
    cc_node **one = cc_calloc((size_t)n, sizeof(cc_node *));
    cc_node **parts = cc_calloc((size_t)n, sizeof(cc_node *));
    int64_t *sections = cc_malloc((size_t)n * sizeof(int64_t));
    cc_node *fused = NULL, *split = NULL, *out = NULL;
    if (one == NULL || parts == NULL || sections == NULL) {
        goto done;
    }
    for (int i = 0; i < n; i++) {
        one[i] = with_one_batch_axis(modules[i], i);
        if (one[i] == NULL) {
            goto done;
        }
        sections[i] = one[i]->shape[0];
    }
    fused = fused_module(n, one, name);
    split = fused != NULL ? cc_split_to_concat(fused, 0, n, sections) : NULL;
    if (split == NULL) {
        goto done;
    }
    for (int i = 0; i < n; i++) {
        cc_node *part = split->children[i];
        if (modules[i]->ndim == modules[i]->children[0]->ndim) {
            parts[i] = squeeze_first(part);
            if (parts[i] == NULL) {
                goto done;
            }
        } else {
            cc_node_incref(part);
            parts[i] = part;
        }
    }
    replace_ctx ctx = {n, modules, parts};
    out = cc_deep_map(c, replace_pre, NULL, &ctx);
done:
    for (int i = 0; i < n; i++) {
        cc_node_decref(one != NULL ? one[i] : NULL);
        cc_node_decref(parts != NULL ? parts[i] : NULL);
    }
    cc_free(one);
    cc_free(parts);
    cc_free(sections);
    cc_node_decref(fused);
    cc_node_decref(split);
    return out;
}

// --- strip_names_and_tags --------------------------------------------------------------------

static cc_node *
strip_post(void *ctx, cc_node *node, cc_node *const *kids, int changed)
{
    (void)ctx;
    cc_node *cur = cc_deep_map_rebuild(node, kids, changed);
    if (cur == NULL || (cur->name == NULL && cur->kind != CC_KIND_TAG)) {
        return cur;
    }
    cc_node *out;
    if (cur->kind == CC_KIND_TAG) {
        out = cur->children[0];
        cc_node_incref(out);
    } else if (cur->kind == CC_KIND_ARRAY || cur->kind == CC_KIND_SYMBOL) {
        static const uint8_t nil[16] = {0};
        out = cc_tag_new(cur, nil, CC_NO_NAME);
    } else {
        out = cc_node_rename(cur, CC_NO_NAME);
    }
    cc_node_decref(cur);
    return out;
}

cc_node *
cc_strip_names_and_tags(cc_node *c)
{
    return cc_deep_map(c, NULL, strip_post, NULL);
}
