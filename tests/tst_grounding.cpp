// The grounding metrics, head profiles and what goes with them (attnsteer/grounding.h,
// attnsteer/profile.h): every metric against a long-double reference written here, which shares
// no code with the grounding pass; the uncertainty gate at its ends; the binary bias and PASTA's
// scaling; the ranking on a constructed case whose answer is known; the closed forms of the
// spatial entropy and the correlation; the one-line errors.
#include "test_support.h"

#include "attnsteer/backend.h"
#include "attnsteer/errors.h"
#include "attnsteer/grounding.h"
#include "attnsteer/option_values.h"
#include "attnsteer/profile.h"
#include "attnsteer/random.h"
#include "attnsteer/saliency.h"
#include "attnsteer/sweep.h"
#include "attnsteer/workload.h"

#include <QTest>

#include <cmath>
#include <limits>
#include <vector>

using namespace attnsteer;
using testsupport::defaultSaliency;
using testsupport::errorOf;

namespace {

using Real = long double;
constexpr float kMasked = -std::numeric_limits<float>::infinity();

/// A of one stored row, in long double: the softmax of logits (-inf = 0), or the probabilities.
std::vector<Real> referenceAttention(const Workload& workload, std::size_t row) {
    std::vector<float> raw(std::size_t(workload.keys()));
    workload.fillRows(row, 1, raw.data());
    std::vector<Real> a(raw.begin(), raw.end());
    if (!workload.holdsLogits())
        return a;
    Real top = -INFINITY, sum = 0;
    for (float v : raw)
        top = std::max<Real>(top, v);
    for (Real& v : a)
        sum += v = std::isinf(v) ? 0 : std::exp(v - top);
    for (Real& v : a)
        v /= sum;
    return a;
}

/// softmax(log(A + eps) + lambda s), long double.
std::vector<Real> referenceSteered(const std::vector<Real>& a, const std::vector<double>& s,
                                   double lambda, double eps) {
    std::vector<Real> z(a.size());
    Real top = -INFINITY, sum = 0;
    for (std::size_t k = 0; k < a.size(); ++k) {
        const Real e = a[k] + eps;
        z[k] = e > 0 ? std::log(e) + Real(lambda) * s[k] : -INFINITY;
        top = std::max(top, z[k]);
    }
    for (Real& v : z)
        sum += v = std::isinf(v) ? 0 : std::exp(v - top);
    for (Real& v : z)
        v /= sum;
    return z;
}

struct ReferenceHead {
    Real vision = 0, targetOriginal = 0, targetSteered = 0, pointingOriginal = 0,
         pointingSteered = 0, rowsSteered = 0;
    std::vector<Real> mean; ///< mean attention over the queries, on V
};

Real visionOf(const std::vector<Real>& a, int first, int count) {
    Real sum = 0;
    for (int k = first; k < first + count; ++k)
        sum += a[std::size_t(k)];
    return sum;
}

/// Target mass and pointing of one row over V = [first, first + count).
std::pair<Real, Real> targetAndPointing(const std::vector<Real>& a, int first, int count,
                                        const std::vector<unsigned char>& target) {
    Real vision = 0, onTarget = 0, best = -1;
    int bestKey = -1;
    for (int k = first; k < first + count; ++k) {
        vision += a[std::size_t(k)];
        if (target[std::size_t(k)])
            onTarget += a[std::size_t(k)];
        if (a[std::size_t(k)] > best)
            best = a[std::size_t(k)], bestKey = k;
    }
    if (!(vision > 0))
        return {0, 0};
    return {onTarget / vision, target[std::size_t(bestKey)] ? 1 : 0};
}

/// Every head of WORKLOAD under the rules of grounding.h, straight from the definitions.
std::vector<ReferenceHead> referenceGrounding(const Workload& workload,
                                              const std::vector<double>& s, double lambda,
                                              const SteeringParams& params,
                                              const GroundingKeys& keys) {
    const int first = keys.hasVisionSpan() ? keys.visionStart : 0;
    const int count = keys.hasVisionSpan() ? keys.visionCount : workload.keys();
    std::vector<ReferenceHead> heads(std::size_t(workload.heads()));
    for (int unit = 0; unit < workload.heads(); ++unit) {
        ReferenceHead& head = heads[std::size_t(unit)];
        head.mean.assign(std::size_t(count), 0);
        for (int q = 0; q < workload.queries(); ++q) {
            const auto a = referenceAttention(workload, std::size_t(unit) * workload.queries() + q);
            Real entropy = 0;
            for (Real v : a)
                if (v > 0)
                    entropy -= v * std::log(v);
            const bool steered =
                isUnitSteered(workload, params, unit) &&
                (params.steeredQueries.empty() || params.steeredQueries[std::size_t(q)]) &&
                (params.gateEntropy <= 0 ||
                 entropy >= Real(params.gateEntropy) * std::log(Real(workload.keys())));
            const auto after = steered ? referenceSteered(a, s, lambda, params.eps) : a;
            head.rowsSteered += steered;
            for (int k = 0; k < count; ++k) {
                head.vision += a[std::size_t(first + k)];
                head.mean[std::size_t(k)] += a[std::size_t(first + k)] / workload.queries();
            }
            if (keys.hasTarget()) {
                const auto [massBefore, pointBefore] =
                    targetAndPointing(a, first, count, keys.target);
                // A row blind to the image (no vision mass) stays blind after steering.
                const auto [massAfter, pointAfter] =
                    massBefore == 0 && pointBefore == 0 && !(visionOf(a, first, count) > 0)
                        ? std::pair<Real, Real>{0, 0}
                        : targetAndPointing(after, first, count, keys.target);
                head.targetOriginal += massBefore, head.pointingOriginal += pointBefore;
                head.targetSteered += massAfter, head.pointingSteered += pointAfter;
            }
        }
        for (Real* sum : {&head.vision, &head.targetOriginal, &head.targetSteered,
                          &head.pointingOriginal, &head.pointingSteered, &head.rowsSteered})
            *sum /= workload.queries();
    }
    return heads;
}

Real referenceCorrelation(const std::vector<Real>& x, const double* y) {
    Real mx = 0, my = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
        mx += x[i], my += y[i];
    mx /= x.size(), my /= x.size();
    Real xy = 0, xx = 0, yy = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
        xy += (x[i] - mx) * (y[i] - my), xx += (x[i] - mx) * (x[i] - mx),
            yy += (y[i] - my) * (y[i] - my);
    return xy / std::sqrt(xx * yy);
}

/// Logits [L,H,Q,K] with a causal mask (-inf past the query's own key, Q = K) and a few peaked
/// rows, so that argmax and mass differ from row to row.
Workload causalLogits(int layers, int heads, int size, std::uint64_t seed) {
    std::vector<float> values(std::size_t(layers) * heads * size * size);
    for (std::size_t i = 0; i < values.size(); ++i) {
        const int k = int(i % std::size_t(size)), q = int(i / std::size_t(size) % size);
        values[i] = k > q ? kMasked : float(1.5 * philoxNormal(seed, RandomStream::Logits, i));
    }
    return Workload::fromValues(heads, size, size, std::move(values), WorkloadSource::FileLogits,
                                "causal logits", layers);
}

/// A vision span of a ROWS x COLS grid from FIRST, and a target: the cells of the upper-left
/// quadrant.
GroundingKeys gridKeys(int keys, int first, int rows, int cols) {
    GroundingKeys grounding;
    grounding.visionStart = first;
    grounding.visionCount = rows * cols;
    grounding.grid = {1, rows, cols};
    grounding.target.assign(std::size_t(keys), 0);
    for (int r = 0; r < rows / 2; ++r)
        for (int c = 0; c < cols / 2; ++c)
            grounding.target[std::size_t(first + r * cols + c)] = 1;
    return grounding;
}

#define COMPARE_CLOSE(actual, expected, tolerance)                                                 \
    QVERIFY2(std::abs(double(actual) - double(expected)) <= (tolerance),                           \
             qPrintable(QStringLiteral("%1 vs %2")                                                 \
                            .arg(double(actual), 0, 'g', 17)                                       \
                            .arg(double(expected), 0, 'g', 17)))

} // namespace

