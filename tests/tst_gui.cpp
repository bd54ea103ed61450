// The window (app/gui), offscreen: controls drive the engine, the views show what the core
// computes, files, export and errors. Small workloads keep it quick; one test checks the default.
#include "engine.h"
#include "export_dialog.h"
#include "export_plots.h"
#include "file_loader.h"
#include "gui_support.h"
#include "heads_plot.h"
#include "image_support.h"
#include "main_window.h"
#include "matrix_plot.h"
#include "panels.h"
#include "per_token_plot.h"
#include "plot_support.h"
#include "saliency_grid_plot.h"
#include "sci_spin_box.h"
#include "target_marks.h"
#include "test_support.h"
#include "tradeoff_plot.h"
#include "workload_controls.h"

#include "attnsteer/backend.h"
#include "attnsteer/errors.h"
#include "attnsteer/gpu.h"
#include "attnsteer/metrics.h"
#include "attnsteer/npy.h"
#include "attnsteer/option_values.h"
#include "attnsteer/profile.h"
#include "attnsteer/projection.h"
#include "attnsteer/simulated_saliency.h"
#include "attnsteer/transformer_block.h"

#include <qcustomplot.h>

#include <QAbstractItemView>
#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QCompleter>
#include <QDateTime>
#include <QDialogButtonBox>
#include <QDir>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QDropEvent>
#include <QElapsedTimer>
#include <QFile>
#include <QFileDialog>
#include <QFormLayout>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPainter>
#include <QPlainTextEdit>
#include <QPointer>
#include <QProcess>
#include <QPushButton>
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
#include <QTextCursor>
#include <QTimer>
#include <QToolButton>
#include <QUrl>
#include <QtTest>

#include <cmath>
#include <functional>
#include <memory>

using namespace attnsteer;

using guisupport::kTimeoutMs;
using guisupport::settled;
using guisupport::smallWindow;
using testsupport::distinctColours;

namespace {

std::vector<double> graphValues(const MainWindow& window, int graph) {
    const auto data = window.perTokenPlot()->customPlot()->graph(graph)->data();
    std::vector<double> values;
    for (auto it = data->constBegin(); it != data->constEnd(); ++it)
        values.push_back(it->value);
    return values;
}

/// An attention dump written for a test: LAYERS x HEADS x QUERIES x KEYS float32 probabilities,
/// every row its own (a softmax of a smooth function of layer, head, query and key).
struct AttentionDump {
    QString path;
    int layers = 0, heads = 0, queries = 0, keys = 0;
    std::vector<float> values;
    /// The value written at (LAYER, HEAD, QUERY, KEY), as the workload reads it.
    double at(int layer, int head, int query, int key) const {
        return values[((std::size_t(layer) * heads + head) * queries + query) * keys + key];
    }
};

/// Writes DIR/NAME.npy of shape [LAYERS, HEADS, QUERIES, KEYS] (or [HEADS, QUERIES, KEYS] for
/// LAYERS 0).
AttentionDump writeAttentionDump(const QString& dir, const QString& name, int layers, int heads,
                                 int queries, int keys) {
    AttentionDump dump;
    dump.path = QDir(dir).filePath(name + QStringLiteral(".npy"));
    dump.layers = std::max(layers, 1), dump.heads = heads, dump.queries = queries, dump.keys = keys;
    dump.values.resize(std::size_t(dump.layers) * heads * queries * keys);
    std::vector<double> row(static_cast<std::size_t>(keys));
    for (int l = 0; l < dump.layers; ++l)
        for (int h = 0; h < heads; ++h)
            for (int q = 0; q < queries; ++q) {
                double sum = 0;
                for (int k = 0; k < keys; ++k)
                    sum += row[std::size_t(k)] =
                        std::exp((1.0 + l) *
                                 std::sin(0.9 * l + 1.7 * h + 0.37 * q + 0.61 * k + 0.05 * q * k));
                for (int k = 0; k < keys; ++k)
                    dump.values[((std::size_t(l) * heads + h) * queries + q) * keys + k] =
                        float(row[std::size_t(k)] / sum);
            }
    std::vector<std::size_t> shape = {std::size_t(heads), std::size_t(queries), std::size_t(keys)};
    if (layers > 0)
        shape.insert(shape.begin(), std::size_t(layers));
    writeNpy(dump.path.toStdString(), shape, dump.values);
    return dump;
}

/// The sixteen tokens of the test sidecar: a chat prompt with six image tokens (keys 4..9).
const QStringList kSidecarTokens = {"<|im_start|>",
                                    "user",
                                    "\n",
                                    "<|vision_start|>",
                                    "<|image_pad|>",
                                    "<|image_pad|>",
                                    "<|image_pad|>",
                                    "<|image_pad|>",
                                    "<|image_pad|>",
                                    "<|image_pad|>",
                                    "<|vision_end|>",
                                    "Where",
                                    " is",
                                    " the",
                                    " ball",
                                    "?"};

/// Writes the sidecar JSON of DUMP (beside it unless PATH is given): the tokens above (for 16
/// keys), vision_start 4, image_grid_thw [1, 4, 6] (a 2 x 3 merged grid), and IMAGE when given.
QString writeSidecar(const AttentionDump& dump, const QString& image = {}, QString path = {}) {
    if (path.isEmpty())
        path = dump.path.left(dump.path.size() - 4) + QStringLiteral(".json");
    QJsonObject meta;
    meta.insert(QStringLiteral("tokens"), QJsonArray::fromStringList(kSidecarTokens));
    meta.insert(QStringLiteral("vision_start"), 4);
    meta.insert(QStringLiteral("image_grid_thw"), QJsonArray{1, 4, 6});
    meta.insert(QStringLiteral("spatial_merge_size"), 2);
    if (!image.isEmpty())
        meta.insert(QStringLiteral("image"), image);
    QFile file(path);
    if (file.open(QIODevice::WriteOnly))
        file.write(QJsonDocument(meta).toJson());
    return path;
}

/// Opens DUMP as attention in WINDOW and waits until everything shows it.
bool openAttentionDump(MainWindow& window, const AttentionDump& dump) {
    window.openNpy(dump.path, MainWindow::NpyKind::Attention);
    [&] {
        QTRY_VERIFY_WITH_TIMEOUT(
            QString::fromStdString(window.engine()->dataSet()->scenario.attentionPath) ==
                    QFileInfo(dump.path).absoluteFilePath() &&
                settled(window),
            kTimeoutMs);
    }();
    return !QTest::currentTestFailed();
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
        throw DeviceError("out of device memory (test)");
    }
    TokenRow row(const Workload& workload, std::span<const double> saliency,
                 const SteeringParams& params, int head, int query) override {
        return cpu_->row(workload, saliency, params, head, query);
    }

  private:
    std::unique_ptr<Backend> cpu_ = makeCpuBackend(1);
};

/// The field that a form layout of DIALOG shows next to the label LABEL ("Width:").
template <typename T> T* formField(QWidget* dialog, const QString& label) {
    for (QFormLayout* form : dialog->findChildren<QFormLayout*>())
        for (int row = 0; row < form->rowCount(); ++row) {
            QLayoutItem* labelItem = form->itemAt(row, QFormLayout::LabelRole);
            QLayoutItem* fieldItem = form->itemAt(row, QFormLayout::FieldRole);
            auto* shown = labelItem ? qobject_cast<QLabel*>(labelItem->widget()) : nullptr;
            if (shown && fieldItem && shown->text() == label)
                return qobject_cast<T*>(fieldItem->widget());
        }
    return nullptr;
}

/// Types TEXT over what EDIT (a line edit or a spin box) holds, as a user does: Ctrl+A, then the
/// keys. The completion list that typing a path opens is closed, as clicking elsewhere would.
void typeOver(QWidget* edit, const QString& text) {
    edit->setFocus();
    QTest::keyClick(edit, Qt::Key_A, Qt::ControlModifier);
    QTest::keyClicks(edit, text);
    if (auto* line = qobject_cast<QLineEdit*>(edit); line && line->completer())
        line->completer()->popup()->hide();
}

/// The file name field of Qt's own file dialog.
QLineEdit* fileNameEdit(QFileDialog* dialog) {
    return dialog->findChild<QLineEdit*>(QStringLiteral("fileNameEdit"));
}

/// What a file dialog showed when it opened (its title is what the script found it by).
struct FileDialogSeen {
    QFileDialog::AcceptMode acceptMode = QFileDialog::AcceptOpen;
    QFileDialog::FileMode fileMode = QFileDialog::AnyFile;
    QStringList nameFilters;
    QString directory;
    QString fileName; ///< the name field's text
    bool showDirsOnly = false;

    void take(QFileDialog* dialog) {
        acceptMode = dialog->acceptMode();
        fileMode = dialog->fileMode();
        nameFilters = dialog->nameFilters();
        directory = dialog->directory().absolutePath();
        if (QLineEdit* edit = fileNameEdit(dialog))
            fileName = edit->text();
        showDirsOnly = dialog->testOption(QFileDialog::ShowDirsOnly);
    }
};

/// What a message box said (its title is what the script found it by).
struct MessageSeen {
    QString text;
    QMessageBox::Icon icon = QMessageBox::NoIcon;
    QMessageBox::StandardButtons buttons;
    QMessageBox::StandardButton defaultButton = QMessageBox::NoButton;

    void take(QMessageBox* box) {
        text = box->text();
        icon = box->icon();
        buttons = box->standardButtons();
        defaultButton = box->defaultButton() ? box->standardButton(box->defaultButton())
                                             : QMessageBox::NoButton;
    }
};

/// A file's bytes and time of last change, to show it was left alone.
struct FileState {
    QByteArray bytes;
    QDateTime modified;
    static FileState of(const QString& path) {
        QFile file(path);
        if (!file.open(QIODevice::ReadOnly))
            return {};
        return {file.readAll(), QFileInfo(path).lastModified()};
    }
    bool operator==(const FileState&) const = default;
};

/// A picture for the file dialogs: bright at the bottom right (samplePicture's mirror image).
QImage mirroredPicture(int width, int height) {
    return samplePicture(width, height).mirrored(true, true);
}

/// Drives the modal dialogs that an action opens while the action blocks in their exec(), the
/// way a user would: each step waits for the active modal widget of class T with window title
/// TITLE, then acts on it. Acts must not block: what opens the next dialog or closes this one goes
/// through later(). A step that does not come within its time limit fails the script; every modal
/// widget is then rejected, so the action returns instead of hanging. A modal widget that no step
/// expects (after the last step) fails it too. Assert on finished() and report() afterwards.
class DialogScript : public QObject {
  public:
    explicit DialogScript(int stepTimeoutMs = 10000) : stepTimeoutMs_(stepTimeoutMs) {
        timer_.setInterval(10);
        connect(&timer_, &QTimer::timeout, this, &DialogScript::poll);
    }

    template <typename T, typename Act> DialogScript& then(const QString& title, Act act) {
        steps_.push_back({QString::fromLatin1(T::staticMetaObject.className()), title,
                          [](QWidget* widget) { return qobject_cast<T*>(widget) != nullptr; },
                          [act](QWidget* widget) { act(static_cast<T*>(widget)); }});
        return *this;
    }

    /// Runs ACTION (which opens the dialogs) with the script watching; returns when it returned.
    void run(const std::function<void()>& action) {
        clock_.start();
        timer_.start();
        action();
        timer_.stop();
        if (failure_.isEmpty() && next_ < steps_.size())
            failure_ = QStringLiteral("step %1: no %2 \"%3\" was opened")
                           .arg(next_ + 1)
                           .arg(steps_[next_].className, steps_[next_].title);
    }

    /// Calls F from the event loop, after the current act returned (a click that opens a dialog).
    void later(QWidget* target, std::function<void()> f) {
        ++pending_;
        QTimer::singleShot(0, this, [this, target = QPointer<QWidget>(target), f = std::move(f)] {
            --pending_;
            if (target)
                f();
        });
    }

    bool finished() const { return failure_.isEmpty() && next_ == steps_.size(); }
    QString report() const {
        return failure_.isEmpty() ? QStringLiteral("ok")
                                  : failure_ + QStringLiteral(" (dialogs seen: ") +
                                        seen_.join(QStringLiteral(", ")) + QLatin1Char(')');
    }

  private:
    struct Step {
        QString className, title;
        std::function<bool(QWidget*)> matches;
        std::function<void(QWidget*)> act;
    };

    static QString describe(QWidget* widget) {
        if (!widget)
            return QStringLiteral("none");
        return QStringLiteral("%1 \"%2\"%3")
            .arg(QString::fromLatin1(widget->metaObject()->className()), widget->windowTitle(),
                 widget->isActiveWindow() ? QString() : QStringLiteral(" (not active)"));
    }

    void poll() {
        if (pending_ > 0)
            return;
        QWidget* modal = QApplication::activeModalWidget();
        if (modal && !modal->isVisible())
            modal = nullptr;
        if (!failure_.isEmpty()) { // rescue: close whatever is still open, innermost first
            if (modal) {
                if (auto* dialog = qobject_cast<QDialog*>(modal))
                    dialog->reject();
                else
                    modal->close();
            }
            return;
        }
        if (next_ == steps_.size()) {
            if (modal && modal != lastActed_)
                fail(QStringLiteral("an unexpected %1 was opened").arg(describe(modal)));
            else if (modal && clock_.elapsed() > stepTimeoutMs_)
                fail(QStringLiteral("%1 stayed open after the last step").arg(describe(modal)));
            return;
        }
        const Step& step = steps_[next_];
        // Keys go where a user's would only once the dialog is the active window (the file
        // dialog's name field, for one, selects what it completes only while it has the focus).
        if (modal && !modal->isActiveWindow())
            modal->activateWindow();
        else if (modal && step.matches(modal) && modal->windowTitle() == step.title) {
            seen_ << describe(modal);
            ++next_;
            lastActed_ = modal;
            clock_.restart();
            step.act(modal);
            return;
        }
        if (clock_.elapsed() > stepTimeoutMs_)
            fail(QStringLiteral("step %1: no %2 \"%3\" within %4 ms; the active modal widget is %5")
                     .arg(next_ + 1)
                     .arg(step.className, step.title)
                     .arg(stepTimeoutMs_)
                     .arg(describe(modal)));
    }

    void fail(const QString& message) {
        if (failure_.isEmpty())
            failure_ = message;
    }

    QTimer timer_;
    QElapsedTimer clock_;
    std::vector<Step> steps_;
    std::size_t next_ = 0;
    int pending_ = 0;
    int stepTimeoutMs_;
    QPointer<QWidget> lastActed_;
    QStringList seen_;
    QString failure_;
};

} // namespace

namespace {
bool showHeadsView(MainWindow& window); // below, with the tests of the heads view
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
    // The menus' shortcuts and dialogs, driven with the keyboard as a user does.
    void openShortcutLoadsTheImageChosenInTheDialog();
    void exportAllShortcutWritesIntoTheChosenFolder();
    void exportAllAsksOnlyAboutFilesThatExist();
    void exportViewMenuAsksBeforeReplacing();
    void exportSweepMenuWritesTheCsv();
    void openNpyMenuUsesTheChosenFile();
    void copyShortcutPutsReadoutOnClipboard();
    void f5RecomputesAndRereadsTheImage();
    void loadingTheSameImageAgainRereadsIt();
    void quitShortcutClosesTheWindowAndSavesSettings();
    void aboutBoxOpensFromTheHelpMenu();
    void menuKeysAreUnique();

    // --- dumps of several layers, their sidecar, the image view of attention ---
    void layerBoxSelectsALayerOfTheLoadedDump();
    void allLayersShowsTheMeanOverTheLayers();
    void singleLayerDumpLooksAsBefore();
    void tokenLabelsComeFromTheSidecar();
    void imageViewShowsTheAttentionOfTheRow();
    void imageViewShowsTheChangeOnASymmetricScale();
    void clickingATokenSelectsItsQuery();
    void keysThatAreNoQueryRowAreRefused();
    void dumpOpenedWithLayerAndSidecar();
    void ctrlLFocusesTheLayerBox();
    void sampleMenuOffersTheSyntheticDump();
    void brokenSidecarImageIsToldNotFatal();

    // --- which heads to steer: the readout's new lines, gating, binary, target, the heads view,
    // the tradeoff's y axis and top-k curve ---
    void readoutShowsSaliencyExpectationAndRowsSteered();
    void readoutShowsTheGroundingMetricsOfTheSample();
    void gateControlKeepsGatedRowsAsTheyAre();
    void binaryNormalizationHasItsThreshold();
    void targetMaskFromTheFileMenu();
    void layerHeadsInTheSteeredHeadsField();
    void headsViewShowsTheProfileOfTheSample();
    void headsViewClickSelectsLayerAndHead();
    void steerTopKFillsTheSteeredHeads();
    void tradeoffYAxisShowsTheChosenGain();
    void headsViewExportsAndStopsWhenHidden();
    // --- small screens and clear input ---
    void helpAndVersionNeedNoDisplay();
    void negativeLambdaSteersAway();
    void lambdaBeyondItsMaximumRaisesIt();
    void exportIntoAMissingFolderOffersToCreateIt();
    void layoutFitsSmallAndLargeScreens_data();
    void layoutFitsSmallAndLargeScreens();
    void seedSliderAppliesWhileDragged();
    void matrixColourScaleCanBeLogarithmic();
    void aLambdaChangeDrawsTheRowsFirst();
    void theWindowOpensOnTheStory();

    // --- the transformer workload (issue 13) ---
    void transformerWorkloadFromTheWorkloadBox();
    void transformerControlsReachTheScenario();
    void transformerSettingsAreRestored();
    void dumpReplacesTheTransformerUntilDropped();

  private:
    /// A shown window on a small workload, first results in place.
    /// smallWindow(), made the active window: its menu shortcuts act only then.
    std::unique_ptr<MainWindow> activeWindow(int heads = 2, int queries = 32, int keys = 64);

    QTemporaryDir settingsDir_;
};

void TestGui::initTestCase() {
    // A separate settings scope: nothing of the user's settings is read or written.
    QVERIFY(settingsDir_.isValid());
    QCoreApplication::setOrganizationName(QStringLiteral("AttnSteerTest"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_gui"));
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settingsDir_.path());
    // Qt's file dialog keeps its own settings (QtProject.conf) in the native format's place.
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, settingsDir_.path());
}

void TestGui::init() {
    QSettings().clear();
}

void TestGui::cleanupTestCase() {
    QSettings().clear();
}

