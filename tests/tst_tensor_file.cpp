// Tests for the tensor-file reader (tensor_file.h): every container, dtype and layout that numpy
// writes (tests/data/make_tensor_fixtures.py, run at start-up with Debian's python3 and numpy)
// read back bit for bit against numpy's own float32 conversion; the conversions alone; the errors,
// each with its exact one-line message; concurrent reads; a file truncated after it was opened.

#include "attnsteer/errors.h"
#include "attnsteer/npy.h"
#include "attnsteer/tensor_file.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <stdexcept>
#include <thread>

#include <sys/stat.h>

using namespace attnsteer;

Q_DECLARE_METATYPE(attnsteer::TensorDtype)

namespace {

/// A .npy file: magic, version 1.0, header length, DICT padded to 64 bytes and ended by '\n'.
QByteArray npyBytes(const QByteArray& dict, const QByteArray& data = {}) {
    const int total = (10 + int(dict.size()) + 1 + 63) / 64 * 64;
    const int headerSize = total - 10;
    QByteArray out("\x93NUMPY\x01\x00", 8);
    out += char(headerSize & 0xff);
    out += char(headerSize >> 8);
    out += dict;
    out += QByteArray(headerSize - int(dict.size()) - 1, ' ');
    out += '\n';
    return out + data;
}

QByteArray npyDict(const QByteArray& descr, const QByteArray& shape) {
    return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
}

/// A .safetensors file: the header length (HEADER's unless LENGTH is given), HEADER, DATA.
QByteArray safetensorsBytes(const QByteArray& header, const QByteArray& data = {},
                            std::int64_t length = -1) {
    const std::uint64_t n = length < 0 ? std::uint64_t(header.size()) : std::uint64_t(length);
    QByteArray out;
    for (int i = 0; i < 8; ++i)
        out += char((n >> (8 * i)) & 0xff);
    return out + header + data;
}

std::uint32_t bitsOf(float value) {
    return std::bit_cast<std::uint32_t>(value);
}

std::string errorOf(const std::string& path) {
    try {
        TensorFile::open(path);
    } catch (const InputError& e) {
        if (e.subject() != InputSubject::file(path))
            return "(error not about the file) " + std::string(e.what());
        return e.what();
    }
    return "(no error)";
}

} // namespace

class TestTensorFile : public QObject {
    Q_OBJECT

  private:
    QTemporaryDir dir_;
    QString fixtures_;
    std::map<QString, NpyArray> expected_;

    std::string fixture(const QString& name) const {
        return (fixtures_ + "/" + name).toStdString();
    }
    std::string pathFor(const QString& name) const { return dir_.filePath(name).toStdString(); }

    std::string writeFile(const QString& name, const QByteArray& bytes) {
        QFile file(dir_.filePath(name));
        if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
            qFatal("cannot create test file");
        file.write(bytes);
        file.close();
        return file.fileName().toStdString();
    }

    /// numpy's float32 conversion of the seeded tensor for TAG ("f2", "f4", "bf16", "big").
    const NpyArray& expected(const QString& tag) {
        auto it = expected_.find(tag);
        if (it == expected_.end())
            it = expected_.emplace(tag, readNpy(fixture("expected_" + tag + ".npy"))).first;
        return it->second;
    }

    /// Reads every row of FILE in blocks of BLOCK rows and counts the elements whose bits
    /// differ from EXPECTED[layer][head][query][key] ([Lx, Hx, Q, K], the file's layers and heads
    /// being the first ones).
    static std::size_t mismatches(const TensorFile& file, const NpyArray& expected,
                                  std::size_t block) {
        const std::size_t hx = expected.shape[1], q = std::size_t(file.queries()),
                          k = std::size_t(file.keys());
        const std::size_t rows = std::size_t(file.heads()) * q;
        std::vector<float> out(block * k);
        std::size_t differ = 0;
        for (int layer = 0; layer < file.layers(); ++layer) {
            for (std::size_t first = 0; first < rows; first += block) {
                const std::size_t count = std::min(block, rows - first);
                std::fill(out.begin(), out.end(), -12345.0f);
                file.readRows(layer, first, count, out.data());
                for (std::size_t r = 0; r < count; ++r) {
                    const std::size_t head = (first + r) / q, query = (first + r) % q;
                    const float* want =
                        expected.data.data() + ((std::size_t(layer) * hx + head) * q + query) * k;
                    differ += std::memcmp(out.data() + r * k, want, k * sizeof(float)) != 0;
                }
            }
        }
        return differ;
    }

