// Saliency map -> vision-token projection (Qwen2-VL's smart_resize and the token boxes). Every
// expected number below is worked out by hand in the comments.
#include "test_support.h"

#include "attnsteer/errors.h"

#include "attnsteer/projection.h"

#include <QElapsedTimer>
#include <QtTest>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

using namespace attnsteer;

namespace {

constexpr std::int64_t kQwenMinPixels = 56 * 56;            // 3136
constexpr std::int64_t kQwenMaxPixels = 14 * 14 * 4 * 1280; // 1003520
constexpr std::int64_t kPixelsPerKey = 28 * 28;             // 784

/// Options with max_pixels = KEYS x 28^2 (the default when maxPixels is 0) made explicit.
ProjectionOptions optionsFor(std::int64_t minPixels = 4 * 28 * 28) {
    ProjectionOptions options;
    options.minPixels = minPixels;
    return options;
}

/// The message of the InputError that F throws, or "" when it throws none.
template <typename F> std::string inputErrorOf(F&& f) {
    try {
        f();
    } catch (const InputError& error) {
        return testsupport::commandLineText(error);
    }
    return {};
}

void compareTokens(const std::vector<double>& actual, const std::vector<double>& expected,
                   double tolerance = 1e-12) {
    QCOMPARE(actual.size(), expected.size());
    for (std::size_t i = 0; i < actual.size(); ++i) {
        if (std::abs(actual[i] - expected[i]) > tolerance)
            QFAIL(qPrintable(QStringLiteral("token %1: %2, expected %3")
                                 .arg(i)
                                 .arg(actual[i], 0, 'g', 17)
                                 .arg(expected[i], 0, 'g', 17)));
    }
}

} // namespace

class TestProjection : public QObject {
    Q_OBJECT

  private slots:
    void smartResizeMatchesQwenReference_data();
    void smartResizeMatchesQwenReference();
    void smartResizeErrors();
    void quadrantsOfSquareImage();
    void brightBlockLandsOnOneToken();
    void roundingHalfToEven();
    void fractionalEdgesAreAreaWeighted();
    void fractionalEdgesInBothDirections();
    void downscaleByMaxPixels();
    void upscaleByMinPixels();
    void tallStripAtRatio200();
    void optionErrors();
    void largeImageIsFast();
    void modelGridAveragesAnyMapSize();
    void placeOnKeySequenceFillsText();
    void placeOnKeySequenceRejectsOverflow();
};

