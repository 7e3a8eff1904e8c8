// Index: one entry per child axis ("dimwise"): an int drops the axis, a slice keeps a
// range (bounds checked, no saturation), a 1-D int64 tensor selects positions (its values
// are checked at evaluation). Hash: rc's TensorIndex hash of the padded entries.
#include <stdio.h>
#include <string.h>

#include "nodes/expand_kind.h"
#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
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
index_hash_non_name(const cc_node *n, cc_blake3 *h)
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
index_free_payload(cc_node *n)
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
index_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return index_build(children[0], n->u.index.n_items, n->u.index.items, name, 1);
}

static const uint8_t index_type_uuid[16] = {0x3c, 0x65, 0x56, 0x70, 0xb3, 0x52, 0x4a, 0x5f,
                                            0x89, 0x1c, 0x0d, 0x71, 0x60, 0x60, 0x93, 0x41};

static const cc_name_op index_name_op = {.cls = CC_NAME_POSTFIX, .text = " idx"};

// Hex characters of a tensor's hash in a bijective Index payload.
#define INDEX_HASH_HEX 10

// A 1-D int64 index tensor as Python writes the list: "[1, 2, 3]".
static int
put_tensor_literal(cc_str *out, const cc_tensor *t)
{
    if (cc_str_append(out, "[") < 0) {
        return -1;
    }
    const int64_t *values = t->data;
    for (int64_t i = 0; i < t->shape[0]; i++) {
        if ((i > 0 && cc_str_append(out, ", ") < 0) ||
            cc_payload_put_i64(out, values[i * t->strides[0]]) < 0) {
            return -1;
        }
    }
    return cc_str_append(out, "]");
}

static int
put_item(const cc_index_item *it, const cc_payload_print *o, cc_str *out)
{
    if (it->kind == CC_INDEX_INT) {
        return cc_payload_put_i64(out, it->i);
    }
    if (it->kind == CC_INDEX_SLICE) {
        return (it->has_start && cc_payload_put_i64(out, it->start) < 0) ||
                       cc_str_append(out, ":") < 0 ||
                       (it->has_stop && cc_payload_put_i64(out, it->stop) < 0)
                   ? -1
                   : 0;
    }
    if (o->tensor_index_literal) {
        return put_tensor_literal(out, &it->tensor->value);
    }
    if (o->bijection && (cc_str_append(out, "t") < 0 ||
                         cc_payload_put_hex(out, it->tensor_hash, INDEX_HASH_HEX) < 0 ||
                         cc_str_append(out, " ") < 0 ||
                         o->note_tensor(o->ctx, it->tensor_hash, &it->tensor->value) < 0)) {
        return -1;
    }
    return cc_str_append(out, "[") < 0 || cc_payload_put_i64(out, it->tensor->value.shape[0]) < 0 ||
                   cc_str_append(out, "]") < 0
               ? -1
               : 0;
}

// rc's TensorIndex text: ints, start:stop with absent bounds empty; a tensor as its length in
// brackets (debug), "t<hash prefix> [len]" (bijection) or its list literal.
static int
index_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    if (cc_str_append(out, "[") < 0) {
        return -1;
    }
    for (int i = 0; i < n->u.index.n_items; i++) {
        if ((i > 0 && cc_str_append(out, ",") < 0) || put_item(&n->u.index.items[i], o, out) < 0) {
            return -1;
        }
    }
    return cc_str_append(out, "]");
}

// A list literal of integers "[1, 2, 3]" as a 1-D int64 tensor. [s, e) is the literal.
static int
index_literal(const char *s, const char *e, cc_tensor *out, const char **at)
{
    int64_t n = 0;
    for (const char *c = s + 1; c < e - 1; c++) {
        n += *c == ',';
    }
    const char *inner = cc_payload_skip_ws(s + 1, e - 1);
    n += inner < e - 1;
    if (cc_tensor_init_empty(out, CC_DTYPE_I64, 1, &n) < 0) {
        return -1;
    }
    int64_t *values = out->data;
    const char *c = s + 1;
    for (int64_t i = 0; i < n; i++) {
        const char *end = c;
        while (end < e - 1 && *end != ',') {
            end++;
        }
        const char *a = cc_payload_skip_ws(c, end), *b = end;
        while (b > a && cc_payload_is_space(b[-1])) {
            b--;
        }
        if (cc_payload_parse_int(a, b, &values[i], at) < 0) {
            cc_error_recast(CC_E_PARSE_INVALID_INDEX);
            cc_tensor_clear(out);
            return -1;
        }
        c = end + 1;
    }
    return 0;
}

