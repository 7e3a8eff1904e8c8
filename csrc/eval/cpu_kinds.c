// The CPU backend: one eval_<kind> per node kind, its table generated from nodes/kinds.def
// (a kind without its eval_<kind> fails the build), the named GeneralFunctions of gf.def, and
// host memory for storage. A node's inputs are first cast as rc casts them (to the first
// dtype among them that is not float64, so float32 arrays win over float64 Scalars); the op
// then gives what the torch op rc calls gives for that dtype. The float kernels run float32
// and float64 and the integer ones int64: half types are computed in float32 and narrower
// integers (and bool, where torch adds or multiplies them) in int64, then cast back.
#include <math.h>
#include <string.h>

#include "eval/eval_impl.h"
#include "nodes/gf.h"
#include "nodes/rearrange.h"
#include "tensor/conv.h"
#include "tensor/einsum.h"
#include "tensor/int_ops.h"
#include "tensor/kernels.h"
#include "tensor/random.h"
#include "util/alloc.h"
#include "util/error.h"

// v becomes a view of x with every broadcast (stride-0) axis shrunk to size 1, so that a
// conversion touches each distinct element once. Returns whether any axis shrank.
static int
compact_view(cc_tensor *v, const cc_tensor *x)
{
    int shrunk = 0;
    cc_tensor_init_view(v, x);
    for (int i = 0; i < v->ndim; i++) {
        if (v->strides[i] == 0 && v->shape[i] > 1) {
            v->shape[i] = 1;
            shrunk = 1;
        }
    }
    return shrunk;
}

// out = x as dtype d: a view when x already has it; broadcast axes stay broadcast.
static int
cast_to(cc_tensor *out, const cc_tensor *x, cc_dtype d)
{
    if (x->dtype == d) {
        cc_tensor_init_view(out, x);
        return 0;
    }
    cc_tensor compact;
    int shrunk = compact_view(&compact, x);
    int rc = cc_tensor_cast(out, &compact, d);
    cc_tensor_clear(&compact);
    if (rc < 0) {
        return -1;
    }
    if (shrunk && cc_tensor_broadcast_to(out, x->ndim, x->shape) < 0) {
        cc_tensor_clear(out);
        return -1;
    }
    return 0;
}

// out = x cast as rc casts a node's inputs (to d), then to c, the dtype a kernel computes d in
// (going through d keeps its rounding: a float64 0.1 becomes float16 before float32).
static int
cast_for_kernel(cc_tensor *out, const cc_tensor *x, cc_dtype d, cc_dtype c)
{
    if (x->dtype == d || d == c) {
        return cast_to(out, x, c);
    }
    cc_tensor mid;
    if (cast_to(&mid, x, d) < 0) {
        return -1;
    }
    int rc = cast_to(out, &mid, c);
    cc_tensor_clear(&mid);
    return rc;
}

// All n inputs cast to d and then to c (cast_for_kernel), with a pointer array over them for
// the kernels.
typedef struct {
    int n;
    cc_tensor *vals;
    const cc_tensor **ptrs;
} cast_set;

static void
cast_set_clear(cast_set *c)
{
    for (int i = 0; i < c->n; i++) {
        cc_tensor_clear(&c->vals[i]);
    }
    cc_free(c->vals);
    cc_free(c->ptrs);
}

static int
cast_set_init(cast_set *c, int n, const cc_tensor *const *in, cc_dtype d, cc_dtype compute)
{
    size_t count = (size_t)(n > 0 ? n : 1);
    c->n = 0;
    c->vals = cc_calloc(count, sizeof(cc_tensor));
    c->ptrs = cc_malloc(count * sizeof(cc_tensor *));
    if (c->vals == NULL || c->ptrs == NULL) {
        cast_set_clear(c);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (cast_for_kernel(&c->vals[i], in[i], d, compute) < 0) {
            cast_set_clear(c);
            return -1;
        }
        c->ptrs[i] = &c->vals[i];
        c->n = i + 1;
    }
    return 0;
}

// rc's cast rule for a node's inputs: the first dtype among them that is not float64
// (float64 when all are, or when there are none).
static cc_dtype
upcast_dtype(int n, const cc_tensor *const *in)
{
    for (int i = 0; i < n; i++) {
        if (in[i]->dtype != CC_DTYPE_F64) {
            return in[i]->dtype;
        }
    }
    return CC_DTYPE_F64;
}

// The dtype the kernels do arithmetic on d in: float32 for the half types, int64 for every
// integer type and bool (whose sums and products torch keeps in bool: cast back with != 0).
static cc_dtype
arith_dtype(cc_dtype d)
{
    return d == CC_DTYPE_BOOL ? CC_DTYPE_I64 : cc_dtype_compute(d);
}

// *t becomes its cast to d (unchanged when it has d already); cleared on failure.
static int
recast(cc_tensor *t, cc_dtype d)
{
    if (t->dtype == d) {
        return 0;
    }
    cc_tensor c;
    int rc = cast_to(&c, t, d);
    cc_tensor_clear(t);
    if (rc < 0) {
        return -1;
    }
    *t = c;
    return 0;
}

// The name torch gives d in its "not implemented for '...'" errors.
static const char *
torch_type_name(cc_dtype d)
{
    switch (d) {
    case CC_DTYPE_F16:
        return "Half";
    case CC_DTYPE_BF16:
        return "BFloat16";
    case CC_DTYPE_F32:
        return "Float";
    case CC_DTYPE_F64:
        return "Double";
    case CC_DTYPE_I8:
        return "Char";
    case CC_DTYPE_I16:
        return "Short";
    case CC_DTYPE_I32:
        return "Int";
    case CC_DTYPE_I64:
        return "Long";
    case CC_DTYPE_U8:
        return "Byte";
    case CC_DTYPE_BOOL:
        return "Bool";
    default:
        return cc_dtype_name(d);
    }
}

