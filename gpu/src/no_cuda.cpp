// Compiled when the build has no CUDA backend: the same API, reporting that no GPU can be used.
#include "attnsteer/errors.h"
#include "attnsteer/gpu.h"

namespace attnsteer::gpu {

namespace {
constexpr const char* kReason = "this build has no CUDA backend";

[[noreturn]] void unavailable() {
    throw InputError("--backend", std::string("cuda: ") + kReason);
}
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
    unavailable();
}

// No object of CudaBackend can exist here: its constructor throws, so the members below are
// never reached.
struct CudaBackend::Impl {};

CudaBackend::CudaBackend(CudaBackendOptions) {
    unavailable();
}
CudaBackend::~CudaBackend() = default;

std::vector<Metrics> CudaBackend::evaluate(const Workload&, std::span<const double>,
                                           std::span<const double>, const SteeringParams&,
                                           const RunControl&) {
    unavailable();
}

TokenRow CudaBackend::row(const Workload&, std::span<const double>, const SteeringParams&, int,
                          int) {
    unavailable();
}

std::vector<float> CudaBackend::generateLogits(const WorkloadSpec&) {
    unavailable();
}
double CudaBackend::lastDeviceMs() const {
    return 0;
}
std::uint64_t CudaBackend::lastValueBytes() const {
    return 0;
}
void CudaBackend::releaseDeviceMemory() {}

} // namespace attnsteer::gpu
