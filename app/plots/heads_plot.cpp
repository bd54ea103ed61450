#include "heads_plot.h"

#include <qcustomplot.h>

#include <QToolTip>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace attnsteer {

namespace {

/// Dark blue through green to yellow (viridis' stops): ordered, readable in grey, and apart from
/// the A, A' and s colours of the other views.
QCPColorGradient headsGradient() {
    QCPColorGradient gradient = colorGradient({{0.0, QColor(0x44, 0x01, 0x54)},
                                               {0.25, QColor(0x3b, 0x52, 0x8b)},
                                               {0.5, QColor(0x21, 0x91, 0x8c)},
                                               {0.75, QColor(0x5e, 0xc9, 0x62)},
                                               {1.0, QColor(0xfd, 0xe7, 0x25)}});
    gradient.setNanHandling(QCPColorGradient::nhNanColor);
    gradient.setNanColor(QColor(0xdd, 0xdd, 0xdd));
    return gradient;
}

QString columnName(const ProfileColumn& column) {
    return QString::fromLatin1(column.name.data(), qsizetype(column.name.size()));
}

QString columnDescription(const ProfileColumn& column) {
    return QString::fromUtf8(column.description.data(), qsizetype(column.description.size()));
}

QString valueText(double value) {
    return std::isnan(value) ? QStringLiteral("n/a") : QString::number(value, 'g', 5);
}

} // namespace

HeadsPlot::HeadsPlot(QWidget* parent) : PlotView(parent) {
    QCustomPlot* plot = customPlot();
    styleHeatMapAxes(tr("head"), tr("layer")); // layer 0 at the top, as a model is drawn
    for (QCPAxis* axis : {plot->xAxis, plot->yAxis}) {
        QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
        ticker->setTickStep(1);
        ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        axis->setTicker(ticker);
        axis->setTickLength(0, 4);
        axis->setSubTicks(false);
    }
    plot->setToolTip(tr("Hover a head for its profile; click to choose that layer and head in "
                        "every view"));

    map_ = new QCPColorMap(plot->xAxis, plot->yAxis);
    map_->setInterpolate(false);
    map_->setTightBoundary(false);
    scale_ = new QCPColorScale(plot);
    plot->plotLayout()->addElement(1, 1, scale_);
    scale_->setType(QCPAxis::atRight);
    scale_->setBarWidth(12);
    styleAxis(scale_->axis(), QString());
    scale_->axis()->setNumberFormat(QStringLiteral("gb"));
    map_->setColorScale(scale_);
    map_->setGradient(headsGradient()); // after the scale, which would impose its own
    auto* group = new QCPMarginGroup(plot);
    plot->axisRect()->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    scale_->setMarginGroup(QCP::msTop | QCP::msBottom, group);

    topMarks_ = plot->addGraph();
    topMarks_->setLineStyle(QCPGraph::lsNone);
    topMarks_->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(Qt::black, 1.2), QBrush(Qt::white), 8));
    topMarks_->setLayer(QStringLiteral("overlay"));

    selection_ = new QCPItemRect(plot);
    selection_->setPen(QPen(plotcolors::steered(), 2.5));
    selection_->setBrush(Qt::NoBrush);
    selection_->setLayer(QStringLiteral("overlay"));
    selection_->setVisible(false);

    onLeftClick([this](QPoint release) {
        if (const auto head = headAt(release))
            emit headPicked(head->layer, head->head);
    });
    connect(plot, &QCustomPlot::mouseMove, this, &HeadsPlot::onMouseMove);
    column_ = findProfileColumn(kDefaultRankColumn);
    setProfile(nullptr, 0, 0);
}

void HeadsPlot::setData(const PlotData& data) {
    column_ = findProfileColumn(data.headsColumn.toStdString());
    if (!column_)
        column_ = findProfileColumn(kDefaultRankColumn);
    topK_ = std::max(data.headsTopK, 0);
    selectedLayer_ = data.selectedLayer, selectedHead_ = data.selectedHead;
    setProfile(data.profile, data.profileLayers, data.profileHeadsPerLayer);
}

