// Shared by the traversals of match/ (get.c, update.c; implemented in traverse.c): interning
// of states into small ids, the (node, state) memo table, and steps resolved into child ids.
#pragma once

#include <stdint.h>
#include <string.h>

#include "match/iterative.h"
#include "util/alloc.h"
#include "util/hmap.h"
#include "util/vec.h"

// A child that is not visited.
#define CC_NO_STATE UINT32_MAX

// States met during a traversal, each once: structurally equal states (equal hashes) get
// the same id, so memo keys are a node and a small integer.
typedef struct {
    cc_hmap ids;      // state hash -> id + 1
    cc_ptrvec states; // id -> state, owned references
} cc_state_table;

void cc_state_table_init(cc_state_table *t);
void cc_state_table_clear(cc_state_table *t);
// The id of m (borrowed; the table takes its own reference when m is new). 0, or -1.
int cc_state_table_intern(cc_state_table *t, cc_imatcher *m, uint32_t *id);

// Memo over (node hash, state id) pairs. A slot keeps a borrowed node pointer and 8 bytes of
// its hash mixed with the id, so probes compare 12 bytes and reach the node's full hash only
// when those agree: lookups are exact by hash, in 24 bytes a slot.
typedef struct {
    uint64_t tag;        // first 8 bytes of the node hash, mixed with id
    const cc_node *node; // NULL: empty slot
    uint32_t id;
    uint32_t value; // the caller's
} cc_pair_slot;

typedef struct {
    cc_pair_slot *slots;
    size_t mask; // capacity - 1 (capacity a power of two), 0 when empty
    size_t len;
} cc_pair_map;

void cc_pair_map_init(cc_pair_map *m);
void cc_pair_map_clear(cc_pair_map *m);
// Doubles the capacity (or sets the first one). 0, or -1 with CC_E_NO_MEMORY.
int cc_pair_map_grow(cc_pair_map *m);

static inline uint64_t
cc_pair_tag(const cc_node *n, uint32_t id)
{
    uint64_t h;
    memcpy(&h, n->hash, sizeof h);
    return h ^ (((uint64_t)id + 1) * UINT64_C(0x9E3779B97F4A7C15));
}

// The slot holding (n, id), or the empty slot where it would go (the map has one). Inline:
// walks call it once per (node, state) pair they reach.
static inline cc_pair_slot *
cc_pair_map_probe(const cc_pair_map *m, uint64_t tag, const cc_node *n, uint32_t id)
{
    size_t i = (size_t)tag & m->mask;
    for (;;) {
        cc_pair_slot *s = &m->slots[i];
        if (s->node == NULL || (s->tag == tag && s->id == id &&
                                (s->node == n || memcmp(s->node->hash, n->hash, 32) == 0))) {
            return s;
        }
        i = (i + 1) & m->mask;
    }
}

// The slot of (n, id): the existing one (*fresh = 0) or a new one with value 0 (*fresh = 1).
// Slots move when the map grows: use the result before the next claim. NULL (no memory).
static inline cc_pair_slot *
cc_pair_map_claim(cc_pair_map *m, const cc_node *n, uint32_t id, int *fresh)
{
    // Load at most one half: probes stay short, and the slots are small.
    if ((m->len + 1) * 2 > m->mask + 1 && cc_pair_map_grow(m) < 0) {
        return NULL;
    }
    uint64_t tag = cc_pair_tag(n, id);
    cc_pair_slot *s = cc_pair_map_probe(m, tag, n, id);
    *fresh = s->node == NULL;
    if (*fresh) {
        s->tag = tag;
        s->node = n;
        s->id = id;
        s->value = 0;
        m->len++;
    }
    return s;
}

// The (node, state) pairs a walk has reached, each with the index the walk gave it (a queue
// position, a graph entry). With a stamp (cc_walk_stamp_take), states below 32 are recorded
// in the nodes: walk_states has a bit per state and walk_index the node's last index, which
// links back through the node's earlier ones. So a test reads the node line that visiting it
// reads anyway. Other pairs, and every pair when no stamp was free, go to a memo keyed by node
// hash.
typedef struct {
    uint32_t id;   // the pair's state
    uint32_t prev; // the index of the same node's previous pair, CC_NO_STATE for its first
} cc_pair_link;

typedef struct {
    uint64_t stamp; // 0: none
    cc_pair_map memo;
    cc_pair_link *links; // by index, for the pairs recorded in nodes
    size_t cap_links;
} cc_pair_index;

