// Update: a post-order walk over (node, state) pairs with an explicit stack of frames. A pair's
// result is memoised by (node hash, state id); transforms are cached by input hash. A node is
// rebuilt through its constructor only when a child changed (or when rebuilding could give it
// an automatic name, as rc's always-rebuild would), so untouched subtrees stay shared.
#include "match/update.h"

#include <stdio.h>
#include <string.h>

#include "match/match_impl.h"
#include "util/alloc.h"
#include "util/error.h"

typedef struct {
    cc_node *node;
    uint32_t id;
    int found;
    int finished;    // the step visits no child: the node is kept as it is
    int changed;     // some child result differs from the child
    int next;        // next child to resolve
    size_t base;     // child states in ids
    size_t res_base; // child results in results (owned references, NULL until known)
} update_frame;

typedef struct {
    cc_state_table t;
    cc_pair_map memo;     // value: index in memo_nodes
    cc_ptrvec memo_nodes; // owned references
    cc_hmap transform_cache; // input hash -> index + 1 in transform_nodes
    cc_ptrvec transform_nodes; // owned references
    cc_u32vec ids;
    cc_ptrvec results; // per frame, its children's results
    update_frame *frames;
    size_t n_frames, cap_frames;
    const cc_transform *transform;
    const cc_update_options *options;
    int any_found;
} update_run;

static void
release_nodes(cc_ptrvec *v)
{
    for (size_t i = 0; i < v->len; i++) {
        cc_node_decref(v->items[i]);
    }
    cc_ptrvec_clear(v);
}

static void
run_clear(update_run *r)
{
    cc_state_table_clear(&r->t);
    cc_pair_map_clear(&r->memo);
    release_nodes(&r->memo_nodes);
    cc_hmap_clear(&r->transform_cache);
    release_nodes(&r->transform_nodes);
    cc_u32vec_clear(&r->ids);
    release_nodes(&r->results);
    cc_free(r->frames);
}

// Stores n (a new reference, consumed) under key in a node-valued map.
static int
map_put(cc_hmap *map, cc_ptrvec *store, const uint8_t key[32], cc_node *n)
{
    if (cc_ptrvec_push(store, n) < 0) {
        cc_node_decref(n);
        return -1;
    }
    return cc_hmap_put(map, key, (void *)(uintptr_t)store->len);
}

static cc_node *
map_get(const cc_hmap *map, const cc_ptrvec *store, const uint8_t key[32])
{
    void *v = cc_hmap_get(map, key);
    return v == NULL ? NULL : store->items[(uintptr_t)v - 1];
}

static int
push_frame(update_run *r, cc_node *n, uint32_t id)
{
    if (r->n_frames == r->cap_frames) {
        size_t cap = r->cap_frames ? r->cap_frames * 2 : 64;
        update_frame *p = cc_realloc(r->frames, cap * sizeof(update_frame));
        if (p == NULL) {
            return -1;
        }
        r->frames = p;
        r->cap_frames = cap;
    }
    update_frame *f = &r->frames[r->n_frames++];
    f->node = n;
    f->id = id;
    f->changed = 0;
    f->next = 0;
    f->base = r->ids.len;
    f->res_base = r->results.len;
    for (int i = 0; i < n->n_children; i++) {
        if (cc_ptrvec_push(&r->results, NULL) < 0) {
            return -1;
        }
    }
    if (cc_match_resolve(&r->t, id, n, &r->ids, &f->found, &f->finished) < 0) {
        return -1;
    }
    r->any_found = r->any_found || f->found;
    return 0;
}

// Rebuilding an unnamed node with the same children can still change it: it may now get an
// automatic name (rc rebuilds every visited node for this reason).
static int
rebuild_may_rename(const cc_node *n)
{
    if (n->name != NULL || !n->use_autoname || (cc_kind_get_info(n->kind)->flags & CC_LEAF)) {
        return 0;
    }
    for (int i = 0; i < n->n_children; i++) {
        if (n->children[i]->name == NULL) {
            return 0;
        }
    }
    return 1;
}

static void
format_shape(char *buf, size_t cap, const cc_node *n)
{
    size_t at = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < n->ndim && at < cap; i++) {
        at += (size_t)snprintf(buf + at, cap - at, i ? ", %lld" : "%lld", (long long)n->shape[i]);
    }
    if (at < cap) {
        snprintf(buf + at, cap - at, n->ndim == 1 ? ",)" : ")");
    }
}

static const char *
describe_node(const cc_node *n, char *buf, size_t cap)
{
    const char *kind = cc_kind_get_info(n->kind)->py_name;
    if (n->name == NULL) {
        snprintf(buf, cap, "unnamed %s", kind);
    } else {
        snprintf(buf, cap, "%s '%s'", kind, n->name);
    }
    return buf;
}