void TestProjection::smartResizeMatchesQwenReference_data() {
    QTest::addColumn<int>("height");
    QTest::addColumn<int>("width");
    QTest::addColumn<int>("factor");
    QTest::addColumn<qint64>("minPixels");
    QTest::addColumn<qint64>("maxPixels");
    QTest::addColumn<int>("resizedHeight");
    QTest::addColumn<int>("resizedWidth");

    // 224 = 8 x 28: already a multiple, area 50176 within [3136, 1003520].
    QTest::newRow("224x224") << 224 << 224 << 28 << qint64(kQwenMinPixels) << qint64(kQwenMaxPixels)
                             << 224 << 224;
    // round(1080/28 = 38.57) = 39 -> 1092, round(1920/28 = 68.57) = 69 -> 1932;
    // 1092 x 1932 = 2109744 > 1003520, so beta = sqrt(1080*1920 / 1003520) = sqrt(2.06632)
    // = 1.43747; floor(1080 / 1.43747 / 28 = 26.83) = 26 -> 728; floor(1920 / 1.43747 / 28 = 47.70)
    // = 47 -> 1316.
    QTest::newRow("1080x1920") << 1080 << 1920 << 28 << qint64(kQwenMinPixels)
                               << qint64(kQwenMaxPixels) << 728 << 1316;
    // round(480/28 = 17.14) = 17 -> 476, round(640/28 = 22.86) = 23 -> 644; 306544 is in range.
    QTest::newRow("480x640") << 480 << 640 << 28 << qint64(kQwenMinPixels) << qint64(kQwenMaxPixels)
                             << 476 << 644;
    // round(28/28) = 1 -> 28 x 28 = 784 < 3136: beta = sqrt(3136/784) = 2; ceil(28*2/28) = 2 -> 56.
    QTest::newRow("28x28") << 28 << 28 << 28 << qint64(kQwenMinPixels) << qint64(kQwenMaxPixels)
                           << 56 << 56;
    // round(50/28 = 1.79) = 2 -> 56; round(70/28 = 2.5) = 2 (half to even) -> 56; 3136 fits.
    QTest::newRow("50x70 half to even down")
        << 50 << 70 << 28 << qint64(kQwenMinPixels) << qint64(4 * kPixelsPerKey) << 56 << 56;
    // round(98/28 = 3.5) = 4 (half to even) -> 112; 28 x 112 = 3136 fits exactly.
    QTest::newRow("28x98 half to even up")
        << 28 << 98 << 28 << qint64(kQwenMinPixels) << qint64(4 * kPixelsPerKey) << 28 << 112;
    // Patch-16 models: factor 32. round(500/32 = 15.6) = 16 -> 512, round(300/32 = 9.4) = 9 -> 288.
    QTest::newRow("factor 32") << 500 << 300 << 32 << qint64(4 * 32 * 32) << qint64(1024 * 32 * 32)
                               << 512 << 288;
    // 4000 x 3000, K = 1024: round gives 4004 x 3012 > 802816; beta = sqrt(12e6/802816) = 3.86614;
    // floor(4000 / 3.86614 / 28 = 36.95) = 36 -> 1008; floor(3000 / 3.86614 / 28 = 27.71) = 27 ->
    // 756.
    QTest::newRow("4000x3000 K=1024") << 4000 << 3000 << 28 << qint64(kQwenMinPixels)
                                      << qint64(1024 * kPixelsPerKey) << 1008 << 756;
}

void TestProjection::smartResizeMatchesQwenReference() {
    QFETCH(int, height);
    QFETCH(int, width);
    QFETCH(int, factor);
    QFETCH(qint64, minPixels);
    QFETCH(qint64, maxPixels);
    QFETCH(int, resizedHeight);
    QFETCH(int, resizedWidth);
    const ResizedSize size = smartResize(height, width, factor, minPixels, maxPixels);
    QCOMPARE(size.height, resizedHeight);
    QCOMPARE(size.width, resizedWidth);
}

void TestProjection::smartResizeErrors() {
    // 5628 / 28 = 201 exactly; 5642 / 28 = 201.5.
    QCOMPARE(inputErrorOf([] { smartResize(28, 5628, 28, kQwenMinPixels, kQwenMaxPixels); }),
             std::string("image: aspect ratio 201 exceeds 200"));
    QCOMPARE(inputErrorOf([] { smartResize(5642, 28, 28, kQwenMinPixels, kQwenMaxPixels); }),
             std::string("image: aspect ratio 201.5 exceeds 200"));
    // Exactly 200 is allowed.
    QCOMPARE(inputErrorOf([] { smartResize(28, 5600, 28, kQwenMinPixels, kQwenMaxPixels); }),
             std::string());
    QCOMPARE(inputErrorOf([] { smartResize(0, 5, 28, kQwenMinPixels, kQwenMaxPixels); }),
             std::string("image: size 5x0 is empty"));
    QCOMPARE(inputErrorOf([] { smartResize(7, -1, 28, kQwenMinPixels, kQwenMaxPixels); }),
             std::string("image: size -1x7 is empty"));
    QCOMPARE(inputErrorOf([] { smartResize(56, 56, 0, kQwenMinPixels, kQwenMaxPixels); }),
             std::string("--patch-factor: must be a positive integer"));
}

