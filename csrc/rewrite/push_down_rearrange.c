// The Rearrange step of push_down_index: rc's canonical RearrangeSpec, and the rewrite of
// Index(Rearrange(x)) into Rearrange'(Index'(x)) when the index acts on whole input axes.
#include <string.h>

#include "rewrite/rewrite_impl.h"
#include "util/alloc.h"
#include "util/error.h"

#define N_INTS 256

typedef struct {
    int n;         // number of closed groups
    int len;       // ints written so far
    int *start;    // n + 1 offsets into ints
    uint8_t *ints; // all ints, group after group
} groups;

static void
groups_free(groups *g)
{
    cc_free(g->start);
    cc_free(g->ints);
    g->start = NULL;
    g->ints = NULL;
}

// Room for n groups holding at most n_ints ints. 0, or -1 with CC_E_NO_MEMORY.
static int
groups_alloc(groups *g, int n, int n_ints)
{
    g->n = 0;
    g->len = 0;
    g->start = cc_malloc(((size_t)n + 1) * sizeof(int));
    g->ints = cc_malloc((size_t)n_ints + 1);
    if (g->start == NULL || g->ints == NULL) {
        groups_free(g);
        return -1;
    }
    g->start[0] = 0;
    return 0;
}

static void
groups_close(groups *g)
{
    g->start[++g->n] = g->len;
}

static void
groups_push(groups *g, uint8_t i)
{
    g->ints[g->len++] = i;
}

// A spec from two sides of groups (lengths derived from the offsets).
static cc_rearrange_spec *
spec_from_groups(const groups *in, const groups *out, int n_sizes, const int64_t *sizes)
{
    int *lens = cc_malloc(((size_t)in->n + (size_t)out->n + 1) * sizeof(int));
    if (lens == NULL) {
        return NULL;
    }
    for (int g = 0; g < in->n; g++) {
        lens[g] = in->start[g + 1] - in->start[g];
    }
    for (int g = 0; g < out->n; g++) {
        lens[in->n + g] = out->start[g + 1] - out->start[g];
    }
    cc_rearrange_spec *s = cc_rearrange_spec_new(in->n, lens, in->ints, out->n, lens + in->n,
                                                 out->ints, n_sizes, sizes);
    cc_free(lens);
    return s;
}

int
cc_rearrange_spec_is_identity(const cc_rearrange_spec *s)
{
    if (s->n_in != s->n_out) {
        return 0;
    }
    for (int g = 0; g <= s->n_in; g++) {
        if (s->in_start[g] != s->out_start[g]) {
            return 0;
        }
    }
    return s->in_start[s->n_in] == 0 ||
           memcmp(s->in_ints, s->out_ints, (size_t)s->in_start[s->n_in]) == 0;
}

// Ints of group g of one side of s, without the size-1 ints when drop_ones.
static int
side_group(const cc_rearrange_spec *s, int side, int g, int drop_ones, uint8_t *out)
{
    const int *start = side == 0 ? s->in_start : s->out_start;
    const uint8_t *ints = side == 0 ? s->in_ints : s->out_ints;
    int n = 0;
    for (int k = start[g]; k < start[g + 1]; k++) {
        if (!(drop_ones && s->sizes[ints[k]] == 1)) {
            out[n++] = ints[k];
        }
    }
    return n;
}

