// The window (app/gui), offscreen: controls drive the engine, the views show what the core
// computes, files, export and errors. Small workloads keep it quick; one test checks the default.
#include "engine.h"
#include "image_support.h"
#include "main_window.h"
#include "matrix_plot.h"
#include "panels.h"
#include "per_token_plot.h"
#include "saliency_grid_plot.h"
#include "sci_spin_box.h"
#include "tradeoff_plot.h"

#include "attnsteer/backend.h"
#include "attnsteer/errors.h"
#include "attnsteer/gpu.h"
#include "attnsteer/projection.h"

#include <qcustomplot.h>

#include <QAction>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QDropEvent>
#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QLineEdit>
#include <QMenu>
#include <QMimeData>
#include <QPainter>
#include <QPlainTextEdit>
#include <QRandomGenerator>
#include <QSet>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardItemModel>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QToolButton>
#include <QUrl>
#include <QtTest>

#include <cmath>
#include <memory>

using namespace attnsteer;

using testsupport::distinctColours;

namespace {

constexpr int kTimeoutMs = 60000;

/// Whether everything the window shows belongs to the current data set and lambda.
bool settled(const MainWindow& window) {
    const Engine* engine = window.engine();
    const auto data = engine->dataSet();
    const EvaluationResult* evaluation = engine->lastEvaluation();
    const RowsResult* rows = engine->lastRows();
    return !engine->isBusy() && data && evaluation && rows && evaluation->epoch == data->epoch &&
           rows->epoch == data->epoch && evaluation->request.params.lambda == window.lambda() &&
           rows->request.params.lambda == window.lambda() && engine->lastSweep() &&
           engine->lastSweep()->epoch == data->epoch;
}

std::vector<double> graphValues(const MainWindow& window, int graph) {
    const auto data = window.perTokenPlot()->customPlot()->graph(graph)->data();
    std::vector<double> values;
    for (auto it = data->constBegin(); it != data->constEnd(); ++it)
        values.push_back(it->value);
    return values;
}

/// A smooth test picture: bright in the top-left corner.
QImage samplePicture(int width, int height) {
    QImage image(width, height, QImage::Format_RGB32);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
            const int v = 255 - (255 * (x + y)) / (width + height);
            image.setPixel(x, y, qRgb(v, v, v));
        }
    return image;
}

/// A "CUDA" backend that fails the way a device out of memory does (tests the CPU fallback).
class FailingCudaBackend : public Backend {
  public:
    std::string name() const override { return "cuda"; }
    using Backend::evaluate;
    std::vector<Metrics> evaluate(const Workload&, std::span<const double>, std::span<const double>,
                                  const SteeringParams&, const RunControl&) override {
        throw InputError("--backend", "cuda: out of device memory (test)");
    }
    TokenRow row(const Workload& workload, std::span<const double> saliency,
                 const SteeringParams& params, int head, int query) override {
        return cpu_->row(workload, saliency, params, head, query);
    }

  private:
    std::unique_ptr<Backend> cpu_ = makeCpuBackend(1);
};

} // namespace

class TestGui : public QObject {
    Q_OBJECT

  private slots:
    void initTestCase();
    void init();
    void cleanupTestCase();

    void defaultStartup();
    void lambdaSliderUpdatesReadoutAndGraph();
    void lambdaControlsStayInSync();
    void newSeedChangesWorkload();
    void loadingImageUpdatesPanel();
    void droppingImageLoadsIt();
    void projectionOptionsReprojectTheImage();
    void badProjectionShowsErrorAndKeepsLastState();
    void openSampleLoadsEmbeddedImages();
    void saliencyPanelFitsTheGrid();
    void hoveringGridTokenHighlightsPerTokenPlot();
    void clickingMatrixRowPicksQuery();
    void differenceToggleShowsChange();
    void exportWritesPicturesOfTheRequestedSize();
    void exportSweepCsv();
    void brokenImageShowsErrorAndWindowKeepsWorking();
    void badSteeredHeadsAreRefused();
    void backendBoxFollowsTheDevice();
    void cudaFailureFallsBackToCpu();
    void cancellingLongWorkloadKeepsWindowUsable();
    void settingsAreRestored();
    void copyPutsReadoutOnClipboard();

  private:
    /// A shown window on a small workload, first results in place.
    std::unique_ptr<MainWindow> smallWindow(int heads = 2, int queries = 32, int keys = 64);

    QTemporaryDir settingsDir_;
};

void TestGui::initTestCase() {
    // A separate settings scope: nothing of the user's settings is read or written.
    QVERIFY(settingsDir_.isValid());
    QCoreApplication::setOrganizationName(QStringLiteral("AttnSteerTest"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_gui"));
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settingsDir_.path());
}

void TestGui::init() {
    QSettings().clear();
}

void TestGui::cleanupTestCase() {
    QSettings().clear();
}

std::unique_ptr<MainWindow> TestGui::smallWindow(int heads, int queries, int keys) {
    auto window = std::make_unique<MainWindow>();
    window->setSuppressMessageBoxes(true);
    window->setWorkloadSize(heads, queries, keys);
    window->resize(1400, 900);
    window->show();
    if (!QTest::qWaitForWindowExposed(window.get()))
        return nullptr;
    [&] { QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs); }();
    if (QTest::currentTestFailed())
        return nullptr;
    return window;
}

