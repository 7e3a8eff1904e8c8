// Scalar: a leaf standing for a constant tensor of a given shape filled with one value
// (float64 when evaluated). Hash: the value's f64 bits and the shape, as rc.
#include <string.h>

#include "nodes/node_impl.h"
#include "util/error.h"

static void
hash_non_name(const cc_node *n, cc_blake3 *h)
{
    uint64_t bits;
    memcpy(&bits, &n->u.scalar.value, sizeof(bits));
    cc_blake3_update_u64_le(h, bits);
    for (int i = 0; i < n->ndim; i++) {
        cc_blake3_update_u64_le(h, (uint64_t)n->shape[i]);
    }
}

static cc_node *
rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return cc_node_rebuild(n, children, name);
}

const cc_kind_ops cc_scalar_ops = {
    .type_uuid = {0x78, 0xa7, 0x79, 0x05, 0x8b, 0x3f, 0x44, 0x71, 0xbb, 0x77, 0x25, 0x56, 0x73,
                  0x94, 0x1f, 0xef},
    .hash_non_name = hash_non_name,
    .free_payload = NULL,
    .rebuild = rebuild,
};

cc_node *
cc_scalar_new(double value, int ndim, const int64_t *shape, const char *name)
{
    for (int i = 0; i < ndim && i < CC_MAX_NDIM; i++) {
        if (shape[i] < 0) {
            char what[160];
            return cc_fail_null(CC_E_PY_VALUE, "%s: negative size %lld on axis %d",
                                cc_node_describe(CC_KIND_SCALAR, name, what, sizeof(what)),
                                (long long)shape[i], i);
        }
    }
    cc_node *n = cc_node_alloc(CC_KIND_SCALAR, 0, NULL, ndim, shape);
    if (n == NULL) {
        return NULL;
    }
    n->u.scalar.value = value;
    return cc_node_finish(n, name);
}