cc_rearrange_spec *
cc_rearrange_spec_canonicalize(const cc_rearrange_spec *s, int special_case_ones)
{
    // An int is merged into its predecessor when, everywhere either appears, the two are
    // adjacent in that order (and both have a size or neither has): such runs act as one axis.
    enum { UNSET = -2, NONE = -1 };
    int pred[N_INTS], succ[N_INTS];
    for (int i = 0; i < N_INTS; i++) {
        pred[i] = UNSET;
        succ[i] = UNSET;
    }
    uint8_t buf[N_INTS];
    for (int side = 0; side < 2; side++) {
        int n_groups = side == 0 ? s->n_in : s->n_out;
        for (int g = 0; g < n_groups; g++) {
            int n = side_group(s, side, g, special_case_ones, buf);
            for (int k = 0; k < n; k++) {
                int p = k > 0 ? buf[k - 1] : NONE;
                int c = k + 1 < n ? buf[k + 1] : NONE;
                int i = buf[k];
                pred[i] = pred[i] == UNSET || pred[i] == p ? p : NONE;
                succ[i] = succ[i] == UNSET || succ[i] == c ? c : NONE;
            }
        }
    }
    uint8_t merged[N_INTS] = {0};
    for (int i = 0; i < N_INTS; i++) {
        int p = pred[i];
        if (p >= 0 && succ[p] == i &&
            (s->sizes[p] == CC_REARRANGE_SIZE_NONE) == (s->sizes[i] == CC_REARRANGE_SIZE_NONE)) {
            merged[i] = 1;
        }
    }
    int map[N_INTS];
    int64_t sizes[N_INTS];
    uint8_t accounted[N_INTS] = {0};
    for (int i = 0; i < N_INTS; i++) {
        map[i] = -1;
    }
    int n_new = 0;
    groups side[2] = {{0}, {0}};
    int total = s->in_start[s->n_in] > s->out_start[s->n_out] ? s->in_start[s->n_in]
                                                              : s->out_start[s->n_out];
    if (groups_alloc(&side[0], s->n_in, total) < 0 || groups_alloc(&side[1], s->n_out, total) < 0) {
        groups_free(&side[0]);
        return NULL;
    }
    for (int sd = 0; sd < 2; sd++) {
        int n_groups = sd == 0 ? s->n_in : s->n_out;
        for (int g = 0; g < n_groups; g++) {
            int n = side_group(s, sd, g, special_case_ones, buf);
            for (int k = 0; k < n; k++) {
                int i = buf[k];
                if (map[i] >= 0) {
                    groups_push(&side[sd], (uint8_t)map[i]);
                } else if (!merged[i]) {
                    map[i] = n_new;
                    sizes[n_new++] = s->sizes[i];
                    groups_push(&side[sd], (uint8_t)map[i]);
                } else if (!accounted[i]) {
                    int head = i;
                    while (merged[head]) {
                        head = pred[head];
                    }
                    if (s->sizes[i] != CC_REARRANGE_SIZE_NONE) {
                        sizes[map[head]] *= s->sizes[i];
                    }
                    accounted[i] = 1;
                }
            }
            groups_close(&side[sd]);
        }
    }
    cc_rearrange_spec *out = spec_from_groups(&side[0], &side[1], n_new, sizes);
    groups_free(&side[0]);
    groups_free(&side[1]);
    return out;
}

// The entry for input axis group ints (n ints, with entries map[] and sizes) on the merged
// axis: an int when every part is one, else the positions of the outer product in row-major
// order, as a slice when they step by one.
static int
join_entries(const uint8_t *ints, int n, const cc_index_item *map, const int64_t *sizes,
             cc_index_item *out)
{
    int64_t stride[N_INTS], count[N_INTS];
    int64_t acc = 1, total = 1, base = 0;
    int all_ints = 1;
    for (int k = n - 1; k >= 0; k--) {
        stride[k] = acc;
        acc *= sizes[ints[k]];
    }
    for (int k = 0; k < n; k++) {
        const cc_index_item *it = &map[ints[k]];
        if (it->kind == CC_INDEX_INT) {
            count[k] = 1;
            base += it->i * stride[k];
        } else {
            all_ints = 0;
            count[k] = cc_item_axis_len(it, sizes[ints[k]]);
            total *= count[k];
        }
    }
    if (all_ints) {
        *out = cc_item_int(base);
        return 0;
    }
    int64_t *pos = cc_malloc(((size_t)total + 1) * sizeof(int64_t));
    if (pos == NULL) {
        return -1;
    }
    int64_t digit[N_INTS] = {0};
    for (int64_t p = 0; p < total; p++) {
        int64_t v = base;
        for (int k = 0; k < n; k++) {
            const cc_index_item *it = &map[ints[k]];
            int64_t l = sizes[ints[k]];
            if (it->kind == CC_INDEX_SLICE) {
                int64_t start, stop;
                cc_item_uslice(it, l, &start, &stop);
                v += (start + digit[k]) * stride[k];
            } else if (it->kind == CC_INDEX_TENSOR) {
                int64_t t = cc_item_tensor_at(&it->tensor->value, digit[k]);
                v += (t < 0 ? t + l : t) * stride[k];
            }
        }
        pos[p] = v;
        for (int k = n - 1; k >= 0; k--) {
            if (++digit[k] < count[k]) {
                break;
            }
            digit[k] = 0;
        }
    }
    int rc = cc_item_from_positions(pos, total, out);
    cc_free(pos);
    return rc;
}

