// The pieces every traversal of match/ shares: the state table (interning), the (node, state)
// memo map, growable arrays, and the resolution of a step into child state ids.
#include <string.h>

#include "match/match_impl.h"
#include "util/alloc.h"
#include "util/error.h"

int
cc_grow(void **items, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        c *= 2;
    }
    void *p = cc_realloc(*items, c * elem);
    if (p == NULL) {
        return -1;
    }
    *items = p;
    *cap = c;
    return 0;
}

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
    cc_free(v->items);
    cc_u32vec_init(v);
}

int
cc_u32vec_reserve(cc_u32vec *v, size_t extra)
{
    return cc_grow((void **)&v->items, &v->cap, v->len + extra, sizeof(uint32_t));
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
    cc_free(m->slots);
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
    cc_pair_slot *slots = cc_calloc(cap, sizeof(cc_pair_slot));
    if (slots == NULL) {
        return -1;
    }
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
    cc_free(m->slots);
    *m = bigger;
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
