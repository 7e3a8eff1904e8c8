// rc's split_to_concat: a circuit rewritten as the Concat of consecutive slices of itself
// along one axis (same value).
#pragma once

#include <stdint.h>

#include "nodes/node.h"

// Concat (autonamed "<c> idx ++ <c> idx ...") of Indexes (autonamed "<c> idx") of c taking
// sections[0], sections[1], ... positions of axis in turn. axis may be negative. New reference,
// or NULL with CC_E_MISC_INPUT_ITEM_OUT_OF_BOUNDS (axis) or CC_E_PY_VALUE (a negative section,
// or sections not summing to the axis length).
cc_node *cc_split_to_concat(cc_node *c, int axis, int n, const int64_t *sections);
