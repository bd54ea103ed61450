#include "attnsteer/saliency.h"

#include "attnsteer/errors.h"
#include "attnsteer/npy.h"
#include "attnsteer/random.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace attnsteer {

std::optional<Normalization> parseNormalization(std::string_view name) {
    if (name == "max")
        return Normalization::Max;
    if (name == "minmax")
        return Normalization::MinMax;
    if (name == "zscore")
        return Normalization::ZScore;
    if (name == "none")
        return Normalization::None;
    return std::nullopt;
}

std::string_view normalizationName(Normalization mode) {
    switch (mode) {
    case Normalization::Max:
        return "max";
    case Normalization::MinMax:
        return "minmax";
    case Normalization::ZScore:
        return "zscore";
    case Normalization::None:
        return "none";
    }
    return "max";
}

std::vector<double> randomSaliencyRaw(int keys, std::uint64_t seed) {
    std::vector<double> raw(std::size_t(std::max(keys, 0)));
    philoxNormals(seed, RandomStream::Saliency, 0, raw.size(), raw.data());
    for (double& x : raw)
        x = std::abs(x);
    return raw;
}

NormalizedSaliency normalizeSaliency(std::span<const double> raw, Normalization mode) {
    NormalizedSaliency result;
    result.values.assign(raw.begin(), raw.end());
    if (raw.empty() || mode == Normalization::None)
        return result;
    auto zeroWithWarning = [&](const char* why) {
        std::fill(result.values.begin(), result.values.end(), 0.0);
        result.warning = std::string("saliency is constant (") + why + "); using s = 0";
        return result;
    };
    const auto [minIt, maxIt] = std::minmax_element(raw.begin(), raw.end());
    switch (mode) {
    case Normalization::Max: {
        const double scale = std::max(std::abs(*minIt), std::abs(*maxIt));
        if (scale == 0)
            return zeroWithWarning("max |x| = 0");
        for (double& v : result.values)
            v /= scale;
        break;
    }
    case Normalization::MinMax: {
        const double range = *maxIt - *minIt;
        if (range == 0)
            return zeroWithWarning("max = min");
        for (double& v : result.values)
            v = (v - *minIt) / range;
        break;
    }
    case Normalization::ZScore: {
        const double n = double(raw.size());
        const double mean = std::accumulate(raw.begin(), raw.end(), 0.0) / n;
        double sumSquares = 0;
        for (double x : raw)
            sumSquares += (x - mean) * (x - mean);
        const double stdDev = std::sqrt(sumSquares / n);
        if (stdDev == 0 || *maxIt == *minIt)
            return zeroWithWarning("std = 0");
        for (double& v : result.values)
            v = (v - mean) / stdDev;
        break;
    }
    case Normalization::None:
        break;
    }
    return result;
}

std::vector<double> loadSaliencyNpy(const std::string& path, int keys) {
    const NpyArray array = readNpy(path);
    if (array.shape.size() != 1)
        throw fileError(path, "saliency must have shape [K], found " +
                                  std::to_string(array.shape.size()) + " dimensions");
    if (array.shape[0] != std::size_t(keys))
        throw fileError(path, "saliency length is " + std::to_string(array.shape[0]) +
                                  ", expected " + std::to_string(keys) + " (keys)");
    std::vector<double> values(array.data.begin(), array.data.end());
    for (std::size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i]))
            throw fileError(path, "contains NaN or Inf at index " + std::to_string(i));
    return values;
}

} // namespace attnsteer
