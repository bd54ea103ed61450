// Attention dumps as workloads: layers and their selection, the checks made when a dump is
// loaded, per-layer metrics, the sidecar JSON and the --layer / --image-grid values. The readers
// of the containers and dtypes are tst_tensor_file's.
#include "reference.h"
#include "test_support.h"

#include "attnsteer/backend.h"
#include "attnsteer/dump_meta.h"
#include "attnsteer/errors.h"
#include "attnsteer/metrics.h"
#include "attnsteer/npy.h"
#include "attnsteer/option_values.h"
#include "attnsteer/random.h"
#include "attnsteer/workload.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <limits>

using namespace attnsteer;
using testsupport::defaultSaliency;
using testsupport::errorOf;

namespace {

constexpr float kMasked = -std::numeric_limits<float>::infinity();

/// Value I of a LAYERS x HEADS x QUERIES x KEYS logits tensor: distinct per element, so a row
/// read from the wrong place shows.
float logitAt(std::size_t i) {
    return float(philoxNormal(5, RandomStream::Logits, i));
}

std::vector<float> logitValues(int layers, int heads, int queries, int keys) {
    std::vector<float> values(std::size_t(layers) * heads * queries * keys);
    for (std::size_t i = 0; i < values.size(); ++i)
        values[i] = logitAt(i);
    return values;
}

/// A probability tensor (softmax of logitValues per row) as float32.
std::vector<float> attentionValues(int layers, int heads, int queries, int keys) {
    std::vector<float> values = logitValues(layers, heads, queries, keys);
    for (std::size_t row = 0; row < values.size() / std::size_t(keys); ++row) {
        float* r = values.data() + row * std::size_t(keys);
        double sum = 0;
        for (int k = 0; k < keys; ++k)
            sum += std::exp(double(r[k]));
        for (int k = 0; k < keys; ++k)
            r[k] = float(std::exp(double(r[k])) / sum);
    }
    return values;
}

void writeText(const QString& path, const QByteArray& text) {
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    file.write(text);
}

} // namespace

class TestDumps : public QObject {
    Q_OBJECT

  private slots:
    void layersAreBackendHeads();
    void selectingLayers();
    void chooseLayersCountsFromTheEnd();
    void splitLayersMatchesLayersAlone();
    void multiLayerFileMatchesReference();
    void loadChecksNameTheLayer();
    void maskedLogitsAreAccepted();
    void sidecarIsRead();
    void sidecarErrors_data();
    void sidecarErrors();
    void sidecarIsFoundBesideTheDump();
    void queryRowsAndKeys();
    void optionValues();
};

void TestDumps::layersAreBackendHeads() {
    const int layers = 3, heads = 2, queries = 4, keys = 5;
    const Workload workload =
        Workload::fromValues(heads, queries, keys, logitValues(layers, heads, queries, keys),
                             WorkloadSource::FileLogits, "memory", layers);
    QCOMPARE(workload.layers(), 3);
    QCOMPARE(workload.sourceLayers(), 3);
    QCOMPARE(workload.headsPerLayer(), 2);
    QCOMPARE(workload.heads(), 6);
    QCOMPARE(workload.rowCount(), std::size_t(24));
    QCOMPARE(workload.unitOf(2, 1), 5);
    QCOMPARE(workload.headOfUnit(5), 1);
    QCOMPARE(workload.layerOfUnit(5), 2);
    // Row (unit, q) is element ((l * H + h) * Q + q) * K + k of the tensor.
    const auto row = workload.rowValues(workload.unitOf(2, 1), 3);
    for (int k = 0; k < keys; ++k)
        QCOMPARE(row[std::size_t(k)],
                 logitAt(std::size_t(((2 * heads + 1) * queries + 3) * keys + k)));
    // A block of rows across a layer boundary.
    std::vector<float> block(std::size_t(6) * keys);
    workload.fillRows(5, 6, block.data());
    for (std::size_t i = 0; i < block.size(); ++i)
        QCOMPARE(block[i], logitAt(5 * std::size_t(keys) + i));
}

