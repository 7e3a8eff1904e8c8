// rc's GeneralFunction rewrites: generalfunction_pull_removable_axes, _merge_inverses,
// _special_case_simplification, _evaluate_simple (a scalar function of a Scalar computed with
// the tensor kernels or the spec's own function) and _gen_index_const_to_index.
#include <math.h>
#include <string.h>

#include "nodes/gf.h"
#include "nodes/shape.h"
#include "rewrite/catalogue.h"
#include "rewrite/rewrite_catalogue_b.h"
#include "rewrite/rewrite_impl.h"
#include "rewrite/simp.h"
#include "tensor/kernels.h"
#include "util/error.h"

// The implementations gf.def names besides the unary ops, numbered after them.
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

static int
is_simple(const cc_node *gf, cc_gf_id id)
{
    const cc_gf_spec *s = gf->u.gf.spec;
    return s->kind == CC_GF_SIMPLE && s->simple_id == id;
}

// The number of output axes a spec keeps out of batching, for one input of shape child's.
static int
non_batchable_dims(const cc_node *gf, int *out)
{
    int n = gf->n_children;
    int ndims[64] = {0};
    const int64_t *shapes[64] = {0};
    if (n > 64) {
        *out = gf->ndim;
        return 0;
    }
    for (int i = 0; i < n; i++) {
        ndims[i] = gf->children[i]->ndim;
        shapes[i] = gf->children[i]->shape;
    }
    cc_gf_shape_info info;
    if (cc_gf_spec_shape_info(gf->u.gf.spec, n, ndims, shapes, &info) < 0) {
        return -1;
    }
    *out = info.num_non_batchable_output_dims;
    return 0;
}

int
cc_generalfunction_pull_removable_axes(cc_node *gf, cc_node **out)
{
    *out = NULL;
    if (gf->n_children != 1) {
        return 0;
    }
    int nb;
    if (non_batchable_dims(gf, &nb) < 0) {
        return -1;
    }
    cc_node *child = gf->children[0];
    uint8_t mask[CC_MAX_NDIM], batch[CC_MAX_NDIM] = {0};
    cc_removable_axes(child, mask);
    int any = 0;
    for (int k = 0; k < child->ndim; k++) {
        batch[k] = mask[k] && k + nb < gf->ndim;
        any |= batch[k];
    }
    if (!any) {
        return 0;
    }
    int applies;
    cc_node *smaller = cc_remove_axes(child, batch, &applies);
    if (smaller == NULL) {
        return -1;
    }
    cc_node *inner = cc_gf_new(1, &smaller, gf->u.gf.spec, gf->name);
    cc_node_decref(smaller);
    if (inner == NULL) {
        return -1;
    }
    *out = cc_unremove_axes(inner, gf->ndim, gf->shape, batch);
    cc_node_decref(inner);
    return *out == NULL ? -1 : 0;
}

int
cc_generalfunction_merge_inverses(cc_node *gf, cc_node **out)
{
    *out = NULL;
    // rc's table of inverse pairs among the named functions has one entry
    if (gf->n_children == 1 && is_simple(gf, CC_GF_ID_reciprocal)) {
        cc_node *inner = gf->children[0];
        if (inner->kind == CC_KIND_GENERAL_FUNCTION && is_simple(inner, CC_GF_ID_reciprocal)) {
            *out = inner->children[0];
            cc_node_incref(*out);
        }
    }
    return 0;
}

