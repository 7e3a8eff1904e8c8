// RearrangeSpec: einops-style axis groups (rc's RearrangeSpec), its string form,
// validation, conforming to an input shape, and the tensor operation it denotes.
#pragma once

#include <stdint.h>

#include "tensor/tensor.h"

#define CC_REARRANGE_SIZE_NONE (-1) // an int without a known size ("wildcard")

struct cc_rearrange_spec {
    int n_in, n_out; // number of axis groups
    // Group g of the input is in_ints[in_start[g] .. in_start[g+1]); likewise for output.
    int *in_start;
    uint8_t *in_ints;
    int *out_start;
    uint8_t *out_ints;
    int n_sizes;    // ints used are 0 .. n_sizes-1
    int64_t *sizes; // size of each int, or CC_REARRANGE_SIZE_NONE
};
typedef struct cc_rearrange_spec cc_rearrange_spec;

// New spec from groups; validated (CC_E_REARRANGE_SPEC_* errors). NULL on error.
cc_rearrange_spec *cc_rearrange_spec_new(int n_in, const int *in_lens, const uint8_t *in_ints,
                                         int n_out, const int *out_lens, const uint8_t *out_ints,
                                         int n_sizes, const int64_t *sizes);
// Parses "a (b c) -> (a b) c" with names, bare sizes, name:size and () groups
// (CC_E_REARRANGE_PARSE_* errors). NULL on error.
cc_rearrange_spec *cc_rearrange_spec_from_string(const char *s);
cc_rearrange_spec *cc_rearrange_spec_copy(const cc_rearrange_spec *s);
void cc_rearrange_spec_free(cc_rearrange_spec *s);
// rc's to_string form, e.g. "a b -> b a", "(a:2 b:3) -> a:2 b:3"; caller frees with cc_free.
char *cc_rearrange_spec_to_string(const cc_rearrange_spec *s);
// Copy with every int's size fixed by this input shape (wildcards inferred); NULL with
// CC_E_REARRANGE_SPEC_INPUT_NOT_CONFORMABLE when the shape does not fit.
cc_rearrange_spec *cc_rearrange_spec_conform(const cc_rearrange_spec *s, int ndim,
                                             const int64_t *shape);
// Output shape of a conformed spec.
int cc_rearrange_spec_out_shape(const cc_rearrange_spec *conformed, int *ndim, int64_t *shape);
// Applies a conformed spec to x (reshape, permute, expand, reshape); a view when possible.
int cc_rearrange_apply(cc_tensor *out, const cc_rearrange_spec *conformed, const cc_tensor *x);
// rc's RearrangeSpec::compute_hash of the spec as given (docs/hashing.md, "Rearrange").
void cc_rearrange_spec_hash(const cc_rearrange_spec *s, uint8_t out[32]);
