// rc's concat pulls: a Concat operand of an Add, Einsum or GeneralFunction moved above it
// (pull_concat_once and its raw form), and the deep passes built on them.
#include <string.h>

#include "expand/deep_map.h"
#include "nodes/gf.h"
#include "nodes/rearrange.h"
#include "rewrite/catalogue.h"
#include "rewrite/push_down_index.h"
#include "rewrite/rewrite_catalogue_b.h"
#include "rewrite/rewrite_impl.h"
#include "rewrite/simp.h"
#include "util/alloc.h"
#include "util/error.h"

// What happens to each Index the pull builds: kept (raw), or simplified (rc's f of
// pull_concat_once: unreached concat operands dropped, then identity Index and one-operand
// Concat removed).
typedef struct {
    int raw;
} pull_ctx;

// The Index of node by items (autonamed), simplified unless raw. New reference, or NULL.
static cc_node *
on_index(const pull_ctx *p, cc_node *node, const cc_index_item *items)
{
    cc_node *x = cc_index_new(node, node->ndim, items, NULL);
    if (x == NULL || p->raw) {
        return x;
    }
    cc_node *y;
    if (cc_index_concat_drop_unreached(x, &y) < 0) {
        cc_node_decref(x);
        return NULL;
    }
    if (y != NULL) {
        cc_node_decref(x);
        x = y;
    }
    if (x->kind == CC_KIND_INDEX) {
        y = cc_index_elim_identity(x);
        cc_node_decref(x);
        if (y == NULL) {
            return NULL;
        }
        x = y;
    }
    if (x->kind == CC_KIND_CONCAT && x->n_children == 1) {
        y = x->children[0];
        cc_node_incref(y);
        cc_node_decref(x);
        x = y;
    }
    return x;
}

static void
decref_all(cc_node **nodes, int n)
{
    for (int i = 0; i < n; i++) {
        cc_node_decref(nodes[i]);
    }
}

// ---------------------------------------------------------------------------------------------
// Einsum

#define N_LABELS 256 // Einsum labels are bytes
#define MAX_TERMS (1 << 20)

typedef struct {
    int n_labels;
    uint8_t label[N_LABELS];
    int n_sections[N_LABELS];
    const int64_t *sizes[N_LABELS]; // borrowed from one of the Concats
    int kept[N_LABELS];             // the label is an output axis
    int pick[N_LABELS];             // the section chosen for the label
} einsum_plan;

static int
label_slot(const einsum_plan *pl, uint8_t label)
{
    for (int k = 0; k < pl->n_labels; k++) {
        if (pl->label[k] == label) {
            return k;
        }
    }
    return -1;
}

static int64_t
section_start(const einsum_plan *pl, int slot, int i)
{
    int64_t s = 0;
    for (int k = 0; k < i; k++) {
        s += pl->sizes[slot][k];
    }
    return s;
}

// The Einsum over the sections currently picked. New reference, or NULL.
static cc_node *
einsum_piece(const pull_ctx *p, cc_node *e, const einsum_plan *pl)
{
    int n = e->n_children;
    cc_node **ops = cc_calloc((size_t)n + 1, sizeof(cc_node *));
    if (ops == NULL) {
        return NULL;
    }
    const uint8_t *in = e->u.einsum.in_axes;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        cc_node *c = e->children[i];
        cc_index_item items[CC_MAX_NDIM];
        for (int k = 0; k < c->ndim; k++) {
            int slot = label_slot(pl, in[k]);
            if (slot < 0) {
                items[k] = cc_item_full();
            } else {
                int64_t s = section_start(pl, slot, pl->pick[slot]);
                items[k] = cc_item_slice(s, s + pl->sizes[slot][pl->pick[slot]]);
            }
        }
        in += c->ndim;
        ops[i] = on_index(p, c, items);
        rc = ops[i] == NULL ? -1 : 0;
    }
    cc_node *out = NULL;
    if (rc == 0) {
        out = cc_einsum_new(n, ops, e->u.einsum.in_axes, e->ndim, e->u.einsum.out_axes, e->name);
    }
    decref_all(ops, n);
    cc_free(ops);
    return out;
}

