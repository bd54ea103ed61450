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

namespace {

/// What each choice of the y axis plots, and how it is named: one row per TradeoffY, in its
/// order.
struct YQuantity {
    TradeoffY y;
    double SweepRow::*mean;
    double SweepRow::*std;
    const char* axisLabel;
    const char* readout; ///< the marker's readout of the value, %1
};

constexpr YQuantity kYQuantities[] = {
    {TradeoffY::EntropyReduction, &SweepRow::reductionMean, &SweepRow::reductionStd,
     QT_TRANSLATE_NOOP("attnsteer::TradeoffPlot", "entropy reduction [%]"),
     QT_TRANSLATE_NOOP("attnsteer::TradeoffPlot", "reduction = %1 %")},
    {TradeoffY::ExpectationGain, &SweepRow::expectationGainMean, &SweepRow::expectationGainStd,
     QT_TRANSLATE_NOOP("attnsteer::TradeoffPlot", "saliency-expectation gain Σ A′s − Σ A s"),
     QT_TRANSLATE_NOOP("attnsteer::TradeoffPlot", "Σ A′s − Σ A s = %1")},
    {TradeoffY::TargetMassGain, &SweepRow::targetMassGainMean, &SweepRow::targetMassGainStd,
     QT_TRANSLATE_NOOP("attnsteer::TradeoffPlot", "target-mass gain"),
     QT_TRANSLATE_NOOP("attnsteer::TradeoffPlot", "target-mass gain = %1")},
    {TradeoffY::PointingGain, &SweepRow::pointingGainMean, &SweepRow::pointingGainStd,
     QT_TRANSLATE_NOOP("attnsteer::TradeoffPlot", "pointing gain (fraction of rows)"),
     QT_TRANSLATE_NOOP("attnsteer::TradeoffPlot", "pointing gain = %1")},
    {TradeoffY::Pointing, &SweepRow::pointingMean, &SweepRow::pointingStd,
     QT_TRANSLATE_NOOP("attnsteer::TradeoffPlot", "pointing accuracy of A′ (fraction of rows)"),
     QT_TRANSLATE_NOOP("attnsteer::TradeoffPlot", "pointing = %1")},
};

const YQuantity& quantityOf(TradeoffY y) {
    for (const YQuantity& quantity : kYQuantities)
        if (quantity.y == y)
            return quantity;
    return kYQuantities[0];
}

} // namespace

double TradeoffPlot::yMean(const SweepRow& row, TradeoffY y) {
    return row.*quantityOf(y).mean;
}

double TradeoffPlot::yStd(const SweepRow& row, TradeoffY y) {
    return row.*quantityOf(y).std;
}

QString TradeoffPlot::yLabel(TradeoffY y) {
    return tr(quantityOf(y).axisLabel);
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

    auto* yBars = yBars_ = new QCPErrorBars(plot->xAxis, plot->yAxis);
    yBars->setName(tr("± sd over seeds"));
    yBars->setErrorType(QCPErrorBars::etValueError);
    yBars->setDataPlottable(curve);
    auto* xBars = xBars_ = new QCPErrorBars(plot->xAxis, plot->yAxis);
    xBars->setErrorType(QCPErrorBars::etKeyError);
    xBars->setDataPlottable(curve);
    xBars->removeFromLegend();

    // The second curve (the top-k heads steered), dashed, in the other colour.
    QCPGraph* comparison = plot->addGraph();
    comparisonBars_ = new QCPErrorBars(plot->xAxis, plot->yAxis);
    comparisonBars_->setErrorType(QCPErrorBars::etValueError);
    comparisonBars_->setDataPlottable(comparison);
    comparisonBars_->removeFromLegend();

    plot->legend->setVisible(true);
    plot->legend->setBrush(QColor(255, 255, 255, 220));
    plot->legend->setBorderPen(QPen(QColor(0, 0, 0, 60)));
    plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);

    marker_ = new QCPItemTracer(plot);
    marker_->setStyle(QCPItemTracer::tsCircle);
    marker_->setBrush(QColor(255, 255, 255, 120));
    marker_->position->setType(QCPItemPosition::ptPlotCoords);
    marker_->setLayer(QStringLiteral("overlay"));
    // The marker's numbers: a line of their own below the plot, never over the curve.
    readout_ = new QCPTextElement(plot);
    readout_->setTextColor(plotcolors::marker());
    readout_->setMargins(QMargins(6, 0, 6, 4));
    readout_->setLayer(QStringLiteral("overlay")); // with the marker: a lambda redraws that layer
    plot->plotLayout()->addElement(2, 0, readout_);
    // The lambda labels that would run into each other (or the legend) are left out, once the
    // layout of each picture is known.
    connect(plot, &QCustomPlot::afterLayout, this, &TradeoffPlot::placeLabels);
    connect(plot, &QCustomPlot::beforeReplot, this, &TradeoffPlot::placeLegend);
    applyStyle(PlotStyle::screen());
    setSweep({}, 1);
}

