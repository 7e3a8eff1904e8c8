// rc's add_flatten and einsum_flatten (and their _once forms): nested Adds or Einsums
// inlined into their parent while the traversal continues. Walks use explicit stacks; Einsum
// labels are unified with a union-find over fresh ids, then renumbered by first appearance.
#include <string.h>

#include "rewrite/flatten.h"
#include "rewrite/rewrite_impl.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/vec.h"

// ---------------------------------------------------------------------------------------------
// Add

// Whether child (reached with traversal state `state`, borrowed) is entered: always without a
// traversal, else when the state does not finish there (*states: its children's states).
static int
enters(int traversal, cc_imatcher *state, cc_node *child, int *yes, cc_imatcher ***states)
{
    *states = NULL;
    *yes = 1;
    if (!traversal) {
        return 0;
    }
    int finished;
    if (cc_traversal_children(state, child, &finished, states) < 0) {
        return -1;
    }
    *yes = !finished;
    return 0;
}

typedef struct {
    cc_node *node;
    int next;
    cc_imatcher **states; // the traversal states of node's children (owned), or NULL
} add_frame;

// Operands of add with Adds inlined down to max_depth levels (-1: all) while the traversal
// (child states of add in states, taken over; NULL: no traversal) continues; borrowed, in order.
static int
collect_add(cc_node *add, int max_depth, cc_imatcher **states, cc_ptrvec *out)
{
    int traversal = states != NULL;
    size_t cap = 16, n = 0;
    add_frame *stack = cc_malloc(cap * sizeof(add_frame));
    if (stack == NULL) {
        cc_traversal_free(states, add->n_children);
        return -1;
    }
    stack[n++] = (add_frame){add, 0, states};
    while (n > 0) {
        add_frame *top = &stack[n - 1];
        if (top->next == top->node->n_children) {
            cc_traversal_free(top->states, top->node->n_children);
            n--;
            continue;
        }
        int j = top->next++;
        cc_node *child = top->node->children[j];
        int depth = (int)n; // the child's level below add
        int inline_it = 0;
        cc_imatcher **child_states = NULL;
        if (child->kind == CC_KIND_ADD && (max_depth < 0 || depth <= max_depth) &&
            enters(traversal, traversal ? top->states[j] : NULL, child, &inline_it, &child_states) <
                0) {
            goto fail;
        }
        if (inline_it) {
            if (cc_grow((void **)&stack, &cap, n + 1, sizeof(add_frame)) < 0) {
                cc_traversal_free(child_states, child->n_children);
                goto fail;
            }
            stack[n++] = (add_frame){child, 0, child_states};
        } else if (cc_ptrvec_push(out, child) < 0) {
            goto fail;
        }
    }
    cc_free(stack);
    return 0;
fail:
    while (n > 0) {
        n--;
        cc_traversal_free(stack[n].states, stack[n].node->n_children);
    }
    cc_free(stack);
    return -1;
}

static int
check_kind(const cc_node *n, cc_kind kind, const char *what)
{
    if (n->kind != kind) {
        return cc_fail(CC_E_PY_TYPE, "%s: expected %s but got %s", what,
                       cc_kind_get_info(kind)->py_name, cc_kind_get_info(n->kind)->py_name);
    }
    return 0;
}

static int
has_child_of_kind(const cc_node *n, cc_kind kind)
{
    for (int i = 0; i < n->n_children; i++) {
        if (n->children[i]->kind == kind) {
            return 1;
        }
    }
    return 0;
}

// The root's children states under traversal (NULL: none): 1 when the traversal finishes at the
// root (nothing is flattened), 0 to go on, -1 on error.
static int
root_states(cc_imatcher *traversal, cc_node *root, cc_imatcher ***states)
{
    *states = NULL;
    if (traversal == NULL) {
        return 0;
    }
    int finished;
    if (cc_traversal_children(traversal, root, &finished, states) < 0) {
        return -1;
    }
    return finished;
}

static cc_node *
add_flatten_depth(cc_node *add, int max_depth, cc_imatcher *traversal, const char *name)
{
    cc_imatcher **states;
    int rc = root_states(traversal, add, &states);
    if (rc != 0) {
        if (rc > 0) {
            cc_node_incref(add);
            return add;
        }
        return NULL;
    }
    cc_ptrvec ops;
    cc_ptrvec_init(&ops);
    cc_node *out = NULL;
    if (collect_add(add, max_depth, states, &ops) == 0) {
        out = cc_add_new((int)ops.len, (cc_node *const *)ops.items, name);
    }
    cc_ptrvec_clear(&ops);
    return out;
}

