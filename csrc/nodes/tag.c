// Tag: identity on its child, carrying a uuid that makes otherwise equal subtrees
// distinct. Hash: the uuid, then the child's hash.
#include <string.h>

#include "nodes/node_impl.h"

static void
hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_blake3_update(h, n->u.tag.uuid, 16);
    cc_node_hash_children(n, h);
}

static cc_node *
rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return cc_tag_new(children[0], n->u.tag.uuid, name);
}

const cc_kind_ops cc_tag_ops = {
    .type_uuid = {0x63, 0xfd, 0xc4, 0xce, 0x2f, 0x1b, 0x40, 0xb3, 0xb8, 0xb6, 0x13, 0x99, 0x1b,
                  0x54, 0xcb, 0xd7},
    .hash_non_name = hash_non_name,
    .free_payload = NULL,
    .rebuild = rebuild,
};

// uuid NULL means the nil uuid.
cc_node *
cc_tag_new(cc_node *child, const uint8_t uuid[16], const char *name)
{
    cc_node *n = cc_node_alloc(CC_KIND_TAG, 1, &child, child->ndim, child->shape);
    if (n == NULL) {
        return NULL;
    }
    if (uuid != NULL) {
        memcpy(n->u.tag.uuid, uuid, 16);
    }
    return cc_node_finish(n, name);
}
