// The command line end to end: runs the built attnsteer-cli with QProcess on small workloads and
// compares what it prints with what the core computes in this process. Input files (.npy, PNG)
// are written byte by byte into a temporary folder, so the suite needs no NumPy; QImage reads back
// the pictures of `plot`.

#include "attnsteer/backend.h"
#include "attnsteer/gpu.h"
#include "attnsteer/grounding.h"
#include "attnsteer/metrics.h"
#include "attnsteer/npy.h"
#include "attnsteer/profile.h"
#include "attnsteer/projection.h"
#include "attnsteer/random.h"
#include "attnsteer/saliency.h"
#include "attnsteer/simulated_saliency.h"
#include "attnsteer/sweep.h"
#include "attnsteer/transformer_block.h"
#include "attnsteer/workload.h"
#include "image_support.h"

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include <csignal>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace attnsteer;

using testsupport::distinctColours;

namespace {

struct CliRun {
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

CliRun runCli(const QStringList& arguments,
              const QProcessEnvironment& environment = QProcessEnvironment::systemEnvironment()) {
    QProcess process;
    process.setProcessEnvironment(environment);
    process.setProgram(QStringLiteral(ATTNSTEER_CLI_PATH));
    process.setArguments(arguments);
    process.start();
    CliRun run;
    if (!process.waitForStarted(30000)) {
        run.err = "could not start " ATTNSTEER_CLI_PATH;
        return run;
    }
    process.closeWriteChannel();
    if (!process.waitForFinished(120000)) {
        process.kill();
        process.waitForFinished();
        run.err = "timed out";
        return run;
    }
    run.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
    run.out = process.readAllStandardOutput();
    run.err = process.readAllStandardError();
    return run;
}

/// |a - b| <= relative * |b| (equal values always pass, 0 included).
bool close(double actual, double expected, double relative = 1e-12) {
    if (actual == expected)
        return true;
    return std::abs(actual - expected) <= relative * std::max(std::abs(expected), 1e-300);
}

/// The backends' contract between CPU and CUDA (tests/tst_backends.cpp): 1e-6 relative, plus
/// FLOOR for values that are 0 up to rounding (KL at lambda 0).
bool withinBackendContract(double actual, double expected, double floor) {
    return std::abs(actual - expected) <= 1e-6 * std::abs(expected) + floor;
}

#define COMPARE_CLOSE(actual, expected)                                                            \
    do {                                                                                           \
        const double a_ = (actual), e_ = (expected);                                               \
        if (!close(a_, e_))                                                                        \
            QFAIL(qPrintable(QStringLiteral("%1 = %2, expected %3")                                \
                                 .arg(QStringLiteral(#actual))                                     \
                                 .arg(a_, 0, 'g', 17)                                              \
                                 .arg(e_, 0, 'g', 17)));                                           \
    } while (false)

// ---- .npy files ---------------------------------------------------------------------------------

/// A version 1.0 .npy file: magic, version, header length, the dict padded with spaces and ended by
/// '\n' so that the data starts at a multiple of 128 bytes, then little-endian data.
QByteArray npyBytes(const QByteArray& descr, const std::vector<std::size_t>& shape,
                    const QByteArray& data) {
    QByteArray shapeText = "(";
    for (std::size_t i = 0; i < shape.size(); ++i)
        shapeText += (i ? ", " : "") + QByteArray::number(qulonglong(shape[i]));
    shapeText += shape.size() == 1 ? ",)" : ")";
    const QByteArray dict =
        "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shapeText + ", }";
    const int preamble = 10;
    const int total = (preamble + int(dict.size()) + 1 + 127) / 128 * 128;
    const int headerSize = total - preamble;
    QByteArray out("\x93NUMPY\x01\x00", 8);
    out += char(headerSize & 0xff);
    out += char(headerSize >> 8);
    out += dict;
    out += QByteArray(headerSize - int(dict.size()) - 1, ' ');
    out += '\n';
    return out + data;
}

QByteArray floatBytes(const std::vector<float>& values) {
    // x86 and ARM Linux are little-endian, as .npy's '<f4' is.
    return QByteArray(reinterpret_cast<const char*>(values.data()),
                      qsizetype(values.size() * sizeof(float)));
}

void writeFile(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    QVERIFY2(file.open(QIODevice::WriteOnly | QIODevice::Truncate), qPrintable(path));
    QCOMPARE(file.write(bytes), bytes.size());
}

// ---- PNG files ----------------------------------------------------------------------------------

quint32 crc32(const QByteArray& bytes) {
    static const std::vector<quint32> table = [] {
        std::vector<quint32> t(256);
        for (quint32 n = 0; n < 256; ++n) {
            quint32 c = n;
            for (int k = 0; k < 8; ++k)
                c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }();
    quint32 c = 0xffffffffu;
    for (char byte : bytes)
        c = table[(c ^ quint8(byte)) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

void appendBigEndian(QByteArray& out, quint32 value) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out += char((value >> shift) & 0xff);
}

QByteArray pngChunk(const QByteArray& type, const QByteArray& data) {
    QByteArray out;
    appendBigEndian(out, quint32(data.size()));
    out += type + data;
    appendBigEndian(out, crc32(type + data));
    return out;
}

/// A zlib stream of stored (uncompressed) deflate blocks.
QByteArray zlibStored(const QByteArray& data) {
    QByteArray out("\x78\x01", 2);
    qsizetype offset = 0;
    do {
        const qsizetype length = std::min<qsizetype>(65535, data.size() - offset);
        const bool final = offset + length == data.size();
        out += char(final ? 1 : 0);
        out += char(length & 0xff);
        out += char(length >> 8);
        out += char(~length & 0xff);
        out += char((~length >> 8) & 0xff);
        out += data.mid(offset, length);
        offset += length;
    } while (offset < data.size());
    quint32 a = 1, b = 0;
    for (char byte : data) {
        a = (a + quint8(byte)) % 65521;
        b = (b + a) % 65521;
    }
    appendBigEndian(out, (b << 16) | a);
    return out;
}

/// A greyscale PNG of BITS (8 or 16) bits per pixel with PIXEL(x, y) as the grey value.
QByteArray grayPng(int width, int height, int bits, const std::function<int(int, int)>& pixel) {
    QByteArray header;
    appendBigEndian(header, quint32(width));
    appendBigEndian(header, quint32(height));
    header += char(bits);
    header += QByteArray(4, '\0'); // colour type 0 (grey), compression, filter, no interlace
    QByteArray raw;
    for (int y = 0; y < height; ++y) {
        raw += '\0'; // filter: none
        for (int x = 0; x < width; ++x) {
            const int value = pixel(x, y);
            if (bits == 16)
                raw += char((value >> 8) & 0xff);
            raw += char(value & 0xff);
        }
    }
    return QByteArray("\x89PNG\r\n\x1a\n", 8) + pngChunk("IHDR", header) +
           pngChunk("IDAT", zlibStored(raw)) + pngChunk("IEND", {});
}

// ---- the core, in process -----------------------------------------------------------------------

WorkloadSpec smallSpec(std::uint64_t seed = 0) {
    WorkloadSpec spec;
    spec.heads = 2;
    spec.queries = 16;
    spec.keys = 64;
    spec.seed = seed;
    return spec;
}

/// A small workload on the CPU backend: what the tests compare with is the CPU backend in this
/// process (the default, auto, is tested on its own).
const QStringList kSmall = {QStringLiteral("--heads"),   QStringLiteral("2"),
                            QStringLiteral("--queries"), QStringLiteral("16"),
                            QStringLiteral("--keys"),    QStringLiteral("64"),
                            QStringLiteral("--backend"), QStringLiteral("cpu")};

/// The notice of --backend auto without a usable device.
QString autoFallbackNotice() {
    return QStringLiteral("attnsteer-cli: notice: no CUDA device (%1); using the CPU backend\n")
        .arg(QString::fromStdString(gpu::unavailableReason()));
}

QByteArray readAll(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return file.readAll();
}

QJsonObject parseObject(const QByteArray& text) {
    QJsonParseError error{};
    const QJsonDocument document = QJsonDocument::fromJson(text, &error);
    if (error.error != QJsonParseError::NoError || !document.isObject())
        return {};
    return document.object();
}

const QSet<QString> kSummaryKeys = {QStringLiteral("entropy_original"),
                                    QStringLiteral("entropy_steered"),
                                    QStringLiteral("entropy_reduction_pct"),
                                    QStringLiteral("kl"),
                                    QStringLiteral("saliency_expectation_original"),
                                    QStringLiteral("saliency_expectation_steered"),
                                    QStringLiteral("rows_steered_fraction")};
/// What a summary adds where the grounding pass ran (a vision span or a target).
const QSet<QString> kGroundingKeys = {
    QStringLiteral("vision_mass"),         QStringLiteral("target_mass_original"),
    QStringLiteral("target_mass_steered"), QStringLiteral("pointing_original"),
    QStringLiteral("pointing_steered"),    QStringLiteral("saliency_correlation"),
    QStringLiteral("spatial_entropy")};

QSet<QString> keySet(const QJsonObject& object) {
    const QStringList keys = object.keys();
    return QSet<QString>(keys.begin(), keys.end());
}

/// The numbers of EXPECTED in OBJECT; with EXACT_KEYS, nothing else is there but, where the
/// grounding pass ran, its keys.
void compareSummary(const QJsonObject& object, const MetricSummary& expected,
                    bool exactKeys = true) {
    if (exactKeys)
        QCOMPARE(keySet(object) - kGroundingKeys, kSummaryKeys);
    COMPARE_CLOSE(object.value("entropy_original").toDouble(), expected.entropyOriginal);
    COMPARE_CLOSE(object.value("entropy_steered").toDouble(), expected.entropySteered);
    COMPARE_CLOSE(object.value("entropy_reduction_pct").toDouble(), expected.entropyReductionPct);
    COMPARE_CLOSE(object.value("kl").toDouble(), expected.kl);
    COMPARE_CLOSE(object.value("saliency_expectation_original").toDouble(),
                  expected.saliencyExpectationOriginal);
    COMPARE_CLOSE(object.value("saliency_expectation_steered").toDouble(),
                  expected.saliencyExpectationSteered);
    COMPARE_CLOSE(object.value("rows_steered_fraction").toDouble(), expected.rowsSteeredFraction);
}

} // namespace

class TestCli : public QObject {
    Q_OBJECT

  private:
    QTemporaryDir dir_;
    QString path(const QString& name) const { return dir_.filePath(name); }

  private slots:
    void initTestCase();

    void metricsJsonMatchesCore_data();
    void metricsJsonMatchesCore();
    void metricsWithSaliencyImageMatchesCore();
    void metricsText();
    void zeroLogitsGiveLogK();
    void constantSaliencyWarns();

    void sweepJsonMatchesCore();
    void sweepLambdaRange();
    void sweepTable();
    void sweepCsv();
    void sweepCsvNeedsAFolder();

    void plotWritesFourPictures();
    void plotWithSaliencyImage();
    void plotCreatesOneFolderLevel();
    void plotPerTokenModes();

    void backendCudaWithoutDevice_data();
    void backendCudaWithoutDevice();
    void backendAutoFallsBack();
    void backendCudaWithDevice();
    void autoFallsBackWhenTheDeviceIsFull();

    void projectJson();
    void metricsOfADumpPerLayer();
    void dumpLayerAndSidecarOptions();
    void profileMatchesCore();

    void attentionBench();
    void attentionBenchText();
    void attentionBenchBackends();
    void projectKeepsSixteenBits();

    // The transformer workload (issue 13).
    void transformerMetricsMatchCore_data();
    void transformerMetricsMatchCore();
    void transformerSweepMatchesCore();
    void transformerSaliencyImageOnItsGrid();
    void transformerTextAndWarnings();

    void badInput_data();
    void badInput();
    void hostileRangesEndQuickly();
    void fileNamesThatAreNotUtf8();
    void signalsRemoveTemporaryFiles();
    void concurrentPlotsDoNotMix();
    void missingCommandPrintsHelp();
    void help();
    void commandHelp();
    void version();
};

void TestCli::initTestCase() {
    QVERIFY(dir_.isValid());
    // 56 x 56: left half black, right half white.
    writeFile(path("half.png"), grayPng(56, 56, 8, [](int x, int) { return x < 28 ? 0 : 255; }));
    writeFile(path("gate.npy"), npyBytes("<f4", {5}, floatBytes({1, 2, 3, 4, 5})));
    // Only the header of a 20000 x 6000 PNG: the size check must come before any decoding.
    QByteArray hugeHeader;
    appendBigEndian(hugeHeader, 20000);
    appendBigEndian(hugeHeader, 6000);
    hugeHeader += QByteArray("\x08\0\0\0\0", 5);
    writeFile(path("huge.png"), QByteArray("\x89PNG\r\n\x1a\n", 8) + pngChunk("IHDR", hugeHeader) +
                                    pngChunk("IDAT", zlibStored("\0")) + pngChunk("IEND", {}));
    writeFile(path("empty.png"), {});
    // A valid PNG cut in half: the header reads, the pixel data ends early.
    const QByteArray valid =
        grayPng(56, 56, 8, [](int x, int y) { return (x * 7 + y * 3) & 0xff; });
    writeFile(path("truncated.png"), valid.left(valid.size() / 2));
    // Only the header of a 50000 x 50000 PNG.
    QByteArray giantHeader;
    appendBigEndian(giantHeader, 50000);
    appendBigEndian(giantHeader, 50000);
    giantHeader += QByteArray("\x08\0\0\0\0", 5);
    writeFile(path("giant.png"), QByteArray("\x89PNG\r\n\x1a\n", 8) +
                                     pngChunk("IHDR", giantHeader) +
                                     pngChunk("IDAT", zlibStored("\0")) + pngChunk("IEND", {}));
    writeFile(path("text.npy"), "this is not a numpy file\n");
    writeFile(path("text.png"), "this is not an image either\n");
    writeFile(path("short_saliency.npy"),
              npyBytes("<f4", {10}, floatBytes(std::vector<float>(10, 0.5f))));
    writeFile(path("zero_saliency.npy"),
              npyBytes("<f4", {64}, floatBytes(std::vector<float>(64, 0.0f))));
    writeFile(
        path("bad_attention.npy"),
        npyBytes("<f4", {2, 4}, floatBytes({0.25f, 0.25f, 0.25f, 0.25f, 0.5f, 0.5f, 0.5f, 0.0f})));
    writeFile(path("nan_logits.npy"),
              npyBytes("<f4", {2, 3},
                       floatBytes({0, 1, 2, 3, std::numeric_limits<float>::quiet_NaN(), 5})));
    // Hostile inputs (issue 15): a FIFO, which must not block; a GIF (not an accepted format);
    // an uncompressed BMP cut short; a 10000 x 10000 run-length BMP of 1 KB (a decompression
    // bomb); a JPEG cut short (no end-of-image marker).
    QVERIFY(::mkfifo(QFile::encodeName(path("fifo")).constData(), 0600) == 0);
    {
        QImage picture(64, 48, QImage::Format_RGB32);
        for (int y = 0; y < 48; ++y)
            for (int x = 0; x < 64; ++x)
                picture.setPixel(x, y, qRgb((x * 37 + y * 11) & 0xff, (x * y) & 0xff, 90));
        // Qt reads GIF but cannot write it: the classic 1 x 1 GIF89a, byte by byte.
        writeFile(path("picture.gif"),
                  QByteArray::fromHex("47494638396101000100800000ffffff00000021f90401000000002c"
                                      "00000000010001000002024401003b"));
        QVERIFY(picture.save(path("full.bmp"), "BMP"));
        writeFile(path("truncated.bmp"), readAll(path("full.bmp")).left(2000));
        QVERIFY(picture.scaled(400, 300).save(path("full.jpg"), "JPEG", 95));
        writeFile(path("truncated.jpg"), readAll(path("full.jpg")).left(2000));
    }
    {
        QByteArray bomb("BM");
        const auto le32 = [](QByteArray& out, quint32 v) {
            for (int i = 0; i < 4; ++i)
                out += char((v >> (8 * i)) & 0xff);
        };
        const auto le16 = [](QByteArray& out, quint16 v) {
            out += char(v & 0xff), out += char(v >> 8);
        };
        const QByteArray pixels("\0\1", 2); // RLE8: end of bitmap
        le32(bomb, 14 + 40 + 1024 + 2), le16(bomb, 0), le16(bomb, 0), le32(bomb, 14 + 40 + 1024);
        le32(bomb, 40), le32(bomb, 10000), le32(bomb, 10000), le16(bomb, 1), le16(bomb, 8);
        le32(bomb, 1), le32(bomb, 2), le32(bomb, 0), le32(bomb, 0), le32(bomb, 256), le32(bomb, 0);
        bomb += QByteArray(1024, '\0') + pixels;
        writeFile(path("bomb.bmp"), bomb);
    }
    writeFile(path("zero_logits.npy"),
              npyBytes("<f4", {8, 100}, floatBytes(std::vector<float>(800, 0.0f))));
}

void TestCli::metricsJsonMatchesCore_data() {
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<std::uint64_t>("seed");
    QTest::addColumn<QString>("normalization");
    QTest::addColumn<double>("lambda");
    QTest::addColumn<double>("eps");
    QTest::addColumn<std::vector<int>>("steeredHeads");

    QTest::newRow("defaults") << QStringList{} << std::uint64_t(0) << "max" << 0.25 << 1e-9
                              << std::vector<int>{};
    QTest::newRow("seed, lambda, one thread")
        << QStringList{"--seed", "7", "--lambda", "1", "--threads", "1"} << std::uint64_t(7)
        << "max" << 1.0 << 1e-9 << std::vector<int>{};
    QTest::newRow("zscore, eps 0, head 1")
        << QStringList{"--normalize", "zscore", "--eps", "0", "--steer-heads", "1"}
        << std::uint64_t(0) << "zscore" << 0.25 << 0.0 << std::vector<int>{1};
    QTest::newRow("minmax, heads 0:1, lambda 3")
        << QStringList{"--normalize", "minmax", "--steer-heads", "0:1", "--lambda", "3"}
        << std::uint64_t(0) << "minmax" << 3.0 << 1e-9 << std::vector<int>{0, 1};
}

void TestCli::metricsJsonMatchesCore() {
    QFETCH(QStringList, arguments);
    QFETCH(std::uint64_t, seed);
    QFETCH(QString, normalization);
    QFETCH(double, lambda);
    QFETCH(double, eps);
    QFETCH(std::vector<int>, steeredHeads);

    const CliRun run = runCli(QStringList{"metrics", "--json"} + kSmall + arguments);
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    const QJsonObject object = parseObject(run.out);
    QVERIFY2(!object.isEmpty(), run.out.constData());
    // The random workload has no vision span and no target: no grounding pass, no such keys.
    QCOMPARE(keySet(object), kSummaryKeys + QSet<QString>({"heads", "backend", "elapsed_ms"}));

    const Workload workload = Workload::generate(smallSpec(seed));
    const auto mode = parseNormalization(normalization.toStdString());
    QVERIFY(mode);
    const NormalizedSaliency saliency = normalizeSaliency(randomSaliencyRaw(64, seed), *mode);
    SteeringParams params;
    params.lambda = lambda;
    params.eps = eps;
    params.steeredHeads = steeredHeads;
    const Metrics expected = makeCpuBackend()->evaluate(workload, saliency.values, params);

    compareSummary(object, expected.total, false);
    const QJsonArray heads = object.value("heads").toArray();
    QCOMPARE(heads.size(), 2);
    for (int h = 0; h < 2; ++h)
        compareSummary(heads[h].toObject(), expected.heads[std::size_t(h)]);
    QCOMPARE(object.value("backend").toString(), QStringLiteral("cpu"));
    QVERIFY(object.value("elapsed_ms").isDouble());
    QVERIFY(object.value("elapsed_ms").toDouble() >= 0);
}

void TestCli::metricsWithSaliencyImageMatchesCore() {
    const CliRun run =
        runCli(QStringList{"metrics", "--json", "--saliency-image", path("half.png"),
                           "--vision-offset", "10", "--text-saliency", "0.5", "--lambda", "2"} +
               kSmall);
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    const QJsonObject object = parseObject(run.out);

    std::vector<float> map(56 * 56);
    for (int y = 0; y < 56; ++y)
        for (int x = 0; x < 56; ++x)
            map[std::size_t(y * 56 + x)] = x < 28 ? 0.0f : 1.0f;
    ProjectionOptions options;
    options.visionOffset = 10;
    options.textSaliency = 0.5;
    const SaliencyProjection projection = projectSaliencyMap(map, 56, 56, options, 64);
    const std::vector<double> raw = placeOnKeySequence(projection, 64, options);
    const NormalizedSaliency saliency = normalizeSaliency(raw, Normalization::Max);
    SteeringParams params;
    params.lambda = 2;
    const Metrics expected =
        makeCpuBackend()->evaluate(Workload::generate(smallSpec()), saliency.values, params);
    compareSummary(object, expected.total, false);
}

void TestCli::metricsText() {
    const CliRun run = runCli(QStringList{"metrics", "--per-head"} + kSmall);
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    const QString text = QString::fromUtf8(run.out);
    QVERIFY2(text.contains(QRegularExpression("^workload +2 x 16 x 64 ",
                                              QRegularExpression::MultilineOption)),
             qPrintable(text));
    for (const char* label : {"lambda", "eps", "entropy original", "entropy steered",
                              "entropy reduction", "KL", "backend", "elapsed"})
        QVERIFY2(text.contains(QRegularExpression(QStringLiteral("^%1 ").arg(label),
                                                  QRegularExpression::MultilineOption)),
                 label);
    QVERIFY(text.contains(QRegularExpression("^ *head ", QRegularExpression::MultilineOption)));
    QVERIFY(text.contains(QRegularExpression("^ +1 ", QRegularExpression::MultilineOption)));
}

void TestCli::zeroLogitsGiveLogK() {
    // Uniform rows over K = 100 keys: H(A) = log K.
    const QString file = path("zero_logits.npy");
    const CliRun run =
        runCli({"metrics", "--json", "--logits", file, "--keys", "7", "--backend", "cpu"});
    QCOMPARE(QString::fromUtf8(run.err),
             "attnsteer-cli: warning: --keys: ignored; the workload comes from " + file + "\n");
    QCOMPARE(run.exitCode, 0);
    const QJsonObject object = parseObject(run.out);
    QVERIFY(std::abs(object.value("entropy_original").toDouble() - std::log(100.0)) <= 1e-12);
    QCOMPARE(object.value("heads").toArray().size(), 1);
}

void TestCli::constantSaliencyWarns() {
    const QString file = path("zero_saliency.npy");
    const CliRun run = runCli(QStringList{"metrics", "--json", "--saliency", file} + kSmall);
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(QString::fromUtf8(run.err),
             QStringLiteral("attnsteer-cli: warning: %1: saliency is constant (max |x| = 0); "
                            "using s = 0\n")
                 .arg(file));
    const QJsonObject object = parseObject(run.out);
    QCOMPARE(object.value("kl").toDouble(), 0.0);
}

void TestCli::sweepJsonMatchesCore() {
    const CliRun run =
        runCli(QStringList{"sweep", "--json", "--lambdas", "0,0.25,1", "--seeds", "0:2"} + kSmall);
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    const QJsonObject object = parseObject(run.out);
    QCOMPARE(keySet(object), (QSet<QString>{"rows", "backend"}));
    QCOMPARE(object.value("backend").toString(), QStringLiteral("cpu"));
    const QJsonArray rows = object.value("rows").toArray();

    SweepConfig config;
    config.spec = smallSpec();
    config.lambdas = {0, 0.25, 1};
    config.seeds = {0, 1, 2};
    const auto backend = makeCpuBackend();
    const std::vector<SweepRow> expected = runSweep(config, *backend);
    QCOMPARE(rows.size(), qsizetype(expected.size()));
    const QSet<QString> rowKeys = {"lambda",
                                   "entropy_reduction_pct_mean",
                                   "entropy_reduction_pct_std",
                                   "kl_mean",
                                   "kl_std",
                                   "saliency_expectation_gain_mean",
                                   "saliency_expectation_gain_std",
                                   "target_mass_gain_mean",
                                   "target_mass_gain_std",
                                   "pointing_gain_mean",
                                   "pointing_gain_std",
                                   "target_mass_mean",
                                   "target_mass_std",
                                   "pointing_mean",
                                   "pointing_std"};
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const QJsonObject row = rows[qsizetype(i)].toObject();
        QCOMPARE(keySet(row), rowKeys);
        COMPARE_CLOSE(row.value("saliency_expectation_gain_mean").toDouble(),
                      expected[i].expectationGainMean);
        COMPARE_CLOSE(row.value("saliency_expectation_gain_std").toDouble(),
                      expected[i].expectationGainStd);
        QVERIFY(row.value("pointing_gain_mean").isNull()); // no target
        COMPARE_CLOSE(row.value("lambda").toDouble(), expected[i].lambda);
        COMPARE_CLOSE(row.value("entropy_reduction_pct_mean").toDouble(),
                      expected[i].reductionMean);
        COMPARE_CLOSE(row.value("entropy_reduction_pct_std").toDouble(), expected[i].reductionStd);
        COMPARE_CLOSE(row.value("kl_mean").toDouble(), expected[i].klMean);
        COMPARE_CLOSE(row.value("kl_std").toDouble(), expected[i].klStd);
    }
}

void TestCli::sweepLambdaRange() {
    const CliRun run =
        runCli(QStringList{"sweep", "--json", "--lambdas", "0:1:0.25", "--seeds", "0"} + kSmall);
    QCOMPARE(run.exitCode, 0);
    const QJsonArray rows = parseObject(run.out).value("rows").toArray();
    QCOMPARE(rows.size(), 5);
    for (int i = 0; i < 5; ++i)
        QCOMPARE(rows[i].toObject().value("lambda").toDouble(), 0.25 * i);
    // One seed: the spread is 0.
    QCOMPARE(rows[4].toObject().value("kl_std").toDouble(), 0.0);
}

void TestCli::sweepTable() {
    const CliRun run = runCli(QStringList{"sweep", "--seeds", "0,1"} + kSmall);
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    const QStringList lines = QString::fromUtf8(run.out).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 1 + int(defaultSweepLambdas().size()));
    QVERIFY(lines[0].startsWith("lambda"));
    // "0.25  0.0364  0.0012  0.001570  0.000012  0.003011  0.000020": 2, 4, 4, 6, 6, 6 and 6
    // decimals (no target: no target-mass and pointing columns).
    const QRegularExpression row(R"(^ *\d+\.\d{2} +-?\d+\.\d{4} +\d+\.\d{4} +-?\d+\.\d{6} +)"
                                 R"(\d+\.\d{6} +-?\d+\.\d{6} +\d+\.\d{6}$)");
    for (int i = 1; i < lines.size(); ++i)
        QVERIFY2(row.match(lines[i]).hasMatch(), qPrintable(lines[i]));
    QVERIFY(lines[5].trimmed().startsWith("0.25 "));
}

void TestCli::sweepCsv() {
    const QString csv = path("sweep.csv");
    QFile::remove(csv);
    const QStringList arguments =
        QStringList{"sweep", "--json", "--lambdas", "0,0.5", "--seeds", "1,2", "--csv", csv} +
        kSmall;
    CliRun run = runCli(arguments);
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    QVERIFY(!QFile::exists(csv + ".tmp"));
    // Nothing but the file itself is left in the folder (no temporary ".sweep.csv.XXXXXX").
    QCOMPARE(QDir(dir_.path()).entryList({".sweep.csv*"}, QDir::Files | QDir::Hidden),
             QStringList());

    QFile file(csv);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray written = file.readAll();
    file.close();
    const QList<QByteArray> lines = written.split('\n');
    QCOMPARE(lines.size(), 4); // header, two rows, the empty piece after the last '\n'
    QCOMPARE(lines[0], QByteArray("lambda,entropy_reduction_pct_mean,entropy_reduction_pct_std,"
                                  "kl_mean,kl_std,saliency_expectation_gain_mean,"
                                  "saliency_expectation_gain_std,target_mass_gain_mean,"
                                  "target_mass_gain_std,pointing_gain_mean,pointing_gain_std,"
                                  "target_mass_mean,target_mass_std,pointing_mean,pointing_std"));
    QCOMPARE(lines[3], QByteArray());
    const QJsonArray rows = parseObject(run.out).value("rows").toArray();
    const QList<QByteArray> keys = lines[0].split(',');
    for (int i = 0; i < 2; ++i) {
        const QList<QByteArray> fields = lines[i + 1].split(',');
        QCOMPARE(fields.size(), keys.size());
        const QJsonObject row = rows[i].toObject();
        QCOMPARE(row.keys().size(), keys.size());
        for (int c = 0; c < keys.size(); ++c) {
            const QJsonValue json = row.value(QString::fromLatin1(keys[c]));
            // Without a target its columns are not available: "nan" and null.
            if (keys[c].startsWith("target") || keys[c].startsWith("pointing")) {
                QCOMPARE(fields[c], QByteArray("nan"));
                QVERIFY(json.isNull());
                continue;
            }
            bool ok = false;
            const double value = fields[c].toDouble(&ok);
            QVERIFY(ok);
            // Full precision: the CSV and the JSON hold the same doubles.
            QCOMPARE(value, json.toDouble());
        }
    }

    // A second run refuses to overwrite it and leaves it alone.
    run = runCli(arguments);
    QCOMPARE(run.exitCode, 2);
    QCOMPARE(
        QString::fromUtf8(run.err),
        QStringLiteral("attnsteer-cli: error: %1: exists; use --force to overwrite\n").arg(csv));
    QCOMPARE(run.out, QByteArray());
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(file.readAll(), written);
    file.close();

    // --force overwrites it, here with other rows.
    writeFile(csv, "old contents\n");
    run = runCli(QStringList{"sweep", "--lambdas", "1", "--seeds", "0", "--csv", csv, "--force"} +
                 kSmall);
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QList<QByteArray> forced = file.readAll().split('\n');
    QCOMPARE(forced.size(), 3);
    QVERIFY(forced[1].startsWith("1,"));
    QVERIFY(!QFile::exists(csv + ".tmp"));
    QCOMPARE(QDir(dir_.path()).entryList({".sweep.csv*"}, QDir::Files | QDir::Hidden),
             QStringList());
}

void TestCli::sweepCsvNeedsAFolder() {
    const QString csv = path("no-such-folder/sweep.csv");
    const CliRun run =
        runCli(QStringList{"sweep", "--lambdas", "1", "--seeds", "0", "--csv", csv} + kSmall);
    QCOMPARE(run.exitCode, 2);
    QCOMPARE(QString::fromUtf8(run.err),
             QStringLiteral("attnsteer-cli: error: %1: cannot write file: folder %2 does not "
                            "exist\n")
                 .arg(csv, path("no-such-folder")));
    QCOMPARE(run.out, QByteArray());
}

void TestCli::plotWritesFourPictures() {
    const QString out = path("plots");
    const QStringList names = {"per_token.png", "tradeoff.png", "saliency.png", "matrix.png"};
    QStringList expectedPaths;
    for (const QString& name : names)
        expectedPaths << QDir(out).filePath(name);
    const QStringList arguments =
        QStringList{"plot", "--out", out, "--width", "400", "--height", "300"} + kSmall;

    CliRun run = runCli(arguments);
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(QString::fromUtf8(run.out), expectedPaths.join('\n') + '\n');
    std::vector<QByteArray> written;
    for (const QString& file : expectedPaths) {
        const QImage image(file);
        QVERIFY2(!image.isNull(), qPrintable(file));
        QCOMPARE(image.size(), QSize(400, 300));
        const int colours = distinctColours(image);
        QVERIFY2(colours > 50, qPrintable(QStringLiteral("%1: %2 colours").arg(file).arg(colours)));
        written.push_back(readAll(file));
    }
    // Only the four files: no temporary ones left behind.
    QCOMPARE(QDir(out).entryList(QDir::Files | QDir::Hidden | QDir::NoDotAndDotDot).size(), 4);

    // A second run refuses before any work and leaves the files alone.
    run = runCli(arguments);
    QCOMPARE(run.exitCode, 2);
    QCOMPARE(QString::fromUtf8(run.err),
             QStringLiteral("attnsteer-cli: error: %1: exists; use --force to overwrite\n")
                 .arg(expectedPaths[0]));
    QCOMPARE(run.out, QByteArray());
    for (int i = 0; i < 4; ++i)
        QCOMPARE(readAll(expectedPaths[i]), written[std::size_t(i)]);

    // One existing file is enough to refuse.
    QVERIFY(QFile::remove(expectedPaths[0]));
    QVERIFY(QFile::remove(expectedPaths[1]));
    run = runCli(arguments);
    QCOMPARE(run.exitCode, 2);
    QCOMPARE(QString::fromUtf8(run.err),
             QStringLiteral("attnsteer-cli: error: %1: exists; use --force to overwrite\n")
                 .arg(expectedPaths[2]));
    QVERIFY(!QFile::exists(expectedPaths[0]));

    // --force overwrites, here with other pictures (A' - A, sorted, another row and size).
    run = runCli(arguments + QStringList{"--force", "--difference", "--sort-by-saliency", "--head",
                                         "1", "--query", "15", "--lambda", "3", "--width", "320",
                                         "--height", "240"});
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(QString::fromUtf8(run.out), expectedPaths.join('\n') + '\n');
    for (int i = 0; i < 4; ++i) {
        const QImage image(expectedPaths[i]);
        QCOMPARE(image.size(), QSize(320, 240));
        QVERIFY(readAll(expectedPaths[i]) != written[std::size_t(i)]);
    }
    QCOMPARE(QDir(out).entryList(QDir::Files | QDir::Hidden | QDir::NoDotAndDotDot).size(), 4);
}

void TestCli::plotWithSaliencyImage() {
    const QString out = path("image-plots");
    const CliRun run =
        runCli(QStringList{"plot", "--out", out, "--saliency-image", path("half.png"),
                           "--vision-offset", "10", "--width", "400", "--height", "300", "--seeds",
                           "0", "--lambdas", "0:2:0.5"} +
               kSmall);
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    const QStringList files = QString::fromUtf8(run.out).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(files.size(), 4);
    for (const QString& file : files) {
        const QImage image(file);
        QCOMPARE(image.size(), QSize(400, 300));
        QVERIFY2(distinctColours(image) > 50, qPrintable(file));
    }
    // The grid view shows the image: its black and white halves are there.
    const QImage grid(QDir(out).filePath("saliency.png"));
    bool black = false, white = false;
    for (int y = 0; y < grid.height(); ++y)
        for (int x = 0; x < grid.width(); ++x) {
            const QRgb pixel = grid.pixel(x, y);
            black = black || (qRed(pixel) < 40 && qGreen(pixel) < 40 && qBlue(pixel) < 40);
            white = white || qGray(pixel) > 200;
        }
    QVERIFY(black);
    QVERIFY(white);
}

void TestCli::plotCreatesOneFolderLevel() {
    const QString out = path("new-folder");
    QVERIFY(!QFileInfo::exists(out));
    const CliRun run = runCli(QStringList{"plot", "--out", out, "--width", "200", "--height", "150",
                                          "--lambdas", "0,1", "--seeds", "0"} +
                              kSmall);
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    QVERIFY(QFileInfo(out).isDir());
    QCOMPARE(QDir(out).entryList(QDir::Files).size(), 4);
}

void TestCli::plotPerTokenModes() {
    // --per-token ratio draws the window's opening view (A'/A in the order of s), values (the
    // default) A, A' and s: the SVGs say which by their legends.
    for (const QString mode : {"values", "ratio"}) {
        const QString out = path("per-token-" + mode);
        const CliRun run =
            runCli(QStringList{"plot", "--out", out, "--format", "svg", "--per-token", mode,
                               "--lambdas", "0,1", "--seeds", "0"} +
                   kSmall);
        QCOMPARE(run.err, QByteArray());
        QCOMPARE(run.exitCode, 0);
        QFile svg(QDir(out).filePath("per_token.svg"));
        QVERIFY(svg.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(svg.readAll());
        // (The SVG writes a label in pieces where the font changes: "λ = 0.250)" apart.)
        QCOMPARE(text.contains(QStringLiteral("A′ / A at ")), mode == "ratio");
        QCOMPARE(text.contains(QStringLiteral("A′ (steered, ")), mode == "values");
    }
}

void TestCli::backendCudaWithoutDevice_data() {
    QTest::addColumn<QStringList>("arguments");
    QTest::newRow("metrics") << QStringList{"metrics", "--json"};
    QTest::newRow("sweep") << QStringList{"sweep", "--json"};
    QTest::newRow("plot") << QStringList{"plot", "--out", path("cuda-plots")};
}

void TestCli::backendCudaWithoutDevice() {
    if (gpu::isAvailable())
        QSKIP("a CUDA device is available");
    QFETCH(QStringList, arguments);
    const CliRun run = runCli(arguments + QStringList{"--heads", "2", "--queries", "16", "--keys",
                                                      "64", "--backend", "cuda"});
    QCOMPARE(run.exitCode, 2);
    QCOMPARE(run.out, QByteArray());
    QCOMPARE(QString::fromUtf8(run.err),
             QStringLiteral("attnsteer-cli: error: --backend: cuda: %1\n")
                 .arg(QString::fromStdString(gpu::unavailableReason())));
    QVERIFY(!QFileInfo::exists(path("cuda-plots")));
}

void TestCli::backendAutoFallsBack() {
    if (gpu::isAvailable())
        QSKIP("a CUDA device is available: auto picks it");
    const QStringList small = {"--heads", "2", "--queries", "16", "--keys", "64"};
    // Auto is the default; both print one notice line on stderr and keep stdout clean JSON.
    for (const QStringList& backend : {QStringList{}, QStringList{"--backend", "auto"}}) {
        const CliRun run = runCli(QStringList{"metrics", "--json"} + small + backend);
        QCOMPARE(run.exitCode, 0);
        QCOMPARE(QString::fromUtf8(run.err), autoFallbackNotice());
        const QJsonObject object = parseObject(run.out);
        QVERIFY2(!object.isEmpty(), run.out.constData());
        QCOMPARE(object.value("backend").toString(), QStringLiteral("cpu"));
    }
    const CliRun sweep = runCli(QStringList{"sweep", "--json", "--seeds", "0"} + small);
    QCOMPARE(sweep.exitCode, 0);
    QCOMPARE(QString::fromUtf8(sweep.err), autoFallbackNotice());
    QCOMPARE(parseObject(sweep.out).value("backend").toString(), QStringLiteral("cpu"));

    // The notice comes before the warnings; an error stays the only line.
    const CliRun warned =
        runCli(QStringList{"metrics", "--json", "--saliency", path("zero_saliency.npy")} + small);
    QCOMPARE(warned.exitCode, 0);
    QVERIFY2(QString::fromUtf8(warned.err).startsWith(autoFallbackNotice()),
             warned.err.constData());
    QCOMPARE(QString::fromUtf8(warned.err).count('\n'), 2);
    const CliRun failed = runCli(QStringList{"metrics", "--steer-heads", "5"} + small);
    QCOMPARE(failed.exitCode, 2);
    QCOMPARE(QString::fromUtf8(failed.err),
             QStringLiteral("attnsteer-cli: error: --steer-heads: head 5 is out of range 0..1\n"));

    // --backend cpu: no notice.
    const CliRun cpu = runCli(QStringList{"metrics", "--json", "--backend", "cpu"} + small);
    QCOMPARE(cpu.err, QByteArray());
    QCOMPARE(parseObject(cpu.out).value("backend").toString(), QStringLiteral("cpu"));
}

void TestCli::backendCudaWithDevice() {
    if (!gpu::isAvailable())
        QSKIP(qPrintable(QStringLiteral("no CUDA device: ") +
                         QString::fromStdString(gpu::unavailableReason())));
    const QStringList small = {"--heads", "2", "--queries", "16", "--keys", "64"};
    const CliRun onCpu =
        runCli(QStringList{"metrics", "--json", "--lambda", "0.4", "--backend", "cpu"} + small);
    QCOMPARE(onCpu.exitCode, 0);
    const QJsonObject cpu = parseObject(onCpu.out);
    // --backend cuda, auto and the default (auto) take the device, without a notice, and give the
    // CPU's numbers to the backends' contract (1e-6 relative).
    for (const QStringList& backend :
         {QStringList{"--backend", "cuda"}, QStringList{"--backend", "auto"}, QStringList{}}) {
        const CliRun run =
            runCli(QStringList{"metrics", "--json", "--lambda", "0.4"} + small + backend);
        QCOMPARE(run.err, QByteArray());
        QCOMPARE(run.exitCode, 0);
        const QJsonObject object = parseObject(run.out);
        QCOMPARE(object.value("backend").toString(), QStringLiteral("cuda"));
        for (const char* key :
             {"entropy_original", "entropy_steered", "entropy_reduction_pct", "kl"})
            QVERIFY2(withinBackendContract(object.value(key).toDouble(), cpu.value(key).toDouble(),
                                           1e-9),
                     qPrintable(QStringLiteral("%1: %2, on the CPU %3")
                                    .arg(key)
                                    .arg(object.value(key).toDouble(), 0, 'g', 17)
                                    .arg(cpu.value(key).toDouble(), 0, 'g', 17)));
    }

    const CliRun sweep = runCli(QStringList{"sweep", "--json", "--lambdas", "0,0.25,1", "--seeds",
                                            "0:1", "--backend", "cuda"} +
                                small);
    QCOMPARE(sweep.err, QByteArray());
    QCOMPARE(sweep.exitCode, 0);
    const QJsonObject object = parseObject(sweep.out);
    QCOMPARE(object.value("backend").toString(), QStringLiteral("cuda"));
    SweepConfig config;
    config.spec = smallSpec();
    config.lambdas = {0, 0.25, 1};
    config.seeds = {0, 1};
    const std::vector<SweepRow> expected = runSweep(config, *makeCpuBackend());
    const QJsonArray rows = object.value("rows").toArray();
    QCOMPARE(rows.size(), qsizetype(expected.size()));
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const QJsonObject row = rows[qsizetype(i)].toObject();
        QVERIFY(withinBackendContract(row.value("entropy_reduction_pct_mean").toDouble(),
                                      expected[i].reductionMean, 1e-9));
        QVERIFY(withinBackendContract(row.value("kl_mean").toDouble(), expected[i].klMean, 1e-12));
    }
}

void TestCli::autoFallsBackWhenTheDeviceIsFull() {
    // Needs a device smaller than the workload: the CUDA emulator's memory can be set.
    if (!QString::fromStdString(gpu::deviceName()).startsWith(QLatin1String("CUDA emulator")))
        QSKIP("needs the CUDA emulator (tst_cli_emulated), whose memory can be made too small");
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("ATTNSTEER_EMULATED_DEVICE_MIB"), QStringLiteral("1"));
    const QStringList workload = {"--heads", "2", "--queries", "64", "--keys", "4096"}; // 2 MiB
    const QString outOfMemory = QStringLiteral(
        "cuda: out of device memory (the workload needs 2 MiB, 1 MiB free of 1 MiB)");

