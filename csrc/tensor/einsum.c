// Einsum lowering (einsum.h): diagonals as views, labels used once summed away first, then
// pairwise contractions in a greedy order, each one a permute + reshape + (batched) GEMM
// through blas.h, with operands passed by stride and transpose flag wherever their layout
// allows. Batched dot products and products that sum nothing run as one strided pass
// (cc_dot_into, cc_mul_into). Knows nothing of circuits: the node layer checks labels at
// construction.
#include "tensor/einsum.h"

#include <limits.h>
#include <omp.h>
#include <string.h>

#include "tensor/blas.h"
#include "tensor/kernels.h"
#include "tensor/strided.h"
#include "util/alloc.h"
#include "util/error.h"

#define N_LABELS 256

// A batched GEMM whose single GEMMs have fewer flops than this runs its batch loop on OpenMP
// threads with single-threaded BLAS (OpenBLAS threads small GEMMs poorly); larger ones do so
// only when the batches split evenly over the threads or are many, else BLAS threads each.
#define SMALL_GEMM_FLOPS (2.0 * 256 * 256 * 256)
// Runs of neighbouring batches per thread in a threaded batch loop.
#define BATCH_RUNS_PER_THREAD 6
// Below this many flops in all, a batch loop is not worth starting threads for.
#define THREADED_BATCH_MIN_FLOPS (2.0 * 64 * 64 * 64)
// A batched product whose single matrix product has a dimension of 1 (matrix-vector products,
// or dot products whose summed labels do not merge into one strided axis) and at most this
// many multiply-adds runs as one elementwise product and a sum instead of many tiny BLAS
// calls.
#define SMALL_PRODUCT_WORK 4096

typedef struct {
    cc_tensor t;              // a reference of ours; axes labelled by lab
    uint8_t lab[CC_MAX_NDIM]; // distinct labels, every size >= 2
} operand;

typedef struct {
    int64_t size[N_LABELS];
    int count[N_LABELS];      // live operands holding the label
    uint8_t in_out[N_LABELS]; // the label is an axis of the result
} label_info;

// A group of labels merged into one matrix dimension: its total size and the stride (elements)
// of its last label; stride is meaningless when size is 1.
typedef struct {
    int64_t size;
    int64_t stride;
} group;

// How an operand (or a result) is read (written) as a matrix with rows F and columns K:
// fk = 1: stored (F, K) with K unit-strided; fk = 0: stored (K, F) with F unit-strided.
typedef struct {
    int fk;
    int64_t ld;
} layout;

typedef struct {
    cc_dtype dtype;
    int trans_a;
    int trans_b;
    int64_t m, n, k, lda, ldb, ldc;
    const char *a;
    const char *b;
    char *c;
    int nbd;
    int64_t bshape[CC_MAX_NDIM];
    int64_t bstride[3][CC_MAX_NDIM]; // bytes, for a, b, c
    int64_t nb;
} gemm_plan;

// ---------------------------------------------------------------------------------------------
// labels and views

static int
axis_of(const uint8_t *lab, int n, uint8_t l)
{
    for (int i = 0; i < n; i++) {
        if (lab[i] == l) {
            return i;
        }
    }
    return -1;
}

// The caller's label arrays may be NULL when empty.
static void
copy_labels(uint8_t *dst, const uint8_t *src, int n)
{
    if (n > 0) {
        memcpy(dst, src, (size_t)n);
    }
}

static int
has_label(const operand *op, uint8_t l)
{
    return axis_of(op->lab, op->t.ndim, l) >= 0;
}

static int64_t
stride_of(const cc_tensor *t, const uint8_t *lab, uint8_t l)
{
    return t->strides[axis_of(lab, t->ndim, l)];
}

// In place on a view (no reference change): repeated labels become one diagonal axis, size-1
// axes are dropped. lab is updated to the remaining axes.
static int
simplify_view(cc_tensor *t, uint8_t *lab)
{
    for (int i = 0; i < t->ndim; i++) {
        for (int j = i + 1; j < t->ndim;) {
            if (lab[j] != lab[i]) {
                j++;
                continue;
            }
            if (cc_tensor_diagonal(t, i, j) < 0) {
                return -1;
            }
            memmove(lab + j, lab + j + 1, (size_t)(t->ndim - j));
        }
    }
    for (int i = 0; i < t->ndim;) {
        if (t->shape[i] != 1) {
            i++;
            continue;
        }
        if (cc_tensor_select(t, i, 0) < 0) {
            return -1;
        }
        memmove(lab + i, lab + i + 1, (size_t)(t->ndim - i));
    }
    return 0;
}

// Replaces op->t by r (taking r's reference) with labels lab.
static void
operand_replace(operand *op, cc_tensor *r, const uint8_t *lab)
{
    uint8_t tmp[CC_MAX_NDIM];
    memcpy(tmp, lab, (size_t)r->ndim);
    cc_tensor_clear(&op->t);
    op->t = *r;
    memcpy(op->lab, tmp, (size_t)r->ndim);
}

