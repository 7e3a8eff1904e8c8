// rc's scatter rewrites (rewrite/scatter_rewrite.h). Slices here are rc's USlice: explicit
// start and stop, with rc's intersection (the later start, the earlier stop, never before the
// start) and union (the earlier start, the later stop). New nodes are autonamed where rc
// passes no name.
#include "rewrite/scatter_rewrite.h"

#include <string.h>

#include "nodes/rearrange.h"
#include "rewrite/rewrite_impl.h"
#include "rewrite/simp.h"
#include "util/alloc.h"
#include "util/error.h"

typedef struct {
    int64_t start, stop;
} uslice;

static uslice
intersection(uslice a, uslice b)
{
    int64_t start = a.start > b.start ? a.start : b.start;
    int64_t stop = a.stop < b.stop ? a.stop : b.stop;
    return (uslice){start, stop > start ? stop : start};
}

static uslice
union_of(uslice a, uslice b)
{
    return (uslice){a.start < b.start ? a.start : b.start, a.stop > b.stop ? a.stop : b.stop};
}

static uslice
scatter_slice(const cc_node *s, int axis)
{
    return (uslice){s->u.scatter.bounds[2 * axis], s->u.scatter.bounds[2 * axis + 1]};
}

static int
expect_kind(const cc_node *n, cc_kind kind, const char *fn)
{
    if (n->kind == kind) {
        return 0;
    }
    return cc_fail(CC_E_PY_TYPE, "%s: expected %s but got %s", fn, cc_kind_get_info(kind)->py_name,
                   cc_kind_get_info(n->kind)->py_name);
}

static void
release_all(cc_node **nodes, int n)
{
    for (int i = 0; i < n; i++) {
        cc_node_decref(nodes[i]);
    }
    cc_free(nodes);
}

int
cc_scatter_elim_identity(cc_node *scatter, cc_node **out)
{
    *out = NULL;
    if (expect_kind(scatter, CC_KIND_SCATTER, "scatter_elim_identity") < 0) {
        return -1;
    }
    const cc_node *c = scatter->children[0];
    for (int k = 0; k < scatter->ndim; k++) {
        if (c->shape[k] != scatter->shape[k]) {
            return 0;
        }
    }
    *out = scatter->children[0];
    cc_node_incref(*out);
    return 0;
}

// rc's remove_axes: a Rearrange is first conformed to its input and canonicalised (size-1
// input axes become empty groups, which can then go), then loses the flagged output groups.
static cc_node *
remove_axes(cc_node *n, const uint8_t *mask)
{
    if (n->kind != CC_KIND_REARRANGE) {
        return cc_remove_axes_weak(n, mask);
    }
    cc_node *x = n->children[0];
    cc_rearrange_spec *conformed =
        cc_rearrange_spec_conform(n->u.rearrange.spec, x->ndim, x->shape);
    if (conformed == NULL) {
        return NULL;
    }
    cc_rearrange_spec *canon = cc_rearrange_spec_canonicalize(conformed, 1);
    cc_rearrange_spec_free(conformed);
    if (canon == NULL) {
        return NULL;
    }
    cc_node *tmp = cc_rearrange_new(x, canon, n->name != NULL ? n->name : CC_NO_NAME);
    cc_rearrange_spec_free(canon);
    if (tmp == NULL) {
        return NULL;
    }
    cc_node *out = cc_remove_axes_weak(tmp, mask);
    cc_node_decref(tmp);
    return out;
}

int
cc_scatter_pull_removable_axes(cc_node *scatter, cc_node **out)
{
    *out = NULL;
    if (expect_kind(scatter, CC_KIND_SCATTER, "scatter_pull_removable_axes") < 0) {
        return -1;
    }
    cc_node *c = scatter->children[0];
    int r = scatter->ndim, any = 0;
    uint8_t mask[CC_MAX_NDIM];
    cc_removable_axes(c, mask);
    for (int k = 0; k < r; k++) {
        uslice s = scatter_slice(scatter, k);
        mask[k] = mask[k] && s.start == 0 && s.stop == scatter->shape[k];
        any |= mask[k];
    }
    if (!any) {
        return 0;
    }
    cc_node *inner = remove_axes(c, mask);
    if (inner == NULL) {
        return -1;
    }
    cc_index_item items[CC_MAX_NDIM];
    int64_t shape[CC_MAX_NDIM];
    int in_lens[CC_MAX_NDIM], out_lens[CC_MAX_NDIM], kept = 0;
    uint8_t in_ints[CC_MAX_NDIM], out_ints[CC_MAX_NDIM];
    for (int k = 0; k < r; k++) {
        out_lens[k] = 1;
        out_ints[k] = (uint8_t)k;
        if (mask[k]) {
            continue;
        }
        uslice s = scatter_slice(scatter, k);
        items[kept] = cc_item_slice(s.start, s.stop);
        shape[kept] = scatter->shape[k];
        in_lens[kept] = 1;
        in_ints[kept++] = (uint8_t)k;
    }
    cc_node *s = cc_scatter_new(inner, kept, items, kept, shape, NULL);
    cc_node_decref(inner);
    if (s == NULL) {
        return -1;
    }
    // rc's RearrangeSpec::unremove_axes: the kept axes in order, the removed ones new, every
    // size given.
    cc_rearrange_spec *spec =
        cc_rearrange_spec_new(kept, in_lens, in_ints, r, out_lens, out_ints, r, scatter->shape);
    if (spec != NULL) {
        *out = cc_rearrange_new(s, spec, NULL);
        cc_rearrange_spec_free(spec);
    }
    cc_node_decref(s);
    return *out == NULL ? -1 : 0;
}

