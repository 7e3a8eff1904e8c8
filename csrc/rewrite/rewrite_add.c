// rc's Add rewrites beyond simp's defaults: explicit broadcasts, collapsing Scalars, grouping
// operands without outer products, extracting a sub-sum, fusing scalar multiples and pulling
// removable axes above the Add. Operand orders that rc takes from a hash map are first
// appearance here.
#include <string.h>

#include "nodes/rearrange.h"
#include "rewrite/catalogue.h"
#include "rewrite/rewrite_impl.h"
#include "rewrite/simp.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"

static int
same_shape(const cc_node *a, int ndim, const int64_t *shape)
{
    return a->ndim == ndim && memcmp(a->shape, shape, (size_t)ndim * sizeof(int64_t)) == 0;
}

static void
decref_all(cc_node **nodes, int n)
{
    for (int i = 0; i < n; i++) {
        cc_node_decref(nodes[i]);
    }
}

cc_node *
cc_rearrange_or_child(cc_node *child, const cc_rearrange_spec *spec, const char *name)
{
    if (cc_rearrange_spec_is_identity(spec)) {
        cc_node_incref(child);
        return child;
    }
    return cc_rearrange_new(child, spec, name);
}

cc_rearrange_spec *
cc_spec_new_canon(int n_in, const int *in_ints, int n_out, const int *out_ints, int n_sizes,
                  const int64_t *sizes)
{
    int in_lens[CC_MAX_NDIM], out_lens[CC_MAX_NDIM];
    uint8_t ins[CC_MAX_NDIM], outs[CC_MAX_NDIM];
    int a = 0, b = 0;
    for (int g = 0; g < n_in; g++) {
        in_lens[g] = in_ints[g] >= 0;
        if (in_ints[g] >= 0) {
            ins[a++] = (uint8_t)in_ints[g];
        }
    }
    for (int g = 0; g < n_out; g++) {
        out_lens[g] = out_ints[g] >= 0;
        if (out_ints[g] >= 0) {
            outs[b++] = (uint8_t)out_ints[g];
        }
    }
    cc_rearrange_spec *raw =
        cc_rearrange_spec_new(n_in, in_lens, ins, n_out, out_lens, outs, n_sizes, sizes);
    if (raw == NULL) {
        return NULL;
    }
    cc_rearrange_spec *s = cc_rearrange_spec_canonicalize(raw, 1);
    cc_rearrange_spec_free(raw);
    return s;
}

cc_node *
cc_make_broadcast(cc_node *node, int ndim, const int64_t *out_shape)
{
    int d = ndim - node->ndim, in_ints[CC_MAX_NDIM], out_ints[CC_MAX_NDIM];
    for (int i = 0; i < node->ndim; i++) {
        in_ints[i] = node->shape[i] == 1 ? -1 : i + d;
    }
    for (int i = 0; i < ndim; i++) {
        out_ints[i] = i;
    }
    cc_rearrange_spec *s = cc_spec_new_canon(node->ndim, in_ints, ndim, out_ints, ndim, out_shape);
    if (s == NULL) {
        return NULL;
    }
    cc_node *out = cc_rearrange_or_child(node, s, NULL);
    cc_rearrange_spec_free(s);
    return out;
}

int
cc_add_make_broadcasts_explicit(cc_node *add, cc_node **out)
{
    *out = NULL;
    int n = add->n_children, any = 0, rc = 0;
    cc_node **kids = cc_calloc((size_t)n + 1, sizeof(cc_node *));
    if (kids == NULL) {
        return -1;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        cc_node *c = add->children[i];
        if (same_shape(c, add->ndim, add->shape)) {
            cc_node_incref(c);
            kids[i] = c;
        } else {
            any = 1;
            kids[i] = cc_make_broadcast(c, add->ndim, add->shape);
            rc = kids[i] == NULL ? -1 : 0;
        }
    }
    if (rc == 0 && any) {
        *out = cc_add_new(n, kids, add->name);
        rc = *out == NULL ? -1 : 0;
    }
    decref_all(kids, n);
    cc_free(kids);
    return rc;
}

