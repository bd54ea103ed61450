#pragma once
// Counter-based normal random numbers: every element has its own value whatever the order, thread
// or device that computes it.

#include <cstdint>

namespace attnsteer {

/// Streams of the same seed that never overlap.
enum class RandomStream : std::uint32_t {
    Logits = 0,   ///< Z[h,q,k] of the random workload, index (h*Q + q)*K + k
    Saliency = 1, ///< x_k of the random saliency, index k
    // The transformer workload (transformer_block.h, which gives the indices) and its simulated
    // vision saliency (simulated_saliency.h).
    TransformerEmbedding = 2, ///< token embeddings' noise coordinates
    TransformerWeights = 3,   ///< per-head projections and planted directions
    TransformerLayout = 4,    ///< the target object's place on the grid
    SimulatedSaliency = 5,    ///< the simulated saliency's noise and displaced copy
};

/// The standard normal value number INDEX of STREAM under SEED.
///
/// Philox4x32-10 (Random123's philox4x32) with key = (seed low, seed high) and counter =
/// (index/4 low, index/4 high, stream, 0) gives four 32-bit words u0..u3; with
/// v_i = (u_i + 1/2) 2^-32 in (0,1), Box-Muller gives n0 = r cos(2 pi v1), n1 = r sin(2 pi v1)
/// with r = sqrt(-2 ln v0), and n2, n3 from v2, v3 likewise. Element index % 4 picks n0..n3.
/// Computed in double with the portable kernels of philox_normal.h, so the GPU gets the same bits.
double philoxNormal(std::uint64_t seed, RandomStream stream, std::uint64_t index);

/// A uniform number in (0, 1) of STREAM under SEED: word INDEX % 4 of the same Philox block as
/// philoxNormal's, as (u + 1/2) 2^-32.
double philoxUniform(std::uint64_t seed, RandomStream stream, std::uint64_t index);

/// Fills OUT[0..count) with philoxNormal(seed, stream, first + i), four per Philox call.
void philoxNormals(std::uint64_t seed, RandomStream stream, std::uint64_t first,
                   std::uint64_t count, double* out);

} // namespace attnsteer
