// Evaluation under a memory bound: decides whether the outputs fit as one plan, else picks a
// chunk of rows along the outputs' shared leading axis whose plan fits, and runs the steps
// (the outputs computed whole, then one plan per chunk) copying each chunk's rows into the
// full outputs and adding up the chunks' terms of outputs that sum over the batch. Node
// building happens in the prepare phase (GIL held), kernels in the run phase.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "eval/eval.h"
#include "eval/eval_impl.h"
#include "expand/deep_map.h"
#include "rewrite/push_down_index.h"
#include "tensor/kernels.h"
#include "util/alloc.h"
#include "util/error.h"

// How an output is computed once the batch is split: whole in a step of its own, as rows
// copied into place, or (an Einsum that sums over the batch) as the sum of its chunks' values.
enum { WHOLE = 0, ROWS = 1, SUMMED = 2 };

struct cc_chunked_eval {
    int n;                   // requested outputs
    cc_node *const *outputs; // borrowed
    int64_t max_memory;      // INT64_MAX when unbounded
    int64_t max_single;      // INT64_MAX when unbounded
    int64_t batch;           // leading size split along; 0 when nothing is split
    int64_t chunk;           // rows per chunk
    int64_t n_chunks;
    int has_rest;    // a first step computes the outputs computed whole
    int *split;      // per output: one of the modes below
    uint8_t *label;  // per SUMMED output: the Einsum label summed over the batch
    int64_t reserve; // bytes the outputs hold while the chunks run

    int64_t step;      // the prepared step, -1 before the first
    int step_n;        // nodes the step evaluates
    cc_node **nodes;   // the step's nodes (new references)
    int *out_of;       // the output each step node fills
    cc_plan *plan;     // the step's plan
    int64_t row_start; // first row of a chunk step

    cc_tensor *results; // the outputs, initialised once filled
    int *filled;
    int64_t held; // bytes the filled outputs hold
    cc_eval_stats stats;
};

static int64_t
node_bytes(const cc_node *n)
{
    return cc_shape_numel(n->ndim, n->shape) * (int64_t)cc_dtype_size(cc_eval_node_dtype(n));
}

static int64_t
tensor_bytes(const cc_tensor *t)
{
    return cc_tensor_numel(t) * (int64_t)cc_dtype_size(t->dtype);
}

// The bounds [start, stop) a slice item selects on an axis of length len.
static void
slice_bounds(const cc_index_item *it, int64_t len, int64_t *start, int64_t *stop)
{
    int64_t lo = it->has_start ? it->start : 0;
    int64_t hi = it->has_stop ? it->stop : len;
    lo = lo < 0 ? lo + len : lo;
    hi = hi < 0 ? hi + len : hi;
    lo = lo < 0 ? 0 : (lo > len ? len : lo);
    hi = hi < lo ? lo : (hi > len ? len : hi);
    *start = lo;
    *stop = hi;
}

static cc_index_item
slice_item(int has_bounds, int64_t start, int64_t stop)
{
    cc_index_item it;
    memset(&it, 0, sizeof it);
    it.kind = CC_INDEX_SLICE;
    it.has_start = has_bounds;
    it.has_stop = has_bounds;
    it.start = start;
    it.stop = stop;
    return it;
}

static cc_node *push_rows(cc_node *node, int axis, int64_t start, int64_t stop);

// The one axis an Index of only slices narrows (-1 when it narrows none or several, or holds
// ints or tensors), with the bounds it keeps.
static int
narrowed_axis(const cc_node *index, int64_t *start, int64_t *stop)
{
    const cc_node *child = index->children[0];
    int axis = -1;
    for (int k = 0; k < index->u.index.n_items; k++) {
        const cc_index_item *it = &index->u.index.items[k];
        if (it->kind != CC_INDEX_SLICE) {
            return -1;
        }
        int64_t lo, hi;
        slice_bounds(it, child->shape[k], &lo, &hi);
        if (lo != 0 || hi != child->shape[k]) {
            if (axis >= 0) {
                return -1;
            }
            axis = k;
            *start = lo;
            *stop = hi;
        }
    }
    return axis;
}

