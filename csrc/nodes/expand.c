// Expansion (rc's expand_node.rs): a node re-derived over children that gained leading batch
// axes or changed symbolic sizes, per kind; and the replace-and-expand walk (rc's
// ReplaceExpander with a replacement map), memoised per map. The walk is an explicit stack;
// only a Module whose symbols must grow re-enters it for its body (depth = module nesting).
#include "nodes/expand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/gf.h"
#include "nodes/module.h"
#include "nodes/node_impl.h"
#include "nodes/rearrange.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/vec.h"

// --- replacement maps ---------------------------------------------------------------------

// A replacement map (keys unique by hash, a later key overriding an earlier one) with the
// memo of the walk under it.
typedef struct {
    int n;
    cc_node **keys;   // owned references
    cc_node **values; // owned references
    cc_hmap index;    // key hash -> position + 1
    int all_symbols;  // every key is a Symbol: a subtree without them free is unchanged
    uint8_t hash[32];
    cc_hmap memo; // node hash -> result (owned reference)
} xmap;

typedef struct {
    cc_ptrvec maps;  // every xmap made, freed together
    cc_hmap by_hash; // map hash -> xmap, so equal maps share a memo
} xctx;

static void
xmap_free(xmap *m)
{
    for (size_t s = 0; s < m->memo.cap; s++) {
        if (m->memo.slots[s].used) {
            cc_node_decref(m->memo.slots[s].value);
        }
    }
    cc_hmap_clear(&m->memo);
    cc_hmap_clear(&m->index);
    for (int i = 0; i < m->n; i++) {
        cc_node_decref(m->keys[i]);
        cc_node_decref(m->values[i]);
    }
    cc_free(m->keys);
    cc_free(m->values);
    cc_free(m);
}

static void
xctx_init(xctx *x)
{
    cc_ptrvec_init(&x->maps);
    cc_hmap_init(&x->by_hash);
}

static void
xctx_clear(xctx *x)
{
    for (size_t i = 0; i < x->maps.len; i++) {
        xmap_free(x->maps.items[i]);
    }
    cc_ptrvec_clear(&x->maps);
    cc_hmap_clear(&x->by_hash);
}

static int
compare_key_hash(const void *a, const void *b)
{
    const cc_node *x = *(cc_node *const *)a;
    const cc_node *y = *(cc_node *const *)b;
    return memcmp(x->hash, y->hash, 32);
}

// The map of the pairs (later keys win), shared with an equal map made before. NULL on error.
static xmap *
xmap_get(xctx *x, int n, cc_node *const *keys, cc_node *const *values)
{
    xmap *m = cc_calloc(1, sizeof(xmap));
    if (m == NULL) {
        return NULL;
    }
    cc_hmap_init(&m->index);
    cc_hmap_init(&m->memo);
    m->all_symbols = 1;
    size_t cap = (size_t)(n > 0 ? n : 1);
    m->keys = cc_malloc(cap * sizeof(cc_node *));
    m->values = cc_malloc(cap * sizeof(cc_node *));
    cc_node **order = cc_malloc(cap * sizeof(cc_node *));
    if (m->keys == NULL || m->values == NULL || order == NULL) {
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        uintptr_t at = (uintptr_t)cc_hmap_get(&m->index, keys[i]->hash);
        if (at != 0) {
            cc_node_incref(values[i]);
            cc_node_decref(m->values[at - 1]);
            m->values[at - 1] = values[i];
            continue;
        }
        if (cc_hmap_put(&m->index, keys[i]->hash, (void *)(uintptr_t)(m->n + 1)) < 0) {
            goto fail;
        }
        cc_node_incref(keys[i]);
        cc_node_incref(values[i]);
        m->keys[m->n] = keys[i];
        m->values[m->n] = values[i];
        m->all_symbols &= keys[i]->kind == CC_KIND_SYMBOL;
        m->n++;
    }
    // The map's identity: its pairs in key-hash order.
    memcpy(order, m->keys, (size_t)m->n * sizeof(cc_node *));
    qsort(order, (size_t)m->n, sizeof(cc_node *), compare_key_hash);
    cc_blake3 h;
    cc_blake3_init(&h);
    for (int i = 0; i < m->n; i++) {
        uintptr_t at = (uintptr_t)cc_hmap_get(&m->index, order[i]->hash);
        cc_blake3_update(&h, order[i]->hash, 32);
        cc_blake3_update(&h, m->values[at - 1]->hash, 32);
    }
    cc_blake3_final(&h, m->hash, 32);
    cc_free(order);
    order = NULL;
    xmap *existing = cc_hmap_get(&x->by_hash, m->hash);
    if (existing != NULL) {
        xmap_free(m);
        return existing;
    }
    if (cc_ptrvec_push(&x->maps, m) < 0) {
        goto fail;
    }
    if (cc_hmap_put(&x->by_hash, m->hash, m) < 0) {
        x->maps.len--;
        goto fail;
    }
    return m;
fail:
    cc_free(order);
    xmap_free(m);
    return NULL;
}

// --- small builders -------------------------------------------------------------------------

// *out = name + suffix, or NULL when name is NULL (the helper node then gets rc's autoname,
// which is none for an unnamed child). 0, or -1 (no memory).
static int
suffixed(const char *name, const char *suffix, char **out)
{
    *out = NULL;
    if (name == NULL) {
        return 0;
    }
    cc_str s;
    cc_str_init(&s);
    if (cc_str_append(&s, name) < 0 || cc_str_append(&s, suffix) < 0) {
        cc_str_clear(&s);
        return -1;
    }
    *out = cc_str_take(&s);
    return *out == NULL ? -1 : 0;
}

// Rearrange of x with single-int groups (in[i] and out[i] one int each).
static cc_node *
rearrange_single(cc_node *x, int n_in, const uint8_t *in, int n_out, const uint8_t *out,
                 int n_sizes, const int64_t *sizes, const char *name)
{
    int lens[2 * CC_MAX_NDIM];
    for (int i = 0; i < 2 * CC_MAX_NDIM; i++) {
        lens[i] = 1;
    }
    cc_rearrange_spec *spec =
        cc_rearrange_spec_new(n_in, lens, in, n_out, lens, out, n_sizes, sizes);
    if (spec == NULL) {
        return NULL;
    }
    cc_node *r = cc_rearrange_new(x, spec, name);
    cc_rearrange_spec_free(spec);
    return r;
}