    // auto: one notice, then the CPU computes it.
    const CliRun run = runCli(QStringList{"metrics", "--json"} + workload, environment);
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(QString::fromUtf8(run.err), QStringLiteral("attnsteer-cli: notice: ") + outOfMemory +
                                             QStringLiteral("; using the CPU backend\n"));
    const QJsonObject object = parseObject(run.out);
    QCOMPARE(object.value("backend").toString(), QStringLiteral("cpu"));
    const CliRun onCpu =
        runCli(QStringList{"metrics", "--json", "--backend", "cpu"} + workload, environment);
    COMPARE_CLOSE(object.value("kl").toDouble(), parseObject(onCpu.out).value("kl").toDouble());

    // --backend cuda asked for the device: the error, exit code 2, nothing on stdout.
    const CliRun cuda = runCli(QStringList{"metrics", "--backend", "cuda"} + workload, environment);
    QCOMPARE(cuda.exitCode, 2);
    QCOMPARE(cuda.out, QByteArray());
    QCOMPARE(QString::fromUtf8(cuda.err), QStringLiteral("attnsteer-cli: error: --backend: ") +
                                              outOfMemory + QStringLiteral("\n"));
}

void TestCli::projectJson() {
    const CliRun run =
        runCli({"project", "--json", "--normalize", "none", "--saliency-image", path("half.png")});
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    const QJsonObject object = parseObject(run.out);
    QCOMPARE(keySet(object),
             (QSet<QString>{"grid_h", "grid_w", "tokens", "resized_h", "resized_w", "saliency"}));
    QCOMPARE(object.value("grid_h").toInt(), 2);
    QCOMPARE(object.value("grid_w").toInt(), 2);
    QCOMPARE(object.value("tokens").toInt(), 4);
    QCOMPARE(object.value("resized_h").toInt(), 56);
    QCOMPARE(object.value("resized_w").toInt(), 56);
    QCOMPARE(object.value("saliency").toArray(), (QJsonArray{0.0, 1.0, 0.0, 1.0}));

    // Human output names the grid.
    const CliRun text = runCli({"project", "--saliency-image", path("half.png")});
    QCOMPARE(text.exitCode, 0);
    QVERIFY2(text.out.contains("2 x 2 = 4 vision tokens"), text.out.constData());
}

namespace {

/// A 3-layer [L,H,Q,K] attention dump (H = 2, Q = K = 12) at PATH.npy with PATH.json: keys 3..5
/// are a 1 x 3 vision grid (image_grid_thw [1, 2, 6], merge 2).
attnsteer::Workload writeLayeredDump(const QString& stem) {
    const int layers = 3, heads = 2, size = 12;
    std::vector<float> values(std::size_t(layers) * heads * size * size);
    for (std::size_t row = 0; row < values.size() / size; ++row) {
        double sum = 0;
        std::vector<double> p(size);
        for (int k = 0; k < size; ++k)
            sum += p[std::size_t(k)] =
                std::exp(0.8 * philoxNormal(3, RandomStream::Logits, row * size + std::size_t(k)));
        for (int k = 0; k < size; ++k)
            values[row * size + std::size_t(k)] = float(p[std::size_t(k)] / sum);
    }
    const std::vector<std::size_t> shape = {layers, heads, size, size};
    writeNpy((stem + ".npy").toStdString(), shape, values);
    writeFile(stem + ".json", R"({"vision_start": 3, "image_grid_thw": [1, 2, 6]})");
    return Workload::loadAttention((stem + ".npy").toStdString());
}

} // namespace

void TestCli::metricsOfADumpPerLayer() {
    const Workload workload = writeLayeredDump(path("layered"));
    const QString dump = path("layered.npy");
    // half.png (left half black) on the sidecar's 1 x 3 grid: 0, 0.5, 1 at keys 3, 4, 5.
    std::vector<double> s(12, 0.0);
    s[4] = 0.5, s[5] = 1.0;
    SteeringParams params;
    params.lambda = 2;
    params.steeredHeads = {1};
    const LayeredMetrics expected =
        splitLayers(makeCpuBackend()->evaluate(workload, s, params), 3, 2);

    const CliRun run =
        runCli({"metrics", "--json", "--backend", "cpu", "--attention", dump, "--saliency-image",
                path("half.png"), "--lambda", "2", "--steer-heads", "1"});
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    const QJsonObject object = parseObject(run.out);
    compareSummary(object, expected.aggregate.total, false);
    QCOMPARE(object.value("heads").toArray().size(), 2);
    for (int h = 0; h < 2; ++h)
        compareSummary(object.value("heads").toArray()[h].toObject(),
                       expected.aggregate.heads[std::size_t(h)]);
    const QJsonArray layers = object.value("layers").toArray();
    QCOMPARE(layers.size(), 3);
    for (int l = 0; l < 3; ++l) {
        const QJsonObject layer = layers[l].toObject();
        // The sidecar's vision span: the grounding pass ran.
        QCOMPARE(keySet(layer), kSummaryKeys + kGroundingKeys + QSet<QString>({"layer", "heads"}));
        QCOMPARE(layer.value("layer").toInt(), l);
        compareSummary(layer, expected.layers[std::size_t(l)].total, false);
        QCOMPARE(layer.value("heads").toArray()[0].toObject().value("kl").toDouble(), 0.0);
        compareSummary(layer.value("heads").toArray()[1].toObject(),
                       expected.layers[std::size_t(l)].heads[1]);
    }

    // --layer -1: the last layer alone, still listed with its index.
    const CliRun last =
        runCli({"metrics", "--json", "--backend", "cpu", "--attention", dump, "--saliency-image",
                path("half.png"), "--lambda", "2", "--steer-heads", "1", "--layer", "-1"});
    QCOMPARE(last.exitCode, 0);
    const QJsonObject lastObject = parseObject(last.out);
    compareSummary(lastObject, expected.layers[2].total, false);
    QCOMPARE(lastObject.value("layers").toArray().size(), 1);
    QCOMPARE(lastObject.value("layers").toArray()[0].toObject().value("layer").toInt(), 2);

    // The text names the layers and lists them.
    const CliRun text = runCli({"metrics", "--backend", "cpu", "--attention", dump});
    QCOMPARE(text.exitCode, 0);
    QVERIFY2(text.out.contains("3 x 2 x 12 x 12 (layers x heads x queries x keys), all of 3 "
                               "layers, float32"),
             text.out.constData());
    QVERIFY2(text.out.contains("layer  entropy original"), text.out.constData());
}

void TestCli::profileMatchesCore() {
    const Workload workload = writeLayeredDump(path("profiled"));
    const QString dump = path("profiled.npy");
    std::vector<double> s(12, 0.0); // half.png on the sidecar's 1 x 3 grid at keys 3..5
    s[4] = 0.5, s[5] = 1.0;
    writeFile(path("target.npy"),
              npyBytes("<f4", {12}, floatBytes({0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0})));
    GroundingKeys keys;
    keys.visionStart = 3;
    keys.visionCount = 3;
    keys.grid = {1, 1, 3};
    keys.target.assign(12, 0);
    keys.target[5] = 1;
    SteeringParams params;
    params.lambda = 2;
    params.gateEntropy = 0.5;
    const auto backend = makeCpuBackend();
    const Profile expected =
        profileHeads(workload, s, params, keys, *backend, 0, findProfileColumn("target_mass_gain"));

    const QString csv = path("profile.csv");
    QFile::remove(csv);
    const QStringList arguments = {"profile",
                                   "--json",
                                   "--backend",
                                   "cpu",
                                   "--attention",
                                   dump,
                                   "--lambda",
                                   "2",
                                   "--saliency-image",
                                   path("half.png"),
                                   "--target",
                                   path("target.npy"),
                                   "--gate-entropy",
                                   "0.5",
                                   "--rank-by",
                                   "target_mass_gain",
                                   "--csv",
                                   csv};
    const CliRun run = runCli(arguments);
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    const QJsonObject object = parseObject(run.out);
    QCOMPARE(object.value("ranked_by").toString(), QStringLiteral("target_mass_gain"));
    const QJsonArray heads = object.value("heads").toArray();
    QCOMPARE(heads.size(), 6);
    for (int i = 0; i < 6; ++i) {
        const QJsonObject head = heads[i].toObject();
        const HeadProfile& want = expected.heads[std::size_t(i)];
        QCOMPARE(head.value("layer").toInt(), want.layer);
        QCOMPARE(head.value("head").toInt(), want.head);
        QCOMPARE(head.keys().size(), int(profileColumns().size()) + 2);
        for (const ProfileColumn& column : profileColumns()) {
            const QJsonValue value = head.value(QString::fromLatin1(column.name.data()));
            if (std::isnan(column.value(want)))
                QVERIFY(value.isNull());
            else
                COMPARE_CLOSE(value.toDouble(), column.value(want));
        }
    }
    const QJsonArray ranking = object.value("ranking").toArray();
    QCOMPARE(ranking.size(), 6);
    for (int i = 0; i < 6; ++i) {
        const HeadProfile& want = expected.heads[expected.ranking[std::size_t(i)]];
        QCOMPARE(ranking[i].toObject().value("rank").toInt(), i + 1);
        QCOMPARE(ranking[i].toObject().value("layer").toInt(), want.layer);
        QCOMPARE(ranking[i].toObject().value("head").toInt(), want.head);
    }
    // The CSV: the same numbers at full precision, one line per head.
    QFile file(csv);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = file.readAll().split('\n');
    QCOMPARE(lines.size(), 8); // header, six heads, the empty piece after the last '\n'
    const QList<QByteArray> header = lines[0].split(',');
    QCOMPARE(header.mid(0, 3), (QList<QByteArray>{"layer", "head", "entropy_original"}));
    for (int i = 0; i < 6; ++i) {
        const QList<QByteArray> fields = lines[i + 1].split(',');
        QCOMPARE(fields.size(), header.size());
        const QJsonObject head = heads[i].toObject();
        for (int c = 0; c < header.size(); ++c) {
            const QJsonValue json = head.value(QString::fromLatin1(header[c]));
            if (json.isNull())
                QCOMPARE(fields[c], QByteArray("nan"));
            else
                QCOMPARE(fields[c].toDouble(), json.toDouble());
        }
    }

    // The text: the top heads, ranked.
    const CliRun text = runCli(QStringList{"profile", "--top", "2"} + arguments.mid(2, 14));
    QCOMPARE(text.exitCode, 0);
    const QList<QByteArray> textLines = text.out.trimmed().split('\n');
    QCOMPARE(textLines.size(), 3);
    QVERIFY2(textLines[0].simplified().startsWith("rank layer head target_mass_gain"),
             textLines[0].constData());

    // metrics --json has the same grounding figures, per head (mean over the layers) and in all.
    const CliRun metrics = runCli(QStringList{"metrics", "--json"} + arguments.mid(2, 12));
    QCOMPARE(metrics.exitCode, 0);
    const QJsonObject metricsObject = parseObject(metrics.out);
    const double lambda = 2;
    const Grounding grounding =
        evaluateGrounding(workload, s, std::span(&lambda, 1), params, keys).front();
    COMPARE_CLOSE(metricsObject.value("target_mass_steered").toDouble(),
                  grounding.total.targetMassSteered);
    COMPARE_CLOSE(metricsObject.value("pointing_original").toDouble(),
                  grounding.total.pointingOriginal);
    COMPARE_CLOSE(metricsObject.value("vision_mass").toDouble(), grounding.total.visionMass);
    const LayeredGrounding split = splitLayers(grounding, 3, 2);
    COMPARE_CLOSE(metricsObject.value("heads")
                      .toArray()[1]
                      .toObject()
                      .value("saliency_correlation")
                      .toDouble(),
                  split.aggregate.heads[1].saliencyCorrelation);
    COMPARE_CLOSE(metricsObject.value("layers")
                      .toArray()[2]
                      .toObject()
                      .value("target_mass_steered")
                      .toDouble(),
                  split.layers[2].total.targetMassSteered);
}

void TestCli::dumpLayerAndSidecarOptions() {
    writeLayeredDump(path("options"));
    const QString dump = path("options.npy");
    // project: the sidecar's grid, whatever the image's size; --image-grid overrides it.
    const CliRun projected = runCli({"project", "--json", "--normalize", "none", "--attention",
                                     dump, "--saliency-image", path("half.png")});
    QCOMPARE(projected.err, QByteArray());
    QCOMPARE(projected.exitCode, 0);
    const QJsonObject grid = parseObject(projected.out);
    QCOMPARE(grid.value("grid_h").toInt(), 1);
    QCOMPARE(grid.value("grid_w").toInt(), 3);
    // Boxes of 56/3 pixels: the sums of fractional pixels round in the last bit.
    const QJsonArray saliency = grid.value("saliency").toArray();
    QCOMPARE(saliency.size(), 3);
    COMPARE_CLOSE(saliency[0].toDouble() + 1, 1.0);
    COMPARE_CLOSE(saliency[1].toDouble(), 0.5);
    COMPARE_CLOSE(saliency[2].toDouble(), 1.0);
    const CliRun overridden =
        runCli({"project", "--json", "--normalize", "none", "--attention", dump, "--image-grid",
                "1x4", "--saliency-image", path("half.png")});
    QCOMPARE(overridden.exitCode, 0);
    QCOMPARE(parseObject(overridden.out).value("saliency").toArray(),
             (QJsonArray{0.0, 0.0, 1.0, 1.0}));

    // sweep and plot take --layer.
    const CliRun sweep = runCli({"sweep", "--json", "--backend", "cpu", "--attention", dump,
                                 "--layer", "1", "--lambdas", "0,1"});
    QCOMPARE(sweep.exitCode, 0);
    QCOMPARE(parseObject(sweep.out).value("rows").toArray().size(), 2);
    const CliRun plot = runCli({"plot", "--backend", "cpu", "--attention", dump, "--layer", "2",
                                "--head", "1", "--out", path("layer-plots")});
    QCOMPARE(plot.err, QByteArray());
    QCOMPARE(plot.exitCode, 0);

    // Errors: one line, exit 2.
    const QString other = path("other.json");
    writeFile(other, R"({"tokens": ["a"]})");
    const QList<std::pair<QStringList, QString>> errors = {
        {{"metrics", "--attention", dump, "--layer", "3"},
         "--layer: layer 3 is out of range -3..2 (3 layers)"},
        {{"metrics", "--attention", dump, "--layer", "top"},
         "--layer: 'top' is neither all nor a layer index"},
        {{"metrics", "--meta", other}, "--meta: needs a dump (--logits or --attention)"},
        {{"metrics", "--attention", dump, "--meta", other},
         other + ": tokens has 1 entries, expected 12 (keys)"},
        {{"project", "--attention", dump, "--image-grid", "4", "--saliency-image",
          path("half.png")},
         "--image-grid: '4' is not ROWSxCOLS, e.g. 24x24"},
        {{"plot", "--attention", dump, "--head", "2", "--out", path("bad-head")},
         "--head: 2 is out of range 0..1"},
    };
    for (const auto& [arguments, message] : errors) {
        const bool project = arguments.first() == QLatin1String("project");
        const CliRun run =
            runCli(arguments + (project ? QStringList{} : QStringList{"--backend", "cpu"}));
        QCOMPARE(run.exitCode, 2);
        QCOMPARE(QString::fromUtf8(run.err), "attnsteer-cli: error: " + message + "\n");
    }
}

void TestCli::projectKeepsSixteenBits() {
    // Left half 0x8000, right half 0xffff: 16-bit values reach the tokens unrounded.
    const QString file = path("gray16.png");
    writeFile(file, grayPng(56, 56, 16, [](int x, int) { return x < 28 ? 0x8000 : 0xffff; }));
    const CliRun run =
        runCli({"project", "--json", "--normalize", "none", "--saliency-image", file});
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    const QJsonArray saliency = parseObject(run.out).value("saliency").toArray();
    QCOMPARE(saliency.size(), 4);
    const double half = double(float(32768.0 / 65535.0)); // the map holds float32
    COMPARE_CLOSE(saliency[0].toDouble(), half);
    COMPARE_CLOSE(saliency[1].toDouble(), 1.0);
}

void TestCli::attentionBench() {
    const CliRun run =
        runCli({"attention-bench", "--heads", "2", "--queries", "64", "--keys", "64", "--head-dim",
                "16", "--json", "--repetitions", "3", "--backend", "cpu"});
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.err, QByteArray());
    const QJsonObject object = parseObject(run.out);
    QVERIFY2(!object.isEmpty(), run.out.constData());
    for (const char* key : {"plain_ms", "steered_ms", "attention_gflops", "gemm_gflops",
                            "steered_gflops", "gemm_ms", "flops"})
        QVERIFY2(object.value(key).toDouble() > 0, key);
    QVERIFY(object.value("overhead_pct").isDouble());
    const double plain = object.value("plain_ms").toDouble();
    const double steered = object.value("steered_ms").toDouble();
    COMPARE_CLOSE(object.value("overhead_pct").toDouble(), (steered - plain) / plain * 100);
    const double plainMin = object.value("plain_min_ms").toDouble();
    const double steeredMin = object.value("steered_min_ms").toDouble();
    QVERIFY(plainMin > 0 && plainMin <= plain && steeredMin > 0 && steeredMin <= steered);
    COMPARE_CLOSE(object.value("overhead_min_pct").toDouble(),
                  (steeredMin - plainMin) / plainMin * 100);
    const double flops = 4.0 * 2 * 64 * 64 * 16;
    QCOMPARE(object.value("flops").toDouble(), flops);
    COMPARE_CLOSE(object.value("attention_gflops").toDouble(), flops / plain / 1e6);
    COMPARE_CLOSE(object.value("gemm_gflops").toDouble(),
                  flops / object.value("gemm_ms").toDouble() / 1e6);
    // The medians are the middle ones of the runs.
    for (const char* variant : {"plain", "steered", "gemm"}) {
        const QJsonArray runs = object.value(QString("%1_runs_ms").arg(variant)).toArray();
        QCOMPARE(runs.size(), 3);
        std::vector<double> sorted;
        for (const QJsonValue& value : runs)
            sorted.push_back(value.toDouble());
        std::sort(sorted.begin(), sorted.end());
        QCOMPARE(object.value(QString("%1_ms").arg(variant)).toDouble(), sorted[1]);
        if (std::strcmp(variant, "gemm") != 0)
            QCOMPARE(object.value(QString("%1_min_ms").arg(variant)).toDouble(), sorted[0]);
    }
    QCOMPARE(object.value("heads").toInt(), 2);
    QCOMPARE(object.value("head_dim").toInt(), 16);
    QCOMPARE(object.value("causal").toBool(), false);
    QCOMPARE(object.value("dtype").toString(), QStringLiteral("float32"));
    QCOMPARE(object.value("backend").toString(), QStringLiteral("cpu"));