void TestGui::defaultStartup() {
    MainWindow window;
    window.setSuppressMessageBoxes(true);
    QSignalSpy finished(window.engine(), &Engine::evaluationFinished);
    QSignalSpy failed(window.engine(), &Engine::failed);
    QSignalSpy errors(&window, &MainWindow::errorShown);
    const auto& c = window.controls();
    QCOMPARE(c.heads->value(), 32);
    QCOMPARE(c.queries->value(), 1024);
    QCOMPARE(c.keys->value(), 1024);
    QCOMPARE(c.seed->value(), 0);
    QCOMPARE(c.lambda->value(), 0.25);
    QCOMPARE(c.lambdaMax->value(), 1.0);
    QCOMPARE(c.eps->value(), 1e-9);
    QCOMPARE(c.normalization->currentText(), QStringLiteral("max"));
    QCOMPARE(c.steeredHeads->text(), QStringLiteral("all"));
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QTRY_VERIFY_WITH_TIMEOUT(finished.size() >= 1, 120000);
    QCOMPARE(failed.size(), 0);
    QCOMPARE(errors.size(), 0);
    const auto data = window.engine()->dataSet();
    QCOMPARE(data->workload->heads(), 32);
    QCOMPARE(data->workload->queries(), 1024);
    QCOMPARE(data->workload->keys(), 1024);
    QCOMPARE(data->scenario.spec.seed, std::uint64_t(0));
    const EvaluationResult& result = finished.last().at(0).value<EvaluationResult>();
    QCOMPARE(result.request.params.lambda, 0.25);
    // The write-up's numbers at lambda = 0.25: about 0.01 % and KL about 1e-3.
    QVERIFY2(result.metrics.total.entropyReductionPct > 0.005 &&
                 result.metrics.total.entropyReductionPct < 0.05,
             qPrintable(QString::number(result.metrics.total.entropyReductionPct)));
    QVERIFY(result.metrics.total.kl > 5e-4 && result.metrics.total.kl < 5e-3);
    QVERIFY(window.metricsText().contains(QStringLiteral("λ = 0.250")));

    // How long a lambda change takes to reach the screen at the default size, once warm.
    QTRY_VERIFY_WITH_TIMEOUT(settled(window), 120000);
    QElapsedTimer timer;
    timer.start();
    c.lambdaSlider->setValue(400);
    QTRY_VERIFY_WITH_TIMEOUT(settled(window), 30000);
    qInfo("default workload: lambda change to results on screen in %lld ms (rows %.1f ms, "
          "evaluation %.1f ms)",
          timer.elapsed(), window.engine()->lastRows()->elapsedMs,
          window.engine()->lastEvaluation()->metrics.elapsedMs);
    QCOMPARE(failed.size(), 0);
}

void TestGui::lambdaSliderUpdatesReadoutAndGraph() {
    auto window = smallWindow();
    QVERIFY(window);
    QSignalSpy failed(window->engine(), &Engine::failed);
    const auto& c = window->controls();
    const QString before = window->metricsText();
    const std::vector<double> steeredBefore = graphValues(*window, PerTokenPlot::SteeredGraph);

    c.lambdaSlider->setFocus();
    c.lambdaSlider->setValue(600);
    QTest::keyClick(c.lambdaSlider, Qt::Key_PageUp); // +50 steps: lambda 0.65
    QCOMPARE(c.lambdaSlider->value(), 650);
    QCOMPARE(window->lambda(), 0.65);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    QCOMPARE(failed.size(), 0);

    const auto data = window->engine()->dataSet();
    SteeringParams params;
    params.lambda = 0.65;
    params.eps = 1e-9;
    const int head = c.head->value(), query = c.query->value();
    const TokenRow expected =
        makeCpuBackend()->row(*data->workload, data->saliency.values, params, head, query);
    const std::vector<double> original = graphValues(*window, PerTokenPlot::AttentionGraph);
    const std::vector<double> steered = graphValues(*window, PerTokenPlot::SteeredGraph);
    QCOMPARE(steered.size(), expected.steered.size());
    for (std::size_t k = 0; k < steered.size(); ++k) {
        QVERIFY(std::abs(steered[k] - expected.steered[k]) <= 1e-12);
        QVERIFY(std::abs(original[k] - expected.original[k]) <= 1e-12);
    }
    QVERIFY(steered != steeredBefore);

    const Metrics metrics =
        makeCpuBackend()->evaluate(*data->workload, data->saliency.values, params);
    const Metrics& shown = window->engine()->lastEvaluation()->metrics;
    QVERIFY(std::abs(shown.total.kl - metrics.total.kl) <= 1e-12 * std::abs(metrics.total.kl));
    QVERIFY(std::abs(shown.total.entropyReductionPct - metrics.total.entropyReductionPct) <=
            1e-9 * std::abs(metrics.total.entropyReductionPct));
    const QString after = window->metricsText();
    QVERIFY(after != before);
    QVERIFY2(after.contains(QStringLiteral("λ = 0.650")), qPrintable(after));
    QVERIFY2(after.contains(QString::number(metrics.total.kl, 'g', 5)), qPrintable(after));
    QVERIFY2(after.contains(QString::number(metrics.total.entropyReductionPct, 'g', 5)),
             qPrintable(after));
    // The tradeoff marker sits on the curve at the new lambda.
    const QPointF marker = window->tradeoffPlot()->markerPosition();
    QCOMPARE(marker, TradeoffPlot::interpolate(window->tradeoffPlot()->sweep(), 0.65));
    // The matrix row of the chosen query is the same row.
    for (int k = 0; k < data->workload->keys(); ++k)
        QVERIFY(std::abs(window->matrixPlot()->value(query, k) - expected.steered[k]) <= 1e-12);
}

