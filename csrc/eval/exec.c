// Executor: runs a plan in order through the kernel table of the backend that holds the
// requested device, releasing each intermediate once its last consumer has run, and hands
// the requested outputs to the caller as host tensors. Runs without the GIL; Python
// callbacks take it themselves.
#include <stdio.h>
#include <string.h>

#include "eval/eval.h"
#include "eval/eval_impl.h"
#include "util/alloc.h"
#include "util/error.h"

// A kind function that returns the wrong shape would corrupt every consumer; this also
// catches Python GeneralFunctions whose function disagrees with their shape info.
static int
check_result_shape(const cc_node *n, const cc_tensor *t)
{
    int same = t->ndim == n->ndim;
    for (int i = 0; same && i < n->ndim; i++) {
        same = t->shape[i] == n->shape[i];
    }
    if (same) {
        return 0;
    }
    char got[512];
    size_t len = 0;
    got[0] = '\0';
    for (int i = 0; i < t->ndim && len < sizeof got; i++) {
        len += (size_t)snprintf(got + len, sizeof got - len, i == 0 ? "%lld" : ",%lld",
                                (long long)t->shape[i]);
    }
    return cc_fail(CC_E_TENSOR_EVAL, "the result has shape [%s], not the node's shape", got);
}

// The distinct buffers the plan's results hold, with how many results hold each: a buffer
// counts towards the live bytes from the first result holding it until the last is released,
// unless a leaf's result holds it (memory that exists before the run). Few buffers are live
// at once, so a list searched from its recent end is enough.
typedef struct {
    const cc_buffer *buf;
    int64_t holders;
    int64_t bytes; // 0 for memory that exists anyway
} held_buffer;

typedef struct {
    held_buffer *items;
    size_t len, cap;
    int64_t live;
    int64_t peak;
} buffer_meter;

static held_buffer *
meter_find(buffer_meter *m, const cc_buffer *buf)
{
    for (size_t k = m->len; k > 0; k--) {
        if (m->items[k - 1].buf == buf) {
            return &m->items[k - 1];
        }
    }
    return NULL;
}

static int
meter_hold(buffer_meter *m, const cc_tensor *t, int is_leaf)
{
    if (t->buf == NULL) {
        return 0;
    }
    held_buffer *h = meter_find(m, t->buf);
    if (h != NULL) {
        h->holders++;
        return 0;
    }
    if (cc_grow((void **)&m->items, &m->cap, m->len + 1, sizeof(held_buffer)) < 0) {
        return -1;
    }
    int64_t bytes = is_leaf ? 0 : (int64_t)t->buf->nbytes;
    m->items[m->len++] = (held_buffer){t->buf, 1, bytes};
    m->live += bytes;
    if (m->live > m->peak) {
        m->peak = m->live;
    }
    return 0;
}

static void
meter_drop(buffer_meter *m, const cc_tensor *t)
{
    held_buffer *h = t->buf != NULL ? meter_find(m, t->buf) : NULL;
    if (h == NULL || --h->holders > 0) {
        return;
    }
    m->live -= h->bytes;
    *h = m->items[--m->len];
}

// Results live in separately allocated structs, made when a node runs and freed at its
// last use, so the few live at once stay in cache however long the plan is.
static void
release(cc_tensor **vals, int64_t i, buffer_meter *m)
{
    if (vals[i] != NULL) {
        meter_drop(m, vals[i]);
        cc_tensor_clear(vals[i]);
        cc_free(vals[i]);
        vals[i] = NULL;
    }
}

// Every node is checked before any runs, so that an unsupported kind fails at once.
static int
check_supported(const cc_plan *p, const cc_backend *b)
{
    for (int64_t i = 0; i < p->n; i++) {
        if (!cc_backend_supports(b, p->nodes[i])) {
            char desc[512];
            char device[64];
            cc_eval_describe_node(p->nodes[i], desc, sizeof desc);
            cc_device_describe((cc_device){b->device, b->device_index}, device, sizeof device);
            return cc_fail(CC_E_TENSOR_EVAL, "%s is not supported on %s (backend '%s')", desc,
                           device, b->name);
        }
    }
    return 0;
}

