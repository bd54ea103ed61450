// The core engine against closed forms, an independent long-double reference and its own
// invariants (determinism, per-head consistency, input validation).
#include "reference.h"
#include "test_support.h"

#include "attnsteer/backend.h"
#include "attnsteer/chebyshev.h"
#include "attnsteer/errors.h"
#include "attnsteer/metrics.h"
#include "attnsteer/npy.h"
#include "attnsteer/philox_normal.h"
#include "attnsteer/random.h"
#include "attnsteer/saliency.h"
#include "attnsteer/steering.h"
#include "attnsteer/straightforward.h"
#include "attnsteer/sweep.h"
#include "attnsteer/workload.h"

#include <QTemporaryDir>
#include <QTest>
#include <Random123/philox.h>

#include <cmath>
#include <limits>
#include <numeric>

using namespace attnsteer;
using testsupport::causalAttention;
using testsupport::defaultSaliency;
using testsupport::errorOf;

namespace {

/// |actual - expected| <= tolerance * |expected| (or <= tolerance when expected is 0).
bool closeRelative(double actual, double expected, double tolerance) {
    const double scale = expected == 0 ? 1.0 : std::abs(expected);
    return std::abs(actual - expected) <= tolerance * scale;
}

#define COMPARE_RELATIVE(actual, expected, tolerance)                                              \
    QVERIFY2(closeRelative((actual), (expected), (tolerance)),                                     \
             qPrintable(QStringLiteral("%1 = %2, expected %3 (relative tolerance %4)")             \
                            .arg(#actual)                                                          \
                            .arg((actual), 0, 'g', 17)                                             \
                            .arg((expected), 0, 'g', 17)                                           \
                            .arg((tolerance))))

WorkloadSpec smallSpec(std::uint64_t seed = 0) {
    WorkloadSpec spec;
    spec.heads = 3;
    spec.queries = 24;
    spec.keys = 96;
    spec.seed = seed;
    return spec;
}

} // namespace

class TestCore : public QObject {
    Q_OBJECT

