#include "attnsteer/saliency.h"

#include "attnsteer/errors.h"
#include "attnsteer/npy.h"
#include "attnsteer/random.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <string>

namespace attnsteer {

std::optional<Normalization> parseNormalization(std::string_view name, double* binaryThreshold) {
    if (name.starts_with("binary:")) {
        const std::string text(name.substr(7));
        char* end = nullptr;
        const double threshold = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !(threshold >= 0 && threshold <= 1))
            return std::nullopt;
        if (binaryThreshold)
            *binaryThreshold = threshold;
        return Normalization::Binary;
    }
    if (name == "binary")
        return Normalization::Binary;
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
    case Normalization::Binary:
        return "binary";
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

NormalizedSaliency normalizeSaliency(std::span<const double> raw, Normalization mode,
                                     double binaryThreshold) {
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
    case Normalization::MinMax:
    case Normalization::Binary: {
        const double range = *maxIt - *minIt;
        if (range == 0)
            return zeroWithWarning("max = min");
        for (double& v : result.values) {
            v = (v - *minIt) / range;
            if (mode == Normalization::Binary)
                v = v >= binaryThreshold ? 1.0 : 0.0;
        }
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
    return loadVectorNpy(path, std::size_t(std::max(keys, 0)), "saliency", "keys");
}

std::vector<double> loadVectorNpy(const std::string& path, std::size_t length,
                                  std::string_view what, std::string_view lengthName) {
    const NpyArray array = readNpy(path);
    const std::string name(what);
    if (array.shape.size() != 1)
        throw fileError(path, name + " must have shape [" +
                                  std::string(lengthName == "keys" ? "K" : "Q") + "], found " +
                                  std::to_string(array.shape.size()) + " dimensions");
    if (array.shape[0] != length)
        throw fileError(path, name + " length is " + std::to_string(array.shape[0]) +
                                  ", expected " + std::to_string(length) + " (" +
                                  std::string(lengthName) + ")");
    std::vector<double> values(array.data.begin(), array.data.end());
    for (std::size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i]))
            throw fileError(path, "contains NaN or Inf at index " + std::to_string(i));
    return values;
}

} // namespace attnsteer
