// rc's canonical and normal forms of single nodes (canonicalize_node, normalize_node) and their
// deep versions: equal circuits written differently (operand order, Rearrange spellings, Index
// bounds, Einsum labels) become the same node.
#include <stdlib.h>
#include <string.h>

#include "expand/deep_map.h"
#include "nodes/rearrange.h"
#include "rewrite/catalogue.h"
#include "rewrite/rewrite_impl.h"
#include "util/alloc.h"
#include "util/error.h"

// rc's name argument for a rebuilt node: its own name, or NULL (autoname) when it has none.
static const char *
own_name(const cc_node *n)
{
    return n->name;
}

cc_node *
cc_einsum_normalize_ints(cc_node *einsum)
{
    int map[256], next = 0, total = 0;
    for (int k = 0; k < 256; k++) {
        map[k] = -1;
    }
    for (int i = 0; i < einsum->n_children; i++) {
        total += einsum->children[i]->ndim;
    }
    uint8_t *in = cc_malloc((size_t)total + 1), out[CC_MAX_NDIM];
    if (in == NULL) {
        return NULL;
    }
    for (int k = 0; k < total; k++) {
        uint8_t l = einsum->u.einsum.in_axes[k];
        if (map[l] < 0) {
            map[l] = next++;
        }
        in[k] = (uint8_t)map[l];
    }
    for (int k = 0; k < einsum->ndim; k++) {
        uint8_t l = einsum->u.einsum.out_axes[k];
        if (map[l] < 0) {
            map[l] = next++;
        }
        out[k] = (uint8_t)map[l];
    }
    cc_node *r = cc_einsum_new(einsum->n_children, einsum->children, in, einsum->ndim, out,
                               own_name(einsum));
    cc_free(in);
    return r;
}

// rc's numel_sort_key order: more elements first, then the kind's name, then the hash.
typedef struct {
    cc_node *node;
    int pos; // original position (the sort is stable)
    double numel;
} sort_item;

static int
sort_cmp(const void *pa, const void *pb)
{
    const sort_item *a = pa, *b = pb;
    if (a->numel != b->numel) {
        return a->numel > b->numel ? -1 : 1;
    }
    int c =
        strcmp(cc_kind_get_info(a->node->kind)->py_name, cc_kind_get_info(b->node->kind)->py_name);
    if (c == 0) {
        c = memcmp(a->node->hash, b->node->hash, 32);
    }
    return c != 0 ? c : a->pos - b->pos;
}

static double
numel(const cc_node *n)
{
    double p = 1.0;
    for (int k = 0; k < n->ndim; k++) {
        p *= (double)n->shape[k];
    }
    return p;
}

// The children of n in sort order: *items (n->n_children entries, freed by the caller).
static sort_item *
sorted_children(const cc_node *n)
{
    sort_item *items = cc_malloc(((size_t)n->n_children + 1) * sizeof(sort_item));
    if (items == NULL) {
        return NULL;
    }
    for (int i = 0; i < n->n_children; i++) {
        items[i] = (sort_item){n->children[i], i, numel(n->children[i])};
    }
    qsort(items, (size_t)n->n_children, sizeof(sort_item), sort_cmp);
    return items;
}

static cc_node *
canonical_add(cc_node *add)
{
    sort_item *items = sorted_children(add);
    cc_node **kids = cc_malloc(((size_t)add->n_children + 1) * sizeof(cc_node *));
    cc_node *out = NULL;
    if (items != NULL && kids != NULL) {
        for (int i = 0; i < add->n_children; i++) {
            kids[i] = items[i].node;
        }
        out = cc_add_new(add->n_children, kids, own_name(add));
    }
    cc_free(items);
    cc_free(kids);
    return out;
}

static cc_node *
canonical_einsum(cc_node *einsum)
{
    int n = einsum->n_children;
    sort_item *items = sorted_children(einsum);
    cc_node **kids = cc_malloc(((size_t)n + 1) * sizeof(cc_node *));
    int total = 0;
    for (int i = 0; i < n; i++) {
        total += einsum->children[i]->ndim;
    }
    uint8_t *in = cc_malloc((size_t)total + 1);
    cc_node *out = NULL;
    if (items != NULL && kids != NULL && in != NULL) {
        int len = 0;
        for (int i = 0; i < n; i++) {
            kids[i] = items[i].node;
            memcpy(in + len, cc_einsum_child_axes(einsum, items[i].pos), (size_t)kids[i]->ndim);
            len += kids[i]->ndim;
        }
        cc_node *sorted =
            cc_einsum_new(n, kids, in, einsum->ndim, einsum->u.einsum.out_axes, own_name(einsum));
        if (sorted != NULL) {
            out = cc_einsum_normalize_ints(sorted);
            cc_node_decref(sorted);
        }
    }
    cc_free(items);
    cc_free(kids);
    cc_free(in);
    return out;
}

static cc_node *
canonical_index(cc_node *index)
{
    cc_node *child = index->children[0];
    int n = index->u.index.n_items;
    cc_index_item *items = cc_calloc((size_t)n + 1, sizeof(cc_index_item));
    if (items == NULL) {
        return NULL;
    }
    for (int k = 0; k < n; k++) {
        cc_item_canonicalize(&index->u.index.items[k], child->shape[k], &items[k]);
    }
    cc_node *out = cc_index_new(child, n, items, own_name(index));
    cc_index_items_free(items, n);
    return out;
}

static cc_node *
rearrange_with(cc_node *r, int conform, int special_case_ones)
{
    cc_node *child = r->children[0];
    cc_rearrange_spec *conformed = NULL;
    if (conform) {
        conformed = cc_rearrange_spec_conform(r->u.rearrange.spec, child->ndim, child->shape);
        if (conformed == NULL) {
            return NULL;
        }
    }
    cc_rearrange_spec *s = cc_rearrange_spec_canonicalize(
        conformed != NULL ? conformed : r->u.rearrange.spec, special_case_ones);
    cc_rearrange_spec_free(conformed);
    if (s == NULL) {
        return NULL;
    }
    cc_node *out = cc_rearrange_new(child, s, own_name(r));
    cc_rearrange_spec_free(s);
    return out;
}

cc_node *
cc_canonicalize_node(cc_node *n)
{
    switch (n->kind) {
    case CC_KIND_REARRANGE:
        return rearrange_with(n, 1, 1);
    case CC_KIND_INDEX:
        return canonical_index(n);
    case CC_KIND_ADD:
        return canonical_add(n);
    case CC_KIND_EINSUM:
        return canonical_einsum(n);
    default:
        cc_node_incref(n);
        return n;
    }
}

cc_node *
cc_normalize_node(cc_node *n)
{
    switch (n->kind) {
    case CC_KIND_REARRANGE:
        return rearrange_with(n, 0, 0);
    case CC_KIND_EINSUM:
        return cc_einsum_normalize_ints(n);
    default:
        cc_node_incref(n);
        return n;
    }
}

static cc_node *
map_post(void *ctx, cc_node *node, cc_node *const *kids, int changed)
{
    cc_node *(*fn)(cc_node *) = *(cc_node * (**)(cc_node *)) ctx;
    cc_node *rebuilt = cc_deep_map_rebuild(node, kids, changed);
    if (rebuilt == NULL) {
        return NULL;
    }
    cc_node *out = fn(rebuilt);
    cc_node_decref(rebuilt);
    return out;
}

cc_node *
cc_deep_map_nodes(cc_node *root, cc_node *(*fn)(cc_node *))
{
    return cc_deep_map(root, NULL, map_post, &fn);
}
