// rc's Index rewrites outside simp's defaults: index_fuse (two Indexes composed into one),
// index_split_axes, and deep_push_down_index_raw.
#include <string.h>

#include "expand/deep_map.h"
#include "rewrite/push_down_index.h"
#include "rewrite/rewrite_catalogue_b.h"
#include "rewrite/rewrite_impl.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/vec.h"

// A tensor entry of the n positions. 0, or -1 with CC_E_NO_MEMORY.
static int
tensor_item(const int64_t *pos, int64_t n, cc_index_item *out)
{
    cc_tensor t;
    *out = cc_item_full();
    if (cc_tensor_init_empty(&t, CC_DTYPE_I64, 1, &n) < 0) {
        return -1;
    }
    if (n > 0) {
        memcpy(t.data, pos, (size_t)n * sizeof(int64_t));
    }
    return cc_index_item_set_tensor(out, &t);
}

// Position k of a tensor entry over an axis of length l, negative positions read from the end.
static int64_t
tensor_pos(const cc_index_item *it, int64_t k, int64_t l)
{
    int64_t v = cc_item_tensor_at(&it->tensor->value, k);
    return v < 0 ? v + l : v;
}

// top (canonical, over an axis of length m) applied after bottom (canonical): the single entry
// selecting the same positions of bottom's axis. 0; 1 when a tensor position of top is out of
// range (nothing is composed); -1 on error.
static int
compose_one(const cc_index_item *bottom, const cc_index_item *top, int64_t m, cc_index_item *out)
{
    int64_t base = bottom->kind == CC_INDEX_SLICE ? bottom->start : 0;
    if (top->kind == CC_INDEX_INT) {
        *out = cc_item_int(bottom->kind == CC_INDEX_SLICE
                               ? base + top->i
                               : cc_item_tensor_at(&bottom->tensor->value, top->i));
        return 0;
    }
    if (bottom->kind == CC_INDEX_SLICE && top->kind == CC_INDEX_SLICE) {
        *out = cc_item_slice(base + top->start, base + top->stop);
        return 0;
    }
    int64_t n = top->kind == CC_INDEX_SLICE ? top->stop - top->start : top->tensor->value.shape[0];
    int64_t *pos = cc_malloc((size_t)n * sizeof(int64_t) + 1);
    if (pos == NULL) {
        return -1;
    }
    for (int64_t k = 0; k < n; k++) {
        int64_t j = top->kind == CC_INDEX_SLICE ? top->start + k : tensor_pos(top, k, m);
        if (j < 0 || j >= m) {
            cc_free(pos);
            return 1;
        }
        pos[k] = bottom->kind == CC_INDEX_SLICE ? base + j
                                                : cc_item_tensor_at(&bottom->tensor->value, j);
    }
    int rc = tensor_item(pos, n, out);
    cc_free(pos);
    return rc;
}

int
cc_index_fuse(cc_node *index, cc_node **out)
{
    *out = NULL;
    cc_node *inner = index->children[0];
    if (inner->kind != CC_KIND_INDEX) {
        return 0;
    }
    cc_node *x = inner->children[0];
    int r = x->ndim, rc = 0, t = 0;
    cc_index_item items[CC_MAX_NDIM];
    for (int k = 0; k < r; k++) {
        items[k] = cc_item_full();
    }
    for (int k = 0; k < r && rc == 0; k++) {
        cc_index_item bottom;
        cc_item_canonicalize(&inner->u.index.items[k], x->shape[k], &bottom);
        if (bottom.kind == CC_INDEX_INT) {
            items[k] = bottom;
            continue;
        }
        int64_t m = inner->shape[t];
        cc_index_item top;
        cc_item_canonicalize(&index->u.index.items[t], m, &top);
        t++;
        rc = compose_one(&bottom, &top, m, &items[k]);
        cc_index_item_clear(&top);
        cc_index_item_clear(&bottom);
    }
    if (rc == 1) {
        cc_index_items_clear(items, r);
        return 0;
    }
    char *name = NULL;
    if (rc == 0 && index->name != NULL) {
        size_t len = strlen(index->name), suf = strlen(" idx idx");
        name = cc_strdup(index->name);
        rc = name == NULL ? -1 : 0;
        if (name != NULL && len >= suf && strcmp(name + len - suf, " idx idx") == 0) {
            name[len - strlen(" idx")] = '\0';
        }
    }
    if (rc == 0) {
        *out = cc_index_new(x, r, items, name);
        rc = *out == NULL ? -1 : 0;
    }
    cc_free(name);
    cc_index_items_clear(items, r);
    return rc;
}