    // Causal halves the FLOP count; bf16 inputs.
    const CliRun causal = runCli({"attention-bench", "--heads", "1", "--queries", "32", "--keys",
                                  "48", "--head-dim", "8", "--causal", "--dtype", "bf16", "--json",
                                  "--repetitions", "1", "--backend", "cpu"});
    QCOMPARE(causal.exitCode, 0);
    const QJsonObject causalObject = parseObject(causal.out);
    QCOMPARE(causalObject.value("flops").toDouble(), 4.0 * 32 * 48 * 8 / 2);
    QCOMPARE(causalObject.value("causal").toBool(), true);
    QCOMPARE(causalObject.value("dtype").toString(), QStringLiteral("bf16"));
}

void TestCli::attentionBenchText() {
    const CliRun run = runCli({"attention-bench", "--heads", "1", "--queries", "16", "--keys", "16",
                               "--head-dim", "8", "--repetitions", "1", "--backend", "cpu"});
    QCOMPARE(run.exitCode, 0);
    const QString text = QString::fromUtf8(run.out);
    QVERIFY2(text.startsWith("workload   1 heads x 16 queries x 16 keys, head dim 8, float32\n"),
             run.out.constData());
    for (const char* label : {"\nplain ", "\nsteered ", "\noverhead ", "\nattention ", "\nGEMM "})
        QVERIFY2(text.contains(QLatin1String(label)), label);
}

