// Gathers along one axis: cc_index_select (one index list shared by every outer position,
// torch.index_select) and cc_gather_batched (an index list per batch position). Every index is
// bounds-checked and normalised before any data moves; x may be strided and of any dtype.
#include <stdio.h>
#include <string.h>

#include "tensor/kernels.h"
#include "tensor/strided.h"
#include "util/alloc.h"
#include "util/error.h"

typedef struct {
    const char *x;
    int64_t es;
    int no; // outer axes of x (before the gathered axis)
    int64_t oshape[CC_MAX_NDIM];
    int64_t ox[CC_MAX_NDIM]; // byte strides
    int64_t axis_x;          // byte stride of the gathered axis
    int nr;                  // trailing axes copied per gathered position, collapsed
    int64_t rshape[CC_MAX_NDIM];
    int64_t rx[CC_MAX_NDIM];
    int64_t block; // elements per gathered position
    const int64_t *idx;
    int64_t m;      // gathered positions per outer position
    int shared_idx; // 1: idx has m entries for all outer positions; 0: outer * m entries
} gather_plan;

// Copies one block of trailing axes (strided in x) to contiguous dst.
static void
copy_block(const gather_plan *g, char *dst, const char *src)
{
    if (g->nr == 0) {
        memcpy(dst, src, (size_t)g->es);
        return;
    }
    int64_t inner = g->rshape[g->nr - 1];
    int64_t step = g->rx[g->nr - 1];
    if (g->nr == 1 && step == g->es) {
        memcpy(dst, src, (size_t)(inner * g->es));
        return;
    }
    int64_t idx[CC_MAX_NDIM] = {0};
    for (;;) {
        switch (g->es) {
        case 8:
            for (int64_t i = 0; i < inner; i++) {
                memcpy(dst + i * 8, src + i * step, 8);
            }
            break;
        case 4:
            for (int64_t i = 0; i < inner; i++) {
                memcpy(dst + i * 4, src + i * step, 4);
            }
            break;
        default:
            for (int64_t i = 0; i < inner; i++) {
                memcpy(dst + i * g->es, src + i * step, (size_t)g->es);
            }
            break;
        }
        dst += inner * g->es;
        int d = g->nr - 2;
        for (; d >= 0; d--) {
            src += g->rx[d];
            if (++idx[d] < g->rshape[d]) {
                break;
            }
            src -= idx[d] * g->rx[d];
            idx[d] = 0;
        }
        if (d < 0) {
            return;
        }
    }
}

static void
gather_range(const gather_plan *g, char *out, int64_t u0, int64_t u1)
{
    for (int64_t u = u0; u < u1; u++) {
        int64_t o = u / g->m;
        int64_t j = g->shared_idx ? u % g->m : u;
        int64_t off = g->idx[j] * g->axis_x;
        for (int d = g->no - 1; d >= 0; d--) {
            off += (o % g->oshape[d]) * g->ox[d];
            o /= g->oshape[d];
        }
        copy_block(g, out + u * g->block * g->es, g->x + off);
    }
}

// Reads index (I64, any layout) into a normalised contiguous array; NULL with an error.
static int64_t *
load_indices(const cc_tensor *index, int64_t n, int axis, const char *op)
{
    int64_t count = cc_tensor_numel(index);
    int64_t *out = cc_malloc((size_t)(count > 0 ? count : 1) * sizeof(int64_t));
    if (out == NULL) {
        return NULL;
    }
    int64_t pos[CC_MAX_NDIM] = {0};
    for (int64_t k = 0; k < count; k++) {
        int64_t off = 0;
        for (int d = 0; d < index->ndim; d++) {
            off += pos[d] * index->strides[d];
        }
        int64_t v = ((const int64_t *)index->data)[off];
        if (v < -n || v >= n) {
            cc_free(out);
            return cc_fail_null(CC_E_MISC_INPUT_ITEM_OUT_OF_BOUNDS,
                                "%s: index %lld is out of bounds for axis %d with size %lld", op,
                                (long long)v, axis, (long long)n);
        }
        out[k] = v < 0 ? v + n : v;
        for (int d = index->ndim - 1; d >= 0; d--) {
            if (++pos[d] < index->shape[d]) {
                break;
            }
            pos[d] = 0;
        }
    }
    return out;
}

static int
check_index(const cc_tensor *x, const cc_tensor *index, const char *op)
{
    if (index->dtype != CC_DTYPE_I64) {
        return cc_fail(CC_E_MISC_INPUT_INDEX_DTYPE_NOT_I64, "%s: index dtype is %s, not int64", op,
                       cc_dtype_name(index->dtype));
    }
    if (cc_check_cpu(x, op) < 0 || cc_check_cpu(index, op) < 0) {
        return -1;
    }
    return 0;
}