std::unique_ptr<MainWindow> TestGui::activeWindow(int heads, int queries, int keys) {
    auto window = smallWindow(heads, queries, keys);
    if (!window)
        return nullptr;
    window->activateWindow();
    if (!QTest::qWaitForWindowActive(window.get()))
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
    QVERIFY2(message.startsWith(QStringLiteral("Vision offset: ")) && !message.contains('\n'),
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
    // The heads view, closed on this workload at first, opened: it has a profile to export.
    QVERIFY(!window->findChild<QDockWidget*>(QStringLiteral("headsDock"))->isVisible());
    QVERIFY(showHeadsView(*window));
    const ExportResult result = window->exportAll(dir.path(), QSize(640, 480));
    QVERIFY2(result.ok, qPrintable(result.error));
    // The four views and the heads view.
    QCOMPARE(result.files.size(), 5);
    QCOMPARE(QFileInfo(result.files.last()).fileName(), QStringLiteral("heads.png"));
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
                                  "kl_mean,kl_std,saliency_expectation_gain_mean,"
                                  "saliency_expectation_gain_std,target_mass_gain_mean,"
                                  "target_mass_gain_std,pointing_gain_mean,pointing_gain_std,"
                                  "target_mass_mean,target_mass_std,pointing_mean,pointing_std"));
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
    const QString acceptedTip = heads->toolTip();
    // A typo: no dialog; the text stays for the user to fix, the field is marked and says why,
    // the status bar too; the heads last accepted stay in effect.
    heads->setFocus();
    heads->selectAll();
    QTest::keyClicks(heads, QStringLiteral("0,7"));
    QTest::keyClick(heads, Qt::Key_Return);
    QCOMPARE(errors.size(), 0);
    QCOMPARE(heads->text(), QStringLiteral("0,7"));
    QVERIFY(heads->property("invalid").toBool());
    QVERIFY2(heads->toolTip().contains(QStringLiteral("out of range")),
             qPrintable(heads->toolTip()));
    QVERIFY2(window->statusBar()->currentMessage().contains(QStringLiteral("out of range")),
             qPrintable(window->statusBar()->currentMessage()));
    QVERIFY(window->statusBar()->currentMessage().contains(QStringLiteral("still steering: all")));
    QCOMPARE(window->engine()->scenario().params.steeredHeads, std::vector<int>{});
    heads->selectAll();
    QTest::keyClicks(heads, QStringLiteral("x"));
    QTest::keyClick(heads, Qt::Key_Return);
    QCOMPARE(errors.size(), 0);
    QCOMPARE(heads->text(), QStringLiteral("x"));
    QVERIFY(heads->property("invalid").toBool());
    heads->selectAll();
    QTest::keyClicks(heads, QStringLiteral("1"));
    QTest::keyClick(heads, Qt::Key_Return);
    QCOMPARE(errors.size(), 0);
    QVERIFY(!heads->property("invalid").toBool());
    QCOMPARE(heads->toolTip(), acceptedTip);
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
        throw settingError("backend", "cuda: no device (test)");
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
        QComboBox* mode = window->controls().imageMode;
        mode->setCurrentIndex(mode->findData(int(ImageMode::Difference)));
        window->controls().imageQueryMean->setChecked(true);
        // The steering and heads controls of issue 12.
        const auto& c = window->controls();
        c.normalization->setCurrentIndex(c.normalization->findData(int(Normalization::Binary)));
        c.binaryThreshold->setValue(0.35);
        c.gateEntropy->setValue(0.9);
        c.tradeoffY->setCurrentIndex(c.tradeoffY->findData(int(TradeoffY::ExpectationGain)));
        c.headsColumn->setCurrentIndex(c.headsColumn->findData(QStringLiteral("steerability")));
        c.topK->setValue(7);
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
    // The image view's mode.
    QCOMPARE(window.controls().imageMode->currentData().toInt(), int(ImageMode::Difference));
    QCOMPARE(window.saliencyGridPlot()->mode(), ImageMode::Difference);
    QVERIFY(window.controls().imageQueryMean->isEnabled());
    QVERIFY(window.saliencyGridPlot()->queryMean());
    const auto& c = window.controls();
    QCOMPARE(c.normalization->currentText(), QStringLiteral("binary"));
    QVERIFY(c.binaryThreshold->isEnabled());
    QCOMPARE(c.binaryThreshold->value(), 0.35);
    QCOMPARE(c.gateEntropy->value(), 0.9);
    QCOMPARE(window.engine()->scenario().params.gateEntropy, 0.9);
    QCOMPARE(window.engine()->scenario().binaryThreshold, 0.35);
    QCOMPARE(c.tradeoffY->currentData().toInt(), int(TradeoffY::ExpectationGain));
    QCOMPARE(c.headsColumn->currentText(), QStringLiteral("steerability"));
    QCOMPARE(window.headsPlot()->column(), QStringLiteral("steerability"));
    QCOMPARE(c.topK->value(), 7);
}

void TestGui::copyPutsReadoutOnClipboard() {
    auto window = smallWindow();
    QVERIFY(window);
    window->copyMetrics();
    QCOMPARE(QGuiApplication::clipboard()->text(), window->metricsText());
    QVERIFY(window->metricsText().contains(QStringLiteral("KL(A‖A′)")));
}

namespace {

const QString kLoadImageTitle = QStringLiteral("Load saliency image");
const QString kExportAllTitle = QStringLiteral("Export all plots");
const QString kExportFolderTitle = QStringLiteral("Export all plots into");

/// Makes WINDOW the active window again: the offscreen platform, unlike a window manager, does
/// not give the activation back when a dialog closes, and shortcuts act only in the active window.
bool reactivate(QWidget* window) {
    window->activateWindow();
    return QTest::qWaitForWindowActive(window);
}

/// Presses the keys of SEQUENCE in WINDOW as the keyboard does: through the window system to
/// the focused widget, which may take the keys for itself, else to the shortcuts. (Keys sent to
/// a widget, QTest::keyClick(widget, ...), would offer them to that widget, not the focused one.)
void press(QWidget* window, const QKeySequence& sequence) {
    QVERIFY2(reactivate(window), "the window could not be activated");
    QTest::keySequence(window->windowHandle(), sequence);
}

/// Opens a menu with the keyboard: Alt+MNEMONIC on the menu bar of WINDOW, then the mnemonics
/// of KEYS in the menus that open (a submenu, then its item). Returns what is missing, or "".
QString pressMenu(QWidget* window, Qt::Key mnemonic, const QList<Qt::Key>& keys) {
    if (!reactivate(window))
        return QStringLiteral("the window could not be activated");
    QTest::keyClick(window->windowHandle(), mnemonic, Qt::AltModifier);
    for (Qt::Key key : keys) {
        QWidget* popup = QApplication::activePopupWidget();
        if (!popup)
            return QStringLiteral("no menu is open before key %1")
                .arg(QKeySequence(key).toString());
        QTest::keyClick(popup, key);
    }
    if (QApplication::activePopupWidget()) { // the keys chose no item: close what they opened
        while (QWidget* popup = QApplication::activePopupWidget())
            popup->close();
        return QStringLiteral("a menu is still open after the keys");
    }
    return {};
}

void pressEnterLater(DialogScript& script, QWidget* widget) {
    script.later(widget, [widget] { QTest::keyClick(widget, Qt::Key_Return); });
}

void pressEscapeLater(DialogScript& script, QWidget* widget) {
    script.later(widget, [widget] { QTest::keyClick(widget, Qt::Key_Escape); });
}

void clickLater(DialogScript& script, QAbstractButton* button) {
    script.later(button, [button] { QTest::mouseClick(button, Qt::LeftButton); });
}

QString canonical(const QString& path) {
    return QFileInfo(path).canonicalFilePath();
}

/// Puts WINDOW's per-token view on A and A' over the keys (the window starts on A'/A by s).
void showValuesPerKey(MainWindow& window) {
    QComboBox* mode = window.controls().perTokenMode;
    mode->setCurrentIndex(mode->findData(int(PerTokenMode::Values)));
}

/// What the figure dialog before an export showed.
struct ExportDialogSeen {
    QStringList formats;
    bool formatEnabled = false;
    double width = 0, height = 0; ///< inches
    int dpi = 0;
    bool dpiEnabled = false;
    QString summary; ///< "1200 × 800 pixels", ...

    /// Takes what DIALOG shows; false when a field is missing.
    bool take(QDialog* dialog) {
        auto* format = formField<QComboBox>(dialog, QStringLiteral("Format:"));
        auto* widthBox = formField<QDoubleSpinBox>(dialog, QStringLiteral("Width:"));
        auto* heightBox = formField<QDoubleSpinBox>(dialog, QStringLiteral("Height:"));
        auto* dpiBox = formField<QSpinBox>(dialog, QStringLiteral("Resolution:"));
        auto* summaryLabel = dialog->findChild<QLabel*>(QStringLiteral("sizeSummary"));
        if (!format || !widthBox || !heightBox || !dpiBox || !summaryLabel)
            return false;
        for (int i = 0; i < format->count(); ++i)
            formats << format->itemText(i);
        formatEnabled = format->isEnabled();
        width = widthBox->value();
        height = heightBox->value();
        dpi = dpiBox->value();
        dpiEnabled = dpiBox->isEnabled();
        summary = summaryLabel->text();
        return true;
    }
};

/// In the figure dialog: types WIDTH and HEIGHT in inches (and DPI when > 0), then Enter.
void fillExportDialog(DialogScript& script, QDialog* dialog, double width, double height,
                      int dpi = 0) {
    auto* widthBox = formField<QDoubleSpinBox>(dialog, QStringLiteral("Width:"));
    auto* heightBox = formField<QDoubleSpinBox>(dialog, QStringLiteral("Height:"));
    auto* dpiBox = formField<QSpinBox>(dialog, QStringLiteral("Resolution:"));
    if (!widthBox || !heightBox || (dpi > 0 && !dpiBox)) {
        dialog->reject(); // the test then fails on what it expected to be written
        return;
    }
    typeOver(widthBox, QString::number(width));
    typeOver(heightBox, QString::number(height));
    if (dpi > 0)
        typeOver(dpiBox, QString::number(dpi));
    pressEnterLater(script, heightBox);
}

const QStringList kFigureFormats = {QStringLiteral("PNG (raster)"), QStringLiteral("PDF (vector)"),
                                    QStringLiteral("SVG (vector)")};

/// In a file dialog: types TEXT into the name field, then Enter.
void chooseInFileDialog(DialogScript& script, QFileDialog* dialog, const QString& text) {
    QLineEdit* edit = fileNameEdit(dialog);
    if (!edit) {
        dialog->reject();
        return;
    }
    typeOver(edit, text);
    // While the text is typed the dialog selects the entries it matches on the way ("/tmp/t"
    // selects a file "t" in /tmp when that folder is already listed, as it is when the tests run
    // from below it); with two selected, Choose is disabled. What was typed is what counts.
    for (QAbstractItemView* view : dialog->findChildren<QAbstractItemView*>())
        if (view->selectionModel())
            view->selectionModel()->clearSelection();
    pressEnterLater(script, edit);
}

/// The readout TEXT without its line of compute times, which differ from run to run.
QString withoutTimes(const QString& text) {
    QStringList lines = text.split(QLatin1Char('\n'));
    lines.removeIf(
        [](const QString& line) { return line.startsWith(QStringLiteral("compute: ")); });
    return lines.join(QLatin1Char('\n'));
}

/// The names of the files in DIR, sorted.
QStringList filesIn(const QString& dir) {
    return QDir(dir).entryList(QDir::Files | QDir::Hidden, QDir::Name);
}

} // namespace

void TestGui::openShortcutLoadsTheImageChosenInTheDialog() {
    auto window = activeWindow(2, 16, 256);
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("chosen.png"));
    const QImage picture = mirroredPicture(300, 140); // bright at the bottom right
    QVERIFY(picture.save(path));
    const std::uint64_t epoch = window->engine()->dataSet()->epoch;
    const QString captionBefore = window->imageCaption();

    // Ctrl+O, then Escape: nothing changes.
    FileDialogSeen seen;
    DialogScript cancel;
    cancel.then<QFileDialog>(kLoadImageTitle, [&](QFileDialog* dialog) {
        seen.take(dialog);
        pressEscapeLater(cancel, fileNameEdit(dialog));
    });
    cancel.run([&] { press(window.get(), QKeySequence::Open); });
    QVERIFY2(cancel.finished(), qPrintable(cancel.report()));
    QCOMPARE(seen.acceptMode, QFileDialog::AcceptOpen);
    QCOMPARE(seen.fileMode, QFileDialog::ExistingFile);
    QCOMPARE(seen.nameFilters,
             (QStringList{QStringLiteral("Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff)"),
                          QStringLiteral("All files (*)")}));
    QCOMPARE(seen.directory, QDir::homePath()); // no folder remembered yet
    QVERIFY(!window->engine()->isBusy());
    QCOMPARE(window->engine()->dataSet()->epoch, epoch);
    QCOMPARE(window->imageCaption(), captionBefore);
    QVERIFY(!window->saliencyGridPlot()->hasImage());

    // Ctrl+O, the picture's path typed, Enter: the panel shows the picture.
    DialogScript load;
    load.then<QFileDialog>(kLoadImageTitle,
                           [&](QFileDialog* dialog) { chooseInFileDialog(load, dialog, path); });
    load.run([&] { press(window.get(), QKeySequence::Open); });
    QVERIFY2(load.finished(), qPrintable(load.report()));
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->raw.projection && settled(*window),
                             kTimeoutMs);
    QCOMPARE(errors.size(), 0);
    QVERIFY(window->saliencyGridPlot()->hasImage());
    QCOMPARE(window->plotData().image.convertToFormat(QImage::Format_RGB32), picture);
    const ResizedSize resized = smartResize(140, 300, 28, 4 * 28 * 28, 256 * 28 * 28);
    const int gh = resized.height / 28, gw = resized.width / 28;
    QCOMPARE(window->imageCaption(), QStringLiteral("grid %1 x %2 = %3 tokens, resized %4 x %5")
                                         .arg(gh)
                                         .arg(gw)
                                         .arg(gh * gw)
                                         .arg(resized.height)
                                         .arg(resized.width));
    const std::vector<double>& s = window->engine()->dataSet()->saliency.values;
    QCOMPARE(s[std::size_t(gh * gw - 1)], 1.0); // the bright corner is the last token
    QVERIFY(s[0] < 0.2);
    QVERIFY2(
        window->controls().source->text().endsWith(QStringLiteral("Saliency: image chosen.png")),
        qPrintable(window->controls().source->text()));
    const std::uint64_t loaded = window->engine()->dataSet()->epoch;

    // Once more: the dialog opens in the picture's folder. A name that does not exist is refused
    // by the dialog itself; Escape then leaves the picture in place.
    MessageSeen notFound;
    DialogScript missing;
    missing
        .then<QFileDialog>(kLoadImageTitle,
                           [&](QFileDialog* dialog) {
                               seen.take(dialog);
                               chooseInFileDialog(missing, dialog, QStringLiteral("missing.png"));
                           })
        .then<QMessageBox>(kLoadImageTitle,
                           [&](QMessageBox* box) {
                               notFound.take(box);
                               pressEnterLater(missing, box);
                           })
        .then<QFileDialog>(kLoadImageTitle, [&](QFileDialog* dialog) {
            pressEscapeLater(missing, fileNameEdit(dialog));
        });
    missing.run([&] { press(window.get(), QKeySequence::Open); });
    QVERIFY2(missing.finished(), qPrintable(missing.report()));
    QCOMPARE(canonical(seen.directory), canonical(dir.path()));
    QCOMPARE(notFound.icon, QMessageBox::Warning);
    QCOMPARE(notFound.text, QStringLiteral("missing.png\nFile not found.\nPlease verify the "
                                           "correct file name was given."));
    QVERIFY(!window->engine()->isBusy());
    QCOMPARE(window->engine()->dataSet()->epoch, loaded);
    QVERIFY(window->saliencyGridPlot()->hasImage());
    QCOMPARE(errors.size(), 0);
}

void TestGui::exportAllShortcutWritesIntoTheChosenFolder() {
    auto window = activeWindow();
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    QTemporaryDir dir;
    const QKeySequence exportAll(Qt::CTRL | Qt::SHIFT | Qt::Key_E);
    // The heads view is closed on this workload: it has no profile to export.
    const QStringList names = exportAllPlotsFileNames(FigureFormat::Png);
    QStringList sortedNames = names;
    sortedNames.sort();

    // Ctrl+Shift+E: the figure dialog (PNG, PDF or SVG; 6 x 4 in at 200 dpi at first): 6.4 x
    // 4.8 in at 100 dpi typed, Enter; then the folder dialog: the folder typed, Enter. The four
    // pictures are written there, 640 x 480 pixels.
    ExportDialogSeen size;
    FileDialogSeen folder;
    bool sizeFields = false;
    DialogScript first;
    first
        .then<ExportDialog>(kExportAllTitle,
                            [&](ExportDialog* dialog) {
                                sizeFields = size.take(dialog);
                                fillExportDialog(first, dialog, 6.4, 4.8, 100);
                            })
        .then<QFileDialog>(kExportFolderTitle, [&](QFileDialog* dialog) {
            folder.take(dialog);
            chooseInFileDialog(first, dialog, dir.path());
        });
    first.run([&] { press(window.get(), exportAll); });
    QVERIFY2(first.finished(), qPrintable(first.report()));
    QVERIFY(sizeFields);
    QCOMPARE(size.formats, kFigureFormats);
    QVERIFY(size.formatEnabled);
    QCOMPARE(size.width, 6.0);
    QCOMPARE(size.height, 4.0);
    QCOMPARE(size.dpi, 200);
    QVERIFY(size.dpiEnabled);
    QCOMPARE(size.summary, QStringLiteral("1200 × 800 pixels"));
    QCOMPARE(folder.fileMode, QFileDialog::Directory);
    QVERIFY(folder.showDirsOnly);
    QCOMPARE(folder.directory, QDir::homePath());
    QCOMPARE(filesIn(dir.path()), sortedNames); // no temporary files left
    for (const QString& name : names) {
        const QImage image(dir.filePath(name));
        QCOMPARE(image.size(), QSize(640, 480));
        QVERIFY2(distinctColours(image) > 40, qPrintable(name));
    }
    QCOMPARE(QSettings().value(QStringLiteral("export/inches")).toSizeF(), QSizeF(6.4, 4.8));
    QCOMPARE(QSettings().value(QStringLiteral("export/dpi")).toDouble(), 100.0);
    QCOMPARE(errors.size(), 0);

    // Again: the size and the folder are remembered. The pictures are there, so it asks first;
    // Enter takes the default answer, Cancel: nothing is overwritten.
    std::vector<FileState> before;
    for (const QString& name : names)
        before.push_back(FileState::of(dir.filePath(name)));
    MessageSeen replace;
    DialogScript second;
    second
        .then<ExportDialog>(kExportAllTitle,
                            [&](ExportDialog* dialog) {
                                size = {};
                                size.take(dialog);
                                fillExportDialog(second, dialog, 3.2, 2);
                            })
        .then<QFileDialog>(kExportFolderTitle,
                           [&](QFileDialog* dialog) {
                               folder.take(dialog);
                               pressEnterLater(second, fileNameEdit(dialog)); // the folder shown
                           })
        .then<QMessageBox>(QStringLiteral("Replace files?"), [&](QMessageBox* box) {
            replace.take(box);
            pressEnterLater(second, box);
        });
    second.run([&] { press(window.get(), exportAll); });
    QVERIFY2(second.finished(), qPrintable(second.report()));
    QCOMPARE(size.width, 6.4);
    QCOMPARE(size.height, 4.8);
    QCOMPARE(size.dpi, 100);
    QCOMPARE(canonical(folder.directory), canonical(dir.path()));
    QCOMPARE(replace.icon, QMessageBox::Question);
    QCOMPARE(replace.text, QStringLiteral("%1 already holds per_token.png, tradeoff.png, "
                                          "saliency.png, matrix.png.\nReplace them?")
                               .arg(QDir::toNativeSeparators(folder.directory)));
    QCOMPARE(replace.buttons, QMessageBox::Yes | QMessageBox::Cancel);
    QCOMPARE(replace.defaultButton, QMessageBox::Cancel);
    for (std::size_t i = 0; i < before.size(); ++i)
        QVERIFY2(FileState::of(dir.filePath(names[int(i)])) == before[i],
                 qPrintable(names[int(i)]));

    // And once more, answering Yes: the pictures are replaced, at the new size.
    DialogScript third;
    third
        .then<ExportDialog>(kExportAllTitle,
                            [&](ExportDialog* dialog) { fillExportDialog(third, dialog, 3.2, 2); })
        .then<QFileDialog>(
            kExportFolderTitle,
            [&](QFileDialog* dialog) { pressEnterLater(third, fileNameEdit(dialog)); })
        .then<QMessageBox>(QStringLiteral("Replace files?"), [&](QMessageBox* box) {
            clickLater(third, box->button(QMessageBox::Yes));
        });
    third.run([&] { press(window.get(), exportAll); });
    QVERIFY2(third.finished(), qPrintable(third.report()));
    QCOMPARE(filesIn(dir.path()), sortedNames);
    for (const QString& name : names)
        QCOMPARE(QImage(dir.filePath(name)).size(), QSize(320, 200));
    QCOMPARE(errors.size(), 0);
}

