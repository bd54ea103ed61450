#pragma once
// The CUDA backend, seen from code that never includes a CUDA header.

#include <cstdint>
#include <string>

namespace attnsteer::gpu {

/// True when this build has the CUDA backend and a CUDA device can be used.
bool isAvailable();
/// The device's name ("NVIDIA H100 80GB HBM3"), or why none is available.
std::string deviceName();
/// Total device memory in bytes, 0 when none is available.
std::uint64_t deviceMemoryBytes();

} // namespace attnsteer::gpu
