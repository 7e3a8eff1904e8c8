// Iterative matchers (rc's IterativeMatcher): immutable, refcounted, hashed states of a
// top-down traversal. A step applies a state to one node and says whether the node is found
// and which states its children get (the same, none, one for all, or one per child).
// Knows nothing of Python or of evaluation; Python-defined steps come through a callback.
#pragma once

#include <stdint.h>

#include "match/matcher.h"
#include "nodes/node.h"
#include "util/str.h"

// The kinds, one row each in match/kinds.def (with what each is).
typedef enum {
#define CC_IMATCHER_KIND(E, tag, head, release, describe, validate) CC_IM_##E,
#include "match/kinds.def"
} cc_imatcher_kind;

typedef struct cc_imatcher cc_imatcher;

// One chain: items[0] runs now; items[i + 1] starts where items[i] finds a node.
typedef struct {
    long refcount;
    uint8_t hash[32];
    int n; // >= 1
    cc_imatcher *items[];
} cc_chain;

typedef enum {
    CC_STEP_SAME,      // children get the state that was applied
    CC_STEP_FINISHED,  // children are not visited
    CC_STEP_ONE,       // every child gets `one`
    CC_STEP_PER_CHILD, // child i gets per_child[i] (NULL: not visited)
} cc_step_kind;

typedef struct {
    int found;
    cc_step_kind kind;
    cc_imatcher *one;        // ONE: owned reference
    int n;                   // PER_CHILD: the node's number of children
    cc_imatcher **per_child; // PER_CHILD: owned array of owned references (or NULL)
} cc_step;

// A step implemented outside the core (rc's IterativeMatcher.new_func).
typedef struct {
    // Fills out (initialised to SAME, not found) for n. 0, or -1 with an error recorded
    // (CC_E_PYTHON keeps the Python exception).
    int (*iterate)(void *ctx, const cc_node *n, cc_step *out);
    void (*incref)(void *ctx);
    void (*decref)(void *ctx);
    void *ctx;
    uint8_t identity[32];
    const char *label; // copied by the constructor
} cc_imatch_callback;

// rc's RestrictIterativeMatcher.
typedef struct {
    cc_imatcher *inner;
    cc_matcher *term_early_at;
    int term_if_matches;
    int has_start, has_end;
    uint32_t start, end; // start inclusive, end exclusive
    uint32_t depth;      // of the node this state is applied to
    // Memo of restrict(inner, depth + 1), the successor when inner stays the same; filled on
    // first use, not part of the hash.
    cc_imatcher *deeper;
} cc_im_restrict;

struct cc_imatcher {
    long refcount;
    cc_imatcher_kind kind;
    int depth; // nesting of this state's own structure, <= CC_MATCH_MAX_DEPTH
    uint8_t hash[32];
    union {
        cc_matcher *match; // MATCH
        int term_found;    // TERM
        cc_im_restrict restrict_;
        struct {
            cc_imatcher *inner;
            int n;
            int *numbers; // sorted, distinct
        } children;
        struct {
            int n;
            cc_chain **items; // sorted by hash, distinct
        } chains;
        struct {
            int n;
            cc_imatcher **items;
        } all;
        struct {
            cc_imatch_callback cb; // label owned
        } func;
        struct {
            cc_imatcher *inner;
            cc_matcher *arg_symbol; // MODULE_ARG only
        } module;
    } u;
};

void cc_imatcher_incref(cc_imatcher *m);
// NULL is a no-op. Frees without recursion.
void cc_imatcher_decref(cc_imatcher *m);

// Constructors: new references, or NULL with an error (CC_E_NO_MEMORY; CC_E_PY_VALUE when
// nesting passes CC_MATCH_MAX_DEPTH). Arguments are borrowed.
cc_imatcher *cc_imatcher_match(cc_matcher *m);
cc_imatcher *cc_imatcher_term(int found);
// rc's restrict: depth 0 at the node it is first applied to.
cc_imatcher *cc_imatcher_restrict(cc_imatcher *inner, int term_if_matches, int has_start,
                                  uint32_t start, int has_end, uint32_t end,
                                  cc_matcher *term_early_at);
// numbers: n child indices (any order, repeats allowed, each >= 0).
cc_imatcher *cc_imatcher_children(cc_imatcher *inner, int n, const int *numbers);
// n_chains chains; chain c has lens[c] >= 1 items, taken in order from items. must_be_sub
// wraps every non-first item in restrict(item, start_depth=1). CC_E_PY_VALUE on an empty chain.
cc_imatcher *cc_imatcher_chains(int n_chains, const int *lens, cc_imatcher *const *items,
                                int must_be_sub);
// Union (rc's IterativeMatcher.any): chains of length one; a single member is returned as is.
cc_imatcher *cc_imatcher_any(int n, cc_imatcher *const *ms);
cc_imatcher *cc_imatcher_all(int n, cc_imatcher *const *ms);
// Takes its own reference on cb->ctx.
cc_imatcher *cc_imatcher_func(const cc_imatch_callback *cb);
cc_imatcher *cc_imatcher_no_module_spec(cc_imatcher *inner);
cc_imatcher *cc_imatcher_spec_circuit(cc_imatcher *inner);
cc_imatcher *cc_imatcher_module_arg(cc_imatcher *inner, cc_matcher *arg_symbol);

// Applies m to n. out is filled (owned references) and must be released with cc_step_clear;
// on failure it is left empty.
// 0, or -1 with an error (a callback's; CC_E_ITERATIVE_MATCHER_* for per-child lists of the
// wrong length, child numbers out of range, a module matcher finding a non-Module).
int cc_imatcher_step(cc_imatcher *m, const cc_node *n, cc_step *out);
void cc_step_init(cc_step *s);
void cc_step_clear(cc_step *s);
// Nothing is visited below: FINISHED, or PER_CHILD with every entry NULL.
int cc_step_all_finished(const cc_step *s);

// rc's validate_matched on the set a getter found (see cc_matcher_validate): matchers are
// validated, restrict and no-module-spec validate their inner state, chains their last
// items; the other kinds check nothing. 0, or -1 with CC_E_PY_RUNTIME.
int cc_imatcher_validate(const cc_imatcher *m, cc_node *const *found, int64_t n_found);

// Appends a readable form. 0, or -1 (no memory).
int cc_imatcher_describe(const cc_imatcher *m, cc_str *out);