void TestGui::exportAllAsksOnlyAboutFilesThatExist() {
    auto window = activeWindow();
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    QTemporaryDir dir;
    const QKeySequence exportAll(Qt::CTRL | Qt::SHIFT | Qt::Key_E);
    const QString existing = dir.filePath(QStringLiteral("tradeoff.png"));
    {
        QFile file(existing);
        QVERIFY(file.open(QIODevice::WriteOnly) && file.write("an older picture") > 0);
    }
    const FileState before = FileState::of(existing);

    // Escape in the size dialog: no folder is asked for.
    DialogScript cancelSize;
    cancelSize.then<ExportDialog>(kExportAllTitle, [&](ExportDialog* dialog) {
        pressEscapeLater(cancelSize, formField<QDoubleSpinBox>(dialog, QStringLiteral("Width:")));
    });
    cancelSize.run([&] { press(window.get(), exportAll); });
    QVERIFY2(cancelSize.finished(), qPrintable(cancelSize.report()));
    // The size is remembered only when the dialog was accepted.
    QVERIFY(!QSettings().contains(QStringLiteral("export/inches")));

    // Escape in the folder dialog: nothing is written.
    DialogScript cancelFolder;
    cancelFolder
        .then<ExportDialog>(
            kExportAllTitle,
            [&](ExportDialog* dialog) { fillExportDialog(cancelFolder, dialog, 4, 3); })
        .then<QFileDialog>(kExportFolderTitle, [&](QFileDialog* dialog) {
            typeOver(fileNameEdit(dialog), dir.path());
            pressEscapeLater(cancelFolder, fileNameEdit(dialog));
        });
    cancelFolder.run([&] { press(window.get(), exportAll); });
    QVERIFY2(cancelFolder.finished(), qPrintable(cancelFolder.report()));
    QCOMPARE(filesIn(dir.path()), QStringList{QStringLiteral("tradeoff.png")});

    // The folder holds one of the four: the question names that one; the Cancel button leaves
    // it as it was, and the other three are not written either.
    MessageSeen replace;
    DialogScript ask;
    ask.then<ExportDialog>(kExportAllTitle,
                           [&](ExportDialog* dialog) { fillExportDialog(ask, dialog, 4, 3); })
        .then<QFileDialog>(
            kExportFolderTitle,
            [&](QFileDialog* dialog) { chooseInFileDialog(ask, dialog, dir.path()); })
        .then<QMessageBox>(QStringLiteral("Replace files?"), [&](QMessageBox* box) {
            replace.take(box);
            clickLater(ask, box->button(QMessageBox::Cancel));
        });
    ask.run([&] { press(window.get(), exportAll); });
    QVERIFY2(ask.finished(), qPrintable(ask.report()));
    QVERIFY2(replace.text.endsWith(QStringLiteral(" already holds tradeoff.png.\nReplace it?")),
             qPrintable(replace.text));
    QCOMPARE(filesIn(dir.path()), QStringList{QStringLiteral("tradeoff.png")});
    QVERIFY(FileState::of(existing) == before);
    QCOMPARE(errors.size(), 0);
}

void TestGui::exportViewMenuAsksBeforeReplacing() {
    auto window = activeWindow();
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    QTemporaryDir dir;
    const QString title = QStringLiteral("Export view");
    const QString png = dir.filePath(QStringLiteral("per_token.png"));
    // File > Export view as PNG/PDF/SVG > Per-token view..., with the keys: Alt+F, E, P.
    QString menuProblem;
    auto perTokenMenu = [&] {
        menuProblem = pressMenu(window.get(), Qt::Key_F, {Qt::Key_E, Qt::Key_P});
    };

    // The figure dialog offers PNG, PDF and SVG and starts at 6 x 4 in, 200 dpi; 5 x 3 in at
    // 200 dpi typed. The save dialog suggests per_token.png; the full path typed, Enter.
    ExportDialogSeen size;
    bool sizeFields = false;
    FileDialogSeen save;
    DialogScript first;
    first
        .then<ExportDialog>(title,
                            [&](ExportDialog* dialog) {
                                sizeFields = size.take(dialog);
                                fillExportDialog(first, dialog, 5, 3, 200);
                            })
        .then<QFileDialog>(title, [&](QFileDialog* dialog) {
            save.take(dialog);
            chooseInFileDialog(first, dialog, png);
        });
    first.run(perTokenMenu);
    QVERIFY2(menuProblem.isEmpty(), qPrintable(menuProblem));
    QVERIFY2(first.finished(), qPrintable(first.report()));
    QVERIFY(sizeFields);
    QCOMPARE(size.formats, kFigureFormats);
    QVERIFY(size.formatEnabled);
    QCOMPARE(size.width, 6.0);
    QCOMPARE(size.height, 4.0);
    QCOMPARE(size.dpi, 200);
    QCOMPARE(save.acceptMode, QFileDialog::AcceptSave);
    QCOMPARE(save.nameFilters, QStringList{QStringLiteral("PNG images (*.png)")});
    QCOMPARE(save.fileName, QStringLiteral("per_token.png"));
    QCOMPARE(save.directory, QDir::homePath());
    QCOMPARE(filesIn(dir.path()), QStringList{QStringLiteral("per_token.png")});
    const QImage written(png);
    QCOMPARE(written.size(), QSize(1000, 600));
    QVERIFY(distinctColours(written) > 40);

    // Again: the save dialog opens in that folder with per_token.png; Enter. The file exists, so
    // the dialog asks; Enter takes its default, No: back in the dialog, Escape. Untouched.
    const FileState before = FileState::of(png);
    MessageSeen replace;
    DialogScript second;
    second
        .then<ExportDialog>(title,
                            [&](ExportDialog* dialog) { fillExportDialog(second, dialog, 2, 1); })
        .then<QFileDialog>(title,
                           [&](QFileDialog* dialog) {
                               save.take(dialog);
                               pressEnterLater(second, fileNameEdit(dialog));
                           })
        .then<QMessageBox>(title,
                           [&](QMessageBox* box) {
                               replace.take(box);
                               pressEnterLater(second, box);
                           })
        .then<QFileDialog>(
            title, [&](QFileDialog* dialog) { pressEscapeLater(second, fileNameEdit(dialog)); });
    second.run(perTokenMenu);
    QVERIFY2(menuProblem.isEmpty(), qPrintable(menuProblem));
    QVERIFY2(second.finished(), qPrintable(second.report()));
    QCOMPARE(canonical(save.directory), canonical(dir.path()));
    QCOMPARE(save.fileName, QStringLiteral("per_token.png"));
    QCOMPARE(replace.icon, QMessageBox::Warning);
    QCOMPARE(replace.text,
             QStringLiteral("per_token.png already exists.\nDo you want to replace it?"));
    QCOMPARE(replace.buttons, QMessageBox::Yes | QMessageBox::No);
    QCOMPARE(replace.defaultButton, QMessageBox::No);
    QVERIFY(FileState::of(png) == before);

    // The matrix view as PDF (Alt+F, E, M; the format chosen with the arrow key): the save
    // dialog then offers matrix.pdf, and a PDF is written.
    DialogScript pdf;
    pdf.then<ExportDialog>(title,
                           [&](ExportDialog* dialog) {
                               auto* format =
                                   formField<QComboBox>(dialog, QStringLiteral("Format:"));
                               if (!format) {
                                   dialog->reject();
                                   return;
                               }
                               format->setFocus();
                               QTest::keyClick(format, Qt::Key_Down);
                               fillExportDialog(pdf, dialog, 4, 3);
                           })
        .then<QFileDialog>(title, [&](QFileDialog* dialog) {
            save.take(dialog);
            pressEnterLater(pdf, fileNameEdit(dialog));
        });
    pdf.run([&] { menuProblem = pressMenu(window.get(), Qt::Key_F, {Qt::Key_E, Qt::Key_M}); });
    QVERIFY2(menuProblem.isEmpty(), qPrintable(menuProblem));
    QVERIFY2(pdf.finished(), qPrintable(pdf.report()));
    QCOMPARE(save.nameFilters, QStringList{QStringLiteral("PDF (*.pdf)")});
    QCOMPARE(save.fileName, QStringLiteral("matrix.pdf"));
    QCOMPARE(filesIn(dir.path()),
             (QStringList{QStringLiteral("matrix.pdf"), QStringLiteral("per_token.png")}));
    QFile written2(dir.filePath(QStringLiteral("matrix.pdf")));
    QVERIFY(written2.open(QIODevice::ReadOnly));
    const QByteArray bytes = written2.readAll();
    QVERIFY(bytes.startsWith("%PDF-"));
    QVERIFY(bytes.size() > 1000);
    QCOMPARE(errors.size(), 0);
}

void TestGui::exportSweepMenuWritesTheCsv() {
    auto window = activeWindow();
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    QTemporaryDir dir;
    QSettings().setValue(QStringLiteral("folders/export"), dir.path()); // an earlier export's
    const QString title = QStringLiteral("Export sweep as CSV");
    const QString path = dir.filePath(QStringLiteral("sweep.csv"));
    // File > Export sweep as CSV..., with the keys: Alt+F, C.
    QString menuProblem;
    auto sweepMenu = [&] { menuProblem = pressMenu(window.get(), Qt::Key_F, {Qt::Key_C}); };
    auto csvLines = [&] {
        QFile file(path);
        return file.open(QIODevice::ReadOnly) ? file.readAll().trimmed().split('\n')
                                              : QList<QByteArray>{};
    };

    // The dialog offers sweep.csv in the last export folder: Enter writes it.
    FileDialogSeen save;
    DialogScript first;
    first.then<QFileDialog>(title, [&](QFileDialog* dialog) {
        save.take(dialog);
        pressEnterLater(first, fileNameEdit(dialog));
    });
    first.run(sweepMenu);
    QVERIFY2(menuProblem.isEmpty(), qPrintable(menuProblem));
    QVERIFY2(first.finished(), qPrintable(first.report()));
    QCOMPARE(save.acceptMode, QFileDialog::AcceptSave);
    QCOMPARE(save.nameFilters, QStringList{QStringLiteral("CSV (*.csv)")});
    QCOMPARE(save.fileName, QStringLiteral("sweep.csv"));
    QCOMPARE(canonical(save.directory), canonical(dir.path()));
    QList<QByteArray> lines = csvLines();
    QCOMPARE(lines.size(), 65); // the header and 64 lambdas
    QCOMPARE(lines[0], QByteArray("lambda,entropy_reduction_pct_mean,entropy_reduction_pct_std,"
                                  "kl_mean,kl_std,saliency_expectation_gain_mean,"
                                  "saliency_expectation_gain_std,target_mass_gain_mean,"
                                  "target_mass_gain_std,pointing_gain_mean,pointing_gain_std,"
                                  "target_mass_mean,target_mass_std,pointing_mean,pointing_std"));
    QVERIFY(lines[1].startsWith("0,"));
    QVERIFY(lines[64].startsWith("1,"));

    // The file exists now. Asked, No (the default, Enter), then Escape: the file is untouched.
    {
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly) && file.write("an older sweep\n") > 0);
    }
    const FileState before = FileState::of(path);
    MessageSeen replace;
    DialogScript no;
    no.then<QFileDialog>(title,
                         [&](QFileDialog* dialog) { pressEnterLater(no, fileNameEdit(dialog)); })
        .then<QMessageBox>(title,
                           [&](QMessageBox* box) {
                               replace.take(box);
                               pressEnterLater(no, box);
                           })
        .then<QFileDialog>(
            title, [&](QFileDialog* dialog) { pressEscapeLater(no, fileNameEdit(dialog)); });
    no.run(sweepMenu);
    QVERIFY2(menuProblem.isEmpty(), qPrintable(menuProblem));
    QVERIFY2(no.finished(), qPrintable(no.report()));
    QCOMPARE(replace.text, QStringLiteral("sweep.csv already exists.\nDo you want to replace it?"));
    QCOMPARE(replace.defaultButton, QMessageBox::No);
    QVERIFY(FileState::of(path) == before);

    // Yes: replaced by the sweep.
    DialogScript yes;
    yes.then<QFileDialog>(title,
                          [&](QFileDialog* dialog) { pressEnterLater(yes, fileNameEdit(dialog)); })
        .then<QMessageBox>(
            title, [&](QMessageBox* box) { clickLater(yes, box->button(QMessageBox::Yes)); });
    yes.run(sweepMenu);
    QVERIFY2(menuProblem.isEmpty(), qPrintable(menuProblem));
    QVERIFY2(yes.finished(), qPrintable(yes.report()));
    QCOMPARE(csvLines(), lines);
    QCOMPARE(errors.size(), 0);
}

void TestGui::openNpyMenuUsesTheChosenFile() {
    auto window = activeWindow();
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    QTemporaryDir dir;
    const QStringList filters{QStringLiteral("Attention dumps (*.npy *.npz *.safetensors)"),
                              QStringLiteral("All files (*)")};
    // File > Open dump / .npy > Logits / Attention: Escape; nothing changes.
    const std::uint64_t epoch = window->engine()->dataSet()->epoch;
    const std::pair<Qt::Key, QString> cancelled[] = {
        {Qt::Key_L, QStringLiteral("Open logits dump")},
        {Qt::Key_A, QStringLiteral("Open attention dump")}};
    for (const auto& entry : cancelled) {
        // Not a structured binding: clang 14 (scripts/sanitize) cannot capture one in a lambda.
        const auto key = entry.first;
        const QString title = entry.second;
        FileDialogSeen seen;
        QString menuProblem;
        DialogScript cancel;
        cancel.then<QFileDialog>(title, [&](QFileDialog* dialog) {
            seen.take(dialog);
            pressEscapeLater(cancel, fileNameEdit(dialog));
        });
        cancel.run([&] { menuProblem = pressMenu(window.get(), Qt::Key_F, {Qt::Key_N, key}); });
        QVERIFY2(menuProblem.isEmpty(), qPrintable(menuProblem));
        QVERIFY2(cancel.finished(), qPrintable(cancel.report()));
        QCOMPARE(seen.acceptMode, QFileDialog::AcceptOpen);
        QCOMPARE(seen.fileMode, QFileDialog::ExistingFile);
        QCOMPARE(seen.nameFilters, filters);
        QCOMPARE(seen.directory, QDir::homePath());
    }
    QVERIFY(!window->engine()->isBusy());
    QCOMPARE(window->engine()->dataSet()->epoch, epoch);

    // File > Open dump / .npy > Saliency: a [64] file typed, Enter: it is the saliency now.
    const QString path = dir.filePath(QStringLiteral("saliency.npy"));
    std::vector<float> raw(64);
    for (int k = 0; k < 64; ++k)
        raw[std::size_t(k)] = float(k % 8) + 1; // maximum 8: normalized k % 8 + 1 over 8
    const std::size_t shape[] = {64};
    writeNpy(path.toStdString(), shape, raw);
    QString menuProblem;
    DialogScript open;
    open.then<QFileDialog>(QStringLiteral("Open saliency .npy"),
                           [&](QFileDialog* dialog) { chooseInFileDialog(open, dialog, path); });
    open.run([&] { menuProblem = pressMenu(window.get(), Qt::Key_F, {Qt::Key_N, Qt::Key_S}); });
    QVERIFY2(menuProblem.isEmpty(), qPrintable(menuProblem));
    QVERIFY2(open.finished(), qPrintable(open.report()));
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->epoch != epoch && settled(*window),
                             kTimeoutMs);
    QCOMPARE(errors.size(), 0);
    const auto data = window->engine()->dataSet();
    QCOMPARE(QString::fromStdString(data->scenario.saliencyPath),
             QFileInfo(path).absoluteFilePath());
    for (int k = 0; k < 64; ++k)
        QCOMPARE(data->saliency.values[std::size_t(k)], (k % 8 + 1) / 8.0);
    QVERIFY2(
        window->controls().source->text().endsWith(QStringLiteral("Saliency: file saliency.npy")),
        qPrintable(window->controls().source->text()));
}

void TestGui::copyShortcutPutsReadoutOnClipboard() {
    auto window = activeWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QVERIFY(window->metricsText().contains(QStringLiteral("KL(A‖A′)")));
    auto clipboard = [] { return QGuiApplication::clipboard()->text(); };

    // Ctrl+C with the focus on a control without text of its own (the lambda slider): the
    // whole readout.
    QGuiApplication::clipboard()->setText(QStringLiteral("before"));
    c.lambdaSlider->setFocus();
    press(window.get(), QKeySequence::Copy);
    QCOMPARE(clipboard(), window->metricsText());
    QCOMPARE(window->statusBar()->currentMessage(), QStringLiteral("Metrics copied"));

    // In a field with text, Ctrl+C copies that field's selection, as everywhere.
    QGuiApplication::clipboard()->setText(QStringLiteral("before"));
    c.lambda->setFocus();
    c.lambda->selectAll();
    press(window.get(), QKeySequence::Copy);
    QCOMPARE(clipboard(), QStringLiteral("0.250"));
    c.steeredHeads->setFocus();
    c.steeredHeads->selectAll();
    press(window.get(), QKeySequence::Copy);
    QCOMPARE(clipboard(), QStringLiteral("all"));

    // In the readout, with its first line selected (its tooltip says "select and copy").
    QGuiApplication::clipboard()->setText(QStringLiteral("before"));
    c.metrics->setFocus();
    QTextCursor cursor = c.metrics->textCursor();
    cursor.movePosition(QTextCursor::Start);
    cursor.movePosition(QTextCursor::EndOfLine, QTextCursor::KeepAnchor);
    c.metrics->setTextCursor(cursor);
    const QString firstLine = window->metricsText().section(QLatin1Char('\n'), 0, 0);
    QCOMPARE(c.metrics->textCursor().selectedText(), firstLine);
    press(window.get(), QKeySequence::Copy);
    QCOMPARE(clipboard(), firstLine);
    QCOMPARE(window->statusBar()->currentMessage(), QStringLiteral("Selection copied"));
    // Without a selection there, the whole readout.
    cursor.clearSelection();
    c.metrics->setTextCursor(cursor);
    press(window.get(), QKeySequence::Copy);
    QCOMPARE(clipboard(), window->metricsText());
}

void TestGui::f5RecomputesAndRereadsTheImage() {
    auto window = activeWindow(2, 16, 256);
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("saliency.png"));
    QVERIFY(samplePicture(300, 140).save(path));
    QVERIFY(window->loadSaliencyImage(path));
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->raw.projection && settled(*window),
                             kTimeoutMs);
    const std::uint64_t epoch = window->engine()->dataSet()->epoch;
    const QString readout = window->metricsText();
    QCOMPARE(window->engine()->dataSet()->saliency.values[0], 1.0); // bright at the top left

    // F5 with nothing changed: everything computed again, the same numbers.
    QSignalSpy started(window->engine(), &Engine::workloadStarted);
    QSignalSpy evaluated(window->engine(), &Engine::evaluationFinished);
    press(window.get(), QKeySequence(Qt::Key_F5));
    QCOMPARE(started.size(), 1);
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet() &&
                                 window->engine()->dataSet()->epoch != epoch && settled(*window),
                             kTimeoutMs);
    QVERIFY(evaluated.size() >= 1);
    QCOMPARE(withoutTimes(window->metricsText()), withoutTimes(readout));

    // The picture changed on disk (another shape, bright at the bottom right): F5 reads it again.
    const QImage changed = mirroredPicture(140, 300);
    QVERIFY(changed.save(path));
    const std::uint64_t before = window->engine()->dataSet()->epoch;
    press(window.get(), QKeySequence(Qt::Key_F5));
    QCOMPARE(started.size(), 2);
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet() &&
                                 window->engine()->dataSet()->epoch != before && settled(*window),
                             kTimeoutMs);
    const ResizedSize resized = smartResize(300, 140, 28, 4 * 28 * 28, 256 * 28 * 28);
    const int gh = resized.height / 28, gw = resized.width / 28;
    QCOMPARE(window->imageCaption(), QStringLiteral("grid %1 x %2 = %3 tokens, resized %4 x %5")
                                         .arg(gh)
                                         .arg(gw)
                                         .arg(gh * gw)
                                         .arg(resized.height)
                                         .arg(resized.width));
    QCOMPARE(window->plotData().image.convertToFormat(QImage::Format_RGB32), changed);
    const std::vector<double>& s = window->engine()->dataSet()->saliency.values;
    QCOMPARE(s[std::size_t(gh * gw - 1)], 1.0);
    QVERIFY(s[0] < 0.2);
    QVERIFY(withoutTimes(window->metricsText()) != withoutTimes(readout));
    QCOMPARE(errors.size(), 0);
}

