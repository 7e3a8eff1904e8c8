// Einsum: labelled operands contracted into labelled output axes (repeated labels mean
// diagonals, in inputs and in the output). Validates label counts, label sizes and the
// output labels; hashes in rc's order (output labels, then each child's hash and labels).
#include <stdio.h>
#include <string.h>

#include "nodes/einsum_string.h"
#include "nodes/node_impl.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"

static void
hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_blake3_update(h, n->u.einsum.out_axes, (size_t)n->ndim);
    const uint8_t *axes = n->u.einsum.in_axes;
    for (int i = 0; i < n->n_children; i++) {
        const cc_node *c = n->children[i];
        cc_blake3_update(h, c->hash, 32);
        cc_blake3_update(h, axes, (size_t)c->ndim);
        axes += c->ndim;
    }
}

static void
free_payload(cc_node *n)
{
    cc_free(n->u.einsum.in_axes);
    cc_free(n->u.einsum.out_axes);
    n->u.einsum.in_axes = NULL;
    n->u.einsum.out_axes = NULL;
}

// "j" for printable labels, "#80" for the others.
static const char *
label_text(uint8_t label, char buf[8])
{
    char c[4];
    if (cc_einsum_label_char(label, c) != NULL) {
        memcpy(buf, c, 4);
    } else {
        snprintf(buf, 8, "#%d", label);
    }
    return buf;
}

static cc_node *
fail_len(const char *what, int i, int count, const cc_node *child)
{
    cc_str s;
    cc_str_init(&s);
    if (cc_shape_append(&s, child->ndim, child->shape) == 0) {
        cc_fail(CC_E_CONSTRUCT_EINSUM_LEN_SHAPE_DIFFERENT_FROM_AXES,
                "%s: child %d has %d labels but rank %d (shape %s)", what, i, count, child->ndim,
                s.data);
    }
    cc_str_clear(&s);
    return NULL;
}

// The Einsum of children where child i carries counts[i] labels (NULL: its rank).
static cc_node *
einsum_build(int n, cc_node *const *children, const int *counts, const uint8_t *in_axes, int n_out,
             const uint8_t *out_axes, const char *name)
{
    char what[160];
    char label_buf[8];
    cc_node_describe(CC_KIND_EINSUM, name, what, sizeof(what));
    int64_t size[256];
    int first_child[256];
    for (int l = 0; l < 256; l++) {
        first_child[l] = -1;
    }
    size_t total = 0;
    const uint8_t *axes = in_axes;
    for (int i = 0; i < n; i++) {
        const cc_node *c = children[i];
        int count = counts != NULL ? counts[i] : c->ndim;
        if (count != c->ndim) {
            return fail_len(what, i, count, c);
        }
        for (int k = 0; k < c->ndim; k++) {
            uint8_t l = axes[k];
            if (first_child[l] < 0) {
                first_child[l] = i;
                size[l] = c->shape[k];
            } else if (size[l] != c->shape[k]) {
                return cc_fail_null(CC_E_CONSTRUCT_EINSUM_AXIS_SIZE_DIFFERENT,
                                    "%s: axis %s is %lld in child %d but %lld in child %d", what,
                                    label_text(l, label_buf), (long long)size[l], first_child[l],
                                    (long long)c->shape[k], i);
            }
        }
        axes += c->ndim;
        total += (size_t)c->ndim;
    }
    if (n_out > CC_MAX_NDIM) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                            "%s: %d output axes, at most %d are supported", what, n_out,
                            CC_MAX_NDIM);
    }
    int64_t shape[CC_MAX_NDIM];
    for (int k = 0; k < n_out; k++) {
        uint8_t l = out_axes[k];
        if (first_child[l] < 0) {
            return cc_fail_null(CC_E_CONSTRUCT_EINSUM_OUTPUT_NOT_SUBSET,
                                "%s: output axis %s (position %d) is in no input", what,
                                label_text(l, label_buf), k);
        }
        shape[k] = size[l];
    }
    cc_node *node = cc_node_alloc(CC_KIND_EINSUM, n, children, n_out, shape);
    if (node == NULL) {
        return NULL;
    }
    node->u.einsum.in_axes = cc_malloc(total);
    node->u.einsum.out_axes = cc_malloc((size_t)n_out);
    if (node->u.einsum.in_axes == NULL || node->u.einsum.out_axes == NULL) {
        cc_node_free_one(node);
        return NULL;
    }
    if (total > 0) {
        memcpy(node->u.einsum.in_axes, in_axes, total);
    }
    if (n_out > 0) {
        memcpy(node->u.einsum.out_axes, out_axes, (size_t)n_out);
    }
    return cc_node_finish(node, name);
}

static cc_node *
rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    int *counts = cc_malloc((size_t)(n->n_children > 0 ? n->n_children : 1) * sizeof(int));
    if (counts == NULL) {
        return NULL;
    }
    for (int i = 0; i < n->n_children; i++) {
        counts[i] = n->children[i]->ndim;
    }
    cc_node *out = einsum_build(n->n_children, children, counts, n->u.einsum.in_axes, n->ndim,
                                n->u.einsum.out_axes, name);
    cc_free(counts);
    return out;
}

const cc_kind_ops cc_einsum_ops = {
    .type_uuid = {0xed, 0x15, 0x42, 0x2c, 0x7c, 0x02, 0x40, 0xc2, 0xa3, 0xc2, 0xe9, 0x22, 0x45,
                  0x14, 0xd0, 0x63},
    .hash_non_name = hash_non_name,
    .free_payload = free_payload,
    .rebuild = rebuild,
};

cc_node *
cc_einsum_new(int n, cc_node *const *children, const uint8_t *in_axes, int n_out,
              const uint8_t *out_axes, const char *name)
{
    return einsum_build(n, children, NULL, in_axes, n_out, out_axes, name);
}

const uint8_t *
cc_einsum_child_axes(const cc_node *n, int i)
{
    const uint8_t *axes = n->u.einsum.in_axes;
    for (int k = 0; k < i; k++) {
        axes += n->children[k]->ndim;
    }
    return axes;
}

cc_node *
cc_einsum_new_from_labels(int n, cc_node *const *children, const cc_einsum_labels *l,
                          const char *name)
{
    int n_operands = l->n_operands;
    if (n == 0 && n_operands == 1 && l->n_axes[0] == 0) {
        n_operands = 0;
    }
    if (n_operands != n) {
        char what[160];
        return cc_fail_null(CC_E_CONSTRUCT_EINSUM_WRONG_NUM_CHILDREN,
                            "%s: %d nodes given but the labels name %d operands",
                            cc_node_describe(CC_KIND_EINSUM, name, what, sizeof(what)), n,
                            n_operands);
    }
    return einsum_build(n, children, l->n_axes, l->in_axes, l->n_out, l->out_axes, name);
}

cc_node *
cc_einsum_new_from_string(const char *s, int fancy, int n, cc_node *const *children,
                          const char *name)
{
    cc_einsum_labels l;
    int rc = fancy ? cc_einsum_parse_fancy(s, &l) : cc_einsum_parse_string(s, &l);
    if (rc < 0) {
        return NULL;
    }
    cc_node *out = cc_einsum_new_from_labels(n, children, &l, name);
    cc_einsum_labels_clear(&l);
    return out;
}
