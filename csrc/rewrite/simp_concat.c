// simp's Concat rewrites (rc's concat_elim_identity, concat_merge_uniform, concat_drop_size_zero,
// concat_fuse, concat_repeat_to_rearrange).
#include <string.h>

#include "nodes/rearrange.h"
#include "rewrite/rewrite_impl.h"
#include "rewrite/simp.h"
#include "util/alloc.h"
#include "util/error.h"

int
cc_concat_elim_identity(cc_node *concat, cc_node **out)
{
    *out = NULL;
    if (concat->n_children == 1) {
        *out = concat->children[0];
        cc_node_incref(*out);
    }
    return 0;
}

int
cc_concat_merge_uniform(cc_node *concat, cc_node **out)
{
    *out = NULL;
    if (concat->n_children == 0 || concat->children[0]->kind != CC_KIND_SCALAR) {
        return 0;
    }
    cc_node *first = concat->children[0];
    // from the first operand on, as rc: a NaN is unequal even to itself
    for (int i = 0; i < concat->n_children; i++) {
        cc_node *c = concat->children[i];
        if (c->kind != CC_KIND_SCALAR || c->u.scalar.value != first->u.scalar.value) {
            return 0;
        }
    }
    *out = cc_scalar_new(first->u.scalar.value, concat->ndim, concat->shape, concat->name);
    return *out == NULL ? -1 : 0;
}

// A Concat of concat's axis and name without the children empty along the axis (drop_empty),
// with Concat children on the same axis inlined (inline_same_axis): *out NULL when nothing
// changed.
static int
rebuild(cc_node *concat, int drop_empty, int inline_same_axis, cc_node **out)
{
    *out = NULL;
    int axis = concat->u.concat.axis, did = 0;
    size_t total = 0;
    for (int i = 0; i < concat->n_children; i++) {
        total += (size_t)concat->children[i]->n_children + 1;
    }
    cc_node **kids = cc_malloc(total * sizeof(cc_node *) + 1);
    if (kids == NULL) {
        return -1;
    }
    int n = 0;
    for (int i = 0; i < concat->n_children; i++) {
        cc_node *c = concat->children[i];
        if (drop_empty && c->shape[axis] == 0) {
            did = 1;
        } else if (inline_same_axis && c->kind == CC_KIND_CONCAT && c->u.concat.axis == axis) {
            did = 1;
            for (int j = 0; j < c->n_children; j++) {
                kids[n++] = c->children[j];
            }
        } else {
            kids[n++] = c;
        }
    }
    int rc = 0;
    // a Concat needs an operand: when every one is empty, the node stays
    if (did && n > 0) {
        *out = cc_concat_new(n, kids, axis, concat->name);
        rc = *out == NULL ? -1 : 0;
    }
    cc_free(kids);
    return rc;
}

int
cc_concat_drop_size_zero(cc_node *concat, cc_node **out)
{
    return rebuild(concat, 1, 0, out);
}

int
cc_concat_fuse(cc_node *concat, cc_node **out)
{
    return rebuild(concat, 0, 1, out);
}

// node repeated count times along axis: "a b c -> a (n b) c" with n the count (unnamed).
static cc_node *
repeat(cc_node *node, int axis, int64_t count)
{
    int r = node->ndim, in_lens[CC_MAX_NDIM], out_lens[CC_MAX_NDIM];
    uint8_t in_ints[CC_MAX_NDIM], out_ints[CC_MAX_NDIM + 1];
    int64_t sizes[CC_MAX_NDIM + 1];
    int len = 0;
    for (int k = 0; k < r; k++) {
        in_lens[k] = 1;
        in_ints[k] = (uint8_t)k;
        sizes[k] = node->shape[k];
        out_lens[k] = k == axis ? 2 : 1;
        if (k == axis) {
            out_ints[len++] = (uint8_t)r;
        }
        out_ints[len++] = (uint8_t)k;
    }
    sizes[r] = count;
    cc_rearrange_spec *spec =
        cc_rearrange_spec_new(r, in_lens, in_ints, r, out_lens, out_ints, r + 1, sizes);
    if (spec == NULL) {
        return NULL;
    }
    cc_node *out = cc_rearrange_new(node, spec, NULL);
    cc_rearrange_spec_free(spec);
    return out;
}

int
cc_concat_repeat_to_rearrange(cc_node *concat, cc_node **out)
{
    *out = NULL;
    int n = concat->n_children, m = 0, did = 0, rc = 0;
    cc_node **kids = cc_calloc((size_t)n + 1, sizeof(cc_node *));
    if (kids == NULL) {
        return -1;
    }
    for (int i = 0; i < n && rc == 0;) {
        cc_node *c = concat->children[i];
        int j = i + 1;
        while (j < n && memcmp(concat->children[j]->hash, c->hash, 32) == 0) {
            j++;
        }
        if (j - i > 1) {
            did = 1;
            kids[m] = repeat(c, concat->u.concat.axis, j - i);
            rc = kids[m] == NULL ? -1 : 0;
        } else {
            kids[m] = c;
            cc_node_incref(c);
        }
        m++;
        i = j;
    }
    if (rc == 0 && did) {
        *out = cc_concat_new(m, kids, concat->u.concat.axis, concat->name);
        rc = *out == NULL ? -1 : 0;
    }
    for (int k = 0; k < m; k++) {
        cc_node_decref(kids[k]);
    }
    cc_free(kids);
    return rc;
}
