// Evaluation plan: the distinct nodes (by hash) of all requested outputs in an order
// where children come first, how many consumers each has, and the peak of live result
// bytes when every result is freed after its last use. Runs nothing.
#include <stdio.h>
#include <string.h>

#include "eval/eval_impl.h"
#include "nodes/kind.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/vec.h"

void
cc_eval_describe_node(const cc_node *n, char *buf, size_t cap)
{
    size_t len;
    if (n->name != NULL) {
        len = (size_t)snprintf(buf, cap, "%s '%s' [", cc_kind_get_info(n->kind)->py_name, n->name);
    } else {
        len = (size_t)snprintf(buf, cap, "%s [", cc_kind_get_info(n->kind)->py_name);
    }
    for (int i = 0; i < n->ndim && len < cap; i++) {
        len += (size_t)snprintf(buf + len, cap - len, i == 0 ? "%lld" : ",%lld",
                                (long long)n->shape[i]);
    }
    if (len < cap) {
        snprintf(buf + len, cap - len, "]");
    }
}

cc_dtype
cc_eval_node_dtype(const cc_node *n)
{
    return n->dtype >= 0 ? (cc_dtype)n->dtype : CC_DTYPE_F64;
}

// Evaluation needs every output free of unbound Symbols (and of randomness); the message
// names the first culprit found by following non-computable children down from the root.
static int
check_computable(const cc_node *root)
{
    char what[512];
    char root_desc[512];
    if (!root->is_explicitly_computable) {
        const cc_node *cur = root;
        for (;;) {
            const cc_node *next = NULL;
            for (int i = 0; i < cur->n_children; i++) {
                if (!cur->children[i]->is_explicitly_computable) {
                    next = cur->children[i];
                    break;
                }
            }
            if (next == NULL) {
                break;
            }
            cur = next;
        }
        cc_eval_describe_node(cur, what, sizeof what);
        // A random variable (not constant) waits for a sampler; a free Symbol for a Module.
        const char *fix = cur->is_constant ? "bind it with a Module first" : "sample it first";
        if (cur == root) {
            return cc_fail(CC_E_TENSOR_EVAL_NOT_EXPLICITLY_COMPUTABLE, "%s has no value: %s", what,
                           fix);
        }
        cc_eval_describe_node(root, root_desc, sizeof root_desc);
        return cc_fail(CC_E_TENSOR_EVAL_NOT_EXPLICITLY_COMPUTABLE,
                       "%s contains %s, which has no value: %s", root_desc, what, fix);
    }
    if (!root->is_constant) {
        cc_eval_describe_node(root, root_desc, sizeof root_desc);
        return cc_fail(CC_E_TENSOR_EVAL_NOT_CONSTANT,
                       "%s is not constant (it depends on a random variable): sample it first",
                       root_desc);
    }
    return 0;
}

// Bytes a node's result adds to live memory: none for a view of memory that exists anyway
// (the kind's eval_is_view: leaves, Tags, an Index without tensor entries). Everything else
// is counted as a fresh tensor (an upper bound where a view turns out possible).
static int64_t
result_bytes(const cc_node *n)
{
    int (*is_view)(const cc_node *) = cc_kind_ops_of(n->kind)->eval_is_view;
    if (is_view != NULL && is_view(n)) {
        return 0;
    }
    return cc_shape_numel(n->ndim, n->shape) * (int64_t)cc_dtype_size(cc_eval_node_dtype(n));
}

typedef struct {
    cc_node *node;
    int next_child;
} frame;

typedef struct {
    frame *items;
    size_t len, cap;
} frame_stack;

static int
frame_push(frame_stack *s, cc_node *node)
{
    if (cc_grow((void **)&s->items, &s->cap, s->len + 1, sizeof(frame)) < 0) {
        return -1;
    }
    s->items[s->len++] = (frame){node, 0};
    return 0;
}

typedef struct {
    int64_t *items;
    size_t len, cap;
} i64vec;

static int
i64vec_push(i64vec *v, int64_t x)
{
    if (cc_grow((void **)&v->items, &v->cap, v->len + 1, sizeof(int64_t)) < 0) {
        return -1;
    }
    v->items[v->len++] = x;
    return 0;
}

// What the walk records per emitted node, while the node is still in cache.
typedef struct {
    cc_hmap seen;       // node hash -> plan position + 1
    cc_ptrvec order;    // the nodes, children first
    i64vec child_start; // per node, its first entry in child_ix
    i64vec child_ix;    // plan position of each child slot, then a -1
    i64vec bytes;       // result_bytes per node
} walk;

static void
walk_clear(walk *w)
{
    cc_hmap_clear(&w->seen);
    cc_ptrvec_clear(&w->order);
    cc_free(w->child_start.items);
    cc_free(w->child_ix.items);
    cc_free(w->bytes.items);
}

static int
emit(walk *w, cc_node *node)
{
    if (i64vec_push(&w->child_start, (int64_t)w->child_ix.len) < 0) {
        return -1;
    }
    for (int j = 0; j < node->n_children; j++) {
        int64_t c = (int64_t)(uintptr_t)cc_hmap_get(&w->seen, node->children[j]->hash) - 1;
        if (i64vec_push(&w->child_ix, c) < 0) {
            return -1;
        }
    }
    if (i64vec_push(&w->bytes, result_bytes(node)) < 0 || cc_ptrvec_push(&w->order, node) < 0) {
        return -1;
    }
    return cc_hmap_put(&w->seen, node->hash, (void *)(uintptr_t)w->order.len);
}