class TestGrounding : public QObject {
    Q_OBJECT

  private slots:
    void matchesReference_data();
    void matchesReference();
    void gateAtItsEnds();
    void backendExpectationAndGate();
    void binaryBiasIsPastaScaling();
    void rankingOfAConstructedCase();
    void spatialEntropyClosedForms();
    void correlationClosedForms();
    void keysAreChecked();
    void layersSplit();
    void sweepGains();
    void optionValues();
};

void TestGrounding::matchesReference_data() {
    QTest::addColumn<int>("kind"); // 0 causal probabilities, 1 causal logits, 2 three layers
    QTest::addColumn<double>("lambda");
    QTest::addColumn<double>("eps");
    QTest::addColumn<double>("gate");
    QTest::addColumn<QString>("steered"); // parseSteeredHeads text
    QTest::addColumn<bool>("queryGate");
    QTest::newRow("probabilities, lambda 1") << 0 << 1.0 << 1e-9 << 0.0 << "all" << false;
    QTest::newRow("probabilities, eps 0, strong") << 0 << 12.0 << 0.0 << 0.0 << "all" << false;
    QTest::newRow("probabilities, steering away") << 0 << -3.0 << 1e-9 << 0.0 << "all" << false;
    QTest::newRow("logits, lambda 0.5, gate") << 1 << 0.5 << 1e-9 << 0.6 << "all" << false;
    QTest::newRow("logits, some heads, query gate") << 1 << 4.0 << 1e-9 << 0.0 << "1" << true;
    QTest::newRow("logits, lambda 800 (weights underflow)")
        << 1 << 800.0 << 1e-9 << 0.0 << "all" << false;
    QTest::newRow("three layers, one head of one layer")
        << 2 << 2.0 << 1e-9 << 0.0 << "L2H0" << false;
}