// The Add over every choice of sections of the summed labels (one Einsum when there is one
// choice). New reference, or NULL.
static cc_node *
einsum_sum(const pull_ctx *p, cc_node *e, einsum_plan *pl)
{
    int64_t count = 1;
    for (int k = 0; k < pl->n_labels; k++) {
        if (!pl->kept[k]) {
            count *= pl->n_sections[k];
            pl->pick[k] = 0;
            if (count > MAX_TERMS) {
                return cc_fail_null(CC_E_PY_VALUE,
                                    "pull_concat_once: Einsum '%s' would need more than %d terms "
                                    "per output section",
                                    e->name != NULL ? e->name : "", MAX_TERMS);
            }
        }
    }
    int total = (int)count;
    cc_node **terms = cc_calloc((size_t)total, sizeof(cc_node *));
    if (terms == NULL) {
        return NULL;
    }
    int rc = 0;
    for (int t = 0; t < total && rc == 0; t++) {
        // the last summed label varies fastest
        int rest = t;
        for (int k = pl->n_labels - 1; k >= 0; k--) {
            if (!pl->kept[k]) {
                pl->pick[k] = rest % pl->n_sections[k];
                rest /= pl->n_sections[k];
            }
        }
        terms[t] = einsum_piece(p, e, pl);
        rc = terms[t] == NULL ? -1 : 0;
    }
    cc_node *out = NULL;
    if (rc == 0 && total == 1) {
        out = terms[0];
        cc_node_incref(out);
    } else if (rc == 0) {
        out = cc_add_new(total, terms, NULL);
    }
    decref_all(terms, total);
    cc_free(terms);
    return out;
}

// The kept labels in order, each as a Concat of its sections along its output axis, around the
// sums (explicit stack of pending Concats, one level per kept label). New reference, or NULL.
static cc_node *
einsum_nest(const pull_ctx *p, cc_node *e, einsum_plan *pl)
{
    int order[N_LABELS], n_kept = 0;
    for (int k = 0; k < pl->n_labels; k++) {
        if (pl->kept[k]) {
            order[n_kept++] = k;
        }
    }
    if (n_kept == 0) {
        return einsum_sum(p, e, pl);
    }
    // level d collects the pieces of order[d]; parts[d] holds pl->pick[order[d]] done parts
    cc_node **parts[N_LABELS] = {0};
    cc_node *result = NULL;
    int d = 0, ok = 1;
    for (int k = 0; k < n_kept; k++) {
        parts[k] = cc_calloc((size_t)pl->n_sections[order[k]], sizeof(cc_node *));
        ok &= parts[k] != NULL;
        pl->pick[order[k]] = 0;
    }
    while (ok) {
        int slot = order[d];
        if (pl->pick[slot] == pl->n_sections[slot]) {
            int axis = 0;
            while (e->u.einsum.out_axes[axis] != pl->label[slot]) {
                axis++;
            }
            cc_node *c = cc_concat_new(pl->n_sections[slot], parts[d], axis, NULL);
            decref_all(parts[d], pl->n_sections[slot]);
            memset(parts[d], 0, (size_t)pl->n_sections[slot] * sizeof(cc_node *));
            pl->pick[slot] = 0;
            if (c == NULL) {
                ok = 0;
                break;
            }
            if (d == 0) {
                result = c;
                break;
            }
            d--;
            parts[d][pl->pick[order[d]]++] = c;
            continue;
        }
        if (d + 1 < n_kept) {
            d++;
            continue;
        }
        cc_node *piece = einsum_sum(p, e, pl);
        if (piece == NULL) {
            ok = 0;
            break;
        }
        parts[d][pl->pick[slot]++] = piece;
    }
    for (int k = 0; k < n_kept; k++) {
        if (parts[k] != NULL) {
            decref_all(parts[k], pl->n_sections[order[k]]);
            cc_free(parts[k]);
        }
    }
    return ok ? result : NULL;
}

