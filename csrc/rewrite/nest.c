// Nesting of Einsum and Add operands (rc's nest_einsums / nest_adds once their spec is resolved
// to numbered groups) and rc's deep_heuristic_nest_adds. Groups are built in list order, so
// no walk recurses; label bookkeeping is per group, over the 256 einsum labels.
#include "rewrite/nest.h"

#include <string.h>

#include "expand/deep_map.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/vec.h"

#define N_LABELS 256

// Checks that the groups form one tree over n_ops operands (nest.h's contract). 0, or -1.
static int
check_tree(const char *what, int n_ops, int n_groups, const cc_nest_group *groups)
{
    if (n_groups < 1) {
        return cc_fail(CC_E_NEST, "%s: the nesting has no groups", what);
    }
    int *op_uses = cc_calloc((size_t)n_ops + 1, sizeof(int));
    int *group_uses = cc_calloc((size_t)n_groups, sizeof(int));
    int rc = -1;
    if (op_uses == NULL || group_uses == NULL) {
        goto done;
    }
    for (int g = 0; g < n_groups; g++) {
        for (int k = 0; k < groups[g].n_members; k++) {
            int m = groups[g].members[k];
            if (m >= 0) {
                if (m >= n_ops) {
                    cc_fail(CC_E_NEST_INT_NOT_CONTAINED_IN_RANGE_COUNT,
                            "%s: operand number %d is out of range: there are %d operands", what, m,
                            n_ops);
                    goto done;
                }
                if (++op_uses[m] > 1) {
                    cc_fail(CC_E_PERM_INTS_NOT_UNIQUE,
                            "%s: operand number %d appears more than once in the nesting", what, m);
                    goto done;
                }
                continue;
            }
            int h = -1 - m;
            if (h >= g) {
                cc_fail(CC_E_NEST, "%s: group %d refers to group %d, which is not an earlier one",
                        what, g, h);
                goto done;
            }
            if (++group_uses[h] > 1) {
                cc_fail(CC_E_NEST, "%s: group %d is used more than once", what, h);
                goto done;
            }
        }
    }
    for (int i = 0; i < n_ops; i++) {
        if (op_uses[i] == 0) {
            cc_fail(CC_E_NEST_PERMUTATION_MISSES_IDXS_AND_NO_REST_IN_SPEC,
                    "%s: operand number %d is in no group (of %d operands), and the spec has no "
                    "Rest to take it",
                    what, i, n_ops);
            goto done;
        }
    }
    for (int h = 0; h + 1 < n_groups; h++) {
        if (group_uses[h] == 0) {
            cc_fail(CC_E_NEST, "%s: group %d is not part of the nesting", what, h);
            goto done;
        }
    }
    if (groups[n_groups - 1].out_perm != NULL) {
        cc_fail(CC_E_NEST,
                "%s: out_axes_perm on the outermost group would change the output's axes", what);
        goto done;
    }
    rc = 0;
done:
    cc_free(op_uses);
    cc_free(group_uses);
    return rc;
}

// Output labels of group g into out (returns their count): labels of the group's operands
// (counts in cnt) that an operand outside the group has (total) or the output has, ascending.
static int
group_out_labels(const int *cnt, const int *total, const uint8_t *is_out, uint8_t *out)
{
    int n = 0;
    for (int l = 0; l < N_LABELS; l++) {
        if (cnt[l] > 0 && (is_out[l] || cnt[l] < total[l])) {
            out[n++] = (uint8_t)l;
        }
    }
    return n;
}

