// The fused attention forward (attnsteer/attention.h) against a plain float64 reference written
// here (the whole score matrix, a materialized softmax), against the core's steered rows A', and
// the bfloat16 conversion. Timing is not checked here: attnsteer-cli attention-bench measures it.
#include "attnsteer/attention.h"
#include "attnsteer/errors.h"
#include "attnsteer/gpu.h"
#include "attnsteer/steering.h"
#include "attnsteer/workload.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

using namespace attnsteer;
using attention::AttentionParams;

namespace {

std::vector<float> normals(std::size_t count, std::uint32_t seed, float sigma = 1.0f) {
    std::mt19937 generator(seed);
    std::normal_distribution<float> normal(0.0f, sigma);
    std::vector<float> values(count);
    for (float& x : values)
        x = normal(generator);
    return values;
}

/// s = |x| / max |x|, as the default saliency.
std::vector<float> saliencyOf(int keys, std::uint32_t seed) {
    std::vector<float> s = normals(std::size_t(keys), seed);
    float top = 0;
    for (float& x : s)
        top = std::max(top, x = std::abs(x));
    for (float& x : s)
        x /= top;
    return s;
}

/// O in float64: for each head and query, every score q.k * scale + lambda s_k (keys k >
/// q + K - Q left out when causal), their softmax in full, the weighted sum of the values.
std::vector<double> referenceForward(const AttentionParams& p, const std::vector<float>& q,
                                     const std::vector<float>& k, const std::vector<float>& v,
                                     const std::vector<float>& bias) {
    const int d = p.headDim;
    const double scale = p.scale != 0 ? double(p.scale) : 1.0 / std::sqrt(double(d));
    std::vector<double> out(std::size_t(p.heads) * p.queries * d, 0.0);
    std::vector<double> scores(std::size_t(p.keys));
    for (int h = 0; h < p.heads; ++h)
        for (int i = 0; i < p.queries; ++i) {
            const int seen = p.causal ? i + (p.keys - p.queries) + 1 : p.keys;
            double top = -std::numeric_limits<double>::infinity();
            for (int j = 0; j < seen; ++j) {
                double dot = 0;
                for (int c = 0; c < d; ++c)
                    dot += double(q[(std::size_t(h) * p.queries + i) * d + c]) *
                           double(k[(std::size_t(h) * p.keys + j) * d + c]);
                scores[j] = dot * scale + (bias.empty() ? 0.0 : double(p.lambda) * bias[j]);
                top = std::max(top, scores[j]);
            }
            double sum = 0;
            for (int j = 0; j < seen; ++j)
                sum += scores[j] = std::exp(scores[j] - top);
            double* row = out.data() + (std::size_t(h) * p.queries + i) * d;
            for (int j = 0; j < seen; ++j)
                for (int c = 0; c < d; ++c)
                    row[c] += scores[j] / sum * double(v[(std::size_t(h) * p.keys + j) * d + c]);
        }
    return out;
}

std::vector<float> run(const AttentionParams& p, const std::vector<float>& q,
                       const std::vector<float>& k, const std::vector<float>& v,
                       const std::vector<float>& bias) {
    std::vector<float> out(q.size(), std::nanf(""));
    attention::forward(p, q, k, v, bias, out);
    return out;
}

/// The setting and problem of the InputError that F throws, "" when none.
template <typename F> QString settingErrorOf(F&& f) {
    try {
        f();
    } catch (const InputError& error) {
        return QString::fromStdString(error.subject().name + ": " + error.problem());
    }
    return {};
}

} // namespace

class TestAttention : public QObject {
    Q_OBJECT

  private slots:
    void matchesReference_data();
    void matchesReference();
    void zeroLambdaIsPlainAttention();
    void bfloat16InputsAreWidenedExactly();
    void steeredProbabilitiesMatchSteeredRows();
    void bfloat16Rounding();
    void badSizes();
    void cudaMatchesCpu_data();
    void cudaMatchesCpu();
    void cudaTimedRuns();
    void cudaErrors();
};