// "t<hash prefix> [len]": an index tensor from the parser's caller.
static int
index_hashed(const cc_payload_parse *in, const char *s, const char *e, cc_tensor *out,
             const char **at)
{
    const char *c = s + 1;
    while (c < e && cc_payload_is_hex(*c)) {
        c++;
    }
    char prefix[65] = "";
    size_t n = (size_t)(c - s - 1);
    if (n <= 64) {
        memcpy(prefix, s + 1, n);
        prefix[n] = '\0';
    }
    const char *len_at = cc_payload_skip_ws(c, e);
    int64_t len = -1;
    if (n > 0 && n <= 64 && len_at < e && *len_at == '[') {
        const char *l = len_at + 1;
        if (cc_payload_parse_uint(&l, e, &len, at) < 0) {
            return -1;
        }
        if (l + 1 != e || *l != ']') {
            len = -1;
        }
    }
    *at = s;
    if (len < 0 || !cc_payload_is_hash_prefix(prefix)) {
        return cc_fail(CC_E_PARSE_INVALID_INDEX,
                       "expected an index tensor as t<hash prefix> [length], got '%.*s'",
                       (int)(e - s), s);
    }
    if (in->tensor == NULL) {
        return cc_fail(CC_E_PARSE_CIRCUIT, "no tensor source for index tensor %s", prefix);
    }
    if (in->tensor(in->ctx, CC_PAYLOAD_TENSOR_INDEX, prefix, 1, &len, out) < 0) {
        return -1;
    }
    if (out->ndim != 1 || out->shape[0] != len) {
        cc_tensor_clear(out);
        return cc_fail(CC_E_PARSE_INVALID_INDEX, "index tensor %s is not 1-D of length %lld",
                       prefix, (long long)len);
    }
    return 0;
}