static int
einsum_pull_concat(const pull_ctx *p, cc_node *e, cc_node **out)
{
    *out = NULL;
    einsum_plan *pl = cc_calloc(1, sizeof *pl);
    if (pl == NULL) {
        return -1;
    }
    const uint8_t *in = e->u.einsum.in_axes;
    int rc = 0, applies = 1;
    for (int i = 0; i < e->n_children && applies; i++) {
        cc_node *c = e->children[i];
        if (c->kind == CC_KIND_CONCAT) {
            int axis = c->u.concat.axis;
            uint8_t label = in[axis];
            int uses = 0;
            for (int k = 0; k < e->ndim; k++) {
                uses += e->u.einsum.out_axes[k] == label;
            }
            if (uses <= 1) {
                int slot = label_slot(pl, label);
                int n = c->n_children;
                if (slot < 0) {
                    slot = pl->n_labels++;
                    pl->label[slot] = label;
                    pl->n_sections[slot] = n;
                    pl->sizes[slot] = NULL;
                    pl->kept[slot] = uses == 1;
                }
                // the sections are the operands' sizes along the axis; every Concat on the
                // label must have the same
                int same = pl->sizes[slot] == NULL ? 1 : n == pl->n_sections[slot];
                for (int k = 0; same && pl->sizes[slot] != NULL && k < n; k++) {
                    same = pl->sizes[slot][k] == c->children[k]->shape[axis];
                }
                if (!same) {
                    applies = 0;
                    break;
                }
                if (pl->sizes[slot] == NULL) {
                    int64_t *sz = cc_malloc((size_t)n * sizeof(int64_t) + 1);
                    if (sz == NULL) {
                        rc = -1;
                        break;
                    }
                    for (int k = 0; k < n; k++) {
                        sz[k] = c->children[k]->shape[axis];
                    }
                    pl->sizes[slot] = sz;
                }
            }
        }
        in += c->ndim;
    }
    if (rc == 0 && applies && pl->n_labels > 0) {
        *out = einsum_nest(p, e, pl);
        rc = *out == NULL ? -1 : 0;
    }
    for (int k = 0; k < pl->n_labels; k++) {
        cc_free((void *)pl->sizes[k]);
    }
    cc_free(pl);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Add

// Section [start, stop) of axis of add (whose operands all have its shape): the Index of add
// when raw, else the Add (add's name) of the simplified Indexes of its operands.
static cc_node *
add_section(const pull_ctx *p, cc_node *add, int axis, int64_t start, int64_t stop)
{
    cc_index_item items[CC_MAX_NDIM];
    for (int k = 0; k < add->ndim; k++) {
        items[k] = k == axis ? cc_item_slice(start, stop) : cc_item_full();
    }
    if (p->raw) {
        return cc_index_new(add, add->ndim, items, NULL);
    }
    int n = add->n_children;
    cc_node **ops = cc_calloc((size_t)n + 1, sizeof(cc_node *));
    if (ops == NULL) {
        return NULL;
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        ops[i] = on_index(p, add->children[i], items);
        rc = ops[i] == NULL ? -1 : 0;
    }
    cc_node *out = rc == 0 ? cc_add_new(n, ops, add->name) : NULL;
    decref_all(ops, n);
    cc_free(ops);
    return out;
}

static int
add_pull_concat(const pull_ctx *p, cc_node *add, cc_node **out)
{
    *out = NULL;
    cc_node *concat = NULL;
    for (int i = 0; i < add->n_children && concat == NULL; i++) {
        cc_node *c = add->children[i];
        if (c->kind == CC_KIND_CONCAT && c->shape[c->u.concat.axis] != 1) {
            concat = c;
        }
    }
    if (concat == NULL) {
        return 0;
    }
    cc_node *explicit_add;
    if (cc_add_make_broadcasts_explicit(add, &explicit_add) < 0) {
        return -1;
    }
    if (explicit_add == NULL) {
        explicit_add = add;
        cc_node_incref(add);
    }
    int axis = add->ndim - concat->ndim + concat->u.concat.axis;
    int m = concat->n_children;
    cc_node **parts = cc_calloc((size_t)m, sizeof(cc_node *));
    int rc = parts == NULL ? -1 : 0;
    int64_t start = 0;
    for (int i = 0; i < m && rc == 0; i++) {
        int64_t l = concat->children[i]->shape[concat->u.concat.axis];
        parts[i] = add_section(p, explicit_add, axis, start, start + l);
        rc = parts[i] == NULL ? -1 : 0;
        start += l;
    }
    if (rc == 0) {
        *out = cc_concat_new(m, parts, axis, NULL);
        rc = *out == NULL ? -1 : 0;
    }
    if (parts != NULL) {
        decref_all(parts, m);
        cc_free(parts);
    }
    cc_node_decref(explicit_add);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// GeneralFunction

static int
gf_pull_concat(const pull_ctx *p, cc_node *gf, cc_node **out)
{
    *out = NULL;
    int n = gf->n_children;
    int ndims[64] = {0};
    const int64_t *shapes[64] = {0};
    if (n > 64) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        ndims[i] = gf->children[i]->ndim;
        shapes[i] = gf->children[i]->shape;
    }
    cc_gf_shape_info info;
    if (cc_gf_spec_shape_info(gf->u.gf.spec, n, ndims, shapes, &info) < 0) {
        return -1;
    }
    int batch_rank = gf->ndim - info.num_non_batchable_output_dims;
    cc_node *concat = NULL;
    for (int i = 0; i < n && concat == NULL; i++) {
        cc_node *c = gf->children[i];
        if (c->kind == CC_KIND_CONCAT && c->u.concat.axis < batch_rank) {
            concat = c;
        }
    }
    if (concat == NULL) {
        return 0;
    }
    int axis = concat->u.concat.axis;
    // the other batchable inputs are sliced along the same axis: they must have it in full
    for (int i = 0; i < n; i++) {
        cc_node *c = gf->children[i];
        if (info.input_batchable[i] && memcmp(c->hash, concat->hash, 32) != 0 &&
            (c->ndim != concat->ndim || c->shape[axis] != concat->shape[axis])) {
            return 0;
        }
    }
    int m = concat->n_children, rc = 0;
    cc_node **parts = cc_calloc((size_t)m, sizeof(cc_node *));
    cc_node **ops = cc_calloc((size_t)n + 1, sizeof(cc_node *));
    if (parts == NULL || ops == NULL) {
        cc_free(parts);
        cc_free(ops);
        return -1;
    }
    int64_t cur = 0;
    for (int j = 0; j < m && rc == 0; j++) {
        cc_node *part = concat->children[j];
        int64_t span = part->shape[axis];
        for (int i = 0; i < n && rc == 0; i++) {
            cc_node *c = gf->children[i];
            if (!info.input_batchable[i]) {
                ops[i] = c;
                cc_node_incref(c);
            } else if (memcmp(c->hash, concat->hash, 32) == 0) {
                ops[i] = part;
                cc_node_incref(part);
            } else {
                cc_index_item items[CC_MAX_NDIM];
                for (int k = 0; k < c->ndim; k++) {
                    items[k] = k == axis ? cc_item_slice(cur, cur + span) : cc_item_full();
                }
                ops[i] = on_index(p, c, items);
                rc = ops[i] == NULL ? -1 : 0;
            }
            if (rc < 0) {
                decref_all(ops, i);
            }
        }
        if (rc == 0) {
            parts[j] = cc_gf_new(n, ops, gf->u.gf.spec, NULL);
            decref_all(ops, n);
            rc = parts[j] == NULL ? -1 : 0;
        }
        cur += span;
    }
    if (rc == 0) {
        *out = cc_concat_new(m, parts, axis, NULL);
        rc = *out == NULL ? -1 : 0;
    }
    decref_all(parts, m);
    cc_free(parts);
    cc_free(ops);
    return rc;
}

// ---------------------------------------------------------------------------------------------

static int
names_equal(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int
cc_pull_concat_once(cc_node *c, int raw, cc_node **out)
{
    *out = NULL;
    pull_ctx p = {.raw = raw};
    cc_node *r = NULL;
    int rc = 0;
    switch (c->kind) {
    case CC_KIND_ADD:
        rc = add_pull_concat(&p, c, &r);
        break;
    case CC_KIND_EINSUM:
        rc = einsum_pull_concat(&p, c, &r);
        break;
    case CC_KIND_GENERAL_FUNCTION:
        rc = gf_pull_concat(&p, c, &r);
        break;
    default:
        break;
    }
    if (rc < 0 || r == NULL) {
        return rc;
    }
    // the Concat operands' name, when they all have the same one
    const char *name = NULL;
    int n_concat = 0, unique = 1;
    for (int i = 0; i < c->n_children; i++) {
        cc_node *k = c->children[i];
        if (k->kind != CC_KIND_CONCAT) {
            continue;
        }
        if (n_concat++ == 0) {
            name = k->name;
        } else if (!names_equal(name, k->name)) {
            unique = 0;
        }
    }
    if (!unique || names_equal(name, r->name)) {
        *out = r;
        return 0;
    }
    *out = cc_node_rename(r, name == NULL ? CC_NO_NAME : name);
    cc_node_decref(r);
    return *out == NULL ? -1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Deep passes

typedef struct {
    int64_t min_size;
    int raw;
} deep_ctx;

static double
numel(const cc_node *n)
{
    double e = 1;
    for (int k = 0; k < n->ndim; k++) {
        e *= (double)n->shape[k];
    }
    return e;
}

static cc_node *
pull_post(void *vctx, cc_node *node, cc_node *const *kids, int changed)
{
    const deep_ctx *d = vctx;
    cc_node *x = cc_deep_map_rebuild(node, kids, changed);
    if (x == NULL) {
        return NULL;
    }
    int big = d->min_size < 0 || numel(x) >= (double)d->min_size;
    for (int i = 0; !big && i < x->n_children; i++) {
        big = numel(x->children[i]) >= (double)d->min_size;
    }
    if (!big) {
        return x;
    }
    cc_node *y;
    int rc = x->kind == CC_KIND_CONCAT ? cc_concat_fuse(x, &y) : cc_pull_concat_once(x, d->raw, &y);
    if (rc < 0) {
        cc_node_decref(x);
        return NULL;
    }
    if (y == NULL) {
        return x;
    }
    cc_node_decref(x);
    return y;
}

cc_node *
cc_deep_pull_concat_pass(cc_node *c, int64_t min_size, int raw)
{
    deep_ctx d = {.min_size = min_size, .raw = raw};
    return cc_deep_map(c, NULL, pull_post, &d);
}

cc_node *
cc_deep_pull_concat(cc_node *c, int64_t min_size)
{
    cc_node *cur = cc_deep_pull_concat_pass(c, min_size, 1);
    uint64_t mask = cc_simp_compiler_mask();
    while (cur != NULL) {
        cc_node *s = cc_simp(cur, mask);
        cc_node *next = s == NULL ? NULL : cc_deep_push_down_index_raw(s, min_size);
        cc_node_decref(s);
        if (next == NULL || memcmp(next->hash, cur->hash, 32) == 0) {
            cc_node_decref(cur);
            return next;
        }
        cc_node_decref(cur);
        cur = next;
    }
    return NULL;
}
