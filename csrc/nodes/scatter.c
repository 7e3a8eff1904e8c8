// Scatter: zeros of its shape with its child written at one start:stop slice per axis (rc's
// Scatter, "pad with zeros"). The slices are stored canonical (explicit, non-negative bounds)
// as rc stores them. Hash: rc's TensorIndex hash of the slices, the shape, then the child.
#include <stdio.h>
#include <string.h>

#include "nodes/expand_kind.h"
#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"

// rc's delimiter before each entry of a TensorIndex hash (as in nodes/index.c).
static const uint8_t ENTRY_DELIMITER_UUID[16] = {
    0x3d, 0x14, 0x63, 0x6b, 0xa1, 0xed, 0x42, 0x35, 0x91, 0xcd, 0x5f, 0xc9, 0xe8, 0x18, 0xc9, 0x3d,
};

static const uint8_t scatter_type_uuid[16] = {0x50, 0xcc, 0xe6, 0xd3, 0x45, 0x7c, 0x4f, 0x52,
                                              0x9a, 0x23, 0x19, 0x03, 0xbd, 0xc7, 0x65, 0x33};

static const cc_name_op scatter_name_op = {.cls = CC_NAME_POSTFIX, .text = " scatter"};

static void
scatter_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    static const uint8_t present = 0;
    cc_blake3 inner;
    cc_blake3_init(&inner);
    for (int k = 0; k < n->ndim; k++) {
        cc_blake3_update(&inner, ENTRY_DELIMITER_UUID, 16);
        for (int b = 0; b < 2; b++) {
            cc_blake3_update_u64_le(&inner, (uint64_t)n->u.scatter.bounds[2 * k + b]);
            cc_blake3_update(&inner, &present, 1);
        }
    }
    uint8_t index_hash[32];
    cc_blake3_final(&inner, index_hash, 32);
    cc_blake3_update(h, index_hash, 32);
    for (int k = 0; k < n->ndim; k++) {
        cc_blake3_update_u64_le(h, (uint64_t)n->shape[k]);
    }
    cc_node_hash_children(n, h);
}

static void
scatter_free_payload(cc_node *n)
{
    cc_free(n->u.scatter.bounds);
    n->u.scatter.bounds = NULL;
}

// The stored slices as index items (ndim entries).
static void
scatter_items(const cc_node *n, cc_index_item *items)
{
    memset(items, 0, (size_t)n->ndim * sizeof(cc_index_item));
    for (int k = 0; k < n->ndim; k++) {
        items[k].kind = CC_INDEX_SLICE;
        items[k].has_start = items[k].has_stop = 1;
        items[k].start = n->u.scatter.bounds[2 * k];
        items[k].stop = n->u.scatter.bounds[2 * k + 1];
    }
}

static cc_node *
scatter_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    cc_index_item items[CC_MAX_NDIM];
    scatter_items(n, items);
    return cc_scatter_new(children[0], n->ndim, items, n->ndim, n->shape, name);
}

// rc's TensorIndex text of the slices: "[0:2,1:3]".
static int
scatter_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    (void)o;
    if (cc_str_append(out, "[") < 0) {
        return -1;
    }
    for (int k = 0; k < n->ndim; k++) {
        if ((k > 0 && cc_str_append(out, ",") < 0) ||
            cc_payload_put_i64(out, n->u.scatter.bounds[2 * k]) < 0 ||
            cc_str_append(out, ":") < 0 ||
            cc_payload_put_i64(out, n->u.scatter.bounds[2 * k + 1]) < 0) {
            return -1;
        }
    }
    return cc_str_append(out, "]");
}

// One item: start:stop (either bound optional) or an int (which the constructor refuses as
// rc does). [s, e) is the item without surrounding spaces.
static int
parse_item(const char *s, const char *e, cc_index_item *it, const char **at)
{
    memset(it, 0, sizeof *it);
    if (s == e) {
        *at = s;
        return cc_fail(CC_E_PARSE_INVALID_INDEX, "empty index item");
    }
    if (*s == 't' || *s == '[') {
        *at = s;
        return cc_fail(CC_E_PARSE_INVALID_INDEX,
                       "a Scatter's index takes start:stop slices only, got '%.*s'", (int)(e - s),
                       s);
    }
    const char *colon = memchr(s, ':', (size_t)(e - s));
    if (colon == NULL) {
        it->kind = CC_INDEX_INT;
        if (cc_payload_parse_int(s, e, &it->i, at) < 0) {
            cc_error_recast(CC_E_PARSE_INVALID_INDEX);
            return -1;
        }
        return 0;
    }
    it->kind = CC_INDEX_SLICE;
    const char *a_end = colon, *b = cc_payload_skip_ws(colon + 1, e);
    while (a_end > s && cc_payload_is_space(a_end[-1])) {
        a_end--;
    }
    it->has_start = a_end > s;
    it->has_stop = b < e;
    if ((it->has_start && cc_payload_parse_int(s, a_end, &it->start, at) < 0) ||
        (it->has_stop && cc_payload_parse_int(b, e, &it->stop, at) < 0)) {
        cc_error_recast(CC_E_PARSE_INVALID_INDEX);
        return -1;
    }
    return 0;
}