// rc's RearrangeSpec::prepend_batch_shape applied to x: nb new leading axes of bshape.
static cc_node *
prepend_batch(cc_node *x, int nb, const int64_t *bshape, const char *name)
{
    int rank = nb + x->ndim;
    if (rank > CC_MAX_NDIM) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                            "adding %d batch axes to rank %d passes the maximum rank %d", nb,
                            x->ndim, CC_MAX_NDIM);
    }
    uint8_t in[CC_MAX_NDIM], out[CC_MAX_NDIM];
    int64_t sizes[CC_MAX_NDIM];
    for (int i = 0; i < rank; i++) {
        out[i] = (uint8_t)i;
        sizes[i] = i < nb ? bshape[i] : CC_REARRANGE_SIZE_NONE;
    }
    for (int i = 0; i < x->ndim; i++) {
        in[i] = (uint8_t)(nb + i);
    }
    return rearrange_single(x, x->ndim, in, rank, out, rank, sizes, name);
}

// Rearrange permuting x's axes: output axis i is input axis perm[i].
static cc_node *
permute(cc_node *x, const int *perm, const char *name)
{
    uint8_t in[CC_MAX_NDIM], out[CC_MAX_NDIM];
    int64_t sizes[CC_MAX_NDIM];
    for (int i = 0; i < x->ndim; i++) {
        in[i] = (uint8_t)i;
        out[i] = (uint8_t)perm[i];
        sizes[i] = CC_REARRANGE_SIZE_NONE;
    }
    return rearrange_single(x, x->ndim, in, x->ndim, out, x->ndim, sizes, name);
}

// rc's unsqueeze of the output axes start .. start + count (rc's expand_at_axes layout).
static cc_node *
unsqueeze_range(cc_node *x, int start, int count, const char *name)
{
    int rank = x->ndim + count;
    if (rank > CC_MAX_NDIM) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                            "unsqueezing rank %d by %d passes the maximum rank %d", x->ndim,
                            count, CC_MAX_NDIM);
    }
    uint8_t in[CC_MAX_NDIM], out[CC_MAX_NDIM];
    int64_t sizes[CC_MAX_NDIM];
    for (int i = 0; i < x->ndim; i++) {
        in[i] = (uint8_t)i;
        sizes[i] = CC_REARRANGE_SIZE_NONE;
    }
    int next_old = 0, next_new = x->ndim;
    for (int pos = 0; pos < rank; pos++) {
        if (pos >= start && pos < start + count) {
            sizes[next_new] = 1;
            out[pos] = (uint8_t)next_new++;
        } else {
            out[pos] = (uint8_t)next_old++;
        }
    }
    return rearrange_single(x, x->ndim, in, rank, out, rank, sizes, name);
}

// --- SetSymbolicShape helpers -----------------------------------------------------------------

cc_node *
cc_set_symbolic_shape_some_set_neq(cc_node *node, const int64_t *shape, const char *name)
{
    int change = 0;
    int64_t full[CC_MAX_NDIM];
    for (int i = 0; i < node->ndim; i++) {
        full[i] = shape[i] < 0 ? node->shape[i] : shape[i];
        change |= full[i] != node->shape[i];
    }
    if (!change) {
        cc_node_incref(node);
        return node;
    }
    return cc_set_symbolic_shape_new(node, node->ndim, full, name);
}

cc_node *
cc_set_symbolic_shape_some_set_and_symbolic_neq(cc_node *node, const int64_t *shape,
                                                const char *name)
{
    int64_t only[CC_MAX_NDIM];
    for (int i = 0; i < node->ndim; i++) {
        only[i] = cc_size_has_symbolic(node->shape[i]) ? shape[i] : -1;
    }
    return cc_set_symbolic_shape_some_set_neq(node, only, name);
}

// rc's find_non_symbolic: the first size without a symbolic factor, else the first size.
static int64_t
find_non_symbolic(int n, const int64_t *sizes)
{
    for (int i = 0; i < n; i++) {
        if (!cc_size_has_symbolic(sizes[i])) {
            return sizes[i];
        }
    }
    return sizes[0];
}

int
cc_shape_right_align(int n, const int *ndims, const int64_t *const *shapes, int *out_ndim,
                     int64_t *out_shape)
{
    int rank = 0;
    for (int i = 0; i < n; i++) {
        rank = ndims[i] > rank ? ndims[i] : rank;
    }
    if (rank > CC_MAX_NDIM) {
        return cc_fail(CC_E_CONSTRUCT_NOT_SUPPORTED_YET, "batch rank %d passes the maximum %d",
                       rank, CC_MAX_NDIM);
    }
    for (int k = 1; k <= rank; k++) {
        int have = 0;
        int64_t cur = 0;
        for (int i = 0; i < n; i++) {
            if (ndims[i] < k) {
                continue;
            }
            int64_t len = shapes[i][ndims[i] - k];
            if (have && len != cur) {
                cc_str s;
                cc_str_init(&s);
                int ok = cc_str_append(&s, "[") == 0;
                for (int j = 0; ok && j < n; j++) {
                    ok = (j == 0 || cc_str_append(&s, ", ") == 0) &&
                         cc_shape_append(&s, ndims[j], shapes[j]) == 0;
                }
                if (ok && cc_str_append(&s, "]") == 0) {
                    cc_fail(CC_E_MISC_INPUT_NOT_BROADCASTABLE,
                            "Shapes aren't broadcastable, %s (batch shapes must be equal where "
                            "they overlap)",
                            s.data);
                }
                cc_str_clear(&s);
                return -1;
            }
            cur = len;
            have = 1;
        }
        out_shape[rank - k] = cur;
    }
    *out_ndim = rank;
    return 0;
}

// --- expand_node ----------------------------------------------------------------------------

static cc_node *run(xctx *x, cc_node *root, xmap *map);

// What expand_node knows about one call.
typedef struct {
    xctx *x;
    xmap *map0; // the map child 0 was expanded under (a Module's body may re-run under it)
    const cc_node *c;
    cc_node *const *inputs;
    int n;
    int *br; // batch rank of each input
    int batch_rank;
    int64_t bshape[CC_MAX_NDIM];
    char what[200]; // "Kind 'name'" for messages
} xinfo;

