// Node shapes: rc's broadcasting rule, symbolic sizes (reserved primes) and the
// text forms of sizes and shapes used in messages and by the printer.
#pragma once

#include <stdint.h>

#include "util/str.h"

#define CC_N_SYMBOLIC_SIZES 256

// Broadcasts n shapes right-aligned: per axis the sizes must be equal, or one of them 1 while
// the other is not 0 (rc: a 1 does not broadcast against 0). Zero shapes give ndim 0.
// 0, or -1 with CC_E_MISC_INPUT_NOT_BROADCASTABLE naming every shape.
int cc_shape_broadcast(int n, const int *ndims, const int64_t *const *shapes, int *out_ndim,
                       int64_t *out_shape);

// Right-aligns shapes requiring equal sizes where they overlap (rc's right_align_shapes, no
// size-1 broadcasting). 0, or -1 with CC_E_MISC_INPUT_NOT_BROADCASTABLE naming the shapes.
int cc_shape_right_align(int n, const int *ndims, const int64_t *const *shapes, int *out_ndim,
                         int64_t *out_shape);
// Appends "[2, 3]" (plain integers, rc's debug form of a shape). 0, or -1 with CC_E_NO_MEMORY.
int cc_shape_append(cc_str *s, int ndim, const int64_t *shape);

// The prime standing for symbolic size i ("<i>s"), 0 <= i < CC_N_SYMBOLIC_SIZES; 0 otherwise.
int64_t cc_symbolic_size(int i);
// 1 if some reserved symbolic prime divides size (such sizes are banned from Arrays).
int cc_size_has_symbolic(int64_t size);
// Appends rc's display of a size: "12", "0s", "2*1s", "0s*0s". 0, or -1 with CC_E_NO_MEMORY.
int cc_size_append(cc_str *s, int64_t size);
