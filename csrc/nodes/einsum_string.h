// Einsum labels as text and as per-operand lists: rc's classic strings ("ij,jk->ik"),
// fancy strings ("batch in, in out -> batch out"), label characters for printing, and
// construction from per-operand label lists (what the bindings and the parser need).
#pragma once

#include <stdint.h>

#include "nodes/node.h"

// Labels of an einsum: operand i has n_axes[i] labels; all operands' labels concatenated.
typedef struct {
    int n_operands;
    int *n_axes;
    uint8_t *in_axes;
    int n_out;
    uint8_t *out_axes;
} cc_einsum_labels;

// Empty labels (no operands, no output).
void cc_einsum_labels_init(cc_einsum_labels *l);
// Frees the arrays (cc_free) and re-initialises l.
void cc_einsum_labels_clear(cc_einsum_labels *l);

// rc's classic string: spaces ignored, operands split at ',', each character its alphabet
// index (a..z 0-25, A..Z 26-51, Greek α..ψ 52-75, UTF-8). l is initialised by the call.
// 0, or -1 with CC_E_PARSE_EINSUM_STRING_NO_ARROW (not exactly one "->") or
// CC_E_PARSE_EINSUM_STRING_INVALID (another character).
int cc_einsum_parse_string(const char *s, cc_einsum_labels *l);
// rc's fancy string: whitespace-separated words, numbered by first appearance (operands left
// to right, then the output). Errors as cc_einsum_parse_string (INVALID past 256 words).
int cc_einsum_parse_fancy(const char *s, cc_einsum_labels *l);

// The UTF-8 character printing label (NUL-terminated in buf), or NULL when the label has
// none (labels above 75).
const char *cc_einsum_label_char(uint8_t label, char buf[4]);
// rc's to_einsum_string of an Einsum node, e.g. "ab,bc->ac" ("->" with no operands). New
// string (cc_free), or NULL with CC_E_PY_VALUE for a label above 75, or CC_E_NO_MEMORY.
char *cc_einsum_to_string(const cc_node *n);

// Einsum over children with labels per operand (rc's from_nodes_ints): operand count must
// equal n (CC_E_CONSTRUCT_EINSUM_WRONG_NUM_CHILDREN), each label count the child's rank
// (CC_E_CONSTRUCT_EINSUM_LEN_SHAPE_DIFFERENT_FROM_AXES); then cc_einsum_new's checks. As rc,
// a single operand with no labels over zero children means no operands (the string "->").
// New reference, or NULL with the error. Borrows children.
cc_node *cc_einsum_new_from_labels(int n, cc_node *const *children, const cc_einsum_labels *l,
                                   const char *name);
// Parses s (fancy when fancy is set) and builds the Einsum (rc's from_einsum_string and
// from_fancy_string). New reference, or NULL with a parse or construct error.
cc_node *cc_einsum_new_from_string(const char *s, int fancy, int n, cc_node *const *children,
                                   const char *name);
