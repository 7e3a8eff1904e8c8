// Whole-graph walks behind rc's circuit utilities; see walk.h. Explicit stacks and memo tables
// keyed by node hashes (and traversal state hashes), no recursion.
#include "rewrite/walk.h"

#include <stdio.h>
#include <string.h>

#include "nodes/kind.h"
#include "rewrite/rewrite_impl.h"
#include "util/alloc.h"
#include "util/blake3.h"
#include "util/error.h"
#include "util/str.h"
#include "util/vec.h"

int
cc_walk_preorder_unique(cc_node *root, cc_node ***out, int64_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    cc_hmap seen;
    cc_hmap_init(&seen);
    cc_ptrvec stack, order;
    cc_ptrvec_init(&stack);
    cc_ptrvec_init(&order);
    int rc = cc_ptrvec_push(&stack, root);
    while (rc == 0 && stack.len > 0) {
        cc_node *n = stack.items[--stack.len];
        if (cc_hmap_get(&seen, n->hash) != NULL) {
            continue;
        }
        if (cc_hmap_put(&seen, n->hash, n) < 0 || cc_ptrvec_push(&order, n) < 0) {
            rc = -1;
            break;
        }
        for (int i = n->n_children - 1; i >= 0 && rc == 0; i--) {
            rc = cc_ptrvec_push(&stack, n->children[i]);
        }
    }
    cc_hmap_clear(&seen);
    cc_ptrvec_clear(&stack);
    if (rc < 0) {
        cc_ptrvec_clear(&order);
        return -1;
    }
    *out = (cc_node **)order.items;
    *n_out = (int64_t)order.len;
    return 0;
}

int
cc_walk_node_compare(const cc_node *a, const cc_node *b)
{
    if (a->name == NULL || b->name == NULL) {
        if (a->name != NULL || b->name != NULL) {
            return a->name == NULL ? -1 : 1;
        }
    } else {
        int c = strcmp(a->name, b->name);
        if (c != 0) {
            return c;
        }
    }
    return memcmp(a->hash, b->hash, 32);
}

// A binary min-heap of nodes by cc_walk_node_compare, over a caller's array of capacity >= the
// number of pushes.
static void
heap_push(cc_node **heap, int64_t *len, cc_node *n)
{
    int64_t i = (*len)++;
    heap[i] = n;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (cc_walk_node_compare(heap[p], heap[i]) <= 0) {
            break;
        }
        cc_node *t = heap[p];
        heap[p] = heap[i];
        heap[i] = t;
        i = p;
    }
}

static cc_node *
heap_pop(cc_node **heap, int64_t *len)
{
    cc_node *top = heap[0];
    heap[0] = heap[--*len];
    int64_t i = 0;
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *len && cc_walk_node_compare(heap[l], heap[m]) < 0) {
            m = l;
        }
        if (r < *len && cc_walk_node_compare(heap[r], heap[m]) < 0) {
            m = r;
        }
        if (m == i) {
            break;
        }
        cc_node *t = heap[m];
        heap[m] = heap[i];
        heap[i] = t;
        i = m;
    }
    return top;
}

int
cc_walk_toposort(cc_node *root, cc_node ***out, int64_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    cc_node **nodes;
    int64_t n;
    if (cc_walk_preorder_unique(root, &nodes, &n) < 0) {
        return -1;
    }
    cc_hmap index;
    cc_hmap_init(&index);
    int64_t *refs = cc_calloc((size_t)n, sizeof(int64_t));
    cc_node **heap = cc_calloc((size_t)n, sizeof(cc_node *));
    cc_node **result = cc_calloc((size_t)n, sizeof(cc_node *));
    int rc = refs != NULL && heap != NULL && result != NULL ? 0 : -1;
    // Index i + 1 as the map's value (values must be non-NULL).
    for (int64_t i = 0; i < n && rc == 0; i++) {
        rc = cc_hmap_put(&index, nodes[i]->hash, (void *)(uintptr_t)(i + 1));
    }
    for (int64_t i = 0; i < n && rc == 0; i++) {
        for (int c = 0; c < nodes[i]->n_children; c++) {
            refs[(uintptr_t)cc_hmap_get(&index, nodes[i]->children[c]->hash) - 1]++;
        }
    }
    int64_t placed = 0, heap_len = 0;
    if (rc == 0) {
        heap_push(heap, &heap_len, root);
    }
    while (rc == 0 && heap_len > 0) {
        cc_node *here = heap_pop(heap, &heap_len);
        result[placed++] = here;
        for (int c = 0; c < here->n_children; c++) {
            cc_node *child = here->children[c];
            int64_t k = (int64_t)(uintptr_t)cc_hmap_get(&index, child->hash) - 1;
            if (--refs[k] == 0) {
                heap_push(heap, &heap_len, child);
            }
        }
    }
    cc_hmap_clear(&index);
    cc_free(refs);
    cc_free(heap);
    cc_free(nodes);
    if (rc < 0) {
        cc_free(result);
        return -1;
    }
    for (int64_t i = 0; i < placed / 2; i++) {
        cc_node *t = result[i];
        result[i] = result[placed - 1 - i];
        result[placed - 1 - i] = t;
    }
    *out = result;
    *n_out = placed;
    return 0;
}

