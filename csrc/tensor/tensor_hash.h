// rc's tensor hash: BLAKE3 over fixed separators, the shape, the dtype tag, the device and the
// elements' bytes in C order, so Array hashes and tensor-store names agree with rc's.
#pragma once

#include <stdint.h>

#include "tensor/tensor.h"

// out = the 32-byte hash rc gives this tensor on the CPU; t may be strided or broadcast and
// must live in CPU memory. Streams the elements without copying the tensor; cannot fail.
void cc_tensor_hash(const cc_tensor *t, uint8_t out[32]);
