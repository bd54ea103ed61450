// Z = sigma * Normal(0, 1) on the device, bit for bit what Workload::generate computes on the CPU.
//
// Both sides use core's philox_normal.h: Philox4x32-10, and Box-Muller written with explicit
// fma and its own log and sin/cos kernels. This file is compiled with -fmad=false (see
// gpu/CMakeLists.txt) so that nvcc contracts no other multiply-add, as core is compiled with
// -ffp-contract=off; sqrt and division are IEEE-rounded on both sides.
#include "generate.h"
#include "launch.cuh"

#include "attnsteer/philox_normal.h"
#include "attnsteer/random.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace attnsteer::gpu {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    generateKernel(std::uint64_t seed, double sigma, unsigned long long count, float* out) {
    const unsigned long long blocks = (count + 3) / 4;
    const auto key0 = std::uint32_t(seed), key1 = std::uint32_t(seed >> 32);
    for (unsigned long long block = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
         block < blocks; block += (unsigned long long)gridDim.x * blockDim.x) {
        std::uint32_t words[4] = {std::uint32_t(block), std::uint32_t(block >> 32),
                                  std::uint32_t(RandomStream::Logits), 0u};
        philox::philoxBlock(words, key0, key1);
        double normals[4];
        philox::normalsOfWords(words, normals);
        const unsigned long long first = block * 4;
        if (first + 4 <= count) { // out is cudaMalloc'ed, 256-byte aligned: one 16-byte store
            reinterpret_cast<float4*>(out)[block] =
                make_float4(float(sigma * normals[0]), float(sigma * normals[1]),
                            float(sigma * normals[2]), float(sigma * normals[3]));
        } else {
            for (unsigned long long index = first; index < count; ++index)
                out[index] = float(sigma * normals[index - first]);
        }
    }
}

} // namespace

void launchGenerateLogits(std::uint64_t seed, double sigma, unsigned long long count, float* out,
                          cudaStream_t stream) {
    const unsigned long long blocks = (count + 3) / 4;
    const unsigned grid =
        unsigned(std::min<unsigned long long>((blocks + kThreads - 1) / kThreads, 1ull << 20));
    launch(generateKernel, grid, kThreads, stream, "generateKernel", seed, sigma, count, out);
}

} // namespace attnsteer::gpu
