// SetSymbolicShape: its child, with the child's symbolic sizes pinned to concrete (or other
// symbolic) sizes; made by expansion where a symbolic size meets a concrete one. Not
// explicitly computable. Hash: the shape as u64s, then the child's hash (rc).
#include "nodes/node_impl.h"
#include "nodes/shape.h"
#include "nodes/symbolic_size.h"
#include "util/alloc.h"
#include "util/error.h"

static void
hash_non_name(const cc_node *n, cc_blake3 *h)
{
    for (int i = 0; i < n->ndim; i++) {
        cc_blake3_update_u64_le(h, (uint64_t)n->shape[i]);
    }
    cc_node_hash_children(n, h);
}

static cc_node *
rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return cc_set_symbolic_shape_new(children[0], n->ndim, n->shape, name);
}

const cc_kind_ops cc_set_symbolic_shape_ops = {
    .type_uuid = {0x25, 0x33, 0x2a, 0x58, 0x39, 0xd6, 0x44, 0x3d, 0xb2, 0x25, 0x65, 0xc8, 0x10,
                  0xa0, 0x9a, 0xa4},
    .hash_non_name = hash_non_name,
    .free_payload = NULL,
    .rebuild = rebuild,
};

cc_node *
cc_set_symbolic_shape_new(cc_node *child, int ndim, const int64_t *shape, const char *name)
{
    char what[160];
    cc_node_describe(CC_KIND_SET_SYMBOLIC_SHAPE, name, what, sizeof(what));
    if (ndim != child->ndim) {
        return cc_fail_null(CC_E_SYMBOLIC_SIZE_SET,
                            "%s: the shape has %d axes but the child has %d", what, ndim,
                            child->ndim);
    }
    cc_size_constraint constraints[CC_MAX_NDIM];
    int n_constraints = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            return cc_fail_null(CC_E_PY_VALUE, "%s: negative size %lld on axis %d", what,
                                (long long)shape[i], i);
        }
        int has;
        if (cc_size_constraint_new(child->shape[i], shape[i], &constraints[n_constraints], &has) <
            0) {
            cc_error_prefix("%s, axis %d", what, i);
            return NULL;
        }
        n_constraints += has;
    }
    if (cc_size_constraints_check(n_constraints, constraints, what) < 0) {
        return NULL;
    }
    cc_node *n = cc_node_alloc(CC_KIND_SET_SYMBOLIC_SHAPE, 1, &child, ndim, shape);
    if (n == NULL) {
        return NULL;
    }
    n->is_explicitly_computable = 0;
    return cc_node_finish(n, name);
}
