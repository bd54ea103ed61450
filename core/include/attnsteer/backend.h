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

/// A head of one layer; LAYER is an index into the source's layers (Workload::sourceLayer).
struct LayerHead {
    int layer = 0;
    int head = 0;
    auto operator<=>(const LayerHead&) const = default;
};

/// How the saliency s is applied:  A' = softmax(log(A + eps) + lambda * s), per row.
struct SteeringParams {
    double lambda = 0.25;          ///< strength of the bias
    double eps = 1e-9;             ///< added to A before the log; 0 allowed (log 0 = -inf)
    std::vector<int> steeredHeads; ///< heads (of a layer) that get the bias, in every layer
    std::vector<LayerHead> steeredLayerHeads; ///< heads that get it in their layer only; with
                                              ///< steeredHeads empty too: every head
    /// Uncertainty gating, tau in [0, 1]: a row gets the bias only where its normalized entropy
    /// H(A) / log K is at least tau; the others keep A' = A. 0: every row.
    double gateEntropy = 0;
    /// Per query (Q flags, or empty = every query): 0 keeps that query's rows as they are, in
    /// every head (the user's own uncertainty per query, thresholded).
    std::vector<unsigned char> steeredQueries;
};

/// Progress and cancellation of long work. Both are optional.
struct RunControl {
    std::function<void(double fraction)> onProgress; ///< called with 0..1, from a worker thread
    const std::atomic<bool>* cancel = nullptr;       ///< when it becomes true, throw Cancelled
    /// No other evaluation of the same inputs follows (a command-line run): caches that only pay
    /// off later (the CPU backend's moments, for a single lambda) are not built.
    bool oneOff = false;
    /// Whether what the call builds for later calls of the same inputs (the CPU backend's
    /// moments) is kept. False: dropped at the end of the call, nothing held afterwards (a sweep's
    /// seeds, each a new workload: the window kept 25 MB of the last seed's moments for nothing).
    bool keepCaches = true;
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

    /// Host memory the backend holds between calls (the CPU backend's moments), in bytes.
    virtual std::size_t cachedBytes() const { return 0; }
};

/// Whether backend head UNIT of WORKLOAD (Workload::heads()) gets the bias under PARAMS: every
/// head when no heads are listed; a head of steeredHeads in every layer, one of
/// steeredLayerHeads in its layer. Does not check the lists; checkSteeringInputs does.
bool isUnitSteered(const Workload& workload, const SteeringParams& params, int unit);

/// Whether row QUERY of a head gets the bias under PARAMS, given whether the head is steered and
/// the row's A (ATTENTION, K values): its query is not gated out and its H(A) passes the gate
/// (steering::isRowSteered). A row that does not keeps A' = A.
bool isRowSteered(const SteeringParams& params, bool headSteered, int query,
                  std::span<const double> attention);

/// H(A) in nats at or above which a row passes the entropy gate of PARAMS for rows of KEYS
/// keys: tau log K, or -inf without a gate (so that rounding below 0 still passes).
double gateNats(const SteeringParams& params, int keys);

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
/// ("--steer-heads: head 3 is out of range 0..2", against the heads of one layer; a layer
/// against the source's layers), the gate is in [0, 1] and steeredQueries has Q flags or none.
/// Returns a flag per backend head (Workload::heads(), layer-major): 1 where the head is
/// steered (isUnitSteered). Throws InputError (about the setting "saliency", "eps", "lambda",
/// "steer-heads", "gate-entropy" or "gate").
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
