// Scalar: a leaf standing for a constant tensor of a given shape filled with one value
// (float64 when evaluated). Hash: the value's f64 bits and the shape, as rc.
#include <stdlib.h>
#include <string.h>

#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
#include "util/alloc.h"
#include "util/error.h"

static const uint8_t scalar_type_uuid[16] = {0x78, 0xa7, 0x79, 0x05, 0x8b, 0x3f, 0x44, 0x71,
                                             0xbb, 0x77, 0x25, 0x56, 0x73, 0x94, 0x1f, 0xef};

static const cc_name_op scalar_name_op = {.cls = CC_NAME_NONE};

static void
scalar_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    uint64_t bits;
    memcpy(&bits, &n->u.scalar.value, sizeof(bits));
    cc_blake3_update_u64_le(h, bits);
    for (int i = 0; i < n->ndim; i++) {
        cc_blake3_update_u64_le(h, (uint64_t)n->shape[i]);
    }
}

static cc_node *
scalar_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    (void)children;
    cc_node *m = cc_node_alloc(CC_KIND_SCALAR, 0, NULL, n->ndim, n->shape);
    if (m == NULL) {
        return NULL;
    }
    m->u.scalar.value = n->u.scalar.value;
    return cc_node_finish_leaf_copy(m, n, name);
}

static int
scalar_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    (void)o;
    return cc_payload_put_double(out, n->u.scalar.value);
}

// A number as strtod reads it, '_' separators allowed; the line must give the shape.
static cc_node *
scalar_parse_payload(const cc_payload_parse *in, const char **at)
{
    if (cc_payload_expect_shape(in, CC_KIND_SCALAR, "", at) < 0 ||
        cc_payload_expect(in, CC_KIND_SCALAR, "a value", at) < 0) {
        return NULL;
    }
    size_t n = strlen(in->extra);
    char *digits = cc_malloc(n + 1);
    if (digits == NULL) {
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (in->extra[i] != '_') {
            digits[k++] = in->extra[i];
        }
    }
    digits[k] = '\0';
    char *end = NULL;
    double v = k > 0 && !cc_payload_is_space(digits[0]) ? strtod(digits, &end) : 0.0;
    int ok = end != NULL && *end == '\0';
    cc_free(digits);
    if (!ok) {
        *at = in->extra_at;
        return cc_fail_null(
            CC_E_PARSE_INVALID_NUMBER,
            "invalid Scalar value '%s' (expected a number such as 1, -0.5, inf or NaN)", in->extra);
    }
    *at = in->shape_at;
    return cc_scalar_new(v, in->ndim, in->shape, in->name);
}

static int
scalar_eval_is_view(const cc_node *n)
{
    (void)n;
    return 1;
}

CC_DEFINE_KIND_OPS(scalar, .eval_is_view = scalar_eval_is_view);

cc_node *
cc_scalar_new(double value, int ndim, const int64_t *shape, const char *name)
{
    for (int i = 0; i < ndim && i < CC_MAX_NDIM; i++) {
        if (shape[i] < 0) {
            char what[160];
            return cc_fail_null(CC_E_PY_VALUE, "%s: negative size %lld on axis %d",
                                cc_node_describe(CC_KIND_SCALAR, name, what, sizeof(what)),
                                (long long)shape[i], i);
        }
    }
    cc_node *n = cc_node_alloc(CC_KIND_SCALAR, 0, NULL, ndim, shape);
    if (n == NULL) {
        return NULL;
    }
    n->u.scalar.value = value;
    return cc_node_finish(n, name);
}
