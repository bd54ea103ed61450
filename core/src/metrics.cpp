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
