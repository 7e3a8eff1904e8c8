// rc's diagonal rewrites: a diagonal every operand of an Add shares pulled above the Add
// (add_pull_diags), and an Einsum's repeated labels (a trace) pushed into an Add, Concat, Index
// or Rearrange operand (einsum_push_down_trace).
#include <string.h>

#include "nodes/rearrange.h"
#include "rewrite/catalogue.h"
#include "rewrite/rewrite_impl.h"
#include "util/alloc.h"
#include "util/error.h"

// rc's diags_intersection: position i of the result numbers the distinct columns
// (rows[0][i], ..., rows[m-1][i]) by first appearance, so two positions are equal iff every row
// is equal there.
static void
diags_intersection(int m, const int *const *rows, int len, int *out)
{
    int n_distinct = 0, first[CC_MAX_NDIM];
    for (int i = 0; i < len; i++) {
        out[i] = -1;
        for (int d = 0; d < n_distinct && out[i] < 0; d++) {
            int same = 1;
            for (int r = 0; r < m && same; r++) {
                same = rows[r][i] == rows[r][first[d]];
            }
            if (same) {
                out[i] = d;
            }
        }
        if (out[i] < 0) {
            first[n_distinct] = i;
            out[i] = n_distinct++;
        }
    }
}

// The distinct values of v in first-appearance order; returns their count.
static int
unique_ints(const int *v, int len, int *out)
{
    int n = 0;
    for (int i = 0; i < len; i++) {
        int seen = 0;
        for (int k = 0; k < n && !seen; k++) {
            seen = out[k] == v[i];
        }
        if (!seen) {
            out[n++] = v[i];
        }
    }
    return n;
}

static int
position_of(const int *v, int len, int x)
{
    for (int i = 0; i < len; i++) {
        if (v[i] == x) {
            return i;
        }
    }
    return -1;
}

// Einsum of one operand with labels in (len of them) and out (n_out), unnamed. New reference.
static cc_node *
one_operand_einsum(cc_node *node, const int *in, int n_out, const int *out)
{
    uint8_t a[CC_MAX_NDIM], b[CC_MAX_NDIM];
    for (int k = 0; k < node->ndim; k++) {
        a[k] = (uint8_t)in[k];
    }
    for (int k = 0; k < n_out; k++) {
        b[k] = (uint8_t)out[k];
    }
    return cc_einsum_new(1, &node, a, n_out, b, NULL);
}

// rc's Einsum::new_trace: node with labels ints, out the distinct labels. New reference.
static cc_node *
new_trace(cc_node *node, const int *ints)
{
    int u[CC_MAX_NDIM];
    int n = unique_ints(ints, node->ndim, u);
    return one_operand_einsum(node, ints, n, u);
}

int
cc_add_pull_diags(cc_node *add, cc_node **out)
{
    *out = NULL;
    int n = add->n_children, r = add->ndim, rc = 0;
    if (n == 0) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (add->children[i]->kind != CC_KIND_EINSUM) {
            return 0;
        }
    }
    int *diags = cc_malloc((size_t)n * CC_MAX_NDIM * sizeof(int));
    const int **rows = cc_malloc((size_t)n * sizeof(int *));
    cc_node **kids = cc_calloc((size_t)n, sizeof(cc_node *));
    cc_node *inner = NULL;
    if (diags == NULL || rows == NULL || kids == NULL) {
        rc = -1;
        goto done;
    }
    // per operand: its rank-difference axes, then its output labels where the axis is longer
    // than 1 (a size-1 axis only broadcasts: a label of its own)
    for (int i = 0; i < n; i++) {
        const cc_node *e = add->children[i];
        int d = r - e->ndim, max_label = 0, *row = diags + (size_t)i * CC_MAX_NDIM;
        for (int k = 0; k < e->ndim; k++) {
            if (e->u.einsum.out_axes[k] > max_label) {
                max_label = e->u.einsum.out_axes[k];
            }
        }
        for (int k = 0; k < d; k++) {
            row[k] = k;
        }
        for (int k = 0; k < e->ndim; k++) {
            row[d + k] = e->shape[k] > 1 ? e->u.einsum.out_axes[k] + d : k + d + max_label + 1;
        }
        rows[i] = row;
    }
    int overall[CC_MAX_NDIM], uniq[CC_MAX_NDIM];
    diags_intersection(n, rows, r, overall);
    int n_uniq = unique_ints(overall, r, uniq);
    if (n_uniq == r) {
        goto done;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        cc_node *e = add->children[i];
        int d = r - e->ndim, u[CC_MAX_NDIM];
        int nu = unique_ints(overall + d, e->ndim, u);
        uint8_t labels[CC_MAX_NDIM];
        for (int k = 0; k < nu; k++) {
            labels[k] = e->u.einsum.out_axes[position_of(overall + d, e->ndim, u[k])];
        }
        kids[i] = cc_einsum_new(e->n_children, e->children, e->u.einsum.in_axes, nu, labels, NULL);
        rc = kids[i] == NULL ? -1 : 0;
    }
    if (rc == 0) {
        inner = cc_add_new(n, kids, add->name);
        *out = inner == NULL ? NULL : one_operand_einsum(inner, uniq, r, overall);
        rc = *out == NULL ? -1 : 0;
    }