// rc's get_expanded_inputs: batchable inputs missing some batch axes get them by repetition
// (a Rearrange "<name> rep_for_batch"). out[i] new references. 0; 1 with *bad the first
// non-batchable input carrying batch axes; -1 on error.
static int
expanded_inputs(const xinfo *e, const uint8_t *batchable, cc_node **out, int *bad)
{
    for (int i = 0; i < e->n; i++) {
        out[i] = NULL;
    }
    for (int i = 0; i < e->n; i++) {
        if (!batchable[i] && e->br[i] > 0) {
            *bad = i;
            goto undo;
        }
    }
    for (int i = 0; i < e->n; i++) {
        cc_node *inp = e->inputs[i];
        if (e->br[i] == e->batch_rank || !batchable[i]) {
            cc_node_incref(inp);
            out[i] = inp;
            continue;
        }
        char *name;
        if (suffixed(inp->name, " rep_for_batch", &name) < 0) {
            goto fail;
        }
        out[i] = prepend_batch(inp, e->batch_rank - e->br[i], e->bshape, name);
        cc_free(name);
        if (out[i] == NULL) {
            goto fail;
        }
    }
    return 0;
undo:
    return 1;
fail:
    for (int i = 0; i < e->n; i++) {
        cc_node_decref(out[i]);
        out[i] = NULL;
    }
    return -1;
}

static void
decref_all(cc_node **xs, int n)
{
    for (int i = 0; i < n; i++) {
        cc_node_decref(xs[i]);
        xs[i] = NULL;
    }
}

static cc_node *
expand_set_symbolic_shape(const xinfo *e)
{
    const cc_node *c = e->c;
    const cc_node *old = c->children[0];
    cc_node *x = e->inputs[0];
    int nb = e->batch_rank;
    int64_t full[CC_MAX_NDIM];
    int change = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i < nb) {
            full[i] = x->shape[i];
        } else {
            int k = i - nb;
            full[i] = x->shape[i] == old->shape[k] ? c->shape[k] : x->shape[i];
        }
        change |= full[i] != x->shape[i];
    }
    if (!change) {
        cc_node_incref(x);
        return x;
    }
    return cc_set_symbolic_shape_new(x, x->ndim, full, c->name);
}

// rc's RearrangeSpec::expand_to_spec_or_shape: the spec's sizes adjusted to a new input shape
// (a single mismatching int of a group becomes a wildcard). *spec_out is the new spec, or NULL
// with forced[] (-1 = free) giving sizes the input must be pinned to (error_on_ambiguous 0).
static int
expand_spec(const cc_rearrange_spec *s, int ndim, const int64_t *shape, int error_on_ambiguous,
            cc_rearrange_spec **spec_out, int64_t *forced, const char *what)
{
    *spec_out = NULL;
    if (ndim != s->n_in) {
        return cc_fail(CC_E_REARRANGE_SPEC_INPUT_NOT_CONFORMABLE,
                       "%s: the spec has %d input axes but the expanded input has %d", what,
                       s->n_in, ndim);
    }
    int64_t *sizes = cc_malloc((size_t)(s->n_sizes > 0 ? s->n_sizes : 1) * sizeof(int64_t));
    if (sizes == NULL) {
        return -1;
    }
    memcpy(sizes, s->sizes, (size_t)s->n_sizes * sizeof(int64_t));
    int any_forced = 0;
    for (int d = 0; d < ndim; d++) {
        forced[d] = -1;
        int start = s->in_start[d], end = s->in_start[d + 1];
        int64_t current = 1;
        int wildcard = 0;
        for (int k = start; k < end; k++) {
            int64_t sz = s->sizes[s->in_ints[k]];
            wildcard |= sz == CC_REARRANGE_SIZE_NONE;
            current *= sz;
        }
        if (wildcard || current == shape[d]) {
            continue;
        }
        if (end - start == 1) {
            sizes[s->in_ints[start]] = CC_REARRANGE_SIZE_NONE;
            continue;
        }
        int failing = 0, failing_at = -1;
        for (int k = start; k < end; k++) {
            int64_t sz = s->sizes[s->in_ints[k]];
            if (!(sz != 0 && shape[d] % sz == 0)) {
                failing++;
                failing_at = k;
            }
        }
        if (failing != 1) {
            if (error_on_ambiguous) {
                cc_free(sizes);
                return cc_fail(CC_E_REARRANGE_SPEC_AMBIGUOUS_EXPAND,
                               "%s: can't tell which int of input axis %d (size %lld) takes the "
                               "new size %lld (%d of its ints fail to divide it)",
                               what, d, (long long)current, (long long)shape[d], failing);
            }
            forced[d] = current;
            any_forced = 1;
            continue;
        }
        sizes[s->in_ints[failing_at]] = CC_REARRANGE_SIZE_NONE;
    }
    if (any_forced) {
        cc_free(sizes);
        return 0;
    }
    int in_lens[CC_MAX_NDIM], out_lens[CC_MAX_NDIM];
    for (int g = 0; g < s->n_in; g++) {
        in_lens[g] = s->in_start[g + 1] - s->in_start[g];
    }
    for (int g = 0; g < s->n_out; g++) {
        out_lens[g] = s->out_start[g + 1] - s->out_start[g];
    }
    *spec_out = cc_rearrange_spec_new(s->n_in, in_lens, s->in_ints, s->n_out, out_lens,
                                      s->out_ints, s->n_sizes, sizes);
    cc_free(sizes);
    return *spec_out == NULL ? -1 : 0;
}

// rc's add_batch_dims: nb fresh wildcard ints leading both sides.
static cc_rearrange_spec *
add_batch_dims(const cc_rearrange_spec *s, int nb, const char *what)
{
    if (s->n_sizes + nb > 256 || s->n_in + nb > CC_MAX_NDIM || s->n_out + nb > CC_MAX_NDIM) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                            "%s: adding %d batch axes passes the limits of a rearrange spec",
                            what, nb);
    }
    int n_in_ints = s->in_start[s->n_in], n_out_ints = s->out_start[s->n_out];
    int in_lens[CC_MAX_NDIM], out_lens[CC_MAX_NDIM];
    uint8_t in_ints[CC_MAX_NDIM + 256], out_ints[CC_MAX_NDIM + 256];
    int64_t sizes[256 + CC_MAX_NDIM];
    for (int b = 0; b < nb; b++) {
        in_lens[b] = out_lens[b] = 1;
        in_ints[b] = out_ints[b] = (uint8_t)(s->n_sizes + b);
        sizes[s->n_sizes + b] = CC_REARRANGE_SIZE_NONE;
    }
    for (int g = 0; g < s->n_in; g++) {
        in_lens[nb + g] = s->in_start[g + 1] - s->in_start[g];
    }
    for (int g = 0; g < s->n_out; g++) {
        out_lens[nb + g] = s->out_start[g + 1] - s->out_start[g];
    }
    memcpy(in_ints + nb, s->in_ints, (size_t)n_in_ints);
    memcpy(out_ints + nb, s->out_ints, (size_t)n_out_ints);
    memcpy(sizes, s->sizes, (size_t)s->n_sizes * sizeof(int64_t));
    return cc_rearrange_spec_new(s->n_in + nb, in_lens, in_ints, s->n_out + nb, out_lens, out_ints,
                                 s->n_sizes + nb, sizes);
}

