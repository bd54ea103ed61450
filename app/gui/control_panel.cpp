#include "control_panel.h"

#include "error_text.h"

#include "projection_controls.h"
#include "sci_spin_box.h"
#include "widget_helpers.h"
#include "window_controls.h"
#include "workload_controls.h"

#include "attnsteer/backend.h"
#include "attnsteer/errors.h"
#include "attnsteer/gpu.h"
#include "attnsteer/option_values.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QScrollBar>
#include <QSlider>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QStyle>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnsteer {

namespace {

constexpr int kLambdaSteps = 1000;      ///< positions of the lambda slider
constexpr double kLambdaLimit = 1000.0; ///< |lambda| and lambda max at most this in the window
constexpr int kSeedSliderMax = 99;      ///< the seed slider covers 0..99, the spin box more

/// A group's formula, as a line that may wrap.
QLabel* formulaLabel(const QString& formula) {
    auto* label = new QLabel(formula);
    label->setWordWrap(true);
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return label;
}

/// A combo box whose minimum width does not follow its longest entry.
void letShrink(QComboBox* box) {
    box->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    box->setMinimumContentsLength(8);
}

} // namespace

ControlPanel::ControlPanel(WindowControls& controls, QWidget* parent)
    : QScrollArea(parent), c_(controls) {
    auto* panel = new QWidget;
    auto* layout = new QVBoxLayout(panel);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addWidget(buildSteering());
    layout->addWidget(buildWorkload());
    projection_ = new ProjectionControls(c_);
    layout->addWidget(projection_);
    layout->addWidget(buildViews());
    layout->addStretch(1);
    setWidget(panel);
    setWidgetResizable(true);
    setFrameShape(QFrame::NoFrame);
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    // The dock fits the fields; the folded projection section's summary, shown from here on, is
    // cut where the dock ends.
    dockWidth_ = panel->sizeHint().width() + 24;
    // On a small screen the dock may be narrower: the fields shrink to what they need (plus the
    // vertical scroll bar and the dock's frame).
    minimumDockWidth_ = std::min(dockWidth_, panel->minimumSizeHint().width() +
                                                 verticalScrollBar()->sizeHint().width() + 12);
    projection_->showOptions(projection_->options());
    connectControls();
}