void TestGui::lambdaControlsStayInSync() {
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    c.lambda->setValue(0.3);
    QCOMPARE(c.lambdaSlider->value(), 300);
    c.lambdaMax->setValue(2.0);
    QCOMPARE(c.lambdaSlider->value(), 150);
    c.lambdaSlider->setValue(1000);
    QCOMPARE(c.lambda->value(), 2.0);
    c.lambdaMax->setValue(0.5); // clamps lambda
    QCOMPARE(c.lambda->value(), 0.5);
    QCOMPARE(c.lambdaSlider->value(), 1000);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    // The sweep follows the new maximum: 64 points over 0..0.5, evenly spaced.
    QTRY_COMPARE_WITH_TIMEOUT(window->tradeoffPlot()->sweep().back().lambda, 0.5, kTimeoutMs);
    const std::vector<SweepRow>& sweep = window->tradeoffPlot()->sweep();
    QCOMPARE(int(sweep.size()), 64);
    QCOMPARE(sweep.front().lambda, 0.0);
    for (std::size_t i = 1; i < sweep.size(); ++i)
        QVERIFY(std::abs(sweep[i].lambda - sweep[i - 1].lambda - 0.5 / 63) < 1e-12);
}

void TestGui::newSeedChangesWorkload() {
    auto window = smallWindow();
    QVERIFY(window);
    const std::vector<double> before = graphValues(*window, PerTokenPlot::AttentionGraph);
    const std::uint64_t epoch = window->engine()->dataSet()->epoch;
    window->controls().seed->setValue(5);
    QCOMPARE(window->controls().seedSlider->value(), 5);
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->epoch != epoch && settled(*window),
                             kTimeoutMs);
    const auto data = window->engine()->dataSet();
    QCOMPARE(data->scenario.spec.seed, std::uint64_t(5));
    QCOMPARE(QString::fromStdString(data->workload->label()), QStringLiteral("random, seed 5"));
    const std::vector<double> after = graphValues(*window, PerTokenPlot::AttentionGraph);
    QCOMPARE(after.size(), before.size());
    QVERIFY(after != before);
    // The shown A is the new workload's row.
    std::vector<double> expected(std::size_t(data->workload->keys()));
    data->workload->attentionRow(0, 0, expected);
    QCOMPARE(after, expected);
    QVERIFY(window->metricsText().contains(QStringLiteral("seed 5")));
    // The sweep runs seeds 5, 6, 7.
    QCOMPARE(window->engine()->lastSweep()->seeds, (std::vector<std::uint64_t>{5, 6, 7}));
}

void TestGui::loadingImageUpdatesPanel() {
    auto window = smallWindow(2, 16, 256);
    QVERIFY(window);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("saliency.png"));
    QVERIFY(samplePicture(300, 140).save(path));
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    QVERIFY(window->loadSaliencyImage(path));
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->raw.projection && settled(*window),
                             kTimeoutMs);
    QCOMPARE(errors.size(), 0);
    const ResizedSize resized = smartResize(140, 300, 28, 4 * 28 * 28, 256 * 28 * 28);
    const int gh = resized.height / 28, gw = resized.width / 28;
    QCOMPARE(window->imageCaption(), QStringLiteral("grid %1 x %2 = %3 tokens, resized %4 x %5")
                                         .arg(gh)
                                         .arg(gw)
                                         .arg(gh * gw)
                                         .arg(resized.height)
                                         .arg(resized.width));
    SaliencyGridPlot* grid = window->saliencyGridPlot();
    QVERIFY(grid->hasImage());
    QCOMPARE(grid->gridHeight(), gh);
    QCOMPARE(grid->gridWidth(), gw);
    // The picture is bright at the top left: the first token is the most salient one.
    const std::vector<double>& s = window->engine()->dataSet()->saliency.values;
    QCOMPARE(s[0], 1.0);
    QVERIFY(s[std::size_t(gh * gw - 1)] < 0.2);
    QVERIFY(window->controls().source->text().contains(QStringLiteral("saliency.png")));
    // The overlay opacity slider reaches the view.
    window->controls().overlayOpacity->setValue(20);
    QCOMPARE(grid->overlayOpacity(), 0.2);

    // Back to random saliency: the image goes.
    window->useRandomSaliency();
    QTRY_VERIFY_WITH_TIMEOUT(!window->engine()->dataSet()->raw.projection && settled(*window),
                             kTimeoutMs);
    QVERIFY(!grid->hasImage());
    QCOMPARE(window->imageCaption(),
             QStringLiteral("grid 16 x 16 = 256 tokens (saliency: random, seed 0)"));
}