// torch's error for a kernel it has no version of for d.
static int
not_implemented(const char *kernel, cc_dtype d)
{
    return cc_fail(CC_E_PY_NOT_IMPLEMENTED, "\"%s\" not implemented for '%s'", kernel,
                   torch_type_name(d));
}

static int
has_node_shape(const cc_tensor *t, const cc_node *n)
{
    if (t->ndim != n->ndim) {
        return 0;
    }
    for (int i = 0; i < n->ndim; i++) {
        if (t->shape[i] != n->shape[i]) {
            return 0;
        }
    }
    return 1;
}

static int
canon_axis(int64_t axis, int64_t count, const char *what, int64_t *out)
{
    if (axis < -count || axis >= count) {
        return cc_fail(CC_E_MISC_INPUT_ITEM_OUT_OF_BOUNDS, "%s %lld is out of bounds for %lld axes",
                       what, (long long)axis, (long long)count);
    }
    *out = axis < 0 ? axis + count : axis;
    return 0;
}

static int
eval_array(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    (void)in;
    const cc_tensor *v = n->u.array.value;
    if (v->buf != NULL && v->buf->device != CC_DEVICE_CPU) {
        return cc_fail(CC_E_TENSOR_EVAL_DEVICE_DTYPE_ERROR,
                       "the Array's tensor is on a CUDA device; the CPU evaluator needs cpu "
                       "tensors");
    }
    cc_tensor_init_view(out, v);
    return 0;
}

static int
eval_scalar(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    (void)in;
    if (cc_tensor_init_scalar(out, cc_eval_node_dtype(n), n->u.scalar.value) < 0) {
        return -1;
    }
    if (cc_tensor_broadcast_to(out, n->ndim, n->shape) < 0) {
        cc_tensor_clear(out);
        return -1;
    }
    return 0;
}

static int
eval_symbol(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    (void)in;
    (void)out;
    char desc[512];
    cc_eval_describe_node(n, desc, sizeof desc);
    return cc_fail(CC_E_TENSOR_EVAL_NOT_EXPLICITLY_COMPUTABLE,
                   "%s has no value: bind it with a Module first", desc);
}

// The sum of two or more inputs cast to d, computed in c: starts from one full-shape operand
// plus another in a single pass (cc_binary), then accumulates the rest in place; without a
// full-shape operand the first is broadcast.
static int
add_in(const cc_node *n, const cc_tensor *const *in, cc_dtype d, cc_dtype c, cc_tensor *out)
{
    int first = -1;
    for (int i = 0; i < n->n_children && first < 0; i++) {
        if (has_node_shape(in[i], n)) {
            first = i;
        }
    }
    int second = -1;
    cc_tensor a, b;
    if (first >= 0) {
        second = first == 0 ? 1 : 0;
        if (cast_for_kernel(&a, in[first], d, c) < 0) {
            return -1;
        }
        if (cast_for_kernel(&b, in[second], d, c) < 0) {
            cc_tensor_clear(&a);
            return -1;
        }
        int rc = cc_binary(out, CC_BINARY_ADD, &a, &b);
        cc_tensor_clear(&a);
        cc_tensor_clear(&b);
        if (rc < 0) {
            return -1;
        }
    } else {
        first = 0;
        if (cast_for_kernel(&a, in[0], d, c) < 0) {
            return -1;
        }
        int rc = cc_tensor_init_empty(out, c, n->ndim, n->shape);
        if (rc == 0 && cc_tensor_copy_into(out, &a) < 0) {
            cc_tensor_clear(out);
            rc = -1;
        }
        cc_tensor_clear(&a);
        if (rc < 0) {
            return -1;
        }
    }
    for (int i = 0; i < n->n_children; i++) {
        if (i == first || i == second) {
            continue;
        }
        if (cast_for_kernel(&a, in[i], d, c) < 0) {
            cc_tensor_clear(out);
            return -1;
        }
        int rc = cc_add_into(out, &a);
        cc_tensor_clear(&a);
        if (rc < 0) {
            cc_tensor_clear(out);
            return -1;
        }
    }
    return 0;
}

// *t becomes a op b (either may be t itself); cleared on failure.
static int
replace_binary(cc_tensor *t, cc_binary_op op, const cc_tensor *a, const cc_tensor *b)
{
    cc_tensor r;
    int rc = cc_binary(&r, op, a, b);
    cc_tensor_clear(t);
    if (rc < 0) {
        return -1;
    }
    *t = r;
    return 0;
}

// *t becomes t op k (k_first: k op t) for the scalar k = v of dtype d; cleared on failure.
static int
replace_with_scalar(cc_tensor *t, cc_binary_op op, cc_dtype d, double v, int k_first)
{
    cc_tensor k;
    if (cc_tensor_init_scalar(&k, d, v) < 0) {
        cc_tensor_clear(t);
        return -1;
    }
    int rc = k_first ? replace_binary(t, op, &k, t) : replace_binary(t, op, t, &k);
    cc_tensor_clear(&k);
    return rc;
}