// Per label: whether it is restricted, and to what.
typedef struct {
    uint8_t has[256];
    uslice slice[256];
} label_slices;

// Index items for a node with the given labels: each restricted label's slice, shifted down
// by base (NULL: no shift), others full.
static void
label_items(const label_slices *ls, const uint8_t *labels, int n, const uslice *base,
            cc_index_item *items)
{
    for (int a = 0; a < n; a++) {
        uslice s = ls->slice[labels[a]];
        int64_t shift = base != NULL ? base[a].start : 0;
        items[a] =
            ls->has[labels[a]] ? cc_item_slice(s.start - shift, s.stop - shift) : cc_item_full();
    }
}

int
cc_einsum_pull_scatter(cc_node *einsum, cc_node **out)
{
    *out = NULL;
    if (expect_kind(einsum, CC_KIND_EINSUM, "einsum_pull_scatter") < 0) {
        return -1;
    }
    int n = einsum->n_children, any = 0;
    int64_t sizes[256];
    label_slices *ls = cc_calloc(1, sizeof *ls);
    if (ls == NULL) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const uint8_t *labels = cc_einsum_child_axes(einsum, i);
        for (int a = 0; a < einsum->children[i]->ndim; a++) {
            sizes[labels[a]] = einsum->children[i]->shape[a];
        }
    }
    for (int i = 0; i < n; i++) {
        const cc_node *c = einsum->children[i];
        if (c->kind != CC_KIND_SCATTER) {
            continue;
        }
        any = 1;
        const uint8_t *labels = cc_einsum_child_axes(einsum, i);
        for (int a = 0; a < c->ndim; a++) {
            int lab = labels[a];
            uslice cur = ls->has[lab] ? ls->slice[lab] : (uslice){0, sizes[lab]};
            ls->slice[lab] = intersection(cur, scatter_slice(c, a));
            ls->has[lab] = 1;
        }
    }
    int empty = 0;
    for (int lab = 0; lab < 256; lab++) {
        empty |= ls->has[lab] && ls->slice[lab].start == ls->slice[lab].stop;
    }
    int rc = 0;
    if (!any) {
        goto done;
    }
    if (empty) {
        *out = cc_scalar_new(0.0, einsum->ndim, einsum->shape, NULL);
        rc = *out == NULL ? -1 : 0;
        goto done;
    }
    cc_node **kids = cc_calloc((size_t)(n > 0 ? n : 1), sizeof(cc_node *));
    if (kids == NULL) {
        rc = -1;
        goto done;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        cc_node *c = einsum->children[i];
        const uint8_t *labels = cc_einsum_child_axes(einsum, i);
        cc_index_item items[CC_MAX_NDIM];
        uslice base[CC_MAX_NDIM];
        int is_scatter = c->kind == CC_KIND_SCATTER;
        for (int a = 0; is_scatter && a < c->ndim; a++) {
            base[a] = scatter_slice(c, a);
        }
        label_items(ls, labels, c->ndim, is_scatter ? base : NULL, items);
        kids[i] = cc_index_new(is_scatter ? c->children[0] : c, c->ndim, items, NULL);
        rc = kids[i] == NULL ? -1 : 0;
    }
    cc_node *e = NULL;
    if (rc == 0) {
        e = cc_einsum_new(n, kids, einsum->u.einsum.in_axes, einsum->ndim,
                          einsum->u.einsum.out_axes, einsum->name);
    }
    release_all(kids, n);
    if (e == NULL) {
        rc = -1;
        goto done;
    }
    cc_index_item items[CC_MAX_NDIM];
    label_items(ls, einsum->u.einsum.out_axes, einsum->ndim, NULL, items);
    *out = cc_scatter_new(e, einsum->ndim, items, einsum->ndim, einsum->shape, NULL);
    cc_node_decref(e);
    rc = *out == NULL ? -1 : 0;