done:
    for (int i = 0; kids != NULL && i < n; i++) {
        cc_node_decref(kids[i]);
    }
    cc_node_decref(inner);
    cc_free(diags);
    cc_free(rows);
    cc_free(kids);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// einsum_push_down_trace: one operand with repeated labels ints (n of them); 0 with *node and
// up (its new labels, *n_up of them) when the trace moves below it, *node NULL when not.

static int
trace_into_add(cc_node *child, const int *ints, cc_node **node)
{
    cc_node *explicit_add = NULL;
    if (cc_add_make_broadcasts_explicit(child, &explicit_add) < 0) {
        return -1;
    }
    cc_node *a = explicit_add != NULL ? explicit_add : child;
    cc_node **terms = cc_calloc((size_t)a->n_children + 1, sizeof(cc_node *));
    int rc = terms == NULL ? -1 : 0;
    for (int i = 0; rc == 0 && i < a->n_children; i++) {
        terms[i] = new_trace(a->children[i], ints);
        rc = terms[i] == NULL ? -1 : 0;
    }
    if (rc == 0) {
        *node = cc_add_new(a->n_children, terms, NULL);
        rc = *node == NULL ? -1 : 0;
    }
    for (int i = 0; terms != NULL && i < a->n_children; i++) {
        cc_node_decref(terms[i]);
    }
    cc_free(terms);
    cc_node_decref(explicit_add);
    return rc;
}

static int
trace_into_concat(cc_node *child, const int *ints, cc_node **node, int *up, int *n_up)
{
    int raw[CC_MAX_NDIM], dedup[CC_MAX_NDIM], axis = child->u.concat.axis, fresh = 0;
    for (int k = 0; k < child->ndim; k++) {
        raw[k] = ints[k];
        fresh = ints[k] + 1 > fresh ? ints[k] + 1 : fresh;
    }
    raw[axis] = fresh;
    int nd = unique_ints(raw, child->ndim, dedup);
    if (nd == child->ndim) {
        return 0;
    }
    cc_node **parts = cc_calloc((size_t)child->n_children + 1, sizeof(cc_node *));
    int rc = parts == NULL ? -1 : 0;
    for (int p = 0; rc == 0 && p < child->n_children; p++) {
        parts[p] = new_trace(child->children[p], raw);
        rc = parts[p] == NULL ? -1 : 0;
    }
    if (rc == 0) {
        *node = cc_concat_new(child->n_children, parts, position_of(dedup, nd, fresh), NULL);
        rc = *node == NULL ? -1 : 0;
    }
    for (int k = 0; k < nd; k++) {
        up[k] = dedup[k] == fresh ? ints[axis] : dedup[k];
    }
    *n_up = nd;
    for (int p = 0; parts != NULL && p < child->n_children; p++) {
        cc_node_decref(parts[p]);
    }
    cc_free(parts);
    return rc;
}