int
cc_add_collapse_scalar_inputs(cc_node *add, cc_node **out)
{
    *out = NULL;
    int n = add->n_children, n_scalars = 0, m = 0;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        if (add->children[i]->kind == CC_KIND_SCALAR) {
            n_scalars++;
            sum += add->children[i]->u.scalar.value;
        }
    }
    if (n_scalars <= 1) {
        return 0;
    }
    cc_node **kids = cc_malloc(((size_t)n + 1) * sizeof(cc_node *));
    if (kids == NULL) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (add->children[i]->kind != CC_KIND_SCALAR) {
            kids[m++] = add->children[i];
        }
    }
    cc_node *s = cc_scalar_new(sum, add->ndim, add->shape, NULL);
    if (s != NULL) {
        kids[m++] = s;
        *out = cc_add_new(m, kids, add->name);
        cc_node_decref(s);
    }
    cc_free(kids);
    return *out == NULL ? -1 : 0;
}

int
cc_add_outer_product_broadcasts_on_top(cc_node *add, cc_node **out)
{
    *out = NULL;
    int n = add->n_children, n_sets = 0, rc = 0;
    if (n == 0) {
        return 0;
    }
    // per operand: the Add axes it does not broadcast; per set: the union of its members'
    uint64_t *set_axes = cc_malloc((size_t)n * sizeof(uint64_t));
    int *set_of = cc_malloc((size_t)n * sizeof(int));
    cc_node **members = cc_malloc((size_t)n * sizeof(cc_node *));
    cc_node **groups = cc_calloc((size_t)n, sizeof(cc_node *));
    if (set_axes == NULL || set_of == NULL || members == NULL || groups == NULL) {
        rc = -1;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const cc_node *c = add->children[i];
        int d = add->ndim - c->ndim;
        uint64_t bm = 0;
        for (int k = 0; k < c->ndim; k++) {
            if (c->shape[k] != 1) {
                bm |= (uint64_t)1 << (k + d);
            }
        }
        set_of[i] = -1;
        for (int s = 0; s < n_sets; s++) {
            uint64_t both = bm & set_axes[s];
            if (both == bm || both == set_axes[s]) {
                set_of[i] = s;
                set_axes[s] |= bm;
                break;
            }
        }
        if (set_of[i] < 0) {
            set_of[i] = n_sets;
            set_axes[n_sets++] = bm;
        }
    }
    if (n_sets <= 1) {
        goto done;
    }
    for (int s = 0; s < n_sets && rc == 0; s++) {
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (set_of[i] == s) {
                members[m++] = add->children[i];
            }
        }
        groups[s] = cc_add_new(m, members, NULL);
        rc = groups[s] == NULL ? -1 : 0;
    }
    if (rc == 0) {
        *out = cc_add_new(n_sets, groups, NULL);
        rc = *out == NULL ? -1 : 0;
    }
done:
    if (groups != NULL) {
        decref_all(groups, n_sets);
    }
    cc_free(set_axes);
    cc_free(set_of);
    cc_free(members);
    cc_free(groups);
    return rc;
}

// Distinct operands of add by hash, in first-appearance order, with their counts. 0, or -1.
typedef struct {
    cc_hmap index; // hash -> distinct index + 1
    cc_node **nodes;
    int *counts;
    int n;
} counts_t;

static void
counts_clear(counts_t *c)
{
    cc_hmap_clear(&c->index);
    cc_free(c->nodes);
    cc_free(c->counts);
}

static int
counts_of(cc_node *add, int extra, counts_t *c)
{
    cc_hmap_init(&c->index);
    c->n = 0;
    c->nodes = cc_malloc(((size_t)add->n_children + (size_t)extra + 1) * sizeof(cc_node *));
    c->counts = cc_malloc(((size_t)add->n_children + (size_t)extra + 1) * sizeof(int));
    if (c->nodes == NULL || c->counts == NULL) {
        return -1;
    }
    for (int i = 0; i < add->n_children; i++) {
        cc_node *k = add->children[i];
        intptr_t d = (intptr_t)cc_hmap_get(&c->index, k->hash) - 1;
        if (d < 0) {
            d = c->n++;
            c->nodes[d] = k;
            c->counts[d] = 0;
            if (cc_hmap_put(&c->index, k->hash, (void *)(d + 1)) < 0) {
                return -1;
            }
        }
        c->counts[d]++;
    }
    return 0;
}

