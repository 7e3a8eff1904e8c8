// Tag: identity on its child, carrying a uuid that makes otherwise equal subtrees
// distinct. Hash: the uuid, then the child's hash.
#include <string.h>

#include "nodes/node_impl.h"
#include "nodes/payload_text.h"

static const uint8_t tag_type_uuid[16] = {0x63, 0xfd, 0xc4, 0xce, 0x2f, 0x1b, 0x40, 0xb3,
                                          0xb8, 0xb6, 0x13, 0x99, 0x1b, 0x54, 0xcb, 0xd7};

static const cc_name_op tag_name_op = {.cls = CC_NAME_POSTFIX, .text = " tag"};

static void
tag_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_blake3_update(h, n->u.tag.uuid, 16);
    cc_node_hash_children(n, h);
}

static cc_node *
tag_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return cc_tag_new(children[0], n->u.tag.uuid, name);
}

static int
tag_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    (void)o;
    return cc_payload_put_uuid(out, n->u.tag.uuid);
}

static cc_node *
tag_parse_payload(const cc_payload_parse *in, const char **at)
{
    uint8_t uuid[16];
    if (cc_payload_expect(in, CC_KIND_TAG, "a uuid", at) < 0 ||
        cc_payload_parse_uuid(in, uuid, at) < 0) {
        return NULL;
    }
    *at = in->kind_at;
    return cc_tag_new(in->children[0], uuid, in->name);
}

static cc_node *
tag_expand(const cc_expand_call *e)
{
    return cc_tag_new(e->inputs[0], e->c->u.tag.uuid, e->c->name);
}

// Its child's value.
static int
tag_eval_is_view(const cc_node *n)
{
    (void)n;
    return 1;
}

// rc's child_axis_map: each axis stays where it is.
static int
tag_child_axis_map(const cc_node *n, int i, int *out)
{
    for (int j = 0; j < n->children[i]->ndim; j++) {
        out[j] = j;
    }
    return 0;
}

CC_DEFINE_KIND_OPS(tag, .expand = tag_expand, .eval_is_view = tag_eval_is_view,
                   .child_axis_map = tag_child_axis_map);

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
