#include "main_window.h"

#include "sweep_csv.h"

#include "export_dialog.h"
#include "matrix_plot.h"
#include "option_values.h"
#include "panels.h"
#include "per_token_plot.h"
#include "saliency_grid_plot.h"
#include "saliency_image.h"
#include "sci_spin_box.h"
#include "tradeoff_plot.h"

#include "attnsteer/errors.h"
#include "attnsteer/gpu.h"

#include <qcustomplot.h>

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QCloseEvent>
#include <QCollator>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QImageReader>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QScreen>
#include <QScrollArea>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardItemModel>
#include <QStatusBar>
#include <QToolBar>
#include <QToolButton>
#include <QUrl>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace attnsteer {

namespace {

constexpr int kLambdaSteps = 1000; ///< positions of the lambda slider
constexpr int kSeedSliderMax = 99; ///< the seed slider covers 0..99, the spin box more
constexpr int kSweepPoints = 64;   ///< lambdas of the tradeoff curve, 0 .. lambda max

const QStringList kImageSuffixes = {"png", "jpg", "jpeg", "bmp", "tif", "tiff"};

QString number(double value, int digits = 6) {
    return QString::number(value, 'g', digits);
}

QString fileName(const std::string& path) {
    return QFileInfo(QString::fromStdString(path)).fileName();
}

/// A label in the form: "λ" etc. with a tooltip shared with its field.
QLabel* formLabel(const QString& text, QWidget* buddy) {
    auto* label = new QLabel(text);
    label->setBuddy(buddy);
    label->setToolTip(buddy->toolTip());
    return label;
}

template <typename Widget> Widget* named(Widget* widget, const char* name, const QString& tip) {
    widget->setObjectName(QString::fromLatin1(name));
    widget->setToolTip(tip);
    return widget;
}

} // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent), engine_(new Engine(this)) {
    setWindowTitle(tr("AttnSteer — cross-modal attention steering"));
    setAcceptDrops(true);
    setDockOptions(QMainWindow::AnimatedDocks | QMainWindow::AllowTabbedDocks);
    buildViews();
    buildControls();
    buildActions();
    buildStatusBar();
    restoreSettings();

    connect(engine_, &Engine::workloadStarted, this,
            [this] { statusBar()->showMessage(tr("Preparing workload and saliency...")); });
    connect(engine_, &Engine::workloadReady, this, &MainWindow::onWorkloadReady);
    connect(engine_, &Engine::rowsFinished, this, &MainWindow::onRowsFinished);
    connect(engine_, &Engine::evaluationFinished, this, &MainWindow::onEvaluationFinished);
    connect(engine_, &Engine::sweepFinished, this, &MainWindow::onSweepFinished);
    connect(engine_, &Engine::failed, this, &MainWindow::showError);
    connect(engine_, &Engine::scenarioRestored, this,
            [this] { syncProjectionControls(engine_->scenario().projection); });
    connect(engine_, &Engine::backendFellBack, this, &MainWindow::showBackendFallback);
    connect(engine_, &Engine::progressChanged, this, &MainWindow::onProgress);
    connect(engine_, &Engine::busyChanged, this, &MainWindow::onBusyChanged);

    applyBackendBox();
    engine_->setScenario(scenarioFromControls());
    applyView();
    applySweepGrid();
    // Start on the next event loop turn: settings made right after construction (tests, the
    // command line) are in place by then, and the window shows at once.
    QMetaObject::invokeMethod(engine_, &Engine::start, Qt::QueuedConnection);
}

MainWindow::~MainWindow() = default;

// ---------------------------------------------------------------------------------------------
// Building the window

void MainWindow::buildViews() {
    perToken_ = new PerTokenPlot;
    perToken_->setObjectName(QStringLiteral("perTokenPlot"));
    tradeoff_ = new TradeoffPlot;
    tradeoff_->setObjectName(QStringLiteral("tradeoffPlot"));
    grid_ = new SaliencyGridPlot;
    grid_->setObjectName(QStringLiteral("saliencyGridPlot"));
    matrix_ = new MatrixPlot;
    matrix_->setObjectName(QStringLiteral("matrixPlot"));

    // The image panel: the grid, its caption and the overlay opacity.
    controls_.imageCaption =
        named(new QLabel, "imageCaption", tr("The vision-token grid the saliency is shown on"));
    controls_.imageCaption->setTextInteractionFlags(Qt::TextSelectableByMouse);
    controls_.imageCaption->setWordWrap(true);
    controls_.imageCaption->setAlignment(Qt::AlignHCenter | Qt::AlignTop);
    controls_.imageCaption->setContentsMargins(6, 0, 6, 0);
    auto* opacityRowWidget = new QWidget;
    auto* opacityRow = new QHBoxLayout(opacityRowWidget);
    opacityRow->setContentsMargins(6, 0, 6, 4);
    controls_.overlayOpacity =
        named(new QSlider(Qt::Horizontal), "overlayOpacity",
              tr("Opacity of the saliency heat overlay over a loaded image (0–100 %)"));
    controls_.overlayOpacity->setRange(0, 100);
    controls_.overlayOpacity->setValue(55);
    opacityRow->addWidget(formLabel(tr("Overlay opacity"), controls_.overlayOpacity));
    opacityRow->addWidget(controls_.overlayOpacity, 1);
    saliencyPanel_ = new SaliencyPanel(grid_, controls_.imageCaption, opacityRowWidget);
    saliencyPanel_->setObjectName(QStringLiteral("saliencyPanel"));

    bottomSplitter_ = new QSplitter(Qt::Horizontal);
    bottomSplitter_->setObjectName(QStringLiteral("bottomSplitter"));
    bottomSplitter_->addWidget(tradeoff_);
    bottomSplitter_->addWidget(saliencyPanel_);
    bottomSplitter_->addWidget(matrix_);
    bottomSplitter_->setChildrenCollapsible(false);
    mainSplitter_ = new QSplitter(Qt::Vertical);
    mainSplitter_->setObjectName(QStringLiteral("mainSplitter"));
    mainSplitter_->addWidget(perToken_);
    mainSplitter_->addWidget(bottomSplitter_);
    mainSplitter_->setChildrenCollapsible(false);
    mainSplitter_->setStretchFactor(0, 4);
    mainSplitter_->setStretchFactor(1, 5);
    setCentralWidget(mainSplitter_);

    connect(grid_, &SaliencyGridPlot::tokenHovered, perToken_, &PerTokenPlot::highlightToken);
    connect(perToken_, &PerTokenPlot::tokenHovered, grid_, &SaliencyGridPlot::highlightToken);
    connect(matrix_, &MatrixPlot::queryPicked, this,
            [this](int query) { controls_.query->setValue(query); });
    for (PlotView* view : {static_cast<PlotView*>(perToken_), static_cast<PlotView*>(tradeoff_),
                           static_cast<PlotView*>(grid_), static_cast<PlotView*>(matrix_)})
        connect(view, &PlotView::exportRequested, this,
                [this, view] { exportViewInteractively(view); });
}