// Depth-first post-order over all roots. A node is entered only once: in a DAG a node on
// the stack cannot be reached again before it is emitted.
static int
collect_postorder(int n_roots, cc_node *const *roots, walk *w)
{
    frame_stack stack = {NULL, 0, 0};
    for (int r = 0; r < n_roots; r++) {
        if (cc_hmap_get(&w->seen, roots[r]->hash) != NULL) {
            continue;
        }
        if (frame_push(&stack, roots[r]) < 0) {
            goto fail;
        }
        while (stack.len > 0) {
            frame *top = &stack.items[stack.len - 1];
            if (top->next_child < top->node->n_children) {
                cc_node *child = top->node->children[top->next_child++];
                if (cc_hmap_get(&w->seen, child->hash) == NULL && frame_push(&stack, child) < 0) {
                    goto fail;
                }
                continue;
            }
            if (emit(w, top->node) < 0) {
                goto fail;
            }
            stack.len--;
        }
    }
    cc_free(stack.items);
    // The closing child_start entry; a trailing -1 keeps child_ix allocated (and so a valid
    // base pointer) even for a plan of leaves.
    if (i64vec_push(&w->child_start, (int64_t)w->child_ix.len) < 0) {
        return -1;
    }
    return i64vec_push(&w->child_ix, -1);
fail:
    cc_free(stack.items);
    return -1;
}

// Replays the run: a fresh result is live from its computation until its last consumer ran
// and every view of it (an Index or Tag of it, and views of those) is gone; requested outputs
// stay live to the end. owner[i] is the plan position whose storage node i's result lives in
// (-1 for memory that exists anyway: leaves and views of them).
static int
estimate_peak(cc_plan *p, const int64_t *bytes)
{
    size_t n_slots = (size_t)(p->n > 0 ? p->n : 1);
    int64_t *remaining = cc_malloc(n_slots * sizeof(int64_t));
    int64_t *owner = cc_malloc(n_slots * sizeof(int64_t));
    int64_t *holders = cc_calloc(n_slots, sizeof(int64_t));
    if (remaining == NULL || owner == NULL || holders == NULL) {
        cc_free(remaining);
        cc_free(owner);
        cc_free(holders);
        return -1;
    }
    memcpy(remaining, p->n_consumers, (size_t)p->n * sizeof(int64_t));
    int64_t live = 0;
    int64_t peak = 0;
    p->max_tensor_bytes = 0;
    p->max_tensor_ix = -1;
    for (int64_t i = 0; i < p->n; i++) {
        int64_t first_child = p->child_start[i];
        if (bytes[i] > 0) {
            owner[i] = i;
        } else if (p->child_start[i + 1] > first_child) {
            owner[i] = owner[p->child_ix[first_child]];
        } else {
            owner[i] = -1;
        }
        if (owner[i] >= 0) {
            holders[owner[i]]++;
        }
        live += bytes[i];
        if (live > peak) {
            peak = live;
        }
        if (bytes[i] > p->max_tensor_bytes) {
            p->max_tensor_bytes = bytes[i];
            p->max_tensor_ix = i;
        }
        for (int64_t s = first_child; s < p->child_start[i + 1]; s++) {
            int64_t c = p->child_ix[s];
            if (--remaining[c] == 0 && owner[c] >= 0 && --holders[owner[c]] == 0) {
                live -= bytes[owner[c]];
            }
        }
    }
    cc_free(remaining);
    cc_free(owner);
    cc_free(holders);
    p->peak_bytes = peak;
    return 0;
}

cc_plan *
cc_plan_build(int n, cc_node *const *outputs)
{
    for (int i = 0; i < n; i++) {
        if (check_computable(outputs[i]) < 0) {
            return NULL;
        }
    }
    cc_plan *p = cc_calloc(1, sizeof(cc_plan));
    if (p == NULL) {
        return NULL;
    }
    walk w;
    memset(&w, 0, sizeof w);
    cc_hmap_init(&w.seen);
    cc_ptrvec_init(&w.order);
    if (collect_postorder(n, outputs, &w) < 0) {
        goto fail;
    }
    p->n = (int64_t)w.order.len;
    p->nodes = (cc_node **)w.order.items;
    p->child_start = w.child_start.items;
    p->child_ix = w.child_ix.items;
    cc_ptrvec_init(&w.order);
    w.child_start.items = NULL;
    w.child_ix.items = NULL;

    // One block holds the consumer counts and the output positions.
    p->n_consumers = cc_calloc((size_t)p->n + (size_t)n + 1, sizeof(int64_t));
    if (p->n_consumers == NULL) {
        goto fail;
    }
    p->output_ix = p->n_consumers + p->n;
    p->n_outputs = n;
    for (int64_t i = 0; i < p->n; i++) {
        int64_t n_children = p->child_start[i + 1] - p->child_start[i];
        if (n_children > p->max_children) {
            p->max_children = (int)n_children;
        }
    }
    for (int64_t s = 0; s < p->child_start[p->n]; s++) {
        p->n_consumers[p->child_ix[s]]++;
    }
    for (int k = 0; k < n; k++) {
        int64_t c = (int64_t)(uintptr_t)cc_hmap_get(&w.seen, outputs[k]->hash) - 1;
        p->output_ix[k] = c;
        p->n_consumers[c]++;
    }
    if (estimate_peak(p, w.bytes.items) < 0) {
        goto fail;
    }
    walk_clear(&w);
    return p;
fail:
    walk_clear(&w);
    cc_plan_free(p);
    return NULL;
}

void
cc_plan_free(cc_plan *p)
{
    if (p == NULL) {
        return;
    }
    cc_free(p->nodes);
    cc_free(p->child_start);
    cc_free(p->child_ix);
    cc_free(p->n_consumers);
    cc_free(p);
}
