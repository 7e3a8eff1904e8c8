// Traversals that read a circuit with an iterative matcher: get (set of found nodes),
// get_paths, get_all_paths, get_all_circuits_in_paths and any-found. Every walk is an explicit
// queue or stack; each (node, state) pair is stepped once per walk.
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

// Appends the path root_first[count - 1], ..., root_first[0]: from the found node up to the
// root.
static int
sink_add(path_sink *s, cc_node *const *root_first, size_t count)
{
    cc_match_paths *p = s->p;
    size_t at = (size_t)p->offsets[p->n_paths];
    size_t n_offsets = (size_t)p->n_paths + 2;
    if (cc_grow((void **)&p->nodes, &s->cap_nodes, at + count, sizeof(cc_node *)) < 0 ||
        cc_grow((void **)&p->offsets, &s->cap_offsets, n_offsets, sizeof(int64_t)) < 0) {
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

// A pair in get's queue.
typedef struct {
    cc_node *node;
    uint32_t id;
} pair;

typedef struct {
    pair *items;
    size_t len, cap;
} pair_queue;

// Queues (c, id) unless it was queued before; q has room (make_room). 0, or -1 on no memory.
static inline int
enqueue(pair_queue *q, cc_pair_index *x, cc_node *c, uint32_t id)
{
    uint32_t index;
    int fresh;
    if (cc_pair_index_claim(x, c, id, (uint32_t)q->len, &index, &fresh) < 0) {
        return -1;
    }
    if (fresh) {
        q->items[q->len++] = (pair){c, id};
    }
    return 0;
}

// Room in q for n more pairs, whose queue positions must stay below CC_NO_STATE (the pair
// index's indices are 32-bit). 0, or -1.
static int
make_room(pair_queue *q, size_t n)
{
    if (q->len + n >= CC_NO_STATE - 1) {
        return cc_fail(CC_E_PY_RUNTIME, "a traversal reached more than %u (node, matcher) pairs",
                       CC_NO_STATE - 1);
    }
    return cc_scratch_grow((void **)&q->items, &q->cap, q->len + n, sizeof(pair));
}

static int
add_found(cc_node *n, cc_hmap *found_set, cc_ptrvec *found)
{
    int new_node = set_add(found_set, n->hash);
    return new_node < 0 || (new_node && cc_ptrvec_push(found, n) < 0) ? -1 : 0;
}

// Steps (p.node, p.id) and queues the children it continues into. -1 on error.
static int
get_step(cc_state_table *t, pair p, pair_queue *q, cc_pair_index *x, cc_hmap *found_set,
         cc_ptrvec *found)
{
    const cc_imatcher *state = t->states.items[p.id];
    int nc = p.node->n_children;
    if (make_room(q, (size_t)nc) < 0) {
        return -1;
    }
    if (state->kind == CC_IM_MATCH) {
        // The common case, a plain Matcher: its state never changes.
        int is_found;
        if (cc_matcher_match(state->u.match, p.node, &is_found) < 0 ||
            (is_found && add_found(p.node, found_set, found) < 0)) {
            return -1;
        }
        for (int i = 0; i < nc; i++) {
            if (enqueue(q, x, p.node->children[i], p.id) < 0) {
                return -1;
            }
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
        if (enqueue(q, x, p.node->children[i], cid) < 0) {
            goto done;
        }
    }
    rc = 0;
done:
    cc_step_clear(&s);
    return rc;
}

// The walk of get: every distinct found node, in the order found, into found; with first_only
// it stops at the first one (are_any_found). Breadth-first (a set has no order), each pair
// queued once. Three cursors run ahead of the pair being stepped: its node struct is
// prefetched NODE_AHEAD places ahead, its name and child array ARRAY_AHEAD places ahead, and
// its children's structs CHILDREN_AHEAD places ahead, so that the step's queue tests read
// cached lines.
#define NODE_AHEAD 36
#define ARRAY_AHEAD 24
#define CHILDREN_AHEAD 12

static int
walk(cc_node *root, cc_imatcher *m, int first_only, cc_ptrvec *found)
{
    cc_state_table t;
    cc_pair_index x;
    cc_hmap found_set;
    pair_queue q = {NULL, 0, 0};
    int rc = -1;
    cc_state_table_init(&t);
    cc_pair_index_init(&x);
    cc_hmap_init(&found_set);
    uint32_t root_id;
    if (cc_state_table_intern(&t, m, &root_id) < 0 || make_room(&q, 1) < 0 ||
        enqueue(&q, &x, root, root_id) < 0) {
        goto done;
    }
    // q.items[0 .. fetched) have been prefetched, the arrays of q.items[0 .. arrays) and the
    // children of q.items[0 .. ahead).
    size_t fetched = 0, arrays = 0, ahead = 0;
    for (size_t i = 0; i < q.len && !(first_only && found->len > 0); i++) {
        for (; fetched < q.len && fetched <= i + NODE_AHEAD; fetched++) {
            __builtin_prefetch(q.items[fetched].node);
        }
        for (; arrays < q.len && arrays <= i + ARRAY_AHEAD; arrays++) {
            __builtin_prefetch(q.items[arrays].node->name);
            __builtin_prefetch(q.items[arrays].node->children);
        }
        for (; ahead < q.len && ahead <= i + CHILDREN_AHEAD; ahead++) {
            const cc_node *a = q.items[ahead].node;
            for (int j = 0; j < a->n_children; j++) {
                __builtin_prefetch(a->children[j]);
            }
        }
        if (get_step(&t, q.items[i], &q, &x, &found_set, found) < 0) {
            goto done;
        }
    }
    rc = 0;
done:
    cc_scratch_free(q.items);
    cc_pair_index_clear(&x);
    cc_hmap_clear(&found_set);
    cc_state_table_clear(&t);
    return rc;
}

int
cc_match_get(cc_node *root, cc_imatcher *m, cc_node ***out, int64_t *n_out)
{
    cc_ptrvec found;
    cc_ptrvec_init(&found);
    if (walk(root, m, 0, &found) < 0) {
        cc_ptrvec_clear(&found);
        return -1;
    }
    *out = (cc_node **)found.items;
    *n_out = (int64_t)found.len;
    return 0;
}

// --- get_paths ------------------------------------------------------------------------------

typedef struct {
    uint32_t entry;
    int next; // next child to look at (counting down)
} path_frame;

// A depth-first walk over the pair graph that takes children last first and never enters a
// pair twice: the first path on which it meets a found node is the one rc's get_paths keeps
// (at every node, the last child whose subtree holds it).
int
cc_match_get_paths(cc_node *root, cc_imatcher *m, cc_match_paths *out)
{
    cc_pair_graph g;
    if (cc_pair_graph_build(&g, root, m) < 0) {
        return -1;
    }
    cc_hmap found_set;
    path_frame *frames = NULL;
    cc_node **trail = NULL; // the nodes of frames, root first
    size_t cap = 0, cap_trail = 0, nf = 0;
    path_sink sink;
    int rc = -1;
    cc_hmap_init(&found_set);
    if (sink_start(&sink, out) < 0) {
        goto done;
    }
    uint32_t enter = 0;
    int entering = 1;
    for (;;) {
        if (entering) {
            cc_pair_entry *pe = &g.entries[enter];
            if (cc_grow((void **)&frames, &cap, nf + 1, sizeof(path_frame)) < 0 ||
                cc_grow((void **)&trail, &cap_trail, nf + 1, sizeof(cc_node *)) < 0) {
                goto done;
            }
            pe->mark = 1;
            frames[nf] = (path_frame){enter, pe->n_children - 1};
            trail[nf++] = pe->node;
            if (pe->found) {
                int new_node = set_add(&found_set, pe->node->hash);
                if (new_node < 0 || (new_node && sink_add(&sink, trail, nf) < 0)) {
                    goto done;
                }
            }
            entering = 0;
        }
        if (nf == 0) {
            break;
        }
        path_frame *f = &frames[nf - 1];
        if (f->next < 0) {
            nf--;
            continue;
        }
        const cc_pair_entry *pe = &g.entries[f->entry];
        uint32_t c = g.edges.items[pe->edge_base + (size_t)f->next--];
        if (c != CC_NO_STATE && !g.entries[c].mark) {
            enter = c;
            entering = 1;
        }
    }
    rc = 0;
done:
    if (rc < 0) {
        cc_match_paths_clear(out);
    }
    cc_free(frames);
    cc_free(trail);
    cc_hmap_clear(&found_set);
    cc_pair_graph_clear(&g);
    return rc;
}

// --- paths from the pair graph --------------------------------------------------------------

int
cc_match_get_all_paths(cc_node *root, cc_imatcher *m, cc_match_paths *out)
{
    cc_pair_graph g;
    path_sink sink;
    if (cc_pair_graph_build(&g, root, m) < 0) {
        return -1;
    }
    uint32_t *entries = NULL; // the current path's entries, root first
    int *next = NULL;
    cc_node **trail = NULL;
    size_t cap = 0, cap_next = 0, cap_trail = 0, depth = 0;
    int rc = -1;
    if (sink_start(&sink, out) < 0 || cc_pair_graph_mark(&g, 0) < 0) {
        goto done;
    }
    if (!g.entries[0].mark) {
        rc = 0;
        goto done;
    }
    // Pre-order over every path, entering only entries with something found at or below.
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
        cc_pair_entry *pe = &g.entries[entries[depth - 1]];
        if (next[depth - 1] == pe->n_children) {
            depth--;
            continue;
        }
        int i = next[depth - 1]++;
        uint32_t c = g.edges.items[pe->edge_base + (size_t)i];
        if (c != CC_NO_STATE && g.entries[c].mark) {
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
    cc_pair_graph_clear(&g);
    return rc;
}

int
cc_match_get_all_circuits_in_paths(cc_node *root, cc_imatcher *m, cc_node ***out, int64_t *n_out)
{
    cc_pair_graph g;
    if (cc_pair_graph_build(&g, root, m) < 0) {
        return -1;
    }
    cc_hmap seen;
    cc_ptrvec nodes;
    cc_hmap_init(&seen);
    cc_ptrvec_init(&nodes);
    int rc = -1;
    if (cc_pair_graph_mark(&g, 0) < 0) {
        goto done;
    }
    // Every entry is reachable from the root; those with something found at or below lie on
    // a path to a found node.
    for (size_t e = 0; e < g.n; e++) {
        if (!g.entries[e].mark) {
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
    cc_pair_graph_clear(&g);
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
    // Nothing to keep: get's walk, stopping at the first found node.
    cc_ptrvec found;
    cc_ptrvec_init(&found);
    int rc = walk(root, m, 1, &found);
    *out = found.len > 0;
    cc_ptrvec_clear(&found);
    return rc;
}
