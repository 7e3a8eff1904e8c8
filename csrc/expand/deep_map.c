#include "expand/deep_map.h"

#include <string.h>

#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/vec.h"

typedef struct {
    cc_node *orig; // borrowed; the memo key
    cc_node *node; // owned: orig, or what pre replaced it with
    int next;
    cc_node **kids; // owned results
} dm_frame;

static void
dm_frame_free(dm_frame *f)
{
    for (int i = 0; i < f->node->n_children; i++) {
        cc_node_decref(f->kids[i]);
    }
    cc_free(f->kids);
    cc_node_decref(f->node);
    cc_free(f);
}

cc_node *
cc_deep_map_rebuild(cc_node *node, cc_node *const *kids, int changed)
{
    if (!changed) {
        cc_node_incref(node);
        return node;
    }
    return cc_node_rebuild(node, kids, node->name);
}

// Result of x if known now (*out new reference, returns 1), a frame to walk (returns 0), or -1.
static int
dm_visit(cc_hmap *memo, cc_node *x, cc_deep_map_pre pre, void *ctx, cc_ptrvec *stack, cc_node **out)
{
    cc_node *known = cc_hmap_get(memo, x->hash);
    if (known != NULL) {
        cc_node_incref(known);
        *out = known;
        return 1;
    }
    cc_node *node = x;
    int r = pre != NULL ? pre(ctx, x, &node) : 0;
    if (r < 0) {
        return -1;
    }
    if (r == 1) {
        if (cc_hmap_put(memo, x->hash, node) < 0) {
            cc_node_decref(node);
            return -1;
        }
        cc_node_incref(node);
        *out = node;
        return 1;
    }
    if (r == 0) {
        cc_node_incref(node);
    }
    dm_frame *f = cc_calloc(1, sizeof(dm_frame));
    cc_node **kids =
        cc_calloc((size_t)(node->n_children > 0 ? node->n_children : 1), sizeof(cc_node *));
    if (f == NULL || kids == NULL || cc_ptrvec_push(stack, f) < 0) {
        cc_free(f);
        cc_free(kids);
        cc_node_decref(node);
        return -1;
    }
    f->orig = x;
    f->node = node;
    f->kids = kids;
    return 0;
}

cc_node *
cc_deep_map(cc_node *root, cc_deep_map_pre pre, cc_deep_map_post post, void *ctx)
{
    cc_hmap memo;
    cc_hmap_init(&memo);
    cc_ptrvec stack;
    cc_ptrvec_init(&stack);
    cc_node *result = NULL;
    int r = dm_visit(&memo, root, pre, ctx, &stack, &result);
    while (r == 0 && stack.len > 0) {
        dm_frame *f = stack.items[stack.len - 1];
        if (f->next < f->node->n_children) {
            int i = f->next++;
            cc_node *out;
            int v = dm_visit(&memo, f->node->children[i], pre, ctx, &stack, &out);
            if (v < 0) {
                r = -1;
            } else if (v == 1) {
                f->kids[i] = out;
            }
            continue;
        }
        int changed = 0;
        for (int i = 0; i < f->node->n_children; i++) {
            changed |= f->kids[i] != f->node->children[i];
        }
        cc_node *out = post != NULL ? post(ctx, f->node, f->kids, changed)
                                    : cc_deep_map_rebuild(f->node, f->kids, changed);
        if (out == NULL || cc_hmap_put(&memo, f->orig->hash, out) < 0) {
            cc_node_decref(out);
            r = -1;
            break;
        }
        dm_frame_free(f);
        stack.len--;
        cc_node_incref(out);
        if (stack.len == 0) {
            result = out;
        } else {
            dm_frame *parent = stack.items[stack.len - 1];
            parent->kids[parent->next - 1] = out;
        }
    }
    for (size_t i = 0; i < stack.len; i++) {
        dm_frame_free(stack.items[i]);
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

int
cc_deep_map_keep_module_free(void *ctx, cc_node *node, cc_node **out)
{
    (void)ctx;
    if (node->contains_module) {
        return 0;
    }
    cc_node_incref(node);
    *out = node;
    return 1;
}