QWidget* ControlPanel::buildSteering() {
    WindowControls& c = c_;
    // Short group titles, the formulas on a line of their own that wraps: the dock can be
    // narrow on a small screen.
    auto* steering = new QGroupBox(tr("Steering"));
    auto* form = new QFormLayout(steering);
    form->addRow(formulaLabel(tr("A′ = softmax(log(A + ε) + λ·s)")));
    c.lambdaSlider =
        named(new QSlider(Qt::Horizontal), "lambdaSlider",
              tr("Steering strength λ from 0 to the maximum below (negative λ, steering away "
                 "from the salient tokens, in the box)"));
    c.lambdaSlider->setRange(0, kLambdaSteps);
    c.lambdaSlider->setPageStep(kLambdaSteps / 20);
    c.lambda = named(new QDoubleSpinBox, "lambda",
                     tr("Steering strength λ (3 decimals); negative steers away from the salient "
                        "tokens; a value above λ max raises λ max"));
    c.lambda->setDecimals(3);
    c.lambda->setRange(-kLambdaLimit, kLambdaLimit);
    c.lambda->setSingleStep(0.01);
    c.lambda->setValue(0.25);
    c.lambda->setMinimumWidth(80);
    auto* lambdaRow = new QHBoxLayout;
    lambdaRow->addWidget(c.lambdaSlider, 1);
    lambdaRow->addWidget(c.lambda);
    form->addRow(formLabel(tr("λ"), c.lambda), lambdaRow);
    c.lambdaMax = named(new QDoubleSpinBox, "lambdaMax",
                        tr("Largest λ of the slider and of the tradeoff sweep"));
    c.lambdaMax->setDecimals(3);
    c.lambdaMax->setRange(0.001, kLambdaLimit);
    c.lambdaMax->setValue(1);
    c.lambdaMax->setKeyboardTracking(false);
    form->addRow(formLabel(tr("λ max"), c.lambdaMax), c.lambdaMax);
    c.eps = named(new SciSpinBox, "eps",
                  tr("ε added to A before the log (0 allowed: log 0 = −∞); arrows step ×10"));
    c.eps->setRange(0, 1);
    c.eps->setValue(1e-9);
    form->addRow(formLabel(tr("ε"), c.eps), c.eps);
    c.normalization = named(new QComboBox, "normalization",
                            tr("How raw saliency becomes s: max (x / max|x|), minmax, zscore "
                               "(temperature-scaled bias), none, binary (s = 1 where the min-max "
                               "normalized saliency is at least the threshold T, else 0: PASTA's "
                               "emphasis, λ = −log α)"));
    for (Normalization mode : {Normalization::Max, Normalization::MinMax, Normalization::ZScore,
                               Normalization::None, Normalization::Binary}) {
        const std::string_view name = normalizationName(mode);
        c.normalization->addItem(QString::fromLatin1(name.data(), qsizetype(name.size())),
                                 int(mode));
    }
    c.binaryThreshold =
        named(new QDoubleSpinBox, "binaryThreshold",
              tr("Threshold T of the binary normalization: s = 1 where the "
                 "min-max normalized saliency is at least T (used only by binary)"));
    c.binaryThreshold->setDecimals(2);
    c.binaryThreshold->setRange(0, 1);
    c.binaryThreshold->setSingleStep(0.05);
    c.binaryThreshold->setValue(kDefaultBinaryThreshold);
    c.binaryThreshold->setKeyboardTracking(false);
    c.binaryThreshold->setPrefix(QStringLiteral("T = "));
    c.binaryThreshold->setEnabled(false);
    letShrink(c.normalization);
    auto* normalizationRow = new QHBoxLayout;
    normalizationRow->addWidget(c.normalization, 1);
    normalizationRow->addWidget(c.binaryThreshold);
    form->addRow(formLabel(tr("Normalization"), c.normalization), normalizationRow);
    c.steeredHeads =
        named(new QLineEdit(QStringLiteral("all")), "steeredHeads",
              tr("Heads that get the bias: \"all\", a list \"0,3,5\", a range \"0:7\" (in "
                 "every layer) or heads of one layer \"L5H3\" (press Enter to apply)"));
    c.steeredHeads->setProperty("acceptedToolTip", c.steeredHeads->toolTip());
    // A refused entry stays in the field, marked, until it is corrected.
    c.steeredHeads->setStyleSheet(
        QStringLiteral("QLineEdit[invalid=\"true\"] { border: 2px solid #d55e00; "
                       "background: #fdecea; }"));
    form->addRow(formLabel(tr("Steered heads"), c.steeredHeads), c.steeredHeads);
    c.gateEntropy = named(new QDoubleSpinBox, "gateEntropy",
                          tr("Uncertainty gating: only rows whose normalized entropy H(A) / log K "
                             "is at least τ get the bias, the others keep A′ = A (0 = off: every "
                             "row)"));
    c.gateEntropy->setDecimals(2);
    c.gateEntropy->setRange(0, 1);
    c.gateEntropy->setSingleStep(0.05);
    c.gateEntropy->setSpecialValueText(tr("off"));
    c.gateEntropy->setKeyboardTracking(false);
    form->addRow(formLabel(tr("Gate τ"), c.gateEntropy), c.gateEntropy);
    c.backend = named(new QComboBox, "backend",
                      tr("Where the evaluation and the tradeoff sweep run (the per-token row and "
                         "the matrix are always computed on the CPU)"));
    c.backend->addItem(tr("CPU (Eigen, OpenMP)"), int(BackendKind::Cpu));
    const bool cuda = gpu::isAvailable();
    c.backend->addItem(cuda ? tr("CUDA — %1").arg(QString::fromStdString(gpu::deviceName()))
                            : tr("CUDA — not available"),
                       int(BackendKind::Cuda));
    if (auto* model = qobject_cast<QStandardItemModel*>(c.backend->model())) {
        QStandardItem* item = model->item(1);
        item->setEnabled(cuda);
        item->setToolTip(cuda ? tr("%1, %2 GiB of device memory")
                                    .arg(QString::fromStdString(gpu::deviceName()))
                                    .arg(double(gpu::deviceMemoryBytes()) / (1u << 30), 0, 'f', 0)
                              : QString::fromStdString(gpu::unavailableReason()));
    }
    c.backend->setCurrentIndex(cuda ? 1 : 0); // like --backend auto
    letShrink(c.backend);
    form->addRow(formLabel(tr("Backend"), c.backend), c.backend);
    return steering;
}