// The sum of inputs in a half type d as rc's Add forms it, one input at a time in order, each
// partial sum rounded to d (torch adds two half values in float32 and rounds the result).
static int
add_half(int n, const cc_tensor *const *in, cc_dtype d, cc_tensor *out)
{
    if (cast_for_kernel(out, in[0], d, CC_DTYPE_F32) < 0) {
        return -1;
    }
    for (int i = 1; i < n; i++) {
        cc_tensor x;
        if (cast_for_kernel(&x, in[i], d, CC_DTYPE_F32) < 0) {
            cc_tensor_clear(out);
            return -1;
        }
        int rc = replace_binary(out, CC_BINARY_ADD, &x, out);
        cc_tensor_clear(&x);
        if (rc < 0 || recast(out, d) < 0 || (i + 1 < n && recast(out, CC_DTYPE_F32) < 0)) {
            return -1;
        }
    }
    return 0;
}

// Empty: the float64 scalar 0. One input: it, as rc adds nothing to it. Half types: summed in
// order with rounding at each step (add_half). Otherwise the sum in the arithmetic dtype,
// cast to the inputs' dtype (integers wrap; bool: any true).
static int
eval_add(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    if (n->n_children == 0) {
        return cc_tensor_init_scalar(out, CC_DTYPE_F64, 0.0);
    }
    cc_dtype d = upcast_dtype(n->n_children, in);
    if (n->n_children == 1) {
        return cast_to(out, in[0], d);
    }
    if (d == CC_DTYPE_F16 || d == CC_DTYPE_BF16) {
        return add_half(n->n_children, in, d, out);
    }
    if (add_in(n, in, d, arith_dtype(d), out) < 0) {
        return -1;
    }
    return recast(out, d);
}

// Label facts for int_einsum: where each label occurs and its size.
typedef struct {
    int in_out[256];
    int first_op[256]; // -1 when on no operand
    int last_op[256];
    int64_t size[256];
} einsum_labels;

// A label summed on operand i alone (torch.sum: int64), unless torch squeezes it instead
// (size 1 with other operands around).
static int
sums_own_label(const einsum_labels *L, int n_ops, const cc_tensor *x, const uint8_t *lab, int i)
{
    for (int j = 0; j < x->ndim; j++) {
        uint8_t l = lab[j];
        if (!L->in_out[l] && L->first_op[l] == i && L->last_op[l] == i &&
            (n_ops == 1 || L->size[l] != 1)) {
            return 1;
        }
    }
    return 0;
}

// The labels of cur and x (deduplicated) still needed after operand i: on the output or on
// a later operand.
static int
needed_labels(const einsum_labels *L, int i, int n_cur, const uint8_t *cur, const cc_tensor *x,
              const uint8_t *lab, uint8_t *keep)
{
    int seen[256] = {0};
    int n = 0;
    for (int k = 0; k < n_cur + x->ndim; k++) {
        uint8_t l = k < n_cur ? cur[k] : lab[k - n_cur];
        if (!seen[l] && (L->in_out[l] || L->last_op[l] > i)) {
            seen[l] = 1;
            keep[n++] = l;
        }
    }
    return n;
}

// torch.einsum on integer or bool operands of dtype d, walked as torch walks them, left to
// right: labels only on the first operand are summed first (torch.sum: int64); then each
// operand in turn has its own labels summed (int64 again) and is multiplied into the result,
// through bmm when a label of size above 1 is summed across the two. bmm wants one dtype and
// has no bool version; a product promotes to int64 if either side is. Each step is computed
// in int64 and wrapped to the step's dtype, so values wrap where torch's do.
static int
int_einsum(const cc_node *n, const cc_tensor *const *in, const uint8_t **labels, cc_dtype d,
           cc_tensor *out)
{
    int n_ops = n->n_children;
    einsum_labels L;
    memset(&L, 0, sizeof L);
    for (int l = 0; l < 256; l++) {
        L.first_op[l] = -1;
    }
    for (int j = 0; j < n->ndim; j++) {
        L.in_out[n->u.einsum.out_axes[j]] = 1;
    }
    for (int i = 0; i < n_ops; i++) {
        for (int j = 0; j < in[i]->ndim; j++) {
            uint8_t l = labels[i][j];
            if (L.first_op[l] < 0) {
                L.first_op[l] = i;
            }
            L.last_op[l] = i;
            L.size[l] = in[i]->shape[j];
        }
    }
    cast_set ops;
    if (cast_set_init(&ops, n_ops, in, d, CC_DTYPE_I64) < 0) {
        return -1;
    }
    cc_dtype r = sums_own_label(&L, n_ops, in[0], labels[0], 0) ? CC_DTYPE_I64 : d;
    uint8_t cur_lab[CC_MAX_NDIM], keep[2 * CC_MAX_NDIM];
    int n_cur = 0;
    int rc = 0;
    if (n_ops == 1) {
        rc = cc_int_einsum(out, 1, ops.ptrs, labels, n->ndim, n->u.einsum.out_axes);
    } else {
        n_cur = needed_labels(&L, 0, 0, NULL, in[0], labels[0], cur_lab);
        rc = cc_int_einsum(out, 1, ops.ptrs, labels, n_cur, cur_lab);
    }
    for (int i = 1; i < n_ops && rc == 0; i++) {
        cc_dtype o = sums_own_label(&L, n_ops, in[i], labels[i], i) ? CC_DTYPE_I64 : d;
        int bmm = 0;
        for (int j = 0; j < in[i]->ndim; j++) {
            uint8_t l = labels[i][j];
            bmm |= !L.in_out[l] && L.first_op[l] < i && L.last_op[l] == i && L.size[l] != 1;
        }
        if (bmm && r == CC_DTYPE_BOOL) {
            rc = not_implemented("bmm", r);
            break;
        }
        if (bmm && r != o) {
            rc = cc_fail(CC_E_PY_RUNTIME, "expected scalar type %s but found %s",
                         torch_type_name(r), torch_type_name(o));
            break;
        }
        if (!bmm && o == CC_DTYPE_I64) {
            r = CC_DTYPE_I64;
        }
        const cc_tensor *pair[2] = {out, ops.ptrs[i]};
        const uint8_t *pair_lab[2] = {cur_lab, labels[i]};
        int last = i == n_ops - 1;
        int n_keep = last ? n->ndim : needed_labels(&L, i, n_cur, cur_lab, in[i], labels[i], keep);
        cc_tensor next;
        rc = cc_int_einsum(&next, 2, pair, pair_lab, n_keep, last ? n->u.einsum.out_axes : keep);
        cc_tensor_clear(out);
        if (rc < 0) {
            break;
        }
        *out = next;
        if (!last) {
            memcpy(cur_lab, keep, (size_t)n_keep);
            n_cur = n_keep;
            // the step's result in its dtype r: wrapped (or 0/1 for bool) as torch's is
            if (r != CC_DTYPE_I64 && (recast(out, r) < 0 || recast(out, CC_DTYPE_I64) < 0)) {
                rc = -1;
            }
        }
    }
    cast_set_clear(&ops);
    if (rc < 0) {
        cc_tensor_clear(out);
        return -1;
    }
    return recast(out, r);
}

