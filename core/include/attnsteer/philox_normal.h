#pragma once
// Standard normal numbers from Philox4x32-10 words, written so that the CPU (vectorized by the
// compiler) and the CUDA backend compute the same bits: every multiply-add is an explicit fma,
// and log, sin and cos are the fdlibm kernels spelled out here rather than each platform's libm.
// Included by core/src/random.cpp and by gpu/ device code; no CUDA types. Both sides must keep the
// compiler from contracting multiply-adds on its own: core builds with -ffp-contract=off, device
// code that includes this with nvcc -fmad=false.

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define ATTNSTEER_HOST_DEVICE __host__ __device__
#else
#define ATTNSTEER_HOST_DEVICE
#endif

namespace attnsteer::philox {

constexpr std::uint32_t kMultiplier0 = 0xD2511F53u, kMultiplier1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;

/// Philox4x32 with 10 rounds (Random123's philox4x32_R(10, ...)), one counter.
ATTNSTEER_HOST_DEVICE inline void philoxBlock(std::uint32_t c[4], std::uint32_t key0,
                                              std::uint32_t key1) {
    for (int round = 0; round < 10; ++round) {
        const std::uint64_t product0 = std::uint64_t(kMultiplier0) * c[0];
        const std::uint64_t product1 = std::uint64_t(kMultiplier1) * c[2];
        const std::uint32_t next0 = std::uint32_t(product1 >> 32) ^ c[1] ^ key0;
        const std::uint32_t next2 = std::uint32_t(product0 >> 32) ^ c[3] ^ key1;
        c[1] = std::uint32_t(product1);
        c[3] = std::uint32_t(product0);
        c[0] = next0;
        c[2] = next2;
        key0 += kWeyl0;
        key1 += kWeyl1;
    }
}

/// (u + 1/2) 2^-32, in (0, 1), exact in double.
ATTNSTEER_HOST_DEVICE inline double unitOpen(std::uint32_t u) {
    return (double(u) + 0.5) * 0x1p-32;
}

/// Natural log of x in (0, 1] (fdlibm's __ieee754_log, < 1 ulp), branch-free for vectorization.
ATTNSTEER_HOST_DEVICE inline double logUnit(double x) {
    std::uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    int exponent = int(bits >> 52) - 1023;
    std::uint64_t mantissaBits = (bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
    double m;
    std::memcpy(&m, &mantissaBits, sizeof m);
    const bool high = m > 1.4142135623730951; // reduce m to [sqrt(2)/2, sqrt(2)]
    m = high ? m * 0.5 : m;
    exponent += high ? 1 : 0;
    const double f = m - 1.0;
    const double k = double(exponent);
    const double hfsq = 0.5 * f * f;
    const double s = f / (2.0 + f);
    const double z = s * s, w = z * z;
    const double t1 =
        w * std::fma(w, std::fma(w, 1.531383769920937332e-01, 2.222219843214978396e-01),
                     3.999999999940941908e-01);
    const double t2 =
        z * std::fma(w,
                     std::fma(w, std::fma(w, 1.479819860511658591e-01, 1.818357216161805012e-01),
                              2.857142874366239149e-01),
                     6.666666666666735130e-01);
    const double r = t2 + t1;
    const double lowPart = std::fma(s, hfsq + r, k * 1.90821492927058770002e-10);
    return k * 6.93147180369123816490e-01 - ((hfsq - lowPart) - f);
}

/// cos(2 pi v) and sin(2 pi v) for v in [0, 1]: v = j/4 + r with |r| <= 1/8 (exact), x = 2 pi r
/// in [-pi/4, pi/4], fdlibm's kernels for sin x and cos x, then the quarter turn j.
ATTNSTEER_HOST_DEVICE inline void sinCosTurn(double v, double& cosine, double& sine) {
    const double quarter = std::nearbyint(v * 4.0);
    const double x = (v - quarter * 0.25) * 6.283185307179586;
    const double z = x * x;
    const double sinPoly = std::fma(
        z,
        std::fma(z,
                 std::fma(z, std::fma(z, 1.58969099521155010221e-10, -2.50507602534068634195e-08),
                          2.75573137070700676789e-06),
                 -1.98412698298579493134e-04),
        8.33333333332248946124e-03);
    const double sinX = std::fma(x * z, std::fma(z, sinPoly, -1.66666666666666324348e-01), x);
    const double cosPoly = std::fma(
        z,
        std::fma(
            z,
            std::fma(z,
                     std::fma(z,
                              std::fma(z, -1.13596475577881948265e-11, 2.08757232129817482790e-09),
                              -2.75573143513906633035e-07),
                     2.48015872894767294178e-05),
            -1.38888888888741095749e-03),
        4.16666666666666019037e-02);
    const double cosX = 1.0 - std::fma(0.5, z, -(z * z * cosPoly));
    const int turn = int(quarter) & 3;
    cosine = turn == 0 ? cosX : turn == 1 ? -sinX : turn == 2 ? -cosX : sinX;
    sine = turn == 0 ? sinX : turn == 1 ? cosX : turn == 2 ? -sinX : -cosX;
}

/// The four normals of one Philox block: Box-Muller on (v0, v1) and (v2, v3),
/// n0 = r cos(2 pi v1), n1 = r sin(2 pi v1), r = sqrt(-2 ln v0).
ATTNSTEER_HOST_DEVICE inline void normalsOfWords(const std::uint32_t words[4], double out[4]) {
    for (int pair = 0; pair < 2; ++pair) {
        const double radius = std::sqrt(-2.0 * logUnit(unitOpen(words[2 * pair])));
        double cosine, sine;
        sinCosTurn(unitOpen(words[2 * pair + 1]), cosine, sine);
        out[2 * pair] = radius * cosine;
        out[2 * pair + 1] = radius * sine;
    }
}

} // namespace attnsteer::philox
