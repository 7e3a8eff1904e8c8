// rc's cast_circuit: every Array whose tensor differs from a requested device or dtype
// replaced by a cast copy, names kept, everything above rebuilt.
#pragma once

#include "nodes/node.h"

// rc's TorchDeviceDtypeOp: each field optional.
typedef struct {
    int has_device;
    cc_device_kind device;
    int device_index;
    int has_dtype;
    cc_dtype dtype;
} cc_device_dtype;

// New reference (c itself when nothing changes), or NULL with an error: a device other than the
// CPU is CC_E_PY_NOT_IMPLEMENTED (tensors of circuits live in host memory).
cc_node *cc_cast_circuit(cc_node *c, const cc_device_dtype *dd);
