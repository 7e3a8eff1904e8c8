// rc's Einsum rewrites beyond simp's defaults: merging () Scalar factors and turning a summed
// Concat operand into an Add of Einsums.
#include <string.h>

#include "rewrite/catalogue.h"
#include "util/alloc.h"
#include "util/error.h"

static int
total_in_axes(const cc_node *e)
{
    int total = 0;
    for (int i = 0; i < e->n_children; i++) {
        total += e->children[i]->ndim;
    }
    return total;
}

int
cc_einsum_merge_scalars(cc_node *einsum, cc_node **out)
{
    *out = NULL;
    int n = einsum->n_children, m = 0, len = 0, found = 0;
    double product = 1.0;
    for (int i = 0; i < n; i++) {
        const cc_node *c = einsum->children[i];
        if (c->kind == CC_KIND_SCALAR && c->ndim == 0) {
            found++;
            product *= c->u.scalar.value;
        }
    }
    if (found == 0 || (found == 1 && product != 1.0)) {
        return 0;
    }
    cc_node **kids = cc_malloc(((size_t)n + 1) * sizeof(cc_node *));
    uint8_t *labels = cc_malloc((size_t)total_in_axes(einsum) + 1);
    cc_node *s = NULL;
    int rc = kids == NULL || labels == NULL ? -1 : 0;
    for (int i = 0, pos = 0; rc == 0 && i < n; i++) {
        cc_node *c = einsum->children[i];
        if (!(c->kind == CC_KIND_SCALAR && c->ndim == 0)) {
            kids[m++] = c;
            memcpy(labels + len, einsum->u.einsum.in_axes + pos, (size_t)c->ndim);
            len += c->ndim;
        }
        pos += c->ndim;
    }
    if (rc == 0 && product != 1.0) {
        s = cc_scalar_new(product, 0, NULL, NULL);
        kids[m++] = s;
        rc = s == NULL ? -1 : 0;
    }
    if (rc == 0) {
        *out = cc_einsum_new(m, kids, labels, einsum->ndim, einsum->u.einsum.out_axes, NULL);
        rc = *out == NULL ? -1 : 0;
    }
    cc_node_decref(s);
    cc_free(kids);
    cc_free(labels);
    return rc;
}

int
cc_einsum_concat_to_add(cc_node *einsum, cc_node **out)
{
    *out = NULL;
    int n = einsum->n_children;
    // users[label]: how many operands carry the label
    int users[256] = {0};
    for (int i = 0; i < n; i++) {
        const uint8_t *ax = cc_einsum_child_axes(einsum, i);
        uint8_t seen[256] = {0};
        for (int k = 0; k < einsum->children[i]->ndim; k++) {
            if (!seen[ax[k]]++) {
                users[ax[k]]++;
            }
        }
    }
    uint8_t in_out[256] = {0};
    for (int k = 0; k < einsum->ndim; k++) {
        in_out[einsum->u.einsum.out_axes[k]] = 1;
    }
    int chosen = -1;
    for (int i = 0; i < n && chosen < 0; i++) {
        const cc_node *c = einsum->children[i];
        if (c->kind != CC_KIND_CONCAT) {
            continue;
        }
        const uint8_t *ax = cc_einsum_child_axes(einsum, i);
        uint8_t label = ax[c->u.concat.axis];
        int repeats = 0;
        for (int k = 0; k < c->ndim; k++) {
            repeats += ax[k] == label;
        }
        if (repeats == 1 && users[label] == 1 && !in_out[label]) {
            chosen = i;
        }
    }
    if (chosen < 0) {
        return 0;
    }
    cc_node *concat = einsum->children[chosen];
    cc_node **ops = cc_malloc(((size_t)n + 1) * sizeof(cc_node *));
    cc_node **terms = cc_calloc((size_t)concat->n_children + 1, sizeof(cc_node *));
    int rc = ops == NULL || terms == NULL ? -1 : 0;
    for (int p = 0; rc == 0 && p < concat->n_children; p++) {
        memcpy(ops, einsum->children, (size_t)n * sizeof(cc_node *));
        ops[chosen] = concat->children[p];
        terms[p] = cc_einsum_new(n, ops, einsum->u.einsum.in_axes, einsum->ndim,
                                 einsum->u.einsum.out_axes, NULL);
        rc = terms[p] == NULL ? -1 : 0;
    }
    if (rc == 0) {
        *out = cc_add_new(concat->n_children, terms, NULL);
        rc = *out == NULL ? -1 : 0;
    }
    for (int p = 0; terms != NULL && p < concat->n_children; p++) {
        cc_node_decref(terms[p]);
    }
    cc_free(ops);
    cc_free(terms);
    return rc;
}