void TestGui::droppingImageLoadsIt() {
    // Drag and drop of a file from a file manager: only image files are taken.
    auto window = smallWindow(2, 16, 256);
    QVERIFY(window);
    QTemporaryDir dir;
    const QString image = dir.filePath(QStringLiteral("dropped.png"));
    const QString text = dir.filePath(QStringLiteral("notes.txt"));
    QVERIFY(samplePicture(300, 140).save(image));
    QFile notes(text);
    QVERIFY(notes.open(QIODevice::WriteOnly) && notes.write("not an image") > 0);
    notes.close();

    auto drag = [&](const QString& path, bool drop) {
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(path)});
        const QPoint at = window->rect().center();
        if (!drop) {
            QDragEnterEvent enter(at, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
            QCoreApplication::sendEvent(window.get(), &enter);
            return enter.isAccepted();
        }
        QDropEvent dropEvent(QPointF(at), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(window.get(), &dropEvent);
        return dropEvent.isAccepted();
    };
    QVERIFY(!drag(text, false)); // a text file is refused at the door
    QVERIFY(!drag(text, true));
    QVERIFY(!window->engine()->dataSet()->raw.projection);
    QVERIFY(drag(image, false));
    QVERIFY(drag(image, true));
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->raw.projection && settled(*window),
                             kTimeoutMs);
    QVERIFY(window->saliencyGridPlot()->hasImage());
    QVERIFY(window->controls().source->text().contains(QStringLiteral("dropped.png")));
}

void TestGui::projectionOptionsReprojectTheImage() {
    auto window = smallWindow(2, 16, 256);
    QVERIFY(window);
    const auto& c = window->controls();
    // Without an image the options wait for one: nothing is recomputed.
    const std::uint64_t epoch = window->engine()->dataSet()->epoch;
    c.patchFactor->setValue(32);
    QVERIFY(!window->engine()->isBusy());
    c.patchFactor->setValue(28);
    QCOMPARE(window->engine()->dataSet()->epoch, epoch);

    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("saliency.png"));
    QVERIFY(samplePicture(300, 140).save(path));
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    QVERIFY(window->loadSaliencyImage(path));
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->raw.projection && settled(*window),
                             kTimeoutMs);
    // Defaults: Qwen2-VL's.
    QCOMPARE(c.patchFactor->value(), 28);
    QCOMPARE(c.minPixels->value(), 4 * 28 * 28);
    QCOMPARE(c.maxPixels->value(), 0);
    QCOMPARE(c.maxPixels->text(), QStringLiteral("auto"));
    QCOMPARE(c.visionOffset->value(), 0);
    QCOMPARE(c.textSaliency->value(), 0.0);

    auto caption = [](const ResizedSize& resized, int factor) {
        const int gh = resized.height / factor, gw = resized.width / factor;
        return QStringLiteral("grid %1 x %2 = %3 tokens, resized %4 x %5")
            .arg(gh)
            .arg(gw)
            .arg(gh * gw)
            .arg(resized.height)
            .arg(resized.width);
    };
    // A patch-14 factor: a finer grid, projected again at once.
    c.patchFactor->setValue(14);
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->scenario.projection.patchFactor == 14 &&
                                 settled(*window),
                             kTimeoutMs);
    const ResizedSize fine = smartResize(140, 300, 14, 4 * 28 * 28, 256 * 14 * 14);
    QCOMPARE(window->imageCaption(), caption(fine, 14));
    const int gh = fine.height / 14, gw = fine.width / 14;
    QCOMPARE(window->saliencyGridPlot()->gridHeight(), gh);
    QCOMPARE(window->saliencyGridPlot()->gridWidth(), gw);

    // The vision tokens from key 20 on, 0.5 on the other keys (two changes, the latest wins).
    c.visionOffset->setValue(20);
    c.textSaliency->setValue(0.5);
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->scenario.projection.textSaliency == 0.5 &&
                                 settled(*window),
                             kTimeoutMs);
    const auto data = window->engine()->dataSet();
    QCOMPARE(data->scenario.projection.visionOffset, 20);
    const std::vector<double>& raw = data->raw.values;
    QCOMPARE(int(raw.size()), 256);
    for (int k = 0; k < 256; ++k)
        if (k < 20 || k >= 20 + gh * gw)
            QCOMPARE(raw[std::size_t(k)], 0.5);
    QCOMPARE(raw[20], data->raw.projection->tokens[0]);
    QCOMPARE(window->saliencyGridPlot()->gridOffset(), 20);

    // At most 100 tokens' worth of pixels: a coarser picture.
    c.maxPixels->setValue(100 * 14 * 14);
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->scenario.projection.maxPixels ==
                                     100 * 14 * 14 &&
                                 settled(*window),
                             kTimeoutMs);
    const ResizedSize coarse = smartResize(140, 300, 14, 4 * 28 * 28, 100 * 14 * 14);
    QCOMPARE(window->imageCaption(), caption(coarse, 14));
    QVERIFY(window->engine()->dataSet()->raw.projection->tokenCount() <= 100);
    QCOMPARE(errors.size(), 0);
    // The folded section's header sums the options up.
    QVERIFY2(c.projectionSection->toggleButton()->text().contains(QStringLiteral("offset 20")),
             qPrintable(c.projectionSection->toggleButton()->text()));
}