void TestAttention::matchesReference_data() {
    QTest::addColumn<int>("heads");
    QTest::addColumn<int>("queries");
    QTest::addColumn<int>("keys");
    QTest::addColumn<int>("dim");
    QTest::addColumn<bool>("causal");
    QTest::addColumn<bool>("biased");
    QTest::addColumn<float>("lambda");
    QTest::addColumn<int>("queryTile");
    QTest::addColumn<int>("keyTile");
    // The default tiles (64 x 128) against sizes below, at and above them, and small tiles so that
    // many tiles, partial tiles and tiles crossing the causal diagonal all occur.
    QTest::newRow("plain") << 2 << 16 << 16 << 8 << false << false << 0.0f << 64 << 128;
    QTest::newRow("bias") << 3 << 33 << 47 << 16 << false << true << 0.25f << 64 << 128;
    QTest::newRow("bias, small tiles, K not a multiple")
        << 3 << 33 << 47 << 16 << false << true << 0.25f << 8 << 16;
    QTest::newRow("causal") << 2 << 40 << 40 << 8 << true << false << 0.0f << 8 << 16;
    QTest::newRow("causal, bias") << 2 << 40 << 40 << 8 << true << true << 1.0f << 8 << 16;
    QTest::newRow("causal, Q < K") << 2 << 17 << 50 << 12 << true << true << 0.5f << 4 << 7;
    QTest::newRow("causal, one tile") << 1 << 37 << 37 << 16 << true << true << 0.5f << 64 << 128;
    QTest::newRow("odd sizes") << 3 << 7 << 13 << 5 << false << true << 0.3f << 4 << 5;
    QTest::newRow("one of each") << 1 << 1 << 1 << 1 << false << true << 0.3f << 64 << 128;
    QTest::newRow("many tiles") << 2 << 130 << 300 << 32 << false << true << 0.25f << 64 << 128;
    QTest::newRow("causal, many tiles")
        << 2 << 200 << 300 << 32 << true << true << 0.25f << 64 << 128;
    // A strong bias moves the maximum between tiles: the running rescaling must follow it.
    QTest::newRow("lambda 40") << 2 << 20 << 90 << 8 << false << true << 40.0f << 8 << 16;
    QTest::newRow("lambda -40, causal") << 2 << 20 << 90 << 8 << true << true << -40.0f << 8 << 16;
}

void TestAttention::matchesReference() {
    QFETCH(int, heads);
    QFETCH(int, queries);
    QFETCH(int, keys);
    QFETCH(int, dim);
    QFETCH(bool, causal);
    QFETCH(bool, biased);
    QFETCH(float, lambda);
    QFETCH(int, queryTile);
    QFETCH(int, keyTile);
    AttentionParams p;
    p.heads = heads, p.queries = queries, p.keys = keys, p.headDim = dim, p.causal = causal;
    p.lambda = lambda, p.queryTile = queryTile, p.keyTile = keyTile;
    const auto q = normals(std::size_t(heads) * queries * dim, 1);
    const auto k = normals(std::size_t(heads) * keys * dim, 2);
    const auto v = normals(std::size_t(heads) * keys * dim, 3);
    const auto bias = biased ? saliencyOf(keys, 4) : std::vector<float>{};
    const std::vector<double> expected = referenceForward(p, q, k, v, bias);

    p.threads = 1;
    const std::vector<float> single = run(p, q, k, v, bias);
    // Each output is a convex combination of values: 1e-5 of the largest |V| of the head is
    // 1e-5 relative to the output's own scale (float32 leaves ~1e-7 here).
    const double vScale = std::abs(*std::max_element(
        v.begin(), v.end(), [](float a, float b) { return std::abs(a) < std::abs(b); }));
    for (std::size_t i = 0; i < expected.size(); ++i)
        if (!(std::abs(double(single[i]) - expected[i]) <= 1e-5 * vScale))
            QFAIL(qPrintable(QStringLiteral("O[%1] = %2, expected %3")
                                 .arg(i)
                                 .arg(double(single[i]), 0, 'g', 9)
                                 .arg(expected[i], 0, 'g', 9)));
    // Every tile is computed the same way whichever thread takes it: the same bits.
    p.threads = 3;
    QVERIFY(run(p, q, k, v, bias) == single);
}

void TestAttention::zeroLambdaIsPlainAttention() {
    AttentionParams p;
    p.heads = 2, p.queries = 70, p.keys = 150, p.headDim = 16, p.causal = true;
    const auto q = normals(std::size_t(2) * 70 * 16, 5);
    const auto k = normals(std::size_t(2) * 150 * 16, 6);
    const auto v = normals(std::size_t(2) * 150 * 16, 7);
    p.lambda = 0;
    // Adding 0 to a score changes no bit.
    QVERIFY(run(p, q, k, v, saliencyOf(150, 8)) == run(p, q, k, v, {}));
}

