#pragma once
// An independent, deliberately straightforward implementation of the model in long double: the
// oracle the tests compare the backends with. It shares no code with core's backends.

#include "attnsteer/workload.h"

#include <span>
#include <utility>
#include <vector>

namespace reference {

struct Result {
    double entropyOriginal = 0;     ///< mean over rows of H(A)
    double entropySteered = 0;      ///< mean over rows of H(A')
    double reductionPct = 0;        ///< (H(A) - H(A')) / H(A) * 100 of the means
    double kl = 0;                  ///< mean over rows of KL(A || A')
    double expectationOriginal = 0; ///< mean over rows of sum_k A_k s_k
    double expectationSteered = 0;  ///< mean over rows of sum_k A'_k s_k
    double rowsSteeredFraction = 0; ///< rows with A' = softmax(...) rather than A' = A, / rows
};

/// Which rows get the bias; every other row keeps A' = A but still counts in the means.
struct Steering {
    std::vector<int> heads; ///< heads of a layer, steered in every layer
    /// (layer of the source, head): steered in that layer only. With HEADS empty too: every head.
    std::vector<std::pair<int, int>> layerHeads;
    double gateEntropy = 0;             ///< tau: only rows with H(A) >= tau log K (0: every row)
    std::vector<unsigned char> queries; ///< per query, 0: its rows are not steered; empty: all
};

/// Rows of backend head ONLY_HEAD (Workload::heads(); all heads when negative) with
/// A' = softmax(log(A + eps) + lambda s) where STEERING says so.
Result evaluateWith(const attnsteer::Workload& workload, std::span<const double> saliency,
                    double lambda, double eps, const Steering& steering, int onlyHead = -1);

/// evaluateWith with the heads STEERED (all heads when empty) steered in every layer, no gate.
Result evaluate(const attnsteer::Workload& workload, std::span<const double> saliency,
                double lambda, double eps, const std::vector<int>& steered = {}, int onlyHead = -1);

/// H(A) / log K of every row, in the backends' row order (head-major).
std::vector<double> normalizedEntropies(const attnsteer::Workload& workload);

/// A' of one row.
std::vector<double> steeredRow(std::span<const double> attention, std::span<const double> saliency,
                               double lambda, double eps);

} // namespace reference