static cc_node *
expand_rearrange(const xinfo *e)
{
    const cc_rearrange_spec *spec = e->c->u.rearrange.spec;
    cc_node *x = e->inputs[0];
    int nb = e->br[0];
    int64_t forced[CC_MAX_NDIM];
    cc_rearrange_spec *expanded = NULL;
    if (expand_spec(spec, x->ndim - nb, x->shape + nb, 0, &expanded, forced, e->what) < 0) {
        return NULL;
    }
    cc_node *input = x;
    cc_node_incref(input);
    if (expanded == NULL) {
        int64_t full[CC_MAX_NDIM];
        for (int i = 0; i < x->ndim; i++) {
            full[i] = i < nb ? -1 : forced[i - nb];
        }
        cc_node_decref(input);
        input = cc_set_symbolic_shape_some_set_and_symbolic_neq(x, full, NULL);
        if (input == NULL) {
            cc_error_prefix("%s: failed to set symbolic sizes in expand rearrange", e->what);
            return NULL;
        }
        if (expand_spec(spec, input->ndim - nb, input->shape + nb, 1, &expanded, forced,
                        e->what) < 0) {
            cc_node_decref(input);
            return NULL;
        }
    }
    cc_rearrange_spec *batched = add_batch_dims(expanded, nb, e->what);
    cc_rearrange_spec_free(expanded);
    cc_node *out = batched == NULL ? NULL : cc_rearrange_new(input, batched, e->c->name);
    cc_rearrange_spec_free(batched);
    cc_node_decref(input);
    return out;
}

static cc_node *
expand_index(const xinfo *e)
{
    const cc_node *c = e->c;
    const cc_node *old = c->children[0];
    cc_node *x = e->inputs[0];
    int nb = e->br[0];
    for (int i = 0; i < old->ndim; i++) {
        const cc_index_item *it = &c->u.index.items[i];
        int ident = it->kind == CC_INDEX_SLICE && !it->has_start && !it->has_stop;
        if (old->shape[i] != x->shape[i + nb] && !ident) {
            cc_str a, b;
            cc_str_init(&a);
            cc_str_init(&b);
            if (cc_shape_append(&a, old->ndim, old->shape) == 0 &&
                cc_shape_append(&b, x->ndim, x->shape) == 0) {
                cc_fail(CC_E_EXPAND_FIXED_INDEX,
                        "Trying to expand fixed index, index %s old shape %s new shape %s "
                        "(axis %d is indexed, so its size %lld can't change)",
                        e->what, a.data, b.data, i, (long long)old->shape[i]);
            }
            cc_str_clear(&a);
            cc_str_clear(&b);
            return NULL;
        }
    }
    int n_items = nb + c->u.index.n_items;
    if (n_items > CC_MAX_NDIM) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET, "%s: rank %d passes the maximum %d",
                            e->what, n_items, CC_MAX_NDIM);
    }
    cc_index_item items[CC_MAX_NDIM];
    memset(items, 0, sizeof(items));
    for (int i = 0; i < nb; i++) {
        items[i].kind = CC_INDEX_SLICE;
    }
    for (int i = 0; i < c->u.index.n_items; i++) {
        items[nb + i] = c->u.index.items[i];
    }
    return cc_index_new(x, n_items, items, c->name);
}

static cc_node *
expand_concat(const xinfo *e, cc_node **xs)
{
    const cc_node *c = e->c;
    uint8_t *all = cc_malloc((size_t)e->n);
    if (all == NULL) {
        return NULL;
    }
    memset(all, 1, (size_t)e->n);
    int bad;
    int r = expanded_inputs(e, all, xs, &bad);
    cc_free(all);
    if (r != 0) {
        return NULL;
    }
    int axis = c->u.concat.axis, new_axis = axis + e->batch_rank;
    for (int i = 0; i < e->n; i++) {
        if (c->children[i]->shape[axis] != xs[i]->shape[new_axis]) {
            return cc_fail_null(CC_E_EXPAND_CONCAT_AXIS,
                                "Trying to expand concat axis of %s: axis %d of child %d had "
                                "size %lld but its replacement has %lld",
                                e->what, axis, i, (long long)c->children[i]->shape[axis],
                                (long long)xs[i]->shape[new_axis]);
        }
    }
    int rank = xs[0]->ndim;
    int same_rank = 1;
    for (int i = 0; i < e->n; i++) {
        same_rank &= xs[i]->ndim == rank;
    }
    if (same_rank) {
        int64_t want[CC_MAX_NDIM];
        int64_t *sizes = cc_malloc((size_t)e->n * sizeof(int64_t));
        if (sizes == NULL) {
            return NULL;
        }
        for (int k = 0; k < rank; k++) {
            for (int i = 0; i < e->n; i++) {
                sizes[i] = xs[i]->shape[k];
            }
            want[k] = k == new_axis ? -1 : find_non_symbolic(e->n, sizes);
        }
        cc_free(sizes);
        for (int i = 0; i < e->n; i++) {
            cc_node *set = cc_set_symbolic_shape_some_set_and_symbolic_neq(xs[i], want, NULL);
            if (set == NULL) {
                cc_error_prefix("%s: failed to set symbolic sizes in expand concat", e->what);
                return NULL;
            }
            cc_node_decref(xs[i]);
            xs[i] = set;
        }
    }
    return cc_concat_new(e->n, xs, new_axis, c->name);
}

