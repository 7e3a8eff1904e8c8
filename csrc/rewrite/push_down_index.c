// rc's push_down_index: an Index moved below Add, Concat, Einsum, batchable GeneralFunction
// axes, Module batch axes, Rearrange, Tag, Scalar and Scatter, while the traversal goes on
// (explicit stack, memoised by Index and traversal state). Each step plans the child Indexes,
// pushes them, then rebuilds the node above.
#include <stdio.h>
#include <string.h>

#include "expand/module.h"
#include "nodes/gf.h"
#include "rewrite/push_down_index.h"
#include "rewrite/rewrite_impl.h"
#include "util/alloc.h"
#include "util/blake3.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"

typedef enum {
    FINISH_ADD,
    FINISH_CONCAT_ONE, // the single part an int on the concat axis reaches
    FINISH_CONCAT,
    FINISH_CONCAT_TOP, // a tensor on the concat axis stays above (partial push down)
    FINISH_GF,
    FINISH_EINSUM,
    FINISH_REARRANGE,
    FINISH_TAG,
    FINISH_MODULE,
    FINISH_SCATTER,
} finish_kind;

// One pending step: index is being pushed below its child.
typedef struct {
    cc_node *index;  // owned reference
    uint8_t key[32]; // memo key: the Index and the traversal state it was pushed with
    finish_kind finish;
    int n_subs;
    cc_node **subs;            // owned; the Indexes to push (NULL where results[i] is preset)
    cc_node **results;         // owned; the pushed subs (or preset children)
    int *sub_child;            // the child of the inner node each sub indexes
    cc_imatcher **child_state; // traversal states of the inner node's children (owned)
    int next;                  // subs done so far
    char *out_name;            // owned; NULL asks for the autoname
    char *partial_name;        // owned; the Index left on top by a partial push
    int axis;                  // Concat: the axis after the index
    cc_index_item top;         // Concat: the tensor entry left on top (owned)
    int rank_to_pass;          // GeneralFunction, Module: batch axes
    uint8_t *in_axes;          // Einsum: labels of the new operands (owned)
    int n_out;                 // Einsum: output labels kept
    uint8_t out_axes[CC_MAX_NDIM];
    int n_top;                // Einsum: entries of the Index left on top
    cc_index_item *top_items; // owned
    int any_nontrivial;       // Einsum: some operand gets a non-identity index
    cc_rearrange_spec *spec;  // Rearrange: the spec above the pushed index (owned)
    int scatter_ndim;         // Scatter: the new Scatter's slices and shape
    cc_index_item scatter_items[CC_MAX_NDIM];
    int64_t scatter_shape[CC_MAX_NDIM];
} frame;

typedef struct {
    const cc_push_down_options *o;
    int once;     // a single step: subs are results as they are
    cc_hmap memo; // memo key -> owned result
} ctx;

static void
frame_clear(frame *f)
{
    for (int i = 0; i < f->n_subs; i++) {
        cc_node_decref(f->subs[i]);
        cc_node_decref(f->results[i]);
    }
    cc_free(f->subs);
    cc_free(f->results);
    cc_free(f->sub_child);
    cc_traversal_free(f->child_state, f->index != NULL ? f->index->children[0]->n_children : 0);
    cc_free(f->out_name);
    cc_free(f->partial_name);
    cc_index_item_clear(&f->top);
    cc_free(f->in_axes);
    cc_index_items_free(f->top_items, f->n_top);
    if (f->spec != NULL) {
        cc_rearrange_spec_free(f->spec);
    }
    cc_node_decref(f->index);
    memset(f, 0, sizeof *f);
}

// *out = base + mid + tail (mid and tail optional), or NULL when base is missing or mid is
// given without tail. 0, or -1.
static int
join_name(const char *base, const char *mid, const char *tail, char **out)
{
    *out = NULL;
    if (base == NULL || (mid != NULL && tail == NULL)) {
        return 0;
    }
    cc_str s;
    cc_str_init(&s);
    if (cc_str_append(&s, base) < 0 || (mid != NULL && cc_str_append(&s, mid) < 0) ||
        (tail != NULL && cc_str_append(&s, tail) < 0)) {
        cc_str_clear(&s);
        return -1;
    }
    *out = cc_str_take(&s);
    return *out == NULL ? -1 : 0;
}

// New child Index of child (rc: autonamed, or "<child>_idx_<suffix>").
static cc_node *
sub_index(const ctx *c, cc_node *child, const cc_index_item *items)
{
    char *name;
    if (join_name(child->name, "_idx_", c->o->suffix, &name) < 0) {
        return NULL;
    }
    cc_node *sub = cc_index_new(child, child->ndim, items, name);
    cc_free(name);
    return sub;
}