// Replaces the computed output labels lab (*n, every one needed outside the group) by the
// group's own out_labels, which must include them and come from its operands.
static int
take_out_labels(const cc_nest_group *grp, int g, const int *cnt, uint8_t *lab, int *n)
{
    uint8_t given[N_LABELS] = {0};
    for (int i = 0; i < grp->n_out_labels; i++) {
        if (cnt[grp->out_labels[i]] == 0) {
            return cc_fail(CC_E_NEST,
                           "nest_einsums: output label %d of group %d is on none of its operands",
                           grp->out_labels[i], g);
        }
        given[grp->out_labels[i]] = 1;
    }
    for (int i = 0; i < *n; i++) {
        if (!given[lab[i]]) {
            return cc_fail(CC_E_NEST,
                           "nest_einsums: the output labels of group %d lack label %d, which is "
                           "needed outside it",
                           g, lab[i]);
        }
    }
    if (grp->n_out_labels > N_LABELS) {
        return cc_fail(CC_E_NEST, "nest_einsums: group %d has %d output labels", g,
                       grp->n_out_labels);
    }
    memcpy(lab, grp->out_labels, (size_t)grp->n_out_labels);
    *n = grp->n_out_labels;
    return 0;
}

static int
apply_perm(const cc_nest_group *grp, int g, uint8_t *lab, int n)
{
    if (grp->n_perm != n) {
        return cc_fail(CC_E_NEST_PERM_HAS_WRONG_LEN,
                       "nest_einsums: out_axes_perm of group %d has %d entries but the group has "
                       "%d output axes",
                       g, grp->n_perm, n);
    }
    uint8_t orig[N_LABELS];
    int seen[N_LABELS] = {0};
    memcpy(orig, lab, (size_t)n);
    for (int i = 0; i < n; i++) {
        int p = grp->out_perm[i];
        if (p < 0 || p >= n) {
            return cc_fail(CC_E_NEST,
                           "nest_einsums: out_axes_perm of group %d has %d, not an axis of its %d",
                           g, p, n);
        }
        if (seen[p]++) {
            return cc_fail(CC_E_PERM_INTS_NOT_UNIQUE,
                           "nest_einsums: out_axes_perm of group %d repeats %d", g, p);
        }
        lab[i] = orig[p];
    }
    return 0;
}

// Einsum state: per group, its label counts and output labels; built nodes.
typedef struct {
    int *cnt;        // n_groups * N_LABELS
    uint8_t *out;    // n_groups * N_LABELS
    int *n_out;      // n_groups
    cc_node **built; // n_groups, owned references
} nest_state;

static void
state_clear(nest_state *s, int n_groups)
{
    if (s->built != NULL) {
        for (int g = 0; g < n_groups; g++) {
            cc_node_decref(s->built[g]);
        }
    }
    cc_free(s->cnt);
    cc_free(s->out);
    cc_free(s->n_out);
    cc_free(s->built);
}

// Labels of in (n_in) and out (n_out) renamed 0, 1, ... in order of first appearance.
static void
renumber(uint8_t *in, size_t n_in, uint8_t *out, int n_out)
{
    int map[N_LABELS];
    int next = 0;
    for (int l = 0; l < N_LABELS; l++) {
        map[l] = -1;
    }
    for (size_t i = 0; i < n_in + (size_t)n_out; i++) {
        uint8_t *l = i < n_in ? &in[i] : &out[i - n_in];
        if (map[*l] < 0) {
            map[*l] = next++;
        }
        *l = (uint8_t)map[*l];
    }
}

static cc_node *
build_einsum_group(cc_node *einsum, const cc_nest_group *groups, int g, int is_root, nest_state *s)
{
    const cc_nest_group *grp = &groups[g];
    int n = grp->n_members;
    cc_node **kids = cc_malloc(((size_t)n + 1) * sizeof(cc_node *));
    size_t n_in = 0;
    for (int k = 0; k < n; k++) {
        int m = grp->members[k];
        n_in += m >= 0 ? (size_t)einsum->children[m]->ndim : (size_t)s->n_out[-1 - m];
    }
    uint8_t *in_axes = cc_malloc(n_in + 1);
    cc_node *out = NULL;
    if (kids == NULL || in_axes == NULL) {
        goto done;
    }
    size_t pos = 0;
    for (int k = 0; k < n; k++) {
        int m = grp->members[k];
        if (m >= 0) {
            kids[k] = einsum->children[m];
            if (kids[k]->ndim > 0) {
                memcpy(in_axes + pos, cc_einsum_child_axes(einsum, m), (size_t)kids[k]->ndim);
            }
            pos += (size_t)kids[k]->ndim;
        } else {
            int h = -1 - m;
            kids[k] = s->built[h];
            memcpy(in_axes + pos, s->out + (size_t)h * N_LABELS, (size_t)s->n_out[h]);
            pos += (size_t)s->n_out[h];
        }
    }
    if (is_root) {
        const char *name = grp->name != NULL ? grp->name : einsum->name;
        out = cc_einsum_new(n, kids, in_axes, einsum->ndim, einsum->u.einsum.out_axes, name);
    } else {
        // Inner Einsums number their labels by first appearance, so equal groups from
        // different flattenings build equal nodes.
        uint8_t out_axes[N_LABELS];
        int n_out = s->n_out[g];
        memcpy(out_axes, s->out + (size_t)g * N_LABELS, (size_t)n_out);
        renumber(in_axes, pos, out_axes, n_out);
        out = cc_einsum_new(n, kids, in_axes, n_out, out_axes, grp->name);
    }
done:
    cc_free(kids);
    cc_free(in_axes);
    return out;
}