static cc_node *
expand_add(const xinfo *e, cc_node **xs)
{
    const cc_node *c = e->c;
    int max = 0;
    for (int i = 0; i < e->n; i++) {
        cc_node *inp = e->inputs[i];
        int b = e->br[i];
        int rank_diff = c->ndim - (inp->ndim - b);
        if (rank_diff > 0 && b > 0) {
            char *name;
            if (suffixed(inp->name, " unsq_b_add", &name) < 0) {
                return NULL;
            }
            xs[i] = unsqueeze_range(inp, b, rank_diff, name);
            cc_free(name);
            if (xs[i] == NULL) {
                return NULL;
            }
        } else {
            cc_node_incref(inp);
            xs[i] = inp;
        }
        max = xs[i]->ndim > max ? xs[i]->ndim : max;
    }
    int64_t full[CC_MAX_NDIM];
    int64_t *sizes = cc_malloc((size_t)(e->n > 0 ? e->n : 1) * sizeof(int64_t));
    if (sizes == NULL) {
        return NULL;
    }
    for (int k = 0; k < max; k++) {
        int m = 0;
        for (int i = 0; i < e->n; i++) {
            int j = k - (max - xs[i]->ndim);
            if (j >= 0 && xs[i]->shape[j] != 1) {
                sizes[m++] = xs[i]->shape[j];
            }
        }
        full[k] = m == 0 ? -1 : find_non_symbolic(m, sizes);
    }
    cc_free(sizes);
    for (int i = 0; i < e->n; i++) {
        cc_node *set = cc_set_symbolic_shape_some_set_and_symbolic_neq(
            xs[i], full + (max - xs[i]->ndim), NULL);
        if (set == NULL) {
            cc_error_prefix("%s: failed to set symbolic sizes in expand add", e->what);
            return NULL;
        }
        cc_node_decref(xs[i]);
        xs[i] = set;
    }
    return cc_add_new(e->n, xs, c->name);
}

static cc_node *
expand_gf(const xinfo *e, cc_node **xs)
{
    const cc_node *c = e->c;
    cc_gf_spec *spec = c->u.gf.spec;
    int *ndims = cc_malloc((size_t)(e->n > 0 ? e->n : 1) * sizeof(int));
    const int64_t **shapes = cc_malloc((size_t)(e->n > 0 ? e->n : 1) * sizeof(int64_t *));
    uint8_t *batchable = cc_malloc((size_t)(e->n > 0 ? e->n : 1));
    cc_node *out = NULL;
    if (ndims == NULL || shapes == NULL || batchable == NULL) {
        goto done;
    }
    for (int i = 0; i < e->n; i++) {
        ndims[i] = c->children[i]->ndim;
        shapes[i] = c->children[i]->shape;
    }
    cc_gf_shape_info info;
    if (cc_gf_spec_shape_info(spec, e->n, ndims, shapes, &info) < 0) {
        goto done;
    }
    for (int i = 0; i < e->n; i++) {
        batchable[i] = i < 64 ? info.input_batchable[i] : 0;
    }
    int bad;
    int r = expanded_inputs(e, batchable, xs, &bad);
    if (r == 1) {
        cc_fail(CC_E_EXPAND_GENERAL_FUNCTION_TRIED_TO_BATCH_NON_BATCHABLE_INPUT,
                "input_i=%d is not batchable, but tried to batch it: %s (%s) got %d batch axes "
                "on input %d",
                bad, e->what, spec->name, e->br[bad], bad);
        goto done;
    }
    if (r < 0) {
        goto done;
    }
    out = cc_gf_new(e->n, xs, spec, c->name);
done:
    cc_free(ndims);
    cc_free(shapes);
    cc_free(batchable);
    return out;
}

static cc_node *
expand_einsum(const xinfo *e, cc_node **xs)
{
    const cc_node *c = e->c;
    int next_axis = 0;
    int total_in = 0;
    for (int i = 0; i < e->n; i++) {
        total_in += c->children[i]->ndim;
    }
    for (int k = 0; k < total_in; k++) {
        next_axis = c->u.einsum.in_axes[k] + 1 > next_axis ? c->u.einsum.in_axes[k] + 1 : next_axis;
    }
    for (int k = 0; k < c->ndim; k++) {
        int a = c->u.einsum.out_axes[k];
        next_axis = a + 1 > next_axis ? a + 1 : next_axis;
    }
    int br = e->batch_rank;
    if (next_axis + br > 256) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                            "%s: adding %d batch axes needs more than 256 einsum labels", e->what,
                            br);
    }
    int total_new = 0;
    for (int i = 0; i < e->n; i++) {
        total_new += e->inputs[i]->ndim;
    }
    uint8_t *in_axes = cc_malloc((size_t)(total_new > 0 ? total_new : 1));
    cc_node *out = NULL;
    if (in_axes == NULL) {
        return NULL;
    }
    uint8_t out_axes[CC_MAX_NDIM];
    for (int b = 0; b < br; b++) {
        out_axes[b] = (uint8_t)(next_axis + b);
    }
    memcpy(out_axes + br, c->u.einsum.out_axes, (size_t)c->ndim);
    int64_t label_size[256];
    uint8_t label_seen[256] = {0};
    int pos = 0;
    const uint8_t *old_axes = c->u.einsum.in_axes;
    for (int i = 0; i < e->n; i++) {
        int r = e->br[i];
        for (int b = 0; b < r; b++) {
            in_axes[pos + b] = (uint8_t)(next_axis + (br - r) + b);
        }
        memcpy(in_axes + pos + r, old_axes, (size_t)c->children[i]->ndim);
        old_axes += c->children[i]->ndim;
        for (int k = 0; k < e->inputs[i]->ndim; k++) {
            int label = in_axes[pos + k];
            int64_t size = e->inputs[i]->shape[k];
            // rc's find_non_symbolic over every occurrence: the first concrete size wins.
            if (!label_seen[label] ||
                (cc_size_has_symbolic(label_size[label]) && !cc_size_has_symbolic(size))) {
                label_size[label] = size;
                label_seen[label] = 1;
            }
        }
        pos += e->inputs[i]->ndim;
    }
    pos = 0;
    for (int i = 0; i < e->n; i++) {
        int64_t want[CC_MAX_NDIM];
        for (int k = 0; k < e->inputs[i]->ndim; k++) {
            want[k] = label_size[in_axes[pos + k]];
        }
        pos += e->inputs[i]->ndim;
        xs[i] = cc_set_symbolic_shape_some_set_and_symbolic_neq(e->inputs[i], want, NULL);
        if (xs[i] == NULL) {
            cc_error_prefix("%s: failed to set symbolic sizes in expand einsum", e->what);
            goto done;
        }
    }
    out = cc_einsum_new(e->n, xs, in_axes, br + c->ndim, out_axes, c->name);
done:
    cc_free(in_axes);
    return out;
}

static cc_node *expand_module(const xinfo *e, cc_node **xs);