QWidget* ControlPanel::buildWorkload() {
    WindowControls& c = c_;
    auto* workload = new QGroupBox(tr("Workload"));
    auto* form = new QFormLayout(workload);
    workload_ = new WorkloadControls(c, this);
    workload_->addKindRow(form, workload);
    c.seedSlider = named(new QSlider(Qt::Horizontal), "seedSlider",
                         tr("Seed of the generated workload and saliency (0–99; more in the box)"));
    c.seedSlider->setRange(0, kSeedSliderMax);
    // Each position applies while the slider is dragged: the engine's newest request wins.
    c.seedSlider->setTracking(true);
    c.seed = named(new QSpinBox, "seed", tr("Seed of the generated workload and saliency"));
    c.seed->setRange(0, std::numeric_limits<int>::max());
    c.seed->setKeyboardTracking(false);
    c.seed->setMinimumWidth(80);
    auto* seedRow = new QHBoxLayout;
    seedRow->addWidget(c.seedSlider, 1);
    seedRow->addWidget(c.seed);
    form->addRow(formLabel(tr("Seed"), c.seed), seedRow);
    auto sizeBox = [](const char* name, const QString& tip, int value, int max) {
        auto* box = named(new QSpinBox, name, tip);
        box->setRange(1, max);
        box->setMinimumWidth(56); // not the width of 1048576: three share a row
        box->setValue(value);
        box->setKeyboardTracking(false);
        return box;
    };
    c.heads = sizeBox("heads", tr("Attention heads H of the generated workload"), 32, 4096);
    c.queries = sizeBox("queries",
                        tr("Queries Q per head of the generated workload (the transformer's: "
                           "the last Q tokens, Q ≤ K)"),
                        1024, 1 << 20);
    c.keys = sizeBox("keys", tr("Key tokens K of the generated workload"), 1024, 1 << 20);
    auto* sizeRow = new QHBoxLayout;
    sizeRow->addWidget(c.heads);
    sizeRow->addWidget(new QLabel(QStringLiteral("×")));
    sizeRow->addWidget(c.queries);
    sizeRow->addWidget(new QLabel(QStringLiteral("×")));
    sizeRow->addWidget(c.keys);
    auto* sizeLabel = new QLabel(tr("H × Q × K"));
    sizeLabel->setToolTip(tr("Heads × queries × keys of the generated workload"));
    form->addRow(sizeLabel, sizeRow);
    c.sigma = named(new QDoubleSpinBox, "sigma",
                    tr("Standard deviation σ of the random logits Z (0 gives uniform A)"));
    c.sigma->setDecimals(3);
    c.sigma->setRange(0, 100);
    c.sigma->setSingleStep(0.05);
    c.sigma->setValue(0.1);
    c.sigma->setKeyboardTracking(false);
    form->addRow(formLabel(tr("Logit σ"), c.sigma), c.sigma);
    workload_->addTransformerRows(form, c.sigma);
    c.source = named(new QLabel, "source", tr("Where the workload and the saliency come from"));
    c.source->setWordWrap(true);
    c.source->setTextInteractionFlags(Qt::TextSelectableByMouse);
    form->addRow(c.source);
    return workload;
}

