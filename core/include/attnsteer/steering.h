#pragma once
// The steering math, in one place for every backend and view: the CPU backend, the CUDA kernels
// (gpu/src/kernels.cuh), the window's matrix and the plots' matrix all call these. No CUDA types;
// device code includes it like philox_normal.h.
//
// Per row over K keys, with E = A + eps, x = log E, s~ = s - max s and w_k = e^{lambda s~_k} <= 1:
//   A'_k      = E_k w_k / S1,                    S1 = sum_k E_k w_k
//   H(A')     = log S1 - (S2 + lambda S3) / S1,  S2 = sum_k E_k x_k w_k,  S3 = sum_k E_k w_k s~_k
//   KL(A||A') = sum A log A - sum A x - lambda sum A s~ + (sum A) log S1
//   sum A' s  = S3 / S1 + max s          (the saliency expectation, free from the same sums)
// The shift by max s cancels in A' and keeps w from overflowing at large lambda; the lambda-free
// sums (H(A), sum A x, sum A s~, sum A) are computed once per row. So a row needs only three dot
// products per lambda (S1, S2, S3), which the backends get either from per-row Chebyshev moments
// or from an exact pass over the values (attnsteer/chebyshev.h). Where S1 underflows (lambda in
// the hundreds, the saliency maximum masked out in that row) the row is computed straight from A
// with its own shift instead: steeredRowMetrics, or per key steeredLogit and addSteeredTerms.
//
// Derivation: log A'_k = x_k + lambda s~_k - log S1, so
//   H(A')     = -sum_k A'_k log A'_k = log S1 - sum_k E_k w_k (x_k + lambda s~_k) / S1
//   KL(A||A') = sum_k A_k (log A_k - log A'_k) = sum A log A - sum A x - lambda sum A s~
//               + (sum A) log S1.

#include "attnsteer/philox_normal.h" // ATTNSTEER_HOST_DEVICE

#include <cmath>
#include <cstddef>
#include <limits>