void TestProjection::quadrantsOfSquareImage() {
    // 56 x 56 with K = 4 (max 3136): stays 56 x 56, a 2 x 2 grid, each token one 28 x 28 quadrant.
    // map(y, x) = (x + 56 y) / 3136 is linear, so a quadrant's mean is its value at the quadrant
    // centre (x, y) = (28c + 13.5, 28r + 13.5):
    //   (0,0): (13.5 + 56*13.5) / 3136 = 769.5 / 3136
    //   (0,1): (41.5 + 56*13.5) / 3136 = 797.5 / 3136
    //   (1,0): (13.5 + 56*41.5) / 3136 = 2337.5 / 3136
    //   (1,1): (41.5 + 56*41.5) / 3136 = 2365.5 / 3136
    std::vector<float> map(56 * 56);
    for (int y = 0; y < 56; ++y)
        for (int x = 0; x < 56; ++x)
            map[std::size_t(y * 56 + x)] = float(x + 56 * y) / 3136.0f;
    const SaliencyProjection p = projectSaliencyMap(map, 56, 56, optionsFor(), 4);
    QCOMPARE(p.resizedHeight, 56);
    QCOMPARE(p.resizedWidth, 56);
    QCOMPARE(p.gridHeight, 2);
    QCOMPARE(p.gridWidth, 2);
    QCOMPARE(p.tokenCount(), 4);
    // The float map holds (x + 56 y) / 3136 to about 6e-8 relative.
    compareTokens(p.tokens, {769.5 / 3136, 797.5 / 3136, 2337.5 / 3136, 2365.5 / 3136}, 1e-7);
}

void TestProjection::brightBlockLandsOnOneToken() {
    // 84 x 112 (3 x 4 blocks of 28) with K = 12 (max 9408 = 84 x 112): no resize. The block at
    // row 1, column 2 (y 28..55, x 56..83) is token 1*4 + 2 = 6.
    std::vector<float> map(84 * 112, 0.0f);
    for (int y = 28; y < 56; ++y)
        for (int x = 56; x < 84; ++x)
            map[std::size_t(y * 112 + x)] = 1.0f;
    const SaliencyProjection p = projectSaliencyMap(map, 84, 112, optionsFor(), 12);
    QCOMPARE(p.gridHeight, 3);
    QCOMPARE(p.gridWidth, 4);
    std::vector<double> expected(12, 0.0);
    expected[6] = 1.0;
    compareTokens(p.tokens, expected, 0.0);
}

void TestProjection::roundingHalfToEven() {
    // 50 x 70, K = 4: round(50/28) = 2 -> 56, round(70/28 = 2.5) = 2 -> 56: a 2 x 2 grid whose
    // boxes are x [0, 35), [35, 70) and y [0, 25), [25, 50): whole pixels. The map is 1 on the
    // left half (x < 35) of the top rows (y < 25) and 0.5 on the bottom-right box:
    // tokens 1, 0, 0, 0.5.
    std::vector<float> map(50 * 70, 0.0f);
    for (int y = 0; y < 50; ++y)
        for (int x = 0; x < 70; ++x) {
            if (y < 25 && x < 35)
                map[std::size_t(y * 70 + x)] = 1.0f;
            if (y >= 25 && x >= 35)
                map[std::size_t(y * 70 + x)] = 0.5f;
        }
    const SaliencyProjection p = projectSaliencyMap(map, 50, 70, optionsFor(), 4);
    QCOMPARE(p.resizedHeight, 56);
    QCOMPARE(p.resizedWidth, 56);
    compareTokens(p.tokens, {1.0, 0.0, 0.0, 0.5});
}

void TestProjection::fractionalEdgesAreAreaWeighted() {
    // 28 x 98, K = 4: round(98/28 = 3.5) = 4 -> 112, so a 1 x 4 grid over 98 columns: boxes
    // x [0, 24.5), [24.5, 49), [49, 73.5), [73.5, 98), each of area 24.5 x 28.
    // Every row holds 1 at x = 24, 0.5 at x = 49, 0.25 at x = 73:
    //   token 0: half of pixel 24          -> 0.5 * 1 * 28 / (24.5 * 28) = 1 / 49
    //   token 1: the other half of 24      -> 1 / 49
    //   token 2: all of 49, half of 73     -> (0.5 + 0.5 * 0.25) / 24.5 = 0.625 / 24.5 = 5 / 196
    //   token 3: the other half of 73      -> 0.125 / 24.5 = 1 / 196
    std::vector<float> map(28 * 98, 0.0f);
    for (int y = 0; y < 28; ++y) {
        map[std::size_t(y * 98 + 24)] = 1.0f;
        map[std::size_t(y * 98 + 49)] = 0.5f;
        map[std::size_t(y * 98 + 73)] = 0.25f;
    }
    const SaliencyProjection p = projectSaliencyMap(map, 28, 98, optionsFor(), 4);
    QCOMPARE(p.resizedHeight, 28);
    QCOMPARE(p.resizedWidth, 112);
    QCOMPARE(p.gridHeight, 1);
    QCOMPARE(p.gridWidth, 4);
    compareTokens(p.tokens, {1.0 / 49, 1.0 / 49, 5.0 / 196, 1.0 / 196});
}