// "Einsum 'e'" (or "Einsum" when unnamed) in buf.
static const char *
node_text(const cc_node *n, char *buf, size_t cap)
{
    const char *kind = cc_kind_get_info(n->kind)->py_name;
    if (n->name == NULL) {
        snprintf(buf, cap, "%s", kind);
    } else {
        snprintf(buf, cap, "%s '%.60s'", kind, n->name);
    }
    return buf;
}

// "push_down_index: Index 'i' over Einsum 'e'" for messages.
static const char *
describe(const cc_node *index, char *buf, size_t cap)
{
    char a[96], b[96];
    snprintf(buf, cap, "push_down_index: %s over %s", node_text(index, a, sizeof a),
             node_text(index->children[0], b, sizeof b));
    return buf;
}

// Room for n subs, sub k indexing child k of the inner node unless the plan says otherwise.
static int
frame_alloc(frame *f, int n)
{
    f->n_subs = n;
    f->subs = cc_calloc((size_t)n + 1, sizeof(cc_node *));
    f->results = cc_calloc((size_t)n + 1, sizeof(cc_node *));
    f->sub_child = cc_malloc(((size_t)n + 1) * sizeof(int));
    if (f->subs == NULL || f->results == NULL || f->sub_child == NULL) {
        return -1;
    }
    for (int k = 0; k < n; k++) {
        f->sub_child[k] = k;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Planning: the child Indexes of one step

static int
plan_add(const ctx *c, frame *f)
{
    const cc_node *inner = f->index->children[0];
    const cc_index_item *idx = f->index->u.index.items;
    if (frame_alloc(f, inner->n_children) < 0) {
        return -1;
    }
    f->finish = FINISH_ADD;
    for (int j = 0; j < inner->n_children; j++) {
        cc_node *child = inner->children[j];
        int diff = inner->ndim - child->ndim;
        cc_index_item items[CC_MAX_NDIM];
        for (int a = 0; a < child->ndim; a++) {
            const cc_index_item *it = &idx[a + diff];
            if (child->shape[a] == inner->shape[a + diff]) {
                items[a] = *it;
            } else if (it->kind == CC_INDEX_INT) {
                items[a] = cc_item_int(0); // a broadcast axis keeps its single position
            } else if (cc_item_axis_len(it, inner->shape[a + diff]) == 0) {
                // rc keeps the size-1 axis, which does not broadcast against the now empty
                // axis of the others; an empty slice keeps the Add valid (and empty)
                items[a] = cc_item_slice(0, 0);
            } else {
                items[a] = cc_item_full();
            }
        }
        f->subs[j] = sub_index(c, child, items);
        if (f->subs[j] == NULL) {
            return -1;
        }
    }
    return 0;
}

// rc's split of one axis entry over concatenated sections: parts[i] is set (has[i] = 1) for
// each section the entry reaches, as the entry relative to that section.
static int
split_sections(const cc_index_item *it, int n, const int64_t *sections, cc_index_item *parts,
               uint8_t *has, const char *what)
{
    int64_t starts[CC_MAX_NDIM + 1];
    int64_t *st = n + 1 <= CC_MAX_NDIM + 1 ? starts : cc_malloc(((size_t)n + 1) * sizeof(int64_t));
    if (st == NULL) {
        return -1;
    }
    st[0] = 0;
    for (int i = 0; i < n; i++) {
        st[i + 1] = st[i] + sections[i];
        has[i] = 0;
    }
    int64_t len = st[n];
    int rc = 0;
    if (it->kind == CC_INDEX_TENSOR) {
        rc = cc_fail(CC_E_PUSH_DOWN_INDEX_CONCAT_SPLIT_SECTIONS_TENSOR_UNSUPPORTED,
                     "%s: an index tensor on the concat axis cannot be split over the %d parts "
                     "(allow_partial_pushdown=True leaves it on top)",
                     what, n);
    } else if (it->kind == CC_INDEX_INT) {
        int64_t single = it->i < 0 ? it->i + len : it->i;
        int part = 0;
        for (int i = 0; i < n; i++) {
            if (st[i] <= single) {
                part = i;
            }
        }
        // with empty sections several starts are equal: the last one at or before wins
        has[part] = 1;
        parts[part] = cc_item_int(single - st[part]);
    } else {
        int64_t start, stop;
        cc_item_uslice(it, len, &start, &stop);
        int any = 0;
        for (int i = 0; i < n; i++) {
            int64_t a = st[i], b = st[i] + sections[i];
            if (a < stop && b > start && (a != b || a + 1 < stop)) {
                int64_t lo = start > a ? start - a : 0;
                int64_t hi = stop - a < sections[i] ? stop - a : sections[i];
                parts[i] = cc_item_slice(lo, hi);
                has[i] = 1;
                any = 1;
            }
        }
        if (start == stop && !any) {
            if (start == 0) {
                parts[0] = cc_item_slice(start, stop);
                has[0] = 1;
            } else if (stop == len) {
                parts[n - 1] = cc_item_slice(0, 0);
                has[n - 1] = 1;
            } else {
                rc = cc_fail(CC_E_PUSH_DOWN_INDEX,
                             "%s: the empty slice %lld:%lld lies between two concatenated parts, "
                             "so which part it belongs to is ambiguous",
                             what, (long long)start, (long long)stop);
            }
        }
        if (rc == 0 && n == 1 && !has[0]) {
            parts[0] = cc_item_slice(start, stop);
            has[0] = 1;
        }
    }
    if (st != starts) {
        cc_free(st);
    }
    return rc;
}

static int
plan_concat(const ctx *c, frame *f)
{
    char what[256];
    describe(f->index, what, sizeof what);
    const cc_node *inner = f->index->children[0];
    const cc_index_item *idx = f->index->u.index.items;
    int axis = inner->u.concat.axis, n = inner->n_children;
    cc_index_item non_axis[CC_MAX_NDIM];
    for (int a = 0; a < inner->ndim; a++) {
        non_axis[a] = a == axis ? cc_item_full() : idx[a];
    }
    int64_t *sections = cc_malloc(((size_t)n + 1) * sizeof(int64_t));
    cc_index_item *parts = cc_calloc((size_t)n + 1, sizeof(cc_index_item));
    uint8_t *has = cc_calloc((size_t)n + 1, 1);
    int rc = -1;
    if (sections == NULL || parts == NULL || has == NULL) {
        goto done;
    }
    for (int i = 0; i < n; i++) {
        sections[i] = inner->children[i]->shape[axis];
    }
    int split = 1;
    if (split_sections(&idx[axis], n, sections, parts, has, what) < 0) {
        if (!(c->o->allow_partial_pushdown &&
              cc_error_kind_get() ==
                  CC_E_PUSH_DOWN_INDEX_CONCAT_SPLIT_SECTIONS_TENSOR_UNSUPPORTED)) {
            goto done;
        }
        cc_error_clear();
        split = 0;
    }
    if (!split && cc_items_are_identity(inner->ndim, non_axis, inner->shape)) {
        cc_fail(CC_E_PUSH_DOWN_INDEX_NOOP_ON_CONCAT,
                "%s: only the concat axis %d is indexed, by a tensor, which stays on top: "
                "nothing would move",
                what, axis);
        goto done;
    }
    f->axis = axis;
    for (int a = 0; a < axis; a++) {
        f->axis -= idx[a].kind == CC_INDEX_INT;
    }
    if (split && idx[axis].kind == CC_INDEX_INT) {
        // one part is reached; its Index carries the Concat's name (rc's forced name)
        f->finish = FINISH_CONCAT_ONE;
        if (frame_alloc(f, 1) < 0) {
            goto done;
        }
        for (int i = 0; i < n; i++) {
            if (has[i]) {
                non_axis[axis] = parts[i];
                f->sub_child[0] = i;
                f->subs[0] = cc_index_new(inner->children[i], inner->ndim, non_axis, f->out_name);
                break;
            }
        }
        rc = f->subs[0] == NULL ? -1 : 0;
        goto done;
    }
    int n_subs = 0;
    for (int i = 0; i < n; i++) {
        n_subs += !split || has[i];
    }
    if (frame_alloc(f, n_subs) < 0) {
        goto done;
    }
    f->finish = split ? FINISH_CONCAT : FINISH_CONCAT_TOP;
    if (!split) {
        cc_index_item_share(&f->top, &idx[axis]);
    }
    for (int i = 0, k = 0; i < n; i++) {
        if (split && !has[i]) {
            continue;
        }
        non_axis[axis] = split ? parts[i] : cc_item_full();
        f->sub_child[k] = i;
        f->subs[k] = sub_index(c, inner->children[i], non_axis);
        if (f->subs[k++] == NULL) {
            goto done;
        }
    }
    rc = 0;
done:
    cc_free(sections);
    cc_free(parts);
    cc_free(has);
    return rc;
}

static int
plan_gf(const ctx *c, frame *f)
{
    char what[256];
    describe(f->index, what, sizeof what);
    const cc_node *inner = f->index->children[0];
    const cc_index_item *idx = f->index->u.index.items;
    int n = inner->n_children;
    int *ndims = cc_malloc(((size_t)n + 1) * sizeof(int));
    const int64_t **shapes = cc_malloc(((size_t)n + 1) * sizeof(int64_t *));
    int rc = -1;
    if (ndims == NULL || shapes == NULL) {
        goto done;
    }
    for (int i = 0; i < n; i++) {
        ndims[i] = inner->children[i]->ndim;
        shapes[i] = inner->children[i]->shape;
    }
    cc_gf_shape_info info;
    if (cc_gf_spec_shape_info(inner->u.gf.spec, n, ndims, shapes, &info) < 0) {
        goto done;
    }
    int batchable = 0;
    for (int i = 0; i < n && i < 64; i++) {
        batchable |= info.input_batchable[i];
    }
    int nnb = info.num_non_batchable_output_dims;
    if (!batchable || nnb >= inner->ndim) {
        cc_fail(CC_E_PUSH_DOWN_INDEX_NOOP_ON_GENERAL_FUNCTION,
                "%s: the function (%s) has no batch axes to index (batchable=%s, %d of its %d "
                "output axes are not batch axes)",
                what, inner->u.gf.spec->name, batchable ? "true" : "false", nnb, inner->ndim);
        goto done;
    }
    f->finish = FINISH_GF;
    f->rank_to_pass = inner->ndim - nnb;
    if (frame_alloc(f, n) < 0) {
        goto done;
    }
    for (int i = 0; i < n; i++) {
        cc_node *child = inner->children[i];
        if (!(i < 64 && info.input_batchable[i])) {
            cc_node_incref(child);
            f->results[i] = child;
            continue;
        }
        if (child->ndim < f->rank_to_pass) {
            cc_fail(CC_E_PY_RUNTIME, "%s: batchable input %d has rank %d below the %d batch axes",
                    what, i, child->ndim, f->rank_to_pass);
            goto done;
        }
        cc_index_item items[CC_MAX_NDIM];
        for (int a = 0; a < child->ndim; a++) {
            items[a] = a < f->rank_to_pass ? idx[a] : cc_item_full();
        }
        f->subs[i] = sub_index(c, child, items);
        if (f->subs[i] == NULL) {
            goto done;
        }
    }
    rc = 0;
done:
    cc_free(ndims);
    cc_free(shapes);
    return rc;
}

static int
plan_einsum(const ctx *c, frame *f)
{
    const cc_node *inner = f->index->children[0];
    const cc_index_item *idx = f->index->u.index.items;
    // per label: 0 not an output label, 1 indexed by item[label], 2 repeated in the output
    uint8_t state[256] = {0};
    const cc_index_item *item[256] = {0};
    for (int k = 0; k < inner->ndim; k++) {
        uint8_t l = inner->u.einsum.out_axes[k];
        state[l] = state[l] == 0 ? 1 : 2;
        item[l] = &idx[k];
    }
    int total = 0;
    for (int j = 0; j < inner->n_children; j++) {
        total += inner->children[j]->ndim;
    }
    f->finish = FINISH_EINSUM;
    f->in_axes = cc_malloc((size_t)total + 1);
    f->top_items = cc_calloc((size_t)inner->ndim + 1, sizeof(cc_index_item));
    if (f->in_axes == NULL || f->top_items == NULL || frame_alloc(f, inner->n_children) < 0) {
        return -1;
    }
    int pos = 0;
    for (int j = 0; j < inner->n_children; j++) {
        cc_node *child = inner->children[j];
        const uint8_t *labels = cc_einsum_child_axes(inner, j);
        cc_index_item items[CC_MAX_NDIM];
        for (int a = 0; a < child->ndim; a++) {
            uint8_t l = labels[a];
            items[a] = state[l] == 1 ? *item[l] : cc_item_full();
            if (!(state[l] == 1 && item[l]->kind == CC_INDEX_INT)) {
                f->in_axes[pos++] = l;
            }
        }
        if (!cc_items_are_identity(child->ndim, items, child->shape)) {
            f->any_nontrivial = 1;
        }
        f->subs[j] = sub_index(c, child, items);
        if (f->subs[j] == NULL) {
            return -1;
        }
    }
    for (int k = 0; k < inner->ndim; k++) {
        uint8_t l = inner->u.einsum.out_axes[k];
        if (state[l] == 1 && idx[k].kind == CC_INDEX_INT) {
            continue;
        }
        f->out_axes[f->n_out++] = l;
        if (state[l] == 2) {
            cc_index_item_share(&f->top_items[f->n_top++], &idx[k]);
        } else {
            f->top_items[f->n_top++] = cc_item_full();
        }
    }
    return 0;
}

static int
plan_rearrange(const ctx *c, frame *f)
{
    cc_node *inner = f->index->children[0];
    cc_index_item *pre = NULL;
    int rc = cc_rearrange_index_before(inner, f->index->u.index.items, &pre, &f->spec);
    if (rc != 0) {
        if (rc > 0) {
            char what[256], *spec = cc_rearrange_spec_to_string(inner->u.rearrange.spec);
            cc_fail(CC_E_PUSH_DOWN_INDEX_REARRANGE_NOT_POSSIBLE,
                    "%s: the index cannot be written on the Rearrange's input axes (spec %s; "
                    "only whole groups, single positions or full slices of merged axes go "
                    "below)",
                    describe(f->index, what, sizeof what), spec != NULL ? spec : "?");
            cc_free(spec);
        }
        return -1;
    }
    cc_node *x = inner->children[0];
    f->finish = FINISH_REARRANGE;
    if (frame_alloc(f, 1) < 0) {
        cc_index_items_free(pre, x->ndim);
        return -1;
    }
    f->subs[0] = sub_index(c, x, pre);
    cc_index_items_free(pre, x->ndim);
    return f->subs[0] == NULL ? -1 : 0;
}

// rc's Module step: the batch axes (the arguments' extra leading axes, right-aligned) go into
// the arguments; the body is untouched.
static int
plan_module(const ctx *c, frame *f)
{
    char what[256];
    cc_node *inner = f->index->children[0];
    const cc_index_item *idx = f->index->u.index.items;
    int batch_ndim = 0;
    int64_t batch_shape[CC_MAX_NDIM];
    if (cc_module_aligned_batch_shape(inner, &batch_ndim, batch_shape) < 0) {
        return -1;
    }
    f->finish = FINISH_MODULE;
    f->rank_to_pass = batch_ndim;
    if (frame_alloc(f, inner->n_children) < 0) {
        return -1;
    }
    cc_node_incref(inner->children[0]);
    f->results[0] = inner->children[0];
    for (int i = 1; i < inner->n_children; i++) {
        cc_node *arg = inner->children[i];
        int sym_rank = inner->u.module.arg_specs[i - 1].symbol->ndim;
        int start = batch_ndim - (arg->ndim - sym_rank);
        if (start < 0 || arg->ndim < sym_rank) {
            cc_fail(CC_E_PY_RUNTIME, "%s: argument %d of rank %d does not fit the batch rank %d",
                    describe(f->index, what, sizeof what), i - 1, arg->ndim, batch_ndim);
            return -1;
        }
        cc_index_item items[CC_MAX_NDIM];
        for (int a = 0; a < arg->ndim; a++) {
            items[a] = start + a < batch_ndim ? idx[start + a] : cc_item_full();
        }
        f->subs[i] = sub_index(c, arg, items);
        if (f->subs[i] == NULL) {
            return -1;
        }
    }
    return 0;
}

static int
plan_tag(const ctx *c, frame *f)
{
    cc_node *inner = f->index->children[0];
    f->finish = FINISH_TAG;
    if (frame_alloc(f, 1) < 0) {
        return -1;
    }
    f->subs[0] = sub_index(c, inner->children[0], f->index->u.index.items);
    return f->subs[0] == NULL ? -1 : 0;
}

// rc's Scatter step: an int 0 on an axis the Scatter fills from a one-long slice 0:1 goes
// below; every other entry stays on an Index above the new Scatter.
static int
plan_scatter(const ctx *c, frame *f)
{
    char what[256];
    cc_node *inner = f->index->children[0];
    const cc_index_item *idx = f->index->u.index.items;
    const int64_t *bounds = inner->u.scatter.bounds;
    cc_index_item passed[CC_MAX_NDIM];
    int any = 0;
    f->finish = FINISH_SCATTER;
    f->top_items = cc_calloc((size_t)(inner->ndim > 0 ? inner->ndim : 1), sizeof(cc_index_item));
    if (f->top_items == NULL) {
        return -1;
    }
    for (int a = 0; a < inner->ndim; a++) {
        if (idx[a].kind == CC_INDEX_INT && idx[a].i == 0 && bounds[2 * a] == 0 &&
            bounds[2 * a + 1] == 1) {
            passed[a] = idx[a];
            any = 1;
            continue;
        }
        passed[a] = cc_item_full();
        cc_index_item_share(&f->top_items[f->n_top++], &idx[a]);
        f->scatter_items[f->scatter_ndim] = cc_item_slice(bounds[2 * a], bounds[2 * a + 1]);
        f->scatter_shape[f->scatter_ndim++] = inner->shape[a];
    }
    if (!any) {
        cc_fail(CC_E_PUSH_DOWN_INDEX_SCATTER_NOOP,
                "%s: only an int 0 on an axis the Scatter fills from the slice 0:1 goes below, "
                "and the index has none",
                describe(f->index, what, sizeof what));
        return -1;
    }
    if (frame_alloc(f, 1) < 0) {
        return -1;
    }
    f->subs[0] = sub_index(c, inner->children[0], passed);
    return f->subs[0] == NULL ? -1 : 0;
}

static cc_node *
finish_scatter(const ctx *c, frame *f)
{
    cc_node *s = cc_scatter_new(f->results[0], f->scatter_ndim, f->scatter_items, f->scatter_ndim,
                                f->scatter_shape, f->out_name);
    if (s == NULL || cc_items_are_identity(f->n_top, f->top_items, s->shape)) {
        return s;
    }
    if (!c->o->allow_partial_pushdown) {
        char what[256];
        cc_fail(CC_E_PUSH_DOWN_INDEX_SCATTER_SOME_AXES_NOT_POSSIBLE,
                "%s: entries other than an int 0 on a 0:1 slice stay above the Scatter "
                "(allow_partial_pushdown=True leaves them on top)",
                describe(f->index, what, sizeof what));
        cc_node_decref(s);
        return NULL;
    }
    cc_node *top = cc_index_new(s, f->n_top, f->top_items, f->partial_name);
    cc_node_decref(s);
    return top;
}

// Plans the step for f->index: 1 with subs to push, 0 with *out already the result, -1.
static int
plan(const ctx *c, frame *f, cc_node **out)
{
    char what[256];
    cc_node *inner = f->index->children[0];
    // results take the inner node's name (+suffix); unnamed ones get their autoname
    if (join_name(inner->name, NULL, c->o->suffix, &f->out_name) < 0 ||
        join_name(inner->name, "_partial_", c->o->suffix, &f->partial_name) < 0) {
        return -1;
    }
    switch (inner->kind) {
    case CC_KIND_ADD:
        return plan_add(c, f) < 0 ? -1 : 1;
    case CC_KIND_CONCAT:
        return plan_concat(c, f) < 0 ? -1 : 1;
    case CC_KIND_GENERAL_FUNCTION:
        return plan_gf(c, f) < 0 ? -1 : 1;
    case CC_KIND_EINSUM:
        return plan_einsum(c, f) < 0 ? -1 : 1;
    case CC_KIND_REARRANGE:
        return plan_rearrange(c, f) < 0 ? -1 : 1;
    case CC_KIND_TAG:
        return plan_tag(c, f) < 0 ? -1 : 1;
    case CC_KIND_MODULE:
        return plan_module(c, f) < 0 ? -1 : 1;
    case CC_KIND_SCATTER:
        return plan_scatter(c, f) < 0 ? -1 : 1;
    case CC_KIND_SCALAR:
        // rc's index_merge_scalar: the scalar of the Index's shape, under the Index's name
        *out =
            cc_scalar_new(inner->u.scalar.value, f->index->ndim, f->index->shape, f->index->name);
        return *out == NULL ? -1 : 0;
    case CC_KIND_INDEX:
        cc_fail(CC_E_PUSH_DOWN_INDEX_THROUGH_INDEX,
                "%s: an Index does not go through another Index (fuse them instead)",
                describe(f->index, what, sizeof what));
        return -1;
    default:
        cc_fail(CC_E_PUSH_DOWN_INDEX_UNIMPLEMENTED_TYPE,
                "%s: pushing an Index below a %s is not implemented",
                describe(f->index, what, sizeof what), cc_kind_get_info(inner->kind)->py_name);
        return -1;
    }
}

// ---------------------------------------------------------------------------------------------
// Finishing: the node above the pushed Indexes

// rc's handle_non_batchable_remaining: axes past the batch axes stay above new (or fail).
static cc_node *
keep_top(const ctx *c, frame *f, cc_node *new, int rank_to_pass, cc_error_kind kind)
{
    const cc_index_item *idx = f->index->u.index.items;
    int n_items = f->index->u.index.n_items;
    int passed = rank_to_pass;
    for (int a = 0; a < rank_to_pass; a++) {
        passed -= idx[a].kind == CC_INDEX_INT;
    }
    int n_top = n_items - rank_to_pass;
    if (cc_items_are_identity(n_top, idx + rank_to_pass, new->shape + passed)) {
        return new;
    }
    if (!c->o->allow_partial_pushdown) {
        char what[256];
        cc_fail(kind,
                "%s: axes %d.. are not batch axes of the %s and are indexed "
                "(allow_partial_pushdown=True leaves that part on top)",
                describe(f->index, what, sizeof what), rank_to_pass,
                cc_kind_get_info(f->index->children[0]->kind)->py_name);
        cc_node_decref(new);
        return NULL;
    }
    cc_index_item items[CC_MAX_NDIM];
    for (int a = 0; a < passed; a++) {
        items[a] = cc_item_full();
    }
    for (int a = 0; a < n_top; a++) {
        items[passed + a] = idx[rank_to_pass + a];
    }
    cc_node *top = cc_index_new(new, passed + n_top, items, f->partial_name);
    cc_node_decref(new);
    return top;
}

static cc_node *
finish_einsum(const ctx *c, frame *f)
{
    char what[256];
    if (!f->any_nontrivial) {
        cc_fail(CC_E_PUSH_DOWN_INDEX_EINSUM_NOOP,
                "%s: no operand's axes are indexed (only repeated output axes are), nothing "
                "would move",
                describe(f->index, what, sizeof what));
        return NULL;
    }
    cc_node *e =
        cc_einsum_new(f->n_subs, f->results, f->in_axes, f->n_out, f->out_axes, f->out_name);
    if (e == NULL || cc_items_are_identity(f->n_top, f->top_items, e->shape)) {
        return e;
    }
    if (!c->o->allow_partial_pushdown) {
        cc_fail(CC_E_PUSH_DOWN_INDEX_EINSUM_SOME_AXES_NOT_POSSIBLE,
                "%s: output axes with a repeated label (a diagonal) are indexed and cannot go "
                "below (allow_partial_pushdown=True leaves that part on top)",
                describe(f->index, what, sizeof what));
        cc_node_decref(e);
        return NULL;
    }
    cc_node *top = cc_index_new(e, f->n_top, f->top_items, f->partial_name);
    cc_node_decref(e);
    return top;
}

static cc_node *
finish(const ctx *c, frame *f)
{
    cc_node *inner = f->index->children[0];
    cc_node *out;
    switch (f->finish) {
    case FINISH_ADD:
        return cc_add_new(f->n_subs, f->results, f->out_name);
    case FINISH_CONCAT_ONE:
        cc_node_incref(f->results[0]);
        return f->results[0];
    case FINISH_CONCAT:
        return cc_concat_new(f->n_subs, f->results, f->axis, f->out_name);
    case FINISH_CONCAT_TOP: {
        out = cc_concat_new(f->n_subs, f->results, f->axis, f->out_name);
        if (out == NULL) {
            return NULL;
        }
        cc_index_item items[CC_MAX_NDIM];
        for (int a = 0; a < out->ndim; a++) {
            items[a] = a == f->axis ? f->top : cc_item_full();
        }
        cc_node *top = cc_index_new(out, out->ndim, items, f->partial_name);
        cc_node_decref(out);
        return top;
    }
    case FINISH_GF:
        out = cc_gf_new(f->n_subs, f->results, inner->u.gf.spec, f->out_name);
        if (out == NULL) {
            return NULL;
        }
        return keep_top(c, f, out, f->rank_to_pass,
                        CC_E_PUSH_DOWN_INDEX_GENERAL_FUNCTION_SOME_AXES_NOT_POSSIBLE);
    case FINISH_EINSUM:
        return finish_einsum(c, f);
    case FINISH_REARRANGE:
        if (cc_rearrange_spec_is_identity(f->spec)) {
            cc_node_incref(f->results[0]);
            return f->results[0];
        }
        return cc_rearrange_new(f->results[0], f->spec, f->out_name);
    case FINISH_TAG:
        return cc_tag_new(f->results[0], inner->u.tag.uuid, f->out_name);
    case FINISH_MODULE:
        out = cc_node_rebuild(inner, f->results, f->out_name);
        if (out == NULL) {
            return NULL;
        }
        return keep_top(c, f, out, f->rank_to_pass,
                        CC_E_PUSH_DOWN_INDEX_MODULE_SOME_AXES_NOT_POSSIBLE);
    case FINISH_SCATTER:
        return finish_scatter(c, f);
    }
    return cc_fail_null(CC_E_PY_RUNTIME, "push_down_index: unknown step");
}

// ---------------------------------------------------------------------------------------------
// The walk

// The memo key of index pushed with state (rc memoises on both).
static void
memo_key(const ctx *c, const cc_node *index, const cc_imatcher *state, uint8_t key[32])
{
    if (c->o->traversal == NULL) {
        memcpy(key, index->hash, 32);
        return;
    }
    static const uint8_t finished[32] = {0};
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, index->hash, 32);
    cc_blake3_update(&h, state != NULL ? state->hash : finished, 32);
    cc_blake3_final(&h, key, 32);
}

static int
memo_put(ctx *c, const uint8_t key[32], cc_node *result)
{
    if (c->once) {
        return 0;
    }
    cc_node *old = cc_hmap_get(&c->memo, key);
    if (cc_hmap_put(&c->memo, key, result) < 0) {
        return -1;
    }
    cc_node_incref(result);
    cc_node_decref(old);
    return 0;
}

// Whether the walk stops at index before pushing it (1, with *out the result: the child of an
// identity Index, or index itself where the traversal finishes); 0 to push; -1 on error.
static int
stops(ctx *c, cc_node *index, cc_imatcher *state, frame *f, cc_node **out)
{
    cc_node *child = index->children[0];
    if (c->o->elim_identity &&
        cc_items_are_identity(index->u.index.n_items, index->u.index.items, child->shape)) {
        *out = child;
    } else if (c->o->traversal == NULL) {
        if (child->kind == CC_KIND_INDEX || child->kind == CC_KIND_ARRAY) {
            *out = index; // rc's default_index_traversal finishes at Index and Array
        }
    } else {
        int finished;
        if (cc_traversal_children(state, child, &finished, &f->child_state) < 0) {
            return -1;
        }
        if (finished) {
            *out = index;
        }
    }
    if (*out == NULL) {
        return 0;
    }
    cc_node_incref(*out);
    return 1;
}

// Starts pushing index with traversal state (borrowed): 0 with *out the result, 1 with f to
// be completed, -1 on error.
static int
enter(ctx *c, cc_node *index, cc_imatcher *state, frame *f, cc_node **out)
{
    memset(f, 0, sizeof *f);
    *out = NULL;
    cc_node_incref(index);
    f->index = index;
    memo_key(c, index, state, f->key);
    int rc;
    if (!c->once) {
        cc_node *known = cc_hmap_get(&c->memo, f->key);
        if (known != NULL) {
            cc_node_incref(known);
            *out = known;
            frame_clear(f);
            return 0;
        }
        rc = stops(c, index, state, f, out);
        if (rc != 0) {
            if (rc > 0 && memo_put(c, f->key, *out) < 0) {
                cc_node_decref(*out);
                *out = NULL;
            }
            frame_clear(f);
            return *out == NULL ? -1 : 0;
        }
    }
    rc = plan(c, f, out);
    if (rc <= 0) {
        if (rc == 0 && memo_put(c, f->key, *out) < 0) {
            cc_node_decref(*out);
            *out = NULL;
            rc = -1;
        }
        frame_clear(f);
    }
    return rc;
}

static cc_node *
walk(ctx *c, cc_node *root)
{
    frame *stack = NULL;
    size_t n = 0, cap = 0;
    cc_node *result = NULL;
    frame first;
    int rc = enter(c, root, c->o->traversal, &first, &result);
    if (rc <= 0) {
        return result;
    }
    if (cc_grow((void **)&stack, &cap, 1, sizeof(frame)) < 0) {
        frame_clear(&first);
        return NULL;
    }
    stack[n++] = first;
    while (n > 0) {
        frame *top = &stack[n - 1];
        if (top->next < top->n_subs) {
            int k = top->next;
            if (top->results[k] != NULL) {
                top->next++;
                continue;
            }
            cc_node *sub = top->subs[k];
            if (c->once) {
                cc_node_incref(sub);
                top->results[top->next++] = sub;
                continue;
            }
            frame next;
            cc_node *done = NULL;
            cc_imatcher *state =
                top->child_state != NULL ? top->child_state[top->sub_child[k]] : NULL;
            rc = enter(c, sub, state, &next, &done);
            if (rc < 0) {
                goto fail;
            }
            if (rc == 0) {
                top->results[top->next++] = done;
                continue;
            }
            if (cc_grow((void **)&stack, &cap, n + 1, sizeof(frame)) < 0) {
                frame_clear(&next);
                goto fail;
            }
            stack[n++] = next;
            continue;
        }
        cc_node *out = finish(c, top);
        if (out == NULL || memo_put(c, top->key, out) < 0) {
            cc_node_decref(out);
            goto fail;
        }
        frame_clear(top);
        n--;
        if (n == 0) {
            result = out;
            break;
        }
        frame *parent = &stack[n - 1];
        parent->results[parent->next++] = out;
    }
    cc_free(stack);
    return result;
fail:
    while (n > 0) {
        frame_clear(&stack[--n]);
    }
    cc_free(stack);
    return NULL;
}

static void
memo_clear(cc_hmap *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].used) {
            cc_node_decref(m->slots[i].value);
        }
    }
    cc_hmap_clear(m);
}

