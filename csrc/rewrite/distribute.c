// rc's distribution of an Einsum over an Add operand (a (b + c) = a b + a c): once, along a
// traversal (distribute, an explicit stack memoised by Einsum and traversal state), and over
// every Add operand at once (distribute_all); the compiler's maybe_distribute heuristic.
#include <stdio.h>
#include <string.h>

#include "expand/deep_map.h"
#include "rewrite/catalogue.h"
#include "rewrite/rewrite_impl.h"
#include "rewrite/simp.h"
#include "util/alloc.h"
#include "util/blake3.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/vec.h"

// "Einsum 'name'" (or "unnamed Einsum") for messages.
static const char *
einsum_text(const cc_node *e, char *buf, size_t cap)
{
    if (e->name != NULL) {
        snprintf(buf, cap, "Einsum '%.80s'", e->name);
    } else {
        snprintf(buf, cap, "unnamed Einsum");
    }
    return buf;
}

// The name of a distributed term: prefix + operand's name + suffix (no name when the operand
// has none); NULL asks for the autoname when neither is given. *owned is freed by the caller.
static int
term_name(const cc_node *operand, const char *prefix, const char *suffix, const char **name,
          char **owned)
{
    *owned = NULL;
    *name = NULL;
    if (prefix == NULL && suffix == NULL) {
        return 0;
    }
    if (operand->name == NULL) {
        *name = CC_NO_NAME;
        return 0;
    }
    const char *p = prefix != NULL ? prefix : "", *s = suffix != NULL ? suffix : "";
    size_t len = strlen(p) + strlen(operand->name) + strlen(s) + 1;
    *owned = cc_malloc(len);
    if (*owned == NULL) {
        return -1;
    }
    snprintf(*owned, len, "%s%s%s", p, operand->name, s);
    *name = *owned;
    return 0;
}

// einsum with operand idx replaced by node (same shape), named as given. New reference.
static cc_node *
replace_operand(cc_node *einsum, int idx, cc_node *node, const char *name)
{
    cc_node **ops = cc_malloc(((size_t)einsum->n_children + 1) * sizeof(cc_node *));
    if (ops == NULL) {
        return NULL;
    }
    memcpy(ops, einsum->children, (size_t)einsum->n_children * sizeof(cc_node *));
    ops[idx] = node;
    cc_node *out = cc_einsum_new(einsum->n_children, ops, einsum->u.einsum.in_axes, einsum->ndim,
                                 einsum->u.einsum.out_axes, name);
    cc_free(ops);
    return out;
}

// The terms of distribute_once: *terms (*n new references, freed by the caller) and the
// explicit Add they come from. 0, or -1 with a CC_E_DISTRIBUTE_* error.
static int
distribute_terms(cc_node *einsum, int idx, int do_broadcasts, const char *prefix,
                 const char *suffix, cc_node ***terms, int *n)
{
    *terms = NULL;
    *n = 0;
    char what[128];
    cc_node *add = einsum->children[idx];
    if (add->kind != CC_KIND_ADD) {
        return cc_fail(CC_E_DISTRIBUTE_OPERAND_IS_NOT_ADD,
                       "distribute: operand %d of %s is not an Add (it is %s)", idx,
                       einsum_text(einsum, what, sizeof what),
                       cc_kind_get_info(add->kind)->py_name);
    }
    cc_node *explicit_add = NULL;
    if (do_broadcasts && cc_add_make_broadcasts_explicit(add, &explicit_add) < 0) {
        return -1;
    }
    cc_node *a = explicit_add != NULL ? explicit_add : add;
    for (int i = 0; i < a->n_children; i++) {
        if (a->children[i]->ndim != a->ndim ||
            memcmp(a->children[i]->shape, a->shape, (size_t)a->ndim * sizeof(int64_t)) != 0) {
            cc_node_decref(explicit_add);
            return cc_fail(CC_E_DISTRIBUTE_COULDNT_BROADCAST,
                           "distribute: operand %d of the Add (operand %d of %s) is broadcast "
                           "to the Add's shape and do_broadcasts=False",
                           i, idx, einsum_text(einsum, what, sizeof what));
        }
    }
    if (a->n_children == 0) {
        cc_node_decref(explicit_add);
        return cc_fail(CC_E_DISTRIBUTE_EMPTY_ADD_UNSUPPORTED,
                       "distribute: operand %d of %s is an Add without operands", idx,
                       einsum_text(einsum, what, sizeof what));
    }
    int rc = 0;
    cc_node **out = cc_calloc((size_t)a->n_children, sizeof(cc_node *));
    if (out == NULL) {
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < a->n_children; i++) {
        const char *name;
        char *owned;
        if (term_name(a->children[i], prefix, suffix, &name, &owned) < 0) {
            rc = -1;
            break;
        }
        out[i] = replace_operand(einsum, idx, a->children[i], name);
        cc_free(owned);
        rc = out[i] == NULL ? -1 : 0;
    }
    if (rc < 0) {
        for (int i = 0; out != NULL && i < a->n_children; i++) {
            cc_node_decref(out[i]);
        }
        cc_free(out);
    } else {
        *terms = out;
        *n = a->n_children;
    }
    cc_node_decref(explicit_add);
    return rc;
}

