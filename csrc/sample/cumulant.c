// The Cumulant and StoredCumulantVar kinds. A Cumulant is constant whatever its children (it
// is an expectation); its value is known only when they are all constant too (then 1, the
// child, or zeros), otherwise a sampler estimates it. A StoredCumulantVar is a random
// variable given by its cumulants: never constant, never explicitly computable.
#include "sample/cumulant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"

// --- Cumulant ----------------------------------------------------------------------------------

static const uint8_t cumulant_type_uuid[16] = {0x09, 0x54, 0xa2, 0xb9, 0xe1, 0x38, 0x48, 0x0d,
                                               0xb9, 0x67, 0x30, 0x5c, 0xfc, 0x6c, 0x5a, 0x2b};

static const char *
cumulant_function_name(const cc_node *n)
{
    return n->u.cumulant.function_name;
}

// "K<n>(a, b)", long child names shortened.
static const cc_name_op cumulant_name_op = {.cls = CC_NAME_FUNCTION,
                                            .function_name = cumulant_function_name};

static void
cumulant_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_node_hash_children(n, h);
}

static cc_node *
cumulant_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return cc_cumulant_new(n->n_children, children, name);
}

static int
cumulant_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    (void)n;
    (void)o;
    (void)out;
    return 0;
}

static cc_node *
cumulant_parse_payload(const cc_payload_parse *in, const char **at)
{
    if (cc_payload_expect_none(in, CC_KIND_CUMULANT, at) < 0) {
        return NULL;
    }
    *at = in->kind_at;
    return cc_cumulant_new(in->n_children, in->children, in->name);
}

// rc's rule: only the first child may gain batch axes (they lead the result's shape).
static cc_node *
cumulant_expand(const cc_expand_call *e)
{
    for (int i = 1; i < e->n; i++) {
        if (e->br[i] != 0) {
            return cc_fail_null(CC_E_EXPAND_CUMULANT_RANK_CHANGED,
                                "%s: child %d changed rank from %d to %d; only the first child of "
                                "a Cumulant may gain batch axes",
                                e->what, i, e->c->children[i]->ndim, e->inputs[i]->ndim);
        }
    }
    return cc_cumulant_new(e->n, e->inputs, e->c->name);
}

// rc's child_axis_map: the children's axes one after another.
static int
cumulant_child_axis_map(const cc_node *n, int i, int *out)
{
    int place = 0;
    for (int k = 0; k < i; k++) {
        place += n->children[k]->ndim;
    }
    for (int j = 0; j < n->children[i]->ndim; j++) {
        out[j] = place + j;
    }
    return 0;
}

CC_DEFINE_KIND_OPS(cumulant, .expand = cumulant_expand, .child_axis_map = cumulant_child_axis_map);

cc_node *
cc_cumulant_new(int n, cc_node *const *children, const char *name)
{
    int ndim = 0;
    int dtype = -1;
    for (int i = 0; i < n; i++) {
        ndim += children[i]->ndim;
        if (dtype < 0) {
            dtype = children[i]->dtype;
        }
    }
    char what[160];
    if (ndim > CC_MAX_NDIM) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                            "%s: the children's ranks add up to %d, past the maximum rank %d",
                            cc_node_describe(CC_KIND_CUMULANT, name, what, sizeof what), ndim,
                            CC_MAX_NDIM);
    }
    int64_t shape[CC_MAX_NDIM];
    int k = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < children[i]->ndim; j++) {
            shape[k++] = children[i]->shape[j];
        }
    }
    cc_node *c = cc_node_alloc_with_dtype(CC_KIND_CUMULANT, n, children, ndim, shape, dtype);
    if (c == NULL) {
        return NULL;
    }
    c->is_constant = 1;
    snprintf(c->u.cumulant.function_name, sizeof c->u.cumulant.function_name, "K%d", n);
    return cc_node_finish(c, name);
}

// --- StoredCumulantVar -------------------------------------------------------------------------

static const uint8_t stored_cumulant_var_type_uuid[16] = {
    0xf3, 0x6d, 0xa9, 0x59, 0xd1, 0x60, 0x48, 0x4d, 0xb6, 0xb8, 0x76, 0x85, 0xef, 0x75, 0x21, 0xc0};

static const char *
stored_cumulant_var_function_name(const cc_node *n)
{
    (void)n;
    return "StoredCumulantVar";
}