// The slices in brackets, separated by commas; the shape comes from the line.
static cc_node *
scatter_parse_payload(const cc_payload_parse *in, const char **at)
{
    if (cc_payload_expect_shape(in, CC_KIND_SCATTER, "", at) < 0 ||
        cc_payload_expect(in, CC_KIND_SCATTER, "its slices such as [0:2,1:3]", at) < 0) {
        return NULL;
    }
    const char *s = in->extra_at, *e = s + strlen(in->extra);
    if (*s != '[' || e[-1] != ']') {
        *at = s;
        return cc_fail_null(CC_E_PARSE_INVALID_INDEX, "a Scatter's slices are in brackets: [...]");
    }
    cc_index_item items[CC_MAX_NDIM];
    int n = 0;
    const char *c = cc_payload_skip_ws(s + 1, e - 1);
    while (c < e - 1) {
        const char *end = memchr(c, ',', (size_t)(e - 1 - c));
        end = end == NULL ? e - 1 : end;
        const char *b = end;
        while (b > c && cc_payload_is_space(b[-1])) {
            b--;
        }
        if (n == CC_MAX_NDIM) {
            *at = c;
            return cc_fail_null(CC_E_PARSE_INVALID_INDEX, "more than %d index items", CC_MAX_NDIM);
        }
        if (parse_item(c, b, &items[n], at) < 0) {
            return NULL;
        }
        n++;
        c = end < e - 1 ? cc_payload_skip_ws(end + 1, e - 1) : end;
        if (end < e - 1 && c == e - 1) {
            *at = c;
            return cc_fail_null(CC_E_PARSE_INVALID_INDEX, "empty index item");
        }
    }
    *at = in->extra_at;
    return cc_scatter_new(in->children[0], n, items, in->ndim, in->shape, in->name);
}

// rc's expand_node arm: new leading batch axes are scattered whole; other sizes are fixed.
static cc_node *
scatter_expand(const cc_expand_call *e)
{
    const cc_node *c = e->c;
    const cc_node *old = c->children[0];
    cc_node *x = e->inputs[0];
    int nb = e->br[0];
    for (int i = 0; i < old->ndim; i++) {
        if (old->shape[i] != x->shape[i + nb]) {
            cc_str a, b;
            cc_str_init(&a);
            cc_str_init(&b);
            if (cc_shape_append(&a, old->ndim, old->shape) == 0 &&
                cc_shape_append(&b, x->ndim, x->shape) == 0) {
                cc_fail(CC_E_EXPAND_FIXED_INDEX,
                        "Trying to expand fixed index, scatter %s old shape %s new shape %s "
                        "(axis %d is scattered, so its size %lld can't change)",
                        e->what, a.data, b.data, i, (long long)old->shape[i]);
            }
            cc_str_clear(&a);
            cc_str_clear(&b);
            return NULL;
        }
    }
    int ndim = nb + c->ndim;
    if (ndim > CC_MAX_NDIM) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET, "%s: rank %d passes the maximum %d",
                            e->what, ndim, CC_MAX_NDIM);
    }
    cc_index_item items[CC_MAX_NDIM];
    int64_t shape[CC_MAX_NDIM];
    memset(items, 0, sizeof(items));
    for (int i = 0; i < nb; i++) {
        items[i].kind = CC_INDEX_SLICE;
        shape[i] = x->shape[i];
    }
    scatter_items(c, items + nb);
    memcpy(shape + nb, c->shape, (size_t)c->ndim * sizeof(int64_t));
    return cc_scatter_new(x, ndim, items, ndim, shape, c->name);
}

CC_DEFINE_KIND_OPS(scatter, .free_payload = scatter_free_payload, .expand = scatter_expand);

// The index as given, in rc's TensorIndex text ("[0,1:3]"), appended to s; 0 or -1.
static int
put_index_text(cc_str *s, int n, const cc_index_item *items)
{
    if (cc_str_append(s, "[") < 0) {
        return -1;
    }
    for (int k = 0; k < n; k++) {
        const cc_index_item *it = &items[k];
        int rc = k > 0 ? cc_str_append(s, ",") : 0;
        if (rc == 0 && it->kind == CC_INDEX_INT) {
            rc = cc_payload_put_i64(s, it->i);
        } else if (rc == 0 && it->kind == CC_INDEX_TENSOR) {
            rc = cc_str_appendf(s, "tensor of length %lld", (long long)it->tensor->value.shape[0]);
        } else if (rc == 0) {
            rc = (it->has_start && cc_payload_put_i64(s, it->start) < 0) ||
                         cc_str_append(s, ":") < 0 ||
                         (it->has_stop && cc_payload_put_i64(s, it->stop) < 0)
                     ? -1
                     : 0;
        }
        if (rc < 0) {
            return -1;
        }
    }
    return cc_str_append(s, "]");
}

