#include "saliency_grid_plot.h"

#include "heat_map.h"

#include <qcustomplot.h>

#include <QToolTip>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

namespace attnsteer {

namespace {

/// Light to dark green: the saliency colour of every view.
QCPColorGradient saliencyGradient() {
    return colorGradient({{0.0, QColor(0xf4, 0xfb, 0xf2)},
                          {0.45, QColor(0x7c, 0xc8, 0x8a)},
                          {0.75, plotcolors::saliency()},
                          {1.0, QColor(0x0b, 0x4a, 0x1f)}});
}

/// White to deep purple: A and A' on one scale (neither A's blue nor A''s orange, so that the
/// two read as the same scale).
QCPColorGradient attentionGradient() {
    return colorGradient({{0.0, QColor(0xfc, 0xfb, 0xfd)},
                          {0.3, QColor(0xbc, 0xbd, 0xdc)},
                          {0.6, QColor(0x80, 0x7d, 0xba)},
                          {0.85, QColor(0x54, 0x27, 0x8f)},
                          {1.0, QColor(0x3f, 0x00, 0x7d)}});
}

/// Blue (A' below A) through white (no change) to red (A' above A).
QCPColorGradient changeGradient() {
    return colorGradient({{0.0, QColor(0x21, 0x66, 0xac)},
                          {0.25, QColor(0x92, 0xc5, 0xde)},
                          {0.5, QColor(0xf7, 0xf7, 0xf7)},
                          {0.75, QColor(0xf4, 0xa5, 0x82)},
                          {1.0, QColor(0xb2, 0x18, 0x2b)}});
}

constexpr int kMinCellPixelsForLines = 5; ///< thinner cells get no grid lines

QString modeSymbol(ImageMode mode) {
    switch (mode) {
    case ImageMode::Saliency:
        return QStringLiteral("s");
    case ImageMode::Attention:
        return QStringLiteral("A");
    case ImageMode::Steered:
        return QStringLiteral("A′");
    case ImageMode::Difference:
        break;
    }
    return QStringLiteral("A′ − A");
}

/// Whole-number ticks on the grid only: the axes extend beyond it to keep the cells square, but
/// rows and columns below 0 or past the end do not exist.
class GridTicker : public QCPAxisTicker {
  public:
    void setLimit(int limit) { limit_ = limit; }

  protected:
    double getTickStep(const QCPRange& range) override {
        // 1, 2, 5, 10, 20, ...: whole rows and columns only.
        const double step = QCPAxisTicker::getTickStep(range);
        if (!(step > 1))
            return 1;
        const double magnitude = std::pow(10.0, std::floor(std::log10(step)));
        const double mantissa = step / magnitude;
        return (mantissa <= 1 ? 1 : mantissa <= 2 ? 2 : mantissa <= 5 ? 5 : 10) * magnitude;
    }
    QVector<double> createTickVector(double tickStep, const QCPRange& range) override {
        QVector<double> ticks = QCPAxisTicker::createTickVector(tickStep, range);
        ticks.erase(std::remove_if(ticks.begin(), ticks.end(),
                                   [this](double tick) { return tick < 0 || tick > limit_; }),
                    ticks.end());
        return ticks;
    }