void TestAttention::bfloat16InputsAreWidenedExactly() {
    AttentionParams p;
    p.heads = 2, p.queries = 50, p.keys = 90, p.headDim = 24, p.causal = true, p.lambda = 0.5f;
    p.queryTile = 16, p.keyTile = 32;
    auto q = normals(std::size_t(2) * 50 * 24, 9);
    auto k = normals(std::size_t(2) * 90 * 24, 10);
    auto v = normals(std::size_t(2) * 90 * 24, 11);
    std::vector<std::uint16_t> qb, kb, vb;
    for (auto [from, to] : {std::pair{&q, &qb}, std::pair{&k, &kb}, std::pair{&v, &vb}}) {
        for (float& x : *from) {
            to->push_back(attention::toBFloat16(x));
            x = attention::fromBFloat16(to->back());
        }
    }
    const auto bias = saliencyOf(90, 12);
    std::vector<float> out(q.size());
    attention::forward(p, std::span<const std::uint16_t>(qb), kb, vb, bias, out);
    // The bfloat16 path computes in float32 on the widened values: the same bits as float32
    // inputs holding them, and the reference to 1e-5.
    QVERIFY(out == run(p, q, k, v, bias));
    const auto expected = referenceForward(p, q, k, v, bias);
    for (std::size_t i = 0; i < out.size(); ++i)
        QVERIFY2(std::abs(out[i] - expected[i]) <= 1e-5 * 5, qPrintable(QString::number(i)));
}

void TestAttention::steeredProbabilitiesMatchSteeredRows() {
    // With V one-hot (value k is the unit vector e_k, K <= d), row q of O is the probability row
    // softmax(logits + lambda s) itself. The logits are exact in float32 (entries of Q and K are
    // multiples of 1/8 in [-1, 1], d = 16, scale 1/4), so the core's Workload holds the very same
    // logits, and steering::steeredRow (A' = softmax(log(A + eps) + lambda s) with eps = 0 and
    // A = softmax(logits)) must give the same probabilities.
    const int heads = 2, queries = 24, keys = 13, dim = 16;
    const float lambda = 0.75f;
    std::mt19937 generator(13);
    std::uniform_int_distribution<int> eighths(-8, 8);
    std::vector<float> q(std::size_t(heads) * queries * dim), k(std::size_t(heads) * keys * dim);
    for (float& x : q)
        x = float(eighths(generator)) / 8;
    for (float& x : k)
        x = float(eighths(generator)) / 8;
    std::vector<float> v(std::size_t(heads) * keys * dim, 0.0f);
    for (int h = 0; h < heads; ++h)
        for (int j = 0; j < keys; ++j)
            v[(std::size_t(h) * keys + j) * dim + j] = 1.0f;
    const auto bias = saliencyOf(keys, 14);

    std::vector<float> logits(std::size_t(heads) * queries * keys);
    for (int h = 0; h < heads; ++h)
        for (int i = 0; i < queries; ++i)
            for (int j = 0; j < keys; ++j) {
                float dot = 0; // exact: multiples of 1/64 well inside float's 24 bits
                for (int c = 0; c < dim; ++c)
                    dot += q[(std::size_t(h) * queries + i) * dim + c] *
                           k[(std::size_t(h) * keys + j) * dim + c];
                logits[(std::size_t(h) * queries + i) * keys + j] = dot / 4;
            }
    const Workload workload = Workload::fromValues(heads, queries, keys, logits,
                                                   WorkloadSource::FileLogits, "test logits");

    AttentionParams p;
    p.heads = heads, p.queries = queries, p.keys = keys, p.headDim = dim, p.lambda = lambda;
    p.queryTile = 8, p.keyTile = 5;
    const std::vector<float> out = run(p, q, k, v, bias);
    const std::vector<double> saliency(bias.begin(), bias.end());
    std::vector<double> a(keys), steered(keys);
    for (int h = 0; h < heads; ++h)
        for (int i = 0; i < queries; ++i) {
            workload.attentionRow(h, i, a);
            steering::steeredRow(a.data(), saliency.data(), std::size_t(keys), double(lambda), 0.0,
                                 steered.data());
            const float* row = out.data() + (std::size_t(h) * queries + i) * dim;
            for (int j = 0; j < keys; ++j)
                QVERIFY2(std::abs(row[j] - steered[j]) <= 1e-5 * steered[j],
                         qPrintable(QStringLiteral("head %1 query %2 key %3: %4 vs %5")
                                        .arg(h)
                                        .arg(i)
                                        .arg(j)
                                        .arg(double(row[j]), 0, 'g', 9)
                                        .arg(steered[j], 0, 'g', 9)));
            for (int c = keys; c < dim; ++c)
                QCOMPARE(row[c], 0.0f);
        }
}