void TestGui::badProjectionShowsErrorAndKeepsLastState() {
    auto window = smallWindow(2, 16, 256);
    QVERIFY(window);
    const auto& c = window->controls();
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("saliency.png"));
    QVERIFY(samplePicture(300, 140).save(path));
    QVERIFY(window->loadSaliencyImage(path));
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->raw.projection && settled(*window),
                             kTimeoutMs);
    const int tokens = window->engine()->dataSet()->raw.projection->tokenCount(); // 5 x 11
    const std::uint64_t epoch = window->engine()->dataSet()->epoch;
    const QString captionBefore = window->imageCaption();
    QSignalSpy errors(window.get(), &MainWindow::errorShown);

    // The vision tokens do not fit at this offset: an error, and everything stays as it was.
    c.visionOffset->setValue(256 - tokens + 1);
    QTRY_COMPARE_WITH_TIMEOUT(errors.size(), 1, kTimeoutMs);
    const QString message = errors.at(0).at(0).toString();
    QVERIFY2(message.startsWith(QStringLiteral("--vision-offset: ")) && !message.contains('\n'),
             qPrintable(message));
    QTRY_VERIFY_WITH_TIMEOUT(!window->engine()->isBusy(), kTimeoutMs);
    QCOMPARE(c.visionOffset->value(), 0); // the control is back at the valid value
    QCOMPARE(window->engine()->scenario().projection.visionOffset, 0);
    QCOMPARE(window->engine()->dataSet()->epoch, epoch);
    QCOMPARE(window->imageCaption(), captionBefore);
    QVERIFY(window->saliencyGridPlot()->hasImage());

    // More tokens than keys (a smallest area of 300 tokens): also refused, also kept.
    c.minPixels->setValue(300 * 28 * 28);
    QTRY_COMPARE_WITH_TIMEOUT(errors.size(), 2, kTimeoutMs);
    QTRY_VERIFY_WITH_TIMEOUT(!window->engine()->isBusy(), kTimeoutMs);
    QCOMPARE(c.minPixels->value(), 4 * 28 * 28);
    QCOMPARE(window->engine()->dataSet()->epoch, epoch);

    // The window keeps working, and the offset that fits is taken.
    c.visionOffset->setValue(256 - tokens);
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->epoch != epoch && settled(*window),
                             kTimeoutMs);
    QCOMPARE(window->saliencyGridPlot()->gridOffset(), 256 - tokens);
    window->setLambda(0.7);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    QCOMPARE(errors.size(), 2);
}

void TestGui::openSampleLoadsEmbeddedImages() {
    // Embedded in the program: found wherever it runs.
    QCOMPARE(MainWindow::samplesFolder(), QStringLiteral(":/samples"));
    QStringList names;
    for (const QString& path : MainWindow::sampleImages())
        names << QFileInfo(path).fileName();
    QCOMPARE(names,
             (QStringList{QStringLiteral("gaussian-blobs.png"), QStringLiteral("gradient.png"),
                          QStringLiteral("object-mask.png")}));

    auto window = smallWindow(2, 16, 256);
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    auto* menu = window->findChild<QMenu*>(QStringLiteral("sampleMenu"));
    QVERIFY(menu);
    QAction* sample = nullptr;
    for (QAction* action : menu->actions())
        if (action->objectName() == QStringLiteral("sample:object-mask.png"))
            sample = action;
    QVERIFY(sample);
    QCOMPARE(sample->text(), QStringLiteral("object-mask"));
    sample->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->raw.projection && settled(*window),
                             kTimeoutMs);
    QCOMPARE(errors.size(), 0);
    const auto data = window->engine()->dataSet();
    QCOMPARE(QString::fromStdString(data->scenario.saliencyImagePath),
             QStringLiteral(":/samples/object-mask.png"));
    QVERIFY(window->saliencyGridPlot()->hasImage());
    QVERIFY(window->controls().source->text().contains(QStringLiteral("object-mask.png")));
    // The same projection as the file in the source tree gives through the command line's path.
    const ImageSaliency expected = projectSaliencyImage(
        ATTNSTEER_RESOURCES_DIR "/samples/object-mask.png", ProjectionOptions{}, 256);
    QCOMPARE(data->raw.projection->tokens, expected.projection.tokens);
    QCOMPARE(window->imageCaption(), QStringLiteral("grid %1 x %2 = %3 tokens, resized %4 x %5")
                                         .arg(expected.projection.gridHeight)
                                         .arg(expected.projection.gridWidth)
                                         .arg(expected.projection.tokenCount())
                                         .arg(expected.projection.resizedHeight)
                                         .arg(expected.projection.resizedWidth));
}

void TestGui::saliencyPanelFitsTheGrid() {
    auto window = smallWindow(); // 64 keys: an 8 x 8 grid
    QVERIFY(window);
    auto* bottom = window->findChild<QSplitter*>(QStringLiteral("bottomSplitter"));
    QVERIFY(bottom);
    bottom->setSizes({500, 300, 500}); // a tall, narrow panel
    SaliencyGridPlot* grid = window->saliencyGridPlot();
    QTRY_COMPARE(grid->parentWidget()->width(), bottom->sizes().at(1));
    QCoreApplication::processEvents();
    // The cells fill the plot area: square cells as wide as it is, and as high.
    const QRect axis = grid->customPlot()->axisRect()->rect();
    const double cellWidth = axis.width() / 8.0, cellHeight = axis.height() / 8.0;
    QVERIFY2(std::abs(cellWidth - cellHeight) <= 2,
             qPrintable(QStringLiteral("%1 x %2").arg(cellWidth).arg(cellHeight)));
    // The caption follows the plot directly, and the group is centred in the panel.
    const QWidget* panel = grid->parentWidget();
    const QRect plot = grid->geometry(), caption = window->controls().imageCaption->geometry();
    QVERIFY(caption.top() - plot.bottom() >= 0 && caption.top() - plot.bottom() <= 6);
    QVERIFY(plot.height() < panel->height() - 60);
    const int above = plot.top();
    const int below =
        panel->height() - window->controls().overlayOpacity->parentWidget()->geometry().bottom();
    QVERIFY2(std::abs(above - below) <= 3,
             qPrintable(QStringLiteral("%1 vs %2").arg(above).arg(below)));
}

