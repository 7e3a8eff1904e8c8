// Array: a leaf holding a tensor view (retained, treated as immutable), hashed through
// rc's tensor hash. Rejects sizes with a reserved symbolic-size factor, as rc does.
#include <string.h>

#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
#include "nodes/shape.h"
#include "tensor/tensor_hash.h"
#include "util/alloc.h"
#include "util/error.h"

static const uint8_t array_type_uuid[16] = {0xb2, 0xaa, 0xc9, 0xd5, 0x1b, 0xfa, 0x4c, 0x2a,
                                            0x96, 0x84, 0xe3, 0xf9, 0xec, 0xbc, 0x1b, 0x94};

static const cc_name_op array_name_op = {.cls = CC_NAME_NONE};

// Hex characters of the tensor hash on a bijective Array line.
#define ARRAY_HASH_HEX 24

static void
array_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_blake3_update(h, n->u.array.tensor_hash, 32);
}

static void
array_free_payload(cc_node *n)
{
    if (n->u.array.value != NULL) {
        cc_tensor_clear(n->u.array.value);
        cc_free(n->u.array.value);
    }
}

// Sets the payload of the Array n (fresh from cc_node_alloc) to a view of value. 0, or -1
// with CC_E_NO_MEMORY (n is then still the caller's to free).
static int
set_value(cc_node *n, const cc_tensor *value)
{
    n->u.array.value = cc_malloc(sizeof(cc_tensor));
    if (n->u.array.value == NULL) {
        return -1;
    }
    cc_tensor_init_view(n->u.array.value, value);
    return 0;
}

// The tensor is shared, not hashed again.
static cc_node *
array_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    (void)children;
    cc_node *m = cc_node_alloc(CC_KIND_ARRAY, 0, NULL, n->ndim, n->shape);
    if (m == NULL) {
        return NULL;
    }
    if (set_value(m, n->u.array.value) < 0) {
        cc_node_free_one(m);
        return NULL;
    }
    memcpy(m->u.array.tensor_hash, n->u.array.tensor_hash, 32);
    return cc_node_finish_leaf_copy(m, n, name);
}

// The hash prefix (bijection only; the tensor goes to the printer's caller).
static int
array_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    if (!o->bijection) {
        return 0;
    }
    if (cc_payload_put_hex(out, n->u.array.tensor_hash, ARRAY_HASH_HEX) < 0) {
        return -1;
    }
    return o->note_tensor(o->ctx, n->u.array.tensor_hash, n->u.array.value);
}

static int
shapes_equal(int na, const int64_t *a, int nb, const int64_t *b)
{
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof(int64_t)) == 0);
}

// A hash prefix or "rand": the tensor from the caller, of the line's shape if it gives one.
static cc_node *
array_parse_payload(const cc_payload_parse *in, const char **at)
{
    if (cc_payload_expect(in, CC_KIND_ARRAY, "a tensor hash prefix or 'rand'", at) < 0) {
        return NULL;
    }
    *at = in->extra_at;
    int is_rand = strcmp(in->extra, "rand") == 0;
    if (!is_rand && !cc_payload_is_hash_prefix(in->extra)) {
        return cc_fail_null(CC_E_PARSE_CIRCUIT,
                            "an Array's payload is a tensor hash prefix (lowercase hex) or 'rand', "
                            "got '%s'",
                            in->extra);
    }
    int random = is_rand || in->tensors_as_random;
    if (random && !is_rand && !in->allow_hash_with_random) {
        return cc_fail_null(CC_E_PARSE_CIRCUIT,
                            "Array has the tensor hash %s but tensors are random "
                            "(pass allow_hash_with_random=True to ignore hashes)",
                            in->extra);
    }
    if (random && cc_payload_expect_shape(in, CC_KIND_ARRAY, " to make random values", at) < 0) {
        return NULL;
    }
    if (in->tensor == NULL) {
        return cc_fail_null(CC_E_PARSE_CIRCUIT, "no tensor source for Array %s", in->extra);
    }
    cc_tensor value;
    cc_payload_tensor_kind kind = random ? CC_PAYLOAD_TENSOR_RANDOM : CC_PAYLOAD_TENSOR_ARRAY;
    if (in->tensor(in->ctx, kind, is_rand ? NULL : in->extra, in->has_shape ? in->ndim : -1,
                   in->shape, &value) < 0) {
        return NULL;
    }
    if (in->has_shape && !shapes_equal(in->ndim, in->shape, value.ndim, value.shape)) {
        cc_str want, got;
        cc_str_init(&want);
        cc_str_init(&got);
        int ok = cc_shape_append(&got, value.ndim, value.shape) == 0 &&
                 cc_shape_append(&want, in->ndim, in->shape) == 0;
        cc_fail(CC_E_PARSE_CIRCUIT_ARRAY_SHAPE_LOADED_FROM_HASH_DIFFERS_FROM_PROVIDED_SHAPE,
                "the tensor of hash %s has shape %s, the line says %s", in->extra,
                ok ? got.data : "?", ok ? want.data : "?");
        cc_str_clear(&want);
        cc_str_clear(&got);
        cc_tensor_clear(&value);
        *at = in->shape_at;
        return NULL;
    }
    cc_node *n = cc_array_new(&value, in->name);
    cc_tensor_clear(&value);
    return n;
}

static int
array_eval_is_view(const cc_node *n)
{
    (void)n;
    return 1;
}

CC_DEFINE_KIND_OPS(array, .free_payload = array_free_payload, .eval_is_view = array_eval_is_view);

static cc_node *
fail_symbolic(const cc_tensor *value, int axis, const char *name)
{
    char what[160];
    cc_str sym;
    cc_str_init(&sym);
    if (cc_size_append(&sym, value->shape[axis]) < 0) {
        return NULL;
    }
    cc_fail(CC_E_CONSTRUCT_ARRAY_HAS_RESERVED_SYMBOLIC_SHAPE,
            "%s: axis %d has length %lld, which has a prime factor above 10,000; those are "
            "reserved for symbolic shapes (symbolic meaning %s)",
            cc_node_describe(CC_KIND_ARRAY, name, what, sizeof(what)), axis,
            (long long)value->shape[axis], sym.data);
    cc_str_clear(&sym);
    return NULL;
}

cc_node *
cc_array_new(const cc_tensor *value, const char *name)
{
    for (int i = 0; i < value->ndim && i < CC_MAX_NDIM; i++) {
        if (cc_size_has_symbolic(value->shape[i])) {
            return fail_symbolic(value, i, name);
        }
    }
    cc_node *n = cc_node_alloc(CC_KIND_ARRAY, 0, NULL, value->ndim, value->shape);
    if (n == NULL) {
        return NULL;
    }
    if (set_value(n, value) < 0) {
        cc_node_free_one(n);
        return NULL;
    }
    cc_tensor_hash(value, n->u.array.tensor_hash);
    n->dtype = (int8_t)value->dtype;
    return cc_node_finish(n, name);
}
