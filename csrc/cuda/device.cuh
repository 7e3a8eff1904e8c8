// The state of one GPU's backend: its stream (every kernel and copy of the backend runs on
// it, in order, so storage freed on the host side can be reused by the next kernel at
// once), its cuBLAS handle when the extension has cuBLAS, and its caching allocator.
#pragma once

#include <cuda_runtime.h>
#ifdef CC_HAVE_CUBLAS
#include <cublas_v2.h>
#endif

#include "cuda/check.cuh"

// What a device's pool has done since import (or since the last empty_cache for cached).
struct cc_cuda_pool_stats {
    long long requests;      // allocations asked of the pool
    long long cache_hits;    // served from a cached block
    long long device_allocs; // cudaMalloc calls
    long long device_frees;  // cudaFree calls (empty_cache, retries after out-of-memory)
    long long bytes_in_use;  // held by live buffers (rounded block sizes)
    long long bytes_cached;  // free blocks kept for reuse
    long long peak_bytes_in_use;
};

struct cc_cuda_device {
    int index;
    cudaStream_t stream; // NULL until the first call that needs the GPU (cc_cuda_enter)
#ifdef CC_HAVE_CUBLAS
    cublasHandle_t blas; // NULL until the first GEMM
#endif
};

// Makes d's GPU current for the guard's lifetime and then restores the caller's, so that
// evaluation leaves torch's current device as it found it; creates d's stream on first use
// (a GPU that is never used gets no context). err is what went wrong, cudaSuccess if nothing.
struct cc_cuda_enter {
    int previous = -1;
    cudaError_t err = cudaSuccess;
    explicit cc_cuda_enter(cc_cuda_device *d);
    ~cc_cuda_enter();
};

// The device state of a CUDA backend record.
static inline cc_cuda_device *
cc_cuda_state(const cc_backend *b)
{
    return (cc_cuda_device *)b->state;
}

// Storage of nbytes on d's GPU from its pool, or NULL with CC_E_NO_MEMORY naming the bytes.
// The caller has made d's GPU current. Any thread.
void *cc_cuda_pool_alloc(cc_cuda_device *d, size_t nbytes);
// Returns a block from cc_cuda_pool_alloc to d's pool (kept for reuse, never cudaFree'd here).
void cc_cuda_pool_free(cc_cuda_device *d, void *data);
void cc_cuda_pool_get_stats(const cc_cuda_device *d, cc_cuda_pool_stats *out);
// Waits for d's stream, then cudaFree's every cached block. 0, or -1 with an error.
int cc_cuda_pool_empty(cc_cuda_device *d);