void TestGrounding::matchesReference() {
    QFETCH(int, kind);
    QFETCH(double, lambda);
    QFETCH(double, eps);
    QFETCH(double, gate);
    QFETCH(QString, steered);
    QFETCH(bool, queryGate);
    constexpr int kSize = 40;
    const Workload workload = kind == 0   ? testsupport::causalAttention(3, kSize, 4)
                              : kind == 1 ? causalLogits(1, 3, kSize, 7)
                                          : causalLogits(3, 2, kSize, 9);
    const auto s = defaultSaliency(kSize, 11);
    const GroundingKeys keys = gridKeys(kSize, 6, 4, 6); // keys 6..29
    SteeringParams params;
    params.lambda = lambda;
    params.eps = eps;
    params.gateEntropy = gate;
    const SteeredHeadList heads = parseSteeredHeads(steered.toStdString());
    params.steeredHeads = heads.heads;
    params.steeredLayerHeads = heads.layerHeads;
    if (queryGate)
        for (int q = 0; q < kSize; ++q)
            params.steeredQueries.push_back(q % 3 != 0);

    for (int threads : {1, 2}) {
        const std::vector<Grounding> result =
            evaluateGrounding(workload, s, std::span(&lambda, 1), params, keys, threads);
        const auto expected = referenceGrounding(workload, s, lambda, params, keys);
        QCOMPARE(result.front().heads.size(), expected.size());
        Real totalTargetSteered = 0;
        for (std::size_t h = 0; h < expected.size(); ++h) {
            const GroundingSummary& got = result.front().heads[h];
            const ReferenceHead& want = expected[h];
            // Sums of at most 40 terms of double rounding each, means of 40 rows.
            COMPARE_CLOSE(got.visionMass, want.vision, 1e-13);
            COMPARE_CLOSE(got.targetMassOriginal, want.targetOriginal, 1e-13);
            COMPARE_CLOSE(got.targetMassSteered, want.targetSteered, 1e-12);
            // Counts of rows: exact (no two keys of a row are within rounding of each other).
            QCOMPARE(got.pointingOriginal, double(want.pointingOriginal));
            QCOMPARE(got.pointingSteered, double(want.pointingSteered));
            COMPARE_CLOSE(got.saliencyCorrelation,
                          referenceCorrelation(want.mean, s.data() + keys.visionStart), 1e-12);
            std::vector<double> mean(want.mean.begin(), want.mean.end());
            QCOMPARE(got.spatialEntropy, spatialEntropy(mean, keys.grid));
            totalTargetSteered += want.targetSteered;
        }
        COMPARE_CLOSE(result.front().total.targetMassSteered, totalTargetSteered / expected.size(),
                      1e-12);
        // The rows the backend steers are the rows the grounding pass steers.
        const Metrics metrics = makeCpuBackend(threads)->evaluate(workload, s, params);
        for (std::size_t h = 0; h < expected.size(); ++h)
            COMPARE_CLOSE(metrics.heads[h].rowsSteeredFraction, expected[h].rowsSteered, 1e-15);
    }
}