QWidget* ControlPanel::buildViews() {
    WindowControls& c = c_;
    auto* views = new QGroupBox(tr("Views"));
    auto* form = new QFormLayout(views);
    viewsForm_ = form;
    c.layer = named(new QComboBox, "layer",
                    tr("Layer of the dump whose rows are evaluated and shown (Ctrl+L); \"All "
                       "layers\": the metrics over every layer, the row views the mean over the "
                       "layers"));
    c.layer->addItem(tr("All layers"), -1);
    form->addRow(formLabel(tr("Layer"), c.layer), c.layer);
    form->setRowVisible(c.layer, false); // shown for a dump of several layers
    c.head = named(new QSpinBox, "head",
                   tr("Head (within a layer) of the per-token row, the matrix and the image "
                      "view"));
    c.head->setRange(0, 31);
    c.query = named(new QSpinBox, "query",
                    tr("Query of the per-token row (or click a row in the matrix, or a query's "
                       "token in the per-token or image view)"));
    c.query->setRange(0, 1023);
    auto* pickRow = new QHBoxLayout;
    pickRow->addWidget(new QLabel(tr("head")));
    pickRow->addWidget(c.head, 1);
    pickRow->addWidget(new QLabel(tr("query")));
    pickRow->addWidget(c.query, 1);
    auto* rowLabel = new QLabel(tr("Row"));
    rowLabel->setToolTip(tr("The attention row (head, query) shown per token"));
    form->addRow(rowLabel, pickRow);
    c.perTokenMode =
        named(new QComboBox, "perTokenMode",
              tr("Per-token view: how steering rescales each key's attention, A′/A, with the "
                 "keys in the order of their saliency (a rising curve: attention moves to the "
                 "salient keys), or A and A′ themselves over the keys"));
    c.perTokenMode->addItem(tr("A′/A by saliency"), int(PerTokenMode::RatioBySaliency));
    c.perTokenMode->addItem(tr("A and A′ per key"), int(PerTokenMode::Values));
    letShrink(c.perTokenMode);
    form->addRow(formLabel(tr("Per token"), c.perTokenMode), c.perTokenMode);
    c.sortBySaliency =
        named(new QCheckBox(tr("Sort tokens by saliency")), "sortBySaliency",
              tr("Per-token view: x = rank of s (0 = most salient) instead of the key index"));
    form->addRow(c.sortBySaliency);
    c.showDifference = named(new QCheckBox(tr("Show A′ − A in the matrix")), "showDifference",
                             tr("Matrix view: the change A′ − A instead of A′"));
    form->addRow(c.showDifference);
    c.matrixLogScale =
        named(new QCheckBox(tr("Log colour scale in the matrix")), "matrixLogScale",
              tr("Matrix view: colours on a logarithmic scale over four decades below the "
                 "largest A′ (sharp peaks and the faint rest both show); A′ − A stays linear"));
    form->addRow(c.matrixLogScale);
    c.sweepSeeds = named(new QSpinBox, "sweepSeeds",
                         tr("Seeds of the tradeoff curve (seed, seed + 1, ...): error bars "
                            "show their standard deviation"));
    c.sweepSeeds->setRange(1, 20);
    c.sweepSeeds->setValue(3);
    c.sweepSeeds->setKeyboardTracking(false);
    form->addRow(formLabel(tr("Sweep seeds"), c.sweepSeeds), c.sweepSeeds);
    c.tradeoffY = named(new QComboBox, "tradeoffY",
                        tr("What the tradeoff view plots against KL: the entropy reduction, the "
                           "gain in saliency expectation Σ A′s − Σ A s, or (with a target) the "
                           "gain in target mass or in pointing, or the pointing accuracy of A′ "
                           "(the transformer workload's default)"));
    c.tradeoffY->addItem(tr("entropy reduction"), int(TradeoffY::EntropyReduction));
    c.tradeoffY->addItem(tr("saliency-expectation gain"), int(TradeoffY::ExpectationGain));
    c.tradeoffY->addItem(tr("target-mass gain"), int(TradeoffY::TargetMassGain));
    c.tradeoffY->addItem(tr("pointing gain"), int(TradeoffY::PointingGain));
    c.tradeoffY->addItem(tr("pointing accuracy"), int(TradeoffY::Pointing));
    form->addRow(formLabel(tr("Tradeoff y"), c.tradeoffY), c.tradeoffY);
    showTargetAvailable(false);
    return views;
}

