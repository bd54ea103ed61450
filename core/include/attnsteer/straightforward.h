#pragma once
// The write-up's algorithm as it stands: whole-tensor passes, one after the other.

#include "attnsteer/backend.h"
#include "attnsteer/metrics.h"
#include "attnsteer/workload.h"

#include <span>

namespace attnsteer {

/// A = softmax(Z) for the whole tensor, then log(A + eps), + lambda s, softmax again, H(A), H(A')
/// and KL(A||A'), each a separate Eigen pass over H x Q x K elements in SCALAR (float or double),
/// as the write-up's numpy code does. It materializes several full tensors: the baseline that
/// the benchmarks measure the fast path against, and a plain second opinion for the tests, so it
/// shares nothing with the backends but which heads are steered (checkSteeringInputs, whose
/// InputErrors it throws).
template <typename Scalar>
MetricSummary evaluateStraightforward(const Workload& workload, std::span<const double> saliency,
                                      const SteeringParams& params);

} // namespace attnsteer