static int
trace_into_index(cc_node *child, const int *ints, cc_node **node, int *up, int *n_up)
{
    cc_node *base = child->children[0];
    const cc_index_item *items = child->u.index.items;
    int for_intersection[CC_MAX_NDIM], m = 0, map[CC_MAX_NDIM], cur = -1;
    for (int k = 0; k < base->ndim; k++) {
        if (items[k].kind != CC_INDEX_INT) {
            cur++;
            for_intersection[m++] = cc_item_is_identity(&items[k], base->shape[k]) ? 0 : k + 1;
        }
        map[k] = cc_item_is_identity(&items[k], base->shape[k]) ? cur : -1;
    }
    const int *rows[2] = {for_intersection, ints};
    int inter[CC_MAX_NDIM], uniq[CC_MAX_NDIM];
    diags_intersection(2, rows, child->ndim, inter);
    int nu = unique_ints(inter, child->ndim, uniq);
    if (nu == child->ndim) {
        return 0;
    }
    int in[CC_MAX_NDIM], in_uniq[CC_MAX_NDIM];
    for (int k = 0; k < base->ndim; k++) {
        in[k] = map[k] >= 0 ? inter[map[k]] : k + base->ndim;
    }
    int n_in = unique_ints(in, base->ndim, in_uniq);
    cc_node *traced = new_trace(base, in);
    if (traced == NULL) {
        return -1;
    }
    cc_index_item kept[CC_MAX_NDIM];
    for (int k = 0; k < n_in; k++) {
        kept[k] = items[position_of(in, base->ndim, in_uniq[k])];
    }
    *node = cc_index_new(traced, n_in, kept, NULL);
    cc_node_decref(traced);
    for (int k = 0; k < nu; k++) {
        up[k] = ints[position_of(inter, child->ndim, uniq[k])];
    }
    *n_up = nu;
    return *node == NULL ? -1 : 0;
}

// A group of spec equal to the given ints.
static int
same_group(const uint8_t *a, int la, const uint8_t *b, int lb)
{
    return la == lb && memcmp(a, b, (size_t)la) == 0;
}

static int
trace_into_rearrange(cc_node *child, const int *ints, cc_node **node, int *up, int *n_up)
{
    const cc_rearrange_spec *s = child->u.rearrange.spec;
    cc_node *base = child->children[0];
    int r = child->ndim, map[CC_MAX_NDIM], for_intersection[CC_MAX_NDIM];
    // map[g]: the output group equal to input group g when it is a single int, else -1
    for (int g = 0; g < s->n_in; g++) {
        int len = s->in_start[g + 1] - s->in_start[g];
        map[g] = -1;
        for (int o = 0; len == 1 && o < s->n_out && map[g] < 0; o++) {
            if (same_group(s->in_ints + s->in_start[g], 1, s->out_ints + s->out_start[o],
                           s->out_start[o + 1] - s->out_start[o])) {
                map[g] = o;
            }
        }
    }
    for (int o = 0; o < r; o++) {
        for_intersection[o] = o + 1;
    }
    for (int g = 0; g < s->n_in; g++) {
        if (map[g] >= 0) {
            for_intersection[map[g]] = 0;
        }
    }
    const int *rows[2] = {ints, for_intersection};
    int inter[CC_MAX_NDIM], uniq[CC_MAX_NDIM];
    diags_intersection(2, rows, r, inter);
    int nu = unique_ints(inter, r, uniq);
    if (nu == r) {
        return 0;
    }
    // output groups at a repeated position (not its first) are removed, with the input groups
    // equal to them
    uint8_t remove_out[CC_MAX_NDIM] = {0}, remove_in[CC_MAX_NDIM] = {0};
    for (int o = 0; o < r; o++) {
        remove_out[o] = position_of(inter, r, inter[o]) != o;
    }
    for (int o = 0; o < r; o++) {
        for (int o2 = 0; o2 < r && !remove_out[o]; o2++) {
            if (remove_out[o2] &&
                same_group(s->out_ints + s->out_start[o], s->out_start[o + 1] - s->out_start[o],
                           s->out_ints + s->out_start[o2],
                           s->out_start[o2 + 1] - s->out_start[o2])) {
                remove_out[o] = 1;
            }
        }
    }
    for (int g = 0; g < s->n_in; g++) {
        for (int o = 0; o < r && !remove_in[g]; o++) {
            remove_in[g] =
                remove_out[o] &&
                same_group(s->in_ints + s->in_start[g], s->in_start[g + 1] - s->in_start[g],
                           s->out_ints + s->out_start[o], s->out_start[o + 1] - s->out_start[o]);
        }
    }
    int in[CC_MAX_NDIM], out_labels[CC_MAX_NDIM], n_out = 0;
    for (int g = 0; g < base->ndim; g++) {
        in[g] = map[g] >= 0 ? inter[map[g]] : g + r;
        if (!remove_in[g]) {
            out_labels[n_out++] = in[g];
        }
    }
    int in_lens[CC_MAX_NDIM], out_lens[CC_MAX_NDIM], n_in = 0, n_o = 0, a = 0, b = 0;
    uint8_t in_ints[256], o_ints[256];
    for (int g = 0; g < s->n_in; g++) {
        if (remove_in[g]) {
            continue;
        }
        in_lens[n_in++] = s->in_start[g + 1] - s->in_start[g];
        for (int k = s->in_start[g]; k < s->in_start[g + 1]; k++) {
            in_ints[a++] = s->in_ints[k];
        }
    }
    for (int o = 0; o < s->n_out; o++) {
        if (remove_out[o]) {
            continue;
        }
        out_lens[n_o++] = s->out_start[o + 1] - s->out_start[o];
        for (int k = s->out_start[o]; k < s->out_start[o + 1]; k++) {
            o_ints[b++] = s->out_ints[k];
        }
    }
    cc_rearrange_spec *spec =
        cc_rearrange_spec_new(n_in, in_lens, in_ints, n_o, out_lens, o_ints, s->n_sizes, s->sizes);
    if (spec == NULL) {
        return -1;
    }
    cc_node *traced = one_operand_einsum(base, in, n_out, out_labels);
    *node = traced == NULL ? NULL : cc_rearrange_new(traced, spec, NULL);
    cc_node_decref(traced);
    cc_rearrange_spec_free(spec);
    for (int k = 0; k < nu; k++) {
        up[k] = ints[position_of(inter, r, uniq[k])];
    }
    *n_up = nu;
    return *node == NULL ? -1 : 0;
}