static void
terms_free(cc_node **terms, int n)
{
    for (int i = 0; terms != NULL && i < n; i++) {
        cc_node_decref(terms[i]);
    }
    cc_free(terms);
}

static int
idx_too_large(cc_node *einsum, int idx)
{
    char what[128];
    return cc_fail(CC_E_DISTRIBUTE_OPERAND_IDX_TOO_LARGE,
                   "distribute: operand_idx=%d but %s has %d operands", idx,
                   einsum_text(einsum, what, sizeof what), einsum->n_children);
}

cc_node *
cc_distribute_once(cc_node *einsum, int operand_idx, int do_broadcasts, const char *prefix,
                   const char *suffix)
{
    if (operand_idx < 0 || operand_idx >= einsum->n_children) {
        idx_too_large(einsum, operand_idx);
        return NULL;
    }
    cc_node **terms;
    int n;
    if (distribute_terms(einsum, operand_idx, do_broadcasts, prefix, suffix, &terms, &n) < 0) {
        return NULL;
    }
    cc_node *out = cc_add_new(n, terms, einsum->name);
    terms_free(terms, n);
    return out;
}

// ---------------------------------------------------------------------------------------------
// distribute: an explicit stack of frames, one per Einsum being distributed

typedef struct {
    cc_node *einsum; // owned
    uint8_t key[32];
    cc_node **terms; // the Einsums of this step (owned)
    cc_imatcher **states;
    cc_node **results; // each term distributed further (owned)
    int n, next;
} dframe;

typedef struct {
    const cc_distribute_opts *o;
    cc_hmap memo; // (Einsum, state) key -> owned result
    dframe *stack;
    int depth, cap;
} dctx;

static void
memo_key(const cc_node *einsum, const cc_imatcher *state, uint8_t key[32])
{
    static const uint8_t finished[32] = {0};
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, einsum->hash, 32);
    cc_blake3_update(&h, state != NULL ? state->hash : finished, 32);
    cc_blake3_final(&h, key, 32);
}

static int
memo_put(dctx *c, const uint8_t key[32], cc_node *result)
{
    if (cc_hmap_get(&c->memo, key) != NULL) {
        return 0;
    }
    if (cc_hmap_put(&c->memo, key, result) < 0) {
        return -1;
    }
    cc_node_incref(result);
    return 0;
}

static void
frame_clear(dframe *f)
{
    cc_node_decref(f->einsum);
    terms_free(f->terms, f->n);
    cc_traversal_free(f->states, f->n);
    for (int i = 0; f->results != NULL && i < f->n; i++) {
        cc_node_decref(f->results[i]);
    }
    cc_free(f->results);
}

// The errors a step of distribute may skip when allow_partial_distribute (not memory errors).
static int
is_distribute_error(cc_error_kind kind)
{
    return kind == CC_E_DISTRIBUTE_OPERAND_IS_NOT_ADD ||
           kind == CC_E_DISTRIBUTE_COULDNT_BROADCAST ||
           kind == CC_E_DISTRIBUTE_EMPTY_ADD_UNSUPPORTED;
}

