// Symbol: a leaf placeholder of a given shape identified by a uuid; never explicitly
// computable. Hash: uuid bytes and the shape, as rc.
#include <string.h>

#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
#include "util/error.h"

static const uint8_t symbol_type_uuid[16] = {0x13, 0xc3, 0xee, 0x63, 0x76, 0xe9, 0x4a, 0xfb,
                                             0x80, 0x57, 0x40, 0x30, 0x9d, 0x17, 0xb4, 0x58};

static const cc_name_op symbol_name_op = {.cls = CC_NAME_NONE};

static void
symbol_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_blake3_update(h, n->u.symbol.uuid, 16);
    for (int i = 0; i < n->ndim; i++) {
        cc_blake3_update_u64_le(h, (uint64_t)n->shape[i]);
    }
}

static cc_node *
symbol_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    (void)children;
    cc_node *m = cc_node_alloc(CC_KIND_SYMBOL, 0, NULL, n->ndim, n->shape);
    if (m == NULL) {
        return NULL;
    }
    memcpy(m->u.symbol.uuid, n->u.symbol.uuid, 16);
    return cc_node_finish_leaf_copy(m, n, name);
}

// The uuid, nothing for the nil uuid.
static int
symbol_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    (void)o;
    return cc_payload_uuid_is_nil(n->u.symbol.uuid) ? 0
                                                    : cc_payload_put_uuid(out, n->u.symbol.uuid);
}

// A uuid, "rand" (a fresh version-4 uuid) or nothing (the nil uuid); the line gives the shape.
static cc_node *
symbol_parse_payload(const cc_payload_parse *in, const char **at)
{
    if (cc_payload_expect_shape(in, CC_KIND_SYMBOL, "", at) < 0) {
        return NULL;
    }
    uint8_t uuid[16] = {0};
    if (in->extra != NULL && strcmp(in->extra, "rand") == 0) {
        *at = in->extra_at;
        if (in->random_bytes == NULL) {
            return cc_fail_null(CC_E_PARSE_CIRCUIT, "no source of random uuids");
        }
        if (in->random_bytes(in->ctx, uuid, sizeof uuid) < 0) {
            return NULL;
        }
        uuid[6] = (uint8_t)((uuid[6] & 0x0F) | 0x40); // version 4
        uuid[8] = (uint8_t)((uuid[8] & 0x3F) | 0x80); // RFC 4122 variant
    } else if (in->extra != NULL && cc_payload_parse_uuid(in, uuid, at) < 0) {
        return NULL;
    }
    *at = in->shape_at;
    return cc_symbol_new(in->ndim, in->shape, uuid, in->name);
}

static int
symbol_eval_is_view(const cc_node *n)
{
    (void)n;
    return 1;
}

CC_DEFINE_KIND_OPS(symbol, .eval_is_view = symbol_eval_is_view);

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