void HeadsPlot::setProfile(std::shared_ptr<const Profile> profile, int layers, int headsPerLayer) {
    const bool sameShape = layers == layers_ && headsPerLayer == headsPerLayer_;
    if (!profile || layers < 1 || headsPerLayer < 1 ||
        profile->heads.size() != std::size_t(layers) * std::size_t(headsPerLayer))
        profile.reset(), layers = headsPerLayer = 0;
    profile_ = std::move(profile);
    layers_ = layers, headsPerLayer_ = headsPerLayer;
    showColumn();
    if (!sameShape)
        resetView();
}

void HeadsPlot::setColumn(const QString& name) {
    const ProfileColumn* column = findProfileColumn(name.toStdString());
    column_ = column ? column : findProfileColumn(kDefaultRankColumn);
    showColumn();
}

QString HeadsPlot::column() const {
    return columnName(*column_);
}

void HeadsPlot::setTopK(int count) {
    topK_ = std::max(count, 0);
    updateMarks();
    scheduleReplot();
}

void HeadsPlot::setSelection(int layer, int head) {
    selectedLayer_ = layer, selectedHead_ = head;
    updateMarks();
    scheduleReplot();
}

const HeadProfile* HeadsPlot::headProfile(int layer, int head) const {
    if (!profile_ || layer < 0 || layer >= layers_ || head < 0 || head >= headsPerLayer_)
        return nullptr;
    // profileHeads gives the heads layer-major, every layer of the source.
    const HeadProfile& one =
        profile_->heads[std::size_t(layer) * std::size_t(headsPerLayer_) + std::size_t(head)];
    return one.layer == layer && one.head == head ? &one : nullptr;
}

double HeadsPlot::value(int layer, int head) const {
    const HeadProfile* one = headProfile(layer, head);
    return one ? column_->value(*one) : std::numeric_limits<double>::quiet_NaN();
}

void HeadsPlot::showColumn() {
    // A map of one row (one layer) or one column draws nothing in QCustomPlot (its cells are
    // sized by the distance between the first and the last): such an axis gets two equal cells
    // a half apart instead, which cover the same -0.5 .. 0.5.
    const auto axis = [](int cells) {
        return cells > 1 ? std::pair(cells, QCPRange(0, cells - 1))
                         : std::pair(2, QCPRange(-0.25, 0.25));
    };
    const auto [columns, keyRange] = axis(headsPerLayer_);
    const auto [rows, valueRange] = axis(layers_);
    map_->data()->setSize(columns, rows);
    map_->data()->setRange(keyRange, valueRange);
    double low = std::numeric_limits<double>::infinity(), high = -low;
    for (int row = 0; row < rows; ++row)
        for (int column = 0; column < columns; ++column) {
            const double v =
                value(std::min(row, layers_ - 1), std::min(column, headsPerLayer_ - 1));
            map_->data()->setCell(column, row, v);
            if (std::isfinite(v))
                low = std::min(low, v), high = std::max(high, v);
        }
    if (!(high >= low))
        low = 0, high = 1;
    if (high == low)
        high = low + std::max(std::abs(low) * 1e-6, 1e-12);
    map_->setDataRange(QCPRange(low, high));
    map_->setVisible(profile_ != nullptr);
    const QString name = column();
    scale_->axis()->setLabel(column_->higherIsBetter ? name : tr("%1 (lower is better)").arg(name));
    if (!profile_)
        setTitle(tr("Heads (no profile yet)"));
    else
        setTitle(tr("%1 at λ = %2").arg(name).arg(profile_->lambda, 0, 'f', 3));
    updateMarks();
    scheduleReplot();
}