// Starts distributing einsum with state: 0 with *result (new reference) when known at once,
// 1 with a new frame on the stack, -1 on error.
static int
start(dctx *c, cc_node *einsum, cc_imatcher *state, cc_node **result)
{
    *result = NULL;
    uint8_t key[32];
    memo_key(einsum, state, key);
    cc_node *known = cc_hmap_get(&c->memo, key);
    if (known != NULL) {
        cc_node_incref(known);
        *result = known;
        return 0;
    }
    const cc_distribute_opts *o = c->o;
    if (o->operand_idx >= einsum->n_children) {
        if (!o->allow_partial_distribute) {
            return idx_too_large(einsum, o->operand_idx);
        }
        cc_node_incref(einsum);
        *result = einsum;
        return 0;
    }
    cc_node *operand = einsum->children[o->operand_idx];
    int finished;
    cc_imatcher **states;
    if (cc_traversal_children(state, operand, &finished, &states) < 0) {
        return -1;
    }
    cc_node **terms = NULL;
    int n = 0;
    if (!finished && distribute_terms(einsum, o->operand_idx, o->do_broadcasts, o->prefix,
                                      o->suffix, &terms, &n) < 0) {
        if (!o->allow_partial_distribute || !is_distribute_error(cc_error_kind_get())) {
            cc_traversal_free(states, operand->n_children);
            return -1;
        }
        cc_error_clear();
        finished = 1;
    }
    if (finished) {
        cc_traversal_free(states, operand->n_children);
        cc_node_incref(einsum);
        *result = einsum;
        return memo_put(c, key, einsum);
    }
    if (c->depth == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        dframe *s = cc_realloc(c->stack, (size_t)cap * sizeof(dframe));
        if (s == NULL) {
            terms_free(terms, n);
            cc_traversal_free(states, operand->n_children);
            return -1;
        }
        c->stack = s;
        c->cap = cap;
    }
    dframe *f = &c->stack[c->depth++];
    cc_node_incref(einsum);
    *f = (dframe){.einsum = einsum, .terms = terms, .states = states, .n = n};
    memcpy(f->key, key, 32);
    f->results = cc_calloc((size_t)n, sizeof(cc_node *));
    return f->results == NULL ? -1 : 1;
}

cc_node *
cc_distribute(cc_node *einsum, const cc_distribute_opts *o)
{
    dctx c = {.o = o};
    cc_hmap_init(&c.memo);
    cc_imatcher *traversal = o->traversal;
    cc_imatcher *own = NULL;
    if (traversal == NULL) {
        cc_matcher *always = cc_matcher_always(1), *never = cc_matcher_always(0);
        cc_imatcher *inner = always == NULL ? NULL : cc_imatcher_match(always);
        own = inner == NULL || never == NULL ? NULL
                                             : cc_imatcher_restrict(inner, 0, 0, 0, 1, 2, never);
        cc_imatcher_decref(inner);
        cc_matcher_decref(always);
        cc_matcher_decref(never);
        if (own == NULL) {
            return NULL;
        }
        traversal = own;
    }
    cc_node *result = NULL;
    int rc = start(&c, einsum, traversal, &result);
    while (rc >= 0 && c.depth > 0) {
        dframe *f = &c.stack[c.depth - 1];
        if (result != NULL) {
            f->results[f->next++] = result;
            result = NULL;
        }
        if (f->next < f->n) {
            rc = start(&c, f->terms[f->next], f->states[f->next], &result);
            continue;
        }
        result = cc_add_new(f->n, f->results, f->einsum->name);
        if (result == NULL || memo_put(&c, f->key, result) < 0) {
            rc = -1;
        }
        frame_clear(f);
        c.depth--;
    }
    for (int d = c.depth - 1; d >= 0; d--) {
        frame_clear(&c.stack[d]);
    }
    cc_free(c.stack);
    for (size_t i = 0; i < c.memo.cap; i++) {
        if (c.memo.slots[i].used) {
            cc_node_decref(c.memo.slots[i].value);
        }
    }
    cc_hmap_clear(&c.memo);
    cc_imatcher_decref(own);
    if (rc < 0) {
        cc_node_decref(result);
        return NULL;
    }
    if (memcmp(result->hash, einsum->hash, 32) == 0) {
        char what[128];
        cc_node_decref(result);
        return cc_fail_null(CC_E_DISTRIBUTE_NOOP,
                            "distribute: nothing to distribute in %s at operand_idx=%d (the "
                            "traversal stops there, or the operand is not a non-empty Add)",
                            einsum_text(einsum, what, sizeof what), o->operand_idx);
    }
    return result;
}

