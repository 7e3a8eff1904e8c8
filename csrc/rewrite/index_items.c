// Index entries as values for the rewrites: constructors, rc's reading of slice bounds,
// identity tests and canonical forms. Entries built here own (retain) their tensors.
#include <string.h>

#include "rewrite/rewrite_impl.h"
#include "util/alloc.h"

cc_index_item
cc_item_full(void)
{
    cc_index_item it;
    memset(&it, 0, sizeof it);
    it.kind = CC_INDEX_SLICE;
    return it;
}

cc_index_item
cc_item_int(int64_t i)
{
    cc_index_item it;
    memset(&it, 0, sizeof it);
    it.kind = CC_INDEX_INT;
    it.i = i;
    return it;
}

cc_index_item
cc_item_slice(int64_t start, int64_t stop)
{
    cc_index_item it = cc_item_full();
    it.has_start = 1;
    it.has_stop = 1;
    it.start = start;
    it.stop = stop;
    return it;
}

void
cc_index_items_free(cc_index_item *items, int n)
{
    if (items == NULL) {
        return;
    }
    cc_index_items_clear(items, n);
    cc_free(items);
}

static int64_t
unsigned_loc(int64_t x, int64_t l)
{
    if (x < 0) {
        return x + l < 0 ? 0 : x + l;
    }
    return x < l ? x : l;
}

void
cc_item_uslice(const cc_index_item *it, int64_t l, int64_t *start, int64_t *stop)
{
    *start = it->has_start ? unsigned_loc(it->start, l) : 0;
    *stop = it->has_stop ? unsigned_loc(it->stop, l) : l;
}

int
cc_item_is_identity(const cc_index_item *it, int64_t l)
{
    if (it->kind != CC_INDEX_SLICE) {
        return 0;
    }
    int64_t start, stop;
    cc_item_uslice(it, l, &start, &stop);
    return start == 0 && stop == l;
}

int
cc_items_are_identity(int n, const cc_index_item *items, const int64_t *shape)
{
    for (int k = 0; k < n; k++) {
        if (!cc_item_is_identity(&items[k], shape[k])) {
            return 0;
        }
    }
    return 1;
}

int64_t
cc_item_axis_len(const cc_index_item *it, int64_t l)
{
    switch (it->kind) {
    case CC_INDEX_INT:
        return 0;
    case CC_INDEX_SLICE: {
        int64_t start, stop;
        cc_item_uslice(it, l, &start, &stop);
        return stop > start ? stop - start : 0;
    }
    case CC_INDEX_TENSOR:
        return it->tensor->value.shape[0];
    }
    return 0;
}

int64_t
cc_item_tensor_at(const cc_tensor *t, int64_t k)
{
    return ((const int64_t *)t->data)[k * t->strides[0]];
}

// 1 when the n positions step by one from the first.
static int
steps_by_one(const cc_tensor *t, int64_t l, int64_t *first)
{
    int64_t n = t->shape[0];
    int64_t prev = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t v = cc_item_tensor_at(t, k);
        // negative positions count from the end, as torch's indexing reads them
        v = v < 0 ? v + l : v;
        if (k == 0) {
            *first = v;
        } else if (v != prev + 1) {
            return 0;
        }
        prev = v;
    }
    return 1;
}

void
cc_item_canonicalize(const cc_index_item *it, int64_t l, cc_index_item *out)
{
    switch (it->kind) {
    case CC_INDEX_INT:
        *out = cc_item_int(l > 0 ? ((it->i % l) + l) % l : it->i);
        return;
    case CC_INDEX_SLICE: {
        int64_t start, stop;
        cc_item_uslice(it, l, &start, &stop);
        *out = cc_item_slice(start, stop);
        return;
    }
    case CC_INDEX_TENSOR: {
        int64_t first = 0;
        if (it->tensor->value.shape[0] == 0) {
            *out = cc_item_slice(0, 0);
        } else if (steps_by_one(&it->tensor->value, l, &first)) {
            *out = cc_item_slice(first, first + it->tensor->value.shape[0]);
        } else {
            cc_index_item_share(out, it);
        }
        return;
    }
    }
}

int
cc_item_from_positions(const int64_t *pos, int64_t n, cc_index_item *out)
{
    int consecutive = 1;
    for (int64_t k = 1; k < n && consecutive; k++) {
        consecutive = pos[k] == pos[k - 1] + 1;
    }
    if (n == 0) {
        *out = cc_item_slice(0, 0);
        return 0;
    }
    if (consecutive) {
        *out = cc_item_slice(pos[0], pos[0] + n);
        return 0;
    }
    cc_index_item it = cc_item_full();
    cc_tensor t;
    if (cc_tensor_init_empty(&t, CC_DTYPE_I64, 1, &n) < 0) {
        return -1;
    }
    memcpy(t.data, pos, (size_t)n * sizeof(int64_t));
    if (cc_index_item_set_tensor(&it, &t) < 0) {
        return -1;
    }
    *out = it;
    return 0;
}
