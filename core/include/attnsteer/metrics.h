#pragma once
// What steering is measured by.

#include <span>
#include <string>
#include <vector>

namespace attnsteer {

/// The accuracy contract of every backend and path (moments or exact, CPU or CUDA): each metric
/// (mean H(A), mean H(A'), the reduction %, mean KL; in total and per head) lies within this
/// relative error of the same metric computed straightforwardly in float64 or better, for lambda
/// >= 0.01. Near lambda = 0 KL and the reduction are themselves near 0 and only an absolute bound
/// of double rounding holds. The backends sum in double and typically agree to ~1e-13.
inline constexpr double kMetricsTolerance = 1e-6;

/// Entropies are natural-log, averaged over rows, with 0 log 0 = 0.
struct MetricSummary {
    double entropyOriginal = 0;     ///< mean_rows H(A),  H(P) = -sum_k P_k log P_k
    double entropySteered = 0;      ///< mean_rows H(A')
    double entropyReductionPct = 0; ///< (H(A) - H(A')) / H(A) * 100, of the means
    double kl = 0;                  ///< mean_rows KL(A || A') = sum_k A_k (log A_k - log A'_k)
};

/// Metrics of one lambda: over all rows, and per head.
struct Metrics {
    double lambda = 0;
    MetricSummary total;
    std::vector<MetricSummary> heads; ///< one per head, unsteered heads included (KL 0)
    double elapsedMs = 0;             ///< wall time of the evaluation that produced it
    std::string backend;              ///< "cpu", "cuda"
};

/// Metrics of every lambda from per-head sums over rows, as the backends produce them:
/// ENTROPY_ORIGINAL[h] = sum over the QUERIES rows of head h of H(A); ENTROPY_STEERED[h * L + l]
/// and KL[h * L + l] likewise for lambda l. Means are sums / rows; the totals add the heads in
/// order, so the result does not depend on how the rows were shared out.
std::vector<Metrics> metricsFromHeadSums(std::span<const double> lambdas,
                                         std::span<const double> entropyOriginal,
                                         std::span<const double> entropySteered,
                                         std::span<const double> kl, int queries,
                                         const std::string& backend, double elapsedMs);

/// Metrics of a workload of several layers, whose backend heads are LAYERS x HEADS_PER_LAYER,
/// layer-major (Workload::heads()).
struct LayeredMetrics {
    /// Over every row: the totals as given; head h is the mean of head h over the layers.
    Metrics aggregate;
    std::vector<Metrics> layers; ///< per layer: its heads, and their mean as its total
};

/// METRICS split by layer. Every head has the same number of rows, so a mean of means is the
/// mean over the rows; each reduction % is recomputed from its mean entropies.
LayeredMetrics splitLayers(const Metrics& metrics, int layers, int headsPerLayer);

} // namespace attnsteer
