#include "main_window.h"

#include "control_panel.h"
#include "export_actions.h"
#include "heads_panel.h"
#include "heads_plot.h"
#include "matrix_plot.h"
#include "metrics_readout.h"
#include "per_token_plot.h"
#include "plot_panel.h"
#include "progress_indicator.h"
#include "scenario_plot_data.h"
#include "tradeoff_plot.h"
#include "window_settings.h"
#include "workload_controls.h"

#include "attnsteer/errors.h"
#include "attnsteer/option_values.h"
#include "attnsteer/steering.h"

#include <QAction>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QCoreApplication>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QSpinBox>
#include <QStatusBar>
#include <QToolBar>

#include <algorithm>

namespace attnsteer {

namespace {

constexpr int kSweepPoints = 64; ///< lambdas of the tradeoff curve, 0 .. lambda max

} // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), engine_(new Engine(this)), jobs_(new GroundingJobs(engine_, this)) {
    setWindowTitle(tr("AttnSteer — cross-modal attention steering"));
    setAcceptDrops(true);
    setDockOptions(QMainWindow::AnimatedDocks | QMainWindow::AllowTabbedDocks);
    plots_ = new PlotPanel(controls_);
    setCentralWidget(plots_);
    controlPanel_ = new ControlPanel(controls_);
    readout_ = new MetricsReadout(controls_);
    heads_ = new HeadsPanel(controls_);
    addDocks();
    files_ = new FileLoader(
        engine_, [this] { return controlPanel_->scenario(engine_->scenario()); }, this);
    exporter_ = new ExportActions(
        engine_, [this] { return plotData(); }, this);
    buildMenus();
    progress_ = new ProgressIndicator(controls_, statusBar(), this);
    connectParts();
    restoreControls(controls_);
    const auto perTokenMode = PerTokenMode(controls_.perTokenMode->currentData().toInt());
    plots_->perToken()->setMode(perTokenMode);
    controls_.sortBySaliency->setEnabled(perTokenMode == PerTokenMode::Values);
    controlPanel_->applySteeredHeads();
    restoreWindowLayout(*this, *plots_, *plots_->bottomSplitter());
    connectEngine();

    applyBackend(controlPanel_->backend());
    applyControls();
    applyView(controls_.head->value(), controls_.query->value());
    applySweepGrid(controls_.lambdaMax->value(), controls_.sweepSeeds->value());
    constructed_ = true;
    // Start on the next event loop turn: settings made right after construction (tests, the
    // command line) are in place by then, and the window shows at once.
    QMetaObject::invokeMethod(engine_, &Engine::start, Qt::QueuedConnection);
}

MainWindow::~MainWindow() = default;

// ---------------------------------------------------------------------------------------------
// Building the window

