// simp's Einsum rewrites (rc's einsum_elim_zero, einsum_elim_identity, einsum_of_permute_merge,
// einsum_remove_one, einsum_elim_removable_axes_weak, einsum_permute_to_rearrange).
#include <string.h>

#include "nodes/rearrange.h"
#include "rewrite/rewrite_impl.h"
#include "rewrite/simp.h"
#include "util/alloc.h"
#include "util/error.h"

int
cc_einsum_total_in_axes(const cc_node *e)
{
    int total = 0;
    for (int i = 0; i < e->n_children; i++) {
        total += e->children[i]->ndim;
    }
    return total;
}

int
cc_einsum_elim_zero(cc_node *einsum, cc_node **out)
{
    *out = NULL;
    for (int i = 0; i < einsum->n_children; i++) {
        cc_node *c = einsum->children[i];
        if (c->kind == CC_KIND_SCALAR && c->u.scalar.value == 0.0) {
            *out = cc_scalar_new(0.0, einsum->ndim, einsum->shape, einsum->name);
            return *out == NULL ? -1 : 0;
        }
    }
    return 0;
}

static int
labels_unique(const uint8_t *labels, int n)
{
    uint8_t seen[256] = {0};
    for (int k = 0; k < n; k++) {
        if (seen[labels[k]]++) {
            return 0;
        }
    }
    return 1;
}

int
cc_einsum_elim_identity(cc_node *einsum, cc_node **out)
{
    *out = NULL;
    if (einsum->n_children == 0) {
        *out = cc_scalar_new(1.0, 0, NULL, einsum->name);
        return *out == NULL ? -1 : 0;
    }
    if (einsum->n_children == 1 && einsum->children[0]->ndim == einsum->ndim &&
        memcmp(einsum->u.einsum.in_axes, einsum->u.einsum.out_axes, (size_t)einsum->ndim) == 0 &&
        labels_unique(einsum->u.einsum.out_axes, einsum->ndim)) {
        *out = einsum->children[0];
        cc_node_incref(*out);
    }
    return 0;
}

int
cc_rearrange_fwd_permutation(const cc_rearrange_spec *s, int *perm)
{
    if (s->n_in != s->n_out) {
        return 0;
    }
    for (int g = 0; g < s->n_in; g++) {
        if (s->in_start[g + 1] - s->in_start[g] != 1 ||
            s->out_start[g + 1] - s->out_start[g] != 1) {
            return 0;
        }
    }
    for (int i = 0; i < s->n_in; i++) {
        perm[i] = -1;
        for (int j = 0; j < s->n_out; j++) {
            if (s->out_ints[j] == s->in_ints[i]) {
                perm[i] = j;
                break;
            }
        }
        if (perm[i] < 0) {
            return 0;
        }
    }
    return 1;
}

int
cc_einsum_of_permute_merge(cc_node *einsum, cc_node **out)
{
    *out = NULL;
    int n = einsum->n_children;
    cc_node **kids = cc_malloc(((size_t)n + 1) * sizeof(cc_node *));
    uint8_t *in_axes = cc_malloc((size_t)cc_einsum_total_in_axes(einsum) + 1);
    if (kids == NULL || in_axes == NULL) {
        cc_free(kids);
        cc_free(in_axes);
        return -1;
    }
    int did = 0, pos = 0;
    for (int i = 0; i < n; i++) {
        cc_node *c = einsum->children[i];
        const uint8_t *ints = cc_einsum_child_axes(einsum, i);
        int perm[CC_MAX_NDIM];
        if (c->kind == CC_KIND_REARRANGE &&
            cc_rearrange_fwd_permutation(c->u.rearrange.spec, perm)) {
            did = 1;
            kids[i] = c->children[0];
            for (int k = 0; k < kids[i]->ndim; k++) {
                in_axes[pos + k] = ints[perm[k]];
            }
        } else {
            kids[i] = c;
            memcpy(in_axes + pos, ints, (size_t)c->ndim);
        }
        pos += kids[i]->ndim;
    }
    int rc = 0;
    if (did) {
        *out =
            cc_einsum_new(n, kids, in_axes, einsum->ndim, einsum->u.einsum.out_axes, einsum->name);
        rc = *out == NULL ? -1 : 0;
    }
    cc_free(kids);
    cc_free(in_axes);
    return rc;
}

int
cc_einsum_remove_one(cc_node *einsum, cc_node **out)
{
    *out = NULL;
    int n = einsum->n_children, m = 0, pos = 0, npos = 0;
    cc_node **kids = cc_malloc(((size_t)n + 1) * sizeof(cc_node *));
    uint8_t *in_axes = cc_malloc((size_t)cc_einsum_total_in_axes(einsum) + 1);
    if (kids == NULL || in_axes == NULL) {
        cc_free(kids);
        cc_free(in_axes);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        cc_node *c = einsum->children[i];
        if (!(c->kind == CC_KIND_SCALAR && c->ndim == 0 && c->u.scalar.value == 1.0)) {
            kids[m++] = c;
            memcpy(in_axes + npos, einsum->u.einsum.in_axes + pos, (size_t)c->ndim);
            npos += c->ndim;
        }
        pos += c->ndim;
    }
    int rc = 0;
    if (m < n) {
        *out = cc_einsum_new(m, kids, in_axes, einsum->ndim, einsum->u.einsum.out_axes, NULL);
        rc = *out == NULL ? -1 : 0;
    }
    cc_free(kids);
    cc_free(in_axes);
    return rc;
}