void ControlPanel::connectControls() {
    const WindowControls& c = c_;
    connect(c.lambdaSlider, &QSlider::valueChanged, this, [this](int position) {
        c_.lambda->setValue(c_.lambdaMax->value() * position / kLambdaSteps);
    });
    connect(c.lambda, &QDoubleSpinBox::valueChanged, this, &ControlPanel::lambdaSpinChanged);
    connect(c.lambdaMax, &QDoubleSpinBox::valueChanged, this, &ControlPanel::lambdaMaxChanged);
    connect(c.eps, &QDoubleSpinBox::valueChanged, this, &ControlPanel::scenarioEdited);
    connect(c.normalization, &QComboBox::currentIndexChanged, this, [this] {
        c_.binaryThreshold->setEnabled(c_.normalization->currentData().toInt() ==
                                       int(Normalization::Binary));
        emit scenarioEdited();
    });
    connect(c.binaryThreshold, &QDoubleSpinBox::valueChanged, this, &ControlPanel::scenarioEdited);
    connect(c.steeredHeads, &QLineEdit::editingFinished, this, &ControlPanel::applySteeredHeads);
    connect(c.gateEntropy, &QDoubleSpinBox::valueChanged, this, &ControlPanel::scenarioEdited);
    connect(c.tradeoffY, &QComboBox::currentIndexChanged, this,
            [this] { emit tradeoffYChanged(tradeoffY()); });
    connect(c.seedSlider, &QSlider::valueChanged, c.seed, &QSpinBox::setValue);
    connect(c.seed, &QSpinBox::valueChanged, this, [this](int seed) {
        const QSignalBlocker blocker(c_.seedSlider);
        c_.seedSlider->setValue(std::min(seed, kSeedSliderMax));
        emit scenarioEdited();
    });
    for (QSpinBox* box : {c.heads, c.queries, c.keys})
        connect(box, &QSpinBox::valueChanged, this, &ControlPanel::scenarioEdited);
    connect(c.sigma, &QDoubleSpinBox::valueChanged, this, &ControlPanel::scenarioEdited);
    connect(projection_, &ProjectionControls::edited, this, &ControlPanel::scenarioEdited);
    connect(workload_, &WorkloadControls::edited, this, &ControlPanel::scenarioEdited);
    connect(workload_, &WorkloadControls::kindChanged, this, &ControlPanel::workloadKindChanged);
    connect(c.backend, &QComboBox::currentIndexChanged, this,
            [this] { emit backendChosen(backend()); });
    for (QSpinBox* box : {c.head, c.query})
        connect(box, &QSpinBox::valueChanged, this,
                [this] { emit viewChanged(c_.head->value(), c_.query->value()); });
    connect(c.layer, &QComboBox::currentIndexChanged, this, [this] { emit layerChosen(layer()); });
    connect(c.perTokenMode, &QComboBox::currentIndexChanged, this, [this] {
        c_.sortBySaliency->setEnabled(PerTokenMode(c_.perTokenMode->currentData().toInt()) ==
                                      PerTokenMode::Values);
    });
    connect(c.showDifference, &QCheckBox::toggled, c.matrixLogScale,
            [this](bool difference) { c_.matrixLogScale->setEnabled(!difference); });
    connect(c.sweepSeeds, &QSpinBox::valueChanged, this,
            [this](int seeds) { emit sweepGridChanged(c_.lambdaMax->value(), seeds); });
    syncLambdaSlider();
}

