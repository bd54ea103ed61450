#pragma once
// A' of many rows at once for the matrix view, vectorized: the window's lambda change waits for
// it. The same softmax as steering::steerShiftedLogs (core), to within a few ulp.

#include <cstddef>

namespace attnsteer {

/// OUT[k] = softmax_k(LOG_SHIFTED[k] + LAMBDA S[k]) for one row of KEYS values (-inf in
/// LOG_SHIFTED is a masked key: 0). OUT may be LOG_SHIFTED itself.
void steerRowVectorized(const double* logShifted, const double* s, std::size_t keys, double lambda,
                        double* out);

} // namespace attnsteer
