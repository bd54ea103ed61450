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

/// Terms of the series; enough for lambda (max s - min s) up to about 30.
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

/// Which path each lambda of a list takes, decided in one place for every backend.
struct LambdaPlan {
    std::vector<std::size_t> moments; ///< indices into the list, in list order: the moments path
    std::vector<std::size_t> exact;   ///< the others, in list order: the exact pass
    /// Coefficients f_j and g_j of the moments lambdas: the c-th one's term j at [c * kTerms + j]
    /// (a kTerms x moments.size() column-major matrix).
    std::vector<double> f, g;
    int terms = 0; ///< terms that matter for every moments lambda (the most any of them uses)
};

/// The plan for LAMBDAS over the shifted saliency's RANGE: a lambda takes the moments path where
/// its series converges (Range::coefficients) and USE_MOMENTS is true, else the exact pass.
LambdaPlan planLambdas(std::span<const double> lambdas, const Range& range, bool useMoments);

} // namespace attnsteer::chebyshev