void MainWindow::addDocks() {
    auto* controlDock = new QDockWidget(tr("Controls"), this);
    controlDock->setObjectName(QStringLiteral("controlDock"));
    controlDock->setWidget(controlPanel_);
    controlDock->setMinimumWidth(controlPanel_->minimumDockWidth());
    addDockWidget(Qt::LeftDockWidgetArea, controlDock);
    auto* metricsDock = new QDockWidget(tr("Metrics"), this);
    metricsDock->setObjectName(QStringLiteral("metricsDock"));
    metricsDock->setWidget(readout_);
    addDockWidget(Qt::LeftDockWidgetArea, metricsDock);
    resizeDocks({controlDock, metricsDock}, {700, 220}, Qt::Vertical);
    resizeDocks({controlDock}, {controlPanel_->dockWidth()}, Qt::Horizontal);
    // The heads view: computed only while it is shown (a pass over every row of every layer).
    // Closed at first: on one layer of random attention it has little to say, costs a profile per
    // lambda and the room of the other views on a small screen; a dump of several layers opens it
    // (onWorkloadReady), the toolbar's Heads and Ctrl+Shift+H toggle it.
    auto* headsDock = headsDock_ = new QDockWidget(tr("Heads"), this);
    headsDock->setObjectName(QStringLiteral("headsDock"));
    headsDock->setWidget(heads_);
    addDockWidget(Qt::RightDockWidgetArea, headsDock);
    resizeDocks({headsDock}, {330}, Qt::Horizontal);
    headsDock->hide();
    connect(headsDock, &QDockWidget::visibilityChanged, jobs_, &GroundingJobs::setProfileWanted);
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QToolBar* toolbar = addToolBar(tr("Main"));
    toolbar->setObjectName(QStringLiteral("mainToolBar"));
    toolbar->setToolButtonStyle(Qt::ToolButtonTextOnly);
    toolbar->setMovable(false);
    files_->addActions(file, toolbar);
    file->addSeparator();
    exporter_->addActions(file, toolbar, plots_->views());
    exporter_->addView(heads_->plot(), tr("&Heads view..."));
    file->addSeparator();
    auto* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Q));

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    QAction* copy = edit->addAction(tr("&Copy metrics"), this, &MainWindow::copyMetrics);
    copy->setShortcut(QKeySequence::Copy);
    copy->setToolTip(tr("Copy the metrics readout to the clipboard"));

    QMenu* view = menuBar()->addMenu(tr("&View"));
    auto* recomputeAction = view->addAction(tr("&Recompute"), this, &MainWindow::recompute);
    recomputeAction->setShortcut(QKeySequence(Qt::Key_F5));
    recomputeAction->setToolTip(tr("Everything again from scratch, files re-read (F5)"));
    toolbar->addAction(recomputeAction);
    QAction* headsAction = headsDock_->toggleViewAction();
    headsAction->setText(tr("&Heads"));
    headsAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_H));
    headsAction->setToolTip(tr("Show or hide the heads view: a profile of every layer and head, "
                               "which to steer (Ctrl+Shift+H)"));
    toolbar->addAction(headsAction);
    auto* layerAction = view->addAction(tr("Choose &layer"), this, [this] {
        if (!controlPanel_->focusLayer())
            statusBar()->showMessage(tr("This workload has one layer"), 4000);
    });
    layerAction->setObjectName(QStringLiteral("chooseLayerAction"));
    layerAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
    layerAction->setToolTip(tr("Put the keyboard focus on the layer box (Ctrl+L)"));
    auto* steerAction = view->addAction(tr("Steer &top k heads"), this, &MainWindow::steerTopHeads);
    steerAction->setObjectName(QStringLiteral("steerTopKAction"));
    steerAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_K));
    steerAction->setToolTip(tr("Steer the k best heads of the heads view (Ctrl+K)"));
    view->addSeparator();
    for (QDockWidget* dock : findChildren<QDockWidget*>())
        view->addAction(dock->toggleViewAction());
    view->addAction(toolbar->toggleViewAction());

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About AttnSteer"), this, [this] {
        QMessageBox::about(this, tr("About AttnSteer"),
                           tr("<b>AttnSteer %1</b><p>A lab for cross-modal attention steering:<br>"
                              "A′ = softmax(log(A + ε) + λ·s)</p>")
                               .arg(QCoreApplication::applicationVersion()));
    });
}

