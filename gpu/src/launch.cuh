#pragma once
// Kernel launches of the CUDA backend, in one place: the triple-chevron launch with nvcc, and a
// call of the kernel for every thread in the CPU emulation build (gpu/emulation/cuda_runtime.h).

#include "attnsteer/errors.h"

#include <cuda_runtime.h>

#include <string>

namespace attnsteer::gpu {

/// Launches KERNEL on STREAM and reports a launch error (a bad configuration, no kernel image for
/// this device) at once: the DeviceError "NAME: <CUDA's message>".
template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t stream, const char* name,
            Args... args) {
#ifdef ATTNSTEER_CUDA_EMULATION
    (void)stream; // the emulated stream is synchronous
    cudaemu::launch(grid, block, name, [&] { kernel(args...); });
#else
    kernel<<<grid, block, 0, stream>>>(args...);
#endif
    if (const cudaError_t error = cudaGetLastError(); error != cudaSuccess)
        throw DeviceError(std::string(name) + ": " + cudaGetErrorString(error));
}

} // namespace attnsteer::gpu
