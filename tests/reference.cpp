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

Real expectation(const std::vector<Real>& p, std::span<const double> saliency) {
    Real sum = 0;
    for (std::size_t k = 0; k < p.size(); ++k)
        sum += p[k] * Real(saliency[k]);
    return sum;
}

/// Whether backend head UNIT of WORKLOAD is in STEERING's lists.
bool headSteered(const attnsteer::Workload& workload, const Steering& steering, int unit) {
    if (steering.heads.empty() && steering.layerHeads.empty())
        return true;
    const int head = unit % workload.headsPerLayer();
    const int layer = workload.sourceLayer(unit / workload.headsPerLayer());
    for (int listed : steering.heads)
        if (listed == head)
            return true;
    for (const auto& [listedLayer, listedHead] : steering.layerHeads)
        if (listedLayer == layer && listedHead == head)
            return true;
    return false;
}

} // namespace

Result evaluateWith(const attnsteer::Workload& workload, std::span<const double> saliency,
                    double lambda, double eps, const Steering& steering, int onlyHead) {
    Real hOriginal = 0, hSteered = 0, kl = 0, eOriginal = 0, eSteered = 0;
    long rows = 0, steeredRows = 0;
    const Real gate = Real(steering.gateEntropy) * std::log(Real(workload.keys()));
    for (int head = 0; head < workload.heads(); ++head) {
        if (onlyHead >= 0 && head != onlyHead)
            continue;
        const bool isSteered = headSteered(workload, steering, head);
        for (int query = 0; query < workload.queries(); ++query, ++rows) {
            const auto a = attentionOf(workload, head, query);
            const Real h = entropy(a);
            const bool rowSteered =
                isSteered &&
                (steering.queries.empty() || steering.queries[std::size_t(query)] != 0) &&
                (steering.gateEntropy <= 0 || h >= gate);
            const auto aSteered = rowSteered ? steer(a, saliency, lambda, eps) : a;
            hOriginal += h;
            hSteered += entropy(aSteered);
            kl += divergence(a, aSteered);
            eOriginal += expectation(a, saliency);
            eSteered += expectation(aSteered, saliency);
            steeredRows += rowSteered ? 1 : 0;
        }
    }
    Result result;
    result.entropyOriginal = double(hOriginal / rows);
    result.entropySteered = double(hSteered / rows);
    result.reductionPct = double((hOriginal - hSteered) / hOriginal * 100);
    result.kl = double(kl / rows);
    result.expectationOriginal = double(eOriginal / rows);
    result.expectationSteered = double(eSteered / rows);
    result.rowsSteeredFraction = double(Real(steeredRows) / rows);
    return result;
}

Result evaluate(const attnsteer::Workload& workload, std::span<const double> saliency,
                double lambda, double eps, const std::vector<int>& steered, int onlyHead) {
    Steering steering;
    steering.heads = steered;
    return evaluateWith(workload, saliency, lambda, eps, steering, onlyHead);
}

std::vector<double> normalizedEntropies(const attnsteer::Workload& workload) {
    std::vector<double> out;
    const Real logKeys = std::log(Real(workload.keys()));
    for (int head = 0; head < workload.heads(); ++head)
        for (int query = 0; query < workload.queries(); ++query)
            out.push_back(double(entropy(attentionOf(workload, head, query)) / logKeys));
    return out;
}

std::vector<double> steeredRow(std::span<const double> attention, std::span<const double> saliency,
                               double lambda, double eps) {
    const auto steered =
        steer(std::vector<Real>(attention.begin(), attention.end()), saliency, lambda, eps);
    return {steered.begin(), steered.end()};
}

} // namespace reference
