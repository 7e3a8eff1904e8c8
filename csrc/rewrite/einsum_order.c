// Contraction order of an Einsum's operands (einsum_order.h) and the nestings built from it.
// Label sets are 256-bit masks; the exact search tables every operand subset (at most 2^8),
// the greedy one keeps a list of held operands. Trees are emitted with an explicit stack.
#include "rewrite/einsum_order.h"

#include <string.h>

#include "expand/deep_map.h"
#include "rewrite/nest.h"
#include "util/alloc.h"
#include "util/error.h"

#define N_LABELS 256

typedef struct {
    uint64_t w[4];
} label_set;

static inline void
ls_add(label_set *s, uint8_t l)
{
    s->w[l >> 6] |= (uint64_t)1 << (l & 63);
}

static inline int
ls_has(const label_set *s, int l)
{
    return (int)((s->w[l >> 6] >> (l & 63)) & 1);
}

static inline label_set
ls_or(label_set a, label_set b)
{
    for (int i = 0; i < 4; i++) {
        a.w[i] |= b.w[i];
    }
    return a;
}

static inline label_set
ls_and(label_set a, label_set b)
{
    for (int i = 0; i < 4; i++) {
        a.w[i] &= b.w[i];
    }
    return a;
}

static double
ls_product(const label_set *s, const double *size)
{
    double p = 1;
    for (int i = 0; i < 4; i++) {
        uint64_t w = s->w[i];
        while (w != 0) {
            int b = __builtin_ctzll(w);
            p *= size[i * 64 + b];
            w &= w - 1;
        }
    }
    return p;
}

// ---------------------------------------------------------------------------------------------
// exact: dynamic programming over subsets

static int
order_dp(int n, const label_set *op, label_set outset, const double *size, int *pairs,
         double *cost_out)
{
    int all = (1 << n) - 1;
    label_set lab[1 << CC_EINSUM_ORDER_DP_MAX];
    label_set inter[1 << CC_EINSUM_ORDER_DP_MAX];
    double cost[1 << CC_EINSUM_ORDER_DP_MAX];
    int split[1 << CC_EINSUM_ORDER_DP_MAX];
    memset(&lab[0], 0, sizeof(label_set));
    for (int s = 1; s <= all; s++) {
        lab[s] = ls_or(lab[s & (s - 1)], op[__builtin_ctz((unsigned)s)]);
    }
    for (int s = 1; s <= all; s++) {
        inter[s] = ls_and(lab[s], ls_or(lab[all & ~s], outset));
        cost[s] = 0;
        split[s] = 0;
        if ((s & (s - 1)) == 0) {
            continue;
        }
        int low = s & -s;
        double best = -1;
        for (int a = (s - 1) & s; a > 0; a = (a - 1) & s) {
            if (!(a & low)) {
                continue;
            }
            int b = s ^ a;
            label_set u = ls_or(inter[a], inter[b]);
            double c = cost[a] + cost[b] + ls_product(&u, size);
            if (best < 0 || c < best) {
                best = c;
                split[s] = a;
            }
        }
        cost[s] = best;
    }
    // Post-order over the chosen tree: children's ids before their join.
    int id_of[1 << CC_EINSUM_ORDER_DP_MAX];
    int stack[4 * CC_EINSUM_ORDER_DP_MAX];
    int sp = 0, k = 0;
    stack[sp++] = all << 1;
    while (sp > 0) {
        int e = stack[--sp];
        int s = e >> 1;
        if ((s & (s - 1)) == 0) {
            id_of[s] = __builtin_ctz((unsigned)s);
            continue;
        }
        int a = split[s], b = s ^ a;
        if (!(e & 1)) {
            stack[sp++] = (s << 1) | 1;
            stack[sp++] = b << 1;
            stack[sp++] = a << 1;
            continue;
        }
        pairs[2 * k] = id_of[a];
        pairs[2 * k + 1] = id_of[b];
        id_of[s] = n + k;
        k++;
    }
    *cost_out = cost[all];
    return 0;
}

// ---------------------------------------------------------------------------------------------
// greedy