// --- pre-order maps ----------------------------------------------------------------------------

// Marks of the in-progress table: a node being replaced, or one whose map is done.
static char in_progress_mark, done_mark;

typedef struct {
    cc_walk_replace_fn replace;
    void *ctx;
    cc_hmap state;    // original hash -> &in_progress_mark / &done_mark
    cc_ptrvec frames; // originals of the open frames, innermost last
} preorder_ctx;

static int
preorder_pre(void *ctx, cc_node *x, cc_node **out)
{
    preorder_ctx *p = ctx;
    if (cc_hmap_get(&p->state, x->hash) == &in_progress_mark) {
        return cc_fail(CC_E_PY_VALUE,
                       "pre-order map: the replacement of node '%s' contains the node again "
                       "(replacing it would never end)",
                       x->name != NULL ? x->name : "");
    }
    cc_node *y = NULL;
    int r = p->replace(p->ctx, x, &y);
    if (r < 0) {
        return -1;
    }
    if (cc_hmap_put(&p->state, x->hash, &in_progress_mark) < 0 ||
        cc_ptrvec_push(&p->frames, x) < 0) {
        cc_node_decref(y);
        return -1;
    }
    if (r == 1) {
        *out = y;
        return 2;
    }
    return 0;
}

static cc_node *
preorder_post(void *ctx, cc_node *node, cc_node *const *kids, int changed)
{
    preorder_ctx *p = ctx;
    cc_node *orig = p->frames.items[--p->frames.len];
    if (cc_hmap_put(&p->state, orig->hash, &done_mark) < 0) {
        return NULL;
    }
    return cc_deep_map_rebuild(node, kids, changed);
}

cc_node *
cc_walk_map_preorder(cc_node *root, cc_walk_replace_fn replace, void *ctx)
{
    preorder_ctx p = {.replace = replace, .ctx = ctx};
    cc_hmap_init(&p.state);
    cc_ptrvec_init(&p.frames);
    cc_node *out = cc_deep_map(root, preorder_pre, preorder_post, &p);
    cc_hmap_clear(&p.state);
    cc_ptrvec_clear(&p.frames);
    return out;
}

static int
replace_from_map(void *ctx, cc_node *x, cc_node **y)
{
    cc_node *v = cc_hmap_get(ctx, x->hash);
    if (v == NULL) {
        return 0;
    }
    cc_node_incref(v);
    *y = v;
    return 1;
}

cc_node *
cc_walk_replace_nodes(cc_node *root, const cc_hmap *map)
{
    return cc_walk_map_preorder(root, replace_from_map, (void *)map);
}

static cc_node *
prefix_post(void *ctx, cc_node *node, cc_node *const *kids, int changed)
{
    cc_node *rebuilt = cc_deep_map_rebuild(node, kids, changed);
    if (rebuilt == NULL || rebuilt->name == NULL) {
        return rebuilt;
    }
    cc_str s;
    cc_str_init(&s);
    cc_node *out = NULL;
    if (cc_str_append(&s, ctx) == 0 && cc_str_append(&s, rebuilt->name) == 0) {
        char *name = cc_str_take(&s);
        if (name != NULL) {
            out = cc_node_rename(rebuilt, name);
            cc_free(name);
        }
    }
    cc_str_clear(&s);
    cc_node_decref(rebuilt);
    return out;
}

