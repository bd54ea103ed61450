#include "attnsteer/sweep.h"

#include "attnsteer/errors.h"
#include "attnsteer/option_values.h"
#include "attnsteer/transformer_block.h"

#include <cmath>
#include <string>

namespace attnsteer {
namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        const std::size_t end = text.find(separator, start);
        parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
        if (end == std::string_view::npos)
            return parts;
        start = end + 1;
    }
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && text.front() == ' ')
        text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ')
        text.remove_suffix(1);
    return text;
}

/// One number of a list: the option parser's, with the spaces around it allowed.
double realItem(std::string_view text, std::string_view setting) {
    return parseRealNumber(trim(text), setting);
}
std::uint64_t seedItem(std::string_view text, std::string_view setting) {
    return parseUnsigned(trim(text), setting);
}

constexpr std::size_t kMaxListLength = 100000;

} // namespace

std::vector<double> defaultSweepLambdas() {
    return {0.0, 0.05, 0.10, 0.15, 0.25, 0.40, 0.60, 0.80, 1.00};
}

std::vector<double> parseLambdaList(std::string_view text, std::string_view setting) {
    const std::string name(setting);
    const auto range = split(text, ':');
    std::vector<double> values;
    if (range.size() == 3) {
        const double start = realItem(range[0], setting);
        const double stop = realItem(range[1], setting);
        const double step = realItem(range[2], setting);
        if (!(step > 0))
            throw settingError(name, "step must be > 0 in START:STOP:STEP");
        if (stop < start)
            throw settingError(name, "STOP must not be less than START in START:STOP:STEP");
        // The stop belongs to the grid when it lies on it up to rounding of the decimal inputs.
        const double steps = std::floor((stop - start) / step + 1e-9);
        if (steps + 1 > double(kMaxListLength))
            throw settingError(name, "more than " + std::to_string(kMaxListLength) + " values");
        for (double i = 0; i <= steps; ++i)
            values.push_back(start + i * step);
        return values;
    }
    if (range.size() != 1)
        throw settingError(name, "expected a comma-separated list or START:STOP:STEP");
    for (std::string_view part : split(text, ','))
        values.push_back(realItem(part, setting));
    if (values.size() > kMaxListLength)
        throw settingError(name, "more than " + std::to_string(kMaxListLength) + " values");
    return values;
}

std::vector<std::uint64_t> parseSeedList(std::string_view text, std::string_view setting) {
    const std::string name(setting);
    const auto range = split(text, ':');
    std::vector<std::uint64_t> seeds;
    if (range.size() == 2) {
        const auto first = seedItem(range[0], setting);
        const auto last = seedItem(range[1], setting);
        if (last < first)
            throw settingError(name, "LAST must not be less than FIRST in FIRST:LAST");
        if (last - first >= kMaxListLength)
            throw settingError(name, "more than " + std::to_string(kMaxListLength) + " values");
        for (std::uint64_t offset = 0; offset <= last - first; ++offset) // no wrap at 2^64 - 1
            seeds.push_back(first + offset);
        return seeds;
    }
    if (range.size() != 1)
        throw settingError(name, "expected a comma-separated list or FIRST:LAST");
    for (std::string_view part : split(text, ','))
        seeds.push_back(seedItem(part, setting));
    return seeds;
}