namespace attnsteer::steering {

/// S1 at or below this (or not finite) leaves too few digits for log S1: the row is computed
/// straight from A instead (steeredRowMetrics), with its own shift.
inline constexpr double kUnderflow = 1e-280;

/// Below this eps / A the series for log(A + eps) is exact in double (y^4/4 < 2.5e-17).
inline constexpr double kLogSeriesLimit = 1e-4;

/// log A + log1p(y) by the series y - y^2/2 + y^3/3, exact in double for y < kLogSeriesLimit.
/// Doubles, or Eigen arrays so that the CPU evaluates a whole row vectorized (it then redoes the
/// keys with y >= kLogSeriesLimit by shiftedLog); the arguments must outlive the returned
/// expression.
template <typename LogA, typename Y>
ATTNSTEER_HOST_DEVICE inline auto shiftedLogSeries(const LogA& logA, const Y& y) {
    return logA + y * (1.0 - y * (0.5 - y * (1.0 / 3.0)));
}

/// x = log(A + eps) from A and log A: log A + log1p(y), y = eps / A, by shiftedLogSeries where
/// y < kLogSeriesLimit (a logarithm per element saved), else the logarithm. -inf where
/// A + eps = 0.
ATTNSTEER_HOST_DEVICE inline double shiftedLog(double a, double logA, double eps) {
    if (eps == 0)
        return logA;
    const double y = eps / a; // +inf where A = 0
    return y < kLogSeriesLimit ? shiftedLogSeries(logA, y) : std::log(a + eps);
}

/// z = log(A + eps) + lambda s of one key, -inf where A + eps = 0: the steered logit before the
/// softmax.
ATTNSTEER_HOST_DEVICE inline double steeredLogit(double a, double eps, double lambda,
                                                 double saliency) {
    const double e = a + eps;
    return e > 0 ? std::log(e) + lambda * saliency : -INFINITY;
}

/// The lambda-free sums of one row.
struct RowSums {
    double entropy = 0;     ///< H(A) = -sum_{A>0} A log A
    double sumAx = 0;       ///< sum_{A>0} A x
    double sumAShifted = 0; ///< sum A s~
    double sumA = 0;        ///< sum A (1 up to rounding for softmax rows)
};

/// What a row's metrics at one lambda are made of.
struct SteeredMetrics {
    double entropy = 0;            ///< H(A')
    double kl = 0;                 ///< KL(A||A')
    double expectationShifted = 0; ///< sum A' s~ (+ max s: the saliency expectation sum A' s)
};

/// The metrics of a row that keeps A' = A (its head unsteered or its row gated out), for a
/// saliency of maximum MAX_SALIENCY: expectationShifted + max s = sum A s also where the stored
/// probabilities sum to 1 only within their tolerance.
ATTNSTEER_HOST_DEVICE inline SteeredMetrics unsteeredMetrics(const RowSums& sums,
                                                             double maxSaliency) {
    return {sums.entropy, 0.0, sums.sumAShifted + (sums.sumA - 1.0) * maxSaliency};
}

/// Whether S1 leaves log S1 its digits: false where it underflowed (<= kUnderflow), overflowed
/// or is not a number, and the row then needs steeredRowMetrics.
ATTNSTEER_HOST_DEVICE inline bool usableS1(double s1) {
    return s1 > kUnderflow && !std::isinf(s1);
}

/// metricsFromSums with LOG_S1 = log S1 given, for a caller that takes the logarithms of many S1
/// at once (the CPU, vectorized). False (OUT untouched) where !usableS1(S1).
ATTNSTEER_HOST_DEVICE inline bool metricsGivenLogS1(const RowSums& sums, double lambda, double s1,
                                                    double logS1, double s2, double s3,
                                                    SteeredMetrics& out) {
    if (!usableS1(s1))
        return false;
    out.entropy = logS1 - (s2 + lambda * s3) / s1;
    out.kl = -sums.entropy - sums.sumAx - lambda * sums.sumAShifted + sums.sumA * logS1;
    out.expectationShifted = s3 / s1;
    return true;
}

/// H(A'), KL(A||A') and sum A' s~ of a row at LAMBDA from its three sums. False (OUT untouched)
/// where S1 underflowed or overflowed: the row then needs steeredRowMetrics.
ATTNSTEER_HOST_DEVICE inline bool metricsFromSums(const RowSums& sums, double lambda, double s1,
                                                  double s2, double s3, SteeredMetrics& out) {
    return usableS1(s1) && metricsGivenLogS1(sums, lambda, s1, std::log(s1), s2, s3, out);
}

/// The steered logits z_k = steeredLogit of a row of K keys into OUT; returns their maximum, the
/// shift that keeps e^{z - max} finite whatever lambda.
ATTNSTEER_HOST_DEVICE inline double steeredLogits(const double* attention, const double* saliency,
                                                  std::size_t keys, double lambda, double eps,
                                                  double* out) {
    double top = -INFINITY;
    for (std::size_t k = 0; k < keys; ++k) {
        out[k] = steeredLogit(attention[k], eps, lambda, saliency[k]);
        top = out[k] > top ? out[k] : top;
    }
    return top;
}

/// Z (K steered logits, maximum TOP) turned into their softmax in place; returns the log of the
/// normalizer, log sum_k e^{z_k}, so that log A'_k = z_k - it. Masked keys (-inf) give 0.
ATTNSTEER_HOST_DEVICE inline double softmaxInPlace(double* z, std::size_t keys, double top) {
    double sum = 0;
    for (std::size_t k = 0; k < keys; ++k)
        sum += z[k] = z[k] > -INFINITY ? std::exp(z[k] - top) : 0.0;
    const double scale = 1 / sum;
    for (std::size_t k = 0; k < keys; ++k)
        z[k] *= scale;
    return std::log(sum) + top;
}

/// A' of one row: OUT[k] = softmax_k(log(A_k + eps) + lambda s_k) over K keys, shifted by the
/// row's largest steered logit (any lambda, masked keys give 0). OUT may alias nothing else.
/// Returns log of the softmax's normalizer, log sum_k e^{z_k}, so that log A'_k = z_k - it.
ATTNSTEER_HOST_DEVICE inline double steeredRow(const double* attention, const double* saliency,
                                               std::size_t keys, double lambda, double eps,
                                               double* out) {
    return softmaxInPlace(out, keys, steeredLogits(attention, saliency, keys, lambda, eps, out));
}

/// log(A + eps) of every key of a row, -inf where A + eps = 0: what a view that moves lambda over
/// one head keeps, so that a lambda costs no logarithm (steerShiftedLogs).
ATTNSTEER_HOST_DEVICE inline void shiftedLogs(const double* attention, std::size_t keys, double eps,
                                              double* out) {
    for (std::size_t k = 0; k < keys; ++k)
        out[k] = steeredLogit(attention[k], eps, 0.0, 0.0);
}

/// steeredRow from the row's shiftedLogs: OUT[k] = softmax_k(LOG_SHIFTED[k] + lambda s_k). OUT
/// may be LOG_SHIFTED itself.
ATTNSTEER_HOST_DEVICE inline double steerShiftedLogs(const double* logShifted,
                                                     const double* saliency, std::size_t keys,
                                                     double lambda, double* out) {
    double top = -INFINITY;
    for (std::size_t k = 0; k < keys; ++k) {
        out[k] = logShifted[k] > -INFINITY ? logShifted[k] + lambda * saliency[k] : -INFINITY;
        top = out[k] > top ? out[k] : top;
    }
    return softmaxInPlace(out, keys, top);
}

/// What key k adds to H(A') = -sum_{A'>0} A' log A', KL(A||A') = sum_{A>0} A (log A - log A')
/// and sum A' s~, given A_k, log A_k, A'_k, log A'_k (taken as z_k - log sum e^z, which stays
/// finite where A'_k underflows to 0 and A_k > 0 still weighs it) and s~_k.
ATTNSTEER_HOST_DEVICE inline void addSteeredTerms(double a, double logA, double steered,
                                                  double logSteered, double shiftedSaliency,
                                                  SteeredMetrics& out) {
    if (steered > 0)
        out.entropy -= steered * logSteered;
    if (a > 0)
        out.kl += a * (logA - logSteered);
    out.expectationShifted += steered * shiftedSaliency;
}

/// The metrics of one row straight from A (ATTENTION) and log A (LOG_ATTENTION, -inf at zeros),
/// with the row's own shift: the fallback where metricsFromSums refuses S1. SALIENCY is s,
/// MAX_SALIENCY its maximum; SCRATCH holds K doubles. Host only: the CUDA fallback kernel shares
/// the keys of a row among threads and calls steeredLogit and addSteeredTerms per key.
inline SteeredMetrics steeredRowMetrics(const double* attention, const double* logAttention,
                                        const double* saliency, double maxSaliency,
                                        std::size_t keys, double lambda, double eps,
                                        double* scratch) {
    const double top = steeredLogits(attention, saliency, keys, lambda, eps, scratch);
    double sum = 0;
    for (std::size_t k = 0; k < keys; ++k)
        sum += std::exp(scratch[k] - top);
    const double logNormalizer = std::log(sum) + top;
    SteeredMetrics out;
    for (std::size_t k = 0; k < keys; ++k)
        addSteeredTerms(attention[k], logAttention[k], std::exp(scratch[k] - top) / sum,
                        scratch[k] - logNormalizer, saliency[k] - maxSaliency, out);
    return out;
}

/// A' - A of one row, in place on OUT as steeredRow leaves it.
ATTNSTEER_HOST_DEVICE inline void subtractOriginal(const double* attention, std::size_t keys,
                                                   double* out) {
    for (std::size_t k = 0; k < keys; ++k)
        out[k] -= attention[k];
}

/// Whether a row gets the bias: its head is steered, its query is not gated out, and its H(A)
/// is at least GATE_NATS (the uncertainty gate tau log K; -inf without one). A row that does not
/// keeps A' = A: H(A') = H(A), KL = 0, sum A' s = sum A s.
ATTNSTEER_HOST_DEVICE inline bool isRowSteered(bool headSteered, bool queryAllowed, double entropy,
                                               double gateNats) {
    return headSteered && queryAllowed && entropy >= gateNats;
}

} // namespace attnsteer::steering