cc_node *
cc_walk_prefix_names(cc_node *root, const char *prefix)
{
    return cc_deep_map(root, NULL, prefix_post, (void *)prefix);
}

// --- maps along a traversal --------------------------------------------------------------------

typedef struct {
    cc_node *node;        // borrowed
    cc_imatcher *state;   // borrowed (held by the parent frame's states, or the caller)
    cc_imatcher **states; // per child, owned; NULL when finished
    int finished;
    int next;
    cc_node **kids; // owned results
    uint8_t key[32];
} tm_frame;

static void
tm_key(const cc_node *n, const cc_imatcher *m, uint8_t key[32])
{
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, n->hash, 32);
    cc_blake3_update(&h, m->hash, 32);
    cc_blake3_final(&h, key, 32);
}

static void
tm_frame_free(tm_frame *f)
{
    for (int i = 0; f->kids != NULL && i < f->node->n_children; i++) {
        cc_node_decref(f->kids[i]);
    }
    cc_free(f->kids);
    cc_traversal_free(f->states, f->node->n_children);
    cc_free(f);
}

// 1 with *out (new reference) when (x, m) is known, 0 with a new frame on the stack, or -1.
static int
tm_visit(cc_hmap *memo, cc_node *x, cc_imatcher *m, cc_ptrvec *stack, cc_node **out)
{
    uint8_t key[32];
    tm_key(x, m, key);
    cc_node *known = cc_hmap_get(memo, key);
    if (known != NULL) {
        cc_node_incref(known);
        *out = known;
        return 1;
    }
    tm_frame *f = cc_calloc(1, sizeof(tm_frame));
    if (f == NULL) {
        return -1;
    }
    f->node = x;
    f->state = m;
    memcpy(f->key, key, 32);
    f->kids = cc_calloc((size_t)(x->n_children > 0 ? x->n_children : 1), sizeof(cc_node *));
    if (f->kids == NULL || cc_traversal_children(m, x, &f->finished, &f->states) < 0 ||
        cc_ptrvec_push(stack, f) < 0) {
        tm_frame_free(f);
        return -1;
    }
    return 0;
}

cc_node *
cc_walk_traversal_map(cc_node *root, cc_imatcher *traversal, cc_walk_traversal_post post, void *ctx)
{
    cc_hmap memo;
    cc_hmap_init(&memo);
    cc_ptrvec stack;
    cc_ptrvec_init(&stack);
    cc_node *result = NULL;
    int r = tm_visit(&memo, root, traversal, &stack, &result);
    while (r == 0 && stack.len > 0) {
        tm_frame *f = stack.items[stack.len - 1];
        if (f->next < f->node->n_children) {
            int i = f->next++;
            cc_node *child = f->node->children[i];
            if (f->finished || f->states[i] == NULL) {
                cc_node_incref(child);
                f->kids[i] = child;
                continue;
            }
            cc_node *known;
            int v = tm_visit(&memo, child, f->states[i], &stack, &known);
            if (v < 0) {
                r = -1;
            } else if (v == 1) {
                f->kids[i] = known;
            }
            continue;
        }
        int changed = 0;
        for (int i = 0; i < f->node->n_children; i++) {
            changed |= f->kids[i] != f->node->children[i];
        }
        cc_node *out = post(ctx, f->node, f->state, f->finished, f->kids, changed);
        if (out == NULL || cc_hmap_put(&memo, f->key, out) < 0) {
            cc_node_decref(out);
            r = -1;
            break;
        }
        tm_frame_free(f);
        stack.len--;
        cc_node_incref(out);
        if (stack.len == 0) {
            result = out;
        } else {
            tm_frame *parent = stack.items[stack.len - 1];
            parent->kids[parent->next - 1] = out;
        }
    }
    for (size_t i = 0; i < stack.len; i++) {
        tm_frame_free(stack.items[i]);
    }
    cc_ptrvec_clear(&stack);
    for (size_t s = 0; s < memo.cap; s++) {
        if (memo.slots[s].used) {
            cc_node_decref(memo.slots[s].value);
        }
    }
    cc_hmap_clear(&memo);
    if (r < 0) {
        cc_node_decref(result);
        return NULL;
    }
    return result;
}

