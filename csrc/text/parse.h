// Parser of rc's text format (text/print.h writes it): one node per line, indentation for
// children, identifiers for sharing, Module bindings after '!'. Builds nodes through their
// constructors; gets tensors and randomness from its caller's hooks. Knows nothing of Python.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "nodes/node.h"
#include "tensor/tensor.h"

typedef enum {
    CC_PARSE_TENSOR_ARRAY,  // an Array's value, by hash prefix
    CC_PARSE_TENSOR_INDEX,  // an Index tensor, by hash prefix
    CC_PARSE_TENSOR_RANDOM, // random values of the given shape, seeded by the prefix (or not)
} cc_parse_tensor_kind;

// What a parse asks of its caller. Each returns 0, or -1 with an error recorded
// (CC_E_PYTHON keeps a Python exception), which ends the parse.
typedef struct {
    void *ctx;
    // *out (initialised by the call) = the tensor kind asks for. prefix: lowercase hex, or
    // NULL for a random tensor without a hash; shape: the line's shape (ndim -1 when the line
    // gives none; INDEX gives the printed length). The parser checks what it gets.
    int (*tensor)(void *ctx, cc_parse_tensor_kind kind, const char *prefix, int ndim,
                  const int64_t *shape, cc_tensor *out);
    // n random bytes (a Symbol whose uuid is "rand").
    int (*random_bytes)(void *ctx, uint8_t *out, size_t n);
    // The GeneralFunction spec that path ("package.module:Attr" or "/dir/file.py:Attr", from a
    // "<name> at <path>" line) names: a new reference, or NULL with an error recorded. Loading
    // one runs code of the caller's environment.
    cc_gf_spec *(*gf_spec_by_path)(void *ctx, const char *path);
} cc_parse_hooks;

// rc's Parser options.
typedef struct {
    int tensors_as_random;             // every Array random (of its printed shape)
    int allow_hash_with_random;        // ...even those that name a hash
    int on_repeat_check_info_same;     // a repeated identifier's info must match its definition
    int module_check_all_inputs_used;  // every Module argument's symbol occurs in the body
    int module_check_unique_arg_names; // Module argument symbols have distinct names
    // Identifiers (the text of a quoted identifier) standing for given circuits (borrowed).
    int n_refs;
    const char *const *ref_idents;
    cc_node *const *ref_nodes;
    cc_parse_hooks hooks;
} cc_parse_options;

// rc's Parser() defaults: checks on, nothing random, no references, no hooks.
void cc_parse_options_default(cc_parse_options *o);

// The top-level circuits of text (len bytes of UTF-8), in order: *out (freed by the caller
// with cc_free) holds n new references. n >= 0, or -1 with a CC_E_PARSE_* error, a
// constructor's error or a hook's, whose message starts "line L, column C: " and ends with
// the offending line.
int cc_parse_circuits(const char *text, size_t len, const cc_parse_options *o, cc_node ***out);