  private slots:
    void philoxMatchesRandom123();
    void portableKernelsAreAccurate();
    void philoxIsCounterBased();
    void philoxIsStandardNormal();
    void workloadElementsAreIndependentOfThreads();
    void uniformAttentionMatchesClosedForm_data();
    void uniformAttentionMatchesClosedForm();
    void matchesFloat64Reference_data();
    void matchesFloat64Reference();
    void lambdaZeroWithoutEpsIsIdentity();
    void lambdaZeroLeavesOnlyEpsEffect();
    void perHeadAveragesToTotal();
    void unsteeredHeadsKeepTheirAttention();
    void monotonicInLambda();
    void maskedRowsWithExactZeros();
    void largeLambdaStaysFinite();
    void deterministicAcrossThreadCounts();
    void tokenRowMatchesReference();
    void normalizationModes();
    void constantSaliencyWarns();
    void lambdaListParsing();
    void lambdaListErrors();
    void sweepAggregatesSeeds();
    void badFilesAreRejectedWithTheirMessage();
    void badParametersAreRejected();
    void cancellationStopsEvaluation();
    void fastPathMatchesStraightforward_data();
    void fastPathMatchesStraightforward();
    void momentsAreReusedAndInvalidated();
    void momentBudgetTakesTheExactPass();
    void steeredHeadsRule();
    void steeringRowMath();
    void lambdaPlanChoosesPaths();
    void momentsRowCheckKeepsEveryRowsDigits();
};

void TestCore::philoxMatchesRandom123() {
    r123::Philox4x32 reference;
    for (std::uint64_t seed : {0ull, 1ull, 0xDEADBEEFCAFEull})
        for (std::uint64_t block : {0ull, 1ull, 12345ull, 0x1234567890ull}) {
            std::uint32_t words[4] = {std::uint32_t(block), std::uint32_t(block >> 32), 1u, 0u};
            const auto expected = reference({{words[0], words[1], words[2], words[3]}},
                                            {{std::uint32_t(seed), std::uint32_t(seed >> 32)}});
            philox::philoxBlock(words, std::uint32_t(seed), std::uint32_t(seed >> 32));
            for (int i = 0; i < 4; ++i)
                QCOMPARE(words[i], expected[i]);
        }
    // The batched (vectorized) path gives the same values as one element at a time.
    std::vector<double> batch(1000);
    philoxNormals(9, RandomStream::Saliency, 2, batch.size(), batch.data());
    for (std::size_t i = 0; i < batch.size(); i += 37)
        QCOMPARE(batch[i], philoxNormal(9, RandomStream::Saliency, 2 + i));
}

void TestCore::portableKernelsAreAccurate() {
    // The fdlibm-style log and sincos must match libm to a few ulp over (0, 1].
    double worstLog = 0, worstTrig = 0;
    for (std::uint32_t i = 0; i < 200000; ++i) {
        const std::uint32_t word = i * 21473u + (i >> 3) * 2654435761u;
        const double v = philox::unitOpen(word);
        worstLog = std::max(worstLog, std::abs(philox::logUnit(v) - std::log(v)) /
                                          std::max(std::abs(std::log(v)), 1e-300));
        double cosine, sine;
        philox::sinCosTurn(v, cosine, sine);
        const double angle = 2 * M_PI * v;
        worstTrig = std::max(
            {worstTrig, std::abs(cosine - std::cos(angle)), std::abs(sine - std::sin(angle))});
    }
    QVERIFY2(worstLog < 4e-16, qPrintable(QString::number(worstLog)));
    // 2 pi v itself carries ~4e-16 of rounding at v ~ 1, which libm's argument sees too.
    QVERIFY2(worstTrig < 2e-15, qPrintable(QString::number(worstTrig)));
    QCOMPARE(philox::logUnit(1.0), 0.0);
}

void TestCore::philoxIsCounterBased() {
    std::vector<double> block(37);
    philoxNormals(42, RandomStream::Logits, 5, block.size(), block.data());
    for (std::size_t i = 0; i < block.size(); ++i)
        QCOMPARE(block[i], philoxNormal(42, RandomStream::Logits, 5 + i));
    // Streams and seeds differ.
    QVERIFY(philoxNormal(42, RandomStream::Logits, 0) !=
            philoxNormal(42, RandomStream::Saliency, 0));
    QVERIFY(philoxNormal(42, RandomStream::Logits, 0) != philoxNormal(43, RandomStream::Logits, 0));
}

void TestCore::philoxIsStandardNormal() {
    const std::size_t n = 200000;
    std::vector<double> values(n);
    philoxNormals(7, RandomStream::Logits, 0, n, values.data());
    const double mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
    double squares = 0, fourth = 0;
    for (double v : values)
        squares += (v - mean) * (v - mean), fourth += std::pow(v - mean, 4);
    const double variance = squares / n;
    // Standard errors: mean 1/sqrt(n) = 0.0022, variance sqrt(2/n) = 0.0032; 5 sigma bounds.
    QVERIFY2(std::abs(mean) < 0.011, qPrintable(QString::number(mean)));
    QVERIFY2(std::abs(variance - 1) < 0.016, qPrintable(QString::number(variance)));
    QVERIFY(std::abs(fourth / n / (variance * variance) - 3) < 0.1); // Gaussian kurtosis
}

void TestCore::workloadElementsAreIndependentOfThreads() {
    WorkloadSpec spec = smallSpec(11);
    spec.logitStd = 0.3;
    const Workload one = Workload::generate(spec), two = Workload::generate(spec);
    for (int h = 0; h < spec.heads; ++h)
        for (int q = 0; q < spec.queries; ++q) {
            QCOMPARE(one.rowValues(h, q), two.rowValues(h, q));
        }
    // Any element on its own: Z[h,q,k] = sigma * normal((h*Q + q)*K + k).
    const int h = 2, q = 17, k = 95;
    const auto index = std::uint64_t((h * spec.queries + q) * spec.keys + k);
    QCOMPARE(one.rowValues(h, q)[k], float(0.3 * philoxNormal(11, RandomStream::Logits, index)));
}

void TestCore::uniformAttentionMatchesClosedForm_data() {
    QTest::addColumn<double>("lambda");
    QTest::addColumn<int>("normalization");
    for (double lambda : {0.01, 0.25, 1.0, 5.0, 40.0})
        for (auto mode : {Normalization::Max, Normalization::ZScore})
            QTest::addRow("lambda=%g %s", lambda, normalizationName(mode).data())
                << lambda << int(mode);
}

void TestCore::uniformAttentionMatchesClosedForm() {
    // sigma = 0 gives A = 1/K exactly. With eps = 0:
    //   KL = log(mean_k e^{lambda s_k}) - lambda mean_k s_k
    //   H(A') = log sum_k e^{lambda s_k} - lambda sum_k s_k e^{lambda s_k} / sum_k e^{lambda s_k}
    QFETCH(double, lambda);
    QFETCH(int, normalization);
    WorkloadSpec spec = smallSpec(3);
    spec.logitStd = 0;
    const Workload workload = Workload::generate(spec);
    const auto s =
        normalizeSaliency(randomSaliencyRaw(spec.keys, 3), Normalization(normalization)).values;
    long double sumW = 0, sumWs = 0, sumS = 0;
    for (double sk : s)
        sumW += std::exp((long double)lambda * sk),
            sumWs += sk * std::exp((long double)lambda * sk), sumS += sk;
    const double keys = spec.keys;
    const double expectedKl = double(std::log(sumW / keys) - lambda * sumS / keys);
    const double expectedSteered = double(std::log(sumW) - lambda * sumWs / sumW);
    SteeringParams params;
    params.lambda = lambda;
    params.eps = 0;
    const Metrics m = makeCpuBackend()->evaluate(workload, s, params);
    COMPARE_RELATIVE(m.total.entropyOriginal, std::log(keys), 1e-13);
    // KL = log S1 - lambda sum A s~ cancels to ~lambda^2: a few 1e-16 in S1 become ~1e-9 of it.
    COMPARE_RELATIVE(m.total.kl, expectedKl, 1e-8);
    // H(A') carries an absolute error of a few 1e-15 nats from double sums: relative to the
    // reduction H(A) - H(A') of about 3e-6 nats at lambda = 0.01 that is ~1e-9, relative to an
    // entropy near 0 (lambda = 40) likewise.
    COMPARE_RELATIVE(m.total.entropySteered, expectedSteered, 1e-8);
    const long double logKeys = std::log((long double)keys);
    const long double steeredExact = std::log(sumW) - lambda * sumWs / sumW;
    COMPARE_RELATIVE(m.total.entropyReductionPct, double((logKeys - steeredExact) / logKeys * 100),
                     1e-7);
    // Small lambda: KL ~ lambda^2 Var(s) / 2.
    if (lambda <= 0.01) {
        const double mean = sumS / keys;
        double variance = 0;
        for (double sk : s)
            variance += (sk - mean) * (sk - mean) / keys;
        COMPARE_RELATIVE(m.total.kl, lambda * lambda * variance / 2, 0.02);
    }
}

void TestCore::matchesFloat64Reference_data() {
    QTest::addColumn<double>("lambda");
    QTest::addColumn<double>("eps");
    QTest::addColumn<double>("sigma");
    for (double lambda : {0.01, 0.05, 0.25, 1.0, 3.0})
        for (double eps : {1e-9, 0.0, 1e-3})
            QTest::addRow("lambda=%g eps=%g", lambda, eps) << lambda << eps << 0.1;
    QTest::addRow("structured sigma=2") << 0.5 << 1e-9 << 2.0;
    QTest::addRow("peaked sigma=8") << 0.5 << 1e-9 << 8.0;
}

void TestCore::matchesFloat64Reference() {
    // The contract is kMetricsTolerance relative to float64; against the long-double reference the
    // backend does far better, and is held to that here so that a loss of digits shows early.
    QFETCH(double, lambda);
    QFETCH(double, eps);
    QFETCH(double, sigma);
    WorkloadSpec spec = smallSpec(5);
    spec.logitStd = sigma;
    const Workload workload = Workload::generate(spec);
    const auto s = defaultSaliency(spec.keys, 5);
    SteeringParams params;
    params.lambda = lambda;
    params.eps = eps;
    const Metrics m = makeCpuBackend()->evaluate(workload, s, params);
    const auto expected = reference::evaluate(workload, s, lambda, eps);
    COMPARE_RELATIVE(m.total.entropyOriginal, expected.entropyOriginal, 1e-12);
    COMPARE_RELATIVE(m.total.entropySteered, expected.entropySteered, 1e-12);
    COMPARE_RELATIVE(m.total.entropyReductionPct, expected.reductionPct, 1e-7);
    COMPARE_RELATIVE(m.total.kl, expected.kl, 1e-7);
}

void TestCore::lambdaZeroWithoutEpsIsIdentity() {
    const Workload workload = Workload::generate(smallSpec(1));
    SteeringParams params;
    params.lambda = 0;
    params.eps = 0;
    const Metrics m = makeCpuBackend()->evaluate(workload, defaultSaliency(96, 1), params);
    QVERIFY(std::abs(m.total.kl) < 1e-15);
    QVERIFY(std::abs(m.total.entropyReductionPct) < 1e-12);
    COMPARE_RELATIVE(m.total.entropySteered, m.total.entropyOriginal, 1e-15);
}

void TestCore::lambdaZeroLeavesOnlyEpsEffect() {
    // eps spreads mass towards uniform: H(A') > H(A) by about eps * sum_k (1 - K A_k) log A_k.
    const Workload workload = Workload::generate(smallSpec(1));
    const auto s = defaultSaliency(96, 1);
    SteeringParams params;
    params.lambda = 0;
    params.eps = 1e-9;
    const Metrics m = makeCpuBackend()->evaluate(workload, s, params);
    const auto expected = reference::evaluate(workload, s, 0, 1e-9);
    QVERIFY2(m.total.entropyReductionPct < 0 && m.total.entropyReductionPct > -1e-5,
             qPrintable(QString::number(m.total.entropyReductionPct)));
    QVERIFY(std::abs(m.total.entropyReductionPct - expected.reductionPct) < 1e-11);
}

void TestCore::perHeadAveragesToTotal() {
    const Workload workload = Workload::generate(smallSpec(2));
    const auto s = defaultSaliency(96, 2);
    SteeringParams params;
    params.lambda = 0.7;
    const Metrics m = makeCpuBackend()->evaluate(workload, s, params);
    QCOMPARE(int(m.heads.size()), 3);
    double hOriginal = 0, hSteered = 0, kl = 0;
    for (int head = 0; head < 3; ++head) {
        const auto expected = reference::evaluate(workload, s, 0.7, 1e-9, {}, head);
        COMPARE_RELATIVE(m.heads[head].kl, expected.kl, 1e-8);
        COMPARE_RELATIVE(m.heads[head].entropyReductionPct, expected.reductionPct, 1e-8);
        hOriginal += m.heads[head].entropyOriginal / 3;
        hSteered += m.heads[head].entropySteered / 3;
        kl += m.heads[head].kl / 3;
    }
    COMPARE_RELATIVE(m.total.entropyOriginal, hOriginal, 1e-14);
    COMPARE_RELATIVE(m.total.entropySteered, hSteered, 1e-14);
    COMPARE_RELATIVE(m.total.kl, kl, 1e-13);
}

void TestCore::unsteeredHeadsKeepTheirAttention() {
    const Workload workload = Workload::generate(smallSpec(2));
    const auto s = defaultSaliency(96, 2);
    SteeringParams params;
    params.lambda = 0.7;
    params.steeredHeads = {1};
    const Metrics m = makeCpuBackend()->evaluate(workload, s, params);
    QCOMPARE(m.heads[0].kl, 0.0);
    QCOMPARE(m.heads[2].entropySteered, m.heads[2].entropyOriginal);
    QVERIFY(m.heads[1].kl > 0);
    const auto expected = reference::evaluate(workload, s, 0.7, 1e-9, {1});
    COMPARE_RELATIVE(m.total.kl, expected.kl, 1e-8);
    COMPARE_RELATIVE(m.total.entropyReductionPct, expected.reductionPct, 1e-8);
    const TokenRow unsteered = makeCpuBackend()->row(workload, s, params, 0, 3);
    QCOMPARE(unsteered.steered, unsteered.original);
}

void TestCore::monotonicInLambda() {
    const Workload workload = Workload::generate(smallSpec(4));
    const auto s = defaultSaliency(96, 4);
    const auto lambdas = parseLambdaList("0:2:0.1");
    const auto results = makeCpuBackend()->evaluate(workload, s, lambdas, SteeringParams{});
    for (std::size_t i = 1; i < results.size(); ++i) {
        QVERIFY(results[i].total.entropyReductionPct > results[i - 1].total.entropyReductionPct);
        QVERIFY(results[i].total.kl > results[i - 1].total.kl);
    }
}

void TestCore::maskedRowsWithExactZeros() {
    const Workload workload = causalAttention(2, 40, 9);
    const auto s = defaultSaliency(40, 9);
    for (double eps : {0.0, 1e-9}) {
        for (double lambda : {0.0, 0.3, 4.0}) {
            SteeringParams params;
            params.lambda = lambda;
            params.eps = eps;
            const Metrics m = makeCpuBackend()->evaluate(workload, s, params);
            const auto expected = reference::evaluate(workload, s, lambda, eps);
            COMPARE_RELATIVE(m.total.entropyOriginal, expected.entropyOriginal, kMetricsTolerance);
            COMPARE_RELATIVE(m.total.entropySteered, expected.entropySteered, kMetricsTolerance);
            // At lambda = 0 KL is eps's effect alone, ~1e-9 or 0: no relative bound holds.
            COMPARE_RELATIVE(m.total.kl, expected.kl, lambda == 0 ? 1.0 : kMetricsTolerance);
            const TokenRow row = makeCpuBackend()->row(workload, s, params, 1, 5);
            // Masked keys stay at exactly 0 without eps.
            if (eps == 0)
                for (int k = 6; k < 40; ++k)
                    QCOMPARE(row.steered[k], 0.0);
        }
    }
}

void TestCore::largeLambdaStaysFinite() {
    const auto s = defaultSaliency(40, 9);
    const int argmax = int(std::max_element(s.begin(), s.end()) - s.begin());
    // Masked rows whose keys all lie far below max s: S1 underflows without the row's own shift.
    for (const Workload& workload : {Workload::generate(smallSpec(6)), causalAttention(2, 40, 9)}) {
        const auto saliency = workload.keys() == 40 ? s : defaultSaliency(workload.keys(), 6);
        for (double eps : {0.0, 1e-9}) {
            SteeringParams params;
            params.lambda = 1000;
            params.eps = eps;
            const Metrics m = makeCpuBackend()->evaluate(workload, saliency, params);
            QVERIFY(std::isfinite(m.total.kl) && std::isfinite(m.total.entropySteered));
            const auto expected = reference::evaluate(workload, saliency, 1000, eps);
            COMPARE_RELATIVE(m.total.kl, expected.kl, 1e-9);
            // A' is one-hot up to e^-1000: its entropy is 0 to within double rounding.
            QVERIFY(std::abs(m.total.entropySteered - expected.entropySteered) < 1e-12);
        }
    }
    QVERIFY(argmax > 0); // row 0 of the causal workload cannot see the saliency maximum
}

void TestCore::deterministicAcrossThreadCounts() {
    WorkloadSpec spec = smallSpec(8);
    spec.queries = 200; // several blocks of rows
    const Workload workload = Workload::generate(spec);
    const auto s = defaultSaliency(spec.keys, 8);
    const auto lambdas = defaultSweepLambdas();
    const auto one = makeCpuBackend(1)->evaluate(workload, s, lambdas, SteeringParams{});
    for (int threads : {2, 3, 7}) {
        const auto many = makeCpuBackend(threads)->evaluate(workload, s, lambdas, SteeringParams{});
        for (std::size_t l = 0; l < lambdas.size(); ++l) {
            QCOMPARE(many[l].total.kl, one[l].total.kl);
            QCOMPARE(many[l].total.entropySteered, one[l].total.entropySteered);
            QCOMPARE(many[l].total.entropyReductionPct, one[l].total.entropyReductionPct);
            for (int h = 0; h < spec.heads; ++h)
                QCOMPARE(many[l].heads[h].kl, one[l].heads[h].kl);
        }
    }
    // One lambda alone gives the same numbers as inside a sweep.
    SteeringParams params;
    params.lambda = lambdas[4];
    QCOMPARE(makeCpuBackend(2)->evaluate(workload, s, params).total.kl, one[4].total.kl);
}

void TestCore::tokenRowMatchesReference() {
    const Workload workload = Workload::generate(smallSpec(3));
    const auto s = defaultSaliency(96, 3);
    SteeringParams params;
    params.lambda = 0.9;
    const TokenRow row = makeCpuBackend()->row(workload, s, params, 2, 7);
    const auto expected = reference::steeredRow(row.original, s, 0.9, 1e-9);
    double sum = 0;
    for (int k = 0; k < 96; ++k) {
        COMPARE_RELATIVE(row.steered[k], expected[k], 1e-13);
        sum += row.original[k];
    }
    COMPARE_RELATIVE(sum, 1.0, 1e-14);
}

void TestCore::normalizationModes() {
    const std::vector<double> raw = {1, 2, 3, 6};
    const auto max = normalizeSaliency(raw, Normalization::Max).values;
    QCOMPARE(max, (std::vector<double>{1.0 / 6, 2.0 / 6, 3.0 / 6, 1.0}));
    const auto minMax = normalizeSaliency(raw, Normalization::MinMax).values;
    QCOMPARE(minMax, (std::vector<double>{0.0, 0.2, 0.4, 1.0}));
    const auto z = normalizeSaliency(raw, Normalization::ZScore).values; // mean 3, var 3.5
    COMPARE_RELATIVE(z[0], -2 / std::sqrt(3.5), 1e-15);
    COMPARE_RELATIVE(z[3], 3 / std::sqrt(3.5), 1e-15);
    QCOMPARE(normalizeSaliency(raw, Normalization::None).values, raw);
    QCOMPARE(*parseNormalization("zscore"), Normalization::ZScore);
    QVERIFY(!parseNormalization("bogus"));
    // Default random saliency: |x| / max|x| lies in [0, 1] and reaches 1.
    const auto s = defaultSaliency(1024, 0);
    QCOMPARE(*std::max_element(s.begin(), s.end()), 1.0);
    QVERIFY(*std::min_element(s.begin(), s.end()) >= 0);
}

void TestCore::constantSaliencyWarns() {
    for (auto mode : {Normalization::Max, Normalization::MinMax, Normalization::ZScore}) {
        const std::vector<double> raw(5, mode == Normalization::Max ? 0.0 : 0.4);
        const auto result = normalizeSaliency(raw, mode);
        QCOMPARE(result.values, std::vector<double>(5, 0.0));
        QVERIFY(!result.warning.empty());
    }
    QCOMPARE(normalizeSaliency(std::vector<double>(5, 0.0), Normalization::Max).warning,
             std::string("saliency is constant (max |x| = 0); using s = 0"));
}

void TestCore::lambdaListParsing() {
    QCOMPARE(parseLambdaList("0:1:0.25"), (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
    QCOMPARE(parseLambdaList("0:0.3:0.1").size(), std::size_t(4)); // 0.3 lies on the grid
    QCOMPARE(parseLambdaList("0:0.35:0.1").size(), std::size_t(4));
    QCOMPARE(parseLambdaList("0.5"), (std::vector<double>{0.5}));
    QCOMPARE(parseLambdaList("0, 0.1,1e-2"), (std::vector<double>{0, 0.1, 0.01}));
    QCOMPARE(parseSeedList("0,1,2"), (std::vector<std::uint64_t>{0, 1, 2}));
    QCOMPARE(parseSeedList("3:5"), (std::vector<std::uint64_t>{3, 4, 5}));
    QCOMPARE(defaultSweepLambdas().size(), std::size_t(9));
}

void TestCore::lambdaListErrors() {
    QCOMPARE(errorOf([] { parseLambdaList("0,abc"); }),
             QStringLiteral("--lambdas: 'abc' is not a valid number"));
    QCOMPARE(errorOf([] { parseLambdaList("0:1:0"); }),
             QStringLiteral("--lambdas: step must be > 0 in START:STOP:STEP"));
    QCOMPARE(errorOf([] { parseLambdaList("1:0:0.1"); }),
             QStringLiteral("--lambdas: STOP must not be less than START in START:STOP:STEP"));
    QCOMPARE(errorOf([] { parseLambdaList("0:1"); }),
             QStringLiteral("--lambdas: expected a comma-separated list or START:STOP:STEP"));
    QCOMPARE(errorOf([] { parseLambdaList("0:1:1e-9"); }),
             QStringLiteral("--lambdas: more than 100000 values"));
    QCOMPARE(errorOf([] { parseSeedList("-1"); }), QStringLiteral("--seeds: must be at least 0"));
    QCOMPARE(errorOf([] { parseLambdaList("inf"); }),
             QStringLiteral("--lambdas: 'inf' is not finite"));
}

void TestCore::sweepAggregatesSeeds() {
    SweepConfig config;
    config.spec = smallSpec();
    config.lambdas = {0, 0.5, 1};
    config.seeds = {4, 5, 6};
    auto backend = makeCpuBackend();
    const auto rows = runSweep(config, *backend);
    QCOMPARE(int(rows.size()), 3);
    for (std::size_t l = 0; l < 3; ++l) {
        std::vector<double> reductions, kls;
        for (std::uint64_t seed : config.seeds) {
            WorkloadSpec spec = config.spec;
            spec.seed = seed;
            const auto expected =
                reference::evaluate(Workload::generate(spec), defaultSaliency(spec.keys, seed),
                                    config.lambdas[l], 1e-9);
            reductions.push_back(expected.reductionPct);
            kls.push_back(expected.kl);
        }
        const double mean = (reductions[0] + reductions[1] + reductions[2]) / 3;
        double variance = 0;
        for (double r : reductions)
            variance += (r - mean) * (r - mean) / 2; // sample variance, n - 1
        QCOMPARE(rows[l].lambda, config.lambdas[l]);
        if (l > 0) {
            COMPARE_RELATIVE(rows[l].reductionMean, mean, 1e-7);
            COMPARE_RELATIVE(rows[l].reductionStd, std::sqrt(variance), 1e-5);
            COMPARE_RELATIVE(rows[l].klMean, (kls[0] + kls[1] + kls[2]) / 3, 1e-7);
        }
    }
    // A fixed saliency and a fixed workload leave no spread over seeds.
    const Workload fixed = Workload::generate(smallSpec());
    config.workload = &fixed;
    config.saliencyRaw = randomSaliencyRaw(96, 0);
    for (const SweepRow& row : runSweep(config, *backend))
        QCOMPARE(row.klStd, 0.0);
}

void TestCore::badFilesAreRejectedWithTheirMessage() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    auto path = [&](const char* name) { return dir.filePath(name).toStdString(); };
    auto write = [&](const char* name, std::vector<std::size_t> shape, std::vector<float> data) {
        writeNpy(path(name), shape, data);
        return path(name);
    };
    const auto sixD = write("6d.npy", {1, 1, 1, 1, 2, 2}, std::vector<float>(4, 0.f));
    QCOMPARE(errorOf([&] { Workload::loadLogits(sixD); }),
             QString::fromStdString(sixD + ": shape (1, 1, 1, 1, 2, 2) does not fit: expected "
                                           "[Q,K], [H,Q,K], [L,H,Q,K] or [L,1,H,Q,K]"));
    const auto notBatch = write("2batch.npy", {3, 2, 1, 2, 2}, std::vector<float>(24, 0.f));
    QCOMPARE(errorOf([&] { Workload::loadLogits(notBatch); }),
             QString::fromStdString(notBatch + ": batch size is 2; only batch 1 is supported: "
                                               "dump one example per file"));
    const auto withNan = write("nan.npy", {2, 3}, {0, 0, 0, 0, NAN, 0});
    QCOMPARE(errorOf([&] { Workload::loadLogits(withNan); }),
             QString::fromStdString(withNan + ": contains NaN at (0, 1, 1)"));
    const auto withInf = write("inf.npy", {2, 3}, {0, 0, INFINITY, 0, 0, 0});
    QCOMPARE(errorOf([&] { Workload::loadAttention(withInf); }),
             QString::fromStdString(withInf + ": contains NaN or Inf at (0, 0, 2)"));
    const auto badSum = write("sum.npy", {2, 2}, {0.5f, 0.5f, 0.5f, 0.6f});
    QCOMPARE(errorOf([&] { Workload::loadAttention(badSum); }),
             QString::fromStdString(badSum + ": row (0, 1) sums to 1.1, expected 1 within 1e-3"));
    const auto negative = write("neg.npy", {1, 2}, {1.5f, -0.5f});
    QCOMPARE(errorOf([&] { Workload::loadAttention(negative); }),
             QString::fromStdString(negative + ": negative probability at (0, 0, 1)"));
    const auto shortSaliency = write("sal.npy", {3}, {1, 2, 3});
    QCOMPARE(errorOf([&] { loadSaliencyNpy(shortSaliency, 4); }),
             QString::fromStdString(shortSaliency + ": saliency length is 3, expected 4 (keys)"));
    const auto matrixSaliency = write("sal2.npy", {2, 2}, {1, 2, 3, 4});
    QCOMPARE(errorOf([&] { loadSaliencyNpy(matrixSaliency, 4); }),
             QString::fromStdString(matrixSaliency +
                                    ": saliency must have shape [K], found 2 dimensions"));
    const auto nanSaliency = write("sal3.npy", {2}, {1, NAN});
    QCOMPARE(errorOf([&] { loadSaliencyNpy(nanSaliency, 2); }),
             QString::fromStdString(nanSaliency + ": contains NaN or Inf at index 1"));
    // Good files of every accepted shape load with the right dimensions.
    const auto batch = write("ok4.npy", {1, 2, 3, 4}, std::vector<float>(24, 0.25f));
    const Workload loaded = Workload::loadAttention(batch);
    QCOMPARE(loaded.heads(), 2);
    QCOMPARE(loaded.queries(), 3);
    QCOMPARE(loaded.keys(), 4);
    const auto logits = write("ok2.npy", {3, 4}, std::vector<float>(12, 1.0f));
    const Workload flat = Workload::loadLogits(logits);
    QCOMPARE(flat.heads(), 1);
    SteeringParams params;
    params.eps = 0;
    COMPARE_RELATIVE(
        makeCpuBackend()->evaluate(flat, std::vector<double>(4, 0.5), params).total.entropyOriginal,
        std::log(4.0), 1e-15);
}

void TestCore::badParametersAreRejected() {
    const Workload workload = Workload::generate(smallSpec());
    auto backend = makeCpuBackend();
    SteeringParams params;
    params.steeredHeads = {0, 3};
    QCOMPARE(errorOf([&] { backend->evaluate(workload, defaultSaliency(96, 0), params); }),
             QStringLiteral("--steer-heads: head 3 is out of range 0..2"));
    // The straightforward baseline checks the heads as the backends do.
    QCOMPARE(
        errorOf([&] { evaluateStraightforward<double>(workload, defaultSaliency(96, 0), params); }),
        QStringLiteral("--steer-heads: head 3 is out of range 0..2"));
    params.steeredHeads = {-1};
    QCOMPARE(
        errorOf([&] { evaluateStraightforward<float>(workload, defaultSaliency(96, 0), params); }),
        QStringLiteral("--steer-heads: head -1 is out of range 0..2"));
    QCOMPARE(
        errorOf([&] { backend->evaluate(workload, defaultSaliency(95, 0), SteeringParams{}); }),
        QStringLiteral("--saliency: length is 95, expected 96 (keys)"));
    QCOMPARE(
        errorOf([&] { backend->row(workload, defaultSaliency(96, 0), SteeringParams{}, 3, 0); }),
        QStringLiteral("--head: 3 is out of range 0..2"));
    try {
        SteeringParams bad;
        bad.eps = NAN;
        backend->evaluate(workload, defaultSaliency(96, 0), bad);
        QFAIL("no InputError");
    } catch (const InputError& error) {
        QCOMPARE(error.subject(), InputSubject::setting("eps"));
        QCOMPARE(error.problem(), std::string("must be a finite number >= 0"));
    }
    params = {};
    params.eps = -1;
    QCOMPARE(errorOf([&] { backend->evaluate(workload, defaultSaliency(96, 0), params); }),
             QStringLiteral("--eps: must be a finite number >= 0"));
    WorkloadSpec spec;
    spec.heads = 0;
    QCOMPARE(errorOf([&] { Workload::generate(spec); }),
             QStringLiteral("workload: heads, queries and keys must be at least 1"));
}

void TestCore::cancellationStopsEvaluation() {
    const Workload workload = Workload::generate(smallSpec());
    std::atomic<bool> cancel{true};
    RunControl control;
    control.cancel = &cancel;
    QVERIFY_THROWS_EXCEPTION(Cancelled, makeCpuBackend()->evaluate(workload, defaultSaliency(96, 0),
                                                                   SteeringParams{}, control));
    cancel = false;
    double lastProgress = 0;
    control.onProgress = [&](double fraction) { lastProgress = fraction; };
    makeCpuBackend(1)->evaluate(workload, defaultSaliency(96, 0), SteeringParams{}, control);
    QCOMPARE(lastProgress, 1.0);
}

void TestCore::fastPathMatchesStraightforward_data() {
    QTest::addColumn<QString>("input");
    QTest::addColumn<int>("blockRows");
    QTest::addColumn<int>("threads");
    QTest::addColumn<bool>("moments");
    for (const char* input : {"random", "loaded logits", "masked attention"})
        for (int blockRows : {1, 7, 32, 100})
            for (int threads : {1, 3})
                for (bool moments : {true, false})
                    QTest::addRow("%s block=%d threads=%d %s", input, blockRows, threads,
                                  moments ? "moments" : "exact")
                        << QString(input) << blockRows << threads << moments;
}

void TestCore::fastPathMatchesStraightforward() {
    // Both paths (moments, exact) against the write-up's whole-tensor passes in double: the
    // contract on every metric, whatever the blocks and threads.
    QFETCH(QString, input);
    QFETCH(int, blockRows);
    QFETCH(int, threads);
    QFETCH(bool, moments);
    WorkloadSpec spec = smallSpec(12);
    spec.queries = 40;
    Workload workload = Workload::generate(spec);
    if (input == "loaded logits") {
        std::vector<float> values(workload.rowCount() * std::size_t(spec.keys));
        workload.fillRows(0, workload.rowCount(), values.data());
        for (float& v : values)
            v *= 20; // structured: peaked rows
        workload = Workload::fromValues(spec.heads, spec.queries, spec.keys, std::move(values),
                                        WorkloadSource::FileLogits, "logits");
    } else if (input == "masked attention") {
        workload = causalAttention(2, 96, 12);
    }
    const auto s = defaultSaliency(workload.keys(), 12);
    CpuBackendOptions options;
    options.blockRows = blockRows;
    options.threads = threads;
    options.useMoments = moments;
    auto backend = makeCpuBackend(options);
    // 12 and 25: beyond the worst-row plan's reach, where the CPU checks each row.
    const std::vector<double> lambdas = {0.01, 0.25, 1.0, 3.0, 12.0, 25.0};
    for (double eps : {1e-9, 0.0}) {
        SteeringParams params;
        params.eps = eps;
        params.steeredHeads = {0, 1};
        const auto fast = backend->evaluate(workload, s, lambdas, params);
        for (std::size_t l = 0; l < lambdas.size(); ++l) {
            params.lambda = lambdas[l];
            const MetricSummary plain = evaluateStraightforward<double>(workload, s, params);
            COMPARE_RELATIVE(fast[l].total.entropyOriginal, plain.entropyOriginal,
                             kMetricsTolerance);
            COMPARE_RELATIVE(fast[l].total.entropySteered, plain.entropySteered, kMetricsTolerance);
            COMPARE_RELATIVE(fast[l].total.entropyReductionPct, plain.entropyReductionPct,
                             kMetricsTolerance);
            COMPARE_RELATIVE(fast[l].total.kl, plain.kl, kMetricsTolerance);
        }
    }
}

void TestCore::momentsAreReusedAndInvalidated() {
    // The cached moments must follow the workload, the saliency and eps.
    auto backend = makeCpuBackend();
    const Workload first = Workload::generate(smallSpec(1)),
                   second = Workload::generate(smallSpec(2));
    const auto s1 = defaultSaliency(96, 1), s2 = defaultSaliency(96, 2);
    SteeringParams params;
    params.lambda = 0.6;
    for (const Workload* workload : {&first, &second, &first})
        for (const auto* saliency : {&s1, &s2})
            for (double eps : {1e-9, 1e-3}) {
                params.eps = eps;
                const auto got = backend->evaluate(*workload, *saliency, params);
                const auto expected = reference::evaluate(*workload, *saliency, 0.6, eps);
                COMPARE_RELATIVE(got.total.kl, expected.kl, 1e-9);
            }
}

void TestCore::momentBudgetTakesTheExactPass() {
    // 72 rows need 72 x momentBytes(1) bytes of tables: a budget one byte short of that makes
    // every lambda take the exact pass, the same numbers bit for bit as with the moments off.
    const Workload workload = Workload::generate(smallSpec(4));
    QCOMPARE(momentBytes(72), 72 * momentBytes(1));
    QVERIFY(momentBytes(1) >= 2 * chebyshev::kTerms * sizeof(double));
    const auto s = defaultSaliency(96, 4);
    const std::vector<double> lambdas = {0.1, 0.5, 2};
    SteeringParams params;
    auto exact = makeCpuBackend({.useMoments = false});
    auto overBudget = makeCpuBackend({.maxMomentBytes = momentBytes(72) - 1});
    auto withinBudget = makeCpuBackend({.maxMomentBytes = momentBytes(72)});
    const auto expected = exact->evaluate(workload, s, lambdas, params);
    const auto got = overBudget->evaluate(workload, s, lambdas, params);
    const auto moments = withinBudget->evaluate(workload, s, lambdas, params);
    for (std::size_t l = 0; l < lambdas.size(); ++l) {
        QCOMPARE(got[l].total.kl, expected[l].total.kl);
        QCOMPARE(got[l].total.entropySteered, expected[l].total.entropySteered);
        // The moments path agrees within the contract, but not bit for bit: it did run.
        COMPARE_RELATIVE(moments[l].total.kl, expected[l].total.kl, kMetricsTolerance);
        QVERIFY(moments[l].total.kl != expected[l].total.kl ||
                moments[l].total.entropySteered != expected[l].total.entropySteered);
    }
    // A one-off single lambda takes the exact pass (the moments would not pay off); otherwise
    // the first evaluation builds the moments for the lambdas that follow.
    params.lambda = 0.5;
    RunControl oneOff;
    oneOff.oneOff = true;
    const Metrics once = makeCpuBackend()->evaluate(workload, s, params, oneOff);
    const Metrics first = makeCpuBackend()->evaluate(workload, s, params);
    QCOMPARE(once.total.kl, expected[1].total.kl);
    QCOMPARE(once.total.entropySteered, expected[1].total.entropySteered);
    QCOMPARE(first.total.kl, moments[1].total.kl);

    // What is held between calls: the moments of the last inputs, unless the call says they
    // will not be needed again (a sweep's seeds, each a new workload), then nothing.
    auto held = makeCpuBackend();
    QCOMPARE(held->cachedBytes(), std::size_t(0));
    held->evaluate(workload, s, params);
    QCOMPARE(held->cachedBytes(), momentBytes(72));
    RunControl dropped;
    dropped.keepCaches = false;
    const Metrics again = held->evaluate(workload, s, params, dropped);
    QCOMPARE(again.total.kl, first.total.kl); // the same moments, used once more, then let go
    QCOMPARE(held->cachedBytes(), std::size_t(0));
    held->evaluate(workload, s, params);
    SweepConfig config;
    config.spec = smallSpec(4);
    config.lambdas = {0.1, 0.5, 2};
    config.seeds = {4, 5};
    QCOMPARE(int(runSweep(config, *held).size()), 3);
    QCOMPARE(held->cachedBytes(), std::size_t(0));
}

void TestCore::steeredHeadsRule() {
    // One rule everywhere: no list steers every head; a list steers exactly its heads.
    const Workload workload = Workload::generate(smallSpec());
    const auto s = defaultSaliency(96, 0);
    SteeringParams params;
    for (int head = 0; head < 3; ++head)
        QVERIFY(isUnitSteered(workload, params, head));
    QCOMPARE(checkSteeringInputs(workload, s, {}, params), (std::vector<unsigned char>{1, 1, 1}));
    params.steeredHeads = {2, 0, 2};
    QVERIFY(isUnitSteered(workload, params, 0) && !isUnitSteered(workload, params, 1) &&
            isUnitSteered(workload, params, 2));
    QCOMPARE(checkSteeringInputs(workload, s, {}, params), (std::vector<unsigned char>{1, 0, 1}));
    // A head of one layer: steered there only, beside a head steered in every layer. Units are
    // layer-major, so 3 layers x 2 heads: unit = layer * 2 + head.
    const Workload layered = Workload::fromValues(2, 1, 4, std::vector<float>(3 * 2 * 4, 0.0f),
                                                  WorkloadSource::FileLogits, "memory", 3);
    const std::vector<double> flat(4, 0.5);
    params.steeredHeads = {0};
    params.steeredLayerHeads = {{2, 1}};
    QCOMPARE(checkSteeringInputs(layered, flat, {}, params),
             (std::vector<unsigned char>{1, 0, 1, 0, 1, 1}));
    // Selected layers keep their source's numbers: layer 2 alone is unit 0..1.
    const std::vector<int> lastLayer{2};
    QCOMPARE(checkSteeringInputs(layered.selectLayers(lastLayer), flat, {}, params),
             (std::vector<unsigned char>{1, 1}));
    params.steeredLayerHeads = {{3, 0}};
    QCOMPARE(errorOf([&] { checkSteeringInputs(layered, flat, {}, params); }),
             QString("--steer-heads: layer 3 is out of range 0..2"));
    params.steeredLayerHeads = {{1, 2}};
    QCOMPARE(errorOf([&] { checkSteeringInputs(layered, flat, {}, params); }),
             QString("--steer-heads: head 2 is out of range 0..1"));
    params.steeredLayerHeads.clear();
    params.gateEntropy = 1.5;
    QCOMPARE(errorOf([&] { checkSteeringInputs(layered, flat, {}, params); }),
             QString("--gate-entropy: must be a number in 0..1"));
    params.gateEntropy = 0;
    params.steeredQueries = {1, 0};
    QCOMPARE(errorOf([&] { checkSteeringInputs(layered, flat, {}, params); }),
             QString("--gate: has 2 values, expected 1 (queries)"));
}

void TestCore::steeringRowMath() {
    // The per-row functions of steering.h that every backend and view calls.
    // x = log(A + eps) by the series and by the logarithm, on both sides of the switch.
    for (double a : {1e-3, 0.2, 1.0})
        for (double eps : {1e-9, 1e-7, 1e-5, 1e-3}) {
            const double x = steering::shiftedLog(a, std::log(a), eps);
            // A few ulp of |log A| <= 7, or the rounding of A + eps before its logarithm.
            const long double exact = std::log((long double)a) + std::log1p((long double)eps / a);
            QVERIFY2(std::abs(x - double(exact)) < 2e-15, qPrintable(QString::number(x, 'g', 17)));
        }
    QCOMPARE(steering::shiftedLog(0.0, -INFINITY, 1e-9), std::log(1e-9));
    QCOMPARE(steering::shiftedLog(0.0, -INFINITY, 0.0), -INFINITY);
    // A row of causal attention with exact zeros: steeredRow against the reference, and the
    // metrics from the three sums against those straight from A.
    const Workload workload = causalAttention(1, 40, 9);
    const auto s = defaultSaliency(40, 9);
    std::vector<double> a(40), steered(40), scratch(40), logA(40);
    workload.attentionRow(0, 30, a);
    for (std::size_t k = 0; k < a.size(); ++k)
        logA[k] = std::log(a[k]);
    const double sMax = *std::max_element(s.begin(), s.end());
    for (double eps : {0.0, 1e-9})
        for (double lambda : {0.3, 4.0}) {
            steering::steeredRow(a.data(), s.data(), a.size(), lambda, eps, steered.data());
            const auto expected = reference::steeredRow(a, s, lambda, eps);
            for (std::size_t k = 0; k < a.size(); ++k)
                COMPARE_RELATIVE(steered[k], expected[k], 1e-13);
            steering::RowSums sums;
            double s1 = 0, s2 = 0, s3 = 0;
            for (std::size_t k = 0; k < a.size(); ++k) {
                const double x = steering::shiftedLog(a[k], logA[k], eps), e = a[k] + eps;
                const double shifted = s[k] - sMax, w = std::exp(lambda * shifted);
                if (a[k] > 0)
                    sums.entropy -= a[k] * logA[k], sums.sumAx += a[k] * x;
                sums.sumAShifted += a[k] * shifted;
                sums.sumA += a[k];
                if (e > 0)
                    s1 += e * w, s2 += e * x * w, s3 += e * w * shifted;
            }
            steering::SteeredMetrics fromSums;
            QVERIFY(steering::metricsFromSums(sums, lambda, s1, s2, s3, fromSums));
            const steering::SteeredMetrics fromA = steering::steeredRowMetrics(
                a.data(), logA.data(), s.data(), sMax, a.size(), lambda, eps, scratch.data());
            COMPARE_RELATIVE(fromSums.entropy, fromA.entropy, 1e-12);
            COMPARE_RELATIVE(fromSums.kl, fromA.kl, 1e-10);
            QVERIFY(fromA.kl > 0);
            // sum A' s from the sums and straight from A, against the reference's A'.
            double expectation = 0;
            for (std::size_t k = 0; k < a.size(); ++k)
                expectation += expected[k] * s[k];
            COMPARE_RELATIVE(fromSums.expectationShifted + sMax, expectation, 1e-12);
            COMPARE_RELATIVE(fromA.expectationShifted + sMax, expectation, 1e-12);
            // An S1 beyond double's range is refused, the outputs untouched.
            steering::SteeredMetrics untouched{7, 7, 7};
            QVERIFY(!steering::metricsFromSums(sums, lambda, 1e-300, s2, s3, untouched));
            QVERIFY(!steering::metricsFromSums(sums, lambda, INFINITY, s2, s3, untouched));
            QCOMPARE(untouched.entropy, 7.0);
            QCOMPARE(untouched.kl, 7.0);
            QCOMPARE(untouched.expectationShifted, 7.0);
        }
}

void TestCore::lambdaPlanChoosesPaths() {
    // The moments path where the series reaches double precision, the exact pass elsewhere.
    const chebyshev::Range range(-1.0); // s~ in [-1, 0]
    const std::vector<double> lambdas = {0.25, 1000, 0, -3, 60};
    const auto plan = chebyshev::planLambdas(lambdas, range, true);
    QCOMPARE(plan.moments, (std::vector<std::size_t>{0, 2, 3}));
    QCOMPARE(plan.exact, (std::vector<std::size_t>{1, 4}));
    QCOMPARE(plan.f.size(), 3 * std::size_t(chebyshev::kTerms));
    QCOMPARE(plan.g.size(), plan.f.size());
    QVERIFY(plan.terms > 2 && plan.terms <= chebyshev::kTerms);
    // f of lambda 0.25 (the first column) sums to e^{lambda u} at u = 0 (t = 1, T_j(1) = 1).
    double atZero = 0;
    for (int j = 0; j < chebyshev::kTerms; ++j)
        atZero += plan.f[std::size_t(j)];
    COMPARE_RELATIVE(atZero, 1.0, 1e-14);
    const auto off = chebyshev::planLambdas(lambdas, range, false);
    QVERIFY(off.moments.empty() && off.f.empty() && off.terms == 0);
    QCOMPARE(off.exact, (std::vector<std::size_t>{0, 1, 2, 3, 4}));

    // The each-row plan: the moments wherever the series converges (the coefficients of
    // e^{lambda h t}, 2 e^{-lambda h} I_j(lambda h), are below 1e-14 from j = 46 for lambda h up to
    // about 30), with a bound per unit of mass that grows with the largest weight
    // e^{max(0, -lambda) |u0|}.
    const std::vector<double> wide = {0.25, 20, 40, -8, 100, 1000};
    const auto checked = chebyshev::planLambdas(wide, range, true, {1024});
    QCOMPARE(checked.moments, (std::vector<std::size_t>{0, 1, 2, 3}));
    QCOMPARE(checked.exact, (std::vector<std::size_t>{4, 5}));
    QCOMPARE(checked.errorPerMass.size(), checked.moments.size());
    // The rounding of 1024-term sums, 8 sqrt(1024) u = 1.4e-14 times the largest weight (1 for
    // lambda >= 0, e^8 for -8), dominates what the converged series leaves out.
    const double rounding = 8 * 32 * std::numeric_limits<double>::epsilon() / 2;
    for (std::size_t c = 0; c < 3; ++c)
        QVERIFY2(checked.errorPerMass[c] >= rounding && checked.errorPerMass[c] < 2 * rounding,
                 qPrintable(QString::number(checked.errorPerMass[c])));
    QVERIFY(checked.errorPerMass[3] >= rounding * std::exp(8.0) &&
            checked.errorPerMass[3] < 2 * rounding * std::exp(8.0));
    // f of lambda 20 sums to e^0 = 1 at u = 0 as well: the series converged.
    double atZeroWide = 0;
    for (int j = 0; j < chebyshev::kTerms; ++j)
        atZeroWide += checked.f[std::size_t(chebyshev::kTerms + j)];
    COMPARE_RELATIVE(atZeroWide, 1.0, 1e-13);
    QVERIFY(chebyshev::planLambdas(wide, range, false, {1024}).moments.empty());
    // The row check: the bound times the row's mass within kRowTolerance of S1; an S1 of pure
    // rounding (0, negative, NaN) fails.
    QVERIFY(chebyshev::rowWithinTolerance(1e-14, 1.0, 1e-4));
    QVERIFY(!chebyshev::rowWithinTolerance(1e-14, 1.0, 1e-5));
    QVERIFY(!chebyshev::rowWithinTolerance(1e-14, 1.0, 0.0));
    QVERIFY(!chebyshev::rowWithinTolerance(1e-14, 1.0, -1e-3));
    QVERIFY(!chebyshev::rowWithinTolerance(1e-14, 1.0, std::nan("")));
}

void TestCore::momentsRowCheckKeepsEveryRowsDigits() {
    // At lambda 30 a row whose attention sits on the keys just above the saliency's minimum has
    // S1 ~ e^-29 of its mass, below the series' rounding (1e-14 of the mass), so the moments
    // alone would get its KL wrong by far: the row check computes it from its values. The keys at
    // the minimum itself are summed apart with their exact weight. Every metric as the
    // long-double reference's and the exact pass's, to 1e-9, beside rows the series serves.
    constexpr int keys = 64, queries = 5;
    std::vector<double> s(keys);
    for (int k = 0; k < keys; ++k)
        s[std::size_t(k)] = k < keys / 2 ? 0.0 : double(k - keys / 2 + 1) / (keys / 2);
    std::vector<float> attention(std::size_t(queries) * keys, 0.0f);
    const auto row = [&](int q) { return attention.data() + std::size_t(q) * keys; };
    for (int k = 0; k < keys / 2; ++k)
        row(0)[k] = 1.0f / (keys / 2); // all on s = 0: A' = A at every lambda, KL = 0
    for (int k = 0; k < keys / 2; ++k)
        row(1)[k] = 0.999f / (keys / 2); // a thousandth on the top key
    row(1)[keys - 1] = 0.001f;
    for (int k = 0; k < keys; ++k)
        row(2)[k] = 1.0f / keys; // uniform: the series serves it
    for (int k = 0; k < keys; ++k)
        row(3)[k] = k % 3 == 0 ? 3.0f / (keys + 2) : 0.0f; // exact zeros, every third key
    for (int k = keys / 2; k < keys / 2 + 4; ++k)
        row(4)[k] = 0.25f; // on the four keys just above the minimum: the row check's
    const Workload workload = Workload::fromValues(1, queries, keys, std::move(attention),
                                                   WorkloadSource::FileAttention, "memory");
    const std::vector<double> lambdas = {2, 30, 36, -20};
    SteeringParams params;
    const auto withMoments = makeCpuBackend()->evaluate(workload, s, lambdas, params);
    const auto exact =
        makeCpuBackend({.useMoments = false})->evaluate(workload, s, lambdas, params);
    for (std::size_t l = 0; l < lambdas.size(); ++l) {
        const auto expected = reference::evaluate(workload, s, lambdas[l], params.eps);
        const MetricSummary& got = withMoments[l].total;
        const auto close = [](double actual, double wanted) {
            return std::abs(actual - wanted) <= 1e-9 * std::abs(wanted) + 1e-13;
        };
        QVERIFY2(close(got.kl, expected.kl) && close(got.kl, exact[l].total.kl),
                 qPrintable(QStringLiteral("lambda %1: KL %2, reference %3, exact pass %4")
                                .arg(lambdas[l])
                                .arg(got.kl, 0, 'g', 17)
                                .arg(expected.kl, 0, 'g', 17)
                                .arg(exact[l].total.kl, 0, 'g', 17)));
        QVERIFY(close(got.entropySteered, expected.entropySteered));
        QVERIFY(close(got.saliencyExpectationSteered, expected.expectationSteered));
    }
}

QTEST_GUILESS_MAIN(TestCore)
#include "tst_core.moc"
