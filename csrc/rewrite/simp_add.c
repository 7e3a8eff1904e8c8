// simp's Add rewrites (rc's remove_add_few_input, add_elim_zeros, add_deduplicate,
// add_elim_removable_axes_weak) and the removable-axes helpers they share with Einsum.
// add_deduplicate lists its operands in the iteration order of rc's hash map (below).
#include <stdint.h>
#include <string.h>

#include "nodes/rearrange.h"
#include "rewrite/rewrite_impl.h"
#include "rewrite/catalogue.h"
#include "rewrite/simp.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"

int
cc_remove_add_few_input(cc_node *add, cc_node **out)
{
    *out = NULL;
    if (add->n_children == 0) {
        *out = cc_scalar_new(0.0, add->ndim, add->shape, add->name);
        return *out == NULL ? -1 : 0;
    }
    if (add->n_children == 1) {
        *out = add->children[0];
        cc_node_incref(*out);
    }
    return 0;
}

static int
is_scalar_of(const cc_node *n, double v)
{
    return n->kind == CC_KIND_SCALAR && n->u.scalar.value == v;
}

int
cc_add_elim_zeros(cc_node *add, cc_node **out)
{
    *out = NULL;
    int n = 0;
    cc_node **kept = cc_malloc(((size_t)add->n_children + 1) * sizeof(cc_node *));
    if (kept == NULL) {
        return -1;
    }
    for (int i = 0; i < add->n_children; i++) {
        if (!is_scalar_of(add->children[i], 0.0)) {
            kept[n++] = add->children[i];
        }
    }
    int rc = 0;
    if (n < add->n_children) {
        cc_node *r = cc_add_new(n, kept, add->name);
        if (r == NULL) {
            rc = -1;
        } else if (r->ndim == add->ndim &&
                   memcmp(r->shape, add->shape, (size_t)add->ndim * sizeof(int64_t)) == 0) {
            *out = r;
        } else {
            // the zeros broadcast the sum to its shape: they stay
            cc_node_decref(r);
        }
    }
    cc_free(kept);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// rc's add_deduplicate collects the operands in a Rust HashMap keyed by node hash (FxHasher
// over the 32 bytes, in a SwissTable of 16-byte groups) and lists them in its iteration order:
// ascending bucket index. The table is simulated: where each key lands, given the insertion
// order of first appearances and the table's growth.

#define GROUP_WIDTH 16

static uint64_t
fx_add(uint64_t h, uint64_t w)
{
    return (((h << 5) | (h >> 59)) ^ w) * 0x517cc1b727220a95ULL;
}

// FxHasher of a [u8; 32]: the length as a usize, then four little-endian words.
static uint64_t
fx_hash32(const uint8_t *key)
{
    uint64_t h = fx_add(0, 32);
    for (int k = 0; k < 4; k++) {
        uint64_t w = 0;
        for (int b = 7; b >= 0; b--) {
            w = (w << 8) | key[8 * k + b];
        }
        h = fx_add(h, w);
    }
    return h;
}

typedef struct {
    size_t buckets; // a power of two, or 0 before the first insertion
    uint8_t *full;  // buckets + GROUP_WIDTH control flags (the tail mirrors the head)
    int *slot;      // the key in each bucket, -1 when empty
    size_t growth_left;
} swiss;

static size_t
capacity_of(size_t buckets)
{
    return buckets < 8 ? (buckets == 0 ? 0 : buckets - 1) : buckets / 8 * 7;
}

static size_t
buckets_for(size_t cap)
{
    if (cap < 8) {
        return cap < 4 ? 4 : 8;
    }
    size_t adjusted = cap * 8 / 7, b = 1;
    while (b < adjusted) {
        b <<= 1;
    }
    return b;
}

static size_t
find_insert_slot(const swiss *t, uint64_t hash)
{
    size_t mask = t->buckets - 1, pos = (size_t)hash & mask, stride = 0;
    for (;;) {
        for (size_t b = 0; b < GROUP_WIDTH; b++) {
            if (!t->full[pos + b]) {
                size_t r = (pos + b) & mask;
                if (!t->full[r]) {
                    return r;
                }
                // a small table's padding looked empty: the first free bucket from the start
                for (size_t k = 0;; k++) {
                    if (!t->full[k]) {
                        return k;
                    }
                }
            }
        }
        stride += GROUP_WIDTH;
        pos = (pos + stride) & mask;
    }
}

static void
set_full(swiss *t, size_t i, int key)
{
    t->full[i] = 1;
    t->full[((i - GROUP_WIDTH) & (t->buckets - 1)) + GROUP_WIDTH] = 1;
    t->slot[i] = key;
}

static int
swiss_resize(swiss *t, size_t cap, const uint64_t *hashes)
{
    swiss n = {.buckets = buckets_for(cap)};
    n.full = cc_calloc(n.buckets + GROUP_WIDTH, 1);
    n.slot = cc_malloc(n.buckets * sizeof(int));
    if (n.full == NULL || n.slot == NULL) {
        cc_free(n.full);
        cc_free(n.slot);
        return -1;
    }
    size_t items = 0;
    for (size_t i = 0; i < n.buckets; i++) {
        n.slot[i] = -1;
    }
    for (size_t i = 0; i < t->buckets; i++) {
        if (t->slot[i] >= 0) {
            set_full(&n, find_insert_slot(&n, hashes[t->slot[i]]), t->slot[i]);
            items++;
        }
    }
    n.growth_left = capacity_of(n.buckets) - items;
    cc_free(t->full);
    cc_free(t->slot);
    *t = n;
    return 0;
}

// order[0..n) receives the keys 0..n-1 (inserted in that order, hashes given) in the table's
// iteration order. 0, or -1 with CC_E_NO_MEMORY.
static int
swiss_order(int n, const uint64_t *hashes, int *order)
{
    swiss t = {0};
    int rc = 0;
    for (int k = 0; k < n && rc == 0; k++) {
        if (t.growth_left == 0) {
            size_t items = (size_t)k, full_cap = capacity_of(t.buckets);
            rc = swiss_resize(&t, items + 1 > full_cap + 1 ? items + 1 : full_cap + 1, hashes);
            if (rc < 0) {
                break;
            }
        }
        set_full(&t, find_insert_slot(&t, hashes[k]), k);
        t.growth_left--;
    }
    int m = 0;
    for (size_t i = 0; rc == 0 && i < t.buckets; i++) {
        if (t.slot[i] >= 0) {
            order[m++] = t.slot[i];
        }
    }
    cc_free(t.full);
    cc_free(t.slot);
    return rc;
}

// rc's Einsum.scalar_mul: node times a () Scalar, node's labels kept.
static cc_node *
scalar_mul(cc_node *node, double v, const char *name, const char *scalar_name)
{
    cc_node *s = cc_scalar_new(v, 0, NULL, scalar_name);
    if (s == NULL) {
        return NULL;
    }
    uint8_t labels[CC_MAX_NDIM];
    for (int k = 0; k < node->ndim; k++) {
        labels[k] = (uint8_t)k;
    }
    cc_node *ops[2] = {node, s};
    cc_node *out = cc_einsum_new(2, ops, labels, node->ndim, labels, name);
    cc_node_decref(s);
    return out;
}

int
cc_add_deduplicate(cc_node *add, cc_node **out)
{
    *out = NULL;
    int n = add->n_children;
    // distinct[d]: the first operand of each distinct hash, in order; count[d]: how many;
    // order: the distinct indices in rc's iteration order
    int *ints = cc_malloc(((size_t)n * 3 + 1) * sizeof(int));
    uint64_t *hashes = cc_malloc(((size_t)n + 1) * sizeof(uint64_t));
    cc_node **ops = cc_malloc(((size_t)n + 1) * sizeof(cc_node *));
    if (ints == NULL || hashes == NULL || ops == NULL) {
        cc_free(ints);
        cc_free(hashes);
        cc_free(ops);
        return -1;
    }
    int *distinct = ints, *count = ints + n, *order = ints + 2 * n;
    int n_distinct = 0, rc = 0, n_ops = 0;
    cc_hmap seen; // node hash -> its distinct index + 1
    cc_hmap_init(&seen);
    for (int i = 0; i < n && rc == 0; i++) {
        intptr_t d = (intptr_t)cc_hmap_get(&seen, add->children[i]->hash) - 1;
        if (d < 0) {
            d = n_distinct++;
            distinct[d] = i;
            count[d] = 0;
            hashes[d] = fx_hash32(add->children[i]->hash);
            rc = cc_hmap_put(&seen, add->children[i]->hash, (void *)(d + 1));
        }
        count[d]++;
    }
    cc_hmap_clear(&seen);
    if (rc < 0 || n_distinct == n) {
        goto done;
    }
    rc = swiss_order(n_distinct, hashes, order);
    for (int k = 0; rc == 0 && k < n_distinct; k++) {
        int d = order[k];
        cc_node *node = add->children[distinct[d]];
        if (count[d] == 1) {
            cc_node_incref(node);
            ops[n_ops++] = node;
            continue;
        }
        char *name = NULL;
        if (node->name != NULL && (name = cc_simp_suffixed(node->name, "_mul_count")) == NULL) {
            rc = -1;
            break;
        }
        ops[n_ops] = scalar_mul(node, (double)count[d], name,
                                node->name != NULL ? "count_from_dedup" : NULL);
        cc_free(name);
        if (ops[n_ops] == NULL) {
            rc = -1;
            break;
        }
        n_ops++;
    }
    if (rc == 0) {
        *out = cc_add_new(n_ops, ops, add->name);
        rc = *out == NULL ? -1 : 0;
    }
    for (int k = 0; k < n_ops; k++) {
        cc_node_decref(ops[k]);
    }
done:
    cc_free(ints);
    cc_free(hashes);
    cc_free(ops);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Removable axes

void
cc_removable_axes(const cc_node *n, uint8_t *mask)
{
    memset(mask, 0, (size_t)n->ndim);
    if (n->kind == CC_KIND_SCALAR) {
        memset(mask, 1, (size_t)n->ndim);
    } else if (n->kind == CC_KIND_REARRANGE) {
        const cc_rearrange_spec *s = n->u.rearrange.spec;
        uint8_t in_input[256] = {0};
        for (int k = 0; k < s->in_start[s->n_in]; k++) {
            in_input[s->in_ints[k]] = 1;
        }
        for (int g = 0; g < s->n_out && g < n->ndim; g++) {
            mask[g] = 1;
            for (int k = s->out_start[g]; k < s->out_start[g + 1]; k++) {
                if (in_input[s->out_ints[k]]) {
                    mask[g] = 0;
                }
            }
        }
    }
}

cc_rearrange_spec *
cc_rearrange_spec_drop_out_groups(const cc_rearrange_spec *s, const uint8_t *drop)
{
    int in_lens[CC_MAX_NDIM], out_lens[CC_MAX_NDIM], n_out = 0, len = 0;
    uint8_t out_ints[256];
    for (int g = 0; g < s->n_in; g++) {
        in_lens[g] = s->in_start[g + 1] - s->in_start[g];
    }
    for (int g = 0; g < s->n_out; g++) {
        if (drop[g]) {
            continue;
        }
        out_lens[n_out++] = s->out_start[g + 1] - s->out_start[g];
        for (int k = s->out_start[g]; k < s->out_start[g + 1]; k++) {
            out_ints[len++] = s->out_ints[k];
        }
    }
    return cc_rearrange_spec_new(s->n_in, in_lens, s->in_ints, n_out, out_lens, out_ints,
                                 s->n_sizes, s->sizes);
}

cc_node *
cc_scalar_drop_axes(const cc_node *scalar, const uint8_t *mask, const char *name)
{
    int64_t shape[CC_MAX_NDIM];
    int r = 0;
    for (int k = 0; k < scalar->ndim; k++) {
        if (!mask[k]) {
            shape[r++] = scalar->shape[k];
        }
    }
    return cc_scalar_new(scalar->u.scalar.value, r, shape, name);
}

cc_node *
cc_remove_axes_weak(cc_node *n, const uint8_t *mask)
{
    char *name = NULL;
    if (n->name != NULL && (name = cc_simp_suffixed(n->name, "_rem_ax")) == NULL) {
        return NULL;
    }
    cc_node *out = NULL;
    if (n->kind == CC_KIND_SCALAR) {
        out = cc_scalar_drop_axes(n, mask, name);
    } else {
        // a Rearrange: its output groups for the flagged axes dropped, the spec otherwise as is
        cc_rearrange_spec *spec = cc_rearrange_spec_drop_out_groups(n->u.rearrange.spec, mask);
        if (spec != NULL) {
            out = cc_rearrange_or_child(n->children[0], spec, name);
            cc_rearrange_spec_free(spec);
        }
    }
    cc_free(name);
    return out;
}

int
cc_add_elim_removable_axes_weak(cc_node *add, cc_node **out)
{
    *out = NULL;
    int r = add->ndim, n = add->n_children;
    // per output axis: inputs reaching it, and the removable ones (scalars and others)
    int reach[CC_MAX_NDIM] = {0}, rem_scalar[CC_MAX_NDIM] = {0}, rem_other[CC_MAX_NDIM] = {0};
    uint8_t *rem = cc_calloc((size_t)n * CC_MAX_NDIM + 1, 1);
    cc_node **kids = cc_calloc((size_t)n + 1, sizeof(cc_node *));
    if (rem == NULL || kids == NULL) {
        cc_free(rem);
        cc_free(kids);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        cc_node *c = add->children[i];
        int d = r - c->ndim;
        uint8_t mask[CC_MAX_NDIM];
        cc_removable_axes(c, mask);
        for (int j = 0; j < c->ndim; j++) {
            if (add->shape[j + d] != c->shape[j]) {
                continue;
            }
            reach[j + d]++;
            if (mask[j]) {
                rem[i * CC_MAX_NDIM + j + d] = 1;
                (c->kind == CC_KIND_SCALAR ? rem_scalar : rem_other)[j + d]++;
            }
        }
    }
    // an axis every reaching input could lose keeps it in all (when all are alike) or drops it
    // from the scalars only
    uint8_t keep_axis[CC_MAX_NDIM] = {0}, scalars_only[CC_MAX_NDIM] = {0};
    int any = 0;
    for (int k = 0; k < r; k++) {
        int nrem = rem_scalar[k] + rem_other[k];
        if (nrem > 0 && nrem == reach[k]) {
            if (rem_scalar[k] == 0 || rem_other[k] == 0) {
                keep_axis[k] = 1;
            } else {
                scalars_only[k] = 1;
            }
        }
        any |= nrem > 0 && !keep_axis[k];
    }
    int rc = 0;
    if (!any) {
        goto done;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        cc_node *c = add->children[i];
        int d = r - c->ndim;
        uint8_t mask[CC_MAX_NDIM] = {0};
        // only a leading run of axes goes: the rest must keep broadcasting in place
        int lead = 1, count = 0;
        for (int j = 0; j < c->ndim; j++) {
            int k = j + d;
            int drop = rem[i * CC_MAX_NDIM + k] && !keep_axis[k] &&
                       (!scalars_only[k] || c->kind == CC_KIND_SCALAR);
            lead = lead && drop;
            mask[j] = (uint8_t)(lead && drop);
            count += mask[j];
        }
        if (count == 0) {
            kids[i] = c;
            cc_node_incref(c);
        } else if ((kids[i] = cc_remove_axes_weak(c, mask)) == NULL) {
            rc = -1;
        }
    }
    if (rc == 0) {
        cc_node *res = cc_add_new(n, kids, add->name);
        if (res == NULL) {
            rc = -1;
        } else if (memcmp(res->hash, add->hash, 32) == 0) {
            cc_node_decref(res);
        } else {
            *out = res;
        }
    }
done:
    for (int i = 0; i < n; i++) {
        cc_node_decref(kids[i]);
    }
    cc_free(rem);
    cc_free(kids);
    return rc;
}