static int
eval_einsum(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    cc_dtype d = upcast_dtype(n->n_children, in);
    cc_dtype c = arith_dtype(d);
    const uint8_t **labels =
        cc_malloc((size_t)(n->n_children > 0 ? n->n_children : 1) * sizeof(uint8_t *));
    if (labels == NULL) {
        return -1;
    }
    for (int i = 0; i < n->n_children; i++) {
        labels[i] = cc_einsum_child_axes(n, i);
    }
    if (n->n_children > 0 && !cc_dtype_is_floating_point(d)) {
        int rc = int_einsum(n, in, labels, d, out);
        cc_free(labels);
        return rc;
    }
    cast_set ops;
    if (cast_set_init(&ops, n->n_children, in, d, c) < 0) {
        cc_free(labels);
        return -1;
    }
    int rc = cc_einsum(out, n->n_children, ops.ptrs, labels, n->ndim, n->u.einsum.out_axes, c);
    cc_free(labels);
    cast_set_clear(&ops);
    if (rc < 0) {
        return -1;
    }
    return recast(out, d);
}

static int
index_bounds_error(int axis, int64_t len, const char *what, int64_t value)
{
    return cc_fail(CC_E_INDEX_INDEX_OUT_OF_BOUNDS,
                   "%s %lld is out of bounds for axis %d of size %lld", what, (long long)value,
                   axis, (long long)len);
}

// Dimwise: ints and slices are views, taken from the last axis down so that earlier axis
// positions stay valid; each tensor entry then gathers along its own axis (outer product).
static int
eval_index(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    const cc_index_item *items = n->u.index.items;
    int m = n->u.index.n_items;
    cc_tensor cur;
    if (cast_to(&cur, in[0], upcast_dtype(1, in)) < 0) {
        return -1;
    }
    if (m > cur.ndim) {
        cc_tensor_clear(&cur);
        return cc_fail(CC_E_INDEX_INDEX_RANK_TOO_HIGH, "%d index entries for a child of rank %d", m,
                       cur.ndim);
    }
    for (int a = m - 1; a >= 0; a--) {
        const cc_index_item *it = &items[a];
        int64_t len = cur.shape[a];
        int rc = 0;
        if (it->kind == CC_INDEX_INT) {
            int64_t i = it->i < 0 ? it->i + len : it->i;
            if (i < 0 || i >= len) {
                rc = index_bounds_error(a, len, "index", it->i);
            } else {
                rc = cc_tensor_select(&cur, a, i);
            }
        } else if (it->kind == CC_INDEX_SLICE) {
            int64_t start = it->has_start ? it->start : 0;
            int64_t stop = it->has_stop ? it->stop : len;
            start = start < 0 ? start + len : start;
            stop = stop < 0 ? stop + len : stop;
            if (start < 0 || start > len) {
                rc = index_bounds_error(a, len, "slice start", it->start);
            } else if (stop < start || stop > len) {
                rc = index_bounds_error(a, len, "slice stop", it->stop);
            } else {
                rc = cc_tensor_slice(&cur, a, start, stop);
            }
        }
        if (rc < 0) {
            cc_tensor_clear(&cur);
            return -1;
        }
    }
    int removed = 0;
    for (int a = 0; a < m; a++) {
        if (items[a].kind == CC_INDEX_INT) {
            removed++;
        } else if (items[a].kind == CC_INDEX_TENSOR) {
            cc_tensor sel;
            int rc = cc_index_select(&sel, &cur, a - removed, &items[a].tensor->value);
            cc_tensor_clear(&cur);
            if (rc < 0) {
                // An index value out of range is the Index family's error, as for ints.
                if (cc_error_kind_get() == CC_E_MISC_INPUT_ITEM_OUT_OF_BOUNDS) {
                    cc_error_recast(CC_E_INDEX_INDEX_OUT_OF_BOUNDS);
                }
                return -1;
            }
            cur = sel;
        }
    }
    *out = cur;
    return 0;
}

static int
eval_concat(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    cast_set xs;
    cc_dtype d = upcast_dtype(n->n_children, in);
    if (cast_set_init(&xs, n->n_children, in, d, d) < 0) {
        return -1;
    }
    int rc = cc_concat(out, xs.ptrs, n->n_children, n->u.concat.axis);
    cast_set_clear(&xs);
    return rc;
}