void TestDumps::selectingLayers() {
    const int layers = 4, heads = 2, queries = 3, keys = 6;
    const Workload all =
        Workload::fromValues(heads, queries, keys, logitValues(layers, heads, queries, keys),
                             WorkloadSource::FileLogits, "memory", layers);
    const std::vector<int> chosen = {3, 1};
    const Workload some = all.selectLayers(chosen);
    QCOMPARE(some.layers(), 2);
    QCOMPARE(some.sourceLayers(), 4);
    QCOMPARE(some.sourceLayer(0), 3);
    QCOMPARE(some.sourceLayer(1), 1);
    QCOMPARE(some.heads(), 4);
    QVERIFY(some.id() != all.id());
    // Unit 2 is head 0 of the second layer chosen, source layer 1.
    const auto row = some.rowValues(2, 1);
    for (int k = 0; k < keys; ++k)
        QCOMPARE(row[std::size_t(k)],
                 logitAt(std::size_t(((1 * heads + 0) * queries + 1) * keys + k)));
    // The blocks the backends read follow the selection across its layers.
    std::vector<float> block(std::size_t(some.rowCount()) * keys);
    some.fillRows(0, some.rowCount(), block.data());
    const std::size_t perLayer = std::size_t(heads) * queries * keys;
    for (std::size_t i = 0; i < perLayer; ++i) {
        QCOMPARE(block[i], logitAt(3 * perLayer + i));
        QCOMPARE(block[perLayer + i], logitAt(perLayer + i));
    }
    QCOMPARE(errorOf([&] { all.selectLayers(std::vector<int>{4}); }),
             QStringLiteral("--layer: layer 4 is out of range 0..3"));
    QCOMPARE(errorOf([&] { all.selectLayers(std::vector<int>{}); }),
             QStringLiteral("--layer: no layer selected"));
}

void TestDumps::chooseLayersCountsFromTheEnd() {
    QCOMPARE(chooseLayers(std::nullopt, 3), (std::vector<int>{0, 1, 2}));
    QCOMPARE(chooseLayers(0, 3), (std::vector<int>{0}));
    QCOMPARE(chooseLayers(-1, 3), (std::vector<int>{2}));
    QCOMPARE(chooseLayers(-3, 3), (std::vector<int>{0}));
    QCOMPARE(errorOf([] { chooseLayers(3, 3); }),
             QStringLiteral("--layer: layer 3 is out of range -3..2 (3 layers)"));
    QCOMPARE(errorOf([] { chooseLayers(-4, 3); }),
             QStringLiteral("--layer: layer -4 is out of range -3..2 (3 layers)"));
    QCOMPARE(errorOf([] { chooseLayers(1, 1); }),
             QStringLiteral("--layer: layer 1 is out of range -1..0 (1 layer)"));
}

void TestDumps::splitLayersMatchesLayersAlone() {
    const int layers = 3, heads = 2, queries = 7, keys = 33;
    const Workload all =
        Workload::fromValues(heads, queries, keys, attentionValues(layers, heads, queries, keys),
                             WorkloadSource::FileAttention, "memory", layers);
    const auto s = defaultSaliency(keys, 3);
    SteeringParams params;
    params.lambda = 2.0;
    params.steeredHeads = {1};
    const auto backend = makeCpuBackend();
    const Metrics metrics = backend->evaluate(all, s, params);
    QCOMPARE(int(metrics.heads.size()), layers * heads);
    const LayeredMetrics split = splitLayers(metrics, layers, heads);
    QCOMPARE(int(split.layers.size()), layers);
    QCOMPARE(int(split.aggregate.heads.size()), heads);
    // The totals over every row are kept; per-layer numbers are those of the layer alone.
    QCOMPARE(split.aggregate.total.kl, metrics.total.kl);
    for (int l = 0; l < layers; ++l) {
        const Metrics alone = backend->evaluate(all.selectLayers(std::vector<int>{l}), s, params);
        const Metrics& part = split.layers[std::size_t(l)];
        QCOMPARE(int(part.heads.size()), heads);
        QVERIFY(std::abs(part.total.kl - alone.total.kl) <= 1e-12 * alone.total.kl);
        QVERIFY(std::abs(part.total.entropySteered - alone.total.entropySteered) <= 1e-12);
        QVERIFY(std::abs(part.total.entropyReductionPct - alone.total.entropyReductionPct) <= 1e-9);
        // Head 0 is not steered in any layer.
        QCOMPARE(part.heads[0].kl, 0.0);
        QVERIFY(part.heads[1].kl > 0);
    }
    // Aggregate head h: the mean of head h over the layers.
    for (int h = 0; h < heads; ++h) {
        double kl = 0, original = 0;
        for (int l = 0; l < layers; ++l) {
            kl += metrics.heads[std::size_t(l * heads + h)].kl;
            original += metrics.heads[std::size_t(l * heads + h)].entropyOriginal;
        }
        QVERIFY(std::abs(split.aggregate.heads[std::size_t(h)].kl - kl / layers) <= 1e-15);
        QVERIFY(std::abs(split.aggregate.heads[std::size_t(h)].entropyOriginal -
                         original / layers) <= 1e-14);
    }
}

