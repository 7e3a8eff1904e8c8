// Helpers of the kinds' expand slots (nodes/kind.h cc_expand_call): the helper nodes rc's
// expand_node inserts (batch repetition, permutations, unsqueezes) and its size choices.
#pragma once

#include <stdint.h>

#include "nodes/kind.h"

// *out = name + suffix, or NULL when name is NULL (the helper node then gets rc's autoname,
// which is none for an unnamed child). 0, or -1 (no memory).
int cc_expand_suffixed(const char *name, const char *suffix, char **out);
// rc's RearrangeSpec::prepend_batch_shape applied to x: nb new leading axes of bshape.
cc_node *cc_expand_prepend_batch(cc_node *x, int nb, const int64_t *bshape, const char *name);
// Rearrange permuting x's axes: output axis i is input axis perm[i].
cc_node *cc_expand_permute(cc_node *x, const int *perm, const char *name);
// rc's unsqueeze of the output axes start .. start + count (rc's expand_at_axes layout).
cc_node *cc_expand_unsqueeze_range(cc_node *x, int start, int count, const char *name);
// rc's find_non_symbolic: the first size without a symbolic factor, else the first size.
int64_t cc_expand_find_non_symbolic(int n, const int64_t *sizes);
// rc's get_expanded_inputs: batchable inputs missing some batch axes get them by repetition
// (a Rearrange "<name> rep_for_batch"). out[i] new references. 0; 1 with *bad the first
// non-batchable input carrying batch axes; -1 on error.
int cc_expand_batched_inputs(const cc_expand_call *e, const uint8_t *batchable, cc_node **out,
                             int *bad);