static int
eval_rearrange(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    cc_tensor x;
    if (cast_to(&x, in[0], upcast_dtype(1, in)) < 0) {
        return -1;
    }
    cc_rearrange_spec *conformed = cc_rearrange_spec_conform(n->u.rearrange.spec, x.ndim, x.shape);
    if (conformed == NULL) {
        cc_tensor_clear(&x);
        return -1;
    }
    int rc = cc_rearrange_apply(out, conformed, &x);
    cc_rearrange_spec_free(conformed);
    cc_tensor_clear(&x);
    return rc;
}

// The implementations gf.def names besides the unary ops, numbered after them so that
// CC_<implementation> is one value space for the table below.
enum {
    CC_SOFTMAX = CC_UNARY_COUNT,
    CC_LOG_SOFTMAX,
    CC_MIN,
    CC_MAX,
    CC_LAST_DIM_SIZE,
};

static const int gf_simple_impl[CC_GF_ID_COUNT] = {
#define CC_GF(name, impl, nb, rm, promote) [CC_GF_ID_##name] = CC_##impl,
#include "nodes/gf.def"
#undef CC_GF
};

// rc's gaussian_pdf, exp(-(x ** 2) / 2) / sqrt(2 pi), on an integer or bool x: torch squares
// and negates in x's integer dtype w (wrapping; int64 for bool), then divides in float32.
static int
int_gaussian_pdf(const cc_tensor *x, cc_dtype w, cc_tensor *out)
{
    cc_tensor t;
    memset(out, 0, sizeof *out);
    if (cast_to(&t, x, CC_DTYPE_I64) < 0) {
        return -1;
    }
    if (replace_binary(&t, CC_BINARY_MUL, &t, &t) < 0 || recast(&t, w) < 0 ||
        recast(&t, CC_DTYPE_I64) < 0 ||
        replace_with_scalar(&t, CC_BINARY_SUB, CC_DTYPE_I64, 0.0, 1) < 0 || recast(&t, w) < 0 ||
        recast(&t, CC_DTYPE_F32) < 0) {
        return -1;
    }
    // Halving is exact in float32; sqrt(2 pi) is rounded to float32, as torch rounds a Python
    // float used with a float32 tensor.
    if (replace_with_scalar(&t, CC_BINARY_DIV, CC_DTYPE_F32, 2.0, 0) < 0) {
        return -1;
    }
    int rc = cc_unary(out, CC_UNARY_EXP, &t);
    cc_tensor_clear(&t);
    if (rc < 0) {
        return -1;
    }
    return replace_with_scalar(out, CC_BINARY_DIV, CC_DTYPE_F32, 2.5066282746310002, 0);
}

// rc's log_exp_p_1 on uint8: torch picks log(1 + exp(-x)) + x (x < 0 never holds), with -x
// wrapping in uint8 (so exp overflows to infinity for most x > 0).
static int
u8_log_exp_p_1(const cc_tensor *x, cc_tensor *out)
{
    cc_tensor t, fx;
    memset(out, 0, sizeof *out);
    if (cast_to(&t, x, CC_DTYPE_I64) < 0) {
        return -1;
    }
    if (replace_with_scalar(&t, CC_BINARY_SUB, CC_DTYPE_I64, 0.0, 1) < 0 ||
        recast(&t, CC_DTYPE_U8) < 0 || recast(&t, CC_DTYPE_F32) < 0) {
        return -1;
    }
    int rc = cc_unary(out, CC_UNARY_EXP, &t);
    cc_tensor_clear(&t);
    if (rc < 0) {
        cc_tensor_clear(out);
        return -1;
    }
    if (replace_with_scalar(out, CC_BINARY_ADD, CC_DTYPE_F32, 1.0, 1) < 0) {
        return -1;
    }
    rc = cc_unary(&t, CC_UNARY_LOG, out);
    cc_tensor_clear(out);
    if (rc < 0) {
        return -1;
    }
    if (cast_to(&fx, x, CC_DTYPE_F32) < 0) {
        cc_tensor_clear(&t);
        return -1;
    }
    rc = cc_binary(out, CC_BINARY_ADD, &t, &fx);
    cc_tensor_clear(&t);
    cc_tensor_clear(&fx);
    return rc;
}

// A named elementwise function (a cc_unary_op) on x of dtype d, as torch computes it: float
// dtypes keep their dtype; relu, abs and step keep integer dtypes; gelu has no integer
// version; the rest compute integers and bool in float32 (rc's promote_int_to_f32).
static int
gf_unary(cc_unary_op op, const cc_tensor *x, cc_tensor *out)
{
    cc_dtype d = x->dtype;
    memset(out, 0, sizeof *out);
    cc_tensor a;
    if (cc_dtype_is_floating_point(d)) {
        if (cast_to(&a, x, arith_dtype(d)) < 0) {
            return -1;
        }
        int rc = cc_unary(out, op, &a);
        cc_tensor_clear(&a);
        return rc < 0 ? -1 : recast(out, d);
    }
    if (op == CC_UNARY_RELU || op == CC_UNARY_ABS || op == CC_UNARY_STEP) {
        if (d == CC_DTYPE_BOOL && op == CC_UNARY_RELU) {
            return cc_fail(CC_E_PY_RUNTIME, "Boolean inputs not supported for relu");
        }
        if (d == CC_DTYPE_BOOL && op == CC_UNARY_ABS) {
            return not_implemented("abs_cpu", d);
        }
        if (cast_to(&a, x, CC_DTYPE_I64) < 0) {
            return -1;
        }
        int rc = cc_int_unary(out, op, &a);
        cc_tensor_clear(&a);
        return rc < 0 ? -1 : recast(out, d);
    }
    if (op == CC_UNARY_GELU) {
        return not_implemented("GeluKernelImpl", d);
    }
    if (d == CC_DTYPE_BOOL && op == CC_UNARY_LOG_EXP_P_1) {
        return cc_fail(CC_E_PY_RUNTIME,
                       "Negation, the `-` operator, on a bool tensor is not supported. If you are "
                       "trying to invert a mask, use the `~` or `logical_not()` operator instead.");
    }
    if (d == CC_DTYPE_BOOL && op == CC_UNARY_GAUSSIAN_CDF) {
        return cc_fail(CC_E_PY_RUNTIME,
                       "Subtraction, the `-` operator, with a bool tensor is not supported. If "
                       "you are trying to invert a mask, use the `~` or `logical_not()` operator "
                       "instead.");
    }
    if (op == CC_UNARY_GAUSSIAN_PDF) {
        return int_gaussian_pdf(x, d == CC_DTYPE_BOOL ? CC_DTYPE_I64 : d, out);
    }
    if (op == CC_UNARY_LOG_EXP_P_1 && d == CC_DTYPE_U8) {
        return u8_log_exp_p_1(x, out);
    }
    if (cast_to(&a, x, CC_DTYPE_F32) < 0) {
        return -1;
    }
    int rc = cc_unary(out, op, &a);
    cc_tensor_clear(&a);
    return rc;
}