void MainWindow::connectParts() {
    connect(controlPanel_, &ControlPanel::scenarioEdited, this, &MainWindow::applyControls);
    connect(controlPanel_, &ControlPanel::workloadKindChanged, this,
            &MainWindow::applyWorkloadKind);
    // The tradeoff marker moves at once; the numbers follow.
    connect(controlPanel_, &ControlPanel::lambdaChanged, plots_->tradeoff(),
            &TradeoffPlot::setLambda);
    connect(controlPanel_, &ControlPanel::viewChanged, this, &MainWindow::applyView);
    connect(controlPanel_, &ControlPanel::layerChosen, this, &MainWindow::applyLayer);
    connect(controlPanel_, &ControlPanel::sweepGridChanged, this, &MainWindow::applySweepGrid);
    connect(controlPanel_, &ControlPanel::backendChosen, this, &MainWindow::applyBackend);
    connect(controlPanel_, &ControlPanel::notice, this,
            [this](const QString& message) { showStatus(message, 10000); });
    connect(controls_.perTokenMode, &QComboBox::currentIndexChanged, this, [this] {
        plots_->perToken()->setMode(PerTokenMode(controls_.perTokenMode->currentData().toInt()));
    });
    connect(controls_.sortBySaliency, &QCheckBox::toggled, plots_->perToken(),
            &PerTokenPlot::setSortBySaliency);
    connect(controls_.showDifference, &QCheckBox::toggled, this, &MainWindow::updateMatrixView);
    connect(controls_.matrixLogScale, &QCheckBox::toggled, this, &MainWindow::updateMatrixView);
    connect(plots_, &PlotPanel::queryPicked, controlPanel_, &ControlPanel::setQuery);
    // The engine pools the matrix to the view's pixels, off the GUI thread.
    connect(plots_->matrix(), &MatrixPlot::wantedPoolingChanged, engine_,
            &Engine::setMatrixPooling);
    connect(plots_, &PlotPanel::keyPicked, this, &MainWindow::pickKey);
    connect(readout_, &MetricsReadout::statusMessage, this, &MainWindow::showStatus);
    connect(files_, &FileLoader::errorFound, this, &MainWindow::showError);
    connect(files_, &FileLoader::statusMessage, this, &MainWindow::showStatus);
    connect(exporter_, &ExportActions::errorFound, this, &MainWindow::showError);
    connect(exporter_, &ExportActions::statusMessage, this, &MainWindow::showStatus);
    connect(progress_, &ProgressIndicator::cancelRequested, this, &MainWindow::cancelComputation);
    connect(controlPanel_, &ControlPanel::tradeoffYChanged, this, &MainWindow::updateTradeoff);
    connect(controlPanel_, &ControlPanel::viewChanged, this, &MainWindow::updateHeadsSelection);
    connect(heads_, &HeadsPanel::rankingChanged, this, &MainWindow::updateComparisonHeads);
    connect(heads_, &HeadsPanel::steerTopKRequested, this, &MainWindow::steerTopHeads);
    connect(heads_->plot(), &HeadsPlot::headPicked, this, &MainWindow::pickHead);
}

void MainWindow::connectEngine() {
    connect(engine_, &Engine::workloadStarted, this,
            [this] { statusBar()->showMessage(tr("Preparing workload and saliency...")); });
    connect(engine_, &Engine::workloadReady, this, &MainWindow::onWorkloadReady);
    connect(engine_, &Engine::rowsFinished, this, &MainWindow::onRowsFinished);
    connect(engine_, &Engine::evaluationFinished, this, &MainWindow::onEvaluationFinished);
    connect(engine_, &Engine::sweepFinished, this, &MainWindow::onSweepFinished);
    connect(engine_, &Engine::failed, this, &MainWindow::showError);
    connect(engine_, &Engine::scenarioRestored, this,
            [this] { controlPanel_->showProjection(engine_->scenario().projection); });
    connect(engine_, &Engine::backendFellBack, this, &MainWindow::showBackendFallback);
    connect(engine_, &Engine::backendUnavailable, this, [this](const QString& message) {
        controlPanel_->showBackend(BackendKind::Cpu);
        showError(message);
    });
    connect(engine_, &Engine::progressChanged, progress_, &ProgressIndicator::setProgress);
    connect(engine_, &Engine::busyChanged, this, &MainWindow::onBusyChanged);
    connect(jobs_, &GroundingJobs::groundingFinished, this, [this] {
        progress_->finish(ProgressIndicator::Task::Grounding);
        updateReadout();
    });
    connect(jobs_, &GroundingJobs::profileFinished, this, [this] {
        progress_->finish(ProgressIndicator::Task::Profile);
        updateHeadsView();
    });
    connect(jobs_, &GroundingJobs::comparisonFinished, this, [this] {
        progress_->finish(ProgressIndicator::Task::ComparisonSweep);
        updateTradeoff();
    });
    connect(jobs_, &GroundingJobs::failed, this, &MainWindow::showError);
    connect(jobs_, &GroundingJobs::progressChanged, progress_, &ProgressIndicator::setProgress);
    connect(jobs_, &GroundingJobs::busyChanged, this, &MainWindow::onBusyChanged);
}

void MainWindow::resizeEvent(QResizeEvent* event) {
    QMainWindow::resizeEvent(event);
    fitControlDock();
}

