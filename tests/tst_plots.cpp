// The plot views and the headless export (app/plots), offscreen.
#include "export_plots.h"
#include "heads_plot.h"
#include "image_support.h"
#include "matrix_plot.h"
#include "per_token_plot.h"
#include "plot_data.h"
#include "plot_support.h"
#include "saliency_grid_plot.h"
#include "target_marks.h"
#include "tradeoff_plot.h"

#include "attnsteer/backend.h"
#include "attnsteer/saliency.h"
#include "attnsteer/sweep.h"
#include "attnsteer/workload.h"

#include "scenario.h"

#include <qcustomplot.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QRegularExpression>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <numeric>

using namespace attnsteer;

using testsupport::distinctColours;

namespace {

constexpr int kHeads = 2, kQueries = 12, kKeys = 64;

/// A small but real PlotData: core's workload, saliency, rows, sweep and matrix.
PlotData makeData(double lambda = 0.8) {
    WorkloadSpec spec;
    spec.heads = kHeads, spec.queries = kQueries, spec.keys = kKeys, spec.logitStd = 0.5;
    const Workload workload = Workload::generate(spec);
    const auto saliency =
        normalizeSaliency(randomSaliencyRaw(kKeys, spec.seed), Normalization::Max).values;
    auto backend = makeCpuBackend(1);
    SteeringParams params;
    params.lambda = lambda;
    PlotData data;
    data.head = 1, data.query = 3, data.lambda = lambda;
    const TokenRow row = backend->row(workload, saliency, params, data.head, data.query);
    data.attention = row.original;
    data.steered = row.steered;
    data.saliency = saliency;
    data.saliencyLabel = QStringLiteral("random, seed 0");

    SweepConfig config;
    config.spec = spec;
    config.lambdas = parseLambdaList("0:2:0.25");
    config.seeds = {0, 1, 2};
    data.sweep = runSweep(config, *backend);
    data.sweepSeeds = 3;

    data.matrixQueries = kQueries, data.matrixKeys = kKeys;
    for (int q = 0; q < kQueries; ++q) {
        const TokenRow r = backend->row(workload, saliency, params, data.head, q);
        data.matrix.insert(data.matrix.end(), r.steered.begin(), r.steered.end());
    }
    return data;
}

QByteArray contents(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

} // namespace

class TestPlots : public QObject {
    Q_OBJECT

  private slots:
    void gridShape_data();
    void gridShape();
    void caption();
    void exportAllWritesFourPicturesOfTheRequestedSize();
    void exportAllRefusesToOverwriteUnlessAllowed();
    void exportAllReportsBadPlaces();
    void exportAllOfEmptyData();
    void perTokenGraphsHoldTheData();
    void perTokenSortedBySaliency();
    void perTokenHighlightAndTooltip();
    void tradeoffMarkerInterpolates();
    void saliencyGridHoverEmitsToken();
    void saliencyGridWithImage();
    void matrixClickPicksQuery();
    void viewSavePngAndPdf();
    void keyLabels();
    void perTokenNamesTokensAndShadesTheImage();
    void perTokenClickReportsTheToken();
    void perTokenTitleNamesTheLayer();
    void saliencyGridShowsAttentionModes();
    void saliencyGridClickReportsTheToken();
    void tradeoffYAxisAndSecondCurve();
    void headsViewOfAConstructedProfile();
    void exportAllWritesTheHeadsView();
    // Honest pictures, figures for a paper.
    void poolingKeepsPeaks();
    void matrixShownSmallerKeepsANarrowColumn();
    void matrixLogScale();
    void matrixLambdaStepRedrawsTheCellsAlone();
    void colourRangeHasAFloor();
    void constantSaliencyLooksConstant();
    void overlayOpacityIsUniform();
    void hoverIsClearedWhenTheMouseLeaves();
    void unsteeredHeadsAreLabelled();
    void figuresHaveTheirSizeInEveryFormat();
    void figureFontsAndLinesAreInPoints();
    void figuresLeaveOutTheInteractiveOverlays();
    void lambdaLabelsNeverCollide();
    void titlesAndTicksFitSmallViews();

    // --- the target (issue 13: the transformer's planted object) ---
    void targetOutlineOfShapes();
    void targetRunsFollowTheOrder();
    void perTokenMarksTheTargetTokens();
    void saliencyGridOutlinesTheTarget();
    // One frame: what a lambda change redraws.
    void aNewLambdaRedrawsOnlyWhatMoved();
    void rowPoolerMatchesPoolMatrix();
    // The story at a glance.
    void ratioModeShowsARisingCurve();
};

void TestPlots::gridShape_data() {
    QTest::addColumn<int>("keys");
    QTest::addColumn<int>("height");
    QTest::addColumn<int>("width");
    QTest::newRow("1024") << 1024 << 32 << 32;
    QTest::newRow("64") << 64 << 8 << 8;
    QTest::newRow("12") << 12 << 3 << 4;
    QTest::newRow("prime 7") << 7 << 1 << 7;
    QTest::newRow("1000") << 1000 << 25 << 40;
    QTest::newRow("1") << 1 << 1 << 1;
    QTest::newRow("0") << 0 << 0 << 0;
}

void TestPlots::gridShape() {
    QFETCH(int, keys);
    QFETCH(int, height);
    QFETCH(int, width);
    const QSize shape = gridShapeFor(keys);
    QCOMPARE(shape.height(), height);
    QCOMPARE(shape.width(), width);
}

void TestPlots::caption() {
    PlotData data;
    data.saliency.assign(1024, 0.5);
    data.saliencyLabel = QStringLiteral("random, seed 0");
    QCOMPARE(gridCaption(data),
             QStringLiteral("grid 32 x 32 = 1024 tokens (saliency: random, seed 0)"));
    data.image = QImage(10, 10, QImage::Format_RGB32);
    data.gridHeight = 20, data.gridWidth = 30, data.resizedHeight = 560, data.resizedWidth = 840;
    QCOMPARE(gridCaption(data), QStringLiteral("grid 20 x 30 = 600 tokens, resized 560 x 840"));
}

void TestPlots::exportAllWritesFourPicturesOfTheRequestedSize() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const PlotData data = makeData();
    const ExportResult result = exportAllPlots(data, dir.path(), QSize(900, 600), false);
    QVERIFY2(result.ok, qPrintable(result.error));
    QCOMPARE(result.files.size(), 4);
    for (const QString& name : exportAllPlotsFileNames()) {
        const QString path = QDir(dir.path()).filePath(name);
        QVERIFY2(result.files.contains(path), qPrintable(path));
        QImage image;
        QVERIFY2(image.load(path, "PNG"), qPrintable(path));
        QCOMPARE(image.size(), QSize(900, 600));
        QVERIFY2(distinctColours(image) > 20, qPrintable(name));
    }
    // Nothing else is left behind: no temporary files.
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden).size(), 4);
}

void TestPlots::exportAllRefusesToOverwriteUnlessAllowed() {
    QTemporaryDir dir;
    const PlotData data = makeData();
    QVERIFY(exportAllPlots(data, dir.path(), QSize(400, 300), false).ok);
    const QString matrixPath = QDir(dir.path()).filePath("matrix.png");
    const QString tradeoffPath = QDir(dir.path()).filePath("tradeoff.png");
    QFile::remove(tradeoffPath); // one missing, others present: still refused as a whole
    const QByteArray before = contents(matrixPath);

    const ExportResult refused = exportAllPlots(data, dir.path(), QSize(500, 350), false);
    QVERIFY(!refused.ok);
    QVERIFY2(refused.error.contains("per_token.png") && refused.error.contains("exists"),
             qPrintable(refused.error));
    QVERIFY(refused.files.isEmpty());
    QCOMPARE(contents(matrixPath), before);
    QVERIFY(!QFileInfo::exists(tradeoffPath));

    const ExportResult allowed = exportAllPlots(data, dir.path(), QSize(500, 350), true);
    QVERIFY2(allowed.ok, qPrintable(allowed.error));
    QCOMPARE(QImage(matrixPath).size(), QSize(500, 350));
    QCOMPARE(QImage(tradeoffPath).size(), QSize(500, 350));
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden).size(), 4);
}

void TestPlots::exportAllReportsBadPlaces() {
    QTemporaryDir dir;
    const PlotData data = makeData();
    const QString missing = QDir(dir.path()).filePath("missing");
    ExportResult result = exportAllPlots(data, missing, QSize(400, 300));
    QVERIFY(!result.ok);
    QVERIFY2(result.error.startsWith(missing) && result.error.contains("does not exist"),
             qPrintable(result.error));
    QVERIFY(!QFileInfo::exists(missing));

    // A file where the folder should be.
    const QString file = QDir(dir.path()).filePath("file.txt");
    QFile(file).open(QIODevice::WriteOnly);
    result = exportAllPlots(data, file, QSize(400, 300));
    QVERIFY(!result.ok);

    // A place nobody may write to, not even root.
    result = exportAllPlots(data, QStringLiteral("/proc/self"), QSize(400, 300));
    QVERIFY(!result.ok);
    QVERIFY2(result.error.contains("cannot write"), qPrintable(result.error));

    result = exportAllPlots(data, dir.path(), QSize(0, 300));
    QVERIFY(!result.ok);
    QVERIFY2(result.error.contains("size"), qPrintable(result.error));
}

void TestPlots::exportAllOfEmptyData() {
    QTemporaryDir dir;
    const ExportResult result = exportAllPlots(PlotData{}, dir.path(), QSize(320, 240));
    QVERIFY2(result.ok, qPrintable(result.error));
    for (const QString& path : result.files)
        QCOMPARE(QImage(path).size(), QSize(320, 240));
}

