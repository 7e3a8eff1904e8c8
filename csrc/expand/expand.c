// Expansion (rc's expand_node.rs): a node re-derived over children that gained leading batch
// axes or changed symbolic sizes, through its kind's expand slot (nodes/kind.h); and the
// replace-and-expand walk (rc's ReplaceExpander with a replacement map), memoised per map. The walk
// is an explicit stack; only a Module whose symbols must grow re-enters it for its body (depth =
// module nesting).
#include "expand/expand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/kind.h"
#include "nodes/node_impl.h"
#include "nodes/shape.h"
#include "nodes/symbolic_size.h"
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
    cc_ptrvec maps;        // every xmap made, freed together
    cc_hmap by_hash;       // map hash -> xmap, so equal maps share a memo
    cc_expand_rerun rerun; // cc_expand_node_rerun's hook, or NULL
    void *rerun_ctx;
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
    x->rerun = NULL;
    x->rerun_ctx = NULL;
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
        m->all_symbols &= cc_kind_has(keys[i]->kind, CC_FREE_SYMBOL);
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

// --- expand_node ----------------------------------------------------------------------------

static cc_node *run(xctx *x, cc_node *root, xmap *map);

// The driver's state of one expand_node call, for a Module's rerun_body.
typedef struct {
    xctx *x;
    xmap *map0; // the map child 0 was expanded under
} xdriver;

// The body again under map0 plus the grown symbols (cc_expand_call.rerun_body).
static cc_node *
rerun_body(const cc_expand_call *e, cc_node *body, int n, cc_node *const *keys,
           cc_node *const *values)
{
    const xdriver *d = e->driver;
    if (d->x->rerun != NULL) {
        return d->x->rerun(d->x->rerun_ctx, body, n, keys, values);
    }
    int n0 = d->map0->n;
    size_t total = (size_t)(n0 + n > 0 ? n0 + n : 1);
    cc_node **all_keys = cc_malloc(total * sizeof(cc_node *));
    cc_node **all_values = cc_malloc(total * sizeof(cc_node *));
    xmap *m = NULL;
    if (all_keys != NULL && all_values != NULL) {
        memcpy(all_keys, d->map0->keys, (size_t)n0 * sizeof(cc_node *));
        memcpy(all_values, d->map0->values, (size_t)n0 * sizeof(cc_node *));
        memcpy(all_keys + n0, keys, (size_t)n * sizeof(cc_node *));
        memcpy(all_values + n0, values, (size_t)n * sizeof(cc_node *));
        m = xmap_get(d->x, n0 + n, all_keys, all_values);
    }
    cc_free(all_keys);
    cc_free(all_values);
    return m == NULL ? NULL : run(d->x, body, m);
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
    xdriver d = {.x = x, .map0 = map0};
    char what[200];
    int64_t bshape[CC_MAX_NDIM];
    cc_expand_call e = {.c = c,
                        .inputs = inputs,
                        .n = n,
                        .bshape = bshape,
                        .what = what,
                        .rerun_body = rerun_body,
                        .driver = &d};
    cc_node_describe(c->kind, c->name, what, sizeof(what));
    size_t count = (size_t)(n > 0 ? n : 1);
    int *br = cc_malloc(count * sizeof(int));
    int *ndims = cc_malloc(count * sizeof(int));
    const int64_t **shapes = cc_malloc(count * sizeof(int64_t *));
    cc_node **xs = cc_calloc(count, sizeof(cc_node *));
    cc_node *out = NULL;
    e.br = br;
    e.xs = xs;
    if (br == NULL || ndims == NULL || shapes == NULL || xs == NULL) {
        goto done;
    }
    int too_low = 0;
    for (int i = 0; i < n; i++) {
        br[i] = inputs[i]->ndim - c->children[i]->ndim;
        too_low |= br[i] < 0;
        ndims[i] = br[i] > 0 ? br[i] : 0;
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
    if (cc_shape_right_align(n, ndims, shapes, &e.batch_rank, bshape) < 0) {
        cc_error_prefix("batch shapes didn't match (expand) for %s", e.what);
        goto done;
    }
    cc_node *(*expand)(const cc_expand_call *) = cc_kind_ops_of(c->kind)->expand;
    if (expand == NULL) {
        cc_fail(CC_E_EXPAND_NODE_UNHANDLED_VARIANT,
                "trying to expand node, unknown variant %s (%s)",
                cc_kind_get_info(c->kind)->py_name, what);
        goto done;
    }
    out = expand(&e);
    if (out != NULL && out->ndim != c->ndim + e.batch_rank) {
        cc_fail(CC_E_PY_RUNTIME, "%s: expansion gave rank %d, expected %d + %d batch axes", e.what,
                out->ndim, c->ndim, e.batch_rank);
        cc_node_decref(out);
        out = NULL;
    }
done:
    if (xs != NULL) {
        decref_all(xs, n);
    }
    cc_free(xs);
    cc_free(br);
    cc_free(ndims);
    cc_free(shapes);
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

// The map of child 0 of node: map without the symbols a binding kind (a Module) binds there.
static xmap *
body_map(xctx *x, xmap *map, const cc_node *node)
{
    int (*binding)(const cc_node *, int, cc_child_binding *) =
        cc_kind_ops_of(node->kind)->child_binding;
    if (binding == NULL) {
        return map;
    }
    int binds = 0;
    cc_child_binding b;
    for (int j = 1; j < node->n_children && !binds; j++) {
        binds = binding(node, j, &b) && cc_hmap_get(&map->index, b.symbol->hash) != NULL;
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
            for (int j = 1; j < node->n_children && !bound; j++) {
                bound = binding(node, j, &b) && memcmp(b.symbol->hash, map->keys[i]->hash, 32) == 0;
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

// out (stolen), or NULL when the symbolic size constraints in it cannot all hold: rc checks
// them on every node it builds, so the expansion of circuit fails there.
static cc_node *
checked(const cc_node *circuit, cc_node *out)
{
    if (out == NULL || out == circuit) {
        return out;
    }
    char desc[160], what[200];
    cc_node_describe(circuit->kind, circuit->name, desc, sizeof(desc));
    snprintf(what, sizeof(what), "expanding %s", desc);
    if (cc_size_constraints_check_circuit(out, what) < 0) {
        cc_node_decref(out);
        return NULL;
    }
    return out;
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
    return checked(circuit, out);
}

cc_node *
cc_expand_node_rerun(const cc_node *circuit, cc_node *const *inputs, cc_expand_rerun rerun,
                     void *ctx)
{
    xctx x;
    xctx_init(&x);
    x.rerun = rerun;
    x.rerun_ctx = ctx;
    cc_node *out = NULL;
    xmap *empty = xmap_get(&x, 0, NULL, NULL);
    if (empty != NULL) {
        out = expand_node_impl(&x, empty, circuit, inputs);
    }
    xctx_clear(&x);
    return checked(circuit, out);
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
    return checked(circuit, out);
}