// torch.full refuses a size its integer dtype d cannot hold (floats round, bool is true).
static int
last_dim_fits(cc_dtype d, int64_t size)
{
    static const struct {
        cc_dtype d;
        int64_t max;
        const char *c_name;
    } limits[] = {{CC_DTYPE_I8, INT8_MAX, "int8_t"},
                  {CC_DTYPE_U8, UINT8_MAX, "uint8_t"},
                  {CC_DTYPE_I16, INT16_MAX, "int16_t"},
                  {CC_DTYPE_I32, INT32_MAX, "int"}};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        if (limits[i].d == d && size > limits[i].max) {
            return cc_fail(CC_E_PY_RUNTIME, "value cannot be converted to type %s without overflow",
                           limits[i].c_name);
        }
    }
    return 0;
}

static int
eval_gf_simple(const cc_gf_spec *s, const cc_tensor *in, cc_tensor *out)
{
    cc_dtype d = in->dtype;
    int impl = gf_simple_impl[s->simple_id];
    if (impl < CC_UNARY_COUNT) {
        return gf_unary((cc_unary_op)impl, in, out);
    }
    cc_tensor x;
    if ((impl == CC_SOFTMAX || impl == CC_LOG_SOFTMAX) && !cc_dtype_is_floating_point(d)) {
        return not_implemented(impl == CC_SOFTMAX ? "softmax_lastdim_kernel_impl"
                                                  : "log_softmax_lastdim_kernel_impl",
                               d);
    }
    // min and max are exact in any wider dtype; bool has its own reduction.
    if (cast_to(&x, in, impl == CC_MIN || impl == CC_MAX ? cc_dtype_compute(d) : arith_dtype(d)) <
        0) {
        return -1;
    }
    int rc;
    if (impl == CC_SOFTMAX) {
        rc = cc_softmax(out, &x);
    } else if (impl == CC_LOG_SOFTMAX) {
        rc = cc_log_softmax(out, &x);
    } else if (x.ndim == 0) {
        rc = cc_fail(CC_E_TENSOR_EVAL, "%s needs at least one axis", s->name);
    } else if (impl == CC_LAST_DIM_SIZE) {
        rc = last_dim_fits(d, x.shape[x.ndim - 1]);
        if (rc == 0) {
            rc = cc_tensor_init_scalar(out, d, (double)x.shape[x.ndim - 1]);
        }
        if (rc == 0 && cc_tensor_broadcast_to(out, x.ndim - 1, x.shape) < 0) {
            cc_tensor_clear(out);
            rc = -1;
        }
    } else {
        rc = cc_reduce(out, impl == CC_MAX ? CC_REDUCE_MAX : CC_REDUCE_MIN, &x,
                       (uint64_t)1 << (x.ndim - 1));
    }
    cc_tensor_clear(&x);
    return rc < 0 ? -1 : recast(out, d);
}

// torch.pow(base, exponent) after rc's cast to one dtype d: floats keep d, integers give
// torch's integer power, bool has none.
static int
gf_pow(const cc_tensor *const *in, cc_tensor *out)
{
    cc_dtype d = upcast_dtype(2, in);
    if (d == CC_DTYPE_BOOL) {
        return not_implemented("pow", d);
    }
    cast_set ab;
    if (cast_set_init(&ab, 2, in, d, arith_dtype(d)) < 0) {
        return -1;
    }
    int rc = cc_dtype_is_floating_point(d) ? cc_binary(out, CC_BINARY_POW, ab.ptrs[0], ab.ptrs[1])
                                           : cc_int_pow(out, ab.ptrs[0], ab.ptrs[1]);
    cast_set_clear(&ab);
    return rc < 0 ? -1 : recast(out, d);
}