void MainWindow::buildControls() {
    Controls& c = controls_;
    auto* panel = new QWidget;
    auto* layout = new QVBoxLayout(panel);
    layout->setContentsMargins(6, 6, 6, 6);

    // --- steering ---
    auto* steering = new QGroupBox(tr("Steering  A′ = softmax(log(A + ε) + λ·s)"));
    auto* steeringForm = new QFormLayout(steering);
    c.lambdaSlider = named(new QSlider(Qt::Horizontal), "lambdaSlider",
                           tr("Steering strength λ from 0 to the maximum below"));
    c.lambdaSlider->setRange(0, kLambdaSteps);
    c.lambdaSlider->setPageStep(kLambdaSteps / 20);
    c.lambda = named(new QDoubleSpinBox, "lambda", tr("Steering strength λ (3 decimals)"));
    c.lambda->setDecimals(3);
    c.lambda->setRange(0, 1);
    c.lambda->setSingleStep(0.01);
    c.lambda->setValue(0.25);
    c.lambda->setMinimumWidth(80);
    auto* lambdaRow = new QHBoxLayout;
    lambdaRow->addWidget(c.lambdaSlider, 1);
    lambdaRow->addWidget(c.lambda);
    steeringForm->addRow(formLabel(tr("λ"), c.lambda), lambdaRow);
    c.lambdaMax = named(new QDoubleSpinBox, "lambdaMax",
                        tr("Largest λ of the slider and of the tradeoff sweep"));
    c.lambdaMax->setDecimals(3);
    c.lambdaMax->setRange(0.001, 1000);
    c.lambdaMax->setValue(1);
    c.lambdaMax->setKeyboardTracking(false);
    steeringForm->addRow(formLabel(tr("λ max"), c.lambdaMax), c.lambdaMax);
    c.eps = named(new SciSpinBox, "eps",
                  tr("ε added to A before the log (0 allowed: log 0 = −∞); arrows step ×10"));
    c.eps->setRange(0, 1);
    c.eps->setValue(1e-9);
    steeringForm->addRow(formLabel(tr("ε"), c.eps), c.eps);
    c.normalization = named(new QComboBox, "normalization",
                            tr("How raw saliency becomes s: max (x / max|x|), minmax, zscore "
                               "(temperature-scaled bias), none"));
    for (const char* mode : {"max", "minmax", "zscore", "none"})
        c.normalization->addItem(QString::fromLatin1(mode));
    steeringForm->addRow(formLabel(tr("Normalization"), c.normalization), c.normalization);
    c.steeredHeads = named(new QLineEdit(QStringLiteral("all")), "steeredHeads",
                           tr("Heads that get the bias: \"all\", a list \"0,3,5\" or a range "
                              "\"0:7\" (press Enter to apply)"));
    steeringForm->addRow(formLabel(tr("Steered heads"), c.steeredHeads), c.steeredHeads);
    c.backend = named(new QComboBox, "backend",
                      tr("Where the evaluation and the tradeoff sweep run (the per-token row and "
                         "the matrix are always computed on the CPU)"));
    c.backend->addItem(tr("CPU (Eigen, OpenMP)"), QStringLiteral("cpu"));
    const bool cuda = gpu::isAvailable();
    c.backend->addItem(cuda ? tr("CUDA — %1").arg(QString::fromStdString(gpu::deviceName()))
                            : tr("CUDA — not available"),
                       QStringLiteral("cuda"));
    if (auto* model = qobject_cast<QStandardItemModel*>(c.backend->model())) {
        QStandardItem* item = model->item(1);
        item->setEnabled(cuda);
        item->setToolTip(cuda ? tr("%1, %2 GiB of device memory")
                                    .arg(QString::fromStdString(gpu::deviceName()))
                                    .arg(double(gpu::deviceMemoryBytes()) / (1u << 30), 0, 'f', 0)
                              : QString::fromStdString(gpu::unavailableReason()));
    }
    c.backend->setCurrentIndex(cuda ? 1 : 0); // like --backend auto
    steeringForm->addRow(formLabel(tr("Backend"), c.backend), c.backend);
    layout->addWidget(steering);

    // --- workload ---
    auto* workload = new QGroupBox(tr("Workload  A = softmax(Z), Z ~ N(0, σ)"));
    auto* workloadForm = new QFormLayout(workload);
    c.seedSlider = named(new QSlider(Qt::Horizontal), "seedSlider",
                         tr("Seed of the random logits and saliency (0–99; more in the box)"));
    c.seedSlider->setRange(0, kSeedSliderMax);
    c.seedSlider->setTracking(false);
    c.seed = named(new QSpinBox, "seed", tr("Seed of the random logits and saliency"));
    c.seed->setRange(0, std::numeric_limits<int>::max());
    c.seed->setKeyboardTracking(false);
    c.seed->setMinimumWidth(80);
    auto* seedRow = new QHBoxLayout;
    seedRow->addWidget(c.seedSlider, 1);
    seedRow->addWidget(c.seed);
    workloadForm->addRow(formLabel(tr("Seed"), c.seed), seedRow);
    auto sizeBox = [](const char* name, const QString& tip, int value, int max) {
        auto* box = named(new QSpinBox, name, tip);
        box->setRange(1, max);
        box->setValue(value);
        box->setKeyboardTracking(false);
        return box;
    };
    c.heads = sizeBox("heads", tr("Attention heads H of the random workload"), 32, 4096);
    c.queries = sizeBox("queries", tr("Queries Q per head of the random workload"), 1024, 1 << 20);
    c.keys = sizeBox("keys", tr("Key tokens K of the random workload"), 1024, 1 << 20);
    auto* sizeRow = new QHBoxLayout;
    sizeRow->addWidget(c.heads);
    sizeRow->addWidget(new QLabel(QStringLiteral("×")));
    sizeRow->addWidget(c.queries);
    sizeRow->addWidget(new QLabel(QStringLiteral("×")));
    sizeRow->addWidget(c.keys);
    auto* sizeLabel = new QLabel(tr("H × Q × K"));
    sizeLabel->setToolTip(tr("Heads × queries × keys of the random workload"));
    workloadForm->addRow(sizeLabel, sizeRow);
    c.sigma = named(new QDoubleSpinBox, "sigma",
                    tr("Standard deviation σ of the random logits Z (0 gives uniform A)"));
    c.sigma->setDecimals(3);
    c.sigma->setRange(0, 100);
    c.sigma->setSingleStep(0.05);
    c.sigma->setValue(0.1);
    c.sigma->setKeyboardTracking(false);
    workloadForm->addRow(formLabel(tr("Logit σ"), c.sigma), c.sigma);
    c.source = named(new QLabel, "source", tr("Where the workload and the saliency come from"));
    c.source->setWordWrap(true);
    c.source->setTextInteractionFlags(Qt::TextSelectableByMouse);
    workloadForm->addRow(c.source);
    layout->addWidget(workload);

    // --- how a saliency image becomes per-key saliency ---
    auto* projectionBox = new QGroupBox(tr("Saliency image"));
    projectionBox->setToolTip(tr("How a loaded saliency image becomes per-key saliency, the way "
                                 "Qwen2-VL tokenizes an image"));
    auto* projectionLayout = new QVBoxLayout(projectionBox);
    projectionLayout->setContentsMargins(6, 2, 6, 4);
    auto* projectionForm = new QWidget;
    // Two fields a row: five rows would push the views out of the dock.
    auto* projection = new QGridLayout(projectionForm);
    projection->setContentsMargins(4, 0, 0, 0);
    projection->setColumnStretch(1, 1);
    projection->setColumnStretch(3, 1);
    const ProjectionOptions defaults;
    auto countBox = [](const char* name, const QString& tip, int min, int max, int value) {
        auto* box = named(new QSpinBox, name, tip);
        box->setRange(min, max);
        box->setValue(value);
        box->setKeyboardTracking(false);
        box->setGroupSeparatorShown(true);
        return box;
    };
    c.visionOffset =
        countBox("visionOffset",
                 tr("First key index of the vision tokens: the projected image tokens are placed "
                    "at keys offset .. offset + tokens − 1 (they must fit into K)"),
                 0, 1 << 20, defaults.visionOffset);
    projection->addWidget(formLabel(tr("Offset"), c.visionOffset), 0, 0);
    projection->addWidget(c.visionOffset, 0, 1);
    c.patchFactor = countBox("patchFactor",
                             tr("Pixels per vision token side: patch size × spatial merge (28 = "
                                "14 × 2 for Qwen2-VL; 32 for patch-16 models)"),
                             1, 1024, defaults.patchFactor);
    projection->addWidget(formLabel(tr("Factor"), c.patchFactor), 0, 2);
    projection->addWidget(c.patchFactor, 0, 3);
    c.minPixels = countBox("minPixels",
                           tr("Smallest area of the resized image in pixels (Qwen2-VL: 4 × 28 × "
                              "28 = 3136)"),
                           0, std::numeric_limits<int>::max(), int(defaults.minPixels));
    c.minPixels->setSingleStep(defaults.patchFactor * defaults.patchFactor);
    projection->addWidget(formLabel(tr("Min px"), c.minPixels), 1, 0);
    projection->addWidget(c.minPixels, 1, 1);
    c.maxPixels = countBox("maxPixels",
                           tr("Largest area of the resized image in pixels; auto (0) = K × "
                              "factor², as many tokens as there are keys"),
                           0, std::numeric_limits<int>::max(), int(defaults.maxPixels));
    c.maxPixels->setSpecialValueText(tr("auto"));
    c.maxPixels->setSingleStep(defaults.patchFactor * defaults.patchFactor);
    projection->addWidget(formLabel(tr("Max px"), c.maxPixels), 1, 2);
    projection->addWidget(c.maxPixels, 1, 3);
    c.textSaliency = named(new QDoubleSpinBox, "textSaliency",
                           tr("Raw saliency of the key tokens that are not vision tokens (text "
                              "tokens), before normalization"));
    c.textSaliency->setDecimals(3);
    c.textSaliency->setRange(-1000, 1000);
    c.textSaliency->setSingleStep(0.05);
    c.textSaliency->setValue(defaults.textSaliency);
    c.textSaliency->setKeyboardTracking(false);
    projection->addWidget(formLabel(tr("Text s"), c.textSaliency), 2, 0);
    projection->addWidget(c.textSaliency, 2, 1);
    c.projectionSection = new CollapsibleSection(tr("Projection"), projectionForm);
    c.projectionSection->setObjectName(QStringLiteral("projectionSection"));
    c.projectionSection->toggleButton()->setToolTip(
        tr("Show or hide the projection options (applied live to a loaded image)"));
    projectionLayout->addWidget(c.projectionSection);
    layout->addWidget(projectionBox);

    // --- views ---
    auto* views = new QGroupBox(tr("Views"));
    auto* viewsForm = new QFormLayout(views);
    c.head = named(new QSpinBox, "head", tr("Head of the per-token row and of the matrix"));
    c.head->setRange(0, 31);
    c.query = named(new QSpinBox, "query",
                    tr("Query of the per-token row (or click a row in the matrix)"));
    c.query->setRange(0, 1023);
    auto* pickRow = new QHBoxLayout;
    pickRow->addWidget(new QLabel(tr("head")));
    pickRow->addWidget(c.head, 1);
    pickRow->addWidget(new QLabel(tr("query")));
    pickRow->addWidget(c.query, 1);
    auto* rowLabel = new QLabel(tr("Row"));
    rowLabel->setToolTip(tr("The attention row (head, query) shown per token"));
    viewsForm->addRow(rowLabel, pickRow);
    c.sortBySaliency =
        named(new QCheckBox(tr("Sort tokens by saliency")), "sortBySaliency",
              tr("Per-token view: x = rank of s (0 = most salient) instead of the key index"));
    viewsForm->addRow(c.sortBySaliency);
    c.showDifference = named(new QCheckBox(tr("Show A′ − A in the matrix")), "showDifference",
                             tr("Matrix view: the change A′ − A instead of A′"));
    viewsForm->addRow(c.showDifference);
    c.sweepSeeds = named(new QSpinBox, "sweepSeeds",
                         tr("Seeds of the tradeoff curve (seed, seed + 1, ...): error bars "
                            "show their standard deviation"));
    c.sweepSeeds->setRange(1, 20);
    c.sweepSeeds->setValue(3);
    c.sweepSeeds->setKeyboardTracking(false);
    viewsForm->addRow(formLabel(tr("Sweep seeds"), c.sweepSeeds), c.sweepSeeds);
    layout->addWidget(views);
    layout->addStretch(1);

    auto* scroll = new QScrollArea;
    scroll->setWidget(panel);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    auto* controlDock = new QDockWidget(tr("Controls"), this);
    controlDock->setObjectName(QStringLiteral("controlDock"));
    controlDock->setWidget(scroll);
    controlDock->setMinimumWidth(panel->sizeHint().width() + 24);
    addDockWidget(Qt::LeftDockWidgetArea, controlDock);

    // --- the metrics readout ---
    auto* readout = new QWidget;
    auto* readoutLayout = new QVBoxLayout(readout);
    readoutLayout->setContentsMargins(6, 2, 6, 6);
    c.metrics = named(new QPlainTextEdit, "metrics",
                      tr("Entropies, reduction, KL, compute time and backend (select and copy)"));
    c.metrics->setReadOnly(true);
    c.metrics->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
    c.metrics->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    c.metrics->setLineWrapMode(QPlainTextEdit::NoWrap);
    c.metrics->setPlainText(tr("Computing..."));
    readoutLayout->addWidget(c.metrics);
    auto* copyButton = named(new QPushButton(tr("Copy")), "copyMetrics",
                             tr("Copy the readout to the clipboard (Ctrl+C)"));
    connect(copyButton, &QPushButton::clicked, this, &MainWindow::copyMetrics);
    auto* copyRow = new QHBoxLayout;
    copyRow->addStretch(1);
    copyRow->addWidget(copyButton);
    readoutLayout->addLayout(copyRow);
    auto* metricsDock = new QDockWidget(tr("Metrics"), this);
    metricsDock->setObjectName(QStringLiteral("metricsDock"));
    metricsDock->setWidget(readout);
    addDockWidget(Qt::LeftDockWidgetArea, metricsDock);
    resizeDocks({controlDock, metricsDock}, {700, 220}, Qt::Vertical);

    // --- wiring ---
    connect(c.lambdaSlider, &QSlider::valueChanged, this, [this](int position) {
        controls_.lambda->setValue(controls_.lambdaMax->value() * position / kLambdaSteps);
    });
    connect(c.lambda, &QDoubleSpinBox::valueChanged, this, &MainWindow::lambdaSpinChanged);
    connect(c.lambdaMax, &QDoubleSpinBox::valueChanged, this, &MainWindow::lambdaMaxChanged);
    connect(c.eps, &QDoubleSpinBox::valueChanged, this, &MainWindow::applyControls);
    connect(c.normalization, &QComboBox::currentIndexChanged, this, &MainWindow::applyControls);
    connect(c.steeredHeads, &QLineEdit::editingFinished, this, &MainWindow::applySteeredHeads);
    connect(c.seedSlider, &QSlider::valueChanged, this,
            [this](int seed) { controls_.seed->setValue(seed); });
    connect(c.seed, &QSpinBox::valueChanged, this, [this](int seed) {
        const QSignalBlocker blocker(controls_.seedSlider);
        controls_.seedSlider->setValue(std::min(seed, kSeedSliderMax));
        applyControls();
    });
    for (QSpinBox* box : {c.heads, c.queries, c.keys})
        connect(box, &QSpinBox::valueChanged, this, &MainWindow::applyControls);
    connect(c.sigma, &QDoubleSpinBox::valueChanged, this, &MainWindow::applyControls);
    for (QSpinBox* box : {c.visionOffset, c.patchFactor, c.minPixels, c.maxPixels})
        connect(box, &QSpinBox::valueChanged, this, [this] {
            updateProjectionSummary();
            applyControls();
        });
    connect(c.patchFactor, &QSpinBox::valueChanged, this, [this](int factor) {
        controls_.minPixels->setSingleStep(factor * factor);
        controls_.maxPixels->setSingleStep(factor * factor);
    });
    connect(c.textSaliency, &QDoubleSpinBox::valueChanged, this, [this] {
        updateProjectionSummary();
        applyControls();
    });
    connect(c.backend, &QComboBox::currentIndexChanged, this, &MainWindow::applyBackendBox);
    connect(c.head, &QSpinBox::valueChanged, this, &MainWindow::applyView);
    connect(c.query, &QSpinBox::valueChanged, this, &MainWindow::applyView);
    connect(c.sweepSeeds, &QSpinBox::valueChanged, this, &MainWindow::applySweepGrid);
    connect(c.sortBySaliency, &QCheckBox::toggled, perToken_, &PerTokenPlot::setSortBySaliency);
    connect(c.showDifference, &QCheckBox::toggled, this, &MainWindow::updateMatrixView);
    connect(c.overlayOpacity, &QSlider::valueChanged, this,
            [this](int percent) { grid_->setOverlayOpacity(percent / 100.0); });
    syncLambdaSlider();
    updateProjectionSummary();
}