void MainWindow::showEvent(QShowEvent* event) {
    QMainWindow::showEvent(event);
    fitControlDock();
}

void MainWindow::fitControlDock() {
    auto* dock = findChild<QDockWidget*>(QStringLiteral("controlDock"));
    if (!dock || dock->isFloating() || !dock->isVisible())
        return;
    const int most = std::max(width() / 3, controlPanel_->minimumDockWidth());
    if (dock->width() > most)
        resizeDocks({dock}, {most}, Qt::Horizontal);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    saveControls(controls_, controlPanel_->steeredHeadsText());
    saveWindowLayout(*this, *plots_, *plots_->bottomSplitter());
    engine_->cancel();
    jobs_->cancel();
    QMainWindow::closeEvent(event);
}

// ---------------------------------------------------------------------------------------------
// Controls -> engine

void MainWindow::applyControls() {
    engine_->setScenario(controlPanel_->scenario(engine_->scenario())); // keeps the files
}

void MainWindow::applyWorkloadKind(WorkloadKind kind) {
    if (constructed_ && kind == WorkloadKind::Transformer)
        showTransformerView();
    applyControls();
}

void MainWindow::showTransformerView() {
    TransformerStoryView view;
    try {
        view = transformerStoryView(generatedSpec(controlPanel_->scenario(engine_->scenario())));
    } catch (const InputError&) {
        return; // sizes the transformer refuses: the data set says why
    }
    {
        // One change for the engine, not one per control.
        const QSignalBlocker blocker(controlPanel_);
        controls_.lambdaMax->setValue(view.lambdaMax);
        controlPanel_->setLambda(view.lambda);
        // The boxes' ranges are the shown workload's until the new one is ready.
        controls_.head->setMaximum(std::max(controls_.head->maximum(), view.head));
        controls_.query->setMaximum(std::max(controls_.query->maximum(), view.query));
        controls_.head->setValue(view.head);
        controls_.query->setValue(view.query);
        controls_.tradeoffY->setCurrentIndex(
            controls_.tradeoffY->findData(int(TradeoffY::Pointing)));
    }
    // The per-token view in key order: the image band with the object's tokens in it.
    controls_.perTokenMode->setCurrentIndex(
        controls_.perTokenMode->findData(int(PerTokenMode::Values)));
    applySweepGrid(controls_.lambdaMax->value(), controls_.sweepSeeds->value());
    applyView(controls_.head->value(), controls_.query->value());
    plots_->tradeoff()->setLambda(controlPanel_->lambda());
    updateTradeoff();
    updateHeadsSelection();
}

void MainWindow::setWorkloadKind(WorkloadKind kind) {
    controls_.workload->setCurrentIndex(controls_.workload->findData(int(kind)));
}

void MainWindow::applyView(int head, int query) {
    engine_->setView(head, query);
    updateReadout(); // the per-head column follows the head at once
}

void MainWindow::applyLayer(std::optional<int> layer) {
    Scenario scenario = controlPanel_->scenario(engine_->scenario());
    scenario.layer = layer;
    engine_->setScenario(scenario);
    updateHeadsSelection();
}

void MainWindow::pickHead(int layer, int head) {
    const auto data = engine_->dataSet();
    if (!data)
        return;
    if (data->fullWorkload->sourceLayers() > 1)
        setLayer(layer);
    controls_.head->setValue(head);
    updateHeadsSelection();
    statusBar()->showMessage(tr("layer %1, head %2").arg(layer).arg(head), 3000);
}

void MainWindow::updateHeadsSelection() {
    const std::optional<int> chosen = controlPanel_->layer();
    heads_->plot()->setSelection(chosen ? *chosen : -1, controls_.head->value());
}