static cc_node *
expand_dispatch(const xinfo *e, cc_node **xs)
{
    const cc_node *c = e->c;
    switch (c->kind) {
    case CC_KIND_SET_SYMBOLIC_SHAPE:
        return expand_set_symbolic_shape(e);
    case CC_KIND_REARRANGE:
        return expand_rearrange(e);
    case CC_KIND_INDEX:
        return expand_index(e);
    case CC_KIND_CONCAT:
        return expand_concat(e, xs);
    case CC_KIND_ADD:
        return expand_add(e, xs);
    case CC_KIND_GENERAL_FUNCTION:
        return expand_gf(e, xs);
    case CC_KIND_EINSUM:
        return expand_einsum(e, xs);
    case CC_KIND_TAG:
        return cc_tag_new(e->inputs[0], c->u.tag.uuid, c->name);
    case CC_KIND_MODULE:
        return expand_module(e, xs);
    default:
        return cc_fail_null(CC_E_EXPAND_NODE_UNHANDLED_VARIANT,
                            "trying to expand node, unknown variant %s (%s)",
                            cc_kind_get_info(c->kind)->py_name, e->what);
    }
}

static cc_node *
expand_node_impl(xctx *x, xmap *map0, const cc_node *c, cc_node *const *inputs)
{
    int n = c->n_children;
    int same = 1, same_shapes = 1;
    for (int i = 0; i < n; i++) {
        const cc_node *a = c->children[i], *b = inputs[i];
        same &= a == b || memcmp(a->hash, b->hash, 32) == 0;
        same_shapes &= a->ndim == b->ndim &&
                       memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof(int64_t)) == 0;
    }
    if (same) {
        cc_node_incref((cc_node *)c);
        return (cc_node *)c;
    }
    if (same_shapes) {
        return cc_node_rebuild(c, inputs, c->name);
    }
    xinfo e = {.x = x, .map0 = map0, .c = c, .inputs = inputs, .n = n};
    cc_node_describe(c->kind, c->name, e.what, sizeof(e.what));
    size_t count = (size_t)(n > 0 ? n : 1);
    e.br = cc_malloc(count * sizeof(int));
    int *ndims = cc_malloc(count * sizeof(int));
    const int64_t **shapes = cc_malloc(count * sizeof(int64_t *));
    cc_node **xs = cc_calloc(count, sizeof(cc_node *));
    cc_node *out = NULL;
    if (e.br == NULL || ndims == NULL || shapes == NULL || xs == NULL) {
        goto done;
    }
    int too_low = 0;
    for (int i = 0; i < n; i++) {
        e.br[i] = inputs[i]->ndim - c->children[i]->ndim;
        too_low |= e.br[i] < 0;
        ndims[i] = e.br[i] > 0 ? e.br[i] : 0;
        shapes[i] = inputs[i]->shape;
    }
    if (too_low) {
        cc_str a, b;
        cc_str_init(&a);
        cc_str_init(&b);
        int ok = cc_str_append(&a, "[") == 0 && cc_str_append(&b, "[") == 0;
        for (int i = 0; ok && i < n; i++) {
            ok = cc_str_appendf(&a, i ? ", %d" : "%d", c->children[i]->ndim) == 0 &&
                 cc_str_appendf(&b, i ? ", %d" : "%d", inputs[i]->ndim) == 0;
        }
        if (ok && cc_str_append(&a, "]") == 0 && cc_str_append(&b, "]") == 0) {
            cc_fail(CC_E_EXPAND_BATCHING_RANK_TOO_LOW,
                    "Batching Rank Too Low: %s had children of ranks %s but the new children "
                    "have ranks %s",
                    e.what, a.data, b.data);
        }
        cc_str_clear(&a);
        cc_str_clear(&b);
        goto done;
    }
    if (cc_shape_right_align(n, ndims, shapes, &e.batch_rank, e.bshape) < 0) {
        cc_error_prefix("batch shapes didn't match (expand) for %s", e.what);
        goto done;
    }
    out = expand_dispatch(&e, xs);
    if (out != NULL && out->ndim != c->ndim + e.batch_rank) {
        cc_fail(CC_E_PY_RUNTIME, "%s: expansion gave rank %d, expected %d + %d batch axes",
                e.what, out->ndim, c->ndim, e.batch_rank);
        cc_node_decref(out);
        out = NULL;
    }
done:
    if (xs != NULL) {
        decref_all(xs, n);
    }
    cc_free(xs);
    cc_free(e.br);
    cc_free(ndims);
    cc_free(shapes);
    return out;
}

// --- Module expansion (rc's Module arm of expand_node) -------------------------------------

