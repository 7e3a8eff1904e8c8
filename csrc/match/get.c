// Traversals that read a circuit with an iterative matcher: get (set of found nodes),
// get_paths, get_all_paths, get_all_circuits_in_paths and any-found. Every walk is an explicit
// stack; each (node, state) pair is stepped once per walk.
#include "match/get.h"

#include <string.h>

#include "match/match_impl.h"
#include "util/alloc.h"
#include "util/error.h"

// Inserts key into a set; 1 if it was new, 0 if present, -1 on no memory.
static int
set_add(cc_hmap *set, const uint8_t key[32])
{
    size_t before = set->len;
    if (cc_hmap_put(set, key, (void *)1) < 0) {
        return -1;
    }
    return set->len != before;
}

// Marks (n, id) visited: 1 if it was not yet, 0 if it was, -1 on no memory.
static int
visit(cc_pair_map *visited, const cc_node *n, uint32_t id)
{
    int fresh;
    return cc_pair_map_claim(visited, n, id, &fresh) == NULL ? -1 : fresh;
}

void
cc_match_paths_clear(cc_match_paths *p)
{
    cc_free(p->offsets);
    cc_free(p->nodes);
    p->offsets = NULL;
    p->nodes = NULL;
    p->n_paths = 0;
}

// A paths result under construction.
typedef struct {
    cc_match_paths *p;
    size_t cap_offsets, cap_nodes;
} path_sink;

static int
sink_start(path_sink *s, cc_match_paths *p)
{
    s->p = p;
    p->n_paths = 0;
    p->nodes = NULL;
    s->cap_nodes = 0;
    s->cap_offsets = 16;
    p->offsets = cc_malloc(16 * sizeof(int64_t));
    if (p->offsets == NULL) {
        return -1;
    }
    p->offsets[0] = 0;
    return 0;
}

// Appends the path nodes[count - 1], ..., nodes[0] reversed: nodes holds root first.
static int
sink_add(path_sink *s, cc_node *const *root_first, size_t count)
{
    cc_match_paths *p = s->p;
    size_t at = (size_t)p->offsets[p->n_paths];
    if (cc_grow((void **)&p->nodes, &s->cap_nodes, at + count, sizeof(cc_node *)) < 0 ||
        cc_grow((void **)&p->offsets, &s->cap_offsets, (size_t)p->n_paths + 2, sizeof(int64_t)) < 0) {
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        p->nodes[at + i] = root_first[count - 1 - i];
    }
    p->n_paths++;
    p->offsets[p->n_paths] = (int64_t)(at + count);
    return 0;
}

// --- get ----------------------------------------------------------------------------------

// A pair waiting in get's queue; fresh is set once the pair has been claimed in the memo.
typedef struct {
    cc_node *node;
    uint32_t id;
    int32_t fresh;
} pair;

// get walks breadth-first through a queue and looks ahead. Three cursors run in front of
// the pair being stepped: the node structs of pairs NODE_AHEAD places ahead are prefetched,
// the memo slots of pairs SLOT_AHEAD ahead, and pairs CLAIM_AHEAD ahead are claimed in the
// memo (their names and child arrays prefetched). Large circuits do not fit in cache; this
// keeps many memory reads in flight instead of waiting for each in turn. (A set has no order.)
#define NODE_AHEAD 48
#define SLOT_AHEAD 24
#define CLAIM_AHEAD 8

static void
prefetch_node(const cc_node *n)
{
    __builtin_prefetch(n);
    __builtin_prefetch(n->hash);
}

typedef struct {
    pair *items;
    size_t len, cap;
} pair_queue;

static int
add_found(cc_node *n, cc_hmap *found_set, cc_ptrvec *found)
{
    int new_node = set_add(found_set, n->hash);
    return new_node < 0 || (new_node && cc_ptrvec_push(found, n) < 0) ? -1 : 0;
}

