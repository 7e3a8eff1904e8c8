// Array: a leaf holding a tensor view (retained, treated as immutable), hashed through
// rc's tensor hash. Rejects sizes with a reserved symbolic-size factor, as rc does.
#include "nodes/node_impl.h"
#include "nodes/shape.h"
#include "tensor/tensor_hash.h"
#include "util/alloc.h"
#include "util/error.h"

static void
hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_blake3_update(h, n->u.array.tensor_hash, 32);
}

static void
free_payload(cc_node *n)
{
    if (n->u.array.value != NULL) {
        cc_tensor_clear(n->u.array.value);
        cc_free(n->u.array.value);
    }
}

static cc_node *
rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return cc_node_rebuild(n, children, name);
}

const cc_kind_ops cc_array_ops = {
    .type_uuid = {0xb2, 0xaa, 0xc9, 0xd5, 0x1b, 0xfa, 0x4c, 0x2a, 0x96, 0x84, 0xe3, 0xf9, 0xec,
                  0xbc, 0x1b, 0x94},
    .hash_non_name = hash_non_name,
    .free_payload = free_payload,
    .rebuild = rebuild,
};

static cc_node *
fail_symbolic(const cc_tensor *value, int axis, const char *name)
{
    char what[160];
    cc_str sym;
    cc_str_init(&sym);
    if (cc_size_append(&sym, value->shape[axis]) < 0) {
        return NULL;
    }
    cc_fail(CC_E_CONSTRUCT_ARRAY_HAS_RESERVED_SYMBOLIC_SHAPE,
            "%s: axis %d has length %lld, which has a prime factor above 10,000; those are "
            "reserved for symbolic shapes (symbolic meaning %s)",
            cc_node_describe(CC_KIND_ARRAY, name, what, sizeof(what)), axis,
            (long long)value->shape[axis], sym.data);
    cc_str_clear(&sym);
    return NULL;
}

int
cc_array_set_value(cc_node *n, const cc_tensor *value)
{
    n->u.array.value = cc_malloc(sizeof(cc_tensor));
    if (n->u.array.value == NULL) {
        return -1;
    }
    cc_tensor_init_view(n->u.array.value, value);
    return 0;
}

cc_node *
cc_array_new(const cc_tensor *value, const char *name)
{
    for (int i = 0; i < value->ndim && i < CC_MAX_NDIM; i++) {
        if (cc_size_has_symbolic(value->shape[i])) {
            return fail_symbolic(value, i, name);
        }
    }
    cc_node *n = cc_node_alloc(CC_KIND_ARRAY, 0, NULL, value->ndim, value->shape);
    if (n == NULL) {
        return NULL;
    }
    if (cc_array_set_value(n, value) < 0) {
        cc_node_free_one(n);
        return NULL;
    }
    cc_tensor_hash(value, n->u.array.tensor_hash);
    n->dtype = (int8_t)value->dtype;
    return cc_node_finish(n, name);
}