int
cc_extract_add(cc_node *add, cc_node *sub, cc_node **out)
{
    *out = NULL;
    counts_t c;
    int rc = counts_of(add, 1, &c);
    cc_node **kids = NULL;
    for (int i = 0; rc == 0 && i < sub->n_children; i++) {
        intptr_t d = (intptr_t)cc_hmap_get(&c.index, sub->children[i]->hash) - 1;
        if (d < 0 || c.counts[d] == 0) {
            goto done;
        }
        c.counts[d]--;
    }
    if (rc < 0) {
        goto done;
    }
    intptr_t d = (intptr_t)cc_hmap_get(&c.index, sub->hash) - 1;
    if (d < 0) {
        d = c.n++;
        c.nodes[d] = sub;
        c.counts[d] = 0;
    }
    c.counts[d]++;
    int total = 0;
    for (int k = 0; k < c.n; k++) {
        total += c.counts[k];
    }
    kids = cc_malloc(((size_t)total + 1) * sizeof(cc_node *));
    if (kids == NULL) {
        rc = -1;
        goto done;
    }
    int m = 0;
    for (int k = 0; k < c.n; k++) {
        for (int j = 0; j < c.counts[k]; j++) {
            kids[m++] = c.nodes[k];
        }
    }
    *out = cc_add_new(m, kids, add->name);
    rc = *out == NULL ? -1 : 0;
done:
    cc_free(kids);
    counts_clear(&c);
    return rc;
}

// An operand of add_fuse_scalar_multiples as (Einsum without () Scalar factors, factor).
typedef struct {
    cc_node *einsum; // owned
    double scalar;
    const char *scalar_name; // borrowed from add's subtree; NULL: none
    char *joined;            // owned when several named factors were joined
} fuse_term;

// rc's Einsum::identity: node with labels 0..ndim on both sides, unnamed.
static cc_node *
einsum_identity(cc_node *node)
{
    uint8_t labels[CC_MAX_NDIM];
    for (int k = 0; k < node->ndim; k++) {
        labels[k] = (uint8_t)k;
    }
    return cc_einsum_new(1, &node, labels, node->ndim, labels, NULL);
}

static int
fuse_split(cc_node *c, fuse_term *t, int *n_scalars)
{
    t->scalar = 1.0;
    t->scalar_name = NULL;
    t->joined = NULL;
    if (c->kind == CC_KIND_SCALAR && c->ndim == 0) {
        t->scalar = c->u.scalar.value;
        t->scalar_name = c->name;
        t->einsum = cc_einsum_new(0, NULL, NULL, 0, NULL, NULL);
        return t->einsum == NULL ? -1 : 0;
    }
    if (c->kind != CC_KIND_EINSUM) {
        t->einsum = einsum_identity(c);
        return t->einsum == NULL ? -1 : 0;
    }
    int n = c->n_children, m = 0, len = 0;
    cc_node **kids = cc_malloc(((size_t)n + 1) * sizeof(cc_node *));
    uint8_t *labels = cc_malloc((size_t)n * CC_MAX_NDIM + 1);
    if (kids == NULL || labels == NULL) {
        cc_free(kids);
        cc_free(labels);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        cc_node *k = c->children[i];
        if (k->kind == CC_KIND_SCALAR && k->ndim == 0) {
            t->scalar *= k->u.scalar.value;
            (*n_scalars)++;
            if (k->name != NULL) {
                if (t->scalar_name == NULL) {
                    t->scalar_name = k->name;
                } else {
                    char *j = cc_malloc(strlen(t->scalar_name) + strlen(k->name) + 4);
                    if (j == NULL) {
                        rc = -1;
                        break;
                    }
                    strcpy(j, t->scalar_name);
                    strcat(j, " + ");
                    strcat(j, k->name);
                    cc_free(t->joined);
                    t->joined = j;
                    t->scalar_name = j;
                }
            }
            continue;
        }
        memcpy(labels + len, cc_einsum_child_axes(c, i), (size_t)k->ndim);
        len += k->ndim;
        kids[m++] = k;
    }
    t->einsum =
        rc < 0 ? NULL : cc_einsum_new(m, kids, labels, c->ndim, c->u.einsum.out_axes, c->name);
    cc_free(kids);
    cc_free(labels);
    return t->einsum == NULL ? -1 : 0;
}

