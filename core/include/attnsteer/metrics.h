#pragma once
// What steering is measured by.

#include <cstddef>
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

/// Entropies are natural-log, averaged over rows, with 0 log 0 = 0. s is the normalized saliency
/// that steering adds.
struct MetricSummary {
    double entropyOriginal = 0;     ///< mean_rows H(A),  H(P) = -sum_k P_k log P_k
    double entropySteered = 0;      ///< mean_rows H(A')
    double entropyReductionPct = 0; ///< (H(A) - H(A')) / H(A) * 100, of the means
    double kl = 0;                  ///< mean_rows KL(A || A') = sum_k A_k (log A_k - log A'_k)
    double saliencyExpectationOriginal = 0; ///< mean_rows sum_k A_k s_k
    double saliencyExpectationSteered = 0;  ///< mean_rows sum_k A'_k s_k
    /// Rows that got the bias / rows: 0 for an unsteered head, below 1 where uncertainty gating
    /// (SteeringParams::gateEntropy, steeredQueries) left rows as they were.
    double rowsSteeredFraction = 0;
};

/// Metrics of one lambda: over all rows, and per head.
struct Metrics {
    double lambda = 0;
    MetricSummary total;
    std::vector<MetricSummary> heads; ///< one per head, unsteered heads included (KL 0)
    double elapsedMs = 0;             ///< wall time of the evaluation that produced it
    std::string backend;              ///< "cpu", "cuda"
};

/// Per-head sums over the rows of each head, as the backends produce them: for head h,
/// ENTROPY_ORIGINAL[h] = sum over its rows of H(A), EXPECTATION_ORIGINAL[h] of sum_k A_k s_k,
/// ROWS_STEERED[h] the rows that got the bias; for lambda l, [h * L + l] of H(A'), KL(A||A') and
/// sum_k A'_k s_k.
struct HeadSums {
    std::vector<double> entropyOriginal, expectationOriginal, rowsSteered;
    std::vector<double> entropySteered, kl, expectationSteered;
    HeadSums(std::size_t heads, std::size_t lambdas)
        : entropyOriginal(heads), expectationOriginal(heads), rowsSteered(heads),
          entropySteered(heads * lambdas), kl(heads * lambdas),
          expectationSteered(heads * lambdas) {}
};

/// Metrics of every lambda from SUMS over QUERIES rows per head. Means are sums / rows; the
/// totals add the heads in order, so the result does not depend on how the rows were shared out.
std::vector<Metrics> metricsFromHeadSums(std::span<const double> lambdas, const HeadSums& sums,
                                         int queries, const std::string& backend, double elapsedMs);

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