done:
    cc_free(ls);
    return rc;
}

int
cc_add_pull_scatter(cc_node *add, cc_node **out)
{
    *out = NULL;
    if (expect_kind(add, CC_KIND_ADD, "add_pull_scatter") < 0) {
        return -1;
    }
    int n = add->n_children, r = add->ndim;
    for (int j = 0; j < n; j++) {
        if (add->children[j]->kind != CC_KIND_SCATTER) {
            return 0;
        }
    }
    uslice slices[CC_MAX_NDIM];
    for (int k = 0; k < r; k++) {
        slices[k] = (uslice){0, 0};
    }
    for (int j = 0; j < n; j++) {
        const cc_node *s = add->children[j];
        int rd = r - s->ndim;
        for (int i = 0; i < s->ndim; i++) {
            slices[i + rd] = s->shape[i] == add->shape[i + rd]
                                 ? union_of(slices[i + rd], scatter_slice(s, i))
                                 : (uslice){0, add->shape[i + rd]};
        }
        for (int i = 0; i < rd; i++) {
            slices[i] = (uslice){0, add->shape[i]};
        }
    }
    int all_full = 1;
    for (int k = 0; k < r; k++) {
        all_full &= slices[k].start == 0 && slices[k].stop == add->shape[k];
    }
    if (all_full) {
        return 0;
    }
    cc_node **ops = cc_calloc((size_t)(n > 0 ? n : 1), sizeof(cc_node *));
    if (ops == NULL) {
        return -1;
    }
    int rc = 0;
    for (int j = 0; j < n && rc == 0; j++) {
        cc_node *s = add->children[j];
        int rd = r - s->ndim;
        cc_index_item items[CC_MAX_NDIM];
        for (int i = 0; i < s->ndim; i++) {
            items[i] = s->shape[i] == add->shape[i + rd]
                           ? cc_item_slice(slices[i + rd].start, slices[i + rd].stop)
                           : cc_item_full();
        }
        ops[j] = cc_index_new(s, s->ndim, items, NULL);
        rc = ops[j] == NULL ? -1 : 0;
    }
    cc_node *sum = rc == 0 ? cc_add_new(n, ops, add->name) : NULL;
    release_all(ops, n);
    if (sum == NULL) {
        return -1;
    }
    cc_index_item items[CC_MAX_NDIM];
    for (int k = 0; k < r; k++) {
        items[k] = cc_item_slice(slices[k].start, slices[k].stop);
    }
    *out = cc_scatter_new(sum, r, items, r, add->shape, NULL);
    cc_node_decref(sum);
    return *out == NULL ? -1 : 0;
}

int
cc_index_einsum_to_scatter(cc_node *index, cc_node **out)
{
    *out = NULL;
    if (expect_kind(index, CC_KIND_INDEX, "index_einsum_to_scatter") < 0) {
        return -1;
    }
    cc_node *inner = index->children[0];
    if (inner->kind != CC_KIND_EINSUM) {
        return 0;
    }
    int r = inner->ndim;
    const uint8_t *out_axes = inner->u.einsum.out_axes;
    uslice contain[CC_MAX_NDIM];
    for (int k = 0; k < r; k++) {
        cc_index_item canon;
        cc_item_canonicalize(&index->u.index.items[k], inner->shape[k], &canon);
        int is_tensor = canon.kind == CC_INDEX_TENSOR;
        contain[k] = canon.kind == CC_INDEX_INT ? (uslice){canon.i, canon.i + 1}
                                                : (uslice){canon.start, canon.stop};
        cc_index_item_clear(&canon);
        if (is_tensor) {
            return 0;
        }
    }
    label_slices *ls = cc_calloc(1, sizeof *ls);
    if (ls == NULL) {
        return -1;
    }
    int did = 0, empty = 0, rc = 0;
    for (int k = 0; k < r; k++) {
        int lab = out_axes[k];
        if (!ls->has[lab]) {
            ls->has[lab] = 1;
            ls->slice[lab] = contain[k];
            continue;
        }
        uslice cur = ls->slice[lab], here = intersection(contain[k], cur);
        if (here.start != cur.start || here.stop != cur.stop || here.start != contain[k].start ||
            here.stop != contain[k].stop) {
            did = 1;
            ls->slice[lab] = here;
        }
    }
    for (int lab = 0; lab < 256; lab++) {
        empty |= ls->has[lab] && ls->slice[lab].stop == ls->slice[lab].start;
    }
    if (!did) {
        goto done;
    }
    if (empty) {
        *out = cc_scalar_new(0.0, index->ndim, index->shape, NULL);
        rc = *out == NULL ? -1 : 0;
        goto done;
    }
    int n = inner->n_children;
    cc_node **kids = cc_calloc((size_t)(n > 0 ? n : 1), sizeof(cc_node *));
    if (kids == NULL) {
        rc = -1;
        goto done;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        cc_node *c = inner->children[i];
        cc_index_item items[CC_MAX_NDIM];
        label_items(ls, cc_einsum_child_axes(inner, i), c->ndim, NULL, items);
        kids[i] = cc_index_new(c, c->ndim, items, NULL);
        rc = kids[i] == NULL ? -1 : 0;
    }
    cc_node *e =
        rc == 0 ? cc_einsum_new(n, kids, inner->u.einsum.in_axes, r, out_axes, inner->name) : NULL;
    release_all(kids, n);
    if (e == NULL) {
        rc = -1;
        goto done;
    }
    cc_index_item items[CC_MAX_NDIM];
    int64_t shape[CC_MAX_NDIM];
    label_items(ls, out_axes, r, contain, items);
    for (int k = 0; k < r; k++) {
        shape[k] = contain[k].stop - contain[k].start;
    }
    cc_node *s = cc_scatter_new(e, r, items, r, shape, NULL);
    cc_node_decref(e);
    if (s == NULL) {
        rc = -1;
        goto done;
    }
    for (int k = 0; k < r; k++) {
        items[k] = index->u.index.items[k].kind == CC_INDEX_INT ? cc_item_int(0) : cc_item_full();
    }
    *out = cc_index_new(s, r, items, NULL);
    cc_node_decref(s);
    rc = *out == NULL ? -1 : 0;
done:
    cc_free(ls);
    return rc;
}

