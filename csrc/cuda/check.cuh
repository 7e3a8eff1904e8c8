// Error checks of CUDA calls in the CUDA backend: a failed call is recorded in the core's
// error record (through the backend API capsule) with the call, CUDA's message and
// file:line, and control jumps to the function's fail: label.
#pragma once

#include <cuda_runtime.h>

#include "eval/backend.h"

// The core's functions, set by the module init before any backend is registered.
extern const cc_backend_api *cc_cuda_core;

#define CC_CUDA_TRY(call)                                                                          \
    do {                                                                                           \
        cudaError_t cc_cuda_err_ = (call);                                                         \
        if (cc_cuda_err_ != cudaSuccess) {                                                         \
            cc_cuda_core->fail(                                                                    \
                cc_cuda_err_ == cudaErrorMemoryAllocation ? CC_E_NO_MEMORY : CC_E_TENSOR_EVAL,     \
                "%s: %s (%s:%d)", #call, cudaGetErrorString(cc_cuda_err_), __FILE__, __LINE__);    \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)
