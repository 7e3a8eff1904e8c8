// The table of every kind's ops record, declared in nodes/kind.h. It is assembled here, in
// the lowest layer that holds every kind: the Module kind lives in expand/ because building a
// Module is a substitution. nodes/ reads the table and never names a kind file.
#include "nodes/kind.h"

const cc_kind_ops *const cc_kind_ops_table[CC_KIND_COUNT] = {
#define CC_KIND(E, c_name, py, flags) [CC_KIND_##E] = &cc_##c_name##_ops,
#include "nodes/kinds.def"
#undef CC_KIND
};
