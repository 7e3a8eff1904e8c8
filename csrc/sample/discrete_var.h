// DiscreteVar: rc's random variable choosing one row (axis 0) of its values, jointly with every
// other variable of the same probs_and_group. The kind lives in the sampling layer; nothing
// below it names the kind.
#pragma once

#include <stdint.h>

#include "nodes/node.h"

// New reference, or NULL with a CC_E_CONSTRUCT_DISCRETE_VAR_* error (values of rank 0,
// probs_and_group not 1-D or of another length than values' axis 0). Borrows both.
cc_node *cc_discrete_var_new(cc_node *values, cc_node *probs_and_group, const char *name);
// rc's uniform_probs_and_group: Tag(Scalar(1 / size, (size,)), uuid) named name, a group of
// its own for each uuid. New reference, or NULL with an error.
cc_node *cc_discrete_var_uniform_group(int64_t size, const uint8_t uuid[16], const char *name);