void TestGrounding::gateAtItsEnds() {
    const Workload workload = causalLogits(1, 2, 32, 3);
    const auto s = defaultSaliency(32, 5);
    const GroundingKeys keys = gridKeys(32, 4, 4, 4);
    const std::vector<double> lambdas{0.7, 5.0};
    SteeringParams ungated;
    SteeringParams atZero = ungated;
    atZero.gateEntropy = 0;
    SteeringParams aboveAll = ungated;
    aboveAll.gateEntropy = 1; // the causal rows are far from uniform over all 32 keys
    const auto backend = makeCpuBackend();
    const auto plain = backend->evaluate(workload, s, lambdas, ungated);
    const auto zero = backend->evaluate(workload, s, lambdas, atZero);
    const auto none = backend->evaluate(workload, s, lambdas, aboveAll);
    const auto groundNone = evaluateGrounding(workload, s, lambdas, aboveAll, keys);
    for (std::size_t l = 0; l < lambdas.size(); ++l) {
        QCOMPARE(zero[l].total.kl, plain[l].total.kl);
        QCOMPARE(zero[l].total.rowsSteeredFraction, 1.0);
        // No row steered: A' = A exactly.
        QCOMPARE(none[l].total.rowsSteeredFraction, 0.0);
        QCOMPARE(none[l].total.kl, 0.0);
        QCOMPARE(none[l].total.entropySteered, none[l].total.entropyOriginal);
        QCOMPARE(none[l].total.saliencyExpectationSteered,
                 none[l].total.saliencyExpectationOriginal);
        QCOMPARE(groundNone[l].total.targetMassSteered, groundNone[l].total.targetMassOriginal);
        QCOMPARE(groundNone[l].total.pointingSteered, groundNone[l].total.pointingOriginal);
    }
    // Between the ends: exactly the rows at or above the gate.
    SteeredHeadList all;
    SteeringParams half = ungated;
    half.gateEntropy = 0.5;
    double expected = 0;
    std::vector<double> a(32);
    for (int q = 0; q < 32; ++q) {
        workload.attentionRow(0, q, a);
        double entropy = 0;
        for (double v : a)
            if (v > 0)
                entropy -= v * std::log(v);
        expected += entropy >= 0.5 * std::log(32.0);
    }
    const Metrics gated = backend->evaluate(workload, s, half);
    QCOMPARE(gated.heads[0].rowsSteeredFraction, expected / 32);
    QVERIFY(expected > 0 && expected < 32);
}

void TestGrounding::backendExpectationAndGate() {
    // sum A s and sum A' s from the backend's sums against the rows themselves.
    const Workload workload = testsupport::causalAttention(2, 24, 8);
    const auto s = defaultSaliency(24, 2);
    SteeringParams params;
    params.lambda = 2.5;
    params.gateEntropy = 0.3;
    const auto backend = makeCpuBackend();
    const Metrics metrics = backend->evaluate(workload, s, params);
    for (int head = 0; head < 2; ++head) {
        Real before = 0, after = 0;
        for (int q = 0; q < 24; ++q) {
            const TokenRow row = backend->row(workload, s, params, head, q);
            for (std::size_t k = 0; k < s.size(); ++k)
                before += row.original[k] * s[k], after += row.steered[k] * s[k];
        }
        COMPARE_CLOSE(metrics.heads[std::size_t(head)].saliencyExpectationOriginal, before / 24,
                      1e-14);
        COMPARE_CLOSE(metrics.heads[std::size_t(head)].saliencyExpectationSteered, after / 24,
                      1e-13);
    }
}