int
cc_einsum_push_down_trace(cc_node *einsum, cc_node **out)
{
    *out = NULL;
    int n = einsum->n_children, any = 0, rc = 0, len = 0, total = 0;
    for (int i = 0; i < n; i++) {
        total += einsum->children[i]->ndim;
    }
    cc_node **kids = cc_calloc((size_t)n + 1, sizeof(cc_node *));
    uint8_t *labels = cc_malloc((size_t)total + 1);
    if (kids == NULL || labels == NULL) {
        rc = -1;
        goto done;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        cc_node *c = einsum->children[i];
        const uint8_t *ax = cc_einsum_child_axes(einsum, i);
        int ints[CC_MAX_NDIM], u[CC_MAX_NDIM], up[CC_MAX_NDIM], n_up = 0;
        for (int k = 0; k < c->ndim; k++) {
            ints[k] = ax[k];
        }
        int nu = unique_ints(ints, c->ndim, u);
        cc_node *node = NULL;
        if (nu < c->ndim) {
            switch (c->kind) {
            case CC_KIND_ADD:
                rc = trace_into_add(c, ints, &node);
                memcpy(up, u, sizeof u);
                n_up = nu;
                break;
            case CC_KIND_CONCAT:
                rc = trace_into_concat(c, ints, &node, up, &n_up);
                break;
            case CC_KIND_INDEX:
                rc = trace_into_index(c, ints, &node, up, &n_up);
                break;
            case CC_KIND_REARRANGE:
                rc = trace_into_rearrange(c, ints, &node, up, &n_up);
                break;
            default:
                break;
            }
        }
        if (node == NULL) {
            cc_node_incref(c);
            kids[i] = c;
            memcpy(labels + len, ax, (size_t)c->ndim);
            len += c->ndim;
            continue;
        }
        any = 1;
        kids[i] = node;
        for (int k = 0; k < n_up; k++) {
            labels[len++] = (uint8_t)up[k];
        }
    }
    if (rc == 0 && any) {
        *out =
            cc_einsum_new(n, kids, labels, einsum->ndim, einsum->u.einsum.out_axes, einsum->name);
        rc = *out == NULL ? -1 : 0;
    }
done:
    for (int i = 0; kids != NULL && i < n; i++) {
        cc_node_decref(kids[i]);
    }
    cc_free(kids);
    cc_free(labels);
    return rc;
}