  private:
    int limit_ = 0;
};

} // namespace

SaliencyGridPlot::SaliencyGridPlot(QWidget* parent) : PlotView(parent) {
    QCustomPlot* plot = customPlot();
    styleHeatMapAxes(tr("token column"), tr("token row")); // row 0 at the top, like the image
    for (QCPAxis* axis : {plot->xAxis, plot->yAxis}) {
        QSharedPointer<GridTicker> ticker(new GridTicker);
        ticker->setTickCount(6);
        axis->setTicker(ticker);
    }

    map_ = new QCPColorMap(plot->xAxis, plot->yAxis);
    map_->setInterpolate(false);
    map_->setTightBoundary(false);
    scale_ = new QCPColorScale(plot);
    plot->plotLayout()->addElement(1, 1, scale_);
    scale_->setType(QCPAxis::atRight);
    styleAxis(scale_->axis(), tr("saliency s"));
    map_->setColorScale(scale_);
    map_->setGradient(saliencyGradient());
    auto* group = new QCPMarginGroup(plot);
    plot->axisRect()->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    scale_->setMarginGroup(QCP::msTop | QCP::msBottom, group);

    pixmap_ = new QCPItemPixmap(plot);
    pixmap_->setLayer(QStringLiteral("background"));
    pixmap_->setScaled(true, Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
    pixmap_->topLeft->setCoords(0, 0);
    pixmap_->bottomRight->setCoords(1, 1);
    pixmap_->setVisible(false);

    frame_ = new QCPItemRect(plot);
    frame_->setBrush(Qt::NoBrush);
    frame_->setLayer(QStringLiteral("overlay"));
    frame_->setVisible(false);
    outline_ = std::make_unique<TargetOutlineItems>(plot);

    connect(plot, &QCustomPlot::mouseMove, this, &SaliencyGridPlot::onMouseMove);
    onLeftClick([this](QPoint release) {
        const int token = tokenAt(release);
        if (token >= 0)
            emit tokenClicked(token);
    });
    applyStyle(PlotStyle::screen());
    rebuild();
}

void SaliencyGridPlot::styleChanged(const PlotStyle& style) {
    frame_->setPen(QPen(plotcolors::marker(), 2.5 * style.thin));
    highlightToken(highlighted_);
}

void SaliencyGridPlot::pointerLeft() {
    QToolTip::hideText();
    if (hovered_ != -1) {
        hovered_ = -1;
        highlightToken(-1);
        emit tokenHovered(-1);
    }
}

void SaliencyGridPlot::setData(const PlotData& data) {
    image_ = data.image;
    opacity_ = std::clamp(data.overlayOpacity, 0.0, 1.0);
    highlighted_ = data.highlightedToken;
    mode_ = data.imageMode;
    queryMean_ = data.imageQueryMean;
    attention_ = data.attention, steered_ = data.steered;
    meanAttention_ = data.queryMeanAttention, meanSteered_ = data.queryMeanSteered;
    head_ = data.head, layer_ = data.layer, layersAveraged_ = data.layersAveraged;
    query_ = data.query, meanRows_ = data.queryMeanRows, lambda_ = data.lambda;
    target_ = data.target;
    setSaliency(data.saliency, data.gridHeight, data.gridWidth, data.gridOffset);
}

void SaliencyGridPlot::setAttention(std::vector<double> attention, std::vector<double> steered,
                                    std::vector<double> meanAttention,
                                    std::vector<double> meanSteered, int head, int layer,
                                    int layersAveraged, int query, int meanRows, double lambda) {
    attention_ = std::move(attention), steered_ = std::move(steered);
    meanAttention_ = std::move(meanAttention), meanSteered_ = std::move(meanSteered);
    head_ = head, layer_ = layer, layersAveraged_ = layersAveraged;
    query_ = query, meanRows_ = meanRows, lambda_ = lambda;
    if (mode_ == ImageMode::Saliency)
        return; // nothing shown changed: no redraw while lambda is dragged
    updateValues();
    scheduleReplot();
}

void SaliencyGridPlot::setTarget(std::vector<unsigned char> target) {
    target_ = std::move(target);
    rebuild();
}

const std::vector<QLineF>& SaliencyGridPlot::targetOutlineSegments() const {
    return outline_->segments();
}

void SaliencyGridPlot::setMode(ImageMode mode) {
    if (mode == mode_)
        return;
    mode_ = mode;
    updateValues();
    scheduleReplot();
}

void SaliencyGridPlot::setQueryMean(bool mean) {
    if (mean == queryMean_)
        return;
    queryMean_ = mean;
    updateValues();
    scheduleReplot();
}

std::vector<double> SaliencyGridPlot::modeValues() const {
    const std::vector<double>& a = queryMean_ ? meanAttention_ : attention_;
    const std::vector<double>& b = queryMean_ ? meanSteered_ : steered_;
    switch (mode_) {
    case ImageMode::Saliency:
        return saliency_;
    case ImageMode::Attention:
        return a;
    case ImageMode::Steered:
        return b;
    case ImageMode::Difference:
        break;
    }
    if (a.size() != b.size())
        return {};
    std::vector<double> change(a.size());
    for (std::size_t k = 0; k < a.size(); ++k)
        change[k] = b[k] - a[k];
    return change;
}

double SaliencyGridPlot::shownValue(int token) const {
    const int index = token - offset_;
    if (token < 0 || index < 0 || index >= gridHeight_ * gridWidth_ ||
        std::size_t(token) >= shown_.size())
        return std::numeric_limits<double>::quiet_NaN();
    return shown_[std::size_t(token)];
}

void SaliencyGridPlot::setSaliency(std::vector<double> saliency, int gridHeight, int gridWidth,
                                   int offset) {
    saliency_ = std::move(saliency);
    if (gridHeight <= 0 || gridWidth <= 0) {
        const QSize shape = gridShapeFor(int(saliency_.size()));
        gridHeight = shape.height(), gridWidth = shape.width(), offset = 0;
    }
    gridHeight_ = gridHeight, gridWidth_ = gridWidth, offset_ = std::max(offset, 0);
    rebuild();
}

void SaliencyGridPlot::setImage(const QImage& image) {
    image_ = image;
    rebuild();
}

void SaliencyGridPlot::setOverlayOpacity(double opacity) {
    opacity_ = std::clamp(opacity, 0.0, 1.0);
    updateOverlay();
    scheduleReplot();
}

void SaliencyGridPlot::rebuild() {
    QCustomPlot* plot = customPlot();
    const int gh = gridHeight_, gw = gridWidth_;
    static_cast<GridTicker*>(plot->xAxis->ticker().data())->setLimit(gw);
    static_cast<GridTicker*>(plot->yAxis->ticker().data())->setLimit(gh);
    map_->data()->clear();
    map_->data()->setSize(std::max(gw, 1), std::max(gh, 1));
    map_->data()->setRange(QCPRange(0.5, std::max(gw, 1) - 0.5),
                           QCPRange(0.5, std::max(gh, 1) - 0.5));

    pixmap_->setVisible(!image_.isNull() && gh > 0);
    if (!image_.isNull()) {
        if (image_.cacheKey() != imageKey_) { // a big picture is converted once, not per row
            pixmap_->setPixmap(QPixmap::fromImage(image_));
            imageKey_ = image_.cacheKey();
        }
        pixmap_->bottomRight->setCoords(gw, gh);
    }

    for (QCPItemLine* line : lines_)
        plot->removeItem(line);
    lines_.clear();
    if (gh > 0 && gw > 0 && gh + gw <= 600) {
        const QPen pen(image_.isNull() ? QColor(255, 255, 255, 140) : QColor(255, 255, 255, 170),
                       image_.isNull() ? 0.8 : 1.0);
        auto addLine = [&](double x1, double y1, double x2, double y2) {
            auto* line = new QCPItemLine(plot);
            line->start->setCoords(x1, y1);
            line->end->setCoords(x2, y2);
            line->setPen(pen);
            lines_.push_back(line);
        };
        for (int c = 0; c <= gw; ++c)
            addLine(c, 0, c, gh);
        for (int r = 0; r <= gh; ++r)
            addLine(0, r, gw, r);
    }
    outline_->show(targetOutline(target_, offset_, gh, gw));
    highlightToken(highlighted_); // drops the mark when the token left the grid
    updateValues();
    resetView();
    scheduleReplot();
}

void SaliencyGridPlot::updateValues() {
    const int gh = gridHeight_, gw = gridWidth_;
    shown_ = modeValues();
    const auto onGrid = [&](const std::vector<double>& values, int r, int c) {
        const std::size_t key = std::size_t(offset_) + std::size_t(r) * gw + c;
        return key < values.size() ? values[key] : std::numeric_limits<double>::quiet_NaN();
    };
    double low = std::numeric_limits<double>::infinity(), high = -low;
    for (int r = 0; r < gh; ++r)
        for (int c = 0; c < gw; ++c) {
            const double value = onGrid(shown_, r, c);
            map_->data()->setCell(c, r, value);
            if (std::isfinite(value))
                low = std::min(low, value), high = std::max(high, value);
        }
    const QString lambda = QStringLiteral("λ = %1").arg(lambda_, 0, 'f', 3);
    switch (mode_) {
    case ImageMode::Saliency:
        // A constant map (a uniform grey image: differences of 1e-16) looks constant.
        std::tie(low, high) = sequentialColorRange(low, high);
        map_->setGradient(saliencyGradient());
        scale_->axis()->setLabel(tr("saliency s"));
        break;
    case ImageMode::Attention:
    case ImageMode::Steered: {
        // One scale for A and A': from 0 to the largest of either on the grid.
        high = 0;
        for (const std::vector<double>* values :
             {queryMean_ ? &meanAttention_ : &attention_, queryMean_ ? &meanSteered_ : &steered_})
            for (int r = 0; r < gh; ++r)
                for (int c = 0; c < gw; ++c) {
                    const double value = onGrid(*values, r, c);
                    if (std::isfinite(value))
                        high = std::max(high, value);
                }
        low = 0;
        if (!(high > 0))
            high = 1; // all zero (a causal row before the image): white on a 0..1 scale
        map_->setGradient(attentionGradient());
        scale_->axis()->setLabel(mode_ == ImageMode::Attention
                                     ? tr("A (same scale as A′)")
                                     : tr("A′ at %1 (same scale as A)").arg(lambda));
        break;
    }
    case ImageMode::Difference: {
        // No change at all (or rounding noise): white.
        const double extent = divergingColorExtent(low, high);
        low = -extent, high = extent;
        map_->setGradient(changeGradient());
        scale_->axis()->setLabel(tr("A′ − A at %1").arg(lambda));
        break;
    }
    }
    map_->setDataRange(QCPRange(low, high));
    map_->setVisible(gh > 0 && gw > 0 && !shown_.empty());
    updateOverlay();
}

void SaliencyGridPlot::updateOverlay() {
    // With an image the overlay covers every token with the same opacity, so that a cell's
    // colour is its colour bar's colour over the image: the colour alone carries the value.
    // Without an image it is opaque.
    const int gh = gridHeight_, gw = gridWidth_;
    const auto alpha =
        static_cast<unsigned char>(image_.isNull() ? 255 : std::lround(255.0 * opacity_));
    for (int r = 0; r < gh; ++r)
        for (int c = 0; c < gw; ++c)
            map_->data()->setAlpha(c, r, alpha);
    if (mode_ == ImageMode::Saliency) {
        setTitle(image_.isNull() ? tr("Saliency per token (%1 × %2 grid)").arg(gh).arg(gw)
                                 : tr("Saliency image (%1 × %2 tokens)").arg(gh).arg(gw));
        return;
    }
    QString row =
        layer_ >= 0 ? tr("layer %1, head %2").arg(layer_).arg(head_) : tr("head %1").arg(head_);
    if (queryMean_)
        row += layersAveraged_ > 1
                   ? tr(", mean of %1 queries × %2 layers").arg(meanRows_).arg(layersAveraged_)
                   : tr(", mean of %1 queries").arg(meanRows_);
    else
        row += layersAveraged_ > 1
                   ? tr(", query %1, mean of %2 layers").arg(query_).arg(layersAveraged_)
                   : tr(", query %1").arg(query_);
    // Two lines: the row's description is long with a layer mean and a query mean.
    setTitle(tr("%1 on the image\n%2").arg(modeSymbol(mode_), row));
}

void SaliencyGridPlot::resetView() {
    fitToSize(customPlot()->size());
}

void SaliencyGridPlot::fitToSize(QSize size) {
    // Square tokens that fill the axis rect: lay out once at SIZE to learn the axis rect, then
    // pick ranges with the same scale on both axes, centred on the grid.
    QCustomPlot* plot = customPlot();
    const int gh = std::max(gridHeight_, 1), gw = std::max(gridWidth_, 1);
    plot->xAxis->setRange(0, gw);
    plot->yAxis->setRange(0, gh);
    plot->setViewport(QRect(QPoint(0, 0), size));
    plot->plotLayout()->update(QCPLayoutElement::upPreparation);
    plot->plotLayout()->update(QCPLayoutElement::upMargins);
    plot->plotLayout()->update(QCPLayoutElement::upLayout);
    const QRect rect = plot->axisRect()->rect();
    if (rect.width() < 2 || rect.height() < 2)
        return;
    const double cell = std::min(rect.width() / double(gw), rect.height() / double(gh));
    const double halfWidth = rect.width() / cell / 2, halfHeight = rect.height() / cell / 2;
    plot->xAxis->setRange(gw / 2.0 - halfWidth, gw / 2.0 + halfWidth);
    plot->yAxis->setRange(gh / 2.0 - halfHeight, gh / 2.0 + halfHeight);
    const bool lines = cell >= kMinCellPixelsForLines;
    for (QCPItemLine* line : lines_)
        line->setVisible(lines);
}

int SaliencyGridPlot::tokenAt(QPoint pixel) const {
    const QCustomPlot* plot = customPlot();
    if (gridHeight_ <= 0 || gridWidth_ <= 0 || !plot->axisRect()->rect().contains(pixel))
        return -1;
    const double x = plot->xAxis->pixelToCoord(pixel.x());
    const double y = plot->yAxis->pixelToCoord(pixel.y());
    if (!(x >= 0 && x < gridWidth_ && y >= 0 && y < gridHeight_))
        return -1;
    const int column = std::min(int(x), gridWidth_ - 1), row = std::min(int(y), gridHeight_ - 1);
    const int token = offset_ + row * gridWidth_ + column;
    return token < int(saliency_.size()) ? token : -1;
}

QPoint SaliencyGridPlot::tokenCenter(int token) const {
    const int index = token - offset_;
    if (token < 0 || index < 0 || index >= gridHeight_ * gridWidth_)
        return {-1, -1};
    const int row = index / gridWidth_, column = index % gridWidth_;
    const QCustomPlot* plot = customPlot();
    return QPoint(int(std::lround(plot->xAxis->coordToPixel(column + 0.5))),
                  int(std::lround(plot->yAxis->coordToPixel(row + 0.5))));
}

void SaliencyGridPlot::highlightToken(int token) {
    const int index = token - offset_;
    const bool onGrid = token >= 0 && index >= 0 && index < gridHeight_ * gridWidth_;
    highlighted_ = onGrid ? token : -1;
    frame_->setVisible(onGrid && style().overlays);
    if (onGrid) {
        const int row = index / gridWidth_, column = index % gridWidth_;
        frame_->topLeft->setCoords(column, row);
        frame_->bottomRight->setCoords(column + 1, row + 1);
    }
    scheduleReplot();
}

int SaliencyGridPlot::overlayAlpha(int token) const {
    const int index = token - offset_;
    if (token < 0 || index < 0 || index >= gridHeight_ * gridWidth_)
        return -1;
    return map_->data()->alpha(index % gridWidth_, index / gridWidth_);
}

void SaliencyGridPlot::onMouseMove(QMouseEvent* event) {
    const QPoint pixel = event->position().toPoint();
    const int token = tokenAt(pixel);
    if (token >= 0) {
        const int index = token - offset_;
        const bool target = std::size_t(token) < target_.size() && target_[std::size_t(token)];
        QString text = (target ? tr("token %1 (row %2, column %3, target): ")
                               : tr("token %1 (row %2, column %3): "))
                           .arg(token)
                           .arg(index / gridWidth_)
                           .arg(index % gridWidth_);
        if (mode_ != ImageMode::Saliency)
            text += tr("%1=%2, ").arg(modeSymbol(mode_)).arg(shownValue(token), 0, 'g', 6);
        text += tr("s=%1").arg(saliency_[std::size_t(token)], 0, 'g', 6);
        QToolTip::showText(event->globalPosition().toPoint(), text, customPlot());
    } else {
        QToolTip::hideText();
    }
    if (token != hovered_) {
        hovered_ = token;
        highlightToken(token);
        emit tokenHovered(token);
    }
}

} // namespace attnsteer
