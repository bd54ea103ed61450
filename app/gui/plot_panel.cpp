#include "plot_panel.h"

#include "matrix_plot.h"
#include "panels.h"
#include "per_token_plot.h"
#include "saliency_grid_plot.h"
#include "tradeoff_plot.h"
#include "widget_helpers.h"
#include "window_controls.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>

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
    auto* opacityRowWidget = new QWidget;
    auto* opacityRow = new QHBoxLayout(opacityRowWidget);
    opacityRow->setContentsMargins(6, 0, 6, 4);
    c_.overlayOpacity =
        named(new QSlider(Qt::Horizontal), "overlayOpacity",
              tr("Opacity of the saliency heat overlay over a loaded image (0–100 %)"));
    c_.overlayOpacity->setRange(0, 100);
    c_.overlayOpacity->setValue(55);
    opacityRow->addWidget(formLabel(tr("Overlay opacity"), c_.overlayOpacity));
    opacityRow->addWidget(c_.overlayOpacity, 1);
    saliencyPanel_ = new SaliencyPanel(grid_, c_.imageCaption, opacityRowWidget);
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
    data.highlightedToken = perToken_->highlightedToken();
    data.overlayOpacity = c_.overlayOpacity->value() / 100.0;
}

} // namespace attnsteer