// Prefixes the rebuild error of n with n and the child whose replacement broke it.
static void
explain_rebuild_failure(const cc_node *n, cc_node *const *children)
{
    int which = -1;
    for (int i = 0; i < n->n_children; i++) {
        if (children[i] == n->children[i]) {
            continue;
        }
        if (which < 0) {
            which = i;
        }
        if (children[i]->ndim != n->children[i]->ndim ||
            memcmp(children[i]->shape, n->children[i]->shape,
                   (size_t)children[i]->ndim * sizeof(int64_t)) != 0) {
            which = i;
            break;
        }
    }
    char parent[160], child[160], repl[160], was[160], now[160];
    describe_node(n, parent, sizeof parent);
    if (which < 0) {
        cc_error_prefix("update: rebuilding %s failed", parent);
        return;
    }
    const cc_node *old = n->children[which];
    const cc_node *replacement = children[which];
    describe_node(old, child, sizeof child);
    format_shape(was, sizeof was, old);
    format_shape(now, sizeof now, replacement);
    cc_error_prefix("update: rebuilding %s failed after its child %d (%s, shape %s) was replaced "
                    "by %s of shape %s",
                    parent, which, child, was,
                    describe_node(replacement, repl, sizeof repl), now);
}

static cc_node *
run_transform(update_run *r, cc_node *n)
{
    if (r->options->cache_transform) {
        cc_node *cached = map_get(&r->transform_cache, &r->transform_nodes, n->hash);
        if (cached != NULL) {
            cc_node_incref(cached);
            return cached;
        }
    }
    cc_node *out = r->transform->run(r->transform->ctx, n);
    if (out == NULL) {
        return NULL;
    }
    if (r->options->cache_transform) {
        cc_node_incref(out);
        if (map_put(&r->transform_cache, &r->transform_nodes, n->hash, out) < 0) {
            cc_node_decref(out);
            return NULL;
        }
    }
    return out;
}

// The result of the top frame, whose children are all resolved: a new reference.
static cc_node *
finish_frame(update_run *r, const update_frame *f)
{
    cc_node *n = f->node;
    cc_node **children = (cc_node **)r->results.items + f->res_base;
    cc_node *out;
    if (f->changed || (!f->finished && rebuild_may_rename(n))) {
        out = cc_node_rebuild(n, children, n->name);
        if (out == NULL) {
            explain_rebuild_failure(n, children);
            return NULL;
        }
    } else {
        cc_node_incref(n);
        out = n;
    }
    if (f->found && !r->transform->identity) {
        cc_node *t = run_transform(r, out);
        cc_node_decref(out);
        out = t;
    }
    return out;
}

// Records result (borrowed; the memo takes a reference) as the value of frame f's pair.
static int
memo_result(update_run *r, const update_frame *f, cc_node *result)
{
    int fresh;
    cc_pair_slot *slot = cc_pair_map_claim(&r->memo, f->node, f->id, &fresh);
    if (slot == NULL || cc_ptrvec_push(&r->memo_nodes, result) < 0) {
        return -1;
    }
    cc_node_incref(result);
    slot->value = (uint32_t)(r->memo_nodes.len - 1);
    return 0;
}

// Gives the top frame's child `next` its result (a new reference, consumed).
static void
deliver(update_run *r, cc_node *result)
{
    update_frame *f = &r->frames[r->n_frames - 1];
    cc_node *child = f->node->children[f->next];
    if (memcmp(result->hash, child->hash, 32) == 0) {
        // Equal structure: keep the original child object so that nothing needs rebuilding.
        cc_node_decref(result);
        cc_node_incref(child);
        result = child;
    } else {
        f->changed = 1;
    }
    r->results.items[f->res_base + (size_t)f->next] = result;
    f->next++;
}

cc_node *
cc_match_update(cc_node *root, cc_imatcher *m, const cc_transform *transform,
                const cc_update_options *options, int *any_found)
{
    update_run r;
    memset(&r, 0, sizeof r);
    cc_state_table_init(&r.t);
    cc_pair_map_init(&r.memo);
    cc_ptrvec_init(&r.memo_nodes);
    cc_hmap_init(&r.transform_cache);
    cc_ptrvec_init(&r.transform_nodes);
    cc_u32vec_init(&r.ids);
    cc_ptrvec_init(&r.results);
    r.transform = transform;
    r.options = options;
    cc_node *out = NULL;
    uint32_t root_id;
    if (cc_state_table_intern(&r.t, m, &root_id) < 0 || push_frame(&r, root, root_id) < 0) {
        goto done;
    }
    while (r.n_frames > 0) {
        update_frame *f = &r.frames[r.n_frames - 1];
        if (f->next < f->node->n_children) {
            cc_node *child = f->node->children[f->next];
            uint32_t cid = r.ids.items[f->base + (size_t)f->next];
            if (cid == CC_NO_STATE) {
                cc_node_incref(child);
                deliver(&r, child);
                continue;
            }
            cc_pair_slot *known =
                options->cache_update ? cc_pair_map_find(&r.memo, child, cid) : NULL;
            if (known != NULL) {
                cc_node *result = r.memo_nodes.items[known->value];
                cc_node_incref(result);
                deliver(&r, result);
                continue;
            }
            if (push_frame(&r, child, cid) < 0) {
                goto done;
            }
            continue;
        }
        cc_node *result = finish_frame(&r, f);
        if (result == NULL) {
            goto done;
        }
        if (options->cache_update && memo_result(&r, f, result) < 0) {
            cc_node_decref(result);
            goto done;
        }
        // Pop: release the children's results, then hand this one to the parent.
        for (size_t i = f->res_base; i < r.results.len; i++) {
            cc_node_decref(r.results.items[i]);
        }
        r.results.len = f->res_base;
        r.ids.len = f->base;
        r.n_frames--;
        if (r.n_frames == 0) {
            out = result;
            break;
        }
        deliver(&r, result);
    }
    *any_found = r.any_found;
done:
    run_clear(&r);
    return out;
}