void TestCli::attentionBenchBackends() {
    const QStringList small = {
        "attention-bench", "--heads", "1",     "--queries", "8", "--keys", "8", "--head-dim", "4",
        "--repetitions",   "1",       "--json"};
    const CliRun automatic = runCli(small);
    QCOMPARE(automatic.exitCode, 0);
    const CliRun cuda = runCli(small + QStringList{"--backend", "cuda"});
    // bf16 inputs run on the CPU only: auto says so with a device, cuda refuses them either way.
    const CliRun bf16 = runCli(small + QStringList{"--dtype", "bf16"});
    QCOMPARE(bf16.exitCode, 0);
    QCOMPARE(parseObject(bf16.out).value("backend").toString(), QStringLiteral("cpu"));
    const CliRun cudaBf16 = runCli(small + QStringList{"--dtype", "bf16", "--backend", "cuda"});
    QCOMPARE(cudaBf16.exitCode, 2);
    QCOMPARE(QString::fromUtf8(cudaBf16.err),
             QStringLiteral("attnsteer-cli: error: --dtype: bf16 runs on the CPU backend only\n"));
    if (gpu::isAvailable()) {
        // The kernel's times, no GEMM (a CPU yardstick); the same keys otherwise.
        for (const CliRun* run : {&automatic, &cuda}) {
            QCOMPARE(run->exitCode, 0);
            QCOMPARE(run->err, QByteArray());
            const QJsonObject object = parseObject(run->out);
            QCOMPARE(object.value("backend").toString(), QStringLiteral("cuda"));
            QVERIFY(object.value("plain_ms").toDouble() >= 0);
            QVERIFY(object.value("gemm_gflops").isNull());
            QCOMPARE(object.value("plain_runs_ms").toArray().size(), 1);
        }
        QCOMPARE(QString::fromUtf8(bf16.err),
                 QStringLiteral("attnsteer-cli: notice: bf16 runs on the CPU backend only; using "
                                "it\n"));
        return;
    }
    QCOMPARE(QString::fromUtf8(automatic.err), autoFallbackNotice());
    QCOMPARE(parseObject(automatic.out).value("backend").toString(), QStringLiteral("cpu"));
    QCOMPARE(cuda.exitCode, 2);
    QCOMPARE(cuda.out, QByteArray());
    QCOMPARE(QString::fromUtf8(cuda.err),
             QStringLiteral("attnsteer-cli: error: --backend: cuda: %1\n")
                 .arg(QString::fromStdString(gpu::unavailableReason())));
}