cc_node *
cc_einsum_nest_groups(cc_node *einsum, int n_groups, const cc_nest_group *groups)
{
    if (einsum->kind != CC_KIND_EINSUM) {
        return cc_fail_null(CC_E_PY_TYPE, "nest_einsums: expected Einsum but got %s",
                            cc_kind_get_info(einsum->kind)->py_name);
    }
    int n_ops = einsum->n_children;
    if (check_tree("nest_einsums", n_ops, n_groups, groups) < 0) {
        return NULL;
    }
    int total[N_LABELS] = {0};
    uint8_t is_out[N_LABELS] = {0};
    for (int i = 0; i < einsum->ndim; i++) {
        is_out[einsum->u.einsum.out_axes[i]] = 1;
    }
    for (int i = 0; i < n_ops; i++) {
        uint8_t here[N_LABELS] = {0};
        const uint8_t *lab = cc_einsum_child_axes(einsum, i);
        for (int a = 0; a < einsum->children[i]->ndim; a++) {
            if (!here[lab[a]]++) {
                total[lab[a]]++;
            }
        }
    }
    nest_state s = {
        cc_calloc((size_t)n_groups * N_LABELS, sizeof(int)),
        cc_malloc((size_t)n_groups * N_LABELS),
        cc_calloc((size_t)n_groups, sizeof(int)),
        cc_calloc((size_t)n_groups, sizeof(cc_node *)),
    };
    cc_node *result = NULL;
    if (s.cnt == NULL || s.out == NULL || s.n_out == NULL || s.built == NULL) {
        goto done;
    }
    for (int g = 0; g < n_groups; g++) {
        int *cnt = s.cnt + (size_t)g * N_LABELS;
        for (int k = 0; k < groups[g].n_members; k++) {
            int m = groups[g].members[k];
            if (m >= 0) {
                uint8_t here[N_LABELS] = {0};
                const uint8_t *lab = cc_einsum_child_axes(einsum, m);
                for (int a = 0; a < einsum->children[m]->ndim; a++) {
                    if (!here[lab[a]]++) {
                        cnt[lab[a]]++;
                    }
                }
            } else {
                const int *sub = s.cnt + (size_t)(-1 - m) * N_LABELS;
                for (int l = 0; l < N_LABELS; l++) {
                    cnt[l] += sub[l];
                }
            }
        }
        int is_root = g == n_groups - 1;
        if (!is_root) {
            uint8_t *lab = s.out + (size_t)g * N_LABELS;
            s.n_out[g] = group_out_labels(cnt, total, is_out, lab);
            if (groups[g].out_labels != NULL &&
                take_out_labels(&groups[g], g, cnt, lab, &s.n_out[g]) < 0) {
                goto done;
            }
            if (groups[g].out_perm != NULL && apply_perm(&groups[g], g, lab, s.n_out[g]) < 0) {
                goto done;
            }
        }
        s.built[g] = build_einsum_group(einsum, groups, g, is_root, &s);
        if (s.built[g] == NULL) {
            goto done;
        }
    }
    result = s.built[n_groups - 1];
    cc_node_incref(result);
done:
    state_clear(&s, n_groups);
    return result;
}