void TestPlots::perTokenGraphsHoldTheData() {
    const PlotData data = makeData();
    PerTokenPlot view;
    view.setData(data);
    QCustomPlot* plot = view.customPlot();
    QCOMPARE(plot->graphCount(), 5); // and the ratio mode's (hidden), the baseline of A's area
    const std::vector<double>* expected[] = {&data.attention, &data.steered, &data.saliency};
    const int graphs[] = {PerTokenPlot::AttentionGraph, PerTokenPlot::SteeredGraph,
                          PerTokenPlot::SaliencyGraph};
    for (int g = 0; g < 3; ++g) {
        const auto points = plot->graph(graphs[g])->data();
        QCOMPARE(points->size(), kKeys);
        for (int k = 0; k < kKeys; ++k) {
            QCOMPARE(points->at(k)->key, double(k));
            QCOMPARE(points->at(k)->value, (*expected[g])[std::size_t(k)]);
        }
    }
    // s has its own strip below A and A': another axis rect, its own value axis.
    QCPAxis* sAxis = plot->graph(PerTokenPlot::SaliencyGraph)->valueAxis();
    QVERIFY(sAxis->axisRect() != plot->axisRect());
    QVERIFY(sAxis->visible());
    QCOMPARE(sAxis->label(), QStringLiteral("s"));
    QCOMPARE(plot->axisRects().size(), 2);
    QCOMPARE(plot->xAxis->label(), QStringLiteral("key token"));
    QCOMPARE(plot->yAxis->label(), QStringLiteral("attention"));
    QVERIFY(plot->interactions().testFlag(QCP::iRangeDrag));
    QVERIFY(plot->interactions().testFlag(QCP::iRangeZoom));
    // The wheel zooms the tokens only: the value axis keeps the whole row.
    QCOMPARE(plot->axisRect()->rangeZoom(), Qt::Orientations(Qt::Horizontal));
    QCOMPARE(plot->axisRect()->rangeDrag(), Qt::Orientations(Qt::Horizontal));
    QVERIFY(plot->legend->visible());
    // A' is drawn over A (on a layer above A's, drawn again alone when only lambda changes), A
    // as an area, A' as a line.
    QVERIFY(plot->graph(PerTokenPlot::SteeredGraph)->layer()->index() >
            plot->graph(PerTokenPlot::AttentionGraph)->layer()->index());
    QCOMPARE(plot->graph(PerTokenPlot::AttentionGraph)->pen().style(), Qt::NoPen);
    QVERIFY(plot->graph(PerTokenPlot::AttentionGraph)->brush().style() != Qt::NoBrush);
    QCOMPARE(plot->graph(PerTokenPlot::SteeredGraph)->pen().color(), plotcolors::steered());
}

void TestPlots::perTokenSortedBySaliency() {
    const PlotData data = makeData();
    PerTokenPlot view;
    view.setData(data);
    view.setSortBySaliency(true);
    const auto saliency = view.customPlot()->graph(PerTokenPlot::SaliencyGraph)->data();
    for (int x = 1; x < kKeys; ++x)
        QVERIFY(saliency->at(x - 1)->value >= saliency->at(x)->value);
    // Every token keeps its own values at its rank.
    const auto steered = view.customPlot()->graph(PerTokenPlot::SteeredGraph)->data();
    for (int k = 0; k < kKeys; ++k) {
        const double x = view.tokenX(k);
        QCOMPARE(view.tokenAtX(x), k);
        QCOMPARE(steered->at(int(x))->value, data.steered[std::size_t(k)]);
    }
    QCOMPARE(view.tokenAtX(0), int(std::max_element(data.saliency.begin(), data.saliency.end()) -
                                   data.saliency.begin()));
}

