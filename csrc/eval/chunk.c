// Evaluation under a memory bound: decides whether the outputs fit as one plan, else picks a
// chunk of rows along the outputs' shared leading axis whose plan fits, and runs the steps
// (the unsplit outputs, then one plan per chunk) copying each chunk's rows into the full
// outputs. Node building happens in the prepare phase (GIL held), kernels in the run phase.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "eval/eval.h"
#include "eval/eval_impl.h"
#include "rewrite/push_down_index.h"
#include "util/alloc.h"
#include "util/error.h"

struct cc_chunked_eval {
    int n;                   // requested outputs
    cc_node *const *outputs; // borrowed
    int64_t max_memory;      // INT64_MAX when unbounded
    int64_t max_single;      // INT64_MAX when unbounded
    int64_t batch;           // leading size split along; 0 when nothing is split
    int64_t chunk;           // rows per chunk
    int64_t n_chunks;
    int has_rest;    // a first step computes the outputs that are not split
    int *split;      // per output: 1 when it is computed in chunks
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

// outputs[k][start:stop] along axis 0, the slice pushed down as far as it goes; where it cannot
// be pushed the Index stays on top (correct, just not smaller). New reference or NULL.
static cc_node *
rows_of(cc_node *out, int64_t start, int64_t stop)
{
    cc_index_item item;
    memset(&item, 0, sizeof item);
    item.kind = CC_INDEX_SLICE;
    item.has_start = 1;
    item.has_stop = 1;
    item.start = start;
    item.stop = stop;
    cc_node *index = cc_index_new(out, 1, &item, NULL);
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

// The step's nodes: the unsplit outputs (rest), every output (whole), or rows [start, stop)
// of the split ones.
static int
step_build(cc_chunked_eval *c, int rest, int whole, int64_t start, int64_t stop)
{
    step_clear(c);
    for (int k = 0; k < c->n; k++) {
        int take = whole || (rest ? !c->split[k] : c->split[k]);
        if (!take) {
            continue;
        }
        cc_node *node;
        if (whole || rest) {
            node = c->outputs[k];
            cc_node_incref(node);
        } else {
            node = rows_of(c->outputs[k], start, stop);
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

// The error for a step that does not fit, what a run in chunks of one row (or a whole run)
// would need against what the limits allow.
static int
fail_step(const cc_chunked_eval *c, int64_t base, const char *how)
{
    if (c->plan->max_tensor_bytes > c->max_single) {
        char desc[512];
        cc_eval_describe_node(c->plan->nodes[c->plan->max_tensor_ix], desc, sizeof desc);
        return cc_fail(CC_E_SCHEDULING_OOMSINGLE,
                       "evaluation %s needs a tensor of %lld bytes (%s), more than "
                       "max_single_tensor_memory=%lld",
                       how, (long long)c->plan->max_tensor_bytes, desc, (long long)c->max_single);
    }
    return cc_fail(CC_E_SCHEDULING_OOM,
                   "evaluation %s needs %lld bytes at its peak (%lld of them held by the "
                   "outputs), more than max_memory=%lld",
                   how, (long long)(base + c->plan->peak_bytes), (long long)base,
                   (long long)c->max_memory);
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
            return fail_step(c, c->reserve, how);
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
    for (int k = 0; k < c->n && c->batch == 0; k++) {
        if (c->outputs[k]->ndim >= 1 && c->outputs[k]->shape[0] > 1) {
            c->batch = c->outputs[k]->shape[0];
        }
    }
    if (c->batch == 0) {
        return fail_step(c, 0, "as one plan (no output has a leading axis to split along)");
    }
    step_clear(c);
    for (int k = 0; k < c->n; k++) {
        const cc_node *o = c->outputs[k];
        c->split[k] = o->ndim >= 1 && o->shape[0] == c->batch;
        c->has_rest |= !c->split[k];
        c->reserve += node_bytes(o);
    }
    if (c->has_rest) {
        if (step_build(c, 1, 0, 0, 0) < 0) {
            return -1;
        }
        if (!step_fits(c, 0)) {
            return fail_step(c, 0, "of the outputs without the split leading axis");
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
    c->nodes = cc_calloc(slots, sizeof(cc_node *));
    c->out_of = cc_calloc(slots, sizeof(int));
    c->results = cc_calloc(slots, sizeof(cc_tensor));
    c->filled = cc_calloc(slots, sizeof(int));
    if (c->split == NULL || c->nodes == NULL || c->out_of == NULL || c->results == NULL ||
        c->filled == NULL) {
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
        return fail_step(c, c->reserve, how);
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
        if (c->filled[k]) {
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
    int64_t measured = 0;
    if (cc_plan_run(c->plan, b, rows, &measured) < 0) {
        cc_free(rows);
        return -1;
    }
    note_peak(c, c->held + measured);
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
        int64_t rows_bytes = 0;
        for (int s = 0; s < c->step_n; s++) {
            rows_bytes += tensor_bytes(&rows[s]);
        }
        rc = make_full_outputs(c, rows);
        if (rc == 0) {
            note_peak(c, c->held + rows_bytes);
            rc = store_rows(c, rows);
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
    cc_free(c->nodes);
    cc_free(c->out_of);
    cc_free(c->results);
    cc_free(c->filled);
    cc_free(c);
}