// The index as I64. Integer indices pass unchanged; a float index (from Scalars) is
// checked to hold integers when the spec asks, then converted.
static int
index_as_i64(cc_tensor *out, const cc_tensor *idx, int check_ints)
{
    if (idx->dtype == CC_DTYPE_I64) {
        cc_tensor_init_view(out, idx);
        return 0;
    }
    if (check_ints && cc_dtype_is_floating_point(idx->dtype)) {
        cc_tensor compact, f64, flat;
        compact_view(&compact, idx);
        int rc = cc_tensor_cast(&f64, &compact, CC_DTYPE_F64);
        cc_tensor_clear(&compact);
        if (rc < 0) {
            return -1;
        }
        rc = cc_tensor_contiguous(&flat, &f64);
        cc_tensor_clear(&f64);
        if (rc < 0) {
            return -1;
        }
        const double *v = flat.data;
        int64_t count = cc_tensor_numel(&flat);
        for (int64_t i = 0; i < count && rc == 0; i++) {
            if (!(v[i] == floor(v[i]) && fabs(v[i]) < 9.2e18)) {
                rc = cc_fail(CC_E_TENSOR_EVAL, "the index holds %g, which is not an integer", v[i]);
            }
        }
        cc_tensor_clear(&flat);
        if (rc < 0) {
            return -1;
        }
    }
    return cast_to(out, idx, CC_DTYPE_I64);
}

// gen_index and explicit_index through one batched gather (x: B + (n,) + R, index: B + I):
// with a batch prefix (explicit, or batch_x and batch_index) the gathered axis moves right
// after the prefix; with batch_index alone it moves to the front and the index axes lead
// the output; otherwise the index axes then move back to where the gathered axis was.
static int
eval_gf_gather(const cc_gf_spec *s, const cc_tensor *const *in, cc_tensor *out)
{
    cc_tensor x, idx;
    cc_tensor_init_view(&x, in[0]);
    if (index_as_i64(&idx, in[1], s->check_index_ints) < 0) {
        cc_tensor_clear(&x);
        return -1;
    }
    int prefix = s->kind == CC_GF_EXPLICIT_INDEX || (s->batch_x && s->batch_index);
    int n_batch = 0;
    int64_t d = 0;
    int rc = 0;
    if (prefix) {
        int64_t non_batch =
            s->kind == CC_GF_EXPLICIT_INDEX ? s->x_non_batch_dims : x.ndim - idx.ndim;
        if (non_batch < 1 || non_batch > x.ndim) {
            rc = cc_fail(CC_E_TENSOR_EVAL, "%s: x of rank %d cannot have %lld non-batch axes",
                         s->name, x.ndim, (long long)non_batch);
        } else {
            n_batch = x.ndim - (int)non_batch;
            rc = canon_axis(s->index_dim, non_batch, "index_dim", &d);
            d += n_batch;
        }
    } else {
        rc = canon_axis(s->index_dim, x.ndim, "index_dim", &d);
    }
    int perm[CC_MAX_NDIM];
    if (rc == 0) {
        int k = 0;
        for (int i = 0; i < n_batch; i++) {
            perm[k++] = i;
        }
        perm[k++] = (int)d;
        for (int i = n_batch; i < x.ndim; i++) {
            if (i != d) {
                perm[k++] = i;
            }
        }
        rc = cc_tensor_permute(&x, perm);
    }
    if (rc == 0) {
        rc = cc_gather_batched(out, &x, n_batch, &idx);
    }
    if (rc == 0 && !prefix && !s->batch_index) {
        int k = idx.ndim;
        for (int i = 0; i < out->ndim; i++) {
            if (i < d) {
                perm[i] = k + i;
            } else if (i < d + k) {
                perm[i] = i - (int)d;
            } else {
                perm[i] = i;
            }
        }
        if (cc_tensor_permute(out, perm) < 0) {
            cc_tensor_clear(out);
            rc = -1;
        }
    }
    cc_tensor_clear(&x);
    cc_tensor_clear(&idx);
    return rc;
}

// rc's multinomial: the seed (0-d, read as int64) starts the project's own generator
// (tensor/random.h), so equal seeds give equal draws.
static int
gf_multinomial(const cc_gf_spec *s, const cc_tensor *const *in, cc_tensor *out)
{
    cc_tensor seed;
    if (cc_tensor_cast(&seed, in[1], CC_DTYPE_I64) < 0) {
        return -1;
    }
    int64_t value = *(const int64_t *)seed.data;
    cc_tensor_clear(&seed);
    return cc_multinomial(out, in[0], s->n_sample_dims, s->sample_shape, s->replacement,
                          (uint64_t)value);
}

static int
eval_gf(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    const cc_gf_spec *s = n->u.gf.spec;
    switch (s->kind) {
    case CC_GF_SIMPLE:
        return eval_gf_simple(s, in[0], out);
    case CC_GF_GEN_INDEX:
    case CC_GF_EXPLICIT_INDEX:
        return eval_gf_gather(s, in, out);
    case CC_GF_POW:
        return gf_pow(in, out);
    case CC_GF_MULTINOMIAL:
        return gf_multinomial(s, in, out);
    case CC_GF_CAST:
        // torch's .to(dtype): floats to integers truncate toward zero
        return cast_to(out, in[0],
                       s->cast_out.dtype >= 0 ? (cc_dtype)s->cast_out.dtype : in[0]->dtype);
    case CC_GF_CALLBACK:
        if (s->callbacks.function == NULL) {
            return cc_fail(CC_E_TENSOR_EVAL, "GeneralFunction spec '%s' has no function", s->name);
        }
        return s->callbacks.function(s->callbacks.ctx, n->n_children, in, out);
    }
    return cc_fail(CC_E_TENSOR_EVAL, "unknown GeneralFunction spec kind %d", (int)s->kind);
}

static int
eval_tag(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    (void)n;
    cc_tensor_init_view(out, in[0]);
    return 0;
}

// A node with no value of its own: kind, "<node>" + why.
static int
no_value(const cc_node *n, cc_error_kind kind, const char *why)
{
    char desc[512];
    cc_eval_describe_node(n, desc, sizeof desc);
    return cc_fail(kind, "%s %s", desc, why);
}