void TradeoffPlot::styleChanged(const PlotStyle& style) {
    QCustomPlot* plot = customPlot();
    QCPGraph* curve = plot->graph(kCurveGraph);
    curve->setPen(QPen(plotcolors::steered(), 1.6 * style.line));
    curve->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, plotcolors::steered(),
                                           Qt::white, 6 * style.symbol));
    const QPen barPen(plotcolors::steered().darker(130), style.thin);
    for (QCPErrorBars* bars : {yBars_, xBars_}) {
        bars->setPen(barPen);
        bars->setWhiskerWidth(6 * style.symbol);
    }
    QCPGraph* comparison = plot->graph(kComparisonGraph);
    comparison->setPen(QPen(comparisonColor(), 1.6 * style.line, Qt::DashLine));
    comparison->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssSquare, comparisonColor(), Qt::white, 5 * style.symbol));
    comparisonBars_->setPen(QPen(comparisonColor().darker(130), style.thin));
    comparisonBars_->setWhiskerWidth(5 * style.symbol);
    marker_->setSize(13 * style.symbol);
    marker_->setPen(QPen(plotcolors::marker(), 2 * style.thin));
    QFont bold = style.tick;
    bold.setBold(true);
    readout_->setFont(bold);
    for (QCPItemText* label : labels_)
        label->setFont(style.tick);
    updateMarker();
}

void TradeoffPlot::setData(const PlotData& data) {
    lambda_ = data.lambda;
    firstSeed_ = data.sweepFirstSeed;
    y_ = data.tradeoffY;
    curveLabel_ = data.sweepLabel;
    comparison_ = data.sweepCompare;
    comparisonLabel_ = data.sweepCompareLabel;
    fileWorkload_ = data.seed < 0;
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
    const QString seeds = seeds_ > 1              ? tr("mean over %1 seeds").arg(seeds_)
                          : seedsText().isEmpty() ? tr("the workload")
                                                  : seedsText();
    curve->setName(curveLabel_.isEmpty() ? seeds : curveLabel_); // the title names the seeds
    comparison->setName(comparisonLabel_);
    comparison->setVisible(!comparison_.empty());
    if (comparison_.empty())
        comparison->removeFromLegend();
    else if (comparison->addToLegend())
        styleLegendItem(plot->legend->itemWithPlottable(comparison));
    plot->yAxis->setLabel(yLabel(y_));
    const QString range = tr("Tradeoff over λ = %1 … %2")
                              .arg(lambdaText(rows_.empty() ? 0 : rows_.front().lambda),
                                   lambdaText(rows_.empty() ? 0 : rows_.back().lambda));
    if (rows_.empty())
        setTitle(tr("Tradeoff over λ (no sweep yet)"));
    else
        setTitle(seedsText().isEmpty() ? range : tr("%1, %2").arg(range, seedsText()));
    rebuildLabels();
    resetView();
    updateMarker();
    scheduleReplot();
}

QString TradeoffPlot::seedsText() const {
    if (seeds_ <= 1 && fileWorkload_) // a dump with a fixed saliency: nothing random in it
        return {};
    if (seeds_ <= 1)
        return tr("seed %1").arg(firstSeed_);
    return tr("mean ± sd over %1 seeds (%2–%3)")
        .arg(seeds_)
        .arg(firstSeed_)
        .arg(firstSeed_ + (unsigned long long)(seeds_ - 1));
}