// Steps (p.node, p.id) and appends the children it continues into. -1 on error.
static int
get_step(cc_state_table *t, pair p, pair_queue *q, cc_hmap *found_set, cc_ptrvec *found)
{
    const cc_imatcher *state = t->states.items[p.id];
    int nc = p.node->n_children;
    if (state->kind == CC_IM_MATCH) {
        // The common case, a plain Matcher: its state never changes.
        int is_found;
        if (cc_matcher_match(state->u.match, p.node, &is_found) < 0 ||
            (is_found && add_found(p.node, found_set, found) < 0) ||
            cc_grow((void **)&q->items, &q->cap, q->len + (size_t)nc, sizeof(pair)) < 0) {
            return -1;
        }
        for (int i = 0; i < nc; i++) {
            q->items[q->len++] = (pair){p.node->children[i], p.id, 0};
        }
        return 0;
    }
    cc_step s;
    if (cc_imatcher_step(t->states.items[p.id], p.node, &s) < 0) {
        return -1;
    }
    int rc = -1;
    if (s.found && add_found(p.node, found_set, found) < 0) {
        goto done;
    }
    uint32_t uniform = p.id;
    if (s.kind == CC_STEP_ONE && cc_state_table_intern(t, s.one, &uniform) < 0) {
        goto done;
    }
    if (cc_step_all_finished(&s)) {
        rc = 0;
        goto done;
    }
    if (cc_grow((void **)&q->items, &q->cap, q->len + (size_t)nc, sizeof(pair)) < 0) {
        goto done;
    }
    for (int i = 0; i < nc; i++) {
        uint32_t cid = uniform;
        if (s.kind == CC_STEP_PER_CHILD) {
            if (s.per_child[i] == NULL) {
                continue;
            }
            if (cc_state_table_intern(t, s.per_child[i], &cid) < 0) {
                goto done;
            }
        }
        q->items[q->len++] = (pair){p.node->children[i], cid, 0};
    }
    rc = 0;
done:
    cc_step_clear(&s);
    return rc;
}

// Claims q->items[i] in the memo (sets its fresh flag). -1 on no memory.
static int
claim(cc_pair_map *visited, pair_queue *q, size_t i)
{
    pair *p = &q->items[i];
    int fresh;
    if (cc_pair_map_claim(visited, p->node, p->id, &fresh) == NULL) {
        return -1;
    }
    p->fresh = fresh;
    if (fresh) {
        __builtin_prefetch(p->node->name);
        __builtin_prefetch(p->node->children);
    }
    return 0;
}

int
cc_match_get(cc_node *root, cc_imatcher *m, cc_node ***out, int64_t *n_out)
{
    cc_state_table t;
    cc_pair_map visited;
    cc_hmap found_set;
    cc_ptrvec found;
    pair_queue q = {NULL, 0, 0};
    int rc = -1;
    cc_state_table_init(&t);
    cc_pair_map_init(&visited);
    cc_hmap_init(&found_set);
    cc_ptrvec_init(&found);
    uint32_t root_id;
    if (cc_state_table_intern(&t, m, &root_id) < 0 ||
        cc_grow((void **)&q.items, &q.cap, 1, sizeof(pair)) < 0) {
        goto done;
    }
    q.items[q.len++] = (pair){root, root_id, 0};
    // Items before these indices are prefetched, slot-prefetched, claimed.
    size_t fetched = 0, slotted = 0, claimed = 0;
    for (size_t i = 0; i < q.len; i++) {
        for (; fetched < q.len && fetched <= i + NODE_AHEAD; fetched++) {
            prefetch_node(q.items[fetched].node);
        }
        for (; slotted < q.len && slotted <= i + SLOT_AHEAD && visited.mask != 0; slotted++) {
            const pair *p = &q.items[slotted];
            __builtin_prefetch(&visited.slots[cc_pair_tag(p->node, p->id) & visited.mask]);
        }
        for (; claimed < q.len && claimed <= i + CLAIM_AHEAD; claimed++) {
            if (claim(&visited, &q, claimed) < 0) {
                goto done;
            }
        }
        if (q.items[i].fresh && get_step(&t, q.items[i], &q, &found_set, &found) < 0) {
            goto done;
        }
    }
    *out = (cc_node **)found.items;
    *n_out = (int64_t)found.len;
    cc_ptrvec_init(&found);
    rc = 0;
done:
    cc_free(q.items);
    cc_ptrvec_clear(&found);
    cc_pair_map_clear(&visited);
    cc_hmap_clear(&found_set);
    cc_state_table_clear(&t);
    return rc;
}

