// Iterative-matcher states: construction in canonical form (chain sets sorted by hash, unions
// of unions flattened, one-chain unions collapsed), structural hashes, the step function and
// iterative freeing. Steps recurse only over a state's own structure, whose depth construction
// caps at CC_MATCH_MAX_DEPTH.
#include "match/iterative.h"

#include <stdlib.h>
#include <string.h>

#include "expand/module.h"
#include "match/match_kind.h"
#include "util/alloc.h"
#include "util/blake3.h"
#include "util/error.h"
#include "util/vec.h"

// --- allocation, hashing, freeing -------------------------------------------------------------

static void
hash_u32(cc_blake3 *h, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    cc_blake3_update(h, b, 4);
}

void
cc_imatcher_incref(cc_imatcher *m)
{
    if (m != NULL) {
        m->refcount++;
    }
}

typedef struct {
    cc_ptrvec states;
    cc_ptrvec chains;
} dead_lists;

struct imatcher_kind CC_MATCH_KIND_OPS(cc_imatcher, dead_lists);

// The per-kind operations (defined below) and the table of kinds.
#define CC_IMATCHER_KIND(E, tag, head, rel, desc, val)                                             \
    static void release_##rel(cc_imatcher *m, dead_lists *dead);                                   \
    static int describe_##desc(const cc_imatcher *m, cc_str *out);                                 \
    static int validate_##val(const cc_imatcher *m, cc_node *const *found, int64_t n_found);
#include "match/kinds.def"

static const struct imatcher_kind kinds[] = {
#define CC_IMATCHER_KIND(E, tag, head, rel, desc, val)                                             \
    [CC_IM_##E] = {tag, head, release_##rel, describe_##desc, validate_##val},
#include "match/kinds.def"
};

// A new state of kind (refcount 1, depth 1), with h started as its structural hash.
static cc_imatcher *
alloc_im(cc_imatcher_kind kind, cc_blake3 *h)
{
    cc_imatcher *m = cc_calloc(1, sizeof(cc_imatcher));
    if (m != NULL) {
        m->refcount = 1;
        m->kind = kind;
        m->depth = 1;
        cc_match_hash_begin(h, "circuits.imatcher.", kinds[kind].tag);
    }
    return m;
}

static void release_state(cc_imatcher *m, dead_lists *dead);
static void release_chain(cc_chain *c, dead_lists *dead);

static void
drop_state(cc_imatcher *m, dead_lists *dead)
{
    if (m == NULL || --m->refcount > 0) {
        return;
    }
    if (cc_ptrvec_push(&dead->states, m) < 0) {
        // No memory for the worklist: free it here; the depth of a state is capped.
        cc_error_clear();
        release_state(m, dead);
    }
}

static void
drop_chain(cc_chain *c, dead_lists *dead)
{
    if (--c->refcount > 0) {
        return;
    }
    if (cc_ptrvec_push(&dead->chains, c) < 0) {
        cc_error_clear();
        release_chain(c, dead);
    }
}

static void
release_chain(cc_chain *c, dead_lists *dead)
{
    for (int i = 0; i < c->n; i++) {
        drop_state(c->items[i], dead);
    }
    cc_free(c);
}

static void
release_state(cc_imatcher *m, dead_lists *dead)
{
    kinds[m->kind].release(m, dead);
    cc_free(m);
}

static void
drain(dead_lists *dead)
{
    while (dead->states.len > 0 || dead->chains.len > 0) {
        if (dead->states.len > 0) {
            release_state(dead->states.items[--dead->states.len], dead);
        } else {
            release_chain(dead->chains.items[--dead->chains.len], dead);
        }
    }
    cc_ptrvec_clear(&dead->states);
    cc_ptrvec_clear(&dead->chains);
}

void
cc_imatcher_decref(cc_imatcher *m)
{
    if (m == NULL || --m->refcount > 0) {
        return;
    }
    dead_lists dead;
    cc_ptrvec_init(&dead.states);
    cc_ptrvec_init(&dead.chains);
    release_state(m, &dead);
    drain(&dead);
}

static void
chain_decref(cc_chain *c)
{
    if (c == NULL || --c->refcount > 0) {
        return;
    }
    dead_lists dead;
    cc_ptrvec_init(&dead.states);
    cc_ptrvec_init(&dead.chains);
    release_chain(c, &dead);
    drain(&dead);
}

// Sets m's depth from its deepest part; frees m and fails past the cap.
static cc_imatcher *
with_depth(cc_imatcher *m, int inner_depth)
{
    m->depth = inner_depth + 1;
    if (m->depth > CC_MATCH_MAX_DEPTH) {
        cc_imatcher_decref(m);
        return cc_fail_null(CC_E_PY_VALUE, "iterative matcher nested more than %d levels deep",
                            CC_MATCH_MAX_DEPTH);
    }
    return m;
}

// --- constructors -----------------------------------------------------------------------------

cc_imatcher *
cc_imatcher_match(cc_matcher *matcher)
{
    cc_blake3 h;
    cc_imatcher *m = alloc_im(CC_IM_MATCH, &h);
    if (m == NULL) {
        return NULL;
    }
    cc_matcher_incref(matcher);
    m->u.match = matcher;
    cc_blake3_update(&h, matcher->hash, 32);
    cc_blake3_final(&h, m->hash, 32);
    return with_depth(m, matcher->depth);
}

cc_imatcher *
cc_imatcher_term(int found)
{
    cc_blake3 h;
    cc_imatcher *m = alloc_im(CC_IM_TERM, &h);
    if (m == NULL) {
        return NULL;
    }
    m->u.term_found = found != 0;
    uint8_t b = (uint8_t)m->u.term_found;
    cc_blake3_update(&h, &b, 1);
    cc_blake3_final(&h, m->hash, 32);
    return m;
}

static cc_imatcher *
restrict_at(cc_imatcher *inner, int term_if_matches, int has_start, uint32_t start, int has_end,
            uint32_t end, cc_matcher *term_early_at, uint32_t depth)
{
    cc_blake3 h;
    cc_imatcher *m = alloc_im(CC_IM_RESTRICT, &h);
    if (m == NULL) {
        return NULL;
    }
    cc_imatcher_incref(inner);
    cc_matcher_incref(term_early_at);
    m->u.restrict_.inner = inner;
    m->u.restrict_.term_early_at = term_early_at;
    m->u.restrict_.term_if_matches = term_if_matches != 0;
    m->u.restrict_.has_start = has_start != 0;
    m->u.restrict_.has_end = has_end != 0;
    m->u.restrict_.start = has_start ? start : 0;
    m->u.restrict_.end = has_end ? end : 0;
    m->u.restrict_.depth = depth;
    cc_blake3_update(&h, inner->hash, 32);
    cc_blake3_update(&h, term_early_at->hash, 32);
    uint8_t flags[3] = {(uint8_t)m->u.restrict_.term_if_matches, (uint8_t)m->u.restrict_.has_start,
                        (uint8_t)m->u.restrict_.has_end};
    cc_blake3_update(&h, flags, 3);
    hash_u32(&h, m->u.restrict_.start);
    hash_u32(&h, m->u.restrict_.end);
    hash_u32(&h, depth);
    cc_blake3_final(&h, m->hash, 32);
    int d = inner->depth > term_early_at->depth ? inner->depth : term_early_at->depth;
    return with_depth(m, d);
}

cc_imatcher *
cc_imatcher_restrict(cc_imatcher *inner, int term_if_matches, int has_start, uint32_t start,
                     int has_end, uint32_t end, cc_matcher *term_early_at)
{
    return restrict_at(inner, term_if_matches, has_start, start, has_end, end, term_early_at, 0);
}

// The same restriction around another inner state, at another depth.
static cc_imatcher *
restrict_like(const cc_imatcher *r, cc_imatcher *inner, uint32_t depth)
{
    const cc_im_restrict *p = &r->u.restrict_;
    return restrict_at(inner, p->term_if_matches, p->has_start, p->start, p->has_end, p->end,
                       p->term_early_at, depth);
}

static int
compare_int(const void *a, const void *b)
{
    int x = *(const int *)a;
    int y = *(const int *)b;
    return (x > y) - (x < y);
}

cc_imatcher *
cc_imatcher_children(cc_imatcher *inner, int n, const int *numbers)
{
    cc_blake3 h;
    cc_imatcher *m = alloc_im(CC_IM_CHILDREN, &h);
    if (m == NULL) {
        return NULL;
    }
    m->u.children.numbers = cc_malloc((n > 0 ? (size_t)n : 1) * sizeof(int));
    if (m->u.children.numbers == NULL) {
        cc_free(m);
        return NULL;
    }
    cc_imatcher_incref(inner);
    m->u.children.inner = inner;
    if (n > 0) {
        memcpy(m->u.children.numbers, numbers, (size_t)n * sizeof(int));
    }
    qsort(m->u.children.numbers, (size_t)n, sizeof(int), compare_int);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (kept == 0 || m->u.children.numbers[kept - 1] != m->u.children.numbers[i]) {
            m->u.children.numbers[kept++] = m->u.children.numbers[i];
        }
    }
    m->u.children.n = kept;
    cc_blake3_update(&h, inner->hash, 32);
    for (int i = 0; i < kept; i++) {
        hash_u32(&h, (uint32_t)m->u.children.numbers[i]);
    }
    cc_blake3_final(&h, m->hash, 32);
    return with_depth(m, inner->depth);
}