Scenario ControlPanel::scenario(Scenario scenario) const {
    const WindowControls& c = c_;
    scenario.spec.heads = c.heads->value();
    scenario.spec.queries = c.queries->value();
    scenario.spec.keys = c.keys->value();
    scenario.spec.logitStd = c.sigma->value();
    scenario.spec.seed = std::uint64_t(c.seed->value());
    scenario.normalization = Normalization(c.normalization->currentData().toInt());
    scenario.binaryThreshold = c.binaryThreshold->value();
    scenario.params.lambda = c.lambda->value();
    scenario.params.eps = c.eps->value();
    scenario.params.steeredHeads = steeredHeads_;
    scenario.params.steeredLayerHeads = steeredLayerHeads_;
    scenario.params.gateEntropy = c.gateEntropy->value();
    scenario.projection = projection();
    workload_->apply(scenario);
    return scenario;
}

ProjectionOptions ControlPanel::projection() const {
    return projection_->options();
}

void ControlPanel::showProjection(const ProjectionOptions& options) {
    projection_->showOptions(options);
}

double ControlPanel::lambda() const {
    return c_.lambda->value();
}

void ControlPanel::setLambda(double lambda) {
    if (std::abs(lambda) > kLambdaLimit)
        emit notice(tr("λ = %1 is beyond the window's limit of ±%2; using %3")
                        .arg(lambda)
                        .arg(kLambdaLimit)
                        .arg(std::clamp(lambda, -kLambdaLimit, kLambdaLimit)));
    c_.lambda->setValue(std::clamp(lambda, -kLambdaLimit, kLambdaLimit)); // raises lambda max
}

void ControlPanel::setWorkloadSize(int heads, int queries, int keys) {
    {
        const QSignalBlocker a(c_.heads), b(c_.queries), c(c_.keys);
        c_.heads->setValue(heads);
        c_.queries->setValue(queries);
        c_.keys->setValue(keys);
    }
    emit scenarioEdited();
}

int ControlPanel::head() const {
    return c_.head->value();
}

void ControlPanel::setQuery(int query) {
    c_.query->setValue(query);
}

std::optional<int> ControlPanel::layer() const {
    const int layer = c_.layer->currentData().toInt();
    return layer >= 0 ? std::optional<int>(layer) : std::nullopt;
}

void ControlPanel::showLayers(int sourceLayers, std::optional<int> chosen) {
    const QSignalBlocker blocker(c_.layer);
    if (c_.layer->count() != sourceLayers + 1) {
        c_.layer->clear();
        c_.layer->addItem(tr("All layers"), -1);
        for (int layer = 0; layer < sourceLayers; ++layer)
            c_.layer->addItem(tr("Layer %1").arg(layer), layer);
    }
    c_.layer->setCurrentIndex(std::max(c_.layer->findData(chosen ? *chosen : -1), 0));
    viewsForm_->setRowVisible(c_.layer, sourceLayers > 1);
}

bool ControlPanel::focusLayer() {
    if (!c_.layer->isVisibleTo(this))
        return false;
    ensureWidgetVisible(c_.layer);
    c_.layer->setFocus(Qt::ShortcutFocusReason);
    return true;
}

void ControlPanel::lambdaSpinChanged(double lambda) {
    if (lambda > c_.lambdaMax->value()) {
        // The slider and the tradeoff curve reach the new lambda; the user is told.
        {
            const QSignalBlocker blocker(c_.lambdaMax);
            c_.lambdaMax->setValue(lambda);
        }
        emit notice(tr("λ max raised to %1 to reach λ = %1 (the slider and the tradeoff curve "
                       "now go up to it)")
                        .arg(c_.lambdaMax->value(), 0, 'f', 3));
        emit sweepGridChanged(c_.lambdaMax->value(), c_.sweepSeeds->value());
    }
    syncLambdaSlider();
    emit lambdaChanged(lambda);
    emit scenarioEdited();
}

