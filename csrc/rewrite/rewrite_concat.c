// rc's Concat rewrites outside simp's defaults: index_concat_drop_unreached, concat_elim_split,
// concat_pull_removable_axes (with unremove_axes), flat_concat and flat_concat_back.
#include <string.h>

#include "nodes/rearrange.h"
#include "rewrite/catalogue.h"
#include "rewrite/rewrite_catalogue_b.h"
#include "rewrite/rewrite_impl.h"
#include "rewrite/simp.h"
#include "util/alloc.h"
#include "util/error.h"

// Whether two entries are written the same (rc's TensorAxisIndex equality).
static int
items_equal(const cc_index_item *a, const cc_index_item *b)
{
    if (a->kind != b->kind) {
        return 0;
    }
    switch (a->kind) {
    case CC_INDEX_INT:
        return a->i == b->i;
    case CC_INDEX_SLICE:
        return a->has_start == b->has_start && a->has_stop == b->has_stop &&
               (!a->has_start || a->start == b->start) && (!a->has_stop || a->stop == b->stop);
    case CC_INDEX_TENSOR:
        return memcmp(a->tensor_hash, b->tensor_hash, 32) == 0;
    }
    return 0;
}

static int
has_zero_numel(const cc_node *n)
{
    for (int k = 0; k < n->ndim; k++) {
        if (n->shape[k] == 0) {
            return 1;
        }
    }
    return 0;
}

int
cc_index_concat_drop_unreached(cc_node *index, cc_node **out)
{
    *out = NULL;
    cc_node *concat = index->children[0];
    if (concat->kind != CC_KIND_CONCAT) {
        return 0;
    }
    int n = concat->n_children, axis = concat->u.concat.axis;
    for (int i = 0; i < n; i++) {
        if (has_zero_numel(concat->children[i])) {
            return 0;
        }
    }
    cc_index_item canon;
    cc_item_canonicalize(&index->u.index.items[axis], concat->shape[axis], &canon);
    int first = 0, last = n; // operands [first, last) are kept
    int64_t start = 0, pos = 0;
    cc_index_item entry = cc_item_full();
    if (canon.kind == CC_INDEX_INT) {
        for (int i = 0; i < n; i++) {
            int64_t l = concat->children[i]->shape[axis];
            if (pos <= canon.i && canon.i < pos + l) {
                first = i;
                last = i + 1;
                start = pos;
            }
            pos += l;
        }
        entry = cc_item_int(canon.i - start);
    } else if (canon.kind == CC_INDEX_SLICE && canon.start < canon.stop) {
        first = -1;
        for (int i = 0; i < n; i++) {
            int64_t l = concat->children[i]->shape[axis];
            if (pos < canon.stop && pos + l > canon.start) {
                if (first < 0) {
                    first = i;
                    start = pos;
                }
                last = i + 1;
            }
            pos += l;
        }
        entry = cc_item_slice(canon.start - start, canon.stop - start);
    }
    cc_index_item_clear(&canon);
    if (first < 0 || last - first == n) {
        return 0;
    }
    cc_node *inner = cc_concat_new(last - first, concat->children + first, axis, concat->name);
    if (inner == NULL) {
        return -1;
    }
    cc_index_item items[CC_MAX_NDIM];
    memcpy(items, index->u.index.items, (size_t)index->u.index.n_items * sizeof items[0]);
    items[axis] = entry;
    *out = cc_index_new(inner, index->u.index.n_items, items, index->name);
    cc_node_decref(inner);
    return *out == NULL ? -1 : 0;
}

// rc's Index::child_axis_map: per child axis, the output axis an identity entry keeps it at,
// or -1.
static void
index_axis_map(const cc_node *index, int *map)
{
    const cc_node *child = index->children[0];
    int cur = -1;
    for (int k = 0; k < child->ndim; k++) {
        const cc_index_item *it = &index->u.index.items[k];
        if (it->kind != CC_INDEX_INT) {
            cur++;
        }
        map[k] = cc_item_is_identity(it, child->shape[k]) ? cur : -1;
    }
}

