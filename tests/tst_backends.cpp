// Every backend against the long-double reference (tests/reference.h) and the CUDA backend against
// the CPU backend, from one test body over a _data() table with a row per backend and input. The
// CUDA rows skip ("no CUDA device: <reason>") where no device can be used, as do the GPU-only
// tests; backend selection is tested both ways. Built twice: tst_backends with the real CUDA
// backend (or the no-CUDA stub), tst_backends_emulated with the same backend source on the CPU
// emulator of gpu/emulation/, whose CUDA rows run on any machine.
#include "reference.h"
#include "test_support.h"

#include "attnsteer/backend.h"
#include "attnsteer/errors.h"
#include "attnsteer/gpu.h"
#include "attnsteer/metrics.h"
#include "attnsteer/random.h"
#include "attnsteer/saliency.h"
#include "attnsteer/workload.h"
#ifdef ATTNSTEER_HAVE_CUDA_BACKEND
#include "cuda_backend.h" // gpu/src: the class with its extras
#endif

#include <QTest>

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>

using namespace attnsteer;
using testsupport::causalAttention;
using testsupport::defaultSaliency;
using testsupport::errorOf;

namespace {

/// The tolerances, with why.
/// - kMetricsTolerance (attnsteer/metrics.h): the contract, relative. Both backends sum in double;
///   they differ from each other and from the reference by the order of the sums, ~1e-13 relative.
/// - Floors for values that are 0 up to rounding (lambda = 0 without eps, the entropy of a one-hot
///   A' at lambda = 1000): KL and entropies are sums of terms of size ~log K = O(10) with double
///   rounding, ~1e-14 nats absolute; the reduction is that over H(A) ~ 4, times 100.
/// - The saliency expectations sum A s and sum A' s are means of K terms A_k s_k with s in [0, 1]
///   (defaultSaliency): double rounding gives ~1e-16 absolute; the floor covers an expectation
///   near 0 (every row's mass on keys of s ~ 0).
/// - The fraction of rows steered is a count over a count: exact, compared with QCOMPARE.
constexpr double kNatsFloor = 1e-12;
constexpr double kPercentFloor = 1e-9;
constexpr double kSaliencyFloor = 1e-12;

bool close(double actual, double expected, double relative, double floor) {
    return std::abs(actual - expected) <= relative * std::abs(expected) + floor;
}

#define COMPARE_METRIC(actual, expected, floor, what)                                              \
    QVERIFY2(close((actual), (expected), kMetricsTolerance, (floor)),                              \
             qPrintable(QStringLiteral("%1: %2 = %3, expected %4")                                 \
                            .arg(what)                                                             \
                            .arg(#actual)                                                          \
                            .arg((actual), 0, 'g', 17)                                             \
                            .arg((expected), 0, 'g', 17)))

/// Empty where SUMMARY is that of rows that all keep A' = A, bit for bit (a row that is not
/// steered adds the same to the original and the steered sums): H(A') = H(A), KL = 0, no
/// reduction, sum A' s = sum A s, no row steered; else what differs.
QString unlessOriginal(const MetricSummary& summary) {
    QStringList differ;
    if (summary.entropySteered != summary.entropyOriginal)
        differ << QStringLiteral("H(A') %1 != H(A) %2")
                      .arg(summary.entropySteered, 0, 'g', 17)
                      .arg(summary.entropyOriginal, 0, 'g', 17);
    if (summary.kl != 0 || summary.entropyReductionPct != 0)
        differ << QStringLiteral("KL %1, reduction %2")
                      .arg(summary.kl, 0, 'g', 17)
                      .arg(summary.entropyReductionPct, 0, 'g', 17);
    if (summary.saliencyExpectationSteered != summary.saliencyExpectationOriginal)
        differ << QStringLiteral("sum A' s %1 != sum A s %2")
                      .arg(summary.saliencyExpectationSteered, 0, 'g', 17)
                      .arg(summary.saliencyExpectationOriginal, 0, 'g', 17);
    if (summary.rowsSteeredFraction != 0)
        differ << QStringLiteral("rows steered %1").arg(summary.rowsSteeredFraction);
    return differ.join(QStringLiteral("; "));
}

#define VERIFY_KEEPS_ORIGINAL(summary, what)                                                       \
    do {                                                                                           \
        const QString differs = unlessOriginal(summary);                                           \
        QVERIFY2(differs.isEmpty(), qPrintable((what) + QStringLiteral(": ") + differs));          \
    } while (false)

/// The summary of HEAD in METRICS, or the total for HEAD = -1.
const MetricSummary& summaryOf(const Metrics& metrics, int head) {
    return head < 0 ? metrics.total : metrics.heads[std::size_t(head)];
}

QString noDeviceMessage() {
    return QStringLiteral("no CUDA device: ") + QString::fromStdString(gpu::unavailableReason());
}

/// "cpu"; "cuda" (the moments path where the series converges, as by default); "cuda exact"
/// (every lambda by the exact pass).
std::unique_ptr<Backend> makeBackend(const QString& name) {
    if (name == QLatin1String("cuda"))
        return gpu::makeCudaBackend();
    if (name == QLatin1String("cuda exact"))
        return gpu::makeCudaBackend({.useMoments = false});
    return makeCpuBackend();
}

bool needsDevice(const QString& backend) {
    return backend.startsWith(QLatin1String("cuda"));
}

/// Logits held in memory as if read from a file (the CUDA backend uploads these rather than
/// generating them on the device).
Workload fileLogits(int heads, int queries, int keys, double sigma, std::uint64_t seed) {
    std::vector<float> values(std::size_t(heads) * queries * keys);
    for (std::size_t i = 0; i < values.size(); ++i)
        values[i] = float(sigma * philoxNormal(seed, RandomStream::Logits, i));
    return Workload::fromValues(heads, queries, keys, std::move(values), WorkloadSource::FileLogits,
                                "logits in memory");
}

/// Logits of LAYERS layers with a causal mask (-inf above the diagonal: query q sees keys
/// 0..q + K - Q), as a decoder's dump holds them before the softmax.
Workload maskedLogits(int layers, int heads, int queries, int keys, std::uint64_t seed) {
    std::vector<float> values(std::size_t(layers) * heads * queries * keys);
    for (std::size_t i = 0; i < values.size(); ++i) {
        const int key = int(i % std::size_t(keys));
        const int query = int(i / std::size_t(keys) % std::size_t(queries));
        values[i] = key > query + keys - queries
                        ? -std::numeric_limits<float>::infinity()
                        : float(1.5 * philoxNormal(seed, RandomStream::Logits, i));
    }
    return Workload::fromValues(heads, queries, keys, std::move(values), WorkloadSource::FileLogits,
                                "masked logits", layers);
}

Workload randomWorkload(int heads, int queries, int keys, double sigma, std::uint64_t seed) {
    WorkloadSpec spec;
    spec.heads = heads;
    spec.queries = queries;
    spec.keys = keys;
    spec.logitStd = sigma;
    spec.seed = seed;
    return Workload::generate(spec);
}

/// Probabilities with causal zeros (causalAttention) whose rows are scaled by 1 + d, |d| <= 9e-4:
/// they sum to 1 only within the 1e-3 a file's rows are held to (Workload::loadAttention), and
/// are used as given, so sum A s differs from the mean of s under a normalized A.
Workload looseAttention(int heads, int size, std::uint64_t seed) {
    const Workload exact = causalAttention(heads, size, seed);
    std::vector<float> values(exact.rowCount() * std::size_t(size));
    exact.fillRows(0, exact.rowCount(), values.data());
    for (std::size_t row = 0; row < exact.rowCount(); ++row) {
        const double scale = 1.0 + 1e-4 * double(int(row * 7919 % 19) - 9);
        for (int k = 0; k < size; ++k)
            values[row * std::size_t(size) + std::size_t(k)] *= float(scale);
    }
    return Workload::fromValues(heads, size, size, std::move(values), WorkloadSource::FileAttention,
                                "loose probabilities");
}

/// Which rows of the steered heads the uncertainty gate lets through.
enum class Gate {
    None,     ///< tau = 0: every row
    Midway,   ///< tau in the widest gap between the middle half of the rows' H(A) / log K
    AboveAll, ///< tau above every row's H(A) / log K: none
};

/// The normalized entropy gate for GATE on WORKLOAD, from the reference's entropies, so that no
/// row lies within rounding of it (a backend's H(A) and the reference's differ by ~1e-16).
double gateFor(Gate gate, const Workload& workload) {
    if (gate == Gate::None)
        return 0;
    std::vector<double> h = reference::normalizedEntropies(workload);
    std::sort(h.begin(), h.end());
    if (gate == Gate::AboveAll) {
        if (h.back() > 1 - 1e-6)
            return NAN; // fails the caller's check: a uniform row cannot be gated out
        return (h.back() + 1) / 2;
    }
    std::size_t best = h.size() / 4;
    for (std::size_t i = best; i + 1 < h.size() && i < 3 * h.size() / 4; ++i)
        if (h[i + 1] - h[i] > h[best + 1] - h[best])
            best = i;
    if (h[best + 1] - h[best] < 1e-9)
        return NAN;
    return (h[best] + h[best + 1]) / 2;
}

struct Input {
    const char* name;
    std::function<Workload()> make;
    std::uint64_t saliencySeed;
    double eps;
    std::vector<int> steered;
    std::vector<LayerHead> layerHeads = {}; ///< steered in their layer only
    Gate gate = Gate::None;
    int queryPeriod = 0; ///< > 0: queries q with q % QUERY_PERIOD == 1 keep A' = A
};

/// The backends' parameters for IN on WORKLOAD, and the reference's reading of the same.
std::pair<SteeringParams, reference::Steering> steeringOf(const Input& in,
                                                          const Workload& workload) {
    SteeringParams params;
    reference::Steering steering;
    params.eps = in.eps;
    params.steeredHeads = steering.heads = in.steered;
    params.steeredLayerHeads = in.layerHeads;
    for (const LayerHead& one : in.layerHeads)
        steering.layerHeads.emplace_back(one.layer, one.head);
    params.gateEntropy = steering.gateEntropy = gateFor(in.gate, workload);
    if (in.queryPeriod > 0)
        for (int q = 0; q < workload.queries(); ++q)
            params.steeredQueries.push_back(q % in.queryPeriod == 1 ? 0 : 1);
    steering.queries = params.steeredQueries;
    return {params, steering};
}

const std::vector<Input>& inputs() {
    static const std::vector<Input> list = {
        {"random 2x16x64", [] { return randomWorkload(2, 16, 64, 0.1, 1); }, 1, 1e-9, {}},
        {"random 3x50x300", [] { return randomWorkload(3, 50, 300, 0.1, 2); }, 2, 1e-9, {}},
        {"random 3x50x300 eps=0", [] { return randomWorkload(3, 50, 300, 0.1, 2); }, 2, 0.0, {}},
        {"random 3x50x300 sigma=2 head 1 steered",
         [] { return randomWorkload(3, 50, 300, 2.0, 3); },
         3,
         1e-9,
         {1}},
        {"file logits 2x24x97 sigma=1.5",
         [] { return fileLogits(2, 24, 97, 1.5, 4); },
         4,
         1e-9,
         {}},
        // Longer rows: the CUDA backend keeps up to 4096 values of a row in registers and reads
        // longer rows from memory once per pass.
        {"random 1x6x3000", [] { return randomWorkload(1, 6, 3000, 0.1, 7); }, 7, 1e-9, {}},
        {"random 2x3x5000 eps=0", [] { return randomWorkload(2, 3, 5000, 0.5, 8); }, 8, 0.0, {}},
        {"causal attention 2x40 eps=0", [] { return causalAttention(2, 40, 9); }, 9, 0.0, {}},
        {"causal attention 2x40 eps=1e-9", [] { return causalAttention(2, 40, 9); }, 9, 1e-9, {}},
        // A dump's layers: the backends see 3 x 2 heads; head 1 is steered in every layer.
        {"masked logits 3 layers x 2x20x50 head 1 steered",
         [] { return maskedLogits(3, 2, 20, 50, 10); },
         10,
         1e-9,
         {1}},
        {"masked logits 3 layers x 2x20x50 eps=0",
         [] { return maskedLogits(3, 2, 20, 50, 11); },
         11,
         0.0,
         {}},
        // Rows summing to 1 only within tolerance, causal zeros: sum A s is not the mean of s.
        {"loose probabilities 2x30", [] { return looseAttention(2, 30, 12); }, 12, 1e-9, {}},
        {"loose probabilities 2x30 eps=0 gate midway",
         [] { return looseAttention(2, 30, 12); },
         12,
         0.0,
         {},
         {},
         Gate::Midway},
        // Uncertainty gating: about half the rows by their entropy, per query, or none.
        {"random 3x50x300 sigma=1 gate midway",
         [] { return randomWorkload(3, 50, 300, 1.0, 13); },
         13,
         1e-9,
         {},
         {},
         Gate::Midway},
        {"random 2x16x64 sigma=0.5 gate above every row",
         [] { return randomWorkload(2, 16, 64, 0.5, 14); },
         14,
         1e-9,
         {},
         {},
         Gate::AboveAll},
        {"file logits 2x24x97 sigma=1.5 every third query kept",
         [] { return fileLogits(2, 24, 97, 1.5, 15); },
         15,
         1e-9,
         {},
         {},
         Gate::None,
         3},
        {"causal attention 2x40 eps=1e-9 gate midway, every second query kept",
         [] { return causalAttention(2, 40, 16); },
         16,
         1e-9,
         {},
         {},
         Gate::Midway,
         2},
        // A head steered in one layer only, beside one steered in every layer; then alone, gated.
        {"masked logits 3 layers x 2x20x50 head 0, layer 2 head 1",
         [] { return maskedLogits(3, 2, 20, 50, 17); },
         17,
         1e-9,
         {0},
         {{2, 1}}},
        {"masked logits 3 layers x 2x20x50 layer 1 head 0 only, gate midway",
         [] { return maskedLogits(3, 2, 20, 50, 18); },
         18,
         1e-9,
         {},
         {{1, 0}},
         Gate::Midway,
         4},
    };
    return list;
}

/// The lambdas of the table: identity, small, the write-up's two, one where S1 underflows for
/// masked rows that cannot see the saliency maximum, and a negative one where exp(lambda s~)
/// overflows to inf and so does S1 (both take the per-row fallback, steering::steeredRowMetrics).
const std::vector<double> kLambdas = {0, 0.01, 0.25, 1, 1000, -1000};

void addBackendRows(const char* test) {
    QTest::addColumn<QString>("backend");
    for (const char* backend : {"cpu", "cuda", "cuda exact"})
        QTest::addRow("%s %s", backend, test) << QString::fromLatin1(backend);
}

} // namespace

class TestBackends : public QObject {
    Q_OBJECT

