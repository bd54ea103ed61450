#pragma once
// What steering is measured by.

#include <string>
#include <vector>

namespace attnsteer {

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

} // namespace attnsteer