void MainWindow::buildActions() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QToolBar* toolbar = addToolBar(tr("Main"));
    toolbar->setObjectName(QStringLiteral("mainToolBar"));
    toolbar->setToolButtonStyle(Qt::ToolButtonTextOnly);
    toolbar->setMovable(false);

    auto* loadImage =
        file->addAction(tr("&Load saliency image..."), this, &MainWindow::loadImageInteractively);
    loadImage->setShortcut(QKeySequence::Open);
    loadImage->setToolTip(tr("Project a saliency image (PNG, JPEG, BMP, TIFF) onto the vision "
                             "tokens, Qwen2-VL style (Ctrl+O, or drop a file on the window)"));
    loadImage->setObjectName(QStringLiteral("loadImageAction"));
    toolbar->addAction(loadImage);

    QMenu* samples = file->addMenu(tr("Open &sample"));
    samples->setObjectName(QStringLiteral("sampleMenu"));
    samples->setToolTipsVisible(true);
    buildSampleMenu(samples);
    auto* samplesButton = new QToolButton(this);
    samplesButton->setObjectName(QStringLiteral("sampleButton"));
    samplesButton->setText(tr("Open sample"));
    samplesButton->setMenu(samples);
    samplesButton->setPopupMode(QToolButton::InstantPopup);
    samplesButton->setToolTip(tr("Load one of the bundled saliency maps"));
    toolbar->addWidget(samplesButton);

    QMenu* npy = file->addMenu(tr("Open .&npy"));
    npy->setToolTipsVisible(true);
    auto* logits = npy->addAction(tr("&Logits [Q,K], [H,Q,K] or [1,H,Q,K]..."), this,
                                  [this] { openNpyInteractively(NpyKind::Logits); });
    logits->setToolTip(tr("Pre-softmax attention logits; A = softmax of each row"));
    auto* attention = npy->addAction(tr("&Attention probabilities..."), this,
                                     [this] { openNpyInteractively(NpyKind::Attention); });
    attention->setToolTip(tr("Attention probabilities; each row sums to 1"));
    auto* saliency = npy->addAction(tr("&Saliency [K]..."), this,
                                    [this] { openNpyInteractively(NpyKind::Saliency); });
    saliency->setToolTip(tr("Raw per-key saliency, normalized as chosen"));
    auto* npyButton = new QToolButton(this);
    npyButton->setText(tr("Open .npy"));
    npyButton->setMenu(npy);
    npyButton->setPopupMode(QToolButton::InstantPopup);
    npyButton->setToolTip(tr("Open logits, attention or saliency from a NumPy .npy file"));
    toolbar->addWidget(npyButton);
    file->addAction(tr("Use &random workload"), this, &MainWindow::useRandomWorkload)
        ->setToolTip(tr("Forget the logits or attention file; generate the rows from the seed"));
    file->addAction(tr("Use random sal&iency"), this, &MainWindow::useRandomSaliency)
        ->setToolTip(tr("Forget the saliency image or file; draw s from the seed"));
    file->addSeparator();

    QMenu* exportView = file->addMenu(tr("&Export view as PNG/PDF"));
    const std::pair<QString, PlotView*> views[] = {{tr("&Per-token view..."), perToken_},
                                                   {tr("&Tradeoff view..."), tradeoff_},
                                                   {tr("&Saliency grid view..."), grid_},
                                                   {tr("&Matrix view..."), matrix_}};
    for (const auto& [text, view] : views)
        exportView->addAction(text, this, [this, view = view] { exportViewInteractively(view); });
    auto* exportAll =
        file->addAction(tr("Export &all plots..."), this, &MainWindow::exportAllInteractively);
    exportAll->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E));
    exportAll->setToolTip(tr("Write per_token.png, tradeoff.png, saliency.png and matrix.png "
                             "into a folder (Ctrl+Shift+E)"));
    toolbar->addAction(exportAll);
    file->addAction(tr("Export sweep as &CSV..."), this, &MainWindow::exportSweepInteractively)
        ->setToolTip(tr("The tradeoff curve's rows: lambda, reduction and KL mean and sd"));
    file->addSeparator();
    auto* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Q));

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    copyAction_ = edit->addAction(tr("&Copy metrics"), this, &MainWindow::copyMetrics);
    copyAction_->setShortcut(QKeySequence::Copy);
    copyAction_->setToolTip(tr("Copy the metrics readout to the clipboard"));

    QMenu* view = menuBar()->addMenu(tr("&View"));
    auto* recomputeAction = view->addAction(tr("&Recompute"), this, &MainWindow::recompute);
    recomputeAction->setShortcut(QKeySequence(Qt::Key_F5));
    recomputeAction->setToolTip(tr("Everything again from scratch, files re-read (F5)"));
    toolbar->addAction(recomputeAction);
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