void TestAttention::bfloat16Rounding() {
    using attention::fromBFloat16;
    using attention::toBFloat16;
    const auto bits = [](std::uint32_t pattern) {
        float x;
        std::memcpy(&x, &pattern, sizeof x);
        return toBFloat16(x);
    };
    QCOMPARE(toBFloat16(1.0f), std::uint16_t(0x3f80));
    QCOMPARE(toBFloat16(-2.0f), std::uint16_t(0xc000));
    QCOMPARE(bits(0x3f808000u), std::uint16_t(0x3f80)); // a tie rounds to the even 0x3f80
    QCOMPARE(bits(0x3f818000u), std::uint16_t(0x3f82)); // a tie rounds to the even 0x3f82
    QCOMPARE(bits(0x3f808001u), std::uint16_t(0x3f81)); // above the tie: up
    QCOMPARE(bits(0x3f807fffu), std::uint16_t(0x3f80)); // below the tie: down
    QCOMPARE(bits(0x7f7fffffu), std::uint16_t(0x7f80)); // the largest float rounds to Inf
    QCOMPARE(toBFloat16(std::numeric_limits<float>::infinity()), std::uint16_t(0x7f80));
    QVERIFY(std::isnan(fromBFloat16(toBFloat16(std::nanf("")))));
    QVERIFY(std::isnan(fromBFloat16(bits(0x7f800001u)))); // a NaN that truncation makes Inf
    QCOMPARE(fromBFloat16(0x3f80), 1.0f);
    QCOMPARE(fromBFloat16(0x4049), 3.140625f);
    for (float x : {0.0f, -0.0f, 1.5f, -3.25f, 1e-30f, 65280.0f})
        QCOMPARE(fromBFloat16(toBFloat16(x)), x); // exact in bfloat16: unchanged
}

void TestAttention::badSizes() {
    const std::vector<float> none;
    std::vector<float> out;
    const auto attempt = [&](AttentionParams p) {
        attention::forward(p, none, none, none, none, out);
    };
    AttentionParams p;
    p.heads = 0;
    QCOMPARE(settingErrorOf([&] { attempt(p); }), QStringLiteral("heads: must be at least 1"));
    p = {};
    p.queries = 0;
    QCOMPARE(settingErrorOf([&] { attempt(p); }), QStringLiteral("queries: must be at least 1"));
    p = {};
    p.keys = -1;
    QCOMPARE(settingErrorOf([&] { attempt(p); }), QStringLiteral("keys: must be at least 1"));
    p = {};
    p.headDim = 0;
    QCOMPARE(settingErrorOf([&] { attempt(p); }), QStringLiteral("head-dim: must be at least 1"));
    p = {};
    p.causal = true, p.queries = 10, p.keys = 9;
    QCOMPARE(settingErrorOf([&] { attempt(p); }),
             QStringLiteral("queries: must not exceed the keys (9) with the causal mask"));
    // Spans of the wrong length are the caller's mistake, not the user's.
    p = {};
    p.heads = 1, p.queries = 2, p.keys = 3, p.headDim = 4;
    const std::vector<float> q(8), kv(12), shortBias(2);
    out.assign(8, 0.0f);
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                             attention::forward(p, q, kv, kv, shortBias, out));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, attention::forward(p, q, q, kv, none, out));
    attention::forward(p, q, kv, kv, none, out); // the right sizes
}

void TestAttention::cudaMatchesCpu_data() {
    QTest::addColumn<int>("heads");
    QTest::addColumn<int>("queries");
    QTest::addColumn<int>("keys");
    QTest::addColumn<int>("dim");
    QTest::addColumn<bool>("causal");
    QTest::addColumn<float>("lambda"); ///< NaN: no bias
    // Small sizes (the emulator runs every thread as a fiber), chosen to cover the kernel's 16
    // queries x 64 keys tiles: partial tiles, several key tiles, the causal diagonal inside a tile.
    const float none = std::nanf("");
    QTest::newRow("plain") << 2 << 20 << 70 << 12 << false << none;
    QTest::newRow("bias") << 2 << 20 << 70 << 12 << false << 0.5f;
    QTest::newRow("causal, Q < K, bias") << 2 << 19 << 70 << 16 << true << 0.5f;
    QTest::newRow("causal, Q == K") << 1 << 33 << 33 << 8 << true << none;
    QTest::newRow("head dim 128, bias") << 1 << 17 << 65 << 128 << false << 0.25f;
    QTest::newRow("lambda 40 over three key tiles") << 1 << 16 << 130 << 8 << false << 40.0f;
    QTest::newRow("one of each") << 1 << 1 << 1 << 1 << false << 1.0f;
}

