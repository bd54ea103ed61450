#pragma once
// Inputs and helpers that several test suites share.

#include "attnsteer/errors.h"
#include "attnsteer/random.h"
#include "attnsteer/saliency.h"
#include "attnsteer/workload.h"

#include <QString>

#include <cmath>
#include <functional>
#include <vector>

namespace testsupport {

/// The message of the InputError that ACTION throws, or "(no error)".
inline QString errorOf(const std::function<void()>& action) {
    try {
        action();
    } catch (const attnsteer::InputError& error) {
        return QString::fromStdString(error.what());
    }
    return QStringLiteral("(no error)");
}

/// The default random saliency of SEED: |x| / max|x|.
inline std::vector<double> defaultSaliency(int keys, std::uint64_t seed) {
    using namespace attnsteer;
    return normalizeSaliency(randomSaliencyRaw(keys, seed), Normalization::Max).values;
}

/// A causal-mask attention tensor [H,Q,K] with Q = K: row q attends to keys 0..q only, so every
/// row but the last has exact zeros, and rows before the saliency maximum cannot see it.
inline attnsteer::Workload causalAttention(int heads, int size, std::uint64_t seed) {
    using namespace attnsteer;
    std::vector<float> values(std::size_t(heads) * size * size, 0.0f);
    for (int h = 0; h < heads; ++h)
        for (int q = 0; q < size; ++q) {
            double sum = 0;
            std::vector<double> row(std::size_t(q) + 1);
            for (int k = 0; k <= q; ++k)
                sum += row[k] = std::exp(
                    0.5 * philoxNormal(seed, RandomStream::Logits, (h * size + q) * size + k));
            for (int k = 0; k <= q; ++k)
                values[(std::size_t(h) * size + q) * size + k] = float(row[k] / sum);
        }
    return Workload::fromValues(heads, size, size, std::move(values), WorkloadSource::FileAttention,
                                "causal");
}

} // namespace testsupport