int
cc_index_split_axes(cc_node *index, int n_top, const int64_t *top_axes, cc_node **out)
{
    *out = NULL;
    cc_node *child = index->children[0];
    uint8_t on_top[CC_MAX_NDIM] = {0};
    for (int i = 0; i < n_top; i++) {
        if (top_axes[i] < 0 || top_axes[i] >= child->ndim) {
            return 0;
        }
        on_top[top_axes[i]] = 1;
    }
    cc_index_item bottom[CC_MAX_NDIM], top[CC_MAX_NDIM];
    int n = 0;
    for (int k = 0; k < child->ndim; k++) {
        const cc_index_item *it = &index->u.index.items[k];
        if (on_top[k]) {
            bottom[k] = cc_item_full();
            top[n++] = *it;
        } else {
            bottom[k] = *it;
            if (it->kind != CC_INDEX_INT) {
                top[n++] = cc_item_full();
            }
        }
    }
    cc_node *lower = cc_index_new(child, child->ndim, bottom, NULL);
    if (lower == NULL) {
        return -1;
    }
    *out = cc_index_new(lower, n, top, NULL);
    cc_node_decref(lower);
    return *out == NULL ? -1 : 0;
}

// ---------------------------------------------------------------------------------------------
// deep_push_down_index_raw