bool MainWindow::steerTopHeads() {
    const auto data = engine_->dataSet();
    const std::vector<LayerHead> top = heads_->topHeads();
    if (!data || top.empty()) {
        statusBar()->showMessage(tr("No head profile yet: show the heads view and wait for it"),
                                 6000);
        return false;
    }
    // A source of one layer: plain heads; else each in its layer ("L2H5").
    std::vector<int> plain;
    if (data->fullWorkload->sourceLayers() == 1)
        for (const LayerHead& one : top)
            plain.push_back(one.head);
    const std::string text =
        plain.empty() ? steeredHeadsText({}, top) : steeredHeadsText(plain, {});
    controlPanel_->steerHeads(QString::fromStdString(text));
    statusBar()->showMessage(tr("Steering the top %1 heads by %2: %3")
                                 .arg(top.size())
                                 .arg(heads_->column(), QString::fromStdString(text)),
                             6000);
    return true;
}

void MainWindow::pickKey(int key) {
    const auto data = engine_->dataSet();
    if (!data)
        return;
    const int queries = data->workload->queries(), keys = data->workload->keys();
    // The sidecar's query positions, else the last Q keys (the query itself when Q = K).
    const int query =
        data->meta ? data->meta->queryOfKey(key, queries, keys) : key - (keys - queries);
    if (query < 0 || query >= queries) {
        statusBar()->showMessage(tr("key %1 is not a query row").arg(key), 6000);
        return;
    }
    controlPanel_->setQuery(query);
    statusBar()->showMessage(tr("query %1 (key %2)").arg(query).arg(key), 3000);
}

std::optional<int> MainWindow::layer() const {
    return controlPanel_->layer();
}

void MainWindow::setLayer(std::optional<int> layer) {
    const int index = controls_.layer->findData(layer ? *layer : -1);
    if (index >= 0)
        controls_.layer->setCurrentIndex(index);
}

void MainWindow::applySweepGrid(double lambdaMax, int seeds) {
    engine_->setSweepGrid(lambdaMax, kSweepPoints, seeds);
}

void MainWindow::applyBackend(BackendKind kind) {
    if (!engine_->setBackend(kind)) // no CUDA backend: backendUnavailable has said why
        controlPanel_->showBackend(engine_->backend());
}

void MainWindow::showBackendFallback(const QString& reason) {
    controlPanel_->showBackend(BackendKind::Cpu);
    showError(tr("CUDA backend failed, using the CPU: %1").arg(reason));
    statusBar()->showMessage(tr("CUDA failed (%1); computing on the CPU").arg(reason), 10000);
}

void MainWindow::setWorkloadSize(int heads, int queries, int keys) {
    controlPanel_->setWorkloadSize(heads, queries, keys);
}

void MainWindow::setSeed(int seed) {
    controls_.seed->setValue(seed);
}

void MainWindow::setLambda(double lambda) {
    controlPanel_->setLambda(lambda);
}

double MainWindow::lambda() const {
    return controlPanel_->lambda();
}

void MainWindow::setSweepSeeds(int seeds) {
    controls_.sweepSeeds->setValue(seeds);
}

void MainWindow::setProjection(const ProjectionOptions& options) {
    controlPanel_->showProjection(options);
    applyControls();
}

ProjectionOptions MainWindow::projection() const {
    return controlPanel_->projection();
}

BackendKind MainWindow::setBackend(BackendKind kind) {
    controlPanel_->chooseBackend(kind);
    return engine_->backend();
}

// ---------------------------------------------------------------------------------------------
// Engine -> views

