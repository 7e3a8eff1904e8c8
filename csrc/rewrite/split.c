// rc's split_to_concat: Concat of Index nodes slicing a circuit consecutively along an axis.
// The parts and the Concat are built unnamed, so they take rc's autonames.
#include "rewrite/rewrite_impl.h"
#include "rewrite/split.h"
#include "util/alloc.h"
#include "util/error.h"

cc_node *
cc_split_to_concat(cc_node *c, int axis, int n, const int64_t *sections)
{
    if (axis < -c->ndim || axis >= c->ndim) {
        return cc_fail_null(CC_E_MISC_INPUT_ITEM_OUT_OF_BOUNDS,
                            "split_to_concat: axis %d is out of bounds for rank %d", axis, c->ndim);
    }
    if (axis < 0) {
        axis += c->ndim;
    }
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (sections[i] < 0) {
            return cc_fail_null(CC_E_PY_VALUE,
                                "split_to_concat: section %d has negative width %lld", i,
                                (long long)sections[i]);
        }
        total += sections[i];
    }
    if (total != c->shape[axis]) {
        return cc_fail_null(CC_E_PY_VALUE,
                            "split_to_concat: the sections sum to %lld but axis %d has length %lld",
                            (long long)total, axis, (long long)c->shape[axis]);
    }
    cc_node **parts = cc_calloc((size_t)n + 1, sizeof(cc_node *));
    if (parts == NULL) {
        return NULL;
    }
    cc_node *out = NULL;
    cc_index_item items[CC_MAX_NDIM];
    for (int a = 0; a < c->ndim; a++) {
        items[a] = cc_item_full();
    }
    int64_t start = 0;
    for (int i = 0; i < n; i++) {
        items[axis] = cc_item_slice(start, start + sections[i]);
        start += sections[i];
        parts[i] = cc_index_new(c, c->ndim, items, NULL);
        if (parts[i] == NULL) {
            goto done;
        }
    }
    out = cc_concat_new(n, parts, axis, NULL);
done:
    for (int i = 0; i < n; i++) {
        cc_node_decref(parts[i]);
    }
    cc_free(parts);
    return out;
}