// --- get_paths ------------------------------------------------------------------------------

typedef struct {
    cc_node *node;
    uint32_t id;
    size_t base; // this node's child states in ids
    int next;    // next child to look at (counting down)
} path_frame;

int
cc_match_get_paths(cc_node *root, cc_imatcher *m, cc_match_paths *out)
{
    cc_state_table t;
    cc_pair_map visited;
    cc_hmap found_set;
    cc_u32vec ids;
    path_frame *frames = NULL;
    cc_node **trail = NULL; // the nodes of frames, root first
    size_t cap = 0, cap_trail = 0, nf = 0;
    path_sink sink;
    int rc = -1;
    cc_state_table_init(&t);
    cc_pair_map_init(&visited);
    cc_hmap_init(&found_set);
    cc_u32vec_init(&ids);
    if (sink_start(&sink, out) < 0) {
        goto done;
    }
    uint32_t root_id;
    if (cc_state_table_intern(&t, m, &root_id) < 0) {
        goto done;
    }
    cc_node *next_node = root;
    uint32_t next_id = root_id;
    for (;;) {
        if (next_node != NULL) {
            // Enter (next_node, next_id): it has not been visited.
            if (cc_grow((void **)&frames, &cap, nf + 1, sizeof(path_frame)) < 0 ||
                cc_grow((void **)&trail, &cap_trail, nf + 1, sizeof(cc_node *)) < 0) {
                goto done;
            }
            path_frame *f = &frames[nf];
            f->node = next_node;
            f->id = next_id;
            f->base = ids.len;
            f->next = next_node->n_children - 1;
            trail[nf++] = next_node;
            int is_found;
            if (cc_match_resolve(&t, next_id, next_node, &ids, &is_found, NULL) < 0) {
                goto done;
            }
            if (is_found) {
                int new_node = set_add(&found_set, next_node->hash);
                if (new_node < 0 || (new_node && sink_add(&sink, trail, nf) < 0)) {
                    goto done;
                }
            }
            next_node = NULL;
        }
        if (nf == 0) {
            break;
        }
        path_frame *f = &frames[nf - 1];
        if (f->next < 0) {
            ids.len = f->base;
            nf--;
            continue;
        }
        int i = f->next--;
        uint32_t cid = ids.items[f->base + (size_t)i];
        if (cid == CC_NO_STATE) {
            continue;
        }
        int fresh = visit(&visited, f->node->children[i], cid);
        if (fresh < 0) {
            goto done;
        }
        if (fresh) {
            next_node = f->node->children[i];
            next_id = cid;
        }
    }
    rc = 0;
done:
    if (rc < 0) {
        cc_match_paths_clear(out);
    }
    cc_free(frames);
    cc_free(trail);
    cc_u32vec_clear(&ids);
    cc_pair_map_clear(&visited);
    cc_hmap_clear(&found_set);
    cc_state_table_clear(&t);
    return rc;
}

// --- the reachable (node, state) graph ------------------------------------------------------

// One reachable pair: found at it, found at or below it, its children's entries in edges.
typedef struct {
    cc_node *node;
    uint8_t found;
    uint8_t below;
    size_t edge_base; // node->n_children entries of edges: entry index or CC_NO_STATE
} pair_entry;

typedef struct {
    pair_entry *entries;
    size_t n, cap;
    cc_u32vec edges;
} pair_graph;