// Records kind with "<what>: <head> index <index> on shape <shape><tail>".
static cc_node *
fail_index(cc_error_kind kind, const char *what, const char *head, int n,
           const cc_index_item *items, int ndim, const int64_t *shape, const char *tail)
{
    cc_str a, b;
    cc_str_init(&a);
    cc_str_init(&b);
    if (put_index_text(&a, n, items) == 0 && cc_shape_append(&b, ndim, shape) == 0) {
        cc_fail(kind, "%s: %s index %s on shape %s%s", what, head, a.data, b.data, tail);
    }
    cc_str_clear(&a);
    cc_str_clear(&b);
    return NULL;
}

// rc's TensorIndex::validate of one bound or int against length l.
static int
in_bounds(int64_t v, int64_t l, int is_slice)
{
    return v >= -l && v < l + is_slice;
}

cc_node *
cc_scatter_new(cc_node *child, int n_items, const cc_index_item *items, int ndim,
               const int64_t *shape, const char *name)
{
    char what[160];
    cc_node_describe(CC_KIND_SCATTER, name, what, sizeof(what));
    if (ndim < 0 || ndim > CC_MAX_NDIM || n_items < 0) {
        return cc_fail_null(CC_E_PY_VALUE, "%s: rank %d is not supported (at most %d)", what, ndim,
                            CC_MAX_NDIM);
    }
    for (int k = 0; k < ndim; k++) {
        if (shape[k] < 0) {
            return cc_fail_null(CC_E_PY_VALUE, "%s: negative size %lld on axis %d", what,
                                (long long)shape[k], k);
        }
    }
    if (n_items > ndim) {
        return cc_fail_null(CC_E_INDEX_INDEX_RANK_TOO_HIGH,
                            "%s: index rank too high: %d vs %d (rank of the scatter shape)", what,
                            n_items, ndim);
    }
    for (int k = 0; k < n_items; k++) {
        const cc_index_item *it = &items[k];
        int ok = it->kind == CC_INDEX_INT ? in_bounds(it->i, shape[k], 0)
                 : it->kind == CC_INDEX_SLICE
                     ? (!it->has_start || in_bounds(it->start, shape[k], 1)) &&
                           (!it->has_stop || in_bounds(it->stop, shape[k], 1))
                     : 1;
        if (!ok) {
            char head[64];
            snprintf(head, sizeof(head), "entry %d of", k);
            return fail_index(CC_E_INDEX_INDEX_OUT_OF_BOUNDS, what, head, n_items, items, ndim,
                              shape,
                              " is out of bounds. NB: slices don't saturate like Python "
                              "ones do");
        }
    }
    for (int k = 0; k < n_items; k++) {
        if (items[k].kind != CC_INDEX_SLICE) {
            return fail_index(CC_E_CONSTRUCT_SCATTER_INDEX_TYPE_UNIMPLEMENTED, what,
                              "only start:stop slices are supported, not the", n_items, items, ndim,
                              shape, "");
        }
    }
    int64_t bounds[2 * CC_MAX_NDIM], sizes[CC_MAX_NDIM];
    for (int k = 0; k < ndim; k++) {
        int64_t l = shape[k];
        int64_t start = k < n_items && items[k].has_start ? items[k].start : 0;
        int64_t stop = k < n_items && items[k].has_stop ? items[k].stop : l;
        bounds[2 * k] = start < 0 ? start + l : start;
        bounds[2 * k + 1] = stop < 0 ? stop + l : stop;
        sizes[k] = bounds[2 * k + 1] > bounds[2 * k] ? bounds[2 * k + 1] - bounds[2 * k] : 0;
    }
    int same = child->ndim == ndim;
    for (int k = 0; same && k < ndim; k++) {
        same = sizes[k] == child->shape[k];
    }
    if (!same) {
        cc_str a, b, c;
        cc_str_init(&a);
        cc_str_init(&b);
        cc_str_init(&c);
        if (put_index_text(&a, n_items, items) == 0 && cc_shape_append(&b, ndim, sizes) == 0 &&
            cc_shape_append(&c, child->ndim, child->shape) == 0) {
            cc_fail(CC_E_CONSTRUCT_SCATTER_SHAPE_WRONG,
                    "%s: Scatter shape wrong, the index %s covers %s but the child's shape is %s",
                    what, a.data, b.data, c.data);
        }
        cc_str_clear(&a);
        cc_str_clear(&b);
        cc_str_clear(&c);
        return NULL;
    }
    cc_node *n = cc_node_alloc(CC_KIND_SCATTER, 1, &child, ndim, shape);
    if (n == NULL) {
        return NULL;
    }
    n->u.scatter.bounds = cc_malloc((size_t)(ndim > 0 ? 2 * ndim : 1) * sizeof(int64_t));
    if (n->u.scatter.bounds == NULL) {
        cc_node_free_one(n);
        return NULL;
    }
    memcpy(n->u.scatter.bounds, bounds, (size_t)(2 * ndim) * sizeof(int64_t));
    return cc_node_finish(n, name);
}
