#pragma once
// An independent, deliberately straightforward implementation of the model in long double: the
// oracle the tests compare the backends with. It shares no code with core's backends.

#include "attnsteer/workload.h"

#include <span>
#include <vector>

namespace reference {

struct Result {
    double entropyOriginal = 0; ///< mean over rows of H(A)
    double entropySteered = 0;  ///< mean over rows of H(A')
    double reductionPct = 0;    ///< (H(A) - H(A')) / H(A) * 100 of the means
    double kl = 0;              ///< mean over rows of KL(A || A')
};

/// Rows of HEADS (all heads when empty) with A' = softmax(log(A + eps) + lambda s); heads not in
/// STEERED keep A' = A but still count in the means.
Result evaluate(const attnsteer::Workload& workload, std::span<const double> saliency,
                double lambda, double eps, const std::vector<int>& steered = {}, int onlyHead = -1);

/// A' of one row.
std::vector<double> steeredRow(std::span<const double> attention, std::span<const double> saliency,
                               double lambda, double eps);

} // namespace reference