void TestDumps::multiLayerFileMatchesReference() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const int layers = 2, heads = 2, queries = 5, keys = 40;
    // [L,1,H,Q,K]: a stacked output_attentions tuple with batch 1, written by numpy's rules.
    const std::string path = dir.filePath("stacked.npy").toStdString();
    const std::vector<std::size_t> shape = {std::size_t(layers), 1, std::size_t(heads),
                                            std::size_t(queries), std::size_t(keys)};
    writeNpy(path, shape, attentionValues(layers, heads, queries, keys));
    const Workload workload = Workload::loadAttention(path);
    QCOMPARE(workload.layers(), layers);
    QCOMPARE(workload.heads(), layers * heads);
    QCOMPARE(workload.storedDtype(), std::string("float32"));
    const auto s = defaultSaliency(keys, 1);
    SteeringParams params;
    params.lambda = 1.5;
    params.steeredHeads = {0};
    const Metrics metrics = makeCpuBackend()->evaluate(workload, s, params);
    for (int unit = 0; unit < workload.heads(); ++unit) {
        const auto expected =
            reference::evaluate(workload, s, params.lambda, params.eps, params.steeredHeads, unit);
        const MetricSummary& got = metrics.heads[std::size_t(unit)];
        QVERIFY(std::abs(got.kl - expected.kl) <= 1e-9 * std::max(expected.kl, 1e-12));
        QVERIFY(std::abs(got.entropySteered - expected.entropySteered) <= 1e-9);
    }
}

void TestDumps::loadChecksNameTheLayer() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    auto write = [&](const char* name, std::vector<std::size_t> shape, std::vector<float> data) {
        const std::string path = dir.filePath(name).toStdString();
        writeNpy(path, shape, data);
        return path;
    };
    // Layer 1, head 0, query 1 sums to 1.5.
    std::vector<float> twoLayers(2 * 1 * 2 * 2, 0.5f);
    twoLayers[6] = 1.0f;
    const auto badSum = write("sum.npy", {2, 1, 2, 2}, twoLayers);
    QCOMPARE(
        errorOf([&] { Workload::loadAttention(badSum); }),
        QString::fromStdString(badSum + ": row (1, 0, 1) sums to 1.5, expected 1 within 1e-3"));
    const auto negative = write("neg.npy", {2, 1, 1, 2}, {0.5f, 0.5f, 1.5f, -0.5f});
    QCOMPARE(errorOf([&] { Workload::loadAttention(negative); }),
             QString::fromStdString(negative + ": negative probability at (1, 0, 0, 1)"));
    const auto plusInf = write("inf.npy", {2, 3}, {0, 0, INFINITY, 0, 0, 0});
    QCOMPARE(errorOf([&] { Workload::loadLogits(plusInf); }),
             QString::fromStdString(plusInf + ": contains +Inf at (0, 0, 2)"));
    const auto allMasked = write("masked.npy", {2, 2}, {0, kMasked, kMasked, kMasked});
    QCOMPARE(errorOf([&] { Workload::loadLogits(allMasked); }),
             QString::fromStdString(allMasked +
                                    ": row (0, 1) is masked everywhere (every logit is -inf)"));
    // The first bad row of the file is the one reported, also when a later one is bad too.
    std::vector<float> many(64 * 3, 1.0f / 3);
    many[40 * 3] = 1.0f;
    many[63 * 3] = -1.0f;
    const auto firstOfTwo = write("two.npy", {64, 3}, many);
    QCOMPARE(errorOf([&] { Workload::loadAttention(firstOfTwo); }),
             QString::fromStdString(firstOfTwo +
                                    ": row (0, 40) sums to 1.66667, expected 1 within 1e-3"));
}

