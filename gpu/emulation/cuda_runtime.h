#pragma once
// The part of the CUDA runtime and device language that gpu/src uses, emulated on the CPU.
//
// The emulated build (target attnsteer_gpu_emulated, for the tests) compiles gpu/src/*.cu with the
// host compiler and this header in place of the toolkit's <cuda_runtime.h>, so that machines
// without a GPU run the CUDA backend's host code and kernels: launch configurations, indexing,
// shared-memory tiles, warp shuffles and block reductions. Every thread of a block is a fiber;
// blocks run one after another. __syncthreads and the shuffles are real barriers: threads that
// wait at different barriers, a shuffle with an exited lane or a mask other than the full warp are
// reported as errors rather than hidden. What it cannot show: speed, memory coalescing, the
// device's rounding of exp/log (within an ulp of the host's), and races between blocks, which run
// in order.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// Blocks run one at a time, so a function-scope static is one block's shared memory.
#define __shared__ static

struct uint3 {
    unsigned x, y, z;
};

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

struct alignas(16) float4 {
    float x, y, z, w;
};

inline float4 make_float4(float x, float y, float z, float w) {
    return {x, y, z, w};
}

enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorLaunchFailure = 719,
};

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
};

constexpr unsigned cudaStreamNonBlocking = 1;

struct CUstream_st;
struct CUevent_st;
using cudaStream_t = CUstream_st*;
using cudaEvent_t = CUevent_st*;

struct cudaDeviceProp {
    char name[256];
    std::size_t totalGlobalMem;
    int multiProcessorCount;
    int major;
    int minor;
};

struct cudaFuncAttributes {
    int maxThreadsPerBlock;
};

namespace attnsteer::cudaemu {

/// The emulated device's name.
inline constexpr const char* kDeviceName = "CUDA emulator on the CPU (AttnSteer tests)";
/// The variable that sets the emulated device's memory in MiB (default 4096), so that a test can
/// make a workload not fit.
inline constexpr const char* kMemoryVariable = "ATTNSTEER_EMULATED_DEVICE_MIB";

/// How much memory cudaMalloc hands out in all, read once from kMemoryVariable.
std::size_t deviceMemory();

struct ThreadPosition {
    uint3 thread;
    uint3 block;
    dim3 blockSize;
    dim3 gridSize;
};

/// The order in which the scheduler resumes the threads of a block, round after round. Threads
/// run until they wait, so a missing barrier shows as threads reading what others have not
/// written yet, or have already overwritten; which ones depends on the order, and running a
/// kernel both ways shows more of them. The default comes from ATTNSTEER_EMULATOR_ORDER
/// ("descending"), else ascending.
enum class ThreadOrder { Ascending, Descending };
void setThreadOrder(ThreadOrder order);
ThreadOrder threadOrder();

/// Where the calling fiber is in the launch.
const ThreadPosition& position();

/// Runs BODY once for every thread of GRID x BLOCK. Throws std::runtime_error naming KERNEL when
/// the threads of a block cannot all make progress (divergent barriers) or misuse a shuffle.
void launch(dim3 grid, dim3 block, const char* kernel, const std::function<void()>& body);

void syncThreads();

/// The value LANE_MASK lanes away (xor) in the caller's warp, as __shfl_xor_sync.
std::uint64_t shuffleXor(unsigned mask, std::uint64_t bits, int laneMask);

template <typename T> T shuffleXorOf(unsigned mask, T value, int laneMask) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(std::uint64_t));
    std::uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    bits = shuffleXor(mask, bits, laneMask);
    std::memcpy(&value, &bits, sizeof(T));
    return value;
}

} // namespace attnsteer::cudaemu

#define threadIdx (::attnsteer::cudaemu::position().thread)
#define blockIdx (::attnsteer::cudaemu::position().block)
#define blockDim (::attnsteer::cudaemu::position().blockSize)
#define gridDim (::attnsteer::cudaemu::position().gridSize)

inline void __syncthreads() {
    ::attnsteer::cudaemu::syncThreads();
}

template <typename T> T __shfl_xor_sync(unsigned mask, T value, int laneMask) {
    return ::attnsteer::cudaemu::shuffleXorOf(mask, value, laneMask);
}

/// Fibers of one launch run on one host thread, one at a time: a plain add is atomic.
inline int atomicAdd(int* address, int value) {
    const int old = *address;
    *address += value;
    return old;
}

cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* properties, int device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetLastError();
const char* cudaGetErrorString(cudaError_t error);

cudaError_t cudaMalloc(void** pointer, std::size_t bytes);
cudaError_t cudaFree(void* pointer);
/// Page-locked host memory: plain host memory here, outside the device's budget.
cudaError_t cudaMallocHost(void** pointer, std::size_t bytes);
cudaError_t cudaFreeHost(void* pointer);
cudaError_t cudaMemGetInfo(std::size_t* free, std::size_t* total);
/// Copies at once (the emulated stream is synchronous).
cudaError_t cudaMemcpyAsync(void* destination, const void* source, std::size_t bytes,
                            cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemsetAsync(void* destination, int value, std::size_t bytes,
                            cudaStream_t stream = nullptr);

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamDestroy(cudaStream_t stream);

/// Events hold the host clock when recorded.
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventElapsedTime(float* milliseconds, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaEventDestroy(cudaEvent_t event);

template <typename Kernel>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, Kernel) {
    attributes->maxThreadsPerBlock = 1024;
    return cudaSuccess;
}