void TestProjection::fractionalEdgesInBothDirections() {
    // Factor 2, min 0, max 100, a 3 x 5 map: round(1.5) = 2 -> 4, round(2.5) = 2 -> 4: a 2 x 2
    // grid with boxes y [0, 1.5), [1.5, 3) and x [0, 2.5), [2.5, 5), each of area 3.75.
    // Pixel (y 1, x 2) = 1 is split in half both ways: a quarter of it in every box -> 0.25 / 3.75
    // = 1/15 each. Pixel (0, 0) = 1 lies wholly in box (0, 0) -> + 1 / 3.75 = 4/15.
    std::vector<float> map(3 * 5, 0.0f);
    map[1 * 5 + 2] = 1.0f;
    map[0] = 1.0f;
    ProjectionOptions options;
    options.patchFactor = 2;
    options.minPixels = 0;
    options.maxPixels = 100;
    const SaliencyProjection p = projectSaliencyMap(map, 3, 5, options, 0);
    QCOMPARE(p.resizedHeight, 4);
    QCOMPARE(p.resizedWidth, 4);
    compareTokens(p.tokens, {5.0 / 15, 1.0 / 15, 1.0 / 15, 1.0 / 15});
}

void TestProjection::downscaleByMaxPixels() {
    // 1000 x 1000, K = 1024: max = 1024 x 784 = 802816 = 896^2. round(1000/28 = 35.7) = 36 ->
    // 1008 x 1008 = 1016064 (1296 tokens) > 802816, so beta = sqrt(1e6 / 802816) = 1000/896 and
    // floor(1000 / beta / 28) = floor(896 / 28) = 32 -> 896 x 896, 32 x 32 = 1024 tokens.
    // Each box is 1000/32 = 31.25 pixels a side, area 976.5625.
    // A single 1 at pixel (y 31, x 31), i.e. [31, 32)^2, which the edge 31.25 cuts 0.25 | 0.75:
    //   token (0,0): 0.25 * 0.25 / 976.5625 = 0.000064
    //   token (0,1) and (1,0): 0.25 * 0.75 / 976.5625 = 0.000192
    //   token (1,1): 0.75 * 0.75 / 976.5625 = 0.000576
    std::vector<float> map(1000 * 1000, 0.0f);
    map[31 * 1000 + 31] = 1.0f;
    const SaliencyProjection p = projectSaliencyMap(map, 1000, 1000, optionsFor(), 1024);
    QCOMPARE(p.resizedHeight, 896);
    QCOMPARE(p.resizedWidth, 896);
    QCOMPARE(p.gridHeight, 32);
    QCOMPARE(p.gridWidth, 32);
    std::vector<double> expected(1024, 0.0);
    expected[0] = 0.000064;
    expected[1] = 0.000192;
    expected[32] = 0.000192;
    expected[33] = 0.000576;
    compareTokens(p.tokens, expected, 1e-15);

    // A constant map stays constant: every token averages 31.25^2 pixels of 0.5.
    std::vector<float> flat(1000 * 1000, 0.5f);
    compareTokens(projectSaliencyMap(flat, 1000, 1000, optionsFor(), 1024).tokens,
                  std::vector<double>(1024, 0.5), 1e-12);
}

