// Free-symbol sets: ordered, deduplicated by node hash, refcounted and shared. Small sets
// are searched linearly; merging many large sets deduplicates through a hash map.
#include "nodes/symbol_set.h"

#include <string.h>

#include "util/alloc.h"
#include "util/hmap.h"

// Past this many candidate items a merge deduplicates through a hash map.
#define LINEAR_MERGE_MAX 32

static cc_symbol_set *
set_alloc(int cap)
{
    cc_symbol_set *s = cc_malloc(sizeof(cc_symbol_set) + (size_t)cap * sizeof(cc_node *));
    if (s != NULL) {
        s->refcount = 1;
        s->n = 0;
    }
    return s;
}

void
cc_symbol_set_incref(cc_symbol_set *s)
{
    if (s != NULL) {
        s->refcount++;
    }
}

void
cc_symbol_set_decref(cc_symbol_set *s)
{
    if (s != NULL && --s->refcount == 0) {
        cc_free(s);
    }
}

int
cc_symbol_set_contains(const cc_symbol_set *s, const cc_node *sym)
{
    if (s == NULL) {
        return 0;
    }
    for (int i = 0; i < s->n; i++) {
        if (s->items[i] == sym || memcmp(s->items[i]->hash, sym->hash, 32) == 0) {
            return 1;
        }
    }
    return 0;
}

int
cc_node_has_free_symbol(const cc_node *c, const cc_node *sym)
{
    if (cc_kind_has(c->kind, CC_FREE_SYMBOL)) {
        return memcmp(c->hash, sym->hash, 32) == 0;
    }
    return cc_symbol_set_contains(c->free_symbols, sym);
}

// Appends the items of `from` to s (capacity suffices), skipping those already present.
static int
merge_into(cc_symbol_set *s, int n_from, cc_node *const *from, cc_hmap *seen)
{
    for (int i = 0; i < n_from; i++) {
        cc_node *x = from[i];
        if (seen != NULL) {
            if (cc_hmap_get(seen, x->hash) != NULL) {
                continue;
            }
            if (cc_hmap_put(seen, x->hash, x) < 0) {
                return -1;
            }
        } else if (cc_symbol_set_contains(s, x)) {
            continue;
        }
        s->items[s->n++] = x;
    }
    return 0;
}

// The contribution of one child: itself for a Symbol, else its set.
static void
contribution(cc_node *const *child, int *n, cc_node *const **items)
{
    if (cc_kind_has((*child)->kind, CC_FREE_SYMBOL)) {
        *n = 1;
        *items = child;
    } else if ((*child)->free_symbols != NULL) {
        *n = (*child)->free_symbols->n;
        *items = (*child)->free_symbols->items;
    } else {
        *n = 0;
        *items = NULL;
    }
}

static int
build(int n_parts, cc_node *const *parts, int by_contribution, cc_symbol_set **out)
{
    int total = 0;
    for (int i = 0; i < n_parts; i++) {
        int k = 1;
        cc_node *const *items;
        if (by_contribution) {
            contribution(&parts[i], &k, &items);
        }
        total += k;
    }
    *out = NULL;
    if (total == 0) {
        return 0;
    }
    cc_symbol_set *s = set_alloc(total);
    if (s == NULL) {
        return -1;
    }
    cc_hmap seen;
    cc_hmap_init(&seen);
    cc_hmap *use_map = total > LINEAR_MERGE_MAX ? &seen : NULL;
    for (int i = 0; i < n_parts; i++) {
        int k = 1;
        cc_node *const *items = &parts[i];
        if (by_contribution) {
            contribution(&parts[i], &k, &items);
        }
        if (merge_into(s, k, items, use_map) < 0) {
            cc_hmap_clear(&seen);
            cc_free(s);
            return -1;
        }
    }
    cc_hmap_clear(&seen);
    *out = s;
    return 0;
}

int
cc_symbol_set_of_children(int n, cc_node *const *children, cc_symbol_set **out)
{
    // Sharing: when exactly one child contributes and it is not a Symbol, its set is reused.
    cc_symbol_set *only = NULL;
    int contributors = 0;
    for (int i = 0; i < n; i++) {
        const cc_node *c = children[i];
        if (cc_kind_has(c->kind, CC_FREE_SYMBOL)) {
            contributors += 2;
        } else if (c->free_symbols != NULL && c->free_symbols != only) {
            contributors++;
            only = c->free_symbols;
        }
    }
    if (contributors == 0) {
        *out = NULL;
        return 0;
    }
    if (contributors == 1) {
        cc_symbol_set_incref(only);
        *out = only;
        return 0;
    }
    return build(n, children, 1, out);
}

int
cc_symbol_set_new(int n, cc_node *const *symbols, cc_symbol_set **out)
{
    return build(n, symbols, 0, out);
}

int
cc_node_free_symbol_list(cc_node *c, cc_node ***out, int *n)
{
    int k = 1;
    cc_node *const *items = &c;
    if (!cc_kind_has(c->kind, CC_FREE_SYMBOL)) {
        k = c->free_symbols != NULL ? c->free_symbols->n : 0;
        items = c->free_symbols != NULL ? c->free_symbols->items : NULL;
    }
    *out = NULL;
    *n = 0;
    if (k == 0) {
        return 0;
    }
    cc_node **list = cc_malloc((size_t)k * sizeof(cc_node *));
    if (list == NULL) {
        return -1;
    }
    memcpy(list, items, (size_t)k * sizeof(cc_node *));
    *out = list;
    *n = k;
    return 0;
}