// ---- The transformer workload (issue 13) ------------------------------------------------------

namespace {
/// The transformer of kSmall's sizes with head dimension 16.
WorkloadSpec smallTransformer(std::uint64_t seed) {
    WorkloadSpec spec = smallSpec(seed);
    spec.kind = WorkloadKind::Transformer;
    spec.transformer.headDim = 16;
    return spec;
}
} // namespace

void TestCli::transformerMetricsMatchCore_data() {
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<std::uint64_t>("seed");
    QTest::addColumn<double>("strength");
    QTest::addColumn<double>("quality");
    QTest::addColumn<double>("blur");
    QTest::addColumn<int>("grid");   ///< side of the grid; 0: the default
    QTest::addColumn<int>("offset"); ///< -1: the default
    QTest::newRow("defaults") << QStringList{} << std::uint64_t(0) << 1.25 << 0.8 << 0.0 << 0 << -1;
    QTest::newRow("seed 3, strength 2, quality 0.5, blur 1")
        << QStringList{"--seed",
                       "3",
                       "--target-strength",
                       "2",
                       "--saliency-quality",
                       "0.5",
                       "--saliency-blur",
                       "1"}
        << std::uint64_t(3) << 2.0 << 0.5 << 1.0 << 0 << -1;
    QTest::newRow("grid 4x4 at 20, quality 0")
        << QStringList{"--image-grid", "4x4", "--vision-offset", "20", "--saliency-quality", "0"}
        << std::uint64_t(0) << 1.25 << 0.0 << 0.0 << 4 << 20;
}

