// The per-kind contract: every behaviour that differs by node kind is a slot of the kind's
// cc_kind_ops record (or a flag of its row in nodes/kinds.def), filled in the kind's own file
// (nodes/<kind>.c). Generic code (node construction, autonames, the printer, the parser,
// expansion, evaluation planning) reads the record and never switches on a kind.
//
// A kind file defines its record with CC_DEFINE_KIND_OPS(<c_name>, <optional slots>), which takes
// the required slots from the file's statics named <c_name>_<slot>:
//   <c_name>_type_uuid      const uint8_t[16]   rc's node_type_uuid
//   <c_name>_name_op        const cc_name_op    its operator class for rc's autonames
//   <c_name>_hash_non_name  hash_non_name slot
//   <c_name>_rebuild        rebuild slot
//   <c_name>_print_payload  print_payload slot
//   <c_name>_parse_payload  parse_payload slot
// so a kind file missing one fails to compile. Optional slots (documented as such below, NULL
// when absent) follow as designated initializers:
//   CC_DEFINE_KIND_OPS(einsum, .expand = einsum_expand, .self_flops = einsum_self_flops);
// Kinds.def flags (nodes/node.h) carry the yes/no properties: CC_LEAF, CC_ONE_CHILD,
// CC_SHAPE_SHOWN, CC_FREE_SYMBOL.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "nodes/node.h"
#include "util/blake3.h"
#include "util/str.h"

// --- autonames --------------------------------------------------------------------------------

// rc's operator classes: how a kind's autoname joins its children's names, and whether a
// child's name is parenthesised inside its parent's.
typedef enum {
    CC_NAME_NONE,            // no autoname (leaves)
    CC_NAME_INFIX,           // children joined by text; parenthesised by priority
    CC_NAME_INFIX_AMBIGUOUS, // children joined by text; always parenthesised inside infixes
    CC_NAME_POSTFIX,         // the only child's name, then text
    CC_NAME_FUNCTION,        // function_name(n) "(" argument names ")"
} cc_name_class;

typedef struct {
    cc_name_class cls;
    int priority;     // CC_NAME_INFIX: a parent of higher priority parenthesises this kind
    const char *text; // CC_NAME_INFIX*: the separator; CC_NAME_POSTFIX: the suffix
    // CC_NAME_FUNCTION: the name before the parentheses (children all named), the first child
    // that is an argument, and whether argument names are kept whole (else long ones are cut).
    const char *(*function_name)(const cc_node *n);
    int first_arg;
    int full_arg_names;
    // CC_NAME_FUNCTION, optional: text put before argument i's name ("2: "). 0, or -1.
    int (*arg_label)(const cc_node *n, int i, cc_str *out);
} cc_name_op;

// --- printing (rc's repr_extra_info) ----------------------------------------------------------

typedef struct {
    int bijection;            // the parseable form (tensors by hash)
    int tensor_index_literal; // Index tensors as list literals
    // Records a tensor that the bijective text names by hash (the printer passes it on to its
    // caller once per hash). 0, or -1 with an error recorded.
    int (*note_tensor)(void *ctx, const uint8_t hash[32], const cc_tensor *t);
    void *ctx;
} cc_payload_print;

// --- parsing ----------------------------------------------------------------------------------

typedef enum {
    CC_PAYLOAD_TENSOR_ARRAY,  // an Array's value, by hash prefix
    CC_PAYLOAD_TENSOR_INDEX,  // an Index tensor, by hash prefix
    CC_PAYLOAD_TENSOR_RANDOM, // random values of the given shape, seeded by the prefix (or not)
} cc_payload_tensor_kind;

// The binding a child carries: child i of a node whose kind binds (child_binding slot) stands
// for symbol in child 0; the text writes it " ! <symbol line>" plus the flags as t/f letters
// when not all are set.
typedef struct {
    cc_node *symbol; // borrowed
    uint8_t flags[3];
} cc_child_binding;

// What a node line says, for the kind's parse_payload. Positions (_at) point into the line;
// the parser reports an error at the position the slot gives back.
typedef struct {
    const char *extra; // the payload text; NULL when the line has none
    const char *extra_at;
    const char *kind_at;
    const char *shape_at;
    int has_shape;
    int ndim;
    const int64_t *shape;
    const char *name; // CC_NO_NAME when the line gives none
    int n_children;   // the number the kind's flags allow (checked by the parser)
    cc_node *const *children;
    const cc_child_binding *bindings; // per child; symbol NULL where the line has no '!'
    int tensors_as_random;
    int allow_hash_with_random;
    int check_all_inputs_used;
    int check_unique_arg_names;
    // The caller's tensor source and random bytes (see text/parse.h); NULL when it has none.
    int (*tensor)(void *ctx, cc_payload_tensor_kind kind, const char *prefix, int ndim,
                  const int64_t *shape, cc_tensor *out);
    int (*random_bytes)(void *ctx, uint8_t *out, size_t n);
    // The GeneralFunction spec a path names (see text/parse.h); NULL when the caller has none.
    cc_gf_spec *(*gf_spec_by_path)(void *ctx, const char *path);
    void *ctx;
} cc_payload_parse;