  private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        fixtures_ = dir_.filePath("fixtures");
        // Fixtures are written by numpy itself; without it this suite fails rather than skips.
        QProcess python;
        python.start(QStringLiteral(ATTNSTEER_PYTHON3),
                     {QStringLiteral(ATTNSTEER_TENSOR_FIXTURES), fixtures_});
        QVERIFY2(python.waitForStarted(10000),
                 qPrintable("cannot start " + QStringLiteral(ATTNSTEER_PYTHON3) +
                            " (Debian's python3 with python3-numpy): " + python.errorString()));
        QVERIFY2(python.waitForFinished(120000), "make_tensor_fixtures.py did not finish");
        QVERIFY2(python.exitStatus() == QProcess::NormalExit && python.exitCode() == 0,
                 qPrintable("make_tensor_fixtures.py failed: " +
                            QString::fromLocal8Bit(python.readAllStandardError())));
        QVERIFY(QFileInfo::exists(fixtures_ + "/expected_f2.npy"));
    }

    void dtypeNamesAndSizes() {
        QCOMPARE(std::string(dtypeName(TensorDtype::Float16)), std::string("float16"));
        QCOMPARE(std::string(dtypeName(TensorDtype::BFloat16)), std::string("bfloat16"));
        QCOMPARE(std::string(dtypeName(TensorDtype::Float32)), std::string("float32"));
        QCOMPARE(std::string(dtypeName(TensorDtype::Float64)), std::string("float64"));
        QCOMPARE(dtypeBytes(TensorDtype::Float16), std::size_t(2));
        QCOMPARE(dtypeBytes(TensorDtype::BFloat16), std::size_t(2));
        QCOMPARE(dtypeBytes(TensorDtype::Float32), std::size_t(4));
        QCOMPARE(dtypeBytes(TensorDtype::Float64), std::size_t(8));
    }

    void halfToFloatEveryPattern() {
        // numpy's float16 -> float32 of all 65536 bit patterns, NaN payloads included.
        const NpyArray table = readNpy(fixture("half_table.npy"));
        QCOMPARE(table.data.size(), std::size_t(65536));
        int differ = 0;
        for (std::uint32_t bits = 0; bits < 65536; ++bits)
            if (bitsOf(halfToFloat(static_cast<unsigned short>(bits))) != bitsOf(table.data[bits]))
                ++differ;
        QCOMPARE(differ, 0);
        // The same patterns read in bulk from a float16 file (the CPU's F16C conversion where
        // the build has it, the bits above for the rest): the same bits, except that F16C
        // quiets signaling NaNs (still NaN, which every dump check refuses anyway).
        QByteArray halves;
        for (std::uint32_t bits = 0; bits < 65536; ++bits)
            halves += char(bits & 0xff), halves += char(bits >> 8);
        const auto file = TensorFile::open(
            writeFile("every_half.npy", npyBytes(npyDict("<f2", "(256, 256)"), halves)));
        std::vector<float> bulk(65536);
        file->readRows(0, 0, 256, bulk.data());
        int bulkDiffer = 0;
        for (std::uint32_t bits = 0; bits < 65536; ++bits)
            if (bitsOf(bulk[bits]) != bitsOf(table.data[bits]) &&
                !(std::isnan(bulk[bits]) && std::isnan(table.data[bits])))
                ++bulkDiffer;
        QCOMPARE(bulkDiffer, 0);
        QCOMPARE(halfToFloat(0x3c00), 1.0f);
        QCOMPARE(halfToFloat(0xc000), -2.0f);
        QCOMPARE(halfToFloat(0x7bff), 65504.0f);
        QCOMPARE(halfToFloat(0x0001), std::ldexp(1.0f, -24));
        QCOMPARE(bitsOf(halfToFloat(0x8000)), 0x80000000u);
        QCOMPARE(halfToFloat(0xfc00), -std::numeric_limits<float>::infinity());
        QCOMPARE(bitsOf(halfToFloat(0x7e01)), 0x7fc02000u);
    }

    void bfloat16Conversions_data() {
        QTest::addColumn<quint32>("floatBits");
        QTest::addColumn<quint16>("bfloat16");
        QTest::newRow("one") << quint32(0x3f800000) << quint16(0x3f80);
        QTest::newRow("tie to even, down") << quint32(0x3f808000) << quint16(0x3f80);
        QTest::newRow("tie to even, up") << quint32(0x3f818000) << quint16(0x3f82);
        QTest::newRow("above the tie") << quint32(0x3f808001) << quint16(0x3f81);
        QTest::newRow("below the tie") << quint32(0x3f807fff) << quint16(0x3f80);
        QTest::newRow("negative tie") << quint32(0xbf818000) << quint16(0xbf82);
        QTest::newRow("-0") << quint32(0x80000000) << quint16(0x8000);
        QTest::newRow("largest float: inf") << quint32(0x7f7fffff) << quint16(0x7f80);
        QTest::newRow("inf") << quint32(0x7f800000) << quint16(0x7f80);
        QTest::newRow("-inf") << quint32(0xff800000) << quint16(0xff80);
        QTest::newRow("quiet NaN") << quint32(0x7fc00001) << quint16(0x7fc0);
        QTest::newRow("signaling NaN") << quint32(0x7f800001) << quint16(0x7fc0);
        QTest::newRow("negative NaN") << quint32(0xffffffff) << quint16(0x7fc0);
        QTest::newRow("subnormal tie") << quint32(0x00018000) << quint16(0x0002);
        QTest::newRow("smallest subnormal") << quint32(0x00000001) << quint16(0x0000);
    }

    void bfloat16Conversions() {
        QFETCH(quint32, floatBits);
        QFETCH(quint16, bfloat16);
        QCOMPARE(quint16(floatToBfloat16(std::bit_cast<float>(floatBits))), bfloat16);
        if ((bfloat16 & 0x7f80) != 0x7f80 || bfloat16 == 0x7f80 || bfloat16 == 0xff80)
            QCOMPARE(bitsOf(bfloat16ToFloat(bfloat16)), quint32(bfloat16) << 16);
    }

    void bfloat16AsNumpyRounds() {
        // The seeded tensor's float32 values rounded by the fixture script with integer ops.
        const NpyArray& f4 = expected("f4");
        const NpyArray& bf16 = expected("bf16");
        QCOMPARE(f4.data.size(), bf16.data.size());
        int differ = 0;
        for (std::size_t i = 0; i < f4.data.size(); ++i)
            differ += bitsOf(bfloat16ToFloat(floatToBfloat16(f4.data[i]))) != bitsOf(bf16.data[i]);
        QCOMPARE(differ, 0);
    }

    void readsEveryLayout_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("expectedTag");
        QTest::addColumn<int>("layers");
        QTest::addColumn<int>("heads");
        QTest::addColumn<TensorDtype>("dtype");
        QTest::addColumn<QStringList>("names");
        const auto numbered = [](const QString& prefix) {
            QStringList names;
            for (int i = 0; i < 12; ++i)
                names << prefix + QString::number(i);
            return names;
        };
        const QStringList whole{"attentions"};
        const std::pair<const char*, TensorDtype> npyDtypes[] = {
            {"f2", TensorDtype::Float16},  {"f4", TensorDtype::Float32},
            {"f8", TensorDtype::Float64},  {"bf2", TensorDtype::Float16},
            {"bf4", TensorDtype::Float32}, {"bf8", TensorDtype::Float64}};
        for (const auto& [tag, dtype] : npyDtypes) {
            const QString expectedTag = dtype == TensorDtype::Float16 ? "f2" : "f4";
            const std::tuple<const char*, int, int> layouts[] = {
                {"qk", 1, 1}, {"hqk", 1, 3}, {"lhqk", 12, 3}, {"l1hqk", 12, 3}, {"1hqk", 1, 3}};
            for (const auto& [layout, layers, heads] : layouts) {
                const QString file = QString("npy_%1_%2.npy").arg(layout, tag);
                QTest::newRow(qPrintable(file))
                    << file << expectedTag << layers << heads << dtype << QStringList();
            }
        }
        QTest::newRow("npy v2") << "npy_lhqk_f2_v2.npy"
                                << "f2" << 12 << 3 << TensorDtype::Float16 << QStringList();
        QTest::newRow("npy v3") << "npy_lhqk_f4_v3.npy"
                                << "f4" << 12 << 3 << TensorDtype::Float32 << QStringList();

        QTest::newRow("savez f2") << "npz_whole_f2.npz"
                                  << "f2" << 12 << 3 << TensorDtype::Float16 << whole;
        QTest::newRow("savez f4") << "npz_whole_f4.npz"
                                  << "f4" << 12 << 3 << TensorDtype::Float32 << whole;
        QTest::newRow("savez_compressed f2") << "npzc_whole_f2.npz"
                                             << "f2" << 12 << 3 << TensorDtype::Float16 << whole;
        QTest::newRow("savez_compressed f4") << "npzc_whole_f4.npz"
                                             << "f4" << 12 << 3 << TensorDtype::Float32 << whole;
        QTest::newRow("savez layers f2")
            << "npz_layers_f2.npz"
            << "f2" << 12 << 3 << TensorDtype::Float16 << numbered("attentions.");
        QTest::newRow("savez_compressed layers [1,H,Q,K] f4")
            << "npzc_layers_f4.npz"
            << "f4" << 12 << 3 << TensorDtype::Float32 << numbered("model.layers.");
        QTest::newRow("savez layers >f4")
            << "npz_layers_bf4.npz"
            << "f4" << 12 << 3 << TensorDtype::Float32 << numbered("layer_");
        QTest::newRow("savez_compressed layers f8")
            << "npzc_layers_f8.npz"
            << "f4" << 12 << 3 << TensorDtype::Float64 << numbered("layer_");
        QTest::newRow("savez layers [Q,K] f4")
            << "npz_layers_qk_f4.npz"
            << "f4" << 12 << 1 << TensorDtype::Float32 << numbered("attn");
        QTest::newRow("zip64 layers f2")
            << "npz_zip64_f2.npz"
            << "f2" << 12 << 3 << TensorDtype::Float16 << numbered("layer_");
        QTest::newRow("data descriptors f2") << "npzc_descriptor_f2.npz"
                                             << "f2" << 12 << 3 << TensorDtype::Float16 << whole;

        const std::tuple<const char*, const char*, TensorDtype> stDtypes[] = {
            {"F16", "f2", TensorDtype::Float16},
            {"BF16", "bf16", TensorDtype::BFloat16},
            {"F32", "f4", TensorDtype::Float32},
            {"F64", "f4", TensorDtype::Float64}};
        for (const auto& [name, tag, dtype] : stDtypes) {
            QTest::newRow(qPrintable(QString("safetensors %1").arg(name)))
                << QString("st_whole_%1.safetensors").arg(name) << tag << 12 << 3 << dtype << whole;
            QTest::newRow(qPrintable(QString("safetensors layers %1").arg(name)))
                << QString("st_layers_%1.safetensors").arg(name) << tag << 12 << 3 << dtype
                << numbered("model.layers.");
        }
    }

    void readsEveryLayout() {
        QFETCH(QString, file);
        QFETCH(QString, expectedTag);
        QFETCH(int, layers);
        QFETCH(int, heads);
        QFETCH(TensorDtype, dtype);
        QFETCH(QStringList, names);
        const std::string path = fixture(file);
        const auto tensor = TensorFile::open(path);
        QCOMPARE(tensor->path(), path);
        QCOMPARE(tensor->layers(), layers);
        QCOMPARE(tensor->heads(), heads);
        QCOMPARE(tensor->queries(), 5);
        QCOMPARE(tensor->keys(), 7);
        QCOMPARE(tensor->dtype(), dtype);
        QStringList layerNames;
        for (const std::string& name : tensor->layerNames())
            layerNames << QString::fromStdString(name);
        QCOMPARE(layerNames, names);
        const NpyArray& want = expected(expectedTag);
        for (std::size_t block : {std::size_t(1), std::size_t(2), std::size_t(15)})
            QCOMPARE(mismatches(*tensor, want, block), std::size_t(0));
        // A value the fixture script put first: 0 in every dtype, then -0, inf, -inf, NaN.
        std::vector<float> row(7);
        tensor->readRows(0, 0, 1, row.data());
        QCOMPARE(bitsOf(row[0]), 0u);
        QCOMPARE(bitsOf(row[1]), 0x80000000u);
        QCOMPARE(row[2], std::numeric_limits<float>::infinity());
        QCOMPARE(row[3], -std::numeric_limits<float>::infinity());
        QVERIFY(std::isnan(row[4]));
    }

    void comparisonSeesDifferences() {
        // The check above is not blind: float16 values are not float32's, and a file whose
        // layers were taken in the order they are stored would differ from layer 1 on.
        const auto f2 = TensorFile::open(fixture("npy_lhqk_f2.npy"));
        QVERIFY(mismatches(*f2, expected("f4"), 3) > 100);
        const auto layers = TensorFile::open(fixture("npz_layers_f2.npz"));
        std::vector<float> byIndex(15 * 7), stored(15 * 7);
        layers->readRows(7, 0, 15, byIndex.data());
        f2->readRows(7, 0, 15, stored.data());
        QVERIFY(std::memcmp(byIndex.data(), stored.data(), byIndex.size() * 4) == 0);
        f2->readRows(0, 0, 15, stored.data());
        QVERIFY(std::memcmp(byIndex.data(), stored.data(), byIndex.size() * 4) != 0);
    }

    void compressedMemberInflatedInBlocks() {
        // 3 MiB of float32 in one deflated member: inflated 1 MiB at a time.
        const NpyArray& want = expected("big");
        QVERIFY(want.data.size() * sizeof(float) > (std::size_t(2) << 20));
        QVERIFY(QFileInfo(QString::fromStdString(fixture("npzc_big.npz"))).size() > (1 << 20));
        const auto tensor = TensorFile::open(fixture("npzc_big.npz"));
        QCOMPARE(tensor->layers(), 12);
        QCOMPARE(tensor->heads(), 4);
        QCOMPARE(tensor->queries(), 64);
        QCOMPARE(tensor->keys(), 256);
        QCOMPARE(mismatches(*tensor, want, 32), std::size_t(0));
        QCOMPARE(mismatches(*tensor, want, 256), std::size_t(0));
    }

    void concurrentReads() {
        struct Case {
            std::shared_ptr<const TensorFile> file;
            const NpyArray* want;
        };
        const std::vector<Case> cases = {
            {TensorFile::open(fixture("npy_lhqk_f2.npy")), &expected("f2")},
            {TensorFile::open(fixture("npy_lhqk_bf8.npy")), &expected("f4")},
            {TensorFile::open(fixture("npzc_whole_f4.npz")), &expected("f4")},
            {TensorFile::open(fixture("npz_layers_f2.npz")), &expected("f2")},
            {TensorFile::open(fixture("st_layers_BF16.safetensors")), &expected("bf16")},
            {TensorFile::open(fixture("npzc_big.npz")), &expected("big")}};
        std::atomic<std::size_t> differ{0}, rounds{0};
        std::atomic<bool> failed{false};
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                try {
                    for (int repeat = 0; repeat < 5; ++repeat)
                        for (const Case& c : cases) {
                            differ += mismatches(*c.file, *c.want, 1 + 2 * t + repeat);
                            ++rounds;
                        }
                } catch (...) {
                    failed = true;
                }
            });
        }
        for (std::thread& thread : threads)
            thread.join();
        QVERIFY(!failed);
        QCOMPARE(rounds.load(), std::size_t(4 * 5 * cases.size()));
        QCOMPARE(differ.load(), std::size_t(0));
    }

    void readRowsArguments() {
        const auto tensor = TensorFile::open(fixture("npy_lhqk_f4.npy"));
        std::vector<float> out(15 * 7);
        QVERIFY_THROWS_EXCEPTION(std::out_of_range, tensor->readRows(-1, 0, 1, out.data()));
        QVERIFY_THROWS_EXCEPTION(std::out_of_range, tensor->readRows(12, 0, 1, out.data()));
        QVERIFY_THROWS_EXCEPTION(std::out_of_range, tensor->readRows(0, 14, 2, out.data()));
        QVERIFY_THROWS_EXCEPTION(std::out_of_range, tensor->readRows(0, 16, 0, out.data()));
        tensor->readRows(11, 15, 0, nullptr); // nothing to read
        tensor->readRows(11, 14, 1, out.data());
        const NpyArray& want = expected("f4");
        QCOMPARE(out[6], want.data[12 * 15 * 7 - 1]);
    }

    void fixtureErrors_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("problem");
        const QString batch =
            "batch size is 2; only batch 1 is supported: dump one example per file";
        QTest::newRow("batch 2") << "err_batch.npy" << batch;
        QTest::newRow("batch 2 per layer") << "err_batch_layers.npz"
                                           << "array 'layer_0': " + batch;
        QTest::newRow("gap") << "err_gap.npz"
                             << "layers 0..2 expected, index 2 is missing ('layer_3' has index 3)";
        QTest::newRow("duplicate") << "err_duplicate.npz"
                                   << "arrays 'a_1' and 'b_1' both have layer index 1";
        QTest::newRow("shapes differ")
            << "err_shape.npz"
            << "layer 1 ('layer_1') has shape (3, 5, 6), layer 0 ('layer_0') has (3, 5, 7)";
        QTest::newRow("dtypes differ")
            << "err_dtype.npz"
            << "layer 1 ('layer_1') is float64, layer 0 ('layer_0') is float32";
        QTest::newRow("no index") << "err_no_index.npz"
                                  << "array 'mask' has no layer index at the end of its name "
                                     "(several arrays are one per layer: 'layer_0', 'layer_1', "
                                     "...)";
        QTest::newRow("truncated stored member")
            << "err_truncated_member.npz"
            << "member 'layer_0.npy': truncated: expected 420 bytes of data, found 100";
        QTest::newRow("truncated deflated member")
            << "err_truncated_deflated.npz"
            << "member 'layer_0.npy': truncated: expected 420 bytes of data, found 100";
        QTest::newRow("bzip2") << "err_bzip2.npz"
                               << "member 'attentions.npy' uses compression method 12; only "
                                  "stored (0) and deflate (8) are supported";
        QTest::newRow("corrupt deflate")
            << "err_corrupt.npz"
            << "member 'attentions.npy': corrupt deflate data (invalid block type)";
        QTest::newRow("CRC") << "err_crc.npz"
                             << "member 'attentions.npy': CRC-32 is %1, the zip directory gives "
                                "12345678 (corrupt data)";
        QTest::newRow("cut archive")
            << "err_cut.npz"
            << "not a zip archive, or cut off: no end of central directory record";
    }

    void fixtureErrors() {
        QFETCH(QString, file);
        QFETCH(QString, problem);
        if (problem.contains("%1")) {
            QFile crc(QString::fromStdString(fixture("err_crc.txt")));
            QVERIFY(crc.open(QIODevice::ReadOnly));
            problem = problem.arg(QString::fromLatin1(crc.readAll()));
        }
        const std::string path = fixture(file);
        QCOMPARE(errorOf(path), path + ": " + problem.toStdString());
    }

    void builtErrors_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("problem");
        const QByteArray f4x4(16, '\0');
        QTest::newRow("safetensors too short")
            << "a.safetensors" << QByteArray("abc")
            << "not a safetensors file: 3 bytes, shorter than the 8-byte header length";
        QTest::newRow("safetensors empty")
            << "a.safetensors" << QByteArray()
            << "not a safetensors file: 0 bytes, shorter than the 8-byte header length";
        QTest::newRow("header length beyond the file")
            << "a.safetensors" << safetensorsBytes("{}", {}, 1000)
            << "safetensors header length 1000 exceeds the file size (10 bytes)";
        QTest::newRow("header not JSON") << "a.safetensors" << safetensorsBytes("{\"x\": }  ")
                                         << "safetensors header is not valid JSON (at byte 7)";
        QTest::newRow("header not an object") << "a.safetensors" << safetensorsBytes("[1, 2]  ")
                                              << "safetensors header is not a JSON object";
        QTest::newRow("unsupported dtype")
            << "a.safetensors"
            << safetensorsBytes(R"({"x": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}})",
                                f4x4)
            << "tensor 'x' has dtype I64, expected F16, BF16, F32 or F64";
        QTest::newRow("data_offsets beyond the file")
            << "a.safetensors"
            << safetensorsBytes(
                   R"({"x": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 1600]}})", f4x4)
            << "tensor 'x': data_offsets [0, 1600] lie beyond the data (16 bytes after the "
               "header)";
        QTest::newRow("data_offsets reversed")
            << "a.safetensors"
            << safetensorsBytes(
                   R"({"x": {"dtype": "F32", "shape": [2, 2], "data_offsets": [16, 0]}})", f4x4)
            << "tensor 'x': data_offsets [16, 0] lie beyond the data (16 bytes after the header)";
        QTest::newRow("data_offsets too small for the shape")
            << "a.safetensors"
            << safetensorsBytes(
                   R"({"x": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 16]}})", f4x4)
            << "tensor 'x': data_offsets [0, 16] hold 16 bytes, its shape (2, 3) of F32 needs 24";
        QTest::newRow("no shape") << "a.safetensors"
                                  << safetensorsBytes(
                                         R"({"x": {"dtype": "F32", "data_offsets": [0, 16]}})",
                                         f4x4)
                                  << "tensor 'x' has no shape list";
        QTest::newRow("negative dimension")
            << "a.safetensors"
            << safetensorsBytes(
                   R"({"x": {"dtype": "F32", "shape": [-2, 2], "data_offsets": [0, 16]}})", f4x4)
            << "tensor 'x': shape is not a list of non-negative integers";
        QTest::newRow("no data_offsets")
            << "a.safetensors" << safetensorsBytes(R"({"x": {"dtype": "F32", "shape": [2, 2]}})")
            << "tensor 'x' has no data_offsets [begin, end]";
        QTest::newRow("only metadata")
            << "a.safetensors" << safetensorsBytes(R"({"__metadata__": {"format": "pt"}})")
            << "the safetensors file holds no tensors";
        QTest::newRow("safetensors [K]")
            << "a.safetensors"
            << safetensorsBytes(R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})",
                                f4x4)
            << "array 'x': shape (4,) does not fit: expected [Q,K], [H,Q,K], [L,H,Q,K] or "
               "[L,1,H,Q,K]";
        QTest::newRow("safetensors empty shape")
            << "a.safetensors"
            << safetensorsBytes(
                   R"({"x": {"dtype": "F32", "shape": [0, 4], "data_offsets": [0, 0]}})")
            << "array 'x': shape (0, 4) is empty";
        QTest::newRow("safetensors name with newline")
            << "a.safetensors"
            << safetensorsBytes(
                   R"({"a\nb": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}})", "ab")
            << "tensor 'a?b' has dtype U8, expected F16, BF16, F32 or F64";

        QTest::newRow("unknown content") << "a.bin" << QByteArray("hello world, not a tensor")
                                         << "not a .npy, .npz or .safetensors file";
        QTest::newRow("not a .npz")
            << "a.npz" << QByteArray("hello world") << "not a .npz file (not a zip archive)";
        QTest::newRow("not a .npy")
            << "a.npy" << QByteArray("hello world") << "not a .npy file (missing NUMPY magic)";
        QTest::newRow("empty .npy")
            << "a.npy" << QByteArray() << "not a .npy file (missing NUMPY magic)";
        QTest::newRow("zip signature only")
            << "a.npz" << QByteArray("PK\x03\x04", 4) + " and nothing else"
            << "not a zip archive, or cut off: no end of central directory record";

        QTest::newRow("npy [K]") << "a.npy" << npyBytes(npyDict("<f4", "(4,)"), f4x4)
                                 << "shape (4,) does not fit: expected [Q,K], [H,Q,K], [L,H,Q,K] "
                                    "or [L,1,H,Q,K]";
        QTest::newRow("npy 6 dimensions")
            << "a.npy" << npyBytes(npyDict("<f4", "(1, 1, 1, 2, 2, 1)"), f4x4)
            << "shape (1, 1, 1, 2, 2, 1) does not fit: expected [Q,K], [H,Q,K], [L,H,Q,K] or "
               "[L,1,H,Q,K]";
        QByteArray longShape = "(";
        for (int i = 0; i < 5000; ++i)
            longShape += "1, ";
        longShape += ")";
        QTest::newRow("npy 5000 dimensions")
            << "a.npy" << npyBytes(npyDict("<f4", longShape), QByteArray(4, '\0'))
            << "shape (1, 1, 1, 1, 1, 1, 1, 1, ... 5000 dimensions) does not fit: expected [Q,K], "
               "[H,Q,K], [L,H,Q,K] or [L,1,H,Q,K]";
        QTest::newRow("npy empty")
            << "a.npy" << npyBytes(npyDict("<f4", "(3, 0, 4)")) << "shape (3, 0, 4) is empty";
        QTest::newRow("npy leading zero")
            << "a.npy" << npyBytes(npyDict("<f4", "(02, 2)"), f4x4)
            << "malformed .npy header: shape has a number with a leading zero";
        QTest::newRow("npy int32") << "a.npy" << npyBytes(npyDict("<i4", "(2, 2)"), f4x4)
                                   << "dtype is <i4, expected float16, float32 or float64";
        QTest::newRow("npy fortran")
            << "a.npy"
            << npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", f4x4)
            << "Fortran order is not supported; save with numpy.ascontiguousarray";
        QTest::newRow("npy truncated") << "a.npy" << npyBytes(npyDict("<f2", "(3, 4)"), f4x4)
                                       << "truncated: expected 24 bytes of data, found 16";
        QTest::newRow("npy batch 3")
            << "a.npy" << npyBytes(npyDict("<f2", "(1, 3, 1, 2, 1)"), f4x4.left(12))
            << "batch size is 3; only batch 1 is supported: dump one "
               "example per file";
    }

    void builtErrors() {
        QFETCH(QString, name);
        QFETCH(QByteArray, bytes);
        QFETCH(QString, problem);
        const std::string path = writeFile(name, bytes);
        const std::string error = errorOf(path);
        QCOMPARE(error, path + ": " + problem.toStdString());
        QVERIFY(error.size() < 300);
    }

    void sizesBeyondInt_data() {
        // Sparse files: the data section is as long as the shape says, so only the size limits
        // can refuse them.
        QTest::addColumn<QByteArray>("shape");
        QTest::addColumn<qint64>("dataBytes");
        QTest::addColumn<QString>("problem");
        QTest::newRow("heads x queries") << QByteArray("(1, 65536, 32768, 1)") << (qint64(1) << 32)
                                         << "shape (1, 65536, 32768, 1) is too large: heads x "
                                            "queries and keys must be below 2^31";
        QTest::newRow("keys") << QByteArray("(1, 2147483648)") << (qint64(1) << 32)
                              << "shape (1, 2147483648) is too large: heads x queries and keys "
                                 "must be below 2^31";
        QTest::newRow("layers x heads x queries")
            << QByteArray("(2, 32768, 32768, 1)") << (qint64(1) << 32)
            << "shape (2, 32768, 32768, 1) is too large: layers x heads x queries must be below "
               "2^31";
    }

    void sizesBeyondInt() {
        QFETCH(QByteArray, shape);
        QFETCH(qint64, dataBytes);
        QFETCH(QString, problem);
        const QByteArray header = npyBytes(npyDict("<f2", shape));
        const std::string path = writeFile("big.npy", header);
        std::filesystem::resize_file(path, std::uintmax_t(header.size() + dataBytes));
        QCOMPARE(errorOf(path), path + ": " + problem.toStdString());
        std::filesystem::remove(path);
    }

    void safetensorsHeaderLimit() {
        // 100 MB of header is the most read into memory, whatever the file size.
        const std::string path =
            writeFile("big.safetensors", safetensorsBytes("{", {}, 100'000'001));
        std::filesystem::resize_file(path, 100'000'100);
        QCOMPARE(errorOf(path), path + ": safetensors header length 100000001 exceeds the limit "
                                       "of 100000000 bytes");
        std::filesystem::remove(path);
    }

    void missingFile() {
        const std::string path = pathFor("does-not-exist.safetensors");
        QCOMPARE(errorOf(path), path + ": cannot open file: " + std::strerror(ENOENT));
    }

    void directory() {
        const std::string path = dir_.path().toStdString();
        QCOMPARE(errorOf(path), path + ": cannot open file: " + std::strerror(EISDIR));
    }

    void fifoDoesNotHang() {
        const std::string path = pathFor("fifo.npy");
        QCOMPARE(::mkfifo(path.c_str(), 0600), 0);
        QElapsedTimer timer;
        timer.start();
        QCOMPARE(errorOf(path), path + ": cannot open file: not a regular file");
        QVERIFY(timer.elapsed() < 5000);
    }

    void truncatedAfterOpen() {
        // Layer 11 of [12, 3, 5, 7] float16 starts at 128 + 11 * 105 * 2 = 2438.
        const std::string path = pathFor("shrinking.npy");
        std::filesystem::copy_file(fixture("npy_lhqk_f2.npy"), path,
                                   std::filesystem::copy_options::overwrite_existing);
        const auto tensor = TensorFile::open(path);
        std::vector<float> out(15 * 7);
        tensor->readRows(11, 0, 15, out.data());
        std::filesystem::resize_file(path, 2500);
        tensor->readRows(0, 0, 15, out.data()); // still there
        try {
            tensor->readRows(11, 0, 15, out.data());
            QFAIL("no error");
        } catch (const InputError& e) {
            QCOMPARE(std::string(e.what()),
                     path + ": truncated: expected 210 bytes at offset 2438, found 62");
        }
        // The same for a float32 layer, read straight into the output.
        const std::string f4 = pathFor("shrinking-f4.npy");
        std::filesystem::copy_file(fixture("npy_lhqk_f4.npy"), f4,
                                   std::filesystem::copy_options::overwrite_existing);
        const auto tensor4 = TensorFile::open(f4);
        std::filesystem::resize_file(f4, 1000);
        try {
            tensor4->readRows(11, 0, 15, out.data());
            QFAIL("no error");
        } catch (const InputError& e) {
            QCOMPARE(std::string(e.what()),
                     f4 + ": truncated: expected 420 bytes at offset 4748, found 0");
        }
    }

    void fuzzNpzAndSafetensors() {
        // Every prefix and many one-byte changes of a small archive and a small safetensors
        // file: each either opens and reads, or fails with one line naming the file.
        for (const QString& name : {QString("npz_layers_qk_f4.npz"), QString("npzc_whole_f2.npz"),
                                    QString("st_layers_F16.safetensors")}) {
            QFile source(QString::fromStdString(fixture(name)));
            QVERIFY(source.open(QIODevice::ReadOnly));
            const QByteArray valid = source.readAll();
            const std::string path = pathFor("fuzz-" + name);
            int opened = 0, failed = 0;
            const auto attempt = [&](const QByteArray& bytes) {
                writeFile("fuzz-" + name, bytes);
                try {
                    const auto tensor = TensorFile::open(path);
                    std::vector<float> out(std::size_t(tensor->heads()) * tensor->queries() *
                                           tensor->keys());
                    for (int layer = 0; layer < tensor->layers(); ++layer)
                        tensor->readRows(layer, 0, std::size_t(tensor->heads()) * tensor->queries(),
                                         out.data());
                    ++opened;
                } catch (const InputError& e) {
                    QVERIFY2(std::strchr(e.what(), '\n') == nullptr, e.what());
                    QVERIFY2(std::strlen(e.what()) < path.size() + 250, e.what());
                    ++failed;
                }
            };
            for (qsizetype n = 0; n < valid.size(); n += 7)
                attempt(valid.left(n));
            for (qsizetype i = 0; i < valid.size(); i += 3) {
                QByteArray changed = valid;
                changed[i] = char(changed[i] ^ 0x5a);
                attempt(changed);
            }
            QVERIFY(opened > 10);
            QVERIFY(failed > 100);
        }
    }
};

QTEST_GUILESS_MAIN(TestTensorFile)
#include "tst_tensor_file.moc"
