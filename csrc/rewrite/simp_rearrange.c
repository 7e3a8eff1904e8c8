// simp's Index and Rearrange rewrites (rc's index_elim_identity, index_merge_scalar,
// rearrange_elim_identity, rearrange_fuse with RearrangeSpec::fuse, rearrange_merge_scalar,
// permute_of_einsum_merge).
#include <string.h>

#include "nodes/rearrange.h"
#include "rewrite/push_down_index.h"
#include "rewrite/rewrite_impl.h"
#include "rewrite/simp.h"
#include "util/alloc.h"
#include "util/error.h"

int
cc_index_elim_identity_op(cc_node *index, cc_node **out)
{
    *out = cc_index_elim_identity(index);
    if (*out == index) {
        cc_node_decref(*out);
        *out = NULL;
        return 0;
    }
    return *out == NULL ? -1 : 0;
}

// A Scalar of n's shape and name when n's child is a Scalar.
static int
merge_scalar(cc_node *n, cc_node **out)
{
    *out = NULL;
    cc_node *c = n->children[0];
    if (c->kind != CC_KIND_SCALAR) {
        return 0;
    }
    *out = cc_scalar_new(c->u.scalar.value, n->ndim, n->shape, n->name);
    return *out == NULL ? -1 : 0;
}

int
cc_index_merge_scalar(cc_node *index, cc_node **out)
{
    return merge_scalar(index, out);
}

int
cc_rearrange_merge_scalar(cc_node *rearrange, cc_node **out)
{
    return merge_scalar(rearrange, out);
}

int
cc_rearrange_elim_identity(cc_node *rearrange, cc_node **out)
{
    *out = NULL;
    if (cc_rearrange_spec_is_identity(rearrange->u.rearrange.spec)) {
        *out = rearrange->children[0];
        cc_node_incref(*out);
    }
    return 0;
}

int
cc_permute_of_einsum_merge(cc_node *rearrange, cc_node **out)
{
    *out = NULL;
    cc_node *e = rearrange->children[0];
    int perm[CC_MAX_NDIM];
    if (e->kind != CC_KIND_EINSUM ||
        !cc_rearrange_fwd_permutation(rearrange->u.rearrange.spec, perm)) {
        return 0;
    }
    uint8_t out_axes[CC_MAX_NDIM];
    for (int i = 0; i < e->ndim; i++) {
        out_axes[perm[i]] = e->u.einsum.out_axes[i];
    }
    *out = cc_einsum_new(e->n_children, e->children, e->u.einsum.in_axes, e->ndim, out_axes,
                         rearrange->name);
    return *out == NULL ? -1 : 0;
}

// ---------------------------------------------------------------------------------------------
// RearrangeSpec::fuse: inner then outer as one spec. Along each axis between them, inner's
// output ints and outer's input ints are matched left to right; a larger size is split into
// the smaller one (a new int) and the remainder. Inner's input ints are then rewritten into
// outer's ints through the matching, and outer's output ints into their split parts.

#define MAX_INTS 256
#define MAX_PARTS 64

typedef struct {
    int n_sizes;
    int64_t sizes[MAX_INTS];
    uint8_t parts[MAX_INTS][MAX_PARTS]; // what each int becomes, in order
    int n_parts[MAX_INTS];
} fuse_side;

static int
side_init(fuse_side *f, const cc_rearrange_spec *s)
{
    f->n_sizes = s->n_sizes;
    for (int i = 0; i < s->n_sizes; i++) {
        if (s->sizes[i] < 0) {
            return 1;
        }
        f->sizes[i] = s->sizes[i];
        f->n_parts[i] = 0;
    }
    return 0;
}

static int
add_part(fuse_side *f, int i, int part)
{
    if (f->n_parts[i] == MAX_PARTS) {
        return 1;
    }
    f->parts[i][f->n_parts[i]++] = (uint8_t)part;
    return 0;
}

// A new int of size s on side f, or -1 when none is left.
static int
split_off(fuse_side *f, int i, int64_t s)
{
    if (f->n_sizes == MAX_INTS) {
        return -1;
    }
    int n = f->n_sizes++;
    f->sizes[i] /= s;
    f->sizes[n] = s;
    f->n_parts[n] = 0;
    return n;
}

// Group g of one side of s rewritten through f's parts (f NULL: as is) into ints/lens.
static void
expand_group(const int *start, const uint8_t *ints, int g, fuse_side *f, const int *map,
             uint8_t *out, int *len)
{
    for (int k = start[g]; k < start[g + 1]; k++) {
        int i = ints[k];
        int np = f->n_parts[i];
        uint8_t one = (uint8_t)i;
        const uint8_t *parts = np > 0 ? f->parts[i] : &one;
        np = np > 0 ? np : 1;
        f->n_parts[i] = 0;
        for (int p = 0; p < np; p++) {
            int v = map == NULL ? parts[p] : map[parts[p]];
            if (v >= 0) {
                out[(*len)++] = (uint8_t)v;
            }
        }
    }
}