// One item of an Index: an int, a slice start:stop (bounds optional), or a tensor.
static int
index_item(const cc_payload_parse *in, const char *s, const char *e, cc_index_item *it,
           const char **at)
{
    memset(it, 0, sizeof *it);
    if (s == e) {
        *at = s;
        return cc_fail(CC_E_PARSE_INVALID_INDEX, "empty index item");
    }
    if (*s == 't' || *s == '[') {
        cc_tensor t;
        it->kind = CC_INDEX_TENSOR;
        if ((*s == 't' ? index_hashed(in, s, e, &t, at) : index_literal(s, e, &t, at)) < 0) {
            return -1;
        }
        return cc_index_item_set_tensor(it, &t);
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

// Items in brackets, separated by commas (a list literal's commas are inside its brackets).
static cc_node *
index_parse_payload(const cc_payload_parse *in, const char **at)
{
    if (cc_payload_expect(in, CC_KIND_INDEX, "its items such as [0,1:3,:]", at) < 0) {
        return NULL;
    }
    const char *s = in->extra_at, *e = s + strlen(in->extra);
    if (*s != '[' || e[-1] != ']') {
        *at = s;
        return cc_fail_null(CC_E_PARSE_INVALID_INDEX, "an Index's items are in brackets: [...]");
    }
    cc_index_item items[CC_MAX_NDIM];
    int n = 0;
    const char *c = cc_payload_skip_ws(s + 1, e - 1);
    while (c < e - 1) {
        const char *end = c;
        int depth = 0;
        while (end < e - 1 && (depth > 0 || *end != ',')) {
            depth += (*end == '[') - (*end == ']');
            end++;
        }
        const char *b = end;
        while (b > c && cc_payload_is_space(b[-1])) {
            b--;
        }
        if (n == CC_MAX_NDIM) {
            cc_index_items_clear(items, n);
            *at = c;
            return cc_fail_null(CC_E_PARSE_INVALID_INDEX, "more than %d index items", CC_MAX_NDIM);
        }
        if (index_item(in, c, b, &items[n], at) < 0) {
            cc_index_items_clear(items, n);
            return NULL;
        }
        n++;
        c = end < e - 1 ? cc_payload_skip_ws(end + 1, e - 1) : end;
        if (end < e - 1 && c == e - 1) {
            cc_index_items_clear(items, n);
            *at = c;
            return cc_fail_null(CC_E_PARSE_INVALID_INDEX, "empty index item");
        }
    }
    cc_node *out = cc_index_new(in->children[0], n, items, in->name);
    cc_index_items_clear(items, n);
    *at = in->extra_at;
    return out;
}

static cc_node *
index_expand(const cc_expand_call *e)
{
    const cc_node *c = e->c;
    const cc_node *old = c->children[0];
    cc_node *x = e->inputs[0];
    int nb = e->br[0];
    for (int i = 0; i < old->ndim; i++) {
        const cc_index_item *it = &c->u.index.items[i];
        int ident = it->kind == CC_INDEX_SLICE && !it->has_start && !it->has_stop;
        if (old->shape[i] != x->shape[i + nb] && !ident) {
            cc_str a, b;
            cc_str_init(&a);
            cc_str_init(&b);
            if (cc_shape_append(&a, old->ndim, old->shape) == 0 &&
                cc_shape_append(&b, x->ndim, x->shape) == 0) {
                cc_fail(CC_E_EXPAND_FIXED_INDEX,
                        "Trying to expand fixed index, index %s old shape %s new shape %s "
                        "(axis %d is indexed, so its size %lld can't change)",
                        e->what, a.data, b.data, i, (long long)old->shape[i]);
            }
            cc_str_clear(&a);
            cc_str_clear(&b);
            return NULL;
        }
    }
    int n_items = nb + c->u.index.n_items;
    if (n_items > CC_MAX_NDIM) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET, "%s: rank %d passes the maximum %d",
                            e->what, n_items, CC_MAX_NDIM);
    }
    cc_index_item items[CC_MAX_NDIM];
    memset(items, 0, sizeof(items));
    for (int i = 0; i < nb; i++) {
        items[i].kind = CC_INDEX_SLICE;
    }
    for (int i = 0; i < c->u.index.n_items; i++) {
        items[nb + i] = c->u.index.items[i];
    }
    return cc_index_new(x, n_items, items, c->name);
}

// A view of its child unless an item is a tensor (a gather makes a new tensor).
static int
index_eval_is_view(const cc_node *n)
{
    for (int i = 0; i < n->u.index.n_items; i++) {
        if (n->u.index.items[i].kind == CC_INDEX_TENSOR) {
            return 0;
        }
    }
    return 1;
}

// rc's child_axis_map: an axis indexed by a slice covering all of it is the output axis it
// becomes; other axes (integers, tensors, partial slices) become none.
static int
index_child_axis_map(const cc_node *n, int i, int *out)
{
    const cc_node *c = n->children[i];
    int cur = -1;
    for (int j = 0; j < c->ndim; j++) {
        const cc_index_item *it = &n->u.index.items[j];
        out[j] = -1;
        if (it->kind == CC_INDEX_INT) {
            continue;
        }
        cur++;
        if (it->kind != CC_INDEX_SLICE) {
            continue;
        }
        int64_t l = c->shape[j];
        int64_t start = !it->has_start ? 0 : it->start < 0 ? it->start + l : it->start;
        int64_t stop = !it->has_stop ? l : it->stop < 0 ? it->stop + l : it->stop;
        start = start < 0 ? 0 : start > l ? l : start;
        stop = stop < 0 ? 0 : stop > l ? l : stop;
        if (start == 0 && stop == l) {
            out[j] = cur;
        }
    }
    return 0;
}

CC_DEFINE_KIND_OPS(index, .free_payload = index_free_payload, .expand = index_expand,
                   .eval_is_view = index_eval_is_view, .child_axis_map = index_child_axis_map);

cc_node *
cc_index_new(cc_node *child, int n_items, const cc_index_item *items, const char *name)
{
    return index_build(child, n_items, items, name, 0);
}
