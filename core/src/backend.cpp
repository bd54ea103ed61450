// What every backend shares: the checks before steering and the one-lambda evaluate().
#include "attnsteer/backend.h"

#include "attnsteer/errors.h"
#include "attnsteer/steering.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace attnsteer {

bool isUnitSteered(const Workload& workload, const SteeringParams& params, int unit) {
    const int head = workload.headOfUnit(unit);
    if (params.steeredHeads.empty() && params.steeredLayerHeads.empty())
        return true;
    const LayerHead mine{workload.sourceLayer(workload.layerOfUnit(unit)), head};
    return std::ranges::find(params.steeredHeads, head) != params.steeredHeads.end() ||
           std::ranges::find(params.steeredLayerHeads, mine) != params.steeredLayerHeads.end();
}

double gateNats(const SteeringParams& params, int keys) {
    return params.gateEntropy > 0 ? params.gateEntropy * std::log(double(keys)) : -INFINITY;
}

bool isRowSteered(const SteeringParams& params, bool headSteered, int query,
                  std::span<const double> attention) {
    const bool queryAllowed =
        params.steeredQueries.empty() || params.steeredQueries[std::size_t(query)] != 0;
    if (!headSteered || !queryAllowed || params.gateEntropy <= 0)
        return headSteered && queryAllowed;
    double entropy = 0;
    for (double a : attention)
        if (a > 0)
            entropy -= a * std::log(a);
    return steering::isRowSteered(true, true, entropy, gateNats(params, int(attention.size())));
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
    for (const LayerHead& one : params.steeredLayerHeads) {
        if (one.layer < 0 || one.layer >= workload.sourceLayers())
            throw settingError("steer-heads", "layer " + std::to_string(one.layer) +
                                                  " is out of range 0.." +
                                                  std::to_string(workload.sourceLayers() - 1));
        checkSteeredHeads(std::span(&one.head, 1), workload.headsPerLayer());
    }
    if (!(params.gateEntropy >= 0 && params.gateEntropy <= 1))
        throw settingError("gate-entropy", "must be a number in 0..1");
    if (!params.steeredQueries.empty() &&
        params.steeredQueries.size() != std::size_t(workload.queries()))
        throw settingError("gate", "has " + std::to_string(params.steeredQueries.size()) +
                                       " values, expected " + std::to_string(workload.queries()) +
                                       " (queries)");
    std::vector<unsigned char> steered(std::size_t(workload.heads()));
    for (int unit = 0; unit < workload.heads(); ++unit)
        steered[std::size_t(unit)] = isUnitSteered(workload, params, unit) ? 1 : 0;
    return steered;
}

Metrics Backend::evaluate(const Workload& workload, std::span<const double> saliency,
                          const SteeringParams& params, const RunControl& control) {
    const double lambda = params.lambda;
    return evaluate(workload, saliency, std::span<const double>(&lambda, 1), params, control)
        .front();
}

} // namespace attnsteer
