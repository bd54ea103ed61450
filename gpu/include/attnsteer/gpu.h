#pragma once
// The CUDA backend, seen from code that never includes a CUDA header. Builds without CUDA compile
// gpu/src/no_cuda.cpp instead: the same functions, reporting that no device can be used.

#include "attnsteer/attention.h"
#include "attnsteer/backend.h"

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
    /// The moments path for the lambdas whose series converges (attnsteer/chebyshev.h), from
    /// per-row moments computed once per workload, saliency and eps, as the CPU backend does:
    /// moving lambda then reads the moments, not the values. False: every lambda by the exact
    /// pass over the values, as a benchmark of that pass wants.
    bool useMoments = true;
};

/// The CUDA backend on device 0. Throws InputError about the setting "backend" with the problem
/// "cuda: <reason>" when isAvailable() is false. Its evaluate() throws DeviceError when the
/// device fails at run time ("out of device memory (...)", a failed launch or copy): the CPU
/// backend can then do the same work.
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
/// makeCudaBackend's InputError. Auto: CUDA when a device is available and starts, else the CPU
/// backend with the notice "no CUDA device (<reason>); using the CPU backend".
BackendSelection selectBackend(BackendChoice choice, int cpuThreads = 0);

/// The largest head dimension the CUDA attention kernel takes.
inline constexpr int kMaxCudaHeadDim = 128;

/// The checks of timeAttention before the device, with or without a CUDA backend in the build:
/// attention::checkSizes, then "head-dim: must be at most 128 on the CUDA backend".
void checkCudaAttention(const attention::AttentionParams& params);

/// Kernel milliseconds of the fused attention forward on the device, per run.
struct AttentionRuns {
    std::vector<double> plainMs;   ///< without the bias
    std::vector<double> steeredMs; ///< with it (empty when no bias was given)
};

/// attention::forward (attnsteer/attention.h) on device 0, float32, d <= 128 (the tiles and
/// threads of PARAMS belong to the CPU and are not used): Q, K, V and lambda * s go up once; after
/// one warm-up of each variant, REPETITIONS runs of the plain and (when BIAS is given) of the
/// steered forward, interleaved with the order alternating, each timed by CUDA events around the
/// kernel alone; then O of the steered (or plain) forward comes back into OUT. Throws InputError
/// about "backend" without a device ("cuda: <reason>"), about "head-dim" beyond 128 and as
/// attention::forward for bad sizes; DeviceError when the device fails.
AttentionRuns timeAttention(const attention::AttentionParams& params, std::span<const float> q,
                            std::span<const float> k, std::span<const float> v,
                            std::span<const float> bias, std::span<float> out, int repetitions);

/// One forward on the device into OUT: timeAttention without the timed runs.
void attentionForward(const attention::AttentionParams& params, std::span<const float> q,
                      std::span<const float> k, std::span<const float> v,
                      std::span<const float> bias, std::span<float> out);

} // namespace attnsteer::gpu