void MainWindow::buildStatusBar() {
    Controls& c = controls_;
    c.progress = named(new QProgressBar, "progress", tr("Progress of the running computation"));
    c.progress->setRange(0, 100);
    c.progress->setMaximumWidth(220);
    c.progress->setTextVisible(true);
    c.progress->hide();
    c.cancel = named(new QToolButton, "cancel", tr("Stop the running computation"));
    c.cancel->setText(tr("Cancel"));
    c.cancel->hide();
    connect(c.cancel, &QToolButton::clicked, this, &MainWindow::cancelComputation);
    c.computeTime = named(new QLabel, "computeTime", tr("Time of the last computations"));
    c.computeTime->setTextInteractionFlags(Qt::TextSelectableByMouse);
    statusBar()->addPermanentWidget(c.progress);
    statusBar()->addPermanentWidget(c.cancel);
    statusBar()->addPermanentWidget(c.computeTime);
}

// ---------------------------------------------------------------------------------------------
// Settings

void MainWindow::restoreSettings() {
    QSettings settings;
    const Controls& c = controls_;
    settings.beginGroup(QStringLiteral("controls"));
    auto restore = [&](auto* box, const char* key) {
        const QVariant value = settings.value(QString::fromLatin1(key));
        if (value.isValid())
            box->setValue(value.value<decltype(box->value())>());
    };
    restore(c.lambdaMax, "lambdaMax");
    restore(c.lambda, "lambda");
    restore(c.eps, "eps");
    restore(c.seed, "seed");
    restore(c.heads, "heads");
    restore(c.queries, "queries");
    restore(c.keys, "keys");
    restore(c.sigma, "sigma");
    restore(c.head, "head");
    restore(c.query, "query");
    restore(c.sweepSeeds, "sweepSeeds");
    restore(c.overlayOpacity, "overlayOpacity");
    restore(c.visionOffset, "visionOffset");
    restore(c.patchFactor, "patchFactor");
    restore(c.minPixels, "minPixels");
    restore(c.maxPixels, "maxPixels");
    restore(c.textSaliency, "textSaliency");
    c.projectionSection->setExpanded(
        settings.value(QStringLiteral("projectionExpanded"), false).toBool());
    // The backend: the one chosen last when it can be used, else CUDA when available (auto).
    const QString backend = settings.value(QStringLiteral("backend")).toString();
    if (backend == QStringLiteral("cpu"))
        c.backend->setCurrentIndex(0);
    const int normalization = c.normalization->findText(
        settings.value(QStringLiteral("normalization"), QStringLiteral("max")).toString());
    c.normalization->setCurrentIndex(std::max(normalization, 0));
    c.sortBySaliency->setChecked(settings.value(QStringLiteral("sortBySaliency")).toBool());
    c.showDifference->setChecked(settings.value(QStringLiteral("showDifference")).toBool());
    c.steeredHeads->setText(
        settings.value(QStringLiteral("steeredHeads"), QStringLiteral("all")).toString());
    settings.endGroup();
    applySteeredHeads();

    settings.beginGroup(QStringLiteral("window"));
    if (!restoreGeometry(settings.value(QStringLiteral("geometry")).toByteArray())) {
        const QRect available = screen()->availableGeometry();
        resize(std::min(1600, available.width()), std::min(1000, available.height()));
    }
    restoreState(settings.value(QStringLiteral("state")).toByteArray());
    if (!mainSplitter_->restoreState(settings.value(QStringLiteral("mainSplitter")).toByteArray()))
        mainSplitter_->setSizes({380, 470});
    if (!bottomSplitter_->restoreState(
            settings.value(QStringLiteral("bottomSplitter")).toByteArray()))
        bottomSplitter_->setSizes({400, 430, 380}); // the grid panel about square
    settings.endGroup();
}

