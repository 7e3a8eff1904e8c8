// Conv: rc's channels-last N-d convolution (N <= 3). input (batch..., conv axes..., in
// channels), filter (out channels, kernel axes..., in channels) -> (batch..., out axes..., out
// channels), with a stride and a (before, after) zero padding per conv axis; the padded length
// less the kernel's reach must be a multiple of the stride. Hash: per axis the stride and both
// paddings as u64s, then the children. rc prints no payload for it and cannot parse it.
#include <string.h>

#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"

#define CONV_MAX_DIMS 3

static const uint8_t conv_type_uuid[16] = {0xa3, 0x29, 0x46, 0x5f, 0xa1, 0x8f, 0x43, 0x13,
                                           0xa2, 0xa6, 0x51, 0xd8, 0xeb, 0xad, 0x7d, 0xd6};

static const char *
conv_function_name(const cc_node *n)
{
    (void)n;
    return "Conv";
}

static const cc_name_op conv_name_op = {
    .cls = CC_NAME_FUNCTION, .function_name = conv_function_name, .full_arg_names = 1};

static void
conv_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    int d = n->u.conv.dims;
    const int64_t *p = n->u.conv.params;
    for (int i = 0; i < d; i++) {
        cc_blake3_update_u64_le(h, (uint64_t)p[i]);
        cc_blake3_update_u64_le(h, (uint64_t)p[d + 2 * i]);
        cc_blake3_update_u64_le(h, (uint64_t)p[d + 2 * i + 1]);
    }
    cc_node_hash_children(n, h);
}

static void
conv_free_payload(cc_node *n)
{
    cc_free(n->u.conv.params);
    n->u.conv.params = NULL;
}

static cc_node *
conv_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    int d = n->u.conv.dims;
    return cc_conv_new(children[0], children[1], d, n->u.conv.params, d, n->u.conv.params + d,
                       name);
}

// rc's repr_extra_info has no Conv arm: the line carries no payload.
static int
conv_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    (void)n;
    (void)o;
    (void)out;
    return 0;
}

// rc's parser has no Conv arm (its stride and padding are not in the text).
static cc_node *
conv_parse_payload(const cc_payload_parse *in, const char **at)
{
    *at = in->kind_at;
    return cc_fail_null(CC_E_PARSE_CIRCUIT,
                        "Conv can't be parsed: its stride and padding are not in the text "
                        "(rc's parser does not support Conv either)");
}

// rc's get_child_comments: "Input", "Filter".
static int
conv_child_comment(const cc_node *n, int i, cc_str *out)
{
    (void)n;
    return cc_str_append(out, i == 0 ? "Input" : "Filter");
}

CC_DEFINE_KIND_OPS(conv, .free_payload = conv_free_payload, .child_comment = conv_child_comment);

static cc_node *
fail_shape(cc_error_kind kind, const char *what, const char *msg, const cc_node *input,
           const cc_node *filter)
{
    cc_str a, b;
    cc_str_init(&a);
    cc_str_init(&b);
    if (cc_shape_append(&a, input->ndim, input->shape) == 0 &&
        cc_shape_append(&b, filter->ndim, filter->shape) == 0) {
        cc_fail(kind, "%s: %s (input shape %s, filter shape %s)", what, msg, a.data, b.data);
    }
    cc_str_clear(&a);
    cc_str_clear(&b);
    return NULL;
}

cc_node *
cc_conv_new(cc_node *input, cc_node *filter, int n_stride, const int64_t *stride, int n_padding,
            const int64_t *padding, const char *name)
{
    char what[160];
    cc_node_describe(CC_KIND_CONV, name, what, sizeof(what));
    if (n_stride != n_padding) {
        return cc_fail_null(CC_E_CONSTRUCT_CONV_STRIDE_PADDING_NOT_FULL,
                            "%s requires stride and padding to be full size, got stride len %d "
                            "padding len %d",
                            what, n_stride, n_padding);
    }
    int d = n_stride;
    if (d > CONV_MAX_DIMS) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                            "%s: Conv over more than 3 dims not supported (got %d)", what, d);
    }
    for (int i = 0; i < d; i++) {
        if (stride[i] <= 0 || padding[2 * i] < 0 || padding[2 * i + 1] < 0) {
            return cc_fail_null(CC_E_PY_VALUE,
                                "%s: conv axis %d has stride %lld and padding (%lld, %lld); "
                                "strides must be positive and paddings non-negative",
                                what, i, (long long)stride[i], (long long)padding[2 * i],
                                (long long)padding[2 * i + 1]);
        }
    }
    if (input->ndim < d + 1) {
        return fail_shape(CC_E_CONSTRUCT_CONV_INPUT_WRONG_SHAPE, what,
                          "Conv input wrong shape: it needs a rank of at least the number of "
                          "conv axes + 1 (channels last)",
                          input, filter);
    }
    if (filter->ndim < d + 2) {
        return fail_shape(CC_E_CONSTRUCT_CONV_FILTER_WRONG_SHAPE, what,
                          "Conv filter wrong shape: it needs a rank of the number of conv axes + 2 "
                          "(out channels, kernel axes, in channels)",
                          input, filter);
    }
    if (filter->ndim > d + 2) {
        return fail_shape(CC_E_CONSTRUCT_NOT_SUPPORTED_YET, what,
                          "Batch dims on filter aren't supported yet", input, filter);
    }
    int64_t in_channels = filter->shape[filter->ndim - 1];
    if (in_channels != input->shape[input->ndim - 1]) {
        return cc_fail_null(CC_E_CONSTRUCT_CONV_INPUT_FILTER_DIFFERENT_NUM_INPUT_CHANNELS,
                            "%s: Conv input and filter must have same number of input channels, "
                            "got %lld and %lld",
                            what, (long long)input->shape[input->ndim - 1], (long long)in_channels);
    }
    int nb = input->ndim - d - 1;
    int64_t shape[CC_MAX_NDIM];
    memcpy(shape, input->shape, (size_t)nb * sizeof(int64_t));
    for (int i = 0; i < d; i++) {
        int64_t reach =
            input->shape[nb + i] + padding[2 * i] + padding[2 * i + 1] - (filter->shape[1 + i] - 1);
        if (reach < 0) {
            return fail_shape(CC_E_CONSTRUCT_CONV_INPUT_WRONG_SHAPE, what,
                              "Conv input wrong shape: a kernel axis is longer than its padded "
                              "input axis",
                              input, filter);
        }
        if (reach % stride[i] != 0) {
            return cc_fail_null(CC_E_CONSTRUCT_CONV_STRIDE_MUST_DIVIDE,
                                "%s: Conv stride must evenly divide: on conv axis %d the padded "
                                "input less the kernel's reach is %lld, not a multiple of stride "
                                "%lld",
                                what, i, (long long)reach, (long long)stride[i]);
        }
        shape[nb + i] = reach / stride[i];
    }
    shape[nb + d] = filter->shape[0];
    cc_node *children[2] = {input, filter};
    cc_node *n = cc_node_alloc(CC_KIND_CONV, 2, children, nb + d + 1, shape);
    if (n == NULL) {
        return NULL;
    }
    n->u.conv.dims = d;
    n->u.conv.params = cc_malloc((size_t)(3 * d > 0 ? 3 * d : 1) * sizeof(int64_t));
    if (n->u.conv.params == NULL) {
        cc_node_free_one(n);
        return NULL;
    }
    memcpy(n->u.conv.params, stride, (size_t)d * sizeof(int64_t));
    memcpy(n->u.conv.params + d, padding, (size_t)(2 * d) * sizeof(int64_t));
    return cc_node_finish(n, name);
}