// The module's args are re-bound; batch axes that would land between an argument's old batch
// axes and its symbol axes are moved into the symbols (the body is re-expanded with grown
// symbols) and moved back out of the result by a permutation.
static cc_node *
expand_module(const xinfo *e, cc_node **xs)
{
    const cc_node *c = e->c;
    int nargs = e->n - 1;
    const cc_module_arg_spec *specs = c->u.module.arg_specs;
    cc_node *body_old = c->children[0];
    if (nargs == 0) {
        return cc_module_new(e->inputs[0], 0, NULL, NULL, c->name);
    }
    int cur[CC_MAX_NDIM + 1];
    int *cur_rank = nargs <= CC_MAX_NDIM ? cur : cc_malloc((size_t)nargs * sizeof(int));
    cc_module_arg_spec *new_specs = cc_calloc((size_t)nargs, sizeof(cc_module_arg_spec));
    cc_node **repl_keys = cc_calloc((size_t)nargs, sizeof(cc_node *));
    cc_node **repl_values = cc_calloc((size_t)nargs, sizeof(cc_node *));
    cc_node *body = NULL, *module = NULL, *out = NULL;
    cc_node **args = xs + 1; // owned references in xs, released by the caller
    int n_repl = 0;
    if (cur_rank == NULL || new_specs == NULL || repl_keys == NULL || repl_values == NULL) {
        goto done;
    }
    int cur_max = 0;
    for (int j = 0; j < nargs; j++) {
        cur_rank[j] = c->children[1 + j]->ndim - specs[j].symbol->ndim;
        cur_max = cur_rank[j] > cur_max ? cur_rank[j] : cur_max;
    }
    const int *bo = e->br + 1;
    // Pin the old batch axes, which may be symbolic in some arguments and concrete in others.
    int64_t old_batch[CC_MAX_NDIM];
    int64_t *sizes = cc_malloc((size_t)nargs * sizeof(int64_t));
    if (sizes == NULL) {
        goto done;
    }
    for (int i = 0; i < cur_max; i++) {
        int m = 0;
        for (int j = 0; j < nargs; j++) {
            int from_end = cur_max - i;
            if (cur_rank[j] >= from_end) {
                sizes[m++] = e->inputs[1 + j]->shape[bo[j] + cur_rank[j] - from_end];
            }
        }
        old_batch[i] = find_non_symbolic(m, sizes);
    }
    cc_free(sizes);
    for (int j = 0; j < nargs; j++) {
        cc_node *inp = e->inputs[1 + j];
        int64_t want[CC_MAX_NDIM];
        for (int k = 0; k < inp->ndim; k++) {
            int in_old_batch = k >= bo[j] && k < bo[j] + cur_rank[j];
            want[k] = in_old_batch ? old_batch[cur_max - cur_rank[j] + (k - bo[j])] : -1;
        }
        args[j] = cc_set_symbolic_shape_some_set_and_symbolic_neq(inp, want, NULL);
        if (args[j] == NULL) {
            cc_error_prefix("%s: failed to set symbolic sizes in expand module", e->what);
            goto done;
        }
    }
    int push = e->br[0];
    for (int j = 0; j < nargs; j++) {
        int want = cur_rank[j] == cur_max ? 0 : bo[j];
        push = want > push ? want : push;
    }
    if (push == 0) {
        module = cc_module_new(e->inputs[0], nargs, specs, args, c->name);
        out = module;
        module = NULL;
        goto done;
    }
    for (int j = 0; j < nargs; j++) {
        const cc_module_arg_spec *s = &specs[j];
        cc_node *node = args[j];
        int extra = push < bo[j] ? push : bo[j];
        int64_t shape[CC_MAX_NDIM];
        int ndim = extra + s->symbol->ndim;
        if (ndim > CC_MAX_NDIM) {
            cc_fail(CC_E_CONSTRUCT_NOT_SUPPORTED_YET, "%s: symbol rank %d passes the maximum %d",
                    e->what, ndim, CC_MAX_NDIM);
            goto done;
        }
        memcpy(shape, node->shape + bo[j] - extra, (size_t)extra * sizeof(int64_t));
        memcpy(shape + extra, s->symbol->shape, (size_t)s->symbol->ndim * sizeof(int64_t));
        new_specs[j] = *s;
        new_specs[j].symbol = cc_symbol_new(ndim, shape, s->symbol->u.symbol.uuid,
                                            s->symbol->name ? s->symbol->name : CC_NO_NAME);
        if (new_specs[j].symbol == NULL) {
            goto done;
        }
        if (cur_rank[j] > 0 && extra > 0) {
            int rank = node->ndim, upto = rank - s->symbol->ndim;
            int perm[CC_MAX_NDIM], p = 0;
            for (int k = 0; k < bo[j] - extra; k++) {
                perm[p++] = k;
            }
            for (int k = bo[j]; k < upto; k++) {
                perm[p++] = k;
            }
            for (int k = bo[j] - extra; k < bo[j]; k++) {
                perm[p++] = k;
            }
            for (int k = upto; k < rank; k++) {
                perm[p++] = k;
            }
            char *name;
            if (suffixed(node->name, " shift_batch", &name) < 0) {
                goto done;
            }
            cc_node *shifted = permute(node, perm, name);
            cc_free(name);
            if (shifted == NULL) {
                goto done;
            }
            cc_node_decref(args[j]);
            args[j] = shifted;
        }
        if (memcmp(new_specs[j].symbol->hash, s->symbol->hash, 32) != 0) {
            repl_keys[n_repl] = s->symbol;
            repl_values[n_repl] = new_specs[j].symbol;
            n_repl++;
        }
    }
    // The body again, under its map plus the grown symbols.
    {
        int n0 = e->map0->n;
        size_t total = (size_t)(n0 + n_repl > 0 ? n0 + n_repl : 1);
        cc_node **keys = cc_malloc(total * sizeof(cc_node *));
        cc_node **values = cc_malloc(total * sizeof(cc_node *));
        xmap *m = NULL;
        if (keys != NULL && values != NULL) {
            memcpy(keys, e->map0->keys, (size_t)n0 * sizeof(cc_node *));
            memcpy(values, e->map0->values, (size_t)n0 * sizeof(cc_node *));
            memcpy(keys + n0, repl_keys, (size_t)n_repl * sizeof(cc_node *));
            memcpy(values + n0, repl_values, (size_t)n_repl * sizeof(cc_node *));
            m = xmap_get(e->x, n0 + n_repl, keys, values);
        }
        cc_free(keys);
        cc_free(values);
        if (m == NULL) {
            goto done;
        }
        body = run(e->x, body_old, m);
        if (body == NULL) {
            cc_error_prefix("%s: failed to rerun batching for the body with expanded symbols",
                            e->what);
            goto done;
        }
    }
    if (body->ndim != push + body_old->ndim) {
        cc_fail(CC_E_PY_RUNTIME, "%s: the re-expanded body has rank %d, expected %d + %d",
                e->what, body->ndim, push, body_old->ndim);
        goto done;
    }
    module = cc_module_new(body, nargs, new_specs, args, c->name);
    if (module == NULL) {
        goto done;
    }
    if (cur_max == 0) {
        out = module;
        module = NULL;
        goto done;
    }
    {
        // Move the axes pushed into the symbols back in front of the old batch axes.
        int orig = body_old->ndim;
        int via_mod = e->batch_rank - push;
        int total = via_mod + cur_max;
        int end_all = total + push;
        int perm[CC_MAX_NDIM], p = 0;
        if (end_all + orig != module->ndim || via_mod < 0) {
            cc_fail(CC_E_PY_RUNTIME, "%s: batched module has rank %d, expected %d", e->what,
                    module->ndim, end_all + orig);
            goto done;
        }
        for (int k = 0; k < via_mod; k++) {
            perm[p++] = k;
        }
        for (int k = total; k < end_all; k++) {
            perm[p++] = k;
        }
        for (int k = via_mod; k < total; k++) {
            perm[p++] = k;
        }
        for (int k = end_all; k < end_all + orig; k++) {
            perm[p++] = k;
        }
        char *shift_name;
        if (suffixed(module->name, " shift_batch", &shift_name) < 0) {
            goto done;
        }
        cc_node *renamed = cc_node_rename(module, shift_name ? shift_name : CC_NO_NAME);
        cc_free(shift_name);
        if (renamed == NULL) {
            goto done;
        }
        out = permute(renamed, perm, module->name ? module->name : CC_NO_NAME);
        cc_node_decref(renamed);
    }
done:
    cc_node_decref(module);
    cc_node_decref(body);
    if (new_specs != NULL) {
        for (int j = 0; j < nargs; j++) {
            cc_node_decref(new_specs[j].symbol);
        }
    }
    cc_free(new_specs);
    cc_free(repl_keys);
    cc_free(repl_values);
    if (cur_rank != cur) {
        cc_free(cur_rank);
    }
    return out;
}

