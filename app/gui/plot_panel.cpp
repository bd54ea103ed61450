#include "plot_panel.h"

#include "matrix_plot.h"
#include "panels.h"
#include "per_token_plot.h"
#include "saliency_grid_plot.h"
#include "tradeoff_plot.h"
#include "widget_helpers.h"
#include "window_controls.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QVBoxLayout>

namespace attnsteer {

PlotPanel::PlotPanel(WindowControls& controls, QWidget* parent)
    : QSplitter(Qt::Vertical, parent), c_(controls) {
    setObjectName(QStringLiteral("mainSplitter"));
    perToken_ = new PerTokenPlot;
    perToken_->setObjectName(QStringLiteral("perTokenPlot"));
    tradeoff_ = new TradeoffPlot;
    tradeoff_->setObjectName(QStringLiteral("tradeoffPlot"));
    grid_ = new SaliencyGridPlot;
    grid_->setObjectName(QStringLiteral("saliencyGridPlot"));
    matrix_ = new MatrixPlot;
    matrix_->setObjectName(QStringLiteral("matrixPlot"));

    // The image panel: the grid, its caption and the overlay opacity.
    c_.imageCaption =
        named(new QLabel, "imageCaption", tr("The vision-token grid the saliency is shown on"));
    c_.imageCaption->setTextInteractionFlags(Qt::TextSelectableByMouse);
    c_.imageCaption->setWordWrap(true);
    c_.imageCaption->setAlignment(Qt::AlignHCenter | Qt::AlignTop);
    c_.imageCaption->setContentsMargins(6, 0, 6, 0);
    // Below it: what the cells show, then the overlay's opacity (one widget: the panel lays it
    // out as one block).
    auto* controlsWidget = new QWidget;
    auto* controlRows = new QVBoxLayout(controlsWidget);
    controlRows->setContentsMargins(6, 0, 6, 4);
    controlRows->setSpacing(2);
    auto* modeRow = new QHBoxLayout;
    c_.imageMode = named(new QComboBox, "imageMode",
                         tr("What the vision tokens show: the saliency s, or the attention A, the "
                            "steered A′ or the change A′ − A of the row shown (its layer or the "
                            "mean over the layers, its head and query)"));
    c_.imageMode->addItem(tr("Saliency s"), int(ImageMode::Saliency));
    c_.imageMode->addItem(tr("Attention A"), int(ImageMode::Attention));
    c_.imageMode->addItem(tr("Steered A′"), int(ImageMode::Steered));
    c_.imageMode->addItem(tr("Change A′ − A"), int(ImageMode::Difference));
    c_.imageQueryMean =
        named(new QCheckBox(tr("mean over queries")), "imageQueryMean",
              tr("A, A′ and A′ − A averaged over the head's query rows (those the matrix shows) "
                 "instead of the chosen query's row"));
    c_.imageQueryMean->setEnabled(false);
    c_.imageMode->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    c_.imageMode->setMinimumContentsLength(8);
    // Mode and its query mean on two rows: the panel stays narrow enough for a small screen.
    modeRow->addWidget(formLabel(tr("Show"), c_.imageMode));
    modeRow->addWidget(c_.imageMode, 1);
    controlRows->addLayout(modeRow);
    controlRows->addWidget(c_.imageQueryMean);
    auto* opacityRow = new QHBoxLayout;
    c_.overlayOpacity =
        named(new QSlider(Qt::Horizontal), "overlayOpacity",
              tr("Opacity of the heat overlay over the image under the grid (0–100 %)"));
    c_.overlayOpacity->setRange(0, 100);
    c_.overlayOpacity->setValue(55);
    opacityRow->addWidget(formLabel(tr("Overlay opacity"), c_.overlayOpacity));
    opacityRow->addWidget(c_.overlayOpacity, 1);
    controlRows->addLayout(opacityRow);
    saliencyPanel_ = new SaliencyPanel(grid_, c_.imageCaption, controlsWidget);
    saliencyPanel_->setObjectName(QStringLiteral("saliencyPanel"));

    bottomSplitter_ = new QSplitter(Qt::Horizontal);
    bottomSplitter_->setObjectName(QStringLiteral("bottomSplitter"));
    bottomSplitter_->addWidget(tradeoff_);
    bottomSplitter_->addWidget(saliencyPanel_);
    bottomSplitter_->addWidget(matrix_);
    bottomSplitter_->setChildrenCollapsible(false);
    addWidget(perToken_);
    addWidget(bottomSplitter_);
    setChildrenCollapsible(false);
    setStretchFactor(0, 4);
    setStretchFactor(1, 5);

    connect(grid_, &SaliencyGridPlot::tokenHovered, perToken_, &PerTokenPlot::highlightToken);
    connect(perToken_, &PerTokenPlot::tokenHovered, grid_, &SaliencyGridPlot::highlightToken);
    connect(matrix_, &MatrixPlot::queryPicked, this, &PlotPanel::queryPicked);
    connect(perToken_, &PerTokenPlot::tokenClicked, this, &PlotPanel::keyPicked);
    connect(grid_, &SaliencyGridPlot::tokenClicked, this, &PlotPanel::keyPicked);
    connect(c_.imageMode, &QComboBox::currentIndexChanged, this, [this] {
        const auto mode = ImageMode(c_.imageMode->currentData().toInt());
        c_.imageQueryMean->setEnabled(mode != ImageMode::Saliency);
        grid_->setMode(mode);
    });
    connect(c_.imageQueryMean, &QCheckBox::toggled, grid_, &SaliencyGridPlot::setQueryMean);
    connect(c_.overlayOpacity, &QSlider::valueChanged, this,
            [this](int percent) { grid_->setOverlayOpacity(percent / 100.0); });
}

std::array<PlotView*, 4> PlotPanel::views() const {
    return {perToken_, tradeoff_, grid_, matrix_};
}

void PlotPanel::showSaliency(const PlotData& data) {
    grid_->setData(data);
    c_.imageCaption->setText(gridCaption(data));
    saliencyPanel_->updateLayout(); // the grid's shape may have changed
}

void PlotPanel::showRows(PlotData data) {
    perToken_->setData(data);
    grid_->setAttention(data.attention, data.steered, data.queryMeanAttention,
                        data.queryMeanSteered, data.head, data.layer, data.layersAveraged,
                        data.query, data.queryMeanRows, data.lambda);
    showMatrix(std::move(data));
}

void PlotPanel::showMatrix(PlotData data) {
    matrix_->setData(std::move(data));
}

void PlotPanel::showSweep(const PlotData& data) {
    tradeoff_->setData(data);
}

void PlotPanel::addViewSettings(PlotData& data) const {
    data.sortBySaliency = perToken_->sortBySaliency();
    data.perTokenMode = perToken_->mode();
    data.highlightedToken = perToken_->highlightedToken();
    data.overlayOpacity = c_.overlayOpacity->value() / 100.0;
    data.imageMode = ImageMode(c_.imageMode->currentData().toInt());
    data.imageQueryMean = c_.imageQueryMean->isChecked();
    if (c_.matrixLogScale)
        data.matrixLogScale = c_.matrixLogScale->isChecked();
}

} // namespace attnsteer
