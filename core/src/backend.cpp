// What every backend shares: the checks before steering and the one-lambda evaluate().
#include "attnsteer/backend.h"

#include "attnsteer/errors.h"
#include "attnsteer/steering.h"

#include <cmath>
#include <string>

namespace attnsteer {

bool isHeadSteered(const SteeringParams& params, int head) {
    return steering::isHeadSteered(params.steeredHeads.data(), params.steeredHeads.size(), head);
}

void checkSteeredHeads(std::span<const int> steeredHeads, int heads) {
    for (int head : steeredHeads)
        if (head < 0 || head >= heads)
            throw settingError("steer-heads", "head " + std::to_string(head) +
                                                  " is out of range 0.." +
                                                  std::to_string(heads - 1));
}

std::vector<unsigned char> checkSteeringInputs(const Workload& workload,
                                               std::span<const double> saliency,
                                               std::span<const double> lambdas,
                                               const SteeringParams& params) {
    if (saliency.size() != std::size_t(workload.keys()))
        throw settingError("saliency", "length is " + std::to_string(saliency.size()) +
                                           ", expected " + std::to_string(workload.keys()) +
                                           " (keys)");
    if (!(params.eps >= 0) || !std::isfinite(params.eps))
        throw settingError("eps", "must be a finite number >= 0");
    // Beyond these the sums overflow to NaN (A + eps and e^{lambda s} at 1e308), and neither
    // means anything: eps is a guard far below every probability, lambda a few nats.
    if (params.eps > kMaxEps)
        throw settingError("eps", "must be at most 1");
    for (double s : saliency)
        if (!std::isfinite(s) || std::abs(s) > kMaxSaliency)
            throw settingError("saliency", std::isfinite(s) ? "has a value beyond +-1e6"
                                                            : "contains NaN or Inf");
    for (double lambda : lambdas)
        if (!std::isfinite(lambda))
            throw settingError("lambda", "must be a finite number");
        else if (std::abs(lambda) > kMaxLambda)
            throw settingError("lambda", "must be between -1e6 and 1e6");
    checkSteeredHeads(params.steeredHeads, workload.headsPerLayer());
    // One flag per backend head (layer x head): the listed heads are steered in every layer.
    std::vector<unsigned char> steered(std::size_t(workload.heads()));
    for (int unit = 0; unit < workload.heads(); ++unit)
        steered[std::size_t(unit)] = isHeadSteered(params, workload.headOfUnit(unit)) ? 1 : 0;
    return steered;
}

Metrics Backend::evaluate(const Workload& workload, std::span<const double> saliency,
                          const SteeringParams& params, const RunControl& control) {
    const double lambda = params.lambda;
    return evaluate(workload, saliency, std::span<const double>(&lambda, 1), params, control)
        .front();
}

} // namespace attnsteer
