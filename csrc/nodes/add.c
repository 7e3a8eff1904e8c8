// Add: elementwise sum of any number of operands with rc's broadcasting (shape.c);
// zero operands give shape (). Hash: the children's hashes only.
#include "nodes/expand_kind.h"
#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"

static const uint8_t add_type_uuid[16] = {0x88, 0xfb, 0x29, 0xe5, 0xc8, 0x1e, 0x47, 0xfe,
                                          0xae, 0x4c, 0x67, 0x8b, 0x22, 0x99, 0x46, 0x70};

static const cc_name_op add_name_op = {.cls = CC_NAME_INFIX, .priority = 0, .text = " + "};

static void
add_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_node_hash_children(n, h);
}

static cc_node *
add_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return cc_add_new(n->n_children, children, name);
}

static int
add_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    (void)n;
    (void)o;
    (void)out;
    return 0;
}

static cc_node *
add_parse_payload(const cc_payload_parse *in, const char **at)
{
    if (cc_payload_expect_none(in, CC_KIND_ADD, at) < 0) {
        return NULL;
    }
    *at = in->kind_at;
    return cc_add_new(in->n_children, in->children, in->name);
}

static cc_node *
add_expand(const cc_expand_call *e)
{
    cc_node **xs = e->xs;
    const cc_node *c = e->c;
    int max = 0;
    for (int i = 0; i < e->n; i++) {
        cc_node *inp = e->inputs[i];
        int b = e->br[i];
        int rank_diff = c->ndim - (inp->ndim - b);
        if (rank_diff > 0 && b > 0) {
            char *name;
            if (cc_expand_suffixed(inp->name, " unsq_b_add", &name) < 0) {
                return NULL;
            }
            xs[i] = cc_expand_unsqueeze_range(inp, b, rank_diff, name);
            cc_free(name);
            if (xs[i] == NULL) {
                return NULL;
            }
        } else {
            cc_node_incref(inp);
            xs[i] = inp;
        }
        max = xs[i]->ndim > max ? xs[i]->ndim : max;
    }
    int64_t full[CC_MAX_NDIM];
    int64_t *sizes = cc_malloc((size_t)(e->n > 0 ? e->n : 1) * sizeof(int64_t));
    if (sizes == NULL) {
        return NULL;
    }
    for (int k = 0; k < max; k++) {
        int m = 0;
        for (int i = 0; i < e->n; i++) {
            int j = k - (max - xs[i]->ndim);
            if (j >= 0 && xs[i]->shape[j] != 1) {
                sizes[m++] = xs[i]->shape[j];
            }
        }
        full[k] = m == 0 ? -1 : cc_expand_find_non_symbolic(m, sizes);
    }
    cc_free(sizes);
    for (int i = 0; i < e->n; i++) {
        cc_node *set = cc_set_symbolic_shape_some_set_and_symbolic_neq(
            xs[i], full + (max - xs[i]->ndim), NULL);
        if (set == NULL) {
            cc_error_prefix("%s: failed to set symbolic sizes in expand add", e->what);
            return NULL;
        }
        cc_node_decref(xs[i]);
        xs[i] = set;
    }
    return cc_add_new(e->n, xs, c->name);
}

// rc's self_flops: one addition per output element and operand (sizes multiplied as
// doubles: symbolic sizes are large).
static double
add_self_flops(const cc_node *n)
{
    double p = 1.0;
    for (int i = 0; i < n->ndim; i++) {
        p *= (double)n->shape[i];
    }
    return p * (double)n->n_children;
}

// rc's child_axis_map: a child axis is the aligned output axis when it is not broadcast.
static int
add_child_axis_map(const cc_node *n, int i, int *out)
{
    const cc_node *c = n->children[i];
    int rank_diff = n->ndim - c->ndim;
    for (int j = 0; j < c->ndim; j++) {
        out[j] = n->shape[j + rank_diff] == c->shape[j] ? j + rank_diff : -1;
    }
    return 0;
}

CC_DEFINE_KIND_OPS(add, .expand = add_expand, .self_flops = add_self_flops,
                   .child_axis_map = add_child_axis_map);

cc_node *
cc_add_new(int n, cc_node *const *children, const char *name)
{
    int *ndims = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    const int64_t **shapes = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t *));
    if (ndims == NULL || shapes == NULL) {
        cc_free(ndims);
        cc_free(shapes);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        ndims[i] = children[i]->ndim;
        shapes[i] = children[i]->shape;
    }
    int ndim;
    int64_t shape[CC_MAX_NDIM];
    int rc = cc_shape_broadcast(n, ndims, shapes, &ndim, shape);
    cc_free(ndims);
    cc_free(shapes);
    if (rc < 0) {
        char what[160];
        cc_error_prefix("%s", cc_node_describe(CC_KIND_ADD, name, what, sizeof(what)));
        return NULL;
    }
    cc_node *node = cc_node_alloc(CC_KIND_ADD, n, children, ndim, shape);
    if (node == NULL) {
        return NULL;
    }
    return cc_node_finish(node, name);
}