// ---------------------------------------------------------------------------------------------
// distribute_all

static int
is_nonempty_add(const cc_node *n)
{
    return n->kind == CC_KIND_ADD && n->n_children > 0;
}

static int
count_adds(const cc_node *einsum, int *first)
{
    int count = 0;
    *first = -1;
    for (int i = 0; i < einsum->n_children; i++) {
        if (is_nonempty_add(einsum->children[i])) {
            if (count++ == 0) {
                *first = i;
            }
        }
    }
    return count;
}

int
cc_distribute_all(cc_node *einsum, cc_node **out)
{
    *out = NULL;
    int first;
    if (count_adds(einsum, &first) == 0) {
        return 0;
    }
    // depth first: an Einsum with two or more Add operands has the terms of its first one
    // distributed again; the terms of an Einsum with one are the result's operands, in order
    cc_ptrvec stack, leaves;
    cc_ptrvec_init(&stack);
    cc_ptrvec_init(&leaves);
    cc_node_incref(einsum);
    int rc = cc_ptrvec_push(&stack, einsum);
    if (rc < 0) {
        cc_node_decref(einsum);
    }
    while (rc == 0 && stack.len > 0) {
        cc_node *e = stack.items[--stack.len];
        int count = count_adds(e, &first);
        cc_node **terms;
        int n;
        rc = distribute_terms(e, first, 1, NULL, NULL, &terms, &n);
        cc_node_decref(e);
        if (rc < 0) {
            break;
        }
        for (int k = 0; k < n; k++) {
            cc_node *t = count >= 2 ? terms[n - 1 - k] : terms[k];
            if (rc == 0 && cc_ptrvec_push(count >= 2 ? &stack : &leaves, t) == 0) {
                continue;
            }
            rc = -1;
            cc_node_decref(t);
        }
        cc_free(terms);
    }
    if (rc == 0) {
        *out = cc_add_new((int)leaves.len, (cc_node **)leaves.items, einsum->name);
        rc = *out == NULL ? -1 : 0;
    }
    for (size_t k = 0; k < stack.len; k++) {
        cc_node_decref(stack.items[k]);
    }
    for (size_t k = 0; k < leaves.len; k++) {
        cc_node_decref(leaves.items[k]);
    }
    cc_ptrvec_clear(&stack);
    cc_ptrvec_clear(&leaves);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// maybe_distribute: the compiler's heuristic

int
cc_maybe_distribute(cc_node *einsum, const cc_maybe_distribute_opts *o, cc_node **out)
{
    *out = NULL;
    if (*o->times_distributed > CC_MAX_TIMES_DISTRIBUTED) {
        return 0;
    }
    for (int i = 0; i < einsum->n_children; i++) {
        cc_node *c = einsum->children[i];
        double numel = 1.0;
        for (int k = 0; k < c->ndim; k++) {
            numel *= (double)c->shape[k];
        }
        if (!is_nonempty_add(c) || numel < o->min_size) {
            continue;
        }
        cc_node *d = cc_distribute_once(einsum, i, 1, NULL, NULL);
        cc_node *simplified = d == NULL ? NULL : cc_simp(d, o->simp_mask);
        if (simplified != NULL) {
            *out = cc_deep_map_nodes(simplified, cc_canonicalize_node);
        }
        cc_node_decref(d);
        cc_node_decref(simplified);
        (*o->times_distributed)++;
        return *out == NULL ? -1 : 0;
    }
    return 0;
}

static cc_node *
maybe_distribute_post(void *ctx, cc_node *node, cc_node *const *kids, int changed)
{
    cc_node *rebuilt = cc_deep_map_rebuild(node, kids, changed), *out = NULL;
    if (rebuilt == NULL || rebuilt->kind != CC_KIND_EINSUM) {
        return rebuilt;
    }
    if (cc_maybe_distribute(rebuilt, ctx, &out) < 0) {
        cc_node_decref(rebuilt);
        return NULL;
    }
    if (out == NULL) {
        return rebuilt;
    }
    cc_node_decref(rebuilt);
    return out;
}

cc_node *
cc_deep_maybe_distribute(cc_node *root, const cc_maybe_distribute_opts *o)
{
    return cc_deep_map(root, NULL, maybe_distribute_post, (void *)o);
}