static int
order_greedy(int n, const label_set *op, const uint8_t *is_out, const double *size, int *pairs,
             double *cost_out)
{
    label_set *held = cc_malloc((size_t)n * sizeof(label_set));
    int *ids = cc_malloc((size_t)n * sizeof(int));
    int cnt[N_LABELS] = {0};
    if (held == NULL || ids == NULL) {
        cc_free(held);
        cc_free(ids);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        for (int l = 0; l < N_LABELS; l++) {
            cnt[l] += ls_has(&op[i], l);
        }
    }
    for (int i = 0; i < n; i++) {
        memset(&held[i], 0, sizeof(label_set));
        for (int l = 0; l < N_LABELS; l++) {
            if (ls_has(&op[i], l) && (is_out[l] || cnt[l] > 1)) {
                ls_add(&held[i], (uint8_t)l);
            }
        }
        ids[i] = i;
    }
    int m = n;
    double total = 0;
    for (int k = 0; m > 1; k++) {
        int bi = 0, bj = 1;
        double best_key = 0, best_flops = 0;
        label_set best_res = {{0}};
        for (int i = 0; i < m; i++) {
            double si = ls_product(&held[i], size);
            for (int j = i + 1; j < m; j++) {
                label_set u = ls_or(held[i], held[j]);
                label_set res = {{0}};
                for (int l = 0; l < N_LABELS; l++) {
                    if (ls_has(&u, l) &&
                        (is_out[l] || cnt[l] > ls_has(&held[i], l) + ls_has(&held[j], l))) {
                        ls_add(&res, (uint8_t)l);
                    }
                }
                double key = ls_product(&res, size) - si - ls_product(&held[j], size);
                double flops = ls_product(&u, size);
                if ((i == 0 && j == 1) || key < best_key ||
                    (key == best_key && flops < best_flops)) {
                    best_key = key;
                    best_flops = flops;
                    best_res = res;
                    bi = i;
                    bj = j;
                }
            }
        }
        for (int l = 0; l < N_LABELS; l++) {
            cnt[l] += ls_has(&best_res, l) - ls_has(&held[bi], l) - ls_has(&held[bj], l);
        }
        total += best_flops;
        pairs[2 * k] = ids[bi];
        pairs[2 * k + 1] = ids[bj];
        // Remove bj then bi (bj > bi), append the result.
        memmove(&held[bj], &held[bj + 1], (size_t)(m - bj - 1) * sizeof(label_set));
        memmove(&ids[bj], &ids[bj + 1], (size_t)(m - bj - 1) * sizeof(int));
        memmove(&held[bi], &held[bi + 1], (size_t)(m - bi - 2) * sizeof(label_set));
        memmove(&ids[bi], &ids[bi + 1], (size_t)(m - bi - 2) * sizeof(int));
        m -= 2;
        held[m] = best_res;
        ids[m] = n + k;
        m++;
    }
    cc_free(held);
    cc_free(ids);
    *cost_out = total;
    return 0;
}

