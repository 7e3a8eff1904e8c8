// rc's simp: the table of single-node simplifications (rc's SimpFnSubset names and order) and
// deep_simp, the bottom-up fixpoint over a subset of them. The walk keeps its own stack of
// frames; results are memoised by the hash of the node they came from.
#include <string.h>

#include "rewrite/catalogue.h"
#include "rewrite/flatten.h"
#include "rewrite/module_rewrite.h"
#include "rewrite/rewrite_catalogue_b.h"
#include "rewrite/simp.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"

// rc's row calls add_pull_removable_axes with remove_non_common_axes set.
static int
add_pull_removable_axes(cc_node *add, cc_node **out)
{
    return cc_add_pull_removable_axes(add, 1, out);
}

// Rows by node kind in rc's order of kinds (Einsum, Add, Rearrange, Index, GeneralFunction,
// Concat, Module), then in each kind's order. rc's Scatter rewrites have no rows: there is no
// Scatter kind.
static const cc_simp_row rows[] = {
    {"einsum_elim_zero", CC_KIND_EINSUM, cc_einsum_elim_zero, 1, 1},
    {"einsum_elim_identity", CC_KIND_EINSUM, cc_einsum_elim_identity, 1, 1},
    {"einsum_flatten", CC_KIND_EINSUM, cc_einsum_flatten_once, 0, 1},
    {"einsum_of_permute_merge", CC_KIND_EINSUM, cc_einsum_of_permute_merge, 1, 1},
    {"einsum_merge_scalars", CC_KIND_EINSUM, cc_einsum_merge_scalars, 0, 1},
    {"einsum_remove_one", CC_KIND_EINSUM, cc_einsum_remove_one, 1, 0},
    {"einsum_pull_removable_axes", CC_KIND_EINSUM, cc_einsum_pull_removable_axes, 0, 1},
    {"einsum_elim_removable_axes_weak", CC_KIND_EINSUM, cc_einsum_elim_removable_axes_weak, 1, 0},
    {"einsum_permute_to_rearrange", CC_KIND_EINSUM, cc_einsum_permute_to_rearrange, 1, 1},
    {"einsum_push_down_trace", CC_KIND_EINSUM, cc_einsum_push_down_trace, 0, 1},
    {"einsum_concat_to_add", CC_KIND_EINSUM, cc_einsum_concat_to_add, 0, 1},
    {"remove_add_few_input", CC_KIND_ADD, cc_remove_add_few_input, 1, 1},
    {"add_flatten", CC_KIND_ADD, cc_add_flatten_once, 0, 1},
    {"add_elim_zeros", CC_KIND_ADD, cc_add_elim_zeros, 1, 1},
    {"add_collapse_scalar_inputs", CC_KIND_ADD, cc_add_collapse_scalar_inputs, 0, 1},
    {"add_deduplicate", CC_KIND_ADD, cc_add_deduplicate, 1, 1},
    {"add_pull_removable_axes", CC_KIND_ADD, add_pull_removable_axes, 0, 1},
    {"add_pull_diags", CC_KIND_ADD, cc_add_pull_diags, 0, 1},
    {"add_fuse_scalar_multiples", CC_KIND_ADD, cc_add_fuse_scalar_multiples, 0, 1},
    {"add_elim_removable_axes_weak", CC_KIND_ADD, cc_add_elim_removable_axes_weak, 1, 0},
    {"rearrange_elim_identity", CC_KIND_REARRANGE, cc_rearrange_elim_identity, 1, 1},
    {"rearrange_fuse", CC_KIND_REARRANGE, cc_rearrange_fuse, 1, 1},
    {"rearrange_merge_scalar", CC_KIND_REARRANGE, cc_rearrange_merge_scalar, 1, 1},
    {"permute_of_einsum_merge", CC_KIND_REARRANGE, cc_permute_of_einsum_merge, 1, 1},
    {"index_elim_identity", CC_KIND_INDEX, cc_index_elim_identity_op, 1, 1},
    {"index_fuse", CC_KIND_INDEX, cc_index_fuse, 0, 1},
    {"index_merge_scalar", CC_KIND_INDEX, cc_index_merge_scalar, 1, 1},
    {"index_concat_drop_unreached", CC_KIND_INDEX, cc_index_concat_drop_unreached, 0, 1},
    {"generalfunction_pull_removable_axes", CC_KIND_GENERAL_FUNCTION,
     cc_generalfunction_pull_removable_axes, 0, 1},
    {"generalfunction_merge_inverses", CC_KIND_GENERAL_FUNCTION, cc_generalfunction_merge_inverses,
     0, 1},
    {"generalfunction_special_case_simplification", CC_KIND_GENERAL_FUNCTION,
     cc_generalfunction_special_case_simplification, 0, 1},
    {"generalfunction_evaluate_simple", CC_KIND_GENERAL_FUNCTION,
     cc_generalfunction_evaluate_simple, 0, 1},
    {"generalfunction_gen_index_const_to_index", CC_KIND_GENERAL_FUNCTION,
     cc_generalfunction_gen_index_const_to_index, 0, 1},
    {"concat_elim_identity", CC_KIND_CONCAT, cc_concat_elim_identity, 1, 1},
    {"concat_elim_split", CC_KIND_CONCAT, cc_concat_elim_split, 0, 1},
    {"concat_pull_removable_axes", CC_KIND_CONCAT, cc_concat_pull_removable_axes, 0, 1},
    {"concat_merge_uniform", CC_KIND_CONCAT, cc_concat_merge_uniform, 1, 1},
    {"concat_drop_size_zero", CC_KIND_CONCAT, cc_concat_drop_size_zero, 1, 1},
    {"concat_fuse", CC_KIND_CONCAT, cc_concat_fuse, 1, 1},
    {"concat_repeat_to_rearrange", CC_KIND_CONCAT, cc_concat_repeat_to_rearrange, 1, 1},
    {"elim_empty_module", CC_KIND_MODULE, cc_elim_empty_module, 1, 1},
    {"elim_no_input_module", CC_KIND_MODULE, cc_elim_no_input_module, 1, 1},
};

