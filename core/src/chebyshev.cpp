#include "attnsteer/chebyshev.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
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

/// The interpolation of f and g at LAMBDA over RANGE: kTerms coefficients each.
void interpolate(const Range& range, double lambda, double* f, double* g) {
    constexpr int n = kTerms;
    static const Nodes nodes;
    std::fill_n(f, n, 0.0), std::fill_n(g, n, 0.0);
    for (int node = 0; node < n; ++node) {
        const double u = range.center + range.halfWidth * nodes.cosTheta[node];
        const double fu = std::exp(lambda * u), gu = u * fu;
        for (int j = 0; j < n; ++j)
            f[j] += fu * nodes.weight[node][j], g[j] += gu * nodes.weight[node][j];
    }
}

/// The size of the last two coefficients of f and g: what the series leaves out, bounded.
double tailOf(const double* f, const double* g) {
    constexpr int n = kTerms;
    return std::abs(f[n - 1]) + std::abs(f[n - 2]) + std::abs(g[n - 1]) + std::abs(g[n - 2]);
}

/// Terms that matter: the trailing ones at or below NEGLIGIBLE add nothing (a small lambda reads
/// only the first few moments).
int termsAbove(const double* f, const double* g, double negligible) {
    int used = kTerms;
    while (used > 2 && std::abs(f[used - 1]) + std::abs(g[used - 1]) <= negligible)
        --used;
    return used;
}

} // namespace

int Range::coefficients(double lambda, double* f, double* g) const {
    interpolate(*this, lambda, f, g);
    const double smallestWeight = std::exp(lambda * (center - halfWidth));
    if (!(tailOf(f, g) <= 1e-14 * smallestWeight))
        return 0;
    // Terms below the rounding noise of the interpolation (about 1e-17 in every coefficient) add
    // nothing.
    return termsAbove(f, g, 1e-17 * smallestWeight);
}

namespace {

/// Appends lambda L's coefficients F, G (USED terms matter) to PLAN's moments.
void addMoments(LambdaPlan& plan, std::size_t l, const double* f, const double* g, int used) {
    plan.terms = std::max(plan.terms, used);
    plan.moments.push_back(l);
    plan.f.insert(plan.f.end(), f, f + kTerms);
    plan.g.insert(plan.g.end(), g, g + kTerms);
}

} // namespace

LambdaPlan planLambdas(std::span<const double> lambdas, const Range& range, bool useMoments) {
    LambdaPlan plan;
    double f[kTerms], g[kTerms];
    for (std::size_t l = 0; l < lambdas.size(); ++l) {
        const int used = useMoments ? range.coefficients(lambdas[l], f, g) : 0;
        if (used == 0)
            plan.exact.push_back(l);
        else
            addMoments(plan, l, f, g, used);
    }
    return plan;
}

LambdaPlan planLambdas(std::span<const double> lambdas, const Range& range, bool useMoments,
                       EachRowChecked check) {
    LambdaPlan plan;
    double f[kTerms], g[kTerms];
    for (std::size_t l = 0; l < lambdas.size(); ++l) {
        const double lambda = lambdas[l];
        // F: the largest weight e^{lambda u} on [u0, 0] (u0 for a negative lambda).
        const double largest = std::max(1.0, std::exp(lambda * (range.center - range.halfWidth)));
        if (useMoments && std::isfinite(largest)) {
            interpolate(range, lambda, f, g);
            const double tail = tailOf(f, g);
            if (tail <= 1e-14 * largest) { // converged: the rest is the interpolation's rounding
                const double negligible = 1e-17 * largest;
                addMoments(plan, l, f, g, termsAbove(f, g, negligible));
                // What the series leaves out (at most the tail and the terms left out), and the
                // rounding of sum_j f_j M_j: each M_j sums KEYS terms of at most E_k (|T_j| <= 1),
                // whose rounding errors grow like sqrt(KEYS) u (u = 2^-53; 8 sqrt(KEYS) u holds
                // with overwhelming probability: Higham and Mary, SIAM J. Sci. Comput. 41 (2019);
                // the worst case, KEYS u, is 30 times that at 1024 keys and never seen), and
                // sum_j |f_j| = F (f_j >= 0; alternating for lambda < 0).
                const double keys = double(std::max<std::size_t>(check.keys, 1));
                const double rounding =
                    8 * std::sqrt(keys) * std::numeric_limits<double>::epsilon() / 2 * largest;
                plan.errorPerMass.push_back(tail + kTerms * negligible + rounding);
                continue;
            }
        }
        plan.exact.push_back(l);
    }
    return plan;
}

} // namespace attnsteer::chebyshev
