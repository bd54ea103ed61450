#pragma once
// The CUDA backend, seen from code that never includes a CUDA header. Builds without CUDA compile
// gpu/src/no_cuda.cpp instead: the same functions, reporting that no device can be used.

#include "attnsteer/backend.h"
#include "attnsteer/workload.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace attnsteer::gpu {

/// True when this build has the CUDA backend and a CUDA device can run its kernels.
bool isAvailable();
/// Why isAvailable() is false, one line ("this build has no CUDA backend", "NVIDIA driver not
/// found (libcuda.so.1)", ...); empty when it is true.
std::string unavailableReason();
/// The device's name ("NVIDIA H100 80GB HBM3"), or unavailableReason() when there is none.
std::string deviceName();
/// Total device memory in bytes, 0 when no device is available.
std::uint64_t deviceMemoryBytes();

struct CudaBackendOptions {
    /// Lambdas whose Chebyshev series converges (attnsteer/chebyshev.h) are evaluated from
    /// per-row moments computed once per workload, saliency and eps, as the CPU backend does:
    /// moving lambda then reads the moments, not the values. False: every evaluation is a pass
    /// over the values (the fused kernels), as a benchmark of that pass wants.
    bool useMoments = true;
};

/// The CUDA backend on device 0. Throws InputError("--backend", "cuda: <reason>") when
/// isAvailable() is false.
std::unique_ptr<Backend> makeCudaBackend(CudaBackendOptions options = {});

/// Which backend the user asked for (--backend cpu|cuda|auto).
enum class BackendChoice { Cpu, Cuda, Auto };

/// "cpu", "cuda" or "auto"; nullopt for anything else.
std::optional<BackendChoice> parseBackendChoice(std::string_view name);
std::string_view backendChoiceName(BackendChoice choice);

struct BackendSelection {
    std::unique_ptr<Backend> backend;
    std::string notice; ///< non-empty when Auto fell back to the CPU: show it to the user
};

/// Cpu: the CPU backend with CPU_THREADS (0: OpenMP's default). Cuda: the CUDA backend, or
/// InputError("--backend", "cuda: <reason>"). Auto: CUDA when a device is available, else the
/// CPU backend with the notice "no CUDA device (<reason>); using the CPU backend".
BackendSelection selectBackend(BackendChoice choice, int cpuThreads = 0);

/// The CUDA backend with its device-only extras. The workload's values stay resident on the device
/// between calls (keyed by Workload::id()), so a sweep over lambda moves them once: a random
/// workload is generated on the device (the same Philox stream and Box-Muller formula as on the
/// CPU, bit for bit), a file workload is uploaded.
/// Per row it computes the lambda-free sums and, for each lambda, S1 = sum E w, S2 = sum E x w
/// and S3 = sum E w s~ in double, as the CPU backend does (see core/src/backend_cpu.cpp): from the
/// cached Chebyshev moments where the series converges (CudaBackendOptions), else by a fused pass
/// over the values. Methods may be called from any thread; calls are serialized.
class CudaBackend final : public Backend {
  public:
    /// Throws InputError("--backend", "cuda: <reason>") when no device is available.
    explicit CudaBackend(CudaBackendOptions options = {});
    ~CudaBackend() override;
    CudaBackend(const CudaBackend&) = delete;
    CudaBackend& operator=(const CudaBackend&) = delete;

    std::string name() const override { return "cuda"; }
    using Backend::evaluate;
    /// As the CPU backend; additionally InputError("--backend", "cuda: out of device memory
    /// (...)") when the workload does not fit, so that callers can fall back to the CPU.
    std::vector<Metrics> evaluate(const Workload& workload, std::span<const double> saliency,
                                  std::span<const double> lambdas, const SteeringParams& params,
                                  const RunControl& control = {}) override;
    /// One row of K values: computed on the host (a kernel launch would cost more than the work).
    TokenRow row(const Workload& workload, std::span<const double> saliency,
                 const SteeringParams& params, int head, int query) override;

    /// Z of SPEC generated on the device and copied back: H*Q*K floats in Workload's layout,
    /// equal bit for bit to Workload::generate(SPEC).fillRows(0, H*Q, ...).
    std::vector<float> generateLogits(const WorkloadSpec& spec);

    /// Device time of the last evaluate(), from CUDA events around its generation or upload (when
    /// the workload was not resident yet), kernels and downloads, in milliseconds.
    double lastDeviceMs() const;
    /// Bytes of workload values that the last evaluation read from device memory at least once
    /// (H*Q*K*4; 0 when every lambda came from moments computed by an earlier call): the
    /// numerator of an achieved-bandwidth figure.
    std::uint64_t lastValueBytes() const;
    /// Frees the resident workload and the scratch buffers.
    void releaseDeviceMemory();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace attnsteer::gpu