static void
graph_clear(pair_graph *g)
{
    cc_free(g->entries);
    cc_u32vec_clear(&g->edges);
}

typedef struct {
    uint32_t entry;
    uint32_t id;
    size_t base; // child states in ids
    int next;    // next child (counting up)
} graph_frame;

// Builds the graph of pairs reachable from (root, m), each once, with `below` computed.
static int
build_graph(cc_node *root, cc_imatcher *m, pair_graph *g)
{
    cc_state_table t;
    cc_pair_map memo; // value: entry index
    cc_u32vec ids;
    graph_frame *frames = NULL;
    size_t cap = 0, nf = 0;
    int rc = -1;
    cc_state_table_init(&t);
    cc_pair_map_init(&memo);
    cc_u32vec_init(&ids);
    g->entries = NULL;
    g->n = g->cap = 0;
    cc_u32vec_init(&g->edges);
    uint32_t root_id;
    if (cc_state_table_intern(&t, m, &root_id) < 0) {
        goto done;
    }
    cc_node *next_node = root;
    uint32_t next_id = root_id;
    for (;;) {
        if (next_node != NULL) {
            if (g->n >= CC_NO_STATE - 1) {
                cc_fail(CC_E_PY_RUNTIME, "a traversal reached more than %u (node, matcher) pairs",
                        CC_NO_STATE - 1);
                goto done;
            }
            uint32_t e = (uint32_t)g->n;
            int fresh;
            cc_pair_slot *slot = cc_pair_map_claim(&memo, next_node, next_id, &fresh);
            if (slot == NULL) {
                goto done;
            }
            slot->value = e;
            if (cc_grow((void **)&g->entries, &g->cap, g->n + 1, sizeof(pair_entry)) < 0 ||
                cc_grow((void **)&frames, &cap, nf + 1, sizeof(graph_frame)) < 0 ||
                cc_u32vec_reserve(&g->edges, (size_t)next_node->n_children) < 0) {
                goto done;
            }
            pair_entry *pe = &g->entries[g->n++];
            pe->node = next_node;
            pe->edge_base = g->edges.len;
            for (int i = 0; i < next_node->n_children; i++) {
                g->edges.items[g->edges.len++] = CC_NO_STATE;
            }
            graph_frame *f = &frames[nf++];
            f->entry = e;
            f->id = next_id;
            f->base = ids.len;
            f->next = 0;
            int is_found;
            if (cc_match_resolve(&t, next_id, next_node, &ids, &is_found, NULL) < 0) {
                goto done;
            }
            pe->found = (uint8_t)is_found;
            pe->below = (uint8_t)is_found;
            next_node = NULL;
        }
        if (nf == 0) {
            break;
        }
        graph_frame *f = &frames[nf - 1];
        pair_entry *pe = &g->entries[f->entry];
        if (f->next == pe->node->n_children) {
            for (int i = 0; i < pe->node->n_children && !pe->below; i++) {
                uint32_t c = g->edges.items[pe->edge_base + (size_t)i];
                pe->below = c != CC_NO_STATE && g->entries[c].below;
            }
            ids.len = f->base;
            nf--;
            continue;
        }
        int i = f->next++;
        uint32_t cid = ids.items[f->base + (size_t)i];
        if (cid == CC_NO_STATE) {
            continue;
        }
        cc_node *child = pe->node->children[i];
        cc_pair_slot *known = cc_pair_map_find(&memo, child, cid);
        if (known != NULL) {
            g->edges.items[pe->edge_base + (size_t)i] = known->value;
            continue;
        }
        g->edges.items[pe->edge_base + (size_t)i] = (uint32_t)g->n;
        next_node = child;
        next_id = cid;
    }
    rc = 0;
done:
    if (rc < 0) {
        graph_clear(g);
    }
    cc_free(frames);
    cc_u32vec_clear(&ids);
    cc_pair_map_clear(&memo);
    cc_state_table_clear(&t);
    return rc;
}