// Where the slice push stopped at an Index over an Index, the rows go through the inner one:
// Index(Index(y, items), rows on axis k) is Index(y', items') with the rows moved onto the
// axis of y that axis k comes from (a slice composed with the inner one and pushed down into
// y, or the matching part of an index tensor). Other nodes are descended into.
static int
fuse_pre(void *ctx, cc_node *node, cc_node **out)
{
    (void)ctx;
    int64_t start = 0;
    int64_t stop = 0;
    if (node->kind != CC_KIND_INDEX || node->children[0]->kind != CC_KIND_INDEX) {
        return 0;
    }
    int k = narrowed_axis(node, &start, &stop);
    if (k < 0) {
        return 0;
    }
    cc_node *inner = node->children[0];
    cc_node *y = inner->children[0];
    int n_items = inner->u.index.n_items;
    int a = 0;
    for (int kept = -1; a < n_items; a++) {
        kept += inner->u.index.items[a].kind != CC_INDEX_INT;
        if (kept == k) {
            break;
        }
    }
    if (a == n_items) {
        return 0;
    }
    cc_index_item items[CC_MAX_NDIM];
    for (int i = 0; i < n_items; i++) {
        cc_index_item_share(&items[i], &inner->u.index.items[i]);
    }
    cc_node *base = NULL;
    cc_node *fused = NULL;
    const cc_index_item *at = &inner->u.index.items[a];
    cc_index_item_clear(&items[a]);
    if (at->kind == CC_INDEX_TENSOR) {
        cc_tensor part;
        cc_tensor_init_view(&part, &at->tensor->value);
        memset(&items[a], 0, sizeof items[a]);
        items[a].kind = CC_INDEX_TENSOR;
        if (cc_tensor_slice(&part, 0, start, stop) < 0 ||
            cc_index_item_set_tensor(&items[a], &part) < 0) {
            cc_tensor_clear(&part);
            items[a].kind = CC_INDEX_SLICE;
            goto done;
        }
        base = y;
        cc_node_incref(base);
    } else {
        int64_t lo, hi;
        slice_bounds(at, y->shape[a], &lo, &hi);
        (void)hi;
        items[a] = slice_item(0, 0, 0);
        base = push_rows(y, a, lo + start, lo + stop);
        if (base == NULL) {
            goto done;
        }
    }
    fused = cc_index_new(base, n_items, items, NULL);
done:
    cc_index_items_clear(items, n_items);
    cc_node_decref(base);
    if (fused == NULL) {
        return -1;
    }
    *out = fused;
    return 2;
}

// Pushes that reach a node along different paths may leave Indexes that select the same
// (a whole axis as ":" or as "0:len"); written one way, equal subterms hash equal and the plan
// computes them once. Other nodes are rebuilt over their mapped children.
static cc_node *
canonical_post(void *ctx, cc_node *node, cc_node *const *kids, int changed)
{
    (void)ctx;
    if (node->kind != CC_KIND_INDEX) {
        return cc_deep_map_rebuild(node, kids, changed);
    }
    const cc_node *child = kids[0];
    int n_items = node->u.index.n_items;
    int canonical = 1;
    cc_index_item items[CC_MAX_NDIM];
    for (int k = 0; k < n_items; k++) {
        const cc_index_item *it = &node->u.index.items[k];
        cc_index_item_share(&items[k], it);
        if (it->kind == CC_INDEX_SLICE) {
            int64_t lo, hi;
            slice_bounds(it, child->shape[k], &lo, &hi);
            items[k] =
                lo == 0 && hi == child->shape[k] ? slice_item(0, 0, 0) : slice_item(1, lo, hi);
        } else if (it->kind == CC_INDEX_INT && it->i < 0) {
            items[k].i = it->i + child->shape[k];
        }
        canonical &= it->kind == CC_INDEX_TENSOR || (it->kind == CC_INDEX_INT && it->i >= 0) ||
                     (it->kind == CC_INDEX_SLICE && items[k].has_start == it->has_start &&
                      items[k].start == it->start && items[k].stop == it->stop &&
                      items[k].has_stop == it->has_stop);
    }
    cc_node *out = canonical ? cc_deep_map_rebuild(node, kids, changed)
                             : cc_index_new(kids[0], n_items, items, node->name);
    cc_index_items_clear(items, n_items);
    return out;
}

