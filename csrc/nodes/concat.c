// Concat: operands of equal rank joined along one axis (stored canonical, >= 0); all
// other sizes must agree. Hash: the axis as rc's usize, then the children's hashes.
#include <string.h>

#include "nodes/expand_kind.h"
#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
#include "util/alloc.h"
#include "nodes/shape.h"
#include "util/error.h"

static const uint8_t concat_type_uuid[16] = {0xf2, 0x68, 0x45, 0x83, 0xc2, 0x15, 0x4f, 0x67,
                                             0x82, 0x5e, 0x6e, 0x4e, 0x51, 0x09, 0x1c, 0xa7};

static const cc_name_op concat_name_op = {.cls = CC_NAME_INFIX_AMBIGUOUS, .text = " ++ "};

static void
concat_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_blake3_update_u64_le(h, (uint64_t)n->u.concat.axis);
    cc_node_hash_children(n, h);
}

static cc_node *
concat_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return cc_concat_new(n->n_children, children, n->u.concat.axis, name);
}

static int
concat_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    (void)o;
    return cc_payload_put_i64(out, n->u.concat.axis);
}

// The axis, an integer.
static cc_node *
concat_parse_payload(const cc_payload_parse *in, const char **at)
{
    int64_t axis;
    if (cc_payload_expect(in, CC_KIND_CONCAT, "an axis", at) < 0 ||
        cc_payload_parse_int(in->extra_at, in->extra_at + strlen(in->extra), &axis, at) < 0) {
        return NULL;
    }
    if (axis < -CC_MAX_NDIM || axis >= CC_MAX_NDIM) {
        *at = in->extra_at;
        return cc_fail_null(CC_E_PARSE_INVALID_NUMBER, "Concat axis %lld is out of range",
                            (long long)axis);
    }
    *at = in->kind_at;
    return cc_concat_new(in->n_children, in->children, (int)axis, in->name);
}

static cc_node *
concat_expand(const cc_expand_call *e)
{
    cc_node **xs = e->xs;
    const cc_node *c = e->c;
    uint8_t *all = cc_malloc((size_t)e->n);
    if (all == NULL) {
        return NULL;
    }
    memset(all, 1, (size_t)e->n);
    int bad;
    int r = cc_expand_batched_inputs(e, all, xs, &bad);
    cc_free(all);
    if (r != 0) {
        return NULL;
    }
    int axis = c->u.concat.axis, new_axis = axis + e->batch_rank;
    for (int i = 0; i < e->n; i++) {
        if (c->children[i]->shape[axis] != xs[i]->shape[new_axis]) {
            return cc_fail_null(CC_E_EXPAND_CONCAT_AXIS,
                                "Trying to expand concat axis of %s: axis %d of child %d had "
                                "size %lld but its replacement has %lld",
                                e->what, axis, i, (long long)c->children[i]->shape[axis],
                                (long long)xs[i]->shape[new_axis]);
        }
    }
    int rank = xs[0]->ndim;
    int same_rank = 1;
    for (int i = 0; i < e->n; i++) {
        same_rank &= xs[i]->ndim == rank;
    }
    if (same_rank) {
        int64_t want[CC_MAX_NDIM];
        int64_t *sizes = cc_malloc((size_t)e->n * sizeof(int64_t));
        if (sizes == NULL) {
            return NULL;
        }
        for (int k = 0; k < rank; k++) {
            for (int i = 0; i < e->n; i++) {
                sizes[i] = xs[i]->shape[k];
            }
            want[k] = k == new_axis ? -1 : cc_expand_find_non_symbolic(e->n, sizes);
        }
        cc_free(sizes);
        for (int i = 0; i < e->n; i++) {
            cc_node *set = cc_set_symbolic_shape_some_set_and_symbolic_neq(xs[i], want, NULL);
            if (set == NULL) {
                cc_error_prefix("%s: failed to set symbolic sizes in expand concat", e->what);
                return NULL;
            }
            cc_node_decref(xs[i]);
            xs[i] = set;
        }
    }
    return cc_concat_new(e->n, xs, new_axis, c->name);
}

// rc's child_axis_map: every axis but the concatenated one.
static int
concat_child_axis_map(const cc_node *n, int i, int *out)
{
    for (int j = 0; j < n->children[i]->ndim; j++) {
        out[j] = j == n->u.concat.axis ? -1 : j;
    }
    return 0;
}

CC_DEFINE_KIND_OPS(concat, .expand = concat_expand, .child_axis_map = concat_child_axis_map);

static cc_node *
fail_shapes(int n, cc_node *const *children, int axis, const char *what)
{
    cc_str s;
    cc_str_init(&s);
    int ok = cc_str_append(&s, "[") == 0;
    for (int i = 0; ok && i < n; i++) {
        ok = (i == 0 || cc_str_append(&s, ", ") == 0) &&
             cc_shape_append(&s, children[i]->ndim, children[i]->shape) == 0;
    }
    ok = ok && cc_str_append(&s, "]") == 0;
    if (ok) {
        cc_fail(CC_E_CONSTRUCT_CONCAT_SHAPE_DIFFERENT,
                "%s: nodes have different shapes %s (concatenating along axis %d)", what, s.data,
                axis);
    }
    cc_str_clear(&s);
    return NULL;
}

cc_node *
cc_concat_new(int n, cc_node *const *children, int axis, const char *name)
{
    char what[160];
    cc_node_describe(CC_KIND_CONCAT, name, what, sizeof(what));
    if (n < 1) {
        return cc_fail_null(CC_E_CONSTRUCT_CONCAT_ZERO_NODES, "%s requires at least one node",
                            what);
    }
    int rank = children[0]->ndim;
    if (axis >= rank || axis < -rank) {
        // rc raises MiscInputItemOutOfBoundsError here; the construction class says better
        // which node was wrong (a ConstructError, like every other Concat check).
        return cc_fail_null(CC_E_CONSTRUCT_AXIS_OUT_OF_BOUNDS,
                            "%s: axis %d is out of bounds for rank %d (needs -%d <= axis < %d)",
                            what, axis, rank, rank, rank);
    }
    if (axis < 0) {
        axis += rank;
    }
    int64_t shape[CC_MAX_NDIM];
    for (int k = 0; k < rank; k++) {
        shape[k] = k == axis ? 0 : children[0]->shape[k];
    }
    for (int i = 0; i < n; i++) {
        const cc_node *c = children[i];
        if (c->ndim != rank) {
            return fail_shapes(n, children, axis, what);
        }
        for (int k = 0; k < rank; k++) {
            if (k != axis && c->shape[k] != shape[k]) {
                return fail_shapes(n, children, axis, what);
            }
        }
        shape[axis] += c->shape[axis];
    }
    cc_node *node = cc_node_alloc(CC_KIND_CONCAT, n, children, rank, shape);
    if (node == NULL) {
        return NULL;
    }
    node->u.concat.axis = axis;
    return cc_node_finish(node, name);
}