void MainWindow::onWorkloadReady() {
    const auto data = engine_->dataSet();
    const Workload& workload = *data->workload;
    const Workload& full = *data->fullWorkload;
    controlPanel_->showWorkload(workload, data->scenario.hasWorkloadFile(), engine_->head(),
                                engine_->query());
    controlPanel_->showLayers(full.sourceLayers(), workload.layers() == 1 && full.sourceLayers() > 1
                                                       ? std::optional<int>(workload.sourceLayer(0))
                                                       : std::nullopt);
    plots_->showSaliency(viewData(WithMatrix::No));
    controlPanel_->showSources(data->scenario);
    controlPanel_->showTargetAvailable(data->grounding.hasTarget());
    // A dump of several layers brings up the heads view once: which heads to steer is its
    // question.
    if (full.sourceLayers() > 1 && full.label() != headsShownFor_) {
        headsShownFor_ = full.label();
        headsDock_->show();
    }
    updateHeadsView();
    updateHeadsSelection();
    // A dump: its layers x heads x queries x keys and dtype in the title and the status bar.
    QString sizes =
        tr("%1 × %2 × %3").arg(workload.heads()).arg(workload.queries()).arg(workload.keys());
    if (data->scenario.hasWorkloadFile()) {
        sizes = tr("%1 %2 × %3 heads × %4 queries × %5 keys, %6")
                    .arg(full.sourceLayers())
                    .arg(full.sourceLayers() == 1 ? tr("layer") : tr("layers"))
                    .arg(full.headsPerLayer())
                    .arg(full.queries())
                    .arg(full.keys())
                    .arg(QString::fromStdString(full.storedDtype()));
        setWindowTitle(tr("AttnSteer — %1 (%2)")
                           .arg(QFileInfo(QString::fromStdString(full.label())).fileName(), sizes));
    } else {
        setWindowTitle(tr("AttnSteer — cross-modal attention steering"));
    }
    if (!data->saliency.warning.empty())
        statusBar()->showMessage(QString::fromStdString(data->saliency.warning), 8000);
    else if (!data->metaImageWarning.empty())
        statusBar()->showMessage(QString::fromStdString(data->metaImageWarning), 8000);
    else
        statusBar()->showMessage(tr("Workload ready: %1").arg(sizes), 4000);
    updateReadout();
}

void MainWindow::onRowsFinished() {
    plots_->showRows(viewData(WithMatrix::Shared));
    updateComputeTimes();
}

void MainWindow::updateMatrixView() {
    if (engine_->lastRows())
        plots_->showMatrix(viewData(WithMatrix::Shared));
}

void MainWindow::onEvaluationFinished() {
    progress_->finish(ProgressIndicator::Task::Evaluation);
    updateReadout();
    updateHeadsView(); // says whether it is of this lambda and steering
    updateComputeTimes();
}

void MainWindow::onSweepFinished() {
    progress_->finish(ProgressIndicator::Task::Sweep);
    updateTradeoff();
    updateComputeTimes();
}

void MainWindow::updateTradeoff() {
    PlotData data = viewData(WithMatrix::No);
    data.lambda = controlPanel_->lambda(); // the marker where the controls are, as lambdaChanged
    plots_->showSweep(data);
}

void MainWindow::updateHeadsView() {
    const auto data = engine_->dataSet();
    const ProfileResult* result = jobs_->lastProfile();
    if (!data || !result || result->key.workloadId != data->fullWorkload->id()) {
        heads_->showProfile(nullptr, 0, 0, false);
        heads_->showStatus(tr("Computing the profile of every layer and head..."));
    } else {
        const EvaluationResult* evaluation = engine_->lastEvaluation();
        const bool current =
            evaluation && evaluation->epoch == data->epoch &&
            result->key == GroundingJobs::profileKey(*data, evaluation->request.params);
        heads_->showProfile(result->profile, result->layers, result->headsPerLayer, current);
    }
    updateComparisonHeads();
}

void MainWindow::updateComparisonHeads() {
    const std::vector<LayerHead> top = heads_->topHeads();
    if (top == jobs_->comparisonHeads())
        return;
    jobs_->setComparisonHeads(top);
    updateTradeoff(); // the old curve goes; the new one follows
}

void MainWindow::onBusyChanged() {
    const bool busy = engine_->isBusy() || jobs_->isBusy();
    progress_->setBusy(busy);
    if (busy && cancelled_) {
        cancelled_ = false;
        updateReadout();
    }
}

void MainWindow::updateReadout() {
    readout_->showEvaluation(engine_->dataSet().get(), engine_->lastEvaluation(),
                             jobs_->lastGrounding(), controlPanel_->head(),
                             controlPanel_->steeredHeadsText(), cancelled_);
}

void MainWindow::updateComputeTimes() {
    progress_->showComputeTimes(engine_->lastEvaluation(), engine_->lastRows(),
                                engine_->lastSweep());
}

PerTokenPlot* MainWindow::perTokenPlot() const {
    return plots_->perToken();
}

TradeoffPlot* MainWindow::tradeoffPlot() const {
    return plots_->tradeoff();
}

SaliencyGridPlot* MainWindow::saliencyGridPlot() const {
    return plots_->grid();
}

