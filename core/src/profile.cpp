#include "attnsteer/profile.h"

#include "attnsteer/errors.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

namespace attnsteer {
namespace {

constexpr std::array kColumns{
    ProfileColumn{"entropy_original", "mean H(A), nats", false,
                  [](const HeadProfile& h) { return h.metrics.entropyOriginal; }},
    ProfileColumn{"entropy_steered", "mean H(A'), nats", false,
                  [](const HeadProfile& h) { return h.metrics.entropySteered; }},
    ProfileColumn{"entropy_reduction_pct", "(H(A) - H(A')) / H(A), %", true,
                  [](const HeadProfile& h) { return h.metrics.entropyReductionPct; }},
    ProfileColumn{"kl", "mean KL(A || A'), nats", false,
                  [](const HeadProfile& h) { return h.metrics.kl; }},
    ProfileColumn{"rows_steered_fraction", "rows that got the bias / rows", true,
                  [](const HeadProfile& h) { return h.metrics.rowsSteeredFraction; }},
    ProfileColumn{"vision_mass", "attention on the vision tokens", true,
                  [](const HeadProfile& h) { return h.grounding.visionMass; }},
    ProfileColumn{"saliency_expectation_original", "sum A s", true,
                  [](const HeadProfile& h) { return h.metrics.saliencyExpectationOriginal; }},
    ProfileColumn{"saliency_expectation_steered", "sum A' s", true,
                  [](const HeadProfile& h) { return h.metrics.saliencyExpectationSteered; }},
    ProfileColumn{"saliency_expectation_gain", "sum A' s - sum A s", true,
                  [](const HeadProfile& h) {
                      return h.metrics.saliencyExpectationSteered -
                             h.metrics.saliencyExpectationOriginal;
                  }},
    ProfileColumn{"target_mass_original", "share of the image attention on the target", true,
                  [](const HeadProfile& h) { return h.grounding.targetMassOriginal; }},
    ProfileColumn{"target_mass_steered", "the same after steering", true,
                  [](const HeadProfile& h) { return h.grounding.targetMassSteered; }},
    ProfileColumn{"target_mass_gain", "target mass steered - original", true,
                  [](const HeadProfile& h) {
                      return h.grounding.targetMassSteered - h.grounding.targetMassOriginal;
                  }},
    ProfileColumn{"pointing_original", "rows whose image maximum is on the target", true,
                  [](const HeadProfile& h) { return h.grounding.pointingOriginal; }},
    ProfileColumn{"pointing_steered", "the same after steering", true,
                  [](const HeadProfile& h) { return h.grounding.pointingSteered; }},
    ProfileColumn{"pointing_gain", "pointing steered - original", true,
                  [](const HeadProfile& h) {
                      return h.grounding.pointingSteered - h.grounding.pointingOriginal;
                  }},
    ProfileColumn{"saliency_correlation", "Pearson r of mean image attention and s", true,
                  [](const HeadProfile& h) { return h.grounding.saliencyCorrelation; }},
    ProfileColumn{"spatial_entropy", "entropy of the above-mean regions' sizes, nats", false,
                  [](const HeadProfile& h) { return h.grounding.spatialEntropy; }},
    ProfileColumn{"steerability", "expectation gain per nat of KL", true,
                  [](const HeadProfile& h) { return h.steerability; }},
    ProfileColumn{"grounding_score", "vision mass x max(0, saliency correlation)", true,
                  [](const HeadProfile& h) { return h.groundingScore; }},
};

} // namespace

std::span<const ProfileColumn> profileColumns() {
    return kColumns;
}

const ProfileColumn* findProfileColumn(std::string_view name) {
    for (const ProfileColumn& column : kColumns)
        if (column.name == name)
            return &column;
    return nullptr;
}

std::vector<std::size_t> rankHeads(std::span<const HeadProfile> heads,
                                   const ProfileColumn& column) {
    std::vector<std::size_t> order(heads.size());
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const double x = column.value(heads[a]), y = column.value(heads[b]);
        if (std::isnan(x) || std::isnan(y))
            return !std::isnan(x) && std::isnan(y);
        return column.higherIsBetter ? x > y : x < y;
    });
    return order;
}

Profile makeProfile(const Workload& workload, const Metrics& metrics, const Grounding& grounding,
                    const ProfileColumn& rankBy) {
    Profile profile;
    profile.lambda = metrics.lambda;
    profile.total = metrics.total;
    profile.totalGrounding = grounding.total;
    for (int unit = 0; unit < workload.heads(); ++unit) {
        HeadProfile& head = profile.heads.emplace_back();
        head.layer = workload.sourceLayer(workload.layerOfUnit(unit));
        head.head = workload.headOfUnit(unit);
        head.metrics = metrics.heads[std::size_t(unit)];
        head.grounding = grounding.heads[std::size_t(unit)];
        const double gain =
            head.metrics.saliencyExpectationSteered - head.metrics.saliencyExpectationOriginal;
        head.steerability = head.metrics.kl > 0 ? gain / head.metrics.kl : kNotAvailable;
        const double vision =
            std::isnan(head.grounding.visionMass) ? 1.0 : head.grounding.visionMass;
        const double correlation = std::isnan(head.grounding.saliencyCorrelation)
                                       ? 0.0
                                       : std::max(0.0, head.grounding.saliencyCorrelation);
        head.groundingScore = vision * correlation;
    }
    profile.ranking = rankHeads(profile.heads, rankBy);
    profile.rankedBy = rankBy.name;
    return profile;
}

Profile profileHeads(const Workload& workload, std::span<const double> saliency,
                     const SteeringParams& params, const GroundingKeys& keys, Backend& backend,
                     int threads, const ProfileColumn* rankBy, const RunControl& control) {
    checkGroundingKeys(keys, workload.keys());
    // Progress: the backend's pass first, then the grounding pass, half each.
    auto half = [&](double offset) {
        RunControl part = control;
        if (control.onProgress)
            part.onProgress = [&control, offset](double f) { control.onProgress(offset + f / 2); };
        return part;
    };
    RunControl first = half(0);
    first.oneOff = true;
    const Metrics metrics = backend.evaluate(workload, saliency, params, first);
    const double lambda = params.lambda;
    const std::vector<Grounding> grounding = evaluateGrounding(
        workload, saliency, std::span(&lambda, 1), params, keys, threads, half(0.5));
    return makeProfile(workload, metrics, grounding.front(),
                       rankBy ? *rankBy : *findProfileColumn(kDefaultRankColumn));
}

std::vector<LayerHead> topHeads(const Profile& profile, std::size_t count) {
    std::vector<LayerHead> top;
    for (std::size_t i = 0; i < std::min(count, profile.ranking.size()); ++i) {
        const HeadProfile& head = profile.heads[profile.ranking[i]];
        top.push_back({head.layer, head.head});
    }
    return top;
}

} // namespace attnsteer