cc_node *
cc_add_flatten(cc_node *add, cc_imatcher *traversal)
{
    if (check_kind(add, CC_KIND_ADD, "add_flatten") < 0) {
        return NULL;
    }
    return add_flatten_depth(add, -1, traversal, add->name);
}

int
cc_add_flatten_once(cc_node *add, cc_node **out)
{
    *out = NULL;
    if (check_kind(add, CC_KIND_ADD, "add_flatten_once") < 0) {
        return -1;
    }
    if (!has_child_of_kind(add, CC_KIND_ADD)) {
        return 0;
    }
    *out = add_flatten_depth(add, 1, NULL, add->name);
    return *out == NULL ? -1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Einsum

typedef struct {
    int *parent;
    int n;
    size_t cap;
} union_find;

static int
uf_fresh(union_find *u)
{
    if (cc_grow((void **)&u->parent, &u->cap, (size_t)u->n + 1, sizeof(int)) < 0) {
        return -1;
    }
    u->parent[u->n] = u->n;
    return u->n++;
}

static int
uf_find(union_find *u, int x)
{
    while (u->parent[x] != x) {
        u->parent[x] = u->parent[u->parent[x]];
        x = u->parent[x];
    }
    return x;
}

static void
uf_union(union_find *u, int a, int b)
{
    a = uf_find(u, a);
    b = uf_find(u, b);
    if (a != b) {
        u->parent[b] = a;
    }
}

typedef struct {
    cc_node *node;
    int next;
    int label[256];       // the node's labels as union-find ids (-1: unused)
    cc_imatcher **states; // the traversal states of node's children (owned), or NULL
} ein_frame;

typedef struct {
    cc_ptrvec ops; // operands, borrowed
    int *labels;   // their labels as ids, concatenated
    size_t n_labels, cap_labels;
    union_find uf;
} ein_flat;

static int
push_labels(ein_flat *f, const int *ids, int n)
{
    if (cc_grow((void **)&f->labels, &f->cap_labels, f->n_labels + (size_t)n, sizeof(int)) < 0) {
        return -1;
    }
    if (n > 0) { // memcpy's pointers must not be NULL, even for no bytes
        memcpy(f->labels + f->n_labels, ids, (size_t)n * sizeof(int));
    }
    f->n_labels += (size_t)n;
    return 0;
}

// Fresh ids for the labels of e's operands not mapped yet.
static int
map_input_labels(ein_flat *f, const cc_node *e, int *label)
{
    const uint8_t *axes = e->u.einsum.in_axes;
    int total = 0;
    for (int j = 0; j < e->n_children; j++) {
        total += e->children[j]->ndim;
    }
    for (int k = 0; k < total; k++) {
        if (label[axes[k]] < 0) {
            label[axes[k]] = uf_fresh(&f->uf);
            if (label[axes[k]] < 0) {
                return -1;
            }
        }
    }
    return 0;
}

// The child frame of inner Einsum e whose output axes carry the ids g.
static int
enter_inner(ein_flat *f, cc_node *e, const int *g, ein_frame *fr)
{
    fr->node = e;
    fr->next = 0;
    fr->states = NULL;
    for (int l = 0; l < 256; l++) {
        fr->label[l] = -1;
    }
    for (int k = 0; k < e->ndim; k++) {
        uint8_t b = e->u.einsum.out_axes[k];
        if (fr->label[b] < 0) {
            fr->label[b] = g[k];
        } else {
            // a repeated output label writes a diagonal: the outer axes are one label
            uf_union(&f->uf, fr->label[b], g[k]);
        }
    }
    return map_input_labels(f, e, fr->label);
}

// Operands of einsum with Einsums inlined down to max_depth levels (-1: all) while the
// traversal (child states of einsum in states, taken over; NULL: no traversal) continues, and
// its output labels as ids in out_ids.
static int
collect_einsum(cc_node *einsum, int max_depth, cc_imatcher **states, ein_flat *f, int *out_ids)
{
    int traversal = states != NULL;
    size_t cap = 8, n = 0;
    ein_frame *stack = cc_malloc(cap * sizeof(ein_frame));
    if (stack == NULL) {
        cc_traversal_free(states, einsum->n_children);
        return -1;
    }
    ein_frame *root = &stack[n++];
    root->node = einsum;
    root->next = 0;
    root->states = states;
    for (int l = 0; l < 256; l++) {
        root->label[l] = -1;
    }
    if (map_input_labels(f, einsum, root->label) < 0) {
        goto fail;
    }
    for (int k = 0; k < einsum->ndim; k++) {
        out_ids[k] = root->label[einsum->u.einsum.out_axes[k]];
    }
    while (n > 0) {
        ein_frame *top = &stack[n - 1];
        if (top->next == top->node->n_children) {
            cc_traversal_free(top->states, top->node->n_children);
            n--;
            continue;
        }
        int j = top->next++;
        cc_node *child = top->node->children[j];
        const uint8_t *axes = cc_einsum_child_axes(top->node, j);
        int g[CC_MAX_NDIM];
        for (int k = 0; k < child->ndim; k++) {
            g[k] = top->label[axes[k]];
        }
        int inline_it = 0;
        cc_imatcher **child_states = NULL;
        if (child->kind == CC_KIND_EINSUM && (max_depth < 0 || (int)n <= max_depth) &&
            enters(traversal, traversal ? top->states[j] : NULL, child, &inline_it, &child_states) <
                0) {
            goto fail;
        }
        if (inline_it) {
            if (cc_grow((void **)&stack, &cap, n + 1, sizeof(ein_frame)) < 0) {
                cc_traversal_free(child_states, child->n_children);
                goto fail;
            }
            int rc = enter_inner(f, child, g, &stack[n++]);
            stack[n - 1].states = child_states;
            if (rc < 0) {
                goto fail;
            }
        } else if (cc_ptrvec_push(&f->ops, child) < 0 || push_labels(f, g, child->ndim) < 0) {
            goto fail;
        }
    }
    cc_free(stack);
    return 0;
fail:
    while (n > 0) {
        n--;
        cc_traversal_free(stack[n].states, stack[n].node->n_children);
    }
    cc_free(stack);
    return -1;
}

static cc_node *
einsum_flatten_depth(cc_node *einsum, int max_depth, cc_imatcher *traversal, const char *name)
{
    cc_imatcher **states;
    int rc = root_states(traversal, einsum, &states);
    if (rc != 0) {
        if (rc > 0) {
            cc_node_incref(einsum);
            return einsum;
        }
        return NULL;
    }
    ein_flat f;
    memset(&f, 0, sizeof f);
    cc_ptrvec_init(&f.ops);
    int out_ids[CC_MAX_NDIM];
    int *renumber = NULL;
    uint8_t *in_axes = NULL, out_axes[CC_MAX_NDIM];
    cc_node *out = NULL;
    if (collect_einsum(einsum, max_depth, states, &f, out_ids) < 0) {
        goto done;
    }
    renumber = cc_malloc(((size_t)f.uf.n + 1) * sizeof(int));
    in_axes = cc_malloc(f.n_labels + 1);
    if (renumber == NULL || in_axes == NULL) {
        goto done;
    }
    for (int i = 0; i < f.uf.n; i++) {
        renumber[i] = -1;
    }
    int next = 0;
    for (size_t k = 0; k < f.n_labels; k++) {
        int root = uf_find(&f.uf, f.labels[k]);
        if (renumber[root] < 0) {
            if (next == 256) {
                cc_fail(CC_E_PY_VALUE,
                        "einsum_flatten: the flattened Einsum needs more than 256 labels");
                goto done;
            }
            renumber[root] = next++;
        }
        in_axes[k] = (uint8_t)renumber[root];
    }
    for (int k = 0; k < einsum->ndim; k++) {
        int root = uf_find(&f.uf, out_ids[k]);
        if (renumber[root] < 0) {
            // an output label no operand carries: only an operand-free Einsum has one
            if (next == 256) {
                cc_fail(CC_E_PY_VALUE,
                        "einsum_flatten: the flattened Einsum needs more than 256 labels");
                goto done;
            }
            renumber[root] = next++;
        }
        out_axes[k] = (uint8_t)renumber[root];
    }
    out = cc_einsum_new((int)f.ops.len, (cc_node *const *)f.ops.items, in_axes, einsum->ndim,
                        out_axes, name);
done:
    cc_free(renumber);
    cc_free(in_axes);
    cc_free(f.labels);
    cc_free(f.uf.parent);
    cc_ptrvec_clear(&f.ops);
    return out;
}

cc_node *
cc_einsum_flatten(cc_node *einsum, cc_imatcher *traversal)
{
    if (check_kind(einsum, CC_KIND_EINSUM, "einsum_flatten") < 0) {
        return NULL;
    }
    return einsum_flatten_depth(einsum, -1, traversal, einsum->name);
}

int
cc_einsum_flatten_once(cc_node *einsum, cc_node **out)
{
    *out = NULL;
    if (check_kind(einsum, CC_KIND_EINSUM, "einsum_flatten_once") < 0) {
        return -1;
    }
    if (!has_child_of_kind(einsum, CC_KIND_EINSUM)) {
        return 0;
    }
    *out = einsum_flatten_depth(einsum, 1, NULL, NULL);
    return *out == NULL ? -1 : 0;
}