// Sums away the labels no other operand and not the result need: a reduction, no GEMM.
static int
sum_unneeded(operand *op, const label_info *li)
{
    uint64_t mask = 0;
    uint8_t kept[CC_MAX_NDIM];
    int nk = 0;
    for (int i = 0; i < op->t.ndim; i++) {
        uint8_t l = op->lab[i];
        if (li->count[l] == 1 && !li->in_out[l]) {
            mask |= (uint64_t)1 << i;
        } else {
            kept[nk++] = l;
        }
    }
    if (mask == 0) {
        return 0;
    }
    cc_tensor r;
    if (cc_reduce(&r, CC_REDUCE_SUM, &op->t, mask) < 0) {
        return -1;
    }
    operand_replace(op, &r, kept);
    return 0;
}

// Labels of g sorted by decreasing stride in t: the order in which they would merge.
static void
natural_order(const cc_tensor *t, const uint8_t *lab, uint8_t *g, int n)
{
    for (int i = 1; i < n; i++) {
        uint8_t l = g[i];
        int64_t s = stride_of(t, lab, l);
        int j = i - 1;
        while (j >= 0 && stride_of(t, lab, g[j]) < s) {
            g[j + 1] = g[j];
            j--;
        }
        g[j + 1] = l;
    }
}

// 1 when the axes g[0..n) of t (in that order) form one strided dimension.
static int
merge_group(const cc_tensor *t, const uint8_t *lab, const uint8_t *g, int n, group *out)
{
    out->size = 1;
    out->stride = 1;
    for (int i = n - 1; i >= 0; i--) {
        int ax = axis_of(lab, t->ndim, g[i]);
        if (i == n - 1) {
            out->stride = t->strides[ax];
        } else if (t->strides[ax] != out->stride * out->size) {
            return 0;
        }
        out->size *= t->shape[ax];
    }
    return 1;
}

// 1 when t reads as a BLAS matrix (rows f, columns kk) without a copy: one of the two groups
// unit-strided, the other's stride a legal 32-bit leading dimension.
static int
matrix_layout(const cc_tensor *t, const uint8_t *lab, const uint8_t *f, int nf, const uint8_t *kk,
              int nk, layout *out)
{
    group fg;
    group kg;
    if (!merge_group(t, lab, f, nf, &fg) || !merge_group(t, lab, kk, nk, &kg)) {
        return 0;
    }
    if ((kg.size == 1 || kg.stride == 1) &&
        (fg.size == 1 || (fg.stride >= kg.size && fg.stride <= INT_MAX))) {
        out->fk = 1;
        out->ld = fg.size == 1 ? kg.size : fg.stride;
        return 1;
    }
    if ((fg.size == 1 || fg.stride == 1) &&
        (kg.size == 1 || (kg.stride >= fg.size && kg.stride <= INT_MAX))) {
        out->fk = 0;
        out->ld = kg.size == 1 ? fg.size : kg.stride;
        return 1;
    }
    return 0;
}

// 1 when t can be written as a row-major BLAS result (rows r, unit-strided columns c).
static int
result_layout(const cc_tensor *t, const uint8_t *lab, const uint8_t *r, int nr, const uint8_t *c,
              int nc, int64_t *ldc)
{
    layout lay;
    if (!matrix_layout(t, lab, r, nr, c, nc, &lay) || !lay.fk) {
        return 0;
    }
    *ldc = lay.ld;
    return 1;
}

static int64_t
label_product(const label_info *li, const uint8_t *g, int n)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++) {
        p *= li->size[g[i]];
    }
    return p;
}

// A view of t (borrowed: no reference taken) with axes in the order ls[0..n); labels t lacks
// become size-1 axes.
static void
expand_view(cc_tensor *v, const cc_tensor *t, const uint8_t *lab, const uint8_t *ls, int n)
{
    *v = *t;
    v->ndim = n;
    for (int i = 0; i < n; i++) {
        int ax = axis_of(lab, t->ndim, ls[i]);
        v->shape[i] = ax >= 0 ? t->shape[ax] : 1;
        v->strides[i] = ax >= 0 ? t->strides[ax] : 0;
    }
}

// ---------------------------------------------------------------------------------------------
// batched GEMM

static void
gemm_one(const gemm_plan *p, int64_t idx)
{
    const char *a = p->a;
    const char *b = p->b;
    char *c = p->c;
    for (int d = p->nbd - 1; d >= 0; d--) {
        int64_t i = idx % p->bshape[d];
        idx /= p->bshape[d];
        a += i * p->bstride[0][d];
        b += i * p->bstride[1][d];
        c += i * p->bstride[2][d];
    }
    if (p->dtype == CC_DTYPE_F32) {
        cc_blas_sgemm(p->trans_a, p->trans_b, p->m, p->n, p->k, 1.0f, (const float *)a, p->lda,
                      (const float *)b, p->ldb, 0.0f, (float *)c, p->ldc);
    } else {
        cc_blas_dgemm(p->trans_a, p->trans_b, p->m, p->n, p->k, 1.0, (const double *)a, p->lda,
                      (const double *)b, p->ldb, 0.0, (double *)c, p->ldc);
    }
}