// node[start:stop] along axis, the slice pushed down as far as it goes (through Indexes too);
// where it cannot be pushed the Index stays above (correct, just not smaller). New reference
// or NULL.
static cc_node *
push_rows(cc_node *node, int axis, int64_t start, int64_t stop)
{
    cc_index_item items[CC_MAX_NDIM];
    for (int i = 0; i < axis; i++) {
        items[i] = slice_item(0, 0, 0);
    }
    items[axis] = slice_item(1, start, stop);
    cc_node *index = cc_index_new(node, axis + 1, items, NULL);
    if (index == NULL) {
        return NULL;
    }
    cc_push_down_options o = {
        .traversal = NULL, .suffix = NULL, .allow_partial_pushdown = 1, .elim_identity = 1};
    cc_node *pushed = cc_push_down_index(index, &o);
    if (pushed == NULL) {
        cc_error_kind kind = cc_error_kind_get();
        if (kind == CC_E_NO_MEMORY || kind == CC_E_PYTHON) {
            cc_node_decref(index);
            return NULL;
        }
        cc_error_clear();
        return index;
    }
    cc_node_decref(index);
    return pushed;
}

// node[start:stop] along axis, pushed down to the leaves where the graph allows.
static cc_node *
rows_of(cc_node *node, int axis, int64_t start, int64_t stop)
{
    cc_node *pushed = push_rows(node, axis, start, stop);
    if (pushed == NULL) {
        return NULL;
    }
    cc_node *fused = cc_deep_map(pushed, fuse_pre, canonical_post, NULL);
    cc_node_decref(pushed);
    return fused;
}

// The Einsum e over its children's rows [start, stop) along the axes labelled label: one
// chunk's term of a sum over the batch. New reference or NULL.
static cc_node *
summed_rows(cc_node *e, uint8_t label, int64_t start, int64_t stop)
{
    cc_node **kids = cc_calloc((size_t)e->n_children, sizeof(cc_node *));
    if (kids == NULL) {
        return NULL;
    }
    cc_node *out = NULL;
    const uint8_t *axes = e->u.einsum.in_axes;
    for (int j = 0; j < e->n_children; j++) {
        cc_node *child = e->children[j];
        int axis = -1;
        for (int a = 0; a < child->ndim; a++) {
            axis = axes[a] == label ? a : axis;
        }
        axes += child->ndim;
        if (axis < 0) {
            kids[j] = child;
            cc_node_incref(child);
        } else if ((kids[j] = rows_of(child, axis, start, stop)) == NULL) {
            goto done;
        }
    }
    out = cc_einsum_new(e->n_children, kids, e->u.einsum.in_axes, e->ndim, e->u.einsum.out_axes,
                        e->name);
done:
    for (int j = 0; j < e->n_children; j++) {
        cc_node_decref(kids[j]);
    }
    cc_free(kids);
    return out;
}