static cc_chain *
chain_new(int n, cc_imatcher *const *items)
{
    cc_chain *c = cc_malloc(sizeof(cc_chain) + (size_t)n * sizeof(cc_imatcher *));
    if (c == NULL) {
        return NULL;
    }
    c->refcount = 1;
    c->n = n;
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, "circuits.chain", 15);
    for (int i = 0; i < n; i++) {
        cc_imatcher_incref(items[i]);
        c->items[i] = items[i];
        cc_blake3_update(&h, items[i]->hash, 32);
    }
    cc_blake3_final(&h, c->hash, 32);
    return c;
}

// [first] followed by c's items after position j.
static cc_chain *
chain_with_first(cc_imatcher *first, const cc_chain *c, int j)
{
    int n = c->n - j;
    cc_imatcher *local[8];
    cc_imatcher **items = n <= 8 ? local : cc_malloc((size_t)n * sizeof(cc_imatcher *));
    if (items == NULL) {
        return NULL;
    }
    items[0] = first;
    memcpy(items + 1, c->items + j + 1, (size_t)(n - 1) * sizeof(cc_imatcher *));
    cc_chain *out = chain_new(n, items);
    if (items != local) {
        cc_free(items);
    }
    return out;
}

static int
compare_chain_hash(const void *a, const void *b)
{
    return memcmp((*(cc_chain *const *)a)->hash, (*(cc_chain *const *)b)->hash, 32);
}

// The canonical list of a union of chains (borrowed in, borrowed out, in *out): a one-item
// chain whose item is itself a union contributes that union's chains; sorted by hash,
// distinct. *out is cc_malloc'd.
static int
canonical_chains(int n, cc_chain *const *chains, cc_chain ***out, int *n_out)
{
    int total = 0;
    for (int i = 0; i < n; i++) {
        const cc_chain *c = chains[i];
        total += (c->n == 1 && c->items[0]->kind == CC_IM_CHAINS) ? c->items[0]->u.chains.n : 1;
    }
    cc_chain **list = cc_malloc((total > 0 ? (size_t)total : 1) * sizeof(cc_chain *));
    if (list == NULL) {
        return -1;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        cc_chain *c = chains[i];
        if (c->n == 1 && c->items[0]->kind == CC_IM_CHAINS) {
            const cc_imatcher *u = c->items[0];
            memcpy(list + k, u->u.chains.items, (size_t)u->u.chains.n * sizeof(cc_chain *));
            k += u->u.chains.n;
        } else {
            list[k++] = c;
        }
    }
    qsort(list, (size_t)k, sizeof(cc_chain *), compare_chain_hash);
    int kept = 0;
    for (int i = 0; i < k; i++) {
        if (kept == 0 || memcmp(list[kept - 1]->hash, list[i]->hash, 32) != 0) {
            list[kept++] = list[i];
        }
    }
    *out = list;
    *n_out = kept;
    return 0;
}

