// Cumulant (rc's joint cumulant of its children) and StoredCumulantVar (a random variable
// given by its cumulants): constructors. The kinds live in the sampling layer.
#pragma once

#include <stdint.h>

#include "nodes/node.h"

// Shape: the children's shapes one after another. Always constant. New reference, or NULL
// with an error (a rank past CC_MAX_NDIM). Borrows children.
cc_node *cc_cumulant_new(int n, cc_node *const *children, const char *name);
// Cumulant k of the variable is children[i] where numbers[i] == k; numbers strictly
// ascending, holding 1 and 2 and not 0; cumulant k has the mean's shape repeated k times.
// uuid NULL: the nil uuid. New reference, or NULL with a
// CC_E_CONSTRUCT_STORED_CUMULANT_VAR_* error. Borrows children and numbers.
cc_node *cc_stored_cumulant_var_new(int n, const int64_t *numbers, cc_node *const *children,
                                    const uint8_t uuid[16], const char *name);
