// Index: one entry per child axis ("dimwise"): an int drops the axis, a slice keeps a
// range (bounds checked, no saturation), a 1-D int64 tensor selects positions (its values
// are checked at evaluation). Hash: rc's TensorIndex hash of the padded entries.
#include <stdio.h>

#include "nodes/node_impl.h"
#include "nodes/shape.h"
#include "tensor/tensor_hash.h"
#include "util/alloc.h"
#include "util/error.h"

// rc's delimiter before each entry of a TensorIndex hash.
static const uint8_t ENTRY_DELIMITER_UUID[16] = {
    0x3d, 0x14, 0x63, 0x6b, 0xa1, 0xed, 0x42, 0x35, 0x91, 0xcd, 0x5f, 0xc9, 0xe8, 0x18, 0xc9, 0x3d,
};

static void
hash_bound(cc_blake3 *h, int present, int64_t value)
{
    uint8_t absent = present ? 0 : 1;
    cc_blake3_update_u64_le(h, present ? (uint64_t)value : 0);
    cc_blake3_update(h, &absent, 1);
}

static void
hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_blake3 inner;
    cc_blake3_init(&inner);
    for (int k = 0; k < n->u.index.n_items; k++) {
        const cc_index_item *it = &n->u.index.items[k];
        cc_blake3_update(&inner, ENTRY_DELIMITER_UUID, 16);
        switch (it->kind) {
        case CC_INDEX_INT:
            cc_blake3_update_u64_le(&inner, (uint64_t)it->i);
            break;
        case CC_INDEX_TENSOR:
            cc_blake3_update(&inner, it->tensor_hash, 32);
            break;
        case CC_INDEX_SLICE:
            hash_bound(&inner, it->has_start, it->start);
            hash_bound(&inner, it->has_stop, it->stop);
            break;
        }
    }
    uint8_t index_hash[32];
    cc_blake3_final(&inner, index_hash, 32);
    cc_blake3_update(h, index_hash, 32);
    cc_node_hash_children(n, h);
}

int
cc_index_item_set_tensor(cc_index_item *it, cc_tensor *value)
{
    it->kind = CC_INDEX_TENSOR;
    it->tensor = cc_malloc(sizeof(cc_index_tensor));
    if (it->tensor == NULL) {
        cc_tensor_clear(value);
        return -1;
    }
    it->tensor->refcount = 1;
    it->tensor->value = *value;
    return 0;
}

void
cc_index_item_share(cc_index_item *dst, const cc_index_item *src)
{
    *dst = *src;
    if (src->kind != CC_INDEX_TENSOR) {
        dst->tensor = NULL;
    } else if (src->tensor != NULL) {
        src->tensor->refcount++;
    }
}

void
cc_index_item_clear(cc_index_item *it)
{
    if (it->kind != CC_INDEX_TENSOR || it->tensor == NULL) {
        return;
    }
    if (--it->tensor->refcount == 0) {
        cc_tensor_clear(&it->tensor->value);
        cc_free(it->tensor);
    }
    it->tensor = NULL;
}

void
cc_index_items_clear(cc_index_item *items, int n)
{
    for (int k = 0; k < n; k++) {
        cc_index_item_clear(&items[k]);
    }
}

static void
free_payload(cc_node *n)
{
    if (n->u.index.items == NULL) {
        return;
    }
    cc_index_items_clear(n->u.index.items, n->u.index.n_items);
    cc_free(n->u.index.items);
    n->u.index.items = NULL;
}

static const char *
item_text(const cc_index_item *it, char *buf, size_t cap)
{
    char start[24] = "", stop[24] = "";
    switch (it->kind) {
    case CC_INDEX_INT:
        snprintf(buf, cap, "%lld", (long long)it->i);
        break;
    case CC_INDEX_SLICE:
        if (it->has_start) {
            snprintf(start, sizeof(start), "%lld", (long long)it->start);
        }
        if (it->has_stop) {
            snprintf(stop, sizeof(stop), "%lld", (long long)it->stop);
        }
        snprintf(buf, cap, "%s:%s", start, stop);
        break;
    case CC_INDEX_TENSOR:
        snprintf(buf, cap, "tensor of length %lld", (long long)it->tensor->value.shape[0]);
        break;
    }
    return buf;
}

static cc_node *
fail_bounds(const char *what, const cc_node *child, int axis, const cc_index_item *it)
{
    char text[64];
    cc_str s;
    cc_str_init(&s);
    if (cc_shape_append(&s, child->ndim, child->shape) == 0) {
        cc_fail(CC_E_INDEX_INDEX_OUT_OF_BOUNDS,
                "%s: index %s out of bounds for axis %d of length %lld (child shape %s). NB: "
                "slices don't saturate like Python ones do",
                what, item_text(it, text, sizeof(text)), axis, (long long)child->shape[axis],
                s.data);
    }
    cc_str_clear(&s);
    return NULL;
}