std::vector<LayerHead> HeadsPlot::topHeads() const {
    if (!profile_ || topK_ <= 0)
        return {};
    Profile ranked;
    ranked.heads = profile_->heads;
    ranked.ranking = rankHeads(ranked.heads, *column_);
    return attnsteer::topHeads(ranked, std::size_t(topK_));
}

void HeadsPlot::updateMarks() {
    QVector<double> keys, values;
    for (const LayerHead& one : topHeads())
        keys << one.head, values << one.layer;
    topMarks_->setData(keys, values);
    topMarks_->setName(tr("top %1 by %2").arg(topK_).arg(column()));
    const bool selected = profile_ && selectedHead_ >= 0 && selectedHead_ < headsPerLayer_ &&
                          selectedLayer_ < layers_;
    selection_->setVisible(selected);
    if (!selected)
        return;
    const bool allLayers = selectedLayer_ < 0;
    selection_->topLeft->setCoords(selectedHead_ - 0.5, allLayers ? -0.5 : selectedLayer_ - 0.5);
    selection_->bottomRight->setCoords(selectedHead_ + 0.5,
                                       allLayers ? layers_ - 0.5 : selectedLayer_ + 0.5);
}

QString HeadsPlot::hoverText(int layer, int head) const {
    const HeadProfile* one = headProfile(layer, head);
    if (!one)
        return {};
    const double steered = one->metrics.rowsSteeredFraction;
    QString text = tr("layer %1, head %2: %3")
                       .arg(layer)
                       .arg(head)
                       .arg(steered > 0 ? tr("steered (%1 % of rows)").arg(100 * steered, 0, 'g', 3)
                                        : tr("unsteered"));
    // Its rank by the column shown.
    const std::vector<std::size_t> ranking = rankHeads(profile_->heads, *column_);
    const std::size_t index = std::size_t(layer) * std::size_t(headsPerLayer_) + std::size_t(head);
    const auto rank = std::find(ranking.begin(), ranking.end(), index) - ranking.begin();
    text += tr("\n%1 = %2 (rank %3 of %4; %5)")
                .arg(column(), valueText(column_->value(*one)))
                .arg(rank + 1)
                .arg(ranking.size())
                .arg(columnDescription(*column_));
    for (const ProfileColumn& other : profileColumns())
        if (&other != column_)
            text +=
                QStringLiteral("\n%1 = %2").arg(columnName(other), valueText(other.value(*one)));
    return text;
}

std::optional<LayerHead> HeadsPlot::headAt(QPoint pixel) const {
    const QCustomPlot* plot = customPlot();
    if (!profile_ || !plot->axisRect()->rect().contains(pixel))
        return std::nullopt;
    const long head = std::lround(plot->xAxis->pixelToCoord(pixel.x()));
    const long layer = std::lround(plot->yAxis->pixelToCoord(pixel.y()));
    if (layer < 0 || layer >= layers_ || head < 0 || head >= headsPerLayer_)
        return std::nullopt;
    return LayerHead{int(layer), int(head)};
}

QPoint HeadsPlot::cellCenter(int layer, int head) const {
    const QCustomPlot* plot = customPlot();
    return QPoint(int(std::lround(plot->xAxis->coordToPixel(head))),
                  int(std::lround(plot->yAxis->coordToPixel(layer))));
}

void HeadsPlot::resetView() {
    QCustomPlot* plot = customPlot();
    plot->xAxis->setRange(-0.5, std::max(headsPerLayer_, 1) - 0.5);
    plot->yAxis->setRange(-0.5, std::max(layers_, 1) - 0.5);
}

void HeadsPlot::onMouseMove(QMouseEvent* event) {
    if (event->buttons() != Qt::NoButton)
        return;
    const auto head = headAt(event->position().toPoint());
    if (!head) {
        QToolTip::hideText();
        emit headHovered(-1, -1);
        return;
    }
    QToolTip::showText(event->globalPosition().toPoint(), hoverText(head->layer, head->head),
                       customPlot());
    emit headHovered(head->layer, head->head);
}

} // namespace attnsteer