// The union of n canonical entries over an axis of length l (*base), and each entry rebased
// onto it (rebased[i]). 0; 1 when a tensor position is out of range (nothing is set); -1.
static int
union_rebased(int n, const cc_index_item *items, int64_t l, cc_index_item *base,
              cc_index_item *rebased)
{
    int contiguous = 1;
    int64_t lo = 0, hi = 0;
    int64_t (*spans)[2] = cc_malloc((size_t)n * sizeof *spans);
    if (spans == NULL) {
        return -1;
    }
    for (int i = 0; i < n && contiguous; i++) {
        const cc_index_item *it = &items[i];
        if (it->kind == CC_INDEX_TENSOR) {
            contiguous = 0;
        } else {
            spans[i][0] = it->kind == CC_INDEX_INT ? it->i : it->start;
            spans[i][1] = it->kind == CC_INDEX_INT ? it->i + 1 : it->stop;
        }
    }
    if (contiguous) {
        // the spans sorted by start must leave no gap
        lo = spans[0][0];
        for (int i = 1; i < n; i++) {
            lo = spans[i][0] < lo ? spans[i][0] : lo;
        }
        hi = lo;
        int grew = 1;
        while (grew) {
            grew = 0;
            for (int i = 0; i < n; i++) {
                if (spans[i][0] <= hi && spans[i][1] > hi) {
                    hi = spans[i][1];
                    grew = 1;
                }
            }
        }
        for (int i = 0; i < n; i++) {
            contiguous &= spans[i][0] <= hi;
        }
    }
    cc_free(spans);
    if (contiguous) {
        *base = cc_item_slice(lo, hi);
        for (int i = 0; i < n; i++) {
            const cc_index_item *it = &items[i];
            rebased[i] = it->kind == CC_INDEX_INT ? cc_item_int(it->i - lo)
                                                  : cc_item_slice(it->start - lo, it->stop - lo);
        }
        return 0;
    }
    // positions reached, then each entry as positions of the union
    // pos holds the union (at most l positions), then each tensor entry's rebased positions
    int64_t room = l;
    for (int i = 0; i < n; i++) {
        if (items[i].kind == CC_INDEX_TENSOR && items[i].tensor->value.shape[0] > room) {
            room = items[i].tensor->value.shape[0];
        }
    }
    for (int i = 0; i < n; i++) {
        for (int64_t k = 0; items[i].kind == CC_INDEX_TENSOR && k < items[i].tensor->value.shape[0];
             k++) {
            int64_t v = tensor_pos(&items[i], k, l);
            if (v < 0 || v >= l) {
                return 1;
            }
        }
    }
    int64_t *place = cc_calloc((size_t)l + 1, sizeof(int64_t));
    int64_t *pos = cc_malloc(((size_t)room + 1) * sizeof(int64_t));
    int rc = place == NULL || pos == NULL ? -1 : 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const cc_index_item *it = &items[i];
        if (it->kind == CC_INDEX_INT) {
            place[it->i] = 1;
        } else if (it->kind == CC_INDEX_SLICE) {
            for (int64_t k = it->start; k < it->stop; k++) {
                place[k] = 1;
            }
        } else {
            for (int64_t k = 0; k < it->tensor->value.shape[0]; k++) {
                place[tensor_pos(it, k, l)] = 1;
            }
        }
    }
    int64_t m = 0;
    for (int64_t k = 0; rc == 0 && k < l; k++) {
        if (place[k]) {
            pos[m] = k;
            place[k] = m++;
        }
    }
    if (rc == 0) {
        rc = cc_item_from_positions(pos, m, base);
    }
    for (int i = 0; i < n && rc == 0; i++) {
        const cc_index_item *it = &items[i];
        if (it->kind == CC_INDEX_INT) {
            rebased[i] = cc_item_int(place[it->i]);
        } else if (it->kind == CC_INDEX_SLICE) {
            int64_t s = it->start < it->stop ? place[it->start] : 0;
            rebased[i] = cc_item_slice(s, s + it->stop - it->start);
        } else {
            int64_t len = it->tensor->value.shape[0];
            for (int64_t k = 0; k < len; k++) {
                pos[k] = place[tensor_pos(it, k, l)];
            }
            rc = cc_item_from_positions(pos, len, &rebased[i]);
        }
    }
    cc_free(place);
    cc_free(pos);
    return rc;
}

// Index base pushed one step down (rc's push_down_index_op); base itself where it cannot go.
// New reference, or NULL.
static cc_node *
push_once(cc_node *base)
{
    cc_node *out = cc_push_down_index_once(base, 1, NULL);
    cc_error_kind kind = out == NULL ? cc_error_kind_get() : CC_E_NO_MEMORY;
    // out of memory, and a Python callback's exception, are the caller's to see
    if (out == NULL && kind != CC_E_NO_MEMORY && kind != CC_E_PYTHON) {
        cc_error_clear();
        out = base;
        cc_node_incref(out);
    }
    return out;
}

// Whether entry o, as written, is valid over an axis of length l and selects what the
// canonical int or slice entry nw does.
static int
reads_the_same(const cc_index_item *o, const cc_index_item *nw, int64_t l)
{
    if (o->kind != nw->kind || o->kind == CC_INDEX_TENSOR) {
        return 0;
    }
    if (o->kind == CC_INDEX_INT) {
        return o->i >= -l && o->i < l && (o->i < 0 ? o->i + l : o->i) == nw->i;
    }
    if ((o->has_start && (o->start < -l || o->start > l)) ||
        (o->has_stop && (o->stop < -l || o->stop > l))) {
        return 0;
    }
    int64_t s, e;
    cc_item_uslice(o, l, &s, &e);
    return s == nw->start && e == nw->stop;
}

