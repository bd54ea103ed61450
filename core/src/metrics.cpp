#include "attnsteer/metrics.h"

namespace attnsteer {
namespace {

/// Sums over rows (or over means, with ROWS their count) of every field of a summary.
struct SummarySums {
    double entropyOriginal = 0, entropySteered = 0, kl = 0, expectationOriginal = 0,
           expectationSteered = 0, rowsSteered = 0;
    SummarySums& operator+=(const SummarySums& other) {
        entropyOriginal += other.entropyOriginal, entropySteered += other.entropySteered;
        kl += other.kl, expectationOriginal += other.expectationOriginal;
        expectationSteered += other.expectationSteered, rowsSteered += other.rowsSteered;
        return *this;
    }
    static SummarySums of(const MetricSummary& s) {
        return {s.entropyOriginal,
                s.entropySteered,
                s.kl,
                s.saliencyExpectationOriginal,
                s.saliencyExpectationSteered,
                s.rowsSteeredFraction};
    }
};

MetricSummary summarize(const SummarySums& sums, double rows) {
    MetricSummary summary;
    summary.entropyOriginal = sums.entropyOriginal / rows;
    summary.entropySteered = sums.entropySteered / rows;
    summary.entropyReductionPct =
        (sums.entropyOriginal - sums.entropySteered) / sums.entropyOriginal * 100.0;
    summary.kl = sums.kl / rows;
    summary.saliencyExpectationOriginal = sums.expectationOriginal / rows;
    summary.saliencyExpectationSteered = sums.expectationSteered / rows;
    summary.rowsSteeredFraction = sums.rowsSteered / rows;
    return summary;
}

} // namespace

std::vector<Metrics> metricsFromHeadSums(std::span<const double> lambdas, const HeadSums& sums,
                                         int queries, const std::string& backend,
                                         double elapsedMs) {
    const std::size_t heads = sums.entropyOriginal.size(), lambdaCount = lambdas.size();
    const double rows = double(heads) * queries;
    std::vector<Metrics> results(lambdaCount);
    for (std::size_t l = 0; l < lambdaCount; ++l) {
        Metrics& metrics = results[l];
        metrics.lambda = lambdas[l];
        metrics.backend = backend;
        metrics.elapsedMs = elapsedMs;
        SummarySums total;
        for (std::size_t head = 0; head < heads; ++head) {
            const std::size_t at = head * lambdaCount + l;
            const SummarySums one{sums.entropyOriginal[head],
                                  sums.entropySteered[at],
                                  sums.kl[at],
                                  sums.expectationOriginal[head],
                                  sums.expectationSteered[at],
                                  sums.rowsSteered[head]};
            metrics.heads.push_back(summarize(one, double(queries)));
            total += one;
        }
        metrics.total = summarize(total, rows);
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
    SummarySums sums;
    for (std::size_t i = 0; i < count; ++i)
        sums += SummarySums::of(summaries[first + i * stride]);
    return summarize(sums, double(count));
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