QString TradeoffPlot::lambdaText(double lambda) {
    // Three significant digits, no exponent below a million: "0.21", "600", "790".
    QString text = QString::number(lambda, 'g', 3);
    if (text.contains(QLatin1Char('e')) && std::abs(lambda) >= 1 && std::abs(lambda) < 1e6)
        text = QString::number(std::round(lambda), 'f', 0);
    return text;
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
        label->setFont(style().tick);
        label->setColor(QColor(70, 70, 70));
        label->setClipToAxisRect(true);
        label->setText(QStringLiteral("λ=%1").arg(lambdaText(rows_[nearest].lambda)));
        labels_.push_back(label);
    }
}

namespace {

/// Where a lambda label may sit around its point, in order of preference: below right of the
/// rising curve, above left, below left, above right.
struct LabelPlace {
    Qt::Alignment alignment;
    QMargins padding;
};
constexpr int kLabelOffset = 6;
constexpr int kFarLabelOffset = 3 * kLabelOffset; ///< where a dense curve leaves no room near
const LabelPlace kLabelPlaces[] = {
    {Qt::AlignLeft | Qt::AlignTop, QMargins(kLabelOffset, 2, 0, 0)},
    {Qt::AlignRight | Qt::AlignBottom, QMargins(0, 0, kLabelOffset, 2)},
    {Qt::AlignRight | Qt::AlignTop, QMargins(0, 2, kLabelOffset, 0)},
    {Qt::AlignLeft | Qt::AlignBottom, QMargins(kLabelOffset, 0, 0, 2)},
    {Qt::AlignLeft | Qt::AlignTop, QMargins(kFarLabelOffset, kFarLabelOffset, 0, 0)},
    {Qt::AlignRight | Qt::AlignBottom, QMargins(0, 0, kFarLabelOffset, kFarLabelOffset)},
    {Qt::AlignLeft | Qt::AlignBottom, QMargins(kFarLabelOffset, 0, 0, kFarLabelOffset)},
    {Qt::AlignRight | Qt::AlignTop, QMargins(0, kFarLabelOffset, kFarLabelOffset, 0)},
};

} // namespace

QRectF TradeoffPlot::labelRect(const QCPItemText* label) const {
    // The text's own rectangle (without its padding), placed as the label's alignment puts it.
    const QPointF anchor = label->position->pixelPosition();
    const QSizeF text = QFontMetricsF(label->font()).size(0, label->text());
    const QMargins padding = label->padding();
    const Qt::Alignment alignment = label->positionAlignment();
    const double left = alignment & Qt::AlignLeft ? anchor.x() + padding.left()
                                                  : anchor.x() - padding.right() - text.width();
    const double top = alignment & Qt::AlignTop ? anchor.y() + padding.top()
                                                : anchor.y() - padding.bottom() - text.height();
    return QRectF(QPointF(left, top), text);
}

QVector<QRectF> TradeoffPlot::shownLabelRects() const {
    QVector<QRectF> rects;
    for (const QCPItemText* label : labels_)
        if (label->visible())
            rects << labelRect(label);
    return rects;
}

void TradeoffPlot::placeLegend() {
    // The legend goes to the corner of the plot that the curve leaves emptiest.
    QCustomPlot* plot = customPlot();
    const QRect area = plot->axisRect()->rect();
    const QSize legend = plot->legend->minimumOuterSizeHint();
    if (area.isEmpty() || rows_.empty())
        return;
    const Qt::Alignment corners[] = {Qt::AlignTop | Qt::AlignLeft, Qt::AlignBottom | Qt::AlignRight,
                                     Qt::AlignTop | Qt::AlignRight,
                                     Qt::AlignBottom | Qt::AlignLeft};
    Qt::Alignment best = corners[0];
    int fewest = -1;
    for (const Qt::Alignment corner : corners) {
        const int x = corner & Qt::AlignLeft ? area.left() : area.right() - legend.width();
        const int y = corner & Qt::AlignTop ? area.top() : area.bottom() - legend.height();
        const QRectF box(x, y, legend.width(), legend.height());
        int inside = 0;
        for (const SweepRow& row : rows_)
            inside += box.contains(QPointF(plot->xAxis->coordToPixel(row.klMean),
                                           plot->yAxis->coordToPixel(yMean(row, y_))));
        if (fewest < 0 || inside < fewest)
            fewest = inside, best = corner;
    }
    plot->axisRect()->insetLayout()->setInsetAlignment(0, best);
}