static int
is_zero_scalar(const cc_node *n)
{
    return n->kind == CC_KIND_SCALAR && n->u.scalar.value == 0.0;
}

int
cc_concat_to_scatter(cc_node *concat, cc_node **out)
{
    *out = NULL;
    if (expect_kind(concat, CC_KIND_CONCAT, "concat_to_scatter") < 0) {
        return -1;
    }
    int n = concat->n_children, axis = concat->u.concat.axis, pre = 0, post = 0;
    while (pre < n && is_zero_scalar(concat->children[pre])) {
        pre++;
    }
    while (post < n && is_zero_scalar(concat->children[n - 1 - post])) {
        post++;
    }
    if ((pre == 0 && post == 0) || pre + post >= n) {
        return 0;
    }
    int end = n - post;
    int64_t start = 0, stop = 0;
    for (int i = 0; i < end; i++) {
        int64_t l = concat->children[i]->shape[axis];
        start += i < pre ? l : 0;
        stop += l;
    }
    cc_node *rest = cc_concat_new(end - pre, concat->children + pre, axis, concat->name);
    if (rest == NULL) {
        return -1;
    }
    if (cc_shape_numel(rest->ndim, rest->shape) == cc_shape_numel(concat->ndim, concat->shape)) {
        cc_node_decref(rest);
        return 0;
    }
    cc_index_item items[CC_MAX_NDIM];
    for (int k = 0; k < concat->ndim; k++) {
        items[k] = k == axis ? cc_item_slice(start, stop) : cc_item_full();
    }
    *out = cc_scatter_new(rest, concat->ndim, items, concat->ndim, concat->shape, NULL);
    cc_node_decref(rest);
    return *out == NULL ? -1 : 0;
}

int
cc_scatter_to_concat(cc_node *scatter, cc_node **out)
{
    *out = NULL;
    if (expect_kind(scatter, CC_KIND_SCATTER, "scatter_to_concat") < 0) {
        return -1;
    }
    cc_node *result = scatter->children[0];
    cc_node_incref(result);
    for (int k = 0; k < scatter->ndim; k++) {
        uslice s = scatter_slice(scatter, k);
        int64_t lower[CC_MAX_NDIM], upper[CC_MAX_NDIM];
        memcpy(lower, result->shape, (size_t)result->ndim * sizeof(int64_t));
        memcpy(upper, result->shape, (size_t)result->ndim * sizeof(int64_t));
        lower[k] = s.start;
        upper[k] = scatter->shape[k] - s.stop;
        cc_node *parts[3] = {cc_scalar_new(0.0, result->ndim, lower, NULL), result,
                             cc_scalar_new(0.0, result->ndim, upper, NULL)};
        cc_node *next =
            parts[0] != NULL && parts[2] != NULL ? cc_concat_new(3, parts, k, scatter->name) : NULL;
        cc_node_decref(parts[0]);
        cc_node_decref(parts[2]);
        cc_node_decref(result);
        if (next == NULL) {
            return -1;
        }
        result = next;
    }
    *out = result;
    return 0;
}