void TestProjection::upscaleByMinPixels() {
    // 10 x 10, K = 4: round(10/28) = 0 -> at least 28; 28 x 28 = 784 < 3136, so
    // beta = sqrt(3136/100) = 5.6 and ceil(10 * 5.6 / 28) = ceil(2) = 2 -> 56 x 56, a 2 x 2 grid of
    // 5 x 5 pixel boxes. The map is 1 on the top-left 5 x 5 pixels and 0.2 on the bottom-right
    // ones.
    std::vector<float> map(10 * 10, 0.0f);
    for (int y = 0; y < 5; ++y)
        for (int x = 0; x < 5; ++x) {
            map[std::size_t(y * 10 + x)] = 1.0f;
            map[std::size_t((y + 5) * 10 + x + 5)] = 0.2f;
        }
    const SaliencyProjection p = projectSaliencyMap(map, 10, 10, optionsFor(), 4);
    QCOMPARE(p.resizedHeight, 56);
    QCOMPARE(p.resizedWidth, 56);
    compareTokens(p.tokens, {1.0, 0.0, 0.0, double(0.2f)});

    // Upscaling further: min 16 x 784 makes ceil(10 * sqrt(12544/100) / 28) = ceil(11.2*10/28 = 4)
    // = 4 -> 112 x 112, 4 x 4 boxes of 2.5 pixels. Token (0, 0) covers pixels [0, 2.5)^2, all 1;
    // token (1, 1) covers [2.5, 5)^2, all 1; token (1, 2) covers x [5, 7.5), y [2.5, 5): 0.
    // Token (2, 2) covers [5, 7.5)^2: 0.2.
    const SaliencyProjection q =
        projectSaliencyMap(map, 10, 10, optionsFor(16 * kPixelsPerKey), 16);
    QCOMPARE(q.resizedHeight, 112);
    QCOMPARE(q.gridWidth, 4);
    QCOMPARE(q.tokens[0], 1.0);
    QCOMPARE(q.tokens[5], 1.0);
    QCOMPARE(q.tokens[6], 0.0);
    QVERIFY(std::abs(q.tokens[10] - double(0.2f)) < 1e-15);
}

void TestProjection::tallStripAtRatio200() {
    // 5600 high, 28 wide: ratio exactly 200 is allowed. K = 1024 (max 802816): 5600 x 28 = 156800
    // fits, so no resize: a 200 x 1 grid, token r = rows [28r, 28r + 28). Rows 28..55 are 1.
    std::vector<float> map(5600 * 28, 0.0f);
    for (int y = 28; y < 56; ++y)
        for (int x = 0; x < 28; ++x)
            map[std::size_t(y * 28 + x)] = 1.0f;
    const SaliencyProjection p = projectSaliencyMap(map, 5600, 28, optionsFor(), 1024);
    QCOMPARE(p.resizedHeight, 5600);
    QCOMPARE(p.resizedWidth, 28);
    QCOMPARE(p.gridHeight, 200);
    QCOMPARE(p.gridWidth, 1);
    std::vector<double> expected(200, 0.0);
    expected[1] = 1.0;
    compareTokens(p.tokens, expected, 0.0);

    // K = 100 (max 78400 < 156800): beta = sqrt(156800 / 78400) = sqrt(2);
    // floor(5600 / 1.41421 / 28 = 141.42) = 141 -> 3948, floor(28 / 1.41421 / 28 = 0.71) = 0 ->
    // at least 28. The 141 tokens exceed the 100 keys (the reference allows that), which
    // placeOnKeySequence then reports.
    ProjectionOptions options = optionsFor();
    const SaliencyProjection q = projectSaliencyMap(map, 5600, 28, options, 100);
    QCOMPARE(q.resizedHeight, 3948);
    QCOMPARE(q.resizedWidth, 28);
    QCOMPARE(q.tokenCount(), 141);
    QCOMPARE(inputErrorOf([&] { placeOnKeySequence(q, 100, options); }),
             std::string("--vision-offset: the 141x1 = 141 vision tokens at offset 0 do not fit "
                         "into 100 keys"));

    // 28 x 5628 is ratio 201: rejected.
    std::vector<float> wide(28 * 5628, 0.0f);
    QCOMPARE(inputErrorOf([&] { projectSaliencyMap(wide, 28, 5628, optionsFor(), 1024); }),
             std::string("image: aspect ratio 201 exceeds 200"));
}

