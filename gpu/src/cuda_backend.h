#pragma once
// The CUDA backend's class, private to gpu/ and to the tests and benchmarks that need its extras
// (they add gpu/src to their include path). No CUDA types: the device state is behind Impl.
// Everyone else gets it as a Backend from makeCudaBackend (attnsteer/gpu.h).

#include "attnsteer/gpu.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace attnsteer::gpu {

/// The CUDA backend with its device-only extras. The workload's values stay resident on the device
/// between calls (keyed by Workload::id()), so a sweep over lambda moves them once: a random
/// workload is generated on the device (the same Philox stream and Box-Muller formula as on the
/// CPU, bit for bit), a file workload is uploaded.
/// Per row it computes the lambda-free sums and, for each lambda, S1, S2 and S3 in double, as the
/// CPU backend does (attnsteer/steering.h): by the moments path where the series converges (see
/// CudaBackendOptions), else by the exact pass over the values. Methods may be called from any
/// thread; calls are serialized.
class CudaBackend final : public Backend {
  public:
    /// Throws makeCudaBackend's InputError when no device is available.
    explicit CudaBackend(CudaBackendOptions options = {});
    ~CudaBackend() override;
    CudaBackend(const CudaBackend&) = delete;
    CudaBackend& operator=(const CudaBackend&) = delete;

    std::string name() const override { return "cuda"; }
    using Backend::evaluate;
    /// As the CPU backend; additionally DeviceError when the device fails ("out of device memory
    /// (the workload needs ...)" when the workload does not fit), so that callers can fall back
    /// to the CPU. The backend stays usable after it.
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
    /// (H*Q*K*4; 0 when every lambda took the moments path with moments computed by an earlier
    /// call): the numerator of an achieved-bandwidth figure.
    std::uint64_t lastValueBytes() const;
    /// Frees the resident workload and the scratch buffers.
    void releaseDeviceMemory();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace attnsteer::gpu