int
cc_concat_elim_split(cc_node *concat, cc_node **out)
{
    *out = NULL;
    int n = concat->n_children, axis = concat->u.concat.axis;
    for (int i = 0; i < n; i++) {
        if (concat->children[i]->kind != CC_KIND_INDEX) {
            return 0;
        }
    }
    const cc_node *first = concat->children[0];
    cc_node *child = first->children[0];
    int r = child->ndim, map0[CC_MAX_NDIM], map[CC_MAX_NDIM];
    index_axis_map(first, map0);
    for (int i = 1; i < n; i++) {
        const cc_node *ix = concat->children[i];
        if (memcmp(ix->children[0]->hash, child->hash, 32) != 0) {
            return 0;
        }
        index_axis_map(ix, map);
        if (memcmp(map, map0, (size_t)r * sizeof(int)) != 0) {
            return 0;
        }
    }
    // the child axis whose slice becomes the concat axis (rc's child_axis_map_including_slices)
    int lower = -1, cur = -1;
    for (int k = 0; k < r && lower < 0; k++) {
        const cc_index_item *it = &first->u.index.items[k];
        if (it->kind != CC_INDEX_INT) {
            cur++;
        }
        if (it->kind == CC_INDEX_SLICE && cur == axis) {
            lower = k;
        }
    }
    if (lower < 0) {
        return 0;
    }
    int64_t place = 0;
    for (int i = 0; i < n; i++) {
        const cc_index_item *it = &concat->children[i]->u.index.items[lower];
        if (it->kind != CC_INDEX_SLICE) {
            return 0;
        }
        int64_t s, e;
        cc_item_uslice(it, child->shape[lower], &s, &e);
        if (s != place) {
            return 0;
        }
        place = e;
    }
    cc_index_item items[CC_MAX_NDIM];
    for (int k = 0; k < r; k++) {
        if (k == lower) {
            items[k] = cc_item_slice(0, place);
            continue;
        }
        for (int i = 1; i < n; i++) {
            if (!items_equal(&concat->children[i]->u.index.items[k], &first->u.index.items[k])) {
                return 0;
            }
        }
        items[k] = first->u.index.items[k];
    }
    *out = cc_index_new(child, r, items, concat->name);
    return *out == NULL ? -1 : 0;
}

cc_node *
cc_unremove_axes(cc_node *child, int ndim, const int64_t *shape, const uint8_t *mask)
{
    int in_lens[CC_MAX_NDIM], out_lens[CC_MAX_NDIM], n_in = 0;
    uint8_t in_ints[CC_MAX_NDIM], out_ints[CC_MAX_NDIM];
    for (int k = 0; k < ndim; k++) {
        out_lens[k] = 1;
        out_ints[k] = (uint8_t)k;
        if (!mask[k]) {
            in_lens[n_in] = 1;
            in_ints[n_in++] = (uint8_t)k;
        }
    }
    cc_rearrange_spec *s =
        cc_rearrange_spec_new(n_in, in_lens, in_ints, ndim, out_lens, out_ints, ndim, shape);
    if (s == NULL) {
        return NULL;
    }
    cc_node *out = cc_rearrange_or_child(child, s, NULL);
    cc_rearrange_spec_free(s);
    return out;
}

int
cc_concat_pull_removable_axes(cc_node *concat, cc_node **out)
{
    *out = NULL;
    int r = concat->ndim, n = concat->n_children, axis = concat->u.concat.axis;
    uint8_t common[CC_MAX_NDIM], mask[CC_MAX_NDIM];
    memset(common, 1, (size_t)r);
    for (int i = 0; i < n; i++) {
        cc_removable_axes(concat->children[i], mask);
        for (int k = 0; k < r; k++) {
            common[k] &= mask[k];
        }
    }
    common[axis] = 0;
    int any = 0, new_axis = axis;
    for (int k = 0; k < r; k++) {
        any |= common[k];
        new_axis -= k < axis && common[k];
    }
    if (!any) {
        return 0;
    }
    cc_node **kids = cc_calloc((size_t)n, sizeof(cc_node *));
    if (kids == NULL) {
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        int applies;
        kids[i] = cc_remove_axes(concat->children[i], common, &applies);
        rc = kids[i] == NULL ? -1 : 0;
    }
    cc_node *inner = rc == 0 ? cc_concat_new(n, kids, new_axis, concat->name) : NULL;
    for (int i = 0; i < n; i++) {
        cc_node_decref(kids[i]);
    }
    cc_free(kids);
    if (inner == NULL) {
        return -1;
    }
    *out = cc_unremove_axes(inner, r, concat->shape, common);
    cc_node_decref(inner);
    return *out == NULL ? -1 : 0;
}

