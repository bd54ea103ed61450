// Tests for the .npy reader and writer. Files are built byte by byte in a temporary folder.

#include "attnsteer/errors.h"
#include "attnsteer/npy.h"

#include <QByteArray>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>

using namespace attnsteer;

namespace {

/// A .npy file: magic, version, header length, DICT padded with spaces to a multiple of 64 bytes
/// and ended by '\n', then DATA.
QByteArray npyBytes(const QByteArray& dict, int major = 1, const QByteArray& data = {}) {
    const int lengthBytes = major == 1 ? 2 : 4;
    const int preamble = 8 + lengthBytes;
    const int total = (preamble + int(dict.size()) + 1 + 63) / 64 * 64;
    const int headerSize = total - preamble;
    QByteArray out("\x93NUMPY", 6);
    out += char(major);
    out += char(0);
    for (int i = 0; i < lengthBytes; ++i)
        out += char((headerSize >> (8 * i)) & 0xff);
    out += dict;
    out += QByteArray(headerSize - int(dict.size()) - 1, ' ');
    out += '\n';
    out += data;
    return out;
}

QByteArray dictText(const QByteArray& descr, bool fortran, const QByteArray& shape) {
    return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
           ", 'shape': " + shape + ", }";
}

template <typename T> QByteArray rawBytes(const std::vector<T>& values) {
    return QByteArray(reinterpret_cast<const char*>(values.data()),
                      qsizetype(values.size() * sizeof(T)));
}

QByteArray floatData(std::size_t count) {
    std::vector<float> values(count);
    for (std::size_t i = 0; i < count; ++i)
        values[i] = float(i) * 0.25f - 1.0f;
    return rawBytes(values);
}

std::string errorOf(const std::string& path) {
    try {
        readNpy(path);
    } catch (const InputError& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace

class TestNpy : public QObject {
    Q_OBJECT

  private:
    QTemporaryDir dir_;

    std::string pathFor(const QString& name) const { return dir_.filePath(name).toStdString(); }

    std::string writeFile(const QString& name, const QByteArray& bytes) {
        QFile file(dir_.filePath(name));
        if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
            qFatal("cannot create test file");
        file.write(bytes);
        file.close();
        return file.fileName().toStdString();
    }

  private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void roundTrip_data() {
        QTest::addColumn<std::vector<std::size_t>>("shape");
        QTest::addColumn<QByteArray>("expectedDict");
        QTest::newRow("[5]") << std::vector<std::size_t>{5}
                             << QByteArray(
                                    "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }");
        QTest::newRow("[3,4]")
            << std::vector<std::size_t>{3, 4}
            << QByteArray("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }");
        QTest::newRow("[2,3,4]")
            << std::vector<std::size_t>{2, 3, 4}
            << QByteArray("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }");
        QTest::newRow("[1,2,3,4]")
            << std::vector<std::size_t>{1, 2, 3, 4}
            << QByteArray("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3, 4), }");
        QTest::newRow("scalar") << std::vector<std::size_t>{}
                                << QByteArray(
                                       "{'descr': '<f4', 'fortran_order': False, 'shape': (), }");
        QTest::newRow("[0,3]")
            << std::vector<std::size_t>{0, 3}
            << QByteArray("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }");
    }

    void roundTrip() {
        QFETCH(std::vector<std::size_t>, shape);
        QFETCH(QByteArray, expectedDict);
        std::size_t count = 1;
        for (std::size_t d : shape)
            count *= d;
        std::vector<float> values(count);
        for (std::size_t i = 0; i < count; ++i)
            values[i] = float(i) * 1.5f - 7.0f;
        if (count > 2) {
            values[1] = std::numeric_limits<float>::infinity();
            values[2] = std::numeric_limits<float>::denorm_min();
        }
        const std::string path = pathFor("round.npy");
        writeNpy(path, shape, values);
        QVERIFY(!std::filesystem::exists(path + ".tmp"));

        // The bytes are what numpy writes: version 1.0, header padded to 64 bytes, '\n' last.
        QFile file(QString::fromStdString(path));
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray bytes = file.readAll();
        QCOMPARE(bytes, npyBytes(expectedDict, 1, rawBytes(values)));
        QCOMPARE((bytes.size() - qsizetype(count * 4)) % 64, qsizetype(0));

        const NpyArray array = readNpy(path);
        QCOMPARE(array.shape, shape);
        QCOMPARE(array.elementCount(), count);
        QCOMPARE(array.sourceBytesPerElement, 4);
        QCOMPARE(array.data.size(), count);
        QVERIFY(count == 0 ||
                std::memcmp(array.data.data(), values.data(), count * sizeof(float)) == 0);
    }

    void writeReplacesExistingFile() {
        const std::string path = pathFor("replace.npy");
        const std::vector<std::size_t> big{100};
        writeNpy(path, big, std::vector<float>(100, 1.0f));
        const std::vector<std::size_t> small{2};
        writeNpy(path, small, std::vector<float>{3.0f, 4.0f});
        const NpyArray array = readNpy(path);
        QCOMPARE(array.data, (std::vector<float>{3.0f, 4.0f}));
    }

    void writeErrors() {
        const std::string path = pathFor("no-such-folder/out.npy");
        const std::vector<std::size_t> shape{2};
        try {
            writeNpy(path, shape, std::vector<float>{1.0f, 2.0f});
            QFAIL("no error");
        } catch (const InputError& e) {
            QCOMPARE(std::string(e.what()), path + ": cannot write file: " + std::strerror(ENOENT));
        }
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 writeNpy(pathFor("mismatch.npy"), shape, std::vector<float>(3)));
        QVERIFY(!std::filesystem::exists(pathFor("mismatch.npy")));
    }

    void float64Converted() {
        // Crosses the reader's 1 Mi element chunks; every value is exact in float32.
        const std::size_t count = 3 * ((std::size_t(1) << 20) + 5);
        std::vector<double> values(count);
        for (std::size_t i = 0; i < count; ++i)
            values[i] = double(i) * 0.5 - 100.0;
        values[0] = 1e10;
        values[1] = -std::ldexp(1.0, -20);
        values[2] = 3.0;
        const std::string path = writeFile(
            "f8.npy", npyBytes(dictText("<f8", false,
                                        "(3, " + QByteArray::number(qulonglong(count / 3)) + ")"),
                               1, rawBytes(values)));
        const NpyArray array = readNpy(path);
        QCOMPARE(array.sourceBytesPerElement, 8);
        QCOMPARE(array.shape, (std::vector<std::size_t>{3, count / 3}));
        QCOMPARE(array.data.size(), count);
        for (std::size_t i = 0; i < count; ++i) {
            if (array.data[i] != float(values[i]) || double(array.data[i]) != values[i])
                QFAIL(qPrintable(QStringLiteral("element %1 differs").arg(i)));
        }
    }

    void otherDtypes_data() {
        QTest::addColumn<QByteArray>("descr");
        QTest::addColumn<int>("bytes");
        QTest::addColumn<bool>("bigEndian");
        QTest::newRow("<f2") << QByteArray("<f2") << 2 << false;
        QTest::newRow(">f2") << QByteArray(">f2") << 2 << true;
        QTest::newRow("=f2") << QByteArray("=f2") << 2 << false;
        QTest::newRow(">f4") << QByteArray(">f4") << 4 << true;
        QTest::newRow(">f8") << QByteArray(">f8") << 8 << true;
    }

    void otherDtypes() {
        QFETCH(QByteArray, descr);
        QFETCH(int, bytes);
        QFETCH(bool, bigEndian);
        // Values exact in float16: -2 .. 3.5 in quarters, then an infinity, a float16 subnormal
        // (2^-24) and -0.
        std::vector<float> expected;
        for (int i = 0; i < 23; ++i)
            expected.push_back(float(i) * 0.25f - 2.0f);
        expected.push_back(-std::numeric_limits<float>::infinity());
        expected.push_back(std::ldexp(1.0f, -24));
        expected.push_back(-0.0f);
        QByteArray data;
        for (float value : expected) {
            QByteArray element;
            if (bytes == 2) {
                // float16 bits by hand: sign, exponent, mantissa.
                std::uint16_t bits = 0;
                if (std::isinf(value))
                    bits = 0xfc00;
                else if (value == std::ldexp(1.0f, -24))
                    bits = 0x0001;
                else if (value != 0) {
                    int exponent = 0;
                    const float mantissa = std::frexp(std::fabs(value), &exponent); // [0.5, 1)
                    bits = std::uint16_t(((exponent - 1 + 15) << 10) |
                                         (int(mantissa * 2048.0f) - 1024));
                }
                if (std::signbit(value))
                    bits |= 0x8000;
                element = QByteArray(reinterpret_cast<const char*>(&bits), 2);
            } else if (bytes == 4) {
                element = QByteArray(reinterpret_cast<const char*>(&value), 4);
            } else {
                const double wide = value;
                element = QByteArray(reinterpret_cast<const char*>(&wide), 8);
            }
            if (bigEndian)
                std::reverse(element.begin(), element.end());
            data += element;
        }
        const std::string path =
            writeFile("dtype.npy", npyBytes(dictText(descr, false, "(2, 13)"), 1, data));
        const NpyArray array = readNpy(path);
        QCOMPARE(array.sourceBytesPerElement, bytes);
        QCOMPARE(array.shape, (std::vector<std::size_t>{2, 13}));
        QCOMPARE(array.data.size(), expected.size());
        QVERIFY(std::memcmp(array.data.data(), expected.data(), expected.size() * 4) == 0);
    }

    void longShapeShortMessage() {
        // 5000 dimensions of 1 and a data section of the wrong size: the message stays one short
        // line; the same shape with the right data is read.
        QByteArray shape = "(";
        for (int i = 0; i < 5000; ++i)
            shape += "1, ";
        shape += ")";
        const std::string bad =
            writeFile("long.npy", npyBytes(dictText("<f4", false, shape), 2, floatData(2)));
        const std::string error = errorOf(bad);
        QCOMPARE(error, bad + ": 4 extra bytes after the data");
        const std::string good =
            writeFile("long.npy", npyBytes(dictText("<f4", false, shape), 2, floatData(1)));
        QCOMPARE(readNpy(good).shape.size(), std::size_t(5000));
        QByteArray badShape = shape;
        badShape[badShape.size() - 4] = 'x';
        const std::string malformed =
            writeFile("long.npy", npyBytes(dictText("<f4", false, badShape), 2, floatData(1)));
        QCOMPARE(errorOf(malformed),
                 malformed +
                     ": malformed .npy header: shape is not a tuple of non-negative integers");
    }

    void fifoDoesNotHang() {
        const std::string path = pathFor("fifo.npy");
        QCOMPARE(::mkfifo(path.c_str(), 0600), 0);
        QCOMPARE(errorOf(path), path + ": cannot open file: not a regular file");
    }

    void headerVariants_data() {
        QTest::addColumn<QByteArray>("dict");
        QTest::addColumn<int>("major");
        QTest::addColumn<std::vector<std::size_t>>("shape");
        using Shape = std::vector<std::size_t>;
        QTest::newRow("v2.0") << dictText("<f4", false, "(2, 3)") << 2 << Shape{2, 3};
        QTest::newRow("v3.0") << dictText("<f4", false, "(2, 3)") << 3 << Shape{2, 3};
        QTest::newRow("keys reordered")
            << QByteArray("{'shape': (4,), 'fortran_order': False, 'descr': '<f4'}") << 1
            << Shape{4};
        QTest::newRow("whitespace")
            << QByteArray("{ 'descr' :'<f4' ,\t'fortran_order':False,'shape':( 2 , 2 , ) }") << 1
            << Shape{2, 2};
        QTest::newRow("double quotes")
            << QByteArray("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (1024,)}") << 1
            << Shape{1024};
        QTest::newRow("one element no comma") << dictText("<f4", false, "(6)") << 1 << Shape{6};
        QTest::newRow("scalar") << dictText("<f4", false, "()") << 1 << Shape{};
        QTest::newRow("native order") << dictText("=f4", false, "(3,)") << 1 << Shape{3};
        QTest::newRow("python2 long") << dictText("<f4", false, "(2L, 3L)") << 1 << Shape{2, 3};
        QTest::newRow("zero size")
            << dictText("<f4", false, "(0, 10000000000)") << 1 << Shape{0, 10000000000};
    }

    void headerVariants() {
        QFETCH(QByteArray, dict);
        QFETCH(int, major);
        QFETCH(std::vector<std::size_t>, shape);
        std::size_t count = 1;
        for (std::size_t d : shape)
            count *= d;
        const std::string path = writeFile("variant.npy", npyBytes(dict, major, floatData(count)));
        const NpyArray array = readNpy(path);
        QCOMPARE(array.shape, shape);
        QCOMPARE(array.data.size(), count);
        if (count > 1)
            QCOMPARE(array.data[1], -0.75f);
    }

    void errors_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("problem");
        const QByteArray twelve = floatData(12);
        QTest::newRow("empty") << QByteArray() << "not a .npy file (missing NUMPY magic)";
        QTest::newRow("text") << QByteArray("0.1 0.2 0.3\n0.4 0.5 0.6\n")
                              << "not a .npy file (missing NUMPY magic)";
        QTest::newRow("short magic")
            << QByteArray("\x93NUMPY\x01", 7) << "not a .npy file (missing NUMPY magic)";
        QTest::newRow("int32") << npyBytes(dictText("<i4", false, "(3, 4)"), 1, twelve)
                               << "dtype is <i4, expected float16, float32 or float64";
        QTest::newRow("complex") << npyBytes(dictText("<c8", false, "(3, 2)"), 1, twelve)
                                 << "dtype is <c8, expected float16, float32 or float64";
        QTest::newRow("float128") << npyBytes(dictText("<f16", false, "(3,)"), 1, twelve)
                                  << "dtype is <f16, expected float16, float32 or float64";
        QTest::newRow("byte order |") << npyBytes(dictText("|f4", false, "(3, 4)"), 1, twelve)
                                      << "dtype is |f4, expected float16, float32 or float64";
        QTest::newRow("structured")
            << npyBytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }")
            << "dtype is a structured type, expected float16, float32 or float64";
        QTest::newRow("fortran") << npyBytes(dictText("<f4", true, "(3, 4)"), 1, twelve)
                                 << "Fortran order is not supported; save with "
                                    "numpy.ascontiguousarray";
        QTest::newRow("truncated") << npyBytes(dictText("<f4", false, "(3, 4)"), 1, twelve.left(40))
                                   << "truncated: expected 48 bytes of data, found 40";
        QTest::newRow("truncated f8") << npyBytes(dictText("<f8", false, "(3, 4)"), 1, twelve)
                                      << "truncated: expected 96 bytes of data, found 48";
        QTest::newRow("extra bytes") << npyBytes(dictText("<f4", false, "(3, 3)"), 1, twelve)
                                     << "12 extra bytes after the data";
        QTest::newRow("no closing brace")
            << npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), ", 1, twelve)
            << "malformed .npy header: missing closing '}'";
        QTest::newRow("missing shape")
            << npyBytes("{'descr': '<f4', 'fortran_order': False, }", 1, twelve)
            << "malformed .npy header: missing 'shape'";
        QTest::newRow("not a dict") << npyBytes("['descr', '<f4']", 1, twelve)
                                    << "malformed .npy header: does not start with '{'";
        QTest::newRow("unknown key")
            << npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (12,), 'x': 1}", 1,
                        twelve)
            << "malformed .npy header: unexpected key 'x'";
        QTest::newRow("duplicate key")
            << npyBytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (12,)}",
                        1, twelve)
            << "malformed .npy header: duplicate key 'descr'";
        QTest::newRow("bad fortran")
            << npyBytes(dictText("<f4", false, "(12,)").replace("False", "0"), 1, twelve)
            << "malformed .npy header: fortran_order is not True or False";
        QTest::newRow("negative dim") << npyBytes(dictText("<f4", false, "(-1, 12)"), 1, twelve)
                                      << "malformed .npy header: shape is not a tuple of "
                                         "non-negative integers";
        QTest::newRow("leading zero")
            << npyBytes(dictText("<f4", false, "(03, 4)"), 1, twelve)
            << "malformed .npy header: shape has a number with a leading zero";
        QTest::newRow("leading zeros")
            << npyBytes(dictText("<f4", false, "(3, 004)"), 1, twelve)
            << "malformed .npy header: shape has a number with a leading zero";
        QTest::newRow("truncated f2") << npyBytes(dictText("<f2", false, "(3, 40)"), 1, twelve)
                                      << "truncated: expected 240 bytes of data, found 48";
        QTest::newRow("list shape") << npyBytes(dictText("<f4", false, "[3, 4]"), 1, twelve)
                                    << "malformed .npy header: shape is not a tuple of "
                                       "non-negative integers";
        QTest::newRow("text after dict")
            << npyBytes(dictText("<f4", false, "(12,)") + " x", 1, twelve)
            << "malformed .npy header: text after the closing '}'";
        QByteArray cut = npyBytes(dictText("<f4", false, "(12,)"));
        QTest::newRow("header cut off")
            << cut.left(cut.size() - 10) << "malformed .npy header: file ends inside the header";
        QTest::newRow("v2 length cut off") << QByteArray("\x93NUMPY\x02\x00\x10\x00", 10)
                                           << "malformed .npy header: file ends inside the header";
        QByteArray v4 = npyBytes(dictText("<f4", false, "(12,)"), 1, twelve);
        v4[6] = 4;
        QTest::newRow("version 4.0") << v4 << "unsupported .npy version 4.0";
        QByteArray v11 = npyBytes(dictText("<f4", false, "(12,)"), 1, twelve);
        v11[7] = 1;
        QTest::newRow("version 1.1") << v11 << "unsupported .npy version 1.1";
        QTest::newRow("huge shape")
            << npyBytes(dictText("<f4", false, "(100000, 100000, 100000)"), 1, twelve)
            << "shape too large";
        QTest::newRow("overflowing shape")
            << npyBytes(dictText("<f8", false, "(4294967296, 4294967296, 16)"), 1, twelve)
            << "shape too large";
        QTest::newRow("huge dimension")
            << npyBytes(dictText("<f4", false, "(123456789012345678901234567890,)"), 1, twelve)
            << "shape too large";
        // Within the limit but far beyond the file: must fail on the size check, not allocate.
        QTest::newRow("big shape small file")
            << npyBytes(dictText("<f4", false, "(131072, 131072)"), 1, twelve)
            << "truncated: expected 68719476736 bytes of data, found 48";
    }

    void errors() {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, problem);
        const std::string path = writeFile("bad.npy", bytes);
        QCOMPARE(errorOf(path), path + ": " + problem.toStdString());
    }

    void missingFile() {
        const std::string path = pathFor("does-not-exist.npy");
        QCOMPARE(errorOf(path), path + ": cannot open file: " + std::strerror(ENOENT));
    }

    void directory() {
        const std::string path = dir_.path().toStdString();
        QCOMPARE(errorOf(path), path + ": cannot open file: " + std::strerror(EISDIR));
    }

    void fuzz() {
        const QByteArray valid =
            npyBytes(dictText("<f8", false, "(2, 3)"), 1, rawBytes(std::vector<double>(6, 2.5)));
        const std::string path = pathFor("fuzz.npy");
        int succeeded = 0, failed = 0;
        const auto attempt = [&](const QByteArray& bytes) {
            writeFile("fuzz.npy", bytes);
            try {
                const NpyArray array = readNpy(path);
                QVERIFY(array.data.size() == array.elementCount());
                ++succeeded;
            } catch (const InputError& e) {
                QVERIFY(std::strchr(e.what(), '\n') == nullptr);
                ++failed;
            } catch (const std::exception& e) {
                QFAIL(qPrintable(QStringLiteral("unexpected exception: %1").arg(e.what())));
            }
        };
        for (qsizetype n = 0; n < valid.size() && !QTest::currentTestFailed(); ++n)
            attempt(valid.left(n));
        QCOMPARE(succeeded, 0);
        const qsizetype headerEnd = valid.size() - 6 * 8;
        const char replacements[] = {'\0', '\n', ' ', '\'', '"', '(', ')',  '{',
                                     '}',  ',',  ':', '0',  '9', 'L', '\\', '\xff'};
        for (qsizetype i = 0; i < headerEnd && !QTest::currentTestFailed(); ++i) {
            QByteArray flipped = valid;
            flipped[i] = char(~flipped[i]);
            attempt(flipped);
            for (char c : replacements) {
                QByteArray changed = valid;
                changed[i] = c;
                attempt(changed);
            }
        }
        QVERIFY(succeeded > 0);
        QVERIFY(failed > 0);
    }
};

QTEST_GUILESS_MAIN(TestNpy)
#include "tst_npy.moc"
