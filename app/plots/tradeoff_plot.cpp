#include "tradeoff_plot.h"

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnsteer {

namespace {
constexpr int kCurveGraph = 0;
constexpr int kComparisonGraph = 1;
constexpr int kMaxLabels = 6; ///< lambda labels on the curve, so that they stay readable

/// The comparison curve's colour: the A colour, apart from the A' of the first.
QColor comparisonColor() {
    return plotcolors::attention();
}
} // namespace

double TradeoffPlot::yMean(const SweepRow& row, TradeoffY y) {
    switch (y) {
    case TradeoffY::EntropyReduction:
        break;
    case TradeoffY::ExpectationGain:
        return row.expectationGainMean;
    case TradeoffY::TargetMassGain:
        return row.targetMassGainMean;
    case TradeoffY::PointingGain:
        return row.pointingGainMean;
    case TradeoffY::Pointing:
        return row.pointingMean;
    }
    return row.reductionMean;
}

double TradeoffPlot::yStd(const SweepRow& row, TradeoffY y) {
    switch (y) {
    case TradeoffY::EntropyReduction:
        break;
    case TradeoffY::ExpectationGain:
        return row.expectationGainStd;
    case TradeoffY::TargetMassGain:
        return row.targetMassGainStd;
    case TradeoffY::PointingGain:
        return row.pointingGainStd;
    case TradeoffY::Pointing:
        return row.pointingStd;
    }
    return row.reductionStd;
}

QString TradeoffPlot::yLabel(TradeoffY y) {
    switch (y) {
    case TradeoffY::EntropyReduction:
        break;
    case TradeoffY::ExpectationGain:
        return tr("saliency-expectation gain Σ A′s − Σ A s");
    case TradeoffY::TargetMassGain:
        return tr("target-mass gain");
    case TradeoffY::PointingGain:
        return tr("pointing gain (fraction of rows)");
    case TradeoffY::Pointing:
        return tr("pointing accuracy of A′ (fraction of rows)");
    }
    return tr("entropy reduction [%]");
}

TradeoffPlot::TradeoffPlot(QWidget* parent) : PlotView(parent) {
    QCustomPlot* plot = customPlot();
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    styleAxis(plot->xAxis, tr("KL(A‖A′) [nats]"));
    styleAxis(plot->yAxis, tr("entropy reduction [%]"));
    plot->xAxis->setNumberFormat(QStringLiteral("gb"));
    plot->yAxis->setNumberFormat(QStringLiteral("gb"));

    QCPGraph* curve = plot->addGraph();
    curve->setName(tr("mean over seeds"));
    curve->setPen(QPen(plotcolors::steered(), 1.8));
    curve->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssCircle, plotcolors::steered(), Qt::white, 6));

    const QPen barPen(plotcolors::steered().darker(130), 1.0);
    auto* yBars = yBars_ = new QCPErrorBars(plot->xAxis, plot->yAxis);
    yBars->setName(tr("± sd over seeds"));
    yBars->setErrorType(QCPErrorBars::etValueError);
    yBars->setDataPlottable(curve);
    yBars->setPen(barPen);
    yBars->setWhiskerWidth(6);
    auto* xBars = xBars_ = new QCPErrorBars(plot->xAxis, plot->yAxis);
    xBars->setErrorType(QCPErrorBars::etKeyError);
    xBars->setDataPlottable(curve);
    xBars->setPen(barPen);
    xBars->setWhiskerWidth(6);
    xBars->removeFromLegend();

    QCPGraph* comparison = plot->addGraph();
    comparison->setPen(QPen(comparisonColor(), 1.8, Qt::DashLine));
    comparison->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssSquare, comparisonColor(), Qt::white, 5));
    comparisonBars_ = new QCPErrorBars(plot->xAxis, plot->yAxis);
    comparisonBars_->setErrorType(QCPErrorBars::etValueError);
    comparisonBars_->setDataPlottable(comparison);
    comparisonBars_->setPen(QPen(comparisonColor().darker(130), 1.0));
    comparisonBars_->setWhiskerWidth(5);
    comparisonBars_->removeFromLegend();

    plot->legend->setVisible(true);
    plot->legend->setFont(tickFont());
    plot->legend->setBrush(QColor(255, 255, 255, 220));
    plot->legend->setBorderPen(QPen(QColor(0, 0, 0, 60)));
    plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);

    marker_ = new QCPItemTracer(plot);
    marker_->setStyle(QCPItemTracer::tsCircle);
    marker_->setSize(13);
    marker_->setPen(QPen(plotcolors::marker(), 2));
    marker_->setBrush(QColor(255, 255, 255, 120));
    marker_->position->setType(QCPItemPosition::ptPlotCoords);
    marker_->setLayer(QStringLiteral("overlay"));
    // The marker's numbers sit in the lower right corner, below the rising curve.
    markerLabel_ = new QCPItemText(plot);
    markerLabel_->position->setType(QCPItemPosition::ptAxisRectRatio);
    markerLabel_->position->setCoords(0.98, 0.97);
    markerLabel_->setPositionAlignment(Qt::AlignRight | Qt::AlignBottom);
    markerLabel_->setTextAlignment(Qt::AlignLeft);
    QFont bold = tickFont();
    bold.setBold(true);
    markerLabel_->setFont(bold);
    markerLabel_->setColor(plotcolors::marker());
    markerLabel_->setBrush(QColor(255, 255, 255, 210));
    markerLabel_->setPadding(QMargins(3, 1, 3, 1));
    markerLabel_->setLayer(QStringLiteral("overlay"));
    setSweep({}, 1);
}