void TestProjection::optionErrors() {
    std::vector<float> map(56 * 56, 0.0f);
    ProjectionOptions options;
    options.patchFactor = 0;
    QCOMPARE(inputErrorOf([&] { projectSaliencyMap(map, 56, 56, options, 4); }),
             std::string("--patch-factor: must be a positive integer"));
    options.patchFactor = -28;
    QCOMPARE(inputErrorOf([&] { projectSaliencyMap(map, 56, 56, options, 4); }),
             std::string("--patch-factor: must be a positive integer"));

    // max_pixels 0 needs the key count.
    QCOMPARE(inputErrorOf([&] { projectSaliencyMap(map, 56, 56, ProjectionOptions{}, 0); }),
             std::string("--max-pixels: 0 means keys x patch factor^2, but the key count is 0"));
    options = ProjectionOptions{};
    options.maxPixels = -1;
    QCOMPARE(inputErrorOf([&] { projectSaliencyMap(map, 56, 56, options, 4); }),
             std::string("--max-pixels: must be >= 0 (0 means keys x patch factor^2)"));
    // An explicit max_pixels works without keys.
    options.maxPixels = 4 * kPixelsPerKey;
    QCOMPARE(projectSaliencyMap(map, 56, 56, options, 0).tokenCount(), 4);

    options = ProjectionOptions{};
    options.minPixels = -1;
    QCOMPARE(inputErrorOf([&] { projectSaliencyMap(map, 56, 56, options, 4); }),
             std::string("--min-pixels: must be >= 0"));

    // A map that does not hold height x width values is a programming error.
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                             projectSaliencyMap(map, 56, 55, ProjectionOptions{}, 4));
    QCOMPARE(inputErrorOf([&] { projectSaliencyMap({}, 0, 56, ProjectionOptions{}, 4); }),
             std::string("image: size 56x0 is empty"));
}

void TestProjection::largeImageIsFast() {
    // 3000 high x 4000 wide, K = 1024: smart_resize gives 756 x 1008 (the transpose of the
    // 4000 x 3000 reference row), a 27 x 36 grid with boxes of 3000/27 = 111.1 by 4000/36 = 111.1
    // pixels. A constant map projects to the constant.
    std::vector<float> map(std::size_t(3000) * 4000, 0.25f);
    QElapsedTimer timer;
    timer.start();
    const SaliencyProjection p = projectSaliencyMap(map, 3000, 4000, optionsFor(), 1024);
    const qint64 elapsed = timer.elapsed();
    QCOMPARE(p.resizedHeight, 756);
    QCOMPARE(p.resizedWidth, 1008);
    QCOMPARE(p.tokenCount(), 27 * 36);
    compareTokens(p.tokens, std::vector<double>(27 * 36, 0.25), 1e-12);
    QVERIFY2(elapsed < 1000, qPrintable(QStringLiteral("took %1 ms").arg(elapsed)));
}

void TestProjection::placeOnKeySequenceFillsText() {
    SaliencyProjection p;
    p.gridHeight = 2;
    p.gridWidth = 2;
    p.tokens = {0.1, 0.2, 0.3, 0.4};
    ProjectionOptions options;
    options.visionOffset = 3;
    options.textSaliency = 0.25;
    const std::vector<double> expected = {0.25, 0.25, 0.25, 0.1, 0.2, 0.3, 0.4, 0.25};
    QCOMPARE(placeOnKeySequence(p, 8, options), expected);
    // Exactly filling the tail is fine.
    options.visionOffset = 4;
    const std::vector<double> tail = {0.25, 0.25, 0.25, 0.25, 0.1, 0.2, 0.3, 0.4};
    QCOMPARE(placeOnKeySequence(p, 8, options), tail);
}

