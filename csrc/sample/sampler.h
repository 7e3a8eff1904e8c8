// rc's Sampler.sample: every DiscreteVar that the var matcher finds is replaced by its sample
// spec's draw, and the sample axes that this puts in front propagate to the root.
#pragma once

#include "match/iterative.h"
#include "nodes/node.h"
#include "sample/sample_spec.h"

// The sampled root, of shape sample shape + root.shape: the Expander's result (two matches on
// one node are an error; changed named nodes get "_<suffix>" unless suffix is NULL), or, when
// no replacement changed the root's shape, the root repeated along the sample axes in front
// (rc's expand_at_axes). New reference, or NULL with an error: the spec's, the expansion's, or
// CC_E_PY_RUNTIME when a replacement gave the root another shape than either. Borrows all.
cc_node *cc_sampler_sample(cc_node *root, cc_imatcher *var_matcher, const cc_sample_spec *spec,
                           const char *suffix);
