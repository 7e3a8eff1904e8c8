// The pieces every traversal of match/ shares: the state table (interning), the (node, state)
// memo map, growable arrays, and the resolution of a step into child state ids.
#include <string.h>

#include "match/match_impl.h"
#include "util/alloc.h"
#include "util/error.h"

void
cc_u32vec_init(cc_u32vec *v)
{
    v->items = NULL;
    v->len = 0;
    v->cap = 0;
}

void
cc_u32vec_clear(cc_u32vec *v)
{
    cc_scratch_free(v->items);
    cc_u32vec_init(v);
}

int
cc_u32vec_reserve(cc_u32vec *v, size_t extra)
{
    return cc_scratch_grow((void **)&v->items, &v->cap, v->len + extra, sizeof(uint32_t));
}

// --- states -----------------------------------------------------------------------------------

void
cc_state_table_init(cc_state_table *t)
{
    cc_hmap_init(&t->ids);
    cc_ptrvec_init(&t->states);
}

void
cc_state_table_clear(cc_state_table *t)
{
    for (size_t i = 0; i < t->states.len; i++) {
        cc_imatcher_decref(t->states.items[i]);
    }
    cc_ptrvec_clear(&t->states);
    cc_hmap_clear(&t->ids);
}

int
cc_state_table_intern(cc_state_table *t, cc_imatcher *m, uint32_t *id)
{
    void *v = cc_hmap_get(&t->ids, m->hash);
    if (v != NULL) {
        *id = (uint32_t)((uintptr_t)v - 1);
        return 0;
    }
    if (t->states.len >= CC_NO_STATE - 1) {
        return cc_fail(CC_E_PY_RUNTIME, "a traversal met more than %u matcher states",
                       CC_NO_STATE - 1);
    }
    uint32_t next = (uint32_t)t->states.len;
    if (cc_ptrvec_push(&t->states, m) < 0) {
        return -1;
    }
    if (cc_hmap_put(&t->ids, m->hash, (void *)(uintptr_t)(next + 1)) < 0) {
        t->states.len--;
        return -1;
    }
    cc_imatcher_incref(m);
    *id = next;
    return 0;
}

// --- the (node, state) map --------------------------------------------------------------------

// Sizing hint: about as many pairs as the recent walks met. Circuits are matched many times
// over, and a map sized right from the start skips the rehashing of every doubling. Only a
// hint: a wrong value costs time, never correctness.
static size_t pair_hint;

void
cc_pair_map_init(cc_pair_map *m)
{
    m->slots = NULL;
    m->mask = 0;
    m->len = 0;
}

void
cc_pair_map_clear(cc_pair_map *m)
{
    size_t decayed = pair_hint / 2;
    pair_hint = m->len > decayed ? m->len : decayed;
    cc_scratch_free(m->slots);
    cc_pair_map_init(m);
}

int
cc_pair_map_grow(cc_pair_map *m)
{
    size_t cap = 1024;
    if (m->mask != 0) {
        cap = (m->mask + 1) * 2;
    } else {
        while (cap < pair_hint * 2 && cap < ((size_t)1 << 24)) {
            cap *= 2;
        }
    }
    size_t bytes;
    cc_pair_slot *slots = cc_scratch_alloc(cap * sizeof(cc_pair_slot), &bytes);
    if (slots == NULL) {
        return -1;
    }
    memset(slots, 0, cap * sizeof(cc_pair_slot));
    cc_pair_map bigger = {slots, cap - 1, m->len};
    for (size_t i = 0; m->mask != 0 && i <= m->mask; i++) {
        const cc_pair_slot *s = &m->slots[i];
        if (s->node != NULL) {
            size_t j = (size_t)s->tag & bigger.mask;
            while (slots[j].node != NULL) {
                j = (j + 1) & bigger.mask;
            }
            slots[j] = *s;
        }
    }
    cc_scratch_free(m->slots);
    *m = bigger;
    return 0;
}

// --- the pair index ---------------------------------------------------------------------------

void
cc_pair_index_init(cc_pair_index *x)
{
    x->stamp = cc_walk_stamp_take();
    cc_pair_map_init(&x->memo);
    x->links = NULL;
    x->cap_links = 0;
}

void
cc_pair_index_clear(cc_pair_index *x)
{
    if (x->stamp != 0) {
        cc_walk_stamp_release();
        x->stamp = 0;
    }
    cc_pair_map_clear(&x->memo);
    cc_scratch_free(x->links);
    x->links = NULL;
    x->cap_links = 0;
}

int
cc_pair_index_claim_memo(cc_pair_index *x, const cc_node *n, uint32_t id, uint32_t next,
                         uint32_t *index, int *fresh)
{
    cc_pair_slot *slot = cc_pair_map_claim(&x->memo, n, id, fresh);
    if (slot == NULL) {
        return -1;
    }
    if (*fresh) {
        slot->value = next;
    }
    *index = slot->value;
    return 0;
}