void ControlPanel::lambdaMaxChanged(double maximum) {
    if (c_.lambda->value() > maximum) {
        emit notice(tr("λ lowered to the new λ max, %1").arg(maximum, 0, 'f', 3));
        c_.lambda->setValue(maximum); // applies itself
    }
    syncLambdaSlider();
    emit sweepGridChanged(maximum, c_.sweepSeeds->value());
}

void ControlPanel::syncLambdaSlider() {
    const QSignalBlocker blocker(c_.lambdaSlider);
    // A negative lambda (steering away) sits at the slider's left end.
    c_.lambdaSlider->setValue(int(std::lround(
        std::clamp(c_.lambda->value() / c_.lambdaMax->value(), 0.0, 1.0) * kLambdaSteps)));
}

namespace {

/// Throws what checkSteeringInputs throws for LIST on a source of LAYERS layers (0: not known
/// yet, any layer passes) of HEADS heads each.
void checkSteeredHeadList(const SteeredHeadList& list, int layers, int heads) {
    checkSteeredHeads(list.heads, heads);
    for (const LayerHead& one : list.layerHeads) {
        if (layers > 0 && one.layer >= layers)
            throw settingError("steer-heads", "layer " + std::to_string(one.layer) +
                                                  " is out of range 0.." +
                                                  std::to_string(layers - 1));
        checkSteeredHeads(std::span(&one.head, 1), heads);
    }
}

template <typename T> void sortUnique(std::vector<T>& values) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
}

} // namespace

void ControlPanel::applySteeredHeads() {
    const QString text = c_.steeredHeads->text().trimmed();
    SteeredHeadList list;
    if (!text.isEmpty() && text.compare(QStringLiteral("all"), Qt::CaseInsensitive) != 0) {
        try {
            list = parseSteeredHeads(text.toStdString());
            checkSteeredHeadList(list, workloadLayers_,
                                 workloadHeads_ > 0 ? workloadHeads_ : c_.heads->value());
        } catch (const InputError& error) {
            refuseSteeredHeads(windowMessage(error));
            return;
        }
        sortUnique(list.heads);
        sortUnique(list.layerHeads);
    }
    steeredHeads_ = list.heads;
    steeredLayerHeads_ = list.layerHeads;
    const bool all = list.heads.empty() && list.layerHeads.empty();
    steeredHeadsText_ = all ? QStringLiteral("all") : text;
    c_.steeredHeads->setText(steeredHeadsText_);
    markSteeredHeads(QString());
    emit scenarioEdited();
}

void ControlPanel::steerHeads(const QString& text) {
    c_.steeredHeads->setText(text);
    applySteeredHeads();
}

TradeoffY ControlPanel::tradeoffY() const {
    return TradeoffY(c_.tradeoffY->currentData().toInt());
}

void ControlPanel::showTargetAvailable(bool available) {
    // The target's gains need a target: without one they are not offered (and not kept).
    auto* model = qobject_cast<QStandardItemModel*>(c_.tradeoffY->model());
    constexpr TradeoffY kNeedTarget[] = {TradeoffY::TargetMassGain, TradeoffY::PointingGain,
                                         TradeoffY::Pointing};
    for (TradeoffY y : kNeedTarget) {
        QStandardItem* item = model->item(c_.tradeoffY->findData(int(y)));
        item->setEnabled(available);
        item->setToolTip(available ? QString()
                                   : tr("Needs a target (File → Open target mask, or the "
                                        "transformer workload's object)"));
    }
    if (!available && std::find(std::begin(kNeedTarget), std::end(kNeedTarget), tradeoffY()) !=
                          std::end(kNeedTarget))
        c_.tradeoffY->setCurrentIndex(c_.tradeoffY->findData(int(TradeoffY::EntropyReduction)));
}

