#include "attnsteer/metrics.h"

namespace attnsteer {
namespace {

MetricSummary summarize(double entropyOriginal, double entropySteered, double kl, double rows) {
    MetricSummary summary;
    summary.entropyOriginal = entropyOriginal / rows;
    summary.entropySteered = entropySteered / rows;
    summary.entropyReductionPct = (entropyOriginal - entropySteered) / entropyOriginal * 100.0;
    summary.kl = kl / rows;
    return summary;
}

} // namespace

std::vector<Metrics> metricsFromHeadSums(std::span<const double> lambdas,
                                         std::span<const double> entropyOriginal,
                                         std::span<const double> entropySteered,
                                         std::span<const double> kl, int queries,
                                         const std::string& backend, double elapsedMs) {
    const std::size_t heads = entropyOriginal.size(), lambdaCount = lambdas.size();
    const double rows = double(heads) * queries;
    std::vector<Metrics> results(lambdaCount);
    for (std::size_t l = 0; l < lambdaCount; ++l) {
        Metrics& metrics = results[l];
        metrics.lambda = lambdas[l];
        metrics.backend = backend;
        metrics.elapsedMs = elapsedMs;
        double totalOriginal = 0, totalSteered = 0, totalKl = 0;
        for (std::size_t head = 0; head < heads; ++head) {
            const double original = entropyOriginal[head];
            const double steered = entropySteered[head * lambdaCount + l];
            const double divergence = kl[head * lambdaCount + l];
            metrics.heads.push_back(summarize(original, steered, divergence, double(queries)));
            totalOriginal += original, totalSteered += steered, totalKl += divergence;
        }
        metrics.total = summarize(totalOriginal, totalSteered, totalKl, rows);
    }
    return results;
}

} // namespace attnsteer

namespace attnsteer {
namespace {

/// The mean of SUMMARIES[first], SUMMARIES[first + stride], ...: COUNT summaries of equally many
/// rows; the reduction is recomputed from the mean entropies, as for any mean over rows.
MetricSummary meanOf(const std::vector<MetricSummary>& summaries, std::size_t first,
                     std::size_t stride, std::size_t count) {
    double original = 0, steered = 0, kl = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const MetricSummary& s = summaries[first + i * stride];
        original += s.entropyOriginal, steered += s.entropySteered, kl += s.kl;
    }
    return summarize(original, steered, kl, double(count));
}

} // namespace

LayeredMetrics splitLayers(const Metrics& metrics, int layers, int headsPerLayer) {
    const std::size_t layerCount = std::size_t(layers), perLayer = std::size_t(headsPerLayer);
    LayeredMetrics result;
    result.aggregate = metrics;
    result.aggregate.heads.clear();
    for (std::size_t head = 0; head < perLayer; ++head)
        result.aggregate.heads.push_back(meanOf(metrics.heads, head, perLayer, layerCount));
    for (std::size_t layer = 0; layer < layerCount; ++layer) {
        Metrics& one = result.layers.emplace_back(metrics);
        one.heads.assign(metrics.heads.begin() + std::ptrdiff_t(layer * perLayer),
                         metrics.heads.begin() + std::ptrdiff_t((layer + 1) * perLayer));
        one.total = meanOf(one.heads, 0, 1, perLayer);
    }
    return result;
}

} // namespace attnsteer