std::vector<SweepRow> runSweep(const SweepConfig& config, Backend& backend,
                               const RunControl& control) {
    if (config.seeds.empty())
        throw settingError("seeds", "needs at least one seed");
    if (config.lambdas.empty())
        throw settingError("lambdas", "needs at least one lambda");
    const std::size_t seedCount = config.seeds.size(), lambdaCount = config.lambdas.size();
    // With a target (given, or the transformer's planted object) the grounding pass adds the
    // target-mass and pointing gains.
    const bool grounding = config.grounding.hasTarget() ||
                           (config.workload ? config.workload->transformer() != nullptr
                                            : config.spec.kind == WorkloadKind::Transformer);
    std::vector<double> reductions(seedCount * lambdaCount), kls(seedCount * lambdaCount),
        expectationGains(seedCount * lambdaCount), targetGains(seedCount * lambdaCount),
        pointingGains(seedCount * lambdaCount), targetMasses(seedCount * lambdaCount),
        pointings(seedCount * lambdaCount);
    for (std::size_t i = 0; i < seedCount; ++i) {
        const std::uint64_t seed = config.seeds[i];
        WorkloadSpec spec = config.spec;
        spec.seed = seed;
        Workload generated;
        if (!config.workload)
            generated = Workload::generate(spec);
        const Workload& workload = config.workload ? *config.workload : generated;
        const TransformerBlock* block = workload.transformer();
        std::vector<double> raw;
        if (config.saliencyRaw)
            raw = *config.saliencyRaw;
        else if (block)
            raw = simulatedSaliencyRaw(block->layout(), config.simulatedSaliency, seed);
        else
            raw = randomSaliencyRaw(workload.keys(), seed);
        const NormalizedSaliency saliency =
            normalizeSaliency(raw, config.normalization, config.binaryThreshold);
        // The transformer's planted object is the target unless one is given; it moves with the
        // seed.
        const GroundingKeys keys = block && !config.grounding.hasTarget()
                                       ? block->layout().groundingKeys()
                                       : config.grounding;
        // Progress: each seed its share, split between the two passes where both run.
        const double passes = grounding ? 2.0 : 1.0;
        auto seedControl = [&](double pass) {
            RunControl part{nullptr, control.cancel};
            part.keepCaches = false; // the next seed is a new workload

            if (control.onProgress)
                part.onProgress = [&control, i, pass, passes, seedCount](double fraction) {
                    control.onProgress((double(i) + (pass + fraction) / passes) /
                                       double(seedCount));
                };
            return part;
        };
        const auto metrics = backend.evaluate(workload, saliency.values, config.lambdas,
                                              config.params, seedControl(0));
        std::vector<Grounding> groundings;
        if (grounding)
            groundings = evaluateGrounding(workload, saliency.values, config.lambdas, config.params,
                                           keys, config.threads, seedControl(1));
        for (std::size_t l = 0; l < lambdaCount; ++l) {
            const std::size_t at = i * lambdaCount + l;
            const MetricSummary& total = metrics[l].total;
            reductions[at] = total.entropyReductionPct;
            kls[at] = total.kl;
            expectationGains[at] =
                total.saliencyExpectationSteered - total.saliencyExpectationOriginal;
            if (grounding) {
                const GroundingSummary& g = groundings[l].total;
                targetGains[at] = g.targetMassSteered - g.targetMassOriginal;
                pointingGains[at] = g.pointingSteered - g.pointingOriginal;
                targetMasses[at] = g.targetMassSteered;
                pointings[at] = g.pointingSteered;
            }
        }
    }
    auto meanAndStd = [&](const std::vector<double>& values, std::size_t l) {
        double mean = 0;
        for (std::size_t i = 0; i < seedCount; ++i)
            mean += values[i * lambdaCount + l];
        mean /= double(seedCount);
        double squares = 0;
        for (std::size_t i = 0; i < seedCount; ++i)
            squares += std::pow(values[i * lambdaCount + l] - mean, 2);
        const double stdDev = seedCount > 1 ? std::sqrt(squares / double(seedCount - 1)) : 0.0;
        return std::pair{mean, stdDev};
    };
    std::vector<SweepRow> rows(lambdaCount);
    for (std::size_t l = 0; l < lambdaCount; ++l) {
        rows[l].lambda = config.lambdas[l];
        std::tie(rows[l].reductionMean, rows[l].reductionStd) = meanAndStd(reductions, l);
        std::tie(rows[l].klMean, rows[l].klStd) = meanAndStd(kls, l);
        std::tie(rows[l].expectationGainMean, rows[l].expectationGainStd) =
            meanAndStd(expectationGains, l);
        if (grounding) {
            std::tie(rows[l].targetMassGainMean, rows[l].targetMassGainStd) =
                meanAndStd(targetGains, l);
            std::tie(rows[l].pointingGainMean, rows[l].pointingGainStd) =
                meanAndStd(pointingGains, l);
            std::tie(rows[l].targetMassMean, rows[l].targetMassStd) = meanAndStd(targetMasses, l);
            std::tie(rows[l].pointingMean, rows[l].pointingStd) = meanAndStd(pointings, l);
        }
    }
    return rows;
}

} // namespace attnsteer