void TestGui::loadingTheSameImageAgainRereadsIt() {
    auto window = activeWindow(2, 16, 256);
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("saliency.png"));
    QVERIFY(samplePicture(300, 140).save(path));
    QVERIFY(window->loadSaliencyImage(path));
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->raw.projection && settled(*window),
                             kTimeoutMs);
    QCOMPARE(window->engine()->dataSet()->saliency.values[0], 1.0); // bright at the top left
    const auto workload = window->engine()->dataSet()->workload;
    const std::uint64_t epoch = window->engine()->dataSet()->epoch;

    // The file changed on disk; File > Load with the same name reads it anew, and keeps the
    // random workload (nothing about it changed).
    const QImage changed = mirroredPicture(140, 300);
    QVERIFY(changed.save(path));
    QVERIFY(window->loadSaliencyImage(path));
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->epoch != epoch && settled(*window),
                             kTimeoutMs);
    QCOMPARE(window->engine()->dataSet()->workload, workload);
    QCOMPARE(window->plotData().image.convertToFormat(QImage::Format_RGB32), changed);
    QVERIFY(window->engine()->dataSet()->saliency.values[0] < 0.2);
    QCOMPARE(errors.size(), 0);
}

void TestGui::quitShortcutClosesTheWindowAndSavesSettings() {
    // A window of its own (every test makes its own): Ctrl+Q closes it.
    auto window = activeWindow();
    QVERIFY(window);
    window->setLambda(0.6);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    QVERIFY(!QSettings().contains(QStringLiteral("controls/lambda")));
    press(window.get(), QKeySequence(Qt::CTRL | Qt::Key_Q));
    QVERIFY(!window->isVisible());
    QVERIFY(!window->engine()->isBusy());
    // Closing saved the settings: the next window starts where this one was.
    QCOMPARE(QSettings().value(QStringLiteral("controls/lambda")).toDouble(), 0.6);
    MainWindow next;
    QCOMPARE(next.lambda(), 0.6);
    QCOMPARE(next.controls().keys->value(), 64);
}

void TestGui::aboutBoxOpensFromTheHelpMenu() {
    auto window = activeWindow();
    QVERIFY(window);
    const QString version = QCoreApplication::applicationVersion();
    QCoreApplication::setApplicationVersion(QStringLiteral("9.8.7"));
    // Help > About AttnSteer, with the keys: Alt+H, A; Enter closes the box.
    MessageSeen about;
    QString menuProblem;
    DialogScript script;
    script.then<QMessageBox>(QStringLiteral("About AttnSteer"), [&](QMessageBox* box) {
        about.take(box);
        pressEnterLater(script, box);
    });
    script.run([&] { menuProblem = pressMenu(window.get(), Qt::Key_H, {Qt::Key_A}); });
    QCoreApplication::setApplicationVersion(version);
    QVERIFY2(menuProblem.isEmpty(), qPrintable(menuProblem));
    QVERIFY2(script.finished(), qPrintable(script.report()));
    QCOMPARE(about.text, QStringLiteral("<b>AttnSteer 9.8.7</b><p>A lab for cross-modal attention "
                                        "steering:<br>A′ = softmax(log(A + ε) + λ·s)</p>"));
    QCOMPARE(about.buttons, QMessageBox::Ok);
}

void TestGui::menuKeysAreUnique() {
    // In every menu each item has its own underlined letter, so that Alt+letter reaches it; and
    // Alt+F, I (File > Use random saliency) brings the random saliency back after an image.
    auto window = activeWindow();
    QVERIFY(window);
    const QList<QMenu*> menus = window->menuBar()->findChildren<QMenu*>();
    QVERIFY(menus.size() >= 5);
    for (QMenu* menu : menus) {
        QHash<QChar, QString> seen;
        for (QAction* action : menu->actions()) {
            const QString text = action->text();
            const qsizetype at = text.indexOf(QLatin1Char('&'));
            if (action->isSeparator() || at < 0 || at + 1 >= text.size())
                continue;
            const QChar key = text.at(at + 1).toLower();
            QVERIFY2(!seen.contains(key),
                     qPrintable(QStringLiteral("%1: \"%2\" and \"%3\" share Alt+%4")
                                    .arg(menu->title(), seen.value(key), text, key)));
            seen.insert(key, text);
        }
    }

    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("keys.png"));
    QVERIFY(samplePicture(300, 140).save(path));
    QVERIFY(window->loadSaliencyImage(path));
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->raw.projection && settled(*window),
                             kTimeoutMs);
    const QString menuProblem = pressMenu(window.get(), Qt::Key_F, {Qt::Key_I});
    QVERIFY2(menuProblem.isEmpty(), qPrintable(menuProblem));
    QTRY_VERIFY_WITH_TIMEOUT(!window->engine()->dataSet()->raw.projection && settled(*window),
                             kTimeoutMs);
    QVERIFY(!window->saliencyGridPlot()->hasImage());
}
// ---------------------------------------------------------------------------------------------
// Dumps of several layers, their sidecar, the image view of attention

void TestGui::layerBoxSelectsALayerOfTheLoadedDump() {
    auto window = smallWindow();
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    const auto& c = window->controls();
    QVERIFY(!c.layer->isVisibleTo(window.get())); // the random workload has one layer
    QTemporaryDir dir;
    const AttentionDump dump =
        writeAttentionDump(dir.path(), QStringLiteral("three"), 3, 2, 16, 16);
    writeSidecar(dump);
    QVERIFY(openAttentionDump(*window, dump));

    // "All layers" and one entry per layer; the head box ranges over the heads of a layer.
    QVERIFY(c.layer->isVisibleTo(window.get()));
    QCOMPARE(c.layer->count(), 4);
    const QStringList texts = {QStringLiteral("All layers"), QStringLiteral("Layer 0"),
                               QStringLiteral("Layer 1"), QStringLiteral("Layer 2")};
    for (int i = 0; i < 4; ++i) {
        QCOMPARE(c.layer->itemText(i), texts[i]);
        QCOMPARE(c.layer->itemData(i).toInt(), i - 1);
    }
    QCOMPARE(c.layer->currentIndex(), 0);
    QCOMPARE(c.head->maximum(), 1);
    QCOMPARE(c.query->maximum(), 15);
    QVERIFY2(window->windowTitle().contains(
                 QStringLiteral("three.npy (3 layers × 2 heads × 16 queries × 16 keys, float32)")),
             qPrintable(window->windowTitle()));
    const std::shared_ptr<const Workload> full = window->engine()->dataSet()->fullWorkload;
    QCOMPARE(full->sourceLayers(), 3);

    // Layer 1, head 1, query 9: the values written, exactly; the file is not read again.
    c.head->setValue(1);
    c.query->setValue(9);
    c.layer->setCurrentIndex(2);
    QCOMPARE(window->layer(), std::optional<int>(1));
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->workload->layers() == 1 &&
                                 window->engine()->lastRows()->request.query == 9 &&
                                 settled(*window),
                             kTimeoutMs);
    const auto data = window->engine()->dataSet();
    QCOMPARE(data->fullWorkload.get(), full.get());
    QCOMPARE(data->workload->sourceLayer(0), 1);
    QCOMPARE(data->scenario.layer, std::optional<int>(1));
    const std::vector<double> attention = graphValues(*window, PerTokenPlot::AttentionGraph);
    QCOMPARE(int(attention.size()), 16);
    for (int k = 0; k < 16; ++k)
        QCOMPARE(attention[std::size_t(k)], dump.at(1, 1, 9, k));
    QVERIFY2(window->perTokenPlot()->customPlot()->plotLayout()->elementCount() > 0, "no layout");
    // The matrix shows layer 1's head 1 too.
    for (int k = 0; k < 16; k += 5)
        QCOMPARE((*window->engine()->lastRows()->matrixOriginal)[9 * 16 + k], dump.at(1, 1, 9, k));

    // The metrics are those of layer 1 alone, computed directly.
    const SteeringParams params = window->engine()->lastEvaluation()->request.params;
    const Metrics direct = makeCpuBackend(1)->evaluate(full->selectLayers(std::vector<int>{1}),
                                                       data->saliency.values, params);
    const Metrics& shown = window->engine()->lastEvaluation()->metrics;
    QCOMPARE(shown.heads.size(), std::size_t(2));
    QCOMPARE(shown.total.entropyOriginal, direct.total.entropyOriginal);
    QCOMPARE(shown.total.kl, direct.total.kl);
    const QString text = window->metricsText();
    QVERIFY2(text.contains(QStringLiteral("layer: 1 of 3")), qPrintable(text));
    for (double value : {direct.total.entropyOriginal, direct.total.entropySteered,
                         direct.heads[1].entropyOriginal, direct.heads[1].entropySteered})
        QVERIFY2(text.contains(QString::number(value, 'g', 8)), qPrintable(text));
    QVERIFY2(text.contains(QString::number(direct.heads[1].kl, 'g', 5)), qPrintable(text));

    // Steered heads are heads of a layer: 2 does not exist (there are six units, not heads).
    QLineEdit* steered = c.steeredHeads;
    steered->setText(QStringLiteral("2"));
    emit steered->editingFinished();
    QCOMPARE(errors.size(), 0); // marked in the field, no dialog
    QVERIFY(steered->property("invalid").toBool());
    QVERIFY2(steered->toolTip().contains(QStringLiteral("out of range 0..1")),
             qPrintable(steered->toolTip()));
    steered->setText(QStringLiteral("1"));
    emit steered->editingFinished();
    QCOMPARE(errors.size(), 0);
    QVERIFY(!steered->property("invalid").toBool());
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window) &&
                                 window->engine()->lastEvaluation()->request.params.steeredHeads ==
                                     std::vector<int>{1},
                             kTimeoutMs);
    QCOMPARE(window->engine()->lastEvaluation()->metrics.heads[0].kl, 0.0);
    QVERIFY(window->engine()->lastEvaluation()->metrics.heads[1].kl > 0);
}

void TestGui::allLayersShowsTheMeanOverTheLayers() {
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QTemporaryDir dir;
    const AttentionDump dump =
        writeAttentionDump(dir.path(), QStringLiteral("three"), 3, 2, 16, 16);
    QVERIFY(openAttentionDump(*window, dump));
    c.head->setValue(1);
    c.query->setValue(6);
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->lastRows()->request.query == 6 &&
                                 window->engine()->lastRows()->request.head == 1 &&
                                 settled(*window),
                             kTimeoutMs);
    const RowsResult* rows = window->engine()->lastRows();
    QCOMPARE(rows->layers, 3);
    // A: the mean of the three layers' rows; A': the mean of their steered rows.
    const auto data = window->engine()->dataSet();
    auto backend = makeCpuBackend(1);
    const std::vector<double> attention = graphValues(*window, PerTokenPlot::AttentionGraph);
    const std::vector<double> steered = graphValues(*window, PerTokenPlot::SteeredGraph);
    std::vector<double> meanSteered(16, 0.0);
    for (int l = 0; l < 3; ++l) {
        const TokenRow row = backend->row(*data->workload, data->saliency.values,
                                          rows->request.params, data->workload->unitOf(l, 1), 6);
        for (int k = 0; k < 16; ++k)
            meanSteered[std::size_t(k)] += row.steered[std::size_t(k)] / 3;
    }
    for (int k = 0; k < 16; ++k) {
        const double mean = (dump.at(0, 1, 6, k) + dump.at(1, 1, 6, k) + dump.at(2, 1, 6, k)) / 3;
        QVERIFY(std::abs(attention[std::size_t(k)] - mean) <= 1e-15);
        QVERIFY(std::abs(steered[std::size_t(k)] - meanSteered[std::size_t(k)]) <= 1e-15);
        // The matrix's row 6 is the same mean.
        QVERIFY(std::abs((*rows->matrixSteered)[6 * 16 + k] - meanSteered[std::size_t(k)]) <=
                1e-15);
    }
    // Titles and readout say so.
    QVERIFY(window->plotData().layersAveraged == 3);
    const QString text = window->metricsText();
    QVERIFY2(text.contains(QStringLiteral("layers: all 3")), qPrintable(text));
    // The head column is the head's mean over the layers (splitLayers).
    const Metrics& metrics = window->engine()->lastEvaluation()->metrics;
    QCOMPARE(metrics.heads.size(), std::size_t(6));
    const LayeredMetrics split = splitLayers(metrics, 3, 2);
    QVERIFY2(text.contains(QString::number(split.aggregate.heads[1].entropyOriginal, 'g', 8)),
             qPrintable(text));
    QCOMPARE(window->matrixPlot()->customPlot()->plotLayout()->elementCount() > 0, true);
}

void TestGui::singleLayerDumpLooksAsBefore() {
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QTemporaryDir dir;
    // [H, Q, K] without a sidecar: one layer, no token texts.
    const AttentionDump dump = writeAttentionDump(dir.path(), QStringLiteral("one"), 0, 3, 16, 16);
    QVERIFY(openAttentionDump(*window, dump));
    QVERIFY(!c.layer->isVisibleTo(window.get()));
    QCOMPARE(c.head->maximum(), 2);
    QVERIFY2(window->windowTitle().contains(
                 QStringLiteral("(1 layer × 3 heads × 16 queries × 16 keys, float32)")),
             qPrintable(window->windowTitle()));
    PerTokenPlot* plot = window->perTokenPlot();
    QVERIFY2(plot->tokenText(3).startsWith(QStringLiteral("token 3: A=")),
             qPrintable(plot->tokenText(3)));
    QCOMPARE(plot->visionBand(), (QPair<int, int>(-1, -1)));
    plot->replotNow();
    for (const auto& [x, label] : plot->tickLabels()) {
        bool number = false;
        label.toDouble(&number);
        QVERIFY2(number, qPrintable(label));
    }
    QVERIFY(!window->metricsText().contains(QStringLiteral("layer")));
    QVERIFY(!window->plotData().modelGrid);
    QCOMPARE(window->engine()->lastRows()->layer, -1);
}

void TestGui::tokenLabelsComeFromTheSidecar() {
    auto window = smallWindow();
    QVERIFY(window);
    showValuesPerKey(*window);
    QTemporaryDir dir;
    const AttentionDump dump = writeAttentionDump(dir.path(), QStringLiteral("dump"), 2, 2, 16, 16);
    writeSidecar(dump);
    QVERIFY(openAttentionDump(*window, dump));
    PerTokenPlot* plot = window->perTokenPlot();
    // Hover text: the key and its token.
    QVERIFY2(plot->tokenText(14).startsWith(QStringLiteral("key 14 · ' ball'\nA=")),
             qPrintable(plot->tokenText(14)));
    QVERIFY2(plot->tokenText(2).startsWith(QStringLiteral("key 2 · '\\n'")),
             qPrintable(plot->tokenText(2)));
    // Vision tokens by their place on the 2 x 3 grid.
    QVERIFY2(plot->tokenText(8).startsWith(QStringLiteral("key 8 · image (row 1, col 1)")),
             qPrintable(plot->tokenText(8)));
    // One band over the six vision tokens.
    QCOMPARE(plot->visionBand(), (QPair<int, int>(4, 9)));
    // Text tokens name the x axis where they fit; vision tokens never.
    plot->resize(1600, 400);
    plot->replotNow();
    const auto labels = plot->tickLabels();
    QVERIFY(!labels.isEmpty());
    QSet<QString> texts;
    for (const auto& [x, label] : labels) {
        QVERIFY2(x < 4 || x > 9, qPrintable(label));
        texts.insert(label);
    }
    QVERIFY2(texts.contains(QStringLiteral("ball")),
             qPrintable(QStringList(texts.values()).join(',')));
    // Narrow: fewer labels, none overlapping.
    plot->resize(250, 300);
    plot->replotNow();
    const auto fewer = plot->tickLabels();
    QVERIFY(fewer.size() < labels.size());
    const QFontMetrics metrics(plot->customPlot()->xAxis->tickLabelFont());
    for (qsizetype i = 1; i < fewer.size(); ++i) {
        const QCPAxis* axis = plot->customPlot()->xAxis;
        const double gap = axis->coordToPixel(fewer[i].first) -
                           metrics.horizontalAdvance(fewer[i].second) / 2.0 -
                           (axis->coordToPixel(fewer[i - 1].first) +
                            metrics.horizontalAdvance(fewer[i - 1].second) / 2.0);
        QVERIFY(gap > 0);
    }
    // Sorted by saliency the band has no meaning: gone.
    window->controls().sortBySaliency->setChecked(true);
    QCOMPARE(plot->visionBand(), (QPair<int, int>(-1, -1)));
    // The image view takes the model's grid from the sidecar.
    QCOMPARE(window->saliencyGridPlot()->gridHeight(), 2);
    QCOMPARE(window->saliencyGridPlot()->gridWidth(), 3);
    QCOMPARE(window->saliencyGridPlot()->gridOffset(), 4);
    QCOMPARE(window->imageCaption(),
             QStringLiteral("model's grid 2 x 3 = 6 vision tokens from key 4"));
}

void TestGui::imageViewShowsTheAttentionOfTheRow() {
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QTemporaryDir dir;
    const AttentionDump dump = writeAttentionDump(dir.path(), QStringLiteral("dump"), 3, 2, 16, 16);
    QVERIFY(samplePicture(60, 40).save(dir.filePath(QStringLiteral("picture.png"))));
    writeSidecar(dump, QStringLiteral("picture.png"));
    QVERIFY(openAttentionDump(*window, dump));
    SaliencyGridPlot* grid = window->saliencyGridPlot();
    QVERIFY(grid->hasImage()); // the sidecar's picture under the grid
    QVERIFY(!window->engine()->dataSet()->metaImage.isNull());
    c.layer->setCurrentIndex(3); // layer 2
    c.head->setValue(1);
    c.query->setValue(12);
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->workload->layers() == 1 &&
                                 window->engine()->lastRows()->request.query == 12 &&
                                 window->engine()->lastRows()->request.head == 1 &&
                                 settled(*window),
                             kTimeoutMs);
    QCOMPARE(grid->mode(), ImageMode::Saliency);
    QVERIFY(!c.imageQueryMean->isEnabled());

    // A: the values of the vision tokens (keys 4..9) of layer 2, head 1, query 12.
    c.imageMode->setCurrentIndex(c.imageMode->findData(int(ImageMode::Attention)));
    QCOMPARE(grid->mode(), ImageMode::Attention);
    QVERIFY(c.imageQueryMean->isEnabled());
    const TokenRow& row = window->engine()->lastRows()->row;
    double largest = 0;
    for (int key = 4; key < 10; ++key) {
        QCOMPARE(grid->shownValue(key), dump.at(2, 1, 12, key));
        largest =
            std::max({largest, row.original[std::size_t(key)], row.steered[std::size_t(key)]});
    }
    QVERIFY(std::isnan(grid->shownValue(3)) && std::isnan(grid->shownValue(10)));
    // One scale for A and A': 0 to the largest of either on the grid.
    QCOMPARE(grid->colorLower(), 0.0);
    QCOMPARE(grid->colorUpper(), largest);
    QVERIFY2(grid->colorLabel().startsWith(QStringLiteral("A (same scale as A′)")),
             qPrintable(grid->colorLabel()));
    c.imageMode->setCurrentIndex(c.imageMode->findData(int(ImageMode::Steered)));
    for (int key = 4; key < 10; ++key)
        QCOMPARE(grid->shownValue(key), row.steered[std::size_t(key)]);
    QCOMPARE(grid->colorUpper(), largest);
    QVERIFY2(grid->colorLabel().startsWith(QStringLiteral("A′ at λ = 0.250")),
             qPrintable(grid->colorLabel()));

    // A new lambda reaches the image view.
    window->setLambda(0.9);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    for (int key = 4; key < 10; ++key)
        QCOMPARE(grid->shownValue(key),
                 window->engine()->lastRows()->row.steered[std::size_t(key)]);

    // The mean over the head's queries, from the matrix's rows.
    c.imageMode->setCurrentIndex(c.imageMode->findData(int(ImageMode::Attention)));
    c.imageQueryMean->setChecked(true);
    QVERIFY(grid->queryMean());
    for (int key = 4; key < 10; ++key) {
        double sum = 0;
        for (int q = 0; q < 16; ++q)
            sum += dump.at(2, 1, q, key);
        QVERIFY(std::abs(grid->shownValue(key) - sum / 16) <= 1e-15);
    }
    // What the export draws is what the view shows.
    const PlotData data = window->plotData();
    QCOMPARE(data.imageMode, ImageMode::Attention);
    QVERIFY(data.imageQueryMean);
    QCOMPARE(data.queryMeanRows, 16);
    QTemporaryDir out;
    QVERIFY(grid->savePng(out.filePath(QStringLiteral("grid.png")), 300, 240));
    QVERIFY(distinctColours(QImage(out.filePath(QStringLiteral("grid.png")))) > 10);
}

