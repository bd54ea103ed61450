#pragma once
// Backends compute steered attention and its metrics. The CPU backend is the reference; the CUDA
// backend (gpu/) implements the same interface.

#include "attnsteer/metrics.h"
#include "attnsteer/workload.h"

#include <atomic>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace attnsteer {

/// How the saliency s is applied:  A' = softmax(log(A + eps) + lambda * s), per row.
struct SteeringParams {
    double lambda = 0.25;          ///< strength of the bias
    double eps = 1e-9;             ///< added to A before the log; 0 allowed (log 0 = -inf)
    std::vector<int> steeredHeads; ///< heads (of a layer) that get the bias, in every layer;
                                   ///< empty means all heads
};

/// Progress and cancellation of long work. Both are optional.
struct RunControl {
    std::function<void(double fraction)> onProgress; ///< called with 0..1, from a worker thread
    const std::atomic<bool>* cancel = nullptr;       ///< when it becomes true, throw Cancelled
    /// No other evaluation of the same inputs follows (a command-line run): caches that only pay
    /// off later (the CPU backend's moments, for a single lambda) are not built.
    bool oneOff = false;
};

/// One attention row before and after steering, for the per-token view.
struct TokenRow {
    std::vector<double> original; ///< A[h,q,:]
    std::vector<double> steered;  ///< A'[h,q,:]
};

class Backend {
  public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;

    /// Metrics for every lambda of LAMBDAS in one pass over the rows (the other fields of PARAMS
    /// apply to all). SALIENCY has K values. Throws InputError for a saliency of the wrong length
    /// or a steered head out of range, Cancelled when CONTROL's flag is raised.
    virtual std::vector<Metrics> evaluate(const Workload& workload,
                                          std::span<const double> saliency,
                                          std::span<const double> lambdas,
                                          const SteeringParams& params,
                                          const RunControl& control = {}) = 0;

    /// The metrics of PARAMS.lambda alone.
    Metrics evaluate(const Workload& workload, std::span<const double> saliency,
                     const SteeringParams& params, const RunControl& control = {});

    /// A and A' of row (HEAD, QUERY); A' = A when HEAD is not steered.
    virtual TokenRow row(const Workload& workload, std::span<const double> saliency,
                         const SteeringParams& params, int head, int query) = 0;
};

/// Whether HEAD gets the bias under PARAMS (steering::isHeadSteered): every head when no heads
/// are listed. Does not check the list; checkSteeringInputs does.
bool isHeadSteered(const SteeringParams& params, int head);

/// Throws InputError about "steer-heads" ("head 7 is out of range 0..3") for a steered head that
/// a workload of HEADS heads does not have: the one rule checkSteeringInputs and the window's
/// steered-heads box both apply.
void checkSteeredHeads(std::span<const int> steeredHeads, int heads);

/// Bounds of the steering inputs: beyond them the sums overflow, and nothing needs them.
inline constexpr double kMaxEps = 1.0;
inline constexpr double kMaxLambda = 1e6;
inline constexpr double kMaxSaliency = 1e6; ///< |s| of the normalized saliency

/// The checks every computation makes before steering, with the same one-line messages: SALIENCY
/// has K finite values within +-kMaxSaliency, eps is in [0, kMaxEps], LAMBDAS are finite and
/// within +-kMaxLambda, the steered heads exist
/// ("--steer-heads: head 3 is out of range 0..2", against the heads of one layer). Returns a
/// flag per backend head (Workload::heads(), layer-major): 1 where the head is steered; a listed
/// head is steered in every layer. Throws InputError (about the setting "saliency", "eps", "lambda"
/// or "steer-heads").
std::vector<unsigned char> checkSteeringInputs(const Workload& workload,
                                               std::span<const double> saliency,
                                               std::span<const double> lambdas,
                                               const SteeringParams& params);

struct CpuBackendOptions {
    int threads = 0;    ///< OpenMP threads; 0 = OpenMP's default (all cores)
    int blockRows = 32; ///< rows per block of the passes over the rows
    /// The moments path for the lambdas whose series converges (attnsteer/chebyshev.h); false:
    /// every lambda by the exact pass.
    bool useMoments = true;
    /// The most memory the moment tables of one workload may take (momentBytes); a larger
    /// workload takes the exact pass for every lambda. 128 MiB: the random workload up to
    /// 32 x 4096 rows (100 MiB), one layer of a 28 x 1024 x 1024 dump (22 MiB), but not a dump
    /// of many layers, whose one-off evaluation would otherwise hold ~770 bytes per row.
    std::size_t maxMomentBytes = std::size_t(128) << 20;
};

/// Bytes of the CPU backend's moment tables for ROWS rows.
std::size_t momentBytes(std::size_t rows);

/// The CPU backend: Eigen, OpenMP over blocks of rows. Results do not depend on the thread count.
/// It keeps the lambda-free moments of the last workload, saliency and eps, so that moving lambda
/// costs O(rows x degree), not O(rows x keys).
std::unique_ptr<Backend> makeCpuBackend(int threads = 0);
std::unique_ptr<Backend> makeCpuBackend(const CpuBackendOptions& options);

} // namespace attnsteer
