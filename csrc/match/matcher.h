// Matchers: immutable, refcounted predicates on one node (rc's Matcher), with a 32-byte
// structural hash. Names, types and circuits are compared here in C, and so are regexes of
// match/regex.c's subset; other regexes, Python callables and any-found finders are callbacks
// that the bindings fill. Knows nothing of Python or of evaluation.
#pragma once

#include <stdint.h>

#include "match/regex.h"
#include "nodes/node.h"
#include "util/str.h"

// Matchers and iterative matchers nest at most this deep (their own structure, not the
// circuit's): the few functions that recurse over a matcher's structure are bounded by it.
#define CC_MATCH_MAX_DEPTH 1000

// The kinds, one row each in match/kinds.def (with what each is).
typedef enum {
#define CC_MATCHER_KIND(E, tag, head, release, describe, validate) CC_MATCHER_##E,
#include "match/kinds.def"
} cc_matcher_kind;

// What a callback matcher is, for validation and printing; the core runs them alike.
typedef enum {
    CC_MATCH_CALLBACK_REGEX,     // validation: must match some found node
    CC_MATCH_CALLBACK_FUNCTION,  // validation: must match some found node
    CC_MATCH_CALLBACK_ANY_FOUND, // validation: nothing to check (as rc)
} cc_match_callback_kind;

// A predicate implemented outside the core. Callbacks are equal when their identities are.
typedef struct {
    cc_match_callback_kind kind;
    // 0 and *out = 0/1, or -1 with an error recorded (CC_E_PYTHON keeps the Python exception).
    int (*match)(void *ctx, const cc_node *n, int *out);
    void (*incref)(void *ctx);
    void (*decref)(void *ctx);
    void *ctx;
    uint8_t identity[32];
    const char *label; // for messages and printing; copied by the constructor
    // REGEX: the pattern compiled by match/regex.c, or NULL (outside its subset). Owned by
    // ctx (alive while the matcher holds ctx); it decides every name it can without calling
    // match, which serves the rest.
    const cc_regex *regex;
} cc_match_callback;

typedef struct cc_matcher {
    long refcount;
    cc_matcher_kind kind;
    int depth; // 1 for leaves; 1 + deepest operand otherwise
    uint8_t hash[32];
    union {
        int value; // ALWAYS
        struct {
            int n;
            char **items; // sorted by strcmp, distinct, owned
            // Bit (cc_name_hash(name) % 64) of every name: a node whose name hash misses
            // these bits is rejected without reading its name.
            uint64_t filter;
        } names;
        uint64_t types; // TYPES: bit k set matches cc_kind k
        struct {
            int n;
            cc_node **items; // sorted by hash, distinct, owned references
        } circuits;
        struct {
            cc_match_callback cb; // label owned
        } callback;
        struct {
            int n;                     // NOT: 1
            struct cc_matcher **items; // owned references
        } ops;
    } u;
} cc_matcher;

void cc_matcher_incref(cc_matcher *m);
// NULL is a no-op. Frees without recursion.
void cc_matcher_decref(cc_matcher *m);

// Constructors: new references, or NULL with CC_E_NO_MEMORY (or CC_E_PY_VALUE when nesting
// passes CC_MATCH_MAX_DEPTH). Arguments are borrowed.
cc_matcher *cc_matcher_always(int value);
cc_matcher *cc_matcher_names(int n, const char *const *names);
cc_matcher *cc_matcher_types(uint64_t mask);
cc_matcher *cc_matcher_circuits(int n, cc_node *const *nodes);
// Takes its own reference on cb->ctx through cb->incref.
cc_matcher *cc_matcher_callback(const cc_match_callback *cb);
cc_matcher *cc_matcher_not(cc_matcher *m);
// Short-circuit or / and in the given order; operands of the same kind are spliced in (the
// result is the same predicate, kept flat so that folds like m = m | x do not nest).
cc_matcher *cc_matcher_any(int n, cc_matcher *const *ms);
cc_matcher *cc_matcher_all(int n, cc_matcher *const *ms);

// *out = whether n matches. 0, or -1 with the error of a callback.
int cc_matcher_match(const cc_matcher *m, const cc_node *n, int *out);

// rc's validate_matched (fancy_validate): every name / type / circuit of a name, type or
// circuit matcher is among found; a regex or callable matches one of found; any / all check
// each operand. 0, or -1 with CC_E_PY_RUNTIME ("Didn't match all names ...").
int cc_matcher_validate(const cc_matcher *m, cc_node *const *found, int64_t n_found);

// Appends a readable form, e.g. Any(Name{'a', 'b'}, Type{Einsum}). 0, or -1 (no memory).
int cc_matcher_describe(const cc_matcher *m, cc_str *out);