void TestGui::imageViewShowsTheChangeOnASymmetricScale() {
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QTemporaryDir dir;
    const AttentionDump dump = writeAttentionDump(dir.path(), QStringLiteral("dump"), 2, 2, 16, 16);
    writeSidecar(dump);
    QVERIFY(openAttentionDump(*window, dump));
    SaliencyGridPlot* grid = window->saliencyGridPlot();
    c.imageMode->setCurrentIndex(c.imageMode->findData(int(ImageMode::Difference)));
    c.query->setValue(15);
    window->setLambda(0.8);
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->lastRows()->request.query == 15 && settled(*window),
                             kTimeoutMs);
    const TokenRow& row = window->engine()->lastRows()->row;
    double extent = 0;
    for (int key = 4; key < 10; ++key) {
        const double change = row.steered[std::size_t(key)] - row.original[std::size_t(key)];
        QCOMPARE(grid->shownValue(key), change);
        extent = std::max(extent, std::abs(change));
    }
    QVERIFY(extent > 0);
    QCOMPARE(grid->colorUpper(), extent);
    QCOMPARE(grid->colorLower(), -extent);
    QVERIFY2(grid->colorLabel() == QStringLiteral("A′ − A at λ = 0.800"),
             qPrintable(grid->colorLabel()));

    // Lambda 0 without eps: A' = softmax(log A) is A renormalized, no more: the float32 row
    // sums to 1 only within its rounding, and that is all the change there is.
    c.eps->setValue(0);
    window->setLambda(0);
    QTRY_VERIFY_WITH_TIMEOUT(
        settled(*window) && window->engine()->lastRows()->request.params.eps == 0, kTimeoutMs);
    const int head = window->engine()->lastRows()->request.head;
    const auto renormalized = [&](int query, int key) {
        // All layers: the mean of the two layers' rows, each summing to about 1.
        double sum0 = 0, sum1 = 0;
        for (int k = 0; k < 16; ++k)
            sum0 += dump.at(0, head, query, k), sum1 += dump.at(1, head, query, k);
        return (dump.at(0, head, query, key) / sum0 - dump.at(0, head, query, key) +
                dump.at(1, head, query, key) / sum1 - dump.at(1, head, query, key)) /
               2;
    };
    for (int key = 4; key < 10; ++key) {
        QVERIFY2(std::abs(grid->shownValue(key) - renormalized(15, key)) <= 1e-16,
                 qPrintable(QString::number(grid->shownValue(key))));
        QVERIFY(std::abs(grid->shownValue(key)) <= 1e-8); // float32 rounding, nothing more
    }
    QCOMPARE(grid->colorLower(), -grid->colorUpper());
    // The mean over queries too.
    c.imageQueryMean->setChecked(true);
    for (int key = 4; key < 10; ++key)
        QVERIFY(std::abs(grid->shownValue(key)) <= 1e-8);
    QCOMPARE(grid->colorLower(), -grid->colorUpper());
}

void TestGui::clickingATokenSelectsItsQuery() {
    auto window = smallWindow();
    QVERIFY(window);
    showValuesPerKey(*window);
    const auto& c = window->controls();
    QTemporaryDir dir;
    const AttentionDump dump = writeAttentionDump(dir.path(), QStringLiteral("dump"), 2, 2, 16, 16);
    writeSidecar(dump);
    QVERIFY(openAttentionDump(*window, dump));
    SaliencyGridPlot* grid = window->saliencyGridPlot();
    grid->replotNow();
    // A vision token's cell: Q = K, so key 7 is query 7.
    QSignalSpy clicked(grid, &SaliencyGridPlot::tokenClicked);
    QTest::mouseClick(grid->customPlot(), Qt::LeftButton, {}, grid->tokenCenter(7));
    QCOMPARE(clicked.size(), 1);
    QCOMPARE(clicked.at(0).at(0).toInt(), 7);
    QCOMPARE(c.query->value(), 7);
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->lastRows()->request.query == 7 && settled(*window),
                             kTimeoutMs);
    // A text token in the per-token plot.
    PerTokenPlot* plot = window->perTokenPlot();
    plot->replotNow();
    QCustomPlot* custom = plot->customPlot();
    const QPoint at(int(std::lround(custom->xAxis->coordToPixel(13))),
                    int(custom->axisRect()->center().y()));
    QTest::mouseClick(custom, Qt::LeftButton, {}, at);
    QCOMPARE(c.query->value(), 13);
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->lastRows()->request.query == 13 && settled(*window),
                             kTimeoutMs);
    QCOMPARE(window->perTokenPlot()->customPlot()->graph(0)->data()->size(), 16);
}

void TestGui::keysThatAreNoQueryRowAreRefused() {
    auto window = smallWindow();
    QVERIFY(window);
    showValuesPerKey(*window);
    const auto& c = window->controls();
    QTemporaryDir dir;
    // 8 query rows over 16 keys, no sidecar: the rows are keys 8..15.
    const AttentionDump dump = writeAttentionDump(dir.path(), QStringLiteral("last"), 2, 2, 8, 16);
    QVERIFY(openAttentionDump(*window, dump));
    c.query->setValue(1);
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->lastRows()->request.query == 1 && settled(*window),
                             kTimeoutMs);
    PerTokenPlot* plot = window->perTokenPlot();
    plot->replotNow();
    QCustomPlot* custom = plot->customPlot();
    const auto click = [&](int key) {
        QTest::mouseClick(custom, Qt::LeftButton, {},
                          QPoint(int(std::lround(custom->xAxis->coordToPixel(key))),
                                 int(custom->axisRect()->center().y())));
    };
    click(3);
    QCOMPARE(c.query->value(), 1);
    QCOMPARE(window->statusBar()->currentMessage(), QStringLiteral("key 3 is not a query row"));
    click(12);
    QCOMPARE(c.query->value(), 4);
    // A drag is no click.
    const QPoint from(int(std::lround(custom->xAxis->coordToPixel(14))),
                      int(custom->axisRect()->center().y()));
    QTest::mousePress(custom, Qt::LeftButton, {}, from);
    QTest::mouseMove(custom, from + QPoint(40, 0));
    QTest::mouseRelease(custom, Qt::LeftButton, {}, from + QPoint(40, 0));
    QCOMPARE(c.query->value(), 4);
}

void TestGui::dumpOpenedWithLayerAndSidecar() {
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QTemporaryDir dir;
    const AttentionDump dump = writeAttentionDump(dir.path(), QStringLiteral("dump"), 3, 2, 16, 16);
    // The sidecar elsewhere, named as --meta names it; the last layer, as --layer -1 does.
    const QString meta = writeSidecar(dump, {}, dir.filePath(QStringLiteral("elsewhere.json")));
    window->openDump(dump.path, MainWindow::NpyKind::Attention, -1, meta);
    QTRY_VERIFY_WITH_TIMEOUT(
        window->engine()->dataSet()->scenario.hasWorkloadFile() && settled(*window), kTimeoutMs);
    const auto data = window->engine()->dataSet();
    QCOMPARE(data->workload->layers(), 1);
    QCOMPARE(data->workload->sourceLayer(0), 2);
    QCOMPARE(c.layer->currentText(), QStringLiteral("Layer 2"));
    QVERIFY(data->meta);
    QCOMPARE(int(data->meta->tokens.size()), 16);
    QVERIFY(window->perTokenPlot()->tokenText(14).startsWith(QStringLiteral("key 14 · ' ball'")));
    // A new dump opens on its last query row, the one that sees every key.
    QCOMPARE(c.query->value(), 15);
    QCOMPARE(window->engine()->query(), 15);
    // A layer that is not there: an error, and the window stays on the dump as it was.
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    window->openDump(dump.path, MainWindow::NpyKind::Attention, 5, meta);
    QTRY_VERIFY_WITH_TIMEOUT(!errors.isEmpty(), kTimeoutMs);
    QVERIFY2(errors.at(0).at(0).toString().contains(QStringLiteral("out of range")),
             qPrintable(errors.at(0).at(0).toString()));
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    QCOMPARE(window->engine()->scenario().layer, std::optional<int>(-1));
    // Back to the random workload: one layer, no box.
    window->useRandomWorkload();
    QTRY_VERIFY_WITH_TIMEOUT(
        !window->engine()->dataSet()->scenario.hasWorkloadFile() && settled(*window), kTimeoutMs);
    QVERIFY(!c.layer->isVisibleTo(window.get()));
    QVERIFY(!window->engine()->scenario().layer);
}

void TestGui::ctrlLFocusesTheLayerBox() {
    auto window = activeWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    press(window.get(), QKeySequence(Qt::CTRL | Qt::Key_L)); // one layer: only a message
    QVERIFY(QApplication::focusWidget() != c.layer);
    QCOMPARE(window->statusBar()->currentMessage(), QStringLiteral("This workload has one layer"));
    QTemporaryDir dir;
    const AttentionDump dump = writeAttentionDump(dir.path(), QStringLiteral("dump"), 3, 2, 16, 16);
    QVERIFY(openAttentionDump(*window, dump));
    press(window.get(), QKeySequence(Qt::CTRL | Qt::Key_L));
    QTRY_COMPARE(QApplication::focusWidget(), static_cast<QWidget*>(c.layer));
    // The keyboard then picks a layer.
    QTest::keyClick(c.layer, Qt::Key_Down);
    QCOMPARE(c.layer->currentText(), QStringLiteral("Layer 0"));
    QTRY_VERIFY_WITH_TIMEOUT(
        window->engine()->dataSet()->workload->layers() == 1 && settled(*window), kTimeoutMs);
    // Every new control explains itself.
    for (QWidget* widget : std::initializer_list<QWidget*>{c.layer, c.imageMode, c.imageQueryMean})
        QVERIFY2(!widget->toolTip().isEmpty(), qPrintable(widget->objectName()));
}

void TestGui::sampleMenuOffersTheSyntheticDump() {
    auto window = smallWindow();
    QVERIFY(window);
    auto* menu = window->findChild<QMenu*>(QStringLiteral("sampleMenu"));
    QVERIFY(menu);
    QAction* sample = nullptr;
    for (QAction* action : menu->actions())
        if (action->objectName() == QStringLiteral("sample:synthetic-dump.safetensors"))
            sample = action;
    QVERIFY(sample);
    QCOMPARE(sample->text(), QStringLiteral("Synthetic Qwen2-VL-like dump (4 layers)"));
    QVERIFY(!sample->toolTip().isEmpty());
    // A file on disk, with its sidecar and picture beside it.
    const QString path = FileLoader::sampleDump();
    QVERIFY(QFileInfo(path).isFile());
    QCOMPARE(QFileInfo(path).fileName(), QStringLiteral("synthetic-dump.safetensors"));
    QVERIFY(
        QFileInfo(QFileInfo(path).dir().filePath(QStringLiteral("synthetic-dump.json"))).isFile());
    QVERIFY(
        QFileInfo(QFileInfo(path).dir().filePath(QStringLiteral("synthetic-dump.png"))).isFile());
    // The saliency images are still the three maps.
    QCOMPARE(MainWindow::sampleImages().size(), 3);
    // Opening it loads the dump, all 4 layers, with the saliency map made for it.
    sample->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->scenario.hasWorkloadFile() &&
                                 window->engine()->dataSet()->raw.projection && settled(*window),
                             kTimeoutMs);
    const auto data = window->engine()->dataSet();
    QCOMPARE(data->workload->layers(), 4);
    QCOMPARE(data->workload->storedDtype(), std::string("bfloat16"));
    QVERIFY(QString::fromStdString(data->scenario.saliencyImagePath)
                .endsWith(QStringLiteral("synthetic-dump-saliency.png")));
    // On the model's 8 x 12 grid from key 4: the ball's cells (rows 4-5, columns 7-8) are the
    // most salient.
    QCOMPARE(data->raw.projection->gridHeight, 8);
    QCOMPARE(data->raw.projection->gridWidth, 12);
    const auto& s = data->saliency.values;
    const auto peak = std::max_element(s.begin(), s.end()) - s.begin();
    QVERIFY2(peak == 4 + 4 * 12 + 7 || peak == 4 + 4 * 12 + 8 || peak == 4 + 5 * 12 + 7 ||
                 peak == 4 + 5 * 12 + 8,
             qPrintable(QString::number(peak)));
}

void TestGui::brokenSidecarImageIsToldNotFatal() {
    auto window = smallWindow();
    QVERIFY(window);
    QTemporaryDir dir;
    const AttentionDump dump = writeAttentionDump(dir.path(), QStringLiteral("dump"), 2, 2, 16, 16);
    QFile broken(dir.filePath(QStringLiteral("picture.png")));
    QVERIFY(broken.open(QIODevice::WriteOnly));
    broken.write("\x89PNG\r\n\x1a\nnot really");
    broken.close();
    writeSidecar(dump, QStringLiteral("picture.png"));
    QVERIFY(openAttentionDump(*window, dump));
    // The dump, its tokens and grid are there; the picture is not, and the status bar says why.
    const auto data = window->engine()->dataSet();
    QVERIFY(data->meta);
    QVERIFY(data->metaImage.isNull());
    QVERIFY2(QString::fromStdString(data->metaImageWarning).contains(QStringLiteral("picture.png")),
             data->metaImageWarning.c_str());
    QVERIFY2(window->statusBar()->currentMessage().contains(QStringLiteral("picture.png")),
             qPrintable(window->statusBar()->currentMessage()));
    QVERIFY(!window->saliencyGridPlot()->hasImage());
    QCOMPARE(window->saliencyGridPlot()->gridWidth(), 3);
}

// ---------------------------------------------------------------------------------------------
// Which heads to steer: the readout's new lines, gating, binary, target, the heads view, the
// tradeoff's y axis and the top-k curve

namespace {

/// A line of the readout as it lays out its columns: LABEL, the value over all heads, the head's.
QString readoutLine(const QString& label, const QString& all, const QString& one) {
    return QStringLiteral("%1%2  %3").arg(label, -17).arg(all, 13).arg(one, 13);
}

QString readoutNumber(double value, int digits) {
    return std::isnan(value) ? QStringLiteral("n/a") : QString::number(value, 'g', digits);
}

/// Opens File > Open sample > the synthetic dump (with its saliency map and target mask) and
/// waits until everything shows it.
bool openSampleDump(MainWindow& window) {
    auto* menu = window.findChild<QMenu*>(QStringLiteral("sampleMenu"));
    QAction* sample = nullptr;
    for (QAction* action : menu ? menu->actions() : QList<QAction*>())
        if (action->objectName() == QStringLiteral("sample:synthetic-dump.safetensors"))
            sample = action;
    if (!sample)
        return false;
    sample->trigger();
    [&] {
        QTRY_VERIFY_WITH_TIMEOUT(window.engine()->dataSet()->scenario.hasWorkloadFile() &&
                                     window.engine()->dataSet()->raw.projection &&
                                     window.engine()->dataSet()->grounding.hasTarget() &&
                                     settled(window),
                                 kTimeoutMs);
    }();
    return !QTest::currentTestFailed();
}

/// Opens the heads view with its shortcut, Ctrl+Shift+H (closed at first on a workload of one
/// layer), and waits for its profile.
bool showHeadsView(MainWindow& window) {
    auto* dock = window.findChild<QDockWidget*>(QStringLiteral("headsDock"));
    if (!dock)
        return false;
    if (!dock->isVisible())
        press(&window, QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_H));
    [&] {
        QTRY_VERIFY_WITH_TIMEOUT(
            dock->isVisible() && window.headsPlot()->profile() && settled(window), kTimeoutMs);
    }();
    return !QTest::currentTestFailed();
}

/// The profile of the window's whole source at its current steering, computed here.
Profile referenceProfile(const MainWindow& window) {
    const auto data = window.engine()->dataSet();
    auto backend = makeCpuBackend(1);
    return profileHeads(*data->fullWorkload, data->saliency.values,
                        window.engine()->lastEvaluation()->request.params, data->grounding,
                        *backend, 1);
}

/// Selects the item whose data is DATA in COMBO with the arrow keys, as a user does.
void chooseWithKeys(QComboBox* combo, const QVariant& data) {
    const int target = combo->findData(data);
    QVERIFY(target >= 0);
    combo->setFocus();
    while (combo->currentIndex() != target) {
        const int before = combo->currentIndex();
        QTest::keyClick(combo, target > before ? Qt::Key_Down : Qt::Key_Up);
        QVERIFY(combo->currentIndex() != before);
    }
}

} // namespace

void TestGui::readoutShowsSaliencyExpectationAndRowsSteered() {
    auto window = smallWindow();
    QVERIFY(window);
    const Metrics& m = window->engine()->lastEvaluation()->metrics;
    const MetricSummary& head = m.heads[0];
    const QString text = window->metricsText();
    for (const QString& line : {readoutLine(QStringLiteral("Σ A·s (sal. exp.)"),
                                            readoutNumber(m.total.saliencyExpectationOriginal, 6),
                                            readoutNumber(head.saliencyExpectationOriginal, 6)),
                                readoutLine(QStringLiteral("Σ A′·s"),
                                            readoutNumber(m.total.saliencyExpectationSteered, 6),
                                            readoutNumber(head.saliencyExpectationSteered, 6)),
                                readoutLine(QStringLiteral("rows steered [%]"),
                                            QStringLiteral("100"), QStringLiteral("100"))})
        QVERIFY2(text.contains(line + QLatin1Char('\n')), qPrintable(line + "\nin\n" + text));
    // Steering towards the saliency raises its expectation.
    QVERIFY(m.total.saliencyExpectationSteered > m.total.saliencyExpectationOriginal);
    QVERIFY2(text.contains(QStringLiteral("gate τ: off")), qPrintable(text));
    // Each says what it is; no grounding lines without a vision span or a target.
    QVERIFY2(text.contains(QStringLiteral("Σ A·s: saliency expectation")), qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("rows steered: got the bias")), qPrintable(text));
    QVERIFY2(!text.contains(QStringLiteral("vision mass")), qPrintable(text));
    QVERIFY(!window->groundingJobs()->lastGrounding());
}