typedef struct {
    cc_hmap parents; // node hash -> cc_ptrvec * of its parents (borrowed), original graph
    cc_hmap repl;    // node hash -> its replacement (a reference)
    int64_t min_size;
} dpi_ctx;

static int
set_repl(dpi_ctx *d, const cc_node *from, cc_node *to)
{
    if (memcmp(from->hash, to->hash, 32) == 0) {
        cc_node_decref(to);
        return 0;
    }
    cc_node *old = cc_hmap_get(&d->repl, from->hash);
    if (cc_hmap_put(&d->repl, from->hash, to) < 0) {
        cc_node_decref(to);
        return -1;
    }
    cc_node_decref(old);
    return 0;
}

// rc's step at c: its Index parents share one Index of c, pushed one step down. 0, or -1.
static int
dpi_visit(dpi_ctx *d, cc_node *c)
{
    cc_ptrvec *ps = cc_hmap_get(&d->parents, c->hash);
    if (ps == NULL || ps->len == 0) {
        return 0;
    }
    if (d->min_size >= 0) {
        double e = 1;
        for (int k = 0; k < c->ndim; k++) {
            e *= (double)c->shape[k];
        }
        if (e < (double)d->min_size) {
            return 0;
        }
    }
    int n = (int)ps->len, r = c->ndim, rc = 0, any_identity = 0;
    for (int i = 0; i < n; i++) {
        cc_node *p = ps->items[i];
        if (p->kind != CC_KIND_INDEX) {
            return 0;
        }
        any_identity |= cc_items_are_identity(r, p->u.index.items, c->shape);
    }
    if (any_identity) {
        for (int i = 0; i < n && rc == 0; i++) {
            cc_node *p = ps->items[i];
            if (cc_items_are_identity(r, p->u.index.items, c->shape)) {
                cc_node_incref(c);
                rc = set_repl(d, p, c);
            }
        }
        return rc;
    }
    if (n == 1 && c->kind == CC_KIND_INDEX) {
        cc_node *fused;
        if (cc_index_fuse(ps->items[0], &fused) < 0) {
            return -1;
        }
        return fused == NULL ? 0 : set_repl(d, ps->items[0], fused);
    }
    // per parent, its canonical entries; per axis, their union and the rebased entries
    cc_index_item *canon = cc_calloc((size_t)n * (size_t)(r > 0 ? r : 1), sizeof(cc_index_item));
    cc_index_item *rebased = cc_calloc((size_t)n * (size_t)(r > 0 ? r : 1), sizeof(cc_index_item));
    cc_index_item *axis_items = cc_calloc((size_t)n, sizeof(cc_index_item));
    cc_index_item *axis_rebased = cc_calloc((size_t)n, sizeof(cc_index_item));
    cc_index_item base_items[CC_MAX_NDIM];
    for (int k = 0; k < r; k++) {
        base_items[k] = cc_item_full();
    }
    rc = canon == NULL || rebased == NULL || axis_items == NULL || axis_rebased == NULL ? -1 : 0;
    for (int i = 0; i < n && rc == 0; i++) {
        for (int k = 0; k < r; k++) {
            cc_item_canonicalize(&((cc_node *)ps->items[i])->u.index.items[k], c->shape[k],
                                 &canon[i * r + k]);
        }
    }
    for (int k = 0; k < r && rc == 0; k++) {
        for (int i = 0; i < n; i++) {
            axis_items[i] = canon[i * r + k];
        }
        rc = union_rebased(n, axis_items, c->shape[k], &base_items[k], axis_rebased);
        if (rc == 1) {
            break;
        }
        if (rc == 0) {
            for (int i = 0; i < n; i++) {
                rebased[i * r + k] = axis_rebased[i];
            }
        }
    }
    cc_node *base = NULL;
    if (rc == 1) {
        rc = 0; // an out-of-range tensor entry: the parents stay as they are
    } else if (rc == 0 && !cc_items_are_identity(r, base_items, c->shape)) {
        cc_node *ix = cc_index_new(c, r, base_items, NULL);
        base = ix == NULL ? NULL : push_once(ix);
        cc_node_decref(ix);
        rc = base == NULL ? -1 : 0;
    }
    for (int i = 0; base != NULL && i < n && rc == 0; i++) {
        cc_node *p = ps->items[i];
        if (memcmp(base->hash, p->hash, 32) == 0) {
            continue; // the shared Index is this parent itself (it could not move down)
        }
        // the parent's own entries where they are valid over base and read the same
        const cc_index_item *use = &rebased[i * r];
        int same = 1;
        for (int k = 0; k < r && same; k++) {
            same = reads_the_same(&p->u.index.items[k], &rebased[i * r + k], base->shape[k]);
        }
        if (same) {
            use = p->u.index.items;
        }
        cc_node *np = cc_index_new(base, r, use, p->name);
        rc = np == NULL ? -1 : set_repl(d, p, np);
    }
    cc_node_decref(base);
    cc_index_items_clear(base_items, r);
    if (canon != NULL) {
        cc_index_items_clear(canon, n * r);
    }
    if (rebased != NULL) {
        cc_index_items_clear(rebased, n * r);
    }
    cc_free(canon);
    cc_free(rebased);
    cc_free(axis_items);
    cc_free(axis_rebased);
    return rc;
}