// Fills g for gathering x along axis; the trailing axes are collapsed where contiguous.
static void
plan_init(gather_plan *g, const cc_tensor *x, int axis)
{
    g->x = x->data;
    g->es = (int64_t)cc_dtype_size(x->dtype);
    g->no = axis;
    for (int d = 0; d < axis; d++) {
        g->oshape[d] = x->shape[d];
        g->ox[d] = x->strides[d] * g->es;
    }
    g->axis_x = x->strides[axis] * g->es;
    g->nr = 0;
    g->block = 1;
    for (int d = axis + 1; d < x->ndim; d++) {
        int64_t size = x->shape[d];
        int64_t stride = x->strides[d] * g->es;
        g->block *= size;
        if (size == 1) {
            continue;
        }
        if (g->nr > 0 && g->rx[g->nr - 1] == stride * size) {
            g->rshape[g->nr - 1] *= size;
            g->rx[g->nr - 1] = stride;
            continue;
        }
        g->rshape[g->nr] = size;
        g->rx[g->nr] = stride;
        g->nr++;
    }
}

static void
gather_run(const gather_plan *g, char *out, int64_t units)
{
    int threads = cc_threads_for(units * g->block);
    if (threads <= 1 || units < 2) {
        gather_range(g, out, 0, units);
        return;
    }
    int64_t blocks = units < (int64_t)threads * 4 ? units : (int64_t)threads * 4;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t b = 0; b < blocks; b++) {
        gather_range(g, out, units * b / blocks, units * (b + 1) / blocks);
    }
}

int
cc_index_select(cc_tensor *out, const cc_tensor *x, int axis, const cc_tensor *index)
{
    const char *op = "index_select";
    if (check_index(x, index, op) < 0) {
        return -1;
    }
    if (axis < 0 || axis >= x->ndim) {
        return cc_fail(CC_E_PY_VALUE, "%s: axis %d out of range for a tensor of %d dims", op, axis,
                       x->ndim);
    }
    if (index->ndim != 1) {
        return cc_fail(CC_E_PY_VALUE, "%s: index must be 1-d, got %d dims", op, index->ndim);
    }
    int64_t *idx = load_indices(index, x->shape[axis], axis, op);
    if (idx == NULL) {
        return -1;
    }
    int64_t shape[CC_MAX_NDIM];
    for (int d = 0; d < x->ndim; d++) {
        shape[d] = d == axis ? index->shape[0] : x->shape[d];
    }
    if (cc_tensor_init_empty(out, x->dtype, x->ndim, shape) < 0) {
        cc_free(idx);
        return -1;
    }
    gather_plan g;
    plan_init(&g, x, axis);
    g.idx = idx;
    g.m = index->shape[0];
    g.shared_idx = 1;
    int64_t outer = cc_shape_numel(axis, x->shape);
    if (g.m > 0 && g.block > 0) {
        gather_run(&g, out->data, outer * g.m);
    }
    cc_free(idx);
    return 0;
}

int
cc_gather_batched(cc_tensor *out, const cc_tensor *x, int n_batch, const cc_tensor *index)
{
    const char *op = "gather";
    if (check_index(x, index, op) < 0) {
        return -1;
    }
    if (n_batch < 0 || n_batch >= x->ndim || n_batch > index->ndim) {
        return cc_fail(CC_E_PY_VALUE,
                       "%s: %d batch axes do not fit x of %d dims and index of %d dims", op,
                       n_batch, x->ndim, index->ndim);
    }
    for (int d = 0; d < n_batch; d++) {
        if (x->shape[d] != index->shape[d]) {
            return cc_fail(CC_E_PY_VALUE,
                           "%s: batch axis %d has size %lld in x but %lld in the index", op, d,
                           (long long)x->shape[d], (long long)index->shape[d]);
        }
    }
    int nd = index->ndim + (x->ndim - n_batch - 1);
    if (nd > CC_MAX_NDIM) {
        return cc_fail(CC_E_PY_VALUE, "%s: result would have %d dims (at most %d supported)", op,
                       nd, CC_MAX_NDIM);
    }
    int64_t *idx = load_indices(index, x->shape[n_batch], n_batch, op);
    if (idx == NULL) {
        return -1;
    }
    int64_t shape[CC_MAX_NDIM];
    for (int d = 0; d < index->ndim; d++) {
        shape[d] = index->shape[d];
    }
    for (int d = n_batch + 1; d < x->ndim; d++) {
        shape[index->ndim + d - n_batch - 1] = x->shape[d];
    }
    if (cc_tensor_init_empty(out, x->dtype, nd, shape) < 0) {
        cc_free(idx);
        return -1;
    }
    gather_plan g;
    plan_init(&g, x, n_batch);
    g.idx = idx;
    g.m = cc_shape_numel(index->ndim - n_batch, index->shape + n_batch);
    g.shared_idx = 0;
    int64_t outer = cc_shape_numel(n_batch, x->shape);
    if (g.m > 0 && g.block > 0) {
        gather_run(&g, out->data, outer * g.m);
    }
    cc_free(idx);
    return 0;
}
