// The caching device allocator: one pool per GPU. Sizes are rounded up (to 512 bytes below
// 1 MiB, to 2 MiB above) and a freed block goes to a free list ordered by size; a request
// takes the smallest cached block that fits and is at most twice its size, and calls
// cudaMalloc only when none does. All of a backend's work runs on its one stream, so a block
// freed on the host can serve the next kernel at once. When cudaMalloc fails the pool
// returns its cached blocks to the driver and tries once more.
#include <map>
#include <mutex>
#include <unordered_map>

#include "cuda/device.cuh"

namespace
{

struct pool {
    std::mutex lock;
    std::multimap<size_t, void *> free_blocks;
    std::unordered_map<void *, size_t> live; // block -> rounded size
    cc_cuda_pool_stats stats{};
};

pool pools[CC_BACKEND_MAX_DEVICES];

size_t
round_size(size_t nbytes)
{
    const size_t small = 512;
    const size_t large = (size_t)2 << 20;
    if (nbytes == 0) {
        return small;
    }
    if (nbytes < ((size_t)1 << 20)) {
        return (nbytes + small - 1) / small * small;
    }
    return (nbytes + large - 1) / large * large;
}

// cudaFree's every cached block; the pool's lock is held.
void
release_cached(pool &p)
{
    for (auto &block : p.free_blocks) {
        cudaFree(block.second);
        p.stats.device_frees++;
    }
    p.free_blocks.clear();
    p.stats.bytes_cached = 0;
}

} // namespace

void *
cc_cuda_pool_alloc(cc_cuda_device *d, size_t nbytes)
{
    pool &p = pools[d->index];
    size_t size = round_size(nbytes);
    void *data = NULL;
    std::lock_guard<std::mutex> hold(p.lock);
    p.stats.requests++;
    auto it = p.free_blocks.lower_bound(size);
    if (it != p.free_blocks.end() && it->first <= 2 * size) {
        size = it->first;
        data = it->second;
        p.free_blocks.erase(it);
        p.stats.bytes_cached -= (long long)size;
        p.stats.cache_hits++;
    } else {
        cudaError_t err = cudaMalloc(&data, size);
        if (err == cudaErrorMemoryAllocation && !p.free_blocks.empty()) {
            cudaGetLastError();
            cudaStreamSynchronize(d->stream);
            release_cached(p);
            err = cudaMalloc(&data, size);
        }
        if (err != cudaSuccess) {
            cudaGetLastError();
            cc_cuda_core->fail(err == cudaErrorMemoryAllocation ? CC_E_NO_MEMORY : CC_E_TENSOR_EVAL,
                               "allocating %zu bytes on cuda:%d: %s (%lld bytes in use)", nbytes,
                               d->index, cudaGetErrorString(err), p.stats.bytes_in_use);
            return NULL;
        }
        p.stats.device_allocs++;
    }
    p.live.emplace(data, size);
    p.stats.bytes_in_use += (long long)size;
    if (p.stats.bytes_in_use > p.stats.peak_bytes_in_use) {
        p.stats.peak_bytes_in_use = p.stats.bytes_in_use;
    }
    return data;
}

void
cc_cuda_pool_free(cc_cuda_device *d, void *data)
{
    pool &p = pools[d->index];
    std::lock_guard<std::mutex> hold(p.lock);
    auto it = p.live.find(data);
    if (it == p.live.end()) {
        return;
    }
    size_t size = it->second;
    p.live.erase(it);
    p.free_blocks.emplace(size, data);
    p.stats.bytes_in_use -= (long long)size;
    p.stats.bytes_cached += (long long)size;
}

void
cc_cuda_pool_get_stats(const cc_cuda_device *d, cc_cuda_pool_stats *out)
{
    pool &p = pools[d->index];
    std::lock_guard<std::mutex> hold(p.lock);
    *out = p.stats;
}

int
cc_cuda_pool_empty(cc_cuda_device *d)
{
    pool &p = pools[d->index];
    CC_CUDA_TRY(cudaStreamSynchronize(d->stream));
    {
        std::lock_guard<std::mutex> hold(p.lock);
        release_cached(p);
    }
    return 0;
fail:
    return -1;
}

static std::mutex stream_lock;

cc_cuda_enter::cc_cuda_enter(cc_cuda_device *d)
{
    err = cudaGetDevice(&previous);
    if (err == cudaSuccess && previous != d->index) {
        err = cudaSetDevice(d->index);
    }
    if (err == cudaSuccess) {
        std::lock_guard<std::mutex> hold(stream_lock);
        if (d->stream == NULL) {
            err = cudaStreamCreateWithFlags(&d->stream, cudaStreamNonBlocking);
        }
    }
}

cc_cuda_enter::~cc_cuda_enter()
{
    if (previous >= 0) {
        cudaSetDevice(previous);
    }
}