#define N_ROWS ((int)(sizeof rows / sizeof rows[0]))

const cc_simp_row *
cc_simp_rows(int *n)
{
    *n = N_ROWS;
    return rows;
}

uint64_t
cc_simp_default_mask(void)
{
    uint64_t m = 0;
    for (int i = 0; i < N_ROWS; i++) {
        if (rows[i].in_default) {
            m |= (uint64_t)1 << i;
        }
    }
    return m;
}

uint64_t
cc_simp_compiler_mask(void)
{
    uint64_t m = 0;
    for (int i = 0; i < N_ROWS; i++) {
        if (rows[i].in_compiler) {
            m |= (uint64_t)1 << i;
        }
    }
    return m;
}

char *
cc_simp_suffixed(const char *name, const char *suffix)
{
    size_t a = strlen(name), b = strlen(suffix);
    char *s = cc_malloc(a + b + 1);
    if (s != NULL) {
        memcpy(s, name, a);
        memcpy(s + a, suffix, b + 1);
    }
    return s;
}

int
cc_simp_step(cc_node *c, uint64_t mask, cc_node **out)
{
    *out = NULL;
    for (int i = 0; i < N_ROWS; i++) {
        if (rows[i].kind != c->kind || !(mask >> i & 1)) {
            continue;
        }
        if (rows[i].fn(c, out) < 0) {
            return -1;
        }
        if (*out != NULL && memcmp((*out)->hash, c->hash, 32) == 0) {
            // a rewrite that gives the node back has not applied
            cc_node_decref(*out);
            *out = NULL;
        }
        if (*out != NULL) {
            return 0;
        }
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// deep_simp

// rc gives up on a node after this many successful rewrites in a row.
#define MAX_STEPS 51

typedef struct {
    cc_node *orig;   // the node being simplified (borrowed: an ancestor frame holds it)
    cc_node *target; // the node whose children are being simplified: orig, or owned result
    int descending;  // target is a rewrite's result: children already memoised stay
    int next;        // the next child of target
    int changed;     // some child came back different
    int steps;       // successful rewrites so far
    cc_node **kids;  // new references, one per child of target
} frame;

typedef struct {
    uint64_t mask;
    cc_hmap memo; // node hash -> its simplified node (a reference)
    frame *stack;
    size_t n, cap;
} walk;

static void
frame_clear(frame *f)
{
    if (f->kids != NULL) {
        for (int i = 0; i < f->next; i++) {
            cc_node_decref(f->kids[i]);
        }
        cc_free(f->kids);
        f->kids = NULL;
    }
    if (f->target != f->orig) {
        cc_node_decref(f->target);
    }
    f->target = NULL;
}

// Starts on target's children. 0, or -1.
static int
frame_begin(frame *f, cc_node *target, int descending)
{
    f->target = target;
    f->descending = descending;
    f->next = 0;
    f->changed = 0;
    f->kids = cc_malloc(((size_t)target->n_children + 1) * sizeof(cc_node *));
    return f->kids == NULL ? -1 : 0;
}

static int
push(walk *w, cc_node *orig)
{
    if (cc_grow((void **)&w->stack, &w->cap, w->n + 1, sizeof(frame)) < 0) {
        return -1;
    }
    frame *f = &w->stack[w->n++];
    memset(f, 0, sizeof *f);
    f->orig = orig;
    f->target = orig;
    if (frame_begin(f, orig, 0) < 0) {
        w->n--;
        return -1;
    }
    return 0;
}

static int
memo_put(walk *w, const cc_node *key, cc_node *value)
{
    cc_node *old = cc_hmap_get(&w->memo, key->hash);
    if (cc_hmap_put(&w->memo, key->hash, value) < 0) {
        return -1;
    }
    cc_node_incref(value);
    cc_node_decref(old);
    return 0;
}

// The top frame's children are done: its target rebuilt from them, then rewritten until no
// rewrite applies (returning the result, a new reference) or a rewrite's result has
// children still to simplify (returning NULL with *more set). NULL on error.
static cc_node *
settle(walk *w, frame *f, int *more)
{
    *more = 0;
    cc_node *t = f->target;
    cc_node *cur;
    if (f->changed) {
        cur = cc_node_rebuild(t, f->kids, t->name);
    } else {
        cur = t;
        cc_node_incref(cur);
    }
    frame_clear(f);
    if (cur == NULL) {
        return NULL;
    }
    cc_node *r;
    if (cc_simp_step(cur, w->mask, &r) < 0) {
        cc_node_decref(cur);
        return NULL;
    }
    if (r == NULL) {
        return cur;
    }
    cc_node_decref(cur);
    if (++f->steps > MAX_STEPS) {
        cc_node_decref(r);
        return cc_fail_null(CC_E_PY_RUNTIME,
                            "simp: '%s' (%s) still changes after %d rewrites; no fixpoint",
                            f->orig->name != NULL ? f->orig->name : "",
                            cc_kind_get_info(f->orig->kind)->py_name, MAX_STEPS);
    }
    if (frame_begin(f, r, 1) < 0) {
        f->target = r;
        frame_clear(f);
        return NULL;
    }
    *more = 1;
    return NULL;
}

cc_node *
cc_simp(cc_node *c, uint64_t mask)
{
    walk w = {.mask = mask};
    cc_hmap_init(&w.memo);
    cc_node *result = NULL;
    if (push(&w, c) < 0) {
        goto done;
    }
    while (w.n > 0) {
        frame *f = &w.stack[w.n - 1];
        if (f->next == 0 && !f->descending && f->target == f->orig) {
            cc_node *m = cc_hmap_get(&w.memo, f->orig->hash);
            if (m != NULL && f->steps == 0) {
                cc_node_incref(m);
                frame_clear(f);
                w.n--;
                if (w.n == 0) {
                    result = m;
                } else {
                    frame *p = &w.stack[w.n - 1];
                    p->changed |= m != p->target->children[p->next];
                    p->kids[p->next++] = m;
                }
                continue;
            }
        }
        if (f->next < f->target->n_children) {
            cc_node *child = f->target->children[f->next];
            if (f->descending && cc_hmap_get(&w.memo, child->hash) != NULL) {
                cc_node_incref(child);
                f->kids[f->next++] = child;
                continue;
            }
            if (push(&w, child) < 0) {
                goto done;
            }
            continue;
        }
        int more;
        cc_node *r = settle(&w, f, &more);
        if (more) {
            continue;
        }
        if (r == NULL) {
            goto done;
        }
        if (memo_put(&w, f->orig, r) < 0) {
            cc_node_decref(r);
            goto done;
        }
        w.n--;
        if (w.n == 0) {
            result = r;
        } else {
            frame *p = &w.stack[w.n - 1];
            p->changed |= r != p->target->children[p->next];
            p->kids[p->next++] = r;
        }
    }
done:
    while (w.n > 0) {
        frame_clear(&w.stack[--w.n]);
    }
    cc_free(w.stack);
    for (size_t i = 0; i < w.memo.cap; i++) {
        if (w.memo.slots[i].used) {
            cc_node_decref(w.memo.slots[i].value);
        }
    }
    cc_hmap_clear(&w.memo);
    return result;
}