cc_node *
cc_add_nest_groups(cc_node *add, int n_groups, const cc_nest_group *groups)
{
    if (add->kind != CC_KIND_ADD) {
        return cc_fail_null(CC_E_PY_TYPE, "nest_adds: expected Add but got %s",
                            cc_kind_get_info(add->kind)->py_name);
    }
    if (check_tree("nest_adds", add->n_children, n_groups, groups) < 0) {
        return NULL;
    }
    cc_node **built = cc_calloc((size_t)n_groups, sizeof(cc_node *));
    cc_node *result = NULL;
    if (built == NULL) {
        return NULL;
    }
    for (int g = 0; g < n_groups; g++) {
        const cc_nest_group *grp = &groups[g];
        if (grp->out_perm != NULL) {
            cc_fail(CC_E_NEST, "nest_adds: group %d has out_axes_perm, which Adds do not take", g);
            goto done;
        }
        cc_node **kids = cc_malloc(((size_t)grp->n_members + 1) * sizeof(cc_node *));
        if (kids == NULL) {
            goto done;
        }
        for (int k = 0; k < grp->n_members; k++) {
            int m = grp->members[k];
            kids[k] = m >= 0 ? add->children[m] : built[-1 - m];
        }
        const char *name = grp->name;
        if (g == n_groups - 1 && name == NULL) {
            name = add->name;
        }
        built[g] = cc_add_new(grp->n_members, kids, name);
        cc_free(kids);
        if (built[g] == NULL) {
            goto done;
        }
    }
    result = built[n_groups - 1];
    cc_node_incref(result);
done:
    for (int g = 0; g < n_groups; g++) {
        cc_node_decref(built[g]);
    }
    cc_free(built);
    return result;
}

// ---------------------------------------------------------------------------------------------
// deep_heuristic_nest_adds

// Adds bigger than this many elements are summed two operands at a time (rc's add_nest_ltr).
#define LTR_NUMEL 100000000.0