int
cc_einsum_elim_removable_axes_weak(cc_node *einsum, cc_node **out)
{
    *out = NULL;
    int n = einsum->n_children;
    // per label: inputs carrying it, and those where it sits on a removable axis
    int reach[256] = {0}, rem_scalar[256] = {0}, rem_other[256] = {0};
    uint8_t *rem = cc_calloc((size_t)n * 256 + 1, 1); // rem[i*256+l]: l removable in input i
    uint8_t *masks = cc_calloc((size_t)n * CC_MAX_NDIM + 1, 1);
    cc_node **kids = cc_calloc((size_t)n + 1, sizeof(cc_node *));
    uint8_t *in_axes = cc_malloc((size_t)cc_einsum_total_in_axes(einsum) + 1);
    int rc = -1, npos = 0;
    if (rem == NULL || masks == NULL || kids == NULL || in_axes == NULL) {
        goto done;
    }
    for (int i = 0; i < n; i++) {
        cc_node *c = einsum->children[i];
        const uint8_t *ints = cc_einsum_child_axes(einsum, i);
        uint8_t seen[256] = {0};
        cc_removable_axes(c, masks + i * CC_MAX_NDIM);
        for (int j = 0; j < c->ndim; j++) {
            if (!seen[ints[j]]) {
                seen[ints[j]] = 1;
                reach[ints[j]]++;
            }
            if (masks[i * CC_MAX_NDIM + j] && !rem[i * 256 + ints[j]]) {
                rem[i * 256 + ints[j]] = 1;
                (c->kind == CC_KIND_SCALAR ? rem_scalar : rem_other)[ints[j]]++;
            }
        }
    }
    // a label every carrier could lose stays everywhere (all alike) or leaves the scalars only
    uint8_t keep[256] = {0}, scalars_only[256] = {0};
    int any = 0;
    for (int l = 0; l < 256; l++) {
        int nrem = rem_scalar[l] + rem_other[l];
        if (nrem > 0 && nrem == reach[l]) {
            if (rem_scalar[l] == 0 || rem_other[l] == 0) {
                keep[l] = 1;
            } else {
                scalars_only[l] = 1;
            }
        }
        any |= nrem > 0 && !keep[l];
    }
    rc = 0;
    if (!any) {
        goto done;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        cc_node *c = einsum->children[i];
        const uint8_t *ints = cc_einsum_child_axes(einsum, i);
        uint8_t *mask = masks + i * CC_MAX_NDIM;
        int count = 0;
        for (int j = 0; j < c->ndim; j++) {
            uint8_t l = ints[j];
            mask[j] = (uint8_t)(mask[j] && rem[i * 256 + l] && !keep[l] &&
                                (!scalars_only[l] || c->kind == CC_KIND_SCALAR));
            count += mask[j];
            if (!mask[j]) {
                in_axes[npos++] = l;
            }
        }
        if (count == 0) {
            kids[i] = c;
            cc_node_incref(c);
        } else if ((kids[i] = cc_remove_axes_weak(c, mask)) == NULL) {
            rc = -1;
        }
    }
    if (rc == 0) {
        *out =
            cc_einsum_new(n, kids, in_axes, einsum->ndim, einsum->u.einsum.out_axes, einsum->name);
        rc = *out == NULL ? -1 : 0;
    }
done:
    for (int i = 0; kids != NULL && i < n; i++) {
        cc_node_decref(kids[i]);
    }
    cc_free(rem);
    cc_free(masks);
    cc_free(kids);
    cc_free(in_axes);
    return rc;
}

int
cc_einsum_permute_to_rearrange(cc_node *einsum, cc_node **out)
{
    *out = NULL;
    if (einsum->n_children != 1 || einsum->ndim == 0 || einsum->children[0]->ndim != einsum->ndim ||
        !labels_unique(einsum->u.einsum.out_axes, einsum->ndim) ||
        !labels_unique(einsum->u.einsum.in_axes, einsum->ndim)) {
        return 0;
    }
    int r = einsum->ndim, lens[CC_MAX_NDIM], max = 0;
    int64_t sizes[256];
    for (int k = 0; k < r; k++) {
        lens[k] = 1;
        if (einsum->u.einsum.out_axes[k] > max) {
            max = einsum->u.einsum.out_axes[k];
        }
    }
    for (int l = 0; l <= max; l++) {
        sizes[l] = CC_REARRANGE_SIZE_NONE;
    }
    cc_rearrange_spec *spec = cc_rearrange_spec_new(r, lens, einsum->u.einsum.in_axes, r, lens,
                                                    einsum->u.einsum.out_axes, max + 1, sizes);
    if (spec == NULL) {
        return -1;
    }
    cc_rearrange_spec *canon = cc_rearrange_spec_canonicalize(spec, 0);
    cc_rearrange_spec_free(spec);
    if (canon == NULL) {
        return -1;
    }
    *out = cc_rearrange_new(einsum->children[0], canon, einsum->name);
    cc_rearrange_spec_free(canon);
    return *out == NULL ? -1 : 0;
}