MatrixPlot* MainWindow::matrixPlot() const {
    return plots_->matrix();
}

HeadsPlot* MainWindow::headsPlot() const {
    return heads_->plot();
}

QString MainWindow::metricsText() const {
    return readout_->text();
}

QString MainWindow::imageCaption() const {
    return controls_.imageCaption->text();
}

PlotData MainWindow::viewData(WithMatrix withMatrix) const {
    PlotSources sources;
    std::shared_ptr<const std::vector<double>> shared;
    std::shared_ptr<const PooledMatrix> pooled;
    sources.lambda = controlPanel_->lambda();
    const auto set = engine_->dataSet();
    if (set) {
        sources.visionOffset = set->projection.visionOffset;
        sources.grid = set->projection.grid;
        sources.meta = set->meta ? &*set->meta : nullptr;
        sources.metaImage = set->metaImage;
        sources.raw = &set->raw;
        sources.saliency = set->saliency.values;
        sources.image = set->raw.image;
        if (!set->scenario.hasWorkloadFile())
            sources.seed = (long long)set->scenario.spec.seed;
        sources.target = set->grounding.target;
    }
    if (const RowsResult* rows = engine_->lastRows()) {
        sources.head = rows->request.head;
        sources.query = rows->request.query;
        sources.layer = rows->layer;
        sources.layersAveraged = rows->layers;
        sources.lambda = rows->request.params.lambda;
        // Steered in some layer shown (a head of one layer: "L5H3").
        sources.headSteered = !set;
        if (set)
            for (int layer = 0; layer < set->workload->layers(); ++layer)
                sources.headSteered |=
                    isUnitSteered(*set->workload, rows->request.params,
                                  set->workload->unitOf(layer, rows->request.head));
        sources.row = &rows->row;
        sources.queryMeanAttention = rows->queryMeanOriginal;
        sources.queryMeanSteered = rows->queryMeanSteered;
        sources.queryMeanRows = rows->queries;
        sources.matrixQueries = rows->queries;
        sources.matrixKeys = rows->keys;
        sources.matrixIsDifference = controls_.showDifference->isChecked();
        if (rows->matrixSteered && withMatrix == WithMatrix::Shared &&
            !sources.matrixIsDifference) {
            shared = rows->matrixSteered; // A' as the engine holds it
            pooled = rows->matrixPooled;
        } else if (rows->matrixSteered && withMatrix != WithMatrix::No) {
            sources.matrix = *rows->matrixSteered;
            if (sources.matrixIsDifference)
                steering::subtractOriginal(rows->matrixOriginal->data(), sources.matrix.size(),
                                           sources.matrix.data());
        }
    }
    if (const SweepOutcome* sweep = engine_->lastSweep()) {
        sources.sweep = sweep->rows;
        sources.sweepSeeds = int(sweep->seeds.size());
        sources.sweepFirstSeed = sweep->seeds.empty() ? 0 : sweep->seeds.front();
    }
    PlotData data = assemblePlotData(std::move(sources));
    plots_->addViewSettings(data);
    // The tradeoff view: its y axis, what each curve steers, the top-k heads' curve.
    data.tradeoffY = controlPanel_->tradeoffY();
    const QString steered = controlPanel_->steeredHeadsText();
    data.sweepLabel =
        steered == QStringLiteral("all") ? tr("all heads") : tr("steered: %1").arg(steered);
    const ComparisonResult* comparison = jobs_->lastComparison();
    if (set && comparison && comparison->epoch == set->epoch &&
        comparison->heads == jobs_->comparisonHeads()) {
        data.sweepCompare = comparison->sweep.rows;
        data.sweepCompareLabel = tr("steered: top-%1 heads").arg(comparison->heads.size());
    }
    // The heads view, when it has a profile of this source.
    if (const ProfileResult* profile = jobs_->lastProfile();
        set && profile && profile->key.workloadId == set->fullWorkload->id()) {
        data.profile = profile->profile;
        data.profileLayers = profile->layers;
        data.profileHeadsPerLayer = profile->headsPerLayer;
        data.headsColumn = heads_->column();
        data.headsTopK = heads_->topK();
        data.selectedLayer = controlPanel_->layer().value_or(-1);
        data.selectedHead = controls_.head->value();
    }
    // The views read the matrix: shared, not copied (megabytes every lambda).
    data.pooledMatrix = std::move(pooled);
    if (shared)
        data.sharedMatrix = std::move(shared);
    else if (withMatrix == WithMatrix::Shared && !data.matrix.empty())
        data.sharedMatrix = std::make_shared<const std::vector<double>>(std::move(data.matrix));
    return data;
}

