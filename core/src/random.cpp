#include "attnsteer/random.h"

#include "attnsteer/philox_normal.h"

#include <algorithm>
#include <cmath>

namespace attnsteer {
namespace {

/// The four normals of Philox block BLOCK (counter = block low, block high, stream, 0).
inline void normalsOfBlock(std::uint64_t seed, RandomStream stream, std::uint64_t block,
                           double out[4]) {
    std::uint32_t words[4] = {std::uint32_t(block), std::uint32_t(block >> 32),
                              std::uint32_t(stream), 0u};
    philox::philoxBlock(words, std::uint32_t(seed), std::uint32_t(seed >> 32));
    philox::normalsOfWords(words, out);
}

/// Whole blocks FIRST .. FIRST + COUNT - 1 into OUT (4 COUNT values), a batch at a time in
/// structure-of-arrays form so that the compiler vectorizes Philox and Box-Muller across blocks.
void normalsOfBlocks(std::uint64_t seed, RandomStream stream, std::uint64_t first,
                     std::uint64_t count, double* out) {
    constexpr int kBatch = 64;
    alignas(64) std::uint32_t c0[kBatch], c1[kBatch], c2[kBatch], c3[kBatch];
    alignas(64) double normals[4][kBatch];
    const auto key0 = std::uint32_t(seed), key1 = std::uint32_t(seed >> 32);
    for (std::uint64_t start = 0; start < count; start += kBatch) {
        const int size = int(std::min<std::uint64_t>(kBatch, count - start));
        for (int i = 0; i < kBatch; ++i) {
            const std::uint64_t block = first + start + std::uint64_t(i);
            c0[i] = std::uint32_t(block), c1[i] = std::uint32_t(block >> 32);
            c2[i] = std::uint32_t(stream), c3[i] = 0u;
        }
        // philox::philoxBlock with the rounds outside, so that each round is one vector loop.
        for (std::uint32_t round = 0; round < 10; ++round) {
            const std::uint32_t roundKey0 = key0 + round * philox::kWeyl0;
            const std::uint32_t roundKey1 = key1 + round * philox::kWeyl1;
#pragma omp simd
            for (int i = 0; i < kBatch; ++i) {
                const std::uint64_t product0 = std::uint64_t(philox::kMultiplier0) * c0[i];
                const std::uint64_t product1 = std::uint64_t(philox::kMultiplier1) * c2[i];
                const std::uint32_t next0 = std::uint32_t(product1 >> 32) ^ c1[i] ^ roundKey0;
                const std::uint32_t next2 = std::uint32_t(product0 >> 32) ^ c3[i] ^ roundKey1;
                c1[i] = std::uint32_t(product1);
                c3[i] = std::uint32_t(product0);
                c0[i] = next0;
                c2[i] = next2;
            }
        }
#pragma omp simd
        for (int i = 0; i < kBatch; ++i) {
            double cosine, sine;
            const double radius0 = std::sqrt(-2.0 * philox::logUnit(philox::unitOpen(c0[i])));
            philox::sinCosTurn(philox::unitOpen(c1[i]), cosine, sine);
            normals[0][i] = radius0 * cosine, normals[1][i] = radius0 * sine;
            const double radius1 = std::sqrt(-2.0 * philox::logUnit(philox::unitOpen(c2[i])));
            philox::sinCosTurn(philox::unitOpen(c3[i]), cosine, sine);
            normals[2][i] = radius1 * cosine, normals[3][i] = radius1 * sine;
        }
        for (int i = 0; i < size; ++i)
            for (int lane = 0; lane < 4; ++lane)
                out[4 * (start + i) + lane] = normals[lane][i];
    }
}

} // namespace

double philoxNormal(std::uint64_t seed, RandomStream stream, std::uint64_t index) {
    double normals[4];
    normalsOfBlock(seed, stream, index / 4, normals);
    return normals[index % 4];
}

double philoxUniform(std::uint64_t seed, RandomStream stream, std::uint64_t index) {
    const std::uint64_t block = index / 4;
    std::uint32_t words[4] = {std::uint32_t(block), std::uint32_t(block >> 32),
                              std::uint32_t(stream), 0u};
    philox::philoxBlock(words, std::uint32_t(seed), std::uint32_t(seed >> 32));
    return philox::unitOpen(words[index % 4]);
}

void philoxNormals(std::uint64_t seed, RandomStream stream, std::uint64_t first,
                   std::uint64_t count, double* out) {
    double normals[4];
    std::uint64_t index = first;
    const std::uint64_t end = first + count;
    // A partial first block, whole blocks in batches, a partial last block.
    if (index % 4 != 0 && index < end) {
        normalsOfBlock(seed, stream, index / 4, normals);
        for (std::uint64_t lane = index % 4; lane < 4 && index < end; ++lane, ++index)
            *out++ = normals[lane];
    }
    const std::uint64_t wholeBlocks = (end - index) / 4;
    normalsOfBlocks(seed, stream, index / 4, wholeBlocks, out);
    out += 4 * wholeBlocks;
    index += 4 * wholeBlocks;
    if (index < end) {
        normalsOfBlock(seed, stream, index / 4, normals);
        for (std::uint64_t lane = 0; index < end; ++lane, ++index)
            *out++ = normals[lane];
    }
}

} // namespace attnsteer