void ControlPanel::refuseSteeredHeads(const QString& message) {
    // The typo stays where the user can fix it, marked, with the reason; the heads last
    // accepted stay in effect. No dialog: the status bar says it too.
    markSteeredHeads(message);
    emit notice(tr("%1 (still steering: %2)").arg(message, steeredHeadsText_));
}

void ControlPanel::markSteeredHeads(const QString& problem) {
    QLineEdit* field = c_.steeredHeads;
    const bool invalid = !problem.isEmpty();
    if (field->property("invalid").toBool() == invalid &&
        (!invalid || field->toolTip().startsWith(problem)))
        return;
    field->setProperty("invalid", invalid);
    field->setToolTip(invalid ? tr("%1\nStill steering: %2. Press Enter to apply a correction.")
                                    .arg(problem, steeredHeadsText_)
                              : field->property("acceptedToolTip").toString());
    field->style()->unpolish(field); // the style sheet follows the property
    field->style()->polish(field);
}

bool ControlPanel::steeredHeadsMarked() const {
    return c_.steeredHeads->property("invalid").toBool();
}

BackendKind ControlPanel::backend() const {
    return BackendKind(c_.backend->currentData().toInt());
}

void ControlPanel::chooseBackend(BackendKind kind) {
    const int index = c_.backend->findData(int(kind));
    if (c_.backend->currentIndex() != index)
        c_.backend->setCurrentIndex(index); // emits backendChosen
    else
        emit backendChosen(kind);
}

void ControlPanel::showBackend(BackendKind kind) {
    const QSignalBlocker blocker(c_.backend);
    c_.backend->setCurrentIndex(c_.backend->findData(int(kind)));
}

void ControlPanel::showWorkload(const Workload& workload, bool fromFile, int head, int query) {
    WindowControls& c = c_;
    // Heads are those of a layer: steered heads apply to every layer, the views pick a layer.
    workloadHeads_ = workload.headsPerLayer();
    workloadLayers_ = workload.sourceLayers();
    // File workloads define the sizes: show them, and keep the random sizes from being edited.
    for (QSpinBox* box : {c.heads, c.queries, c.keys})
        box->setEnabled(!fromFile);
    c.sigma->setEnabled(!fromFile);
    workload_->showFileWorkload(fromFile);
    if (fromFile) {
        const QSignalBlocker a(c.heads), b(c.queries), d(c.keys);
        c.heads->setValue(workload.headsPerLayer());
        c.queries->setValue(workload.queries());
        c.keys->setValue(workload.keys());
    }
    {
        const QSignalBlocker a(c.head), b(c.query);
        c.head->setRange(0, workload.headsPerLayer() - 1);
        c.query->setRange(0, workload.queries() - 1);
        c.head->setValue(head);
        c.query->setValue(query);
    }
    try {
        checkSteeredHeadList({steeredHeads_, steeredLayerHeads_}, workload.sourceLayers(),
                             workload.headsPerLayer());
    } catch (const InputError& error) {
        emit notice(tr("%1 for this workload; steering all heads").arg(windowMessage(error)));
        c.steeredHeads->setText(QStringLiteral("all"));
        applySteeredHeads();
    }
}

void ControlPanel::showSources(const Scenario& s) {
    QString text = tr("Workload: %1\nSaliency: %2")
                       .arg(QString::fromStdString(workloadLabel(s, PathStyle::FileName)),
                            QString::fromStdString(saliencyLabel(s, PathStyle::FileName)));
    const auto name = [](const std::string& path) {
        return QFileInfo(QString::fromStdString(path)).fileName();
    };
    if (!s.targetMaskPath.empty())
        text += tr("\nTarget: mask %1").arg(name(s.targetMaskPath));
    else if (!s.targetPath.empty())
        text += tr("\nTarget: file %1").arg(name(s.targetPath));
    c_.source->setText(text);
}

} // namespace attnsteer
