#pragma once
// Per-key-token saliency s_k: the bias that steering adds to the attention logits.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace attnsteer {

/// How raw saliency becomes the bias s.
enum class Normalization {
    Max,    ///< s = x / max|x| (the write-up's default; in [0,1] for x >= 0)
    MinMax, ///< s = (x - min x) / (max x - min x), in [0,1]
    ZScore, ///< s = (x - mean x) / std x (population std): the write-up's temperature-scaled bias
    None,   ///< s = x
    /// s = 1 where the min-max normalized x is at least a threshold T, else 0: PASTA's binary
    /// emphasis. With it, lambda = -log alpha scales the attention of the other tokens by alpha
    /// before renormalizing (A'_k is proportional to A_k on emphasized tokens, alpha A_k elsewhere,
    /// for eps = 0).
    Binary,
};

/// The default threshold of Normalization::Binary.
inline constexpr double kDefaultBinaryThreshold = 0.5;

/// "max", "minmax", "zscore", "none", "binary" or "binary:T" (T in [0, 1], written to
/// BINARY_THRESHOLD when given; "binary" alone leaves it); nullopt for anything else.
std::optional<Normalization> parseNormalization(std::string_view name,
                                                double* binaryThreshold = nullptr);
std::string_view normalizationName(Normalization mode);

/// The default random saliency before normalization: |x_k|, x_k ~ Normal(0,1), from the saliency
/// stream of SEED (independent of the logits stream).
std::vector<double> randomSaliencyRaw(int keys, std::uint64_t seed);

struct NormalizedSaliency {
    std::vector<double> values; ///< s, one per key token
    std::string warning;        ///< non-empty when the input was constant and s = 0 was used
};

/// Applies MODE (Binary with BINARY_THRESHOLD). Where MODE would divide by zero (max|x| = 0,
/// max = min, std = 0) it returns s = 0 with a warning instead.
NormalizedSaliency normalizeSaliency(std::span<const double> raw, Normalization mode,
                                     double binaryThreshold = kDefaultBinaryThreshold);

/// Reads a [LENGTH] vector of finite values from a .npy file. WHAT and LENGTH_NAME word the
/// errors: InputError("PATH", "WHAT must have shape [N], ...", "WHAT length is N, expected
/// LENGTH (LENGTH_NAME)", "contains NaN or Inf at index i").
std::vector<double> loadVectorNpy(const std::string& path, std::size_t length,
                                  std::string_view what, std::string_view lengthName);

/// Reads a [K] saliency vector from a .npy file; checks K and finiteness.
/// Throws InputError("PATH", ...) for a bad file, "saliency length is N, expected K (keys)", or
/// "contains NaN or Inf at index i".
std::vector<double> loadSaliencyNpy(const std::string& path, int keys);

} // namespace attnsteer