// Whether sub's operands (as a multiset, by hash) are all among sup's; used: scratch of
// sup->n_children flags. *first: the position in sup of sub's first operand.
static int
is_sub_multiset(const cc_node *sup, const cc_node *sub, uint8_t *used, int *first)
{
    memset(used, 0, (size_t)sup->n_children);
    *first = sup->n_children;
    for (int i = 0; i < sub->n_children; i++) {
        int found = 0;
        for (int j = 0; j < sup->n_children && !found; j++) {
            if (!used[j] && memcmp(sub->children[i]->hash, sup->children[j]->hash, 32) == 0) {
                used[j] = 1;
                found = 1;
                if (j < *first) {
                    *first = j;
                }
            }
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}

// sup with sub's operands replaced by sub itself (at the place of the first of them), under
// sup's name. New reference, or NULL.
static cc_node *
extract_sub(const cc_node *sup, cc_node *sub, const uint8_t *used, int first)
{
    cc_node **kids = cc_malloc((size_t)sup->n_children * sizeof(cc_node *));
    if (kids == NULL) {
        return NULL;
    }
    int n = 0;
    for (int j = 0; j < sup->n_children; j++) {
        if (j == first) {
            kids[n++] = sub;
        } else if (!used[j]) {
            kids[n++] = sup->children[j];
        }
    }
    cc_node *out = cc_add_new(n, kids, sup->name);
    cc_free(kids);
    return out;
}

typedef struct {
    cc_hmap mapping; // Add hash -> replacement (borrowed from keep)
    cc_ptrvec keep;  // owned references to every replacement made
} nest_adds_ctx;

static double
numel_of(const cc_node *n)
{
    double v = 1;
    for (int i = 0; i < n->ndim; i++) {
        v *= (double)n->shape[i];
    }
    return v;
}

// The Add's operands summed left to right in Adds of two, the outermost under its name.
static cc_node *
nest_ltr(const cc_node *add)
{
    cc_node *acc = add->children[0];
    cc_node_incref(acc);
    for (int i = 1; i < add->n_children; i++) {
        cc_node *pair[2] = {acc, add->children[i]};
        cc_node *next = cc_add_new(2, pair, i + 1 == add->n_children ? add->name : NULL);
        cc_node_decref(acc);
        if (next == NULL) {
            return NULL;
        }
        acc = next;
    }
    return acc;
}

static int
nest_adds_pre(void *ctx, cc_node *node, cc_node **out)
{
    nest_adds_ctx *c = ctx;
    if (node->kind != CC_KIND_ADD) {
        return 0;
    }
    cc_node *cur = node;
    cc_node *next;
    while ((next = cc_hmap_get(&c->mapping, cur->hash)) != NULL && next != cur) {
        cur = next;
    }
    if (cur->n_children > 2 && numel_of(cur) > LTR_NUMEL) {
        *out = nest_ltr(cur);
        return *out == NULL ? -1 : 2;
    }
    if (cur == node) {
        return 0;
    }
    cc_node_incref(cur);
    *out = cur;
    return 2;
}

static void
ctx_clear(nest_adds_ctx *c)
{
    for (size_t i = 0; i < c->keep.len; i++) {
        cc_node_decref(c->keep.items[i]);
    }
    cc_ptrvec_clear(&c->keep);
    cc_hmap_clear(&c->mapping);
}

cc_node *
cc_deep_heuristic_nest_adds(cc_node *root)
{
    cc_node **order;
    int64_t n_order;
    if (cc_node_postorder_unique(root, &order, &n_order) < 0) {
        return NULL;
    }
    nest_adds_ctx ctx;
    cc_hmap_init(&ctx.mapping);
    cc_ptrvec_init(&ctx.keep);
    cc_node *result = NULL;
    // The Adds of the circuit, replaced in place as rounds rewrite them (borrowed: from order
    // or from the mapping, which owns replacements).
    cc_node **adds = cc_malloc(((size_t)n_order + 1) * sizeof(cc_node *));
    cc_node **todo_sup = cc_malloc(((size_t)n_order + 1) * sizeof(cc_node *));
    cc_node **todo_new = cc_malloc(((size_t)n_order + 1) * sizeof(cc_node *));
    uint8_t *used = NULL;
    int n_adds = 0, max_children = 1;
    if (adds == NULL || todo_sup == NULL || todo_new == NULL) {
        goto done;
    }
    for (int64_t i = 0; i < n_order; i++) {
        if (order[i]->kind == CC_KIND_ADD) {
            adds[n_adds++] = order[i];
            if (order[i]->n_children > max_children) {
                max_children = order[i]->n_children;
            }
        }
    }
    used = cc_malloc((size_t)max_children);
    if (used == NULL) {
        goto done;
    }
    for (int round = 0; round < 2; round++) {
        int n_todo = 0;
        for (int a = 0; a < n_adds; a++) {
            cc_node *sup = adds[a];
            if (sup->n_children < 3) {
                continue;
            }
            for (int b = 0; b < n_adds; b++) {
                cc_node *sub = adds[b];
                int first;
                if (sub->n_children < 2 || sub->n_children >= sup->n_children ||
                    !is_sub_multiset(sup, sub, used, &first)) {
                    continue;
                }
                cc_node *repl = extract_sub(sup, sub, used, first);
                if (repl == NULL || cc_ptrvec_push(&ctx.keep, repl) < 0) {
                    cc_node_decref(repl);
                    goto done;
                }
                todo_sup[n_todo] = sup;
                todo_new[n_todo++] = repl;
                adds[a] = repl;
                break;
            }
        }
        if (n_todo == 0) {
            break;
        }
        for (int t = 0; t < n_todo; t++) {
            if (cc_hmap_put(&ctx.mapping, todo_sup[t]->hash, todo_new[t]) < 0) {
                goto done;
            }
        }
    }
    result = cc_deep_map(root, nest_adds_pre, NULL, &ctx);
done:
    cc_free(order);
    cc_free(adds);
    cc_free(todo_sup);
    cc_free(todo_new);
    cc_free(used);
    ctx_clear(&ctx);
    return result;
}