void TradeoffPlot::placeLabels() {
    QCustomPlot* plot = customPlot();
    const QRectF area = plot->axisRect()->rect();
    QVector<QRectF> taken;
    if (plot->legend->visible())
        taken << QRectF(plot->legend->outerRect());
    // The curve's own points: a label never covers one.
    const double radius = 3 * style().symbol;
    for (const SweepRow& row : rows_)
        taken << QRectF(plot->xAxis->coordToPixel(row.klMean) - radius,
                        plot->yAxis->coordToPixel(row.reductionMean) - radius, 2 * radius,
                        2 * radius);
    for (QCPItemText* label : labels_) {
        // The first place around the point where the text lies inside the plot, off the legend,
        // the curve's points and the labels placed before it; none: the label is left out.
        bool placed = false;
        for (const LabelPlace& place : kLabelPlaces) {
            label->setPositionAlignment(place.alignment);
            label->setPadding(place.padding);
            const QRectF text = labelRect(label);
            bool free = area.contains(text);
            for (const QRectF& other : taken)
                if (text.intersects(other))
                    free = false;
            if (free) {
                taken << text;
                placed = true;
                break;
            }
        }
        label->setVisible(placed);
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
    const int lines = readout_->text().count(QLatin1Char('\n'));
    const bool shown = readout_->visible();
    updateMarker();
    // The marker and its readout are all that moved: their layer alone is drawn again, unless
    // the readout changed its height (the layout follows then).
    if (layersReady() && readout_->visible() == shown &&
        readout_->text().count(QLatin1Char('\n')) == lines) {
        customPlot()->layer(QStringLiteral("overlay"))->replot();
        emit layerRedrawn();
    } else
        scheduleReplot();
}

QPointF TradeoffPlot::markerPosition() const {
    return marker_->position->coords();
}

void TradeoffPlot::updateMarker() {
    const bool outside = !rows_.empty() && std::isfinite(lambda_) &&
                         (lambda_ < rows_.front().lambda || lambda_ > rows_.back().lambda);
    const QPointF point = outside ? QPointF(std::numeric_limits<double>::quiet_NaN(), 0)
                                  : interpolate(rows_, lambda_, y_);
    const bool visible = std::isfinite(point.x()) && std::isfinite(point.y());
    marker_->setVisible(visible);
    if (visible)
        marker_->position->setCoords(point);
    QString text;
    if (outside)
        text = tr("○ λ = %1 is outside the curve's λ = %2 … %3")
                   .arg(lambda_, 0, 'f', 3)
                   .arg(lambdaText(rows_.front().lambda), lambdaText(rows_.back().lambda));
    else if (visible) {
        const QString y = tr(quantityOf(y_).readout).arg(point.y(), 0, 'g', 3);
        text = tr("○ λ = %1: KL = %2 nats, %3%4")
                   .arg(lambda_, 0, 'f', 3)
                   .arg(point.x(), 0, 'g', 3)
                   .arg(y)
                   .arg(seeds_ > 1              ? tr(" (mean of %1 seeds)").arg(seeds_)
                        : seedsText().isEmpty() ? QString()
                                                : tr(" (%1)").arg(seedsText()));
    }
    readoutText_ = text;
    // The readout is live: in a figure only when asked for.
    const bool shown = !text.isEmpty() && style().overlays;
    readout_->setText(shown ? fitText(text, readout_->font(), customPlot()->viewport().width() - 12)
                            : QString());
    readout_->setVisible(shown);
    readout_->setMargins(shown ? QMargins(6, 0, 6, 4) : QMargins(0, 0, 0, 0));
}

void TradeoffPlot::fitToSize(QSize) {
    updateMarker(); // the readout's line breaks follow the width
}

bool TradeoffPlot::markerShown() const {
    return marker_->visible();
}

QString TradeoffPlot::readout() const {
    return readoutText_;
}

QRect TradeoffPlot::readoutRect() const {
    return readout_->visible() ? readout_->outerRect() : QRect();
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