void TradeoffPlot::setData(const PlotData& data) {
    lambda_ = data.lambda;
    y_ = data.tradeoffY;
    curveLabel_ = data.sweepLabel;
    comparison_ = data.sweepCompare;
    comparisonLabel_ = data.sweepCompareLabel;
    setSweep(data.sweep, data.sweepSeeds);
}

void TradeoffPlot::setComparison(std::vector<SweepRow> rows, const QString& label) {
    comparison_ = std::move(rows);
    comparisonLabel_ = label;
    showCurves();
}

void TradeoffPlot::setCurveLabel(const QString& label) {
    curveLabel_ = label;
    showCurves();
}

void TradeoffPlot::setYQuantity(TradeoffY y) {
    y_ = y;
    showCurves();
}

std::vector<QPointF> TradeoffPlot::curvePoints(int graph) const {
    std::vector<QPointF> points;
    const auto data = customPlot()->graph(graph)->data();
    for (auto it = data->constBegin(); it != data->constEnd(); ++it)
        points.emplace_back(it->key, it->value);
    return points;
}

void TradeoffPlot::setSweep(std::vector<SweepRow> rows, int seeds) {
    rows_ = std::move(rows);
    seeds_ = std::max(seeds, 1);
    showCurves();
}

void TradeoffPlot::showCurves() {
    QCustomPlot* plot = customPlot();
    const auto fill = [this](const std::vector<SweepRow>& rows, QCPGraph* graph, QCPErrorBars* bars,
                             QCPErrorBars* keyBars) {
        QVector<double> keys, values, keyErrors, valueErrors;
        for (const SweepRow& row : rows) {
            keys << row.klMean;
            values << yMean(row, y_);
            keyErrors << row.klStd;
            valueErrors << yStd(row, y_);
        }
        // Sorted by lambda, not by KL: the curve follows the grid.
        graph->setData(keys, values, true);
        bars->setData(valueErrors);
        bars->setVisible(seeds_ > 1 && !rows.empty());
        if (keyBars) {
            keyBars->setData(keyErrors);
            keyBars->setVisible(seeds_ > 1 && !rows.empty());
        }
    };
    QCPGraph* curve = plot->graph(kCurveGraph);
    QCPGraph* comparison = plot->graph(kComparisonGraph);
    fill(rows_, curve, yBars_, xBars_);
    fill(comparison_, comparison, comparisonBars_, nullptr);
    curve->setName(curveLabel_.isEmpty() ? tr("mean over seeds") : curveLabel_);
    comparison->setName(comparisonLabel_);
    comparison->setVisible(!comparison_.empty());
    if (comparison_.empty())
        comparison->removeFromLegend();
    else
        comparison->addToLegend();
    plot->yAxis->setLabel(yLabel(y_));
    if (rows_.empty())
        setTitle(tr("Tradeoff over λ (no sweep yet)"));
    else
        setTitle(seeds_ > 1 ? tr("Tradeoff over λ = %1 … %2, mean ± sd over %3 seeds")
                                  .arg(rows_.front().lambda)
                                  .arg(rows_.back().lambda)
                                  .arg(seeds_)
                            : tr("Tradeoff over λ = %1 … %2, one seed")
                                  .arg(rows_.front().lambda)
                                  .arg(rows_.back().lambda));
    rebuildLabels();
    resetView();
    updateMarker();
    scheduleReplot();
}

