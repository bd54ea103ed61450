#pragma once
// The Chebyshev series that let a backend evaluate a lambda from per-row moments instead of a pass
// over the values (core/src/backend_cpu.cpp explains the algebra; gpu/ uses the same series).
//
// s~ = s - max s lies in [u0, 0]; t = (u - c) / h maps it onto [-1, 1] (c = u0/2, h = -u0/2). For
// f(u) = e^{lambda u} and g(u) = u e^{lambda u}, f ~ sum_j f_j T_j(t), g ~ sum_j g_j T_j(t), so
//   S1 = sum_j f_j M_j,  S2 = sum_j f_j N_j,  S3 = sum_j g_j M_j,
// with the lambda-free moments M_j = sum_k E_k T_j(t_k) and N_j = sum_k E_k x_k T_j(t_k) of a row.

#include <cstddef>
#include <span>

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

} // namespace attnsteer::chebyshev