static int
batch_on_threads(const gemm_plan *p, int threads)
{
    double flops = 2.0 * (double)p->m * (double)p->n * (double)p->k;
    if (threads <= 1 || p->nb < 2 || flops * (double)p->nb < THREADED_BATCH_MIN_FLOPS) {
        return 0;
    }
    return flops < SMALL_GEMM_FLOPS || p->nb % threads == 0 || p->nb >= 4 * (int64_t)threads;
}

// BLAS's own thread count while batch loops run on OpenMP threads. Batch loops of several
// threads (the GIL is released during evaluation) share one pin, so that the count saved
// before the first is the one restored after the last.
static int blas_pins;
static int blas_saved_threads;

static void
pin_blas_to_one_thread(void)
{
#pragma omp critical(cc_einsum_blas_threads)
    {
        if (blas_pins++ == 0) {
            blas_saved_threads = cc_blas_get_num_threads();
            cc_blas_set_num_threads(1);
        }
    }
}

static void
unpin_blas(void)
{
#pragma omp critical(cc_einsum_blas_threads)
    {
        if (--blas_pins == 0) {
            cc_blas_set_num_threads(blas_saved_threads);
        }
    }
}

static void
gemm_run(const gemm_plan *p)
{
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (!batch_on_threads(p, threads)) {
        for (int64_t i = 0; i < p->nb; i++) {
            gemm_one(p, i);
        }
        return;
    }
    if (p->nb < threads) {
        threads = (int)p->nb;
    }
    pin_blas_to_one_thread();
    // Runs of neighbouring batches, a few per thread, handed out as threads come free: a
    // result whose batch axes interleave with its rows (attention's "bhqk,bhkd->bqhd") is
    // then written mostly by one thread per row, and a thread slowed by another process on
    // its core (a shared host) does less of the work instead of holding up the rest.
    int64_t runs = p->nb < (int64_t)threads * BATCH_RUNS_PER_THREAD
                       ? p->nb
                       : (int64_t)threads * BATCH_RUNS_PER_THREAD;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t r = 0; r < runs; r++) {
        for (int64_t i = p->nb * r / runs; i < p->nb * (r + 1) / runs; i++) {
            gemm_one(p, i);
        }
    }
    unpin_blas();
}

// ---------------------------------------------------------------------------------------------
// one pairwise contraction

// The labels of a contraction of x and y, by role.
typedef struct {
    uint8_t b[CC_MAX_NDIM]; // batch: in both, kept
    uint8_t m[CC_MAX_NDIM]; // x only (kept)
    uint8_t n[CC_MAX_NDIM]; // y only (kept)
    uint8_t k[CC_MAX_NDIM]; // in both, summed
    int nb, nm, nn, nk;
} roles;

// A copy of op laid out (batch, f, kk) or (batch, kk, f) contiguous, whichever keeps op's
// innermost axis innermost, unless its leading dimension would pass 32 bits.
static int
copy_to_matrix(operand *op, const uint8_t *bl, int nbl, const uint8_t *f, int nf, const uint8_t *kk,
               int nk, const label_info *li)
{
    int inner = 0;
    for (int i = 1; i < op->t.ndim; i++) {
        int64_t si = op->t.strides[i] < 0 ? -op->t.strides[i] : op->t.strides[i];
        int64_t sb = op->t.strides[inner] < 0 ? -op->t.strides[inner] : op->t.strides[inner];
        if (si < sb) {
            inner = i;
        }
    }
    int f_inner = axis_of(f, nf, op->lab[inner]) >= 0;
    int64_t fsize = label_product(li, f, nf);
    int64_t ksize = label_product(li, kk, nk);
    if (f_inner && ksize > 1 && fsize > INT_MAX) {
        f_inner = 0;
    } else if (!f_inner && fsize > 1 && ksize > INT_MAX) {
        f_inner = 1;
    }
    uint8_t order[CC_MAX_NDIM];
    int n = 0;
    memcpy(order + n, bl, (size_t)nbl);
    n += nbl;
    memcpy(order + n, f_inner ? kk : f, (size_t)(f_inner ? nk : nf));
    n += f_inner ? nk : nf;
    memcpy(order + n, f_inner ? f : kk, (size_t)(f_inner ? nf : nk));
    n += f_inner ? nf : nk;
    cc_tensor view;
    expand_view(&view, &op->t, op->lab, order, n);
    cc_tensor r;
    if (cc_tensor_copy(&r, &view) < 0) {
        return -1;
    }
    operand_replace(op, &r, order);
    return 0;
}

// The layout in which op reads as a matrix (rows f, columns kk), copying op first if needed.
static int
as_matrix(operand *op, const uint8_t *bl, int nbl, const uint8_t *f, int nf, const uint8_t *kk,
          int nk, const label_info *li, layout *lay)
{
    if (matrix_layout(&op->t, op->lab, f, nf, kk, nk, lay)) {
        return 0;
    }
    if (copy_to_matrix(op, bl, nbl, f, nf, kk, nk, li) < 0) {
        return -1;
    }
    if (!matrix_layout(&op->t, op->lab, f, nf, kk, nk, lay)) {
        return cc_fail(CC_E_PY_VALUE,
                       "einsum: a %lld x %lld matrix product operand is too large for BLAS's "
                       "32-bit leading dimension",
                       (long long)label_product(li, f, nf), (long long)label_product(li, kk, nk));
    }
    return 0;
}