// "a b c -> (a b c)" of c, named "flatten".
static cc_node *
flatten(cc_node *c)
{
    int r = c->ndim, in_lens[CC_MAX_NDIM], out_len = r;
    uint8_t ints[CC_MAX_NDIM];
    int64_t sizes[CC_MAX_NDIM];
    for (int k = 0; k < r; k++) {
        in_lens[k] = 1;
        ints[k] = (uint8_t)k;
        sizes[k] = CC_REARRANGE_SIZE_NONE;
    }
    cc_rearrange_spec *s = cc_rearrange_spec_new(r, in_lens, ints, 1, &out_len, ints, r, sizes);
    if (s == NULL) {
        return NULL;
    }
    cc_node *out = cc_rearrange_new(c, s, "flatten");
    cc_rearrange_spec_free(s);
    return out;
}

cc_node *
cc_flat_concat(int n, cc_node *const *circuits)
{
    if (n == 0) {
        return cc_fail_null(CC_E_PY_VALUE, "flat_concat: no circuits to concatenate");
    }
    cc_node **flat = cc_calloc((size_t)n, sizeof(cc_node *));
    if (flat == NULL) {
        return NULL;
    }
    cc_node *out = NULL;
    int i = 0;
    for (; i < n; i++) {
        if ((flat[i] = flatten(circuits[i])) == NULL) {
            break;
        }
    }
    if (i == n) {
        out = cc_concat_new(n, flat, 0, "flat_concat");
    }
    for (int k = 0; k < n; k++) {
        cc_node_decref(flat[k]);
    }
    cc_free(flat);
    return out;
}

// "(a b c) -> a b c" with c's sizes, of the slice [start, start + len) of flat.
static cc_node *
unflatten_slice(cc_node *flat, int64_t start, const cc_node *c)
{
    int64_t len = 1;
    for (int k = 0; k < c->ndim; k++) {
        len *= c->shape[k];
    }
    cc_index_item it = cc_item_slice(start, start + len);
    cc_node *slice = cc_index_new(flat, 1, &it, NULL);
    if (slice == NULL) {
        return NULL;
    }
    int r = c->ndim, in_len = r, out_lens[CC_MAX_NDIM];
    uint8_t ints[CC_MAX_NDIM];
    for (int k = 0; k < r; k++) {
        out_lens[k] = 1;
        ints[k] = (uint8_t)k;
    }
    cc_rearrange_spec *s = cc_rearrange_spec_new(1, &in_len, ints, r, out_lens, ints, r, c->shape);
    cc_node *out = s == NULL ? NULL : cc_rearrange_new(slice, s, NULL);
    cc_rearrange_spec_free(s);
    cc_node_decref(slice);
    return out;
}

int
cc_flat_concat_back(int n, cc_node *const *circuits, cc_node **flat, cc_node **backs)
{
    *flat = cc_flat_concat(n, circuits);
    if (*flat == NULL) {
        return -1;
    }
    int64_t start = 0;
    for (int i = 0; i < n; i++) {
        backs[i] = unflatten_slice(*flat, start, circuits[i]);
        if (backs[i] == NULL) {
            for (int k = 0; k < i; k++) {
                cc_node_decref(backs[k]);
            }
            cc_node_decref(*flat);
            *flat = NULL;
            return -1;
        }
        start += (*flat)->children[i]->shape[0];
    }
    return 0;
}
