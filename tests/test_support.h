#pragma once
// Inputs and helpers that several test suites share.

#include "attnsteer/errors.h"
#include "attnsteer/random.h"
#include "attnsteer/saliency.h"
#include "attnsteer/workload.h"

#include <QString>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <vector>

namespace testsupport {

/// ERROR as the command line words it ("--eps: must be ...", "PATH: ..."): what the tests of the
/// core's messages compare with, so that its subject (setting or file) is checked too.
inline std::string commandLineText(const attnsteer::InputError& error) {
    using Kind = attnsteer::InputSubject::Kind;
    const attnsteer::InputSubject& subject = error.subject();
    if (subject.kind == Kind::None)
        return error.problem();
    // Settings as their options; files and other inputs by their names.
    return (subject.kind == Kind::Setting ? "--" : "") + subject.name + ": " + error.problem();
}

/// The InputError that ACTION throws, as commandLineText words it, or "(no error)".
inline QString errorOf(const std::function<void()>& action) {
    try {
        action();
    } catch (const attnsteer::InputError& error) {
        return QString::fromStdString(commandLineText(error));
    }
    return QStringLiteral("(no error)");
}

/// H(A) / log K of the row A (natural logs, 0 log 0 = 0), in long double: what the entropy gate
/// compares with tau.
inline double normalizedEntropy(const std::vector<double>& a) {
    long double entropy = 0;
    for (double p : a)
        if (p > 0)
            entropy -= p * std::log((long double)p);
    return double(entropy / std::log((long double)a.size()));
}

/// A gate tau with two decimals (as the window's box takes it) that lets some of the rows of
/// normalized entropies ENTROPIES through and not others, as far from each of them as it can;
/// -1 when there is none.
inline double gateBetween(const std::vector<double>& entropies) {
    double best = -1, margin = -1;
    for (int i = 1; i < 100; ++i) {
        const double tau = i / 100.0;
        const auto above =
            std::count_if(entropies.begin(), entropies.end(), [&](double e) { return e >= tau; });
        if (above == 0 || above == std::ptrdiff_t(entropies.size()))
            continue;
        double nearest = 1;
        for (double e : entropies)
            nearest = std::min(nearest, std::abs(e - tau));
        if (nearest > margin)
            margin = nearest, best = tau;
    }
    return best;
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