// Whether output o (not split into rows) is an Einsum summing over a label of the batch size
// that no child repeats, with a float result: then the sum of its chunks' values is its value.
static int
summed_label(const cc_node *o, int64_t batch, uint8_t *label)
{
    cc_dtype dtype = cc_eval_node_dtype(o);
    if (o->kind != CC_KIND_EINSUM || (dtype != CC_DTYPE_F32 && dtype != CC_DTYPE_F64)) {
        return 0;
    }
    const uint8_t *axes = o->u.einsum.in_axes;
    int found = 0;
    for (int j = 0; j < o->n_children && !found; j++) {
        const cc_node *child = o->children[j];
        for (int a = 0; a < child->ndim && !found; a++) {
            found =
                child->shape[a] == batch &&
                (o->ndim == 0 || memchr(o->u.einsum.out_axes, axes[a], (size_t)o->ndim) == NULL);
            *label = axes[a];
        }
        axes += child->ndim;
    }
    if (!found) {
        return 0;
    }
    axes = o->u.einsum.in_axes;
    for (int j = 0; j < o->n_children; j++) {
        int times = 0;
        for (int a = 0; a < o->children[j]->ndim; a++) {
            times += axes[a] == *label;
        }
        axes += o->children[j]->ndim;
        if (times > 1) {
            return 0;
        }
    }
    return 1;
}

static void
step_clear(cc_chunked_eval *c)
{
    cc_plan_free(c->plan);
    c->plan = NULL;
    for (int i = 0; i < c->step_n; i++) {
        cc_node_decref(c->nodes[i]);
        c->nodes[i] = NULL;
    }
    c->step_n = 0;
}

// The step's nodes: the outputs computed whole (rest), every output (whole), or the chunk of
// rows [start, stop): the split outputs' rows and the summed outputs' terms.
static int
step_build(cc_chunked_eval *c, int rest, int whole, int64_t start, int64_t stop)
{
    step_clear(c);
    for (int k = 0; k < c->n; k++) {
        int take = whole || (rest ? c->split[k] == WHOLE : c->split[k] != WHOLE);
        if (!take) {
            continue;
        }
        cc_node *node;
        if (whole || rest) {
            node = c->outputs[k];
            cc_node_incref(node);
        } else {
            node = c->split[k] == ROWS ? rows_of(c->outputs[k], 0, start, stop)
                                       : summed_rows(c->outputs[k], c->label[k], start, stop);
            if (node == NULL) {
                return -1;
            }
        }
        c->nodes[c->step_n] = node;
        c->out_of[c->step_n] = k;
        c->step_n++;
    }
    c->plan = cc_plan_build(c->step_n, c->nodes);
    return c->plan == NULL ? -1 : 0;
}

// Whether the built step fits when base bytes are held besides it.
static int
step_fits(const cc_chunked_eval *c, int64_t base)
{
    return c->plan->peak_bytes <= c->max_memory - base &&
           c->plan->max_tensor_bytes <= c->max_single;
}

// The error for a step that does not fit with base bytes held besides it: what it needs
// against what the limits allow. how says which step, after says why there is no way out.
static int
fail_step(const cc_chunked_eval *c, int64_t base, const char *how, const char *after)
{
    if (c->plan->max_tensor_bytes > c->max_single) {
        char desc[512];
        cc_eval_describe_node(c->plan->nodes[c->plan->max_tensor_ix], desc, sizeof desc);
        return cc_fail(CC_E_SCHEDULING_OOMSINGLE,
                       "evaluation %s needs a tensor of %lld bytes (%s), more than "
                       "max_single_tensor_memory=%lld%s",
                       how, (long long)c->plan->max_tensor_bytes, desc, (long long)c->max_single,
                       after);
    }
    char held[96] = "";
    if (base > 0) {
        snprintf(held, sizeof held, " (%lld of them for the full outputs)", (long long)base);
    }
    return cc_fail(CC_E_SCHEDULING_OOM,
                   "evaluation %s needs %lld bytes at its peak%s, more than max_memory=%lld%s", how,
                   (long long)(base + c->plan->peak_bytes), held, (long long)c->max_memory, after);
}

