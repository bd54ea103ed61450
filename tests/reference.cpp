#include "reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace reference {
namespace {

using Real = long double;

std::vector<Real> softmax(const std::vector<Real>& logits) {
    const Real peak = *std::max_element(logits.begin(), logits.end());
    std::vector<Real> out(logits.size());
    Real sum = 0;
    for (std::size_t k = 0; k < logits.size(); ++k)
        sum += out[k] = std::exp(logits[k] - peak);
    for (Real& p : out)
        p /= sum;
    return out;
}

std::vector<Real> attentionOf(const attnsteer::Workload& workload, int head, int query) {
    const auto values = workload.rowValues(head, query);
    std::vector<Real> row(values.begin(), values.end());
    return workload.holdsLogits() ? softmax(row) : row;
}

std::vector<Real> steer(const std::vector<Real>& attention, std::span<const double> saliency,
                        Real lambda, Real eps) {
    std::vector<Real> logits(attention.size());
    for (std::size_t k = 0; k < attention.size(); ++k) {
        const Real shifted = attention[k] + eps;
        logits[k] = shifted > 0 ? std::log(shifted) + lambda * Real(saliency[k])
                                : -std::numeric_limits<Real>::infinity();
    }
    return softmax(logits);
}

Real entropy(const std::vector<Real>& p) {
    Real h = 0;
    for (Real value : p)
        if (value > 0)
            h -= value * std::log(value);
    return h;
}

Real divergence(const std::vector<Real>& p, const std::vector<Real>& q) {
    Real kl = 0;
    for (std::size_t k = 0; k < p.size(); ++k)
        if (p[k] > 0)
            kl += p[k] * (std::log(p[k]) - std::log(q[k]));
    return kl;
}

} // namespace

Result evaluate(const attnsteer::Workload& workload, std::span<const double> saliency,
                double lambda, double eps, const std::vector<int>& steered, int onlyHead) {
    Real hOriginal = 0, hSteered = 0, kl = 0;
    long rows = 0;
    for (int head = 0; head < workload.heads(); ++head) {
        if (onlyHead >= 0 && head != onlyHead)
            continue;
        // The listed heads are heads of a layer, steered in every layer.
        const int layerHead = head % workload.headsPerLayer();
        const bool isSteered = steered.empty() || std::find(steered.begin(), steered.end(),
                                                            layerHead) != steered.end();
        for (int query = 0; query < workload.queries(); ++query, ++rows) {
            const auto a = attentionOf(workload, head, query);
            const auto aSteered = isSteered ? steer(a, saliency, lambda, eps) : a;
            hOriginal += entropy(a);
            hSteered += entropy(aSteered);
            kl += divergence(a, aSteered);
        }
    }
    Result result;
    result.entropyOriginal = double(hOriginal / rows);
    result.entropySteered = double(hSteered / rows);
    result.reductionPct = double((hOriginal - hSteered) / hOriginal * 100);
    result.kl = double(kl / rows);
    return result;
}

std::vector<double> steeredRow(std::span<const double> attention, std::span<const double> saliency,
                               double lambda, double eps) {
    const auto steered =
        steer(std::vector<Real>(attention.begin(), attention.end()), saliency, lambda, eps);
    return {steered.begin(), steered.end()};
}

} // namespace reference