int
cc_match_get_all_paths(cc_node *root, cc_imatcher *m, cc_match_paths *out)
{
    pair_graph g;
    path_sink sink;
    if (build_graph(root, m, &g) < 0) {
        return -1;
    }
    uint32_t *entries = NULL; // the current path's entries, root first
    int *next = NULL;
    cc_node **trail = NULL;
    size_t cap = 0, cap_next = 0, cap_trail = 0, depth = 0;
    int rc = -1;
    if (sink_start(&sink, out) < 0) {
        goto done;
    }
    if (!g.entries[0].below) {
        rc = 0;
        goto done;
    }
    uint32_t enter = 0;
    int entering = 1;
    for (;;) {
        if (entering) {
            if (cc_grow((void **)&entries, &cap, depth + 1, sizeof(uint32_t)) < 0 ||
                cc_grow((void **)&next, &cap_next, depth + 1, sizeof(int)) < 0 ||
                cc_grow((void **)&trail, &cap_trail, depth + 1, sizeof(cc_node *)) < 0) {
                goto done;
            }
            entries[depth] = enter;
            next[depth] = 0;
            trail[depth] = g.entries[enter].node;
            depth++;
            if (g.entries[enter].found && sink_add(&sink, trail, depth) < 0) {
                goto done;
            }
            entering = 0;
        }
        if (depth == 0) {
            break;
        }
        pair_entry *pe = &g.entries[entries[depth - 1]];
        if (next[depth - 1] == pe->node->n_children) {
            depth--;
            continue;
        }
        int i = next[depth - 1]++;
        uint32_t c = g.edges.items[pe->edge_base + (size_t)i];
        if (c != CC_NO_STATE && g.entries[c].below) {
            enter = c;
            entering = 1;
        }
    }
    rc = 0;
done:
    if (rc < 0) {
        cc_match_paths_clear(out);
    }
    cc_free(entries);
    cc_free(next);
    cc_free(trail);
    graph_clear(&g);
    return rc;
}

int
cc_match_get_all_circuits_in_paths(cc_node *root, cc_imatcher *m, cc_node ***out,
                                   int64_t *n_out)
{
    pair_graph g;
    if (build_graph(root, m, &g) < 0) {
        return -1;
    }
    cc_hmap seen;
    cc_ptrvec nodes;
    cc_hmap_init(&seen);
    cc_ptrvec_init(&nodes);
    int rc = -1;
    // Every entry is reachable from the root; those with something found at or below lie on
    // a path to a found node. Entries are numbered in pre-order.
    for (size_t e = 0; e < g.n; e++) {
        if (!g.entries[e].below) {
            continue;
        }
        int fresh = set_add(&seen, g.entries[e].node->hash);
        if (fresh < 0 || (fresh && cc_ptrvec_push(&nodes, g.entries[e].node) < 0)) {
            goto done;
        }
    }
    *out = (cc_node **)nodes.items;
    *n_out = (int64_t)nodes.len;
    cc_ptrvec_init(&nodes);
    rc = 0;
done:
    cc_ptrvec_clear(&nodes);
    cc_hmap_clear(&seen);
    graph_clear(&g);
    return rc;
}

// --- any found ------------------------------------------------------------------------------

struct cc_any_found {
    cc_state_table t;
    // memo key -> 1 (nothing found at or below) or 2 (something found). Keyed by hashes, not
    // node pointers: the cache outlives the circuits it has seen.
    cc_hmap memo;
};

cc_any_found *
cc_any_found_new(void)
{
    cc_any_found *af = cc_malloc(sizeof(cc_any_found));
    if (af != NULL) {
        cc_state_table_init(&af->t);
        cc_hmap_init(&af->memo);
    }
    return af;
}

void
cc_any_found_free(cc_any_found *af)
{
    if (af != NULL) {
        cc_state_table_clear(&af->t);
        cc_hmap_clear(&af->memo);
        cc_free(af);
    }
}