int
cc_generalfunction_special_case_simplification(cc_node *gf, cc_node **out)
{
    *out = NULL;
    const cc_gf_spec *s = gf->u.gf.spec;
    if (s->kind != CC_GF_SIMPLE || gf->n_children != 1) {
        return 0;
    }
    cc_node *child = gf->children[0];
    if (child->ndim == 0) {
        return 0;
    }
    int64_t last = child->shape[child->ndim - 1];
    switch (s->simple_id) {
    case CC_GF_ID_softmax:
    case CC_GF_ID_log_softmax:
        if (child->kind != CC_KIND_SCALAR) {
            return 0;
        }
        {
            double v = 1.0 / (double)last;
            v = s->simple_id == CC_GF_ID_softmax ? v : log(v);
            *out = cc_scalar_new(v, gf->ndim, gf->shape, gf->name);
        }
        break;
    case CC_GF_ID_last_dim_size:
        if (cc_size_has_symbolic(last)) {
            return 0;
        }
        *out = cc_scalar_new((double)last, child->ndim - 1, child->shape, gf->name);
        break;
    default:
        return 0;
    }
    return *out == NULL ? -1 : 0;
}

int
cc_generalfunction_evaluate_simple(cc_node *gf, cc_node **out)
{
    *out = NULL;
    if (gf->ndim != 0 || gf->n_children != 1 || gf->children[0]->ndim != 0 ||
        gf->children[0]->kind != CC_KIND_SCALAR) {
        return 0;
    }
    int nb;
    if (non_batchable_dims(gf, &nb) < 0) {
        return -1;
    }
    const cc_gf_spec *s = gf->u.gf.spec;
    int unary = s->kind == CC_GF_SIMPLE && gf_simple_impl[s->simple_id] < CC_UNARY_COUNT;
    if (nb != 0 || (!unary && s->kind != CC_GF_CALLBACK)) {
        return 0;
    }
    cc_tensor x, y, y64;
    if (cc_tensor_init_scalar(&x, CC_DTYPE_F64, gf->children[0]->u.scalar.value) < 0) {
        return -1;
    }
    int rc;
    if (unary) {
        rc = cc_unary(&y, (cc_unary_op)gf_simple_impl[s->simple_id], &x);
    } else {
        const cc_tensor *in = &x;
        rc = s->callbacks.function(s->callbacks.ctx, 1, &in, &y);
    }
    cc_tensor_clear(&x);
    if (rc < 0) {
        return -1;
    }
    if (y.ndim != 0) {
        cc_tensor_clear(&y);
        return cc_fail(CC_E_PY_VALUE,
                       "generalfunction_evaluate_simple: '%s' gave %d axes for a scalar input",
                       s->name, y.ndim);
    }
    rc = cc_tensor_cast(&y64, &y, CC_DTYPE_F64);
    cc_tensor_clear(&y);
    if (rc < 0) {
        return -1;
    }
    double v = *(const double *)y64.data;
    cc_tensor_clear(&y64);
    *out = cc_scalar_new(v, 0, NULL, gf->name);
    return *out == NULL ? -1 : 0;
}

int
cc_generalfunction_gen_index_const_to_index(cc_node *gf, cc_node **out)
{
    *out = NULL;
    const cc_gf_spec *s = gf->u.gf.spec;
    if (s->kind != CC_GF_GEN_INDEX || s->batch_index || !s->batch_x || gf->n_children != 2) {
        return 0;
    }
    cc_node *x = gf->children[0], *a = gf->children[1];
    if (a->kind != CC_KIND_ARRAY || a->ndim != 1 || x->ndim == 0) {
        return 0;
    }
    const cc_tensor *v = a->u.array.value;
    if (cc_dtype_is_floating_point(v->dtype) || v->dtype == CC_DTYPE_BOOL) {
        return 0;
    }
    int64_t dim = s->index_dim < 0 ? s->index_dim + x->ndim : s->index_dim;
    if (dim < 0 || dim >= x->ndim) {
        return 0;
    }
    cc_tensor t;
    if (cc_tensor_cast(&t, v, CC_DTYPE_I64) < 0) {
        return -1;
    }
    cc_index_item items[CC_MAX_NDIM];
    for (int k = 0; k < x->ndim; k++) {
        items[k] = cc_item_full();
    }
    if (cc_index_item_set_tensor(&items[dim], &t) < 0) {
        return -1;
    }
    *out = cc_index_new(x, x->ndim, items, gf->name);
    cc_index_item_clear(&items[dim]);
    return *out == NULL ? -1 : 0;
}