void TestGui::readoutShowsTheGroundingMetricsOfTheSample() {
    auto window = smallWindow();
    QVERIFY(window);
    QVERIFY(openSampleDump(*window));
    window->controls().head->setValue(3);
    QTRY_VERIFY_WITH_TIMEOUT(window->metricsText().contains(QStringLiteral("head 3")), kTimeoutMs);
    // The grounding pass of every layer, computed here, split as the readout's head column is.
    const auto data = window->engine()->dataSet();
    const SteeringParams& params = window->engine()->lastEvaluation()->request.params;
    const double lambda = params.lambda;
    const Grounding expected = evaluateGrounding(*data->workload, data->saliency.values,
                                                 std::span(&lambda, 1), params, data->grounding, 1)
                                   .front();
    const GroundingSummary& all = expected.total;
    const GroundingSummary one = splitLayers(expected, 4, 8).aggregate.heads[3];
    const QString text = window->metricsText();
    QVERIFY2(text.contains(QStringLiteral("vision tokens: 96 from key 4, target: 4 tokens\n")),
             qPrintable(text));
    const struct {
        const char* label;
        double GroundingSummary::*field;
        double scale;
    } lines[] = {
        {"vision mass Σ_V A", &GroundingSummary::visionMass, 1},
        {"target mass A", &GroundingSummary::targetMassOriginal, 1},
        {"target mass A′", &GroundingSummary::targetMassSteered, 1},
        {"pointing A [%]", &GroundingSummary::pointingOriginal, 100},
        {"pointing A′ [%]", &GroundingSummary::pointingSteered, 100},
        {"saliency r", &GroundingSummary::saliencyCorrelation, 1},
        {"spatial entropy", &GroundingSummary::spatialEntropy, 1},
    };
    for (const auto& line : lines) {
        const QString shown = readoutLine(QString::fromUtf8(line.label),
                                          readoutNumber(line.scale * (all.*line.field), 5),
                                          readoutNumber(line.scale * (one.*line.field), 5));
        QVERIFY2(text.contains(shown + QLatin1Char('\n')), qPrintable(shown + "\nin\n" + text));
    }
    // Steering moves attention onto the ball.
    QVERIFY(all.targetMassSteered > all.targetMassOriginal);
    QVERIFY2(text.contains(QStringLiteral("target mass: share of image attention on T")),
             qPrintable(text));
}

void TestGui::gateControlKeepsGatedRowsAsTheyAre() {
    auto window = smallWindow(2, 32, 64);
    QVERIFY(window);
    const auto& c = window->controls();
    QVERIFY(!c.gateEntropy->toolTip().isEmpty());
    QCOMPARE(c.gateEntropy->text(), QStringLiteral("off"));
    // Peaked logits: the rows' entropies spread, so that a gate lets some through.
    c.sigma->setValue(2.5);
    QTRY_VERIFY_WITH_TIMEOUT(
        settled(*window) && window->engine()->dataSet()->scenario.spec.logitStd == 2.5, kTimeoutMs);
    const Workload& workload = *window->engine()->dataSet()->workload;
    std::vector<double> entropies; // head-major, as the rows are
    std::vector<double> row(64);
    for (int unit = 0; unit < 2; ++unit)
        for (int q = 0; q < 32; ++q) {
            workload.attentionRow(unit, q, row);
            entropies.push_back(testsupport::normalizedEntropy(row));
        }
    const double tau = testsupport::gateBetween(entropies);
    QVERIFY(tau > 0);
    typeOver(c.gateEntropy, QString::number(tau, 'f', 2));
    QTest::keyClick(c.gateEntropy, Qt::Key_Return);
    QTRY_VERIFY_WITH_TIMEOUT(
        settled(*window) && window->engine()->lastEvaluation()->request.params.gateEntropy == tau,
        kTimeoutMs);
    // Rows steered: those at or above the gate.
    const auto passing =
        std::count_if(entropies.begin(), entropies.end(), [&](double e) { return e >= tau; });
    QVERIFY(passing > 0 && passing < 64);
    const Metrics& m = window->engine()->lastEvaluation()->metrics;
    QVERIFY(std::abs(m.total.rowsSteeredFraction - double(passing) / 64) < 1e-15);
    const QString text = window->metricsText();
    QVERIFY2(text.contains(readoutLine(QStringLiteral("rows steered [%]"),
                                       readoutNumber(100 * m.total.rowsSteeredFraction, 5),
                                       readoutNumber(100 * m.heads[0].rowsSteeredFraction, 5))),
             qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("gate τ: %1").arg(tau)), qPrintable(text));

    // The per-token view: a gated row of head 0 keeps A' = A exactly, a steered one moves.
    for (const bool steered : {false, true}) {
        const int query = int(std::find_if(entropies.begin(), entropies.begin() + 32,
                                           [&](double e) { return (e >= tau) == steered; }) -
                              entropies.begin());
        QVERIFY(query < 32);
        c.query->setValue(query);
        QTRY_VERIFY_WITH_TIMEOUT(
            settled(*window) && window->engine()->lastRows()->request.query == query, kTimeoutMs);
        const std::vector<double> a = graphValues(*window, PerTokenPlot::AttentionGraph);
        const std::vector<double> shown = graphValues(*window, PerTokenPlot::SteeredGraph);
        QCOMPARE(shown == a, !steered);
    }
    // The matrix: every gated row is A exactly, every other one differs.
    const RowsResult& rows = *window->engine()->lastRows();
    for (int q = 0; q < 32; ++q) {
        const auto begin = std::size_t(q) * 64;
        const bool same = std::equal(rows.matrixSteered->begin() + begin,
                                     rows.matrixSteered->begin() + begin + 64,
                                     rows.matrixOriginal->begin() + begin);
        QCOMPARE(same, entropies[std::size_t(q)] < tau);
    }
    // Off again: every row.
    typeOver(c.gateEntropy, QStringLiteral("0"));
    QTest::keyClick(c.gateEntropy, Qt::Key_Return);
    QTRY_VERIFY_WITH_TIMEOUT(
        settled(*window) &&
            window->engine()->lastEvaluation()->metrics.total.rowsSteeredFraction == 1,
        kTimeoutMs);
}

void TestGui::binaryNormalizationHasItsThreshold() {
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QVERIFY(!c.binaryThreshold->isEnabled()); // only for binary
    chooseWithKeys(c.normalization, int(Normalization::Binary));
    QCOMPARE(c.normalization->currentText(), QStringLiteral("binary"));
    QVERIFY(c.binaryThreshold->isEnabled());
    typeOver(c.binaryThreshold, QStringLiteral("0.7"));
    QTest::keyClick(c.binaryThreshold, Qt::Key_Return);
    QTRY_VERIFY_WITH_TIMEOUT(
        settled(*window) && window->engine()->dataSet()->scenario.binaryThreshold == 0.7 &&
            window->engine()->dataSet()->scenario.normalization == Normalization::Binary,
        kTimeoutMs);
    const auto data = window->engine()->dataSet();
    // s = 1 where the min-max normalized saliency is at least 0.7, else 0.
    const std::vector<double>& raw = data->raw.values;
    const auto [low, high] = std::minmax_element(raw.begin(), raw.end());
    int ones = 0;
    for (std::size_t k = 0; k < raw.size(); ++k) {
        const double expected = (raw[k] - *low) / (*high - *low) >= 0.7 ? 1.0 : 0.0;
        QCOMPARE(data->saliency.values[k], expected);
        ones += int(expected);
    }
    QVERIFY(ones > 0 && ones < 64);
    QCOMPARE(window->plotData().saliency, data->saliency.values);
    QVERIFY2(window->metricsText().contains(QStringLiteral("(binary T = 0.7)")),
             qPrintable(window->metricsText()));
    // Back to max: the threshold box is off again.
    chooseWithKeys(c.normalization, int(Normalization::Max));
    QVERIFY(!c.binaryThreshold->isEnabled());
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window) &&
                                 window->engine()->dataSet()->scenario.normalization ==
                                     Normalization::Max,
                             kTimeoutMs);
}

void TestGui::targetMaskFromTheFileMenu() {
    auto window = activeWindow();
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    const auto& c = window->controls();
    auto* action = window->findChild<QAction*>(QStringLiteral("targetMaskAction"));
    QVERIFY(action);
    QCOMPARE(action->shortcut(), QKeySequence(Qt::CTRL | Qt::Key_T));
    QVERIFY(!action->toolTip().isEmpty());
    // Without a target the target's gains are not offered.
    auto* model = qobject_cast<QStandardItemModel*>(c.tradeoffY->model());
    const auto offered = [&](TradeoffY y) {
        return model->item(c.tradeoffY->findData(int(y)))->isEnabled();
    };
    QVERIFY(offered(TradeoffY::ExpectationGain));
    QVERIFY(!offered(TradeoffY::TargetMassGain) && !offered(TradeoffY::PointingGain));

    // The sample dump: its target mask, the ball's four cells of the 8 x 12 grid from key 4.
    QVERIFY(openSampleDump(*window));
    std::vector<int> targets;
    const auto data = window->engine()->dataSet();
    for (std::size_t k = 0; k < data->grounding.target.size(); ++k)
        if (data->grounding.target[k])
            targets.push_back(int(k));
    QCOMPARE(targets,
             (std::vector<int>{4 + 4 * 12 + 7, 4 + 4 * 12 + 8, 4 + 5 * 12 + 7, 4 + 5 * 12 + 8}));
    QVERIFY2(c.source->text().endsWith(QStringLiteral("Target: mask synthetic-dump-target.png")),
             qPrintable(c.source->text()));
    QVERIFY(offered(TradeoffY::TargetMassGain) && offered(TradeoffY::PointingGain));
    const QString mask = QString::fromStdString(data->scenario.targetMaskPath);

    // Clear target: no target metrics, the gains withdrawn.
    window->clearTarget();
    QTRY_VERIFY_WITH_TIMEOUT(
        !window->engine()->dataSet()->grounding.hasTarget() && settled(*window), kTimeoutMs);
    QVERIFY(!offered(TradeoffY::TargetMassGain));
    QVERIFY(!window->metricsText().contains(QStringLiteral("target mass")));
    QVERIFY(!c.source->text().contains(QStringLiteral("Target")));

    // Ctrl+T, the mask's path typed, Enter: the target is back.
    DialogScript load;
    load.then<QFileDialog>(QStringLiteral("Open target mask"),
                           [&](QFileDialog* dialog) { chooseInFileDialog(load, dialog, mask); });
    load.run([&] { press(window.get(), QKeySequence(Qt::CTRL | Qt::Key_T)); });
    QVERIFY2(load.finished(), qPrintable(load.report()));
    QTRY_VERIFY_WITH_TIMEOUT(window->engine()->dataSet()->grounding.hasTarget() && settled(*window),
                             kTimeoutMs);
    QVERIFY(window->metricsText().contains(QStringLiteral("target mass A′")));
    QCOMPARE(errors.size(), 0);

    // A file that is no image: told at once, the target stays.
    QTemporaryDir dir;
    const QString broken = dir.filePath(QStringLiteral("broken.png"));
    QFile file(broken);
    QVERIFY(file.open(QIODevice::WriteOnly) && file.write("no picture") > 0);
    file.close();
    QVERIFY(!window->loadTargetMask(broken));
    QCOMPARE(errors.size(), 1);
    QVERIFY2(errors.at(0).at(0).toString().contains(QStringLiteral("broken.png")),
             qPrintable(errors.at(0).at(0).toString()));
    // A target .npy of the wrong length: the error names it, the mask stays the target.
    const QString npy = dir.filePath(QStringLiteral("target.npy"));
    writeNpy(npy.toStdString(), std::vector<std::size_t>{5}, std::vector<float>(5, 1.0f));
    window->openTargetNpy(npy);
    QTRY_VERIFY_WITH_TIMEOUT(errors.size() == 2, kTimeoutMs);
    QVERIFY2(errors.at(1).at(0).toString().contains(QStringLiteral("target length is 5")),
             qPrintable(errors.at(1).at(0).toString()));
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    QCOMPARE(QString::fromStdString(window->engine()->scenario().targetMaskPath), mask);
    QVERIFY(window->engine()->dataSet()->grounding.hasTarget());
}

void TestGui::layerHeadsInTheSteeredHeadsField() {
    auto window = smallWindow();
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    const auto& c = window->controls();
    QVERIFY(c.steeredHeads->toolTip().contains(QStringLiteral("L5H3")));
    QTemporaryDir dir;
    const AttentionDump dump = writeAttentionDump(dir.path(), QStringLiteral("three"), 3, 2, 8, 8);
    QVERIFY(openAttentionDump(*window, dump));
    // Head 0 in layer 1 only, head 1 in every layer.
    typeOver(c.steeredHeads, QStringLiteral("L1H0, 1"));
    QTest::keyClick(c.steeredHeads, Qt::Key_Return);
    QTRY_VERIFY_WITH_TIMEOUT(
        settled(*window) &&
            !window->engine()->lastEvaluation()->request.params.steeredLayerHeads.empty(),
        kTimeoutMs);
    const SteeringParams& params = window->engine()->lastEvaluation()->request.params;
    QCOMPARE(params.steeredLayerHeads, (std::vector<LayerHead>{{1, 0}}));
    QCOMPARE(params.steeredHeads, std::vector<int>{1});
    const Metrics& m = window->engine()->lastEvaluation()->metrics;
    for (int layer = 0; layer < 3; ++layer) {
        QCOMPARE(m.heads[std::size_t(2 * layer)].kl > 0, layer == 1);
        QVERIFY(m.heads[std::size_t(2 * layer + 1)].kl > 0);
    }
    QVERIFY2(window->metricsText().contains(QStringLiteral("head 0: steered in 1 of 3 layers")),
             qPrintable(window->metricsText()));
    // Layer 0 alone: its head 0 is unsteered, and the readout says so.
    window->setLayer(0);
    QTRY_VERIFY_WITH_TIMEOUT(
        settled(*window) && window->engine()->dataSet()->workload->layers() == 1, kTimeoutMs);
    QVERIFY2(window->metricsText().contains(QStringLiteral("head 0: unsteered (A′ = A)")),
             qPrintable(window->metricsText()));
    QCOMPARE(window->plotData().steered, window->plotData().attention);
    // A layer the dump does not have: refused without a dialog, the typo marked in the field
    // with the reason, the heads last accepted still in effect.
    typeOver(c.steeredHeads, QStringLiteral("L5H0"));
    QTest::keyClick(c.steeredHeads, Qt::Key_Return);
    QCOMPARE(errors.size(), 0);
    QVERIFY(c.steeredHeads->property("invalid").toBool());
    QVERIFY2(c.steeredHeads->toolTip().startsWith(
                 QStringLiteral("Steered heads: layer 5 is out of range 0..2")),
             qPrintable(c.steeredHeads->toolTip()));
    QCOMPARE(c.steeredHeads->text(), QStringLiteral("L5H0"));
    QCOMPARE(window->engine()->scenario().params.steeredLayerHeads,
             (std::vector<LayerHead>{{1, 0}}));
}

void TestGui::headsViewShowsTheProfileOfTheSample() {
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QVERIFY(!c.headsColumn->toolTip().isEmpty());
    QCOMPARE(c.headsColumn->currentText(), QStringLiteral("grounding_score"));
    QVERIFY(openSampleDump(*window));
    HeadsPlot* view = window->headsPlot();
    QCOMPARE(view->layers(), 4);
    QCOMPARE(view->headsPerLayer(), 8);
    // Every cell is the profile of that head, as profileHeads computes it here.
    const Profile expected = referenceProfile(*window);
    const auto checkColumn = [&](const QString& name) {
        const ProfileColumn* column = findProfileColumn(name.toStdString());
        QVERIFY(column);
        QCOMPARE(view->column(), name);
        for (const HeadProfile& one : expected.heads) {
            const double want = column->value(one), got = view->value(one.layer, one.head);
            QVERIFY2(std::isnan(want) ? std::isnan(got)
                                      : std::abs(got - want) <= 1e-9 * std::abs(want) + 1e-15,
                     qPrintable(QStringLiteral("%1 of layer %2, head %3: %4, expected %5")
                                    .arg(name)
                                    .arg(one.layer)
                                    .arg(one.head)
                                    .arg(got)
                                    .arg(want)));
        }
    };
    checkColumn(QStringLiteral("grounding_score"));
    // The README's sample: the heads that look at the ball are strongest in layer 2.
    QCOMPARE(expected.heads[expected.ranking.front()].layer, 2);
    // Another column, chosen with the keyboard.
    chooseWithKeys(c.headsColumn, QStringLiteral("target_mass_gain"));
    checkColumn(QStringLiteral("target_mass_gain"));
    QCOMPARE(view->title(), QStringLiteral("target_mass_gain at λ = 0.250"));

    // Hovering a cell: its row of the profile.
    view->replotNow();
    QSignalSpy hovered(view, &HeadsPlot::headHovered);
    QTest::mouseMove(view->customPlot(), view->cellCenter(2, 3));
    QTRY_VERIFY(!hovered.isEmpty());
    QCOMPARE(hovered.last().at(0).toInt(), 2);
    QCOMPARE(hovered.last().at(1).toInt(), 3);
    const HeadProfile& head = expected.heads[2 * 8 + 3];
    const QString text = view->hoverText(2, 3);
    QVERIFY2(text.startsWith(
                 QStringLiteral("layer 2, head 3: steered (100 % of rows)\n"
                                "target_mass_gain = %1 (rank ")
                     .arg(readoutNumber(findProfileColumn("target_mass_gain")->value(head), 5))),
             qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("\nvision_mass = %1\n")
                               .arg(readoutNumber(head.grounding.visionMass, 5))),
             qPrintable(text));
    QCOMPARE(text.count(QLatin1Char('\n')), int(profileColumns().size()));

    // A new lambda: the profile follows (once lambda rests).
    window->setLambda(0.8);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window) && view->profile()->lambda == 0.8, kTimeoutMs);
    QVERIFY(view->title().contains(QStringLiteral("at λ = 0.800")));
}

void TestGui::headsViewClickSelectsLayerAndHead() {
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QVERIFY(openSampleDump(*window));
    HeadsPlot* view = window->headsPlot();
    view->replotNow();
    QTest::mouseClick(view->customPlot(), Qt::LeftButton, {}, view->cellCenter(2, 5));
    QCOMPARE(c.layer->currentData().toInt(), 2);
    QCOMPARE(c.head->value(), 5);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window) && window->engine()->lastRows()->layer == 2 &&
                                 window->engine()->lastRows()->request.head == 5,
                             kTimeoutMs);
    // Every view shows layer 2, head 5; the profile stays (the source is the same).
    QVERIFY2(window->matrixPlot()->title().startsWith(QStringLiteral("Layer 2, head 5")),
             qPrintable(window->matrixPlot()->title()));
    QVERIFY2(window->metricsText().contains(QStringLiteral("layer: 2 of 4")),
             qPrintable(window->metricsText()));
    QCOMPARE(view->layers(), 4);
    const PlotData shown = window->plotData();
    QCOMPARE(shown.selectedLayer, 2);
    QCOMPARE(shown.selectedHead, 5);
    // A click beside the cells changes nothing.
    QTest::mouseClick(view->customPlot(), Qt::LeftButton, {}, QPoint(2, 2));
    QCOMPARE(c.layer->currentData().toInt(), 2);
    QCOMPARE(c.head->value(), 5);
}

void TestGui::steerTopKFillsTheSteeredHeads() {
    auto window = activeWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    // Before a profile of the sample: the random workload's own (one layer: plain heads).
    QVERIFY(showHeadsView(*window));
    typeOver(c.topK, QStringLiteral("1"));
    QTest::keyClick(c.topK, Qt::Key_Return);
    QTest::mouseClick(c.steerTopK, Qt::LeftButton);
    const Profile random = referenceProfile(*window);
    QCOMPARE(c.steeredHeads->text(), QString::number(random.heads[random.ranking.front()].head));

    QVERIFY(openSampleDump(*window));
    const Profile expected = referenceProfile(*window);
    typeOver(c.topK, QStringLiteral("3"));
    QTest::keyClick(c.topK, Qt::Key_Return);
    QCOMPARE(window->headsPlot()->topHeads(), topHeads(expected, 3));
    // The button: the three best heads by grounding_score, each in its layer.
    QTest::mouseClick(c.steerTopK, Qt::LeftButton);
    const std::vector<LayerHead> top = topHeads(expected, 3);
    const QString text = QString::fromStdString(steeredHeadsText({}, top));
    QCOMPARE(c.steeredHeads->text(), text);
    QVERIFY(text.startsWith(QStringLiteral("L2H")));
    QTRY_VERIFY_WITH_TIMEOUT(
        settled(*window) &&
            !window->engine()->lastEvaluation()->request.params.steeredLayerHeads.empty(),
        kTimeoutMs);
    std::vector<LayerHead> sorted = top;
    std::sort(sorted.begin(), sorted.end());
    QCOMPARE(window->engine()->lastEvaluation()->request.params.steeredLayerHeads, sorted);
    QVERIFY2(window->metricsText().contains(QStringLiteral("steered heads: ") + text),
             qPrintable(window->metricsText()));
    // The others are unsteered: the heads view says so on hover.
    for (const HeadProfile& one : expected.heads) {
        const bool steered =
            std::find(top.begin(), top.end(), LayerHead{one.layer, one.head}) != top.end();
        QCOMPARE(window->headsPlot()
                     ->hoverText(one.layer, one.head)
                     .contains(QStringLiteral(": unsteered\n")),
                 !steered);
    }
    // Ranked by another column, Ctrl+K steers its best.
    chooseWithKeys(c.headsColumn, QStringLiteral("vision_mass"));
    const std::vector<LayerHead> byVision =
        attnsteer::topHeads(Profile{0,
                                    expected.heads,
                                    {},
                                    {},
                                    rankHeads(expected.heads, *findProfileColumn("vision_mass"))},
                            3);
    press(window.get(), QKeySequence(Qt::CTRL | Qt::Key_K));
    QCOMPARE(c.steeredHeads->text(), QString::fromStdString(steeredHeadsText({}, byVision)));
}