void TestCli::transformerMetricsMatchCore() {
    QFETCH(QStringList, arguments);
    QFETCH(std::uint64_t, seed);
    QFETCH(double, strength);
    QFETCH(double, quality);
    QFETCH(double, blur);
    QFETCH(int, grid);
    QFETCH(int, offset);
    const CliRun run = runCli(QStringList{"metrics", "--json", "--workload", "transformer",
                                          "--head-dim", "16", "--lambda", "1"} +
                              kSmall + arguments);
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    const QJsonObject object = parseObject(run.out);

    WorkloadSpec spec = smallTransformer(seed);
    spec.transformer.targetStrength = strength;
    if (grid)
        spec.transformer.grid = ImageGrid{1, grid, grid};
    if (offset >= 0)
        spec.transformer.visionOffset = offset;
    const Workload workload = Workload::generate(spec);
    SimulatedSaliencySpec simulated;
    simulated.quality = quality;
    simulated.blur = blur;
    const auto saliency =
        normalizeSaliency(simulatedSaliencyRaw(workload.transformer()->layout(), simulated, seed),
                          Normalization::Max);
    SteeringParams params;
    params.lambda = 1;
    // One evaluation, as the command line's: the exact pass (peaked rows make the moments'
    // result differ in the 12th digit).
    RunControl oneOff;
    oneOff.oneOff = true;
    const Metrics expected = makeCpuBackend()->evaluate(workload, saliency.values, params, oneOff);
    compareSummary(object, expected.total, false);
    const QJsonArray heads = object.value("heads").toArray();
    QCOMPARE(heads.size(), 2);
    for (int h = 0; h < 2; ++h)
        compareSummary(heads[h].toObject(), expected.heads[std::size_t(h)]);
}

void TestCli::transformerSweepMatchesCore() {
    const CliRun run =
        runCli(QStringList{"sweep", "--json", "--workload", "transformer", "--head-dim", "16",
                           "--saliency-quality", "0.3", "--lambdas", "0,0.5,2", "--seeds", "4:6"} +
               kSmall);
    QCOMPARE(run.err, QByteArray());
    QCOMPARE(run.exitCode, 0);
    const QJsonArray rows = parseObject(run.out).value("rows").toArray();
    SweepConfig config;
    config.spec = smallTransformer(0);
    config.simulatedSaliency.quality = 0.3;
    config.lambdas = {0, 0.5, 2};
    config.seeds = {4, 5, 6};
    const std::vector<SweepRow> expected = runSweep(config, *makeCpuBackend());
    QCOMPARE(rows.size(), qsizetype(expected.size()));
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const QJsonObject row = rows[qsizetype(i)].toObject();
        COMPARE_CLOSE(row.value("entropy_reduction_pct_mean").toDouble(),
                      expected[i].reductionMean);
        COMPARE_CLOSE(row.value("entropy_reduction_pct_std").toDouble(), expected[i].reductionStd);
        COMPARE_CLOSE(row.value("kl_mean").toDouble(), expected[i].klMean);
        COMPARE_CLOSE(row.value("kl_std").toDouble(), expected[i].klStd);
    }
    // The seeds differ: so do their workloads and saliencies.
    QVERIFY(expected[2].klStd > 0);
}

void TestCli::transformerSaliencyImageOnItsGrid() {
    // half.png (56 x 56, right half white) lands on the transformer's 6 x 6 grid at offset 7
    // (K = 64): the saliency image overrides the simulated one.
    const CliRun run =
        runCli(QStringList{"metrics", "--json", "--workload", "transformer", "--head-dim", "16",
                           "--saliency-image", path("half.png"), "--saliency-quality", "0.1"} +
               kSmall);
    QCOMPARE(QString::fromUtf8(run.err),
             "attnsteer-cli: warning: --saliency-quality: ignored; the saliency comes from " +
                 path("half.png") + "\n");
    QCOMPARE(run.exitCode, 0);
    const Workload workload = Workload::generate(smallTransformer(0));
    const TransformerLayout& layout = workload.transformer()->layout();
    QCOMPARE(layout.grid.rows, 6);
    QCOMPARE(layout.visionOffset, 7);
    std::vector<float> map(56 * 56);
    for (int y = 0; y < 56; ++y)
        for (int x = 0; x < 56; ++x)
            map[std::size_t(y * 56 + x)] = x < 28 ? 0.0f : 1.0f;
    ProjectionOptions options;
    options.grid = layout.grid;
    options.visionOffset = layout.visionOffset;
    const auto raw = placeOnKeySequence(projectSaliencyMap(map, 56, 56, options, 64), 64, options);
    QCOMPARE(raw[7 + 5], 1.0); // the right half of the first grid row
    QCOMPARE(raw[7], 0.0);
    const auto saliency = normalizeSaliency(raw, Normalization::Max);
    RunControl oneOff;
    oneOff.oneOff = true;
    const Metrics expected =
        makeCpuBackend()->evaluate(workload, saliency.values, SteeringParams{}, oneOff);
    compareSummary(parseObject(run.out), expected.total, false);
}

void TestCli::transformerTextAndWarnings() {
    const CliRun run =
        runCli(QStringList{"metrics", "--workload", "transformer", "--head-dim", "16", "--seed",
                           "2", "--saliency-blur", "1.5", "--logit-std", "3"} +
               kSmall);
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(QString::fromUtf8(run.err),
             QStringLiteral("attnsteer-cli: warning: --logit-std: ignored by the transformer "
                            "workload\n"));
    const QString text = QString::fromUtf8(run.out);
    QVERIFY2(text.contains("2 x 16 x 64 (heads x queries x keys), transformer block, seed 2"),
             qPrintable(text));
    QVERIFY2(text.contains("simulated, quality 0.8, blur 1.5, seed 2, normalized max"),
             qPrintable(text));
    // The transformer's options on the random workload: ignored, each with a warning.
    const CliRun random =
        runCli(QStringList{"metrics", "--json", "--head-dim", "16", "--target-strength", "3",
                           "--saliency-quality", "0.5", "--saliency-blur", "2"} +
               kSmall);
    QCOMPARE(random.exitCode, 0);
    QString expected;
    for (const char* name : {"head-dim", "target-strength", "saliency-quality", "saliency-blur"})
        expected += QStringLiteral("attnsteer-cli: warning: --%1: ignored; only the transformer "
                                   "workload uses it\n")
                        .arg(QLatin1String(name));
    QCOMPARE(QString::fromUtf8(random.err), expected);
    // --workload random is the default, said out loud.
    const CliRun explicitRandom =
        runCli(QStringList{"metrics", "--json", "--workload", "random"} + kSmall);
    QCOMPARE(explicitRandom.exitCode, 0);
    QCOMPARE(
        parseObject(explicitRandom.out).value("kl").toDouble(),
        parseObject(runCli(QStringList{"metrics", "--json"} + kSmall).out).value("kl").toDouble());
}