void MainWindow::saveSettings() const {
    QSettings settings;
    const Controls& c = controls_;
    settings.beginGroup(QStringLiteral("controls"));
    settings.setValue(QStringLiteral("lambdaMax"), c.lambdaMax->value());
    settings.setValue(QStringLiteral("lambda"), c.lambda->value());
    settings.setValue(QStringLiteral("eps"), c.eps->value());
    settings.setValue(QStringLiteral("seed"), c.seed->value());
    settings.setValue(QStringLiteral("heads"), c.heads->value());
    settings.setValue(QStringLiteral("queries"), c.queries->value());
    settings.setValue(QStringLiteral("keys"), c.keys->value());
    settings.setValue(QStringLiteral("sigma"), c.sigma->value());
    settings.setValue(QStringLiteral("head"), c.head->value());
    settings.setValue(QStringLiteral("query"), c.query->value());
    settings.setValue(QStringLiteral("sweepSeeds"), c.sweepSeeds->value());
    settings.setValue(QStringLiteral("overlayOpacity"), c.overlayOpacity->value());
    settings.setValue(QStringLiteral("normalization"), c.normalization->currentText());
    settings.setValue(QStringLiteral("sortBySaliency"), c.sortBySaliency->isChecked());
    settings.setValue(QStringLiteral("showDifference"), c.showDifference->isChecked());
    settings.setValue(QStringLiteral("steeredHeads"), steeredHeadsText_);
    settings.setValue(QStringLiteral("visionOffset"), c.visionOffset->value());
    settings.setValue(QStringLiteral("patchFactor"), c.patchFactor->value());
    settings.setValue(QStringLiteral("minPixels"), c.minPixels->value());
    settings.setValue(QStringLiteral("maxPixels"), c.maxPixels->value());
    settings.setValue(QStringLiteral("textSaliency"), c.textSaliency->value());
    settings.setValue(QStringLiteral("projectionExpanded"), c.projectionSection->isExpanded());
    settings.setValue(QStringLiteral("backend"), c.backend->currentData().toString());
    settings.endGroup();
    settings.beginGroup(QStringLiteral("window"));
    settings.setValue(QStringLiteral("geometry"), saveGeometry());
    settings.setValue(QStringLiteral("state"), saveState());
    settings.setValue(QStringLiteral("mainSplitter"), mainSplitter_->saveState());
    settings.setValue(QStringLiteral("bottomSplitter"), bottomSplitter_->saveState());
    settings.endGroup();
}

QString MainWindow::lastFolder(const QString& kind) const {
    const QString folder =
        QSettings().value(QStringLiteral("folders/") + kind, QDir::homePath()).toString();
    return QFileInfo(folder).isDir() ? folder : QDir::homePath();
}

void MainWindow::rememberFolder(const QString& kind, const QString& path) {
    const QFileInfo info(path);
    QSettings().setValue(QStringLiteral("folders/") + kind,
                         info.isDir() ? info.absoluteFilePath() : info.absolutePath());
}

void MainWindow::closeEvent(QCloseEvent* event) {
    saveSettings();
    engine_->cancel();
    QMainWindow::closeEvent(event);
}

// ---------------------------------------------------------------------------------------------
// Controls -> engine

Scenario MainWindow::scenarioFromControls() const {
    const Controls& c = controls_;
    Scenario scenario = engine_->scenario(); // keeps the files
    scenario.spec.heads = c.heads->value();
    scenario.spec.queries = c.queries->value();
    scenario.spec.keys = c.keys->value();
    scenario.spec.logitStd = c.sigma->value();
    scenario.spec.seed = std::uint64_t(c.seed->value());
    scenario.normalization = parseNormalization(c.normalization->currentText().toStdString())
                                 .value_or(Normalization::Max);
    scenario.params.lambda = c.lambda->value();
    scenario.params.eps = c.eps->value();
    scenario.params.steeredHeads = steeredHeads_;
    scenario.projection = projection();
    return scenario;
}

ProjectionOptions MainWindow::projection() const {
    const Controls& c = controls_;
    ProjectionOptions options;
    options.visionOffset = c.visionOffset->value();
    options.patchFactor = c.patchFactor->value();
    options.minPixels = c.minPixels->value();
    options.maxPixels = c.maxPixels->value();
    options.textSaliency = c.textSaliency->value();
    return options;
}

void MainWindow::setProjection(const ProjectionOptions& options) {
    syncProjectionControls(options);
    applyControls();
}

void MainWindow::syncProjectionControls(const ProjectionOptions& options) {
    const Controls& c = controls_;
    {
        const QSignalBlocker a(c.visionOffset), b(c.patchFactor), d(c.minPixels), e(c.maxPixels),
            f(c.textSaliency);
        c.visionOffset->setValue(options.visionOffset);
        c.patchFactor->setValue(options.patchFactor);
        c.minPixels->setValue(
            int(std::min<std::int64_t>(options.minPixels, c.minPixels->maximum())));
        c.maxPixels->setValue(
            int(std::min<std::int64_t>(options.maxPixels, c.maxPixels->maximum())));
        c.textSaliency->setValue(options.textSaliency);
    }
    c.minPixels->setSingleStep(options.patchFactor * options.patchFactor);
    c.maxPixels->setSingleStep(options.patchFactor * options.patchFactor);
    updateProjectionSummary();
}

void MainWindow::updateProjectionSummary() {
    const Controls& c = controls_;
    if (!c.projectionSection)
        return;
    c.projectionSection->setSummary(
        tr("offset %1, factor %2, %3 – %4 px, text s %5")
            .arg(c.visionOffset->value())
            .arg(c.patchFactor->value())
            .arg(c.minPixels->value())
            .arg(c.maxPixels->value() == 0 ? tr("auto") : QString::number(c.maxPixels->value()))
            .arg(number(c.textSaliency->value())));
}

void MainWindow::applyBackendBox() {
    const BackendKind kind = controls_.backend->currentData().toString() == QStringLiteral("cuda")
                                 ? BackendKind::Cuda
                                 : BackendKind::Cpu;
    if (engine_->setBackend(kind))
        return;
    // No CUDA backend: showBackendFallback has said why; the box follows the engine.
    const QSignalBlocker blocker(controls_.backend);
    controls_.backend->setCurrentIndex(0);
}

BackendKind MainWindow::setBackend(BackendKind kind) {
    const int index = kind == BackendKind::Cuda ? 1 : 0;
    if (controls_.backend->currentIndex() != index)
        controls_.backend->setCurrentIndex(index); // applies itself
    else
        applyBackendBox();
    return engine_->backend();
}

void MainWindow::showBackendFallback(const QString& reason) {
    {
        const QSignalBlocker blocker(controls_.backend);
        controls_.backend->setCurrentIndex(0);
    }
    // Without the command line's "--backend: cuda: ", which says nothing in the window.
    QString problem = reason;
    for (const QLatin1String prefix : {QLatin1String("--backend: "), QLatin1String("cuda: ")})
        if (problem.startsWith(prefix))
            problem.remove(0, prefix.size());
    showError(tr("CUDA backend failed, using the CPU: %1").arg(problem));
    statusBar()->showMessage(tr("CUDA failed (%1); computing on the CPU").arg(problem), 10000);
}

void MainWindow::applyControls() {
    engine_->setScenario(scenarioFromControls());
}

void MainWindow::applySteeredHeads() {
    const QString text = controls_.steeredHeads->text().trimmed();
    std::vector<int> heads;
    if (!text.isEmpty() && text.compare(QStringLiteral("all"), Qt::CaseInsensitive) != 0) {
        try {
            heads = parseHeadList(text.toStdString(), "steered heads");
        } catch (const InputError& error) {
            controls_.steeredHeads->setText(steeredHeadsText_);
            showError(QString::fromStdString(error.what()));
            return;
        }
        const int available =
            engine_->dataSet() ? engine_->dataSet()->workload->heads() : controls_.heads->value();
        for (int head : heads)
            if (head >= available) {
                controls_.steeredHeads->setText(steeredHeadsText_);
                showError(tr("steered heads: head %1 is out of range 0..%2")
                              .arg(head)
                              .arg(available - 1));
                return;
            }
        std::sort(heads.begin(), heads.end());
        heads.erase(std::unique(heads.begin(), heads.end()), heads.end());
    }
    steeredHeads_ = heads;
    steeredHeadsText_ = heads.empty() ? QStringLiteral("all") : text;
    controls_.steeredHeads->setText(steeredHeadsText_);
    applyControls();
}

