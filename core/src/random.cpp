#include "attnsteer/random.h"

#include <Random123/philox.h>

#include <cmath>
#include <numbers>

namespace attnsteer {
namespace {

// Own Box-Muller rather than Random123's boxmuller.hpp: its float/double paths use sincospi and
// differ between host and device compilers; this exact formula is what the GPU backend repeats.
inline double unitOpen(std::uint32_t u) { return (double(u) + 0.5) * 0x1p-32; }

inline void normalsOfBlock(std::uint64_t seed, RandomStream stream, std::uint64_t block,
                           double out[4]) {
    r123::Philox4x32 philox;
    const r123::Philox4x32::ctr_type counter = {{std::uint32_t(block), std::uint32_t(block >> 32),
                                                 std::uint32_t(stream), 0u}};
    const r123::Philox4x32::key_type key = {{std::uint32_t(seed), std::uint32_t(seed >> 32)}};
    const auto words = philox(counter, key);
    for (int pair = 0; pair < 2; ++pair) {
        const double radius = std::sqrt(-2.0 * std::log(unitOpen(words[2 * pair])));
        const double angle = 2.0 * std::numbers::pi * unitOpen(words[2 * pair + 1]);
        out[2 * pair] = radius * std::cos(angle);
        out[2 * pair + 1] = radius * std::sin(angle);
    }
}

} // namespace

double philoxNormal(std::uint64_t seed, RandomStream stream, std::uint64_t index) {
    double normals[4];
    normalsOfBlock(seed, stream, index / 4, normals);
    return normals[index % 4];
}

void philoxNormals(std::uint64_t seed, RandomStream stream, std::uint64_t first,
                   std::uint64_t count, double* out) {
    double normals[4];
    std::uint64_t index = first;
    const std::uint64_t end = first + count;
    while (index < end) {
        normalsOfBlock(seed, stream, index / 4, normals);
        for (std::uint64_t lane = index % 4; lane < 4 && index < end; ++lane, ++index)
            *out++ = normals[lane];
    }
}

} // namespace attnsteer