// A union state over an already canonical list (borrowed); one chain of one item is that item.
static cc_imatcher *
chains_from_canonical(int n, cc_chain *const *list)
{
    if (n == 1 && list[0]->n == 1) {
        cc_imatcher_incref(list[0]->items[0]);
        return list[0]->items[0];
    }
    cc_blake3 h;
    cc_imatcher *m = alloc_im(CC_IM_CHAINS, &h);
    if (m == NULL) {
        return NULL;
    }
    m->u.chains.items = cc_malloc((n > 0 ? (size_t)n : 1) * sizeof(cc_chain *));
    if (m->u.chains.items == NULL) {
        cc_free(m);
        return NULL;
    }
    m->u.chains.n = n;
    int depth = 0;
    for (int i = 0; i < n; i++) {
        list[i]->refcount++;
        m->u.chains.items[i] = list[i];
        cc_blake3_update(&h, list[i]->hash, 32);
        for (int j = 0; j < list[i]->n; j++) {
            depth = list[i]->items[j]->depth > depth ? list[i]->items[j]->depth : depth;
        }
    }
    cc_blake3_final(&h, m->hash, 32);
    return with_depth(m, depth);
}

static cc_imatcher *
chains_state(int n, cc_chain *const *chains)
{
    cc_chain **list;
    int k;
    if (canonical_chains(n, chains, &list, &k) < 0) {
        return NULL;
    }
    cc_imatcher *m = chains_from_canonical(k, list);
    cc_free(list);
    return m;
}

cc_imatcher *
cc_imatcher_chains(int n_chains, const int *lens, cc_imatcher *const *items, int must_be_sub)
{
    cc_chain **chains = cc_calloc(n_chains > 0 ? (size_t)n_chains : 1, sizeof(cc_chain *));
    cc_matcher *never = must_be_sub ? cc_matcher_always(0) : NULL;
    cc_imatcher *out = NULL;
    if (chains == NULL || (must_be_sub && never == NULL)) {
        goto done;
    }
    int at = 0;
    for (int c = 0; c < n_chains; c++) {
        if (lens[c] < 1) {
            cc_fail(CC_E_PY_VALUE, "Received empty tuple for a chain, we expect len >= 1");
            goto done;
        }
        cc_imatcher **wrapped = cc_calloc((size_t)lens[c], sizeof(cc_imatcher *));
        if (wrapped == NULL) {
            goto done;
        }
        int ok = 1;
        for (int i = 0; i < lens[c] && ok; i++) {
            cc_imatcher *x = items[at + i];
            wrapped[i] = (i > 0 && must_be_sub) ? restrict_at(x, 0, 1, 1, 0, 0, never, 0) : x;
            if (wrapped[i] == NULL) {
                ok = 0;
            } else if (wrapped[i] == x) {
                cc_imatcher_incref(x);
            }
        }
        chains[c] = ok ? chain_new(lens[c], wrapped) : NULL;
        for (int i = 0; i < lens[c]; i++) {
            cc_imatcher_decref(wrapped[i]);
        }
        cc_free(wrapped);
        if (chains[c] == NULL) {
            goto done;
        }
        at += lens[c];
    }
    out = chains_state(n_chains, chains);
done:
    for (int c = 0; chains != NULL && c < n_chains; c++) {
        chain_decref(chains[c]);
    }
    cc_free(chains);
    cc_matcher_decref(never);
    return out;
}

cc_imatcher *
cc_imatcher_any(int n, cc_imatcher *const *ms)
{
    int *lens = cc_malloc((n > 0 ? (size_t)n : 1) * sizeof(int));
    if (lens == NULL) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        lens[i] = 1;
    }
    cc_imatcher *out = cc_imatcher_chains(n, lens, ms, 0);
    cc_free(lens);
    return out;
}

cc_imatcher *
cc_imatcher_all(int n, cc_imatcher *const *ms)
{
    int total = 0;
    for (int i = 0; i < n; i++) {
        total += ms[i]->kind == CC_IM_ALL ? ms[i]->u.all.n : 1;
    }
    cc_blake3 h;
    cc_imatcher *m = alloc_im(CC_IM_ALL, &h);
    if (m == NULL) {
        return NULL;
    }
    m->u.all.items = cc_malloc((total > 0 ? (size_t)total : 1) * sizeof(cc_imatcher *));
    if (m->u.all.items == NULL) {
        cc_free(m);
        return NULL;
    }
    int k = 0;
    int depth = 0;
    for (int i = 0; i < n; i++) {
        int splice = ms[i]->kind == CC_IM_ALL;
        int count = splice ? ms[i]->u.all.n : 1;
        for (int j = 0; j < count; j++) {
            cc_imatcher *x = splice ? ms[i]->u.all.items[j] : ms[i];
            cc_imatcher_incref(x);
            m->u.all.items[k++] = x;
            cc_blake3_update(&h, x->hash, 32);
            depth = x->depth > depth ? x->depth : depth;
        }
    }
    m->u.all.n = k;
    cc_blake3_final(&h, m->hash, 32);
    return with_depth(m, depth);
}

cc_imatcher *
cc_imatcher_func(const cc_imatch_callback *cb)
{
    cc_blake3 h;
    cc_imatcher *m = alloc_im(CC_IM_FUNC, &h);
    if (m == NULL) {
        return NULL;
    }
    char *label = cc_strdup(cb->label != NULL ? cb->label : "function");
    if (label == NULL) {
        cc_free(m);
        return NULL;
    }
    m->u.func.cb = *cb;
    m->u.func.cb.label = label;
    if (cb->incref != NULL) {
        cb->incref(cb->ctx);
    }
    cc_blake3_update(&h, cb->identity, 32);
    cc_blake3_final(&h, m->hash, 32);
    return m;
}