// Largest chunk of rows whose step fits (plans of chunks are probed: halving from the whole
// batch, then a bisection between the last size that fitted and the one that did not).
static int
choose_chunk(cc_chunked_eval *c)
{
    int64_t good = 0;
    int64_t bad = c->batch;
    int64_t size = c->batch / 2 > 0 ? c->batch / 2 : 1;
    while (good == 0) {
        if (step_build(c, 0, 0, 0, size) < 0) {
            return -1;
        }
        if (step_fits(c, c->reserve)) {
            good = size;
        } else if (size == 1) {
            char how[128];
            snprintf(how, sizeof how, "in chunks of 1 row along the leading axis (size %lld)",
                     (long long)c->batch);
            return fail_step(c, c->reserve, how, "");
        } else {
            bad = size;
            size /= 2;
        }
    }
    while (bad - good > 1 && bad - good > good / 8) {
        int64_t mid = good + (bad - good) / 2;
        if (step_build(c, 0, 0, 0, mid) < 0) {
            return -1;
        }
        if (step_fits(c, c->reserve)) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    c->chunk = good;
    c->n_chunks = (c->batch + good - 1) / good;
    step_clear(c);
    return 0;
}

// Called when the whole plan does not fit: marks the outputs to split and sizes the chunks.
static int
plan_chunks(cc_chunked_eval *c)
{
    // The leading size of the biggest intermediate, when outputs can be split along it.
    const cc_node *big =
        c->plan->max_tensor_ix >= 0 ? c->plan->nodes[c->plan->max_tensor_ix] : NULL;
    for (int k = 0; big != NULL && big->ndim >= 1 && big->shape[0] > 1 && k < c->n; k++) {
        const cc_node *o = c->outputs[k];
        uint8_t label;
        if ((o->ndim >= 1 && o->shape[0] == big->shape[0]) ||
            summed_label(o, big->shape[0], &label)) {
            c->batch = big->shape[0];
            break;
        }
    }
    // Else the first output's leading size.
    for (int k = 0; k < c->n && c->batch == 0; k++) {
        if (c->outputs[k]->ndim >= 1 && c->outputs[k]->shape[0] > 1) {
            c->batch = c->outputs[k]->shape[0];
        }
    }
    // Without one, an Einsum output summing over its first child's leading axis (a loss's
    // mean over the batch) gives the batch.
    for (int k = 0; k < c->n && c->batch == 0; k++) {
        const cc_node *o = c->outputs[k];
        uint8_t label;
        if (o->kind == CC_KIND_EINSUM && o->n_children > 0 && o->children[0]->ndim >= 1 &&
            o->children[0]->shape[0] > 1 && summed_label(o, o->children[0]->shape[0], &label)) {
            c->batch = o->children[0]->shape[0];
        }
    }
    if (c->batch == 0) {
        return fail_step(c, 0, "as one plan",
                         ", and no output has a leading axis longer than 1 or sums over one to "
                         "split along");
    }
    step_clear(c);
    for (int k = 0; k < c->n; k++) {
        const cc_node *o = c->outputs[k];
        if (o->ndim >= 1 && o->shape[0] == c->batch) {
            c->split[k] = ROWS;
        } else if (summed_label(o, c->batch, &c->label[k])) {
            c->split[k] = SUMMED;
            c->reserve += node_bytes(o); // the running sum and the next one, while adding
        }
        c->has_rest |= c->split[k] == WHOLE;
        c->reserve += node_bytes(o);
    }
    if (c->has_rest) {
        if (step_build(c, 1, 0, 0, 0) < 0) {
            return -1;
        }
        if (!step_fits(c, 0)) {
            return fail_step(c, 0, "of the outputs computed whole", "");
        }
    }
    return choose_chunk(c);
}

cc_chunked_eval *
cc_chunked_eval_new(int n, cc_node *const *prepared, const cc_eval_limits *lim)
{
    cc_chunked_eval *c = cc_calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    size_t slots = (size_t)(n > 0 ? n : 1);
    c->n = n;
    c->outputs = prepared;
    c->max_memory = lim->max_memory > 0 ? lim->max_memory : INT64_MAX;
    c->max_single = lim->max_single_tensor_memory > 0 ? lim->max_single_tensor_memory : INT64_MAX;
    c->step = -1;
    c->split = cc_calloc(slots, sizeof(int));
    c->label = cc_calloc(slots, sizeof(uint8_t));
    c->nodes = cc_calloc(slots, sizeof(cc_node *));
    c->out_of = cc_calloc(slots, sizeof(int));
    c->results = cc_calloc(slots, sizeof(cc_tensor));
    c->filled = cc_calloc(slots, sizeof(int));
    if (c->split == NULL || c->label == NULL || c->nodes == NULL || c->out_of == NULL ||
        c->results == NULL || c->filled == NULL) {
        goto fail;
    }
    if (step_build(c, 0, 1, 0, 0) < 0) {
        goto fail;
    }
    // A plan that fits stays built for step 0.
    if (!step_fits(c, 0) && plan_chunks(c) < 0) {
        goto fail;
    }
    return c;
fail:
    cc_chunked_eval_free(c);
    return NULL;
}

int64_t
cc_chunked_eval_n_steps(const cc_chunked_eval *c)
{
    return c->batch == 0 ? 1 : c->has_rest + c->n_chunks;
}

int
cc_chunked_eval_prepare_step(cc_chunked_eval *c, int64_t i)
{
    c->step = i;
    if (c->batch == 0) {
        return c->plan != NULL ? 0 : step_build(c, 0, 1, 0, 0);
    }
    if (c->has_rest && i == 0) {
        return step_build(c, 1, 0, 0, 0);
    }
    int64_t j = i - c->has_rest;
    c->row_start = j * c->chunk;
    int64_t stop = c->row_start + c->chunk < c->batch ? c->row_start + c->chunk : c->batch;
    if (step_build(c, 0, 0, c->row_start, stop) < 0) {
        return -1;
    }
    if (!step_fits(c, c->reserve)) {
        char how[128];
        snprintf(how, sizeof how, "of rows %lld..%lld", (long long)c->row_start, (long long)stop);
        return fail_step(c, c->reserve, how, "");
    }
    return 0;
}

static void
note_peak(cc_chunked_eval *c, int64_t measured)
{
    if (measured > c->stats.measured_peak_bytes) {
        c->stats.measured_peak_bytes = measured;
    }
}

// The full outputs a chunk step writes into, made at the first chunk with its rows' dtypes.
static int
make_full_outputs(cc_chunked_eval *c, const cc_tensor *rows)
{
    for (int s = 0; s < c->step_n; s++) {
        int k = c->out_of[s];
        if (c->filled[k] || c->split[k] != ROWS) {
            continue;
        }
        const cc_node *o = c->outputs[k];
        if (cc_tensor_init_empty(&c->results[k], rows[s].dtype, o->ndim, o->shape) < 0) {
            return -1;
        }
        c->filled[k] = 1;
        c->held += tensor_bytes(&c->results[k]);
    }
    return 0;
}

static int
store_rows(cc_chunked_eval *c, const cc_tensor *rows)
{
    for (int s = 0; s < c->step_n; s++) {
        if (c->split[c->out_of[s]] != ROWS) {
            continue;
        }
        cc_tensor dst;
        cc_tensor_init_view(&dst, &c->results[c->out_of[s]]);
        int rc = cc_tensor_slice(&dst, 0, c->row_start, c->row_start + rows[s].shape[0]);
        if (rc == 0) {
            rc = cc_tensor_copy_into(&dst, &rows[s]);
        }
        cc_tensor_clear(&dst);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

// Adds the chunk's terms of the summed outputs to their running sums (the first term becomes
// the sum). rows_held: what the chunk's values hold besides the outputs.
static int
add_terms(cc_chunked_eval *c, cc_tensor *rows, int64_t rows_held)
{
    for (int s = 0; s < c->step_n; s++) {
        int k = c->out_of[s];
        if (c->split[k] != SUMMED) {
            continue;
        }
        if (!c->filled[k]) {
            c->results[k] = rows[s];
            memset(&rows[s], 0, sizeof rows[s]);
            c->filled[k] = 1;
            c->held += tensor_bytes(&c->results[k]);
            continue;
        }
        cc_tensor sum;
        if (cc_binary(&sum, CC_BINARY_ADD, &c->results[k], &rows[s]) < 0) {
            return -1;
        }
        note_peak(c, c->held + rows_held + tensor_bytes(&sum));
        cc_tensor_clear(&c->results[k]);
        c->results[k] = sum;
    }
    return 0;
}

int
cc_chunked_eval_run_step(cc_chunked_eval *c, cc_device device)
{
    const cc_backend *b = cc_backend_get(device);
    if (b == NULL) {
        return -1;
    }
    cc_tensor *rows = cc_calloc((size_t)(c->step_n > 0 ? c->step_n : 1), sizeof(cc_tensor));
    if (rows == NULL) {
        return -1;
    }
    cc_plan_measure measured = {0, 0};
    if (cc_plan_run(c->plan, b, rows, &measured) < 0) {
        cc_free(rows);
        return -1;
    }
    note_peak(c, c->held + measured.peak);
    int64_t estimate =
        (c->batch != 0 && !(c->has_rest && c->step == 0) ? c->reserve : 0) + c->plan->peak_bytes;
    if (estimate > c->stats.peak_bytes) {
        c->stats.peak_bytes = estimate;
    }
    c->stats.n_nodes_computed += c->plan->n;
    int rc = 0;
    int chunk_step = c->batch != 0 && !(c->has_rest && c->step == 0);
    if (!chunk_step) {
        for (int s = 0; s < c->step_n; s++) {
            int k = c->out_of[s];
            c->results[k] = rows[s];
            c->filled[k] = 1;
            c->held += tensor_bytes(&rows[s]);
            memset(&rows[s], 0, sizeof rows[s]);
        }
    } else {
        rc = make_full_outputs(c, rows);
        if (rc == 0) {
            note_peak(c, c->held + measured.outputs);
            rc = store_rows(c, rows);
        }
        if (rc == 0) {
            rc = add_terms(c, rows, measured.outputs);
        }
    }
    for (int s = 0; s < c->step_n; s++) {
        cc_tensor_clear(&rows[s]);
    }
    cc_free(rows);
    return rc;
}

void
cc_chunked_eval_finish(cc_chunked_eval *c, cc_tensor *results, cc_eval_stats *stats)
{
    for (int k = 0; k < c->n; k++) {
        results[k] = c->results[k];
        memset(&c->results[k], 0, sizeof c->results[k]);
        c->filled[k] = 0;
    }
    if (stats != NULL) {
        *stats = c->stats;
        stats->batch_size = c->batch;
        stats->chunk_size = c->batch != 0 ? c->chunk : 0;
        stats->n_chunks = c->batch != 0 ? c->n_chunks : 0;
    }
}

void
cc_chunked_eval_free(cc_chunked_eval *c)
{
    if (c == NULL) {
        return;
    }
    if (c->nodes != NULL) {
        step_clear(c);
    }
    if (c->results != NULL) {
        for (int k = 0; k < c->n; k++) {
            if (c->filled != NULL && c->filled[k]) {
                cc_tensor_clear(&c->results[k]);
            }
        }
    }
    cc_free(c->split);
    cc_free(c->label);
    cc_free(c->nodes);
    cc_free(c->out_of);
    cc_free(c->results);
    cc_free(c->filled);
    cc_free(c);
}
