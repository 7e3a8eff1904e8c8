// rc's automatic names (spec 1.2): operator classes, parentheses, truncation of long
// child names. Used by cc_node_finish when a constructor is given no name.
#pragma once

#include "nodes/node.h"

// rc's autoname of n, built from its kind and its children's names: *out is a new string
// (free with cc_free), or NULL when n gets none (a leaf, or a needed child is unnamed).
// 0, or -1 with CC_E_NO_MEMORY.
int cc_autoname(const cc_node *n, char **out);