static cc_imatcher *
module_kind(cc_imatcher_kind kind, cc_imatcher *inner, cc_matcher *arg_symbol)
{
    cc_blake3 h;
    cc_imatcher *m = alloc_im(kind, &h);
    if (m == NULL) {
        return NULL;
    }
    cc_imatcher_incref(inner);
    cc_matcher_incref(arg_symbol);
    m->u.module.inner = inner;
    m->u.module.arg_symbol = arg_symbol;
    cc_blake3_update(&h, inner->hash, 32);
    int depth = inner->depth;
    if (arg_symbol != NULL) {
        cc_blake3_update(&h, arg_symbol->hash, 32);
        depth = arg_symbol->depth > depth ? arg_symbol->depth : depth;
    }
    cc_blake3_final(&h, m->hash, 32);
    return with_depth(m, depth);
}

cc_imatcher *
cc_imatcher_no_module_spec(cc_imatcher *inner)
{
    return module_kind(CC_IM_NO_MODULE_SPEC, inner, NULL);
}

cc_imatcher *
cc_imatcher_spec_circuit(cc_imatcher *inner)
{
    return module_kind(CC_IM_SPEC_CIRCUIT, inner, NULL);
}

cc_imatcher *
cc_imatcher_module_arg(cc_imatcher *inner, cc_matcher *arg_symbol)
{
    return module_kind(CC_IM_MODULE_ARG, inner, arg_symbol);
}

// --- steps ------------------------------------------------------------------------------------

void
cc_step_init(cc_step *s)
{
    s->found = 0;
    s->kind = CC_STEP_SAME;
    s->one = NULL;
    s->n = 0;
    s->per_child = NULL;
}

void
cc_step_clear(cc_step *s)
{
    cc_imatcher_decref(s->one);
    for (int i = 0; s->per_child != NULL && i < s->n; i++) {
        cc_imatcher_decref(s->per_child[i]);
    }
    cc_free(s->per_child);
    cc_step_init(s);
}

int
cc_step_all_finished(const cc_step *s)
{
    if (s->kind == CC_STEP_FINISHED) {
        return 1;
    }
    if (s->kind != CC_STEP_PER_CHILD) {
        return 0;
    }
    for (int i = 0; i < s->n; i++) {
        if (s->per_child[i] != NULL) {
            return 0;
        }
    }
    return 1;
}

// The state child i gets after s was applied by `applied` (borrowed; NULL: not visited).
static cc_imatcher *
state_for_child(const cc_step *s, cc_imatcher *applied, int i)
{
    switch (s->kind) {
    case CC_STEP_SAME:
        return applied;
    case CC_STEP_ONE:
        return s->one;
    case CC_STEP_PER_CHILD:
        return s->per_child[i];
    default:
        return NULL;
    }
}

static int
set_finished(cc_step *out, int found)
{
    cc_step_clear(out);
    out->kind = CC_STEP_FINISHED;
    out->found = found;
    return 0;
}

static int
alloc_per_child(cc_step *out, int n)
{
    out->per_child = cc_calloc(n > 0 ? (size_t)n : 1, sizeof(cc_imatcher *));
    if (out->per_child == NULL) {
        return -1;
    }
    out->kind = CC_STEP_PER_CHILD;
    out->n = n;
    return 0;
}

// A wrapper kind's successor: the same wrapper around a new inner state.
typedef cc_imatcher *(*wrap_fn)(const cc_imatcher *self, cc_imatcher *inner);

// Rewrites s (the inner state's step) so that ONE and PER_CHILD states are wrapped like self;
// SAME and FINISHED stay.
static int
map_updated(cc_step *s, const cc_imatcher *self, wrap_fn wrap)
{
    if (s->kind == CC_STEP_ONE) {
        cc_imatcher *w = wrap(self, s->one);
        if (w == NULL) {
            return -1;
        }
        cc_imatcher_decref(s->one);
        s->one = w;
    } else if (s->kind == CC_STEP_PER_CHILD) {
        for (int i = 0; i < s->n; i++) {
            if (s->per_child[i] == NULL) {
                continue;
            }
            cc_imatcher *w = wrap(self, s->per_child[i]);
            if (w == NULL) {
                return -1;
            }
            cc_imatcher_decref(s->per_child[i]);
            s->per_child[i] = w;
        }
    }
    return 0;
}

static cc_imatcher *
wrap_restrict_same_depth(const cc_imatcher *self, cc_imatcher *inner)
{
    return restrict_like(self, inner, self->u.restrict_.depth);
}

static cc_imatcher *
wrap_restrict_deeper(const cc_imatcher *self, cc_imatcher *inner)
{
    return restrict_like(self, inner, self->u.restrict_.depth + 1);
}

static int
step_restrict(cc_imatcher *m, const cc_node *n, cc_step *out)
{
    const cc_im_restrict *r = &m->u.restrict_;
    if (r->has_end && r->depth >= r->end) {
        return set_finished(out, 0);
    }
    if (cc_imatcher_step(r->inner, n, out) < 0) {
        return -1;
    }
    int before_start = r->has_start && r->depth < r->start;
    int found = out->found && !before_start;
    int reached_end = r->has_end && r->depth >= (r->end > 0 ? r->end - 1 : 0);
    int stop = cc_step_all_finished(out) || (found && r->term_if_matches) || reached_end;
    if (!stop) {
        if (cc_matcher_match(r->term_early_at, n, &stop) < 0) {
            return -1;
        }
    }
    if (stop) {
        return set_finished(out, found);
    }
    out->found = found;
    if (!r->has_end && !before_start) {
        // The depth no longer matters: children see the same restriction.
        return map_updated(out, m, wrap_restrict_same_depth);
    }
    if (out->kind == CC_STEP_SAME) {
        if (m->u.restrict_.deeper == NULL) {
            m->u.restrict_.deeper = restrict_like(m, r->inner, r->depth + 1);
            if (m->u.restrict_.deeper == NULL) {
                return -1;
            }
        }
        cc_imatcher_incref(m->u.restrict_.deeper);
        out->kind = CC_STEP_ONE;
        out->one = m->u.restrict_.deeper;
        return 0;
    }
    return map_updated(out, m, wrap_restrict_deeper);
}