void TestGrounding::binaryBiasIsPastaScaling() {
    // s = 1 on the emphasized keys (min-max normalized saliency >= T), 0 elsewhere. With
    // lambda = -log alpha and eps = 0, A' is A with the other keys scaled by alpha, renormalized:
    // PASTA's steering. Here lambda = log(1/alpha) on the emphasized keys is the same thing.
    const std::vector<double> raw{0.1, 0.9, 0.4, 0.75, 0.0, 0.5};
    const auto binary = normalizeSaliency(raw, Normalization::Binary, 0.5);
    QCOMPARE(binary.values, (std::vector<double>{0, 1, 0, 1, 0, 1})); // 0.5 / 0.9 >= 0.5
    const std::vector<double> a{0.3, 0.1, 0.2, 0.15, 0.05, 0.2};
    const Workload workload = Workload::fromValues(1, 1, 6, std::vector<float>(a.begin(), a.end()),
                                                   WorkloadSource::FileAttention);
    for (double alpha : {0.5, 0.1, 0.01}) {
        SteeringParams params;
        params.lambda = -std::log(alpha);
        params.eps = 0;
        const TokenRow row = makeCpuBackend()->row(workload, binary.values, params, 0, 0);
        double normalizer = 0;
        for (std::size_t k = 0; k < a.size(); ++k)
            normalizer += double(float(a[k])) * (binary.values[k] == 1 ? 1 : alpha);
        for (std::size_t k = 0; k < a.size(); ++k)
            COMPARE_CLOSE(row.steered[k],
                          double(float(a[k])) * (binary.values[k] == 1 ? 1 : alpha) / normalizer,
                          1e-15);
    }
    double threshold = 0;
    QCOMPARE(parseNormalization("binary:0.3", &threshold), std::optional(Normalization::Binary));
    QCOMPARE(threshold, 0.3);
    QCOMPARE(parseNormalization("binary", &threshold), std::optional(Normalization::Binary));
    QCOMPARE(threshold, 0.3); // "binary" alone keeps the threshold
    QVERIFY(!parseNormalization("binary:1.5"));
    QVERIFY(!parseNormalization("binary:"));
    QVERIFY(!parseNormalization("binary:x"));
}

void TestGrounding::rankingOfAConstructedCase() {
    // One query row per head over K = 20 keys: 4 text keys, then a 4 x 4 image whose left half is
    // salient (s = 1) and right half not (s = 0.1). Known answers: head 2 looks at the salient
    // half of the image, head 4 at it too but with half its attention on text, head 0 at text
    // only, head 1 at the whole image evenly, head 3 at the non-salient half.
    constexpr int kKeys = 20, kText = 4;
    std::vector<double> s(kKeys, 0.0);
    for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c)
            s[std::size_t(kText + r * 4 + c)] = c < 2 ? 1.0 : 0.1;
    auto rowOf = [&](double text, double salient, double other) {
        std::vector<float> row(kKeys);
        for (int k = 0; k < kKeys; ++k)
            row[std::size_t(k)] = float(k < kText                ? text / kText
                                        : s[std::size_t(k)] == 1 ? salient / 8
                                                                 : other / 8);
        return row;
    };
    std::vector<float> values;
    for (const auto& row :
         {rowOf(1, 0, 0), rowOf(0, 0.5, 0.5), rowOf(0, 1, 0), rowOf(0, 0, 1), rowOf(0.5, 0.5, 0)})
        values.insert(values.end(), row.begin(), row.end());
    const Workload workload =
        Workload::fromValues(5, 1, kKeys, values, WorkloadSource::FileAttention);
    GroundingKeys keys;
    keys.visionStart = kText;
    keys.visionCount = 16;
    keys.grid = {1, 4, 4};
    SteeringParams params;
    params.lambda = 1;
    const auto backend = makeCpuBackend();
    const Profile profile = profileHeads(workload, s, params, keys, *backend);
    QCOMPARE(profile.heads[2].groundingScore, 1.0); // vision mass 1 x correlation 1
    QCOMPARE(profile.heads[4].groundingScore, 0.5); // 0.5 x 1
    QCOMPARE(profile.heads[1].groundingScore, 0.0); // even over the image: no correlation
    QCOMPARE(profile.heads[3].groundingScore, 0.0); // correlation -1, clipped at 0
    QCOMPARE(profile.heads[0].groundingScore, 0.0); // no image attention
    QCOMPARE(profile.ranking, (std::vector<std::size_t>{2, 4, 0, 1, 3})); // ties in head order
    QCOMPARE(topHeads(profile, 2), (std::vector<LayerHead>{{0, 2}, {0, 4}}));
    // The two salient columns form one region: spatial entropy 0; an even map has none.
    QCOMPARE(profile.heads[2].grounding.spatialEntropy, 0.0);
    QVERIFY(std::isnan(profile.heads[1].grounding.spatialEntropy));
    // Ranked by spatial entropy (lower first), the heads without one last, in order.
    const auto bySpatial = rankHeads(profile.heads, *findProfileColumn("spatial_entropy"));
    QCOMPARE(bySpatial, (std::vector<std::size_t>{2, 3, 4, 0, 1}));
    // Steerability: the expectation gain per nat of KL, by its definition.
    const HeadProfile& head3 = profile.heads[3];
    QCOMPARE(head3.steerability, (head3.metrics.saliencyExpectationSteered -
                                  head3.metrics.saliencyExpectationOriginal) /
                                     head3.metrics.kl);
    // Every column has a unique name and reads the profile.
    for (const ProfileColumn& column : profileColumns())
        QCOMPARE(findProfileColumn(column.name), &column);
    QVERIFY(!findProfileColumn("nonsense"));
}