static cc_node *
run(cc_node *index, const cc_push_down_options *o, int once)
{
    if (index == NULL || index->kind != CC_KIND_INDEX) {
        return cc_fail_null(CC_E_PY_TYPE, "push_down_index: expected Index but got %s",
                            index == NULL ? "nothing" : cc_kind_get_info(index->kind)->py_name);
    }
    ctx c = {.o = o, .once = once};
    cc_hmap_init(&c.memo);
    cc_node *out = walk(&c, index);
    memo_clear(&c.memo);
    return out;
}

cc_node *
cc_push_down_index(cc_node *index, const cc_push_down_options *o)
{
    return run(index, o, 0);
}

cc_node *
cc_push_down_index_once(cc_node *index, int allow_partial_pushdown, const char *suffix)
{
    cc_push_down_options o = {.traversal = NULL,
                              .suffix = suffix,
                              .allow_partial_pushdown = allow_partial_pushdown,
                              .elim_identity = 0};
    return run(index, &o, 1);
}

cc_node *
cc_index_elim_identity(cc_node *index)
{
    if (index->kind != CC_KIND_INDEX) {
        return cc_fail_null(CC_E_PY_TYPE, "index_elim_identity: expected Index but got %s",
                            cc_kind_get_info(index->kind)->py_name);
    }
    cc_node *child = index->children[0];
    cc_node *out = cc_items_are_identity(index->u.index.n_items, index->u.index.items, child->shape)
                       ? child
                       : index;
    cc_node_incref(out);
    return out;
}