// 0 with *out the fused spec, 1 when the two do not fuse, -1 on error. Both are conformed.
static int
spec_fuse(const cc_rearrange_spec *in, const cc_rearrange_spec *outer, cc_rearrange_spec **out)
{
    *out = NULL;
    fuse_side *fi = cc_malloc(sizeof(fuse_side)), *fo = cc_malloc(sizeof(fuse_side));
    int in_to_out[MAX_INTS];
    uint8_t *ints_in = cc_malloc(2 * MAX_INTS * MAX_PARTS),
            *ints_out = ints_in + MAX_INTS * MAX_PARTS;
    int lens_in[CC_MAX_NDIM], lens_out[CC_MAX_NDIM];
    int rc = -1;
    if (fi == NULL || fo == NULL || ints_in == NULL) {
        goto done;
    }
    rc = 1;
    if (in->n_out != outer->n_in || side_init(fi, in) || side_init(fo, outer)) {
        goto done;
    }
    for (int i = 0; i < MAX_INTS; i++) {
        in_to_out[i] = -1;
    }
    for (int g = 0; g < outer->n_in; g++) {
        int a = in->out_start[g], a_end = in->out_start[g + 1];
        int b = outer->in_start[g], b_end = outer->in_start[g + 1];
        while (a < a_end && b < b_end) {
            int ii = in->out_ints[a], oi = outer->in_ints[b];
            int64_t si = fi->sizes[ii], so = fo->sizes[oi];
            if (si == so) {
                in_to_out[ii] = oi;
                if (add_part(fi, ii, ii) || add_part(fo, oi, oi)) {
                    goto done;
                }
                a++;
                b++;
            } else if (si > so) {
                if (so == 0 || si % so != 0) {
                    goto done;
                }
                int n = split_off(fi, ii, so);
                if (n < 0 || add_part(fo, oi, oi) || add_part(fi, ii, n)) {
                    goto done;
                }
                in_to_out[n] = oi;
                b++;
            } else {
                if (si == 0 || so % si != 0) {
                    goto done;
                }
                int n = split_off(fo, oi, si);
                if (n < 0 || add_part(fi, ii, ii) || add_part(fo, oi, n)) {
                    goto done;
                }
                in_to_out[ii] = n;
                a++;
            }
        }
        for (; a < a_end; a++) {
            if (fi->sizes[in->out_ints[a]] != 1) {
                goto done;
            }
        }
        for (; b < b_end; b++) {
            if (fo->sizes[outer->in_ints[b]] != 1) {
                goto done;
            }
        }
    }
    int len = 0;
    for (int g = 0; g < in->n_in; g++) {
        int before = len;
        expand_group(in->in_start, in->in_ints, g, fi, in_to_out, ints_in, &len);
        lens_in[g] = len - before;
    }
    len = 0;
    for (int g = 0; g < outer->n_out; g++) {
        int before = len;
        expand_group(outer->out_start, outer->out_ints, g, fo, NULL, ints_out, &len);
        lens_out[g] = len - before;
    }
    rc = -1;
    cc_rearrange_spec *raw = cc_rearrange_spec_new(in->n_in, lens_in, ints_in, outer->n_out,
                                                   lens_out, ints_out, fo->n_sizes, fo->sizes);
    if (raw != NULL) {
        *out = cc_rearrange_spec_canonicalize(raw, 1);
        cc_rearrange_spec_free(raw);
        rc = *out == NULL ? -1 : 0;
    }
done:
    cc_free(fi);
    cc_free(fo);
    cc_free(ints_in);
    return rc;
}

// A Rearrange's spec conformed to its child's shape and canonicalised (ones dropped).
static cc_rearrange_spec *
conformed_canon(const cc_node *r)
{
    const cc_node *c = r->children[0];
    cc_rearrange_spec *conf = cc_rearrange_spec_conform(r->u.rearrange.spec, c->ndim, c->shape);
    if (conf == NULL) {
        return NULL;
    }
    cc_rearrange_spec *canon = cc_rearrange_spec_canonicalize(conf, 1);
    cc_rearrange_spec_free(conf);
    return canon;
}

int
cc_rearrange_fuse(cc_node *rearrange, cc_node **out)
{
    *out = NULL;
    cc_node *inner = rearrange->children[0];
    if (inner->kind != CC_KIND_REARRANGE) {
        return 0;
    }
    cc_rearrange_spec *a = conformed_canon(inner), *b = NULL, *fused = NULL, *canon = NULL;
    int rc = -1;
    if (a == NULL || (b = conformed_canon(rearrange)) == NULL) {
        goto done;
    }
    rc = spec_fuse(a, b, &fused);
    if (rc != 0) {
        rc = rc > 0 ? 0 : -1;
        goto done;
    }
    rc = -1;
    if ((canon = cc_rearrange_spec_canonicalize(fused, 1)) == NULL) {
        goto done;
    }
    *out = cc_rearrange_new(inner->children[0], canon, rearrange->name);
    rc = *out == NULL ? -1 : 0;
done:
    cc_rearrange_spec_free(a);
    cc_rearrange_spec_free(b);
    cc_rearrange_spec_free(fused);
    cc_rearrange_spec_free(canon);
    return rc;
}
