#include "attnsteer/chebyshev.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

namespace attnsteer::chebyshev {

void Range::basis(std::span<const double> shifted, double* out, std::size_t keyStride,
                  std::size_t termStride) const {
    for (std::size_t k = 0; k < shifted.size(); ++k) {
        const double t =
            halfWidth > 0 ? std::clamp((shifted[k] - center) / halfWidth, -1.0, 1.0) : 0.0;
        double* row = out + k * keyStride;
        double previous = 1, current = t;
        row[0] = previous;
        row[termStride] = current;
        for (int j = 2; j < kTerms; ++j) {
            const double next = 2 * t * current - previous;
            row[std::size_t(j) * termStride] = next;
            previous = current, current = next;
        }
    }
}

namespace {

/// The interpolation's lambda-free part: cos theta_i at node i and the weights
/// cos(j theta_i) (j = 0 ? 1 : 2) / n, computed once (a sweep asks for many lambdas).
struct Nodes {
    std::array<double, kTerms> cosTheta;
    std::array<std::array<double, kTerms>, kTerms> weight; ///< [node][j]
    Nodes() {
        constexpr int n = kTerms;
        for (int node = 0; node < n; ++node) {
            const double theta = std::numbers::pi * (node + 0.5) / n;
            cosTheta[node] = std::cos(theta);
            for (int j = 0; j < n; ++j)
                weight[node][j] = std::cos(j * theta) * (j == 0 ? 1.0 : 2.0) / n;
        }
    }
};

} // namespace

int Range::coefficients(double lambda, double* f, double* g) const {
    constexpr int n = kTerms;
    static const Nodes nodes;
    std::fill_n(f, n, 0.0), std::fill_n(g, n, 0.0);
    for (int node = 0; node < n; ++node) {
        const double u = center + halfWidth * nodes.cosTheta[node];
        const double fu = std::exp(lambda * u), gu = u * fu;
        for (int j = 0; j < n; ++j)
            f[j] += fu * nodes.weight[node][j], g[j] += gu * nodes.weight[node][j];
    }
    const double smallestWeight = std::exp(lambda * (center - halfWidth));
    const double tail =
        std::abs(f[n - 1]) + std::abs(f[n - 2]) + std::abs(g[n - 1]) + std::abs(g[n - 2]);
    if (!(tail <= 1e-14 * smallestWeight))
        return 0;
    // Terms below the rounding noise of the interpolation (about 1e-17 in every coefficient) add
    // nothing: leave them out, so a small lambda reads only the first few moments.
    int used = n;
    while (used > 2 && std::abs(f[used - 1]) + std::abs(g[used - 1]) <= 1e-17 * smallestWeight)
        --used;
    return used;
}

LambdaPlan planLambdas(std::span<const double> lambdas, const Range& range, bool useMoments) {
    LambdaPlan plan;
    double f[kTerms], g[kTerms];
    for (std::size_t l = 0; l < lambdas.size(); ++l) {
        const int used = useMoments ? range.coefficients(lambdas[l], f, g) : 0;
        if (used == 0) {
            plan.exact.push_back(l);
            continue;
        }
        plan.terms = std::max(plan.terms, used);
        plan.moments.push_back(l);
        plan.f.insert(plan.f.end(), f, f + kTerms);
        plan.g.insert(plan.g.end(), g, g + kTerms);
    }
    return plan;
}

} // namespace attnsteer::chebyshev