void TradeoffPlot::rebuildLabels() {
    QCustomPlot* plot = customPlot();
    for (QCPItemText* label : labels_)
        plot->removeItem(label);
    labels_.clear();
    if (rows_.empty())
        return;
    // Labels at round lambdas (steps of 1, 2, 2.5 or 5 x 10^n, at most kMaxLabels of them), each
    // on the grid point nearest to it: "λ=0.2" on a 21-point grid, "λ=0.21" on 64 points.
    const double first = rows_.front().lambda, span = rows_.back().lambda - first;
    double niceStep = span > 0 ? std::pow(10.0, std::floor(std::log10(span))) : 1.0;
    for (double factor : {0.1, 0.2, 0.25, 0.5, 1.0})
        if (span / (niceStep * factor) <= kMaxLabels - 1) {
            niceStep *= factor;
            break;
        }
    std::size_t previous = rows_.size();
    for (double value = std::ceil(first / niceStep) * niceStep;
         value <= rows_.back().lambda + 1e-9 * niceStep; value += niceStep) {
        std::size_t nearest = 0;
        for (std::size_t i = 1; i < rows_.size(); ++i)
            if (std::abs(rows_[i].lambda - value) < std::abs(rows_[nearest].lambda - value))
                nearest = i;
        if (nearest == previous)
            continue;
        previous = nearest;
        auto* label = new QCPItemText(plot);
        label->position->setCoords(rows_[nearest].klMean, yMean(rows_[nearest], y_));
        label->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop); // below the rising curve
        label->setPadding(QMargins(8, 3, 0, 0));
        label->setFont(tickFont());
        label->setColor(QColor(70, 70, 70));
        label->setText(QStringLiteral("λ=%1").arg(rows_[nearest].lambda, 0, 'g', 2));
        labels_.push_back(label);
    }
}

QPointF TradeoffPlot::interpolate(const std::vector<SweepRow>& rows, double lambda, TradeoffY y) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (rows.empty() || !std::isfinite(lambda))
        return {nan, nan};
    if (lambda <= rows.front().lambda)
        return {rows.front().klMean, yMean(rows.front(), y)};
    if (lambda >= rows.back().lambda)
        return {rows.back().klMean, yMean(rows.back(), y)};
    const auto upper =
        std::lower_bound(rows.begin(), rows.end(), lambda,
                         [](const SweepRow& row, double l) { return row.lambda < l; });
    const auto lower = upper - 1;
    const double span = upper->lambda - lower->lambda;
    const double t = span > 0 ? (lambda - lower->lambda) / span : 0.0;
    const double low = yMean(*lower, y), high = yMean(*upper, y);
    return {lower->klMean + t * (upper->klMean - lower->klMean), low + t * (high - low)};
}

void TradeoffPlot::setLambda(double lambda) {
    lambda_ = lambda;
    updateMarker();
    scheduleReplot();
}

QPointF TradeoffPlot::markerPosition() const {
    return marker_->position->coords();
}

void TradeoffPlot::updateMarker() {
    const QPointF point = interpolate(rows_, lambda_, y_);
    const bool visible = std::isfinite(point.x()) && std::isfinite(point.y());
    marker_->setVisible(visible);
    markerLabel_->setVisible(visible);
    if (!visible)
        return;
    marker_->position->setCoords(point);
    QString y;
    switch (y_) {
    case TradeoffY::EntropyReduction:
        y = tr("reduction = %1 %").arg(point.y(), 0, 'g', 3);
        break;
    case TradeoffY::ExpectationGain:
        y = tr("Σ A′s − Σ A s = %1").arg(point.y(), 0, 'g', 3);
        break;
    case TradeoffY::TargetMassGain:
        y = tr("target-mass gain = %1").arg(point.y(), 0, 'g', 3);
        break;
    case TradeoffY::PointingGain:
        y = tr("pointing gain = %1").arg(point.y(), 0, 'g', 3);
        break;
    case TradeoffY::Pointing:
        y = tr("pointing = %1").arg(point.y(), 0, 'g', 3);
        break;
    }
    markerLabel_->setText(
        tr("○ λ = %1\nKL = %2 nats\n%3").arg(lambda_, 0, 'f', 3).arg(point.x(), 0, 'g', 3).arg(y));
}

void TradeoffPlot::resetView() {
    QCustomPlot* plot = customPlot();
    if (rows_.empty()) {
        plot->xAxis->setRange(0, 1);
        plot->yAxis->setRange(0, 1);
        return;
    }
    double xMin = 0, xMax = 0, yMin = 0, yMax = 0;
    for (const std::vector<SweepRow>* rows : {&rows_, &comparison_})
        for (const SweepRow& row : *rows) {
            const double mean = yMean(row, y_), sd = seeds_ > 1 ? yStd(row, y_) : 0.0;
            if (!std::isfinite(mean) || !std::isfinite(row.klMean))
                continue;
            xMin = std::min(xMin, row.klMean - row.klStd);
            xMax = std::max(xMax, row.klMean + row.klStd);
            yMin = std::min(yMin, mean - (std::isfinite(sd) ? sd : 0.0));
            yMax = std::max(yMax, mean + (std::isfinite(sd) ? sd : 0.0));
        }
    const double xSpan = xMax > xMin ? xMax - xMin : 1e-6;
    const double ySpan = yMax > yMin ? yMax - yMin : 1e-6;
    // Room on the right for the lambda labels.
    plot->xAxis->setRange(xMin - 0.04 * xSpan, xMax + 0.16 * xSpan);
    plot->yAxis->setRange(yMin - 0.08 * ySpan, yMax + 0.06 * ySpan);
}

} // namespace attnsteer