int
cc_rearrange_index_before(const cc_node *r, const cc_index_item *items, cc_index_item **pre,
                          cc_rearrange_spec **spec)
{
    *pre = NULL;
    *spec = NULL;
    const cc_node *x = r->children[0];
    cc_rearrange_spec *conformed =
        cc_rearrange_spec_conform(r->u.rearrange.spec, x->ndim, x->shape);
    if (conformed == NULL) {
        return -1;
    }
    cc_rearrange_spec *s = cc_rearrange_spec_canonicalize(conformed, 1);
    cc_rearrange_spec_free(conformed);
    if (s == NULL) {
        return -1;
    }
    int status = -1;
    groups in = {0}, out = {0};
    cc_index_item canon[CC_MAX_NDIM];
    cc_index_item map[N_INTS];
    uint8_t have[N_INTS] = {0};
    int n_canon = 0;
    int64_t sizes[N_INTS];
    cc_index_item *below = cc_calloc((size_t)s->n_in + 1, sizeof(cc_index_item));
    if (below == NULL) {
        goto done;
    }
    for (; n_canon < r->ndim; n_canon++) {
        cc_item_canonicalize(&items[n_canon], r->shape[n_canon], &canon[n_canon]);
    }
    // Entries per int from the output side: a whole group, an int split into its digits, or
    // a full slice spread over the group's ints; anything else cannot go below.
    for (int g = 0; g < s->n_out; g++) {
        const uint8_t *ints = s->out_ints + s->out_start[g];
        int n = s->out_start[g + 1] - s->out_start[g];
        const cc_index_item *it = &canon[g];
        if (n == 1) {
            cc_index_item_share(&map[ints[0]], it);
            have[ints[0]] = 1;
        } else if (it->kind == CC_INDEX_INT) {
            int64_t rest = it->i;
            for (int k = n - 1; k >= 0; k--) {
                int64_t size = s->sizes[ints[k]];
                map[ints[k]] = cc_item_int(size > 0 ? rest % size : 0);
                have[ints[k]] = 1;
                rest = size > 0 ? rest / size : 0;
            }
        } else if (cc_item_is_identity(it, r->shape[g])) {
            for (int k = 0; k < n; k++) {
                map[ints[k]] = cc_item_full();
                have[ints[k]] = 1;
            }
        } else {
            status = 1;
            goto done;
        }
    }
    for (int g = 0; g < s->n_in; g++) {
        const uint8_t *ints = s->in_ints + s->in_start[g];
        int n = s->in_start[g + 1] - s->in_start[g];
        if (n == 0) {
            below[g] = cc_item_int(0);
        } else if (n == 1) {
            cc_index_item_share(&below[g], &map[ints[0]]);
        } else if (join_entries(ints, n, map, s->sizes, &below[g]) < 0) {
            goto done;
        }
    }
    for (int i = 0; i < s->n_sizes; i++) {
        sizes[i] = have[i] ? cc_item_axis_len(&map[i], s->sizes[i]) : s->sizes[i];
    }
    int total = s->in_start[s->n_in] > s->out_start[s->n_out] ? s->in_start[s->n_in]
                                                              : s->out_start[s->n_out];
    if (groups_alloc(&in, s->n_in, total) < 0 || groups_alloc(&out, s->n_out, total) < 0) {
        goto done;
    }
    for (int g = 0; g < s->n_in; g++) {
        int kept = 0;
        for (int k = s->in_start[g]; k < s->in_start[g + 1]; k++) {
            if (map[s->in_ints[k]].kind != CC_INDEX_INT) {
                groups_push(&in, s->in_ints[k]);
                kept++;
            }
        }
        if (kept > 0) {
            groups_close(&in);
        }
    }
    for (int g = 0; g < s->n_out; g++) {
        if (canon[g].kind == CC_INDEX_INT) {
            continue;
        }
        for (int k = s->out_start[g]; k < s->out_start[g + 1]; k++) {
            if (map[s->out_ints[k]].kind != CC_INDEX_INT) {
                groups_push(&out, s->out_ints[k]);
            }
        }
        groups_close(&out);
    }
    *spec = spec_from_groups(&in, &out, s->n_sizes, sizes);
    if (*spec != NULL) {
        *pre = below;
        below = NULL;
        status = 0;
    }
done:
    for (int i = 0; i < N_INTS; i++) {
        if (have[i]) {
            cc_index_item_clear(&map[i]);
        }
    }
    for (int k = 0; k < n_canon; k++) {
        cc_index_item_clear(&canon[k]);
    }
    cc_index_items_free(below, s->n_in);
    groups_free(&in);
    groups_free(&out);
    cc_rearrange_spec_free(s);
    return status;
}
