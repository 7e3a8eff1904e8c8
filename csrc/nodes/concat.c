// Concat: operands of equal rank joined along one axis (stored canonical, >= 0); all
// other sizes must agree. Hash: the axis as rc's usize, then the children's hashes.
#include "nodes/node_impl.h"
#include "nodes/shape.h"
#include "util/error.h"

static void
hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_blake3_update_u64_le(h, (uint64_t)n->u.concat.axis);
    cc_node_hash_children(n, h);
}

static cc_node *
rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return cc_concat_new(n->n_children, children, n->u.concat.axis, name);
}

const cc_kind_ops cc_concat_ops = {
    .type_uuid = {0xf2, 0x68, 0x45, 0x83, 0xc2, 0x15, 0x4f, 0x67, 0x82, 0x5e, 0x6e, 0x4e, 0x51,
                  0x09, 0x1c, 0xa7},
    .hash_non_name = hash_non_name,
    .free_payload = NULL,
    .rebuild = rebuild,
};

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
