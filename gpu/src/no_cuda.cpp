// Compiled when the build has no CUDA backend: the same API, reporting that no GPU can be used.
#include "attnsteer/errors.h"
#include "attnsteer/gpu.h"

namespace attnsteer::gpu {

namespace {
constexpr const char* kReason = "this build has no CUDA backend";
} // namespace

bool isAvailable() {
    return false;
}
std::string unavailableReason() {
    return kReason;
}
std::string deviceName() {
    return kReason;
}
std::uint64_t deviceMemoryBytes() {
    return 0;
}

std::unique_ptr<Backend> makeCudaBackend(CudaBackendOptions) {
    throw settingError("backend", std::string("cuda: ") + kReason);
}

// Sizes first, as with a CUDA backend: the same message whatever the build.
AttentionRuns timeAttention(const attention::AttentionParams& params, std::span<const float>,
                            std::span<const float>, std::span<const float>, std::span<const float>,
                            std::span<float>, int) {
    checkCudaAttention(params);
    throw settingError("backend", std::string("cuda: ") + kReason);
}

void attentionForward(const attention::AttentionParams& params, std::span<const float>,
                      std::span<const float>, std::span<const float>, std::span<const float>,
                      std::span<float>) {
    checkCudaAttention(params);
    throw settingError("backend", std::string("cuda: ") + kReason);
}

} // namespace attnsteer::gpu