void TestGui::hoveringGridTokenHighlightsPerTokenPlot() {
    auto window = smallWindow();
    QVERIFY(window);
    SaliencyGridPlot* grid = window->saliencyGridPlot();
    QCOMPARE(grid->gridHeight(), 8);
    QCOMPARE(grid->gridWidth(), 8);
    grid->replotNow();
    for (int token : {27, 0, 63}) {
        const QPoint centre = grid->tokenCenter(token);
        QVERIFY(grid->customPlot()->rect().contains(centre));
        QTest::mouseMove(grid->customPlot(), centre);
        QTRY_COMPARE(window->perTokenPlot()->highlightedToken(), token);
        QCOMPARE(grid->highlightedToken(), token);
    }
}

void TestGui::clickingMatrixRowPicksQuery() {
    auto window = smallWindow();
    QVERIFY(window);
    MatrixPlot* matrix = window->matrixPlot();
    QCOMPARE(matrix->queries(), 32);
    QCOMPARE(matrix->keys(), 64);
    matrix->replotNow();
    QTest::mouseClick(matrix->customPlot(), Qt::LeftButton, {}, matrix->cellCenter(17, 40));
    QCOMPARE(window->controls().query->value(), 17);
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->lastRows()->request.query == 17 && settled(*window),
                             kTimeoutMs);
    QCOMPARE(matrix->currentQuery(), 17);
    const auto data = window->engine()->dataSet();
    std::vector<double> expected(64);
    data->workload->attentionRow(0, 17, expected);
    QCOMPARE(graphValues(*window, PerTokenPlot::AttentionGraph), expected);
}

void TestGui::differenceToggleShowsChange() {
    auto window = smallWindow();
    QVERIFY(window);
    window->setLambda(0.9);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    window->controls().showDifference->setChecked(true);
    MatrixPlot* matrix = window->matrixPlot();
    QVERIFY(matrix->isDifference());
    const RowsResult* rows = window->engine()->lastRows();
    for (int k = 0; k < 64; k += 7)
        QCOMPARE(matrix->value(3, k),
                 (*rows->matrixSteered)[3 * 64 + k] - (*rows->matrixOriginal)[3 * 64 + k]);
}

void TestGui::exportWritesPicturesOfTheRequestedSize() {
    auto window = smallWindow();
    QVERIFY(window);
    QTemporaryDir dir;
    const ExportResult result = window->exportAll(dir.path(), QSize(640, 480));
    QVERIFY2(result.ok, qPrintable(result.error));
    QCOMPARE(result.files.size(), 4);
    for (const QString& path : result.files) {
        QImage image;
        QVERIFY2(image.load(path), qPrintable(path));
        QCOMPARE(image.size(), QSize(640, 480));
        QVERIFY2(distinctColours(image) > 40, qPrintable(path));
    }
    // A view on its own, at twice the resolution.
    const QString single = dir.filePath(QStringLiteral("view.png"));
    QVERIFY(window->exportView(window->perTokenPlot(), single, QSize(500, 300), 2.0));
    QCOMPARE(QImage(single).size(), QSize(1000, 600));
    QVERIFY(
        window->exportView(window->matrixPlot(), dir.filePath("m.pdf"), QSize(500, 300), 1, true));

    // Not again without asking.
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    QVERIFY(!window->exportAll(dir.path(), QSize(320, 200)).ok);
    QCOMPARE(errors.size(), 1);
    QVERIFY(errors.at(0).at(0).toString().contains(QStringLiteral("exists")));
    QCOMPARE(QImage(result.files.first()).size(), QSize(640, 480));
    QVERIFY(!window->exportView(window->perTokenPlot(), single, QSize(50, 30)));
    QCOMPARE(QImage(single).size(), QSize(1000, 600));
    QVERIFY(window->exportAll(dir.path(), QSize(320, 200), true).ok);
    QCOMPARE(QImage(result.files.first()).size(), QSize(320, 200));
    // An unwritable place: an error, nothing written.
    QVERIFY(!window->exportAll(QStringLiteral("/proc/self"), QSize(320, 200), true).ok);
    QCOMPARE(errors.size(), 3);
}

void TestGui::exportSweepCsv() {
    auto window = smallWindow();
    QVERIFY(window);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("sweep.csv"));
    QVERIFY(window->exportSweepCsv(path));
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = file.readAll().trimmed().split('\n');
    QCOMPARE(lines.size(), 65); // the header and 64 lambdas
    QCOMPARE(lines[0], QByteArray("lambda,entropy_reduction_pct_mean,entropy_reduction_pct_std,"
                                  "kl_mean,kl_std"));
    QVERIFY(lines[1].startsWith("0,"));
    QVERIFY(lines[64].startsWith("1,"));
    QVERIFY(!window->exportSweepCsv(path)); // exists
}