static cc_imatcher *
wrap_children(const cc_imatcher *self, cc_imatcher *inner)
{
    if (inner == self->u.children.inner) {
        cc_imatcher_incref((cc_imatcher *)self);
        return (cc_imatcher *)self;
    }
    return cc_imatcher_children(inner, self->u.children.n, self->u.children.numbers);
}

static cc_imatcher *
wrap_module(const cc_imatcher *self, cc_imatcher *inner)
{
    if (inner == self->u.module.inner) {
        cc_imatcher_incref((cc_imatcher *)self);
        return (cc_imatcher *)self;
    }
    return module_kind(self->kind, inner, self->u.module.arg_symbol);
}

// Child states after a wrapper's inner state found n: child i gets the wrapped inner successor
// (when there is one) and, when found_child[i], also term(True) - the union of both. Every
// child is visited, as rc's special_case_any: one that gets neither gets term(False), which
// finds nothing there but still lets the other members of an enclosing all() step it.
static int
found_children_step(const cc_imatcher *self, cc_imatcher *inner, wrap_fn wrap, cc_step *inner_step,
                    const uint8_t *found_child, int n_children, cc_step *out)
{
    cc_step result;
    cc_step_init(&result);
    cc_imatcher *terms[2] = {NULL, NULL}; // term(False), term(True), made when first needed
    if (alloc_per_child(&result, n_children) < 0) {
        return -1;
    }
    for (int i = 0; i < n_children; i++) {
        cc_imatcher *next = state_for_child(inner_step, inner, i);
        cc_imatcher *wrapped = next != NULL ? wrap(self, next) : NULL;
        if (next != NULL && wrapped == NULL) {
            goto fail;
        }
        if (!found_child[i] && wrapped != NULL) {
            result.per_child[i] = wrapped;
            continue;
        }
        cc_imatcher **term = &terms[found_child[i] ? 1 : 0];
        if (*term == NULL && (*term = cc_imatcher_term(found_child[i])) == NULL) {
            cc_imatcher_decref(wrapped);
            goto fail;
        }
        if (wrapped == NULL) {
            cc_imatcher_incref(*term);
            result.per_child[i] = *term;
            continue;
        }
        cc_imatcher *both[2] = {wrapped, *term};
        result.per_child[i] = cc_imatcher_any(2, both);
        cc_imatcher_decref(wrapped);
        if (result.per_child[i] == NULL) {
            goto fail;
        }
    }
    cc_imatcher_decref(terms[0]);
    cc_imatcher_decref(terms[1]);
    cc_step_clear(out);
    *out = result;
    out->found = 0;
    return 0;
fail:
    cc_imatcher_decref(terms[0]);
    cc_imatcher_decref(terms[1]);
    cc_step_clear(&result);
    return -1;
}

static int
step_children(cc_imatcher *m, const cc_node *n, cc_step *out)
{
    if (cc_imatcher_step(m->u.children.inner, n, out) < 0) {
        return -1;
    }
    if (!out->found) {
        return map_updated(out, m, wrap_children);
    }
    int nc = n->n_children;
    for (int i = 0; i < m->u.children.n; i++) {
        if (m->u.children.numbers[i] >= nc) {
            cc_str s;
            cc_str_init(&s);
            for (int j = 0; j < m->u.children.n; j++) {
                cc_str_appendf(&s, "%s%d", j ? ", " : "", m->u.children.numbers[j]);
            }
            cc_fail(CC_E_ITERATIVE_MATCHER_CHILD_NUMBERS_OUT_OF_BOUNDS,
                    "some child_numbers={%s} >= num_children=%d (at %s '%s')",
                    s.data != NULL ? s.data : "", nc, cc_kind_get_info(n->kind)->py_name,
                    n->name != NULL ? n->name : "");
            cc_str_clear(&s);
            return -1;
        }
    }
    uint8_t local[64];
    uint8_t *found_child = nc <= 64 ? local : cc_calloc((size_t)nc, 1);
    if (found_child == NULL) {
        return -1;
    }
    memset(found_child, 0, (size_t)nc);
    for (int i = 0; i < m->u.children.n; i++) {
        found_child[m->u.children.numbers[i]] = 1;
    }
    int rc = found_children_step(m, m->u.children.inner, wrap_children, out, found_child, nc, out);
    if (found_child != local) {
        cc_free(found_child);
    }
    return rc;
}

static int
expect_module(const cc_node *n)
{
    if (n->kind == CC_KIND_MODULE) {
        return 0;
    }
    return cc_fail(CC_E_ITERATIVE_MATCHER_EXPECTED_MODULE,
                   "matched circuit of type %s ('%s') is not a module",
                   cc_kind_get_info(n->kind)->py_name, n->name != NULL ? n->name : "");
}

static int
step_module(cc_imatcher *m, const cc_node *n, cc_step *out)
{
    cc_imatcher *inner = m->u.module.inner;
    if (cc_imatcher_step(inner, n, out) < 0) {
        return -1;
    }
    int nc = n->n_children;
    if (m->kind == CC_IM_NO_MODULE_SPEC) {
        if (n->kind != CC_KIND_MODULE || cc_step_all_finished(out)) {
            return map_updated(out, m, wrap_module);
        }
        // Children 1.. (the arguments) continue; child 0 (the body) is not entered.
        cc_step result;
        cc_step_init(&result);
        if (alloc_per_child(&result, nc) < 0) {
            return -1;
        }
        for (int i = 1; i < nc; i++) {
            cc_imatcher *next = state_for_child(out, inner, i);
            if (next == NULL) {
                continue;
            }
            result.per_child[i] = wrap_module(m, next);
            if (result.per_child[i] == NULL) {
                cc_step_clear(&result);
                return -1;
            }
        }
        result.found = out->found;
        cc_step_clear(out);
        *out = result;
        return 0;
    }
    if (!out->found) {
        return map_updated(out, m, wrap_module);
    }
    if (expect_module(n) < 0) {
        return -1;
    }
    uint8_t local[64];
    uint8_t *found_child = nc <= 64 ? local : cc_calloc((size_t)nc, 1);
    if (found_child == NULL) {
        return -1;
    }
    memset(found_child, 0, (size_t)nc);
    int rc = 0;
    for (int i = 0; i < nc && rc == 0; i++) {
        if (m->kind == CC_IM_SPEC_CIRCUIT) {
            found_child[i] = i == 0;
        } else if (i > 0) {
            int r = 0;
            rc = cc_matcher_match(m->u.module.arg_symbol, n->u.module.arg_specs[i - 1].symbol, &r);
            found_child[i] = (uint8_t)r;
        }
    }
    if (rc == 0) {
        rc = found_children_step(m, inner, wrap_module, out, found_child, nc, out);
    }
    if (found_child != local) {
        cc_free(found_child);
    }
    return rc;
}