  private slots:
    void initTestCase() {
        qInfo("CUDA rows run on: %s", gpu::isAvailable() ? gpu::deviceName().c_str() : "(none)");
    }
    void matchesReference_data();
    void matchesReference();
    void gatingExtremes_data();
    void gatingExtremes();
    void gateChangesOverCachedMoments();
    void inputErrorsMatchCpu_data();
    void inputErrorsMatchCpu();
    void cancellation_data();
    void cancellation();
    void tokenRowMatchesCpu();
    void residentWorkloadFollowsIdentity();
    void momentsFollowSaliencyAndEps();
    void outOfMemoryIsADeviceError();
    void deviceLogitsMatchHost_data();
    void deviceLogitsMatchHost();
    void autoFallsBackWithoutDevice();
    void cudaWithoutDeviceThrows();
    void selectionWithDevice();
    void backendChoiceParsing();
};

void TestBackends::matchesReference_data() {
    QTest::addColumn<QString>("backend");
    QTest::addColumn<int>("input");
    for (const char* backend : {"cpu", "cuda", "cuda exact"})
        for (std::size_t i = 0; i < inputs().size(); ++i)
            QTest::addRow("%s: %s", backend, inputs()[i].name)
                << QString::fromLatin1(backend) << int(i);
}

void TestBackends::matchesReference() {
    QFETCH(QString, backend);
    QFETCH(int, input);
    if (needsDevice(backend) && !gpu::isAvailable())
        QSKIP(qPrintable(noDeviceMessage()));
    const Input& in = inputs()[std::size_t(input)];
    const Workload workload = in.make();
    const auto s = defaultSaliency(workload.keys(), in.saliencySeed);
    const auto [params, steering] = steeringOf(in, workload);
    QVERIFY2(std::isfinite(params.gateEntropy), "no gap between the rows' entropies for the gate");

    auto engine = makeBackend(backend);
    const std::vector<Metrics> results = engine->evaluate(workload, s, kLambdas, params);
    QCOMPARE(int(results.size()), int(kLambdas.size()));
    const std::vector<Metrics> cpu =
        backend == QLatin1String("cpu") ? results
                                        : makeCpuBackend()->evaluate(workload, s, kLambdas, params);

    for (std::size_t l = 0; l < kLambdas.size(); ++l) {
        const Metrics& m = results[l];
        QCOMPARE(m.lambda, kLambdas[l]);
        QCOMPARE(QString::fromStdString(m.backend), backend.section(QLatin1Char(' '), 0, 0));
        QCOMPARE(int(m.heads.size()), workload.heads());
        for (int head = -1; head < workload.heads(); ++head) {
            const MetricSummary& got = summaryOf(m, head);
            const MetricSummary& onCpu = summaryOf(cpu[l], head);
            const QString what =
                QStringLiteral("lambda %1, %2")
                    .arg(kLambdas[l])
                    .arg(head < 0 ? QStringLiteral("total") : QStringLiteral("head %1").arg(head));
            QVERIFY2(std::isfinite(got.entropyOriginal) && std::isfinite(got.entropySteered) &&
                         std::isfinite(got.entropyReductionPct) && std::isfinite(got.kl) &&
                         std::isfinite(got.saliencyExpectationOriginal) &&
                         std::isfinite(got.saliencyExpectationSteered),
                     qPrintable(what + QStringLiteral(": not finite")));
            const auto expected =
                reference::evaluateWith(workload, s, kLambdas[l], in.eps, steering, head);
            COMPARE_METRIC(got.entropyOriginal, expected.entropyOriginal, kNatsFloor, what);
            COMPARE_METRIC(got.entropySteered, expected.entropySteered, kNatsFloor, what);
            COMPARE_METRIC(got.entropyReductionPct, expected.reductionPct, kPercentFloor, what);
            COMPARE_METRIC(got.kl, expected.kl, kNatsFloor, what);
            COMPARE_METRIC(got.saliencyExpectationOriginal, expected.expectationOriginal,
                           kSaliencyFloor, what);
            COMPARE_METRIC(got.saliencyExpectationSteered, expected.expectationSteered,
                           kSaliencyFloor, what);
            QCOMPARE(got.rowsSteeredFraction, expected.rowsSteeredFraction);
            COMPARE_METRIC(got.entropyOriginal, onCpu.entropyOriginal, kNatsFloor, what);
            COMPARE_METRIC(got.entropySteered, onCpu.entropySteered, kNatsFloor, what);
            COMPARE_METRIC(got.entropyReductionPct, onCpu.entropyReductionPct, kPercentFloor, what);
            COMPARE_METRIC(got.kl, onCpu.kl, kNatsFloor, what);
            COMPARE_METRIC(got.saliencyExpectationOriginal, onCpu.saliencyExpectationOriginal,
                           kSaliencyFloor, what);
            COMPARE_METRIC(got.saliencyExpectationSteered, onCpu.saliencyExpectationSteered,
                           kSaliencyFloor, what);
            QCOMPARE(got.rowsSteeredFraction, onCpu.rowsSteeredFraction);
            if (expected.rowsSteeredFraction == 0) // A' = A in every row: exactly
                VERIFY_KEEPS_ORIGINAL(got, what);
        }
        // The gate does something where the table says so: it splits some head's rows.
        if (in.gate == Gate::Midway)
            QVERIFY(std::ranges::any_of(m.heads, [](const MetricSummary& one) {
                return one.rowsSteeredFraction > 0.2 && one.rowsSteeredFraction < 0.8;
            }));
        if (in.gate == Gate::AboveAll)
            QCOMPARE(m.total.rowsSteeredFraction, 0.0);
    }

    // More lambdas than one pass over a row takes (the CUDA backend's tiled path, in chunks of
    // 64): the same numbers for the lambdas above, and the CPU's for the others.
    std::vector<double> many = kLambdas;
    for (int i = 1; i <= 65; ++i)
        many.push_back(0.05 * i);
    const auto sweep = engine->evaluate(workload, s, many, params);
    const auto sweepOnCpu = makeCpuBackend()->evaluate(workload, s, many, params);
    QCOMPARE(sweep.size(), many.size());
    for (std::size_t l = 0; l < many.size(); ++l) {
        const QString what = QStringLiteral("sweep, lambda %1").arg(many[l]);
        QCOMPARE(sweep[l].lambda, many[l]);
        const MetricSummary& got = sweep[l].total;
        if (l < kLambdas.size()) {
            const MetricSummary& single = results[l].total;
            COMPARE_METRIC(got.entropySteered, single.entropySteered, kNatsFloor, what);
            COMPARE_METRIC(got.entropyReductionPct, single.entropyReductionPct, kPercentFloor,
                           what);
            COMPARE_METRIC(got.kl, single.kl, kNatsFloor, what);
        }
        COMPARE_METRIC(got.entropySteered, sweepOnCpu[l].total.entropySteered, kNatsFloor, what);
        COMPARE_METRIC(got.entropyReductionPct, sweepOnCpu[l].total.entropyReductionPct,
                       kPercentFloor, what);
        COMPARE_METRIC(got.kl, sweepOnCpu[l].total.kl, kNatsFloor, what);
        COMPARE_METRIC(got.saliencyExpectationSteered,
                       sweepOnCpu[l].total.saliencyExpectationSteered, kSaliencyFloor, what);
        QCOMPARE(got.rowsSteeredFraction, sweepOnCpu[l].total.rowsSteeredFraction);
        for (int head = 0; head < workload.heads(); ++head) {
            const MetricSummary& one = sweep[l].heads[std::size_t(head)];
            const MetricSummary& oneOnCpu = sweepOnCpu[l].heads[std::size_t(head)];
            COMPARE_METRIC(one.kl, oneOnCpu.kl, kNatsFloor, what);
            COMPARE_METRIC(one.saliencyExpectationSteered, oneOnCpu.saliencyExpectationSteered,
                           kSaliencyFloor, what);
            if (oneOnCpu.rowsSteeredFraction == 0)
                VERIFY_KEEPS_ORIGINAL(one, what);
        }
    }
}

void TestBackends::gatingExtremes_data() {
    addBackendRows("gating");
}

void TestBackends::gatingExtremes() {
    // tau = 0 with every query flagged is the ungated computation, bit for bit; a gate above every
    // row, or every query flagged 0, steers no row: H(A') = H(A), KL = 0 and sum A' s = sum A s
    // exactly, for every lambda (moments, exact, tiled, the fallback's 1000 and -1000); the
    // original metrics do not depend on the gate.
    QFETCH(QString, backend);
    if (needsDevice(backend) && !gpu::isAvailable())
        QSKIP(qPrintable(noDeviceMessage()));
    auto engine = makeBackend(backend);
    std::vector<double> lambdas = kLambdas;
    for (int i = 1; i <= 65; ++i)
        lambdas.push_back(0.05 * i);
    for (const Workload& workload :
         {randomWorkload(2, 16, 64, 0.5, 21), maskedLogits(3, 2, 12, 40, 22)}) {
        const auto s = defaultSaliency(workload.keys(), 21);
        const auto ungated = engine->evaluate(workload, s, lambdas, SteeringParams{});
        SteeringParams params;
        params.steeredQueries.assign(std::size_t(workload.queries()), 1);
        const auto flagged = engine->evaluate(workload, s, lambdas, params);
        for (std::size_t l = 0; l < lambdas.size(); ++l)
            for (int head = -1; head < workload.heads(); ++head) {
                const MetricSummary &a = summaryOf(ungated[l], head),
                                    &b = summaryOf(flagged[l], head);
                QCOMPARE(b.entropyOriginal, a.entropyOriginal);
                QCOMPARE(b.entropySteered, a.entropySteered);
                QCOMPARE(b.kl, a.kl);
                QCOMPARE(b.entropyReductionPct, a.entropyReductionPct);
                QCOMPARE(b.saliencyExpectationOriginal, a.saliencyExpectationOriginal);
                QCOMPARE(b.saliencyExpectationSteered, a.saliencyExpectationSteered);
                QCOMPARE(b.rowsSteeredFraction, 1.0);
            }
        SteeringParams above;
        above.gateEntropy = gateFor(Gate::AboveAll, workload);
        QVERIFY(std::isfinite(above.gateEntropy));
        SteeringParams closed;
        closed.steeredQueries.assign(std::size_t(workload.queries()), 0);
        for (const SteeringParams* none : {&above, &closed}) {
            const auto results = engine->evaluate(workload, s, lambdas, *none);
            for (std::size_t l = 0; l < lambdas.size(); ++l)
                for (int head = -1; head < workload.heads(); ++head) {
                    const QString what = QStringLiteral("%1, lambda %2, head %3")
                                             .arg(none == &above ? "gate" : "queries")
                                             .arg(lambdas[l])
                                             .arg(head);
                    const MetricSummary& got = summaryOf(results[l], head);
                    const MetricSummary& reference = summaryOf(ungated[l], head);
                    VERIFY_KEEPS_ORIGINAL(got, what);
                    QCOMPARE(got.entropyOriginal, reference.entropyOriginal);
                    QCOMPARE(got.saliencyExpectationOriginal,
                             reference.saliencyExpectationOriginal);
                }
        }
    }
}

void TestBackends::gateChangesOverCachedMoments() {
    // The CUDA backend caches the moments and row statistics per workload, saliency and eps; the
    // heads, queries and gate of each call apply to them afresh, without reading the values again.
    if (!gpu::isAvailable())
        QSKIP(qPrintable(noDeviceMessage()));
#ifdef ATTNSTEER_HAVE_CUDA_BACKEND
    gpu::CudaBackend cuda;
    auto cpu = makeCpuBackend();
    const Workload workload = maskedLogits(2, 2, 16, 48, 23);
    const auto s = defaultSaliency(48, 23);
    const std::vector<double> lambdas = {0.1, 0.6, 2};
    std::vector<SteeringParams> calls(7);
    calls[1].gateEntropy = gateFor(Gate::Midway, workload);
    calls[2].steeredHeads = {1};
    calls[3].steeredLayerHeads = {{1, 0}};
    calls[3].gateEntropy = calls[1].gateEntropy;
    for (int q = 0; q < workload.queries(); ++q)
        calls[4].steeredQueries.push_back(q % 3 == 0 ? 1 : 0);
    calls[5].gateEntropy = gateFor(Gate::AboveAll, workload);
    for (std::size_t call = 0; call < calls.size(); ++call) {
        const SteeringParams& params = calls[call];
        QVERIFY(std::isfinite(params.gateEntropy));
        const auto got = cuda.evaluate(workload, s, lambdas, params);
        if (call > 0)
            QCOMPARE(cuda.lastValueBytes(), std::uint64_t(0)); // the moments of the first call
        const auto expected = cpu->evaluate(workload, s, lambdas, params);
        for (std::size_t l = 0; l < lambdas.size(); ++l)
            for (int head = -1; head < workload.heads(); ++head) {
                const QString what = QStringLiteral("call %1, lambda %2, head %3")
                                         .arg(call)
                                         .arg(lambdas[l])
                                         .arg(head);
                const MetricSummary& a = summaryOf(got[l], head);
                const MetricSummary& b = summaryOf(expected[l], head);
                COMPARE_METRIC(a.entropySteered, b.entropySteered, kNatsFloor, what);
                COMPARE_METRIC(a.kl, b.kl, kNatsFloor, what);
                COMPARE_METRIC(a.saliencyExpectationOriginal, b.saliencyExpectationOriginal,
                               kSaliencyFloor, what);
                COMPARE_METRIC(a.saliencyExpectationSteered, b.saliencyExpectationSteered,
                               kSaliencyFloor, what);
                QCOMPARE(a.rowsSteeredFraction, b.rowsSteeredFraction);
            }
    }
    const auto none = cuda.evaluate(workload, s, lambdas, calls[5]);
    VERIFY_KEEPS_ORIGINAL(none[1].total, QStringLiteral("gate above every row"));
#endif
}

void TestBackends::inputErrorsMatchCpu_data() {
    addBackendRows("errors");
}

void TestBackends::inputErrorsMatchCpu() {
    QFETCH(QString, backend);
    if (needsDevice(backend) && !gpu::isAvailable())
        QSKIP(qPrintable(noDeviceMessage()));
    auto engine = makeBackend(backend);
    const Workload workload = randomWorkload(3, 8, 96, 0.1, 0);
    const auto s = defaultSaliency(96, 0);
    SteeringParams params;
    params.steeredHeads = {0, 3};
    QCOMPARE(errorOf([&] { engine->evaluate(workload, s, params); }),
             QStringLiteral("--steer-heads: head 3 is out of range 0..2"));
    QCOMPARE(errorOf([&] { engine->evaluate(workload, defaultSaliency(95, 0), SteeringParams{}); }),
             QStringLiteral("--saliency: length is 95, expected 96 (keys)"));
    params = {};
    params.eps = -1;
    QCOMPARE(errorOf([&] { engine->evaluate(workload, s, params); }),
             QStringLiteral("--eps: must be a finite number >= 0"));
    auto badSaliency = s;
    badSaliency[5] = NAN;
    QCOMPARE(errorOf([&] { engine->evaluate(workload, badSaliency, SteeringParams{}); }),
             QStringLiteral("--saliency: contains NaN or Inf"));
    const std::vector<double> badLambda = {0.5, INFINITY};
    QCOMPARE(errorOf([&] { engine->evaluate(workload, s, badLambda, SteeringParams{}); }),
             QStringLiteral("--lambda: must be a finite number"));
    QVERIFY(engine->evaluate(workload, s, std::vector<double>{}, SteeringParams{}).empty());
}

void TestBackends::cancellation_data() {
    addBackendRows("cancel");
}

void TestBackends::cancellation() {
    QFETCH(QString, backend);
    if (needsDevice(backend) && !gpu::isAvailable())
        QSKIP(qPrintable(noDeviceMessage()));
    // One CPU thread: the CPU backend reports progress from OpenMP thread 0 only, so with more
    // threads its last report need not be 1.
    auto engine = needsDevice(backend) ? makeBackend(backend) : makeCpuBackend(1);
    const Workload workload = randomWorkload(2, 40, 96, 0.1, 0);
    const auto s = defaultSaliency(96, 0);
    std::atomic<bool> cancel{true};
    RunControl control;
    control.cancel = &cancel;
    QVERIFY_THROWS_EXCEPTION(Cancelled, engine->evaluate(workload, s, SteeringParams{}, control));
    cancel = false;
    double lastProgress = 0;
    control.onProgress = [&](double fraction) { lastProgress = fraction; };
    std::vector<double> lambdas(150);
    for (std::size_t i = 0; i < lambdas.size(); ++i)
        lambdas[i] = 0.01 * double(i);
    engine->evaluate(workload, s, lambdas, SteeringParams{}, control);
    QCOMPARE(lastProgress, 1.0);
}

void TestBackends::tokenRowMatchesCpu() {
    if (!gpu::isAvailable())
        QSKIP(qPrintable(noDeviceMessage()));
    const Workload workload = randomWorkload(3, 24, 96, 0.1, 3);
    const auto s = defaultSaliency(96, 3);
    SteeringParams params;
    params.lambda = 0.9;
    const TokenRow onCpu = makeCpuBackend()->row(workload, s, params, 2, 7);
    const TokenRow onCuda = gpu::makeCudaBackend()->row(workload, s, params, 2, 7);
    QCOMPARE(onCuda.original, onCpu.original);
    QCOMPARE(onCuda.steered, onCpu.steered);
}

void TestBackends::residentWorkloadFollowsIdentity() {
    // The CUDA backend keeps the values of the last workload on the device: a different workload
    // of the same shape must replace them, and a copy (same id) must reuse them.
    if (!gpu::isAvailable())
        QSKIP(qPrintable(noDeviceMessage()));
#ifdef ATTNSTEER_HAVE_CUDA_BACKEND
    const Workload first = randomWorkload(2, 30, 128, 0.1, 5);
    const Workload second = randomWorkload(2, 30, 128, 0.1, 6);
    const Workload fromFile = fileLogits(2, 30, 128, 0.1, 5); // the values of FIRST, uploaded
    const auto s = defaultSaliency(128, 5);
    SteeringParams params;
    params.lambda = 0.5;
    gpu::CudaBackend cuda;
    const double klFirst = cuda.evaluate(first, s, params).total.kl;
    const double klSecond = cuda.evaluate(second, s, params).total.kl;
    QVERIFY(klFirst != klSecond);
    const Workload copy = first;
    QCOMPARE(cuda.evaluate(copy, s, params).total.kl, klFirst);
    QCOMPARE(cuda.evaluate(fromFile, s, params).total.kl, klFirst); // generated == uploaded
    QCOMPARE(cuda.evaluate(second, s, params).total.kl, klSecond);
    QCOMPARE(cuda.lastValueBytes(), std::uint64_t(2 * 30 * 128 * sizeof(float)));
    params.lambda = 0.75; // the moments of SECOND are there: the values are not read
    const double klOther = cuda.evaluate(second, s, params).total.kl;
    QCOMPARE(cuda.lastValueBytes(), std::uint64_t(0));
    COMPARE_METRIC(klOther, makeCpuBackend()->evaluate(second, s, params).total.kl, kNatsFloor,
                   QStringLiteral("from cached moments"));
    params.lambda = 0.5;
    QVERIFY(cuda.lastDeviceMs() > 0);
    cuda.releaseDeviceMemory();
    QCOMPARE(cuda.evaluate(first, s, params).total.kl, klFirst);
#endif
}

void TestBackends::momentsFollowSaliencyAndEps() {
    // The moments are cached per workload, saliency and eps: a change of any one must not reuse
    // them (the CPU, with its own cache, is the reference).
    if (!gpu::isAvailable())
        QSKIP(qPrintable(noDeviceMessage()));
    auto cuda = gpu::makeCudaBackend();
    auto cpu = makeCpuBackend();
    const Workload workload = randomWorkload(2, 20, 160, 0.5, 11);
    const auto first = defaultSaliency(160, 11), second = defaultSaliency(160, 12);
    const auto differs = [&] { // in one key
        auto values = first;
        values[159] += 1e-3;
        return values;
    }();
    const std::vector<double> lambdas = {0.1, 0.6, 2};
    SteeringParams params;
    for (const auto* s : {&first, &second, &differs, &first}) {
        for (const double eps : {1e-9, 1e-3, 1e-9}) {
            params.eps = eps;
            const auto got = cuda->evaluate(workload, *s, lambdas, params);
            const auto expected = cpu->evaluate(workload, *s, lambdas, params);
            for (std::size_t l = 0; l < lambdas.size(); ++l) {
                const QString what = QStringLiteral("eps %1, lambda %2").arg(eps).arg(lambdas[l]);
                COMPARE_METRIC(got[l].total.kl, expected[l].total.kl, kNatsFloor, what);
                COMPARE_METRIC(got[l].total.entropySteered, expected[l].total.entropySteered,
                               kNatsFloor, what);
            }
        }
    }
}

void TestBackends::outOfMemoryIsADeviceError() {
    // A random workload of 2^42 values (16 TiB) exists only as its spec on the host; the device
    // cannot hold it. Callers fall back to the CPU or show the message; the backend stays usable.
    if (!gpu::isAvailable())
        QSKIP(qPrintable(noDeviceMessage()));
    auto cuda = gpu::makeCudaBackend();
    const Workload huge = randomWorkload(1024, 65536, 65536, 0.1, 0);
    const auto s = defaultSaliency(65536, 0);
    QString message = QStringLiteral("(no error)");
    try {
        cuda->evaluate(huge, s, SteeringParams{});
    } catch (const DeviceError& error) {
        message = QString::fromStdString(error.what());
    }
    QVERIFY2(message.startsWith(
                 QStringLiteral("out of device memory (the workload needs 16777216 MiB, ")),
             qPrintable(message));
    const Workload small = randomWorkload(2, 16, 64, 0.1, 1);
    const auto smallSaliency = defaultSaliency(64, 1);
    SteeringParams params;
    COMPARE_METRIC(cuda->evaluate(small, smallSaliency, params).total.kl,
                   makeCpuBackend()->evaluate(small, smallSaliency, params).total.kl, kNatsFloor,
                   QStringLiteral("after the failure"));
}

void TestBackends::deviceLogitsMatchHost_data() {
    QTest::addColumn<int>("heads");
    QTest::addColumn<int>("queries");
    QTest::addColumn<int>("keys");
    QTest::addColumn<double>("sigma");
    QTest::addColumn<quint64>("seed");
    QTest::newRow("2x33x77 (rows straddle Philox blocks)") << 2 << 33 << 77 << 0.1 << quint64(0);
    QTest::newRow("3x17x1001 sigma=2.5, seed above 2^32")
        << 3 << 17 << 1001 << 2.5 << quint64(0x123456789ABCDEFull);
    QTest::newRow("32x1024x1024 (the default workload)") << 32 << 1024 << 1024 << 0.1 << quint64(0);
}

void TestBackends::deviceLogitsMatchHost() {
    if (!gpu::isAvailable())
        QSKIP(qPrintable(noDeviceMessage()));
#ifdef ATTNSTEER_HAVE_CUDA_BACKEND
    QFETCH(int, heads);
    QFETCH(int, queries);
    QFETCH(int, keys);
    QFETCH(double, sigma);
    QFETCH(quint64, seed);
    const WorkloadSpec spec{heads, queries, keys, sigma, seed};
    const std::vector<float> device = gpu::CudaBackend().generateLogits(spec);
    std::vector<float> host(device.size());
    Workload::generate(spec).fillRows(0, std::size_t(heads) * queries, host.data());
    std::size_t mismatches = 0, first = 0;
    for (std::size_t i = 0; i < host.size(); ++i)
        if (std::bit_cast<std::uint32_t>(device[i]) != std::bit_cast<std::uint32_t>(host[i]))
            if (mismatches++ == 0)
                first = i;
    QVERIFY2(mismatches == 0,
             qPrintable(QStringLiteral("%1 of %2 values differ; first at %3: device %4, host %5")
                            .arg(mismatches)
                            .arg(host.size())
                            .arg(first)
                            .arg(device[first], 0, 'g', 9)
                            .arg(host[first], 0, 'g', 9)));
#endif
}

void TestBackends::autoFallsBackWithoutDevice() {
    if (gpu::isAvailable())
        QSKIP("a CUDA device is present: the fallback cannot be observed here");
    const std::string reason = gpu::unavailableReason();
    QVERIFY(!reason.empty());
    const gpu::BackendSelection selection = gpu::selectBackend(gpu::BackendChoice::Auto, 1);
    QVERIFY(selection.backend);
    QCOMPARE(selection.backend->name(), std::string("cpu"));
    QCOMPARE(selection.notice, "no CUDA device (" + reason + "); using the CPU backend");
    QCOMPARE(QString::fromStdString(gpu::deviceName()), QString::fromStdString(reason));
    QCOMPARE(gpu::deviceMemoryBytes(), std::uint64_t(0));
}

void TestBackends::cudaWithoutDeviceThrows() {
    if (gpu::isAvailable())
        QSKIP("a CUDA device is present");
    const std::string problem = "cuda: " + gpu::unavailableReason();
    const QString expected = QStringLiteral("--backend: ") + QString::fromStdString(problem);
    QCOMPARE(errorOf([] { gpu::selectBackend(gpu::BackendChoice::Cuda); }), expected);
    QCOMPARE(errorOf([] { gpu::makeCudaBackend(); }), expected);
    try {
        gpu::makeCudaBackend();
        QFAIL("no InputError");
    } catch (const InputError& error) {
        QCOMPARE(error.subject(), InputSubject::setting("backend"));
        QCOMPARE(error.problem(), problem);
    }
    // The CPU choice never touches CUDA.
    const auto cpu = gpu::selectBackend(gpu::BackendChoice::Cpu, 2);
    QCOMPARE(cpu.backend->name(), std::string("cpu"));
    QVERIFY(cpu.notice.empty());
}

void TestBackends::selectionWithDevice() {
    if (!gpu::isAvailable())
        QSKIP(qPrintable(noDeviceMessage()));
    QVERIFY(gpu::unavailableReason().empty());
    QVERIFY(gpu::deviceMemoryBytes() > 0);
    QVERIFY(!gpu::deviceName().empty());
    const auto automatic = gpu::selectBackend(gpu::BackendChoice::Auto);
    QCOMPARE(automatic.backend->name(), std::string("cuda"));
    QVERIFY(automatic.notice.empty());
    QCOMPARE(gpu::selectBackend(gpu::BackendChoice::Cuda).backend->name(), std::string("cuda"));
    QCOMPARE(gpu::selectBackend(gpu::BackendChoice::Cpu).backend->name(), std::string("cpu"));
}

void TestBackends::backendChoiceParsing() {
    QCOMPARE(gpu::parseBackendChoice("cpu"), std::optional(gpu::BackendChoice::Cpu));
    QCOMPARE(gpu::parseBackendChoice("cuda"), std::optional(gpu::BackendChoice::Cuda));
    QCOMPARE(gpu::parseBackendChoice("auto"), std::optional(gpu::BackendChoice::Auto));
    for (const char* bad : {"", "gpu", "CUDA", "cpu ", "automatic"})
        QVERIFY2(!gpu::parseBackendChoice(bad), bad);
    for (auto choice :
         {gpu::BackendChoice::Cpu, gpu::BackendChoice::Cuda, gpu::BackendChoice::Auto})
        QCOMPARE(gpu::parseBackendChoice(gpu::backendChoiceName(choice)), std::optional(choice));
}

QTEST_GUILESS_MAIN(TestBackends)
#include "tst_backends.moc"