void TestGui::brokenImageShowsErrorAndWindowKeepsWorking() {
    auto window = smallWindow();
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("broken.png"));
    {
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        QByteArray bytes(4096, '\0');
        for (char& byte : bytes)
            byte = char(QRandomGenerator::global()->bounded(256));
        file.write(bytes);
    }
    const std::uint64_t epoch = window->engine()->dataSet()->epoch;
    QVERIFY(!window->loadSaliencyImage(path));
    QCOMPARE(errors.size(), 1);
    const QString message = errors.at(0).at(0).toString();
    QVERIFY2(message.startsWith(path + ": ") && !message.contains('\n'), qPrintable(message));
    QVERIFY2(message.contains(QStringLiteral("cannot decode image")), qPrintable(message));
    QVERIFY(!window->saliencyGridPlot()->hasImage());
    QCOMPARE(window->engine()->dataSet()->epoch, epoch);

    // A missing file too.
    QVERIFY(!window->loadSaliencyImage(dir.filePath(QStringLiteral("missing.png"))));
    QCOMPARE(errors.size(), 2);

    // The window keeps working: a lambda change still updates.
    window->controls().lambdaSlider->setValue(800);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    QVERIFY(window->metricsText().contains(QStringLiteral("λ = 0.800")));
    QCOMPARE(errors.size(), 2);

    // A broken .npy is reported when it is read; the workload stays.
    const QString npy = dir.filePath(QStringLiteral("bad.npy"));
    QFile::copy(path, npy);
    window->openNpy(npy, MainWindow::NpyKind::Logits);
    QTRY_COMPARE_WITH_TIMEOUT(errors.size(), 3, kTimeoutMs);
    QVERIFY2(errors.at(2).at(0).toString().startsWith(npy),
             qPrintable(errors.at(2).at(0).toString()));
    QVERIFY(window->engine()->scenario().logitsPath.empty());
    window->controls().lambdaSlider->setValue(100);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    QCOMPARE(errors.size(), 3);
}

void TestGui::badSteeredHeadsAreRefused() {
    auto window = smallWindow();
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    QLineEdit* heads = window->controls().steeredHeads;
    heads->setText(QStringLiteral("0,7"));
    emit heads->editingFinished();
    QCOMPARE(errors.size(), 1);
    QVERIFY2(errors.at(0).at(0).toString().contains(QStringLiteral("out of range")),
             qPrintable(errors.at(0).at(0).toString()));
    QCOMPARE(heads->text(), QStringLiteral("all"));
    heads->setText(QStringLiteral("x"));
    emit heads->editingFinished();
    QCOMPARE(errors.size(), 2);
    heads->setText(QStringLiteral("1"));
    emit heads->editingFinished();
    QCOMPARE(errors.size(), 2);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    const Metrics& metrics = window->engine()->lastEvaluation()->metrics;
    QCOMPARE(metrics.heads[0].kl, 0.0); // head 0 is not steered
    QVERIFY(metrics.heads[1].kl > 0);
    QVERIFY(window->metricsText().contains(QStringLiteral("steered heads: 1")));
}

void TestGui::backendBoxFollowsTheDevice() {
    MainWindow window;
    QComboBox* backend = window.controls().backend;
    QCOMPARE(backend->count(), 2);
    QCOMPARE(backend->itemText(0), QStringLiteral("CPU (Eigen, OpenMP)"));
    QVERIFY(backend->itemText(1).startsWith(QStringLiteral("CUDA — ")));
    auto* model = qobject_cast<QStandardItemModel*>(backend->model());
    QVERIFY(model);
    // Default like --backend auto: CUDA when a device can be used, else the CPU, whose entry is
    // then disabled and says why.
    if (gpu::isAvailable()) {
        QVERIFY(model->item(1)->isEnabled());
        QCOMPARE(backend->currentIndex(), 1);
        QCOMPARE(window.engine()->backend(), BackendKind::Cuda);
        QVERIFY(backend->itemText(1).contains(QString::fromStdString(gpu::deviceName())));
    } else {
        QVERIFY(!model->item(1)->isEnabled());
        QCOMPARE(model->item(1)->toolTip(), QString::fromStdString(gpu::unavailableReason()));
        QCOMPARE(backend->currentIndex(), 0);
        QCOMPARE(window.engine()->backend(), BackendKind::Cpu);
    }
    // Every control explains itself.
    const auto& c = window.controls();
    for (QWidget* control :
         {static_cast<QWidget*>(c.lambdaSlider), static_cast<QWidget*>(c.lambda),
          static_cast<QWidget*>(c.eps), static_cast<QWidget*>(c.seed),
          static_cast<QWidget*>(c.steeredHeads), static_cast<QWidget*>(c.overlayOpacity),
          static_cast<QWidget*>(c.sweepSeeds), static_cast<QWidget*>(c.backend),
          static_cast<QWidget*>(c.visionOffset), static_cast<QWidget*>(c.patchFactor),
          static_cast<QWidget*>(c.minPixels), static_cast<QWidget*>(c.maxPixels),
          static_cast<QWidget*>(c.textSaliency)})
        QVERIFY2(!control->toolTip().isEmpty(), qPrintable(control->objectName()));
}