void TestDumps::maskedLogitsAreAccepted() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = dir.filePath("causal.npy").toStdString();
    // Q = K = 3, causal: row q sees keys 0..q.
    const std::vector<float> logits = {0.5f,    kMasked, kMasked, 0.1f, 0.2f,
                                       kMasked, 0.3f,    -0.2f,   0.9f};
    writeNpy(path, std::vector<std::size_t>{3, 3}, logits);
    const Workload workload = Workload::loadLogits(path);
    std::vector<double> row(3);
    workload.attentionRow(0, 1, row);
    const double e0 = std::exp(double(0.1f) - double(0.2f)), e1 = 1.0;
    QCOMPARE(row[0], e0 / (e0 + e1));
    QCOMPARE(row[1], e1 / (e0 + e1));
    QCOMPARE(row[2], 0.0);
    // Without eps masked keys stay at 0 after steering (with eps they get eps e^{lambda s}, as
    // any zero does); the metrics are finite and match the reference either way.
    const std::vector<double> s = {0.0, 1.0, 0.5};
    SteeringParams params;
    params.lambda = 3;
    params.eps = 0;
    const auto steered = makeCpuBackend()->row(workload, s, params, 0, 0);
    QCOMPARE(steered.steered[1], 0.0);
    QCOMPARE(steered.steered[0], 1.0);
    const Metrics exact = makeCpuBackend()->evaluate(workload, s, params);
    const auto expectedExact = reference::evaluate(workload, s, params.lambda, 0, {}, -1);
    QVERIFY(std::abs(exact.total.kl - expectedExact.kl) <= 1e-9 * expectedExact.kl);
    params.eps = 1e-9;
    const Metrics metrics = makeCpuBackend()->evaluate(workload, s, params);
    const auto expected = reference::evaluate(workload, s, params.lambda, params.eps, {}, -1);
    QVERIFY(std::abs(metrics.total.kl - expected.kl) <= 1e-9 * expected.kl);
    QVERIFY(std::abs(metrics.total.entropyOriginal - expected.entropyOriginal) <= 1e-12);
}

void TestDumps::sidecarIsRead() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    writeText(dir.filePath("photo.png"), "not decoded here");
    QVERIFY(QDir(dir.path()).mkdir("dumps"));
    const QString json = dir.filePath("dumps/run.json");
    // K = 3 text + 1 x (4/2) x (6/2) = 6 vision + 1 text = 10 keys; Q = 2 rows kept.
    writeText(json, R"({"tokens": ["<s>", "Where", "<|vision_start|>", "<|image_pad|>",
        "<|image_pad|>", "<|image_pad|>", "<|image_pad|>", "<|image_pad|>", "<|image_pad|>", "?"],
        "vision_start": 3, "image_grid_thw": [1, 4, 6], "spatial_merge_size": 2,
        "image": "../photo.png", "query_positions": [8, 9], "kind": "attention",
        "model": "synthetic", "model_layers": [0, 5]})");
    const DumpMeta meta = readDumpMeta(json.toStdString(), 10, 2);
    QCOMPARE(meta.tokens.size(), std::size_t(10));
    QCOMPARE(meta.tokens[1], std::string("Where"));
    QCOMPARE(*meta.visionStart, 3);
    QCOMPARE(meta.grid.frames, 1);
    QCOMPARE(meta.grid.rows, 2);
    QCOMPARE(meta.grid.cols, 3);
    QVERIFY(meta.hasVisionSpan());
    QCOMPARE(QString::fromStdString(meta.imagePath), QDir::cleanPath(dir.filePath("photo.png")));
    QCOMPARE(meta.queryPositions, (std::vector<int>{8, 9}));
    QCOMPARE(meta.kind, std::string("attention"));
    QCOMPARE(meta.model, std::string("synthetic"));
    // A sidecar may say only some of it; merge size 1 keeps the grid as given.
    const QString small = dir.filePath("small.json");
    writeText(small,
              R"({"vision_start": 0, "image_grid_thw": [2, 2, 3], "spatial_merge_size": 1})");
    const DumpMeta video = readDumpMeta(small.toStdString(), 12, 12);
    QCOMPARE(video.grid.tokenCount(), std::int64_t(12));
    QVERIFY(video.tokens.empty());
}