void MainWindow::applyView() {
    engine_->setView(controls_.head->value(), controls_.query->value());
    updateReadout(); // the per-head column follows the head at once
}

void MainWindow::applySweepGrid() {
    engine_->setSweepGrid(controls_.lambdaMax->value(), kSweepPoints,
                          controls_.sweepSeeds->value());
}

void MainWindow::lambdaSpinChanged(double lambda) {
    syncLambdaSlider();
    tradeoff_->setLambda(lambda); // the marker moves at once; the numbers follow
    applyControls();
}

void MainWindow::lambdaMaxChanged(double maximum) {
    controls_.lambda->setMaximum(maximum); // may clamp lambda, which then applies itself
    syncLambdaSlider();
    applySweepGrid();
}

void MainWindow::syncLambdaSlider() {
    const QSignalBlocker blocker(controls_.lambdaSlider);
    controls_.lambdaSlider->setValue(
        int(std::lround(controls_.lambda->value() / controls_.lambdaMax->value() * kLambdaSteps)));
}

void MainWindow::setWorkloadSize(int heads, int queries, int keys) {
    const QSignalBlocker a(controls_.heads), b(controls_.queries), c(controls_.keys);
    controls_.heads->setValue(heads);
    controls_.queries->setValue(queries);
    controls_.keys->setValue(keys);
    applyControls();
}

void MainWindow::setSeed(int seed) {
    controls_.seed->setValue(seed);
}

void MainWindow::setLambda(double lambda) {
    if (lambda > controls_.lambdaMax->value())
        controls_.lambdaMax->setValue(lambda);
    controls_.lambda->setValue(lambda);
}

double MainWindow::lambda() const {
    return controls_.lambda->value();
}

void MainWindow::setSweepSeeds(int seeds) {
    controls_.sweepSeeds->setValue(seeds);
}

// ---------------------------------------------------------------------------------------------
// Engine -> views

void MainWindow::onWorkloadReady() {
    const auto data = engine_->dataSet();
    const Workload& workload = *data->workload;
    const Scenario& scenario = data->scenario;
    Controls& c = controls_;

    // File workloads define the sizes: show them, and keep the random sizes from being edited.
    const bool file = scenario.hasWorkloadFile();
    for (QSpinBox* box : {c.heads, c.queries, c.keys})
        box->setEnabled(!file);
    c.sigma->setEnabled(!file);
    if (file) {
        const QSignalBlocker a(c.heads), b(c.queries), d(c.keys);
        c.heads->setValue(workload.heads());
        c.queries->setValue(workload.queries());
        c.keys->setValue(workload.keys());
    }
    {
        const QSignalBlocker a(c.head), b(c.query);
        c.head->setRange(0, workload.heads() - 1);
        c.query->setRange(0, workload.queries() - 1);
        c.head->setValue(engine_->head());
        c.query->setValue(engine_->query());
    }
    for (int head : steeredHeads_)
        if (head >= workload.heads()) {
            showError(tr("steered heads: head %1 is out of range 0..%2 for this workload; "
                         "steering all heads")
                          .arg(head)
                          .arg(workload.heads() - 1));
            c.steeredHeads->setText(QStringLiteral("all"));
            applySteeredHeads();
            break;
        }

    // The image panel.
    const QString imagePath = QString::fromStdString(scenario.saliencyImagePath);
    if (imagePath.isEmpty()) {
        image_ = QImage();
        imagePath_.clear();
    } else if (imagePath != imagePath_) {
        QImageReader reader(imagePath);
        reader.setAutoTransform(false); // the saliency map is the pixel grid as stored
        image_ = reader.read();
        imagePath_ = imagePath;
    }
    int gridHeight = 0, gridWidth = 0, offset = 0;
    if (data->raw.projection) {
        gridHeight = data->raw.projection->gridHeight;
        gridWidth = data->raw.projection->gridWidth;
        offset = scenario.projection.visionOffset;
    }
    grid_->setImage(data->raw.projection ? image_ : QImage());
    grid_->setSaliency(data->saliency.values, gridHeight, gridWidth, offset);
    grid_->setOverlayOpacity(c.overlayOpacity->value() / 100.0);
    c.imageCaption->setText(gridCaption(plotData()));
    saliencyPanel_->updateLayout(); // the grid's shape may have changed
    updateSourceLabel();
    if (!data->saliency.warning.empty())
        statusBar()->showMessage(QString::fromStdString(data->saliency.warning), 8000);
    else
        statusBar()->showMessage(tr("Workload ready: %1 × %2 × %3")
                                     .arg(workload.heads())
                                     .arg(workload.queries())
                                     .arg(workload.keys()),
                                 4000);
    updateReadout();
}

void MainWindow::onRowsFinished(const RowsResult& result) {
    rows_ = result;
    const auto data = engine_->dataSet();
    perToken_->setRow(result.row.original, result.row.steered, data->saliency.values,
                      result.request.head, result.request.query, result.request.params.lambda);
    updateMatrixView();
    updateComputeTime();
}

void MainWindow::updateMatrixView() {
    if (!rows_ || !rows_->matrixSteered)
        return;
    const std::vector<double>& steered = *rows_->matrixSteered;
    const bool difference = controls_.showDifference->isChecked();
    std::vector<double> values = steered;
    if (difference) {
        const std::vector<double>& original = *rows_->matrixOriginal;
        for (std::size_t i = 0; i < values.size(); ++i)
            values[i] -= original[i];
    }
    matrix_->setMatrix(std::move(values), rows_->queries, rows_->keys, difference,
                       rows_->request.head, rows_->request.params.lambda);
    matrix_->setCurrentQuery(rows_->request.query);
}

void MainWindow::onEvaluationFinished(const EvaluationResult& result) {
    std::erase_if(progress_,
                  [](const auto& entry) { return entry.first == Engine::tr("evaluating"); });
    updateProgressBar();
    evaluation_ = result;
    updateReadout();
    updateComputeTime();
}

void MainWindow::onSweepFinished(const SweepOutcome& result) {
    std::erase_if(progress_, [](const auto& entry) { return entry.first == Engine::tr("sweep"); });
    updateProgressBar();
    tradeoff_->setSweep(result.rows, int(result.seeds.size()));
    tradeoff_->setLambda(controls_.lambda->value());
    sweepMs_ = result.elapsedMs;
    updateComputeTime();
}

void MainWindow::onProgress(const QString& task, double fraction) {
    auto it = std::find_if(progress_.begin(), progress_.end(),
                           [&](const auto& entry) { return entry.first == task; });
    if (it == progress_.end()) {
        // The evaluation first: its numbers are what the user waits for.
        if (task == Engine::tr("evaluating"))
            it = progress_.insert(progress_.begin(), {task, fraction});
        else
            it = progress_.insert(progress_.end(), {task, fraction});
    }
    it->second = fraction;
    updateProgressBar();
}

void MainWindow::updateProgressBar() {
    QProgressBar* bar = controls_.progress;
    if (progress_.empty()) {
        bar->setRange(0, 0); // busy until a job reports how far it is
        bar->setFormat(tr("working..."));
        bar->setToolTip(tr("Progress of the running computation"));
        return;
    }
    const auto& [task, fraction] = progress_.front();
    bar->setRange(0, 100);
    bar->setValue(int(fraction * 100));
    bar->setFormat(tr("%1 %p%").arg(task));
    QStringList parts;
    for (const auto& [name, done] : progress_)
        parts << tr("%1 %2 %").arg(name).arg(int(done * 100));
    bar->setToolTip(parts.join(QStringLiteral(", ")));
}

void MainWindow::onBusyChanged(bool busy) {
    controls_.progress->setVisible(busy);
    controls_.cancel->setVisible(busy);
    if (!busy)
        progress_.clear();
    updateProgressBar();
    if (busy && cancelled_) {
        cancelled_ = false;
        updateReadout();
    }
}