void TestPlots::perTokenHighlightAndTooltip() {
    const PlotData data = makeData();
    PerTokenPlot view;
    view.setData(data);
    view.highlightToken(5);
    QCOMPARE(view.highlightedToken(), 5);
    view.highlightToken(kKeys + 3);
    QCOMPARE(view.highlightedToken(), -1);
    const QString text = view.tokenText(7);
    QVERIFY2(text.startsWith("token 7: A=") && text.contains(", A′=") && text.contains(", s="),
             qPrintable(text));
    QVERIFY(view.tokenText(-1).isEmpty());

    view.resize(700, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.replotNow();
    QSignalSpy hovered(&view, &PerTokenPlot::tokenHovered);
    QCustomPlot* plot = view.customPlot();
    const int y = int(plot->axisRect()->center().y());
    QTest::mouseMove(plot, QPoint(int(plot->xAxis->coordToPixel(20)), y));
    QTRY_VERIFY(!hovered.isEmpty());
    QCOMPARE(hovered.last().at(0).toInt(), 20);
}

void TestPlots::tradeoffMarkerInterpolates() {
    const PlotData data = makeData();
    TradeoffPlot view;
    view.setData(data);
    QCustomPlot* plot = view.customPlot();
    QCOMPARE(plot->graph(0)->data()->size(), int(data.sweep.size()));
    QCOMPARE(plot->xAxis->label(), QStringLiteral("KL(A‖A′) [nats]"));
    QCOMPARE(plot->yAxis->label(), QStringLiteral("entropy reduction [%]"));
    // Error bars are there for the seed spread (KL and y of the curve, y of the second curve).
    int errorBars = 0;
    for (int i = 0; i < plot->plottableCount(); ++i)
        errorBars += qobject_cast<QCPErrorBars*>(plot->plottable(i)) != nullptr;
    QCOMPARE(errorBars, 3);
    QVERIFY(!plot->graph(1)->visible()); // no second curve in this data

    // Half way between the grid points 0.25 and 0.5.
    view.setLambda(0.375);
    const SweepRow& a = data.sweep[1];
    const SweepRow& b = data.sweep[2];
    QCOMPARE(a.lambda, 0.25);
    QCOMPARE(b.lambda, 0.5);
    const QPointF marker = view.markerPosition();
    QVERIFY(std::abs(marker.x() - (a.klMean + b.klMean) / 2) < 1e-15);
    QVERIFY(std::abs(marker.y() - (a.reductionMean + b.reductionMean) / 2) < 1e-12);
    // On a grid point exactly, clamped at the ends.
    view.setLambda(0.5);
    QCOMPARE(view.markerPosition(), QPointF(b.klMean, b.reductionMean));
    QVERIFY(view.markerShown());
    QVERIFY2(view.readout().contains(QStringLiteral("(mean of 3 seeds)")),
             qPrintable(view.readout()));
    // Beyond the curve's grid (or a negative lambda): no marker at the wrong place, the readout
    // says so.
    view.setLambda(99);
    QVERIFY(!view.markerShown());
    QCOMPARE(view.readout(), QStringLiteral("○ λ = 99.000 is outside the curve's λ = 0 … 2"));
    view.setLambda(-0.5);
    QVERIFY(!view.markerShown());
    QVERIFY(view.readout().contains(QStringLiteral("−0.500")) ||
            view.readout().contains(QStringLiteral("-0.500")));
    QVERIFY(std::isnan(TradeoffPlot::interpolate({}, 0.3).x()));
    // Clamped at the ends when asked directly.
    QCOMPARE(TradeoffPlot::interpolate(data.sweep, 99),
             QPointF(data.sweep.back().klMean, data.sweep.back().reductionMean));
}

void TestPlots::saliencyGridHoverEmitsToken() {
    const PlotData data = makeData();
    SaliencyGridPlot view;
    view.setData(data);
    QCOMPARE(view.gridHeight(), 8);
    QCOMPARE(view.gridWidth(), 8);
    view.resize(500, 420);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.replotNow();
    QSignalSpy hovered(&view, &SaliencyGridPlot::tokenHovered);
    for (int token : {0, 9, 27, 63}) {
        const QPoint centre = view.tokenCenter(token);
        QCOMPARE(view.tokenAt(centre), token);
        QTest::mouseMove(view.customPlot(), centre);
        QTRY_VERIFY(!hovered.isEmpty() && hovered.last().at(0).toInt() == token);
        QCOMPARE(view.highlightedToken(), token);
    }
    // Square cells: the same pixel pitch on both axes.
    const QPoint a = view.tokenCenter(0), right = view.tokenCenter(1), below = view.tokenCenter(8);
    QVERIFY(std::abs((right.x() - a.x()) - (below.y() - a.y())) <= 1);
    QVERIFY(below.y() > a.y()); // row 0 at the top
}

void TestPlots::saliencyGridWithImage() {
    PlotData data = makeData();
    data.image = QImage(80, 40, QImage::Format_RGB32);
    data.image.fill(Qt::gray);
    data.gridHeight = 4, data.gridWidth = 8, data.gridOffset = 10;
    data.resizedHeight = 112, data.resizedWidth = 224;
    SaliencyGridPlot view;
    view.setData(data);
    QVERIFY(view.hasImage());
    QCOMPARE(view.gridOffset(), 10);
    view.resize(600, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.replotNow();
    QCOMPARE(view.tokenCenter(9), QPoint(-1, -1));
    QCOMPARE(view.tokenAt(view.tokenCenter(10)), 10);
    QCOMPARE(view.tokenAt(view.tokenCenter(41)), 41);
    view.setOverlayOpacity(0.2);
    QCOMPARE(view.overlayOpacity(), 0.2);
    QTemporaryDir dir;
    QVERIFY(view.savePng(dir.filePath("grid.png"), 300, 200));
    QImage image(dir.filePath("grid.png"));
    QCOMPARE(image.size(), QSize(300, 200));
    QVERIFY(distinctColours(image) > 10);
}

void TestPlots::matrixClickPicksQuery() {
    const PlotData data = makeData();
    MatrixPlot view;
    view.setData(data);
    QCOMPARE(view.queries(), kQueries);
    QCOMPARE(view.keys(), kKeys);
    QCOMPARE(view.value(2, 5), data.matrix[2 * kKeys + 5]);
    view.resize(600, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.replotNow();
    QSignalSpy picked(&view, &MatrixPlot::queryPicked);
    QTest::mouseClick(view.customPlot(), Qt::LeftButton, {}, view.cellCenter(7, 20));
    QCOMPARE(picked.size(), 1);
    QCOMPARE(picked.at(0).at(0).toInt(), 7);
    QCOMPARE(view.currentQuery(), 7);
    // A click outside the matrix picks nothing.
    QTest::mouseClick(view.customPlot(), Qt::LeftButton, {}, QPoint(2, 2));
    QCOMPARE(picked.size(), 1);

    // The difference view is symmetric around zero.
    std::vector<double> difference(data.matrix.size(), 0.0);
    difference[3] = 2e-4, difference[4] = -1e-4;
    view.setMatrix(difference, kQueries, kKeys, true, 1, 0.8);
    QVERIFY(view.isDifference());
}

void TestPlots::viewSavePngAndPdf() {
    const PlotData data = makeData();
    TradeoffPlot view;
    view.setData(data);
    QTemporaryDir dir;
    const QString png = dir.filePath("t.png"), pdf = dir.filePath("t.pdf");
    QString error;
    QVERIFY2(view.savePng(png, 640, 480, 2.0, false, &error), qPrintable(error));
    QCOMPARE(QImage(png).size(), QSize(1280, 960));
    QVERIFY(!view.savePng(png, 640, 480, 1.0, false, &error));
    QVERIFY2(error.contains("exists"), qPrintable(error));
    QCOMPARE(QImage(png).size(), QSize(1280, 960));
    QVERIFY2(view.savePdf(pdf, 640, 480, false, &error), qPrintable(error));
    QVERIFY(contents(pdf).startsWith("%PDF"));
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden).size(), 2);
}

/// MAKE_DATA with the sidecar's view of its 64 keys: 8 text tokens, then 48 vision tokens on a
/// 6 x 8 grid from key 8, then 8 text tokens.
PlotData withTokens(PlotData data) {
    data.tokens.clear();
    for (int k = 0; k < kKeys; ++k)
        data.tokens.push_back(k >= 8 && k < 56 ? QStringLiteral("<|image_pad|>")
                                               : QStringLiteral(" word%1").arg(k));
    data.tokens[2] = QStringLiteral("\n");
    data.visionStart = 8, data.visionTokens = 48;
    data.gridHeight = 6, data.gridWidth = 8, data.gridOffset = 8;
    data.modelGrid = true;
    return data;
}

void TestPlots::keyLabels() {
    const PlotData data = withTokens(makeData());
    QCOMPARE(keyLabel(data, 3), QStringLiteral("key 3 · ' word3'"));
    QCOMPARE(keyLabel(data, 2), QStringLiteral("key 2 · '\\n'"));
    QCOMPARE(keyLabel(data, 8), QStringLiteral("key 8 · image (row 0, col 0)"));
    QCOMPARE(keyLabel(data, 8 + 19), QStringLiteral("key 27 · image (row 2, col 3)"));
    QCOMPARE(keyLabel(data, 56), QStringLiteral("key 56 · ' word56'"));
    // Two frames of 2 x 3: the second frame's tokens say so.
    QCOMPARE(keyLabel(10, {}, 4, 12, 2, 3),
             QStringLiteral("key 10 · image (frame 1, row 0, col 0)"));
    QCOMPARE(keyLabel(3, {}, -1, 0, 0, 0), QStringLiteral("key 3"));
    PlotData plain = makeData();
    QCOMPARE(headLabel(plain), QStringLiteral("head 1"));
    plain.layer = 2;
    QCOMPARE(headLabel(plain), QStringLiteral("layer 2, head 1"));
    plain.layersAveraged = 4;
    QCOMPARE(headLabel(plain), QStringLiteral("head 1, mean of 4 layers"));
    QCOMPARE(gridCaption(withTokens(makeData())),
             QStringLiteral("model's grid 6 x 8 = 48 vision tokens from key 8"));
    PlotData frames = withTokens(makeData());
    frames.gridHeight = 2, frames.gridWidth = 3, frames.visionTokens = 12;
    QCOMPARE(gridCaption(frames),
             QStringLiteral("model's grid 2 x 3 = 6 vision tokens from key 8, frame 1 of 2"));
}

void TestPlots::perTokenNamesTokensAndShadesTheImage() {
    const PlotData data = withTokens(makeData());
    PerTokenPlot view;
    view.setData(data);
    QVERIFY2(view.tokenText(3).startsWith(QStringLiteral("key 3 · ' word3'\nA=")),
             qPrintable(view.tokenText(3)));
    QVERIFY(view.tokenText(3).contains(QStringLiteral(", A′=")));
    QVERIFY2(view.tokenText(20).startsWith(QStringLiteral("key 20 · image (row 1, col 4)\nA=")),
             qPrintable(view.tokenText(20)));
    QCOMPARE(view.visionBand(), (QPair<int, int>(8, 55)));
    view.resize(1400, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.replotNow();
    const auto labels = view.tickLabels();
    QVERIFY2(labels.size() >= 5, qPrintable(QString::number(labels.size())));
    for (const auto& [x, label] : labels) {
        QVERIFY2(x < 8 || x > 55, qPrintable(label)); // no vision token is named
        const int k = int(x);
        QCOMPARE(label, k == 2 ? QString(QChar(0x21b5)) : QStringLiteral("word%1").arg(k));
    }
    // Zoomed in on the text after the image: every token there is named.
    view.customPlot()->xAxis->setRange(55.5, 63.5);
    view.replotNow();
    QCOMPARE(view.tickLabels().size(), 8);
    // Sorted by saliency: no band (the span is no longer one piece), labels follow their tokens.
    view.setSortBySaliency(true);
    QCOMPARE(view.visionBand(), (QPair<int, int>(-1, -1)));
    view.resetView();
    view.replotNow();
    for (const auto& [x, label] : view.tickLabels()) {
        const int token = view.tokenAtX(x);
        QVERIFY(token < 8 || token > 55);
    }
    // Words before special tokens: where "<|im_start|>" and " word1" collide, the word stays.
    PlotData special = data;
    special.tokens[0] = QStringLiteral("<|im_start|>");
    view.setData(special);
    view.setSortBySaliency(false);
    view.resize(300, 300);
    view.replotNow();
    QSet<double> named;
    for (const auto& [x, label] : view.tickLabels())
        named.insert(x);
    QVERIFY(named.contains(1));
    QVERIFY(!named.contains(0));
    view.resize(1400, 400);
    view.customPlot()->xAxis->setRange(-0.5, 3.5); // room for both
    view.replotNow();
    QCOMPARE(view.tickLabels().first().second, QStringLiteral("<|im_start|>"));
    // Without token texts: numbers, as before.
    view.setData(makeData());
    view.replotNow();
    for (const auto& [x, label] : view.tickLabels()) {
        bool number = false;
        label.toDouble(&number);
        QVERIFY2(number, qPrintable(label));
    }
    QCOMPARE(view.visionBand(), (QPair<int, int>(-1, -1)));
}

void TestPlots::perTokenClickReportsTheToken() {
    PerTokenPlot view;
    view.setData(makeData());
    view.resize(700, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.replotNow();
    QSignalSpy clicked(&view, &PerTokenPlot::tokenClicked);
    QCustomPlot* plot = view.customPlot();
    const int y = int(plot->axisRect()->center().y());
    QTest::mouseClick(plot, Qt::LeftButton, {}, QPoint(int(plot->xAxis->coordToPixel(41)), y));
    QCOMPARE(clicked.size(), 1);
    QCOMPARE(clicked.at(0).at(0).toInt(), 41);
    // Outside the axis rect: nothing.
    QTest::mouseClick(plot, Qt::LeftButton, {}, QPoint(2, 2));
    QCOMPARE(clicked.size(), 1);
}

void TestPlots::perTokenTitleNamesTheLayer() {
    PlotData data = makeData();
    PerTokenPlot view;
    view.setData(data);
    QCOMPARE(view.title(), QStringLiteral("Head 1, query 3: attention over 64 key tokens"));
    data.layer = 2;
    view.setData(data);
    QCOMPARE(view.title(),
             QStringLiteral("Layer 2, head 1, query 3: attention over 64 key tokens"));
    data.layersAveraged = 4;
    view.setData(data);
    QCOMPARE(view.title(),
             QStringLiteral("Head 1, query 3, mean of 4 layers: attention over 64 key tokens"));
    MatrixPlot matrix;
    matrix.setData(data);
    QCOMPARE(matrix.title(), QStringLiteral("Head 1, mean of 4 layers: A′ at λ = 0.800"));
    data.layersAveraged = 1;
    matrix.setData(data);
    QCOMPARE(matrix.title(), QStringLiteral("Layer 2, head 1: A′ at λ = 0.800"));
}

void TestPlots::saliencyGridShowsAttentionModes() {
    PlotData data = withTokens(makeData());
    // The mean over the matrix's queries, as the window hands it over.
    data.queryMeanAttention.assign(kKeys, 0.0);
    data.queryMeanSteered.assign(kKeys, 0.0);
    for (int k = 0; k < kKeys; ++k) {
        data.queryMeanAttention[std::size_t(k)] = 0.001 * k;
        data.queryMeanSteered[std::size_t(k)] = 0.002 * (kKeys - k);
    }
    data.queryMeanRows = kQueries;
    SaliencyGridPlot view;
    view.setData(data);
    QCOMPARE(view.gridHeight(), 6);
    QCOMPARE(view.gridWidth(), 8);
    QCOMPARE(view.mode(), ImageMode::Saliency);
    QCOMPARE(view.shownValue(9), data.saliency[9]);
    QCOMPARE(view.colorLabel(), QStringLiteral("saliency s"));

    // A and A' on one scale from 0 to the largest of either on the grid (keys 8..55).
    double largest = 0;
    for (int k = 8; k < 56; ++k)
        largest = std::max({largest, data.attention[std::size_t(k)], data.steered[std::size_t(k)]});
    view.setMode(ImageMode::Attention);
    for (int k = 8; k < 56; ++k)
        QCOMPARE(view.shownValue(k), data.attention[std::size_t(k)]);
    QVERIFY(std::isnan(view.shownValue(7)) && std::isnan(view.shownValue(56)));
    QCOMPARE(view.colorLower(), 0.0);
    QCOMPARE(view.colorUpper(), largest);
    QCOMPARE(view.title(), QStringLiteral("A on the image\nhead 1, query 3"));
    view.setMode(ImageMode::Steered);
    for (int k = 8; k < 56; ++k)
        QCOMPARE(view.shownValue(k), data.steered[std::size_t(k)]);
    QCOMPARE(view.colorUpper(), largest);
    QCOMPARE(view.colorLabel(), QStringLiteral("A′ at λ = 0.800 (same scale as A)"));

    // A' - A: symmetric around 0.
    view.setMode(ImageMode::Difference);
    double extent = 0;
    for (int k = 8; k < 56; ++k) {
        const double change = data.steered[std::size_t(k)] - data.attention[std::size_t(k)];
        QCOMPARE(view.shownValue(k), change);
        extent = std::max(extent, std::abs(change));
    }
    QCOMPARE(view.colorLower(), -extent);
    QCOMPARE(view.colorUpper(), extent);
    QCOMPARE(view.colorLabel(), QStringLiteral("A′ − A at λ = 0.800"));

    // The mean over queries.
    view.setQueryMean(true);
    for (int k = 8; k < 56; ++k)
        QCOMPARE(view.shownValue(k), 0.002 * (kKeys - k) - 0.001 * k);
    QCOMPARE(view.title(), QStringLiteral("A′ − A on the image\nhead 1, mean of 12 queries"));
    // All zero: white on a symmetric scale.
    std::vector<double> same(kKeys, 0.01);
    view.setAttention(same, same, same, same, 0, -1, 4, 9, 5, 0);
    QCOMPARE(view.title(),
             QStringLiteral("A′ − A on the image\nhead 0, mean of 5 queries × 4 layers"));
    for (int k = 8; k < 56; ++k)
        QCOMPARE(view.shownValue(k), 0.0);
    QCOMPARE(view.colorLower(), -view.colorUpper());
    view.setQueryMean(false);
    QCOMPARE(view.title(),
             QStringLiteral("A′ − A on the image\nhead 0, query 9, mean of 4 layers"));
    view.setAttention(same, same, same, same, 2, 3, 1, 9, 5, 0);
    QCOMPARE(view.title(), QStringLiteral("A′ − A on the image\nlayer 3, head 2, query 9"));

    // Picture: the modes draw, with an image under them too.
    data.imageMode = ImageMode::Difference;
    data.image = QImage(80, 60, QImage::Format_RGB32);
    data.image.fill(Qt::darkGreen);
    view.setData(data);
    QCOMPARE(view.mode(), ImageMode::Difference);
    QVERIFY(view.hasImage());
    QTemporaryDir dir;
    QVERIFY(view.savePng(dir.filePath("change.png"), 300, 240));
    QVERIFY(distinctColours(QImage(dir.filePath("change.png"))) > 10);
}

void TestPlots::saliencyGridClickReportsTheToken() {
    SaliencyGridPlot view;
    view.setData(withTokens(makeData()));
    view.resize(500, 420);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.replotNow();
    QSignalSpy clicked(&view, &SaliencyGridPlot::tokenClicked);
    QTest::mouseClick(view.customPlot(), Qt::LeftButton, {}, view.tokenCenter(30));
    QCOMPARE(clicked.size(), 1);
    QCOMPARE(clicked.at(0).at(0).toInt(), 30);
    // A drag is no click.
    const QPoint from = view.tokenCenter(12);
    QTest::mousePress(view.customPlot(), Qt::LeftButton, {}, from);
    QTest::mouseMove(view.customPlot(), from + QPoint(30, 30));
    QTest::mouseRelease(view.customPlot(), Qt::LeftButton, {}, from + QPoint(30, 30));
    QCOMPARE(clicked.size(), 1);
}

// ---------------------------------------------------------------------------------------------
// Honest pictures, figures for a paper

namespace {

/// A ROWS x COLS matrix of BASE with the column HOT at PEAK in every row.
std::vector<double> matrixWithColumn(int rows, int cols, double base, int hot, double peak) {
    std::vector<double> values(std::size_t(rows) * std::size_t(cols), base);
    for (int r = 0; r < rows; ++r)
        values[std::size_t(r) * std::size_t(cols) + std::size_t(hot)] = peak;
    return values;
}

/// Shows VIEW at SIZE and draws it: what the window does with a view.
bool showAt(PlotView& view, QSize size) {
    view.resize(size);
    view.show();
    if (!QTest::qWaitForWindowExposed(&view))
        return false;
    view.replotNow();
    return true;
}

/// The numbers of ATTRIBUTE="..." in SVG (font-size, stroke-width).
QList<double> svgNumbers(const QByteArray& svg, const QString& attribute) {
    QList<double> numbers;
    const QRegularExpression pattern(attribute + QStringLiteral("=\"([0-9.]+)\""));
    for (auto it = pattern.globalMatch(QString::fromUtf8(svg)); it.hasNext();)
        numbers << it.next().captured(1).toDouble();
    return numbers;
}

} // namespace

void TestPlots::poolingKeepsPeaks() {
    // 4 x 6 onto 2 x 3: each pooled cell is a 2 x 2 block; the largest of each block.
    const std::vector<double> values = {1, 2, 0, 0, 5, 1,  //
                                        3, 4, 0, 9, 1, 1,  //
                                        0, 0, 7, 0, 0, -8, //
                                        0, 1, 0, 0, 0, 2};
    PooledMatrix pooled = poolMatrix(values, 4, 6, 0, 4, 0, 6, 2, 3, Pooling::Max);
    QCOMPARE(pooled.rows, 2);
    QCOMPARE(pooled.cols, 3);
    QCOMPARE(pooled.values, (std::vector<double>{4, 9, 5, 1, 7, 2}));
    QCOMPARE(pooled.rowStart, (std::vector<int>{0, 2, 4}));
    QCOMPARE(pooled.colStart, (std::vector<int>{0, 2, 4, 6}));
    // A change either way: the value of largest magnitude, its sign kept.
    pooled = poolMatrix(values, 4, 6, 0, 4, 0, 6, 2, 3, Pooling::LargestMagnitude);
    QCOMPARE(pooled.values, (std::vector<double>{4, 9, 5, 1, 7, -8}));
    // A window, and a side with fewer cells than pixels keeps its cells.
    pooled = poolMatrix(values, 4, 6, 1, 3, 2, 5, 100, 100, Pooling::Max);
    QCOMPARE(pooled.rows, 2);
    QCOMPARE(pooled.cols, 3);
    QCOMPARE(pooled.values, (std::vector<double>{0, 9, 1, 7, 0, 0}));
    // Uneven groups: 1024 columns onto 300 cover every column exactly once.
    const std::vector<double> wide = matrixWithColumn(1, 1024, 0.001, 517, 0.75);
    pooled = poolMatrix(wide, 1, 1024, 0, 1, 0, 1024, 1, 300, Pooling::Max);
    QCOMPARE(pooled.cols, 300);
    QCOMPARE(pooled.colStart.front(), 0);
    QCOMPARE(pooled.colStart.back(), 1024);
    int peaks = 0;
    for (double v : pooled.values)
        peaks += v == 0.75;
    QCOMPARE(peaks, 1);
    // Empty windows and NaN.
    QCOMPARE(poolMatrix(values, 4, 6, 3, 3, 0, 6, 2, 2, Pooling::Max).rows, 0);
    const std::vector<double> withNan = {std::nan(""), 1, std::nan(""), std::nan("")};
    pooled = poolMatrix(withNan, 2, 2, 0, 2, 0, 2, 1, 1, Pooling::Max);
    QCOMPARE(pooled.values, std::vector<double>{1});
}

void TestPlots::matrixShownSmallerKeepsANarrowColumn() {
    // The case: three quarters of every row on one key; drawn 300 pixels wide, a column
    // of one key in 1024 must not drop out.
    constexpr int kRows = 1024, kCols = 1024, kHot = 517;
    const double rest = 0.25 / (kCols - 1);
    MatrixPlot view;
    view.setMatrix(matrixWithColumn(kRows, kCols, rest, kHot, 0.75), kRows, kCols, false, 0, 20);
    QVERIFY(showAt(view, QSize(300, 260)));
    const QSize cells = view.shownCells();
    const QRect rect = view.customPlot()->axisRect()->rect();
    QVERIFY2(cells.width() <= rect.width() && cells.width() > 0,
             qPrintable(QString::number(cells.width())));
    QVERIFY(cells.height() <= rect.height() && cells.height() > 0);
    for (int q : {0, 100, 511, 1023})
        QCOMPARE(view.shownValue(q, kHot), 0.75);
    QCOMPARE(view.shownValue(5, 3), rest);
    QVERIFY(view.colorLabel().contains(QStringLiteral("largest per pixel")));
    // In the picture: the column's pixels have the darkest colour of the scale, wherever it is.
    QCustomPlot* plot = view.customPlot();
    const QImage picture = plot->toPixmap().toImage();
    const int x = int(std::lround(plot->xAxis->coordToPixel(kHot)));
    const QColor hot = picture.pixelColor(x, rect.center().y());
    const QColor cold = picture.pixelColor(int(plot->xAxis->coordToPixel(100)), rect.center().y());
    QVERIFY2(hot.lightness() < 80, qPrintable(hot.name()));
    QVERIFY2(cold.lightness() > 200, qPrintable(cold.name()));
    // Zoomed in on the column: every source cell gets its own pixels again.
    plot->xAxis->setRange(kHot - 10.5, kHot + 10.5);
    plot->yAxis->setRange(-0.5, 20.5);
    view.replotNow();
    QCOMPARE(view.shownCells(), QSize(21, 21));
    QCOMPARE(view.shownValue(3, kHot - 1), rest);
}

void TestPlots::matrixLogScale() {
    MatrixPlot view;
    view.resize(300, 260);
    std::vector<double> values = matrixWithColumn(64, 64, 1e-3, 7, 0.5);
    values[5] = 0; // a zero takes the lowest colour
    view.setMatrix(values, 64, 64, false, 0, 1);
    view.setLogScale(true);
    view.replotNow();
    QCOMPARE(view.colorUpper(), 0.5);
    QCOMPARE(view.colorLower(), 1e-3); // the smallest positive value, within four decades
    QCOMPARE(qobject_cast<QCPColorMap*>(view.customPlot()->plottable(0))->dataScaleType(),
             QCPAxis::stLogarithmic);
    QVERIFY(view.colorLabel().contains(QStringLiteral("log scale")));
    // A' - A stays linear and symmetric.
    std::vector<double> change(64 * 64, 0.0);
    change[3] = -0.2, change[70] = 0.1;
    view.setMatrix(change, 64, 64, true, 0, 1);
    view.replotNow();
    QCOMPARE(view.colorLower(), -0.2);
    QCOMPARE(view.colorUpper(), 0.2);
    QVERIFY(!view.colorLabel().contains(QStringLiteral("log")));
}

void TestPlots::matrixLambdaStepRedrawsTheCellsAlone() {
    // A new lambda of the same matrix (a dragged slider): where the colour scale can stay, only
    // the cells' layer (and the title) is drawn, with the new values; a range that no longer
    // fits takes a whole replot, with a tenth of room at each end (not below 0) for the steps
    // that follow.
    MatrixPlot view;
    view.resize(300, 260);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.setMatrix(matrixWithColumn(64, 64, 0.01, 7, 0.5), 64, 64, false, 0, 1.0);
    view.replotNow();
    QTest::qWait(20); // the replot that setMatrix queued
    QCOMPARE(view.colorLower(), 0.01);
    QCOMPARE(view.colorUpper(), 0.5);
    QSignalSpy layer(&view, &PlotView::layerRedrawn);
    QSignalSpy whole(view.customPlot(), &QCustomPlot::afterReplot);
    // 0.45 fits [0.01, 0.5] and fills 90 % of it: the cells alone.
    view.setMatrix(matrixWithColumn(64, 64, 0.01, 7, 0.45), 64, 64, false, 0, 1.1);
    QCOMPARE(layer.count(), 1);
    QCoreApplication::processEvents();
    QCOMPARE(whole.count(), 0);
    QCOMPARE(view.shownValue(3, 7), 0.45);
    QCOMPARE(view.colorUpper(), 0.5);
    QCOMPARE(view.title(), QStringLiteral("Head 0: A′ at λ = 1.100"));
    // 0.9 does not fit: a whole replot, the scale from 0.01 - 0.089 -> 0 to 0.9 + 0.089.
    view.setMatrix(matrixWithColumn(64, 64, 0.01, 7, 0.9), 64, 64, false, 0, 1.2);
    QCOMPARE(layer.count(), 1);
    QTRY_COMPARE(whole.count(), 1);
    QCOMPARE(view.shownValue(3, 7), 0.9);
    QCOMPARE(view.colorLower(), 0.0);
    QCOMPARE(view.colorUpper(), 0.9 + 0.1 * (0.9 - 0.01));
    // Anything but lambda (here the head) is drawn whole, on the exact range.
    view.setMatrix(matrixWithColumn(64, 64, 0.01, 7, 0.85), 64, 64, false, 1, 1.2);
    QTRY_COMPARE(whole.count(), 2);
    QCOMPARE(layer.count(), 1);
    QCOMPARE(view.colorUpper(), 0.85);
}

void TestPlots::colourRangeHasAFloor() {
    // Rounding noise around a constant: a scale from 0 to the value.
    auto range = sequentialColorRange(1 - 2.2e-16, 1 + 2.2e-16);
    QCOMPARE(range.first, 0.0);
    QCOMPARE(range.second, 1.0 + 1e-6);
    range = sequentialColorRange(-3, -3);
    QCOMPARE(range, std::make_pair(-3.0 * (1 + 1e-6), 0.0));
    QCOMPARE(sequentialColorRange(0, 0), std::make_pair(0.0, 1.0));
    // A real spread is kept, even a small one.
    QCOMPARE(sequentialColorRange(0.0009, 0.0011), std::make_pair(0.0009, 0.0011));
    QCOMPARE(sequentialColorRange(std::nan(""), 1), std::make_pair(0.0, 1.0));
    QCOMPARE(divergingColorExtent(-1e-17, 3e-17), 1e-12);
    QCOMPARE(divergingColorExtent(-0.3, 0.1), 0.3);
    QCOMPARE(logColorRange(1e-9, 0.5), std::make_pair(0.5e-4, 0.5));
    QCOMPARE(logColorRange(0.01, 0.5), std::make_pair(0.01, 0.5));
}

void TestPlots::constantSaliencyLooksConstant() {
    // A uniform grey image: s = 1 up to rounding. Every cell the same colour, the scale 0..1.
    std::vector<double> s(64);
    for (std::size_t k = 0; k < s.size(); ++k)
        s[k] = 1.0 + (k % 3 == 0 ? 2.2e-16 : k % 3 == 1 ? -1.1e-16 : 0.0);
    SaliencyGridPlot view;
    view.setSaliency(s, 8, 8);
    QVERIFY(showAt(view, QSize(300, 300)));
    QCOMPARE(view.colorLower(), 0.0);
    QVERIFY(std::abs(view.colorUpper() - 1.0) < 2e-6);
    const QImage picture = view.customPlot()->toPixmap().toImage();
    QSet<QRgb> colours;
    for (int token = 0; token < 64; ++token)
        colours << picture.pixel(view.tokenCenter(token) + QPoint(2, 2));
    QVERIFY2(colours.size() == 1, qPrintable(QString::number(colours.size())));
    // The same map with a real spread shows it.
    s[10] = 0.2;
    view.setSaliency(s, 8, 8);
    QCOMPARE(view.colorLower(), 0.2);
}

void TestPlots::overlayOpacityIsUniform() {
    // Over an image, every token's cell has the slider's opacity: the colour alone tells the
    // value, as the colour bar does.
    PlotData data = makeData();
    data.image = QImage(80, 80, QImage::Format_RGB32);
    data.image.fill(Qt::gray);
    data.gridHeight = 8, data.gridWidth = 8, data.resizedHeight = 224, data.resizedWidth = 224;
    SaliencyGridPlot view;
    view.setData(data);
    view.setOverlayOpacity(0.55);
    for (int token = 0; token < 64; ++token)
        QCOMPARE(view.overlayAlpha(token), 140); // round(255 x 0.55)
    view.setOverlayOpacity(1.0);
    QCOMPARE(view.overlayAlpha(0), 255);
    QCOMPARE(view.overlayAlpha(63), 255);
    QCOMPARE(view.overlayAlpha(64), -1);
    view.setImage(QImage());
    QCOMPARE(view.overlayAlpha(5), 255); // no image: opaque
}

void TestPlots::hoverIsClearedWhenTheMouseLeaves() {
    const PlotData data = makeData();
    PerTokenPlot perToken;
    perToken.setData(data);
    QVERIFY(showAt(perToken, QSize(500, 300)));
    QCustomPlot* plot = perToken.customPlot();
    QSignalSpy hovered(&perToken, &PerTokenPlot::tokenHovered);
    const QRect rect = plot->axisRect()->rect();
    QTest::mouseMove(plot, rect.center());
    QTRY_VERIFY(!hovered.isEmpty());
    QVERIFY(hovered.last().at(0).toInt() >= 0);
    QEvent leave(QEvent::Leave);
    QCoreApplication::sendEvent(plot, &leave);
    QCOMPARE(hovered.last().at(0).toInt(), -1);
    perToken.hide();

    SaliencyGridPlot grid;
    grid.setData(data);
    QVERIFY(showAt(grid, QSize(300, 300)));
    QSignalSpy gridHovered(&grid, &SaliencyGridPlot::tokenHovered);
    QTest::mouseMove(grid.customPlot(), grid.tokenCenter(9));
    QTRY_COMPARE(grid.highlightedToken(), 9);
    QCoreApplication::sendEvent(grid.customPlot(), &leave);
    QCOMPARE(grid.highlightedToken(), -1);
    QCOMPARE(gridHovered.last().at(0).toInt(), -1);

    // The wheel zooms the tokens, not the values.
    const QCPRange values = plot->yAxis->range(), keys = plot->xAxis->range();
    QWheelEvent wheel(QPointF(rect.center()), plot->mapToGlobal(QPointF(rect.center())), QPoint(),
                      QPoint(0, 240), Qt::NoButton, Qt::NoModifier, Qt::NoScrollPhase, false);
    QCoreApplication::sendEvent(plot, &wheel);
    QVERIFY(plot->xAxis->range().size() < keys.size());
    QCOMPARE(plot->yAxis->range().lower, values.lower);
    QCOMPARE(plot->yAxis->range().upper, values.upper);
}

void TestPlots::unsteeredHeadsAreLabelled() {
    PlotData data = makeData();
    data.headSteered = false;
    data.steered = data.attention;
    data.seed = 4;
    PerTokenPlot perToken;
    perToken.setData(data);
    QCOMPARE(perToken.title(),
             QStringLiteral("Head 1 (unsteered), query 3, seed 4: attention over 64 key tokens"));
    QCOMPARE(perToken.customPlot()->graph(PerTokenPlot::SteeredGraph)->name(),
             QStringLiteral("A′ = A (head not steered)"));
    MatrixPlot matrix;
    matrix.setData(data);
    QCOMPARE(matrix.title(), QStringLiteral("Head 1 (unsteered): A′ = A"));
    data.headSteered = true;
    perToken.setData(data);
    QCOMPARE(perToken.title(),
             QStringLiteral("Head 1, query 3, seed 4: attention over 64 key tokens"));
    QCOMPARE(perToken.customPlot()->graph(PerTokenPlot::SteeredGraph)->name(),
             QStringLiteral("A′ (steered, λ = 0.800)"));
    // The tradeoff says what its numbers are of.
    data.sweepFirstSeed = 4;
    TradeoffPlot tradeoff;
    tradeoff.setData(data);
    QCOMPARE(tradeoff.title(),
             QStringLiteral("Tradeoff over λ = 0 … 2, mean ± sd over 3 seeds (4–6)"));
    QVERIFY(tradeoff.readout().endsWith(QStringLiteral("(mean of 3 seeds)")));
    data.sweepSeeds = 1;
    tradeoff.setData(data);
    QCOMPARE(tradeoff.title(), QStringLiteral("Tradeoff over λ = 0 … 2, seed 4"));
    QVERIFY(tradeoff.readout().endsWith(QStringLiteral("(seed 4)")));
}

void TestPlots::figuresHaveTheirSizeInEveryFormat() {
    const PlotData data = makeData();
    QTemporaryDir dir;
    FigureSpec spec;
    spec.inches = QSizeF(3.5, 2.5);
    spec.dpi = 300;
    // PNG: pixels = inches x dpi, and the file says its dpi.
    ExportResult result = exportAllPlots(data, dir.filePath("png"), spec);
    QVERIFY(!result.ok); // the folder must exist
    QVERIFY(QDir(dir.path()).mkdir("png") && QDir(dir.path()).mkdir("pdf") &&
            QDir(dir.path()).mkdir("svg"));
    result = exportAllPlots(data, dir.filePath("png"), spec);
    QVERIFY2(result.ok, qPrintable(result.error));
    QCOMPARE(result.files.size(), 4);
    for (const QString& path : result.files) {
        QVERIFY(path.endsWith(".png"));
        const QImage image(path);
        QCOMPARE(image.size(), QSize(1050, 750));
        QCOMPARE(image.dotsPerMeterX(), 11811); // 300 dpi
        QVERIFY2(distinctColours(image) > 40, qPrintable(path));
    }
    // PDF: the page is inches x 72 points.
    spec.format = FigureFormat::Pdf;
    result = exportAllPlots(data, dir.filePath("pdf"), spec);
    QVERIFY2(result.ok, qPrintable(result.error));
    for (const QString& path : result.files) {
        QVERIFY(path.endsWith(".pdf"));
        const QByteArray pdf = contents(path);
        QVERIFY(pdf.startsWith("%PDF"));
        QVERIFY2(pdf.contains("/MediaBox [0 0 252"), qPrintable(path));
        const qsizetype box = pdf.indexOf("/MediaBox [0 0 ");
        const QList<QByteArray> numbers =
            pdf.mid(box + 15, pdf.indexOf(']', box) - box - 15).trimmed().split(' ');
        QCOMPARE(numbers.size(), 2);
        QVERIFY(std::abs(numbers[0].toDouble() - 252) < 0.5);
        QVERIFY(std::abs(numbers[1].toDouble() - 180) < 0.5);
    }
    // SVG: width and height in physical units (mm), one view-box unit per point.
    spec.format = FigureFormat::Svg;
    result = exportAllPlots(data, dir.filePath("svg"), spec);
    QVERIFY2(result.ok, qPrintable(result.error));
    QCOMPARE(QFileInfo(result.files.first()).fileName(), QStringLiteral("per_token.svg"));
    for (const QString& path : result.files) {
        const QByteArray svg = contents(path);
        QVERIFY2(svg.contains("<svg width=\"88.9mm\" height=\"63.5mm\""), qPrintable(path));
        QVERIFY(svg.contains("viewBox=\"0 0 252 180\""));
    }
    // A figure too big for a PNG is refused with its reason.
    spec.format = FigureFormat::Png;
    spec.inches = QSizeF(40, 30);
    result = exportAllPlots(data, dir.filePath("png"), spec, true);
    QVERIFY(!result.ok);
    QVERIFY2(result.error.contains(QStringLiteral("more than the limit")),
             qPrintable(result.error));
    QCOMPARE(exportAllPlotsFileNames(FigureFormat::Svg).first(), QStringLiteral("per_token.svg"));
}

void TestPlots::figureFontsAndLinesAreInPoints() {
    // In an SVG of a one-column figure (3.5 in), one unit is one point: the text is 7 to 9 pt
    // (readable in print), the lines at least 0.4 pt, whatever the figure's size.
    const PlotData data = makeData();
    for (const QSizeF inches : {QSizeF(3.5, 2.6), QSizeF(7, 4)}) {
        FigureSpec spec;
        spec.format = FigureFormat::Svg;
        spec.inches = inches;
        PerTokenPlot perToken;
        perToken.setData(data);
        TradeoffPlot tradeoff;
        tradeoff.setData(data);
        MatrixPlot matrix;
        matrix.setData(data);
        for (PlotView* view : std::initializer_list<PlotView*>{&perToken, &tradeoff, &matrix}) {
            QByteArray svg;
            QVERIFY(view->figureBytes(spec, &svg));
            const QList<double> fonts = svgNumbers(svg, QStringLiteral("font-size"));
            QVERIFY(!fonts.isEmpty());
            for (double size : fonts)
                QVERIFY2(size >= 6.99 && size <= 9.01,
                         qPrintable(view->viewName() + QStringLiteral(": font ") +
                                    QString::number(size)));
            for (double width : svgNumbers(svg, QStringLiteral("stroke-width")))
                QVERIFY2(width >= 0.4 && width <= 3,
                         qPrintable(view->viewName() + QStringLiteral(": line ") +
                                    QString::number(width)));
        }
    }
    // The screen keeps its own style afterwards.
    PerTokenPlot view;
    view.setData(data);
    QByteArray bytes;
    FigureSpec spec;
    QVERIFY(view.figureBytes(spec, &bytes));
    QVERIFY(!view.style().figure);
    QCOMPARE(view.customPlot()->xAxis->tickLabelFont().pointSizeF(), 9.0);
}

void TestPlots::figuresLeaveOutTheInteractiveOverlays() {
    // A highlighted (hovered) token, the selected query row: drawn on screen, not in a figure
    // unless asked for. The figure with them left out is the figure of data without them.
    PlotData data = makeData();
    FigureSpec spec;
    spec.inches = QSizeF(4, 3);
    spec.dpi = 100;
    PlotData plain = data;
    plain.highlightedToken = -1;
    data.highlightedToken = 17;
    PerTokenPlot marked, unmarked;
    marked.setData(data);
    unmarked.setData(plain);
    QByteArray withMark, withoutMark, asked;
    QVERIFY(marked.figureBytes(spec, &withMark));
    QVERIFY(unmarked.figureBytes(spec, &withoutMark));
    QCOMPARE(withMark, withoutMark);
    spec.overlays = true;
    QVERIFY(marked.figureBytes(spec, &asked));
    QVERIFY(asked != withoutMark);
    QCOMPARE(marked.highlightedToken(), 17); // the screen keeps it
    // The tradeoff's live readout: a line on screen, none in the figure.
    TradeoffPlot tradeoff;
    tradeoff.setData(data);
    tradeoff.resize(500, 400);
    tradeoff.replotNow();
    QVERIFY(!tradeoff.readoutRect().isEmpty());
    QVERIFY(!tradeoff.readoutRect().intersects(tradeoff.customPlot()->axisRect()->rect()));
    spec.overlays = false;
    spec.format = FigureFormat::Svg;
    QByteArray svg;
    QVERIFY(tradeoff.figureBytes(spec, &svg));
    QVERIFY(!QString::fromUtf8(svg).contains(QStringLiteral("reduction = ")));
    spec.overlays = true;
    QVERIFY(tradeoff.figureBytes(spec, &svg));
    QVERIFY(QString::fromUtf8(svg).contains(QStringLiteral("reduction = ")));
    // The matrix's selected row.
    MatrixPlot matrix;
    matrix.setData(data);
    matrix.setCurrentQuery(4);
    QByteArray rowShown, rowHidden;
    spec.format = FigureFormat::Png;
    QVERIFY(matrix.figureBytes(spec, &rowShown));
    spec.overlays = false;
    QVERIFY(matrix.figureBytes(spec, &rowHidden));
    QVERIFY(rowShown != rowHidden);
    QCOMPARE(matrix.currentQuery(), 4);
}

void TestPlots::lambdaLabelsNeverCollide() {
    // The sweep: lambda 0 .. 800, where the labels read "λ=6e+02λ=7.9e+02".
    PlotData data = makeData();
    SweepConfig config;
    config.spec.heads = 2, config.spec.queries = 8, config.spec.keys = 32;
    config.lambdas = evenLambdaGrid(64, 800);
    config.seeds = {0};
    data.sweep = runSweep(config, *makeCpuBackend(1));
    data.sweepSeeds = 1;
    for (const QSize size : {QSize(260, 200), QSize(400, 300), QSize(900, 600)}) {
        TradeoffPlot view;
        view.setData(data);
        QVERIFY(showAt(view, size));
        const QVector<QRectF> rects = view.shownLabelRects();
        QVERIFY(!rects.isEmpty());
        for (qsizetype i = 0; i < rects.size(); ++i)
            for (qsizetype j = i + 1; j < rects.size(); ++j)
                QVERIFY2(!rects[i].intersects(rects[j]),
                         qPrintable(QStringLiteral("%1 x %2: labels %3 and %4 overlap")
                                        .arg(size.width())
                                        .arg(size.height())
                                        .arg(i)
                                        .arg(j)));
        const QRect area = view.customPlot()->axisRect()->rect();
        for (const QRectF& rect : rects)
            QVERIFY(QRectF(area).adjusted(-1, -1, 1, 1).contains(rect));
    }
    QCOMPARE(TradeoffPlot::lambdaText(600), QStringLiteral("600"));
    QCOMPARE(TradeoffPlot::lambdaText(793.65), QStringLiteral("794"));
    QCOMPARE(TradeoffPlot::lambdaText(0.2063), QStringLiteral("0.206"));
    QCOMPARE(TradeoffPlot::lambdaText(12000), QStringLiteral("12000"));
}

void TestPlots::titlesAndTicksFitSmallViews() {
    // At the sizes the views get in a 1024 x 700 window: titles wrapped (or shortened) to the
    // width, tick labels apart.
    const PlotData data = makeData();
    PerTokenPlot perToken;
    perToken.setData(data);
    TradeoffPlot tradeoff;
    tradeoff.setData(data);
    MatrixPlot matrix;
    matrix.setData(data);
    SaliencyGridPlot grid;
    grid.setData(data);
    for (const QSize size : {QSize(200, 180), QSize(260, 220), QSize(1200, 700)})
        for (PlotView* view :
             std::initializer_list<PlotView*>{&perToken, &tradeoff, &matrix, &grid}) {
            QVERIFY(showAt(*view, size));
            const QString problem = plotsupport::layoutProblem(*view);
            QVERIFY2(problem.isEmpty(), qPrintable(problem));
        }
    QCOMPARE(PlotView::fitText(QStringLiteral("Tradeoff over λ = 0 … 1, mean ± sd over 3 seeds"),
                               QFont(), 10000),
             QStringLiteral("Tradeoff over λ = 0 … 1, mean ± sd over 3 seeds"));
    const QString two = PlotView::fitText(
        QStringLiteral("Tradeoff over λ = 0 … 1, mean ± sd over 3 seeds"), QFont(),
        QFontMetrics(QFont()).horizontalAdvance(QStringLiteral("mean ± sd over 3 seeds")) + 4);
    QCOMPARE(two, QStringLiteral("Tradeoff over λ = 0 … 1,\nmean ± sd over 3 seeds"));
}

// ---------------------------------------------------------------------------------------------
// Which heads to steer: the tradeoff's y axis and second curve, the heads view

void TestPlots::tradeoffYAxisAndSecondCurve() {
    PlotData data = makeData();
    // Made-up gains, distinct per row, and a second curve of other values.
    for (std::size_t i = 0; i < data.sweep.size(); ++i) {
        SweepRow& row = data.sweep[i];
        row.targetMassGainMean = 0.01 * double(i), row.targetMassGainStd = 0.001;
        row.pointingGainMean = 0.05 * double(i), row.pointingGainStd = 0.01;
        row.pointingMean = 0.1 + 0.07 * double(i), row.pointingStd = 0.02;
    }
    std::vector<SweepRow> topK = data.sweep;
    for (SweepRow& row : topK) {
        row.klMean *= 0.5;
        row.expectationGainMean *= 0.8;
    }
    data.sweepCompare = topK;
    data.sweepLabel = QStringLiteral("all heads");
    data.sweepCompareLabel = QStringLiteral("steered: top-2 heads by grounding_score");
    TradeoffPlot view;
    const auto check = [&](TradeoffY y, double (*mean)(const SweepRow&), const QString& label) {
        data.tradeoffY = y;
        view.setData(data);
        QCOMPARE(view.customPlot()->yAxis->label(), label);
        const std::vector<QPointF> curve = view.curvePoints(0), second = view.curvePoints(1);
        QCOMPARE(curve.size(), data.sweep.size());
        QCOMPARE(second.size(), topK.size());
        for (std::size_t i = 0; i < curve.size(); ++i) {
            QCOMPARE(curve[i], QPointF(data.sweep[i].klMean, mean(data.sweep[i])));
            QCOMPARE(second[i], QPointF(topK[i].klMean, mean(topK[i])));
        }
        // The marker follows the y chosen.
        view.setLambda(0.5);
        QCOMPARE(view.markerPosition(), QPointF(data.sweep[2].klMean, mean(data.sweep[2])));
    };
    check(
        TradeoffY::EntropyReduction, [](const SweepRow& r) { return r.reductionMean; },
        QStringLiteral("entropy reduction [%]"));
    check(
        TradeoffY::ExpectationGain, [](const SweepRow& r) { return r.expectationGainMean; },
        QStringLiteral("saliency-expectation gain Σ A′s − Σ A s"));
    check(
        TradeoffY::TargetMassGain, [](const SweepRow& r) { return r.targetMassGainMean; },
        QStringLiteral("target-mass gain"));
    check(
        TradeoffY::PointingGain, [](const SweepRow& r) { return r.pointingGainMean; },
        QStringLiteral("pointing gain (fraction of rows)"));
    check(
        TradeoffY::Pointing, [](const SweepRow& r) { return r.pointingMean; },
        QStringLiteral("pointing accuracy of A′ (fraction of rows)"));
    // Each curve says what it is in the legend.
    QCustomPlot* plot = view.customPlot();
    QVERIFY(plot->graph(1)->visible());
    QCOMPARE(plot->graph(0)->name(), QStringLiteral("all heads"));
    QCOMPARE(plot->graph(1)->name(), QStringLiteral("steered: top-2 heads by grounding_score"));
    QVERIFY(plot->legend->hasItemWithPlottable(plot->graph(1)));
    // Without the second curve it leaves the plot and the legend.
    view.setComparison({}, QString());
    QVERIFY(!plot->graph(1)->visible());
    QVERIFY(!plot->legend->hasItemWithPlottable(plot->graph(1)));
    QVERIFY(view.curvePoints(1).empty());
}

namespace {

/// A profile of 2 layers x 3 heads with known values: grounding score 0.1 * (index + 1) except
/// layer 1, head 0 (0.9, the best) and layer 0, head 2 (not available); KL 0.01 * index.
std::shared_ptr<const Profile> constructedProfile() {
    auto profile = std::make_shared<Profile>();
    profile->lambda = 0.5;
    for (int layer = 0; layer < 2; ++layer)
        for (int head = 0; head < 3; ++head) {
            HeadProfile one;
            one.layer = layer, one.head = head;
            const int index = layer * 3 + head;
            one.groundingScore = 0.1 * (index + 1);
            one.metrics.kl = 0.01 * index;
            one.metrics.rowsSteeredFraction = head == 1 ? 0.0 : 1.0;
            one.grounding.visionMass = 0.5;
            profile->heads.push_back(one);
        }
    profile->heads[3].groundingScore = 0.9;
    profile->heads[2].groundingScore = kNotAvailable;
    profile->ranking = rankHeads(profile->heads, *findProfileColumn(kDefaultRankColumn));
    return profile;
}

} // namespace

void TestPlots::headsViewOfAConstructedProfile() {
    HeadsPlot view;
    QCOMPARE(view.title(), QStringLiteral("Heads (no profile yet)"));
    view.setProfile(constructedProfile(), 2, 3);
    QCOMPARE(view.layers(), 2);
    QCOMPARE(view.headsPerLayer(), 3);
    QCOMPARE(view.column(), QStringLiteral("grounding_score"));
    QCOMPARE(view.value(0, 1), 0.2);
    QCOMPARE(view.value(1, 0), 0.9);
    QVERIFY(std::isnan(view.value(0, 2)));
    QVERIFY(std::isnan(view.value(2, 0))); // outside
    // The colour map holds the column, layers down and heads across.
    QCPColorMap* map = nullptr;
    for (int i = 0; i < view.customPlot()->plottableCount(); ++i)
        if (auto* found = qobject_cast<QCPColorMap*>(view.customPlot()->plottable(i)))
            map = found;
    QVERIFY(map);
    QCOMPARE(map->data()->keySize(), 3);
    QCOMPARE(map->data()->valueSize(), 2);
    QCOMPARE(map->data()->cell(2, 1), 0.6);
    QCOMPARE(view.title(), QStringLiteral("grounding_score at λ = 0.500"));

    // The top k by the column, best first, NaN last: (1,0) 0.9, (1,2) 0.6, (1,1) 0.5.
    view.setTopK(3);
    QCOMPARE(view.topHeads(), (std::vector<LayerHead>{{1, 0}, {1, 2}, {1, 1}}));
    // Another column: KL (lower ranks first) gives (0,0), (0,1), (0,2).
    view.setColumn(QStringLiteral("kl"));
    QCOMPARE(view.value(1, 2), 0.05);
    QCOMPARE(view.topHeads(), (std::vector<LayerHead>{{0, 0}, {0, 1}, {0, 2}}));
    QCOMPARE(map->data()->cell(2, 1), 0.05);
    view.setColumn(QStringLiteral("no such column")); // back to the default
    QCOMPARE(view.column(), QStringLiteral("grounding_score"));

    // The hover text: the head, whether it is steered, the column and its rank, every column.
    const QString steered = view.hoverText(1, 0);
    QVERIFY2(steered.startsWith(QStringLiteral("layer 1, head 0: steered (100 % of rows)\n"
                                               "grounding_score = 0.9 (rank 1 of 6;")),
             qPrintable(steered));
    QVERIFY2(steered.contains(QStringLiteral("\nkl = 0.03\n")), qPrintable(steered));
    QVERIFY2(steered.contains(QStringLiteral("\nvision_mass = 0.5\n")), qPrintable(steered));
    QVERIFY2(view.hoverText(0, 1).startsWith(QStringLiteral("layer 0, head 1: unsteered")),
             qPrintable(view.hoverText(0, 1)));
    QVERIFY(view.hoverText(0, 2).contains(QStringLiteral("grounding_score = n/a (rank 6 of 6;")));
    QVERIFY(view.hoverText(5, 5).isEmpty());

    // Mouse over a cell, and a click on it.
    view.resize(600, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.replotNow();
    QSignalSpy hovered(&view, &HeadsPlot::headHovered);
    QSignalSpy picked(&view, &HeadsPlot::headPicked);
    QTest::mouseMove(view.customPlot(), view.cellCenter(1, 2));
    QTRY_VERIFY(!hovered.isEmpty());
    QCOMPARE(hovered.last().at(0).toInt(), 1);
    QCOMPARE(hovered.last().at(1).toInt(), 2);
    QCOMPARE(view.headAt(view.cellCenter(0, 1)), (std::optional<LayerHead>{{0, 1}}));
    QTest::mouseClick(view.customPlot(), Qt::LeftButton, {}, view.cellCenter(0, 1));
    QCOMPARE(picked.size(), 1);
    QCOMPARE(picked.at(0).at(0).toInt(), 0);
    QCOMPARE(picked.at(0).at(1).toInt(), 1);
    QTest::mouseClick(view.customPlot(), Qt::LeftButton, {}, QPoint(2, 2)); // outside
    QCOMPARE(picked.size(), 1);
    // One layer: its row is drawn (QCustomPlot draws nothing for a map of one row).
    auto oneLayer = std::make_shared<Profile>(*constructedProfile());
    oneLayer->heads.resize(3);
    view.setProfile(oneLayer, 1, 3);
    view.replotNow();
    QCOMPARE(map->data()->valueSize(), 2);
    QCOMPARE(map->data()->cell(1, 0), 0.2);
    QCOMPARE(map->data()->cell(1, 1), 0.2);
    const QImage drawn = view.customPlot()->toPixmap().toImage();
    for (int head : {0, 1, 2}) {
        const QPoint beside = view.cellCenter(0, head) + QPoint(0, 20); // off the top-k dot
        QVERIFY2(drawn.pixelColor(beside) != QColor(Qt::white),
                 qPrintable(QStringLiteral("head %1 is not drawn").arg(head)));
    }
    // A profile of another shape than said is refused: an empty view.
    view.setProfile(constructedProfile(), 3, 3);
    QCOMPARE(view.layers(), 0);
    QVERIFY(!view.profile());
}

void TestPlots::exportAllWritesTheHeadsView() {
    QTemporaryDir dir;
    PlotData data = makeData();
    data.profile = constructedProfile();
    data.profileLayers = 2, data.profileHeadsPerLayer = 3;
    data.headsTopK = 2;
    const ExportResult result = exportAllPlots(data, dir.path(), QSize(500, 400), false);
    QVERIFY2(result.ok, qPrintable(result.error));
    QCOMPARE(result.files.size(), 5);
    QCOMPARE(exportAllPlotsFileNames(FigureFormat::Png, true).last(), QStringLiteral("heads.png"));
    const QImage heads(QDir(dir.path()).filePath(QStringLiteral("heads.png")));
    QCOMPARE(heads.size(), QSize(500, 400));
    QVERIFY(distinctColours(heads) > 20);
}

namespace {

/// K flags, 1 on KEYS.
std::vector<unsigned char> flags(int count, std::initializer_list<int> keys) {
    std::vector<unsigned char> result(std::size_t(count), 0);
    for (int key : keys)
        result[std::size_t(key)] = 1;
    return result;
}

/// SEGMENTS as a set of (x1, y1, x2, y2), each with its smaller end first: the outline's order
/// is not part of its contract.
QSet<QString> segmentSet(const std::vector<QLineF>& segments) {
    QSet<QString> set;
    for (QLineF line : segments) {
        if (std::make_pair(line.x2(), line.y2()) < std::make_pair(line.x1(), line.y1()))
            line = QLineF(line.p2(), line.p1());
        set.insert(QStringLiteral("%1,%2-%3,%4")
                       .arg(line.x1())
                       .arg(line.y1())
                       .arg(line.x2())
                       .arg(line.y2()));
    }
    return set;
}

} // namespace

void TestPlots::targetOutlineOfShapes() {
    // A 2 x 3 rectangle (rows 1-2, columns 2-4) of a 4 x 6 grid from key 10: its four sides.
    std::vector<unsigned char> target(40, 0);
    for (int r = 1; r <= 2; ++r)
        for (int c = 2; c <= 4; ++c)
            target[std::size_t(10 + r * 6 + c)] = 1;
    const std::vector<QLineF> rectangle = targetOutline(target, 10, 4, 6);
    QCOMPARE(rectangle.size(), std::size_t(4));
    QCOMPARE(segmentSet(rectangle), (QSet<QString>{"2,1-5,1", "2,3-5,3", "2,1-2,3", "5,1-5,3"}));
    // An L (cells (0,0), (1,0), (1,1) of a 2 x 2 grid, at the corner): six sides, the border
    // included.
    QCOMPARE(segmentSet(targetOutline(flags(4, {0, 2, 3}), 0, 2, 2)),
             (QSet<QString>{"0,0-1,0", "1,1-2,1", "0,2-2,2", "0,0-0,2", "1,0-1,1", "2,1-2,2"}));
    // Two cells touching at a corner only: their sides, the lines through the corner joined.
    QCOMPARE(segmentSet(targetOutline(flags(4, {0, 3}), 0, 2, 2)),
             (QSet<QString>{"0,0-1,0", "0,1-2,1", "1,2-2,2", "0,0-0,1", "1,0-1,2", "2,1-2,2"}));
    // No target, a target off the grid (before the offset), a flag vector shorter than the grid.
    QVERIFY(targetOutline({}, 0, 3, 3).empty());
    QVERIFY(targetOutline(flags(20, {2}), 5, 3, 3).empty());
    QCOMPARE(segmentSet(targetOutline(flags(6, {5}), 5, 3, 3)),
             (QSet<QString>{"0,0-1,0", "0,1-1,1", "0,0-0,1", "1,0-1,1"}));
    QVERIFY(targetOutline(flags(9, {4}), 0, 0, 3).empty());
}

void TestPlots::targetRunsFollowTheOrder() {
    const std::vector<unsigned char> target = flags(10, {2, 3, 4, 7});
    std::vector<int> order(10);
    std::iota(order.begin(), order.end(), 0);
    QCOMPARE(targetRuns(target, order), (std::vector<QPair<int, int>>{{2, 4}, {7, 7}}));
    // Sorted: the targets first (x 0..3), then the others.
    const std::vector<int> sorted = {7, 2, 4, 3, 0, 1, 5, 6, 8, 9};
    QCOMPARE(targetRuns(target, sorted), (std::vector<QPair<int, int>>{{0, 3}}));
    QVERIFY(targetRuns({}, order).empty());
}

void TestPlots::perTokenMarksTheTargetTokens() {
    PlotData data = makeData();
    data.target = flags(kKeys, {20, 21, 22, 40});
    data.visionStart = 16, data.visionTokens = 32, data.gridHeight = 4, data.gridWidth = 8;
    PerTokenPlot view;
    view.setData(data);
    QCOMPARE(view.markedTargetTokens(), (std::vector<int>{20, 21, 22, 40}));
    // Two runs: a band over the whole height and a strip at the bottom each, and one label.
    QCustomPlot* plot = view.customPlot();
    int bands = 0;
    for (int i = 0; i < plot->itemCount(); ++i)
        if (auto* rect = qobject_cast<QCPItemRect*>(plot->item(i));
            rect && rect->brush().color().rgb() == plotcolors::target().rgb())
            ++bands;
    QCOMPARE(bands, 4);
    bool labelled = false;
    for (int i = 0; i < plot->itemCount(); ++i)
        if (auto* text = qobject_cast<QCPItemText*>(plot->item(i)))
            labelled |= text->visible() && text->text() == QStringLiteral("target (4 tokens)");
    QVERIFY(labelled);
    // The hover text says so.
    QVERIFY2(view.tokenText(21).contains(QStringLiteral(" · target\n")),
             qPrintable(view.tokenText(21)));
    QVERIFY(!view.tokenText(23).contains(QStringLiteral("target")));
    // Sorted by saliency the same tokens are marked, where they are now.
    view.setSortBySaliency(true);
    QCOMPARE(view.markedTargetTokens(), (std::vector<int>{20, 21, 22, 40}));
    // A target of another length than the row marks nothing.
    data.target = flags(kKeys + 1, {20});
    view.setData(data);
    QVERIFY(view.markedTargetTokens().empty());
    view.setTarget({});
    QVERIFY(view.markedTargetTokens().empty());
}

void TestPlots::saliencyGridOutlinesTheTarget() {
    PlotData data = makeData();
    data.gridHeight = 5, data.gridWidth = 6, data.gridOffset = 20;
    data.modelGrid = true;
    // Rows 2-3, columns 1-2 of the grid.
    std::vector<unsigned char> target(kKeys, 0);
    for (int r = 2; r <= 3; ++r)
        for (int c = 1; c <= 2; ++c)
            target[std::size_t(20 + r * 6 + c)] = 1;
    data.target = target;
    SaliencyGridPlot view;
    view.setData(data);
    QCOMPARE(segmentSet(view.targetOutlineSegments()),
             (QSet<QString>{"1,2-3,2", "1,4-3,4", "1,2-1,4", "3,2-3,4"}));
    // Drawn: a dark line under an amber one per side.
    QCustomPlot* plot = view.customPlot();
    int amber = 0;
    for (int i = 0; i < plot->itemCount(); ++i)
        if (auto* line = qobject_cast<QCPItemLine*>(plot->item(i));
            line && line->pen().color() == plotcolors::target())
            ++amber;
    QCOMPARE(amber, 4);
    // It stays in every mode and goes with the target.
    view.setMode(ImageMode::Difference);
    QCOMPARE(view.targetOutlineSegments().size(), std::size_t(4));
    view.setTarget({});
    QVERIFY(view.targetOutlineSegments().empty());
    amber = 0;
    for (int i = 0; i < plot->itemCount(); ++i)
        if (auto* line = qobject_cast<QCPItemLine*>(plot->item(i));
            line && line->pen().color() == plotcolors::target())
            ++amber;
    QCOMPARE(amber, 0);
}

// ---------------------------------------------------------------------------------------------
// One frame

void TestPlots::aNewLambdaRedrawsOnlyWhatMoved() {
    // The same row at a nearby lambda: A' and its legend entry on their own layer, drawn again
    // alone; no replot, the ranges stay.
    PlotData data = makeData(0.8);
    PerTokenPlot view;
    view.setData(data);
    QVERIFY(showAt(view, QSize(800, 400)));
    QCustomPlot* plot = view.customPlot();
    QSignalSpy replots(plot, &QCustomPlot::afterReplot);
    QSignalSpy layers(&view, &PlotView::layerRedrawn);
    const QCPRange range = plot->yAxis->range();
    PlotData next = makeData(0.81);
    QCOMPARE(next.attention, data.attention);
    view.setData(next);
    QCOMPARE(layers.size(), 1);
    QCoreApplication::processEvents();
    QCOMPARE(replots.size(), 0);
    QCOMPARE(plot->yAxis->range(), range);
    const auto points = plot->graph(PerTokenPlot::SteeredGraph)->data();
    for (int k = 0; k < kKeys; ++k)
        QCOMPARE(points->at(k)->value, next.steered[std::size_t(k)]);
    QCOMPARE(plot->graph(PerTokenPlot::SteeredGraph)->name(),
             QStringLiteral("A′ (steered, λ = 0.810)"));
    // A' far out of the range: the axis follows, with a replot.
    view.setData(makeData(8));
    QTRY_COMPARE(replots.size(), 1);
    QVERIFY(plot->yAxis->range().upper > range.upper);
    // Another row: a replot.
    next.query = 4;
    view.setData(next);
    QTRY_COMPARE(replots.size(), 2);

    // The tradeoff's marker and readout: their layer alone.
    TradeoffPlot tradeoff;
    tradeoff.setData(data);
    QVERIFY(showAt(tradeoff, QSize(500, 400)));
    QSignalSpy tradeoffReplots(tradeoff.customPlot(), &QCustomPlot::afterReplot);
    QSignalSpy tradeoffLayers(&tradeoff, &PlotView::layerRedrawn);
    tradeoff.setLambda(0.9);
    QCOMPARE(tradeoffLayers.size(), 1);
    QCoreApplication::processEvents();
    QCOMPARE(tradeoffReplots.size(), 0);
    QVERIFY(tradeoff.readout().startsWith(QStringLiteral("○ λ = 0.900")));
}

void TestPlots::rowPoolerMatchesPoolMatrix() {
    // The engine folds each row in as it is made; the view pools the whole matrix: the same cells.
    constexpr int kRows = 37, kCols = 101;
    std::vector<double> values(std::size_t(kRows) * kCols);
    for (std::size_t i = 0; i < values.size(); ++i)
        values[i] = std::sin(0.37 * double(i)) * std::cos(0.011 * double(i));
    for (const Pooling mode : {Pooling::Max, Pooling::LargestMagnitude}) {
        RowPooler pooler(kRows, kCols, 10, 30, mode);
        for (int r = 0; r < kRows; ++r)
            pooler.add(r, values.data() + std::size_t(r) * kCols);
        const PooledMatrix byRows = pooler.take();
        const PooledMatrix whole =
            poolMatrix(values, kRows, kCols, 0, kRows, 0, kCols, 10, 30, mode);
        QCOMPARE(byRows.rows, 10);
        QCOMPARE(byRows.cols, 30);
        QCOMPARE(byRows.values, whole.values);
        QCOMPARE(byRows.rowStart, whole.rowStart);
        QCOMPARE(byRows.colStart, whole.colStart);
    }
    QCOMPARE(pooledCount(1024, 1024, 300), 300);
    QCOMPARE(pooledCount(1024, 1024, 2000), 1024);
    QCOMPARE(pooledCount(1024, 1024, 0), 1024); // a vector figure keeps every cell
    QCOMPARE(pooledCount(21, 21, 300), 21);
}

// ---------------------------------------------------------------------------------------------
// The story at a glance

void TestPlots::ratioModeShowsARisingCurve() {
    // A'/A of every key with the keys in the order of s: e^(lambda s) / Z, a rising curve at any
    // lambda, crossing 1 where attention is unchanged.
    for (const double lambda : {0.25, 8.0}) {
        const PlotData data = makeData(lambda);
        PerTokenPlot view;
        view.setData(data);
        view.setMode(PerTokenMode::RatioBySaliency);
        QVERIFY(showAt(view, QSize(800, 400)));
        QCustomPlot* plot = view.customPlot();
        QVERIFY(plot->graph(PerTokenPlot::RatioGraph)->visible());
        QVERIFY(!plot->graph(PerTokenPlot::SteeredGraph)->visible());
        QVERIFY(!plot->graph(PerTokenPlot::AttentionGraph)->visible());
        const auto points = plot->graph(PerTokenPlot::RatioGraph)->data();
        QCOMPARE(points->size(), kKeys);
        // x is the rank of s from the lowest; y is A'/A of that key.
        std::vector<int> order(kKeys);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [&](int a, int b) { return data.saliency[a] < data.saliency[b]; });
        for (int x = 0; x < kKeys; ++x) {
            const auto k = std::size_t(order[std::size_t(x)]);
            QCOMPARE(points->at(x)->key, double(x));
            QVERIFY(std::abs(points->at(x)->value - data.steered[k] / data.attention[k]) <=
                    1e-12 * points->at(x)->value);
            if (x > 0) // rising, to rounding
                QVERIFY(points->at(x)->value >= points->at(x - 1)->value * (1 - 1e-9));
        }
        QVERIFY(points->at(0)->value < 1 && points->at(kKeys - 1)->value > 1);
        // The axis follows the spread: logarithmic when the ratios span more than 20.
        const bool logarithmic = points->at(kKeys - 1)->value / points->at(0)->value > 20;
        QCOMPARE(plot->yAxis->scaleType() == QCPAxis::stLogarithmic, logarithmic);
        QCOMPARE(logarithmic, lambda == 8.0);
        QVERIFY(plot->yAxis->range().contains(1.0));
        QVERIFY(view.title().contains(QStringLiteral("A′ / A")));
        QVERIFY(plot->legend->hasItemWithPlottable(plot->graph(PerTokenPlot::RatioGraph)));
        QVERIFY(!plot->legend->hasItemWithPlottable(plot->graph(PerTokenPlot::AttentionGraph)));
        // s below, in the same order: rising too.
        const auto s = plot->graph(PerTokenPlot::SaliencyGraph)->data();
        for (int x = 1; x < kKeys; ++x)
            QVERIFY(s->at(x)->value >= s->at(x - 1)->value);
        // Back to A and A' per key.
        view.setMode(PerTokenMode::Values);
        QVERIFY(plot->graph(PerTokenPlot::SteeredGraph)->visible());
        QVERIFY(!plot->graph(PerTokenPlot::RatioGraph)->visible());
        QCOMPARE(plot->yAxis->scaleType(), QCPAxis::stLinear);
    }
}

QTEST_MAIN(TestPlots)
#include "tst_plots.moc"