void TestCli::badInput_data() {
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("message"); ///< the whole line after "attnsteer-cli: error: "

    QTest::newRow("unknown option")
        << QStringList{"metrics", "--frobnicate"} << "unknown option 'frobnicate'";
    QTest::newRow("attention head dim 0")
        << QStringList{"attention-bench", "--head-dim", "0"} << "--head-dim: must be at least 1";
    QTest::newRow("attention bad dtype") << QStringList{"attention-bench", "--dtype", "fp8"}
                                         << "--dtype: 'fp8' is not one of float32, bf16";
    QTest::newRow("attention causal Q > K")
        << QStringList{"attention-bench", "--causal", "--queries", "65", "--keys", "64"}
        << "--queries: must not exceed the keys (64) with --causal";
    QTest::newRow("attention repetitions 0") << QStringList{"attention-bench", "--repetitions", "0"}
                                             << "--repetitions: must be at least 1";
    QTest::newRow("workload file on attention-bench")
        << QStringList{"attention-bench", "--logits", path("x.npy")}
        << "--logits: not used by the attention-bench command";
    QTest::newRow("head dim on project") << QStringList{"project", "--head-dim", "64"}
                                         << "--head-dim: not used by the project command";
    QTest::newRow("bad number") << QStringList{"metrics", "--heads", "abc"}
                                << "--heads: 'abc' is not a valid whole number";
    QTest::newRow("heads 0") << QStringList{"metrics", "--heads", "0"}
                             << "--heads: must be at least 1";
    QTest::newRow("bad lambda") << QStringList{"metrics", "--lambda", "1x"}
                                << "--lambda: '1x' is not a valid number";
    QTest::newRow("missing value")
        << QStringList{"metrics", "--keys"} << "missing value after '--keys'";
    QTest::newRow("unknown command")
        << QStringList{"foo"}
        << "unknown command 'foo' (expected metrics, sweep, project, plot, profile or "
           "attention-bench)";
    QTest::newRow("plot without --out") << QStringList{"plot"} << "plot: needs --out DIR";
    // Hostile inputs (issue 15): each one line, exit 2, within seconds.
    QTest::newRow("threads 100000")
        << QStringList{"metrics", "--threads", "100000"} << "--threads: must be at most 256";
    QTest::newRow("FIFO as logits") << QStringList{"metrics", "--logits", path("fifo")}
                                    << path("fifo") + ": cannot open file: not a regular file";
    QTest::newRow("FIFO as saliency image")
        << QStringList{"metrics", "--saliency-image", path("fifo")}
        << path("fifo") + ": cannot open file: not a regular file";
    QTest::newRow("FIFO as sidecar")
        << QStringList{"metrics", "--logits", path("zero_logits.npy"), "--meta", path("fifo")}
        << path("fifo") + ": not a regular file";
    QTest::newRow("patch factor 2^31 - 1") << QStringList{"project", "--patch-factor", "2147483647",
                                                          "--saliency-image", path("half.png")}
                                           << "--patch-factor: must be at most 1024";
    QTest::newRow("min pixels above max pixels")
        << QStringList{"project", "--min-pixels", "100000000000", "--saliency-image",
                       path("half.png")}
        << "--min-pixels: 100000000000 is more than the 802816 of --max-pixels";
    QTest::newRow("eps 1e308") << QStringList{"metrics", "--eps", "1e308", "--lambda", "1e308"}
                               << "--eps: must be at most 1";
    QTest::newRow("lambda 1e308") << QStringList{"metrics", "--lambda", "1e308"}
                                  << "--lambda: must be between -1e6 and 1e6";
    QTest::newRow("logit std 1e39")
        << QStringList{"metrics", "--logit-std", "1e39"} << "--logit-std: must be at most 1e6";
    QTest::newRow("steer heads at 2^31 - 1")
        << QStringList{"metrics", "--steer-heads", "2147483647:2147483647"}
        << "--steer-heads: head 2147483647 is out of range 0..31";
    QTest::newRow("picture of 400 megapixels")
        << QStringList{"plot", "--out", path("x"), "--width", "20000", "--height", "20000"}
        << "--width: 20000 x 20000 = 400000000 pixels, more than the limit of 25000000";
    QTest::newRow("newline in a file name")
        << QStringList{"metrics", "--saliency-image", path("no\nsuch.png")}
        << path("no?such.png") + ": cannot open file: No such file or directory";
    QTest::newRow("GIF") << QStringList{"metrics", "--saliency-image", path("picture.gif")}
                         << path("picture.gif") +
                                ": image format GIF is not accepted: use PNG, JPEG, BMP or TIFF";
    QTest::newRow("truncated BMP")
        << QStringList{"metrics", "--saliency-image", path("truncated.bmp")}
        << path("truncated.bmp") +
               ": truncated BMP: 2000 bytes, its pixel rows need 9270"; // 54 + 48 x 192
    QTest::newRow("truncated JPEG")
        << QStringList{"metrics", "--saliency-image", path("truncated.jpg")}
        << path("truncated.jpg") + ": truncated JPEG: no end-of-image marker";
    QTest::newRow("BMP decompression bomb")
        << QStringList{"metrics", "--saliency-image", path("bomb.bmp")}
        << path("bomb.bmp") + ": image is 10000x10000 pixels in a file of 1080 bytes: more than "
                              "1024 pixels per byte (a decompression bomb?)";
    QTest::newRow("plot option on metrics")
        << QStringList{"metrics", "--width", "100"} << "--width: not used by the metrics command";
    QTest::newRow("json on plot") << QStringList{"plot", "--out", path("x"), "--json"}
                                  << "--json: not used by the plot command";
    QTest::newRow("backend on project") << QStringList{"project", "--backend", "cpu"}
                                        << "--backend: not used by the project command";
    QTest::newRow("bad backend") << QStringList{"metrics", "--backend", "gpu"}
                                 << "--backend: 'gpu' is not one of cpu, cuda, auto";
    QTest::newRow("bad backend on plot") << QStringList{"plot", "--out", path("x"), "--backend", ""}
                                         << "--backend: '' is not one of cpu, cuda, auto";
    QTest::newRow("bad per-token mode")
        << QStringList{"plot", "--out", path("x"), "--per-token", "log"}
        << "--per-token: 'log' is not values or ratio";
    QTest::newRow("plot width too small") << QStringList{"plot", "--out", path("x"), "--width", "8"}
                                          << "--width: must be at least 16";
    QTest::newRow("plot height too large")
        << QStringList{"plot", "--out", path("x"), "--height", "20001"}
        << "--height: must be at most 20000";
    QTest::newRow("plot head out of range")
        << QStringList{"plot", "--out", path("x"), "--head", "2"} + kSmall
        << "--head: 2 is out of range 0..1";
    QTest::newRow("plot query out of range")
        << QStringList{"plot", "--out", path("x"), "--query", "16"} + kSmall
        << "--query: 16 is out of range 0..15";
    QTest::newRow("plot into a missing parent")
        << QStringList{"plot", "--out", path("missing/plots")} + kSmall
        << path("missing/plots") + ": cannot create the folder: " + path("missing") +
               " does not exist";
    QTest::newRow("plot into a file") << QStringList{"plot", "--out", path("text.png")} + kSmall
                                      << path("text.png") + ": exists and is not a folder";
    QTest::newRow("option of another command") << QStringList{"metrics", "--lambdas", "0,1"}
                                               << "--lambdas: not used by the metrics command";
    QTest::newRow("missing logits file")
        << QStringList{"metrics", "--logits", path("missing.npy")}
        << path("missing.npy") + ": cannot open file: No such file or directory";
    QTest::newRow("warning, then an error: only the error")
        << QStringList{"metrics", "--logits", path("missing.npy"), "--keys", "5"}
        << path("missing.npy") + ": cannot open file: No such file or directory";
    QTest::newRow("text file named .npy")
        << QStringList{"metrics", "--logits", path("text.npy")}
        << path("text.npy") + ": not a .npy file (missing NUMPY magic)";
    QTest::newRow("saliency of the wrong length")
        << QStringList{"metrics", "--saliency", path("short_saliency.npy")} + kSmall
        << path("short_saliency.npy") + ": saliency length is 10, expected 64 (keys)";
    QTest::newRow("attention rows not summing to 1")
        << QStringList{"metrics", "--attention", path("bad_attention.npy")}
        << path("bad_attention.npy") + ": row (0, 1) sums to 1.5, expected 1 within 1e-3";
    QTest::newRow("NaN in logits") << QStringList{"metrics", "--logits", path("nan_logits.npy")}
                                   << path("nan_logits.npy") + ": contains NaN at (0, 1, 1)";
    QTest::newRow("undecodable png") << QStringList{"project", "--saliency-image", path("text.png")}
                                     << path("text.png") + ": cannot decode image: *";
    QTest::newRow("image over 100 megapixels")
        << QStringList{"project", "--saliency-image", path("huge.png")}
        << path("huge.png") + ": image is 20000x6000 = 120000000 pixels, more than the limit of "
                              "100000000 (100 megapixels)";
    QTest::newRow("empty image file")
        << QStringList{"project", "--saliency-image", path("empty.png")}
        << path("empty.png") + ": file is empty, expected an image";
    QTest::newRow("truncated png")
        << QStringList{"metrics", "--saliency-image", path("truncated.png")} + kSmall
        << path("truncated.png") + ": cannot decode image: *";
    QTest::newRow("truncated png, plot")
        << QStringList{"plot", "--out", path("x"), "--saliency-image", path("truncated.png")} +
               kSmall
        << path("truncated.png") + ": cannot decode image: *";
    QTest::newRow("empty image file, metrics")
        << QStringList{"metrics", "--saliency-image", path("empty.png")} + kSmall
        << path("empty.png") + ": file is empty, expected an image";
    QTest::newRow("empty image file, plot")
        << QStringList{"plot", "--out", path("x"), "--saliency-image", path("empty.png")} + kSmall
        << path("empty.png") + ": file is empty, expected an image";
    QTest::newRow("text file named .png, metrics")
        << QStringList{"metrics", "--saliency-image", path("text.png")} + kSmall
        << path("text.png") + ": cannot decode image: *";
    QTest::newRow("text file named .png, plot")
        << QStringList{"plot", "--out", path("x"), "--saliency-image", path("text.png")} + kSmall
        << path("text.png") + ": cannot decode image: *";
    QTest::newRow("50000 x 50000 png header")
        << QStringList{"metrics", "--saliency-image", path("giant.png")} + kSmall
        << path("giant.png") + ": image is 50000x50000 = 2500000000 pixels, more than the limit of "
                               "100000000 (100 megapixels)";
    QTest::newRow("50000 x 50000 png header, plot")
        << QStringList{"plot", "--out", path("x"), "--saliency-image", path("giant.png")} + kSmall
        << path("giant.png") + ": image is 50000x50000 = 2500000000 pixels, more than the limit of "
                               "100000000 (100 megapixels)";
    QTest::newRow("missing image")
        << QStringList{"project", "--saliency-image", path("missing.png")}
        << path("missing.png") + ": cannot open file: No such file or directory";
    QTest::newRow("steer heads out of range")
        << QStringList{"metrics", "--steer-heads", "0:2"} + kSmall
        << "--steer-heads: head 2 is out of range 0..1";
    QTest::newRow("normalize bogus")
        << QStringList{"metrics", "--normalize", "bogus"}
        << "--normalize: 'bogus' is not one of max, minmax, zscore, none, binary:T (T in 0..1)";
    QTest::newRow("binary threshold beyond 1")
        << QStringList{"metrics", "--normalize", "binary:1.5"}
        << "--normalize: 'binary:1.5' is not one of max, minmax, zscore, none, binary:T (T in "
           "0..1)";
    QTest::newRow("gate entropy 2") << QStringList{"metrics", "--gate-entropy", "2"}
                                    << "--gate-entropy: must be a number in 0..1";
    QTest::newRow("gate without threshold")
        << QStringList{"metrics", "--gate", path("gate.npy")} << "--gate: needs --gate-threshold";
    QTest::newRow("gate threshold without gate")
        << QStringList{"metrics", "--gate-threshold", "1"} << "--gate-threshold: needs --gate";
    QTest::newRow("gate of the wrong length")
        << QStringList{"metrics", "--gate", path("gate.npy"), "--gate-threshold", "0.5"} + kSmall
        << path("gate.npy") + ": gate length is 5, expected 16 (queries)";
    QTest::newRow("target of the wrong length")
        << QStringList{"metrics", "--target", path("gate.npy")} + kSmall
        << path("gate.npy") + ": target length is 5, expected 64 (keys)";
    QTest::newRow("target and target mask")
        << QStringList{"metrics", "--target", path("gate.npy"), "--target-mask", path("half.png")}
        << "--target: cannot be combined with --target-mask";
    QTest::newRow("rank by an unknown column")
        << QStringList{"profile", "--rank-by", "fame"}
        << "--rank-by: 'fame' is not one of entropy_original, entropy_steered, "
           "entropy_reduction_pct, kl, rows_steered_fraction, vision_mass, "
           "saliency_expectation_original, saliency_expectation_steered, "
           "saliency_expectation_gain, target_mass_original, target_mass_steered, "
           "target_mass_gain, pointing_original, pointing_steered, pointing_gain, "
           "saliency_correlation, spatial_entropy, steerability, grounding_score";
    QTest::newRow("layer head beyond the layers")
        << QStringList{"metrics", "--steer-heads", "L1H0"} + kSmall
        << "--steer-heads: layer 1 is out of range 0..0";
    QTest::newRow("bad layer head") << QStringList{"metrics", "--steer-heads", "L1"}
                                    << "--steer-heads: 'L1' is not LAYERHHEAD, e.g. L5H3";
    QTest::newRow("top 0") << QStringList{"profile", "--top", "0"} << "--top: must be at least 1";
    QTest::newRow("rank by on metrics") << QStringList{"metrics", "--rank-by", "kl"}
                                        << "--rank-by: not used by the metrics command";
    QTest::newRow("logits and attention")
        << QStringList{"metrics", "--logits", "a.npy", "--attention", "b.npy"}
        << "--logits: cannot be combined with --attention";
    QTest::newRow("project without image")
        << QStringList{"project"} << "project: needs --saliency-image FILE";
    QTest::newRow("bad lambda range") << QStringList{"sweep", "--lambdas", "0:1:0"} + kSmall
                                      << "--lambdas: step must be > 0 in START:STOP:STEP";
    // The transformer workload (issue 13).
    const QStringList transformer = QStringList{"--workload", "transformer"} + kSmall;
    QTest::newRow("bad workload") << QStringList{"metrics", "--workload", "llama"}
                                  << "--workload: 'llama' is not one of random, transformer";
    QTest::newRow("workload on project") << QStringList{"project", "--workload", "transformer"}
                                         << "--workload: not used by the project command";
    QTest::newRow("transformer with logits")
        << QStringList{"metrics", "--workload", "transformer", "--logits", path("x.npy")}
        << "--workload: transformer cannot be combined with --logits";
    QTest::newRow("transformer with attention")
        << QStringList{"sweep", "--workload", "transformer", "--attention", path("x.npy")}
        << "--workload: transformer cannot be combined with --attention";
    QTest::newRow("head dim odd") << QStringList{"metrics", "--head-dim", "17"} + transformer
                                  << "--head-dim: must be an even number from 8 to 1024";
    QTest::newRow("head dim 4") << QStringList{"metrics", "--head-dim", "4"} + transformer
                                << "--head-dim: must be an even number from 8 to 1024";
    QTest::newRow("head dim 2048") << QStringList{"sweep", "--head-dim", "2048"} + transformer
                                   << "--head-dim: must be an even number from 8 to 1024";
    QTest::newRow("head dim not a number")
        << QStringList{"plot", "--out", path("x"), "--head-dim", "big"} + transformer
        << "--head-dim: 'big' is not a valid whole number";
    QTest::newRow("target strength -1")
        << QStringList{"metrics", "--target-strength", "-1"} + transformer
        << "--target-strength: must be between 0 and 100";
    QTest::newRow("target strength 1e9")
        << QStringList{"metrics", "--target-strength", "1e9"} + transformer
        << "--target-strength: must be between 0 and 100";
    QTest::newRow("saliency quality 1.5")
        << QStringList{"metrics", "--saliency-quality", "1.5"} + transformer
        << "--saliency-quality: must be between 0 and 1";
    QTest::newRow("saliency quality text")
        << QStringList{"metrics", "--saliency-quality", "good"} + transformer
        << "--saliency-quality: 'good' is not a valid number";
    QTest::newRow("saliency blur -1")
        << QStringList{"metrics", "--saliency-blur", "-1"} + transformer
        << "--saliency-blur: must be between 0 and 100";
    QTest::newRow("transformer of 4 million keys")
        << QStringList{"metrics", "--workload", "transformer", "--queries",
                       "1",       "--keys",     "4000000"}
        << "--keys: keys x head-dim must be at most 2^24 for the transformer workload (131072 "
           "keys at head-dim 128)";
    QTest::newRow("transformer queries above keys")
        << QStringList{"metrics", "--workload", "transformer", "--queries", "65", "--keys", "64"}
        << "--queries: must not exceed the keys (64) for the transformer workload (the last Q "
           "tokens ask)";
    QTest::newRow("transformer vision offset 0")
        << QStringList{"metrics", "--vision-offset", "0"} + transformer
        << "--vision-offset: must be at least 1 for the transformer workload (token 0 is the sink)";
    QTest::newRow("transformer image does not fit")
        << QStringList{"metrics", "--vision-offset", "40", "--image-grid", "5x5"} + transformer
        << "--vision-offset: the 5x5 = 25 vision tokens at offset 40 do not fit into 64 keys";
    QTest::newRow("vision tokens do not fit")
        << QStringList{"metrics", "--saliency-image", path("half.png"), "--vision-offset", "62"} +
               kSmall
        << "--vision-offset: the 2x2 = 4 vision tokens at offset 62 do not fit into 64 keys";
}