void TestGrounding::spatialEntropyClosedForms() {
    const ImageGrid grid{1, 3, 4};
    auto mapOf = [](std::initializer_list<double> cells) { return std::vector<double>(cells); };
    // One region: 0.
    QCOMPARE(spatialEntropy(mapOf({1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0}), grid), 0.0);
    // Two regions of 1 and 3 cells: -(1/4 log 1/4 + 3/4 log 3/4).
    const double expected = -(0.25 * std::log(0.25) + 0.75 * std::log(0.75));
    QCOMPARE(spatialEntropy(mapOf({1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}), grid), expected);
    // Diagonal neighbours are not connected: two cells, two regions, log 2.
    QCOMPARE(spatialEntropy(mapOf({1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}), grid), std::log(2.0));
    // Frames are separate images: the same cell in two frames is two regions.
    const ImageGrid frames{2, 1, 2};
    QCOMPARE(spatialEntropy(mapOf({1, 0, 1, 0}), frames), std::log(2.0));
    // Constant: no cell above the mean.
    QVERIFY(std::isnan(spatialEntropy(std::vector<double>(12, 0.3), grid)));
    QVERIFY(std::isnan(spatialEntropy(mapOf({1, 2}), grid))); // the wrong size
}

void TestGrounding::correlationClosedForms() {
    const std::vector<double> x{1, 2, 3, 4};
    QCOMPARE(pearsonCorrelation(x, std::vector<double>{2, 4, 6, 8}), 1.0);
    QCOMPARE(pearsonCorrelation(x, std::vector<double>{8, 6, 4, 2}), -1.0);
    QCOMPARE(pearsonCorrelation(x, std::vector<double>{1, -1, -1, 1}), 0.0);
    QVERIFY(std::isnan(pearsonCorrelation(x, std::vector<double>{5, 5, 5, 5})));
    QVERIFY(std::isnan(pearsonCorrelation(std::vector<double>{1}, std::vector<double>{1})));
}

void TestGrounding::keysAreChecked() {
    GroundingKeys keys;
    keys.visionStart = 30;
    keys.visionCount = 16;
    QCOMPARE(errorOf([&] { checkGroundingKeys(keys, 40); }),
             QString("--vision-offset: the vision tokens 30..45 do not fit into 40 keys"));
    keys.visionStart = 4;
    keys.grid = {1, 3, 3};
    QCOMPARE(errorOf([&] { checkGroundingKeys(keys, 40); }),
             QString("--image-grid: has 9 tokens, the vision span 16"));
    keys.grid = {1, 4, 4};
    keys.target.assign(39, 1);
    QCOMPARE(errorOf([&] { checkGroundingKeys(keys, 40); }),
             QString("--target: length is 39, expected 40 (keys)"));
    keys.target.assign(40, 0);
    keys.target[2] = 1; // a text token
    QCOMPARE(errorOf([&] { checkGroundingKeys(keys, 40); }),
             QString("--target: no target token lies among the vision tokens 4..19"));
    keys.target[10] = 1;
    checkGroundingKeys(keys, 40); // fine
    keys = {};
    keys.target.assign(40, 0);
    QCOMPARE(errorOf([&] { checkGroundingKeys(keys, 40); }),
             QString("--target: has no target token"));
}