// The elements a choice of group orders makes us copy: operands that then read as no matrix.
static double
plan_cost(const operand *x, const operand *y, const roles *ro, const uint8_t *mo, const uint8_t *no,
          const uint8_t *ko)
{
    layout lay;
    double cost = 0;
    if (!matrix_layout(&x->t, x->lab, mo, ro->nm, ko, ro->nk, &lay)) {
        cost += (double)cc_tensor_numel(&x->t);
    }
    if (!matrix_layout(&y->t, y->lab, no, ro->nn, ko, ro->nk, &lay)) {
        cost += (double)cc_tensor_numel(&y->t);
    }
    return cost;
}

// x * y broadcast over the union of their labels, then summed over ro->k: for contractions
// that are elementwise products (no summed label) or tiny batched dot products.
static int
product_then_sum(cc_tensor *out, const operand *x, const operand *y, const uint8_t *order, int nres,
                 const roles *ro)
{
    uint8_t all[CC_MAX_NDIM];
    memcpy(all, order, (size_t)nres);
    memcpy(all + nres, ro->k, (size_t)ro->nk);
    int n = nres + ro->nk;
    cc_tensor xv;
    cc_tensor yv;
    expand_view(&xv, &x->t, x->lab, all, n);
    expand_view(&yv, &y->t, y->lab, all, n);
    if (ro->nk == 0) {
        return cc_binary(out, CC_BINARY_MUL, &xv, &yv);
    }
    cc_tensor p;
    if (cc_binary(&p, CC_BINARY_MUL, &xv, &yv) < 0) {
        return -1;
    }
    uint64_t mask = 0;
    for (int i = nres; i < n; i++) {
        mask |= (uint64_t)1 << i;
    }
    int rc = cc_reduce(out, CC_REDUCE_SUM, &p, mask);
    cc_tensor_clear(&p);
    return rc;
}

// The contraction of x and y when every kept label is in both (batched dot products over
// ro->k), as one pass over x and y without a product tensor, when the summed labels read as
// one strided axis of each. Writes into target (labels order, returns 1) when given, else
// sets *res (returns 0); returns 2 when the summed labels do not merge, -1 on error.
static int
batched_dot(operand *res, const operand *x, const operand *y, const uint8_t *order, int nres,
            const roles *ro, const label_info *li, const cc_tensor *target)
{
    if (nres + 1 > CC_MAX_NDIM) {
        return 2;
    }
    uint8_t ko[CC_MAX_NDIM];
    group gx;
    group gy;
    int merged = 0;
    for (int side = 0; side < 2 && !merged; side++) {
        memcpy(ko, ro->k, (size_t)ro->nk);
        natural_order(side == 0 ? &x->t : &y->t, side == 0 ? x->lab : y->lab, ko, ro->nk);
        merged = merge_group(&x->t, x->lab, ko, ro->nk, &gx) &&
                 merge_group(&y->t, y->lab, ko, ro->nk, &gy);
    }
    if (!merged) {
        return 2;
    }
    cc_tensor xv;
    cc_tensor yv;
    expand_view(&xv, &x->t, x->lab, order, nres);
    expand_view(&yv, &y->t, y->lab, order, nres);
    xv.ndim = yv.ndim = nres + 1;
    xv.shape[nres] = yv.shape[nres] = gx.size;
    xv.strides[nres] = gx.stride;
    yv.strides[nres] = gy.stride;
    if (target != NULL) {
        cc_tensor tv = *target; // borrowed view
        return cc_dot_into(&tv, &xv, &yv) < 0 ? -1 : 1;
    }
    int64_t shape[CC_MAX_NDIM];
    for (int i = 0; i < nres; i++) {
        shape[i] = li->size[order[i]];
    }
    cc_tensor c;
    if (cc_tensor_init_empty(&c, x->t.dtype, nres, shape) < 0) {
        return -1;
    }
    if (cc_dot_into(&c, &xv, &yv) < 0) {
        cc_tensor_clear(&c);
        return -1;
    }
    res->t = c;
    memcpy(res->lab, order, (size_t)nres);
    return 0;
}