void TestGui::cudaFailureFallsBackToCpu() {
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    // A CUDA backend that cannot be made: the CPU stays, the user is told why.
    window->engine()->setCudaBackendFactory([]() -> std::unique_ptr<Backend> {
        throw InputError("--backend", "cuda: no device (test)");
    });
    QCOMPARE(window->setBackend(BackendKind::Cuda), BackendKind::Cpu);
    QCOMPARE(errors.size(), 1);
    QVERIFY2(errors.at(0).at(0).toString().contains(QStringLiteral("no device (test)")),
             qPrintable(errors.at(0).at(0).toString()));
    QCOMPARE(c.backend->currentIndex(), 0);

    // One that fails while computing (out of device memory): the CPU computes the same numbers,
    // the window goes back to the CPU and says so.
    window->engine()->setCudaBackendFactory([] { return std::make_unique<FailingCudaBackend>(); });
    QCOMPARE(window->setBackend(BackendKind::Cuda), BackendKind::Cuda);
    QCOMPARE(c.backend->currentIndex(), 1);
    QTRY_COMPARE_WITH_TIMEOUT(errors.size(), 2, kTimeoutMs);
    QVERIFY2(errors.at(1).at(0).toString().contains(QStringLiteral("out of device memory")),
             qPrintable(errors.at(1).at(0).toString()));
    QVERIFY2(window->statusBar()->currentMessage().contains(QStringLiteral("CPU")),
             qPrintable(window->statusBar()->currentMessage()));
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    QCOMPARE(window->engine()->backend(), BackendKind::Cpu);
    QCOMPARE(c.backend->currentIndex(), 0);
    QCOMPARE(QString::fromStdString(window->engine()->lastEvaluation()->metrics.backend),
             QStringLiteral("cpu"));
    QVERIFY(window->metricsText().contains(QStringLiteral(" on cpu")));
    QCOMPARE(errors.size(), 2); // the sweep's failure does not repeat the message
    // And on it goes on the CPU.
    window->setLambda(0.5);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    QCOMPARE(errors.size(), 2);
}

void TestGui::cancellingLongWorkloadKeepsWindowUsable() {
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    // Sizes up to 8192 x 8192 and 64 heads and more are offered.
    QVERIFY(c.heads->maximum() >= 64);
    QVERIFY(c.queries->maximum() >= 8192);
    QVERIFY(c.keys->maximum() >= 8192);
    window->setWorkloadSize(32, 4096, 4096);
    QTRY_VERIFY_WITH_TIMEOUT(c.cancel->isVisible() && c.progress->isVisible(), 10000);
    // Progress moves in the status bar.
    QTRY_VERIFY_WITH_TIMEOUT(c.progress->maximum() == 100 && c.progress->value() > 0, kTimeoutMs);
    QVERIFY(window->engine()->isBusy());
    QElapsedTimer timer;
    timer.start();
    QTest::mouseClick(c.cancel, Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(!window->engine()->isBusy(), 10000);
    qInfo("32 x 4096 x 4096: cancelled in %lld ms", timer.elapsed());
    QVERIFY(!c.cancel->isVisible());
    QVERIFY(!c.progress->isVisible());
    QVERIFY2(window->metricsText().startsWith(QStringLiteral("Cancelled")),
             qPrintable(window->metricsText()));
    QCOMPARE(errors.size(), 0);

    // A small size afterwards is computed as usual.
    window->setWorkloadSize(2, 32, 64);
    QTRY_VERIFY_WITH_TIMEOUT(
        settled(*window) && window->engine()->dataSet()->workload->keys() == 64, kTimeoutMs);
    QVERIFY2(window->metricsText().contains(QStringLiteral("2 × 32 × 64")),
             qPrintable(window->metricsText()));
    QCOMPARE(errors.size(), 0);
}

void TestGui::settingsAreRestored() {
    {
        auto window = smallWindow();
        QVERIFY(window);
        window->setLambda(0.6);
        window->controls().seed->setValue(3);
        window->controls().sortBySaliency->setChecked(true);
        ProjectionOptions projection;
        projection.visionOffset = 5;
        projection.patchFactor = 32;
        projection.minPixels = 1024;
        projection.maxPixels = 200000;
        projection.textSaliency = 0.25;
        window->setProjection(projection);
        window->controls().projectionSection->setExpanded(true);
        window->close(); // saves
    }
    MainWindow window;
    QCOMPARE(window.lambda(), 0.6);
    QCOMPARE(window.controls().seed->value(), 3);
    QCOMPARE(window.controls().heads->value(), 2);
    QCOMPARE(window.controls().keys->value(), 64);
    QVERIFY(window.controls().sortBySaliency->isChecked());
    QVERIFY(window.perTokenPlot()->sortBySaliency());
    const ProjectionOptions projection = window.projection();
    QCOMPARE(projection.visionOffset, 5);
    QCOMPARE(projection.patchFactor, 32);
    QCOMPARE(projection.minPixels, std::int64_t(1024));
    QCOMPARE(projection.maxPixels, std::int64_t(200000));
    QCOMPARE(projection.textSaliency, 0.25);
    QCOMPARE(window.engine()->scenario().projection.patchFactor, 32);
    QVERIFY(window.controls().projectionSection->isExpanded());
}

void TestGui::copyPutsReadoutOnClipboard() {
    auto window = smallWindow();
    QVERIFY(window);
    window->copyMetrics();
    QCOMPARE(QGuiApplication::clipboard()->text(), window->metricsText());
    QVERIFY(window->metricsText().contains(QStringLiteral("KL(A‖A′)")));
}

QTEST_MAIN(TestGui)
#include "tst_gui.moc"
