#include "matrix_plot.h"

#include "heat_map.h"

#include <qcustomplot.h>

#include <QToolTip>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

namespace attnsteer {

namespace {

/// The cells and the title: what a lambda step changes, drawn again alone when it can be.
const QString kCellsLayer = QStringLiteral("cells");

/// White to the A' colour to dark red: probabilities of the steered attention.
QCPColorGradient steeredGradient() {
    return colorGradient({{0.0, QColor(0xff, 0xf7, 0xec)},
                          {0.4, QColor(0xfc, 0xae, 0x6b)},
                          {0.75, plotcolors::steered()},
                          {1.0, QColor(0x6b, 0x10, 0x05)}});
}

/// The A colour (A larger) through white to the A' colour (A' larger).
QCPColorGradient differenceGradient() {
    return colorGradient({{0.0, plotcolors::attention().darker(140)},
                          {0.3, plotcolors::attention().lighter(150)},
                          {0.5, QColor(0xfa, 0xfa, 0xfa)},
                          {0.7, QColor(0xf6, 0x9a, 0x6e)},
                          {1.0, plotcolors::steered().darker(140)}});
}

} // namespace

MatrixPlot::MatrixPlot(QWidget* parent) : PlotView(parent) {
    QCustomPlot* plot = customPlot();
    plot->setMinimumWidth(240); // the axes and the colour scale take 140 pixels of it
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    styleHeatMapAxes(tr("key token"), tr("query")); // query 0 at the top, as in a matrix
    plot->setToolTip(tr("Click a row to pick that query; wheel zooms, drag pans, double-click "
                        "resets"));

    map_ = new QCPColorMap(plot->xAxis, plot->yAxis);
    map_->setInterpolate(false);
    map_->setTightBoundary(false);
    // The cells and the title on a layer of their own, above the plottables and below the axes:
    // a lambda step draws that layer alone (1-2 ms) where a whole replot took 4-6 ms.
    plot->addLayer(kCellsLayer, plot->layer(QStringLiteral("main")), QCustomPlot::limAbove);
    plot->layer(kCellsLayer)->setMode(QCPLayer::lmBuffered);
    map_->setLayer(kCellsLayer);
    titleElement()->setLayer(kCellsLayer);
    scale_ = new QCPColorScale(plot);
    plot->plotLayout()->addElement(1, 1, scale_);
    scale_->setType(QCPAxis::atRight);
    styleAxis(scale_->axis(), QString());
    scale_->axis()->setNumberFormat(QStringLiteral("gb"));
    map_->setColorScale(scale_);
    auto* group = new QCPMarginGroup(plot);
    plot->axisRect()->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    scale_->setMarginGroup(QCP::msTop | QCP::msBottom, group);

    queryLine_ = new QCPItemStraightLine(plot);
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
    // The cells shown are pooled to the pixels of the axis rect before every replot (a resize and
    // a picture lay the plot out at their size first), and the colour scale follows them.
    connect(plot, &QCustomPlot::beforeReplot, this, &MatrixPlot::updateShownCells);
    // The layout may end a few pixels narrower than the last one (new colour-scale labels): then
    // pooled again for what is drawn now, so that no pooled cell falls between two pixels.
    connect(plot, &QCustomPlot::afterLayout, this, &MatrixPlot::updateShownCells);
    applyStyle(PlotStyle::screen());
    setMatrix({}, 0, 0, false, 0, 0);
}

void MatrixPlot::styleChanged(const PlotStyle& style) {
    queryLine_->setPen(QPen(plotcolors::marker(), 1.2 * style.thin, Qt::DashLine));
    setCurrentQuery(currentQuery_);
}

void MatrixPlot::pointerLeft() {
    QToolTip::hideText();
}

void MatrixPlot::setData(PlotData data) {
    currentQuery_ = data.query;
    logScale_ = data.matrixLogScale;
    headSteered_ = data.headSteered;
    QString who = headLabel(data);
    if (!data.headSteered)
        who += tr(" (unsteered)");
    who[0] = who[0].toUpper();
    auto values = data.sharedMatrix
                      ? data.sharedMatrix
                      : std::make_shared<const std::vector<double>>(std::move(data.matrix));
    prepooled_ = data.matrixIsDifference ? nullptr : data.pooledMatrix;
    showMatrix(std::move(values), data.matrixQueries, data.matrixKeys, data.matrixIsDifference,
               data.head, data.lambda, who);
}

void MatrixPlot::setMatrix(std::vector<double> values, int queries, int keys, bool difference,
                           int head, double lambda) {
    prepooled_.reset();
    showMatrix(std::make_shared<const std::vector<double>>(std::move(values)), queries, keys,
               difference, head, lambda, tr("Head %1").arg(head));
}

void MatrixPlot::setLogScale(bool logarithmic) {
    if (logarithmic == logScale_)
        return;
    logScale_ = logarithmic;
    shownKey_ = {};
    scheduleReplot();
}

void MatrixPlot::showMatrix(std::shared_ptr<const std::vector<double>> values, int queries,
                            int keys, bool difference, int head, double lambda,
                            const QString& who) {
    const bool sameShape = queries == queries_ && keys == keys_;
    if (!values ||
        values->size() != std::size_t(std::max(queries, 0)) * std::size_t(std::max(keys, 0)))
        values = std::make_shared<const std::vector<double>>();
    if (values->empty())
        queries = keys = 0;
    // A new lambda of the matrix on screen (a dragged slider): only the cells change.
    const bool lambdaStep = sameShape && !values->empty() && !values_->empty() &&
                            difference == difference_ && head == head_ && lambda != lambda_ &&
                            layersReady();
    values_ = std::move(values);
    queries_ = queries, keys_ = keys, difference_ = difference, head_ = head, lambda_ = lambda;
    ++version_;
    map_->setVisible(!values_->empty());
    const QString at = QStringLiteral("λ = %1").arg(lambda, 0, 'f', 3);
    setTitle(values_->empty() ? tr("Steered attention (no data)")
             : difference     ? tr("%1: A′ − A at %2").arg(who, at)
             : headSteered_   ? tr("%1: A′ at %2").arg(who, at)
                              : tr("%1: A′ = A").arg(who));
    if (!sameShape)
        resetView();
    shownKey_ = {};
    if (lambdaStep && redrawCellsOnly())
        return;
    setCurrentQuery(currentQuery_);
}

bool MatrixPlot::redrawCellsOnly() {
    const QCPRange range = map_->dataRange();
    const QString label = scale_->axis()->label();
    holdColorRange_ = true;
    updateShownCells();
    holdColorRange_ = false;
    // A new colour range moves the colour scale's ticks (and may change its width): all of it.
    if (map_->dataRange() != range || scale_->axis()->label() != label)
        return false;
    customPlot()->layer(kCellsLayer)->replot();
    emit layerRedrawn();
    return true;
}

bool MatrixPlot::logScaleShown() const {
    return logScale_ && !difference_;
}

void MatrixPlot::updateColorScale() {
    double low = 0, high = 1;
    const bool logarithmic = logScaleShown();
    if (difference_) {
        const double extent = divergingColorExtent(low_, high_);
        low = -extent, high = extent;
    } else if (logarithmic) {
        std::tie(low, high) = logColorRange(lowestPositive_, high_);
    } else {
        std::tie(low, high) = sequentialColorRange(low_, high_);
    }
    if (holdColorRange_) {
        // The range stays while it holds the new one and that fills most of it (on the scale's
        // own terms), so that a drag redraws the cells alone; else the new range with a tenth of
        // room at each end (not below 0 for probabilities) for the next steps of the drag.
        const QCPRange shown = map_->dataRange();
        const auto span = [logarithmic](double a, double b) {
            return logarithmic ? std::log(b / a) : b - a;
        };
        const bool holds = low >= shown.lower && high <= shown.upper &&
                           span(low, high) >= 0.8 * span(shown.lower, shown.upper);
        if (holds) {
            low = shown.lower, high = shown.upper;
        } else if (!difference_ && !logarithmic) {
            const double room = 0.1 * (high - low);
            low = low >= 0 ? std::max(0.0, low - room) : low - room, high += room;
        }
    }
    map_->setGradient(difference_ ? differenceGradient() : steeredGradient());
    map_->setDataScaleType(logarithmic ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    scale_->axis()->setScaleType(logarithmic ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (logarithmic != scaleIsLog_) {
        scaleIsLog_ = logarithmic;
        scale_->axis()->setTicker(logarithmic ? QSharedPointer<QCPAxisTicker>(new QCPAxisTickerLog)
                                              : QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    }
    map_->setDataRange(QCPRange(low, high));
}

void MatrixPlot::updateShownCells() {
    QCustomPlot* plot = customPlot();
    if (plot->axisRect()->rect().isEmpty()) { // never laid out: its size is needed here
        plot->plotLayout()->update(QCPLayoutElement::upPreparation);
        plot->plotLayout()->update(QCPLayoutElement::upMargins);
        plot->plotLayout()->update(QCPLayoutElement::upLayout);
    }
    const QRect rect = plot->axisRect()->rect();
    // The source cells in view (cell k covers k - 0.5 .. k + 0.5), and the pixels they fall on:
    // as many cells as device pixels at most (a vector figure keeps every cell).
    const QCPRange keys = plot->xAxis->range(), queries = plot->yAxis->range();
    const int colBegin = std::max(0, int(std::floor(keys.lower + 0.5)));
    const int colEnd = std::min(keys_, int(std::ceil(keys.upper + 0.5)));
    const int rowBegin = std::max(0, int(std::floor(queries.lower + 0.5)));
    const int rowEnd = std::min(queries_, int(std::ceil(queries.upper + 0.5)));
    // As many cells as device pixels at most (pictureScale 0: a vector figure keeps them all).
    const double scale = pictureScale();
    const double width = rect.width() * scale, height = rect.height() * scale;
    const int outCols = pooledCount(colEnd - colBegin, keys.upper - keys.lower, width);
    const int outRows = pooledCount(rowEnd - rowBegin, queries.upper - queries.lower, height);
    // What the engine should pool the next matrices to: the whole matrix at this size.
    if (scale > 0 && rect.width() > 0) {
        // Below the pixels: the axis rect loses a few when new colour-scale labels are wider.
        const auto below = [](int cells, double pixels) {
            return pooledCount(cells, cells, std::floor(pixels * 0.9));
        };
        const QSize wanted(below(keys_, width), below(queries_, height));
        if (wanted != wantedPooling_) {
            wantedPooling_ = wanted;
            emit wantedPoolingChanged(wanted);
        }
    }
    const ShownKey key{version_, rowBegin, rowEnd,  colBegin,
                       colEnd,   outRows,  outCols, logScaleShown()};
    if (key == shownKey_)
        return;
    shownKey_ = key;
    const bool whole = rowBegin == 0 && rowEnd == queries_ && colBegin == 0 && colEnd == keys_;
    // The engine's pooling, when it gives each cell a pixel at least and is not much coarser.
    const auto fits = [](int pooled, int pixels) {
        return pooled <= pixels && pooled >= pixels * 3 / 4;
    };
    if (whole && prepooled_ && fits(prepooled_->rows, outRows) && fits(prepooled_->cols, outCols))
        shown_ = *prepooled_; // pooled off the GUI thread
    else
        shown_ = poolMatrix(*values_, queries_, keys_, rowBegin, rowEnd, colBegin, colEnd, outRows,
                            outCols, difference_ ? Pooling::LargestMagnitude : Pooling::Max);
    // The colour scale spans what is drawn: the pooled cells in view.
    low_ = std::numeric_limits<double>::infinity(), high_ = -low_;
    lowestPositive_ = std::numeric_limits<double>::infinity();
    for (const double v : shown_.values)
        if (std::isfinite(v)) {
            low_ = std::min(low_, v), high_ = std::max(high_, v);
            if (v > 0)
                lowestPositive_ = std::min(lowestPositive_, v);
        }
    updateColorScale();
    QCPColorMapData* data = map_->data();
    if (shown_.rows == 0 || shown_.cols == 0) {
        data->setSize(1, 1);
        data->setCell(0, 0, std::numeric_limits<double>::quiet_NaN());
        return;
    }
    // Zeros and values below a logarithmic scale take its lowest colour.
    const double floor = logScaleShown() ? map_->dataRange().lower : -1.0 / 0.0;
    data->setSize(shown_.cols, shown_.rows);
    const auto centre = [](const std::vector<int>& starts, std::size_t i) {
        return (starts[i] + starts[i + 1] - 1) / 2.0;
    };
    data->setRange(
        QCPRange(centre(shown_.colStart, 0), centre(shown_.colStart, std::size_t(shown_.cols) - 1)),
        QCPRange(centre(shown_.rowStart, 0),
                 centre(shown_.rowStart, std::size_t(shown_.rows) - 1)));
    if (shown_.cols == 1)
        data->setKeyRange(QCPRange(centre(shown_.colStart, 0), centre(shown_.colStart, 0) + 1));
    if (shown_.rows == 1)
        data->setValueRange(QCPRange(centre(shown_.rowStart, 0), centre(shown_.rowStart, 0) + 1));
    for (int r = 0; r < shown_.rows; ++r)
        for (int c = 0; c < shown_.cols; ++c)
            data->setCell(
                c, r,
                std::max(shown_.values[std::size_t(r) * std::size_t(shown_.cols) + std::size_t(c)],
                         floor));
    // The colour bar says what a colour is: of which cells, on which scale.
    const bool pooled = shown_.cols < colEnd - colBegin || shown_.rows < rowEnd - rowBegin;
    QString label = difference_ ? tr("A′ − A") : tr("A′");
    if (pooled)
        label += difference_ ? tr(", largest change per pixel") : tr(", largest per pixel");
    if (logScaleShown())
        label += tr(", log scale");
    scale_->axis()->setLabel(label);
}

QSize MatrixPlot::shownCells() const {
    return {shown_.cols, shown_.rows};
}

double MatrixPlot::shownValue(int query, int key) const {
    if (shown_.rows == 0 || query < shown_.rowStart.front() || query >= shown_.rowStart.back() ||
        key < shown_.colStart.front() || key >= shown_.colStart.back())
        return std::numeric_limits<double>::quiet_NaN();
    const auto group = [](const std::vector<int>& starts, int at) {
        return std::size_t(std::upper_bound(starts.begin(), starts.end(), at) - starts.begin() - 1);
    };
    return shown_.values[group(shown_.rowStart, query) * std::size_t(shown_.cols) +
                         group(shown_.colStart, key)];
}

void MatrixPlot::setCurrentQuery(int query) {
    currentQuery_ = query >= 0 && query < queries_ ? query : -1;
    queryLine_->setVisible(currentQuery_ >= 0 && style().overlays);
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
    return (*values_)[std::size_t(query) * keys_ + key];
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
