// Compiled when the CUDA backend is not (yet) built: reports that no GPU can be used.
#include "attnsteer/gpu.h"

namespace attnsteer::gpu {

bool isAvailable() { return false; }
std::string deviceName() { return "no CUDA backend in this build"; }
std::uint64_t deviceMemoryBytes() { return 0; }

} // namespace attnsteer::gpu