// --- steps ------------------------------------------------------------------------------------

int
cc_match_resolve(cc_state_table *t, uint32_t id, const cc_node *n, cc_u32vec *ids, int *found,
                 int *finished)
{
    cc_step s;
    if (cc_imatcher_step(t->states.items[id], n, &s) < 0) {
        return -1;
    }
    int nc = n->n_children;
    int rc = -1;
    if (cc_u32vec_reserve(ids, (size_t)nc) < 0) {
        goto done;
    }
    uint32_t *out = ids->items + ids->len;
    uint32_t uniform = CC_NO_STATE;
    switch (s.kind) {
    case CC_STEP_SAME:
        uniform = id;
        break;
    case CC_STEP_ONE:
        if (cc_state_table_intern(t, s.one, &uniform) < 0) {
            goto done;
        }
        break;
    case CC_STEP_PER_CHILD:
        for (int i = 0; i < nc; i++) {
            out[i] = CC_NO_STATE;
            if (s.per_child[i] != NULL && cc_state_table_intern(t, s.per_child[i], &out[i]) < 0) {
                goto done;
            }
        }
        break;
    case CC_STEP_FINISHED:
        break;
    }
    if (s.kind != CC_STEP_PER_CHILD) {
        for (int i = 0; i < nc; i++) {
            out[i] = uniform;
        }
    }
    ids->len += (size_t)nc;
    *found = s.found;
    if (finished != NULL) {
        *finished = cc_step_all_finished(&s);
    }
    rc = 0;
done:
    cc_step_clear(&s);
    return rc;
}

// --- the pair graph ---------------------------------------------------------------------------

int
cc_rebuild_may_rename(const cc_node *n)
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

// An edge waiting for its child pair to be looked up: the entry index goes to edges[edge].
typedef struct {
    cc_node *node;
    uint32_t id;
    size_t edge;
} pending_edge;

typedef struct {
    pending_edge *items;
    size_t len, cap;
} pending_queue;

// The graph is built in rounds: step up to GRAPH_ROUND entries (collecting their edges), then
// look all collected edges up in the memo, which appends the new entries. Each phase runs
// over many items, so its look-ahead prefetching has room.
#define GRAPH_ROUND 64
#define STEP_AHEAD 8

void
cc_pair_graph_clear(cc_pair_graph *g)
{
    cc_scratch_free(g->entries);
    g->entries = NULL;
    g->n = g->cap = 0;
    cc_u32vec_clear(&g->edges);
    cc_state_table_clear(&g->states);
}

static int
add_entry(cc_pair_graph *g, cc_node *n, uint32_t id)
{
    if (g->n >= CC_NO_STATE - 1) {
        return cc_fail(CC_E_PY_RUNTIME, "a traversal reached more than %u (node, matcher) pairs",
                       CC_NO_STATE - 1);
    }
    if (cc_scratch_grow((void **)&g->entries, &g->cap, g->n + 1, sizeof(cc_pair_entry)) < 0) {
        return -1;
    }
    g->entries[g->n++] = (cc_pair_entry){.node = n, .id = id};
    return 0;
}

// Steps entry e and queues the edges to the children it continues into.
static int
step_entry(cc_pair_graph *g, size_t e, pending_queue *q)
{
    cc_pair_entry *pe = &g->entries[e];
    cc_node *n = pe->node;
    int nc = n->n_children;
    const cc_imatcher *state = g->states.states.items[pe->id];
    cc_step s;
    cc_step_init(&s);
    int found;
    if (state->kind == CC_IM_MATCH) {
        // A plain Matcher: found or not, its children get the same state.
        if (cc_matcher_match(state->u.match, n, &found) < 0) {
            return -1;
        }
    } else {
        if (cc_imatcher_step(g->states.states.items[pe->id], n, &s) < 0) {
            return -1;
        }
        found = s.found;
    }
    int rc = -1;
    uint32_t uniform = s.kind == CC_STEP_SAME ? pe->id : CC_NO_STATE;
    if (s.kind == CC_STEP_ONE && cc_state_table_intern(&g->states, s.one, &uniform) < 0) {
        goto done;
    }
    pe->found = (uint8_t)found;
    pe->finished = (uint8_t)cc_step_all_finished(&s);
    pe->renames = (uint8_t)(!pe->finished && cc_rebuild_may_rename(n));
    pe->edge_base = g->edges.len;
    pe->n_children = nc;
    if (cc_u32vec_reserve(&g->edges, (size_t)nc) < 0 ||
        cc_scratch_grow((void **)&q->items, &q->cap, q->len + (size_t)nc, sizeof(pending_edge)) <
            0) {
        goto done;
    }
    for (int i = 0; i < nc; i++) {
        uint32_t cid = uniform;
        if (s.kind == CC_STEP_PER_CHILD) {
            cid = CC_NO_STATE;
            if (s.per_child[i] != NULL &&
                cc_state_table_intern(&g->states, s.per_child[i], &cid) < 0) {
                goto done;
            }
        }
        size_t edge = g->edges.len++;
        g->edges.items[edge] = CC_NO_STATE;
        if (cid != CC_NO_STATE) {
            q->items[q->len++] = (pending_edge){n->children[i], cid, edge};
        }
    }
    rc = 0;
done:
    cc_step_clear(&s);
    return rc;
}