// Contracts x and y (consumed) into *res, whose labels are those of x and y in keep. Every
// label of x or y is in keep or in both. With target (labels tlab, the same set, in the
// order the caller wants), the result goes into target when a GEMM can write it there
// directly (returns 1); otherwise *res is set (returns 0), in tlab order where that is free.
static int
contract_pair(operand *res, operand *x, operand *y, const uint8_t *keep, const label_info *li,
              const cc_tensor *target, const uint8_t *tlab)
{
    roles ro;
    ro.nb = ro.nm = ro.nn = ro.nk = 0;
    for (int i = 0; i < x->t.ndim; i++) {
        uint8_t l = x->lab[i];
        if (!has_label(y, l)) {
            ro.m[ro.nm++] = l;
        } else if (keep[l]) {
            ro.b[ro.nb++] = l;
        } else {
            ro.k[ro.nk++] = l;
        }
    }
    for (int i = 0; i < y->t.ndim; i++) {
        if (!has_label(x, y->lab[i])) {
            ro.n[ro.nn++] = y->lab[i];
        }
    }
    int nres = ro.nb + ro.nm + ro.nn;
    if (nres > CC_MAX_NDIM) {
        return cc_fail(CC_E_PY_VALUE,
                       "einsum: an intermediate product would have %d axes (at most %d "
                       "supported); reorder or split the contraction",
                       nres, CC_MAX_NDIM);
    }
    // Result order: the target's, else batch, then x's, then y's labels.
    uint8_t order[CC_MAX_NDIM];
    if (target != NULL) {
        memcpy(order, tlab, (size_t)nres);
        ro.nb = ro.nm = ro.nn = 0;
        for (int i = 0; i < nres; i++) {
            uint8_t l = order[i];
            int in_x = has_label(x, l);
            int in_y = has_label(y, l);
            if (in_x && in_y) {
                ro.b[ro.nb++] = l;
            } else if (in_x) {
                ro.m[ro.nm++] = l;
            } else {
                ro.n[ro.nn++] = l;
            }
        }
    } else {
        memcpy(order, ro.b, (size_t)ro.nb);
        memcpy(order + ro.nb, ro.m, (size_t)ro.nm);
        memcpy(order + ro.nb + ro.nm, ro.n, (size_t)ro.nn);
    }
    int64_t nb = label_product(li, ro.b, ro.nb);
    int64_t m = label_product(li, ro.m, ro.nm);
    int64_t n = label_product(li, ro.n, ro.nn);
    int64_t k = label_product(li, ro.k, ro.nk);

    if (ro.nm == 0 && ro.nn == 0 && ro.nk > 0) {
        int wrote = batched_dot(res, x, y, order, nres, &ro, li, target);
        if (wrote != 2) {
            return wrote;
        }
    }
    double work = (double)m * (double)n * (double)k;
    int small = nb > 1 && (m == 1 || n == 1) && work <= SMALL_PRODUCT_WORK;
    if ((k == 1 || small) && nres + ro.nk <= CC_MAX_NDIM) {
        cc_tensor r;
        if (product_then_sum(&r, x, y, order, nres, &ro) < 0) {
            return -1;
        }
        res->t = r;
        memcpy(res->lab, order, (size_t)nres);
        return 0;
    }

    // Candidate group orders: the target's (C written in place) or each operand's own
    // (C in a new tensor); the summed labels ordered as in x or as in y. The cheapest in
    // copied elements wins, the target's first on a tie.
    uint8_t mo_nat[CC_MAX_NDIM];
    uint8_t no_nat[CC_MAX_NDIM];
    uint8_t ko_x[CC_MAX_NDIM];
    uint8_t ko_y[CC_MAX_NDIM];
    memcpy(mo_nat, ro.m, (size_t)ro.nm);
    memcpy(no_nat, ro.n, (size_t)ro.nn);
    memcpy(ko_x, ro.k, (size_t)ro.nk);
    memcpy(ko_y, ro.k, (size_t)ro.nk);
    natural_order(&x->t, x->lab, mo_nat, ro.nm);
    natural_order(&y->t, y->lab, no_nat, ro.nn);
    natural_order(&x->t, x->lab, ko_x, ro.nk);
    natural_order(&y->t, y->lab, ko_y, ro.nk);

    int direct = 0; // 1: C rows m, columns n in target; 2: rows n, columns m (C^T = y^T x^T)
    int64_t ldc = 0;
    if (target != NULL) {
        if (result_layout(target, tlab, ro.m, ro.nm, ro.n, ro.nn, &ldc)) {
            direct = 1;
        } else if (result_layout(target, tlab, ro.n, ro.nn, ro.m, ro.nm, &ldc)) {
            direct = 2;
        }
    }
    const uint8_t *ko_big = cc_tensor_numel(&x->t) >= cc_tensor_numel(&y->t) ? ko_x : ko_y;
    const uint8_t *ko_small = ko_big == ko_x ? ko_y : ko_x;
    const uint8_t *best_mo = mo_nat;
    const uint8_t *best_no = no_nat;
    const uint8_t *best_ko = ko_big;
    double best = -1;
    int use_target = 0;
    for (int cand = direct ? 0 : 1; cand < 2; cand++) {
        const uint8_t *cmo = cand == 0 ? ro.m : mo_nat;
        const uint8_t *cno = cand == 0 ? ro.n : no_nat;
        double c_cost = cand == 0 || target == NULL ? 0 : (double)nb * (double)m * (double)n;
        for (int kc = 0; kc < 2; kc++) {
            const uint8_t *cko = kc == 0 ? ko_big : ko_small;
            double cost = c_cost + plan_cost(x, y, &ro, cmo, cno, cko);
            if (best < 0 || cost < best) {
                best = cost;
                best_mo = cmo;
                best_no = cno;
                best_ko = cko;
                use_target = cand == 0;
            }
        }
    }
    uint8_t mo[CC_MAX_NDIM];
    uint8_t no[CC_MAX_NDIM];
    uint8_t ko[CC_MAX_NDIM];
    memcpy(mo, best_mo, (size_t)ro.nm);
    memcpy(no, best_no, (size_t)ro.nn);
    memcpy(ko, best_ko, (size_t)ro.nk);

    layout lx;
    layout ly;
    if (as_matrix(x, ro.b, ro.nb, mo, ro.nm, ko, ro.nk, li, &lx) < 0 ||
        as_matrix(y, ro.b, ro.nb, no, ro.nn, ko, ro.nk, li, &ly) < 0) {
        return -1;
    }

    // The result: the target, or a new tensor laid out (batch, m, n).
    cc_tensor c;
    uint8_t clab[CC_MAX_NDIM];
    if (use_target) {
        c = *target;
        memcpy(clab, tlab, (size_t)nres);
    } else {
        // Rows of n columns, unless n passes BLAS's 32-bit leading dimension.
        direct = m > 1 && n > INT_MAX ? 2 : 1;
        ldc = direct == 1 ? n : m;
        memcpy(clab, ro.b, (size_t)ro.nb);
        memcpy(clab + ro.nb, direct == 1 ? mo : no, (size_t)(direct == 1 ? ro.nm : ro.nn));
        memcpy(clab + ro.nb + (direct == 1 ? ro.nm : ro.nn), direct == 1 ? no : mo,
               (size_t)(direct == 1 ? ro.nn : ro.nm));
        int64_t shape[CC_MAX_NDIM];
        for (int i = 0; i < nres; i++) {
            shape[i] = li->size[clab[i]];
        }
        if (cc_tensor_init_empty(&c, x->t.dtype, nres, shape) < 0) {
            return -1;
        }
    }

    gemm_plan p;
    int64_t es = (int64_t)cc_dtype_size(x->t.dtype);
    p.dtype = x->t.dtype;
    p.k = k;
    p.ldc = ldc;
    p.c = c.data;
    const operand *a_op = direct == 1 ? x : y;
    const operand *b_op = direct == 1 ? y : x;
    const layout *la = direct == 1 ? &lx : &ly;
    const layout *lb = direct == 1 ? &ly : &lx;
    p.m = direct == 1 ? m : n;
    p.n = direct == 1 ? n : m;
    p.a = a_op->t.data;
    p.b = b_op->t.data;
    p.trans_a = !la->fk;
    p.lda = la->ld;
    p.trans_b = lb->fk;
    p.ldb = lb->ld;
    p.nbd = ro.nb;
    p.nb = nb;
    for (int i = 0; i < ro.nb; i++) {
        uint8_t l = ro.b[i];
        p.bshape[i] = li->size[l];
        p.bstride[0][i] = stride_of(&a_op->t, a_op->lab, l) * es;
        p.bstride[1][i] = stride_of(&b_op->t, b_op->lab, l) * es;
        p.bstride[2][i] = stride_of(&c, clab, l) * es;
    }
    gemm_run(&p);

    if (use_target) {
        return 1;
    }
    res->t = c;
    memcpy(res->lab, clab, (size_t)nres);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// contraction order

// The pair whose result is smallest, ties broken by fewest multiply-adds.
static void
choose_pair(operand *const *ops, int n, const label_info *li, int *bi, int *bj)
{
    double best_size = -1;
    double best_flops = 0;
    *bi = 0;
    *bj = 1;
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            double size = 1;
            double flops = 1;
            for (int s = 0; s < 2; s++) {
                const operand *o = s == 0 ? ops[i] : ops[j];
                for (int a = 0; a < o->t.ndim; a++) {
                    uint8_t l = o->lab[a];
                    int in_i = has_label(ops[i], l);
                    int in_j = has_label(ops[j], l);
                    if (s == 1 && in_i) {
                        continue;
                    }
                    flops *= (double)li->size[l];
                    if (li->in_out[l] || li->count[l] > in_i + in_j) {
                        size *= (double)li->size[l];
                    }
                }
            }
            if (best_size < 0 || size < best_size || (size == best_size && flops < best_flops)) {
                best_size = size;
                best_flops = flops;
                *bi = i;
                *bj = j;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// the result

typedef struct {
    int n_out;
    int64_t shape[CC_MAX_NDIM];
    int repeats; // a label occurs twice in out_labels
    int nv;      // axes of the result proper: distinct labels of size >= 2
    uint8_t vlab[CC_MAX_NDIM];
} out_info;

// Allocates out (zeros when out_labels repeat) and sets *view to its axes labelled vlab.
static int
alloc_out(cc_tensor *out, cc_tensor *view, const out_info *o, const uint8_t *out_labels,
          cc_dtype dtype)
{
    int rc = o->repeats ? cc_tensor_init_zeros(out, dtype, o->n_out, o->shape)
                        : cc_tensor_init_empty(out, dtype, o->n_out, o->shape);
    if (rc < 0) {
        return -1;
    }
    uint8_t lab[CC_MAX_NDIM];
    copy_labels(lab, out_labels, o->n_out);
    *view = *out;
    if (simplify_view(view, lab) < 0) {
        cc_tensor_clear(out);
        return -1;
    }
    return 0;
}

// Writes r (consumed; labels the set vlab) as the result: adopted as out when it already is
// contiguous in out's order, else copied into out (allocated here unless out->buf is set).
static int
deliver(cc_tensor *out, operand *r, const out_info *o, const uint8_t *out_labels)
{
    int perm[CC_MAX_NDIM];
    for (int i = 0; i < o->nv; i++) {
        perm[i] = axis_of(r->lab, r->t.ndim, o->vlab[i]);
    }
    cc_tensor pv = r->t;
    if (cc_tensor_permute(&pv, perm) < 0) {
        return -1;
    }
    if (!o->repeats && cc_tensor_is_contiguous(&pv)) {
        cc_tensor adopted;
        if (cc_tensor_reshape(&adopted, &pv, o->n_out, o->shape) < 0) {
            return -1;
        }
        cc_tensor_clear(out);
        *out = adopted;
        cc_tensor_clear(&r->t);
        return 0;
    }
    cc_tensor view;
    if (out->buf == NULL) {
        if (alloc_out(out, &view, o, out_labels, r->t.dtype) < 0) {
            return -1;
        }
    } else {
        uint8_t lab[CC_MAX_NDIM];
        copy_labels(lab, out_labels, o->n_out);
        view = *out;
        if (simplify_view(&view, lab) < 0) {
            return -1;
        }
    }
    if (cc_tensor_copy_into(&view, &pv) < 0) {
        return -1;
    }
    cc_tensor_clear(&r->t);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// cc_einsum

static int
check_inputs(int n_operands, const cc_tensor *const *operands, const uint8_t *const *labels,
             int n_out, const uint8_t *out_labels, label_info *li, out_info *o)
{
    if (n_operands < 0 || n_out < 0 || n_out > CC_MAX_NDIM) {
        return cc_fail(CC_E_PY_VALUE, "einsum: %d operands and %d output axes (at most %d)",
                       n_operands, n_out, CC_MAX_NDIM);
    }
    memset(li, 0, sizeof(*li));
    int first_op[N_LABELS];
    int first_axis[N_LABELS];
    for (int i = 0; i < n_operands; i++) {
        const cc_tensor *t = operands[i];
        if (!cc_dtype_is_float(t->dtype)) {
            return cc_fail(CC_E_TENSOR_EVAL_DEVICE_DTYPE_ERROR,
                           "einsum needs float32 or float64 operands; operand %d is %s", i,
                           cc_dtype_name(t->dtype));
        }
        if (t->dtype != operands[0]->dtype) {
            return cc_fail(CC_E_TENSOR_EVAL_DEVICE_DTYPE_ERROR,
                           "einsum operands must share one dtype; operand 0 is %s, operand %d "
                           "is %s",
                           cc_dtype_name(operands[0]->dtype), i, cc_dtype_name(t->dtype));
        }
        if (cc_check_cpu(t, "einsum") < 0) {
            return -1;
        }
        for (int a = 0; a < t->ndim; a++) {
            uint8_t l = labels[i][a];
            if (li->count[l] == 0) {
                li->size[l] = t->shape[a];
                first_op[l] = i;
                first_axis[l] = a;
            } else if (li->size[l] != t->shape[a]) {
                return cc_fail(CC_E_CONSTRUCT_EINSUM_AXIS_SIZE_DIFFERENT,
                               "einsum: label %d is %lld on axis %d of operand %d but %lld on "
                               "axis %d of operand %d",
                               l, (long long)li->size[l], first_axis[l], first_op[l],
                               (long long)t->shape[a], a, i);
            }
            li->count[l]++;
        }
    }
    o->n_out = n_out;
    o->repeats = 0;
    o->nv = 0;
    for (int i = 0; i < n_out; i++) {
        uint8_t l = out_labels[i];
        if (li->count[l] == 0) {
            return cc_fail(CC_E_CONSTRUCT_EINSUM_OUTPUT_NOT_SUBSET,
                           "einsum: output label %d (axis %d) is in no operand", l, i);
        }
        o->shape[i] = li->size[l];
        if (li->in_out[l]) {
            o->repeats = 1;
        } else if (li->size[l] != 1) {
            o->vlab[o->nv++] = l;
        }
        li->in_out[l] = 1;
    }
    return 0;
}

// 1 when some label of ops[0..n) is summed (not in the result).
static int
sums_any(operand *const *ops, int n, const label_info *li)
{
    for (int i = 0; i < n; i++) {
        for (int a = 0; a < ops[i]->t.ndim; a++) {
            if (!li->in_out[ops[i]->lab[a]]) {
                return 1;
            }
        }
    }
    return 0;
}

// The result as the elementwise product of ops[0..n) broadcast to it, in one pass: for
// contractions that sum nothing (a scale and shift of layer norm, "bsd,bs,d->bsd").
static int
product_into_out(cc_tensor *out, operand *const *ops, int n, const out_info *o,
                 const uint8_t *out_labels, cc_dtype dtype)
{
    cc_tensor view;
    if (alloc_out(out, &view, o, out_labels, dtype) < 0) {
        return -1;
    }
    cc_tensor xv[CC_ITER_MAX_OPS];
    const cc_tensor *xs[CC_ITER_MAX_OPS];
    for (int i = 0; i < n; i++) {
        expand_view(&xv[i], &ops[i]->t, ops[i]->lab, o->vlab, o->nv);
        for (int a = 0; a < o->nv; a++) {
            xv[i].shape[a] = view.shape[a]; // a label the operand lacks: broadcast, stride 0
        }
        xs[i] = &xv[i];
    }
    return cc_mul_into(&view, n, xs);
}

int
cc_einsum(cc_tensor *out, int n_operands, const cc_tensor *const *operands,
          const uint8_t *const *labels, int n_out, const uint8_t *out_labels,
          cc_dtype dtype_if_empty)
{
    memset(out, 0, sizeof(*out));
    label_info li;
    out_info o;
    if (check_inputs(n_operands, operands, labels, n_out, out_labels, &li, &o) < 0) {
        return -1;
    }
    if (n_operands == 0) {
        return cc_tensor_init_scalar(out, dtype_if_empty, 1.0);
    }
    cc_dtype dtype = operands[0]->dtype;
    for (int l = 0; l < N_LABELS; l++) {
        if (li.count[l] > 0 && li.size[l] == 0) {
            // A sum over nothing, or an empty result: zeros either way.
            return cc_tensor_init_zeros(out, dtype, o.n_out, o.shape);
        }
    }

    operand *store = cc_calloc((size_t)n_operands, sizeof(operand));
    operand **ops = cc_calloc((size_t)n_operands, sizeof(operand *));
    int n_live = 0;
    int rc = -1;
    if (store == NULL || ops == NULL) {
        goto done;
    }
    for (int i = 0; i < n_operands; i++) {
        operand *op = &store[i];
        cc_tensor_init_view(&op->t, operands[i]);
        copy_labels(op->lab, labels[i], op->t.ndim);
        ops[n_live++] = op;
        if (simplify_view(&op->t, op->lab) < 0) {
            goto done;
        }
    }
    // Count again on the simplified operands: diagonals and dropped size-1 axes change counts.
    memset(li.count, 0, sizeof(li.count));
    for (int i = 0; i < n_live; i++) {
        for (int a = 0; a < ops[i]->t.ndim; a++) {
            li.count[ops[i]->lab[a]]++;
        }
    }
    for (int i = 0; i < n_live; i++) {
        if (sum_unneeded(ops[i], &li) < 0) {
            goto done;
        }
    }

    if (n_live == 3 && !o.repeats && !sums_any(ops, n_live, &li)) {
        rc = product_into_out(out, ops, n_live, &o, out_labels, dtype);
        goto done;
    }
    while (n_live > 1) {
        int i;
        int j;
        choose_pair(ops, n_live, &li, &i, &j);
        operand *x = ops[i];
        operand *y = ops[j];
        uint8_t keep[N_LABELS];
        for (int l = 0; l < N_LABELS; l++) {
            int others = li.count[l] - has_label(x, (uint8_t)l) - has_label(y, (uint8_t)l);
            keep[l] = li.in_out[l] || others > 0;
        }
        for (int a = 0; a < x->t.ndim; a++) {
            li.count[x->lab[a]]--;
        }
        for (int a = 0; a < y->t.ndim; a++) {
            li.count[y->lab[a]]--;
        }
        operand r;
        memset(&r, 0, sizeof(r));
        int wrote = 0;
        if (n_live == 2) {
            cc_tensor view;
            if (alloc_out(out, &view, &o, out_labels, dtype) < 0) {
                goto done;
            }
            wrote = contract_pair(&r, x, y, keep, &li, &view, o.vlab);
        } else {
            wrote = contract_pair(&r, x, y, keep, &li, NULL, NULL);
        }
        if (wrote < 0) {
            goto done;
        }
        cc_tensor_clear(&x->t);
        cc_tensor_clear(&y->t);
        if (wrote == 1) {
            rc = 0;
            goto done;
        }
        *x = r;
        for (int a = 0; a < x->t.ndim; a++) {
            li.count[x->lab[a]]++;
        }
        ops[j] = ops[--n_live];
    }
    rc = deliver(out, ops[0], &o, out_labels);

done:
    if (store != NULL) {
        for (int i = 0; i < n_operands; i++) {
            cc_tensor_clear(&store[i].t);
        }
    }
    cc_free(store);
    cc_free(ops);
    if (rc < 0) {
        cc_tensor_clear(out);
    }
    return rc;
}
