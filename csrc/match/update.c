// Update in two passes over the (node, state) pair graph (match_impl.h): the graph is built
// breadth-first (each pair stepped once), entries that lead to a found node (or to a node a
// rebuild would rename) are marked, then a post-order walk over the marked entries only rebuilds
// them bottom-up and applies the transform to found ones. Everything unmarked stays shared.
#include "match/update.h"

#include <stdio.h>
#include <string.h>

#include "match/match_impl.h"
#include "util/alloc.h"
#include "util/error.h"

typedef struct {
    uint32_t entry;
    int next;        // next child to resolve
    int changed;     // some child result differs from the child
    size_t res_base; // child results in results (owned references, NULL until known)
} update_frame;

typedef struct {
    cc_pair_graph g;
    cc_node **entry_results;   // per entry, when cache_update: the result (owned) or NULL
    cc_hmap transform_cache;   // input hash -> index + 1 in transform_nodes
    cc_ptrvec transform_nodes; // owned references
    cc_ptrvec results;         // per frame, its children's results
    update_frame *frames;
    size_t n_frames, cap_frames;
    const cc_transform *transform;
    const cc_update_options *options;
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
    if (r->entry_results != NULL) {
        for (size_t e = 0; e < r->g.n; e++) {
            cc_node_decref(r->entry_results[e]);
        }
        cc_scratch_free(r->entry_results);
    }
    cc_pair_graph_clear(&r->g);
    cc_hmap_clear(&r->transform_cache);
    release_nodes(&r->transform_nodes);
    release_nodes(&r->results);
    cc_free(r->frames);
}

static int
push_frame(update_run *r, uint32_t entry)
{
    if (cc_grow((void **)&r->frames, &r->cap_frames, r->n_frames + 1, sizeof(update_frame)) < 0) {
        return -1;
    }
    update_frame *f = &r->frames[r->n_frames++];
    f->entry = entry;
    f->next = 0;
    f->changed = 0;
    f->res_base = r->results.len;
    int nc = r->g.entries[entry].n_children;
    for (int i = 0; i < nc; i++) {
        if (cc_ptrvec_push(&r->results, NULL) < 0) {
            return -1;
        }
    }
    return 0;
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

// Prefixes the rebuild error of n with n and the child whose replacement broke it (the first
// replaced child whose shape changed, else the first replaced child).
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
                    parent, which, child, was, describe_node(replacement, repl, sizeof repl), now);
}

static cc_node *
run_transform(update_run *r, cc_node *n)
{
    if (r->options->cache_transform) {
        void *v = cc_hmap_get(&r->transform_cache, n->hash);
        if (v != NULL) {
            cc_node *cached = r->transform_nodes.items[(uintptr_t)v - 1];
            cc_node_incref(cached);
            return cached;
        }
    }
    cc_node *out = r->transform->run(r->transform->ctx, n);
    if (out == NULL || !r->options->cache_transform) {
        return out;
    }
    if (cc_ptrvec_push(&r->transform_nodes, out) < 0) {
        cc_node_decref(out);
        return NULL;
    }
    cc_node_incref(out); // one reference for the cache, one for the caller
    if (cc_hmap_put(&r->transform_cache, n->hash, (void *)(uintptr_t)r->transform_nodes.len) < 0) {
        cc_node_decref(out);
        return NULL;
    }
    return out;
}

// The result of the top frame, whose children are all resolved: a new reference.
static cc_node *
finish_frame(update_run *r, const update_frame *f)
{
    const cc_pair_entry *pe = &r->g.entries[f->entry];
    cc_node *n = pe->node;
    cc_node **children = (cc_node **)r->results.items + f->res_base;
    cc_node *out;
    if (f->changed || pe->renames) {
        out = cc_node_rebuild(n, children, n->name);
        if (out == NULL) {
            explain_rebuild_failure(n, children);
            return NULL;
        }
    } else {
        cc_node_incref(n);
        out = n;
    }
    if (pe->found && !r->transform->identity) {
        cc_node *t = run_transform(r, out);
        cc_node_decref(out);
        out = t;
    }
    return out;
}

// Gives the top frame's child `next` its result (a new reference, consumed).
static void
deliver(update_run *r, cc_node *result)
{
    update_frame *f = &r->frames[r->n_frames - 1];
    cc_node *child = r->g.entries[f->entry].node->children[f->next];
    if (result != child) {
        if (memcmp(result->hash, child->hash, 32) == 0) {
            // Equal structure: keep the original child object, so nothing needs rebuilding.
            cc_node_decref(result);
            cc_node_incref(child);
            result = child;
        } else {
            f->changed = 1;
        }
    }
    r->results.items[f->res_base + (size_t)f->next] = result;
    f->next++;
}

// The post-order walk over marked entries from the root entry. New reference, or NULL.
static cc_node *
rebuild_marked(update_run *r)
{
    const cc_pair_graph *g = &r->g;
    if (!g->entries[0].mark) {
        cc_node_incref(g->entries[0].node);
        return g->entries[0].node;
    }
    if (push_frame(r, 0) < 0) {
        return NULL;
    }
    for (;;) {
        update_frame *f = &r->frames[r->n_frames - 1];
        const cc_pair_entry *pe = &g->entries[f->entry];
        if (f->next < pe->n_children) {
            uint32_t c = g->edges.items[pe->edge_base + (size_t)f->next];
            if (c == CC_NO_STATE || !g->entries[c].mark) {
                cc_node *child = pe->node->children[f->next];
                cc_node_incref(child);
                deliver(r, child);
            } else if (r->entry_results != NULL && r->entry_results[c] != NULL) {
                cc_node_incref(r->entry_results[c]);
                deliver(r, r->entry_results[c]);
            } else if (push_frame(r, c) < 0) {
                return NULL;
            }
            continue;
        }
        cc_node *result = finish_frame(r, f);
        if (result == NULL) {
            return NULL;
        }
        if (r->entry_results != NULL) {
            cc_node_incref(result);
            r->entry_results[f->entry] = result;
        }
        // Pop: release the children's results, then hand this one to the parent.
        for (size_t i = f->res_base; i < r->results.len; i++) {
            cc_node_decref(r->results.items[i]);
        }
        r->results.len = f->res_base;
        if (--r->n_frames == 0) {
            return result;
        }
        deliver(r, result);
    }
}

cc_node *
cc_match_update(cc_node *root, cc_imatcher *m, const cc_transform *transform,
                const cc_update_options *options, int *any_found)
{
    update_run r;
    memset(&r, 0, sizeof r);
    cc_hmap_init(&r.transform_cache);
    cc_ptrvec_init(&r.transform_nodes);
    cc_ptrvec_init(&r.results);
    r.transform = transform;
    r.options = options;
    cc_node *out = NULL;
    if (cc_pair_graph_build(&r.g, root, m) < 0) {
        goto done;
    }
    if (cc_pair_graph_mark(&r.g, 1) < 0) {
        goto done;
    }
    // Without cache_update every path is rebuilt on its own, as rc does without its cache.
    if (options->cache_update) {
        size_t bytes;
        r.entry_results = cc_scratch_alloc(r.g.n * sizeof(cc_node *), &bytes);
        if (r.entry_results == NULL) {
            goto done;
        }
        memset(r.entry_results, 0, r.g.n * sizeof(cc_node *));
    }
    *any_found = 0;
    for (size_t e = 0; e < r.g.n && !*any_found; e++) {
        *any_found = r.g.entries[e].found;
    }
    out = rebuild_marked(&r);
done:
    run_clear(&r);
    return out;
}