void TestProjection::placeOnKeySequenceRejectsOverflow() {
    SaliencyProjection p;
    p.gridHeight = 32;
    p.gridWidth = 32;
    p.tokens.assign(1024, 0.5);
    ProjectionOptions options;
    options.visionOffset = 10;
    QCOMPARE(inputErrorOf([&] { placeOnKeySequence(p, 1024, options); }),
             std::string("--vision-offset: the 32x32 = 1024 vision tokens at offset 10 do not "
                         "fit into 1024 keys"));
    options.visionOffset = -1;
    QCOMPARE(inputErrorOf([&] { placeOnKeySequence(p, 2048, options); }),
             std::string("--vision-offset: the 32x32 = 1024 vision tokens at offset -1 do not "
                         "fit into 2048 keys"));
    options.visionOffset = 0;
    QCOMPARE(placeOnKeySequence(p, 1024, options), std::vector<double>(1024, 0.5));
}

void TestProjection::modelGridAveragesAnyMapSize() {
    // A 5 x 5 map whose value is its column index x, on the model's 2 x 2 grid: a token covers
    // 2.5 x 2.5 pixels. Column means: token 0 covers x = 0, 1 and half of 2: (0 + 1 + 0.5 * 2) /
    // 2.5 = 0.8; token 1 the other half of 2, then 3 and 4: (0.5 * 2 + 3 + 4) / 2.5 = 3.2.
    std::vector<float> map(25);
    for (int i = 0; i < 25; ++i)
        map[std::size_t(i)] = float(i % 5);
    ProjectionOptions options;
    options.grid = ImageGrid{1, 2, 2};
    options.maxPixels = 1; // the resize options do not apply to the model's grid
    const SaliencyProjection p = projectSaliencyMap(map, 5, 5, options, 0);
    QCOMPARE(p.gridHeight, 2);
    QCOMPARE(p.gridWidth, 2);
    QCOMPARE(p.resizedHeight, 56);
    QCOMPARE(p.resizedWidth, 56);
    QCOMPARE(int(p.tokens.size()), 4);
    QVERIFY(std::abs(p.tokens[0] - 0.8) < 1e-12 && std::abs(p.tokens[2] - 0.8) < 1e-12);
    QVERIFY(std::abs(p.tokens[1] - 3.2) < 1e-12 && std::abs(p.tokens[3] - 3.2) < 1e-12);
    // Two frames (a video grid): the same tokens twice, placed from the vision offset.
    options.grid = ImageGrid{2, 2, 2};
    const SaliencyProjection video = projectSaliencyMap(map, 5, 5, options, 0);
    QCOMPARE(video.tokenCount(), 8);
    for (int i = 0; i < 4; ++i)
        QCOMPARE(video.tokens[std::size_t(i + 4)], video.tokens[std::size_t(i)]);
    options.visionOffset = 3;
    const auto keys = placeOnKeySequence(video, 12, options);
    QCOMPARE(keys[3], video.tokens[0]);
    QCOMPARE(keys[10], video.tokens[7]);
    QCOMPARE(keys[11], 0.0);
    QCOMPARE(inputErrorOf([&] { placeOnKeySequence(video, 10, options); }),
             std::string("--vision-offset: the 2x2x2 = 8 vision tokens at offset 3 do not fit "
                         "into 10 keys"));
    // A huge --min-pixels blows a tiny map up to more tokens than any model has: refused before
    // anything is allocated.
    ProjectionOptions blownUp;
    blownUp.minPixels = 1'000'000'000'000;
    blownUp.maxPixels = 10'000'000'000'000;
    QCOMPARE(inputErrorOf([&] { projectSaliencyMap(map, 5, 5, blownUp, 0); }),
             std::string("image: resized to 1000020x1000020, more than 2^24 vision tokens"));
    options.grid = ImageGrid{1, 0, 3};
    options.grid.rows = 2, options.grid.frames = 0;
    QCOMPARE(inputErrorOf([&] { projectSaliencyMap(map, 5, 5, options, 0); }),
             std::string("--image-grid: every side must be at least 1"));
}

QTEST_GUILESS_MAIN(TestProjection)
#include "tst_projection.moc"