void TestGui::tradeoffYAxisShowsTheChosenGain() {
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QVERIFY(openSampleDump(*window));
    TradeoffPlot* view = window->tradeoffPlot();
    const SweepOutcome& sweep = *window->engine()->lastSweep();
    const ComparisonResult* comparison = window->groundingJobs()->lastComparison();
    QVERIFY(comparison);
    // The comparison: the sweep again with the top 4 heads by grounding_score steered.
    const Profile profile = referenceProfile(*window);
    QCOMPARE(comparison->heads, topHeads(profile, 4));
    SteeringParams params = window->engine()->lastEvaluation()->request.params;
    params.steeredHeads.clear();
    params.steeredLayerHeads = topHeads(profile, 4);
    auto backend = makeCpuBackend(1);
    const auto data = window->engine()->dataSet();
    const std::vector<SweepRow> expected =
        runSweep(window->engine()->sweepConfig(*data, params), *backend);
    QCOMPARE(comparison->sweep.rows.size(), expected.size());
    const struct {
        TradeoffY y;
        double SweepRow::*mean;
        const char* label;
    } choices[] = {
        {TradeoffY::EntropyReduction, &SweepRow::reductionMean, "entropy reduction [%]"},
        {TradeoffY::ExpectationGain, &SweepRow::expectationGainMean,
         "saliency-expectation gain Σ A′s − Σ A s"},
        {TradeoffY::TargetMassGain, &SweepRow::targetMassGainMean, "target-mass gain"},
        {TradeoffY::PointingGain, &SweepRow::pointingGainMean, "pointing gain (fraction of rows)"},
    };
    for (const auto& choice : choices) {
        chooseWithKeys(c.tradeoffY, int(choice.y));
        QCOMPARE(view->yQuantity(), choice.y);
        QCOMPARE(view->customPlot()->yAxis->label(), QString::fromUtf8(choice.label));
        const std::vector<QPointF> curve = view->curvePoints(0), second = view->curvePoints(1);
        QCOMPARE(curve.size(), sweep.rows.size());
        QCOMPARE(second.size(), expected.size());
        for (std::size_t i = 0; i < curve.size(); ++i) {
            QCOMPARE(curve[i], QPointF(sweep.rows[i].klMean, sweep.rows[i].*choice.mean));
            QVERIFY(std::isfinite(curve[i].y()));
            const double want = expected[i].*choice.mean;
            QVERIFY2(std::abs(second[i].y() - want) <= 1e-9 * std::abs(want) + 1e-15,
                     qPrintable(QStringLiteral("%1 at lambda %2: %3, expected %4")
                                    .arg(choice.label)
                                    .arg(expected[i].lambda)
                                    .arg(second[i].y())
                                    .arg(want)));
        }
    }
    // Each curve is labelled.
    QCOMPARE(view->customPlot()->graph(0)->name(), QStringLiteral("all heads"));
    QCOMPARE(view->customPlot()->graph(1)->name(), QStringLiteral("steered: top-4 heads"));
    // Steering the top heads renames the first curve after what it steers.
    QVERIFY(window->steerTopHeads());
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window) &&
                                 !window->engine()->lastSweep()->params.steeredLayerHeads.empty(),
                             kTimeoutMs);
    QCOMPARE(view->customPlot()->graph(0)->name(),
             QStringLiteral("steered: %1").arg(c.steeredHeads->text()));
    // Without a target its gains are withdrawn: back to the entropy reduction.
    window->clearTarget();
    QTRY_VERIFY_WITH_TIMEOUT(
        !window->engine()->dataSet()->grounding.hasTarget() && settled(*window), kTimeoutMs);
    QCOMPARE(view->yQuantity(), TradeoffY::EntropyReduction);
}

void TestGui::headsViewExportsAndStopsWhenHidden() {
    auto window = smallWindow();
    QVERIFY(window);
    QVERIFY(showHeadsView(*window));
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("heads.png"));
    QVERIFY(window->exportView(window->headsPlot(), path, QSize(500, 300)));
    const QImage picture(path);
    QCOMPARE(picture.size(), QSize(500, 300));
    QVERIFY(distinctColours(picture) > 20);
    // File > Export view has it; its context menu's request opens the export dialog.
    QStringList texts;
    for (QMenu* menu : window->menuBar()->findChildren<QMenu*>())
        for (QAction* action : menu->actions())
            texts << action->text();
    QVERIFY(texts.contains(QStringLiteral("&Heads view...")));
    QVERIFY(texts.contains(QStringLiteral("Steer &top k heads")));
    DialogScript script;
    script.then<ExportDialog>(QStringLiteral("Export view"),
                              [&](ExportDialog* dialog) { pressEscapeLater(script, dialog); });
    script.run([&] { emit window->headsPlot()->exportRequested(); });
    QVERIFY2(script.finished(), qPrintable(script.report()));

    // Hidden, the heads view costs nothing: a new lambda computes no profile.
    auto* dock = window->findChild<QDockWidget*>(QStringLiteral("headsDock"));
    QVERIFY(dock);
    dock->close();
    QTRY_VERIFY(!window->groundingJobs()->profileWanted());
    const double before = window->groundingJobs()->lastProfile()->profile->lambda;
    window->setLambda(0.6);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    QCOMPARE(window->groundingJobs()->lastProfile()->profile->lambda, before);
    // Shown again, it catches up.
    dock->show();
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window) && window->headsPlot()->profile()->lambda == 0.6,
                             kTimeoutMs);
}

// ---------------------------------------------------------------------------------------------
// Small screens and clear input

void TestGui::helpAndVersionNeedNoDisplay() {
    // No display and no platform chosen: --help and --version still answer.
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    for (const char* name : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"})
        environment.remove(QString::fromLatin1(name));
    for (const QString& flag : {QStringLiteral("--help"), QStringLiteral("--version")}) {
        QProcess process;
        process.setProcessEnvironment(environment);
        process.start(QStringLiteral(ATTNSTEER_GUI_PATH), {flag});
        QVERIFY(process.waitForFinished(30000));
        QCOMPARE(process.exitStatus(), QProcess::NormalExit);
        QCOMPARE(process.exitCode(), 0);
        const QString out = QString::fromUtf8(process.readAllStandardOutput());
        if (flag == QStringLiteral("--help")) {
            QVERIFY2(out.contains(QStringLiteral("Usage:")), qPrintable(out));
            QVERIFY(out.contains(QStringLiteral("--lambda <X>")));
            QVERIFY(out.contains(QStringLiteral("negative")));
        } else {
            QVERIFY2(out.startsWith(QStringLiteral("AttnSteer ")), qPrintable(out));
        }
    }
}

void TestGui::negativeLambdaSteersAway() {
    auto window = smallWindow();
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    const auto& c = window->controls();
    // Typed into the box: -0.5 is taken, the slider rests at its left end.
    c.lambda->setFocus();
    typeOver(c.lambda, QStringLiteral("-0.5"));
    QCOMPARE(window->lambda(), -0.5);
    QCOMPARE(c.lambdaSlider->value(), 0);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    QCOMPARE(errors.size(), 0);
    // Steering away from the salient tokens spreads the attention: the entropy grows.
    const auto data = window->engine()->dataSet();
    SteeringParams params;
    params.lambda = -0.5;
    params.eps = 1e-9;
    const Metrics expected =
        makeCpuBackend()->evaluate(*data->workload, data->saliency.values, params);
    const Metrics& shown = window->engine()->lastEvaluation()->metrics;
    QVERIFY(std::abs(shown.total.kl - expected.total.kl) <= 1e-12 * expected.total.kl);
    QVERIFY(shown.total.kl > 0);
    QVERIFY(window->metricsText().contains(QStringLiteral("λ = -0.500")));
    // The row: A' below A on the most salient token.
    const TokenRow row = makeCpuBackend()->row(*data->workload, data->saliency.values, params,
                                               c.head->value(), c.query->value());
    const std::vector<double> steered = graphValues(*window, PerTokenPlot::SteeredGraph);
    QCOMPARE(steered.size(), row.steered.size());
    for (std::size_t k = 0; k < steered.size(); ++k)
        QVERIFY(std::abs(steered[k] - row.steered[k]) <= 1e-12);
    const auto top = std::max_element(data->saliency.values.begin(), data->saliency.values.end()) -
                     data->saliency.values.begin();
    QVERIFY(row.steered[std::size_t(top)] < row.original[std::size_t(top)]);
    // The curve covers 0 .. lambda max: the marker is not put at a wrong place.
    QVERIFY(!window->tradeoffPlot()->markerShown());
    QVERIFY(window->tradeoffPlot()->readout().contains(QStringLiteral("outside")));
    QCOMPARE(c.lambdaMax->value(), 1.0);
}

void TestGui::lambdaBeyondItsMaximumRaisesIt() {
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QCOMPARE(c.lambdaMax->value(), 1.0);
    c.lambda->setFocus();
    typeOver(c.lambda, QStringLiteral("4"));
    QTest::keyClick(c.lambda, Qt::Key_Return);
    QCOMPARE(window->lambda(), 4.0);     // not clamped to 1
    QCOMPARE(c.lambdaMax->value(), 4.0); // raised, and said so
    QCOMPARE(c.lambdaSlider->value(), 1000);
    QVERIFY2(window->statusBar()->currentMessage().contains(QStringLiteral("λ max raised to 4")),
             qPrintable(window->statusBar()->currentMessage()));
    // The tradeoff curve follows the new maximum, the marker sits at its end.
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window) && !window->tradeoffPlot()->sweep().empty() &&
                                 window->tradeoffPlot()->sweep().back().lambda == 4.0,
                             kTimeoutMs);
    QTRY_VERIFY(window->tradeoffPlot()->markerShown());
    QCOMPARE(window->engine()->lastEvaluation()->request.params.lambda, 4.0);
    // setLambda (the command line's --lambda) does the same; lowering lambda max lowers lambda,
    // and says so too.
    window->setLambda(12.5);
    QCOMPARE(c.lambdaMax->value(), 12.5);
    c.lambdaMax->setValue(2);
    QCOMPARE(window->lambda(), 2.0);
    QVERIFY(window->statusBar()->currentMessage().contains(QStringLiteral("λ lowered")));
}

void TestGui::exportIntoAMissingFolderOffersToCreateIt() {
    auto window = activeWindow();
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    QTemporaryDir dir;
    const QString missing = dir.filePath(QStringLiteral("figures/paper"));
    FigureSpec spec;
    spec.format = FigureFormat::Svg;
    spec.inches = QSizeF(3.5, 2.5);
    // Yes: the folders are made, the figure written.
    MessageSeen asked;
    bool written = false;
    DialogScript create;
    create.then<QMessageBox>(QStringLiteral("Create folder?"), [&](QMessageBox* box) {
        asked.take(box);
        clickLater(create, box->button(QMessageBox::Yes));
    });
    create.run([&] {
        written = window->exportFigure(
            window->tradeoffPlot(), QDir(missing).filePath(QStringLiteral("tradeoff.svg")), spec);
    });
    QVERIFY2(create.finished(), qPrintable(create.report()));
    QVERIFY(written);
    QCOMPARE(asked.text, QStringLiteral("The folder %1 does not exist.\nCreate it?")
                             .arg(QDir::toNativeSeparators(missing)));
    QCOMPARE(asked.defaultButton, QMessageBox::Yes);
    QVERIFY(QFileInfo(QDir(missing).filePath(QStringLiteral("tradeoff.svg"))).size() > 1000);
    // Cancel: nothing is made, nothing written, no error box.
    const QString other = dir.filePath(QStringLiteral("other"));
    DialogScript cancel;
    cancel.then<QMessageBox>(QStringLiteral("Create folder?"), [&](QMessageBox* box) {
        clickLater(cancel, box->button(QMessageBox::Cancel));
    });
    ExportResult result;
    cancel.run([&] { result = window->exportAll(other, spec); });
    QVERIFY2(cancel.finished(), qPrintable(cancel.report()));
    QVERIFY(!result.ok);
    QVERIFY(!QFileInfo::exists(other));
    // Export all into a missing folder, Yes: the four figures.
    DialogScript all;
    all.then<QMessageBox>(QStringLiteral("Create folder?"), [&](QMessageBox* box) {
        clickLater(all, box->button(QMessageBox::Yes));
    });
    all.run([&] { result = window->exportAll(other, spec); });
    QVERIFY2(all.finished(), qPrintable(all.report()));
    QVERIFY2(result.ok, qPrintable(result.error));
    QCOMPARE(filesIn(other),
             (QStringList{QStringLiteral("matrix.svg"), QStringLiteral("per_token.svg"),
                          QStringLiteral("saliency.svg"), QStringLiteral("tradeoff.svg")}));
    QCOMPARE(errors.size(), 0);
}

void TestGui::layoutFitsSmallAndLargeScreens_data() {
    QTest::addColumn<QSize>("size");
    QTest::newRow("1024 x 700") << QSize(1024, 700);
    QTest::newRow("2560 x 1440") << QSize(2560, 1440);
}

void TestGui::layoutFitsSmallAndLargeScreens() {
    QFETCH(QSize, size);
    auto window = smallWindow(2, 32, 256);
    QVERIFY(window);
    window->resize(size);
    QTRY_COMPARE(window->size(), size); // the window's minimum fits the screen
    QTest::qWait(50);                   // the views' queued replots
    QVERIFY(window->minimumSizeHint().width() <= 1024);
    QVERIFY(window->minimumSizeHint().height() <= 700);
    for (PlotView* view :
         std::initializer_list<PlotView*>{window->perTokenPlot(), window->tradeoffPlot(),
                                          window->saliencyGridPlot(), window->matrixPlot()}) {
        view->replotNow();
        QCustomPlot* plot = view->customPlot();
        const QString name = view->viewName();
        // Every view shows a plot area, inside the window.
        QVERIFY2(plot->axisRect()->rect().width() > 60 && plot->axisRect()->rect().height() > 40,
                 qPrintable(name));
        QVERIFY2(
            window->rect().contains(QRect(view->mapTo(window.get(), QPoint(0, 0)), view->size())),
            qPrintable(name));
        // The title fits (wrapped or shortened when it must), tick labels stay apart.
        const QString problem = plotsupport::layoutProblem(*view);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
    }
    // Screenshots for a look: ATTNSTEER_SCREENSHOTS=DIR writes them.
    const QString shots = qEnvironmentVariable("ATTNSTEER_SCREENSHOTS");
    if (!shots.isEmpty())
        window->grab().save(QDir(shots).filePath(
            QStringLiteral("window-%1x%2.png").arg(size.width()).arg(size.height())));
    // The tradeoff's readout is a line of its own, off the curve.
    const QRect readout = window->tradeoffPlot()->readoutRect();
    QVERIFY(!readout.isEmpty());
    QVERIFY(!readout.intersects(window->tradeoffPlot()->customPlot()->axisRect()->rect()));
}

void TestGui::seedSliderAppliesWhileDragged() {
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QVERIFY(c.seedSlider->hasTracking());
    // Dragged: each position applies while the button is down; the newest wins.
    c.seedSlider->setSliderDown(true);
    for (int seed : {1, 2, 3, 4, 5})
        c.seedSlider->setSliderPosition(seed);
    QCOMPARE(c.seed->value(), 5);
    QCOMPARE(window->engine()->scenario().spec.seed, std::uint64_t(5));
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window) && window->engine()->dataSet()->scenario.spec.seed ==
                                                     std::uint64_t(5),
                             kTimeoutMs);
    c.seedSlider->setSliderDown(false);
    QCOMPARE(window->engine()->dataSet()->scenario.spec.seed, std::uint64_t(5));
}

void TestGui::matrixColourScaleCanBeLogarithmic() {
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QVERIFY(!window->matrixPlot()->logScale());
    c.matrixLogScale->setChecked(true);
    QTRY_VERIFY(window->matrixPlot()->logScale());
    window->matrixPlot()->replotNow();
    QVERIFY(window->matrixPlot()->colorLabel().contains(QStringLiteral("log scale")));
    QVERIFY(window->plotData().matrixLogScale);
    // A' - A keeps its linear scale: the box is off while it is shown.
    c.showDifference->setChecked(true);
    QVERIFY(!c.matrixLogScale->isEnabled());
    window->matrixPlot()->replotNow();
    QVERIFY(!window->matrixPlot()->colorLabel().contains(QStringLiteral("log")));
}

namespace {

/// The target keys of LAYOUT, ascending.
std::vector<int> targetKeys(const TransformerLayout& layout) {
    std::vector<int> keys;
    for (int key = 0; key < layout.keys; ++key)
        if (layout.isTarget(key))
            keys.push_back(key);
    return keys;
}

/// Whether WINDOW shows, settled, a transformer data set whose scenario passes WANTED.
bool showsTransformer(const MainWindow& window,
                      const std::function<bool(const Scenario&)>& wanted = {}) {
    const auto data = window.engine()->dataSet();
    return settled(window) && data && data->workload->transformer() &&
           (!wanted || wanted(data->scenario));
}

/// smallWindow() on the transformer workload (chosen as the user does), settled.
std::unique_ptr<MainWindow> transformerWindow(int heads, int queries, int keys) {
    auto window = smallWindow(heads, queries, keys);
    if (!window)
        return nullptr;
    window->setWorkloadKind(WorkloadKind::Transformer);
    [&] { QTRY_VERIFY_WITH_TIMEOUT(showsTransformer(*window), kTimeoutMs); }();
    return QTest::currentTestFailed() ? nullptr : std::move(window);
}

/// The readout's "before → after" of BEFORE and AFTER times SCALE.
QString readoutChange(double before, double after, double scale, int decimals) {
    return QStringLiteral("%1 → %2")
        .arg(scale * before, 0, 'f', decimals)
        .arg(scale * after, 0, 'f', decimals);
}

} // namespace