void MainWindow::updateSourceLabel() {
    const auto data = engine_->dataSet();
    if (!data)
        return;
    const Scenario& s = data->scenario;
    QString workload = tr("random logits, seed %1").arg(s.spec.seed);
    if (!s.logitsPath.empty())
        workload = tr("logits file %1").arg(fileName(s.logitsPath));
    else if (!s.attentionPath.empty())
        workload = tr("attention file %1").arg(fileName(s.attentionPath));
    QString saliency = tr("random, seed %1").arg(s.spec.seed);
    if (!s.saliencyImagePath.empty())
        saliency = tr("image %1").arg(fileName(s.saliencyImagePath));
    else if (!s.saliencyPath.empty())
        saliency = tr("file %1").arg(fileName(s.saliencyPath));
    controls_.source->setText(tr("Workload: %1\nSaliency: %2").arg(workload, saliency));
}

void MainWindow::updateReadout() {
    const auto data = engine_->dataSet();
    if (!data || !evaluation_ || evaluation_->epoch != data->epoch) {
        controls_.metrics->setPlainText(
            cancelled_ ? tr("Cancelled.\nChange a setting or press F5 (View > Recompute) to "
                            "compute again.")
                       : tr("Computing..."));
        return;
    }
    const Metrics& m = evaluation_->metrics;
    const SteeringParams& p = evaluation_->request.params;
    const Workload& workload = *data->workload;
    const int head = std::clamp(controls_.head->value(), 0, int(m.heads.size()) - 1);
    const MetricSummary& h = m.heads[std::size_t(head)];
    auto line = [](const QString& label, const QString& all, const QString& one) {
        return QStringLiteral("%1%2  %3\n").arg(label, -17).arg(all, 13).arg(one, 13);
    };
    QString text;
    text += tr("λ = %1   ε = %2   steered heads: %3\n")
                .arg(p.lambda, 0, 'f', 3)
                .arg(number(p.eps))
                .arg(steeredHeadsText_);
    text += line(QString(), tr("all heads"), tr("head %1").arg(head));
    text +=
        line(tr("H(A) [nats]"), number(m.total.entropyOriginal, 8), number(h.entropyOriginal, 8));
    text +=
        line(tr("H(A′) [nats]"), number(m.total.entropySteered, 8), number(h.entropySteered, 8));
    text += line(tr("reduction [%]"), number(m.total.entropyReductionPct, 5),
                 number(h.entropyReductionPct, 5));
    text += line(tr("KL(A‖A′) [nats]"), number(m.total.kl, 5), number(h.kl, 5));
    text += tr("compute: %1 ms on %2\n")
                .arg(m.elapsedMs, 0, 'f', 1)
                .arg(QString::fromStdString(m.backend));
    text += tr("workload: %1 × %2 × %3, %4\n")
                .arg(workload.heads())
                .arg(workload.queries())
                .arg(workload.keys())
                .arg(data->scenario.hasWorkloadFile() ? fileName(workload.label())
                                                      : QString::fromStdString(workload.label()));
    const QString saliencyLabel = data->scenario.hasFixedSaliency()
                                      ? fileName(data->raw.label)
                                      : QString::fromStdString(data->raw.label);
    text += tr("saliency: %1 (%2)").arg(saliencyLabel).arg(controls_.normalization->currentText());
    controls_.metrics->setPlainText(text);
}

void MainWindow::updateComputeTime() {
    QStringList parts;
    if (evaluation_)
        parts << tr("evaluation %1 ms (%2)")
                     .arg(evaluation_->metrics.elapsedMs, 0, 'f', 1)
                     .arg(QString::fromStdString(evaluation_->metrics.backend));
    if (rows_)
        parts << tr("rows %1 ms").arg(rows_->elapsedMs, 0, 'f', 1);
    if (sweepMs_ > 0)
        parts << tr("sweep %1 s").arg(sweepMs_ / 1000, 0, 'f', 2);
    controls_.computeTime->setText(tr("Last compute: %1").arg(parts.join(QStringLiteral(" · "))));
}

QString MainWindow::metricsText() const {
    return controls_.metrics->toPlainText();
}

QString MainWindow::imageCaption() const {
    return controls_.imageCaption->text();
}

PlotData MainWindow::plotData() const {
    PlotData data;
    const auto set = engine_->dataSet();
    if (set) {
        data.saliency = set->saliency.values;
        data.saliencyLabel = QString::fromStdString(set->raw.label);
        if (set->raw.projection) {
            data.gridHeight = set->raw.projection->gridHeight;
            data.gridWidth = set->raw.projection->gridWidth;
            data.resizedHeight = set->raw.projection->resizedHeight;
            data.resizedWidth = set->raw.projection->resizedWidth;
            data.gridOffset = set->scenario.projection.visionOffset;
            data.image = image_;
        }
    }
    data.lambda = controls_.lambda->value();
    data.sortBySaliency = controls_.sortBySaliency->isChecked();
    data.highlightedToken = perToken_->highlightedToken();
    data.overlayOpacity = controls_.overlayOpacity->value() / 100.0;
    if (rows_) {
        data.head = rows_->request.head;
        data.query = rows_->request.query;
        data.lambda = rows_->request.params.lambda;
        data.attention = rows_->row.original;
        data.steered = rows_->row.steered;
        data.matrixQueries = rows_->queries;
        data.matrixKeys = rows_->keys;
        data.matrixIsDifference = controls_.showDifference->isChecked();
        if (rows_->matrixSteered) {
            data.matrix = *rows_->matrixSteered;
            if (data.matrixIsDifference)
                for (std::size_t i = 0; i < data.matrix.size(); ++i)
                    data.matrix[i] -= (*rows_->matrixOriginal)[i];
        }
    }
    data.sweep = tradeoff_->sweep();
    if (const SweepOutcome* sweep = engine_->lastSweep())
        data.sweepSeeds = int(sweep->seeds.size());
    return data;
}

// ---------------------------------------------------------------------------------------------
// Files

bool MainWindow::loadSaliencyImage(const QString& path) {
    try {
        (void)attnsteer::loadSaliencyImage(path); // the one-line error of a broken file, now
    } catch (const InputError& error) {
        showError(QString::fromStdString(error.what()));
        return false;
    }
    const bool embedded = path.startsWith(QLatin1Char(':'));
    if (!embedded) // the file dialog should not open inside the program's resources
        rememberFolder(QStringLiteral("image"), path);
    Scenario scenario = scenarioFromControls();
    scenario.saliencyImagePath =
        (embedded ? path : QFileInfo(path).absoluteFilePath()).toStdString();
    scenario.saliencyPath.clear();
    imagePath_.clear(); // read it again even when the name is the same
    engine_->setScenario(scenario);
    statusBar()->showMessage(tr("Projecting %1 onto the vision tokens...").arg(path));
    return true;
}

void MainWindow::openNpy(const QString& path, NpyKind kind) {
    rememberFolder(QStringLiteral("npy"), path);
    Scenario scenario = scenarioFromControls();
    const std::string file = QFileInfo(path).absoluteFilePath().toStdString();
    switch (kind) {
    case NpyKind::Logits:
        scenario.logitsPath = file, scenario.attentionPath.clear();
        break;
    case NpyKind::Attention:
        scenario.attentionPath = file, scenario.logitsPath.clear();
        break;
    case NpyKind::Saliency:
        scenario.saliencyPath = file, scenario.saliencyImagePath.clear();
        break;
    }
    engine_->setScenario(scenario);
}

void MainWindow::useRandomWorkload() {
    Scenario scenario = scenarioFromControls();
    scenario.logitsPath.clear(), scenario.attentionPath.clear();
    engine_->setScenario(scenario);
}

void MainWindow::useRandomSaliency() {
    Scenario scenario = scenarioFromControls();
    scenario.saliencyPath.clear(), scenario.saliencyImagePath.clear();
    engine_->setScenario(scenario);
}