// --- the replace-and-expand walk ------------------------------------------------------------

typedef struct {
    cc_node *node;
    xmap *map;
    xmap *map0; // map of child 0 (a Module binding some keys hides them from its body)
    int next;
    cc_node **kids; // owned results
} xframe;

// 1 when node's result under map is known without a walk (*out borrowed), else 0.
static int
resolve(xmap *map, cc_node *node, cc_node **out)
{
    if (map->n == 0 || node->n_children == 0) {
        uintptr_t at = map->n ? (uintptr_t)cc_hmap_get(&map->index, node->hash) : 0;
        *out = at ? map->values[at - 1] : node;
        return 1;
    }
    uintptr_t at = (uintptr_t)cc_hmap_get(&map->index, node->hash);
    if (at != 0) {
        *out = map->values[at - 1];
        return 1;
    }
    if (map->all_symbols) {
        int touched = 0;
        const cc_symbol_set *s = node->free_symbols;
        for (int i = 0; s != NULL && i < s->n && !touched; i++) {
            touched = cc_hmap_get(&map->index, s->items[i]->hash) != NULL;
        }
        if (!touched) {
            *out = node;
            return 1;
        }
    }
    cc_node *memo = cc_hmap_get(&map->memo, node->hash);
    if (memo != NULL) {
        *out = memo;
        return 1;
    }
    return 0;
}

// The map of a Module's body: map without the symbols the module binds.
static xmap *
body_map(xctx *x, xmap *map, const cc_node *node)
{
    if (node->kind != CC_KIND_MODULE) {
        return map;
    }
    int nargs = node->n_children - 1;
    int binds = 0;
    for (int j = 0; j < nargs && !binds; j++) {
        binds = cc_hmap_get(&map->index, node->u.module.arg_specs[j].symbol->hash) != NULL;
    }
    if (!binds) {
        return map;
    }
    cc_node **keys = cc_malloc((size_t)map->n * sizeof(cc_node *));
    cc_node **values = cc_malloc((size_t)map->n * sizeof(cc_node *));
    xmap *out = NULL;
    if (keys != NULL && values != NULL) {
        int m = 0;
        for (int i = 0; i < map->n; i++) {
            int bound = 0;
            for (int j = 0; j < nargs && !bound; j++) {
                bound = memcmp(node->u.module.arg_specs[j].symbol->hash, map->keys[i]->hash,
                               32) == 0;
            }
            if (!bound) {
                keys[m] = map->keys[i];
                values[m] = map->values[i];
                m++;
            }
        }
        out = xmap_get(x, m, keys, values);
    }
    cc_free(keys);
    cc_free(values);
    return out;
}

static int
push_frame(cc_ptrvec *stack, xctx *x, cc_node *node, xmap *map)
{
    xframe *f = cc_calloc(1, sizeof(xframe));
    if (f == NULL) {
        return -1;
    }
    f->node = node;
    f->map = map;
    f->map0 = body_map(x, map, node);
    f->kids = cc_calloc((size_t)(node->n_children > 0 ? node->n_children : 1), sizeof(cc_node *));
    if (f->map0 == NULL || f->kids == NULL || cc_ptrvec_push(stack, f) < 0) {
        cc_free(f->kids);
        cc_free(f);
        return -1;
    }
    return 0;
}

static void
free_frame(xframe *f)
{
    decref_all(f->kids, f->node->n_children);
    cc_free(f->kids);
    cc_free(f);
}

static cc_node *
run(xctx *x, cc_node *root, xmap *map)
{
    cc_node *direct;
    if (resolve(map, root, &direct)) {
        cc_node_incref(direct);
        return direct;
    }
    cc_ptrvec stack;
    cc_ptrvec_init(&stack);
    cc_node *result = NULL;
    if (push_frame(&stack, x, root, map) < 0) {
        goto fail;
    }
    while (stack.len > 0) {
        xframe *f = stack.items[stack.len - 1];
        if (f->next < f->node->n_children) {
            int i = f->next++;
            cc_node *child = f->node->children[i];
            xmap *cm = i == 0 ? f->map0 : f->map;
            cc_node *known;
            if (resolve(cm, child, &known)) {
                cc_node_incref(known);
                f->kids[i] = known;
            } else if (push_frame(&stack, x, child, cm) < 0) {
                goto fail;
            }
            continue;
        }
        cc_node *out = expand_node_impl(x, f->map0, f->node, f->kids);
        if (out == NULL) {
            goto fail;
        }
        if (cc_hmap_put(&f->map->memo, f->node->hash, out) < 0) {
            cc_node_decref(out);
            goto fail;
        }
        free_frame(f);
        stack.len--;
        cc_node_incref(out);
        if (stack.len == 0) {
            result = out;
        } else {
            xframe *parent = stack.items[stack.len - 1];
            parent->kids[parent->next - 1] = out;
        }
    }
    cc_ptrvec_clear(&stack);
    return result;
fail:
    for (size_t i = 0; i < stack.len; i++) {
        free_frame(stack.items[i]);
    }
    cc_ptrvec_clear(&stack);
    return NULL;
}

cc_node *
cc_expand_node(const cc_node *circuit, cc_node *const *inputs)
{
    xctx x;
    xctx_init(&x);
    cc_node *out = NULL;
    xmap *empty = xmap_get(&x, 0, NULL, NULL);
    if (empty != NULL) {
        out = expand_node_impl(&x, empty, circuit, inputs);
    }
    xctx_clear(&x);
    return out;
}

cc_node *
cc_replace_expand(cc_node *circuit, int n, cc_node *const *keys, cc_node *const *values)
{
    xctx x;
    xctx_init(&x);
    cc_node *out = NULL;
    xmap *map = xmap_get(&x, n, keys, values);
    if (map != NULL) {
        out = run(&x, circuit, map);
    }
    xctx_clear(&x);
    return out;
}