// Chains being collected during a union's step: chains for every child, and per-child arrays.
typedef struct {
    cc_ptrvec singles; // cc_chain *, owned
    cc_ptrvec manys;   // cc_chain ** of n_children entries (NULL allowed), owned
    int n_children;
} chain_sink;

static void
sink_clear(chain_sink *k)
{
    for (size_t i = 0; i < k->singles.len; i++) {
        chain_decref(k->singles.items[i]);
    }
    for (size_t i = 0; i < k->manys.len; i++) {
        cc_chain **arr = k->manys.items[i];
        for (int c = 0; c < k->n_children; c++) {
            chain_decref(arr[c]);
        }
        cc_free(arr);
    }
    cc_ptrvec_clear(&k->singles);
    cc_ptrvec_clear(&k->manys);
}

// Runs chain c on n, given the step of its head (consumed): records the continuing chains in
// k; *finished = 1 when the last item found n.
static int
run_chain(cc_chain *c, const cc_node *n, cc_step *head, chain_sink *k, int *finished)
{
    for (int j = 0; j < c->n; j++) {
        cc_step s = *head;
        cc_step_init(head);
        if (j > 0 && cc_imatcher_step(c->items[j], n, &s) < 0) {
            return -1;
        }
        if (!cc_step_all_finished(&s)) {
            if (s.kind == CC_STEP_PER_CHILD) {
                cc_chain **arr = cc_calloc(s.n > 0 ? (size_t)s.n : 1, sizeof(cc_chain *));
                if (arr == NULL || cc_ptrvec_push(&k->manys, arr) < 0) {
                    cc_free(arr);
                    cc_step_clear(&s);
                    return -1;
                }
                for (int i = 0; i < s.n; i++) {
                    if (s.per_child[i] == NULL) {
                        continue;
                    }
                    arr[i] = chain_with_first(s.per_child[i], c, j);
                    if (arr[i] == NULL) {
                        cc_step_clear(&s);
                        return -1;
                    }
                }
            } else {
                cc_chain *next;
                if (s.kind == CC_STEP_ONE) {
                    next = chain_with_first(s.one, c, j);
                } else if (j == 0) {
                    c->refcount++;
                    next = c;
                } else {
                    next = chain_new(c->n - j, c->items + j);
                }
                if (next == NULL || cc_ptrvec_push(&k->singles, next) < 0) {
                    chain_decref(next);
                    cc_step_clear(&s);
                    return -1;
                }
            }
        }
        int found = s.found;
        cc_step_clear(&s);
        if (!found) {
            return 0;
        }
        if (j == c->n - 1) {
            *finished = 1;
        }
    }
    return 0;
}

static int
same_chain_list(const cc_imatcher *m, int n, cc_chain *const *list)
{
    if (n != m->u.chains.n) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (list[i] != m->u.chains.items[i] &&
            memcmp(list[i]->hash, m->u.chains.items[i]->hash, 32) != 0) {
            return 0;
        }
    }
    return 1;
}

static int chains_general(cc_imatcher *m, const cc_node *n, cc_step *heads, cc_step *out);

static int
step_chains(cc_imatcher *m, const cc_node *n, cc_step *out)
{
    // The heads first: when every head stays the same and finds nothing, so does the union
    // (the common case, met at most nodes), and nothing needs allocating.
    int nh = m->u.chains.n;
    cc_step local[8];
    cc_step *heads = nh <= 8 ? local : cc_calloc((size_t)nh, sizeof(cc_step));
    if (heads == NULL) {
        return -1;
    }
    int unchanged = 1;
    int stepped = 0;
    int rc = -1;
    for (; stepped < nh; stepped++) {
        if (cc_imatcher_step(m->u.chains.items[stepped]->items[0], n, &heads[stepped]) < 0) {
            goto cleanup;
        }
        unchanged = unchanged && heads[stepped].kind == CC_STEP_SAME && !heads[stepped].found;
    }
    rc = unchanged ? 0 : chains_general(m, n, heads, out);
cleanup:
    for (int i = 0; i < stepped; i++) {
        cc_step_clear(&heads[i]);
    }
    if (heads != local) {
        cc_free(heads);
    }
    return rc;
}

// step_chains past the common case: heads holds the step of every chain's head (consumed).
static int
chains_general(cc_imatcher *m, const cc_node *n, cc_step *heads, cc_step *out)
{
    chain_sink k;
    cc_ptrvec_init(&k.singles);
    cc_ptrvec_init(&k.manys);
    k.n_children = n->n_children;
    int found = 0;
    int rc = -1;
    cc_chain **list = NULL;
    for (int i = 0; i < m->u.chains.n; i++) {
        if (run_chain(m->u.chains.items[i], n, &heads[i], &k, &found) < 0) {
            goto done;
        }
    }
    cc_step_clear(out);
    out->found = found;
    if (k.manys.len > 0) {
        int nc = n->n_children;
        size_t cap = k.singles.len + k.manys.len;
        list = cc_malloc(cap * sizeof(cc_chain *));
        if (list == NULL || alloc_per_child(out, nc) < 0) {
            goto done;
        }
        for (int c = 0; c < nc; c++) {
            size_t len = k.singles.len;
            if (len > 0) {
                memcpy(list, k.singles.items, len * sizeof(cc_chain *));
            }
            for (size_t j = 0; j < k.manys.len; j++) {
                cc_chain *x = ((cc_chain **)k.manys.items[j])[c];
                if (x != NULL) {
                    list[len++] = x;
                }
            }
            if (len > 0 && (out->per_child[c] = chains_state((int)len, list)) == NULL) {
                goto done;
            }
        }
        rc = 0;
        goto done;
    }
    if (k.singles.len == 0) {
        out->kind = CC_STEP_FINISHED;
        rc = 0;
        goto done;
    }
    int n_list;
    if (canonical_chains((int)k.singles.len, (cc_chain **)k.singles.items, &list, &n_list) < 0) {
        goto done;
    }
    if (same_chain_list(m, n_list, list)) {
        rc = 0;
        goto done;
    }
    out->one = chains_from_canonical(n_list, list);
    if (out->one == NULL) {
        goto done;
    }
    out->kind = CC_STEP_ONE;
    rc = 0;
done:
    cc_free(list);
    sink_clear(&k);
    return rc;
}

