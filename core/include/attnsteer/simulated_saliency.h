#pragma once
// A simulated vision model's saliency for the transformer workload (transformer_block.h): how
// well it finds the planted target is one number, the quality Q.

#include "attnsteer/transformer_block.h"

#include <cstdint>
#include <vector>

namespace attnsteer {

struct SimulatedSaliencySpec {
    double quality = 0.8; ///< Q in 0..1: 1 = the exact object, 0 = unrelated noise
    double blur = 0;      ///< Gaussian blur's sigma in grid tokens, 0..100 (0 = none)
};

/// Throws InputError about "saliency-quality" or "saliency-blur" for values out of range.
void checkSimulatedSaliency(const SimulatedSaliencySpec& spec);

/// Raw saliency, K values (0 on keys that are not vision tokens). On vision token v:
///     x_v = Q T_v + (1 - Q) (D_v + N_v) / 2
/// with T the target map (1 on the target, else 0), D a displaced copy of it (the target's
/// rectangle at another place of the grid, the first of up to 64 draws that does not overlap
/// the target, uniform from the stream SimulatedSaliency, indices 2j and 2j + 1) and N uniform
/// noise in (0, 1) (index 2^32 + v). Then, with BLUR > 0, a Gaussian blur of each frame
/// (separable, cut at 3 sigma, weights renormalized at the edges). So Q = 1 without blur gives
/// exactly T, and Q = 0 a decoy and noise that do not depend on where the target is.
std::vector<double> simulatedSaliencyRaw(const TransformerLayout& layout,
                                         const SimulatedSaliencySpec& spec, std::uint64_t seed);

} // namespace attnsteer