void TestCli::badInput() {
    QFETCH(QStringList, arguments);
    QFETCH(QString, message);
    const CliRun run = runCli(arguments);
    QCOMPARE(run.exitCode, 2);
    QCOMPARE(run.out, QByteArray());
    const QString err = QString::fromUtf8(run.err);
    QVERIFY2(err.endsWith('\n') && err.count('\n') == 1, qPrintable(err));
    const QString expected = "attnsteer-cli: error: " + message + "\n";
    if (message.endsWith('*')) // the reason comes from Qt's image plugins
        QVERIFY2(err.startsWith(expected.left(expected.size() - 2)) && err.size() > expected.size(),
                 qPrintable(err));
    else
        QCOMPARE(err, expected);
    // A plot that failed made no folder and wrote no picture.
    QVERIFY(!QFileInfo::exists(path("x")));
}

void TestCli::hostileRangesEndQuickly() {
    // The largest seed as a range of one: no wrap at 2^64 - 1, one row per lambda.
    const CliRun run =
        runCli({"sweep", "--json", "--backend", "cpu", "--heads", "1", "--queries", "2", "--keys",
                "4", "--lambdas", "0,1", "--seeds", "18446744073709551615:18446744073709551615"});
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(parseObject(run.out).value("rows").toArray().size(), 2);
    // One row of 4 million keys: block buffers of one row, not 32.
    const CliRun wide = runCli({"metrics", "--json", "--backend", "cpu", "--heads", "1",
                                "--queries", "1", "--keys", "4000000"});
    QCOMPARE(wide.exitCode, 0);
    QVERIFY(std::isfinite(parseObject(wide.out).value("kl").toDouble()));
}

void TestCli::fileNamesThatAreNotUtf8() {
    // "n\xe9w.png" in Latin-1 bytes: not UTF-8, so Qt cannot hold it; the arguments are passed
    // as bytes through the shell.
    const QByteArray name = QFile::encodeName(dir_.path()) + "/n\xe9w.png";
    QFile::remove(QFile::decodeName(name));
    {
        const int fd = ::open(name.constData(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        QVERIFY(fd >= 0);
        const QByteArray png = readAll(path("half.png"));
        QCOMPARE(::write(fd, png.constData(), std::size_t(png.size())), ssize_t(png.size()));
        ::close(fd);
    }
    QProcess shell;
    shell.start(QStringLiteral("/bin/sh"),
                {QStringLiteral("-c"),
                 QStringLiteral("exec \"$0\" project --json --normalize none --saliency-image "
                                "\"$1/$(printf 'n\\351w.png')\""),
                 QStringLiteral(ATTNSTEER_CLI_PATH), dir_.path()});
    QVERIFY(shell.waitForFinished(60000));
    QCOMPARE(shell.exitCode(), 0);
    QCOMPARE(parseObject(shell.readAllStandardOutput()).value("saliency").toArray(),
             (QJsonArray{0.0, 1.0, 0.0, 1.0}));
    ::unlink(name.constData());
}

void TestCli::signalsRemoveTemporaryFiles() {
    for (const int signal : {SIGTERM, SIGINT}) {
        const QString out = path(QStringLiteral("interrupted-%1").arg(signal));
        QVERIFY(QDir().mkpath(out));
        QProcess process;
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert(QStringLiteral("ATTNSTEER_TEST_HOLD_TEMPORARY"), QStringLiteral("1"));
        process.setProcessEnvironment(environment);
        process.start(QStringLiteral(ATTNSTEER_CLI_PATH),
                      {"plot", "--backend", "cpu", "--heads", "2", "--queries", "8", "--keys", "64",
                       "--out", out});
        // The writer announces its first temporary file, complete on the disk, then waits.
        QByteArray err;
        QTRY_VERIFY_WITH_TIMEOUT((err += process.readAllStandardError()).contains("temporary "),
                                 60000);
        QCOMPARE(QDir(out).entryList(QDir::Files | QDir::Hidden).size(), 1);
        ::kill(pid_t(process.processId()), signal);
        QVERIFY(process.waitForFinished(30000));
        QCOMPARE(process.exitStatus(), QProcess::CrashExit); // ended by the signal, as asked
        QCOMPARE(QDir(out).entryList(QDir::Files | QDir::Hidden), QStringList());
    }
}

void TestCli::concurrentPlotsDoNotMix() {
    // Four runs without --force into one folder: each either wrote all four pictures or none,
    // and the folder holds the four of exactly one run.
    const QString out = path("concurrent");
    QVERIFY(QDir().mkpath(out));
    std::vector<std::unique_ptr<QProcess>> runs;
    for (int seed = 0; seed < 4; ++seed) {
        auto process = std::make_unique<QProcess>();
        process->start(QStringLiteral(ATTNSTEER_CLI_PATH),
                       {"plot", "--backend", "cpu", "--heads", "2", "--queries", "8", "--keys",
                        "64", "--seed", QString::number(seed), "--out", out});
        runs.push_back(std::move(process));
    }
    int succeeded = 0;
    for (auto& process : runs) {
        QVERIFY(process->waitForFinished(120000));
        const QByteArray err = process->readAllStandardError();
        if (process->exitCode() == 0) {
            ++succeeded;
        } else {
            QCOMPARE(process->exitCode(), 2);
            QVERIFY2(err.contains("exists"), err.constData());
        }
    }
    QVERIFY(succeeded <= 1);
    const QStringList left = QDir(out).entryList(QDir::Files | QDir::Hidden);
    QVERIFY2(left.isEmpty() || left.size() == 4, qPrintable(left.join(',')));
    if (succeeded == 1)
        QCOMPARE(left.size(), 4);
}

void TestCli::missingCommandPrintsHelp() {
    const CliRun run = runCli({});
    QCOMPARE(run.exitCode, 2);
    QCOMPARE(run.out, QByteArray());
    QVERIFY(run.err.startsWith("Usage: attnsteer-cli"));
    QVERIFY(run.err.endsWith("attnsteer-cli: error: no command given (expected metrics, sweep, "
                             "project, plot, profile or attention-bench)\n"));
}

void TestCli::help() {
    const CliRun run = runCli({"--help"});
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.err, QByteArray());
    for (const char* command : {"metrics", "sweep", "project", "plot", "attention-bench"})
        QVERIFY2(run.out.contains(QByteArray("\n  ") + command + " "), command);
    QVERIFY(run.out.contains("--saliency-image"));
    QVERIFY(run.out.contains("--backend"));
    QVERIFY(run.out.contains("--out"));
}

void TestCli::commandHelp() {
    const CliRun run = runCli({"sweep", "--help"});
    QCOMPARE(run.exitCode, 0);
    QVERIFY(run.out.contains("--lambdas"));
    QVERIFY(run.out.contains("--csv"));
    QVERIFY(!run.out.contains("--per-head"));
    QVERIFY(run.out.contains("--backend"));
    QVERIFY(run.out.contains("Overwrite an existing --csv file."));

    const CliRun plot = runCli({"plot", "--help"});
    QCOMPARE(plot.exitCode, 0);
    for (const char* option :
         {"--out", "--width", "--height", "--force", "--head", "--query", "--lambdas", "--seeds",
          "--sort-by-saliency", "--difference", "--backend", "--saliency-image", "--lambda"})
        QVERIFY2(plot.out.contains(option), option);
    QVERIFY(plot.out.contains("default 64 evenly spaced"));
    QVERIFY(plot.out.contains("Overwrite existing picture files."));
    QVERIFY(!plot.out.contains("--json"));
    QVERIFY(!plot.out.contains("--csv"));
}

void TestCli::version() {
    const CliRun run = runCli({"--version"});
    QCOMPARE(run.exitCode, 0);
    QVERIFY2(QRegularExpression(R"(^attnsteer-cli \d+\.\d+\.\d+\n$)")
                 .match(QString::fromUtf8(run.out))
                 .hasMatch(),
             run.out.constData());
}

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