// Takes a stamp when one is free.
void cc_pair_index_init(cc_pair_index *x);
// Gives the stamp back.
void cc_pair_index_clear(cc_pair_index *x);
// cc_pair_index_claim for the pairs that go to the memo.
int cc_pair_index_claim_memo(cc_pair_index *x, const cc_node *n, uint32_t id, uint32_t next,
                             uint32_t *index, int *fresh);

// The index of (n, id): the one given before (*fresh = 0), or next, now given to it
// (*fresh = 1). Indices given must grow by one from 0. 0, or -1 with CC_E_NO_MEMORY.
static inline int
cc_pair_index_claim(cc_pair_index *x, cc_node *n, uint32_t id, uint32_t next, uint32_t *index,
                    int *fresh)
{
    if (x->stamp == 0 || id >= 32) {
        return cc_pair_index_claim_memo(x, n, id, next, index, fresh);
    }
    uint32_t bit = UINT32_C(1) << id;
    uint32_t prev = CC_NO_STATE;
    if (n->walk_mark != x->stamp) {
        n->walk_mark = x->stamp;
        n->walk_states = 0;
    } else if (n->walk_states & bit) {
        uint32_t e = n->walk_index;
        while (x->links[e].id != id) {
            e = x->links[e].prev;
        }
        *index = e;
        *fresh = 0;
        return 0;
    } else {
        prev = n->walk_index;
    }
    if (next >= x->cap_links && cc_scratch_grow((void **)&x->links, &x->cap_links, (size_t)next + 1,
                                                sizeof(cc_pair_link)) < 0) {
        return -1;
    }
    x->links[next] = (cc_pair_link){id, prev};
    n->walk_states |= bit;
    n->walk_index = next;
    *index = next;
    *fresh = 1;
    return 0;
}

typedef struct {
    uint32_t *items;
    size_t len;
    size_t cap;
} cc_u32vec;

void cc_u32vec_init(cc_u32vec *v);
void cc_u32vec_clear(cc_u32vec *v);
// Room for extra more items. 0, or -1 with CC_E_NO_MEMORY.
int cc_u32vec_reserve(cc_u32vec *v, size_t extra);

// The (node, state) pairs reachable from a root, each once (by node hash and state), in
// breadth-first order from entry 0, the root, with the entries each continues into.
typedef struct {
    cc_node *node; // borrowed from the root
    uint32_t id;
    uint8_t found;    // the step found the node
    uint8_t finished; // the step visits no child (rc's all_finished)
    uint8_t renames;  // rebuilding the node unchanged would give it an automatic name
    uint8_t mark;     // for the caller's walks
    int n_children;   // node->n_children, kept here so walks over the graph stay in it
    size_t edge_base; // n_children entries of edges: a child's entry, or CC_NO_STATE
} cc_pair_entry;

typedef struct {
    cc_pair_entry *entries;
    size_t n, cap;
    cc_u32vec edges;
    cc_state_table states;
} cc_pair_graph;

// Builds g (initialised here) for m applied from root. 0, or -1 with a step's error (g is
// then cleared).
int cc_pair_graph_build(cc_pair_graph *g, cc_node *root, cc_imatcher *m);
void cc_pair_graph_clear(cc_pair_graph *g);
// Sets each entry's mark to 1 when an entry at or below it is found (or, with renames, would
// be renamed by a rebuild), else 0: a post-order walk. 0, or -1 with CC_E_NO_MEMORY.
int cc_pair_graph_mark(cc_pair_graph *g, int renames);

// Look-ahead distance of the pair graph's lookups: node structs are prefetched NODE_AHEAD
// edges ahead. Large circuits do not fit in cache; this keeps many memory reads in flight
// instead of waiting for each in turn.
#define CC_NODE_AHEAD 48

// Rebuilding an unnamed node with the same children can still change it: it may get an
// automatic name (rc rebuilds every node a step continues into, for this reason).
int cc_rebuild_may_rename(const cc_node *n);

// Applies state id to n: *found, *finished (the step visits no child: rc's all_finished),
// and n->n_children child state ids (CC_NO_STATE: not visited) appended to ids. finished may
// be NULL. 0, or -1 with the step's error.
int cc_match_resolve(cc_state_table *t, uint32_t id, const cc_node *n, cc_u32vec *ids, int *found,
                     int *finished);