static int
stored_cumulant_var_arg_label(const cc_node *n, int i, cc_str *out)
{
    return cc_str_appendf(out, "%lld: ", (long long)n->u.stored_cumulant_var.numbers[i]);
}

// "StoredCumulantVar(1: mean, 2: var)".
static const cc_name_op stored_cumulant_var_name_op = {
    .cls = CC_NAME_FUNCTION,
    .function_name = stored_cumulant_var_function_name,
    .arg_label = stored_cumulant_var_arg_label,
};

static void
stored_cumulant_var_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    for (int i = 0; i < n->n_children; i++) {
        cc_blake3_update_u64_le(h, (uint64_t)n->u.stored_cumulant_var.numbers[i]);
    }
    cc_blake3_update(h, n->u.stored_cumulant_var.uuid, 16);
    cc_node_hash_children(n, h);
}

static cc_node *
stored_cumulant_var_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return cc_stored_cumulant_var_new(n->n_children, n->u.stored_cumulant_var.numbers, children,
                                      n->u.stored_cumulant_var.uuid, name);
}

// "1, 2|<uuid>".
static int
stored_cumulant_var_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    (void)o;
    for (int i = 0; i < n->n_children; i++) {
        if ((i > 0 && cc_str_append(out, ", ") < 0) ||
            cc_payload_put_i64(out, n->u.stored_cumulant_var.numbers[i]) < 0) {
            return -1;
        }
    }
    if (cc_str_append(out, "|") < 0) {
        return -1;
    }
    return cc_payload_put_uuid(out, n->u.stored_cumulant_var.uuid);
}

static cc_node *
stored_cumulant_var_parse_payload(const cc_payload_parse *in, const char **at)
{
    if (cc_payload_expect(in, CC_KIND_STORED_CUMULANT_VAR, "cumulant numbers '|' a uuid", at) < 0) {
        return NULL;
    }
    const char *bar = strchr(in->extra, '|');
    if (bar == NULL || strchr(bar + 1, '|') != NULL) {
        *at = in->extra_at;
        return cc_fail_null(CC_E_PARSE_CIRCUIT_STORED_CUMULANT_VAR_EXTRA_INVALID,
                            "StoredCumulantVar payload '%s' is not '<numbers>|<uuid>' (such as "
                            "'1, 2|<uuid>')",
                            in->extra);
    }
    int64_t numbers[CC_MAX_NDIM + 1];
    int count = 0;
    const char *s = in->extra;
    for (;;) {
        const char *comma = memchr(s, ',', (size_t)(bar - s));
        const char *end = comma != NULL ? comma : bar;
        const char *b = cc_payload_skip_ws(s, end);
        const char *e = end;
        while (e > b && cc_payload_is_space(e[-1])) {
            e--;
        }
        if (count == CC_MAX_NDIM + 1) {
            *at = in->extra_at + (b - in->extra);
            return cc_fail_null(CC_E_PARSE_CIRCUIT_STORED_CUMULANT_VAR_EXTRA_INVALID,
                                "StoredCumulantVar payload '%s' lists more than %d cumulants",
                                in->extra, CC_MAX_NDIM + 1);
        }
        const char *num_at = NULL;
        if (cc_payload_parse_int(b, e, &numbers[count], &num_at) < 0) {
            *at = in->extra_at + (num_at - in->extra);
            return NULL;
        }
        count++;
        if (comma == NULL) {
            break;
        }
        s = comma + 1;
    }
    cc_payload_parse uuid_part = *in;
    uuid_part.extra = bar + 1;
    uuid_part.extra_at = in->extra_at + (bar + 1 - in->extra);
    uint8_t uuid[16];
    if (cc_payload_parse_uuid(&uuid_part, uuid, at) < 0) {
        return NULL;
    }
    *at = in->kind_at;
    if (count != in->n_children) {
        return cc_fail_null(CC_E_PARSE_CIRCUIT_WRONG_NUMBER_CHILDREN,
                            "StoredCumulantVar lists %d cumulant numbers but has %d children",
                            count, in->n_children);
    }
    return cc_stored_cumulant_var_new(count, numbers, in->children, uuid, in->name);
}

static void
stored_cumulant_var_free_payload(cc_node *n)
{
    cc_free(n->u.stored_cumulant_var.numbers);
}

static int
stored_cumulant_var_child_comment(const cc_node *n, int i, cc_str *out)
{
    return cc_str_appendf(out, "K%lld", (long long)n->u.stored_cumulant_var.numbers[i]);
}