int
cc_add_fuse_scalar_multiples(cc_node *add, cc_node **out)
{
    *out = NULL;
    int n = add->n_children, any_einsum = 0, n_scalars = 0, rc = 0, made = 0;
    for (int i = 0; i < n; i++) {
        any_einsum |= add->children[i]->kind == CC_KIND_EINSUM;
    }
    if (!any_einsum) {
        return 0;
    }
    fuse_term *t = cc_calloc((size_t)n, sizeof(fuse_term));
    int *group = cc_malloc((size_t)n * sizeof(int));
    cc_node **kids = cc_calloc((size_t)n, sizeof(cc_node *));
    cc_hmap seen;
    cc_hmap_init(&seen);
    if (t == NULL || group == NULL || kids == NULL) {
        rc = -1;
        goto done;
    }
    for (made = 0; made < n; made++) {
        if (fuse_split(add->children[made], &t[made], &n_scalars) < 0) {
            cc_free(t[made].joined);
            rc = -1;
            goto done;
        }
    }
    if (n_scalars <= 1) {
        goto done;
    }
    // group[j]: the first term with j's Einsum; the factors of a group are summed there, the
    // first factor name kept
    int n_groups = 0;
    for (int j = 0; j < n; j++) {
        intptr_t g = (intptr_t)cc_hmap_get(&seen, t[j].einsum->hash) - 1;
        if (g < 0) {
            group[j] = j;
            n_groups++;
            if (cc_hmap_put(&seen, t[j].einsum->hash, (void *)(intptr_t)(j + 1)) < 0) {
                rc = -1;
                goto done;
            }
            continue;
        }
        group[j] = (int)g;
        t[g].scalar += t[j].scalar;
        if (t[g].scalar_name == NULL) {
            t[g].scalar_name = t[j].scalar_name;
        }
    }
    if (n_groups == n) {
        goto done;
    }
    int m = 0;
    for (int j = 0; j < n && rc == 0; j++) {
        if (group[j] != j) {
            continue;
        }
        cc_node *e = t[j].einsum;
        if (t[j].scalar == 1.0) {
            cc_node_incref(e);
            kids[m++] = e;
            continue;
        }
        cc_node *s = cc_scalar_new(t[j].scalar, 0, NULL,
                                   t[j].scalar_name != NULL ? t[j].scalar_name : CC_NO_NAME);
        cc_node **ops = cc_malloc(((size_t)e->n_children + 1) * sizeof(cc_node *));
        uint8_t *labels = cc_malloc((size_t)e->n_children * CC_MAX_NDIM + 1);
        int len = 0;
        if (s != NULL && ops != NULL && labels != NULL) {
            for (int i = 0; i < e->n_children; i++) {
                ops[i] = e->children[i];
                memcpy(labels + len, cc_einsum_child_axes(e, i), (size_t)e->children[i]->ndim);
                len += e->children[i]->ndim;
            }
            ops[e->n_children] = s;
            kids[m] = cc_einsum_new(e->n_children + 1, ops, labels, e->ndim, e->u.einsum.out_axes,
                                    e->name);
        }
        rc = kids[m] == NULL ? -1 : 0;
        m += rc == 0;
        cc_node_decref(s);
        cc_free(ops);
        cc_free(labels);
    }
    if (rc == 0) {
        *out = cc_add_new(m, kids, add->name);
        rc = *out == NULL ? -1 : 0;
    }
done:
    for (int j = 0; t != NULL && j < made; j++) {
        cc_node_decref(t[j].einsum);
        cc_free(t[j].joined);
    }
    for (int j = 0; kids != NULL && j < n; j++) {
        cc_node_decref(kids[j]);
    }
    cc_hmap_clear(&seen);
    cc_free(t);
    cc_free(group);
    cc_free(kids);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Removable axes

cc_node *
cc_remove_axes(cc_node *n, const uint8_t *mask, int *applies)
{
    *applies = 1;
    int any = 0;
    for (int k = 0; k < n->ndim; k++) {
        any |= mask[k];
    }
    if (!any) {
        cc_node_incref(n);
        return n;
    }
    char *name = NULL;
    if (n->name != NULL && (name = cc_simp_suffixed(n->name, "_rem_ax")) == NULL) {
        return NULL;
    }
    cc_node *out = NULL;
    if (n->kind == CC_KIND_SCALAR) {
        out = cc_scalar_drop_axes(n, mask, name);
        cc_free(name);
        return out;
    }
    cc_rearrange_spec *base = NULL;
    cc_node *child = n;
    if (n->kind == CC_KIND_REARRANGE) {
        child = n->children[0];
        base = cc_rearrange_spec_conform(n->u.rearrange.spec, child->ndim, child->shape);
    } else {
        for (int k = 0; k < n->ndim; k++) {
            if (mask[k] && n->shape[k] != 1) {
                *applies = 0;
                cc_free(name);
                return NULL;
            }
        }
        int ints[CC_MAX_NDIM];
        for (int k = 0; k < n->ndim; k++) {
            ints[k] = k;
        }
        base = cc_spec_new_canon(n->ndim, ints, n->ndim, ints, n->ndim, n->shape);
    }
    cc_rearrange_spec *canon = base == NULL ? NULL : cc_rearrange_spec_canonicalize(base, 1);
    cc_rearrange_spec *dropped =
        canon == NULL ? NULL : cc_rearrange_spec_drop_out_groups(canon, mask);
    if (dropped != NULL) {
        out = cc_rearrange_or_child(child, dropped, name);
    }
    cc_rearrange_spec_free(base);
    cc_rearrange_spec_free(canon);
    cc_rearrange_spec_free(dropped);
    cc_free(name);
    return out;
}

int
cc_add_pull_removable_axes(cc_node *add, int remove_non_common_axes, cc_node **out)
{
    *out = NULL;
    int n = add->n_children, r = add->ndim, any_non_one = 0, rc = 0;
    if (n == 0) {
        return 0;
    }
    // rem[i * CC_MAX_NDIM + k]: Add axis k is removable from operand i (or operand i lacks it)
    uint8_t *rem = cc_calloc((size_t)n * CC_MAX_NDIM, 1);
    cc_node **kids = cc_calloc((size_t)n, sizeof(cc_node *));
    if (rem == NULL || kids == NULL) {
        rc = -1;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        cc_node *c = add->children[i];
        int d = r - c->ndim;
        uint8_t mask[CC_MAX_NDIM];
        cc_removable_axes(c, mask);
        for (int k = 0; k < d; k++) {
            rem[i * CC_MAX_NDIM + k] = 1;
        }
        for (int j = 0; j < c->ndim; j++) {
            if (mask[j] || c->shape[j] != add->shape[j + d]) {
                rem[i * CC_MAX_NDIM + j + d] = 1;
                any_non_one |= c->shape[j] != 1;
            }
        }
    }
    uint8_t common[CC_MAX_NDIM];
    int n_common = 0;
    for (int k = 0; k < r; k++) {
        common[k] = 1;
        for (int i = 0; i < n; i++) {
            common[k] &= rem[i * CC_MAX_NDIM + k];
        }
        n_common += common[k];
    }
    if (remove_non_common_axes ? !any_non_one : n_common == 0) {
        goto done;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        cc_node *c = add->children[i];
        int d = r - c->ndim, applies;
        uint8_t mask[CC_MAX_NDIM];
        for (int j = 0; j < c->ndim; j++) {
            mask[j] = remove_non_common_axes ? rem[i * CC_MAX_NDIM + j + d] : common[j + d];
        }
        cc_node *removed = cc_remove_axes(c, mask, &applies);
        if (removed == NULL) {
            rc = applies ? -1
                         : cc_fail(CC_E_PY_RUNTIME,
                                   "add_pull_removable_axes: operand %d "
                                   "cannot lose its axes",
                                   i);
            break;
        }
        if (!remove_non_common_axes) {
            kids[i] = removed;
            continue;
        }
        // broadcast back: kept axes in order, an empty group for each removed axis after the
        // first kept one that the Add keeps
        int in_ints[CC_MAX_NDIM], out_ints[CC_MAX_NDIM], n_out = 0, count = 0, started = 0;
        for (int j = 0; j < c->ndim; j++) {
            if (mask[j]) {
                if (started && !common[j + d]) {
                    out_ints[n_out++] = -1;
                }
            } else {
                out_ints[n_out++] = count++;
                started = 1;
            }
        }
        for (int j = 0; j < removed->ndim; j++) {
            in_ints[j] = j;
        }
        cc_rearrange_spec *s = cc_spec_new_canon(removed->ndim, in_ints, n_out, out_ints,
                                                 removed->ndim, removed->shape);
        kids[i] = s == NULL ? NULL : cc_rearrange_or_child(removed, s, NULL);
        cc_rearrange_spec_free(s);
        cc_node_decref(removed);
        rc = kids[i] == NULL ? -1 : 0;
    }
    if (rc < 0) {
        goto done;
    }
    cc_node *inner = cc_add_new(n, kids, add->name);
    int in_ints[CC_MAX_NDIM], out_ints[CC_MAX_NDIM], n_in = 0;
    for (int k = 0; k < r; k++) {
        if (!common[k]) {
            in_ints[n_in++] = k;
        }
        out_ints[k] = k;
    }
    cc_rearrange_spec *post =
        inner == NULL ? NULL : cc_spec_new_canon(n_in, in_ints, r, out_ints, r, add->shape);
    if (post != NULL) {
        *out = cc_rearrange_or_child(inner, post, NULL);
    }
    rc = *out == NULL ? -1 : 0;
    cc_rearrange_spec_free(post);
    cc_node_decref(inner);
done:
    for (int i = 0; kids != NULL && i < n; i++) {
        cc_node_decref(kids[i]);
    }
    cc_free(rem);
    cc_free(kids);
    return rc;
}
