// The window (app/gui), offscreen: controls drive the engine, the views show what the core
// computes, files, export and errors. Small workloads keep it quick; one test checks the default.
#include "engine.h"
#include "main_window.h"
#include "matrix_plot.h"
#include "per_token_plot.h"
#include "saliency_grid_plot.h"
#include "sci_spin_box.h"
#include "tradeoff_plot.h"

#include "attnsteer/backend.h"
#include "attnsteer/projection.h"

#include <qcustomplot.h>

#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QLineEdit>
#include <QPainter>
#include <QPlainTextEdit>
#include <QRandomGenerator>
#include <QSet>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <memory>

using namespace attnsteer;

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

int distinctColours(const QImage& image) {
    QSet<QRgb> colours;
    for (int y = 0; y < image.height(); y += 2)
        for (int x = 0; x < image.width(); x += 2)
            colours.insert(image.pixel(x, y));
    return int(colours.size());
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
    void hoveringGridTokenHighlightsPerTokenPlot();
    void clickingMatrixRowPicksQuery();
    void differenceToggleShowsChange();
    void exportWritesPicturesOfTheRequestedSize();
    void exportSweepCsv();
    void brokenImageShowsErrorAndWindowKeepsWorking();
    void badSteeredHeadsAreRefused();
    void cudaEntryIsDisabled();
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
    // The sweep follows the new maximum: 21 points over 0..0.5.
    QTRY_COMPARE_WITH_TIMEOUT(window->tradeoffPlot()->sweep().back().lambda, 0.5, kTimeoutMs);
    QCOMPARE(int(window->tradeoffPlot()->sweep().size()), 21);
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
    QCOMPARE(lines.size(), 22);
    QCOMPARE(lines[0], QByteArray("lambda,entropy_reduction_pct_mean,entropy_reduction_pct_std,"
                                  "kl_mean,kl_std"));
    QVERIFY(lines[21].startsWith("1,"));
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

void TestGui::cudaEntryIsDisabled() {
    MainWindow window;
    QComboBox* backend = window.controls().backend;
    QCOMPARE(backend->count(), 2);
    QCOMPARE(backend->currentIndex(), 0);
    auto* model = qobject_cast<QStandardItemModel*>(backend->model());
    QVERIFY(model);
    QVERIFY(!model->item(1)->isEnabled());
    QVERIFY(!model->item(1)->toolTip().isEmpty());
    // Every control explains itself.
    for (QWidget* control : {static_cast<QWidget*>(window.controls().lambdaSlider),
                             static_cast<QWidget*>(window.controls().lambda),
                             static_cast<QWidget*>(window.controls().eps),
                             static_cast<QWidget*>(window.controls().seed),
                             static_cast<QWidget*>(window.controls().steeredHeads),
                             static_cast<QWidget*>(window.controls().overlayOpacity),
                             static_cast<QWidget*>(window.controls().sweepSeeds)})
        QVERIFY2(!control->toolTip().isEmpty(), qPrintable(control->objectName()));
}

void TestGui::settingsAreRestored() {
    {
        auto window = smallWindow();
        QVERIFY(window);
        window->setLambda(0.6);
        window->controls().seed->setValue(3);
        window->controls().sortBySaliency->setChecked(true);
        window->close(); // saves
    }
    MainWindow window;
    QCOMPARE(window.lambda(), 0.6);
    QCOMPARE(window.controls().seed->value(), 3);
    QCOMPARE(window.controls().heads->value(), 2);
    QCOMPARE(window.controls().keys->value(), 64);
    QVERIFY(window.controls().sortBySaliency->isChecked());
    QVERIFY(window.perTokenPlot()->sortBySaliency());
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
