#pragma once
// The device generator of the random workload (generate.cu); private to gpu/.

#include <cuda_runtime.h>

#include <cstdint>

namespace attnsteer::gpu {

/// OUT[i] = float(SIGMA * philoxNormal(SEED, Logits, i)) for i < COUNT, on STREAM: the values of
/// Workload::generate, bit for bit.
void launchGenerateLogits(std::uint64_t seed, double sigma, unsigned long long count, float* out,
                          cudaStream_t stream);

} // namespace attnsteer::gpu