static int
step_all(cc_imatcher *m, const cc_node *n, cc_step *out)
{
    int count = m->u.all.n;
    cc_step *steps = cc_calloc(count > 0 ? (size_t)count : 1, sizeof(cc_step));
    cc_imatcher **members = cc_calloc(count > 0 ? (size_t)count : 1, sizeof(cc_imatcher *));
    int rc = -1;
    if (steps == NULL || members == NULL) {
        goto done;
    }
    int found = 1;
    int all_same = 1;
    int any_finished = 0;
    int any_per_child = 0;
    for (int i = 0; i < count; i++) {
        cc_step_init(&steps[i]);
        if (cc_imatcher_step(m->u.all.items[i], n, &steps[i]) < 0) {
            count = i + 1;
            goto done;
        }
        found = found && steps[i].found;
        all_same = all_same && steps[i].kind == CC_STEP_SAME;
        any_finished = any_finished || cc_step_all_finished(&steps[i]);
        any_per_child = any_per_child || steps[i].kind == CC_STEP_PER_CHILD;
    }
    cc_step_clear(out);
    out->found = found;
    if (all_same) {
        rc = 0;
        goto done;
    }
    if (any_finished) {
        out->kind = CC_STEP_FINISHED;
        rc = 0;
        goto done;
    }
    if (!any_per_child) {
        for (int i = 0; i < count; i++) {
            members[i] = state_for_child(&steps[i], m->u.all.items[i], 0);
        }
        out->one = cc_imatcher_all(count, members);
        out->kind = out->one != NULL ? CC_STEP_ONE : CC_STEP_SAME;
        rc = out->one != NULL ? 0 : -1;
        goto done;
    }
    int nc = n->n_children;
    if (alloc_per_child(out, nc) < 0) {
        goto done;
    }
    for (int c = 0; c < nc; c++) {
        int present = 1;
        for (int i = 0; i < count && present; i++) {
            members[i] = state_for_child(&steps[i], m->u.all.items[i], c);
            present = members[i] != NULL;
        }
        if (present && (out->per_child[c] = cc_imatcher_all(count, members)) == NULL) {
            goto done;
        }
    }
    rc = 0;
done:
    for (int i = 0; steps != NULL && i < count; i++) {
        cc_step_clear(&steps[i]);
    }
    cc_free(steps);
    cc_free(members);
    return rc;
}

static int
step_func(cc_imatcher *m, const cc_node *n, cc_step *out)
{
    if (m->u.func.cb.iterate(m->u.func.cb.ctx, n, out) < 0) {
        return -1;
    }
    if (out->kind == CC_STEP_PER_CHILD && out->n != n->n_children) {
        int got = out->n;
        cc_step_clear(out);
        return cc_fail(CC_E_ITERATIVE_MATCHER_NUM_UPDATED_MATCHERS_NEQTO_NUM_CHILDREN,
                       "num_updated_matchers=%d != num_children=%d at %s '%s' (from matcher %s)",
                       got, n->n_children, cc_kind_get_info(n->kind)->py_name,
                       n->name != NULL ? n->name : "", m->u.func.cb.label);
    }
    return 0;
}

static int
step_dispatch(cc_imatcher *m, const cc_node *n, cc_step *out)
{
    switch (m->kind) {
    case CC_IM_MATCH:
        return cc_matcher_match(m->u.match, n, &out->found);
    case CC_IM_TERM:
        out->kind = CC_STEP_FINISHED;
        out->found = m->u.term_found;
        return 0;
    case CC_IM_RESTRICT:
        return step_restrict(m, n, out);
    case CC_IM_CHILDREN:
        return step_children(m, n, out);
    case CC_IM_CHAINS:
        return step_chains(m, n, out);
    case CC_IM_ALL:
        return step_all(m, n, out);
    case CC_IM_FUNC:
        return step_func(m, n, out);
    case CC_IM_NO_MODULE_SPEC:
    case CC_IM_SPEC_CIRCUIT:
    case CC_IM_MODULE_ARG:
        return step_module(m, n, out);
    }
    return cc_fail(CC_E_PY_RUNTIME, "iterative matcher of unknown kind %d", (int)m->kind);
}

int
cc_imatcher_step(cc_imatcher *m, const cc_node *n, cc_step *out)
{
    cc_step_init(out);
    if (step_dispatch(m, n, out) < 0) {
        cc_step_clear(out);
        return -1;
    }
    return 0;
}

// --- per-kind operations (rows of match/kinds.def) -----------------------------------------

static void
release_none(cc_imatcher *m, dead_lists *dead)
{
    (void)m;
    (void)dead;
}

static void
release_match(cc_imatcher *m, dead_lists *dead)
{
    (void)dead;
    cc_matcher_decref(m->u.match);
}

static void
release_restrict(cc_imatcher *m, dead_lists *dead)
{
    drop_state(m->u.restrict_.inner, dead);
    drop_state(m->u.restrict_.deeper, dead);
    cc_matcher_decref(m->u.restrict_.term_early_at);
}

static void
release_children(cc_imatcher *m, dead_lists *dead)
{
    drop_state(m->u.children.inner, dead);
    cc_free(m->u.children.numbers);
}

static void
release_chains(cc_imatcher *m, dead_lists *dead)
{
    for (int i = 0; i < m->u.chains.n; i++) {
        drop_chain(m->u.chains.items[i], dead);
    }
    cc_free(m->u.chains.items);
}