static cc_node *
append_post(void *ctx, cc_node *node, cc_imatcher *state, int finished, cc_node *const *kids,
            int changed)
{
    (void)finished;
    int discard = *(int *)ctx;
    if (node->kind == CC_KIND_SYMBOL) {
        cc_node_incref(node);
        return node;
    }
    cc_node *rebuilt = cc_deep_map_rebuild(node, kids, changed);
    if (rebuilt == NULL) {
        return NULL;
    }
    if (!discard && node->name == NULL) {
        cc_node *out = cc_node_rename(rebuilt, CC_NO_NAME);
        cc_node_decref(rebuilt);
        return out;
    }
    cc_str s;
    cc_str_init(&s);
    cc_node *out = NULL;
    if ((discard || (cc_str_append(&s, node->name) == 0 && cc_str_append(&s, " Matcher ") == 0)) &&
        cc_imatcher_describe(state, &s) == 0) {
        char *name = cc_str_take(&s);
        if (name != NULL) {
            out = cc_node_rename(rebuilt, name);
            cc_free(name);
        }
    }
    cc_str_clear(&s);
    cc_node_decref(rebuilt);
    return out;
}

cc_node *
cc_walk_append_matchers_to_names(cc_node *root, cc_imatcher *traversal, int discard_old_name)
{
    return cc_walk_traversal_map(root, traversal, append_post, &discard_old_name);
}

// --- self hash ---------------------------------------------------------------------------------

// Separators between the fields of a self hash.
enum { SELF_SHAPE = 1, SELF_NAME, SELF_COUNT, SELF_CHILD_SHAPE, SELF_CHILD_SHAPES, SELF_PAYLOAD };

static void
hash_tag(cc_blake3 *h, uint8_t tag)
{
    cc_blake3_update(h, &tag, 1);
}

static void
hash_shape(cc_blake3 *h, const cc_node *n)
{
    for (int i = 0; i < n->ndim; i++) {
        cc_blake3_update_u64_le(h, (uint64_t)n->shape[i]);
    }
}

int
cc_walk_self_hash(const cc_node *n, int hash_child_count, int hash_child_shapes, int hash_name,
                  uint8_t out[32])
{
    cc_blake3 h;
    cc_blake3_init(&h);
    hash_shape(&h, n);
    hash_tag(&h, SELF_SHAPE);
    if (hash_name && n->name != NULL) {
        cc_blake3_update(&h, n->name, strlen(n->name));
    }
    hash_tag(&h, SELF_NAME);
    if (hash_child_count) {
        cc_blake3_update_u64_le(&h, (uint64_t)n->n_children);
    }
    hash_tag(&h, SELF_COUNT);
    if (hash_child_shapes) {
        for (int i = 0; i < n->n_children; i++) {
            hash_shape(&h, n->children[i]);
            hash_tag(&h, SELF_CHILD_SHAPE);
        }
    }
    hash_tag(&h, SELF_CHILD_SHAPES);
    // The payload as the node hashes it, over stand-ins of its children (unnamed Symbols of the
    // same shapes with one fixed uuid), so that the children's contents do not count.
    const cc_kind_ops *ops = cc_kind_ops_of(n->kind);
    cc_node *alone = NULL;
    if (n->n_children == 0) {
        ops->hash_non_name(n, &h);
    } else {
        cc_node **stand_ins = cc_calloc((size_t)n->n_children, sizeof(cc_node *));
        if (stand_ins == NULL) {
            return -1;
        }
        static const uint8_t stand_in_uuid[16] = {0};
        int rc = 0;
        for (int i = 0; i < n->n_children && rc == 0; i++) {
            stand_ins[i] = cc_symbol_new(n->children[i]->ndim, n->children[i]->shape, stand_in_uuid,
                                         CC_NO_NAME);
            rc = stand_ins[i] == NULL ? -1 : 0;
        }
        if (rc == 0) {
            alone = cc_node_rebuild(n, stand_ins, CC_NO_NAME);
        }
        for (int i = 0; i < n->n_children; i++) {
            cc_node_decref(stand_ins[i]);
        }
        cc_free(stand_ins);
        if (alone == NULL) {
            return -1;
        }
        ops->hash_non_name(alone, &h);
        cc_node_decref(alone);
    }
    hash_tag(&h, SELF_PAYLOAD);
    cc_blake3_update(&h, ops->type_uuid, 16);
    cc_blake3_final(&h, out, 32);
    return 0;
}