// Checks entry it against axis length l; its output length (-1 for an int) in *len.
static int
check_item(const cc_index_item *it, int64_t l, int64_t *len)
{
    switch (it->kind) {
    case CC_INDEX_INT:
        *len = -1;
        return it->i >= -l && it->i < l;
    case CC_INDEX_SLICE: {
        if ((it->has_start && (it->start > l || it->start < -l)) ||
            (it->has_stop && (it->stop > l || it->stop < -l))) {
            return 0;
        }
        int64_t start = !it->has_start ? 0 : it->start < 0 ? it->start + l : it->start;
        int64_t stop = !it->has_stop ? l : it->stop < 0 ? it->stop + l : it->stop;
        *len = stop - start;
        return start <= stop;
    }
    case CC_INDEX_TENSOR:
        *len = it->tensor->value.shape[0];
        return 1;
    }
    return 0;
}

// The Index node; have_hashes: the tensor entries' tensor_hash fields are already filled.
static cc_node *
index_build(cc_node *child, int n_items, const cc_index_item *items, const char *name,
            int have_hashes)
{
    char what[160];
    cc_node_describe(CC_KIND_INDEX, name, what, sizeof(what));
    if (n_items < 0) {
        return cc_fail_null(CC_E_PY_VALUE, "%s: negative number of entries %d", what, n_items);
    }
    for (int k = 0; k < n_items; k++) {
        const cc_index_item *it = &items[k];
        if (it->kind != CC_INDEX_INT && it->kind != CC_INDEX_SLICE && it->kind != CC_INDEX_TENSOR) {
            return cc_fail_null(CC_E_PY_VALUE, "%s: entry %d has an unknown kind", what, k);
        }
        if (it->kind != CC_INDEX_TENSOR) {
            continue;
        }
        if (it->tensor->value.ndim != 1) {
            return cc_fail_null(CC_E_INDEX_TENSOR_NDIM_NOT1,
                                "%s: only ndim of 1 is supported for index tensors and got %d "
                                "(entry %d)",
                                what, it->tensor->value.ndim, k);
        }
        if (it->tensor->value.dtype != CC_DTYPE_I64) {
            return cc_fail_null(CC_E_MISC_INPUT_INDEX_DTYPE_NOT_I64,
                                "%s: index tensor dtype isn't int64 (got %s, entry %d)", what,
                                cc_dtype_name(it->tensor->value.dtype), k);
        }
    }
    if (n_items > child->ndim) {
        return cc_fail_null(CC_E_INDEX_INDEX_RANK_TOO_HIGH,
                            "%s: index rank too high: %d vs %d (child rank)", what, n_items,
                            child->ndim);
    }
    int ndim = 0;
    int64_t shape[CC_MAX_NDIM];
    for (int k = 0; k < n_items; k++) {
        int64_t len;
        if (!check_item(&items[k], child->shape[k], &len)) {
            return fail_bounds(what, child, k, &items[k]);
        }
        if (len >= 0) {
            shape[ndim++] = len;
        }
    }
    for (int k = n_items; k < child->ndim; k++) {
        shape[ndim++] = child->shape[k];
    }
    cc_node *n = cc_node_alloc(CC_KIND_INDEX, 1, &child, ndim, shape);
    if (n == NULL) {
        return NULL;
    }
    // Zeroed entries are ints, which own nothing, so a partly filled list frees cleanly.
    n->u.index.items =
        cc_calloc((size_t)(child->ndim > 0 ? child->ndim : 1), sizeof(cc_index_item));
    if (n->u.index.items == NULL) {
        cc_node_free_one(n);
        return NULL;
    }
    n->u.index.n_items = child->ndim;
    for (int k = 0; k < child->ndim; k++) {
        cc_index_item *dst = &n->u.index.items[k];
        if (k >= n_items) {
            dst->kind = CC_INDEX_SLICE;
            continue;
        }
        cc_index_item_share(dst, &items[k]);
        if (dst->kind == CC_INDEX_TENSOR && !have_hashes) {
            cc_tensor_hash(&dst->tensor->value, dst->tensor_hash);
        }
    }
    return cc_node_finish(n, name);
}

static cc_node *
rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return index_build(children[0], n->u.index.n_items, n->u.index.items, name, 1);
}

const cc_kind_ops cc_index_ops = {
    .type_uuid = {0x3c, 0x65, 0x56, 0x70, 0xb3, 0x52, 0x4a, 0x5f, 0x89, 0x1c, 0x0d, 0x71, 0x60,
                  0x60, 0x93, 0x41},
    .hash_non_name = hash_non_name,
    .free_payload = free_payload,
    .rebuild = rebuild,
};

cc_node *
cc_index_new(cc_node *child, int n_items, const cc_index_item *items, const char *name)
{
    return index_build(child, n_items, items, name, 0);
}
