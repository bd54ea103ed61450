#pragma once
// The Chebyshev series that let a backend evaluate a lambda from per-row moments instead of a pass
// over the values, and the plan that says which lambdas may (attnsteer/steering.h has the per-row
// algebra: H(A') and KL from S1, S2, S3). The CPU and CUDA backends share both.
//
// The two paths of a lambda, named so everywhere:
//   moments  S1, S2, S3 of every row from its lambda-free moments M, N (rows x kTerms, computed
//            once per workload, saliency and eps): O(rows x terms) per lambda, values not read.
//   exact    S1, S2, S3 by a pass over the values: O(rows x keys) per lambda; for lambdas whose
//            series does not reach double precision within kTerms terms, or with moments off.
//
// Accuracy. The series approximates e^{lambda u} to within a few ulp of its largest value F, so
// a row's S1 comes with an absolute error of about F times the row's mass M_0 = sum_k E_k; its
// relative error is that over S1, which is small where the row's attention sits on keys of high
// saliency and up to e^{|lambda| (max s - min s)} times larger where it sits on the lowest. Two
// ways to keep that in check, one per backend:
//   worst row  (CUDA) a lambda takes the moments path only where even a row with all its mass on
//              the least favoured keys keeps its digits: lambda (max s - min s) up to about 4.6.
//   each row   (CPU) a lambda takes the moments path wherever its series converges (up to about
//              60 for saliency in [0, 1]); the backend checks every row (rowWithinTolerance) and
//              computes the rows that fail from their values. The CPU also sums the keys at the
//              minimum saliency (a dump's text tokens at 0) apart, with their exact weight, so
//              that rows looking at those keys keep their digits too. At lambda 20 no row of the
//              default workload fails, and few of the transformer workload's.
//
// s~ = s - max s lies in [u0, 0]; t = (u - c) / h maps it onto [-1, 1] (c = u0/2, h = -u0/2). For
// f(u) = e^{lambda u} and g(u) = u e^{lambda u}, f ~ sum_j f_j T_j(t), g ~ sum_j g_j T_j(t), so
//   S1 = sum_j f_j M_j,  S2 = sum_j f_j N_j,  S3 = sum_j g_j M_j,
// with the lambda-free moments M_j = sum_k E_k T_j(t_k) and N_j = sum_k E_k x_k T_j(t_k) of a row.
// The coefficients fall like I_j(lambda h) ~ (lambda h / 2)^j / j!, so for moderate lambda h a
// series of kTerms terms is exact to double precision.

#include <cstddef>
#include <span>
#include <vector>

namespace attnsteer::chebyshev {

/// Terms of the series; enough for lambda (max s - min s) up to about 60 (the each-row plan).
inline constexpr int kTerms = 48;

/// The interval [u0, 0] of the shifted saliency as t in [-1, 1].
struct Range {
    double center = 0, halfWidth = 0;

    /// LOWEST: u0 = min s~ (<= 0).
    explicit Range(double lowest) : center(lowest / 2), halfWidth(-lowest / 2) {}

    /// T_j(t_k) for every key k of SHIFTED and j < kTerms, at OUT[k * keyStride + j * termStride].
    void basis(std::span<const double> shifted, double* out, std::size_t keyStride,
               std::size_t termStride) const;

    /// Coefficients f_j, g_j (kTerms each) of f and g by interpolation at the Chebyshev nodes, and
    /// how many of them matter; 0 when the series does not reach double precision within kTerms
    /// terms (the last coefficients exceed 1e-14 of the smallest weight e^{lambda u0}): such a
    /// lambda needs a pass over the values.
    int coefficients(double lambda, double* f, double* g) const;
};

/// The relative error of a row's S1, S2 and S3 that the moments path accepts under the each-row
/// check: a row's metrics then carry at most ~1e-10 x (1 + |lambda| (max s - min s) + |x|) nats
/// of error, four orders below the contract (kMetricsTolerance, 1e-6 relative).
inline constexpr double kRowTolerance = 1e-10;

/// Whether a row's sums from the moments are good to kRowTolerance: the bound on their error,
/// ERROR_PER_MASS x M0 (M0 = sum_k E_k, the row's moment 0), against S1 from the moments. False
/// for an S1 that is not positive (all rounding) or not a number.
inline bool rowWithinTolerance(double errorPerMass, double m0, double s1) {
    return errorPerMass * m0 <= kRowTolerance * s1;
}

/// A backend that checks each row of the moments path (rowWithinTolerance) and computes the rows
/// that fail from their values; KEYS per row (the moments' rounding grows with it).
struct EachRowChecked {
    std::size_t keys = 0;
};

/// Which path each lambda of a list takes, decided in one place for every backend.
struct LambdaPlan {
    std::vector<std::size_t> moments; ///< indices into the list, in list order: the moments path
    std::vector<std::size_t> exact;   ///< the others, in list order: the exact pass
    /// Coefficients f_j and g_j of the moments lambdas: the c-th one's term j at [c * kTerms + j]
    /// (a kTerms x moments.size() column-major matrix).
    std::vector<double> f, g;
    int terms = 0; ///< terms that matter for every moments lambda (the most any of them uses)
    /// Per moments lambda, in the order of MOMENTS: a bound on the error of S1 from the series per
    /// unit of a row's mass (|S1 - sum_j f_j M_j| <= errorPerMass x M_0; S2 and S3 alike, scaled
    /// by |x| and |s~|). Set by the each-row plan.
    std::vector<double> errorPerMass;
};

/// The worst-row plan for LAMBDAS over the shifted saliency's RANGE: a lambda takes the moments
/// path where its series reaches double precision for every row (Range::coefficients) and
/// USE_MOMENTS is true, else the exact pass.
LambdaPlan planLambdas(std::span<const double> lambdas, const Range& range, bool useMoments);

/// The each-row plan: a lambda takes the moments path wherever its series converges to within
/// rounding of its largest value (and USE_MOMENTS is true), with LambdaPlan::errorPerMass for the
/// backend's row check.
LambdaPlan planLambdas(std::span<const double> lambdas, const Range& range, bool useMoments,
                       EachRowChecked check);

} // namespace attnsteer::chebyshev