CC_DEFINE_KIND_OPS(stored_cumulant_var, .free_payload = stored_cumulant_var_free_payload,
                   .child_comment = stored_cumulant_var_child_comment);

// Child positions ordered by cumulant number (insertion sort: a handful of entries).
static void
order_by_number(int n, const int64_t *numbers, int *order)
{
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && numbers[order[j - 1]] > numbers[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
}

static int
fail_wrong_shape(const char *what, int64_t k, const cc_node *c, const cc_node *mean)
{
    cc_str a, b;
    cc_str_init(&a);
    cc_str_init(&b);
    if (cc_shape_append(&a, c->ndim, c->shape) == 0 &&
        cc_shape_append(&b, mean->ndim, mean->shape) == 0) {
        cc_fail(CC_E_CONSTRUCT_STORED_CUMULANT_VAR_CUMULANT_WRONG_SHAPE,
                "%s: cumulant %lld has shape %s, but it must be the mean's shape %s repeated "
                "%lld times",
                what, (long long)k, a.data, b.data, (long long)k);
    }
    cc_str_clear(&a);
    cc_str_clear(&b);
    return -1;
}

cc_node *
cc_stored_cumulant_var_new(int n, const int64_t *numbers, cc_node *const *children,
                           const uint8_t uuid[16], const char *name)
{
    char what[160];
    cc_node_describe(CC_KIND_STORED_CUMULANT_VAR, name, what, sizeof what);
    if (n > CC_MAX_NDIM + 1) {
        return cc_fail_null(CC_E_CONSTRUCT_STORED_CUMULANT_VAR_INVALID_CUMULANT_NUMBER,
                            "%s: %d cumulants given, at most %d are supported", what, n,
                            CC_MAX_NDIM + 1);
    }
    int order[CC_MAX_NDIM + 1];
    order_by_number(n, numbers, order);
    int mean = -1, variance = -1;
    for (int r = 0; r < n; r++) {
        int64_t k = numbers[order[r]];
        if (k <= 0) {
            return cc_fail_null(CC_E_CONSTRUCT_STORED_CUMULANT_VAR_INVALID_CUMULANT_NUMBER,
                                "%s: invalid cumulant number %lld (numbers start at 1)", what,
                                (long long)k);
        }
        if (r > 0 && numbers[order[r - 1]] == k) {
            return cc_fail_null(CC_E_CONSTRUCT_STORED_CUMULANT_VAR_INVALID_CUMULANT_NUMBER,
                                "%s: cumulant %lld given twice", what, (long long)k);
        }
        mean = k == 1 ? order[r] : mean;
        variance = k == 2 ? order[r] : variance;
    }
    if (mean < 0 || variance < 0) {
        return cc_fail_null(CC_E_CONSTRUCT_STORED_CUMULANT_VAR_NEEDS_MEAN_VARIANCE,
                            "%s: needs cumulants 1 (mean) and 2 (variance)", what);
    }
    const cc_node *m = children[mean];
    cc_node *sorted[CC_MAX_NDIM + 1];
    for (int r = 0; r < n; r++) {
        const cc_node *c = children[order[r]];
        int64_t k = numbers[order[r]];
        int ok = (int64_t)c->ndim == k * m->ndim;
        for (int j = 0; ok && j < c->ndim; j++) {
            ok = c->shape[j] == m->shape[j % m->ndim];
        }
        if (!ok) {
            fail_wrong_shape(what, k, c, m);
            return NULL;
        }
        sorted[r] = children[order[r]];
    }
    int64_t *own = cc_malloc((size_t)n * sizeof(int64_t));
    if (own == NULL) {
        return NULL;
    }
    for (int r = 0; r < n; r++) {
        own[r] = numbers[order[r]];
    }
    cc_node *v = cc_node_alloc_with_dtype(CC_KIND_STORED_CUMULANT_VAR, n, sorted, m->ndim, m->shape,
                                          m->dtype);
    if (v == NULL) {
        cc_free(own);
        return NULL;
    }
    v->u.stored_cumulant_var.numbers = own;
    if (uuid != NULL) {
        memcpy(v->u.stored_cumulant_var.uuid, uuid, 16);
    }
    v->is_constant = 0;
    v->is_explicitly_computable = 0;
    v->can_be_sampled = own[n - 1] <= 2; // a sampler draws from a mean and variance only
    return cc_node_finish(v, name);
}