int
cc_einsum_order(int n, const int *n_labels, const uint8_t *const *labels, int n_out,
                const uint8_t *out, const double *size, int *pairs, double *cost)
{
    *cost = 0;
    if (n < 2) {
        return 0;
    }
    label_set *op = cc_calloc((size_t)n, sizeof(label_set));
    if (op == NULL) {
        return -1;
    }
    label_set outset = {{0}};
    uint8_t is_out[N_LABELS] = {0};
    for (int i = 0; i < n_out; i++) {
        ls_add(&outset, out[i]);
        is_out[out[i]] = 1;
    }
    for (int i = 0; i < n; i++) {
        for (int a = 0; a < n_labels[i]; a++) {
            ls_add(&op[i], labels[i][a]);
        }
    }
    int rc = n <= CC_EINSUM_ORDER_DP_MAX ? order_dp(n, op, outset, size, pairs, cost)
                                         : order_greedy(n, op, is_out, size, pairs, cost);
    cc_free(op);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// nestings

cc_node *
cc_einsum_nest_path(cc_node *einsum, int n_steps, const int *step_len, const int *positions)
{
    if (einsum->kind != CC_KIND_EINSUM) {
        return cc_fail_null(CC_E_PY_TYPE, "einsum_nest_path: expected Einsum but got %s",
                            cc_kind_get_info(einsum->kind)->py_name);
    }
    int n = einsum->n_children;
    size_t total = 0;
    for (int k = 0; k < n_steps; k++) {
        total += (size_t)step_len[k];
    }
    int *stack = cc_malloc(((size_t)n + (size_t)n_steps + 1) * sizeof(int));
    int *members = cc_malloc((total + 1) * sizeof(int));
    int *pos = cc_malloc((total + 1) * sizeof(int));
    cc_nest_group *groups = cc_calloc((size_t)n_steps + 1, sizeof(cc_nest_group));
    cc_node *out = NULL;
    if (stack == NULL || members == NULL || pos == NULL || groups == NULL) {
        goto done;
    }
    int m = n;
    for (int i = 0; i < n; i++) {
        stack[i] = i;
    }
    size_t off = 0;
    for (int k = 0; k < n_steps; k++) {
        int len = step_len[k];
        int *p = pos + off;
        if (len > 0) {
            memcpy(p, positions + off, (size_t)len * sizeof(int));
        }
        // Positions largest first (insertion sort: steps are short).
        for (int i = 1; i < len; i++) {
            int v = p[i], j = i;
            while (j > 0 && p[j - 1] < v) {
                p[j] = p[j - 1];
                j--;
            }
            p[j] = v;
        }
        for (int i = 0; i < len; i++) {
            if (p[i] < 0 || p[i] >= m) {
                cc_fail(CC_E_PY_VALUE,
                        "einsum_nest_path: step %d names position %d, but %d operands are left", k,
                        p[i], m);
                goto done;
            }
            if (i > 0 && p[i] == p[i - 1]) {
                cc_fail(CC_E_PY_VALUE, "einsum_nest_path: step %d names position %d twice", k,
                        p[i]);
                goto done;
            }
        }
        for (int i = 0; i < len; i++) {
            members[off + (size_t)i] = stack[p[i]];
            memmove(&stack[p[i]], &stack[p[i] + 1], (size_t)(m - p[i] - 1) * sizeof(int));
            m--;
        }
        groups[k] = (cc_nest_group){.n_members = len, .members = members + off};
        stack[m++] = -1 - k;
        off += (size_t)len;
    }
    if (m != 1 || n_steps == 0) {
        cc_fail(CC_E_PY_VALUE,
                "einsum_nest_path: the path leaves %d operands (of %d) instead of one contracted "
                "result",
                m, n);
        goto done;
    }
    out = cc_einsum_nest_groups(einsum, n_steps, groups);
done:
    cc_free(stack);
    cc_free(members);
    cc_free(pos);
    cc_free(groups);
    return out;
}

cc_node *
cc_einsum_nest_optimize(cc_node *einsum)
{
    if (einsum->kind != CC_KIND_EINSUM) {
        return cc_fail_null(CC_E_PY_TYPE, "einsum_nest_optimize: expected Einsum but got %s",
                            cc_kind_get_info(einsum->kind)->py_name);
    }
    int n = einsum->n_children;
    if (n < 3) {
        cc_node_incref(einsum);
        return einsum;
    }
    double size[N_LABELS] = {0};
    int *n_labels = cc_malloc((size_t)n * sizeof(int));
    const uint8_t **labels = cc_malloc((size_t)n * sizeof(uint8_t *));
    int *pairs = cc_malloc((size_t)(2 * n) * sizeof(int));
    cc_nest_group *groups = cc_calloc((size_t)n, sizeof(cc_nest_group));
    int *members = cc_malloc((size_t)(2 * n) * sizeof(int));
    cc_node *out = NULL;
    if (n_labels == NULL || labels == NULL || pairs == NULL || groups == NULL || members == NULL) {
        goto done;
    }
    for (int i = 0; i < n; i++) {
        n_labels[i] = einsum->children[i]->ndim;
        labels[i] = cc_einsum_child_axes(einsum, i);
        for (int a = 0; a < n_labels[i]; a++) {
            size[labels[i][a]] = (double)einsum->children[i]->shape[a];
        }
    }
    double cost;
    if (cc_einsum_order(n, n_labels, labels, einsum->ndim, einsum->u.einsum.out_axes, size, pairs,
                        &cost) < 0) {
        goto done;
    }
    for (int k = 0; k < n - 1; k++) {
        for (int s = 0; s < 2; s++) {
            int id = pairs[2 * k + s];
            members[2 * k + s] = id < n ? id : -1 - (id - n);
        }
        groups[k] = (cc_nest_group){.n_members = 2, .members = members + 2 * k};
    }
    out = cc_einsum_nest_groups(einsum, n - 1, groups);
done:
    cc_free(n_labels);
    cc_free(labels);
    cc_free(pairs);
    cc_free(groups);
    cc_free(members);
    return out;
}

static cc_node *
optimize_post(void *ctx, cc_node *node, cc_node *const *kids, int changed)
{
    (void)ctx;
    cc_node *r = cc_deep_map_rebuild(node, kids, changed);
    if (r == NULL || r->kind != CC_KIND_EINSUM || r->n_children < 3) {
        return r;
    }
    cc_node *out = cc_einsum_nest_optimize(r);
    cc_node_decref(r);
    return out;
}

cc_node *
cc_deep_optimize_einsums(cc_node *root)
{
    return cc_deep_map(root, NULL, optimize_post, NULL);
}
