// Symbol: a leaf placeholder of a given shape identified by a uuid; never explicitly
// computable. Hash: uuid bytes and the shape, as rc.
#include <string.h>

#include "nodes/node_impl.h"
#include "util/error.h"

static void
hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_blake3_update(h, n->u.symbol.uuid, 16);
    for (int i = 0; i < n->ndim; i++) {
        cc_blake3_update_u64_le(h, (uint64_t)n->shape[i]);
    }
}

static cc_node *
rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return cc_node_rebuild(n, children, name);
}

const cc_kind_ops cc_symbol_ops = {
    .type_uuid = {0x13, 0xc3, 0xee, 0x63, 0x76, 0xe9, 0x4a, 0xfb, 0x80, 0x57, 0x40, 0x30, 0x9d,
                  0x17, 0xb4, 0x58},
    .hash_non_name = hash_non_name,
    .free_payload = NULL,
    .rebuild = rebuild,
};

// uuid NULL means the nil uuid (rc's Symbol.new_with_none_uuid).
cc_node *
cc_symbol_new(int ndim, const int64_t *shape, const uint8_t uuid[16], const char *name)
{
    for (int i = 0; i < ndim && i < CC_MAX_NDIM; i++) {
        if (shape[i] < 0) {
            char what[160];
            return cc_fail_null(CC_E_PY_VALUE, "%s: negative size %lld on axis %d",
                                cc_node_describe(CC_KIND_SYMBOL, name, what, sizeof(what)),
                                (long long)shape[i], i);
        }
    }
    cc_node *n = cc_node_alloc(CC_KIND_SYMBOL, 0, NULL, ndim, shape);
    if (n == NULL) {
        return NULL;
    }
    if (uuid != NULL) {
        memcpy(n->u.symbol.uuid, uuid, 16);
    }
    n->is_explicitly_computable = 0;
    return cc_node_finish(n, name);
}