void TestDumps::sidecarErrors_data() {
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("problem");
    // Against a dump of 10 keys and 4 query rows.
    QTest::newRow("not JSON") << QByteArray("{\"tokens\": [") << "not valid JSON (at byte 13)";
    QTest::newRow("not an object") << QByteArray("[1, 2]") << "expected a JSON object";
    QTest::newRow("number beyond a double")
        << QByteArray(R"({"x": 1e400})") << "not valid JSON (a value out of range)";
    QTest::newRow("token count") << QByteArray(R"({"tokens": ["a", "b"]})")
                                 << "tokens has 2 entries, expected 10 (keys)";
    QTest::newRow("token type") << QByteArray(R"({"tokens": [1,2,3,4,5,6,7,8,9,10]})")
                                << "tokens[0] must be a string";
    QTest::newRow("span beyond K")
        << QByteArray(R"({"vision_start": 5, "image_grid_thw": [1, 4, 6]})")
        << "the 6 vision tokens from vision_start 5 end at key 11, beyond the 10 keys";
    QTest::newRow("not divisible")
        << QByteArray(R"({"vision_start": 0, "image_grid_thw": [1, 3, 4]})")
        << "image_grid_thw h x w = 3 x 4 is not divisible by spatial_merge_size 2";
    QTest::newRow("start without grid")
        << QByteArray(R"({"vision_start": 0})") << "vision_start needs image_grid_thw";
    QTest::newRow("grid without start")
        << QByteArray(R"({"image_grid_thw": [1, 2, 2]})") << "image_grid_thw needs vision_start";
    QTest::newRow("start out of range")
        << QByteArray(R"({"vision_start": 10, "image_grid_thw": [1, 2, 2]})")
        << "vision_start is 10, expected 0..9";
    QTest::newRow("start not an integer")
        << QByteArray(R"({"vision_start": "3", "image_grid_thw": [1, 2, 2]})")
        << "vision_start must be an integer";
    QTest::newRow("grid shape") << QByteArray(R"({"vision_start": 0, "image_grid_thw": [2, 2]})")
                                << "image_grid_thw must be [t, h, w]";
    QTest::newRow("query positions count") << QByteArray(R"({"query_positions": [0, 1]})")
                                           << "query_positions must list 4 key indices (one per "
                                              "query row)";
    QTest::newRow("query position range") << QByteArray(R"({"query_positions": [0, 1, 2, 10]})")
                                          << "query_positions[3] is 10, expected 0..9";
    QTest::newRow("missing image")
        << QByteArray(R"({"image": "gone\n.png"})") << "image 'gone?.png' does not exist";
    QTest::newRow("kind") << QByteArray(R"({"kind": "scores"})")
                          << "kind must be \"attention\" or \"logits\"";
}

void TestDumps::sidecarErrors() {
    QFETCH(QByteArray, json);
    QFETCH(QString, problem);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath("dump.json");
    writeText(path, json);
    QCOMPARE(errorOf([&] { readDumpMeta(path.toStdString(), 10, 4); }), path + ": " + problem);
}

void TestDumps::sidecarIsFoundBesideTheDump() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string dump = dir.filePath("run.safetensors").toStdString();
    QCOMPARE(sidecarPathFor(dump), std::string());
    writeText(dir.filePath("run.json"), "{}");
    QCOMPARE(sidecarPathFor(dump), dir.filePath("run.json").toStdString());
    // A dump named .json has no sidecar of its own.
    QCOMPARE(sidecarPathFor(dir.filePath("run.json").toStdString()), std::string());
    const std::string missing = dir.filePath("none.json").toStdString();
    QCOMPARE(errorOf([&] { readDumpMeta(missing, 4, 4); }),
             QString::fromStdString(missing + ": cannot open: No such file or directory"));
}

void TestDumps::queryRowsAndKeys() {
    DumpMeta meta;
    // Every position a row.
    QCOMPARE(meta.keyOfQuery(3, 10, 10), 3);
    QCOMPARE(meta.queryOfKey(3, 10, 10), 3);
    // The last 4 of 10 positions kept.
    QCOMPARE(meta.keyOfQuery(0, 4, 10), 6);
    QCOMPARE(meta.queryOfKey(9, 4, 10), 3);
    QCOMPARE(meta.queryOfKey(5, 4, 10), -1);
    meta.queryPositions = {2, 7};
    QCOMPARE(meta.keyOfQuery(1, 2, 10), 7);
    QCOMPARE(meta.queryOfKey(7, 2, 10), 1);
    QCOMPARE(meta.queryOfKey(3, 2, 10), -1);
}

void TestDumps::optionValues() {
    QCOMPARE(parseLayerChoice("all"), std::optional<int>());
    QCOMPARE(parseLayerChoice("-1"), std::optional<int>(-1));
    QCOMPARE(parseLayerChoice("12"), std::optional<int>(12));
    QCOMPARE(errorOf([] { parseLayerChoice("last"); }),
             QStringLiteral("--layer: 'last' is neither all nor a layer index"));
    const ImageGrid grid = parseImageGrid("24x32");
    QCOMPARE(grid.rows, 24);
    QCOMPARE(grid.cols, 32);
    QCOMPARE(grid.frames, 1);
    QCOMPARE(parseImageGrid("3X4").cols, 4);
    QCOMPARE(errorOf([] { parseImageGrid("24"); }),
             QStringLiteral("--image-grid: '24' is not ROWSxCOLS, e.g. 24x24"));
    QCOMPARE(errorOf([] { parseImageGrid("0x4"); }),
             QStringLiteral("--image-grid: must be at least 1"));
    QCOMPARE(errorOf([] { parseImageGrid("5000x5000"); }),
             QStringLiteral("--image-grid: more than 2^24 vision tokens"));
}

QTEST_GUILESS_MAIN(TestDumps)
#include "tst_dumps.moc"