// Marks a replacement as used: as in rc, each applies once, at the first place the rebuild
// meets its node.
static char used_mark;

static int
dpi_pre(void *vctx, cc_node *node, cc_node **out)
{
    dpi_ctx *d = vctx;
    cc_node *r = cc_hmap_get(&d->repl, node->hash);
    if (r == NULL || r == (cc_node *)&used_mark) {
        return 0;
    }
    if (cc_hmap_put(&d->repl, node->hash, &used_mark) < 0) {
        return -1;
    }
    *out = r;
    return 2;
}

cc_node *
cc_deep_push_down_index_raw(cc_node *c, int64_t min_size)
{
    dpi_ctx d = {.min_size = min_size};
    cc_hmap_init(&d.parents);
    cc_hmap_init(&d.repl);
    cc_node **order = NULL;
    int64_t n = 0;
    cc_node *out = NULL;
    if (cc_node_postorder_unique(c, &order, &n) < 0) {
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        cc_node *p = order[i];
        for (int k = 0; k < p->n_children; k++) {
            cc_node *ch = p->children[k];
            cc_ptrvec *ps = cc_hmap_get(&d.parents, ch->hash);
            if (ps == NULL) {
                ps = cc_calloc(1, sizeof *ps);
                if (ps == NULL || cc_hmap_put(&d.parents, ch->hash, ps) < 0) {
                    cc_free(ps);
                    goto done;
                }
            }
            if (cc_ptrvec_push(ps, p) < 0) {
                goto done;
            }
        }
    }
    // parents before children: each node sees the Indexes above it as they were
    for (int64_t i = n - 1; i >= 0; i--) {
        if (dpi_visit(&d, order[i]) < 0) {
            goto done;
        }
    }
    out = cc_deep_map(c, dpi_pre, NULL, &d);
done:
    cc_free(order);
    for (size_t i = 0; i < d.parents.cap; i++) {
        if (d.parents.slots[i].used) {
            cc_ptrvec_clear(d.parents.slots[i].value);
            cc_free(d.parents.slots[i].value);
        }
    }
    for (size_t i = 0; i < d.repl.cap; i++) {
        if (d.repl.slots[i].used && d.repl.slots[i].value != (void *)&used_mark) {
            cc_node_decref(d.repl.slots[i].value);
        }
    }
    cc_hmap_clear(&d.parents);
    cc_hmap_clear(&d.repl);
    return out;
}