// Modules are substituted before planning (cc_eval_prepare).
static int
eval_module(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    (void)in;
    (void)out;
    return no_value(n, CC_E_TENSOR_EVAL_MODULES_CANT_BE_DIRECTLY_EVALUTED_INTERNAL,
                    "can't be evaluated directly: substitute it first");
}

// Never explicitly computable, so a plan never reaches it.
static int
eval_set_symbolic_shape(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    (void)in;
    (void)out;
    return no_value(n, CC_E_TENSOR_EVAL_NOT_EXPLICITLY_COMPUTABLE_INTERNAL,
                    "pins symbolic sizes and has no value");
}

// Never explicitly computable: a sampler replaces it before evaluation.
static int
eval_discrete_var(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    (void)in;
    (void)out;
    return no_value(n, CC_E_TENSOR_EVAL_NOT_EXPLICITLY_COMPUTABLE_INTERNAL,
                    "is a random variable and has no value: sample it first");
}

// Never explicitly computable: a sampler replaces it before evaluation.
static int
eval_stored_cumulant_var(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    (void)in;
    (void)out;
    return no_value(n, CC_E_TENSOR_EVAL_NOT_EXPLICITLY_COMPUTABLE_INTERNAL,
                    "is a random variable and has no value: sample it first");
}

// The cumulant of constants: 1 for none, the child itself for one, zeros for more.
static int
eval_cumulant(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    for (int i = 0; i < n->n_children; i++) {
        if (!n->children[i]->is_constant) {
            char desc[512];
            cc_eval_describe_node(n, desc, sizeof desc);
            return cc_fail(CC_E_TENSOR_EVAL_NOT_EXPLICITLY_COMPUTABLE_INTERNAL,
                           "%s: child %d is random, so the cumulant has to be estimated (Sampler)",
                           desc, i);
        }
    }
    cc_dtype d = cc_eval_node_dtype(n);
    if (n->n_children == 1) {
        return cc_tensor_cast(out, in[0], d);
    }
    if (cc_tensor_init_scalar(out, d, n->n_children == 0 ? 1.0 : 0.0) < 0) {
        return -1;
    }
    if (cc_tensor_broadcast_to(out, n->ndim, n->shape) < 0) {
        cc_tensor_clear(out);
        return -1;
    }
    return 0;
}

// Zeros of the node's shape (the child's dtype) with the child copied into its slices.
static int
eval_scatter(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    cc_dtype d = upcast_dtype(1, in);
    if (cc_tensor_init_zeros(out, d, n->ndim, n->shape) < 0) {
        return -1;
    }
    cc_tensor part;
    cc_tensor_init_view(&part, out);
    int rc = 0;
    for (int a = 0; a < n->ndim && rc == 0; a++) {
        int64_t start = n->u.scatter.bounds[2 * a], stop = n->u.scatter.bounds[2 * a + 1];
        rc = cc_tensor_slice(&part, a, start, stop > start ? stop : start);
    }
    rc = rc < 0 ? rc : cc_tensor_copy_into(&part, in[0]);
    cc_tensor_clear(&part);
    if (rc < 0) {
        cc_tensor_clear(out);
    }
    return rc;
}

// Input and filter cast as rc casts them, computed in float32 or float64 (torch has no
// integer convolution on the CPU).
static int
eval_conv(const cc_node *n, const cc_tensor *const *in, cc_tensor *out)
{
    cc_dtype d = upcast_dtype(2, in);
    if (!cc_dtype_is_floating_point(d)) {
        return not_implemented("slow_conv2d_cpu", d);
    }
    cast_set xs;
    if (cast_set_init(&xs, 2, in, d, arith_dtype(d)) < 0) {
        return -1;
    }
    int dims = n->u.conv.dims;
    int rc = cc_conv(out, xs.ptrs[0], xs.ptrs[1], dims, n->u.conv.params, n->u.conv.params + dims);
    cast_set_clear(&xs);
    return rc < 0 ? -1 : recast(out, d);
}

// The backend's kernel per kind: eval_<kind>, which needs nothing of the backend record.
#define CC_KIND(E, n, py, f)                                                                       \
    static int cpu_##n(const cc_backend *b, const cc_node *node, const cc_tensor *const *in,       \
                       cc_tensor *out)                                                             \
    {                                                                                              \
        (void)b;                                                                                   \
        return eval_##n(node, in, out);                                                            \
    }
#include "nodes/kinds.def"
#undef CC_KIND

static void *
cpu_alloc(const cc_backend *b, size_t nbytes)
{
    (void)b;
    return cc_malloc_aligned(nbytes);
}

static void
cpu_free(const cc_backend *b, void *data)
{
    (void)b;
    cc_free(data);
}

static int
cpu_copy(const cc_backend *b, void *dst, const void *src, size_t nbytes)
{
    (void)b;
    memcpy(dst, src, nbytes);
    return 0;
}

static int
cpu_synchronize(const cc_backend *b)
{
    (void)b;
    return 0;
}

static int
cpu_supports(const cc_backend *b, const cc_node *n)
{
    (void)b;
    (void)n;
    return 1;
}

const cc_backend cc_cpu_backend = {
    .name = "cpu",
    .device = CC_DEVICE_CPU,
    .device_index = 0,
    .state = NULL,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .copy_to_host = cpu_copy,
    .copy_from_host = cpu_copy,
    .synchronize = cpu_synchronize,
    .supports = cpu_supports,
    .kernels =
        {
#define CC_KIND(E, n, py, f) [CC_KIND_##E] = cpu_##n,
#include "nodes/kinds.def"
#undef CC_KIND
        },
};