// out becomes x on the host: a view of host memory, else a copy through the backend.
static int
to_host(const cc_backend *b, const cc_tensor *x, cc_tensor *out)
{
    if (x->buf->device == CC_DEVICE_CPU) {
        cc_tensor_init_view(out, x);
        return 0;
    }
    if (!cc_tensor_is_contiguous(x)) {
        return cc_fail(CC_E_TENSOR_EVAL, "backend '%s' left a strided result on the device",
                       b->name);
    }
    if (cc_tensor_init_empty(out, x->dtype, x->ndim, x->shape) < 0) {
        return -1;
    }
    size_t nbytes = (size_t)cc_tensor_numel(x) * cc_dtype_size(x->dtype);
    if (b->copy_to_host(b, out->data, x->data, nbytes) < 0) {
        cc_tensor_clear(out);
        return -1;
    }
    return 0;
}

int
cc_plan_run(const cc_plan *p, const cc_backend *b, cc_tensor *results, cc_plan_measure *measured)
{
    if (p->n_outputs > 0) {
        memset(results, 0, (size_t)p->n_outputs * sizeof(cc_tensor));
    }
    if (check_supported(p, b) < 0) {
        return -1;
    }
    buffer_meter meter = {NULL, 0, 0, 0, 0};
    size_t n_vals = (size_t)(p->n > 0 ? p->n : 1);
    cc_tensor **vals = cc_calloc(n_vals, sizeof(cc_tensor *));
    int64_t *remaining = cc_malloc(n_vals * sizeof(int64_t));
    const cc_tensor **inputs =
        cc_malloc((size_t)(p->max_children > 0 ? p->max_children : 1) * sizeof(cc_tensor *));
    if (vals == NULL || remaining == NULL || inputs == NULL) {
        goto fail;
    }
    memcpy(remaining, p->n_consumers, (size_t)p->n * sizeof(int64_t));

    for (int64_t i = 0; i < p->n; i++) {
        const cc_node *node = p->nodes[i];
        const int64_t *slots = p->child_ix + p->child_start[i];
        vals[i] = cc_calloc(1, sizeof(cc_tensor));
        if (vals[i] == NULL) {
            goto fail;
        }
        for (int j = 0; j < node->n_children; j++) {
            inputs[j] = vals[slots[j]];
        }
        if (b->kernels[node->kind](b, node, inputs, vals[i]) < 0 ||
            check_result_shape(node, vals[i]) < 0) {
            char desc[512];
            cc_eval_describe_node(node, desc, sizeof desc);
            cc_error_prefix("evaluating %s", desc);
            goto fail;
        }
        if (meter_hold(&meter, vals[i], cc_kind_has(node->kind, CC_LEAF)) < 0) {
            goto fail;
        }
        for (int j = 0; j < node->n_children; j++) {
            if (--remaining[slots[j]] == 0) {
                release(vals, slots[j], &meter);
            }
        }
    }
    if (b->synchronize(b) < 0) {
        goto fail;
    }
    // Each request gets its own tensor, so a node requested twice yields two results.
    for (int k = 0; k < p->n_outputs; k++) {
        if (to_host(b, vals[p->output_ix[k]], &results[k]) < 0) {
            for (int j = 0; j < k; j++) {
                cc_tensor_clear(&results[j]);
            }
            goto fail;
        }
    }
    if (measured != NULL) {
        measured->peak = meter.peak;
        measured->outputs = meter.live;
    }
    for (int k = 0; k < p->n_outputs; k++) {
        release(vals, p->output_ix[k], &meter);
    }
    cc_free(meter.items);
    cc_free(vals);
    cc_free(remaining);
    cc_free(inputs);
    return 0;
fail:
    if (vals != NULL) {
        for (int64_t i = 0; i < p->n; i++) {
            release(vals, i, &meter);
        }
    }
    cc_free(meter.items);
    cc_free(vals);
    cc_free(remaining);
    cc_free(inputs);
    return -1;
}

int
cc_eval_run(int n, cc_node *const *prepared, cc_device device, cc_tensor *results,
            cc_eval_stats *stats)
{
    if (n > 0) {
        memset(results, 0, (size_t)n * sizeof(cc_tensor));
    }
    const cc_backend *b = cc_backend_get(device);
    if (b == NULL) {
        return -1;
    }
    cc_plan *p = cc_plan_build(n, prepared);
    if (p == NULL) {
        return -1;
    }
    cc_plan_measure measured = {0, 0};
    int rc = cc_plan_run(p, b, results, &measured);
    if (rc == 0 && stats != NULL) {
        memset(stats, 0, sizeof *stats);
        stats->n_nodes_computed = p->n;
        stats->peak_bytes = p->peak_bytes;
        stats->measured_peak_bytes = measured.peak;
    }
    cc_plan_free(p);
    return rc;
}