QString MainWindow::samplesFolder() {
    // Embedded (app/gui/CMakeLists.txt, qt_add_resources): works from anywhere.
    const QString embedded = QStringLiteral(":/samples");
    if (!QDir(embedded).entryList({QStringLiteral("*.png")}, QDir::Files).isEmpty())
        return embedded;
    // A build tree (build/app/gui/attnsteer -> resources/samples), then the source tree.
    QStringList candidates = {QDir(QCoreApplication::applicationDirPath())
                                  .filePath(QStringLiteral("../../../resources/samples"))};
#ifdef ATTNSTEER_RESOURCES_DIR
    candidates << QStringLiteral(ATTNSTEER_RESOURCES_DIR "/samples");
#endif
    for (const QString& folder : candidates)
        if (!QDir(folder).entryList({QStringLiteral("*.png")}, QDir::Files).isEmpty())
            return QDir(folder).canonicalPath();
    return {};
}

QStringList MainWindow::sampleImages() {
    const QString folder = samplesFolder();
    if (folder.isEmpty())
        return {};
    QStringList names = QDir(folder).entryList({QStringLiteral("*.png")}, QDir::Files);
    QCollator collator;
    collator.setNumericMode(true);
    std::sort(names.begin(), names.end(), collator);
    QStringList paths;
    for (const QString& name : names)
        paths << QDir(folder).filePath(name);
    return paths;
}

void MainWindow::buildSampleMenu(QMenu* menu) {
    const QStringList paths = sampleImages();
    if (paths.isEmpty()) {
        menu->addAction(tr("(no samples found)"))->setEnabled(false);
        return;
    }
    for (const QString& path : paths) {
        const QString name = QFileInfo(path).fileName();
        QAction* action = menu->addAction(QFileInfo(path).completeBaseName(), this,
                                          [this, path] { loadSaliencyImage(path); });
        action->setObjectName(QStringLiteral("sample:") + name);
        action->setToolTip(tr("Load the sample saliency map %1").arg(name));
    }
}

void MainWindow::loadImageInteractively() {
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Load saliency image"), lastFolder(QStringLiteral("image")),
        tr("Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff);;All files (*)"));
    if (!path.isEmpty())
        loadSaliencyImage(path);
}

void MainWindow::openNpyInteractively(NpyKind kind) {
    const QString title = kind == NpyKind::Logits      ? tr("Open logits .npy")
                          : kind == NpyKind::Attention ? tr("Open attention .npy")
                                                       : tr("Open saliency .npy");
    const QString path = QFileDialog::getOpenFileName(
        this, title, lastFolder(QStringLiteral("npy")), tr("NumPy arrays (*.npy);;All files (*)"));
    if (!path.isEmpty())
        openNpy(path, kind);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    for (const QUrl& url : event->mimeData()->urls())
        if (url.isLocalFile() &&
            kImageSuffixes.contains(QFileInfo(url.toLocalFile()).suffix().toLower())) {
            event->acceptProposedAction();
            return;
        }
}

void MainWindow::dropEvent(QDropEvent* event) {
    for (const QUrl& url : event->mimeData()->urls())
        if (url.isLocalFile() &&
            kImageSuffixes.contains(QFileInfo(url.toLocalFile()).suffix().toLower())) {
            event->acceptProposedAction();
            loadSaliencyImage(url.toLocalFile());
            return;
        }
}

// ---------------------------------------------------------------------------------------------
// Export

bool MainWindow::exportView(PlotView* view, const QString& path, QSize size, double scale, bool pdf,
                            bool overwrite) {
    QString error;
    const bool ok =
        pdf ? view->savePdf(path, size.width(), size.height(), overwrite, &error)
            : view->savePng(path, size.width(), size.height(), scale, overwrite, &error);
    if (!ok)
        showError(error);
    else
        statusBar()->showMessage(tr("Wrote %1").arg(QDir::toNativeSeparators(path)), 5000);
    return ok;
}

ExportResult MainWindow::exportAll(const QString& dir, QSize size, bool overwrite) {
    const ExportResult result = exportAllPlots(plotData(), dir, size, overwrite);
    if (!result.ok)
        showError(result.error);
    else
        statusBar()->showMessage(tr("Wrote %1 plots into %2")
                                     .arg(result.files.size())
                                     .arg(QDir::toNativeSeparators(dir)),
                                 5000);
    return result;
}

bool MainWindow::exportSweepCsv(const QString& path, bool overwrite) {
    const SweepOutcome* sweep = engine_->lastSweep();
    if (!sweep) {
        showError(tr("%1: no sweep computed yet").arg(QDir::toNativeSeparators(path)));
        return false;
    }
    // The command line's CSV format and atomic write (app/common): never half a file.
    const QString error = writeFileAtomically(path, sweepCsv(sweep->rows), overwrite);
    if (!error.isEmpty()) {
        showError(error);
        return false;
    }
    statusBar()->showMessage(tr("Wrote %1").arg(QDir::toNativeSeparators(path)), 5000);
    return true;
}

void MainWindow::exportViewInteractively(PlotView* view) {
    ExportDialog dialog(tr("Export view"), view->size(), true, this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    const bool pdf = dialog.format() == ExportDialog::Format::Pdf;
    const QString suggested = QDir(lastFolder(QStringLiteral("export")))
                                  .filePath(view->viewName() + (pdf ? ".pdf" : ".png"));
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Export view"), suggested, pdf ? tr("PDF (*.pdf)") : tr("PNG images (*.png)"));
    if (path.isEmpty())
        return;
    rememberFolder(QStringLiteral("export"), path);
    // The file dialog has asked before replacing an existing file.
    exportView(view, path, dialog.pixelSize(), dialog.scale(), pdf, true);
}

void MainWindow::exportAllInteractively() {
    QSettings settings;
    const QSize size = settings.value(QStringLiteral("export/size"), QSize(1200, 800)).toSize();
    ExportDialog dialog(tr("Export all plots"), size, false, this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    settings.setValue(QStringLiteral("export/size"), dialog.pixelSize());
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Export all plots into"),
                                                          lastFolder(QStringLiteral("export")));
    if (dir.isEmpty())
        return;
    rememberFolder(QStringLiteral("export"), dir);
    QStringList existing;
    for (const QString& name : exportAllPlotsFileNames())
        if (QFileInfo::exists(QDir(dir).filePath(name)))
            existing << name;
    bool overwrite = false;
    if (!existing.isEmpty()) {
        if (QMessageBox::question(this, tr("Replace files?"),
                                  (existing.size() == 1 ? tr("%1 already holds %2.\nReplace it?")
                                                        : tr("%1 already holds %2.\nReplace them?"))
                                      .arg(QDir::toNativeSeparators(dir), existing.join(", ")),
                                  QMessageBox::Yes | QMessageBox::Cancel,
                                  QMessageBox::Cancel) != QMessageBox::Yes)
            return;
        overwrite = true;
    }
    exportAll(dir, dialog.pixelSize(), overwrite);
}

void MainWindow::exportSweepInteractively() {
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Export sweep as CSV"),
        QDir(lastFolder(QStringLiteral("export"))).filePath(QStringLiteral("sweep.csv")),
        tr("CSV (*.csv)"));
    if (path.isEmpty())
        return;
    rememberFolder(QStringLiteral("export"), path);
    exportSweepCsv(path, true); // the file dialog has asked
}

// ---------------------------------------------------------------------------------------------
// Misc

void MainWindow::copyMetrics() {
    // Ctrl+C in the readout with text selected copies the selection, as its tooltip promises (a
    // read-only text view does not claim the keys, so they arrive here).
    QPlainTextEdit* readout = controls_.metrics;
    if (readout->hasFocus() && readout->textCursor().hasSelection()) {
        readout->copy();
        statusBar()->showMessage(tr("Selection copied"), 3000);
        return;
    }
    QApplication::clipboard()->setText(readout->toPlainText());
    statusBar()->showMessage(tr("Metrics copied"), 3000);
}

void MainWindow::recompute() {
    imagePath_.clear();
    cancelled_ = false;
    engine_->start();
}

void MainWindow::cancelComputation() {
    const bool busy = engine_->isBusy();
    engine_->cancel();
    if (!busy)
        return;
    cancelled_ = true;
    progress_.clear();
    updateReadout();
    statusBar()->showMessage(
        tr("Cancelled: the views keep what they show; change a setting or press F5 to compute "
           "again"),
        10000);
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