void TestGrounding::layersSplit() {
    // Two layers x 2 heads: the aggregate head is the mean over layers, a layer's total the mean
    // over its heads; an unavailable value is left out of a mean.
    Grounding grounding;
    for (double v : {0.1, 0.2, 0.3, 0.6}) {
        GroundingSummary head;
        head.visionMass = v;
        head.spatialEntropy = v == 0.2 ? kNotAvailable : v;
        grounding.heads.push_back(head);
    }
    const LayeredGrounding split = splitLayers(grounding, 2, 2);
    QCOMPARE(split.aggregate.heads[0].visionMass, (0.1 + 0.3) / 2);
    QCOMPARE(split.aggregate.heads[1].visionMass, (0.2 + 0.6) / 2);
    QCOMPARE(split.aggregate.heads[1].spatialEntropy, 0.6);
    QCOMPARE(split.layers[1].total.visionMass, (0.3 + 0.6) / 2);
    QCOMPARE(split.layers[0].total.spatialEntropy, 0.1);
    QVERIFY(std::isnan(split.layers[0].total.targetMassOriginal));
}

void TestGrounding::sweepGains() {
    // The sweep's gains are the differences of what metrics and the grounding pass report.
    const Workload workload = causalLogits(1, 2, 24, 13);
    const auto raw = randomSaliencyRaw(24, 3);
    SweepConfig config;
    config.workload = &workload;
    config.saliencyRaw = raw;
    config.lambdas = {0.0, 1.0, 4.0};
    config.seeds = {0};
    config.grounding = gridKeys(24, 4, 4, 4);
    const auto backend = makeCpuBackend();
    const auto rows = runSweep(config, *backend);
    const auto s = normalizeSaliency(raw, Normalization::Max).values;
    const auto metrics = backend->evaluate(workload, s, config.lambdas, config.params);
    const auto grounding =
        evaluateGrounding(workload, s, config.lambdas, config.params, config.grounding);
    for (std::size_t l = 0; l < rows.size(); ++l) {
        QCOMPARE(rows[l].expectationGainMean, metrics[l].total.saliencyExpectationSteered -
                                                  metrics[l].total.saliencyExpectationOriginal);
        QCOMPARE(rows[l].targetMassGainMean,
                 grounding[l].total.targetMassSteered - grounding[l].total.targetMassOriginal);
        QCOMPARE(rows[l].pointingGainMean,
                 grounding[l].total.pointingSteered - grounding[l].total.pointingOriginal);
        QCOMPARE(rows[l].pointingGainStd, 0.0);
        QCOMPARE(rows[l].pointingMean, grounding[l].total.pointingSteered);
        QCOMPARE(rows[l].targetMassMean, grounding[l].total.targetMassSteered);
    }
    // lambda 0 moves only what eps moves: ~1e-9 (a row blind to the image stays blind).
    QVERIFY(std::abs(rows[0].targetMassGainMean) < 1e-8);
    QCOMPARE(rows[0].pointingGainMean, 0.0);
    QVERIFY(rows[2].targetMassGainMean != 0);
    // Without a target the grounding columns are not available.
    config.grounding = {};
    QVERIFY(std::isnan(runSweep(config, *backend)[1].pointingGainMean));
}

void TestGrounding::optionValues() {
    const SteeredHeadList list = parseSteeredHeads("0, 3:5,L2H7,l10h0");
    QCOMPARE(list.heads, (std::vector<int>{0, 3, 4, 5}));
    QCOMPARE(list.layerHeads, (std::vector<LayerHead>{{2, 7}, {10, 0}}));
    QCOMPARE(steeredHeadsText(list.heads, list.layerHeads), std::string("0,3,4,5,L2H7,L10H0"));
    QVERIFY(parseSteeredHeads("all").heads.empty());
    QCOMPARE(steeredHeadsText({}, {}), std::string("all"));
    QCOMPARE(errorOf([] { parseSteeredHeads("L2"); }),
             QString("--steer-heads: 'L2' is not LAYERHHEAD, e.g. L5H3"));
    QCOMPARE(errorOf([] { parseSteeredHeads("1,,2"); }),
             QString("--steer-heads: '1,,2' has an empty item"));
    QCOMPARE(errorOf([] { parseSteeredHeads("5:2"); }),
             QString("--steer-heads: '5:2': LAST is below FIRST"));
    QCOMPARE(errorOf([] { parseSteeredHeads("LxH2"); }),
             QString("--steer-heads: 'x' is not a valid whole number"));
}

QTEST_GUILESS_MAIN(TestGrounding)
#include "tst_grounding.moc"