void TestAttention::cudaMatchesCpu() {
    if (!gpu::isAvailable())
        QSKIP(qPrintable(QString::fromStdString("no CUDA device: " + gpu::unavailableReason())));
    QFETCH(int, heads);
    QFETCH(int, queries);
    QFETCH(int, keys);
    QFETCH(int, dim);
    QFETCH(bool, causal);
    QFETCH(float, lambda);
    AttentionParams p;
    p.heads = heads, p.queries = queries, p.keys = keys, p.headDim = dim, p.causal = causal;
    p.lambda = std::isnan(lambda) ? 0.0f : lambda;
    const auto q = normals(std::size_t(heads) * queries * dim, 21);
    const auto k = normals(std::size_t(heads) * keys * dim, 22);
    const auto v = normals(std::size_t(heads) * keys * dim, 23);
    const auto bias = std::isnan(lambda) ? std::vector<float>{} : saliencyOf(keys, 24);
    const std::vector<double> expected = referenceForward(p, q, k, v, bias);
    const std::vector<float> cpu = run(p, q, k, v, bias);
    std::vector<float> cuda(q.size(), std::nanf(""));
    gpu::attentionForward(p, q, k, v, bias, cuda);
    const double vScale = std::abs(*std::max_element(
        v.begin(), v.end(), [](float a, float b) { return std::abs(a) < std::abs(b); }));
    // The same tolerance as the CPU's against the reference: float32 sums in another order.
    for (std::size_t i = 0; i < expected.size(); ++i) {
        QVERIFY2(std::abs(double(cuda[i]) - expected[i]) <= 1e-5 * vScale,
                 qPrintable(QStringLiteral("O[%1] = %2, expected %3")
                                .arg(i)
                                .arg(double(cuda[i]), 0, 'g', 9)
                                .arg(expected[i], 0, 'g', 9)));
        QVERIFY2(std::abs(double(cuda[i]) - double(cpu[i])) <= 1e-5 * vScale,
                 qPrintable(QString::number(i)));
    }
}

void TestAttention::cudaTimedRuns() {
    if (!gpu::isAvailable())
        QSKIP("no CUDA device");
    AttentionParams p;
    p.heads = 1, p.queries = 16, p.keys = 64, p.headDim = 8, p.lambda = 0.5f;
    const auto q = normals(16 * 8, 31), k = normals(64 * 8, 32), v = normals(64 * 8, 33);
    const auto bias = saliencyOf(64, 34);
    std::vector<float> timed(q.size()), once(q.size());
    const gpu::AttentionRuns runs = gpu::timeAttention(p, q, k, v, bias, timed, 3);
    QCOMPARE(runs.plainMs.size(), std::size_t(3));
    QCOMPARE(runs.steeredMs.size(), std::size_t(3));
    for (double ms : runs.plainMs)
        QVERIFY(ms >= 0);
    // The timed runs leave the steered O, as one forward does.
    gpu::attentionForward(p, q, k, v, bias, once);
    QVERIFY(timed == once);
    const gpu::AttentionRuns plainOnly = gpu::timeAttention(p, q, k, v, {}, timed, 2);
    QCOMPARE(plainOnly.plainMs.size(), std::size_t(2));
    QVERIFY(plainOnly.steeredMs.empty());
}

void TestAttention::cudaErrors() {
    AttentionParams p;
    p.heads = 1, p.queries = 2, p.keys = 2, p.headDim = 129;
    std::vector<float> q(2 * 129), out(2 * 129);
    // Sizes are checked before the device: the same message with a GPU or without.
    QCOMPARE(settingErrorOf([&] { gpu::attentionForward(p, q, q, q, {}, out); }),
             QStringLiteral("head-dim: must be at most 128 on the CUDA backend"));
    if (gpu::isAvailable())
        return;
    p.headDim = 8;
    q.assign(16, 0.0f), out.assign(16, 0.0f);
    QCOMPARE(settingErrorOf([&] { gpu::attentionForward(p, q, q, q, {}, out); }),
             QString::fromStdString("backend: cuda: " + gpu::unavailableReason()));
}

QTEST_GUILESS_MAIN(TestAttention)
#include "tst_attention.moc"
