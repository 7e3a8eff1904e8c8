// SetSymbolicShape: its child, with the child's symbolic sizes pinned to concrete (or other
// symbolic) sizes; made by expansion where a symbolic size meets a concrete one. Not
// explicitly computable. Hash: the shape as u64s, then the child's hash (rc).
#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
#include "nodes/shape.h"
#include "nodes/symbolic_size.h"
#include "util/alloc.h"
#include "util/error.h"

static const uint8_t set_symbolic_shape_type_uuid[16] = {
    0x25, 0x33, 0x2a, 0x58, 0x39, 0xd6, 0x44, 0x3d, 0xb2, 0x25, 0x65, 0xc8, 0x10, 0xa0, 0x9a, 0xa4,
};

static const cc_name_op set_symbolic_shape_name_op = {.cls = CC_NAME_POSTFIX, .text = " set_shape"};

static void
set_symbolic_shape_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    for (int i = 0; i < n->ndim; i++) {
        cc_blake3_update_u64_le(h, (uint64_t)n->shape[i]);
    }
    cc_node_hash_children(n, h);
}

static cc_node *
set_symbolic_shape_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return cc_set_symbolic_shape_new(children[0], n->ndim, n->shape, name);
}

// The shape is the payload, printed in the line's shape.
static int
set_symbolic_shape_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    (void)n;
    (void)o;
    (void)out;
    return 0;
}

static cc_node *
set_symbolic_shape_parse_payload(const cc_payload_parse *in, const char **at)
{
    if (cc_payload_expect_shape(in, CC_KIND_SET_SYMBOLIC_SHAPE, "", at) < 0 ||
        cc_payload_expect_none(in, CC_KIND_SET_SYMBOLIC_SHAPE, at) < 0) {
        return NULL;
    }
    *at = in->kind_at;
    return cc_set_symbolic_shape_new(in->children[0], in->ndim, in->shape, in->name);
}

static cc_node *
set_symbolic_shape_expand(const cc_expand_call *e)
{
    const cc_node *c = e->c;
    const cc_node *old = c->children[0];
    cc_node *x = e->inputs[0];
    int nb = e->batch_rank;
    int64_t full[CC_MAX_NDIM];
    int change = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i < nb) {
            full[i] = x->shape[i];
        } else {
            int k = i - nb;
            full[i] = x->shape[i] == old->shape[k] ? c->shape[k] : x->shape[i];
        }
        change |= full[i] != x->shape[i];
    }
    if (!change) {
        cc_node_incref(x);
        return x;
    }
    return cc_set_symbolic_shape_new(x, x->ndim, full, c->name);
}

// rc's child_axis_map: each axis stays where it is.
static int
set_symbolic_shape_child_axis_map(const cc_node *n, int i, int *out)
{
    for (int j = 0; j < n->children[i]->ndim; j++) {
        out[j] = j;
    }
    return 0;
}

CC_DEFINE_KIND_OPS(set_symbolic_shape, .expand = set_symbolic_shape_expand,
                   .child_axis_map = set_symbolic_shape_child_axis_map);

// The constraints (at most ndim) pinning sizes of from to those of to. 0, or -1.
static int
own_constraints(const int64_t *from, int ndim, const int64_t *to, const char *what,
                cc_size_constraint *out, int *n)
{
    *n = 0;
    for (int i = 0; i < ndim; i++) {
        int has;
        if (cc_size_constraint_new(from[i], to[i], &out[*n], &has) < 0) {
            cc_error_prefix("%s, axis %d", what, i);
            return -1;
        }
        *n += has;
    }
    return 0;
}

int
cc_size_constraints_check_circuit(cc_node *circuit, const char *what)
{
    cc_node **order = NULL;
    int64_t n = 0;
    if (cc_node_postorder_unique(circuit, &order, &n) < 0) {
        return -1;
    }
    cc_size_constraint *all = NULL;
    size_t cap = 0, len = 0;
    int rc = 0;
    for (int64_t k = 0; k < n && rc == 0; k++) {
        const cc_node *s = order[k];
        if (s->kind != CC_KIND_SET_SYMBOLIC_SHAPE) {
            continue;
        }
        int got;
        rc = cc_grow((void **)&all, &cap, len + (size_t)s->ndim, sizeof(cc_size_constraint));
        if (rc == 0) {
            rc = own_constraints(s->children[0]->shape, s->ndim, s->shape, what, all + len, &got);
            len += rc == 0 ? (size_t)got : 0;
        }
    }
    if (rc == 0) {
        rc = cc_size_constraints_check((int)len, all, what);
    }
    cc_free(all);
    cc_free(order);
    return rc;
}

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
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            return cc_fail_null(CC_E_PY_VALUE, "%s: negative size %lld on axis %d", what,
                                (long long)shape[i], i);
        }
    }
    cc_size_constraint constraints[CC_MAX_NDIM];
    int n_constraints = 0;
    if (own_constraints(child->shape, ndim, shape, what, constraints, &n_constraints) < 0 ||
        cc_size_constraints_check(n_constraints, constraints, what) < 0) {
        return NULL;
    }
    cc_node *n = cc_node_alloc(CC_KIND_SET_SYMBOLIC_SHAPE, 1, &child, ndim, shape);
    if (n == NULL) {
        return NULL;
    }
    n->is_explicitly_computable = 0;
    return cc_node_finish(n, name);
}

cc_node *
cc_set_symbolic_shape_some_set_neq(cc_node *node, const int64_t *shape, const char *name)
{
    int change = 0;
    int64_t full[CC_MAX_NDIM];
    for (int i = 0; i < node->ndim; i++) {
        full[i] = shape[i] < 0 ? node->shape[i] : shape[i];
        change |= full[i] != node->shape[i];
    }
    if (!change) {
        cc_node_incref(node);
        return node;
    }
    return cc_set_symbolic_shape_new(node, node->ndim, full, name);
}

cc_node *
cc_set_symbolic_shape_some_set_and_symbolic_neq(cc_node *node, const int64_t *shape,
                                                const char *name)
{
    int64_t only[CC_MAX_NDIM];
    for (int i = 0; i < node->ndim; i++) {
        only[i] = cc_size_has_symbolic(node->shape[i]) ? shape[i] : -1;
    }
    return cc_set_symbolic_shape_some_set_neq(node, only, name);
}