typedef struct {
    cc_node *node;
    uint32_t id;
    size_t base;
    int next;
} any_frame;

// Records every frame on the stack (ancestors of a found node) as having something below.
// The memo key of (n, id): n's hash with the id mixed into its first 8 bytes (as
// cc_pair_tag); keys are equal only for the same node hash and the same id.
static void
memo_key(uint8_t key[32], const cc_node *n, uint32_t id)
{
    uint64_t tag = cc_pair_tag(n, id);
    memcpy(key, n->hash, 32);
    memcpy(key, &tag, sizeof tag);
}

static int
memo_put(cc_hmap *memo, const cc_node *n, uint32_t id, uintptr_t value)
{
    uint8_t key[32];
    memo_key(key, n, id);
    return cc_hmap_put(memo, key, (void *)value);
}

static uintptr_t
memo_get(const cc_hmap *memo, const cc_node *n, uint32_t id)
{
    uint8_t key[32];
    memo_key(key, n, id);
    return (uintptr_t)cc_hmap_get(memo, key);
}

static int
mark_found(cc_hmap *memo, const any_frame *frames, size_t nf)
{
    for (size_t i = 0; i < nf; i++) {
        if (memo_put(memo, frames[i].node, frames[i].id, 2) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
any_found_walk(cc_any_found *af, cc_node *root, cc_imatcher *m, int *out)
{
    uint32_t root_id;
    if (cc_state_table_intern(&af->t, m, &root_id) < 0) {
        return -1;
    }
    uintptr_t known = memo_get(&af->memo, root, root_id);
    if (known != 0) {
        *out = known == 2;
        return 0;
    }
    cc_u32vec ids;
    any_frame *frames = NULL;
    size_t cap = 0, nf = 0;
    int rc = -1;
    cc_u32vec_init(&ids);
    *out = 0;
    cc_node *next_node = root;
    uint32_t next_id = root_id;
    for (;;) {
        if (next_node != NULL) {
            if (cc_grow((void **)&frames, &cap, nf + 1, sizeof(any_frame)) < 0) {
                goto done;
            }
            any_frame *f = &frames[nf++];
            f->node = next_node;
            f->id = next_id;
            f->base = ids.len;
            f->next = 0;
            int is_found;
            if (cc_match_resolve(&af->t, next_id, next_node, &ids, &is_found, NULL) < 0) {
                goto done;
            }
            if (is_found) {
                *out = 1;
                rc = mark_found(&af->memo, frames, nf);
                goto done;
            }
            next_node = NULL;
        }
        if (nf == 0) {
            break;
        }
        any_frame *f = &frames[nf - 1];
        if (f->next == f->node->n_children) {
            // Nothing found at or below this pair (a find would have ended the walk).
            if (memo_put(&af->memo, f->node, f->id, 1) < 0) {
                goto done;
            }
            ids.len = f->base;
            nf--;
            continue;
        }
        int i = f->next++;
        uint32_t cid = ids.items[f->base + (size_t)i];
        if (cid == CC_NO_STATE) {
            continue;
        }
        known = memo_get(&af->memo, f->node->children[i], cid);
        if (known == 2) {
            *out = 1;
            rc = mark_found(&af->memo, frames, nf);
            goto done;
        }
        if (known == 0) {
            next_node = f->node->children[i];
            next_id = cid;
        }
    }
    rc = 0;
done:
    cc_free(frames);
    cc_u32vec_clear(&ids);
    return rc;
}

int
cc_any_found_run(cc_any_found *af, cc_node *root, cc_imatcher *m, int *out)
{
    if (af != NULL) {
        return any_found_walk(af, root, m, out);
    }
    cc_any_found local;
    cc_state_table_init(&local.t);
    cc_hmap_init(&local.memo);
    int rc = any_found_walk(&local, root, m, out);
    cc_state_table_clear(&local.t);
    cc_hmap_clear(&local.memo);
    return rc;
}
