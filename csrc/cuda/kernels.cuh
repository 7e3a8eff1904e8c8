// The CUDA backend's kernels (kernels.cu): one per node kind it runs, and the supports()
// that accepts exactly the nodes (dtypes, payloads) they handle.
#pragma once

#include "cuda/device.cuh"

// 1 when the extension was built with cuBLAS's headers (einsum contractions can run), else 0.
extern const int cc_cuda_has_cublas;
// NULL when cuBLAS is loaded (opened on the first call), else why it is not available.
const char *cc_cuda_cublas_error(void);
// float32 GEMMs may use TF32 tensor cores; 0 (off) by default.
extern int cc_cuda_allow_tf32;

// Host Arrays stay on the GPU after their first upload, for later evaluations; 0 (off) by
// default. Set with the GIL held.
extern int cc_cuda_array_cache_on;
// Drops device's cached Arrays (releasing their host buffers: call with the GIL held).
void cc_cuda_array_cache_clear(int device);

// Fills b's kernel table and its supports().
void cc_cuda_install_kernels(cc_backend *b);
