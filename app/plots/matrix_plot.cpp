#include "matrix_plot.h"

#include <qcustomplot.h>

#include <QToolTip>

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnsteer {

namespace {

/// White to the A' colour to dark red: probabilities of the steered attention.
QCPColorGradient steeredGradient() {
    QCPColorGradient gradient;
    gradient.clearColorStops();
    gradient.setColorStopAt(0.0, QColor(0xff, 0xf7, 0xec));
    gradient.setColorStopAt(0.4, QColor(0xfc, 0xae, 0x6b));
    gradient.setColorStopAt(0.75, plotcolors::steered());
    gradient.setColorStopAt(1.0, QColor(0x6b, 0x10, 0x05));
    return gradient;
}

/// The A colour (A larger) through white to the A' colour (A' larger).
QCPColorGradient differenceGradient() {
    QCPColorGradient gradient;
    gradient.clearColorStops();
    gradient.setColorStopAt(0.0, plotcolors::attention().darker(140));
    gradient.setColorStopAt(0.3, plotcolors::attention().lighter(150));
    gradient.setColorStopAt(0.5, QColor(0xfa, 0xfa, 0xfa));
    gradient.setColorStopAt(0.7, QColor(0xf6, 0x9a, 0x6e));
    gradient.setColorStopAt(1.0, plotcolors::steered().darker(140));
    return gradient;
}

} // namespace

MatrixPlot::MatrixPlot(QWidget* parent) : PlotView(parent) {
    QCustomPlot* plot = customPlot();
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    styleAxis(plot->xAxis, tr("key token"));
    styleAxis(plot->yAxis, tr("query"));
    plot->xAxis->grid()->setVisible(false);
    plot->yAxis->grid()->setVisible(false);
    plot->yAxis->setRangeReversed(true);               // query 0 at the top, as in a matrix
    for (QCPAxis* axis : {plot->xAxis, plot->yAxis}) { // ticks outside, off the picture
        axis->setTickLength(0, 4);
        axis->setSubTickLength(0, 2);
    }
    plot->setToolTip(tr("Click a row to pick that query; wheel zooms, drag pans, double-click "
                        "resets"));

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
    auto* group = new QCPMarginGroup(plot);
    plot->axisRect()->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    scale_->setMarginGroup(QCP::msTop | QCP::msBottom, group);

    queryLine_ = new QCPItemStraightLine(plot);
    queryLine_->setPen(QPen(plotcolors::marker(), 1.2, Qt::DashLine));
    queryLine_->setLayer(QStringLiteral("overlay"));
    queryLine_->setVisible(false);

    onLeftClick([this](QPoint release) {
        const int query = queryAt(release);
        if (query >= 0) {
            setCurrentQuery(query);
            emit queryPicked(query);
        }
    });
    connect(plot, &QCustomPlot::mouseMove, this, &MatrixPlot::onMouseMove);
    setMatrix({}, 0, 0, false, 0, 0);
}

void MatrixPlot::setData(PlotData data) {
    currentQuery_ = data.query;
    QString who = headLabel(data);
    who[0] = who[0].toUpper();
    showMatrix(std::move(data.matrix), data.matrixQueries, data.matrixKeys, data.matrixIsDifference,
               data.head, data.lambda, who);
}

void MatrixPlot::setMatrix(std::vector<double> values, int queries, int keys, bool difference,
                           int head, double lambda) {
    showMatrix(std::move(values), queries, keys, difference, head, lambda, tr("Head %1").arg(head));
}

void MatrixPlot::showMatrix(std::vector<double> values, int queries, int keys, bool difference,
                            int head, double lambda, const QString& who) {
    const bool sameShape = queries == queries_ && keys == keys_;
    if (values.size() != std::size_t(std::max(queries, 0)) * std::size_t(std::max(keys, 0)))
        values.clear();
    if (values.empty())
        queries = keys = 0;
    values_ = std::move(values);
    queries_ = queries, keys_ = keys, difference_ = difference, head_ = head, lambda_ = lambda;

    map_->data()->setSize(std::max(keys, 1), std::max(queries, 1));
    map_->data()->setRange(QCPRange(0, std::max(keys, 1) - 1),
                           QCPRange(0, std::max(queries, 1) - 1));
    double low = std::numeric_limits<double>::infinity(), high = -low;
    for (int q = 0; q < queries; ++q)
        for (int k = 0; k < keys; ++k) {
            const double v = values_[std::size_t(q) * keys + k];
            map_->data()->setCell(k, q, v);
            if (std::isfinite(v))
                low = std::min(low, v), high = std::max(high, v);
        }
    if (!(high >= low))
        low = 0, high = 1;
    if (difference) {
        const double extent = std::max({std::abs(low), std::abs(high), 1e-300});
        low = -extent, high = extent;
    } else if (high == low) {
        high = low + std::max(std::abs(low) * 1e-6, 1e-300);
    }
    map_->setGradient(difference ? differenceGradient() : steeredGradient());
    map_->setDataRange(QCPRange(low, high));
    map_->setVisible(!values_.empty());
    scale_->axis()->setLabel(difference ? tr("A′ − A") : tr("A′ (attention probability)"));
    setTitle(values_.empty() ? tr("Steered attention (no data)")
             : difference    ? tr("%1: A′ − A at λ = %2").arg(who).arg(lambda, 0, 'f', 3)
                             : tr("%1: A′ at λ = %2").arg(who).arg(lambda, 0, 'f', 3));
    if (!sameShape)
        resetView();
    setCurrentQuery(currentQuery_);
    scheduleReplot();
}

void MatrixPlot::setCurrentQuery(int query) {
    currentQuery_ = query >= 0 && query < queries_ ? query : -1;
    queryLine_->setVisible(currentQuery_ >= 0);
    queryLine_->point1->setCoords(0, currentQuery_);
    queryLine_->point2->setCoords(1, currentQuery_);
    scheduleReplot();
}

void MatrixPlot::resetView() {
    QCustomPlot* plot = customPlot();
    plot->xAxis->setRange(-0.5, std::max(keys_, 1) - 0.5);
    plot->yAxis->setRange(-0.5, std::max(queries_, 1) - 0.5);
}

double MatrixPlot::value(int query, int key) const {
    if (query < 0 || query >= queries_ || key < 0 || key >= keys_)
        return std::numeric_limits<double>::quiet_NaN();
    return values_[std::size_t(query) * keys_ + key];
}

int MatrixPlot::queryAt(QPoint pixel) const {
    const QCustomPlot* plot = customPlot();
    if (queries_ <= 0 || !plot->axisRect()->rect().contains(pixel))
        return -1;
    const long query = std::lround(plot->yAxis->pixelToCoord(pixel.y()));
    const long key = std::lround(plot->xAxis->pixelToCoord(pixel.x()));
    if (query < 0 || query >= queries_ || key < 0 || key >= keys_)
        return -1;
    return int(query);
}

QPoint MatrixPlot::cellCenter(int query, int key) const {
    const QCustomPlot* plot = customPlot();
    return QPoint(int(std::lround(plot->xAxis->coordToPixel(key))),
                  int(std::lround(plot->yAxis->coordToPixel(query))));
}

void MatrixPlot::onMouseMove(QMouseEvent* event) {
    if (event->buttons() != Qt::NoButton)
        return;
    QCustomPlot* plot = customPlot();
    const QPoint pixel = event->position().toPoint();
    const int query = queryAt(pixel);
    if (query < 0) {
        QToolTip::hideText();
        return;
    }
    const int key = int(std::lround(plot->xAxis->pixelToCoord(pixel.x())));
    QToolTip::showText(event->globalPosition().toPoint(),
                       tr("query %1, key %2: %3 = %4")
                           .arg(query)
                           .arg(key)
                           .arg(difference_ ? tr("A′ − A") : tr("A′"))
                           .arg(value(query, key), 0, 'g', 6),
                       plot);
}

} // namespace attnsteer