// ---------------------------------------------------------------------------------------------
// Files, export, the readout

QString MainWindow::samplesFolder() {
    return FileLoader::samplesFolder();
}

QStringList MainWindow::sampleImages() {
    return FileLoader::sampleImages();
}

bool MainWindow::loadSaliencyImage(const QString& path) {
    return files_->loadSaliencyImage(path);
}

bool MainWindow::loadTargetMask(const QString& path) {
    return files_->loadTargetMask(path);
}

void MainWindow::openTargetNpy(const QString& path) {
    files_->openTargetNpy(path);
}

void MainWindow::clearTarget() {
    files_->clearTarget();
}

void MainWindow::openNpy(const QString& path, NpyKind kind) {
    files_->openNpy(path, kind);
}

void MainWindow::openDump(const QString& path, NpyKind kind, std::optional<int> layer,
                          const QString& metaPath) {
    files_->openNpy(path, kind, layer, metaPath);
}

void MainWindow::useRandomWorkload() {
    files_->useRandomWorkload();
}

void MainWindow::useRandomSaliency() {
    files_->useRandomSaliency();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (!FileLoader::droppedImage(event->mimeData()).isEmpty())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const QString path = FileLoader::droppedImage(event->mimeData());
    if (path.isEmpty())
        return;
    event->acceptProposedAction();
    loadSaliencyImage(path);
}

bool MainWindow::exportView(PlotView* view, const QString& path, QSize size, double scale, bool pdf,
                            bool overwrite) {
    return exporter_->exportView(view, path, size, scale, pdf, overwrite);
}

ExportResult MainWindow::exportAll(const QString& dir, QSize size, bool overwrite) {
    return exporter_->exportAll(dir, size, overwrite);
}

bool MainWindow::exportFigure(PlotView* view, const QString& path, const FigureSpec& spec,
                              bool overwrite) {
    return exporter_->exportFigure(view, path, spec, overwrite);
}

ExportResult MainWindow::exportAll(const QString& dir, const FigureSpec& spec, bool overwrite) {
    return exporter_->exportAll(dir, spec, overwrite);
}

bool MainWindow::exportSweepCsv(const QString& path, bool overwrite) {
    return exporter_->exportSweepCsv(path, overwrite);
}

void MainWindow::copyMetrics() {
    readout_->copy();
}

void MainWindow::recompute() {
    cancelled_ = false;
    engine_->start();
}

void MainWindow::cancelComputation() {
    const bool busy = engine_->isBusy() || jobs_->isBusy();
    engine_->cancel();
    jobs_->cancel();
    if (!busy)
        return;
    cancelled_ = true;
    progress_->clear();
    updateReadout();
    statusBar()->showMessage(
        tr("Cancelled: the views keep what they show; change a setting or press F5 to compute "
           "again"),
        10000);
}

void MainWindow::showStatus(const QString& message, int timeoutMs) {
    statusBar()->showMessage(message, timeoutMs);
}

void MainWindow::showError(const QString& message) {
    statusBar()->showMessage(message, 10000);
    emit errorShown(message);
    if (suppressMessageBoxes_)
        return;
    if (errorBox_ && errorBox_->isVisible()) {
        if (errorBox_->text() == message)
            return;
        errorBox_->setText(errorBox_->text() + QLatin1Char('\n') + message);
        return;
    }
    errorBox_ =
        new QMessageBox(QMessageBox::Warning, tr("AttnSteer"), message, QMessageBox::Ok, this);
    errorBox_->setAttribute(Qt::WA_DeleteOnClose);
    errorBox_->open(); // window-modal, does not block: the window keeps working behind it
}

} // namespace attnsteer
