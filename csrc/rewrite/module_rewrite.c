// rc's rewrites of single Module nodes (elim_empty_module, elim_no_input_module,
// module_remove_unused_inputs) and their bottom-up application to a whole circuit. Built on
// Module construction and substitution (expand/); knows nothing of matching or evaluation.
#include "rewrite/module_rewrite.h"

#include <string.h>

#include "expand/deep_map.h"
#include "expand/module.h"
#include "nodes/expand_kind.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"
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

static int
deep_remove_pre(void *ctx, cc_node *node, cc_node **out)
{
    (void)ctx;
    if (node->contains_module) {
        return 0;
    }
    cc_node_incref(node);
    *out = node;
    return 1;
}

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
    return cc_deep_map(c, deep_remove_pre, deep_remove_post, &ctx);
}