// --- expansion (rc's expand_node) -------------------------------------------------------------

// One re-derivation of node c over new children that may carry leading batch axes or other
// symbolic sizes (expand/expand.c runs it; nodes/expand_kind.h has the kinds' helpers).
typedef struct cc_expand_call {
    const cc_node *c;
    cc_node *const *inputs; // the new children, one per child of c
    int n;
    const int *br; // batch rank of each input (its rank minus the old child's)
    int batch_rank;
    const int64_t *bshape; // the right-aligned batch shape (batch_rank sizes)
    const char *what;      // "Kind 'name'" for messages
    cc_node **xs;          // n slots, NULL, for new references the driver releases
    // The expansion of body (child 0's old value) again, under the replacements child 0 was
    // expanded under plus keys[i] -> values[i]. New reference, or NULL.
    cc_node *(*rerun_body)(const struct cc_expand_call *e, cc_node *body, int n,
                           cc_node *const *keys, cc_node *const *values);
    void *driver; // the driver's state for rerun_body
} cc_expand_call;

// --- the record -------------------------------------------------------------------------------

typedef struct {
    const uint8_t *type_uuid; // rc's node_type_uuid (16 bytes), hashed after the non-name part
    const cc_name_op *name_op;
    // rc's compute_hash_non_name: payload bytes and children hashes, in rc's order.
    void (*hash_non_name)(const cc_node *n, cc_blake3 *h);
    // Non-leaf kinds: a new node of the same kind and payload over new children (see
    // cc_node_rebuild). Leaves (children NULL): a copy of n with the given name, its payload
    // copied rather than recomputed.
    cc_node *(*rebuild)(const cc_node *n, cc_node *const *children, const char *name);
    // rc's repr_extra_info appended to out (nothing for a kind without payload text). 0, or
    // -1 with an error recorded.
    int (*print_payload)(const cc_node *n, const cc_payload_print *o, cc_str *out);
    // The node of a parsed line. NULL with an error recorded and *at the position in the line
    // it is about (NULL: the line's start).
    cc_node *(*parse_payload)(const cc_payload_parse *in, const char **at);
    // Optional: releases the kind payload (not children, not name).
    void (*free_payload)(cc_node *n);
    // Optional (leaves: they have no children to expand over): rc's expand_node arm.
    cc_node *(*expand)(const cc_expand_call *e);
    // Optional: rc's self_flops; NULL counts 0.
    double (*self_flops)(const cc_node *n);
    // Optional: 1 when evaluating n gives a view of memory that exists anyway (a leaf's, a
    // child's), so planning adds no bytes for it; NULL means a fresh tensor.
    int (*eval_is_view)(const cc_node *n);
    // Optional: for a kind whose child 0 is a body in which every other child is bound to a
    // Symbol (a Module; substitution, expansion's maps, the " ! " of printed and parsed
    // lines): child i's binding in *out and 1, or 0 for child 0. NULL: no child is bound.
    int (*child_binding)(const cc_node *n, int i, cc_child_binding *out);
    // Optional: the printer's comment on child i (rc's get_child_comments), appended to out;
    // nothing appended means none. 0, or -1 with an error recorded.
    int (*child_comment)(const cc_node *n, int i, cc_str *out);
    // Optional: rc's child_axis_map for child i: out[j] (j < child i's rank) is n's axis that
    // child axis j becomes, or -1 when it becomes none (carried names follow it). NULL: no
    // child axis becomes one of n's. 0, or -1 with an error recorded.
    int (*child_axis_map)(const cc_node *n, int i, int *out);
} cc_kind_ops;

#define CC_DEFINE_KIND_OPS(k, ...)                                                                 \
    const cc_kind_ops cc_##k##_ops = {.type_uuid = k##_type_uuid,                                  \
                                      .name_op = &k##_name_op,                                     \
                                      .hash_non_name = k##_hash_non_name,                          \
                                      .rebuild = k##_rebuild,                                      \
                                      .print_payload = k##_print_payload,                          \
                                      .parse_payload = k##_parse_payload,                          \
                                      __VA_ARGS__}

#define CC_KIND(E, c_name, py, flags) extern const cc_kind_ops cc_##c_name##_ops;
#include "nodes/kinds.def"
#undef CC_KIND

// The records in kinds.def order, assembled in expand/kinds.c (the Module kind lives there).
extern const cc_kind_ops *const cc_kind_ops_table[CC_KIND_COUNT];

static inline const cc_kind_ops *
cc_kind_ops_of(cc_kind kind)
{
    return cc_kind_ops_table[kind];
}