static void
release_all(cc_imatcher *m, dead_lists *dead)
{
    for (int i = 0; i < m->u.all.n; i++) {
        drop_state(m->u.all.items[i], dead);
    }
    cc_free(m->u.all.items);
}

static void
release_func(cc_imatcher *m, dead_lists *dead)
{
    (void)dead;
    if (m->u.func.cb.decref != NULL) {
        m->u.func.cb.decref(m->u.func.cb.ctx);
    }
    cc_free((char *)m->u.func.cb.label);
}

static void
release_module(cc_imatcher *m, dead_lists *dead)
{
    drop_state(m->u.module.inner, dead);
    cc_matcher_decref(m->u.module.arg_symbol);
}

// rc's validate_matched: matchers are validated, restrict and no-module-spec validate their
// inner state, chains their last items; the other kinds check nothing.
static int
validate_none(const cc_imatcher *m, cc_node *const *found, int64_t n_found)
{
    (void)m;
    (void)found;
    (void)n_found;
    return 0;
}

static int
validate_match(const cc_imatcher *m, cc_node *const *found, int64_t n_found)
{
    return cc_matcher_validate(m->u.match, found, n_found);
}

static int
validate_restrict(const cc_imatcher *m, cc_node *const *found, int64_t n_found)
{
    return cc_imatcher_validate(m->u.restrict_.inner, found, n_found);
}

static int
validate_module(const cc_imatcher *m, cc_node *const *found, int64_t n_found)
{
    return cc_imatcher_validate(m->u.module.inner, found, n_found);
}

static int
validate_chains(const cc_imatcher *m, cc_node *const *found, int64_t n_found)
{
    for (int i = 0; i < m->u.chains.n; i++) {
        const cc_chain *c = m->u.chains.items[i];
        if (cc_imatcher_validate(c->items[c->n - 1], found, n_found) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
describe_list(cc_str *out, const char *open, int n, cc_imatcher *const *items, const char *close)
{
    if (cc_str_append(out, open) < 0) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if ((i && cc_str_append(out, ", ") < 0) || cc_imatcher_describe(items[i], out) < 0) {
            return -1;
        }
    }
    return cc_str_append(out, close);
}

static int
describe_match(const cc_imatcher *m, cc_str *out)
{
    return cc_matcher_describe(m->u.match, out);
}

static int
describe_term(const cc_imatcher *m, cc_str *out)
{
    return cc_str_appendf(out, "%s(%s)", kinds[m->kind].head, m->u.term_found ? "True" : "False");
}

static int
describe_restrict(const cc_imatcher *m, cc_str *out)
{
    const cc_im_restrict *r = &m->u.restrict_;
    if (cc_str_appendf(out, "%s(", kinds[m->kind].head) < 0 ||
        cc_imatcher_describe(r->inner, out) < 0) {
        return -1;
    }
    if (r->term_if_matches && cc_str_append(out, ", term_if_matches=True") < 0) {
        return -1;
    }
    if (r->has_start && cc_str_appendf(out, ", start_depth=%u", r->start) < 0) {
        return -1;
    }
    if (r->has_end && cc_str_appendf(out, ", end_depth=%u", r->end) < 0) {
        return -1;
    }
    if (!(r->term_early_at->kind == CC_MATCHER_ALWAYS && r->term_early_at->u.value == 0) &&
        (cc_str_append(out, ", term_early_at=") < 0 ||
         cc_matcher_describe(r->term_early_at, out) < 0)) {
        return -1;
    }
    if (r->depth != 0 && cc_str_appendf(out, ", depth=%u", r->depth) < 0) {
        return -1;
    }
    return cc_str_append(out, ")");
}

static int
describe_children(const cc_imatcher *m, cc_str *out)
{
    if (cc_str_appendf(out, "%s(", kinds[m->kind].head) < 0 ||
        cc_imatcher_describe(m->u.children.inner, out) < 0 || cc_str_append(out, ", {") < 0) {
        return -1;
    }
    for (int i = 0; i < m->u.children.n; i++) {
        if (cc_str_appendf(out, "%s%d", i ? ", " : "", m->u.children.numbers[i]) < 0) {
            return -1;
        }
    }
    return cc_str_append(out, "})");
}

static int
describe_chains(const cc_imatcher *m, cc_str *out)
{
    if (cc_str_appendf(out, "%s(", kinds[m->kind].head) < 0) {
        return -1;
    }
    for (int i = 0; i < m->u.chains.n; i++) {
        const cc_chain *c = m->u.chains.items[i];
        if ((i && cc_str_append(out, ", ") < 0) ||
            describe_list(out, "[", c->n, c->items, "]") < 0) {
            return -1;
        }
    }
    return cc_str_append(out, ")");
}

static int
describe_all(const cc_imatcher *m, cc_str *out)
{
    return cc_str_appendf(out, "%s(", kinds[m->kind].head) < 0
               ? -1
               : describe_list(out, "", m->u.all.n, m->u.all.items, ")");
}

static int
describe_func(const cc_imatcher *m, cc_str *out)
{
    return cc_str_append(out, m->u.func.cb.label);
}

// Head(inner) or, with an argument-symbol matcher, Head(inner, arg_symbol).
static int
describe_module(const cc_imatcher *m, cc_str *out)
{
    if (cc_str_appendf(out, "%s(", kinds[m->kind].head) < 0 ||
        cc_imatcher_describe(m->u.module.inner, out) < 0) {
        return -1;
    }
    if (m->u.module.arg_symbol != NULL &&
        (cc_str_append(out, ", ") < 0 || cc_matcher_describe(m->u.module.arg_symbol, out) < 0)) {
        return -1;
    }
    return cc_str_append(out, ")");
}

int
cc_imatcher_validate(const cc_imatcher *m, cc_node *const *found, int64_t n_found)
{
    return kinds[m->kind].validate(m, found, n_found);
}

int
cc_imatcher_describe(const cc_imatcher *m, cc_str *out)
{
    return kinds[m->kind].describe(m, out);
}
