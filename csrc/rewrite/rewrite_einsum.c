// rc's Einsum rewrites beyond simp's defaults: merging () Scalar factors, pulling removable
// axes of operands above the Einsum and turning a summed Concat operand into an Add of Einsums.
#include <string.h>

#include "rewrite/catalogue.h"
#include "rewrite/simp.h"
#include "util/alloc.h"
#include "util/error.h"

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
    uint8_t *labels = cc_malloc((size_t)cc_einsum_total_in_axes(einsum) + 1);
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

int
cc_einsum_pull_removable_axes(cc_node *einsum, cc_node **out)
{
    *out = NULL;
    int n = einsum->n_children, any = 0, rc = 0, len = 0;
    int64_t size_of[256] = {0};
    uint8_t in_out[256] = {0}, kept[256] = {0}, reduced[256] = {0};
    for (int i = 0; i < n; i++) {
        const uint8_t *ax = cc_einsum_child_axes(einsum, i);
        for (int k = 0; k < einsum->children[i]->ndim; k++) {
            size_of[ax[k]] = einsum->children[i]->shape[k];
            reduced[ax[k]] = 1;
        }
    }
    for (int k = 0; k < einsum->ndim; k++) {
        in_out[einsum->u.einsum.out_axes[k]] = 1;
    }
    cc_node **kids = cc_calloc((size_t)n + 1, sizeof(cc_node *));
    uint8_t *labels = cc_malloc((size_t)cc_einsum_total_in_axes(einsum) + 1);
    cc_node *scalar = NULL, *inner = NULL;
    if (kids == NULL || labels == NULL) {
        rc = -1;
        goto done;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        cc_node *c = einsum->children[i];
        const uint8_t *ax = cc_einsum_child_axes(einsum, i);
        uint8_t mask[CC_MAX_NDIM];
        int applies;
        cc_removable_axes(c, mask);
        for (int k = 0; k < c->ndim; k++) {
            any |= mask[k];
            if (!mask[k]) {
                labels[len++] = ax[k];
                kept[ax[k]] = 1;
            }
        }
        kids[i] = cc_remove_axes(c, mask, &applies);
        rc = kids[i] == NULL ? -1 : 0;
    }
    if (rc < 0 || !any) {
        goto done;
    }
    // reduced labels no operand keeps any more contribute a factor of their size
    double factor = 1.0;
    for (int l = 0; l < 256; l++) {
        if (reduced[l] && !in_out[l] && !kept[l]) {
            factor *= (double)size_of[l];
        }
    }
    int m = n;
    if (factor != 1.0) {
        scalar = cc_scalar_new(factor, 0, NULL, NULL);
        if (scalar == NULL) {
            rc = -1;
            goto done;
        }
        kids[m++] = scalar;
        cc_node_incref(scalar);
    }
    uint8_t new_out[CC_MAX_NDIM];
    int n_out = 0, unique = 1;
    uint8_t seen[256] = {0};
    for (int k = 0; k < einsum->ndim; k++) {
        uint8_t l = einsum->u.einsum.out_axes[k];
        unique &= !seen[l]++;
        if (kept[l]) {
            new_out[n_out++] = l;
        }
    }
    if (n_out == einsum->ndim) {
        *out = cc_einsum_new(m, kids, labels, n_out, new_out, einsum->name);
        rc = *out == NULL ? -1 : 0;
        goto done;
    }
    if (!unique) {
        goto done;
    }
    inner = cc_einsum_new(m, kids, labels, n_out, new_out, einsum->name);
    if (inner == NULL) {
        rc = -1;
        goto done;
    }
    // rc's RearrangeSpec::expand: one group per label, the ints being the labels themselves
    int max_label = 0;
    for (int k = 0; k < einsum->ndim; k++) {
        if (einsum->u.einsum.out_axes[k] > max_label) {
            max_label = einsum->u.einsum.out_axes[k];
        }
    }
    int in_lens[CC_MAX_NDIM], out_lens[CC_MAX_NDIM];
    int64_t sizes[256];
    for (int l = 0; l <= max_label; l++) {
        sizes[l] = size_of[l];
    }
    for (int k = 0; k < CC_MAX_NDIM; k++) {
        in_lens[k] = out_lens[k] = 1;
    }
    cc_rearrange_spec *s = cc_rearrange_spec_new(n_out, in_lens, new_out, einsum->ndim, out_lens,
                                                 einsum->u.einsum.out_axes, max_label + 1, sizes);
    if (s == NULL) {
        rc = -1;
        goto done;
    }
    *out = cc_rearrange_or_child(inner, s, NULL);
    cc_rearrange_spec_free(s);
    rc = *out == NULL ? -1 : 0;
done:
    for (int i = 0; kids != NULL && i < n + (scalar != NULL); i++) {
        cc_node_decref(kids[i]);
    }
    cc_node_decref(scalar);
    cc_node_decref(inner);
    cc_free(kids);
    cc_free(labels);
    return rc;
}
