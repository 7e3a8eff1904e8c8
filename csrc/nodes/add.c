// Add: elementwise sum of any number of operands with rc's broadcasting (shape.c);
// zero operands give shape (). Hash: the children's hashes only.
#include "nodes/node_impl.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"

static void
hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_node_hash_children(n, h);
}

static cc_node *
rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return cc_add_new(n->n_children, children, name);
}

const cc_kind_ops cc_add_ops = {
    .type_uuid = {0x88, 0xfb, 0x29, 0xe5, 0xc8, 0x1e, 0x47, 0xfe, 0xae, 0x4c, 0x67, 0x8b, 0x22,
                  0x99, 0x46, 0x70},
    .hash_non_name = hash_non_name,
    .free_payload = NULL,
    .rebuild = rebuild,
};

cc_node *
cc_add_new(int n, cc_node *const *children, const char *name)
{
    int *ndims = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    const int64_t **shapes = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t *));
    if (ndims == NULL || shapes == NULL) {
        cc_free(ndims);
        cc_free(shapes);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        ndims[i] = children[i]->ndim;
        shapes[i] = children[i]->shape;
    }
    int ndim;
    int64_t shape[CC_MAX_NDIM];
    int rc = cc_shape_broadcast(n, ndims, shapes, &ndim, shape);
    cc_free(ndims);
    cc_free(shapes);
    if (rc < 0) {
        char what[160];
        cc_error_prefix("%s", cc_node_describe(CC_KIND_ADD, name, what, sizeof(what)));
        return NULL;
    }
    cc_node *node = cc_node_alloc(CC_KIND_ADD, n, children, ndim, shape);
    if (node == NULL) {
        return NULL;
    }
    return cc_node_finish(node, name);
}
