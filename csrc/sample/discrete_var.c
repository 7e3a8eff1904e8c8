// The DiscreteVar kind (children: values, probs_and_group). Its shape is values' without axis
// 0; it is neither constant nor explicitly computable, so evaluation refuses it until a
// sampler has replaced it. Hash: the children's hashes only, as rc.
#include "sample/discrete_var.h"

#include "nodes/expand_kind.h"
#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"

static const uint8_t discrete_var_type_uuid[16] = {0x1b, 0xd7, 0x91, 0xcd, 0x84, 0x60, 0x49, 0x6d,
                                                   0x8c, 0xf5, 0x30, 0x3b, 0xaa, 0x3c, 0xd2, 0x26};

// "<values> var": the probs_and_group child takes no part in the name.
static const cc_name_op discrete_var_name_op = {.cls = CC_NAME_POSTFIX, .text = " var"};

static void
discrete_var_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_node_hash_children(n, h);
}

static cc_node *
discrete_var_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    (void)n;
    return cc_discrete_var_new(children[0], children[1], name);
}

static int
discrete_var_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    (void)n;
    (void)o;
    (void)out;
    return 0;
}

static cc_node *
discrete_var_parse_payload(const cc_payload_parse *in, const char **at)
{
    if (cc_payload_expect_none(in, CC_KIND_DISCRETE_VAR, at) < 0) {
        return NULL;
    }
    *at = in->kind_at;
    if (in->n_children != 2) {
        return cc_fail_null(CC_E_PARSE_CIRCUIT_WRONG_NUMBER_CHILDREN,
                            "DiscreteVar takes 2 children (values, probs_and_group), found %d",
                            in->n_children);
    }
    return cc_discrete_var_new(in->children[0], in->children[1], in->name);
}

// Batch axes on values move behind its sample axis, so every batch position draws the same
// row; a group gaining axes would no longer be 1-D.
static cc_node *
discrete_var_expand(const cc_expand_call *e)
{
    if (e->br[1] != 0) {
        return cc_fail_null(CC_E_EXPAND_NODE_UNHANDLED_VARIANT,
                            "%s: its probs_and_group gained %d batch axes, but a group must stay "
                            "1-D",
                            e->what, e->br[1]);
    }
    cc_node *values = e->inputs[0];
    int nb = e->br[0];
    if (nb == 0) {
        return cc_discrete_var_new(values, e->inputs[1], e->c->name);
    }
    int perm[CC_MAX_NDIM];
    perm[0] = nb;
    for (int i = 0; i < nb; i++) {
        perm[i + 1] = i;
    }
    for (int i = nb + 1; i < values->ndim; i++) {
        perm[i] = i;
    }
    char *name = NULL;
    if (cc_expand_suffixed(values->name, " sample_first", &name) < 0) {
        return NULL;
    }
    cc_node *moved = cc_expand_permute(values, perm, name);
    cc_free(name);
    if (moved == NULL) {
        return NULL;
    }
    cc_node *out = cc_discrete_var_new(moved, e->inputs[1], e->c->name);
    cc_node_decref(moved);
    return out;
}

static int
discrete_var_child_comment(const cc_node *n, int i, cc_str *out)
{
    (void)n;
    return cc_str_append(out, i == 0 ? "Values" : "Probs and Group");
}

// rc's child_axis_map: the values' axes after the samples axis are the node's; the samples
// axis and the probabilities become none.
static int
discrete_var_child_axis_map(const cc_node *n, int i, int *out)
{
    for (int j = 0; j < n->children[i]->ndim; j++) {
        out[j] = i == 0 ? j - 1 : -1;
    }
    return 0;
}

CC_DEFINE_KIND_OPS(discrete_var, .expand = discrete_var_expand,
                   .child_comment = discrete_var_child_comment,
                   .child_axis_map = discrete_var_child_axis_map);

cc_node *
cc_discrete_var_new(cc_node *values, cc_node *probs_and_group, const char *name)
{
    char what[160];
    if (probs_and_group->ndim != 1) {
        cc_str s;
        cc_str_init(&s);
        if (cc_shape_append(&s, probs_and_group->ndim, probs_and_group->shape) == 0) {
            cc_fail(CC_E_CONSTRUCT_DISCRETE_VAR_PROBS_MUST_BE1D,
                    "%s: probs_and_group must be 1-D, but its shape is %s",
                    cc_node_describe(CC_KIND_DISCRETE_VAR, name, what, sizeof what), s.data);
        }
        cc_str_clear(&s);
        return NULL;
    }
    if (values->ndim < 1) {
        return cc_fail_null(CC_E_CONSTRUCT_DISCRETE_VAR_NO_SAMPLES_DIM,
                            "%s: values must have a samples axis (axis 0), but it is a scalar",
                            cc_node_describe(CC_KIND_DISCRETE_VAR, name, what, sizeof what));
    }
    if (values->shape[0] != probs_and_group->shape[0]) {
        return cc_fail_null(CC_E_CONSTRUCT_DISCRETE_VAR_WRONG_SAMPLES_DIM,
                            "%s: values have %lld samples (axis 0) but probs_and_group has %lld",
                            cc_node_describe(CC_KIND_DISCRETE_VAR, name, what, sizeof what),
                            (long long)values->shape[0], (long long)probs_and_group->shape[0]);
    }
    cc_node *children[2] = {values, probs_and_group};
    cc_node *n = cc_node_alloc_with_dtype(CC_KIND_DISCRETE_VAR, 2, children, values->ndim - 1,
                                          values->shape + 1, values->dtype);
    if (n == NULL) {
        return NULL;
    }
    n->is_constant = 0;
    n->is_explicitly_computable = 0;
    n->can_be_sampled = 1;
    return cc_node_finish(n, name);
}

cc_node *
cc_discrete_var_uniform_group(int64_t size, const uint8_t uuid[16], const char *name)
{
    if (size <= 0) {
        return cc_fail_null(CC_E_CONSTRUCT_DISCRETE_VAR_WRONG_SAMPLES_DIM,
                            "uniform_probs_and_group: size must be positive, got %lld",
                            (long long)size);
    }
    cc_node *probs = cc_scalar_new(1.0 / (double)size, 1, &size, CC_NO_NAME);
    if (probs == NULL) {
        return NULL;
    }
    cc_node *group = cc_tag_new(probs, uuid, name == NULL ? CC_NO_NAME : name);
    cc_node_decref(probs);
    return group;
}