// Looks up every queued edge, adding entries for pairs not seen yet; empties q.
static int
claim_edges(cc_pair_graph *g, cc_pair_index *x, pending_queue *q)
{
    size_t fetched = 0;
    for (size_t i = 0; i < q->len; i++) {
        for (; fetched < q->len && fetched <= i + CC_NODE_AHEAD; fetched++) {
            __builtin_prefetch(q->items[fetched].node);
        }
        const pending_edge *p = &q->items[i];
        uint32_t index;
        int fresh;
        if (cc_pair_index_claim(x, p->node, p->id, (uint32_t)g->n, &index, &fresh) < 0 ||
            (fresh && add_entry(g, p->node, p->id) < 0)) {
            return -1;
        }
        g->edges.items[p->edge] = index;
    }
    q->len = 0;
    return 0;
}

int
cc_pair_graph_build(cc_pair_graph *g, cc_node *root, cc_imatcher *m)
{
    g->entries = NULL;
    g->n = g->cap = 0;
    cc_u32vec_init(&g->edges);
    cc_state_table_init(&g->states);
    cc_pair_index x;
    cc_pair_index_init(&x);
    pending_queue q = {NULL, 0, 0};
    int rc = -1;
    uint32_t root_id, index;
    int fresh;
    if (cc_state_table_intern(&g->states, m, &root_id) < 0 ||
        cc_pair_index_claim(&x, root, root_id, 0, &index, &fresh) < 0 ||
        add_entry(g, root, root_id) < 0) {
        goto done;
    }
    size_t stepped = 0;
    while (stepped < g->n) {
        size_t stop = g->n < stepped + GRAPH_ROUND ? g->n : stepped + GRAPH_ROUND;
        for (; stepped < stop; stepped++) {
            // A step reads the node's name and child array: fetch them a few entries ahead.
            if (stepped + 2 * STEP_AHEAD < g->n) {
                __builtin_prefetch(g->entries[stepped + 2 * STEP_AHEAD].node);
            }
            if (stepped + STEP_AHEAD < g->n) {
                const cc_node *ahead = g->entries[stepped + STEP_AHEAD].node;
                __builtin_prefetch(ahead->name);
                __builtin_prefetch(ahead->children);
            }
            if (step_entry(g, stepped, &q) < 0) {
                goto done;
            }
        }
        if (claim_edges(g, &x, &q) < 0) {
            goto done;
        }
    }
    rc = 0;
done:
    cc_scratch_free(q.items);
    cc_pair_index_clear(&x);
    if (rc < 0) {
        cc_pair_graph_clear(g);
    }
    return rc;
}

typedef struct {
    uint32_t entry;
    int next;
} mark_frame;

enum { MARK_NEW, MARK_OPEN, MARK_NONE, MARK_SOME };

int
cc_pair_graph_mark(cc_pair_graph *g, int renames)
{
    for (size_t e = 0; e < g->n; e++) {
        g->entries[e].mark = MARK_NEW;
    }
    mark_frame *frames = NULL;
    size_t cap = 0, nf = 0;
    if (g->n == 0) {
        return 0;
    }
    if (cc_grow((void **)&frames, &cap, 1, sizeof(mark_frame)) < 0) {
        return -1;
    }
    frames[nf++] = (mark_frame){0, 0};
    g->entries[0].mark = MARK_OPEN;
    while (nf > 0) {
        mark_frame *f = &frames[nf - 1];
        cc_pair_entry *pe = &g->entries[f->entry];
        if (f->next < pe->n_children) {
            uint32_t c = g->edges.items[pe->edge_base + (size_t)f->next++];
            if (c == CC_NO_STATE || g->entries[c].mark != MARK_NEW) {
                continue;
            }
            if (cc_grow((void **)&frames, &cap, nf + 1, sizeof(mark_frame)) < 0) {
                cc_free(frames);
                return -1;
            }
            g->entries[c].mark = MARK_OPEN;
            frames[nf++] = (mark_frame){c, 0};
            continue;
        }
        int some = pe->found || (renames && pe->renames);
        for (int i = 0; i < pe->n_children && !some; i++) {
            uint32_t c = g->edges.items[pe->edge_base + (size_t)i];
            some = c != CC_NO_STATE && g->entries[c].mark == MARK_SOME;
        }
        pe->mark = some ? MARK_SOME : MARK_NONE;
        nf--;
    }
    cc_free(frames);
    for (size_t e = 0; e < g->n; e++) {
        g->entries[e].mark = g->entries[e].mark == MARK_SOME;
    }
    return 0;
}