void TestGui::transformerWorkloadFromTheWorkloadBox() {
    auto window = smallWindow(8, 32, 400);
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    const auto& c = window->controls();
    // The write-up's random workload stays the default; the transformer's controls show with it.
    QCOMPARE(c.workload->currentData().toInt(), int(WorkloadKind::Random));
    QVERIFY(!window->engine()->dataSet()->workload->transformer());
    for (QWidget* widget : std::initializer_list<QWidget*>{c.workload, c.headDim, c.targetStrength,
                                                           c.saliencyQualitySlider,
                                                           c.saliencyQuality, c.saliencyBlur})
        QVERIFY2(!widget->toolTip().isEmpty(), qPrintable(widget->objectName()));
    const auto transformerShown = [&] {
        return !c.headDim->isHidden() && !c.targetStrength->isHidden() &&
               !c.saliencyQualitySlider->isHidden() && !c.saliencyQuality->isHidden() &&
               !c.saliencyBlur->isHidden();
    };
    QVERIFY(c.headDim->isHidden() && c.saliencyQuality->isHidden() && c.saliencyBlur->isHidden());
    QVERIFY(!c.sigma->isHidden());

    chooseWithKeys(c.workload, int(WorkloadKind::Transformer));
    QVERIFY(transformerShown());
    QVERIFY(c.sigma->isHidden()); // σ belongs to the random logits
    QTRY_VERIFY_WITH_TIMEOUT(showsTransformer(*window), kTimeoutMs);
    QCOMPARE(errors.size(), 0);
    const auto data = window->engine()->dataSet();
    const Scenario& scenario = data->scenario;
    QCOMPARE(scenario.spec.heads, 8);
    QCOMPARE(scenario.spec.queries, 32);
    QCOMPARE(scenario.spec.keys, 400);
    QCOMPARE(scenario.spec.seed, std::uint64_t(0));
    QCOMPARE(scenario.simulatedSaliency.quality, 0.8);
    const TransformerLayout& layout = data->workload->transformer()->layout();
    QVERIFY2(c.source->text().contains(QStringLiteral("Workload: transformer block, seed 0")),
             qPrintable(c.source->text()));
    QVERIFY2(c.source->text().contains(QStringLiteral("simulated, quality 0.8, seed 0")),
             qPrintable(c.source->text()));

    // The view that tells the story: an image-focused head, the last text query (after the
    // image), lambda 2 on a slider to 8, the pointing accuracy on the tradeoff's y axis.
    QCOMPARE(c.head->value(), 0);
    QCOMPARE(TransformerBlock::headType(c.head->value()), HeadType::ImageFocused);
    QCOMPARE(c.query->value(), 31);
    QVERIFY(layout.isText(layout.position(31)) && layout.position(31) >= layout.visionEnd());
    QCOMPARE(window->lambda(), 2.0);
    QCOMPARE(c.lambdaMax->value(), 8.0);
    QCOMPARE(window->engine()->lastRows()->request.head, 0);
    QCOMPARE(window->engine()->lastRows()->request.query, 31);
    QCOMPARE(c.tradeoffY->currentData().toInt(), int(TradeoffY::Pointing));
    TradeoffPlot* tradeoff = window->tradeoffPlot();
    QCOMPARE(tradeoff->yQuantity(), TradeoffY::Pointing);
    QCOMPARE(tradeoff->customPlot()->yAxis->label(),
             QStringLiteral("pointing accuracy of A′ (fraction of rows)"));

    // The readout: the pointing and target mass before -> after, as the core computes them
    // here for the same scenario (prepareScenario: the planted object is the target).
    const PreparedScenario prepared = prepareScenario(scenario);
    QCOMPARE(prepared.grounding.target, layout.targetFlags());
    QCOMPARE(data->grounding.target, layout.targetFlags());
    QCOMPARE(data->saliency.values, prepared.saliency.values);
    const double lambda = 2.0;
    QCOMPARE(prepared.params.lambda, lambda);
    const Grounding expected =
        evaluateGrounding(prepared.workload, prepared.saliency.values, std::span(&lambda, 1),
                          prepared.params, prepared.grounding, 1)
            .front();
    const GroundingSummary &all = expected.total, &one = expected.heads[0];
    const QString text = window->metricsText();
    QVERIFY2(text.contains(QStringLiteral("vision tokens: 225 from key 43, target: 9 tokens\n")),
             qPrintable(text));
    for (const QString& line :
         {readoutLine(QStringLiteral("pointing [%] A→A′"),
                      readoutChange(all.pointingOriginal, all.pointingSteered, 100, 1),
                      readoutChange(one.pointingOriginal, one.pointingSteered, 100, 1)),
          readoutLine(QStringLiteral("target mass A→A′"),
                      readoutChange(all.targetMassOriginal, all.targetMassSteered, 1, 3),
                      readoutChange(one.targetMassOriginal, one.targetMassSteered, 1, 3))})
        QVERIFY2(text.contains(line + QLatin1Char('\n')), qPrintable(line + "\nin\n" + text));
    QVERIFY2(text.contains(QStringLiteral("A→A′: before → after steering")), qPrintable(text));
    // With the object's saliency steering points the image-focused head at it more often.
    QVERIFY(one.pointingSteered > one.pointingOriginal);
    QVERIFY(all.targetMassSteered > all.targetMassOriginal);

    // The per-token view: the vision band and the object's tokens marked; the image view: the
    // model's grid with the object's outline.
    QCOMPARE(window->perTokenPlot()->visionBand(),
             qMakePair(layout.visionOffset, layout.visionEnd() - 1));
    QCOMPARE(window->perTokenPlot()->markedTargetTokens(), targetKeys(layout));
    SaliencyGridPlot* grid = window->saliencyGridPlot();
    QCOMPARE(grid->gridHeight(), layout.grid.rows);
    QCOMPARE(grid->gridWidth(), layout.grid.cols);
    QCOMPARE(grid->gridOffset(), layout.visionOffset);
    const double left = layout.targetLeft, top = layout.targetTop;
    const double right = left + layout.targetCols, bottom = top + layout.targetRows;
    QCOMPARE(
        grid->targetOutlineSegments(),
        (std::vector<QLineF>{QLineF(left, top, right, top), QLineF(left, bottom, right, bottom),
                             QLineF(left, top, left, bottom), QLineF(right, top, right, bottom)}));

    // The tradeoff: the pointing accuracy of a core sweep of the same scenario over the window's
    // grid and seeds (the planted object moves with the seed).
    const SweepConfig config =
        sweepConfigFor(scenario, nullptr, nullptr, window->engine()->sweepLambdas(), {0, 1, 2});
    auto backend = makeCpuBackend(1);
    const std::vector<SweepRow> core = runSweep(config, *backend);
    const std::vector<QPointF> curve = tradeoff->curvePoints(0);
    QCOMPARE(curve.size(), core.size());
    QCOMPARE(window->engine()->lastSweep()->seeds, (std::vector<std::uint64_t>{0, 1, 2}));
    for (std::size_t i = 0; i < curve.size(); ++i) {
        QVERIFY2(std::abs(curve[i].y() - core[i].pointingMean) <= 1e-12,
                 qPrintable(QStringLiteral("lambda %1: %2, expected %3")
                                .arg(core[i].lambda)
                                .arg(curve[i].y())
                                .arg(core[i].pointingMean)));
        QVERIFY(std::abs(curve[i].x() - core[i].klMean) <= 1e-9 * core[i].klMean + 1e-15);
    }
    QVERIFY(core.back().pointingMean > core.front().pointingMean);
    QCOMPARE(tradeoff->markerPosition(), TradeoffPlot::interpolate(core, 2.0, TradeoffY::Pointing));

    // Back to random: its σ, no target, the entropy reduction on the tradeoff's y axis.
    chooseWithKeys(c.workload, int(WorkloadKind::Random));
    QTRY_VERIFY_WITH_TIMEOUT(
        settled(*window) && !window->engine()->dataSet()->workload->transformer(), kTimeoutMs);
    QVERIFY(!transformerShown() && !c.sigma->isHidden());
    QCOMPARE(tradeoff->yQuantity(), TradeoffY::EntropyReduction);
    QVERIFY(window->perTokenPlot()->markedTargetTokens().empty());
    QVERIFY(grid->targetOutlineSegments().empty());
    QCOMPARE(errors.size(), 0);
}

void TestGui::transformerControlsReachTheScenario() {
    auto window = transformerWindow(8, 32, 400);
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    const auto& c = window->controls();
    const auto layout = [&] {
        return window->engine()->dataSet()->workload->transformer()->layout();
    };
    const auto rawFor = [&](double quality, double blur) {
        return simulatedSaliencyRaw(layout(), SimulatedSaliencySpec{quality, blur}, 0);
    };
    const auto enter = [](QAbstractSpinBox* box, const QString& text) {
        typeOver(box, text);
        QTest::keyClick(box, Qt::Key_Return);
    };
    const auto headDim = [&] {
        return window->engine()->dataSet()->workload->transformer()->headDim();
    };
    const auto quality = [](double q) {
        return [q](const Scenario& s) { return s.simulatedSaliency.quality == q; };
    };

    // The slider's end is quality 1: the saliency is exactly the object.
    c.saliencyQualitySlider->setFocus();
    QTest::keyClick(c.saliencyQualitySlider, Qt::Key_End);
    QCOMPARE(c.saliencyQuality->value(), 1.0);
    QTRY_VERIFY_WITH_TIMEOUT(showsTransformer(*window, quality(1.0)), kTimeoutMs);
    std::vector<double> object;
    for (unsigned char flag : layout().targetFlags())
        object.push_back(flag);
    QCOMPARE(window->engine()->dataSet()->raw.values, object);
    QCOMPARE(window->engine()->dataSet()->raw.values, rawFor(1.0, 0));

    // Dragged: every position asks for a new saliency, the last one wins.
    c.saliencyQualitySlider->setSliderDown(true);
    for (int position : {90, 75, 60, 45, 30})
        c.saliencyQualitySlider->setSliderPosition(position);
    c.saliencyQualitySlider->setSliderDown(false);
    QCOMPARE(c.saliencyQuality->value(), 0.3);
    QTRY_VERIFY_WITH_TIMEOUT(showsTransformer(*window, quality(0.3)), kTimeoutMs);
    QCOMPARE(window->engine()->dataSet()->raw.values, rawFor(0.3, 0));
    QVERIFY2(window->metricsText().contains(QStringLiteral("saliency: simulated, quality 0.3")),
             qPrintable(window->metricsText()));

    // The box takes exact values; 0 is a decoy and noise, unrelated to the object.
    enter(c.saliencyQuality, QStringLiteral("0"));
    QCOMPARE(c.saliencyQualitySlider->value(), 0);
    QTRY_VERIFY_WITH_TIMEOUT(showsTransformer(*window, quality(0.0)), kTimeoutMs);
    QCOMPARE(window->engine()->dataSet()->raw.values, rawFor(0.0, 0));

    // The blur.
    enter(c.saliencyBlur, QStringLiteral("1.5"));
    QTRY_VERIFY_WITH_TIMEOUT(
        showsTransformer(*window,
                         [](const Scenario& s) { return s.simulatedSaliency.blur == 1.5; }),
        kTimeoutMs);
    QCOMPARE(window->engine()->dataSet()->raw.values, rawFor(0.0, 1.5));

    // The head dim and the target strength make a new block.
    enter(c.headDim, QStringLiteral("64"));
    QTRY_VERIFY_WITH_TIMEOUT(showsTransformer(*window) && headDim() == 64, kTimeoutMs);
    enter(c.targetStrength, QStringLiteral("3"));
    QTRY_VERIFY_WITH_TIMEOUT(
        showsTransformer(*window) &&
            window->engine()->dataSet()->workload->transformer()->headParams(0).target == 3.0,
        kTimeoutMs);
    const TransformerBlock* block = window->engine()->dataSet()->workload->transformer();
    QCOMPARE(block->headDim(), 64);
    QCOMPARE(block->headParams(4).target, 3.0);
    QCOMPARE(block->headParams(1).target, 0.0); // a local head does not look at the object
    QCOMPARE(errors.size(), 0);

    // Bad input: one clear line; the window keeps the last block and goes on working.
    enter(c.headDim, QStringLiteral("13"));
    QTRY_VERIFY_WITH_TIMEOUT(!errors.isEmpty(), kTimeoutMs);
    QCOMPARE(errors.last().at(0).toString(),
             QStringLiteral("Head dim: must be an even number from 8 to 1024"));
    QTRY_VERIFY_WITH_TIMEOUT(showsTransformer(*window), kTimeoutMs);
    QCOMPARE(headDim(), 64);
    enter(c.headDim, QStringLiteral("32"));
    QTRY_VERIFY_WITH_TIMEOUT(showsTransformer(*window) && headDim() == 32, kTimeoutMs);
    const int before = int(errors.size());
    window->setWorkloadSize(8, 401, 400); // more queries than tokens
    QTRY_VERIFY_WITH_TIMEOUT(errors.size() > before, kTimeoutMs);
    QVERIFY2(errors.last().at(0).toString().startsWith(
                 QStringLiteral("Queries: must not exceed the keys (400)")),
             qPrintable(errors.last().at(0).toString()));
    window->setWorkloadSize(8, 32, 400);
    QTRY_VERIFY_WITH_TIMEOUT(showsTransformer(*window), kTimeoutMs);
    QCOMPARE(window->engine()->dataSet()->workload->queries(), 32);
    QCOMPARE(headDim(), 32);
}

void TestGui::transformerSettingsAreRestored() {
    {
        auto window = transformerWindow(8, 32, 400);
        QVERIFY(window);
        const auto& c = window->controls();
        c.headDim->setValue(64);
        c.targetStrength->setValue(2.5);
        c.saliencyQuality->setValue(0.35);
        c.saliencyBlur->setValue(1.5);
        window->setLambda(3.5);
        QTRY_VERIFY_WITH_TIMEOUT(showsTransformer(*window), kTimeoutMs);
        window->close(); // saves
    }
    MainWindow window;
    window.setSuppressMessageBoxes(true);
    const auto& c = window.controls();
    QCOMPARE(c.workload->currentData().toInt(), int(WorkloadKind::Transformer));
    QCOMPARE(c.headDim->value(), 64);
    QCOMPARE(c.targetStrength->value(), 2.5);
    QCOMPARE(c.saliencyQuality->value(), 0.35);
    QCOMPARE(c.saliencyQualitySlider->value(), 35);
    QCOMPARE(c.saliencyBlur->value(), 1.5);
    QVERIFY(!c.headDim->isHidden() && c.sigma->isHidden());
    // What the user left, not the transformer's first view again.
    QCOMPARE(window.lambda(), 3.5);
    QCOMPARE(c.tradeoffY->currentData().toInt(), int(TradeoffY::Pointing));
    const Scenario& scenario = window.engine()->scenario();
    QVERIFY(scenario.isTransformer());
    QCOMPARE(scenario.spec.transformer.headDim, 64);
    QCOMPARE(scenario.spec.transformer.targetStrength, 2.5);
    QCOMPARE(scenario.simulatedSaliency.quality, 0.35);
    QCOMPARE(scenario.simulatedSaliency.blur, 1.5);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QTRY_VERIFY_WITH_TIMEOUT(showsTransformer(window) &&
                                 window.engine()->dataSet()->workload->transformer()->headDim() ==
                                     64,
                             kTimeoutMs);
    QCOMPARE(window.tradeoffPlot()->yQuantity(), TradeoffY::Pointing);
}

void TestGui::dumpReplacesTheTransformerUntilDropped() {
    auto window = transformerWindow(2, 32, 64);
    QVERIFY(window);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    const auto& c = window->controls();
    // A dump opened now is the workload; the box keeps the choice for later, disabled.
    QTemporaryDir dir;
    const AttentionDump dump = writeAttentionDump(dir.path(), QStringLiteral("dump"), 0, 2, 8, 16);
    QVERIFY(openAttentionDump(*window, dump));
    QCOMPARE(errors.size(), 0);
    QVERIFY(!window->engine()->dataSet()->workload->transformer());
    QCOMPARE(window->engine()->dataSet()->workload->keys(), 16);
    QVERIFY(!c.workload->isEnabled() && !c.saliencyQuality->isEnabled() && !c.headDim->isEnabled());
    QCOMPARE(c.workload->currentData().toInt(), int(WorkloadKind::Transformer));
    // A control changed meanwhile keeps the dump.
    window->setLambda(1.5);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    QVERIFY(window->engine()->dataSet()->scenario.hasWorkloadFile());
    // Dropped: the transformer again.
    window->useRandomWorkload();
    QTRY_VERIFY_WITH_TIMEOUT(showsTransformer(*window), kTimeoutMs);
    QVERIFY(c.workload->isEnabled() && c.saliencyQuality->isEnabled());
    // Of the sizes in the boxes, which showed the dump's (as for the random workload).
    QCOMPARE(window->engine()->dataSet()->workload->keys(), c.keys->value());
    QCOMPARE(window->engine()->dataSet()->workload->queries(), c.queries->value());
    QCOMPARE(errors.size(), 0);
}

void TestGui::aLambdaChangeDrawsTheRowsFirst() {
    // The views' rows come before the metrics (the evaluation waits for them), and the matrix
    // comes pooled to the view's pixels by the engine: the same cells the view would make.
    auto window = smallWindow(2, 600, 700);
    QVERIFY(window);
    QVERIFY(window->matrixPlot()->wantedPooling().width() < 700); // fewer pixels than keys
    QStringList order;
    connect(window->engine(), &Engine::rowsFinished, window.get(),
            [&order] { order << QStringLiteral("rows"); });
    connect(window->engine(), &Engine::evaluationFinished, window.get(),
            [&order] { order << QStringLiteral("evaluation"); });
    window->setLambda(0.7);
    QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
    QCOMPARE(order, (QStringList{QStringLiteral("rows"), QStringLiteral("evaluation")}));
    const RowsResult* rows = window->engine()->lastRows();
    QVERIFY(rows->matrixPooled);
    // About the view's pixels, not above them: the view draws it as it is.
    const QSize wanted(rows->matrixPooled->cols, rows->matrixPooled->rows);
    const QRect rect = window->matrixPlot()->customPlot()->axisRect()->rect();
    QVERIFY(wanted.width() <= rect.width() && wanted.width() >= rect.width() * 3 / 4);
    QVERIFY(wanted.height() <= rect.height() && wanted.height() >= rect.height() * 3 / 4);
    const PooledMatrix expected =
        poolMatrix(*rows->matrixSteered, rows->queries, rows->keys, 0, rows->queries, 0, rows->keys,
                   wanted.height(), wanted.width(), Pooling::Max);
    QCOMPARE(rows->matrixPooled->values, expected.values);
    window->matrixPlot()->replotNow();
    QCOMPARE(window->matrixPlot()->shownCells(), wanted);
    QCOMPARE(window->matrixPlot()->shownValue(5, 17),
             expected.values[std::size_t(std::upper_bound(expected.rowStart.begin(),
                                                          expected.rowStart.end(), 5) -
                                         expected.rowStart.begin() - 1) *
                                 std::size_t(expected.cols) +
                             std::size_t(std::upper_bound(expected.colStart.begin(),
                                                          expected.colStart.end(), 17) -
                                         expected.colStart.begin() - 1)]);
}

void TestGui::theWindowOpensOnTheStory() {
    // At launch the per-token view shows how steering rescales each key's attention, A'/A, in
    // the order of s: a rising curve from below 1 to above 1, at the default lambda 0.25.
    auto window = smallWindow();
    QVERIFY(window);
    const auto& c = window->controls();
    QCOMPARE(PerTokenMode(c.perTokenMode->currentData().toInt()), PerTokenMode::RatioBySaliency);
    QCOMPARE(window->perTokenPlot()->mode(), PerTokenMode::RatioBySaliency);
    QVERIFY(!c.sortBySaliency->isEnabled());
    const auto ratio =
        window->perTokenPlot()->customPlot()->graph(PerTokenPlot::RatioGraph)->data();
    QCOMPARE(ratio->size(), 64);
    for (int x = 1; x < ratio->size(); ++x)
        QVERIFY(ratio->at(x)->value >= ratio->at(x - 1)->value * (1 - 1e-9));
    QVERIFY(ratio->at(0)->value < 1 && ratio->at(63)->value > 1);
    QCOMPARE(window->plotData().perTokenMode, PerTokenMode::RatioBySaliency);
    // The choice is kept.
    showValuesPerKey(*window);
    QCOMPARE(window->perTokenPlot()->mode(), PerTokenMode::Values);
    QVERIFY(c.sortBySaliency->isEnabled());
    window->close();
    MainWindow again;
    QCOMPARE(PerTokenMode(again.controls().perTokenMode->currentData().toInt()),
             PerTokenMode::Values);
    QCOMPARE(again.perTokenPlot()->mode(), PerTokenMode::Values);
}

QTEST_MAIN(TestGui)
#include "tst_gui.moc"
